/* onnx_graph.c - building an ONNX graph with protobuf-c: every message
 * allocated from one arena freed as a whole, nodes and initializers
 * appended as the layers are converted, and the few node patterns the
 * layer conversions share (layout transposes, TensorFlow's SAME pads). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "io/onnx_graph.h"

void *onnx_alloc(onnx_graph *g, size_t n)
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

char *onnx_str(onnx_graph *g, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    char *s = onnx_alloc(g, strlen(buf) + 1);
    if (s)
        strcpy(s, buf);
    return s;
}

/* Appends p to a growing array of pointers kept in the arena. */
int onnx_push(onnx_graph *g, void ***arr, size_t *n, void *p)
{
    if (!p)
        return -1;
    if ((*n & (*n - 1)) == 0) {   /* at 0, 1, 2, 4, ...: grow */
        void **na = onnx_alloc(g, (*n ? 2 * *n : 1) * sizeof *na);
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
char *onnx_fresh(onnx_graph *g, const char *base)
{
    return onnx_str(g, "%s_%d", base, g->counter++);
}

Onnx__NodeProto *onnx_node(onnx_graph *g, const char *op, const char *a, const char *b,
                           const char *c, const char *out)
{
    Onnx__NodeProto *n = onnx_alloc(g, sizeof *n);
    if (!n)
        return NULL;
    onnx__node_proto__init(n);
    n->op_type = onnx_str(g, "%s", op);
    n->name = onnx_str(g, "%s_%d", op, g->counter++);
    const char *in[3] = { a, b, c };
    for (int i = 0; i < 3 && in[i]; i++)
        onnx_push(g, (void ***)&n->input, &n->n_input, onnx_str(g, "%s", in[i]));
    onnx_push(g, (void ***)&n->output, &n->n_output, onnx_str(g, "%s", out));
    onnx_push(g, (void ***)&g->nodes, &g->nn, n);
    return n;
}

Onnx__AttributeProto *onnx_attr(onnx_graph *g, Onnx__NodeProto *n, const char *name)
{
    Onnx__AttributeProto *a = n ? onnx_alloc(g, sizeof *a) : NULL;
    if (!a)
        return NULL;
    onnx__attribute_proto__init(a);
    a->name = onnx_str(g, "%s", name);
    a->has_type = 1;
    onnx_push(g, (void ***)&n->attribute, &n->n_attribute, a);
    return a;
}

void onnx_attr_i(onnx_graph *g, Onnx__NodeProto *n, const char *name, int64_t v)
{
    Onnx__AttributeProto *a = onnx_attr(g, n, name);
    if (a) {
        a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
        a->has_i = 1;
        a->i = v;
    }
}

void onnx_attr_f(onnx_graph *g, Onnx__NodeProto *n, const char *name, float v)
{
    Onnx__AttributeProto *a = onnx_attr(g, n, name);
    if (a) {
        a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
        a->has_f = 1;
        a->f = v;
    }
}

void onnx_attr_is(onnx_graph *g, Onnx__NodeProto *n, const char *name, const int64_t *v, int k)
{
    Onnx__AttributeProto *a = onnx_attr(g, n, name);
    int64_t *c = a ? onnx_alloc(g, (size_t)k * sizeof *c) : NULL;
    if (c) {
        memcpy(c, v, (size_t)k * sizeof *c);
        a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
        a->ints = c;
        a->n_ints = (size_t)k;
    }
}

/* An initializer of float32 (little-endian raw data) or int64 values. */
char *onnx_tensor(onnx_graph *g, const char *base, const int64_t *dims, int nd, const float *f,
                  const int64_t *i64)
{
    Onnx__TensorProto *t = onnx_alloc(g, sizeof *t);
    if (!t)
        return NULL;
    onnx__tensor_proto__init(t);
    size_t count = 1;
    for (int k = 0; k < nd; k++)
        count *= (size_t)dims[k];
    t->dims = onnx_alloc(g, (size_t)(nd ? nd : 1) * sizeof *t->dims);
    t->n_dims = (size_t)nd;
    if (t->dims && nd)
        memcpy(t->dims, dims, (size_t)nd * sizeof *dims);
    t->has_data_type = 1;
    t->name = onnx_fresh(g, base);
    if (f) {
        t->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
        unsigned char *raw = onnx_alloc(g, count * 4);
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
        t->int64_data = onnx_alloc(g, count * sizeof *t->int64_data);
        if (t->int64_data)
            memcpy(t->int64_data, i64, count * sizeof *i64);
        t->n_int64_data = count;
    }
    onnx_push(g, (void ***)&g->inits, &g->ni, t);
    return t->name;
}

char *onnx_scalar(onnx_graph *g, const char *base, float v)
{
    return onnx_tensor(g, base, NULL, 0, &v, NULL);
}

/* NHWC <-> NCHW around a 2-D operation. */
const char *onnx_nchw(onnx_graph *g, const char *x, int to_nchw, const char *lname)
{
    static const int64_t in[4] = { 0, 3, 1, 2 }, out[4] = { 0, 2, 3, 1 };
    char *y = onnx_fresh(g, lname);
    Onnx__NodeProto *n = onnx_node(g, "Transpose", x, NULL, NULL, y);
    onnx_attr_is(g, n, "perm", to_nchw ? in : out, 4);
    return n ? y : NULL;
}

/* Keras's padding on rows and cols as ONNX pads [top, left, bottom, right]. */
void onnx_pads2(const sq_layer *l, const long *k, const long *s, const long *d, int same,
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
char *onnx_ints(onnx_graph *g, const char *base, const int64_t *v, int n)
{
    int64_t d[1] = { n };
    return onnx_tensor(g, base, d, 1, NULL, v);
}

const char *onnx_permute(onnx_graph *g, const char *x, const int64_t *perm, int n,
                         const char *lname)
{
    char *y = onnx_fresh(g, lname);
    Onnx__NodeProto *nd = onnx_node(g, "Transpose", x, NULL, NULL, y);
    onnx_attr_is(g, nd, "perm", perm, n);
    return nd ? y : NULL;
}

/* (B, T, C) <-> (B, C, T) around a 1-D operation. */
const char *onnx_swap12(onnx_graph *g, const char *x, const char *lname)
{
    static const int64_t p[3] = { 0, 2, 1 };
    return onnx_permute(g, x, p, 3, lname);
}

/* x reversed along axis (Slice with step -1). */
const char *onnx_reverse(onnx_graph *g, const char *x, int64_t axis, const char *lname)
{
    const int64_t st[1] = { -1 }, en[1] = { INT64_MIN }, ax[1] = { axis }, step[1] = { -1 };
    char *y = onnx_fresh(g, lname);
    Onnx__NodeProto *n = onnx_node(g, "Slice", x, onnx_ints(g, "starts", st, 1),
                                   onnx_ints(g, "ends", en, 1), y);
    if (n) {
        onnx_push(g, (void ***)&n->input, &n->n_input, onnx_ints(g, "axes", ax, 1));
        onnx_push(g, (void ***)&n->input, &n->n_input, onnx_ints(g, "steps", step, 1));
    }
    return n ? y : NULL;
}

/* An extra input for a node made with onnx_node(). */
void onnx_more_input(onnx_graph *g, Onnx__NodeProto *n, const char *name)
{
    if (n)
        onnx_push(g, (void ***)&n->input, &n->n_input, onnx_str(g, "%s", name));
}

void onnx_attr_ss(onnx_graph *g, Onnx__NodeProto *n, const char *name, const char *const *v, int k)
{
    Onnx__AttributeProto *a = onnx_attr(g, n, name);
    ProtobufCBinaryData *c = a ? onnx_alloc(g, (size_t)k * sizeof *c) : NULL;
    if (!c)
        return;
    for (int i = 0; i < k; i++) {
        char *t = onnx_str(g, "%s", v[i]);
        c[i].data = (uint8_t *)t;
        c[i].len = t ? strlen(t) : 0;
    }
    a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS;
    a->strings = c;
    a->n_strings = (size_t)k;
}

void onnx_attr_s(onnx_graph *g, Onnx__NodeProto *n, const char *name, const char *v)
{
    Onnx__AttributeProto *a = onnx_attr(g, n, name);
    char *t = a ? onnx_str(g, "%s", v) : NULL;
    if (t) {
        a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING;
        a->has_s = 1;
        a->s.data = (uint8_t *)t;
        a->s.len = strlen(t);
    }
}

/* TensorFlow's SAME split of one axis: pads[0] before, pads[1] after. */
void onnx_pads1(long n, long o, long k, long s, long d, int same, int64_t *before,
                int64_t *after)
{
    long dk = k + (k - 1) * (d - 1), total = same ? (o - 1) * s + dk - n : 0;
    if (total < 0)
        total = 0;
    *before = total / 2;
    *after = total - total / 2;
}
