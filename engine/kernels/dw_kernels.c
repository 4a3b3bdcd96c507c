/* dw_kernels.c - direct channels-last depthwise convolution. Each output
 * pixel's channels are independent sums over its window, so the forward
 * pass vectorises across channels: a tile is up to NP neighbouring output
 * pixels of one row times one vector of channels, its sums in registers for
 * the whole window, each tap loading the vector of weights once and one
 * vector of input per pixel. Pixels whose window pokes out at the sides
 * are done one at a time over their valid taps; tap rows above or below the
 * input are skipped for the whole row. Depthwise convolution reads and
 * writes far more than it computes (9 multiply-adds per value for a 3x3
 * window), so the loops walk the input once per output row, in order, and
 * keep the weights (kh*kw*C floats) in L1. With a depth multiplier above 1
 * the tap rows are first spread to C*dm channels in a per-thread buffer. */
#include <string.h>
#include "kernels/dw_kernels.h"
#include "kernels/threads.h"

#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
#define SQ_X86 1
#include <immintrin.h>
#endif

#define NP 8                   /* most pixels per tile */

/* One tile's job: np pixels times nc (<= one vector) channels. */
typedef struct {
    const float *x;            /* input at the first tap of pixel 0 */
    long ps;                   /* x floats between pixels */
    long nrow, rs;             /* tap rows; x floats between them */
    long ntap, ts;             /* taps per row; x floats between them */
    const float *w;            /* weights at the first tap */
    long wrs, wts;             /* w floats between tap rows, taps */
    const float *bias;         /* at the first channel, or NULL */
    float *y;                  /* output of pixel 0 */
    long ldy;                  /* y floats between pixels */
    int nc;                    /* channels (the vector's width, or fewer) */
    int relu;
} dwt;

/* ---- portable C: 16 channels ------------------------------------------ */

#define C_VW 16

static void tile_c(const dwt *t, int np)
{
    float acc[NP][C_VW];
    int nc = t->nc;
    for (int p = 0; p < np; p++)
        for (int q = 0; q < nc; q++)
            acc[p][q] = t->bias ? t->bias[q] : 0.0f;
    const float *xr = t->x, *wr = t->w;
    for (long r = 0; r < t->nrow; r++, xr += t->rs, wr += t->wrs) {
        const float *xk = xr, *wk = wr;
        for (long k = 0; k < t->ntap; k++, xk += t->ts, wk += t->wts)
            for (int p = 0; p < np; p++) {
                const float *xp = xk + p * t->ps;
                for (int q = 0; q < nc; q++)
                    acc[p][q] += xp[q] * wk[q];
            }
    }
    for (int p = 0; p < np; p++) {
        float *y = t->y + p * t->ldy;
        for (int q = 0; q < nc; q++)
            y[q] = t->relu ? (acc[p][q] > 0 ? acc[p][q] : 0.0f) : acc[p][q];
    }
}

#ifdef SQ_X86

/* ---- AVX-512: 16 channels, unmasked or masked -------------------------- */

#define TGT512 __attribute__((target("avx512f")))

static inline __attribute__((always_inline)) TGT512
void tile_z(const dwt *t, const int np, const int masked)
{
    __mmask16 m = masked ? (__mmask16)((1u << t->nc) - 1) : (__mmask16)0xffff;
    __m512 acc[NP];
    __m512 b = _mm512_setzero_ps();
    if (t->bias)
        b = masked ? _mm512_maskz_loadu_ps(m, t->bias) : _mm512_loadu_ps(t->bias);
#pragma GCC unroll 8
    for (int p = 0; p < np; p++)
        acc[p] = b;
    const long ps = t->ps;
    const float *xr = t->x, *wr = t->w;
    for (long r = 0; r < t->nrow; r++, xr += t->rs, wr += t->wrs) {
        const float *xk = xr, *wk = wr;
        for (long k = 0; k < t->ntap; k++, xk += t->ts, wk += t->wts) {
            __m512 wv = masked ? _mm512_maskz_loadu_ps(m, wk) : _mm512_loadu_ps(wk);
#pragma GCC unroll 8
            for (int p = 0; p < np; p++) {
                __m512 xv = masked ? _mm512_maskz_loadu_ps(m, xk + p * ps)
                                   : _mm512_loadu_ps(xk + p * ps);
                acc[p] = _mm512_fmadd_ps(xv, wv, acc[p]);
            }
        }
    }
    if (t->relu) {
        __m512 z = _mm512_setzero_ps();
#pragma GCC unroll 8
        for (int p = 0; p < np; p++)
            acc[p] = _mm512_max_ps(acc[p], z);
    }
#pragma GCC unroll 8
    for (int p = 0; p < np; p++) {
        if (masked)
            _mm512_mask_storeu_ps(t->y + p * t->ldy, m, acc[p]);
        else
            _mm512_storeu_ps(t->y + p * t->ldy, acc[p]);
    }
}

static TGT512 void tile_zn(const dwt *t, int np)
{
    switch (np) {
    case 8: tile_z(t, 8, 0); break;
    case 7: tile_z(t, 7, 0); break;
    case 6: tile_z(t, 6, 0); break;
    case 5: tile_z(t, 5, 0); break;
    case 4: tile_z(t, 4, 0); break;
    case 3: tile_z(t, 3, 0); break;
    case 2: tile_z(t, 2, 0); break;
    default: tile_z(t, 1, 0); break;
    }
}

static TGT512 void tile_zm(const dwt *t, int np)
{
    switch (np) {
    case 8: tile_z(t, 8, 1); break;
    case 7: tile_z(t, 7, 1); break;
    case 6: tile_z(t, 6, 1); break;
    case 5: tile_z(t, 5, 1); break;
    case 4: tile_z(t, 4, 1); break;
    case 3: tile_z(t, 3, 1); break;
    case 2: tile_z(t, 2, 1); break;
    default: tile_z(t, 1, 1); break;
    }
}

/* ---- AVX2 + FMA: 8 channels, unmasked or masked ------------------------ */

#define TGT256 __attribute__((target("avx2,fma")))

static inline __attribute__((always_inline)) TGT256
void tile_y(const dwt *t, const int np, const int masked)
{
    __m256i m = _mm256_setzero_si256();
    if (masked)
        m = _mm256_cmpgt_epi32(_mm256_set1_epi32(t->nc), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    __m256 acc[NP];
    __m256 b = _mm256_setzero_ps();
    if (t->bias)
        b = masked ? _mm256_maskload_ps(t->bias, m) : _mm256_loadu_ps(t->bias);
#pragma GCC unroll 8
    for (int p = 0; p < np; p++)
        acc[p] = b;
    const long ps = t->ps;
    const float *xr = t->x, *wr = t->w;
    for (long r = 0; r < t->nrow; r++, xr += t->rs, wr += t->wrs) {
        const float *xk = xr, *wk = wr;
        for (long k = 0; k < t->ntap; k++, xk += t->ts, wk += t->wts) {
            __m256 wv = masked ? _mm256_maskload_ps(wk, m) : _mm256_loadu_ps(wk);
#pragma GCC unroll 8
            for (int p = 0; p < np; p++) {
                __m256 xv = masked ? _mm256_maskload_ps(xk + p * ps, m)
                                   : _mm256_loadu_ps(xk + p * ps);
                acc[p] = _mm256_fmadd_ps(xv, wv, acc[p]);
            }
        }
    }
    if (t->relu) {
        __m256 z = _mm256_setzero_ps();
#pragma GCC unroll 8
        for (int p = 0; p < np; p++)
            acc[p] = _mm256_max_ps(acc[p], z);
    }
#pragma GCC unroll 8
    for (int p = 0; p < np; p++) {
        if (masked)
            _mm256_maskstore_ps(t->y + p * t->ldy, m, acc[p]);
        else
            _mm256_storeu_ps(t->y + p * t->ldy, acc[p]);
    }
}

static TGT256 void tile_yn(const dwt *t, int np)
{
    switch (np) {
    case 8: tile_y(t, 8, 0); break;
    case 7: tile_y(t, 7, 0); break;
    case 6: tile_y(t, 6, 0); break;
    case 5: tile_y(t, 5, 0); break;
    case 4: tile_y(t, 4, 0); break;
    case 3: tile_y(t, 3, 0); break;
    case 2: tile_y(t, 2, 0); break;
    default: tile_y(t, 1, 0); break;
    }
}

static TGT256 void tile_ym(const dwt *t, int np)
{
    switch (np) {
    case 8: tile_y(t, 8, 1); break;
    case 7: tile_y(t, 7, 1); break;
    case 6: tile_y(t, 6, 1); break;
    case 5: tile_y(t, 5, 1); break;
    case 4: tile_y(t, 4, 1); break;
    case 3: tile_y(t, 3, 1); break;
    case 2: tile_y(t, 2, 1); break;
    default: tile_y(t, 1, 1); break;
    }
}

#endif /* SQ_X86 */

/* A variant: its vector width and its tiles for full and partial vectors. */
typedef void (*tile_fn)(const dwt *t, int np);
typedef struct {
    int vw;
    tile_fn full, part;
} variant;

static variant variant_of(sq_isa isa)
{
#ifdef SQ_X86
    if (isa == SQ_ISA_AVX512)
        return (variant){ 16, tile_zn, tile_zm };
    if (isa == SQ_ISA_AVX2)
        return (variant){ 8, tile_yn, tile_ym };
#endif
    (void)isa;
    return (variant){ C_VW, tile_c, tile_c };
}

/* ---- running ---------------------------------------------------------- */

/* The taps [*k0, *k1) of a window at output position o that fall inside an
 * axis of n cells: tap t reads cell o*s - pad + t*dil. */
static void tap_range(long o, long s, long pad, long dil, long k, long n, long *k0, long *k1)
{
    long i0 = o * s - pad;
    long a = i0 < 0 ? (-i0 + dil - 1) / dil : 0;
    long last = n - 1 - i0;
    long b = last < 0 ? 0 : last / dil + 1;
    if (b > k)
        b = k;
    if (a > b)
        a = b;
    *k0 = a;
    *k1 = b;
}

size_t sq_dw_rowbuf(const sq_dw_desc *d)
{
    return d->dm > 1 ? (size_t)(d->kh * d->w * d->c * d->dm) : 0;
}

/* Runs the tiles of pixels [ox, ox + np) over channels [0, cc), taps cols
 * [kx0, kx1). t has the row's fields set. */
static void run_pixels(const variant *v, dwt *t, const sq_dw_desc *d, long cc,
                       const float *xrow, const float *wrow, float *yrow, long ox, int np,
                       long kx0, long kx1)
{
    const float *x0 = xrow, *w0 = wrow;
    float *y0 = yrow + ox * cc;
    t->ntap = kx1 - kx0;
    if (t->ntap > 0 && t->nrow > 0) {
        x0 = xrow + (ox * d->sw - d->pl + kx0 * d->dw) * cc;
        w0 = wrow + kx0 * cc;
    } else {
        t->ntap = 0;  /* the window lies in the padding: bias alone */
    }
    for (long j = 0; j < cc; j += v->vw) {
        t->nc = cc - j < v->vw ? (int)(cc - j) : v->vw;
        t->x = x0 + j;
        t->w = w0 + j;
        t->bias = d->bias ? d->bias + j : NULL;
        t->y = y0 + j;
        (t->nc == v->vw ? v->full : v->part)(t, np);
    }
}

void sq_dw_rows(sq_isa isa, const sq_dw_desc *d, const float *x, float *y, long oy0,
                long oy1, float *rowbuf)
{
    variant v = variant_of(isa);
    long c = d->c, cc = c * d->dm;
    /* output cols [lo, hi) have their whole window inside the input */
    long lo = (d->pl + d->sw - 1) / d->sw;
    long num = d->w - 1 - (d->kw - 1) * d->dw + d->pl;
    long hi = num < 0 ? 0 : num / d->sw + 1;
    if (hi > d->ow)
        hi = d->ow;
    if (lo > hi)
        lo = hi;
    dwt t;
    t.ps = d->sw * cc;
    t.ts = d->dw * cc;
    t.wrs = d->kw * cc;
    t.wts = cc;
    t.ldy = cc;
    t.relu = d->relu;
    for (long oy = oy0; oy < oy1; oy++) {
        long ky0, ky1;
        tap_range(oy, d->sh, d->pt, d->dh, d->kh, d->h, &ky0, &ky1);
        long iy0 = oy * d->sh - d->pt + ky0 * d->dh;
        const float *xrow = x;
        t.nrow = ky1 - ky0;
        t.rs = d->dh * d->w * c;
        if (t.nrow > 0)
            xrow = x + iy0 * d->w * c;
        if (d->dm > 1 && t.nrow > 0) {
            /* the tap rows spread to channel c*dm + m, one after another */
            for (long r = 0; r < t.nrow; r++) {
                const float *src = x + (iy0 + r * d->dh) * d->w * c;
                float *dst = rowbuf + r * d->w * cc;
                for (long i = 0; i < d->w * c; i++)
                    for (long m = 0; m < d->dm; m++)
                        dst[i * d->dm + m] = src[i];
            }
            xrow = rowbuf;
            t.rs = d->w * cc;
        }
        const float *wrow = d->kernel + ky0 * d->kw * cc;
        float *yrow = y + oy * d->ow * cc;
        /* the edges, one pixel at a time over their valid taps */
        for (long ox = 0; ox < d->ow; ox++) {
            if (ox == lo && hi > lo) {
                ox = hi - 1;
                continue;
            }
            long kx0, kx1;
            tap_range(ox, d->sw, d->pl, d->dw, d->kw, d->w, &kx0, &kx1);
            run_pixels(&v, &t, d, cc, xrow, wrow, yrow, ox, 1, kx0, kx1);
        }
        /* the inside, NP pixels at a time */
        for (long ox = lo; ox < hi; ox += NP) {
            int np = hi - ox < NP ? (int)(hi - ox) : NP;
            run_pixels(&v, &t, d, cc, xrow, wrow, yrow, ox, np, 0, d->kw);
        }
    }
}

/* ---- backward ------------------------------------------------------------ */

size_t sq_dw_bwd_scratch(const sq_dw_desc *d, int nt)
{
    size_t cc = (size_t)(d->c * d->dm);
    return (size_t)(nt > 0 ? nt : 1) * ((size_t)(d->kh * d->kw) * cc + cc);
}

typedef struct {
    const sq_dw_desc *d;
    const float *x, *dy;
    float *dx;
    int want_w;
    float *scratch;              /* per thread: kernel and bias gradients */
    size_t region;
    int used[SQ_MAX_THREADS];
} bwd_job;

/* Images [b, e): dx whole, and this thread's share of dk and db. */
static void bwd_images(void *ctx, long b, long e, int tid)
{
    bwd_job *j = ctx;
    const sq_dw_desc *d = j->d;
    long c = d->c, dm = d->dm, cc = c * dm;
    size_t in_img = (size_t)(d->h * d->w * c), out_img = (size_t)(d->oh * d->ow * cc);
    float *pdk = j->scratch + (size_t)tid * j->region;
    float *pdb = pdk + d->kh * d->kw * cc;
    if (j->want_w && !j->used[tid]) {
        memset(pdk, 0, j->region * sizeof *pdk);
        j->used[tid] = 1;
    }
    for (long n = b; n < e; n++) {
        const float *x = j->x + (size_t)n * in_img;
        float *dx = j->dx ? j->dx + (size_t)n * in_img : NULL;
        if (dx)
            memset(dx, 0, in_img * sizeof *dx);
        for (long oy = 0; oy < d->oh; oy++) {
            long ky0, ky1;
            tap_range(oy, d->sh, d->pt, d->dh, d->kh, d->h, &ky0, &ky1);
            for (long ox = 0; ox < d->ow; ox++) {
                const float *g = j->dy + (size_t)n * out_img + (size_t)((oy * d->ow + ox) * cc);
                if (j->want_w)
                    for (long q = 0; q < cc; q++)
                        pdb[q] += g[q];
                long kx0, kx1;
                tap_range(ox, d->sw, d->pl, d->dw, d->kw, d->w, &kx0, &kx1);
                for (long ky = ky0; ky < ky1; ky++) {
                    long iy = oy * d->sh - d->pt + ky * d->dh;
                    for (long kx = kx0; kx < kx1; kx++) {
                        long ix = ox * d->sw - d->pl + kx * d->dw;
                        const float *xp = x + (iy * d->w + ix) * c;
                        long tap = (ky * d->kw + kx) * cc;
                        if (j->want_w) {
                            float *gk = pdk + tap;
                            if (dm == 1)
                                for (long q = 0; q < c; q++)
                                    gk[q] += xp[q] * g[q];
                            else
                                for (long q = 0; q < cc; q++)
                                    gk[q] += xp[q / dm] * g[q];
                        }
                        if (dx) {
                            float *dp = dx + (iy * d->w + ix) * c;
                            const float *wk = d->kernel + tap;
                            if (dm == 1)
                                for (long q = 0; q < c; q++)
                                    dp[q] += wk[q] * g[q];
                            else
                                for (long q = 0; q < cc; q++)
                                    dp[q / dm] += wk[q] * g[q];
                        }
                    }
                }
            }
        }
    }
}

void sq_dw_backward(const sq_dw_desc *d, long nb, const float *x, const float *dy, float *dx,
                    float *dk, float *db, float *scratch, int nt)
{
    size_t cc = (size_t)(d->c * d->dm), nk = (size_t)(d->kh * d->kw) * cc;
    if (nt < 1)
        nt = 1;
    bwd_job j = { d, x, dy, dx, dk != NULL, scratch, nk + cc, { 0 } };
    if (dx || dk)
        sq_parallel_for_upto(nb, 1, nt, bwd_images, &j);
    if (!dk)
        return;
    memset(dk, 0, nk * sizeof *dk);
    if (db)
        memset(db, 0, cc * sizeof *db);
    for (int t = 0; t < nt; t++) {
        if (!j.used[t])
            continue;
        const float *pdk = scratch + (size_t)t * j.region, *pdb = pdk + nk;
        for (size_t i = 0; i < nk; i++)
            dk[i] += pdk[i];
        if (db)
            for (size_t i = 0; i < cc; i++)
                db[i] += pdb[i];
    }
}
