/* dense.c - Dense: out = activation(in . kernel + bias) on the last axis,
 * for inputs of any rank >= 2; one GEMM over all leading positions. */
#include <stdio.h>
#include "layers/layer.h"
#include "kernels/blas.h"

typedef struct {
    long units;
    int use_bias;
} dense_state;

static const sq_optdef opts[] = {
    { .name = "units", .type = OPT_INT, .help = "dimensionality of the output space" },
    { .name = "use_bias", .type = OPT_BOOL, .def = "true", .help = "whether the layer uses a bias vector" },
    { .name = NULL },
};

static int configure(sq_layer *l, const sq_optval *v, sq_error *err)
{
    dense_state *st = l->state;
    st->units = v[0].i[0];
    st->use_bias = (int)v[1].i[0];
    if (st->units <= 0)
        return sq_fail(err, "Received an invalid value for `units`, expected a positive "
                       "integer, got %ld.", st->units);
    return 0;
}

static int output_shape(const sq_layer *l, const sq_shape *in, sq_shape *out,
                        sq_error *err)
{
    const dense_state *st = l->state;
    if (in->rank < 2)
        return sq_fail_min_ndim(err, l, 2, in);
    if (in->d[in->rank - 1] < 0)
        return sq_fail(err, "The last dimension of the inputs to `Dense` should be defined. "
                       "Found `None`.");
    *out = *in;
    out->d[in->rank - 1] = st->units;
    return 0;
}

static int weights(const sq_layer *l, const sq_shape *in, sq_weight_spec *w)
{
    const dense_state *st = l->state;
    w[0] = (sq_weight_spec){ "kernel", { 2, { in->d[in->rank - 1], st->units } },
                             INIT_GLOROT_UNIFORM, 1 };
    if (!st->use_bias)
        return 1;
    w[1] = (sq_weight_spec){ "bias", { 1, { st->units } }, INIT_ZEROS, 1 };
    return 2;
}

static void forward(const sq_layer *l, const sq_fwd *f)
{
    const dense_state *st = l->state;
    long d = f->in_shape->d[f->in_shape->rank - 1];
    size_t rows = sq_shape_count(f->in_shape) / (size_t)(d ? d : 1);
    long u = st->units;
    if (st->use_bias) {
        const float *b = f->w + d * u;
        for (size_t r = 0; r < rows; r++)
            for (long j = 0; j < u; j++)
                f->out[r * u + j] = b[j];
    }
    sq_gemm(0, 0, (int)rows, (int)u, (int)d, 1.0f, f->in, (int)d, f->w, (int)u,
            st->use_bias ? 1.0f : 0.0f, f->out, (int)u);
}

static void backward(const sq_layer *l, const sq_bwd *b)
{
    const dense_state *st = l->state;
    long d = b->in_shape->d[b->in_shape->rank - 1];
    size_t rows = sq_shape_count(b->in_shape) / (size_t)(d ? d : 1);
    long u = st->units;
    if (b->dw) {
        /* dkernel = in^T . dout; dbias = column sums of dout */
        sq_gemm(1, 0, (int)d, (int)u, (int)rows, 1.0f, b->in, (int)d, b->dout, (int)u, 0.0f,
                b->dw, (int)u);
        if (st->use_bias) {
            float *db = b->dw + d * u;
            for (long j = 0; j < u; j++)
                db[j] = 0;
            for (size_t r = 0; r < rows; r++)
                for (long j = 0; j < u; j++)
                    db[j] += b->dout[r * u + j];
        }
    }
    if (b->din)
        sq_gemm(0, 1, (int)rows, (int)d, (int)u, 1.0f, b->dout, (int)u, b->w, (int)u, 0.0f,
                b->din, (int)d);
}

/* The units axis, the leading axes Dense leaves alone, and the count. */
static void explain(const sq_layer *l, const sq_shape *in, const sq_shape *out, sbuf *b)
{
    const dense_state *st = l->state;
    long d = in->d[in->rank - 1];
    for (int a = 1; a < in->rank - 1; a++) {
        char lab[16];
        snprintf(lab, sizeof lab, "axis %d", a);
        sq_explain_line(b, lab, "%ld = %ld  (kept: Dense acts on the last axis only)",
                        out->d[a], in->d[a]);
    }
    sq_explain_line(b, "units", "%ld = units", st->units);
    if (st->use_bias)
        sq_explain_line(b, "params", "%zu = (%ld + 1) * %ld  (a weight for each of the %ld "
                        "inputs and a bias, for each of the %ld units)",
                        l->param_count, d, st->units, d, st->units);
    else
        sq_explain_line(b, "params", "%zu = %ld * %ld  (a weight for each of the %ld inputs, "
                        "for each of the %ld units)", l->param_count, d, st->units, d, st->units);
}

static size_t macs(const sq_layer *l, const sq_shape *in, const sq_shape *out, sbuf *why)
{
    (void)l;
    long d = in->d[in->rank - 1];
    char t[32];
    snprintf(t, sizeof t, "%ld", d);
    return sq_macs_dot(out, (size_t)d, t, why);
}

const sq_layer_kind sq_kind_dense = {
    .class_name = "Dense",
    .base_name = "dense",
    .opts = opts,
    .npositional = 1,
    .has_activation = 1,
    .summary = "densely connected layer acting on the last axis",
    .state_size = sizeof(dense_state),
    .configure = configure,
    .output_shape = output_shape,
    .weights = weights,
    .forward = forward,
    .shape_rule = "(B, ..., d) -> (B, ..., units); params d*units + units",
    .example = "input 16; add dense 64 relu",
    .backward = backward,
    .explain = explain,
    .macs = macs,
    .mask = sq_mask_keep,          /* Keras: supports_masking */
};
