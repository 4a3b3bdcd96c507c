/* reshape.c - Reshape(target_shape): (B,) + target, one -1 inferred. */
#include <stdio.h>
#include <string.h>
#include "layers/layer.h"

static const sq_optdef opts[] = {
    { .name = "target_shape", .type = OPT_STR, .help = "new shape without the batch, e.g. 4,4,2 or (-1, 8)" },
    { .name = NULL },
};

typedef struct {
    int n;
    long d[SQ_MAX_RANK - 1];
} reshape_state;

static int configure(sq_layer *l, const sq_optval *v, sq_error *err)
{
    reshape_state *st = l->state;
    if (sq_parse_ints(v[0].s, st->d, SQ_MAX_RANK - 1, &st->n, err) < 0)
        return -1;
    int unknown = 0;
    for (int i = 0; i < st->n; i++) {
        if (st->d[i] == -1)
            unknown++;
        else if (st->d[i] <= 0)
            return sq_fail(err, "Reshape: target_shape entries must be positive or -1, got %ld",
                           st->d[i]);
    }
    if (unknown > 1)
        return sq_fail(err, "Can only specify one unknown dimension.");
    return 0;
}

static void list_str(const long *d, int n, char *buf, size_t size)
{
    size_t len = 0;
    len += (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < n && len < size; i++)
        len += (size_t)snprintf(buf + len, size - len, "%s%ld", i ? ", " : "", d[i]);
    if (len < size)
        snprintf(buf + len, size - len, "]");
}

static int output_shape(const sq_layer *l, const sq_shape *in, sq_shape *out,
                        sq_error *err)
{
    const reshape_state *st = l->state;
    long total = 1, prod = 1, known_d[SQ_MAX_RANK];
    int known = 1, nk = 0, unk = -1;
    char what[SQ_NAME_MAX + 16];
    snprintf(what, sizeof what, "layer %s", l->name);
    for (int i = 1; i < in->rank; i++)
        known = known && in->d[i] >= 0;
    if (known && sq_dims_count(in->d + 1, in->rank - 1, what, &total, err) < 0)
        return -1;
    out->rank = st->n + 1;
    out->d[0] = in->d[0];
    for (int i = 0; i < st->n; i++) {
        out->d[i + 1] = st->d[i];
        if (st->d[i] == -1)
            unk = i;
        else
            known_d[nk++] = st->d[i];
    }
    if (sq_dims_count(known_d, nk, what, &prod, err) < 0)
        return -1;
    if (!known) {
        if (unk >= 0)
            out->d[unk + 1] = -1;
        return 0;
    }
    if ((unk < 0 && prod != total) || (unk >= 0 && (prod == 0 || total % prod != 0))) {
        char a[128], b[128];
        long ind[SQ_MAX_RANK];
        for (int i = 1; i < in->rank; i++)
            ind[i - 1] = in->d[i];
        list_str(ind, in->rank - 1, a, sizeof a);
        list_str(st->d, st->n, b, sizeof b);
        return sq_fail(err, "total size of new array must be unchanged, input_shape = %s, "
                       "output_shape = %s", a, b);
    }
    if (unk >= 0)
        out->d[unk + 1] = total / prod;
    return 0;
}

static void forward(const sq_layer *l, const sq_fwd *f)
{
    (void)l;
    memcpy(f->out, f->in, sq_shape_count(f->in_shape) * sizeof(float));
}

/* Moves no values: the gradient passes through unchanged. */
static void backward(const sq_layer *l, const sq_bwd *b)
{
    (void)l;
    if (b->din)
        memcpy(b->din, b->dout, sq_shape_count(b->in_shape) * sizeof(float));
}

/* The same values in a new shape; a -1 is what the others leave. */
static void explain(const sq_layer *l, const sq_shape *in, const sq_shape *out, sbuf *b)
{
    const reshape_state *st = l->state;
    char t[128], o[128], rest[128] = "";
    size_t k = 0;
    int unk = -1, nknown = 0;
    for (int i = 0; i < st->n; i++) {
        if (st->d[i] == -1) {
            unk = i;
        } else {
            if (k < sizeof rest)
                k += (size_t)snprintf(rest + k, sizeof rest - k, "%s%ld", k ? "*" : "", st->d[i]);
            nknown++;
        }
    }
    if (unk >= 0)
        sq_explain_line(b, "-1", "%ld = %zu / %s%s%s  (what the other axes leave)",
                        out->d[unk + 1], sq_sample_count(in), nknown > 1 ? "(" : "",
                        nknown ? rest : "1", nknown > 1 ? ")" : "");
    sq_explain_line(b, "values", "%zu = %s = %s  (the same values, in the same order)",
                    sq_sample_count(out), sq_dims_text(out, o, sizeof o),
                    sq_dims_text(in, t, sizeof t));
    sq_explain_no_params(b);
}

const sq_layer_kind sq_kind_reshape = {
    .class_name = "Reshape",
    .base_name = "reshape",
    .opts = opts,
    .npositional = 1,
    .summary = "reshapes every axis but the batch",
    .state_size = sizeof(reshape_state),
    .configure = configure,
    .output_shape = output_shape,
    .forward = forward,
    .shape_rule = "(B, ...) -> (B,) + target_shape, one -1 inferred",
    .example = "input 32; add reshape 4,4,-1",
    .backward = backward,
    .explain = explain,
};
