/* backprop.c - the training passes: a forward pass that keeps every layer's
 * output, and the backward pass that turns the loss gradient into weight
 * gradients in the model's flat gradient buffer. The workspace is sized
 * once per fit, so no batch allocates. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "model.h"
#include "kernels/threads.h"

void sq_train_ws_free(sq_train_ws *ws)
{
    free(ws->block);
    free(ws->ptrs_block);
    free(ws->mask_block);
    free(ws->cper);
    memset(ws, 0, sizeof *ws);
}

/* Floats per sample of a layer's input (i) or output (i + 1). */
static size_t sample_floats(const sq_train_ws *ws, int i)
{
    return ws->cap > 0 ? sq_shape_count(&ws->sh[i]) / (size_t)ws->cap : 0;
}

/* Outputs of at least this many floats per sample (32 KB) leave the cache
 * before the next layer reads them back, at a batch of 32. */
#define CHUNK_BIG 8192
/* A chunk's biggest output: about 256 KB, in a core's L2. */
#define CHUNK_FLOATS 65536

/* Whether layer i may run a chunk of the batch at a time; sz as in
 * sq_train_ws_init (sz[3 i + 2]: its cache's floats for the whole batch). */
static int chunkable(const sq_model *m, const sq_train_ws *ws, const size_t *sz, int i)
{
    const sq_layer *l = m->layers[i];
    return l->kind->per_sample && l->activity.l1 == 0 && l->activity.l2 == 0
           && ws->rule[i] == SQ_MASK_DROP && (i == 0 || !ws->mask[i - 1])
           && sz[3 * i + 2] % (size_t)ws->cap == 0;
}

/* The leading layers that run in chunks: from the first, while their
 * outputs are big, and the layer that reads the last big one; never the
 * last layer (its gradient comes from the loss). Backward too when no
 * layer's input gradient, written at the start of a gradient buffer, can
 * reach where the top layer's output gradient for later chunks still
 * waits (the two buffers alternate: the layers at odd depths below the top
 * write into the top's). One thread only: on two, the chunks' layers
 * split into shares too small to pay (W3 at batch 32 ran ~20% slower, where
 * one thread ran ~8% faster). Returns the floats of weight gradient room a
 * chunk needs. */
static size_t plan_chunks(sq_train_ws *ws, const sq_model *m, const size_t *sz)
{
    int n = ws->n, e = 0;
    size_t most = 0, room = 0;
    ws->seg = ws->seg_bwd = 0;
    ws->chunk = 0;
    if (ws->cap < 2 || n < 3 || sq_pool_threads() > 1 || !chunkable(m, ws, sz, 0)
        || sample_floats(ws, 1) < CHUNK_BIG)
        return 0;
    while (e < n - 1 && chunkable(m, ws, sz, e)) {
        size_t out = sample_floats(ws, e + 1);
        if (out > most)
            most = out;
        e++;
        if (out < CHUNK_BIG)
            break;
    }
    long chunk = (long)((size_t)CHUNK_FLOATS / most);
    if (e < 2 || chunk >= ws->cap)
        return 0;
    ws->seg = e;
    ws->chunk = chunk > 0 ? chunk : 1;
    ws->seg_bwd = 1;
    for (int k = 1; k < e; k += 2)
        if (sample_floats(ws, e - 1 - k) > sample_floats(ws, e))
            ws->seg_bwd = 0;
    for (int i = 0; i < e; i++) {
        ws->cper[i] = sz[3 * i + 2] / (size_t)ws->cap;
        if (m->layers[i]->param_count > room)
            room = m->layers[i]->param_count;
    }
    return room;
}

/* Each layer's output mask: the input's for layers that keep it, room for
 * one byte per row of the batch for layers that make one. */
static int plan_masks(sq_train_ws *ws, const sq_model *m, sq_error *err)
{
    int n = ws->n;
    size_t bytes = 0;
    sq_model_mask_rules(m, ws->rule);
    for (int i = 0; i < n; i++) {
        const sq_shape *o = &ws->sh[i + 1];
        long last = o->rank > 1 ? o->d[o->rank - 1] : 1;
        if (ws->rule[i] == SQ_MASK_MAKE && last > 0)
            bytes += sq_shape_count(o) / (size_t)last;
    }
    if (bytes && !(ws->mask_block = sq_malloc(bytes)))
        return sq_fail(err, "out of memory");
    uint8_t *p = ws->mask_block;
    for (int i = 0; i < n; i++) {
        const sq_shape *o = &ws->sh[i + 1];
        long last = o->rank > 1 ? o->d[o->rank - 1] : 1;
        ws->mask[i] = NULL;
        if (ws->rule[i] == SQ_MASK_KEEP) {
            ws->mask[i] = i ? ws->mask[i - 1] : NULL;
        } else if (ws->rule[i] == SQ_MASK_MAKE && last > 0) {
            ws->mask[i] = p;
            p += sq_shape_count(o) / (size_t)last;
        }
    }
    return 0;
}

int sq_train_ws_init(sq_train_ws *ws, const sq_model *m, const sq_shape *in,
                     sq_error *err)
{
    memset(ws, 0, sizeof *ws);
    ws->jobs_at_step = ULONG_MAX;
    int n = m->n;
    ws->n = n;
    ws->cap = in->d[0];
    /* pointer arrays and shapes: one small allocation */
    size_t psize = (size_t)(2 * (n + 1)) * sizeof(sq_shape) + (size_t)(3 * n + 1) * sizeof(float *)
                 + (size_t)(n + 1) * (sizeof(uint8_t *) + sizeof(sq_mask_rule));
    char *pb = sq_calloc(1, psize);
    if (!pb)
        return sq_fail(err, "out of memory");
    ws->ptrs_block = (float *)(void *)pb;
    ws->sh = (sq_shape *)(void *)pb;
    ws->shb = ws->sh + n + 1;
    ws->z = (float **)(void *)(ws->shb + n + 1);
    ws->y = ws->z + n;
    ws->cache = ws->y + n;
    ws->mask = (uint8_t **)(void *)(ws->cache + n + 1);
    ws->rule = (sq_mask_rule *)(void *)(ws->mask + n + 1);
    ws->sh[0] = *in;
    size_t total = 0, maxact = sq_shape_count(in), scratch = 0;
    size_t *sz = sq_calloc((size_t)(3 * n + 1), sizeof *sz);
    int relu = sq_activation_find("relu");
    if (!sz) {
        sq_train_ws_free(ws);
        return sq_fail(err, "out of memory");
    }
    for (int i = 0; i < n; i++) {
        const sq_layer *l = m->layers[i];
        if (sq_layer_check_input(l, &ws->sh[i], &ws->sh[i + 1], err) < 0)
            goto fail;
        if (!l->kind->backward) {
            sq_fail(err, "layer %s (%s) cannot be trained: it has no backward pass",
                    l->name, l->kind->class_name);
            goto fail;
        }
        size_t c = sq_shape_count(&ws->sh[i + 1]);
        if (c == SIZE_MAX) {
            sq_fail(err, "layer %s's output for this batch would be too large", l->name);
            goto fail;
        }
        sz[3 * i] = c;
        sz[3 * i + 1] = l->act && l->act != relu ? c : 0;
        sz[3 * i + 2] = l->kind->cache ? l->kind->cache(l, &ws->sh[i]) : 0;
        total += sz[3 * i] + sz[3 * i + 1] + sz[3 * i + 2];
        if (c > maxact)
            maxact = c;
        size_t s1 = l->kind->scratch ? l->kind->scratch(l, &ws->sh[i]) : 0;
        size_t s2 = l->kind->scratch_bwd ? l->kind->scratch_bwd(l, &ws->sh[i]) : 0;
        if (s1 > scratch) scratch = s1;
        if (s2 > scratch) scratch = s2;
    }
    if (plan_masks(ws, m, err) < 0)
        goto fail;
    ws->cper = sq_calloc((size_t)n, sizeof *ws->cper);
    if (!ws->cper) {
        sq_fail(err, "out of memory");
        goto fail;
    }
    size_t dw_room = plan_chunks(ws, m, sz);
    total += 2 * maxact + scratch + dw_room;
    char what[64];
    snprintf(what, sizeof what, "running this model on a batch of %ld", ws->cap);
    if (sq_check_memory((double)total * sizeof(float), what, err) < 0)
        goto fail;
    ws->block = sq_malloc((total ? total : 1) * sizeof(float));
    if (!ws->block) {
        sq_fail(err, "out of memory for %zu MiB of training memory", total * sizeof(float) >> 20);
        goto fail;
    }
    float *p = ws->block;
    for (int i = 0; i < n; i++) {
        ws->z[i] = p;
        p += sz[3 * i];
        ws->y[i] = sz[3 * i + 1] ? p : ws->z[i];
        p += sz[3 * i + 1];
        ws->cache[i] = p;
        p += sz[3 * i + 2];
    }
    ws->g[0] = p;
    ws->g[1] = p + maxact;
    ws->scratch = p + 2 * maxact;
    ws->dw_tmp = dw_room ? ws->scratch + scratch : NULL;
    free(sz);
    return 0;
fail:
    free(sz);
    sq_train_ws_free(ws);
    return -1;
}

/* The shapes for a batch of b samples. */
static void batch_shapes(sq_train_ws *ws, long b)
{
    for (int i = 0; i <= ws->n; i++) {
        ws->shb[i] = ws->sh[i];
        ws->shb[i].d[0] = b;
    }
}

/* A layer with relu keeps one buffer, z == y, holding relu's output: the
 * layer may apply relu itself as it stores (a convolution does), else it
 * is applied in place; relu's backward needs only the sign of its output.
 * Other activations keep the values before (z) and after (y). Layer i on
 * samples [b0, b0 + nb) of the batch; in is the batch's input to it. */
static void forward_layer(sq_model *m, sq_train_ws *ws, int i, const float *in, long b0,
                          long nb, int training, sq_rng *rng)
{
    const sq_layer *l = m->layers[i];
    float *w = m->params + l->param_off;
    sq_shape is = ws->shb[i], os = ws->shb[i + 1];
    is.d[0] = nb;
    os.d[0] = nb;
    size_t pin = sample_floats(ws, i), pout = sample_floats(ws, i + 1);
    float *z = ws->z[i] + (size_t)b0 * pout, *y = ws->y[i] + (size_t)b0 * pout;
    int fused = l->act && ws->y[i] == ws->z[i], act_done = 0;
    sq_fwd f = { .in = in + (size_t)b0 * pin, .out = z, .in_shape = &is, .out_shape = &os,
                 .w = w, .scratch = ws->scratch, .training = training,
                 .cache = ws->cache[i] + (size_t)b0 * ws->cper[i],
                 .w_train = training ? w : NULL, .rng = rng,
                 .act_done = fused ? &act_done : NULL,
                 .sum = training ? ws->sum : NULL,
                 .mask = i ? ws->mask[i - 1] : NULL,
                 .mask_out = ws->rule[i] == SQ_MASK_MAKE ? ws->mask[i] : NULL,
                 .states = l->states };
    l->kind->forward(l, &f);
    if (l->act && !act_done) {
        size_t c = sq_shape_count(&os);
        if (!fused)
            memcpy(y, z, c * sizeof(float));
        sq_activation_apply(l->act, y, c, os.d[os.rank - 1]);
    }
}

void sq_train_forward(sq_model *m, sq_train_ws *ws, const float *x, long b,
                      int training, sq_rng *rng)
{
    batch_shapes(ws, b);
    /* the workers spin for this step's jobs; when the last step (all it
     * ran until now: backward, the optimizer) shared none, the model is
     * too small to share and they stay asleep, not spinning beside the
     * thread that does the work (a job would still wake them) */
    unsigned long jobs = sq_pool_jobs();
    if (jobs != ws->jobs_at_step)
        sq_pool_wake();
    ws->jobs_at_step = jobs;
    int seg = b > ws->chunk ? ws->seg : 0;
    for (long b0 = 0; b0 < b && seg; b0 += ws->chunk) {
        long nb = b - b0 < ws->chunk ? b - b0 : ws->chunk;
        for (int i = 0; i < seg; i++)
            forward_layer(m, ws, i, i ? ws->y[i - 1] : x, b0, nb, training, rng);
    }
    for (int i = seg; i < ws->n; i++)
        forward_layer(m, ws, i, i ? ws->y[i - 1] : x, 0, b, training, rng);
}

/* The batch an activity penalty is divided by: the whole batch, also when
 * this process has only its share of it. */
static long batch_all(const sq_train_ws *ws)
{
    return ws->batch_all > 0 ? ws->batch_all : ws->shb[ws->n].d[0];
}

/* Layer i's backward on samples [b0, b0 + nb): its output gradient in
 * g[cur], its input gradient into g[1 - cur] (or dx below the lowest
 * layer), its weight gradient into dw (NULL: none); the gradients in g at
 * the chunk's place in the batch, or at the start of g where `local` says
 * (1: the output's, 2: the input's), as inside a chunk's run of layers,
 * so that the buffers stay in the cache. relu_applied: the layer above
 * applied this layer's relu. Returns whether this layer applies the relu
 * of the one below. */
static int backward_layer(sq_model *m, sq_train_ws *ws, int i, int lowest, int cur,
                          int relu_applied, long b0, long nb, int local, const float *x,
                          int logits, float *dx, float *dw)
{
    int n = ws->n, relu = sq_activation_find("relu");
    const sq_layer *l = m->layers[i];
    sq_shape is = ws->shb[i], os = ws->shb[i + 1];
    is.d[0] = nb;
    os.d[0] = nb;
    size_t pin = sample_floats(ws, i), pout = sample_floats(ws, i + 1);
    size_t at_in = (size_t)b0 * pin, at_out = (size_t)b0 * pout;
    float *g = ws->g[cur] + (local & 1 ? 0 : at_out);
    size_t cnt = sq_shape_count(&os);
    /* the loss's gradient is with respect to the logits already */
    int skip_act = logits && i == n - 1;
    if (l->activity.l1 != 0 || l->activity.l2 != 0) {
        /* the activity penalty's gradient, with respect to the output
         * after the activation; through it when the loss's gradient is
         * already with respect to the logits (never a chunk of the batch) */
        float scale = 1.0f / (float)batch_all(ws);
        if (skip_act && l->act) {
            float *tmp = ws->g[1 - cur];
            memset(tmp, 0, cnt * sizeof *tmp);
            sq_regularizer_add_grad(&l->activity, ws->y[i], tmp, cnt, scale);
            sq_activation_backward(l->act, ws->z[i], ws->y[i], tmp, cnt, os.d[os.rank - 1]);
            for (size_t k = 0; k < cnt; k++)
                g[k] += tmp[k];
        } else {
            sq_regularizer_add_grad(&l->activity, ws->y[i], g, cnt, scale);
        }
    }
    if (l->act && !skip_act && !relu_applied)
        sq_activation_backward(l->act, ws->z[i] + at_out, ws->y[i] + at_out, g, cnt,
                               os.d[os.rank - 1]);
    const float *in = i ? ws->y[i - 1] : x;
    sq_bwd bw = { .in = in + at_in, .out = ws->z[i] + at_out, .dout = g,
                  .din = i > lowest ? ws->g[1 - cur] + (local & 2 ? 0 : at_in)
                         : i == 0 && dx ? dx + at_in : NULL,
                  .in_shape = &is, .out_shape = &os,
                  .w = m->params + l->param_off, .dw = dw,
                  .cache = ws->cache[i] + (size_t)b0 * ws->cper[i],
                  .scratch = ws->scratch,
                  .mask = i ? ws->mask[i - 1] : NULL,
                  .mask_out = ws->rule[i] == SQ_MASK_MAKE ? ws->mask[i] : NULL,
                  .sum = ws->sum };
    /* a max pooling above a layer with relu (and no activity penalty,
     * whose gradient relu's backward would have to see) applies it */
    const sq_layer *below = i > lowest ? m->layers[i - 1] : NULL;
    bw.relu_din = l->kind->relu_below && below && relu > 0 && below->act == relu
                  && below->activity.l1 == 0 && below->activity.l2 == 0;
    l->kind->backward(l, &bw);
    return bw.relu_din;
}

/* The backward pass; dx (not NULL) also gets dL/dx of the model input. */
static void backward(sq_model *m, sq_train_ws *ws, const float *x, const float *dlast,
                     int logits, float *dx)
{
    int n = ws->n;
    long b = ws->shb[n].d[0];
    /* layers below the lowest trainable one need no gradient at all */
    int lowest = n;
    for (int i = 0; i < n; i++) {
        if (dx || (m->layers[i]->trainable && m->layers[i]->param_count > 0)) {
            lowest = i;
            break;
        }
    }
    if (lowest == n)
        return;
    size_t c = sq_shape_count(&ws->shb[n]);
    memcpy(ws->g[0], dlast, c * sizeof(float));
    int cur = 0, relu_applied = 0;
    int seg = ws->seg_bwd && b > ws->chunk && lowest < ws->seg ? ws->seg : 0;
    for (int i = n - 1; i >= lowest && i >= seg; i--) {
        const sq_layer *l = m->layers[i];
        float *dw = l->trainable && l->param_count > 0 ? m->grads + l->param_off : NULL;
        relu_applied = backward_layer(m, ws, i, lowest, cur, relu_applied, 0, b, 0, x, logits,
                                      dx, dw);
        cur = 1 - cur;
    }
    if (!seg)
        return;
    /* the chunks through layers [lowest, seg), the gradients between them
     * at the start of the buffers: the first chunk writes the weight
     * gradients, the others add theirs */
    int cur0 = cur, relu0 = relu_applied;
    for (long b0 = 0; b0 < b; b0 += ws->chunk) {
        long nb = b - b0 < ws->chunk ? b - b0 : ws->chunk;
        cur = cur0;
        relu_applied = relu0;
        for (int i = seg - 1; i >= lowest; i--) {
            const sq_layer *l = m->layers[i];
            float *grads = m->grads + l->param_off, *dw = NULL;
            if (l->trainable && l->param_count > 0)
                dw = b0 ? ws->dw_tmp : grads;
            int local = (i < seg - 1 ? 1 : 0) | (i > lowest ? 2 : 0);
            relu_applied = backward_layer(m, ws, i, lowest, cur, relu_applied, b0, nb, local, x,
                                          logits, dx, dw);
            if (dw && b0)
                for (size_t k = 0; k < l->param_count; k++)
                    grads[k] += dw[k];
            cur = 1 - cur;
        }
    }
}

double sq_train_activity_penalty(const sq_model *m, const sq_train_ws *ws)
{
    double v = 0;
    for (int i = 0; i < ws->n; i++) {
        const sq_layer *l = m->layers[i];
        if (l->activity.l1 == 0 && l->activity.l2 == 0)
            continue;
        const sq_shape *os = &ws->shb[i + 1];
        v += sq_regularizer_value(&l->activity, ws->y[i], sq_shape_count(os))
             / (double)batch_all(ws);
    }
    return v;
}

void sq_train_backward(sq_model *m, sq_train_ws *ws, const float *x, long b,
                       const float *dlast, int logits)
{
    (void)b;  /* the shapes of the last forward pass hold it */
    backward(m, ws, x, dlast, logits, NULL);
}

void sq_train_backward_input(sq_model *m, sq_train_ws *ws, const float *x,
                             const float *dlast, float *dx)
{
    backward(m, ws, x, dlast, 0, dx);
}
