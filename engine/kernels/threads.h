/* threads.h - the engine's one thread pool (engine-internal): persistent
 * workers that spin briefly after a job, then sleep on a condition
 * variable. The calling thread takes the start of every job. */
#ifndef SEQSH_THREADS_H
#define SEQSH_THREADS_H

/* Most threads the pool will run (the caller included). */
#define SQ_MAX_THREADS 64

/* Threads a job is shared by, the caller included; n is clamped to
 * [1, SQ_MAX_THREADS]. Until set, the default (sq_pool_set_default). */
void sq_pool_set_threads(int n);
int sq_pool_threads(void);
/* The default for sq_pool_threads: the maths library's own (blas.c reads
 * its environment variables as the program starts); else the processors. */
void sq_pool_set_default(int n);
/* That default, within [1, SQ_MAX_THREADS]. */
int sq_pool_default(void);

/* Runs fn(ctx, begin, end, tid) over [0, n) in chunks of at least
 * min_each indices (at most n / min_each threads take part) and returns
 * when all are done. The threads taking part go in pairs, each pair with
 * one part of the range, claimed from its two ends (threads 0 and 1 split
 * [0, n) where they meet, thread 0 from the start: about the same part of
 * every job, for its cache), what a busy thread leaves to whichever is free; tid
 * in [0, sq_pool_threads()) names the thread running it (0 = the caller), for
 * per-thread scratch. Every chunk runs with flush-to-zero and
 * denormals-are-zero set. Called from inside a job's chunk, or while
 * another thread's job runs, it runs serially as fn(ctx, 0, n, 0); so does
 * a job too small to share, and jobs started from that fn may use the pool. */
typedef void (*sq_range_fn)(void *ctx, long begin, long end, int tid);
void sq_parallel_for(long n, long min_each, sq_range_fn fn, void *ctx);
/* The same with tids below most_threads (per-thread scratch for fewer). */
void sq_parallel_for_upto(long n, long min_each, int most_threads, sq_range_fn fn, void *ctx);
/* The same, but as the threads near the end of the job their claims may
 * shrink to min_claim indices (1 <= min_claim <= min_each; min_each still
 * sets how many threads take part and the first claims), so that they
 * finish together: for work whose indices cost alike (a layer's rows). */
void sq_parallel_for_tail(long n, long min_each, long min_claim, int most_threads,
                          sq_range_fn fn, void *ctx);
/* An element-wise pass over [0, n): fn(ctx, lo, hi) on blocks of `block`
 * elements shared by the pool, two blocks at least per chunk; one call
 * fn(ctx, 0, n) on this thread, in the workers' floating-point mode, when
 * n < at_least or the pool has one thread. Each element on its own, so the
 * same values either way. */
typedef void (*sq_block_fn)(void *ctx, size_t lo, size_t hi);
void sq_parallel_blocks(size_t n, size_t block, size_t at_least, sq_block_fn fn, void *ctx);

/* Output rows of nb images of oh rows each, numbered image by image and
 * shared by at most most_threads threads, min_rows at least per share
 * (the last claims down to a quarter of it, as sq_parallel_for_tail):
 * fn(ctx, img, oy0, oy1, tid) on runs of rows [oy0, oy1) of one image; a
 * row at a time when intr is given, so that a request to stop is seen
 * between rows (no more rows start once *intr is set). */
typedef void (*sq_rows_fn)(void *ctx, long img, long oy0, long oy1, int tid);
void sq_parallel_image_rows(long nb, long oh, long min_rows, int most_threads,
                            volatile int *intr, sq_rows_fn fn, void *ctx);

/* Threads that may share a job of n units: the pool's, at most n (at
 * least 1); what a layer sizes its per-thread scratch for. */
int sq_pool_threads_for(long n);

/* Starts the workers if they are not running and wakes the sleeping ones
 * to spin for a job: a command calls it before the work that precedes its
 * first parallel job, so that the wake-up (tens of microseconds on a
 * virtual machine) overlaps that work. Cheap when they are awake. */
void sq_pool_wake(void);
/* Jobs shared by more than one thread so far (a count that only grows):
 * what a caller decides sq_pool_wake by. For tests: how many calls of
 * sq_pool_wake have woken the workers (started them, sent the sleeping
 * ones back to spinning, or found them spinning already). */
unsigned long sq_pool_jobs(void);
unsigned long sq_pool_wakeups(void);

/* Sets flush-to-zero and denormals-are-zero for the calling thread and
 * returns the previous state, for sq_fp_restore. */
unsigned sq_fp_fast(void);
void sq_fp_restore(unsigned saved);

#endif
