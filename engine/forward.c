/* forward.c - running the model: a call builds a deferred model on its first
 * input, checks the input against the model's, and runs the batch in chunks
 * of samples through the layers, each thread with two activation buffers and
 * one scratch area in the model's workspace. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "model.h"
#include "kernels/threads.h"

/* Inference treats every sample on its own (Dropout is off, BatchNorm uses
 * its moving statistics), so a batch runs in chunks of samples through all
 * the layers: a chunk's activations stay in cache, and with several threads
 * each thread takes whole chunks, with no hand-off between layers. Chunks
 * hold as many samples as fit CHUNK_FLOATS floats of activation (at least
 * one). Chunks left over when they do not divide among the threads run one
 * at a time with the threads sharing each layer's rows. Memory: per thread,
 * two activation buffers and one scratch area for one chunk. */
#define CHUNK_FLOATS ((size_t)1 << 18)

typedef struct {
    sq_model *m;
    const sq_shape *sh;          /* the whole batch's shapes */
    const sq_mask_rule *rule;    /* per layer, for this model's masks */
    size_t mrows;                /* mask bytes per sample, per mask buffer */
    sq_shape *shc;               /* per thread: n + 1 shapes for one chunk */
    const float *x;
    float *y;
    long cb;                     /* samples per chunk */
    size_t region, maxact;       /* floats per thread; per activation buffer */
    volatile int *intr;
    int stop;
} fwd_job;

/* Chunks [b, e) of the batch through every layer, in thread tid's region. */
static void run_chunks(void *ctx, long b, long e, int tid)
{
    fwd_job *j = ctx;
    sq_model *m = j->m;
    int n = m->n;
    sq_shape *shc = j->shc + (size_t)tid * (size_t)(n + 1);
    float *base = m->work + (size_t)tid * j->region;
    float *bufs[2] = { base, base + j->maxact };
    float *scratch = base + 2 * j->maxact;
    /* two mask buffers after the scratch area: one byte per row */
    uint8_t *mbufs[2] = { (uint8_t *)(void *)(base + j->region) - 2 * j->mrows * (size_t)j->cb,
                          (uint8_t *)(void *)(base + j->region) - j->mrows * (size_t)j->cb };
    long nb = j->sh[0].d[0];
    for (long c = b; c < e; c++) {
        long s0 = c * j->cb, ns = nb - s0 < j->cb ? nb - s0 : j->cb;
        for (int i = 0; i <= n; i++) {
            shc[i] = j->sh[i];
            shc[i].d[0] = ns;
        }
        size_t per_in = sq_shape_count(&j->sh[0]) / (size_t)nb;
        size_t per_out = sq_shape_count(&j->sh[n]) / (size_t)nb;
        const float *in = j->x + (size_t)s0 * per_in;
        const uint8_t *mask = NULL;
        for (int i = 0; i < n; i++) {
            if (__atomic_load_n(&j->stop, __ATOMIC_RELAXED) || (j->intr && *j->intr)) {
                __atomic_store_n(&j->stop, 1, __ATOMIC_RELAXED);
                return;
            }
            const sq_layer *l = m->layers[i];
            float *out = i == n - 1 ? j->y + (size_t)s0 * per_out : bufs[i & 1];
            int act_done = 0;
            uint8_t *mask_out = j->rule[i] != SQ_MASK_MAKE ? NULL
                              : mask == mbufs[0] ? mbufs[1] : mbufs[0];
            float *states = l->states ? l->states + (size_t)s0 * l->kind->states(l) : NULL;
            sq_fwd f = { .in = in, .out = out, .in_shape = &shc[i], .out_shape = &shc[i + 1],
                         .w = m->params ? m->params + l->param_off : NULL, .scratch = scratch,
                         .act_done = &act_done, .intr = j->intr, .mask = mask,
                         .mask_out = mask_out, .states = states };
            l->kind->forward(l, &f);
            if (j->rule[i] != SQ_MASK_KEEP)
                mask = mask_out;
            if (l->act && !act_done)
                sq_activation_apply(l->act, out, sq_shape_count(&shc[i + 1]),
                                    shc[i + 1].d[shc[i + 1].rank - 1]);
            in = out;
        }
        if (j->intr && *j->intr) {
            /* the last layer may have stopped early */
            __atomic_store_n(&j->stop, 1, __ATOMIC_RELAXED);
            return;
        }
    }
}

int sq_model_mask_rules(const sq_model *m, sq_mask_rule *rule)
{
    int masked = 0;
    for (int i = 0; i < m->n; i++) {
        rule[i] = sq_layer_mask_rule(m->layers[i], masked);
        masked = rule[i] != SQ_MASK_DROP;
    }
    return masked;
}

int sq_model_check_data(const sq_model *m, const sq_tensor *x, sq_error *err)
{
    if (m->n == 0 || !m->layers[0]->kind->check_data)
        return 0;
    return m->layers[0]->kind->check_data(m->layers[0], x->data, &x->shape, err);
}

/* How a batch runs: its shapes (sh: n + 1 of them, sh[0] the input's), the
 * samples per chunk and the working memory it holds. */
typedef struct {
    long nb;                     /* samples */
    long cb, nchunks, whole;     /* per chunk; chunks; those the threads take whole */
    size_t maxact, mrows;        /* floats per sample of the largest activation;
                                    mask bytes per sample */
    size_t region;               /* floats per thread */
    size_t need;                 /* floats of working memory (at least 1) */
    size_t outn;                 /* floats of output */
} fwd_plan;

/* Plans a run of m on input shape in with nt threads: the shapes (into
 * sh), the chunks and the working memory. Fails only on a shape the model
 * refuses. */
static int plan_forward(sq_model *m, const sq_shape *in, const sq_mask_rule *rule, int nt,
                        sq_shape *sh, fwd_plan *p, sq_error *err)
{
    int n = m->n;
    memset(p, 0, sizeof *p);
    sh[0] = *in;
    long nb = p->nb = in->d[0];
    for (int i = 0; i < n; i++) {
        const sq_layer *l = m->layers[i];
        if (sq_layer_check_input(l, &sh[i], &sh[i + 1], err) < 0)
            return -1;
        size_t c = sq_shape_count(&sh[i + 1]);
        if (c == SIZE_MAX)
            return sq_fail(err, "layer %s's output for this batch would be too large", l->name);
        long last = sh[i + 1].rank > 1 ? sh[i + 1].d[sh[i + 1].rank - 1] : 1;
        if (rule[i] == SQ_MASK_MAKE && nb > 0 && last > 0 && c / (size_t)nb / (size_t)last > p->mrows)
            p->mrows = c / (size_t)nb / (size_t)last;
        if (nb > 0 && c / (size_t)nb > p->maxact)
            p->maxact = c / (size_t)nb;
    }
    p->outn = sq_shape_count(&sh[n]);
    p->need = 1;
    if (n == 0 || nb == 0)
        return 0;
    /* samples per chunk, chunks, and the chunks the threads take whole */
    long cb = p->maxact ? (long)(CHUNK_FLOATS / p->maxact) : nb;
    if (cb < 1)
        cb = 1;
    if (cb > nb)
        cb = nb;
    long nchunks = (nb + cb - 1) / cb;
    if (nt > 1 && nchunks < nt && nb >= nt) {
        /* smaller chunks so every thread gets one */
        cb = nb / nt;
        nchunks = (nb + cb - 1) / cb;
    }
    p->cb = cb;
    p->nchunks = nchunks;
    p->whole = nt > 1 ? nchunks - nchunks % nt : 0;
    /* a chunk's shapes are the batch's with cb samples */
    size_t scratch = 0;
    for (int i = 0; i < n; i++) {
        const sq_layer *l = m->layers[i];
        sq_shape cur = sh[i];
        cur.d[0] = cb;
        if (l->kind->scratch) {
            size_t sc = l->kind->scratch(l, &cur);
            if (sc > scratch)
                scratch = sc;
        }
    }
    int regions = p->whole > 0 ? nt : 1;
    /* the two mask buffers, in floats */
    size_t mfloats = (2 * p->mrows * (size_t)cb + sizeof(float) - 1) / sizeof(float);
    p->region = 2 * p->maxact * (size_t)cb + scratch + mfloats;
    /* at least one float, so that layers never see a NULL buffer */
    p->need = p->region * (size_t)regions;
    if (p->need == 0)
        p->need = 1;
    return 0;
}

/* What a call holds while it runs: its input, its output and the working
 * memory of its chunks (not every layer's output for the whole batch: a
 * chunk's activations at a time). */
static int check_call_memory(const sq_shape *in, const fwd_plan *p, sq_error *err)
{
    double floats = (double)sq_shape_count(in) + (double)p->outn + (double)p->need;
    return sq_check_memory(floats * sizeof(float), "this call", err);
}

int sq_forward_check(sq_model *m, const sq_shape *in, sq_error *err)
{
    int n = m->n, nt = sq_pool_threads();
    if (in->rank < 1 || in->rank > SQ_MAX_RANK)
        return 0;
    for (int i = 0; i < in->rank; i++)
        if (in->d[i] <= 0)
            return 0;
    if (sq_shape_count(in) == SIZE_MAX)
        return 0;
    sq_shape *sh = sq_malloc((size_t)(n + 1) * sizeof *sh + (size_t)(n + 1) * sizeof(sq_mask_rule));
    if (!sh)
        return sq_fail(err, "out of memory");
    sq_mask_rule *rule = (sq_mask_rule *)(void *)(sh + n + 1);
    sq_model_mask_rules(m, rule);
    fwd_plan p;
    sq_error ignored;
    /* a shape the model refuses is the call's to report */
    int rc = plan_forward(m, in, rule, nt, sh, &p, &ignored) < 0 ? 0
           : check_call_memory(in, &p, err);
    free(sh);
    return rc;
}

int sq_forward(sq_model *m, const sq_tensor *x, sq_tensor *y,
               volatile int *intr, sq_error *err)
{
    int n = m->n;
    int nt = sq_pool_threads();
    sq_pool_wake();
    sq_shape *sh = sq_malloc((size_t)(n + 1) * (size_t)(nt + 1) * sizeof *sh
                             + (size_t)(n + 1) * sizeof(sq_mask_rule));
    if (!sh)
        return sq_fail(err, "out of memory");
    sq_mask_rule *rule = (sq_mask_rule *)(void *)(sh + (size_t)(n + 1) * (size_t)(nt + 1));
    sq_model_mask_rules(m, rule);
    if (sq_model_check_data(m, x, err) < 0)
        goto fail;
    fwd_plan p;
    if (plan_forward(m, &x->shape, rule, nt, sh, &p, err) < 0)
        goto fail;
    if (check_call_memory(&x->shape, &p, err) < 0)
        goto fail;
    y->data = NULL;
    if (n == 0 || p.nb == 0) {
        y->data = sq_malloc((p.outn ? p.outn : 1) * sizeof(float));
        if (!y->data) {
            sq_fail(err, "out of memory for the output");
            goto fail;
        }
        if (p.outn)
            memcpy(y->data, x->data, p.outn * sizeof(float));
        y->shape = sh[n];
        free(sh);
        return 0;
    }
    if (p.need > m->work_cap) {
        float *w = sq_realloc(m->work, p.need * sizeof(float));
        if (!w) {
            sq_fail(err, "out of memory for %zu MiB of working memory", p.need * sizeof(float) >> 20);
            goto fail;
        }
        m->work = w;
        m->work_cap = p.need;
    }
    y->data = sq_malloc((p.outn ? p.outn : 1) * sizeof(float));
    if (!y->data) {
        sq_fail(err, "out of memory for the output");
        goto fail;
    }
    y->shape = sh[n];
    fwd_job job = { m, sh, rule, p.mrows, sh + n + 1, x->data, y->data, p.cb, p.region,
                    p.maxact * (size_t)p.cb, intr, 0 };
    if (p.whole > 0)
        sq_parallel_for(p.whole, 1, run_chunks, &job);
    for (long c = p.whole; c < p.nchunks && !job.stop; c++)
        run_chunks(&job, c, c + 1, 0);
    if (job.stop) {
        sq_tensor_free(y);
        sq_fail(err, "Interrupted");
        goto fail;
    }
    free(sh);
    return 0;
fail:
    free(sh);
    return -1;
}

int sq_model_call(sq_model *m, const sq_tensor *x, sq_tensor *y, sq_rng *rng,
                  volatile int *intr, sq_error *err)
{
    if (x->shape.rank < 1)
        return sq_fail(err, "the input needs at least one dimension (the batch)");
    if (!m->built) {
        if (m->n == 0)
            return sq_fail(err, "the model has no layers yet: add some first");
        /* the deferred build: the input's full shape, batch included */
        sq_rng saved = *rng;
        if (sq_model_rebuild(m, &x->shape, rng, err) < 0)
            return -1;
        if (sq_forward(m, x, y, intr, err) < 0) {
            /* undo: back to the unbuilt state */
            sq_model_unbuild(m);
            *rng = saved;
            return -1;
        }
        m->deferred_built = 1;
        return 0;
    }
    if (m->explicit_input && sq_model_check_input(m, &x->shape, err) < 0)
        return -1;
    if (sq_forward(m, x, y, intr, err) < 0)
        return -1;
    if (!m->explicit_input && x->shape.rank == m->input_shape.rank
        && !sq_shape_eq(&x->shape, &m->input_shape)) {
        /* relax the differing entries to None, as Keras does */
        sq_shape relaxed = m->input_shape;
        for (int i = 0; i < relaxed.rank; i++)
            if (relaxed.d[i] != x->shape.d[i])
                relaxed.d[i] = -1;
        sq_error ignored;
        sq_model_build(m, m->layers, m->n, &relaxed, rng, &ignored);
    }
    return 0;
}
