/* winograd.c - 3x3 convolutions with unit strides by Winograd's F(4x4, 3x3)
 * (Lavin and Gray, "Fast Algorithms for Convolutional Neural Networks",
 * 2016; interpolation points 0, 1, -1, 2, -2 and infinity). For each 4x4
 * block of outputs (a tile), its 6x6 input patch d, and each 3x3 kernel g,
 *     Y = A^T [ (G g G^T) (.) (B^T d B) ] A
 * with (.) the product position by position, summed over the channels:
 *     B^T = [4  0 -5  0 1 0;  0 -4 -4  1 1 0;  0 4 -4 -1 1 0;
 *            0 -2 -1  2 1 0;  0  2 -1 -2 1 0;  0 4  0 -5 0 1]
 *     G   = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6;
 *            1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1]
 *     A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1].
 * 36 products per channel and filter give 16 outputs (144 directly).
 * The same matrices give the kernel gradient (the bilinear form read the
 * other way): dK = G^T [ (A dY A^T) (.) (B^T d B) ] G.
 * The tiles of a batch are numbered image by image, row by row, and done in
 * chunks that may span images: the patches of a chunk are transformed into
 * V[36][tiles][C] (channels-last, each patch value a vector of channels;
 * cells outside the image are zeros, read through masks, never copied),
 * then for each of the 36 positions M = V . U (tiles x C times C x F) by a
 * register-blocked kernel, then M transformed back with bias and relu
 * fused into the store. The kernel's transform U[36][C][F'] (F' = F
 * rounded up to 16, zero filters) is made once per forward. */
#include <string.h>
#include "kernels/gemm_z.h"
#include "kernels/threads.h"
#include "kernels/winograd.h"

#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
#define WG_X86 1
#include <immintrin.h>
#endif

/* Below these, the transforms cost more than the products they save. */
#define WG_MIN_C 16
#define WG_MIN_F 16
#define NPOS 36          /* positions of a transformed 6x6 patch */

static long fpad(long f)
{
    return (f + 15) & ~15L;
}

int sq_wino_fits(sq_isa isa, const sq_conv_desc *d)
{
#ifdef WG_X86
    return isa == SQ_ISA_AVX512 && d->kh == 3 && d->kw == 3 && d->sh == 1 && d->sw == 1
           && d->dh == 1 && d->dw == 1 && d->c >= WG_MIN_C && d->f >= WG_MIN_F;
#else
    (void)isa;
    (void)d;
    return 0;
#endif
}

/* 4x4 tiles per row of output, per image */
static long tile_cols(const sq_conv_desc *d)
{
    return (d->ow + 3) / 4;
}

long sq_wino_tiles(const sq_conv_desc *d)
{
    return (d->oh + 3) / 4 * tile_cols(d);
}

/* The floats between positions of a transformed array of rows x cols per
 * position: a cache line more than its values, so that the 36 positions of
 * one value (read or written together) do not fall into one set of the L1
 * cache when rows x cols floats are a multiple of 4 KB. */
static size_t stride_of(long rows, long cols)
{
    return (size_t)(rows * cols) + 16;
}

/* U[36][c][f'] and f' more values: the transformed kernel and its bias, or
 * the kernel gradient's transformed sums and the bias gradient's; the
 * f' values start at bias_at(d). */
static size_t bias_at(const sq_conv_desc *d)
{
    return NPOS * stride_of(d->c, fpad(d->f));
}

static size_t transformed_size(const sq_conv_desc *d)
{
    return bias_at(d) + (size_t)fpad(d->f);
}

size_t sq_wino_scratch(const sq_conv_desc *d)
{
    return transformed_size(d);
}

/* Tiles per chunk: V and M of a chunk in about 288 KB (L2), at least two
 * blocks of the product kernel. */
static long chunk_tiles(const sq_conv_desc *d)
{
    long t = 2048 / (d->c + fpad(d->f));
    return t < 12 ? 12 : t;
}

size_t sq_wino_work(const sq_conv_desc *d)
{
    /* V and M of a chunk */
    return NPOS * (stride_of(chunk_tiles(d), d->c) + stride_of(chunk_tiles(d), fpad(d->f)));
}

#ifdef WG_X86

#define TGT512 __attribute__((target("avx512f")))

static TGT512 __mmask16 lanes(long n)
{
    return n >= 16 ? (__mmask16)0xffff : n > 0 ? (__mmask16)((1u << n) - 1) : 0;
}

/* G g: three values (a column or a row of a kernel) to six. */
static TGT512 inline void g_of(__m512 g0, __m512 g1, __m512 g2, __m512 t[6])
{
    __m512 outer = _mm512_add_ps(g0, g2);
    __m512 sixth = _mm512_set1_ps(1.0f / 6.0f);
    t[0] = _mm512_mul_ps(_mm512_set1_ps(0.25f), g0);
    t[1] = _mm512_mul_ps(_mm512_set1_ps(-1.0f / 6.0f), _mm512_add_ps(outer, g1));
    t[2] = _mm512_mul_ps(_mm512_set1_ps(-1.0f / 6.0f), _mm512_sub_ps(outer, g1));
    /* g0/24 + g2/6 and g1/12 */
    __m512 e = _mm512_fmadd_ps(_mm512_set1_ps(1.0f / 24.0f), g0, _mm512_mul_ps(sixth, g2));
    __m512 o = _mm512_mul_ps(_mm512_set1_ps(1.0f / 12.0f), g1);
    t[3] = _mm512_add_ps(e, o);
    t[4] = _mm512_sub_ps(e, o);
    t[5] = g2;
}

/* B^T d: six values of a patch to six. */
static TGT512 inline void bt_of(const __m512 s[6], __m512 t[6])
{
    __m512 four = _mm512_set1_ps(4.0f), five = _mm512_set1_ps(5.0f);
    __m512 a = _mm512_fnmadd_ps(four, s[2], s[4]);          /* d4 - 4 d2 */
    __m512 b = _mm512_fnmadd_ps(four, s[1], s[3]);          /* d3 - 4 d1 */
    __m512 c = _mm512_sub_ps(s[4], s[2]);
    __m512 e = _mm512_add_ps(_mm512_sub_ps(s[3], s[1]), _mm512_sub_ps(s[3], s[1]));
    t[0] = _mm512_fmadd_ps(four, s[0], _mm512_fnmadd_ps(five, s[2], s[4]));
    t[1] = _mm512_add_ps(a, b);
    t[2] = _mm512_sub_ps(a, b);
    t[3] = _mm512_add_ps(c, e);
    t[4] = _mm512_sub_ps(c, e);
    t[5] = _mm512_fmadd_ps(four, s[1], _mm512_fnmadd_ps(five, s[3], s[5]));
}

/* A^T m: six values to four. */
static TGT512 inline void at_of(const __m512 m[6], __m512 y[4])
{
    __m512 s12 = _mm512_add_ps(m[1], m[2]), d12 = _mm512_sub_ps(m[1], m[2]);
    __m512 s34 = _mm512_add_ps(m[3], m[4]), d34 = _mm512_sub_ps(m[3], m[4]);
    y[0] = _mm512_add_ps(_mm512_add_ps(m[0], s12), s34);
    y[1] = _mm512_fmadd_ps(_mm512_set1_ps(2.0f), d34, d12);
    y[2] = _mm512_fmadd_ps(_mm512_set1_ps(4.0f), s34, s12);
    y[3] = _mm512_add_ps(_mm512_fmadd_ps(_mm512_set1_ps(8.0f), d34, d12), m[5]);
}

/* A g: four values (of an output gradient tile) to six. */
static TGT512 inline void a_of(const __m512 g[4], __m512 t[6])
{
    __m512 e = _mm512_add_ps(g[0], g[2]), o = _mm512_add_ps(g[1], g[3]);
    __m512 e4 = _mm512_fmadd_ps(_mm512_set1_ps(4.0f), g[2], g[0]);
    __m512 o8 = _mm512_fmadd_ps(_mm512_set1_ps(8.0f), g[3], _mm512_add_ps(g[1], g[1]));
    t[0] = g[0];
    t[1] = _mm512_add_ps(e, o);
    t[2] = _mm512_sub_ps(e, o);
    t[3] = _mm512_add_ps(e4, o8);
    t[4] = _mm512_sub_ps(e4, o8);
    t[5] = g[3];
}

/* G^T m: six values to three. */
static TGT512 inline void gt_of(const __m512 m[6], __m512 k[3])
{
    __m512 s12 = _mm512_add_ps(m[1], m[2]), d12 = _mm512_sub_ps(m[1], m[2]);
    __m512 s34 = _mm512_add_ps(m[3], m[4]), d34 = _mm512_sub_ps(m[3], m[4]);
    __m512 sixth = _mm512_set1_ps(1.0f / 6.0f);
    k[0] = _mm512_fmadd_ps(_mm512_set1_ps(0.25f), m[0],
                           _mm512_fmadd_ps(_mm512_set1_ps(1.0f / 24.0f), s34,
                                           _mm512_mul_ps(_mm512_set1_ps(-1.0f / 6.0f), s12)));
    k[1] = _mm512_fmadd_ps(_mm512_set1_ps(1.0f / 12.0f), d34,
                           _mm512_mul_ps(_mm512_set1_ps(-1.0f / 6.0f), d12));
    k[2] = _mm512_fmadd_ps(sixth, _mm512_sub_ps(s34, s12), m[5]);
}

/* U = G g G^T for channels [c0, c1) and each vector of filters (zeros
 * past f). */
static TGT512 void prepare_z(const sq_conv_desc *d, float *u, long c0, long c1)
{
    long c = d->c, f = d->f, fp = fpad(f);
    size_t pos = stride_of(c, fp);
    for (long ci = c0; ci < c1; ci++)
        for (long q = 0; q < fp; q += 16) {
            __mmask16 m = lanes(f - q);
            __m512 g[3][3], t[6][3];
#pragma GCC unroll 3
            for (int ky = 0; ky < 3; ky++)
#pragma GCC unroll 3
                for (int kx = 0; kx < 3; kx++)
                    g[ky][kx] = _mm512_maskz_loadu_ps(m, d->kernel + ((ky * 3 + kx) * c + ci) * f + q);
#pragma GCC unroll 3
            for (int kx = 0; kx < 3; kx++) {
                __m512 col[6];
                g_of(g[0][kx], g[1][kx], g[2][kx], col);
#pragma GCC unroll 6
                for (int i = 0; i < 6; i++)
                    t[i][kx] = col[i];
            }
#pragma GCC unroll 6
            for (int i = 0; i < 6; i++) {
                __m512 row[6];
                g_of(t[i][0], t[i][1], t[i][2], row);
                float *o = u + (size_t)(6 * i) * pos + (size_t)(ci * fp + q);
#pragma GCC unroll 6
                for (int j = 0; j < 6; j++)
                    _mm512_storeu_ps(o + (size_t)j * pos, row[j]);
            }
        }
}

typedef struct {
    const sq_conv_desc *d;
    float *u;
} prepare_job;

static void prepare_range(void *ctx, long c0, long c1, int tid)
{
    (void)tid;
    const prepare_job *j = ctx;
    prepare_z(j->d, j->u, c0, c1);
}

/* Tile t of a batch (numbered image by image): its image, its patch's
 * first input row and col (before the padding: may be negative), where
 * its first output is in the batch's output, and its rows and cols of
 * outputs inside the image (up to 4 each). */
typedef struct {
    long img, iy, ix, rows, cols;
    size_t out;
} tile_at;

static tile_at tile_of(const sq_conv_desc *d, long t)
{
    long per = sq_wino_tiles(d), tx = tile_cols(d), k = t % per;
    long oy = 4 * (k / tx), ox = 4 * (k % tx);
    tile_at a = { t / per, oy - d->pt, ox - d->pl, d->oh - oy < 4 ? d->oh - oy : 4,
                  d->ow - ox < 4 ? d->ow - ox : 4, 0 };
    a.out = ((size_t)a.img * (size_t)d->oh * (size_t)d->ow + (size_t)(oy * d->ow + ox))
            * (size_t)d->f;
    return a;
}

/* Tile t of the batch x into column col of V[36][n][c]: B^T d B, the
 * cells outside the image read as zeros (masked loads; rows wholly outside
 * are not read). */
static TGT512 void input_z(const sq_conv_desc *d, const float *x, long t, float *v, long n,
                           long col)
{
    long c = d->c, h = d->h, w = d->w;
    size_t pos = stride_of(n, c);    /* V floats between positions */
    tile_at a = tile_of(d, t);
    x += (size_t)a.img * (size_t)(h * w * c);
    __mmask16 colm[6];
    long coff[6];
    const float *row[6];
    for (int j = 0; j < 6; j++) {
        int in = a.ix + j >= 0 && a.ix + j < w;
        colm[j] = in ? (__mmask16)0xffff : 0;
        coff[j] = in ? (a.ix + j) * c : 0;
    }
    for (int i = 0; i < 6; i++)
        row[i] = a.iy + i >= 0 && a.iy + i < h ? x + (a.iy + i) * w * c : NULL;
    float *out = v + col * c;
    for (long q = 0; q < c; q += 16) {
        __mmask16 m = lanes(c - q);
        __m512 r[6][6];   /* d B, a row of the patch at a time */
#pragma GCC unroll 6
        for (int i = 0; i < 6; i++) {
            if (!row[i]) {
#pragma GCC unroll 6
                for (int j = 0; j < 6; j++)
                    r[i][j] = _mm512_setzero_ps();
                continue;
            }
            __m512 s6[6];
#pragma GCC unroll 6
            for (int j = 0; j < 6; j++)
                s6[j] = _mm512_maskz_loadu_ps(m & colm[j], row[i] + coff[j] + q);
            bt_of(s6, r[i]);
        }
        /* B^T (d B): a column at a time */
#pragma GCC unroll 6
        for (int j = 0; j < 6; j++) {
            __m512 in[6], t6[6];
#pragma GCC unroll 6
            for (int i = 0; i < 6; i++)
                in[i] = r[i][j];
            bt_of(in, t6);
#pragma GCC unroll 6
            for (int i = 0; i < 6; i++)
                _mm512_mask_storeu_ps(out + (size_t)(6 * i + j) * pos + q, m, t6[i]);
        }
    }
}

/* Tiles [a, a + n) of the batch (numbered image by image) into
 * V[36][n][c]. */
static TGT512 void inputs_z(const sq_conv_desc *d, const float *x, long a, long n, float *v)
{
    for (long t = a; t < a + n; t++)
        input_z(d, x, t, v, n, t - a);
}

/* M[36][n][fp] back into tiles [a, a + n) of the batch y, with bias and
 * relu; the cells past the output's edges are not stored. */
static TGT512 void output_z(const sq_conv_desc *d, const float *mm, const float *bias, long a,
                            long n, float *y)
{
    long f = d->f, fp = fpad(f);
    size_t pos = stride_of(n, fp);
    __m512 zero = _mm512_setzero_ps();
    for (long t = 0; t < n; t++) {
        tile_at at = tile_of(d, a + t);
        long rows = at.rows, cols = at.cols;
        const float *p = mm + t * fp;
        float *out = y + at.out;
        long cell[4][4];   /* where each output goes; 0 for those past the edges */
        for (int i = 0; i < 4; i++)
            for (int k = 0; k < 4; k++)
                cell[i][k] = i < rows && k < cols ? (i * d->ow + k) * f : 0;
        for (long q = 0; q < fp; q += 16) {
            __mmask16 m = lanes(f - q);
            __m512 r[4][6];
            /* A^T M: along the rows, each column */
#pragma GCC unroll 6
            for (int j = 0; j < 6; j++) {
                __m512 s[6], y4[4];
#pragma GCC unroll 6
                for (int i = 0; i < 6; i++)
                    s[i] = _mm512_loadu_ps(p + (size_t)(6 * i + j) * pos + q);
                at_of(s, y4);
#pragma GCC unroll 4
                for (int i = 0; i < 4; i++)
                    r[i][j] = y4[i];
            }
            __m512 b = _mm512_loadu_ps(bias + q);
#pragma GCC unroll 4
            for (int i = 0; i < 4; i++) {
                __m512 y4[4];
                at_of(r[i], y4);
#pragma GCC unroll 4
                for (int k = 0; k < 4; k++) {
                    __m512 val = _mm512_add_ps(y4[k], b);
                    if (d->relu)
                        val = _mm512_max_ps(val, zero);
                    _mm512_mask_storeu_ps(out + cell[i][k] + q, i < rows && k < cols ? m : 0, val);
                }
            }
        }
    }
}

/* For the 36 positions s: with tr 0, m[s] (rows x fp) = v[s] (rows x k) .
 * u[s] (k x fp); with tr 1, m[s] (rows x fp) += v[s]^T (v[s] is k x rows)
 * . u[s] (k x fp). Each array's positions stride_of apart. */
static void products_z(const float *v, const float *u, float *m, long rows, long k, long fp,
                       int tr)
{
    size_t vs = stride_of(rows, k), us = stride_of(k, fp), ms = stride_of(rows, fp);
    for (int s = 0; s < NPOS; s++)
        sq_gemm_z(tr, tr, rows, fp, k, v + (size_t)s * vs, tr ? rows : k, u + (size_t)s * us, fp,
                  m + (size_t)s * ms, fp);
}

/* The kernel gradient: tiles [a, a + n) of the batch's dy (4x4 each, zeros
 * past the output) transformed, A dy A^T, into W[36][n][fp]; their sums
 * added to bias[fp]. */
static TGT512 void dy_z(const sq_conv_desc *d, const float *dy, long a, long n, float *wt,
                        float *bias)
{
    long f = d->f, fp = fpad(f);
    size_t pos = stride_of(n, fp);
    __m512 zero = _mm512_setzero_ps();
    for (long t = 0; t < n; t++) {
        tile_at at = tile_of(d, a + t);
        long rows = at.rows, cols = at.cols;
        const float *p = dy + at.out;
        float *out = wt + t * fp;
        for (long q = 0; q < fp; q += 16) {
            __mmask16 m = lanes(f - q);
            __m512 r[6][4], sum = zero;
            /* A dy: a column of the tile at a time */
#pragma GCC unroll 4
            for (int j = 0; j < 4; j++) {
                __m512 g[4], t6[6];
#pragma GCC unroll 4
                for (int i = 0; i < 4; i++) {
                    g[i] = i < rows && j < cols ? _mm512_maskz_loadu_ps(m, p + (i * d->ow + j) * f + q)
                                                : zero;
                    sum = _mm512_add_ps(sum, g[i]);
                }
                a_of(g, t6);
#pragma GCC unroll 6
                for (int i = 0; i < 6; i++)
                    r[i][j] = t6[i];
            }
            _mm512_storeu_ps(bias + q, _mm512_add_ps(_mm512_loadu_ps(bias + q), sum));
            /* (A dy) A^T: a row at a time */
#pragma GCC unroll 6
            for (int i = 0; i < 6; i++) {
                __m512 t6[6];
                a_of(r[i], t6);
                float *o = out + (size_t)(6 * i) * pos + q;
#pragma GCC unroll 6
                for (int j = 0; j < 6; j++)
                    _mm512_storeu_ps(o + (size_t)j * pos, t6[j]);
            }
        }
    }
}

/* dw (3, 3, c, f) from the summed products M[36][c][fp]: G^T M G. */
static TGT512 void dw_out_z(const sq_conv_desc *d, const float *mm, float *dw)
{
    long c = d->c, f = d->f, fp = fpad(f);
    size_t pos = stride_of(c, fp);
    for (long ci = 0; ci < c; ci++)
        for (long q = 0; q < fp; q += 16) {
            __mmask16 m = lanes(f - q);
            __m512 r[3][6];
#pragma GCC unroll 6
            for (int j = 0; j < 6; j++) {
                __m512 s[6], k3[3];
#pragma GCC unroll 6
                for (int i = 0; i < 6; i++)
                    s[i] = _mm512_loadu_ps(mm + (size_t)(6 * i + j) * pos + ci * fp + q);
                gt_of(s, k3);
#pragma GCC unroll 3
                for (int k = 0; k < 3; k++)
                    r[k][j] = k3[k];
            }
#pragma GCC unroll 3
            for (int k = 0; k < 3; k++) {
                __m512 v[3];
                gt_of(r[k], v);
#pragma GCC unroll 3
                for (int l = 0; l < 3; l++)
                    _mm512_mask_storeu_ps(dw + ((k * 3 + l) * c + ci) * f + q, m, v[l]);
            }
        }
}

#endif /* WG_X86 */

void sq_wino_prepare(const sq_conv_desc *d, float *u)
{
#ifdef WG_X86
    /* the threads share the channels: shares of ~16k filter transforms */
    prepare_job j = { d, u };
    sq_parallel_for(d->c, 16384 / fpad(d->f) + 1, prepare_range, &j);
    long fp = fpad(d->f);
    float *b = u + bias_at(d);
    for (long q = 0; q < fp; q++)
        b[q] = d->bias && q < d->f ? d->bias[q] : 0.0f;
#else
    (void)d;
    (void)u;
#endif
}

void sq_wino_run(const sq_conv_desc *d, const float *u, const float *x, float *y, long t0,
                 long t1, float *work, volatile int *intr)
{
#ifdef WG_X86
    long chunk = chunk_tiles(d);
    float *v = work, *m = v + NPOS * stride_of(chunk, d->c);
    const float *bias = u + bias_at(d);
    for (long a = t0; a < t1; a += chunk) {
        if (intr && *intr)
            return;  /* the caller throws the output away */
        long n = t1 - a < chunk ? t1 - a : chunk;
        inputs_z(d, x, a, n, v);
        products_z(v, u, m, n, d->c, fpad(d->f), 0);
        output_z(d, m, bias, a, n, y);
    }
#else
    (void)d;
    (void)u;
    (void)x;
    (void)y;
    (void)t0;
    (void)t1;
    (void)work;
    (void)intr;
#endif
}

size_t sq_wino_dw_partial(const sq_conv_desc *d)
{
    return transformed_size(d);
}

void sq_wino_dw_images(const sq_conv_desc *d, const float *x, const float *dy, long b0, long b1,
                       float *part, float *work)
{
#ifdef WG_X86
    long per = sq_wino_tiles(d), chunk = chunk_tiles(d);
    long c = d->c, fp = fpad(d->f);
    float *v = work, *wt = v + NPOS * stride_of(chunk, c);
    for (long a = b0 * per, end = b1 * per; a < end; a += chunk) {
        long n = end - a < chunk ? end - a : chunk;
        inputs_z(d, x, a, n, v);
        dy_z(d, dy, a, n, wt, part + bias_at(d));
        products_z(v, wt, part, c, n, fp, 1);
    }
#else
    (void)d;
    (void)x;
    (void)dy;
    (void)b0;
    (void)b1;
    (void)part;
    (void)work;
#endif
}

void sq_wino_dw_finish(const sq_conv_desc *d, const float *part, float *dw, float *db)
{
#ifdef WG_X86
    dw_out_z(d, part, dw);
    if (db)
        memcpy(db, part + bias_at(d), (size_t)d->f * sizeof *db);
#else
    (void)d;
    (void)part;
    (void)dw;
    (void)db;
#endif
}
