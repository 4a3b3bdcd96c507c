/* check_layers_wave2a.c - the second wave's first part: Conv1D, the 1-D
 * pooling, resizing and padding layers, RepeatVector, Permute,
 * LayerNormalization and the activation layers. Each forward pass against
 * naive loops written here (and a few cases against PyTorch's outputs in
 * tests/fixtures/wave2a.npz, made by make_wave2a_fixtures.py), every
 * backward pass against central differences (the method of check_grad.c,
 * whose driver is copied below), Keras's shapes, names and messages, and
 * save/load round trips -- all through the public API. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "seqsh/engine.h"
#include "test_util.h"
#include "model.h"
#include "kernels/conv_kernels.h"

/* ---- deterministic test data --------------------------------------------- */

/* trng_seed and drand: test_util.h */

static void fill_uniform(float *x, size_t n, double lo, double hi)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (float)drand(lo, hi);
}

static float *random_floats(size_t n, double lo, double hi)
{
    float *p = malloc((n ? n : 1) * sizeof *p);
    ck_assert_ptr_nonnull(p);
    fill_uniform(p, n, lo, hi);
    return p;
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
    ck_assert_msg(add_words(s, kind, args, &err) == 0, "add %s %s: %s", kind,
                  args ? args : "", err.msg);
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

/* Like add_fails, for a message checked only for its start. */
static void add_fails_prefix(sq_session *s, const char *kind, const char *args,
                             const char *prefix)
{
    sq_error err;
    int n = sq_layer_count(s);
    err.msg[0] = '\0';
    ck_assert_msg(add_words(s, kind, args, &err) < 0, "add %s %s succeeded", kind, args);
    ck_assert_msg(strncmp(err.msg, prefix, strlen(prefix)) == 0,
                  "message '%s' does not start with '%s'", err.msg, prefix);
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

static void set_weight(sq_session *s, int li, int wi, double lo, double hi)
{
    size_t n;
    float *p = weight_ptr(s, li, wi, &n);
    fill_uniform(p, n, lo, hi);
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
    char a[128], b[128];
    sq_shape want = { .rank = rank };
    memcpy(want.d, dims, (size_t)rank * sizeof dims[0]);
    ck_assert_msg(sq_shape_eq(got, &want), "shape %s, expected %s",
                  sq_shape_str(got, a, sizeof a), sq_shape_str(&want, b, sizeof b));
}

/* |got - want| <= 1e-5 * scale + 1e-6, where scale is the sum of the
 * magnitudes that went into the value (|want| when scale is NULL). */
static void expect_close(const float *got, const double *want, const double *scale, size_t n,
                         const char *what)
{
    for (size_t i = 0; i < n; i++) {
        double sc = scale ? scale[i] : fabs(want[i]);
        double tol = 1e-5 * sc + 1e-6;
        ck_assert_msg(fabs((double)got[i] - want[i]) <= tol,
                      "%s: element %zu: got %.9g, expected %.9g (tolerance %.3g)", what, i,
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

/* Runs the one-layer model in s on x (batch first, shape dims) and returns
 * the output; *ny gets its size. */
static float *run(sq_session *s, int rank, const long *dims, float *x, sq_shape *shape)
{
    sq_tensor y;
    call_ok(s, rank, dims, x, &y);
    if (shape)
        *shape = y.shape;
    return y.data;
}

/* ---- Conv1D: forward against a naive convolution --------------------------- */

typedef struct {
    long b, t, c, f, k, s, d;
    const char *padding;
    int bias;
    const char *act;       /* NULL, "relu" (fused by the direct kernels) or "tanh" */
} conv_case;

static const conv_case conv_cases[] = {
    { 2, 9, 3, 4, 3, 1, 1, "valid", 1, NULL },
    { 2, 9, 3, 4, 3, 1, 1, "same", 1, NULL },
    { 2, 9, 3, 4, 3, 1, 1, "causal", 1, NULL },
    { 2, 9, 3, 4, 3, 1, 2, "causal", 1, NULL },           /* dilated causal: 4 zeros first */
    { 2, 10, 3, 5, 4, 2, 1, "same", 1, NULL },            /* TF pads 1 before, 2 after */
    { 1, 11, 3, 5, 4, 3, 1, "same", 1, NULL },
    { 2, 11, 2, 3, 2, 3, 1, "valid", 0, NULL },           /* stride > kernel skips steps */
    { 2, 10, 4, 2, 3, 1, 3, "same", 1, NULL },            /* dilation 3, same */
    { 2, 12, 4, 2, 3, 1, 3, "valid", 1, NULL },
    { 2, 9, 3, 4, 3, 2, 1, "causal", 1, NULL },           /* strided causal: ceil(t / s) */
    { 1, 4, 3, 4, 6, 1, 1, "same", 1, NULL },             /* kernel longer than input */
    { 1, 4, 3, 4, 5, 1, 2, "causal", 1, NULL },
    { 3, 7, 5, 6, 1, 1, 1, "valid", 1, NULL },            /* pointwise */
    { 2, 7, 5, 6, 1, 2, 1, "same", 0, NULL },             /* one tap, strided */
    { 2, 8, 3, 4, 3, 1, 1, "same", 1, "relu" },
    { 2, 8, 3, 20, 3, 1, 1, "causal", 1, "relu" },        /* a partial panel of filters */
    { 2, 8, 3, 37, 2, 1, 2, "same", 0, "tanh" },
    { 1, 300, 64, 64, 5, 1, 1, "causal", 1, NULL },       /* long: split into pieces */
    { 1, 301, 64, 40, 5, 2, 1, "same", 1, "relu" },
    { 3, 120, 48, 50, 3, 1, 4, "same", 1, NULL },
};

#define NCONV (int)(sizeof conv_cases / sizeof conv_cases[0])

/* Keras's output length and left padding, written out. */
static long conv_out(const conv_case *k, long *pl)
{
    long dk = k->k + (k->k - 1) * (k->d - 1);
    if (!strcmp(k->padding, "valid")) {
        *pl = 0;
        return (k->t - dk) / k->s + 1;
    }
    long ot = (k->t + k->s - 1) / k->s;
    if (!strcmp(k->padding, "causal")) {
        *pl = dk - 1;
    } else {
        long total = (ot - 1) * k->s + dk - k->t;
        *pl = total > 0 ? total / 2 : 0;
    }
    return ot;
}

static char *conv_args(const conv_case *k, char *buf, size_t n)
{
    snprintf(buf, n, "%ld %ld strides=%ld dilation_rate=%ld padding=%s use_bias=%s %s", k->f,
             k->k, k->s, k->d, k->padding, k->bias ? "true" : "false", k->act ? k->act : "");
    return buf;
}

START_TEST(test_conv1d_forward)
{
    const conv_case *k = &conv_cases[_i];
    trng_seed(10 + (uint64_t)_i);
    char args[160];
    sq_session *s = new_session(2, (long[]){ k->t, k->c });
    add_ok(s, "conv1d", conv_args(k, args, sizeof args));
    long pl, ot = conv_out(k, &pl);
    expect_layer(s, 0, "conv1d", "Conv1D", 3, (long[]){ -1, ot, k->f },
                 (size_t)(k->k * k->c * k->f + (k->bias ? k->f : 0)));
    set_weight(s, 0, 0, -1, 1);
    if (k->bias)
        set_weight(s, 0, 1, -1, 1);
    const float *w = weight_ptr(s, 0, 0, NULL);
    const float *bias = k->bias ? weight_ptr(s, 0, 1, NULL) : NULL;
    size_t nx = (size_t)(k->b * k->t * k->c), ny = (size_t)(k->b * ot * k->f);
    float *x = random_floats(nx, -1, 1);
    double *want = malloc(ny * sizeof *want), *scale = malloc(ny * sizeof *scale);
    ck_assert(want && scale);
    for (long b = 0; b < k->b; b++)
        for (long o = 0; o < ot; o++)
            for (long f = 0; f < k->f; f++) {
                double acc = bias ? bias[f] : 0, sc = bias ? fabs(bias[f]) : 0;
                for (long tap = 0; tap < k->k; tap++) {
                    long i = o * k->s - pl + tap * k->d;
                    if (i < 0 || i >= k->t)
                        continue;
                    for (long ci = 0; ci < k->c; ci++) {
                        double p = (double)x[(b * k->t + i) * k->c + ci]
                                   * w[(tap * k->c + ci) * k->f + f];
                        acc += p;
                        sc += fabs(p);
                    }
                }
                size_t at = (size_t)((b * ot + o) * k->f + f);
                if (k->act && !strcmp(k->act, "relu"))
                    acc = acc > 0 ? acc : 0;
                else if (k->act)
                    acc = tanh(acc);
                want[at] = acc;
                scale[at] = sc;
            }
    /* every variant of the direct kernels and the im2col fallback, on one
     * thread and on two */
    sq_isa saved = sq_isa_active();
    int threads = sq_get_threads();
    for (int isa = 0; isa <= (int)sq_isa_supported(); isa++) {
        for (int th = 1; th <= 2; th++) {
            char what[256];
            sq_isa_set_active((sq_isa)isa);
            sq_set_threads(th);
            sq_shape ys;
            float *y = run(s, 3, (long[]){ k->b, k->t, k->c }, x, &ys);
            expect_shape(&ys, 3, (long[]){ k->b, ot, k->f });
            snprintf(what, sizeof what, "conv1d %s, %s, %d threads", args,
                     sq_isa_name((sq_isa)isa), th);
            expect_close(y, want, scale, ny, what);
            free(y);
        }
    }
    sq_isa_set_active(saved);
    sq_set_threads(threads);
    free(x);
    free(want);
    free(scale);
    sq_session_free(s);
}
END_TEST

/* ---- PyTorch's outputs (tests/fixtures/wave2a.npz) --------------------------- */

/* Array KEY of the fixture archive; the caller frees t.data. */
static sq_tensor fixture(const char *key)
{
    char spec[512];
    const char *srcdir = getenv("srcdir");
    snprintf(spec, sizeof spec, "%s/tests/fixtures/wave2a.npz:%s",
             srcdir && *srcdir ? srcdir : ".", key);
    sq_tensor t;
    sq_error err;
    ck_assert_msg(sq_tensor_load(spec, &t, &err) == 0, "%s: %s", spec, err.msg);
    return t;
}

/* Copies fixture KEY into weight wi of layer li (shapes must agree). */
static void fixture_weight(sq_session *s, int li, int wi, const char *key)
{
    sq_tensor t = fixture(key);
    const sq_layer *l = s->model->layers[li];
    char a[64], b[64];
    ck_assert_msg(sq_shape_eq(&t.shape, &l->w[wi].shape), "%s: fixture %s, weight %s", key,
                  sq_shape_str(&t.shape, a, sizeof a), sq_shape_str(&l->w[wi].shape, b, sizeof b));
    size_t n;
    float *p = weight_ptr(s, li, wi, &n);
    memcpy(p, t.data, n * sizeof *p);
    sq_tensor_free(&t);
}

/* The model in s on fixture xkey must give fixture ykey, within tol
 * relative to the largest |y| (float32 sums of a few dozen terms). */
static void fixture_compare(sq_session *s, const char *xkey, const char *ykey, double tol)
{
    sq_tensor x = fixture(xkey), want = fixture(ykey), y;
    sq_error err;
    ck_assert_msg(sq_call(s, &x, &y, &err) == 0, "%s: %s", ykey, err.msg);
    char a[64], b[64];
    ck_assert_msg(sq_shape_eq(&y.shape, &want.shape), "%s: shape %s, expected %s", ykey,
                  sq_shape_str(&y.shape, a, sizeof a), sq_shape_str(&want.shape, b, sizeof b));
    size_t n = sq_shape_count(&y.shape);
    double big = 1;
    for (size_t i = 0; i < n; i++)
        big = fmax(big, fabs(want.data[i]));
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(fabs(y.data[i] - want.data[i]) <= tol * big,
                      "%s[%zu]: got %.9g, torch %.9g", ykey, i, (double)y.data[i],
                      (double)want.data[i]);
    sq_tensor_free(&x);
    sq_tensor_free(&want);
    sq_tensor_free(&y);
}

START_TEST(test_torch_conv1d)
{
    static const struct { const char *name, *args; long t, c; int bias; } cases[] = {
        { "conv_causal", "4 3 padding=causal dilation_rate=2", 9, 3, 1 },
        { "conv_same", "5 4 strides=2 padding=same", 9, 3, 1 },
        { "conv_valid", "3 2 strides=3 use_bias=false", 11, 2, 0 },
        { "conv_dilated", "2 3 padding=same dilation_rate=3", 10, 4, 1 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char key[64], xkey[64], ykey[64];
        sq_session *s = new_session(2, (long[]){ cases[i].t, cases[i].c });
        add_ok(s, "conv1d", cases[i].args);
        snprintf(key, sizeof key, "%s_kernel", cases[i].name);
        fixture_weight(s, 0, 0, key);
        if (cases[i].bias) {
            snprintf(key, sizeof key, "%s_bias", cases[i].name);
            fixture_weight(s, 0, 1, key);
        }
        snprintf(xkey, sizeof xkey, "%s_x", cases[i].name);
        snprintf(ykey, sizeof ykey, "%s_y", cases[i].name);
        fixture_compare(s, xkey, ykey, 1e-5);
        sq_session_free(s);
    }
}
END_TEST

START_TEST(test_torch_others)
{
    sq_session *s = new_session(2, (long[]){ 4, 6 });
    add_ok(s, "layernormalization", NULL);
    fixture_weight(s, 0, 0, "ln_gamma");
    fixture_weight(s, 0, 1, "ln_beta");
    fixture_compare(s, "ln_x", "ln_y", 1e-5);
    sq_session_free(s);

    s = new_session(2, (long[]){ 4, 6 });
    add_ok(s, "layernormalization", "axis=(1,2) epsilon=0.01");
    fixture_weight(s, 0, 0, "ln2_gamma");
    fixture_weight(s, 0, 1, "ln2_beta");
    fixture_compare(s, "ln_x", "ln2_y", 1e-5);
    sq_session_free(s);

    static const struct { const char *kind, *args, *y; } acts[] = {
        { "leakyrelu", NULL, "act_leaky_y" },
        { "elu", "0.5", "act_elu_y" },
        { "softmax", "1", "act_softmax1_y" },
        { "thresholdedrelu", NULL, "act_thr_y" },
    };
    for (size_t i = 0; i < sizeof acts / sizeof acts[0]; i++) {
        s = new_session(2, (long[]){ 5, 4 });
        add_ok(s, acts[i].kind, acts[i].args);
        fixture_compare(s, "act_x", acts[i].y, 1e-6);
        sq_session_free(s);
    }
    s = new_session(2, (long[]){ 5, 4 });
    add_ok(s, "prelu", "shared_axes=1");
    fixture_weight(s, 0, 0, "act_prelu_alpha");
    fixture_compare(s, "act_x", "act_prelu_y", 1e-6);
    sq_session_free(s);

    static const struct { const char *kind, *args, *y; } pools[] = {
        { "maxpooling1d", "3 2", "pool_max_y" },
        { "averagepooling1d", NULL, "pool_avg_y" },
        { "upsampling1d", "3", "up_y" },
    };
    for (size_t i = 0; i < sizeof pools / sizeof pools[0]; i++) {
        s = new_session(2, (long[]){ 11, 3 });
        add_ok(s, pools[i].kind, pools[i].args);
        fixture_compare(s, "pool_x", pools[i].y, 1e-6);
        sq_session_free(s);
    }
}
END_TEST

/* ---- pooling ----------------------------------------------------------------- */

typedef struct {
    long t, c, k, s;       /* s = 0: Keras's default, pool_size */
    int same;
} pool_case;

static const pool_case pool_cases[] = {
    { 9, 3, 2, 0, 0 }, { 9, 3, 2, 0, 1 }, { 10, 2, 3, 2, 0 }, { 10, 2, 3, 2, 1 },
    { 7, 4, 3, 1, 1 }, { 8, 3, 4, 1, 0 }, { 11, 2, 1, 3, 0 }, { 5, 3, 5, 0, 0 },
    { 4, 3, 6, 2, 1 }, { 13, 17, 4, 3, 1 },
};

#define NPOOL (int)(sizeof pool_cases / sizeof pool_cases[0])

START_TEST(test_pool1d_forward)
{
    int max = _i < NPOOL;
    const pool_case *k = &pool_cases[_i % NPOOL];
    const char *kind = max ? "maxpooling1d" : "averagepooling1d";
    trng_seed(100 + (uint64_t)_i);
    long b = 3, stride = k->s ? k->s : k->k;
    char args[96];
    if (k->s)
        snprintf(args, sizeof args, "%ld strides=%ld padding=%s", k->k, k->s,
                 k->same ? "same" : "valid");
    else
        snprintf(args, sizeof args, "%ld padding=%s", k->k, k->same ? "same" : "valid");
    sq_session *s = new_session(2, (long[]){ k->t, k->c });
    add_ok(s, kind, args);
    long ot = k->same ? (k->t + stride - 1) / stride : (k->t - k->k) / stride + 1;
    long total = (ot - 1) * stride + k->k - k->t, pl = k->same && total > 0 ? total / 2 : 0;
    expect_layer(s, 0, max ? "max_pooling1d" : "average_pooling1d",
                 max ? "MaxPooling1D" : "AveragePooling1D", 3, (long[]){ -1, ot, k->c }, 0);
    size_t nx = (size_t)(b * k->t * k->c), ny = (size_t)(b * ot * k->c);
    float *x = random_floats(nx, -2, 2);
    double *want = malloc(ny * sizeof *want);
    ck_assert_ptr_nonnull(want);
    for (long n = 0; n < b; n++)
        for (long o = 0; o < ot; o++)
            for (long q = 0; q < k->c; q++) {
                double acc = max ? -INFINITY : 0;
                int cells = 0;
                for (long i = o * stride - pl; i < o * stride - pl + k->k; i++) {
                    if (i < 0 || i >= k->t)
                        continue;
                    double v = x[(n * k->t + i) * k->c + q];
                    acc = max ? fmax(acc, v) : acc + v;
                    cells++;
                }
                want[(n * ot + o) * k->c + q] = max ? acc : acc / cells;
            }
    sq_shape ys;
    float *y = run(s, 3, (long[]){ b, k->t, k->c }, x, &ys);
    expect_shape(&ys, 3, (long[]){ b, ot, k->c });
    expect_close(y, want, NULL, ny, args);
    free(y);
    free(x);
    free(want);
    sq_session_free(s);
}
END_TEST

START_TEST(test_global_pool1d_forward)
{
    int max = _i & 1, keep = (_i >> 1) & 1;
    trng_seed(200 + (uint64_t)_i);
    long b = 2, t = 7, c = 5;
    sq_session *s = new_session(2, (long[]){ t, c });
    add_ok(s, max ? "GlobalMaxPool1D" : "global_average_pooling1d", keep ? "keepdims=true" : NULL);
    const char *name = max ? "global_max_pooling1d" : "global_average_pooling1d";
    const char *cls = max ? "GlobalMaxPooling1D" : "GlobalAveragePooling1D";
    if (keep)
        expect_layer(s, 0, name, cls, 3, (long[]){ -1, 1, c }, 0);
    else
        expect_layer(s, 0, name, cls, 2, (long[]){ -1, c }, 0);
    float *x = random_floats((size_t)(b * t * c), -2, 2);
    double want[2 * 5];
    for (long n = 0; n < b; n++)
        for (long q = 0; q < c; q++) {
            double acc = max ? -INFINITY : 0;
            for (long i = 0; i < t; i++) {
                double v = x[(n * t + i) * c + q];
                acc = max ? fmax(acc, v) : acc + v;
            }
            want[n * c + q] = max ? acc : acc / t;
        }
    sq_shape ys;
    float *y = run(s, 3, (long[]){ b, t, c }, x, &ys);
    if (keep)
        expect_shape(&ys, 3, (long[]){ b, 1, c });
    else
        expect_shape(&ys, 2, (long[]){ b, c });
    expect_close(y, want, NULL, (size_t)(b * c), name);
    free(y);
    free(x);
    sq_session_free(s);
}
END_TEST

/* ---- UpSampling1D, ZeroPadding1D, Cropping1D, RepeatVector, Permute ----------- */

START_TEST(test_resize_forward)
{
    trng_seed(300);
    long b = 2, t = 5, c = 3;
    size_t nx = (size_t)(b * t * c);
    float *x = random_floats(nx, -1, 1);
    sq_shape ys;

    /* UpSampling1D(3): y[n, 3i + r] = x[n, i] */
    sq_session *s = new_session(2, (long[]){ t, c });
    add_ok(s, "upsampling1d", "3");
    expect_layer(s, 0, "up_sampling1d", "UpSampling1D", 3, (long[]){ -1, 15, c }, 0);
    float *y = run(s, 3, (long[]){ b, t, c }, x, &ys);
    expect_shape(&ys, 3, (long[]){ b, 15, c });
    for (long n = 0; n < b; n++)
        for (long i = 0; i < 15; i++)
            for (long q = 0; q < c; q++)
                ck_assert_float_eq(y[(n * 15 + i) * c + q], x[(n * t + i / 3) * c + q]);
    free(y);
    sq_session_free(s);

    /* ZeroPadding1D((1, 2)): one zero step first, two last */
    s = new_session(2, (long[]){ t, c });
    add_ok(s, "ZeroPadding1D", "(1,2)");
    expect_layer(s, 0, "zero_padding1d", "ZeroPadding1D", 3, (long[]){ -1, 8, c }, 0);
    y = run(s, 3, (long[]){ b, t, c }, x, &ys);
    expect_shape(&ys, 3, (long[]){ b, 8, c });
    for (long n = 0; n < b; n++)
        for (long i = 0; i < 8; i++)
            for (long q = 0; q < c; q++)
                ck_assert_float_eq(y[(n * 8 + i) * c + q],
                                   i >= 1 && i < 1 + t ? x[(n * t + i - 1) * c + q] : 0.0f);
    free(y);
    sq_session_free(s);

    /* ZeroPadding1D(2) pads 2 at both ends; the default is 1 */
    s = new_session(2, (long[]){ t, c });
    add_ok(s, "zeropadding1d", "2");
    add_ok(s, "zeropadding1d", NULL);
    expect_layer(s, 0, "zero_padding1d", NULL, 3, (long[]){ -1, 9, c }, 0);
    expect_layer(s, 1, "zero_padding1d_1", NULL, 3, (long[]){ -1, 11, c }, 0);
    sq_session_free(s);

    /* Cropping1D((2, 1)): steps 2 .. t-2; the default (1, 1) */
    s = new_session(2, (long[]){ t, c });
    add_ok(s, "cropping1d", "(2,1)");
    expect_layer(s, 0, "cropping1d", "Cropping1D", 3, (long[]){ -1, 2, c }, 0);
    y = run(s, 3, (long[]){ b, t, c }, x, &ys);
    expect_shape(&ys, 3, (long[]){ b, 2, c });
    for (long n = 0; n < b; n++)
        for (long i = 0; i < 2; i++)
            for (long q = 0; q < c; q++)
                ck_assert_float_eq(y[(n * 2 + i) * c + q], x[(n * t + i + 2) * c + q]);
    free(y);
    sq_session_free(s);
    s = new_session(2, (long[]){ t, c });
    add_ok(s, "cropping1d", NULL);
    expect_layer(s, 0, "cropping1d", NULL, 3, (long[]){ -1, 3, c }, 0);
    add_ok(s, "cropping1d", "cropping=(0,2)");
    expect_layer(s, 1, "cropping1d_1", NULL, 3, (long[]){ -1, 1, c }, 0);
    sq_session_free(s);

    /* RepeatVector(4) on (b, 3) */
    s = new_session(1, (long[]){ 3 });
    add_ok(s, "repeatvector", "4");
    expect_layer(s, 0, "repeat_vector", "RepeatVector", 3, (long[]){ -1, 4, 3 }, 0);
    y = run(s, 2, (long[]){ 2, 3 }, x, &ys);
    expect_shape(&ys, 3, (long[]){ 2, 4, 3 });
    for (long n = 0; n < 2; n++)
        for (long r = 0; r < 4; r++)
            for (long q = 0; q < 3; q++)
                ck_assert_float_eq(y[(n * 4 + r) * 3 + q], x[n * 3 + q]);
    free(y);
    sq_session_free(s);
    free(x);
}
END_TEST

/* Every permutation of 1, 2, 3 on (b, 2, 3, 4), element by element. */
START_TEST(test_permute_forward)
{
    static const long perms[][3] = {
        { 1, 2, 3 }, { 1, 3, 2 }, { 2, 1, 3 }, { 2, 3, 1 }, { 3, 1, 2 }, { 3, 2, 1 },
    };
    trng_seed(310);
    long b = 2, d[3] = { 2, 3, 4 };
    size_t n = (size_t)(b * 24);
    float *x = random_floats(n, -1, 1);
    for (int p = 0; p < 6; p++) {
        char args[32];
        snprintf(args, sizeof args, "(%ld, %ld, %ld)", perms[p][0], perms[p][1], perms[p][2]);
        /* the words of a tuple with blanks: "(1," "2," "3)" would be three;
         * sq_add gets it as one word, as the shell's lexer hands it over */
        char *argv[1] = { args };
        sq_error err;
        sq_session *s = new_session(3, d);
        ck_assert_msg(sq_add(s, "permute", 1, argv, &err) == 0, "%s", err.msg);
        long od[3] = { d[perms[p][0] - 1], d[perms[p][1] - 1], d[perms[p][2] - 1] };
        expect_layer(s, 0, "permute", "Permute", 4, (long[]){ -1, od[0], od[1], od[2] }, 0);
        sq_shape ys;
        float *y = run(s, 4, (long[]){ b, 2, 3, 4 }, x, &ys);
        expect_shape(&ys, 4, (long[]){ b, od[0], od[1], od[2] });
        for (long m = 0; m < b; m++)
            for (long i = 0; i < od[0]; i++)
                for (long j = 0; j < od[1]; j++)
                    for (long k = 0; k < od[2]; k++) {
                        long c[3];  /* the input coordinates */
                        c[perms[p][0] - 1] = i;
                        c[perms[p][1] - 1] = j;
                        c[perms[p][2] - 1] = k;
                        float want = x[m * 24 + (c[0] * 3 + c[1]) * 4 + c[2]];
                        ck_assert_float_eq(y[m * 24 + (i * od[1] + j) * od[2] + k], want);
                    }
        free(y);
        sq_session_free(s);
    }
    /* rank 3: (2, 1) swaps steps and channels */
    sq_session *s = new_session(2, (long[]){ 6, 4 });
    add_ok(s, "permute", "2,1");
    expect_layer(s, 0, "permute", "Permute", 3, (long[]){ -1, 4, 6 }, 0);
    sq_shape ys;
    float *y = run(s, 3, (long[]){ 2, 6, 4 }, x, &ys);
    for (long m = 0; m < 2; m++)
        for (long i = 0; i < 4; i++)
            for (long j = 0; j < 6; j++)
                ck_assert_float_eq(y[m * 24 + i * 6 + j], x[m * 24 + j * 4 + i]);
    free(y);
    sq_session_free(s);
    free(x);
}
END_TEST

/* ---- LayerNormalization ---------------------------------------------------------- */

typedef struct {
    int nd;              /* dims without the batch */
    long d[3];
    const char *args;
    int nax;
    long ax[3];          /* resolved axes, in the order given */
    int center, scale;
    double eps;
} ln_case;

static const ln_case ln_cases[] = {
    { 1, { 7 }, NULL, 1, { 1 }, 1, 1, 1e-3 },
    { 2, { 4, 6 }, NULL, 1, { 2 }, 1, 1, 1e-3 },
    { 2, { 4, 6 }, "axis=1", 1, { 1 }, 1, 1, 1e-3 },
    { 2, { 4, 6 }, "axis=(1,2) epsilon=0.5", 2, { 1, 2 }, 1, 1, 0.5 },
    { 3, { 3, 4, 5 }, "axis=(-1,1)", 2, { 3, 1 }, 1, 1, 1e-3 },
    { 3, { 3, 4, 5 }, "axis=2 center=false", 1, { 2 }, 0, 1, 1e-3 },
    { 3, { 3, 4, 5 }, "axis=(2,3) scale=false", 2, { 2, 3 }, 1, 0, 1e-3 },
    { 3, { 3, 4, 5 }, "-1 0.01 false false", 1, { 3 }, 0, 0, 0.01 },
    { 3, { 3, 4, 5 }, "axis=(3,1,2)", 3, { 3, 1, 2 }, 1, 1, 1e-3 },
};

#define NLN (int)(sizeof ln_cases / sizeof ln_cases[0])

START_TEST(test_layernorm_forward)
{
    const ln_case *k = &ln_cases[_i];
    trng_seed(400 + (uint64_t)_i);
    long b = 2;
    sq_session *s = new_session(k->nd, k->d);
    add_ok(s, "layernormalization", k->args);
    long full[4] = { b, k->d[0], k->nd > 1 ? k->d[1] : 1, k->nd > 2 ? k->d[2] : 1 };
    int rank = k->nd + 1;
    /* the weights: shape of the axes in the order given */
    const sq_layer *l = s->model->layers[0];
    ck_assert_int_eq(l->nweights, k->center + k->scale);
    size_t np = 1;
    for (int i = 0; i < k->nax; i++)
        np *= (size_t)full[k->ax[i]];
    for (int w = 0; w < l->nweights; w++) {
        ck_assert_str_eq(l->w[w].name, w == 0 && k->scale ? "gamma" : "beta");
        ck_assert_int_eq(l->w[w].shape.rank, k->nax);
        for (int i = 0; i < k->nax; i++)
            ck_assert_int_eq(l->w[w].shape.d[i], full[k->ax[i]]);
        set_weight(s, 0, w, -1.5, 1.5);
    }
    ck_assert_uint_eq(l->param_count, np * (size_t)(k->center + k->scale));
    const float *gamma = k->scale ? weight_ptr(s, 0, 0, NULL) : NULL;
    const float *beta = k->center ? weight_ptr(s, 0, k->scale, NULL) : NULL;

    size_t n = (size_t)(full[0] * full[1] * full[2] * full[3]);
    float *x = random_floats(n, -2, 3);
    /* group of an element: its coordinates on the other axes; its gamma:
     * its coordinates on the normalised axes, in axis order (C order) */
    int norm[4] = { 0 };
    for (int i = 0; i < k->nax; i++)
        norm[k->ax[i]] = 1;
    size_t *grp = malloc(n * sizeof *grp), *par = malloc(n * sizeof *par);
    double *sum = calloc(n, sizeof *sum), *sq = calloc(n, sizeof *sq);
    double *cnt = calloc(n, sizeof *cnt), *want = malloc(n * sizeof *want);
    ck_assert(grp && par && sum && sq && cnt && want);
    for (size_t e = 0; e < n; e++) {
        long c[4], rest = (long)e;
        for (int a = 3; a >= 0; a--) {
            c[a] = rest % full[a];
            rest /= full[a];
        }
        size_t g = 0, p = 0;
        for (int a = 0; a < 4; a++) {
            if (norm[a])
                p = p * (size_t)full[a] + (size_t)c[a];
            else
                g = g * (size_t)full[a] + (size_t)c[a];
        }
        grp[e] = g;
        par[e] = p;
        sum[g] += x[e];
        cnt[g] += 1;
    }
    for (size_t e = 0; e < n; e++) {
        double dlt = x[e] - sum[grp[e]] / cnt[grp[e]];
        sq[grp[e]] += dlt * dlt;
    }
    for (size_t e = 0; e < n; e++) {
        size_t g = grp[e];
        double mean = sum[g] / cnt[g], var = sq[g] / cnt[g];
        double v = (x[e] - mean) / sqrt(var + k->eps);
        want[e] = (gamma ? v * gamma[par[e]] : v) + (beta ? beta[par[e]] : 0);
    }
    sq_shape ys;
    float *y = run(s, rank, full, x, &ys);
    expect_shape(&ys, rank, full);
    expect_close(y, want, NULL, n, k->args ? k->args : "layernormalization");
    free(y);
    free(x);
    free(grp);
    free(par);
    free(sum);
    free(sq);
    free(cnt);
    free(want);
    sq_session_free(s);
}
END_TEST

/* ---- activation layers ---------------------------------------------------------- */

/* The elementwise ones against their definitions. */
static double relu_ref(double x, int clip, double mx, double slope, double thr)
{
    if (x > thr)
        return clip && x > mx ? mx : x;
    return slope * (x - thr);
}

START_TEST(test_activation_layers_forward)
{
    trng_seed(500);
    long b = 3, d[2] = { 4, 5 };
    size_t n = (size_t)(b * 20);
    float *x = random_floats(n, -8, 8);
    x[0] = 0.0f;          /* exactly at a threshold: 0 */
    x[1] = 1.0f;
    x[2] = 6.0f;
    double *want = malloc(n * sizeof *want);
    ck_assert_ptr_nonnull(want);
    static const struct {
        const char *kind, *args, *name, *cls;
        int what;       /* 0 leaky, 1 elu, 2 relu, 3 thresholded */
        double a, b, c; /* alpha/theta, or relu's max (NaN: none), slope, threshold */
    } cases[] = {
        { "leakyrelu", NULL, "leaky_re_lu", "LeakyReLU", 0, 0.3, 0, 0 },
        { "LeakyReLU", "alpha=0.05", "leaky_re_lu", "LeakyReLU", 0, 0.05, 0, 0 },
        { "leaky_re_lu", "-0.5", "leaky_re_lu", "LeakyReLU", 0, -0.5, 0, 0 },
        { "elu", NULL, "elu", "ELU", 1, 1.0, 0, 0 },
        { "ELU", "0.4", "elu", "ELU", 1, 0.4, 0, 0 },
        { "relu", NULL, "re_lu", "ReLU", 2, NAN, 0, 0 },
        { "ReLU", "6", "re_lu", "ReLU", 2, 6, 0, 0 },
        { "re_lu", "max_value=4.5 negative_slope=0.1", "re_lu", "ReLU", 2, 4.5, 0.1, 0 },
        { "relu", "negative_slope=0.2", "re_lu", "ReLU", 2, NAN, 0.2, 0 },
        { "relu", "None 0.25 1", "re_lu", "ReLU", 2, NAN, 0.25, 1 },
        { "relu", "3 0 1", "re_lu", "ReLU", 2, 3, 0, 1 },
        { "relu", "0.5 0.3 1.5", "re_lu", "ReLU", 2, 0.5, 0.3, 1.5 },   /* max below threshold */
        { "relu", "max_value=0", "re_lu", "ReLU", 2, 0, 0, 0 },
        { "thresholdedrelu", NULL, "thresholded_re_lu", "ThresholdedReLU", 3, 1.0, 0, 0 },
        { "ThresholdedReLU", "theta=0", "thresholded_re_lu", "ThresholdedReLU", 3, 0, 0, 0 },
        { "thresholdedrelu", "2.5", "thresholded_re_lu", "ThresholdedReLU", 3, 2.5, 0, 0 },
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        sq_session *s = new_session(2, d);
        add_ok(s, cases[c].kind, cases[c].args);
        expect_layer(s, 0, cases[c].name, cases[c].cls, 3, (long[]){ -1, 4, 5 }, 0);
        for (size_t i = 0; i < n; i++) {
            double v = x[i], a = cases[c].a;
            switch (cases[c].what) {
            case 0: want[i] = v > 0 ? v : a * v; break;
            case 1: want[i] = v > 0 ? v : a * (exp(v) - 1); break;
            case 2: want[i] = relu_ref(v, !isnan(a), a, cases[c].b, cases[c].c); break;
            default: want[i] = v > a ? v : 0; break;
            }
        }
        float *y = run(s, 3, (long[]){ b, 4, 5 }, x, NULL);
        char what[96];
        snprintf(what, sizeof what, "%s %s", cases[c].kind, cases[c].args ? cases[c].args : "");
        expect_close(y, want, NULL, n, what);
        free(y);
        sq_session_free(s);
    }
    free(x);
    free(want);
}
END_TEST

/* Zeros keep the sign Keras's ops give them, which NumPy printing shows
 * ("-0." against "0."): relu's max(x, 0) is +0; a product x * 0 of a
 * negative x is -0 (ThresholdedReLU's x * (x > theta), ReLU's x * (x >
 * threshold)); PReLU's relu(x) - alpha * relu(-x) with alpha 0 is 0 - 0. */
START_TEST(test_signed_zeros)
{
    static const struct { const char *kind, *args; int negative_zero; } cases[] = {
        { "relu", NULL, 0 }, { "relu", "threshold=0.5", 1 }, { "relu", "6", 0 },
        { "relu", "6 0 0.5", 1 }, { "thresholdedrelu", NULL, 1 }, { "leakyrelu", "0", 0 },
        { "prelu", NULL, 0 }, { "elu", "0", 1 },
    };
    float x[4] = { -2.0f, -0.5f, -3.0f, -1.0f };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        sq_session *s = new_session(1, (long[]){ 4 });
        add_ok(s, cases[c].kind, cases[c].args);
        float *y = run(s, 2, (long[]){ 1, 4 }, x, NULL);
        for (int i = 0; i < 4; i++) {
            ck_assert_msg(y[i] == 0.0f, "%s %s: %g", cases[c].kind, cases[c].args, (double)y[i]);
            ck_assert_msg(!!signbit(y[i]) == cases[c].negative_zero, "%s %s: zero of sign %d",
                          cases[c].kind, cases[c].args ? cases[c].args : "", !!signbit(y[i]));
        }
        free(y);
        sq_session_free(s);
    }
}
END_TEST

/* Softmax along each possible axis of (b, 3, 4, 5), element by element. */
START_TEST(test_softmax_forward)
{
    static const struct { const char *args; int axis; } cases[] = {
        { NULL, 3 }, { "-1", 3 }, { "axis=3", 3 }, { "1", 1 }, { "axis=-2", 2 }, { "2", 2 },
        { "-3", 1 },
    };
    trng_seed(510);
    long b = 2, d[4] = { b, 3, 4, 5 };
    size_t n = (size_t)(b * 60);
    float *x = random_floats(n, -4, 4);
    double *want = malloc(n * sizeof *want);
    ck_assert_ptr_nonnull(want);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int ax = cases[c].axis;
        long stride = ax == 3 ? 1 : ax == 2 ? 5 : 20;
        for (size_t e = 0; e < n; e++) {
            long pos = (long)e / stride % d[ax];
            long start = (long)e - pos * stride;
            double sum = 0;
            for (long j = 0; j < d[ax]; j++)
                sum += exp(x[start + j * stride]);
            want[e] = exp(x[e]) / sum;
        }
        sq_session *s = new_session(3, d + 1);
        add_ok(s, "softmax", cases[c].args);
        expect_layer(s, 0, "softmax", "Softmax", 4, (long[]){ -1, 3, 4, 5 }, 0);
        float *y = run(s, 4, d, x, NULL);
        expect_close(y, want, NULL, n, cases[c].args ? cases[c].args : "softmax");
        free(y);
        sq_session_free(s);
    }
    free(x);
    free(want);
}
END_TEST

/* PReLU: alpha's shape and per-element use, with and without shared axes. */
START_TEST(test_prelu_forward)
{
    static const struct { const char *args; int share[3]; } cases[] = {
        { NULL, { 0, 0, 0 } }, { "shared_axes=1", { 1, 0, 0 } },
        { "shared_axes=(1,2)", { 1, 1, 0 } }, { "shared_axes=3", { 0, 0, 1 } },
        { "shared_axes=2,3", { 0, 1, 1 } },
    };
    trng_seed(520);
    long b = 2, d[3] = { 3, 4, 5 };
    size_t n = (size_t)(b * 60);
    float *x = random_floats(n, -3, 3);
    double *want = malloc(n * sizeof *want);
    ck_assert_ptr_nonnull(want);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        sq_session *s = new_session(3, d);
        add_ok(s, "PReLU", cases[c].args);
        long ad[3];
        size_t np = 1;
        for (int a = 0; a < 3; a++) {
            ad[a] = cases[c].share[a] ? 1 : d[a];
            np *= (size_t)ad[a];
        }
        expect_layer(s, 0, "p_re_lu", "PReLU", 4, (long[]){ -1, 3, 4, 5 }, np);
        const sq_layer *l = s->model->layers[0];
        ck_assert_str_eq(l->w[0].name, "alpha");
        expect_shape(&l->w[0].shape, 3, ad);
        set_weight(s, 0, 0, -0.5, 1.5);
        const float *alpha = weight_ptr(s, 0, 0, NULL);
        for (size_t e = 0; e < n; e++) {
            long i = (long)e / 20 % 3, j = (long)e / 5 % 4, k = (long)e % 5;
            long p = ((ad[0] > 1 ? i : 0) * ad[1] + (ad[1] > 1 ? j : 0)) * ad[2]
                     + (ad[2] > 1 ? k : 0);
            want[e] = x[e] > 0 ? x[e] : alpha[p] * x[e];
        }
        float *y = run(s, 4, (long[]){ b, 3, 4, 5 }, x, NULL);
        expect_close(y, want, NULL, n, cases[c].args ? cases[c].args : "prelu");
        free(y);
        sq_session_free(s);
    }
    free(x);
    free(want);
}
END_TEST

/* ---- the gradient check: check_grad.c's driver, copied ------------------------ */

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


/* ---- gradients of every kind ------------------------------------------------ */

/* A check of the model in s at batch b: x in [lo, hi) away from the kinks
 * (nk of them), or all distinct 0.01 apart when distinct (max pooling). */
static void grad_case(sq_session *s, long b, const char *what, double lo, double hi,
                      const double *kinks, int nk, int distinct)
{
    gc g;
    gc_init(&g, s, b);
    g.h = 2e-3;
    if (distinct)
        fill_distinct(g.x, g.nx, -0.01 * (double)g.nx / 2, 0.01);
    else if (nk > 0)
        fill_away(g.x, g.nx, lo, hi, kinks, nk, 0.1);
    else
        fill_uniform(g.x, g.nx, lo, hi);
    gc_run(&g, what);
    gc_free(&g);
}

typedef struct {
    long b, t, c;
    const char *args;
} conv_grad_case;

static const conv_grad_case conv_grad_cases[] = {
    { 2, 9, 3, "4 3" },
    { 2, 9, 3, "4 3 padding=same" },
    { 2, 9, 3, "4 3 padding=causal" },
    { 2, 9, 3, "4 3 padding=causal dilation_rate=2" },
    { 2, 10, 3, "5 4 strides=2 padding=same" },
    { 2, 11, 2, "3 2 strides=3 use_bias=false" },
    { 2, 10, 3, "2 3 dilation_rate=3 padding=same" },
    { 2, 9, 3, "4 3 strides=2 padding=causal" },
    { 1, 4, 3, "3 5 padding=same" },
    { 2, 7, 4, "5 1" },
    { 2, 7, 4, "5 1 strides=2 padding=same use_bias=false" },
    { 2, 8, 3, "4 3 tanh padding=same" },
    { 2, 8, 3, "20 3 padding=causal" },
};

#define NCONVG (int)(sizeof conv_grad_cases / sizeof conv_grad_cases[0])

START_TEST(test_grad_conv1d)
{
    const conv_grad_case *k = &conv_grad_cases[_i];
    long d[] = { k->t, k->c };
    char what[160], args[128];
    trng_seed(600 + (uint64_t)_i);

    /* after a Dense (so the convolution computes din), followed by another
     * convolution (so its output gradient is not just c) */
    sq_session *s = new_session(2, d);
    snprintf(args, sizeof args, "%ld", k->c);
    add_ok(s, "dense", args);
    add_ok(s, "conv1d", k->args);
    add_ok(s, "conv1d", "3 2 sigmoid padding=same");
    snprintf(what, sizeof what, "dense, conv1d %s, conv1d 3 2", k->args);
    grad_case(s, k->b, what, -1, 1, NULL, 0, 0);

    /* alone: lowest layer (din NULL in the driver), then din directly */
    s = new_session(2, d);
    add_ok(s, "conv1d", k->args);
    snprintf(what, sizeof what, "conv1d %s alone", k->args);
    grad_case(s, k->b, what, -1, 1, NULL, 0, 0);

    /* frozen between trainable layers: din with dw NULL */
    s = new_session(2, d);
    add_ok(s, "dense", args);
    snprintf(args, sizeof args, "%s trainable=false", k->args);
    add_ok(s, "conv1d", args);
    snprintf(what, sizeof what, "dense, frozen conv1d %s", k->args);
    grad_case(s, k->b, what, -1, 1, NULL, 0, 0);
}
END_TEST

START_TEST(test_grad_pool1d)
{
    int max = _i < NPOOL;
    const pool_case *k = &pool_cases[_i % NPOOL];
    const char *kind = max ? "maxpooling1d" : "averagepooling1d";
    char args[96], units[16], what[160];
    trng_seed(700 + (uint64_t)_i);
    if (k->s)
        snprintf(args, sizeof args, "%ld strides=%ld padding=%s", k->k, k->s,
                 k->same ? "same" : "valid");
    else
        snprintf(args, sizeof args, "%ld padding=%s", k->k, k->same ? "same" : "valid");
    snprintf(units, sizeof units, "%ld", k->c);
    long d[] = { k->t, k->c };

    /* after an identity Dense; for max, distinct values 0.01 apart, which a
     * step of h = 2e-3 cannot reorder */
    sq_session *s = new_session(2, d);
    add_ok(s, "dense", units);
    add_ok(s, kind, args);
    set_identity(s, 0);
    snprintf(what, sizeof what, "dense, %s %s", kind, args);
    grad_case(s, 2, what, -1, 1, NULL, 0, max);

    s = new_session(2, d);
    add_ok(s, kind, args);
    snprintf(what, sizeof what, "%s %s alone", kind, args);
    grad_case(s, 2, what, -1, 1, NULL, 0, max);
}
END_TEST

START_TEST(test_grad_global_pool1d)
{
    int max = _i & 1, keep = (_i >> 1) & 1;
    const char *kind = max ? "globalmaxpooling1d" : "globalaveragepooling1d";
    const char *args = keep ? "keepdims=true" : NULL;
    long d[] = { 5, 3 };
    char what[160];
    trng_seed(800 + (uint64_t)_i);

    sq_session *s = new_session(2, d);
    add_ok(s, "dense", "3");
    add_ok(s, kind, args);
    add_ok(s, "dense", "2");
    set_identity(s, 0);
    snprintf(what, sizeof what, "dense, %s %s, dense", kind, args ? args : "");
    grad_case(s, 2, what, -1, 1, NULL, 0, max);

    s = new_session(2, d);
    add_ok(s, kind, args);
    snprintf(what, sizeof what, "%s %s alone", kind, args ? args : "");
    grad_case(s, 2, what, -1, 1, NULL, 0, max);
}
END_TEST

/* The kinds that move values without arithmetic, and Softmax. */
typedef struct {
    int nd;
    long d[3];
    const char *kind, *args;
} shape_grad_case;

static const shape_grad_case shape_grad_cases[] = {
    { 2, { 4, 3 }, "upsampling1d", "3" },
    { 2, { 4, 3 }, "upsampling1d", NULL },
    { 2, { 4, 3 }, "zeropadding1d", "(1,2)" },
    { 2, { 4, 3 }, "zeropadding1d", "(0,3)" },
    { 2, { 6, 3 }, "cropping1d", "(2,1)" },
    { 2, { 6, 3 }, "cropping1d", "cropping=(0,4)" },
    { 1, { 5 }, "repeatvector", "3" },
    { 2, { 5, 3 }, "permute", "2,1" },
    { 3, { 2, 3, 4 }, "permute", "3,1,2" },
    { 3, { 2, 3, 4 }, "permute", "2,3,1" },
    { 2, { 4, 5 }, "softmax", NULL },
    { 2, { 4, 5 }, "softmax", "1" },
    { 3, { 2, 3, 4 }, "softmax", "axis=2" },
};

#define NSHAPEG (int)(sizeof shape_grad_cases / sizeof shape_grad_cases[0])

START_TEST(test_grad_shapes)
{
    const shape_grad_case *k = &shape_grad_cases[_i];
    char units[16], what[160];
    trng_seed(900 + (uint64_t)_i);
    snprintf(units, sizeof units, "%ld", k->d[k->nd - 1]);

    sq_session *s = new_session(k->nd, k->d);
    add_ok(s, "dense", units);
    add_ok(s, k->kind, k->args);
    add_ok(s, "dense", "2");
    snprintf(what, sizeof what, "dense, %s %s, dense", k->kind, k->args ? k->args : "");
    grad_case(s, 2, what, -1, 1, NULL, 0, 0);

    s = new_session(k->nd, k->d);
    add_ok(s, k->kind, k->args);
    snprintf(what, sizeof what, "%s %s alone", k->kind, k->args ? k->args : "");
    grad_case(s, 2, what, -2, 2, NULL, 0, 0);
}
END_TEST

START_TEST(test_grad_layernorm)
{
    const ln_case *k = &ln_cases[_i];
    char units[16], what[160];
    trng_seed(1000 + (uint64_t)_i);
    snprintf(units, sizeof units, "%ld", k->d[k->nd - 1]);

    /* between Dense layers (dense keeps the shape), with gamma and beta not
     * 1 and 0, followed by tanh so the output gradient varies */
    sq_session *s = new_session(k->nd, k->d);
    add_ok(s, "dense", units);
    add_ok(s, "layernormalization", k->args);
    add_ok(s, "dense", "3 tanh");
    for (int w = 0; w < s->model->layers[1]->nweights; w++)
        set_weight(s, 1, w, 0.5, 1.5);
    snprintf(what, sizeof what, "dense, layernormalization %s, dense", k->args ? k->args : "");
    grad_case(s, 2, what, -1, 1, NULL, 0, 0);

    s = new_session(k->nd, k->d);
    add_ok(s, "layernormalization", k->args);
    for (int w = 0; w < s->model->layers[0]->nweights; w++)
        set_weight(s, 0, w, -1.5, 1.5);
    snprintf(what, sizeof what, "layernormalization %s alone", k->args ? k->args : "");
    grad_case(s, 2, what, -2, 3, NULL, 0, 0);
}
END_TEST

typedef struct {
    const char *kind, *args;
    double lo, hi;
    double kinks[2];
    int nk;
} act_grad_case;

static const act_grad_case act_grad_cases[] = {
    { "leakyrelu", NULL, -3, 3, { 0 }, 1 },
    { "leakyrelu", "0.01", -3, 3, { 0 }, 1 },
    { "elu", NULL, -3, 3, { 0 }, 1 },
    { "elu", "0.5", -3, 3, { 0 }, 1 },
    { "relu", NULL, -3, 3, { 0 }, 1 },
    { "relu", "6", -2, 8, { 0, 6 }, 2 },
    { "relu", "negative_slope=0.2", -3, 3, { 0 }, 1 },
    { "relu", "4 0.3 1", -2, 6, { 1, 4 }, 2 },
    { "relu", "threshold=0.5", -3, 3, { 0.5 }, 1 },
    { "thresholdedrelu", NULL, -3, 3, { 1 }, 1 },
    { "thresholdedrelu", "0", -3, 3, { 0 }, 1 },
    { "prelu", NULL, -3, 3, { 0 }, 1 },
    { "prelu", "shared_axes=1", -3, 3, { 0 }, 1 },
    { "prelu", "shared_axes=2", -3, 3, { 0 }, 1 },
};

#define NACTG (int)(sizeof act_grad_cases / sizeof act_grad_cases[0])

START_TEST(test_grad_activation_layers)
{
    const act_grad_case *k = &act_grad_cases[_i];
    long d[] = { 4, 3 };
    char what[160];
    trng_seed(1100 + (uint64_t)_i);
    int prelu = !strcmp(k->kind, "prelu");

    /* an identity Dense hands x over unchanged, kept away from the kinks */
    sq_session *s = new_session(2, d);
    add_ok(s, "dense", "3");
    add_ok(s, k->kind, k->args);
    add_ok(s, "dense", "2");
    set_identity(s, 0);
    if (prelu)
        set_weight(s, 1, 0, 0.1, 0.6);
    snprintf(what, sizeof what, "dense, %s %s, dense", k->kind, k->args ? k->args : "");
    grad_case(s, 3, what, k->lo, k->hi, k->kinks, k->nk, 0);

    s = new_session(2, d);
    add_ok(s, k->kind, k->args);
    if (prelu)
        set_weight(s, 0, 0, 0.1, 0.6);
    snprintf(what, sizeof what, "%s %s alone", k->kind, k->args ? k->args : "");
    grad_case(s, 3, what, k->lo, k->hi, k->kinks, k->nk, 0);
}
END_TEST

/* Training end to end: a model of every kind fits a few steps, its loss
 * is finite and every trainable weight moved. */
START_TEST(test_fit_every_kind)
{
    sq_session *s = new_session(2, (long[]){ 12, 4 });
    static const char *const lines[] = {
        "conv1d 6 3 padding=causal dilation_rate=2 tanh", "maxpooling1d 2 strides=1 padding=same",
        "averagepooling1d 3 strides=2 padding=same", "upsampling1d 3", "zeropadding1d (2,1)",
        "cropping1d (1,2)", "layernormalization", "leakyrelu", "prelu shared_axes=1", "elu",
        "relu 4 0.1", "softmax axis=1", "thresholdedrelu 0.001", "permute 2,1",
        "globalmaxpooling1d keepdims=true", "globalaveragepooling1d", "repeatvector 2",
        "globalaveragepooling1d", "dense 2",
    };
    sq_error err;
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        char kind[64], args[128] = "";
        sscanf(lines[i], "%63s %127[^\n]", kind, args);
        add_ok(s, kind, args);
    }
    ck_assert_int_eq(sq_compile(s, "sgd", "mse", NULL, 0, NULL, NULL, &err), 0);
    sq_tensor x, y;
    ck_assert_int_eq(sq_tensor_generate(s, "random", 3, (long[]){ 16, 12, 4 }, &x, &err), 0);
    ck_assert_int_eq(sq_tensor_generate(s, "random", 2, (long[]){ 16, 2 }, &y, &err), 0);
    size_t np = s->model->nparams;
    float *before = malloc(np * sizeof *before);
    ck_assert_ptr_nonnull(before);
    memcpy(before, s->model->params, np * sizeof *before);
    sq_fit_opts o = { .epochs = 2, .batch_size = 5, .shuffle = 1, .verbose = 0 };
    ck_assert_msg(sq_fit(s, &x, &y, &o, NULL, NULL, &err) == 0, "fit: %s", err.msg);
    double loss;
    const char *name;
    int n;
    ck_assert_int_eq(sq_evaluate(s, &x, &y, 8, 0, NULL, NULL, &loss, &name, 1, &n, &err), 0);
    ck_assert(isfinite(loss));
    for (int li = 0; li < s->model->n; li++) {
        const sq_layer *l = s->model->layers[li];
        if (!l->param_count)
            continue;
        int moved = 0;
        for (size_t i = l->param_off; i < l->param_off + l->param_count; i++)
            moved |= s->model->params[i] != before[i];
        ck_assert_msg(moved, "%s's weights did not move", l->name);
    }
    free(before);
    sq_tensor_free(&x);
    sq_tensor_free(&y);
    sq_session_free(s);
}
END_TEST

/* ---- names, shapes, parameter counts ----------------------------------------- */

START_TEST(test_shapes_and_names)
{
    sq_session *s = new_session(2, (long[]){ 100, 8 });
    add_ok(s, "conv1d", "16 5 padding=causal dilation_rate=2 relu");
    expect_layer(s, 0, "conv1d", "Conv1D", 3, (long[]){ -1, 100, 16 }, 5 * 8 * 16 + 16);
    add_ok(s, "Convolution1D", "8 3 strides=2");          /* floor((100 - 3)/2) + 1 */
    expect_layer(s, 1, "conv1d_1", "Conv1D", 3, (long[]){ -1, 49, 8 }, 3 * 16 * 8 + 8);
    add_ok(s, "Conv1D", "4 (1,) use_bias=false padding=same");
    expect_layer(s, 2, "conv1d_2", "Conv1D", 3, (long[]){ -1, 49, 4 }, 8 * 4);
    add_ok(s, "MaxPool1D", NULL);
    expect_layer(s, 3, "max_pooling1d", "MaxPooling1D", 3, (long[]){ -1, 24, 4 }, 0);
    add_ok(s, "max_pooling1d", "3 padding=same");
    expect_layer(s, 4, "max_pooling1d_1", "MaxPooling1D", 3, (long[]){ -1, 8, 4 }, 0);
    add_ok(s, "AvgPool1D", "2 1");
    expect_layer(s, 5, "average_pooling1d", "AveragePooling1D", 3, (long[]){ -1, 7, 4 }, 0);
    add_ok(s, "layer_normalization", NULL);
    expect_layer(s, 6, "layer_normalization", "LayerNormalization", 3, (long[]){ -1, 7, 4 }, 8);
    add_ok(s, "LayerNormalization", "axis=(1,2)");
    expect_layer(s, 7, "layer_normalization_1", NULL, 3, (long[]){ -1, 7, 4 }, 56);
    add_ok(s, "p_re_lu", NULL);
    expect_layer(s, 8, "p_re_lu", "PReLU", 3, (long[]){ -1, 7, 4 }, 28);
    add_ok(s, "GlobalAvgPool1D", NULL);
    expect_layer(s, 9, "global_average_pooling1d", "GlobalAveragePooling1D", 2,
                 (long[]){ -1, 4 }, 0);
    add_ok(s, "RepeatVector", "5");
    expect_layer(s, 10, "repeat_vector", "RepeatVector", 3, (long[]){ -1, 5, 4 }, 0);
    add_ok(s, "GlobalMaxPooling1D", NULL);
    expect_layer(s, 11, "global_max_pooling1d", "GlobalMaxPooling1D", 2, (long[]){ -1, 4 }, 0);
    add_ok(s, "leakyrelu", NULL);
    add_ok(s, "leaky_relu", NULL);
    add_ok(s, "elu", NULL);
    add_ok(s, "relu", NULL);
    add_ok(s, "ReLU", NULL);
    add_ok(s, "softmax", NULL);
    add_ok(s, "thresholded_relu", NULL);
    expect_layer(s, 12, "leaky_re_lu", "LeakyReLU", 2, (long[]){ -1, 4 }, 0);
    expect_layer(s, 13, "leaky_re_lu_1", "LeakyReLU", 2, (long[]){ -1, 4 }, 0);
    expect_layer(s, 14, "elu", "ELU", 2, (long[]){ -1, 4 }, 0);
    expect_layer(s, 15, "re_lu", "ReLU", 2, (long[]){ -1, 4 }, 0);
    expect_layer(s, 16, "re_lu_1", "ReLU", 2, (long[]){ -1, 4 }, 0);
    expect_layer(s, 17, "softmax", "Softmax", 2, (long[]){ -1, 4 }, 0);
    expect_layer(s, 18, "thresholded_re_lu", "ThresholdedReLU", 2, (long[]){ -1, 4 }, 0);
    sq_session_free(s);

    /* a deferred model built by its first call; input_shape= */
    s = new_session(0, NULL);
    add_ok(s, "conv1d", "4 3");
    add_ok(s, "upsampling1d", NULL);
    add_ok(s, "prelu", NULL);
    ck_assert(!sq_model_is_built(s));
    float *x = random_floats(2 * 10 * 3, -1, 1);
    sq_tensor y;
    call_ok(s, 3, (long[]){ 2, 10, 3 }, x, &y);
    expect_shape(&y.shape, 3, (long[]){ 2, 16, 4 });
    expect_layer(s, 0, "conv1d", "Conv1D", 3, (long[]){ 2, 8, 4 }, 40);
    expect_layer(s, 2, "p_re_lu", "PReLU", 3, (long[]){ 2, 16, 4 }, 64);
    sq_tensor_free(&y);
    free(x);
    sq_session_free(s);

    s = new_session(0, NULL);
    add_ok(s, "zeropadding1d", "3 input_shape=(5,2)");
    expect_layer(s, 0, "zero_padding1d", "ZeroPadding1D", 3, (long[]){ -1, 11, 2 }, 0);
    sq_session_free(s);
}
END_TEST

/* Weight names and shapes as Keras 2.6 lists them. */
START_TEST(test_weight_names)
{
    sq_session *s = new_session(2, (long[]){ 9, 4 });
    add_ok(s, "conv1d", "6 3");
    add_ok(s, "layernormalization", NULL);
    add_ok(s, "layernormalization", "axis=(2,1) center=false");
    add_ok(s, "prelu", "shared_axes=1");
    sq_error err;
    char *t = sq_weights_text(s, NULL, &err);
    ck_assert_ptr_nonnull(t);
    static const char *const want[] = {
        "conv1d/kernel:0 shape=(3, 4, 6) dtype=float32",
        "conv1d/bias:0 shape=(6,) dtype=float32",
        "layer_normalization/gamma:0 shape=(6,) dtype=float32",
        "layer_normalization/beta:0 shape=(6,) dtype=float32",
        "layer_normalization_1/gamma:0 shape=(6, 7) dtype=float32",
        "p_re_lu/alpha:0 shape=(1, 6) dtype=float32",
    };
    const char *at = t;
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const char *hit = strstr(at, want[i]);
        ck_assert_msg(hit, "'%s' missing (or out of order) in:\n%s", want[i], t);
        at = hit + 1;
    }
    ck_assert_ptr_null(strstr(t, "layer_normalization_1/beta"));
    free(t);
    /* the initial values: gamma 1, beta 0, alpha 0, bias 0 */
    const float *g = weight_ptr(s, 1, 0, NULL), *b = weight_ptr(s, 1, 1, NULL);
    const float *a = weight_ptr(s, 3, 0, NULL), *cb = weight_ptr(s, 0, 1, NULL);
    for (int i = 0; i < 6; i++) {
        ck_assert_float_eq(g[i], 1.0f);
        ck_assert_float_eq(b[i], 0.0f);
        ck_assert_float_eq(a[i], 0.0f);
        ck_assert_float_eq(cb[i], 0.0f);
    }
    /* glorot_uniform: fan_in 3*4, fan_out 3*6 */
    size_t n;
    const float *k = weight_ptr(s, 0, 0, &n);
    double limit = sqrt(6.0 / (12 + 18)), big = 0;
    for (size_t i = 0; i < n; i++)
        big = fmax(big, fabs(k[i]));
    ck_assert(big <= limit && big > 0.5 * limit);
    sq_session_free(s);
}
END_TEST

/* ---- error messages -------------------------------------------------------------- */

START_TEST(test_rank_errors)
{
    sq_session *s = new_session(1, (long[]){ 4 });
    add_fails(s, "conv1d", "8 3",
              "Input 0 of layer conv1d is incompatible with the layer: : expected min_ndim=3, "
              "found ndim=2. Full shape received: (None, 4)");
    static const char *const ndim3[][2] = {
        { "maxpooling1d", "max_pooling1d" }, { "averagepooling1d", "average_pooling1d" },
        { "globalmaxpooling1d", "global_max_pooling1d" },
        { "globalaveragepooling1d", "global_average_pooling1d" },
        { "upsampling1d", "up_sampling1d" }, { "zeropadding1d", "zero_padding1d" },
        { "cropping1d", "cropping1d" }, { "permute", "permute" },
    };
    char msg[256];
    for (size_t i = 0; i < sizeof ndim3 / sizeof ndim3[0]; i++) {
        snprintf(msg, sizeof msg, "Input 0 of layer %s is incompatible with the layer: expected "
                 "ndim=3, found ndim=2. Full shape received: (None, 4)", ndim3[i][1]);
        add_fails(s, ndim3[i][0], !strcmp(ndim3[i][0], "permute") ? "2,1" : NULL, msg);
    }
    sq_session_free(s);

    s = new_session(3, (long[]){ 4, 5, 6 });
    add_fails(s, "conv1d", "8 3",
              "Input 0 of layer conv1d: Conv1D in seqsh takes inputs of rank 3 (batch, steps, "
              "channels) only, found ndim=4. Full shape received: (None, 4, 5, 6)");
    add_fails(s, "maxpooling1d", NULL,
              "Input 0 of layer max_pooling1d is incompatible with the layer: expected ndim=3, "
              "found ndim=4. Full shape received: (None, 4, 5, 6)");
    add_fails(s, "permute", "2,1",
              "Input 0 of layer permute is incompatible with the layer: expected ndim=3, "
              "found ndim=4. Full shape received: (None, 4, 5, 6)");
    add_fails(s, "repeatvector", "3",
              "Input 0 of layer repeat_vector is incompatible with the layer: expected ndim=2, "
              "found ndim=4. Full shape received: (None, 4, 5, 6)");
    /* the model is untouched and still takes good layers */
    add_ok(s, "permute", "3,1,2");
    expect_layer(s, 0, "permute", NULL, 4, (long[]){ -1, 6, 4, 5 }, 0);
    sq_session_free(s);
}
END_TEST

START_TEST(test_option_errors)
{
    sq_session *s = new_session(2, (long[]){ 4, 3 });
    add_fails(s, "conv1d", "0 3",
              "Received an invalid value for `filters`, expected a positive integer, got 0.");
    add_fails(s, "conv1d", "-2 3",
              "Received a negative value for `filters`.Was expecting a positive value, got -2.");
    add_fails(s, "conv1d", "8 0", "The argument `kernel_size` cannot contain 0(s). Received: (0,)");
    add_fails(s, "conv1d", "8 3 strides=0",
              "The argument `strides` cannot contains 0(s). Received: (0,)");
    add_fails(s, "conv1d", "8 3 dilation_rate=0",
              "The argument `dilation_rate` must contain positive integers. Received: (0,)");
    add_fails(s, "conv1d", "8 3 strides=2 dilation_rate=2",
              "`strides > 1` not supported in conjunction with `dilation_rate > 1`. Received: "
              "strides=(2,) and dilation_rate=(2,)");
    add_fails(s, "conv1d", "8 3 padding=full",
              "The `padding` argument must be one of \"valid\", \"same\" (or \"causal\", only "
              "for `Conv1D). Received: full");
    add_fails(s, "conv1d", "8 (3,3)",
              "The `kernel_size` argument must be a tuple of 1 integers. Received: (3, 3)");
    add_fails(s, "conv1d", "8",
              "Conv1D is missing 1 required positional argument: 'kernel_size'");
    add_fails(s, "conv1d", "8 3 foo",
              "Unknown activation function: foo; 'help activations' lists them");
    add_fails(s, "conv1d", "8 3 rleu",
              "Unknown activation function: rleu (did you mean relu?); 'help activations' "
              "lists them");
    add_fails(s, "conv1d", "8 5",
              "Negative dimension size caused by subtracting 5 from 4: the kernel of length 5 "
              "of conv1d (Conv1D) does not fit in its input (None, 4, 3); use a smaller "
              "kernel_size, or padding=same or causal");
    add_fails(s, "conv1d", "8 3 dilation_rate=2",
              "Negative dimension size caused by subtracting 5 from 4: the kernel of length 3 "
              "of conv1d (Conv1D), with dilation_rate=2, spans 5, more than its input "
              "(None, 4, 3) has; use a smaller kernel_size or dilation_rate, or padding=same "
              "or causal");
    add_ok(s, "conv1d", "8 5 padding=causal");   /* causal and same never run out */

    add_fails(s, "maxpooling1d", "0",
              "The `pool_size` argument must be a tuple of 1 integers. Received: (0,) including "
              "{0} that does not satisfy the requirement `> 0`.");
    add_fails(s, "averagepooling1d", "2 -1",
              "The `strides` argument must be a tuple of 1 integers. Received: (-1,) including "
              "{-1} that does not satisfy the requirement `> 0`.");
    add_fails(s, "maxpooling1d", "2 padding=causal",
              "MaxPooling1D: padding \"causal\" is only supported by Conv1D; use \"valid\" or "
              "\"same\"");
    add_fails(s, "maxpooling1d", "5",
              "Negative dimension size caused by subtracting 5 from 4: the pool of length 5 of "
              "max_pooling1d (MaxPooling1D) does not fit in its input (None, 4, 8); use a "
              "smaller pool_size, or padding=same");
    add_fails_prefix(s, "averagepooling1d", "5",
                     "Negative dimension size caused by subtracting 5 from 4: the pool of length "
                     "5 of average_pooling1d (AveragePooling1D)");
    add_fails(s, "upsampling1d", "0", "UpSampling1D: `size` must be a positive integer, got 0");
    add_fails(s, "zeropadding1d", "(-1,2)",
              "The `padding` argument must be a tuple of 2 integers. Received: (-1, 2) "
              "including {-1} that does not satisfy the requirement `>= 0`.");
    add_fails(s, "zeropadding1d", "(1,2,3)",
              "The `padding` argument must be a tuple of 2 integers. Received: (1, 2, 3)");
    add_fails(s, "cropping1d", "(-2,-1)",
              "The `cropping` argument must be a tuple of 2 integers. Received: (-2, -1) "
              "including {-2, -1} that does not satisfy the requirement `>= 0`.");
    add_fails(s, "cropping1d", "2",
              "`cropping` parameter of `Cropping1D` layer must be smaller than the input "
              "length. Received: input_shape=(None, 4, 8), cropping=(2, 2)");
    add_fails(s, "repeatvector", NULL,
              "RepeatVector is missing 1 required positional argument: 'n'");
    add_fails(s, "permute", "(2,2)",
              "Invalid permutation `dims` for Permute Layer: (2, 2). The set of indices in "
              "`dims` must be consecutive and start from 1.");
    add_fails(s, "permute", "(0,1)",
              "Invalid permutation `dims` for Permute Layer: (0, 1). The set of indices in "
              "`dims` must be consecutive and start from 1.");
    add_fails(s, "permute", "3",
              "Invalid permutation `dims` for Permute Layer: (3,). The set of indices in "
              "`dims` must be consecutive and start from 1.");
    add_fails(s, "layernormalization", "axis=3", "Invalid axis: 3");
    add_fails(s, "layernormalization", "axis=-4", "Invalid axis: -1");
    add_fails(s, "layernormalization", "axis=(2,-1)", "Duplicate axis: (2, 2)");
    add_fails(s, "layernormalization", "axis=0",
              "LayerNormalization in seqsh normalises each sample on its own: axis 0 (the "
              "batch) cannot be one of the axes (input shape (None, 4, 8))");
    add_fails(s, "layernormalization", "epsilon=x",
              "LayerNormalization: `epsilon` must be a number, got 'x'");
    add_fails(s, "relu", "-1",
              "max_value of a ReLU layer cannot be a negative value. Got: -1");
    add_fails(s, "relu", "negative_slope=-0.5",
              "negative_slope of a ReLU layer cannot be a negative value. Got: -0.5");
    add_fails(s, "relu", "threshold=-2",
              "threshold of a ReLU layer cannot be a negative value. Got: -2");
    add_fails(s, "relu", "max_value=big", "ReLU: `max_value` must be a number or None, got 'big'");
    add_fails(s, "thresholdedrelu", "-0.25",
              "The theta value of a Thresholded ReLU layer should be >=0, got -0.25");
    add_fails(s, "leakyrelu", "alpha=None", "LeakyReLU: `alpha` must be a number, got 'None'");
    add_fails(s, "elu", "0.5 0.5", "ELU takes 1 positional argument but 2 were given (extra: '0.5')");
    add_fails(s, "softmax", "3",
              "Dimension (3) must be in the range [-3, 3) where 3 is the number of dimensions in "
              "the input.");
    add_fails(s, "softmax", "-4",
              "Dimension (-4) must be in the range [-3, 3) where 3 is the number of dimensions "
              "in the input.");
    add_fails(s, "softmax", "0",
              "Softmax in seqsh works within each sample: axis 0 is the batch axis of input "
              "shape (None, 4, 8)");
    add_fails(s, "prelu", "shared_axes=3",
              "PReLU: shared axis 3 does not exist in input shape (None, 4, 8)");
    add_fails(s, "prelu", "shared_axes=0",
              "PReLU: `shared_axes` are 1-based axes after the batch; got 0");
    add_fails(s, "prelu", "zeros", "PReLU takes 0 positional arguments but 1 were given (extra: 'zeros')");
    add_fails(s, "leakyrelu", "activation=relu",
              "Keyword argument not understood: activation; 'help leakyrelu' lists the "
              "arguments of LeakyReLU");
    ck_assert_int_eq(sq_layer_count(s), 1);
    sq_session_free(s);
}
END_TEST

/* ---- save/load ---------------------------------------------------------------------- */

/* Every option of every kind survives sq_layer_describe -> parse: the
 * description of the re-created layer is the same text. */
START_TEST(test_describe_round_trip)
{
    static const char *const specs[] = {
        "conv1d 6 3 strides=2 padding=same dilation_rate=1 use_bias=false activation=tanh",
        "conv1d filters=4 kernel_size=(5,) padding=causal dilation_rate=3 relu",
        "maxpooling1d 3 2 same", "averagepooling1d pool_size=4 strides=(1,) padding=valid",
        "globalmaxpooling1d keepdims=true", "globalaveragepooling1d keepdims=false",
        "upsampling1d 4", "zeropadding1d (3,0)", "zeropadding1d padding=2",
        "cropping1d (0,2)", "cropping1d cropping=3", "repeatvector 7",
        "permute (3,1,2)", "permute dims=2,1",
        "layernormalization axis=(1,-1) epsilon=0.125 center=false scale=true",
        "layernormalization -2 1e-05 true false",
        "leakyrelu 0.125", "prelu shared_axes=(1,2)", "prelu", "elu alpha=-0.5",
        "relu 6 0.25 0.5", "relu max_value=None threshold=1", "softmax axis=-2",
        "thresholdedrelu theta=0.1",
    };
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
        char buf[512], *argv[32];
        int argc = 0;
        snprintf(buf, sizeof buf, "%s name=layer%zu trainable=false", specs[i], i);
        char *save = NULL;
        for (char *t = strtok_r(buf, " ", &save); t && argc < 32; t = strtok_r(NULL, " ", &save))
            argv[argc++] = t;
        const sq_layer_kind *kind = sq_kind_find(argv[0]);
        ck_assert_ptr_nonnull(kind);
        sq_shape ishape;
        sq_error err;
        sq_layer *l = sq_layer_create(kind, argc - 1, argv + 1, &ishape, &err);
        ck_assert_msg(l, "%s: %s", specs[i], err.msg);
        sbuf d1 = { 0 }, d2 = { 0 };
        sq_layer_describe(l, &d1);
        char *t1 = sb_finish(&d1, NULL);
        ck_assert_ptr_nonnull(t1);
        /* the description is one line of blank-free words */
        snprintf(buf, sizeof buf, "%s", t1);
        argc = 0;
        for (char *t = strtok_r(buf, " ", &save); t && argc < 32; t = strtok_r(NULL, " ", &save))
            argv[argc++] = t;
        ck_assert_str_eq(argv[0], "add");
        ck_assert_ptr_eq(sq_kind_find(argv[1]), kind);
        sq_layer *l2 = sq_layer_create(kind, argc - 2, argv + 2, &ishape, &err);
        ck_assert_msg(l2, "%s: %s", t1, err.msg);
        sq_layer_describe(l2, &d2);
        char *t2 = sb_finish(&d2, NULL);
        ck_assert_str_eq(t1, t2);
        ck_assert_int_eq(l2->trainable, 0);
        ck_assert_int_eq(memcmp(l->state, l2->state, kind->state_size), 0);
        free(t1);
        free(t2);
        sq_layer_free(l);
        sq_layer_free(l2);
    }
}
END_TEST

static const char *const model_lines[] = {
    "conv1d 6 3 padding=causal dilation_rate=2 use_bias=false activation=tanh name=c",
    "conv1d 5 2 strides=2 padding=same",
    "maxpooling1d 2 strides=1 padding=same", "averagepooling1d 3 strides=2 padding=same",
    "upsampling1d 3", "zeropadding1d (2,1)", "cropping1d (1,2)",
    "layernormalization axis=(1,2) epsilon=0.01 center=false", "layernormalization",
    "leakyrelu 0.2 trainable=false", "prelu shared_axes=1", "elu 0.7", "relu 4.5 0.1 0.2",
    "softmax axis=1", "thresholdedrelu 0.01", "permute 2,1", "prelu",
    "globalmaxpooling1d keepdims=true", "globalaveragepooling1d", "repeatvector 2",
};

static sq_session *every_kind_model(unsigned long long seed)
{
    sq_session *s = new_session(2, (long[]){ 12, 4 });
    sq_seed(s, seed);
    for (size_t i = 0; i < sizeof model_lines / sizeof model_lines[0]; i++) {
        char kind[64], args[192] = "";
        sscanf(model_lines[i], "%63s %191[^\n]", kind, args);
        add_ok(s, kind, args);
    }
    return s;
}

static float *outputs(sq_session *s, sq_shape *shape)
{
    trng_seed(77);
    float *x = random_floats(3 * 12 * 4, -2, 2);
    sq_tensor y;
    call_ok(s, 3, (long[]){ 3, 12, 4 }, x, &y);
    free(x);
    *shape = y.shape;
    return y.data;
}

START_TEST(test_save_load)
{
    char dir[] = "/tmp/seqsh_w2a_XXXXXX", path[128], wpath[128];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/m.seqm", dir);
    snprintf(wpath, sizeof wpath, "%s/w.npz", dir);
    sq_error err;
    sq_session *a = every_kind_model(5);
    expect_layer(a, 19, "repeat_vector", NULL, 3, (long[]){ -1, 2, 9 }, 0);
    for (size_t i = 0; i < a->model->nparams; i++)
        a->model->params[i] += 0.01f * (float)(i % 7) + 0.1f;
    sq_shape sa, sb;
    float *ya = outputs(a, &sa);

    ck_assert_msg(sq_save(a, path, &err) == 0, "save: %s", err.msg);
    sq_session *b = sq_session_new();
    ck_assert_msg(sq_load(b, path, &err) == 0, "load: %s", err.msg);
    char *ta = sq_summary(a, &err), *tb = sq_summary(b, &err);
    ck_assert_str_eq(ta, tb);
    free(ta);
    free(tb);
    ck_assert_int_eq(a->model->n, b->model->n);
    for (int i = 0; i < a->model->n; i++) {
        sbuf da = { 0 }, db = { 0 };
        sq_layer_describe(a->model->layers[i], &da);
        sq_layer_describe(b->model->layers[i], &db);
        char *x1 = sb_finish(&da, NULL), *x2 = sb_finish(&db, NULL);
        ck_assert_str_eq(x1, x2);
        free(x1);
        free(x2);
    }
    float *yb = outputs(b, &sb);
    ck_assert(sq_shape_eq(&sa, &sb));
    ck_assert_int_eq(memcmp(ya, yb, sq_shape_count(&sa) * sizeof *ya), 0);
    free(yb);
    sq_session_free(b);

    /* save_weights into a model of the same architecture, other weights */
    ck_assert_msg(sq_save_weights(a, wpath, &err) == 0, "save_weights: %s", err.msg);
    sq_session *c = every_kind_model(99);
    float *yc = outputs(c, &sb);
    ck_assert_int_ne(memcmp(ya, yc, sq_shape_count(&sa) * sizeof *ya), 0);
    free(yc);
    ck_assert_msg(sq_load_weights(c, wpath, &err) == 0, "load_weights: %s", err.msg);
    yc = outputs(c, &sb);
    ck_assert_int_eq(memcmp(ya, yc, sq_shape_count(&sa) * sizeof *ya), 0);
    free(yc);
    sq_session_free(c);

    free(ya);
    sq_session_free(a);
    unlink(path);
    unlink(wpath);
    rmdir(dir);
}
END_TEST

int main(void)
{
    Suite *su = suite_create("layers_wave2a");
    TCase *tc = tcase_create("forward");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_conv1d_forward, 0, NCONV);
    tcase_add_test(tc, test_torch_conv1d);
    tcase_add_test(tc, test_torch_others);
    tcase_add_loop_test(tc, test_pool1d_forward, 0, 2 * NPOOL);
    tcase_add_loop_test(tc, test_global_pool1d_forward, 0, 4);
    tcase_add_test(tc, test_resize_forward);
    tcase_add_test(tc, test_permute_forward);
    tcase_add_loop_test(tc, test_layernorm_forward, 0, NLN);
    tcase_add_test(tc, test_activation_layers_forward);
    tcase_add_test(tc, test_signed_zeros);
    tcase_add_test(tc, test_softmax_forward);
    tcase_add_test(tc, test_prelu_forward);
    suite_add_tcase(su, tc);

    tc = tcase_create("gradients");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_grad_conv1d, 0, NCONVG);
    tcase_add_loop_test(tc, test_grad_pool1d, 0, 2 * NPOOL);
    tcase_add_loop_test(tc, test_grad_global_pool1d, 0, 4);
    tcase_add_loop_test(tc, test_grad_shapes, 0, NSHAPEG);
    tcase_add_loop_test(tc, test_grad_layernorm, 0, NLN);
    tcase_add_loop_test(tc, test_grad_activation_layers, 0, NACTG);
    tcase_add_test(tc, test_fit_every_kind);
    suite_add_tcase(su, tc);

    tc = tcase_create("keras");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_shapes_and_names);
    tcase_add_test(tc, test_weight_names);
    tcase_add_test(tc, test_rank_errors);
    tcase_add_test(tc, test_option_errors);
    tcase_add_test(tc, test_describe_round_trip);
    tcase_add_test(tc, test_save_load);
    suite_add_tcase(su, tc);

    SRunner *sr = srunner_create(su);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
