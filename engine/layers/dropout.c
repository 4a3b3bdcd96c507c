/* dropout.c - Dropout: identity at inference; rate checked at creation. */
#include <stdio.h>
#include <string.h>
#include "layers/layer.h"

typedef struct {
    double rate;
} dropout_state;

static const sq_optdef opts[] = {
    { .name = "rate", .type = OPT_FLOAT, .help = "fraction of the inputs to drop while training" },
    { .name = NULL },
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

/* Inverted dropout: while training each input is kept with probability
 * 1 - rate and scaled by 1 / (1 - rate); the mask is kept for backward. */
static void forward(const sq_layer *l, const sq_fwd *f)
{
    const dropout_state *st = l->state;
    size_t n = sq_shape_count(f->in_shape);
    if (!f->training || st->rate == 0) {
        memcpy(f->out, f->in, n * sizeof(float));
        if (f->training)
            for (size_t i = 0; i < n; i++)
                f->cache[i] = 1;
        return;
    }
    float keep = st->rate < 1 ? (float)(1.0 / (1.0 - st->rate)) : 0.0f;
    for (size_t i = 0; i < n; i++) {
        f->cache[i] = sq_rng_uniform(f->rng) >= (float)st->rate ? keep : 0.0f;
        f->out[i] = f->in[i] * f->cache[i];
    }
}

static size_t cache(const sq_layer *l, const sq_shape *in)
{
    (void)l;
    return sq_shape_count(in);
}

static void backward(const sq_layer *l, const sq_bwd *b)
{
    (void)l;
    size_t n = sq_shape_count(b->in_shape);
    if (b->din)
        for (size_t i = 0; i < n; i++)
            b->din[i] = b->dout[i] * b->cache[i];
}

static void explain(const sq_layer *l, const sq_shape *in, const sq_shape *out, sbuf *b)
{
    const dropout_state *st = l->state;
    char what[160];
    (void)in;
    (void)out;
    snprintf(what, sizeof what, "while training each value is zeroed with probability %g and "
             "the others multiplied by 1 / (1 - %g); otherwise values pass unchanged", st->rate,
             st->rate);
    sq_explain_same_shape(b, what);
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
    .cache = cache,
    .backward = backward,
    .shape_rule = "unchanged",
    .example = "input 16; add dropout 0.5",
    .explain = explain,
    .mask = sq_mask_keep,          /* Keras: supports_masking */
};
