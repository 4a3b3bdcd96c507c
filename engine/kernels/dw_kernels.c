/* dw_kernels.c - direct channels-last depthwise convolution. Each output
 * pixel's channels are independent sums over its window, so the forward
 * pass vectorises across channels: a strip is up to NP neighbouring output
 * pixels of one row, done one vector of channels at a time with the sums
 * in registers for the whole window. Windows three taps wide with unit
 * dilation and stride 1 or 2 (MobileNet's) load each input vector once per
 * tap row and use it for every pixel whose window holds it, with the row's
 * three weight vectors in registers; other windows load the weights once
 * per tap and one input vector per pixel. Pixels whose window pokes out at
 * the sides are done one at a time over their valid taps; tap rows above
 * or below the input are skipped for the whole row. Depthwise convolution
 * reads and writes far more than it computes (9 multiply-adds per value
 * for a 3x3 window), so the loops walk the input once per output row, in
 * order, keeping the weights (kh*kw*C floats) in L1. With a depth
 * multiplier above 1 the tap rows are first spread to C*dm channels in a
 * per-thread buffer. */
#include <string.h>
#include "kernels/dw_kernels.h"
#include "kernels/threads.h"

#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
#define SQ_X86 1
#include <immintrin.h>
#endif

#define NP 8                   /* most pixels per strip */

/* One strip's job: np neighbouring output pixels of a row, all nc
 * channels, the window's taps [0, ntap) of each of nrow tap rows. */
typedef struct {
    const float *x;            /* input at the first tap of pixel 0, channel 0 */
    long ps;                   /* x floats between pixels */
    long nrow, rs;             /* tap rows; x floats between them */
    long ntap, ts;             /* taps per row; x floats between them */
    const float *w;            /* weights at the first tap, channel 0 */
    long wrs, wts;             /* w floats between tap rows, taps */
    const float *bias;         /* nc values, or NULL */
    float *y;                  /* output of pixel 0, channel 0 */
    long ldy;                  /* y floats between pixels */
    long nc;                   /* channels */
    int relu;
} dwt;

/* How a strip's window is walked: any taps one by one, or three taps wide
 * with unit dilation and stride 1 or 2, each input vector loaded once per
 * tap row for every pixel whose window holds it. */
enum { WIN_ANY = 0, WIN_3S1 = 1, WIN_3S2 = 2 };

/* ---- portable C: 16 channels at a time ----------------------------------- */

#define C_VW 16

static void strip_c(const dwt *t, int np, int mode)
{
    (void)mode;
    for (long j = 0; j < t->nc; j += C_VW) {
        int nc = t->nc - j < C_VW ? (int)(t->nc - j) : C_VW;
        float acc[NP][C_VW];
        for (int p = 0; p < np; p++)
            for (int q = 0; q < nc; q++)
                acc[p][q] = t->bias ? t->bias[j + q] : 0.0f;
        const float *xr = t->x + j, *wr = t->w + j;
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
            float *y = t->y + p * t->ldy + j;
            for (int q = 0; q < nc; q++)
                y[q] = t->relu ? (acc[p][q] > 0 ? acc[p][q] : 0.0f) : acc[p][q];
        }
    }
}

#ifdef SQ_X86

#define AI __attribute__((always_inline))

/* ---- AVX-512: 16 channels at a time ------------------------------------- */

#define TGT512 __attribute__((target("avx512f")))

static inline AI TGT512 __m512 ld_z(const float *p, __mmask16 m, const int masked)
{
    return masked ? _mm512_maskz_loadu_ps(m, p) : _mm512_loadu_ps(p);
}

/* Channels [j, j + 16) (fewer when masked) of a strip. */
static inline AI TGT512 void body_z(const dwt *t, long j, const int np, const int mode,
                                     const int masked)
{
    __mmask16 m = masked ? (__mmask16)((1u << (t->nc - j)) - 1) : (__mmask16)0xffff;
    __m512 acc[NP];
    __m512 b = t->bias ? ld_z(t->bias + j, m, masked) : _mm512_setzero_ps();
#pragma GCC unroll 8
    for (int p = 0; p < np; p++)
        acc[p] = b;
    const long ps = t->ps, ts = t->ts;
    const float *xr = t->x + j, *wr = t->w + j;
    for (long r = 0; r < t->nrow; r++, xr += t->rs, wr += t->wrs) {
        if (mode == WIN_ANY) {
            const float *xk = xr, *wk = wr;
            for (long k = 0; k < t->ntap; k++, xk += ts, wk += t->wts) {
                __m512 wv = ld_z(wk, m, masked);
#pragma GCC unroll 8
                for (int p = 0; p < np; p++)
                    acc[p] = _mm512_fmadd_ps(ld_z(xk + p * ps, m, masked), wv, acc[p]);
            }
            continue;
        }
        const int s = mode;  /* input cols i = p*s + k, ts floats apart */
        __m512 w0 = ld_z(wr, m, masked), w1 = ld_z(wr + t->wts, m, masked);
        __m512 w2 = ld_z(wr + 2 * t->wts, m, masked);
        const float *xi = xr;  /* walked, not indexed: one register */
#pragma GCC unroll 17
        for (int i = 0; i < (np - 1) * s + 3; i++, xi += ts) {
            __m512 xv = ld_z(xi, m, masked);
            if (i % s == 0 && i / s < np)
                acc[i / s] = _mm512_fmadd_ps(xv, w0, acc[i / s]);
            if (i >= 1 && (i - 1) % s == 0 && (i - 1) / s < np)
                acc[(i - 1) / s] = _mm512_fmadd_ps(xv, w1, acc[(i - 1) / s]);
            if (i >= 2 && (i - 2) % s == 0 && (i - 2) / s < np)
                acc[(i - 2) / s] = _mm512_fmadd_ps(xv, w2, acc[(i - 2) / s]);
        }
    }
    __m512 z = _mm512_setzero_ps();
#pragma GCC unroll 8
    for (int p = 0; p < np; p++) {
        __m512 v = t->relu ? _mm512_max_ps(acc[p], z) : acc[p];
        if (masked)
            _mm512_mask_storeu_ps(t->y + p * t->ldy + j, m, v);
        else
            _mm512_storeu_ps(t->y + p * t->ldy + j, v);
    }
}

static inline AI TGT512 void strip_z(const dwt *t, const int np, const int mode)
{
    long j = 0;
    for (; j + 16 <= t->nc; j += 16)
        body_z(t, j, np, mode, 0);
    if (j < t->nc)
        body_z(t, j, np, mode, 1);
}

#define ZS(n) \
    static TGT512 void strip_z##n(const dwt *t, int mode) \
    { \
        if (mode == WIN_3S1) strip_z(t, n, WIN_3S1); \
        else if (mode == WIN_3S2) strip_z(t, n, WIN_3S2); \
        else strip_z(t, n, WIN_ANY); \
    }
ZS(1) ZS(2) ZS(3) ZS(4) ZS(5) ZS(6) ZS(7) ZS(8)

/* ---- AVX2 + FMA: 8 channels at a time ------------------------------------- */

#define TGT256 __attribute__((target("avx2,fma")))

static inline AI TGT256 __m256 ld_y(const float *p, __m256i m, const int masked)
{
    return masked ? _mm256_maskload_ps(p, m) : _mm256_loadu_ps(p);
}

static inline AI TGT256 void body_y(const dwt *t, long j, const int np, const int mode,
                                     const int masked)
{
    __m256i m = _mm256_setzero_si256();
    if (masked)
        m = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(t->nc - j)),
                               _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    __m256 acc[NP];
    __m256 b = t->bias ? ld_y(t->bias + j, m, masked) : _mm256_setzero_ps();
#pragma GCC unroll 8
    for (int p = 0; p < np; p++)
        acc[p] = b;
    const long ps = t->ps, ts = t->ts;
    const float *xr = t->x + j, *wr = t->w + j;
    for (long r = 0; r < t->nrow; r++, xr += t->rs, wr += t->wrs) {
        if (mode == WIN_ANY) {
            const float *xk = xr, *wk = wr;
            for (long k = 0; k < t->ntap; k++, xk += ts, wk += t->wts) {
                __m256 wv = ld_y(wk, m, masked);
#pragma GCC unroll 8
                for (int p = 0; p < np; p++)
                    acc[p] = _mm256_fmadd_ps(ld_y(xk + p * ps, m, masked), wv, acc[p]);
            }
            continue;
        }
        const int s = mode;
        __m256 w0 = ld_y(wr, m, masked), w1 = ld_y(wr + t->wts, m, masked);
        __m256 w2 = ld_y(wr + 2 * t->wts, m, masked);
        const float *xi = xr;  /* walked, not indexed: one register */
#pragma GCC unroll 17
        for (int i = 0; i < (np - 1) * s + 3; i++, xi += ts) {
            __m256 xv = ld_y(xi, m, masked);
            if (i % s == 0 && i / s < np)
                acc[i / s] = _mm256_fmadd_ps(xv, w0, acc[i / s]);
            if (i >= 1 && (i - 1) % s == 0 && (i - 1) / s < np)
                acc[(i - 1) / s] = _mm256_fmadd_ps(xv, w1, acc[(i - 1) / s]);
            if (i >= 2 && (i - 2) % s == 0 && (i - 2) / s < np)
                acc[(i - 2) / s] = _mm256_fmadd_ps(xv, w2, acc[(i - 2) / s]);
        }
    }
    __m256 z = _mm256_setzero_ps();
#pragma GCC unroll 8
    for (int p = 0; p < np; p++) {
        __m256 v = t->relu ? _mm256_max_ps(acc[p], z) : acc[p];
        if (masked)
            _mm256_maskstore_ps(t->y + p * t->ldy + j, m, v);
        else
            _mm256_storeu_ps(t->y + p * t->ldy + j, v);
    }
}

static inline AI TGT256 void strip_y(const dwt *t, const int np, const int mode)
{
    long j = 0;
    for (; j + 8 <= t->nc; j += 8)
        body_y(t, j, np, mode, 0);
    if (j < t->nc)
        body_y(t, j, np, mode, 1);
}

#define YS(n) \
    static TGT256 void strip_y##n(const dwt *t, int mode) \
    { \
        if (mode == WIN_3S1) strip_y(t, n, WIN_3S1); \
        else if (mode == WIN_3S2) strip_y(t, n, WIN_3S2); \
        else strip_y(t, n, WIN_ANY); \
    }
YS(1) YS(2) YS(3) YS(4) YS(5) YS(6) YS(7) YS(8)

#endif /* SQ_X86 */

/* A variant's strips for 1 to NP pixels; NULL for the portable one. */
typedef void (*strip_fn)(const dwt *t, int mode);

static const strip_fn *strips_of(sq_isa isa)
{
#ifdef SQ_X86
    static const strip_fn z[NP] = { strip_z1, strip_z2, strip_z3, strip_z4,
                                    strip_z5, strip_z6, strip_z7, strip_z8 };
    static const strip_fn y[NP] = { strip_y1, strip_y2, strip_y3, strip_y4,
                                    strip_y5, strip_y6, strip_y7, strip_y8 };
    if (isa == SQ_ISA_AVX512)
        return z;
    if (isa == SQ_ISA_AVX2)
        return y;
#endif
    (void)isa;
    return NULL;
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

/* Runs the strip of pixels [ox, ox + np) over taps cols [kx0, kx1); t
 * has the row's fields set. */
static void run_strip(const strip_fn *fns, dwt *t, const sq_dw_desc *d, long cc,
                      const float *xrow, const float *wrow, float *yrow, long ox, int np,
                      long kx0, long kx1)
{
    t->x = xrow;
    t->w = wrow;
    t->y = yrow + ox * cc;
    t->ntap = kx1 - kx0;
    if (t->ntap > 0 && t->nrow > 0) {
        t->x = xrow + (ox * d->sw - d->pl + kx0 * d->dw) * cc;
        t->w = wrow + kx0 * cc;
    } else {
        t->ntap = 0;  /* the window lies in the padding: bias alone */
    }
    int mode = WIN_ANY;
    if (t->ntap == 3 && d->dw == 1 && d->sw <= 2)
        mode = d->sw == 1 ? WIN_3S1 : WIN_3S2;
    if (fns)
        fns[np - 1](t, mode);
    else
        strip_c(t, np, mode);
}

void sq_dw_rows(sq_isa isa, const sq_dw_desc *d, const float *x, float *y, long oy0,
                long oy1, float *rowbuf)
{
    const strip_fn *fns = strips_of(isa);
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
    t.nc = cc;
    t.bias = d->bias;
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
            run_strip(fns, &t, d, cc, xrow, wrow, yrow, ox, 1, kx0, kx1);
        }
        /* the inside, NP pixels at a time */
        for (long ox = lo; ox < hi; ox += NP) {
            int np = hi - ox < NP ? (int)(hi - ox) : NP;
            run_strip(fns, &t, d, cc, xrow, wrow, yrow, ox, np, 0, d->kw);
        }
    }
}

/* ---- backward ------------------------------------------------------------ */

typedef struct {
    sq_isa isa;
    const sq_dw_desc *d;
    const float *in;
    float *out;
    float *rowbufs;              /* one per thread, rowbuf floats each */
    size_t rowbuf;
} dw_job;

static void dw_rows_of(void *ctx, long img, long oy0, long oy1, int tid)
{
    const dw_job *j = ctx;
    const sq_dw_desc *d = j->d;
    size_t in_img = (size_t)(d->h * d->w * d->c), out_img = (size_t)(d->oh * d->ow * d->c * d->dm);
    sq_dw_rows(j->isa, d, j->in + (size_t)img * in_img, j->out + (size_t)img * out_img, oy0,
               oy1, j->rowbuf ? j->rowbufs + (size_t)tid * j->rowbuf : NULL);
}

void sq_dw_forward(const sq_dw_desc *d, long nb, const float *x, float *y, float *rowbufs,
                   int threads, volatile int *intr)
{
    dw_job job = { sq_isa_active(), d, x, y, rowbufs, sq_dw_rowbuf(d) };
    /* shares of at least ~0.5 MFLOP, so waking a thread pays */
    double row_flops = 2.0 * (double)(d->ow * d->c * d->dm) * (double)(d->kh * d->kw) + 1.0;
    sq_parallel_image_rows(nb, d->oh, (long)(5e5 / row_flops) + 1, threads, intr, dw_rows_of,
                           &job);
}

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
