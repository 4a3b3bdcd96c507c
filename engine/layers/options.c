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
    char list[256];
    size_t k = 0;
    for (c = d->choices; *c && k + 8 < sizeof list; c++)
        list[k++] = *c == '|' ? ',' : *c;
    list[k] = '\0';
    return sq_fail(err, "%s: `%s` must be one of %s; got '%s'", kind->class_name, d->name,
                   list, s);
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
            return sq_fail(err, "Unknown activation function: %s. Please ensure this object is "
                           "passed to the `custom_objects` argument. See "
                           "https://www.tensorflow.org/guide/keras/save_and_serialize"
                           "#registering_the_custom_object for details.", text);
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
        if (l->group && --l->group->refs == 0)
            free(l->group);
        free(l->state);
        free(l->opt);
        free(l->wopt);
        free(l);
    }
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

void sq_layer_describe(const sq_layer *l, sbuf *b)
{
    const sq_layer_kind *k = l->kind;
    sb_printf(b, "add %s", k->base_name);
    for (int i = 0; k->opts && k->opts[i].name; i++) {
        if (!l->opt[i].set)
            continue;
        sb_printf(b, " %s=", k->opts[i].name);
        describe_value(&k->opts[i], &l->opt[i], b);
    }
    sq_wopt_describe(l, b);
    if (k->has_activation && l->act)
        sb_printf(b, " activation=%s", sq_activation_name(l->act));
    sb_printf(b, " name=%s", l->name);
    if (!l->trainable)
        sb_printf(b, " trainable=false");
}

sq_layer *sq_layer_create(const sq_layer_kind *kind, int argc, char **argv,
                          sq_shape *input_shape, sq_error *err)
{
    sq_layer *l = sq_calloc(1, sizeof *l);
    if (!l) {
        sq_fail(err, "out of memory");
        return NULL;
    }
    l->kind = kind;
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
    int npos = 0, act_set = 0;
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
            if (!*val || strlen(val) >= SQ_NAME_MAX || strpbrk(val, " \t/:")) {
                sq_fail(err, "invalid layer name '%s' (1 to %d characters, no blanks, '/' or ':')",
                        val, SQ_NAME_MAX - 1);
                goto fail;
            }
            strcpy(l->name, val);
        } else if (!strcmp(key, "input_shape")) {
            long d[SQ_MAX_RANK];
            int n;
            if (sq_parse_ints(val, d, SQ_MAX_RANK - 1, &n, err) < 0)
                goto fail;
            for (int i = 0; i < n; i++) {
                if (d[i] <= 0) {
                    sq_fail(err, "input_shape dimensions must be positive, got %ld", d[i]);
                    goto fail;
                }
                input_shape->d[i] = d[i];
            }
            input_shape->rank = n;
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
                sq_fail(err, "Keyword argument not understood: %s", key);
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
