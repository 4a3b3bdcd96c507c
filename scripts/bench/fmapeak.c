/* fmapeak: this machine's single-precision FMA peak, in GFLOP/s.
 *
 * Each thread runs NCHAIN independent chains acc = acc*b + c (vector FMAs,
 * 2 FLOP per lane) for about SECONDS seconds.  Built by run.sh with
 *   cc -O2 -mavx512f -mfma   (AVX-512), or -mavx2 -mfma (AVX2), or plain -O2
 * chosen from the CPU flags.  Usage: fmapeak THREADS [SECONDS]
 * Prints "<isa> <threads> <cpu GFLOP/s> <wall GFLOP/s>":
 *   cpu:  the sum over threads of each thread's FLOP per second of its own
 *         CPU time -- what THREADS cores deliver, even when other processes
 *         take turns on them (threads sharing one core's FMA units still
 *         count once, since each then runs at half speed);
 *   wall: all threads' FLOP over the wall time of the slowest one (equal to
 *         cpu on an idle machine). */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#if defined(__AVX512F__) || defined(__FMA__)
#include <immintrin.h>
#endif

#define NCHAIN 16      /* independent accumulators: > latency x ports */
#define INNER 4096     /* iterations between clock reads */
/* written out, so that -O2 keeps every chain in a register */
#define UNROLL16(F) F(0) F(1) F(2) F(3) F(4) F(5) F(6) F(7) \
    F(8) F(9) F(10) F(11) F(12) F(13) F(14) F(15)

static double clock_s(clockid_t c)
{
    struct timespec t;
    clock_gettime(c, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}
static double now(void) { return clock_s(CLOCK_MONOTONIC); }

typedef struct { double seconds, flop, elapsed, cpu, sink; } job;

#if defined(__AVX512F__)
static const char *isa = "avx512";
static double run_block(long n, float *out)
{
    __m512 acc[NCHAIN];
    const __m512 b = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-6f);
    for (int k = 0; k < NCHAIN; k++) acc[k] = _mm512_set1_ps((float)k * 1e-3f + 0.5f);
    for (long i = 0; i < n; i++) {
#define F(k) acc[k] = _mm512_fmadd_ps(acc[k], b, c);
        UNROLL16(F)
#undef F
    }
    __m512 s = acc[0];
    for (int k = 1; k < NCHAIN; k++) s = _mm512_add_ps(s, acc[k]);
    *out += _mm512_reduce_add_ps(s);
    return (double)n * NCHAIN * 16 * 2;
}
#elif defined(__FMA__) && defined(__AVX2__)
static const char *isa = "avx2";
static double run_block(long n, float *out)
{
    __m256 acc[NCHAIN];
    const __m256 b = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-6f);
    for (int k = 0; k < NCHAIN; k++) acc[k] = _mm256_set1_ps((float)k * 1e-3f + 0.5f);
    for (long i = 0; i < n; i++) {
#define F(k) acc[k] = _mm256_fmadd_ps(acc[k], b, c);
        UNROLL16(F)
#undef F
    }
    float v[8];
    __m256 s = acc[0];
    for (int k = 1; k < NCHAIN; k++) s = _mm256_add_ps(s, acc[k]);
    _mm256_storeu_ps(v, s);
    for (int k = 0; k < 8; k++) *out += v[k];
    return (double)n * NCHAIN * 8 * 2;
}
#else
static const char *isa = "scalar";
static double run_block(long n, float *out)
{
    float acc[NCHAIN];
    const float b = 0.999999f, c = 1e-6f;
    for (int k = 0; k < NCHAIN; k++) acc[k] = (float)k * 1e-3f + 0.5f;
    for (long i = 0; i < n; i++) {
#define F(k) acc[k] = acc[k] * b + c;
        UNROLL16(F)
#undef F
    }
    for (int k = 0; k < NCHAIN; k++) *out += acc[k];
    return (double)n * NCHAIN * 2;
}
#endif

static void *worker(void *arg)
{
    job *j = arg;
    float sink = 0;
    double flop = 0, t0, t;
    run_block(INNER, &sink); /* warm-up: clocks up, code paged in */
    double c0 = clock_s(CLOCK_THREAD_CPUTIME_ID);
    t0 = now();
    do {
        flop += run_block(INNER, &sink);
        t = now();
    } while (t - t0 < j->seconds);
    j->cpu = clock_s(CLOCK_THREAD_CPUTIME_ID) - c0;
    j->flop = flop;
    j->elapsed = t - t0;
    j->sink = sink;
    return NULL;
}

int main(int argc, char **argv)
{
    int nt = argc > 1 ? atoi(argv[1]) : 1;
    double sec = argc > 2 ? atof(argv[2]) : 0.3;
    if (nt < 1 || nt > 256 || !(sec > 0)) {
        fprintf(stderr, "usage: fmapeak THREADS [SECONDS]\n");
        return 2;
    }
    pthread_t th[256];
    job jobs[256];
    for (int i = 0; i < nt; i++) {
        jobs[i] = (job){ .seconds = sec };
        if (pthread_create(&th[i], NULL, worker, &jobs[i]) != 0) {
            perror("pthread_create");
            return 1;
        }
    }
    double flop = 0, sink = 0, slowest = 0, cpurate = 0;
    for (int i = 0; i < nt; i++) {
        pthread_join(th[i], NULL);
        flop += jobs[i].flop;
        if (jobs[i].cpu > 0) cpurate += jobs[i].flop / jobs[i].cpu;
        sink += jobs[i].sink;
        if (jobs[i].elapsed > slowest) slowest = jobs[i].elapsed;
    }
    printf("%s %d %.1f %.1f\n", isa, nt, cpurate * 1e-9, flop / slowest * 1e-9);
    if (sink == 12345.0f) puts("");  /* keep the chains alive */
    return 0;
}
