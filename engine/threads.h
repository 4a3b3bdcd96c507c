/* threads.h - the engine's one thread pool (engine-internal): persistent
 * workers that sleep on a condition variable between jobs. The calling
 * thread takes the first share of every job. */
#ifndef SEQSH_THREADS_H
#define SEQSH_THREADS_H

/* Most threads the pool will run (the caller included). */
#define SQ_MAX_THREADS 64

/* Threads a job is shared by, the caller included; n is clamped to
 * [1, SQ_MAX_THREADS]. Until set, the default from sq_default_threads(). */
void sq_pool_set_threads(int n);
int sq_pool_threads(void);
/* The maths library's own default (blas.c): its environment variables,
 * else the number of processors. */
int sq_default_threads(void);

/* fn(ctx, begin, end) over [0, n) cut into one contiguous range per thread
 * (at most n / min_each ranges); returns when all are done. Every share
 * runs with flush-to-zero and denormals-are-zero set. Called from inside a
 * job, or while another thread's job runs, it runs serially. */
typedef void (*sq_range_fn)(void *ctx, long begin, long end);
void sq_parallel_for(long n, long min_each, sq_range_fn fn, void *ctx);

/* Sets flush-to-zero and denormals-are-zero for the calling thread and
 * returns the previous state, for sq_fp_restore. */
unsigned sq_fp_fast(void);
void sq_fp_restore(unsigned saved);

#endif
