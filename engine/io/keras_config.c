/* keras_config.c - a Keras Sequential `model_config` (JSON) to a seqsh model,
 * the weights matched by name, and `training_config` to compile settings
 * (the other way: keras_write.c). Shared by the TF.js Layers and HDF5
 * readers. */
#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "io/keras.h"
#include "compile.h"
#include "train/loss.h"

static void init_once(void)
{
    json_set_alloc_funcs(sq_malloc, free);
}

void keras_json_init(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, init_once);
}

json_t *keras_json_parse(const char *text, size_t len, const char *what, sq_error *err)
{
    keras_json_init();
    if (len > KERAS_JSON_MAX_BYTES) {
        sq_fail(err, "%s is too large: %zu bytes of JSON (at most %u MiB)", what, len,
                KERAS_JSON_MAX_BYTES >> 20);
        return NULL;
    }
    /* jansson recurses per level: bound the nesting before it does */
    int depth = 0, in_str = 0;
    for (size_t i = 0; i < len; i++) {
        char ch = text[i];
        if (in_str) {
            if (ch == '\\')
                i++;
            else if (ch == '"')
                in_str = 0;
        } else if (ch == '"') {
            in_str = 1;
        } else if (ch == '[' || ch == '{') {
            if (++depth > KERAS_JSON_MAX_DEPTH) {
                sq_fail(err, "%s nests JSON more than %d levels deep", what, KERAS_JSON_MAX_DEPTH);
                return NULL;
            }
        } else if (ch == ']' || ch == '}') {
            depth--;
        }
    }
    char what_size[96];
    snprintf(what_size, sizeof what_size, "parsing %.60s", what);
    if (sq_check_memory((double)len * 8, what_size, err) < 0)
        return NULL;
    json_error_t je;
    json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!j)
        sq_fail(err, "%s is not valid JSON: %s (line %d, column %d)", what, je.text, je.line,
                je.column);
    return j;
}

/* ---- reading ------------------------------------------------------------ */

typedef struct {
    const char *path;
    int keras3;
    sbuf *notes;
    int noted_dtype, noted_reg;
    keras_weights *ws;       /* the stored weights (their cell scopes), or NULL */
    sq_error *err;
} ctx;

#define MAX_WORDS 64

typedef struct {
    char *w[MAX_WORDS];
    int n;
} words;

static int add_word(words *ws, ctx *c, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int add_word(words *ws, ctx *c, const char *fmt, ...)
{
    if (ws->n == MAX_WORDS)
        return sq_fail(c->err, "'%s': a layer with more than %d settings", c->path, MAX_WORDS);
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (!(ws->w[ws->n] = sq_strdup(buf)))
        return sq_fail(c->err, "out of memory");
    ws->n++;
    return 0;
}

static void words_free(words *ws)
{
    for (int i = 0; i < ws->n; i++)
        free(ws->w[i]);
    ws->n = 0;
}

/* v as compact JSON for a message, cut to fit buf. */
static const char *shown(json_t *v, char *buf, size_t n)
{
    char *s = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    snprintf(buf, n, "%s", s ? s : "?");
    if (s && strlen(s) >= n && n > 4)
        strcpy(buf + n - 4, "...");
    free(s);
    return buf;
}

/* An integer value, also as a float with an integral value. */
static int int_of(json_t *v, long long *out)
{
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return 0;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (d == floor(d) && fabs(d) < 1e15) {
            *out = (long long)d;
            return 0;
        }
    }
    return -1;
}

/* An int or a list of ints as "(a,b,c)". */
static int ints_text(json_t *v, char *buf, size_t n)
{
    long long x;
    if (!int_of(v, &x)) {
        snprintf(buf, n, "%lld", x);
        return 0;
    }
    if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > SQ_MAX_RANK)
        return -1;
    size_t k = 0, i;
    json_t *e;
    k += (size_t)snprintf(buf, n, "(");
    json_array_foreach(v, i, e) {
        if (int_of(e, &x) || k >= n)
            return -1;
        k += (size_t)snprintf(buf + k, n - k, "%s%lld", i ? "," : "", x);
    }
    if (k >= n - 1)
        return -1;
    snprintf(buf + k, n - k, ")");
    return 0;
}

/* An int or lists of ints nested up to `depth` deep as Python's text of
 * it: 1, (1,2), ((1,2),(0,3)). */
static int nested_text(json_t *v, int depth, char *buf, size_t n)
{
    long long x;
    if (!int_of(v, &x)) {
        int k = snprintf(buf, n, "%lld", x);
        return k < 0 || (size_t)k >= n ? -1 : 0;
    }
    if (!json_is_array(v) || depth == 0 || json_array_size(v) == 0 || json_array_size(v) > 8
        || n < 3)
        return -1;
    size_t k = 1, i;
    json_t *e;
    buf[0] = '(';
    json_array_foreach(v, i, e) {
        if (i)
            buf[k++] = ',';
        if (k + 2 >= n || nested_text(e, depth - 1, buf + k, n - k - 1) < 0)
            return -1;
        k += strlen(buf + k);
    }
    if (k + 2 > n)
        return -1;
    buf[k++] = ')';
    buf[k] = '\0';
    return 0;
}

/* A shape list [null, 28, 28, 1] (batch first) as seqsh's input shape;
 * [null] alone is a batch of scalars (Keras writes it for a model built by
 * a call on a 1-D tensor). */
static int shape_from(json_t *v, sq_shape *sh, ctx *c, const char *lname)
{
    char b[96];
    size_t i;
    json_t *e;
    if (!json_is_array(v) || json_array_size(v) < 1 || json_array_size(v) > SQ_MAX_RANK)
        return sq_fail(c->err, "'%s': layer %s: input shape %s is not a list of 1 to %d "
                       "dimensions (batch first)", c->path, lname, shown(v, b, sizeof b),
                       SQ_MAX_RANK);
    sh->rank = (int)json_array_size(v);
    json_array_foreach(v, i, e) {
        long long x;
        if (json_is_null(e) || i == 0) {
            sh->d[i] = -1;   /* a fixed batch size is relaxed to None */
            if (i == 0 && !json_is_null(e) && (int_of(e, &x) || x <= 0))
                goto bad;
            continue;
        }
        if (int_of(e, &x) || x <= 0 || x > (1LL << 31))
            goto bad;
        sh->d[i] = (long)x;
    }
    return 0;
bad:
    return sq_fail(c->err, "'%s': layer %s: bad input shape %s", c->path, lname,
                   shown(v, b, sizeof b));
}

static void dtype_note(json_t *v, ctx *c)
{
    const char *name = json_string_value(v);
    if (json_is_object(v))
        name = json_string_value(json_object_get(json_object_get(v, "config"), "name"));
    if (name && strcmp(name, "float32") && !c->noted_dtype) {
        sb_printf(c->notes, "note: the model's layers use dtype %s; seqsh computes in float32\n",
                  name);
        c->noted_dtype = 1;
    }
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

static int neutral(json_t *v)
{
    return json_is_null(v) || json_is_false(v) || (json_is_array(v) && !json_array_size(v))
        || (json_is_object(v) && !json_object_size(v));
}

/* Keys any layer may hold that change nothing seqsh computes. */
static int generic_dropped(const char *key)
{
    static const char *const keys =
        "build_config module registered_name sparse ragged autocast input_dtype";
    return keras_in_list(keys, key);
}

/* Whether option text `t` means the option's default (so that a model
 * read from a file describes itself as the one it was saved from). */
static int is_default(const sq_optdef *d, const char *t)
{
    long a[SQ_MAX_RANK], b[SQ_MAX_RANK];
    int na, nb;
    sq_error e;
    if (!d->def)
        return 0;
    switch (d->type) {
    case OPT_INT:
    case OPT_INTS:
        if (sq_parse_ints(d->def, a, SQ_MAX_RANK, &na, &e) || sq_parse_ints(t, b, SQ_MAX_RANK, &nb, &e))
            return 0;
        for (; na < d->tuple_len && na == 1; na++)
            a[na] = a[0];
        for (; nb < d->tuple_len && nb == 1; nb++)
            b[nb] = b[0];
        return na == nb && !memcmp(a, b, (size_t)na * sizeof a[0]);
    case OPT_FLOAT:
        return strtod(d->def, NULL) == strtod(t, NULL);
    default:
        return !strcasecmp(d->def, t);
    }
}

/* One option of kind k from its Keras value. */
static int option_word(const sq_layer_kind *k, const keras_kind *kk, int i, const char *key,
                       json_t *v, const char *lname, const char *cls, ctx *c, words *ws)
{
    const sq_optdef *d = &k->opts[i];
    char buf[256], b2[96];
    long long x;
    if (json_is_null(v)) {
        /* null is the default, or None where the default is not None */
        if (kk && keras_in_list(kk->nulls, key) && d->type == OPT_STR && d->def
            && strcmp(d->def, "None"))
            return add_word(ws, c, "%s=None", key);
        return 0;
    }
    switch (d->type) {
    case OPT_INT:
        if (json_is_array(v) && json_array_size(v) == 1)
            v = json_array_get(v, 0);
        if (int_of(v, &x))
            goto bad;
        snprintf(buf, sizeof buf, "%lld", x);
        break;
    case OPT_INTS:
        if (ints_text(v, buf, sizeof buf))
            goto bad;
        break;
    case OPT_FLOAT:
        if (!json_is_number(v))
            goto bad;
        snprintf(buf, sizeof buf, "%.17g", json_number_value(v));
        break;
    case OPT_BOOL:
        if (!json_is_boolean(v))
            goto bad;
        snprintf(buf, sizeof buf, "%s", json_is_true(v) ? "true" : "false");
        break;
    case OPT_STR:
        if (json_is_string(v) && strlen(json_string_value(v)) < 128)
            snprintf(buf, sizeof buf, "%s", json_string_value(v));
        else if (kk && keras_in_list(kk->numbers, key) && json_is_number(v))
            snprintf(buf, sizeof buf, "%.17g", json_number_value(v));
        else if (kk && keras_in_list(kk->tuples, key) && json_is_array(v)
                 && json_array_size(v) == 1 && !int_of(json_array_get(v, 0), &x))
            snprintf(buf, sizeof buf, "%lld", x);   /* [-1] is -1, the default */
        else if (kk && keras_in_list(kk->margins, key) && !nested_text(v, 2, buf, sizeof buf))
            ;   /* 1, [1, 2] or [[1, 2], [0, 3]] */
        else if (!(kk && keras_in_list(kk->tuples, key) && !ints_text(v, buf, sizeof buf)))
            goto bad;
        break;
    case OPT_ACT:
        if (keras_activation_in(v, c->keras3, lname, buf, c->err) < 0)
            return -1;
        break;
    }
    if (is_default(d, buf))
        return 0;
    return add_word(ws, c, "%s=%s", key, buf);
bad:
    return sq_fail(c->err, "'%s': layer %s (%s): `%s` %s is not a value seqsh understands",
                   c->path, lname, cls, key, shown(v, b2, sizeof b2));
}

/* A `fixed` key: a value other than the one seqsh assumes is an error. */
static int check_fixed(const keras_kind *kk, const char *key, json_t *v, const char *lname,
                       const char *cls, ctx *c)
{
    const char *p = strstr(kk->fixed, key);
    while (p && (p[strlen(key)] != '=' || (p > kk->fixed && p[-1] != ' ')))
        p = strstr(p + 1, key);
    if (!p || json_is_null(v))
        return 0;
    p += strlen(key) + 1;
    size_t len = strcspn(p, " ");
    json_t *want = json_loadb(p, len, JSON_DECODE_ANY, NULL);
    int same = want && json_equal(want, v);
    json_decref(want);
    if (same)
        return 0;
    char b[96];
    return sq_fail(c->err, "'%s': layer %s (%s) has %s=%s; seqsh computes only %.*s", c->path,
                   lname, cls, key, shown(v, b, sizeof b), (int)len, p);
}

/* A valid seqsh name (what `name=` accepts). */
static int valid_name(const char *s)
{
    return s && *s && strlen(s) < SQ_NAME_MAX && !strpbrk(s, " \t/:");
}

/* Splits "a/b/c:0" into components (in buf); returns how many. */
static int split_name(const char *s, char *buf, size_t n, char **comp, int max)
{
    snprintf(buf, n, "%s", s);
    char *colon = strrchr(buf, ':');
    if (colon && colon[1] && strspn(colon + 1, "0123456789") == strlen(colon + 1))
        *colon = '\0';
    int k = 0;
    for (char *p = buf; k < max;) {
        comp[k++] = p;
        char *q = strchr(p, '/');
        if (!q)
            break;
        *q = '\0';
        p = q + 1;
    }
    return k;
}

/* An RNN cell's scope: "lstm_cell", "lstm_cell_3". */
static int is_cell(const char *s)
{
    const char *p = strstr(s, "_cell");
    if (!p)
        return 0;
    p += 5;
    return !*p || (*p == '_' && p[1] && strspn(p + 1, "0123456789") == strlen(p + 1));
}

/* The cell scope a stored weight has right after the components `path`
 * (a layer's name, and a Bidirectional copy's): "lstm_cell_1" for
 * "bidirectional/forward_lstm/lstm_cell_1/kernel:0"; NULL when none has
 * one (TF.js names, Keras before 2.2). */
static const char *stored_cell(ctx *c, const char *const *path, int np, char *out, size_t n)
{
    for (int k = 0; c->ws && k < c->ws->n; k++) {
        char buf[512], *comp[16];
        int nc = split_name(c->ws->w[k].name, buf, sizeof buf, comp, 16);
        for (int i = 0; i + np < nc - 1; i++) {
            int same = 1;
            for (int q = 0; q < np && same; q++)
                same = !strcmp(comp[i + q], path[q]);
            if (same && is_cell(comp[i + np]) && strlen(comp[i + np]) < n) {
                snprintf(out, n, "%s", comp[i + np]);
                return out;
            }
        }
    }
    return NULL;
}

/* Whether cell is the name an RNN of kind k gives its cell when nothing
 * names it ("lstm_cell"): then no word is needed. */
static int default_cell(const sq_layer_kind *k, const char *cell)
{
    size_t n = strlen(k->base_name);
    return !strncmp(cell, k->base_name, n) && !strcmp(cell + n, "_cell");
}

/* The words of one layer config's keys (the layer itself, or the layer a
 * wrapper wraps: inner). act is set for an activation layer seqsh has no
 * kind for. *shape gets a batch_input_shape it holds. */
static int config_words(json_t *cfg, const sq_layer_kind *k, const keras_kind *kk,
                        const char *lname, const char *cls, const char *act, int inner,
                        ctx *c, words *ws, sq_shape *shape)
{
    char b[96];
    const char *key;
    json_t *v;
    json_object_foreach(cfg, key, v) {
        int i;
        const char *opt_key = key;
        char alias[64];
        /* another spelling of an option ("negative_slope:alpha") */
        for (const char *p = kk ? kk->renames : NULL; p && *p;) {
            while (*p == ' ')
                p++;
            size_t kl = strcspn(p, ":"), ol;
            if (!p[kl])
                break;
            ol = strcspn(p + kl + 1, " ");
            if (kl == strlen(key) && !strncmp(p, key, kl) && ol < sizeof alias) {
                snprintf(alias, sizeof alias, "%.*s", (int)ol, p + kl + 1);
                opt_key = alias;
            }
            p += kl + 1 + ol;
        }
        if (!strcmp(key, "name"))
            continue;
        if (!strcmp(key, "trainable")) {
            if (!inner && json_is_false(v) && add_word(ws, c, "trainable=false") < 0)
                return -1;
        } else if (!strcmp(key, "dtype")) {
            dtype_note(v, c);
        } else if (!strcmp(key, "batch_input_shape") || !strcmp(key, "batch_shape")) {
            if (!inner && !json_is_null(v) && shape_from(v, shape, c, lname) < 0)
                return -1;
        } else if (act) {
            continue;   /* the activation layer's own settings, already read */
        } else if (k->wraps && !strcmp(key, "layer")) {
            continue;   /* read by the caller */
        } else if ((i = sq_opt_index(k, opt_key)) >= 0 && !k->opts[i].hidden) {
            if (option_word(k, kk, i, opt_key, v, lname, cls, c, ws) < 0)
                return -1;
        } else if (!strcmp(key, "activation") && k->has_activation) {
            char an[64];
            if (keras_activation_in(v, c->keras3, lname, an, c->err) < 0)
                return -1;
            if (strcmp(an, "linear") && add_word(ws, c, "activation=%s", an) < 0)
                return -1;
        } else if (kk && keras_in_list(kk->fixed, key)) {
            if (check_fixed(kk, key, v, lname, cls, c) < 0)
                return -1;
        } else if ((kk && keras_in_list(kk->dropped, key)) || generic_dropped(key)) {
            continue;
        } else if (ends_with(key, "_initializer") || ends_with(key, "_regularizer")) {
            continue;   /* weight options: set once the layer exists */
        } else if (ends_with(key, "_constraint")) {
            if (!json_is_null(v) && !c->noted_reg) {
                sb_printf(c->notes, "note: layer %s's %s is not carried over (seqsh has no "
                          "weight constraints); fit will not apply it\n", lname, key);
                c->noted_reg = 1;
            }
        } else if (!neutral(v)) {
            return sq_fail(c->err, "'%s': layer %s (%s) sets `%s` to %s, which seqsh's %s "
                           "cannot express", c->path, lname, cls, key, shown(v, b, sizeof b),
                           k->class_name);
        }
    }
    /* keys a file may lack whose absence is not seqsh's default */
    for (const char *p = kk ? kk->absent : NULL; p && *p;) {
        while (*p == ' ')
            p++;
        size_t len = strcspn(p, " "), kl = strcspn(p, "=");
        char kb[64];
        snprintf(kb, sizeof kb, "%.*s", (int)(kl < len ? kl : len), p);
        if (!json_object_get(cfg, kb) && add_word(ws, c, "%.*s", (int)len, p) < 0)
            return -1;
        p += len;
    }
    return 0;
}

/* The seqsh kind of Keras class cls (and its table entry). */
static const sq_layer_kind *kind_of(const char *cls, const keras_kind **kk)
{
    *kk = keras_kind_by_class(cls);
    return sq_kind_find(*kk ? (*kk)->kind : cls);
}

/* The words of the layer a wrapper wraps: its kind, its options, its name
 * (the wrapper's layer_name) and, for an RNN, the cell scopes its weights
 * are stored under. */
static int wrapped_words(json_t *cfg, const char *lname, const char *cls,
                         const sq_layer_kind *wk, ctx *c, words *ws)
{
    char b[96], cell[SQ_NAME_MAX];
    json_t *lc = json_object_get(cfg, "layer");
    json_t *icfg = json_object_get(lc, "config");
    const char *icls = json_string_value(json_object_get(lc, "class_name"));
    const char *iname = json_string_value(json_object_get(icfg, "name"));
    const keras_kind *ikk;
    sq_shape ignored;
    if (!icls || !json_is_object(icfg) || !valid_name(iname))
        return sq_fail(c->err, "'%s': layer %s (%s) wraps no valid layer config: %s", c->path,
                       lname, cls, shown(lc, b, sizeof b));
    const sq_layer_kind *ik = kind_of(icls, &ikk);
    if (!ik)
        return sq_fail(c->err, "'%s': layer %s (%s) wraps a %s, which seqsh does not have",
                       c->path, lname, cls, icls);
    if (add_word(ws, c, "%s", ik->class_name) < 0
        || config_words(icfg, ik, ikk, iname, icls, NULL, 1, c, ws, &ignored) < 0
        || add_word(ws, c, "layer_name=%s", iname) < 0)
        return -1;
    const char *self[1] = { lname };
    if (sq_opt_index(ik, "cell_name") >= 0 && sq_opt_index(wk, "forward_cell_name") >= 0) {
        char fw[SQ_NAME_MAX + 16], bw[SQ_NAME_MAX + 16];
        snprintf(fw, sizeof fw, "forward_%s", iname);
        snprintf(bw, sizeof bw, "backward_%s", iname);
        const char *pf[2] = { lname, fw }, *pb[2] = { lname, bw };
        if (stored_cell(c, pf, 2, cell, sizeof cell)) {
            /* Keras numbers the wrapped layer's cell just before the
             * forward copy's: lstm_cell_1 -> lstm_cell */
            char tmpl[SQ_NAME_MAX];
            char *us = strrchr(cell, '_');
            long num = us ? strtol(us + 1, NULL, 10) : 0;
            snprintf(tmpl, sizeof tmpl, "%.*s", (int)(us ? us - cell : 0), cell);
            if (num >= 2)
                snprintf(tmpl + strlen(tmpl), sizeof tmpl - strlen(tmpl), "_%ld", num - 1);
            if (add_word(ws, c, "forward_cell_name=%s", cell) < 0
                || (num >= 1 && !default_cell(ik, tmpl)
                    && add_word(ws, c, "cell_name=%s", tmpl) < 0))
                return -1;
        }
        if (stored_cell(c, pb, 2, cell, sizeof cell)
            && add_word(ws, c, "backward_cell_name=%s", cell) < 0)
            return -1;
    } else if (sq_opt_index(ik, "cell_name") >= 0 && stored_cell(c, self, 1, cell, sizeof cell)
               && !default_cell(ik, cell) && add_word(ws, c, "cell_name=%s", cell) < 0) {
        return -1;
    }
    return 0;
}

/* One Keras layer config as a new seqsh layer. *shape gets a
 * batch_input_shape it holds (rank 0 when none). */
static sq_layer *layer_from(json_t *conf, ctx *c, sq_shape *shape)
{
    words ws = { { 0 }, 0 };
    char b[96], near[128], cell[SQ_NAME_MAX];
    sq_layer *l = NULL;
    shape->rank = 0;
    json_t *jcls = json_object_get(conf, "class_name"), *cfg = json_object_get(conf, "config");
    const char *cls = json_string_value(jcls);
    if (!cls || !json_is_object(cfg)) {
        sq_fail(c->err, "'%s': a layer entry without class_name and config: %s", c->path,
                shown(conf, b, sizeof b));
        return NULL;
    }
    const char *lname = json_string_value(json_object_get(cfg, "name"));
    if (!valid_name(lname)) {
        sq_fail(c->err, "'%s': a %s layer with a missing or invalid name %s", c->path, cls,
                shown(json_object_get(cfg, "name"), b, sizeof b));
        return NULL;
    }
    const keras_kind *kk;
    const sq_layer_kind *k = kind_of(cls, &kk);
    const char *act = NULL;
    if (!k) {
        /* an activation layer seqsh has no kind for: an Activation */
        json_t *probe = json_pack("{s:s,s:O}", "class_name", cls, "config", cfg);
        char an[64];
        sq_error e2;
        if (probe && keras_activation_in(probe, c->keras3, lname, an, &e2) == 0)
            act = sq_activation_name(sq_activation_find(an));
        json_decref(probe);
        if (!act) {
            keras_nearest_kind(cls, near, sizeof near);
            sq_fail(c->err, "'%s': layer %s is of kind %s, which seqsh does not have%s", c->path,
                    lname, cls, near);
            return NULL;
        }
        k = sq_kind_find("Activation");
        if (add_word(&ws, c, "activation=%s", act) < 0)
            goto fail;
    }
    if (k->wraps && wrapped_words(cfg, lname, cls, k, c, &ws) < 0)
        goto fail;
    if (config_words(cfg, k, kk, lname, cls, act, 0, c, &ws, shape) < 0)
        goto fail;
    const char *self[1] = { lname };
    if (sq_opt_index(k, "cell_name") >= 0 && stored_cell(c, self, 1, cell, sizeof cell)
        && !default_cell(k, cell) && add_word(&ws, c, "cell_name=%s", cell) < 0)
        goto fail;
    if (add_word(&ws, c, "name=%s", lname) < 0)
        goto fail;
    sq_shape ishape;
    sq_error e2;
    l = sq_layer_create(k, ws.n, ws.w, &ishape, &e2);
    if (!l) {
        sq_fail(c->err, "'%s': layer %s (%s): %s", c->path, lname, cls, e2.msg);
    } else if (!act) {
        json_t *icfg = json_object_get(json_object_get(cfg, "layer"), "config");
        if ((l->inner && keras_wopts_read(l->inner, icfg, json_string_value(json_object_get(
                 icfg, "name")), c->path, c->notes, c->err) < 0)
            || keras_wopts_read(l, cfg, lname, c->path, c->notes, c->err) < 0) {
            sq_layer_free(l);
            l = NULL;
        }
    }
fail:
    words_free(&ws);
    return l;
}

/* The layer list of a Sequential config: a bare list (Keras <= 2.2.4) or
 * config.layers. */
static json_t *layers_of(json_t *cfg)
{
    return json_is_array(cfg) ? cfg : json_object_get(cfg, "layers");
}

/* Appends the layers of config list `list` to (*arr, *n); a nested
 * Sequential becomes a group. Input shapes found go to *in. */
static int read_layers(json_t *list, sq_group *group, sq_layer ***arr, int *n, int *cap,
                       sq_shape *in, ctx *c)
{
    size_t i;
    json_t *conf;
    char b[96];
    if (!json_is_array(list))
        return sq_fail(c->err, "'%s': the model's layers are not a list", c->path);
    json_array_foreach(list, i, conf) {
        const char *cls = json_string_value(json_object_get(conf, "class_name"));
        json_t *cfg = json_object_get(conf, "config");
        sq_shape sh = { 0 };
        if (cls && !strcmp(cls, "InputLayer")) {
            json_t *s = json_object_get(cfg, "batch_input_shape");
            if (!s)
                s = json_object_get(cfg, "batch_shape");
            if (*n > 0 && !(group && *n > 0 && (*arr)[*n - 1]->group != group))
                return sq_fail(c->err, "'%s': an InputLayer after the first layer", c->path);
            if (s && shape_from(s, &sh, c, "InputLayer") < 0)
                return -1;
            if (*n == 0 && sh.rank)
                *in = sh;
            continue;
        }
        if (cls && !strcmp(cls, "Sequential")) {
            const char *gname = json_string_value(json_object_get(cfg, "name"));
            if (group)
                return sq_fail(c->err, "'%s': a Sequential model nested two deep; seqsh nests "
                               "one level", c->path);
            if (!valid_name(gname))
                return sq_fail(c->err, "'%s': a nested model with a missing or invalid name %s",
                               c->path, shown(json_object_get(cfg, "name"), b, sizeof b));
            sq_group *g = sq_calloc(1, sizeof *g);
            if (!g)
                return sq_fail(c->err, "out of memory");
            snprintf(g->name, sizeof g->name, "%s", gname);
            int before = *n;
            int rc = read_layers(layers_of(cfg), g, arr, n, cap, in, c);
            if (g->refs == 0)
                free(g);
            if (rc < 0)
                return -1;
            if (*n == before)
                return sq_fail(c->err, "'%s': nested model %s has no layers", c->path, gname);
            continue;
        }
        if (cls && (!strcmp(cls, "Functional") || !strcmp(cls, "Model")))
            return sq_fail(c->err, "'%s': layer %s is a %s model, not a Sequential one: seqsh "
                           "reads Sequential models only", c->path,
                           shown(json_object_get(cfg, "name"), b, sizeof b), cls);
        if (*n >= KERAS_MAX_LAYERS)
            return sq_fail(c->err, "'%s': more than %d layers", c->path, KERAS_MAX_LAYERS);
        sq_layer *l = layer_from(conf, c, &sh);
        if (!l)
            return -1;
        if (*n == *cap) {
            int nc = *cap ? 2 * *cap : 16;
            sq_layer **a = sq_realloc(*arr, (size_t)nc * sizeof *a);
            if (!a) {
                sq_layer_free(l);
                return sq_fail(c->err, "out of memory");
            }
            *arr = a;
            *cap = nc;
        }
        if (group) {
            l->group = group;
            group->refs++;
        }
        (*arr)[(*n)++] = l;
        if (*n == 1 && sh.rank && !in->rank)
            *in = sh;
    }
    return 0;
}

/* Whether stored weight name `stored` is weight `weight` (index j) of
 * layer `layer`: Keras 2's "dense/kernel:0", with cell scopes
 * ("lstm/lstm_cell/kernel") and prefixes ("sequential/dense/kernel"), or
 * TF.js's converted Keras 3 "dense/0". */
static int name_matches(const char *stored, const char *layer, const char *weight, int j)
{
    char sb[512], wb[256], *sc[16], *wc[8], *keep[16];
    int ns = split_name(stored, sb, sizeof sb, sc, 16);
    int nw = split_name(weight, wb, sizeof wb, wc, 8);
    int nk = 0, nw2 = 0;
    for (int i = 0; i < ns; i++)
        if (i == ns - 1 || !is_cell(sc[i]) || !strcmp(sc[i], layer))
            keep[nk++] = sc[i];
    /* the cell scopes are left out on both sides: TF.js names have none */
    for (int i = 0; i < nw; i++)
        if (i == nw - 1 || !is_cell(wc[i]))
            wc[nw2++] = wc[i];
    nw = nw2;
    const char *last = keep[nk - 1];
    if (nk >= 2 && *last && strspn(last, "0123456789") == strlen(last))
        return !strcmp(keep[nk - 2], layer) && atoi(last) == j;
    if (nk < nw + 1 || strcmp(keep[nk - nw - 1], layer))
        return 0;
    for (int i = 0; i < nw; i++)
        if (strcmp(keep[nk - nw + i], wc[i]))
            return 0;
    return 1;
}

static int fill_weights(sq_model *m, keras_weights *ws, ctx *c)
{
    char a[128], b[128];
    for (int i = 0; i < m->n; i++) {
        const sq_layer *l = m->layers[i];
        const char *entry = l->group ? l->group->name : l->name;
        float *dst = m->params + l->param_off;
        for (int j = 0; j < l->nweights; j++) {
            int found = -1;
            for (int k = 0; k < ws->n && found < 0; k++)
                if (!ws->w[k].used && (!ws->w[k].group || !strcmp(ws->w[k].group, entry))
                    && name_matches(ws->w[k].name, l->name, l->w[j].name, j))
                    found = k;
            if (found < 0)
                return sq_fail(c->err, "'%s' has no weight %s/%s of shape %s for layer %s",
                               c->path, l->name, l->w[j].name,
                               sq_shape_str(&l->w[j].shape, a, sizeof a), l->name);
            keras_stored *s = &ws->w[found];
            if (!sq_shape_eq(&s->shape, &l->w[j].shape))
                return sq_fail(c->err, "'%s': weight %s has shape %s, but layer %s needs %s",
                               c->path, s->name, sq_shape_str(&s->shape, a, sizeof a), l->name,
                               sq_shape_str(&l->w[j].shape, b, sizeof b));
            size_t cnt = sq_weight_count(&l->w[j]);
            if (ws->load(ws->ctx, s, dst, cnt, c->err) < 0)
                return -1;
            s->used = 1;
            dst += cnt;
        }
    }
    for (int k = 0; k < ws->n; k++)
        if (!ws->w[k].used)
            return sq_fail(c->err, "'%s': weight %s belongs to no layer of the model", c->path,
                           ws->w[k].name);
    return 0;
}

/* Python's shortest repr of a double, as Keras writes hyperparameters. */
static void py_num(double x, char *buf, size_t n)
{
    for (int p = 1; p <= 17; p++) {
        snprintf(buf, n, "%.*g", p, x);
        if (strtod(buf, NULL) == x)
            return;
    }
}

/* "SparseCategoricalCrossentropy" -> "sparse_categorical_crossentropy". */
static void snake_name(const char *s, char *out, size_t n)
{
    size_t k = 0;
    for (; *s && k + 2 < n; s++) {
        if (isupper((unsigned char)*s) && k && !isupper((unsigned char)s[-1]))
            out[k++] = '_';
        out[k++] = (char)tolower((unsigned char)*s);
    }
    out[k] = '\0';
}

/* Appends a number list "[a,b]" to b; 0 when it is not one. */
static int num_list(json_t *a, sbuf *b)
{
    size_t i;
    json_t *v;
    if (!json_is_array(a))
        return 0;
    sb_printf(b, "[");
    json_array_foreach(a, i, v) {
        if (!json_is_number(v))
            return 0;
        sb_printf(b, "%s%.9g", i ? "," : "", json_number_value(v));
    }
    sb_printf(b, "]");
    return 1;
}

/* Whether th are AUC's default thresholds for n, written out by older
 * Keras versions: i / (n - 1), i = 1 .. n - 2. */
static int default_thresholds(json_t *th, long n)
{
    if (n < 3 || n > 100000000 || (long)json_array_size(th) != n - 2)
        return 0;
    for (size_t i = 0; i < json_array_size(th); i++)
        if (fabs(json_number_value(json_array_get(th, i)) - (double)(i + 1) / (double)(n - 1))
            >= 1e-6)
            return 0;
    return 1;
}

/* A class metric Keras saved ({"class_name": "AUC", "config": {...}}; also
 * Precision, Recall and the top-k ones) in seqsh's call form:
 * "auc(num_thresholds=50,multi_label=true)", only the
 * arguments that differ from the defaults (AUC's default thresholds, which
 * older Keras versions write out, are left to num_thresholds). NULL when
 * the class is not one of these, or its arguments are not seqsh's. */
static char *class_metric_text(json_t *e)
{
    const char *cls = json_string_value(json_object_get(e, "class_name"));
    json_t *cfg = json_object_get(e, "config");
    sq_error e2;
    int kind = cls ? sq_metric_find(cls, &e2) : -1;
    if (!(kind == M_AUC || kind == M_PRECISION || kind == M_RECALL || kind == M_TOP_K
          || kind == M_SPARSE_TOP_K) || !json_is_object(cfg))
        return NULL;
    const char *base = sq_metric_kind_name(kind, NULL);
    sbuf b = { 0 };
    int nargs = 0, ok = 1;
#define ARG() sb_printf(&b, "%s", nargs++ ? "," : "(")
    json_t *v;
    if (kind == M_AUC) {
        long n = 200;
        json_t *th = json_object_get(cfg, "thresholds");
        if (json_is_integer(v = json_object_get(cfg, "num_thresholds"))) {
            n = (long)json_integer_value(v);
            /* given thresholds decide their number */
            int given = json_is_array(th) && json_array_size(th) > 0
                     && (long)json_array_size(th) + 2 == n && !default_thresholds(th, n);
            if (n != 200 && !given) {
                ARG();
                sb_printf(&b, "num_thresholds=%ld", n);
            }
        }
        const char *s;
        if ((s = json_string_value(json_object_get(cfg, "curve"))) && strcasecmp(s, "ROC")) {
            ARG();
            sb_printf(&b, "curve=%s", s);
        }
        if ((s = json_string_value(json_object_get(cfg, "summation_method")))
            && strcasecmp(s, "interpolation")) {
            ARG();
            sb_printf(&b, "summation_method=%s", s);
        }
        if (json_is_true(json_object_get(cfg, "multi_label"))) {
            ARG();
            sb_printf(&b, "multi_label=true");
        }
        if (json_is_true(json_object_get(cfg, "from_logits"))) {
            ARG();
            sb_printf(&b, "from_logits=true");
        }
        if (json_is_array(v = json_object_get(cfg, "label_weights"))) {
            ARG();
            sb_printf(&b, "label_weights=");
            ok &= num_list(v, &b);
        }
        if (json_is_array(th) && !default_thresholds(th, n)) {
            ARG();
            sb_printf(&b, "thresholds=");
            ok &= num_list(th, &b);
        }
    } else if (kind == M_TOP_K || kind == M_SPARSE_TOP_K) {
        if (json_is_integer(v = json_object_get(cfg, "k")) && json_integer_value(v) != 5) {
            ARG();
            sb_printf(&b, "k=%ld", (long)json_integer_value(v));
        }
    } else {
        v = json_object_get(cfg, "thresholds");
        if (json_is_array(v) && json_array_size(v) == 1)
            v = json_array_get(v, 0);
        if (json_is_number(v)) {
            ARG();
            sb_printf(&b, "thresholds=%.9g", json_number_value(v));
        } else if (json_is_array(v)) {
            /* several: written out, for compile's message */
            ARG();
            sb_printf(&b, "thresholds=");
            ok &= num_list(v, &b);
        }
        if (json_is_integer(v = json_object_get(cfg, "class_id"))) {
            ARG();
            sb_printf(&b, "class_id=%ld", (long)json_integer_value(v));
        }
        if (json_is_integer(v = json_object_get(cfg, "top_k"))) {
            ARG();
            sb_printf(&b, "top_k=%ld", (long)json_integer_value(v));
        }
    }
    const char *name = json_string_value(json_object_get(cfg, "name"));
    if (name && strcmp(name, base)) {
        ARG();
        sb_printf(&b, "name=%s", name);
    }
#undef ARG
    if (nargs)
        sb_printf(&b, ")");
    char *body = sb_finish(&b, &e2);
    if (!body || !ok) {
        free(body);
        return NULL;
    }
    char *text = sq_malloc(strlen(base) + strlen(body) + 1);
    if (text)
        sprintf(text, "%s%s", base, body);
    free(body);
    return text;
}

/* training_config -> compile settings, where seqsh supports them. */
static void compile_from(sq_model *m, json_t *tc, ctx *c)
{
    /* room for MAX_METRICS metrics in call form, the longest seqsh takes */
    char loss[64] = "", metrics[12288] = "", opt[32] = "rmsprop";
    char keys[MAX_OPT_OPTS][32], vals[MAX_OPT_OPTS][64];
    const char *kp[MAX_OPT_OPTS], *vp[MAX_OPT_OPTS];
    int nk = 0;
    sq_error e2;
    json_t *jl = json_object_get(tc, "loss");
    if (json_is_object(jl)) {
        json_t *cfg = json_object_get(jl, "config");
        if (json_is_true(json_object_get(cfg, "from_logits"))) {
            sb_printf(c->notes, "note: the saved loss takes logits (from_logits=True), which "
                      "seqsh's compile cannot express: the model is not compiled\n");
            return;
        }
        jl = json_object_get(jl, "class_name");
        if (json_is_string(jl))
            snake_name(json_string_value(jl), loss, sizeof loss);
    } else if (json_is_string(jl)) {
        snprintf(loss, sizeof loss, "%s", json_string_value(jl));
    }
    if (!*loss || sq_loss_find(loss, &e2) < 0) {
        char b[96];
        sb_printf(c->notes, "note: the saved loss %s is not one seqsh has: the model is not "
                  "compiled\n", shown(json_object_get(tc, "loss"), b, sizeof b));
        return;
    }
    /* metrics: names, [[names]] per output, or MeanMetricWrapper objects */
    json_t *jm = json_object_get(tc, "metrics");
    if (json_is_array(jm) && json_array_size(jm) == 1 && json_is_array(json_array_get(jm, 0)))
        jm = json_array_get(jm, 0);
    size_t i;
    json_t *e;
    int kept = 0;
    json_array_foreach(jm, i, e) {
        /* a class metric in call form, or a function metric by name */
        char *call = json_is_object(e) ? class_metric_text(e) : NULL;
        const char *text = call ? call : json_string_value(e);
        if (!call && json_is_object(e)) {
            json_t *cfg = json_object_get(e, "config");
            text = json_string_value(json_object_get(cfg, "fn"));
            if (!text || sq_metric_find(text, &e2) < 0)
                text = json_string_value(json_object_get(cfg, "name"));
        }
        sq_metric_cfg mc;
        char shown[48];
        int refused = call && sq_metric_parse(call, &mc, shown, sizeof shown, &e2) < 0;
        if (call && !refused)
            sq_metric_cfg_free(&mc);
        if (refused)
            sb_printf(c->notes, "note: metric %s is not one seqsh can take (%s); left out\n",
                      call, e2.msg);
        else if (!call && (!text || sq_metric_find(text, &e2) < 0))
            sb_printf(c->notes, "note: metric %s is not one seqsh has; left out\n",
                      text ? text : "(an object)");
        else if (kept == MAX_METRICS || strlen(metrics) + strlen(text) + 2 >= sizeof metrics)
            sb_printf(c->notes, "note: metric %s left out: seqsh compiles at most %d metrics\n",
                      text, MAX_METRICS);
        else {
            snprintf(metrics + strlen(metrics), sizeof metrics - strlen(metrics), "%s%s",
                     *metrics ? "," : "", text);
            kept++;
        }
        free(call);
    }
    json_t *oc = json_object_get(tc, "optimizer_config");
    const char *ocls = json_string_value(json_object_get(oc, "class_name"));
    if (ocls) {
        const char *gt = strrchr(ocls, '>'), *dot = strrchr(ocls, '.');
        const char *base = gt ? gt + 1 : dot ? dot + 1 : ocls;
        snprintf(opt, sizeof opt, "%s", base);
        for (char *p = opt; *p; p++)
            *p = (char)tolower((unsigned char)*p);
    }
    const char *key;
    json_t *v;
    static const char *const ignore = "name decay is_legacy_optimizer jit_compile use_ema "
        "ema_momentum ema_overwrite_frequency clipnorm global_clipnorm clipvalue weight_decay "
        "loss_scale_factor gradient_accumulation_steps";
    json_object_foreach(json_object_get(oc, "config"), key, v) {
        if (keras_in_list(ignore, key) && (neutral(v) || !strcmp(key, "name")
                                          || (json_is_number(v) && json_number_value(v) == 0)
                                          || json_is_boolean(v) || !strcmp(key, "ema_momentum")))
            continue;
        if ((json_is_number(v) || json_is_boolean(v)) && nk < MAX_OPT_OPTS) {
            snprintf(keys[nk], sizeof keys[nk], "%s", strcmp(key, "lr") ? key : "learning_rate");
            if (json_is_boolean(v))
                snprintf(vals[nk], sizeof vals[nk], "%s", json_is_true(v) ? "true" : "false");
            else
                py_num(json_number_value(v), vals[nk], sizeof vals[nk]);
            kp[nk] = keys[nk];
            vp[nk] = vals[nk];
            nk++;
        } else {
            sb_printf(c->notes, "note: optimizer setting %s is not carried over\n", key);
        }
    }
    if (sq_compile_model(m, opt, loss, *metrics ? metrics : NULL, nk, kp, vp, &e2) == 0)
        return;
    if (nk && sq_compile_model(m, opt, loss, *metrics ? metrics : NULL, 0, NULL, NULL, &e2) == 0) {
        sb_printf(c->notes, "note: the optimizer's settings were not carried over (%s)\n", e2.msg);
        return;
    }
    if (sq_compile_model(m, "rmsprop", loss, *metrics ? metrics : NULL, 0, NULL, NULL, &e2) == 0) {
        sb_printf(c->notes, "note: optimizer %s is not one seqsh has; compiled with rmsprop\n",
                  opt);
        return;
    }
    sb_printf(c->notes, "note: the training settings were not carried over (%s)\n", e2.msg);
}

sq_model *keras_model_from_config(json_t *mc, json_t *tc, const char *keras_version,
                                  keras_weights *ws, const char *path, sbuf *notes,
                                  sq_error *err)
{
    ctx c = { .path = path, .notes = notes, .err = err, .ws = ws,
              .keras3 = keras_version && keras_version[0] == '3' };
    char b[96];
    const char *cls = json_string_value(json_object_get(mc, "class_name"));
    json_t *cfg = json_object_get(mc, "config");
    if (!cls) {
        sq_fail(err, "'%s' holds no Keras model config (no class_name)", path);
        return NULL;
    }
    if (strcmp(cls, "Sequential")) {
        sq_fail(err, "'%s' holds a %s model, not a Sequential one: seqsh reads Sequential "
                "models only", path, cls);
        return NULL;
    }
    const char *name = json_is_object(cfg) ? json_string_value(json_object_get(cfg, "name")) : NULL;
    sq_model *m = sq_model_alloc(valid_name(name) ? name : "sequential", err);
    if (!m)
        return NULL;
    sq_layer **arr = NULL;
    int n = 0, cap = 0;
    sq_shape in = { 0 };
    if (read_layers(layers_of(cfg), NULL, &arr, &n, &cap, &in, &c) < 0)
        goto fail;
    if (!in.rank && json_is_object(cfg)) {
        json_t *bis = json_object_get(cfg, "build_input_shape");
        if (!bis)
            bis = json_object_get(json_object_get(cfg, "build_config"), "input_shape");
        if (bis && !json_is_null(bis) && shape_from(bis, &in, &c, m->name) < 0)
            goto fail;
    }
    m->layers = arr;
    m->n = n;
    arr = NULL;
    /* what `add` guarantees: distinct names among model.layers and inside
     * each nested model */
    for (int a = 0; a < sq_entry_count(m); a++)
        for (int e = a + 1; e < sq_entry_count(m); e++)
            if (!strcmp(sq_entry_name(m, a), sq_entry_name(m, e))) {
                sq_fail(err, "'%s': two layers are named %s", path, sq_entry_name(m, a));
                goto fail;
            }
    for (int i = 0; i < m->n; i++)
        for (int j = i + 1; j < m->n && m->layers[i]->group; j++)
            if (m->layers[j]->group == m->layers[i]->group
                && !strcmp(m->layers[i]->name, m->layers[j]->name)) {
                sq_fail(err, "'%s': two layers of %s are named %s", path,
                        m->layers[i]->group->name, m->layers[i]->name);
                goto fail;
            }
    if (in.rank && n > 0) {
        sq_rng rng;
        sq_rng_seed(&rng, 0);
        sq_layer **copy = sq_malloc((size_t)n * sizeof *copy);
        if (!copy) {
            sq_fail(err, "out of memory");
            goto fail;
        }
        memcpy(copy, m->layers, (size_t)n * sizeof *copy);
        sq_error e2;
        if (sq_model_build(m, copy, n, &in, &rng, &e2) < 0) {
            free(copy);
            sq_fail(err, "'%s': %s", path, e2.msg);
            goto fail;
        }
        m->explicit_input = 1;
        if (ws && fill_weights(m, ws, &c) < 0)
            goto fail;
    } else {
        if (in.rank) {
            m->input_shape = in;
            m->built = 1;
            m->explicit_input = 1;
        }
        if (ws && ws->n > 0) {
            sq_fail(err, "'%s' holds weights (%s, ...) but no input shape to build the model "
                    "on", path, ws->w[0].name);
            goto fail;
        }
    }
    if (tc && json_is_object(tc))
        compile_from(m, tc, &c);
    (void)b;
    return m;
fail:
    for (int i = 0; arr && i < n; i++)
        sq_layer_free(arr[i]);
    free(arr);
    sq_model_free(m);
    return NULL;
}
