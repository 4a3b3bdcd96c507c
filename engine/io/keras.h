/* keras.h - Keras's model description (the `model_config` JSON that both the
 * TF.js Layers format and Keras's HDF5 files hold) to and from seqsh models,
 * and what the readers and writers of those formats share (engine-internal).
 *
 * The conversion is table-driven: each seqsh layer kind converts through
 * its option table (seqsh's option names are Keras's argument names), and
 * a kind whose Keras config needs more than that has one entry in the table
 * of keras_kinds.c (other class names, keys with fixed values, keys read
 * and dropped, options written as int lists). */
#ifndef SEQSH_KERAS_H
#define SEQSH_KERAS_H

#include <jansson.h>
#include "model.h"

/* Bounds on what a model file may make the readers do. */
#define KERAS_JSON_MAX_BYTES (64u << 20)   /* a model.json or model_config */
#define KERAS_JSON_MAX_DEPTH 64            /* nesting of [ and { */
#define KERAS_MAX_LAYERS 100000
#define KERAS_MAX_WEIGHTS 1000000          /* manifest entries */

/* Which format a config is written for: what each one can express differs
 * (TF.js Layers lacks some activations). */
typedef enum { KERAS_FMT_TFJS, KERAS_FMT_H5 } keras_fmt;

/* One stored weight a reader found: its full name as stored ("dense/kernel",
 * "lstm/lstm_cell/kernel:0", "sequential/dense/kernel") and shape. The
 * reader fills data when asked (load). */
typedef struct {
    char *name;
    sq_shape shape;           /* rank 0..SQ_MAX_RANK, no batch */
    int used;                 /* matched to a layer weight */
    const char *group;        /* h5: the layer group it sits in, or NULL */
    int index;                /* its position in that group */
    void *ref;                /* the reader's own handle */
} keras_stored;

typedef struct {
    keras_stored *w;
    int n;
    /* Copies stored weight i (count floats) into dst. */
    int (*load)(void *ctx, const keras_stored *w, float *dst, size_t count, sq_error *err);
    void *ctx;
} keras_weights;

/* jansson through the engine's heap (fault injection, memory limit). */
void keras_json_init(void);
/* Parses JSON text of len bytes: size and nesting bounded, duplicate keys
 * refused. `what` names the text in errors ("'m/model.json'"). */
json_t *keras_json_parse(const char *text, size_t len, const char *what, sq_error *err);

/* A new model from a Keras Sequential `model_config` (the object with
 * class_name and config), its weights taken from ws by name (NULL: no
 * weights, the model must then hold none). training_config (or NULL)
 * becomes the compile settings where seqsh supports them; anything not
 * carried over is described in notes. `path` names the file in errors.
 * Returns NULL with err filled. */
sq_model *keras_model_from_config(json_t *model_config, json_t *training_config,
                                  const char *keras_version, keras_weights *ws,
                                  const char *path, sbuf *notes, sq_error *err);

/* The `model_config` object for m (new reference), or NULL with err
 * naming a layer the format cannot express. */
json_t *keras_model_config(const sq_model *m, keras_fmt fmt, sq_error *err);
/* The `training_config` object for m's compile settings, or NULL (not
 * compiled, or a setting Keras cannot hold). */
json_t *keras_training_config(const sq_model *m);

/* Keras's names for m's weights, in model order: "LAYER/WEIGHT" (a nested
 * model's layers by their own names). names[i] is malloc'd; free with
 * keras_names_free. *entry[i] (may be NULL) gets the model.layers entry the
 * weight belongs to. */
int keras_weight_names(const sq_model *m, char ***names, int **entry, int *n,
                       sq_error *err);
void keras_names_free(char **names, int n);

/* ---- the kinds table (keras_kinds.c) ------------------------------------ */

typedef struct {
    const char *kind;         /* seqsh class name: "MaxPooling2D" */
    const char *keras;        /* Keras class written on save (NULL: kind) */
    const char *aliases;      /* other Keras class names read, blank-separated */
    const char *fixed;        /* "key=json ..." values seqsh assumes; checked on
                                 load, written on save */
    const char *dropped;      /* keys read and dropped (training-only, no effect) */
    const char *tuples;       /* OPT_STR options written as int lists */
    const char *tfjs_lacks;   /* options TF.js Layers does not have: left out,
                                 and an error unless at their default */
    const char *nulls;        /* options whose default Keras writes as null (an
                                 OPT_STR "None", an OPT_INT 0) */
    const char *numbers;      /* OPT_STR options written as JSON numbers */
    const char *absent;       /* "key=value ..." words for keys a file lacks
                                 (GRU's reset_after, absent before Keras 2.1.3
                                 and in TF.js's configs, means false) */
    const char *renames;      /* "keras_key:option ..." other spellings read
                                 (Keras 3's LeakyReLU negative_slope) */
    const char *margins;      /* OPT_STR options holding 2-D margins (an int,
                                 (a, b) or ((t, b), (l, r))): written as
                                 [[t, b], [l, r]], read in any of the forms */
    int no_tfjs;              /* TF.js Layers 4.22 has no such layer */
    int no_activity;          /* Keras's config has no activity_regularizer key */
    /* A value the format cannot hold (TF.js's GRU has no reset_after=true):
     * -1 with err naming the layer; NULL = none. */
    int (*check)(const sq_layer *l, keras_fmt fmt, sq_error *err);
} keras_kind;

/* The entry for a Keras class name, or NULL. */
const keras_kind *keras_kind_by_class(const char *keras_class);
/* The entry for a seqsh kind, or NULL (the kind converts generically). */
const keras_kind *keras_kind_by_kind(const char *seqsh_class);
/* Whether `key` is listed in a blank-separated list. */
int keras_in_list(const char *list, const char *key);
/* A seqsh activation for a Keras activation value (a name in snake or
 * camel case, or an object): fills name (>= 32 bytes); -1 with err. */
int keras_activation_in(json_t *v, int keras3, const char *layer, char *name, sq_error *err);
/* The Keras name of seqsh activation `a` in format fmt, or NULL when the
 * format has no such activation. */
const char *keras_activation_out(int a, keras_fmt fmt);
/* "the TF.js Layers format" or "Keras's HDF5 format", for messages. */
const char *keras_fmt_name(keras_fmt fmt);
/* For a Keras layer class seqsh lacks: a sentence naming the nearest kind
 * seqsh has ("the nearest seqsh kind is Conv2D"). */
void keras_nearest_kind(const char *keras_class, char *buf, size_t n);

/* ---- weight options (keras_wopts.c) -------------------------------------- */

/* Adds layer l's weight options to its config cfg as Keras 2.6 writes them
 * (TF.js 4.22 for KERAS_FMT_TFJS): every weight's STEM_initializer (the
 * option's, or the kind's default), a trained weight's STEM_regularizer
 * and STEM_constraint (null when none), activity_regularizer; nothing for
 * a wrapper (its wrapped layer's config holds them). -1 with err naming
 * the layer when the format cannot hold one. kk may be NULL. */
int keras_wopts_write(const sq_layer *l, const keras_kind *kk, keras_fmt fmt, json_t *cfg,
                      sq_error *err);
/* Sets on l, just created from config cfg (named lname, in file path), the
 * weight options cfg's *_initializer and *_regularizer keys hold in any
 * Keras or TF.js form, except those equal to l's defaults; one seqsh
 * lacks (a class, a weight) is left out with a line in notes. -1 with err
 * for a value that is not an initializer or regularizer. */
int keras_wopts_read(sq_layer *l, json_t *cfg, const char *lname, const char *path,
                     sbuf *notes, sq_error *err);

#endif
