/* loss.c - Keras 2.6's losses by name (keras/losses.py, keras/backend.py),
 * each reduced over the last axis to one value per row, then summed with
 * the row weights and divided by the number of rows (SUM_OVER_BATCH_SIZE),
 * with its gradient with respect to the model's output (or, for the
 * crossentropies on logits, the logits). ε is backend.epsilon() = 1e-7. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "base/base.h"
#include "train/loss.h"

#define EPS 1e-7f

enum { O_LOGITS = 1, O_SMOOTHING = 2, O_DELTA = 4 };

/* Each loss: Keras's function name first, then the other spellings
 * keras.losses.get accepts; its class; the options it takes; help. */
#define MAX_ALIASES 5
static const struct {
    int loss;
    const char *names[MAX_ALIASES + 1];   /* NULL-ended */
    const char *cls;
    int opts;
    const char *help;
} losses[] = {
    { L_MSE, { "mean_squared_error", "mse", "MSE", "MeanSquaredError" }, "MeanSquaredError", 0,
      "mean((y - p)^2) over the last axis" },
    { L_MAE, { "mean_absolute_error", "mae", "MAE", "MeanAbsoluteError" }, "MeanAbsoluteError",
      0, "mean(|y - p|) over the last axis" },
    { L_BCE, { "binary_crossentropy", "bce", "BinaryCrossentropy" }, "BinaryCrossentropy",
      O_LOGITS | O_SMOOTHING,
      "-mean(y log(p + e) + (1 - y) log(1 - p + e)), p clipped to [e, 1 - e]; from the "
      "logits (sigmoid_cross_entropy_with_logits) after a sigmoid or softmax or with "
      "from_logits=true; label_smoothing=ls uses y (1 - ls) + 0.5 ls" },
    { L_CCE, { "categorical_crossentropy", "CategoricalCrossentropy" },
      "CategoricalCrossentropy", O_LOGITS | O_SMOOTHING,
      "-sum(y log p) for one-hot y, p normalised and clipped to [e, 1 - e]; from the logits "
      "(softmax_cross_entropy_with_logits) after a sigmoid or softmax or with "
      "from_logits=true; label_smoothing=ls uses y (1 - ls) + ls / classes" },
    { L_SCCE, { "sparse_categorical_crossentropy", "SparseCategoricalCrossentropy" },
      "SparseCategoricalCrossentropy", O_LOGITS,
      "categorical_crossentropy with one class index per sample; from_logits=true for "
      "outputs without softmax" },
    { L_HUBER, { "huber", "huber_loss", "Huber" }, "Huber", O_DELTA,
      "mean(0.5 e^2 if |e| <= delta else delta |e| - 0.5 delta^2), e = p - y, "
      "delta= (default 1.0)" },
    { L_KLD, { "kl_divergence", "kld", "KLD", "kullback_leibler_divergence", "KLDivergence" },
      "KLDivergence", 0, "sum(y log(y / p)), y and p clipped to [e, 1]" },
    { L_HINGE, { "hinge", "Hinge" }, "Hinge", 0,
      "mean(max(1 - y p, 0)); labels that are all 0 or 1 in a batch become -1 or 1" },
    { L_SQUARED_HINGE, { "squared_hinge", "SquaredHinge" }, "SquaredHinge", 0,
      "mean(max(1 - y p, 0)^2); labels that are all 0 or 1 in a batch become -1 or 1" },
    { L_CATEGORICAL_HINGE, { "categorical_hinge", "CategoricalHinge" }, "CategoricalHinge", 0,
      "max(max((1 - y) p) - sum(y p) + 1, 0) for one-hot y" },
    { L_POISSON, { "poisson", "Poisson" }, "Poisson", 0, "mean(p - y log(p + e))" },
    { L_LOG_COSH, { "log_cosh", "logcosh", "LogCosh" }, "LogCosh", 0,
      "mean(log(cosh(p - y)))" },
    { L_COSINE, { "cosine_similarity", "CosineSimilarity" }, "CosineSimilarity", 0,
      "-sum(y p) / (|y| |p|) over the last axis: -1 is best, so the loss can be negative" },
    { L_MAPE, { "mean_absolute_percentage_error", "mape", "MAPE",
                "MeanAbsolutePercentageError" }, "MeanAbsolutePercentageError", 0,
      "100 mean(|y - p| / max(|y|, e))" },
    { L_MSLE, { "mean_squared_logarithmic_error", "msle", "MSLE",
                "MeanSquaredLogarithmicError" }, "MeanSquaredLogarithmicError", 0,
      "mean((log(max(p, e) + 1) - log(max(y, e) + 1))^2)" },
};
#define NLOSSES (int)(sizeof losses / sizeof *losses)

static int index_of(int loss)
{
    for (int i = 0; i < NLOSSES; i++)
        if (losses[i].loss == loss)
            return i;
    return 0;
}

/* names[0], and the rest joined by ", " into buf. */
static const char *with_aliases(const char *const *names, const char **aliases, char *buf,
                                size_t n)
{
    if (aliases) {
        size_t k = 0;
        buf[0] = '\0';
        for (int j = 1; names[j] && k + 1 < n; j++)
            k += (size_t)snprintf(buf + k, n - k, "%s%s", j > 1 ? ", " : "", names[j]);
        *aliases = buf;
    }
    return names[0];
}

const char *sq_loss_name_at(int i, const char **aliases)
{
    static char buf[256];
    return i < 0 || i >= NLOSSES ? NULL : with_aliases(losses[i].names, aliases, buf, sizeof buf);
}

static int find(const char *name)
{
    for (int i = 0; i < NLOSSES; i++)
        for (int j = 0; losses[i].names[j]; j++)
            if (sq_names_match(losses[i].names[j], name))
                return i;
    return -1;
}

int sq_loss_find(const char *name, sq_error *err)
{
    int i = find(name);
    if (i >= 0)
        return losses[i].loss;
    return sq_fail(err, "Unknown loss function: %s. Please ensure this object is passed to "
                   "the `custom_objects` argument. See https://www.tensorflow.org/guide/keras/"
                   "save_and_serialize#registering_the_custom_object for details.", name);
}

const char *sq_loss_name(int loss)
{
    return losses[index_of(loss)].names[0];
}

const char *sq_loss_class(int loss)
{
    return losses[index_of(loss)].cls;
}

void sq_loss_cfg_init(sq_loss_cfg *c, int loss)
{
    *c = (sq_loss_cfg){ .loss = loss, .delta = 1.0 };
}

int sq_loss_is_option(const char *key)
{
    return !strcmp(key, "from_logits") || !strcmp(key, "label_smoothing")
        || !strcmp(key, "delta");
}

int sq_loss_takes(int loss, const char *key)
{
    int o = losses[index_of(loss)].opts;
    return (!strcmp(key, "from_logits") && (o & O_LOGITS))
        || (!strcmp(key, "label_smoothing") && (o & O_SMOOTHING))
        || (!strcmp(key, "delta") && (o & O_DELTA));
}

char *sq_loss_help(const char *name)
{
    int i = find(name);
    if (i < 0)
        return NULL;
    sbuf b = { 0 };
    char al[256];
    const char *aliases;
    with_aliases(losses[i].names, &aliases, al, sizeof al);
    sb_printf(&b, "%s (keras.losses.%s; also %s): per sample %s.\n\nusage: compile loss=%s",
              losses[i].names[0], losses[i].cls, aliases, losses[i].help, losses[i].names[0]);
    if (losses[i].opts & O_LOGITS)
        sb_printf(&b, " [from_logits=false]");
    if (losses[i].opts & O_SMOOTHING)
        sb_printf(&b, " [label_smoothing=0]");
    if (losses[i].opts & O_DELTA)
        sb_printf(&b, " [delta=1.0]");
    sb_printf(&b, " ...\nThe batch's loss is the mean over the samples (weighted by "
              "class_weight= or sample_weight= of fit, still divided by the batch size), "
              "plus the layers' regularization penalties.\n\nexample: compile optimizer=adam "
              "loss=%s\n", losses[i].names[0]);
    return sb_finish(&b, NULL);
}

/* ---- the losses -------------------------------------------------------------- */

static float sigmoid(float z)
{
    return z >= 0 ? 1 / (1 + expf(-z)) : expf(z) / (1 + expf(z));
}

static float signf(float x)
{
    return x > 0 ? 1.0f : x < 0 ? -1.0f : 0.0f;
}

/* softplus(x) = log(1 + e^x), stably */
static double softplus(double x)
{
    return fmax(x, 0) + log1p(exp(-fabs(x)));
}

/* One row's loss; g (not NULL) gets its derivative. y is the row's
 * targets (NULL for sparse: label). */
static double row_loss(const sq_loss_cfg *c, int logits, const float *o, const float *y,
                       long label, long last, int hinge_pm, float *g)
{
    double row = 0;
    float ls = (float)c->label_smoothing, fl = (float)last;
    switch (c->loss) {
    case L_MSE:
    case L_MAE:
        for (long j = 0; j < last; j++) {
            float d = o[j] - y[j];
            row += c->loss == L_MSE ? (double)d * d : fabs((double)d);
            if (g)
                g[j] = c->loss == L_MSE ? 2 * d / fl : signf(d) / fl;
        }
        return row / (double)last;
    case L_BCE:
        for (long j = 0; j < last; j++) {
            float yj = ls > 0 ? y[j] * (1 - ls) + 0.5f * ls : y[j];
            if (logits) {
                /* sigmoid_cross_entropy_with_logits */
                float z = o[j];
                row += fmax(z, 0) - (double)z * yj + log1p(exp(-fabs((double)z)));
                if (g)
                    g[j] = (sigmoid(z) - yj) / fl;
            } else {
                float p = o[j], pc = fminf(fmaxf(p, EPS), 1 - EPS);
                row -= yj * log((double)pc + EPS) + (1 - yj) * log(1 - (double)pc + EPS);
                if (g)
                    g[j] = (p > EPS && p < 1 - EPS)
                         ? -(yj / (pc + EPS) - (1 - yj) / (1 - pc + EPS)) / fl : 0.0f;
            }
        }
        return row / (double)last;
    case L_CCE:
    case L_SCCE: {
        /* the target row: one-hot from a sparse label, or given (smoothed) */
#define TGT(j) (y ? (ls > 0 ? y[j] * (1 - ls) + ls / fl : y[j]) : (float)((j) == label))
        if (logits) {
            double mx = o[0], sum = 0, ysum = 0;
            for (long j = 1; j < last; j++)
                if (o[j] > mx)
                    mx = o[j];
            for (long j = 0; j < last; j++)
                sum += exp(o[j] - mx);
            double lse = mx + log(sum);
            for (long j = 0; j < last; j++) {
                row -= TGT(j) * (o[j] - lse);
                ysum += TGT(j);
            }
            if (g)
                for (long j = 0; j < last; j++)
                    g[j] = (float)(exp(o[j] - lse) * ysum - TGT(j));
        } else {
            double s = 0;
            for (long j = 0; j < last; j++)
                s += o[j];
            double dq_dot = 0;
            for (long j = 0; j < last; j++) {
                double q = o[j] / s, qc = fmin(fmax(q, EPS), 1 - EPS);
                row -= TGT(j) * log(qc);
                double dq = (q > EPS && q < 1 - EPS) ? -TGT(j) / qc : 0;
                if (g)
                    g[j] = (float)dq;
                dq_dot += dq * q;
            }
            if (g)
                for (long j = 0; j < last; j++)
                    g[j] = (float)((g[j] - dq_dot) / s);
        }
#undef TGT
        return row;
    }
    case L_HUBER: {
        float d = (float)c->delta;
        for (long j = 0; j < last; j++) {
            float e = o[j] - y[j], ae = fabsf(e);
            row += ae <= d ? 0.5 * (double)e * e : (double)d * ae - 0.5 * (double)d * d;
            if (g)
                g[j] = (ae <= d ? e : d * signf(e)) / fl;
        }
        return row / (double)last;
    }
    case L_KLD:
        for (long j = 0; j < last; j++) {
            float yc = fminf(fmaxf(y[j], EPS), 1), pc = fminf(fmaxf(o[j], EPS), 1);
            row += (double)yc * log((double)yc / pc);
            if (g)
                g[j] = o[j] >= EPS && o[j] <= 1 ? -yc / pc : 0.0f;
        }
        return row;
    case L_HINGE:
    case L_SQUARED_HINGE:
        for (long j = 0; j < last; j++) {
            float yj = hinge_pm ? 2 * y[j] - 1 : y[j];
            float m = 1 - yj * o[j], h = m > 0 ? m : 0;
            row += c->loss == L_HINGE ? h : (double)h * h;
            if (g)
                g[j] = m >= 0 ? (c->loss == L_HINGE ? -yj : -2 * h * yj) / fl : 0.0f;
        }
        return row / (double)last;
    case L_CATEGORICAL_HINGE: {
        double pos = 0, neg = -HUGE_VAL;
        for (long j = 0; j < last; j++) {
            pos += (double)y[j] * o[j];
            double v = (1 - y[j]) * o[j];
            if (v > neg)
                neg = v;
        }
        double m = neg - pos + 1;
        row = m > 0 ? m : 0;
        if (g) {
            long ties = 0;
            for (long j = 0; j < last; j++)
                ties += (double)((1 - y[j]) * o[j]) == neg;
            for (long j = 0; j < last; j++)
                g[j] = m >= 0 ? (float)(((double)((1 - y[j]) * o[j]) == neg ? (1 - y[j]) / (double)ties
                                         : 0.0) - y[j]) : 0.0f;
        }
        return row;
    }
    case L_POISSON:
        for (long j = 0; j < last; j++) {
            row += (double)o[j] - y[j] * log((double)o[j] + EPS);
            if (g)
                g[j] = (1 - y[j] / (o[j] + EPS)) / fl;
        }
        return row / (double)last;
    case L_LOG_COSH:
        for (long j = 0; j < last; j++) {
            double e = (double)o[j] - y[j];
            row += e + softplus(-2 * e) - log(2.0);
            if (g)
                g[j] = (float)tanh(e) / fl;
        }
        return row / (double)last;
    case L_COSINE: {
        double sy = 0, sp = 0, dot = 0;
        for (long j = 0; j < last; j++) {
            sy += (double)y[j] * y[j];
            sp += (double)o[j] * o[j];
            dot += (double)y[j] * o[j];
        }
        double ry = 1 / sqrt(fmax(sy, 1e-12)), rp = 1 / sqrt(fmax(sp, 1e-12));
        row = -dot * ry * rp;
        if (g)
            for (long j = 0; j < last; j++)
                g[j] = (float)(-ry * y[j] * rp + (sp >= 1e-12 ? ry * dot * rp * rp * rp * o[j] : 0));
        return row;
    }
    case L_MAPE:
        for (long j = 0; j < last; j++) {
            float den = fmaxf(fabsf(y[j]), EPS), d = o[j] - y[j];
            row += fabs((double)d) / den;
            if (g)
                g[j] = 100 * signf(d) / den / fl;
        }
        return 100 * row / (double)last;
    case L_MSLE:
        for (long j = 0; j < last; j++) {
            double a = log(fmax(o[j], EPS) + 1.0), b = log(fmax(y[j], EPS) + 1.0), d = a - b;
            row += d * d;
            if (g)
                g[j] = o[j] >= EPS ? (float)(2 * d / (fmax(o[j], EPS) + 1.0)) / fl : 0.0f;
        }
        return row / (double)last;
    }
    return 0;
}

double sq_loss_eval(const sq_loss_cfg *c, int logits, const float *out, const float *t,
                    long rows, long last, const float *rw, float *grad)
{
    /* hinge: labels that are all 0 or 1 in the batch mean -1 and 1
     * (losses.py _maybe_convert_labels) */
    int hinge_pm = 0;
    if (c->loss == L_HINGE || c->loss == L_SQUARED_HINGE) {
        hinge_pm = 1;
        for (long i = 0; i < rows * last && hinge_pm; i++)
            hinge_pm = t[i] == 0 || t[i] == 1;
    }
    double total = 0;
    for (long r = 0; r < rows; r++) {
        float *g = grad ? grad + r * last : NULL;
        int sparse = c->loss == L_SCCE;
        double v = row_loss(c, logits, out + r * last, sparse ? NULL : t + r * last,
                            sparse ? (long)t[r] : -1, last, hinge_pm, g);
        float w = rw ? rw[r] : 1.0f;
        total += (double)w * v;
        if (g)
            for (long j = 0; j < last; j++)
                g[j] = (w == 1.0f ? g[j] : g[j] * w) / (float)rows;
    }
    return rows ? total / (double)rows : 0;
}

double sq_loss_compute(int loss, int logits, const float *out, const float *t,
                       long rows, long last, float *grad)
{
    sq_loss_cfg c;
    sq_loss_cfg_init(&c, loss);
    return sq_loss_eval(&c, logits, out, t, rows, last, NULL, grad);
}
