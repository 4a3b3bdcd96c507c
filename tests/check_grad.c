/* check_grad.c - finite-difference checks of every layer kind's backward
 * pass and every activation's derivative, through the engine's own training
 * driver: models are built with the public API, then sq_train_forward and
 * sq_train_backward compute the gradient of L = sum(c * y) for a fixed random
 * c (so dL/dy = c), and every weight's gradient is compared with a central
 * difference (L(w + h) - L(w - h)) / 2h of the same driver's forward pass,
 * the loss summed in double.
 *
 * The layer under test gets its input gradient (din) from the driver only
 * when a trainable layer sits below it, so most models start with a Dense
 * layer: its kernel's gradient, checked by finite differences, is checked
 * through the tested layer's din. Single-layer models also call the layer's
 * backward directly with din set and compare it with differences in the
 * model input.
 *
 * Kinks (relu and friends, max pooling) are avoided by choosing inputs: a
 * first Dense layer with an identity kernel passes x through unchanged, and x
 * keeps a margin from every kink (or, for max pooling, distinct values whose
 * gaps exceed what a step of h can move them). */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "seqsh/engine.h"
#include "test_util.h"
#include "model.h"

/* ---- deterministic test data --------------------------------------------- */

/* trng_seed and drand: test_util.h */

static void fill_uniform(float *x, size_t n, double lo, double hi)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (float)drand(lo, hi);
}

/* Uniform in [lo, hi) but at least `margin` away from every kink. */
static void fill_away(float *x, size_t n, double lo, double hi, const double *kinks,
                      int nk, double margin)
{
    for (size_t i = 0; i < n; i++) {
        double v;
        int ok;
        do {
            v = drand(lo, hi);
            ok = 1;
            for (int k = 0; k < nk; k++)
                if (fabs(v - kinks[k]) < margin)
                    ok = 0;
        } while (!ok);
        x[i] = (float)v;
    }
}

/* A random permutation of lo, lo + gap, lo + 2 gap, ...: all distinct. */
static void fill_distinct(float *x, size_t n, double lo, double gap)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(lo + gap * (double)i);
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)drand(0, (double)i);
        if (j >= i)
            j = i - 1;
        float t = x[i - 1];
        x[i - 1] = x[j];
        x[j] = t;
    }
}

/* ---- building through the public API ------------------------------------- */

static sq_session *new_model(int nd, const long *dims)
{
    sq_error err;
    sq_session *s = sq_session_new();
    ck_assert_ptr_nonnull(s);
    sq_seed(s, 42);
    ck_assert_int_eq(sq_model_new(s, NULL, &err), 0);
    ck_assert_msg(sq_input(s, nd, dims, &err) == 0, "input: %s", err.msg);
    return s;
}

/* sq_add with `args` split on blanks. */
static void add_ok(sq_session *s, const char *kind, const char *args)
{
    char buf[512];
    char *argv[32];
    int argc = 0;
    sq_error err;
    snprintf(buf, sizeof buf, "%s", args ? args : "");
    char *save = NULL;
    for (char *t = strtok_r(buf, " ", &save); t && argc < 32; t = strtok_r(NULL, " ", &save))
        argv[argc++] = t;
    ck_assert_msg(sq_add(s, kind, argc, argv, &err) == 0, "add %s %s: %s", kind,
                  args ? args : "", err.msg);
}

/* Weight `wi` of layer `li`; *n gets its size. */
static float *weight_ptr(sq_session *s, int li, int wi, size_t *n)
{
    const sq_layer *l = s->model->layers[li];
    ck_assert_int_lt(wi, l->nweights);
    float *p = s->model->params + l->param_off;
    for (int j = 0; j < wi; j++)
        p += sq_weight_count(&l->w[j]);
    if (n)
        *n = sq_weight_count(&l->w[wi]);
    return p;
}

/* Dense layer li passes its input through: identity kernel, zero bias. */
static void set_identity(sq_session *s, int li)
{
    const sq_layer *l = s->model->layers[li];
    ck_assert_str_eq(l->kind->class_name, "Dense");
    size_t n;
    float *k = weight_ptr(s, li, 0, &n);
    long d = l->w[0].shape.d[0], u = l->w[0].shape.d[1];
    for (long i = 0; i < d; i++)
        for (long j = 0; j < u; j++)
            k[i * u + j] = i == j ? 1.0f : 0.0f;
    if (l->nweights > 1) {
        float *b = weight_ptr(s, li, 1, &n);
        for (size_t i = 0; i < n; i++)
            b[i] = 0;
    }
}

/* Non-trivial BatchNormalization weights for layer li. */
static void set_bn_weights(sq_session *s, int li)
{
    const sq_layer *l = s->model->layers[li];
    ck_assert_str_eq(l->kind->class_name, "BatchNormalization");
    for (int w = 0; w < l->nweights; w++) {
        size_t n;
        float *p = weight_ptr(s, li, w, &n);
        const char *name = l->w[w].name;
        if (!strcmp(name, "gamma"))
            fill_uniform(p, n, 0.5, 1.5);
        else if (!strcmp(name, "beta") || !strcmp(name, "moving_mean"))
            fill_uniform(p, n, -0.5, 0.5);
        else
            fill_uniform(p, n, 0.5, 2.0);
    }
}

/* ---- the gradient check -------------------------------------------------- */

typedef struct {
    sq_session *s;
    sq_model *m;
    sq_train_ws ws;
    long b;
    float *x;          /* the model input, b samples */
    size_t nx;
    float *c;          /* dL/dy */
    size_t ny;
    float *base;       /* the weights the check is taken at */
    float *ana;        /* the driver's gradient */
    sq_rng rng0;       /* every forward starts from it: Dropout's mask is fixed */
    double h;          /* finite-difference step */
    double tol;        /* |a - n| <= tol * max(1, |a|, |n|) */
    int training;
    double worst;      /* largest |a - n| / max(1, |a|, |n|) seen */
} gc;

/* Plans a check of the model in s on a batch of b (x uniform in [-1, 1),
 * c uniform in [-1, 1)). Set the weights before: they are copied here. */
static void gc_init(gc *g, sq_session *s, long b)
{
    sq_error err;
    memset(g, 0, sizeof *g);
    g->s = s;
    g->m = s->model;
    ck_assert(g->m->built);
    g->b = b;
    sq_shape in = g->m->input_shape;
    in.d[0] = b;
    ck_assert_msg(sq_train_ws_init(&g->ws, g->m, &in, &err) == 0, "ws: %s", err.msg);
    g->nx = sq_shape_count(&in);
    g->ny = sq_shape_count(&g->ws.sh[g->m->n]);
    g->x = malloc(g->nx * sizeof *g->x);
    g->c = malloc(g->ny * sizeof *g->c);
    ck_assert(g->x && g->c);
    fill_uniform(g->x, g->nx, -1, 1);
    fill_uniform(g->c, g->ny, -1, 1);
    size_t np = g->m->nparams;
    if (!g->m->grads || g->m->grads_cap < np) {
        free(g->m->grads);
        g->m->grads = malloc((np ? np : 1) * sizeof(float));
        ck_assert_ptr_nonnull(g->m->grads);
        g->m->grads_cap = np;
    }
    g->base = malloc((np ? np : 1) * sizeof(float));
    g->ana = malloc((np ? np : 1) * sizeof(float));
    ck_assert(g->base && g->ana);
    memcpy(g->base, g->m->params, np * sizeof(float));
    sq_rng_seed(&g->rng0, 20240607);
    g->h = 1e-2;
    g->tol = 1e-2;
    g->training = 1;
}

static void gc_free(gc *g)
{
    sq_train_ws_free(&g->ws);
    free(g->x);
    free(g->c);
    free(g->base);
    free(g->ana);
    sq_session_free(g->s);
}

/* One forward pass from the base weights (BatchNormalization's update of
 * its moving statistics is undone afterwards); returns L = sum(c * y). */
static double gc_loss(gc *g)
{
    sq_model *m = g->m;
    memcpy(m->params, g->base, m->nparams * sizeof(float));
    sq_rng rng = g->rng0;
    sq_train_forward(m, &g->ws, g->x, g->b, g->training, &rng);
    const float *y = g->ws.y[m->n - 1];
    double l = 0;
    for (size_t i = 0; i < g->ny; i++)
        l += (double)g->c[i] * y[i];
    memcpy(m->params, g->base, m->nparams * sizeof(float));
    return l;
}

/* dL/dv[i] by central differences; v is the base weights or the input.
 * The steps actually taken in float are used, not h itself. */
static double gc_numeric(gc *g, float *v, size_t i)
{
    float orig = v[i];
    float up = (float)(orig + g->h), down = (float)(orig - g->h);
    v[i] = up;
    double lp = gc_loss(g);
    v[i] = down;
    double lm = gc_loss(g);
    v[i] = orig;
    return (lp - lm) / ((double)up - (double)down);
}

/* The driver's forward and backward at the base weights; the gradient is
 * copied to g->ana. Gradient slots are poisoned with NaN first, so slots the
 * driver must leave alone (frozen layers) can be told apart. */
static void gc_analytic(gc *g)
{
    sq_model *m = g->m;
    for (size_t i = 0; i < m->nparams; i++)
        m->grads[i] = NAN;
    memcpy(m->params, g->base, m->nparams * sizeof(float));
    sq_rng rng = g->rng0;
    sq_train_forward(m, &g->ws, g->x, g->b, g->training, &rng);
    sq_train_backward(m, &g->ws, g->x, g->b, g->c, 0);
    memcpy(g->ana, m->grads, m->nparams * sizeof(float));
    memcpy(m->params, g->base, m->nparams * sizeof(float));
}

static int close_enough(gc *g, double a, double n)
{
    double sc = fmax(1.0, fmax(fabs(a), fabs(n)));
    double e = fabs(a - n) / sc;
    if (!(e <= g->worst))
        g->worst = e;
    return e <= g->tol;
}

/* Compares g->ana with central differences for every weight of every
 * layer. Frozen layers' slots must be untouched (NaN), non-trainable
 * weights (moving statistics) must get exactly 0, and every trainable
 * layer must have some non-negligible gradient (or the check proves
 * nothing). Returns the number of problems, each reported on stderr. */
static int gc_compare(gc *g)
{
    sq_model *m = g->m;
    int bad = 0;
    for (int li = 0; li < m->n; li++) {
        const sq_layer *l = m->layers[li];
        if (l->param_count == 0)
            continue;
        size_t off = l->param_off;
        double biggest = 0;
        int trained = 0;   /* has weights a gradient is computed for */
        for (int wi = 0; wi < l->nweights; wi++) {
            size_t cnt = sq_weight_count(&l->w[wi]);
            for (size_t e = 0; e < cnt; e++) {
                size_t i = off + e;
                double a = g->ana[i];
                if (!l->trainable) {
                    if (!isnan(a) && bad++ < 10)
                        fprintf(stderr, "%s/%s[%zu]: frozen layer's gradient written (%g)\n",
                                l->name, l->w[wi].name, e, a);
                    continue;
                }
                if (!l->w[wi].trainable) {
                    if (a != 0 && bad++ < 10)
                        fprintf(stderr, "%s/%s[%zu]: non-trainable weight's gradient %g, "
                                "expected 0\n", l->name, l->w[wi].name, e, a);
                    continue;
                }
                trained = 1;
                double n = gc_numeric(g, g->base, i);
                if (fabs(n) > biggest)
                    biggest = fabs(n);
                if (!close_enough(g, a, n) && bad++ < 10)
                    fprintf(stderr, "%s/%s[%zu]: analytic %.7g, numeric %.7g\n", l->name,
                            l->w[wi].name, e, a, n);
            }
            off += cnt;
        }
        if (trained && biggest < 1e-3 && bad++ < 10)
            fprintf(stderr, "%s: every gradient is ~0 (max |numeric| %g)\n", l->name, biggest);
    }
    return bad;
}

/* For a one-layer model: runs the driver's forward, then the layer's own
 * backward with din set (and dw NULL) on dL/dz = act'(z) * c, and compares
 * din with central differences in the model input. din must be written
 * everywhere. Returns the number of problems. */
static int gc_check_input(gc *g)
{
    sq_model *m = g->m;
    ck_assert_int_eq(m->n, 1);
    const sq_layer *l = m->layers[0];
    ck_assert_ptr_nonnull(l->kind->backward);
    memcpy(m->params, g->base, m->nparams * sizeof(float));
    sq_rng rng = g->rng0;
    sq_train_forward(m, &g->ws, g->x, g->b, g->training, &rng);
    float *dz = malloc(g->ny * sizeof *dz), *din = malloc(g->nx * sizeof *din);
    ck_assert(dz && din);
    memcpy(dz, g->c, g->ny * sizeof *dz);
    const sq_shape *os = &g->ws.shb[1];
    if (l->act)
        sq_activation_backward(l->act, g->ws.z[0], g->ws.y[0], dz, g->ny,
                               os->d[os->rank - 1]);
    for (size_t i = 0; i < g->nx; i++)
        din[i] = NAN;
    sq_bwd bw = { .in = g->x, .out = g->ws.z[0], .dout = dz, .din = din,
                  .in_shape = &g->ws.shb[0], .out_shape = os,
                  .w = m->params + l->param_off, .dw = NULL,
                  .cache = g->ws.cache[0], .scratch = g->ws.scratch };
    l->kind->backward(l, &bw);
    memcpy(m->params, g->base, m->nparams * sizeof(float));
    int bad = 0;
    double biggest = 0;
    for (size_t i = 0; i < g->nx; i++) {
        double n = gc_numeric(g, g->x, i);
        if (fabs(n) > biggest)
            biggest = fabs(n);
        if (!close_enough(g, din[i], n) && bad++ < 10)
            fprintf(stderr, "%s: din[%zu]: analytic %.7g, numeric %.7g\n", l->name, i,
                    (double)din[i], n);
    }
    if (biggest < 1e-3 && bad++ < 10)
        fprintf(stderr, "%s: every input gradient is ~0\n", l->name);
    free(dz);
    free(din);
    return bad;
}

/* The whole check: weights through the driver, and the input gradient for
 * one-layer models. */
static void gc_run(gc *g, const char *what)
{
    gc_analytic(g);
    int bad = gc_compare(g);
    ck_assert_msg(bad == 0, "%s: %d weight-gradient mismatches (see stderr)", what, bad);
    if (g->m->n == 1) {
        bad = gc_check_input(g);
        ck_assert_msg(bad == 0, "%s: %d input-gradient mismatches (see stderr)", what, bad);
    }
    if (getenv("CHECK_GRAD_VERBOSE"))
        fprintf(stderr, "%-60s worst relative error %.2e\n", what, g->worst);
}

/* ---- Dense, Flatten, Reshape, Dropout, Rescaling -------------------------- */

START_TEST(test_dense)
{
    trng_seed(1);
    long d2[] = { 6 }, d3[] = { 3, 6 }, d4[] = { 2, 3, 4 };
    gc g;
    sq_session *s = new_model(1, d2);
    add_ok(s, "dense", "5 tanh");
    add_ok(s, "dense", "4 use_bias=false");
    add_ok(s, "dense", "3");
    gc_init(&g, s, 4);
    gc_run(&g, "dense rank 2");
    gc_free(&g);

    s = new_model(2, d3);
    add_ok(s, "dense", "4 sigmoid");
    add_ok(s, "dense", "3 use_bias=false");
    gc_init(&g, s, 2);
    gc_run(&g, "dense rank 3");
    gc_free(&g);

    s = new_model(3, d4);
    add_ok(s, "dense", "3 use_bias=false");
    gc_init(&g, s, 2);
    gc_run(&g, "dense rank 4, alone");
    gc_free(&g);
}
END_TEST

START_TEST(test_flatten_reshape)
{
    trng_seed(2);
    long d[] = { 3, 4, 2 }, d1[] = { 12 };
    gc g;
    sq_session *s = new_model(3, d);
    add_ok(s, "dense", "2");
    add_ok(s, "flatten", NULL);
    add_ok(s, "dense", "3");
    gc_init(&g, s, 2);
    gc_run(&g, "flatten");
    gc_free(&g);

    s = new_model(3, d);
    add_ok(s, "flatten", NULL);
    gc_init(&g, s, 2);
    gc_run(&g, "flatten alone");
    gc_free(&g);

    s = new_model(1, d1);
    add_ok(s, "dense", "12 tanh");
    add_ok(s, "reshape", "3,4");
    add_ok(s, "dense", "2");
    add_ok(s, "reshape", "(-1,)");
    gc_init(&g, s, 3);
    gc_run(&g, "reshape");
    gc_free(&g);

    s = new_model(1, d1);
    add_ok(s, "reshape", "(2,-1,3)");
    gc_init(&g, s, 2);
    gc_run(&g, "reshape alone");
    gc_free(&g);
}
END_TEST

START_TEST(test_dropout)
{
    trng_seed(3);
    long d[] = { 8 };
    gc g;
    sq_session *s = new_model(1, d);
    add_ok(s, "dense", "10");
    add_ok(s, "dropout", "0.5");
    add_ok(s, "dense", "3");
    gc_init(&g, s, 4);
    gc_run(&g, "dropout 0.5");
    /* the mask of the last forward really drops and scales */
    size_t n = sq_shape_count(&g.ws.shb[1]), zeros = 0, twos = 0;
    for (size_t i = 0; i < n; i++) {
        zeros += g.ws.cache[1][i] == 0.0f;
        twos += g.ws.cache[1][i] == 2.0f;
    }
    ck_assert_uint_gt(zeros, 0);
    ck_assert_uint_gt(twos, 0);
    ck_assert_uint_eq(zeros + twos, n);
    gc_free(&g);

    s = new_model(1, d);
    add_ok(s, "dropout", "0.5");
    gc_init(&g, s, 4);
    gc_run(&g, "dropout alone");
    gc_free(&g);
}
END_TEST

START_TEST(test_rescaling)
{
    trng_seed(4);
    long d[] = { 5 };
    gc g;
    sq_session *s = new_model(1, d);
    add_ok(s, "dense", "5");
    add_ok(s, "rescaling", "0.5 0.3");
    add_ok(s, "dense", "2");
    gc_init(&g, s, 3);
    gc_run(&g, "rescaling");
    gc_free(&g);

    s = new_model(1, d);
    add_ok(s, "rescaling", "-1.5 offset=2");
    gc_init(&g, s, 3);
    gc_run(&g, "rescaling alone");
    gc_free(&g);
}
END_TEST

/* ---- activations ---------------------------------------------------------- */

/* The input domain for each activation: a range and its kinks. */
typedef struct {
    const char *name;
    double lo, hi;
    double kinks[2];
    int nk;
} act_domain;

static const act_domain act_domains[] = {
    { "relu", -3, 3, { 0 }, 1 },
    { "relu6", -2, 8, { 0, 6 }, 2 },
    { "leaky_relu", -3, 3, { 0 }, 1 },
    { "hard_sigmoid", -4, 4, { -2.5, 2.5 }, 2 },
    { "selu", -3, 3, { 0 }, 1 },
    { "elu", -3, 3, { 0 }, 1 },
    { "exponential", -3, 2, { 0 }, 0 },
};

/* The activations the brief names; the loop below covers the engine's own
 * list, so this only proves none of them went missing. */
static const char *const listed_acts[] = {
    "linear", "relu", "sigmoid", "tanh", "softmax", "softplus", "softsign", "elu",
    "selu", "exponential", "hard_sigmoid", "swish", "silu", "gelu", "relu6",
    "leaky_relu", "log_softmax",
};

static void fill_for_act(float *x, size_t n, const char *act)
{
    for (size_t i = 0; i < sizeof act_domains / sizeof act_domains[0]; i++) {
        const act_domain *a = &act_domains[i];
        if (!strcmp(a->name, act)) {
            fill_away(x, n, a->lo, a->hi, a->kinks, a->nk, 0.1);
            return;
        }
    }
    fill_uniform(x, n, -3, 3);
}

START_TEST(test_activation)
{
    const char *act = sq_activation_name(_i);
    ck_assert_ptr_nonnull(act);
    char what[128];
    long d[] = { 2, 7 };
    gc g;
    trng_seed(100 + (uint64_t)_i);

    /* Activation after an identity Dense: x reaches the activation as is */
    sq_session *s = new_model(2, d);
    add_ok(s, "dense", "7");
    add_ok(s, "activation", act);
    set_identity(s, 0);
    gc_init(&g, s, 3);
    fill_for_act(g.x, g.nx, act);
    g.h = 2e-3;
    snprintf(what, sizeof what, "activation %s after dense", act);
    gc_run(&g, what);
    gc_free(&g);

    /* the activation attached to a Dense layer */
    s = new_model(2, d);
    char args[64];
    snprintf(args, sizeof args, "7 activation=%s", act);
    add_ok(s, "dense", args);
    set_identity(s, 0);
    gc_init(&g, s, 3);
    fill_for_act(g.x, g.nx, act);
    g.h = 2e-3;
    snprintf(what, sizeof what, "dense with activation %s", act);
    gc_run(&g, what);
    gc_free(&g);

    /* alone: its input gradient directly */
    s = new_model(2, d);
    add_ok(s, "activation", act);
    gc_init(&g, s, 3);
    fill_for_act(g.x, g.nx, act);
    g.h = 2e-3;
    snprintf(what, sizeof what, "activation %s alone", act);
    gc_run(&g, what);
    gc_free(&g);
}
END_TEST

START_TEST(test_activation_list)
{
    for (size_t i = 0; i < sizeof listed_acts / sizeof listed_acts[0]; i++)
        ck_assert_msg(sq_activation_find(listed_acts[i]) >= 0, "no activation %s",
                      listed_acts[i]);
    ck_assert_int_ge(sq_activation_count(),
                     (int)(sizeof listed_acts / sizeof listed_acts[0]));
}
END_TEST

/* ---- Conv2D ----------------------------------------------------------------- */

typedef struct {
    long b, h, w, c;
    const char *args;
} conv_case;

static const conv_case conv_cases[] = {
    { 2, 7, 6, 3, "5 3" },
    { 2, 7, 6, 3, "5 3 padding=same" },
    { 2, 7, 6, 3, "5 3 strides=2 padding=same" },          /* SAME pads 1+1 rows, 0+1 cols */
    { 2, 7, 6, 3, "4 4 strides=2 padding=same" },          /* SAME pads 1+2 rows */
    { 2, 7, 6, 3, "4 3 strides=2" },
    { 2, 7, 8, 3, "4 3 strides=(2,3)" },
    { 2, 8, 7, 3, "5 3 dilation_rate=2" },
    { 2, 8, 7, 3, "5 3 dilation_rate=2 padding=same" },
    { 1, 9, 8, 3, "2 (3,2) dilation_rate=(2,3) padding=same" },
    { 2, 7, 6, 3, "3 (2,3)" },
    { 2, 6, 9, 2, "3 (3,2) strides=(1,2) padding=same" },
    { 2, 5, 4, 3, "6 1" },                                 /* 1x1: no im2col */
    { 2, 5, 5, 3, "6 1 use_bias=false" },
    { 2, 5, 5, 3, "4 1 strides=2" },
    { 1, 4, 4, 3, "4 1 padding=same" },
    { 2, 7, 6, 3, "5 3 use_bias=false" },
    { 2, 6, 6, 3, "2 2 strides=2 padding=same use_bias=false" },
    { 2, 6, 6, 10, "9 2 strides=2" },
    { 2, 6, 5, 5, "7 3 padding=same" },
    { 1, 3, 3, 2, "3 5 padding=same" },                    /* kernel larger than input */
    { 1, 4, 4, 2, "3 (5,4) strides=(2,3) padding=same" },
    { 1, 8, 8, 2, "2 2 strides=3" },                       /* skipped pixels get 0 */
    { 2, 7, 6, 3, "5 3 tanh padding=same" },
};

#define NCONV (int)(sizeof conv_cases / sizeof conv_cases[0])

START_TEST(test_conv2d)
{
    const conv_case *k = &conv_cases[_i];
    long d[] = { k->h, k->w, k->c };
    char what[160], args[128];
    gc g;
    trng_seed(200 + (uint64_t)_i);

    /* after a Dense (so the convolution computes din), followed by another
     * convolution (so its output gradient is not just c) */
    sq_session *s = new_model(3, d);
    snprintf(args, sizeof args, "%ld", k->c);
    add_ok(s, "dense", args);
    add_ok(s, "conv2d", k->args);
    add_ok(s, "conv2d", "3 1 sigmoid");
    gc_init(&g, s, k->b);
    snprintf(what, sizeof what, "dense, conv2d %s, conv2d 3 1", k->args);
    gc_run(&g, what);
    gc_free(&g);

    /* alone: lowest layer (din NULL in the driver), then din directly */
    s = new_model(3, d);
    add_ok(s, "conv2d", k->args);
    gc_init(&g, s, k->b);
    snprintf(what, sizeof what, "conv2d %s alone", k->args);
    gc_run(&g, what);
    gc_free(&g);

    /* frozen between trainable layers: din with dw NULL */
    s = new_model(3, d);
    add_ok(s, "dense", args);
    snprintf(args, sizeof args, "%s trainable=false", k->args);
    add_ok(s, "conv2d", args);
    gc_init(&g, s, k->b);
    snprintf(what, sizeof what, "dense, frozen conv2d %s", k->args);
    gc_run(&g, what);
    gc_free(&g);
}
END_TEST

/* Conv2D with relu: training keeps only relu's output and the convolution
 * applies relu as it stores it (the fused path; the C variant applies it
 * after). Inputs are drawn until every pre-activation is further from
 * relu's kink than one step of h = 1e-3 in any weight or input can move
 * it (a kernel or bias step moves a pre-activation by at most h |x| <= h;
 * an input step by h |w| < h; a step in the identity Dense's kernel by h
 * times a window's sum of |w|, below 4h), so central differences are
 * valid; some outputs are cut by relu, some not. */
static const struct { long h, w, c; const char *args; } conv_relu[] = {
    { 5, 4, 2, "4 3 relu" },
    { 4, 4, 2, "4 3 relu padding=same" },
    { 5, 5, 2, "4 3 relu strides=2 padding=same" },
    { 3, 3, 2, "35 2 relu" },                          /* two panels of filters */
};

START_TEST(test_conv2d_relu)
{
    long d[] = { conv_relu[_i].h, conv_relu[_i].w, conv_relu[_i].c };
    char what[160], linear[64], dense[16];
    snprintf(linear, sizeof linear, "%s", conv_relu[_i].args);
    char *r = strstr(linear, " relu");
    memmove(r, r + 5, strlen(r + 5) + 1);
    snprintf(dense, sizeof dense, "%ld", d[2]);
    trng_seed(250 + (uint64_t)_i);
    for (int pass = 0; pass < 2; pass++) {
        double margin = pass ? 4e-3 : 1.5e-3;
        sq_session *s = new_model(3, d), *t = new_model(3, d);
        if (pass) {
            add_ok(s, "dense", dense);
            add_ok(t, "dense", dense);
        }
        /* the same convolution without relu (same seed: same weights)
         * gives the pre-activations */
        add_ok(s, "conv2d", conv_relu[_i].args);
        add_ok(t, "conv2d", linear);
        if (pass) {
            set_identity(s, 0);
            set_identity(t, 0);
        }
        gc g, h;
        gc_init(&g, s, 1);
        gc_init(&h, t, 1);
        g.h = 1e-3;
        int tries = 0, ok = 0, cut = 0;
        for (; tries < 500 && !ok; tries++) {
            fill_uniform(g.x, g.nx, -1, 1);
            memcpy(h.x, g.x, g.nx * sizeof *g.x);
            gc_loss(&h);
            const float *z = h.ws.y[h.m->n - 1];
            ok = 1;
            cut = 0;
            for (size_t i = 0; i < h.ny; i++) {
                if (fabs(z[i]) < margin)
                    ok = 0;
                cut += z[i] < 0;
            }
        }
        ck_assert_msg(ok, "no input with pre-activations away from 0 in %d tries", tries);
        ck_assert_msg(cut > 0 && (size_t)cut < h.ny, "relu cuts %d of %zu", cut, h.ny);
        snprintf(what, sizeof what, "%sconv2d %s", pass ? "dense, " : "", conv_relu[_i].args);
        gc_run(&g, what);
        /* the fused output is relu of the linear one */
        gc_loss(&g);
        const float *y = g.ws.y[g.m->n - 1], *z = h.ws.y[h.m->n - 1];
        for (size_t i = 0; i < g.ny; i++)
            ck_assert_msg(fabsf(y[i] - (z[i] > 0 ? z[i] : 0)) <= 1e-5f * (1 + fabsf(z[i])),
                          "%s: output %zu is %g, relu(%g) wanted", what, i, (double)y[i],
                          (double)z[i]);
        gc_free(&h);
        gc_free(&g);
    }
}
END_TEST

/* A deliberately wrong gradient must be rejected: one entry off by a small
 * absolute amount, and the largest entry off by 3 percent. */
START_TEST(test_check_rejects_wrong_gradient)
{
    trng_seed(7);
    long d[] = { 7, 6, 3 };
    gc g;
    sq_session *s = new_model(3, d);
    add_ok(s, "dense", "3");
    add_ok(s, "conv2d", "5 3 strides=2 padding=same");
    gc_init(&g, s, 2);
    gc_analytic(&g);
    ck_assert_int_eq(gc_compare(&g), 0);

    const sq_layer *conv = g.m->layers[1];
    size_t at = conv->param_off + 17;
    float keep = g.ana[at];
    g.ana[at] += 0.03f * fmaxf(1.0f, fabsf(keep));
    fprintf(stderr, "(expected) ");
    ck_assert_int_eq(gc_compare(&g), 1);
    g.ana[at] = keep;

    size_t big = conv->param_off;
    for (size_t i = conv->param_off; i < conv->param_off + conv->param_count; i++)
        if (fabsf(g.ana[i]) > fabsf(g.ana[big]))
            big = i;
    ck_assert_float_gt(fabsf(g.ana[big]), 1.0f);
    g.ana[big] *= 1.03f;
    fprintf(stderr, "(expected) ");
    ck_assert_int_eq(gc_compare(&g), 1);
    gc_free(&g);
}
END_TEST

/* ---- pooling ---------------------------------------------------------------- */

static const char *const pool_args[] = {
    "2",
    "3 strides=2 padding=same",        /* overlapping, SAME pads 1+1 rows, 0+1 cols */
    "(3,2) strides=1",                 /* overlapping */
    "2 strides=1 padding=same",
    "3 strides=2",
    "(2,3) strides=(1,2) padding=same",
    "3 padding=same",
    "4 strides=1",
    "(1,5) strides=(3,1)",             /* skipped rows get 0 */
};

#define NPOOL (int)(sizeof pool_args / sizeof pool_args[0])

START_TEST(test_pool2d)
{
    int max = _i < NPOOL;
    const char *kind = max ? "maxpooling2d" : "averagepooling2d";
    const char *pa = pool_args[_i % NPOOL];
    long d[] = { 7, 6, 3 };
    char what[160];
    gc g;
    trng_seed(300 + (uint64_t)_i);

    /* after an identity Dense; for max, distinct values 0.01 apart, which a
     * step of h = 2e-3 times |x| <= 1.3 cannot reorder */
    sq_session *s = new_model(3, d);
    add_ok(s, "dense", "3");
    add_ok(s, kind, pa);
    set_identity(s, 0);
    gc_init(&g, s, 2);
    g.h = 2e-3;
    if (max)
        fill_distinct(g.x, g.nx, -1.26, 0.01);
    snprintf(what, sizeof what, "dense, %s %s", kind, pa);
    gc_run(&g, what);
    gc_free(&g);

    s = new_model(3, d);
    add_ok(s, kind, pa);
    gc_init(&g, s, 2);
    g.h = 2e-3;
    if (max)
        fill_distinct(g.x, g.nx, -1.26, 0.01);
    snprintf(what, sizeof what, "%s %s alone", kind, pa);
    gc_run(&g, what);
    gc_free(&g);
}
END_TEST

/* Max pooling above a layer with relu: the pooling applies relu's
 * backward as it routes the gradient (sq_bwd.relu_din) and the layer below
 * skips it. Windows whose inputs are all cut by relu (maximum 0) must send
 * nothing back; the values stay 0.005 or more away from relu's kink. */
START_TEST(test_pool2d_after_relu)
{
    const char *pa = pool_args[_i];
    long d[] = { 7, 6, 3 };
    char what[160];
    gc g;
    trng_seed(340 + (uint64_t)_i);
    sq_session *s = new_model(3, d);
    add_ok(s, "dense", "3 relu");
    add_ok(s, "maxpooling2d", pa);
    set_identity(s, 0);
    gc_init(&g, s, 2);
    g.h = 2e-3;
    /* fewer positive values until some windows have none (big windows) */
    size_t cut = 0;
    for (double lo = -1.755; lo > -2.5 && (cut == 0 || cut == g.ny); lo -= 0.2) {
        fill_distinct(g.x, g.nx, lo, 0.01);
        gc_loss(&g);
        cut = 0;
        for (size_t i = 0; i < g.ny; i++)
            cut += g.ws.y[1][i] == 0;
    }
    ck_assert_msg(cut > 0 && cut < g.ny, "%s: %zu of %zu maxima are 0", pa, cut, g.ny);
    snprintf(what, sizeof what, "dense relu, maxpooling2d %s", pa);
    gc_run(&g, what);
    gc_free(&g);
}
END_TEST

/* ---- chunks of the batch through the leading layers --------------------- */

/* Training runs leading per-sample layers with big outputs (Conv2D, pooling)
 * a chunk of the batch at a time (backprop.c): the outputs, the weight
 * gradients (summed over the chunks) and the input gradient must be those
 * of the whole batch at once, the pass every other check here verifies.
 * Variants: all trainable; the first layer frozen (no chunked backward);
 * the input gradient too. */
START_TEST(test_chunks)
{
    long d[] = { 16, 16, 1 };
    trng_seed(900 + (uint64_t)_i);
    sq_session *s = new_model(3, d);
    add_ok(s, "conv2d", "32 3 padding=same relu");
    add_ok(s, "maxpooling2d", "2");
    add_ok(s, "conv2d", "4 3 relu");
    add_ok(s, "flatten", NULL);
    add_ok(s, "dense", "3");
    sq_model *m = s->model;
    for (size_t i = 0; i < m->nparams; i++)
        m->params[i] = (float)drand(-0.5, 0.5);
    if (_i == 1)
        m->layers[0]->trainable = 0;
    /* one thread: chunks are planned only then */
    int threads = sq_get_threads();
    sq_set_threads(1);
    gc g;
    gc_init(&g, s, 21);
    /* 16x16x32 outputs are big: conv2d and pooling in chunks of 8 */
    ck_assert_int_eq(g.ws.seg, 2);
    ck_assert_int_eq(g.ws.seg_bwd, 1);
    ck_assert(g.ws.chunk >= 1 && g.ws.chunk < 21);
    size_t np = m->nparams, no = sq_shape_count(&g.ws.sh[3]);
    size_t np1 = sq_shape_count(&g.ws.sh[1]);
    float *out[2], *grad[2], *dx[2], *first[2];
    for (int pass = 0; pass < 2; pass++) {
        out[pass] = malloc(no * sizeof(float));
        first[pass] = malloc(np1 * sizeof(float));
        grad[pass] = malloc(np * sizeof(float));
        dx[pass] = malloc(g.nx * sizeof(float));
        ck_assert(out[pass] && first[pass] && grad[pass] && dx[pass]);
        int seg = g.ws.seg, seg_bwd = g.ws.seg_bwd;
        if (pass == 1)
            g.ws.seg = g.ws.seg_bwd = 0;       /* the whole batch at once */
        for (size_t i = 0; i < np; i++)
            m->grads[i] = NAN;
        sq_rng rng = g.rng0;
        sq_train_forward(m, &g.ws, g.x, g.b, 1, &rng);
        memcpy(first[pass], g.ws.y[0], np1 * sizeof(float));
        memcpy(out[pass], g.ws.y[2], no * sizeof(float));
        if (_i == 2) {
            sq_train_backward_input(m, &g.ws, g.x, g.c, dx[pass]);
        } else {
            sq_train_backward(m, &g.ws, g.x, g.b, g.c, 0);
            memset(dx[pass], 0, g.nx * sizeof(float));
        }
        memcpy(grad[pass], m->grads, np * sizeof(float));
        g.ws.seg = seg;
        g.ws.seg_bwd = seg_bwd;
    }
    /* failures only reach Check (every assertion it records costs a write) */
    for (size_t i = 0; i < np1; i++)
        if (!(fabsf(first[0][i] - first[1][i]) <= 1e-5f * (1 + fabsf(first[1][i]))))
            ck_abort_msg("conv2d output %zu: %g in chunks, %g whole", i, (double)first[0][i],
                         (double)first[1][i]);
    for (size_t i = 0; i < no; i++)
        if (!(fabsf(out[0][i] - out[1][i]) <= 1e-5f * (1 + fabsf(out[1][i]))))
            ck_abort_msg("output %zu: %g in chunks, %g whole", i, (double)out[0][i],
                         (double)out[1][i]);
    double biggest = 0;
    for (size_t i = 0; i < np; i++) {
        if (isnan(grad[1][i])) {
            ck_assert_msg(isnan(grad[0][i]), "gradient %zu of a frozen layer written", i);
            continue;
        }
        biggest = fmax(biggest, fabs(grad[1][i]));
        if (!(fabsf(grad[0][i] - grad[1][i]) <= 1e-4f * (1 + fabsf(grad[1][i]))))
            ck_abort_msg("gradient %zu: %g in chunks, %g whole", i, (double)grad[0][i],
                         (double)grad[1][i]);
    }
    ck_assert(biggest > 1e-2);
    for (size_t i = 0; i < g.nx; i++)
        if (!(fabsf(dx[0][i] - dx[1][i]) <= 1e-4f * (1 + fabsf(dx[1][i]))))
            ck_abort_msg("input gradient %zu: %g in chunks, %g whole", i, (double)dx[0][i],
                         (double)dx[1][i]);
    for (int pass = 0; pass < 2; pass++) {
        free(out[pass]);
        free(first[pass]);
        free(grad[pass]);
        free(dx[pass]);
    }
    gc_free(&g);
    sq_set_threads(threads);
}
END_TEST

START_TEST(test_global_pool2d)
{
    int max = _i & 1, keep = (_i >> 1) & 1;
    const char *kind = max ? "globalmaxpooling2d" : "globalaveragepooling2d";
    const char *args = keep ? "keepdims=true" : NULL;
    long d[] = { 4, 5, 3 };
    char what[160];
    gc g;
    trng_seed(400 + (uint64_t)_i);

    sq_session *s = new_model(3, d);
    add_ok(s, "dense", "3");
    add_ok(s, kind, args);
    add_ok(s, "dense", "2");
    set_identity(s, 0);
    gc_init(&g, s, 2);
    g.h = 2e-3;
    if (max)
        fill_distinct(g.x, g.nx, -0.6, 0.01);
    snprintf(what, sizeof what, "dense, %s %s, dense", kind, args ? args : "");
    gc_run(&g, what);
    gc_free(&g);

    s = new_model(3, d);
    add_ok(s, kind, args);
    gc_init(&g, s, 2);
    g.h = 2e-3;
    if (max)
        fill_distinct(g.x, g.nx, -0.6, 0.01);
    snprintf(what, sizeof what, "%s %s alone", kind, args ? args : "");
    gc_run(&g, what);
    gc_free(&g);
}
END_TEST

/* ---- BatchNormalization ------------------------------------------------------ */

typedef struct {
    int nd;
    long d[3];
    long b;
    const char *args;
    int training;
    int dense_first;   /* 0: alone; 1: dense first; 2: dense, bn, tanh, dense */
} bn_case;

static const bn_case bn_cases[] = {
    { 1, { 5 }, 6, NULL, 1, 1 },
    { 1, { 5 }, 6, NULL, 1, 0 },
    { 1, { 5 }, 6, NULL, 1, 2 },
    { 2, { 3, 4 }, 2, NULL, 1, 1 },
    { 3, { 3, 4, 3 }, 2, NULL, 1, 1 },
    { 3, { 3, 4, 3 }, 2, NULL, 1, 0 },
    { 3, { 3, 4, 3 }, 2, NULL, 1, 2 },
    { 1, { 5 }, 6, "center=false", 1, 1 },
    { 1, { 5 }, 6, "scale=false", 1, 2 },
    { 3, { 3, 4, 3 }, 2, "center=false scale=false", 1, 1 },
    { 3, { 3, 4, 3 }, 2, "scale=false", 1, 0 },
    { 1, { 5 }, 6, "epsilon=0.1 momentum=0.5", 1, 2 },
    /* frozen: inference mode while training, statistics are constants */
    { 1, { 5 }, 6, "trainable=false", 1, 1 },
    { 1, { 5 }, 6, "trainable=false", 1, 0 },
    { 3, { 3, 4, 3 }, 2, "trainable=false", 1, 2 },
    { 3, { 3, 4, 3 }, 2, "trainable=false center=false", 1, 0 },
    /* a trainable layer run with training off: moving statistics */
    { 1, { 5 }, 6, NULL, 0, 1 },
    { 3, { 3, 4, 3 }, 2, NULL, 0, 0 },
};

#define NBN (int)(sizeof bn_cases / sizeof bn_cases[0])

START_TEST(test_batchnorm)
{
    const bn_case *k = &bn_cases[_i];
    char what[160], units[32];
    gc g;
    trng_seed(500 + (uint64_t)_i);
    sq_session *s = new_model(k->nd, k->d);
    int bi = 0;
    snprintf(units, sizeof units, "%ld", k->d[k->nd - 1] + 1);
    if (k->dense_first) {
        add_ok(s, "dense", units);
        bi = 1;
    }
    add_ok(s, "batchnormalization", k->args);
    if (k->dense_first == 2) {
        add_ok(s, "activation", "tanh");
        add_ok(s, "dense", "3");
    }
    set_bn_weights(s, bi);
    gc_init(&g, s, k->b);
    g.training = k->training;
    snprintf(what, sizeof what, "batchnormalization %s rank %d, training %d, layout %d",
             k->args ? k->args : "", k->nd + 1, k->training, k->dense_first);
    gc_run(&g, what);
    /* the forward ran in the mode the case is about */
    ck_assert_float_eq(g.ws.cache[bi][0],
                       k->training && g.m->layers[bi]->trainable ? 1.0f : 0.0f);
    gc_free(&g);
}
END_TEST

/* Training forward against a naive computation: the batch's mean and biased
 * variance normalise, and moving = moving * momentum + stat * (1 - momentum)
 * with the biased variance for every rank (see batchnorm.c for why Keras's
 * fused 4-D path ends up there too). Frozen layers and training=0 leave the
 * moving statistics alone. */
START_TEST(test_batchnorm_moving_update)
{
    static const struct { int nd; long d[4]; long b; } cases[] = {
        { 1, { 5 }, 6 }, { 2, { 3, 4 }, 3 }, { 3, { 3, 4, 3 }, 2 }, { 4, { 2, 2, 3, 4 }, 2 },
        { 1, { 3 }, 1 },
    };
    trng_seed(600 + (uint64_t)_i);
    int frozen = _i >= 5 && _i < 10, inference = _i >= 10;
    int ci = _i % 5;
    const int nd = cases[ci].nd;
    sq_session *s = new_model(nd, cases[ci].d);
    add_ok(s, "batchnormalization",
           frozen ? "momentum=0.9 epsilon=0.01 trainable=false" : "momentum=0.9 epsilon=0.01");
    set_bn_weights(s, 0);
    gc g;
    gc_init(&g, s, cases[ci].b);
    fill_uniform(g.x, g.nx, -2, 3);
    long c = cases[ci].d[nd - 1];
    size_t rows = g.nx / (size_t)c;
    float *gamma = g.m->params, *beta = gamma + c, *mm = beta + c, *mv = mm + c;
    double *mean = calloc((size_t)c, sizeof *mean), *var = calloc((size_t)c, sizeof *var);
    float *old = malloc(4 * (size_t)c * sizeof *old);
    ck_assert(mean && var && old);
    memcpy(old, g.m->params, 4 * (size_t)c * sizeof *old);
    for (size_t r = 0; r < rows; r++)
        for (long j = 0; j < c; j++)
            mean[j] += g.x[r * (size_t)c + (size_t)j];
    for (long j = 0; j < c; j++)
        mean[j] /= (double)rows;
    for (size_t r = 0; r < rows; r++)
        for (long j = 0; j < c; j++) {
            double e = g.x[r * (size_t)c + (size_t)j] - mean[j];
            var[j] += e * e;
        }
    for (long j = 0; j < c; j++)
        var[j] /= (double)rows;

    sq_rng rng = g.rng0;
    sq_train_forward(g.m, &g.ws, g.x, g.b, !inference, &rng);
    const float *y = g.ws.y[0];
    int batch = !frozen && !inference;
    for (long j = 0; j < c; j++) {
        double want_mm = batch ? old[2 * c + j] * 0.9 + mean[j] * 0.1 : old[2 * c + j];
        double want_mv = batch ? old[3 * c + j] * 0.9 + var[j] * 0.1 : old[3 * c + j];
        ck_assert_msg(fabs(mm[j] - want_mm) <= 1e-6 * fmax(1, fabs(want_mm)),
                      "moving_mean[%ld] %.9g, expected %.9g", j, (double)mm[j], want_mm);
        ck_assert_msg(fabs(mv[j] - want_mv) <= 1e-6 * fmax(1, fabs(want_mv)),
                      "moving_variance[%ld] %.9g, expected %.9g", j, (double)mv[j], want_mv);
        ck_assert_float_eq(gamma[j], old[j]);
        ck_assert_float_eq(beta[j], old[c + j]);
    }
    for (size_t r = 0; r < rows; r++)
        for (long j = 0; j < c; j++) {
            double mu = batch ? mean[j] : old[2 * c + j];
            double v = batch ? var[j] : old[3 * c + j];
            double want = old[j] * (g.x[r * (size_t)c + (size_t)j] - mu) / sqrt(v + 0.01)
                          + old[c + j];
            double got = y[r * (size_t)c + (size_t)j];
            ck_assert_msg(fabs(got - want) <= 1e-5 * fmax(1, fabs(want)),
                          "y[%zu][%ld] %.9g, expected %.9g", r, j, got, want);
        }
    free(mean);
    free(var);
    free(old);
    gc_free(&g);
}
END_TEST

int main(void)
{
    Suite *su = suite_create("grad");
    TCase *tc = tcase_create("basic");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_dense);
    tcase_add_test(tc, test_flatten_reshape);
    tcase_add_test(tc, test_dropout);
    tcase_add_test(tc, test_rescaling);
    tcase_add_test(tc, test_check_rejects_wrong_gradient);
    suite_add_tcase(su, tc);

    tc = tcase_create("activations");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_activation, 0, sq_activation_count());
    tcase_add_test(tc, test_activation_list);
    suite_add_tcase(su, tc);

    tc = tcase_create("conv2d");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_conv2d, 0, NCONV);
    tcase_add_loop_test(tc, test_conv2d_relu, 0,
                        (int)(sizeof conv_relu / sizeof conv_relu[0]));
    suite_add_tcase(su, tc);

    tc = tcase_create("pooling");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_pool2d, 0, 2 * NPOOL);
    tcase_add_loop_test(tc, test_pool2d_after_relu, 0, NPOOL);
    tcase_add_loop_test(tc, test_global_pool2d, 0, 4);
    tcase_add_loop_test(tc, test_chunks, 0, 3);
    suite_add_tcase(su, tc);

    tc = tcase_create("batchnorm");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_batchnorm, 0, NBN);
    tcase_add_loop_test(tc, test_batchnorm_moving_update, 0, 15);
    suite_add_tcase(su, tc);

    SRunner *sr = srunner_create(su);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
