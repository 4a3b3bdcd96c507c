/* optim.h - Keras 2.6 optimizers over the model's flat buffers
 * (engine-internal).
 *
 * The model keeps every weight in one flat float buffer and every gradient
 * in another of the same length n. An optimizer owns its slot buffers
 * (moments, accumulators), each n floats laid out like the weights, and its
 * step counter. The training loop, once per batch:
 *
 *     sq_optim_begin_step(o);                  iterations += 1
 *     for each trainable range [off, off+len):
 *         sq_optim_update(o, params, grads, off, len);
 *
 * Frozen ranges are simply not passed: their weights and slots stay as they
 * are, as in Keras where frozen variables are not in the var_list.
 *
 * Names (case-insensitive, as keras.optimizers.get): sgd, adam, rmsprop,
 * adagrad, adadelta, adamax, nadam, ftrl. Options are the keyword arguments
 * of the Keras 2.6 class, as text (see optim.c for each class's list). */
#ifndef SEQSH_OPTIM_H
#define SEQSH_OPTIM_H

#include <stddef.h>
#include "model.h"

typedef struct sq_optim sq_optim;

/* Creates optimizer `name` for a model of n parameters with the nopts
 * key=value options keys[i]=values[i]. Slot buffers are allocated (zeroed,
 * or initial_accumulator_value for adagrad/ftrl's accumulator). Returns 0,
 * or -1 with err filled and *out untouched. */
int sq_optim_new(const char *name, int nopts, const char *const *keys,
                 const char *const *values, size_t n, sq_optim **out,
                 sq_error *err);
void sq_optim_free(sq_optim *o);

/* Starts step t+1 (Keras's `iterations` + 1): computes this step's scalar
 * coefficients (bias corrections, decayed learning rate, Nadam's momentum
 * schedule). Call once per batch before the updates. */
void sq_optim_begin_step(sq_optim *o);

/* Applies the update to params[off .. off+len) from grads[off .. off+len),
 * using the slots at the same offsets. Does not allocate. A call before the
 * first sq_optim_begin_step does nothing. */
void sq_optim_update(sq_optim *o, float *params, const float *grads,
                     size_t off, size_t len);

/* One line, e.g. "adam (learning_rate=0.001, beta_1=0.9, beta_2=0.999,
 * epsilon=1e-07)": the lower-case name, then every numeric hyperparameter
 * as Python prints it; boolean options appear only when True, decay only
 * when non-zero. Returns buf. */
const char *sq_optim_describe(const sq_optim *o, char *buf, size_t n);

/* The number of steps begun so far (Keras's `iterations`). */
long long sq_optim_iterations(const sq_optim *o);

/* Snapshot of the mutable state (iterations, Nadam's schedule, all slots)
 * for undoing a failed or interrupted step: state_size() bytes, written by
 * save() and read back by restore() into the same optimizer. */
size_t sq_optim_state_size(const sq_optim *o);
void sq_optim_state_save(const sq_optim *o, void *dst);
void sq_optim_state_restore(sq_optim *o, const void *src);

/* A learning-rate schedule was given (learning_rate=NAME(...)). */
int sq_optim_has_schedule(const sq_optim *o);
/* The learning rate as given (Keras holds it as float32: callers round
 * what they log), and a new one (ReduceLROnPlateau; not with a
 * schedule). */
double sq_optim_lr(const sq_optim *o);
void sq_optim_set_lr(sq_optim *o, double lr);
/* The state as the model file keeps it: counters, and nslots * size floats
 * of slots (borrowed). */
int sq_optim_nslots(const sq_optim *o);
size_t sq_optim_size(const sq_optim *o);
float *sq_optim_slots(sq_optim *o);
void sq_optim_get_counters(const sq_optim *o, long long *t, double *m_cache);
void sq_optim_set_counters(sq_optim *o, long long t, double m_cache);

/* A range of the flat buffers: one weight tensor. */
typedef struct {
    size_t off, len;
} sq_range;
/* Applies the update to params[off .. off+len) from g (len gradients,
 * already offset), using the slots at off. */
void sq_optim_apply(sq_optim *o, float *params, const float *g, size_t off, size_t len);

/* What a run of steps keeps of each trained tensor with a penalty: the
 * sums of |w| and w^2 of its weights as the last step left them (valid 0
 * until a step has). They spare the next step a read of w: its penalty's
 * value, and with clipnorm a bound that settles most steps from a read of
 * the gradient alone. Valid only while nothing else changes the weights:
 * a caller keeps them for one fit, zeroed at its start. */
typedef struct {
    double s1, s2;
    int valid;
} sq_wsums;

/* One whole step, as Keras's apply_gradients does it: begins the step,
 * then updates the n trained tensors r with their gradients plus the
 * gradients of their penalties pen[k] (NULL: none), clipped as the
 * optimizer says, each transformed in chunks of SQ_OPTIM_CHUNK floats in
 * `chunk` so that the gradients are read once more at most. grads is left
 * as it was. ws: n sums (see sq_wsums), or NULL. Returns the penalties of
 * the weights before the update. */
#define SQ_OPTIM_CHUNK 1024
double sq_optim_step(sq_optim *o, float *params, const float *grads, const sq_range *r,
                     const sq_regularizer *const *pen, int n, float *chunk, sq_wsums *ws);

#endif
