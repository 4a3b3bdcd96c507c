/* activation_layer.c - Activation(NAME): applies an activation, nothing else.
 * The generic forward applies l->act after this copy. */
#include <stdio.h>
#include <string.h>
#include "layers/layer.h"

static const sq_optdef opts[] = {
    { .name = "activation", .type = OPT_ACT, .help = "name of the activation function" },
    { .name = NULL },
};

static int configure(sq_layer *l, const sq_optval *v, sq_error *err)
{
    (void)err;
    l->act = sq_activation_find(v[0].s);
    return 0;
}

static int output_shape(const sq_layer *l, const sq_shape *in, sq_shape *out,
                        sq_error *err)
{
    (void)l;
    if (l->act == sq_activation_find("softmax") && in->rank == 1)
        return sq_fail(err, "Cannot apply softmax to a tensor that is 1D.");
    *out = *in;
    return 0;
}

static void forward(const sq_layer *l, const sq_fwd *f)
{
    (void)l;
    memcpy(f->out, f->in, sq_shape_count(f->in_shape) * sizeof(float));
}

/* Moves no values: the gradient passes through unchanged. */
static void backward(const sq_layer *l, const sq_bwd *b)
{
    (void)l;
    if (b->din)
        memcpy(b->din, b->dout, sq_shape_count(b->in_shape) * sizeof(float));
}

static void explain(const sq_layer *l, const sq_shape *in, const sq_shape *out, sbuf *b)
{
    char what[96];
    (void)in;
    (void)out;
    snprintf(what, sizeof what, "%s applied to the values", sq_activation_name(l->act));
    sq_explain_same_shape(b, what);
}

const sq_layer_kind sq_kind_activation = {
    .class_name = "Activation",
    .base_name = "activation",
    .opts = opts,
    .npositional = 1,
    .summary = "applies an activation function",
    .configure = configure,
    .output_shape = output_shape,
    .forward = forward,
    .shape_rule = "unchanged",
    .example = "input 10; add activation softmax",
    .backward = backward,
    .explain = explain,
    .mask = sq_mask_keep,          /* Keras: supports_masking */
};
