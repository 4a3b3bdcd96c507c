/* onnx.c - `export onnx FILE.onnx`: the model as an ONNX graph (opset 13)
 * through protobuf-c and the onnx.proto Debian's libonnx-dev ships
 * (compiled at build time). The graph takes its input in seqsh's own
 * channels-last layout; convolutions and pooling transpose to NCHW and
 * back around themselves. The graph is built with onnx_graph.h; the 2-D
 * kinds of the second wave are in onnx_spatial.c. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "model.h"
#include "io/export.h"
#include "io/npy.h"
#include "io/onnx_graph.h"

#define OPSET 13
#define IR_VERSION 8

/* One of a layer's options. */
static const sq_optval *opt(const sq_layer *l, const char *name)
{
    int i = sq_opt_index(l->kind, name);
    return i >= 0 ? &l->opt[i] : NULL;
}

/* x -> activation a (seqsh's index) -> returned name. */
const char *onnx_activation(onnx_graph *g, int a, const char *x, const char *lname,
                            sq_error *err)
{
    const char *an = sq_activation_name(a);
    char *y = onnx_fresh(g, lname);
    Onnx__NodeProto *n = NULL;
    if (!strcmp(an, "linear"))
        return x;
    if (!strcmp(an, "relu")) n = onnx_node(g, "Relu", x, NULL, NULL, y);
    else if (!strcmp(an, "sigmoid")) n = onnx_node(g, "Sigmoid", x, NULL, NULL, y);
    else if (!strcmp(an, "tanh")) n = onnx_node(g, "Tanh", x, NULL, NULL, y);
    else if (!strcmp(an, "softplus")) n = onnx_node(g, "Softplus", x, NULL, NULL, y);
    else if (!strcmp(an, "softsign")) n = onnx_node(g, "Softsign", x, NULL, NULL, y);
    else if (!strcmp(an, "elu")) n = onnx_node(g, "Elu", x, NULL, NULL, y);
    else if (!strcmp(an, "selu")) n = onnx_node(g, "Selu", x, NULL, NULL, y);
    else if (!strcmp(an, "exponential")) n = onnx_node(g, "Exp", x, NULL, NULL, y);
    else if (!strcmp(an, "softmax") || !strcmp(an, "log_softmax")) {
        n = onnx_node(g, an[0] == 's' ? "Softmax" : "LogSoftmax", x, NULL, NULL, y);
        onnx_attr_i(g, n, "axis", -1);
    } else if (!strcmp(an, "hard_sigmoid")) {
        n = onnx_node(g, "HardSigmoid", x, NULL, NULL, y);
        onnx_attr_f(g, n, "alpha", 0.2f);
        onnx_attr_f(g, n, "beta", 0.5f);
    } else if (!strcmp(an, "leaky_relu")) {
        n = onnx_node(g, "LeakyRelu", x, NULL, NULL, y);
        onnx_attr_f(g, n, "alpha", 0.2f);
    } else if (!strcmp(an, "relu6")) {
        n = onnx_node(g, "Clip", x, onnx_scalar(g, "zero", 0), onnx_scalar(g, "six", 6), y);
    } else if (!strcmp(an, "swish") || !strcmp(an, "silu")) {
        char *s = onnx_fresh(g, lname);
        onnx_node(g, "Sigmoid", x, NULL, NULL, s);
        n = onnx_node(g, "Mul", x, s, NULL, y);
    } else if (!strcmp(an, "gelu")) {
        /* exact: 0.5 x (1 + erf(x / sqrt 2)) */
        char *a1 = onnx_fresh(g, lname), *a2 = onnx_fresh(g, lname), *a3 = onnx_fresh(g, lname);
        onnx_node(g, "Div", x, onnx_scalar(g, "sqrt2", 1.41421356237309504880f), NULL, a1);
        onnx_node(g, "Erf", a1, NULL, NULL, a2);
        onnx_node(g, "Add", a2, onnx_scalar(g, "one", 1), NULL, a3);
        char *a4 = onnx_fresh(g, lname);
        onnx_node(g, "Mul", x, a3, NULL, a4);
        n = onnx_node(g, "Mul", a4, onnx_scalar(g, "half", 0.5f), NULL, y);
    } else {
        sq_fail(err, "layer %s: activation %s cannot be expressed in ONNX", lname, an);
        return NULL;
    }
    return n ? y : NULL;
}

static const char *layer(onnx_graph *g, const sq_layer *l, const float *w, const char *x,
                         const onnx_mask *mask, const char **made, sq_error *err);

/* The second wave's kinds. */
static const char *layer2(onnx_graph *g, const sq_layer *l, const float *w, const char *x,
                          const onnx_mask *mask, const char **made, sq_error *err)
{
    const char *cls = l->kind->class_name;
    char *o = onnx_fresh(g, l->name);
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
            onnx_pads1(in->d[1], out->d[1], k, s, dl, !strcasecmp(pad, "same"), &pads[0], &pads[1]);
        }
        const char *xt = onnx_swap12(g, x, l->name);
        char *wn = onnx_tensor(g, "kernel", dims, 3, t, NULL);
        free(t);
        char *cv = onnx_fresh(g, l->name);
        const char *bn = l->nweights > 1 ? onnx_tensor(g, "bias", bd, 1, w + k * c * f, NULL)
            : NULL;
        Onnx__NodeProto *n = onnx_node(g, "Conv", xt, wn, bn, cv);
        onnx_attr_is(g, n, "kernel_shape", kk, 1);
        onnx_attr_is(g, n, "strides", st, 1);
        onnx_attr_is(g, n, "dilations", dd, 1);
        onnx_attr_is(g, n, "pads", pads, 2);
        return onnx_swap12(g, cv, l->name);
    }
    if (!strcmp(cls, "MaxPooling1D") || !strcmp(cls, "AveragePooling1D")) {
        long k = opt(l, "pool_size")->i[0], s = opt(l, "strides")->i[0];
        if (s <= 0)
            s = k;
        int64_t pads[2], st[1] = { s }, kk[1] = { k };
        onnx_pads1(in->d[1], out->d[1], k, s, 1, !strcasecmp(opt(l, "padding")->s, "same"),
                   &pads[0],
                   &pads[1]);
        const char *xt = onnx_swap12(g, x, l->name);
        char *p = onnx_fresh(g, l->name);
        int max = cls[0] == 'M';
        Onnx__NodeProto *n = onnx_node(g, max ? "MaxPool" : "AveragePool", xt, NULL, NULL, p);
        onnx_attr_is(g, n, "kernel_shape", kk, 1);
        onnx_attr_is(g, n, "strides", st, 1);
        onnx_attr_is(g, n, "pads", pads, 2);
        if (!max)
            onnx_attr_i(g, n, "count_include_pad", 0);
        return onnx_swap12(g, p, l->name);
    }
    if (!strcmp(cls, "GlobalMaxPooling1D") || !strcmp(cls, "GlobalAveragePooling1D")) {
        static const int64_t axes[1] = { 1 };
        int keep = (int)opt(l, "keepdims")->i[0];
        if (cls[6] == 'A' && mask->on) {
            /* Keras: sum(x * mask) / sum(mask) over the steps, as a ratio of means */
            if (!mask->name)
                return sq_fail(err, "layer %s (%s): its input's Keras mask comes through layers "
                               "whose mask this seqsh cannot follow into ONNX", l->name, cls),
                       NULL;
            char *mf = onnx_fresh(g, l->name), *xm = onnx_fresh(g, l->name);
            char *num = onnx_fresh(g, l->name), *den = onnx_fresh(g, l->name);
            onnx_attr_i(g, onnx_node(g, "Cast", mask->name, NULL, NULL, mf), "to",
                        ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT);
            onnx_node(g, "Mul", x, mf, NULL, xm);
            Onnx__NodeProto *n = onnx_node(g, "ReduceMean", xm, NULL, NULL, num);
            onnx_attr_is(g, n, "axes", axes, 1);
            onnx_attr_i(g, n, "keepdims", keep);
            n = onnx_node(g, "ReduceMean", mf, NULL, NULL, den);
            onnx_attr_is(g, n, "axes", axes, 1);
            onnx_attr_i(g, n, "keepdims", keep);
            onnx_node(g, "Div", num, den, NULL, o);
            return o;
        }
        Onnx__NodeProto *n = onnx_node(g, cls[6] == 'M' ? "ReduceMax" : "ReduceMean", x, NULL,
                                       NULL, o);
        onnx_attr_is(g, n, "axes", axes, 1);
        onnx_attr_i(g, n, "keepdims", keep);
        return o;
    }
    if (!strcmp(cls, "UpSampling1D")) {
        /* (B, T, C) -> (B, T, 1, C) -> (B, T, size, C) -> (B, T*size, C) */
        const int64_t ax[1] = { 2 }, rep[4] = { 1, 1, opt(l, "size")->i[0], 1 };
        const int64_t shp[3] = { 0, -1, in->d[2] };
        char *a = onnx_fresh(g, l->name), *b = onnx_fresh(g, l->name);
        onnx_node(g, "Unsqueeze", x, onnx_ints(g, "axes", ax, 1), NULL, a);
        onnx_node(g, "Tile", a, onnx_ints(g, "repeats", rep, 4), NULL, b);
        onnx_node(g, "Reshape", b, onnx_ints(g, "shape", shp, 3), NULL, o);
        return o;
    }
    if (!strcmp(cls, "ZeroPadding1D")) {
        const sq_optval *pv = opt(l, "padding");
        const int64_t pads[6] = { 0, pv->i[0], 0, 0, pv->i[1], 0 };
        onnx_node(g, "Pad", x, onnx_ints(g, "pads", pads, 6), NULL, o);
        return o;
    }
    if (!strcmp(cls, "Cropping1D")) {
        const sq_optval *cv = opt(l, "cropping");
        const int64_t st[1] = { cv->i[0] }, en[1] = { cv->i[1] ? -cv->i[1] : INT64_MAX };
        const int64_t ax[1] = { 1 };
        Onnx__NodeProto *n = onnx_node(g, "Slice", x, onnx_ints(g, "starts", st, 1),
                                       onnx_ints(g, "ends", en, 1), o);
        onnx_more_input(g, n, onnx_ints(g, "axes", ax, 1));
        return o;
    }
    if (!strcmp(cls, "RepeatVector")) {
        const int64_t ax[1] = { 1 }, rep[3] = { 1, opt(l, "n")->i[0], 1 };
        char *a = onnx_fresh(g, l->name);
        onnx_node(g, "Unsqueeze", x, onnx_ints(g, "axes", ax, 1), NULL, a);
        onnx_node(g, "Tile", a, onnx_ints(g, "repeats", rep, 3), NULL, o);
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
        return onnx_permute(g, x, perm, nd + 1, l->name);
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
        char *mean = onnx_fresh(g, l->name), *xc = onnx_fresh(g, l->name);
        char *sq = onnx_fresh(g, l->name), *var = onnx_fresh(g, l->name);
        char *ve = onnx_fresh(g, l->name), *sd = onnx_fresh(g, l->name);
        char *nrm = onnx_fresh(g, l->name);
        Onnx__NodeProto *n = onnx_node(g, "ReduceMean", x, NULL, NULL, mean);
        onnx_attr_is(g, n, "axes", axes, na);
        onnx_node(g, "Sub", x, mean, NULL, xc);
        onnx_node(g, "Mul", xc, xc, NULL, sq);
        n = onnx_node(g, "ReduceMean", sq, NULL, NULL, var);
        onnx_attr_is(g, n, "axes", axes, na);
        onnx_node(g, "Add", var, onnx_scalar(g, "epsilon", (float)opt(l, "epsilon")->f), NULL, ve);
        onnx_node(g, "Sqrt", ve, NULL, NULL, sd);
        onnx_node(g, "Div", xc, sd, NULL, nrm);
        const char *y = nrm;
        size_t cnt = sq_weight_count(&l->w[0]);
        if (scale) {
            char *t = onnx_fresh(g, l->name);
            onnx_node(g, "Mul", y, onnx_tensor(g, "gamma", bshape, in->rank, w, NULL), NULL, t);
            y = t;
        }
        if (center) {
            char *t = onnx_fresh(g, l->name);
            onnx_node(g, "Add", y,
                      onnx_tensor(g, "beta", bshape, in->rank, w + (scale ? cnt : 0), NULL),
                      NULL, t);
            y = t;
        }
        return y;
    }
    if (!strcmp(cls, "LeakyReLU") || !strcmp(cls, "ELU")) {
        Onnx__NodeProto *n = onnx_node(g, cls[0] == 'L' ? "LeakyRelu" : "Elu", x, NULL, NULL, o);
        onnx_attr_f(g, n, "alpha", (float)opt(l, "alpha")->f);
        return o;
    }
    if (!strcmp(cls, "PReLU")) {
        int64_t dims[SQ_MAX_RANK];
        for (int i = 0; i < l->w[0].shape.rank; i++)
            dims[i] = l->w[0].shape.d[i];
        onnx_node(g, "PRelu", x, onnx_tensor(g, "alpha", dims, l->w[0].shape.rank, w, NULL),
                  NULL, o);
        return o;
    }
    if (!strcmp(cls, "ReLU")) {
        /* Keras's backend relu: min(x, max_value) above threshold,
         * negative_slope * (x - threshold) otherwise */
        const char *mv = opt(l, "max_value")->s;
        float thr = (float)opt(l, "threshold")->f, slope = (float)opt(l, "negative_slope")->f;
        const char *top = x;
        if (strcmp(mv, "None")) {
            char *t = onnx_fresh(g, l->name);
            onnx_node(g, "Min", x, onnx_scalar(g, "max_value", strtof(mv, NULL)), NULL, t);
            top = t;
        }
        char *gt = onnx_fresh(g, l->name), *sub = onnx_fresh(g, l->name);
        char *neg = onnx_fresh(g, l->name);
        onnx_node(g, "Greater", x, onnx_scalar(g, "threshold", thr), NULL, gt);
        onnx_node(g, "Sub", x, onnx_scalar(g, "threshold", thr), NULL, sub);
        onnx_node(g, "Mul", sub, onnx_scalar(g, "negative_slope", slope), NULL, neg);
        Onnx__NodeProto *n = onnx_node(g, "Where", gt, top, neg, o);
        return n ? o : NULL;
    }
    if (!strcmp(cls, "Softmax")) {
        onnx_attr_i(g, onnx_node(g, "Softmax", x, NULL, NULL, o), "axis", opt(l, "axis")->i[0]);
        return o;
    }
    if (!strcmp(cls, "ThresholdedReLU")) {
        onnx_attr_f(g, onnx_node(g, "ThresholdedRelu", x, NULL, NULL, o), "alpha",
                    (float)opt(l, "theta")->f);
        return o;
    }
    if (!strcmp(cls, "Embedding")) {
        /* float ids are truncated, as tf.cast does */
        long vocab = l->w[0].shape.d[0], dim = l->w[0].shape.d[1];
        int64_t dims[2] = { vocab, dim };
        char *ids = onnx_fresh(g, l->name);
        onnx_attr_i(g, onnx_node(g, "Cast", x, NULL, NULL, ids), "to",
                    ONNX__TENSOR_PROTO__DATA_TYPE__INT64);
        onnx_node(g, "Gather", onnx_tensor(g, "embeddings", dims, 2, w, NULL), ids, NULL, o);
        if (opt(l, "mask_zero")->i[0] && in->rank == 2) {
            /* Keras: not_equal(inputs, 0), on the ids as given */
            static const int64_t two[1] = { 2 };
            char *eq = onnx_fresh(g, l->name), *ne = onnx_fresh(g, l->name);
            char *m = onnx_fresh(g, l->name);
            onnx_node(g, "Equal", x, onnx_scalar(g, "zero", 0), NULL, eq);
            onnx_node(g, "Not", eq, NULL, NULL, ne);
            onnx_node(g, "Unsqueeze", ne, onnx_ints(g, "axes", two, 1), NULL, m);
            *made = m;
        }
        return o;
    }
    if (!strcmp(cls, "Masking")) {
        /* Keras zeroes the steps whose values all equal mask_value */
        static const int64_t last[1] = { -1 };
        char *eq = onnx_fresh(g, l->name), *ne = onnx_fresh(g, l->name);
        char *nf = onnx_fresh(g, l->name);
        char *any = onnx_fresh(g, l->name);
        onnx_node(g, "Equal", x, onnx_scalar(g, "mask_value", (float)opt(l, "mask_value")->f),
                  NULL, eq);
        onnx_node(g, "Not", eq, NULL, NULL, ne);
        onnx_attr_i(g, onnx_node(g, "Cast", ne, NULL, NULL, nf), "to",
                    ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT);
        Onnx__NodeProto *n = onnx_node(g, "ReduceMax", nf, NULL, NULL, any);
        onnx_attr_is(g, n, "axes", last, 1);
        onnx_attr_i(g, n, "keepdims", 1);
        onnx_node(g, "Mul", x, any, NULL, o);
        if (in->rank == 3) {
            char *m = onnx_fresh(g, l->name);
            onnx_attr_i(g, onnx_node(g, "Cast", any, NULL, NULL, m), "to",
                        ONNX__TENSOR_PROTO__DATA_TYPE__BOOL);
            *made = m;
        }
        return o;
    }
    if (!strcmp(cls, "SimpleRNN") || !strcmp(cls, "LSTM") || !strcmp(cls, "GRU"))
        return onnx_recurrent(g, l, l, w, x, mask, err);
    if (!strcmp(cls, "Bidirectional"))
        return onnx_recurrent(g, l, l->inner, w, x, mask, err);
    if (!strcmp(cls, "TimeDistributed")) {
        /* the wrapped layer on (B*T, ...), then back to (B, T, ...) */
        if (mask->on && in->rank > 3 && sq_layer_reads_mask(l->inner))
            return sq_fail(err, "layer %s (TimeDistributed): its input's Keras mask reaches the "
                           "%s it wraps, which this seqsh cannot follow into ONNX", l->name,
                           l->inner->kind->class_name), NULL;
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
        char *flat = onnx_fresh(g, l->name);
        onnx_node(g, "Reshape", x, onnx_ints(g, "shape", ishp, in->rank - 1), NULL, flat);
        const onnx_mask none = { 0, NULL };   /* the steps are rows here */
        const char *inner_made = NULL;
        const char *yi = layer(g, &t, w, flat, &none, &inner_made, err);
        if (!yi)
            return NULL;
        /* the batch and the steps from the input's shape */
        static const int64_t z[1] = { 0 }, two[1] = { 2 };
        char *sh = onnx_fresh(g, l->name), *bt = onnx_fresh(g, l->name);
        char *full = onnx_fresh(g, l->name);
        onnx_node(g, "Shape", x, NULL, NULL, sh);
        onnx_node(g, "Slice", sh, onnx_ints(g, "starts", z, 1), onnx_ints(g, "ends", two, 1), bt);
        Onnx__NodeProto *n = onnx_node(g, "Concat", bt, out->rank > 2
                                       ? onnx_ints(g, "rest", oshp, out->rank - 2)
                                       : NULL, NULL, full);
        onnx_attr_i(g, n, "axis", 0);
        onnx_node(g, "Reshape", yi, full, NULL, o);
        return o;
    }
    return onnx_spatial(g, l, w, x, err);
}

/* Adds the nodes of layer l (weights at w) on input x, which carries the
 * Keras mask `mask`; returns its output's name. A layer that makes a mask
 * the graph can hold (Embedding, Masking on (B, T, d)) sets *made to it. */
static const char *layer(onnx_graph *g, const sq_layer *l, const float *w, const char *x,
                         const onnx_mask *mask, const char **made, sq_error *err)
{
    const char *cls = l->kind->class_name;
    const char *y = NULL;
    char *o = onnx_fresh(g, l->name);
    if (!strcmp(cls, "Dense")) {
        long d = l->w[0].shape.d[0], u = l->w[0].shape.d[1];
        int64_t dims[2] = { d, u };
        onnx_node(g, "MatMul", x, onnx_tensor(g, "kernel", dims, 2, w, NULL), NULL, o);
        y = o;
        if (l->nweights > 1) {
            char *b = onnx_fresh(g, l->name);
            int64_t bd[1] = { u };
            onnx_node(g, "Add", o, onnx_tensor(g, "bias", bd, 1, w + d * u, NULL), NULL, b);
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
        int64_t dims[4] = { f, c, kh, kw }, bd[1] = { f }, pads[4], st[2], dl[2];
        int64_t kk[2] = { kh, kw };
        const sq_optval *sv = opt(l, "strides"), *dv = opt(l, "dilation_rate");
        long k[2] = { kh, kw };
        onnx_pads2(l, k, sv->i, dv->i, !strcasecmp(opt(l, "padding")->s, "same"), pads);
        for (int a = 0; a < 2; a++) {
            st[a] = sv->i[a];
            dl[a] = dv->i[a];
        }
        const char *xt = onnx_nchw(g, x, 1, l->name);
        char *wn = onnx_tensor(g, "kernel", dims, 4, t, NULL);
        free(t);
        char *cv = onnx_fresh(g, l->name);
        const char *bn = l->nweights > 1
            ? onnx_tensor(g, "bias", bd, 1, w + kh * kw * c * f, NULL) : NULL;
        Onnx__NodeProto *n = onnx_node(g, "Conv", xt, wn, bn, cv);
        onnx_attr_is(g, n, "kernel_shape", kk, 2);
        onnx_attr_is(g, n, "strides", st, 2);
        onnx_attr_is(g, n, "dilations", dl, 2);
        onnx_attr_is(g, n, "pads", pads, 4);
        y = onnx_nchw(g, cv, 0, l->name);
    } else if (!strcmp(cls, "MaxPooling2D") || !strcmp(cls, "AveragePooling2D")) {
        const sq_optval *pv = opt(l, "pool_size"), *sv = opt(l, "strides");
        const long *s = sv->i[0] > 0 ? sv->i : pv->i, one[2] = { 1, 1 };
        int64_t pads[4], st[2] = { s[0], s[1] }, kk[2] = { pv->i[0], pv->i[1] };
        onnx_pads2(l, pv->i, s, one, !strcasecmp(opt(l, "padding")->s, "same"), pads);
        const char *xt = onnx_nchw(g, x, 1, l->name);
        char *p = onnx_fresh(g, l->name);
        int max = cls[0] == 'M';
        Onnx__NodeProto *n = onnx_node(g, max ? "MaxPool" : "AveragePool", xt, NULL, NULL, p);
        onnx_attr_is(g, n, "kernel_shape", kk, 2);
        onnx_attr_is(g, n, "strides", st, 2);
        onnx_attr_is(g, n, "pads", pads, 4);
        if (!max)
            onnx_attr_i(g, n, "count_include_pad", 0);   /* padded cells never count */
        y = onnx_nchw(g, p, 0, l->name);
    } else if (!strcmp(cls, "GlobalMaxPooling2D") || !strcmp(cls, "GlobalAveragePooling2D")) {
        static const int64_t axes[2] = { 1, 2 };
        Onnx__NodeProto *n = onnx_node(g, cls[6] == 'M' ? "ReduceMax" : "ReduceMean", x, NULL,
                                       NULL, o);
        onnx_attr_is(g, n, "axes", axes, 2);
        onnx_attr_i(g, n, "keepdims", opt(l, "keepdims")->i[0]);
        y = o;
    } else if (!strcmp(cls, "Flatten")) {
        onnx_attr_i(g, onnx_node(g, "Flatten", x, NULL, NULL, o), "axis", 1);
        y = o;
    } else if (!strcmp(cls, "Reshape")) {
        int64_t shape[SQ_MAX_RANK], dims[1] = { l->out_shape.rank };
        shape[0] = 0;   /* the batch, copied */
        for (int a = 1; a < l->out_shape.rank; a++)
            shape[a] = l->out_shape.d[a];
        onnx_node(g, "Reshape", x, onnx_tensor(g, "shape", dims, 1, NULL, shape), NULL, o);
        y = o;
    } else if (!strcmp(cls, "Dropout")) {
        onnx_node(g, "Identity", x, NULL, NULL, o);
        y = o;
    } else if (!strcmp(cls, "Activation")) {
        y = x;
    } else if (!strcmp(cls, "Rescaling")) {
        char *a = onnx_fresh(g, l->name);
        onnx_node(g, "Mul", x, onnx_scalar(g, "scale", (float)opt(l, "scale")->f), NULL, a);
        onnx_node(g, "Add", a, onnx_scalar(g, "offset", (float)opt(l, "offset")->f), NULL, o);
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
        char *a = onnx_fresh(g, l->name);
        onnx_node(g, "Mul", x, onnx_tensor(g, "bn_scale", dims, 1, mul, NULL), NULL, a);
        onnx_node(g, "Add", a, onnx_tensor(g, "bn_shift", dims, 1, mul + c, NULL), NULL, o);
        free(mul);
        y = o;
    } else if (!(y = layer2(g, l, w, x, mask, made, err))) {
        return NULL;
    }
    if (!y)
        return NULL;
    return onnx_activation(g, l->act, y, l->name, err);
}

static Onnx__ValueInfoProto *value_info(onnx_graph *g, const char *name, const sq_shape *sh)
{
    Onnx__ValueInfoProto *v = onnx_alloc(g, sizeof *v);
    Onnx__TypeProto *t = onnx_alloc(g, sizeof *t);
    Onnx__TypeProto__Tensor *tt = onnx_alloc(g, sizeof *tt);
    Onnx__TensorShapeProto *s = onnx_alloc(g, sizeof *s);
    if (!v || !t || !tt || !s)
        return NULL;
    onnx__value_info_proto__init(v);
    onnx__type_proto__init(t);
    onnx__type_proto__tensor__init(tt);
    onnx__tensor_shape_proto__init(s);
    v->name = onnx_str(g, "%s", name);
    v->type = t;
    t->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    t->tensor_type = tt;
    tt->has_elem_type = 1;
    tt->elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    tt->shape = s;
    for (int i = 0; i < sh->rank; i++) {
        Onnx__TensorShapeProto__Dimension *d = onnx_alloc(g, sizeof *d);
        if (!d)
            return NULL;
        onnx__tensor_shape_proto__dimension__init(d);
        if (i == 0 || sh->d[i] < 0) {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            d->dim_param = i == 0 ? onnx_str(g, "batch") : onnx_str(g, "d%d", i);
        } else {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            d->dim_value = sh->d[i];
        }
        onnx_push(g, (void ***)&s->dim, &s->n_dim, d);
    }
    return v;
}

/* The mask of layer l's output (its rule r, its input's mask in, the
 * mask it made): held as long as it is one per step of a (B, T, d) tensor. */
static onnx_mask next_mask(const sq_layer *l, sq_mask_rule r, const onnx_mask *in,
                           const char *made)
{
    onnx_mask out = { r == SQ_MASK_MAKE || (r == SQ_MASK_KEEP && in->on), NULL };
    int per_step = l->in_shape.rank == 3 && l->out_shape.rank == 3;
    if (r == SQ_MASK_KEEP && per_step)
        out.name = in->name;
    else if (r == SQ_MASK_MAKE && made)
        out.name = made;
    else if (r == SQ_MASK_MAKE && l->inner && per_step
             && sq_layer_mask_rule(l->inner, in->on) == SQ_MASK_DROP)
        out.name = in->name;   /* TimeDistributed passes the steps' mask on */
    return out;
}

int sq_export_onnx(const sq_model *m, const char *path, sq_error *err)
{
    onnx_graph g = { 0 };
    int rc = -1;
    unsigned char *buf = NULL;
    if (!m->built || m->n == 0)
        return sq_fail(err, "export needs a built model with layers (give it an input shape)");
    const char *x = "input";
    onnx_mask mask = { 0, NULL };
    for (int i = 0; i < m->n && x; i++) {
        const sq_layer *l = m->layers[i];
        sq_mask_rule r = sq_layer_mask_rule(l, mask.on);
        const char *made = NULL;
        x = layer(&g, l, m->params + l->param_off, x, &mask, &made, err);
        mask = next_mask(l, r, &mask, made);
    }
    if (!x) {
        if (g.oom)
            sq_fail(err, "out of memory exporting '%s'", path);
        goto done;
    }
    onnx_node(&g, "Identity", x, NULL, NULL, "output");
    Onnx__GraphProto *gp = onnx_alloc(&g, sizeof *gp);
    Onnx__ModelProto *mp = onnx_alloc(&g, sizeof *mp);
    Onnx__OperatorSetIdProto *os = onnx_alloc(&g, sizeof *os);
    Onnx__ValueInfoProto *vin = value_info(&g, "input", &m->input_shape);
    Onnx__ValueInfoProto *vout = value_info(&g, "output", &m->layers[m->n - 1]->out_shape);
    if (g.oom || !gp || !mp || !os || !vin || !vout) {
        sq_fail(err, "out of memory exporting '%s'", path);
        goto done;
    }
    onnx__graph_proto__init(gp);
    onnx__model_proto__init(mp);
    onnx__operator_set_id_proto__init(os);
    gp->name = onnx_str(&g, "%s", m->name);
    gp->node = g.nodes;
    gp->n_node = g.nn;
    gp->initializer = g.inits;
    gp->n_initializer = g.ni;
    onnx_push(&g, (void ***)&gp->input, &gp->n_input, vin);
    onnx_push(&g, (void ***)&gp->output, &gp->n_output, vout);
    os->domain = onnx_str(&g, "%s", "");
    os->has_version = 1;
    os->version = OPSET;
    mp->has_ir_version = 1;
    mp->ir_version = IR_VERSION;
    onnx_push(&g, (void ***)&mp->opset_import, &mp->n_opset_import, os);
    mp->producer_name = onnx_str(&g, "seqsh");
    mp->graph = gp;
    mp->doc_string = onnx_str(&g, "%s: input in seqsh's channels-last layout", m->name);
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
