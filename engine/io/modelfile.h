/* modelfile.h - seqsh's own serialised model (the .seqm file's bytes), for
 * what carries a model between processes (engine-internal; modelfile.c). */
#ifndef SEQSH_MODELFILE_H
#define SEQSH_MODELFILE_H

#include "model.h"

/* m as the bytes of a .seqm file (architecture, weights, compile settings,
 * CRC); *out is malloc'd. -1 with err when out of memory. */
int sq_model_bytes(const sq_model *m, unsigned char **out, size_t *len, sq_error *err);
/* A new model from the bytes of a .seqm file, checked; `path` names them in
 * errors. NULL with err. */
sq_model *sq_model_from_bytes(const unsigned char *buf, size_t len, const char *path,
                              sq_error *err);

#endif
