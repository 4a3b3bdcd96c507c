/* callbacks.h - fit's callbacks= (engine-internal): early_stopping,
 * reduce_lr_on_plateau, model_checkpoint and csv_logger, run in the order
 * given at the end of every epoch, reading that epoch's logs. */
#ifndef SEQSH_CALLBACKS_H
#define SEQSH_CALLBACKS_H

#include "model.h"

#define SQ_MAX_CALLBACKS 8
#define SQ_LOGS_MAX 24

/* One epoch's logs, in Keras's order: loss, the metrics, then val_loss and
 * the val_ metrics when there was validation, then what callbacks add
 * (lr). */
typedef struct {
    int n;
    const char *name[SQ_LOGS_MAX];   /* borrowed */
    double value[SQ_LOGS_MAX];
} sq_logs;

/* What a callback may touch. */
typedef struct {
    sq_session *s;
    sq_progress_fn cb;               /* messages (LINE) and warnings */
    void *ctx;
    int stop;                        /* set by a callback: training stops after this epoch */
} sq_cb_env;

typedef struct sq_callbacks sq_callbacks;

/* Parses a list "early_stopping(patience=3),csv_logger(log.csv)" (or in
 * [ ]); *out is NULL for an empty list. Keras's errors. */
int sq_callbacks_parse(const char *text, sq_callbacks **out, sq_error *err);
void sq_callbacks_free(sq_callbacks *c);
/* Whether one of them changes the learning rate (reduce_lr_on_plateau). */
int sq_callbacks_set_lr(const sq_callbacks *c);
/* Before training (on_train_begin): checks what can be checked (the
 * file names' format fields against the logs there will be, names[0..n)),
 * makes room (best weights), opens files. On failure nothing is left
 * open. */
int sq_callbacks_begin(sq_callbacks *c, sq_cb_env *env, const char *const *names, int n,
                       sq_error *err);
/* After each epoch (on_epoch_end), in order; logs may get entries (lr). */
int sq_callbacks_epoch_end(sq_callbacks *c, sq_cb_env *env, int epoch, sq_logs *logs,
                           sq_error *err);
/* After training (on_train_end): messages when `finished`, files closed
 * always. */
void sq_callbacks_end(sq_callbacks *c, sq_cb_env *env, int finished);

const char *sq_callback_name_at(int i, const char **aliases);
char *sq_callback_help(const char *name);

#endif
