/* text.h - what the engine's text answers share (engine-internal). */
#ifndef SEQSH_TEXT_H
#define SEQSH_TEXT_H

#include "model.h"

/* Keras's error for summary() of a model that is not built; returns -1. */
int sq_fail_unbuilt(sq_error *err);
/* Python's "{:,}" of v into buf (32 bytes); returns buf. */
const char *sq_commas(size_t v, char *buf);
/* A byte count as torchinfo and people write it: "1.94 MB", "9.73 KB", "40 B"
 * (powers of 1000). */
const char *sq_bytes_short(double bytes, char *buf, size_t n);

#endif
