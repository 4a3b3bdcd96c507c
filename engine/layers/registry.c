/* layers.c - the registry of layer kinds, keyed by Keras class name, and
 * the input-spec messages every kind shares. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include "layers/layer.h"

extern const sq_layer_kind sq_kind_dense, sq_kind_conv2d, sq_kind_max_pooling2d,
    sq_kind_average_pooling2d, sq_kind_global_max_pooling2d,
    sq_kind_global_average_pooling2d, sq_kind_flatten, sq_kind_dropout,
    sq_kind_activation, sq_kind_reshape, sq_kind_batch_normalization,
    sq_kind_rescaling;
extern const sq_layer_kind sq_kind_conv1d, sq_kind_max_pooling1d, sq_kind_average_pooling1d,
    sq_kind_global_max_pooling1d, sq_kind_global_average_pooling1d, sq_kind_up_sampling1d,
    sq_kind_zero_padding1d, sq_kind_cropping1d, sq_kind_repeat_vector, sq_kind_permute,
    sq_kind_layer_normalization, sq_kind_leaky_re_lu, sq_kind_p_re_lu, sq_kind_elu,
    sq_kind_re_lu, sq_kind_softmax, sq_kind_thresholded_re_lu;
extern const sq_layer_kind sq_kind_embedding, sq_kind_masking, sq_kind_simple_rnn,
    sq_kind_lstm, sq_kind_gru, sq_kind_bidirectional, sq_kind_time_distributed;
extern const sq_layer_kind sq_kind_conv2d_transpose, sq_kind_up_sampling2d,
    sq_kind_zero_padding2d, sq_kind_cropping2d, sq_kind_separable_conv2d,
    sq_kind_depthwise_conv2d;

const sq_layer_kind *const sq_kinds[] = {
    &sq_kind_dense, &sq_kind_conv2d, &sq_kind_max_pooling2d,
    &sq_kind_average_pooling2d, &sq_kind_global_max_pooling2d,
    &sq_kind_global_average_pooling2d, &sq_kind_flatten, &sq_kind_dropout,
    &sq_kind_activation, &sq_kind_reshape, &sq_kind_batch_normalization,
    &sq_kind_rescaling,
    &sq_kind_conv1d, &sq_kind_max_pooling1d, &sq_kind_average_pooling1d,
    &sq_kind_global_max_pooling1d, &sq_kind_global_average_pooling1d, &sq_kind_up_sampling1d,
    &sq_kind_zero_padding1d, &sq_kind_cropping1d, &sq_kind_repeat_vector, &sq_kind_permute,
    &sq_kind_layer_normalization, &sq_kind_leaky_re_lu, &sq_kind_p_re_lu, &sq_kind_elu,
    &sq_kind_re_lu, &sq_kind_softmax, &sq_kind_thresholded_re_lu,
    &sq_kind_embedding, &sq_kind_masking, &sq_kind_simple_rnn, &sq_kind_lstm, &sq_kind_gru,
    &sq_kind_bidirectional, &sq_kind_time_distributed,
    &sq_kind_conv2d_transpose, &sq_kind_up_sampling2d, &sq_kind_zero_padding2d,
    &sq_kind_cropping2d, &sq_kind_separable_conv2d, &sq_kind_depthwise_conv2d,
    NULL,
};

int sq_kind_count(void)
{
    int n = 0;
    while (sq_kinds[n])
        n++;
    return n;
}

const char *sq_kind_class(int i) { return sq_kinds[i]->class_name; }
const char *sq_kind_base(int i) { return sq_kinds[i]->base_name; }

/* Lower-case without underscores: "Max_Pooling2D" -> "maxpooling2d". */
static void normalise(const char *s, char *out, size_t n)
{
    size_t k = 0;
    for (; *s && k + 1 < n; s++)
        if (*s != '_')
            out[k++] = (char)tolower((unsigned char)*s);
    out[k] = '\0';
}

const sq_layer_kind *sq_kind_find(const char *name)
{
    char want[64], have[64];
    if (strlen(name) >= sizeof want)
        return NULL;
    normalise(name, want, sizeof want);
    for (int i = 0; sq_kinds[i]; i++) {
        const sq_layer_kind *k = sq_kinds[i];
        normalise(k->class_name, have, sizeof have);
        if (!strcmp(want, have))
            return k;
        for (int j = 0; k->aliases && k->aliases[j]; j++) {
            normalise(k->aliases[j], have, sizeof have);
            if (!strcmp(want, have))
                return k;
        }
    }
    return NULL;
}

sq_mask_rule sq_mask_keep(const sq_layer *l, int in_masked)
{
    (void)l;
    (void)in_masked;
    return SQ_MASK_KEEP;
}

sq_mask_rule sq_layer_mask_rule(const sq_layer *l, int in_masked)
{
    sq_mask_rule r = l->kind->mask ? l->kind->mask(l, in_masked) : SQ_MASK_DROP;
    /* keeping nothing is having nothing */
    return r == SQ_MASK_KEEP && !in_masked ? SQ_MASK_DROP : r;
}

int sq_layer_reads_mask(const sq_layer *l)
{
    return l->kind->reads_mask || (l->inner && sq_layer_reads_mask(l->inner));
}

int sq_layer_mask_check(const sq_layer *l, const sq_shape *in, int in_masked, sq_error *err)
{
    return in_masked && l->kind->mask_check ? l->kind->mask_check(l, in, err) : 0;
}

int sq_fail_min_ndim(sq_error *err, const sq_layer *l, int min, const sq_shape *in)
{
    char s[128];
    return sq_fail(err, "Input 0 of layer %s is incompatible with the layer: : expected "
                   "min_ndim=%d, found ndim=%d. Full shape received: %s",
                   l->name, min, in->rank, sq_shape_str(in, s, sizeof s));
}

int sq_fail_ndim(sq_error *err, const sq_layer *l, int ndim, const sq_shape *in)
{
    char s[128];
    return sq_fail(err, "Input 0 of layer %s is incompatible with the layer: expected "
                   "ndim=%d, found ndim=%d. Full shape received: %s",
                   l->name, ndim, in->rank, sq_shape_str(in, s, sizeof s));
}

static const char *type_word(const sq_optdef *d)
{
    switch (d->type) {
    case OPT_INT: return "integer";
    case OPT_INTS: return d->tuple_len == 2 ? "int or (int, int)" : "int or tuple";
    case OPT_FLOAT: return "number";
    case OPT_BOOL: return "true|false";
    case OPT_ACT: return "activation";
    default: return "text";
    }
}

char *sq_kind_help(const char *name)
{
    const sq_layer_kind *k = sq_kind_find(name);
    if (!k)
        return NULL;
    sbuf b = { 0 };
    sb_printf(&b, "%s: %s\n\nusage: add %s", k->class_name, k->summary, k->base_name);
    if (k->wraps)
        sb_printf(&b, " KIND [ARGS...]");
    for (int i = 0; i < k->npositional; i++) {
        char up[64];
        size_t j = 0;
        for (const char *p = k->opts[i].name; *p && j + 1 < sizeof up; p++)
            up[j++] = (char)toupper((unsigned char)*p);
        up[j] = '\0';
        sb_printf(&b, k->opts[i].def ? " [%s]" : " %s", up);
    }
    if (k->has_activation)
        sb_printf(&b, " [ACTIVATION]");
    sb_printf(&b, " [key=value...]\n\narguments:\n");
    /* the name column fits the longest name (16 at least) */
    int w = k->states ? 17 : 16;
    for (int i = 0; k->opts && k->opts[i].name; i++)
        if (!k->opts[i].hidden && (int)strlen(k->opts[i].name) > w)
            w = (int)strlen(k->opts[i].name);
    if (k->wraps)
        sb_printf(&b, "  %-*s %-18s %s\n", w, "KIND [ARGS...]", "layer",
                  "the wrapped layer, as after `add`; every option below goes to the "
                  "wrapper, every other one to the wrapped layer");
    for (int i = 0; k->opts && k->opts[i].name; i++)
        if (!k->opts[i].hidden)
            sb_printf(&b, "  %-*s %-18s %s%s%s%s\n", w, k->opts[i].name, type_word(&k->opts[i]),
                  k->opts[i].help ? k->opts[i].help : "",
                  k->opts[i].def ? " (default " : " (required)",
                  k->opts[i].def ? k->opts[i].def : "", k->opts[i].def ? ")" : "");
    if (k->has_activation)
        sb_printf(&b, "  %-*s %-18s %s\n", w, "activation", "activation",
                  "applied to the output (default linear); see 'help activations'");
    sb_printf(&b, "  %-*s %-18s %s\n", w, "name", "text", "the layer's name (default automatic)");
    sb_printf(&b, "  %-*s %-18s %s\n", w, "input_shape", "tuple", "first layer only: input shape without the batch");
    if (k->states) {
        sb_printf(&b, "  %-*s %-18s %s\n", w, "batch_size", "integer",
                  "first layer only: a fixed batch (stateful=true needs one)");
        sb_printf(&b, "  %-*s %-18s %s\n", w, "batch_input_shape", "tuple",
                  "first layer only: input shape with a fixed batch first");
    }
    sb_printf(&b, "  %-*s %-18s %s\n", w, "trainable", "true|false", "whether training may change the weights (default true)");
    char wo[SQ_MAX_WOPTS][SQ_WOPT_NAME];
    const char *def[SQ_MAX_WOPTS];
    int nwo = sq_kind_weight_options(k, wo, def, SQ_MAX_WOPTS);
    if (nwo > 0)
        sb_printf(&b, "\nweight options (see 'help initializers' and 'help regularizers'):\n");
    for (int i = 0; i < nwo; i++)
        sb_printf(&b, "  %-22s default %s%s\n", wo[i], def[i],
                  strcmp(wo[i], "activity_regularizer") ? ""
                  : " (a penalty on the layer's output)");
    if (k->shape_rule)
        sb_printf(&b, "\nshape: %s\n", k->shape_rule);
    if (k->example)
        sb_printf(&b, "example: %s\n", k->example);
    return sb_finish(&b, NULL);
}

int sq_kind_wraps(const char *wrapper, const char *inner)
{
    const sq_layer_kind *w = sq_kind_find(wrapper);
    const sq_layer_kind *k = inner ? sq_kind_find(inner) : NULL;
    if (!w || (inner && !k))
        return -1;
    if (!w->wraps || !inner)
        return w->wraps;
    /* Bidirectional: a recurrent layer, as its configure asks */
    return w->states ? k->states && !k->wraps : 1;
}

int sq_kind_options(const char *name, const char **out, int max)
{
    const sq_layer_kind *k = sq_kind_find(name);
    if (!k)
        return -1;
    int n = 0;
    for (int i = 0; k->opts && k->opts[i].name && n < max; i++)
        if (!k->opts[i].hidden)
            out[n++] = k->opts[i].name;
    static const char *common[] = { "activation", "name", "input_shape", "trainable",
                                    "batch_size", "batch_input_shape" };
    int ncommon = k->states ? 6 : 4;
    for (int i = k->has_activation ? 0 : 1; i < ncommon && n < max; i++)
        if (sq_opt_index(k, common[i]) < 0)
            out[n++] = common[i];
    return n;
}

int sq_parse_padding(const char *s, int *same, int *causal, sq_error *err)
{
    char low[64];
    size_t i = 0;
    for (; s[i] && i + 1 < sizeof low; i++)
        low[i] = (char)tolower((unsigned char)s[i]);
    low[i] = '\0';
    *causal = !strcmp(low, "causal");
    *same = !strcmp(low, "same");
    if (!*same && !*causal && strcmp(low, "valid")) {
        static const char *const names[] = { "valid", "same", "causal" };
        char hint[96];
        return sq_fail(err, "The `padding` argument must be one of \"valid\", \"same\" "
                       "(or \"causal\", only for `Conv1D). Received: %s%s", low,
                       sq_hint(low, names, 3, hint, sizeof hint));
    }
    return 0;
}

const char *sq_tf_dim(long d, char *buf, size_t n)
{
    if (d < 0)
        snprintf(buf, n, "?");
    else
        snprintf(buf, n, "%ld", d);
    return buf;
}

long sq_pad_before(long n, long out, long dk, long s, int same)
{
    long total = (out - 1) * s + dk - n;
    return same && total > 0 ? total / 2 : 0;
}

/* The input-spec message for a layer whose weights no longer fit. */
static int fail_axis(sq_error *err, const sq_layer *l, const sq_shape *in)
{
    char s[128];
    return sq_fail(err, "Input 0 of layer %s is incompatible with the layer: expected axis -1 "
                   "of input shape to have value %ld but received input with shape %s",
                   l->name, l->in_shape.d[l->in_shape.rank - 1], sq_shape_str(in, s, sizeof s));
}

int sq_layer_infer(const sq_layer *l, const sq_shape *in, sq_shape *out,
                 sq_weight_spec *w, int *nw, sq_error *err)
{
    if (l->kind->output_shape(l, in, out, err) < 0)
        return -1;
    *nw = l->kind->weights ? l->kind->weights(l, in, w) : 0;
    if (!l->built)
        return 0;
    if (*nw != l->nweights)
        return fail_axis(err, l, in);
    for (int j = 0; j < *nw; j++)
        if (!sq_shape_eq(&w[j].shape, &l->w[j].shape))
            return fail_axis(err, l, in);
    return 0;
}

int sq_layer_check_input(const sq_layer *l, const sq_shape *in, sq_shape *out,
                         sq_error *err)
{
    sq_weight_spec w[SQ_MAX_WEIGHTS];
    int nw;
    return sq_layer_infer(l, in, out, w, &nw, err);
}

int sq_kind_weight_option(const char *name, int i, char *buf, size_t n, const char **def)
{
    const sq_layer_kind *k = sq_kind_find(name);
    char wo[SQ_MAX_WOPTS][SQ_WOPT_NAME];
    const char *d[SQ_MAX_WOPTS];
    if (!k)
        return -1;
    int nwo = sq_kind_weight_options(k, wo, d, SQ_MAX_WOPTS);
    if (i < 0 || i >= nwo)
        return -1;
    snprintf(buf, n, "%s", wo[i]);
    if (def)
        *def = d[i];
    return 0;
}
