/* depthwise_conv2d.c - DepthwiseConv2D (channels_last): each input channel
 * convolved with its own depth_multiplier filters, output channel c*dm + m,
 * TensorFlow's SAME padding. Forward runs the direct kernels of
 * dw_kernels.c (bias and relu fused) over output rows shared by the thread
 * pool; backward is dw_kernels.c's, images shared by the pool. */
#include <stdio.h>
#include <string.h>
#include "layers/layer.h"
#include "layers/spatial2d.h"
#include "kernels/dw_kernels.h"
#include "kernels/threads.h"

typedef struct {
    long k[2];        /* kernel rows, cols */
    long s[2];        /* strides */
    long d[2];        /* dilation rates */
    long dm;          /* depth multiplier */
    int same;         /* padding="same" */
    int use_bias;
    int fwd_threads;  /* threads scratch made room for */
    int bwd_threads;  /* threads scratch_bwd made room for */
} dw_state;

/* Keras's constructor order: kernel_size, strides, padding, depth_multiplier. */
static const sq_optdef opts[] = {
    { .name = "kernel_size", .type = OPT_INTS, .tuple_len = 2, .help = "window size: 3 or (3, 5)" },
    { .name = "strides", .type = OPT_INTS, .tuple_len = 2, .def = "1", .help = "step between windows: 1 or (2, 2) (rows and cols equal)" },
    { .name = "padding", .type = OPT_STR, .def = "valid", .help = "valid (no padding) or same (output = ceil(input / stride))" },
    { .name = "depth_multiplier", .type = OPT_INT, .def = "1", .help = "output channels per input channel" },
    { .name = "dilation_rate", .type = OPT_INTS, .tuple_len = 2, .def = "1", .help = "spacing between kernel taps" },
    { .name = "use_bias", .type = OPT_BOOL, .def = "true", .help = "whether the layer uses a bias vector" },
    { .name = NULL },
};

static int configure(sq_layer *l, const sq_optval *v, sq_error *err)
{
    dw_state *st = l->state;
    memcpy(st->k, v[0].i, sizeof st->k);
    memcpy(st->s, v[1].i, sizeof st->s);
    st->dm = v[3].i[0];
    memcpy(st->d, v[4].i, sizeof st->d);
    st->use_bias = (int)v[5].i[0];
    if (sq_conv_validate(SQ_NO_FILTERS, st->k, st->s, st->d, v[2].s, &st->same, err) < 0)
        return -1;
    if (st->dm <= 0)
        return sq_fail(err, "DepthwiseConv2D: `depth_multiplier` must be a positive integer, "
                       "got %ld", st->dm);
    return sq_check_equal_strides(st->s, err);
}

static int output_shape(const sq_layer *l, const sq_shape *in, sq_shape *out,
                        sq_error *err)
{
    const dw_state *st = l->state;
    char s[128];
    if (in->rank < 4)
        return sq_fail_min_ndim(err, l, 4, in);
    if (in->rank > 4)
        return sq_fail(err, "Inputs to `DepthwiseConv2D` should have rank 4. Received input "
                       "shape: %s", sq_shape_str(in, s, sizeof s));
    if (in->d[3] < 0)
        return sq_fail(err, "The channel dimension of the inputs to `DepthwiseConv2D` should be "
                       "defined. Found `None`.");
    *out = *in;
    for (int a = 0; a < 2; a++) {
        long n = in->d[1 + a], dk = st->k[a] + (st->k[a] - 1) * (st->d[a] - 1);
        if (n >= 0 && !st->same && n < dk) {
            return sq_fail_depthwise_negative(err, l, "DepthwiseConv2D", dk, n, in, st->k, st->d);
        }
        out->d[1 + a] = sq_conv_len(n, st->k[a], st->same, st->s[a], st->d[a]);
    }
    if (in->d[3] > 0 && st->dm > 0x7fffffffL / in->d[3])
        return sq_fail(err, "DepthwiseConv2D: %ld channels times depth_multiplier %ld is too many",
                       in->d[3], st->dm);
    out->d[3] = in->d[3] * st->dm;
    return 0;
}

static int weights(const sq_layer *l, const sq_shape *in, sq_weight_spec *w)
{
    const dw_state *st = l->state;
    w[0] = (sq_weight_spec){ "depthwise_kernel", { 4, { st->k[0], st->k[1], in->d[3], st->dm } },
                             INIT_GLOROT_UNIFORM, 1 };
    if (!st->use_bias)
        return 1;
    w[1] = (sq_weight_spec){ "bias", { 1, { in->d[3] * st->dm } }, INIT_ZEROS, 1 };
    return 2;
}

/* The kernels' description of this layer on input shape `in` (weights at
 * w, which may be NULL for sizing). */
static sq_dw_desc describe(const dw_state *st, const sq_shape *in, const float *w)
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
    d.bias = st->use_bias && w ? w + d.kh * d.kw * d.c * d.dm : NULL;
    return d;
}

static size_t scratch(const sq_layer *l, const sq_shape *in)
{
    dw_state *st = l->state;
    sq_dw_desc d = describe(st, in, NULL);
    st->fwd_threads = sq_pool_threads_for(in->d[0] * d.oh);
    return (size_t)st->fwd_threads * sq_dw_rowbuf(&d);
}

static void forward(const sq_layer *l, const sq_fwd *f)
{
    const dw_state *st = l->state;
    if (f->intr && *f->intr)
        return;
    long nb = f->in_shape->d[0];
    sq_dw_desc d = describe(st, f->in_shape, f->w);
    if (f->act_done && l->act && l->act == sq_activation_find("relu")) {
        d.relu = 1;
        *f->act_done = 1;
    }
    if (nb * d.oh * d.ow * d.c * d.dm == 0)
        return;
    sq_dw_forward(&d, nb, f->in, f->out, f->scratch, st->fwd_threads, f->intr);
}

static size_t scratch_bwd(const sq_layer *l, const sq_shape *in)
{
    dw_state *st = l->state;
    st->bwd_threads = sq_pool_threads_for(in->d[0]);
    sq_dw_desc d = describe(st, in, NULL);
    return sq_dw_bwd_scratch(&d, st->bwd_threads);
}

static void backward(const sq_layer *l, const sq_bwd *b)
{
    const dw_state *st = l->state;
    sq_dw_desc d = describe(st, b->in_shape, b->w);
    float *dk = b->dw, *db = NULL;
    if (dk && st->use_bias)
        db = dk + d.kh * d.kw * d.c * d.dm;
    if (!dk && !b->din)
        return;
    sq_dw_backward(&d, b->in_shape->d[0], b->in, b->dout, b->din, dk, db, b->scratch,
                   st->bwd_threads > 0 ? st->bwd_threads : 1);
}

/* Each output value: one channel's window, kernel rows * cols products. */
static size_t macs(const sq_layer *l, const sq_shape *in, const sq_shape *out, sbuf *why)
{
    (void)in;
    const dw_state *st = l->state;
    char t[64];
    snprintf(t, sizeof t, "%ld*%ld", st->k[0], st->k[1]);
    return sq_macs_dot(out, (size_t)(st->k[0] * st->k[1]), t, why);
}

const sq_layer_kind sq_kind_depthwise_conv2d = {
    .class_name = "DepthwiseConv2D",
    .base_name = "depthwise_conv2d",
    .opts = opts,
    .npositional = 4,
    .has_activation = 1,
    .summary = "depthwise 2-D convolution: each channel of (batch, rows, cols, channels) "
               "inputs filtered on its own",
    .state_size = sizeof(dw_state),
    .configure = configure,
    .output_shape = output_shape,
    .weights = weights,
    .macs = macs,
    .scratch = scratch,
    .forward = forward,
    .scratch_bwd = scratch_bwd,
    .backward = backward,
    .shape_rule = "(B, H, W, C) -> (B, H', W', C*depth_multiplier); valid: H' = floor((H - dk)/s) + 1, same: H' = ceil(H/s), dk = k + (k-1)(d-1); output channel c*dm + m; params kh*kw*C*dm + C*dm",
    .example = "input 32 32 8; add depthwiseconv2d 3 padding=same depth_multiplier=2 relu",
};
