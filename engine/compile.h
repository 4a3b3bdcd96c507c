/* compile.h - a model's compile settings: the loss, the metrics and the
 * optimizer with its options (shared by compile.c and the training loop). */
#ifndef SEQSH_COMPILE_H
#define SEQSH_COMPILE_H

#include "model.h"
#include "train/optim.h"

#define MAX_METRICS 8
#define MAX_OPT_OPTS 12


struct sq_compiled {
    char optimizer[32];
    int nopts;
    char keys[MAX_OPT_OPTS][32], values[MAX_OPT_OPTS][64];
    int loss;
    char loss_name[64];               /* as given, for save */
    int nmetrics;
    int metric[MAX_METRICS];          /* as named; accuracy resolved per fit */
    char metric_name[MAX_METRICS][40];
    char val_name[MAX_METRICS + 1][48];
    sq_optim *opt;                    /* created at the first fit */
    size_t opt_n;
    /* Keras's History, every finished epoch since compile: rows of
     * 2 * (1 + nmetrics) values (the metrics, then val_...; NaN when an
     * epoch had no validation) */
    double *hist;
    int hist_n, hist_cap;
};

#endif
