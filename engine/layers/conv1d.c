/* conv1d.c - Conv1D (channels_last): a 2-D convolution of height 1 over
 * (batch, steps, channels). Padding valid, same (TensorFlow's split, the
 * smaller half first) or causal (dilation * (kernel - 1) zeros before the
 * first step, as Keras pads before a valid convolution). Forward runs the
 * direct kernels of conv_kernels.c (bias and relu fused) over pieces of
 * the output rows shared by the thread pool; without a vector unit it
 * falls back to im2col of each sequence and one GEMM, which backward uses
 * too (the approach of conv2d.c, whose helpers are static: the few lines
 * of im2col, col2im and the per-thread partials are written again here
 * for one axis). */
#include <stdio.h>
#include <string.h>
#include "layers/layer.h"
#include "kernels/blas.h"
#include "kernels/conv_kernels.h"
#include "kernels/threads.h"

typedef struct {
    long filters;
    long k;           /* kernel length */
    long s;           /* stride */
    long d;           /* dilation rate */
    int same;         /* padding="same" */
    int causal;       /* padding="causal" */
    int use_bias;
    int fwd_threads;  /* threads scratch made row buffers for */
    int bwd_threads;  /* threads scratch_bwd made room for */
} conv1d_state;

/* Keras's constructor order: filters, kernel_size, strides, padding,
 * (data_format,) dilation_rate, (groups, activation,) use_bias. */
static const sq_optdef opts[] = {
    { .name = "filters", .type = OPT_INT, .help = "number of output channels" },
    { .name = "kernel_size", .type = OPT_INTS, .tuple_len = 1, .help = "window length: 3 or (3,)" },
    { .name = "strides", .type = OPT_INTS, .tuple_len = 1, .def = "1", .help = "step between windows" },
    { .name = "padding", .type = OPT_STR, .def = "valid", .help = "valid (no padding), same (output = ceil(steps / stride)) or causal (zeros before the first step only)" },
    { .name = "dilation_rate", .type = OPT_INTS, .tuple_len = 1, .def = "1", .help = "spacing between kernel taps" },
    { .name = "use_bias", .type = OPT_BOOL, .def = "true", .help = "whether the layer uses a bias vector" },
    { .name = NULL },
};

static int configure(sq_layer *l, const sq_optval *v, sq_error *err)
{
    conv1d_state *st = l->state;
    st->filters = v[0].i[0];
    st->k = v[1].i[0];
    st->s = v[2].i[0];
    st->d = v[4].i[0];
    st->use_bias = (int)v[5].i[0];
    /* Keras's order: filters, padding, then _validate_init's checks */
    if (st->filters < 0)
        return sq_fail(err, "Received a negative value for `filters`.Was expecting a positive "
                       "value, got %ld.", st->filters);
    if (st->filters == 0)
        return sq_fail(err, "Received an invalid value for `filters`, expected a positive "
                       "integer, got 0.");
    if (sq_parse_padding(v[3].s, &st->same, &st->causal, err) < 0)
        return -1;
    if (st->k == 0)
        return sq_fail(err, "The argument `kernel_size` cannot contain 0(s). Received: (0,)");
    if (st->s == 0)
        return sq_fail(err, "The argument `strides` cannot contains 0(s). Received: (0,)");
    if (st->k < 0)
        return sq_fail(err, "The argument `kernel_size` must contain positive integers. "
                       "Received: (%ld,)", st->k);
    if (st->s < 0)
        return sq_fail(err, "The argument `strides` must contain positive integers. "
                       "Received: (%ld,)", st->s);
    if (st->d <= 0)
        return sq_fail(err, "The argument `dilation_rate` must contain positive integers. "
                       "Received: (%ld,)", st->d);
    if (st->s > 1 && st->d > 1)
        return sq_fail(err, "`strides > 1` not supported in conjunction with `dilation_rate > 1`. "
                       "Received: strides=(%ld,) and dilation_rate=(%ld,)", st->s, st->d);
    return 0;
}

/* The dilated kernel's extent. */
static long extent(const conv1d_state *st)
{
    return st->k + (st->k - 1) * (st->d - 1);
}

/* Output steps for t input steps (None stays None). Causal pads
 * extent - 1 zeros in front and runs a valid convolution: ceil(t / s),
 * the same length as "same". */
static long out_len(const conv1d_state *st, long t)
{
    return sq_conv_len(t, st->k, st->same || st->causal, st->s, st->d);
}

/* Zeros before the first step. */
static long pad_left(const conv1d_state *st, long t, long ot)
{
    if (st->causal)
        return extent(st) - 1;
    return sq_pad_before(t, ot, extent(st), st->s, st->same);
}

/* TensorFlow's shape-inference error for a window longer than its input:
 * its first sentence, then what the user can do, instead of the graph
 * node TensorFlow prints. */
static int fail_negative(sq_error *err, const sq_layer *l, const conv1d_state *st,
                         const sq_shape *in)
{
    char s[128];
    sq_shape_str(in, s, sizeof s);
    if (st->d > 1)
        return sq_fail(err, "Negative dimension size caused by subtracting %ld from %ld: the "
                       "kernel of length %ld of %s (Conv1D), with dilation_rate=%ld, spans "
                       "%ld, more than its input %s has; use a smaller kernel_size or "
                       "dilation_rate, or padding=same or causal", extent(st), in->d[1], st->k,
                       l->name, st->d, extent(st), s);
    return sq_fail(err, "Negative dimension size caused by subtracting %ld from %ld: the "
                   "kernel of length %ld of %s (Conv1D) does not fit in its input %s; use a "
                   "smaller kernel_size, or padding=same or causal", extent(st), in->d[1],
                   st->k, l->name, s);
}

static int output_shape(const sq_layer *l, const sq_shape *in, sq_shape *out,
                        sq_error *err)
{
    const conv1d_state *st = l->state;
    char s[128];
    if (in->rank < 3)
        return sq_fail_min_ndim(err, l, 3, in);
    if (in->rank > 3)
        return sq_fail(err, "Input 0 of layer %s: Conv1D in seqsh takes inputs of rank 3 "
                       "(batch, steps, channels) only, found ndim=%d. Full shape "
                       "received: %s", l->name, in->rank, sq_shape_str(in, s, sizeof s));
    if (in->d[2] < 0)
        return sq_fail(err, "The channel dimension of the inputs should be defined. The "
                       "input_shape received is %s, where axis -1 (0-based) is the channel "
                       "dimension, which found to be `None`.", sq_shape_str(in, s, sizeof s));
    *out = *in;
    out->d[1] = out_len(st, in->d[1]);
    if (in->d[1] >= 0 && out->d[1] <= 0)
        return fail_negative(err, l, st, in);
    out->d[2] = st->filters;
    return 0;
}

static int weights(const sq_layer *l, const sq_shape *in, sq_weight_spec *w)
{
    const conv1d_state *st = l->state;
    w[0] = (sq_weight_spec){ "kernel", { 3, { st->k, in->d[2], st->filters } },
                             INIT_GLOROT_UNIFORM, 1 };
    if (!st->use_bias)
        return 1;
    w[1] = (sq_weight_spec){ "bias", { 1, { st->filters } }, INIT_ZEROS, 1 };
    return 2;
}

/* A kernel of one tap with unit stride reads every step once: the input
 * itself is the im2col matrix (every padding is 0 then). */
static int is_pointwise(const conv1d_state *st)
{
    return st->k == 1 && st->s == 1;
}

/* The direct kernels' description of the whole layer on (B, t, c) input
 * (weights at w, which may be NULL for sizing). */
static sq_conv_desc describe(const conv1d_state *st, long t, long c, const float *w)
{
    sq_conv_desc d = {
        .h = 1, .w = t, .c = c, .oh = 1, .ow = out_len(st, t), .f = st->filters,
        .kh = 1, .kw = st->k, .sh = 1, .sw = st->s, .dh = 1, .dw = st->d, .kernel = w,
    };
    d.pl = pad_left(st, t, d.ow);
    d.bias = st->use_bias && w ? w + st->k * c * st->filters : NULL;
    return d;
}

/* Output steps per piece of work: about 2 MFLOP, so waking a thread pays
 * and a long sequence at batch 1 still spreads over the threads. */
static long piece_len(const sq_conv_desc *d)
{
    double per_step = 2.0 * (double)d->f * (double)(d->kw * d->c) + 1.0;
    long n = (long)(2e6 / per_step) + 1;
    return n < d->ow ? n : (d->ow > 0 ? d->ow : 1);
}

static long pieces(const sq_conv_desc *d, long nb)
{
    long per = piece_len(d);
    return nb * ((d->ow + per - 1) / per);
}

/* One sequence's im2col matrix: ot rows of k*C values. */
static size_t im2col_size(const conv1d_state *st, long ot, long c)
{
    return is_pointwise(st) ? 0 : (size_t)ot * (size_t)(st->k * c);
}

/* Direct kernels: the repacked panel of filters and a row buffer per
 * thread; the fallback: an im2col matrix. */
static size_t scratch(const sq_layer *l, const sq_shape *in)
{
    conv1d_state *st = l->state;
    long t = in->d[1], c = in->d[2];
    if (sq_isa_active() == SQ_ISA_C)
        return im2col_size(st, out_len(st, t), c);
    sq_conv_desc d = describe(st, t, c, NULL);
    st->fwd_threads = sq_pool_threads_for(pieces(&d, in->d[0]));
    return sq_conv_scratch(1, st->k, c) + (size_t)st->fwd_threads * sq_conv_rowbuf(&d);
}

typedef struct {
    sq_isa isa;
    const sq_conv_desc *d;       /* the whole layer, prepared */
    long per;                    /* output steps per piece */
    long npiece;                 /* pieces per sequence */
    const float *in;
    float *out;
    volatile int *intr;
    float *rowbufs;              /* one per thread */
    size_t rowbuf;
} conv_job;

/* Pieces [b, e): piece p is output steps [q * per, ...) of sequence
 * p / npiece, q = p % npiece, run as a convolution of its own whose input
 * starts at its first window (or at step 0 with the left padding left). */
static void conv_range(void *ctx, long b, long e, int tid)
{
    const conv_job *j = ctx;
    const sq_conv_desc *d = j->d;
    float *rowbuf = j->rowbuf ? j->rowbufs + (size_t)tid * j->rowbuf : NULL;
    for (long p = b; p < e; p++) {
        if (j->intr && *j->intr)
            return;
        long img = p / j->npiece, o0 = p % j->npiece * j->per;
        long o1 = o0 + j->per < d->ow ? o0 + j->per : d->ow;
        sq_conv_desc dc = *d;
        const float *x = j->in + (size_t)img * (size_t)(d->w * d->c);
        long start = o0 * d->sw - d->pl;
        if (start > 0) {
            x += start * d->c;
            dc.w = d->w - start;
            dc.pl = 0;
        } else {
            dc.pl = -start;
        }
        dc.ow = o1 - o0;
        float *y = j->out + ((size_t)img * (size_t)d->ow + (size_t)o0) * (size_t)d->f;
        sq_conv_rows(j->isa, &dc, x, y, 0, 1, rowbuf);
    }
}

static void forward_direct(const sq_layer *l, const sq_fwd *f, sq_isa isa)
{
    const conv1d_state *st = l->state;
    long nb = f->in_shape->d[0];
    sq_conv_desc d = describe(st, f->in_shape->d[1], f->in_shape->d[2], f->w);
    if (f->act_done && l->act && l->act == sq_activation_find("relu")) {
        d.relu = 1;
        *f->act_done = 1;
    }
    if (nb * d.ow == 0)
        return;
    sq_conv_prepare(isa, &d, f->scratch);
    long per = piece_len(&d);
    conv_job job = { isa, &d, per, (d.ow + per - 1) / per, f->in, f->out, f->intr,
                     f->scratch + sq_conv_scratch(1, st->k, d.c), sq_conv_rowbuf(&d) };
    int nt = st->fwd_threads > 0 ? st->fwd_threads : 1;
    /* shares of at least ~2 MFLOP, when the pieces are whole short rows */
    double piece_flops = 2.0 * (double)per * (double)d.f * (double)(d.kw * d.c) + 1.0;
    sq_parallel_for_upto(nb * job.npiece, (long)(2e6 / piece_flops) + 1, nt, conv_range, &job);
}

/* Rows of k*C taps, one per output step; taps in the padding are 0. */
static void im2col(const conv1d_state *st, const float *x, long t, long c, long ot, long pl,
                   float *col)
{
    long k = st->k, kc = k * c;
    for (long o = 0; o < ot; o++) {
        float *row = col + o * kc;
        long i0 = o * st->s - pl;
        if (st->d == 1 && i0 >= 0 && i0 + k <= t) {
            memcpy(row, x + i0 * c, (size_t)kc * sizeof *row);
            continue;
        }
        for (long tap = 0; tap < k; tap++, row += c) {
            long i = i0 + tap * st->d;
            if (i < 0 || i >= t)
                memset(row, 0, (size_t)c * sizeof *row);
            else
                memcpy(row, x + i * c, (size_t)c * sizeof *row);
        }
    }
}

/* The adjoint of im2col: adds each entry back onto the step it was copied
 * from (padding entries are dropped). x must be zeroed first. */
static void col2im(const conv1d_state *st, const float *col, long t, long c, long ot, long pl,
                   float *x)
{
    long k = st->k;
    for (long o = 0; o < ot; o++) {
        const float *row = col + o * k * c;
        for (long tap = 0; tap < k; tap++, row += c) {
            long i = o * st->s - pl + tap * st->d;
            if (i < 0 || i >= t)
                continue;
            float *dst = x + i * c;
            for (long j = 0; j < c; j++)
                dst[j] += row[j];
        }
    }
}

static void forward(const sq_layer *l, const sq_fwd *f)
{
    const conv1d_state *st = l->state;
    if (f->intr && *f->intr)
        return;
    sq_isa isa = sq_isa_active();
    if (isa != SQ_ISA_C) {
        forward_direct(l, f, isa);
        return;
    }
    const sq_shape *is = f->in_shape;
    long nb = is->d[0], t = is->d[1], c = is->d[2];
    long ot = f->out_shape->d[1], nf = st->filters, kc = st->k * c;
    if (st->use_bias) {
        const float *bias = f->w + kc * nf;
        size_t rows = (size_t)nb * (size_t)ot;
        for (size_t r = 0; r < rows; r++)
            memcpy(f->out + r * (size_t)nf, bias, (size_t)nf * sizeof *bias);
    }
    float beta = st->use_bias ? 1.0f : 0.0f;
    if (is_pointwise(st)) {
        sq_gemm(0, 0, (int)(nb * t), (int)nf, (int)c, 1.0f, f->in, (int)c, f->w, (int)nf,
                beta, f->out, (int)nf);
        return;
    }
    long pl = pad_left(st, t, ot);
    for (long b = 0; b < nb && !(f->intr && *f->intr); b++) {
        im2col(st, f->in + (size_t)b * (size_t)(t * c), t, c, ot, pl, f->scratch);
        sq_gemm(0, 0, (int)ot, (int)nf, (int)kc, 1.0f, f->scratch, (int)kc, f->w, (int)nf,
                beta, f->out + (size_t)b * (size_t)(ot * nf), (int)nf);
    }
}

/* Backward works sequence by sequence, the sequences shared by the
 * threads: each thread has one im2col matrix and its own partial kernel
 * and bias gradients, added up at the end. The input gradient is
 * dout . K^T per sequence, scattered back by col2im. */
static size_t bwd_region(const conv1d_state *st, long ot, long c)
{
    return im2col_size(st, ot, c) + (size_t)(st->k * c * st->filters) + (size_t)st->filters;
}

static size_t scratch_bwd(const sq_layer *l, const sq_shape *in)
{
    conv1d_state *st = l->state;
    if (is_pointwise(st))
        return 0;
    st->bwd_threads = sq_pool_threads_for(in->d[0]);
    return (size_t)st->bwd_threads * bwd_region(st, out_len(st, in->d[1]), in->d[2]);
}

/* acc[j] += sum over rows of a[r * n + j] (the bias gradient) */
static void colsum_add(const float *a, size_t rows, long n, float *acc)
{
    for (size_t r = 0; r < rows; r++)
        for (long j = 0; j < n; j++)
            acc[j] += a[r * (size_t)n + (size_t)j];
}

typedef struct {
    const conv1d_state *st;
    const sq_bwd *b;
    long t, c, ot, pl;
    float *scratch;
    size_t region;
    int used[SQ_MAX_THREADS];    /* thread t's partials hold something */
} bwd_job;

static void bwd_seqs(void *ctx, long b0, long e0, int tid)
{
    bwd_job *j = ctx;
    const conv1d_state *st = j->st;
    const sq_bwd *b = j->b;
    long nf = st->filters, kc = st->k * j->c;
    size_t seq = (size_t)(j->t * j->c);
    float *col = j->scratch + (size_t)tid * j->region;
    float *pdw = col + (size_t)j->ot * (size_t)kc, *pdb = pdw + kc * nf;
    for (long n = b0; n < e0; n++) {
        const float *dy = b->dout + (size_t)n * (size_t)(j->ot * nf);
        if (b->dw) {
            if (!j->used[tid])
                memset(pdb, 0, (size_t)nf * sizeof *pdb);
            im2col(st, b->in + (size_t)n * seq, j->t, j->c, j->ot, j->pl, col);
            sq_gemm(1, 0, (int)kc, (int)nf, (int)j->ot, 1.0f, col, (int)kc, dy, (int)nf,
                    j->used[tid] ? 1.0f : 0.0f, pdw, (int)nf);
            colsum_add(dy, (size_t)j->ot, nf, pdb);
            j->used[tid] = 1;
        }
        if (b->din) {
            float *dx = b->din + (size_t)n * seq;
            sq_gemm(0, 1, (int)j->ot, (int)kc, (int)nf, 1.0f, dy, (int)nf, b->w, (int)nf,
                    0.0f, col, (int)kc);
            memset(dx, 0, seq * sizeof *dx);
            col2im(st, col, j->t, j->c, j->ot, j->pl, dx);
        }
    }
}

static void backward(const sq_layer *l, const sq_bwd *b)
{
    const conv1d_state *st = l->state;
    const sq_shape *is = b->in_shape;
    long nb = is->d[0], t = is->d[1], c = is->d[2];
    long ot = b->out_shape->d[1], nf = st->filters, kc = st->k * c;
    size_t rows = (size_t)nb * (size_t)ot, nw = (size_t)(kc * nf);
    float *db = b->dw && st->use_bias ? b->dw + nw : NULL;
    if (is_pointwise(st)) {
        /* the input is its own im2col matrix: one GEMM each */
        if (db) {
            memset(db, 0, (size_t)nf * sizeof *db);
            colsum_add(b->dout, rows, nf, db);
        }
        if (b->dw)
            sq_gemm(1, 0, (int)c, (int)nf, (int)rows, 1.0f, b->in, (int)c, b->dout, (int)nf,
                    0.0f, b->dw, (int)nf);
        if (b->din)
            sq_gemm(0, 1, (int)rows, (int)c, (int)nf, 1.0f, b->dout, (int)nf, b->w, (int)nf,
                    0.0f, b->din, (int)c);
        return;
    }
    if (!b->dw && !b->din)
        return;
    int nt = st->bwd_threads > 0 ? st->bwd_threads : 1;
    bwd_job job = { st, b, t, c, ot, pad_left(st, t, ot), b->scratch, bwd_region(st, ot, c),
                    { 0 } };
    sq_parallel_for_upto(nb, 1, nt, bwd_seqs, &job);
    if (!b->dw)
        return;
    /* the partials add up to dK and dbias */
    int first = 1;
    for (int th = 0; th < nt; th++) {
        if (!job.used[th])
            continue;
        const float *pdw = b->scratch + (size_t)th * job.region + (size_t)ot * (size_t)kc;
        const float *pdb = pdw + nw;
        if (first) {
            memcpy(b->dw, pdw, nw * sizeof *pdw);
            if (db)
                memcpy(db, pdb, (size_t)nf * sizeof *pdb);
            first = 0;
            continue;
        }
        for (size_t i = 0; i < nw; i++)
            b->dw[i] += pdw[i];
        if (db)
            for (long f = 0; f < nf; f++)
                db[f] += pdb[f];
    }
    if (first) {
        /* an empty batch */
        memset(b->dw, 0, nw * sizeof *b->dw);
        if (db)
            memset(db, 0, (size_t)nf * sizeof *db);
    }
}

static void explain(const sq_layer *l, const sq_shape *in, const sq_shape *out, sbuf *b)
{
    const conv1d_state *st = l->state;
    long dk = extent(st), c = in->d[2];
    if (!st->causal)
        sq_explain_window(b, "steps", in->d[1], st->k, st->s, st->d, st->same, out->d[1]);
    else if (st->s == 1)
        sq_explain_line(b, "steps", "%ld = %ld  (causal padding: %ld zeros before the first "
                        "step, so no output sees a later step)", out->d[1], in->d[1], dk - 1);
    else
        sq_explain_line(b, "steps", "%ld = ceil(%ld / %ld)  (causal padding: %ld zeros before "
                        "the first step, a window every %ld)", out->d[1], in->d[1], st->s,
                        dk - 1, st->s);
    sq_explain_line(b, "channels", "%ld = filters", st->filters);
    if (st->use_bias)
        sq_explain_line(b, "params", "%zu = (%ld*%ld + 1) * %ld  (a %ldx%ld kernel and a bias "
                        "for each of the %ld filters)", l->param_count, st->k, c, st->filters,
                        st->k, c, st->filters);
    else
        sq_explain_line(b, "params", "%zu = %ld*%ld * %ld  (a %ldx%ld kernel for each of the "
                        "%ld filters)", l->param_count, st->k, c, st->filters, st->k, c,
                        st->filters);
}

static size_t macs(const sq_layer *l, const sq_shape *in, const sq_shape *out, sbuf *why)
{
    const conv1d_state *st = l->state;
    char t[64];
    snprintf(t, sizeof t, "%ld*%ld", st->k, in->d[2]);
    return sq_macs_dot(out, (size_t)(st->k * in->d[2]), t, why);
}

static const char *const aliases[] = { "Convolution1D", NULL };

const sq_layer_kind sq_kind_conv1d = {
    .class_name = "Conv1D",
    .base_name = "conv1d",
    .aliases = aliases,
    .opts = opts,
    .npositional = 2,
    .has_activation = 1,
    .summary = "1-D convolution over the steps of (batch, steps, channels) inputs",
    .state_size = sizeof(conv1d_state),
    .configure = configure,
    .output_shape = output_shape,
    .weights = weights,
    .scratch = scratch,
    .forward = forward,
    .scratch_bwd = scratch_bwd,
    .backward = backward,
    .shape_rule = "(B, T, C) -> (B, T', filters); valid: T' = floor((T - dk)/s) + 1, same and causal: T' = ceil(T/s), dk = k + (k-1)(d-1); causal pads dk - 1 zeros before the first step; params k*C*filters + filters",
    .example = "input 100 8; add conv1d 16 5 padding=causal dilation_rate=2 relu",
    .explain = explain,
    .macs = macs,
};
