/* gemm_z.c - C = op(A) . B with AVX-512, register-blocked: a block of up
 * to 12 rows of C by a panel of up to 4 vectors of 16 columns keeps its
 * sums in registers over the reduction, each step loading the panel's row
 * of B once and broadcasting one value of A per row. No packing: B's rows
 * are read in place (a panel of K rows is at most 128 KB per K block, in
 * L2 while the row blocks pass over it) and A's values by row or, for
 * A^T, by column. The K dimension is cut into blocks so the panel stays
 * in cache, the later blocks adding to C. */
#include <stddef.h>
#include <string.h>
#include "kernels/gemm_z.h"

#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
#define GZ_X86 1
#include <immintrin.h>
#endif

#define GZ_KBLOCK 512

#ifdef GZ_X86
#define TGT512 __attribute__((target("avx512f")))

/* m[nt][16 nv] = v[nt][k] . u[k][16 nv] (leading dimensions ldv, ldu,
 * ldm), or with tr v[k][nt]^T (v read by columns); added to m with acc.
 * The last vector of each row holds the lanes of ml only. nt x nv vectors
 * of sums in registers over the whole reduction. */
static inline __attribute__((always_inline)) TGT512
void mm_z(const float *v, long ldv, const float *u, long ldu, float *m, long ldm, long k,
          int acc, __mmask16 ml, const int nt, const int nv, const int tr)
{
    __m512 s[12][4];
#pragma GCC unroll 12
    for (int p = 0; p < nt; p++)
#pragma GCC unroll 4
        for (int q = 0; q < nv; q++)
            s[p][q] = acc ? _mm512_maskz_loadu_ps(q < nv - 1 ? 0xffff : ml, m + p * ldm + 16 * q)
                          : _mm512_setzero_ps();
    for (long c = 0; c < k; c++, u += ldu) {
        __m512 w[4];
#pragma GCC unroll 4
        for (int q = 0; q < nv; q++)
            w[q] = _mm512_maskz_loadu_ps(q < nv - 1 ? 0xffff : ml, u + 16 * q);
#pragma GCC unroll 12
        for (int p = 0; p < nt; p++) {
            __m512 xv = _mm512_set1_ps(tr ? v[c * ldv + p] : v[p * ldv + c]);
#pragma GCC unroll 4
            for (int q = 0; q < nv; q++)
                s[p][q] = _mm512_fmadd_ps(xv, w[q], s[p][q]);
        }
    }
#pragma GCC unroll 12
    for (int p = 0; p < nt; p++)
#pragma GCC unroll 4
        for (int q = 0; q < nv; q++)
            _mm512_mask_storeu_ps(m + p * ldm + 16 * q, q < nv - 1 ? 0xffff : ml, s[p][q]);
}

typedef void (*mm_fn)(const float *v, long ldv, const float *u, long ldu, float *m, long ldm,
                      long k, int acc, __mmask16 ml);

#define MM(nv, nt) \
    static TGT512 void mm_z##nv##_##nt(const float *v, long ldv, const float *u, long ldu, \
                                        float *m, long ldm, long k, int acc, __mmask16 ml) \
    { mm_z(v, ldv, u, ldu, m, ldm, k, acc, ml, nt, nv, 0); } \
    static TGT512 void mmt_z##nv##_##nt(const float *v, long ldv, const float *u, long ldu, \
                                         float *m, long ldm, long k, int acc, __mmask16 ml) \
    { mm_z(v, ldv, u, ldu, m, ldm, k, acc, ml, nt, nv, 1); }
/* rows per block by vectors per panel: 24 (or 12) sums in registers */
#define NT1 12
#define NT2 12
#define NT3 8
#define NT4 6
MM(1, 1) MM(1, 2) MM(1, 3) MM(1, 4) MM(1, 5) MM(1, 6)
MM(1, 7) MM(1, 8) MM(1, 9) MM(1, 10) MM(1, 11) MM(1, 12)
MM(2, 1) MM(2, 2) MM(2, 3) MM(2, 4) MM(2, 5) MM(2, 6)
MM(2, 7) MM(2, 8) MM(2, 9) MM(2, 10) MM(2, 11) MM(2, 12)
MM(3, 1) MM(3, 2) MM(3, 3) MM(3, 4) MM(3, 5) MM(3, 6) MM(3, 7) MM(3, 8)
MM(4, 1) MM(4, 2) MM(4, 3) MM(4, 4) MM(4, 5) MM(4, 6)
#define TABLE(pre, nv) { pre##nv##_1, pre##nv##_2, pre##nv##_3, pre##nv##_4, pre##nv##_5, \
                         pre##nv##_6 }
#define TABLE8(pre, nv) { pre##nv##_1, pre##nv##_2, pre##nv##_3, pre##nv##_4, pre##nv##_5, \
                          pre##nv##_6, pre##nv##_7, pre##nv##_8 }
#define TABLE12(pre, nv) { pre##nv##_1, pre##nv##_2, pre##nv##_3, pre##nv##_4, pre##nv##_5, \
                           pre##nv##_6, pre##nv##_7, pre##nv##_8, pre##nv##_9, pre##nv##_10, \
                           pre##nv##_11, pre##nv##_12 }
static const mm_fn mm1[NT1] = TABLE12(mm_z, 1), mmt1[NT1] = TABLE12(mmt_z, 1);
static const mm_fn mm2[NT2] = TABLE12(mm_z, 2), mmt2[NT2] = TABLE12(mmt_z, 2);
static const mm_fn mm3[NT3] = TABLE8(mm_z, 3), mmt3[NT3] = TABLE8(mmt_z, 3);
static const mm_fn mm4[NT4] = TABLE(mm_z, 4), mmt4[NT4] = TABLE(mmt_z, 4);
static const mm_fn *const mm_fns[2][4] = { { mm1, mm2, mm3, mm4 }, { mmt1, mmt2, mmt3, mmt4 } };
static const int mm_nt[4] = { NT1, NT2, NT3, NT4 };

void sq_gemm_z(int ta, int acc, long m, long n, long k, const float *a, long lda,
               const float *b, long ldb, float *c, long ldc)
{
    if (k == 0) {
        /* no products: C = 0, or C as it is */
        for (long r = 0; r < m && !acc; r++)
            memset(c + r * ldc, 0, (size_t)n * sizeof *c);
        return;
    }
    for (long k0 = 0; k0 < k; k0 += GZ_KBLOCK) {
        long kb = k - k0 < GZ_KBLOCK ? k - k0 : GZ_KBLOCK;
        int add = acc || k0 > 0;
        const float *ak = ta ? a + k0 * lda : a + k0, *bk = b + k0 * ldb;
        for (long q = 0; q < n; q += 64) {
            long left = n - q < 64 ? n - q : 64;
            int nv = (int)((left + 15) / 16);
            long last = left - 16 * (nv - 1);
            __mmask16 ml = last >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << last) - 1);
            const mm_fn *fns = mm_fns[ta != 0][nv - 1];
            int nt = mm_nt[nv - 1];
            for (long r = 0; r < m; r += nt) {
                long rows = m - r < nt ? m - r : nt;
                fns[rows - 1](ta ? ak + r : ak + r * lda, lda, bk + q, ldb, c + r * ldc + q, ldc,
                              kb, add, ml);
            }
        }
    }
}

#else

void sq_gemm_z(int ta, int acc, long m, long n, long k, const float *a, long lda,
               const float *b, long ldb, float *c, long ldc)
{
    (void)ta;
    (void)acc;
    (void)m;
    (void)n;
    (void)k;
    (void)a;
    (void)lda;
    (void)b;
    (void)ldb;
    (void)c;
    (void)ldc;
}

#endif
