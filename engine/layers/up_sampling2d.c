/* up_sampling2d.c - UpSampling2D (channels_last): rows and cols repeated
 * size[0] and size[1] times ('nearest'), or interpolated ('bilinear').
 *
 * Keras 2.6 runs tf.image.resize to (H*sh, W*sw): nearest and bilinear
 * both with half_pixel_centers. For nearest and whole factors that is a
 * plain repeat (output row o reads row floor((o + 0.5) / sh) = o / sh). For
 * bilinear, output row o samples input row y = (o + 0.5) * (H / (H*sh)) -
 * 0.5, computed in float as TensorFlow does; it interpolates between rows
 * max(floor(y), 0) and min(ceil(y), H - 1) with weight y - floor(y), cols
 * likewise, as top + (bottom - top) * dy of left + (right - left) * dx
 * (TensorFlow's compute_lerp). At the borders both rows are the same, so
 * the edge is held. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "layers/layer.h"
#include "kernels/threads.h"

typedef struct {
    long s[2];        /* factors for rows, cols */
    int bilinear;
} up_state;

/* Keras's constructor order: size, (data_format,) interpolation. */
static const sq_optdef opts[] = {
    { .name = "size", .type = OPT_INTS, .tuple_len = 2, .def = "2", .help = "upsampling factors for rows and cols: 2 or (2, 3)" },
    { .name = "interpolation", .type = OPT_STR, .def = "nearest", .help = "nearest (repeat) or bilinear (TensorFlow's half-pixel resize)" },
    { .name = NULL },
};

static int configure(sq_layer *l, const sq_optval *v, sq_error *err)
{
    up_state *st = l->state;
    memcpy(st->s, v[0].i, sizeof st->s);
    if (st->s[0] <= 0 || st->s[1] <= 0) {
        char bad[64];
        long lo = st->s[0] < st->s[1] ? st->s[0] : st->s[1];
        long hi = st->s[0] < st->s[1] ? st->s[1] : st->s[0];
        if (hi <= 0 && hi != lo)
            snprintf(bad, sizeof bad, "%ld, %ld", lo, hi);
        else
            snprintf(bad, sizeof bad, "%ld", lo);
        return sq_fail(err, "The `size` argument must be a tuple of 2 integers. Received: "
                       "(%ld, %ld) including {%s} that does not satisfy the requirement `> 0`.",
                       st->s[0], st->s[1], bad);
    }
    /* Keras compares the exact strings */
    if (strcmp(v[1].s, "nearest") && strcmp(v[1].s, "bilinear"))
        return sq_fail(err, "`interpolation` argument should be one of `\"nearest\"` or "
                       "`\"bilinear\"`.");
    st->bilinear = !strcmp(v[1].s, "bilinear");
    return 0;
}

static int output_shape(const sq_layer *l, const sq_shape *in, sq_shape *out,
                        sq_error *err)
{
    const up_state *st = l->state;
    if (in->rank != 4)
        return sq_fail_ndim(err, l, 4, in);
    *out = *in;
    for (int a = 0; a < 2; a++) {
        long n = in->d[1 + a];
        if (n > (1L << 40) / st->s[a])
            return sq_fail(err, "UpSampling2D: an input of %ld %s is too large to upsample", n,
                           a ? "cols" : "rows");
        out->d[1 + a] = n < 0 ? -1 : n * st->s[a];
    }
    return 0;
}

/* Where bilinear output cell o of an axis of n input cells samples: the
 * two input cells and the weight of the second. */
typedef struct {
    long lo, hi;
    float t;
} tap;

static tap bilinear_tap(long o, long n, long s)
{
    float scale = (float)n / (float)(n * s);
    float in = ((float)o + 0.5f) * scale - 0.5f;
    float f = floorf(in);
    tap t = { (long)f, (long)ceilf(in), in - f };
    if (t.lo < 0)
        t.lo = 0;
    if (t.hi > n - 1)
        t.hi = n - 1;
    return t;
}

typedef struct {
    const up_state *st;
    long h, w, c, oh, ow;
    const float *in;
    float *out;
    volatile int *intr;
} up_job;

/* Output rows [b, e) of the batch, numbered image by image. */
static void up_range(void *ctx, long b, long e, int tid)
{
    (void)tid;
    const up_job *j = ctx;
    long h = j->h, w = j->w, c = j->c, ow = j->ow;
    size_t in_img = (size_t)(h * w * c);
    for (long u = b; u < e; u++) {
        if (j->intr && *j->intr)
            return;
        long img = u / j->oh, oy = u % j->oh;
        const float *x = j->in + (size_t)img * in_img;
        float *y = j->out + (size_t)u * (size_t)(ow * c);
        if (!j->st->bilinear) {
            const float *src = x + (oy / j->st->s[0]) * w * c;
            for (long ox = 0; ox < ow; ox++)
                memcpy(y + ox * c, src + (ox / j->st->s[1]) * c, (size_t)c * sizeof *y);
            continue;
        }
        tap ty = bilinear_tap(oy, h, j->st->s[0]);
        const float *top = x + ty.lo * w * c, *bot = x + ty.hi * w * c;
        for (long ox = 0; ox < ow; ox++) {
            tap tx = bilinear_tap(ox, w, j->st->s[1]);
            const float *tl = top + tx.lo * c, *tr = top + tx.hi * c;
            const float *bl = bot + tx.lo * c, *br = bot + tx.hi * c;
            float *o = y + ox * c;
            for (long q = 0; q < c; q++) {
                float t0 = tl[q] + (tr[q] - tl[q]) * tx.t;
                float b0 = bl[q] + (br[q] - bl[q]) * tx.t;
                o[q] = t0 + (b0 - t0) * ty.t;
            }
        }
    }
}

static void forward(const sq_layer *l, const sq_fwd *f)
{
    const sq_shape *is = f->in_shape, *os = f->out_shape;
    up_job j = { l->state, is->d[1], is->d[2], is->d[3], os->d[1], os->d[2], f->in, f->out,
                 f->intr };
    long rows = is->d[0] * j.oh;
    if (rows == 0 || j.ow * j.c == 0)
        return;
    /* shares of at least ~256k floats written */
    sq_parallel_for(rows, (1L << 18) / (j.ow * j.c) + 1, up_range, &j);
}

/* Each output cell's gradient goes back to the input cells it read:
 * nearest, the one it repeats; bilinear, the four it mixes, weighted
 * (1-ty)(1-tx), (1-ty)tx, ty(1-tx), ty tx. Images are shared by the pool. */
typedef struct {
    const up_state *st;
    const sq_bwd *b;
    long h, w, c, oh, ow;
} up_bwd_job;

static void up_bwd_range(void *ctx, long b0, long e0, int tid)
{
    (void)tid;
    const up_bwd_job *j = ctx;
    long h = j->h, w = j->w, c = j->c, oh = j->oh, ow = j->ow;
    size_t in_img = (size_t)(h * w * c), out_img = (size_t)(oh * ow * c);
    for (long n = b0; n < e0; n++) {
        float *dx = j->b->din + (size_t)n * in_img;
        const float *dy = j->b->dout + (size_t)n * out_img;
        memset(dx, 0, in_img * sizeof *dx);
        for (long oy = 0; oy < oh; oy++) {
            tap ty = { oy / j->st->s[0], oy / j->st->s[0], 0.0f };
            if (j->st->bilinear)
                ty = bilinear_tap(oy, h, j->st->s[0]);
            for (long ox = 0; ox < ow; ox++) {
                const float *g = dy + (oy * ow + ox) * c;
                tap tx = { ox / j->st->s[1], ox / j->st->s[1], 0.0f };
                if (j->st->bilinear)
                    tx = bilinear_tap(ox, w, j->st->s[1]);
                float *tl = dx + (ty.lo * w + tx.lo) * c, *tr = dx + (ty.lo * w + tx.hi) * c;
                float *bl = dx + (ty.hi * w + tx.lo) * c, *br = dx + (ty.hi * w + tx.hi) * c;
                float wtl = (1 - ty.t) * (1 - tx.t), wtr = (1 - ty.t) * tx.t;
                float wbl = ty.t * (1 - tx.t), wbr = ty.t * tx.t;
                for (long q = 0; q < c; q++) {
                    tl[q] += g[q] * wtl;
                    tr[q] += g[q] * wtr;
                    bl[q] += g[q] * wbl;
                    br[q] += g[q] * wbr;
                }
            }
        }
    }
}

static void backward(const sq_layer *l, const sq_bwd *b)
{
    if (!b->din)
        return;
    const sq_shape *is = b->in_shape, *os = b->out_shape;
    up_bwd_job j = { l->state, b, is->d[1], is->d[2], is->d[3], os->d[1], os->d[2] };
    long per = os->d[1] * os->d[2] * is->d[3] + 1;
    sq_parallel_for(is->d[0], (1L << 16) / per + 1, up_bwd_range, &j);
}

const sq_layer_kind sq_kind_up_sampling2d = {
    .class_name = "UpSampling2D",
    .base_name = "up_sampling2d",
    .opts = opts,
    .npositional = 1,
    .has_activation = 0,
    .summary = "repeats (nearest) or interpolates (bilinear) the rows and cols of (batch, rows, "
               "cols, channels) inputs",
    .state_size = sizeof(up_state),
    .configure = configure,
    .output_shape = output_shape,
    .forward = forward,
    .backward = backward,
    .shape_rule = "(B, H, W, C) -> (B, H*size[0], W*size[1], C); no weights",
    .example = "input 4 5 3; add upsampling2d 2,3 interpolation=bilinear",
};
