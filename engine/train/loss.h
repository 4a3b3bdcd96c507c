/* loss.h - losses and metrics (engine-internal). */
#ifndef SEQSH_LOSS_H
#define SEQSH_LOSS_H

#include "model.h"

enum { L_MSE, L_MAE, L_BCE, L_CCE, L_SCCE };
enum { M_ACCURACY, M_MSE, M_MAE, M_BINARY_ACC, M_CATEGORICAL_ACC, M_SPARSE_ACC };

/* The loss for a Keras name or alias, or -1 with Keras's message. */
int sq_loss_find(const char *name, sq_error *err);
const char *sq_loss_name(int loss);
/* The metric for a name (accuracy is resolved later by shapes), or -1. */
int sq_metric_find(const char *name, sq_error *err);

/* Mean loss over `rows` samples of `last` outputs. t holds targets: for
 * L_SCCE one class index per row, otherwise rows x last values. With
 * logits, `out` is the pre-activation of a sigmoid (L_BCE) or softmax
 * (L_CCE, L_SCCE). grad (may be NULL) gets dLoss/dout, rows x last. */
double sq_loss_compute(int loss, int logits, const float *out, const float *t,
                       long rows, long last, float *grad);
/* The metric summed over rows (divide by the sample count for the mean).
 * Accuracy must be resolved to M_BINARY/M_SPARSE/M_CATEGORICAL_ACC first. */
double sq_metric_sum(int metric, const float *out, const float *t, long rows, long last,
                     int sparse_targets);

#endif
