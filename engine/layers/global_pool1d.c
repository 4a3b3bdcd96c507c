/* global_pool1d.c - GlobalMaxPooling1D and GlobalAveragePooling1D: one
 * value per channel over all steps of (batch, steps, channels). As in
 * Keras 2.6, GlobalAveragePooling1D takes its input's mask (the mean over
 * the unmasked steps: sum(x * mask) / sum(mask), NaN for a sample whose
 * every step is masked) and its output has none; GlobalMaxPooling1D does
 * not support masking (a mask ends there). */
#include <float.h>
#include <string.h>
#include "layers/layer.h"

typedef struct {
    int keepdims;     /* output (B, 1, C) instead of (B, C) */
    int max;          /* 1 max, 0 average */
} gpool1d_state;

/* Keras's data_format (first) is channels_last only here. */
static const sq_optdef opts[] = {
    { .name = "keepdims", .type = OPT_BOOL, .def = "false", .help = "keep the steps axis as size 1: (batch, 1, channels)" },
    { .name = NULL },
};

static int configure(sq_layer *l, const sq_optval *v, int max)
{
    gpool1d_state *st = l->state;
    st->keepdims = (int)v[0].i[0];
    st->max = max;
    return 0;
}

static int configure_max(sq_layer *l, const sq_optval *v, sq_error *err)
{
    (void)err;
    return configure(l, v, 1);
}

static int configure_avg(sq_layer *l, const sq_optval *v, sq_error *err)
{
    (void)err;
    return configure(l, v, 0);
}

static int output_shape(const sq_layer *l, const sq_shape *in, sq_shape *out,
                        sq_error *err)
{
    const gpool1d_state *st = l->state;
    if (in->rank != 3)
        return sq_fail_ndim(err, l, 3, in);
    *out = *in;
    if (st->keepdims) {
        out->d[1] = 1;
    } else {
        out->rank = 2;
        out->d[1] = in->d[2];
    }
    return 0;
}

/* The steps of sample b that count: all, or the unmasked ones. */
static long counted(const uint8_t *mask, long b, long t)
{
    if (!mask)
        return t;
    long n = 0;
    for (long i = 0; i < t; i++)
        n += mask[b * t + i] != 0;
    return n;
}

static void forward(const sq_layer *l, const sq_fwd *f)
{
    const gpool1d_state *st = l->state;
    const sq_shape *is = f->in_shape;
    long nb = is->d[0], t = is->d[1], c = is->d[2];
    const uint8_t *mask = st->max ? NULL : f->mask;
    for (long b = 0; b < nb; b++) {
        const float *x = f->in + (size_t)b * (size_t)(t * c);
        float *y = f->out + (size_t)b * (size_t)c;
        for (long j = 0; j < c; j++)
            y[j] = st->max ? -FLT_MAX : 0.0f;
        for (long i = 0; i < t; i++, x += c) {
            if (st->max) {
                for (long j = 0; j < c; j++)
                    y[j] = x[j] > y[j] ? x[j] : y[j];
            } else if (!mask || mask[b * t + i]) {
                for (long j = 0; j < c; j++)
                    y[j] += x[j];
            }
        }
        long n = counted(mask, b, t);
        if (!st->max && (t > 0 || mask)) {
            /* Keras divides by the mask's sum: NaN (0 / 0) when all are masked */
            float inv = 1.0f / (float)n;
            for (long j = 0; j < c; j++)
                y[j] *= inv;
        }
    }
}

/* keepdims changes only the shape. Max routes each channel's gradient to
 * its first maximum; average spreads it evenly over the steps. */
static void backward(const sq_layer *l, const sq_bwd *b)
{
    const gpool1d_state *st = l->state;
    if (!b->din)
        return;
    const sq_shape *is = b->in_shape;
    long nb = is->d[0], t = is->d[1], c = is->d[2];
    for (long n = 0; n < nb; n++) {
        const float *x = b->in + (size_t)n * (size_t)(t * c);
        float *dx = b->din + (size_t)n * (size_t)(t * c);
        const float *dy = b->dout + (size_t)n * (size_t)c;
        if (!st->max) {
            /* a masked step gets none: sum(x * mask) / sum(mask) */
            long cnt = counted(b->mask, n, t);
            float inv = t > 0 || b->mask ? 1.0f / (float)cnt : 0.0f;
            for (long i = 0; i < t; i++) {
                float m = !b->mask || b->mask[n * t + i] ? 1.0f : 0.0f;
                for (long j = 0; j < c; j++)
                    dx[i * c + j] = dy[j] * inv * m;
            }
            continue;
        }
        memset(dx, 0, (size_t)(t * c) * sizeof *dx);
        for (long j = 0; j < c && t > 0; j++) {
            long best = 0;
            for (long i = 1; i < t; i++)
                if (x[i * c + j] > x[best * c + j])
                    best = i;
            dx[best * c + j] = dy[j];
        }
    }
}

/* Keras: supports_masking, and compute_mask returns None. */
static sq_mask_rule mask_rule(const sq_layer *l, int in_masked)
{
    (void)l;
    (void)in_masked;
    return SQ_MASK_DROP;
}

/* One value per channel from all steps. */
static void explain(const sq_layer *l, const sq_shape *in, const sq_shape *out, sbuf *b)
{
    const gpool1d_state *st = l->state;
    if (st->keepdims)
        sq_explain_line(b, "steps", "1  (keepdims: the pooled axis stays, of size 1)");
    sq_explain_line(b, "channels", "%ld = %ld  (the %s of each channel over all %ld steps)",
                    out->d[out->rank - 1], in->d[2], st->max ? "maximum" : "mean", in->d[1]);
    sq_explain_no_params(b);
}

static const char *const max_aliases[] = { "GlobalMaxPool1D", NULL };
static const char *const avg_aliases[] = { "GlobalAvgPool1D", NULL };

const sq_layer_kind sq_kind_global_max_pooling1d = {
    .class_name = "GlobalMaxPooling1D",
    .base_name = "global_max_pooling1d",
    .aliases = max_aliases,
    .opts = opts,
    .summary = "maximum over all steps: (batch, steps, channels) -> (batch, channels)",
    .state_size = sizeof(gpool1d_state),
    .configure = configure_max,
    .output_shape = output_shape,
    .forward = forward,
    .backward = backward,
    .shape_rule = "(B, T, C) -> (B, C), or (B, 1, C) with keepdims=true; no params",
    .example = "input 10 4; add globalmaxpooling1d",
    .explain = explain,
};

const sq_layer_kind sq_kind_global_average_pooling1d = {
    .class_name = "GlobalAveragePooling1D",
    .base_name = "global_average_pooling1d",
    .aliases = avg_aliases,
    .opts = opts,
    .summary = "mean over all steps: (batch, steps, channels) -> (batch, channels)",
    .state_size = sizeof(gpool1d_state),
    .configure = configure_avg,
    .output_shape = output_shape,
    .forward = forward,
    .backward = backward,
    .shape_rule = "(B, T, C) -> (B, C), or (B, 1, C) with keepdims=true; no params",
    .example = "input 10 4; add globalaveragepooling1d keepdims=true",
    .explain = explain,
    .mask = mask_rule,
    .reads_mask = 1,
};
