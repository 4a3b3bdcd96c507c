/* compile.c - model.compile(): checks and keeps the loss, metrics and
 * optimizer settings; the optimizer's state itself is made at the first
 * fit. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "compile.h"
#include "train/loss.h"


void sq_compiled_free(struct sq_compiled *c)
{
    if (c) {
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
    /* the rest are the optimizer's keyword arguments */
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
    sb_printf(b, "compile optimizer=%s loss=%s", c->optimizer, c->loss_name);
    for (int i = 0; i < c->nmetrics; i++)
        sb_printf(b, "%s%s", i ? "," : " metrics=", c->metric_name[i]);
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
    if ((c->loss = sq_loss_find(loss, err)) < 0) {
        plain_unknown(err, loss, "loss");
        goto fail;
    }
    snprintf(c->loss_name, sizeof c->loss_name, "%s", loss);
    if (strlen(optimizer) >= sizeof c->optimizer) {
        sq_fail(err, "Unknown optimizer: %.40s", optimizer);
        goto fail;
    }
    strcpy(c->optimizer, optimizer);
    if (n > MAX_OPT_OPTS) {
        sq_fail(err, "too many optimizer options (at most %d)", MAX_OPT_OPTS);
        goto fail;
    }
    for (int i = 0; i < n; i++) {
        if (strlen(keys[i]) >= sizeof c->keys[i] || strlen(values[i]) >= sizeof c->values[i]) {
            sq_fail(err, "optimizer option '%.40s' is too long", keys[i]);
            goto fail;
        }
        strcpy(c->keys[i], keys[i]);
        strcpy(c->values[i], values[i]);
    }
    c->nopts = n;
    /* check the optimizer and its options now, not at the first fit */
    sq_optim *probe;
    if (sq_optim_new(optimizer, n, keys, values, 0, &probe, err) < 0) {
        plain_unknown(err, optimizer, "optimizer");
        goto fail;
    }
    sq_optim_free(probe);
    if (metrics && *metrics) {
        char buf[256];
        if (strlen(metrics) >= sizeof buf) {
            sq_fail(err, "metrics list too long");
            goto fail;
        }
        strcpy(buf, metrics);
        char *save = NULL;
        for (char *t = strtok_r(buf, ",[]' ", &save); t; t = strtok_r(NULL, ",[]' ", &save)) {
            if (c->nmetrics == MAX_METRICS) {
                sq_fail(err, "too many metrics (at most %d)", MAX_METRICS);
                goto fail;
            }
            int mm = sq_metric_find(t, err);
            if (mm < 0)
                plain_unknown(err, t, "metric");
            if (mm < 0 || strlen(t) >= sizeof c->metric_name[0]) {
                if (mm >= 0)
                    sq_fail(err, "metric name too long");
                goto fail;
            }
            c->metric[c->nmetrics] = mm;
            strcpy(c->metric_name[c->nmetrics], t);
            c->nmetrics++;
        }
    }
    snprintf(c->val_name[0], sizeof c->val_name[0], "val_loss");
    for (int i = 0; i < c->nmetrics; i++)
        snprintf(c->val_name[i + 1], sizeof c->val_name[i + 1], "val_%s", c->metric_name[i]);
    sq_compiled_free(m->compiled);
    m->compiled = c;
    return 0;
fail:
    free(c);
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

/* Column k's name: loss, the metrics, val_loss, the val_ metrics. */
static const char *column(const struct sq_compiled *c, int k)
{
    int nv = 1 + c->nmetrics;
    if (k == 0)
        return "loss";
    if (k < nv)
        return c->metric_name[k - 1];
    return c->val_name[k - nv];
}

/* Whether column k has a value in some epoch. */
static int column_used(const struct sq_compiled *c, int k)
{
    int w = 2 * (1 + c->nmetrics);
    for (int e = 0; e < c->hist_n; e++)
        if (!isnan(c->hist[(size_t)e * (size_t)w + (size_t)k]))
            return 1;
    return 0;
}

int sq_history_names(const sq_session *s, const char **names, int max)
{
    const struct sq_compiled *c = compiled_of(s);
    int n = 0;
    for (int k = 0; c && k < 2 * (1 + c->nmetrics); k++)
        if (column_used(c, k) && n < max)
            names[n++] = column(c, k);
    return n;
}

int sq_history_values(const sq_session *s, const char *name, double *v, int max)
{
    const struct sq_compiled *c = compiled_of(s);
    int w = c ? 2 * (1 + c->nmetrics) : 0;
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
    if (c->hist_n > 0) {
        size_t n = (size_t)c->hist_n * (size_t)(2 * (1 + c->nmetrics));
        d->hist = sq_malloc(n * sizeof *d->hist);
        if (!d->hist) {
            free(d);
            return NULL;
        }
        memcpy(d->hist, c->hist, n * sizeof *d->hist);
        d->hist_cap = c->hist_n;
    } else {
        d->hist_cap = 0;
    }
    return d;
}
