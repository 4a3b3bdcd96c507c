/* layernorm.c - LayerNormalization: each sample normalised over the given
 * axes (the last by default) by its own mean and biased variance, then
 * y = gamma * (x - mean) / sqrt(variance + epsilon) + beta, with gamma and
 * beta shaped like the normalised axes. The same in training and at
 * inference. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "layers/layer.h"
#include "layers/walk.h"

typedef struct {
    int n;                       /* axes given */
    long axis[SQ_MAX_RANK];      /* as given (negative counts from the end) */
    double epsilon;
    int center;                  /* has beta */
    int scale;                   /* has gamma */
} ln_state;

/* Keras's constructor order: axis, epsilon, center, scale. */
static const sq_optdef opts[] = {
    { .name = "axis", .type = OPT_STR, .def = "-1", .help = "the axis or axes to normalise over: -1 or (1, 2)" },
    { .name = "epsilon", .type = OPT_FLOAT, .def = "0.001", .help = "small number added to the variance" },
    { .name = "center", .type = OPT_BOOL, .def = "true", .help = "whether to add the offset beta" },
    { .name = "scale", .type = OPT_BOOL, .def = "true", .help = "whether to multiply by gamma" },
    { .name = NULL },
};

static int configure(sq_layer *l, const sq_optval *v, sq_error *err)
{
    ln_state *st = l->state;
    if (sq_parse_ints(v[0].s, st->axis, SQ_MAX_RANK, &st->n, err) < 0)
        return -1;
    st->epsilon = v[1].f;
    st->center = (int)v[2].i[0];
    st->scale = (int)v[3].i[0];
    /* kept as "-1" or "1,2": one word in a saved model */
    char *s = l->opt[0].s;
    size_t len = 0;
    for (int i = 0; i < st->n; i++)
        len += (size_t)snprintf(s + len, sizeof l->opt[0].s - len, "%s%ld", i ? "," : "",
                                st->axis[i]);
    return 0;
}

/* The axes resolved against a rank (LayerNormalization.build's checks, in
 * its order), in the order given; *norm[a] = 1 for a normalised axis. */
static int resolve(const sq_layer *l, const sq_shape *in, long *ax, int *norm, sq_error *err)
{
    const ln_state *st = l->state;
    char s[128];
    for (int i = 0; i < st->n; i++)
        ax[i] = st->axis[i] < 0 ? st->axis[i] + in->rank : st->axis[i];
    for (int i = 0; i < st->n; i++)
        if (ax[i] < 0 || ax[i] >= in->rank)
            return sq_fail(err, "Invalid axis: %ld", ax[i]);
    memset(norm, 0, SQ_MAX_RANK * sizeof *norm);
    for (int i = 0; i < st->n; i++) {
        if (norm[ax[i]]) {
            sq_shape t = { st->n, { 0 } };
            memcpy(t.d, ax, (size_t)st->n * sizeof *ax);
            return sq_fail(err, "Duplicate axis: %s", sq_shape_str(&t, s, sizeof s));
        }
        norm[ax[i]] = 1;
    }
    if (norm[0])
        return sq_fail(err, "LayerNormalization in seqsh normalises each sample on its own: "
                       "axis 0 (the batch) cannot be one of the axes (input shape %s)",
                       sq_shape_str(in, s, sizeof s));
    for (int i = 0; i < st->n; i++)
        if (in->d[ax[i]] < 0)
            return sq_fail(err, "LayerNormalization: axis %ld of input shape %s must have a "
                           "known size", ax[i], sq_shape_str(in, s, sizeof s));
    return 0;
}

static int output_shape(const sq_layer *l, const sq_shape *in, sq_shape *out,
                        sq_error *err)
{
    long ax[SQ_MAX_RANK];
    int norm[SQ_MAX_RANK];
    if (resolve(l, in, ax, norm, err) < 0)
        return -1;
    *out = *in;
    return 0;
}

static int weights(const sq_layer *l, const sq_shape *in, sq_weight_spec *w)
{
    const ln_state *st = l->state;
    long ax[SQ_MAX_RANK];
    int norm[SQ_MAX_RANK];
    sq_error err;
    if (resolve(l, in, ax, norm, &err) < 0)
        return 0;
    sq_shape p = { st->n, { 0 } };
    for (int i = 0; i < st->n; i++)
        p.d[i] = in->d[ax[i]];
    int n = 0;
    if (st->scale)
        w[n++] = (sq_weight_spec){ "gamma", p, INIT_ONES, 1 };
    if (st->center)
        w[n++] = (sq_weight_spec){ "beta", p, INIT_ZEROS, 1 };
    return n;
}

/* The groups (one mean and variance each) and their elements: `outer`
 * walks the group starts over the batch and the other axes, `inner` the
 * elements of a group over the normalised axes in order, which is also
 * the order of gamma's and beta's values (Keras reshapes them onto the
 * input's axes). */
typedef struct {
    sq_walk outer, inner;
    size_t groups, size;         /* groups in the batch, elements in a group */
} ln_plan;

static void plan(const sq_layer *l, const sq_shape *in, ln_plan *p)
{
    long ax[SQ_MAX_RANK], stride[SQ_MAX_RANK], od[SQ_MAX_RANK], os[SQ_MAX_RANK];
    long id[SQ_MAX_RANK], is[SQ_MAX_RANK];
    int norm[SQ_MAX_RANK], no = 0, ni = 0;
    sq_error err;
    resolve(l, in, ax, norm, &err);  /* checked by output_shape */
    sq_walk_strides(in->rank, in->d, stride);
    p->groups = 1;
    p->size = 1;
    for (int a = 0; a < in->rank; a++) {
        if (norm[a]) {
            id[ni] = in->d[a];
            is[ni++] = stride[a];
            p->size *= (size_t)in->d[a];
        } else {
            od[no] = in->d[a];
            os[no++] = stride[a];
            p->groups *= (size_t)in->d[a];
        }
    }
    sq_walk_init(&p->outer, no, od, os);
    sq_walk_init(&p->inner, ni, id, is);
}

/* Kept for backward: each group's mean and 1/sqrt(variance + epsilon). */
static size_t cache(const sq_layer *l, const sq_shape *in)
{
    ln_plan p;
    plan(l, in, &p);
    return 2 * p.groups;
}

static void forward(const sq_layer *l, const sq_fwd *f)
{
    const ln_state *st = l->state;
    ln_plan p;
    plan(l, f->in_shape, &p);
    const float *gamma = st->scale ? f->w : NULL;
    const float *beta = st->center ? f->w + (st->scale ? p.size : 0) : NULL;
    double n = (double)p.size;
    for (size_t g = 0; g < p.groups; g++, sq_walk_next(&p.outer)) {
        const float *x = f->in + p.outer.off;
        float *y = f->out + p.outer.off;
        sq_walk *w = &p.inner;
        double sum = 0, sq = 0;
        for (size_t e = 0; e < p.size; e++, sq_walk_next(w))
            sum += x[w->off];
        double mean = sum / n;
        for (size_t e = 0; e < p.size; e++, sq_walk_next(w)) {
            double d = x[w->off] - mean;
            sq += d * d;
        }
        double inv = 1.0 / sqrt(sq / n + st->epsilon);
        for (size_t e = 0; e < p.size; e++, sq_walk_next(w)) {
            double v = (x[w->off] - mean) * inv;
            if (gamma)
                v *= gamma[e];
            if (beta)
                v += beta[e];
            y[w->off] = (float)v;
        }
        if (f->cache) {
            f->cache[2 * g] = (float)mean;
            f->cache[2 * g + 1] = (float)inv;
        }
    }
}

/* Per group, with x_hat = (x - mean) * inv, g = dy * gamma and N elements:
 *   dx = inv * (g - sum(g) / N - x_hat * sum(g * x_hat) / N);
 * over all groups, dgamma = sum(dy * x_hat), dbeta = sum(dy). */
static void backward(const sq_layer *l, const sq_bwd *b)
{
    const ln_state *st = l->state;
    ln_plan p;
    plan(l, b->in_shape, &p);
    const float *gamma = st->scale ? b->w : NULL;
    float *dgamma = b->dw && st->scale ? b->dw : NULL;
    float *dbeta = b->dw && st->center ? b->dw + (st->scale ? p.size : 0) : NULL;
    if (b->dw)
        memset(b->dw, 0, (size_t)(st->scale + st->center) * p.size * sizeof *b->dw);
    double n = (double)p.size;
    for (size_t g = 0; g < p.groups; g++, sq_walk_next(&p.outer)) {
        const float *x = b->in + p.outer.off, *dy = b->dout + p.outer.off;
        double mean = b->cache[2 * g], inv = b->cache[2 * g + 1];
        sq_walk *w = &p.inner;
        double s1 = 0, s2 = 0;
        for (size_t e = 0; e < p.size; e++, sq_walk_next(w)) {
            double xh = (x[w->off] - mean) * inv, d = dy[w->off];
            double gd = gamma ? d * gamma[e] : d;
            s1 += gd;
            s2 += gd * xh;
            if (dgamma)
                dgamma[e] += (float)(d * xh);
            if (dbeta)
                dbeta[e] += (float)d;
        }
        if (!b->din)
            continue;
        float *dx = b->din + p.outer.off;
        for (size_t e = 0; e < p.size; e++, sq_walk_next(w)) {
            double xh = (x[w->off] - mean) * inv, d = dy[w->off];
            double gd = gamma ? d * gamma[e] : d;
            dx[w->off] = (float)(inv * (gd - s1 / n - xh * s2 / n));
        }
    }
}

/* gamma and beta span the normalised axes. */
static void explain(const sq_layer *l, const sq_shape *in, const sq_shape *out, sbuf *b)
{
    const ln_state *st = l->state;
    long ax[SQ_MAX_RANK];
    int norm[SQ_MAX_RANK];
    sq_error err;
    (void)out;
    if (resolve(l, in, ax, norm, &err) < 0)
        return;
    char prod[128] = "", axes[64] = "";
    size_t kp = 0, ka = 0;
    for (int i = 0; i < st->n; i++) {
        kp += (size_t)snprintf(prod + kp, sizeof prod - kp, "%s%ld", i ? "*" : "", in->d[ax[i]]);
        ka += (size_t)snprintf(axes + ka, sizeof axes - ka, "%s%ld", i ? ", " : "", ax[i]);
    }
    sq_explain_line(b, "shape", "the same as the input (each sample normalised over axis %s: "
                    "mean 0, variance 1%s%s)", axes, st->scale ? ", times gamma" : "",
                    st->center ? ", plus beta" : "");
    int per = st->scale + st->center;
    if (per == 0)
        sq_explain_no_params(b);
    else
        sq_explain_line(b, "params", "%zu = %d * %s  (%s%s%s for each of the %s normalised "
                        "values)", l->param_count, per, prod, st->scale ? "gamma" : "",
                        per == 2 ? " and " : "", st->center ? "beta" : "", prod);
}

static size_t macs(const sq_layer *l, const sq_shape *in, const sq_shape *out, sbuf *why)
{
    const ln_state *st = l->state;
    (void)in;
    if (!st->scale) {
        if (why)
            sb_printf(why, "0  (no gamma: no weights multiply the values)");
        return 0;
    }
    return sq_macs_each(out, 1, "gamma times each normalised value", why);
}

const sq_layer_kind sq_kind_layer_normalization = {
    .class_name = "LayerNormalization",
    .base_name = "layer_normalization",
    .opts = opts,
    .npositional = 4,
    .summary = "normalises each sample over the last axis (or the given axes) with learned scale/offset",
    .state_size = sizeof(ln_state),
    .configure = configure,
    .output_shape = output_shape,
    .weights = weights,
    .forward = forward,
    .cache = cache,
    .backward = backward,
    .shape_rule = "unchanged; gamma and beta have the shape of the normalised axes, (C,) for axis -1: params 2*C (C with one of center, scale false; 0 with both)",
    .example = "input 10 16; add layernormalization",
    .explain = explain,
    .macs = macs,
    .mask = sq_mask_keep,          /* Keras: supports_masking */
};
