/* blas.c - wraps OpenBLAS so the rest of the engine stays BLAS-agnostic. */
#include <cblas.h>
#include <stdio.h>
#include "engine.h"
#include "blas.h"

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

void sq_set_threads(int n)
{
    openblas_set_num_threads(n);
}

int sq_get_threads(void)
{
    return openblas_get_num_threads();
}

const char *sq_backend_info(void)
{
    static char buf[256];
    snprintf(buf, sizeof buf, "%s; kernel %s; %d thread%s",
             openblas_get_config(), openblas_get_corename(), openblas_get_num_threads(),
             openblas_get_num_threads() == 1 ? "" : "s");
    return buf;
}
