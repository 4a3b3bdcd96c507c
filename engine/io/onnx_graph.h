/* onnx_graph.h - the ONNX graph under construction that `export onnx`
 * fills layer by layer (engine-internal: onnx.c, onnx_spatial.c). Every
 * protobuf message, string and array is allocated from the graph's arena
 * and freed with it; an allocation that fails sets `oom`, after which every
 * helper returns NULL (or does nothing), so callers check once at the end.
 * Tensor names are fresh strings ("conv2d_7"); a missing optional input of
 * a node is the empty name "". */
#ifndef SEQSH_ONNX_GRAPH_H
#define SEQSH_ONNX_GRAPH_H

#include <stdint.h>
#include "model.h"
#include "onnx.pb-c.h"

typedef struct {
    void **p;                    /* the arena: everything allocated */
    size_t n, cap;
    int oom;                     /* an allocation failed */
    Onnx__NodeProto **nodes;     /* the graph's nodes, in order */
    size_t nn;
    Onnx__TensorProto **inits;   /* its initializers */
    size_t ni;
    int counter;                 /* for fresh names */
} onnx_graph;

/* n zeroed bytes from the arena, or NULL. */
void *onnx_alloc(onnx_graph *g, size_t n);
/* A formatted string in the arena. */
char *onnx_str(onnx_graph *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends p to the arena-kept array (*arr, *n); -1 when p is NULL or out
 * of memory. */
int onnx_push(onnx_graph *g, void ***arr, size_t *n, void *p);
/* A fresh tensor name "BASE_N". */
char *onnx_fresh(onnx_graph *g, const char *base);

/* Appends node op(a, b, c) -> out (NULL inputs are left off the end). */
Onnx__NodeProto *onnx_node(onnx_graph *g, const char *op, const char *a, const char *b,
                           const char *c, const char *out);
/* One more input of n (after the three onnx_node takes). */
void onnx_more_input(onnx_graph *g, Onnx__NodeProto *n, const char *name);
Onnx__AttributeProto *onnx_attr(onnx_graph *g, Onnx__NodeProto *n, const char *name);
void onnx_attr_i(onnx_graph *g, Onnx__NodeProto *n, const char *name, int64_t v);
void onnx_attr_f(onnx_graph *g, Onnx__NodeProto *n, const char *name, float v);
void onnx_attr_is(onnx_graph *g, Onnx__NodeProto *n, const char *name, const int64_t *v, int k);
void onnx_attr_s(onnx_graph *g, Onnx__NodeProto *n, const char *name, const char *v);
void onnx_attr_ss(onnx_graph *g, Onnx__NodeProto *n, const char *name, const char *const *v,
                  int k);

/* An initializer (float32 from f, or int64 from i64) of shape dims[nd];
 * returns its name. */
char *onnx_tensor(onnx_graph *g, const char *base, const int64_t *dims, int nd, const float *f,
                  const int64_t *i64);
/* A float32 scalar initializer. */
char *onnx_scalar(onnx_graph *g, const char *base, float v);
/* A 1-D int64 initializer of n values. */
char *onnx_ints(onnx_graph *g, const char *base, const int64_t *v, int n);

/* x transposed NHWC -> NCHW (to_nchw) or back; returns the new name. */
const char *onnx_nchw(onnx_graph *g, const char *x, int to_nchw, const char *lname);
/* x transposed by perm (n axes). */
const char *onnx_permute(onnx_graph *g, const char *x, const int64_t *perm, int n,
                         const char *lname);
/* (B, T, C) <-> (B, C, T). */
const char *onnx_swap12(onnx_graph *g, const char *x, const char *lname);
/* x reversed along axis. */
const char *onnx_reverse(onnx_graph *g, const char *x, int64_t axis, const char *lname);

/* TensorFlow's padding of a 2-D window layer l (kernel k, strides s,
 * dilations d; SAME or VALID) from its built shapes, as ONNX's pads
 * [top, left, bottom, right]: SAME puts the smaller half first. */
void onnx_pads2(const sq_layer *l, const long *k, const long *s, const long *d, int same,
                int64_t *pads);
/* The same for one axis of n cells giving o. */
void onnx_pads1(long n, long o, long k, long s, long d, int same, int64_t *before,
                int64_t *after);

/* x -> activation a (seqsh's index); returns the output's name (x itself
 * for linear), or NULL with err for an activation ONNX cannot express
 * (onnx.c). */
const char *onnx_activation(onnx_graph *g, int a, const char *x, const char *lname,
                            sq_error *err);

/* The Keras mask a tensor carries through the graph: none (on = 0), one
 * the graph holds as the bool tensor `name` of shape (B, T, 1), or one the
 * export cannot follow (on, name NULL). */
typedef struct {
    int on;
    const char *name;
} onnx_mask;

/* Recurrent layer l (SimpleRNN, LSTM, GRU; or a Bidirectional, cell then
 * being its template) with weights w on x (B, T, d) whose mask is `mask`:
 * the name of its output before any activation layer, or NULL with err
 * (onnx_rnn.c). */
const char *onnx_recurrent(onnx_graph *g, const sq_layer *l, const sq_layer *cell,
                           const float *w, const char *x, const onnx_mask *mask, sq_error *err);

/* Layer l (weights at w) of a 2-D kind of the second wave on x: the name
 * of its output before the activation, or NULL with err naming the layer
 * when it is no such kind (onnx_spatial.c). */
const char *onnx_spatial(onnx_graph *g, const sq_layer *l, const float *w, const char *x,
                         sq_error *err);
#endif
