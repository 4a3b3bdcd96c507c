/* internal.h - what the engine's files share and the shell never sees:
 * errors, the RNG, the option parser, the layer-kind table and the model. */
#ifndef SEQSH_INTERNAL_H
#define SEQSH_INTERNAL_H

#include <stdint.h>
#include "engine.h"

#define SQ_NAME_MAX 128
#define SQ_MAX_WEIGHTS 4
#define SQ_MAX_OPTS 16

/* ---- the heap (alloc.c): every engine allocation goes through these ----- */
void *sq_malloc(size_t n);
void *sq_calloc(size_t n, size_t size);
void *sq_realloc(void *p, size_t n);
char *sq_strdup(const char *s);
char *sq_strndup(const char *s, size_t n);
/* For fault-injection tests: after n more allocations succeed, the next one
 * fails (just one); n < 0 turns this off. sq_alloc_calls counts the
 * allocations made since the last sq_alloc_fail_after. */
void sq_alloc_fail_after(long n);
long sq_alloc_calls(void);
/* Refuses, with a message naming both sizes, anything needing more than the
 * memory limit; `what` starts the sentence ("this call"). */
int sq_check_memory(double bytes, const char *what, sq_error *err);
const char *sq_bytes_str(double bytes, char *buf, size_t n);

/* Fills err with a printf-style message and returns -1. */
int sq_fail(sq_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- a growing string (sbuf.c); start with sbuf b = {0} ----------------- */
typedef struct {
    char *s;
    size_t len, cap;
    int oom;       /* an allocation failed: sb_finish reports it */
} sbuf;
void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Returns the malloc'd text, or NULL (and frees) after an allocation failure. */
char *sb_finish(sbuf *b, sq_error *err);


/* ---- RNG: xoshiro128**-like, owned by the session ---------------------- */
typedef struct { uint64_t s[4]; } sq_rng;
void sq_rng_seed(sq_rng *r, uint64_t seed);
uint64_t sq_rng_next(sq_rng *r);
float sq_rng_uniform(sq_rng *r);  /* [0, 1) */

/* ---- shapes ------------------------------------------------------------- */
int sq_shape_eq(const sq_shape *a, const sq_shape *b);
/* conv_output_length of keras/utils/conv_utils.py; n < 0 (None) stays None. */
long sq_conv_len(long n, long k, int same, long stride, long dilation);

/* ---- options ------------------------------------------------------------ */
typedef enum {
    OPT_INT,     /* one integer */
    OPT_INTS,    /* int or tuple: "3", "3,3", "(3, 3)"; count in `n` */
    OPT_FLOAT,
    OPT_STR,
    OPT_BOOL,    /* true/false/True/False/1/0 */
    OPT_ACT      /* an activation name */
} sq_opt_type;

typedef struct {
    const char *name;   /* Keras argument name, e.g. "strides" */
    sq_opt_type type;
    int tuple_len;      /* OPT_INTS: expand a single int to this many */
    const char *def;    /* default as text, NULL = required (positional) */
    const char *help;
} sq_optdef;

typedef struct {
    int set;                 /* given by the user */
    long i[SQ_MAX_RANK];     /* OPT_INT/OPT_INTS/OPT_BOOL */
    int n;                   /* entries in i for OPT_INTS */
    double f;                /* OPT_FLOAT */
    char s[64];              /* OPT_STR; OPT_ACT holds the name */
} sq_optval;

/* ---- layers ------------------------------------------------------------- */
typedef enum { INIT_GLOROT_UNIFORM, INIT_ZEROS, INIT_ONES } sq_init;

typedef struct {
    const char *name;        /* "kernel", "moving_mean" */
    sq_shape shape;          /* without batch; rank is the weight's own */
    sq_init init;
    int trainable;           /* 0 for BatchNormalization's moving stats */
} sq_weight_spec;

typedef struct sq_layer sq_layer;

/* What a forward call sees. Shapes are concrete, batch first. Weights are
 * consecutive in the model's flat buffer in the order weights() listed
 * them. scratch has at least scratch() floats. */
typedef struct {
    const float *in;
    float *out;                  /* the output before the activation */
    const sq_shape *in_shape, *out_shape;
    const float *w;
    float *scratch;
    int training;                /* a training step (Dropout drops, BN uses batch stats) */
    /* Only while training: */
    float *cache;                /* cache() floats kept for backward */
    float *w_train;              /* the same weights, writable (BN's moving stats) */
    sq_rng *rng;                 /* Dropout's masks */
    /* Not NULL: the caller lets the layer apply l->act itself; a layer that
     * does sets *act_done = 1 and out then holds the activated values. */
    int *act_done;
    /* Not NULL: a long layer polls it between pieces of work and may stop
     * early when it is set; the caller then throws out away. */
    volatile int *intr;
} sq_fwd;

/* What a backward call sees: everything of the forward call plus the
 * gradient of the loss with respect to the layer's output before its
 * activation. The layer writes dL/din (unless din is NULL: the first layer)
 * and dL/dw (unless dw is NULL: a frozen layer), overwriting, in w's
 * layout. scratch has at least scratch_bwd() floats. */
typedef struct {
    const float *in;
    const float *out;            /* the forward output before the activation */
    const float *dout;
    float *din;
    const sq_shape *in_shape, *out_shape;
    const float *w;
    float *dw;
    const float *cache;
    float *scratch;
} sq_bwd;

typedef struct sq_layer_kind {
    const char *class_name;      /* "MaxPooling2D" */
    const char *base_name;       /* "max_pooling2d", for auto names */
    const char *const *aliases;  /* other class names ("MaxPool2D"), NULL-ended */
    const sq_optdef *opts;       /* NULL-name-ended; positionals come first */
    int npositional;             /* how many of opts may be given bare */
    int has_activation;          /* accepts activation= and bare act names */
    const char *summary;         /* one line for help */
    const char *shape_rule;      /* e.g. "(B, ..., d) -> (B, ..., units)" */
    const char *example;         /* e.g. "add dense 64 relu" */
    size_t state_size;           /* bytes of kind-private state */
    /* Checks and converts parsed options into l->state. */
    int (*configure)(sq_layer *l, const sq_optval *v, sq_error *err);
    /* Output shape for input shape `in` (batch may be None), or Keras's
     * error. Also validates `in` against already-created weights. */
    int (*output_shape)(const sq_layer *l, const sq_shape *in, sq_shape *out,
                        sq_error *err);
    /* Lists the weights created for input shape `in`; returns how many. */
    int (*weights)(const sq_layer *l, const sq_shape *in, sq_weight_spec *w);
    /* Floats of scratch forward needs for a concrete input; may be NULL. */
    size_t (*scratch)(const sq_layer *l, const sq_shape *in);
    void (*forward)(const sq_layer *l, const sq_fwd *f);
    /* Training: floats forward keeps for backward (may be NULL = none),
     * backward's scratch (NULL = none), and the backward pass itself. */
    size_t (*cache)(const sq_layer *l, const sq_shape *in);
    size_t (*scratch_bwd)(const sq_layer *l, const sq_shape *in);
    void (*backward)(const sq_layer *l, const sq_bwd *b);
} sq_layer_kind;

/* A nested model added with `add model`: its layers sit in the outer
 * model's list, consecutive, sharing one group; the group is one entry of
 * model.layers (one summary row). Reference-counted by its layers. */
typedef struct sq_group {
    char name[SQ_NAME_MAX];
    int refs;
} sq_group;

struct sq_layer {
    const sq_layer_kind *kind;
    char name[SQ_NAME_MAX];
    sq_group *group;             /* NULL for a top-level layer */
    int act;                     /* activation index, 0 = linear */
    int trainable;
    sq_optval opt[SQ_MAX_OPTS];  /* parsed options, indexed like kind->opts */
    void *state;                 /* kind->state_size bytes, owned */
    /* Set when the model is built: */
    int built;                   /* in_shape, out_shape, w[] are valid */
    sq_shape in_shape, out_shape;
    int nweights;
    sq_weight_spec w[SQ_MAX_WEIGHTS];
    size_t param_off;            /* into the model's flat buffer */
    size_t param_count;
};

/* The registry (layers.c). */
const sq_layer_kind *sq_kind_find(const char *name);
extern const sq_layer_kind *const sq_kinds[];

/* ---- activations (activation.c) ----------------------------------------- */
int sq_activation_find(const char *name);  /* index or -1 */
/* Applies activation `a` in place to n values laid out as rows of `last`. */
void sq_activation_apply(int a, float *x, size_t n, long last);
/* Turns dL/dy into dL/dz in place for y = act(z) (rows of `last`). */
void sq_activation_backward(int a, const float *z, const float *y, float *dy,
                            size_t n, long last);

/* ---- the model ---------------------------------------------------------- */
typedef struct {
    char name[SQ_NAME_MAX];
    int name_pending;          /* the session's first model: its automatic
                                  name is taken only once it is used */
    sq_layer **layers;
    int n, cap;
    int built;
    int explicit_input;        /* built from input / input_shape= */
    int deferred_built;        /* built by a call: weight names get a prefix */
    sq_shape input_shape;      /* batch first; valid when built */
    float *params;             /* all weights, one flat buffer */
    size_t nparams;
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
};

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
void sq_model_free(sq_model *m);
/* Runs the built layers on x (concrete shape already checked against the
 * model's input) into a new tensor y. Uses m->work; polls *intr. */
int sq_forward(sq_model *m, const sq_tensor *x, sq_tensor *y,
               volatile int *intr, sq_error *err);
/* Name prefix of weights: "sequential/" for a model built by a call. */
const char *sq_weight_prefix(const sq_model *m, char *buf, size_t n);

/* compile settings (fit.c) */
struct sq_compiled;
void sq_compiled_free(struct sq_compiled *c);
int sq_compile_model(sq_model *m, const char *optimizer, const char *loss,
                     const char *metrics, int n, const char *const *keys,
                     const char *const *values, sq_error *err);
/* The `compile ...` line that recreates c. */
void sq_compiled_describe(const struct sq_compiled *c, sbuf *b);
/* Keras's InputSpec check of x against a model built from an input (forward.c). */
int sq_model_check_input(const sq_model *m, const sq_shape *x, sq_error *err);

/* ---- training (train.c) ---------------------------------------------------
 * A workspace for training steps on batches of up to `cap` samples: every
 * layer's outputs (before and after its activation), the caches backward
 * needs, two gradient buffers and one scratch area, in one allocation. */
typedef struct {
    int n;
    long cap;
    sq_shape *sh;              /* n + 1 shapes with batch = cap */
    sq_shape *shb;             /* the same for the current batch */
    float **z, **y, **cache;   /* per layer; y[i] == z[i] when linear */
    float *g[2];
    float *scratch;
    float *block;
    float *ptrs_block;
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

/* Initialises n weights of spec at dst from rng (glorot/zeros/ones). */
void sq_weight_init(const sq_weight_spec *w, float *dst, sq_rng *rng);
size_t sq_weight_count(const sq_weight_spec *w);


/* ---- layer creation (options.c) ----------------------------------------- */
/* Creates a layer of `kind` from the words after the kind name. Fills
 * *input_shape (rank 0 when input_shape= was not given; otherwise the dims
 * without batch). The name is left empty unless name= was given. */
sq_layer *sq_layer_create(const sq_layer_kind *kind, int argc, char **argv,
                          sq_shape *input_shape, sq_error *err);
void sq_layer_free(sq_layer *l);
/* Parses "3", "3,3", "(3, 3)", "(4,)" into at most max integers. */
int sq_parse_ints(const char *text, long *out, int max, int *n,
                  sq_error *err);
/* Index of option `name` in kind->opts, or -1. */
int sq_opt_index(const sq_layer_kind *kind, const char *name);

/* ---- shared input-spec errors (layers.c), Keras 2.6 wording ------------- */
/* "Input 0 of layer NAME is incompatible with the layer: : expected
 * min_ndim=N, found ndim=M. Full shape received: SHAPE" */
int sq_fail_min_ndim(sq_error *err, const sq_layer *l, int min, const sq_shape *in);
/* "... expected ndim=N, found ndim=M. Full shape received: SHAPE" */
int sq_fail_ndim(sq_error *err, const sq_layer *l, int ndim, const sq_shape *in);

/* ---- names (session.c) ------------------------------------------------- */
void sq_name_peek(const sq_session *s, const char *base, char *out, size_t n);
int sq_name_take(sq_session *s, const char *base, sq_error *err);
/* ---- entries: model.layers as Keras sees it (model.c) ------------------
 * A top-level layer or a whole nested model. */
int sq_entry_count(const sq_model *m);
/* The first layer index and the number of layers of entry e. */
void sq_entry_span(const sq_model *m, int e, int *first, int *count);
const char *sq_entry_name(const sq_model *m, int e);
/* The entry called name, or -1 with Keras's "No such layer" message. */
int sq_entry_find(const sq_model *m, const char *name, sq_error *err);
/* Removes layers [from, n) (pop). */
void sq_model_truncate(sq_model *m, int from);
/* "add KIND ... name=NAME" that recreates layer l (without a newline). */
void sq_layer_describe(const sq_layer *l, sbuf *b);

/* Output shape of built layer l for input `in`, checking its weights fit. */
int sq_layer_check_input(const sq_layer *l, const sq_shape *in, sq_shape *out,
                         sq_error *err);

/* ---- shared by the windowed layers (layers.c) -------------------------- */
/* Keras's padding names, any case: sets *same (1 for "same", 0 for
 * "valid"), *causal for "causal"; otherwise Keras's error. */
int sq_parse_padding(const char *s, int *same, int *causal, sq_error *err);
/* A dimension as TensorFlow prints it in shape lists: "?" for None. */
const char *sq_tf_dim(long d, char *buf, size_t n);
/* TensorFlow's SAME split: total padding max((out - 1) * s + dk - n, 0)
 * for window extent dk, the smaller half before; 0 when !same. */
long sq_pad_before(long n, long out, long dk, long s, int same);

#endif
