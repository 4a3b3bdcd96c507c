/* backprop.c - the training passes: a forward pass that keeps every layer's
 * output, and the backward pass that turns the loss gradient into weight
 * gradients in the model's flat gradient buffer. The workspace is sized
 * once per fit, so no batch allocates. */
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
    memset(ws, 0, sizeof *ws);
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
    total += 2 * maxact + scratch;
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
 * Other activations keep the values before (z) and after (y). */
void sq_train_forward(sq_model *m, sq_train_ws *ws, const float *x, long b,
                      int training, sq_rng *rng)
{
    batch_shapes(ws, b);
    sq_pool_wake();
    const float *in = x;
    for (int i = 0; i < ws->n; i++) {
        const sq_layer *l = m->layers[i];
        float *w = m->params + l->param_off;
        int fused = l->act && ws->y[i] == ws->z[i], act_done = 0;
        sq_fwd f = { .in = in, .out = ws->z[i], .in_shape = &ws->shb[i],
                     .out_shape = &ws->shb[i + 1], .w = w, .scratch = ws->scratch,
                     .training = training, .cache = ws->cache[i],
                     .w_train = training ? w : NULL, .rng = rng,
                     .act_done = fused ? &act_done : NULL,
                     .sum = training ? ws->sum : NULL,
                     .mask = i ? ws->mask[i - 1] : NULL,
                     .mask_out = ws->rule[i] == SQ_MASK_MAKE ? ws->mask[i] : NULL,
                     .states = l->states };
        l->kind->forward(l, &f);
        if (l->act && !act_done) {
            size_t c = sq_shape_count(&ws->shb[i + 1]);
            if (!fused)
                memcpy(ws->y[i], ws->z[i], c * sizeof(float));
            sq_activation_apply(l->act, ws->y[i], c, ws->shb[i + 1].d[ws->shb[i + 1].rank - 1]);
        }
        in = ws->y[i];
    }
}

/* The batch an activity penalty is divided by: the whole batch, also when
 * this process has only its share of it. */
static long batch_all(const sq_train_ws *ws)
{
    return ws->batch_all > 0 ? ws->batch_all : ws->shb[ws->n].d[0];
}

/* The backward pass; dx (not NULL) also gets dL/dx of the model input. */
static void backward(sq_model *m, sq_train_ws *ws, const float *x, const float *dlast,
                     int logits, float *dx)
{
    int n = ws->n;
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
    float *g = ws->g[0];
    size_t c = sq_shape_count(&ws->shb[n]);
    memcpy(g, dlast, c * sizeof(float));
    int cur = 0, relu_applied = 0;
    int relu = sq_activation_find("relu");
    for (int i = n - 1; i >= lowest; i--) {
        const sq_layer *l = m->layers[i];
        const sq_shape *os = &ws->shb[i + 1];
        /* the loss's gradient is with respect to the logits already */
        int skip_act = logits && i == n - 1;
        if (l->activity.l1 != 0 || l->activity.l2 != 0) {
            /* the activity penalty's gradient, with respect to the output
             * after the activation; through it when the loss's gradient is
             * already with respect to the logits */
            size_t cnt = sq_shape_count(os);
            float scale = 1.0f / (float)batch_all(ws);
            if (skip_act && l->act) {
                float *tmp = ws->g[1 - cur];
                memset(tmp, 0, cnt * sizeof *tmp);
                sq_regularizer_add_grad(&l->activity, ws->y[i], tmp, cnt, scale);
                sq_activation_backward(l->act, ws->z[i], ws->y[i], tmp, cnt, os->d[os->rank - 1]);
                for (size_t k = 0; k < cnt; k++)
                    ws->g[cur][k] += tmp[k];
            } else {
                sq_regularizer_add_grad(&l->activity, ws->y[i], ws->g[cur], cnt, scale);
            }
        }
        if (l->act && !skip_act && !relu_applied)
            sq_activation_backward(l->act, ws->z[i], ws->y[i], ws->g[cur],
                                   sq_shape_count(os), os->d[os->rank - 1]);
        int trains = l->trainable && l->param_count > 0;
        sq_bwd bw = { .in = i ? ws->y[i - 1] : x, .out = ws->z[i], .dout = ws->g[cur],
                      .din = i > lowest ? ws->g[1 - cur] : i == 0 ? dx : NULL,
                      .in_shape = &ws->shb[i], .out_shape = os,
                      .w = m->params + l->param_off,
                      .dw = trains ? m->grads + l->param_off : NULL,
                      .cache = ws->cache[i], .scratch = ws->scratch,
                      .mask = i ? ws->mask[i - 1] : NULL,
                      .mask_out = ws->rule[i] == SQ_MASK_MAKE ? ws->mask[i] : NULL,
                      .sum = ws->sum };
        /* a max pooling above a layer with relu (and no activity penalty,
         * whose gradient relu's backward would have to see) applies it */
        const sq_layer *below = i > lowest ? m->layers[i - 1] : NULL;
        bw.relu_din = l->kind->relu_below && below && relu > 0 && below->act == relu
                      && below->activity.l1 == 0 && below->activity.l2 == 0;
        relu_applied = bw.relu_din;
        l->kind->backward(l, &bw);
        cur = 1 - cur;
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
