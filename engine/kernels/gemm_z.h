/* gemm_z.h - a register-blocked AVX-512 matrix product for the engine's own
 * GEMMs (engine-internal): Winograd's 16 products per tile chunk, and the
 * training GEMMs where OpenBLAS's kernel is an AVX2 one on an AVX-512 CPU
 * (blas.c). */
#ifndef SEQSH_GEMM_Z_H
#define SEQSH_GEMM_Z_H

/* C (m x n, row-major, ldc) = op(A) . B, or += with acc; op(A) is m x k:
 * A itself (lda floats between rows) or, with ta, the transpose of A
 * (k x m); B is k x n (ldb). Needs AVX-512 (the caller checks): does
 * nothing on other CPUs. Reentrant. */
void sq_gemm_z(int ta, int acc, long m, long n, long k, const float *a, long lda,
               const float *b, long ldb, float *c, long ldc);

#endif
