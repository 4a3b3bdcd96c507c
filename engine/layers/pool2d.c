/* pool2d.c - MaxPooling2D and AveragePooling2D (channels_last): windows over
 * rows and cols, TensorFlow's SAME padding; padded cells never count. */
#include <ctype.h>
#include <float.h>
#include <stdio.h>
#include <string.h>
#include "../internal.h"

typedef struct {
    long k[2];        /* pool rows, cols */
    long s[2];        /* strides */
    int same;         /* padding="same" */
    int max;          /* 1 max, 0 average */
} pool_state;

/* Keras's constructor order: pool_size, strides, padding. */
static const sq_optdef opts[] = {
    { "pool_size", OPT_INTS, 2, "2", "window size: 2 or (2, 3)" },
    { "strides", OPT_INTS, 2, "0", "step between windows; default: pool_size" },
    { "padding", OPT_STR, 0, "valid", "valid (no padding) or same (output = ceil(input / stride))" },
    { NULL, 0, 0, NULL, NULL },
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

/* TensorFlow's shape-inference error for a window larger than its input. */
static int fail_negative(sq_error *err, const sq_layer *l, const pool_state *st,
                         const sq_shape *in, int axis)
{
    char d0[24], d1[24], d2[24], d3[24];
    const char *op = st->max ? "MaxPool" : "AvgPool";
    return sq_fail(err, "Negative dimension size caused by subtracting %ld from %ld for "
                   "'{{node %s/%s}} = %s[T=DT_FLOAT, data_format=\"NHWC\", %sksize=[1, %ld, "
                   "%ld, 1], padding=\"VALID\", strides=[1, %ld, %ld, 1]](Placeholder)' with "
                   "input shapes: [%s,%s,%s,%s].",
                   st->k[axis], in->d[1 + axis], l->name, op, op,
                   st->max ? "explicit_paddings=[], " : "", st->k[0], st->k[1], st->s[0],
                   st->s[1], sq_tf_dim(in->d[0], d0, sizeof d0), sq_tf_dim(in->d[1], d1, sizeof d1),
                   sq_tf_dim(in->d[2], d2, sizeof d2), sq_tf_dim(in->d[3], d3, sizeof d3));
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

static void forward(const sq_layer *l, const sq_fwd *f)
{
    const pool_state *st = l->state;
    const sq_shape *is = f->in_shape, *os = f->out_shape;
    long nb = is->d[0], h = is->d[1], w = is->d[2], c = is->d[3];
    long oh = os->d[1], ow = os->d[2];
    long pt = sq_pad_before(h, oh, st->k[0], st->s[0], st->same);
    long pl = sq_pad_before(w, ow, st->k[1], st->s[1], st->same);
    float *y = f->out;
    for (long b = 0; b < nb; b++) {
        const float *x = f->in + (size_t)b * (size_t)(h * w * c);
        for (long oy = 0; oy < oh; oy++) {
            long y0 = oy * st->s[0] - pt, y1 = y0 + st->k[0];
            if (y0 < 0)
                y0 = 0;
            if (y1 > h)
                y1 = h;
            for (long ox = 0; ox < ow; ox++, y += c) {
                long x0 = ox * st->s[1] - pl, x1 = x0 + st->k[1];
                if (x0 < 0)
                    x0 = 0;
                if (x1 > w)
                    x1 = w;
                for (long j = 0; j < c; j++)
                    y[j] = st->max ? -FLT_MAX : 0.0f;
                for (long iy = y0; iy < y1; iy++) {
                    for (long ix = x0; ix < x1; ix++) {
                        const float *src = x + (iy * w + ix) * c;
                        if (st->max) {
                            for (long j = 0; j < c; j++)
                                y[j] = src[j] > y[j] ? src[j] : y[j];
                        } else {
                            for (long j = 0; j < c; j++)
                                y[j] += src[j];
                        }
                    }
                }
                long cells = (y1 - y0) * (x1 - x0);
                if (!st->max && cells > 0) {
                    float inv = 1.0f / (float)cells;
                    for (long j = 0; j < c; j++)
                        y[j] *= inv;
                }
            }
        }
    }
}

/* Max: each output's gradient goes to the cell that won its window, the
 * first maximum in scan order (rows, then cols), as TensorFlow's MaxPoolGrad
 * routes it; padded cells are outside the clipped window and never win.
 * Average: each output's gradient is shared equally by the real cells of its
 * window. Overlapping windows add up. */
static void backward(const sq_layer *l, const sq_bwd *b)
{
    const pool_state *st = l->state;
    if (!b->din)
        return;
    const sq_shape *is = b->in_shape, *os = b->out_shape;
    long nb = is->d[0], h = is->d[1], w = is->d[2], c = is->d[3];
    long oh = os->d[1], ow = os->d[2];
    long pt = sq_pad_before(h, oh, st->k[0], st->s[0], st->same);
    long pl = sq_pad_before(w, ow, st->k[1], st->s[1], st->same);
    size_t n = sq_shape_count(is);
    for (size_t i = 0; i < n; i++)
        b->din[i] = 0;
    const float *dy = b->dout;
    for (long bi = 0; bi < nb; bi++) {
        const float *x = b->in + (size_t)bi * (size_t)(h * w * c);
        float *dx = b->din + (size_t)bi * (size_t)(h * w * c);
        for (long oy = 0; oy < oh; oy++) {
            long y0 = oy * st->s[0] - pt, y1 = y0 + st->k[0];
            if (y0 < 0)
                y0 = 0;
            if (y1 > h)
                y1 = h;
            for (long ox = 0; ox < ow; ox++, dy += c) {
                long x0 = ox * st->s[1] - pl, x1 = x0 + st->k[1];
                if (x0 < 0)
                    x0 = 0;
                if (x1 > w)
                    x1 = w;
                long cells = (y1 - y0) * (x1 - x0);
                if (cells <= 0)
                    continue;
                if (!st->max) {
                    float inv = 1.0f / (float)cells;
                    for (long iy = y0; iy < y1; iy++)
                        for (long ix = x0; ix < x1; ix++) {
                            float *d = dx + (iy * w + ix) * c;
                            for (long j = 0; j < c; j++)
                                d[j] += dy[j] * inv;
                        }
                    continue;
                }
                for (long j = 0; j < c; j++) {
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
        }
    }
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
    .backward = backward,
    .shape_rule = "(B, H, W, C) -> (B, H', W', C); valid: H' = floor((H - k)/s) + 1, same: H' = ceil(H/s)",
    .example = "add maxpooling2d 2",
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
    .example = "add averagepooling2d 3 strides=2",
};
