/* membw.c - this machine's memory bandwidth, for scripts/bench/run.sh: the
 * STREAM "copy" kernel (a[i] = b[i]) over two arrays of 128 MB each, far
 * larger than any cache, shared by T threads; bytes counted as STREAM does
 * (one read and one write per element, write-allocate traffic not counted).
 *
 *   membw THREADS        prints "membw THREADS GB/s", best of 5 passes
 *
 * Each thread first touches its own part of both arrays (so that their
 * pages are its own), then the threads copy together, a barrier around each
 * timed pass. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define N ((size_t)32 << 20)   /* floats per array: 128 MB */
#define PASSES 5

static float *a, *b;
static int nthreads;
static pthread_barrier_t bar;
static double best = 1e30;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void *run(void *arg)
{
    long id = (long)arg;
    size_t lo = N / (size_t)nthreads * (size_t)id;
    size_t hi = id == nthreads - 1 ? N : lo + N / (size_t)nthreads;
    for (size_t i = lo; i < hi; i++) {
        a[i] = 0.0f;
        b[i] = (float)(i & 1023);
    }
    for (int p = 0; p < PASSES; p++) {
        pthread_barrier_wait(&bar);
        double t0 = now();
        memcpy(a + lo, b + lo, (hi - lo) * sizeof *a);
        pthread_barrier_wait(&bar);
        double t = now() - t0;
        if (id == 0 && t < best)
            best = t;
    }
    return NULL;
}

int main(int argc, char **argv)
{
    nthreads = argc > 1 ? atoi(argv[1]) : 1;
    if (nthreads < 1 || nthreads > 256) {
        fprintf(stderr, "usage: membw THREADS\n");
        return 2;
    }
    a = malloc(N * sizeof *a);
    b = malloc(N * sizeof *b);
    pthread_t *th = malloc((size_t)nthreads * sizeof *th);
    if (!a || !b || !th) {
        fprintf(stderr, "membw: out of memory\n");
        return 1;
    }
    pthread_barrier_init(&bar, NULL, (unsigned)nthreads);
    for (long i = 1; i < nthreads; i++)
        if (pthread_create(&th[i], NULL, run, (void *)i) != 0) {
            fprintf(stderr, "membw: cannot start a thread\n");
            return 1;
        }
    run((void *)0);
    for (long i = 1; i < nthreads; i++)
        pthread_join(th[i], NULL);
    /* keep the copy: a result the compiler cannot drop */
    if (a[N / 2] != b[N / 2])
        return 1;
    printf("membw %d %.1f\n", nthreads, 2.0 * (double)N * sizeof *a / best / 1e9);
    return 0;
}
