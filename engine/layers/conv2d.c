/* conv2d.c - Conv2D (channels_last), TensorFlow's SAME padding. Forward
 * runs the direct kernels of conv_kernels.c (bias and relu fused) over
 * output rows shared by the thread pool, or for 3x3 kernels with unit
 * strides and enough channels Winograd's F(4x4, 3x3) (winograd.c) over
 * the batch's 4x4 tiles, as does the input gradient; without a vector unit it falls
 * back to im2col of each image into scratch and one GEMM against the
 * (kh*kw*C) x F kernel, which backward uses too. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include "layers/layer.h"
#include "layers/spatial2d.h"
#include "kernels/blas.h"
#include "kernels/conv_kernels.h"
#include "kernels/threads.h"
#include "kernels/winograd.h"

#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
#include <immintrin.h>
#endif

typedef struct {
    long filters;
    long k[2];        /* kernel rows, cols */
    long s[2];        /* strides */
    long d[2];        /* dilation rates */
    int same;         /* padding="same" */
    int use_bias;
    int fwd_threads;  /* threads scratch made room for */
    int bwd_threads;  /* threads scratch_bwd made room for: groups of images */
    long bwd_group;   /* ... of at most this many images each */
    int dx_threads;   /* ... and rows of the direct input gradient */
} conv2d_state;

static const sq_optdef opts[] = {
    { .name = "filters", .type = OPT_INT, .help = "number of output channels" },
    { .name = "kernel_size", .type = OPT_INTS, .tuple_len = 2, .help = "window size: 3 or (3, 5)" },
    { .name = "strides", .type = OPT_INTS, .tuple_len = 2, .def = "1", .help = "step between windows: 1 or (2, 1)" },
    { .name = "padding", .type = OPT_STR, .def = "valid", .help = "valid (no padding) or same (output = ceil(input / stride))" },
    { .name = "dilation_rate", .type = OPT_INTS, .tuple_len = 2, .def = "1", .help = "spacing between kernel taps" },
    { .name = "use_bias", .type = OPT_BOOL, .def = "true", .help = "whether the layer uses a bias vector" },
    { .name = NULL },
};

static int configure(sq_layer *l, const sq_optval *v, sq_error *err)
{
    conv2d_state *st = l->state;
    st->filters = v[0].i[0];
    memcpy(st->k, v[1].i, sizeof st->k);
    memcpy(st->s, v[2].i, sizeof st->s);
    memcpy(st->d, v[4].i, sizeof st->d);
    st->use_bias = (int)v[5].i[0];
    /* Keras's order: filters, padding, then _validate_init's checks */
    return sq_conv_validate(st->filters, st->k, st->s, st->d, v[3].s, &st->same, err);
}

/* TensorFlow's shape-inference error for a window larger than its input:
 * its first sentence (people search for it), then what the user can do,
 * instead of the graph node TensorFlow prints. */
static int fail_negative(sq_error *err, const sq_layer *l, const conv2d_state *st,
                         const sq_shape *in, int axis)
{
    char s[128];
    long dk = st->k[axis] + (st->k[axis] - 1) * (st->d[axis] - 1);
    sq_shape_str(in, s, sizeof s);
    if (st->d[0] > 1 || st->d[1] > 1)
        return sq_fail(err, "Negative dimension size caused by subtracting %ld from %ld: the "
                       "%ldx%ld kernel of %s (Conv2D), with dilation_rate=(%ld, %ld), spans "
                       "%ld, more than its input %s has; use a smaller kernel_size or "
                       "dilation_rate, or padding=same", dk, in->d[1 + axis], st->k[0],
                       st->k[1], l->name, st->d[0], st->d[1], dk, s);
    return sq_fail(err, "Negative dimension size caused by subtracting %ld from %ld: the "
                   "%ldx%ld kernel of %s (Conv2D) does not fit in its input %s; use a smaller "
                   "kernel_size, or padding=same", dk, in->d[1 + axis], st->k[0], st->k[1],
                   l->name, s);
}

static int output_shape(const sq_layer *l, const sq_shape *in, sq_shape *out,
                        sq_error *err)
{
    const conv2d_state *st = l->state;
    char s[128];
    if (in->rank < 4)
        return sq_fail_min_ndim(err, l, 4, in);
    if (in->rank > 4)
        return sq_fail(err, "Input 0 of layer %s: Conv2D in seqsh takes inputs of rank 4 "
                       "(batch, rows, cols, channels) only, found ndim=%d. Full shape "
                       "received: %s", l->name, in->rank, sq_shape_str(in, s, sizeof s));
    if (in->d[3] < 0)
        return sq_fail(err, "The channel dimension of the inputs should be defined. The "
                       "input_shape received is %s, where axis -1 (0-based) is the channel "
                       "dimension, which found to be `None`.", sq_shape_str(in, s, sizeof s));
    *out = *in;
    for (int a = 0; a < 2; a++) {
        out->d[1 + a] = sq_conv_len(in->d[1 + a], st->k[a], st->same, st->s[a], st->d[a]);
        if (in->d[1 + a] >= 0 && out->d[1 + a] <= 0)
            return fail_negative(err, l, st, in, a);
    }
    out->d[3] = st->filters;
    return 0;
}

static int weights(const sq_layer *l, const sq_shape *in, sq_weight_spec *w)
{
    const conv2d_state *st = l->state;
    w[0] = (sq_weight_spec){ "kernel", { 4, { st->k[0], st->k[1], in->d[3], st->filters } },
                             INIT_GLOROT_UNIFORM, 1 };
    if (!st->use_bias)
        return 1;
    w[1] = (sq_weight_spec){ "bias", { 1, { st->filters } }, INIT_ZEROS, 1 };
    return 2;
}

/* A 1x1 kernel with unit strides and valid padding reads every pixel once:
 * the input itself is the im2col matrix. */
static int is_pointwise(const conv2d_state *st)
{
    return st->k[0] == 1 && st->k[1] == 1 && st->s[0] == 1 && st->s[1] == 1 && !st->same;
}

/* One image's im2col matrix: (oh*ow) rows of kh*kw*C values. */
static size_t im2col_size(const sq_layer *l, const sq_shape *in)
{
    const conv2d_state *st = l->state;
    if (is_pointwise(st))
        return 0;
    long oh = sq_conv_len(in->d[1], st->k[0], st->same, st->s[0], st->d[0]);
    long ow = sq_conv_len(in->d[2], st->k[1], st->same, st->s[1], st->d[1]);
    return (size_t)oh * (size_t)ow * (size_t)(st->k[0] * st->k[1] * in->d[3]);
}

/* The direct kernels' description of this layer on input shape `in`
 * (weights at w, which may be NULL for sizing). */
static sq_conv_desc describe(const conv2d_state *st, const sq_shape *in, const float *w)
{
    sq_conv_desc d = {
        .h = in->d[1], .w = in->d[2], .c = in->d[3], .f = st->filters,
        .kh = st->k[0], .kw = st->k[1], .sh = st->s[0], .sw = st->s[1],
        .dh = st->d[0], .dw = st->d[1], .kernel = w,
    };
    d.oh = sq_conv_len(d.h, d.kh, st->same, d.sh, d.dh);
    d.ow = sq_conv_len(d.w, d.kw, st->same, d.sw, d.dw);
    d.pt = sq_pad_before(d.h, d.oh, d.kh + (d.kh - 1) * (d.dh - 1), d.sh, st->same);
    d.pl = sq_pad_before(d.w, d.ow, d.kw + (d.kw - 1) * (d.dw - 1), d.sw, st->same);
    d.bias = st->use_bias && w ? w + d.kh * d.kw * d.c * d.f : NULL;
    return d;
}

/* Winograd's transformed kernel up to this many floats (512 KB) is made by
 * each thread for itself, when several share the work: read from another
 * core's cache, it cost more than making it (W1's 38x38 layers ran slower
 * on two threads than on one). */
#define WINO_OWN_U 131072

static int wino_own_u(const sq_conv_desc *d, int nt)
{
    return nt > 1 && sq_wino_scratch(d) <= WINO_OWN_U;
}

/* Floats run_conv needs for d on nt threads: Winograd's transformed
 * kernel (one, or one per thread) and work space per thread, or the direct
 * kernels' repacked panel of filters and row buffer per thread. */
static size_t conv_scratch(const sq_conv_desc *d, int nt)
{
    if (sq_wino_fits(sq_isa_active(), d))
        return wino_own_u(d, nt) ? (size_t)nt * (sq_wino_scratch(d) + sq_wino_work(d))
                                 : sq_wino_scratch(d) + (size_t)nt * sq_wino_work(d);
    return sq_conv_scratch(d->kh, d->kw, d->c) + (size_t)nt * sq_conv_rowbuf(d);
}

/* The direct kernels need room for one repacked panel of filters and a row
 * buffer per thread (or Winograd's room); the fallback, an im2col matrix. */
static size_t scratch(const sq_layer *l, const sq_shape *in)
{
    conv2d_state *st = l->state;
    if (sq_isa_active() == SQ_ISA_C)
        return im2col_size(l, in);
    sq_conv_desc d = describe(st, in, NULL);
    st->fwd_threads = sq_pool_threads_for(in->d[0] * d.oh);
    return conv_scratch(&d, st->fwd_threads);
}

static void im2col(const conv2d_state *st, const float *x, long h, long w, long c,
                   long oh, long ow, long pt, long pl, float *col)
{
    long kh = st->k[0], kw = st->k[1];
    for (long oy = 0; oy < oh; oy++) {
        for (long ox = 0; ox < ow; ox++) {
            float *row = col + (oy * ow + ox) * kh * kw * c;
            long ix0 = ox * st->s[1] - pl, ix1 = ix0 + (kw - 1) * st->d[1];
            int inside = ix0 >= 0 && ix1 < w && st->d[1] == 1;
            for (long ky = 0; ky < kh; ky++) {
                long iy = oy * st->s[0] - pt + ky * st->d[0];
                float *dst = row + ky * kw * c;
                if (iy < 0 || iy >= h) {
                    memset(dst, 0, (size_t)(kw * c) * sizeof *dst);
                    continue;
                }
                if (inside) {
                    /* the taps of this row are kw*c consecutive floats */
                    memcpy(dst, x + (iy * w + ix0) * c, (size_t)(kw * c) * sizeof *dst);
                    continue;
                }
                for (long kx = 0; kx < kw; kx++, dst += c) {
                    long ix = ix0 + kx * st->d[1];
                    if (ix < 0 || ix >= w)
                        memset(dst, 0, (size_t)c * sizeof *dst);
                    else
                        memcpy(dst, x + (iy * w + ix) * c, (size_t)c * sizeof *dst);
                }
            }
        }
    }
}

/* One convolution's job. bufs: one region per thread, buf floats each:
 * the direct kernels' row buffer, or Winograd's work space, after the
 * thread's own transformed kernel when own_u (made on its first tiles). */
typedef struct {
    sq_isa isa;
    const sq_conv_desc *d;
    const float *u;              /* Winograd's shared transformed kernel (not own_u) */
    const float *in;
    float *out;
    float *bufs;
    size_t buf;
    int own_u;
    volatile int *intr;
    int ready[SQ_MAX_THREADS];   /* with own_u: the thread's transform is made */
} conv_job;

/* Output rows [r0, r1) of image img. */
static void conv_rows_of(void *ctx, long img, long r0, long r1, int tid)
{
    const conv_job *j = ctx;
    const sq_conv_desc *d = j->d;
    size_t in_img = (size_t)(d->h * d->w * d->c), out_img = (size_t)(d->oh * d->ow * d->f);
    sq_conv_rows(j->isa, d, j->in + (size_t)img * in_img, j->out + (size_t)img * out_img, r0,
                 r1, j->buf ? j->bufs + (size_t)tid * j->buf : NULL);
}

/* Winograd's tiles [t0, t1) of the batch. */
static void conv_tiles_of(void *ctx, long t0, long t1, int tid)
{
    conv_job *j = ctx;
    float *buf = j->bufs + (size_t)tid * j->buf;
    const float *u = j->u;
    if (j->own_u) {
        u = buf;
        if (!j->ready[tid])
            sq_wino_prepare(j->d, buf);   /* inside a job: on this thread alone */
        j->ready[tid] = 1;
        buf += sq_wino_scratch(j->d);
    }
    sq_wino_run(j->d, u, j->in, j->out, t0, t1, buf, j->intr);
}

/* Runs d over nb images, sharing output rows (Winograd's 4x4 tiles of the
 * batch) among at most nt threads, in scratch (conv_scratch(d, nt) floats). */
static void run_conv(sq_isa isa, sq_conv_desc *d, long nb, const float *in, float *out,
                     volatile int *intr, float *scratch, int nt)
{
    /* shares of at least ~2 MFLOP, so waking a thread pays */
    double row_flops = 2.0 * (double)(d->ow * d->f) * (double)(d->kh * d->kw * d->c) + 1.0;
    long min_rows = (long)(2e6 / row_flops) + 1;
    if (sq_wino_fits(isa, d)) {
        size_t us = sq_wino_scratch(d);
        int own = wino_own_u(d, nt);
        if (!own)
            sq_wino_prepare(d, scratch);
        conv_job job = { isa, d, own ? NULL : scratch, in, out, own ? scratch : scratch + us,
                         (own ? us : 0) + sq_wino_work(d), own, intr, { 0 } };
        /* shares of ~2 MFLOP in whole rows of tiles (4 output rows each),
         * at least 12 tiles (two blocks of the product kernel's rows); the
         * last claims down to 6 tiles (one block), so that the threads
         * finish together */
        long min_tiles = (min_rows + 3) / 4 * ((d->ow + 3) / 4);
        if (min_tiles < 12)
            min_tiles = 12;
        sq_parallel_for_tail(nb * sq_wino_tiles(d), min_tiles, 6, nt, conv_tiles_of, &job);
        return;
    }
    sq_conv_prepare(isa, d, scratch);
    conv_job job = { isa, d, NULL, in, out, scratch + sq_conv_scratch(d->kh, d->kw, d->c),
                     sq_conv_rowbuf(d), 0, intr, { 0 } };
    sq_parallel_image_rows(nb, d->oh, min_rows, nt, intr, conv_rows_of, &job);
}

static void forward_direct(const sq_layer *l, const sq_fwd *f, sq_isa isa)
{
    const conv2d_state *st = l->state;
    long nb = f->in_shape->d[0];
    sq_conv_desc d = describe(st, f->in_shape, f->w);
    if (f->act_done && l->act && l->act == sq_activation_find("relu")) {
        d.relu = 1;
        *f->act_done = 1;
    }
    if (nb * d.oh * d.ow == 0)
        return;
    run_conv(isa, &d, nb, f->in, f->out, f->intr, f->scratch, st->fwd_threads);
}

static void forward(const sq_layer *l, const sq_fwd *f)
{
    const conv2d_state *st = l->state;
    if (f->intr && *f->intr)
        return;
    sq_isa isa = sq_isa_active();
    if (isa != SQ_ISA_C) {
        forward_direct(l, f, isa);
        return;
    }
    const sq_shape *is = f->in_shape, *os = f->out_shape;
    long nb = is->d[0], h = is->d[1], w = is->d[2], c = is->d[3];
    long oh = os->d[1], ow = os->d[2], nf = st->filters;
    long kdim = st->k[0] * st->k[1] * c;
    const float *kernel = f->w;
    size_t npix = (size_t)oh * (size_t)ow;
    if (st->use_bias) {
        const float *bias = f->w + kdim * nf;
        size_t rows = (size_t)nb * npix;
        for (size_t r = 0; r < rows; r++)
            for (long j = 0; j < nf; j++)
                f->out[r * (size_t)nf + (size_t)j] = bias[j];
    }
    float beta = st->use_bias ? 1.0f : 0.0f;
    if (is_pointwise(st)) {
        sq_gemm(0, 0, (int)((size_t)nb * npix), (int)nf, (int)c, 1.0f, f->in, (int)c,
                kernel, (int)nf, beta, f->out, (int)nf);
        return;
    }
    long pt = sq_pad_before(h, oh, st->k[0] + (st->k[0] - 1) * (st->d[0] - 1), st->s[0], st->same);
    long pl = sq_pad_before(w, ow, st->k[1] + (st->k[1] - 1) * (st->d[1] - 1), st->s[1], st->same);
    for (long b = 0; b < nb && !(f->intr && *f->intr); b++) {
        const float *x = f->in + (size_t)b * (size_t)(h * w * c);
        float *y = f->out + (size_t)b * npix * (size_t)nf;
        im2col(st, x, h, w, c, oh, ow, pt, pl, f->scratch);
        sq_gemm(0, 0, (int)npix, (int)nf, (int)kdim, 1.0f, f->scratch, (int)kdim,
                kernel, (int)nf, beta, y, (int)nf);
    }
}

/* Backward works on groups of consecutive images, the groups shared by the
 * threads: a thread copies its group's windows into one im2col matrix and
 * makes its partial kernel gradient with one GEMM over all of them (K =
 * the group's output pixels), so a batch takes one GEMM per thread, not one
 * per image; the partials and bias sums are added up at the end. With unit
 * strides and a vector unit the input gradient is itself a convolution (of
 * dout, by the kernel flipped and with C and F swapped), run by the direct
 * kernels; otherwise it is dout . K^T for the group, scattered back by
 * col2im. */
#define BWD_GROUP_FLOATS ((size_t)1 << 22)   /* a group's im2col: at most 16 MiB */

static int direct_dx(const conv2d_state *st)
{
    return st->s[0] == 1 && st->s[1] == 1 && sq_isa_active() != SQ_ISA_C;
}

/* Images per group: a thread's share of nb, within BWD_GROUP_FLOATS. */
static long group_for(const sq_layer *l, const sq_shape *in, long nb, int nt)
{
    size_t per = im2col_size(l, in);
    long share = (nb + nt - 1) / (nt > 0 ? nt : 1);
    long cap = per ? (long)(BWD_GROUP_FLOATS / per) : share;
    long g = share < cap ? share : cap;
    return g > 0 ? g : 1;
}

/* Per thread: an im2col matrix for a group, the partial kernel gradient
 * and the partial bias gradient. */
static size_t bwd_region(const sq_layer *l, const sq_shape *in, long group)
{
    const conv2d_state *st = l->state;
    size_t kdim = (size_t)(st->k[0] * st->k[1] * in->d[3]);
    return (size_t)group * im2col_size(l, in) + kdim * (size_t)st->filters
           + (size_t)st->filters;
}

/* The input gradient as a convolution of dout (oh x ow x F) into the
 * input's shape: unit strides, the same dilations, the kernel flipped with
 * C and F swapped, padding (k - 1) * d - p before. */
static sq_conv_desc describe_dx(const conv2d_state *st, const sq_shape *in, const float *wt)
{
    sq_conv_desc f = describe(st, in, NULL);
    sq_conv_desc d = {
        .h = f.oh, .w = f.ow, .c = f.f, .oh = f.h, .ow = f.w, .f = f.c,
        .kh = f.kh, .kw = f.kw, .sh = 1, .sw = 1, .dh = f.dh, .dw = f.dw,
        .pt = (f.kh - 1) * f.dh - f.pt, .pl = (f.kw - 1) * f.dw - f.pl, .kernel = wt,
    };
    return d;
}

/* Per thread: an im2col matrix and partial gradients (bwd_region); with
 * direct din also the flipped kernel, its panel and per-thread row buffers. */
/* The kernel gradient straight from the input and dout (conv_dw.c) where
 * the windows need no padding and the input gradient needs no im2col
 * either: no group regions then. */
static int direct_dw(const conv2d_state *st, const sq_shape *in)
{
    sq_conv_desc d = describe(st, in, NULL);
    return direct_dx(st) && sq_conv_dw_direct(sq_isa_active(), &d);
}

/* The kernel gradient by Winograd's transforms where the forward runs
 * them: threads share the images, each adding into its own partial
 * sums (in scratch, with its work space after them). */
static int wino_dw(const conv2d_state *st, const sq_shape *in)
{
    sq_conv_desc d = describe(st, in, NULL);
    return sq_wino_fits(sq_isa_active(), &d);
}

static size_t wino_dw_region(const conv2d_state *st, const sq_shape *in)
{
    sq_conv_desc d = describe(st, in, NULL);
    return sq_wino_dw_partial(&d) + sq_wino_work(&d);
}

/* Floats of the partial kernel and bias gradients backward_dw_direct may
 * need. */
static size_t dw_partials(const sq_layer *l, const sq_shape *in, int nt)
{
    const conv2d_state *st = l->state;
    return (size_t)nt * (size_t)(st->k[0] * st->k[1] * in->d[3] + 1) * (size_t)st->filters;
}

static size_t scratch_bwd(const sq_layer *l, const sq_shape *in)
{
    conv2d_state *st = l->state;
    if (is_pointwise(st))
        return 0;
    st->bwd_threads = sq_pool_threads_for(in->d[0]);
    st->bwd_group = group_for(l, in, in->d[0], st->bwd_threads);
    /* Winograd's or the direct kernel gradient's partials, or the groups' regions */
    size_t n = wino_dw(st, in) ? (size_t)st->bwd_threads * wino_dw_region(st, in)
             : direct_dw(st, in) ? dw_partials(l, in, st->bwd_threads)
             : (size_t)st->bwd_threads * bwd_region(l, in, st->bwd_group);
    if (direct_dx(st)) {
        sq_conv_desc d = describe_dx(st, in, NULL);
        st->dx_threads = sq_pool_threads_for(in->d[0] * d.oh);
        n += (size_t)(d.kh * d.kw * d.c * d.f) + conv_scratch(&d, st->dx_threads);
    }
    return n;
}

/* The adjoint of im2col: adds each column entry back onto the input cell it
 * was copied from (padding entries are dropped). x must be zeroed first. */
static void col2im(const conv2d_state *st, const float *col, long h, long w, long c,
                   long oh, long ow, long pt, long pl, float *x)
{
    long kh = st->k[0], kw = st->k[1];
    for (long oy = 0; oy < oh; oy++) {
        for (long ox = 0; ox < ow; ox++) {
            const float *row = col + (oy * ow + ox) * kh * kw * c;
            for (long ky = 0; ky < kh; ky++) {
                long iy = oy * st->s[0] - pt + ky * st->d[0];
                if (iy < 0 || iy >= h)
                    continue;
                const float *src = row + ky * kw * c;
                for (long kx = 0; kx < kw; kx++, src += c) {
                    long ix = ox * st->s[1] - pl + kx * st->d[1];
                    if (ix < 0 || ix >= w)
                        continue;
                    float *dst = x + (iy * w + ix) * c;
                    for (long j = 0; j < c; j++)
                        dst[j] += src[j];
                }
            }
        }
    }
}

/* acc[j] += sum over rows of a[r * n + j] (the bias gradient): row by row,
 * up to 64 columns in registers, so the rows are read once in order. */
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
__attribute__((target("avx512f")))
static void colsum_add_z(const float *a, size_t rows, long n, float *acc)
{
    for (long j = 0; j < n; j += 64) {
        __mmask16 m[4];
        for (int v = 0; v < 4; v++) {
            long left = n - j - 16 * v;
            m[v] = left >= 16 ? (__mmask16)0xffff : left > 0 ? (__mmask16)((1u << left) - 1) : 0;
        }
        __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
        const float *p = a + j;
        for (size_t r = 0; r < rows; r++, p += n) {
            s0 = _mm512_add_ps(s0, _mm512_maskz_loadu_ps(m[0], p));
            s1 = _mm512_add_ps(s1, _mm512_maskz_loadu_ps(m[1], p + 16));
            s2 = _mm512_add_ps(s2, _mm512_maskz_loadu_ps(m[2], p + 32));
            s3 = _mm512_add_ps(s3, _mm512_maskz_loadu_ps(m[3], p + 48));
        }
        __m512 s[4] = { s0, s1, s2, s3 };
        for (int v = 0; v < 4; v++)
            _mm512_mask_storeu_ps(acc + j + 16 * v, m[v],
                                  _mm512_add_ps(_mm512_maskz_loadu_ps(m[v], acc + j + 16 * v), s[v]));
    }
}
#define HAVE_COLSUM_Z 1
#endif

static void colsum_add(const float *a, size_t rows, long n, float *acc)
{
#ifdef HAVE_COLSUM_Z
    if (sq_isa_active() == SQ_ISA_AVX512) {
        colsum_add_z(a, rows, n, acc);
        return;
    }
#endif
    for (size_t r = 0; r < rows; r++)
        for (long j = 0; j < n; j++)
            acc[j] += a[r * (size_t)n + (size_t)j];
}

/* dst[0, n) = the sum of the partials thread t left at base + t * stride,
 * for the threads with used[t] (0 when none did); dst may be one of them. */
static void sum_partials(float *dst, const float *base, size_t stride, size_t n,
                         const int *used, int nt)
{
    int first = 1;
    for (int t = 0; t < nt; t++) {
        if (!used[t])
            continue;
        const float *p = base + (size_t)t * stride;
        if (first) {
            if (p != dst)
                memcpy(dst, p, n * sizeof *dst);
            first = 0;
            continue;
        }
        for (size_t i = 0; i < n; i++)
            dst[i] += p[i];
    }
    if (first)
        memset(dst, 0, n * sizeof *dst);   /* an empty batch */
}

typedef struct {
    const conv2d_state *st;
    const sq_bwd *b;
    long nb, h, w, c, oh, ow, pt, pl, kdim;
    long group;                  /* images per group */
    long room;                   /* images a region's im2col has room for */
    int want_dx;                 /* this job also makes din */
    float *scratch;
    size_t region;
    int used[SQ_MAX_THREADS];    /* thread t's partials hold something */
} bwd_job;

/* Groups [g0, g1) of images, in thread tid's region. */
static void bwd_groups(void *ctx, long g0, long g1, int tid)
{
    bwd_job *j = ctx;
    const conv2d_state *st = j->st;
    const sq_bwd *b = j->b;
    long nf = st->filters, kdim = j->kdim;
    size_t npix = (size_t)(j->oh * j->ow), img = (size_t)(j->h * j->w * j->c);
    size_t colimg = npix * (size_t)kdim;
    float *col = j->scratch + (size_t)tid * j->region;
    float *pdw = col + (size_t)j->room * colimg, *pdb = pdw + kdim * nf;
    for (long g = g0; g < g1; g++) {
        long n0 = g * j->group, cnt = j->nb - n0 < j->group ? j->nb - n0 : j->group;
        size_t rows = (size_t)cnt * npix;
        const float *dy = b->dout + (size_t)n0 * npix * (size_t)nf;
        if (b->dw) {
            if (!j->used[tid])
                memset(pdb, 0, (size_t)nf * sizeof *pdb);
            for (long i = 0; i < cnt; i++)
                im2col(st, b->in + (size_t)(n0 + i) * img, j->h, j->w, j->c, j->oh, j->ow,
                       j->pt, j->pl, col + (size_t)i * colimg);
            sq_gemm(1, 0, (int)kdim, (int)nf, (int)rows, 1.0f, col, (int)kdim, dy, (int)nf,
                    j->used[tid] ? 1.0f : 0.0f, pdw, (int)nf);
            colsum_add(dy, rows, nf, pdb);
            j->used[tid] = 1;
        }
        if (j->want_dx) {
            sq_gemm(0, 1, (int)rows, (int)kdim, (int)nf, 1.0f, dy, (int)nf, b->w, (int)nf,
                    0.0f, col, (int)kdim);
            for (long i = 0; i < cnt; i++) {
                float *dx = b->din + (size_t)(n0 + i) * img;
                memset(dx, 0, img * sizeof *dx);
                col2im(st, col + (size_t)i * colimg, j->h, j->w, j->c, j->oh, j->ow, j->pt,
                       j->pl, dx);
            }
        }
    }
}

typedef struct {
    const sq_conv_desc *d;
    const sq_bwd *b;
    long block;                  /* rows of dK per block */
    long orows;                  /* output rows of the batch */
    float *partials;             /* by output rows: a dK per thread */
    int used[SQ_MAX_THREADS];
} dw_job;

/* Blocks [b0, e0) of the kernel gradient's rows, over the whole batch. */
static void dw_blocks(void *ctx, long b0, long e0, int tid)
{
    (void)tid;
    const dw_job *j = ctx;
    long rows = j->d->kh * j->d->kw * j->d->c;
    long r1 = e0 * j->block < rows ? e0 * j->block : rows;
    sq_conv_dw_rows(SQ_ISA_AVX512, j->d, j->b->in, j->b->dout, 0, j->orows, b0 * j->block, r1,
                    j->b->dw);
}

/* Output rows [o0, o1) of the batch into thread tid's own dK and dbias
 * (the rows' dout summed while it is still in cache). */
static void dw_outrows(void *ctx, long o0, long o1, int tid)
{
    dw_job *j = ctx;
    const sq_conv_desc *d = j->d;
    size_t nk = (size_t)(d->kh * d->kw * d->c * d->f);
    float *mine = j->partials + (size_t)tid * (nk + (size_t)d->f);
    if (!j->used[tid])
        memset(mine, 0, (nk + (size_t)d->f) * sizeof *mine);
    j->used[tid] = 1;
    sq_conv_dw_rows(SQ_ISA_AVX512, d, j->b->in, j->b->dout, o0, o1, 0, d->kh * d->kw * d->c,
                    mine);
    colsum_add(j->b->dout + (size_t)o0 * (size_t)(d->ow * d->f), (size_t)((o1 - o0) * d->ow),
               d->f, mine + nk);
}

/* dK and dbias by conv_dw.c: the threads share dK's rows (no partials);
 * a dK of too few rows for that (a first layer of 1 to 3 channels) is
 * made by each thread over its share of the output rows, with its share
 * of dbias, the partials (in scratch, nt of them) added up. */
static void backward_dw_direct(const conv2d_state *st, const sq_bwd *b, float *scratch, int nt)
{
    const sq_shape *is = b->in_shape;
    sq_conv_desc d = describe(st, is, NULL);
    long kdim = d.kh * d.kw * d.c, nf = st->filters;
    size_t nk = (size_t)(kdim * nf), nw = nk + (st->use_bias ? (size_t)nf : 0);
    dw_job j = { &d, b, sq_conv_dw_block(&d), is->d[0] * d.oh, scratch, { 0 } };
    long blocks = (kdim + j.block - 1) / j.block;
    if (blocks >= 2 * nt || nt < 2) {
        memset(b->dw, 0, nw * sizeof *b->dw);
        /* shares of at least ~2 MFLOP */
        double per = 2.0 * (double)j.block * (double)nf * (double)(j.orows * d.ow) + 1;
        sq_parallel_for(blocks, (long)(2e6 / per) + 1, dw_blocks, &j);
        if (st->use_bias)
            colsum_add(b->dout, (size_t)(is->d[0] * d.oh * d.ow), nf, b->dw + nk);
        return;
    }
    double per = 2.0 * (double)nk * (double)d.ow + 1;
    sq_parallel_for_upto(j.orows, (long)(2e6 / per) + 1, nt, dw_outrows, &j);
    sum_partials(b->dw, scratch, nk + (size_t)nf, nw, j.used, nt);
}

typedef struct {
    const sq_conv_desc *d;
    const sq_bwd *b;
    float *scratch;              /* a region per thread: partial sums, work */
    size_t region;
    int used[SQ_MAX_THREADS];
} wino_dw_job;

static void wino_dw_images(void *ctx, long b0, long b1, int tid)
{
    wino_dw_job *j = ctx;
    float *part = j->scratch + (size_t)tid * j->region;
    size_t np = sq_wino_dw_partial(j->d);
    if (!j->used[tid])
        memset(part, 0, np * sizeof *part);
    j->used[tid] = 1;
    sq_wino_dw_images(j->d, j->b->in, j->b->dout, b0, b1, part, part + np);
}

/* dK and dbias by Winograd: the images shared by at most nt threads, their
 * partial sums added up, then transformed back. */
static void backward_dw_wino(const conv2d_state *st, const sq_bwd *b, float *scratch, int nt)
{
    const sq_shape *is = b->in_shape;
    sq_conv_desc d = describe(st, is, NULL);
    long nb = is->d[0];
    size_t np = sq_wino_dw_partial(&d);
    wino_dw_job j = { &d, b, scratch, wino_dw_region(st, is), { 0 } };
    /* shares of at least ~2 MFLOP: 36 products per 4x4 tile, 2 flops each */
    double per = 72.0 * (double)sq_wino_tiles(&d) * (double)(d.c * d.f) + 1;
    sq_parallel_for_upto(nb, (long)(2e6 / per) + 1, nt, wino_dw_images, &j);
    /* the sums into thread 0's region */
    sum_partials(scratch, scratch, j.region, np, j.used, nt);
    sq_wino_dw_finish(&d, scratch, b->dw, st->use_bias ? b->dw + 9 * d.c * d.f : NULL);
}

/* din by the direct kernels. */
static void backward_dx_direct(const conv2d_state *st, const sq_bwd *b, float *scratch)
{
    const sq_shape *is = b->in_shape;
    long kh = st->k[0], kw = st->k[1], c = is->d[3], nf = st->filters;
    /* (kh, kw, F, C), flipped in both axes */
    float *wt = scratch;
    for (long ky = 0; ky < kh; ky++)
        for (long kx = 0; kx < kw; kx++) {
            const float *src = b->w + ((kh - 1 - ky) * kw + (kw - 1 - kx)) * c * nf;
            float *dst = wt + (ky * kw + kx) * nf * c;
            for (long ci = 0; ci < c; ci++)
                for (long f = 0; f < nf; f++)
                    dst[f * c + ci] = src[ci * nf + f];
        }
    sq_conv_desc d = describe_dx(st, is, wt);
    run_conv(sq_isa_active(), &d, is->d[0], b->dout, b->din, NULL, wt + kh * kw * c * nf,
             st->dx_threads);
}

static void backward(const sq_layer *l, const sq_bwd *b)
{
    const conv2d_state *st = l->state;
    const sq_shape *is = b->in_shape, *os = b->out_shape;
    long nb = is->d[0], h = is->d[1], w = is->d[2], c = is->d[3];
    long oh = os->d[1], ow = os->d[2], nf = st->filters;
    long kdim = st->k[0] * st->k[1] * c;
    size_t npix = (size_t)oh * (size_t)ow;
    size_t rows = (size_t)nb * npix;
    if (is_pointwise(st)) {
        /* the input is its own im2col matrix: one GEMM each */
        if (b->dw && st->use_bias) {
            float *db = b->dw + kdim * nf;
            memset(db, 0, (size_t)nf * sizeof *db);
            colsum_add(b->dout, rows, nf, db);
        }
        if (b->dw)
            sq_gemm(1, 0, (int)c, (int)nf, (int)rows, 1.0f, b->in, (int)c, b->dout, (int)nf,
                    0.0f, b->dw, (int)nf);
        if (b->din)
            sq_gemm(0, 1, (int)rows, (int)c, (int)nf, 1.0f, b->dout, (int)nf, b->w, (int)nf,
                    0.0f, b->din, (int)c);
        return;
    }
    long pt = sq_pad_before(h, oh, st->k[0] + (st->k[0] - 1) * (st->d[0] - 1), st->s[0], st->same);
    long pl = sq_pad_before(w, ow, st->k[1] + (st->k[1] - 1) * (st->d[1] - 1), st->s[1], st->same);
    int nt = st->bwd_threads > 0 ? st->bwd_threads : 1;
    /* groups no bigger than scratch_bwd made room for (at the largest batch) */
    long room = st->bwd_group > 0 ? st->bwd_group : 1;
    long group = group_for(l, is, nb, nt);
    if (group > room)
        group = room;
    int dw_wino = wino_dw(st, is);
    int dw_direct = !dw_wino && direct_dw(st, is);
    size_t region = dw_wino || dw_direct ? 0 : bwd_region(l, is, room);
    size_t before_dx = dw_wino ? (size_t)nt * wino_dw_region(st, is)
                     : dw_direct ? dw_partials(l, is, nt) : (size_t)nt * region;
    int dx_direct = b->din && direct_dx(st) && nb > 0;
    if (dx_direct)
        backward_dx_direct(st, b, b->scratch + before_dx);
    if (dw_wino) {
        if (b->dw)
            backward_dw_wino(st, b, b->scratch, nt);
        return;
    }
    if (dw_direct) {
        if (b->dw)
            backward_dw_direct(st, b, b->scratch, nt);
        return;
    }
    bwd_job *j = NULL, job;
    if (b->dw || (b->din && !dx_direct)) {
        job = (bwd_job){ st, b, nb, h, w, c, oh, ow, pt, pl, kdim, group, room,
                         b->din && !dx_direct, b->scratch, region, { 0 } };
        j = &job;
        long ngroups = (nb + group - 1) / group;
        if (ngroups == 1)
            bwd_groups(j, 0, 1, 0);   /* outside a job: its GEMMs may use the pool */
        else
            /* each thread's partials live in its own region: at most nt threads */
            sq_parallel_for_upto(ngroups, 1, nt, bwd_groups, j);
    }
    if (!b->dw)
        return;
    /* the partials add up to dK and dbias (pdb follows pdw in each region,
     * as the bias follows the kernel in dw) */
    sum_partials(b->dw, b->scratch + (size_t)room * npix * (size_t)kdim, region,
                 (size_t)(kdim * nf) + (st->use_bias ? (size_t)nf : 0), j->used, nt);
}

static void explain(const sq_layer *l, const sq_shape *in, const sq_shape *out, sbuf *b)
{
    const conv2d_state *st = l->state;
    static const char *const axis[2] = { "rows", "cols" };
    for (int a = 0; a < 2; a++)
        sq_explain_window(b, axis[a], in->d[1 + a], st->k[a], st->s[a], st->d[a], st->same,
                          out->d[1 + a]);
    sq_explain_line(b, "channels", "%ld = filters", st->filters);
    long c = in->d[3];
    if (st->use_bias)
        sq_explain_line(b, "params", "%zu = (%ld*%ld*%ld + 1) * %ld  (a %ldx%ldx%ld kernel and "
                        "a bias for each of the %ld filters)", l->param_count, st->k[0], st->k[1],
                        c, st->filters, st->k[0], st->k[1], c, st->filters);
    else
        sq_explain_line(b, "params", "%zu = %ld*%ld*%ld * %ld  (a %ldx%ldx%ld kernel for each "
                        "of the %ld filters)", l->param_count, st->k[0], st->k[1], c,
                        st->filters, st->k[0], st->k[1], c, st->filters);
}

static size_t macs(const sq_layer *l, const sq_shape *in, const sq_shape *out, sbuf *why)
{
    const conv2d_state *st = l->state;
    char t[96];
    snprintf(t, sizeof t, "%ld*%ld*%ld", st->k[0], st->k[1], in->d[3]);
    return sq_macs_dot(out, (size_t)(st->k[0] * st->k[1] * in->d[3]), t, why);
}

static const char *const aliases[] = { "Convolution2D", NULL };

const sq_layer_kind sq_kind_conv2d = {
    .class_name = "Conv2D",
    .base_name = "conv2d",
    .aliases = aliases,
    .opts = opts,
    .npositional = 2,
    .has_activation = 1,
    .summary = "2-D convolution over (rows, cols) of (batch, rows, cols, channels) inputs",
    .state_size = sizeof(conv2d_state),
    .configure = configure,
    .output_shape = output_shape,
    .weights = weights,
    .scratch = scratch,
    .forward = forward,
    .scratch_bwd = scratch_bwd,
    .backward = backward,
    .shape_rule = "(B, H, W, C) -> (B, H', W', filters); valid: H' = floor((H - dk)/s) + 1, same: H' = ceil(H/s), dk = k + (k-1)(d-1); params kh*kw*C*filters + filters",
    .example = "input 28 28 1; add conv2d 32 3 strides=2 padding=same relu",
    .explain = explain,
    .macs = macs,
    .per_sample = 1,
};
