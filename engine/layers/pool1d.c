/* pool1d.c - MaxPooling1D and AveragePooling1D (channels_last): windows
 * over the steps of (batch, steps, channels), TensorFlow's SAME padding;
 * padded cells never count (Keras runs the 2-D pooling ops on the input
 * expanded to (batch, steps, 1, channels)). Sequences are shared by the
 * thread pool; the channel loops are left to the compiler to vectorise. */
#include <float.h>
#include <stdio.h>
#include <string.h>
#include "layers/layer.h"
#include "kernels/threads.h"

typedef struct {
    long k;           /* pool size */
    long s;           /* stride */
    int same;         /* padding="same" */
    int max;          /* 1 max, 0 average */
} pool1d_state;

/* Keras's constructor order: pool_size, strides, padding. */
static const sq_optdef opts[] = {
    { .name = "pool_size", .type = OPT_INTS, .tuple_len = 1, .def = "2", .help = "window length" },
    { .name = "strides", .type = OPT_INTS, .tuple_len = 1, .def = "0", .help = "step between windows; default: pool_size" },
    { .name = "padding", .type = OPT_STR, .def = "valid", .help = "valid (no padding) or same (output = ceil(steps / stride))" },
    { .name = NULL },
};

/* conv_utils.normalize_tuple's complaint about entries that are not > 0
 * (as pool2d.c words it). */
static int check_positive(const char *name, long v, sq_error *err)
{
    if (v > 0)
        return 0;
    return sq_fail(err, "The `%s` argument must be a tuple of 1 integers. Received: (%ld,) "
                   "including {%ld} that does not satisfy the requirement `> 0`.", name, v, v);
}

static int configure(sq_layer *l, const sq_optval *v, sq_error *err, int max)
{
    pool1d_state *st = l->state;
    st->max = max;
    st->k = v[0].i[0];
    /* strides=None means pool_size */
    st->s = v[1].set ? v[1].i[0] : st->k;
    if (check_positive("pool_size", st->k, err) < 0 || check_positive("strides", st->s, err) < 0)
        return -1;
    int causal;
    if (sq_parse_padding(v[2].s, &st->same, &causal, err) < 0)
        return -1;
    if (causal)
        return sq_fail(err, "%s: padding \"causal\" is only supported by Conv1D; use \"valid\" "
                       "or \"same\"", l->kind->class_name);
    return 0;
}

static int configure_max(sq_layer *l, const sq_optval *v, sq_error *err)
{
    return configure(l, v, err, 1);
}

static int configure_avg(sq_layer *l, const sq_optval *v, sq_error *err)
{
    return configure(l, v, err, 0);
}

/* TensorFlow's shape-inference error for a window longer than its input:
 * its first sentence, then what the user can do, instead of the graph
 * node TensorFlow prints. */
static int fail_negative(sq_error *err, const sq_layer *l, const pool1d_state *st,
                         const sq_shape *in)
{
    char s[128];
    return sq_fail(err, "Negative dimension size caused by subtracting %ld from %ld: the pool "
                   "of length %ld of %s (%s) does not fit in its input %s; use a smaller "
                   "pool_size, or padding=same", st->k, in->d[1], st->k, l->name,
                   l->kind->class_name, sq_shape_str(in, s, sizeof s));
}

static int output_shape(const sq_layer *l, const sq_shape *in, sq_shape *out,
                        sq_error *err)
{
    const pool1d_state *st = l->state;
    if (in->rank != 3)
        return sq_fail_ndim(err, l, 3, in);
    *out = *in;
    out->d[1] = sq_conv_len(in->d[1], st->k, st->same, st->s, 1);
    if (in->d[1] >= 0 && out->d[1] <= 0)
        return fail_negative(err, l, st, in);
    return 0;
}

typedef struct {
    const pool1d_state *st;
    long t, c, ot, pl;
    const float *in;
    float *out;
    const float *dout;           /* backward only */
    float *din;
    volatile int *intr;
} pool_job;

/* The window of output step o, clipped to the real steps [*i0, *i1). */
static void window(const pool_job *j, long o, long *i0, long *i1)
{
    long a = o * j->st->s - j->pl, b = a + j->st->k;
    *i0 = a < 0 ? 0 : a;
    *i1 = b > j->t ? j->t : b;
}

static void pool_range(void *ctx, long b, long e, int tid)
{
    (void)tid;
    const pool_job *j = ctx;
    long c = j->c;
    int max = j->st->max;
    for (long n = b; n < e; n++) {
        if (j->intr && *j->intr)
            return;  /* the caller throws the output away */
        const float *x = j->in + (size_t)n * (size_t)(j->t * c);
        float *y = j->out + (size_t)n * (size_t)(j->ot * c);
        for (long o = 0; o < j->ot; o++, y += c) {
            long i0, i1;
            window(j, o, &i0, &i1);
            for (long q = 0; q < c; q++)
                y[q] = max ? -FLT_MAX : 0.0f;
            for (long i = i0; i < i1; i++) {
                const float *src = x + i * c;
                if (max) {
                    for (long q = 0; q < c; q++)
                        y[q] = src[q] > y[q] ? src[q] : y[q];
                } else {
                    for (long q = 0; q < c; q++)
                        y[q] += src[q];
                }
            }
            if (!max && i1 > i0) {
                float inv = 1.0f / (float)(i1 - i0);
                for (long q = 0; q < c; q++)
                    y[q] *= inv;
            }
        }
    }
}

static pool_job make_job(const pool1d_state *st, const sq_shape *is, const sq_shape *os)
{
    pool_job j = { .st = st, .t = is->d[1], .c = is->d[2], .ot = os->d[1] };
    j.pl = sq_pad_before(j.t, j.ot, st->k, st->s, st->same);
    return j;
}

static void forward(const sq_layer *l, const sq_fwd *f)
{
    pool_job j = make_job(l->state, f->in_shape, f->out_shape);
    j.in = f->in;
    j.out = f->out;
    j.intr = f->intr;
    /* shares of at least ~256k window reads */
    long per = j.ot * ((const pool1d_state *)l->state)->k * j.c + 1;
    sq_parallel_for(f->in_shape->d[0], (1L << 18) / per + 1, pool_range, &j);
}

/* Max: each output's gradient goes to the step that won its window, the
 * first maximum in order (a later step wins only when strictly greater),
 * as TensorFlow's MaxPoolGrad routes it; padded cells never win. Average:
 * shared equally by the real steps of the window. Overlaps add up. */
static void grad_range(void *ctx, long b, long e, int tid)
{
    (void)tid;
    const pool_job *j = ctx;
    long c = j->c;
    for (long n = b; n < e; n++) {
        const float *x = j->in + (size_t)n * (size_t)(j->t * c);
        float *dx = j->din + (size_t)n * (size_t)(j->t * c);
        const float *dy = j->dout + (size_t)n * (size_t)(j->ot * c);
        memset(dx, 0, (size_t)(j->t * c) * sizeof *dx);
        for (long o = 0; o < j->ot; o++, dy += c) {
            long i0, i1;
            window(j, o, &i0, &i1);
            if (i1 <= i0)
                continue;
            if (!j->st->max) {
                float inv = 1.0f / (float)(i1 - i0);
                for (long i = i0; i < i1; i++)
                    for (long q = 0; q < c; q++)
                        dx[i * c + q] += dy[q] * inv;
                continue;
            }
            for (long q = 0; q < c; q++) {
                long best = i0;
                for (long i = i0 + 1; i < i1; i++)
                    if (x[i * c + q] > x[best * c + q])
                        best = i;
                dx[best * c + q] += dy[q];
            }
        }
    }
}

static void backward(const sq_layer *l, const sq_bwd *b)
{
    if (!b->din)
        return;
    pool_job j = make_job(l->state, b->in_shape, b->out_shape);
    j.in = b->in;
    j.dout = b->dout;
    j.din = b->din;
    long per = j.t * j.c + 1;
    sq_parallel_for(b->in_shape->d[0], (1L << 16) / per + 1, grad_range, &j);
}

/* Windows over the steps; each channel pooled on its own. */
static void explain(const sq_layer *l, const sq_shape *in, const sq_shape *out, sbuf *b)
{
    const pool1d_state *st = l->state;
    sq_explain_window(b, "steps", in->d[1], st->k, st->s, 1, st->same, out->d[1]);
    sq_explain_line(b, "channels", "%ld = %ld  (each channel pooled on its own: the %s of "
                    "each window of %ld steps)", out->d[2], in->d[2],
                    st->max ? "maximum" : "mean", st->k);
    sq_explain_no_params(b);
}

static const char *const max_aliases[] = { "MaxPool1D", NULL };
static const char *const avg_aliases[] = { "AvgPool1D", NULL };

const sq_layer_kind sq_kind_max_pooling1d = {
    .class_name = "MaxPooling1D",
    .base_name = "max_pooling1d",
    .aliases = max_aliases,
    .opts = opts,
    .npositional = 3,
    .summary = "maximum over windows of steps of (batch, steps, channels) inputs",
    .state_size = sizeof(pool1d_state),
    .configure = configure_max,
    .output_shape = output_shape,
    .forward = forward,
    .backward = backward,
    .shape_rule = "(B, T, C) -> (B, T', C); valid: T' = floor((T - k)/s) + 1, same: T' = ceil(T/s); s defaults to k; no params",
    .example = "input 20 4; add maxpooling1d 2",
    .explain = explain,
};

const sq_layer_kind sq_kind_average_pooling1d = {
    .class_name = "AveragePooling1D",
    .base_name = "average_pooling1d",
    .aliases = avg_aliases,
    .opts = opts,
    .npositional = 3,
    .summary = "mean over windows of steps of (batch, steps, channels) inputs",
    .state_size = sizeof(pool1d_state),
    .configure = configure_avg,
    .output_shape = output_shape,
    .forward = forward,
    .backward = backward,
    .shape_rule = "(B, T, C) -> (B, T', C); valid: T' = floor((T - k)/s) + 1, same: T' = ceil(T/s) (padded steps not counted); s defaults to k; no params",
    .example = "input 21 3; add averagepooling1d 3 strides=2 padding=same",
    .explain = explain,
};
