/* onnx_rnn.c - SimpleRNN, LSTM, GRU and Bidirectional as ONNX nodes. Where
 * ONNX's own RNN/LSTM/GRU ops compute what Keras does (no Keras mask, the
 * activations those ops know), they are used. Otherwise the layer becomes
 * a Scan over time whose body is one step of the Keras cell written out
 * with the cell's activations, and, when the input carries a Keras mask
 * (Embedding mask_zero, Masking), Keras's masking: a masked step keeps the
 * states and repeats the previous output (0 in a Bidirectional returning
 * sequences). The mask can be anywhere in a sequence, not only a padding
 * suffix, which ONNX's sequence_lens would need; the Scan keeps the graph
 * one step long whatever the number of steps. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "io/onnx_graph.h"

static const sq_optval *opt(const sq_layer *l, const char *name)
{
    int i = sq_opt_index(l->kind, name);
    return i >= 0 ? &l->opt[i] : NULL;
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
 * reset_after=false is ONNX's default GRU. Their activations are rnn_act's. */
static const char *native(onnx_graph *g, const sq_layer *l, const sq_layer *cell, const float *w,
                          const char *x, int ndir, const char *merge)
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
    char *wn = onnx_tensor(g, "W", wd, 3, W, NULL), *rn = onnx_tensor(g, "R", rd, 3, R, NULL);
    char *bn = onnx_tensor(g, "B", bd, 2, B, NULL);
    free(W);
    static const int64_t tbd[3] = { 1, 0, 2 };
    const char *xt = onnx_permute(g, x, tbd, 3, l->name);   /* time major */
    if (back && xt)
        xt = onnx_reverse(g, xt, 0, l->name);
    char *Y = onnx_fresh(g, l->name), *Yh = onnx_fresh(g, l->name);
    Onnx__NodeProto *n = onnx_node(g, gates == 4 ? "LSTM" : gates == 3 ? "GRU" : "RNN", xt, wn, rn,
                                   Y);
    onnx_more_input(g, n, bn);
    if (n)
        onnx_push(g, (void ***)&n->output, &n->n_output, Yh);
    onnx_attr_i(g, n, "hidden_size", u);
    onnx_attr_s(g, n, "direction", ndir == 2 ? "bidirectional" : "forward");
    const char *acts[6];
    int na = 0;
    for (int dir = 0; dir < ndir; dir++) {
        if (gates > 1)
            acts[na++] = rnn_act(rec);
        acts[na++] = rnn_act(act);
        if (gates == 4)
            acts[na++] = rnn_act(act);
    }
    onnx_attr_ss(g, n, "activations", acts, na);
    if (gates == 3)
        onnx_attr_i(g, n, "linear_before_reset", reset_after);
    char *out = onnx_fresh(g, l->name);
    const char *mop = !strcmp(merge, "sum") ? "ReduceSum" : !strcmp(merge, "mul") ? "ReduceProd"
        : !strcmp(merge, "ave") ? "ReduceMean" : NULL;
    if (seqs) {
        /* Y: (T, ndir, B, u) */
        if (ndir == 1 || !mop) {
            static const int64_t p4[4] = { 2, 0, 1, 3 };
            const int64_t shp[3] = { 0, 0, ndir * u };
            const char *t = onnx_permute(g, Y, p4, 4, l->name);
            onnx_node(g, "Reshape", t, onnx_ints(g, "shape", shp, 3), NULL, out);
            return out;
        }
        char *r = onnx_fresh(g, l->name);
        static const int64_t ax1[1] = { 1 };
        Onnx__NodeProto *rn2 = onnx_node(g, mop, Y, !strcmp(mop, "ReduceSum")
                                         ? onnx_ints(g, "axes", ax1, 1)
                                         : NULL, NULL, r);
        if (strcmp(mop, "ReduceSum"))
            onnx_attr_is(g, rn2, "axes", ax1, 1);
        onnx_attr_i(g, rn2, "keepdims", 0);
        return onnx_permute(g, r, tbd, 3, l->name);
    }
    /* Y_h: (ndir, B, u) */
    if (ndir == 1 || !mop) {
        const int64_t shp[2] = { 0, ndir * u };
        const char *t = onnx_permute(g, Yh, tbd, 3, l->name);
        onnx_node(g, "Reshape", t, onnx_ints(g, "shape", shp, 2), NULL, out);
        return out;
    }
    static const int64_t ax0[1] = { 0 };
    Onnx__NodeProto *rn2 = onnx_node(g, mop, Yh, !strcmp(mop, "ReduceSum")
                                     ? onnx_ints(g, "axes", ax0, 1)
                                     : NULL, NULL, out);
    if (strcmp(mop, "ReduceSum"))
        onnx_attr_is(g, rn2, "axes", ax0, 1);
    onnx_attr_i(g, rn2, "keepdims", 0);
    return out;
}

/* ---- a step of the Keras cell, in a Scan ---------------------------------- */

/* What one direction of a recurrent layer computes. */
typedef struct {
    const sq_layer *l;        /* the layer (names, errors) */
    int gates;                /* 1 SimpleRNN, 4 LSTM, 3 GRU */
    int reset_after, use_bias;
    int act, rec;             /* seqsh's activation indices */
    long u, d;
    sq_error *err;
} cell_desc;

/* Columns [from, to) of a (B, n) tensor. */
static const char *cols(onnx_graph *g, const char *x, long from, long to, const char *lname)
{
    if (!x)
        return NULL;
    const int64_t st[1] = { from }, en[1] = { to }, ax[1] = { 1 };
    char *y = onnx_fresh(g, lname);
    Onnx__NodeProto *n = onnx_node(g, "Slice", x, onnx_ints(g, "starts", st, 1),
                                   onnx_ints(g, "ends", en, 1), y);
    onnx_more_input(g, n, onnx_ints(g, "axes", ax, 1));
    return n ? y : NULL;
}

/* y = op(a, b), or NULL when a or b is (an error on the way). */
static const char *op2(onnx_graph *g, const char *op, const char *a, const char *b,
                       const char *lname)
{
    if (!a || !b)
        return NULL;
    char *y = onnx_fresh(g, lname);
    return onnx_node(g, op, a, b, NULL, y) ? y : NULL;
}

/* An initializer of the (rows, cols) block of columns [c0, c0 + n) of the
 * row-major (rows, stride) matrix m. */
static char *block(onnx_graph *g, const char *base, const float *m, long rows, long stride,
                   long c0, long n)
{
    float *t = sq_malloc((size_t)(rows * n + 1) * sizeof *t);
    if (!t) {
        g->oom = 1;
        return NULL;
    }
    for (long r = 0; r < rows; r++)
        memcpy(t + r * n, m + r * stride + c0, (size_t)n * sizeof *t);
    int64_t dims[2] = { rows, n };
    char *name = onnx_tensor(g, base, dims, 2, t, NULL);
    free(t);
    return name;
}

/* v -> activation a, or NULL when v is. */
static const char *act_of(onnx_graph *g, const cell_desc *c, int a, const char *v)
{
    return v ? onnx_activation(g, a, v, c->l->name, c->err) : NULL;
}

/* The new hidden state (and LSTM's new cell state in *c_new) from the
 * step's input projection xt (x K + the input bias, (B, G*u)), the previous
 * states hp and cp, the recurrent kernel R (u, G*u) and GRU's recurrent
 * bias br (NULL: none), as Keras 2.6's cells compute them. */
static const char *step(onnx_graph *g, const cell_desc *c, const float *R, const float *br,
                        const char *xt, const char *hp, const char *cp, const char **c_new)
{
    const char *nm = c->l->name;
    long u = c->u, G = c->gates * u;
    if (c->gates == 1) {
        const char *hr = op2(g, "MatMul", hp, block(g, "recurrent_kernel", R, u, G, 0, G), nm);
        const char *z = op2(g, "Add", xt, hr, nm);
        return act_of(g, c, c->act, z);
    }
    if (c->gates == 4) {
        /* gates i f c o */
        const char *hr = op2(g, "MatMul", hp, block(g, "recurrent_kernel", R, u, G, 0, G), nm);
        const char *z = op2(g, "Add", xt, hr, nm);
        const char *i = act_of(g, c, c->rec, cols(g, z, 0, u, nm));
        const char *f = act_of(g, c, c->rec, cols(g, z, u, 2 * u, nm));
        const char *cc = act_of(g, c, c->act, cols(g, z, 2 * u, 3 * u, nm));
        const char *o = act_of(g, c, c->rec, cols(g, z, 3 * u, 4 * u, nm));
        *c_new = op2(g, "Add", op2(g, "Mul", f, cp, nm), op2(g, "Mul", i, cc, nm), nm);
        return op2(g, "Mul", o, act_of(g, c, c->act, *c_new), nm);
    }
    /* GRU, gates z r h: h = z * h_prev + (1 - z) * candidate */
    const char *xz = cols(g, xt, 0, u, nm), *xr = cols(g, xt, u, 2 * u, nm);
    const char *xh = cols(g, xt, 2 * u, 3 * u, nm), *z, *cand;
    if (c->reset_after) {
        /* the recurrent part whole, its bias added, r applied after R_h */
        const char *hr = op2(g, "MatMul", hp, block(g, "recurrent_kernel", R, u, G, 0, G), nm);
        if (br) {
            int64_t bd[1] = { G };
            hr = op2(g, "Add", hr, onnx_tensor(g, "recurrent_bias", bd, 1, br, NULL), nm);
        }
        z = act_of(g, c, c->rec, op2(g, "Add", xz, cols(g, hr, 0, u, nm), nm));
        const char *r = act_of(g, c, c->rec, op2(g, "Add", xr, cols(g, hr, u, 2 * u, nm), nm));
        const char *rh = op2(g, "Mul", r, cols(g, hr, 2 * u, 3 * u, nm), nm);
        cand = act_of(g, c, c->act, op2(g, "Add", xh, rh, nm));
    } else {
        /* r applied to h_prev before R_h */
        const char *zr = op2(g, "MatMul", hp, block(g, "recurrent_kernel_zr", R, u, G, 0, 2 * u),
                             nm);
        z = act_of(g, c, c->rec, op2(g, "Add", xz, cols(g, zr, 0, u, nm), nm));
        const char *r = act_of(g, c, c->rec, op2(g, "Add", xr, cols(g, zr, u, 2 * u, nm), nm));
        const char *rh = op2(g, "MatMul", op2(g, "Mul", r, hp, nm),
                             block(g, "recurrent_kernel_h", R, u, G, 2 * u, u), nm);
        cand = act_of(g, c, c->act, op2(g, "Add", xh, rh, nm));
    }
    const char *one_minus = op2(g, "Sub", onnx_scalar(g, "one", 1), z, nm);
    return op2(g, "Add", op2(g, "Mul", z, hp, nm), op2(g, "Mul", one_minus, cand, nm), nm);
}

/* A body graph input or output of element type t and shape (batch, n):
 * onnxruntime wants every output's shape known. */
static Onnx__ValueInfoProto *body_value(onnx_graph *g, const char *name, int t, long n)
{
    Onnx__ValueInfoProto *v = onnx_alloc(g, sizeof *v);
    Onnx__TypeProto *ty = onnx_alloc(g, sizeof *ty);
    Onnx__TypeProto__Tensor *tt = onnx_alloc(g, sizeof *tt);
    Onnx__TensorShapeProto *sh = onnx_alloc(g, sizeof *sh);
    Onnx__TensorShapeProto__Dimension *d0 = onnx_alloc(g, sizeof *d0);
    Onnx__TensorShapeProto__Dimension *d1 = onnx_alloc(g, sizeof *d1);
    if (!v || !ty || !tt || !sh || !d0 || !d1)
        return NULL;
    onnx__value_info_proto__init(v);
    onnx__type_proto__init(ty);
    onnx__type_proto__tensor__init(tt);
    onnx__tensor_shape_proto__init(sh);
    onnx__tensor_shape_proto__dimension__init(d0);
    onnx__tensor_shape_proto__dimension__init(d1);
    v->name = onnx_str(g, "%s", name);
    v->type = ty;
    ty->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    ty->tensor_type = tt;
    tt->has_elem_type = 1;
    tt->elem_type = t;
    tt->shape = sh;
    d0->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
    d0->dim_param = onnx_str(g, "batch");
    d1->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
    d1->dim_value = n;
    onnx_push(g, (void ***)&sh->dim, &sh->n_dim, d0);
    onnx_push(g, (void ***)&sh->dim, &sh->n_dim, d1);
    return v;
}

/* One direction of recurrent layer l (cell: the RNN whose options count)
 * with weights w (kernel, recurrent kernel, bias) on x (B, T, d), its
 * Keras mask `mask` (bool (B, T, 1), or NULL), running from the last step
 * when back, masked steps giving 0 when zero_masked. Returns the outputs
 * (B, T, u) in the order the steps ran, or the last output (B, u). */
static const char *scan_dir(onnx_graph *g, const sq_layer *l, const sq_layer *cell,
                            const float *w, const char *x, const char *mask, int back,
                            int zero_masked, sq_error *err)
{
    const char *cls = cell->kind->class_name, *nm = l->name;
    cell_desc c = { .l = l, .gates = !strcmp(cls, "LSTM") ? 4 : !strcmp(cls, "GRU") ? 3 : 1,
                    .use_bias = (int)opt(cell, "use_bias")->i[0],
                    .act = sq_activation_find(opt(cell, "activation")->s),
                    .u = opt(cell, "units")->i[0], .d = l->in_shape.d[2], .err = err };
    c.reset_after = c.gates == 3 && opt(cell, "reset_after")->i[0];
    c.rec = c.gates > 1 ? sq_activation_find(opt(cell, "recurrent_activation")->s) : 0;
    int seqs = (int)opt(cell, "return_sequences")->i[0], lstm = c.gates == 4;
    long u = c.u, G = c.gates * u;
    const float *K = w, *R = K + c.d * G, *b = c.use_bias ? R + u * G : NULL;
    /* the input projection of every step at once, outside the loop */
    int64_t kd[2] = { c.d, G }, bd[1] = { G };
    const char *xw = op2(g, "MatMul", x, onnx_tensor(g, "kernel", kd, 2, K, NULL), nm);
    if (b)
        xw = op2(g, "Add", xw, onnx_tensor(g, "bias", bd, 1, b, NULL), nm);
    const char *mk = mask;
    if (back) {
        xw = onnx_reverse(g, xw, 1, nm);
        mk = mask ? onnx_reverse(g, mask, 1, nm) : NULL;
    }
    /* zero states, (B, u) */
    static const int64_t z0[1] = { 0 }, z1[1] = { 1 };
    const int64_t uu[1] = { u };
    char *sh = onnx_fresh(g, nm), *bsz = onnx_fresh(g, nm), *dims = onnx_fresh(g, nm);
    char *zeros = onnx_fresh(g, nm);
    onnx_node(g, "Shape", x, NULL, NULL, sh);
    onnx_node(g, "Slice", sh, onnx_ints(g, "starts", z0, 1), onnx_ints(g, "ends", z1, 1), bsz);
    onnx_attr_i(g, onnx_node(g, "Concat", bsz, onnx_ints(g, "units", uu, 1), NULL, dims), "axis",
                0);
    onnx_node(g, "ConstantOfShape", dims, NULL, NULL, zeros);

    /* the body: its nodes go to a list of their own */
    Onnx__NodeProto **outer = g->nodes;
    size_t outer_n = g->nn;
    g->nodes = NULL;
    g->nn = 0;
    char *hp = onnx_fresh(g, nm), *cp = onnx_fresh(g, nm), *op = onnx_fresh(g, nm);
    char *xt = onnx_fresh(g, nm), *mt = onnx_fresh(g, nm), *ys = onnx_fresh(g, nm);
    const char *c_new = NULL;
    const char *h_new = step(g, &c, R, c.reset_after && b ? b + G : NULL, xt, hp, cp, &c_new);
    char *h_out = onnx_fresh(g, nm), *c_out = onnx_fresh(g, nm), *o_out = onnx_fresh(g, nm);
    if (h_new && mk) {
        /* Keras's rnn(): a masked step keeps the states and the output */
        onnx_node(g, "Where", mt, h_new, hp, h_out);
        if (lstm)
            onnx_node(g, "Where", mt, c_new, cp, c_out);
        onnx_node(g, "Where", mt, h_new, zero_masked ? onnx_scalar(g, "zero", 0) : op, o_out);
    } else if (h_new) {
        onnx_node(g, "Identity", h_new, NULL, NULL, h_out);
        if (lstm)
            onnx_node(g, "Identity", c_new, NULL, NULL, c_out);
        onnx_node(g, "Identity", h_new, NULL, NULL, o_out);
    }
    onnx_node(g, "Identity", o_out, NULL, NULL, ys);
    Onnx__NodeProto **body_nodes = g->nodes;
    size_t body_n = g->nn;
    g->nodes = outer;
    g->nn = outer_n;
    if (!h_new)
        return NULL;
    Onnx__GraphProto *body = onnx_alloc(g, sizeof *body);
    if (!body)
        return NULL;
    onnx__graph_proto__init(body);
    body->name = onnx_str(g, "%s_step", nm);
    body->node = body_nodes;
    body->n_node = body_n;
    const int F = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, B = ONNX__TENSOR_PROTO__DATA_TYPE__BOOL;
    /* states h, (c,) the last output; then the scanned x K + b (and mask) */
    onnx_push(g, (void ***)&body->input, &body->n_input, body_value(g, hp, F, u));
    if (lstm)
        onnx_push(g, (void ***)&body->input, &body->n_input, body_value(g, cp, F, u));
    onnx_push(g, (void ***)&body->input, &body->n_input, body_value(g, op, F, u));
    onnx_push(g, (void ***)&body->input, &body->n_input, body_value(g, xt, F, G));
    if (mk)
        onnx_push(g, (void ***)&body->input, &body->n_input, body_value(g, mt, B, 1));
    onnx_push(g, (void ***)&body->output, &body->n_output, body_value(g, h_out, F, u));
    if (lstm)
        onnx_push(g, (void ***)&body->output, &body->n_output, body_value(g, c_out, F, u));
    onnx_push(g, (void ***)&body->output, &body->n_output, body_value(g, o_out, F, u));
    onnx_push(g, (void ***)&body->output, &body->n_output, body_value(g, ys, F, u));

    char *hf = onnx_fresh(g, nm), *cf = onnx_fresh(g, nm), *of = onnx_fresh(g, nm);
    char *Y = onnx_fresh(g, nm);
    Onnx__NodeProto *n = onnx_node(g, "Scan", zeros, lstm ? zeros : NULL, NULL, hf);
    if (!n)
        return NULL;
    onnx_more_input(g, n, zeros);
    onnx_more_input(g, n, xw);
    if (mk)
        onnx_more_input(g, n, mk);
    if (lstm)
        onnx_push(g, (void ***)&n->output, &n->n_output, cf);
    onnx_push(g, (void ***)&n->output, &n->n_output, of);
    onnx_push(g, (void ***)&n->output, &n->n_output, Y);
    Onnx__AttributeProto *a = onnx_attr(g, n, "body");
    if (a) {
        a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH;
        a->g = body;
    }
    const int64_t axes[2] = { 1, 1 }, oax[1] = { 1 };
    onnx_attr_i(g, n, "num_scan_inputs", mk ? 2 : 1);
    onnx_attr_is(g, n, "scan_input_axes", axes, mk ? 2 : 1);
    onnx_attr_is(g, n, "scan_output_axes", oax, 1);
    return seqs ? Y : of;
}

const char *onnx_recurrent(onnx_graph *g, const sq_layer *l, const sq_layer *cell,
                           const float *w, const char *x, const onnx_mask *mask, sq_error *err)
{
    int bidi = cell != l;
    const char *cls = cell->kind->class_name;
    const char *act = opt(cell, "activation")->s;
    const char *rec = strcmp(cls, "SimpleRNN") ? opt(cell, "recurrent_activation")->s : NULL;
    const char *merge = bidi ? opt(l, "merge_mode")->s : "";
    if (mask->on && !mask->name)
        return sq_fail(err, "layer %s (%s): its input's Keras mask comes through layers whose "
                       "mask this seqsh cannot follow into ONNX", l->name,
                       l->kind->class_name), NULL;
    if (!mask->on && rnn_act(act) && (!rec || rnn_act(rec)))
        return native(g, l, cell, w, x, bidi ? 2 : 1, merge);
    int seqs = (int)opt(cell, "return_sequences")->i[0];
    int back = (int)opt(cell, "go_backwards")->i[0];
    if (!bidi)
        return scan_dir(g, l, cell, w, x, mask->name, back, 0, err);
    /* Keras's Bidirectional: a forward copy, and a backward copy running
     * the other way whose outputs are put back in time order; both give 0
     * at masked steps when returning sequences */
    const char *a = scan_dir(g, l, cell, w, x, mask->name, back, seqs, err);
    size_t per = 0;   /* the forward copy's floats */
    for (int j = 0; j < l->nweights / 2; j++)
        per += sq_weight_count(&l->w[j]);
    const char *b = a ? scan_dir(g, l, cell, w + per, x, mask->name, !back, seqs, err) : NULL;
    if (!b)
        return NULL;
    if (seqs)
        b = onnx_reverse(g, b, 1, l->name);
    char *y = onnx_fresh(g, l->name);
    if (!strcmp(merge, "concat"))
        onnx_attr_i(g, onnx_node(g, "Concat", a, b, NULL, y), "axis", -1);
    else if (!strcmp(merge, "sum"))
        onnx_node(g, "Add", a, b, NULL, y);
    else if (!strcmp(merge, "mul"))
        onnx_node(g, "Mul", a, b, NULL, y);
    else
        onnx_node(g, "Div", op2(g, "Add", a, b, l->name), onnx_scalar(g, "two", 2), NULL, y);
    return y;
}
