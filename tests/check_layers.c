/* check_layers.c - every layer kind's forward pass against naive loops written
 * here (direct convolution with TensorFlow's SAME arithmetic spelled out,
 * window pooling, formulas for each activation), plus output shapes, parameter
 * counts and Keras's error messages, all through the public API. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "seqsh/engine.h"
#include "model.h"
#include "kernels/threads.h"

/* ---- deterministic test data --------------------------------------------- */

static uint64_t trng_state = 0x9e3779b97f4a7c15ULL;

static void trng_seed(uint64_t s)
{
    trng_state = s * 0x9e3779b97f4a7c15ULL + 1;
}

/* xorshift64*, uniform in [lo, hi) */
static float frand(float lo, float hi)
{
    trng_state ^= trng_state >> 12;
    trng_state ^= trng_state << 25;
    trng_state ^= trng_state >> 27;
    uint64_t r = trng_state * 0x2545f4914f6cdd1dULL;
    double u = (double)(r >> 11) / 9007199254740992.0;
    return (float)(lo + (hi - lo) * u);
}

static float *random_floats(size_t n, float lo, float hi)
{
    float *p = malloc((n ? n : 1) * sizeof *p);
    ck_assert_ptr_nonnull(p);
    for (size_t i = 0; i < n; i++)
        p[i] = frand(lo, hi);
    return p;
}

/* ---- building through the public API ------------------------------------- */

/* A fresh session with an empty model; with nd > 0 dims, also `input`. */
static sq_session *new_session(int nd, const long *dims)
{
    sq_error err;
    sq_session *s = sq_session_new();
    ck_assert_ptr_nonnull(s);
    sq_seed(s, 42);
    ck_assert_int_eq(sq_model_new(s, NULL, &err), 0);
    if (nd > 0)
        ck_assert_msg(sq_input(s, nd, dims, &err) == 0, "input: %s", err.msg);
    return s;
}

/* sq_add with `args` split on blanks. */
static int add_words(sq_session *s, const char *kind, const char *args, sq_error *err)
{
    char buf[512];
    char *argv[32];
    int argc = 0;
    snprintf(buf, sizeof buf, "%s", args ? args : "");
    char *save = NULL;
    for (char *t = strtok_r(buf, " ", &save); t && argc < 32; t = strtok_r(NULL, " ", &save))
        argv[argc++] = t;
    return sq_add(s, kind, argc, argv, err);
}

static void add_ok(sq_session *s, const char *kind, const char *args)
{
    sq_error err;
    ck_assert_msg(add_words(s, kind, args, &err) == 0, "add %s %s: %s", kind, args, err.msg);
}

/* Adds a layer that must fail with exactly `msg`, leaving the model alone. */
static void add_fails(sq_session *s, const char *kind, const char *args, const char *msg)
{
    sq_error err;
    int n = sq_layer_count(s);
    err.msg[0] = '\0';
    ck_assert_msg(add_words(s, kind, args, &err) < 0, "add %s %s succeeded", kind, args);
    ck_assert_str_eq(err.msg, msg);
    ck_assert_int_eq(sq_layer_count(s), n);
}

/* Like add_fails, for messages checked only for a prefix or a substring. */
static void add_fails_with(sq_session *s, const char *kind, const char *args,
                           const char *prefix, const char *part)
{
    sq_error err;
    int n = sq_layer_count(s);
    err.msg[0] = '\0';
    ck_assert_msg(add_words(s, kind, args, &err) < 0, "add %s %s succeeded", kind, args);
    if (prefix)
        ck_assert_msg(strncmp(err.msg, prefix, strlen(prefix)) == 0,
                      "message '%s' does not start with '%s'", err.msg, prefix);
    if (part)
        ck_assert_msg(strstr(err.msg, part), "message '%s' lacks '%s'", err.msg, part);
    ck_assert_int_eq(sq_layer_count(s), n);
}

/* Weight `wi` of layer `li` in the model's flat buffer; *n gets its size. */
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

static void set_weight(sq_session *s, int li, int wi, float lo, float hi)
{
    size_t n;
    float *p = weight_ptr(s, li, wi, &n);
    for (size_t i = 0; i < n; i++)
        p[i] = frand(lo, hi);
}

static void call_ok(sq_session *s, int rank, const long *dims, float *x, sq_tensor *y)
{
    sq_error err;
    sq_tensor t = { .shape = { .rank = rank }, .data = x };
    memcpy(t.shape.d, dims, (size_t)rank * sizeof dims[0]);
    ck_assert_msg(sq_call(s, &t, y, &err) == 0, "call: %s", err.msg);
}

static void expect_shape(const sq_shape *got, int rank, const long *dims)
{
    char a[128];
    sq_shape want = { .rank = rank };
    memcpy(want.d, dims, (size_t)rank * sizeof dims[0]);
    char b[128];
    ck_assert_msg(sq_shape_eq(got, &want), "shape %s, expected %s",
                  sq_shape_str(got, a, sizeof a), sq_shape_str(&want, b, sizeof b));
}

/* |got - want| <= 1e-5 * scale + 1e-6, where scale is the sum of the
 * magnitudes that went into the value (|want| when scale is NULL). */
static void expect_close(const float *got, const double *want, const double *scale, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        double sc = scale ? scale[i] : fabs(want[i]);
        double tol = 1e-5 * sc + 1e-6;
        ck_assert_msg(fabs((double)got[i] - want[i]) <= tol,
                      "element %zu: got %.9g, expected %.9g (tolerance %.3g)", i,
                      (double)got[i], want[i], tol);
    }
}

static void expect_layer(sq_session *s, int i, const char *name, const char *cls,
                         int rank, const long *dims, size_t params)
{
    sq_layer_info info;
    ck_assert_int_eq(sq_layer_get(s, i, &info), 0);
    if (name)
        ck_assert_str_eq(info.name, name);
    if (cls)
        ck_assert_str_eq(info.class_name, cls);
    ck_assert(info.built);
    expect_shape(&info.output_shape, rank, dims);
    ck_assert_uint_eq(info.params, params);
}

/* ---- Conv2D --------------------------------------------------------------- */

typedef struct {
    long b, h, w, c, f;      /* batch, rows, cols, channels, filters */
    long kh, kw, sh, sw, dh, dw;
    int same, bias, relu;
} conv_case;

static const conv_case conv_cases[] = {
    { 1, 5, 5, 3, 4, 3, 3, 1, 1, 1, 1, 0, 1, 0 },
    { 2, 5, 5, 2, 3, 3, 3, 1, 1, 1, 1, 1, 1, 0 },
    { 2, 6, 6, 3, 4, 3, 3, 2, 2, 1, 1, 1, 1, 0 },   /* SAME pads 0 top, 1 bottom */
    { 1, 7, 7, 2, 3, 4, 4, 2, 2, 1, 1, 1, 1, 0 },   /* SAME pads 1 top, 2 bottom */
    { 2, 6, 6, 3, 4, 3, 3, 2, 2, 1, 1, 0, 1, 0 },
    { 1, 8, 7, 2, 3, 3, 3, 3, 3, 1, 1, 0, 1, 0 },
    { 1, 8, 7, 2, 3, 3, 3, 3, 3, 1, 1, 1, 1, 0 },
    { 2, 7, 6, 2, 3, 3, 3, 1, 1, 2, 2, 0, 1, 0 },   /* dilation 2 */
    { 1, 7, 6, 2, 3, 3, 3, 1, 1, 2, 2, 1, 1, 0 },
    { 1, 9, 8, 3, 2, 3, 2, 1, 1, 2, 3, 1, 1, 0 },   /* unequal dilations */
    { 2, 6, 9, 2, 3, 2, 3, 1, 2, 1, 1, 1, 1, 0 },   /* non-square kernel, strides */
    { 2, 6, 9, 2, 3, 2, 3, 1, 2, 1, 1, 0, 1, 0 },
    { 1, 7, 8, 3, 5, 3, 1, 2, 3, 1, 1, 1, 1, 0 },
    { 3, 5, 5, 3, 4, 3, 3, 1, 1, 1, 1, 0, 0, 0 },   /* use_bias=false, batch 3 */
    { 2, 6, 6, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0 },
    { 2, 4, 5, 3, 6, 1, 1, 1, 1, 1, 1, 0, 1, 0 },   /* 1x1 (no im2col) */
    { 2, 5, 5, 3, 4, 1, 1, 2, 2, 1, 1, 0, 1, 0 },   /* 1x1, stride 2 */
    { 1, 4, 4, 3, 4, 1, 1, 1, 1, 1, 1, 1, 1, 0 },   /* 1x1, same */
    { 2, 1, 1, 3, 2, 1, 1, 1, 1, 1, 1, 0, 0, 0 },
    { 1, 3, 3, 2, 3, 5, 5, 1, 1, 1, 1, 1, 1, 0 },   /* kernel larger than input */
    { 1, 4, 4, 2, 3, 5, 4, 2, 3, 1, 1, 1, 1, 0 },
    { 1, 8, 8, 2, 2, 2, 2, 3, 3, 1, 1, 0, 1, 0 },   /* stride > kernel skips pixels */
    { 2, 5, 5, 1, 1, 2, 2, 1, 1, 1, 1, 0, 1, 0 },
    { 2, 5, 5, 2, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1 },   /* with relu */
    { 4, 10, 10, 8, 16, 3, 3, 1, 1, 1, 1, 1, 1, 0 },
    { 2, 9, 9, 4, 6, 3, 3, 2, 2, 1, 1, 1, 0, 1 },
};

/* The direct definition: 7 nested loops, TF's SAME split written out. */
static void ref_conv2d(const conv_case *k, const float *x, const float *kern,
                       const float *bias, double *y, double *scale, long *oh, long *ow)
{
    long ekh = (k->kh - 1) * k->dh + 1, ekw = (k->kw - 1) * k->dw + 1;
    long ho, wo, pt = 0, pl = 0;
    if (k->same) {
        ho = (k->h + k->sh - 1) / k->sh;
        wo = (k->w + k->sw - 1) / k->sw;
        long ph = (ho - 1) * k->sh + ekh - k->h, pw = (wo - 1) * k->sw + ekw - k->w;
        pt = ph > 0 ? ph / 2 : 0;   /* the odd one goes to the bottom */
        pl = pw > 0 ? pw / 2 : 0;   /* ... and to the right */
    } else {
        ho = (k->h - ekh) / k->sh + 1;
        wo = (k->w - ekw) / k->sw + 1;
    }
    *oh = ho;
    *ow = wo;
    for (long b = 0; b < k->b; b++)
        for (long oy = 0; oy < ho; oy++)
            for (long ox = 0; ox < wo; ox++)
                for (long f = 0; f < k->f; f++) {
                    double acc = bias ? bias[f] : 0, mag = bias ? fabs(bias[f]) : 0;
                    for (long ky = 0; ky < k->kh; ky++)
                        for (long kx = 0; kx < k->kw; kx++)
                            for (long c = 0; c < k->c; c++) {
                                long iy = oy * k->sh - pt + ky * k->dh;
                                long ix = ox * k->sw - pl + kx * k->dw;
                                if (iy < 0 || iy >= k->h || ix < 0 || ix >= k->w)
                                    continue;
                                double t = (double)x[((b * k->h + iy) * k->w + ix) * k->c + c]
                                           * kern[((ky * k->kw + kx) * k->c + c) * k->f + f];
                                acc += t;
                                mag += fabs(t);
                            }
                    if (k->relu && acc < 0)
                        acc = 0;
                    size_t o = (size_t)(((b * ho + oy) * wo + ox) * k->f + f);
                    y[o] = acc;
                    scale[o] = mag;
                }
}

static const conv_case bwd_cases[] = {
    { 3, 200, 200, 3, 2, 5, 5, 1, 1, 1, 1, 0, 1, 0 },
    { 3, 200, 200, 3, 2, 5, 5, 2, 2, 1, 1, 1, 1, 0 },
    /* the direct kernel gradient (AVX-512, valid windows, unit strides):
     * panels of 64, 40 (three vectors), 16 and 64 + 6 filters, blocks of
     * rows that cross taps, dilation */
    { 4, 12, 11, 32, 64, 3, 3, 1, 1, 1, 1, 0, 1, 0 },
    { 3, 9, 10, 5, 40, 3, 3, 1, 1, 2, 2, 0, 1, 0 },
    { 2, 7, 7, 3, 16, 2, 3, 1, 1, 1, 1, 0, 1, 0 },
    { 2, 8, 8, 1, 70, 3, 3, 1, 1, 1, 1, 0, 1, 0 },
    /* a first layer's few rows: the threads split the output rows, each
     * into a kernel gradient of its own, added up */
    { 3, 120, 120, 1, 32, 3, 3, 1, 1, 1, 1, 0, 1, 0 },
};

/* Conv2D's backward on two threads over groups of images: each thread
 * copies its group's windows into one im2col matrix and makes its partial
 * kernel gradient with one GEMM. Images of 200x200x3 with a 5x5 kernel fill
 * a group with one image, so with a batch of 3 one thread adds two groups
 * into its partials and the other one. Against the gradients written here
 * as the definition: dK[ky,kx,c,f] = sum over images and output pixels of
 * x[window cell] * dy, dbias[f] = sum of dy, and dx[cell] = sum over the
 * outputs whose windows read it of K * dy (strides 2 and SAME padding: the
 * input gradient by GEMM and col2im too). With AVX-512, valid windows and
 * unit strides the kernel gradient comes from conv_dw.c instead, the
 * threads sharing its rows: the other cases try its panels of filters. The
 * workspace is planned for a batch of 8 and the step runs 3 or 4 images,
 * as a fit's last batch does. */
START_TEST(test_conv2d_backward_groups)
{
    const conv_case *k = &bwd_cases[_i];
    int was = sq_get_threads();
    sq_set_threads(2);
    trng_seed(700 + (uint64_t)_i);
    long in_dims[3] = { k->h, k->w, k->c };
    sq_session *s = new_session(3, in_dims);
    char args[128];
    snprintf(args, sizeof args, "%ld (%ld,%ld) strides=(%ld,%ld) dilation_rate=(%ld,%ld) "
             "padding=%s", k->f, k->kh, k->kw, k->sh, k->sw, k->dh, k->dw,
             k->same ? "same" : "valid");
    add_ok(s, "conv2d", args);
    sq_model *m = s->model;
    sq_train_ws ws;
    sq_error err;
    sq_shape in = { 4, { 8, k->h, k->w, k->c } };
    ck_assert_msg(sq_train_ws_init(&ws, m, &in, &err) == 0, "%s", err.msg);
    float *grads = malloc(m->nparams * sizeof *grads);
    ck_assert_ptr_nonnull(grads);
    float *saved_grads = m->grads;
    size_t saved_cap = m->grads_cap;
    m->grads = grads;
    m->grads_cap = m->nparams;
    size_t nin = (size_t)(k->b * k->h * k->w * k->c);
    float *x = random_floats(nin, -1, 1), *dx = malloc(nin * sizeof *dx);
    ck_assert_ptr_nonnull(dx);
    sq_rng rng;
    sq_rng_seed(&rng, 1);
    sq_train_forward(m, &ws, x, k->b, 1, &rng);
    const sq_shape *os = &ws.shb[1];
    long oh = os->d[1], ow = os->d[2];
    size_t nout = sq_shape_count(os);
    float *dy = random_floats(nout, -1, 1);
    sq_train_backward_input(m, &ws, x, dy, dx);
    const float *kern = weight_ptr(s, 0, 0, NULL);
    long pt = 0, pl = 0;
    if (k->same) {
        long ekh = (k->kh - 1) * k->dh + 1, ekw = (k->kw - 1) * k->dw + 1;
        long ph = (oh - 1) * k->sh + ekh - k->h, pw = (ow - 1) * k->sw + ekw - k->w;
        pt = ph > 0 ? ph / 2 : 0;
        pl = pw > 0 ? pw / 2 : 0;
    }
    size_t nk = (size_t)(k->kh * k->kw * k->c * k->f);
    double *dk = calloc(nk, sizeof *dk), *db = calloc((size_t)k->f, sizeof *db);
    double *dxw = calloc(nin, sizeof *dxw), *mag = calloc(nk, sizeof *mag);
    double *dxmag = calloc(nin, sizeof *dxmag);
    ck_assert(dk && db && dxw && mag && dxmag);
    for (long b = 0; b < k->b; b++)
        for (long oy = 0; oy < oh; oy++)
            for (long ox = 0; ox < ow; ox++)
                for (long f = 0; f < k->f; f++) {
                    double g = dy[((b * oh + oy) * ow + ox) * k->f + f];
                    db[f] += g;
                    for (long ky = 0; ky < k->kh; ky++)
                        for (long kx = 0; kx < k->kw; kx++) {
                            long iy = oy * k->sh - pt + ky * k->dh;
                            long ix = ox * k->sw - pl + kx * k->dw;
                            if (iy < 0 || iy >= k->h || ix < 0 || ix >= k->w)
                                continue;
                            for (long c = 0; c < k->c; c++) {
                                size_t xi = (size_t)(((b * k->h + iy) * k->w + ix) * k->c + c);
                                size_t ki = (size_t)(((ky * k->kw + kx) * k->c + c) * k->f + f);
                                dk[ki] += x[xi] * g;
                                mag[ki] += fabs(x[xi] * g);
                                dxw[xi] += kern[ki] * g;
                                dxmag[xi] += fabs(kern[ki] * g);
                            }
                        }
                }
    const float *gk = m->grads + m->layers[0]->param_off, *gb = gk + nk;
    for (size_t i = 0; i < nk; i++)
        ck_assert_msg(fabs(gk[i] - dk[i]) <= 1e-5 * (1 + mag[i]), "%s: dK[%zu] is %g, want %g",
                      args, i, (double)gk[i], dk[i]);
    for (long f = 0; f < k->f; f++)
        ck_assert_msg(fabs(gb[f] - db[f]) <= 1e-5 * (double)nout, "%s: dbias[%ld] is %g, want %g",
                      args, f, (double)gb[f], db[f]);
    /* float32 sums err in proportion to the sum of their terms' sizes
     * (more so through Winograd's transforms) */
    for (size_t i = 0; i < nin; i++)
        ck_assert_msg(fabs(dx[i] - dxw[i]) <= 1e-5 * (1 + dxmag[i]),
                      "%s: dx[%zu] is %g, want %g", args, i, (double)dx[i], dxw[i]);
    m->grads = saved_grads;
    m->grads_cap = saved_cap;
    free(grads);
    free(dk);
    free(db);
    free(dxw);
    free(dxmag);
    free(mag);
    free(dy);
    free(dx);
    free(x);
    sq_train_ws_free(&ws);
    sq_session_free(s);
    sq_set_threads(was);
}
END_TEST

/* A training step on two threads wakes the pool's workers only when the
 * step before it shared a job: a small Dense model's steps share none and
 * leave them asleep (not spinning beside the thread doing the work); after
 * a job the next step wakes them again. Counted by sq_pool_wakeups, which
 * does not depend on when the workers run. */
static void noop_range(void *ctx, long b, long e, int tid)
{
    (void)ctx;
    (void)b;
    (void)e;
    (void)tid;
}

START_TEST(test_steps_wake_only_for_jobs)
{
    int was = sq_get_threads();
    sq_set_threads(2);
    long in_dims[1] = { 4 };
    sq_session *s = new_session(1, in_dims);
    add_ok(s, "dense", "3");
    sq_train_ws ws;
    sq_error err;
    sq_shape in = { 2, { 8, 4 } };
    ck_assert_msg(sq_train_ws_init(&ws, s->model, &in, &err) == 0, "%s", err.msg);
    float *x = random_floats(32, -1, 1);
    sq_rng rng;
    sq_rng_seed(&rng, 1);
    unsigned long woken = sq_pool_wakeups();
    sq_train_forward(s->model, &ws, x, 8, 1, &rng);   /* the first step wakes them */
    ck_assert_uint_eq(sq_pool_wakeups(), woken + 1);
    for (int step = 0; step < 3; step++)
        sq_train_forward(s->model, &ws, x, 8, 1, &rng);
    ck_assert_uint_eq(sq_pool_wakeups(), woken + 1);
    sq_parallel_for(1000, 1, noop_range, NULL);        /* a job, as a bigger step's */
    sq_train_forward(s->model, &ws, x, 8, 1, &rng);
    ck_assert_uint_eq(sq_pool_wakeups(), woken + 2);
    sq_train_forward(s->model, &ws, x, 8, 1, &rng);
    ck_assert_uint_eq(sq_pool_wakeups(), woken + 2);
    free(x);
    sq_train_ws_free(&ws);
    sq_session_free(s);
    sq_set_threads(was);
}
END_TEST

START_TEST(test_conv2d_forward)
{
    const conv_case *k = &conv_cases[_i];
    char args[256];
    snprintf(args, sizeof args, "%ld (%ld,%ld) strides=(%ld,%ld) padding=%s "
             "dilation_rate=(%ld,%ld) use_bias=%s%s", k->f, k->kh, k->kw, k->sh, k->sw,
             k->same ? "same" : "valid", k->dh, k->dw, k->bias ? "true" : "false",
             k->relu ? " relu" : "");
    trng_seed(100 + (uint64_t)_i);
    long in_dims[3] = { k->h, k->w, k->c };
    sq_session *s = new_session(3, in_dims);
    add_ok(s, "conv2d", args);
    const sq_layer *l = s->model->layers[0];
    ck_assert_int_eq(l->nweights, k->bias ? 2 : 1);
    ck_assert_str_eq(l->w[0].name, "kernel");
    long kshape[4] = { k->kh, k->kw, k->c, k->f };
    expect_shape(&l->w[0].shape, 4, kshape);
    set_weight(s, 0, 0, -1, 1);
    float *bias = NULL;
    if (k->bias) {
        ck_assert_str_eq(l->w[1].name, "bias");
        set_weight(s, 0, 1, -1, 1);
        bias = weight_ptr(s, 0, 1, NULL);
    }
    size_t nin = (size_t)(k->b * k->h * k->w * k->c);
    float *x = random_floats(nin, -1, 1);
    long ho, wo;
    size_t nout_max = (size_t)(k->b * (k->h + 2) * (k->w + 2) * k->f);
    double *want = malloc(nout_max * sizeof *want), *scale = malloc(nout_max * sizeof *scale);
    ref_conv2d(k, x, weight_ptr(s, 0, 0, NULL), bias, want, scale, &ho, &wo);

    sq_tensor y;
    long xdims[4] = { k->b, k->h, k->w, k->c };
    call_ok(s, 4, xdims, x, &y);
    long ydims[4] = { k->b, ho, wo, k->f };
    expect_shape(&y.shape, 4, ydims);
    long odims[4] = { -1, ho, wo, k->f };
    expect_layer(s, 0, "conv2d", "Conv2D", 4, odims,
                 (size_t)(k->kh * k->kw * k->c * k->f + (k->bias ? k->f : 0)));
    expect_close(y.data, want, scale, (size_t)(k->b * ho * wo * k->f));
    sq_tensor_free(&y);
    free(want);
    free(scale);
    free(x);
    sq_session_free(s);
}
END_TEST

/* Default initialisation: glorot_uniform kernel within its limit, zero bias. */
START_TEST(test_conv2d_init)
{
    long in_dims[3] = { 8, 8, 3 };
    sq_session *s = new_session(3, in_dims);
    add_ok(s, "conv2d", "16 (3,5)");
    size_t n;
    float *kern = weight_ptr(s, 0, 0, &n);
    ck_assert_uint_eq(n, 3 * 5 * 3 * 16);
    double limit = sqrt(6.0 / (3 * 5 * 3 + 3 * 5 * 16));
    int nonzero = 0;
    for (size_t i = 0; i < n; i++) {
        ck_assert(fabs(kern[i]) <= limit);
        nonzero += kern[i] != 0;
    }
    ck_assert_int_gt(nonzero, (int)n / 2);
    float *bias = weight_ptr(s, 0, 1, &n);
    ck_assert_uint_eq(n, 16);
    for (size_t i = 0; i < n; i++)
        ck_assert(bias[i] == 0.0f);
    sq_session_free(s);
}
END_TEST

/* Two convolutions in a row, then a call with a different batch size. */
START_TEST(test_conv2d_stack)
{
    long in_dims[3] = { 6, 6, 2 };
    sq_session *s = new_session(3, in_dims);
    add_ok(s, "conv2d", "3 3 padding=same");
    add_ok(s, "conv2d", "2 2 strides=2");
    trng_seed(7);
    for (int li = 0; li < 2; li++)
        for (int wi = 0; wi < 2; wi++)
            set_weight(s, li, wi, -1, 1);
    for (long nb = 1; nb <= 3; nb += 2) {
        size_t nin = (size_t)nb * 6 * 6 * 2;
        float *x = random_floats(nin, -1, 1);
        conv_case a = { nb, 6, 6, 2, 3, 3, 3, 1, 1, 1, 1, 1, 1, 0 };
        conv_case b = { nb, 6, 6, 3, 2, 2, 2, 2, 2, 1, 1, 0, 1, 0 };
        double *mid = malloc((size_t)nb * 36 * 3 * sizeof *mid);
        double *sc1 = malloc((size_t)nb * 36 * 3 * sizeof *sc1);
        double *want = malloc((size_t)nb * 9 * 2 * sizeof *want);
        double *sc2 = malloc((size_t)nb * 9 * 2 * sizeof *sc2);
        float *midf = malloc((size_t)nb * 36 * 3 * sizeof *midf);
        long ho, wo;
        ref_conv2d(&a, x, weight_ptr(s, 0, 0, NULL), weight_ptr(s, 0, 1, NULL), mid, sc1,
                   &ho, &wo);
        for (size_t i = 0; i < (size_t)nb * 36 * 3; i++)
            midf[i] = (float)mid[i];
        ref_conv2d(&b, midf, weight_ptr(s, 1, 0, NULL), weight_ptr(s, 1, 1, NULL), want, sc2,
                   &ho, &wo);
        ck_assert_int_eq(ho, 3);
        sq_tensor y;
        long xd[4] = { nb, 6, 6, 2 }, yd[4] = { nb, 3, 3, 2 };
        call_ok(s, 4, xd, x, &y);
        expect_shape(&y.shape, 4, yd);
        /* the intermediate rounding makes the bound a little looser */
        for (size_t i = 0; i < (size_t)nb * 18; i++)
            sc2[i] *= 4;
        expect_close(y.data, want, sc2, (size_t)nb * 18);
        sq_tensor_free(&y);
        free(mid);
        free(sc1);
        free(want);
        free(sc2);
        free(midf);
        free(x);
    }
    sq_session_free(s);
}
END_TEST

/* ---- MaxPooling2D / AveragePooling2D -------------------------------------- */

typedef struct {
    int max;
    long b, h, w, c;
    long kh, kw, sh, sw;     /* sh = 0: strides left to their default */
    int same, negative;      /* negative: all inputs < 0 (padding must not count) */
} pool_case;

static const pool_case pool_cases[] = {
    { 1, 1, 7, 7, 2, 2, 2, 0, 0, 0, 0 },
    { 1, 2, 7, 7, 2, 2, 2, 0, 0, 1, 1 },
    { 0, 2, 7, 7, 2, 2, 2, 0, 0, 1, 0 },
    { 0, 1, 10, 10, 3, 3, 3, 2, 2, 0, 0 },
    { 0, 2, 6, 6, 3, 3, 3, 2, 2, 1, 0 },   /* pads 0 top, 1 bottom */
    { 0, 1, 7, 7, 3, 3, 3, 2, 2, 1, 0 },   /* pads 1, 1 */
    { 1, 2, 6, 6, 3, 3, 3, 2, 2, 1, 1 },
    { 1, 1, 7, 7, 3, 3, 3, 2, 2, 1, 1 },
    { 0, 1, 5, 5, 2, 3, 3, 1, 1, 1, 0 },   /* pads 1, 1 */
    { 0, 1, 5, 5, 2, 4, 4, 1, 1, 1, 0 },   /* pads 1, 2 */
    { 1, 1, 5, 5, 2, 4, 4, 1, 1, 1, 1 },
    { 1, 2, 6, 9, 3, 2, 3, 1, 2, 0, 0 },   /* non-square */
    { 0, 2, 6, 9, 3, 2, 3, 1, 2, 1, 0 },
    { 1, 1, 8, 8, 2, 2, 2, 3, 3, 0, 0 },   /* stride > pool */
    { 0, 1, 4, 4, 2, 5, 5, 2, 2, 1, 0 },   /* window larger than input */
    { 1, 1, 4, 4, 2, 5, 5, 2, 2, 1, 1 },
    { 0, 3, 3, 3, 4, 3, 3, 0, 0, 0, 0 },   /* window = input */
    { 1, 2, 9, 7, 5, 3, 2, 2, 3, 1, 1 },
};

static void ref_pool2d(const pool_case *k, const float *x, double *y, long *oh, long *ow)
{
    long sh = k->sh ? k->sh : k->kh, sw = k->sw ? k->sw : k->kw;
    long ho, wo, pt = 0, pl = 0;
    if (k->same) {
        ho = (k->h + sh - 1) / sh;
        wo = (k->w + sw - 1) / sw;
        long ph = (ho - 1) * sh + k->kh - k->h, pw = (wo - 1) * sw + k->kw - k->w;
        pt = ph > 0 ? ph / 2 : 0;
        pl = pw > 0 ? pw / 2 : 0;
    } else {
        ho = (k->h - k->kh) / sh + 1;
        wo = (k->w - k->kw) / sw + 1;
    }
    *oh = ho;
    *ow = wo;
    for (long b = 0; b < k->b; b++)
        for (long oy = 0; oy < ho; oy++)
            for (long ox = 0; ox < wo; ox++)
                for (long c = 0; c < k->c; c++) {
                    double acc = k->max ? -INFINITY : 0;
                    long cells = 0;
                    for (long ky = 0; ky < k->kh; ky++)
                        for (long kx = 0; kx < k->kw; kx++) {
                            long iy = oy * sh - pt + ky, ix = ox * sw - pl + kx;
                            if (iy < 0 || iy >= k->h || ix < 0 || ix >= k->w)
                                continue;   /* a padded cell */
                            double v = x[((b * k->h + iy) * k->w + ix) * k->c + c];
                            if (k->max)
                                acc = v > acc ? v : acc;
                            else
                                acc += v;
                            cells++;
                        }
                    ck_assert_int_gt(cells, 0);
                    y[((b * ho + oy) * wo + ox) * k->c + c] = k->max ? acc : acc / (double)cells;
                }
}

START_TEST(test_pool2d_forward)
{
    const pool_case *k = &pool_cases[_i];
    char args[256];
    int n = snprintf(args, sizeof args, "(%ld,%ld) padding=%s", k->kh, k->kw,
                     k->same ? "SAME" : "valid");
    if (k->sh)
        snprintf(args + n, sizeof args - (size_t)n, " strides=(%ld,%ld)", k->sh, k->sw);
    trng_seed(300 + (uint64_t)_i);
    long in_dims[3] = { k->h, k->w, k->c };
    sq_session *s = new_session(3, in_dims);
    add_ok(s, k->max ? "MaxPooling2D" : "average_pooling2d", args);
    size_t nin = (size_t)(k->b * k->h * k->w * k->c);
    float *x = random_floats(nin, k->negative ? -3 : -1, k->negative ? -1 : 1);
    long ho, wo;
    double *want = malloc((size_t)(k->b * (k->h + 1) * (k->w + 1) * k->c) * sizeof *want);
    ref_pool2d(k, x, want, &ho, &wo);
    sq_tensor y;
    long xd[4] = { k->b, k->h, k->w, k->c }, yd[4] = { k->b, ho, wo, k->c };
    call_ok(s, 4, xd, x, &y);
    expect_shape(&y.shape, 4, yd);
    long od[4] = { -1, ho, wo, k->c };
    expect_layer(s, 0, k->max ? "max_pooling2d" : "average_pooling2d",
                 k->max ? "MaxPooling2D" : "AveragePooling2D", 4, od, 0);
    expect_close(y.data, want, NULL, (size_t)(k->b * ho * wo * k->c));
    sq_tensor_free(&y);
    free(want);
    free(x);
    sq_session_free(s);
}
END_TEST

/* Max pooling while training: the forward saves where each maximum is and
 * backward adds each output's gradient there. Against the routing written
 * naively here (the first maximum in scan order, a later cell winning only
 * when strictly greater: TensorFlow's MaxPoolGrad), on inputs with many
 * ties (four distinct values) and a NaN, with the case's channels and with
 * 19 (the vector kernels' tails). The forward's values must be the
 * inference forward's. */
START_TEST(test_maxpool2d_backward)
{
    if (!pool_cases[_i].max)
        return;
    for (int variant = 0; variant < 2; variant++) {
        pool_case k = pool_cases[_i];
        if (variant)
            k.c = 19;
        char args[256];
        int n = snprintf(args, sizeof args, "(%ld,%ld) padding=%s", k.kh, k.kw,
                         k.same ? "same" : "valid");
        if (k.sh)
            snprintf(args + n, sizeof args - (size_t)n, " strides=(%ld,%ld)", k.sh, k.sw);
        trng_seed(600 + (uint64_t)_i * 2 + (uint64_t)variant);
        long in_dims[3] = { k.h, k.w, k.c };
        sq_session *s = new_session(3, in_dims);
        add_ok(s, "maxpooling2d", args);
        sq_model *m = s->model;
        sq_train_ws ws;
        sq_error err;
        sq_shape in = { 4, { k.b, k.h, k.w, k.c } };
        ck_assert_msg(sq_train_ws_init(&ws, m, &in, &err) == 0, "%s", err.msg);
        size_t nin = (size_t)(k.b * k.h * k.w * k.c);
        float *x = malloc(nin * sizeof *x), *dx = malloc(nin * sizeof *dx);
        double *want = malloc(nin * sizeof *want);
        ck_assert(x && dx && want);
        for (size_t i = 0; i < nin; i++)
            x[i] = (float)floor(frand(0, 4)) * 0.5f - 1.0f;
        x[nin / 3] = NAN;
        sq_rng rng;
        sq_rng_seed(&rng, 1);
        sq_train_forward(m, &ws, x, k.b, 1, &rng);
        const sq_shape *os = &ws.shb[1];
        long oh = os->d[1], ow = os->d[2];
        size_t nout = sq_shape_count(os);
        /* the forward: the inference forward's values */
        sq_tensor yi;
        long xd[4] = { k.b, k.h, k.w, k.c };
        call_ok(s, 4, xd, x, &yi);
        ck_assert_int_eq(sq_shape_count(&yi.shape), nout);
        for (size_t i = 0; i < nout; i++)
            ck_assert_msg(ws.y[0][i] == yi.data[i], "%s: output %zu is %g, inference %g", args,
                          i, (double)ws.y[0][i], (double)yi.data[i]);
        sq_tensor_free(&yi);
        float *dy = random_floats(nout, -1, 1);
        sq_train_backward_input(m, &ws, x, dy, dx);
        /* the naive routing */
        long sh = k.sh ? k.sh : k.kh, sw = k.sw ? k.sw : k.kw, pt = 0, pl = 0;
        if (k.same) {
            long ph = (oh - 1) * sh + k.kh - k.h, pw = (ow - 1) * sw + k.kw - k.w;
            pt = ph > 0 ? ph / 2 : 0;
            pl = pw > 0 ? pw / 2 : 0;
        }
        for (size_t i = 0; i < nin; i++)
            want[i] = 0;
        for (long b = 0; b < k.b; b++)
            for (long oy = 0; oy < oh; oy++)
                for (long ox = 0; ox < ow; ox++)
                    for (long c = 0; c < k.c; c++) {
                        long best = -1;
                        for (long ky = 0; ky < k.kh; ky++)
                            for (long kx = 0; kx < k.kw; kx++) {
                                long iy = oy * sh - pt + ky, ix = ox * sw - pl + kx;
                                if (iy < 0 || iy >= k.h || ix < 0 || ix >= k.w)
                                    continue;
                                long at = ((b * k.h + iy) * k.w + ix) * k.c + c;
                                if (best < 0 || x[at] > x[best])
                                    best = at;
                            }
                        ck_assert_int_ge(best, 0);
                        want[best] += dy[((b * oh + oy) * ow + ox) * k.c + c];
                    }
        for (size_t i = 0; i < nin; i++)
            ck_assert_msg(fabs(dx[i] - want[i]) <= 1e-6 * (1 + fabs(want[i])),
                          "%s, %ld channels: dx[%zu] is %g, want %g", args, k.c, i,
                          (double)dx[i], want[i]);
        free(dy);
        free(want);
        free(dx);
        free(x);
        sq_train_ws_free(&ws);
        sq_session_free(s);
    }
}
END_TEST

/* Keras's constructor order: pool_size, strides, padding. */
START_TEST(test_pool2d_positionals)
{
    long in_dims[3] = { 7, 7, 1 };
    sq_session *s = new_session(3, in_dims);
    add_ok(s, "maxpooling2d", "3 1 same");
    long d1[4] = { -1, 7, 7, 1 };
    expect_layer(s, 0, "max_pooling2d", "MaxPooling2D", 4, d1, 0);
    add_ok(s, "avgpool2d", "3 2");
    long d2[4] = { -1, 3, 3, 1 };
    expect_layer(s, 1, "average_pooling2d", "AveragePooling2D", 4, d2, 0);
    add_ok(s, "MaxPool2D", "");
    long d3[4] = { -1, 1, 1, 1 };
    expect_layer(s, 2, "max_pooling2d_1", "MaxPooling2D", 4, d3, 0);
    sq_session_free(s);
}
END_TEST

/* ---- global pooling -------------------------------------------------------- */

START_TEST(test_global_pool2d_forward)
{
    int max = _i & 1, keep = (_i >> 1) & 1;
    long b = 2, h = 3, w = 4, c = 5;
    if (_i >= 4) {
        h = 1;
        w = 1;
    }
    trng_seed(500 + (uint64_t)_i);
    long in_dims[3] = { h, w, c };
    sq_session *s = new_session(3, in_dims);
    add_ok(s, max ? "GlobalMaxPool2D" : "global_average_pooling2d",
           keep ? "keepdims=true" : "");
    float *x = random_floats((size_t)(b * h * w * c), -2, 2);
    double want[2 * 5];
    for (long i = 0; i < b; i++)
        for (long j = 0; j < c; j++) {
            double acc = max ? -INFINITY : 0;
            for (long p = 0; p < h * w; p++) {
                double v = x[(i * h * w + p) * c + j];
                acc = max ? (v > acc ? v : acc) : acc + v;
            }
            want[i * c + j] = max ? acc : acc / (double)(h * w);
        }
    sq_tensor y;
    long xd[4] = { b, h, w, c };
    call_ok(s, 4, xd, x, &y);
    if (keep) {
        long yd[4] = { b, 1, 1, c }, od[4] = { -1, 1, 1, c };
        expect_shape(&y.shape, 4, yd);
        expect_layer(s, 0, NULL, max ? "GlobalMaxPooling2D" : "GlobalAveragePooling2D",
                     4, od, 0);
    } else {
        long yd[2] = { b, c }, od[2] = { -1, c };
        expect_shape(&y.shape, 2, yd);
        expect_layer(s, 0, max ? "global_max_pooling2d" : "global_average_pooling2d",
                     NULL, 2, od, 0);
    }
    expect_close(y.data, want, NULL, (size_t)(b * c));
    sq_tensor_free(&y);
    free(x);
    sq_session_free(s);
}
END_TEST

/* ---- BatchNormalization ----------------------------------------------------- */

/* _i: bit 0 no scale, bit 1 no center, bit 2 rank 2 input, bit 3 rank 3. */
START_TEST(test_batchnorm_forward)
{
    int scale = !(_i & 1), center = !(_i & 2);
    int rank = (_i & 4) ? 2 : (_i & 8) ? 3 : 4;
    long dims[4] = { 3, 2, 3, 5 };   /* batch first; the last `rank - 1` are used */
    long *in_dims = dims + (5 - rank);
    long c = 5;
    char args[128];
    snprintf(args, sizeof args, "center=%s scale=%s%s", center ? "true" : "false",
             scale ? "true" : "false", (_i & 4) ? " epsilon=0.01" : "");
    double eps = (_i & 4) ? 0.01 : 0.001;
    trng_seed(700 + (uint64_t)_i);
    sq_session *s = new_session(rank - 1, in_dims);
    add_ok(s, "BatchNormalization", args);
    const sq_layer *l = s->model->layers[0];
    ck_assert_int_eq(l->nweights, 2 + scale + center);
    int wi = 0;
    const float *gamma = NULL, *beta = NULL;
    if (scale) {
        ck_assert_str_eq(l->w[wi].name, "gamma");
        ck_assert(l->w[wi].trainable);
        set_weight(s, 0, wi, 0.5f, 1.5f);
        gamma = weight_ptr(s, 0, wi++, NULL);
    }
    if (center) {
        ck_assert_str_eq(l->w[wi].name, "beta");
        ck_assert(l->w[wi].trainable);
        set_weight(s, 0, wi, -1, 1);
        beta = weight_ptr(s, 0, wi++, NULL);
    }
    ck_assert_str_eq(l->w[wi].name, "moving_mean");
    ck_assert(!l->w[wi].trainable);
    set_weight(s, 0, wi, -1, 1);
    const float *mean = weight_ptr(s, 0, wi++, NULL);
    ck_assert_str_eq(l->w[wi].name, "moving_variance");
    ck_assert(!l->w[wi].trainable);
    set_weight(s, 0, wi, 0.1f, 2);
    const float *var = weight_ptr(s, 0, wi, NULL);

    long full[4] = { 2 };
    size_t n = 2;
    for (int i = 1; i < rank; i++) {
        full[i] = in_dims[i - 1];
        n *= (size_t)in_dims[i - 1];
    }
    float *x = random_floats(n, -3, 3);
    double *want = malloc(n * sizeof *want), *sc = malloc(n * sizeof *sc);
    for (size_t i = 0; i < n; i++) {
        long j = (long)(i % (size_t)c);
        double g = gamma ? gamma[j] : 1, bt = beta ? beta[j] : 0;
        double inv = 1 / sqrt(var[j] + eps);
        want[i] = g * (x[i] - mean[j]) * inv + bt;
        sc[i] = fabs(g * x[i] * inv) + fabs(g * mean[j] * inv) + fabs(bt);
    }
    sq_tensor y;
    call_ok(s, rank, full, x, &y);
    expect_shape(&y.shape, rank, full);
    long od[4];
    memcpy(od, full, sizeof od);
    od[0] = -1;
    expect_layer(s, 0, "batch_normalization", "BatchNormalization", rank, od,
                 (size_t)(c * (2 + scale + center)));
    expect_close(y.data, want, sc, n);
    sq_tensor_free(&y);
    free(want);
    free(sc);
    free(x);
    sq_session_free(s);
}
END_TEST

/* Fresh weights: gamma ones, beta zeros, moving stats zeros/ones; with those
 * the layer divides by sqrt(1 + epsilon). */
START_TEST(test_batchnorm_defaults)
{
    long in_dims[1] = { 4 };
    sq_session *s = new_session(1, in_dims);
    add_ok(s, "batch_normalization", "axis=1");
    const float expect_init[4] = { 1, 0, 0, 1 };
    for (int wi = 0; wi < 4; wi++) {
        size_t n;
        float *p = weight_ptr(s, 0, wi, &n);
        ck_assert_uint_eq(n, 4);
        for (size_t i = 0; i < n; i++)
            ck_assert(p[i] == expect_init[wi]);
    }
    float x[8] = { 1, 2, 3, 4, -1, -2, 0.5f, 0 };
    double want[8];
    for (int i = 0; i < 8; i++)
        want[i] = x[i] / sqrt(1.001);
    sq_tensor y;
    long xd[2] = { 2, 4 };
    call_ok(s, 2, xd, x, &y);
    expect_close(y.data, want, NULL, 8);
    sq_tensor_free(&y);
    sq_session_free(s);
}
END_TEST

/* ---- the lead's kinds: Dense, Flatten, Dropout, Activation, Reshape,
 * Rescaling --------------------------------------------------------------------- */

/* _i = 0: rank 2 input, 1: rank 3 input, 2: rank 4 without bias */
START_TEST(test_dense_forward)
{
    long dims[3] = { 3, 2, 4 };
    int rank = 2 + _i;
    long *in_dims = dims + (3 - (rank - 1));
    long d = 4, u = 3, b = 2;
    trng_seed(900 + (uint64_t)_i);
    sq_session *s = new_session(rank - 1, in_dims);
    add_ok(s, "dense", _i == 2 ? "3 use_bias=false" : "3 tanh");
    set_weight(s, 0, 0, -1, 1);
    const float *kern = weight_ptr(s, 0, 0, NULL), *bias = NULL;
    if (_i != 2) {
        set_weight(s, 0, 1, -1, 1);
        bias = weight_ptr(s, 0, 1, NULL);
    }
    size_t rows = (size_t)b;
    long full[4] = { b };
    for (int i = 1; i < rank; i++) {
        full[i] = in_dims[i - 1];
        if (i < rank - 1)
            rows *= (size_t)in_dims[i - 1];
    }
    float *x = random_floats(rows * (size_t)d, -1, 1);
    double *want = malloc(rows * (size_t)u * sizeof *want);
    double *sc = malloc(rows * (size_t)u * sizeof *sc);
    for (size_t r = 0; r < rows; r++)
        for (long j = 0; j < u; j++) {
            double acc = bias ? bias[j] : 0, mag = fabs(acc);
            for (long k = 0; k < d; k++) {
                double t = (double)x[r * (size_t)d + (size_t)k] * kern[k * u + j];
                acc += t;
                mag += fabs(t);
            }
            want[r * (size_t)u + (size_t)j] = bias ? tanh(acc) : acc;
            sc[r * (size_t)u + (size_t)j] = mag;
        }
    sq_tensor y;
    call_ok(s, rank, full, x, &y);
    full[rank - 1] = u;
    expect_shape(&y.shape, rank, full);
    full[0] = -1;
    expect_layer(s, 0, "dense", "Dense", rank, full, (size_t)(d * u + (bias ? u : 0)));
    expect_close(y.data, want, sc, rows * (size_t)u);
    sq_tensor_free(&y);
    free(want);
    free(sc);
    free(x);
    sq_session_free(s);
}
END_TEST

/* Shape-only layers pass the values through: Flatten, Dropout (no training
 * in a call), Reshape. */
START_TEST(test_passthrough_forward)
{
    long in_dims[3] = { 3, 4, 2 };
    sq_session *s = new_session(3, in_dims);
    add_ok(s, "dropout", "0.5");
    add_ok(s, "reshape", "(4,-1)");
    add_ok(s, "flatten", "");
    add_ok(s, "Dropout", "0.25");
    long d0[4] = { -1, 3, 4, 2 }, d1[3] = { -1, 4, 6 }, d2[2] = { -1, 24 };
    expect_layer(s, 0, "dropout", "Dropout", 4, d0, 0);
    expect_layer(s, 1, "reshape", "Reshape", 3, d1, 0);
    expect_layer(s, 2, "flatten", "Flatten", 2, d2, 0);
    expect_layer(s, 3, "dropout_1", "Dropout", 2, d2, 0);
    trng_seed(1000);
    float *x = random_floats(2 * 24, -1, 1);
    sq_tensor y;
    long xd[4] = { 2, 3, 4, 2 }, yd[2] = { 2, 24 };
    call_ok(s, 4, xd, x, &y);
    expect_shape(&y.shape, 2, yd);
    for (int i = 0; i < 48; i++)
        ck_assert(y.data[i] == x[i]);
    sq_tensor_free(&y);
    free(x);
    sq_session_free(s);
}
END_TEST

START_TEST(test_rescaling_forward)
{
    long in_dims[2] = { 3, 5 };
    sq_session *s = new_session(2, in_dims);
    add_ok(s, "rescaling", "0.00392156862745098");
    add_ok(s, "Rescaling", "2.5 offset=-1");
    add_ok(s, "rescaling", "0.5 0.25");
    trng_seed(1100);
    float *x = random_floats(2 * 15, 0, 255);
    double want[30];
    for (int i = 0; i < 30; i++)
        want[i] = ((x[i] * 0.00392156862745098) * 2.5 - 1) * 0.5 + 0.25;
    sq_tensor y;
    long xd[3] = { 2, 3, 5 };
    call_ok(s, 3, xd, x, &y);
    expect_shape(&y.shape, 3, xd);
    double sc[30];
    for (int i = 0; i < 30; i++)
        sc[i] = fabs(x[i] * 0.00392156862745098 * 1.25) + 0.75;
    expect_close(y.data, want, sc, 30);
    sq_tensor_free(&y);
    free(x);
    sq_session_free(s);
}
END_TEST

/* ---- activations ---------------------------------------------------------- */

static const char *const act_names[] = {
    "linear", "relu", "sigmoid", "tanh", "softmax", "softplus", "softsign", "elu",
    "selu", "exponential", "hard_sigmoid", "swish", "silu", "gelu", "relu6",
    "leaky_relu", "log_softmax",
};
#define NACT ((int)(sizeof act_names / sizeof act_names[0]))

static double sigmoid(double v)
{
    return 1 / (1 + exp(-v));
}

/* The formulas of keras-reference.md section 6, in double precision. */
static void ref_activation(const char *a, const float *x, double *y, size_t n, long last)
{
    const double alpha = 1.6732632423543772, scale = 1.0507009873554805;
    if (!strcmp(a, "softmax") || !strcmp(a, "log_softmax")) {
        for (size_t r = 0; r < n / (size_t)last; r++) {
            const float *v = x + r * (size_t)last;
            double mx = v[0], sum = 0;
            for (long j = 1; j < last; j++)
                mx = v[j] > mx ? v[j] : mx;
            for (long j = 0; j < last; j++)
                sum += exp(v[j] - mx);
            for (long j = 0; j < last; j++)
                y[r * (size_t)last + (size_t)j] = a[0] == 's' ? exp(v[j] - mx) / sum
                                                              : v[j] - mx - log(sum);
        }
        return;
    }
    for (size_t i = 0; i < n; i++) {
        double v = x[i], r;
        if (!strcmp(a, "linear")) r = v;
        else if (!strcmp(a, "relu")) r = v > 0 ? v : 0;
        else if (!strcmp(a, "sigmoid")) r = sigmoid(v);
        else if (!strcmp(a, "tanh")) r = tanh(v);
        else if (!strcmp(a, "softplus")) r = log(exp(v) + 1);
        else if (!strcmp(a, "softsign")) r = v / (fabs(v) + 1);
        else if (!strcmp(a, "elu")) r = v > 0 ? v : exp(v) - 1;
        else if (!strcmp(a, "selu")) r = v > 0 ? scale * v : scale * alpha * (exp(v) - 1);
        else if (!strcmp(a, "exponential")) r = exp(v);
        else if (!strcmp(a, "hard_sigmoid")) r = fmin(fmax(0.2 * v + 0.5, 0), 1);
        else if (!strcmp(a, "swish") || !strcmp(a, "silu")) r = v * sigmoid(v);
        else if (!strcmp(a, "gelu")) r = 0.5 * v * (1 + erf(v / sqrt(2.0)));
        else if (!strcmp(a, "relu6")) r = fmin(fmax(v, 0), 6);
        else if (!strcmp(a, "leaky_relu")) r = v >= 0 ? v : 0.2 * v;
        else {
            ck_abort_msg("no formula for %s", a);
            return;
        }
        y[i] = r;
    }
}

/* _i selects the activation; the input covers [-8, 8] and some exact 0s. */
START_TEST(test_activation_forward)
{
    const char *a = act_names[_i];
    long in_dims[2] = { 3, 7 };
    sq_session *s = new_session(2, in_dims);
    add_ok(s, "activation", a);
    long od[3] = { -1, 3, 7 };
    expect_layer(s, 0, "activation", "Activation", 3, od, 0);
    trng_seed(1200 + (uint64_t)_i);
    size_t n = 2 * 3 * 7;
    float *x = random_floats(n, -8, 8);
    x[0] = 0;
    x[9] = 0;
    x[10] = 6.5f;
    x[11] = -0.25f;
    double *want = malloc(n * sizeof *want);
    ref_activation(a, x, want, n, 7);
    sq_tensor y;
    long xd[3] = { 2, 3, 7 };
    call_ok(s, 3, xd, x, &y);
    expect_shape(&y.shape, 3, xd);
    expect_close(y.data, want, NULL, n);
    sq_tensor_free(&y);
    free(want);
    free(x);
    sq_session_free(s);
}
END_TEST

/* Activation names as bare words and as activation= on Dense and Conv2D. */
START_TEST(test_activation_argument)
{
    long in_dims[3] = { 4, 4, 2 };
    sq_session *s = new_session(3, in_dims);
    add_ok(s, "conv2d", "3 3 activation=sigmoid");
    add_ok(s, "flatten", "");
    add_ok(s, "dense", "2 softmax");
    trng_seed(1300);
    for (int li = 0; li < 3; li += 2)
        for (int wi = 0; wi < 2; wi++)
            set_weight(s, li, wi, -1, 1);
    float *x = random_floats(4 * 4 * 2, -1, 1);
    conv_case k = { 1, 4, 4, 2, 3, 3, 3, 1, 1, 1, 1, 0, 1, 0 };
    double conv[12], sc[12], want[2];
    float convf[12];
    long ho, wo;
    ref_conv2d(&k, x, weight_ptr(s, 0, 0, NULL), weight_ptr(s, 0, 1, NULL), conv, sc, &ho, &wo);
    for (int i = 0; i < 12; i++)
        convf[i] = (float)sigmoid(conv[i]);
    const float *kern = weight_ptr(s, 2, 0, NULL), *bias = weight_ptr(s, 2, 1, NULL);
    float logits[2];
    for (int j = 0; j < 2; j++) {
        double acc = bias[j];
        for (int i = 0; i < 12; i++)
            acc += (double)convf[i] * kern[i * 2 + j];
        logits[j] = (float)acc;
    }
    ref_activation("softmax", logits, want, 2, 2);
    sq_tensor y;
    long xd[4] = { 1, 4, 4, 2 }, yd[2] = { 1, 2 };
    call_ok(s, 4, xd, x, &y);
    expect_shape(&y.shape, 2, yd);
    double tol[2] = { 10, 10 };   /* three rounded stages: 1e-4 absolute */
    expect_close(y.data, want, tol, 2);
    ck_assert(fabs(y.data[0] + y.data[1] - 1) < 1e-6);
    sq_tensor_free(&y);
    free(x);
    sq_session_free(s);
}
END_TEST

/* ---- shapes and parameter counts (keras-reference.md 3.2, 4.3) ------------ */

START_TEST(test_shapes_reference)
{
    sq_session *s = new_session(3, (long[]){ 28, 28, 1 });
    add_ok(s, "conv2d", "16 3 strides=2 padding=same");
    expect_layer(s, 0, "conv2d", "Conv2D", 4, (long[]){ -1, 14, 14, 16 }, 160);
    sq_session_free(s);

    s = new_session(3, (long[]){ 32, 32, 3 });
    add_ok(s, "Conv2D", "8 3 dilation_rate=2");
    expect_layer(s, 0, "conv2d", "Conv2D", 4, (long[]){ -1, 28, 28, 8 }, 224);
    sq_session_free(s);

    s = new_session(3, (long[]){ 7, 7, 3 });
    add_ok(s, "MaxPooling2D", "2");
    expect_layer(s, 0, "max_pooling2d", "MaxPooling2D", 4, (long[]){ -1, 3, 3, 3 }, 0);
    add_fails(s, "conv2d", "4 3 padding=wrong",
              "The `padding` argument must be one of \"valid\", \"same\" (or \"causal\", "
              "only for `Conv1D). Received: wrong");
    sq_session_free(s);

    s = new_session(3, (long[]){ 7, 7, 3 });
    add_ok(s, "max_pooling2d", "2 padding=same");
    expect_layer(s, 0, "max_pooling2d", "MaxPooling2D", 4, (long[]){ -1, 4, 4, 3 }, 0);
    sq_session_free(s);

    s = new_session(3, (long[]){ 10, 10, 3 });
    add_ok(s, "AveragePooling2D", "3 strides=2");
    expect_layer(s, 0, "average_pooling2d", "AveragePooling2D", 4, (long[]){ -1, 4, 4, 3 }, 0);
    sq_session_free(s);

    /* the guide's conv stack, explicit input */
    s = new_session(3, (long[]){ 250, 250, 3 });
    add_ok(s, "conv2d", "32 5 strides=2 relu");
    add_ok(s, "conv2d", "32 3 relu");
    add_ok(s, "maxpooling2d", "3");
    expect_layer(s, 0, "conv2d", "Conv2D", 4, (long[]){ -1, 123, 123, 32 }, 2432);
    expect_layer(s, 1, "conv2d_1", "Conv2D", 4, (long[]){ -1, 121, 121, 32 }, 9248);
    expect_layer(s, 2, "max_pooling2d", "MaxPooling2D", 4, (long[]){ -1, 40, 40, 32 }, 0);
    add_ok(s, "GlobalMaxPooling2D", "");
    expect_layer(s, 3, "global_max_pooling2d", "GlobalMaxPooling2D", 2,
                 (long[]){ -1, 32 }, 0);
    add_fails(s, "global_average_pooling2d", "",
              "Input 0 of layer global_average_pooling2d is incompatible with the layer: "
              "expected ndim=4, found ndim=2. Full shape received: (None, 32)");
    add_ok(s, "batch_normalization", "");
    expect_layer(s, 4, "batch_normalization", "BatchNormalization", 2,
                 (long[]){ -1, 32 }, 128);
    sq_session_free(s);
}
END_TEST

/* keras-reference.md 3.2: a deferred conv stack built by its first call. */
START_TEST(test_shapes_deferred)
{
    sq_session *s = new_session(0, NULL);
    add_ok(s, "conv2d", "32 5 strides=2 relu");
    add_ok(s, "conv2d", "32 3 relu");
    add_ok(s, "maxpooling2d", "3");
    ck_assert(!sq_model_is_built(s));
    size_t n = 250 * 250 * 3;
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++)
        x[i] = 1;
    sq_tensor y;
    call_ok(s, 4, (long[]){ 1, 250, 250, 3 }, x, &y);
    expect_shape(&y.shape, 4, (long[]){ 1, 40, 40, 32 });
    expect_layer(s, 0, "conv2d", "Conv2D", 4, (long[]){ 1, 123, 123, 32 }, 2432);
    expect_layer(s, 1, "conv2d_1", "Conv2D", 4, (long[]){ 1, 121, 121, 32 }, 9248);
    expect_layer(s, 2, "max_pooling2d", "MaxPooling2D", 4, (long[]){ 1, 40, 40, 32 }, 0);
    for (size_t i = 0; i < 40 * 40 * 32; i++)
        ck_assert(y.data[i] >= 0 && isfinite(y.data[i]));
    sq_tensor_free(&y);
    free(x);
    sq_session_free(s);
}
END_TEST

START_TEST(test_shapes_misc)
{
    /* equal window and input: output 1 */
    sq_session *s = new_session(3, (long[]){ 3, 3, 1 });
    add_ok(s, "maxpooling2d", "3");
    expect_layer(s, 0, NULL, NULL, 4, (long[]){ -1, 1, 1, 1 }, 0);
    sq_session_free(s);

    s = new_session(3, (long[]){ 5, 5, 2 });
    add_ok(s, "conv2d", "4 5");
    expect_layer(s, 0, NULL, NULL, 4, (long[]){ -1, 1, 1, 4 }, 5 * 5 * 2 * 4 + 4);
    add_ok(s, "GlobalAvgPool2D", "keepdims=True");
    expect_layer(s, 1, "global_average_pooling2d", "GlobalAveragePooling2D", 4,
                 (long[]){ -1, 1, 1, 4 }, 0);
    sq_session_free(s);

    /* aliases, use_bias=false, odd sizes */
    s = new_session(3, (long[]){ 9, 8, 3 });
    add_ok(s, "Convolution2D", "6 (3,2) strides=(2,3) use_bias=false padding=Same");
    expect_layer(s, 0, "conv2d", "Conv2D", 4, (long[]){ -1, 5, 3, 6 }, 3 * 2 * 3 * 6);
    ck_assert_int_eq(s->model->layers[0]->nweights, 1);
    add_ok(s, "AvgPool2D", "(2,3) padding=same");
    expect_layer(s, 1, "average_pooling2d", "AveragePooling2D", 4, (long[]){ -1, 3, 1, 6 }, 0);
    add_ok(s, "batch_normalization", "center=false");
    expect_layer(s, 2, "batch_normalization", "BatchNormalization", 4,
                 (long[]){ -1, 3, 1, 6 }, 18);
    add_ok(s, "BatchNormalization", "axis=3 scale=false center=false");
    expect_layer(s, 3, "batch_normalization_1", "BatchNormalization", 4,
                 (long[]){ -1, 3, 1, 6 }, 12);
    sq_session_free(s);

    /* input_shape= on the first layer */
    s = new_session(0, NULL);
    add_ok(s, "conv2d", "2 3 input_shape=(6,6,1)");
    expect_layer(s, 0, "conv2d", "Conv2D", 4, (long[]){ -1, 4, 4, 2 }, 20);
    sq_session_free(s);
}
END_TEST

/* ---- error messages --------------------------------------------------------- */

START_TEST(test_conv2d_errors)
{
    sq_session *s = new_session(3, (long[]){ 5, 4, 3 });
    add_fails(s, "conv2d", "4 (0,3)",
              "The argument `kernel_size` cannot contain 0(s). Received: (0, 3)");
    add_fails(s, "conv2d", "4 kernel_size=0",
              "The argument `kernel_size` cannot contain 0(s). Received: (0, 0)");
    add_fails(s, "conv2d", "4 3 strides=(0,1)",
              "The argument `strides` cannot contains 0(s). Received: (0, 1)");
    add_fails(s, "conv2d", "4 3 strides=2 dilation_rate=2",
              "`strides > 1` not supported in conjunction with `dilation_rate > 1`. "
              "Received: strides=(2, 2) and dilation_rate=(2, 2)");
    add_fails(s, "conv2d", "4 3 strides=(1,2) dilation_rate=(2,1)",
              "`strides > 1` not supported in conjunction with `dilation_rate > 1`. "
              "Received: strides=(1, 2) and dilation_rate=(2, 1)");
    add_fails(s, "conv2d", "4 3 padding=foo",
              "The `padding` argument must be one of \"valid\", \"same\" (or \"causal\", "
              "only for `Conv1D). Received: foo");
    add_fails(s, "conv2d", "4 3 padding=FOO",
              "The `padding` argument must be one of \"valid\", \"same\" (or \"causal\", "
              "only for `Conv1D). Received: foo");
    add_fails(s, "conv2d", "4 3 padding=causal",
              "Causal padding is only supported for `Conv1D`and `SeparableConv1D`.");
    add_fails(s, "conv2d", "-1 3",
              "Received a negative value for `filters`.Was expecting a positive value, got -1.");
    add_fails_with(s, "conv2d", "0 3", "Received an invalid value for `filters`", NULL);
    add_fails_with(s, "conv2d", "4 3 dilation_rate=0", NULL, "`dilation_rate`");
    add_fails_with(s, "conv2d", "4 (-1,3)", NULL, "`kernel_size`");
    /* dilated kernel extent 5 against 4 columns */
    /* TensorFlow's first sentence, then what to do (not its graph node) */
    add_fails(s, "conv2d", "8 3 dilation_rate=2",
              "Negative dimension size caused by subtracting 5 from 4: the 3x3 kernel of conv2d "
              "(Conv2D), with dilation_rate=(2, 2), spans 5, more than its input "
              "(None, 5, 4, 3) has; use a smaller kernel_size or dilation_rate, or "
              "padding=same");
    add_fails(s, "conv2d", "2 (6,1) name=c6",
              "Negative dimension size caused by subtracting 6 from 5: the 6x1 kernel of c6 "
              "(Conv2D) does not fit in its input (None, 5, 4, 3); use a smaller kernel_size, "
              "or padding=same");
    add_fails_with(s, "conv2d", "2 (1,5) strides=(1,3)",
                   "Negative dimension size caused by subtracting 5 from 4: the 1x5 kernel", NULL);
    ck_assert_int_eq(sq_layer_count(s), 0);
    /* what fits: window = input, or SAME padding */
    add_ok(s, "conv2d", "2 (5,4)");
    add_ok(s, "conv2d", "2 7 padding=same");
    expect_layer(s, 1, "conv2d_1", NULL, 4, (long[]){ -1, 1, 1, 2 }, 7 * 7 * 2 * 2 + 2);
    sq_session_free(s);

    s = new_session(1, (long[]){ 10 });
    add_fails(s, "conv2d", "4 3",
              "Input 0 of layer conv2d is incompatible with the layer: : expected min_ndim=4, "
              "found ndim=2. Full shape received: (None, 10)");
    add_ok(s, "dense", "4");
    add_fails(s, "conv2d", "4 3 name=myconv",
              "Input 0 of layer myconv is incompatible with the layer: : expected min_ndim=4, "
              "found ndim=2. Full shape received: (None, 4)");
    ck_assert_int_eq(sq_layer_count(s), 1);
    sq_session_free(s);

    s = new_session(4, (long[]){ 2, 5, 5, 3 });
    add_fails_with(s, "conv2d", "4 3", NULL, "rank 4");
    sq_session_free(s);

    /* a None channel axis cannot come from the shell: ask the kind itself */
    const sq_layer_kind *kind = sq_kind_find("conv2d");
    ck_assert_ptr_nonnull(kind);
    char a0[] = "4", a1[] = "3", a2[] = "name=conv2d";
    char *argv[] = { a0, a1, a2 };
    sq_shape ish;
    sq_error err;
    sq_layer *l = sq_layer_create(kind, 3, argv, &ish, &err);
    ck_assert_msg(l != NULL, "%s", err.msg);
    sq_shape in = { 4, { -1, 5, 5, -1 } }, out;
    ck_assert_int_lt(kind->output_shape(l, &in, &out, &err), 0);
    ck_assert_str_eq(err.msg, "The channel dimension of the inputs should be defined. The "
                     "input_shape received is (None, 5, 5, None), where axis -1 (0-based) is "
                     "the channel dimension, which found to be `None`.");
    /* None spatial axes stay None */
    sq_shape in2 = { 4, { -1, -1, 9, 3 } };
    ck_assert_int_eq(kind->output_shape(l, &in2, &out, &err), 0);
    expect_shape(&out, 4, (long[]){ -1, -1, 7, 4 });
    sq_layer_free(l);
}
END_TEST

START_TEST(test_pool2d_errors)
{
    sq_session *s = new_session(3, (long[]){ 2, 2, 32 });
    add_fails(s, "max_pooling2d", "3",
              "Negative dimension size caused by subtracting 3 from 2: the 3x3 pool of "
              "max_pooling2d (MaxPooling2D) does not fit in its input (None, 2, 2, 32); use a "
              "smaller pool_size, or padding=same");
    add_fails(s, "AveragePooling2D", "3",
              "Negative dimension size caused by subtracting 3 from 2: the 3x3 pool of "
              "average_pooling2d (AveragePooling2D) does not fit in its input (None, 2, 2, 32); "
              "use a smaller pool_size, or padding=same");
    add_fails_with(s, "max_pooling2d", "(1,3) strides=1",
                   "Negative dimension size caused by subtracting 3 from 2: the 1x3 pool of "
                   "max_pooling2d", "use a smaller pool_size");
    add_fails(s, "maxpooling2d", "2 padding=foo",
              "The `padding` argument must be one of \"valid\", \"same\" (or \"causal\", "
              "only for `Conv1D). Received: foo");
    add_fails(s, "avgpool2d", "0",
              "The `pool_size` argument must be a tuple of 2 integers. Received: (0, 0) "
              "including {0} that does not satisfy the requirement `> 0`.");
    add_fails(s, "avgpool2d", "2 strides=(1,0)",
              "The `strides` argument must be a tuple of 2 integers. Received: (1, 0) "
              "including {0} that does not satisfy the requirement `> 0`.");
    add_fails_with(s, "avgpool2d", "2 padding=causal", NULL, "causal");
    ck_assert_int_eq(sq_layer_count(s), 0);
    add_ok(s, "max_pooling2d", "3 padding=same");
    expect_layer(s, 0, "max_pooling2d", NULL, 4, (long[]){ -1, 1, 1, 32 }, 0);
    sq_session_free(s);

    s = new_session(1, (long[]){ 10 });
    add_fails(s, "max_pooling2d", "",
              "Input 0 of layer max_pooling2d is incompatible with the layer: expected ndim=4, "
              "found ndim=2. Full shape received: (None, 10)");
    add_fails(s, "global_max_pooling2d", "",
              "Input 0 of layer global_max_pooling2d is incompatible with the layer: expected "
              "ndim=4, found ndim=2. Full shape received: (None, 10)");
    sq_session_free(s);

    s = new_session(4, (long[]){ 2, 4, 4, 3 });
    add_fails(s, "average_pooling2d", "",
              "Input 0 of layer average_pooling2d is incompatible with the layer: expected "
              "ndim=4, found ndim=5. Full shape received: (None, 2, 4, 4, 3)");
    sq_session_free(s);

    /* a deferred model fails at its first call, with the concrete batch */
    s = new_session(0, NULL);
    add_ok(s, "maxpooling2d", "3");
    float x[4] = { 1, 2, 3, 4 };
    sq_tensor t = { .shape = { 4, { 1, 2, 2, 1 } }, .data = x }, y;
    sq_error err;
    ck_assert_int_lt(sq_call(s, &t, &y, &err), 0);
    ck_assert_msg(strstr(err.msg, "Negative dimension size caused by subtracting 3 from 2:")
                  == err.msg, "%s", err.msg);
    ck_assert_msg(strstr(err.msg, "its input (1, 2, 2, 1);"), "%s", err.msg);
    ck_assert(!sq_model_is_built(s));
    sq_session_free(s);
}
END_TEST

START_TEST(test_batchnorm_errors)
{
    sq_session *s = new_session(3, (long[]){ 4, 4, 3 });
    add_fails_with(s, "batch_normalization", "axis=1", NULL, "only axis=-1 is supported");
    add_fails_with(s, "batch_normalization", "1", NULL, "only axis=-1 is supported");
    add_fails(s, "batch_normalization", "axis=4", "Invalid axis: [4]");
    add_fails(s, "batch_normalization", "axis=-5", "Invalid axis: [-1]");
    add_ok(s, "batch_normalization", "axis=-1");
    add_ok(s, "batch_normalization", "3");
    sq_session_free(s);

    const sq_layer_kind *kind = sq_kind_find("BatchNormalization");
    char a0[] = "name=bn";
    char *argv[] = { a0 };
    sq_shape ish, out;
    sq_error err;
    sq_layer *l = sq_layer_create(kind, 1, argv, &ish, &err);
    ck_assert_ptr_nonnull(l);
    sq_shape in = { 3, { -1, 4, -1 } };
    ck_assert_int_lt(kind->output_shape(l, &in, &out, &err), 0);
    ck_assert_msg(strstr(err.msg, "Input has undefined `axis` dimension."), "%s", err.msg);
    sq_layer_free(l);
}
END_TEST

/* ---- the suite ------------------------------------------------------------- */

static Suite *layers_suite(void)
{
    Suite *su = suite_create("layers");
    TCase *tc = tcase_create("conv2d");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_conv2d_forward, 0,
                        (int)(sizeof conv_cases / sizeof conv_cases[0]));
    tcase_add_test(tc, test_conv2d_init);
    tcase_add_test(tc, test_conv2d_stack);
    tcase_add_test(tc, test_conv2d_errors);
    suite_add_tcase(su, tc);

    tc = tcase_create("pooling");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_pool2d_forward, 0,
                        (int)(sizeof pool_cases / sizeof pool_cases[0]));
    tcase_add_test(tc, test_pool2d_positionals);
    tcase_add_loop_test(tc, test_conv2d_backward_groups, 0,
                        (int)(sizeof bwd_cases / sizeof bwd_cases[0]));
    tcase_add_test(tc, test_steps_wake_only_for_jobs);
    tcase_add_loop_test(tc, test_maxpool2d_backward, 0,
                        (int)(sizeof pool_cases / sizeof pool_cases[0]));
    tcase_add_loop_test(tc, test_global_pool2d_forward, 0, 6);
    tcase_add_test(tc, test_pool2d_errors);
    suite_add_tcase(su, tc);

    tc = tcase_create("batchnorm");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_batchnorm_forward, 0, 16);
    tcase_add_test(tc, test_batchnorm_defaults);
    tcase_add_test(tc, test_batchnorm_errors);
    suite_add_tcase(su, tc);

    tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_dense_forward, 0, 3);
    tcase_add_test(tc, test_passthrough_forward);
    tcase_add_test(tc, test_rescaling_forward);
    tcase_add_loop_test(tc, test_activation_forward, 0, NACT);
    tcase_add_test(tc, test_activation_argument);
    suite_add_tcase(su, tc);

    tc = tcase_create("shapes");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_shapes_reference);
    tcase_add_test(tc, test_shapes_deferred);
    tcase_add_test(tc, test_shapes_misc);
    suite_add_tcase(su, tc);
    return su;
}

int main(void)
{
    SRunner *sr = srunner_create(layers_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
