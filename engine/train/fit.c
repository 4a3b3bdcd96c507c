/* fit.c - fit, evaluate and predict: Keras's training loop over the flat
 * weight and gradient buffers, with its running means, its progress bar,
 * the regularization penalties, sample and class weights, gradient
 * clipping, validation data and the callbacks. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "compile.h"
#include "dist/dist.h"
#include "train/fit.h"
#include "train/loss.h"
#include "train/optim.h"
#include "text/progbar.h"

/* ---- one data set against the model: shapes, targets, metrics ----------- */

typedef struct {
    long nsamples;
    size_t sx, sy;             /* floats per sample of x and y */
    long last, rows;           /* output: last axis, rows per sample */
    int loss_logits;           /* the loss takes logits */
    int read_z;                /* ... from the last layer's z (before its sigmoid/softmax) */
    int per_row;               /* y holds one value per output row (class indices) */
    sq_metric_cfg metric[MAX_METRICS];   /* accuracy resolved; thresholds borrowed */
} plan;

static int is_crossentropy(int loss)
{
    return loss == L_BCE || loss == L_CCE || loss == L_SCCE;
}

static const char *shape_none(const sq_shape *sh, char *buf, size_t n)
{
    sq_shape s = *sh;
    s.d[0] = -1;
    return sq_shape_str(&s, buf, n);
}

static int check_labels(const sq_tensor *y, long last, sq_error *err)
{
    for (size_t i = 0; i < sq_shape_count(&y->shape); i++) {
        float v = y->data[i];
        if (!(v >= 0 && v < (float)last) || v != floorf(v))
            return sq_fail(err, "Received a label value of %g which is outside the valid "
                           "range of [0, %ld).", v, last);
    }
    return 0;
}

/* The targets y against the outputs `out` under c's loss and metrics, with
 * Keras's shape checks. */
static int plan_targets(const struct sq_compiled *c, plan *p, const sq_tensor *y,
                        const sq_shape *out, sq_error *err)
{
    char a[128], b[128];
    size_t osample = (size_t)(p->rows * p->last);
    p->sy = sq_shape_count(&y->shape) / (size_t)y->shape.d[0];
    p->per_row = 0;
    int loss = c->loss.loss;
    /* y as Keras sees it: a (N,) y for (N, K) outputs is expanded to (N, 1) */
    sq_shape ys = y->shape;
    if (ys.rank == 1 && out->rank == 2) {
        ys.rank = 2;
        ys.d[1] = 1;
    }
    if (loss == L_SCCE) {
        if (p->sy != (size_t)p->rows)
            return sq_fail(err, "sparse labels need one class index per sample; y has shape %s "
                           "for outputs of shape %s", sq_shape_str(&y->shape, a, sizeof a),
                           sq_shape_str(out, b, sizeof b));
        if (check_labels(y, p->last, err) < 0)
            return -1;
        p->per_row = 1;
    } else if (p->sy == osample) {
        p->per_row = 0;
    } else if (p->sy == (size_t)p->rows) {
        if (loss == L_CCE)
            return sq_fail(err, "Shapes %s and %s are incompatible", shape_none(&ys, a, sizeof a),
                           shape_none(out, b, sizeof b));
        if (loss == L_BCE && p->loss_logits)
            return sq_fail(err, "logits and labels must have the same shape (%s vs %s)",
                           shape_none(out, a, sizeof a), shape_none(&ys, b, sizeof b));
        p->per_row = 1;   /* elementwise losses broadcast it over the last axis */
    } else {
        return sq_fail(err, "y has shape %s but the model's outputs have shape %s",
                       sq_shape_str(&y->shape, a, sizeof a), sq_shape_str(out, b, sizeof b));
    }
    /* Keras resolves "accuracy" by the shapes */
    int label_lower_rank = y->shape.rank < out->rank;
    int label_last1 = y->shape.d[y->shape.rank - 1] == 1;
    int acc = p->last == 1 ? M_BINARY_ACC
            : (label_lower_rank || label_last1) ? M_SPARSE_ACC : M_CATEGORICAL_ACC;
    for (int i = 0; i < c->nmetrics; i++) {
        p->metric[i] = c->metric[i];
        if (c->metric[i].kind == M_ACCURACY)
            p->metric[i].kind = acc;
        int k = p->metric[i].kind;
        if ((k == M_SPARSE_ACC || k == M_SPARSE_TOP_K) && !p->per_row && p->last > 1)
            return sq_fail(err, "%s needs one class index per sample; y has shape %s for "
                           "outputs of shape %s", c->metric_name[i],
                           sq_shape_str(&y->shape, a, sizeof a), sq_shape_str(out, b, sizeof b));
        if ((k == M_SPARSE_ACC || k == M_SPARSE_TOP_K || p->per_row) && p->last > 1
            && check_labels(y, p->last, err) < 0)
            return -1;
        if (sq_metric_is_confusion(k) && p->per_row && p->last > 1)
            return sq_fail(err, "Shapes %s and %s are incompatible", shape_none(out, a, sizeof a),
                           shape_none(&ys, b, sizeof b));
    }
    return 0;
}

/* Keras's input check, batch by batch, of samples [0, n) of data shaped
 * like x taken `batch` at a time: a model with a fixed batch
 * (batch_input_shape=, as a stateful one has) takes batches of that size
 * only, so n must be a multiple of it; Keras 2.6 finds out at the first
 * batch of another size, here it is found before any. */
static int check_batches(const sq_model *m, const sq_shape *x, long n, long batch,
                         sq_error *err)
{
    if (!m->explicit_input || m->input_shape.d[0] <= 0)
        return sq_model_check_input(m, x, err);
    sq_shape b = *x;
    if (n <= 0) {
        /* no batches (fit says why): the rest of the shape only */
        b.d[0] = m->input_shape.d[0];
        return sq_model_check_input(m, &b, err);
    }
    b.d[0] = batch < n ? batch : n;
    if (sq_model_check_input(m, &b, err) < 0)
        return -1;
    b.d[0] = n % b.d[0];
    return b.d[0] ? sq_model_check_input(m, &b, err) : 0;
}

/* Keras's "Data cardinality is ambiguous" and friends, for x and y; builds
 * an unbuilt model from x's shape. The first ntrain samples go in batches
 * of `batch` (0: no check of the batches; the caller checks the rest). */
static int prepare(sq_session *s, const sq_tensor *x, const sq_tensor *y, plan *p,
                   long ntrain, long batch, int *built_here, sq_error *err)
{
    sq_model *m = s->model;
    struct sq_compiled *c = m->compiled;
    char a[128], b[128];
    *built_here = 0;
    memset(p, 0, sizeof *p);
    if (!c)
        return sq_fail(err, "You must compile your model before training/testing. Use "
                       "`model.compile(optimizer, loss)`.");
    if (m->n == 0)
        return sq_fail(err, "the model has no layers yet: add some first");
    if (x->shape.rank < 2)
        return sq_fail(err, "x must have a batch dimension and at least one more; got shape %s",
                       sq_shape_str(&x->shape, a, sizeof a));
    p->nsamples = x->shape.d[0];
    if (y && y->shape.d[0] != p->nsamples)
        return sq_fail(err, "Data cardinality is ambiguous: x sizes: %ld, y sizes: %ld. Make "
                       "sure all arrays contain the same number of samples.",
                       p->nsamples, y->shape.d[0]);
    if (p->nsamples == 0)
        return sq_fail(err, "there are no samples in x");
    for (int i = 1; i < x->shape.rank; i++)
        if (x->shape.d[i] == 0)
            return sq_fail(err, "x has shape %s: an axis of length 0 leaves nothing to "
                           "train on", sq_shape_str(&x->shape, a, sizeof a));
    if (!m->built) {
        sq_shape in = x->shape;
        in.d[0] = -1;
        if (sq_model_rebuild(m, &in, &s->rng, err) < 0)
            return -1;
        m->explicit_input = 1;
        *built_here = 1;
    } else if (check_batches(m, &x->shape, ntrain, batch, err) < 0) {
        return -1;
    }
    /* Embedding's ids: TensorFlow's error, here before any step */
    if (sq_model_check_data(m, x, err) < 0)
        return -1;
    sq_shape out = m->layers[m->n - 1]->out_shape;
    p->last = out.d[out.rank - 1];
    size_t osample = 1;
    for (int i = 1; i < out.rank; i++)
        osample *= (size_t)(out.d[i] < 0 ? 1 : out.d[i]);
    if (out.rank < 2 || p->last <= 0 || osample == 0)
        return sq_fail(err, "the model's outputs have shape %s: there is nothing to compare "
                       "with y", sq_shape_str(&out, b, sizeof b));
    p->rows = (long)(osample / (size_t)p->last);
    p->sx = sq_shape_count(&x->shape) / (size_t)p->nsamples;
    /* crossentropy reads the logits cached by a sigmoid or softmax (Keras
     * 2.6's _keras_logits), whatever from_logits says */
    int act = m->layers[m->n - 1]->act;
    int cached = act == sq_activation_find("sigmoid") || act == sq_activation_find("softmax");
    if (is_crossentropy(c->loss.loss)) {
        p->read_z = cached;
        p->loss_logits = cached || c->loss.from_logits;
    }
    if (!y)
        return 0;
    return plan_targets(c, p, y, &out, err);
}

/* The warning Keras gives when from_logits=true meets a sigmoid/softmax
 * output (once per compile). */
static void warn_logits(struct sq_compiled *c, const plan *p, sq_progress_fn cb, void *ctx)
{
    if (!c->loss.from_logits || !p->read_z || c->warned_logits || !cb)
        return;
    char msg[300];
    snprintf(msg, sizeof msg, "\"`%s` received `from_logits=True`, but the `output` argument "
             "was produced by a sigmoid or softmax activation and thus does not represent "
             "logits. Was this intended?\"", sq_loss_name(c->loss.loss));
    cb(ctx, msg, SQ_PROGRESS_WARNING);
    c->warned_logits = 1;
}

/* ---- scratch for one fit or evaluate ------------------------------------ */

typedef struct {
    size_t off, len;
    sq_regularizer r;
    int train;                 /* its gradient is used */
} penalty;

typedef struct {
    sq_train_ws ws;
    float *bx, *by, *dout, *tbuf, *bw, *rw;
    long *perm;
    float *block;
    penalty *pen;              /* the regularized weights */
    int npen;
    sq_range *tr;              /* the trained weights */
    const sq_regularizer **trpen;   /* and their penalties (NULL: none) */
    sq_wsums *wsums;           /* and their weights' sums, kept from step to step */
    int ntr;
    double frozen_pen;         /* the penalties of weights no step changes */
    float *chunk;              /* SQ_OPTIM_CHUNK floats for the optimizer */
    int activity;              /* some layer has an activity regularizer */
    sq_metric_acc acc[MAX_METRICS];
    /* Under mpirun each process takes its share of every batch (split);
     * a step's flags, loss and metric counts (sacc) are summed across the
     * processes as nstats floats: in stats when evaluating, after the
     * gradients in one buffer when training. */
    int split;
    sq_metric_acc sacc[MAX_METRICS];
    float *stats;
    size_t nstats;
} loop_mem;

/* The stats floats: the flags, the loss's share, then each metric's counts. */
enum { ST_INTERRUPTED, ST_FAILED, ST_LOSS, ST_METRICS };

static void loop_free(loop_mem *lm)
{
    sq_train_ws_free(&lm->ws);
    free(lm->block);
    free(lm->perm);
    free(lm->pen);
    free(lm->tr);
    free(lm->trpen);
    free(lm->wsums);
    for (int i = 0; i < MAX_METRICS; i++) {
        sq_metric_acc_free(&lm->acc[i]);
        sq_metric_acc_free(&lm->sacc[i]);
    }
    free(lm->stats);
}

/* Whether fit, evaluate and predict split batches across processes: under
 * mpirun, unless a stateful layer keeps states per sample across batches
 * (then every process runs every sample, the same on all). */
static int splits(const sq_model *m)
{
    if (sq_dist_size() < 2)
        return 0;
    for (int i = 0; i < m->n; i++) {
        const sq_layer *l = m->layers[i];
        if (l->kind->states && l->kind->states(l) > 0)
            return 0;
    }
    return 1;
}

/* This process's rows [*from, *from + *count) of a batch of b. */
static void my_share(const loop_mem *lm, long b, long *from, long *count)
{
    long f = 0, t = b;
    if (lm->split)
        sq_dist_share(b, sq_dist_rank(), &f, &t);
    *from = f;
    *count = t - f;
}

static int loop_init(loop_mem *lm, const sq_model *m, const sq_tensor *x, const plan *p,
                     long batch, long nperm, sq_error *err)
{
    memset(lm, 0, sizeof *lm);
    const struct sq_compiled *c = m->compiled;
    sq_shape in = x->shape;
    in.d[0] = batch;
    if (sq_train_ws_init(&lm->ws, m, &in, err) < 0)
        return -1;
    size_t outn = (size_t)batch * (size_t)(p->rows * p->last);
    size_t rows = (size_t)batch * (size_t)p->rows;
    size_t ysz = p->sy > (size_t)(p->rows * p->last) ? p->sy : (size_t)(p->rows * p->last);
    size_t total = (size_t)batch * p->sx + (size_t)batch * ysz + 2 * outn + (size_t)batch
                 + rows + SQ_OPTIM_CHUNK;
    int nw = 0;
    for (int i = 0; i < m->n; i++)
        nw += m->layers[i]->nweights;
    lm->block = sq_malloc(total * sizeof(float));
    lm->perm = sq_malloc((size_t)(nperm ? nperm : 1) * sizeof *lm->perm);
    lm->pen = sq_malloc((size_t)(nw ? nw : 1) * sizeof *lm->pen);
    lm->tr = sq_malloc((size_t)(nw ? nw : 1) * sizeof *lm->tr);
    lm->trpen = sq_malloc((size_t)(nw ? nw : 1) * sizeof *lm->trpen);
    lm->wsums = sq_calloc((size_t)(nw ? nw : 1), sizeof *lm->wsums);
    if (!lm->block || !lm->perm || !lm->pen || !lm->tr || !lm->trpen || !lm->wsums) {
        loop_free(lm);
        return sq_fail(err, "out of memory");
    }
    lm->split = splits(m);
    lm->nstats = ST_METRICS;
    const sq_shape *out = &m->layers[m->n - 1]->out_shape;
    for (int i = 0; i < c->nmetrics; i++) {
        if (sq_metric_acc_init(&c->metric[i], out, &lm->acc[i], err) < 0
            || (lm->split && sq_metric_acc_init(&c->metric[i], out, &lm->sacc[i], err) < 0)) {
            loop_free(lm);
            return -1;
        }
        lm->nstats += sq_metric_acc_size(&c->metric[i], &lm->acc[i]);
    }
    if (lm->split && !(lm->stats = sq_malloc(lm->nstats * sizeof *lm->stats))) {
        loop_free(lm);
        return sq_fail(err, "out of memory");
    }
    lm->bx = lm->block;
    lm->by = lm->bx + (size_t)batch * p->sx;
    lm->dout = lm->by + (size_t)batch * ysz;
    lm->tbuf = lm->dout + outn;
    lm->bw = lm->tbuf + outn;
    lm->rw = lm->bw + batch;
    lm->chunk = lm->rw + rows;
    /* the weights with a penalty, and the ones the optimizer updates */
    for (int li = 0; li < m->n; li++) {
        const sq_layer *l = m->layers[li];
        size_t off = l->param_off;
        lm->activity |= l->activity.l1 != 0 || l->activity.l2 != 0;
        for (int wi = 0; wi < l->nweights; wi++) {
            size_t cnt = sq_weight_count(&l->w[wi]);
            int train = l->trainable && l->w[wi].trainable;
            const sq_regularizer *r = sq_wopt_regularizer(l, &l->w[wi]);
            if (r && r->l1 == 0 && r->l2 == 0)
                r = NULL;
            if (r)
                lm->pen[lm->npen++] = (penalty){ off, cnt, *r, train };
            if (train && cnt) {
                lm->trpen[lm->ntr] = r;
                lm->tr[lm->ntr++] = (sq_range){ off, cnt };
            } else if (r) {
                lm->frozen_pen += sq_regularizer_value(r, m->params + off, cnt);
            }
            off += cnt;
        }
    }
    return 0;
}

static void gather(float *dst, const float *src, size_t size, const long *idx, long start,
                   long count)
{
    for (long i = 0; i < count; i++)
        memcpy(dst + (size_t)i * size, src + (size_t)idx[start + i] * size, size * sizeof(float));
}

/* The weight penalties of the current weights. */
static double weight_penalty(const sq_model *m, const loop_mem *lm)
{
    double v = 0;
    for (int k = 0; k < lm->npen; k++)
        v += sq_regularizer_value(&lm->pen[k].r, m->params + lm->pen[k].off, lm->pen[k].len);
    return v;
}

/* The loss's inputs for b samples: the output (z or y), the targets (per-row
 * ones broadcast over the last axis for elementwise losses), row weights. */
static const float *loss_targets(const struct sq_compiled *c, const plan *p, loop_mem *lm,
                                 const float *t, long rows)
{
    if (!p->per_row || p->last == 1 || c->loss.loss == L_SCCE)
        return t;
    for (long r = 0; r < rows; r++)
        for (long j = 0; j < p->last; j++)
            lm->tbuf[r * p->last + j] = t[r];
    return lm->tbuf;
}

/* The row weights of the loss and the metrics, once the forward pass has
 * run on b samples: per-sample weights bw (NULL: none) times the mask of
 * the model's output when it has one, as Keras 2.6's compile_utils
 * apply_mask makes the mask the sample weight (or multiplies them); NULL
 * when neither. The loss stays Keras's SUM_OVER_BATCH_SIZE, divided by all
 * the rows, masked or not (losses_utils.reduce_weighted_loss's
 * _num_elements); the metrics are the weighted means of the rows. */
static const float *row_weights(const sq_model *m, const plan *p, loop_mem *lm,
                                const float *bw, long b)
{
    const uint8_t *mask = m->n ? lm->ws.mask[m->n - 1] : NULL;
    if (!bw && !mask)
        return NULL;
    for (long i = 0; i < b; i++)
        for (long r = 0; r < p->rows; r++) {
            size_t k = (size_t)(i * p->rows + r);
            lm->rw[k] = (bw ? bw[i] : 1.0f) * (mask && !mask[k] ? 0.0f : 1.0f);
        }
    return lm->rw;
}

/* Under mpirun: this process's flags, share of the loss and metric counts
 * into v (nstats floats), to be summed across the processes. */
static void stats_put(const loop_mem *lm, const plan *p, int nmetrics, float *v, int intr,
                      int failed, double loss)
{
    v[ST_INTERRUPTED] = (float)intr;
    v[ST_FAILED] = (float)failed;
    v[ST_LOSS] = (float)loss;
    float *q = v + ST_METRICS;
    for (int i = 0; i < nmetrics; i++) {
        sq_metric_acc_put(&p->metric[i], &lm->sacc[i], q);
        q += sq_metric_acc_size(&p->metric[i], &lm->sacc[i]);
    }
}

/* The sums: the metric counts added to the running ones, the loss's sum in
 * *loss. -1 on every process when one failed (its message in err, failed
 * says whether it was this one) or was interrupted. */
static int stats_take(loop_mem *lm, const plan *p, int nmetrics, const float *v, int failed,
                      double *loss, sq_error *err)
{
    if (v[ST_FAILED] > 0)
        return sq_dist_error(failed, err);
    if (v[ST_INTERRUPTED] > 0)
        return sq_fail(err, "Interrupted");
    *loss = v[ST_LOSS];
    const float *q = v + ST_METRICS;
    for (int i = 0; i < nmetrics; i++) {
        sq_metric_acc_add(&p->metric[i], &lm->acc[i], q);
        q += sq_metric_acc_size(&p->metric[i], &lm->acc[i]);
    }
    return 0;
}

/* Evaluates samples [from, to) of x, y (weights sw per sample, or NULL) in
 * batches; values = loss then metrics, penalties included. Polls *intr
 * between batches: -1 when interrupted or a metric refuses, else 0. */
static int eval_range(sq_model *m, loop_mem *lm, const plan *p, const sq_tensor *x,
                      const sq_tensor *y, const float *sw, long from, long to, long batch,
                      sq_progbar *bar, const char *const *names, double *values,
                      volatile int *intr, sq_error *err)
{
    struct sq_compiled *c = m->compiled;
    int nv = 1 + c->nmetrics;
    double loss_sum = 0, wpen = weight_penalty(m, lm);
    long seen = 0, steps = (to - from + batch - 1) / batch;
    for (int i = 0; i < c->nmetrics; i++)
        sq_metric_acc_reset(&p->metric[i], &lm->acc[i]);
    for (long st = 0; st < steps; st++) {
        /* under mpirun the processes agree on an interrupt with the sums */
        if (!lm->split && intr && *intr)
            return sq_fail(err, "Interrupted");
        long b0 = from + st * batch, b = to - b0 < batch ? to - b0 : batch, f, bl;
        my_share(lm, b, &f, &bl);
        double part = 0;
        int failed = 0;
        for (int i = 0; lm->split && i < c->nmetrics; i++)
            sq_metric_acc_reset(&p->metric[i], &lm->sacc[i]);
        if (bl > 0) {
            lm->ws.batch_all = lm->split ? b : 0;
            sq_train_forward(m, &lm->ws, x->data + (size_t)(b0 + f) * p->sx, bl, 0, NULL);
            int L = m->n - 1;
            const float *t = y->data + (size_t)(b0 + f) * p->sy;
            long rows = bl * p->rows;
            const float *rw = row_weights(m, p, lm, sw ? sw + b0 + f : NULL, bl);
            double loss = sq_loss_eval(&c->loss, p->loss_logits,
                                       p->read_z ? lm->ws.z[L] : lm->ws.y[L],
                                       loss_targets(c, p, lm, t, rows), rows, p->last, rw, NULL);
            /* the activity penalty is divided by the whole batch already */
            part = (double)bl * (loss + wpen)
                 + (lm->activity ? (double)b * sq_train_activity_penalty(m, &lm->ws) : 0);
            for (int i = 0; i < c->nmetrics && !failed; i++)
                failed = sq_metric_update(&p->metric[i], lm->split ? &lm->sacc[i] : &lm->acc[i],
                                          lm->ws.y[L], t, rows, p->last, p->per_row, rw,
                                          err) < 0;
        }
        if (lm->split) {
            stats_put(lm, p, c->nmetrics, lm->stats, intr && *intr, failed, part);
            sq_dist_sum_float(lm->stats, lm->nstats);
            if (stats_take(lm, p, c->nmetrics, lm->stats, failed, &part, err) < 0)
                return -1;
        } else if (failed) {
            return -1;
        }
        loss_sum += part;
        seen += b;
        values[0] = loss_sum / (double)seen;
        for (int i = 0; i < c->nmetrics; i++)
            values[i + 1] = sq_metric_result(&p->metric[i], &lm->acc[i]);
        if (bar)
            sq_progbar_update(bar, st + 1, nv, names, values, st + 1 == steps);
    }
    return 0;
}

static int interrupted(const sq_session *s)
{
    return s->interrupt && *s->interrupt;
}

/* Room for the gradients, the optimizer and `epochs` more History rows. */
static int training_room(sq_model *m, int epochs, size_t extra, sq_error *err)
{
    struct sq_compiled *c = m->compiled;
    if (m->grads_cap < m->nparams + extra) {
        float *g = sq_realloc(m->grads, (m->nparams + extra) * sizeof *g);
        if (!g)
            return sq_fail(err, "out of memory for the gradients");
        m->grads = g;
        m->grads_cap = m->nparams + extra;
    }
    if (!c->opt || c->opt_n != m->nparams) {
        const char *keys[MAX_OPT_OPTS], *vals[MAX_OPT_OPTS];
        for (int i = 0; i < c->nopts; i++) {
            keys[i] = c->keys[i];
            vals[i] = c->values[i];
        }
        sq_optim *opt;
        if (sq_optim_new(c->optimizer, c->nopts, keys, vals, m->nparams, &opt, err) < 0)
            return -1;
        sq_optim_free(c->opt);
        c->opt = opt;
        c->opt_n = m->nparams;
    }
    int hw = HIST_WIDTH(c);
    if (c->hist_n > INT_MAX - epochs)
        return sq_fail(err, "the training history is full");
    if (c->hist_n + epochs > c->hist_cap) {
        int cap = c->hist_n + epochs;
        double *h = sq_realloc(c->hist, (size_t)cap * (size_t)hw * sizeof *h);
        if (!h)
            return sq_fail(err, "out of memory for the training history");
        c->hist = h;
        c->hist_cap = cap;
    }
    return 0;
}

/* One training step on the b samples gathered in lm (per-sample weights bw
 * or NULL); the batch's loss (penalties included). *rwp gets the row
 * weights the loss took, for the metrics. */
static double train_step(sq_session *s, loop_mem *lm, const plan *p, long b, const float *bw,
                         const float **rwp)
{
    sq_model *m = s->model;
    struct sq_compiled *c = m->compiled;
    int L = m->n - 1;
    long rows = b * p->rows;
    sq_train_forward(m, &lm->ws, lm->bx, b, 1, &s->rng);
    const float *rw = *rwp = row_weights(m, p, lm, bw, b);
    double loss = sq_loss_eval(&c->loss, p->loss_logits, p->read_z ? lm->ws.z[L] : lm->ws.y[L],
                               loss_targets(c, p, lm, lm->by, rows), rows, p->last, rw,
                               lm->dout);
    if (lm->activity)
        loss += sq_train_activity_penalty(m, &lm->ws);
    sq_train_backward(m, &lm->ws, lm->bx, b, lm->dout, p->read_z);
    /* the penalties' gradients and the clipping happen inside the update */
    loss += lm->frozen_pen + sq_optim_step(c->opt, m->params, m->grads, lm->tr, lm->trpen,
                                           lm->ntr, lm->chunk, lm->wsums);
    return loss;
}

/* Under mpirun: one step on this process's bl rows of a batch of b
 * (gathered in lm), step counting the steps of this fit. The gradients,
 * the flags, the loss's share and the metric counts are summed across the
 * processes in one buffer; every process then makes the same update. The
 * batch's loss in *loss; -1 on every process, after the update, when one
 * failed or was interrupted. */
static int split_train_step(sq_session *s, loop_mem *lm, const plan *p, long b, long bl,
                            const float *bw, uint64_t step, double *loss, sq_error *err)
{
    sq_model *m = s->model;
    struct sq_compiled *c = m->compiled;
    int L = m->n - 1;
    long rows = bl * p->rows;
    /* dropout draws from a generator of this process and step: the
     * session's stays the same on every process */
    sq_rng rng;
    sq_rng_seed(&rng, s->rng.s[0] ^ s->rng.s[3] ^ (step + 1) * 0x9E3779B97F4A7C15ull
                      ^ ((uint64_t)sq_dist_rank() + 1) * 0xD1B54A32D192ED03ull);
    lm->ws.batch_all = b;
    lm->ws.sum = sq_dist_sum_double;
    sq_train_forward(m, &lm->ws, lm->bx, bl, 1, &rng);
    const float *rw = row_weights(m, p, lm, bw, bl);
    double part = 0;
    int failed = 0;
    if (bl > 0) {
        part = sq_loss_eval(&c->loss, p->loss_logits, p->read_z ? lm->ws.z[L] : lm->ws.y[L],
                            loss_targets(c, p, lm, lm->by, rows), rows, p->last, rw, lm->dout);
        /* the loss is the whole batch's mean: this share weighs bl / b */
        float k = (float)((double)bl / (double)b);
        size_t nd = (size_t)rows * (size_t)p->last;
        for (size_t i = 0; i < nd; i++)
            lm->dout[i] *= k;
        part *= (double)bl;
    }
    if (lm->activity)
        part += (double)b * sq_train_activity_penalty(m, &lm->ws);
    sq_train_backward(m, &lm->ws, lm->bx, bl, lm->dout, p->read_z);
    if (bl == 0)
        memset(m->grads, 0, m->nparams * sizeof *m->grads);
    for (int i = 0; i < c->nmetrics; i++) {
        sq_metric_acc_reset(&p->metric[i], &lm->sacc[i]);
        if (bl > 0 && !failed)
            failed = sq_metric_update(&p->metric[i], &lm->sacc[i], lm->ws.y[L], lm->by, rows,
                                      p->last, p->per_row, rw, err) < 0;
    }
    float *v = m->grads + m->nparams;
    stats_put(lm, p, c->nmetrics, v, interrupted(s), failed, part);
    sq_dist_sum_float(m->grads, m->nparams + lm->nstats);
    double pen = sq_optim_step(c->opt, m->params, m->grads, lm->tr, lm->trpen, lm->ntr,
                               lm->chunk, lm->wsums);
    if (stats_take(lm, p, c->nmetrics, v, failed, &part, err) < 0)
        return -1;
    *loss = part / (double)b + lm->frozen_pen + pen;
    return 0;
}

int sq_fit(sq_session *s, const sq_tensor *x, const sq_tensor *y,
           const sq_fit_opts *o, sq_progress_fn cb, void *ctx, sq_error *err)
{
    sq_model *m = s->model;
    plan p, vp;
    int built_here;
    sq_rng saved_rng = s->rng;
    fit_inputs in;
    memset(&in, 0, sizeof in);
    if (sq_fit_opts_check(o, err) < 0)
        return -1;
    long n = x->shape.rank >= 1 ? x->shape.d[0] : 0;
    int given_val = o->validation_data || (o->val_x && o->val_y);
    long ntrain = o->validation_split > 0 && !given_val
                ? (long)floor((double)n * (1 - o->validation_split)) : n;
    if (prepare(s, x, y, &p, ntrain, o->batch_size, &built_here, err) < 0)
        goto fail_unbuild;
    struct sq_compiled *c = m->compiled;
    if ((ntrain == 0 || ntrain == n) && o->validation_split > 0 && !given_val) {
        sq_fail(err, "Training data contains %ld samples, which is not sufficient to split "
                "it into a validation and training set as specified by `validation_split="
                "%g`. Either provide more data, or a different value for the "
                "`validation_split` argument.", n, o->validation_split);
        goto fail_unbuild;
    }
    if (sq_fit_inputs_load(s, y, ntrain, o, &in, err) < 0)
        goto fail_unbuild;
    /* validation_split's tail goes in batches of its own */
    if (ntrain < n && !in.has_val && check_batches(m, &x->shape, n - ntrain, o->batch_size,
                                                   err) < 0)
        goto fail_inputs;
    /* the validation data: given, or the tail of x and y */
    const sq_tensor *vx = x, *vy = y;
    const float *vsw = in.sw;
    long vfrom = ntrain, vto = n;
    vp = p;
    if (in.has_val) {
        vx = &in.vx;
        vy = &in.vy;
        vsw = in.vsw;
        vfrom = 0;
        vto = vx->shape.d[0];
        char a[128], b[128];
        if (vx->shape.rank < 2 || vto == 0) {
            sq_fail(err, "validation_data: x must hold samples; got shape %s",
                    sq_shape_str(&vx->shape, a, sizeof a));
            goto fail_inputs;
        }
        if (check_batches(m, &vx->shape, vto, o->batch_size, err) < 0
            || sq_model_check_data(m, vx, err) < 0)
            goto fail_inputs;
        int same = vx->shape.rank == x->shape.rank;
        for (int i = 1; same && i < x->shape.rank; i++)
            same = vx->shape.d[i] == x->shape.d[i];
        if (!same) {
            sq_fail(err, "validation_data: x has shape %s but the training x has shape %s",
                    sq_shape_str(&vx->shape, a, sizeof a), sq_shape_str(&x->shape, b, sizeof b));
            goto fail_inputs;
        }
        sq_shape out = m->layers[m->n - 1]->out_shape;
        vp.nsamples = vto;
        if (plan_targets(c, &vp, vy, &out, err) < 0)
            goto fail_inputs;
    }
    int has_val = vto > vfrom;
    long batch = o->batch_size < ntrain ? o->batch_size : ntrain;
    long vbatch = o->batch_size < vto - vfrom ? o->batch_size : vto - vfrom;
    if (vbatch > batch)
        batch = vbatch;
    /* the larger per-sample y of the two sets decides the room */
    plan room = p;
    if (vp.sy > room.sy)
        room.sy = vp.sy;
    loop_mem lm;
    if (loop_init(&lm, m, x, &room, batch, ntrain, err) < 0)
        goto fail_inputs;
    if (training_room(m, o->epochs, lm.split ? lm.nstats : 0, err) < 0)
        goto fail_loop;
    if (sq_callbacks_set_lr(in.cbs) && sq_optim_has_schedule(c->opt)) {
        sq_fail(err, "reduce_lr_on_plateau cannot change a learning-rate schedule (compile "
                "gave learning_rate=NAME(...))");
        goto fail_loop;
    }
    const char *names[2 * MAX_METRICS + 3];
    double values[2 * MAX_METRICS + 3];
    int nv = 1 + c->nmetrics;
    names[0] = "loss";
    for (int i = 0; i < c->nmetrics; i++)
        names[i + 1] = c->metric_name[i];
    for (int i = 0; i <= c->nmetrics; i++)
        names[nv + i] = c->val_name[i];
    sq_cb_env env = { s, cb, ctx, 0 };
    if (sq_callbacks_begin(in.cbs, &env, names, has_val ? 2 * nv : nv, err) < 0)
        goto fail_loop;
    warn_logits(c, &p, cb, ctx);

    /* from here on, weights change: an interrupt keeps the finished batches */
    long steps = (ntrain + o->batch_size - 1) / o->batch_size;
    int hw = HIST_WIDTH(c), rc = 0;
    for (int ep = o->initial_epoch; ep < o->epochs && rc == 0; ep++) {
        if (o->epochs > 1 && o->verbose && cb) {
            char line[64];
            snprintf(line, sizeof line, "Epoch %d/%d", ep + 1, o->epochs);
            cb(ctx, line, SQ_PROGRESS_LINE);
        }
        for (long i = 0; i < ntrain; i++)
            lm.perm[i] = i;
        if (o->shuffle)
            for (long i = ntrain - 1; i > 0; i--) {
                long j = (long)(sq_rng_next(&s->rng) % (uint64_t)(i + 1));
                long t = lm.perm[i];
                lm.perm[i] = lm.perm[j];
                lm.perm[j] = t;
            }
        sq_progbar bar;
        sq_progbar_start(&bar, steps, o->verbose, cb, ctx);
        double loss_sum = 0;
        long seen = 0;
        for (int i = 0; i < c->nmetrics; i++)
            sq_metric_acc_reset(&p.metric[i], &lm.acc[i]);
        for (long st = 0; st < steps; st++) {
            /* under mpirun the processes agree on an interrupt in the step */
            if (!lm.split && interrupted(s)) {
                rc = sq_fail(err, "Interrupted");
                break;
            }
            long b0 = st * o->batch_size, f, bl;
            long b = ntrain - b0 < o->batch_size ? ntrain - b0 : o->batch_size;
            my_share(&lm, b, &f, &bl);
            gather(lm.bx, x->data, p.sx, lm.perm, b0 + f, bl);
            gather(lm.by, y->data, p.sy, lm.perm, b0 + f, bl);
            if (in.sw)
                for (long i = 0; i < bl; i++)
                    lm.bw[i] = in.sw[lm.perm[b0 + f + i]];
            const float *bw = in.sw ? lm.bw : NULL, *rw;
            double loss;
            if (lm.split) {
                rc = split_train_step(s, &lm, &p, b, bl, bw,
                                      (uint64_t)(ep - o->initial_epoch) * (uint64_t)steps
                                      + (uint64_t)st, &loss, err);
            } else {
                loss = train_step(s, &lm, &p, b, bw, &rw);
                int L = m->n - 1;
                for (int i = 0; i < c->nmetrics && rc == 0; i++)
                    rc = sq_metric_update(&p.metric[i], &lm.acc[i], lm.ws.y[L], lm.by,
                                          b * p.rows, p.last, p.per_row, rw, err);
            }
            if (rc < 0)
                break;
            loss_sum += loss * (double)b;
            seen += b;
            values[0] = loss_sum / (double)seen;
            for (int i = 0; i < c->nmetrics; i++)
                values[i + 1] = sq_metric_result(&p.metric[i], &lm.acc[i]);
            int last = st + 1 == steps;
            if (!last || !has_val)
                sq_progbar_update(&bar, st + 1, nv, names, values, last);
        }
        if (rc == 0 && has_val) {
            if (eval_range(m, &lm, &vp, vx, vy, vsw, vfrom, vto, o->batch_size, NULL, NULL,
                           values + nv, s->interrupt, err) < 0)
                rc = -1;
            else
                sq_progbar_update(&bar, steps, 2 * nv, names, values, 1);
        }
        if (rc < 0)
            break;
        /* every process decides on rank 0's logs (a sum may round
         * differently on another) */
        if (lm.split)
            sq_dist_bcast_double(values, (size_t)(has_val ? 2 * nv : nv));
        /* the epoch's logs, for the callbacks, then the History */
        sq_logs logs = { 0 };
        for (int i = 0; i < (has_val ? 2 * nv : nv); i++) {
            logs.name[logs.n] = names[i];
            logs.value[logs.n++] = values[i];
        }
        rc = sq_callbacks_epoch_end(in.cbs, &env, ep, &logs, err);
        if (rc < 0)
            break;
        double *row = c->hist + (size_t)c->hist_n++ * (size_t)hw;
        for (int i = 0; i < hw; i++)
            row[i] = i < nv || (i < 2 * nv && has_val) ? values[i] : NAN;
        for (int i = 0; i < logs.n; i++)
            if (!strcmp(logs.name[i], "lr"))
                row[2 * nv] = logs.value[i];
        if (env.stop)
            break;
    }
    sq_callbacks_end(in.cbs, &env, rc == 0);
    loop_free(&lm);
    sq_fit_inputs_free(&in);
    return rc;
fail_loop:
    loop_free(&lm);
fail_inputs:
    sq_fit_inputs_free(&in);
fail_unbuild:
    if (built_here)
        sq_model_unbuild(m);
    s->rng = saved_rng;
    return -1;
}

int sq_evaluate(sq_session *s, const sq_tensor *x, const sq_tensor *y,
                long batch_size, int verbose, sq_progress_fn cb, void *ctx,
                double *values, const char **names, int max, int *n,
                sq_error *err)
{
    return sq_evaluate_weighted(s, x, y, NULL, NULL, batch_size, verbose, cb, ctx, values,
                                names, max, n, err);
}

int sq_evaluate_weighted(sq_session *s, const sq_tensor *x, const sq_tensor *y,
                         const char *sample_weight, const sq_tensor *sample_weights,
                         long batch_size, int verbose, sq_progress_fn cb, void *ctx,
                         double *values, const char **names, int max, int *n,
                         sq_error *err)
{
    sq_model *m = s->model;
    plan p;
    int built_here;
    sq_rng saved = s->rng;
    if (sq_check_long_range("evaluate", "batch_size", batch_size, 1, LONG_MAX, err) < 0)
        return -1;
    if (prepare(s, x, y, &p, x->shape.rank >= 1 ? x->shape.d[0] : 0, batch_size, &built_here,
                err) < 0)
        goto fail;
    struct sq_compiled *c = m->compiled;
    long batch = batch_size < p.nsamples ? batch_size : p.nsamples;
    /* sample weights, checked as fit checks them, before any batch */
    fit_inputs in;
    sq_fit_opts wo = { .sample_weight = sample_weight, .sample_weights = sample_weights };
    memset(&in, 0, sizeof in);
    if ((sample_weight || sample_weights)
        && sq_fit_inputs_load(s, y, p.nsamples, &wo, &in, err) < 0)
        goto fail;
    loop_mem lm;
    if (loop_init(&lm, m, x, &p, batch, 0, err) < 0) {
        sq_fit_inputs_free(&in);
        goto fail;
    }
    warn_logits(c, &p, cb, ctx);
    const char *nm[MAX_METRICS + 1];
    double v[MAX_METRICS + 1];
    nm[0] = "loss";
    for (int i = 0; i < c->nmetrics; i++)
        nm[i + 1] = c->metric_name[i];
    sq_progbar bar;
    sq_progbar_start(&bar, (p.nsamples + batch_size - 1) / batch_size, verbose, cb, ctx);
    int rc = eval_range(m, &lm, &p, x, y, in.sw, 0, p.nsamples, batch_size, &bar, nm, v,
                        s->interrupt, err);
    loop_free(&lm);
    sq_fit_inputs_free(&in);
    if (rc < 0)
        goto fail;
    *n = 0;
    for (int i = 0; i <= c->nmetrics && i < max; i++) {
        values[i] = v[i];
        names[i] = nm[i];
        (*n)++;
    }
    return 0;
fail:
    if (built_here)
        sq_model_unbuild(m);
    s->rng = saved;
    return -1;
}

static int predict_rows(sq_session *s, const sq_tensor *x, long batch_size, sq_tensor *y,
                        sq_error *err);

int sq_predict(sq_session *s, const sq_tensor *x, long batch_size, sq_tensor *y,
               sq_error *err)
{
    if (sq_check_long_range("predict", "batch_size", batch_size, 1, LONG_MAX, err) < 0)
        return -1;
    if (x->shape.rank < 2 || x->shape.d[0] < 1)
        return sq_fail(err, "predict needs a batch of samples");
    /* a fixed batch: every batch checked before the first changes a
     * stateful layer's states */
    if (s->model->built && check_batches(s->model, &x->shape, x->shape.d[0], batch_size, err) < 0)
        return -1;
    /* under mpirun each process predicts its share of the samples (at
     * least one each), then all of them gather every share */
    long n = x->shape.d[0], from = 0, to = n;
    int split = splits(s->model) && n >= sq_dist_size();
    if (split) {
        sq_dist_share(n, sq_dist_rank(), &from, &to);
        size_t per_in = sq_shape_count(&x->shape) / (size_t)n;
        sq_tensor mine = { x->shape, x->data + (size_t)from * per_in };
        mine.shape.d[0] = to - from;
        int rc = predict_rows(s, &mine, batch_size, y, err);
        if (sq_dist_error(rc < 0, err) < 0) {
            if (rc == 0)
                sq_tensor_free(y);
            return -1;
        }
        size_t per_out = sq_shape_count(&y->shape) / (size_t)(to - from);
        size_t nall = (size_t)n * per_out;
        float *all = NULL;
        /* MPI counts the rows in ints: the same test on every rank */
        int bad = n > INT_MAX || per_out > INT_MAX
                ? sq_fail(err, "predict under mpirun gathers at most %d samples of at most %d "
                          "values each", INT_MAX, INT_MAX) < 0
                : sq_check_memory((double)nall * sizeof(float), "the predictions", err) < 0;
        if (!bad && !(all = sq_malloc((nall ? nall : 1) * sizeof(float))))
            bad = sq_fail(err, "out of memory for the predictions") < 0;
        if (sq_dist_error(bad, err) < 0
            || (sq_dist_gather_rows(y->data, to - from, per_out, all) < 0
                && sq_fail(err, "predict: gathering the predictions across the processes "
                           "failed") < 0)) {
            free(all);
            sq_tensor_free(y);
            return -1;
        }
        sq_free(y->data);
        y->data = all;
        y->shape.d[0] = n;
        return 0;
    }
    return predict_rows(s, x, batch_size, y, err);
}

/* predict's batches over all of x, in this process. */
static int predict_rows(sq_session *s, const sq_tensor *x, long batch_size, sq_tensor *y,
                        sq_error *err)
{
    /* the first batch builds a deferred model, as a call does */
    long n = x->shape.d[0], b = batch_size < n ? batch_size : n;
    sq_tensor part = { x->shape, x->data }, out;
    part.shape.d[0] = b;
    if (sq_model_call(s->model, &part, &out, &s->rng, s->interrupt, err) < 0)
        return -1;
    size_t per_in = sq_shape_count(&x->shape) / (size_t)n;
    size_t per_out = sq_shape_count(&out.shape) / (size_t)b;
    /* at least one float: realloc(p, 0) frees p and returns NULL */
    size_t nall = (size_t)n * per_out;
    if (sq_check_memory((double)n * (double)per_out * sizeof(float), "the predictions",
                        err) < 0) {
        sq_tensor_free(&out);
        return -1;
    }
    float *all = sq_realloc(out.data, (nall ? nall : 1) * sizeof(float));
    if (!all) {
        sq_tensor_free(&out);
        return sq_fail(err, "out of memory for the predictions");
    }
    /* outputs with no values (an axis of length 0) need no more batches:
     * a file claiming millions of empty samples is not run batch by batch */
    for (long b0 = b; per_out > 0 && b0 < n; b0 += batch_size) {
        long k = n - b0 < batch_size ? n - b0 : batch_size;
        sq_tensor xi = { x->shape, x->data + (size_t)b0 * per_in }, yi;
        xi.shape.d[0] = k;
        if (sq_model_call(s->model, &xi, &yi, &s->rng, s->interrupt, err) < 0) {
            free(all);
            return -1;
        }
        memcpy(all + (size_t)b0 * per_out, yi.data, (size_t)k * per_out * sizeof(float));
        sq_tensor_free(&yi);
    }
    y->shape = out.shape;
    y->shape.d[0] = n;
    y->data = all;
    return 0;
}
