/* weight_options.c - the initializer and regularizer options every layer
 * takes for each of its weights, derived from the weights' Keras names as
 * the kind declares them (kind->weights), so a new kind gets them without
 * a line of its own: kernel -> kernel_initializer= and kernel_regularizer=,
 * bias -> bias_..., with Keras's exceptions in one table (recurrent_kernel
 * -> recurrent_initializer, ...). Weights that are not trained (moving
 * statistics) take an initializer but no regularizer, as in Keras. Every
 * layer takes activity_regularizer= (keras Layer.__init__). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "layers/layer.h"

/* Keras's option stems that are not the weight's name. */
static const struct {
    const char *weight, *stem;
} stems[] = {
    { "recurrent_kernel", "recurrent" },
    { "depthwise_kernel", "depthwise" },
    { "pointwise_kernel", "pointwise" },
};

/* Weights a boolean option of the kind can switch off, whose options Keras
 * still takes (Dense(use_bias=False, bias_initializer=...) is fine), with
 * the default they start with. */
static const struct {
    const char *option, *weight;
    int init;
} switchable[] = {
    { "use_bias", "bias", INIT_ZEROS },
    { "center", "beta", INIT_ZEROS },
    { "scale", "gamma", INIT_ONES },
};

#define NELEMS(a) (int)(sizeof(a) / sizeof *(a))

/* The option stem of a weight name ("lstm/recurrent_kernel" -> "recurrent"). */
static const char *stem_of(const char *weight)
{
    const char *slash = strrchr(weight, '/');
    const char *w = slash ? slash + 1 : weight;
    for (int i = 0; i < NELEMS(stems); i++)
        if (!strcmp(w, stems[i].weight))
            return stems[i].stem;
    return w;
}

/* The weights l would create, from a stand-in input shape (the one the
 * layer declares itself, as Embedding(input_length=4) does, else the first
 * rank from 4 down to 2 and then 5 that the kind accepts, every dimension
 * 1024): how many, with their specs in w. */
static int probe(const sq_layer *l, sq_weight_spec *w)
{
    static const int ranks[] = { 4, 3, 2, 5 };
    if (!l->kind->weights)
        return 0;
    sq_shape own, out;
    sq_error ignored;
    if (l->kind->default_input && l->kind->default_input(l, &own) == 0
        && own.rank < SQ_MAX_RANK) {
        sq_shape in = { own.rank + 1, { -1 } };
        for (int i = 0; i < own.rank; i++)
            in.d[i + 1] = own.d[i] < 0 ? 1024 : own.d[i];
        if (l->kind->output_shape(l, &in, &out, &ignored) == 0)
            return l->kind->weights(l, &in, w);
    }
    for (int r = 0; r < NELEMS(ranks); r++) {
        sq_shape in = { ranks[r], { -1, 1024, 1024, 1024, 1024 } };
        if (l->kind->output_shape(l, &in, &out, &ignored) == 0)
            return l->kind->weights(l, &in, w);
    }
    return 0;
}

/* Splits "kernel_initializer" into its stem and kind: 0 initializer, 1
 * regularizer, 2 activity_regularizer; -1 when it is neither. */
static int split_key(const char *key, char *stem, size_t n)
{
    static const char *const suffix[] = { "_initializer", "_regularizer" };
    if (!strcmp(key, "activity_regularizer"))
        return 2;
    size_t len = strlen(key);
    for (int k = 0; k < 2; k++) {
        size_t sl = strlen(suffix[k]);
        if (len > sl && !strcmp(key + len - sl, suffix[k]) && len - sl < n) {
            memcpy(stem, key, len - sl);
            stem[len - sl] = '\0';
            return k;
        }
    }
    return -1;
}

int sq_wopt_accepts(const sq_layer *l, const char *key)
{
    char stem[SQ_WOPT_NAME];
    int k = split_key(key, stem, sizeof stem);
    if (k == 2)
        return 1;
    if (k < 0)
        return 0;
    sq_weight_spec w[SQ_MAX_WEIGHTS];
    int n = probe(l, w);
    for (int i = 0; i < n; i++)
        if (!strcmp(stem_of(w[i].name), stem) && (k == 0 || w[i].trainable))
            return 1;
    for (int i = 0; i < NELEMS(switchable); i++)
        if (!strcmp(switchable[i].weight, stem) && sq_opt_index(l->kind, switchable[i].option) >= 0)
            return 1;
    return 0;
}

int sq_wopt_set(sq_layer *l, const char *key, const char *text, sq_error *err)
{
    sq_wopt o;
    memset(&o, 0, sizeof o);
    char stem[SQ_WOPT_NAME];
    int k = split_key(key, stem, sizeof stem);
    if (k < 0 || strlen(key) >= sizeof o.key)
        return sq_fail(err, "Keyword argument not understood: %s", key);
    sq_squeeze_blanks(o.text, sizeof o.text, text);
    if (strlen(o.text) + 1 >= sizeof o.text)
        return sq_fail(err, "%s: `%s` is too long", l->kind->class_name, key);
    strcpy(o.key, key);
    o.is_reg = k > 0;
    if (o.is_reg ? sq_regularizer_parse(o.text, &o.reg, err) < 0
                 : sq_initializer_parse(o.text, &o.init, err) < 0)
        return -1;
    for (int i = 0; i < l->nwopt; i++)
        if (!strcmp(l->wopt[i].key, key))
            return sq_fail(err, "%s got multiple values for argument '%s'",
                           l->kind->class_name, key);
    if (l->nwopt == SQ_MAX_WOPTS)
        return sq_fail(err, "%s: too many weight options", l->kind->class_name);
    sq_wopt *a = sq_realloc(l->wopt, (size_t)(l->nwopt + 1) * sizeof *a);
    if (!a)
        return sq_fail(err, "out of memory");
    l->wopt = a;
    l->wopt[l->nwopt++] = o;
    if (k == 2)
        l->activity = o.reg;
    return 0;
}

void sq_wopt_describe(const sq_layer *l, sbuf *b)
{
    for (int i = 0; i < l->nwopt; i++)
        sb_printf(b, " %s=%s", l->wopt[i].key, l->wopt[i].text);
}

/* A wrapper's (Bidirectional, TimeDistributed) weights are its wrapped
 * layer's, and so are their options. */
static const sq_wopt *find_opt(const sq_layer *l, const sq_weight_spec *w, const char *suffix)
{
    char key[SQ_WOPT_NAME + 16];
    snprintf(key, sizeof key, "%s%s", stem_of(w->name), suffix);
    for (; l; l = l->inner)
        for (int i = 0; i < l->nwopt; i++)
            if (!strcmp(l->wopt[i].key, key))
                return &l->wopt[i];
    return NULL;
}

const sq_initializer *sq_wopt_initializer(const sq_layer *l, const sq_weight_spec *w)
{
    const sq_wopt *o = find_opt(l, w, "_initializer");
    return o ? &o->init : NULL;
}

const sq_regularizer *sq_wopt_regularizer(const sq_layer *l, const sq_weight_spec *w)
{
    const sq_wopt *o = find_opt(l, w, "_regularizer");
    return o && w->trainable ? &o->reg : NULL;
}

int sq_layer_init_weight(const sq_layer *l, const sq_weight_spec *w, float *dst, sq_rng *rng,
                         sq_error *err)
{
    const sq_initializer *opt = sq_wopt_initializer(l, w);
    sq_initializer ini;
    if (opt)
        ini = *opt;
    else
        sq_initializer_default(w->init, &ini);
    if (sq_initializer_run(&ini, &w->shape, dst, rng, err) < 0) {
        sq_error e2 = *err;
        return sq_fail(err, "layer %s, weight %s: %s", l->name[0] ? l->name : l->kind->base_name,
                       w->name, e2.msg);
    }
    return 0;
}

/* ---- for help and completion --------------------------------------------------- */

/* The words of the example's last `add` of kind k (parentheses kept
 * whole; Embedding's example adds an LSTM after it): a layer made from
 * them, or NULL. */
static sq_layer *example_layer(const sq_layer_kind *k)
{
    if (!k->example)
        return NULL;
    const char *add = NULL;
    for (const char *p = k->example; (p = strstr(p, "add ")); p++) {
        char word[64];
        if ((p == k->example || p[-1] == ' ' || p[-1] == ';')
            && sscanf(p + 4, "%63[^; ]", word) == 1 && sq_kind_find(word) == k)
            add = p;
    }
    if (!add)
        return NULL;
    char buf[512];
    size_t len = strcspn(add, ";");
    if (len >= sizeof buf)
        return NULL;
    memcpy(buf, add, len);
    buf[len] = '\0';
    char *words[64];
    int n = 0, depth = 0;
    for (char *p = buf; *p && n < 64;) {
        while (*p == ' ' || *p == '\t')
            *p++ = '\0';
        if (!*p)
            break;
        words[n++] = p;
        for (; *p && (depth > 0 || (*p != ' ' && *p != '\t')); p++)
            depth += *p == '(' ? 1 : *p == ')' ? -1 : 0;
    }
    if (n < 2)
        return NULL;
    sq_shape ish;
    sq_error ignored;
    return sq_layer_create(k, n - 2, words + 2, &ish, &ignored);
}

int sq_layer_weight_slots(const sq_layer *l, sq_wslot *out)
{
    sq_weight_spec probed[SQ_MAX_WEIGHTS];
    const sq_weight_spec *w = l->built ? l->w : probed;
    int nw = l->built ? l->nweights : probe(l, probed), n = 0;
    for (int j = 0; j < nw; j++) {
        const char *stem = stem_of(w[j].name);
        int dup = 0;
        for (int i = 0; i < n; i++)
            dup |= !strcmp(out[i].stem, stem);
        if (dup || n == SQ_MAX_WSLOTS)
            continue;
        snprintf(out[n].stem, sizeof out[n].stem, "%s", stem);
        out[n].init = w[j].init;
        out[n++].trainable = w[j].trainable;
    }
    /* the switchable weights switched off */
    for (int i = 0; i < NELEMS(switchable) && n < SQ_MAX_WSLOTS; i++) {
        if (sq_opt_index(l->kind, switchable[i].option) < 0)
            continue;
        int have = 0;
        for (int j = 0; j < n; j++)
            have |= !strcmp(out[j].stem, switchable[i].weight);
        if (!have) {
            snprintf(out[n].stem, sizeof out[n].stem, "%s", switchable[i].weight);
            out[n].init = switchable[i].init;
            out[n++].trainable = 1;
        }
    }
    return n;
}

int sq_kind_weight_options(const sq_layer_kind *k, char (*names)[SQ_WOPT_NAME],
                           const char **defaults, int max)
{
    sq_layer *l = example_layer(k);
    int n = 0;
    if (l) {
        sq_wslot s[SQ_MAX_WSLOTS];
        int ns = sq_layer_weight_slots(l, s);
        for (int pass = 0; pass < 2; pass++)
            for (int j = 0; j < ns && n < max; j++) {
                if (pass == 1 && !s[j].trainable)
                    continue;
                /* stems are short Keras words ("moving_variance") */
                snprintf(names[n], SQ_WOPT_NAME, "%.33s%s", s[j].stem,
                         pass ? "_regularizer" : "_initializer");
                defaults[n++] = pass ? "none" : sq_init_name(s[j].init);
            }
        sq_layer_free(l);
    }
    if (n < max) {
        snprintf(names[n], SQ_WOPT_NAME, "activity_regularizer");
        defaults[n++] = "none";
    }
    return n;
}
