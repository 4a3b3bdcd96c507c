/* fit.h - what fit.c (the loops) and fit_data.c (fit's options and the
 * data they name) share (engine-internal). */
#ifndef SEQSH_FIT_H
#define SEQSH_FIT_H

#include "model.h"
#include "train/callbacks.h"

/* What fit's options bring besides x and y, loaded and checked. */
typedef struct {
    sq_tensor vx, vy;          /* validation data (owned when own_val) */
    int has_val, own_val;
    float *vsw;                /* validation sample weights, or NULL (owned) */
    float *sw;                 /* per training sample: sample_weight x class_weight, or NULL (owned) */
    sq_callbacks *cbs;         /* owned, or NULL */
} fit_inputs;

/* Loads validation_data= (or takes o->val_x/val_y), sample_weight= and
 * class_weight= for the n training samples of y (ntrain of them trained
 * on: class weights apply to those), and parses callbacks=. On failure
 * nothing is held. */
int sq_fit_inputs_load(sq_session *s, const sq_tensor *y, long ntrain, const sq_fit_opts *o,
                       fit_inputs *in, sq_error *err);
void sq_fit_inputs_free(fit_inputs *in);

/* fit's ranges, for the words and for typed callers alike. */
int sq_fit_opts_check(const sq_fit_opts *o, sq_error *err);
/* class_weight={0:1,1:5}: *n weights into w[0..max) by class; Keras's
 * error unless the keys are 0 .. n-1. */
int sq_class_weight_parse(const char *text, double *w, int max, int *n, sq_error *err);

/* An INPUT as text: "ones|zeros|random|range D0 D1 ..." or a data file. */
int sq_input_load(sq_session *s, const char *spec, sq_tensor *out, sq_error *err);

#endif
