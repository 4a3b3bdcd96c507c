/* prelu.c - PReLU: x for x > 0, alpha * x otherwise, with one learned
 * alpha per element of the input shape without the batch (relu(x) -
 * alpha * relu(-x)); shared_axes (1-based) share one alpha along those
 * axes, which then have size 1 in alpha's shape. */
#include <stdio.h>
#include <string.h>
#include "layers/layer.h"
#include "layers/walk.h"

typedef struct {
    int nshared;
    long shared[SQ_MAX_RANK];    /* 1-based axes */
} prelu_state;

/* alpha_initializer (Keras's first argument; zeros) and the regularizer
 * and constraint are not options here. */
static const sq_optdef opts[] = {
    { .name = "shared_axes", .type = OPT_STR, .def = "None", .help = "axes (1-based) that share one alpha, e.g. 1,2 for (batch, rows, cols, channels): one alpha per channel" },
    { .name = NULL },
};

static int configure(sq_layer *l, const sq_optval *v, sq_error *err)
{
    prelu_state *st = l->state;
    st->nshared = 0;
    if (!strcmp(v[0].s, "None"))
        return 0;
    if (sq_parse_ints(v[0].s, st->shared, SQ_MAX_RANK, &st->nshared, err) < 0)
        return -1;
    char *s = l->opt[0].s;
    size_t len = 0;
    for (int i = 0; i < st->nshared; i++) {
        if (st->shared[i] < 1)
            return sq_fail(err, "PReLU: `shared_axes` are 1-based axes after the batch; got %ld",
                           st->shared[i]);
        /* kept as "1,2": one word in a saved model */
        len += (size_t)snprintf(s + len, sizeof l->opt[0].s - len, "%s%ld", i ? "," : "",
                                st->shared[i]);
    }
    return 0;
}

/* alpha's shape for input `in`: in without the batch, shared axes 1. */
static sq_shape alpha_shape(const prelu_state *st, const sq_shape *in)
{
    sq_shape p = { in->rank - 1, { 0 } };
    for (int a = 1; a < in->rank; a++)
        p.d[a - 1] = in->d[a];
    for (int i = 0; i < st->nshared; i++)
        p.d[st->shared[i] - 1] = 1;
    return p;
}

static int output_shape(const sq_layer *l, const sq_shape *in, sq_shape *out,
                        sq_error *err)
{
    const prelu_state *st = l->state;
    char s[128];
    for (int i = 0; i < st->nshared; i++)
        if (st->shared[i] >= in->rank)
            return sq_fail(err, "PReLU: shared axis %ld does not exist in input shape %s",
                           st->shared[i], sq_shape_str(in, s, sizeof s));
    sq_shape p = alpha_shape(st, in);
    for (int a = 0; a < p.rank; a++)
        if (p.d[a] < 0)
            return sq_fail(err, "PReLU: axis %d of input shape %s needs a known size (or "
                           "shared_axes) for alpha's shape", a + 1, sq_shape_str(in, s, sizeof s));
    *out = *in;
    return 0;
}

static int weights(const sq_layer *l, const sq_shape *in, sq_weight_spec *w)
{
    w[0] = (sq_weight_spec){ "alpha", alpha_shape(l->state, in), INIT_ZEROS, 1 };
    return 1;
}

/* A walk over one sample whose offset is the index of its alpha. */
static void alpha_walk(const prelu_state *st, const sq_shape *in, sq_walk *w)
{
    sq_shape p = alpha_shape(st, in);
    long stride[SQ_MAX_RANK];
    sq_walk_strides(p.rank, p.d, stride);
    for (int a = 0; a < p.rank; a++)
        if (p.d[a] == 1)
            stride[a] = 0;
    sq_walk_init(w, p.rank, in->d + 1, stride);
}

static void forward(const sq_layer *l, const sq_fwd *f)
{
    long nb = f->in_shape->d[0];
    size_t per = nb ? sq_shape_count(f->in_shape) / (size_t)nb : 0;
    sq_walk w;
    alpha_walk(l->state, f->in_shape, &w);
    const float *x = f->in;
    float *y = f->out;
    /* relu(x) - alpha * relu(-x), as Keras writes it (0 - 0 is +0) */
    for (long b = 0; b < nb; b++)
        for (size_t e = 0; e < per; e++, x++, y++, sq_walk_next(&w))
            *y = (*x > 0 ? *x : 0.0f) - f->w[w.off] * (*x < 0 ? -*x : 0.0f);
}

/* dx = dy for x > 0, alpha * dy otherwise; dalpha = sum of dy * min(x, 0)
 * over the batch and the shared axes. */
static void backward(const sq_layer *l, const sq_bwd *b)
{
    long nb = b->in_shape->d[0];
    size_t per = nb ? sq_shape_count(b->in_shape) / (size_t)nb : 0;
    if (b->dw) {
        sq_shape p = alpha_shape(l->state, b->in_shape);
        memset(b->dw, 0, sq_shape_count(&p) * sizeof *b->dw);
    }
    sq_walk w;
    alpha_walk(l->state, b->in_shape, &w);
    for (size_t i = 0, n = (size_t)nb * per; i < n; i++, sq_walk_next(&w)) {
        float x = b->in[i], dy = b->dout[i];
        if (b->din)
            b->din[i] = x > 0 ? dy : b->w[w.off] * dy;
        if (b->dw && x < 0)
            b->dw[w.off] += dy * x;
    }
}

static void explain(const sq_layer *l, const sq_shape *in, const sq_shape *out, sbuf *b)
{
    const prelu_state *st = l->state;
    sq_shape p = alpha_shape(st, in);
    char t[128], shp[128];
    size_t k = 0;
    (void)out;
    for (int a = 0; a < p.rank; a++)
        k += (size_t)snprintf(t + k, sizeof t - k, "%s%ld", a ? "*" : "", p.d[a]);
    sq_explain_line(b, "shape", "the same as the input (x for x > 0, alpha * x otherwise)");
    sq_explain_line(b, "params", "%zu = %s  (alpha %s: one slope per value%s)", l->param_count, t,
                    sq_shape_str(&p, shp, sizeof shp),
                    st->nshared ? ", shared along shared_axes" : "");
}

static size_t macs(const sq_layer *l, const sq_shape *in, const sq_shape *out, sbuf *why)
{
    (void)l;
    (void)in;
    return sq_macs_each(out, 1, "alpha times each value, counted for every value", why);
}

const sq_layer_kind sq_kind_p_re_lu = {
    .class_name = "PReLU",
    .base_name = "p_re_lu",
    .opts = opts,
    .npositional = 0,
    .summary = "x for x > 0, alpha * x otherwise, with alpha learned per element (or shared along axes)",
    .state_size = sizeof(prelu_state),
    .configure = configure,
    .output_shape = output_shape,
    .weights = weights,
    .forward = forward,
    .backward = backward,
    .shape_rule = "unchanged; alpha has the input shape without the batch, size 1 along shared_axes: params = product of those sizes",
    .example = "input 6 4; add conv1d 4 3; add prelu shared_axes=1",
    .explain = explain,
    .macs = macs,
    .mask = sq_mask_keep,          /* Keras: supports_masking */
};
