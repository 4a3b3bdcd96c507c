/* conv2d_transpose.c - Conv2DTranspose (channels_last) with Keras 2.6's
 * geometry: the output is n*s long for 'same' and n*s + max(dk - s, 0) for
 * 'valid' (deconv_output_length; with output_padding, (n-1)*s + dk - 2*pad
 * + output_padding), and TensorFlow places the full transposed
 * convolution, (n-1)*s + dk long, at the offset the matching forward
 * convolution's SAME padding gives: max((n-1)*s + dk - L, 0)/2 cells
 * cut from its start ('valid': none); what it does not reach is the bias
 * alone. Input pixel i's tap t lands on output i*s + t*d - offset.
 *
 * Forward: per block of input rows, one GEMM makes every pixel's
 * contribution to each tap (pixels x (kh*kw*filters)), scattered onto the
 * output. Backward gathers the output gradient the same way and takes din
 * and the kernel gradient as two GEMMs. The kernel is Keras's
 * (kh, kw, filters, in), read as a (kh*kw*filters) x in matrix. */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "layers/layer.h"
#include "layers/spatial2d.h"
#include "kernels/blas.h"

/* Most floats of the per-block column matrix (4 MB). */
#define COLS_CAP ((size_t)1 << 20)

typedef struct {
    long filters;
    long k[2];        /* kernel rows, cols */
    long s[2];        /* strides */
    long d[2];        /* dilation rates */
    long op[2];       /* output_padding, -1 each for None */
    int same;         /* padding="same" */
    int use_bias;
} tconv_state;

/* Keras's constructor order: filters, kernel_size, strides, padding,
 * output_padding, (data_format,) dilation_rate, activation, use_bias. */
static const sq_optdef opts[] = {
    { .name = "filters", .type = OPT_INT, .help = "number of output channels" },
    { .name = "kernel_size", .type = OPT_INTS, .tuple_len = 2, .help = "window size: 3 or (3, 5)" },
    { .name = "strides", .type = OPT_INTS, .tuple_len = 2, .def = "1", .help = "upsampling step: 1 or (2, 2)" },
    { .name = "padding", .type = OPT_STR, .def = "valid", .help = "valid (output = n*s + max(dk - s, 0)) or same (output = n*s)" },
    { .name = "output_padding", .type = OPT_STR, .def = "None", .help = "extra rows/cols at the end: an int or (int, int) below strides; None infers the output size" },
    { .name = "dilation_rate", .type = OPT_INTS, .tuple_len = 2, .def = "1", .help = "spacing between kernel taps (equal in both axes)" },
    { .name = "use_bias", .type = OPT_BOOL, .def = "true", .help = "whether the layer uses a bias vector" },
    { .name = NULL },
};

/* output_padding: "None", an int or a 2-tuple; rewrites a given value as
 * "(a,b)" so that it describes back to the same. */
static int parse_output_padding(sq_optval *v, long *op, sq_error *err)
{
    op[0] = op[1] = -1;
    if (!strcasecmp(v->s, "None"))
        return 0;
    long t[3];
    int n;
    sq_error e2;
    if (sq_parse_ints(v->s, t, 3, &n, &e2) < 0)
        return sq_fail(err, "Conv2DTranspose: `output_padding` must be None, an integer or a "
                       "tuple of 2 integers, got '%s'", v->s);
    if (n == 1)
        t[1] = t[0];
    else if (n != 2)
        return sq_fail(err, "The `output_padding` argument must be a tuple of 2 integers. "
                       "Received: %s", v->s);
    if (t[0] < 0 || t[1] < 0)
        return sq_fail(err, "Conv2DTranspose: `output_padding` must not be negative, got "
                       "(%ld, %ld)", t[0], t[1]);
    op[0] = t[0];
    op[1] = t[1];
    if (v->set)
        snprintf(v->s, sizeof v->s, "(%ld,%ld)", t[0], t[1]);
    return 0;
}

static int configure(sq_layer *l, const sq_optval *v, sq_error *err)
{
    tconv_state *st = l->state;
    char a[64], b[64];
    st->filters = v[0].i[0];
    memcpy(st->k, v[1].i, sizeof st->k);
    memcpy(st->s, v[2].i, sizeof st->s);
    memcpy(st->d, v[5].i, sizeof st->d);
    st->use_bias = (int)v[6].i[0];
    if (sq_conv_validate(st->filters, st->k, st->s, st->d, v[3].s, &st->same, err) < 0)
        return -1;
    /* configure gets the layer's own option values: the text is rewritten */
    if (parse_output_padding(&l->opt[4], st->op, err) < 0)
        return -1;
    if (st->op[0] >= 0 && (st->op[0] >= st->s[0] || st->op[1] >= st->s[1]))
        return sq_fail(err, "Stride %s must be greater than output padding %s",
                       sq_pair_str(st->s, a, sizeof a), sq_pair_str(st->op, b, sizeof b));
    if (st->d[0] != st->d[1])
        return sq_fail(err, "Conv2DTranspose: `dilation_rate` must be the same for rows and cols "
                       "(Keras's conv2d_transpose asserts dilation_rate[0] == dilation_rate[1]); "
                       "got %s", sq_pair_str(st->d, a, sizeof a));
    return 0;
}

/* One axis's geometry: input n cells, output len, and the cells cut from
 * the start of the full transposed convolution. */
typedef struct {
    long n, k, s, d, dk, len, off;
} axis;

static axis axis_of(const tconv_state *st, int a, long n)
{
    axis x = { n, st->k[a], st->s[a], st->d[a], 0, -1, 0 };
    x.dk = x.k + (x.k - 1) * (x.d - 1);
    if (n < 0)
        return x;
    if (st->op[a] < 0)
        x.len = st->same ? n * x.s : n * x.s + (x.dk > x.s ? x.dk - x.s : 0);
    else
        x.len = (n - 1) * x.s + x.dk - 2 * (st->same ? x.dk / 2 : 0) + st->op[a];
    if (st->same) {
        long total = (n - 1) * x.s + x.dk - x.len;
        x.off = total > 0 ? total / 2 : 0;
    }
    return x;
}

static int output_shape(const sq_layer *l, const sq_shape *in, sq_shape *out,
                        sq_error *err)
{
    const tconv_state *st = l->state;
    char s[128];
    if (in->rank < 4)
        return sq_fail_min_ndim(err, l, 4, in);
    if (in->rank > 4)
        return sq_fail(err, "Inputs should have rank 4. Received input shape: %s",
                       sq_shape_str(in, s, sizeof s));
    if (in->d[3] < 0)
        return sq_fail(err, "The channel dimension of the inputs should be defined. Found `None`.");
    *out = *in;
    for (int a = 0; a < 2; a++) {
        long n = in->d[1 + a];
        if (n > (1L << 40) / st->s[a])
            return sq_fail(err, "Conv2DTranspose: an input of %ld %s is too large to upsample",
                           n, a ? "cols" : "rows");
        axis x = axis_of(st, a, n);
        if (n > 0 && st->same && st->op[a] >= 0 && x.len <= (n - 1) * x.s)
            return sq_fail(err, "Conv2DTranspose: output_padding=%ld with padding='same' and a "
                           "kernel of %ld gives %ld %s for %ld, which TensorFlow's "
                           "conv2d_transpose refuses (it needs ceil(output / strides) == input)",
                           st->op[a], x.dk, x.len, a ? "cols" : "rows", n);
        out->d[1 + a] = x.len;
    }
    out->d[3] = st->filters;
    return 0;
}

static int weights(const sq_layer *l, const sq_shape *in, sq_weight_spec *w)
{
    const tconv_state *st = l->state;
    w[0] = (sq_weight_spec){ "kernel", { 4, { st->k[0], st->k[1], st->filters, in->d[3] } },
                             INIT_GLOROT_UNIFORM, 1 };
    if (!st->use_bias)
        return 1;
    w[1] = (sq_weight_spec){ "bias", { 1, { st->filters } }, INIT_ZEROS, 1 };
    return 2;
}

/* Input rows per block, so that a block's column matrix stays below
 * COLS_CAP floats (at least one row). */
static long block_rows(const tconv_state *st, long w, long h)
{
    size_t per_row = (size_t)w * (size_t)(st->k[0] * st->k[1] * st->filters);
    long rb = per_row ? (long)(COLS_CAP / per_row) : h;
    if (rb < 1)
        rb = 1;
    return rb < h ? rb : (h > 0 ? h : 1);
}

/* One block's column matrix. */
static size_t cols_size(const sq_layer *l, const sq_shape *in)
{
    const tconv_state *st = l->state;
    long rb = block_rows(st, in->d[2], in->d[1]);
    return (size_t)rb * (size_t)in->d[2] * (size_t)(st->k[0] * st->k[1] * st->filters);
}

/* The geometry of one image. */
typedef struct {
    long h, w, c, f, kh, kw;
    axis ay, ax;
} geom;

static geom geom_of(const tconv_state *st, const sq_shape *in)
{
    geom g = { in->d[1], in->d[2], in->d[3], st->filters, st->k[0], st->k[1],
               axis_of(st, 0, in->d[1]), axis_of(st, 1, in->d[2]) };
    return g;
}

/* Adds (scatter) or fetches (gather) the column entries of input rows
 * [iy0, iy0 + rows) against output image y: entry (pixel, ky, kx, f) is
 * output cell (iy*s + ky*d - off, ix*s + kx*d - off), channel f. Gather
 * sets the entries whose cell lies outside the output to 0. */
static void scatter_gather(const geom *g, float *col, float *y, long iy0, long rows, int gather)
{
    long R = g->kh * g->kw * g->f;
    for (long r = 0; r < rows; r++) {
        long iy = iy0 + r;
        for (long ix = 0; ix < g->w; ix++) {
            float *row = col + (r * g->w + ix) * R;
            for (long ky = 0; ky < g->kh; ky++) {
                long oy = iy * g->ay.s + ky * g->ay.d - g->ay.off;
                int yin = oy >= 0 && oy < g->ay.len;
                for (long kx = 0; kx < g->kw; kx++) {
                    float *e = row + (ky * g->kw + kx) * g->f;
                    long ox = ix * g->ax.s + kx * g->ax.d - g->ax.off;
                    if (!yin || ox < 0 || ox >= g->ax.len) {
                        if (gather)
                            memset(e, 0, (size_t)g->f * sizeof *e);
                        continue;
                    }
                    float *o = y + (oy * g->ax.len + ox) * g->f;
                    if (gather)
                        memcpy(e, o, (size_t)g->f * sizeof *e);
                    else
                        for (long q = 0; q < g->f; q++)
                            o[q] += e[q];
                }
            }
        }
    }
}

static void forward(const sq_layer *l, const sq_fwd *f)
{
    const tconv_state *st = l->state;
    geom g = geom_of(st, f->in_shape);
    long nb = f->in_shape->d[0], R = g.kh * g.kw * g.f;
    size_t in_img = (size_t)(g.h * g.w * g.c), out_pix = (size_t)(g.ay.len * g.ax.len);
    const float *bias = f->w + R * g.c;
    long rb = block_rows(st, g.w, g.h);
    for (long b = 0; b < nb; b++) {
        if (f->intr && *f->intr)
            return;
        float *y = f->out + (size_t)b * out_pix * (size_t)g.f;
        for (size_t p = 0; p < out_pix; p++) {
            if (st->use_bias)
                memcpy(y + p * (size_t)g.f, bias, (size_t)g.f * sizeof *y);
            else
                memset(y + p * (size_t)g.f, 0, (size_t)g.f * sizeof *y);
        }
        for (long iy = 0; iy < g.h; iy += rb) {
            if (f->intr && *f->intr)
                return;  /* the caller throws the output away */
            long rows = g.h - iy < rb ? g.h - iy : rb;
            const float *x = f->in + (size_t)b * in_img + (size_t)(iy * g.w * g.c);
            sq_gemm(0, 1, (int)(rows * g.w), (int)R, (int)g.c, 1.0f, x, (int)g.c, f->w, (int)g.c,
                    0.0f, f->scratch, (int)R);
            scatter_gather(&g, f->scratch, y, iy, rows, 0);
        }
    }
}

static void backward(const sq_layer *l, const sq_bwd *b)
{
    const tconv_state *st = l->state;
    geom g = geom_of(st, b->in_shape);
    long nb = b->in_shape->d[0], R = g.kh * g.kw * g.f;
    size_t in_img = (size_t)(g.h * g.w * g.c), out_pix = (size_t)(g.ay.len * g.ax.len);
    float *dk = b->dw, *db = b->dw && st->use_bias ? b->dw + R * g.c : NULL;
    long rb = block_rows(st, g.w, g.h);
    if (dk)
        memset(dk, 0, (size_t)(R * g.c) * sizeof *dk);
    if (db)
        memset(db, 0, (size_t)g.f * sizeof *db);
    for (long n = 0; n < nb; n++) {
        float *dy = (float *)b->dout + (size_t)n * out_pix * (size_t)g.f;
        if (db)
            for (size_t p = 0; p < out_pix; p++)
                for (long q = 0; q < g.f; q++)
                    db[q] += dy[p * (size_t)g.f + (size_t)q];
        for (long iy = 0; iy < g.h; iy += rb) {
            long rows = g.h - iy < rb ? g.h - iy : rb, m = rows * g.w;
            size_t at = (size_t)n * in_img + (size_t)(iy * g.w * g.c);
            scatter_gather(&g, b->scratch, dy, iy, rows, 1);
            if (b->din)
                sq_gemm(0, 0, (int)m, (int)g.c, (int)R, 1.0f, b->scratch, (int)R, b->w, (int)g.c,
                        0.0f, b->din + at, (int)g.c);
            if (dk)
                sq_gemm(1, 0, (int)R, (int)g.c, (int)m, 1.0f, b->scratch, (int)R, b->in + at,
                        (int)g.c, 1.0f, dk, (int)g.c);
        }
    }
}

static const char *const aliases[] = { "Convolution2DTranspose", NULL };

/* Every input value times every tap of the kernel for every filter (the
 * products spread over the output, some cropped away by the padding). */
static size_t macs(const sq_layer *l, const sq_shape *in, const sq_shape *out, sbuf *why)
{
    (void)out;
    const tconv_state *st = l->state;
    if (in->d[1] <= 0 || in->d[2] <= 0) {
        if (why)
            sb_printf(why, "0  (the input's size is not known)");
        return 0;
    }
    size_t total = (size_t)in->d[1] * (size_t)in->d[2] * (size_t)in->d[3] * (size_t)st->k[0]
                 * (size_t)st->k[1] * (size_t)st->filters;
    if (why)
        sb_printf(why, "%zu = %ld*%ld*%ld * %ld*%ld*%ld  (each input value times each of the "
                  "kernel's %ldx%ld taps for each of the %ld filters)", total, in->d[1], in->d[2],
                  in->d[3], st->k[0], st->k[1], st->filters, st->k[0], st->k[1], st->filters);
    return total;
}

const sq_layer_kind sq_kind_conv2d_transpose = {
    .class_name = "Conv2DTranspose",
    .base_name = "conv2d_transpose",
    .aliases = aliases,
    .opts = opts,
    .npositional = 5,
    .has_activation = 1,
    .summary = "transposed 2-D convolution (\"deconvolution\"): upsamples (batch, rows, cols, "
               "channels) inputs",
    .state_size = sizeof(tconv_state),
    .configure = configure,
    .output_shape = output_shape,
    .weights = weights,
    .macs = macs,
    .scratch = cols_size,
    .forward = forward,
    .scratch_bwd = cols_size,
    .backward = backward,
    .shape_rule = "(B, H, W, C) -> (B, H', W', filters); same: H' = H*s, valid: H' = H*s + max(dk - s, 0), with output_padding p: (H-1)*s + dk - 2*(same ? dk//2 : 0) + p, dk = k + (k-1)(d-1); kernel (kh, kw, filters, C); params kh*kw*filters*C + filters",
    .example = "input 7 7 16; add conv2dtranspose 8 3 strides=2 padding=same relu",
};
