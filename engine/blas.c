/* blas.c - wraps OpenBLAS so the rest of the engine stays BLAS-agnostic. */
#include <cblas.h>
#include <stdio.h>
#include "engine.h"
#include "blas.h"
#include "conv_kernels.h"
#include "threads.h"

void sq_gemm(int ta, int tb, int m, int n, int k, float alpha,
             const float *a, int lda, const float *b, int ldb, float beta,
             float *c, int ldc)
{
    if (m == 0 || n == 0)
        return;
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans,
                tb ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda, b,
                ldb, beta, c, ldc);
}

/* OpenBLAS has read OPENBLAS_NUM_THREADS and friends, or counted the
 * processors, by the time the program starts. */
int sq_default_threads(void)
{
    return openblas_get_num_threads();
}

/* The engine's pool and OpenBLAS get the same count; they never run work
 * at the same time (the pool's jobs make no BLAS calls). */
void sq_set_threads(int n)
{
    openblas_set_num_threads(n);
    sq_pool_set_threads(n);
}

int sq_get_threads(void)
{
    return sq_pool_threads();
}

const char *sq_backend_info(void)
{
    static char buf[320];
    int n = sq_pool_threads();
    snprintf(buf, sizeof buf, "%s; kernel %s; convolution kernels %s; %d thread%s",
             openblas_get_config(), openblas_get_corename(), sq_isa_name(sq_isa_active()),
             n, n == 1 ? "" : "s");
    return buf;
}
