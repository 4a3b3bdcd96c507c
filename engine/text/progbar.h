/* progbar.h - Keras's progress bar (engine-internal). */
#ifndef SEQSH_PROGBAR_H
#define SEQSH_PROGBAR_H

#include "model.h"

typedef struct {
    long target;
    int verbose;
    double start, after_first, last_update;
    sq_progress_fn cb;
    void *ctx;
} sq_progbar;

/* The text of one bar: "  7/100 [=>....] - ETA: 3s - loss: 0.1234", or
 * at the end "100/100 [=====] - 3s 1ms/step - loss: ...", or with verbose 2
 * "100/100 - 3s - loss: ...". elapsed and per_step are in seconds. */
void sq_progbar_format(char *buf, size_t n, int verbose, long current, long target,
                       int finalize, double elapsed, double per_step, int nv,
                       const char *const *names, const double *values);
void sq_progbar_start(sq_progbar *p, long target, int verbose, sq_progress_fn cb, void *ctx);
/* Reports step `current`, throttled to one line per 0.05 s but the last. */
void sq_progbar_update(sq_progbar *p, long current, int nv, const char *const *names,
                       const double *values, int finalize);

#endif
