/* batchnorm.c - BatchNormalization on the last axis. Inference (and frozen
 * layers): y = gamma * (x - moving_mean) / sqrt(moving_variance + epsilon)
 * + beta; training: the batch's own statistics, moving ones updated. */
#include <math.h>
#include <string.h>
#include "layers/layer.h"

typedef struct {
    long axis;        /* as given; only the last axis is supported */
    double momentum;  /* for the moving statistics */
    double epsilon;
    int center;       /* has beta */
    int scale;        /* has gamma */
} bn_state;

static const sq_optdef opts[] = {
    { .name = "axis", .type = OPT_INT, .def = "-1", .help = "the features axis; only -1 (the last) is supported" },
    { .name = "momentum", .type = OPT_FLOAT, .def = "0.99", .help = "momentum of the moving mean and variance" },
    { .name = "epsilon", .type = OPT_FLOAT, .def = "0.001", .help = "small number added to the variance" },
    { .name = "center", .type = OPT_BOOL, .def = "true", .help = "whether to add the offset beta" },
    { .name = "scale", .type = OPT_BOOL, .def = "true", .help = "whether to multiply by gamma" },
    { .name = NULL },
};

static int configure(sq_layer *l, const sq_optval *v, sq_error *err)
{
    bn_state *st = l->state;
    (void)err;
    st->axis = v[0].i[0];
    st->momentum = v[1].f;
    st->epsilon = v[2].f;
    st->center = (int)v[3].i[0];
    st->scale = (int)v[4].i[0];
    return 0;
}

static int output_shape(const sq_layer *l, const sq_shape *in, sq_shape *out,
                        sq_error *err)
{
    const bn_state *st = l->state;
    char s[128];
    long ax = st->axis < 0 ? in->rank + st->axis : st->axis;
    if (ax < 0 || ax >= in->rank)
        return sq_fail(err, "Invalid axis: [%ld]", ax);
    if (in->d[ax] < 0)
        return sq_fail(err, "Input has undefined `axis` dimension. Received input with shape "
                       "%s. Axis value: [%ld]", sq_shape_str(in, s, sizeof s), ax);
    if (ax == 0 || ax != in->rank - 1)
        return sq_fail(err, "BatchNormalization in seqsh normalises the last axis of inputs of "
                       "rank >= 2 only: only axis=-1 is supported (got axis=%ld for input "
                       "shape %s)", st->axis, sq_shape_str(in, s, sizeof s));
    *out = *in;
    return 0;
}

static int weights(const sq_layer *l, const sq_shape *in, sq_weight_spec *w)
{
    const bn_state *st = l->state;
    sq_shape c = { 1, { in->d[in->rank - 1] } };
    int n = 0;
    if (st->scale)
        w[n++] = (sq_weight_spec){ "gamma", c, INIT_ONES, 1 };
    if (st->center)
        w[n++] = (sq_weight_spec){ "beta", c, INIT_ZEROS, 1 };
    w[n++] = (sq_weight_spec){ "moving_mean", c, INIT_ZEROS, 0 };
    w[n++] = (sq_weight_spec){ "moving_variance", c, INIT_ONES, 0 };
    return n;
}

/* Per-channel multiplier and offset (training: multiplier and batch mean). */
static size_t scratch(const sq_layer *l, const sq_shape *in)
{
    (void)l;
    return 2 * (size_t)in->d[in->rank - 1];
}

/* Kept for backward: a flag (1 when the batch's own statistics were used),
 * then the per-channel mean and 1/sqrt(variance + epsilon) that normalised
 * the input; backward recomputes x_hat = (x - mean) * invstd from its input. */
static size_t cache(const sq_layer *l, const sq_shape *in)
{
    (void)l;
    return 1 + 2 * (size_t)in->d[in->rank - 1];
}

/* Channels are processed in blocks so per-channel sums can be kept in
 * double on the stack while the rows are read in memory order. */
#define BN_BLOCK 256

/* The weights in the order weights() lists them; absent ones are NULL. */
typedef struct {
    const float *gamma, *beta, *mean, *var;
} bn_weights;

static bn_weights split_weights(const bn_state *st, const float *w, long c)
{
    bn_weights p;
    p.gamma = st->scale ? w : NULL;
    w += st->scale ? c : 0;
    p.beta = st->center ? w : NULL;
    w += st->center ? c : 0;
    p.mean = w;
    p.var = w + c;
    return p;
}

/* Training mode: normalise by the batch's mean and biased variance over every
 * axis but the last, and move the moving statistics toward them:
 *     moving = moving * momentum + batch_statistic * (1 - momentum).
 * The variance used for moving_variance is the biased (divide-by-N) batch
 * variance for every input rank. Keras 2.6 takes two paths -- fused for 4-D
 * (and 5-D) inputs, tf.nn.moments otherwise -- but they agree here:
 * tf.nn.fused_batch_norm's running variance uses the Bessel-corrected batch
 * variance, and BatchNormalization._fused_batch_norm compensates by handing
 * it moving_variance * N/(N-1) and multiplying what comes back by (N-1)/N
 * ("Remove Bessel's correction to be consistent with non-fused batch norm";
 * _maybe_add_or_remove_bessels_correction in keras/layers/normalization/
 * batch_normalization.py), which leaves
 *     moving_variance * momentum + var_biased * (1 - momentum).
 * Normalisation itself always uses the biased variance, as both paths do. */
static void forward_batch(const bn_state *st, const sq_fwd *f, long c, size_t rows)
{
    bn_weights p = split_weights(st, f->w, c);
    float *mul = f->scratch, *mean = f->scratch + c;
    /* the moving statistics, writable (after gamma and beta when present) */
    float *mm = f->w_train ? f->w_train + (p.mean - f->w) : NULL;
    float *mv = mm ? mm + c : NULL;
    double n = (double)rows;
    for (long j0 = 0; j0 < c; j0 += BN_BLOCK) {
        long nj = c - j0 < BN_BLOCK ? c - j0 : BN_BLOCK;
        /* the row count rides along as the last entry, for the sums across
         * processes (SyncBatchNormalization) */
        double sum[BN_BLOCK + 1] = { 0 }, sq[BN_BLOCK + 1] = { 0 };
        const float *x = f->in + j0;
        for (size_t r = 0; r < rows; r++, x += c)
            for (long j = 0; j < nj; j++)
                sum[j] += x[j];
        sum[nj] = (double)rows;
        if (f->sum)
            f->sum(sum, (size_t)nj + 1);
        n = sum[nj];
        for (long j = 0; j < nj; j++)
            sum[j] = n > 0 ? sum[j] / n : 0.0;
        x = f->in + j0;
        for (size_t r = 0; r < rows; r++, x += c)
            for (long j = 0; j < nj; j++) {
                double d = x[j] - sum[j];
                sq[j] += d * d;
            }
        if (f->sum)
            f->sum(sq, (size_t)nj);
        for (long j = 0; j < nj; j++) {
            long k = j0 + j;
            double var = n > 0 ? sq[j] / n : 0.0;
            double a = 1.0 / sqrt(var + st->epsilon);
            mean[k] = (float)sum[j];
            mul[k] = (float)(p.gamma ? a * p.gamma[k] : a);
            if (f->cache) {
                f->cache[1 + k] = mean[k];
                f->cache[1 + c + k] = (float)a;
            }
            if (mm && n > 0) {
                mm[k] = (float)(mm[k] * st->momentum + sum[j] * (1.0 - st->momentum));
                mv[k] = (float)(mv[k] * st->momentum + var * (1.0 - st->momentum));
            }
        }
    }
    if (f->cache)
        f->cache[0] = 1.0f;
    const float *x = f->in;
    float *y = f->out;
    for (size_t r = 0; r < rows; r++, x += c, y += c)
        for (long j = 0; j < c; j++)
            y[j] = (x[j] - mean[j]) * mul[j] + (p.beta ? p.beta[j] : 0.0f);
}

static void forward(const sq_layer *l, const sq_fwd *f)
{
    const bn_state *st = l->state;
    long c = f->in_shape->d[f->in_shape->rank - 1];
    size_t rows = sq_shape_count(f->in_shape) / (size_t)(c ? c : 1);
    /* A frozen layer (trainable=false) runs in inference mode even while
     * training, as in Keras >= 2.1 (TF2 behaviour). */
    if (f->training && l->trainable) {
        forward_batch(st, f, c, rows);
        return;
    }
    bn_weights p = split_weights(st, f->w, c);
    float *mul = f->scratch, *add = f->scratch + c;
    for (long j = 0; j < c; j++) {
        double a = 1.0 / sqrt((double)p.var[j] + st->epsilon);
        if (f->cache) {
            f->cache[1 + j] = p.mean[j];
            f->cache[1 + c + j] = (float)a;
        }
        if (p.gamma)
            a *= p.gamma[j];
        mul[j] = (float)a;
        add[j] = (float)((p.beta ? p.beta[j] : 0.0) - p.mean[j] * a);
    }
    if (f->cache)
        f->cache[0] = 0.0f;
    const float *x = f->in;
    float *y = f->out;
    for (size_t r = 0; r < rows; r++, x += c, y += c)
        for (long j = 0; j < c; j++)
            y[j] = x[j] * mul[j] + add[j];
}

/* With x_hat = (x - mean) * invstd and y = gamma * x_hat + beta:
 *   dgamma = sum(dy * x_hat), dbeta = sum(dy) over all rows;
 * with the batch's statistics (which depend on x),
 *   dx = gamma * invstd / N * (N * dy - sum(dy) - x_hat * sum(dy * x_hat)),
 * and with the moving ones (constants), dx = gamma * invstd * dy.
 * moving_mean and moving_variance get zero gradients: they are not trained. */
static void backward(const sq_layer *l, const sq_bwd *b)
{
    const bn_state *st = l->state;
    long c = b->in_shape->d[b->in_shape->rank - 1];
    size_t rows = sq_shape_count(b->in_shape) / (size_t)(c ? c : 1);
    int batch = b->cache[0] != 0.0f;
    const float *mean = b->cache + 1, *invstd = b->cache + 1 + c;
    bn_weights p = split_weights(st, b->w, c);
    float *dgamma = NULL, *dbeta = NULL;
    if (b->dw) {
        float *dw = b->dw;
        dgamma = st->scale ? dw : NULL;
        dw += st->scale ? c : 0;
        dbeta = st->center ? dw : NULL;
        dw += st->center ? c : 0;
        for (long j = 0; j < 2 * c; j++)
            dw[j] = 0;   /* moving_mean, moving_variance */
    }
    int sums = b->dw || batch;
    double n = (double)rows;
    for (long j0 = 0; j0 < c; j0 += BN_BLOCK) {
        long nj = c - j0 < BN_BLOCK ? c - j0 : BN_BLOCK;
        double sdy[BN_BLOCK] = { 0 }, sdyx[BN_BLOCK] = { 0 };
        /* the whole batch's sums (across processes) for dx; this process's
         * own for dgamma and dbeta, which training sums across processes */
        double all[2 * BN_BLOCK + 1];
        if (sums) {
            const float *x = b->in + j0, *dy = b->dout + j0;
            for (size_t r = 0; r < rows; r++, x += c, dy += c)
                for (long j = 0; j < nj; j++) {
                    double xh = ((double)x[j] - mean[j0 + j]) * invstd[j0 + j];
                    sdy[j] += dy[j];
                    sdyx[j] += dy[j] * xh;
                }
        }
        for (long j = 0; j < nj; j++) {
            if (dgamma)
                dgamma[j0 + j] = (float)sdyx[j];
            if (dbeta)
                dbeta[j0 + j] = (float)sdy[j];
        }
        if (!b->din)
            continue;
        if (batch && b->sum) {
            memcpy(all, sdy, (size_t)nj * sizeof *all);
            memcpy(all + nj, sdyx, (size_t)nj * sizeof *all);
            all[2 * nj] = (double)rows;
            b->sum(all, 2 * (size_t)nj + 1);
            memcpy(sdy, all, (size_t)nj * sizeof *all);
            memcpy(sdyx, all + nj, (size_t)nj * sizeof *all);
            n = all[2 * nj];
        }
        float k[BN_BLOCK];
        for (long j = 0; j < nj; j++)
            k[j] = (p.gamma ? p.gamma[j0 + j] : 1.0f) * invstd[j0 + j];
        const float *x = b->in + j0, *dy = b->dout + j0;
        float *dx = b->din + j0;
        for (size_t r = 0; r < rows; r++, x += c, dy += c, dx += c) {
            if (!batch) {
                for (long j = 0; j < nj; j++)
                    dx[j] = k[j] * dy[j];
                continue;
            }
            for (long j = 0; j < nj; j++) {
                double xh = ((double)x[j] - mean[j0 + j]) * invstd[j0 + j];
                dx[j] = (float)(k[j] * (dy[j] - sdy[j] / n - xh * sdyx[j] / n));
            }
        }
    }
}

/* One of each weight per channel; the moving statistics are not trained. */
static void explain(const sq_layer *l, const sq_shape *in, const sq_shape *out, sbuf *b)
{
    const bn_state *st = l->state;
    long c = in->d[in->rank - 1];
    (void)out;
    sq_explain_line(b, "shape", "the same as the input (each of the %ld channels normalised "
                    "with its own statistics)", c);
    sq_explain_line(b, "params", "%zu = %d * %ld  (%s%smoving_mean and moving_variance for each "
                    "of the %ld channels; the %ld moving statistics are not trained)",
                    l->param_count, st->scale + st->center + 2, c, st->scale ? "gamma, " : "",
                    st->center ? "beta, " : "", c, 2 * c);
}

/* Inference folds the four into one scale and one shift per channel. */
static size_t macs(const sq_layer *l, const sq_shape *in, const sq_shape *out, sbuf *why)
{
    (void)l;
    (void)in;
    return sq_macs_each(out, 1, "one multiply-add per value: x * scale + shift, the "
                        "channel's statistics folded into scale and shift", why);
}

const sq_layer_kind sq_kind_batch_normalization = {
    .class_name = "BatchNormalization",
    .base_name = "batch_normalization",
    .opts = opts,
    .npositional = 1,
    .has_activation = 0,
    .summary = "normalises the last axis with learned scale/offset and moving statistics",
    .state_size = sizeof(bn_state),
    .configure = configure,
    .output_shape = output_shape,
    .weights = weights,
    .scratch = scratch,
    .forward = forward,
    .cache = cache,
    .backward = backward,
    .shape_rule = "unchanged; params 4*C (gamma, beta trainable; moving_mean, moving_variance not)",
    .example = "input 8 8 3; add batchnormalization",
    .explain = explain,
    .macs = macs,
    .mask = sq_mask_keep,          /* Keras: supports_masking */
};
