/* loss.h - losses and metrics (engine-internal). */
#ifndef SEQSH_LOSS_H
#define SEQSH_LOSS_H

#include "model.h"

enum { L_MSE, L_MAE, L_BCE, L_CCE, L_SCCE, L_HUBER, L_KLD, L_HINGE, L_SQUARED_HINGE,
       L_CATEGORICAL_HINGE, L_POISSON, L_LOG_COSH, L_COSINE, L_MAPE, L_MSLE, L_COUNT };

/* A loss with its options (compile's from_logits=, label_smoothing=,
 * delta=). */
typedef struct {
    int loss;
    int from_logits;
    double label_smoothing;   /* float32 value */
    double delta;             /* huber, float32 value */
} sq_loss_cfg;

/* The loss for a Keras name or alias (ignoring case and underscores), or
 * -1 with Keras's message. */
int sq_loss_find(const char *name, sq_error *err);
const char *sq_loss_name(int loss);
/* Its Keras class ("MeanSquaredError"). */
const char *sq_loss_class(int loss);
/* The defaults of loss (from_logits false, label_smoothing 0, delta 1). */
void sq_loss_cfg_init(sq_loss_cfg *c, int loss);
/* Whether loss takes option key ("from_logits", "label_smoothing",
 * "delta"). */
int sq_loss_takes(int loss, const char *key);
/* One of the loss options: the names that go to the loss, not the
 * optimizer. */
int sq_loss_is_option(const char *key);
/* help text for a loss name, or NULL (malloc'd). */
char *sq_loss_help(const char *name);

/* Sum over the rows of rw[r] * loss(row r), divided by rows (rw NULL: all
 * 1): Keras's SUM_OVER_BATCH_SIZE. t holds targets: for L_SCCE one class
 * index per row, otherwise rows x last values. logits: out holds the
 * crossentropy's logits. grad (may be NULL) gets the derivative of that
 * with respect to out, rows x last. */
double sq_loss_eval(const sq_loss_cfg *c, int logits, const float *out, const float *t,
                    long rows, long last, const float *rw, float *grad);
/* The same with the loss's defaults and no weights. */
double sq_loss_compute(int loss, int logits, const float *out, const float *t,
                       long rows, long last, float *grad);

/* ---- metrics (metrics.c) --------------------------------------------------- */

enum { M_ACCURACY, M_MSE, M_MAE, M_BINARY_ACC, M_CATEGORICAL_ACC, M_SPARSE_ACC, M_AUC,
       M_PRECISION, M_RECALL, M_TOP_K, M_SPARSE_TOP_K, M_COUNT };

/* A metric with its arguments. */
typedef struct {
    int kind;
    int k;                     /* top-k: k (default 5) */
    int nthr;                  /* confusion metrics: number of thresholds */
    float *thr;                /* owned; nthr ascending thresholds */
    int class_id;              /* precision/recall: one column, -1 = all */
    int curve_pr;              /* AUC: curve='PR' */
    int summation;             /* AUC: 0 interpolation, 1 minoring, 2 majoring */
    int from_logits;           /* AUC */
    int thr_given;             /* thresholds= was given (not the defaults) */
    int multi_label;           /* AUC: an AUC per label (output column), averaged */
    int num_labels;            /* AUC: given (0: the output's last axis) */
    int nlw;                   /* AUC: label_weights given, their count (0: none) */
    double *lw;                /* owned; nlw weights, one per label */
} sq_metric_cfg;

/* A metric's running state over an epoch or an evaluation. */
typedef struct {
    double total, count;       /* weighted sum and weights of mean metrics */
    double *tp, *fp;           /* confusion metrics: per block, nthr + 1 weights of
                                  positives, then as many of negatives (fp is
                                  the first block's) */
    long blocks;               /* blocks of counts: one per label (the output's
                                  last axis) with multi_label, else 1 */
} sq_metric_acc;

/* Parses "accuracy", "auc(num_thresholds=100)", "top_k_categorical_accuracy(k=3)"
 * (ignoring case and underscores); name gets the name Keras prints
 * ("accuracy" as typed, "auc"). Keras's message for an unknown one. */
int sq_metric_parse(const char *text, sq_metric_cfg *c, char *name, size_t n, sq_error *err);
void sq_metric_cfg_free(sq_metric_cfg *c);
/* A copy of src into dst with its own thresholds. */
int sq_metric_cfg_copy(sq_metric_cfg *dst, const sq_metric_cfg *src, sq_error *err);
/* The metric for a name (accuracy is resolved later by shapes), or -1. */
int sq_metric_find(const char *name, sq_error *err);
/* A kind's function name ("auc") and, in *cls when not NULL, its Keras
 * class name ("AUC", NULL when it has none). */
const char *sq_metric_kind_name(int kind, const char **cls);
char *sq_metric_help(const char *name);
/* Whether the metric counts a confusion matrix (auc, precision, recall). */
int sq_metric_is_confusion(int kind);

/* For a model whose output has shape out (its last axis the labels):
 * Keras's errors for multi_label AUC on another rank, and for num_labels
 * or label_weights that do not fit it. */
int sq_metric_acc_init(const sq_metric_cfg *c, const sq_shape *out, sq_metric_acc *a,
                       sq_error *err);
void sq_metric_acc_reset(const sq_metric_cfg *c, sq_metric_acc *a);
void sq_metric_acc_free(sq_metric_acc *a);
/* The accumulator as sq_metric_acc_size(c, a) floats (one step's counts,
 * to be summed across processes), and those floats added to another. */
size_t sq_metric_acc_size(const sq_metric_cfg *c, const sq_metric_acc *a);
void sq_metric_acc_put(const sq_metric_cfg *c, const sq_metric_acc *a, float *v);
void sq_metric_acc_add(const sq_metric_cfg *c, sq_metric_acc *a, const float *v);
/* Adds a batch of rows: out rows x last, t rows x last (or one value per
 * row when per_row), row weights rw (NULL: 1). -1 with Keras's message
 * when a confusion metric sees a prediction outside [0, 1]. */
int sq_metric_update(const sq_metric_cfg *c, sq_metric_acc *a, const float *out,
                     const float *t, long rows, long last, int per_row, const float *rw,
                     sq_error *err);
/* The value so far. */
double sq_metric_result(const sq_metric_cfg *c, const sq_metric_acc *a);


#endif
