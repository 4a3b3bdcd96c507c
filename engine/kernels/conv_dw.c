/* conv_dw.c - the kernel gradient of a channels-last convolution whose
 * windows all lie inside the input (valid padding), straight from the input
 * and the output gradient: no im2col matrix, no GEMM packing. Row r = (ky,
 * kx, c) of the (kh*kw*C) x F gradient is the sum over every output pixel
 * of x at offset r from the pixel's window origin times the pixel's dy. A
 * tile keeps a block of rows times a panel of filters in registers while it
 * runs over a chunk of output pixels, loading each pixel's dy panel once for
 * the whole block; the chunks are small enough that their x and dy stay in
 * cache while every block of rows passes over them. AVX-512 only: the other
 * variants take im2col and a GEMM. */
#include <stddef.h>
#include "kernels/conv_kernels.h"

#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
#define DW_X86 1
#include <immintrin.h>
#endif

#define DW_CHUNK 256   /* output pixels per pass of the row blocks */

/* One tile: rows [0, cb) of a block (offsets off[] from a window origin)
 * times a panel of nf <= 16 nv filters, over output rows [i0, i1) of the
 * batch (numbered image by image). */
typedef struct {
    const sq_conv_desc *d;
    const float *x, *dy;       /* the batch's input and output gradient */
    const long *off;
    long i0, i1;
    long f0;                   /* the panel's first filter */
    int nf;
    float *dw;                 /* row 0 of the block, at the panel */
} dw_tile;

int sq_conv_dw_direct(sq_isa isa, const sq_conv_desc *d)
{
#ifdef DW_X86
    return isa == SQ_ISA_AVX512 && d->pt == 0 && d->pl == 0 && d->oh > 0 && d->ow > 0
        && (d->oh - 1) * d->sh + (d->kh - 1) * d->dh < d->h
        && (d->ow - 1) * d->sw + (d->kw - 1) * d->dw < d->w;
#else
    (void)isa;
    (void)d;
    return 0;
#endif
}

/* Vectors of 16 filters in a panel of f (at most 64) filters, and rows per
 * block for them: cb x nv accumulators, the dy panel and a broadcast fit
 * in the 32 registers. */
static int panel_vectors(long f)
{
    return f > 48 ? 4 : f > 32 ? 3 : f > 16 ? 2 : 1;
}

static long block_rows(int nv)
{
    return nv == 4 ? 6 : nv == 3 ? 8 : 12;
}

long sq_conv_dw_block(const sq_conv_desc *d)
{
    return block_rows(panel_vectors(d->f < 64 ? d->f : 64));
}

#ifdef DW_X86
#define TGT512 __attribute__((target("avx512f")))

static inline __attribute__((always_inline)) TGT512
void dw_z(const dw_tile *t, const int cb, const int nv)
{
    const sq_conv_desc *d = t->d;
    const long f = d->f, ps = d->sw * d->c, rs = d->sh * d->w * d->c;
    const long img = d->h * d->w * d->c, ldw = f;
    int last = t->nf - 16 * (nv - 1);
    __mmask16 ml = (__mmask16)(last >= 16 ? 0xffff : (1u << last) - 1);
    __m512 acc[12][4];
    long off[12];
#pragma GCC unroll 12
    for (int q = 0; q < cb; q++) {
        off[q] = t->off[q];
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++)
            acc[q][v] = v < nv - 1 ? _mm512_loadu_ps(t->dw + q * ldw + 16 * v)
                                   : _mm512_maskz_loadu_ps(ml, t->dw + q * ldw + 16 * v);
    }
    for (long i = t->i0; i < t->i1; i++) {
        long n = i / d->oh, oy = i % d->oh;
        const float *xb = t->x + n * img + oy * rs;
        const float *g = t->dy + i * d->ow * f + t->f0;
        for (long ox = 0; ox < d->ow; ox++, xb += ps, g += f) {
            __m512 dv[4];
#pragma GCC unroll 4
            for (int v = 0; v < nv; v++)
                dv[v] = v < nv - 1 ? _mm512_loadu_ps(g + 16 * v)
                                   : _mm512_maskz_loadu_ps(ml, g + 16 * v);
#pragma GCC unroll 12
            for (int q = 0; q < cb; q++) {
                __m512 xv = _mm512_set1_ps(xb[off[q]]);
#pragma GCC unroll 4
                for (int v = 0; v < nv; v++)
                    acc[q][v] = _mm512_fmadd_ps(xv, dv[v], acc[q][v]);
            }
        }
    }
#pragma GCC unroll 12
    for (int q = 0; q < cb; q++)
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++) {
            if (v < nv - 1)
                _mm512_storeu_ps(t->dw + q * ldw + 16 * v, acc[q][v]);
            else
                _mm512_mask_storeu_ps(t->dw + q * ldw + 16 * v, ml, acc[q][v]);
        }
}

typedef void (*dw_fn)(const dw_tile *t);
#define DW4(n) static TGT512 void dw_z4_##n(const dw_tile *t) { dw_z(t, n, 4); }
#define DW3(n) static TGT512 void dw_z3_##n(const dw_tile *t) { dw_z(t, n, 3); }
#define DW2(n) static TGT512 void dw_z2_##n(const dw_tile *t) { dw_z(t, n, 2); }
#define DW1(n) static TGT512 void dw_z1_##n(const dw_tile *t) { dw_z(t, n, 1); }
DW4(1) DW4(2) DW4(3) DW4(4) DW4(5) DW4(6)
DW3(1) DW3(2) DW3(3) DW3(4) DW3(5) DW3(6) DW3(7) DW3(8)
DW2(1) DW2(2) DW2(3) DW2(4) DW2(5) DW2(6) DW2(7) DW2(8) DW2(9) DW2(10) DW2(11) DW2(12)
DW1(1) DW1(2) DW1(3) DW1(4) DW1(5) DW1(6) DW1(7) DW1(8) DW1(9) DW1(10) DW1(11) DW1(12)
static const dw_fn fns4[] = { dw_z4_1, dw_z4_2, dw_z4_3, dw_z4_4, dw_z4_5, dw_z4_6 };
static const dw_fn fns3[] = { dw_z3_1, dw_z3_2, dw_z3_3, dw_z3_4, dw_z3_5, dw_z3_6, dw_z3_7,
                              dw_z3_8 };
static const dw_fn fns2[] = { dw_z2_1, dw_z2_2, dw_z2_3, dw_z2_4, dw_z2_5, dw_z2_6, dw_z2_7,
                              dw_z2_8, dw_z2_9, dw_z2_10, dw_z2_11, dw_z2_12 };
static const dw_fn fns1[] = { dw_z1_1, dw_z1_2, dw_z1_3, dw_z1_4, dw_z1_5, dw_z1_6, dw_z1_7,
                              dw_z1_8, dw_z1_9, dw_z1_10, dw_z1_11, dw_z1_12 };
#endif

void sq_conv_dw_rows(sq_isa isa, const sq_conv_desc *d, const float *x, const float *dy,
                     long o0, long o1, long r0, long r1, float *dw)
{
#ifdef DW_X86
    if (!sq_conv_dw_direct(isa, d))
        return;
    long cbmax = sq_conv_dw_block(d), c = d->c;
    long per = DW_CHUNK / d->ow > 0 ? DW_CHUNK / d->ow : 1;
    for (long i0 = o0; i0 < o1; i0 += per) {
        long i1 = o1 - i0 < per ? o1 : i0 + per;
        for (long r = r0; r < r1; r += cbmax) {
            long cb = r1 - r < cbmax ? r1 - r : cbmax;
            long off[12];
            for (long q = 0; q < cb; q++) {
                long k = (r + q) / c, ci = (r + q) % c;
                long ky = k / d->kw, kx = k % d->kw;
                off[q] = (ky * d->dh * d->w + kx * d->dw) * c + ci;
            }
            for (long f0 = 0; f0 < d->f; f0 += 64) {
                long left = d->f - f0 < 64 ? d->f - f0 : 64;
                int nv = panel_vectors(left);
                long cbp = block_rows(nv);   /* >= cb: narrower panels take more */
                for (long q0 = 0; q0 < cb; q0 += cbp) {
                    long n = cb - q0 < cbp ? cb - q0 : cbp;
                    dw_tile t = { d, x, dy, off + q0, i0, i1, f0, (int)left,
                                  dw + (r + q0) * d->f + f0 };
                    const dw_fn *fns = nv == 4 ? fns4 : nv == 3 ? fns3 : nv == 2 ? fns2 : fns1;
                    fns[n - 1](&t);
                }
            }
        }
    }
#else
    (void)isa;
    (void)d;
    (void)x;
    (void)dy;
    (void)o0;
    (void)o1;
    (void)r0;
    (void)r1;
    (void)dw;
#endif
}
