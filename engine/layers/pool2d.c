/* pool2d.c - MaxPooling2D and AveragePooling2D (channels_last): windows over
 * rows and cols, TensorFlow's SAME padding; padded cells never count.
 * Forward runs over output rows shared by the thread pool, vectorised
 * across channels with AVX-512 or AVX2 where the CPU has them. While
 * training, max pooling's forward also saves where each maximum was (its
 * cache), and backward adds each output's gradient there. */
#include <ctype.h>
#include <float.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "layers/layer.h"
#include "kernels/conv_kernels.h"
#include "kernels/threads.h"

#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
#define POOL_X86 1
#include <immintrin.h>
#endif

typedef struct {
    long k[2];        /* pool rows, cols */
    long s[2];        /* strides */
    int same;         /* padding="same" */
    int max;          /* 1 max, 0 average */
} pool_state;

/* Keras's constructor order: pool_size, strides, padding. */
static const sq_optdef opts[] = {
    { .name = "pool_size", .type = OPT_INTS, .tuple_len = 2, .def = "2", .help = "window size: 2 or (2, 3)" },
    { .name = "strides", .type = OPT_INTS, .tuple_len = 2, .def = "0", .help = "step between windows; default: pool_size" },
    { .name = "padding", .type = OPT_STR, .def = "valid", .help = "valid (no padding) or same (output = ceil(input / stride))" },
    { .name = NULL },
};

/* conv_utils.normalize_tuple's complaint about entries that are not > 0. */
static int check_positive(const char *name, const long *v, sq_error *err)
{
    if (v[0] > 0 && v[1] > 0)
        return 0;
    char bad[64];
    long lo = v[0] < v[1] ? v[0] : v[1], hi = v[0] < v[1] ? v[1] : v[0];
    if (hi <= 0 && hi != lo)
        snprintf(bad, sizeof bad, "%ld, %ld", lo, hi);
    else
        snprintf(bad, sizeof bad, "%ld", lo);
    return sq_fail(err, "The `%s` argument must be a tuple of 2 integers. Received: (%ld, %ld) "
                   "including {%s} that does not satisfy the requirement `> 0`.",
                   name, v[0], v[1], bad);
}

static int configure(sq_layer *l, const sq_optval *v, sq_error *err, int max)
{
    pool_state *st = l->state;
    st->max = max;
    memcpy(st->k, v[0].i, sizeof st->k);
    /* strides=None means pool_size */
    memcpy(st->s, v[1].set ? v[1].i : v[0].i, sizeof st->s);
    if (check_positive("pool_size", st->k, err) < 0 || check_positive("strides", st->s, err) < 0)
        return -1;
    int causal;
    if (sq_parse_padding(v[2].s, &st->same, &causal, err) < 0)
        return -1;
    if (causal)
        return sq_fail(err, "%s: padding \"causal\" is only supported by 1-D layers; use \"valid\" "
                       "or \"same\"", l->kind->class_name);
    return 0;
}

static int configure_max(sq_layer *l, const sq_optval *v, sq_error *err)
{
    return configure(l, v, err, 1);
}

static int configure_avg(sq_layer *l, const sq_optval *v, sq_error *err)
{
    return configure(l, v, err, 0);
}

/* TensorFlow's shape-inference error for a window larger than its input:
 * its first sentence, then what the user can do, instead of the graph
 * node TensorFlow prints. */
static int fail_negative(sq_error *err, const sq_layer *l, const pool_state *st,
                         const sq_shape *in, int axis)
{
    char s[128];
    return sq_fail(err, "Negative dimension size caused by subtracting %ld from %ld: the "
                   "%ldx%ld pool of %s (%s) does not fit in its input %s; use a smaller "
                   "pool_size, or padding=same", st->k[axis], in->d[1 + axis], st->k[0],
                   st->k[1], l->name, l->kind->class_name, sq_shape_str(in, s, sizeof s));
}

static int output_shape(const sq_layer *l, const sq_shape *in, sq_shape *out,
                        sq_error *err)
{
    const pool_state *st = l->state;
    if (in->rank != 4)
        return sq_fail_ndim(err, l, 4, in);
    *out = *in;
    for (int a = 0; a < 2; a++) {
        out->d[1 + a] = sq_conv_len(in->d[1 + a], st->k[a], st->same, st->s[a], 1);
        if (in->d[1 + a] >= 0 && out->d[1 + a] <= 0)
            return fail_negative(err, l, st, in, a);
    }
    return 0;
}

/* One pooling job: the geometry and which window routine to use. */
typedef struct {
    const pool_state *st;
    long h, w, c, oh, ow, pt, pl;
    const float *in;
    float *out;
    sq_isa isa;
    volatile int *intr;          /* polled per output pixel: Ctrl-C inside a layer */
    int32_t *arg;                /* max while training: where each maximum is, or NULL */
} pool_job;

/* Max pooling's saved positions: one int32 per output value, the index in
 * its image (h*w*c floats, so images below 2^31 floats) of the cell that
 * won the window: the first maximum in scan order (rows, then cols), a
 * later cell winning only when strictly greater, as TensorFlow's
 * MaxPoolGrad routes the gradient. */
static int saves_positions(const pool_state *st, const sq_shape *in)
{
    return st->max && (double)in->d[1] * (double)in->d[2] * (double)in->d[3] < 2147483647.0;
}

/* One window's max over channels [j0, j1) into y, and where it is into arg. */
static void window_arg_c(const float *x, long w, long c, long y0, long y1, long x0, long x1,
                         long j0, long j1, float *y, int32_t *arg)
{
    for (long j = j0; j < j1; j++) {
        float a = -FLT_MAX;
        long best = (y0 * w + x0) * c + j;
        float bv = x[best];
        for (long iy = y0; iy < y1; iy++)
            for (long ix = x0; ix < x1; ix++) {
                long at = (iy * w + ix) * c + j;
                float v = x[at];
                a = v > a ? v : a;
                if (v > bv) {
                    bv = v;
                    best = at;
                }
            }
        y[j] = a;
        arg[j] = (int32_t)best;
    }
}

typedef void (*window_arg_fn)(const float *x, long w, long c, long y0, long y1, long x0,
                              long x1, float *y, int32_t *arg);

static void window_arg_all_c(const float *x, long w, long c, long y0, long y1, long x0, long x1,
                             float *y, int32_t *arg)
{
    window_arg_c(x, w, c, y0, y1, x0, x1, 0, c, y, arg);
}

/* The window's max (or mean) over all c channels into y. x is the image;
 * the window is clipped to rows [y0, y1) and cols [x0, x1). */
typedef void (*window_fn)(const float *x, long w, long c, long y0, long y1, long x0,
                          long x1, int max, float *y);

#ifdef POOL_X86
__attribute__((target("avx512f")))
static void window_z(const float *x, long w, long c, long y0, long y1, long x0, long x1,
                     int max, float *y)
{
    for (long j = 0; j < c; j += 32) {
        long n0 = c - j < 16 ? c - j : 16, n1 = c - j - n0 < 16 ? c - j - n0 : 16;
        __mmask16 m0 = (__mmask16)((1u << n0) - 1), m1 = (__mmask16)((1u << n1) - 1);
        __m512 a0 = max ? _mm512_set1_ps(-FLT_MAX) : _mm512_setzero_ps(), a1 = a0;
        for (long iy = y0; iy < y1; iy++) {
            const float *src = x + (iy * w + x0) * c + j;
            for (long ix = x0; ix < x1; ix++, src += c) {
                __m512 v0 = _mm512_maskz_loadu_ps(m0, src), v1 = _mm512_maskz_loadu_ps(m1, src + 16);
                if (max) {
                    a0 = _mm512_max_ps(v0, a0);
                    a1 = _mm512_max_ps(v1, a1);
                } else {
                    a0 = _mm512_add_ps(a0, v0);
                    a1 = _mm512_add_ps(a1, v1);
                }
            }
        }
        long cells = (y1 - y0) * (x1 - x0);
        if (!max && cells > 0) {
            __m512 inv = _mm512_set1_ps(1.0f / (float)cells);
            a0 = _mm512_mul_ps(a0, inv);
            a1 = _mm512_mul_ps(a1, inv);
        }
        _mm512_mask_storeu_ps(y + j, m0, a0);
        _mm512_mask_storeu_ps(y + j + 16, m1, a1);
    }
}

__attribute__((target("avx2")))
static void window_y(const float *x, long w, long c, long y0, long y1, long x0, long x1,
                     int max, float *y)
{
    long cells = (y1 - y0) * (x1 - x0);
    float inv = cells > 0 ? 1.0f / (float)cells : 1.0f;
    long j = 0;
    for (; j + 16 <= c; j += 16) {
        __m256 a0 = max ? _mm256_set1_ps(-FLT_MAX) : _mm256_setzero_ps(), a1 = a0;
        for (long iy = y0; iy < y1; iy++) {
            const float *src = x + (iy * w + x0) * c + j;
            for (long ix = x0; ix < x1; ix++, src += c) {
                __m256 v0 = _mm256_loadu_ps(src), v1 = _mm256_loadu_ps(src + 8);
                if (max) {
                    a0 = _mm256_max_ps(v0, a0);
                    a1 = _mm256_max_ps(v1, a1);
                } else {
                    a0 = _mm256_add_ps(a0, v0);
                    a1 = _mm256_add_ps(a1, v1);
                }
            }
        }
        if (!max && cells > 0) {
            a0 = _mm256_mul_ps(a0, _mm256_set1_ps(inv));
            a1 = _mm256_mul_ps(a1, _mm256_set1_ps(inv));
        }
        _mm256_storeu_ps(y + j, a0);
        _mm256_storeu_ps(y + j + 8, a1);
    }
    for (; j < c; j++) {
        float a = max ? -FLT_MAX : 0.0f;
        for (long iy = y0; iy < y1; iy++)
            for (long ix = x0; ix < x1; ix++) {
                float v = x[(iy * w + ix) * c + j];
                if (max)
                    a = v > a ? v : a;
                else
                    a += v;
            }
        y[j] = !max && cells > 0 ? a * inv : a;
    }
}
#endif

#ifdef POOL_X86
/* window_arg_c, 16 channels at a time; the max as window_z computes it. */
__attribute__((target("avx512f")))
static void window_arg_z(const float *x, long w, long c, long y0, long y1, long x0, long x1,
                         float *y, int32_t *arg)
{
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    for (long j = 0; j < c; j += 16) {
        int nl = c - j < 16 ? (int)(c - j) : 16;
        __mmask16 m = (__mmask16)((1u << nl) - 1);
        int first = (int)((y0 * w + x0) * c + j);
        __m512 a = _mm512_set1_ps(-FLT_MAX);
        __m512 bv = _mm512_maskz_loadu_ps(m, x + first);
        __m512i bo = _mm512_set1_epi32(first);
        for (long iy = y0; iy < y1; iy++)
            for (long ix = x0; ix < x1; ix++) {
                int off = (int)((iy * w + ix) * c + j);
                __m512 v = _mm512_maskz_loadu_ps(m, x + off);
                a = _mm512_max_ps(v, a);
                __mmask16 gt = _mm512_mask_cmp_ps_mask(m, v, bv, _CMP_GT_OQ);
                bv = _mm512_mask_mov_ps(bv, gt, v);
                bo = _mm512_mask_mov_epi32(bo, gt, _mm512_set1_epi32(off));
            }
        _mm512_mask_storeu_ps(y + j, m, a);
        _mm512_mask_storeu_epi32(arg + j, m, _mm512_add_epi32(bo, lane));
    }
}

/* The same 8 channels at a time; the channels left over one by one. */
__attribute__((target("avx2")))
static void window_arg_y(const float *x, long w, long c, long y0, long y1, long x0, long x1,
                         float *y, int32_t *arg)
{
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    long full = c / 8 * 8;
    for (long j = 0; j < full; j += 8) {
        int first = (int)((y0 * w + x0) * c + j);
        __m256 a = _mm256_set1_ps(-FLT_MAX);
        __m256 bv = _mm256_loadu_ps(x + first);
        __m256 bo = _mm256_castsi256_ps(_mm256_set1_epi32(first));
        for (long iy = y0; iy < y1; iy++)
            for (long ix = x0; ix < x1; ix++) {
                int off = (int)((iy * w + ix) * c + j);
                __m256 v = _mm256_loadu_ps(x + off);
                a = _mm256_max_ps(v, a);
                __m256 gt = _mm256_cmp_ps(v, bv, _CMP_GT_OQ);
                bv = _mm256_blendv_ps(bv, v, gt);
                bo = _mm256_blendv_ps(bo, _mm256_castsi256_ps(_mm256_set1_epi32(off)), gt);
            }
        _mm256_storeu_ps(y + j, a);
        _mm256_storeu_si256((__m256i *)(void *)(arg + j),
                            _mm256_add_epi32(_mm256_castps_si256(bo), lane));
    }
    window_arg_c(x, w, c, y0, y1, x0, x1, full, c, y, arg);
}
#endif

/* Output rows [b, e) of the batch, numbered image by image. */
static void pool_range(void *ctx, long b, long e, int tid)
{
    (void)tid;
    const pool_job *j = ctx;
    const pool_state *st = j->st;
    long h = j->h, w = j->w, c = j->c, oh = j->oh, ow = j->ow;
    int max = st->max;
    window_fn win = NULL;
    window_arg_fn warg = window_arg_all_c;
#ifdef POOL_X86
    if (j->isa == SQ_ISA_AVX512) {
        win = window_z;
        warg = window_arg_z;
    } else if (j->isa == SQ_ISA_AVX2) {
        win = window_y;
        warg = window_arg_y;
    }
#endif
    for (long u = b; u < e; u++) {
        if (j->intr && *j->intr)
            return;  /* the caller throws the output away */
        long img = u / oh, oy = u % oh;
        const float *x = j->in + (size_t)img * (size_t)(h * w * c);
        float *y = j->out + ((size_t)img * (size_t)oh + (size_t)oy) * (size_t)(ow * c);
        long y0 = oy * st->s[0] - j->pt, y1 = y0 + st->k[0];
        if (y0 < 0)
            y0 = 0;
        if (y1 > h)
            y1 = h;
        for (long ox = 0; ox < ow; ox++, y += c) {
            /* a huge window can take long even for one row of output */
            if (j->intr && *j->intr)
                return;
            long x0 = ox * st->s[1] - j->pl, x1 = x0 + st->k[1];
            if (x0 < 0)
                x0 = 0;
            if (x1 > w)
                x1 = w;
            if (j->arg) {
                warg(x, w, c, y0, y1, x0, x1, y, j->arg + (y - j->out));
                continue;
            }
            if (win) {
                win(x, w, c, y0, y1, x0, x1, max, y);
                continue;
            }
            for (long k = 0; k < c; k++)
                y[k] = max ? -FLT_MAX : 0.0f;
            for (long iy = y0; iy < y1; iy++) {
                for (long ix = x0; ix < x1; ix++) {
                    const float *src = x + (iy * w + ix) * c;
                    if (max) {
                        for (long k = 0; k < c; k++)
                            y[k] = src[k] > y[k] ? src[k] : y[k];
                    } else {
                        for (long k = 0; k < c; k++)
                            y[k] += src[k];
                    }
                }
            }
            long cells = (y1 - y0) * (x1 - x0);
            if (!max && cells > 0) {
                float inv = 1.0f / (float)cells;
                for (long k = 0; k < c; k++)
                    y[k] *= inv;
            }
        }
    }
}

static void forward(const sq_layer *l, const sq_fwd *f)
{
    const pool_state *st = l->state;
    const sq_shape *is = f->in_shape, *os = f->out_shape;
    pool_job j = { st, is->d[1], is->d[2], is->d[3], os->d[1], os->d[2], 0, 0, f->in, f->out,
                   sq_isa_active(), f->intr,
                   f->cache && saves_positions(st, is) ? (int32_t *)(void *)f->cache : NULL };
    j.pt = sq_pad_before(j.h, j.oh, st->k[0], st->s[0], st->same);
    j.pl = sq_pad_before(j.w, j.ow, st->k[1], st->s[1], st->same);
    /* shares of at least ~32k window reads (~10 us: the first pooling of
     * W1 at batch 1, 40 rows, is shared by two threads) */
    long row = j.ow * st->k[0] * st->k[1] * j.c + 1;
    sq_parallel_for(is->d[0] * j.oh, (1L << 15) / row + 1, pool_range, &j);
}

/* The gradient of one window: dy (c values) onto dx, for the window of
 * rows [y0, y1) and cols [x0, x1) of image x. */
typedef void (*grad_fn)(const float *x, float *dx, const float *dy, long w, long c, long y0,
                        long y1, long x0, long x1, int max, int disjoint);

/* Channels [j0, j1) of one window, one at a time. */
static void grad_chans(const float *x, float *dx, const float *dy, long w, long c, long y0,
                       long y1, long x0, long x1, int max, long j0, long j1)
{
    long cells = (y1 - y0) * (x1 - x0);
    if (cells <= 0)
        return;
    if (!max) {
        float inv = 1.0f / (float)cells;
        for (long iy = y0; iy < y1; iy++)
            for (long ix = x0; ix < x1; ix++) {
                float *d = dx + (iy * w + ix) * c;
                for (long j = j0; j < j1; j++)
                    d[j] += dy[j] * inv;
            }
        return;
    }
    for (long j = j0; j < j1; j++) {
        long best = (y0 * w + x0) * c + j;
        float bv = x[best];
        for (long iy = y0; iy < y1; iy++)
            for (long ix = x0; ix < x1; ix++) {
                long at = (iy * w + ix) * c + j;
                if (x[at] > bv) {
                    bv = x[at];
                    best = at;
                }
            }
        dx[best] += dy[j];
    }
}

static void grad_c(const float *x, float *dx, const float *dy, long w, long c, long y0,
                   long y1, long x0, long x1, int max, int disjoint)
{
    (void)disjoint;
    grad_chans(x, dx, dy, w, c, y0, y1, x0, x1, max, 0, c);
}

#ifdef POOL_X86
/* 16 channels at a time: the first maximum of each channel in scan order
 * (a later cell wins only when strictly greater, so NaN never does), then
 * dy added at the winners. Offsets are int32: images below 2^31 floats. */
__attribute__((target("avx512f")))
static void grad_z(const float *x, float *dx, const float *dy, long w, long c, long y0,
                   long y1, long x0, long x1, int max, int disjoint)
{
    long cells = (y1 - y0) * (x1 - x0);
    if (cells <= 0)
        return;
    __m512 inv = _mm512_set1_ps(1.0f / (float)cells);
    for (long j = 0; j < c; j += 16) {
        int nl = c - j < 16 ? (int)(c - j) : 16;
        __mmask16 m = (__mmask16)((1u << nl) - 1);
        if (!max) {
            __m512 g = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, dy + j), inv);
            for (long iy = y0; iy < y1; iy++)
                for (long ix = x0; ix < x1; ix++) {
                    float *d = dx + (iy * w + ix) * c + j;
                    _mm512_mask_storeu_ps(d, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, d), g));
                }
            continue;
        }
        int first = (int)((y0 * w + x0) * c);
        __m512 bv = _mm512_maskz_loadu_ps(m, x + first + j);
        __m512i bo = _mm512_set1_epi32(first);
        for (long iy = y0; iy < y1; iy++)
            for (long ix = x0; ix < x1; ix++) {
                int off = (int)((iy * w + ix) * c);
                __m512 v = _mm512_maskz_loadu_ps(m, x + off + j);
                __mmask16 gt = _mm512_mask_cmp_ps_mask(m, v, bv, _CMP_GT_OQ);
                bv = _mm512_mask_mov_ps(bv, gt, v);
                bo = _mm512_mask_mov_epi32(bo, gt, _mm512_set1_epi32(off));
            }
        if (disjoint) {
            /* no other window adds to these cells: store 0 + dy at the
             * winners (the zeros elsewhere are there already) */
            __m512 g = _mm512_add_ps(_mm512_setzero_ps(), _mm512_maskz_loadu_ps(m, dy + j));
            for (long iy = y0; iy < y1; iy++)
                for (long ix = x0; ix < x1; ix++) {
                    int off = (int)((iy * w + ix) * c);
                    __mmask16 win = _mm512_mask_cmpeq_epi32_mask(m, bo, _mm512_set1_epi32(off));
                    _mm512_mask_storeu_ps(dx + off + j, win, g);
                }
            continue;
        }
        int offs[16];
        _mm512_storeu_si512((void *)offs, bo);
        for (int q = 0; q < nl; q++)
            dx[offs[q] + j + q] += dy[j + q];
    }
}

__attribute__((target("avx2")))
static void grad_y(const float *x, float *dx, const float *dy, long w, long c, long y0,
                   long y1, long x0, long x1, int max, int disjoint)
{
    (void)disjoint;
    long cells = (y1 - y0) * (x1 - x0);
    if (cells <= 0)
        return;
    long full = c / 8 * 8;
    __m256 inv = _mm256_set1_ps(1.0f / (float)cells);
    for (long j = 0; j < full; j += 8) {
        if (!max) {
            __m256 g = _mm256_mul_ps(_mm256_loadu_ps(dy + j), inv);
            for (long iy = y0; iy < y1; iy++)
                for (long ix = x0; ix < x1; ix++) {
                    float *d = dx + (iy * w + ix) * c + j;
                    _mm256_storeu_ps(d, _mm256_add_ps(_mm256_loadu_ps(d), g));
                }
            continue;
        }
        int first = (int)((y0 * w + x0) * c);
        __m256 bv = _mm256_loadu_ps(x + first + j);
        __m256 bo = _mm256_castsi256_ps(_mm256_set1_epi32(first));
        for (long iy = y0; iy < y1; iy++)
            for (long ix = x0; ix < x1; ix++) {
                int off = (int)((iy * w + ix) * c);
                __m256 v = _mm256_loadu_ps(x + off + j);
                __m256 gt = _mm256_cmp_ps(v, bv, _CMP_GT_OQ);
                bv = _mm256_blendv_ps(bv, v, gt);
                bo = _mm256_blendv_ps(bo, _mm256_castsi256_ps(_mm256_set1_epi32(off)), gt);
            }
        int offs[8];
        _mm256_storeu_si256((__m256i *)(void *)offs, _mm256_castps_si256(bo));
        for (int q = 0; q < 8; q++)
            dx[offs[q] + j + q] += dy[j + q];
    }
    grad_chans(x, dx, dy, w, c, y0, y1, x0, x1, max, full, c);
}
#endif

typedef struct {
    const pool_state *st;
    const sq_bwd *b;
    long h, w, c, oh, ow, pt, pl;
    grad_fn grad;
} grad_job;

/* Images [b, e): their windows never overlap another image's cells. */
static void grad_range(void *ctx, long b, long e, int tid)
{
    (void)tid;
    const grad_job *j = ctx;
    const pool_state *st = j->st;
    long h = j->h, w = j->w, c = j->c;
    size_t img = (size_t)(h * w * c);
    int disjoint = st->s[0] >= st->k[0] && st->s[1] >= st->k[1];
    for (long bi = b; bi < e; bi++) {
        const float *x = j->b->in + (size_t)bi * img;
        float *dx = j->b->din + (size_t)bi * img;
        const float *dy = j->b->dout + (size_t)bi * (size_t)(j->oh * j->ow * c);
        memset(dx, 0, img * sizeof *dx);
        for (long oy = 0; oy < j->oh; oy++) {
            long y0 = oy * st->s[0] - j->pt, y1 = y0 + st->k[0];
            if (y0 < 0)
                y0 = 0;
            if (y1 > h)
                y1 = h;
            for (long ox = 0; ox < j->ow; ox++, dy += c) {
                long x0 = ox * st->s[1] - j->pl, x1 = x0 + st->k[1];
                if (x0 < 0)
                    x0 = 0;
                if (x1 > w)
                    x1 = w;
                j->grad(x, dx, dy, w, c, y0, y1, x0, x1, st->max, disjoint);
            }
        }
        if (j->b->relu_din)
            for (size_t k = 0; k < img; k++)
                if (!(x[k] > 0))
                    dx[k] = 0;
    }
}

#ifdef POOL_X86
/* One image's gradient when the windows tile it without overlap (strides
 * = pool size, every window inside): each cell of each window gets its output's
 * gradient if it is the saved position, else 0, so dx is written once;
 * the rows and cols no window covers get 0. */
__attribute__((target("avx512f")))
static void tiles_z(const grad_job *j, const float *dy, const int32_t *at, const float *y,
                    float *dx)
{
    const pool_state *st = j->st;
    long w = j->w, c = j->c, kh = st->k[0], kw = st->k[1];
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    for (long oy = 0; oy < j->oh; oy++) {
        for (long ox = 0; ox < j->ow; ox++, dy += c, at += c, y = y ? y + c : NULL) {
            long corner = ((oy * kh) * w + ox * kw) * c;
            for (long q = 0; q < c; q += 16) {
                __mmask16 m = c - q >= 16 ? (__mmask16)0xffff
                                          : (__mmask16)((1u << (c - q)) - 1);
                /* the saved positions, relative to this window's corner */
                __m512i pos = _mm512_sub_epi32(_mm512_maskz_loadu_epi32(m, at + q),
                                               _mm512_set1_epi32((int)(corner + q)));
                __m512 g = _mm512_maskz_loadu_ps(m, dy + q);
                if (y)
                    g = _mm512_maskz_mov_ps(_mm512_mask_cmp_ps_mask(m, _mm512_maskz_loadu_ps(m, y + q),
                                                                    _mm512_setzero_ps(), _CMP_GT_OQ), g);
                for (long ky = 0; ky < kh; ky++)
                    for (long kx = 0; kx < kw; kx++) {
                        long cell = (ky * w + kx) * c;
                        __mmask16 win = _mm512_cmpeq_epi32_mask(
                            pos, _mm512_add_epi32(_mm512_set1_epi32((int)cell), lane));
                        _mm512_mask_storeu_ps(dx + corner + cell + q, m, _mm512_maskz_mov_ps(win, g));
                    }
            }
            long right = j->ow * kw;
            if (ox == j->ow - 1 && right < w)
                for (long ky = 0; ky < kh; ky++)
                    memset(dx + ((oy * kh + ky) * w + right) * c, 0,
                           (size_t)((w - right) * c) * sizeof *dx);
        }
    }
    long below = j->oh * kh;
    if (below < j->h)
        memset(dx + below * w * c, 0, (size_t)((j->h - below) * w * c) * sizeof *dx);
}
#endif

/* Images [b, e) of max pooling's gradient through the saved positions. */
static void scatter_range(void *ctx, long b, long e, int tid)
{
    (void)tid;
    const grad_job *j = ctx;
    const pool_state *st = j->st;
    size_t img = (size_t)(j->h * j->w * j->c), per = (size_t)(j->oh * j->ow * j->c);
    const int32_t *arg = (const int32_t *)(const void *)j->b->cache;
#ifdef POOL_X86
    int tiles = sq_isa_active() == SQ_ISA_AVX512 && st->s[0] == st->k[0]
                && st->s[1] == st->k[1] && j->pt == 0 && j->pl == 0
                && j->oh * st->k[0] <= j->h && j->ow * st->k[1] <= j->w;
#endif
    for (long bi = b; bi < e; bi++) {
        float *dx = j->b->din + (size_t)bi * img;
        const float *dy = j->b->dout + (size_t)bi * per;
        const int32_t *at = arg + (size_t)bi * per;
        /* with relu below: the gradient only where the maximum is positive */
        const float *y = j->b->relu_din ? j->b->out + (size_t)bi * per : NULL;
#ifdef POOL_X86
        if (tiles) {
            tiles_z(j, dy, at, y, dx);
            continue;
        }
#else
        (void)st;
#endif
        memset(dx, 0, img * sizeof *dx);
        for (size_t k = 0; k < per; k++)
            if (!y || y[k] > 0)
                dx[at[k]] += dy[k];
    }
}

/* Max: each output's gradient goes to the cell that won its window, the
 * first maximum in scan order (rows, then cols), as TensorFlow's MaxPoolGrad
 * routes it; padded cells are outside the clipped window and never win.
 * While training the forward saved those cells; without them (an image of
 * 2^31 floats or more) the windows are searched again. Average: each
 * output's gradient is shared equally by the real cells of its window.
 * Overlapping windows add up. */
static void backward(const sq_layer *l, const sq_bwd *b)
{
    const pool_state *st = l->state;
    if (!b->din)
        return;
    const sq_shape *is = b->in_shape, *os = b->out_shape;
    if (b->cache && saves_positions(st, is)) {
        grad_job j = { st, b, is->d[1], is->d[2], is->d[3], os->d[1], os->d[2], 0, 0, NULL };
        j.pt = sq_pad_before(j.h, j.oh, st->k[0], st->s[0], st->same);
        j.pl = sq_pad_before(j.w, j.ow, st->k[1], st->s[1], st->same);
        long per = j.h * j.w * j.c + 1;
        sq_parallel_for(is->d[0], (1L << 16) / per + 1, scatter_range, &j);
        return;
    }
    grad_job j = { st, b, is->d[1], is->d[2], is->d[3], os->d[1], os->d[2], 0, 0, grad_c };
    j.pt = sq_pad_before(j.h, j.oh, st->k[0], st->s[0], st->same);
    j.pl = sq_pad_before(j.w, j.ow, st->k[1], st->s[1], st->same);
#ifdef POOL_X86
    sq_isa isa = sq_isa_active();
    if ((double)j.h * (double)j.w * (double)j.c < 2147483647.0) {
        if (isa == SQ_ISA_AVX512)
            j.grad = grad_z;
        else if (isa == SQ_ISA_AVX2)
            j.grad = grad_y;
    }
#endif
    long per = j.h * j.w * j.c + 1;
    sq_parallel_for(is->d[0], (1L << 16) / per + 1, grad_range, &j);
}

/* Max pooling keeps one int32 position per output value (saves_positions). */
static size_t cache_max(const sq_layer *l, const sq_shape *in)
{
    sq_shape out;
    sq_error ignored;
    if (output_shape(l, in, &out, &ignored) < 0)
        return 0;
    return saves_positions(l->state, in) ? sq_shape_count(&out) : 0;
}

/* Windows over rows and cols; each channel pooled on its own. */
static void explain(const sq_layer *l, const sq_shape *in, const sq_shape *out, sbuf *b)
{
    const pool_state *st = l->state;
    static const char *const axis[2] = { "rows", "cols" };
    for (int a = 0; a < 2; a++)
        sq_explain_window(b, axis[a], in->d[1 + a], st->k[a], st->s[a], 1, st->same,
                          out->d[1 + a]);
    sq_explain_line(b, "channels", "%ld = %ld  (each channel pooled on its own: the %s of "
                    "each %ldx%ld window)", out->d[3], in->d[3], st->max ? "maximum" : "mean",
                    st->k[0], st->k[1]);
    sq_explain_no_params(b);
}

static const char *const max_aliases[] = { "MaxPool2D", NULL };
static const char *const avg_aliases[] = { "AvgPool2D", NULL };

const sq_layer_kind sq_kind_max_pooling2d = {
    .class_name = "MaxPooling2D",
    .base_name = "max_pooling2d",
    .aliases = max_aliases,
    .opts = opts,
    .npositional = 3,
    .has_activation = 0,
    .summary = "maximum over (rows, cols) windows of (batch, rows, cols, channels) inputs",
    .state_size = sizeof(pool_state),
    .configure = configure_max,
    .output_shape = output_shape,
    .forward = forward,
    .cache = cache_max,
    .backward = backward,
    .shape_rule = "(B, H, W, C) -> (B, H', W', C); valid: H' = floor((H - k)/s) + 1, same: H' = ceil(H/s)",
    .example = "input 8 8 3; add maxpooling2d 2",
    .explain = explain,
    .relu_below = 1,
    .per_sample = 1,
};

const sq_layer_kind sq_kind_average_pooling2d = {
    .class_name = "AveragePooling2D",
    .base_name = "average_pooling2d",
    .aliases = avg_aliases,
    .opts = opts,
    .npositional = 3,
    .has_activation = 0,
    .summary = "mean over (rows, cols) windows of (batch, rows, cols, channels) inputs",
    .state_size = sizeof(pool_state),
    .configure = configure_avg,
    .output_shape = output_shape,
    .forward = forward,
    .backward = backward,
    .shape_rule = "(B, H, W, C) -> (B, H', W', C); valid: H' = floor((H - k)/s) + 1, same: H' = ceil(H/s)",
    .example = "input 9 9 2; add averagepooling2d 3 strides=2",
    .explain = explain,
    .per_sample = 1,
};
