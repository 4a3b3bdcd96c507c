/* flatten.c - Flatten: (B, d1, d2, ...) -> (B, d1*d2*...). */
#include <stdio.h>
#include <string.h>
#include "layers/layer.h"

static int output_shape(const sq_layer *l, const sq_shape *in, sq_shape *out,
                        sq_error *err)
{
    long n = 1;
    int known = 1;
    for (int i = 1; i < in->rank; i++)
        known = known && in->d[i] >= 0;
    if (!known) {
        n = -1;
    } else if (in->rank >= 2) {
        char what[SQ_NAME_MAX + 16];
        snprintf(what, sizeof what, "layer %s", l->name);
        if (sq_dims_count(in->d + 1, in->rank - 1, what, &n, err) < 0)
            return -1;
    }
    *out = (sq_shape){ 2, { in->d[0], n } };
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

/* Every axis after the batch multiplied into one. */
static void explain(const sq_layer *l, const sq_shape *in, const sq_shape *out, sbuf *b)
{
    (void)l;
    char t[128];
    sq_explain_line(b, "features", "%ld = %s  (every value of a sample in one row, in C order)",
                    out->d[1], sq_dims_text(in, t, sizeof t));
    sq_explain_no_params(b);
}

const sq_layer_kind sq_kind_flatten = {
    .class_name = "Flatten",
    .base_name = "flatten",
    .summary = "flattens every axis but the batch into one",
    .output_shape = output_shape,
    .forward = forward,
    .shape_rule = "(B, d1, d2, ...) -> (B, d1*d2*...)",
    .example = "input 4 4 3; add flatten",
    .backward = backward,
    .explain = explain,
};
