/* gemmshapes: single-thread speed on the GEMMs seqsh's training runs for W2
 * (the MLP 784 -> 128 -> 10) at batches 32 and 128: OpenBLAS in the kernel
 * it chose, or the one OPENBLAS_CORETYPE forces, or (argument "seqsh")
 * seqsh's own AVX-512 product where seqsh uses it (B as stored; the input
 * gradient dz.W^T stays with OpenBLAS).
 *
 *   cc -O2 -I ../../engine gemmshapes.c ../../engine/kernels/gemm_z.c -lopenblas
 *   [OPENBLAS_CORETYPE=Haswell] ./a.out [SECONDS [seqsh]]
 *
 * Each shape is timed for about SECONDS (default 0.3) after a warm-up, as
 * row-major calls with seqsh's transposes (forward x.W, the weight gradient
 * x^T.dz, the input gradient dz.W^T), single-threaded as seqsh runs
 * OpenBLAS.  Prints "gemm CORE NAME M N K GFLOP/s" per shape and "gemm CORE
 * w2-step B GFLOP/s" for one batch's GEMMs together (CORE: OpenBLAS's
 * kernel, or "seqsh"). */
#define _POSIX_C_SOURCE 200809L
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "kernels/gemm_z.h"

static int own;   /* seqsh's product where seqsh uses it */

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

typedef struct {
    const char *name;
    int ta, tb, m, n, k;
} shape;

static float *buf(size_t n)
{
    float *p = malloc(n * sizeof *p);
    if (!p)
        exit(1);
    for (size_t i = 0; i < n; i++)
        p[i] = (float)((i * 7919) % 1000) / 1000.0f - 0.5f;
    return p;
}

static void run(const shape *s, float *a, float *b, float *c)
{
    if (own && !s->tb) {
        sq_gemm_z(s->ta, 0, s->m, s->n, s->k, a, s->ta ? s->m : s->k, b, s->n, c, s->n);
        return;
    }
    cblas_sgemm(CblasRowMajor, s->ta ? CblasTrans : CblasNoTrans,
                s->tb ? CblasTrans : CblasNoTrans, s->m, s->n, s->k, 1.0f, a,
                s->ta ? s->m : s->k, b, s->tb ? s->k : s->n, 0.0f, c, s->n);
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 0.3;
    openblas_set_num_threads(1);
    own = argc > 2 && !strcmp(argv[2], "seqsh");
    const char *core = own ? "seqsh" : openblas_get_corename();
    float *a = buf(784 * 128), *b = buf(784 * 128), *c = buf(784 * 128);
    for (int bi = 0; bi < 2; bi++) {
        int B = bi ? 128 : 32;
        shape sh[] = {
            { "fwd1 x.W1", 0, 0, B, 128, 784 },
            { "fwd2 h.W2", 0, 0, B, 10, 128 },
            { "dW1 x^T.dz", 1, 0, 784, 128, B },
            { "dW2 h^T.dz", 1, 0, 128, 10, B },
            { "dx2 dz.W2^T", 0, 1, B, 128, 10 },
        };
        int ns = (int)(sizeof sh / sizeof sh[0]);
        double step_flop = 0, step_time = 0;
        for (int i = 0; i < ns; i++) {
            for (int w = 0; w < 20; w++)
                run(&sh[i], a, b, c);
            long reps = 0;
            double t0 = now(), t;
            do {
                for (int r = 0; r < 50; r++)
                    run(&sh[i], a, b, c);
                reps += 50;
                t = now() - t0;
            } while (t < seconds);
            double flop = 2.0 * sh[i].m * sh[i].n * sh[i].k;
            printf("gemm %s %s %d %d %d %.1f\n", core, sh[i].name, sh[i].m, sh[i].n, sh[i].k,
                   flop * (double)reps / t / 1e9);
            step_flop += flop;
            step_time += t / (double)reps;
        }
        printf("gemm %s w2-step %d %.1f\n", core, B, step_flop / step_time / 1e9);
    }
    free(a);
    free(b);
    free(c);
    return 0;
}
