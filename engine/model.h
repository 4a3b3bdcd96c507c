/* model.h - the engine's core: the model (layers, flat weight buffer,
 * build), the session that holds it, running and training passes, and
 * the compile settings. Files outside the core see the model through the
 * public verbs; the layers never see it. */
#ifndef SEQSH_MODEL_H
#define SEQSH_MODEL_H

#include "base/base.h"
#include "layers/layer.h"

/* ---- the model ---------------------------------------------------------- */
typedef struct {
    char name[SQ_NAME_MAX];
    int name_pending;          /* the session's first model: its automatic
                                  name is taken only once it is used */
    sq_layer **layers;
    int n, cap;                /* layers in use; room in the array */
    int *name_slot;            /* entry names, a hash table (model.c) */
    size_t name_cap, name_used;
    int name_n;                /* the table holds the entries before this layer */
    int built;
    int explicit_input;        /* built from input / input_shape= */
    int deferred_built;        /* built by a call: weight names get a prefix */
    sq_shape input_shape;      /* batch first; valid when built */
    float *params;             /* all weights, one flat buffer */
    size_t nparams;
    size_t params_cap;         /* floats allocated at params (>= nparams): set
                                  it wherever params is replaced */
    float *grads;              /* their gradients, same layout (training) */
    size_t grads_cap;
    struct sq_compiled *compiled; /* compile settings and optimizer, or NULL */
    /* forward workspace, grown on demand and reused */
    float *work;
    size_t work_cap;
} sq_model;

struct sq_session {
    sq_model *model;
    struct sq_counter { char *base; long next; } *counters;
    int ncounters;
    sq_rng rng;
    volatile int *interrupt;
    /* undo (undo.c): snapshots, oldest first, within the memory limit */
    struct sq_undo {
        sq_snapshot **items;
        int n, cap;
        size_t bytes;          /* their total */
        char blocked[600];     /* why nothing before now can be undone, or "" */
    } undo;
};

/* ---- undo (undo.c) ------------------------------------------------------- */
/* Frees every snapshot. */
void sq_undo_clear(sq_session *s);

/* ---- the model (model.c) ------------------------------------------------ */

/* A new empty model called name (checked by sq_check_name: 1 to
 * SQ_NAME_MAX-1 characters, no blanks, '/', ':' or control characters);
 * NULL with err filled. Free with sq_model_free. */
sq_model *sq_model_alloc(const char *name, sq_error *err);
void sq_model_free(sq_model *m);
/* A deep copy of m (layers, groups, weights, compile settings without the
 * optimizer object, history); no workspace. NULL when out of memory. */
sq_model *sq_model_clone(const sq_model *m);
/* keras.Input(shape=dims) on an empty model: built at once, batch None. */
int sq_model_set_input(sq_model *m, int ndims, const long *dims, sq_error *err);
/* Keras's error when an entry is already called name. */
int sq_model_check_name(sq_model *m, const char *name, sq_error *err);
/* The first layer of the last entry (pop's), or 0 for an empty model. */
int sq_entry_last(const sq_model *m);
/* model.add(l): l (named) goes last; a built model, or an empty one given
 * input_shape= (ishape, rank 0 when not), is built at once. On success the
 * model owns l; on failure nothing changes and l is the caller's. */
int sq_model_append(sq_model *m, sq_layer *l, const sq_shape *ishape, sq_rng *rng,
                    sq_error *err);
/* Builds the model's layers[0..n) on input shape `in` (batch first):
 * shape inference for every layer, weights kept for layers already built
 * (their shapes must still fit) and created from the RNG for new ones, in a
 * fresh flat buffer. On failure nothing in m or rng changes. On success the
 * model uses `layers` (an array it now owns, replacing m->layers). */
int sq_model_build(sq_model *m, sq_layer **layers, int n, const sq_shape *in,
                   sq_rng *rng, sq_error *err);
/* The same, taking the current weights of built layer i from src[i] when
 * src and src[i] are not NULL (layers grafted from another model). */
int sq_model_build_from(sq_model *m, sq_layer **layers, int n, const sq_shape *in,
                        sq_rng *rng, const float *const *src, sq_error *err);
/* sq_model_build over the model's own layers. */
int sq_model_rebuild(sq_model *m, const sq_shape *in, sq_rng *rng, sq_error *err);
/* Back to unbuilt (undoes a build that a failed call or fit made). */
void sq_model_unbuild(sq_model *m);
/* Keras's InputSpec check of x against the model's input. */
int sq_model_check_input(const sq_model *m, const sq_shape *x, sq_error *err);
/* Name prefix of weights: "sequential/" for a model built by a call. */
const char *sq_weight_prefix(const sq_model *m, char *buf, size_t n);

/* ---- entries: model.layers as Keras sees it (model.c) ------------------
 * A top-level layer or a whole nested model. Walking them in order is
 * linear: for (i = 0; i < m->n; i = sq_entry_end(m, i)); the functions
 * taking an entry number e walk from the start. */
/* The layer after the entry that starts at layer `first`. */
int sq_entry_end(const sq_model *m, int first);
/* The name of the entry that starts at layer `first` (borrowed). */
const char *sq_entry_name_at(const sq_model *m, int first);
/* What sq_layer_get says of the entry that starts at layer `first`. */
void sq_entry_info(const sq_model *m, int first, sq_layer_info *info);
int sq_entry_count(const sq_model *m);
/* The first layer index and the number of layers of entry e. */
void sq_entry_span(const sq_model *m, int e, int *first, int *count);
const char *sq_entry_name(const sq_model *m, int e);
/* The entry called name, or -1 with Keras's "No such layer" message. */
int sq_entry_find(const sq_model *m, const char *name, sq_error *err);
/* Removes layers [from, n) (pop). */
void sq_model_truncate(sq_model *m, int from);

/* ---- names (session.c) ---------------------------------------------------- */
/* The next automatic name for `base` ("dense_2") without taking it. */
void sq_name_peek(const sq_session *s, const char *base, char *out, size_t n);

/* ---- running (forward.c) ------------------------------------------------- */

/* Each layer's mask rule (layer.h) for this model, the model input having
 * no mask; returns whether the last layer's output has a mask. rule has
 * m->n entries. */
int sq_model_mask_rules(const sq_model *m, sq_mask_rule *rule);
/* Checks the values of x where the first layer needs it (Embedding's ids
 * must be in range), with TensorFlow's message. sq_forward does it; a
 * caller of sq_train_forward should do it once per data set. */
int sq_model_check_data(const sq_model *m, const sq_tensor *x, sq_error *err);

/* Runs the built layers on x (concrete shape already checked against the
 * model's input) into a new tensor y. Uses m->work; polls *intr. */
int sq_forward(sq_model *m, const sq_tensor *x, sq_tensor *y,
               volatile int *intr, sq_error *err);
/* Whether a call of m on an input of shape `in` would pass the memory
 * limit, counting what it would hold (the input, the output, the working
 * memory of the chunked run), before the input is made. A shape the model
 * refuses passes here: the call itself says what is wrong. */
int sq_forward_check(sq_model *m, const sq_shape *in, sq_error *err);
/* y = model(x): builds an unbuilt model from x's shape first (drawing its
 * weights from rng; undone if the run fails), checks x, runs it, and
 * relaxes a call-built model's input shape as Keras does. */
int sq_model_call(sq_model *m, const sq_tensor *x, sq_tensor *y, sq_rng *rng,
                  volatile int *intr, sq_error *err);

/* ---- compile settings (compile.c) ---------------------------------------- */
struct sq_compiled;
void sq_compiled_free(struct sq_compiled *c);
/* A copy of c without its optimizer object (the history included); NULL
 * when out of memory. */
struct sq_compiled *sq_compiled_clone(const struct sq_compiled *c);
int sq_compile_model(sq_model *m, const char *optimizer, const char *loss,
                     const char *metrics, int n, const char *const *keys,
                     const char *const *values, sq_error *err);
/* The same from "key=value" words (the shell's and the model file's
 * `compile` line): optimizer=, loss=, metrics=, the rest to the optimizer. */
int sq_compile_model_words(sq_model *m, int argc, char **argv, sq_error *err);
/* The `compile ...` line that recreates c. */
void sq_compiled_describe(const struct sq_compiled *c, sbuf *b);

/* ---- training (backprop.c) ---------------------------------------------------
 * A workspace for training steps on batches of up to `cap` samples: every
 * layer's outputs (before and after its activation), the caches backward
 * needs, two gradient buffers and one scratch area, in one allocation. */
typedef struct {
    int n;
    long cap;
    sq_shape *sh;              /* n + 1 shapes with batch = cap */
    sq_shape *shb;             /* the same for the current batch */
    float **z, **y, **cache;   /* per layer; y[i] == z[i] when linear or relu
                                  (relu's backward needs only the sign of its
                                  output: z then holds the activated values) */
    uint8_t **mask;            /* per layer: its output's mask, or NULL */
    sq_mask_rule *rule;        /* per layer */
    uint8_t *mask_block;
    float *g[2];
    float *scratch;
    float *block;
    float *ptrs_block;
    /* Under mpirun, a batch split across processes: the whole batch's size
     * (activity penalties are divided by it; 0: this batch is all there is)
     * and the sum across processes that BatchNormalization's batch
     * statistics take (NULL: none). */
    long batch_all;
    void (*sum)(double *v, size_t n);
    /* Layers [0, seg) (per_sample kinds whose outputs are big) run a chunk
     * of `chunk` samples at a time through all of them, forward and (when
     * seg_bwd) backward, so that each reads what the one before wrote while
     * it is still in the cache; 0: every layer takes the whole batch. */
    int seg, seg_bwd;
    long chunk;
    size_t *cper;              /* per layer: cache floats per sample (0 outside seg) */
    float *dw_tmp;             /* a chunk's weight gradient, added up */
    /* sq_pool_jobs() as the last forward began (ULONG_MAX before the
     * first): a step after one that shared no job leaves the workers asleep */
    unsigned long jobs_at_step;
} sq_train_ws;

/* Plans the workspace for model m on inputs of shape `in` (batch = cap).
 * The model must be built and accept `in`. */
int sq_train_ws_init(sq_train_ws *ws, const sq_model *m, const sq_shape *in,
                     sq_error *err);
void sq_train_ws_free(sq_train_ws *ws);
/* Runs b <= cap samples of x through the layers, keeping every output.
 * training selects Dropout's and BatchNormalization's training modes (and
 * lets BN update its moving statistics). The output is ws->y[n-1]. */
void sq_train_forward(sq_model *m, sq_train_ws *ws, const float *x, long b,
                      int training, sq_rng *rng);
/* Backpropagates dlast (dL/d output of the last layer, or dL/dz of its
 * pre-activation when logits) through the layers of the last forward,
 * writing gradients of trainable layers into m->grads. */
void sq_train_backward(sq_model *m, sq_train_ws *ws, const float *x, long b,
                       const float *dlast, int logits);
/* The activity penalties of the last forward pass: for each layer with an
 * activity_regularizer, its penalty of the layer's output divided by the
 * batch size (base_layer.py _handle_activity_regularization). Backward
 * adds their gradients. */
double sq_train_activity_penalty(const sq_model *m, const sq_train_ws *ws);
/* The same through every layer, also writing dL/dx of the model's input
 * into dx (as many floats as x): for gradient checks. */
void sq_train_backward_input(sq_model *m, sq_train_ws *ws, const float *x,
                             const float *dlast, float *dx);

#endif
