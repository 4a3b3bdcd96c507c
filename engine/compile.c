/* compile.c - model.compile(): checks and keeps the loss, metrics and
 * optimizer settings; the optimizer's state itself is made at the first
 * fit. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "compile.h"


void sq_compiled_free(struct sq_compiled *c)
{
    if (c) {
        for (int i = 0; i < c->nmetrics; i++)
            sq_metric_cfg_free(&c->metric[i]);
        sq_optim_free(c->opt);
        free(c->hist);
        free(c);
    }
}

int sq_compile(sq_session *s, const char *optimizer, const char *loss,
               const char *metrics, int n, const char *const *keys,
               const char *const *values, sq_error *err)
{
    return sq_compile_model(s->model, optimizer, loss, metrics, n, keys, values, err);
}

int sq_compile_model_words(sq_model *m, int argc, char **argv, sq_error *err)
{
    sq_args a;
    char *plain[SQ_ARGS_MAX];
    int np;
    if (argc > SQ_ARGS_MAX)
        return sq_fail(err, "compile: too many options (at most %d)", SQ_ARGS_MAX);
    if (sq_args_init(&a, "compile", argc, argv, plain, &np, err) < 0)
        return -1;
    if (np > 0)
        return sq_fail(err, "compile takes key=value options, got '%s'", plain[0]);
    const char *optimizer = sq_arg(&a, "optimizer"), *loss = sq_arg(&a, "loss");
    const char *metrics = sq_arg(&a, "metrics");
    /* the rest: the loss's options and the optimizer's keyword arguments */
    const char *keys[SQ_ARGS_MAX], *vals[SQ_ARGS_MAX];
    char keybuf[SQ_ARGS_MAX][72];
    int n = 0;
    size_t klen;
    for (const char *w; (w = sq_args_unused(&a, n, &klen)); n++) {
        snprintf(keybuf[n], sizeof keybuf[n], "%.*s", (int)klen, w);
        keys[n] = keybuf[n];
        vals[n] = w + klen + 1;
    }
    return sq_compile_model(m, optimizer, loss, metrics, n, keys, vals, err);
}

int sq_compile_words(sq_session *s, int argc, char **argv, sq_error *err)
{
    return sq_compile_model_words(s->model, argc, argv, err);
}

void sq_compiled_describe(const struct sq_compiled *c, sbuf *b)
{
    sb_printf(b, "compile optimizer=%s loss=%s%s", c->optimizer, c->loss_name, c->loss_opts);
    for (int i = 0; i < c->nmetrics; i++)
        sb_printf(b, "%s%s", i ? "," : " metrics=", c->metric_text[i]);
    for (int i = 0; i < c->nopts; i++)
        sb_printf(b, " %s=%s", c->keys[i], c->values[i]);
}

/* Keras's "Unknown loss function: X. Please ensure this object is passed
 * to the `custom_objects` argument. See ... for details." keeps its first
 * sentence; the Python-only advice gives way to the nearest name and where
 * the list is. what: "optimizer", "loss" or "metric". */
static void plain_unknown(sq_error *err, const char *word, const char *what)
{
    char *cut = strstr(err->msg, ". Please ensure this object is passed to the `custom_objects`");
    if (!cut)
        return;
    *cut = '\0';
    /* the word is the message's: "Unknown metric function: X" */
    char from_msg[64];
    if (!word) {
        const char *w = strstr(err->msg, "function: ");
        snprintf(from_msg, sizeof from_msg, "%s", w ? w + 10 : "");
        word = from_msg;
    }
    char names[160][48], hint[96];
    const char *cands[160];
    int n = 0;
    for (int i = 0; n < 160; i++) {
        const char *aliases = NULL, *name;
        if (!strcmp(what, "optimizer"))
            name = sq_optimizer_name(i, NULL);
        else if (!strcmp(what, "loss"))
            name = sq_loss_name_at(i, &aliases);
        else
            name = sq_metric_name_at(i, &aliases);
        if (!name)
            break;
        snprintf(names[n], sizeof names[n], "%s", name);
        cands[n] = names[n];
        n++;
        /* the other spellings, "mse, MSE, MeanSquaredError" */
        for (const char *a = aliases; a && *a && n < 160;) {
            size_t len = strcspn(a, ",");
            snprintf(names[n], sizeof names[n], "%.*s", (int)len, a);
            cands[n] = names[n];
            n++;
            a += len;
            while (*a == ',' || *a == ' ')
                a++;
        }
    }
    size_t k = strlen(err->msg);
    snprintf(err->msg + k, sizeof err->msg - k, "%s; 'help %s' lists them",
             sq_hint(word, cands, n, hint, sizeof hint),
             !strcmp(what, "optimizer") ? "optimizers" : !strcmp(what, "loss") ? "losses"
                                                                             : "metrics");
}

/* One loss option (from_logits=, label_smoothing=, delta=) onto c. */
static int loss_option(struct sq_compiled *c, const char *key, const char *val, sq_error *err)
{
    const char *cls = sq_loss_class(c->loss.loss);
    if (!sq_loss_takes(c->loss.loss, key))
        return sq_fail(err, "%s.__init__() got an unexpected keyword argument '%s'", cls, key);
    char shown[80];
    if (!strcmp(key, "from_logits")) {
        if (sq_check_bool(cls, key, val, &c->loss.from_logits, err) < 0)
            return -1;
        snprintf(shown, sizeof shown, "%s", c->loss.from_logits ? "true" : "false");
    } else {
        double v;
        if (!strcmp(key, "label_smoothing")) {
            if (sq_check_double(cls, key, val, 0, 1, &v, err) < 0)
                return -1;
            c->loss.label_smoothing = (double)(float)v;
        } else {
            if (sq_check_double(cls, key, val, 0, HUGE_VAL, &v, err) < 0)
                return -1;
            c->loss.delta = (double)(float)v;
        }
        sq_py_float(v, shown, sizeof shown);
    }
    size_t len = strlen(c->loss_opts);
    snprintf(c->loss_opts + len, sizeof c->loss_opts - len, " %s=%s", key, shown);
    return 0;
}

/* The metrics list: "a,b", "[a, b]", with call forms ("auc(curve=PR)"). */
static int parse_metrics(struct sq_compiled *c, const char *metrics, sq_error *err)
{
    const char *p = metrics;
    size_t len = sq_unwrap(&p, "[]", NULL);
    const char *start[SQ_ARGS_MAX];
    size_t sz[SQ_ARGS_MAX];
    int k;
    int rc = sq_split_items(p, len, start, sz, MAX_METRICS, &k);
    if (rc == -2)
        return sq_fail(err, "too many metrics (at most %d)", MAX_METRICS);
    if (rc < 0)
        return sq_fail(err, "compile: `metrics` is not a list of metrics: '%s'", metrics);
    for (int i = 0; i < k; i++) {
        char text[256];
        const char *s = start[i];
        size_t n = sz[i];
        if (n >= 2 && (s[0] == '\'' || s[0] == '"') && s[n - 1] == s[0]) {
            s++;
            n -= 2;
        }
        if (n >= sizeof text)
            return sq_fail(err, "metric '%.40s...' is too long", s);
        memcpy(text, s, n);
        text[n] = '\0';
        char name[48];
        if (sq_metric_parse(text, &c->metric[c->nmetrics], name, sizeof name, err) < 0)
            return -1;
        sq_squeeze_blanks(c->metric_text[c->nmetrics], sizeof c->metric_text[0], text);
        /* a second metric of the same name gets _1, _2, ... as in Keras */
        char unique[48];
        snprintf(unique, sizeof unique, "%s", name);
        for (int dup = 1, clash = 1; clash; dup++) {
            clash = 0;
            for (int j = 0; j < c->nmetrics; j++)
                clash |= !strcmp(c->metric_name[j], unique);
            if (clash)
                snprintf(unique, sizeof unique, "%.30s_%d", name, dup);
        }
        strcpy(c->metric_name[c->nmetrics], unique);
        c->nmetrics++;
    }
    return 0;
}

int sq_compile_model(sq_model *m, const char *optimizer, const char *loss,
                     const char *metrics, int n, const char *const *keys,
                     const char *const *values, sq_error *err)
{
    struct sq_compiled *c = sq_calloc(1, sizeof *c);
    if (!c)
        return sq_fail(err, "out of memory");
    if (!optimizer)
        optimizer = "rmsprop";
    if (!loss) {
        free(c);
        return sq_fail(err, "compile needs a loss, e.g. loss=sparse_categorical_crossentropy");
    }
    int l = sq_loss_find(loss, err);
    if (l < 0) {
        plain_unknown(err, loss, "loss");
        goto fail;
    }
    sq_loss_cfg_init(&c->loss, l);
    if (strlen(loss) >= sizeof c->loss_name) {
        sq_fail(err, "Unknown loss function: %.40s", loss);
        goto fail;
    }
    strcpy(c->loss_name, loss);
    if (strlen(optimizer) >= sizeof c->optimizer) {
        sq_fail(err, "Unknown optimizer: %.40s", optimizer);
        goto fail;
    }
    strcpy(c->optimizer, optimizer);
    /* the loss's options, then the optimizer's */
    const char *okeys[SQ_ARGS_MAX], *ovals[SQ_ARGS_MAX];
    int on = 0;
    for (int i = 0; i < n; i++) {
        if (sq_loss_is_option(keys[i])) {
            if (loss_option(c, keys[i], values[i], err) < 0)
                goto fail;
            continue;
        }
        if (on == MAX_OPT_OPTS) {
            sq_fail(err, "too many optimizer options (at most %d)", MAX_OPT_OPTS);
            goto fail;
        }
        if (strlen(keys[i]) >= sizeof c->keys[0] || strlen(values[i]) >= sizeof c->values[0]) {
            sq_fail(err, "optimizer option '%.40s' is too long", keys[i]);
            goto fail;
        }
        strcpy(c->keys[on], keys[i]);
        sq_squeeze_blanks(c->values[on], sizeof c->values[0], values[i]);
        okeys[on] = c->keys[on];
        ovals[on] = c->values[on];
        on++;
    }
    c->nopts = on;
    /* check the optimizer and its options now, not at the first fit */
    sq_optim *probe;
    if (sq_optim_new(optimizer, on, okeys, ovals, 0, &probe, err) < 0) {
        plain_unknown(err, optimizer, "optimizer");
        goto fail;
    }
    sq_optim_free(probe);
    if (metrics && *metrics && parse_metrics(c, metrics, err) < 0) {
        plain_unknown(err, NULL, "metric");
        goto fail;
    }
    snprintf(c->val_name[0], sizeof c->val_name[0], "val_loss");
    for (int i = 0; i < c->nmetrics; i++)
        snprintf(c->val_name[i + 1], sizeof c->val_name[i + 1], "val_%s", c->metric_name[i]);
    sq_compiled_free(m->compiled);
    m->compiled = c;
    return 0;
fail:
    sq_compiled_free(c);
    return -1;
}


/* ---- the history of the fits since compile ---------------------------------- */

static const struct sq_compiled *compiled_of(const sq_session *s)
{
    return s->model->compiled;
}

int sq_history_epochs(const sq_session *s)
{
    const struct sq_compiled *c = compiled_of(s);
    return c ? c->hist_n : 0;
}

/* Column k's name: loss, the metrics, val_loss, the val_ metrics, lr. */
static const char *column(const struct sq_compiled *c, int k)
{
    int nv = 1 + c->nmetrics;
    if (k == 0)
        return "loss";
    if (k < nv)
        return c->metric_name[k - 1];
    if (k == 2 * nv)
        return "lr";
    return c->val_name[k - nv];
}

/* Whether column k has a value in some epoch. */
static int column_used(const struct sq_compiled *c, int k)
{
    int w = HIST_WIDTH(c);
    for (int e = 0; e < c->hist_n; e++)
        if (!isnan(c->hist[(size_t)e * (size_t)w + (size_t)k]))
            return 1;
    return 0;
}

int sq_history_names(const sq_session *s, const char **names, int max)
{
    const struct sq_compiled *c = compiled_of(s);
    int n = 0;
    for (int k = 0; c && k < HIST_WIDTH(c); k++)
        if (column_used(c, k) && n < max)
            names[n++] = column(c, k);
    return n;
}

int sq_history_values(const sq_session *s, const char *name, double *v, int max)
{
    const struct sq_compiled *c = compiled_of(s);
    int w = c ? HIST_WIDTH(c) : 0;
    for (int k = 0; k < w; k++) {
        if (strcmp(column(c, k), name) || !column_used(c, k))
            continue;
        int n = 0;
        for (int e = 0; e < c->hist_n && n < max; e++)
            v[n++] = c->hist[(size_t)e * (size_t)w + (size_t)k];
        return n;
    }
    return -1;
}

/* A copy of the compile settings without the optimizer object. */
struct sq_compiled *sq_compiled_clone(const struct sq_compiled *c)
{
    struct sq_compiled *d = sq_malloc(sizeof *d);
    if (!d)
        return NULL;
    *d = *c;
    d->opt = NULL;
    d->hist = NULL;
    d->nmetrics = 0;
    for (int i = 0; i < c->nmetrics; i++, d->nmetrics++)
        if (sq_metric_cfg_copy(&d->metric[i], &c->metric[i], NULL) < 0) {
            sq_compiled_free(d);
            return NULL;
        }
    if (c->hist_n > 0) {
        size_t n = (size_t)c->hist_n * (size_t)HIST_WIDTH(c);
        d->hist = sq_malloc(n * sizeof *d->hist);
        if (!d->hist) {
            sq_compiled_free(d);
            return NULL;
        }
        memcpy(d->hist, c->hist, n * sizeof *d->hist);
        d->hist_cap = c->hist_n;
    } else {
        d->hist_cap = 0;
    }
    return d;
}
