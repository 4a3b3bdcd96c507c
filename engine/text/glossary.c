/* glossary.c - `help NAME` for every activation, optimizer, loss and
 * metric the engine knows: one line each on what it is, its Keras name
 * and its defaults. The names come from the engine's own tables (the
 * activation list, sq_optimizer_name, sq_loss_name_at, sq_metric_name_at)
 * and an optimizer's defaults from the optimizer itself, so the text
 * cannot drift from what is accepted; this file only adds the words. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "base/base.h"
#include "train/optim.h"
#include "text/text.h"

typedef struct {
    const char *name, *what;
} entry;

static const entry activations[] = {
    { "linear", "the identity, f(x) = x: no activation (keras.activations.linear, the "
                "default of every layer that takes activation=)" },
    { "relu", "max(x, 0) (keras.activations.relu with its defaults: alpha=0, "
              "max_value=None, threshold=0)" },
    { "sigmoid", "1 / (1 + exp(-x)), between 0 and 1: one yes/no output "
                 "(keras.activations.sigmoid)" },
    { "tanh", "the hyperbolic tangent, between -1 and 1 (keras.activations.tanh)" },
    { "softmax", "exp(x) / sum(exp(x)) along the last axis: one probability per class, "
                 "summing to 1 (keras.activations.softmax, axis=-1)" },
    { "softplus", "log(exp(x) + 1), a smooth relu (keras.activations.softplus)" },
    { "softsign", "x / (|x| + 1), between -1 and 1 (keras.activations.softsign)" },
    { "elu", "x above 0, else alpha * (exp(x) - 1) with alpha=1.0 "
             "(keras.activations.elu)" },
    { "selu", "scale * elu(x, alpha) with alpha=1.67326324 and scale=1.05070098, "
              "self-normalising (keras.activations.selu)" },
    { "exponential", "exp(x) (keras.activations.exponential)" },
    { "hard_sigmoid", "clip(0.2 * x + 0.5, 0, 1), a cheap sigmoid "
                      "(keras.activations.hard_sigmoid, Keras 2's slope)" },
    { "swish", "x * sigmoid(x) (keras.activations.swish)" },
    { "silu", "x * sigmoid(x), the same as swish (tf.nn.silu)" },
    { "gelu", "x * Phi(x), Phi the standard normal's CDF, in the exact erf form "
              "(keras.activations.gelu, approximate=False)" },
    { "relu6", "min(max(x, 0), 6) (tf.nn.relu6)" },
    { "leaky_relu", "x above 0, else 0.2 * x (tf.nn.leaky_relu with its default "
                    "alpha=0.2)" },
    { "log_softmax", "log(softmax(x)) along the last axis (tf.nn.log_softmax)" },
};

static const entry optimizers[] = {
    { "sgd", "stochastic gradient descent, with optional momentum and Nesterov momentum" },
    { "adam", "steps scaled by running averages of the gradient and of its square" },
    { "rmsprop", "the gradient divided by a running root mean square of it" },
    { "adagrad", "per-weight steps shrinking with the sum of squared gradients" },
    { "adadelta", "Adagrad with a decaying average instead of a growing sum" },
    { "adamax", "Adam with the infinity norm instead of the square" },
    { "nadam", "Adam with Nesterov momentum" },
    { "ftrl", "FTRL-proximal (follow the regularised leader), for large sparse linear "
              "models" },
};

static const entry losses[] = {
    { "mean_squared_error", "the mean of (y_true - y_pred)^2 over the last axis: "
                            "regression" },
    { "mean_absolute_error", "the mean of |y_true - y_pred| over the last axis: regression "
                             "less moved by outliers" },
    { "binary_crossentropy", "-(y log p + (1 - y) log(1 - p)): yes/no outputs after a "
                             "sigmoid (computed from its logits), labels 0 or 1" },
    { "categorical_crossentropy", "-sum(y log p): one-hot labels against a softmax "
                                  "(computed from its logits)" },
    { "sparse_categorical_crossentropy", "categorical_crossentropy against one class "
                                         "index per sample instead of one-hot rows" },
    { "huber", "squared error for small errors, linear beyond delta (1.0): regression with "
               "outliers" },
    { "kl_divergence", "sum(y log(y / p)): how far the predicted distribution is from the "
                       "true one" },
    { "hinge", "mean(max(1 - y * p, 0)) with labels -1 or 1 (0/1 labels are turned into "
               "them): maximum-margin classification" },
    { "squared_hinge", "mean(max(1 - y * p, 0)^2): hinge, squared" },
    { "categorical_hinge", "max(0, 1 + max of the wrong classes' scores - the right one's): "
                           "one-hot labels" },
    { "poisson", "mean(p - y log p): counts" },
    { "log_cosh", "mean(log(cosh(p - y))): like squared error near 0, like absolute error "
                  "far from it" },
    { "cosine_similarity", "-(cosine of the angle between y_true and y_pred): directions, "
                           "not lengths" },
    { "mean_absolute_percentage_error", "100 * mean(|y - p| / |y|): relative errors" },
    { "mean_squared_logarithmic_error", "mean((log(1 + p) - log(1 + y))^2): relative errors "
                                        "of positive targets" },
};

static const entry metrics[] = {
    { "accuracy", "how often the prediction is right: binary, categorical or sparse "
                  "accuracy, as Keras picks from the shapes of the outputs and labels" },
    { "mean_squared_error", "the mean of (y_true - y_pred)^2" },
    { "mean_absolute_error", "the mean of |y_true - y_pred|" },
    { "binary_accuracy", "how often (y_pred > 0.5) equals (y_true > 0.5), threshold=0.5" },
    { "categorical_accuracy", "how often argmax(y_pred) equals argmax(y_true): one-hot "
                              "labels" },
    { "sparse_categorical_accuracy", "how often argmax(y_pred) equals the class index "
                                     "y_true" },
    { "auc", "the area under the ROC curve (or the precision-recall curve with curve=PR), "
             "from 200 thresholds: yes/no outputs" },
    { "precision", "of the predictions above the threshold (0.5), how many are right" },
    { "recall", "of the true labels, how many are predicted above the threshold (0.5)" },
    { "top_k_categorical_accuracy", "how often the true class is among the k (5) highest "
                                    "outputs: one-hot labels" },
    { "sparse_top_k_categorical_accuracy", "top_k_categorical_accuracy with one class index "
                                           "per sample" },
};

static const char *lookup(const entry *t, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(t[i].name, name))
            return t[i].what;
    return NULL;
}
#define LOOKUP(t, name) lookup(t, sizeof t / sizeof *t, name)

/* Whether name is canon or one of the ", "-separated aliases. */
static int spelled(const char *name, const char *canon, const char *aliases)
{
    if (!strcmp(name, canon))
        return 1;
    size_t n = strlen(name);
    for (const char *a = aliases; a && *a;) {
        size_t len = strcspn(a, ",");
        if (len == n && !strncmp(a, name, n))
            return 1;
        a += len;
        while (*a == ',' || *a == ' ')
            a++;
    }
    return 0;
}

char *sq_glossary_help(const char *name)
{
    sbuf b = { 0 };
    int found = 0;
    const char *what;
    for (int i = 0; i < sq_activation_count(); i++) {
        if (strcmp(name, sq_activation_name(i)))
            continue;
        what = LOOKUP(activations, name);
        sb_printf(&b, "%s: activation, %s; use: add dense 64 %s, or activation=%s\n", name,
                  what ? what : "(no description)", name, name);
        found = 1;
    }
    const char *cls;
    for (int i = 0; (what = sq_optimizer_name(i, &cls)); i++) {
        if (strcmp(name, what) && strcmp(name, cls))
            continue;
        const char *canon = what, *text = LOOKUP(optimizers, canon);
        char defaults[512] = "";
        sq_optim *o;
        sq_error e;
        if (sq_optim_new(canon, 0, NULL, NULL, 0, &o, &e) == 0) {
            sq_optim_describe(o, defaults, sizeof defaults);
            sq_optim_free(o);
        }
        const char *open = strchr(defaults, '(');
        sb_printf(&b, "%s: optimizer %s (keras.optimizers.%s), %s; defaults: %.*s; use: "
                  "compile optimizer=%s\n", canon, cls, cls, text ? text : "(no description)",
                  open ? (int)(strlen(open) - 2) : 0, open ? open + 1 : "", canon);
        found = 1;
    }
    const char *aliases;
    for (int i = 0; (what = sq_loss_name_at(i, &aliases)); i++) {
        if (!spelled(name, what, aliases))
            continue;
        const char *text = LOOKUP(losses, what);
        sb_printf(&b, "%s: loss %s (keras.losses.%s%s%s), %s; use: compile loss=%s\n", name,
                  what, what, *aliases ? "; also " : "", aliases,
                  text ? text : "(no description)", name);
        found = 1;
    }
    for (int i = 0; (what = sq_metric_name_at(i, &aliases)); i++) {
        if (!spelled(name, what, aliases))
            continue;
        const char *text = LOOKUP(metrics, what);
        sb_printf(&b, "%s: metric %s (keras.metrics.%s%s%s), %s; use: compile "
                  "metrics=%s\n", name, what, what, *aliases ? "; also " : "", aliases,
                  text ? text : "(no description)", name);
        found = 1;
    }
    if (!found) {
        free(b.s);
        return NULL;
    }
    return sb_finish(&b, NULL);
}
