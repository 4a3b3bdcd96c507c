/* onnx.c - `export onnx FILE.onnx`: the model as an ONNX graph (opset 13)
 * through protobuf-c and the onnx.proto Debian's libonnx-dev ships
 * (compiled at build time). The graph takes its input in seqsh's own
 * channels-last layout; convolutions and pooling transpose to NCHW and
 * back around themselves. Every message is allocated from one arena that
 * is freed as a whole. */
#include <math.h>
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

/* Adds the nodes of layer l on input x; returns its output's name. */
static const char *layer(graph *g, const sq_model *m, const sq_layer *l, const char *x,
                         sq_error *err)
{
    const char *cls = l->kind->class_name;
    const float *w = m->params + l->param_off;
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
    } else {
        sq_fail(err, "layer %s (%s) cannot be expressed in ONNX by this seqsh", l->name, cls);
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
    for (int i = 0; i < m->n && x; i++)
        x = layer(&g, m, m->layers[i], x, err);
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
