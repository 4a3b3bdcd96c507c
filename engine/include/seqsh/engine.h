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

/* The most memory one command may need, reading and decompressing files
 * included (default: half of the smallest of physical memory, the cgroup's
 * memory limit and RLIMIT_AS); bigger requests are refused up front with a
 * message naming the size. */
size_t sq_get_memory_limit(void);
void sq_set_memory_limit(size_t bytes);

/* When OpenBLAS picked a kernel far slower than this CPU can run (it does
 * not know every recent CPU), the OPENBLAS_CORETYPE that fixes it
 * ("SkylakeX", "Haswell"); NULL when its choice is fine. OpenBLAS reads that
 * variable only when it loads, so the program must re-execute itself. */
const char *sq_blas_better_coretype(void);
/* The same decision for a given OpenBLAS core name (for tests). */
const char *sq_blas_better_coretype_for(const char *corename);
/* The widest vectors an OpenBLAS core's kernels use: "AVX-512", "AVX2",
 * "AVX" or "SSE". */
const char *sq_blas_kernel_isa(const char *corename);
/* When that core's kernels are narrower than this CPU's AVX-512 (the
 * environment forced them: OPENBLAS_CORETYPE=Haswell), a note saying so
 * ("an AVX2 kernel on this AVX-512 CPU"); NULL otherwise. info shows it. */
const char *sq_blas_kernel_note(const char *corename);

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

/* Cooperative cancellation: long operations poll *flag (between layers
 * and batches; file readers and decompression every chunk, the build step
 * every layer) and fail with "Interrupted" when it is non-zero. Borrowed
 * until the session is freed. The flag is watched process-wide, as signals
 * are: the last session to set one is the one readers without a session
 * poll. */
void sq_set_interrupt_flag(sq_session *s, volatile int *flag);

/* ---- undo ---------------------------------------------------------------
 * A snapshot holds everything a command can change: the model (layers,
 * flat weights, trainable flags, compile settings, the optimizer's state,
 * the training history), Keras's name counters and the random state. The
 * caller takes one before a command that changes the session and, when
 * the command worked, pushes it; sq_undo puts the newest back, bit for
 * bit. The list keeps at most 100 and stays within the memory limit: the
 * oldest are dropped first. */
typedef struct sq_snapshot sq_snapshot;
/* NULL with *err filled when out of memory, or when the copy alone would
 * pass the memory limit. */
sq_snapshot *sq_snapshot_take(const sq_session *s, sq_error *err);
/* A snapshot for a command that only appends layers (`add KIND`): it
 * records the layer count and the session's counters and random state, and
 * undoing it cuts the model back; as cheap for 20,000 layers as for one. */
sq_snapshot *sq_snapshot_take_append(const sq_session *s, sq_error *err);
void sq_snapshot_free(sq_snapshot *snap);
/* Puts the session back to snap and frees it; -1 (nothing changed, snap
 * still the caller's) when out of memory. */
int sq_snapshot_restore(sq_session *s, sq_snapshot *snap, sq_error *err);
/* Keeps snap (owned from now on) as the state before command `what`. */
void sq_undo_push(sq_session *s, sq_snapshot *snap, const char *what);
/* Command `what` changed the session without a snapshot (why says why):
 * nothing before it can be undone any more. */
void sq_undo_block(sq_session *s, const char *what, const char *why);
/* Restores the newest snapshot and drops it; what (n bytes) gets the
 * command that was taken back. -1 when there is nothing to undo. */
int sq_undo(sq_session *s, char *what, size_t n, sq_error *err);
/* How many commands can be undone. */
int sq_undo_levels(const sq_session *s);

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

/* How much of text[0..n) a terminal shows as text: the length of the
 * longest prefix that is UTF-8 without control characters (tab and
 * newline allowed when lines is 1); *bad gets the length of what follows
 * and should be shown escaped (\xNN each byte): a control character (C0,
 * DEL, C1) or one byte that is not UTF-8; 0 at the end. Names are checked
 * against the same rule when they are set or loaded. */
size_t sq_text_span(const char *text, size_t n, int lines, size_t *bad);

/* Python's repr of a shape tuple: "(None, 123, 123, 32)", "(None,)".
 * Writes at most n bytes including the NUL; returns buf. */
char *sq_shape_str(const sq_shape *sh, char *buf, size_t n);

/* model.summary() text, Keras 2.6 classic layout. Returns a malloc'd string
 * owned by the caller, or NULL with *err filled. */
char *sq_summary(const sq_session *s, sq_error *err);
/* summary() with extra columns (a mask of these): Mult-Adds, the
 * multiply-accumulates of one sample; Output Memory and Param Memory, the
 * float32 bytes of one sample's output and of the weights; the footer adds
 * torchinfo's totals ("Total mult-adds (M): 163.43", "Input size (MB)",
 * "Forward/backward pass size (MB)" = twice the outputs of the layers with
 * weights, "Params size (MB)", "Estimated Total Size (MB)"). columns 0 gives
 * sq_summary's text. malloc'd; NULL with *err filled. */
enum { SQ_SUMMARY_MACS = 1, SQ_SUMMARY_MEMORY = 2 };
char *sq_summary_columns(const sq_session *s, int columns, sq_error *err);
/* What entry i of model.layers costs for one sample; -1 when the model is
 * not built or i is out of range. */
typedef struct {
    size_t macs;          /* multiply-accumulates: products of weights with values */
    size_t out_bytes;     /* its output, float32 */
    size_t param_bytes;   /* its weights, float32 */
} sq_layer_cost;
int sq_layer_cost_get(const sq_session *s, int i, sq_layer_cost *c);
/* Teaching: for every entry of model.layers (or the one called `layer`, or
 * at that index; negative counts from the end), its output shape and
 * parameter count with the arithmetic that gives them, in this model's
 * numbers ("123 = floor((250 - 5) / 2) + 1", "2432 = (5*5*3 + 1) * 32"), and
 * its multiply-accumulates for one sample; for the whole model, the totals.
 * malloc'd; NULL with *err filled (not built, no such layer). */
char *sq_explain(const sq_session *s, const char *layer, sq_error *err);
/* print(model.layers), one line per layer; malloc'd, NULL on error. */
char *sq_layers_text(const sq_session *s, sq_error *err);
/* model.weights / layer.weights with values; layer NULL = all. */
char *sq_weights_text(const sq_session *s, const char *layer, sq_error *err);

/* ---- running ------------------------------------------------------------ */

/* y = model(x). Builds an unbuilt model on the first call; *y is filled with
 * a new tensor the caller frees with sq_tensor_free. */
int sq_call(sq_session *s, const sq_tensor *x, sq_tensor *y, sq_error *err);
/* Before making an input of this shape for sq_call: -1 (the memory
 * limit's message) when the call would pass the memory limit, counting
 * what it holds while it runs (the input, the output, the working memory of
 * its chunks of samples). 0 otherwise, a shape the model refuses included:
 * sq_call says what is wrong with it. */
int sq_call_check(sq_session *s, const sq_shape *in, sq_error *err);

/* ---- tensors ------------------------------------------------------------ */

/* ones | zeros | random (uniform [0,1) from the session RNG) | range
 * (0, 1, 2, ... in C order). dims are all concrete and > 0. */
int sq_tensor_generate(sq_session *s, const char *kind, int ndims,
                       const long *dims, sq_tensor *out, sq_error *err);
/* sq_data_load(spec, NULL, out, NULL, err): any data file, no label. */
int sq_tensor_load(const char *spec, sq_tensor *out, sq_error *err);
/* Reads a data set: .npy, FILE.npz[:KEY], an IDX file (MNIST) or a CSV of
 * numbers, any of them gzip-compressed, recognised by content. label
 * ("last", "first" or a column N) splits a CSV into x and y (*y filled).
 * A trailing [SEL] selects rows (of x and y alike) with Python's rules:
 * [3] and [-1] one row, kept as a batch of one (NumPy's x[3:4]); [0:10],
 * [100:], [::2], [::-1] slices. A spec naming an existing file as a whole
 * is that file. */
int sq_data_load(const char *spec, const char *label, sq_tensor *x, sq_tensor *y,
                 sq_error *err);
/* Writes t as a float32 .npy (temporary file renamed into place). */
int sq_tensor_save(const char *path, const sq_tensor *t, sq_error *err);
/* NumPy's str(array) for t: malloc'd, NULL when out of memory. */
char *sq_tensor_format(const sq_tensor *t);
/* The same for whole numbers (class indices), as NumPy prints an integer
 * array: "[3 1 0]". */
char *sq_tensor_format_int(const sq_tensor *t);
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
/* The same with model.evaluate's sample_weight: sample_weight an INPUT
 * (a file) or sample_weights a tensor (borrowed) of one weight per sample,
 * or both NULL. Each batch's loss is the sum of the weighted losses over
 * the batch's size, as in fit, and the metrics are weighted too. */
int sq_evaluate_weighted(sq_session *s, const sq_tensor *x, const sq_tensor *y,
                         const char *sample_weight, const sq_tensor *sample_weights,
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

/* Waits until fd, a pipe opened with O_NONBLOCK, has data or has seen its
 * writer come and go (a FIFO with no writer yet is waited for, as sh does),
 * polling the interrupt flag every 0.1 s: 0, or -1 with err filled
 * ("Interrupted"). path names it in messages. */
int sq_wait_readable(int fd, const char *path, sq_error *err);

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
/* Writes call's, predict's or extract's n outputs in the format path's
 * extension names (any case): .npy (n must be 1), .npz (one member per
 * tensor, keyed by its name) or .csv (one line per sample, the tensors'
 * values flattened side by side after a header naming each column NAME
 * or NAME[j]; floats in the shortest text that reads back exactly).
 * integer: the values are whole numbers (classes), written as int64 in
 * .npy/.npz and as integers in CSV. Any other extension is an error and
 * nothing is written; sq_check_output_path checks that up front. */
int sq_save_outputs(const char *path, const sq_named_tensor *t, int n, int integer,
                    sq_error *err);
int sq_check_output_path(const char *path, int n, sq_error *err);

/* ---- classifiers ---------------------------------------------------------- */

/* Keras's predict_classes: for outputs y with several values on the last
 * axis, the index of the largest (argmax(axis=-1): that axis goes); for
 * one value, 1 where it is above 0.5, else 0 (the shape stays). *cls is a
 * new tensor of whole numbers. */
int sq_classes(const sq_tensor *y, sq_tensor *cls, sq_error *err);

/* A confusion matrix: counts[t * nclasses + p] samples of true class t
 * were predicted as p. */
typedef struct {
    int nclasses;
    long *counts;   /* malloc'd; sq_confusion_free */
    long total;     /* samples (output rows) counted */
} sq_confusion_matrix;
/* Runs the model on x (batch_size at a time, building an unbuilt model as
 * predict does) and counts each output row against its label in y, with
 * the classes Keras's "accuracy" uses: one output is binary (above 0.5),
 * several are read by their largest value, against one class index per
 * row or a one-hot row. The diagonal over the total is evaluate's
 * accuracy. */
int sq_confusion(sq_session *s, const sq_tensor *x, const sq_tensor *y, long batch_size,
                 sq_confusion_matrix *cm, sq_error *err);
void sq_confusion_free(sq_confusion_matrix *cm);
/* The matrix aligned, then each class's precision, recall and support,
 * then the accuracy; malloc'd, NULL with *err filled. */
char *sq_confusion_text(const sq_confusion_matrix *cm, sq_error *err);

/* model.save / keras.models.load_model: one file with the architecture,
 * every weight, the trainable flags and the compile settings. load
 * replaces the current model; on any error the current model stays. */
int sq_save(const sq_session *s, const char *path, sq_error *err);
int sq_load(sq_session *s, const char *path, sq_error *err);
/* The format follows the extension: DIR/NAME.json is TensorFlow.js's Layers
 * format (model.json and a weight shard beside it), FILE.h5 Keras's HDF5
 * whole-model file; anything else is seqsh's own. sq_load_noted is sq_load
 * that also fills notes (n bytes; "" when none) with what a Keras file held
 * that seqsh does not carry over, one "note: ..." line each. */
int sq_load_noted(sq_session *s, const char *path, char *notes, size_t n, sq_error *err);
/* The model for another framework: format "onnx" (FILE.onnx, opset 13,
 * input in seqsh's channels-last layout), "pytorch" or "keras" (FILE.py
 * defining a module-level `model`, its weights in FILE.npz beside it). A
 * layer the format cannot express is an error naming it; nothing is
 * written then. */
int sq_export(const sq_session *s, const char *format, const char *path, sq_error *err);
/* Adds the model saved in path as one layer (a nested Sequential). name
 * may be NULL (the saved name); trainable < 0 keeps the saved flags. */
int sq_add_model(sq_session *s, const char *path, const char *name,
                 int trainable, sq_error *err);

/* ---- pictures -------------------------------------------------------------- */

/* The model as Keras's plot_model(show_shapes=True) draws it, in Graphviz's
 * dot language: a record box per entry of model.layers ("conv2d: Conv2D"
 * over its input and output shapes) under one for the input, top to
 * bottom. malloc'd; NULL with *err filled (not built). */
char *sq_plot_dot(const sq_session *s, sq_error *err);
/* Writes that picture to path, in the format its extension names: .dot
 * (the text), .svg, .png or .pdf (laid out and drawn by Graphviz's
 * library). */
int sq_plot_model(const sq_session *s, const char *path, sq_error *err);
/* The loss and metric curves of the History (sq_history_*): one panel per
 * metric (loss, accuracy, ...) with the training values and, where there
 * are any, the validation values, against the epoch; written as .png,
 * .svg or .pdf (cairo). Fails when no epoch has finished since compile. */
int sq_plot_history(const sq_session *s, const char *path, sq_error *err);
/* The same in text for a terminal: Unicode braille (2x4 dots a character)
 * in `width` columns (at least 30), training solid and validation dotted.
 * malloc'd; NULL with *err filled. */
char *sq_history_chart(const sq_session *s, int width, sq_error *err);

/* One sample as an image: h x w pixels of 1 (grey) or 3 (RGB) bytes. */
typedef struct {
    long h, w;
    int channels;
    unsigned char *px;     /* h*w*channels bytes, row by row; owned */
    double black, white;   /* the values drawn as 0 and 255 */
} sq_image;
/* The first sample of x as an image. Without a shape (nshape 0): (B, H, W,
 * C) and (H, W, C) with C 1, 3 or 4 (alpha dropped); (B, H, W) greys;
 * (H, W) one grey image. With a shape (H, W or H, W, C), the first row of x
 * (x[0], all of x when it is 1-D) holds exactly that many values. Grey
 * values are stretched from the sample's minimum (black) to its maximum
 * (white), as matplotlib's imshow does; RGB values in [0, 1] are scaled by
 * 255, values in [0, 255] kept, any others stretched. */
int sq_image_from_tensor(const sq_tensor *x, const long *shape, int nshape, sq_image *img,
                         sq_error *err);
void sq_image_free(sq_image *img);
/* The image as terminal text: a line naming its size and value range,
 * then two pixel rows per line with Unicode half blocks: colour = 1 gives 24-bit colour escapes (upper pixel the
 * foreground of U+2580, lower the background), 0 plain shading (" ░▒▓█"
 * for the pair's mean). Wider than max_width columns it is shrunk (pixel
 * averages); small ones are enlarged by a whole factor up to about 32
 * columns. malloc'd; NULL with *err filled. */
char *sq_image_text(const sq_image *img, int max_width, int colour, sq_error *err);
/* Writes the image as PNG (cairo), each pixel scale x scale. */
int sq_image_save_png(const sq_image *img, const char *path, int scale, sq_error *err);
/* ---- many processes: data-parallel training over MPI ------------------------
 * One rank of one unless seqsh was built with MPI and started by mpirun.
 * Every rank runs the same commands; training splits each batch across the
 * ranks and sums the gradients, so the weights stay equal on every rank. */
/* Starts MPI when launched by mpirun (before anything else; may change
 * argc/argv); -1 when MPI fails to start. */
int sq_dist_init(int *argc, char ***argv);
void sq_dist_finalize(void);
/* Ends every rank at once (an unrecoverable state on one of them). */
void sq_dist_abort(int status);
int sq_dist_rank(void);
/* 1 when MPI was started (launched by mpirun, even as one rank of one). */
int sq_dist_launched(void);
int sq_dist_size(void);
/* 1 when this seqsh was built with MPI. */
int sq_dist_available(void);
/* The MPI library built in ("Open MPI v4.1.4; data-parallel training
 * under mpirun"), or a line saying there is none. */
const char *sq_dist_library(void);
/* Collective: the lowest rank whose flag is set, or -1 when none is. Every
 * rank must call it at the same point (after each command, before each
 * collective step) so that all agree on a failure or an interrupt. */
int sq_dist_first(int flag);
/* Collective: as sq_dist_first(failed), and every rank's msg (n bytes)
 * becomes the message of that lowest failing rank. */
int sq_dist_agree(int failed, char *msg, size_t n);
/* Collective: the largest v of all ranks. */
int sq_dist_max(int v);

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
/* Whether kind `wrapper` wraps another layer (Bidirectional,
 * TimeDistributed): with inner NULL, 1 if it does; with inner a kind's
 * name, 1 if it can wrap that kind (Bidirectional a recurrent one). 0 if
 * not; -1 if either kind is unknown. */
int sq_kind_wraps(const char *wrapper, const char *inner);
/* "Did you mean": the candidate nearest to word (edit distance, ignoring
 * case, within a bound that grows with the word's length), or NULL. */
const char *sq_nearest(const char *word, const char *const *cands, int n);
/* The layer kind a mistyped or foreign name most likely means, as add
 * takes it: a near class name or Keras alias ("maxpoolng2d" ->
 * "maxpooling2d"), a common short form ("maxpool" -> "maxpooling2d",
 * "linear" -> "dense", "batchnorm" -> "batchnormalization"), or, for an
 * activation's name, "activation NAME". 1 with it in buf, else 0. */
int sq_kind_suggest(const char *word, char *buf, size_t n);
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
/* `help NAME` for an activation, optimizer (its name or class), loss or
 * metric (any accepted spelling): one line for each that NAME is ("mse"
 * is a loss and a metric) saying what it is, its Keras name, defaults
 * and how to use it; then, for a loss, a metric, an initializer, a
 * regularizer, a schedule or a callback, what it computes, its arguments
 * and an example. malloc'd, NULL when NAME is none of them. */
char *sq_name_help(const char *name);
/* The same for initializers ("he_normal"; aliases "HeNormal"),
 * regularizers, learning-rate schedules and callbacks. */
const char *sq_initializer_name_at(int i, const char **aliases);
const char *sq_regularizer_name_at(int i, const char **aliases);
const char *sq_schedule_name_at(int i, const char **aliases);
const char *sq_callback_name_at(int i, const char **aliases);
/* The i-th weight option of layer kind `name` ("kernel_initializer",
 * "bias_regularizer", ..., "activity_regularizer") into buf, and in *def
 * its default ("glorot_uniform", "none"; static); -1 past the end or for
 * an unknown kind. */
int sq_kind_weight_option(const char *name, int i, char *buf, size_t n, const char **def);

#endif
