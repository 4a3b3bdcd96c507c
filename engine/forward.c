/* forward.c - running the model: `call` builds a deferred model on its first
 * input, checks the input against the model's, and runs the layers through
 * two ping-pong buffers and one scratch area kept in the model. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"

int sq_forward(sq_model *m, const sq_tensor *x, sq_tensor *y,
               volatile int *intr, sq_error *err)
{
    int n = m->n;
    sq_shape *sh = sq_malloc((size_t)(n + 1) * sizeof *sh);
    if (!sh)
        return sq_fail(err, "out of memory");
    sh[0] = x->shape;
    size_t maxact = 0, scratch = 0;
    for (int i = 0; i < n; i++) {
        const sq_layer *l = m->layers[i];
        if (sq_layer_check_input(l, &sh[i], &sh[i + 1], err) < 0)
            goto fail;
        size_t c = sq_shape_count(&sh[i + 1]);
        char what[SQ_NAME_MAX + 32];
        snprintf(what, sizeof what, "layer %s's output", l->name);
        if (sq_check_memory((double)c * sizeof(float), what, err) < 0)
            goto fail;
        if (c > maxact)
            maxact = c;
        if (l->kind->scratch) {
            size_t sc = l->kind->scratch(l, &sh[i]);
            if (sc > scratch)
                scratch = sc;
        }
    }
    size_t need = 2 * maxact + scratch;
    if (sq_check_memory(((double)need + (double)sq_shape_count(&sh[n])) * sizeof(float),
                        "this call", err) < 0)
        goto fail;
    if (need > m->work_cap) {
        float *w = sq_realloc(m->work, need * sizeof(float));
        if (!w) {
            sq_fail(err, "out of memory for %zu MiB of working memory", need * sizeof(float) >> 20);
            goto fail;
        }
        m->work = w;
        m->work_cap = need;
    }
    size_t outn = sq_shape_count(&sh[n]);
    y->data = sq_malloc((outn ? outn : 1) * sizeof(float));
    if (!y->data) {
        sq_fail(err, "out of memory for the output");
        goto fail;
    }
    y->shape = sh[n];
    const float *in = x->data;
    /* no layers (a model of just an Input) or no weights: nothing to point
     * into, and NULL + 0 is undefined */
    float *work = m->work;
    float *bufs[2] = { work, work ? work + maxact : NULL };
    float *scratch_at = work ? work + 2 * maxact : NULL;
    for (int i = 0; i < n; i++) {
        if (intr && *intr) {
            sq_tensor_free(y);
            sq_fail(err, "Interrupted");
            goto fail;
        }
        const sq_layer *l = m->layers[i];
        float *out = bufs[i & 1];
        sq_fwd f = { .in = in, .out = out, .in_shape = &sh[i], .out_shape = &sh[i + 1],
                     .w = m->params ? m->params + l->param_off : NULL,
                     .scratch = scratch_at };
        l->kind->forward(l, &f);
        if (l->act)
            sq_activation_apply(l->act, out, sq_shape_count(&sh[i + 1]),
                                sh[i + 1].d[sh[i + 1].rank - 1]);
        in = out;
    }
    memcpy(y->data, in, outn * sizeof(float));
    free(sh);
    return 0;
fail:
    free(sh);
    return -1;
}

/* Keras's InputSpec check of a model built from an explicit input. */
int sq_model_check_input(const sq_model *m, const sq_shape *x, sq_error *err)
{
    if (!m->explicit_input) {
        /* a model built by a call: each layer checks its own weights */
        sq_shape cur = *x, next;
        for (int i = 0; i < m->n; i++) {
            if (sq_layer_check_input(m->layers[i], &cur, &next, err) < 0)
                return -1;
            cur = next;
        }
        return 0;
    }
    char a[128], b[128];
    const sq_shape *want = &m->input_shape;
    if (x->rank != want->rank)
        return sq_fail(err, "Input 0 of layer %s is incompatible with the layer: expected "
                       "ndim=%d, found ndim=%d. Full shape received: %s", m->name,
                       want->rank, x->rank, sq_shape_str(x, a, sizeof a));
    for (int i = 0; i < x->rank; i++)
        if (want->d[i] >= 0 && want->d[i] != x->d[i])
            return sq_fail(err, "Input 0 of layer %s is incompatible with the layer: expected "
                           "shape=%s, found shape=%s", m->name,
                           sq_shape_str(want, a, sizeof a), sq_shape_str(x, b, sizeof b));
    return 0;
}

int sq_call(sq_session *s, const sq_tensor *x, sq_tensor *y, sq_error *err)
{
    sq_model *m = s->model;
    if (x->shape.rank < 1)
        return sq_fail(err, "the input needs at least one dimension (the batch)");
    if (!m->built) {
        if (m->n == 0)
            return sq_fail(err, "the model has no layers yet: add some first");
        /* the deferred build: the input's full shape, batch included */
        sq_layer **arr = sq_malloc((size_t)m->n * sizeof *arr);
        if (!arr)
            return sq_fail(err, "out of memory");
        memcpy(arr, m->layers, (size_t)m->n * sizeof *arr);
        sq_rng saved = s->rng;
        if (sq_model_build(m, arr, m->n, &x->shape, &s->rng, err) < 0) {
            free(arr);
            return -1;
        }
        if (sq_forward(m, x, y, s->interrupt, err) < 0) {
            /* undo: back to the unbuilt state */
            for (int i = 0; i < m->n; i++)
                m->layers[i]->built = 0;
            m->built = 0;
            m->nparams = 0;
            s->rng = saved;
            return -1;
        }
        m->deferred_built = 1;
        return 0;
    }
    if (m->explicit_input && sq_model_check_input(m, &x->shape, err) < 0)
        return -1;
    if (sq_forward(m, x, y, s->interrupt, err) < 0)
        return -1;
    if (!m->explicit_input && x->shape.rank == m->input_shape.rank
        && !sq_shape_eq(&x->shape, &m->input_shape)) {
        /* relax the differing entries to None, as Keras does */
        sq_shape relaxed = m->input_shape;
        for (int i = 0; i < relaxed.rank; i++)
            if (relaxed.d[i] != x->shape.d[i])
                relaxed.d[i] = -1;
        sq_error ignored;
        sq_model_build(m, m->layers, m->n, &relaxed, &s->rng, &ignored);
    }
    return 0;
}
