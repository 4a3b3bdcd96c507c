/* compile.h - a model's compile settings: the loss with its options, the
 * metrics and the optimizer with its options (shared by compile.c, the
 * training loop and the model file). */
#ifndef SEQSH_COMPILE_H
#define SEQSH_COMPILE_H

#include "model.h"
#include "train/loss.h"
#include "train/optim.h"

#define MAX_METRICS 8
#define MAX_OPT_OPTS 12
#define OPT_VALUE_MAX 1024

struct sq_compiled {
    char optimizer[32];
    int nopts;
    char keys[MAX_OPT_OPTS][32], values[MAX_OPT_OPTS][OPT_VALUE_MAX];
    sq_loss_cfg loss;
    char loss_name[64];               /* as given, for save */
    char loss_opts[128];              /* " from_logits=true ...", for save */
    int nmetrics;
    sq_metric_cfg metric[MAX_METRICS];  /* as named; accuracy resolved per fit */
    char metric_text[MAX_METRICS][256]; /* as given, blanks removed, for save */
    char metric_name[MAX_METRICS][48];  /* as printed */
    char val_name[MAX_METRICS + 1][56];
    int warned_logits;                /* the from_logits warning was given */
    sq_optim *opt;                    /* created at the first fit (or by load) */
    size_t opt_n;
    /* Keras's History, every finished epoch since compile: rows of
     * HIST_WIDTH(c) values: loss, the metrics, val_loss, the val_ metrics
     * (NaN when an epoch had no validation), lr (NaN unless
     * reduce_lr_on_plateau logged it) */
    double *hist;
    int hist_n, hist_cap;
};

#define HIST_WIDTH(c) (2 * (1 + (c)->nmetrics) + 1)

#endif
