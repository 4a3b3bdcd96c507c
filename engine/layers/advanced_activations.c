/* advanced_activations.c - the activation layers with options of their own
 * (Keras's advanced_activations.py): LeakyReLU(alpha), ELU(alpha),
 * ReLU(max_value, negative_slope, threshold), ThresholdedReLU(theta) and
 * Softmax(axis). Shapes pass through; no weights (PReLU, which has some,
 * is in prelu.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "layers/layer.h"
#include "layers/walk.h"

/* A number as Python's %s prints it: the shortest text that reads back
 * to the same double ("-10", "-0.5"). */
static const char *py_num(double v, char *buf, size_t n)
{
    for (int p = 1; p <= 17; p++) {
        snprintf(buf, n, "%.*g", p, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    return buf;
}

static int passthrough_shape(const sq_layer *l, const sq_shape *in, sq_shape *out,
                             sq_error *err)
{
    (void)l;
    (void)err;
    *out = *in;
    return 0;
}

/* ---- LeakyReLU, ELU, ThresholdedReLU: one float each -------------------- */

typedef struct {
    float a;          /* LeakyReLU's and ELU's alpha, ThresholdedReLU's theta */
} one_state;

static const sq_optdef leaky_opts[] = {
    { .name = "alpha", .type = OPT_FLOAT, .def = "0.3", .help = "slope for x < 0" },
    { .name = NULL },
};

static const sq_optdef elu_opts[] = {
    { .name = "alpha", .type = OPT_FLOAT, .def = "1.0", .help = "scale of exp(x) - 1 for x <= 0" },
    { .name = NULL },
};

static const sq_optdef thresholded_opts[] = {
    { .name = "theta", .type = OPT_FLOAT, .def = "1.0", .help = "threshold: x where x > theta, else 0 (>= 0)" },
    { .name = NULL },
};

static int configure_one(sq_layer *l, const sq_optval *v, sq_error *err)
{
    one_state *st = l->state;
    (void)err;
    st->a = (float)v[0].f;
    return 0;
}

static int configure_thresholded(sq_layer *l, const sq_optval *v, sq_error *err)
{
    char t[40];
    if (v[0].f < 0)
        return sq_fail(err, "The theta value of a Thresholded ReLU layer should be >=0, got %s",
                       py_num(v[0].f, t, sizeof t));
    return configure_one(l, v, err);
}

/* tf.nn.leaky_relu, or tf.nn.relu when alpha is 0 (backend.relu's choice:
 * x * 0 would print as -0 where relu gives 0). */
static void leaky_forward(const sq_layer *l, const sq_fwd *f)
{
    float a = ((const one_state *)l->state)->a;
    size_t n = sq_shape_count(f->in_shape);
    for (size_t i = 0; i < n; i++)
        f->out[i] = f->in[i] > 0 ? f->in[i] : a != 0 ? a * f->in[i] : 0.0f;
}

static void leaky_backward(const sq_layer *l, const sq_bwd *b)
{
    float a = ((const one_state *)l->state)->a;
    size_t n = sq_shape_count(b->in_shape);
    if (b->din)
        for (size_t i = 0; i < n; i++)
            b->din[i] = b->in[i] > 0 ? b->dout[i] : a * b->dout[i];
}

/* alpha * (exp(x) - 1) for x <= 0 (backend.elu: tf.nn.elu scaled). */
static void elu_forward(const sq_layer *l, const sq_fwd *f)
{
    float a = ((const one_state *)l->state)->a;
    size_t n = sq_shape_count(f->in_shape);
    for (size_t i = 0; i < n; i++)
        f->out[i] = f->in[i] > 0 ? f->in[i] : a * expm1f(f->in[i]);
}

static void elu_backward(const sq_layer *l, const sq_bwd *b)
{
    float a = ((const one_state *)l->state)->a;
    size_t n = sq_shape_count(b->in_shape);
    if (b->din)
        for (size_t i = 0; i < n; i++)
            b->din[i] = b->in[i] > 0 ? b->dout[i] : a * expf(b->in[i]) * b->dout[i];
}

/* x * (x > theta), a product as in Keras (negative x give -0) */
static void thresholded_forward(const sq_layer *l, const sq_fwd *f)
{
    float t = ((const one_state *)l->state)->a;
    size_t n = sq_shape_count(f->in_shape);
    for (size_t i = 0; i < n; i++)
        f->out[i] = f->in[i] * (f->in[i] > t ? 1.0f : 0.0f);
}

static void thresholded_backward(const sq_layer *l, const sq_bwd *b)
{
    float t = ((const one_state *)l->state)->a;
    size_t n = sq_shape_count(b->in_shape);
    if (b->din)
        for (size_t i = 0; i < n; i++)
            b->din[i] = b->in[i] > t ? b->dout[i] : 0.0f;
}

/* ---- ReLU ------------------------------------------------------------ */

typedef struct {
    int clip;         /* max_value is not None */
    float max;        /* max_value */
    float slope;      /* negative_slope */
    float thr;        /* threshold */
} relu_state;

/* Keras's constructor order: max_value, negative_slope, threshold. */
static const sq_optdef relu_opts[] = {
    { .name = "max_value", .type = OPT_STR, .def = "None", .help = "largest output, a number >= 0, or None (no limit)" },
    { .name = "negative_slope", .type = OPT_FLOAT, .def = "0", .help = "slope below the threshold (>= 0)" },
    { .name = "threshold", .type = OPT_FLOAT, .def = "0", .help = "inputs up to it give negative_slope * (x - threshold) (>= 0)" },
    { .name = NULL },
};

static int configure_relu(sq_layer *l, const sq_optval *v, sq_error *err)
{
    relu_state *st = l->state;
    char t[40];
    double mv = 0;
    st->clip = strcmp(v[0].s, "None") != 0;
    if (st->clip) {
        char *end;
        mv = strtod(v[0].s, &end);
        if (end == v[0].s || *end || !isfinite(mv))
            return sq_fail(err, "ReLU: `max_value` must be a number or None, got '%s'", v[0].s);
        if (mv < 0)
            return sq_fail(err, "max_value of a ReLU layer cannot be a negative value. Got: %s",
                           py_num(mv, t, sizeof t));
    }
    if (v[1].f < 0)
        return sq_fail(err, "negative_slope of a ReLU layer cannot be a negative value. Got: %s",
                       py_num(v[1].f, t, sizeof t));
    if (v[2].f < 0)
        return sq_fail(err, "threshold of a ReLU layer cannot be a negative value. Got: %s",
                       py_num(v[2].f, t, sizeof t));
    st->max = (float)mv;
    st->slope = (float)v[1].f;
    st->thr = (float)v[2].f;
    return 0;
}

/* backend.relu(x, alpha=negative_slope, max_value, threshold): above the
 * threshold min(x, max_value), at or below it negative_slope * (x -
 * threshold); exactly at the threshold 0. Computed in backend.relu's steps
 * (tf.nn.leaky_relu when only the slope is set; otherwise x * (x >
 * threshold) or relu, clipped to [0, max_value], minus slope * relu(threshold
 * - x)), so that even the signs of zeros come out as Keras prints them. */
static void relu_forward(const sq_layer *l, const sq_fwd *f)
{
    const relu_state *st = l->state;
    size_t n = sq_shape_count(f->in_shape);
    int leaky = st->slope != 0 && !st->clip && st->thr == 0;
    for (size_t i = 0; i < n; i++) {
        float x = f->in[i], v;
        if (leaky) {
            f->out[i] = x > 0 ? x : x * st->slope;
            continue;
        }
        if (st->thr != 0)
            v = x * (x > st->thr ? 1.0f : 0.0f);
        else
            v = x > 0 ? x : 0.0f;
        if (st->clip) {
            if (v > st->max)
                v = st->max;
            if (v < 0)
                v = 0;
        }
        if (st->slope != 0) {
            float neg = st->thr - x;
            v -= st->slope * (neg > 0 ? neg : 0.0f);
        }
        f->out[i] = v;
    }
}

static void relu_backward(const sq_layer *l, const sq_bwd *b)
{
    const relu_state *st = l->state;
    size_t n = sq_shape_count(b->in_shape);
    if (!b->din)
        return;
    for (size_t i = 0; i < n; i++) {
        float x = b->in[i];
        if (x > st->thr)
            b->din[i] = st->clip && x > st->max ? 0.0f : b->dout[i];
        else
            b->din[i] = st->slope * b->dout[i];
    }
}

/* ---- Softmax ----------------------------------------------------------- */

typedef struct {
    long axis;        /* as given */
} softmax_state;

static const sq_optdef softmax_opts[] = {
    { .name = "axis", .type = OPT_INT, .def = "-1", .help = "the axis the outputs sum to 1 along" },
    { .name = NULL },
};

static int configure_softmax(sq_layer *l, const sq_optval *v, sq_error *err)
{
    softmax_state *st = l->state;
    (void)err;
    st->axis = v[0].i[0];
    return 0;
}

/* tf.nn.softmax's check (skipped for the last axis), then seqsh's: the
 * batch axis would mix samples that run in separate chunks. */
static int softmax_shape(const sq_layer *l, const sq_shape *in, sq_shape *out, sq_error *err)
{
    const softmax_state *st = l->state;
    long a = st->axis, r = in->rank;
    if (a != -1 && a != r - 1 && (a < -r || a >= r))
        return sq_fail(err, "Dimension (%ld) must be in the range [%ld, %ld) where %ld is the "
                       "number of dimensions in the input.", a, -r, r, r);
    if (a == 0 || a == -r) {
        char s[128];
        return sq_fail(err, "Softmax in seqsh works within each sample: axis %ld is the batch "
                       "axis of input shape %s", a, sq_shape_str(in, s, sizeof s));
    }
    *out = *in;
    return 0;
}

/* Walks: `outer` over the start of every row along the axis, `inner`
 * along one row. */
static void softmax_plan(const softmax_state *st, const sq_shape *in, sq_walk *outer,
                         sq_walk *inner, size_t *rows, long *len)
{
    long ax = st->axis < 0 ? st->axis + in->rank : st->axis;
    long stride[SQ_MAX_RANK], od[SQ_MAX_RANK], os[SQ_MAX_RANK];
    int no = 0;
    sq_walk_strides(in->rank, in->d, stride);
    *rows = 1;
    for (int a = 0; a < in->rank; a++) {
        if (a == ax)
            continue;
        od[no] = in->d[a];
        os[no++] = stride[a];
        *rows *= (size_t)in->d[a];
    }
    *len = in->d[ax];
    sq_walk_init(outer, no, od, os);
    sq_walk_init(inner, 1, &in->d[ax], &stride[ax]);
}

static void softmax_forward(const sq_layer *l, const sq_fwd *f)
{
    sq_walk outer, in;
    size_t rows;
    long len;
    softmax_plan(l->state, f->in_shape, &outer, &in, &rows, &len);
    for (size_t r = 0; r < rows; r++, sq_walk_next(&outer)) {
        const float *x = f->in + outer.off;
        float *y = f->out + outer.off;
        float mx = x[0];
        for (long j = 0; j < len; j++, sq_walk_next(&in))
            mx = x[in.off] > mx ? x[in.off] : mx;
        double sum = 0;
        for (long j = 0; j < len; j++, sq_walk_next(&in))
            sum += exp((double)x[in.off] - mx);
        for (long j = 0; j < len; j++, sq_walk_next(&in))
            y[in.off] = (float)(exp((double)x[in.off] - mx) / sum);
    }
}

/* dx = y * (dy - sum(dy * y)) along each row. */
static void softmax_backward(const sq_layer *l, const sq_bwd *b)
{
    if (!b->din)
        return;
    sq_walk outer, in;
    size_t rows;
    long len;
    softmax_plan(l->state, b->in_shape, &outer, &in, &rows, &len);
    for (size_t r = 0; r < rows; r++, sq_walk_next(&outer)) {
        const float *y = b->out + outer.off, *dy = b->dout + outer.off;
        float *dx = b->din + outer.off;
        double dot = 0;
        for (long j = 0; j < len; j++, sq_walk_next(&in))
            dot += (double)dy[in.off] * y[in.off];
        for (long j = 0; j < len; j++, sq_walk_next(&in))
            dx[in.off] = (float)(y[in.off] * (dy[in.off] - dot));
    }
}

/* ---- explain ------------------------------------------------------------- */

static void leaky_explain(const sq_layer *l, const sq_shape *in, const sq_shape *out, sbuf *b)
{
    const one_state *st = l->state;
    char what[96];
    (void)in;
    (void)out;
    snprintf(what, sizeof what, "x for x > 0, %g * x otherwise, value by value", st->a);
    sq_explain_same_shape(b, what);
}

static void elu_explain(const sq_layer *l, const sq_shape *in, const sq_shape *out, sbuf *b)
{
    const one_state *st = l->state;
    char what[96];
    (void)in;
    (void)out;
    snprintf(what, sizeof what, "x for x > 0, %g * (exp(x) - 1) otherwise, value by value",
             st->a);
    sq_explain_same_shape(b, what);
}

static void thresholded_explain(const sq_layer *l, const sq_shape *in, const sq_shape *out,
                                sbuf *b)
{
    const one_state *st = l->state;
    char what[96];
    (void)in;
    (void)out;
    snprintf(what, sizeof what, "x for x > %g, 0 otherwise, value by value", st->a);
    sq_explain_same_shape(b, what);
}

static void relu_explain(const sq_layer *l, const sq_shape *in, const sq_shape *out, sbuf *b)
{
    const relu_state *st = l->state;
    char what[160], cap[48] = "";
    (void)in;
    (void)out;
    if (st->clip)
        snprintf(cap, sizeof cap, "min(x, %g)", st->max);
    snprintf(what, sizeof what, "%s for x >= %g, %g * (x - %g) otherwise, value by value",
             st->clip ? cap : "x", st->thr, st->slope, st->thr);
    sq_explain_same_shape(b, what);
}

static void softmax_explain(const sq_layer *l, const sq_shape *in, const sq_shape *out, sbuf *b)
{
    const softmax_state *st = l->state;
    char what[128];
    (void)out;
    long ax = st->axis < 0 ? st->axis + in->rank : st->axis;
    snprintf(what, sizeof what, "exp(x) / sum(exp(x)) along axis %ld: its %ld values sum to 1",
             st->axis, ax >= 0 && ax < in->rank ? in->d[ax] : -1L);
    sq_explain_same_shape(b, what);
}

/* ---- the kinds ----------------------------------------------------------- */

const sq_layer_kind sq_kind_leaky_re_lu = {
    .class_name = "LeakyReLU",
    .base_name = "leaky_re_lu",
    .opts = leaky_opts,
    .npositional = 1,
    .summary = "x for x > 0, alpha * x otherwise",
    .state_size = sizeof(one_state),
    .configure = configure_one,
    .output_shape = passthrough_shape,
    .forward = leaky_forward,
    .backward = leaky_backward,
    .shape_rule = "unchanged; no params",
    .example = "input 8; add dense 8; add leakyrelu 0.1",
    .explain = leaky_explain,
    .mask = sq_mask_keep,          /* Keras: supports_masking */
};

const sq_layer_kind sq_kind_elu = {
    .class_name = "ELU",
    .base_name = "elu",
    .opts = elu_opts,
    .npositional = 1,
    .summary = "x for x > 0, alpha * (exp(x) - 1) otherwise",
    .state_size = sizeof(one_state),
    .configure = configure_one,
    .output_shape = passthrough_shape,
    .forward = elu_forward,
    .backward = elu_backward,
    .shape_rule = "unchanged; no params",
    .example = "input 8; add dense 8; add elu alpha=0.5",
    .explain = elu_explain,
    .mask = sq_mask_keep,          /* Keras: supports_masking */
};

const sq_layer_kind sq_kind_re_lu = {
    .class_name = "ReLU",
    .base_name = "re_lu",
    .opts = relu_opts,
    .npositional = 3,
    .summary = "min(x, max_value) above threshold, negative_slope * (x - threshold) otherwise",
    .state_size = sizeof(relu_state),
    .configure = configure_relu,
    .output_shape = passthrough_shape,
    .forward = relu_forward,
    .backward = relu_backward,
    .shape_rule = "unchanged; no params",
    .example = "input 8; add dense 8; add relu 6 negative_slope=0.1",
    .explain = relu_explain,
    .mask = sq_mask_keep,          /* Keras: supports_masking */
};

const sq_layer_kind sq_kind_thresholded_re_lu = {
    .class_name = "ThresholdedReLU",
    .base_name = "thresholded_re_lu",
    .opts = thresholded_opts,
    .npositional = 1,
    .summary = "x for x > theta, 0 otherwise",
    .state_size = sizeof(one_state),
    .configure = configure_thresholded,
    .output_shape = passthrough_shape,
    .forward = thresholded_forward,
    .backward = thresholded_backward,
    .shape_rule = "unchanged; no params",
    .example = "input 8; add dense 8; add thresholdedrelu 0.5",
    .explain = thresholded_explain,
    .mask = sq_mask_keep,          /* Keras: supports_masking */
};

/* Keras 2.6's Softmax.call takes its input's mask and adds -1e9 where it is
 * 0 (for attention scores, whose mask has the scores' shape): a layer
 * mask, one value per row of (B, ..., d), meets the input right-aligned,
 * its last axis against d. TensorFlow refuses the shapes unless they
 * broadcast ("Dimensions must be equal"), and where they do the rows'
 * mask lands on other samples and steps; seqsh computes neither. */
static int softmax_mask_check(const sq_layer *l, const sq_shape *in, sq_error *err)
{
    char a[128], b[128];
    sq_shape m = *in;
    m.rank--;
    sq_shape_str(in, a, sizeof a);
    sq_shape_str(&m, b, sizeof b);
    for (int i = in->rank - 1, j = m.rank - 1; j >= 0; i--, j--) {
        long x = in->d[i], y = m.d[j];
        if (x > 0 && y > 0 && x != y && x != 1 && y != 1)
            return sq_fail(err, "Dimensions must be equal, but are %ld and %ld (layer %s: "
                           "Keras 2.6's Softmax adds its input's mask, of shape %s, to its "
                           "input, of shape %s, aligned at the last axis; use the activation "
                           "softmax instead, which takes no mask)", x, y, l->name, b, a);
    }
    return sq_fail(err, "layer %s: Keras 2.6's Softmax adds its input's mask, of shape %s, to "
                   "its input, of shape %s, aligned at the last axis, which puts the mask of "
                   "one row on others; seqsh does not compute that: use the activation softmax "
                   "instead, which takes no mask", l->name, b, a);
}

const sq_layer_kind sq_kind_softmax = {
    .class_name = "Softmax",
    .base_name = "softmax",
    .opts = softmax_opts,
    .npositional = 1,
    .summary = "exp(x) / sum(exp(x)) along an axis (the last by default)",
    .state_size = sizeof(softmax_state),
    .configure = configure_softmax,
    .output_shape = softmax_shape,
    .forward = softmax_forward,
    .backward = softmax_backward,
    .shape_rule = "unchanged; no params",
    .example = "input 5 3; add softmax axis=1",
    .explain = softmax_explain,
    .mask = sq_mask_keep,          /* Keras: supports_masking */
    .mask_check = softmax_mask_check,
};
