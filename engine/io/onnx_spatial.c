/* onnx_spatial.c - the 2-D kinds of the second wave as ONNX nodes:
 * Conv2DTranspose, UpSampling2D, ZeroPadding2D, Cropping2D, SeparableConv2D
 * and DepthwiseConv2D, on and to seqsh's channels-last layout (the
 * convolutions and the resize transpose to NCHW and back around
 * themselves). Facts: keras-layers-wave2.md. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "io/onnx_graph.h"
#include "layers/spatial2d.h"

static const sq_optval *opt(const sq_layer *l, const char *name)
{
    int i = sq_opt_index(l->kind, name);
    return i >= 0 ? &l->opt[i] : NULL;
}

/* Keras's depthwise kernel (kh, kw, C, dm) as ONNX's grouped Conv weight
 * (C*dm, 1, kh, kw): output channel c*dm + m, as tf.nn.depthwise_conv2d
 * orders them and as a Conv with group = C groups its outputs. Returns a
 * new array (NULL: out of memory). */
static float *depthwise_weight(const float *k, long kh, long kw, long c, long dm)
{
    float *t = sq_malloc((size_t)(kh * kw * c * dm + 1) * sizeof *t);
    for (long a = 0; t && a < kh; a++)
        for (long b = 0; b < kw; b++)
            for (long ci = 0; ci < c; ci++)
                for (long m = 0; m < dm; m++)
                    t[((ci * dm + m) * kh + a) * kw + b] = k[((a * kw + b) * c + ci) * dm + m];
    return t;
}

/* A depthwise convolution of NCHW xt by the layer's depthwise kernel at
 * w, TensorFlow's padding, bias b (C*dm values) or none. */
static const char *depthwise(onnx_graph *g, const sq_layer *l, const float *w, const float *b,
                             const char *xt)
{
    const sq_shape *ks = &l->w[0].shape;
    long kh = ks->d[0], kw = ks->d[1], c = ks->d[2], dm = ks->d[3];
    const sq_optval *sv = opt(l, "strides"), *dv = opt(l, "dilation_rate");
    float *t = depthwise_weight(w, kh, kw, c, dm);
    if (!t) {
        g->oom = 1;
        return NULL;
    }
    int64_t dims[4] = { c * dm, 1, kh, kw }, bd[1] = { c * dm }, pads[4];
    int64_t kk[2] = { kh, kw }, st[2] = { sv->i[0], sv->i[1] }, dl[2] = { dv->i[0], dv->i[1] };
    onnx_pads2(l, ks->d, sv->i, dv->i, !strcasecmp(opt(l, "padding")->s, "same"), pads);
    char *wn = onnx_tensor(g, "depthwise_kernel", dims, 4, t, NULL);
    free(t);
    char *y = onnx_fresh(g, l->name);
    Onnx__NodeProto *n = onnx_node(g, "Conv", xt, wn, b ? onnx_tensor(g, "bias", bd, 1, b, NULL)
                                   : NULL, y);
    onnx_attr_is(g, n, "kernel_shape", kk, 2);
    onnx_attr_is(g, n, "strides", st, 2);
    onnx_attr_is(g, n, "dilations", dl, 2);
    onnx_attr_is(g, n, "pads", pads, 4);
    onnx_attr_i(g, n, "group", c);
    return n ? y : NULL;
}

/* SeparableConv2D: the depthwise step without bias, then a 1x1 Conv by
 * the pointwise kernel (1, 1, C*dm, f) -> (f, C*dm, 1, 1) with the bias. */
static const char *separable(onnx_graph *g, const sq_layer *l, const float *w, const char *x)
{
    size_t nd = sq_weight_count(&l->w[0]);
    long cm = l->w[1].shape.d[2], f = l->w[1].shape.d[3];
    const char *xt = onnx_nchw(g, x, 1, l->name);
    const char *mid = xt ? depthwise(g, l, w, NULL, xt) : NULL;
    float *t = sq_malloc((size_t)(cm * f + 1) * sizeof *t);
    if (!t) {
        g->oom = 1;
        return NULL;
    }
    const float *p = w + nd;
    for (long ci = 0; ci < cm; ci++)
        for (long fi = 0; fi < f; fi++)
            t[fi * cm + ci] = p[ci * f + fi];
    int64_t dims[4] = { f, cm, 1, 1 }, bd[1] = { f }, one[2] = { 1, 1 };
    char *wn = onnx_tensor(g, "pointwise_kernel", dims, 4, t, NULL);
    free(t);
    char *y = onnx_fresh(g, l->name);
    Onnx__NodeProto *n = onnx_node(g, "Conv", mid, wn, l->nweights > 2
                                   ? onnx_tensor(g, "bias", bd, 1, p + cm * f, NULL) : NULL, y);
    onnx_attr_is(g, n, "kernel_shape", one, 2);
    return n ? onnx_nchw(g, y, 0, l->name) : NULL;
}

/* Conv2DTranspose: ONNX's ConvTranspose without pads computes the full
 * transposed convolution, (n-1)*s + dk per axis; TensorFlow's output is
 * L cells of it from offset `off` (conv2d_transpose.c), the cells past its
 * end zero: so a Slice cuts [off, off + L), a Pad adds what the full one
 * lacks at the end, and the bias comes last (the added cells hold it too). */
static const char *transposed(onnx_graph *g, const sq_layer *l, const float *w, const char *x)
{
    const sq_shape *ks = &l->w[0].shape, *in = &l->in_shape, *out = &l->out_shape;
    long kh = ks->d[0], kw = ks->d[1], f = ks->d[2], c = ks->d[3];
    const sq_optval *sv = opt(l, "strides"), *dv = opt(l, "dilation_rate");
    int same = !strcasecmp(opt(l, "padding")->s, "same");
    float *t = sq_malloc((size_t)(kh * kw * f * c + 1) * sizeof *t);
    if (!t) {
        g->oom = 1;
        return NULL;
    }
    /* (kh, kw, f, c) -> (c, f, kh, kw): neither side flips the kernel */
    for (long a = 0; a < kh; a++)
        for (long b = 0; b < kw; b++)
            for (long fi = 0; fi < f; fi++)
                for (long ci = 0; ci < c; ci++)
                    t[((ci * f + fi) * kh + a) * kw + b] = w[((a * kw + b) * f + fi) * c + ci];
    int64_t dims[4] = { c, f, kh, kw }, kk[2] = { kh, kw };
    int64_t st[2] = { sv->i[0], sv->i[1] }, dl[2] = { dv->i[0], dv->i[1] };
    char *wn = onnx_tensor(g, "kernel", dims, 4, t, NULL);
    free(t);
    const char *xt = onnx_nchw(g, x, 1, l->name);
    char *y = onnx_fresh(g, l->name);
    Onnx__NodeProto *n = onnx_node(g, "ConvTranspose", xt, wn, NULL, y);
    onnx_attr_is(g, n, "kernel_shape", kk, 2);
    onnx_attr_is(g, n, "strides", st, 2);
    onnx_attr_is(g, n, "dilations", dl, 2);
    int64_t from[2], to[2], ext[8] = { 0 };
    int cut = 0, grow = 0;
    for (int a = 0; a < 2; a++) {
        long dk = ks->d[a] + (ks->d[a] - 1) * (dv->i[a] - 1);
        long full = (in->d[1 + a] - 1) * sv->i[a] + dk, len = out->d[1 + a];
        long off = same && full > len ? (full - len) / 2 : 0;
        from[a] = off;
        to[a] = off + len < full ? off + len : full;
        ext[6 + a] = off + len > full ? off + len - full : 0;   /* NCHW: after H, W */
        cut |= from[a] > 0 || to[a] < full;
        grow |= ext[6 + a] > 0;
    }
    const char *cur = y;
    if (cut) {
        static const int64_t axes[2] = { 2, 3 };
        char *s = onnx_fresh(g, l->name);
        Onnx__NodeProto *sl = onnx_node(g, "Slice", cur, onnx_ints(g, "starts", from, 2),
                                        onnx_ints(g, "ends", to, 2), s);
        onnx_more_input(g, sl, onnx_ints(g, "axes", axes, 2));
        cur = s;
    }
    if (grow) {
        char *p = onnx_fresh(g, l->name);
        onnx_node(g, "Pad", cur, onnx_ints(g, "pads", ext, 8), NULL, p);
        cur = p;
    }
    const char *back = onnx_nchw(g, cur, 0, l->name);
    if (l->nweights < 2)
        return back;
    int64_t bd[1] = { f };
    char *o = onnx_fresh(g, l->name);
    onnx_node(g, "Add", back, onnx_tensor(g, "bias", bd, 1, w + kh * kw * f * c, NULL), NULL, o);
    return o;
}

const char *onnx_spatial(onnx_graph *g, const sq_layer *l, const float *w, const char *x,
                         sq_error *err)
{
    const char *cls = l->kind->class_name;
    char *o = onnx_fresh(g, l->name);
    if (!strcmp(cls, "Conv2DTranspose"))
        return transposed(g, l, w, x);
    if (!strcmp(cls, "SeparableConv2D"))
        return separable(g, l, w, x);
    if (!strcmp(cls, "DepthwiseConv2D")) {
        const char *xt = onnx_nchw(g, x, 1, l->name);
        const char *y = xt ? depthwise(g, l, w, l->nweights > 1
                                       ? w + sq_weight_count(&l->w[0]) : NULL, xt) : NULL;
        return y ? onnx_nchw(g, y, 0, l->name) : NULL;
    }
    if (!strcmp(cls, "UpSampling2D")) {
        /* TensorFlow's resize with half-pixel centres: nearest reads input
         * cell floor((o + 0.5) / s), which rounding (o + 0.5) / s - 0.5
         * gives with 1/(2s) to spare; bilinear samples (o + 0.5) / s - 0.5
         * clamped to the edges */
        const long *s = opt(l, "size")->i;
        int bilinear = !strcmp(opt(l, "interpolation")->s, "bilinear");
        float scales[4] = { 1, 1, (float)s[0], (float)s[1] };
        int64_t sd[1] = { 4 };
        const char *xt = onnx_nchw(g, x, 1, l->name);
        char *y = onnx_fresh(g, l->name);
        char *sc = onnx_tensor(g, "scales", sd, 1, scales, NULL);
        Onnx__NodeProto *n = onnx_node(g, "Resize", xt, "", sc, y);   /* no roi */
        onnx_attr_s(g, n, "mode", bilinear ? "linear" : "nearest");
        onnx_attr_s(g, n, "coordinate_transformation_mode", "half_pixel");
        if (!bilinear)
            onnx_attr_s(g, n, "nearest_mode", "round_prefer_floor");
        return n ? onnx_nchw(g, y, 0, l->name) : NULL;
    }
    if (!strcmp(cls, "ZeroPadding2D") || !strcmp(cls, "Cropping2D")) {
        /* the margins from the built shapes: out = in + top + bottom (or
         * minus), and the option's canonical ((t,b),(l,r)) */
        long m[4];
        int pad = cls[0] == 'Z';
        const char *text = opt(l, pad ? "padding" : "cropping")->s;
        if (sq_parse_margins(text, cls, pad ? "padding" : "cropping", m, NULL, 0, err) < 0)
            return NULL;
        if (pad) {
            const int64_t pads[8] = { 0, m[0], m[2], 0, 0, m[1], m[3], 0 };
            onnx_node(g, "Pad", x, onnx_ints(g, "pads", pads, 8), NULL, o);
            return o;
        }
        const int64_t st[2] = { m[0], m[2] }, ax[2] = { 1, 2 };
        const int64_t en[2] = { m[1] ? -m[1] : INT64_MAX, m[3] ? -m[3] : INT64_MAX };
        Onnx__NodeProto *n = onnx_node(g, "Slice", x, onnx_ints(g, "starts", st, 2),
                                       onnx_ints(g, "ends", en, 2), o);
        onnx_more_input(g, n, onnx_ints(g, "axes", ax, 2));
        return o;
    }
    sq_fail(err, "layer %s (%s) cannot be expressed in ONNX by this seqsh", l->name, cls);
    return NULL;
}
