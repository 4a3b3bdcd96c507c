/* check_optim.c - tests for engine/optim.c: every optimizer and option
 * combination against an independent double-precision computation of the
 * textbook formulas (written out below, not calling optim.c), literal
 * hand-computed first steps (several are the examples in the Keras 2.6
 * docstrings), frozen ranges, defaults, names, messages, state snapshots. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "seqsh/engine.h"
#include "train/optim.h"
#include "train/optim_impl.h"
#include "test_util.h"
#if (defined(__x86_64__) || defined(__i386__)) && defined(__SSE__)
#include <xmmintrin.h>
#endif

#define N 5
#define STEPS 5
#define MAXOPT 8

/* ---- helpers -------------------------------------------------------------- */

/* Splits "k=v k=v" into keys/values held in `store`. */
typedef struct {
    char store[256];
    const char *keys[MAXOPT], *values[MAXOPT];
    int n;
} optlist;

static void parse_opts(const char *text, optlist *o)
{
    o->n = 0;
    snprintf(o->store, sizeof o->store, "%s", text ? text : "");
    for (char *tok = strtok(o->store, " "); tok; tok = strtok(NULL, " ")) {
        char *eq = strchr(tok, '=');
        ck_assert_msg(eq != NULL && o->n < MAXOPT, "bad test option '%s'", tok);
        *eq = '\0';
        o->keys[o->n] = tok;
        o->values[o->n] = eq + 1;
        o->n++;
    }
}

static sq_optim *mk(const char *name, const char *opts, size_t n)
{
    optlist ol;
    sq_error err = { "" };
    sq_optim *o = NULL;
    parse_opts(opts, &ol);
    int rc = sq_optim_new(name, ol.n, ol.keys, ol.values, n, &o, &err);
    ck_assert_msg(rc == 0, "%s %s: %s", name, opts ? opts : "", err.msg);
    ck_assert(o != NULL);
    return o;
}

static void expect_err(const char *name, const char *opts, const char *msg)
{
    optlist ol;
    sq_error err = { "" };
    sq_optim *o = (sq_optim *)&ol;   /* must stay untouched */
    parse_opts(opts, &ol);
    int rc = sq_optim_new(name, ol.n, ol.keys, ol.values, 4, &o, &err);
    ck_assert_msg(rc == -1, "%s %s: accepted", name, opts ? opts : "");
    ck_assert_msg(o == (sq_optim *)&ol, "%s %s: *out changed on failure", name,
                  opts ? opts : "");
    ck_assert_msg(strcmp(err.msg, msg) == 0, "%s %s:\n got  '%s'\n want '%s'",
                  name, opts ? opts : "", err.msg, msg);
}

static void expect_describe(const char *name, const char *opts, const char *want)
{
    char buf[512];
    sq_optim *o = mk(name, opts, 3);
    sq_optim_describe(o, buf, sizeof buf);
    ck_assert_msg(strcmp(buf, want) == 0, "%s %s:\n got  '%s'\n want '%s'", name,
                  opts ? opts : "", buf, want);
    sq_optim_free(o);
}

/* One step on one weight: w=w0, g, after begin_step. */
static float one_step(sq_optim *o, float w, float g)
{
    sq_optim_begin_step(o);
    sq_optim_update(o, &w, &g, 0, 1);
    return w;
}

static void near(double got, double want, double tol, const char *what)
{
    ck_assert_msg(fabs(got - want) <= tol, "%s: got %.10g, want %.10g (tol %g)",
                  what, got, want, tol);
}

/* ---- the reference: textbook formulas in double ----------------------------
 * Written from the Keras 2.6 docs/sources independently of optim.c: one
 * element at a time, plain arithmetic order, exact hyperparameters. */

enum { R_SGD, R_ADAM, R_RMSPROP, R_ADAGRAD, R_ADADELTA, R_ADAMAX, R_NADAM, R_FTRL };

typedef struct {
    int kind;
    double lr, decay, mom, b1, b2, eps, rho, iav, lrp, l1, l2, l2s, beta, sd;
    int nesterov, centered, amsgrad;
} refcfg;

typedef struct {
    refcfg c;
    double s[3][N];   /* slots */
    double mcache;    /* Nadam's momentum schedule product */
    long t;
} ref;

static void ref_init(ref *r, const refcfg *c)
{
    memset(r, 0, sizeof *r);
    r->c = *c;
    r->mcache = 1.0;
    if (c->kind == R_ADAGRAD || c->kind == R_FTRL)
        for (int i = 0; i < N; i++)
            r->s[0][i] = c->iav;
}

/* One step; elements with active[i] == 0 (frozen) are skipped entirely. */
static void ref_step(ref *r, double *w, const double *g, const int *active)
{
    const refcfg *c = &r->c;
    r->t++;
    double t = (double)r->t;
    double lr = c->lr / (1.0 + c->decay * (t - 1));   /* Keras `decay` */
    double ut = 0, ut1 = 0, msn = 0, msx = 0;
    if (c->kind == R_NADAM) {
        ut = c->b1 * (1 - 0.5 * pow(0.96, c->sd * t));
        ut1 = c->b1 * (1 - 0.5 * pow(0.96, c->sd * (t + 1)));
        msn = r->mcache * ut;
        msx = msn * ut1;
        r->mcache = msn;
        lr = c->lr;                                  /* no decayed lr */
    }
    for (int i = 0; i < N; i++) {
        if (active && !active[i])
            continue;
        double *s0 = &r->s[0][i], *s1 = &r->s[1][i], *s2 = &r->s[2][i];
        double gi = g[i];
        switch (c->kind) {
        case R_SGD:
            if (c->mom > 0) {
                /* velocity = momentum * velocity - lr * g */
                *s0 = c->mom * *s0 - lr * gi;
                w[i] += c->nesterov ? c->mom * *s0 - lr * gi : *s0;
            } else {
                w[i] -= lr * gi;
            }
            break;
        case R_ADAM: {
            *s0 = c->b1 * *s0 + (1 - c->b1) * gi;
            *s1 = c->b2 * *s1 + (1 - c->b2) * gi * gi;
            double vv = *s1;
            if (c->amsgrad) {
                *s2 = fmax(*s2, *s1);
                vv = *s2;
            }
            double lr_t = lr * sqrt(1 - pow(c->b2, t)) / (1 - pow(c->b1, t));
            w[i] -= lr_t * *s0 / (sqrt(vv) + c->eps);
            break;
        }
        case R_RMSPROP: {
            /* s0 = mean square, s1 = mean gradient, s2 = momentum */
            *s0 = c->rho * *s0 + (1 - c->rho) * gi * gi;
            double den = *s0;
            if (c->centered) {
                *s1 = c->rho * *s1 + (1 - c->rho) * gi;
                den -= *s1 * *s1;
            }
            if (c->mom > 0) {
                /* TF's ApplyRMSProp ops: epsilon inside the root */
                *s2 = c->mom * *s2 + lr * gi / sqrt(den + c->eps);
                w[i] -= *s2;
            } else {
                /* Keras's own Python update: epsilon outside the root */
                w[i] -= lr * gi / (sqrt(den) + c->eps);
            }
            break;
        }
        case R_ADAGRAD:
            *s0 += gi * gi;
            w[i] -= lr * gi / (sqrt(*s0) + c->eps);
            break;
        case R_ADADELTA: {
            *s0 = c->rho * *s0 + (1 - c->rho) * gi * gi;
            double up = sqrt(*s1 + c->eps) / sqrt(*s0 + c->eps) * gi;
            w[i] -= lr * up;
            *s1 = c->rho * *s1 + (1 - c->rho) * up * up;
            break;
        }
        case R_ADAMAX:
            *s0 = c->b1 * *s0 + (1 - c->b1) * gi;
            *s1 = fmax(c->b2 * *s1, fabs(gi));
            w[i] -= lr / (1 - pow(c->b1, t)) * *s0 / (*s1 + c->eps);
            break;
        case R_NADAM: {
            double gp = gi / (1 - msn);
            *s0 = c->b1 * *s0 + (1 - c->b1) * gi;
            double mp = *s0 / (1 - msx);
            *s1 = c->b2 * *s1 + (1 - c->b2) * gi * gi;
            double vp = *s1 / (1 - pow(c->b2, t));
            double mbar = (1 - ut) * gp + ut1 * mp;
            w[i] -= lr * mbar / (sqrt(vp) + c->eps);
            break;
        }
        case R_FTRL: {
            /* McMahan et al.: z (s1) and n (s0), per coordinate */
            double gs = gi + 2 * c->l2s * w[i];
            double n_new = *s0 + gi * gi;
            double sigma = (pow(n_new, -c->lrp) - pow(*s0, -c->lrp)) / lr;
            *s1 += gs - sigma * w[i];
            *s0 = n_new;
            double l2 = c->l2 + c->beta / (2 * lr);
            double z = *s1;
            if (fabs(z) <= c->l1)
                w[i] = 0;
            else
                w[i] = -(z - (z > 0 ? 1 : -1) * c->l1) /
                       (pow(n_new, -c->lrp) / lr + 2 * l2);
            break;
        }
        }
    }
}

static const double W0[N] = { 1.0, -0.5, 2.0, 0.75, -1.5 };
static const double G0[N] = { 0.5, -1.25, 0.03, 2.0, -0.7 };

/* The gradient of step s: G0 scaled, with a sign flip at step 3 and a
 * small step 4 (so that second moments also fall, for amsgrad's max). */
static void grad_at(int s, double *g)
{
    static const double scale[STEPS] = { 1.0, 1.25, -1.5, 0.2, 2.0 };
    for (int i = 0; i < N; i++)
        g[i] = G0[i] * scale[s];
}

/* 1e-6 relative; results that cancel to near 0 are judged at the scale of
 * the inputs (weights 0.5 .. 2), with a floor of 0.1 on |want|. */
static int close_enough(float got, double want)
{
    return fabs(got - want) <= 1e-6 * fmax(fabs(want), 0.1);
}

/* Runs `name opts` and the reference side by side for STEPS steps over
 * all N weights (in two update ranges), comparing after every step. */
static void run_vs_ref(const char *name, const char *opts, const refcfg *c)
{
    sq_optim *o = mk(name, opts, N);
    ref r;
    float w[N], gf[N];
    double wd[N], g[N];
    ref_init(&r, c);
    for (int i = 0; i < N; i++)
        w[i] = (float)(wd[i] = W0[i]);
    for (int s = 0; s < STEPS; s++) {
        grad_at(s, g);
        for (int i = 0; i < N; i++)
            gf[i] = (float)g[i];
        sq_optim_begin_step(o);
        sq_optim_update(o, w, gf, 0, 2);
        sq_optim_update(o, w, gf, 2, N - 2);
        ref_step(&r, wd, g, NULL);
        for (int i = 0; i < N; i++)
            ck_assert_msg(close_enough(w[i], wd[i]),
                          "%s %s: step %d weight %d: got %.9g, want %.9g",
                          name, opts ? opts : "", s + 1, i, (double)w[i], wd[i]);
    }
    ck_assert_int_eq(sq_optim_iterations(o), STEPS);
    sq_optim_free(o);
}

/* A range long enough to be shared by two threads in blocks (300,005
 * weights, above APPLY_PARALLEL's 262,144: the last block partial), its
 * values repeating the reference's five: every weight must follow its
 * reference element, step by step. */
static void run_long_vs_ref(const char *name, const char *opts, const refcfg *c)
{
    enum { NL = 5 * 60001 };
    sq_optim *o = mk(name, opts, NL);
    ref r;
    float *w = malloc(NL * sizeof *w), *gf = malloc(NL * sizeof *gf);
    double wd[N], g[N];
    ck_assert(w && gf);
    ref_init(&r, c);
    for (int i = 0; i < N; i++)
        wd[i] = W0[i];
    for (int i = 0; i < NL; i++)
        w[i] = (float)W0[i % N];
    sq_set_threads(2);
    for (int s = 0; s < STEPS; s++) {
        grad_at(s, g);
        for (int i = 0; i < NL; i++)
            gf[i] = (float)g[i % N];
        sq_optim_begin_step(o);
        sq_optim_update(o, w, gf, 0, NL);
        ref_step(&r, wd, g, NULL);
        for (int i = 0; i < NL; i++)
            if (!close_enough(w[i], wd[i % N]))
                ck_abort_msg("%s %s: step %d weight %d: got %.9g, want %.9g", name,
                             opts ? opts : "", s + 1, i, (double)w[i], wd[i % N]);
    }
    sq_set_threads(1);
    free(w);
    free(gf);
    sq_optim_free(o);
}

/* clipnorm's scale, (t * c) / norm as TensorFlow divides: the loops
 * compute it from the reciprocal with a correction, which must give the
 * division's float bit for bit: every value against the division written
 * here, over magnitudes from 2^-40 to 2^40, zeros of both signs, an
 * infinity and a NaN, and norms in the fast range and outside it. */
static unsigned next_u(void)
{
    return (unsigned)(trng_u64() >> 32);
}

START_TEST(clip_scale_is_the_division)
{
    enum { NC = 20011 };
    float *g = malloc(NC * sizeof *g), *w = malloc(NC * sizeof *w);
    float *got = malloc(NC * sizeof *got), *pen = malloc(NC * sizeof *pen);
    ck_assert(g && w && got && pen);
    for (int i = 0; i < NC; i++) {
        float m = (float)(next_u() % 1000000) / 1000000.0f + 1.0f;
        int e = (int)(next_u() % 81) - 40;
        g[i] = ldexpf(next_u() & 1 ? -m : m, e);
        w[i] = ldexpf((float)(next_u() % 1000) / 1000.0f - 0.5f, (int)(next_u() % 9) - 4);
    }
    g[0] = 0.0f;
    g[1] = -0.0f;
    g[2] = INFINITY;
    g[3] = NAN;
    g[4] = -INFINITY;
    static const float norms[] = { 1.0f, 0.3f, 1.7f, 3.14159f, 1234.567f, 0x1.fffffep+59f,
                                   7.1e-17f, 1e-30f, 1e30f, INFINITY };
    static const float cs[] = { 1.0f, 0.3f, 2.5f };
    for (size_t k = 0; k < sizeof norms / sizeof *norms; k++)
        for (size_t q = 0; q < sizeof cs / sizeof *cs; q++) {
            float norm = norms[k], c = cs[q];
            memcpy(got, g, NC * sizeof *g);
            sq_clip_scale(got, NC, c, norm);
            double s1 = 0, s2 = 0;
            /* without a penalty: the plain scale into another buffer */
            sq_pen_scale(w, g, pen, NC, 0, 0, c, norm, &s1, &s2);
            ck_assert(!memcmp(pen, got, NC * sizeof *pen));
            sq_pen_scale(w, g, pen, NC, 0.01f, 0.002f, c, norm, &s1, &s2);
            for (int i = 0; i < NC; i++) {
                volatile float prod = g[i] * c;
                volatile float want = prod / norm;
                /* Check records every passing assertion (a write to its pipe):
                 * 1.2 million of them took this test near Check's 4 s limit */
                if (memcmp(&got[i], (const void *)&want, sizeof want))
                    ck_abort_msg("clip: g %a c %a norm %a: got %a, want %a", (double)g[i],
                                 (double)c, (double)norm, (double)got[i], (double)want);
                float x = w[i], sg = (float)(x > 0) - (float)(x < 0);
                volatile float t = g[i] + (0.01f * sg + 0.002f * x);
                volatile float tp = t * c;
                volatile float want2 = tp / norm;
                if (memcmp(&pen[i], (const void *)&want2, sizeof want2))
                    ck_abort_msg("penalty and clip: t %a c %a norm %a: got %a, want %a",
                                 (double)t, (double)c, (double)norm, (double)pen[i],
                                 (double)want2);
            }
        }
    free(g);
    free(w);
    free(got);
    free(pen);
}
END_TEST

START_TEST(long_ranges_shared_by_threads)
{
    run_long_vs_ref("adam", NULL, &(refcfg){ .kind = R_ADAM, .lr = 0.001, .b1 = 0.9,
                                             .b2 = 0.999, .eps = 1e-7 });
    run_long_vs_ref("sgd", "learning_rate=0.1 momentum=0.9",
                    &(refcfg){ .kind = R_SGD, .lr = 0.1, .mom = 0.9 });
    run_long_vs_ref("rmsprop", "centered=true",
                    &(refcfg){ .kind = R_RMSPROP, .lr = 0.001, .rho = 0.9, .eps = 1e-7,
                               .centered = 1 });
}
END_TEST

/* ---- every optimizer and option combination against the reference ------- */

/* A step runs as TensorFlow's threads do, with flush-to-zero and
 * denormals-are-zero (x86), on one thread as on two. Adam's first moment
 * of a weight whose gradient is 0 moves by (0 - m) * (1 - beta_1): from
 * m = 1.2e-38 that is -1.2e-39, below 2^-126, so it is flushed and m stays
 * 1.2e-38 (without the flush m would become the subnormal 1.08e-38); a
 * subnormal moment already there (1e-40) is read as 0 and written as 0
 * (else 9e-41). The weights' change, m * alpha, is flushed too: w stays.
 * The caller's floating-point mode is as it was. */
START_TEST(step_flushes_subnormals)
{
#if (defined(__x86_64__) || defined(__i386__)) && defined(__SSE__)
    enum { NL = 100005 };
    /* valgrind emulates MXCSR without the two bits: nothing to check there */
    unsigned old = _mm_getcsr();
    _mm_setcsr(old | 0x8040u);
    int stick = (_mm_getcsr() & 0x8040u) == 0x8040u;
    _mm_setcsr(old);
    if (!stick)
        return;
    for (int threads = 1; threads <= 2; threads++) {
        sq_set_threads(threads);
        sq_optim *o = mk("adam", NULL, NL);
        float *w = malloc(NL * sizeof *w), *g = calloc(NL, sizeof *g);
        ck_assert(w && g);
        float *m = sq_optim_slots(o), *v = m + NL;
        for (int i = 0; i < NL; i++) {
            w[i] = 0.5f;
            m[i] = i % 2 ? 1e-40f : 1.2e-38f;
            v[i] = 1.0f;
        }
        const sq_range r = { 0, NL };
        const sq_regularizer *pen = NULL;
        unsigned before = _mm_getcsr();
        sq_optim_step(o, w, g, &r, &pen, 1, NULL, NULL);
        ck_assert_uint_eq(_mm_getcsr() & ~0x3fu, before & ~0x3fu);   /* modes, not flags */
        for (int i = 0; i < NL; i++) {
            float want = i % 2 ? 0.0f : 1.2e-38f;
            if (m[i] != want || w[i] != 0.5f)
                ck_abort_msg("%d thread(s): weight %d: m = %g, w = %.9g; want m = %g, w = 0.5",
                             threads, i, (double)m[i], (double)w[i], (double)want);
        }
        free(w);
        free(g);
        sq_optim_free(o);
    }
    sq_set_threads(1);
#endif
}
END_TEST

START_TEST(ref_sgd)
{
    run_vs_ref("sgd", NULL, &(refcfg){ .kind = R_SGD, .lr = 0.01 });
    run_vs_ref("sgd", "learning_rate=0.1", &(refcfg){ .kind = R_SGD, .lr = 0.1 });
    run_vs_ref("sgd", "learning_rate=0.1 momentum=0.9",
               &(refcfg){ .kind = R_SGD, .lr = 0.1, .mom = 0.9 });
    run_vs_ref("sgd", "learning_rate=0.05 momentum=0.5 nesterov=true",
               &(refcfg){ .kind = R_SGD, .lr = 0.05, .mom = 0.5, .nesterov = 1 });
    run_vs_ref("sgd", "momentum=1 nesterov=True",
               &(refcfg){ .kind = R_SGD, .lr = 0.01, .mom = 1, .nesterov = 1 });
    /* nesterov without momentum is plain gradient descent */
    run_vs_ref("sgd", "learning_rate=0.1 nesterov=1", &(refcfg){ .kind = R_SGD, .lr = 0.1 });
    run_vs_ref("sgd", "learning_rate=0.1 momentum=0.9 decay=0.1",
               &(refcfg){ .kind = R_SGD, .lr = 0.1, .mom = 0.9, .decay = 0.1 });
}
END_TEST

START_TEST(ref_adam)
{
    run_vs_ref("adam", NULL, &(refcfg){ .kind = R_ADAM, .lr = 0.001, .b1 = 0.9,
                                        .b2 = 0.999, .eps = 1e-7 });
    run_vs_ref("adam", "learning_rate=0.05 beta_1=0.8 beta_2=0.99 epsilon=0.001",
               &(refcfg){ .kind = R_ADAM, .lr = 0.05, .b1 = 0.8, .b2 = 0.99, .eps = 1e-3 });
    run_vs_ref("adam", "learning_rate=0.05 amsgrad=true",
               &(refcfg){ .kind = R_ADAM, .lr = 0.05, .b1 = 0.9, .b2 = 0.999,
                          .eps = 1e-7, .amsgrad = 1 });
    run_vs_ref("adam", "learning_rate=0.05 beta_2=0.5 amsgrad=True",
               &(refcfg){ .kind = R_ADAM, .lr = 0.05, .b1 = 0.9, .b2 = 0.5,
                          .eps = 1e-7, .amsgrad = 1 });
    run_vs_ref("adam", "learning_rate=0.05 decay=0.5",
               &(refcfg){ .kind = R_ADAM, .lr = 0.05, .b1 = 0.9, .b2 = 0.999,
                          .eps = 1e-7, .decay = 0.5 });
    run_vs_ref("adam", "learning_rate=0.05 beta_1=0",
               &(refcfg){ .kind = R_ADAM, .lr = 0.05, .b1 = 0, .b2 = 0.999, .eps = 1e-7 });
}
END_TEST

START_TEST(ref_rmsprop)
{
    run_vs_ref("rmsprop", NULL, &(refcfg){ .kind = R_RMSPROP, .lr = 0.001, .rho = 0.9,
                                           .eps = 1e-7 });
    run_vs_ref("rmsprop", "learning_rate=0.05 rho=0.8 epsilon=0.01",
               &(refcfg){ .kind = R_RMSPROP, .lr = 0.05, .rho = 0.8, .eps = 0.01 });
    run_vs_ref("rmsprop", "learning_rate=0.05 centered=true epsilon=0.01",
               &(refcfg){ .kind = R_RMSPROP, .lr = 0.05, .rho = 0.9, .eps = 0.01,
                          .centered = 1 });
    run_vs_ref("rmsprop", "learning_rate=0.05 momentum=0.7 epsilon=0.01",
               &(refcfg){ .kind = R_RMSPROP, .lr = 0.05, .rho = 0.9, .eps = 0.01,
                          .mom = 0.7 });
    run_vs_ref("rmsprop", "learning_rate=0.05 momentum=0.7 centered=true epsilon=0.01",
               &(refcfg){ .kind = R_RMSPROP, .lr = 0.05, .rho = 0.9, .eps = 0.01,
                          .mom = 0.7, .centered = 1 });
    run_vs_ref("rmsprop", "learning_rate=0.05 momentum=0.7 decay=0.25",
               &(refcfg){ .kind = R_RMSPROP, .lr = 0.05, .rho = 0.9, .eps = 1e-7,
                          .mom = 0.7, .decay = 0.25 });
}
END_TEST

START_TEST(ref_adagrad)
{
    run_vs_ref("adagrad", NULL, &(refcfg){ .kind = R_ADAGRAD, .lr = 0.001, .iav = 0.1,
                                           .eps = 1e-7 });
    run_vs_ref("adagrad", "learning_rate=0.1 initial_accumulator_value=0.5 epsilon=0.01",
               &(refcfg){ .kind = R_ADAGRAD, .lr = 0.1, .iav = 0.5, .eps = 0.01 });
    run_vs_ref("adagrad", "learning_rate=0.1 initial_accumulator_value=0",
               &(refcfg){ .kind = R_ADAGRAD, .lr = 0.1, .iav = 0, .eps = 1e-7 });
    run_vs_ref("adagrad", "learning_rate=0.1 decay=1",
               &(refcfg){ .kind = R_ADAGRAD, .lr = 0.1, .iav = 0.1, .eps = 1e-7, .decay = 1 });
}
END_TEST

START_TEST(ref_adadelta)
{
    run_vs_ref("adadelta", NULL, &(refcfg){ .kind = R_ADADELTA, .lr = 0.001, .rho = 0.95,
                                            .eps = 1e-7 });
    run_vs_ref("adadelta", "learning_rate=1.0 rho=0.9 epsilon=1e-3",
               &(refcfg){ .kind = R_ADADELTA, .lr = 1.0, .rho = 0.9, .eps = 1e-3 });
}
END_TEST

START_TEST(ref_adamax)
{
    run_vs_ref("adamax", NULL, &(refcfg){ .kind = R_ADAMAX, .lr = 0.001, .b1 = 0.9,
                                          .b2 = 0.999, .eps = 1e-7 });
    run_vs_ref("adamax", "learning_rate=0.05 beta_1=0.7 beta_2=0.5 epsilon=0.01",
               &(refcfg){ .kind = R_ADAMAX, .lr = 0.05, .b1 = 0.7, .b2 = 0.5, .eps = 0.01 });
    run_vs_ref("adamax", "learning_rate=0.05 decay=0.2",
               &(refcfg){ .kind = R_ADAMAX, .lr = 0.05, .b1 = 0.9, .b2 = 0.999,
                          .eps = 1e-7, .decay = 0.2 });
}
END_TEST

START_TEST(ref_nadam)
{
    run_vs_ref("nadam", NULL, &(refcfg){ .kind = R_NADAM, .lr = 0.001, .b1 = 0.9,
                                         .b2 = 0.999, .eps = 1e-7, .sd = 0.004 });
    run_vs_ref("nadam", "learning_rate=0.05 beta_1=0.8 beta_2=0.99 epsilon=0.001",
               &(refcfg){ .kind = R_NADAM, .lr = 0.05, .b1 = 0.8, .b2 = 0.99,
                          .eps = 1e-3, .sd = 0.004 });
    run_vs_ref("nadam", "learning_rate=0.05 schedule_decay=0.5",
               &(refcfg){ .kind = R_NADAM, .lr = 0.05, .b1 = 0.9, .b2 = 0.999,
                          .eps = 1e-7, .sd = 0.5 });
}
END_TEST

START_TEST(ref_ftrl)
{
    run_vs_ref("ftrl", NULL, &(refcfg){ .kind = R_FTRL, .lr = 0.001, .lrp = -0.5,
                                        .iav = 0.1 });
    run_vs_ref("ftrl", "learning_rate=0.1", &(refcfg){ .kind = R_FTRL, .lr = 0.1,
                                                       .lrp = -0.5, .iav = 0.1 });
    run_vs_ref("ftrl", "learning_rate=0.1 l1_regularization_strength=0.5 "
               "l2_regularization_strength=0.2",
               &(refcfg){ .kind = R_FTRL, .lr = 0.1, .lrp = -0.5, .iav = 0.1,
                          .l1 = 0.5, .l2 = 0.2 });
    run_vs_ref("ftrl", "learning_rate=0.1 learning_rate_power=-0.3 "
               "initial_accumulator_value=0.5 beta=0.1",
               &(refcfg){ .kind = R_FTRL, .lr = 0.1, .lrp = -0.3, .iav = 0.5,
                          .beta = 0.1 });
    run_vs_ref("ftrl", "learning_rate=0.1 l2_shrinkage_regularization_strength=0.3",
               &(refcfg){ .kind = R_FTRL, .lr = 0.1, .lrp = -0.5, .iav = 0.1,
                          .l2s = 0.3 });
    run_vs_ref("ftrl", "learning_rate=0.1 learning_rate_power=0 decay=0.5",
               &(refcfg){ .kind = R_FTRL, .lr = 0.1, .lrp = 0, .iav = 0.1,
                          .decay = 0.5 });
}
END_TEST

/* ---- literal, hand-computed steps ----------------------------------------- */

START_TEST(literal_sgd)
{
    sq_optim *o = mk("sgd", "learning_rate=0.1", 1);
    near(one_step(o, 1.0f, 0.5f), 0.95, 1e-7, "sgd lr 0.1, w 1, g 0.5");
    sq_optim_free(o);

    /* Keras docstring: SGD(learning_rate=0.1, momentum=0.9), loss var^2/2 on
     * var 1.0: the first step moves 0.1, the second 0.18. */
    o = mk("sgd", "learning_rate=0.1 momentum=0.9", 1);
    float w = one_step(o, 1.0f, 1.0f);
    near(w, 0.9, 1e-7, "sgd momentum step 1");
    near(one_step(o, w, w), 0.72, 1e-7, "sgd momentum step 2");
    sq_optim_free(o);

    /* nesterov, g 0.5 twice: m -0.05, w += 0.9*-0.05 - 0.05 -> 0.905;
     * m -0.095, w += 0.9*-0.095 - 0.05 -> 0.7695 */
    o = mk("sgd", "learning_rate=0.1 momentum=0.9 nesterov=true", 1);
    w = one_step(o, 1.0f, 0.5f);
    near(w, 0.905, 1e-7, "nesterov step 1");
    near(one_step(o, w, 0.5f), 0.7695, 1e-7, "nesterov step 2");
    sq_optim_free(o);
}
END_TEST

START_TEST(literal_adam)
{
    /* Keras docstring: Adam(learning_rate=0.1) on var 10, grad 10: the first
     * step is -learning_rate*sign(grad) -> 9.9 (9.90000003 with epsilon). */
    sq_optim *o = mk("adam", "learning_rate=0.1", 1);
    near(one_step(o, 10.0f, 10.0f), 9.9, 1e-5, "adam docstring");
    sq_optim_free(o);
    /* defaults, w 1, g 0.5: 1 - 0.001 * 0.0158113883 / 0.0158114883 */
    o = mk("adam", NULL, 1);
    near(one_step(o, 1.0f, 0.5f), 0.9990000063, 1e-7, "adam default step");
    sq_optim_free(o);
    /* a negative gradient moves up by lr */
    o = mk("adam", "learning_rate=0.01", 1);
    near(one_step(o, 1.0f, -3.0f), 1.01, 1e-7, "adam sign");
    sq_optim_free(o);
}
END_TEST

START_TEST(literal_rmsprop)
{
    /* Keras docstring: RMSprop(learning_rate=0.1) on var 10, grad 10 -> 9.683772 */
    sq_optim *o = mk("rmsprop", "learning_rate=0.1", 1);
    near(one_step(o, 10.0f, 10.0f), 9.683772, 1e-5, "rmsprop docstring");
    sq_optim_free(o);
    /* w 1, g 0.5, rho 0.9 -> s 0.025. epsilon 0.01 shows where it goes:
     * no momentum (Python update): 1 - 0.05 / (sqrt(0.025) + 0.01) */
    o = mk("rmsprop", "learning_rate=0.1 epsilon=0.01", 1);
    near(one_step(o, 1.0f, 0.5f), 0.7025825642, 1e-7, "rmsprop eps outside");
    sq_optim_free(o);
    /* momentum > 0 (ApplyRMSProp): 1 - 0.05 / sqrt(0.025 + 0.01) */
    o = mk("rmsprop", "learning_rate=0.1 epsilon=0.01 momentum=0.5", 1);
    near(one_step(o, 1.0f, 0.5f), 0.7327387581, 1e-7, "rmsprop eps inside");
    sq_optim_free(o);
    /* centered, no momentum: mg 0.05, denom 0.025 - 0.0025 = 0.0225:
     * 1 - 0.05 / (0.15 + 0.01) = 0.6875 */
    o = mk("rmsprop", "learning_rate=0.1 epsilon=0.01 centered=true", 1);
    near(one_step(o, 1.0f, 0.5f), 0.6875, 1e-7, "rmsprop centered");
    sq_optim_free(o);
    /* centered with momentum: 1 - 0.05 / sqrt(0.0225 + 0.01) */
    o = mk("rmsprop", "learning_rate=0.1 epsilon=0.01 centered=true momentum=0.5", 1);
    near(one_step(o, 1.0f, 0.5f), 0.7226499019, 1e-7, "rmsprop centered momentum");
    sq_optim_free(o);
}
END_TEST

START_TEST(literal_others)
{
    /* Adagrad lr 0.1: accum 0.1 + 0.25 = 0.35; 1 - 0.05 / (0.5916079783 + 1e-7) */
    sq_optim *o = mk("adagrad", "learning_rate=0.1", 1);
    near(one_step(o, 1.0f, 0.5f), 0.9154845888, 1e-7, "adagrad");
    sq_optim_free(o);
    /* Adamax: m 0.05, u 0.5; 1 - 0.001 / 0.1 * 0.05 / (0.5 + 1e-7) */
    o = mk("adamax", NULL, 1);
    near(one_step(o, 1.0f, 0.5f), 0.9990000002, 1e-7, "adamax");
    sq_optim_free(o);
    /* Nadam docstring: Nadam(learning_rate=0.2) on var 10, grad 10 -> "9.8";
     * exactly 9.788709646 (u_1 = 0.4500734736, u_2 = 0.4501469352). */
    o = mk("nadam", "learning_rate=0.2", 1);
    near(one_step(o, 10.0f, 10.0f), 9.788709646, 2e-6, "nadam docstring");
    sq_optim_free(o);
    /* defaults, w 1, g 0.5: u_1, u_2 as above; m = 0.05, v = 0.00025, so
     * m_bar = (1 - u_1) g / (1 - u_1) + u_2 m / (1 - u_1 u_2)
     *       = 0.5 + 0.4501469352 * 0.05 / 0.7974008053 = 0.5282258892 and
     * w = 1 - 0.001 * 0.5282258892 / (sqrt(0.25) + 1e-7) = 0.9989435484 */
    o = mk("nadam", NULL, 1);
    near(one_step(o, 1.0f, 0.5f), 0.9989435484, 1e-7, "nadam default");
    sq_optim_free(o);
    /* Adadelta lr 1: accum 0.0125; update sqrt(1e-7)/sqrt(0.0125001)*0.5 */
    o = mk("adadelta", "learning_rate=1", 1);
    near(one_step(o, 1.0f, 0.5f), 0.9985857921, 1e-7, "adadelta");
    sq_optim_free(o);
    /* Ftrl lr 0.1: n 0.1 -> 0.35, z = 0.5 - (0.5916 - 0.3162) / 0.1 = -2.2538;
     * w = 2.2538 / (0.5916 / 0.1) */
    o = mk("ftrl", "learning_rate=0.1", 1);
    near(one_step(o, 1.0f, 0.5f), 0.3809620907, 1e-7, "ftrl");
    sq_optim_free(o);
    /* Ftrl with l1 above |z|: the weight is cut to exactly 0 */
    o = mk("ftrl", "learning_rate=0.1 l1_regularization_strength=3", 1);
    ck_assert(one_step(o, 1.0f, 0.5f) == 0.0f);
    sq_optim_free(o);
}
END_TEST

/* ---- ranges (frozen layers) ----------------------------------------------- */

/* Adam over 5 steps where weights 1..2 are frozen on steps 2 and 3 and
 * weight 4 is never updated: frozen weights keep their values, their slots
 * are left alone (the later steps match a reference that skipped them). */
START_TEST(frozen_ranges)
{
    static const int act_all[N] = { 1, 1, 1, 1, 0 };
    static const int act_frozen[N] = { 1, 0, 0, 1, 0 };
    const refcfg c = { .kind = R_ADAM, .lr = 0.05, .b1 = 0.9, .b2 = 0.999, .eps = 1e-7 };
    sq_optim *o = mk("adam", "learning_rate=0.05", N);
    ref r;
    float w[N], gf[N];
    double wd[N], g[N];
    ref_init(&r, &c);
    for (int i = 0; i < N; i++)
        w[i] = (float)(wd[i] = W0[i]);
    for (int s = 0; s < STEPS; s++) {
        int frozen = s == 1 || s == 2;
        float before[N];
        memcpy(before, w, sizeof w);
        grad_at(s, g);
        for (int i = 0; i < N; i++)
            gf[i] = (float)g[i];
        sq_optim_begin_step(o);
        if (frozen) {
            sq_optim_update(o, w, gf, 0, 1);
            sq_optim_update(o, w, gf, 3, 1);
        } else {
            sq_optim_update(o, w, gf, 0, 4);
        }
        ref_step(&r, wd, g, frozen ? act_frozen : act_all);
        for (int i = 0; i < N; i++) {
            if ((frozen && (i == 1 || i == 2)) || i == 4)
                ck_assert_msg(w[i] == before[i], "step %d: frozen weight %d moved", s + 1, i);
            ck_assert_msg(close_enough(w[i], wd[i]),
                          "step %d weight %d: got %.9g, want %.9g", s + 1, i,
                          (double)w[i], wd[i]);
        }
    }
    /* out-of-range requests do nothing */
    float keep[N];
    memcpy(keep, w, sizeof w);
    sq_optim_begin_step(o);
    sq_optim_update(o, w, gf, 3, 5);
    sq_optim_update(o, w, gf, 6, 1);
    sq_optim_update(o, w, gf, 0, 0);
    ck_assert(memcmp(keep, w, sizeof w) == 0);
    sq_optim_free(o);
}
END_TEST

START_TEST(update_before_begin_is_noop)
{
    sq_optim *o = mk("adam", NULL, 1);
    float w = 1.0f, g = 0.5f;
    sq_optim_update(o, &w, &g, 0, 1);
    ck_assert(w == 1.0f);
    ck_assert_int_eq(sq_optim_iterations(o), 0);
    sq_optim_free(o);
}
END_TEST

START_TEST(zero_params)
{
    sq_optim *o = mk("adam", NULL, 0);
    sq_optim_begin_step(o);
    sq_optim_update(o, NULL, NULL, 0, 0);
    size_t sz = sq_optim_state_size(o);
    char *st = malloc(sz);
    sq_optim_state_save(o, st);
    sq_optim_state_restore(o, st);
    free(st);
    ck_assert_int_eq(sq_optim_iterations(o), 1);
    sq_optim_free(o);
    sq_optim_free(NULL);
}
END_TEST

/* ---- defaults, names, aliases --------------------------------------------- */

START_TEST(defaults_describe)
{
    /* keras-reference.md §7.1 */
    expect_describe("sgd", NULL, "sgd (learning_rate=0.01, momentum=0.0)");
    expect_describe("adam", NULL,
                    "adam (learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-07)");
    expect_describe("rmsprop", NULL,
                    "rmsprop (learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-07)");
    expect_describe("adagrad", NULL,
                    "adagrad (learning_rate=0.001, initial_accumulator_value=0.1, "
                    "epsilon=1e-07)");
    expect_describe("adadelta", NULL,
                    "adadelta (learning_rate=0.001, rho=0.95, epsilon=1e-07)");
    expect_describe("adamax", NULL,
                    "adamax (learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-07)");
    expect_describe("nadam", NULL,
                    "nadam (learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-07)");
    expect_describe("ftrl", NULL,
                    "ftrl (learning_rate=0.001, learning_rate_power=-0.5, "
                    "initial_accumulator_value=0.1, l1_regularization_strength=0.0, "
                    "l2_regularization_strength=0.0, "
                    "l2_shrinkage_regularization_strength=0.0, beta=0.0)");
}
END_TEST

START_TEST(options_describe)
{
    expect_describe("sgd", "learning_rate=0.1 momentum=0.9 nesterov=true",
                    "sgd (learning_rate=0.1, momentum=0.9, nesterov=True)");
    expect_describe("sgd", "lr=0.5 decay=1e-6",
                    "sgd (learning_rate=0.5, momentum=0.0, decay=1e-06)");
    expect_describe("adam", "amsgrad=true learning_rate=1e-4",
                    "adam (learning_rate=0.0001, beta_1=0.9, beta_2=0.999, epsilon=1e-07, "
                    "amsgrad=True)");
    expect_describe("adam", "amsgrad=false learning_rate=1e-5 epsilon=1",
                    "adam (learning_rate=1e-05, beta_1=0.9, beta_2=0.999, epsilon=1.0)");
    /* epsilon=0 is Keras's backend epsilon (`epsilon or backend.epsilon()`) */
    expect_describe("adam", "epsilon=0",
                    "adam (learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-07)");
    expect_describe("rmsprop", "centered=True momentum=0.25 learning_rate=2",
                    "rmsprop (learning_rate=2.0, rho=0.9, momentum=0.25, epsilon=1e-07, "
                    "centered=True)");
    expect_describe("nadam", "schedule_decay=0.01",
                    "nadam (learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-07, "
                    "schedule_decay=0.01)");
    expect_describe("sgd", "learning_rate=1e16", "sgd (learning_rate=1e+16, momentum=0.0)");
    expect_describe("sgd", "learning_rate=123.25", "sgd (learning_rate=123.25, momentum=0.0)");
    expect_describe("sgd", "learning_rate=0.3", "sgd (learning_rate=0.3, momentum=0.0)");

    /* a short buffer is cut, still terminated */
    char small[8];
    sq_optim *o = mk("adam", NULL, 1);
    sq_optim_describe(o, small, sizeof small);
    ck_assert_str_eq(small, "adam (l");
    sq_optim_free(o);
}
END_TEST

START_TEST(names_case_insensitive)
{
    const char *names[] = { "Adam", "ADAM", "adam", "SGD", "Sgd", "RMSprop", "RMSProp",
                            "Adagrad", "AdaDelta", "Adamax", "Nadam", "NADAM", "Ftrl" };
    const char *want[] = { "adam", "adam", "adam", "sgd", "sgd", "rmsprop", "rmsprop",
                           "adagrad", "adadelta", "adamax", "nadam", "nadam", "ftrl" };
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char buf[256];
        sq_optim *o = mk(names[i], NULL, 2);
        sq_optim_describe(o, buf, sizeof buf);
        ck_assert_msg(strncmp(buf, want[i], strlen(want[i])) == 0 &&
                      buf[strlen(want[i])] == ' ', "%s -> %s", names[i], buf);
        sq_optim_free(o);
    }
}
END_TEST

START_TEST(lr_alias)
{
    sq_optim *a = mk("SGD", "lr=0.1", 1), *b = mk("sgd", "learning_rate=0.1", 1);
    float wa = one_step(a, 1.0f, 0.5f), wb = one_step(b, 1.0f, 0.5f);
    ck_assert(wa == wb);
    near(wa, 0.95, 1e-7, "lr alias");
    sq_optim_free(a);
    sq_optim_free(b);
    run_vs_ref("adam", "lr=0.05", &(refcfg){ .kind = R_ADAM, .lr = 0.05, .b1 = 0.9,
                                             .b2 = 0.999, .eps = 1e-7 });
}
END_TEST

/* ---- errors ---------------------------------------------------------------- */

#define UNKNOWN_TAIL ". Please ensure this object is passed to the `custom_objects` " \
    "argument. See https://www.tensorflow.org/guide/keras/save_and_serialize" \
    "#registering_the_custom_object for details."

START_TEST(errors_names_options)
{
    expect_err("foo", NULL, "Unknown optimizer: foo" UNKNOWN_TAIL);
    expect_err("Foo", NULL, "Unknown optimizer: Foo" UNKNOWN_TAIL);
    expect_err("adamw", NULL, "Unknown optimizer: adamw" UNKNOWN_TAIL);
    expect_err("", NULL, "Unknown optimizer: " UNKNOWN_TAIL);
    expect_err("LossScaleOptimizer", NULL,
               "LossScaleOptimizer wraps another optimizer; seqsh does not support it");

    expect_err("adam", "momentum=0.9", "Unexpected keyword argument passed to optimizer: momentum");
    expect_err("sgd", "beta_1=0.9", "Unexpected keyword argument passed to optimizer: beta_1");
    expect_err("adagrad", "rho=0.9", "Unexpected keyword argument passed to optimizer: rho");
    expect_err("rmsprop", "amsgrad=true", "Unexpected keyword argument passed to optimizer: amsgrad");
    expect_err("nadam", "amsgrad=true", "Unexpected keyword argument passed to optimizer: amsgrad");
    expect_err("adam", "Learning_rate=0.1",
               "Unexpected keyword argument passed to optimizer: Learning_rate");
    expect_err("adam", "schedule_decay=0.1",
               "Unexpected keyword argument passed to optimizer: schedule_decay");
    expect_err("adam", "clipnorm=-1", "Expected clipnorm >= 0, received: -1");
    expect_err("sgd", "clipvalue=-0.5", "Expected clipvalue >= 0, received: -0.5");
    expect_err("sgd", "global_clipnorm=x", "SGD: `global_clipnorm` must be a number, got 'x'");
    expect_err("adam", "clipnorm=1.0 global_clipnorm=1", "Cannot accept both `clipnorm` and "
               "`global_clipnorm`, passed `clipnorm` 1.0, `global_clipnorm` 1");
    expect_err("adam", "clipnorm=1 clipnorm=2", "Adam got multiple values for argument 'clipnorm'");
    expect_err("nadam", "learning_rate=exponential_decay(0.1,10,0.5)",
               "The Nadam optimizer does not support tf.keras.optimizers.LearningRateSchedules "
               "as the learning rate.");
    expect_err("sgd", "learning_rate=exponential_decay(0.1,10)",
               "ExponentialDecay.__init__() missing 1 required positional argument: 'decay_rate'");
    expect_err("sgd", "learning_rate=step_decay(0.1)", "Unknown decay: step_decay" UNKNOWN_TAIL);
    expect_err("sgd", "learning_rate=piecewise_constant_decay([1,2],[0.1,0.2])",
               "The length of boundaries should be 1 less than the length of values");
    expect_err("nadam", "decay=0.1", "Nadam: Keras 2.6 ignores `decay` for Nadam "
               "(it takes `schedule_decay` for its momentum schedule)");
    expect_err("ftrl", "lr=0.1", "Ftrl: Keras 2.6 ignores `lr` for Ftrl; use `learning_rate`");

    expect_err("adam", "beta_1=0.8 beta_1=0.7", "Adam got multiple values for argument 'beta_1'");
    expect_err("adam", "lr=0.1 learning_rate=0.2",
               "Adam: both `lr` and `learning_rate` given; use `learning_rate`");
    expect_err("adam", "learning_rate=0.1 lr=0.2",
               "Adam: both `lr` and `learning_rate` given; use `learning_rate`");
    expect_err("adam", "lr=0.1 lr=0.2", "Adam got multiple values for argument 'lr'");
}
END_TEST

START_TEST(errors_values)
{
    /* Keras's own messages */
    expect_err("sgd", "momentum=1.5", "`momentum` must be between [0, 1].");
    expect_err("sgd", "momentum=-0.1", "`momentum` must be between [0, 1].");
    expect_err("rmsprop", "momentum=2", "`momentum` must be between [0, 1].");
    expect_err("sgd", "lr=-1", "Expected lr >= 0, received: -1");
    expect_err("adam", "lr=-0.5", "Expected lr >= 0, received: -0.5");
    expect_err("adam", "decay=-1", "Expected decay >= 0, received: -1");
    expect_err("nadam", "schedule_decay=-0.25", "Expected decay >= 0, received: -0.25");
    expect_err("adagrad", "initial_accumulator_value=-0.1",
               "initial_accumulator_value must be non-negative: -0.1");
    expect_err("ftrl", "initial_accumulator_value=-1",
               "initial_accumulator_value -1.000000 needs to be positive or zero");
    expect_err("ftrl", "learning_rate_power=0.5",
               "learning_rate_power 0.500000 needs to be negative or zero");
    expect_err("ftrl", "l1_regularization_strength=-2",
               "l1_regularization_strength -2.000000 needs to be positive or zero");
    expect_err("ftrl", "l2_regularization_strength=-2",
               "l2_regularization_strength -2.000000 needs to be positive or zero");
    expect_err("ftrl", "l2_shrinkage_regularization_strength=-0.5",
               "l2_shrinkage_regularization_strength -0.500000 needs to be positive or zero");

    /* seqsh's limits, in the wording of layer options */
    expect_err("adam", "learning_rate=0", "Adam: `learning_rate` must be > 0, got '0'");
    expect_err("adam", "learning_rate=-1", "Adam: `learning_rate` must be > 0, got '-1'");
    expect_err("sgd", "lr=0", "SGD: `lr` must be > 0, got '0'");
    expect_err("adam", "learning_rate=abc", "Adam: `learning_rate` must be a number, got 'abc'");
    expect_err("adam", "learning_rate=inf", "Adam: `learning_rate` must be a number, got 'inf'");
    expect_err("adam", "learning_rate=nan", "Adam: `learning_rate` must be a number, got 'nan'");
    expect_err("adam", "learning_rate=1e999", "Adam: `learning_rate` must be a number, got '1e999'");
    expect_err("adam", "learning_rate=", "Adam: `learning_rate` must be a number, got ''");
    expect_err("sgd", "momentum=0.5x", "SGD: `momentum` must be a number, got '0.5x'");
    expect_err("adam", "amsgrad=yes", "Adam: `amsgrad` must be true or false, got 'yes'");
    expect_err("sgd", "nesterov=2", "SGD: `nesterov` must be true or false, got '2'");
    expect_err("adam", "beta_1=1", "Adam: `beta_1` must be in [0, 1), got '1'");
    expect_err("adamax", "beta_2=-0.1", "Adamax: `beta_2` must be in [0, 1), got '-0.1'");
    expect_err("nadam", "beta_2=1.0", "Nadam: `beta_2` must be in [0, 1), got '1.0'");
    expect_err("adam", "epsilon=-1e-7", "Adam: `epsilon` must be >= 0, got '-1e-7'");
    expect_err("rmsprop", "rho=1.5", "RMSprop: `rho` must be between [0, 1], got '1.5'");
    expect_err("adadelta", "rho=-0.5", "Adadelta: `rho` must be between [0, 1], got '-0.5'");
    expect_err("ftrl", "beta=-1", "Ftrl: `beta` must be >= 0, got '-1'");

    /* edges that are fine */
    sq_optim_free(mk("sgd", "momentum=0", 1));
    sq_optim_free(mk("sgd", "momentum=1", 1));
    sq_optim_free(mk("adam", "beta_1=0 beta_2=0", 1));
    sq_optim_free(mk("rmsprop", "rho=0", 1));
    sq_optim_free(mk("rmsprop", "rho=1", 1));
    sq_optim_free(mk("adagrad", "initial_accumulator_value=0", 1));
    sq_optim_free(mk("ftrl", "learning_rate_power=0 initial_accumulator_value=0", 1));
}
END_TEST

/* ---- state snapshots ---------------------------------------------------- */

/* Runs 2 steps, snapshots, runs 2 more, restores (state and weights), runs
 * the same 2 again: the results must be identical to the bit. */
static void roundtrip(const char *name, const char *opts)
{
    sq_optim *o = mk(name, opts, N);
    float w[N], gf[N], w_snap[N], w_a[N];
    double g[N];
    for (int i = 0; i < N; i++)
        w[i] = (float)W0[i];
    for (int s = 0; s < 2; s++) {
        grad_at(s, g);
        for (int i = 0; i < N; i++)
            gf[i] = (float)g[i];
        sq_optim_begin_step(o);
        sq_optim_update(o, w, gf, 0, N);
    }
    size_t sz = sq_optim_state_size(o);
    unsigned char *st = malloc(sz), *st2 = malloc(sz);
    ck_assert(st && st2);
    sq_optim_state_save(o, st);
    memcpy(w_snap, w, sizeof w);
    for (int pass = 0; pass < 2; pass++) {
        for (int s = 2; s < 4; s++) {
            grad_at(s, g);
            for (int i = 0; i < N; i++)
                gf[i] = (float)g[i];
            sq_optim_begin_step(o);
            sq_optim_update(o, w, gf, 0, N);
        }
        ck_assert_int_eq(sq_optim_iterations(o), 4);
        if (pass == 0) {
            memcpy(w_a, w, sizeof w);
            ck_assert_msg(memcmp(w_a, w_snap, sizeof w) != 0, "%s: steps changed nothing", name);
            sq_optim_state_restore(o, st);
            ck_assert_int_eq(sq_optim_iterations(o), 2);
            sq_optim_state_save(o, st2);
            ck_assert_msg(memcmp(st, st2, sz) == 0, "%s: restore/save differ", name);
            memcpy(w, w_snap, sizeof w);
        } else {
            ck_assert_msg(memcmp(w_a, w, sizeof w) == 0, "%s %s: replay differs", name,
                          opts ? opts : "");
        }
    }
    free(st);
    free(st2);
    sq_optim_free(o);
}

START_TEST(state_roundtrip)
{
    roundtrip("sgd", "learning_rate=0.1");
    roundtrip("sgd", "learning_rate=0.1 momentum=0.9 nesterov=true");
    roundtrip("adam", "amsgrad=true");
    roundtrip("adam", "decay=0.5");
    roundtrip("rmsprop", "momentum=0.5 centered=true");
    roundtrip("rmsprop", "centered=true");
    roundtrip("adagrad", NULL);
    roundtrip("adadelta", "learning_rate=1");
    roundtrip("adamax", NULL);
    roundtrip("nadam", NULL);   /* includes the momentum schedule */
    roundtrip("ftrl", "learning_rate=0.1");
}
END_TEST

START_TEST(state_sizes)
{
    const size_t n = 7, f = sizeof(float);
    sq_optim *plain = mk("sgd", NULL, n);
    size_t base = sq_optim_state_size(plain);
    struct { const char *name, *opts; size_t nslots; } cases[] = {
        { "sgd", "momentum=0.9", 1 }, { "adam", NULL, 2 }, { "adam", "amsgrad=1", 3 },
        { "rmsprop", NULL, 1 }, { "rmsprop", "momentum=0.1", 2 },
        { "rmsprop", "centered=1", 2 }, { "rmsprop", "centered=1 momentum=0.1", 3 },
        { "adagrad", NULL, 1 }, { "adadelta", NULL, 2 }, { "adamax", NULL, 2 },
        { "nadam", NULL, 2 }, { "ftrl", NULL, 2 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        sq_optim *o = mk(cases[i].name, cases[i].opts, n);
        ck_assert_msg(sq_optim_state_size(o) == base + cases[i].nslots * n * f,
                      "%s %s: %zu bytes", cases[i].name, cases[i].opts ? cases[i].opts : "",
                      sq_optim_state_size(o));
        sq_optim_free(o);
    }
    sq_optim_free(plain);
}
END_TEST

static Suite *optim_suite(void)
{
    Suite *s = suite_create("optim");
    TCase *tc = tcase_create("reference");
    tcase_add_test(tc, ref_sgd);
    tcase_add_test(tc, ref_adam);
    tcase_add_test(tc, ref_rmsprop);
    tcase_add_test(tc, ref_adagrad);
    tcase_add_test(tc, ref_adadelta);
    tcase_add_test(tc, ref_adamax);
    tcase_add_test(tc, ref_nadam);
    tcase_add_test(tc, ref_ftrl);
    tcase_add_test(tc, long_ranges_shared_by_threads);
    tcase_add_test(tc, step_flushes_subnormals);
    suite_add_tcase(s, tc);

    tc = tcase_create("literal");
    tcase_add_test(tc, literal_sgd);
    tcase_add_test(tc, literal_adam);
    tcase_add_test(tc, literal_rmsprop);
    tcase_add_test(tc, literal_others);
    suite_add_tcase(s, tc);

    tc = tcase_create("ranges");
    tcase_add_test(tc, frozen_ranges);
    tcase_add_test(tc, update_before_begin_is_noop);
    tcase_add_test(tc, zero_params);
    suite_add_tcase(s, tc);

    tc = tcase_create("options");
    tcase_add_test(tc, defaults_describe);
    tcase_add_test(tc, options_describe);
    tcase_add_test(tc, names_case_insensitive);
    tcase_add_test(tc, lr_alias);
    tcase_add_test(tc, errors_names_options);
    tcase_add_test(tc, errors_values);
    suite_add_tcase(s, tc);

    tc = tcase_create("state");
    tcase_add_test(tc, state_roundtrip);
    tcase_add_test(tc, state_sizes);
    tcase_add_test(tc, clip_scale_is_the_division);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(optim_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
