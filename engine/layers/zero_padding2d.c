/* zero_padding2d.c - ZeroPadding2D (channels_last): rows of zeros above and
 * below, cols of zeros left and right. Its margins are Keras's: an int, (a,
 * b) for a rows at top and bottom and b cols at each side, or ((top,
 * bottom), (left, right)). Backward crops the gradient. */
#include <string.h>
#include "layers/layer.h"
#include "layers/spatial2d.h"

typedef struct {
    long m[4];        /* top, bottom, left, right */
} zpad_state;

static const sq_optdef opts[] = {
    { .name = "padding", .type = OPT_STR, .def = "1", .help = "p, (rows, cols) or ((top, bottom), (left, right))" },
    { .name = NULL },
};

static int configure(sq_layer *l, const sq_optval *v, sq_error *err)
{
    zpad_state *st = l->state;
    /* a given value is rewritten as ((t,b),(l,r)), so it describes back */
    sq_optval *o = &l->opt[0];
    return sq_parse_margins(v[0].s, "ZeroPadding2D", "padding", st->m, o->set ? o->s : NULL,
                            sizeof o->s, err);
}

static int output_shape(const sq_layer *l, const sq_shape *in, sq_shape *out,
                        sq_error *err)
{
    const zpad_state *st = l->state;
    if (in->rank != 4)
        return sq_fail_ndim(err, l, 4, in);
    *out = *in;
    for (int a = 0; a < 2; a++) {
        long n = in->d[1 + a];
        out->d[1 + a] = n < 0 ? -1 : n + st->m[2 * a] + st->m[2 * a + 1];
    }
    return 0;
}

static void forward(const sq_layer *l, const sq_fwd *f)
{
    const zpad_state *st = l->state;
    const sq_shape *is = f->in_shape, *os = f->out_shape;
    memset(f->out, 0, sq_shape_count(os) * sizeof *f->out);
    sq_copy_block(f->in, is->d[1], is->d[2], 0, 0, f->out, os->d[1], os->d[2], st->m[0],
                  st->m[2], is->d[0], is->d[1], is->d[2], is->d[3]);
}

static void backward(const sq_layer *l, const sq_bwd *b)
{
    const zpad_state *st = l->state;
    const sq_shape *is = b->in_shape, *os = b->out_shape;
    if (!b->din)
        return;
    sq_copy_block(b->dout, os->d[1], os->d[2], st->m[0], st->m[2], b->din, is->d[1], is->d[2],
                  0, 0, is->d[0], is->d[1], is->d[2], is->d[3]);
}

const sq_layer_kind sq_kind_zero_padding2d = {
    .class_name = "ZeroPadding2D",
    .base_name = "zero_padding2d",
    .opts = opts,
    .npositional = 1,
    .has_activation = 0,
    .summary = "adds rows and cols of zeros around (batch, rows, cols, channels) inputs",
    .state_size = sizeof(zpad_state),
    .configure = configure,
    .output_shape = output_shape,
    .forward = forward,
    .backward = backward,
    .shape_rule = "(B, H, W, C) -> (B, H + top + bottom, W + left + right, C); p means ((p, p), (p, p)), (a, b) means ((a, a), (b, b)); no weights",
    .example = "input 5 6 2; add zeropadding2d ((1,2),(0,3))",
};
