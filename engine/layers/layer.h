/* layer.h - the layer-kind interface: option tables, weight specs, the
 * table of functions one kind fills in, the layer object, the registry,
 * activations and the helpers the kinds share. */
#ifndef SEQSH_LAYER_H
#define SEQSH_LAYER_H

#include <stdint.h>
#include "base/base.h"

#define SQ_MAX_WEIGHTS 8   /* Bidirectional(LSTM) has 6 */
/* A weight's name: "kernel", or under an RNN's cell and a wrapper's copy
 * "forward_lstm/lstm_cell_1/recurrent_kernel" */
#define SQ_WNAME_MAX (2 * SQ_NAME_MAX + 32)

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
    const char *choices; /* OPT_STR: the allowed values, "valid|same"
                            (matched ignoring case, kept as written
                            here); NULL = any text */
    int hidden;         /* not for users: names the session hands out
                           (an RNN's cell_name=), written by describe so
                           saved files keep them; not in help or completion */
} sq_optdef;

typedef struct {
    int set;                 /* given by the user */
    long i[SQ_MAX_RANK];     /* OPT_INT/OPT_INTS/OPT_BOOL */
    int n;                   /* entries in i for OPT_INTS */
    double f;                /* OPT_FLOAT */
    char s[128];             /* OPT_STR; OPT_ACT holds the name */
} sq_optval;

/* ---- layers ------------------------------------------------------------- */
typedef enum { INIT_GLOROT_UNIFORM, INIT_ZEROS, INIT_ONES } sq_init;
/* The other Keras initializers a user can name (kernel_initializer=...);
 * a kind may declare one as a weight's default too. */
enum { INIT_GLOROT_NORMAL = INIT_ONES + 1, INIT_HE_NORMAL, INIT_HE_UNIFORM, INIT_LECUN_NORMAL,
       INIT_LECUN_UNIFORM, INIT_ORTHOGONAL, INIT_CONSTANT, INIT_RANDOM_NORMAL,
       INIT_RANDOM_UNIFORM, INIT_TRUNCATED_NORMAL, INIT_VARIANCE_SCALING, INIT_IDENTITY,
       INIT_COUNT,
       /* a default a kind may declare but no one can name: LSTM's bias with
        * unit_forget_bias (zeros, ones for the forget gate's quarter) */
       INIT_FORGET_BIAS = INIT_COUNT };

/* An initializer with its arguments (init.c). */
typedef struct {
    int kind;                /* an INIT_ value */
    double a, b;             /* mean and stddev, minval and maxval, value, gain, scale */
    int mode;                /* variance scaling: 0 fan_in, 1 fan_out, 2 fan_avg */
    int dist;                /* 0 truncated_normal, 1 untruncated_normal, 2 uniform */
    int seeded;              /* seed= given: draws from its own generator */
    unsigned long long seed;
} sq_initializer;

/* A weight or activity penalty l1 * sum|w| + l2 * sum w^2 (regularizers.c);
 * both 0 is no penalty. */
typedef struct {
    double l1, l2;           /* float32 values, as Keras casts them */
    int form;                /* the name it was given: SQ_REG_L1, _L2 or _L1L2
                                (Keras's class L1, L2, L1L2) */
} sq_regularizer;
enum { SQ_REG_L1, SQ_REG_L2, SQ_REG_L1L2 };

/* One generic weight option of a layer: kernel_initializer=,
 * bias_regularizer=, activity_regularizer=, ... (weight_options.c). */
#define SQ_MAX_WOPTS (2 * SQ_MAX_WEIGHTS + 1)
#define SQ_WOPT_NAME 48
typedef struct {
    char key[SQ_WOPT_NAME];  /* "kernel_initializer" */
    char text[208];          /* the value as given, blanks removed */
    int is_reg;              /* a regularizer, else an initializer */
    sq_initializer init;
    sq_regularizer reg;
} sq_wopt;

typedef struct {
    const char *name;        /* "kernel", "moving_mean"; may point into the
                                layer's state ("lstm_cell/kernel") */
    sq_shape shape;          /* without batch; rank is the weight's own */
    int init;                /* an INIT_ value: the default when no option says otherwise */
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
    /* Keras's masks (see sq_mask_rule): the input's, NULL when it has none;
     * where a layer whose rule is SQ_MASK_MAKE writes its output's. */
    const uint8_t *mask;
    uint8_t *mask_out;
    /* A stateful layer's states (states() floats per sample) for these
     * samples, kept across calls; NULL for other layers. */
    float *states;
    /* Not NULL when the batch is split across processes (data-parallel
     * training): sums v[0..n) over every process in place. A layer that
     * computes statistics over the batch (BatchNormalization) sums its
     * partial sums with it, so that every process sees the whole batch's. */
    void (*sum)(double *v, size_t n);
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
    const uint8_t *mask;         /* the input's mask, as forward saw it */
    const uint8_t *mask_out;     /* the mask forward wrote (SQ_MASK_MAKE) */
    void (*sum)(double *v, size_t n);   /* as in sq_fwd */
    /* Set only for a kind with relu_below: in is the output of relu, and
     * din is to be relu's backward of it already (0 wherever in is not
     * positive), so that the layer below skips that pass. */
    int relu_din;
} sq_bwd;

/* Masks, as Keras's _keras_mask: one byte per row of a tensor (a row is
 * the last axis: (B, T, d) has B*T rows), 1 for a real step, 0 for a
 * masked one. Embedding(mask_zero=True) and Masking make them, the
 * recurrent layers honour them, and the layers Keras passes them through
 * (supports_masking with the default compute_mask: Dense, Dropout,
 * Activation, BatchNormalization) keep them. A layer that uses its input's
 * mask reads f->mask in forward and b->mask in backward; its mask rule
 * says what its output carries. */
typedef enum {
    SQ_MASK_DROP,    /* the output has no mask (the default) */
    SQ_MASK_KEEP,    /* the output's mask is the input's (same rows) */
    SQ_MASK_MAKE     /* forward writes the output's mask to f->mask_out */
} sq_mask_rule;

/* The session's automatic names for what a layer makes besides itself:
 * next() gives the next name for a base ("lstm_cell" -> "lstm_cell_2"),
 * counting the ones it gave before; they are taken only if the add
 * succeeds. */
typedef struct sq_namer {
    void (*next)(struct sq_namer *nm, const char *base, char *out, size_t n);
} sq_namer;

typedef struct sq_layer_kind {
    const char *class_name;      /* "MaxPooling2D" */
    const char *base_name;       /* "max_pooling2d", for auto names */
    const char *const *aliases;  /* other class names ("MaxPool2D"), NULL-ended */
    const sq_optdef *opts;       /* NULL-name-ended; positionals come first */
    int npositional;             /* how many of opts may be given bare */
    int has_activation;          /* accepts activation= and bare act names */
    const char *summary;         /* one line for help */
    const char *shape_rule;      /* e.g. "(B, ..., d) -> (B, ..., units)" */
    /* A whole example that builds: "input 16; add dense 64 relu". The
     * registry test runs it, checks its gradients, saves and loads it. */
    const char *example;
    size_t state_size;           /* bytes of kind-private state */
    /* Checks and converts parsed options into l->state. */
    int (*configure)(sq_layer *l, const sq_optval *v, sq_error *err);
    /* Output shape for input shape `in` (batch may be None), or Keras's
     * error. Also validates `in` against already-created weights. A product
     * of dimensions goes through sq_dims_count (base/shape.c), which names
     * them when it overflows; the build step checks every shape and weight
     * count this and weights() return in any case. */
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
    /* Fills n floats with a valid input for this layer as the first one
     * (Embedding's class ids); NULL when any floats will do. Tests use it,
     * and a kind with it gets no input-gradient check (its input is
     * discrete). */
    void (*sample_input)(const sq_layer *l, float *x, size_t n, sq_rng *rng);
    /* Teaching (`explain`, `summary macs`); NULL = the generic versions of
     * explain.c. explain writes the arithmetic of this built layer on
     * input `in` (output `out`; l->param_count is set), in the model's own
     * numbers: a line per output axis
     * it computes and one for the parameter count ("123 = floor((250 - 5)
     * / 2) + 1", "2432 = (5*5*3 + 1) * 32"), with the sq_explain_*
     * helpers. macs returns the multiply-accumulates of one sample (the
     * products of weights with values; bias additions, comparisons and
     * exponentials are not counted) and, when why is not NULL, writes
     * their arithmetic on one line without a newline
     * ("36316800 = 123*123*32 * 5*5*3  (note)"). */
    void (*explain)(const sq_layer *l, const sq_shape *in, const sq_shape *out, sbuf *b);
    size_t (*macs)(const sq_layer *l, const sq_shape *in, const sq_shape *out, sbuf *why);

    /* The rest is for the kinds that need it; NULL (0) for the others. */
    /* What the output's mask is, given whether the input has one. */
    sq_mask_rule (*mask)(const sq_layer *l, int in_masked);
    /* Floats of state kept per sample across calls (a stateful RNN); the
     * model allocates them for the layer's fixed batch, zeroed. */
    size_t (*states)(const sq_layer *l);
    /* Checks the values of an input (Embedding's ids) before a run, with
     * TensorFlow's error. */
    int (*check_data)(const sq_layer *l, const float *in, const sq_shape *in_shape,
                      sq_error *err);
    /* Fills the hidden options that name what the layer makes besides
     * itself (an RNN's cell, a wrapper's inner layer and its copies) from
     * the session's counters, in Keras's order; options already set (a
     * saved file) are kept. */
    void (*auto_names)(sq_layer *l, sq_namer *nm);
    /* The input shape (without batch) a first layer of this kind declares
     * itself, as Embedding does: (input_length,) or (None,). */
    int (*default_input)(const sq_layer *l, sq_shape *in);
    /* A wrapper (Bidirectional, TimeDistributed): `add KIND INNER ARGS...`
     * creates the wrapped layer (l->inner) from every word but the
     * wrapper's own options, name=, trainable= and the input shape. */
    int wraps;
    /* Keras's error when l, on an input of shape in that carries a mask,
     * cannot take it; NULL = every mask is fine (Keras 2.6 drops a mask
     * at a layer without mask support, silently, except where a layer
     * asks another for its mask: TimeDistributed asks the layer it wraps). */
    int (*mask_check)(const sq_layer *l, const sq_shape *in, sq_error *err);
    /* forward computes with its input's mask (a recurrent layer,
     * GlobalAveragePooling1D), not only passes it on */
    int reads_mask;
    /* backward can apply the relu of the layer below to din as it writes
     * it (sq_bwd.relu_din): MaxPooling2D, whose din is 0 but where a
     * window's maximum was, and that maximum is its output. */
    int relu_below;
    /* forward and backward treat each sample on its own (no statistics,
     * random draws, masks or states across the batch) and the cache is the
     * same size for every sample: training may run the layer a chunk of
     * samples at a time (Conv2D, the 2D poolings). */
    int per_sample;
    /* Releases what configure allocated in the state (a wrapper's copies). */
    void (*deinit)(sq_layer *l);
    /* With deinit: makes dst's state (a byte copy of src's) its own, deep
     * copying what it points to; -1 when out of memory (dst's state then
     * owns nothing). */
    int (*clone_state)(sq_layer *dst, const sq_layer *src);
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
    sq_wopt *wopt;               /* initializer/regularizer options, owned; nwopt of them */
    int nwopt;
    sq_regularizer activity;     /* activity_regularizer (0, 0 when none) */
    sq_optval *opt;              /* parsed options, indexed like kind->opts; owned */
    void *state;                 /* kind->state_size bytes, owned; plain data
                                    unless the kind has deinit and clone_state */
    struct sq_layer *inner;      /* a wrapper's wrapped layer; owned */
    /* Set when the model is built: */
    int built;                   /* in_shape, out_shape, w[] are valid */
    sq_shape in_shape, out_shape;
    int nweights;
    sq_weight_spec w[SQ_MAX_WEIGHTS];
    size_t param_off;            /* into the model's flat buffer */
    size_t param_count;
    float *states;               /* kind->states() floats per sample of the
                                    fixed batch (in_shape.d[0]); owned */
};

/* The registry (layers.c). */
const sq_layer_kind *sq_kind_find(const char *name);
extern const sq_layer_kind *const sq_kinds[];
/* The mask rule of a kind that passes masks through. */
sq_mask_rule sq_mask_keep(const sq_layer *l, int in_masked);
/* l's rule for an input with or without a mask. */
sq_mask_rule sq_layer_mask_rule(const sq_layer *l, int in_masked);
/* Whether l, or a layer it wraps, computes with its input's mask. */
int sq_layer_reads_mask(const sq_layer *l);
/* Keras's error when l cannot take the mask its input (of shape in) has
 * (in_masked); 0 otherwise. */
int sq_layer_mask_check(const sq_layer *l, const sq_shape *in, int in_masked, sq_error *err);

/* ---- activations (activation.c) ----------------------------------------- */
int sq_activation_find(const char *name);  /* index or -1 */
/* Applies activation `a` in place to n values laid out as rows of `last`. */
void sq_activation_apply(int a, float *x, size_t n, long last);
/* Turns dL/dy into dL/dz in place for y = act(z) (rows of `last`). */
void sq_activation_backward(int a, const float *z, const float *y, float *dy,
                            size_t n, long last);

/* ---- layer creation (options.c) ----------------------------------------- */
/* Creates a layer of `kind` from the words after the kind name. Fills
 * *input_shape with the input shape the layer declares, batch first
 * (input_shape=, batch_input_shape=, batch_size=, or the kind's own
 * default_input; batch -1 when not fixed), or rank 0 when it declares
 * none. The name is left empty unless name= was given. */
sq_layer *sq_layer_create(const sq_layer_kind *kind, int argc, char **argv,
                          sq_shape *input_shape, sq_error *err);
void sq_layer_free(sq_layer *l);
/* A deep copy of l (options, state, wrapped layer, stateful states, built
 * shapes); its group is NULL. NULL when out of memory. */
sq_layer *sq_layer_clone(const sq_layer *l);
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

/* ---- shared by the windowed layers (layers.c) -------------------------- */
/* Keras's padding names, any case: sets *same (1 for "same", 0 for
 * "valid"), *causal for "causal"; otherwise Keras's error. */
int sq_parse_padding(const char *s, int *same, int *causal, sq_error *err);
/* A dimension as TensorFlow prints it in shape lists: "?" for None. */
const char *sq_tf_dim(long d, char *buf, size_t n);
/* TensorFlow's SAME split: total padding max((out - 1) * s + dk - n, 0)
 * for window extent dk, the smaller half before; 0 when !same. */
long sq_pad_before(long n, long out, long dk, long s, int same);


/* ---- weights (init.c) ------------------------------------------------- */
size_t sq_weight_count(const sq_weight_spec *w);
/* Fills the weight of shape sh at dst with initializer ini, drawing from
 * rng (or from its own seed=); Keras's error when ini does not fit the
 * shape (identity is 2-D only, orthogonal at least 2-D). */
int sq_initializer_run(const sq_initializer *ini, const sq_shape *sh, float *dst, sq_rng *rng,
                       sq_error *err);
/* Parses "he_normal", "random_normal(stddev=0.02)", ... (names ignoring
 * case and underscores); Keras's "Unknown initializer: ..." otherwise. */
int sq_initializer_parse(const char *text, sq_initializer *out, sq_error *err);
/* A kind's default initializer (an INIT_ value) with Keras's defaults. */
void sq_initializer_default(int kind, sq_initializer *ini);
/* The name a kind's default initializer is written with ("glorot_uniform"). */
const char *sq_init_name(int kind);
/* The i-th initializer: its name, *aliases the other spellings (static). */
const char *sq_initializer_name_at(int i, const char **aliases);
/* help text for an initializer name, or NULL (malloc'd). */
char *sq_initializer_help(const char *name);
/* The text sq_initializer_parse reads back as ini (an INIT_ value that can
 * be named): "he_normal", "random_normal(stddev=0.02)", "constant(value=0.5)";
 * only the arguments that differ from Keras's defaults, and seed= when
 * given. Cut to fit buf (n >= 64 holds every one). */
void sq_initializer_text(const sq_initializer *ini, char *buf, size_t n);
/* Whether two initializers draw the same way (kind, arguments, seed). */
int sq_initializer_same(const sq_initializer *a, const sq_initializer *b);

/* ---- regularizers (regularizers.c) -------------------------------------- */
/* Parses "l2", "l2(0.001)", "l1_l2(l1=0.01, l2=0.01)"; Keras's errors. */
int sq_regularizer_parse(const char *text, sq_regularizer *out, sq_error *err);
const char *sq_regularizer_name_at(int i, const char **aliases);
/* The text sq_regularizer_parse reads back as r: "l2(0.01)", "l1(0.001)",
 * "l1_l2(l1=0.01,l2=0.02)" (r's form, factors as float32's shortest). */
void sq_regularizer_text(const sq_regularizer *r, char *buf, size_t n);
char *sq_regularizer_help(const char *name);
/* The penalty of n values, sum l1 |w| + l2 w^2 (in double). */
double sq_regularizer_value(const sq_regularizer *r, const float *w, size_t n);
/* out = g + its gradient l1 sign(w) + 2 l2 w, for n values (a chunk);
 * returns the penalty of w (the same pass). */
double sq_regularizer_grad_into(const sq_regularizer *r, const float *w, const float *g,
                                float *out, size_t n);
/* Adds scale * its gradient, scale * (l1 sign(w) + 2 l2 w), to g; returns
 * the penalty (the same pass). */
double sq_regularizer_add_grad(const sq_regularizer *r, const float *w, float *g, size_t n,
                               float scale);

/* ---- the generic weight options (weight_options.c) ---------------------
 * Every layer takes NAME_initializer= and NAME_regularizer= for each of
 * its weights, NAME derived from the weight's Keras name (kernel ->
 * kernel_initializer, recurrent_kernel -> recurrent_initializer, ...), and
 * activity_regularizer=. A kind gets them by declaring its weights. */
/* Whether key (e.g. "kernel_regularizer") is one of layer l's weight
 * options; l must be configured. */
int sq_wopt_accepts(const sq_layer *l, const char *key);
/* Parses and keeps key=text on l (checked by sq_wopt_accepts). */
int sq_wopt_set(sq_layer *l, const char *key, const char *text, sq_error *err);
/* " key=text" for each option given, for sq_layer_describe. */
void sq_wopt_describe(const sq_layer *l, sbuf *b);
/* The initializer for weight spec w of l: the option's, or NULL for the
 * kind's default. */
const sq_initializer *sq_wopt_initializer(const sq_layer *l, const sq_weight_spec *w);
/* The penalty on weight spec w of l, or NULL. */
const sq_regularizer *sq_wopt_regularizer(const sq_layer *l, const sq_weight_spec *w);
/* Initialises weight w of l at dst: the option's initializer or the kind's
 * default. */
int sq_layer_init_weight(const sq_layer *l, const sq_weight_spec *w, float *dst, sq_rng *rng,
                         sq_error *err);
/* One weight option stem of a layer. */
typedef struct {
    char stem[SQ_WOPT_NAME];   /* "kernel", "recurrent", "moving_mean" */
    int init;                  /* the kind's default initializer (an INIT_ value) */
    int trainable;             /* a trained weight: takes a regularizer too */
} sq_wslot;
#define SQ_MAX_WSLOTS (SQ_MAX_WEIGHTS + 3)
/* The weight option stems of configured layer l (built or not): its
 * weights' and those a boolean option switched off (Dense(use_bias=False)
 * still takes bias_initializer=, as in Keras), each once, in the order of
 * its weights; returns how many (at most SQ_MAX_WSLOTS). */
int sq_layer_weight_slots(const sq_layer *l, sq_wslot *out);
/* The weight options kind k offers, for help and completion: option names
 * into names and the default each starts with into defaults (static:
 * "glorot_uniform", "none"); returns how many (at most max). Read from a
 * layer made by the kind's example. */
int sq_kind_weight_options(const sq_layer_kind *k, char (*names)[SQ_WOPT_NAME],
                           const char **defaults, int max);

/* ---- one layer as a whole (registry.c) -------------------------------- */
/* "add KIND ... name=NAME" that recreates layer l (without a newline). */
void sq_layer_describe(const sq_layer *l, sbuf *b);
/* Shape inference for l on `in`: the output shape and the weights it
 * creates (*nw of them in w); for a built layer, Keras's error when its
 * existing weights no longer fit. */
int sq_layer_infer(const sq_layer *l, const sq_shape *in, sq_shape *out,
                   sq_weight_spec *w, int *nw, sq_error *err);
/* The same when only the output shape is wanted. */
int sq_layer_check_input(const sq_layer *l, const sq_shape *in, sq_shape *out,
                         sq_error *err);

/* ---- teaching: the arithmetic of a built layer (explain.c) ------------- */
/* The kind's explain lines (or the generic ones), then its mult-adds line. */
void sq_layer_explain(const sq_layer *l, sbuf *b);
/* Multiply-accumulates of one sample (the kind's count or the generic
 * one); why as for the kind's macs. */
size_t sq_layer_macs(const sq_layer *l, sbuf *why);
/* The same for l on input in, output out (a wrapper's inner layer). */
size_t sq_macs_on(const sq_layer *l, const sq_shape *in, const sq_shape *out, sbuf *why);
/* What a kind without explain says: the shape rule (or that the shape is
 * the input's) and every weight's shape with its product. True for any
 * kind. */
void sq_explain_generic(const sq_layer *l, const sq_shape *in, const sq_shape *out, sbuf *b);
/* A kind without macs: for a weight called "kernel" whose last axis is the
 * output's last axis, one dot product of (kernel size / that axis) per
 * output value; 0 for every other layer. */
size_t sq_macs_generic(const sq_layer *l, const sq_shape *in, const sq_shape *out, sbuf *why);
/* Weightless elementwise kinds: "shape: the same as the input (WHAT)" and
 * "params: 0"; what may be NULL. */
void sq_explain_same_shape(sbuf *b, const char *what);
/* One line "  LABEL:     TEXT". */
void sq_explain_line(sbuf *b, const char *label, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The line for a windowed axis (convolution, pooling): out from n values,
 * window k, stride s, dilation d, padding same (or valid):
 * "123 = floor((250 - 5) / 2) + 1  (valid padding: ...)". */
void sq_explain_window(sbuf *b, const char *label, long n, long k, long s, long d, int same,
                       long out);
/* "params: 0  (no weights)". */
void sq_explain_no_params(sbuf *b);
/* Values in one sample: the product of sh's dims after the batch (0 when
 * one is unknown). */
size_t sq_sample_count(const sq_shape *sh);
/* sh's dims after the batch as a product: "123*123*32". */
const char *sq_dims_text(const sq_shape *sh, char *buf, size_t n);
/* macs helpers: one dot product of `dot` (written as dot_text) per output
 * value; `per` multiply-adds for every output value (note says why). */
size_t sq_macs_dot(const sq_shape *out, size_t dot, const char *dot_text, sbuf *why);
size_t sq_macs_each(const sq_shape *out, size_t per, const char *note, sbuf *why);

#endif
