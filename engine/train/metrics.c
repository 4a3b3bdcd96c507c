/* metrics.c - Keras 2.6's metrics (keras/metrics.py): the mean ones
 * (accuracies, mse, mae, top-k), each a weighted mean over the rows seen
 * (sum w m / sum w), and the confusion-matrix ones (AUC, Precision,
 * Recall), which count weighted true/false positives and negatives at
 * their thresholds over a whole epoch or evaluation
 * (utils/metrics_utils.py update_confusion_matrix_variables: labels cast
 * to bool, a prediction is positive at threshold t when pred > t). */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "base/base.h"
#include "train/loss.h"

#define EPS 1e-7

/* Each metric: its name first, then the other spellings; the constructor's
 * positional parameters (NULL: takes no arguments); help. */
static const struct {
    int kind;
    const char *names[4];
    const char *params[11];
    const char *help;
} metrics[] = {
    { M_ACCURACY, { "accuracy", "acc" }, { NULL },
      "the fraction of right answers, resolved by the shapes as Keras does: "
      "binary_accuracy for one output, sparse_categorical_accuracy for class indices, "
      "categorical_accuracy for one-hot labels; printed as typed" },
    { M_MSE, { "mean_squared_error", "mse" }, { NULL }, "mean((y - p)^2)" },
    { M_MAE, { "mean_absolute_error", "mae" }, { NULL }, "mean(|y - p|)" },
    { M_BINARY_ACC, { "binary_accuracy" }, { NULL },
      "the fraction of outputs on the right side of 0.5" },
    { M_CATEGORICAL_ACC, { "categorical_accuracy" }, { NULL }, "argmax(p) == argmax(y)" },
    { M_SPARSE_ACC, { "sparse_categorical_accuracy" }, { NULL },
      "argmax(p) == y for class indices y" },
    { M_AUC, { "auc", "AUC" },
      { "num_thresholds", "curve", "summation_method", "name", "dtype", "thresholds",
        "multi_label", "num_labels", "label_weights", "from_logits" },
      "area under the ROC curve (curve='PR': precision-recall) from the counts at "
      "num_thresholds=200 thresholds (-e, i/(n-1), 1+e), summed with the trapezoid rule "
      "(summation_method='interpolation'; or 'minoring', 'majoring'); thresholds=[...] "
      "gives them; labels are read as bool, predictions must be in [0, 1] (from_logits=true "
      "applies a sigmoid first); multi_label=true: one AUC per output column, averaged "
      "(weighted by label_weights=[...] when given; without multi_label those weigh each "
      "column's counts)" },
    { M_PRECISION, { "precision", "Precision" },
      { "thresholds", "top_k", "class_id", "name", "dtype" },
      "true positives / predicted positives, a prediction being positive when > "
      "thresholds=0.5; class_id= looks at one output column" },
    { M_RECALL, { "recall", "Recall" }, { "thresholds", "top_k", "class_id", "name", "dtype" },
      "true positives / actual positives, a prediction being positive when > "
      "thresholds=0.5; class_id= looks at one output column" },
    { M_TOP_K, { "top_k_categorical_accuracy", "TopKCategoricalAccuracy" }, { "k", "name",
                                                                                "dtype" },
      "whether argmax(y) is among the k=5 largest outputs (ties count as in)" },
    { M_SPARSE_TOP_K, { "sparse_top_k_categorical_accuracy", "SparseTopKCategoricalAccuracy" },
      { "k", "name", "dtype" },
      "whether the class index y is among the k=5 largest outputs (ties count as in)" },
};
#define NMETRICS (int)(sizeof metrics / sizeof *metrics)

static int find(const char *name)
{
    for (int i = 0; i < NMETRICS; i++)
        for (int j = 0; metrics[i].names[j]; j++)
            if (sq_names_match(metrics[i].names[j], name))
                return i;
    return -1;
}

const char *sq_metric_name_at(int i, const char **aliases)
{
    static char buf[256];
    if (i < 0 || i >= NMETRICS)
        return NULL;
    if (aliases) {
        size_t k = 0;
        buf[0] = '\0';
        for (int j = 1; metrics[i].names[j] && k + 1 < sizeof buf; j++)
            k += (size_t)snprintf(buf + k, sizeof buf - k, "%s%s", j > 1 ? ", " : "",
                                  metrics[i].names[j]);
        *aliases = buf;
    }
    return metrics[i].names[0];
}

static int fail_unknown(const char *name, sq_error *err)
{
    return sq_fail(err, "Unknown metric function: %s. Please ensure this object is passed to "
                   "the `custom_objects` argument. See https://www.tensorflow.org/guide/keras/"
                   "save_and_serialize#registering_the_custom_object for details.", name);
}

const char *sq_metric_kind_name(int kind, const char **cls)
{
    for (int i = 0; i < NMETRICS; i++)
        if (metrics[i].kind == kind) {
            if (cls)
                *cls = metrics[i].names[1];
            return metrics[i].names[0];
        }
    return NULL;
}

int sq_metric_find(const char *name, sq_error *err)
{
    int i = find(name);
    return i < 0 ? fail_unknown(name, err) : metrics[i].kind;
}

int sq_metric_is_confusion(int kind)
{
    return kind == M_AUC || kind == M_PRECISION || kind == M_RECALL;
}

char *sq_metric_help(const char *name)
{
    int i = find(name);
    if (i < 0)
        return NULL;
    sbuf b = { 0 };
    sb_printf(&b, "%s (metric): %s.\n\nusage: compile ... metrics=%s", metrics[i].names[0],
              metrics[i].help, metrics[i].names[0]);
    if (metrics[i].params[0])
        sb_printf(&b, " or metrics=%s(%s=...)", metrics[i].names[0], metrics[i].params[0]);
    sb_printf(&b, "\nfit prints it after the loss, and val_%s for validation data; with "
              "class_weight= or sample_weight= it is a weighted mean.\n\nexample: compile "
              "optimizer=adam loss=binary_crossentropy metrics=accuracy,%s\n",
              metrics[i].names[0], metrics[i].names[0]);
    return sb_finish(&b, NULL);
}

void sq_metric_cfg_free(sq_metric_cfg *c)
{
    free(c->thr);
    free(c->lw);
    c->thr = NULL;
    c->lw = NULL;
}

int sq_metric_cfg_copy(sq_metric_cfg *dst, const sq_metric_cfg *src, sq_error *err)
{
    *dst = *src;
    dst->thr = NULL;
    dst->lw = NULL;
    if (src->nthr) {
        if (!(dst->thr = sq_malloc((size_t)src->nthr * sizeof *dst->thr)))
            return sq_fail(err, "out of memory");
        memcpy(dst->thr, src->thr, (size_t)src->nthr * sizeof *dst->thr);
    }
    if (src->nlw) {
        if (!(dst->lw = sq_malloc((size_t)src->nlw * sizeof *dst->lw))) {
            sq_metric_cfg_free(dst);
            return sq_fail(err, "out of memory");
        }
        memcpy(dst->lw, src->lw, (size_t)src->nlw * sizeof *dst->lw);
    }
    return 0;
}

/* A name choice such as AUC's curve: its index in list (ignoring case), -1. */
static int choice(const char *v, const char *const *list)
{
    for (int i = 0; list[i]; i++)
        if (sq_names_match(v, list[i]))
            return i;
    return -1;
}

static int check_thresholds(const double *t, int n, sq_error *err)
{
    for (int i = 0; i < n; i++)
        if (!(t[i] >= 0 && t[i] <= 1)) {
            char num[64];
            return sq_fail(err, "Threshold values must be in [0, 1]. Invalid values: [%s]",
                           sq_py_float(t[i], num, sizeof num));
        }
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int parse_body(const char *text, sq_metric_cfg *c, char *name, size_t n, sq_error *err);

int sq_metric_parse(const char *text, sq_metric_cfg *c, char *name, size_t n, sq_error *err)
{
    if (parse_body(text, c, name, n, err) == 0)
        return 0;
    sq_metric_cfg_free(c);   /* what a refused one had allocated */
    return -1;
}

static int parse_body(const char *text, sq_metric_cfg *c, char *name, size_t n, sq_error *err)
{
    sq_callform cf;
    memset(c, 0, sizeof *c);
    if (sq_call_parse(&cf, text, err) < 0)
        return -1;
    int i = find(cf.name);
    if (i < 0)
        return fail_unknown(cf.name, err);
    int kind = metrics[i].kind;
    const char *cls = metrics[i].names[1] ? metrics[i].names[1] : metrics[i].names[0];
    if (sq_call_bind(&cf, cls, metrics[i].params[0] ? metrics[i].params : NULL, err) < 0)
        return -1;
    c->kind = kind;
    c->class_id = -1;
    c->k = 5;
    /* the printed name: as typed for the function metrics, Keras's default
     * name for the classes, or name= */
    const char *shown = metrics[i].params[0] ? metrics[i].names[0] : cf.name;
    const char *given = sq_arg(&cf.a, "name");
    if (given)
        shown = given;
    if (strlen(shown) >= n || !*shown)
        return sq_fail(err, "metric name '%.40s' is too long", shown);
    if (sq_arg(&cf.a, "dtype"))
        return sq_fail(err, "%s: `dtype` is not supported by seqsh (it computes in float32)",
                       cls);
    double thr[SQ_ARGS_MAX];
    int nthr = 0;
    switch (kind) {
    case M_TOP_K:
    case M_SPARSE_TOP_K:
        if (sq_arg_int(&cf.a, "k", 1, INT_MAX, &c->k, err) < 0)
            return -1;
        break;
    case M_PRECISION:
    case M_RECALL: {
        const char *t = sq_arg(&cf.a, "thresholds"), *tk = sq_arg(&cf.a, "top_k");
        if (tk && strcmp(tk, "None"))
            return sq_fail(err, "%s: `top_k` is not supported by seqsh", cls);
        thr[0] = 0.5;
        nthr = 1;
        if (t && strcmp(t, "None")) {
            if (sq_check_doubles(cls, "thresholds", t, thr, SQ_ARGS_MAX, &nthr, err) < 0
                || check_thresholds(thr, nthr, err) < 0)
                return -1;
            if (nthr != 1)
                return sq_fail(err, "%s: seqsh takes one threshold (Keras would report one "
                               "value per threshold)", cls);
            c->thr_given = 1;
        }
        const char *cid = sq_arg(&cf.a, "class_id");
        if (cid && strcmp(cid, "None")) {
            long v;
            if (sq_check_long(cls, "class_id", cid, 0, INT_MAX, &v, err) < 0)
                return -1;
            c->class_id = (int)v;
        }
        break;
    }
    case M_AUC: {
        static const char *const curves[] = { "ROC", "PR", NULL };
        static const char *const sums[] = { "interpolation", "minoring", "majoring", NULL };
        long nt = 200;
        if (sq_arg_long(&cf.a, "num_thresholds", LONG_MIN, LONG_MAX, &nt, err) < 0)
            return -1;
        const char *curve = sq_arg(&cf.a, "curve"), *sum = sq_arg(&cf.a, "summation_method");
        if (curve && (c->curve_pr = choice(curve, curves)) < 0)
            return sq_fail(err, "Invalid AUC curve value \"%s\".", curve);
        if (sum && (c->summation = choice(sum, sums)) < 0)
            return sq_fail(err, "Invalid AUC summation method value \"%s\".", sum);
        if (sq_arg_bool(&cf.a, "multi_label", &c->multi_label, err) < 0
            || sq_arg_bool(&cf.a, "from_logits", &c->from_logits, err) < 0)
            return -1;
        const char *nl = sq_arg(&cf.a, "num_labels"), *lw = sq_arg(&cf.a, "label_weights");
        if (nl && strcmp(nl, "None")) {
            long v;
            if (sq_check_long(cls, "num_labels", nl, 1, 1000000, &v, err) < 0)
                return -1;
            c->num_labels = (int)v;
        }
        if (lw && strcmp(lw, "None")) {
            double w[SQ_ARGS_MAX];
            int nw;
            if (sq_check_doubles(cls, "label_weights", lw, w, SQ_ARGS_MAX, &nw, err) < 0)
                return -1;
            for (int i = 0; i < nw; i++)
                if (!(w[i] >= 0))
                    return sq_fail(err, "All values of `label_weights` must be non-negative.");
            if (c->num_labels && nw != c->num_labels)
                return sq_fail(err, "AUC: label_weights has %d values for num_labels=%d", nw,
                               c->num_labels);
            if (!(c->lw = sq_malloc((size_t)nw * sizeof *c->lw)))
                return sq_fail(err, "out of memory");
            memcpy(c->lw, w, (size_t)nw * sizeof *c->lw);
            c->nlw = nw;
        }
        const char *t = sq_arg(&cf.a, "thresholds");
        if (t && strcmp(t, "None")) {
            if (sq_check_doubles(cls, "thresholds", t, thr, SQ_ARGS_MAX - 2, &nthr, err) < 0
                || check_thresholds(thr, nthr, err) < 0)
                return -1;
            qsort(thr, (size_t)nthr, sizeof *thr, cmp_double);
            nt = nthr + 2;
            c->thr_given = 1;
        } else {
            if (nt <= 1)
                return sq_fail(err, "`num_thresholds` must be > 1.");
            if (nt > 1000000)
                return sq_fail(err, "AUC: `num_thresholds` is at most 1000000 in seqsh");
        }
        c->nthr = (int)nt;
        if (!(c->thr = sq_malloc((size_t)nt * sizeof *c->thr)))
            return sq_fail(err, "out of memory");
        /* -e, the thresholds (given or (i+1)/(n-1)), 1+e, as float32 */
        c->thr[0] = (float)(0.0 - EPS);
        for (long k = 1; k < nt - 1; k++)
            c->thr[k] = (float)(nthr ? thr[k - 1] : (double)k * 1.0 / (double)(nt - 1));
        c->thr[nt - 1] = (float)(1.0 + EPS);
        nthr = 0;
        break;
    }
    default:
        break;
    }
    if (sq_args_finish(&cf.a, err) < 0) {
        sq_metric_cfg_free(c);
        return -1;
    }
    if (nthr) {
        if (!(c->thr = sq_malloc(sizeof *c->thr)))
            return sq_fail(err, "out of memory");
        c->thr[0] = (float)thr[0];
        c->nthr = 1;
    }
    strcpy(name, shown);
    return 0;
}

/* ---- accumulating ------------------------------------------------------------- */

/* Confusion metrics keep, for each k = 0..nthr, the weight of positives
 * (tp block) and negatives (fp block) whose prediction exceeds exactly the
 * first k thresholds; the counts at each threshold are sums of these. */
int sq_metric_acc_init(const sq_metric_cfg *c, const sq_shape *out, sq_metric_acc *a,
                       sq_error *err)
{
    memset(a, 0, sizeof *a);
    long labels = out->rank >= 1 ? out->d[out->rank - 1] : 1;
    a->blocks = 1;
    if (!sq_metric_is_confusion(c->kind))
        return 0;
    if (c->kind == M_AUC && c->multi_label) {
        /* AUC._build */
        if (out->rank != 2)
            return sq_fail(err, "`y_true` must have rank=2 when `multi_label` is True. Found "
                           "rank %d.", out->rank);
        a->blocks = labels;
    }
    if (c->kind == M_AUC && c->num_labels && c->multi_label && c->num_labels != labels)
        return sq_fail(err, "AUC: num_labels=%d, but the model's output has %ld labels",
                       c->num_labels, labels);
    if (c->kind == M_AUC && c->nlw && c->nlw != labels)
        return sq_fail(err, "AUC: label_weights has %d values, but the model's output has %ld "
                       "labels", c->nlw, labels);
    size_t n = (size_t)c->nthr + 1;
    if (!(a->tp = sq_calloc(2 * n * (size_t)a->blocks, sizeof *a->tp)))
        return sq_fail(err, "out of memory");
    a->fp = a->tp + n;
    return 0;
}

/* Label j's block: its tp counts, then its fp counts. */
static double *block_of(const sq_metric_cfg *c, const sq_metric_acc *a, long j)
{
    return a->tp + (size_t)(a->blocks > 1 ? j : 0) * 2 * ((size_t)c->nthr + 1);
}

void sq_metric_acc_reset(const sq_metric_cfg *c, sq_metric_acc *a)
{
    a->total = a->count = 0;
    if (a->tp)
        memset(a->tp, 0, sq_metric_acc_size(c, a) * sizeof *a->tp);
}

void sq_metric_acc_free(sq_metric_acc *a)
{
    free(a->tp);
    memset(a, 0, sizeof *a);
}

size_t sq_metric_acc_size(const sq_metric_cfg *c, const sq_metric_acc *a)
{
    return sq_metric_is_confusion(c->kind) ? 2 * ((size_t)c->nthr + 1) * (size_t)a->blocks : 2;
}

void sq_metric_acc_put(const sq_metric_cfg *c, const sq_metric_acc *a, float *v)
{
    if (!sq_metric_is_confusion(c->kind)) {
        v[0] = (float)a->total;
        v[1] = (float)a->count;
        return;
    }
    for (size_t i = 0; i < sq_metric_acc_size(c, a); i++)
        v[i] = (float)a->tp[i];
}

void sq_metric_acc_add(const sq_metric_cfg *c, sq_metric_acc *a, const float *v)
{
    if (!sq_metric_is_confusion(c->kind)) {
        a->total += v[0];
        a->count += v[1];
        return;
    }
    for (size_t i = 0; i < sq_metric_acc_size(c, a); i++)
        a->tp[i] += v[i];
}

static long argmax(const float *v, long n)
{
    long b = 0;
    for (long j = 1; j < n; j++)
        if (v[j] > v[b])
            b = j;
    return b;
}

/* tf.math.in_top_k: target is in when fewer than k outputs are strictly
 * larger (ties straddling the boundary are all in); never for a row with a
 * non-finite output or a target out of range. */
static int in_top_k(const float *o, long last, long target, int k)
{
    if (target < 0 || target >= last)
        return 0;
    long above = 0;
    for (long j = 0; j < last; j++) {
        if (!isfinite(o[j]))
            return 0;
        above += o[j] > o[target];
    }
    return above < k;
}

/* How many of the ascending thresholds lie strictly below p. */
static int below(const float *thr, int n, float p)
{
    int lo = 0, hi = n;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (thr[mid] < p)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* A class index from a label value; -1 for one that is none. */
static long label_of(float v)
{
    return v >= 0 && v < 2147483647.0f ? (long)v : -1;
}

static double row_value(const sq_metric_cfg *c, const float *o, const float *t, long r,
                        long last, int per_row)
{
    const float *y = per_row ? NULL : t + r * last;
    long cls = per_row ? label_of(t[r]) : -1;
    switch (c->kind) {
    case M_BINARY_ACC: {
        double k = 0;
        for (long j = 0; j < last; j++)
            k += (o[j] > 0.5f) == (y ? y[j] > 0.5f : j == cls);
        return k / (double)last;
    }
    case M_SPARSE_ACC:
        return (float)argmax(o, last) == t[r];
    case M_CATEGORICAL_ACC:
        return argmax(o, last) == (y ? argmax(y, last) : cls);
    case M_TOP_K:
        return in_top_k(o, last, y ? argmax(y, last) : cls, c->k);
    case M_SPARSE_TOP_K:
        return in_top_k(o, last, label_of(t[r]), c->k);
    case M_MSE:
    case M_MAE: {
        double s = 0;
        for (long j = 0; j < last; j++) {
            double d = (double)o[j] - (y ? y[j] : t[r]);
            s += c->kind == M_MSE ? d * d : fabs(d);
        }
        return s / (double)last;
    }
    }
    return 0;
}

int sq_metric_update(const sq_metric_cfg *c, sq_metric_acc *a, const float *out,
                     const float *t, long rows, long last, int per_row, const float *rw,
                     sq_error *err)
{
    if (!sq_metric_is_confusion(c->kind)) {
        for (long r = 0; r < rows; r++) {
            double w = rw ? rw[r] : 1.0;
            a->total += w * row_value(c, out + r * last, t, r, last, per_row);
            a->count += w;
        }
        return 0;
    }
    for (long r = 0; r < rows; r++) {
        double w = rw ? rw[r] : 1.0;
        for (long j = 0; j < last; j++) {
            if (c->class_id >= 0 && j != c->class_id)
                continue;
            float p = out[r * last + j];
            if (c->from_logits)
                p = p >= 0 ? 1 / (1 + expf(-p)) : expf(p) / (1 + expf(p));
            if (!(p >= 0))
                return sq_fail(err, "predictions must be >= 0 (%s sees %g): the model's "
                               "outputs must be probabilities", c->kind == M_AUC ? "auc"
                               : c->kind == M_PRECISION ? "precision" : "recall", p);
            if (!(p <= 1))
                return sq_fail(err, "predictions must be <= 1 (%s sees %g): the model's "
                               "outputs must be probabilities", c->kind == M_AUC ? "auc"
                               : c->kind == M_PRECISION ? "precision" : "recall", p);
            int label = per_row ? label_of(t[r]) == j : t[r * last + j] != 0;
            int k = below(c->thr, c->nthr, p);
            /* label_weights weigh each column's counts without multi_label
             * (update_confusion_matrix_variables), not with it */
            double wj = c->nlw && !c->multi_label ? w * c->lw[j] : w;
            double *blk = block_of(c, a, j);
            if (label)
                blk[k] += wj;
            else
                blk[c->nthr + 1 + k] += wj;
        }
    }
    return 0;
}

static double div_no_nan(double a, double b)
{
    return b == 0 ? 0 : a / b;
}

/* The area under one block's curve (tp[0..n], then fp[0..n]). */
static double block_auc(const sq_metric_cfg *c, const double *tpk);

double sq_metric_result(const sq_metric_cfg *c, const sq_metric_acc *a)
{
    if (!sq_metric_is_confusion(c->kind))
        return div_no_nan(a->total, a->count);
    if (c->kind == M_AUC && a->blocks > 1) {
        /* the labels' areas averaged, or weighted by label_weights (AUC.result) */
        double sum = 0, wsum = 0;
        for (long j = 0; j < a->blocks; j++) {
            double wj = c->nlw ? c->lw[j] : 1.0;
            sum += wj * block_auc(c, block_of(c, a, j));
            wsum += wj;
        }
        return div_no_nan(sum, wsum);
    }
    if (c->kind == M_AUC)
        return block_auc(c, a->tp);
    int n = c->nthr;
    double pos = 0;
    for (int k = 0; k <= n; k++)
        pos += a->tp[k];
    /* one threshold: positive predictions are those above it (k = 1) */
    double tp = a->tp[1], fp = a->fp[1], fn = pos - tp;
    return c->kind == M_PRECISION ? div_no_nan(tp, tp + fp) : div_no_nan(tp, tp + fn);
}

static double block_auc(const sq_metric_cfg *c, const double *tpk)
{
    int n = c->nthr;
    const double *fpk = tpk + n + 1;
    double pos = 0, neg = 0;
    for (int k = 0; k <= n; k++) {
        pos += tpk[k];
        neg += fpk[k];
    }
    /* walk the thresholds from the top: tp(i) = positives above threshold i */
    double tp = 0, fp = 0, area = 0;
    double ptp = 0, pfp = 0;     /* at threshold i + 1 */
    for (int i = n - 1; i >= 0; i--) {
        tp += tpk[i + 1];
        fp += fpk[i + 1];
        if (i < n - 1) {
            double fn = pos - tp, tn = neg - fp, pfn = pos - ptp;
            double x0, x1, y0, y1;
            if (c->curve_pr && c->summation == 0) {
                /* interpolate_pr_auc (Davis & Goadrich) */
                double dtp = tp - ptp, p0 = tp + fp, p1 = ptp + pfp, dp = p0 - p1;
                double slope = div_no_nan(dtp, fmax(dp, 0));
                double intercept = ptp - slope * p1;
                double ratio = p0 > 0 && p1 > 0 ? div_no_nan(p0, fmax(p1, 0)) : 1.0;
                area += div_no_nan(slope * (dtp + intercept * log(ratio)), fmax(ptp + pfn, 0));
                (void)fn;
            } else {
                if (c->curve_pr) {
                    x0 = div_no_nan(tp, tp + fn);
                    x1 = div_no_nan(ptp, ptp + pfn);
                    y0 = div_no_nan(tp, tp + fp);
                    y1 = div_no_nan(ptp, ptp + pfp);
                } else {
                    x0 = div_no_nan(fp, fp + tn);
                    x1 = div_no_nan(pfp, pfp + (neg - pfp));
                    y0 = div_no_nan(tp, tp + fn);
                    y1 = div_no_nan(ptp, ptp + pfn);
                }
                double h = c->summation == 0 ? (y0 + y1) / 2 : c->summation == 1 ? fmin(y0, y1)
                         : fmax(y0, y1);
                area += (x0 - x1) * h;
            }
        }
        ptp = tp;
        pfp = fp;
    }
    return area;
}
