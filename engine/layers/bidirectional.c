/* bidirectional.c - Bidirectional(RNN), as Keras 2.6's wrappers.py: the
 * wrapped layer is only a template; a forward copy and a backward copy
 * (go_backwards flipped) are made from its options, each with a new cell,
 * named forward_NAME and backward_NAME, and their weights sit under those
 * names (bidirectional/forward_lstm/lstm_cell_1/kernel). The backward
 * copy's output sequence is reversed back before the merge; copies that
 * return sequences output 0 at masked steps (zero_output_for_mask). */
#include <stdio.h>
#include <string.h>
#include "layers/rnn.h"

enum { M_CONCAT, M_SUM, M_MUL, M_AVE, M_NONE };

typedef struct {
    int merge;
    sq_layer *fwd, *bwd;             /* the copies; owned */
    char wname[6][SQ_WNAME_MAX];
} bidi_state;

enum { O_MERGE, O_LAYER_NAME, O_FWD_CELL, O_BWD_CELL };
static const sq_optdef opts[] = {
    [O_MERGE] = { .name = "merge_mode", .type = OPT_STR, .def = "concat", .help = "how the two directions combine: concat, sum, mul, ave (None gives two outputs: not in a Sequential model)" },
    [O_LAYER_NAME] = { .name = "layer_name", .type = OPT_STR, .def = "", .hidden = 1 },
    [O_FWD_CELL] = { .name = "forward_cell_name", .type = OPT_STR, .def = "", .hidden = 1 },
    [O_BWD_CELL] = { .name = "backward_cell_name", .type = OPT_STR, .def = "", .hidden = 1 },
    { .name = NULL },
};

/* A copy of the wrapped RNN from its options, go_backwards flipped for the
 * backward one. */
static sq_layer *copy_rnn(const sq_layer *src, int backwards, sq_error *err)
{
    const sq_layer_kind *k = src->kind;
    int n = 0;
    while (k->opts[n].name)
        n++;
    sq_layer *c = sq_calloc(1, sizeof *c);
    if (c)
        c->kind = k;
    /* n options and the end slot, as every layer's options array has */
    if (!c || !(c->opt = sq_calloc((size_t)n + 1, sizeof *c->opt))
        || !(c->state = sq_calloc(1, k->state_size))) {
        sq_layer_free(c);
        sq_fail(err, "out of memory");
        return NULL;
    }
    c->trainable = 1;
    c->act = src->act;
    memcpy(c->opt, src->opt, (size_t)n * sizeof *c->opt);
    int gb = sq_opt_index(k, "go_backwards");
    if (backwards)
        c->opt[gb].i[0] = !c->opt[gb].i[0];
    if (k->configure(c, c->opt, err) < 0) {
        sq_layer_free(c);
        return NULL;
    }
    rnn_state *st = c->state;
    st->zero_output_for_mask = st->return_sequences;
    return c;
}

/* The names from the hidden options (or the Keras defaults): the wrapped
 * layer's, the copies', their cells', and the weights'. */
static void sync_names(sq_layer *l)
{
    bidi_state *bs = l->state;
    const rnn_state *ist = l->inner->state;
    const char *base = rnn_cell_base(ist->cell);
    if (l->opt[O_LAYER_NAME].s[0])
        snprintf(l->inner->name, sizeof l->inner->name, "%s", l->opt[O_LAYER_NAME].s);
    else if (!l->inner->name[0])
        snprintf(l->inner->name, sizeof l->inner->name, "%s", l->inner->kind->base_name);
    snprintf(bs->fwd->name, sizeof bs->fwd->name, "forward_%.*s", SQ_NAME_MAX - 10,
             l->inner->name);
    snprintf(bs->bwd->name, sizeof bs->bwd->name, "backward_%.*s", SQ_NAME_MAX - 10,
             l->inner->name);
    rnn_set_cell_name(bs->fwd, l->opt[O_FWD_CELL].s[0] ? l->opt[O_FWD_CELL].s : base);
    rnn_set_cell_name(bs->bwd, l->opt[O_BWD_CELL].s[0] ? l->opt[O_BWD_CELL].s : base);
    for (int d = 0; d < 2; d++) {
        const sq_layer *c = d ? bs->bwd : bs->fwd;
        const rnn_state *st = c->state;
        for (int k = 0; k < 3; k++)
            snprintf(bs->wname[3 * d + k], sizeof bs->wname[0], "%s/%s", c->name, st->wname[k]);
    }
}

static void deinit(sq_layer *l)
{
    bidi_state *bs = l->state;
    sq_layer_free(bs->fwd);
    sq_layer_free(bs->bwd);
    bs->fwd = bs->bwd = NULL;
}

/* The copies belong to one layer each: an undo snapshot copies them. */
static int clone_state(sq_layer *dst, const sq_layer *src)
{
    bidi_state *d = dst->state;
    const bidi_state *s = src->state;
    d->fwd = s->fwd ? sq_layer_clone(s->fwd) : NULL;
    d->bwd = s->bwd ? sq_layer_clone(s->bwd) : NULL;
    if ((s->fwd && !d->fwd) || (s->bwd && !d->bwd)) {
        deinit(dst);
        return -1;
    }
    return 0;
}

static int configure(sq_layer *l, const sq_optval *v, sq_error *err)
{
    bidi_state *bs = l->state;
    static const char *const modes[] = { "concat", "sum", "mul", "ave", "None" };
    bs->merge = -1;
    for (int i = 0; i < 5; i++)
        if (!strcmp(v[O_MERGE].s, modes[i]))
            bs->merge = i;
    if (bs->merge < 0)
        return sq_fail(err, "Invalid merge mode. Merge mode should be one of {\"sum\", \"mul\", "
                       "\"ave\", \"concat\", None}");
    if (!rnn_is(l->inner))
        return sq_fail(err, "Bidirectional wraps a recurrent layer (SimpleRNN, LSTM or GRU), "
                       "not %s", l->inner->kind->class_name);
    if (!(bs->fwd = copy_rnn(l->inner, 0, err)) || !(bs->bwd = copy_rnn(l->inner, 1, err))) {
        deinit(l);
        return -1;
    }
    sync_names(l);
    return 0;
}

/* Keras's order: the wrapped layer's cell and name, then a new cell for
 * each copy. */
static void auto_names(sq_layer *l, sq_namer *nm)
{
    const rnn_state *ist = l->inner->state;
    if (l->inner->kind->auto_names)
        l->inner->kind->auto_names(l->inner, nm);
    const char *bases[4] = { NULL, l->inner->kind->base_name, rnn_cell_base(ist->cell),
                             rnn_cell_base(ist->cell) };
    for (int i = O_LAYER_NAME; i <= O_BWD_CELL; i++) {
        if (l->opt[i].set)
            continue;
        nm->next(nm, bases[i], l->opt[i].s, sizeof l->opt[i].s);
        l->opt[i].set = 1;
    }
    sync_names(l);
}

static int output_shape(const sq_layer *l, const sq_shape *in, sq_shape *out, sq_error *err)
{
    const bidi_state *bs = l->state;
    const rnn_state *st = bs->fwd->state;
    char a[128], b[128];
    if (in->rank != 3)
        return sq_fail_ndim(err, l, 3, in);
    if (bs->merge == M_NONE)
        return sq_fail(err, "All layers in a Sequential model should have a single output "
                       "tensor. For multi-output layers, use the functional API.");
    if (st->stateful && l->built && in->d[0] != l->in_shape.d[0]) {
        sq_shape spec = { 3, { l->in_shape.d[0], -1, l->in_shape.d[2] } };
        return sq_fail(err, "Input 0 is incompatible with layer %s: expected shape=%s, found "
                       "shape=%s", l->name, sq_shape_str(&spec, a, sizeof a),
                       sq_shape_str(in, b, sizeof b));
    }
    if (rnn_output_shape(bs->fwd, in, out, err) < 0)
        return -1;
    if (bs->merge == M_CONCAT)
        out->d[out->rank - 1] *= 2;
    return 0;
}

static int weights(const sq_layer *l, const sq_shape *in, sq_weight_spec *w)
{
    const bidi_state *bs = l->state;
    int n = rnn_weights(bs->fwd, in, w);
    rnn_weights(bs->bwd, in, w + n);
    for (int k = 0; k < n; k++) {
        w[k].name = bs->wname[k];
        w[n + k].name = bs->wname[3 + k];
    }
    return 2 * n;
}

static sq_mask_rule mask_rule(const sq_layer *l, int in_masked)
{
    const bidi_state *bs = l->state;
    return rnn_mask(bs->fwd, in_masked);
}

static size_t states(const sq_layer *l)
{
    const bidi_state *bs = l->state;
    return 2 * rnn_states(bs->fwd);
}

/* The sizes: each copy's outputs (units floats per output row), a copy's
 * cache, its weights. */
static size_t out_count(const sq_layer *l, const sq_shape *in)
{
    const bidi_state *bs = l->state;
    const rnn_state *st = bs->fwd->state;
    size_t rows = (size_t)(in->d[0] < 0 ? 0 : in->d[0])
                * (size_t)(st->return_sequences ? (in->d[1] < 0 ? 0 : in->d[1]) : 1);
    return rows * (size_t)st->units;
}

static size_t weight_count(const sq_layer *c, const sq_shape *in)
{
    sq_weight_spec w[SQ_MAX_WEIGHTS];
    int n = rnn_weights(c, in, w);
    size_t total = 0;
    for (int k = 0; k < n; k++)
        total += sq_weight_count(&w[k]);
    return total;
}

/* The cache: both copies', then (mul) their outputs. The scratch: a
 * copy's, then the backward copy's outputs (merges other than concat). */
static size_t cache(const sq_layer *l, const sq_shape *in)
{
    const bidi_state *bs = l->state;
    return rnn_cache(bs->fwd, in) + rnn_cache(bs->bwd, in)
         + (bs->merge == M_MUL ? 2 * out_count(l, in) : 0);
}

static size_t scratch(const sq_layer *l, const sq_shape *in)
{
    const bidi_state *bs = l->state;
    return rnn_scratch(bs->fwd, in) + (bs->merge != M_CONCAT ? out_count(l, in) : 0);
}

static size_t scratch_bwd(const sq_layer *l, const sq_shape *in)
{
    const bidi_state *bs = l->state;
    return rnn_scratch_bwd(bs->fwd, in) + 2 * out_count(l, in);
}

static void forward(const sq_layer *l, const sq_fwd *f)
{
    const bidi_state *bs = l->state;
    const rnn_state *st = bs->fwd->state;
    long u = st->units;
    size_t no = out_count(l, f->in_shape), ns = rnn_states(bs->fwd);
    size_t c1 = f->cache ? rnn_cache(bs->fwd, f->in_shape) : 0;
    size_t c2 = f->cache ? rnn_cache(bs->bwd, f->in_shape) : 0;
    sq_fwd ff = *f, fb = *f;
    ff.cache = f->cache;
    fb.cache = f->cache ? f->cache + c1 : NULL;
    fb.w = f->w + weight_count(bs->fwd, f->in_shape);
    float *sf = f->states, *sb = f->states ? f->states + ns : NULL;
    if (bs->merge == M_CONCAT) {
        rnn_run_forward(bs->fwd, &ff, f->out, 2 * u, 0, sf, (long)(2 * ns));
        rnn_run_forward(bs->bwd, &fb, f->out + u, 2 * u, 1, sb, (long)(2 * ns));
        return;
    }
    float *yf = f->out, *yb = f->scratch + rnn_scratch(bs->fwd, f->in_shape);
    if (f->cache && bs->merge == M_MUL) {
        yf = f->cache + c1 + c2;
        yb = yf + no;
    }
    rnn_run_forward(bs->fwd, &ff, yf, u, 0, sf, (long)(2 * ns));
    rnn_run_forward(bs->bwd, &fb, yb, u, 1, sb, (long)(2 * ns));
    for (size_t i = 0; i < no; i++) {
        float a = yf[i], b = yb[i];
        f->out[i] = bs->merge == M_SUM ? a + b : bs->merge == M_MUL ? a * b : (a + b) / 2;
    }
}

static void backward(const sq_layer *l, const sq_bwd *b)
{
    const bidi_state *bs = l->state;
    const rnn_state *st = bs->fwd->state;
    long u = st->units;
    size_t no = out_count(l, b->in_shape);
    size_t c1 = rnn_cache(bs->fwd, b->in_shape), c2 = rnn_cache(bs->bwd, b->in_shape);
    size_t wf = weight_count(bs->fwd, b->in_shape);
    sq_bwd bf = *b, bb = *b;
    bb.cache = b->cache + c1;
    bb.w = b->w + wf;
    bb.dw = b->dw ? b->dw + wf : NULL;
    if (bs->merge == M_CONCAT) {
        rnn_run_backward(bs->fwd, &bf, b->dout, 2 * u, 0, 0);
        rnn_run_backward(bs->bwd, &bb, b->dout + u, 2 * u, 1, 1);
        return;
    }
    if (bs->merge == M_SUM) {
        rnn_run_backward(bs->fwd, &bf, b->dout, u, 0, 0);
        rnn_run_backward(bs->bwd, &bb, b->dout, u, 1, 1);
        return;
    }
    float *df = b->scratch + rnn_scratch_bwd(bs->fwd, b->in_shape), *db = df + no;
    const float *yf = b->cache + c1 + c2, *yb = yf + no;
    for (size_t i = 0; i < no; i++) {
        if (bs->merge == M_AVE) {
            df[i] = db[i] = b->dout[i] / 2;
        } else {
            df[i] = b->dout[i] * yb[i];
            db[i] = b->dout[i] * yf[i];
        }
    }
    rnn_run_backward(bs->fwd, &bf, df, u, 0, 0);
    rnn_run_backward(bs->bwd, &bb, db, u, 1, 1);
}

/* The two copies' multiply-adds (merging them by mul or ave multiplies
 * values by values, not by weights: not counted). */
static size_t macs(const sq_layer *l, const sq_shape *in, const sq_shape *out, sbuf *why)
{
    const bidi_state *st = l->state;
    size_t f = rnn_macs(st->fwd, in, out, NULL), b = rnn_macs(st->bwd, in, out, NULL);
    if (why)
        sb_printf(why, "%zu = %zu + %zu  (the forward copy's and the backward copy's, each as "
                  "the wrapped %s's)", f + b, f, b, st->fwd->kind->class_name);
    return f + b;
}

const sq_layer_kind sq_kind_bidirectional = {
    .class_name = "Bidirectional",
    .base_name = "bidirectional",
    .opts = opts,
    .summary = "runs a recurrent layer forwards and backwards and merges the two",
    .shape_rule = "(B, T, d) -> (B, 2*units) with merge_mode=concat, (B, units) otherwise "
                  "(with return_sequences (B, T, ...)); params twice the wrapped layer's",
    .example = "input 10 8; add bidirectional lstm 8 return_sequences=true; "
               "add bidirectional gru 4 merge_mode=sum",
    .state_size = sizeof(bidi_state),
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
    .reads_mask = 1,
    .states = states,
    .auto_names = auto_names,
    .wraps = 1,
    .deinit = deinit,
    .clone_state = clone_state,
};
