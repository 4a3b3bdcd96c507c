/* dropout.c - Dropout: identity at inference; rate checked at creation. */
#include <string.h>
#include "../internal.h"

typedef struct {
    double rate;
} dropout_state;

static const sq_optdef opts[] = {
    { "rate", OPT_FLOAT, 0, NULL, "fraction of the inputs to drop while training" },
    { NULL, 0, 0, NULL, NULL },
};

static int configure(sq_layer *l, const sq_optval *v, sq_error *err)
{
    dropout_state *st = l->state;
    st->rate = v[0].f;
    if (st->rate < 0 || st->rate > 1)
        return sq_fail(err, "Invalid value %g received for `rate`, expected a value between "
                       "0 and 1.", st->rate);
    return 0;
}

static int output_shape(const sq_layer *l, const sq_shape *in, sq_shape *out,
                        sq_error *err)
{
    (void)l;
    (void)err;
    *out = *in;
    return 0;
}

static void forward(const sq_layer *l, const sq_fwd *f)
{
    (void)l;
    memcpy(f->out, f->in, sq_shape_count(f->in_shape) * sizeof(float));
}

const sq_layer_kind sq_kind_dropout = {
    .class_name = "Dropout",
    .base_name = "dropout",
    .opts = opts,
    .npositional = 1,
    .summary = "randomly zeroes inputs while training; identity otherwise",
    .state_size = sizeof(dropout_state),
    .configure = configure,
    .output_shape = output_shape,
    .forward = forward,
    .shape_rule = "unchanged",
    .example = "add dropout 0.5",
};
