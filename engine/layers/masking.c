/* masking.c - Masking: a time step (a row: the last axis) whose values all
 * equal mask_value is masked: its output is zeros and later layers (the
 * recurrent ones) skip it. */
#include <string.h>
#include "layers/layer.h"

typedef struct {
    float mask_value;
} masking_state;

static const sq_optdef opts[] = {
    { .name = "mask_value", .type = OPT_FLOAT, .def = "0.0", .help = "rows equal to it everywhere are masked" },
    { .name = NULL },
};

static int configure(sq_layer *l, const sq_optval *v, sq_error *err)
{
    masking_state *st = l->state;
    (void)err;
    st->mask_value = (float)v[0].f;
    return 0;
}

static int output_shape(const sq_layer *l, const sq_shape *in, sq_shape *out, sq_error *err)
{
    (void)l;
    (void)err;
    *out = *in;
    return 0;
}

static sq_mask_rule mask_rule(const sq_layer *l, int in_masked)
{
    (void)l;
    (void)in_masked;
    return SQ_MASK_MAKE;
}

/* Keras: keep = any(inputs != mask_value, axis=-1); outputs = inputs * keep */
static int keep_row(const float *x, long d, float v)
{
    for (long j = 0; j < d; j++)
        if (x[j] != v)
            return 1;
    return 0;
}

static void forward(const sq_layer *l, const sq_fwd *f)
{
    const masking_state *st = l->state;
    long d = f->in_shape->d[f->in_shape->rank - 1];
    size_t rows = d ? sq_shape_count(f->in_shape) / (size_t)d : 0;
    for (size_t r = 0; r < rows; r++) {
        const float *x = f->in + r * (size_t)d;
        float *y = f->out + r * (size_t)d;
        int keep = keep_row(x, d, st->mask_value);
        if (keep)
            memcpy(y, x, (size_t)d * sizeof *y);
        else
            for (long j = 0; j < d; j++)
                y[j] = x[j] * 0.0f;   /* as Keras multiplies: NaN stays NaN */
        if (f->mask_out)
            f->mask_out[r] = (uint8_t)keep;
    }
}

static void backward(const sq_layer *l, const sq_bwd *b)
{
    const masking_state *st = l->state;
    if (!b->din)
        return;
    long d = b->in_shape->d[b->in_shape->rank - 1];
    size_t rows = d ? sq_shape_count(b->in_shape) / (size_t)d : 0;
    for (size_t r = 0; r < rows; r++) {
        int keep = keep_row(b->in + r * (size_t)d, d, st->mask_value);
        for (long j = 0; j < d; j++)
            b->din[r * (size_t)d + j] = keep ? b->dout[r * (size_t)d + j] : 0.0f;
    }
}

const sq_layer_kind sq_kind_masking = {
    .class_name = "Masking",
    .base_name = "masking",
    .opts = opts,
    .npositional = 1,
    .summary = "masks the time steps whose values all equal mask_value (later RNNs skip them)",
    .shape_rule = "unchanged",
    .example = "input 6 3; add masking; add simplernn 4",
    .state_size = sizeof(masking_state),
    .configure = configure,
    .output_shape = output_shape,
    .forward = forward,
    .backward = backward,
    .mask = mask_rule,
};
