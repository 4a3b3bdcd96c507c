/* padding1d.c - ZeroPadding1D(padding) and Cropping1D(cropping): zero steps
 * added to, or steps cut from, the start and the end of (batch, steps,
 * channels). One is the other's adjoint, so each backward is the other's
 * forward. An int means the same count at both ends; (a, b) means a at the
 * start and b at the end. */
#include <stdio.h>
#include <string.h>
#include "layers/layer.h"

typedef struct {
    long before, after;   /* steps added (padding) or removed (cropping) */
} pad1d_state;

static const sq_optdef pad_opts[] = {
    { .name = "padding", .type = OPT_INTS, .tuple_len = 2, .def = "1", .help = "zero steps at the start and the end: 1 or (1, 2)" },
    { .name = NULL },
};

static const sq_optdef crop_opts[] = {
    { .name = "cropping", .type = OPT_INTS, .tuple_len = 2, .def = "(1,1)", .help = "steps cut from the start and the end: 1 or (1, 2)" },
    { .name = NULL },
};

/* normalize_tuple's complaint (Keras 2.9+ wording; 2.6 fails later, in
 * tf.pad or the slicing). */
static int configure(sq_layer *l, const sq_optval *v, sq_error *err)
{
    pad1d_state *st = l->state;
    st->before = v[0].i[0];
    st->after = v[0].i[1];
    if (st->before >= 0 && st->after >= 0)
        return 0;
    char bad[64];
    long lo = st->before < st->after ? st->before : st->after;
    long hi = st->before < st->after ? st->after : st->before;
    if (hi < 0 && hi != lo)
        snprintf(bad, sizeof bad, "%ld, %ld", lo, hi);
    else
        snprintf(bad, sizeof bad, "%ld", lo);
    return sq_fail(err, "The `%s` argument must be a tuple of 2 integers. Received: (%ld, %ld) "
                   "including {%s} that does not satisfy the requirement `>= 0`.",
                   l->kind->opts[0].name, st->before, st->after, bad);
}

static int pad_shape(const sq_layer *l, const sq_shape *in, sq_shape *out, sq_error *err)
{
    const pad1d_state *st = l->state;
    if (in->rank != 3)
        return sq_fail_ndim(err, l, 3, in);
    *out = *in;
    if (in->d[1] >= 0)
        out->d[1] = in->d[1] + st->before + st->after;
    return 0;
}

static int crop_shape(const sq_layer *l, const sq_shape *in, sq_shape *out, sq_error *err)
{
    const pad1d_state *st = l->state;
    char s[128];
    if (in->rank != 3)
        return sq_fail_ndim(err, l, 3, in);
    *out = *in;
    if (in->d[1] < 0)
        return 0;
    out->d[1] = in->d[1] - st->before - st->after;
    if (out->d[1] <= 0)
        return sq_fail(err, "`cropping` parameter of `Cropping1D` layer must be smaller than "
                       "the input length. Received: input_shape=%s, cropping=(%ld, %ld)",
                       sq_shape_str(in, s, sizeof s), st->before, st->after);
    return 0;
}

/* Copies every sample's steps of the shorter tensor (ts steps) into the
 * longer one (tl steps) at step `at`, zeroing the rest: padding forward
 * (short -> long) and cropping backward. */
static void embed(const float *sh, float *lg, long nb, long ts, long tl, long at, long c)
{
    size_t pre = (size_t)(at * c), mid = (size_t)(ts * c), post = (size_t)((tl - at - ts) * c);
    for (long b = 0; b < nb; b++, sh += mid) {
        memset(lg, 0, pre * sizeof *lg);
        lg += pre;
        memcpy(lg, sh, mid * sizeof *lg);
        lg += mid;
        memset(lg, 0, post * sizeof *lg);
        lg += post;
    }
}

/* The other direction: steps [at, at + ts) of every sample of the longer
 * tensor: cropping forward and padding backward. */
static void extract(const float *lg, float *sh, long nb, long ts, long tl, long at, long c)
{
    size_t mid = (size_t)(ts * c);
    for (long b = 0; b < nb; b++, sh += mid)
        memcpy(sh, lg + (size_t)((b * tl + at) * c), mid * sizeof *sh);
}

static void pad_forward(const sq_layer *l, const sq_fwd *f)
{
    const pad1d_state *st = l->state;
    embed(f->in, f->out, f->in_shape->d[0], f->in_shape->d[1], f->out_shape->d[1], st->before,
          f->in_shape->d[2]);
}

static void pad_backward(const sq_layer *l, const sq_bwd *b)
{
    const pad1d_state *st = l->state;
    if (b->din)
        extract(b->dout, b->din, b->in_shape->d[0], b->in_shape->d[1], b->out_shape->d[1],
                st->before, b->in_shape->d[2]);
}

static void crop_forward(const sq_layer *l, const sq_fwd *f)
{
    const pad1d_state *st = l->state;
    extract(f->in, f->out, f->in_shape->d[0], f->out_shape->d[1], f->in_shape->d[1],
            st->before, f->in_shape->d[2]);
}

static void crop_backward(const sq_layer *l, const sq_bwd *b)
{
    const pad1d_state *st = l->state;
    if (b->din)
        embed(b->dout, b->din, b->in_shape->d[0], b->out_shape->d[1], b->in_shape->d[1],
              st->before, b->in_shape->d[2]);
}

static void pad_explain(const sq_layer *l, const sq_shape *in, const sq_shape *out, sbuf *b)
{
    const pad1d_state *st = l->state;
    sq_explain_line(b, "steps", "%ld = %ld + %ld + %ld  (%ld zero steps before, %ld after)",
                    out->d[1], st->before, in->d[1], st->after, st->before, st->after);
    sq_explain_line(b, "channels", "%ld = %ld", out->d[2], in->d[2]);
    sq_explain_no_params(b);
}

static void crop_explain(const sq_layer *l, const sq_shape *in, const sq_shape *out, sbuf *b)
{
    const pad1d_state *st = l->state;
    sq_explain_line(b, "steps", "%ld = %ld - %ld - %ld  (%ld steps cut at the start, %ld at the "
                    "end)", out->d[1], in->d[1], st->before, st->after, st->before, st->after);
    sq_explain_line(b, "channels", "%ld = %ld", out->d[2], in->d[2]);
    sq_explain_no_params(b);
}

const sq_layer_kind sq_kind_zero_padding1d = {
    .class_name = "ZeroPadding1D",
    .base_name = "zero_padding1d",
    .opts = pad_opts,
    .npositional = 1,
    .summary = "adds zero steps at the start and the end of (batch, steps, channels) inputs",
    .state_size = sizeof(pad1d_state),
    .configure = configure,
    .output_shape = pad_shape,
    .forward = pad_forward,
    .backward = pad_backward,
    .shape_rule = "(B, T, C) -> (B, a + T + b, C) for padding (a, b); an int p means (p, p); no params",
    .example = "input 6 2; add zeropadding1d (1,2)",
    .explain = pad_explain,
};

const sq_layer_kind sq_kind_cropping1d = {
    .class_name = "Cropping1D",
    .base_name = "cropping1d",
    .opts = crop_opts,
    .npositional = 1,
    .summary = "cuts steps from the start and the end of (batch, steps, channels) inputs",
    .state_size = sizeof(pad1d_state),
    .configure = configure,
    .output_shape = crop_shape,
    .forward = crop_forward,
    .backward = crop_backward,
    .shape_rule = "(B, T, C) -> (B, T - a - b, C) for cropping (a, b); an int p means (p, p); no params",
    .example = "input 8 3; add cropping1d (2,1)",
    .explain = crop_explain,
};
