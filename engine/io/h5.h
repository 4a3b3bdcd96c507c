/* h5.h - Keras's HDF5 whole-model file (engine-internal; h5.c). */
#ifndef SEQSH_H5_H
#define SEQSH_H5_H

#include "model.h"

/* Reads a Keras .h5 written by model.save (Keras 2.1 to 2.15, and Keras 3's
 * legacy .h5); notes get what was not carried over (optimizer state,
 * unsupported training settings). A new model, or NULL with err. */
sq_model *sq_h5_read(const char *path, sbuf *notes, sq_error *err);
/* sq_h5_read in a child process (h5_child.c): libhdf5 can loop forever on
 * a corrupt file and never polls seqsh's interrupt flag, so the child reads
 * the file and sends the model back in seqsh's own serialised form while
 * this process polls *intr (may be NULL: "Interrupted" when it is set) and
 * a time limit scaled by the file size; either kills the child at once. */
sq_model *sq_h5_read_isolated(const char *path, sbuf *notes, volatile int *intr,
                              sq_error *err);
/* Writes m in Keras 2.6's layout, to a temporary file renamed into place. */
int sq_h5_write(const sq_model *m, const char *path, sq_error *err);

#endif
