/* check_training.c - the training controls of issue 13, each against a
 * computation written out in the test: regularization penalties in the
 * loss and its gradient (one SGD step by hand), gradient clipping, the
 * learning-rate schedules step by step across fits and save/load, class
 * and sample weights, AUC by trapezoids, precision, recall and top-k,
 * early stopping's epoch and restored weights, reduce_lr_on_plateau's
 * rates, the CSV log's bytes, validation data, initializers'
 * distributions, and 2 + 2 epochs with a save/load between equal to 4
 * straight ones. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include "seqsh/engine.h"
#include "model.h"
#include "compile.h"
#include "test_util.h"

static sq_error err;
static sq_session *s;
static char dir[64];

static uint64_t trng;

static void setup(void)
{
    trng = 0x2545f4914f6cdd1dULL;   /* the same data with or without CK_FORK */
    s = sq_session_new();
    sq_seed(s, 5);
    strcpy(dir, "/tmp/seqsh_tr_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
    sq_session_free(s);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static void add(const char *line)
{
    ck_assert_msg(add_line(s, line, &err) == 0, "add %s: %s", line, err.msg);
}

static int compile_line(sq_session *ss, const char *line)
{
    char buf[1024], *argv[32];
    int argc = 0;
    snprintf(buf, sizeof buf, "%s", line);
    for (char *t = strtok(buf, " "); t && argc < 32; t = strtok(NULL, " "))
        argv[argc++] = t;
    return sq_compile_words(ss, argc, argv, &err);
}

static void compile(const char *line)
{
    ck_assert_msg(compile_line(s, line) == 0, "compile %s: %s", line, err.msg);
}

/* compile refuses line with a message holding want */
static void compile_fails(const char *line, const char *want)
{
    ck_assert_msg(compile_line(s, line) < 0, "compile %s: accepted", line);
    ck_assert_msg(strstr(err.msg, want) != NULL, "compile %s: '%s', want '%s'", line, err.msg,
                  want);
}

/* A tensor of the given shape holding v (copied). */
static sq_tensor tensor(int rank, const long *d, const float *v)
{
    sq_tensor t = { { rank, { 0 } }, NULL };
    size_t n = 1;
    for (int i = 0; i < rank; i++) {
        t.shape.d[i] = d[i];
        n *= (size_t)d[i];
    }
    t.data = malloc(n * sizeof(float));
    if (v)
        memcpy(t.data, v, n * sizeof(float));
    return t;
}

static double urand(double lo, double hi)
{
    trng ^= trng >> 12;
    trng ^= trng << 25;
    trng ^= trng >> 27;
    return lo + (hi - lo) * (double)((trng * 0x2545f4914f6cdd1dULL) >> 11) / 9007199254740992.0;
}

static char lines[64][512];
static int nlines, nwarn;
static char warnings[8][512];
static void record(void *ctx, const char *text, int kind)
{
    (void)ctx;
    if (kind == SQ_PROGRESS_WARNING && nwarn < 8)
        snprintf(warnings[nwarn++], sizeof warnings[0], "%s", text);
    else if (kind == SQ_PROGRESS_LINE && nlines < 64)
        snprintf(lines[nlines++], sizeof lines[0], "%s", text);
}

static sq_fit_opts fit_opts(int epochs, long batch)
{
    sq_fit_opts o = { .epochs = epochs, .batch_size = batch, .shuffle = 0, .verbose = 0 };
    return o;
}

static void fit(const sq_tensor *x, const sq_tensor *y, const sq_fit_opts *o)
{
    nlines = nwarn = 0;
    ck_assert_msg(sq_fit(s, x, y, o, record, NULL, &err) == 0, "fit: %s", err.msg);
}

static double evaluate_loss(const sq_tensor *x, const sq_tensor *y, long batch, double *metric)
{
    double v[8];
    const char *names[8];
    int n;
    ck_assert_msg(sq_evaluate(s, x, y, batch, 0, NULL, NULL, v, names, 8, &n, &err) == 0,
                  "evaluate: %s", err.msg);
    if (metric)
        *metric = v[1];
    return v[0];
}

static void close_to(double got, double want, double rel, const char *what)
{
    ck_assert_msg(fabs(got - want) <= rel * fmax(1e-3, fabs(want)), "%s: %.9g, want %.9g", what,
                  got, want);
}

/* ---- penalties: the loss ------------------------------------------------------ */

/* loss = mean over samples of (mse + activity penalty) + weight penalties,
 * with a frozen layer's penalty included (Layer.losses does not filter). */
START_TEST(regularized_loss_is_keras)
{
    long d[1] = { 3 };
    ck_assert_int_eq(sq_input(s, 1, d, &err), 0);
    add("dense 4 tanh kernel_regularizer=l1_l2(l1=0.01,l2=0.02) bias_regularizer=l2(0.5) "
        "bias_initializer=constant(0.1) activity_regularizer=l1_l2(l1=0.003,l2=0.004)");
    add("dense 2 kernel_regularizer=l1(0.05) trainable=false");
    compile("optimizer=sgd loss=mse");
    enum { N = 5 };
    float xv[N * 3], yv[N * 2];
    for (int i = 0; i < N * 3; i++)
        xv[i] = (float)urand(-1, 1);
    for (int i = 0; i < N * 2; i++)
        yv[i] = (float)urand(-1, 1);
    long dx[2] = { N, 3 }, dy[2] = { N, 2 };
    sq_tensor x = tensor(2, dx, xv), y = tensor(2, dy, yv);
    const float *w = s->model->params;
    const float *W1 = w, *b1 = w + 12, *W2 = w + 16, *b2 = w + 24;
    double mse = 0, act = 0;
    for (int i = 0; i < N; i++) {
        double h[4], e = 0;
        for (int j = 0; j < 4; j++) {
            double z = b1[j];
            for (int k = 0; k < 3; k++)
                z += (double)xv[i * 3 + k] * W1[k * 4 + j];
            h[j] = tanh(z);
            act += (0.003 * fabs(h[j]) + 0.004 * h[j] * h[j]);
        }
        for (int j = 0; j < 2; j++) {
            double o = b2[j];
            for (int k = 0; k < 4; k++)
                o += h[k] * W2[k * 2 + j];
            e += (o - yv[i * 2 + j]) * (o - yv[i * 2 + j]);
        }
        mse += e / 2;
    }
    double pen = 0;
    for (int i = 0; i < 12; i++)
        pen += 0.01 * fabs(W1[i]) + 0.02 * W1[i] * W1[i];
    for (int i = 0; i < 4; i++)
        pen += 0.5 * b1[i] * b1[i];
    for (int i = 0; i < 8; i++)
        pen += 0.05 * fabs(W2[i]);
    double want = (mse + act) / N + pen;
    /* batches of 2, 2 and 1: the activity penalty is per batch over its size */
    close_to(evaluate_loss(&x, &y, 2, NULL), want, 1e-5, "evaluate");
    close_to(evaluate_loss(&x, &y, 32, NULL), want, 1e-5, "evaluate, one batch");
    /* fit reports the loss of the weights before the batch's update */
    sq_fit_opts o = fit_opts(1, N);
    fit(&x, &y, &o);
    double h[1];
    ck_assert_int_eq(sq_history_values(s, "loss", h, 1), 1);
    close_to(h[0], want, 1e-5, "fit's loss");
    sq_tensor_free(&x);
    sq_tensor_free(&y);
}
END_TEST

/* ---- penalties: the gradient, one SGD step by hand ---------------------------- */

START_TEST(one_sgd_step_with_penalties)
{
    long d[1] = { 2 };
    ck_assert_int_eq(sq_input(s, 1, d, &err), 0);
    add("dense 2 kernel_regularizer=l1_l2(l1=0.1,l2=0.2) bias_regularizer=l2(0.3) "
        "activity_regularizer=l1_l2(l1=0.02,l2=0.05)");
    add("dense 1 kernel_regularizer=l2(0.1) activity_regularizer=l1(0.01)");
    compile("optimizer=sgd loss=mse learning_rate=0.1");
    float *w = s->model->params;
    float w0[9] = { 0.5f, -0.25f, 0.75f, 0.3f, 0.1f, -0.2f, 0.6f, -0.4f, 0.05f };
    memcpy(w, w0, sizeof w0);
    enum { N = 3 };
    float xv[N * 2] = { 1, 2, -1, 0.5f, 0.25f, -2 }, yv[N] = { 1, -1, 0.5f };
    long dx[2] = { N, 2 }, dy[2] = { N, 1 };
    sq_tensor x = tensor(2, dx, xv), y = tensor(2, dy, yv);
    /* forward and backward by hand: W1 (2x2) b1 (2) W2 (2x1) b2 (1) */
    const float *W1 = w0, *b1 = w0 + 4, *W2 = w0 + 6, *b2 = w0 + 8;
    double g[9] = { 0 };
    for (int i = 0; i < N; i++) {
        double h[2], o = b2[0];
        for (int j = 0; j < 2; j++) {
            h[j] = b1[j] + xv[i * 2] * W1[j] + xv[i * 2 + 1] * W1[2 + j];
            o += h[j] * W2[j];
        }
        double dout = 2 * (o - yv[i]) / N;
        double sgo = o > 0 ? 1 : o < 0 ? -1 : 0;
        dout += 0.01 * sgo / N;                       /* output activity, per batch size */
        g[8] += dout;
        for (int j = 0; j < 2; j++) {
            g[6 + j] += dout * h[j];
            double sgh = h[j] > 0 ? 1 : h[j] < 0 ? -1 : 0;
            double dh = dout * W2[j] + (0.02 * sgh + 2 * 0.05 * h[j]) / N;
            g[4 + j] += dh;
            g[j] += dh * xv[i * 2];
            g[2 + j] += dh * xv[i * 2 + 1];
        }
    }
    for (int k = 0; k < 4; k++) {
        double sg = W1[k] > 0 ? 1 : W1[k] < 0 ? -1 : 0;
        g[k] += 0.1 * sg + 2 * 0.2 * W1[k];
    }
    for (int k = 0; k < 2; k++) {
        g[4 + k] += 2 * 0.3 * b1[k];
        g[6 + k] += 2 * 0.1 * W2[k];
    }
    sq_fit_opts o = fit_opts(1, N);
    fit(&x, &y, &o);
    for (int k = 0; k < 9; k++)
        ck_assert_msg(fabs(w[k] - (w0[k] - 0.1 * g[k])) < 2e-6, "w[%d]: %.8f, want %.8f", k,
                      w[k], w0[k] - 0.1 * g[k]);
    sq_tensor_free(&x);
    sq_tensor_free(&y);
}
END_TEST

/* ---- clipping --------------------------------------------------------------------- */

/* mse on a linear Dense 3 -> 2 with SGD lr 1: the step is minus the clipped
 * gradient of (kernel, bias). */
static void clipped_step(const char *clip, int mode, double c, double cv)
{
    sq_session_free(s);
    s = sq_session_new();
    long d[1] = { 3 };
    ck_assert_int_eq(sq_input(s, 1, d, &err), 0);
    add("dense 2");
    char line[160];
    snprintf(line, sizeof line, "optimizer=sgd loss=mse learning_rate=1 %s", clip);
    compile(line);
    float *w = s->model->params, w0[8];
    for (int i = 0; i < 8; i++)
        w0[i] = w[i] = (float)urand(-1, 1);
    enum { N = 4 };
    float xv[N * 3], yv[N * 2];
    for (int i = 0; i < N * 3; i++)
        xv[i] = (float)urand(-2, 2);
    for (int i = 0; i < N * 2; i++)
        yv[i] = (float)urand(-3, 3);
    long dx[2] = { N, 3 }, dy[2] = { N, 2 };
    sq_tensor x = tensor(2, dx, xv), y = tensor(2, dy, yv);
    double g[8] = { 0 };
    for (int i = 0; i < N; i++)
        for (int j = 0; j < 2; j++) {
            double o = w0[6 + j];
            for (int k = 0; k < 3; k++)
                o += (double)xv[i * 3 + k] * w0[k * 2 + j];
            double dd = 2 * (o - yv[i * 2 + j]) / (2.0 * N);
            g[6 + j] += dd;
            for (int k = 0; k < 3; k++)
                g[k * 2 + j] += dd * xv[i * 3 + k];
        }
    if (cv > 0)
        for (int k = 0; k < 8; k++)
            g[k] = fmin(fmax(g[k], -cv), cv);
    if (mode == 1) {          /* each tensor by its own norm */
        double nk = 0, nb = 0;
        for (int k = 0; k < 6; k++)
            nk += g[k] * g[k];
        for (int k = 6; k < 8; k++)
            nb += g[k] * g[k];
        nk = sqrt(nk);
        nb = sqrt(nb);
        for (int k = 0; k < 6; k++)
            g[k] = g[k] * c / fmax(nk, c);
        for (int k = 6; k < 8; k++)
            g[k] = g[k] * c / fmax(nb, c);
    } else if (mode == 2) {   /* all together */
        double n = 0;
        for (int k = 0; k < 8; k++)
            n += g[k] * g[k];
        n = sqrt(n);
        for (int k = 0; k < 8; k++)
            g[k] = g[k] * c / fmax(n, c);
    }
    sq_fit_opts o = fit_opts(1, N);
    fit(&x, &y, &o);
    for (int k = 0; k < 8; k++)
        ck_assert_msg(fabs(w[k] - (w0[k] - g[k])) < 1e-5, "%s w[%d]: %.7f, want %.7f", clip, k,
                      w[k], w0[k] - g[k]);
    sq_tensor_free(&x);
    sq_tensor_free(&y);
}

START_TEST(gradient_clipping)
{
    clipped_step("clipvalue=0.05", 0, 0, 0.05);
    clipped_step("clipnorm=0.3", 1, 0.3, 0);
    clipped_step("global_clipnorm=0.3", 2, 0.3, 0);
    clipped_step("clipvalue=0.5 clipnorm=0.4", 1, 0.4, 0.5);
    clipped_step("clipnorm=100", 0, 0, 0);   /* within the norm: unchanged */
}
END_TEST

/* Adam with penalties and clipnorm over 24 steps of one fit: each step's
 * gradient is the loss's plus the penalties', clipped tensor by tensor to
 * norm 0.6, as written out here in double (Keras's Adam: alpha =
 * lr sqrt(1 - b2^t) / (1 - b1^t), w -= alpha m / (sqrt(v) + eps)). The
 * clip binds on some steps and not on others (checked), so both ways the
 * engine settles a step's norm are taken: the read of w and g, and the
 * bound from g and the sums the last update left. The epochs' losses
 * include the penalties of the weights each batch saw. */
START_TEST(adam_penalties_clipnorm_steps)
{
    long d[1] = { 3 };
    ck_assert_int_eq(sq_input(s, 1, d, &err), 0);
    add("dense 2 kernel_regularizer=l2(0.05) bias_regularizer=l1_l2(l1=0.01,l2=0.02)");
    compile("optimizer=adam loss=mse learning_rate=0.05 clipnorm=0.6");
    float *w = s->model->params;
    double wd[8];
    for (int i = 0; i < 8; i++)
        wd[i] = w[i] = (float)urand(-1, 1);
    enum { N = 16, B = 2, EPOCHS = 3 };
    float xv[N * 3], yv[N * 2];
    for (int i = 0; i < N * 3; i++)
        xv[i] = (float)urand(-2, 2) * (i < 12 ? 3.0f : 0.3f);   /* big gradients first */
    for (int i = 0; i < N * 2; i++)
        yv[i] = (float)urand(-1, 1);
    long dx[2] = { N, 3 }, dy[2] = { N, 2 };
    sq_tensor x = tensor(2, dx, xv), y = tensor(2, dy, yv);
    double m[8] = { 0 }, v[8] = { 0 }, want_loss[EPOCHS] = { 0 };
    int clipped = 0, free_steps = 0;
    for (int t = 1; t <= EPOCHS * N / B; t++) {
        int b0 = ((t - 1) % (N / B)) * B;
        double g[8] = { 0 }, loss = 0;
        for (int i = b0; i < b0 + B; i++)
            for (int j = 0; j < 2; j++) {
                double o = wd[6 + j];
                for (int k = 0; k < 3; k++)
                    o += (double)xv[i * 3 + k] * wd[k * 2 + j];
                double e = o - yv[i * 2 + j];
                loss += e * e / (2.0 * B);
                double dd = 2 * e / (2.0 * B);
                g[6 + j] += dd;
                for (int k = 0; k < 3; k++)
                    g[k * 2 + j] += dd * xv[i * 3 + k];
            }
        for (int k = 0; k < 6; k++) {
            loss += 0.05 * wd[k] * wd[k];
            g[k] += 2 * 0.05 * wd[k];
        }
        for (int k = 6; k < 8; k++) {
            loss += 0.01 * fabs(wd[k]) + 0.02 * wd[k] * wd[k];
            g[k] += 0.01 * (wd[k] > 0 ? 1 : wd[k] < 0 ? -1 : 0) + 2 * 0.02 * wd[k];
        }
        want_loss[(t - 1) / (N / B)] += loss / (N / B);
        const int lo[2] = { 0, 6 }, hi[2] = { 6, 8 };
        for (int r = 0; r < 2; r++) {
            double nn = 0;
            for (int k = lo[r]; k < hi[r]; k++)
                nn += g[k] * g[k];
            nn = sqrt(nn);
            if (nn > 0.6) {
                clipped++;
                for (int k = lo[r]; k < hi[r]; k++)
                    g[k] = g[k] * 0.6 / nn;
            } else {
                free_steps++;
            }
        }
        double alpha = 0.05 * sqrt(1 - pow(0.999, t)) / (1 - pow(0.9, t));
        for (int k = 0; k < 8; k++) {
            m[k] += (g[k] - m[k]) * 0.1;
            v[k] += (g[k] * g[k] - v[k]) * 0.001;
            wd[k] -= alpha * m[k] / (sqrt(v[k]) + 1e-7);
        }
    }
    ck_assert_msg(clipped >= 4 && free_steps >= 4, "the test's data: %d clipped, %d not",
                  clipped, free_steps);
    sq_fit_opts o = fit_opts(EPOCHS, B);
    fit(&x, &y, &o);
    for (int k = 0; k < 8; k++)
        ck_assert_msg(fabs(w[k] - wd[k]) < 2e-5, "w[%d]: %.7f, want %.7f", k, w[k], wd[k]);
    double h[EPOCHS];
    ck_assert_int_eq(sq_history_values(s, "loss", h, EPOCHS), EPOCHS);
    for (int e = 0; e < EPOCHS; e++)
        close_to(h[e], want_loss[e], 1e-5, "epoch loss");
    sq_tensor_free(&x);
    sq_tensor_free(&y);
}
END_TEST

/* ---- schedules --------------------------------------------------------------------- */

/* The rates by the formulas of learning_rate_schedule.py, written out. */
static double lr_at(int which, long step)
{
    double t = (double)step;
    switch (which) {
    case 0: return 0.1 * pow(0.5, t / 2);
    case 1: return 0.1 * pow(0.5, floor(t / 2));
    case 2: return t <= 2 ? 0.1 : t <= 5 ? 0.01 : 0.001;
    case 3: { double q = fmin(t, 4); return (0.1 - 0.01) * pow(1 - q / 4, 2) + 0.01; }
    case 4: { double ds = 4 * (t == 0 ? 1 : ceil(t / 4)); return (0.1 - 0.0001) * (1 - t / ds) + 0.0001; }
    case 5: return 0.1 / (1 + 0.5 * floor(t / 3));
    case 6: { double q = fmin(t, 5); return 0.1 * (0.9 * 0.5 * (1 + cos(3.141592653589793 * q / 5)) + 0.1); }
    }
    return 0;
}

START_TEST(schedules_step_per_batch_across_fits)
{
    static const char *const sched[] = {
        "exponential_decay(0.1,decay_steps=2,decay_rate=0.5)",
        "exponential_decay(0.1,2,0.5,staircase=true)",
        "piecewise_constant_decay(boundaries=[2,5],values=[0.1,0.01,0.001])",
        "polynomial_decay(0.1,decay_steps=4,end_learning_rate=0.01,power=2)",
        "polynomial_decay(0.1,4,cycle=true)",
        "inverse_time_decay(0.1,decay_steps=3,decay_rate=0.5,staircase=true)",
        "cosine_decay(0.1,decay_steps=5,alpha=0.1)",
    };
    for (int k = 0; k < 7; k++) {
        sq_session_free(s);
        s = sq_session_new();
        long d[1] = { 1 };
        ck_assert_int_eq(sq_input(s, 1, d, &err), 0);
        add("dense 1 kernel_initializer=zeros");
        char line[256];
        snprintf(line, sizeof line, "optimizer=sgd loss=mae learning_rate=%s", sched[k]);
        compile(line);
        /* x = 0: only the bias learns, and mae's gradient is -1 below y */
        long dx[2] = { 3, 1 };
        sq_tensor x = tensor(2, dx, NULL), y = tensor(2, dx, NULL);
        for (int i = 0; i < 3; i++) {
            x.data[i] = 0;
            y.data[i] = 1000;
        }
        float want = 0;
        long step = 0;
        /* 2 epochs of 3 batches, then a save/load, then 1 epoch, then 2 more */
        int epochs[3] = { 2, 1, 2 };
        for (int f = 0; f < 3; f++) {
            sq_fit_opts o = fit_opts(epochs[f], 1);
            fit(&x, &y, &o);
            for (int b = 0; b < 3 * epochs[f]; b++)
                want = want - (-1.0f) * (float)lr_at(k, step++);
            ck_assert_msg(fabsf(s->model->params[1] - want) <= 1e-6f * fabsf(want),
                          "%s after %ld steps: bias %.9g, want %.9g", sched[k], step,
                          s->model->params[1], want);
            if (f == 0) {
                char path[128];
                snprintf(path, sizeof path, "%s/s.seqm", dir);
                ck_assert_int_eq(sq_save(s, path, &err), 0);
                ck_assert_msg(sq_load(s, path, &err) == 0, "%s", err.msg);
            }
        }
        sq_tensor_free(&x);
        sq_tensor_free(&y);
    }
    /* compile starts the steps again */
    compile("optimizer=sgd loss=mae learning_rate=piecewise_constant_decay([0],[0.5,0.25])");
    float b0 = s->model->params[1];
    long dx[2] = { 1, 1 };
    sq_tensor x = tensor(2, dx, NULL), y = tensor(2, dx, NULL);
    x.data[0] = 0;
    y.data[0] = 1e6f;
    sq_fit_opts o = fit_opts(1, 1);
    fit(&x, &y, &o);
    ck_assert_float_eq(s->model->params[1], b0 + 0.5f);
    fit(&x, &y, &o);
    ck_assert_float_eq(s->model->params[1], b0 + 0.75f);
    sq_tensor_free(&x);
    sq_tensor_free(&y);
}
END_TEST

/* ---- class and sample weights ----------------------------------------------------- */

/* Softmax outputs of a Dense 2 -> 3 for x by hand. */
static void softmax_rows(const float *w, const float *x, int n, double *p)
{
    for (int i = 0; i < n; i++) {
        double z[3], mx = -1e30, sum = 0;
        for (int j = 0; j < 3; j++) {
            z[j] = w[6 + j] + (double)x[i * 2] * w[j] + (double)x[i * 2 + 1] * w[3 + j];
            mx = fmax(mx, z[j]);
        }
        for (int j = 0; j < 3; j++)
            sum += exp(z[j] - mx);
        for (int j = 0; j < 3; j++)
            p[i * 3 + j] = exp(z[j] - mx) / sum;
    }
}

START_TEST(class_and_sample_weights)
{
    long d[1] = { 2 };
    ck_assert_int_eq(sq_input(s, 1, d, &err), 0);
    add("dense 3 softmax");
    compile("optimizer=sgd loss=sparse_categorical_crossentropy metrics=accuracy "
            "learning_rate=0.5");
    enum { N = 6 };
    float xv[N * 2], yv[N] = { 0, 1, 2, 1, 0, 2 }, swv[N] = { 1, 2, 0.5f, 1, 3, 1 };
    for (int i = 0; i < N * 2; i++)
        xv[i] = (float)urand(-2, 2);
    long dx[2] = { N, 2 }, dy[1] = { N };
    sq_tensor x = tensor(2, dx, xv), y = tensor(1, dy, yv), sw = tensor(1, dy, swv);
    double cw[3] = { 1, 5, 0.5 };
    double p[N * 3];
    float hist_w0[9];
    memcpy(hist_w0, s->model->params, sizeof hist_w0);
    softmax_rows(s->model->params, xv, N, p);
    double loss = 0, acc = 0, wsum = 0;
    for (int i = 0; i < N; i++) {
        double wi = cw[(int)yv[i]] * swv[i];
        loss += wi * -log(p[i * 3 + (int)yv[i]]);
        int am = 0;
        for (int j = 1; j < 3; j++)
            if (p[i * 3 + j] > p[i * 3 + am])
                am = j;
        acc += wi * (am == (int)yv[i]);
        wsum += wi;
    }
    loss /= N;               /* Σ w l / N, not / Σ w */
    acc /= wsum;             /* a weighted mean */
    sq_fit_opts o = fit_opts(1, N);
    o.class_weight = "{0: 1, 1: 5, 2: 0.5}";
    o.sample_weights = &sw;
    fit(&x, &y, &o);
    double h[2];
    ck_assert_int_eq(sq_history_values(s, "loss", h, 2), 1);
    close_to(h[0], loss, 1e-5, "weighted loss");
    ck_assert_int_eq(sq_history_values(s, "accuracy", h, 2), 1);
    close_to(h[0], acc, 1e-6, "weighted accuracy");
    /* the same from a file named by sample_weight= */
    char wpath[128];
    snprintf(wpath, sizeof wpath, "%s/w.npy", dir);
    ck_assert_int_eq(sq_tensor_save(wpath, &sw, &err), 0);
    memcpy(s->model->params, hist_w0, sizeof hist_w0);
    o.sample_weights = NULL;
    o.sample_weight = wpath;
    fit(&x, &y, &o);
    ck_assert_int_eq(sq_history_values(s, "loss", h, 2), 2);
    close_to(h[1], loss, 1e-5, "weighted loss, sample_weight=FILE");
    o.sample_weight = NULL;
    /* one-hot targets: a sample's class is the argmax */
    compile("optimizer=sgd loss=categorical_crossentropy learning_rate=0.5");
    long dy2[2] = { N, 3 };
    sq_tensor y1 = tensor(2, dy2, NULL);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < 3; j++)
            y1.data[i * 3 + j] = (float)(j == (int)yv[i]);
    softmax_rows(s->model->params, xv, N, p);
    loss = 0;
    for (int i = 0; i < N; i++)
        loss += cw[(int)yv[i]] * -log(p[i * 3 + (int)yv[i]]);
    o.sample_weights = NULL;
    fit(&x, &y1, &o);
    ck_assert_int_eq(sq_history_values(s, "loss", h, 2), 1);
    close_to(h[0], loss / N, 1e-5, "class-weighted one-hot loss");
    /* Keras's messages; nothing changes */
    float before[9];
    memcpy(before, s->model->params, sizeof before);
    o.class_weight = "{0: 1, 2: 5.0}";
    ck_assert_int_eq(sq_fit(s, &x, &y1, &o, NULL, NULL, &err), -1);
    ck_assert_str_eq(err.msg, "Expected `class_weight` to be a dict with keys from 0 to one "
                     "less than the number of classes, found {0: 1, 2: 5.0}");
    o.class_weight = "{0: 1, 1: 5}";
    ck_assert_int_eq(sq_fit(s, &x, &y1, &o, NULL, NULL, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "class_weight has no weight for class 2"));
    ck_assert_int_eq(memcmp(before, s->model->params, sizeof before), 0);
    ck_assert_int_eq(sq_history_epochs(s), 1);
    sq_tensor_free(&x);
    sq_tensor_free(&y);
    sq_tensor_free(&y1);
    sq_tensor_free(&sw);
}
END_TEST

/* evaluate's sample_weight, as model.evaluate takes it: each batch's loss
 * is its weighted losses summed over the batch's size, the accuracy a
 * weighted mean; from a tensor or a file, in any batch size; a wrong
 * number of weights is Keras's error and nothing is printed. */
START_TEST(evaluate_sample_weights)
{
    long d[1] = { 2 };
    ck_assert_int_eq(sq_input(s, 1, d, &err), 0);
    add("dense 3 softmax");
    compile("optimizer=sgd loss=sparse_categorical_crossentropy metrics=accuracy");
    enum { N = 7 };
    float xv[N * 2], yv[N] = { 0, 1, 2, 1, 0, 2, 1 }, swv[N] = { 1, 2, 0.5f, 0, 3, 1, 0.25f };
    for (int i = 0; i < N * 2; i++)
        xv[i] = (float)urand(-2, 2);
    long dx[2] = { N, 2 }, dy[1] = { N }, d6[1] = { N - 1 };
    sq_tensor x = tensor(2, dx, xv), y = tensor(1, dy, yv), sw = tensor(1, dy, swv);
    sq_tensor sw6 = tensor(1, d6, swv);
    double p[N * 3], loss = 0, acc = 0, wsum = 0;
    softmax_rows(s->model->params, xv, N, p);
    for (int i = 0; i < N; i++) {
        loss += swv[i] * -log(p[i * 3 + (int)yv[i]]);
        int am = 0;
        for (int j = 1; j < 3; j++)
            if (p[i * 3 + j] > p[i * 3 + am])
                am = j;
        acc += swv[i] * (am == (int)yv[i]);
        wsum += swv[i];
    }
    char wpath[128];
    snprintf(wpath, sizeof wpath, "%s/ew.npy", dir);
    ck_assert_int_eq(sq_tensor_save(wpath, &sw, &err), 0);
    double v[4];
    const char *names[4];
    int n;
    for (long batch = 1; batch <= N + 1; batch++)
        for (int file = 0; file < 2; file++) {
            ck_assert_msg(sq_evaluate_weighted(s, &x, &y, file ? wpath : NULL, file ? NULL : &sw,
                                               batch, 0, NULL, NULL, v, names, 4, &n, &err) == 0,
                          "%s", err.msg);
            ck_assert_int_eq(n, 2);
            close_to(v[0], loss / N, 1e-5, "evaluate's weighted loss");
            close_to(v[1], acc / wsum, 1e-6, "evaluate's weighted accuracy");
        }
    ck_assert_int_eq(sq_evaluate_weighted(s, &x, &y, NULL, &sw6, 4, 0, NULL, NULL, v, names, 4,
                                          &n, &err), -1);
    ck_assert_str_eq(err.msg, "Data cardinality is ambiguous: x sizes: 7, sample_weight sizes: 6. "
                     "Make sure all arrays contain the same number of samples.");
    sq_tensor_free(&x);
    sq_tensor_free(&y);
    sq_tensor_free(&sw);
    sq_tensor_free(&sw6);
}
END_TEST

/* ---- confusion metrics and top-k ------------------------------------------------------- */

/* AUC as Keras defines it, written out: thresholds -e, i/(n-1), 1+e in
 * float32; positives are pred > t; the ROC area by trapezoids. w: a
 * weight per value (label_weights on the flattened counts), or NULL. */
static double naive_auc_w(const float *p, const float *y, const double *w, int n, int nt)
{
    double area = 0, px = 0, py = 0;
    for (int i = 0; i < nt; i++) {
        float t = i == 0 ? (float)(0.0 - 1e-7) : i == nt - 1 ? (float)(1.0 + 1e-7)
                : (float)((double)i * 1.0 / (double)(nt - 1));
        double tp = 0, fp = 0, fn = 0, tn = 0;
        for (int k = 0; k < n; k++) {
            int pos = p[k] > t, lab = y[k] != 0;
            double wk = w ? w[k] : 1;
            tp += wk * (pos && lab);
            fp += wk * (pos && !lab);
            fn += wk * (!pos && lab);
            tn += wk * (!pos && !lab);
        }
        double x = fp + tn > 0 ? fp / (fp + tn) : 0, yy = tp + fn > 0 ? tp / (tp + fn) : 0;
        if (i > 0)
            area += (px - x) * (py + yy) / 2;
        px = x;
        py = yy;
    }
    return area;
}

static double naive_auc(const float *p, const float *y, int n, int nt)
{
    return naive_auc_w(p, y, NULL, n, nt);
}

/* AUC(multi_label=True): one AUC per output column, their mean, or their
 * mean weighted by label_weights; without multi_label, label_weights weigh
 * each column's counts. Keras's errors for the rest. */
START_TEST(auc_multi_label)
{
    long d[1] = { 3 };
    ck_assert_int_eq(sq_input(s, 1, d, &err), 0);
    add("dense 4 sigmoid kernel_initializer=random_normal(stddev=2)");
    compile("optimizer=sgd loss=binary_crossentropy metrics=auc(multi_label=true),"
            "auc(multi_label=true,num_labels=4,label_weights=[1,2,0,3],name=aucw),"
            "auc(label_weights=[1,2,0,3],name=aucf),"
            "auc(multi_label=true,num_thresholds=9,name=auc9)");
    enum { N = 60 };
    long dx[2] = { N, 3 }, dy[2] = { N, 4 };
    sq_tensor x = tensor(2, dx, NULL), y = tensor(2, dy, NULL), p;
    for (int i = 0; i < N * 3; i++)
        x.data[i] = (float)urand(-1, 1);
    for (int i = 0; i < N * 4; i++)
        y.data[i] = (float)(urand(0, 1) < 0.2 + 0.15 * (i % 4));
    ck_assert_int_eq(sq_predict(s, &x, 32, &p, &err), 0);
    double v[8];
    const char *names[8];
    int n;
    ck_assert_msg(sq_evaluate(s, &x, &y, 7, 0, NULL, NULL, v, names, 8, &n, &err) == 0, "%s",
                  err.msg);
    ck_assert_int_eq(n, 5);
    float pc[N], yc[N];
    double by[4], by9[4], wflat[N * 4];
    const double lw[4] = { 1, 2, 0, 3 };
    for (int j = 0; j < 4; j++) {
        for (int i = 0; i < N; i++) {
            pc[i] = p.data[i * 4 + j];
            yc[i] = y.data[i * 4 + j];
        }
        by[j] = naive_auc(pc, yc, N, 200);
        by9[j] = naive_auc(pc, yc, N, 9);
    }
    for (int k = 0; k < N * 4; k++)
        wflat[k] = lw[k % 4];
    close_to(v[1], (by[0] + by[1] + by[2] + by[3]) / 4, 1e-9, "multi_label");
    close_to(v[2], (by[0] + 2 * by[1] + 3 * by[3]) / 6, 1e-9, "multi_label, label_weights");
    close_to(v[3], naive_auc_w(p.data, y.data, wflat, N * 4, 200), 1e-9, "label_weights");
    close_to(v[4], (by9[0] + by9[1] + by9[2] + by9[3]) / 4, 1e-9, "multi_label, 9 thresholds");
    /* training reports the same counts */
    sq_fit_opts o = fit_opts(1, N);
    fit(&x, &y, &o);
    sq_tensor_free(&p);
    sq_tensor_free(&x);
    sq_tensor_free(&y);
    /* errors: at compile, or where the model's output decides */
    compile_fails("optimizer=sgd loss=mse metrics=auc(label_weights=[1,-1])",
                  "All values of `label_weights` must be non-negative.");
    compile_fails("optimizer=sgd loss=mse metrics=auc(num_labels=3,label_weights=[1,2])",
                  "AUC: label_weights has 2 values for num_labels=3");
    compile_fails("optimizer=sgd loss=mse metrics=auc(multi_label=maybe)", "multi_label");
    const char *bad[][2] = {
        { "metrics=auc(multi_label=true,num_labels=3)",
          "AUC: num_labels=3, but the model's output has 4 labels" },
        { "metrics=auc(label_weights=[1,2])",
          "AUC: label_weights has 2 values, but the model's output has 4 labels" },
    };
    long dz[2] = { 5, 3 }, dw[2] = { 5, 4 };
    sq_tensor xs = tensor(2, dz, NULL), ys = tensor(2, dw, NULL);
    for (int i = 0; i < 15; i++)
        xs.data[i] = (float)urand(-1, 1);
    for (int i = 0; i < 20; i++)
        ys.data[i] = (float)(i % 3 == 0);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char line[200];
        snprintf(line, sizeof line, "optimizer=sgd loss=binary_crossentropy %s", bad[i][0]);
        compile(line);
        ck_assert_int_eq(sq_evaluate(s, &xs, &ys, 5, 0, NULL, NULL, v, names, 8, &n, &err), -1);
        ck_assert_msg(strstr(err.msg, bad[i][1]) != NULL, "%s: %s", bad[i][0], err.msg);
    }
    sq_tensor_free(&xs);
    sq_tensor_free(&ys);
    /* an output of rank 3: Keras's AUC._build refuses multi_label */
    sq_session_free(s);
    s = sq_session_new();
    long d3[2] = { 5, 3 };
    ck_assert_int_eq(sq_input(s, 2, d3, &err), 0);
    add("dense 2 sigmoid");
    compile("optimizer=sgd loss=binary_crossentropy metrics=auc(multi_label=true)");
    long dx3[3] = { 4, 5, 3 }, dy3[3] = { 4, 5, 2 };
    sq_tensor x3 = tensor(3, dx3, NULL), y3 = tensor(3, dy3, NULL);
    for (int i = 0; i < 60; i++)
        x3.data[i] = (float)urand(-1, 1);
    for (int i = 0; i < 40; i++)
        y3.data[i] = (float)(i % 2);
    ck_assert_int_eq(sq_evaluate(s, &x3, &y3, 4, 0, NULL, NULL, v, names, 8, &n, &err), -1);
    ck_assert_str_eq(err.msg, "`y_true` must have rank=2 when `multi_label` is True. Found rank 3.");
    sq_tensor_free(&x3);
    sq_tensor_free(&y3);
}
END_TEST

START_TEST(auc_precision_recall_topk)
{
    long d[1] = { 3 };
    ck_assert_int_eq(sq_input(s, 1, d, &err), 0);
    add("dense 4 sigmoid kernel_initializer=random_normal(stddev=2)");
    compile("optimizer=sgd loss=binary_crossentropy metrics=auc,precision,recall,"
            "auc(num_thresholds=7,name=auc7),precision(class_id=2),recall(thresholds=0.3)");
    enum { N = 50 };
    long dx[2] = { N, 3 }, dy[2] = { N, 4 };
    sq_tensor x = tensor(2, dx, NULL), y = tensor(2, dy, NULL), p;
    for (int i = 0; i < N * 3; i++)
        x.data[i] = (float)urand(-1, 1);
    for (int i = 0; i < N * 4; i++)
        y.data[i] = (float)(urand(0, 1) < 0.4);
    ck_assert_int_eq(sq_predict(s, &x, 32, &p, &err), 0);
    double v[8];
    const char *names[8];
    int n;
    ck_assert_int_eq(sq_evaluate(s, &x, &y, 7, 0, NULL, NULL, v, names, 8, &n, &err), 0);
    ck_assert_int_eq(n, 7);
    ck_assert_str_eq(names[1], "auc");
    ck_assert_str_eq(names[2], "precision");
    ck_assert_str_eq(names[3], "recall");
    ck_assert_str_eq(names[4], "auc7");
    ck_assert_str_eq(names[5], "precision_1");
    ck_assert_str_eq(names[6], "recall_1");
    close_to(v[1], naive_auc(p.data, y.data, N * 4, 200), 1e-9, "auc");
    close_to(v[4], naive_auc(p.data, y.data, N * 4, 7), 1e-9, "auc(num_thresholds=7)");
    double tp = 0, fp = 0, fn = 0, tp2 = 0, fp2 = 0, tp3 = 0, fn3 = 0;
    for (int k = 0; k < N * 4; k++) {
        int pos = p.data[k] > 0.5f, lab = y.data[k] != 0;
        tp += pos && lab;
        fp += pos && !lab;
        fn += !pos && lab;
        if (k % 4 == 2) {
            tp2 += pos && lab;
            fp2 += pos && !lab;
        }
        int pos3 = p.data[k] > 0.3f;
        tp3 += pos3 && lab;
        fn3 += !pos3 && lab;
    }
    close_to(v[2], tp / (tp + fp), 1e-12, "precision");
    close_to(v[3], tp / (tp + fn), 1e-12, "recall");
    close_to(v[5], tp2 / (tp2 + fp2), 1e-12, "precision(class_id=2)");
    close_to(v[6], tp3 / (tp3 + fn3), 1e-12, "recall(thresholds=0.3)");
    /* predictions outside [0, 1] are refused, as Keras's assertion does */
    sq_session *keep = s;
    s = sq_session_new();
    ck_assert_int_eq(sq_input(s, 1, d, &err), 0);
    add("dense 4 kernel_initializer=constant(1) bias_initializer=constant(2)");
    compile("optimizer=sgd loss=mse metrics=precision");
    ck_assert_int_eq(sq_evaluate(s, &x, &y, 7, 0, NULL, NULL, v, names, 8, &n, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "predictions must be <= 1"));
    sq_session_free(s);
    s = keep;
    /* top-k on softmax outputs: one-hot and class-index labels */
    sq_tensor_free(&p);
    sq_model_new(s, NULL, &err);
    ck_assert_int_eq(sq_input(s, 1, d, &err), 0);
    add("dense 5 softmax kernel_initializer=random_normal(stddev=1)");
    compile("optimizer=sgd loss=categorical_crossentropy metrics=top_k_categorical_accuracy(k=2),"
            "top_k_categorical_accuracy");
    long dy5[2] = { N, 5 }, dyi[1] = { N };
    sq_tensor y5 = tensor(2, dy5, NULL), yi = tensor(1, dyi, NULL);
    for (int i = 0; i < N; i++) {
        int c = (int)urand(0, 5);
        yi.data[i] = (float)c;
        for (int j = 0; j < 5; j++)
            y5.data[i * 5 + j] = (float)(j == c);
    }
    ck_assert_int_eq(sq_predict(s, &x, 32, &p, &err), 0);
    double top2 = 0;
    for (int i = 0; i < N; i++) {
        int above = 0, c = (int)yi.data[i];
        for (int j = 0; j < 5; j++)
            above += p.data[i * 5 + j] > p.data[i * 5 + c];
        top2 += above < 2;
    }
    ck_assert_int_eq(sq_evaluate(s, &x, &y5, 8, 0, NULL, NULL, v, names, 8, &n, &err), 0);
    close_to(v[1], top2 / N, 1e-12, "top_k_categorical_accuracy(k=2)");
    ck_assert_str_eq(names[1], "top_k_categorical_accuracy");
    ck_assert_str_eq(names[2], "top_k_categorical_accuracy_1");
    ck_assert(v[2] == 1.0);   /* k=5 of 5 classes */
    compile("optimizer=sgd loss=sparse_categorical_crossentropy "
            "metrics=sparse_top_k_categorical_accuracy(k=2)");
    ck_assert_int_eq(sq_evaluate(s, &x, &yi, 8, 0, NULL, NULL, v, names, 8, &n, &err), 0);
    close_to(v[1], top2 / N, 1e-12, "sparse_top_k_categorical_accuracy(k=2)");
    sq_tensor_free(&p);
    sq_tensor_free(&x);
    sq_tensor_free(&y);
    sq_tensor_free(&y5);
    sq_tensor_free(&yi);
}
END_TEST

/* ---- validation data, early stopping, reduce_lr_on_plateau ----------------------- */

/* Points in 2-D, labels random (half of them, so val_loss turns up soon). */
static void noisy(sq_tensor *x, sq_tensor *y, int n)
{
    long dx[2] = { n, 2 }, dy[1] = { n };
    *x = tensor(2, dx, NULL);
    *y = tensor(1, dy, NULL);
    for (int i = 0; i < n; i++) {
        int c = i % 2;
        x->data[2 * i] = (float)(c ? 1 : -1) + (float)urand(-1.5, 1.5);
        x->data[2 * i + 1] = (float)urand(-1, 1);
        y->data[i] = urand(0, 1) < 0.3 ? (float)(1 - c) : (float)c;
    }
}

START_TEST(validation_data_is_evaluated)
{
    long d[1] = { 2 };
    ck_assert_int_eq(sq_input(s, 1, d, &err), 0);
    add("dense 6 tanh kernel_regularizer=l2(0.01)");
    add("dense 2 softmax");
    compile("optimizer=adam loss=sparse_categorical_crossentropy metrics=accuracy "
            "learning_rate=0.05");
    sq_tensor x, y, vx, vy;
    noisy(&x, &y, 40);
    noisy(&vx, &vy, 17);
    sq_fit_opts o = fit_opts(3, 8);
    o.val_x = &vx;
    o.val_y = &vy;
    o.validation_split = 0.5;   /* overridden by validation_data */
    fit(&x, &y, &o);
    double h[3], acc;
    ck_assert_int_eq(sq_history_values(s, "val_loss", h, 3), 3);
    /* the last epoch's val_loss is evaluate's on the same data, penalties included */
    close_to(h[2], evaluate_loss(&vx, &vy, 8, &acc), 1e-6, "val_loss");
    ck_assert_int_eq(sq_history_values(s, "val_accuracy", h, 3), 3);
    close_to(h[2], acc, 1e-9, "val_accuracy");
    /* the same through the text forms: two files, a tuple with generators */
    char xp[128], yp[128], spec[300];
    snprintf(xp, sizeof xp, "%s/vx.npy", dir);
    snprintf(yp, sizeof yp, "%s/vy.npy", dir);
    ck_assert_int_eq(sq_tensor_save(xp, &vx, &err), 0);
    ck_assert_int_eq(sq_tensor_save(yp, &vy, &err), 0);
    snprintf(spec, sizeof spec, "%s,%s", xp, yp);
    o = fit_opts(1, 8);
    o.validation_data = spec;
    fit(&x, &y, &o);
    ck_assert_int_eq(sq_history_values(s, "val_loss", h, 3), 3);   /* 4 epochs, 3 read */
    double h4[4];
    ck_assert_int_eq(sq_history_values(s, "val_loss", h4, 4), 4);
    close_to(h4[3], evaluate_loss(&vx, &vy, 8, NULL), 1e-6, "val_loss from files");
    o.validation_data = "(random 5 2, zeros 5)";
    fit(&x, &y, &o);
    o.validation_data = "(random 5 3, zeros 5)";
    ck_assert_int_eq(sq_fit(s, &x, &y, &o, NULL, NULL, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "expected shape=(None, 2), found shape=(5, 3)"));
    o.validation_data = "vx.npy";
    ck_assert_int_eq(sq_fit(s, &x, &y, &o, NULL, NULL, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "When passing validation_data, it must contain 2"));
    ck_assert_int_eq(sq_history_epochs(s), 5);
    sq_tensor_free(&x);
    sq_tensor_free(&y);
    sq_tensor_free(&vx);
    sq_tensor_free(&vy);
}
END_TEST

/* EarlyStopping.on_epoch_end of Keras 2.6 over logged values: the epoch
 * it stops after (0-based), or -1; *best the epoch of the best value. */
static int naive_stop(const double *v, int n, double min_delta, int patience, int *best_at)
{
    double best = INFINITY;
    int wait = 0;
    for (int e = 0; e < n; e++) {
        double cur = (double)(float)v[e];
        wait++;
        if (cur + fabs(min_delta) < best) {
            best = cur;
            *best_at = e;
            wait = 0;
        }
        if (wait >= patience)
            return e;
    }
    return -1;
}

START_TEST(early_stopping_epoch_and_best_weights)
{
    long d[1] = { 2 };
    ck_assert_int_eq(sq_input(s, 1, d, &err), 0);
    add("dense 16 relu");
    add("dense 2 softmax");
    compile("optimizer=adam loss=sparse_categorical_crossentropy learning_rate=0.1");
    sq_tensor x, y, vx, vy;
    noisy(&x, &y, 32);
    noisy(&vx, &vy, 32);
    sq_fit_opts o = fit_opts(60, 8);
    o.val_x = &vx;
    o.val_y = &vy;
    o.callbacks = "early_stopping(monitor=val_loss,patience=3,min_delta=0.001,verbose=1,"
                  "restore_best_weights=true)";
    fit(&x, &y, &o);
    double h[60];
    int n = sq_history_values(s, "val_loss", h, 60), best = -1;
    ck_assert_int_lt(n, 60);
    ck_assert_int_eq(naive_stop(h, n, 0.001, 3, &best), n - 1);
    /* the best epoch's weights are back */
    close_to(evaluate_loss(&vx, &vy, 8, NULL), h[best], 1e-6, "restored val_loss");
    ck_assert_int_eq(nlines, 2);
    ck_assert_str_eq(lines[0], "Restoring model weights from the end of the best epoch.");
    char want[64];
    snprintf(want, sizeof want, "Epoch %05d: early stopping", n);
    ck_assert_str_eq(lines[1], want);
    /* Keras 2.6: patience=0 stops after the first epoch, with no message */
    int before = sq_history_epochs(s);
    o.callbacks = "early_stopping(verbose=1)";
    fit(&x, &y, &o);
    ck_assert_int_eq(sq_history_epochs(s), before + 1);
    ck_assert_int_eq(nlines, 0);
    /* a monitor that is not logged is a warning, and training runs on */
    o.val_x = o.val_y = NULL;
    o.epochs = 2;
    o.callbacks = "early_stopping(patience=1)";
    fit(&x, &y, &o);
    ck_assert_int_eq(nwarn, 2);
    ck_assert_str_eq(warnings[0], "Early stopping conditioned on metric `val_loss` which is "
                     "not available. Available metrics are: loss");
    /* mode */
    o.callbacks = "early_stopping(monitor=loss,mode=maximum)";
    fit(&x, &y, &o);
    ck_assert_str_eq(warnings[0], "EarlyStopping mode maximum is unknown, fallback to auto mode.");
    sq_tensor_free(&x);
    sq_tensor_free(&y);
    sq_tensor_free(&vx);
    sq_tensor_free(&vy);
}
END_TEST

START_TEST(reduce_lr_on_plateau_rates)
{
    long d[1] = { 2 };
    ck_assert_int_eq(sq_input(s, 1, d, &err), 0);
    add("dense 2 softmax");
    /* a rate so small the loss never improves by min_delta */
    compile("optimizer=sgd loss=sparse_categorical_crossentropy learning_rate=1e-9");
    sq_tensor x, y;
    noisy(&x, &y, 16);
    sq_fit_opts o = fit_opts(9, 8);
    o.callbacks = "reduce_lr_on_plateau(monitor=loss,factor=0.5,patience=2,cooldown=1,"
                  "min_lr=2e-10,verbose=1)";
    fit(&x, &y, &o);
    double lr[9], loss[9];
    ck_assert_int_eq(sq_history_values(s, "lr", lr, 9), 9);
    ck_assert_int_eq(sq_history_values(s, "loss", loss, 9), 9);
    /* ReduceLROnPlateau.on_epoch_end written out */
    double cur = 1e-9, best = INFINITY;
    int wait = 0, cool = 0, reductions = 0;
    for (int e = 0; e < 9; e++) {
        ck_assert_msg((float)lr[e] == (float)cur, "epoch %d: lr %g, want %g", e, lr[e], cur);
        if (cool > 0) {
            cool--;
            wait = 0;
        }
        double v = (double)(float)loss[e];
        if (v < best - 1e-4) {
            best = v;
            wait = 0;
        } else if (!(cool > 0) && ++wait >= 2) {
            if ((float)cur > (float)2e-10) {
                cur = fmax((double)(float)cur * 0.5, 2e-10);
                reductions++;
                cool = 1;
                wait = 0;
            }
        }
    }
    ck_assert_int_ge(reductions, 2);
    ck_assert_int_eq(nlines, 2 * reductions);
    ck_assert_str_eq(lines[0], "");
    ck_assert_str_eq(lines[1], "Epoch 00003: ReduceLROnPlateau reducing learning rate to "
                     "4.999999858590343e-10.");
    /* the reduced rate is the optimizer's state: save/load keeps it */
    char path[128];
    snprintf(path, sizeof path, "%s/r.seqm", dir);
    double now = sq_optim_lr(s->model->compiled->opt);
    ck_assert_int_eq(sq_save(s, path, &err), 0);
    ck_assert_int_eq(sq_load(s, path, &err), 0);
    ck_assert(sq_optim_lr(s->model->compiled->opt) == now);
    /* factor >= 1 and a schedule are refused */
    o.callbacks = "reduce_lr_on_plateau(factor=1.5)";
    ck_assert_int_eq(sq_fit(s, &x, &y, &o, NULL, NULL, &err), -1);
    ck_assert_str_eq(err.msg, "ReduceLROnPlateau does not support a factor >= 1.0.");
    compile("optimizer=sgd loss=sparse_categorical_crossentropy "
            "learning_rate=cosine_decay(0.1,100)");
    o.callbacks = "reduce_lr_on_plateau()";
    ck_assert_int_eq(sq_fit(s, &x, &y, &o, NULL, NULL, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "cannot change a learning-rate schedule"));
    ck_assert_int_eq(sq_history_epochs(s), 0);
    sq_tensor_free(&x);
    sq_tensor_free(&y);
}
END_TEST

/* ---- csv_logger and model_checkpoint --------------------------------------------------- */

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    static char buf[1 << 16];
    *len = fread(buf, 1, sizeof buf - 1, f);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

START_TEST(csv_log_contents)
{
    long d[1] = { 2 };
    ck_assert_int_eq(sq_input(s, 1, d, &err), 0);
    add("dense 3 relu");
    add("dense 2 softmax");
    compile("optimizer=sgd loss=sparse_categorical_crossentropy metrics=acc "
            "learning_rate=0.01");
    sq_tensor x, y;
    noisy(&x, &y, 30);
    char path[128], cbs[300];
    snprintf(path, sizeof path, "%s/log.csv", dir);
    snprintf(cbs, sizeof cbs, "reduce_lr_on_plateau(monitor=val_loss,patience=0,factor=0.5),"
             "csv_logger(%s)", path);
    sq_fit_opts o = fit_opts(3, 8);
    o.validation_split = 0.2;
    o.callbacks = cbs;
    fit(&x, &y, &o);
    size_t len;
    char *text = slurp(path, &len);
    /* the header: epoch, then the log names sorted; lines end in CR LF */
    const char *hdr = "epoch,acc,loss,lr,val_acc,val_loss\r\n";
    ck_assert_msg(!strncmp(text, hdr, strlen(hdr)), "header: %s", text);
    /* lr as numpy prints a float32: 0.01 */
    ck_assert_ptr_nonnull(strstr(text + strlen(hdr), ",0.01,"));
    static const char *const cols[] = { "acc", "loss", "lr", "val_acc", "val_loss" };
    double hv[5][3];
    for (int c = 0; c < 5; c++)
        ck_assert_int_eq(sq_history_values(s, cols[c], hv[c], 3), 3);
    char *p = text + strlen(hdr);
    for (int e = 0; e < 3; e++) {
        char *eol = strstr(p, "\r\n");
        ck_assert_ptr_nonnull(eol);
        *eol = '\0';
        char *save = NULL, *f = strtok_r(p, ",", &save);
        ck_assert_int_eq(atoi(f), e);
        for (int c = 0; c < 5; c++) {
            f = strtok_r(NULL, ",", &save);
            ck_assert_ptr_nonnull(f);
            /* a float32 value written with every digit a double needs
             * (lr: as numpy prints a float32) */
            if (c == 2)
                ck_assert_msg(strtof(f, NULL) == (float)hv[c][e], "epoch %d lr: %s", e, f);
            else
                ck_assert_msg(strtod(f, NULL) == (double)(float)hv[c][e],
                              "epoch %d %s: %s vs %.17g", e, cols[c], f,
                              (double)(float)hv[c][e]);
        }
        ck_assert_ptr_null(strtok_r(NULL, ",", &save));
        p = eol + 2;
    }
    ck_assert_str_eq(p, "");
    /* append=true adds rows, epochs counted on from initial_epoch */
    snprintf(cbs, sizeof cbs, "csv_logger(%s,separator=\";\",append=true)", path);
    o.callbacks = cbs;
    o.initial_epoch = 3;
    o.epochs = 4;
    fit(&x, &y, &o);
    text = slurp(path, &len);
    ck_assert_ptr_nonnull(strstr(text, "\r\n3;"));
    ck_assert_ptr_null(strstr(text + strlen(hdr), "epoch"));
    /* a new file gets the header with that separator */
    snprintf(path, sizeof path, "%s/semi.csv", dir);
    snprintf(cbs, sizeof cbs, "csv_logger(%s,\";\")", path);
    o.callbacks = cbs;
    o.initial_epoch = 0;
    o.epochs = 1;
    fit(&x, &y, &o);
    text = slurp(path, &len);
    ck_assert(!strncmp(text, "epoch;acc;loss;val_acc;val_loss\r\n0;", 35));
    sq_tensor_free(&x);
    sq_tensor_free(&y);
}
END_TEST

START_TEST(model_checkpoint_files)
{
    long d[1] = { 2 };
    ck_assert_int_eq(sq_input(s, 1, d, &err), 0);
    add("dense 2 softmax");
    compile("optimizer=adam loss=sparse_categorical_crossentropy learning_rate=0.1");
    sq_tensor x, y, vx, vy;
    noisy(&x, &y, 24);
    noisy(&vx, &vy, 24);
    char cbs[400];
    snprintf(cbs, sizeof cbs, "model_checkpoint(%s/ck-{epoch:02d}-{val_loss:.3f}.npz),"
             "model_checkpoint(%s/best.seqm,save_best_only=true,verbose=1)", dir, dir);
    sq_fit_opts o = fit_opts(3, 8);
    o.val_x = &vx;
    o.val_y = &vy;
    o.callbacks = cbs;
    fit(&x, &y, &o);
    double h[3];
    ck_assert_int_eq(sq_history_values(s, "val_loss", h, 3), 3);
    for (int e = 0; e < 3; e++) {
        char path[200];
        snprintf(path, sizeof path, "%s/ck-%02d-%.3f.npz", dir, e + 1, (double)(float)h[e]);
        ck_assert_msg(access(path, R_OK) == 0, "no %s", path);
    }
    /* the messages and the best model, by the rule written out */
    double best = INFINITY;
    int at = -1, k = 0;
    for (int e = 0; e < 3; e++) {
        char want[300];
        ck_assert_str_eq(lines[k++], "");
        if ((double)(float)h[e] < best) {
            snprintf(want, sizeof want, "Epoch %05d: val_loss improved from %0.5f to %0.5f, "
                     "saving model to %s/best.seqm", e + 1, best, (double)(float)h[e], dir);
            best = (double)(float)h[e];
            at = e;
        } else {
            snprintf(want, sizeof want, "Epoch %05d: val_loss did not improve from %0.5f",
                     e + 1, best);
        }
        ck_assert_str_eq(lines[k++], want);
    }
    ck_assert_int_ge(at, 0);
    /* a field that is not logged is Keras's error, before training */
    snprintf(cbs, sizeof cbs, "model_checkpoint(%s/m-{val_acc}.seqm)", dir);
    o.callbacks = cbs;
    ck_assert_int_eq(sq_fit(s, &x, &y, &o, NULL, NULL, &err), -1);
    char want[300];
    snprintf(want, sizeof want, "Failed to format this callback filepath: \"%s/m-{val_acc}.seqm\". "
             "Reason: 'val_acc'", dir);
    ck_assert_str_eq(err.msg, want);
    ck_assert_int_eq(sq_history_epochs(s), 3);
    sq_tensor_free(&x);
    sq_tensor_free(&y);
    sq_tensor_free(&vx);
    sq_tensor_free(&vy);
}
END_TEST

/* ---- save/load keeps the optimizer: 2 + 2 epochs = 4 ------------------------------------- */

static float *train_run(const char *opt, int split, int *nparams)
{
    sq_session_free(s);
    s = sq_session_new();
    sq_seed(s, 11);
    long d[1] = { 2 };
    ck_assert_int_eq(sq_input(s, 1, d, &err), 0);
    add("dense 8 relu kernel_regularizer=l2(0.001)");
    add("dropout 0.2");
    add("batchnormalization");
    add("dense 2 softmax");
    char line[300];
    snprintf(line, sizeof line, "optimizer=%s loss=sparse_categorical_crossentropy "
             "metrics=accuracy clipnorm=1.0", opt);
    compile(line);
    sq_tensor x, y;
    trng = 77;
    noisy(&x, &y, 40);
    sq_fit_opts o = fit_opts(split ? 2 : 4, 8);
    o.shuffle = 1;
    o.validation_split = 0.25;
    fit(&x, &y, &o);
    if (split) {
        char path[128];
        snprintf(path, sizeof path, "%s/half.seqm", dir);
        ck_assert_int_eq(sq_save(s, path, &err), 0);
        ck_assert_int_eq(sq_model_new(s, "other", &err), 0);   /* gone */
        ck_assert_msg(sq_load(s, path, &err) == 0, "%s", err.msg);
        o.initial_epoch = 2;
        o.epochs = 4;
        fit(&x, &y, &o);
    }
    *nparams = (int)s->model->nparams;
    float *w = malloc(s->model->nparams * sizeof(float));
    memcpy(w, s->model->params, s->model->nparams * sizeof(float));
    sq_tensor_free(&x);
    sq_tensor_free(&y);
    return w;
}

START_TEST(two_plus_two_epochs_equal_four)
{
    static const char *const opts[] = {
        "adam",
        "adam learning_rate=exponential_decay(0.05,decay_steps=3,decay_rate=0.7)",
        "nadam", "rmsprop momentum=0.9 centered=true", "sgd momentum=0.9 nesterov=true",
        "adagrad", "adadelta", "adamax", "ftrl",
    };
    for (size_t k = 0; k < sizeof opts / sizeof *opts; k++) {
        int n1, n2;
        float *a = train_run(opts[k], 0, &n1), *b = train_run(opts[k], 1, &n2);
        ck_assert_int_eq(n1, n2);
        ck_assert_msg(memcmp(a, b, (size_t)n1 * sizeof(float)) == 0,
                      "%s: 2 + 2 epochs with a save/load between differ from 4", opts[k]);
        free(a);
        free(b);
    }
}
END_TEST

/* A version 1 file (no optimizer state) still loads. */
START_TEST(version_1_files_load)
{
    long d[1] = { 3 };
    ck_assert_int_eq(sq_input(s, 1, d, &err), 0);
    add("dense 4 relu kernel_initializer=he_normal kernel_regularizer=l2(0.01)");
    compile("optimizer=adam loss=mse");
    char path[128], v1[128];
    snprintf(path, sizeof path, "%s/m.seqm", dir);
    snprintf(v1, sizeof v1, "%s/v1.seqm", dir);
    ck_assert_int_eq(sq_save(s, path, &err), 0);
    size_t len;
    unsigned char *buf = (unsigned char *)slurp(path, &len);
    /* version 2 without state: ... P floats, u64 S = 0, CRC; version 1: no S */
    unsigned char out[1 << 16];
    ck_assert(len > 36);
    ck_assert_int_eq(buf[8], 2);
    uint32_t t = buf[12] | buf[13] << 8 | buf[14] << 16 | (uint32_t)buf[15] << 24;
    size_t p = buf[16 + t] | buf[17 + t] << 8;
    size_t body = 24 + t + 4 * p;
    memcpy(out, buf, body);
    out[8] = 1;
    uLong crc = crc32(crc32(0L, Z_NULL, 0), out, (uInt)body);
    for (int i = 0; i < 4; i++)
        out[body + (size_t)i] = (unsigned char)(crc >> (8 * i));
    FILE *f = fopen(v1, "wb");
    fwrite(out, 1, body + 4, f);
    fclose(f);
    char *want = sq_weights_text(s, NULL, &err);
    sq_session *b = sq_session_new();
    ck_assert_msg(sq_load(b, v1, &err) == 0, "%s", err.msg);
    char *got = sq_weights_text(b, NULL, &err);
    ck_assert_str_eq(want, got);
    free(want);
    free(got);
    /* and trains, with a fresh optimizer */
    long dx[2] = { 4, 3 }, dy[2] = { 4, 4 };
    sq_tensor x = tensor(2, dx, NULL), y = tensor(2, dy, NULL);
    for (int i = 0; i < 12; i++)
        x.data[i] = (float)i;
    memset(y.data, 0, 16 * sizeof(float));
    sq_fit_opts o = fit_opts(1, 4);
    ck_assert_int_eq(sq_fit(b, &x, &y, &o, NULL, NULL, &err), 0);
    ck_assert_int_eq(sq_optim_iterations(b->model->compiled->opt), 1);
    sq_session_free(b);
    sq_tensor_free(&x);
    sq_tensor_free(&y);
}
END_TEST

/* ---- initializers -------------------------------------------------------------------------- */

static void stats(const float *w, size_t n, double *mean, double *sd, double *maxabs)
{
    double s1 = 0, s2 = 0, m = 0;
    for (size_t i = 0; i < n; i++) {
        s1 += w[i];
        m = fmax(m, fabs(w[i]));
    }
    *mean = s1 / (double)n;
    for (size_t i = 0; i < n; i++)
        s2 += (w[i] - *mean) * (w[i] - *mean);
    *sd = sqrt(s2 / (double)n);
    *maxabs = m;
}

START_TEST(initializer_distributions)
{
    /* a Dense 400 -> 300 kernel: fan_in 400, fan_out 300, 120000 values, so
     * the sample std is within ~0.5% of the true one */
    static const struct {
        const char *init;
        double sd, bound;      /* bound: |w| never beyond (0: not checked) */
        double mean;
    } cases[] = {
        { "glorot_uniform", 0.0534522, 0.0925820, 0 },        /* limit sqrt(6/700) */
        { "glorot_normal", 0.0534522, 2 * 0.0534522 / .87962566103423978, 0 },
        { "he_normal", 0.0707107, 2 * 0.0707107 / .87962566103423978, 0 },
        { "he_uniform", 0.0707107, 0.1224745, 0 },            /* sqrt(6/400) */
        { "lecun_normal", 0.05, 2 * 0.05 / .87962566103423978, 0 },
        { "lecun_uniform", 0.05, 0.0866025, 0 },
        { "random_normal(mean=0.5,stddev=0.02)", 0.02, 0, 0.5 },
        { "random_uniform(minval=-0.3,maxval=0.1)", 0.4 / sqrt(12), 0.3, -0.1 },
        { "truncated_normal(stddev=0.1)", 0.1 * .87962566103423978, 0.2, 0 },
        { "variance_scaling(scale=3.0,mode=fan_out,distribution=uniform)", 0.1, 0.17320508, 0 },
        { "VarianceScaling(2.0,'fan_avg','untruncated_normal')", 0.0755929, 0, 0 },
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        sq_model_new(s, NULL, &err);
        long d[1] = { 400 };
        ck_assert_int_eq(sq_input(s, 1, d, &err), 0);
        char line[200];
        snprintf(line, sizeof line, "dense 300 kernel_initializer=%s", cases[k].init);
        add(line);
        double mean, sd, mx;
        stats(s->model->params, 120000, &mean, &sd, &mx);
        ck_assert_msg(fabs(sd - cases[k].sd) < 0.01 * cases[k].sd, "%s: std %g, want %g",
                      cases[k].init, sd, cases[k].sd);
        ck_assert_msg(fabs(mean - cases[k].mean) < 0.02 * cases[k].sd, "%s: mean %g, want %g",
                      cases[k].init, mean, cases[k].mean);
        if (cases[k].bound > 0)
            ck_assert_msg(mx <= cases[k].bound * (1 + 1e-6) + fabs(cases[k].mean), "%s: max %g",
                          cases[k].init, mx);
    }
    /* orthogonal: orthonormal columns for (400, 300), rows for (300, 400), times gain */
    for (int t = 0; t < 2; t++) {
        long r = t ? 300 : 400, c = t ? 400 : 300;
        sq_model_new(s, NULL, &err);
        ck_assert_int_eq(sq_input(s, 1, &r, &err), 0);
        char line[100];
        snprintf(line, sizeof line, "dense %ld kernel_initializer=orthogonal(gain=2.0)", c);
        add(line);
        const float *w = s->model->params;
        long m = t ? r : c;   /* the orthonormal side */
        double worst = 0;
        for (long i = 0; i < m; i += 7)
            for (long j = 0; j < m; j += 5) {
                double dot = 0;
                for (long k = 0; k < (t ? c : r); k++)
                    dot += t ? (double)w[i * c + k] * w[j * c + k]
                             : (double)w[k * c + i] * w[k * c + j];
                worst = fmax(worst, fabs(dot - (i == j ? 4.0 : 0.0)));
            }
        ck_assert_msg(worst < 1e-4, "orthogonal %ldx%ld: off by %g", r, c, worst);
    }
    /* a conv kernel is flattened to (all but the last, last) */
    sq_model_new(s, NULL, &err);
    long di[3] = { 8, 8, 3 };
    ck_assert_int_eq(sq_input(s, 3, di, &err), 0);
    add("conv2d 4 3 kernel_initializer=orthogonal");
    const float *w = s->model->params;
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) {
            double dot = 0;
            for (int k = 0; k < 27; k++)
                dot += (double)w[k * 4 + i] * w[k * 4 + j];
            ck_assert(fabs(dot - (i == j)) < 1e-5);
        }
    /* constant, identity, ones, zeros and Keras's errors */
    sq_model_new(s, NULL, &err);
    long d3 = 3;
    ck_assert_int_eq(sq_input(s, 1, &d3, &err), 0);
    add("dense 4 kernel_initializer=identity(gain=0.5) bias_initializer=constant(-0.25)");
    w = s->model->params;
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 4; j++)
            ck_assert(w[i * 4 + j] == (i == j ? 0.5f : 0.0f));
    for (int j = 0; j < 4; j++)
        ck_assert(w[12 + j] == -0.25f);
    ck_assert_int_eq(add_line(s, "dense 4 bias_initializer=orthogonal", &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, ", weight bias: The tensor to initialize must be "
                                 "at least two-dimensional"));
    ck_assert_int_eq(add_line(s, "dense 4 bias_initializer=identity", &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "Identity matrix initializer can only be used for 2D "
                                 "matrices."));
    ck_assert_int_eq(add_line(s, "dense 4 kernel_initializer=he_normall", &err), -1);
    ck_assert_str_eq(err.msg, "Unknown initializer: he_normall. Please ensure this object is "
                     "passed to the `custom_objects` argument. See https://www.tensorflow.org/"
                     "guide/keras/save_and_serialize#registering_the_custom_object for details.");
    ck_assert_int_eq(add_line(s, "dense 4 kernel_initializer=variance_scaling(mode=fan)", &err), -1);
    ck_assert_str_eq(err.msg, "Invalid `mode` argument: fan");
    ck_assert_int_eq(add_line(s, "dense 4 kernel_initializer=variance_scaling(scale=0)", &err), -1);
    ck_assert_str_eq(err.msg, "`scale` must be positive float.");
    ck_assert_int_eq(add_line(s, "dense 4 kernel_initializer=random_normal(0,1,2,3)", &err), -1);
    ck_assert_str_eq(err.msg, "RandomNormal() takes 3 positional arguments but 4 were given");
    ck_assert_int_eq(add_line(s, "dense 4 kernel_initializer=zeros(x=1)", &err), -1);
    ck_assert_str_eq(err.msg, "Zeros() got an unexpected keyword argument 'x'");
    ck_assert_int_eq(add_line(s, "dense 4 kernel_regularizer=l3", &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "Unknown regularizer: l3. Please ensure"));
    ck_assert_int_eq(add_line(s, "dense 4 kernel_regularizer=l2(abc)", &err), -1);
    ck_assert_str_eq(err.msg, "Value: abc is not a valid regularization penalty number, "
                     "expected an int or float value");
    ck_assert_int_eq(add_line(s, "dense 4 kernel_regularizer=l2(inf)", &err), -1);
    ck_assert_str_eq(err.msg, "Value: inf is not a valid regularization penalty number, a "
                     "positive/negative infinity or NaN is not a property value");
    ck_assert_int_eq(add_line(s, "flatten kernel_initializer=ones", &err), -1);
    ck_assert_str_eq(err.msg, "Keyword argument not understood: kernel_initializer");
    ck_assert_int_eq(add_line(s, "batchnormalization moving_mean_regularizer=l2", &err), -1);
    ck_assert_str_eq(err.msg, "Keyword argument not understood: moving_mean_regularizer");
    ck_assert_int_eq(sq_layer_count(s), 1);
    /* the same seed gives the same weights; two layers never the same
     * numbers; seed= gives an initializer its own generator */
    float first[16];
    for (int rep = 0; rep < 2; rep++) {
        sq_model_new(s, NULL, &err);
        sq_seed(s, 99);
        ck_assert_int_eq(sq_input(s, 1, &d3, &err), 0);
        add("dense 4 kernel_initializer=he_uniform");
        add("dense 3 kernel_initializer=he_uniform");
        if (rep == 0)
            memcpy(first, s->model->params, sizeof first);
        else
            ck_assert_int_eq(memcmp(first, s->model->params, sizeof first), 0);
    }
    ck_assert(memcmp(s->model->params, s->model->params + 16, 12 * sizeof(float)) != 0);
    sq_model_new(s, NULL, &err);
    ck_assert_int_eq(sq_input(s, 1, &d3, &err), 0);
    add("dense 4 kernel_initializer=random_normal(seed=5)");
    add("dense 4 kernel_initializer=random_normal(seed=5) input_shape=3");
    ck_assert_int_eq(memcmp(s->model->params, s->model->params + 16, 12 * sizeof(float)), 0);
}
END_TEST

/* ---- logits, label smoothing, shapes ------------------------------------------------------ */

START_TEST(logits_smoothing_and_label_shapes)
{
    long d[1] = { 2 };
    ck_assert_int_eq(sq_input(s, 1, d, &err), 0);
    add("dense 3");
    enum { N = 4 };
    float xv[N * 2] = { 1, 2, -1, 0.5f, 0.3f, -0.7f, 2, 1 }, yv[N] = { 0, 2, 1, 2 };
    long dx[2] = { N, 2 }, dy[1] = { N }, dy3[2] = { N, 3 };
    sq_tensor x = tensor(2, dx, xv), y = tensor(1, dy, yv), y3 = tensor(2, dy3, NULL);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < 3; j++)
            y3.data[i * 3 + j] = (float)(j == (int)yv[i]);
    double p[N * 3];
    softmax_rows(s->model->params, xv, N, p);
    /* from_logits: softmax cross-entropy of a linear layer's outputs */
    compile("optimizer=sgd loss=sparse_categorical_crossentropy from_logits=true");
    double want = 0;
    for (int i = 0; i < N; i++)
        want -= log(p[i * 3 + (int)yv[i]]);
    close_to(evaluate_loss(&x, &y, 32, NULL), want / N, 1e-6, "from_logits");
    /* label smoothing: y (1 - ls) + ls / K */
    compile("optimizer=sgd loss=categorical_crossentropy from_logits=true label_smoothing=0.2");
    want = 0;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < 3; j++)
            want -= (y3.data[i * 3 + j] * 0.8 + 0.2 / 3) * log(p[i * 3 + j]);
    close_to(evaluate_loss(&x, &y3, 32, NULL), want / N, 1e-6, "label_smoothing");
    /* binary: y (1 - ls) + 0.5 ls, sigmoid cross-entropy of the outputs */
    compile("optimizer=sgd loss=binary_crossentropy from_logits=true label_smoothing=0.1");
    want = 0;
    const float *w = s->model->params;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < 3; j++) {
            double z = w[6 + j] + (double)xv[i * 2] * w[j] + (double)xv[i * 2 + 1] * w[3 + j];
            double q = 1 / (1 + exp(-z)), t = y3.data[i * 3 + j] * 0.9 + 0.05;
            want -= (t * log(q) + (1 - t) * log(1 - q)) / 3;
        }
    close_to(evaluate_loss(&x, &y3, 32, NULL), want / N, 1e-6, "binary label_smoothing");
    /* Keras's shape checks: class indices with categorical crossentropy */
    compile("optimizer=sgd loss=categorical_crossentropy");
    sq_fit_opts o = fit_opts(1, 4);
    ck_assert_int_eq(sq_fit(s, &x, &y, &o, NULL, NULL, &err), -1);
    ck_assert_str_eq(err.msg, "Shapes (None, 1) and (None, 3) are incompatible");
    compile("optimizer=sgd loss=binary_crossentropy from_logits=true");
    ck_assert_int_eq(sq_fit(s, &x, &y, &o, NULL, NULL, &err), -1);
    ck_assert_str_eq(err.msg, "logits and labels must have the same shape ((None, 3) vs (None, 1))");
    ck_assert_int_eq(compile_line(s, "optimizer=sgd loss=sparse_categorical_crossentropy "
                                  "label_smoothing=0.1"), -1);
    ck_assert_str_eq(err.msg, "SparseCategoricalCrossentropy.__init__() got an unexpected "
                     "keyword argument 'label_smoothing'");
    ck_assert_int_eq(compile_line(s, "optimizer=sgd loss=mse delta=2"), -1);
    ck_assert_str_eq(err.msg, "MeanSquaredError.__init__() got an unexpected keyword argument "
                     "'delta'");
    /* elementwise losses broadcast one target per row, as Keras does */
    compile("optimizer=sgd loss=mse");
    want = 0;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < 3; j++) {
            double z = w[6 + j] + (double)xv[i * 2] * w[j] + (double)xv[i * 2 + 1] * w[3 + j];
            want += (z - yv[i]) * (z - yv[i]) / 3;
        }
    close_to(evaluate_loss(&x, &y, 32, NULL), want / N, 1e-6, "broadcast mse");
    /* from_logits on a softmax output: Keras uses its logits, with a warning */
    sq_model_new(s, NULL, &err);
    ck_assert_int_eq(sq_input(s, 1, d, &err), 0);
    add("dense 3 softmax");
    compile("optimizer=sgd loss=sparse_categorical_crossentropy from_logits=true");
    o = fit_opts(1, 4);
    fit(&x, &y, &o);
    ck_assert_int_eq(nwarn, 1);
    ck_assert_str_eq(warnings[0], "\"`sparse_categorical_crossentropy` received "
                     "`from_logits=True`, but the `output` argument was produced by a sigmoid "
                     "or softmax activation and thus does not represent logits. Was this "
                     "intended?\"");
    softmax_rows(s->model->params, xv, N, p);
    want = 0;
    for (int i = 0; i < N; i++)
        want -= log(p[i * 3 + (int)yv[i]]);
    close_to(evaluate_loss(&x, &y, 32, NULL), want / N, 1e-6, "from_logits ignored");
    fit(&x, &y, &o);
    ck_assert_int_eq(nwarn, 0);   /* once per compile */
    sq_tensor_free(&x);
    sq_tensor_free(&y);
    sq_tensor_free(&y3);
}
END_TEST

/* ---- the whole gradient by finite differences ----------------------------------------- */

/* One SGD step with learning rate 1 moves the weights by minus the
 * gradient of the loss evaluate reports (penalties and all); central
 * differences of that loss must agree. */
static void gradient_matches(const char *const *layers, int nl, const char *loss, int classes)
{
    sq_session_free(s);
    s = sq_session_new();
    sq_seed(s, 21);
    trng = 0x9e3779b97f4a7c15ULL;
    long d[1] = { 3 };
    ck_assert_int_eq(sq_input(s, 1, d, &err), 0);
    for (int i = 0; i < nl; i++)
        add(layers[i]);
    char line[200];
    snprintf(line, sizeof line, "optimizer=sgd learning_rate=1 loss=%s", loss);
    compile(line);
    enum { N = 5 };
    long dx[2] = { N, 3 }, dy[1] = { N }, dy2[2] = { N, classes };
    sq_tensor x = tensor(2, dx, NULL);
    int sparse = strstr(loss, "sparse") != NULL;
    sq_tensor y = sparse ? tensor(1, dy, NULL) : tensor(2, dy2, NULL);
    for (int i = 0; i < N * 3; i++)
        x.data[i] = (float)urand(-1.5, 1.5);
    for (int i = 0; i < N * (sparse ? 1 : classes); i++)
        y.data[i] = sparse ? (float)(i % classes) : (float)(urand(0, 1) < 0.5);
    size_t n = s->model->nparams;
    float *w0 = malloc(n * sizeof(float));
    memcpy(w0, s->model->params, n * sizeof(float));
    double *fd = malloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++) {
        float keep = s->model->params[i];
        double h = 2e-3;   /* narrow: the l1 penalties have kinks */
        s->model->params[i] = keep + (float)h;
        double up = evaluate_loss(&x, &y, N, NULL);
        s->model->params[i] = keep - (float)h;
        double down = evaluate_loss(&x, &y, N, NULL);
        s->model->params[i] = keep;
        fd[i] = (up - down) / (2 * h);
    }
    sq_fit_opts o = fit_opts(1, N);
    fit(&x, &y, &o);
    for (size_t i = 0; i < n; i++) {
        double g = (double)w0[i] - s->model->params[i];
        ck_assert_msg(fabs(g - fd[i]) < 3e-3 * fmax(0.1, fabs(fd[i])),
                      "%s: weight %zu: step says %.6g, differences %.6g", layers[nl - 1], i, g,
                      fd[i]);
    }
    free(w0);
    free(fd);
    sq_tensor_free(&x);
    sq_tensor_free(&y);
}

START_TEST(whole_gradient_by_finite_differences)
{
    /* an activity penalty on a softmax output whose loss reads its logits */
    const char *a[] = { "dense 4 tanh kernel_regularizer=l1_l2(l1=0.01,l2=0.03) "
                        "activity_regularizer=l1_l2(l1=0.01,l2=0.02)",
                        "dense 3 softmax kernel_regularizer=l2(0.05) activity_regularizer=l2(0.1)" };
    gradient_matches(a, 2, "sparse_categorical_crossentropy", 3);
    const char *b[] = { "dense 2 sigmoid bias_regularizer=l2(0.2) activity_regularizer=l1(0.05)" };
    gradient_matches(b, 1, "binary_crossentropy", 2);
    const char *c[] = { "dense 4 tanh", "dense 3 activity_regularizer=l2(0.01)" };
    gradient_matches(c, 2, "sparse_categorical_crossentropy from_logits=true", 3);
    const char *e[] = { "dense 3 sigmoid kernel_regularizer=l1(0.02)" };
    gradient_matches(e, 1, "categorical_crossentropy label_smoothing=0.2", 3);
    const char *f[] = { "dense 3 tanh activity_regularizer=l2(0.3)" };
    gradient_matches(f, 1, "huber delta=0.3", 3);
}
END_TEST

int main(void)
{
    Suite *su = suite_create("training");
    TCase *tc = tcase_create("training");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, regularized_loss_is_keras);
    tcase_add_test(tc, one_sgd_step_with_penalties);
    tcase_add_test(tc, gradient_clipping);
    tcase_add_test(tc, adam_penalties_clipnorm_steps);
    tcase_add_test(tc, schedules_step_per_batch_across_fits);
    tcase_add_test(tc, class_and_sample_weights);
    tcase_add_test(tc, evaluate_sample_weights);
    tcase_add_test(tc, auc_precision_recall_topk);
    tcase_add_test(tc, auc_multi_label);
    tcase_add_test(tc, validation_data_is_evaluated);
    tcase_add_test(tc, early_stopping_epoch_and_best_weights);
    tcase_add_test(tc, reduce_lr_on_plateau_rates);
    tcase_add_test(tc, csv_log_contents);
    tcase_add_test(tc, model_checkpoint_files);
    tcase_add_test(tc, two_plus_two_epochs_equal_four);
    tcase_add_test(tc, version_1_files_load);
    tcase_add_test(tc, initializer_distributions);
    tcase_add_test(tc, logits_smoothing_and_label_shapes);
    tcase_add_test(tc, whole_gradient_by_finite_differences);
    suite_add_tcase(su, tc);
    return run_suite(su);
}
