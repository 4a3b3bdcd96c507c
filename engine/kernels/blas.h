/* blas.h - the engine's only door to BLAS (engine-internal). */
#ifndef SEQSH_BLAS_H
#define SEQSH_BLAS_H

/* C[m x n] = alpha * op(A) op(B) + beta * C, all row-major.
 * op(A) is m x k (A is k x m when ta), op(B) is k x n (B is n x k when tb). */
void sq_gemm(int ta, int tb, int m, int n, int k, float alpha,
             const float *a, int lda, const float *b, int ldb, float beta,
             float *c, int ldc);

#endif
