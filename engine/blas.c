/* blas.c - wraps cblas_sgemm so the rest of the engine stays BLAS-agnostic. */
#include <cblas.h>
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
