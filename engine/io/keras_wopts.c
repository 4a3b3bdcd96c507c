/* keras_wopts.c - a layer's weight options (kernel_initializer=,
 * bias_regularizer=, activity_regularizer=, ...) as Keras's serialized
 * initializers and regularizers, both ways.
 *
 * Written as Keras 2.6 writes them (initializers_v2 and regularizers
 * get_config): {"class_name": "GlorotUniform", "config": {"seed": null}},
 * {"class_name": "L2", "config": {"l2": 0.009999999776482582}} (the factor
 * a float32, widened), every weight's initializer (its default when none
 * was given), a trained weight's regularizer and constraint (null when
 * none), activity_regularizer. TF.js 4.22 registers fewer classes, and
 * its model.json gets what TF.js itself writes: the VarianceScaling family
 * (glorot, he, lecun) as VarianceScaling, "normal" for a truncated normal,
 * every regularizer as L1L2; what it cannot construct (an activity
 * regularizer: "Layer invocation in the presence of activity
 * regularizer(s) is not supported yet") is refused naming the layer.
 *
 * Read from every form: Keras 2.x and 3 objects, TF.js's, and names
 * ("he_normal", "l2"). What equals the weight's default is left unset, as
 * a layer the user added without it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "io/keras.h"

/* Keras's class for each seqsh initializer, and where it belongs to the
 * VarianceScaling family its scale, mode (0 fan_in, 1 fan_out, 2 fan_avg)
 * and distribution (0 truncated normal, 2 uniform). */
static const struct {
    int kind;
    const char *cls;
    double scale;
    int mode, dist;
} classes[] = {
    { INIT_GLOROT_UNIFORM, "GlorotUniform", 1, 2, 2 },
    { INIT_GLOROT_NORMAL, "GlorotNormal", 1, 2, 0 },
    { INIT_HE_NORMAL, "HeNormal", 2, 0, 0 },
    { INIT_HE_UNIFORM, "HeUniform", 2, 0, 2 },
    { INIT_LECUN_NORMAL, "LecunNormal", 1, 0, 0 },
    { INIT_LECUN_UNIFORM, "LecunUniform", 1, 0, 2 },
    { INIT_ORTHOGONAL, "Orthogonal", 0, -1, -1 },
    { INIT_ZEROS, "Zeros", 0, -1, -1 },
    { INIT_ONES, "Ones", 0, -1, -1 },
    { INIT_CONSTANT, "Constant", 0, -1, -1 },
    { INIT_RANDOM_NORMAL, "RandomNormal", 0, -1, -1 },
    { INIT_RANDOM_UNIFORM, "RandomUniform", 0, -1, -1 },
    { INIT_TRUNCATED_NORMAL, "TruncatedNormal", 0, -1, -1 },
    { INIT_VARIANCE_SCALING, "VarianceScaling", 0, -1, -1 },
    { INIT_IDENTITY, "Identity", 0, -1, -1 },
};
#define NCLASSES (int)(sizeof classes / sizeof *classes)

static const char *const modes[] = { "fan_in", "fan_out", "fan_avg" };

static json_t *seed_json(const sq_initializer *ini)
{
    return ini->seeded ? json_integer((json_int_t)ini->seed) : json_null();
}

/* ---- writing ---------------------------------------------------------------- */

/* Whether built layer l has a weight of option stem `stem` that is not a
 * square matrix. */
static int not_square(const sq_layer *l, const char *stem)
{
    for (int j = 0; l->built && j < l->nweights; j++) {
        const char *slash = strrchr(l->w[j].name, '/');
        const char *w = slash ? slash + 1 : l->w[j].name;
        size_t n = strlen(stem);
        const sq_shape *sh = &l->w[j].shape;
        if (!strncmp(w, stem, n) && (!w[n] || w[n] == '_')
            && (sh->rank != 2 || sh->d[0] != sh->d[1]))
            return 1;
    }
    return 0;
}

/* ini as a serialized initializer for fmt; NULL with err (naming the
 * layer and key) when fmt cannot hold it, or out of memory. */
static json_t *initializer_json(const sq_initializer *ini, keras_fmt fmt, const sq_layer *l,
                                const char *key, sq_error *err)
{
    int c = -1;
    for (int i = 0; i < NCLASSES && c < 0; i++)
        if (classes[i].kind == (ini->kind == INIT_FORGET_BIAS ? INIT_ZEROS : ini->kind))
            c = i;
    if (c < 0) {
        sq_fail(err, "internal: initializer %d has no Keras class", ini->kind);
        return NULL;
    }
    const char *cls = classes[c].cls;
    json_t *cfg = NULL;
    double scale = ini->a;
    int mode = ini->mode, dist = ini->dist;
    if (classes[c].mode >= 0) {
        scale = classes[c].scale;
        mode = classes[c].mode;
        dist = classes[c].dist;
    }
    char text[256];
    const char *why = NULL;
    if (fmt == KERAS_FMT_TFJS && ini->kind == INIT_ORTHOGONAL && ini->seeded)
        why = "TensorFlow.js's Orthogonal takes no seed";
    if (fmt == KERAS_FMT_TFJS && ini->kind == INIT_VARIANCE_SCALING && dist == 1)
        why = "TensorFlow.js's VarianceScaling has no untruncated_normal";
    if (fmt == KERAS_FMT_TFJS && ini->kind == INIT_IDENTITY) {
        char stem[SQ_WOPT_NAME];
        snprintf(stem, sizeof stem, "%.*s", (int)(strlen(key) - strlen("_initializer")), key);
        if (not_square(l, stem))
            why = "TensorFlow.js's Identity builds square matrices only";
    }
    if (why) {
        sq_initializer_text(ini, text, sizeof text);
        sq_fail(err, "layer %s (%s): %s=%s cannot be expressed in %s (%s)", l->name,
                l->kind->class_name, key, text, keras_fmt_name(fmt), why);
        return NULL;
    }
    if (classes[c].mode >= 0 || ini->kind == INIT_VARIANCE_SCALING) {
        if (fmt == KERAS_FMT_TFJS) {
            /* what TF.js writes: its 'normal' is a truncated normal */
            cls = "VarianceScaling";
            cfg = json_pack("{s:f,s:s,s:s,s:o}", "scale", scale, "mode", modes[mode],
                            "distribution", dist == 2 ? "uniform" : "normal", "seed",
                            seed_json(ini));
        } else if (ini->kind == INIT_VARIANCE_SCALING) {
            static const char *const dists[] = { "truncated_normal", "untruncated_normal",
                                                 "uniform" };
            cfg = json_pack("{s:f,s:s,s:s,s:o}", "scale", scale, "mode", modes[mode],
                            "distribution", dists[dist], "seed", seed_json(ini));
        } else {
            cfg = json_pack("{s:o}", "seed", seed_json(ini));
        }
    } else {
        switch (ini->kind) {
        case INIT_ORTHOGONAL:
            cfg = json_pack("{s:f,s:o}", "gain", ini->a, "seed", seed_json(ini));
            break;
        case INIT_IDENTITY:
            cfg = json_pack("{s:f}", "gain", ini->a);
            break;
        case INIT_CONSTANT:
            cfg = json_pack("{s:f}", "value", ini->a);
            break;
        case INIT_RANDOM_NORMAL:
        case INIT_TRUNCATED_NORMAL:
            cfg = json_pack("{s:f,s:f,s:o}", "mean", ini->a, "stddev", ini->b, "seed",
                            seed_json(ini));
            break;
        case INIT_RANDOM_UNIFORM:
            cfg = json_pack("{s:f,s:f,s:o}", "minval", ini->a, "maxval", ini->b, "seed",
                            seed_json(ini));
            break;
        default:
            cfg = json_object();   /* Zeros, Ones */
            break;
        }
    }
    json_t *out = cfg ? json_pack("{s:s,s:o}", "class_name", cls, "config", cfg) : NULL;
    if (!out)
        sq_fail(err, "out of memory");
    return out;
}

/* A factor as fmt writes it: Keras 2.6 the float32 widened (float(self.l2)),
 * TF.js the number typed, which float32's shortest text is. */
static json_t *factor_json(double v, keras_fmt fmt)
{
    char t[32];
    if (fmt == KERAS_FMT_H5)
        return json_real((double)(float)v);
    for (int p = 1; p <= 9; p++) {
        snprintf(t, sizeof t, "%.*g", p, v);
        if ((float)strtod(t, NULL) == (float)v)
            break;
    }
    return json_real(strtod(t, NULL));
}

/* r as a serialized regularizer for fmt, or NULL (out of memory). */
static json_t *regularizer_json(const sq_regularizer *r, keras_fmt fmt)
{
    json_t *cfg;
    const char *cls;
    if (fmt == KERAS_FMT_TFJS || r->form == SQ_REG_L1L2) {
        cls = "L1L2";   /* TF.js 4.22 registers no other */
        cfg = json_pack("{s:o,s:o}", "l1", factor_json(r->l1, fmt), "l2",
                        factor_json(r->l2, fmt));
    } else if (r->form == SQ_REG_L1) {
        cls = "L1";
        cfg = json_pack("{s:o}", "l1", factor_json(r->l1, fmt));
    } else {
        cls = "L2";
        cfg = json_pack("{s:o}", "l2", factor_json(r->l2, fmt));
    }
    return cfg ? json_pack("{s:s,s:o}", "class_name", cls, "config", cfg) : NULL;
}

static const sq_wopt *find_wopt(const sq_layer *l, const char *key)
{
    for (int i = 0; i < l->nwopt; i++)
        if (!strcmp(l->wopt[i].key, key))
            return &l->wopt[i];
    return NULL;
}

static int set(json_t *cfg, const char *key, json_t *v, sq_error *err)
{
    if (!v || json_object_set_new(cfg, key, v) < 0)
        return sq_fail(err, "out of memory");
    return 0;
}

int keras_wopts_write(const sq_layer *l, const keras_kind *kk, keras_fmt fmt, json_t *cfg,
                      sq_error *err)
{
    if (l->kind->wraps)
        return 0;   /* the wrapped layer's config holds them */
    sq_wslot s[SQ_MAX_WSLOTS];
    int ns = sq_layer_weight_slots(l, s), trained = 0;
    char key[64];
    for (int i = 0; i < ns; i++) {
        snprintf(key, sizeof key, "%.40s_initializer", s[i].stem);
        const sq_wopt *o = find_wopt(l, key);
        sq_initializer def;
        if (!o)
            sq_initializer_default(s[i].init, &def);
        json_t *j = initializer_json(o ? &o->init : &def, fmt, l, key, err);
        if (!j || json_object_set_new(cfg, key, j) < 0)
            return j ? sq_fail(err, "out of memory") : -1;
    }
    for (int i = 0; i < ns; i++) {
        if (!s[i].trainable)
            continue;
        trained = 1;
        snprintf(key, sizeof key, "%.40s_regularizer", s[i].stem);
        const sq_wopt *o = find_wopt(l, key);
        if (set(cfg, key, o ? regularizer_json(&o->reg, fmt) : json_null(), err) < 0)
            return -1;
    }
    for (int i = 0; i < ns; i++) {
        snprintf(key, sizeof key, "%.40s_constraint", s[i].stem);
        if (s[i].trainable && set(cfg, key, json_null(), err) < 0)
            return -1;
    }
    /* Keras's normalization layers and PReLU write no activity_regularizer
     * (their Layer.__init__ still takes one) */
    const sq_wopt *a = find_wopt(l, "activity_regularizer");
    if (a && fmt == KERAS_FMT_TFJS)
        return sq_fail(err, "layer %s (%s): activity_regularizer=%s cannot be expressed in %s "
                       "(TensorFlow.js 4.22 builds no model with an activity regularizer)",
                       l->name, l->kind->class_name, a->text, keras_fmt_name(fmt));
    if (a)
        return set(cfg, "activity_regularizer", regularizer_json(&a->reg, fmt), err);
    if (trained && !(kk && kk->no_activity))
        return set(cfg, "activity_regularizer", json_null(), err);
    return 0;
}

/* ---- reading ---------------------------------------------------------------- */

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

/* A serialized object as a call seqsh's parsers read: "Class(k=v,...)",
 * null arguments left out (seed=None); for L1L2 the factor a config lacks
 * is 0, as the class defaults it; an initializer's "dtype" (older Keras
 * wrote one) left out, as Keras 2.6's Initializer.from_config pops it. -1
 * when it is not such an object. */
static int call_text(json_t *v, int is_reg, char *buf, size_t n)
{
    const char *cls = json_string_value(json_object_get(v, "class_name"));
    json_t *cfg = json_object_get(v, "config"), *a;
    const char *k;
    if (!cls || (cfg && !json_is_object(cfg) && !json_is_null(cfg)))
        return -1;
    size_t len = (size_t)snprintf(buf, n, "%s(", cls);
    int first = 1;
    json_object_foreach(cfg, k, a) {
        char t[64];
        if (json_is_null(a) || (!is_reg && !strcmp(k, "dtype")))
            continue;
        if (json_is_integer(a))
            snprintf(t, sizeof t, "%lld", (long long)json_integer_value(a));
        else if (json_is_real(a))
            sq_py_float(json_real_value(a), t, sizeof t);
        else if (json_is_string(a) && strlen(json_string_value(a)) < sizeof t)
            snprintf(t, sizeof t, "%s", json_string_value(a));
        else
            return -1;
        if (len < n)
            len += (size_t)snprintf(buf + len, n - len, "%s%s=%s", first ? "" : ",", k, t);
        first = 0;
    }
    if (sq_names_match(cls, "L1L2"))
        for (int i = 0; i < 2; i++) {
            const char *f = i ? "l2" : "l1";
            if (!json_is_number(json_object_get(cfg, f)) && len < n)
                len += (size_t)snprintf(buf + len, n - len, "%s%s=0", first ? "" : ",", f);
            first = 0;
        }
    if (len + 2 > n)
        return -1;
    snprintf(buf + len, n - len, ")");
    return 0;
}

/* The class name (or name) of a serialized value, for notes. */
static const char *value_name(json_t *v)
{
    const char *s = json_is_string(v) ? json_string_value(v)
        : json_string_value(json_object_get(v, "class_name"));
    return s ? s : "?";
}

/* Whether text's callee is one parse knows: an unknown class is noted and
 * left out, where bad arguments of a known one are an error. */
static int known(const char *text, int is_reg)
{
    char name[64];
    size_t k = strcspn(text, "(");
    sq_error e;
    if (k >= sizeof name)
        return 0;
    memcpy(name, text, k);
    name[k] = '\0';
    if (is_reg) {
        sq_regularizer r;
        return sq_regularizer_parse(name, &r, &e) == 0;
    }
    sq_initializer ini;
    return sq_initializer_parse(name, &ini, &e) == 0;
}

/* The slot of layer l that option key (STEM_initializer or
 * STEM_regularizer) belongs to, or -1. */
static int slot_of(const sq_wslot *s, int ns, const char *key, const char *suffix)
{
    for (int i = 0; i < ns; i++)
        if (strlen(key) == strlen(s[i].stem) + strlen(suffix)
            && !strncmp(key, s[i].stem, strlen(s[i].stem)))
            return i;
    return -1;
}

/* One key's value (not null) as option text for l, or "" when it is the
 * weight's default or nothing; -1 with err. */
static int option_text(sq_layer *l, const char *key, json_t *v, const sq_wslot *s, int ns,
                       const char *lname, const char *path, sbuf *notes, char *text,
                       size_t n, sq_error *err)
{
    int is_reg = ends_with(key, "_regularizer");
    char given[512];
    text[0] = '\0';
    if (json_is_string(v))
        snprintf(given, sizeof given, "%s", json_string_value(v));
    else if (!json_is_object(v) || call_text(v, is_reg, given, sizeof given) < 0)
        return sq_fail(err, "'%s': layer %s: `%s` is not an %s seqsh understands", path, lname,
                       key, is_reg ? "regularizer" : "initializer");
    if (!known(given, is_reg)) {
        sb_printf(notes, "note: layer %s's %s %s is not one seqsh has; left out%s\n", lname, key,
                  value_name(v), is_reg ? " (fit will not apply it)" : "");
        return 0;
    }
    if (!sq_wopt_accepts(l, key)) {
        sb_printf(notes, "note: layer %s's %s is not carried over (seqsh's %s has no such "
                  "weight)\n", lname, key, l->kind->class_name);
        return 0;
    }
    sq_error e2;
    if (is_reg) {
        sq_regularizer r;
        if (sq_regularizer_parse(given, &r, &e2) < 0)
            return sq_fail(err, "'%s': layer %s: %s: %s", path, lname, key, e2.msg);
        if (r.l1 == 0 && r.l2 == 0)
            return 0;   /* no penalty */
        if (r.form == SQ_REG_L1L2 && (r.l1 == 0 || r.l2 == 0))
            r.form = r.l1 == 0 ? SQ_REG_L2 : SQ_REG_L1;   /* TF.js's l2() is an L1L2 */
        sq_regularizer_text(&r, text, n);
        return 0;
    }
    sq_initializer ini, def;
    if (sq_initializer_parse(given, &ini, &e2) < 0)
        return sq_fail(err, "'%s': layer %s: %s: %s", path, lname, key, e2.msg);
    if (ini.kind == INIT_VARIANCE_SCALING)
        /* Keras 2.2's and TF.js's glorot_uniform, he_normal, ... */
        for (int i = 0; i < NCLASSES; i++)
            if (classes[i].mode >= 0 && classes[i].scale == ini.a && classes[i].mode == ini.mode
                && classes[i].dist == ini.dist) {
                ini.kind = classes[i].kind;
                ini.a = ini.b = 0;
                ini.mode = ini.dist = 0;
            }
    int si = slot_of(s, ns, key, "_initializer");
    if (si >= 0) {
        sq_initializer_default(s[si].init == INIT_FORGET_BIAS ? INIT_ZEROS : s[si].init, &def);
        if (sq_initializer_same(&ini, &def))
            return 0;   /* LSTM's Zeros with unit_forget_bias is its default too */
    }
    sq_initializer_text(&ini, text, n);
    return 0;
}

/* Sets key from cfg on l, unless null or l's default. */
static int read_key(sq_layer *l, json_t *cfg, const char *key, const sq_wslot *s, int ns,
                    const char *lname, const char *path, sbuf *notes, sq_error *err)
{
    json_t *v = json_object_get(cfg, key);
    char text[256];
    if (!v || json_is_null(v))
        return 0;
    if (option_text(l, key, v, s, ns, lname, path, notes, text, sizeof text, err) < 0)
        return -1;
    sq_error e2;
    if (text[0] && sq_wopt_set(l, key, text, &e2) < 0)
        return sq_fail(err, "'%s': layer %s: %s", path, lname, e2.msg);
    return 0;
}

int keras_wopts_read(sq_layer *l, json_t *cfg, const char *lname, const char *path,
                     sbuf *notes, sq_error *err)
{
    sq_wslot s[SQ_MAX_WSLOTS];
    int ns = sq_layer_weight_slots(l, s);
    char key[64];
    /* in the order describe writes them: initializers, regularizers, activity */
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < ns; i++) {
            snprintf(key, sizeof key, "%.40s%s", s[i].stem, pass ? "_regularizer" : "_initializer");
            if (read_key(l, cfg, key, s, ns, lname, path, notes, err) < 0)
                return -1;
        }
    if (read_key(l, cfg, "activity_regularizer", s, ns, lname, path, notes, err) < 0)
        return -1;
    /* keys for weights l lacks */
    const char *k;
    json_t *v;
    json_object_foreach(cfg, k, v) {
        if (json_is_null(v) || !strcmp(k, "activity_regularizer")
            || !(ends_with(k, "_initializer") || ends_with(k, "_regularizer"))
            || slot_of(s, ns, k, ends_with(k, "_initializer") ? "_initializer" : "_regularizer") >= 0)
            continue;
        if (read_key(l, cfg, k, s, ns, lname, path, notes, err) < 0)
            return -1;
    }
    return 0;
}
