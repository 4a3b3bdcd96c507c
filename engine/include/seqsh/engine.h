/* engine.h - the seqsh engine's one public header.
 *
 * The engine keeps a live Keras-style Sequential model inside a session and
 * answers questions about it. It never prints, never exits and never aborts on
 * user input: every function that can fail returns 0 on success and -1 on
 * failure, filling the caller's sq_error with a one-line message. A call that
 * fails leaves the session (model, name counters, RNG) exactly as it was. */
#ifndef SEQSH_ENGINE_H
#define SEQSH_ENGINE_H

#include <stddef.h>

#define SQ_MAX_RANK 5   /* batch dimension included */
#define SQ_ERR_MAX 1024

/* A shape. d[0] is the batch dimension for model tensors; an entry < 0 is
 * unknown (Keras's None). */
typedef struct {
    int rank;
    long d[SQ_MAX_RANK];
} sq_shape;

/* A dense float32 tensor in C order. `data` is owned by whoever owns the
 * struct and released with sq_tensor_free. All dims are known (>= 0). */
typedef struct {
    sq_shape shape;
    float *data;
} sq_tensor;

typedef struct {
    char msg[SQ_ERR_MAX];
} sq_error;

typedef struct sq_session sq_session;

/* ---- option values and key=value words ---------------------------------
 * One vocabulary for every command that takes options, as lauxlib's
 * luaL_check and luaL_opt functions are for Lua: each value is read with its
 * type and range, and every bad value gets the same wording, naming the
 * command and the option ("fit: `epochs` must be at least 1, got 0";
 * "`threads`" alone when the command is the setting). lo and hi are
 * inclusive; LONG_MIN/LONG_MAX or -HUGE_VAL/HUGE_VAL leave a side open. */
int sq_check_long(const char *what, const char *key, const char *text, long lo, long hi,
                  long *v, sq_error *err);
int sq_check_long_range(const char *what, const char *key, long v, long lo, long hi,
                        sq_error *err);
int sq_check_double(const char *what, const char *key, const char *text, double lo,
                    double hi, double *v, sq_error *err);
int sq_check_double_range(const char *what, const char *key, double v, double lo, double hi,
                          sq_error *err);
/* true/True/1, false/False/0. */
int sq_check_bool(const char *what, const char *key, const char *text, int *v, sq_error *err);
/* A size in bytes: "512M", "8G", "1.5GiB", "1000000"; at least lo. */
int sq_check_size(const char *what, const char *key, const char *text, double lo,
                  size_t *v, sq_error *err);

/* The key=value words of one command line. A word is an option when it is
 * an identifier (lower case, digits, '_') followed by '='. */
#define SQ_ARGS_MAX 32
typedef struct {
    const char *cmd;                 /* names the command in messages */
    int n;
    const char *word[SQ_ARGS_MAX];   /* borrowed from argv */
    unsigned char keylen[SQ_ARGS_MAX];
    unsigned char used[SQ_ARGS_MAX];
} sq_args;
int sq_is_option_word(const char *w);
/* Splits argv into the other words (into plain, in order; *nplain of them;
 * plain must hold argc) and the options; a key given twice is an error. */
int sq_args_init(sq_args *a, const char *cmd, int argc, char **argv, char **plain,
                 int *nplain, sq_error *err);
/* The value of option key (borrowed), or NULL; marks it as read. */
const char *sq_arg(sq_args *a, const char *key);
/* Reads option key into *v when it is given (*v keeps its default when
 * not); -1 with the vocabulary's message when it is bad. */
int sq_arg_long(sq_args *a, const char *key, long lo, long hi, long *v, sq_error *err);
int sq_arg_int(sq_args *a, const char *key, int lo, int hi, int *v, sq_error *err);
int sq_arg_double(sq_args *a, const char *key, double lo, double hi, double *v,
                  sq_error *err);
int sq_arg_bool(sq_args *a, const char *key, int *v, sq_error *err);
int sq_arg_size(sq_args *a, const char *key, double lo, size_t *v, sq_error *err);
/* Python's "CMD() got an unexpected keyword argument 'KEY'" for the first
 * option nobody read. */
int sq_args_finish(const sq_args *a, sq_error *err);
/* The i-th option nobody has read yet ("key=value", borrowed; *keylen gets
 * the key's length), or NULL. */
const char *sq_args_unused(const sq_args *a, int i, size_t *keylen);

/* ---- session --------------------------------------------------------- */

/* A new session holding an empty, unnamed model; NULL when out of memory. */
sq_session *sq_session_new(void);
void sq_session_free(sq_session *s);

/* Reseed the session RNG (weights, `random` inputs, shuffling). */
void sq_seed(sq_session *s, unsigned long long seed);

/* keras.backend.clear_session(): every automatic-name counter restarts. */
void sq_reset(sq_session *s);

/* The RNG state, so a caller can undo a failed command that drew from it. */
typedef struct { unsigned long long s[4]; } sq_rng_state;
sq_rng_state sq_rng_get(const sq_session *s);
void sq_rng_set(sq_session *s, sq_rng_state st);

/* The most memory one command may need (default: half of physical memory);
 * bigger requests are refused up front with a message naming the size. */
size_t sq_get_memory_limit(void);
void sq_set_memory_limit(size_t bytes);

/* When OpenBLAS picked a kernel far slower than this CPU can run (it does
 * not know every recent CPU), the OPENBLAS_CORETYPE that fixes it
 * ("SkylakeX", "Haswell"); NULL when its choice is fine. OpenBLAS reads that
 * variable only when it loads, so the program must re-execute itself. */
const char *sq_blas_better_coretype(void);
/* The same decision for a given OpenBLAS core name (for tests). */
const char *sq_blas_better_coretype_for(const char *corename);

/* Threads for the maths (OpenBLAS); n >= 1. */
void sq_set_threads(int n);
int sq_get_threads(void);
/* The settings as `set` shows them ("memory_limit=12.0G\nthreads=2\n");
 * malloc'd. */
char *sq_settings_text(sq_error *err);
/* Applies memory_limit=SIZE (at least 1M) and threads=N (1 to 256) from a;
 * checks both before changing either. cmd names the command in messages. */
int sq_settings_apply(sq_args *a, sq_error *err);
/* A line on the maths backend: library, kernel, threads. Static string. */
const char *sq_backend_info(void);

/* Cooperative cancellation: long operations poll *flag between layers and
 * batches and fail with "Interrupted" when it is non-zero. Borrowed. */
void sq_set_interrupt_flag(sq_session *s, volatile int *flag);

/* ---- building ---------------------------------------------------------- */

/* keras.Sequential(name=NAME); NULL name gives sequential, sequential_1, ... */
int sq_model_new(sq_session *s, const char *name, sq_error *err);
/* model.add(keras.Input(shape=dims)). */
int sq_input(sq_session *s, int ndims, const long *dims, sq_error *err);
/* model.add(layers.KIND(args...)). args are the raw words after the kind:
 * positionals, bare activation names and key=value options. */
int sq_add(sq_session *s, const char *kind, int argc, char **argv,
           sq_error *err);
/* model.pop(). */
int sq_pop(sq_session *s, sq_error *err);

/* ---- looking ------------------------------------------------------------ */

typedef struct {
    const char *name;       /* borrowed from the session */
    const char *class_name; /* Keras class name, e.g. "Conv2D" */
    int built;              /* output_shape and params are valid */
    sq_shape output_shape;
    size_t params;
    int trainable;
} sq_layer_info;

const char *sq_model_name(const sq_session *s);
int sq_model_is_built(const sq_session *s);
int sq_layer_count(const sq_session *s);
/* Fills *info for layer i (0-based); -1 when out of range. */
int sq_layer_get(const sq_session *s, int i, sq_layer_info *info);

/* Python's repr of a shape tuple: "(None, 123, 123, 32)", "(None,)".
 * Writes at most n bytes including the NUL; returns buf. */
char *sq_shape_str(const sq_shape *sh, char *buf, size_t n);

/* model.summary() text, Keras 2.6 classic layout. Returns a malloc'd string
 * owned by the caller, or NULL with *err filled. */
char *sq_summary(const sq_session *s, sq_error *err);
/* print(model.layers), one line per layer; malloc'd, NULL on error. */
char *sq_layers_text(const sq_session *s, sq_error *err);
/* model.weights / layer.weights with values; layer NULL = all. */
char *sq_weights_text(const sq_session *s, const char *layer, sq_error *err);

/* ---- running ------------------------------------------------------------ */

/* y = model(x). Builds an unbuilt model on the first call; *y is filled with
 * a new tensor the caller frees with sq_tensor_free. */
int sq_call(sq_session *s, const sq_tensor *x, sq_tensor *y, sq_error *err);

/* ---- tensors ------------------------------------------------------------ */

/* ones | zeros | random (uniform [0,1) from the session RNG) | range
 * (0, 1, 2, ... in C order). dims are all concrete and > 0. */
int sq_tensor_generate(sq_session *s, const char *kind, int ndims,
                       const long *dims, sq_tensor *out, sq_error *err);
/* sq_data_load(spec, NULL, out, NULL, err): any data file, no label. */
int sq_tensor_load(const char *spec, sq_tensor *out, sq_error *err);
/* Reads a data set: .npy, FILE.npz[:KEY], an IDX file (MNIST) or a CSV of
 * numbers, any of them gzip-compressed, recognised by content. label
 * ("last", "first" or a column N) splits a CSV into x and y (*y filled). */
int sq_data_load(const char *spec, const char *label, sq_tensor *x, sq_tensor *y,
                 sq_error *err);
/* Writes t as a float32 .npy (temporary file renamed into place). */
int sq_tensor_save(const char *path, const sq_tensor *t, sq_error *err);
/* NumPy's str(array) for t: malloc'd, NULL when out of memory. */
char *sq_tensor_format(const sq_tensor *t);
void sq_tensor_free(sq_tensor *t);
size_t sq_shape_count(const sq_shape *sh); /* product of dims */

/* ---- training ------------------------------------------------------------ */

/* model.compile(optimizer=..., loss=..., metrics=[...]). metrics is a
 * comma-separated list or NULL; the n key/value pairs are the optimizer's
 * options (learning_rate=0.01, momentum=0.9, ...). Checks every name. */
int sq_compile(sq_session *s, const char *optimizer, const char *loss,
               const char *metrics, int n, const char *const *keys,
               const char *const *values, sq_error *err);

/* The same from the words after `compile`: optimizer=NAME loss=NAME
 * metrics=A,B and the optimizer's options (learning_rate=0.01, ...). */
int sq_compile_words(sq_session *s, int argc, char **argv, sq_error *err);

/* What a progress callback receives: a redraw of the current bar, the final
 * line of an epoch or evaluation, or a plain line such as "Epoch 1/5". */
/* A WARNING is what Keras logs as a warning (stderr); a LINE what it
 * prints. */
enum { SQ_PROGRESS_UPDATE, SQ_PROGRESS_FINAL, SQ_PROGRESS_LINE, SQ_PROGRESS_WARNING };
typedef void (*sq_progress_fn)(void *ctx, const char *text, int kind);

typedef struct {
    int epochs;              /* 1 */
    long batch_size;         /* 32 */
    double validation_split; /* 0 */
    int shuffle;             /* 1 */
    int verbose;             /* 1 */
    /* zero is the default for the rest; texts are borrowed */
    int initial_epoch;
    const char *label;            /* label= of a CSV (validation_data's too) */
    const char *validation_data;  /* "xv.npy,yv.npy", "(x, y[, w])", "val.csv" */
    const char *sample_weight;    /* an INPUT of one weight per sample */
    const char *class_weight;     /* "{0:1,1:5}" */
    const char *callbacks;        /* "early_stopping(patience=3),csv_logger(log.csv)" */
    const sq_tensor *val_x, *val_y;   /* validation data as tensors, borrowed */
    const sq_tensor *sample_weights;  /* sample weights as a tensor, borrowed */
} sq_fit_opts;

/* The defaults (1, 32, 0, true, 1, nothing else), then the options fit
 * takes in a: epochs=, batch_size=, validation_split=, shuffle=,
 * verbose=, initial_epoch=, label=, validation_data=, sample_weight=,
 * class_weight=, callbacks=, checked (class_weight and callbacks fully:
 * they need no data). validation_data overrides validation_split, as the
 * Keras documentation says. */
int sq_fit_opts_read(sq_args *a, sq_fit_opts *o, sq_error *err);
/* batch_size= (default 32) and, when verbose is not NULL, verbose= (0 or 1;
 * default 1), as evaluate and predict take them. */
int sq_batch_opts_read(sq_args *a, long *batch_size, int *verbose, sq_error *err);

/* model.fit(x, y, ...). Validation data is taken from the end before
 * shuffling. An interrupt stops between batches and keeps the weights of
 * the last finished batch (the call then fails with "Interrupted"). */
int sq_fit(sq_session *s, const sq_tensor *x, const sq_tensor *y,
           const sq_fit_opts *o, sq_progress_fn cb, void *ctx, sq_error *err);
/* Keras's History over every finished epoch since the last compile (one
 * fit after another adds epochs; compile and load start afresh): the
 * number of epochs; the names that have a value ("loss", "accuracy",
 * "val_loss", ...; borrowed, at most max); and one name's values, one per
 * epoch (NaN where an epoch had no validation), returning how many, or -1
 * when there is no such name. */
int sq_history_epochs(const sq_session *s);
int sq_history_names(const sq_session *s, const char **names, int max);
int sq_history_values(const sq_session *s, const char *name, double *v, int max);

/* model.evaluate(x, y): fills values with the loss then each metric and
 * names with their borrowed names; *n gets the count (at most max). */
int sq_evaluate(sq_session *s, const sq_tensor *x, const sq_tensor *y,
                long batch_size, int verbose, sq_progress_fn cb, void *ctx,
                double *values, const char **names, int max, int *n,
                sq_error *err);
/* model.predict(x) in batches; *y is a new tensor. */
int sq_predict(sq_session *s, const sq_tensor *x, long batch_size, sq_tensor *y,
               sq_error *err);

/* ---- weights files ------------------------------------------------------ */

/* model.save_weights / load_weights as .npz, keys "LAYER/WEIGHT". */
int sq_save_weights(const sq_session *s, const char *path, sq_error *err);
int sq_load_weights(sq_session *s, const char *path, sq_error *err);

/* ---- transfer learning --------------------------------------------------- */

/* layer.trainable = trainable for the entries of model.layers that sel
 * picks: a name, an index (negative counts from the end), a Python slice
 * ("1:3", ":-1", "::2") or "all". *count gets how many were picked. */
int sq_set_trainable(sq_session *s, const char *sel, int trainable, int *count,
                     sq_error *err);

/* A tensor with a name (extract's outputs, .npz members). */
typedef struct {
    char *name;
    sq_tensor t;
} sq_named_tensor;
/* Every chosen layer's output for x, in layer order: which is "all" or
 * "NAME[,NAME...]". Builds an unbuilt model as a call does. *outs is
 * malloc'd; free it with sq_named_free. */
int sq_extract(sq_session *s, const char *which, const sq_tensor *x,
               sq_named_tensor **outs, int *n, sq_error *err);
void sq_named_free(sq_named_tensor *t, int n);
/* Writes the n tensors to an .npz archive, keyed by their names. */
int sq_save_npz(const char *path, const sq_named_tensor *t, int n, sq_error *err);

/* model.save / keras.models.load_model: one file with the architecture,
 * every weight, the trainable flags and the compile settings. load
 * replaces the current model; on any error the current model stays. */
int sq_save(const sq_session *s, const char *path, sq_error *err);
int sq_load(sq_session *s, const char *path, sq_error *err);
/* Adds the model saved in path as one layer (a nested Sequential). name
 * may be NULL (the saved name); trainable < 0 keeps the saved flags. */
int sq_add_model(sq_session *s, const char *path, const char *name,
                 int trainable, sq_error *err);

/* ---- the registry, for help and completion ----------------------------- */

int sq_kind_count(void);
const char *sq_kind_class(int i);     /* "Conv2D" */
const char *sq_kind_base(int i);      /* "conv2d" */
/* Help for the layer kind called `name` (any accepted spelling): summary,
 * arguments with defaults, shape rule, example. malloc'd; NULL if unknown. */
char *sq_kind_help(const char *name);
/* The option names of kind `name` ("strides", ...), common ones included
 * (name, input_shape, trainable, activation where accepted). Returns how
 * many were stored in out (at most max); -1 if the kind is unknown. */
int sq_kind_options(const char *name, const char **out, int max);
int sq_activation_count(void);
const char *sq_activation_name(int i);
/* The i-th optimizer, loss or metric seqsh knows (i from 0; NULL past the
 * end): its Keras name ("adam", "mean_squared_error", "accuracy"); for an
 * optimizer *class_name gets the Keras class ("Adam"), for a loss or metric
 * *aliases the other accepted spellings ("mse, MSE, MeanSquaredError";
 * static, overwritten by the next call). Pointers may be NULL. */
const char *sq_optimizer_name(int i, const char **class_name);
const char *sq_loss_name_at(int i, const char **aliases);
const char *sq_metric_name_at(int i, const char **aliases);
/* The same for initializers ("he_normal"; aliases "HeNormal"),
 * regularizers, learning-rate schedules and callbacks. */
const char *sq_initializer_name_at(int i, const char **aliases);
const char *sq_regularizer_name_at(int i, const char **aliases);
const char *sq_schedule_name_at(int i, const char **aliases);
const char *sq_callback_name_at(int i, const char **aliases);
/* Help for an initializer, regularizer, schedule, callback, loss or
 * metric called `name` (any accepted spelling): what it computes, its
 * arguments, an example. malloc'd; NULL if no such name. */
char *sq_name_help(const char *name);
/* The i-th weight option of layer kind `name` ("kernel_initializer",
 * "bias_regularizer", ..., "activity_regularizer") into buf, and in *def
 * its default ("glorot_uniform", "none"; static); -1 past the end or for
 * an unknown kind. */
int sq_kind_weight_option(const char *name, int i, char *buf, size_t n, const char **def);

#endif
