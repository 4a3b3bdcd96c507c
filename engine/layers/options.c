/* options.c - turns the words after `add KIND` into a configured layer:
 * positionals in Keras constructor order, bare activation names, and
 * key=value options checked against the kind's option table. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "layers/layer.h"

int sq_parse_ints(const char *text, long *out, int max, int *n, sq_error *err)
{
    char buf[256];
    size_t len = strlen(text);
    if (len >= sizeof buf)
        return sq_fail(err, "tuple too long: '%.40s...'", text);
    const char *p = text;
    while (isspace((unsigned char)*p))
        p++;
    int paren = *p == '(';
    if (paren)
        p++;
    strcpy(buf, p);
    char *q = buf + strlen(buf);
    while (q > buf && isspace((unsigned char)q[-1]))
        *--q = '\0';
    if (paren) {
        if (q == buf || q[-1] != ')')
            return sq_fail(err, "unbalanced parenthesis in '%s'", text);
        *--q = '\0';
    }
    int k = 0;
    char *save = NULL;
    char *tok = strtok_r(buf, ",", &save);
    for (; tok; tok = strtok_r(NULL, ",", &save)) {
        while (isspace((unsigned char)*tok))
            tok++;
        char *e = tok + strlen(tok);
        while (e > tok && isspace((unsigned char)e[-1]))
            *--e = '\0';
        if (!*tok)
            continue;
        if (k == max)
            return sq_fail(err, "too many values in '%s' (at most %d)", text, max);
        sq_error e2;
        if (sq_check_long(NULL, "?", tok, INT_MIN, INT_MAX, &out[k], &e2) < 0)
            return sq_fail(err, "'%s' is not an integer (in '%s')", tok, text);
        k++;
    }
    if (k == 0)
        return sq_fail(err, "expected integers, got '%s'", text);
    *n = k;
    return 0;
}

int sq_opt_index(const sq_layer_kind *kind, const char *name)
{
    for (int i = 0; kind->opts && kind->opts[i].name; i++)
        if (strcmp(kind->opts[i].name, name) == 0)
            return i;
    return -1;
}

static int is_number(const char *s)
{
    char *end;
    strtod(s, &end);
    return end != s && *end == '\0';
}

/* Replaces s by the entry of d->choices it names (ignoring case), or fails
 * listing them. */
static int pick_choice(const sq_layer_kind *kind, const sq_optdef *d, char *s, sq_error *err)
{
    const char *c = d->choices;
    while (*c) {
        size_t len = strcspn(c, "|");
        if (strlen(s) == len && !strncasecmp(s, c, len)) {
            memcpy(s, c, len);
            return 0;
        }
        c += len + (c[len] == '|');
    }
    char list[256], names[256], hint[96];
    const char *cands[16];
    int nc = 0;
    size_t k = 0;
    for (c = d->choices; *c && k + 8 < sizeof list; c++)
        list[k++] = *c == '|' ? ',' : *c;
    list[k] = '\0';
    snprintf(names, sizeof names, "%s", d->choices);
    for (char *p = names; p && *p && nc < 16; nc++) {
        cands[nc] = p;
        p = strchr(p, '|');
        if (p)
            *p++ = '\0';
    }
    return sq_fail(err, "%s: `%s` must be one of %s; got '%s'%s", kind->class_name, d->name,
                   list, s, sq_hint(s, cands, nc, hint, sizeof hint));
}

/* Keras's message for an unknown activation, without the Python-only
 * advice, with the nearest name instead. */
static int fail_activation(const char *text, sq_error *err)
{
    const char *names[64];
    char hint[96];
    int n = sq_activation_count() < 64 ? sq_activation_count() : 64;
    for (int i = 0; i < n; i++)
        names[i] = sq_activation_name(i);
    return sq_fail(err, "Unknown activation function: %s%s; 'help activations' lists them",
                   text, sq_hint(text, names, n, hint, sizeof hint));
}

/* Parses one option value by its declared type. */
static int parse_value(const sq_layer_kind *kind, const sq_optdef *d,
                       const char *text, sq_optval *v, sq_error *err)
{
    memset(v, 0, sizeof *v);
    v->set = 1;
    switch (d->type) {
    case OPT_INT:
        if (sq_check_long(kind->class_name, d->name, text, INT_MIN, INT_MAX, &v->i[0],
                          err) < 0)
            return -1;
        v->n = 1;
        return 0;
    case OPT_INTS: {
        sq_error e2;
        if (sq_parse_ints(text, v->i, SQ_MAX_RANK, &v->n, &e2) < 0)
            return sq_fail(err, "%s: `%s` must be an integer or a tuple of %d integers, got '%s'",
                           kind->class_name, d->name, d->tuple_len, text);
        if (v->n == 1)
            for (v->n = 1; v->n < d->tuple_len; v->n++)
                v->i[v->n] = v->i[0];
        if (v->n != d->tuple_len) {
            char shown[128];
            sq_shape sh = { .rank = v->n };
            memcpy(sh.d, v->i, sizeof sh.d);
            return sq_fail(err, "The `%s` argument must be a tuple of %d integers. Received: %s",
                           d->name, d->tuple_len, sq_shape_str(&sh, shown, sizeof shown));
        }
        return 0;
    }
    case OPT_FLOAT:
        return sq_check_double(kind->class_name, d->name, text, -HUGE_VAL, HUGE_VAL, &v->f,
                               err);
    case OPT_BOOL: {
        int b;
        if (sq_check_bool(kind->class_name, d->name, text, &b, err) < 0)
            return -1;
        v->i[0] = b;
        return 0;
    }
    case OPT_ACT:
        if (sq_activation_find(text) < 0)
            return fail_activation(text, err);
        /* fall through */
    case OPT_STR:
        if (strlen(text) >= sizeof v->s)
            return sq_fail(err, "%s: `%s` is too long", kind->class_name, d->name);
        strcpy(v->s, text);
        if (d->choices && d->type == OPT_STR)
            return pick_choice(kind, d, v->s, err);
        return 0;
    }
    return sq_fail(err, "internal: bad option type");
}

void sq_layer_free(sq_layer *l)
{
    if (l) {
        if (l->kind->deinit && l->state)
            l->kind->deinit(l);
        if (l->group && --l->group->refs == 0)
            free(l->group);
        sq_layer_free(l->inner);
        free(l->states);
        free(l->state);
        free(l->opt);
        free(l->wopt);
        free(l);
    }
}

sq_layer *sq_layer_clone(const sq_layer *l)
{
    sq_layer *c = sq_malloc(sizeof *c);
    if (!c)
        return NULL;
    *c = *l;
    c->group = NULL;
    c->opt = NULL;
    c->state = NULL;
    c->inner = NULL;
    c->states = NULL;
    c->wopt = NULL;
    if (l->nwopt) {
        if (!(c->wopt = sq_malloc((size_t)l->nwopt * sizeof *c->wopt)))
            goto fail;
        memcpy(c->wopt, l->wopt, (size_t)l->nwopt * sizeof *c->wopt);
    }
    size_t nopt = 1;
    while (l->kind->opts && l->kind->opts[nopt - 1].name)
        nopt++;
    size_t nstates = l->states && l->kind->states && l->in_shape.rank > 0
                   ? l->kind->states(l) * (size_t)l->in_shape.d[0] : 0;
    if (!(c->opt = sq_malloc(nopt * sizeof *c->opt)))
        goto fail;
    memcpy(c->opt, l->opt, nopt * sizeof *c->opt);
    if (l->kind->state_size) {
        if (!(c->state = sq_malloc(l->kind->state_size)))
            goto fail;
        memcpy(c->state, l->state, l->kind->state_size);
        if (l->kind->clone_state && l->kind->clone_state(c, l) < 0) {
            free(c->state);
            c->state = NULL;
            goto fail;
        }
    }
    if (l->inner && !(c->inner = sq_layer_clone(l->inner)))
        goto fail;
    if (nstates) {
        if (!(c->states = sq_malloc(nstates * sizeof *c->states)))
            goto fail;
        memcpy(c->states, l->states, nstates * sizeof *c->states);
    }
    return c;
fail:
    sq_layer_free(c);
    return NULL;
}

/* One option value as the text that parses back to it. */
static void describe_value(const sq_optdef *d, const sq_optval *v, sbuf *b)
{
    switch (d->type) {
    case OPT_INT:
        sb_printf(b, "%ld", v->i[0]);
        break;
    case OPT_INTS:
        sb_printf(b, "(");
        for (int k = 0; k < v->n; k++)
            sb_printf(b, "%s%ld", k ? "," : "", v->i[k]);
        sb_printf(b, ")");
        break;
    case OPT_FLOAT:
        sb_printf(b, "%.17g", v->f);
        break;
    case OPT_BOOL:
        sb_printf(b, "%s", v->i[0] ? "true" : "false");
        break;
    default:
        sb_printf(b, "%s", v->s);
        break;
    }
}

/* "KIND opts..." of l; a wrapper's wrapped layer comes first, without
 * its name (a wrapper option) and trainable flag (the wrapper's). */
static void describe_body(const sq_layer *l, sbuf *b, int own)
{
    const sq_layer_kind *k = l->kind;
    sb_printf(b, "%s", k->base_name);
    if (l->inner) {
        sb_printf(b, " ");
        describe_body(l->inner, b, 0);
    }
    for (int i = 0; k->opts && k->opts[i].name; i++) {
        if (!l->opt[i].set)
            continue;
        sb_printf(b, " %s=", k->opts[i].name);
        describe_value(&k->opts[i], &l->opt[i], b);
    }
    sq_wopt_describe(l, b);
    if (k->has_activation && l->act)
        sb_printf(b, " activation=%s", sq_activation_name(l->act));
    if (!own)
        return;
    sb_printf(b, " name=%s", l->name);
    if (!l->trainable)
        sb_printf(b, " trainable=false");
}

void sq_layer_describe(const sq_layer *l, sbuf *b)
{
    sb_printf(b, "add ");
    describe_body(l, b, 1);
}

/* The input shape words of the first layer: dims (input_shape=) and a
 * batch (batch_size=), or a whole batch_input_shape=. */
static int parse_input_shape(const char *val, int with_batch, sq_shape *sh, sq_error *err)
{
    long d[SQ_MAX_RANK];
    int n;
    if (sq_parse_ints(val, d, with_batch ? SQ_MAX_RANK : SQ_MAX_RANK - 1, &n, err) < 0)
        return -1;
    if (with_batch && n < 2)
        return sq_fail(err, "batch_input_shape needs the batch and at least one more "
                       "dimension, got '%s'", val);
    for (int i = 0; i < n; i++)
        if (d[i] <= 0)
            return sq_fail(err, "%s dimensions must be positive, got %ld",
                           with_batch ? "batch_input_shape" : "input_shape", d[i]);
    long batch = sh->rank > 0 ? sh->d[0] : -1;
    sh->rank = with_batch ? n : n + 1;
    sh->d[0] = with_batch ? d[0] : batch;
    for (int i = with_batch ? 1 : 0; i < n; i++)
        sh->d[with_batch ? i : i + 1] = d[i];
    return 0;
}

/* Whether a key=value word belongs to a wrapper rather than to the layer
 * it wraps. */
static int wrapper_word(const sq_layer_kind *kind, const char *w)
{
    static const char *const own[] = { "name", "input_shape", "batch_input_shape",
                                        "batch_size", "trainable" };
    const char *eq = strchr(w, '=');
    if (!eq)
        return 0;
    char key[64];
    size_t klen = (size_t)(eq - w);
    if (klen == 0 || klen >= sizeof key)
        return 0;
    memcpy(key, w, klen);
    key[klen] = '\0';
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++)
        if (!strcmp(key, own[i]))
            return 1;
    return sq_opt_index(kind, key) >= 0;
}

static sq_layer *create(const sq_layer_kind *kind, int argc, char **argv,
                        sq_shape *input_shape, sq_layer *inner, sq_error *err);

/* `add WRAPPER KIND ARGS...`: the wrapped layer from KIND and every word
 * that is not the wrapper's, then the wrapper around it. */
static sq_layer *create_wrapper(const sq_layer_kind *kind, int argc, char **argv,
                                sq_shape *input_shape, sq_error *err)
{
    if (argc < 1 || strchr(argv[0], '=')) {
        sq_fail(err, "%s needs the layer to wrap: add %s KIND [ARGS...], e.g. add %s %s",
                kind->class_name, kind->base_name, kind->base_name,
                !strcmp(kind->base_name, "bidirectional") ? "lstm 32" : "dense 8");
        return NULL;
    }
    const sq_layer_kind *ik = sq_kind_find(argv[0]);
    if (!ik) {
        sq_fail(err, "Unknown layer: %s", argv[0]);
        return NULL;
    }
    char **mine = sq_malloc((size_t)argc * sizeof *mine);
    char **theirs = sq_malloc((size_t)argc * sizeof *theirs);
    sq_layer *l = NULL, *in = NULL;
    int nm = 0, nt = 0;
    if (!mine || !theirs) {
        sq_fail(err, "out of memory");
        goto done;
    }
    for (int a = 1; a < argc; a++) {
        /* a key given again later is the later one's: the wrapper's words
         * come last in what describe writes, after a wrapped wrapper's */
        int later = 0;
        size_t klen = strcspn(argv[a], "=");
        for (int b = a + 1; b < argc && !later; b++)
            later = !strncmp(argv[a], argv[b], klen) && argv[b][klen] == '=';
        if (wrapper_word(kind, argv[a]) && !later)
            mine[nm++] = argv[a];
        else
            theirs[nt++] = argv[a];
    }
    sq_shape ignored;
    if (!(in = sq_layer_create(ik, nt, theirs, &ignored, err)))
        goto done;
    l = create(kind, nm, mine, input_shape, in, err);
    in = NULL;   /* create owns it, failed or not */
done:
    sq_layer_free(in);
    free(mine);
    free(theirs);
    return l;
}

sq_layer *sq_layer_create(const sq_layer_kind *kind, int argc, char **argv,
                          sq_shape *input_shape, sq_error *err)
{
    input_shape->rank = 0;
    if (kind->wraps)
        return create_wrapper(kind, argc, argv, input_shape, err);
    return create(kind, argc, argv, input_shape, NULL, err);
}

/* A layer of kind (around inner, which it then owns, when kind wraps). */
static sq_layer *create(const sq_layer_kind *kind, int argc, char **argv,
                        sq_shape *input_shape, sq_layer *inner, sq_error *err)
{
    sq_layer *l = sq_calloc(1, sizeof *l);
    if (!l) {
        sq_fail(err, "out of memory");
        sq_layer_free(inner);
        return NULL;
    }
    l->kind = kind;
    l->inner = inner;
    l->trainable = 1;
    input_shape->rank = 0;
    int nopts = 0;
    while (kind->opts && kind->opts[nopts].name)
        nopts++;
    /* at least one: a wrong activation word is reported through opt[0] */
    if (!(l->opt = sq_calloc((size_t)nopts + 1, sizeof *l->opt))) {
        sq_fail(err, "out of memory");
        goto fail;
    }
    if (kind->state_size && !(l->state = sq_calloc(1, kind->state_size))) {
        sq_fail(err, "out of memory");
        goto fail;
    }
    int npos = 0, act_set = 0, shape_given = 0;
    long batch = 0;
    /* the weight options (kernel_initializer=, ...): read once the kind is
     * configured, since its weights tell which there are */
    int generic[SQ_ARGS_MAX], ngeneric = 0;
    for (int a = 0; a < argc; a++) {
        const char *w = argv[a];
        const char *eq = strchr(w, '=');
        if (!eq) {
            if (kind->has_activation && !is_number(w) && sq_activation_find(w) >= 0
                && !act_set) {
                l->act = sq_activation_find(w);
                act_set = 1;
                continue;
            }
            if (npos >= kind->npositional) {
                if (kind->has_activation && !is_number(w) && !act_set && npos == kind->npositional) {
                    /* a word where an activation could go: say so */
                    parse_value(kind, &(sq_optdef){ .name = "activation", .type = OPT_ACT },
                                w, &l->opt[0], err);
                    goto fail;
                }
                sq_fail(err, "%s takes %d positional argument%s but %d were given (extra: '%s')",
                        kind->class_name, kind->npositional,
                        kind->npositional == 1 ? "" : "s", npos + 1, w);
                goto fail;
            }
            if (parse_value(kind, &kind->opts[npos], w, &l->opt[npos], err) < 0)
                goto fail;
            npos++;
            continue;
        }
        size_t klen = (size_t)(eq - w);
        char key[64];
        if (klen == 0 || klen >= sizeof key) {
            sq_fail(err, "bad option '%s' (expected key=value)", w);
            goto fail;
        }
        memcpy(key, w, klen);
        key[klen] = '\0';
        const char *val = eq + 1;
        if (!strcmp(key, "name")) {
            if (sq_check_name("layer", val, err) < 0)
                goto fail;
            strcpy(l->name, val);
        } else if (!strcmp(key, "input_shape") || !strcmp(key, "batch_input_shape")) {
            if (parse_input_shape(val, key[0] == 'b', input_shape, err) < 0)
                goto fail;
            shape_given = 1;
        } else if (!strcmp(key, "batch_size")) {
            long v;
            if (sq_check_long(kind->class_name, "batch_size", val, 1, INT_MAX, &v, err) < 0)
                goto fail;
            batch = v;
        } else if (!strcmp(key, "trainable")) {
            if (sq_check_bool(kind->class_name, "trainable", val, &l->trainable, err) < 0)
                goto fail;
        } else if (!strcmp(key, "activation") && kind->has_activation) {
            sq_optval tmp;
            if (parse_value(kind, &(sq_optdef){ .name = "activation", .type = OPT_ACT },
                            val, &tmp, err) < 0)
                goto fail;
            l->act = sq_activation_find(val);
            act_set = 1;
        } else {
            int i = sq_opt_index(kind, key);
            if (i < 0 && ngeneric < SQ_ARGS_MAX
                && (strstr(key, "_initializer") || strstr(key, "_regularizer"))) {
                generic[ngeneric++] = a;
                continue;
            }
            if (i < 0) {
                const char *names[64];
                char hint[96];
                int nn = sq_kind_options(kind->class_name, names, 64);
                if (*sq_hint(key, names, nn, hint, sizeof hint))
                    sq_fail(err, "Keyword argument not understood: %s%s", key, hint);
                else {
                    char low[64];
                    size_t j = 0;
                    for (const char *c = kind->class_name; *c && j + 1 < sizeof low; c++)
                        low[j++] = (char)tolower((unsigned char)*c);
                    low[j] = '\0';
                    sq_fail(err, "Keyword argument not understood: %s; 'help %s' lists the "
                            "arguments of %s", key, low, kind->class_name);
                }
                goto fail;
            }
            if (l->opt[i].set) {
                sq_fail(err, "%s got multiple values for argument '%s'", kind->class_name, key);
                goto fail;
            }
            if (parse_value(kind, &kind->opts[i], val, &l->opt[i], err) < 0)
                goto fail;
        }
    }
    /* defaults, and required arguments */
    for (int i = 0; kind->opts && kind->opts[i].name; i++) {
        if (l->opt[i].set)
            continue;
        if (!kind->opts[i].def) {
            int missing = 0;
            char list[256] = "";
            for (int j = i; kind->opts[j].name; j++) {
                if (!kind->opts[j].def && !l->opt[j].set) {
                    size_t len = strlen(list);
                    snprintf(list + len, sizeof list - len, "%s'%s'", missing ? " and " : "",
                             kind->opts[j].name);
                    missing++;
                }
            }
            sq_fail(err, "%s is missing %d required positional argument%s: %s",
                    kind->class_name, missing, missing == 1 ? "" : "s", list);
            goto fail;
        }
        if (parse_value(kind, &kind->opts[i], kind->opts[i].def, &l->opt[i], err) < 0)
            goto fail;
        l->opt[i].set = 0;
    }
    if (kind->configure && kind->configure(l, l->opt, err) < 0)
        goto fail;
    /* Keras: batch_size= goes with input_shape=; Embedding declares its
     * own input shape when given none */
    if (!shape_given && kind->default_input && kind->default_input(l, input_shape) == 0) {
        memmove(input_shape->d + 1, input_shape->d, (SQ_MAX_RANK - 1) * sizeof input_shape->d[0]);
        input_shape->d[0] = -1;
        input_shape->rank++;
    }
    if (batch > 0 && input_shape->rank > 0 && input_shape->d[0] < 0)
        input_shape->d[0] = batch;
    for (int g = 0; g < ngeneric; g++) {
        const char *w = argv[generic[g]], *eq = strchr(w, '=');
        char key[64];
        snprintf(key, sizeof key, "%.*s", (int)(eq - w), w);
        if (!sq_wopt_accepts(l, key)) {
            sq_fail(err, "Keyword argument not understood: %s", key);
            goto fail;
        }
        if (sq_wopt_set(l, key, eq + 1, err) < 0)
            goto fail;
    }
    return l;
fail:
    sq_layer_free(l);
    return NULL;
}
