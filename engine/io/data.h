/* data.h - the data-set readers' shared parts (engine-internal): CSV label
 * columns, and the IDX and CSV parsers data.c dispatches to. */
#ifndef SEQSH_DATA_H
#define SEQSH_DATA_H

#include "base/base.h"

enum { LABEL_NONE, LABEL_LAST, LABEL_FIRST, LABEL_INDEX };

typedef struct {
    int kind;
    long index;         /* LABEL_INDEX; may be negative */
    const char *text;   /* as given, for messages */
} label_spec;

/* label=last|first|N for a CSV; NULL label: none. */
int sq_csv_label_parse(const char *label, label_spec *ls, sq_error *err);
/* A whole CSV file (path and subj name it in messages) into x, and the
 * label column into y when ls asks for one. */
int sq_csv_parse(const unsigned char *buf, size_t len, const char *path,
                 const char *subj, const label_spec *ls, sq_tensor *x,
                 sq_tensor *y, sq_error *err);
/* An IDX file (MNIST's format) held in memory. */
int sq_idx_parse(const unsigned char *b, size_t n, const char *subj,
                 sq_tensor *out, sq_error *err);

#endif
