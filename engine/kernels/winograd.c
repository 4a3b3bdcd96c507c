/* winograd.c - 3x3 convolutions with unit strides by Winograd's F(2x2, 3x3)
 * (Lavin and Gray, "Fast Algorithms for Convolutional Neural Networks",
 * 2016). For each 2x2 block of outputs (a tile) and its 4x4 input patch d,
 * and each 3x3 kernel g,
 *     Y = A^T [ (G g G^T) (.) (B^T d B) ] A
 * with (.) the product position by position, summed over the channels:
 *     B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]
 *     G   = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]
 *     A^T = [1 1 1 0; 0 1 -1 -1].
 * Tiles are done in chunks: the patches of a chunk are transformed into
 * V[16][tiles][C] (channels-last, each patch value a vector of channels),
 * then for each of the 16 positions M = V . U (tiles x C times C x F) by a
 * register-blocked kernel, then M transformed back with bias and relu
 * fused into the store. The kernel's transform U[16][C][F'] (F' = F
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

/* 2x2 tiles per row of output */
static long tile_cols(const sq_conv_desc *d)
{
    return (d->ow + 1) / 2;
}

/* U[16][c][f'] and f' more values: the transformed kernel and its bias, or
 * the kernel gradient's transformed sums and the bias gradient's */
static size_t transformed_size(const sq_conv_desc *d)
{
    return (size_t)(16 * d->c + 1) * (size_t)fpad(d->f);
}

size_t sq_wino_scratch(const sq_conv_desc *d)
{
    return transformed_size(d);
}

/* Tiles per chunk: V and M of a chunk in about 256 KB (L2), at least two
 * blocks of the product kernel. */
static long chunk_tiles(const sq_conv_desc *d)
{
    long t = 4096 / (d->c + fpad(d->f));
    return t < 12 ? 12 : t;
}

size_t sq_wino_work(const sq_conv_desc *d)
{
    /* V and M of a chunk, a strip of four padded input rows */
    return (size_t)(16 * chunk_tiles(d)) * (size_t)(d->c + fpad(d->f))
           + (size_t)(4 * (2 * tile_cols(d) + 2) * d->c);
}

long sq_wino_tile_rows(const sq_conv_desc *d)
{
    return (d->oh + 1) / 2;
}

#ifdef WG_X86

#define TGT512 __attribute__((target("avx512f")))

static TGT512 __mmask16 lanes(long n)
{
    return n >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << n) - 1);
}

/* U = G g G^T for channels [c0, c1) and each vector of filters (zeros
 * past f). */
static TGT512 void prepare_z(const sq_conv_desc *d, float *u, long c0, long c1)
{
    long c = d->c, f = d->f, fp = fpad(f);
    __m512 half = _mm512_set1_ps(0.5f);
    for (long ci = c0; ci < c1; ci++)
        for (long q = 0; q < fp; q += 16) {
            __mmask16 m = lanes(f - q);
            __m512 g[3][3], t[4][3];
#pragma GCC unroll 3
            for (int ky = 0; ky < 3; ky++)
#pragma GCC unroll 3
                for (int kx = 0; kx < 3; kx++)
                    g[ky][kx] = _mm512_maskz_loadu_ps(m, d->kernel + ((ky * 3 + kx) * c + ci) * f + q);
#pragma GCC unroll 3
            for (int kx = 0; kx < 3; kx++) {
                __m512 outer = _mm512_add_ps(g[0][kx], g[2][kx]);
                t[0][kx] = g[0][kx];
                t[1][kx] = _mm512_mul_ps(half, _mm512_add_ps(outer, g[1][kx]));
                t[2][kx] = _mm512_mul_ps(half, _mm512_sub_ps(outer, g[1][kx]));
                t[3][kx] = g[2][kx];
            }
#pragma GCC unroll 4
            for (int i = 0; i < 4; i++) {
                __m512 outer = _mm512_add_ps(t[i][0], t[i][2]);
                float *o = u + ((4 * i) * c + ci) * fp + q;
                size_t pos = (size_t)(c * fp);
                _mm512_storeu_ps(o, t[i][0]);
                _mm512_storeu_ps(o + pos, _mm512_mul_ps(half, _mm512_add_ps(outer, t[i][1])));
                _mm512_storeu_ps(o + 2 * pos, _mm512_mul_ps(half, _mm512_sub_ps(outer, t[i][1])));
                _mm512_storeu_ps(o + 3 * pos, t[i][2]);
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

/* Tile row ty's four input rows, with the padding: a pointer to where its
 * first tile's patch starts and the floats between rows. Straight into x
 * when the patches of the row lie inside it, else a copy in strip (4 rows
 * of 2 tx + 2 pixels) with zeros for the padding. */
static const float *patch_rows(const sq_conv_desc *d, const float *x, long ty, float *strip,
                               long *ld)
{
    long c = d->c, h = d->h, w = d->w, tx = tile_cols(d), wp = 2 * tx + 2;
    long iy0 = 2 * ty - d->pt;
    if (iy0 >= 0 && iy0 + 4 <= h && d->pl == 0 && wp <= w) {
        *ld = w * c;
        return x + iy0 * w * c;
    }
    long lo = d->pl < wp ? d->pl : wp;                       /* padded cols before x */
    long in = w < wp - lo ? w : wp - lo;                     /* cols of x copied */
    for (long i = 0; i < 4; i++) {
        float *row = strip + i * wp * c;
        long iy = iy0 + i;
        if (iy < 0 || iy >= h) {
            memset(row, 0, (size_t)(wp * c) * sizeof *row);
            continue;
        }
        memset(row, 0, (size_t)(lo * c) * sizeof *row);
        memcpy(row + lo * c, x + iy * w * c, (size_t)(in * c) * sizeof *row);
        memset(row + (lo + in) * c, 0, (size_t)((wp - lo - in) * c) * sizeof *row);
    }
    *ld = wp * c;
    return strip;
}

/* Tiles [tc0, tc1) of the tile row whose patches start at p (ld floats
 * between rows) into V[16][n][c] from tile column 0 of v. */
static TGT512 void input_z(const sq_conv_desc *d, const float *p, long ld, long tc0, long tc1,
                           long n, float *v)
{
    long c = d->c;
    size_t pos = (size_t)(n * c);    /* V floats between positions */
    for (long tc = tc0; tc < tc1; tc++) {
        const float *patch = p + 2 * tc * c;
        float *out = v + (tc - tc0) * c;
        for (long q = 0; q < c; q += 16) {
            __mmask16 m = lanes(c - q);
            __m512 s[4][4];
#pragma GCC unroll 4
            for (int i = 0; i < 4; i++)
#pragma GCC unroll 4
                for (int j = 0; j < 4; j++)
                    s[i][j] = _mm512_maskz_loadu_ps(m, patch + i * ld + j * c + q);
            /* B^T d: rows */
            __m512 r[4][4];
#pragma GCC unroll 4
            for (int j = 0; j < 4; j++) {
                r[0][j] = _mm512_sub_ps(s[0][j], s[2][j]);
                r[1][j] = _mm512_add_ps(s[1][j], s[2][j]);
                r[2][j] = _mm512_sub_ps(s[2][j], s[1][j]);
                r[3][j] = _mm512_sub_ps(s[1][j], s[3][j]);
            }
            /* (B^T d) B: cols */
#pragma GCC unroll 4
            for (int i = 0; i < 4; i++) {
                float *o = out + (size_t)(4 * i) * pos + q;
                _mm512_mask_storeu_ps(o, m, _mm512_sub_ps(r[i][0], r[i][2]));
                _mm512_mask_storeu_ps(o + pos, m, _mm512_add_ps(r[i][1], r[i][2]));
                _mm512_mask_storeu_ps(o + 2 * pos, m, _mm512_sub_ps(r[i][2], r[i][1]));
                _mm512_mask_storeu_ps(o + 3 * pos, m, _mm512_sub_ps(r[i][1], r[i][3]));
            }
        }
    }
}

/* Tiles [a, a + n) of the image into V[16][n][c], a row of tiles at a time
 * (strip: room for patch_rows). */
static TGT512 void inputs_z(const sq_conv_desc *d, const float *x, long a, long n, float *v,
                            float *strip)
{
    long tx = tile_cols(d);
    for (long t = a; t < a + n;) {
        long ty = t / tx, tc0 = t % tx;
        long tc1 = tx < tc0 + (a + n - t) ? tx : tc0 + (a + n - t), ld;
        const float *p = patch_rows(d, x, ty, strip, &ld);
        input_z(d, p, ld, tc0, tc1, n, v + (t - a) * d->c);
        t += tc1 - tc0;
    }
}

/* M[16][n][fp] back into tiles [a, a + n) of y, with bias and relu. */
static TGT512 void output_z(const sq_conv_desc *d, const float *mm, const float *bias, long a,
                            long n, float *y)
{
    long f = d->f, fp = fpad(f), tx = tile_cols(d);
    size_t pos = (size_t)(n * fp);
    __m512 zero = _mm512_setzero_ps();
    for (long t = 0; t < n; t++) {
        long ty = (a + t) / tx, tc = (a + t) % tx;
        long oy = 2 * ty, ox = 2 * tc;
        int rows = oy + 1 < d->oh ? 2 : 1, cols = ox + 1 < d->ow ? 2 : 1;
        const float *p = mm + t * fp;
        float *out = y + (oy * d->ow + ox) * f;
        for (long q = 0; q < fp; q += 16) {
            __mmask16 m = lanes(f - q);
            __m512 s[4][4];
#pragma GCC unroll 4
            for (int i = 0; i < 4; i++)
#pragma GCC unroll 4
                for (int j = 0; j < 4; j++)
                    s[i][j] = _mm512_loadu_ps(p + (size_t)(4 * i + j) * pos + q);
            /* A^T M: rows */
            __m512 r[2][4];
#pragma GCC unroll 4
            for (int j = 0; j < 4; j++) {
                r[0][j] = _mm512_add_ps(_mm512_add_ps(s[0][j], s[1][j]), s[2][j]);
                r[1][j] = _mm512_sub_ps(_mm512_sub_ps(s[1][j], s[2][j]), s[3][j]);
            }
            __m512 b = _mm512_loadu_ps(bias + q);
#pragma GCC unroll 4
            for (int i = 0; i < rows; i++) {
                __m512 y0 = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(r[i][0], r[i][1]), r[i][2]), b);
                __m512 y1 = _mm512_add_ps(_mm512_sub_ps(_mm512_sub_ps(r[i][1], r[i][2]), r[i][3]), b);
                if (d->relu) {
                    y0 = _mm512_max_ps(y0, zero);
                    y1 = _mm512_max_ps(y1, zero);
                }
                float *o = out + i * d->ow * f + q;
                _mm512_mask_storeu_ps(o, m, y0);
                if (cols == 2)
                    _mm512_mask_storeu_ps(o + f, m, y1);
            }
        }
    }
}

/* For the 16 positions s: with tr 0, m[s] (rows x fp) = v[s] (rows x k) .
 * u[s] (k x fp); with tr 1, m[s] (rows x fp) += v[s]^T (v[s] is k x rows)
 * . u[s] (k x fp). */
static void products_z(const float *v, const float *u, float *m, long rows, long k, long fp,
                       int tr)
{
    for (int s = 0; s < 16; s++)
        sq_gemm_z(tr, tr, rows, fp, k, v + (size_t)s * (size_t)(rows * k), tr ? rows : k,
                  u + (size_t)s * (size_t)(k * fp), fp, m + (size_t)s * (size_t)(rows * fp), fp);
}

/* The kernel gradient: tiles [a, a + n) of dy (2x2 each, zeros past the
 * output) transformed, G dy G^T with G = [1 0; 1/2 1/2; 1/2 -1/2; 0 1],
 * into W[16][n][fp]; their sums added to bias[fp]. */
static TGT512 void dy_z(const sq_conv_desc *d, const float *dy, long a, long n, float *wt,
                        float *bias)
{
    long f = d->f, fp = fpad(f), tx = tile_cols(d);
    size_t pos = (size_t)(n * fp);
    __m512 half = _mm512_set1_ps(0.5f), zero = _mm512_setzero_ps();
    for (long t = 0; t < n; t++) {
        long ty = (a + t) / tx, tc = (a + t) % tx;
        long oy = 2 * ty, ox = 2 * tc;
        int rows = oy + 1 < d->oh ? 2 : 1, cols = ox + 1 < d->ow ? 2 : 1;
        const float *p = dy + (oy * d->ow + ox) * f;
        float *out = wt + t * fp;
        for (long q = 0; q < fp; q += 16) {
            __mmask16 m = lanes(f - q);
            __m512 g[2][2];
#pragma GCC unroll 2
            for (int i = 0; i < 2; i++)
#pragma GCC unroll 2
                for (int j = 0; j < 2; j++)
                    g[i][j] = i < rows && j < cols ? _mm512_maskz_loadu_ps(m, p + (i * d->ow + j) * f + q)
                                                   : zero;
            __m512 sum = _mm512_add_ps(_mm512_add_ps(g[0][0], g[0][1]),
                                       _mm512_add_ps(g[1][0], g[1][1]));
            _mm512_storeu_ps(bias + q, _mm512_add_ps(_mm512_loadu_ps(bias + q), sum));
            __m512 r[4][2];
#pragma GCC unroll 2
            for (int j = 0; j < 2; j++) {
                r[0][j] = g[0][j];
                r[1][j] = _mm512_mul_ps(half, _mm512_add_ps(g[0][j], g[1][j]));
                r[2][j] = _mm512_mul_ps(half, _mm512_sub_ps(g[0][j], g[1][j]));
                r[3][j] = g[1][j];
            }
#pragma GCC unroll 4
            for (int i = 0; i < 4; i++) {
                float *o = out + (size_t)(4 * i) * pos + q;
                _mm512_storeu_ps(o, r[i][0]);
                _mm512_storeu_ps(o + pos, _mm512_mul_ps(half, _mm512_add_ps(r[i][0], r[i][1])));
                _mm512_storeu_ps(o + 2 * pos, _mm512_mul_ps(half, _mm512_sub_ps(r[i][0], r[i][1])));
                _mm512_storeu_ps(o + 3 * pos, r[i][1]);
            }
        }
    }
}

/* dw (3, 3, c, f) from the summed products M[16][c][fp]: A^T M A with
 * A^T = [1 1 1 0; 0 1 -1 0; 0 1 1 -1] (F(3, 2), its last row's sign
 * matching the input transform's). */
static TGT512 void dw_out_z(const sq_conv_desc *d, const float *mm, float *dw)
{
    long c = d->c, f = d->f, fp = fpad(f);
    size_t pos = (size_t)(c * fp);
    for (long ci = 0; ci < c; ci++)
        for (long q = 0; q < fp; q += 16) {
            __mmask16 m = lanes(f - q);
            __m512 s[4][4], r[3][4];
#pragma GCC unroll 4
            for (int i = 0; i < 4; i++)
#pragma GCC unroll 4
                for (int j = 0; j < 4; j++)
                    s[i][j] = _mm512_loadu_ps(mm + (size_t)(4 * i + j) * pos + ci * fp + q);
#pragma GCC unroll 4
            for (int j = 0; j < 4; j++) {
                r[0][j] = _mm512_add_ps(_mm512_add_ps(s[0][j], s[1][j]), s[2][j]);
                r[1][j] = _mm512_sub_ps(s[1][j], s[2][j]);
                r[2][j] = _mm512_sub_ps(_mm512_add_ps(s[1][j], s[2][j]), s[3][j]);
            }
#pragma GCC unroll 3
            for (int k = 0; k < 3; k++) {
                __m512 v[3] = {
                    _mm512_add_ps(_mm512_add_ps(r[k][0], r[k][1]), r[k][2]),
                    _mm512_sub_ps(r[k][1], r[k][2]),
                    _mm512_sub_ps(_mm512_add_ps(r[k][1], r[k][2]), r[k][3]),
                };
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
    float *b = u + 16 * d->c * fp;
    for (long q = 0; q < fp; q++)
        b[q] = d->bias && q < d->f ? d->bias[q] : 0.0f;
#else
    (void)d;
    (void)u;
#endif
}

void sq_wino_rows(const sq_conv_desc *d, const float *u, const float *x, float *y, long t0,
                  long t1, float *work)
{
#ifdef WG_X86
    long tx = tile_cols(d), chunk = chunk_tiles(d);
    float *v = work, *m = v + (size_t)(16 * chunk * d->c);
    float *strip = m + (size_t)(16 * chunk * fpad(d->f));
    const float *bias = u + 16 * d->c * fpad(d->f);
    for (long a = t0 * tx, end = t1 * tx; a < end; a += chunk) {
        long n = end - a < chunk ? end - a : chunk;
        inputs_z(d, x, a, n, v, strip);
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
    long tiles = sq_wino_tile_rows(d) * tile_cols(d), chunk = chunk_tiles(d);
    long c = d->c, fp = fpad(d->f);
    size_t in_img = (size_t)(d->h * d->w * c), out_img = (size_t)(d->oh * d->ow * d->f);
    float *v = work, *wt = v + (size_t)(16 * chunk * c), *strip = wt + (size_t)(16 * chunk * fp);
    for (long b = b0; b < b1; b++)
        for (long a = 0; a < tiles; a += chunk) {
            long n = tiles - a < chunk ? tiles - a : chunk;
            inputs_z(d, x + (size_t)b * in_img, a, n, v, strip);
            dy_z(d, dy + (size_t)b * out_img, a, n, wt, part + 16 * c * fp);
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
        memcpy(db, part + 16 * d->c * fpad(d->f), (size_t)d->f * sizeof *db);
#else
    (void)d;
    (void)part;
    (void)dw;
    (void)db;
#endif
}
