/* check_layers_wave2b.c - Conv2DTranspose, UpSampling2D, ZeroPadding2D,
 * Cropping2D, SeparableConv2D and DepthwiseConv2D:
 * - forward passes against naive loops written here (TensorFlow's SAME
 *   split, Keras's transposed-convolution geometry and TensorFlow's
 *   half-pixel bilinear resize spelled out), through the public API, with
 *   every convolution variant this CPU runs (SEQSH_ISA's c, avx2, avx512)
 *   and several threads;
 * - the depthwise kernels alone, rows in pieces, each variant;
 * - forward passes against fixtures PyTorch computed
 *   (tests/fixtures/make_wave2b_fixtures.py);
 * - the depthwise backward pass against the sums written out, and every
 *   kind's gradients by finite differences through the training driver;
 * - Keras's error messages, shapes, parameter counts and weight names;
 * - save/load and save_weights/load_weights round trips of every option. */
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
#include "kernels/dw_kernels.h"
#include "kernels/threads.h"

/* ---- deterministic test data --------------------------------------------- */

/* trng_seed and drand: test_util.h */

static float *random_floats(size_t n, double lo, double hi)
{
    float *p = malloc((n ? n : 1) * sizeof *p);
    ck_assert_ptr_nonnull(p);
    for (size_t i = 0; i < n; i++)
        p[i] = (float)drand(lo, hi);
    return p;
}

static double *dalloc(size_t n)
{
    double *p = calloc(n ? n : 1, sizeof *p);
    ck_assert_ptr_nonnull(p);
    return p;
}

/* ---- building through the public API ------------------------------------- */

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

static sq_session *new_image_session(long h, long w, long c)
{
    long d[3] = { h, w, c };
    return new_session(3, d);
}

/* sq_add with `args` split on blanks outside parentheses, as the shell's
 * lexer splits them. */
static int add_words(sq_session *s, const char *kind, const char *args, sq_error *err)
{
    char buf[512];
    char *argv[32];
    int argc = 0, depth = 0;
    snprintf(buf, sizeof buf, "%s", args ? args : "");
    for (char *p = buf; *p && argc < 32;) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        argv[argc++] = p;
        for (; *p && (depth > 0 || *p != ' '); p++)
            depth += *p == '(' ? 1 : *p == ')' ? -1 : 0;
        if (*p)
            *p++ = '\0';
    }
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

/* The same for a message checked by its start only (TensorFlow-internal
 * tails). */
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

static void randomize_params(sq_session *s, double lo, double hi)
{
    for (size_t i = 0; i < s->model->nparams; i++)
        s->model->params[i] = (float)drand(lo, hi);
}

static void call_ok(sq_session *s, long b, long h, long w, long c, const float *x, sq_tensor *y)
{
    sq_error err;
    sq_tensor t = { .shape = { 4, { b, h, w, c } }, .data = (float *)x };
    ck_assert_msg(sq_call(s, &t, y, &err) == 0, "call: %s", err.msg);
}

static void expect_dims(const sq_shape *got, long b, long h, long w, long c)
{
    sq_shape want = { 4, { b, h, w, c } };
    char a[128], bb[128];
    ck_assert_msg(sq_shape_eq(got, &want), "shape %s, expected %s", sq_shape_str(got, a, sizeof a),
                  sq_shape_str(&want, bb, sizeof bb));
}

/* |got - want| <= rel * scale + 1e-6, scale the sum of the magnitudes of
 * the terms that made the value (|want| when scale is NULL). Check records
 * every assertion, so only failures reach it. */
static void expect_close(const float *got, const double *want, const double *scale, size_t n,
                         double rel, const char *what)
{
    for (size_t i = 0; i < n; i++) {
        double sc = scale ? scale[i] : fabs(want[i]);
        double tol = rel * sc + 1e-6;
        if (!(fabs((double)got[i] - want[i]) <= tol))
            ck_abort_msg("%s: element %zu: got %.9g, expected %.9g (tolerance %.3g)", what, i,
                         (double)got[i], want[i], tol);
    }
}

static int nisas(void)
{
    return (int)sq_isa_supported() + 1;
}

/* TensorFlow's SAME split: output length and the padding before. */
static void same_geom(long n, long k, long s, long d, int same, long *out, long *before)
{
    long dk = (k - 1) * d + 1;
    if (same) {
        *out = (n + s - 1) / s;
        long total = (*out - 1) * s + dk - n;
        *before = total > 0 ? total / 2 : 0;   /* the odd one goes after */
    } else {
        *out = (n - dk) / s + 1;
        *before = 0;
    }
}

/* ---- DepthwiseConv2D: the definition ----------------------------------- */

typedef struct {
    long b, h, w, c;
    long kh, kw, s, d, dm;
    int same, bias;
} dw_case;

static const dw_case dw_cases[] = {
    /* b  h   w   c  kh kw s  d  dm same bias */
    { 1, 1, 1, 3, 1, 1, 1, 1, 1, 0, 1 },
    { 2, 7, 9, 3, 3, 3, 1, 1, 1, 1, 1 },
    { 2, 7, 9, 16, 3, 3, 2, 1, 1, 1, 1 },     /* one full AVX-512 vector */
    { 1, 8, 8, 32, 3, 3, 1, 1, 1, 1, 0 },
    { 1, 6, 13, 17, 3, 3, 1, 1, 1, 0, 1 },    /* a one-channel tail */
    { 3, 9, 11, 33, 5, 5, 2, 1, 1, 1, 1 },
    { 1, 9, 9, 5, 3, 3, 1, 2, 1, 0, 1 },      /* dilation */
    { 1, 10, 7, 8, 3, 2, 1, 3, 1, 1, 1 },
    { 2, 7, 9, 3, 3, 3, 2, 1, 2, 1, 1 },      /* depth multiplier */
    { 1, 5, 6, 4, 2, 2, 1, 1, 3, 1, 0 },      /* even kernel, same */
    { 1, 3, 3, 2, 5, 5, 1, 1, 1, 1, 1 },      /* kernel larger than the input */
    { 1, 2, 2, 3, 3, 3, 1, 3, 1, 1, 1 },      /* taps mostly in the padding */
    { 1, 4, 30, 24, 3, 3, 1, 1, 1, 1, 1 },    /* long rows: full tiles, a rest, a tail */
    { 1, 3, 3, 3, 3, 3, 3, 1, 1, 0, 1 },
    { 2, 12, 12, 64, 3, 3, 2, 1, 1, 1, 1 },   /* W5's blocks, smaller */
    { 1, 7, 8, 40, 1, 1, 1, 1, 1, 0, 1 },     /* 1x1 */
    { 1, 5, 5, 3, 3, 1, 1, 1, 1, 0, 1 },
    { 1, 8, 3, 7, 1, 3, 2, 1, 4, 1, 1 },      /* stride skipping rows */
    { 2, 9, 10, 12, 4, 3, 3, 1, 2, 1, 1 },    /* stride > kernel */
};
#define NDW ((int)(sizeof dw_cases / sizeof dw_cases[0]))

/* y = depthwise(x) + bias, relu'd when asked, in double; scale is the sum
 * of the magnitudes of the terms. Output channel c*dm + m. */
static void ref_depthwise(const dw_case *k, const float *x, const float *kern,
                          const float *bias, int relu, double *y, double *scale, long *ohp,
                          long *owp)
{
    long oh, ow, pt, pl;
    same_geom(k->h, k->kh, k->s, k->d, k->same, &oh, &pt);
    same_geom(k->w, k->kw, k->s, k->d, k->same, &ow, &pl);
    *ohp = oh;
    *owp = ow;
    long cc = k->c * k->dm;
    for (long b = 0; b < k->b; b++)
        for (long oy = 0; oy < oh; oy++)
            for (long ox = 0; ox < ow; ox++)
                for (long c = 0; c < k->c; c++)
                    for (long m = 0; m < k->dm; m++) {
                        long j = c * k->dm + m;
                        double acc = bias ? bias[j] : 0, mag = fabs(acc);
                        for (long ky = 0; ky < k->kh; ky++)
                            for (long kx = 0; kx < k->kw; kx++) {
                                long iy = oy * k->s - pt + ky * k->d;
                                long ix = ox * k->s - pl + kx * k->d;
                                if (iy < 0 || iy >= k->h || ix < 0 || ix >= k->w)
                                    continue;
                                double t = (double)x[((b * k->h + iy) * k->w + ix) * k->c + c]
                                           * kern[((ky * k->kw + kx) * k->c + c) * k->dm + m];
                                acc += t;
                                mag += fabs(t);
                            }
                        if (relu && !(acc > 0))
                            acc = 0;
                        size_t o = (size_t)(((b * oh + oy) * ow + ox) * cc + j);
                        y[o] = acc;
                        scale[o] = mag;
                    }
}

static void dw_args(const dw_case *k, int relu, char *buf, size_t n)
{
    snprintf(buf, n, "(%ld,%ld) strides=%ld padding=%s dilation_rate=%ld depth_multiplier=%ld "
             "use_bias=%s%s", k->kh, k->kw, k->s, k->same ? "same" : "valid", k->d, k->dm,
             k->bias ? "true" : "false", relu ? " relu" : "");
}

/* Case i through sq_call with each variant and 1 and 3 threads, linear and
 * with relu (fused into the kernel's store). */
START_TEST(test_depthwise_forward)
{
    const dw_case *k = &dw_cases[_i];
    trng_seed(100 + (uint64_t)_i);
    size_t nx = (size_t)(k->b * k->h * k->w * k->c);
    float *x = random_floats(nx, -1, 1);
    sq_isa saved = sq_isa_active();
    for (int relu = 0; relu < 2; relu++) {
        char args[256];
        dw_args(k, relu, args, sizeof args);
        sq_session *s = new_image_session(k->h, k->w, k->c);
        add_ok(s, "depthwiseconv2d", args);
        randomize_params(s, -1, 1);
        const float *kern = weight_ptr(s, 0, 0, NULL);
        const float *bias = k->bias ? weight_ptr(s, 0, 1, NULL) : NULL;
        long oh, ow, pad;
        same_geom(k->h, k->kh, k->s, k->d, k->same, &oh, &pad);
        same_geom(k->w, k->kw, k->s, k->d, k->same, &ow, &pad);
        size_t ny = (size_t)(k->b * oh * ow * k->c * k->dm);
        double *want = dalloc(ny), *scale = dalloc(ny);
        ref_depthwise(k, x, kern, bias, relu, want, scale, &oh, &ow);
        for (int isa = 0; isa < nisas(); isa++)
            for (int th = 1; th <= 3; th += 2) {
                sq_isa_set_active((sq_isa)isa);
                sq_set_threads(th);
                sq_tensor y;
                call_ok(s, k->b, k->h, k->w, k->c, x, &y);
                expect_dims(&y.shape, k->b, oh, ow, k->c * k->dm);
                char what[320];
                snprintf(what, sizeof what, "depthwise case %d (%s), %s, %d threads", _i, args,
                         sq_isa_name((sq_isa)isa), th);
                expect_close(y.data, want, scale, ny, 1e-5, what);
                sq_tensor_free(&y);
            }
        sq_isa_set_active(saved);
        sq_set_threads(1);
        free(want);
        free(scale);
        sq_session_free(s);
    }
    free(x);
}
END_TEST

/* The kernels alone, each variant: all rows at once, then rows in pieces of
 * 1, 2, 3, ...; with and without bias and relu. */
START_TEST(test_depthwise_kernel_pieces)
{
    const dw_case *k = &dw_cases[_i];
    trng_seed(200 + (uint64_t)_i);
    long oh, ow, pt, pl;
    same_geom(k->h, k->kh, k->s, k->d, k->same, &oh, &pt);
    same_geom(k->w, k->kw, k->s, k->d, k->same, &ow, &pl);
    size_t nx = (size_t)(k->b * k->h * k->w * k->c), cc = (size_t)(k->c * k->dm);
    size_t ny = (size_t)(k->b * oh * ow) * cc;
    float *x = random_floats(nx, -1, 1);
    float *kern = random_floats((size_t)(k->kh * k->kw) * cc, -1, 1);
    float *bias = random_floats(cc, -1, 1);
    float *y = malloc(ny * sizeof *y);
    double *want = dalloc(ny), *scale = dalloc(ny);
    ck_assert_ptr_nonnull(y);
    for (int variant = 0; variant < 4; variant++) {
        int use_bias = variant < 2, relu = variant % 2;
        long o1, o2;
        ref_depthwise(k, x, kern, use_bias ? bias : NULL, relu, want, scale, &o1, &o2);
        for (int isa = 0; isa < nisas(); isa++) {
            sq_dw_desc d = { .h = k->h, .w = k->w, .c = k->c, .oh = oh, .ow = ow, .dm = k->dm,
                             .kh = k->kh, .kw = k->kw, .sh = k->s, .sw = k->s, .dh = k->d,
                             .dw = k->d, .pt = pt, .pl = pl, .kernel = kern,
                             .bias = use_bias ? bias : NULL, .relu = relu };
            float *rowbuf = malloc((sq_dw_rowbuf(&d) + 1) * sizeof *rowbuf);
            ck_assert_ptr_nonnull(rowbuf);
            for (int pieces = 0; pieces < 2; pieces++) {
                for (size_t i = 0; i < ny; i++)
                    y[i] = NAN;
                for (long b = 0; b < k->b; b++) {
                    const float *xb = x + (size_t)b * (nx / (size_t)k->b);
                    float *yb = y + (size_t)b * (ny / (size_t)k->b);
                    if (!pieces)
                        sq_dw_rows((sq_isa)isa, &d, xb, yb, 0, oh, rowbuf);
                    else
                        for (long r = 0, step = 1; r < oh; r += step, step++)
                            sq_dw_rows((sq_isa)isa, &d, xb, yb, r, r + step < oh ? r + step : oh,
                                       rowbuf);
                }
                char what[160];
                snprintf(what, sizeof what, "case %d, %s, bias %d relu %d, %s", _i,
                         sq_isa_name((sq_isa)isa), use_bias, relu, pieces ? "pieces" : "all rows");
                expect_close(y, want, scale, ny, 1e-5, what);
            }
            free(rowbuf);
        }
    }
    free(x);
    free(kern);
    free(bias);
    free(y);
    free(want);
    free(scale);
}
END_TEST

/* A NaN input poisons exactly the outputs whose windows reach it (relu
 * turns those into 0, as the activation's `v > 0 ? v : 0` does); exact
 * zeros elsewhere. */
START_TEST(test_depthwise_nan)
{
    long h = 3, w = 20, c = 19;
    size_t nx = (size_t)(h * w * c), ny = nx;
    float *x = calloc(nx, sizeof *x), *kern = malloc(9 * (size_t)c * sizeof *kern);
    float *y = malloc(ny * sizeof *y);
    ck_assert(x && kern && y);
    for (size_t i = 0; i < 9 * (size_t)c; i++)
        kern[i] = 1.0f;
    x[(1 * w + 9) * c + 17] = NAN;
    for (int isa = 0; isa < nisas(); isa++)
        for (int relu = 0; relu < 2; relu++) {
            sq_dw_desc d = { .h = h, .w = w, .c = c, .oh = h, .ow = w, .dm = 1, .kh = 3, .kw = 3,
                             .sh = 1, .sw = 1, .dh = 1, .dw = 1, .pt = 1, .pl = 1, .kernel = kern,
                             .relu = relu };
            sq_dw_rows((sq_isa)isa, &d, x, y, 0, h, NULL);
            for (long oy = 0; oy < h; oy++)
                for (long ox = 0; ox < w; ox++)
                    for (long q = 0; q < c; q++) {
                        float v = y[(oy * w + ox) * c + q];
                        int hit = q == 17 && ox >= 8 && ox <= 10;
                        int ok = hit && !relu ? isnan(v) : v == 0.0f;
                        if (!ok)
                            ck_abort_msg("%s relu %d: %g at %ld,%ld,%ld", sq_isa_name((sq_isa)isa),
                                         relu, (double)v, oy, ox, q);
                    }
        }
    free(x);
    free(kern);
    free(y);
}
END_TEST

/* A raised interrupt flag stops a long forward pass before any row (the
 * caller throws the output away); a lowered one lets all of it run. */
START_TEST(test_interrupt)
{
    static const char *const layers[][3] = {
        { "depthwiseconv2d", "3 padding=same", "8" }, { "separableconv2d", "5 3 padding=same", "5" },
        { "conv2dtranspose", "4 3 padding=same", "4" }, { "upsampling2d", "1", "8" },
    };
    const char *const *k = layers[_i];
    sq_session *s = new_image_session(30, 30, 8);
    add_ok(s, k[0], k[1]);
    const sq_layer *l = s->model->layers[0];
    long oc = strtol(k[2], NULL, 10);
    sq_shape is = { 4, { 2, 30, 30, 8 } }, os = { 4, { 2, 30, 30, oc } };
    size_t nx = 2 * 30 * 30 * 8, ny = 2 * 30 * 30 * (size_t)oc;
    float *x = random_floats(nx, -1, 1), *y = malloc(ny * sizeof *y);
    size_t ns = l->kind->scratch ? l->kind->scratch(l, &is) : 0;
    float *scratch = malloc((ns + 1) * sizeof *scratch);
    ck_assert(y && scratch);
    for (int up = 0; up < 2; up++) {
        volatile int flag = up;
        for (size_t i = 0; i < ny; i++)
            y[i] = NAN;
        sq_fwd f = { .in = x, .out = y, .in_shape = &is, .out_shape = &os,
                     .w = s->model->params, .scratch = scratch, .intr = &flag };
        l->kind->forward(l, &f);
        size_t nans = 0;
        for (size_t i = 0; i < ny; i++)
            nans += isnan(y[i]) != 0;
        ck_assert_msg(nans == (up ? ny : 0), "%s, flag %d: %zu of %zu left", k[0], up, nans, ny);
    }
    free(x);
    free(y);
    free(scratch);
    sq_session_free(s);
}
END_TEST

/* ---- SeparableConv2D ------------------------------------------------------ */

typedef struct {
    long b, h, w, c, f;
    long kh, kw, s, d, dm;
    int same, bias;
} sep_case;

static const sep_case sep_cases[] = {
    { 2, 6, 5, 3, 4, 3, 2, 1, 1, 2, 1, 1 },
    { 1, 9, 8, 17, 7, 3, 3, 2, 1, 1, 0, 1 },
    { 2, 7, 7, 16, 33, 3, 3, 1, 1, 1, 1, 0 },
    { 1, 9, 10, 5, 3, 3, 3, 1, 2, 3, 0, 1 },
    { 3, 4, 4, 1, 2, 1, 1, 1, 1, 1, 1, 1 },
    { 1, 11, 6, 8, 8, 5, 3, 3, 1, 1, 1, 1 },
};
#define NSEP ((int)(sizeof sep_cases / sizeof sep_cases[0]))

START_TEST(test_separable_forward)
{
    const sep_case *k = &sep_cases[_i];
    dw_case dk = { k->b, k->h, k->w, k->c, k->kh, k->kw, k->s, k->d, k->dm, k->same, 0 };
    trng_seed(300 + (uint64_t)_i);
    char args[256];
    snprintf(args, sizeof args, "%ld (%ld,%ld) strides=%ld padding=%s dilation_rate=%ld "
             "depth_multiplier=%ld use_bias=%s", k->f, k->kh, k->kw, k->s,
             k->same ? "same" : "valid", k->d, k->dm, k->bias ? "true" : "false");
    sq_session *s = new_image_session(k->h, k->w, k->c);
    add_ok(s, "separableconv2d", args);
    randomize_params(s, -1, 1);
    const float *dkern = weight_ptr(s, 0, 0, NULL), *pkern = weight_ptr(s, 0, 1, NULL);
    const float *bias = k->bias ? weight_ptr(s, 0, 2, NULL) : NULL;
    size_t nx = (size_t)(k->b * k->h * k->w * k->c);
    float *x = random_floats(nx, -1, 1);
    long oh, ow, pad, cc = k->c * k->dm;
    same_geom(k->h, k->kh, k->s, k->d, k->same, &oh, &pad);
    same_geom(k->w, k->kw, k->s, k->d, k->same, &ow, &pad);
    double *mid = dalloc((size_t)(k->b * oh * ow * cc)), *mscale = dalloc((size_t)(k->b * oh * ow * cc));
    ref_depthwise(&dk, x, dkern, NULL, 0, mid, mscale, &oh, &ow);
    size_t npix = (size_t)(k->b * oh * ow), ny = npix * (size_t)k->f;
    double *want = dalloc(ny), *scale = dalloc(ny);
    for (size_t p = 0; p < npix; p++)
        for (long f = 0; f < k->f; f++) {
            double acc = bias ? bias[f] : 0, mag = fabs(acc);
            for (long j = 0; j < cc; j++) {
                double wv = pkern[j * k->f + f];
                acc += mid[p * (size_t)cc + (size_t)j] * wv;
                mag += mscale[p * (size_t)cc + (size_t)j] * fabs(wv);
            }
            want[p * (size_t)k->f + (size_t)f] = acc;
            scale[p * (size_t)k->f + (size_t)f] = mag;
        }
    sq_isa saved = sq_isa_active();
    for (int isa = 0; isa < nisas(); isa++)
        for (int th = 1; th <= 2; th++) {
            sq_isa_set_active((sq_isa)isa);
            sq_set_threads(th);
            sq_tensor y;
            call_ok(s, k->b, k->h, k->w, k->c, x, &y);
            expect_dims(&y.shape, k->b, oh, ow, k->f);
            char what[320];
            snprintf(what, sizeof what, "separable case %d (%s), %s, %d threads", _i, args,
                     sq_isa_name((sq_isa)isa), th);
            expect_close(y.data, want, scale, ny, 1e-5, what);
            sq_tensor_free(&y);
        }
    sq_isa_set_active(saved);
    sq_set_threads(1);
    free(x);
    free(mid);
    free(mscale);
    free(want);
    free(scale);
    sq_session_free(s);
}
END_TEST

/* ---- Conv2DTranspose --------------------------------------------------------- */

typedef struct {
    long b, h, w, c, f;
    long kh, kw, sh, sw, d;
    int same;
    long oph, opw;             /* output_padding, -1 for None */
    int bias;
    long oh, ow;               /* Keras's output size, worked out by hand */
} tc_case;

static const tc_case tc_cases[] = {
    /* b h  w  c  f  kh kw sh sw d same oph opw bias  oh  ow */
    { 2, 5, 4, 3, 6, 3, 3, 2, 2, 1, 1, -1, -1, 1, 10, 8 },   /* odd total: 1, cut 0 before */
    { 2, 5, 4, 3, 6, 3, 3, 2, 2, 1, 0, -1, -1, 1, 11, 9 },   /* n*s + k - s */
    { 1, 5, 4, 3, 6, 4, 4, 2, 2, 1, 1, -1, -1, 1, 10, 8 },   /* total 2: 1 cut before */
    { 1, 5, 4, 3, 6, 2, 2, 3, 3, 1, 0, -1, -1, 1, 15, 12 },  /* k < s: gaps hold the bias */
    { 1, 5, 4, 3, 6, 2, 2, 3, 3, 1, 1, -1, -1, 1, 15, 12 },
    { 1, 5, 4, 3, 6, 3, 3, 2, 2, 1, 1, 1, 1, 1, 10, 8 },     /* output_padding: cut 0 */
    { 1, 5, 4, 3, 6, 3, 2, 2, 2, 1, 0, 1, 1, 0, 12, 9 },
    { 1, 5, 4, 3, 4, 3, 3, 1, 1, 2, 1, -1, -1, 1, 5, 4 },    /* dilation: cut 2 */
    { 1, 5, 4, 3, 4, 3, 3, 1, 1, 2, 0, -1, -1, 1, 9, 8 },
    { 2, 3, 7, 5, 2, 5, 3, 3, 2, 1, 1, -1, -1, 1, 9, 14 },
    { 1, 1, 1, 2, 3, 3, 3, 1, 1, 1, 0, -1, -1, 1, 3, 3 },
    { 1, 4, 3, 17, 33, 3, 3, 2, 2, 1, 1, -1, -1, 1, 8, 6 },
    { 1, 6, 5, 3, 2, 5, 5, 2, 2, 1, 1, 1, 0, 1, 12, 9 },
    { 1, 7, 6, 2, 3, 1, 1, 2, 3, 1, 0, -1, -1, 1, 14, 18 },  /* 1x1 kernel */
    { 1, 40, 64, 4, 64, 3, 3, 1, 1, 1, 1, -1, -1, 1, 40, 64 }, /* several row blocks */
};
#define NTC ((int)(sizeof tc_cases / sizeof tc_cases[0]))

/* Keras's deconv_output_length, written out. */
static long tc_len(long n, long k, long s, long d, int same, long op)
{
    long dk = (k - 1) * d + 1;
    if (op < 0)
        return same ? n * s : n * s + (dk > s ? dk - s : 0);
    return (n - 1) * s + dk - 2 * (same ? dk / 2 : 0) + op;
}

/* The full transposed convolution, (n-1)*s + dk long, then TensorFlow's
 * window onto it: cut max((n-1)*s + dk - L, 0) / 2 from its start for same
 * (none for valid), zeros past its end, plus the bias. Kernel (kh, kw, f, c). */
static void ref_tconv(const tc_case *k, const float *x, const float *kern, const float *bias,
                      double *y, double *scale)
{
    long dkh = (k->kh - 1) * k->d + 1, dkw = (k->kw - 1) * k->d + 1;
    long fh = (k->h - 1) * k->sh + dkh, fw = (k->w - 1) * k->sw + dkw;
    long lh = tc_len(k->h, k->kh, k->sh, k->d, k->same, k->oph);
    long lw = tc_len(k->w, k->kw, k->sw, k->d, k->same, k->opw);
    long th = (k->h - 1) * k->sh + dkh - lh, tw = (k->w - 1) * k->sw + dkw - lw;
    long offh = k->same && th > 0 ? th / 2 : 0, offw = k->same && tw > 0 ? tw / 2 : 0;
    ck_assert_int_eq(lh, k->oh);
    ck_assert_int_eq(lw, k->ow);
    double *full = dalloc((size_t)(fh * fw * k->f)), *fmag = dalloc((size_t)(fh * fw * k->f));
    for (long b = 0; b < k->b; b++) {
        memset(full, 0, (size_t)(fh * fw * k->f) * sizeof *full);
        memset(fmag, 0, (size_t)(fh * fw * k->f) * sizeof *fmag);
        for (long iy = 0; iy < k->h; iy++)
            for (long ix = 0; ix < k->w; ix++)
                for (long ky = 0; ky < k->kh; ky++)
                    for (long kx = 0; kx < k->kw; kx++)
                        for (long f = 0; f < k->f; f++)
                            for (long c = 0; c < k->c; c++) {
                                long oy = iy * k->sh + ky * k->d, ox = ix * k->sw + kx * k->d;
                                double t = (double)x[((b * k->h + iy) * k->w + ix) * k->c + c]
                                           * kern[((ky * k->kw + kx) * k->f + f) * k->c + c];
                                full[(oy * fw + ox) * k->f + f] += t;
                                fmag[(oy * fw + ox) * k->f + f] += fabs(t);
                            }
        for (long oy = 0; oy < lh; oy++)
            for (long ox = 0; ox < lw; ox++)
                for (long f = 0; f < k->f; f++) {
                    size_t o = (size_t)(((b * lh + oy) * lw + ox) * k->f + f);
                    long sy = oy + offh, sx = ox + offw;
                    int in = sy < fh && sx < fw;
                    y[o] = (bias ? bias[f] : 0) + (in ? full[(sy * fw + sx) * k->f + f] : 0);
                    scale[o] = (bias ? fabs(bias[f]) : 0) + (in ? fmag[(sy * fw + sx) * k->f + f] : 0);
                }
    }
    free(full);
    free(fmag);
}

static void tc_args(const tc_case *k, char *buf, size_t n)
{
    char op[64] = "";
    if (k->oph >= 0)
        snprintf(op, sizeof op, " output_padding=(%ld,%ld)", k->oph, k->opw);
    snprintf(buf, n, "%ld (%ld,%ld) strides=(%ld,%ld) padding=%s dilation_rate=%ld use_bias=%s%s",
             k->f, k->kh, k->kw, k->sh, k->sw, k->same ? "same" : "valid", k->d,
             k->bias ? "true" : "false", op);
}

START_TEST(test_tconv_forward)
{
    const tc_case *k = &tc_cases[_i];
    trng_seed(400 + (uint64_t)_i);
    char args[256];
    tc_args(k, args, sizeof args);
    sq_session *s = new_image_session(k->h, k->w, k->c);
    add_ok(s, "conv2dtranspose", args);
    randomize_params(s, -1, 1);
    const float *kern = weight_ptr(s, 0, 0, NULL), *bias = k->bias ? weight_ptr(s, 0, 1, NULL) : NULL;
    size_t nx = (size_t)(k->b * k->h * k->w * k->c), ny = (size_t)(k->b * k->oh * k->ow * k->f);
    float *x = random_floats(nx, -1, 1);
    double *want = dalloc(ny), *scale = dalloc(ny);
    ref_tconv(k, x, kern, bias, want, scale);
    for (int th = 1; th <= 2; th++) {
        sq_set_threads(th);
        sq_tensor y;
        call_ok(s, k->b, k->h, k->w, k->c, x, &y);
        expect_dims(&y.shape, k->b, k->oh, k->ow, k->f);
        char what[320];
        snprintf(what, sizeof what, "conv2dtranspose case %d (%s), %d threads", _i, args, th);
        expect_close(y.data, want, scale, ny, 1e-5, what);
        sq_tensor_free(&y);
    }
    sq_set_threads(1);
    free(x);
    free(want);
    free(scale);
    sq_session_free(s);
}
END_TEST

/* ---- UpSampling2D ------------------------------------------------------------ */

typedef struct {
    long b, h, w, c, sh, sw;
    int bilinear;
} up_case;

static const up_case up_cases[] = {
    { 2, 3, 4, 5, 2, 2, 0 },
    { 1, 4, 3, 17, 1, 3, 0 },
    { 2, 4, 5, 3, 2, 3, 1 },
    { 1, 3, 3, 2, 3, 3, 1 },
    { 1, 1, 1, 4, 2, 5, 1 },            /* one cell: every output the same */
    { 3, 5, 2, 33, 4, 1, 1 },
    { 1, 2, 7, 3, 7, 2, 1 },
};
#define NUP ((int)(sizeof up_cases / sizeof up_cases[0]))

/* Where output cell o of an axis of n cells upsampled s times samples
 * with half-pixel centres: src = (o + 0.5) / s - 0.5; below 0 it holds
 * cell 0, past n - 1 cell n - 1, otherwise it mixes floor(src) and the
 * next cell with weight src - floor(src). */
static void half_pixel(long o, long n, long s, long *a, long *b, double *t)
{
    double src = (o + 0.5) / (double)s - 0.5;
    if (src <= 0) {
        *a = *b = 0;
        *t = 0;
        return;
    }
    *a = (long)floor(src);
    *t = src - floor(src);
    *b = *a + 1 < n ? *a + 1 : n - 1;
}

START_TEST(test_upsampling_forward)
{
    const up_case *k = &up_cases[_i];
    trng_seed(500 + (uint64_t)_i);
    char args[128];
    snprintf(args, sizeof args, "(%ld,%ld) interpolation=%s", k->sh, k->sw,
             k->bilinear ? "bilinear" : "nearest");
    sq_session *s = new_image_session(k->h, k->w, k->c);
    add_ok(s, "upsampling2d", args);
    long oh = k->h * k->sh, ow = k->w * k->sw;
    size_t nx = (size_t)(k->b * k->h * k->w * k->c), ny = (size_t)(k->b * oh * ow * k->c);
    float *x = random_floats(nx, -1, 1);
    double *want = dalloc(ny);
    for (long b = 0; b < k->b; b++)
        for (long oy = 0; oy < oh; oy++)
            for (long ox = 0; ox < ow; ox++)
                for (long c = 0; c < k->c; c++) {
                    size_t o = (size_t)(((b * oh + oy) * ow + ox) * k->c + c);
#define X(iy, ix) ((double)x[((b * k->h + (iy)) * k->w + (ix)) * k->c + c])
                    if (!k->bilinear) {
                        want[o] = X(oy / k->sh, ox / k->sw);
                        continue;
                    }
                    long y0, y1, x0, x1;
                    double ty, tx;
                    half_pixel(oy, k->h, k->sh, &y0, &y1, &ty);
                    half_pixel(ox, k->w, k->sw, &x0, &x1, &tx);
                    want[o] = (1 - ty) * ((1 - tx) * X(y0, x0) + tx * X(y0, x1))
                              + ty * ((1 - tx) * X(y1, x0) + tx * X(y1, x1));
#undef X
                }
    for (int th = 1; th <= 3; th += 2) {
        sq_set_threads(th);
        sq_tensor y;
        call_ok(s, k->b, k->h, k->w, k->c, x, &y);
        expect_dims(&y.shape, k->b, oh, ow, k->c);
        char what[160];
        snprintf(what, sizeof what, "upsampling2d %s, %d threads", args, th);
        /* inputs within 1: float rounding of the weights only */
        expect_close(y.data, want, NULL, ny, 1e-6, what);
        sq_tensor_free(&y);
    }
    sq_set_threads(1);
    free(x);
    free(want);
    sq_session_free(s);
}
END_TEST

/* Bilinear 2x, written out for one row of 4 cells: outputs sample 0.25
 * cells apart, -0.25 and 3.25 held at the edges. */
START_TEST(test_bilinear_worked)
{
    sq_session *s = new_image_session(1, 4, 1);
    add_ok(s, "upsampling2d", "(1,2) interpolation=bilinear");
    float x[4] = { 0, 4, 8, 16 };
    sq_tensor y;
    call_ok(s, 1, 1, 4, 1, x, &y);
    double want[8] = { 0, 1, 3, 5, 7, 10, 14, 16 };
    expect_close(y.data, want, NULL, 8, 0, "bilinear worked example");
    sq_tensor_free(&y);
    sq_session_free(s);
}
END_TEST

/* ---- ZeroPadding2D and Cropping2D ----------------------------------------- */

typedef struct {
    const char *args;
    long t, b, l, r;
} margin_case;

static const margin_case margin_cases[] = {
    { NULL, -1, -1, -1, -1 },             /* the default */
    { "2", 2, 2, 2, 2 },
    { "(1,2)", 1, 1, 2, 2 },
    { "1,2", 1, 1, 2, 2 },
    { "((1,2),(0,3))", 1, 2, 0, 3 },
    { "((0,1),2)", 0, 1, 2, 2 },
    { "(3,(1,0))", 3, 3, 1, 0 },
    { "((2, 0), (1, 1))", 2, 0, 1, 1 },
    { "(3)", 3, 3, 3, 3 },                /* Python's (3) is 3 */
    { "((1,2))", 1, 1, 2, 2 },            /* and ((1, 2)) is (1, 2) */
    { "0", 0, 0, 0, 0 },
};
#define NMARGIN ((int)(sizeof margin_cases / sizeof margin_cases[0]))

START_TEST(test_pad_crop_forward)
{
    const margin_case *k = &margin_cases[_i / 2];
    int crop = _i % 2;
    long b = 2, h = 7, w = 6, c = 3;
    long m[4] = { k->t, k->b, k->l, k->r };
    if (!k->args)
        for (int i = 0; i < 4; i++)
            m[i] = crop ? 0 : 1;     /* Keras's defaults */
    trng_seed(600 + (uint64_t)_i);
    sq_session *s = new_image_session(h, w, c);
    add_ok(s, crop ? "cropping2d" : "zeropadding2d", k->args);
    long oh = crop ? h - m[0] - m[1] : h + m[0] + m[1];
    long ow = crop ? w - m[2] - m[3] : w + m[2] + m[3];
    size_t nx = (size_t)(b * h * w * c), ny = (size_t)(b * oh * ow * c);
    float *x = random_floats(nx, -1, 1);
    double *want = dalloc(ny);
    for (long n = 0; n < b; n++)
        for (long oy = 0; oy < oh; oy++)
            for (long ox = 0; ox < ow; ox++)
                for (long q = 0; q < c; q++) {
                    long iy = crop ? oy + m[0] : oy - m[0], ix = crop ? ox + m[2] : ox - m[2];
                    int in = iy >= 0 && iy < h && ix >= 0 && ix < w;
                    want[((n * oh + oy) * ow + ox) * c + q] =
                        in ? x[((n * h + iy) * w + ix) * c + q] : 0.0;
                }
    sq_tensor y;
    call_ok(s, b, h, w, c, x, &y);
    expect_dims(&y.shape, b, oh, ow, c);
    expect_close(y.data, want, NULL, ny, 0, k->args ? k->args : "default");
    sq_tensor_free(&y);
    free(x);
    free(want);
    sq_session_free(s);
}
END_TEST

/* Cropping an axis away leaves it empty, as Keras's slicing does; a
 * following layer then sees 0 rows. */
START_TEST(test_crop_to_nothing)
{
    sq_session *s = new_image_session(4, 5, 3);
    add_ok(s, "cropping2d", "((3,3),0)");
    sq_layer_info info;
    ck_assert_int_eq(sq_layer_get(s, 0, &info), 0);
    expect_dims(&info.output_shape, -1, 0, 5, 3);
    add_ok(s, "cropping2d", "((0,0),(2,4))");
    ck_assert_int_eq(sq_layer_get(s, 1, &info), 0);
    expect_dims(&info.output_shape, -1, 0, 0, 3);
    float x[60] = { 0 };
    sq_tensor y;
    call_ok(s, 1, 4, 5, 3, x, &y);
    expect_dims(&y.shape, 1, 0, 0, 3);
    sq_tensor_free(&y);
    sq_session_free(s);
}
END_TEST

/* ---- PyTorch's numbers ------------------------------------------------------ */

/* $srcdir/tests/fixtures/NAME */
static const char *fixture(const char *name)
{
    static char buf[1024];
    const char *srcdir = getenv("srcdir");
    snprintf(buf, sizeof buf, "%s/tests/fixtures/%s", srcdir && *srcdir ? srcdir : ".", name);
    return buf;
}

static int load_member(const char *file, const char *key, sq_tensor *t)
{
    char spec[1200];
    sq_error err;
    snprintf(spec, sizeof spec, "%s:%s", fixture(file), key);
    return sq_tensor_load(spec, t, &err);
}

typedef struct {
    const char *file;
    const char *kind;
    const char *args;
} torch_case;

static const torch_case torch_cases[] = {
    { "wave2b_tconv_k3s2_same.npz", "conv2dtranspose", "6 3 strides=2 padding=same" },
    { "wave2b_tconv_k3s2_valid.npz", "conv2dtranspose", "6 3 strides=2" },
    { "wave2b_tconv_k4s2_same.npz", "conv2dtranspose", "6 4 strides=2 padding=same" },
    { "wave2b_tconv_k2s3_valid.npz", "conv2dtranspose", "6 2 strides=3" },
    { "wave2b_tconv_k3s2_same_op1.npz", "conv2dtranspose", "6 3 strides=2 padding=same output_padding=1" },
    { "wave2b_tconv_k3s1_same_d2.npz", "conv2dtranspose", "4 3 padding=same dilation_rate=2" },
    { "wave2b_tconv_k32s2_valid_op1_nobias.npz", "conv2dtranspose", "5 (3,2) strides=2 output_padding=1 use_bias=false" },
    { "wave2b_bilinear_2x3.npz", "upsampling2d", "(2,3) interpolation=bilinear" },
    { "wave2b_bilinear_3x3.npz", "upsampling2d", "3 interpolation=bilinear" },
    { "wave2b_bilinear_4x1.npz", "upsampling2d", "(4,1) interpolation=bilinear" },
    { "wave2b_dw_k3s2_same_dm2.npz", "depthwiseconv2d", "3 strides=2 padding=same depth_multiplier=2" },
    { "wave2b_dw_k3_valid_d2.npz", "depthwiseconv2d", "3 dilation_rate=2" },
    { "wave2b_dw_k5s1_same_c33.npz", "depthwiseconv2d", "5 padding=same" },
    { "wave2b_sep_k32_same_dm2.npz", "separableconv2d", "4 (3,2) padding=same depth_multiplier=2" },
    { "wave2b_sep_k3s2_valid.npz", "separableconv2d", "7 3 strides=2" },
};
#define NTORCH ((int)(sizeof torch_cases / sizeof torch_cases[0]))

/* The layer gets the fixture's weights by their Keras names; its output on
 * the fixture's x must be the fixture's y, with each variant. */
START_TEST(test_torch_fixtures)
{
    const torch_case *k = &torch_cases[_i];
    sq_tensor x, y;
    ck_assert_msg(load_member(k->file, "x", &x) == 0, "cannot read %s", k->file);
    ck_assert_int_eq(load_member(k->file, "y", &y), 0);
    ck_assert_int_eq(x.shape.rank, 4);
    sq_session *s = new_image_session(x.shape.d[1], x.shape.d[2], x.shape.d[3]);
    add_ok(s, k->kind, k->args);
    const sq_layer *l = s->model->layers[0];
    for (int wi = 0; wi < l->nweights; wi++) {
        sq_tensor w;
        ck_assert_msg(load_member(k->file, l->w[wi].name, &w) == 0, "%s: no %s", k->file,
                      l->w[wi].name);
        ck_assert_msg(sq_shape_eq(&w.shape, &l->w[wi].shape), "%s: %s's shape", k->file,
                      l->w[wi].name);
        size_t n;
        memcpy(weight_ptr(s, 0, wi, &n), w.data, sq_weight_count(&l->w[wi]) * sizeof(float));
        sq_tensor_free(&w);
    }
    size_t ny = sq_shape_count(&y.shape);
    double *want = dalloc(ny);
    for (size_t i = 0; i < ny; i++)
        want[i] = y.data[i];
    sq_isa saved = sq_isa_active();
    for (int isa = 0; isa < nisas(); isa++) {
        sq_isa_set_active((sq_isa)isa);
        sq_tensor out;
        call_ok(s, x.shape.d[0], x.shape.d[1], x.shape.d[2], x.shape.d[3], x.data, &out);
        ck_assert_msg(sq_shape_eq(&out.shape, &y.shape), "%s: output shape", k->file);
        char what[160];
        snprintf(what, sizeof what, "%s, %s", k->file, sq_isa_name((sq_isa)isa));
        /* sums of a few dozen terms of magnitude <= 1 */
        expect_close(out.data, want, NULL, ny, 1e-5, what);
        sq_tensor_free(&out);
    }
    sq_isa_set_active(saved);
    free(want);
    sq_tensor_free(&x);
    sq_tensor_free(&y);
    sq_session_free(s);
}
END_TEST

/* ---- the depthwise backward pass against the sums ------------------------- */

/* dK, dbias and din by the definition, each variant, 1 and 3 threads;
 * then without din (a first layer) and without dK (a frozen layer). */
START_TEST(test_depthwise_backward)
{
    const dw_case *k = &dw_cases[_i];
    trng_seed(700 + (uint64_t)_i);
    char args[256];
    dw_args(k, 0, args, sizeof args);
    sq_session *s = new_image_session(k->h, k->w, k->c);
    add_ok(s, "depthwiseconv2d", args);
    randomize_params(s, -1, 1);
    const sq_layer *l = s->model->layers[0];
    long oh, ow, pt, pl, cc = k->c * k->dm;
    same_geom(k->h, k->kh, k->s, k->d, k->same, &oh, &pt);
    same_geom(k->w, k->kw, k->s, k->d, k->same, &ow, &pl);
    size_t nx = (size_t)(k->b * k->h * k->w * k->c), ny = (size_t)(k->b * oh * ow * cc);
    size_t nk = (size_t)(k->kh * k->kw * cc), nw = nk + (k->bias ? (size_t)cc : 0);
    float *x = random_floats(nx, -1, 1), *dy = random_floats(ny, -1, 1);
    const float *kern = s->model->params;
    double *wdx = dalloc(nx), *sdx = dalloc(nx), *wdw = dalloc(nw), *sdw = dalloc(nw);
    for (long b = 0; b < k->b; b++)
        for (long oy = 0; oy < oh; oy++)
            for (long ox = 0; ox < ow; ox++)
                for (long j = 0; j < cc; j++) {
                    double g = dy[((b * oh + oy) * ow + ox) * cc + j];
                    long c = j / k->dm;
                    if (k->bias) {
                        wdw[nk + (size_t)j] += g;
                        sdw[nk + (size_t)j] += fabs(g);
                    }
                    for (long ky = 0; ky < k->kh; ky++)
                        for (long kx = 0; kx < k->kw; kx++) {
                            long iy = oy * k->s - pt + ky * k->d, ix = ox * k->s - pl + kx * k->d;
                            if (iy < 0 || iy >= k->h || ix < 0 || ix >= k->w)
                                continue;
                            size_t xi = (size_t)(((b * k->h + iy) * k->w + ix) * k->c + c);
                            size_t wi = (size_t)((ky * k->kw + kx) * cc + j);
                            wdw[wi] += x[xi] * g;
                            sdw[wi] += fabs(x[xi] * g);
                            wdx[xi] += kern[wi] * g;
                            sdx[xi] += fabs(kern[wi] * g);
                        }
                }
    sq_shape is = { 4, { k->b, k->h, k->w, k->c } }, os = { 4, { k->b, oh, ow, cc } };
    float *dx = malloc(nx * sizeof *dx), *dw = malloc(nw * sizeof *dw);
    ck_assert(dx && dw);
    for (int th = 1; th <= 3; th += 2) {
        sq_set_threads(th);
        size_t ns = l->kind->scratch_bwd(l, &is);
        float *scratch = malloc((ns + 1) * sizeof *scratch);
        ck_assert_ptr_nonnull(scratch);
        for (int mode = 0; mode < 3; mode++) {
            int want_dx = mode != 1, want_dw = mode != 2;
            for (size_t i = 0; i < nx; i++)
                dx[i] = NAN;
            for (size_t i = 0; i < nw; i++)
                dw[i] = NAN;
            sq_bwd bw = { .in = x, .dout = dy, .din = want_dx ? dx : NULL, .in_shape = &is,
                          .out_shape = &os, .w = s->model->params, .dw = want_dw ? dw : NULL,
                          .scratch = scratch };
            l->kind->backward(l, &bw);
            char what[320];
            snprintf(what, sizeof what, "case %d (%s), %d threads, mode %d", _i, args, th, mode);
            if (want_dx)
                expect_close(dx, wdx, sdx, nx, 1e-5, what);
            if (want_dw)
                expect_close(dw, wdw, sdw, nw, 1e-5, what);
        }
        free(scratch);
    }
    sq_set_threads(1);
    free(x);
    free(dy);
    free(dx);
    free(dw);
    free(wdx);
    free(sdx);
    free(wdw);
    free(sdw);
    sq_session_free(s);
}
END_TEST

/* ---- finite differences through the training driver ------------------------
 * As in check_grad.c: L = sum(c * y) for a fixed random c, every weight's
 * gradient against a central difference of the same driver's forward pass,
 * and for one-layer models the input gradient too. */

typedef struct {
    sq_session *s;
    sq_model *m;
    sq_train_ws ws;
    long b;
    float *x;
    size_t nx;
    float *c;
    size_t ny;
    float *base;
    float *ana;
    double h, tol, worst;
} gc;

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
    g->x = random_floats(g->nx, -1, 1);
    g->c = random_floats(g->ny, -1, 1);
    size_t np = g->m->nparams;
    free(g->m->grads);
    g->m->grads = malloc((np ? np : 1) * sizeof(float));
    g->m->grads_cap = np;
    g->base = malloc((np ? np : 1) * sizeof(float));
    g->ana = malloc((np ? np : 1) * sizeof(float));
    ck_assert(g->m->grads && g->base && g->ana);
    memcpy(g->base, g->m->params, np * sizeof(float));
    g->h = 1e-2;
    g->tol = 1e-2;
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

static double gc_loss(gc *g)
{
    sq_model *m = g->m;
    memcpy(m->params, g->base, m->nparams * sizeof(float));
    sq_rng rng;
    sq_rng_seed(&rng, 1);
    sq_train_forward(m, &g->ws, g->x, g->b, 1, &rng);
    const float *y = g->ws.y[m->n - 1];
    double l = 0;
    for (size_t i = 0; i < g->ny; i++)
        l += (double)g->c[i] * y[i];
    return l;
}

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

static int close_enough(gc *g, double a, double n)
{
    double e = fabs(a - n) / fmax(1.0, fmax(fabs(a), fabs(n)));
    if (e > g->worst)
        g->worst = e;
    return e <= g->tol;
}

/* Weights through the driver: frozen layers' slots untouched (NaN), every
 * trainable layer with some gradient worth checking. */
static int gc_weights(gc *g)
{
    sq_model *m = g->m;
    for (size_t i = 0; i < m->nparams; i++)
        m->grads[i] = NAN;
    memcpy(m->params, g->base, m->nparams * sizeof(float));
    sq_rng rng;
    sq_rng_seed(&rng, 1);
    sq_train_forward(m, &g->ws, g->x, g->b, 1, &rng);
    sq_train_backward(m, &g->ws, g->x, g->b, g->c, 0);
    memcpy(g->ana, m->grads, m->nparams * sizeof(float));
    int bad = 0;
    for (int li = 0; li < m->n; li++) {
        const sq_layer *l = m->layers[li];
        double biggest = 0;
        for (size_t e = 0; e < l->param_count; e++) {
            size_t i = l->param_off + e;
            if (!l->trainable) {
                if (!isnan(g->ana[i]) && bad++ < 10)
                    fprintf(stderr, "%s[%zu]: frozen layer's gradient written\n", l->name, e);
                continue;
            }
            double n = gc_numeric(g, g->base, i);
            biggest = fmax(biggest, fabs(n));
            if (!close_enough(g, g->ana[i], n) && bad++ < 10)
                fprintf(stderr, "%s[%zu]: analytic %.7g, numeric %.7g\n", l->name, e,
                        (double)g->ana[i], n);
        }
        if (l->trainable && l->param_count && biggest < 1e-3 && bad++ < 10)
            fprintf(stderr, "%s: every gradient is ~0\n", l->name);
    }
    return bad;
}

/* One-layer models: the layer's own backward with din set, against
 * differences in the model input. */
static int gc_input(gc *g)
{
    sq_model *m = g->m;
    const sq_layer *l = m->layers[0];
    memcpy(m->params, g->base, m->nparams * sizeof(float));
    sq_rng rng;
    sq_rng_seed(&rng, 1);
    sq_train_forward(m, &g->ws, g->x, g->b, 1, &rng);
    float *dz = malloc(g->ny * sizeof *dz + 1), *din = malloc(g->nx * sizeof *din + 1);
    ck_assert(dz && din);
    memcpy(dz, g->c, g->ny * sizeof *dz);
    const sq_shape *os = &g->ws.shb[1];
    if (l->act)
        sq_activation_backward(l->act, g->ws.z[0], g->ws.y[0], dz, g->ny, os->d[os->rank - 1]);
    for (size_t i = 0; i < g->nx; i++)
        din[i] = NAN;
    sq_bwd bw = { .in = g->x, .out = g->ws.z[0], .dout = dz, .din = din,
                  .in_shape = &g->ws.shb[0], .out_shape = os, .w = m->params + l->param_off,
                  .cache = g->ws.cache[0], .scratch = g->ws.scratch };
    l->kind->backward(l, &bw);
    int bad = 0;
    double biggest = 0;
    for (size_t i = 0; i < g->nx; i++) {
        double n = gc_numeric(g, g->x, i);
        biggest = fmax(biggest, fabs(n));
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

typedef struct {
    const char *kind, *args;
    long h, w, c;
} grad_case;

static const grad_case grad_cases[] = {
    { "depthwiseconv2d", "3 padding=same", 5, 6, 3 },
    { "depthwiseconv2d", "3 strides=2 padding=same depth_multiplier=2", 7, 6, 3 },
    { "depthwiseconv2d", "(3,2) dilation_rate=2", 7, 6, 2 },
    { "depthwiseconv2d", "2 use_bias=false depth_multiplier=3 tanh", 4, 5, 2 },
    { "depthwiseconv2d", "3 strides=3", 8, 7, 17 },
    { "separableconv2d", "4 3 padding=same", 5, 6, 3 },
    { "separableconv2d", "3 (2,3) strides=2 depth_multiplier=2", 7, 6, 3 },
    { "separableconv2d", "4 3 dilation_rate=2 use_bias=false sigmoid", 6, 6, 2 },
    { "conv2dtranspose", "4 3 strides=2 padding=same", 4, 3, 3 },
    { "conv2dtranspose", "4 3 strides=2", 4, 3, 3 },
    { "conv2dtranspose", "3 4 strides=2 padding=same", 3, 4, 2 },
    { "conv2dtranspose", "3 2 strides=3", 3, 3, 2 },
    { "conv2dtranspose", "3 3 strides=2 padding=same output_padding=1", 3, 4, 2 },
    { "conv2dtranspose", "2 3 dilation_rate=2 padding=same tanh", 4, 4, 3 },
    { "conv2dtranspose", "3 (3,2) strides=(2,1) use_bias=false", 3, 4, 2 },
    { "upsampling2d", "2", 3, 4, 2 },
    { "upsampling2d", "(2,3) interpolation=bilinear", 3, 4, 2 },
    { "upsampling2d", "3 interpolation=bilinear", 2, 3, 3 },
    { "zeropadding2d", "1", 3, 4, 2 },
    { "zeropadding2d", "((1,2),(0,3))", 3, 4, 2 },
    { "cropping2d", "1", 5, 6, 2 },
    { "cropping2d", "((1,0),(2,1))", 5, 6, 2 },
};
#define NGRAD ((int)(sizeof grad_cases / sizeof grad_cases[0]))

/* Each case three ways: after a Dense (so the layer computes din) and
 * before a 1x1 Conv2D (so its output gradient is not just c); alone (the
 * input gradient directly); frozen after a Dense (din without dw). */
START_TEST(test_gradients)
{
    const grad_case *k = &grad_cases[_i];
    long d[3] = { k->h, k->w, k->c };
    char units[32], what[256], frozen[256];
    snprintf(units, sizeof units, "%ld", k->c);
    for (int way = 0; way < 3; way++) {
        trng_seed(800 + 3 * (uint64_t)_i + (uint64_t)way);
        sq_session *s = new_session(3, d);
        if (way != 1)
            add_ok(s, "dense", units);
        snprintf(frozen, sizeof frozen, "%s trainable=false", k->args);
        add_ok(s, k->kind, way == 2 ? frozen : k->args);
        if (way == 0)
            add_ok(s, "conv2d", "3 1 sigmoid");
        randomize_params(s, -1, 1);
        gc g;
        gc_init(&g, s, 2);
        snprintf(what, sizeof what, "%s %s, %s", k->kind, k->args,
                 way == 0 ? "between dense and conv2d" : way == 1 ? "alone" : "frozen after dense");
        int bad = gc_weights(&g);
        ck_assert_msg(bad == 0, "%s: %d weight-gradient mismatches (see stderr)", what, bad);
        if (way == 1) {
            bad = gc_input(&g);
            ck_assert_msg(bad == 0, "%s: %d input-gradient mismatches (see stderr)", what, bad);
        }
        if (getenv("CHECK_GRAD_VERBOSE"))
            fprintf(stderr, "%-70s worst relative error %.2e\n", what, g.worst);
        gc_free(&g);
    }
}
END_TEST

/* The check notices a wrong gradient: the largest entry of a
 * Conv2DTranspose's gradient taken 3 percent too large. */
START_TEST(test_gradients_reject)
{
    long d[3] = { 4, 3, 3 };
    trng_seed(5);
    sq_session *s = new_session(3, d);
    add_ok(s, "conv2dtranspose", "4 3 strides=2 padding=same");
    randomize_params(s, -1, 1);
    gc g;
    gc_init(&g, s, 2);
    ck_assert_int_eq(gc_weights(&g), 0);
    size_t big = 0;
    for (size_t i = 0; i < g.m->nparams; i++)
        if (fabsf(g.ana[i]) > fabsf(g.ana[big]))
            big = i;
    ck_assert_float_gt(fabsf(g.ana[big]), 1.0f);
    double n = gc_numeric(&g, g.base, big);
    ck_assert(close_enough(&g, g.ana[big], n));
    ck_assert(!close_enough(&g, g.ana[big] * 1.03, n));
    gc_free(&g);
}
END_TEST

/* ---- shapes, parameter counts, names ---------------------------------------- */

static void expect_layer(sq_session *s, int i, const char *name, const char *cls, long b,
                         long h, long w, long c, size_t params)
{
    sq_layer_info info;
    ck_assert_int_eq(sq_layer_get(s, i, &info), 0);
    ck_assert_str_eq(info.name, name);
    ck_assert_str_eq(info.class_name, cls);
    expect_dims(&info.output_shape, b, h, w, c);
    ck_assert_uint_eq(info.params, params);
}

/* keras-reference.md's worked arithmetic, and each kind's formulas. */
START_TEST(test_shapes_params)
{
    sq_session *s = new_image_session(32, 32, 16);
    add_ok(s, "separableconv2d", "32 3");
    expect_layer(s, 0, "separable_conv2d", "SeparableConv2D", -1, 30, 30, 32, 688);
    sq_session_free(s);
    s = new_image_session(32, 32, 16);
    add_ok(s, "depthwiseconv2d", "3");
    expect_layer(s, 0, "depthwise_conv2d", "DepthwiseConv2D", -1, 30, 30, 16, 160);
    add_ok(s, "DepthwiseConv2D", "3 2 same 4");   /* kernel_size strides padding depth_multiplier */
    expect_layer(s, 1, "depthwise_conv2d_1", "DepthwiseConv2D", -1, 15, 15, 64, 9 * 16 * 4 + 64);
    add_ok(s, "depthwise_conv2d", "(1,3) use_bias=false");
    expect_layer(s, 2, "depthwise_conv2d_2", "DepthwiseConv2D", -1, 15, 13, 64, 3 * 64);
    sq_session_free(s);

    s = new_image_session(7, 5, 3);
    add_ok(s, "conv2dtranspose", "8 3 2 same");   /* filters kernel_size strides padding */
    expect_layer(s, 0, "conv2d_transpose", "Conv2DTranspose", -1, 14, 10, 8, 9 * 8 * 3 + 8);
    add_ok(s, "Conv2DTranspose", "4 3 2 valid 1 use_bias=false");   /* + output_padding */
    expect_layer(s, 1, "conv2d_transpose_1", "Conv2DTranspose", -1, 30, 22, 4, 9 * 4 * 8);
    add_ok(s, "Convolution2DTranspose", "2 (1,2) strides=(3,1)");
    expect_layer(s, 2, "conv2d_transpose_2", "Conv2DTranspose", -1, 90, 23, 2, 2 * 2 * 4 + 2);
    add_ok(s, "up_sampling2d", NULL);
    expect_layer(s, 3, "up_sampling2d", "UpSampling2D", -1, 180, 46, 2, 0);
    add_ok(s, "UpSampling2D", "(1, 3) interpolation=bilinear");
    expect_layer(s, 4, "up_sampling2d_1", "UpSampling2D", -1, 180, 138, 2, 0);
    add_ok(s, "zero_padding2d", NULL);
    expect_layer(s, 5, "zero_padding2d", "ZeroPadding2D", -1, 182, 140, 2, 0);
    add_ok(s, "ZeroPadding2D", "((1,2),(3,4))");
    expect_layer(s, 6, "zero_padding2d_1", "ZeroPadding2D", -1, 185, 147, 2, 0);
    add_ok(s, "cropping2d", NULL);
    expect_layer(s, 7, "cropping2d", "Cropping2D", -1, 185, 147, 2, 0);
    add_ok(s, "Cropping2D", "(2,(3,1))");
    expect_layer(s, 8, "cropping2d_1", "Cropping2D", -1, 181, 143, 2, 0);
    add_ok(s, "SeparableConvolution2D", "5 3 2 same dilation_rate=1 depth_multiplier=3");
    expect_layer(s, 9, "separable_conv2d", "SeparableConv2D", -1, 91, 72, 5,
                 9 * 2 * 3 + 2 * 3 * 5 + 5);
    sq_session_free(s);

    /* a deferred model: built by its first call, batch included */
    s = new_session(0, NULL);
    add_ok(s, "conv2dtranspose", "2 3 strides=2");
    add_ok(s, "depthwiseconv2d", "3");
    float x[2 * 3 * 4 * 5] = { 0 };
    sq_tensor y;
    call_ok(s, 2, 3, 4, 5, x, &y);
    expect_dims(&y.shape, 2, 5, 7, 2);
    sq_tensor_free(&y);
    expect_layer(s, 0, "conv2d_transpose", "Conv2DTranspose", 2, 7, 9, 2, 9 * 2 * 5 + 2);
    sq_session_free(s);
}
END_TEST

/* Keras's weight names and shapes, in Keras's order. */
START_TEST(test_weight_names)
{
    sq_session *s = new_image_session(6, 6, 4);
    add_ok(s, "conv2dtranspose", "3 2");
    add_ok(s, "separableconv2d", "5 3 depth_multiplier=2");
    add_ok(s, "depthwiseconv2d", "2 depth_multiplier=3");
    sq_error err;
    char *t = sq_weights_text(s, NULL, &err);
    ck_assert_ptr_nonnull(t);
    static const char *const want[] = {
        "conv2d_transpose/kernel:0 shape=(2, 2, 3, 4)",
        "conv2d_transpose/bias:0 shape=(3,)",
        "separable_conv2d/depthwise_kernel:0 shape=(3, 3, 3, 2)",
        "separable_conv2d/pointwise_kernel:0 shape=(1, 1, 6, 5)",
        "separable_conv2d/bias:0 shape=(5,)",
        "depthwise_conv2d/depthwise_kernel:0 shape=(2, 2, 5, 3)",
        "depthwise_conv2d/bias:0 shape=(15,)",
    };
    const char *at = t;
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const char *p = strstr(at, want[i]);
        ck_assert_msg(p, "'%s' missing or out of order in:\n%s", want[i], t);
        at = p + strlen(want[i]);
    }
    free(t);
    sq_session_free(s);
}
END_TEST

/* The summary cuts class names at the 29-character column as Keras does. */
START_TEST(test_summary_rows)
{
    sq_session *s = new_image_session(8, 8, 4);
    add_ok(s, "conv2dtranspose", "4 3 padding=same");
    add_ok(s, "upsampling2d", NULL);
    add_ok(s, "zeropadding2d", NULL);
    add_ok(s, "cropping2d", "1");
    add_ok(s, "separableconv2d", "4 3");
    add_ok(s, "depthwiseconv2d", "3");
    sq_error err;
    char *t = sq_summary(s, &err);
    ck_assert_ptr_nonnull(t);
    static const char *const rows[] = {
        "conv2d_transpose (Conv2DTran (None, 8, 8, 4)           148       \n",
        "up_sampling2d (UpSampling2D) (None, 16, 16, 4)         0         \n",
        "zero_padding2d (ZeroPadding2 (None, 18, 18, 4)         0         \n",
        "cropping2d (Cropping2D)      (None, 16, 16, 4)         0         \n",
        "separable_conv2d (SeparableC (None, 14, 14, 4)         56        \n",
        "depthwise_conv2d (DepthwiseC (None, 12, 12, 4)         40        \n",
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        ck_assert_msg(strstr(t, rows[i]), "row '%s' missing in:\n%s", rows[i], t);
    free(t);
    sq_session_free(s);
}
END_TEST

/* ---- errors ---------------------------------------------------------------- */

START_TEST(test_errors_arguments)
{
    sq_session *s = new_image_session(8, 8, 3);
    /* DepthwiseConv2D */
    add_fails(s, "depthwiseconv2d", "3 strides=(1,2)",
              "Current implementation only supports equal length strides in the row and column "
              "dimensions.");
    add_fails(s, "depthwiseconv2d", "0", "The argument `kernel_size` cannot contain 0(s). "
              "Received: (0, 0)");
    add_fails(s, "depthwiseconv2d", "3 strides=0", "The argument `strides` cannot contains 0(s). "
              "Received: (0, 0)");
    add_fails(s, "depthwiseconv2d", "3 padding=causal", "Causal padding is only supported for "
              "`Conv1D`and `SeparableConv1D`.");
    add_fails(s, "depthwiseconv2d", "3 padding=full", "The `padding` argument must be one of "
              "\"valid\", \"same\" (or \"causal\", only for `Conv1D). Received: full");
    add_fails(s, "depthwiseconv2d", "3 strides=2 dilation_rate=2", "`strides > 1` not supported "
              "in conjunction with `dilation_rate > 1`. Received: strides=(2, 2) and "
              "dilation_rate=(2, 2)");
    add_fails(s, "depthwiseconv2d", "3 depth_multiplier=0",
              "DepthwiseConv2D: `depth_multiplier` must be a positive integer, got 0");
    add_fails(s, "depthwiseconv2d", "", "DepthwiseConv2D is missing 1 required positional "
              "argument: 'kernel_size'");
    /* SeparableConv2D */
    add_fails(s, "separableconv2d", "-1 3", "Received a negative value for `filters`.Was "
              "expecting a positive value, got -1.");
    add_fails(s, "separableconv2d", "0 3", "Received an invalid value for `filters`, expected a "
              "positive integer, got 0.");
    add_fails(s, "separableconv2d", "4 3 strides=(2,1)", "Current implementation only supports "
              "equal length strides in the row and column dimensions.");
    add_fails(s, "separableconv2d", "4 3 depth_multiplier=-2",
              "SeparableConv2D: `depth_multiplier` must be a positive integer, got -2");
    /* Conv2DTranspose */
    add_fails(s, "conv2dtranspose", "4 3 strides=2 output_padding=2",
              "Stride (2, 2) must be greater than output padding (2, 2)");
    add_fails(s, "conv2dtranspose", "4 3 output_padding=(0,1)",
              "Stride (1, 1) must be greater than output padding (0, 1)");
    add_fails(s, "conv2dtranspose", "4 3 strides=3 output_padding=(1,2,3)",
              "The `output_padding` argument must be a tuple of 2 integers. Received: (1,2,3)");
    add_fails(s, "conv2dtranspose", "4 3 strides=3 output_padding=x",
              "Conv2DTranspose: `output_padding` must be None, an integer or a tuple of 2 "
              "integers, got 'x'");
    add_fails(s, "conv2dtranspose", "4 3 dilation_rate=(1,2)", "Conv2DTranspose: "
              "`dilation_rate` must be the same for rows and cols (Keras's conv2d_transpose "
              "asserts dilation_rate[0] == dilation_rate[1]); got (1, 2)");
    add_fails(s, "conv2dtranspose", "4 (3,0)", "The argument `kernel_size` cannot contain 0(s). "
              "Received: (3, 0)");
    add_fails(s, "conv2dtranspose", "4 4 strides=2 padding=same output_padding=0",
              "Conv2DTranspose: output_padding=0 with padding='same' and a kernel of 4 gives 14 "
              "rows for 8, which TensorFlow's conv2d_transpose refuses (it needs "
              "ceil(output / strides) == input)");
    /* UpSampling2D */
    add_fails(s, "upsampling2d", "(0,2)", "The `size` argument must be a tuple of 2 integers. "
              "Received: (0, 2) including {0} that does not satisfy the requirement `> 0`.");
    add_fails(s, "upsampling2d", "2 interpolation=Bilinear", "`interpolation` argument should "
              "be one of `\"nearest\"` or `\"bilinear\"`.");
    add_fails(s, "upsampling2d", "2 interpolation=bicubic", "`interpolation` argument should "
              "be one of `\"nearest\"` or `\"bilinear\"`.");
    add_fails(s, "upsampling2d", "2 relu", "UpSampling2D takes 1 positional argument but 2 were "
              "given (extra: 'relu')");
    /* ZeroPadding2D and Cropping2D */
    add_fails(s, "zeropadding2d", "(1,2,3)", "`padding` should have two elements. Found: (1, 2, 3)");
    add_fails(s, "zeropadding2d", "(1,)", "`padding` should have two elements. Found: (1,)");
    add_fails(s, "zeropadding2d", "((1,2,3),1)", "The `1st entry of padding` argument must be a "
              "tuple of 2 integers. Received: (1, 2, 3)");
    add_fails(s, "zeropadding2d", "(1,(2,))", "The `2nd entry of padding` argument must be a "
              "tuple of 2 integers. Received: (2,)");
    add_fails(s, "zeropadding2d", "((1,-1),1)", "ZeroPadding2D: `padding` must not be negative, "
              "got ((1, -1), (1, 1))");
    add_fails(s, "zeropadding2d", "abc", "ZeroPadding2D: `padding` must be an int, "
              "(symmetric_height, symmetric_width) or ((top, bottom), (left, right)); got 'abc'");
    add_fails(s, "zeropadding2d", "(((1,2)),3)", "ZeroPadding2D: `padding` must be an int, "
              "(symmetric_height, symmetric_width) or ((top, bottom), (left, right)); got "
              "'(((1,2)),3)'");
    add_fails(s, "cropping2d", "(1,2,3)", "`cropping` should have two elements. Found: (1, 2, 3)");
    add_fails(s, "cropping2d", "(1,(2,3,4))", "The `2nd entry of cropping` argument must be a "
              "tuple of 2 integers. Received: (2, 3, 4)");
    add_fails(s, "cropping2d", "-2", "Cropping2D: `cropping` must not be negative, got "
              "((-2, -2), (-2, -2))");
    ck_assert_int_eq(sq_layer_count(s), 0);
    sq_session_free(s);
}
END_TEST

/* Wrong input ranks and windows larger than their input. */
START_TEST(test_errors_shapes)
{
    long d1[] = { 10 }, d4[] = { 2, 3, 4, 5 };
    sq_session *s = new_session(1, d1);
    static const char *const conv_like[][2] = {
        { "conv2dtranspose", "conv2d_transpose" }, { "separableconv2d", "separable_conv2d" },
        { "depthwiseconv2d", "depthwise_conv2d" },
    };
    for (int i = 0; i < 3; i++) {
        char msg[256];
        snprintf(msg, sizeof msg, "Input 0 of layer %s is incompatible with the layer: : expected "
                 "min_ndim=4, found ndim=2. Full shape received: (None, 10)", conv_like[i][1]);
        add_fails(s, conv_like[i][0], i == 2 ? "3" : "4 3", msg);
    }
    static const char *const exact[][2] = {
        { "upsampling2d", "up_sampling2d" }, { "zeropadding2d", "zero_padding2d" },
        { "cropping2d", "cropping2d" },
    };
    for (int i = 0; i < 3; i++) {
        char msg[256];
        snprintf(msg, sizeof msg, "Input 0 of layer %s is incompatible with the layer: expected "
                 "ndim=4, found ndim=2. Full shape received: (None, 10)", exact[i][1]);
        add_fails(s, exact[i][0], NULL, msg);
    }
    sq_session_free(s);

    s = new_session(4, d4);
    add_fails(s, "conv2dtranspose", "4 3", "Inputs should have rank 4. Received input shape: "
              "(None, 2, 3, 4, 5)");
    add_fails(s, "depthwiseconv2d", "3", "Inputs to `DepthwiseConv2D` should have rank 4. "
              "Received input shape: (None, 2, 3, 4, 5)");
    add_fails(s, "separableconv2d", "4 3", "Input 0 of layer separable_conv2d: SeparableConv2D in "
              "seqsh takes inputs of rank 4 (batch, rows, cols, channels) only, found ndim=5. Full "
              "shape received: (None, 2, 3, 4, 5)");
    add_fails(s, "upsampling2d", NULL, "Input 0 of layer up_sampling2d is incompatible with the "
              "layer: expected ndim=4, found ndim=5. Full shape received: (None, 2, 3, 4, 5)");
    sq_session_free(s);

    s = new_image_session(2, 5, 3);
    /* TensorFlow's leading sentence, then this model's numbers; never
     * TensorFlow's graph node */
    add_fails(s, "depthwiseconv2d", "3", "Negative dimension size caused by subtracting 3 from 2: "
              "the 3x3 depthwise kernel of depthwise_conv2d (DepthwiseConv2D) does not fit in "
              "its input (None, 2, 5, 3); use a smaller kernel_size, or padding=same");
    add_fails(s, "depthwiseconv2d", "(1,3) dilation_rate=3",
              "Negative dimension size caused by subtracting 7 from 5: the 1x3 depthwise kernel "
              "of depthwise_conv2d (DepthwiseConv2D), with dilation_rate=(3, 3), spans 7, "
              "more than its input (None, 2, 5, 3) has; use a smaller kernel_size or "
              "dilation_rate, or padding=same");
    add_fails_prefix(s, "separableconv2d", "4 3", "Negative dimension size caused by "
                     "subtracting 3 from 2: the 3x3 depthwise kernel of separable_conv2d "
                     "(SeparableConv2D) does not fit");
    /* same padding never runs out */
    add_ok(s, "depthwiseconv2d", "5 padding=same");
    sq_session_free(s);
}
END_TEST

/* ---- save/load round trips -------------------------------------------------- */

/* Every kind with every option away from its default (and some left at
 * it), random weights: save and load give the same `add` lines, the same
 * weights bit for bit and the same outputs; save_weights and load_weights
 * into a model built from the same lines give the same weights. */
static const char *const roundtrip_lines[][2] = {
    { "conv2dtranspose", "4 3 strides=2 padding=same output_padding=1 use_bias=false relu name=up" },
    { "upsampling2d", "(1,2) interpolation=bilinear" },
    { "zeropadding2d", "(1,(2,0))" },
    { "cropping2d", "((0,1),2) trainable=false" },
    { "separableconv2d", "5 (3,2) strides=1 padding=same dilation_rate=2 depth_multiplier=2 tanh" },
    { "depthwiseconv2d", "3 strides=2 padding=valid depth_multiplier=3 use_bias=false sigmoid" },
    { "conv2dtranspose", "2 2 3 valid dilation_rate=1 trainable=false" },
    { "depthwiseconv2d", "(2,1) 1 same 2 dilation_rate=(2,1)" },
    { "upsampling2d", "3" },
    { "zeropadding2d", NULL },
    { "cropping2d", "3" },
};
#define NROUND ((int)(sizeof roundtrip_lines / sizeof roundtrip_lines[0]))

static sq_session *roundtrip_model(void)
{
    sq_session *s = new_image_session(9, 8, 3);
    for (int i = 0; i < NROUND; i++)
        add_ok(s, roundtrip_lines[i][0], roundtrip_lines[i][1]);
    return s;
}

static char *describe_all(sq_session *s)
{
    sbuf b = { 0 };
    for (int i = 0; i < s->model->n; i++) {
        sq_layer_describe(s->model->layers[i], &b);
        sb_printf(&b, "\n");
    }
    return sb_finish(&b, NULL);
}

START_TEST(test_save_load)
{
    char dir[] = "/tmp/seqsh_w2b_XXXXXX", path[128], wpath[128];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/m.seqm", dir);
    snprintf(wpath, sizeof wpath, "%s/w.npz", dir);
    trng_seed(900);
    sq_session *a = roundtrip_model();
    randomize_params(a, -1, 1);
    sq_error err;
    ck_assert_msg(sq_save(a, path, &err) == 0, "save: %s", err.msg);
    ck_assert_msg(sq_save_weights(a, wpath, &err) == 0, "save_weights: %s", err.msg);
    sq_session *b = new_session(0, NULL);
    ck_assert_msg(sq_load(b, path, &err) == 0, "load: %s", err.msg);
    char *da = describe_all(a), *db = describe_all(b);
    ck_assert_str_eq(da, db);
    /* the options that differ from the defaults are all there */
    ck_assert_ptr_nonnull(strstr(da, "output_padding=(1,1)"));
    ck_assert_ptr_nonnull(strstr(da, "padding=((1,1),(2,0))"));
    ck_assert_ptr_nonnull(strstr(da, "cropping=((0,1),(2,2))"));
    ck_assert_ptr_nonnull(strstr(da, "interpolation=bilinear"));
    ck_assert_ptr_nonnull(strstr(da, "depth_multiplier=2"));
    ck_assert_ptr_nonnull(strstr(da, "dilation_rate=(2,1)"));
    ck_assert_uint_eq(a->model->nparams, b->model->nparams);
    ck_assert_int_eq(memcmp(a->model->params, b->model->params,
                            a->model->nparams * sizeof(float)), 0);
    size_t nx = 2 * 9 * 8 * 3;
    float *x = random_floats(nx, -1, 1);
    sq_tensor ya, yb;
    call_ok(a, 2, 9, 8, 3, x, &ya);
    call_ok(b, 2, 9, 8, 3, x, &yb);
    ck_assert(sq_shape_eq(&ya.shape, &yb.shape));
    ck_assert_int_eq(memcmp(ya.data, yb.data, sq_shape_count(&ya.shape) * sizeof(float)), 0);
    sq_tensor_free(&ya);
    sq_tensor_free(&yb);
    /* save_weights/load_weights into a fresh model of the same lines */
    sq_session *c = roundtrip_model();
    ck_assert_msg(sq_load_weights(c, wpath, &err) == 0, "load_weights: %s", err.msg);
    ck_assert_int_eq(memcmp(a->model->params, c->model->params,
                            a->model->nparams * sizeof(float)), 0);
    free(da);
    free(db);
    free(x);
    sq_session_free(a);
    sq_session_free(b);
    sq_session_free(c);
    unlink(path);
    unlink(wpath);
    rmdir(dir);
}
END_TEST

/* Every kind's help names its formulas and its example builds. */
START_TEST(test_help)
{
    static const char *const kinds[] = { "conv2dtranspose", "upsampling2d", "zeropadding2d",
                                         "cropping2d", "separableconv2d", "depthwiseconv2d" };
    for (int i = 0; i < 6; i++) {
        char *h = sq_kind_help(kinds[i]);
        ck_assert_ptr_nonnull(h);
        ck_assert_ptr_nonnull(strstr(h, "\nshape: (B, H, W, C) -> "));
        const char *ex = strstr(h, "\nexample: input ");
        ck_assert_msg(ex, "%s: no example starting with input", kinds[i]);
        free(h);
    }
}
END_TEST

int main(void)
{
    Suite *su = suite_create("layers_wave2b");
    TCase *tc = tcase_create("forward");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, test_depthwise_forward, 0, NDW);
    tcase_add_loop_test(tc, test_depthwise_kernel_pieces, 0, NDW);
    tcase_add_test(tc, test_depthwise_nan);
    tcase_add_loop_test(tc, test_interrupt, 0, 4);
    tcase_add_loop_test(tc, test_separable_forward, 0, NSEP);
    tcase_add_loop_test(tc, test_tconv_forward, 0, NTC);
    tcase_add_loop_test(tc, test_upsampling_forward, 0, NUP);
    tcase_add_test(tc, test_bilinear_worked);
    tcase_add_loop_test(tc, test_pad_crop_forward, 0, 2 * NMARGIN);
    tcase_add_test(tc, test_crop_to_nothing);
    tcase_add_loop_test(tc, test_torch_fixtures, 0, NTORCH);
    suite_add_tcase(su, tc);

    tc = tcase_create("backward");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, test_depthwise_backward, 0, NDW);
    tcase_add_loop_test(tc, test_gradients, 0, NGRAD);
    tcase_add_test(tc, test_gradients_reject);
    suite_add_tcase(su, tc);

    tc = tcase_create("keras");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_shapes_params);
    tcase_add_test(tc, test_weight_names);
    tcase_add_test(tc, test_summary_rows);
    tcase_add_test(tc, test_errors_arguments);
    tcase_add_test(tc, test_errors_shapes);
    tcase_add_test(tc, test_save_load);
    tcase_add_test(tc, test_help);
    suite_add_tcase(su, tc);

    SRunner *sr = srunner_create(su);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
