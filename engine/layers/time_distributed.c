/* time_distributed.c - TimeDistributed(layer), as Keras 2.6's wrappers.py:
 * the wrapped layer runs on every time step, which here is the layer run
 * once on (B*T, ...) -- the same memory, batch and time merged. Its
 * weights are the wrapper's (time_distributed/kernel: Keras builds the
 * wrapped layer inside the wrapper's name scope), and so is its
 * activation (the core applies it). Masks: the wrapped layer's own rule,
 * and where it drops an input mask, Keras's any() of the mask over each
 * time step; a wrapped layer without mask support on a masked input is
 * Keras's error. */
#include <stdio.h>
#include <string.h>
#include "layers/layer.h"

enum { O_LAYER_NAME };
static const sq_optdef opts[] = {
    [O_LAYER_NAME] = { .name = "layer_name", .type = OPT_STR, .def = "", .hidden = 1 },
    { .name = NULL },
};

static void sync_name(sq_layer *l)
{
    if (l->opt[O_LAYER_NAME].s[0])
        snprintf(l->inner->name, sizeof l->inner->name, "%s", l->opt[O_LAYER_NAME].s);
    else if (!l->inner->name[0])
        snprintf(l->inner->name, sizeof l->inner->name, "%s", l->inner->kind->base_name);
}

static int configure(sq_layer *l, const sq_optval *v, sq_error *err)
{
    (void)v;
    const sq_layer *in = l->inner;
    int st = sq_opt_index(in->kind, "stateful");
    if (st >= 0 && in->opt[st].i[0])
        return sq_fail(err, "TimeDistributed cannot wrap a stateful layer (its states are "
                       "per sample, not per time step)");
    /* the core applies the activation: the wrapper's is the wrapped one's */
    l->act = in->act;
    sync_name(l);
    return 0;
}

static void auto_names(sq_layer *l, sq_namer *nm)
{
    if (l->inner->kind->auto_names)
        l->inner->kind->auto_names(l->inner, nm);
    if (!l->opt[O_LAYER_NAME].set) {
        nm->next(nm, l->inner->kind->base_name, l->opt[O_LAYER_NAME].s,
                 sizeof l->opt[O_LAYER_NAME].s);
        l->opt[O_LAYER_NAME].set = 1;
    }
    sync_name(l);
}

/* (B, T, rest...) -> (B*T, rest...); -1 when either is unknown. */
static sq_shape inner_shape(const sq_shape *in)
{
    sq_shape s = { in->rank - 1, { 0 } };
    s.d[0] = in->d[0] < 0 || in->d[1] < 0 ? -1 : in->d[0] * in->d[1];
    for (int i = 2; i < in->rank; i++)
        s.d[i - 1] = in->d[i];
    return s;
}

static int output_shape(const sq_layer *l, const sq_shape *in, sq_shape *out, sq_error *err)
{
    char s[128];
    if (in->rank < 3)
        return sq_fail(err, "`TimeDistributed` Layer should be passed an `input_shape ` with at "
                       "least 3 dimensions, received: %s", sq_shape_str(in, s, sizeof s));
    sq_shape is = inner_shape(in), os;
    if (l->inner->kind->output_shape(l->inner, &is, &os, err) < 0)
        return -1;
    if (os.rank + 1 > SQ_MAX_RANK)
        return sq_fail(err, "TimeDistributed: the output would have more than %d dimensions",
                       SQ_MAX_RANK);
    out->rank = os.rank + 1;
    out->d[0] = in->d[0];
    out->d[1] = in->d[1];
    for (int i = 1; i < os.rank; i++)
        out->d[i + 1] = os.d[i];
    return 0;
}

static int weights(const sq_layer *l, const sq_shape *in, sq_weight_spec *w)
{
    sq_shape is = inner_shape(in);
    return l->inner->kind->weights ? l->inner->kind->weights(l->inner, &is, w) : 0;
}

static size_t scratch(const sq_layer *l, const sq_shape *in)
{
    sq_shape is = inner_shape(in);
    return l->inner->kind->scratch ? l->inner->kind->scratch(l->inner, &is) : 0;
}

static size_t cache(const sq_layer *l, const sq_shape *in)
{
    sq_shape is = inner_shape(in);
    return l->inner->kind->cache ? l->inner->kind->cache(l->inner, &is) : 0;
}

static size_t scratch_bwd(const sq_layer *l, const sq_shape *in)
{
    sq_shape is = inner_shape(in);
    return l->inner->kind->scratch_bwd ? l->inner->kind->scratch_bwd(l->inner, &is) : 0;
}

static sq_mask_rule mask_rule(const sq_layer *l, int in_masked)
{
    sq_mask_rule r = sq_layer_mask_rule(l->inner, in_masked);
    return r == SQ_MASK_DROP && in_masked ? SQ_MASK_MAKE : r;
}

/* Keras 2.6's TimeDistributed.compute_mask asks the wrapped layer for the
 * mask of the (B*T, ...) steps (when the batch is not fixed), and a layer
 * without mask support raises base_layer's TypeError. */
static int mask_check(const sq_layer *l, const sq_shape *in, sq_error *err)
{
    if (in->d[0] > 0)
        return 0;
    if (l->inner->kind->mask) {
        /* the wrapped layer gets the steps' mask with its input */
        sq_shape is = inner_shape(in);
        return sq_layer_mask_check(l->inner, &is, 1, err);
    }
    char shape[128] = "(None,";
    for (int i = 2; i < in->rank - 1; i++)
        snprintf(shape + strlen(shape), sizeof shape - strlen(shape), "%s%ld",
                 i > 2 ? ", " : " ", in->d[i]);
    snprintf(shape + strlen(shape), sizeof shape - strlen(shape), ")");
    return sq_fail(err, "Layer %s does not support masking, but was passed an input_mask: "
                   "Tensor(shape=%s, dtype=bool) (TimeDistributed asks the layer it wraps for "
                   "the mask of every step of its masked input; put the masking after it, or "
                   "wrap a layer that takes masks)", l->inner->name, shape);
}

static int check_data(const sq_layer *l, const float *in, const sq_shape *in_shape,
                      sq_error *err)
{
    if (!l->inner->kind->check_data || in_shape->rank < 3)
        return 0;
    sq_shape is = inner_shape(in_shape);
    return l->inner->kind->check_data(l->inner, in, &is, err);
}

/* Rows per time step of a tensor of shape sh (B, T, ..., last). */
static size_t rows_per_step(const sq_shape *sh)
{
    size_t r = 1;
    for (int i = 2; i < sh->rank - 1; i++)
        r *= (size_t)sh->d[i];
    return r;
}

static void forward(const sq_layer *l, const sq_fwd *f)
{
    sq_shape is = inner_shape(f->in_shape), os = inner_shape(f->out_shape);
    sq_mask_rule r = sq_layer_mask_rule(l->inner, f->mask != NULL);
    sq_fwd g = *f;
    g.in_shape = &is;
    g.out_shape = &os;
    g.mask_out = r == SQ_MASK_MAKE ? f->mask_out : NULL;
    g.states = NULL;
    l->inner->kind->forward(l->inner, &g);
    if (r == SQ_MASK_DROP && f->mask && f->mask_out) {
        /* Keras: the input mask, any() over each step, on every row of it */
        size_t steps = (size_t)f->in_shape->d[0] * (size_t)f->in_shape->d[1];
        size_t ri = rows_per_step(f->in_shape), ro = rows_per_step(f->out_shape);
        for (size_t s = 0; s < steps; s++) {
            uint8_t any = 0;
            for (size_t k = 0; k < ri; k++)
                any |= f->mask[s * ri + k];
            memset(f->mask_out + s * ro, any != 0, ro);
        }
    }
}

static void backward(const sq_layer *l, const sq_bwd *b)
{
    sq_shape is = inner_shape(b->in_shape), os = inner_shape(b->out_shape);
    sq_bwd g = *b;
    g.in_shape = &is;
    g.out_shape = &os;
    l->inner->kind->backward(l->inner, &g);
}

/* The wrapped layer's multiply-adds on one step, times the steps. */
static size_t macs(const sq_layer *l, const sq_shape *in, const sq_shape *out, sbuf *why)
{
    if (in->d[1] <= 0) {
        if (why)
            sb_printf(why, "0  (the number of steps is not known)");
        return 0;
    }
    sq_shape is = inner_shape(in), os = inner_shape(out);
    const sq_layer *w = l->inner;
    size_t one = sq_macs_on(w, &is, &os, NULL);
    size_t total = (size_t)in->d[1] * one;
    if (why)
        sb_printf(why, "%zu = %ld * %zu  (the wrapped %s's on each of the %ld steps)", total,
                  in->d[1], one, w->kind->class_name, in->d[1]);
    return total;
}

const sq_layer_kind sq_kind_time_distributed = {
    .class_name = "TimeDistributed",
    .base_name = "time_distributed",
    .opts = opts,
    .summary = "applies a layer to every time step (axis 1) of its input",
    .shape_rule = "(B, T, ...) -> (B, T, the wrapped layer's output for (...)); params the "
                  "wrapped layer's",
    .example = "input 10 8; add timedistributed dense 4 relu",
    .configure = configure,
    .output_shape = output_shape,
    .weights = weights,
    .macs = macs,
    .scratch = scratch,
    .forward = forward,
    .cache = cache,
    .scratch_bwd = scratch_bwd,
    .backward = backward,
    .mask = mask_rule,
    .mask_check = mask_check,
    .check_data = check_data,
    .auto_names = auto_names,
    .wraps = 1,
};
