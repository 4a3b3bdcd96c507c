/* global_pool2d.c - GlobalMaxPooling2D and GlobalAveragePooling2D: one value
 * per channel over all rows and cols of (batch, rows, cols, channels). */
#include <float.h>
#include "layers/layer.h"

typedef struct {
    int keepdims;     /* output (B, 1, 1, C) instead of (B, C) */
    int max;          /* 1 max, 0 average */
} gpool_state;

static const sq_optdef opts[] = {
    { .name = "keepdims", .type = OPT_BOOL, .def = "false", .help = "keep the spatial axes as size 1: (batch, 1, 1, channels)" },
    { .name = NULL },
};

static int configure_max(sq_layer *l, const sq_optval *v, sq_error *err)
{
    gpool_state *st = l->state;
    (void)err;
    st->keepdims = (int)v[0].i[0];
    st->max = 1;
    return 0;
}

static int configure_avg(sq_layer *l, const sq_optval *v, sq_error *err)
{
    gpool_state *st = l->state;
    (void)err;
    st->keepdims = (int)v[0].i[0];
    st->max = 0;
    return 0;
}

static int output_shape(const sq_layer *l, const sq_shape *in, sq_shape *out,
                        sq_error *err)
{
    const gpool_state *st = l->state;
    if (in->rank != 4)
        return sq_fail_ndim(err, l, 4, in);
    *out = *in;
    if (st->keepdims) {
        out->d[1] = 1;
        out->d[2] = 1;
    } else {
        out->rank = 2;
        out->d[1] = in->d[3];
    }
    return 0;
}

static void forward(const sq_layer *l, const sq_fwd *f)
{
    const gpool_state *st = l->state;
    const sq_shape *is = f->in_shape;
    long nb = is->d[0], npix = is->d[1] * is->d[2], c = is->d[3];
    for (long b = 0; b < nb; b++) {
        const float *x = f->in + (size_t)b * (size_t)(npix * c);
        float *y = f->out + (size_t)b * (size_t)c;
        for (long j = 0; j < c; j++)
            y[j] = st->max ? -FLT_MAX : 0.0f;
        for (long p = 0; p < npix; p++, x += c) {
            if (st->max) {
                for (long j = 0; j < c; j++)
                    y[j] = x[j] > y[j] ? x[j] : y[j];
            } else {
                for (long j = 0; j < c; j++)
                    y[j] += x[j];
            }
        }
        if (!st->max && npix > 0) {
            float inv = 1.0f / (float)npix;
            for (long j = 0; j < c; j++)
                y[j] *= inv;
        }
    }
}

/* keepdims changes only the shape: (B, C) and (B, 1, 1, C) hold the same
 * values in the same order. Max routes each channel's gradient to its first
 * maximum in scan order; average spreads it evenly over the rows and cols. */
static void backward(const sq_layer *l, const sq_bwd *b)
{
    const gpool_state *st = l->state;
    if (!b->din)
        return;
    const sq_shape *is = b->in_shape;
    long nb = is->d[0], npix = is->d[1] * is->d[2], c = is->d[3];
    for (long bi = 0; bi < nb; bi++) {
        const float *x = b->in + (size_t)bi * (size_t)(npix * c);
        float *dx = b->din + (size_t)bi * (size_t)(npix * c);
        const float *dy = b->dout + (size_t)bi * (size_t)c;
        if (!st->max) {
            float inv = npix > 0 ? 1.0f / (float)npix : 0.0f;
            for (long p = 0; p < npix; p++)
                for (long j = 0; j < c; j++)
                    dx[p * c + j] = dy[j] * inv;
            continue;
        }
        for (long i = 0; i < npix * c; i++)
            dx[i] = 0;
        for (long j = 0; j < c && npix > 0; j++) {
            long best = j;
            for (long p = 1; p < npix; p++)
                if (x[p * c + j] > x[best])
                    best = p * c + j;
            dx[best] = dy[j];
        }
    }
}

/* One value per channel from all rows and cols. */
static void explain(const sq_layer *l, const sq_shape *in, const sq_shape *out, sbuf *b)
{
    const gpool_state *st = l->state;
    if (st->keepdims) {
        sq_explain_line(b, "rows", "1  (keepdims: the pooled axes stay, of size 1)");
        sq_explain_line(b, "cols", "1");
    }
    sq_explain_line(b, "channels", "%ld = %ld  (the %s of each channel over all %ld*%ld "
                    "positions)", out->d[out->rank - 1], in->d[3], st->max ? "maximum" : "mean",
                    in->d[1], in->d[2]);
    sq_explain_no_params(b);
}

static const char *const max_aliases[] = { "GlobalMaxPool2D", NULL };
static const char *const avg_aliases[] = { "GlobalAvgPool2D", NULL };

const sq_layer_kind sq_kind_global_max_pooling2d = {
    .class_name = "GlobalMaxPooling2D",
    .base_name = "global_max_pooling2d",
    .aliases = max_aliases,
    .opts = opts,
    .npositional = 0,
    .has_activation = 0,
    .summary = "maximum over all rows and cols: (batch, rows, cols, channels) -> (batch, channels)",
    .state_size = sizeof(gpool_state),
    .configure = configure_max,
    .output_shape = output_shape,
    .forward = forward,
    .backward = backward,
    .shape_rule = "(B, H, W, C) -> (B, C), or (B, 1, 1, C) with keepdims=true",
    .example = "input 6 6 4; add globalmaxpooling2d",
    .explain = explain,
};

const sq_layer_kind sq_kind_global_average_pooling2d = {
    .class_name = "GlobalAveragePooling2D",
    .base_name = "global_average_pooling2d",
    .aliases = avg_aliases,
    .opts = opts,
    .npositional = 0,
    .has_activation = 0,
    .summary = "mean over all rows and cols: (batch, rows, cols, channels) -> (batch, channels)",
    .state_size = sizeof(gpool_state),
    .configure = configure_avg,
    .output_shape = output_shape,
    .forward = forward,
    .backward = backward,
    .shape_rule = "(B, H, W, C) -> (B, C), or (B, 1, 1, C) with keepdims=true",
    .example = "input 6 6 4; add globalaveragepooling2d",
    .explain = explain,
};
