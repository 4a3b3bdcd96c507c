/* threads.c - the engine's one thread pool. Workers are started at the
 * first job that needs them (so start-up stays quick), sleep on a condition
 * variable between jobs, block every signal (the shell's handlers run on
 * the main thread) and keep flush-to-zero and denormals-are-zero set. A
 * job is one range handed out in chunks, first come first served, so a
 * thread the system delays leaves its work to the others; the caller takes
 * part as thread 0. */
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <unistd.h>
#include "kernels/threads.h"

#if (defined(__x86_64__) || defined(__i386__)) && defined(__SSE__)
#include <xmmintrin.h>
#define FP_BITS 0x8040u  /* MXCSR: flush-to-zero | denormals-are-zero */
#endif

unsigned sq_fp_fast(void)
{
#ifdef FP_BITS
    unsigned old = _mm_getcsr();
    if ((old & FP_BITS) != FP_BITS)
        _mm_setcsr(old | FP_BITS);
    return old;
#else
    return 0;
#endif
}

void sq_fp_restore(unsigned saved)
{
#ifdef FP_BITS
    if (_mm_getcsr() != saved)
        _mm_setcsr(saved);
#else
    (void)saved;
#endif
}

static pthread_mutex_t run_mu = PTHREAD_MUTEX_INITIALIZER;  /* one job at a time */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;      /* the fields below */
static pthread_cond_t go = PTHREAD_COND_INITIALIZER;        /* a job or quit */
static pthread_cond_t done = PTHREAD_COND_INITIALIZER;      /* pending reached 0 */
static int want;                  /* threads asked for; 0 = the default */
static int nworkers;              /* running workers (ids 1..nworkers) */
static pthread_t tids[SQ_MAX_THREADS];
static unsigned long gen;         /* bumped for every job */
static int quit;
static sq_range_fn job_fn;
static void *job_ctx;
static long job_n;
static long job_chunk;
static long job_next;             /* the first unclaimed index (atomic) */
static int job_parts;
static int pending;               /* workers yet to finish the current job */
static unsigned long born[SQ_MAX_THREADS];  /* gen when each worker was started */
static _Thread_local int in_job;  /* inside a share: nested jobs run serially */

/* Claims chunks of the current job until none are left. */
static void run_share(sq_range_fn fn, void *ctx, long n, long chunk, int id)
{
    for (;;) {
        long b = __atomic_fetch_add(&job_next, chunk, __ATOMIC_RELAXED);
        if (b >= n)
            break;
        fn(ctx, b, n - b < chunk ? n : b + chunk, id);
    }
}

static void *worker(void *arg)
{
    int id = (int)(intptr_t)arg;
    sq_fp_fast();
    in_job = 1;
    unsigned long seen = born[id - 1];
    pthread_mutex_lock(&mu);
    for (;;) {
        while (gen == seen && !quit)
            pthread_cond_wait(&go, &mu);
        if (quit)
            break;
        seen = gen;
        sq_range_fn fn = job_fn;
        void *ctx = job_ctx;
        long n = job_n, chunk = job_chunk;
        int parts = job_parts;
        pthread_mutex_unlock(&mu);
        if (id < parts)
            run_share(fn, ctx, n, chunk, id);
        pthread_mutex_lock(&mu);
        if (--pending == 0)
            pthread_cond_signal(&done);
    }
    pthread_mutex_unlock(&mu);
    return NULL;
}

/* In a forked child only the forking thread exists. */
static void after_fork_child(void)
{
    nworkers = 0;
    pending = 0;
    quit = 0;
}

static void stop_workers(void)
{
    pthread_mutex_lock(&mu);
    quit = 1;
    pthread_cond_broadcast(&go);
    pthread_mutex_unlock(&mu);
    for (int i = 0; i < nworkers; i++)
        pthread_join(tids[i], NULL);
    nworkers = 0;
    quit = 0;
}

static void register_atfork(void)
{
    pthread_atfork(NULL, NULL, after_fork_child);
}

/* Starts workers until n run (fewer if the system refuses). Called with
 * run_mu held and no job in flight; a new worker waits for the first job
 * after the generation it was born in. */
static void start_workers(int n)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    while (nworkers < n) {
        born[nworkers] = gen;
        if (pthread_create(&tids[nworkers], NULL, worker, (void *)(intptr_t)(nworkers + 1)) != 0)
            break;
        nworkers++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

void sq_pool_set_threads(int n)
{
    if (n < 1)
        n = 1;
    if (n > SQ_MAX_THREADS)
        n = SQ_MAX_THREADS;
    pthread_mutex_lock(&run_mu);
    want = n;
    if (nworkers > n - 1)
        stop_workers();
    pthread_mutex_unlock(&run_mu);
}

/* The maths library's default thread count, handed over by blas.c as the
 * program starts; until then (or without it) the number of processors. */
static int default_threads;

void sq_pool_set_default(int n)
{
    default_threads = n;
}

int sq_pool_threads(void)
{
    if (!want) {
        int n = default_threads;
        if (n < 1) {
            long p = sysconf(_SC_NPROCESSORS_ONLN);
            n = p < 1 ? 1 : p > SQ_MAX_THREADS ? SQ_MAX_THREADS : (int)p;
        }
        want = n < 1 ? 1 : n > SQ_MAX_THREADS ? SQ_MAX_THREADS : n;
    }
    return want;
}

void sq_parallel_for(long n, long min_each, sq_range_fn fn, void *ctx)
{
    sq_parallel_for_upto(n, min_each, SQ_MAX_THREADS, fn, ctx);
}

void sq_parallel_for_upto(long n, long min_each, int most_threads, sq_range_fn fn, void *ctx)
{
    if (n <= 0)
        return;
    if (min_each < 1)
        min_each = 1;
    long most = n / min_each;
    int parts = sq_pool_threads();
    if (parts > most_threads)
        parts = most_threads;
    if (most < parts)
        parts = most < 1 ? 1 : (int)most;
    if (parts > 1 && !in_job && pthread_mutex_trylock(&run_mu) == 0) {
        static pthread_once_t once = PTHREAD_ONCE_INIT;
        pthread_once(&once, register_atfork);
        if (nworkers < want - 1)
            start_workers(want - 1);
        if (parts > nworkers + 1)
            parts = nworkers + 1;
        if (parts > 1) {
            pthread_mutex_lock(&mu);
            job_fn = fn;
            job_ctx = ctx;
            job_n = n;
            /* small enough chunks to even out, big enough to pay */
            job_chunk = n / ((long)parts * 16);
            if (job_chunk < min_each)
                job_chunk = min_each;
            job_next = 0;
            job_parts = parts;
            pending = nworkers;
            gen++;
            pthread_cond_broadcast(&go);
            pthread_mutex_unlock(&mu);
            unsigned fp = sq_fp_fast();
            in_job = 1;
            run_share(fn, ctx, n, job_chunk, 0);
            in_job = 0;
            sq_fp_restore(fp);
            pthread_mutex_lock(&mu);
            while (pending > 0)
                pthread_cond_wait(&done, &mu);
            pthread_mutex_unlock(&mu);
            pthread_mutex_unlock(&run_mu);
            return;
        }
        pthread_mutex_unlock(&run_mu);
    }
    unsigned fp = sq_fp_fast();
    fn(ctx, 0, n, 0);
    sq_fp_restore(fp);
}
