/* tfjs.h - the TF.js Layers format: DIR/model.json and its weight shards
 * (engine-internal; tfjs.c). */
#ifndef SEQSH_TFJS_H
#define SEQSH_TFJS_H

#include "model.h"

/* Reads the model of a model.json and its shards; notes get what was not
 * carried over. A new model, or NULL with err filled. */
sq_model *sq_tfjs_read(const char *path, sbuf *notes, sq_error *err);
/* Writes m as path (a model.json) and one new shard beside it, atomically
 * as a whole; the old model's shards are removed afterwards. */
int sq_tfjs_write(const sq_model *m, const char *path, sq_error *err);

#endif
