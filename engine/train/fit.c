/* fit.c - fit, evaluate and predict: Keras's training loop over the flat
 * weight and gradient buffers, with its running means and its progress
 * bar. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "compile.h"
#include "train/loss.h"
#include "train/optim.h"
#include "text/progbar.h"

/* ---- one fit/evaluate: shapes, targets, metrics ------------------------- */

typedef struct {
    long nsamples;
    size_t sx, sy;             /* floats per sample of x and y */
    long last, rows;           /* output: last axis, rows per sample */
    int logits;                /* the loss reads the last layer's z */
    int sparse;                /* targets are class indices */
    int metric[MAX_METRICS];   /* accuracy resolved */
} plan;

/* Keras's "Data cardinality is ambiguous" and friends; builds an unbuilt
 * model from x's shape. */
static int prepare(sq_session *s, const sq_tensor *x, const sq_tensor *y, plan *p,
                   int *built_here, sq_error *err)
{
    sq_model *m = s->model;
    struct sq_compiled *c = m->compiled;
    char a[128], b[128];
    *built_here = 0;
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
    } else if (sq_model_check_input(m, &x->shape, err) < 0) {
        return -1;
    }
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
    p->sy = y ? sq_shape_count(&y->shape) / (size_t)p->nsamples : 0;
    int act = m->layers[m->n - 1]->act;
    p->logits = (c->loss == L_BCE && act == sq_activation_find("sigmoid"))
             || ((c->loss == L_CCE || c->loss == L_SCCE) && act == sq_activation_find("softmax"));
    p->sparse = c->loss == L_SCCE;
    if (!y)
        return 0;
    /* Keras resolves "accuracy" by the shapes */
    int label_lower_rank = y->shape.rank < out.rank;
    int label_last1 = y->shape.d[y->shape.rank - 1] == 1;
    int acc = p->last == 1 ? M_BINARY_ACC
            : (label_lower_rank || label_last1) ? M_SPARSE_ACC : M_CATEGORICAL_ACC;
    for (int i = 0; i < c->nmetrics; i++)
        p->metric[i] = c->metric[i] == M_ACCURACY ? acc : c->metric[i];
    if (!p->sparse && acc == M_SPARSE_ACC && p->last > 1)
        p->sparse = 1;  /* class indices with a non-sparse loss: one-hot them */
    if (c->loss == L_SCCE || (p->sparse && p->sy == (size_t)p->rows)) {
        if (p->sy != (size_t)p->rows)
            return sq_fail(err, "sparse labels need one class index per sample; y has shape %s "
                           "for outputs of shape %s", sq_shape_str(&y->shape, a, sizeof a),
                           sq_shape_str(&out, b, sizeof b));
        for (size_t i = 0; i < sq_shape_count(&y->shape); i++) {
            float v = y->data[i];
            if (!(v >= 0 && v < (float)p->last) || v != floorf(v))
                return sq_fail(err, "Received a label value of %g which is outside the valid "
                               "range of [0, %ld).", v, p->last);
        }
        p->sparse = 1;
    } else if (p->sy != osample) {
        return sq_fail(err, "y has shape %s but the model's outputs have shape %s",
                       sq_shape_str(&y->shape, a, sizeof a), sq_shape_str(&out, b, sizeof b));
    } else {
        p->sparse = 0;
    }
    /* sparse_categorical_accuracy asked for by name on targets that are not
     * class indices: it reads one per output row, so there must be one per
     * row and each must be a class */
    for (int i = 0; i < c->nmetrics && !p->sparse; i++) {
        if (p->metric[i] != M_SPARSE_ACC)
            continue;
        if (p->sy != (size_t)p->rows)
            return sq_fail(err, "sparse_categorical_accuracy needs one class index per sample; "
                           "y has shape %s for outputs of shape %s",
                           sq_shape_str(&y->shape, a, sizeof a), sq_shape_str(&out, b, sizeof b));
        for (size_t k = 0; k < sq_shape_count(&y->shape); k++) {
            float v = y->data[k];
            if (!(v >= 0 && v < (float)p->last) || v != floorf(v))
                return sq_fail(err, "Received a label value of %g which is outside the valid "
                               "range of [0, %ld).", v, p->last);
        }
        break;
    }
    return 0;
}

/* One metric's sum over a batch. Class-index targets (p->sparse) are
 * one-hot into `onehot` for the metrics that compare whole rows
 * (binary_accuracy, categorical_accuracy), which would otherwise read a
 * row of targets where there is one value. */
static double metric_sum(const plan *p, int i, const float *out, const float *t, long rows,
                         float *onehot)
{
    int mt = p->metric[i];
    if (p->sparse && (mt == M_BINARY_ACC || mt == M_CATEGORICAL_ACC)) {
        for (long r = 0; r < rows; r++)
            for (long j = 0; j < p->last; j++)
                onehot[r * p->last + j] = (float)(j == (long)t[r]);
        return sq_metric_sum(mt, out, onehot, rows, p->last, 0);
    }
    return sq_metric_sum(mt, out, t, rows, p->last, p->sparse);
}

/* The loss with sparse targets under a non-sparse loss: one-hot into tmp. */
static double batch_loss(const struct sq_compiled *c, const plan *p, const float *out,
                         const float *t, long rows, float *grad, float *onehot)
{
    int loss = c->loss;
    if (p->sparse && loss != L_SCCE) {
        for (long r = 0; r < rows; r++)
            for (long j = 0; j < p->last; j++)
                onehot[r * p->last + j] = (float)(j == (long)t[r]);
        t = onehot;
    }
    return sq_loss_compute(loss, p->logits, out, t, rows, p->last, grad);
}

/* Scratch for one fit/evaluate: batch copies, output gradient, one-hot. */
typedef struct {
    sq_train_ws ws;
    float *bx, *by, *dout, *onehot;
    long *perm;
    float *block;
} loop_mem;

static void loop_free(loop_mem *lm)
{
    sq_train_ws_free(&lm->ws);
    free(lm->block);
    free(lm->perm);
}

static int loop_init(loop_mem *lm, const sq_model *m, const sq_tensor *x, const plan *p,
                     long batch, long nperm, sq_error *err)
{
    memset(lm, 0, sizeof *lm);
    sq_shape in = x->shape;
    in.d[0] = batch;
    if (sq_train_ws_init(&lm->ws, m, &in, err) < 0)
        return -1;
    size_t outn = (size_t)batch * (size_t)(p->rows * p->last);
    size_t total = (size_t)batch * p->sx + (size_t)batch * (p->sy ? p->sy : 1) + 2 * outn;
    lm->block = sq_malloc(total * sizeof(float));
    lm->perm = sq_malloc((size_t)(nperm ? nperm : 1) * sizeof *lm->perm);
    if (!lm->block || !lm->perm) {
        loop_free(lm);
        return sq_fail(err, "out of memory");
    }
    lm->bx = lm->block;
    lm->by = lm->bx + (size_t)batch * p->sx;
    lm->dout = lm->by + (size_t)batch * (p->sy ? p->sy : 1);
    lm->onehot = lm->dout + outn;
    return 0;
}

static void gather(float *dst, const float *src, size_t size, const long *idx, long start,
                   long count)
{
    for (long i = 0; i < count; i++)
        memcpy(dst + (size_t)i * size, src + (size_t)idx[start + i] * size, size * sizeof(float));
}

/* Evaluates samples [from, to) in batches; values = loss then metrics.
 * Polls *intr between batches: -1 when interrupted, else 0. */
static int eval_range(sq_model *m, loop_mem *lm, const plan *p, const sq_tensor *x,
                      const sq_tensor *y, long from, long to, long batch, sq_progbar *bar,
                      const char *const *names, double *values, volatile int *intr)
{
    struct sq_compiled *c = m->compiled;
    int nv = 1 + c->nmetrics;
    double sums[MAX_METRICS + 1] = { 0 };
    long seen = 0, steps = (to - from + batch - 1) / batch;
    for (long st = 0; st < steps; st++) {
        if (intr && *intr)
            return -1;
        long b0 = from + st * batch, b = to - b0 < batch ? to - b0 : batch;
        sq_train_forward(m, &lm->ws, x->data + (size_t)b0 * p->sx, b, 0, NULL);
        int L = m->n - 1;
        const float *t = y->data + (size_t)b0 * p->sy;
        long rows = b * p->rows;
        sums[0] += (double)b * batch_loss(c, p, p->logits ? lm->ws.z[L] : lm->ws.y[L], t, rows,
                                          NULL, lm->onehot);
        for (int i = 0; i < c->nmetrics; i++)
            sums[i + 1] += metric_sum(p, i, lm->ws.y[L], t, rows, lm->onehot) / (double)p->rows;
        seen += b;
        for (int i = 0; i < nv; i++)
            values[i] = sums[i] / (double)seen;
        if (bar)
            sq_progbar_update(bar, st + 1, nv, names, values, st + 1 == steps);
    }
    return 0;
}

static int interrupted(const sq_session *s)
{
    return s->interrupt && *s->interrupt;
}

/* fit's ranges, for the words and for typed callers alike. */
static int fit_opts_check(const sq_fit_opts *o, sq_error *err)
{
    if (sq_check_long_range("fit", "epochs", o->epochs, 1, INT_MAX, err) < 0
        || sq_check_long_range("fit", "batch_size", o->batch_size, 1, LONG_MAX, err) < 0
        || sq_check_long_range("fit", "verbose", o->verbose, 0, 2, err) < 0)
        return -1;
    if (!(o->validation_split >= 0 && o->validation_split < 1))
        return sq_fail(err, "fit: `validation_split` must be in [0, 1), got %g",
                       o->validation_split);
    return 0;
}

int sq_fit_opts_read(sq_args *a, sq_fit_opts *o, sq_error *err)
{
    *o = (sq_fit_opts){ 1, 32, 0, 1, 1 };
    if (sq_arg_int(a, "epochs", INT_MIN, INT_MAX, &o->epochs, err) < 0
        || sq_arg_long(a, "batch_size", LONG_MIN, LONG_MAX, &o->batch_size, err) < 0
        || sq_arg_double(a, "validation_split", -HUGE_VAL, HUGE_VAL, &o->validation_split,
                         err) < 0
        || sq_arg_bool(a, "shuffle", &o->shuffle, err) < 0
        || sq_arg_int(a, "verbose", INT_MIN, INT_MAX, &o->verbose, err) < 0)
        return -1;
    return fit_opts_check(o, err);
}

int sq_batch_opts_read(sq_args *a, long *batch_size, int *verbose, sq_error *err)
{
    *batch_size = 32;
    if (sq_arg_long(a, "batch_size", 1, LONG_MAX, batch_size, err) < 0)
        return -1;
    if (verbose) {
        *verbose = 1;
        if (sq_arg_int(a, "verbose", 0, 1, verbose, err) < 0)
            return -1;
    }
    return 0;
}

int sq_fit(sq_session *s, const sq_tensor *x, const sq_tensor *y,
           const sq_fit_opts *o, sq_progress_fn cb, void *ctx, sq_error *err)
{
    sq_model *m = s->model;
    plan p;
    int built_here;
    sq_rng saved_rng = s->rng;
    if (fit_opts_check(o, err) < 0)
        return -1;
    if (prepare(s, x, y, &p, &built_here, err) < 0)
        goto fail_unbuild;
    struct sq_compiled *c = m->compiled;
    long n = p.nsamples;
    long ntrain = o->validation_split > 0 ? (long)floor((double)n * (1 - o->validation_split)) : n;
    if (ntrain == 0 || ntrain == n) {
        if (o->validation_split > 0) {
            sq_fail(err, "Training data contains %ld samples, which is not sufficient to split "
                    "it into a validation and training set as specified by `validation_split="
                    "%g`. Either provide more data, or a different value for the "
                    "`validation_split` argument.", n, o->validation_split);
            goto fail_unbuild;
        }
    }
    long batch = o->batch_size < ntrain ? o->batch_size : ntrain;
    long vbatch = o->batch_size < n - ntrain ? o->batch_size : n - ntrain;
    if (vbatch > batch)
        batch = vbatch;
    loop_mem lm;
    if (loop_init(&lm, m, x, &p, batch, ntrain, err) < 0)
        goto fail_unbuild;
    if (m->grads_cap < m->nparams) {
        float *g = sq_realloc(m->grads, m->nparams * sizeof *g);
        if (!g) {
            loop_free(&lm);
            sq_fail(err, "out of memory for the gradients");
            goto fail_unbuild;
        }
        m->grads = g;
        m->grads_cap = m->nparams;
    }
    if (!c->opt || c->opt_n != m->nparams) {
        const char *keys[MAX_OPT_OPTS], *vals[MAX_OPT_OPTS];
        for (int i = 0; i < c->nopts; i++) {
            keys[i] = c->keys[i];
            vals[i] = c->values[i];
        }
        sq_optim *opt;
        if (sq_optim_new(c->optimizer, c->nopts, keys, vals, m->nparams, &opt, err) < 0) {
            loop_free(&lm);
            goto fail_unbuild;
        }
        sq_optim_free(c->opt);
        c->opt = opt;
        c->opt_n = m->nparams;
    }
    /* room in the History for every epoch of this fit */
    int hw = 2 * (1 + c->nmetrics);
    if (c->hist_n > INT_MAX - o->epochs) {
        loop_free(&lm);
        sq_fail(err, "the training history is full");
        goto fail_unbuild;
    }
    if (c->hist_n + o->epochs > c->hist_cap) {
        int cap = c->hist_n + o->epochs;
        double *h = sq_realloc(c->hist, (size_t)cap * (size_t)hw * sizeof *h);
        if (!h) {
            loop_free(&lm);
            sq_fail(err, "out of memory for the training history");
            goto fail_unbuild;
        }
        c->hist = h;
        c->hist_cap = cap;
    }
    /* from here on, weights change: an interrupt keeps the finished batches */
    const char *names[2 * MAX_METRICS + 2];
    double values[2 * MAX_METRICS + 2];
    int nv = 1 + c->nmetrics;
    names[0] = "loss";
    for (int i = 0; i < c->nmetrics; i++)
        names[i + 1] = c->metric_name[i];
    for (int i = 0; i <= c->nmetrics; i++)
        names[nv + i] = c->val_name[i];
    long steps = (ntrain + o->batch_size - 1) / o->batch_size;
    int rc = 0;
    for (int ep = 0; ep < o->epochs && rc == 0; ep++) {
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
        double sums[MAX_METRICS + 1] = { 0 };
        long seen = 0;
        for (long st = 0; st < steps; st++) {
            if (interrupted(s)) {
                rc = sq_fail(err, "Interrupted");
                break;
            }
            long b0 = st * o->batch_size;
            long b = ntrain - b0 < o->batch_size ? ntrain - b0 : o->batch_size;
            gather(lm.bx, x->data, p.sx, lm.perm, b0, b);
            gather(lm.by, y->data, p.sy, lm.perm, b0, b);
            sq_train_forward(m, &lm.ws, lm.bx, b, 1, &s->rng);
            int L = m->n - 1;
            long rows = b * p.rows;
            double loss = batch_loss(c, &p, p.logits ? lm.ws.z[L] : lm.ws.y[L], lm.by, rows,
                                     lm.dout, lm.onehot);
            sq_train_backward(m, &lm.ws, lm.bx, b, lm.dout, p.logits);
            sq_optim_begin_step(c->opt);
            for (int li = 0; li < m->n; li++) {
                const sq_layer *l = m->layers[li];
                if (!l->trainable)
                    continue;
                size_t off = l->param_off;
                for (int wi = 0; wi < l->nweights; wi++) {
                    size_t cnt = sq_weight_count(&l->w[wi]);
                    if (l->w[wi].trainable)
                        sq_optim_update(c->opt, m->params, m->grads, off, cnt);
                    off += cnt;
                }
            }
            sums[0] += loss * (double)b;
            for (int i = 0; i < c->nmetrics; i++)
                sums[i + 1] += metric_sum(&p, i, lm.ws.y[L], lm.by, rows, lm.onehot)
                               / (double)p.rows;
            seen += b;
            for (int i = 0; i < nv; i++)
                values[i] = sums[i] / (double)seen;
            int last = st + 1 == steps;
            if (!last || ntrain == n)
                sq_progbar_update(&bar, st + 1, nv, names, values, last);
        }
        if (rc == 0 && ntrain < n) {
            if (eval_range(m, &lm, &p, x, y, ntrain, n, o->batch_size, NULL, NULL, values + nv,
                           s->interrupt) < 0)
                rc = sq_fail(err, "Interrupted");
            else
                sq_progbar_update(&bar, steps, 2 * nv, names, values, 1);
        }
        if (rc == 0) {
            double *row = c->hist + (size_t)c->hist_n++ * (size_t)hw;
            for (int i = 0; i < hw; i++)
                row[i] = i < nv || ntrain < n ? values[i] : NAN;
        }
    }
    loop_free(&lm);
    return rc;
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
    sq_model *m = s->model;
    plan p;
    int built_here;
    sq_rng saved = s->rng;
    if (sq_check_long_range("evaluate", "batch_size", batch_size, 1, LONG_MAX, err) < 0)
        return -1;
    if (prepare(s, x, y, &p, &built_here, err) < 0)
        goto fail;
    struct sq_compiled *c = m->compiled;
    long batch = batch_size < p.nsamples ? batch_size : p.nsamples;
    loop_mem lm;
    if (loop_init(&lm, m, x, &p, batch, 0, err) < 0)
        goto fail;
    const char *nm[MAX_METRICS + 1];
    double v[MAX_METRICS + 1];
    nm[0] = "loss";
    for (int i = 0; i < c->nmetrics; i++)
        nm[i + 1] = c->metric_name[i];
    sq_progbar bar;
    sq_progbar_start(&bar, (p.nsamples + batch_size - 1) / batch_size, verbose, cb, ctx);
    if (eval_range(m, &lm, &p, x, y, 0, p.nsamples, batch_size, &bar, nm, v,
                   s->interrupt) < 0) {
        loop_free(&lm);
        sq_fail(err, "Interrupted");
        goto fail;
    }
    loop_free(&lm);
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

int sq_predict(sq_session *s, const sq_tensor *x, long batch_size, sq_tensor *y,
               sq_error *err)
{
    if (sq_check_long_range("predict", "batch_size", batch_size, 1, LONG_MAX, err) < 0)
        return -1;
    if (x->shape.rank < 2 || x->shape.d[0] < 1)
        return sq_fail(err, "predict needs a batch of samples");
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
