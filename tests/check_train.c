/* check_train.c - losses (values and finite-difference gradients), the
 * progress bar text, compile errors, and fit/evaluate end to end. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "seqsh/engine.h"
#include "model.h"
#include "test_util.h"
#include "train/loss.h"
#include "text/progbar.h"

static sq_error err;

/* ---- losses -------------------------------------------------------------- */

static double naive_loss(int loss, int logits, const float *o, const float *t, long rows,
                         long last)
{
    double total = 0;
    for (long r = 0; r < rows; r++) {
        double row = 0;
        if (loss == L_MSE || loss == L_MAE) {
            for (long j = 0; j < last; j++) {
                double d = (double)o[r * last + j] - t[r * last + j];
                row += loss == L_MSE ? d * d : fabs(d);
            }
            row /= (double)last;
        } else if (loss == L_BCE) {
            for (long j = 0; j < last; j++) {
                double p = o[r * last + j], y = t[r * last + j];
                if (logits)
                    p = 1 / (1 + exp(-p));
                else
                    p = fmin(fmax(p, 1e-7), 1 - 1e-7);
                row -= y * log(p + (logits ? 0 : 1e-7)) + (1 - y) * log(1 - p + (logits ? 0 : 1e-7));
            }
            row /= (double)last;
        } else {
            double s = 0, mx = -1e30;
            for (long j = 0; j < last; j++) {
                s += o[r * last + j];
                mx = fmax(mx, o[r * last + j]);
            }
            double z = 0;
            for (long j = 0; j < last; j++)
                z += exp(o[r * last + j] - mx);
            for (long j = 0; j < last; j++) {
                double y = loss == L_SCCE ? (j == (long)t[r]) : t[r * last + j];
                double p = logits ? exp(o[r * last + j] - mx) / z
                                  : fmin(fmax(o[r * last + j] / s, 1e-7), 1 - 1e-7);
                row -= y * log(p);
            }
        }
        total += row;
    }
    return total / (double)rows;
}

START_TEST(losses_match_formulas_and_finite_differences)
{
    enum { R = 3, C = 4 };
    float o[R * C], t[R * C], g[R * C];
    static const int cases[][2] = {
        { L_MSE, 0 }, { L_MAE, 0 }, { L_BCE, 0 }, { L_BCE, 1 }, { L_CCE, 0 }, { L_CCE, 1 },
        { L_SCCE, 0 }, { L_SCCE, 1 },
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        int loss = cases[k][0], logits = cases[k][1];
        for (int i = 0; i < R * C; i++) {
            o[i] = logits || loss == L_MSE || loss == L_MAE ? (float)sin(i * 1.7) * 2
                 : 0.1f + 0.8f * (float)(0.5 + 0.5 * sin(i * 1.3));
            t[i] = loss == L_BCE ? (float)(i % 3 == 0) : loss == L_CCE ? (float)(i % C == (i / C) % C)
                 : (float)cos(i);
        }
        if (loss == L_SCCE)
            for (int r = 0; r < R; r++)
                t[r] = (float)((r * 3 + 1) % C);
        double v = sq_loss_compute(loss, logits, o, t, R, C, g);
        double want = naive_loss(loss, logits, o, t, R, C);
        ck_assert_msg(fabs(v - want) < 1e-5 * fmax(1, fabs(want)),
                      "loss %d logits %d: %g vs %g", loss, logits, v, want);
        for (int i = 0; i < R * C; i++) {
            float keep = o[i];
            double h = 1e-3;
            o[i] = keep + (float)h;
            double up = naive_loss(loss, logits, o, t, R, C);
            o[i] = keep - (float)h;
            double down = naive_loss(loss, logits, o, t, R, C);
            o[i] = keep;
            double fd = (up - down) / (2 * h);
            ck_assert_msg(fabs(fd - g[i]) < 2e-3 * fmax(1, fabs(fd)),
                          "loss %d logits %d grad[%d]: %g vs fd %g", loss, logits, i, g[i], fd);
        }
    }
}
END_TEST

/* The losses of issue 13 by their formulas in keras/losses.py, per row
 * reduced over the last axis, then the mean over rows. */
static double naive_loss2(int loss, const float *o, const float *t, long rows, long last)
{
    double total = 0, e7 = 1e-7;
    int binary = 1;
    for (long i = 0; i < rows * last; i++)
        binary &= t[i] == 0 || t[i] == 1;
    for (long r = 0; r < rows; r++) {
        const float *p = o + r * last, *y = t + r * last;
        double row = 0, pos = 0, neg = -1e300, sy = 0, sp = 0, dot = 0;
        for (long j = 0; j < last; j++) {
            double e = (double)p[j] - y[j], yy = y[j];
            switch (loss) {
            case L_HUBER: row += fabs(e) <= 1.5 ? 0.5 * e * e : 1.5 * fabs(e) - 0.5 * 2.25; break;
            case L_KLD: {
                double a = fmin(fmax(yy, e7), 1), b = fmin(fmax(p[j], e7), 1);
                row += a * log(a / b);
                break;
            }
            case L_HINGE: case L_SQUARED_HINGE: {
                double yh = binary ? 2 * yy - 1 : yy, h = fmax(1 - yh * p[j], 0);
                row += loss == L_HINGE ? h : h * h;
                break;
            }
            case L_CATEGORICAL_HINGE:
                pos += yy * p[j];
                neg = fmax(neg, (1 - yy) * p[j]);
                break;
            case L_POISSON: row += p[j] - yy * log(p[j] + e7); break;
            case L_LOG_COSH: row += log(cosh(e)); break;
            case L_COSINE: sy += yy * yy; sp += (double)p[j] * p[j]; dot += yy * p[j]; break;
            case L_MAPE: row += 100 * fabs(e) / fmax(fabs(yy), e7); break;
            case L_MSLE: {
                double a = log(fmax(p[j], e7) + 1) - log(fmax(yy, e7) + 1);
                row += a * a;
                break;
            }
            }
        }
        if (loss == L_CATEGORICAL_HINGE)
            row = fmax(neg - pos + 1, 0);
        else if (loss == L_COSINE)
            row = -dot / sqrt(fmax(sy, 1e-12)) / sqrt(fmax(sp, 1e-12));
        else if (loss != L_KLD)
            row /= (double)last;
        total += row;
    }
    return total / (double)rows;
}

START_TEST(new_losses_match_formulas_and_finite_differences)
{
    enum { R = 3, C = 4 };
    float o[R * C], t[R * C], g[R * C];
    static const int cases[] = { L_HUBER, L_KLD, L_HINGE, L_SQUARED_HINGE, L_CATEGORICAL_HINGE,
                                 L_POISSON, L_LOG_COSH, L_COSINE, L_MAPE, L_MSLE };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        int loss = cases[k];
        for (int pass = 0; pass < 2; pass++) {
            for (int i = 0; i < R * C; i++) {
                int positive = loss == L_KLD || loss == L_POISSON || loss == L_MSLE;
                o[i] = positive ? 0.05f + 0.9f * (float)(0.5 + 0.5 * sin(i * 1.3))
                     : (float)sin(i * 1.7) * 2;
                /* pass 1: labels 0/1 (hinge converts them), one-hot for categorical */
                t[i] = pass ? (float)(i % C == (i / C + 1) % C)
                     : positive ? 0.1f + 0.8f * (float)(0.5 + 0.5 * cos(i * 0.7))
                     : (float)cos(i) * 1.5f;
            }
            sq_loss_cfg cfg;
            sq_loss_cfg_init(&cfg, loss);
            cfg.delta = 1.5;
            double v = sq_loss_eval(&cfg, 0, o, t, R, C, NULL, g);
            double want = naive_loss2(loss, o, t, R, C);
            ck_assert_msg(fabs(v - want) < 1e-5 * fmax(1, fabs(want)), "%s pass %d: %.9g vs %.9g",
                          sq_loss_name(loss), pass, v, want);
            for (int i = 0; i < R * C; i++) {
                float keep = o[i];
                double h = 1e-3;
                o[i] = keep + (float)h;
                double up = naive_loss2(loss, o, t, R, C);
                o[i] = keep - (float)h;
                double down = naive_loss2(loss, o, t, R, C);
                o[i] = keep;
                double fd = (up - down) / (2 * h);
                ck_assert_msg(fabs(fd - g[i]) < 2e-3 * fmax(1, fabs(fd)),
                              "%s pass %d grad[%d]: %g vs fd %g", sq_loss_name(loss), pass, i,
                              g[i], fd);
            }
            /* row weights: sum w l / rows, and the gradient scaled alike */
            float rw[R] = { 2, 0, 0.5f }, gw[R * C];
            double vw = sq_loss_eval(&cfg, 0, o, t, R, C, rw, gw), sum = 0;
            for (int r = 0; r < R; r++)
                sum += rw[r] * naive_loss2(loss, o + r * C, t + r * C, 1, C) * 1.0;
            if (loss != L_HINGE && loss != L_SQUARED_HINGE)   /* per-batch label rule */
                ck_assert_msg(fabs(vw - sum / R) < 1e-5 * fmax(1, fabs(sum)), "%s weighted",
                              sq_loss_name(loss));
            for (int i = 0; i < R * C; i++)
                ck_assert_msg(fabs(gw[i] - rw[i / C] * g[i]) < 1e-6 * fmax(1, fabs(g[i])),
                              "%s weighted grad[%d]", sq_loss_name(loss), i);
        }
    }
}
END_TEST

START_TEST(loss_and_metric_names)
{
    ck_assert_int_eq(sq_loss_find("mse", &err), L_MSE);
    ck_assert_int_eq(sq_loss_find("MeanAbsoluteError", &err), L_MAE);
    ck_assert_int_eq(sq_loss_find("bce", &err), L_BCE);
    ck_assert_int_eq(sq_loss_find("SparseCategoricalCrossentropy", &err), L_SCCE);
    ck_assert_int_eq(sq_loss_find("foo", &err), -1);
    ck_assert_str_eq(err.msg, "Unknown loss function: foo. Please ensure this object is passed "
                     "to the `custom_objects` argument. See https://www.tensorflow.org/guide/"
                     "keras/save_and_serialize#registering_the_custom_object for details.");
    ck_assert_int_eq(sq_metric_find("acc", &err), M_ACCURACY);
    ck_assert_int_eq(sq_metric_find("f1", &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "Unknown metric function: f1."));
}
END_TEST

/* ---- the progress bar ----------------------------------------------------- */

START_TEST(progress_bar_text)
{
    char b[512];
    const char *names[] = { "loss", "accuracy", "val_loss", "val_accuracy" };
    double v[] = { 0.2870, 0.9170, 6.1423e-05, 0.96 };
    sq_progbar_format(b, sizeof b, 1, 1875, 1875, 1, 3.2, 0.0014, 2, names, v);
    ck_assert_str_eq(b, "1875/1875 [==============================] - 3s 1ms/step - loss: "
                     "0.2870 - accuracy: 0.9170");
    sq_progbar_format(b, sizeof b, 1, 1, 1875, 0, 0.1, 0.002, 1, names, v);
    ck_assert_str_eq(b, "   1/1875 [..............................] - ETA: 3s - loss: 0.2870");
    sq_progbar_format(b, sizeof b, 1, 938, 1875, 0, 1, 0.001, 0, names, v);
    ck_assert_str_eq(b, " 938/1875 [==============>...............] - ETA: 0s");
    sq_progbar_format(b, sizeof b, 1, 1874, 1875, 0, 1, 70, 0, names, v);
    ck_assert_str_eq(b, "1874/1875 [============================>.] - ETA: 1:10");
    sq_progbar_format(b, sizeof b, 1, 7, 100, 0, 1, 100, 0, names, v);
    ck_assert_str_eq(b, "  7/100 [=>............................] - ETA: 2:35:00");
    sq_progbar_format(b, sizeof b, 1, 4, 4, 1, 0.02, 0.0002, 4, names, v);
    ck_assert_str_eq(b, "4/4 [==============================] - 0s 200us/step - loss: 0.2870 - "
                     "accuracy: 0.9170 - val_loss: 6.1423e-05 - val_accuracy: 0.9600");
    sq_progbar_format(b, sizeof b, 1, 1, 1, 1, 1.6, 1.6, 1, names, v);
    ck_assert_str_eq(b, "1/1 [==============================] - 2s 2s/step - loss: 0.2870");
    sq_progbar_format(b, sizeof b, 2, 1875, 1875, 1, 3.4, 0.001, 2, names, v);
    ck_assert_str_eq(b, "1875/1875 - 3s - loss: 0.2870 - accuracy: 0.9170");
    double neg[] = { -0.5 };
    sq_progbar_format(b, sizeof b, 2, 4, 4, 1, 0, 0, 1, names, neg);
    ck_assert_str_eq(b, "4/4 - 0s - loss: -5.0000e-01");
    sq_progbar_format(b, sizeof b, 1, 4, 4, 1, 0, 0, 1, names, neg);
    ck_assert_str_eq(b, "4/4 [==============================] - 0s 0s/step - loss: -0.5000");
}
END_TEST

/* ---- compile and fit ------------------------------------------------------ */

static sq_session *s;
static void setup(void) { s = sq_session_new(); sq_seed(s, 3); }
static void teardown(void) { sq_session_free(s); }

static int add(const char *line)
{
    return add_line(s, line, &err);
}

static int compile(const char *opt, const char *loss, const char *metrics)
{
    return sq_compile(s, opt, loss, metrics, 0, NULL, NULL, &err);
}

/* Two Gaussian-ish blobs in 2-D, linearly separable. */
static void blobs(sq_tensor *x, sq_tensor *y, long n, int onehot)
{
    x->shape = (sq_shape){ 2, { n, 2 } };
    y->shape = onehot ? (sq_shape){ 2, { n, 2 } } : (sq_shape){ 1, { n } };
    x->data = malloc((size_t)n * 2 * sizeof(float));
    y->data = malloc((size_t)n * 2 * sizeof(float));
    for (long i = 0; i < n; i++) {
        int c = (int)(i % 2);
        x->data[2 * i] = (c ? 1.5f : -1.5f) + 0.5f * (float)sin(i * 12.9898);
        x->data[2 * i + 1] = (c ? -1.0f : 1.0f) + 0.5f * (float)cos(i * 78.233);
        if (onehot) {
            y->data[2 * i] = (float)(c == 0);
            y->data[2 * i + 1] = (float)(c == 1);
        } else {
            y->data[i] = (float)c;
        }
    }
}

static void quiet(void *ctx, const char *text, int kind) { (void)ctx; (void)text; (void)kind; }

START_TEST(separable_problem_reaches_full_accuracy)
{
    static const char *const opts[] = { "sgd", "adam", "rmsprop", "adagrad", "adamax", "nadam" };
    static const char *const lr[] = { "0.5", "0.05", "0.05", "0.5", "0.05", "0.05" };
    for (int k = 0; k < 6; k++) {
        sq_session_free(s);
        setup();
        long d[1] = { 2 };
        ck_assert_int_eq(sq_input(s, 1, d, &err), 0);
        ck_assert_int_eq(add("dense 8 tanh"), 0);
        ck_assert_int_eq(add("dense 2 softmax"), 0);
        const char *keys[] = { "learning_rate" };
        ck_assert_int_eq(sq_compile(s, opts[k], "sparse_categorical_crossentropy", "accuracy",
                                    1, keys, &lr[k], &err), 0);
        sq_tensor x, y;
        blobs(&x, &y, 64, 0);
        sq_fit_opts o = { .epochs = 30, .batch_size = 16, .validation_split = 0, .shuffle = 1, .verbose = 0  };
        ck_assert_msg(sq_fit(s, &x, &y, &o, quiet, NULL, &err) == 0, "%s", err.msg);
        double v[4];
        const char *names[4];
        int n;
        ck_assert_int_eq(sq_evaluate(s, &x, &y, 32, 0, NULL, NULL, v, names, 4, &n, &err), 0);
        ck_assert_int_eq(n, 2);
        ck_assert_str_eq(names[1], "accuracy");
        ck_assert_msg(v[1] == 1.0, "%s: accuracy %g loss %g", opts[k], v[1], v[0]);
        sq_tensor_free(&x);
        sq_tensor_free(&y);
    }
}
END_TEST

/* The History: every finished epoch since compile, train and val_ values;
 * the last epoch's val_ values are evaluate's on the held-out tail. */
START_TEST(history_of_the_fits)
{
    long d[1] = { 2 };
    ck_assert_int_eq(sq_input(s, 1, d, &err), 0);
    ck_assert_int_eq(add("dense 4 tanh"), 0);
    ck_assert_int_eq(add("dense 2 softmax"), 0);
    ck_assert_int_eq(sq_compile(s, "adam", "sparse_categorical_crossentropy", "accuracy", 0,
                                NULL, NULL, &err), 0);
    ck_assert_int_eq(sq_history_epochs(s), 0);
    sq_tensor x, y;
    blobs(&x, &y, 40, 0);
    sq_fit_opts o = { .epochs = 3, .batch_size = 8, .validation_split = 0.25, .shuffle = 0, .verbose = 0  };
    ck_assert_msg(sq_fit(s, &x, &y, &o, quiet, NULL, &err) == 0, "%s", err.msg);
    const char *names[8];
    ck_assert_int_eq(sq_history_epochs(s), 3);
    ck_assert_int_eq(sq_history_names(s, names, 8), 4);
    ck_assert_str_eq(names[0], "loss");
    ck_assert_str_eq(names[1], "accuracy");
    ck_assert_str_eq(names[2], "val_loss");
    ck_assert_str_eq(names[3], "val_accuracy");
    double hv[8], ev[4];
    const char *en[4];
    int n;
    ck_assert_int_eq(sq_history_values(s, "val_loss", hv, 8), 3);
    /* the held-out quarter is the last 10 samples, taken before shuffling */
    sq_tensor tx = x, ty = y;
    tx.shape.d[0] = ty.shape.d[0] = 10;
    tx.data = x.data + 30 * 2;
    ty.data = y.data + 30;
    ck_assert_int_eq(sq_evaluate(s, &tx, &ty, 32, 0, NULL, NULL, ev, en, 4, &n, &err), 0);
    ck_assert_double_eq_tol(hv[2], ev[0], 1e-6 * fabs(ev[0]) + 1e-7);
    /* a second fit without validation adds epochs with NaN val_ values */
    o.validation_split = 0;
    o.epochs = 2;
    ck_assert_int_eq(sq_fit(s, &x, &y, &o, quiet, NULL, &err), 0);
    ck_assert_int_eq(sq_history_epochs(s), 5);
    ck_assert_int_eq(sq_history_values(s, "val_loss", hv, 8), 5);
    ck_assert(isnan(hv[3]) && isnan(hv[4]) && !isnan(hv[2]));
    ck_assert_int_eq(sq_history_values(s, "loss", hv, 8), 5);
    for (int i = 0; i < 5; i++)
        ck_assert(isfinite(hv[i]) && hv[i] > 0);
    ck_assert_int_eq(sq_history_values(s, "nope", hv, 8), -1);
    /* compile starts afresh */
    ck_assert_int_eq(sq_compile(s, "sgd", "sparse_categorical_crossentropy", NULL, 0, NULL,
                                NULL, &err), 0);
    ck_assert_int_eq(sq_history_epochs(s), 0);
    ck_assert_int_eq(sq_history_names(s, names, 8), 0);
    sq_tensor_free(&x);
    sq_tensor_free(&y);
}
END_TEST

START_TEST(binary_and_categorical_accuracy)
{
    long d[1] = { 2 };
    ck_assert_int_eq(sq_input(s, 1, d, &err), 0);
    ck_assert_int_eq(add("dense 1 sigmoid"), 0);
    const char *keys[] = { "learning_rate" }, *vals[] = { "0.1" };
    ck_assert_int_eq(sq_compile(s, "adam", "binary_crossentropy", "accuracy", 1, keys, vals, &err), 0);
    sq_tensor x, y;
    blobs(&x, &y, 64, 0);
    y.shape = (sq_shape){ 2, { 64, 1 } };
    sq_fit_opts o = { .epochs = 40, .batch_size = 8, .validation_split = 0, .shuffle = 1, .verbose = 0  };
    ck_assert_int_eq(sq_fit(s, &x, &y, &o, quiet, NULL, &err), 0);
    double v[4];
    const char *names[4];
    int n;
    ck_assert_int_eq(sq_evaluate(s, &x, &y, 32, 0, NULL, NULL, v, names, 4, &n, &err), 0);
    ck_assert(v[1] == 1.0);
    sq_tensor_free(&x);
    sq_tensor_free(&y);
    /* categorical: one-hot targets */
    sq_session_free(s);
    setup();
    ck_assert_int_eq(sq_input(s, 1, d, &err), 0);
    ck_assert_int_eq(add("dense 2 softmax"), 0);
    ck_assert_int_eq(sq_compile(s, "adam", "categorical_crossentropy", "acc", 1, keys, vals, &err), 0);
    blobs(&x, &y, 64, 1);
    ck_assert_int_eq(sq_fit(s, &x, &y, &o, quiet, NULL, &err), 0);
    ck_assert_int_eq(sq_evaluate(s, &x, &y, 32, 0, NULL, NULL, v, names, 4, &n, &err), 0);
    ck_assert_str_eq(names[1], "acc");
    ck_assert(v[1] == 1.0);
    sq_tensor_free(&x);
    sq_tensor_free(&y);
}
END_TEST

START_TEST(fit_errors_change_nothing)
{
    sq_tensor x, y;
    blobs(&x, &y, 10, 0);
    sq_fit_opts o = { .epochs = 1, .batch_size = 4, .validation_split = 0, .shuffle = 1, .verbose = 0  };
    ck_assert_int_eq(add("dense 2 softmax"), 0);
    ck_assert_int_eq(sq_fit(s, &x, &y, &o, quiet, NULL, &err), -1);
    ck_assert_str_eq(err.msg, "You must compile your model before training/testing. Use "
                     "`model.compile(optimizer, loss)`.");
    ck_assert_int_eq(compile("sgd", "sparse_categorical_crossentropy", NULL), 0);
    y.data[3] = 2;
    ck_assert_int_eq(sq_fit(s, &x, &y, &o, quiet, NULL, &err), -1);
    ck_assert_str_eq(err.msg, "Received a label value of 2 which is outside the valid range of [0, 2).");
    ck_assert(!sq_model_is_built(s));   /* the deferred build was undone */
    y.data[3] = 1;
    y.shape.d[0] = 9;
    ck_assert_int_eq(sq_fit(s, &x, &y, &o, quiet, NULL, &err), -1);
    ck_assert_str_eq(err.msg, "Data cardinality is ambiguous: x sizes: 10, y sizes: 9. Make "
                     "sure all arrays contain the same number of samples.");
    y.shape.d[0] = 10;
    o.validation_split = 0.95;
    ck_assert_int_eq(sq_fit(s, &x, &y, &o, quiet, NULL, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "Training data contains 10 samples, which is not "
                                 "sufficient to split it"));
    ck_assert_int_eq(compile("adamm", "mse", NULL), -1);
    ck_assert_str_eq(err.msg, "Unknown optimizer: adamm (did you mean adam?); 'help optimizers' "
                     "lists them");
    ck_assert_int_eq(compile("adam", "msee", NULL), -1);
    ck_assert_int_eq(compile("adam", "mse", "accuracy,bogus"), -1);
    sq_tensor_free(&x);
    sq_tensor_free(&y);
}
END_TEST

/* Frozen layers keep their weights bit for bit; the head still learns. */
START_TEST(frozen_layers_do_not_change)
{
    long d[1] = { 2 };
    ck_assert_int_eq(sq_input(s, 1, d, &err), 0);
    ck_assert_int_eq(add("dense 4 relu trainable=false"), 0);
    ck_assert_int_eq(add("batchnormalization"), 0);
    ck_assert_int_eq(add("dense 2 softmax"), 0);
    ck_assert_int_eq(compile("adam", "sparse_categorical_crossentropy", "accuracy"), 0);
    size_t frozen = s->model->layers[0]->param_count;
    float *before = malloc(s->model->nparams * sizeof(float));
    memcpy(before, s->model->params, s->model->nparams * sizeof(float));
    sq_tensor x, y;
    blobs(&x, &y, 32, 0);
    sq_fit_opts o = { .epochs = 2, .batch_size = 8, .validation_split = 0, .shuffle = 1, .verbose = 0  };
    ck_assert_int_eq(sq_fit(s, &x, &y, &o, quiet, NULL, &err), 0);
    ck_assert_int_eq(memcmp(before, s->model->params, frozen * sizeof(float)), 0);
    size_t head = s->model->layers[2]->param_off;
    ck_assert(memcmp(before + head, s->model->params + head, 8 * sizeof(float)) != 0);
    free(before);
    sq_tensor_free(&x);
    sq_tensor_free(&y);
}
END_TEST

/* Same seed, same numbers: two sessions train to identical weights. */
START_TEST(training_is_reproducible)
{
    float *w[2];
    size_t n = 0;
    for (int k = 0; k < 2; k++) {
        sq_session_free(s);
        setup();
        long d[1] = { 2 };
        ck_assert_int_eq(sq_input(s, 1, d, &err), 0);
        ck_assert_int_eq(add("dense 6 relu"), 0);
        ck_assert_int_eq(add("dropout 0.3"), 0);
        ck_assert_int_eq(add("dense 2 softmax"), 0);
        ck_assert_int_eq(compile("adam", "sparse_categorical_crossentropy", NULL), 0);
        sq_tensor x, y;
        blobs(&x, &y, 40, 0);
        sq_fit_opts o = { .epochs = 3, .batch_size = 8, .validation_split = 0.25, .shuffle = 1, .verbose = 0  };
        ck_assert_int_eq(sq_fit(s, &x, &y, &o, quiet, NULL, &err), 0);
        n = s->model->nparams;
        w[k] = malloc(n * sizeof(float));
        memcpy(w[k], s->model->params, n * sizeof(float));
        sq_tensor_free(&x);
        sq_tensor_free(&y);
    }
    ck_assert_int_eq(memcmp(w[0], w[1], n * sizeof(float)), 0);
    free(w[0]);
    free(w[1]);
}
END_TEST

/* One SGD step by hand: mse on a 1x1 Dense, w <- w - lr * dL/dw. */
START_TEST(one_sgd_step_by_hand)
{
    long d[1] = { 1 };
    ck_assert_int_eq(sq_input(s, 1, d, &err), 0);
    ck_assert_int_eq(add("dense 1"), 0);
    s->model->params[0] = 0.5f;  /* kernel */
    s->model->params[1] = 0.25f; /* bias */
    const char *keys[] = { "learning_rate" }, *vals[] = { "0.1" };
    ck_assert_int_eq(sq_compile(s, "sgd", "mse", NULL, 1, keys, vals, &err), 0);
    float xv[2] = { 1, 2 }, yv[2] = { 2, 3 };
    sq_tensor x = { { 2, { 2, 1 } }, xv }, y = { { 2, { 2, 1 } }, yv };
    sq_fit_opts o = { .epochs = 1, .batch_size = 2, .validation_split = 0, .shuffle = 0, .verbose = 0  };
    ck_assert_int_eq(sq_fit(s, &x, &y, &o, quiet, NULL, &err), 0);
    /* p = 0.75, 1.25; e = p - y = -1.25, -1.75; dL/dw = mean(2 e x) = -4.75;
     * dL/db = mean(2 e) = -3; w = 0.5 + 0.475, b = 0.25 + 0.3 */
    ck_assert_float_eq_tol(s->model->params[0], 0.975f, 1e-6);
    ck_assert_float_eq_tol(s->model->params[1], 0.55f, 1e-6);
}
END_TEST

static char lines[8][512];
static int nlines;
static void record(void *ctx, const char *text, int kind)
{
    (void)ctx;
    if (kind != SQ_PROGRESS_UPDATE && nlines < 8)
        snprintf(lines[nlines++], sizeof lines[0], "%s", text);
}

START_TEST(fit_reports_like_keras)
{
    long d[1] = { 2 };
    ck_assert_int_eq(sq_input(s, 1, d, &err), 0);
    ck_assert_int_eq(add("dense 2 softmax"), 0);
    ck_assert_int_eq(compile("adam", "sparse_categorical_crossentropy", "accuracy"), 0);
    sq_tensor x, y;
    blobs(&x, &y, 100, 0);
    sq_fit_opts o = { .epochs = 2, .batch_size = 32, .validation_split = 0.2, .shuffle = 1, .verbose = 1  };
    nlines = 0;
    ck_assert_int_eq(sq_fit(s, &x, &y, &o, record, NULL, &err), 0);
    ck_assert_int_eq(nlines, 4);
    ck_assert_str_eq(lines[0], "Epoch 1/2");
    ck_assert_str_eq(lines[2], "Epoch 2/2");
    ck_assert_ptr_nonnull(strstr(lines[1], "3/3 [==============================] - 0s "));
    ck_assert_ptr_nonnull(strstr(lines[1], "/step - loss: "));
    ck_assert_ptr_nonnull(strstr(lines[1], " - accuracy: "));
    ck_assert_ptr_nonnull(strstr(lines[1], " - val_loss: "));
    ck_assert_ptr_nonnull(strstr(lines[1], " - val_accuracy: "));
    /* one epoch: no Epoch line; verbose 2: no bar */
    o.epochs = 1;
    o.verbose = 2;
    nlines = 0;
    ck_assert_int_eq(sq_fit(s, &x, &y, &o, record, NULL, &err), 0);
    ck_assert_int_eq(nlines, 1);
    ck_assert(!strncmp(lines[0], "3/3 - 0s - loss: ", 17));
    sq_tensor_free(&x);
    sq_tensor_free(&y);
}
END_TEST

int main(void)
{
    Suite *su = suite_create("train");
    TCase *tc = tcase_create("train");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, losses_match_formulas_and_finite_differences);
    tcase_add_test(tc, new_losses_match_formulas_and_finite_differences);
    tcase_add_test(tc, loss_and_metric_names);
    tcase_add_test(tc, progress_bar_text);
    tcase_add_test(tc, separable_problem_reaches_full_accuracy);
    tcase_add_test(tc, binary_and_categorical_accuracy);
    tcase_add_test(tc, history_of_the_fits);
    tcase_add_test(tc, fit_errors_change_nothing);
    tcase_add_test(tc, frozen_layers_do_not_change);
    tcase_add_test(tc, training_is_reproducible);
    tcase_add_test(tc, one_sgd_step_by_hand);
    tcase_add_test(tc, fit_reports_like_keras);
    suite_add_tcase(su, tc);
    return run_suite(su);
}
