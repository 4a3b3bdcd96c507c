/* threads.c - the engine's one thread pool. Workers are started at the
 * first job that needs them (so start-up stays quick), spin for a while
 * after a job and then sleep on a condition variable, block every signal
 * (the shell's handlers run on the main thread) and keep flush-to-zero and
 * denormals-are-zero set. A job is one range of indices cut into chunks;
 * the threads taking part (the caller is thread 0) go in pairs, each pair
 * with one part of the range: the even thread claims its chunks from the
 * part's start upwards, the odd one from its end downwards, and they meet
 * where their speeds put them, each with one run of consecutive indices (the
 * claims shrink as the two ends close in, so that both finish together), and
 * consecutive jobs over the same data (a layer's output rows, then the next
 * layer's; an optimizer's weights step after step) give each thread about
 * the same part of it, still in its own core's cache, even when one core
 * runs slower than the other (a virtual machine's cores often do; with
 * fixed shares the faster core would take its partner's leftovers, in the
 * middle of the partner's part, and the next job would fetch them back
 * across the cores). A thread whose part is done takes chunks of the other
 * pairs' parts, so a thread the system delays leaves its work to the
 * others. A command about to run jobs wakes the sleeping workers first
 * (sq_pool_wake), so they are spinning when its first job comes. */
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <time.h>
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

/* A job is published as one 64-bit word: its generation in the high bits.
 * [0, n) is cut into units as even as can be, each at least the smallest
 * claim the caller allows; each pair's part has a word of the same form
 * holding the part's unclaimed units [lo, hi) in the low bits. A claim takes
 * a quarter of what is left of the part (half of one thread's fair share),
 * at most the job's big claim and at least one unit, by a compare-and-swap
 * on the part's word that also checks the generation, so a thread that woke
 * late for a finished job can never run a chunk of the next one. The
 * caller counts finished indices and returns as soon as every chunk is done,
 * without waiting for threads that found nothing to do. Idle workers spin
 * for a while (jobs come in bursts: one per layer, per GEMM block) and only
 * then sleep on a condition variable, so a job costs no wake-up system call
 * when it follows another closely. */
#define IDX_BITS 40
#define END_BITS 20               /* a part's lo and hi, in units */
#define END_MASK ((1ULL << END_BITS) - 1)
/* Most units in a job, within END_BITS. */
#define MAX_UNITS (1L << 19)
/* How long an idle worker spins before it sleeps: by the clock, since a
 * pause instruction takes 10 to 140 cycles depending on the CPU. Long
 * enough to bridge the gaps between the layers of a call and between the
 * calls of a script, short enough that an idle shell costs nothing. */
#define SPIN_NS 500000L
#define SPIN_CHECK 64              /* pauses between two looks at the clock */
/* Looks at the clock between two sched_yield calls: a spinning worker that
 * shares a core with the thread that will give it work (other programs
 * busy on the other cores) lets that thread run. */
#define SPIN_YIELD 8

static pthread_mutex_t run_mu = PTHREAD_MUTEX_INITIALIZER;  /* one job at a time */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;      /* sleeping and quitting */
static pthread_cond_t go = PTHREAD_COND_INITIALIZER;        /* a job or quit */
static int want;                  /* threads asked for; 0 = the default */
static int nworkers;              /* running workers (ids 1..nworkers) */
static pthread_t tids[SQ_MAX_THREADS];
static uint64_t word;             /* generation << IDX_BITS (atomic) */
/* part r's generation << IDX_BITS | lo << END_BITS | hi (atomic), its
 * unclaimed units [lo, hi); a cache line each */
static struct {
    uint64_t w;
    char pad[56];
} __attribute__((aligned(64))) part_word[(SQ_MAX_THREADS + 1) / 2];
static long done_count;           /* indices finished in the current job (atomic) */
static int sleepers;              /* workers waiting on `go` (atomic; changed under mu) */
static int quit;                  /* (atomic) */
static unsigned wakes;            /* sq_pool_wake calls (atomic): sleepers go back to spinning */
static unsigned long jobs_shared; /* jobs run by more than one thread (atomic) */
static unsigned long wake_calls;  /* sq_pool_wake calls that woke the pool (atomic) */
/* the current job (atomic, relaxed: a worker late for one job may read the
 * next one's); written only while no chunk of the last one is unclaimed */
static sq_range_fn job_fn;
static void *job_ctx;
static long job_n;
static long job_unit;             /* indices per unit, at least */
static long job_cap;              /* units per claim, at most */
static int job_parts;
static _Thread_local int in_job;  /* inside a job: nested jobs run serially */

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static inline uint64_t gen_of(uint64_t w)
{
    return w >> IDX_BITS;
}

/* Share p of n (indices, or units) cut into parts is [share_lo(n, parts, p),
 * share_lo(n, parts, p + 1)); pair r's part is shares 2r and 2r + 1 of the
 * units. */
static long share_lo(long n, long parts, long p)
{
    return n / parts * p + n % parts * p / parts;   /* n p / parts, rounded down */
}

static int pairs_of(int parts)
{
    return (parts + 1) / 2;
}

static uint64_t part_of(uint64_t g, long lo, long hi)
{
    return (g << IDX_BITS) | ((uint64_t)lo << END_BITS) | (uint64_t)hi;
}

/* Claims and runs chunks of generation g until none are left: those of
 * thread id's own pair first, from the part's start (even id; a thread
 * without a partner is the last, even one) or end (odd id), then the other
 * parts'. [0, n) is cut
 * into nu = n / unit units as even as can be; a claim is a quarter of the
 * part's unclaimed units, within [1, cap]. */
static void run_share(uint64_t g, sq_range_fn fn, void *ctx, long n, long unit, long cap,
                      int parts, int id)
{
    long nu = n / unit;
    int np = pairs_of(parts);
    int from_end = id % 2;
    for (int k = 0; k < np; k++) {
        int r = (id / 2 + k) % np;
        uint64_t w = __atomic_load_n(&part_word[r].w, __ATOMIC_ACQUIRE);
        for (;;) {
            if (gen_of(w) != g)
                return;
            long lo = (long)((w >> END_BITS) & END_MASK), hi = (long)(w & END_MASK);
            if (lo >= hi)
                break;
            long take = (hi - lo + 3) / 4;
            if (take > cap)
                take = cap;
            long c = from_end ? hi - take : lo;
            uint64_t next = from_end ? part_of(g, lo, c) : part_of(g, c + take, hi);
            if (!__atomic_compare_exchange_n(&part_word[r].w, &w, next, 1, __ATOMIC_ACQ_REL,
                                             __ATOMIC_ACQUIRE))
                continue;  /* w now holds the current word */
            long b = share_lo(n, nu, c), e = share_lo(n, nu, c + take);
            fn(ctx, b, e, id);
            __atomic_fetch_add(&done_count, e - b, __ATOMIC_RELEASE);
            w = __atomic_load_n(&part_word[r].w, __ATOMIC_ACQUIRE);
        }
    }
}

static long now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long)t.tv_sec * 1000000000L + t.tv_nsec;
}

/* Spins until a generation other than seen is published (returns 1, the
 * word in *w) or SPIN_NS pass (returns 0). */
static int spin_for_job(uint64_t seen, uint64_t *w)
{
    long end = 0;
    for (int i = 0;; i++) {
        *w = __atomic_load_n(&word, __ATOMIC_ACQUIRE);
        if (gen_of(*w) != seen || __atomic_load_n(&quit, __ATOMIC_ACQUIRE))
            return 1;
        if (i % SPIN_CHECK == 0) {
            long t = now_ns();
            if (!end)
                end = t + SPIN_NS;
            else if (t >= end)
                return 0;
            if (i % (SPIN_CHECK * SPIN_YIELD) == 0 && i)
                sched_yield();
        }
        cpu_relax();
    }
}

static void *worker(void *arg)
{
    int id = (int)(intptr_t)arg;
    sq_fp_fast();
    in_job = 1;
    uint64_t seen = gen_of(__atomic_load_n(&word, __ATOMIC_ACQUIRE));
    for (;;) {
        /* wait for a new generation: spin, then sleep until a job, a quit
         * or a wake-up (which sends it back to spinning) */
        uint64_t w = 0;
        if (!spin_for_job(seen, &w)) {
            pthread_mutex_lock(&mu);
            unsigned woken = __atomic_load_n(&wakes, __ATOMIC_ACQUIRE);
            __atomic_add_fetch(&sleepers, 1, __ATOMIC_SEQ_CST);
            for (;;) {
                w = __atomic_load_n(&word, __ATOMIC_ACQUIRE);
                if (gen_of(w) != seen || __atomic_load_n(&quit, __ATOMIC_ACQUIRE)
                    || __atomic_load_n(&wakes, __ATOMIC_ACQUIRE) != woken)
                    break;
                pthread_cond_wait(&go, &mu);
            }
            __atomic_sub_fetch(&sleepers, 1, __ATOMIC_ACQ_REL);
            pthread_mutex_unlock(&mu);
            if (gen_of(w) == seen && !__atomic_load_n(&quit, __ATOMIC_ACQUIRE))
                continue;   /* woken ahead of a job: spin for it */
        }
        if (__atomic_load_n(&quit, __ATOMIC_ACQUIRE))
            break;
        seen = gen_of(w);
        /* the fields belong to generation `seen` as long as one of its
         * chunks is unclaimed; run_share's checked claims make a stale read
         * harmless (a claim of `seen` that succeeds came before the next
         * job's fields were written, so these reads saw this job's) */
        sq_range_fn fn = __atomic_load_n(&job_fn, __ATOMIC_RELAXED);
        void *ctx = __atomic_load_n(&job_ctx, __ATOMIC_RELAXED);
        long n = __atomic_load_n(&job_n, __ATOMIC_RELAXED);
        long unit = __atomic_load_n(&job_unit, __ATOMIC_RELAXED);
        long cap = __atomic_load_n(&job_cap, __ATOMIC_RELAXED);
        int parts = __atomic_load_n(&job_parts, __ATOMIC_RELAXED);
        if (id < parts)
            run_share(seen, fn, ctx, n, unit, cap, parts, id);
    }
    return NULL;
}

/* In a forked child only the forking thread exists. */
static void after_fork_child(void)
{
    nworkers = 0;
    sleepers = 0;
    quit = 0;
    wakes = 0;
}

static void stop_workers(void)
{
    pthread_mutex_lock(&mu);
    __atomic_store_n(&quit, 1, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&go);
    pthread_mutex_unlock(&mu);
    for (int i = 0; i < nworkers; i++)
        pthread_join(tids[i], NULL);
    nworkers = 0;
    __atomic_store_n(&quit, 0, __ATOMIC_RELEASE);
}

static void register_atfork(void)
{
    pthread_atfork(NULL, NULL, after_fork_child);
}

static void register_atfork_once(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, register_atfork);
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

int sq_pool_default(void)
{
    int n = default_threads;
    if (n < 1) {
        long p = sysconf(_SC_NPROCESSORS_ONLN);
        n = p < 1 ? 1 : p > SQ_MAX_THREADS ? SQ_MAX_THREADS : (int)p;
    }
    return n < 1 ? 1 : n > SQ_MAX_THREADS ? SQ_MAX_THREADS : n;
}

int sq_pool_threads(void)
{
    if (!want)
        want = sq_pool_default();
    return want;
}

void sq_pool_wake(void)
{
    if (sq_pool_threads() < 2 || in_job || pthread_mutex_trylock(&run_mu) != 0)
        return;
    register_atfork_once();
    __atomic_add_fetch(&wake_calls, 1, __ATOMIC_RELEASE);
    if (nworkers < want - 1)
        start_workers(want - 1);
    if (__atomic_load_n(&sleepers, __ATOMIC_ACQUIRE)) {
        pthread_mutex_lock(&mu);
        __atomic_add_fetch(&wakes, 1, __ATOMIC_ACQ_REL);
        pthread_cond_broadcast(&go);
        pthread_mutex_unlock(&mu);
    }
    pthread_mutex_unlock(&run_mu);
}

unsigned long sq_pool_jobs(void)
{
    return __atomic_load_n(&jobs_shared, __ATOMIC_RELAXED);
}

unsigned long sq_pool_wakeups(void)
{
    return __atomic_load_n(&wake_calls, __ATOMIC_ACQUIRE);
}

int sq_pool_threads_for(long n)
{
    int nt = sq_pool_threads();
    if (n >= 0 && nt > n)
        nt = n > 0 ? (int)n : 1;
    return nt;
}

void sq_parallel_for(long n, long min_each, sq_range_fn fn, void *ctx)
{
    sq_parallel_for_upto(n, min_each, SQ_MAX_THREADS, fn, ctx);
}

typedef struct {
    sq_block_fn fn;
    void *ctx;
    size_t n, block;
} blocks_job;

static void run_blocks(void *ctx, long b, long e, int tid)
{
    (void)tid;
    const blocks_job *j = ctx;
    size_t lo = (size_t)b * j->block, hi = (size_t)e * j->block;
    j->fn(j->ctx, lo, hi < j->n ? hi : j->n);
}

void sq_parallel_blocks(size_t n, size_t block, size_t at_least, sq_block_fn fn, void *ctx)
{
    if (n < at_least || sq_pool_threads() < 2) {
        /* in the caller's thread, in the mode the workers keep */
        unsigned fp = sq_fp_fast();
        fn(ctx, 0, n);
        sq_fp_restore(fp);
        return;
    }
    blocks_job j = { fn, ctx, n, block };
    sq_parallel_for((long)((n + block - 1) / block), 2, run_blocks, &j);
}

typedef struct {
    sq_rows_fn fn;
    void *ctx;
    long oh;
    volatile int *intr;
} rows_job;

static void run_rows(void *ctx, long b, long e, int tid)
{
    const rows_job *j = ctx;
    while (b < e) {
        if (j->intr && *j->intr)
            return;
        long img = b / j->oh, oy = b % j->oh;
        long stop = (img + 1) * j->oh < e ? (img + 1) * j->oh : e;
        if (j->intr)
            stop = b + 1;
        j->fn(j->ctx, img, oy, oy + (stop - b), tid);
        b = stop;
    }
}

void sq_parallel_image_rows(long nb, long oh, long min_rows, int most_threads,
                            volatile int *intr, sq_rows_fn fn, void *ctx)
{
    rows_job j = { fn, ctx, oh, intr };
    /* rows cost alike: the last claims may shrink to a quarter of min_rows */
    sq_parallel_for_tail(nb * oh, min_rows, (min_rows + 3) / 4, most_threads > 0 ? most_threads : 1,
                         run_rows, &j);
}

void sq_parallel_for_upto(long n, long min_each, int most_threads, sq_range_fn fn, void *ctx)
{
    sq_parallel_for_tail(n, min_each, min_each, most_threads, fn, ctx);
}

void sq_parallel_for_tail(long n, long min_each, long min_claim, int most_threads,
                          sq_range_fn fn, void *ctx)
{
    if (n <= 0)
        return;
    if (min_each < 1)
        min_each = 1;
    if (min_claim < 1 || min_claim > min_each)
        min_claim = min_each;
    long most = n / min_each;
    int parts = sq_pool_threads();
    if (parts > most_threads)
        parts = most_threads;
    if (most < parts)
        parts = most < 1 ? 1 : (int)most;
    if (parts > 1 && !in_job && pthread_mutex_trylock(&run_mu) == 0) {
        register_atfork_once();
        if (nworkers < want - 1)
            start_workers(want - 1);
        if (parts > nworkers + 1)
            parts = nworkers + 1;
        if (parts > 1) {
            /* every chunk of the last job is done, so no one reads these */
            /* claims of 1/16 of a thread's share at first (big enough to
             * pay), down to min_claim at the end (small enough to even out) */
            long big = n / ((long)parts * 16);
            if (big < min_each)
                big = min_each;
            long unit = min_claim;
            if (unit < (n + MAX_UNITS - 1) / MAX_UNITS)
                unit = (n + MAX_UNITS - 1) / MAX_UNITS;
            long cap = big / unit > 1 ? big / unit : 1;
            __atomic_store_n(&job_fn, fn, __ATOMIC_RELAXED);
            __atomic_store_n(&job_ctx, ctx, __ATOMIC_RELAXED);
            __atomic_store_n(&job_n, n, __ATOMIC_RELAXED);
            __atomic_store_n(&job_unit, unit, __ATOMIC_RELAXED);
            __atomic_store_n(&job_cap, cap, __ATOMIC_RELAXED);
            __atomic_store_n(&job_parts, parts, __ATOMIC_RELAXED);
            __atomic_add_fetch(&jobs_shared, 1, __ATOMIC_RELAXED);
            __atomic_store_n(&done_count, 0, __ATOMIC_RELAXED);
            uint64_t g = (gen_of(__atomic_load_n(&word, __ATOMIC_RELAXED)) + 1)
                         & ((1ULL << (64 - IDX_BITS)) - 1);
            long nu = n / unit;
            for (int r = 0; r < pairs_of(parts); r++) {
                int last = 2 * r + 2 < parts ? 2 * r + 2 : parts;
                __atomic_store_n(&part_word[r].w,
                                 part_of(g, share_lo(nu, parts, 2 * r), share_lo(nu, parts, last)),
                                 __ATOMIC_RELAXED);
            }
            /* seq_cst store and load: a worker going to sleep either sees
             * the new word or is counted here (it counts itself, then
             * looks at the word) */
            __atomic_store_n(&word, g << IDX_BITS, __ATOMIC_SEQ_CST);
            if (__atomic_load_n(&sleepers, __ATOMIC_SEQ_CST)) {
                pthread_mutex_lock(&mu);
                pthread_cond_broadcast(&go);
                pthread_mutex_unlock(&mu);
            }
            unsigned fp = sq_fp_fast();
            in_job = 1;
            run_share(g, fn, ctx, n, unit, cap, parts, 0);
            in_job = 0;
            sq_fp_restore(fp);
            /* the chunks others claimed: usually already done */
            for (long spins = 0; __atomic_load_n(&done_count, __ATOMIC_ACQUIRE) < n; spins++) {
                if (spins < 2000)
                    cpu_relax();
                else
                    sched_yield();   /* the claimer may be waiting for a core */
            }
            pthread_mutex_unlock(&run_mu);
            return;
        }
        pthread_mutex_unlock(&run_mu);
    }
    unsigned fp = sq_fp_fast();
    fn(ctx, 0, n, 0);
    sq_fp_restore(fp);
}
