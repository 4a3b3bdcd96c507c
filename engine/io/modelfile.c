/* modelfile.c - whole models in one file (save, load) and saved models
 * stacked as one layer (add model).
 *
 * Format, version 2, all integers little-endian:
 *   0   8 bytes  magic "SEQSHMDL"
 *   8   u32      format version (2)
 *   12  u32      T, the length of the architecture text
 *   16  T bytes  the architecture: .seq lines (model, input or build, add,
 *                begin_model/end_model around a nested model, compile)
 *   16+T u64     P, the number of float32 weights
 *   24+T P x 4   the weights, in layer order, each in Keras's shape (C order)
 *   then u64     S, the bytes of optimizer state that follow (0: none)
 *        S bytes u64 iterations, f64 Nadam's momentum cache, f64 the
 *                learning rate, u32 K slots, u64 N weights, K x N float32
 *                slots (moments, accumulators) laid out like the weights
 *   end-4 u32    CRC-32 (zlib) of every byte before it
 * Version 1 is the same without S and the state: such files still load
 * (the optimizer then starts afresh at the next fit).
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>
#include "compile.h"
#include "io/npy.h"
#include "io/tfjs.h"
#include "io/h5.h"
#include "io/export.h"
#include "io/modelfile.h"

#define MAGIC "SEQSHMDL"
#define VERSION 2u
#define MAX_WORDS 64
#define POLL_EVERY ((size_t)1 << 22)   /* weights between two polls */

static void put_le(unsigned char *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static void shape_words(const sq_shape *sh, int from, sbuf *b)
{
    for (int i = from; i < sh->rank; i++) {
        if (sh->d[i] < 0)
            sb_printf(b, " None");
        else
            sb_printf(b, " %ld", sh->d[i]);
    }
}

/* The architecture text of m. */
static char *architecture(const sq_model *m, sq_error *err)
{
    sbuf b = { 0 };
    sb_printf(&b, "# seqsh model, format %u\nmodel %s\n", VERSION, m->name);
    if (m->built && m->explicit_input) {
        sb_printf(&b, "input");
        shape_words(&m->input_shape, 1, &b);
        sb_printf(&b, "\n");
    } else if (m->built) {
        sb_printf(&b, "build");
        shape_words(&m->input_shape, 0, &b);
        sb_printf(&b, "\n");
    }
    const sq_group *open = NULL;
    for (int i = 0; i < m->n; i++) {
        const sq_layer *l = m->layers[i];
        if (l->group != open) {
            if (open)
                sb_printf(&b, "end_model\n");
            if (l->group)
                sb_printf(&b, "begin_model %s\n", l->group->name);
            open = l->group;
        }
        sb_printf(&b, "%s", open ? "  " : "");
        sq_layer_describe(l, &b);
        sb_printf(&b, "\n");
    }
    if (open)
        sb_printf(&b, "end_model\n");
    if (m->compiled) {
        sq_compiled_describe(m->compiled, &b);
        sb_printf(&b, "\n");
    }
    return sb_finish(&b, err);
}

/* The formats other programs read, chosen by the file's extension. */
typedef enum { FMT_NATIVE, FMT_TFJS, FMT_H5, FMT_KERAS3 } file_format;

static file_format format_of(const char *path)
{
    size_t n = strlen(path);
    if (n >= 5 && !strcasecmp(path + n - 5, ".json"))
        return FMT_TFJS;
    if ((n >= 3 && !strcasecmp(path + n - 3, ".h5")) || (n >= 5 && !strcasecmp(path + n - 5, ".hdf5")))
        return FMT_H5;
    if (n >= 6 && !strcasecmp(path + n - 6, ".keras"))
        return FMT_KERAS3;
    return FMT_NATIVE;
}

static int keras3_refused(const char *path, sq_error *err)
{
    return sq_fail(err, "'%s': Keras 3's .keras archive is not a format seqsh reads or writes; "
                   "use FILE.h5 or DIR/model.json", path);
}

#define STATE_HEAD (8 + 8 + 8 + 4 + 8)

/* The optimizer whose state goes into the file, or NULL. */
static sq_optim *saved_optimizer(const sq_model *m)
{
    const struct sq_compiled *c = m->compiled;
    return c && c->opt && m->built && c->opt_n == m->nparams ? c->opt : NULL;
}

static void put_f64(unsigned char *p, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, 8);
    put_le(p, bits, 8);
}

static double get_f64(const unsigned char *p)
{
    uint64_t bits = get_le(p, 8);
    double v;
    memcpy(&v, &bits, 8);
    return v;
}

int sq_model_bytes(const sq_model *m, unsigned char **out, size_t *out_len, sq_error *err)
{
    char *text = architecture(m, err);
    if (!text)
        return -1;
    size_t t = strlen(text), p = m->built ? m->nparams : 0;
    sq_optim *opt = saved_optimizer(m);
    size_t state = 0, nslot = 0;
    if (opt) {
        nslot = (size_t)sq_optim_nslots(opt) * sq_optim_size(opt);
        state = STATE_HEAD + 4 * nslot;
    }
    size_t len = 16 + t + 8 + p * 4 + 8 + state + 4;
    unsigned char *buf = sq_malloc(len);
    if (!buf) {
        free(text);
        return sq_fail(err, "out of memory");
    }
    memcpy(buf, MAGIC, 8);
    put_le(buf + 8, VERSION, 4);
    put_le(buf + 12, t, 4);
    memcpy(buf + 16, text, t);
    put_le(buf + 16 + t, p, 8);
    unsigned char *w = buf + 24 + t;
    for (size_t i = 0; i < p; i++) {
        uint32_t bits;
        memcpy(&bits, &m->params[i], 4);
        put_le(w + 4 * i, bits, 4);
    }
    unsigned char *st = w + 4 * p;
    put_le(st, state, 8);
    if (opt) {
        long long iters;
        double mcache;
        sq_optim_get_counters(opt, &iters, &mcache);
        st += 8;
        put_le(st, (uint64_t)iters, 8);
        put_f64(st + 8, mcache);
        put_f64(st + 16, sq_optim_lr(opt));
        put_le(st + 24, (uint64_t)sq_optim_nslots(opt), 4);
        put_le(st + 28, sq_optim_size(opt), 8);
        const float *sl = sq_optim_slots(opt);
        for (size_t i = 0; i < nslot; i++) {
            uint32_t bits;
            memcpy(&bits, &sl[i], 4);
            put_le(st + STATE_HEAD + 4 * i, bits, 4);
        }
    }
    uLong crc = crc32(0L, Z_NULL, 0);
    for (size_t off = 0; off < len - 4; off += 1u << 30) {
        size_t chunk = len - 4 - off < (1u << 30) ? len - 4 - off : (1u << 30);
        crc = crc32(crc, buf + off, (uInt)chunk);
    }
    put_le(buf + len - 4, crc, 4);
    free(text);
    *out = buf;
    *out_len = len;
    return 0;
}

int sq_save(const sq_session *s, const char *path, sq_error *err)
{
    const sq_model *m = s->model;
    switch (format_of(path)) {
    case FMT_TFJS: return sq_tfjs_write(m, path, err);
    case FMT_H5: return sq_h5_write(m, path, err);
    case FMT_KERAS3: return keras3_refused(path, err);
    default: break;
    }
    unsigned char *buf;
    size_t len;
    if (sq_model_bytes(m, &buf, &len, err) < 0)
        return sq_fail(err, "out of memory saving '%s'", path);
    int rc = sq_write_file_atomic(path, buf, len, err);
    free(buf);
    return rc;
}

/* ---- loading ------------------------------------------------------------- */

/* A model read from a file, not yet part of any session. */
typedef struct {
    sq_model *m;
} loaded;

static int parse_dims(char **w, int n, int from, sq_shape *sh, int batch)
{
    sh->rank = n - from + (batch ? 0 : 1);
    if (sh->rank < 1 || sh->rank > SQ_MAX_RANK)
        return -1;
    int k = 0;
    if (!batch)
        sh->d[k++] = -1;
    for (int i = from; i < n; i++) {
        char *end;
        if (!strcmp(w[i], "None")) {
            sh->d[k++] = -1;
            continue;
        }
        long v = strtol(w[i], &end, 10);
        if (*end || v <= 0 || v > (1L << 31))
            return -1;
        sh->d[k++] = v;
    }
    return 0;
}

/* One name in its scope: the model's entries (scope NULL) or the layers
 * of one nested model (scope: its group). */
typedef struct {
    const void *scope;
    const char *name;
} scoped_name;

static int scoped_cmp(const void *a, const void *b)
{
    const scoped_name *x = a, *y = b;
    uintptr_t sx = (uintptr_t)x->scope, sy = (uintptr_t)y->scope;
    if (sx != sy)
        return sx < sy ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* What `add` guarantees of a model, checked for one read from a file: every
 * layer is named, the entries of model.layers (layers, nested models) have
 * distinct names, and so do the layers inside each nested model. Sorted,
 * so that a file of many thousands of layers is checked at once. */
static int check_names(const sq_model *m, const char *path, sq_error *err)
{
    for (int i = 0; i < m->n; i++)
        if (!m->layers[i]->name[0])
            return sq_fail(err, "'%s' is corrupt: layer %d has no name", path, i + 1);
    scoped_name *v = sq_malloc((size_t)(2 * m->n + 1) * sizeof *v);
    if (!v)
        return sq_fail(err, "out of memory");
    size_t k = 0;
    for (int i = 0; i < m->n; i = sq_entry_end(m, i))
        v[k++] = (scoped_name){ NULL, sq_entry_name_at(m, i) };
    for (int i = 0; i < m->n; i++)
        if (m->layers[i]->group)
            v[k++] = (scoped_name){ m->layers[i]->group, m->layers[i]->name };
    qsort(v, k, sizeof *v, scoped_cmp);
    int rc = 0;
    for (size_t i = 1; i < k && rc == 0; i++) {
        if (scoped_cmp(&v[i - 1], &v[i]) != 0)
            continue;
        if (v[i].scope)
            rc = sq_fail(err, "'%s' is corrupt: two layers of '%s' are named '%s'", path,
                         ((const sq_group *)v[i].scope)->name, v[i].name);
        else
            rc = sq_fail(err, "'%s' is corrupt: two layers are named '%s'", path, v[i].name);
    }
    free(v);
    return rc;
}

/* Builds the model of file text `arch` with weights w (p floats, LE). */
/* The optimizer state of a version 2 file (S bytes at st) onto m's
 * compile settings: the optimizer they make, with its counters and slots. */
static int restore_optimizer(sq_model *m, const unsigned char *st, size_t S, const char *path,
                             sq_error *err)
{
    struct sq_compiled *c = m->compiled;
    if (S < STATE_HEAD || !c || !m->built)
        return sq_fail(err, "'%s' holds an optimizer state that does not fit its model: the "
                       "file is corrupt", path);
    uint64_t k = get_le(st + 24, 4), n = get_le(st + 28, 8);
    const char *keys[MAX_OPT_OPTS], *vals[MAX_OPT_OPTS];
    for (int i = 0; i < c->nopts; i++) {
        keys[i] = c->keys[i];
        vals[i] = c->values[i];
    }
    sq_optim *o;
    sq_error e2;
    if (n != m->nparams || sq_optim_new(c->optimizer, c->nopts, keys, vals, m->nparams, &o,
                                        &e2) < 0)
        return sq_fail(err, "'%s' holds an optimizer state that does not fit its model: the "
                       "file is corrupt", path);
    if ((uint64_t)sq_optim_nslots(o) != k || S != STATE_HEAD + 4 * k * n) {
        sq_optim_free(o);
        return sq_fail(err, "'%s' holds an optimizer state that does not fit its compile "
                       "settings: the file is corrupt", path);
    }
    sq_optim_set_counters(o, (long long)get_le(st, 8), get_f64(st + 8));
    double lr = get_f64(st + 16);
    if (!sq_optim_has_schedule(o)) {
        if (!(lr > 0) || !isfinite(lr)) {
            sq_optim_free(o);
            return sq_fail(err, "'%s' holds a learning rate of %g: the file is corrupt", path,
                           lr);
        }
        sq_optim_set_lr(o, lr);
    }
    float *sl = sq_optim_slots(o);
    for (size_t i = 0; i < k * n; i++) {
        uint32_t bits = (uint32_t)get_le(st + STATE_HEAD + 4 * i, 4);
        memcpy(&sl[i], &bits, 4);
    }
    sq_optim_free(c->opt);
    c->opt = o;
    c->opt_n = m->nparams;
    return 0;
}

/* Builds the model of file text `arch` with weights w (p floats, LE). */
static sq_model *from_text(char *arch, const unsigned char *w, size_t p, const char *path,
                           sq_error *err)
{
    sq_model *m = sq_calloc(1, sizeof *m);
    sq_layer **layers = NULL;
    int n = 0, cap = 0, lineno = 0, have_shape = 0, explicit_input = 0;
    sq_shape in = { 0 };
    sq_group *group = NULL;
    if (!m) {
        sq_fail(err, "out of memory");
        return NULL;
    }
    snprintf(m->name, sizeof m->name, "sequential");
    char *save = NULL;
    for (char *line = strtok_r(arch, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        lineno++;
        char *words[MAX_WORDS];
        int nw = 0;
        char *ws = NULL;
        for (char *t = strtok_r(line, " \t", &ws); t && nw < MAX_WORDS; t = strtok_r(NULL, " \t", &ws))
            words[nw++] = t;
        if (nw == 0 || words[0][0] == '#')
            continue;
        sq_error e2;
        if (sq_poll(err) < 0)
            goto fail;
        if ((!strcmp(words[0], "model") || !strcmp(words[0], "begin_model")) && nw == 2
            && sq_check_name("model", words[1], &e2) < 0) {
            sq_fail(err, "'%s': architecture line %d: %s", path, lineno, e2.msg);
            goto fail;
        }
        if (!strcmp(words[0], "model") && nw == 2) {
            strcpy(m->name, words[1]);
        } else if ((!strcmp(words[0], "input") || !strcmp(words[0], "build")) && !have_shape) {
            explicit_input = !strcmp(words[0], "input");
            if (parse_dims(words, nw, 1, &in, !explicit_input) < 0)
                goto corrupt;
            have_shape = 1;
        } else if (!strcmp(words[0], "begin_model") && nw == 2 && !group) {
            if (!(group = sq_calloc(1, sizeof *group))) {
                sq_fail(err, "out of memory");
                goto fail;
            }
            strcpy(group->name, words[1]);
        } else if (!strcmp(words[0], "end_model") && group) {
            if (group->refs == 0)
                free(group);
            group = NULL;
        } else if (!strcmp(words[0], "add") && nw >= 2) {
            const sq_layer_kind *k = sq_kind_find(words[1]);
            sq_shape ishape;
            if (!k)
                goto corrupt;
            sq_layer *l = sq_layer_create(k, nw - 2, words + 2, &ishape, &e2);
            if (!l) {
                sq_fail(err, "'%s': architecture line %d: %s", path, lineno, e2.msg);
                goto fail;
            }
            if (n == cap) {
                cap = cap ? 2 * cap : 16;
                sq_layer **a = sq_realloc(layers, (size_t)cap * sizeof *a);
                if (!a) {
                    sq_layer_free(l);
                    sq_fail(err, "out of memory");
                    goto fail;
                }
                layers = a;
            }
            if (group) {
                l->group = group;
                group->refs++;
            }
            layers[n++] = l;
        } else if (!strcmp(words[0], "compile")) {
            if (sq_compile_model_words(m, nw - 1, words + 1, &e2) < 0) {
                sq_fail(err, "'%s': architecture line %d: %s", path, lineno, e2.msg);
                goto fail;
            }
        } else {
            goto corrupt;
        }
    }
    if (group) {
        if (group->refs == 0)
            free(group);
        group = NULL;
        goto corrupt;
    }
    m->layers = layers;
    m->n = n;
    m->cap = cap;
    layers = NULL;
    if (check_names(m, path, err) < 0)
        goto fail;
    if (have_shape && n > 0) {
        sq_rng rng;
        sq_rng_seed(&rng, 0);
        sq_layer **arr = sq_malloc((size_t)n * sizeof *arr);
        if (!arr) {
            sq_fail(err, "out of memory");
            goto fail;
        }
        memcpy(arr, m->layers, (size_t)n * sizeof *arr);
        if (sq_model_build(m, arr, n, &in, &rng, err) < 0) {
            free(arr);
            goto fail;
        }
        m->explicit_input = explicit_input;
        m->deferred_built = !explicit_input;
    } else if (have_shape) {
        m->input_shape = in;
        m->built = 1;
        m->explicit_input = explicit_input;
    }
    if ((m->built ? m->nparams : 0) != p) {
        sq_fail(err, "'%s' holds %zu weights but its architecture needs %zu: the file is corrupt",
                path, p, m->built ? m->nparams : 0);
        goto fail;
    }
    for (size_t i = 0; i < p; i++) {
        if (i % POLL_EVERY == 0 && sq_poll(err) < 0)
            goto fail;
        uint32_t bits = (uint32_t)get_le(w + 4 * i, 4);
        memcpy(&m->params[i], &bits, 4);
    }
    return m;
corrupt:
    sq_fail(err, "'%s': architecture line %d is not understood: the file is corrupt or from "
            "a newer seqsh", path, lineno);
fail:
    if (group && group->refs == 0)
        free(group);
    for (int i = 0; layers && i < n; i++)
        sq_layer_free(layers[i]);
    free(layers);
    sq_model_free(m);
    return NULL;
}

sq_model *sq_model_from_bytes(const unsigned char *buf, size_t len, const char *path,
                              sq_error *err)
{
    sq_model *m = NULL;
    char *text = NULL;
    if (len < 8 || memcmp(buf, MAGIC, 8)) {
        sq_fail(err, "'%s' is not a seqsh model file (bad magic number)", path);
        goto done;
    }
    if (len < 16) {
        sq_fail(err, "'%s' is truncated", path);
        goto done;
    }
    uint32_t version = (uint32_t)get_le(buf + 8, 4);
    if (version != 1 && version != VERSION) {
        sq_fail(err, "'%s' is a seqsh model of format version %u; this seqsh reads versions 1 "
                "to %u", path, version, VERSION);
        goto done;
    }
    /* version 2 has the optimizer state's length after the weights */
    uint64_t extra = version >= 2 ? 8 : 0;
    uint64_t t = get_le(buf + 12, 4);
    if (t > len || len - t < 28 + extra) {
        sq_fail(err, "'%s' is truncated", path);
        goto done;
    }
    uint64_t p = get_le(buf + 16 + t, 8);
    uint64_t S = 0;
    if (p > (len - 28 - extra - t) / 4) {
        sq_fail(err, "'%s' is truncated or has trailing bytes: its header says %llu weights",
                path, (unsigned long long)p);
        goto done;
    }
    if (version >= 2) {
        S = get_le(buf + 24 + t + 4 * p, 8);
        if (S > len - 28 - extra - t - 4 * p) {
            sq_fail(err, "'%s' is truncated: its optimizer state needs %llu bytes", path,
                    (unsigned long long)S);
            goto done;
        }
    }
    if (28 + extra + t + 4 * p + S != len) {
        sq_fail(err, "'%s' is truncated or has trailing bytes: its header says %llu weights",
                path, (unsigned long long)p);
        goto done;
    }
    uint32_t crc;
    if (sq_crc32_polled(buf, len - 4, &crc, err) < 0)
        goto done;
    if (crc != (uint32_t)get_le(buf + len - 4, 4)) {
        sq_fail(err, "'%s' is corrupt (its CRC-32 check fails)", path);
        goto done;
    }
    if (!(text = sq_malloc(t + 1))) {
        sq_fail(err, "out of memory");
        goto done;
    }
    memcpy(text, buf + 16, t);
    text[t] = '\0';
    if (memchr(text, '\0', t)) {
        sq_fail(err, "'%s' is corrupt (NUL byte in the architecture)", path);
        goto done;
    }
    m = from_text(text, buf + 24 + t, (size_t)p, path, err);
    if (m && S > 0 && restore_optimizer(m, buf + 32 + t + 4 * p, (size_t)S, path, err) < 0) {
        sq_model_free(m);
        m = NULL;
    }
done:
    free(text);
    return m;
}

/* Reads and checks a model file in any format; returns a new model or
 * NULL. notes (may be NULL) get what a foreign format's file held that
 * seqsh does not carry over. An .h5 file is read in a child process that
 * intr (may be NULL) and a time limit can stop (h5_child.c). */
static sq_model *read_model(const char *path, sbuf *notes, volatile int *intr, sq_error *err)
{
    unsigned char *buf;
    size_t len;
    sbuf drop = { 0 };
    switch (format_of(path)) {
    case FMT_TFJS: {
        sq_model *m = sq_tfjs_read(path, notes ? notes : &drop, err);
        free(drop.s);
        return m;
    }
    case FMT_H5: {
        sq_model *m = sq_h5_read_isolated(path, notes ? notes : &drop, intr, err);
        free(drop.s);
        return m;
    }
    case FMT_KERAS3:
        keras3_refused(path, err);
        return NULL;
    default: break;
    }
    if (sq_read_whole_file(path, &buf, &len, err) < 0)
        return NULL;
    sq_model *m = sq_model_from_bytes(buf, len, path, err);
    free(buf);
    return m;
}

int sq_load(sq_session *s, const char *path, sq_error *err)
{
    return sq_load_noted(s, path, NULL, 0, err);
}

int sq_load_noted(sq_session *s, const char *path, char *notes, size_t n, sq_error *err)
{
    sbuf nb = { 0 };
    if (notes && n)
        notes[0] = '\0';
    sq_model *m = read_model(path, &nb, s->interrupt, err);
    if (!m) {
        free(nb.s);
        return -1;
    }
    if (notes && n && nb.s)
        snprintf(notes, n, "%s", nb.s);
    free(nb.s);
    sq_model_free(s->model);
    s->model = m;
    return 0;
}

int sq_add_model(sq_session *s, const char *path, const char *name, int trainable,
                 sq_error *err)
{
    sq_model *cur = s->model;
    if (name && sq_check_name("layer", name, err) < 0)
        return -1;
    sq_model *sub = read_model(path, NULL, s->interrupt, err);
    if (!sub)
        return -1;
    int rc = -1;
    sq_layer **arr = NULL;
    const float **src = NULL;
    sq_group *g = NULL;
    if (sub->n == 0) {
        sq_fail(err, "'%s' holds a model with no layers", path);
        goto done;
    }
    if (!name)
        name = sub->name;
    if (sq_model_check_name(cur, name, err) < 0)
        goto done;
    if (!cur->built && cur->n > 0) {
        sq_fail(err, "add model needs a built model to stack on (give it an input first) or "
                "an empty one");
        goto done;
    }
    if (cur->n == 0 && !sub->built) {
        sq_fail(err, "'%s' holds a model that was never built; build it (input or call) "
                "before saving it", path);
        goto done;
    }
    /* Keras checks a nested model's Input against what it is stacked on:
     * without this a model saved from `input 2 2` whose first layers have
     * no weights (Flatten, Reshape, pooling) would silently take (None, 4) */
    if (cur->built && sub->built && sub->explicit_input) {
        const sq_shape *at = cur->n ? &cur->layers[cur->n - 1]->out_shape : &cur->input_shape;
        /* a layer that would refuse the shape says so in its own words */
        sq_shape sh = *at, next;
        for (int i = 0; i < sub->n; i++) {
            if (sq_layer_check_input(sub->layers[i], &sh, &next, err) < 0)
                goto done;
            sh = next;
        }
        if (name != sub->name)
            snprintf(sub->name, sizeof sub->name, "%s", name);
        if (sq_model_check_input(sub, at, err) < 0)
            goto done;
    }
    int total = cur->n + sub->n;
    arr = sq_malloc((size_t)total * sizeof *arr);
    src = sq_calloc((size_t)total, sizeof *src);
    g = sq_calloc(1, sizeof *g);
    if (!arr || !src || !g) {
        sq_fail(err, "out of memory");
        goto done;
    }
    snprintf(g->name, sizeof g->name, "%s", name);
    if (cur->n)
        memcpy(arr, cur->layers, (size_t)cur->n * sizeof *arr);
    for (int i = 0; i < sub->n; i++) {
        arr[cur->n + i] = sub->layers[i];
        /* a model without weights (all layers weightless, or unbuilt) has
         * no buffer to point into */
        src[cur->n + i] = sub->params ? sub->params + sub->layers[i]->param_off : NULL;
    }
    int was_built = cur->built;
    sq_shape in = was_built ? cur->input_shape : sub->input_shape;
    if (!was_built)
        in.d[0] = -1;
    if (sq_model_build_from(cur, arr, total, &in, &s->rng, src, err) < 0)
        goto done;
    arr = NULL;   /* the model owns it now */
    if (!was_built) {
        cur->explicit_input = 1;
        cur->deferred_built = 0;
    }
    for (int i = 0; i < sub->n; i++) {
        sq_layer *l = sub->layers[i];
        if (l->group && --l->group->refs == 0)
            free(l->group);
        l->group = g;
        g->refs++;
        if (trainable >= 0)
            l->trainable = trainable;
    }
    g = NULL;
    sub->n = 0;   /* its layers now belong to cur */
    rc = 0;
done:
    free(g);
    free(arr);
    free(src);
    sq_model_free(sub);
    return rc;
}

int sq_export(const sq_session *s, const char *format, const char *path, sq_error *err)
{
    if (!strcmp(format, "onnx"))
        return sq_export_onnx(s->model, path, err);
    if (!strcmp(format, "pytorch") || !strcmp(format, "torch"))
        return sq_export_python(s->model, 1, path, err);
    if (!strcmp(format, "keras"))
        return sq_export_python(s->model, 0, path, err);
    return sq_fail(err, "unknown export format '%s' (formats: onnx, pytorch, keras; TF.js and "
                   "Keras .h5 are 'save DIR/model.json' and 'save FILE.h5')", format);
}
