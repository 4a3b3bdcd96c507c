/* rescaling.c - Rescaling(scale, offset=0): out = in * scale + offset. */
#include <stdio.h>
#include "layers/layer.h"

typedef struct {
    float scale, offset;
} rescaling_state;

static const sq_optdef opts[] = {
    { .name = "scale", .type = OPT_FLOAT, .help = "factor to multiply the inputs by, e.g. 0.00392156862745098" },
    { .name = "offset", .type = OPT_FLOAT, .def = "0", .help = "value added after scaling" },
    { .name = NULL },
};

static int configure(sq_layer *l, const sq_optval *v, sq_error *err)
{
    (void)err;
    rescaling_state *st = l->state;
    st->scale = (float)v[0].f;
    st->offset = (float)v[1].f;
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
    const rescaling_state *st = l->state;
    size_t n = sq_shape_count(f->in_shape);
    for (size_t i = 0; i < n; i++)
        f->out[i] = f->in[i] * st->scale + st->offset;
}

static void backward(const sq_layer *l, const sq_bwd *b)
{
    const rescaling_state *st = l->state;
    size_t n = sq_shape_count(b->in_shape);
    if (b->din)
        for (size_t i = 0; i < n; i++)
            b->din[i] = b->dout[i] * st->scale;
}

static void explain(const sq_layer *l, const sq_shape *in, const sq_shape *out, sbuf *b)
{
    const rescaling_state *st = l->state;
    char what[96];
    (void)in;
    (void)out;
    snprintf(what, sizeof what, "each value * %g + %g", st->scale, st->offset);
    sq_explain_same_shape(b, what);
}

const sq_layer_kind sq_kind_rescaling = {
    .class_name = "Rescaling",
    .base_name = "rescaling",
    .opts = opts,
    .npositional = 2,
    .summary = "multiplies by scale and adds offset",
    .state_size = sizeof(rescaling_state),
    .configure = configure,
    .output_shape = output_shape,
    .forward = forward,
    .shape_rule = "unchanged",
    .example = "input 8 8 3; add rescaling 0.00392156862745098",
    .backward = backward,
    .explain = explain,
};
