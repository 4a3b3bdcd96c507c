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
/* Frees a block from the functions above; a big one (16 MiB or more: a
 * data set, an input, an output) is kept for the next big sq_malloc or
 * sq_calloc of about its size, so that a command repeated on the same data
 * reuses memory already faulted in. sq_free_kept gives the kept ones back;
 * sq_kept_blocks counts them (for tests). */
void sq_free(void *p);
void sq_free_kept(void);
int sq_kept_blocks(void);
char *sq_strdup(const char *s);
char *sq_strndup(const char *s, size_t n);
/* A block of n bytes mapped from the kernel, for buffers whose final size
 * is unknown and may be gigabytes (inflated gzip data): sq_map_resize grows
 * it by moving page tables, never copying (realloc's copy would touch every
 * page again, seconds for gigabytes, with nothing polled meanwhile); the
 * pages past what was written cost nothing. Released with sq_unmap and the
 * size last asked for; the same fault injection as sq_malloc. */
void *sq_map(size_t n);
void *sq_map_resize(void *p, size_t old, size_t n);
void sq_unmap(void *p, size_t n);
/* For fault-injection tests: after n more allocations succeed, the next one
 * fails (just one); n < 0 turns this off. sq_alloc_calls counts the
 * allocations made since the last sq_alloc_fail_after. */
void sq_alloc_fail_after(long n);
long sq_alloc_calls(void);
/* The default memory limit: half the smallest of physical memory, the
 * cgroup's limit and RLIMIT_AS (ULLONG_MAX: none), at least 1 MiB. */
size_t sq_default_memory_limit(unsigned long long phys, unsigned long long cgroup,
                               unsigned long long rlimit_as);
/* The smallest cgroup memory limit (v2 memory.max, v1 memory.limit_in_bytes)
 * on the path of this process's cgroups, from a /proc/self/cgroup file and
 * the cgroup mount point ("/sys/fs/cgroup"; v1 under its memory/), or
 * ULLONG_MAX when there is none. Parameters for tests. */
unsigned long long sq_cgroup_memory_limit(const char *proc_cgroup, const char *fs_root);
/* n allocations a child process made for this one (h5_child.c), whose
 * countdown it inherited: they count here as if made here. */
void sq_alloc_count_elsewhere(long n);
/* Refuses, with a message naming both sizes, anything needing more than the
 * memory limit; `what` starts the sentence ("this call"). */
int sq_check_memory(double bytes, const char *what, sq_error *err);
const char *sq_bytes_str(double bytes, char *buf, size_t n);

/* ---- interrupts (interrupt.c) -------------------------------------------
 * One flag, set by a signal handler, watched by every long loop: forward
 * and fit poll the session's, and code without a session (file readers,
 * decompression, the build step) calls sq_poll every chunk of work, about
 * every few milliseconds, so that a stop takes well under a second. */
#define SQ_INTERRUPTED "Interrupted"   /* the message, exactly */
/* Watches *flag (borrowed; NULL: none); sq_set_interrupt_flag calls it. */
void sq_interrupt_watch(volatile int *flag);
volatile int *sq_interrupt_flag(void);  /* the watched flag, or NULL */
int sq_interrupted(void);               /* 1 when the flag is set */
/* -1 with err = "Interrupted" when the flag is set, else 0. */
int sq_poll(sq_error *err);

/* ---- text that may reach a terminal (text.c) ---------------------------- */
/* "x\x1b]0;y" for a quoted name: every control character (tab and newline
 * too) and every byte that is not UTF-8 as \xNN. Returns buf (n bytes). */
const char *sq_escape(const char *s, char *buf, size_t n);
/* A model or layer name: 1 to SQ_NAME_MAX - 1 bytes of UTF-8 text without
 * blanks, '/', ':' or control characters. 0, or -1 with err = "invalid
 * WHAT name 'X' (...)", X escaped. */
int sq_check_name(const char *what, const char *name, sq_error *err);

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

/* ---- shapes (shape.c) ------------------------------------------------------
 * Every product of dimensions (a layer's output shape, a weight's count, a
 * file's declared shape) is computed here, checked: a dimension is at most
 * SQ_DIM_MAX and a shape holds at most SQ_COUNT_MAX values (zeros aside),
 * so that one more multiplication by an option (< 2^31) or a sum of two
 * dimensions cannot overflow a long, and every count is exact as a double
 * and fits in size_t with room for sizeof(double). */
#define SQ_DIM_MAX ((long)1 << 32)
#define SQ_COUNT_MAX ((long)1 << 53)
/* *r = a * b for counts a, b >= 0; 0 (and *r untouched) when the product
 * passes SQ_COUNT_MAX. */
int sq_count_mul(long a, long b, long *r);
/* The number of values of dimensions d[0..n) (each >= 0), or -1 with err
 * naming them: "WHAT: 65536 x 65536 x 65536 x 65536 is too large (a shape
 * holds at most 2^53 values)". */
int sq_dims_count(const long *d, int n, const char *what, long *count, sq_error *err);
/* Checks a shape whose dimensions may be None (< 0): each known one at
 * most SQ_DIM_MAX, and the product of the known non-zero ones at most
 * SQ_COUNT_MAX; otherwise -1 with err naming WHAT and the shape. */
int sq_shape_check(const sq_shape *sh, const char *what, sq_error *err);
/* ---- call forms, lists, names (callform.c) ------------------------------
 * An object with arguments is written as a Python call: NAME, or
 * NAME(positional, ..., key=value, ...). Parse first (to learn the name),
 * then bind the positionals to the constructor's parameter names; the
 * arguments are then key=value words in c->a, read with sq_arg_* and
 * checked for leftovers with sq_args_finish. */
typedef struct {
    char name[64];                   /* the callee as written */
    int called;                      /* written with parentheses */
    int nargs;
    const char *key[SQ_ARGS_MAX];    /* NULL for a positional */
    const char *val[SQ_ARGS_MAX];    /* quotes of a string literal removed */
    char *words[SQ_ARGS_MAX];        /* after binding: "key=value" */
    sq_args a;                       /* after binding */
    char buf[4096];
    size_t used;
} sq_callform;
int sq_call_parse(sq_callform *c, const char *text, sq_error *err);
/* params: the names positionals take, in order (NULL-ended; may be NULL).
 * what names the callee in Python's messages ("RandomNormal() takes 2
 * positional arguments but 3 were given"). */
int sq_call_bind(sq_callform *c, const char *what, const char *const *params, sq_error *err);
/* Splits text[0..len) at the commas outside brackets and quotes into at
 * most max trimmed items; 0, -1 when unbalanced or an item is empty, -2
 * when there are more than max. */
int sq_split_items(const char *text, size_t len, const char **start, size_t *n, int max,
                   int *count);
/* text without its surrounding blanks and, when wrapped in one of the
 * bracket pairs in pairs ("[]()"), without that pair: moves *text, returns
 * the length left; *wrapped (may be NULL) says whether a pair came off. */
size_t sq_unwrap(const char **text, const char *pairs, int *wrapped);
/* A list of numbers: "[10,20]", "(1, 2)", "0.5", "1,2". */
int sq_check_doubles(const char *what, const char *key, const char *text, double *out,
                     int max, int *n, sq_error *err);
/* Names compared ignoring case and underscores ("HeNormal", "he_normal"). */
int sq_names_match(const char *a, const char *b);
/* src without the blanks outside quotes, at most n bytes with the NUL. */
void sq_squeeze_blanks(char *dst, size_t n, const char *src);
/* Python's repr(float): "0.001", "1e-07", "inf"; returns buf. */
const char *sq_py_float(double x, char *buf, size_t n);
/* How Python prints what the user typed: an int literal as an int ("5"),
 * anything else as a float ("5.0" from "5.", "0.5"); text may be NULL. */
const char *sq_py_number(const char *text, double v, char *buf, size_t n);

/* Hot loops compiled for AVX-512 and AVX2 as well, chosen when the
 * program loads. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define SQ_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define SQ_VECTOR_CLONES
#endif

/* numpy's str(np.float32(v)) into buf (at least 192 bytes; text/format.c). */
void sq_float32_str(float v, char *buf);

/* ---- shapes ------------------------------------------------------------- */
int sq_shape_eq(const sq_shape *a, const sq_shape *b);
/* conv_output_length of keras/utils/conv_utils.py; n < 0 (None) stays None. */
long sq_conv_len(long n, long k, int same, long stride, long dilation);


#endif
