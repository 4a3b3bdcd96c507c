/* onnx.c - `export onnx FILE.onnx`: the model as an ONNX graph (opset 13)
 * through protobuf-c and the onnx.proto Debian's libonnx-dev ships
 * (compiled at build time). The graph takes its input in seqsh's own
 * channels-last layout; convolutions and pooling transpose to NCHW and
 * back around themselves. Every message is allocated from one arena that
 * is freed as a whole. */
#include <math.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "model.h"
#include "io/export.h"
#include "io/npy.h"
#include "onnx.pb-c.h"

#define OPSET 13
#define IR_VERSION 8

typedef struct {
    void **p;
    size_t n, cap;
    int oom;
    Onnx__NodeProto **nodes;
    size_t nn;
    Onnx__TensorProto **inits;
    size_t ni;
    int counter;
} graph;

static void *alloc(graph *g, size_t n)
{
    if (g->oom)
        return NULL;
    if (g->n == g->cap) {
        size_t c = g->cap ? 2 * g->cap : 256;
        void **np = sq_realloc(g->p, c * sizeof *np);
        if (!np) {
            g->oom = 1;
            return NULL;
        }
        g->p = np;
        g->cap = c;
    }
    void *x = sq_calloc(1, n ? n : 1);
    if (!x) {
        g->oom = 1;
        return NULL;
    }
    return g->p[g->n++] = x;
}

static char *str(graph *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static char *str(graph *g, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    char *s = alloc(g, strlen(buf) + 1);
    if (s)
        strcpy(s, buf);
    return s;
}

/* Appends p to a growing array of pointers kept in the arena. */
static int push(graph *g, void ***arr, size_t *n, void *p)
{
    if (!p)
        return -1;
    if ((*n & (*n - 1)) == 0) {   /* at 0, 1, 2, 4, ...: grow */
        void **na = alloc(g, (*n ? 2 * *n : 1) * sizeof *na);
        if (!na)
            return -1;
        if (*n)
            memcpy(na, *arr, *n * sizeof *na);
        *arr = na;
    }
    (*arr)[(*n)++] = p;
    return 0;
}

/* A fresh tensor name from a base. */
static char *fresh(graph *g, const char *base)
{
    return str(g, "%s_%d", base, g->counter++);
}

static Onnx__NodeProto *node(graph *g, const char *op, const char *a, const char *b,
                             const char *c, const char *out)
{
    Onnx__NodeProto *n = alloc(g, sizeof *n);
    if (!n)
        return NULL;
    onnx__node_proto__init(n);
    n->op_type = str(g, "%s", op);
    n->name = str(g, "%s_%d", op, g->counter++);
    const char *in[3] = { a, b, c };
    for (int i = 0; i < 3 && in[i]; i++)
        push(g, (void ***)&n->input, &n->n_input, str(g, "%s", in[i]));
    push(g, (void ***)&n->output, &n->n_output, str(g, "%s", out));
    push(g, (void ***)&g->nodes, &g->nn, n);
    return n;
}

static Onnx__AttributeProto *attr(graph *g, Onnx__NodeProto *n, const char *name)
{
    Onnx__AttributeProto *a = n ? alloc(g, sizeof *a) : NULL;
    if (!a)
        return NULL;
    onnx__attribute_proto__init(a);
    a->name = str(g, "%s", name);
    a->has_type = 1;
    push(g, (void ***)&n->attribute, &n->n_attribute, a);
    return a;
}

static void attr_i(graph *g, Onnx__NodeProto *n, const char *name, int64_t v)
{
    Onnx__AttributeProto *a = attr(g, n, name);
    if (a) {
        a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
        a->has_i = 1;
        a->i = v;
    }
}

static void attr_f(graph *g, Onnx__NodeProto *n, const char *name, float v)
{
    Onnx__AttributeProto *a = attr(g, n, name);
    if (a) {
        a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
        a->has_f = 1;
        a->f = v;
    }
}

static void attr_is(graph *g, Onnx__NodeProto *n, const char *name, const int64_t *v, int k)
{
    Onnx__AttributeProto *a = attr(g, n, name);
    int64_t *c = a ? alloc(g, (size_t)k * sizeof *c) : NULL;
    if (c) {
        memcpy(c, v, (size_t)k * sizeof *c);
        a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
        a->ints = c;
        a->n_ints = (size_t)k;
    }
}

/* An initializer of float32 (little-endian raw data) or int64 values. */
static char *init(graph *g, const char *base, const int64_t *dims, int nd, const float *f,
                  const int64_t *i64)
{
    Onnx__TensorProto *t = alloc(g, sizeof *t);
    if (!t)
        return NULL;
    onnx__tensor_proto__init(t);
    size_t count = 1;
    for (int k = 0; k < nd; k++)
        count *= (size_t)dims[k];
    t->dims = alloc(g, (size_t)(nd ? nd : 1) * sizeof *t->dims);
    t->n_dims = (size_t)nd;
    if (t->dims && nd)
        memcpy(t->dims, dims, (size_t)nd * sizeof *dims);
    t->has_data_type = 1;
    t->name = fresh(g, base);
    if (f) {
        t->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
        unsigned char *raw = alloc(g, count * 4);
        for (size_t k = 0; raw && k < count; k++) {
            uint32_t b;
            memcpy(&b, &f[k], 4);
            raw[4 * k] = (unsigned char)b;
            raw[4 * k + 1] = (unsigned char)(b >> 8);
            raw[4 * k + 2] = (unsigned char)(b >> 16);
            raw[4 * k + 3] = (unsigned char)(b >> 24);
        }
        t->has_raw_data = 1;
        t->raw_data.data = raw;
        t->raw_data.len = count * 4;
    } else {
        t->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__INT64;
        t->int64_data = alloc(g, count * sizeof *t->int64_data);
        if (t->int64_data)
            memcpy(t->int64_data, i64, count * sizeof *i64);
        t->n_int64_data = count;
    }
    push(g, (void ***)&g->inits, &g->ni, t);
    return t->name;
}

static char *scalar(graph *g, const char *base, float v)
{
    return init(g, base, NULL, 0, &v, NULL);
}

/* One of a layer's options. */
static const sq_optval *opt(const sq_layer *l, const char *name)
{
    int i = sq_opt_index(l->kind, name);
    return i >= 0 ? &l->opt[i] : NULL;
}

/* x -> activation a (seqsh's index) -> returned name. */
static const char *activation(graph *g, int a, const char *x, const char *lname, sq_error *err)
{
    const char *an = sq_activation_name(a);
    char *y = fresh(g, lname);
    Onnx__NodeProto *n = NULL;
    if (!strcmp(an, "linear"))
        return x;
    if (!strcmp(an, "relu")) n = node(g, "Relu", x, NULL, NULL, y);
    else if (!strcmp(an, "sigmoid")) n = node(g, "Sigmoid", x, NULL, NULL, y);
    else if (!strcmp(an, "tanh")) n = node(g, "Tanh", x, NULL, NULL, y);
    else if (!strcmp(an, "softplus")) n = node(g, "Softplus", x, NULL, NULL, y);
    else if (!strcmp(an, "softsign")) n = node(g, "Softsign", x, NULL, NULL, y);
    else if (!strcmp(an, "elu")) n = node(g, "Elu", x, NULL, NULL, y);
    else if (!strcmp(an, "selu")) n = node(g, "Selu", x, NULL, NULL, y);
    else if (!strcmp(an, "exponential")) n = node(g, "Exp", x, NULL, NULL, y);
    else if (!strcmp(an, "softmax") || !strcmp(an, "log_softmax")) {
        n = node(g, an[0] == 's' ? "Softmax" : "LogSoftmax", x, NULL, NULL, y);
        attr_i(g, n, "axis", -1);
    } else if (!strcmp(an, "hard_sigmoid")) {
        n = node(g, "HardSigmoid", x, NULL, NULL, y);
        attr_f(g, n, "alpha", 0.2f);
        attr_f(g, n, "beta", 0.5f);
    } else if (!strcmp(an, "leaky_relu")) {
        n = node(g, "LeakyRelu", x, NULL, NULL, y);
        attr_f(g, n, "alpha", 0.2f);
    } else if (!strcmp(an, "relu6")) {
        n = node(g, "Clip", x, scalar(g, "zero", 0), scalar(g, "six", 6), y);
    } else if (!strcmp(an, "swish") || !strcmp(an, "silu")) {
        char *s = fresh(g, lname);
        node(g, "Sigmoid", x, NULL, NULL, s);
        n = node(g, "Mul", x, s, NULL, y);
    } else if (!strcmp(an, "gelu")) {
        /* exact: 0.5 x (1 + erf(x / sqrt 2)) */
        char *a1 = fresh(g, lname), *a2 = fresh(g, lname), *a3 = fresh(g, lname);
        node(g, "Div", x, scalar(g, "sqrt2", 1.41421356237309504880f), NULL, a1);
        node(g, "Erf", a1, NULL, NULL, a2);
        node(g, "Add", a2, scalar(g, "one", 1), NULL, a3);
        char *a4 = fresh(g, lname);
        node(g, "Mul", x, a3, NULL, a4);
        n = node(g, "Mul", a4, scalar(g, "half", 0.5f), NULL, y);
    } else {
        sq_fail(err, "layer %s: activation %s cannot be expressed in ONNX", lname, an);
        return NULL;
    }
    return n ? y : NULL;
}

/* NHWC <-> NCHW around a 2-D operation. */
static const char *transpose(graph *g, const char *x, int to_nchw, const char *lname)
{
    static const int64_t in[4] = { 0, 3, 1, 2 }, out[4] = { 0, 2, 3, 1 };
    char *y = fresh(g, lname);
    Onnx__NodeProto *n = node(g, "Transpose", x, NULL, NULL, y);
    attr_is(g, n, "perm", to_nchw ? in : out, 4);
    return n ? y : NULL;
}

/* Keras's padding on rows and cols as ONNX pads [top, left, bottom, right]. */
static void pads_of(const sq_layer *l, const long *k, const long *s, const long *d, int same,
                    int64_t *pads)
{
    for (int a = 0; a < 2; a++) {
        long n = l->in_shape.d[1 + a], o = l->out_shape.d[1 + a];
        long dk = k[a] + (k[a] - 1) * (d[a] - 1);
        long total = same ? (o - 1) * s[a] + dk - n : 0;
        if (total < 0)
            total = 0;
        pads[a] = total / 2;
        pads[a + 2] = total - total / 2;
    }
}

/* A 1-D int64 initializer. */
static char *ints(graph *g, const char *base, const int64_t *v, int n)
{
    int64_t d[1] = { n };
    return init(g, base, d, 1, NULL, v);
}

static const char *transpose_perm(graph *g, const char *x, const int64_t *perm, int n,
                                  const char *lname)
{
    char *y = fresh(g, lname);
    Onnx__NodeProto *nd = node(g, "Transpose", x, NULL, NULL, y);
    attr_is(g, nd, "perm", perm, n);
    return nd ? y : NULL;
}

/* (B, T, C) <-> (B, C, T) around a 1-D operation. */
static const char *swap12(graph *g, const char *x, const char *lname)
{
    static const int64_t p[3] = { 0, 2, 1 };
    return transpose_perm(g, x, p, 3, lname);
}

/* x reversed along axis (Slice with step -1). */
static const char *reverse(graph *g, const char *x, int64_t axis, const char *lname)
{
    const int64_t st[1] = { -1 }, en[1] = { INT64_MIN }, ax[1] = { axis }, step[1] = { -1 };
    char *y = fresh(g, lname);
    Onnx__NodeProto *n = node(g, "Slice", x, ints(g, "starts", st, 1), ints(g, "ends", en, 1), y);
    if (n) {
        push(g, (void ***)&n->input, &n->n_input, ints(g, "axes", ax, 1));
        push(g, (void ***)&n->input, &n->n_input, ints(g, "steps", step, 1));
    }
    return n ? y : NULL;
}

/* An extra input for a node made with node(). */
static void more_input(graph *g, Onnx__NodeProto *n, const char *name)
{
    if (n)
        push(g, (void ***)&n->input, &n->n_input, str(g, "%s", name));
}

static void attr_ss(graph *g, Onnx__NodeProto *n, const char *name, const char *const *v, int k)
{
    Onnx__AttributeProto *a = attr(g, n, name);
    ProtobufCBinaryData *c = a ? alloc(g, (size_t)k * sizeof *c) : NULL;
    if (!c)
        return;
    for (int i = 0; i < k; i++) {
        char *t = str(g, "%s", v[i]);
        c[i].data = (uint8_t *)t;
        c[i].len = t ? strlen(t) : 0;
    }
    a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS;
    a->strings = c;
    a->n_strings = (size_t)k;
}

static void attr_s(graph *g, Onnx__NodeProto *n, const char *name, const char *v)
{
    Onnx__AttributeProto *a = attr(g, n, name);
    char *t = a ? str(g, "%s", v) : NULL;
    if (t) {
        a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING;
        a->has_s = 1;
        a->s.data = (uint8_t *)t;
        a->s.len = strlen(t);
    }
}

/* TensorFlow's SAME split of one axis: pads[0] before, pads[1] after. */
static void pad1(long n, long o, long k, long s, long d, int same, int64_t *before,
                 int64_t *after)
{
    long dk = k + (k - 1) * (d - 1), total = same ? (o - 1) * s + dk - n : 0;
    if (total < 0)
        total = 0;
    *before = total / 2;
    *after = total - total / 2;
}

/* ONNX's recurrent ops know these activations (the RNN ops' list, with
 * HardSigmoid's default alpha 0.2 and beta 0.5: Keras 2's hard_sigmoid). */
static const char *rnn_act(const char *a)
{
    static const char *const map[][2] = {
        { "sigmoid", "Sigmoid" }, { "tanh", "Tanh" }, { "relu", "Relu" },
        { "hard_sigmoid", "HardSigmoid" }, { "softsign", "Softsign" },
        { "softplus", "Softplus" }, { "elu", "Elu" },
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strcmp(map[i][0], a))
            return map[i][1];
    return NULL;
}

/* A recurrent layer (SimpleRNN, LSTM, GRU; cell, its options) as ONNX's
 * RNN/LSTM/GRU op: one direction, or both (a Bidirectional: merge is its
 * mode) with the weights of the two copies one after the other at w. The
 * gate blocks go from Keras's order (LSTM i f c o, GRU z r h) to ONNX's
 * (i o f c, z r h); GRU's reset_after is ONNX's linear_before_reset, and
 * reset_after=false is ONNX's default GRU. */
static const char *recurrent(graph *g, const sq_layer *l, const sq_layer *cell, const float *w,
                             const char *x, int ndir, const char *merge, int in_masked,
                             sq_error *err)
{
    const char *cls = cell->kind->class_name;
    int gates = !strcmp(cls, "LSTM") ? 4 : !strcmp(cls, "GRU") ? 3 : 1;
    int reset_after = gates == 3 && opt(cell, "reset_after")->i[0];
    int use_bias = (int)opt(cell, "use_bias")->i[0];
    int seqs = (int)opt(cell, "return_sequences")->i[0];
    int back = (int)opt(cell, "go_backwards")->i[0];
    const char *act = opt(cell, "activation")->s;
    const char *rec = gates > 1 ? opt(cell, "recurrent_activation")->s : NULL;
    long u = opt(cell, "units")->i[0], d = l->in_shape.d[2];
    if (in_masked)
        return sq_fail(err, "layer %s (%s): a recurrent layer whose input has a Keras mask "
                       "(Embedding mask_zero, Masking) cannot be expressed in ONNX by this seqsh",
                       l->name, l->kind->class_name), NULL;
    if (!rnn_act(act) || (rec && !rnn_act(rec)))
        return sq_fail(err, "layer %s (%s): activation %s cannot be expressed in ONNX's %s op",
                       l->name, l->kind->class_name, rnn_act(act) ? rec : act,
                       gates == 4 ? "LSTM" : gates == 3 ? "GRU" : "RNN"), NULL;
    /* ONNX's gate block b comes from Keras's block order[b] */
    static const int lstm_order[4] = { 0, 3, 1, 2 }, same[4] = { 0, 1, 2, 3 };
    const int *order = gates == 4 ? lstm_order : same;
    long G = gates * u;
    size_t nw = (size_t)ndir * (size_t)G * (size_t)(d + u) + (size_t)ndir * 2 * (size_t)G;
    float *W = sq_calloc(nw + 1, sizeof *W);
    if (!W) {
        g->oom = 1;
        return NULL;
    }
    float *R = W + (size_t)ndir * G * d, *B = R + (size_t)ndir * G * u;
    const float *p = w;
    for (int dir = 0; dir < ndir; dir++) {
        const float *K = p, *Rk = K + d * G, *b = Rk + u * G;
        for (int blk = 0; blk < gates; blk++)
            for (long j = 0; j < u; j++) {
                long src = order[blk] * u + j, dst = blk * u + j;
                for (long i = 0; i < d; i++)
                    W[((size_t)dir * G + dst) * d + i] = K[i * G + src];
                for (long i = 0; i < u; i++)
                    R[((size_t)dir * G + dst) * u + i] = Rk[i * G + src];
                float *Bd = B + (size_t)dir * 2 * G;
                if (use_bias && reset_after) {
                    Bd[dst] = b[src];
                    Bd[G + dst] = b[G + src];
                } else if (use_bias) {
                    Bd[dst] = b[src];
                }
            }
        p = b + (use_bias ? (reset_after ? 2 * G : G) : 0);
    }
    int64_t wd[3] = { ndir, G, d }, rd[3] = { ndir, G, u }, bd[2] = { ndir, 2 * G };
    char *wn = init(g, "W", wd, 3, W, NULL), *rn = init(g, "R", rd, 3, R, NULL);
    char *bn = init(g, "B", bd, 2, B, NULL);
    free(W);
    static const int64_t tbd[3] = { 1, 0, 2 };
    const char *xt = transpose_perm(g, x, tbd, 3, l->name);   /* time major */
    if (back && xt)
        xt = reverse(g, xt, 0, l->name);
    char *Y = fresh(g, l->name), *Yh = fresh(g, l->name);
    Onnx__NodeProto *n = node(g, gates == 4 ? "LSTM" : gates == 3 ? "GRU" : "RNN", xt, wn, rn,
                              Y);
    more_input(g, n, bn);
    if (n)
        push(g, (void ***)&n->output, &n->n_output, Yh);
    attr_i(g, n, "hidden_size", u);
    attr_s(g, n, "direction", ndir == 2 ? "bidirectional" : "forward");
    const char *acts[6];
    int na = 0;
    for (int dir = 0; dir < ndir; dir++) {
        if (gates > 1)
            acts[na++] = rnn_act(rec);
        acts[na++] = rnn_act(act);
        if (gates == 4)
            acts[na++] = rnn_act(act);
    }
    attr_ss(g, n, "activations", acts, na);
    if (gates == 3)
        attr_i(g, n, "linear_before_reset", reset_after);
    char *out = fresh(g, l->name);
    const char *mop = !strcmp(merge, "sum") ? "ReduceSum" : !strcmp(merge, "mul") ? "ReduceProd"
        : !strcmp(merge, "ave") ? "ReduceMean" : NULL;
    if (seqs) {
        /* Y: (T, ndir, B, u) */
        if (ndir == 1 || !mop) {
            static const int64_t p4[4] = { 2, 0, 1, 3 };
            const int64_t shp[3] = { 0, 0, ndir * u };
            const char *t = transpose_perm(g, Y, p4, 4, l->name);
            node(g, "Reshape", t, ints(g, "shape", shp, 3), NULL, out);
            return out;
        }
        char *r = fresh(g, l->name);
        static const int64_t ax1[1] = { 1 };
        Onnx__NodeProto *rn2 = node(g, mop, Y, !strcmp(mop, "ReduceSum") ? ints(g, "axes", ax1, 1)
                                    : NULL, NULL, r);
        if (strcmp(mop, "ReduceSum"))
            attr_is(g, rn2, "axes", ax1, 1);
        attr_i(g, rn2, "keepdims", 0);
        return transpose_perm(g, r, tbd, 3, l->name);
    }
    /* Y_h: (ndir, B, u) */
    if (ndir == 1 || !mop) {
        const int64_t shp[2] = { 0, ndir * u };
        const char *t = transpose_perm(g, Yh, tbd, 3, l->name);
        node(g, "Reshape", t, ints(g, "shape", shp, 2), NULL, out);
        return out;
    }
    static const int64_t ax0[1] = { 0 };
    Onnx__NodeProto *rn2 = node(g, mop, Yh, !strcmp(mop, "ReduceSum") ? ints(g, "axes", ax0, 1)
                                : NULL, NULL, out);
    if (strcmp(mop, "ReduceSum"))
        attr_is(g, rn2, "axes", ax0, 1);
    attr_i(g, rn2, "keepdims", 0);
    return out;
}

static const char *layer(graph *g, const sq_layer *l, const float *w, const char *x,
                         int in_masked, sq_error *err);

/* The second wave's kinds. */
static const char *layer2(graph *g, const sq_layer *l, const float *w, const char *x,
                          int in_masked, sq_error *err)
{
    const char *cls = l->kind->class_name;
    char *o = fresh(g, l->name);
    const sq_shape *in = &l->in_shape, *out = &l->out_shape;
    if (!strcmp(cls, "Conv1D")) {
        const sq_shape *ks = &l->w[0].shape;
        long k = ks->d[0], c = ks->d[1], f = ks->d[2];
        float *t = sq_malloc((size_t)(k * c * f + 1) * sizeof *t);
        if (!t) {
            g->oom = 1;
            return NULL;
        }
        for (long a = 0; a < k; a++)
            for (long ci = 0; ci < c; ci++)
                for (long fi = 0; fi < f; fi++)
                    t[(fi * c + ci) * k + a] = w[(a * c + ci) * f + fi];
        long s = opt(l, "strides")->i[0], dl = opt(l, "dilation_rate")->i[0];
        const char *pad = opt(l, "padding")->s;
        int64_t dims[3] = { f, c, k }, bd[1] = { f }, pads[2], st[1] = { s }, dd[1] = { dl };
        int64_t kk[1] = { k };
        if (!strcasecmp(pad, "causal")) {
            pads[0] = dl * (k - 1);   /* zeros before the first step only */
            pads[1] = 0;
        } else {
            pad1(in->d[1], out->d[1], k, s, dl, !strcasecmp(pad, "same"), &pads[0], &pads[1]);
        }
        const char *xt = swap12(g, x, l->name);
        char *wn = init(g, "kernel", dims, 3, t, NULL);
        free(t);
        char *cv = fresh(g, l->name);
        Onnx__NodeProto *n = node(g, "Conv", xt, wn, l->nweights > 1
                                  ? init(g, "bias", bd, 1, w + k * c * f, NULL) : NULL, cv);
        attr_is(g, n, "kernel_shape", kk, 1);
        attr_is(g, n, "strides", st, 1);
        attr_is(g, n, "dilations", dd, 1);
        attr_is(g, n, "pads", pads, 2);
        return swap12(g, cv, l->name);
    }
    if (!strcmp(cls, "MaxPooling1D") || !strcmp(cls, "AveragePooling1D")) {
        long k = opt(l, "pool_size")->i[0], s = opt(l, "strides")->i[0];
        if (s <= 0)
            s = k;
        int64_t pads[2], st[1] = { s }, kk[1] = { k };
        pad1(in->d[1], out->d[1], k, s, 1, !strcasecmp(opt(l, "padding")->s, "same"), &pads[0],
             &pads[1]);
        const char *xt = swap12(g, x, l->name);
        char *p = fresh(g, l->name);
        int max = cls[0] == 'M';
        Onnx__NodeProto *n = node(g, max ? "MaxPool" : "AveragePool", xt, NULL, NULL, p);
        attr_is(g, n, "kernel_shape", kk, 1);
        attr_is(g, n, "strides", st, 1);
        attr_is(g, n, "pads", pads, 2);
        if (!max)
            attr_i(g, n, "count_include_pad", 0);
        return swap12(g, p, l->name);
    }
    if (!strcmp(cls, "GlobalMaxPooling1D") || !strcmp(cls, "GlobalAveragePooling1D")) {
        static const int64_t axes[1] = { 1 };
        Onnx__NodeProto *n = node(g, cls[6] == 'M' ? "ReduceMax" : "ReduceMean", x, NULL, NULL, o);
        attr_is(g, n, "axes", axes, 1);
        attr_i(g, n, "keepdims", opt(l, "keepdims")->i[0]);
        return o;
    }
    if (!strcmp(cls, "UpSampling1D")) {
        /* (B, T, C) -> (B, T, 1, C) -> (B, T, size, C) -> (B, T*size, C) */
        const int64_t ax[1] = { 2 }, rep[4] = { 1, 1, opt(l, "size")->i[0], 1 };
        const int64_t shp[3] = { 0, -1, in->d[2] };
        char *a = fresh(g, l->name), *b = fresh(g, l->name);
        node(g, "Unsqueeze", x, ints(g, "axes", ax, 1), NULL, a);
        node(g, "Tile", a, ints(g, "repeats", rep, 4), NULL, b);
        node(g, "Reshape", b, ints(g, "shape", shp, 3), NULL, o);
        return o;
    }
    if (!strcmp(cls, "ZeroPadding1D")) {
        const sq_optval *pv = opt(l, "padding");
        const int64_t pads[6] = { 0, pv->i[0], 0, 0, pv->i[1], 0 };
        node(g, "Pad", x, ints(g, "pads", pads, 6), NULL, o);
        return o;
    }
    if (!strcmp(cls, "Cropping1D")) {
        const sq_optval *cv = opt(l, "cropping");
        const int64_t st[1] = { cv->i[0] }, en[1] = { cv->i[1] ? -cv->i[1] : INT64_MAX };
        const int64_t ax[1] = { 1 };
        Onnx__NodeProto *n = node(g, "Slice", x, ints(g, "starts", st, 1), ints(g, "ends", en, 1), o);
        more_input(g, n, ints(g, "axes", ax, 1));
        return o;
    }
    if (!strcmp(cls, "RepeatVector")) {
        const int64_t ax[1] = { 1 }, rep[3] = { 1, opt(l, "n")->i[0], 1 };
        char *a = fresh(g, l->name);
        node(g, "Unsqueeze", x, ints(g, "axes", ax, 1), NULL, a);
        node(g, "Tile", a, ints(g, "repeats", rep, 3), NULL, o);
        return o;
    }
    if (!strcmp(cls, "Permute")) {
        long dims[SQ_MAX_RANK];
        int nd;
        int64_t perm[SQ_MAX_RANK + 1] = { 0 };
        if (sq_parse_ints(opt(l, "dims")->s, dims, SQ_MAX_RANK, &nd, err) < 0)
            return NULL;
        for (int i = 0; i < nd; i++)
            perm[i + 1] = dims[i];
        return transpose_perm(g, x, perm, nd + 1, l->name);
    }
    if (!strcmp(cls, "LayerNormalization")) {
        /* (x - mean) / sqrt(var + eps) * gamma + beta over the axes, the
         * variance biased, gamma and beta reshaped (not transposed) to the
         * input's rank as Keras broadcasts them */
        long ax[SQ_MAX_RANK];
        int na;
        if (sq_parse_ints(opt(l, "axis")->s, ax, SQ_MAX_RANK, &na, err) < 0)
            return NULL;
        int64_t axes[SQ_MAX_RANK], bshape[SQ_MAX_RANK];
        for (int i = 0; i < in->rank; i++)
            bshape[i] = 1;
        for (int i = 0; i < na; i++) {
            axes[i] = ax[i] < 0 ? ax[i] + in->rank : ax[i];
            bshape[axes[i]] = in->d[axes[i]];
        }
        int center = (int)opt(l, "center")->i[0], scale = (int)opt(l, "scale")->i[0];
        char *mean = fresh(g, l->name), *xc = fresh(g, l->name), *sq = fresh(g, l->name);
        char *var = fresh(g, l->name), *ve = fresh(g, l->name), *sd = fresh(g, l->name);
        char *nrm = fresh(g, l->name);
        Onnx__NodeProto *n = node(g, "ReduceMean", x, NULL, NULL, mean);
        attr_is(g, n, "axes", axes, na);
        node(g, "Sub", x, mean, NULL, xc);
        node(g, "Mul", xc, xc, NULL, sq);
        n = node(g, "ReduceMean", sq, NULL, NULL, var);
        attr_is(g, n, "axes", axes, na);
        node(g, "Add", var, scalar(g, "epsilon", (float)opt(l, "epsilon")->f), NULL, ve);
        node(g, "Sqrt", ve, NULL, NULL, sd);
        node(g, "Div", xc, sd, NULL, nrm);
        const char *y = nrm;
        size_t cnt = sq_weight_count(&l->w[0]);
        if (scale) {
            char *t = fresh(g, l->name);
            node(g, "Mul", y, init(g, "gamma", bshape, in->rank, w, NULL), NULL, t);
            y = t;
        }
        if (center) {
            char *t = fresh(g, l->name);
            node(g, "Add", y, init(g, "beta", bshape, in->rank, w + (scale ? cnt : 0), NULL),
                 NULL, t);
            y = t;
        }
        return y;
    }
    if (!strcmp(cls, "LeakyReLU") || !strcmp(cls, "ELU")) {
        Onnx__NodeProto *n = node(g, cls[0] == 'L' ? "LeakyRelu" : "Elu", x, NULL, NULL, o);
        attr_f(g, n, "alpha", (float)opt(l, "alpha")->f);
        return o;
    }
    if (!strcmp(cls, "PReLU")) {
        int64_t dims[SQ_MAX_RANK];
        for (int i = 0; i < l->w[0].shape.rank; i++)
            dims[i] = l->w[0].shape.d[i];
        node(g, "PRelu", x, init(g, "alpha", dims, l->w[0].shape.rank, w, NULL), NULL, o);
        return o;
    }
    if (!strcmp(cls, "ReLU")) {
        /* Keras's backend relu: min(x, max_value) above threshold,
         * negative_slope * (x - threshold) otherwise */
        const char *mv = opt(l, "max_value")->s;
        float thr = (float)opt(l, "threshold")->f, slope = (float)opt(l, "negative_slope")->f;
        const char *top = x;
        if (strcmp(mv, "None")) {
            char *t = fresh(g, l->name);
            node(g, "Min", x, scalar(g, "max_value", strtof(mv, NULL)), NULL, t);
            top = t;
        }
        char *gt = fresh(g, l->name), *sub = fresh(g, l->name), *neg = fresh(g, l->name);
        node(g, "Greater", x, scalar(g, "threshold", thr), NULL, gt);
        node(g, "Sub", x, scalar(g, "threshold", thr), NULL, sub);
        node(g, "Mul", sub, scalar(g, "negative_slope", slope), NULL, neg);
        Onnx__NodeProto *n = node(g, "Where", gt, top, neg, o);
        return n ? o : NULL;
    }
    if (!strcmp(cls, "Softmax")) {
        attr_i(g, node(g, "Softmax", x, NULL, NULL, o), "axis", opt(l, "axis")->i[0]);
        return o;
    }
    if (!strcmp(cls, "ThresholdedReLU")) {
        attr_f(g, node(g, "ThresholdedRelu", x, NULL, NULL, o), "alpha",
               (float)opt(l, "theta")->f);
        return o;
    }
    if (!strcmp(cls, "Embedding")) {
        /* float ids are truncated, as tf.cast does */
        long vocab = l->w[0].shape.d[0], dim = l->w[0].shape.d[1];
        int64_t dims[2] = { vocab, dim };
        char *ids = fresh(g, l->name);
        attr_i(g, node(g, "Cast", x, NULL, NULL, ids), "to", ONNX__TENSOR_PROTO__DATA_TYPE__INT64);
        node(g, "Gather", init(g, "embeddings", dims, 2, w, NULL), ids, NULL, o);
        return o;
    }
    if (!strcmp(cls, "Masking")) {
        /* Keras zeroes the steps whose values all equal mask_value */
        static const int64_t last[1] = { -1 };
        char *eq = fresh(g, l->name), *ne = fresh(g, l->name), *nf = fresh(g, l->name);
        char *any = fresh(g, l->name);
        node(g, "Equal", x, scalar(g, "mask_value", (float)opt(l, "mask_value")->f), NULL, eq);
        node(g, "Not", eq, NULL, NULL, ne);
        attr_i(g, node(g, "Cast", ne, NULL, NULL, nf), "to", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT);
        Onnx__NodeProto *n = node(g, "ReduceMax", nf, NULL, NULL, any);
        attr_is(g, n, "axes", last, 1);
        attr_i(g, n, "keepdims", 1);
        node(g, "Mul", x, any, NULL, o);
        return o;
    }
    if (!strcmp(cls, "SimpleRNN") || !strcmp(cls, "LSTM") || !strcmp(cls, "GRU"))
        return recurrent(g, l, l, w, x, 1, "", in_masked, err);
    if (!strcmp(cls, "Bidirectional"))
        return recurrent(g, l, l->inner, w, x, 2, opt(l, "merge_mode")->s, in_masked, err);
    if (!strcmp(cls, "TimeDistributed")) {
        /* the wrapped layer on (B*T, ...), then back to (B, T, ...) */
        sq_layer t = *l->inner;
        t.built = 1;
        t.act = 0;                      /* the wrapper's (the same) comes after */
        t.in_shape.rank = in->rank - 1;
        t.out_shape.rank = out->rank - 1;
        t.in_shape.d[0] = t.out_shape.d[0] = -1;
        int64_t ishp[SQ_MAX_RANK], oshp[SQ_MAX_RANK];
        ishp[0] = -1;
        for (int i = 2; i < in->rank; i++)
            ishp[i - 1] = t.in_shape.d[i - 1] = in->d[i];
        for (int i = 2; i < out->rank; i++)
            oshp[i - 2] = t.out_shape.d[i - 1] = out->d[i];
        t.nweights = l->nweights;
        memcpy(t.w, l->w, sizeof t.w);
        for (int i = 1; i < t.in_shape.rank; i++)
            if (t.in_shape.d[i] < 0)
                return sq_fail(err, "layer %s (TimeDistributed): an input of unknown size %s "
                               "cannot be expressed in ONNX by this seqsh", l->name, "per step"),
                       NULL;
        char *flat = fresh(g, l->name);
        node(g, "Reshape", x, ints(g, "shape", ishp, in->rank - 1), NULL, flat);
        const char *yi = layer(g, &t, w, flat, 0, err);
        if (!yi)
            return NULL;
        /* the batch and the steps from the input's shape */
        static const int64_t z[1] = { 0 }, two[1] = { 2 };
        char *sh = fresh(g, l->name), *bt = fresh(g, l->name), *full = fresh(g, l->name);
        node(g, "Shape", x, NULL, NULL, sh);
        node(g, "Slice", sh, ints(g, "starts", z, 1), ints(g, "ends", two, 1), bt);
        Onnx__NodeProto *n = node(g, "Concat", bt, out->rank > 2 ? ints(g, "rest", oshp, out->rank - 2)
                                  : NULL, NULL, full);
        attr_i(g, n, "axis", 0);
        node(g, "Reshape", yi, full, NULL, o);
        return o;
    }
    sq_fail(err, "layer %s (%s) cannot be expressed in ONNX by this seqsh", l->name, cls);
    return NULL;
}

/* Adds the nodes of layer l (weights at w) on input x, which carries a
 * Keras mask when in_masked; returns its output's name. */
static const char *layer(graph *g, const sq_layer *l, const float *w, const char *x,
                         int in_masked, sq_error *err)
{
    const char *cls = l->kind->class_name;
    const char *y = NULL;
    char *o = fresh(g, l->name);
    if (!strcmp(cls, "Dense")) {
        long d = l->w[0].shape.d[0], u = l->w[0].shape.d[1];
        int64_t dims[2] = { d, u };
        node(g, "MatMul", x, init(g, "kernel", dims, 2, w, NULL), NULL, o);
        y = o;
        if (l->nweights > 1) {
            char *b = fresh(g, l->name);
            int64_t bd[1] = { u };
            node(g, "Add", o, init(g, "bias", bd, 1, w + d * u, NULL), NULL, b);
            y = b;
        }
    } else if (!strcmp(cls, "Conv2D")) {
        const sq_shape *ks = &l->w[0].shape;
        long kh = ks->d[0], kw = ks->d[1], c = ks->d[2], f = ks->d[3];
        float *t = sq_malloc((size_t)(kh * kw * c * f + 1) * sizeof *t);
        if (!t) {
            g->oom = 1;
            return NULL;
        }
        for (long a = 0; a < kh; a++)
            for (long b = 0; b < kw; b++)
                for (long ci = 0; ci < c; ci++)
                    for (long fi = 0; fi < f; fi++)
                        t[((fi * c + ci) * kh + a) * kw + b] = w[((a * kw + b) * c + ci) * f + fi];
        int64_t dims[4] = { f, c, kh, kw }, bd[1] = { f }, pads[4], st[2], dl[2], kk[2] = { kh, kw };
        const sq_optval *sv = opt(l, "strides"), *dv = opt(l, "dilation_rate");
        long k[2] = { kh, kw };
        pads_of(l, k, sv->i, dv->i, !strcasecmp(opt(l, "padding")->s, "same"), pads);
        for (int a = 0; a < 2; a++) {
            st[a] = sv->i[a];
            dl[a] = dv->i[a];
        }
        const char *xt = transpose(g, x, 1, l->name);
        char *wn = init(g, "kernel", dims, 4, t, NULL);
        free(t);
        char *cv = fresh(g, l->name);
        Onnx__NodeProto *n = node(g, "Conv", xt, wn, l->nweights > 1
                                  ? init(g, "bias", bd, 1, w + kh * kw * c * f, NULL) : NULL, cv);
        attr_is(g, n, "kernel_shape", kk, 2);
        attr_is(g, n, "strides", st, 2);
        attr_is(g, n, "dilations", dl, 2);
        attr_is(g, n, "pads", pads, 4);
        y = transpose(g, cv, 0, l->name);
    } else if (!strcmp(cls, "MaxPooling2D") || !strcmp(cls, "AveragePooling2D")) {
        const sq_optval *pv = opt(l, "pool_size"), *sv = opt(l, "strides");
        const long *s = sv->i[0] > 0 ? sv->i : pv->i, one[2] = { 1, 1 };
        int64_t pads[4], st[2] = { s[0], s[1] }, kk[2] = { pv->i[0], pv->i[1] };
        pads_of(l, pv->i, s, one, !strcasecmp(opt(l, "padding")->s, "same"), pads);
        const char *xt = transpose(g, x, 1, l->name);
        char *p = fresh(g, l->name);
        int max = cls[0] == 'M';
        Onnx__NodeProto *n = node(g, max ? "MaxPool" : "AveragePool", xt, NULL, NULL, p);
        attr_is(g, n, "kernel_shape", kk, 2);
        attr_is(g, n, "strides", st, 2);
        attr_is(g, n, "pads", pads, 4);
        if (!max)
            attr_i(g, n, "count_include_pad", 0);   /* padded cells never count */
        y = transpose(g, p, 0, l->name);
    } else if (!strcmp(cls, "GlobalMaxPooling2D") || !strcmp(cls, "GlobalAveragePooling2D")) {
        static const int64_t axes[2] = { 1, 2 };
        Onnx__NodeProto *n = node(g, cls[6] == 'M' ? "ReduceMax" : "ReduceMean", x, NULL, NULL, o);
        attr_is(g, n, "axes", axes, 2);
        attr_i(g, n, "keepdims", opt(l, "keepdims")->i[0]);
        y = o;
    } else if (!strcmp(cls, "Flatten")) {
        attr_i(g, node(g, "Flatten", x, NULL, NULL, o), "axis", 1);
        y = o;
    } else if (!strcmp(cls, "Reshape")) {
        int64_t shape[SQ_MAX_RANK], dims[1] = { l->out_shape.rank };
        shape[0] = 0;   /* the batch, copied */
        for (int a = 1; a < l->out_shape.rank; a++)
            shape[a] = l->out_shape.d[a];
        node(g, "Reshape", x, init(g, "shape", dims, 1, NULL, shape), NULL, o);
        y = o;
    } else if (!strcmp(cls, "Dropout")) {
        node(g, "Identity", x, NULL, NULL, o);
        y = o;
    } else if (!strcmp(cls, "Activation")) {
        y = x;
    } else if (!strcmp(cls, "Rescaling")) {
        char *a = fresh(g, l->name);
        node(g, "Mul", x, scalar(g, "scale", (float)opt(l, "scale")->f), NULL, a);
        node(g, "Add", a, scalar(g, "offset", (float)opt(l, "offset")->f), NULL, o);
        y = o;
    } else if (!strcmp(cls, "BatchNormalization")) {
        /* inference: y = x * gamma / sqrt(var + eps) + (beta - mean * that) */
        long c = l->w[0].shape.d[0];
        int scale = opt(l, "scale")->i[0], center = opt(l, "center")->i[0];
        double eps = opt(l, "epsilon")->f;
        const float *gm = scale ? w : NULL, *bt = center ? w + (scale ? c : 0) : NULL;
        const float *mean = w + (scale + center) * c, *var = mean + c;
        float *mul = sq_malloc((size_t)(2 * c + 1) * sizeof *mul);
        if (!mul) {
            g->oom = 1;
            return NULL;
        }
        for (long i = 0; i < c; i++) {
            mul[i] = (float)((gm ? gm[i] : 1.0) / sqrt((double)var[i] + eps));
            mul[c + i] = (float)((bt ? bt[i] : 0.0) - mean[i] * (double)mul[i]);
        }
        int64_t dims[1] = { c };
        char *a = fresh(g, l->name);
        node(g, "Mul", x, init(g, "bn_scale", dims, 1, mul, NULL), NULL, a);
        node(g, "Add", a, init(g, "bn_shift", dims, 1, mul + c, NULL), NULL, o);
        free(mul);
        y = o;
    } else if (!(y = layer2(g, l, w, x, in_masked, err))) {
        return NULL;
    }
    if (!y)
        return NULL;
    return activation(g, l->act, y, l->name, err);
}

static Onnx__ValueInfoProto *value_info(graph *g, const char *name, const sq_shape *sh)
{
    Onnx__ValueInfoProto *v = alloc(g, sizeof *v);
    Onnx__TypeProto *t = alloc(g, sizeof *t);
    Onnx__TypeProto__Tensor *tt = alloc(g, sizeof *tt);
    Onnx__TensorShapeProto *s = alloc(g, sizeof *s);
    if (!v || !t || !tt || !s)
        return NULL;
    onnx__value_info_proto__init(v);
    onnx__type_proto__init(t);
    onnx__type_proto__tensor__init(tt);
    onnx__tensor_shape_proto__init(s);
    v->name = str(g, "%s", name);
    v->type = t;
    t->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    t->tensor_type = tt;
    tt->has_elem_type = 1;
    tt->elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    tt->shape = s;
    for (int i = 0; i < sh->rank; i++) {
        Onnx__TensorShapeProto__Dimension *d = alloc(g, sizeof *d);
        if (!d)
            return NULL;
        onnx__tensor_shape_proto__dimension__init(d);
        if (i == 0 || sh->d[i] < 0) {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            d->dim_param = i == 0 ? str(g, "batch") : str(g, "d%d", i);
        } else {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            d->dim_value = sh->d[i];
        }
        push(g, (void ***)&s->dim, &s->n_dim, d);
    }
    return v;
}

int sq_export_onnx(const sq_model *m, const char *path, sq_error *err)
{
    graph g = { 0 };
    int rc = -1;
    unsigned char *buf = NULL;
    if (!m->built || m->n == 0)
        return sq_fail(err, "export needs a built model with layers (give it an input shape)");
    const char *x = "input";
    int masked = 0;
    for (int i = 0; i < m->n && x; i++) {
        const sq_layer *l = m->layers[i];
        sq_mask_rule r = sq_layer_mask_rule(l, masked);
        x = layer(&g, l, m->params + l->param_off, x, masked, err);
        masked = r == SQ_MASK_MAKE || (r == SQ_MASK_KEEP && masked);
    }
    if (!x) {
        if (g.oom)
            sq_fail(err, "out of memory exporting '%s'", path);
        goto done;
    }
    node(&g, "Identity", x, NULL, NULL, "output");
    Onnx__GraphProto *gp = alloc(&g, sizeof *gp);
    Onnx__ModelProto *mp = alloc(&g, sizeof *mp);
    Onnx__OperatorSetIdProto *os = alloc(&g, sizeof *os);
    Onnx__ValueInfoProto *vin = value_info(&g, "input", &m->input_shape);
    Onnx__ValueInfoProto *vout = value_info(&g, "output", &m->layers[m->n - 1]->out_shape);
    if (g.oom || !gp || !mp || !os || !vin || !vout) {
        sq_fail(err, "out of memory exporting '%s'", path);
        goto done;
    }
    onnx__graph_proto__init(gp);
    onnx__model_proto__init(mp);
    onnx__operator_set_id_proto__init(os);
    gp->name = str(&g, "%s", m->name);
    gp->node = g.nodes;
    gp->n_node = g.nn;
    gp->initializer = g.inits;
    gp->n_initializer = g.ni;
    push(&g, (void ***)&gp->input, &gp->n_input, vin);
    push(&g, (void ***)&gp->output, &gp->n_output, vout);
    os->domain = str(&g, "%s", "");
    os->has_version = 1;
    os->version = OPSET;
    mp->has_ir_version = 1;
    mp->ir_version = IR_VERSION;
    push(&g, (void ***)&mp->opset_import, &mp->n_opset_import, os);
    mp->producer_name = str(&g, "seqsh");
    mp->graph = gp;
    mp->doc_string = str(&g, "%s: input in seqsh's channels-last layout", m->name);
    if (g.oom) {
        sq_fail(err, "out of memory exporting '%s'", path);
        goto done;
    }
    size_t len = onnx__model_proto__get_packed_size(mp);
    if (sq_check_memory((double)len, "the ONNX file", err) < 0)
        goto done;
    if (!(buf = sq_malloc(len + 1))) {
        sq_fail(err, "out of memory exporting '%s'", path);
        goto done;
    }
    onnx__model_proto__pack(mp, buf);
    rc = sq_write_file_atomic(path, buf, len, err);
done:
    free(buf);
    for (size_t i = 0; i < g.n; i++)
        free(g.p[i]);
    free(g.p);
    return rc;
}
