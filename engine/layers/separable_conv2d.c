/* separable_conv2d.c - SeparableConv2D (channels_last), as
 * tf.nn.separable_conv2d: a depthwise convolution (depth_multiplier
 * filters per input channel, no bias) into C*dm channels, then a 1x1
 * convolution to `filters` channels plus the bias. The depthwise step runs
 * dw_kernels.c into a buffer (the training cache when training, for
 * backward); the pointwise step is one GEMM over all pixels. */
#include <stdio.h>
#include <string.h>
#include "layers/layer.h"
#include "layers/spatial2d.h"
#include "kernels/blas.h"
#include "kernels/dw_kernels.h"
#include "kernels/threads.h"

typedef struct {
    long filters;
    long k[2];        /* kernel rows, cols */
    long s[2];        /* strides */
    long d[2];        /* dilation rates */
    long dm;          /* depth multiplier */
    int same;         /* padding="same" */
    int use_bias;
    int fwd_threads;  /* threads scratch made room for */
    int bwd_threads;  /* threads scratch_bwd made room for */
} sep_state;

/* Keras's constructor order: filters, kernel_size, strides, padding,
 * (data_format,) dilation_rate, depth_multiplier, activation, use_bias. */
static const sq_optdef opts[] = {
    { .name = "filters", .type = OPT_INT, .help = "number of output channels" },
    { .name = "kernel_size", .type = OPT_INTS, .tuple_len = 2, .help = "window size: 3 or (3, 5)" },
    { .name = "strides", .type = OPT_INTS, .tuple_len = 2, .def = "1", .help = "step between windows: 1 or (2, 2) (rows and cols equal)" },
    { .name = "padding", .type = OPT_STR, .def = "valid", .help = "valid (no padding) or same (output = ceil(input / stride))" },
    { .name = "dilation_rate", .type = OPT_INTS, .tuple_len = 2, .def = "1", .help = "spacing between kernel taps" },
    { .name = "depth_multiplier", .type = OPT_INT, .def = "1", .help = "depthwise filters per input channel" },
    { .name = "use_bias", .type = OPT_BOOL, .def = "true", .help = "whether the layer uses a bias vector" },
    { .name = NULL },
};

static int configure(sq_layer *l, const sq_optval *v, sq_error *err)
{
    sep_state *st = l->state;
    st->filters = v[0].i[0];
    memcpy(st->k, v[1].i, sizeof st->k);
    memcpy(st->s, v[2].i, sizeof st->s);
    memcpy(st->d, v[4].i, sizeof st->d);
    st->dm = v[5].i[0];
    st->use_bias = (int)v[6].i[0];
    if (sq_conv_validate(st->filters, st->k, st->s, st->d, v[3].s, &st->same, err) < 0)
        return -1;
    if (st->dm <= 0)
        return sq_fail(err, "SeparableConv2D: `depth_multiplier` must be a positive integer, "
                       "got %ld", st->dm);
    return sq_check_equal_strides(st->s, err);
}

static int output_shape(const sq_layer *l, const sq_shape *in, sq_shape *out,
                        sq_error *err)
{
    const sep_state *st = l->state;
    char s[128];
    if (in->rank < 4)
        return sq_fail_min_ndim(err, l, 4, in);
    if (in->rank > 4)
        return sq_fail(err, "Input 0 of layer %s: SeparableConv2D in seqsh takes inputs of rank 4 "
                       "(batch, rows, cols, channels) only, found ndim=%d. Full shape "
                       "received: %s", l->name, in->rank, sq_shape_str(in, s, sizeof s));
    if (in->d[3] < 0)
        return sq_fail(err, "The channel dimension of the inputs should be defined. Found `None`.");
    if (in->d[3] > 0 && st->dm > 0x7fffffffL / in->d[3])
        return sq_fail(err, "SeparableConv2D: %ld channels times depth_multiplier %ld is too many",
                       in->d[3], st->dm);
    *out = *in;
    for (int a = 0; a < 2; a++) {
        long n = in->d[1 + a], dk = st->k[a] + (st->k[a] - 1) * (st->d[a] - 1);
        if (n >= 0 && !st->same && n < dk) {
            return sq_fail_depthwise_negative(err, l, "SeparableConv2D", dk, n, in, st->k, st->d);
        }
        out->d[1 + a] = sq_conv_len(n, st->k[a], st->same, st->s[a], st->d[a]);
    }
    out->d[3] = st->filters;
    return 0;
}

static int weights(const sq_layer *l, const sq_shape *in, sq_weight_spec *w)
{
    const sep_state *st = l->state;
    long c = in->d[3];
    w[0] = (sq_weight_spec){ "depthwise_kernel", { 4, { st->k[0], st->k[1], c, st->dm } },
                             INIT_GLOROT_UNIFORM, 1 };
    w[1] = (sq_weight_spec){ "pointwise_kernel", { 4, { 1, 1, c * st->dm, st->filters } },
                             INIT_GLOROT_UNIFORM, 1 };
    if (!st->use_bias)
        return 2;
    w[2] = (sq_weight_spec){ "bias", { 1, { st->filters } }, INIT_ZEROS, 1 };
    return 3;
}

/* The depthwise step's description on input shape `in` (weights at w, or
 * NULL for sizing): no bias, no activation. */
static sq_dw_desc describe(const sep_state *st, const sq_shape *in, const float *w)
{
    sq_dw_desc d = {
        .h = in->d[1], .w = in->d[2], .c = in->d[3], .dm = st->dm,
        .kh = st->k[0], .kw = st->k[1], .sh = st->s[0], .sw = st->s[1],
        .dh = st->d[0], .dw = st->d[1], .kernel = w,
    };
    d.oh = sq_conv_len(d.h, d.kh, st->same, d.sh, d.dh);
    d.ow = sq_conv_len(d.w, d.kw, st->same, d.sw, d.dw);
    d.pt = sq_pad_before(d.h, d.oh, d.kh + (d.kh - 1) * (d.dh - 1), d.sh, st->same);
    d.pl = sq_pad_before(d.w, d.ow, d.kw + (d.kw - 1) * (d.dw - 1), d.sw, st->same);
    return d;
}

/* Floats of the depthwise step's output for input shape `in`. */
static size_t mid_size(const sq_dw_desc *d, long nb)
{
    return (size_t)nb * (size_t)(d->oh * d->ow) * (size_t)(d->c * d->dm);
}

/* The depthwise step's output (when no training cache holds it) and a row
 * buffer per thread. */
static size_t scratch(const sq_layer *l, const sq_shape *in)
{
    sep_state *st = l->state;
    sq_dw_desc d = describe(st, in, NULL);
    st->fwd_threads = sq_pool_threads_for(in->d[0] * d.oh);
    return mid_size(&d, in->d[0]) + (size_t)st->fwd_threads * sq_dw_rowbuf(&d);
}

/* Training keeps the depthwise step's output for backward. */
static size_t cache(const sq_layer *l, const sq_shape *in)
{
    sq_dw_desc d = describe(l->state, in, NULL);
    return mid_size(&d, in->d[0]);
}

static void forward(const sq_layer *l, const sq_fwd *f)
{
    const sep_state *st = l->state;
    if (f->intr && *f->intr)
        return;
    long nb = f->in_shape->d[0];
    sq_dw_desc d = describe(st, f->in_shape, f->w);
    size_t nmid = mid_size(&d, nb);
    float *mid = f->cache ? f->cache : f->scratch;
    float *rowbufs = f->scratch + nmid;
    long rows = nb * d.oh * d.ow, k = d.c * d.dm, nf = st->filters;
    if (rows == 0)
        return;
    const float *pw = f->w + d.kh * d.kw * k, *bias = pw + k * nf;
    if (k > 0) {
        sq_dw_forward(&d, nb, f->in, mid, rowbufs, st->fwd_threads, f->intr);
        if (f->intr && *f->intr)
            return;
    }
    if (st->use_bias)
        for (long r = 0; r < rows; r++)
            memcpy(f->out + (size_t)r * (size_t)nf, bias, (size_t)nf * sizeof *bias);
    else if (k == 0)
        memset(f->out, 0, (size_t)rows * (size_t)nf * sizeof *f->out);
    if (k > 0)
        sq_gemm(0, 0, (int)rows, (int)nf, (int)k, 1.0f, mid, (int)k, pw, (int)nf,
                st->use_bias ? 1.0f : 0.0f, f->out, (int)nf);
}

/* The depthwise step's output gradient, and dw_kernels.c's scratch. */
static size_t scratch_bwd(const sq_layer *l, const sq_shape *in)
{
    sep_state *st = l->state;
    sq_dw_desc d = describe(st, in, NULL);
    st->bwd_threads = sq_pool_threads_for(in->d[0]);
    return mid_size(&d, in->d[0]) + sq_dw_bwd_scratch(&d, st->bwd_threads);
}

static void backward(const sq_layer *l, const sq_bwd *b)
{
    const sep_state *st = l->state;
    long nb = b->in_shape->d[0];
    sq_dw_desc d = describe(st, b->in_shape, b->w);
    long rows = nb * d.oh * d.ow, k = d.c * d.dm, nf = st->filters;
    size_t nk = (size_t)(d.kh * d.kw * k);
    const float *pw = b->w + nk;
    const float *mid = b->cache;
    float *dmid = b->scratch;
    float *ddk = b->dw, *dpw = b->dw ? b->dw + nk : NULL;
    float *db = b->dw && st->use_bias ? dpw + k * nf : NULL;
    if (dpw) {
        if (rows > 0 && k > 0)
            sq_gemm(1, 0, (int)k, (int)nf, (int)rows, 1.0f, mid, (int)k, b->dout, (int)nf, 0.0f,
                    dpw, (int)nf);
        else
            memset(dpw, 0, (size_t)(k * nf) * sizeof *dpw);
    }
    if (db) {
        memset(db, 0, (size_t)nf * sizeof *db);
        for (long r = 0; r < rows; r++)
            for (long j = 0; j < nf; j++)
                db[j] += b->dout[(size_t)r * (size_t)nf + (size_t)j];
    }
    if (!ddk && !b->din)
        return;
    if (rows > 0 && k > 0)
        sq_gemm(0, 1, (int)rows, (int)k, (int)nf, 1.0f, b->dout, (int)nf, pw, (int)nf, 0.0f, dmid,
                (int)k);
    sq_dw_backward(&d, nb, b->in, dmid, b->din, ddk, NULL, dmid + mid_size(&d, nb),
                   st->bwd_threads > 0 ? st->bwd_threads : 1);
}

static const char *const aliases[] = { "SeparableConvolution2D", NULL };

/* The depthwise step (one channel's window per intermediate value) and
 * the pointwise one (a dot product over the C * depth_multiplier
 * intermediate channels per output value). */
static size_t macs(const sq_layer *l, const sq_shape *in, const sq_shape *out, sbuf *why)
{
    const sep_state *st = l->state;
    long pix = out->d[1] * out->d[2], mid = in->d[3] * st->dm, k = st->k[0] * st->k[1];
    if (out->d[1] <= 0 || out->d[2] <= 0) {
        if (why)
            sb_printf(why, "0  (the output's size is not known)");
        return 0;
    }
    size_t dw = (size_t)pix * (size_t)mid * (size_t)k,
           pw = (size_t)pix * (size_t)st->filters * (size_t)mid;
    if (why)
        sb_printf(why, "%zu = %ld*%ld*%ld * %ld*%ld + %ld*%ld*%ld * %ld  (depthwise: each of the "
                  "%ld intermediate channels a %ldx%ld window; pointwise: each output value a "
                  "dot product of %ld numbers)", dw + pw, out->d[1], out->d[2], mid, st->k[0],
                  st->k[1], out->d[1], out->d[2], st->filters, mid, mid, st->k[0], st->k[1], mid);
    return dw + pw;
}

const sq_layer_kind sq_kind_separable_conv2d = {
    .class_name = "SeparableConv2D",
    .base_name = "separable_conv2d",
    .aliases = aliases,
    .opts = opts,
    .npositional = 4,
    .has_activation = 1,
    .summary = "depthwise separable 2-D convolution: a depthwise convolution, then a 1x1 "
               "convolution mixing the channels",
    .state_size = sizeof(sep_state),
    .configure = configure,
    .output_shape = output_shape,
    .weights = weights,
    .macs = macs,
    .scratch = scratch,
    .forward = forward,
    .cache = cache,
    .scratch_bwd = scratch_bwd,
    .backward = backward,
    .shape_rule = "(B, H, W, C) -> (B, H', W', filters); valid: H' = floor((H - dk)/s) + 1, same: H' = ceil(H/s), dk = k + (k-1)(d-1); params kh*kw*C*dm + C*dm*filters + filters",
    .example = "input 32 32 16; add separableconv2d 32 3 padding=same relu",
};
