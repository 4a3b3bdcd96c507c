/* keras_kinds.c - how each seqsh layer kind meets Keras's layer configs: the
 * table of kinds whose Keras config needs more than their option table
 * (seqsh's option names are already Keras's argument names), activations by
 * Keras's names and objects, and the nearest kind for a class seqsh lacks.
 *
 * A kind added later converts with no entry at all when its options are
 * Keras's arguments; otherwise it needs one line below. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "io/keras.h"

const char *keras_fmt_name(keras_fmt fmt)
{
    return fmt == KERAS_FMT_TFJS ? "the TF.js Layers format" : "Keras's HDF5 format";
}

static const sq_optval *optv(const sq_layer *l, const char *name)
{
    int i = sq_opt_index(l->kind, name);
    return i >= 0 ? &l->opt[i] : NULL;
}

/* TF.js 4.22 throws for these (keras-layers-wave2.md, Keras 2.6 against
 * tfjs): Conv1D's causal padding, ELU's alpha other than 1, GRU's
 * reset_after=true. */
static int conv1d_check(const sq_layer *l, keras_fmt fmt, sq_error *err)
{
    if (fmt == KERAS_FMT_TFJS && !strcasecmp(optv(l, "padding")->s, "causal"))
        return sq_fail(err, "layer %s (Conv1D): padding=causal cannot be expressed in %s "
                       "(TensorFlow.js's Conv1D has no causal padding)", l->name,
                       keras_fmt_name(fmt));
    return 0;
}

static int elu_check(const sq_layer *l, keras_fmt fmt, sq_error *err)
{
    double a = optv(l, "alpha")->f;
    if (fmt == KERAS_FMT_TFJS && a != 1.0)
        return sq_fail(err, "layer %s (ELU): alpha=%g cannot be expressed in %s "
                       "(TensorFlow.js's ELU layer takes only alpha=1)", l->name, a,
                       keras_fmt_name(fmt));
    return 0;
}

static int gru_check(const sq_layer *l, keras_fmt fmt, sq_error *err)
{
    if (fmt == KERAS_FMT_TFJS && optv(l, "reset_after")->i[0])
        return sq_fail(err, "layer %s (GRU): reset_after=true cannot be expressed in %s "
                       "(TensorFlow.js's GRU has only reset_after=false)", l->name,
                       keras_fmt_name(fmt));
    return 0;
}

static int softmax_check(const sq_layer *l, keras_fmt fmt, sq_error *err)
{
    long ax = optv(l, "axis")->i[0];
    if (fmt == KERAS_FMT_TFJS && ax != -1 && !(l->built && ax == l->in_shape.rank - 1))
        return sq_fail(err, "layer %s (Softmax): axis=%ld cannot be expressed in %s "
                       "(TensorFlow.js's softmax runs along the last axis only)", l->name, ax,
                       keras_fmt_name(fmt));
    return 0;
}

/* TF.js 4.22's Conv2DTranspose computes its output size without
 * output_padding and calls conv2dTranspose without dilation, its
 * DepthwiseConv2D passes no dilation either, and its UpSampling2D resizes
 * bilinearly without half-pixel centres (tf.image.resizeBilinear's
 * default), where Keras 2.6 uses them: such a layer would load there and
 * compute something else. */
static int no_tfjs_dilation(const sq_layer *l, keras_fmt fmt, const char *why, sq_error *err)
{
    const long *d = optv(l, "dilation_rate")->i;
    if (fmt == KERAS_FMT_TFJS && (d[0] != 1 || d[1] != 1))
        return sq_fail(err, "layer %s (%s): dilation_rate=(%ld, %ld) cannot be expressed in %s "
                       "(%s)", l->name, l->kind->class_name, d[0], d[1], keras_fmt_name(fmt),
                       why);
    return 0;
}

static int conv2d_transpose_check(const sq_layer *l, keras_fmt fmt, sq_error *err)
{
    const char *op = optv(l, "output_padding")->s;
    if (fmt == KERAS_FMT_TFJS && strcasecmp(op, "None"))
        return sq_fail(err, "layer %s (Conv2DTranspose): output_padding=%s cannot be expressed "
                       "in %s (TensorFlow.js's Conv2DTranspose has no output_padding)", l->name,
                       op, keras_fmt_name(fmt));
    return no_tfjs_dilation(l, fmt, "TensorFlow.js's Conv2DTranspose ignores dilation_rate",
                            err);
}

static int depthwise_check(const sq_layer *l, keras_fmt fmt, sq_error *err)
{
    return no_tfjs_dilation(l, fmt, "TensorFlow.js's DepthwiseConv2D ignores dilation_rate", err);
}

static int up_sampling2d_check(const sq_layer *l, keras_fmt fmt, sq_error *err)
{
    if (fmt == KERAS_FMT_TFJS && !strcmp(optv(l, "interpolation")->s, "bilinear"))
        return sq_fail(err, "layer %s (UpSampling2D): interpolation=bilinear cannot be "
                       "expressed in %s (TensorFlow.js's bilinear resize has no half-pixel "
                       "centres, Keras 2.6's has: the outputs would differ)", l->name,
                       keras_fmt_name(fmt));
    return 0;
}

/* One line per kind whose config differs from its option table. `fixed`
 * values are JSON; a key absent or null in a file means Keras's default,
 * which is what seqsh computes. */
#define RNN_DROPPED "implementation seed use_cudnn"
static const keras_kind kinds[] = {
    { .kind = "Dense" },
    { .kind = "Conv2D", .aliases = "Convolution2D",
      .fixed = "data_format=\"channels_last\" groups=1" },
    { .kind = "MaxPooling2D", .aliases = "MaxPool2D",
      .fixed = "data_format=\"channels_last\"" },
    { .kind = "AveragePooling2D", .aliases = "AvgPool2D",
      .fixed = "data_format=\"channels_last\"" },
    { .kind = "GlobalMaxPooling2D", .aliases = "GlobalMaxPool2D",
      .fixed = "data_format=\"channels_last\"", .tfjs_lacks = "keepdims" },
    { .kind = "GlobalAveragePooling2D", .aliases = "GlobalAvgPool2D",
      .fixed = "data_format=\"channels_last\"", .tfjs_lacks = "keepdims" },
    { .kind = "Flatten", .fixed = "data_format=\"channels_last\"" },
    { .kind = "Dropout", .fixed = "noise_shape=null", .dropped = "seed" },
    { .kind = "Activation" },
    { .kind = "Reshape", .tuples = "target_shape" },
    { .kind = "BatchNormalization",
      .aliases = "BatchNormalizationV1 BatchNormalizationV2 SyncBatchNormalization",
      .fixed = "renorm=false virtual_batch_size=null adjustment=null synchronized=false",
      .dropped = "fused renorm_clipping renorm_momentum", .no_activity = 1 },
    { .kind = "Rescaling" },
    { .kind = "Conv1D", .aliases = "Convolution1D",
      .fixed = "data_format=\"channels_last\" groups=1", .check = conv1d_check },
    { .kind = "MaxPooling1D", .aliases = "MaxPool1D",
      .fixed = "data_format=\"channels_last\"" },
    { .kind = "AveragePooling1D", .aliases = "AvgPool1D",
      .fixed = "data_format=\"channels_last\"" },
    { .kind = "GlobalMaxPooling1D", .aliases = "GlobalMaxPool1D",
      .fixed = "data_format=\"channels_last\"", .tfjs_lacks = "keepdims" },
    { .kind = "GlobalAveragePooling1D", .aliases = "GlobalAvgPool1D",
      .fixed = "data_format=\"channels_last\"", .tfjs_lacks = "keepdims" },
    { .kind = "UpSampling1D", .no_tfjs = 1 },
    { .kind = "ZeroPadding1D", .no_tfjs = 1 },
    { .kind = "Cropping1D", .no_tfjs = 1 },
    { .kind = "RepeatVector" },
    { .kind = "Permute", .tuples = "dims" },
    { .kind = "LayerNormalization", .tuples = "axis", .fixed = "rms_scaling=false",
      .no_activity = 1 },
    { .kind = "LeakyReLU", .renames = "negative_slope:alpha" },
    { .kind = "PReLU", .tuples = "shared_axes", .nulls = "shared_axes", .no_activity = 1 },
    { .kind = "ELU", .check = elu_check },
    { .kind = "ReLU", .nulls = "max_value", .numbers = "max_value",
      .tfjs_lacks = "negative_slope threshold" },
    { .kind = "Softmax", .check = softmax_check },
    { .kind = "ThresholdedReLU" },
    { .kind = "Embedding", .nulls = "input_length", .dropped = "lora_rank" },
    { .kind = "Masking" },
    { .kind = "SimpleRNN", .fixed = "time_major=false", .dropped = RNN_DROPPED },
    { .kind = "LSTM", .fixed = "time_major=false",
      .dropped = RNN_DROPPED },
    { .kind = "GRU", .fixed = "time_major=false",
      .dropped = RNN_DROPPED, .absent = "reset_after=false", .check = gru_check },
    { .kind = "Bidirectional", .nulls = "merge_mode" },
    { .kind = "TimeDistributed" },
    { .kind = "Conv2DTranspose", .aliases = "Convolution2DTranspose",
      .fixed = "data_format=\"channels_last\" groups=1", .nulls = "output_padding",
      .tuples = "output_padding", .check = conv2d_transpose_check },
    { .kind = "UpSampling2D", .fixed = "data_format=\"channels_last\"",
      .check = up_sampling2d_check },
    { .kind = "ZeroPadding2D", .fixed = "data_format=\"channels_last\"", .margins = "padding" },
    { .kind = "Cropping2D", .fixed = "data_format=\"channels_last\"", .margins = "cropping" },
    { .kind = "SeparableConv2D", .aliases = "SeparableConvolution2D",
      .fixed = "data_format=\"channels_last\" groups=1" },
    { .kind = "DepthwiseConv2D", .fixed = "data_format=\"channels_last\" groups=1",
      .check = depthwise_check },
};

int keras_in_list(const char *list, const char *key)
{
    size_t k = strlen(key);
    for (const char *p = list; p && *p;) {
        while (*p == ' ')
            p++;
        size_t len = strcspn(p, " =");
        if (len == k && !strncmp(p, key, k))
            return 1;
        p += len;
        while (*p && *p != ' ')
            p++;
    }
    return 0;
}

const keras_kind *keras_kind_by_class(const char *cls)
{
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (!strcmp(kinds[i].kind, cls) || (kinds[i].keras && !strcmp(kinds[i].keras, cls))
            || keras_in_list(kinds[i].aliases, cls))
            return &kinds[i];
    return NULL;
}

const keras_kind *keras_kind_by_kind(const char *seqsh_class)
{
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (!strcmp(kinds[i].kind, seqsh_class))
            return &kinds[i];
    return NULL;
}

/* ---- activations --------------------------------------------------------- */

/* "hardSigmoid" -> "hard_sigmoid" (TF.js writes camel case in places). */
static void snake(const char *s, char *out, size_t n)
{
    size_t k = 0;
    for (; *s && k + 2 < n; s++) {
        if (isupper((unsigned char)*s)) {
            if (k)
                out[k++] = '_';
            out[k++] = (char)tolower((unsigned char)*s);
        } else {
            out[k++] = *s;
        }
    }
    out[k] = '\0';
}

static double num(json_t *v, double def)
{
    return json_is_number(v) ? json_number_value(v) : def;
}

/* The activation an activation *layer* object computes, or NULL. */
static const char *activation_layer(const char *cls, json_t *cfg)
{
    if (!strcmp(cls, "ReLU")) {
        json_t *mv = json_object_get(cfg, "max_value");
        double slope = num(json_object_get(cfg, "negative_slope"), 0);
        double thr = num(json_object_get(cfg, "threshold"), 0);
        if (slope != 0 || thr != 0)
            return NULL;
        if (!mv || json_is_null(mv))
            return "relu";
        return num(mv, -1) == 6 ? "relu6" : NULL;
    }
    if (!strcmp(cls, "Softmax")) {
        json_t *ax = json_object_get(cfg, "axis");
        if (ax && !json_is_null(ax) && num(ax, 0) != -1
            && !(json_is_array(ax) && json_array_size(ax) == 1
                 && num(json_array_get(ax, 0), 0) == -1))
            return NULL;
        return "softmax";
    }
    if (!strcmp(cls, "LeakyReLU")) {
        json_t *a = json_object_get(cfg, "alpha");
        if (!a)
            a = json_object_get(cfg, "negative_slope");
        /* the layer's default is 0.3; seqsh's leaky_relu is tf.nn's 0.2 */
        return a && fabs(num(a, 0) - 0.2) < 1e-7 ? "leaky_relu" : NULL;
    }
    if (!strcmp(cls, "ELU"))
        return num(json_object_get(cfg, "alpha"), 1) == 1 ? "elu" : NULL;
    return NULL;
}

int keras_activation_in(json_t *v, int keras3, const char *layer, char *name, sq_error *err)
{
    char buf[64];
    if (!v || json_is_null(v)) {
        strcpy(name, "linear");
        return 0;
    }
    if (json_is_object(v)) {
        json_t *cls = json_object_get(v, "class_name"), *cfg = json_object_get(v, "config");
        if (!json_is_string(cls))
            return sq_fail(err, "layer %s: an activation object without a class_name", layer);
        const char *c = json_string_value(cls);
        if (!strcmp(c, "function") || !strcmp(c, "Activation")) {
            if (json_is_object(cfg))
                cfg = json_object_get(cfg, "activation");
            return keras_activation_in(cfg, keras3, layer, name, err);
        }
        const char *a = activation_layer(c, cfg);
        if (!a)
            return sq_fail(err, "layer %s: activation %s with these settings has no seqsh "
                           "equivalent (seqsh's activations: 'help activations')", layer, c);
        strcpy(name, a);
        return 0;
    }
    if (!json_is_string(v))
        return sq_fail(err, "layer %s: activation must be a name or an object", layer);
    snake(json_string_value(v), buf, sizeof buf);
    if (keras3 && !strcmp(buf, "hard_sigmoid"))
        return sq_fail(err, "layer %s: Keras 3's hard_sigmoid is relu6(x + 3) / 6, not Keras 2's "
                       "clip(0.2x + 0.5, 0, 1) that seqsh computes", layer);
    if (sq_activation_find(buf) < 0)
        return sq_fail(err, "layer %s: unknown activation '%s' (seqsh's activations: 'help "
                       "activations')", layer, json_string_value(v));
    strcpy(name, buf);
    return 0;
}

const char *keras_activation_out(int a, keras_fmt fmt)
{
    const char *n = sq_activation_name(a);
    if (!n)
        return NULL;
    if (!strcmp(n, "silu"))
        return "swish";       /* the same function under the name both know */
    /* TF.js Layers 4.22 has no exponential nor leaky_relu activation */
    if (fmt == KERAS_FMT_TFJS && (!strcmp(n, "exponential") || !strcmp(n, "leaky_relu")))
        return NULL;
    return n;
}

/* ---- the nearest kind --------------------------------------------------- */

/* Lower case, no underscores, without a trailing "1d"/"2d"/"3d" and the
 * words that vary a family ("Conv1DTranspose" -> "conv"). */
static void stem(const char *s, char *out, size_t n)
{
    size_t k = 0;
    for (; *s && k + 1 < n; s++)
        if (*s != '_')
            out[k++] = (char)tolower((unsigned char)*s);
    out[k] = '\0';
    static const char *const drop[] = { "transpose", "separable", "depthwise" };
    for (size_t i = 0; i < sizeof drop / sizeof drop[0]; i++) {
        char *p = strstr(out, drop[i]);
        if (p)
            memmove(p, p + strlen(drop[i]), strlen(p + strlen(drop[i])) + 1);
    }
    k = strlen(out);
    if (k >= 2 && out[k - 1] == 'd' && isdigit((unsigned char)out[k - 2]))
        out[k - 2] = '\0';
}

static int edit_distance(const char *a, const char *b)
{
    int la = (int)strlen(a), lb = (int)strlen(b);
    if (la > 63 || lb > 63)
        return 99;
    int d[64][64];
    for (int i = 0; i <= la; i++)
        d[i][0] = i;
    for (int j = 0; j <= lb; j++)
        d[0][j] = j;
    for (int i = 1; i <= la; i++)
        for (int j = 1; j <= lb; j++) {
            int c = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < c)
                c = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < c)
                c = d[i][j - 1] + 1;
            d[i][j] = c;
        }
    return d[la][lb];
}

void keras_nearest_kind(const char *cls, char *buf, size_t n)
{
    char want[64], have[64];
    const char *best = NULL;
    int bestd = 4;
    stem(cls, want, sizeof want);
    for (int i = 0; i < sq_kind_count(); i++) {
        stem(sq_kind_class(i), have, sizeof have);
        int d = strcmp(want, have) ? edit_distance(want, have) : 0;
        if (d < bestd) {
            bestd = d;
            best = sq_kind_class(i);
        }
    }
    /* families whose names share nothing */
    static const char *const family[][2] = {
        { "normalization", "BatchNormalization" }, { "dropout", "Dropout" },
        { "relu", "Activation" }, { "softmax", "Activation" }, { "elu", "Activation" },
        { "pooling", "MaxPooling2D" }, { "conv", "Conv2D" }, { "permute", "Reshape" },
    };
    for (size_t i = 0; !best && i < sizeof family / sizeof family[0]; i++)
        if (strstr(want, family[i][0]) && sq_kind_find(family[i][1]))
            best = family[i][1];
    if (best)
        snprintf(buf, n, "; the nearest kind seqsh has is %s", best);
    else
        snprintf(buf, n, "; 'help layers' lists the kinds seqsh has");
}
