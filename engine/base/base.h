/* base.h - what every engine file may use: the heap with its fault
 * injection and memory limit, errors as values, growing strings, the seeded
 * RNG and shape helpers. */
#ifndef SEQSH_BASE_H
#define SEQSH_BASE_H

#include <stdint.h>
#include "seqsh/engine.h"

#define SQ_NAME_MAX 128

/* ---- the heap (alloc.c): every engine allocation goes through these ----- */
void *sq_malloc(size_t n);
void *sq_calloc(size_t n, size_t size);
void *sq_realloc(void *p, size_t n);
char *sq_strdup(const char *s);
char *sq_strndup(const char *s, size_t n);
/* For fault-injection tests: after n more allocations succeed, the next one
 * fails (just one); n < 0 turns this off. sq_alloc_calls counts the
 * allocations made since the last sq_alloc_fail_after. */
void sq_alloc_fail_after(long n);
long sq_alloc_calls(void);
/* n allocations a child process made for this one (h5_child.c), whose
 * countdown it inherited: they count here as if made here. */
void sq_alloc_count_elsewhere(long n);
/* Refuses, with a message naming both sizes, anything needing more than the
 * memory limit; `what` starts the sentence ("this call"). */
int sq_check_memory(double bytes, const char *what, sq_error *err);
const char *sq_bytes_str(double bytes, char *buf, size_t n);

/* Fills err with a printf-style message and returns -1. */
int sq_fail(sq_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- "did you mean" (nearest.c) -------------------------------------------- */
/* " (did you mean X?)" with X the candidate nearest to word (sq_nearest),
 * or "" when none is near; written into buf, which is returned. */
const char *sq_hint(const char *word, const char *const *cands, int n, char *buf, size_t len);

/* ---- a growing string (sbuf.c); start with sbuf b = {0} ----------------- */
typedef struct {
    char *s;
    size_t len, cap;
    int oom;       /* an allocation failed: sb_finish reports it */
} sbuf;
void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Returns the malloc'd text, or NULL (and frees) after an allocation failure. */
char *sb_finish(sbuf *b, sq_error *err);


/* ---- RNG: xoshiro128**-like, owned by the session ---------------------- */
typedef struct { uint64_t s[4]; } sq_rng;
void sq_rng_seed(sq_rng *r, uint64_t seed);
uint64_t sq_rng_next(sq_rng *r);
float sq_rng_uniform(sq_rng *r);  /* [0, 1) */

/* ---- shapes ------------------------------------------------------------- */
int sq_shape_eq(const sq_shape *a, const sq_shape *b);
/* conv_output_length of keras/utils/conv_utils.py; n < 0 (None) stays None. */
long sq_conv_len(long n, long k, int same, long stride, long dilation);


#endif
