/* permute.c - Permute(dims): reorders the axes after the batch; dims are
 * 1-based (Permute((2, 1)) swaps steps and channels). */
#include <stdio.h>
#include <string.h>
#include "layers/layer.h"
#include "layers/walk.h"

typedef struct {
    int n;                       /* entries of dims */
    long dims[SQ_MAX_RANK - 1];  /* 1-based input axis of each output axis */
} permute_state;

static const sq_optdef opts[] = {
    { .name = "dims", .type = OPT_STR, .help = "the new order of the axes after the batch, 1-based: 2,1 or (2, 1)" },
    { .name = NULL },
};

/* Python's repr of a tuple of ints. */
static void tuple_str(const long *v, int n, char *buf, size_t size)
{
    size_t len = (size_t)snprintf(buf, size, "(");
    for (int i = 0; i < n && len < size; i++)
        len += (size_t)snprintf(buf + len, size - len, "%s%ld", i ? ", " : "", v[i]);
    if (len < size)
        snprintf(buf + len, size - len, n == 1 ? ",)" : ")");
}

static int configure(sq_layer *l, const sq_optval *v, sq_error *err)
{
    permute_state *st = l->state;
    if (sq_parse_ints(v[0].s, st->dims, SQ_MAX_RANK - 1, &st->n, err) < 0)
        return -1;
    int seen[SQ_MAX_RANK] = { 0 }, ok = 1;
    for (int i = 0; i < st->n; i++) {
        if (st->dims[i] < 1 || st->dims[i] > st->n || seen[st->dims[i]])
            ok = 0;
        else
            seen[st->dims[i]] = 1;
    }
    if (!ok) {
        char t[128];
        tuple_str(st->dims, st->n, t, sizeof t);
        return sq_fail(err, "Invalid permutation `dims` for Permute Layer: %s. The set of "
                       "indices in `dims` must be consecutive and start from 1.", t);
    }
    /* kept as "2,1": one word in a saved model */
    char *s = l->opt[0].s;
    size_t len = 0;
    for (int i = 0; i < st->n; i++)
        len += (size_t)snprintf(s + len, sizeof l->opt[0].s - len, "%s%ld", i ? "," : "",
                                st->dims[i]);
    return 0;
}

static int output_shape(const sq_layer *l, const sq_shape *in, sq_shape *out,
                        sq_error *err)
{
    const permute_state *st = l->state;
    if (in->rank != st->n + 1)
        return sq_fail_ndim(err, l, st->n + 1, in);
    out->rank = in->rank;
    out->d[0] = in->d[0];
    for (int i = 0; i < st->n; i++)
        out->d[1 + i] = in->d[st->dims[i]];
    return 0;
}

/* A walk over one output sample in C order whose offset is the position
 * of the same element in the input sample. */
static void walk_input(const permute_state *st, const sq_shape *is, sq_walk *w)
{
    long istride[SQ_MAX_RANK], odim[SQ_MAX_RANK], ostride[SQ_MAX_RANK];
    sq_walk_strides(st->n, is->d + 1, istride);
    for (int i = 0; i < st->n; i++) {
        odim[i] = is->d[st->dims[i]];
        ostride[i] = istride[st->dims[i] - 1];
    }
    sq_walk_init(w, st->n, odim, ostride);
}

static void forward(const sq_layer *l, const sq_fwd *f)
{
    const permute_state *st = l->state;
    size_t per = sq_shape_count(f->in_shape) / (size_t)(f->in_shape->d[0] ? f->in_shape->d[0] : 1);
    sq_walk w;
    walk_input(st, f->in_shape, &w);
    for (long b = 0; b < f->in_shape->d[0]; b++) {
        const float *x = f->in + (size_t)b * per;
        float *y = f->out + (size_t)b * per;
        for (size_t e = 0; e < per; e++, sq_walk_next(&w))
            y[e] = x[w.off];
    }
}

/* Each gradient goes back to where its element came from. */
static void backward(const sq_layer *l, const sq_bwd *b)
{
    const permute_state *st = l->state;
    if (!b->din)
        return;
    size_t per = sq_shape_count(b->in_shape) / (size_t)(b->in_shape->d[0] ? b->in_shape->d[0] : 1);
    sq_walk w;
    walk_input(st, b->in_shape, &w);
    for (long n = 0; n < b->in_shape->d[0]; n++) {
        const float *dy = b->dout + (size_t)n * per;
        float *dx = b->din + (size_t)n * per;
        for (size_t e = 0; e < per; e++, sq_walk_next(&w))
            dx[w.off] = dy[e];
    }
}

/* Output axis i is input axis dims[i]. */
static void explain(const sq_layer *l, const sq_shape *in, const sq_shape *out, sbuf *b)
{
    const permute_state *st = l->state;
    (void)in;
    for (int i = 0; i < st->n; i++) {
        char lab[32];
        snprintf(lab, sizeof lab, "axis %d", i + 1);
        sq_explain_line(b, lab, "%ld  (input axis %ld)", out->d[1 + i], st->dims[i]);
    }
    sq_explain_no_params(b);
}

const sq_layer_kind sq_kind_permute = {
    .class_name = "Permute",
    .base_name = "permute",
    .opts = opts,
    .npositional = 1,
    .summary = "reorders the axes after the batch (dims 1-based)",
    .state_size = sizeof(permute_state),
    .configure = configure,
    .output_shape = output_shape,
    .forward = forward,
    .backward = backward,
    .shape_rule = "(B, D1, ..., Dn) -> (B, D[dims[0]], ..., D[dims[n-1]]); e.g. dims 2,1: (B, T, C) -> (B, C, T); no params",
    .example = "input 6 4; add permute 2,1",
    .explain = explain,
};
