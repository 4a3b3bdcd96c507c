/* loss.c - Keras's losses and metrics by name. A loss returns the batch
 * mean and its gradient with respect to the model's output (or, for
 * cross-entropy right after a sigmoid/softmax, the logits, as Keras does). */
#include <math.h>
#include <string.h>
#include <stdio.h>
#include "base/base.h"
#include "train/loss.h"

#define EPS 1e-7f

/* Each loss: Keras's function name first, then the other spellings
 * keras.losses.get accepts. */
#define MAX_ALIASES 4
static const struct {
    int loss;
    const char *names[MAX_ALIASES + 1];   /* NULL-ended */
} losses[] = {
    { L_MSE, { "mean_squared_error", "mse", "MSE", "MeanSquaredError" } },
    { L_MAE, { "mean_absolute_error", "mae", "MAE", "MeanAbsoluteError" } },
    { L_BCE, { "binary_crossentropy", "bce", "BinaryCrossentropy" } },
    { L_CCE, { "categorical_crossentropy", "CategoricalCrossentropy" } },
    { L_SCCE, { "sparse_categorical_crossentropy", "SparseCategoricalCrossentropy" } },
};
#define NLOSSES (int)(sizeof losses / sizeof *losses)

static const char *const unsupported_losses[] = {
    "mean_absolute_percentage_error", "mape", "MAPE", "mean_squared_logarithmic_error",
    "msle", "MSLE", "kl_divergence", "kld", "KLD", "kullback_leibler_divergence", "hinge",
    "squared_hinge", "categorical_hinge", "poisson", "log_cosh", "logcosh", "huber",
    "huber_loss", "cosine_similarity",
};

/* Each metric: its name first, then the other spellings. */
static const struct {
    int metric;
    const char *names[MAX_ALIASES + 1];
} metrics[] = {
    { M_ACCURACY, { "accuracy", "acc" } },
    { M_MSE, { "mean_squared_error", "mse" } },
    { M_MAE, { "mean_absolute_error", "mae" } },
    { M_BINARY_ACC, { "binary_accuracy" } },
    { M_CATEGORICAL_ACC, { "categorical_accuracy" } },
    { M_SPARSE_ACC, { "sparse_categorical_accuracy" } },
};
#define NMETRICS (int)(sizeof metrics / sizeof *metrics)

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

const char *sq_metric_name_at(int i, const char **aliases)
{
    static char buf[256];
    return i < 0 || i >= NMETRICS ? NULL
        : with_aliases(metrics[i].names, aliases, buf, sizeof buf);
}

int sq_loss_find(const char *name, sq_error *err)
{
    for (int i = 0; i < NLOSSES; i++)
        for (int j = 0; losses[i].names[j]; j++)
            if (!strcmp(losses[i].names[j], name))
                return losses[i].loss;
    for (size_t i = 0; i < sizeof unsupported_losses / sizeof *unsupported_losses; i++)
        if (!strcmp(unsupported_losses[i], name))
            return sq_fail(err, "the loss '%s' is not supported by seqsh yet (use mse, mae, "
                           "binary_crossentropy, categorical_crossentropy or "
                           "sparse_categorical_crossentropy)", name);
    return sq_fail(err, "Unknown loss function: %s. Please ensure this object is passed to "
                   "the `custom_objects` argument. See https://www.tensorflow.org/guide/keras/"
                   "save_and_serialize#registering_the_custom_object for details.", name);
}

const char *sq_loss_name(int loss)
{
    for (int i = 0; i < NLOSSES; i++)
        if (losses[i].loss == loss)
            return losses[i].names[0];
    return NULL;
}

int sq_metric_find(const char *name, sq_error *err)
{
    for (int i = 0; i < NMETRICS; i++)
        for (int j = 0; metrics[i].names[j]; j++)
            if (!strcmp(metrics[i].names[j], name))
                return metrics[i].metric;
    return sq_fail(err, "Unknown metric function: %s. Please ensure this object is passed to "
                   "the `custom_objects` argument. See https://www.tensorflow.org/guide/keras/"
                   "save_and_serialize#registering_the_custom_object for details.", name);
}

static float sigmoid(float z)
{
    return z >= 0 ? 1 / (1 + expf(-z)) : expf(z) / (1 + expf(z));
}

double sq_loss_compute(int loss, int logits, const float *out, const float *t,
                       long rows, long last, float *grad)
{
    double total = 0;
    for (long r = 0; r < rows; r++) {
        const float *o = out + r * last;
        float *g = grad ? grad + r * last : NULL;
        double row = 0;
        switch (loss) {
        case L_MSE:
        case L_MAE: {
            const float *y = t + r * last;
            for (long j = 0; j < last; j++) {
                float d = o[j] - y[j];
                row += loss == L_MSE ? (double)d * d : fabs((double)d);
                if (g)
                    g[j] = loss == L_MSE ? 2 * d / (float)last
                         : (d > 0 ? 1.0f : d < 0 ? -1.0f : 0.0f) / (float)last;
            }
            row /= (double)last;
            break;
        }
        case L_BCE: {
            const float *y = t + r * last;
            for (long j = 0; j < last; j++) {
                if (logits) {
                    /* sigmoid_cross_entropy_with_logits */
                    float z = o[j];
                    row += fmax(z, 0) - (double)z * y[j] + log1p(exp(-fabs((double)z)));
                    if (g)
                        g[j] = (sigmoid(z) - y[j]) / (float)last;
                } else {
                    float p = o[j], pc = fminf(fmaxf(p, EPS), 1 - EPS);
                    row -= y[j] * log((double)pc + EPS) + (1 - y[j]) * log(1 - (double)pc + EPS);
                    if (g)
                        g[j] = (p > EPS && p < 1 - EPS)
                             ? -(y[j] / (pc + EPS) - (1 - y[j]) / (1 - pc + EPS)) / (float)last
                             : 0.0f;
                }
            }
            row /= (double)last;
            break;
        }
        case L_CCE:
        case L_SCCE: {
            /* the target row: one-hot from a sparse label, or given */
            long label = loss == L_SCCE ? (long)t[r] : -1;
            const float *y = loss == L_CCE ? t + r * last : NULL;
#define TGT(j) (y ? y[j] : (float)((j) == label))
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
            break;
        }
        }
        total += row;
    }
    if (grad)
        for (long i = 0; i < rows * last; i++)
            grad[i] /= (float)rows;
    return rows ? total / (double)rows : 0;
}

/* Index of the largest of n values (the first one on ties, as argmax). */
static long argmax(const float *v, long n)
{
    long b = 0;
    for (long j = 1; j < n; j++)
        if (v[j] > v[b])
            b = j;
    return b;
}

double sq_metric_sum(int metric, const float *out, const float *t, long rows, long last,
                     int sparse_targets)
{
    double sum = 0;
    for (long r = 0; r < rows; r++) {
        const float *o = out + r * last;
        switch (metric) {
        case M_BINARY_ACC: {
            const float *y = t + r * last;
            double c = 0;
            for (long j = 0; j < last; j++)
                c += (o[j] > 0.5f) == (y[j] > 0.5f);
            sum += c / (double)last;
            break;
        }
        case M_SPARSE_ACC:
            sum += argmax(o, last) == (long)t[r];
            break;
        case M_CATEGORICAL_ACC:
            sum += argmax(o, last) == argmax(t + r * last, last);
            break;
        case M_MSE:
        case M_MAE: {
            double s = 0;
            for (long j = 0; j < last; j++) {
                float y = sparse_targets ? (float)(j == (long)t[r]) : t[r * last + j];
                double d = (double)o[j] - y;
                s += metric == M_MSE ? d * d : fabs(d);
            }
            sum += s / (double)last;
            break;
        }
        }
    }
    return sum;
}
