/* check_conv_fast.c - the fast paths against naive loops: the direct
 * convolution kernels in every variant this CPU can run (the portable C
 * one, AVX2, AVX-512, each forced explicitly), alone and split over rows
 * and threads; Conv2D and the pooling layers through the public API with
 * each variant active and with several threads; and the thread pool. */
#include <check.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "seqsh/engine.h"
#include "model.h"
#include "kernels/conv_kernels.h"
#include "kernels/threads.h"
#include "kernels/blas.h"
#include "kernels/relu.h"

#if (defined(__x86_64__) || defined(__i386__)) && defined(__SSE__)
#include <xmmintrin.h>
#define HAVE_MXCSR 1
#endif

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

/* ---- the reference -------------------------------------------------------- */

typedef struct {
    long b, h, w, c, f;      /* batch, rows, cols, channels, filters */
    long kh, kw, sh, sw, dh, dw;
    int same;
} conv_case;

typedef struct {
    long oh, ow, pt, pl;
} conv_geom;

/* Keras's output length and TensorFlow's SAME split, spelled out. */
static conv_geom geometry(const conv_case *k)
{
    conv_geom g = { 0, 0, 0, 0 };
    long ekh = (k->kh - 1) * k->dh + 1, ekw = (k->kw - 1) * k->dw + 1;
    if (k->same) {
        g.oh = (k->h + k->sh - 1) / k->sh;
        g.ow = (k->w + k->sw - 1) / k->sw;
        long ph = (g.oh - 1) * k->sh + ekh - k->h, pw = (g.ow - 1) * k->sw + ekw - k->w;
        g.pt = ph > 0 ? ph / 2 : 0;
        g.pl = pw > 0 ? pw / 2 : 0;
    } else {
        g.oh = (k->h - ekh) / k->sh + 1;
        g.ow = (k->w - ekw) / k->sw + 1;
    }
    return g;
}

/* y = conv(x) + bias, relu'd when asked, in double; scale is the sum of
 * the magnitudes of the terms, for a relative tolerance. */
static void ref_conv(const conv_case *k, const float *x, const float *kern, const float *bias,
                     int relu, double *y, double *scale)
{
    conv_geom g = geometry(k);
    for (long b = 0; b < k->b; b++)
        for (long oy = 0; oy < g.oh; oy++)
            for (long ox = 0; ox < g.ow; ox++)
                for (long f = 0; f < k->f; f++) {
                    double acc = bias ? bias[f] : 0, mag = bias ? fabs(bias[f]) : 0;
                    for (long ky = 0; ky < k->kh; ky++)
                        for (long kx = 0; kx < k->kw; kx++)
                            for (long c = 0; c < k->c; c++) {
                                long iy = oy * k->sh - g.pt + ky * k->dh;
                                long ix = ox * k->sw - g.pl + kx * k->dw;
                                if (iy < 0 || iy >= k->h || ix < 0 || ix >= k->w)
                                    continue;
                                double t = (double)x[((b * k->h + iy) * k->w + ix) * k->c + c]
                                           * kern[((ky * k->kw + kx) * k->c + c) * k->f + f];
                                acc += t;
                                mag += fabs(t);
                            }
                    if (relu && !(acc > 0))
                        acc = 0;
                    size_t o = (size_t)(((b * g.oh + oy) * g.ow + ox) * k->f + f);
                    y[o] = acc;
                    scale[o] = mag;
                }
}

static void expect_close(const float *got, const double *want, const double *scale, size_t n,
                         const char *what)
{
    /* Check records every assertion, so only failures reach it */
    for (size_t i = 0; i < n; i++) {
        double tol = 1e-4 * scale[i] + 1e-6;
        if (!(fabs((double)got[i] - want[i]) <= tol))
            ck_abort_msg("%s: element %zu: got %.9g, expected %.9g (tolerance %.3g)", what, i,
                         (double)got[i], want[i], tol);
    }
}

/* The cases: awkward sizes first, then every pairing of channel counts. */
static const conv_case cases[] = {
    /* b  h   w   c   f  kh kw sh sw dh dw same */
    { 1, 1, 1, 3, 5, 1, 1, 1, 1, 1, 1, 0 },        /* 1x1 map, 1x1 kernel */
    { 7, 1, 1, 5, 17, 3, 3, 1, 1, 1, 1, 1 },       /* 1x1 map, all but the centre padded */
    { 1, 5, 5, 3, 33, 5, 5, 1, 1, 1, 1, 0 },       /* kernel as large as the input */
    { 2, 6, 4, 17, 3, 6, 4, 1, 1, 1, 1, 0 },
    { 1, 4, 4, 5, 5, 5, 5, 1, 1, 1, 1, 1 },        /* kernel larger than the input, same */
    { 1, 3, 2, 3, 3, 7, 5, 2, 3, 1, 1, 1 },
    { 1, 9, 11, 3, 5, 3, 3, 3, 3, 1, 1, 0 },       /* odd strides */
    { 2, 10, 13, 5, 17, 3, 3, 2, 3, 1, 1, 1 },
    { 7, 8, 29, 3, 33, 1, 5, 1, 5, 1, 1, 0 },
    { 1, 8, 8, 3, 3, 2, 2, 3, 3, 1, 1, 0 },        /* stride > kernel skips pixels */
    { 1, 9, 9, 3, 5, 3, 3, 1, 1, 2, 2, 0 },        /* dilations */
    { 1, 9, 13, 5, 3, 3, 3, 1, 1, 3, 1, 1 },
    { 2, 7, 30, 3, 17, 2, 3, 1, 1, 1, 2, 1 },
    { 1, 3, 3, 2, 3, 2, 2, 1, 1, 5, 5, 1 },        /* windows wholly in the padding */
    { 1, 5, 50, 5, 33, 3, 3, 1, 1, 1, 1, 1 },      /* long rows: several tiles */
    { 1, 3, 37, 17, 5, 3, 3, 1, 1, 1, 1, 0 },
    { 7, 4, 40, 3, 40, 3, 3, 1, 1, 1, 1, 1 },      /* full panel + 8-filter tail */
    { 1, 4, 27, 3, 48, 3, 3, 1, 1, 1, 1, 0 },      /* full panel + 16-filter tail */
    { 1, 3, 26, 4, 64, 3, 3, 1, 1, 1, 1, 1 },      /* two full panels */
    { 2, 21, 21, 3, 32, 5, 5, 2, 2, 1, 1, 0 },     /* W1's first layer, smaller */
    { 1, 14, 14, 32, 32, 3, 3, 1, 1, 1, 1, 0 },    /* W1's later layers */
    /* 3x3, unit strides, 16 or more channels and filters: Winograd on AVX-512 */
    { 2, 13, 13, 32, 64, 3, 3, 1, 1, 1, 1, 0 },    /* W3's second layer */
    { 2, 11, 11, 64, 32, 3, 3, 1, 1, 1, 1, 1 },    /* ... and its input gradient's shape */
    { 1, 7, 10, 17, 33, 3, 3, 1, 1, 1, 1, 1 },     /* odd channels, a partial filter vector */
    { 3, 1, 1, 16, 16, 3, 3, 1, 1, 1, 1, 1 },      /* 1x1 map: one tile, all but one tap padded */
    { 1, 4, 3, 20, 50, 3, 3, 1, 1, 1, 1, 0 },      /* one output col: half tiles */
    { 1, 9, 40, 16, 80, 3, 3, 1, 1, 1, 1, 0 },     /* five filter vectors */
    { 7, 6, 6, 33, 17, 1, 1, 1, 1, 1, 1, 0 },      /* pointwise */
    { 1, 7, 9, 3, 5, 1, 1, 2, 2, 1, 1, 1 },
};
#define NCASES ((int)(sizeof cases / sizeof cases[0]))

static const long chans[] = { 1, 3, 5, 17, 33 };
#define NCHANS 5
/* the channel pairings run on this geometry: 3x3 same, stride 2 on odd sizes */
static conv_case channel_case(int i)
{
    conv_case k = { i % 2 ? 7 : 1, 7, 9, 0, 0, 3, 3, 2, 1, 1, 1, i % 3 != 0 };
    k.c = chans[i / NCHANS];
    k.f = chans[i % NCHANS];
    return k;
}
#define NALL (NCASES + NCHANS * NCHANS)

static conv_case case_at(int i)
{
    return i < NCASES ? cases[i] : channel_case(i - NCASES);
}

static int nisas(void)
{
    return (int)sq_isa_supported() + 1;
}

/* ---- the kernels alone ---------------------------------------------------- */

typedef struct {
    sq_isa isa;
    const sq_conv_desc *d;
    const float *x;
    float *y;
    long b;
    float *rowbufs;          /* sq_conv_rowbuf(d) floats per thread, or NULL */
} rows_job;

static void rows_range(void *ctx, long b, long e, int tid)
{
    const rows_job *j = ctx;
    const sq_conv_desc *d = j->d;
    size_t in_img = (size_t)(d->h * d->w * d->c), out_img = (size_t)(d->oh * d->ow * d->f);
    for (long u = b; u < e; u++) {
        long img = u / d->oh, oy = u % d->oh;
        sq_conv_rows(j->isa, d, j->x + img * in_img, j->y + img * out_img, oy, oy + 1,
                     j->rowbufs ? j->rowbufs + (size_t)tid * sq_conv_rowbuf(d) : NULL);
    }
}

/* Case i with every variant: all rows at once without a row buffer (edge
 * pixels one by one); rows in uneven pieces with a row buffer; one row per
 * unit over 3 threads, each with its own row buffer. With and without bias
 * and relu. */
START_TEST(test_kernels)
{
    conv_case k = case_at(_i);
    conv_geom g = geometry(&k);
    trng_seed(1000 + (uint64_t)_i);
    size_t nx = (size_t)(k.b * k.h * k.w * k.c), nk = (size_t)(k.kh * k.kw * k.c * k.f);
    size_t ny = (size_t)(k.b * g.oh * g.ow * k.f);
    float *x = random_floats(nx, -1, 1);
    float *kern = random_floats(nk, -1, 1);
    float *bias = random_floats((size_t)k.f, -1, 1);
    float *y = malloc(ny * sizeof *y);
    double *want = malloc(ny * sizeof *want), *scale = malloc(ny * sizeof *scale);
    float *scratch = malloc(sq_conv_scratch(k.kh, k.kw, k.c) * sizeof *scratch);
    ck_assert(y && want && scale && scratch);
    sq_pool_set_threads(3);
    for (int variant = 0; variant < 4; variant++) {
        int use_bias = variant < 2, relu = variant % 2;
        ref_conv(&k, x, kern, use_bias ? bias : NULL, relu, want, scale);
        for (int isa = 0; isa < nisas(); isa++) {
            char what[160];
            sq_conv_desc d = { .h = k.h, .w = k.w, .c = k.c, .oh = g.oh, .ow = g.ow, .f = k.f,
                               .kh = k.kh, .kw = k.kw, .sh = k.sh, .sw = k.sw, .dh = k.dh,
                               .dw = k.dw, .pt = g.pt, .pl = g.pl, .kernel = kern,
                               .bias = use_bias ? bias : NULL, .relu = relu };
            sq_conv_prepare((sq_isa)isa, &d, scratch);
            size_t nbuf = sq_conv_rowbuf(&d);
            float *bufs = nbuf ? malloc(3 * nbuf * sizeof *bufs) : NULL;
            /* all rows */
            for (size_t i = 0; i < ny; i++)
                y[i] = NAN;
            for (long b = 0; b < k.b; b++)
                sq_conv_rows((sq_isa)isa, &d, x + (size_t)b * (nx / (size_t)k.b),
                             y + (size_t)b * (ny / (size_t)k.b), 0, g.oh, NULL);
            snprintf(what, sizeof what, "case %d, %s, bias %d relu %d, all rows", _i,
                     sq_isa_name((sq_isa)isa), use_bias, relu);
            expect_close(y, want, scale, ny, what);
            /* rows in pieces of 1, 2, 3, ... */
            for (size_t i = 0; i < ny; i++)
                y[i] = NAN;
            for (long b = 0; b < k.b; b++)
                for (long r = 0, step = 1; r < g.oh; r += step, step++)
                    sq_conv_rows((sq_isa)isa, &d, x + (size_t)b * (nx / (size_t)k.b),
                                 y + (size_t)b * (ny / (size_t)k.b), r,
                                 r + step < g.oh ? r + step : g.oh, bufs);
            snprintf(what, sizeof what, "case %d, %s, bias %d relu %d, pieces", _i,
                     sq_isa_name((sq_isa)isa), use_bias, relu);
            expect_close(y, want, scale, ny, what);
            /* one row per unit, 3 threads */
            for (size_t i = 0; i < ny; i++)
                y[i] = NAN;
            rows_job j = { (sq_isa)isa, &d, x, y, k.b, bufs };
            sq_parallel_for(k.b * g.oh, 1, rows_range, &j);
            snprintf(what, sizeof what, "case %d, %s, bias %d relu %d, 3 threads", _i,
                     sq_isa_name((sq_isa)isa), use_bias, relu);
            expect_close(y, want, scale, ny, what);
            free(bufs);
        }
    }
    sq_pool_set_threads(1);
    free(x);
    free(kern);
    free(bias);
    free(y);
    free(want);
    free(scale);
    free(scratch);
}
END_TEST

/* A NaN input makes NaN outputs where its windows reach, which relu turns
 * into 0 as the activation's own `v > 0 ? v : 0` does; exact zeros elsewhere. */
START_TEST(test_kernels_special_values)
{
    conv_case k = { 1, 3, 14, 3, 5, 3, 3, 1, 1, 1, 1, 1 };
    conv_geom g = geometry(&k);
    size_t nx = (size_t)(k.h * k.w * k.c), nk = (size_t)(k.kh * k.kw * k.c * k.f);
    size_t ny = (size_t)(g.oh * g.ow * k.f);
    float *x = calloc(nx, sizeof *x), *kern = malloc(nk * sizeof *kern);
    float *y = malloc(ny * sizeof *y);
    float *scratch = malloc(sq_conv_scratch(k.kh, k.kw, k.c) * sizeof *scratch);
    ck_assert(x && kern && y && scratch);
    for (size_t i = 0; i < nk; i++)
        kern[i] = 1.0f;
    x[(1 * k.w + 7) * k.c + 1] = NAN;
    for (int isa = 0; isa < nisas(); isa++) {
        for (int relu = 0; relu < 2; relu++) {
            sq_conv_desc d = { .h = k.h, .w = k.w, .c = k.c, .oh = g.oh, .ow = g.ow, .f = k.f,
                               .kh = 3, .kw = 3, .sh = 1, .sw = 1, .dh = 1, .dw = 1, .pt = 1,
                               .pl = 1, .kernel = kern, .relu = relu };
            sq_conv_prepare((sq_isa)isa, &d, scratch);
            float *buf = malloc((sq_conv_rowbuf(&d) + 1) * sizeof *buf);
            sq_conv_rows((sq_isa)isa, &d, x, y, 0, g.oh, relu ? buf : NULL);
            free(buf);
            for (long oy = 0; oy < g.oh; oy++)
                for (long ox = 0; ox < g.ow; ox++)
                    for (long f = 0; f < k.f; f++) {
                        float v = y[(oy * g.ow + ox) * k.f + f];
                        int near = ox >= 6 && ox <= 8;  /* every row sees row 1 */
                        int ok = near && !relu ? isnan(v) : v == 0.0f;
                        if (!ok)
                            ck_abort_msg("%s, relu %d: got %g at %ld,%ld",
                                         sq_isa_name((sq_isa)isa), relu, (double)v, oy, ox);
                    }
        }
    }
    free(x);
    free(kern);
    free(y);
    free(scratch);
}
END_TEST

/* ---- layers through the public API ---------------------------------------- */

static sq_session *new_session(long h, long w, long c)
{
    sq_error err;
    sq_session *s = sq_session_new();
    ck_assert_ptr_nonnull(s);
    sq_seed(s, 42);
    ck_assert_int_eq(sq_model_new(s, NULL, &err), 0);
    long dims[3] = { h, w, c };
    ck_assert_msg(sq_input(s, 3, dims, &err) == 0, "input: %s", err.msg);
    return s;
}

static void add_ok(sq_session *s, const char *kind, const char *args)
{
    char buf[512];
    char *argv[32];
    int argc = 0;
    snprintf(buf, sizeof buf, "%s", args);
    char *save = NULL;
    for (char *t = strtok_r(buf, " ", &save); t && argc < 32; t = strtok_r(NULL, " ", &save))
        argv[argc++] = t;
    sq_error err;
    ck_assert_msg(sq_add(s, kind, argc, argv, &err) == 0, "add %s %s: %s", kind, args, err.msg);
}

static void call_ok(sq_session *s, const conv_case *k, const float *x, sq_tensor *y)
{
    sq_tensor t;
    t.shape.rank = 4;
    t.shape.d[0] = k->b;
    t.shape.d[1] = k->h;
    t.shape.d[2] = k->w;
    t.shape.d[3] = k->c;
    t.data = (float *)x;
    sq_error err;
    ck_assert_msg(sq_call(s, &t, y, &err) == 0, "call: %s", err.msg);
}

/* Conv2D case i with relu, through sq_call, with each variant active and
 * with 1 and 2 threads (the variant C uses the im2col fallback). */
START_TEST(test_conv_layer)
{
    conv_case k = case_at(_i);
    conv_geom g = geometry(&k);
    trng_seed(2000 + (uint64_t)_i);
    char args[256];
    snprintf(args, sizeof args, "%ld (%ld,%ld) strides=(%ld,%ld) padding=%s "
             "dilation_rate=(%ld,%ld) relu", k.f, k.kh, k.kw, k.sh, k.sw,
             k.same ? "same" : "valid", k.dh, k.dw);
    sq_session *s = new_session(k.h, k.w, k.c);
    add_ok(s, "conv2d", args);
    sq_model *m = s->model;
    for (size_t i = 0; i < m->nparams; i++)
        m->params[i] = frand(-1, 1);
    size_t nx = (size_t)(k.b * k.h * k.w * k.c), ny = (size_t)(k.b * g.oh * g.ow * k.f);
    float *x = random_floats(nx, -1, 1);
    double *want = malloc(ny * sizeof *want), *scale = malloc(ny * sizeof *scale);
    const float *kern = m->params, *bias = m->params + k.kh * k.kw * k.c * k.f;
    ref_conv(&k, x, kern, bias, 1, want, scale);
    sq_isa saved = sq_isa_active();
    for (int isa = 0; isa < nisas(); isa++) {
        for (int th = 1; th <= 2; th++) {
            sq_isa_set_active((sq_isa)isa);
            sq_set_threads(th);
            sq_tensor y;
            call_ok(s, &k, x, &y);
            ck_assert_int_eq(y.shape.rank, 4);
            ck_assert_int_eq(y.shape.d[1], g.oh);
            ck_assert_int_eq(y.shape.d[2], g.ow);
            char what[128];
            snprintf(what, sizeof what, "case %d, %s, %d threads", _i,
                     sq_isa_name((sq_isa)isa), th);
            expect_close(y.data, want, scale, ny, what);
            sq_tensor_free(&y);
        }
    }
    sq_isa_set_active(saved);
    sq_set_threads(1);
    free(x);
    free(want);
    free(scale);
    sq_session_free(s);
}
END_TEST

/* A bigger layer, so the forward really splits rows between threads. */
START_TEST(test_conv_layer_threads)
{
    conv_case k = { 3, 40, 45, 17, 33, 3, 3, 1, 1, 1, 1, 1 };
    conv_geom g = geometry(&k);
    trng_seed(77);
    sq_session *s = new_session(k.h, k.w, k.c);
    add_ok(s, "conv2d", "33 3 padding=same relu");
    sq_model *m = s->model;
    for (size_t i = 0; i < m->nparams; i++)
        m->params[i] = frand(-1, 1);
    size_t nx = (size_t)(k.b * k.h * k.w * k.c), ny = (size_t)(k.b * g.oh * g.ow * k.f);
    float *x = random_floats(nx, -1, 1);
    double *want = malloc(ny * sizeof *want), *scale = malloc(ny * sizeof *scale);
    ref_conv(&k, x, m->params, m->params + 9 * k.c * k.f, 1, want, scale);
    for (int th = 1; th <= 4; th++) {
        sq_set_threads(th);
        ck_assert_int_eq(sq_get_threads(), th);
        sq_tensor y;
        call_ok(s, &k, x, &y);
        char what[64];
        snprintf(what, sizeof what, "%d threads", th);
        expect_close(y.data, want, scale, ny, what);
        sq_tensor_free(&y);
    }
    sq_set_threads(1);
    free(x);
    free(want);
    free(scale);
    sq_session_free(s);
}
END_TEST

/* A raised interrupt flag stops the forward pass between rows: nothing is
 * computed when it is up from the start; all of it when it stays down. */
START_TEST(test_conv_interrupt)
{
    conv_case k = { 2, 30, 30, 3, 8, 3, 3, 1, 1, 1, 1, 1 };
    conv_geom g = geometry(&k);
    sq_session *s = new_session(k.h, k.w, k.c);
    add_ok(s, "conv2d", "8 3 padding=same");
    const sq_layer *l = s->model->layers[0];
    sq_shape is = { 4, { k.b, k.h, k.w, k.c } }, os = { 4, { k.b, g.oh, g.ow, k.f } };
    size_t nx = (size_t)(k.b * k.h * k.w * k.c), ny = (size_t)(k.b * g.oh * g.ow * k.f);
    float *x = random_floats(nx, -1, 1), *y = malloc(ny * sizeof *y);
    float *scratch = malloc((l->kind->scratch(l, &is) + 1) * sizeof *scratch);
    ck_assert(y && scratch);
    for (int th = 1; th <= 2; th++) {
        sq_set_threads(th);
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
            ck_assert_msg(nans == (up ? ny : 0), "threads %d, flag %d: %zu of %zu left", th, up,
                          nans, ny);
        }
    }
    sq_set_threads(1);
    free(x);
    free(y);
    free(scratch);
    sq_session_free(s);
}
END_TEST

typedef struct {
    long b, h, w, c, kh, kw, sh, sw;
    int same;
} pool_case;

static const pool_case pool_cases[] = {
    { 1, 1, 1, 1, 1, 1, 1, 1, 0 },
    { 7, 1, 1, 3, 3, 3, 1, 1, 1 },
    { 1, 5, 5, 17, 5, 5, 5, 5, 0 },
    { 7, 7, 9, 33, 3, 3, 3, 3, 0 },
    { 1, 7, 9, 5, 3, 3, 2, 2, 1 },
    { 2, 8, 11, 32, 2, 3, 3, 2, 1 },
    { 1, 40, 40, 32, 3, 3, 3, 3, 0 },
    { 3, 13, 6, 48, 4, 2, 1, 3, 1 },
};
#define NPOOL ((int)(sizeof pool_cases / sizeof pool_cases[0]))

/* Max and average pooling case i, each variant, 1 and 3 threads. */
START_TEST(test_pool_layer)
{
    const pool_case *p = &pool_cases[_i / 2];
    int max = _i % 2 == 0;
    trng_seed(3000 + (uint64_t)_i);
    char args[160];
    snprintf(args, sizeof args, "(%ld,%ld) strides=(%ld,%ld) padding=%s", p->kh, p->kw, p->sh,
             p->sw, p->same ? "same" : "valid");
    sq_session *s = new_session(p->h, p->w, p->c);
    add_ok(s, max ? "maxpooling2d" : "averagepooling2d", args);
    long oh, ow, pt = 0, pl = 0;
    if (p->same) {
        oh = (p->h + p->sh - 1) / p->sh;
        ow = (p->w + p->sw - 1) / p->sw;
        long ph = (oh - 1) * p->sh + p->kh - p->h, pw = (ow - 1) * p->sw + p->kw - p->w;
        pt = ph > 0 ? ph / 2 : 0;
        pl = pw > 0 ? pw / 2 : 0;
    } else {
        oh = (p->h - p->kh) / p->sh + 1;
        ow = (p->w - p->kw) / p->sw + 1;
    }
    size_t nx = (size_t)(p->b * p->h * p->w * p->c), ny = (size_t)(p->b * oh * ow * p->c);
    float *x = random_floats(nx, -3, 3);
    double *want = malloc(ny * sizeof *want), *scale = malloc(ny * sizeof *scale);
    for (long b = 0; b < p->b; b++)
        for (long oy = 0; oy < oh; oy++)
            for (long ox = 0; ox < ow; ox++)
                for (long c = 0; c < p->c; c++) {
                    double acc = max ? -INFINITY : 0, mag = 0;
                    long cells = 0;
                    for (long ky = 0; ky < p->kh; ky++)
                        for (long kx = 0; kx < p->kw; kx++) {
                            long iy = oy * p->sh - pt + ky, ix = ox * p->sw - pl + kx;
                            if (iy < 0 || iy >= p->h || ix < 0 || ix >= p->w)
                                continue;
                            double v = x[((b * p->h + iy) * p->w + ix) * p->c + c];
                            acc = max ? fmax(acc, v) : acc + v;
                            mag += fabs(v);
                            cells++;
                        }
                    size_t o = (size_t)(((b * oh + oy) * ow + ox) * p->c + c);
                    want[o] = max ? acc : acc / (double)cells;
                    scale[o] = max ? 0 : mag / (double)cells;
                }
    sq_isa saved = sq_isa_active();
    conv_case shape = { p->b, p->h, p->w, p->c, 0, 0, 0, 0, 0, 0, 0, 0 };
    for (int isa = 0; isa < nisas(); isa++) {
        for (int th = 1; th <= 3; th += 2) {
            sq_isa_set_active((sq_isa)isa);
            sq_set_threads(th);
            sq_tensor y;
            call_ok(s, &shape, x, &y);
            ck_assert_int_eq(y.shape.d[1], oh);
            ck_assert_int_eq(y.shape.d[2], ow);
            char what[128];
            snprintf(what, sizeof what, "pool case %d (%s), %s, %d threads", _i / 2,
                     max ? "max" : "avg", sq_isa_name((sq_isa)isa), th);
            expect_close(y.data, want, scale, ny, what);
            sq_tensor_free(&y);
        }
    }
    sq_isa_set_active(saved);
    sq_set_threads(1);
    free(x);
    free(want);
    free(scale);
    sq_session_free(s);
}
END_TEST

/* ---- backward passes ------------------------------------------------------ */

/* Conv2D's backward pass against the sums written out: dK, dbias and din,
 * each variant (unit strides take the direct kernels for din), 1 and 3
 * threads, batch 1 and 7 among the cases. */
START_TEST(test_conv_backward)
{
    conv_case k = case_at(_i);
    conv_geom g = geometry(&k);
    trng_seed(4000 + (uint64_t)_i);
    char args[256];
    snprintf(args, sizeof args, "%ld (%ld,%ld) strides=(%ld,%ld) padding=%s "
             "dilation_rate=(%ld,%ld)", k.f, k.kh, k.kw, k.sh, k.sw,
             k.same ? "same" : "valid", k.dh, k.dw);
    sq_session *s = new_session(k.h, k.w, k.c);
    add_ok(s, "conv2d", args);
    sq_model *m = s->model;
    const sq_layer *l = m->layers[0];
    for (size_t i = 0; i < m->nparams; i++)
        m->params[i] = frand(-1, 1);
    size_t nx = (size_t)(k.b * k.h * k.w * k.c), ny = (size_t)(k.b * g.oh * g.ow * k.f);
    size_t nk = (size_t)(k.kh * k.kw * k.c * k.f), nw = nk + (size_t)k.f;
    float *x = random_floats(nx, -1, 1), *dy = random_floats(ny, -1, 1);
    const float *kern = m->params;
    /* the sums, with the magnitudes of their terms */
    double *wdx = calloc(nx, sizeof *wdx), *sdx = calloc(nx, sizeof *sdx);
    double *wdw = calloc(nw, sizeof *wdw), *sdw = calloc(nw, sizeof *sdw);
    ck_assert(wdx && sdx && wdw && sdw);
    for (long b = 0; b < k.b; b++)
        for (long oy = 0; oy < g.oh; oy++)
            for (long ox = 0; ox < g.ow; ox++)
                for (long f = 0; f < k.f; f++) {
                    double d = dy[((b * g.oh + oy) * g.ow + ox) * k.f + f];
                    wdw[nk + (size_t)f] += d;
                    sdw[nk + (size_t)f] += fabs(d);
                    for (long ky = 0; ky < k.kh; ky++)
                        for (long kx = 0; kx < k.kw; kx++) {
                            long iy = oy * k.sh - g.pt + ky * k.dh;
                            long ix = ox * k.sw - g.pl + kx * k.dw;
                            if (iy < 0 || iy >= k.h || ix < 0 || ix >= k.w)
                                continue;
                            for (long c = 0; c < k.c; c++) {
                                size_t xi = (size_t)(((b * k.h + iy) * k.w + ix) * k.c + c);
                                size_t wi = (size_t)(((ky * k.kw + kx) * k.c + c) * k.f + f);
                                wdw[wi] += x[xi] * d;
                                sdw[wi] += fabs(x[xi] * d);
                                wdx[xi] += kern[wi] * d;
                                sdx[xi] += fabs(kern[wi] * d);
                            }
                        }
                }
    sq_shape is = { 4, { k.b, k.h, k.w, k.c } }, os = { 4, { k.b, g.oh, g.ow, k.f } };
    float *dx = malloc(nx * sizeof *dx), *dw = malloc(nw * sizeof *dw);
    sq_isa saved = sq_isa_active();
    for (int isa = 0; isa < nisas(); isa++) {
        for (int th = 1; th <= 3; th += 2) {
            sq_isa_set_active((sq_isa)isa);
            sq_set_threads(th);
            size_t ns = l->kind->scratch_bwd(l, &is);
            size_t nf = l->kind->scratch(l, &is);
            float *scratch = malloc((ns > nf ? ns : nf) * sizeof *scratch + 1);
            ck_assert_ptr_nonnull(scratch);
            for (size_t i = 0; i < nx; i++)
                dx[i] = NAN;
            for (size_t i = 0; i < nw; i++)
                dw[i] = NAN;
            sq_bwd bw = { .in = x, .out = NULL, .dout = dy, .din = dx, .in_shape = &is,
                          .out_shape = &os, .w = m->params, .dw = dw, .cache = NULL,
                          .scratch = scratch };
            l->kind->backward(l, &bw);
            char what[128];
            snprintf(what, sizeof what, "case %d, %s, %d threads: din", _i,
                     sq_isa_name((sq_isa)isa), th);
            expect_close(dx, wdx, sdx, nx, what);
            snprintf(what, sizeof what, "case %d, %s, %d threads: dK, dbias", _i,
                     sq_isa_name((sq_isa)isa), th);
            expect_close(dw, wdw, sdw, nw, what);
            /* the first layer (no din) and a frozen one (no dw) */
            bw.din = NULL;
            for (size_t i = 0; i < nw; i++)
                dw[i] = NAN;
            l->kind->backward(l, &bw);
            expect_close(dw, wdw, sdw, nw, what);
            bw.din = dx;
            bw.dw = NULL;
            for (size_t i = 0; i < nx; i++)
                dx[i] = NAN;
            l->kind->backward(l, &bw);
            snprintf(what, sizeof what, "case %d, %s, %d threads: din alone", _i,
                     sq_isa_name((sq_isa)isa), th);
            expect_close(dx, wdx, sdx, nx, what);
            free(scratch);
        }
    }
    sq_isa_set_active(saved);
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

/* Pooling's backward pass against the loops written out, in double: the
 * first maximum of a window wins, ties included (inputs are small integers),
 * overlapping windows add up. A float sum of k terms that carry up to two
 * roundings each (1 / cells and the product) is within (k + 1) 2^-24 of the
 * sum of their magnitudes, to first order; (k + 2) covers the rest. A
 * gradient sent to the wrong cell is off by a whole term. */
START_TEST(test_pool_backward)
{
    const pool_case *p = &pool_cases[_i / 2];
    int max = _i % 2 == 0;
    trng_seed(5000 + (uint64_t)_i);
    char args[160];
    snprintf(args, sizeof args, "(%ld,%ld) strides=(%ld,%ld) padding=%s", p->kh, p->kw, p->sh,
             p->sw, p->same ? "same" : "valid");
    sq_session *s = new_session(p->h, p->w, p->c);
    add_ok(s, max ? "maxpooling2d" : "averagepooling2d", args);
    const sq_layer *l = s->model->layers[0];
    long oh, ow, pt = 0, pl = 0;
    if (p->same) {
        oh = (p->h + p->sh - 1) / p->sh;
        ow = (p->w + p->sw - 1) / p->sw;
        long ph = (oh - 1) * p->sh + p->kh - p->h, pw = (ow - 1) * p->sw + p->kw - p->w;
        pt = ph > 0 ? ph / 2 : 0;
        pl = pw > 0 ? pw / 2 : 0;
    } else {
        oh = (p->h - p->kh) / p->sh + 1;
        ow = (p->w - p->kw) / p->sw + 1;
    }
    size_t nx = (size_t)(p->b * p->h * p->w * p->c), ny = (size_t)(p->b * oh * ow * p->c);
    float *x = malloc(nx * sizeof *x), *dy = random_floats(ny, -1, 1);
    float *dx = malloc(nx * sizeof *dx);
    double *want = calloc(nx, sizeof *want), *mag = calloc(nx, sizeof *mag);
    int *terms = calloc(nx, sizeof *terms);
    ck_assert(x && want && dx && mag && terms);
    for (size_t i = 0; i < nx; i++)
        x[i] = floorf(frand(0, 4));
    for (long b = 0; b < p->b; b++)
        for (long oy = 0; oy < oh; oy++)
            for (long ox = 0; ox < ow; ox++) {
                long y0 = oy * p->sh - pt, y1 = y0 + p->kh, x0 = ox * p->sw - pl, x1 = x0 + p->kw;
                y0 = y0 < 0 ? 0 : y0;
                x0 = x0 < 0 ? 0 : x0;
                y1 = y1 > p->h ? p->h : y1;
                x1 = x1 > p->w ? p->w : x1;
                long cells = (y1 - y0) * (x1 - x0);
                const float *g = dy + ((b * oh + oy) * ow + ox) * p->c;
                for (long c = 0; c < p->c && cells > 0; c++) {
                    if (!max) {
                        double t = (double)g[c] / (double)cells;
                        for (long iy = y0; iy < y1; iy++)
                            for (long ix = x0; ix < x1; ix++) {
                                long at = ((b * p->h + iy) * p->w + ix) * p->c + c;
                                want[at] += t;
                                mag[at] += fabs(t);
                                terms[at]++;
                            }
                        continue;
                    }
                    long best = -1;
                    for (long iy = y0; iy < y1; iy++)
                        for (long ix = x0; ix < x1; ix++) {
                            long at = ((b * p->h + iy) * p->w + ix) * p->c + c;
                            if (best < 0 || x[at] > x[best])
                                best = at;
                        }
                    want[best] += g[c];
                    mag[best] += fabs(g[c]);
                    terms[best]++;
                }
            }
    sq_shape is = { 4, { p->b, p->h, p->w, p->c } }, os = { 4, { p->b, oh, ow, p->c } };
    sq_isa saved = sq_isa_active();
    for (int isa = 0; isa < nisas(); isa++) {
        for (int th = 1; th <= 3; th += 2) {
            sq_isa_set_active((sq_isa)isa);
            sq_set_threads(th);
            for (size_t i = 0; i < nx; i++)
                dx[i] = NAN;
            sq_bwd bw = { .in = x, .dout = dy, .din = dx, .in_shape = &is, .out_shape = &os };
            l->kind->backward(l, &bw);
            for (size_t i = 0; i < nx; i++) {
                double tol = (terms[i] + 2) * 0x1p-24 * mag[i];
                if (!(fabs(dx[i] - want[i]) <= tol))
                    ck_abort_msg("pool case %d (%s), %s, %d threads: element %zu: got %.9g, "
                                 "expected %.9g (tolerance %.3g)", _i / 2, max ? "max" : "avg",
                                 sq_isa_name((sq_isa)isa), th, i, (double)dx[i], want[i], tol);
            }
            if (!max)
                continue;
            /* x as relu's output (0 to 3): with relu_din, nothing reaches a cell
             * that is not positive (a window whose maximum is 0 sends none) */
            for (size_t i = 0; i < nx; i++)
                dx[i] = NAN;
            bw.relu_din = 1;
            l->kind->backward(l, &bw);
            for (size_t i = 0; i < nx; i++) {
                double w = x[i] > 0 ? want[i] : 0, tol = (terms[i] + 2) * 0x1p-24 * mag[i];
                if (!(fabs(dx[i] - w) <= tol))
                    ck_abort_msg("pool case %d, relu below, %s, %d threads: element %zu: got "
                                 "%.9g, expected %.9g", _i / 2, sq_isa_name((sq_isa)isa), th, i,
                                 (double)dx[i], w);
            }
        }
    }
    sq_isa_set_active(saved);
    sq_set_threads(1);
    free(x);
    free(dy);
    free(want);
    free(mag);
    free(terms);
    free(dx);
    sq_session_free(s);
}
END_TEST

/* ---- the thread pool ------------------------------------------------------ */

typedef struct {
    int *hits;
    int fp_ok;
    int *nested;             /* not NULL: each chunk runs a job over its range */
    int threads;             /* tids must be below this */
    long n, min_each;
    int bad;                 /* a tid out of range or a chunk too small */
} count_job;

#ifdef HAVE_MXCSR
/* Whether flush-to-zero and denormals-are-zero (0x8040) stay set when set:
 * on a CPU they do; valgrind emulates MXCSR without them, so there the pool
 * cannot be asked to keep them. */
static int fp_bits_stick(void)
{
    unsigned old = _mm_getcsr();
    _mm_setcsr(old | 0x8040u);
    int stick = (_mm_getcsr() & 0x8040u) == 0x8040u;
    _mm_setcsr(old);
    return stick;
}

static int want_fp_bits;     /* set by test_pool_covers from fp_bits_stick */
#endif

static void count_range(void *ctx, long b, long e, int tid)
{
    count_job *j = ctx;
#ifdef HAVE_MXCSR
    if (want_fp_bits && (_mm_getcsr() & 0x8040u) != 0x8040u)
        __atomic_store_n(&j->fp_ok, 0, __ATOMIC_RELAXED);
#endif
    if (tid < 0 || tid >= j->threads || (e - b < j->min_each && e != j->n))
        __atomic_store_n(&j->bad, 1, __ATOMIC_RELAXED);
    for (long i = b; i < e; i++)
        __atomic_add_fetch(&j->hits[i], 1, __ATOMIC_RELAXED);
    if (j->nested) {
        /* serial inside a job; a serial outer run leaves the pool free */
        count_job inner = { j->nested + b, 1, NULL, j->threads, e - b, 1, 0 };
        sq_parallel_for(e - b, 1, count_range, &inner);
        if (!inner.fp_ok || inner.bad)
            __atomic_store_n(&j->bad, 1, __ATOMIC_RELAXED);
    }
}

/* Every index exactly once, for any thread count, size and grain, also
 * for a job started inside a job; jobs run with flush-to-zero and
 * denormals-are-zero where the CPU keeps them, and the caller's
 * floating-point mode is left as it was. */
START_TEST(test_pool_covers)
{
    static const long sizes[] = { 0, 1, 2, 3, 7, 64, 1001 };
    static const long grains[] = { 1, 3, 1000 };
    int *hits = malloc(1001 * sizeof *hits), *inner = malloc(1001 * sizeof *inner);
    ck_assert(hits && inner);
#ifdef HAVE_MXCSR
    unsigned before = _mm_getcsr();
    want_fp_bits = fp_bits_stick();
#endif
    for (int th = 1; th <= 5; th++) {
        sq_pool_set_threads(th);
        ck_assert_int_eq(sq_pool_threads(), th);
        for (int si = 0; si < 7; si++)
            for (int gi = 0; gi < 3; gi++)
                for (int nested = 0; nested < 2; nested++) {
                    long n = sizes[si];
                    memset(hits, 0, 1001 * sizeof *hits);
                    memset(inner, 0, 1001 * sizeof *inner);
                    count_job j = { hits, 1, nested ? inner : NULL, th, n, grains[gi], 0 };
                    sq_parallel_for(n, grains[gi], count_range, &j);
                    ck_assert(j.fp_ok);
                    ck_assert_msg(!j.bad, "threads %d n %ld grain %ld: a bad tid or chunk", th,
                                  n, grains[gi]);
                    for (long i = 0; i < n; i++)
                        if (hits[i] != 1 || inner[i] != nested)
                            ck_abort_msg("threads %d n %ld grain %ld nested %d: index %ld "
                                         "hit %d + %d times", th, n, grains[gi], nested, i,
                                         hits[i], inner[i]);
                }
    }
    sq_pool_set_threads(1);
#ifdef HAVE_MXCSR
    ck_assert_uint_eq(_mm_getcsr(), before);
#endif
    free(hits);
    free(inner);
}
END_TEST

/* Who ran each index of a job; each index takes a while, five times as
 * long on thread 1 (its partner would take some of its indices). */
typedef struct {
    signed char *who;
    long least, most;        /* the smallest and largest chunk */
} who_job;

static void who_range(void *ctx, long b, long e, int tid)
{
    who_job *j = ctx;
    long len = e - b, m;
    while ((m = __atomic_load_n(&j->least, __ATOMIC_RELAXED)) > len
           && !__atomic_compare_exchange_n(&j->least, &m, len, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
        ;
    while ((m = __atomic_load_n(&j->most, __ATOMIC_RELAXED)) < len
           && !__atomic_compare_exchange_n(&j->most, &m, len, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
        ;
    for (long i = b; i < e; i++) {
        j->who[i] = (signed char)tid;
        long ns = tid == 1 ? 1000 : 200;
        struct timespec t0, t;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        do
            clock_gettime(CLOCK_MONOTONIC, &t);
        while ((t.tv_sec - t0.tv_sec) * 1000000000L + t.tv_nsec - t0.tv_nsec < ns);
    }
}

/* Two threads split a job where they meet: thread 0 runs [0, m), thread 1
 * [m, n), for any size and grain, even when one thread is much slower
 * than the other (so that the next job over the same data finds each part
 * where it was made); with more threads every index still runs once.
 * sq_parallel_for's claims are whole units of a cut as even as can be (a
 * remainder spread, not left to the last: 1001 by at least 400 is 500 and
 * 501, never 400 and 601); sq_parallel_for_tail's shrink to min_claim at the
 * end (the last claim is one unit) and never pass the first claims' size
 * (1/16 of a thread's share, or min_each). */
START_TEST(test_pool_pairs_split)
{
    static const long sizes[] = { 2, 7, 64, 1001, 5000 };
    static const long grains[] = { 1, 3, 100, 400 };
    signed char *who = malloc(5000);
    ck_assert_ptr_nonnull(who);
    for (int th = 2; th <= 4; th++) {
        sq_pool_set_threads(th);
        for (int si = 0; si < 5; si++)
            for (int gi = 0; gi < 4; gi++)
                for (int tail = 0; tail < 2; tail++) {
                    long n = sizes[si], grain = grains[gi];
                    who_job j = { who, n, 0 };
                    sq_pool_wake();   /* the workers awake, so that they take part */
                    sq_parallel_for(64, 1, who_range, &j);
                    memset(who, -1, (size_t)n);
                    j.least = n;
                    j.most = 0;
                    if (tail)
                        sq_parallel_for_tail(n, grain, 1, th, who_range, &j);
                    else
                        sq_parallel_for(n, grain, who_range, &j);
                    long shared = n / grain >= 2, first = n / (th * 16L);
                    if (first < grain)
                        first = grain;
                    if (!shared)
                        ck_assert_int_eq(j.least, n);
                    else if (tail)
                        ck_assert_msg(j.least == 1 && j.most <= first,
                                      "threads %d n %ld grain %ld: tail claims of %ld to %ld",
                                      th, n, grain, j.least, j.most);
                    else
                        ck_assert_msg(j.least >= n / (n / grain),
                                      "threads %d n %ld grain %ld: a claim of %ld", th, n, grain,
                                      j.least);
                    for (long i = 0; i < n; i++) {
                        ck_assert_msg(who[i] >= 0 && who[i] < th,
                                      "threads %d n %ld: index %ld not run", th, n, i);
                        if (th == 2 && i > 0)
                            ck_assert_msg(who[i] >= who[i - 1],
                                          "n %ld grain %ld tail %d: index %ld by thread %d "
                                          "after thread %d", n, grain, tail, i, who[i],
                                          who[i - 1]);
                    }
                }
    }
    sq_pool_set_threads(1);
    free(who);
}
END_TEST

/* Workers that went to sleep (1 ms idle, longer than they spin) are woken
 * by sq_pool_wake, from inside a job too (where it does nothing), and
 * every index of the jobs that follow runs exactly once: a wake-up before
 * a job, between jobs and with no job at all never loses or repeats work. */
static void wake_range(void *ctx, long b, long e, int tid)
{
    count_job *j = ctx;
    (void)tid;
    sq_pool_wake();
    for (long i = b; i < e; i++)
        __atomic_add_fetch(&j->hits[i], 1, __ATOMIC_RELAXED);
}

START_TEST(test_pool_wake)
{
    int *hits = malloc(1001 * sizeof *hits);
    ck_assert_ptr_nonnull(hits);
    for (int th = 1; th <= 3; th++) {
        sq_pool_set_threads(th);
        for (int round = 0; round < 6; round++) {
            if (round % 2) {
                struct timespec idle = { 0, 1000000 };
                nanosleep(&idle, NULL);
            }
            if (round % 3 != 2)
                sq_pool_wake();
            memset(hits, 0, 1001 * sizeof *hits);
            count_job j = { hits, 1, NULL, th, 1001, 1, 0 };
            sq_parallel_for(1001, 1, wake_range, &j);
            for (long i = 0; i < 1001; i++)
                ck_assert_msg(hits[i] == 1, "threads %d round %d: index %ld hit %d times", th,
                              round, i, hits[i]);
        }
        sq_pool_wake();   /* and nothing after it */
    }
    sq_pool_set_threads(1);
    free(hits);
}
END_TEST

/* sq_gemm cut into parts for two threads (one part each, several each for
 * a big one, the last part short; rows or columns of C) against the sum
 * written out here, for every transpose, alpha and beta. */
/* sq_gemm against the sums written out: shapes cut into parts for two
 * threads, with row and column tails, long reductions (several K blocks)
 * and none; every transpose; alpha 0.5, beta 0.25 (OpenBLAS) and alpha 1
 * with beta 1 or 0, which take the engine's own AVX-512 product when B is
 * as stored (on a CPU with AVX-512; the others compare OpenBLAS again). */
START_TEST(test_gemm_parts)
{
    static const int shapes[][3] = { { 100, 37, 300 }, { 20, 300, 200 }, { 333, 257, 250 },
                                     { 31, 33, 2000 }, { 7, 40, 0 } };
    static const float modes[][2] = { { 0.5f, 0.25f }, { 1.0f, 1.0f }, { 1.0f, 0.0f } };
    const int *sh = shapes[_i / 12];
    const float alpha = modes[(_i / 4) % 3][0], beta = modes[(_i / 4) % 3][1];
    int m = sh[0], n = sh[1], k = sh[2], ta = _i & 1, tb = (_i >> 1) & 1;
    float *a = malloc((size_t)m * k * sizeof *a + 1), *b = malloc((size_t)k * n * sizeof *b + 1);
    float *c = malloc((size_t)m * n * sizeof *c);
    ck_assert(a && b && c);
    srand(11 + (unsigned)_i);
    for (long i = 0; i < (long)m * k; i++)
        a[i] = (float)rand() / RAND_MAX - 0.5f;
    for (long i = 0; i < (long)k * n; i++)
        b[i] = (float)rand() / RAND_MAX - 0.5f;
    for (long i = 0; i < (long)m * n; i++)
        c[i] = (float)rand() / RAND_MAX - 0.5f;
    double *want = malloc((size_t)m * n * sizeof *want), *mag = malloc((size_t)m * n * sizeof *mag);
    ck_assert(want && mag);
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double acc = 0, sz = 0;
            for (int p = 0; p < k; p++) {
                double x = ta ? a[(size_t)p * m + i] : a[(size_t)i * k + p];
                double y = tb ? b[(size_t)j * k + p] : b[(size_t)p * n + j];
                acc += x * y;
                sz += fabs(x * y);
            }
            want[(size_t)i * n + j] = alpha * acc + beta * c[(size_t)i * n + j];
            mag[(size_t)i * n + j] = sz + fabs(c[(size_t)i * n + j]);
        }
    sq_set_threads(2);
    sq_gemm(ta, tb, m, n, k, alpha, a, ta ? m : k, b, tb ? k : n, beta, c, n);
    sq_set_threads(1);
    for (long i = 0; i < (long)m * n; i++)
        ck_assert_msg(fabs(c[i] - want[i]) <= 1e-5 * (1 + mag[i]),
                      "%dx%dx%d ta %d tb %d alpha %g beta %g (%s): C[%ld] is %g, want %g", m, n,
                      k, ta, tb, (double)alpha, (double)beta, sq_isa_name(sq_isa_active()), i,
                      (double)c[i], want[i]);
    free(a);
    free(b);
    free(c);
    free(want);
    free(mag);
}
END_TEST

/* relu's gradient over a long array shared by two threads (the last block
 * partial): dy[i] *= z[i] > 0 ? 1 : 0 for every i, with NaN, -0 and
 * infinities in z and dy; every variant. */
START_TEST(test_relu_grad_long)
{
    enum { NR = 100003 };
    float *z = malloc(NR * sizeof *z), *dy = malloc(NR * sizeof *dy);
    float *want = malloc(NR * sizeof *want);
    ck_assert(z && dy && want);
    srand(5);
    for (long i = 0; i < NR; i++) {
        z[i] = (float)rand() / RAND_MAX - 0.5f;
        dy[i] = (float)rand() / RAND_MAX - 0.5f;
    }
    z[7] = NAN;
    z[8] = -0.0f;
    z[9] = INFINITY;
    z[NR - 1] = -INFINITY;
    dy[10] = INFINITY;
    dy[NR - 2] = NAN;
    sq_isa was = sq_isa_active();
    for (int isa = SQ_ISA_C; isa <= SQ_ISA_AVX512; isa++) {
        if (sq_isa_set_active((sq_isa)isa) != (sq_isa)isa)
            continue;
        float *g = malloc(NR * sizeof *g);
        ck_assert_ptr_nonnull(g);
        memcpy(g, dy, NR * sizeof *g);
        for (long i = 0; i < NR; i++)
            want[i] = dy[i] * (z[i] > 0 ? 1.0f : 0.0f);
        sq_set_threads(2);
        sq_relu_grad(z, g, NR);
        sq_set_threads(1);
        for (long i = 0; i < NR; i++)
            ck_assert_msg(memcmp(&g[i], &want[i], sizeof g[i]) == 0 || (isnan(g[i]) && isnan(want[i])),
                          "%s: dy[%ld] is %g, want %g", sq_isa_name((sq_isa)isa), i,
                          (double)g[i], (double)want[i]);
        free(g);
    }
    sq_isa_set_active(was);
    free(z);
    free(dy);
    free(want);
}
END_TEST

/* sq_set_threads reaches the pool and the backend line names the kernels. */
START_TEST(test_threads_setting)
{
    sq_set_threads(2);
    ck_assert_int_eq(sq_get_threads(), 2);
    ck_assert_ptr_nonnull(strstr(sq_backend_info(), "2 threads"));
    ck_assert_ptr_nonnull(strstr(sq_backend_info(), sq_isa_name(sq_isa_active())));
    sq_set_threads(1);
    ck_assert_int_eq(sq_get_threads(), 1);
    ck_assert_ptr_nonnull(strstr(sq_backend_info(), "1 thread"));
}
END_TEST

static Suite *conv_fast_suite(void)
{
    Suite *su = suite_create("conv_fast");
    TCase *tc = tcase_create("kernels");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, test_kernels, 0, NALL);
    tcase_add_test(tc, test_kernels_special_values);
    suite_add_tcase(su, tc);
    tc = tcase_create("layers");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, test_conv_layer, 0, NALL);
    tcase_add_test(tc, test_conv_layer_threads);
    tcase_add_test(tc, test_conv_interrupt);
    tcase_add_loop_test(tc, test_pool_layer, 0, 2 * NPOOL);
    suite_add_tcase(su, tc);
    tc = tcase_create("backward");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, test_conv_backward, 0, NALL);
    tcase_add_loop_test(tc, test_pool_backward, 0, 2 * NPOOL);
    suite_add_tcase(su, tc);
    tc = tcase_create("pool");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_pool_covers);
    tcase_add_test(tc, test_pool_wake);
    tcase_add_test(tc, test_pool_pairs_split);
    tcase_add_loop_test(tc, test_gemm_parts, 0, 60);
    tcase_add_test(tc, test_relu_grad_long);
    tcase_add_test(tc, test_threads_setting);
    suite_add_tcase(su, tc);
    return su;
}

int main(void)
{
    SRunner *sr = srunner_create(conv_fast_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
