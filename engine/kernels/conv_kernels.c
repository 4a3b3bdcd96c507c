/* conv_kernels.c - direct channels-last 2-D convolution. The output is cut
 * into tiles of up to NP consecutive pixels of one output row times one
 * panel of filters (two vectors wide); a tile's sums live in registers for
 * the whole reduction over (ky, kx, c), each step loading the panel's
 * weights once and broadcasting one input value per pixel. Tap rows above
 * or below the input are skipped for the whole tile. When windows poke out
 * at the sides, the tap rows of each output row are first copied into a
 * small per-thread buffer with zeros on both sides, so every pixel runs in
 * full tiles; without that buffer such pixels are done one at a time over
 * their valid taps. The kernel is read in Keras's layout; only the last,
 * partial, panel of filters is repacked with zero padding. */
#include <stdlib.h>
#include <string.h>
#include "kernels/conv_kernels.h"

#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
#define SQ_X86 1
#include <immintrin.h>
#endif

/* One tile's job. x and w point at the first valid tap of pixel 0 (and of
 * the panel); the reduction is nrow tap rows of nseg segments of len steps. */
typedef struct {
    const float *x;
    long ps;                   /* x floats between neighbouring pixels */
    long nrow, rs, wrs;        /* tap rows; x and w floats between them */
    long nseg, ss, wss;        /* segments per row; x and w floats between them */
    long len;                  /* steps per segment (x contiguous) */
    const float *w;
    long ldw;                  /* w floats between steps */
    const float *bias;         /* the panel's, padded; NULL = zeros */
    float *y;
    long ldy;                  /* y floats between pixels */
    int nf;                    /* valid filters in the panel */
    int relu;
} tile;

typedef void (*tile_fn)(const tile *t);

/* ---- portable C: 16-filter panels, up to 4 pixels --------------------- */

#define C_PW 16
#define C_NP 4

static inline void tile_c(const tile *t, const int np)
{
    float acc[C_NP][C_PW];
    for (int p = 0; p < np; p++)
        for (int q = 0; q < C_PW; q++)
            acc[p][q] = t->bias ? t->bias[q] : 0.0f;
    const float *xr = t->x, *wr = t->w;
    for (long r = 0; r < t->nrow; r++, xr += t->rs, wr += t->wrs) {
        const float *xs = xr, *ws = wr;
        for (long s = 0; s < t->nseg; s++, xs += t->ss, ws += t->wss) {
            const float *wk = ws;
            for (long j = 0; j < t->len; j++, wk += t->ldw) {
                for (int p = 0; p < np; p++) {
                    float xv = xs[p * t->ps + j];
                    for (int q = 0; q < C_PW; q++)
                        acc[p][q] += xv * wk[q];
                }
            }
        }
    }
    for (int p = 0; p < np; p++) {
        float *y = t->y + p * t->ldy;
        for (int q = 0; q < t->nf; q++)
            y[q] = t->relu ? (acc[p][q] > 0 ? acc[p][q] : 0.0f) : acc[p][q];
    }
}

static void tile_c1(const tile *t) { tile_c(t, 1); }
static void tile_c2(const tile *t) { tile_c(t, 2); }
static void tile_c3(const tile *t) { tile_c(t, 3); }
static void tile_c4(const tile *t) { tile_c(t, 4); }
static const tile_fn fns_c[C_NP] = { tile_c1, tile_c2, tile_c3, tile_c4 };

#ifdef SQ_X86

/* ---- AVX-512: 32- or 16-filter panels, up to 12 pixels ----------------- */

#define TGT512 __attribute__((target("avx512f")))
#define Z_NP 12

static inline __attribute__((always_inline)) TGT512
void tile_z(const tile *t, const int np, const int nv)
{
    __m512 acc[Z_NP][2];
    __m512 b0 = _mm512_setzero_ps(), b1 = _mm512_setzero_ps();
    if (t->bias) {
        b0 = _mm512_loadu_ps(t->bias);
        if (nv == 2)
            b1 = _mm512_loadu_ps(t->bias + 16);
    }
#pragma GCC unroll 12
    for (int p = 0; p < np; p++) {
        acc[p][0] = b0;
        acc[p][1] = b1;
    }
    const long ps = t->ps, ldw = t->ldw, len = t->len;
    const float *xr = t->x, *wr = t->w;
    for (long r = 0; r < t->nrow; r++, xr += t->rs, wr += t->wrs) {
        const float *xs = xr, *ws = wr;
        for (long s = 0; s < t->nseg; s++, xs += t->ss, ws += t->wss) {
            const float *wk = ws;
            for (long j = 0; j < len; j++, wk += ldw) {
                __m512 w0 = _mm512_loadu_ps(wk);
                __m512 w1 = nv == 2 ? _mm512_loadu_ps(wk + 16) : w0;
#pragma GCC unroll 12
                for (int p = 0; p < np; p++) {
                    __m512 xv = _mm512_set1_ps(xs[p * ps + j]);
                    acc[p][0] = _mm512_fmadd_ps(xv, w0, acc[p][0]);
                    if (nv == 2)
                        acc[p][1] = _mm512_fmadd_ps(xv, w1, acc[p][1]);
                }
            }
        }
    }
    if (t->relu) {
        __m512 z = _mm512_setzero_ps();
#pragma GCC unroll 12
        for (int p = 0; p < np; p++) {
            acc[p][0] = _mm512_max_ps(acc[p][0], z);
            if (nv == 2)
                acc[p][1] = _mm512_max_ps(acc[p][1], z);
        }
    }
    float *y = t->y;
    if (t->nf == 16 * nv) {
#pragma GCC unroll 12
        for (int p = 0; p < np; p++) {
            _mm512_storeu_ps(y + p * t->ldy, acc[p][0]);
            if (nv == 2)
                _mm512_storeu_ps(y + p * t->ldy + 16, acc[p][1]);
        }
    } else {
        int n0 = t->nf < 16 ? t->nf : 16, n1 = t->nf - n0;
        __mmask16 m0 = (__mmask16)((1u << n0) - 1), m1 = (__mmask16)((1u << n1) - 1);
#pragma GCC unroll 12
        for (int p = 0; p < np; p++) {
            _mm512_mask_storeu_ps(y + p * t->ldy, m0, acc[p][0]);
            if (nv == 2)
                _mm512_mask_storeu_ps(y + p * t->ldy + 16, m1, acc[p][1]);
        }
    }
}

#define Z1(n) static TGT512 void tile_z1_##n(const tile *t) { tile_z(t, n, 1); }
#define Z2(n) static TGT512 void tile_z2_##n(const tile *t) { tile_z(t, n, 2); }
Z1(1) Z1(2) Z1(3) Z1(4) Z1(5) Z1(6) Z1(7) Z1(8) Z1(9) Z1(10) Z1(11) Z1(12)
Z2(1) Z2(2) Z2(3) Z2(4) Z2(5) Z2(6) Z2(7) Z2(8) Z2(9) Z2(10) Z2(11) Z2(12)
static const tile_fn fns_z[2][Z_NP] = {
    { tile_z1_1, tile_z1_2, tile_z1_3, tile_z1_4, tile_z1_5, tile_z1_6, tile_z1_7,
      tile_z1_8, tile_z1_9, tile_z1_10, tile_z1_11, tile_z1_12 },
    { tile_z2_1, tile_z2_2, tile_z2_3, tile_z2_4, tile_z2_5, tile_z2_6, tile_z2_7,
      tile_z2_8, tile_z2_9, tile_z2_10, tile_z2_11, tile_z2_12 },
};

/* ---- AVX2 + FMA: 16- or 8-filter panels, up to 6 pixels ---------------- */

#define TGT256 __attribute__((target("avx2,fma")))
#define Y_NP 6

static inline __attribute__((always_inline)) TGT256
void tile_y(const tile *t, const int np, const int nv)
{
    __m256 acc[Y_NP][2];
    __m256 b0 = _mm256_setzero_ps(), b1 = _mm256_setzero_ps();
    if (t->bias) {
        b0 = _mm256_loadu_ps(t->bias);
        if (nv == 2)
            b1 = _mm256_loadu_ps(t->bias + 8);
    }
#pragma GCC unroll 6
    for (int p = 0; p < np; p++) {
        acc[p][0] = b0;
        acc[p][1] = b1;
    }
    const long ps = t->ps, ldw = t->ldw, len = t->len;
    const float *xr = t->x, *wr = t->w;
    for (long r = 0; r < t->nrow; r++, xr += t->rs, wr += t->wrs) {
        const float *xs = xr, *ws = wr;
        for (long s = 0; s < t->nseg; s++, xs += t->ss, ws += t->wss) {
            const float *wk = ws;
            for (long j = 0; j < len; j++, wk += ldw) {
                __m256 w0 = _mm256_loadu_ps(wk);
                __m256 w1 = nv == 2 ? _mm256_loadu_ps(wk + 8) : w0;
#pragma GCC unroll 6
                for (int p = 0; p < np; p++) {
                    __m256 xv = _mm256_broadcast_ss(xs + p * ps + j);
                    acc[p][0] = _mm256_fmadd_ps(xv, w0, acc[p][0]);
                    if (nv == 2)
                        acc[p][1] = _mm256_fmadd_ps(xv, w1, acc[p][1]);
                }
            }
        }
    }
    if (t->relu) {
        __m256 z = _mm256_setzero_ps();
#pragma GCC unroll 6
        for (int p = 0; p < np; p++) {
            acc[p][0] = _mm256_max_ps(acc[p][0], z);
            if (nv == 2)
                acc[p][1] = _mm256_max_ps(acc[p][1], z);
        }
    }
    float *y = t->y;
    if (t->nf == 8 * nv) {
#pragma GCC unroll 6
        for (int p = 0; p < np; p++) {
            _mm256_storeu_ps(y + p * t->ldy, acc[p][0]);
            if (nv == 2)
                _mm256_storeu_ps(y + p * t->ldy + 8, acc[p][1]);
        }
    } else {
        int n0 = t->nf < 8 ? t->nf : 8, n1 = t->nf - n0;
        __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        __m256i m0 = _mm256_cmpgt_epi32(_mm256_set1_epi32(n0), lane);
        __m256i m1 = _mm256_cmpgt_epi32(_mm256_set1_epi32(n1), lane);
#pragma GCC unroll 6
        for (int p = 0; p < np; p++) {
            _mm256_maskstore_ps(y + p * t->ldy, m0, acc[p][0]);
            if (nv == 2)
                _mm256_maskstore_ps(y + p * t->ldy + 8, m1, acc[p][1]);
        }
    }
}

#define Y1(n) static TGT256 void tile_y1_##n(const tile *t) { tile_y(t, n, 1); }
#define Y2(n) static TGT256 void tile_y2_##n(const tile *t) { tile_y(t, n, 2); }
Y1(1) Y1(2) Y1(3) Y1(4) Y1(5) Y1(6)
Y2(1) Y2(2) Y2(3) Y2(4) Y2(5) Y2(6)
static const tile_fn fns_y[2][Y_NP] = {
    { tile_y1_1, tile_y1_2, tile_y1_3, tile_y1_4, tile_y1_5, tile_y1_6 },
    { tile_y2_1, tile_y2_2, tile_y2_3, tile_y2_4, tile_y2_5, tile_y2_6 },
};

#endif /* SQ_X86 */

/* ---- choosing a variant ------------------------------------------------ */

sq_isa sq_isa_supported(void)
{
#ifdef SQ_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f"))
        return SQ_ISA_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return SQ_ISA_AVX2;
#endif
    return SQ_ISA_C;
}

const char *sq_isa_name(sq_isa isa)
{
    switch (isa) {
    case SQ_ISA_AVX512: return "avx512";
    case SQ_ISA_AVX2: return "avx2";
    default: return "c";
    }
}

static int active = -1;

sq_isa sq_isa_active(void)
{
    if (active < 0) {
        sq_isa isa = sq_isa_supported();
        const char *e = getenv("SEQSH_ISA");
        if (e) {
            for (int i = SQ_ISA_C; i <= SQ_ISA_AVX512; i++)
                if (strcmp(e, sq_isa_name((sq_isa)i)) == 0 && (sq_isa)i < isa)
                    isa = (sq_isa)i;
        }
        active = (int)isa;
    }
    return (sq_isa)active;
}

sq_isa sq_isa_set_active(sq_isa isa)
{
    sq_isa best = sq_isa_supported();
    active = (int)(isa < best ? isa : best);
    return (sq_isa)active;
}

/* Panel geometry of a variant: full width, half width (0 = none), most
 * pixels per tile. */
typedef struct {
    int pw, half, np;
} panel_geom;

static panel_geom geom(sq_isa isa)
{
#ifdef SQ_X86
    if (isa == SQ_ISA_AVX512)
        return (panel_geom){ 32, 16, Z_NP };
    if (isa == SQ_ISA_AVX2)
        return (panel_geom){ 16, 8, Y_NP };
#endif
    (void)isa;
    return (panel_geom){ C_PW, 0, C_NP };
}

static tile_fn tile_for(sq_isa isa, int width, int np)
{
#ifdef SQ_X86
    if (isa == SQ_ISA_AVX512)
        return fns_z[width == 32][np - 1];
    if (isa == SQ_ISA_AVX2)
        return fns_y[width == 16][np - 1];
#endif
    (void)isa;
    (void)width;
    return fns_c[np - 1];
}

/* ---- preparing and running -------------------------------------------- */

size_t sq_conv_scratch(long kh, long kw, long c)
{
    return (size_t)(kh * kw * c + 1) * 32;
}

/* Width of the padded panel for the last r filters. */
static int tail_width(panel_geom g, long r)
{
    return g.half && r <= g.half ? g.half : g.pw;
}

void sq_conv_prepare(sq_isa isa, sq_conv_desc *d, float *scratch)
{
    panel_geom g = geom(isa);
    long r = d->f % g.pw;
    d->tail_f0 = d->f - r;
    d->tail_w = d->tail_b = NULL;
    if (r == 0)
        return;
    int tw = tail_width(g, r);
    long k = d->kh * d->kw * d->c;
    float *w = scratch, *b = scratch + k * tw;
    for (long i = 0; i < k; i++) {
        const float *src = d->kernel + i * d->f + d->tail_f0;
        for (long j = 0; j < tw; j++)
            w[i * tw + j] = j < r ? src[j] : 0.0f;
    }
    d->tail_w = w;
    if (d->bias) {
        for (long j = 0; j < tw; j++)
            b[j] = j < r ? d->bias[d->tail_f0 + j] : 0.0f;
        d->tail_b = b;
    }
}

/* The taps [*k0, *k1) of a window at output position o that fall inside
 * an axis of n cells: tap t reads cell o*s - pad + t*dil. */
static void tap_range(long o, long s, long pad, long dil, long k, long n, long *k0, long *k1)
{
    long i0 = o * s - pad;
    long a = i0 < 0 ? (-i0 + dil - 1) / dil : 0;
    long last = n - 1 - i0;  /* taps t with t*dil <= last */
    long b = last < 0 ? 0 : last / dil + 1;
    if (b > k)
        b = k;
    if (a > b)
        a = b;
    *k0 = a;
    *k1 = b;
}

typedef struct {
    const float *w;            /* panel weights at tap 0 */
    long ldw;
    const float *bias;
    long f0;
    int width, nf;
} panel;

/* Fills t for pixels [ox, ox + n) of output row oy over taps rows
 * [ky0, ky1) and cols [kx0, kx1), and runs it. xrow points at column 0 of
 * the input row tap row ky0 reads (t->rs on to the next tap row). */
static void run(tile_fn fn, tile *t, const sq_conv_desc *d, const panel *pn,
                const float *xrow, float *y, long oy, long ky0, long ky1, long ox,
                long kx0, long kx1)
{
    long c = d->c;
    t->y = y + (oy * d->ow + ox) * d->f + pn->f0;
    if (ky1 <= ky0 || kx1 <= kx0) {
        t->nrow = 0;
        t->x = NULL;
        t->w = pn->w;
        fn(t);
        return;
    }
    long ix = ox * d->sw - d->pl + kx0 * d->dw;
    t->x = xrow + ix * c;
    t->nrow = ky1 - ky0;
    t->w = pn->w + (ky0 * d->kw + kx0) * c * pn->ldw;
    if (d->dw == 1) {
        t->nseg = 1;
        t->len = (kx1 - kx0) * c;
        t->ss = t->wss = 0;
    } else {
        t->nseg = kx1 - kx0;
        t->len = c;
        t->ss = d->dw * c;
        t->wss = c * pn->ldw;
    }
    fn(t);
}

/* Output cols [lo, hi) have their whole window inside the input; a row
 * buffer holds input cols [-pl, w + right). */
typedef struct {
    long lo, hi, right;
} col_plan;

static col_plan plan_cols(const sq_conv_desc *d)
{
    col_plan p;
    p.lo = (d->pl + d->sw - 1) / d->sw;
    long num = d->w - 1 - (d->kw - 1) * d->dw + d->pl;
    p.hi = num < 0 ? 0 : num / d->sw + 1;
    if (p.hi > d->ow)
        p.hi = d->ow;
    if (p.lo > p.hi)
        p.lo = p.hi;
    long last = (d->ow - 1) * d->sw - d->pl + (d->kw - 1) * d->dw;  /* rightmost col read */
    p.right = last > d->w - 1 ? last - (d->w - 1) : 0;
    return p;
}

size_t sq_conv_rowbuf(const sq_conv_desc *d)
{
    col_plan p = plan_cols(d);
    if (d->ow <= 0 || (p.lo == 0 && p.hi == d->ow))
        return 0;
    return (size_t)(d->kh * (d->pl + d->w + p.right) * d->c);
}

void sq_conv_rows(sq_isa isa, const sq_conv_desc *d, const float *x, float *y,
                  long oy0, long oy1, float *rowbuf)
{
    panel_geom g = geom(isa);
    long c = d->c;
    col_plan cp = plan_cols(d);
    long lo = cp.lo, hi = cp.hi;
    /* with a row buffer padded at both sides every col is inside */
    int padded = rowbuf && sq_conv_rowbuf(d) > 0;
    long width = d->pl + d->w + cp.right;
    if (padded) {
        lo = 0;
        hi = d->ow;
    }
    long inner = hi - lo;
    long ntiles = (inner + g.np - 1) / g.np;
    panel last = { 0 };
    int npan = 0;
    long nfull = d->tail_f0 / g.pw;
    if (d->tail_f0 < d->f) {
        int tw = tail_width(g, d->f - d->tail_f0);
        last = (panel){ d->tail_w, tw, d->tail_b, d->tail_f0, tw, (int)(d->f - d->tail_f0) };
        npan = 1;
    }
    tile t;
    t.ps = d->sw * c;
    t.rs = padded ? width * c : d->dh * d->w * c;
    t.ldy = d->f;
    t.relu = d->relu;
    for (long oy = oy0; oy < oy1; oy++) {
        long ky0, ky1;
        tap_range(oy, d->sh, d->pt, d->dh, d->kh, d->h, &ky0, &ky1);
        long iy0 = oy * d->sh - d->pt + ky0 * d->dh;
        const float *xrow = ky1 > ky0 ? x + iy0 * d->w * c : x;
        if (padded) {
            /* the tap rows, one after another, zeros at both sides */
            for (long r = 0; r < ky1 - ky0; r++) {
                float *dst = rowbuf + r * width * c;
                memset(dst, 0, (size_t)(d->pl * c) * sizeof *dst);
                memcpy(dst + d->pl * c, x + (iy0 + r * d->dh) * d->w * c,
                       (size_t)(d->w * c) * sizeof *dst);
                memset(dst + (d->pl + d->w) * c, 0, (size_t)(cp.right * c) * sizeof *dst);
            }
            xrow = rowbuf + d->pl * c;
        }
        for (long pi = 0; pi < nfull + npan; pi++) {
            panel pn;
            if (pi < nfull)
                pn = (panel){ d->kernel + pi * g.pw, d->f, d->bias ? d->bias + pi * g.pw : NULL,
                              pi * g.pw, g.pw, g.pw };
            else
                pn = last;
            t.ldw = pn.ldw;
            t.wrs = d->kw * c * pn.ldw;
            t.bias = pn.bias;
            t.nf = pn.nf;
            tile_fn one = tile_for(isa, pn.width, 1);
            /* edge pixels, one at a time over their valid taps */
            for (long ox = 0; ox < d->ow; ox++) {
                if (ox == lo && hi > lo) {
                    ox = hi - 1;
                    continue;
                }
                long kx0, kx1;
                tap_range(ox, d->sw, d->pl, d->dw, d->kw, d->w, &kx0, &kx1);
                run(one, &t, d, &pn, xrow, y, oy, ky0, ky1, ox, kx0, kx1);
            }
            /* the inside, in tiles of nearly equal size */
            long ox = lo;
            for (long i = 0; i < ntiles; i++) {
                long n = inner / ntiles + (i < inner % ntiles);
                run(tile_for(isa, pn.width, (int)n), &t, d, &pn, xrow, y, oy, ky0, ky1, ox, 0,
                    d->kw);
                ox += n;
            }
        }
    }
}
