/* repeat_vector.c - RepeatVector(n): (batch, features) -> (batch, n,
 * features), the vector repeated n times (backend.repeat). */
#include <string.h>
#include "layers/layer.h"

typedef struct {
    long n;
} repeat_state;

static const sq_optdef opts[] = {
    { .name = "n", .type = OPT_INT, .help = "how many times the input is repeated" },
    { .name = NULL },
};

static int configure(sq_layer *l, const sq_optval *v, sq_error *err)
{
    repeat_state *st = l->state;
    st->n = v[0].i[0];
    if (st->n < 1)
        return sq_fail(err, "RepeatVector: `n` must be a positive integer, got %ld", st->n);
    return 0;
}

static int output_shape(const sq_layer *l, const sq_shape *in, sq_shape *out,
                        sq_error *err)
{
    const repeat_state *st = l->state;
    if (in->rank != 2)
        return sq_fail_ndim(err, l, 2, in);
    *out = (sq_shape){ 3, { in->d[0], st->n, in->d[1] } };
    return 0;
}

static void forward(const sq_layer *l, const sq_fwd *f)
{
    const repeat_state *st = l->state;
    long nb = f->in_shape->d[0], c = f->in_shape->d[1];
    float *y = f->out;
    for (long b = 0; b < nb; b++)
        for (long r = 0; r < st->n; r++, y += c)
            memcpy(y, f->in + (size_t)(b * c), (size_t)c * sizeof *y);
}

/* The gradient of the vector is the sum over its copies. */
static void backward(const sq_layer *l, const sq_bwd *b)
{
    const repeat_state *st = l->state;
    if (!b->din)
        return;
    long nb = b->in_shape->d[0], c = b->in_shape->d[1];
    const float *dy = b->dout;
    for (long n = 0; n < nb; n++) {
        float *dx = b->din + (size_t)(n * c);
        memcpy(dx, dy, (size_t)c * sizeof *dx);
        dy += c;
        for (long r = 1; r < st->n; r++, dy += c)
            for (long j = 0; j < c; j++)
                dx[j] += dy[j];
    }
}

static void explain(const sq_layer *l, const sq_shape *in, const sq_shape *out, sbuf *b)
{
    const repeat_state *st = l->state;
    (void)out;
    sq_explain_line(b, "steps", "%ld = n  (the vector repeated %ld times)", st->n, st->n);
    sq_explain_line(b, "features", "%ld = %ld", in->d[1], in->d[1]);
    sq_explain_no_params(b);
}

const sq_layer_kind sq_kind_repeat_vector = {
    .class_name = "RepeatVector",
    .base_name = "repeat_vector",
    .opts = opts,
    .npositional = 1,
    .summary = "repeats a (batch, features) input n times: (batch, n, features)",
    .state_size = sizeof(repeat_state),
    .configure = configure,
    .output_shape = output_shape,
    .forward = forward,
    .backward = backward,
    .shape_rule = "(B, C) -> (B, n, C); no params",
    .example = "input 4; add repeatvector 3",
    .explain = explain,
};
