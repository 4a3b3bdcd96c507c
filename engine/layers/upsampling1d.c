/* upsampling1d.c - UpSampling1D(size): every step of (batch, steps,
 * channels) repeated size times (backend.repeat_elements on axis 1). */
#include <stdio.h>
#include <string.h>
#include "layers/layer.h"

typedef struct {
    long size;
} upsampling1d_state;

static const sq_optdef opts[] = {
    { .name = "size", .type = OPT_INT, .def = "2", .help = "how many times each step is repeated" },
    { .name = NULL },
};

static int configure(sq_layer *l, const sq_optval *v, sq_error *err)
{
    upsampling1d_state *st = l->state;
    st->size = v[0].i[0];
    if (st->size < 1)
        return sq_fail(err, "UpSampling1D: `size` must be a positive integer, got %ld",
                       st->size);
    return 0;
}

static int output_shape(const sq_layer *l, const sq_shape *in, sq_shape *out,
                        sq_error *err)
{
    const upsampling1d_state *st = l->state;
    if (in->rank != 3)
        return sq_fail_ndim(err, l, 3, in);
    *out = *in;
    if (in->d[1] >= 0) {
        long d[2] = { in->d[1], st->size };
        char what[SQ_NAME_MAX + 16];
        snprintf(what, sizeof what, "layer %s", l->name);
        if (sq_dims_count(d, 2, what, &out->d[1], err) < 0)
            return -1;
    }
    return 0;
}

static void forward(const sq_layer *l, const sq_fwd *f)
{
    const upsampling1d_state *st = l->state;
    long c = f->in_shape->d[2];
    size_t rows = (size_t)(f->in_shape->d[0] * f->in_shape->d[1]);
    float *y = f->out;
    for (size_t r = 0; r < rows; r++)
        for (long k = 0; k < st->size; k++, y += c)
            memcpy(y, f->in + r * (size_t)c, (size_t)c * sizeof *y);
}

/* Each input step gets the sum of the gradients of its copies. */
static void backward(const sq_layer *l, const sq_bwd *b)
{
    const upsampling1d_state *st = l->state;
    if (!b->din)
        return;
    long c = b->in_shape->d[2];
    size_t rows = (size_t)(b->in_shape->d[0] * b->in_shape->d[1]);
    const float *dy = b->dout;
    for (size_t r = 0; r < rows; r++) {
        float *dx = b->din + r * (size_t)c;
        memcpy(dx, dy, (size_t)c * sizeof *dx);
        dy += c;
        for (long k = 1; k < st->size; k++, dy += c)
            for (long j = 0; j < c; j++)
                dx[j] += dy[j];
    }
}

static void explain(const sq_layer *l, const sq_shape *in, const sq_shape *out, sbuf *b)
{
    const upsampling1d_state *st = l->state;
    sq_explain_line(b, "steps", "%ld = %ld * %ld  (every step repeated %ld times)", out->d[1],
                    in->d[1], st->size, st->size);
    sq_explain_line(b, "channels", "%ld = %ld", out->d[2], in->d[2]);
    sq_explain_no_params(b);
}

const sq_layer_kind sq_kind_up_sampling1d = {
    .class_name = "UpSampling1D",
    .base_name = "up_sampling1d",
    .opts = opts,
    .npositional = 1,
    .summary = "repeats every step of (batch, steps, channels) inputs size times",
    .state_size = sizeof(upsampling1d_state),
    .configure = configure,
    .output_shape = output_shape,
    .forward = forward,
    .backward = backward,
    .shape_rule = "(B, T, C) -> (B, T*size, C); no params",
    .example = "input 5 3; add upsampling1d 3",
    .explain = explain,
};
