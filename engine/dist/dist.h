/* dist.h - the collectives the engine's training, evaluation and
 * prediction use (engine-internal; the shell's part is in engine.h). With
 * one rank each is a no-op or a copy. */
#ifndef SEQSH_DIST_H
#define SEQSH_DIST_H

#include <stddef.h>
#include "seqsh/engine.h"

/* In place: v becomes the sum over the ranks. Collective. */
void sq_dist_sum_float(float *v, size_t n);
void sq_dist_sum_double(double *v, size_t n);
/* In place: v becomes rank 0's v on every rank (the values every rank
 * bases a decision on: an epoch's logs). Collective. */
void sq_dist_bcast_double(double *v, size_t n);
/* A step that failed on some rank fails on all: when any rank passes
 * failed, every rank's err gets the lowest such rank's message and -1 is
 * returned; else 0. Collective. */
int sq_dist_error(int failed, sq_error *err);
/* The rows [*from, *to) of n that rank r takes: contiguous, in rank order,
 * the first n % size ranks one more. */
void sq_dist_share(long n, int r, long *from, long *to);
/* Every rank's `rows` rows of per_row floats, in rank order, into all
 * (which holds every rank's rows). Collective; -1 on failure. */
int sq_dist_gather_rows(const float *mine, long rows, size_t per_row, float *all);

#endif
