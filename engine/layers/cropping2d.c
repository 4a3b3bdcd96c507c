/* cropping2d.c - Cropping2D (channels_last): rows cut at top and bottom,
 * cols at left and right. Its margins are Keras's: an int, (a, b) for a
 * rows at top and bottom and b cols at each side, or ((top, bottom),
 * (left, right)). Cutting more than an axis holds leaves it empty, as
 * Keras's slicing does. Backward pads the gradient with zeros. */
#include <string.h>
#include "layers/layer.h"
#include "layers/spatial2d.h"

typedef struct {
    long m[4];        /* top, bottom, left, right */
} crop_state;

static const sq_optdef opts[] = {
    { .name = "cropping", .type = OPT_STR, .def = "0", .help = "c, (rows, cols) or ((top, bottom), (left, right))" },
    { .name = NULL },
};

static int configure(sq_layer *l, const sq_optval *v, sq_error *err)
{
    crop_state *st = l->state;
    /* a given value is rewritten as ((t,b),(l,r)), so it describes back */
    sq_optval *o = &l->opt[0];
    return sq_parse_margins(v[0].s, "Cropping2D", "cropping", st->m, o->set ? o->s : NULL,
                            sizeof o->s, err);
}

static int output_shape(const sq_layer *l, const sq_shape *in, sq_shape *out,
                        sq_error *err)
{
    const crop_state *st = l->state;
    if (in->rank != 4)
        return sq_fail_ndim(err, l, 4, in);
    *out = *in;
    for (int a = 0; a < 2; a++) {
        long n = in->d[1 + a], left = n - st->m[2 * a] - st->m[2 * a + 1];
        out->d[1 + a] = n < 0 ? -1 : left > 0 ? left : 0;
    }
    return 0;
}

static void forward(const sq_layer *l, const sq_fwd *f)
{
    const crop_state *st = l->state;
    const sq_shape *is = f->in_shape, *os = f->out_shape;
    sq_copy_block(f->in, is->d[1], is->d[2], st->m[0], st->m[2], f->out, os->d[1], os->d[2], 0,
                  0, is->d[0], os->d[1], os->d[2], is->d[3]);
}

static void backward(const sq_layer *l, const sq_bwd *b)
{
    const crop_state *st = l->state;
    const sq_shape *is = b->in_shape, *os = b->out_shape;
    if (!b->din)
        return;
    memset(b->din, 0, sq_shape_count(is) * sizeof *b->din);
    sq_copy_block(b->dout, os->d[1], os->d[2], 0, 0, b->din, is->d[1], is->d[2], st->m[0],
                  st->m[2], is->d[0], os->d[1], os->d[2], is->d[3]);
}

const sq_layer_kind sq_kind_cropping2d = {
    .class_name = "Cropping2D",
    .base_name = "cropping2d",
    .opts = opts,
    .npositional = 1,
    .has_activation = 0,
    .summary = "cuts rows and cols off the sides of (batch, rows, cols, channels) inputs",
    .state_size = sizeof(crop_state),
    .configure = configure,
    .output_shape = output_shape,
    .forward = forward,
    .backward = backward,
    .shape_rule = "(B, H, W, C) -> (B, H - top - bottom, W - left - right, C) (at least 0); c means ((c, c), (c, c)), (a, b) means ((a, a), (b, b)); no weights",
    .example = "input 6 7 2; add cropping2d ((1,2),(2,1))",
};
