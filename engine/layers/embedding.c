/* embedding.c - Embedding: integer ids (given as floats, truncated as
 * tf.cast does) -> rows of the `embeddings` matrix; with mask_zero=True the
 * output carries a mask that is 0 where the id is 0. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "layers/layer.h"

typedef struct {
    long input_dim, output_dim;
    long input_length;   /* 0 = None */
    int mask_zero;
} emb_state;

static const sq_optdef opts[] = {
    { .name = "input_dim", .type = OPT_INT, .help = "size of the vocabulary: ids run from 0 to input_dim - 1" },
    { .name = "output_dim", .type = OPT_INT, .help = "length of each id's vector" },
    { .name = "mask_zero", .type = OPT_BOOL, .def = "false", .help = "id 0 is padding: later layers see a mask and skip it" },
    { .name = "input_length", .type = OPT_INT, .def = "0", .help = "length of the sequences when fixed (0 = None, any length)" },
    { .name = NULL },
};

static int configure(sq_layer *l, const sq_optval *v, sq_error *err)
{
    emb_state *st = l->state;
    st->input_dim = v[0].i[0];
    st->output_dim = v[1].i[0];
    st->mask_zero = (int)v[2].i[0];
    st->input_length = v[3].i[0];
    if (st->input_dim <= 0 || st->output_dim <= 0)
        return sq_fail(err, "Both `input_dim` and `output_dim` should be positive, found "
                       "input_dim %ld and output_dim %ld", st->input_dim, st->output_dim);
    if (st->input_length < 0)
        return sq_fail(err, "Embedding: `input_length` must be positive (or 0 for None), got %ld",
                       st->input_length);
    return 0;
}

/* Keras: Embedding(...) without input_shape= declares (input_length,), or
 * (None,) without an input_length, so a first Embedding builds the model. */
static int default_input(const sq_layer *l, sq_shape *in)
{
    const emb_state *st = l->state;
    in->rank = 1;
    in->d[0] = st->input_length ? st->input_length : -1;
    return 0;
}

static int output_shape(const sq_layer *l, const sq_shape *in, sq_shape *out, sq_error *err)
{
    const emb_state *st = l->state;
    char s[128];
    if (in->rank + 1 > SQ_MAX_RANK)
        return sq_fail(err, "Embedding: an input of shape %s would give an output of more "
                       "than %d dimensions", sq_shape_str(in, s, sizeof s), SQ_MAX_RANK);
    *out = *in;
    if (st->input_length) {
        if (in->rank != 2 || (in->d[1] >= 0 && in->d[1] != st->input_length))
            return sq_fail(err, "\"input_length\" is %ld, but received input has shape %s",
                           st->input_length, sq_shape_str(in, s, sizeof s));
        out->d[1] = st->input_length;
    }
    out->rank = in->rank + 1;
    out->d[in->rank] = st->output_dim;
    return 0;
}

static int weights(const sq_layer *l, const sq_shape *in, sq_weight_spec *w)
{
    const emb_state *st = l->state;
    (void)in;
    w[0] = (sq_weight_spec){ "embeddings", { 2, { st->input_dim, st->output_dim } },
                             INIT_RANDOM_UNIFORM, 1 };
    return 1;
}

/* tf.cast(float, int32) on x86: truncation toward zero, and INT_MIN for
 * NaN and values out of int32's range. */
static long to_id(float v)
{
    if (!(v > -2147483649.0f && v < 2147483648.0f))
        return -2147483648L;
    return (long)v;
}

static int check_data(const sq_layer *l, const float *in, const sq_shape *in_shape,
                      sq_error *err)
{
    const emb_state *st = l->state;
    size_t n = sq_shape_count(in_shape);
    for (size_t i = 0; i < n; i++) {
        long id = to_id(in[i]);
        if (id >= 0 && id < st->input_dim)
            continue;
        /* TensorFlow's ResourceGather message: the index of the bad id */
        char idx[96];
        size_t k = 0, rest = i;
        long pos[SQ_MAX_RANK];
        for (int a = in_shape->rank - 1; a >= 0; a--) {
            pos[a] = in_shape->d[a] ? (long)(rest % (size_t)in_shape->d[a]) : 0;
            rest = in_shape->d[a] ? rest / (size_t)in_shape->d[a] : 0;
        }
        for (int a = 0; a < in_shape->rank && k < sizeof idx; a++)
            k += (size_t)snprintf(idx + k, sizeof idx - k, "%s%ld", a ? "," : "", pos[a]);
        return sq_fail(err, "indices[%s] = %ld is not in [0, %ld) (layer %s: ids must be whole "
                       "numbers from 0 to input_dim - 1)", idx, id, st->input_dim, l->name);
    }
    return 0;
}

static sq_mask_rule mask_rule(const sq_layer *l, int in_masked)
{
    const emb_state *st = l->state;
    (void)in_masked;
    return st->mask_zero ? SQ_MASK_MAKE : SQ_MASK_DROP;
}

/* An id out of range (only possible when the ids come from another layer:
 * the model input is checked first) gives a row of zeros. */
static void forward(const sq_layer *l, const sq_fwd *f)
{
    const emb_state *st = l->state;
    size_t n = sq_shape_count(f->in_shape);
    long d = st->output_dim;
    for (size_t i = 0; i < n; i++) {
        long id = to_id(f->in[i]);
        float *o = f->out + i * (size_t)d;
        if (id >= 0 && id < st->input_dim)
            memcpy(o, f->w + (size_t)id * (size_t)d, (size_t)d * sizeof *o);
        else
            memset(o, 0, (size_t)d * sizeof *o);
        if (f->mask_out)
            f->mask_out[i] = f->in[i] != 0.0f;   /* Keras: not_equal(inputs, 0) */
    }
}

static void backward(const sq_layer *l, const sq_bwd *b)
{
    const emb_state *st = l->state;
    size_t n = sq_shape_count(b->in_shape);
    long d = st->output_dim;
    if (b->din)   /* ids are cast to integers: no gradient flows to them */
        memset(b->din, 0, n * sizeof *b->din);
    if (!b->dw)
        return;
    memset(b->dw, 0, (size_t)st->input_dim * (size_t)d * sizeof *b->dw);
    for (size_t i = 0; i < n; i++) {
        long id = to_id(b->in[i]);
        if (id < 0 || id >= st->input_dim)
            continue;
        float *g = b->dw + (size_t)id * (size_t)d;
        const float *dy = b->dout + i * (size_t)d;
        for (long j = 0; j < d; j++)
            g[j] += dy[j];
    }
}

/* Valid ids for tests: every id in [0, input_dim) is as likely. */
static void sample_input(const sq_layer *l, float *x, size_t n, sq_rng *rng)
{
    const emb_state *st = l->state;
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(sq_rng_next(rng) % (uint64_t)st->input_dim);
}

/* A lookup: each id selects a row of the table, nothing is multiplied. */
static size_t macs(const sq_layer *l, const sq_shape *in, const sq_shape *out, sbuf *why)
{
    (void)l;
    (void)in;
    (void)out;
    if (why)
        sb_printf(why, "0  (a lookup: each id picks a row of the embeddings, nothing is "
                  "multiplied)");
    return 0;
}

const sq_layer_kind sq_kind_embedding = {
    .class_name = "Embedding",
    .base_name = "embedding",
    .opts = opts,
    .npositional = 2,
    .summary = "turns integer ids into dense vectors (ids may come as floats: they are truncated)",
    .shape_rule = "(B, T) -> (B, T, output_dim); params input_dim*output_dim",
    .example = "input 10; add embedding 100 8; add lstm 4",
    .state_size = sizeof(emb_state),
    .configure = configure,
    .output_shape = output_shape,
    .weights = weights,
    .macs = macs,
    .forward = forward,
    .backward = backward,
    .mask = mask_rule,
    .check_data = check_data,
    .sample_input = sample_input,
    .default_input = default_input,
};
