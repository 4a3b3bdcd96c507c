/* blas.h - the engine's only door to BLAS (engine-internal). */
#ifndef SEQSH_BLAS_H
#define SEQSH_BLAS_H

#include "seqsh/engine.h"

/* C[m x n] = alpha * op(A) op(B) + beta * C, all row-major.
 * op(A) is m x k (A is k x m when ta), op(B) is k x n (B is n x k when tb). */
void sq_gemm(int ta, int tb, int m, int n, int k, float alpha,
             const float *a, int lda, const float *b, int ldb, float beta,
             float *c, int ldc);

/* QR of the column-major m x n matrix a (m >= n, lda m) with LAPACK's
 * sgeqrf/sorgqr: a becomes Q (m x n, orthonormal columns) and diag_r gets
 * R's diagonal. Allocates its workspace; -1 when out of memory. */
int sq_qr(int m, int n, float *a, float *diag_r, sq_error *err);

#endif
