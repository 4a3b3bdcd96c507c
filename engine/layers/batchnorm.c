/* batchnorm.c - BatchNormalization on the last axis, inference form:
 * y = gamma * (x - moving_mean) / sqrt(moving_variance + epsilon) + beta. */
#include <math.h>
#include "../internal.h"

typedef struct {
    long axis;        /* as given; only the last axis is supported */
    double momentum;  /* for the moving statistics once training exists */
    double epsilon;
    int center;       /* has beta */
    int scale;        /* has gamma */
} bn_state;

static const sq_optdef opts[] = {
    { "axis", OPT_INT, 0, "-1", "the features axis; only -1 (the last) is supported" },
    { "momentum", OPT_FLOAT, 0, "0.99", "momentum of the moving mean and variance" },
    { "epsilon", OPT_FLOAT, 0, "0.001", "small number added to the variance" },
    { "center", OPT_BOOL, 0, "true", "whether to add the offset beta" },
    { "scale", OPT_BOOL, 0, "true", "whether to multiply by gamma" },
    { NULL, 0, 0, NULL, NULL },
};

static int configure(sq_layer *l, const sq_optval *v, sq_error *err)
{
    bn_state *st = l->state;
    (void)err;
    st->axis = v[0].i[0];
    st->momentum = v[1].f;
    st->epsilon = v[2].f;
    st->center = (int)v[3].i[0];
    st->scale = (int)v[4].i[0];
    return 0;
}

static int output_shape(const sq_layer *l, const sq_shape *in, sq_shape *out,
                        sq_error *err)
{
    const bn_state *st = l->state;
    char s[128];
    long ax = st->axis < 0 ? in->rank + st->axis : st->axis;
    if (ax < 0 || ax >= in->rank)
        return sq_fail(err, "Invalid axis: [%ld]", ax);
    if (in->d[ax] < 0)
        return sq_fail(err, "Input has undefined `axis` dimension. Received input with shape "
                       "%s. Axis value: [%ld]", sq_shape_str(in, s, sizeof s), ax);
    if (ax == 0 || ax != in->rank - 1)
        return sq_fail(err, "BatchNormalization in seqsh normalises the last axis of inputs of "
                       "rank >= 2 only: only axis=-1 is supported (got axis=%ld for input "
                       "shape %s)", st->axis, sq_shape_str(in, s, sizeof s));
    *out = *in;
    return 0;
}

static int weights(const sq_layer *l, const sq_shape *in, sq_weight_spec *w)
{
    const bn_state *st = l->state;
    sq_shape c = { 1, { in->d[in->rank - 1] } };
    int n = 0;
    if (st->scale)
        w[n++] = (sq_weight_spec){ "gamma", c, INIT_ONES, 1 };
    if (st->center)
        w[n++] = (sq_weight_spec){ "beta", c, INIT_ZEROS, 1 };
    w[n++] = (sq_weight_spec){ "moving_mean", c, INIT_ZEROS, 0 };
    w[n++] = (sq_weight_spec){ "moving_variance", c, INIT_ONES, 0 };
    return n;
}

/* Per-channel multiplier and offset. */
static size_t scratch(const sq_layer *l, const sq_shape *in)
{
    (void)l;
    return 2 * (size_t)in->d[in->rank - 1];
}

static void forward(const sq_layer *l, const sq_fwd *f)
{
    const bn_state *st = l->state;
    long c = f->in_shape->d[f->in_shape->rank - 1];
    size_t rows = sq_shape_count(f->in_shape) / (size_t)(c ? c : 1);
    const float *p = f->w;
    const float *gamma = st->scale ? p : NULL;
    p += st->scale ? c : 0;
    const float *beta = st->center ? p : NULL;
    p += st->center ? c : 0;
    const float *mean = p, *var = p + c;
    float *mul = f->scratch, *add = f->scratch + c;
    /* TODO(training): with f->training set, Keras normalises by the batch's
     * own mean and variance and updates the moving statistics with
     * `momentum`. Training is not implemented yet, so both modes use the
     * moving statistics (Keras's inference behaviour). */
    for (long j = 0; j < c; j++) {
        double a = 1.0 / sqrt((double)var[j] + st->epsilon);
        if (gamma)
            a *= gamma[j];
        mul[j] = (float)a;
        add[j] = (float)((beta ? beta[j] : 0.0) - mean[j] * a);
    }
    const float *x = f->in;
    float *y = f->out;
    for (size_t r = 0; r < rows; r++, x += c, y += c)
        for (long j = 0; j < c; j++)
            y[j] = x[j] * mul[j] + add[j];
}

const sq_layer_kind sq_kind_batch_normalization = {
    .class_name = "BatchNormalization",
    .base_name = "batch_normalization",
    .opts = opts,
    .npositional = 1,
    .has_activation = 0,
    .summary = "normalises the last axis with learned scale/offset and moving statistics",
    .state_size = sizeof(bn_state),
    .configure = configure,
    .output_shape = output_shape,
    .weights = weights,
    .scratch = scratch,
    .forward = forward,
    .shape_rule = "unchanged; params 4*C (gamma, beta trainable; moving_mean, moving_variance not)",
    .example = "add batchnormalization",
};
