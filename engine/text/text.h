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

/* One panel of `plot history` in a terminal (chart.c): the title; 8 lines
 * of braille (2x4 dots a character) with the largest value on the first
 * line's label and the smallest on the last's, epoch 1 at the left edge and
 * epoch n at the right; the epoch axis; the legend. tr solid, va (may be
 * NULL) dotted; NaN breaks a line. width columns in all. */
void sq_chart_panel(sbuf *b, const char *name, const double *tr, const double *va, int n,
                    int width);

/* One line for each thing NAME is among the activations, optimizers,
 * losses and metrics (glossary.c); malloc'd, NULL when it is none. */
char *sq_glossary_help(const char *name);

#endif
