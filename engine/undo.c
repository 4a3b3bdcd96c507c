/* undo.c - taking back what a command did to the session: snapshots of
 * the whole state a command may change (the model with its layers, flat
 * weights, compile settings, optimizer state and training history; Keras's
 * name counters; the random state), kept newest last, several levels deep
 * while their total stays within the memory limit. Undo puts a snapshot
 * back as it was, bit for bit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "compile.h"
#include "train/optim.h"

#define UNDO_LEVELS_MAX 100

struct sq_snapshot {
    sq_model *model;            /* deep copy; its compiled->opt is NULL; NULL
                                   for an append (below) */
    /* An append (`add KIND`) only adds layers after the ones there are and
     * leaves those as they were (model.c plans only the new one): it is
     * undone by cutting the model back to n layers and these fields, which
     * costs the same however big the model is. */
    int append, n, built, explicit_input, deferred_built;
    sq_shape input_shape;
    void *opt_state;            /* the optimizer's state (sq_optim_state_save), or NULL */
    size_t opt_state_size;
    struct sq_counter *counters;
    int ncounters;
    sq_rng rng;
    size_t bytes;               /* what it holds, for the memory limit */
    char *what;                 /* the command it undoes */
};

/* ---- copying a model ------------------------------------------------------- */

static int opt_count(const sq_layer_kind *k)
{
    int n = 0;
    while (k->opts && k->opts[n].name)
        n++;
    return n;
}

/* ---- snapshots -------------------------------------------------------------- */

void sq_snapshot_free(sq_snapshot *snap)
{
    if (!snap)
        return;
    sq_model_free(snap->model);
    free(snap->opt_state);
    for (int i = 0; i < snap->ncounters; i++)
        free(snap->counters[i].base);
    free(snap->counters);
    free(snap->what);
    free(snap);
}

/* About what a snapshot of s holds, in bytes. */
static double snapshot_bytes(const sq_session *s)
{
    const sq_model *m = s->model;
    double b = sizeof(sq_model) + (m->built ? (double)m->nparams * sizeof(float) : 0);
    for (int i = 0; i < m->n; i++)
        b += sizeof(sq_layer) + (double)(opt_count(m->layers[i]->kind) + 1) * sizeof(sq_optval)
           + (double)m->layers[i]->kind->state_size;
    const struct sq_compiled *c = m->compiled;
    if (c) {
        b += sizeof *c + (double)c->hist_n * HIST_WIDTH(c) * sizeof(double);
        if (c->opt)
            b += (double)sq_optim_state_size(c->opt);
    }
    return b;
}

/* The name counters and the random state into snap. */
static int keep_counters(const sq_session *s, sq_snapshot *snap)
{
    if (s->ncounters) {
        if (!(snap->counters = sq_calloc((size_t)s->ncounters, sizeof *snap->counters)))
            return -1;
        for (int i = 0; i < s->ncounters; i++) {
            snap->counters[i].next = s->counters[i].next;
            if (!(snap->counters[i].base = sq_strdup(s->counters[i].base)))
                return -1;
            snap->ncounters = i + 1;
        }
    }
    snap->rng = s->rng;
    return 0;
}

sq_snapshot *sq_snapshot_take_append(const sq_session *s, sq_error *err)
{
    const sq_model *m = s->model;
    sq_snapshot *snap = sq_calloc(1, sizeof *snap);
    if (!snap || keep_counters(s, snap) < 0) {
        sq_snapshot_free(snap);
        sq_fail(err, "out of memory for undo");
        return NULL;
    }
    snap->append = 1;
    snap->n = m->n;
    snap->built = m->built;
    snap->explicit_input = m->explicit_input;
    snap->deferred_built = m->deferred_built;
    snap->input_shape = m->input_shape;
    snap->bytes = sizeof *snap + (size_t)s->ncounters * 32;
    return snap;
}

sq_snapshot *sq_snapshot_take(const sq_session *s, sq_error *err)
{
    double bytes = snapshot_bytes(s);
    size_t lim = sq_get_memory_limit();
    if (bytes > (double)lim) {
        char a[32], b[32];
        sq_fail(err, "a copy of the model needs %s, more than the memory limit of %s",
                sq_bytes_str(bytes, a, sizeof a), sq_bytes_str((double)lim, b, sizeof b));
        return NULL;
    }
    sq_snapshot *snap = sq_calloc(1, sizeof *snap);
    if (!snap || !(snap->model = sq_model_clone(s->model)))
        goto oom;
    const struct sq_compiled *c = s->model->compiled;
    if (c && c->opt) {
        snap->opt_state_size = sq_optim_state_size(c->opt);
        if (!(snap->opt_state = sq_malloc(snap->opt_state_size)))
            goto oom;
        sq_optim_state_save(c->opt, snap->opt_state);
    }
    if (keep_counters(s, snap) < 0)
        goto oom;
    snap->bytes = (size_t)bytes;
    return snap;
oom:
    sq_snapshot_free(snap);
    sq_fail(err, "out of memory for a copy of the model");
    return NULL;
}

/* ---- the undo list ------------------------------------------------------------ */

/* Drops the oldest snapshot. */
static void drop_oldest(sq_session *s)
{
    struct sq_undo *u = &s->undo;
    if (u->n == 0)
        return;
    u->bytes -= u->items[0]->bytes;
    sq_snapshot_free(u->items[0]);
    memmove(u->items, u->items + 1, (size_t)(u->n - 1) * sizeof *u->items);
    u->n--;
}

void sq_undo_clear(sq_session *s)
{
    while (s->undo.n)
        drop_oldest(s);
    free(s->undo.items);
    s->undo.items = NULL;
    s->undo.cap = 0;
    s->undo.bytes = 0;
    s->undo.blocked[0] = '\0';
}

void sq_undo_push(sq_session *s, sq_snapshot *snap, const char *what)
{
    struct sq_undo *u = &s->undo;
    snap->what = sq_strdup(what ? what : "");
    /* the oldest go first: the list stays within the memory limit */
    size_t lim = sq_get_memory_limit();
    while (u->n && (u->n >= UNDO_LEVELS_MAX || u->bytes + snap->bytes > lim))
        drop_oldest(s);
    if (!snap->what) {
        sq_snapshot_free(snap);
        sq_undo_block(s, what, "out of memory");
        return;
    }
    if (u->n == u->cap) {
        int cap = u->cap ? 2 * u->cap : 8;
        if (cap > UNDO_LEVELS_MAX)
            cap = UNDO_LEVELS_MAX;
        sq_snapshot **items = sq_realloc(u->items, (size_t)cap * sizeof *items);
        if (!items) {
            sq_snapshot_free(snap);
            sq_undo_block(s, what, "out of memory");
            return;
        }
        u->items = items;
        u->cap = cap;
    }
    u->items[u->n++] = snap;
    u->bytes += snap->bytes;
    u->blocked[0] = '\0';
}

void sq_undo_block(sq_session *s, const char *what, const char *why)
{
    struct sq_undo *u = &s->undo;
    while (u->n)
        drop_oldest(s);
    snprintf(u->blocked, sizeof u->blocked, "'%.200s' cannot be undone: %.300s",
             what ? what : "", why ? why : "");
}

int sq_undo_levels(const sq_session *s)
{
    return s->undo.n;
}

/* Puts snap's state into s; snap keeps only its label and size. On
 * failure (out of memory for the optimizer) nothing changes. */
static int restore(sq_session *s, sq_snapshot *snap, sq_error *err)
{
    if (snap->append) {
        sq_model *m = s->model;
        sq_model_truncate(m, snap->n);
        m->built = snap->built;
        m->explicit_input = snap->explicit_input;
        m->deferred_built = snap->deferred_built;
        m->input_shape = snap->input_shape;
        goto counters;
    }
    struct sq_compiled *c = snap->model->compiled;
    if (c && snap->opt_state) {
        /* the optimizer again, in the state it had */
        const char *keys[MAX_OPT_OPTS], *vals[MAX_OPT_OPTS];
        for (int i = 0; i < c->nopts; i++) {
            keys[i] = c->keys[i];
            vals[i] = c->values[i];
        }
        sq_optim *opt;
        if (sq_optim_new(c->optimizer, c->nopts, keys, vals, c->opt_n, &opt, err) < 0)
            return -1;
        if (sq_optim_state_size(opt) != snap->opt_state_size) {
            sq_optim_free(opt);
            return sq_fail(err, "internal error: the optimizer's state changed size");
        }
        sq_optim_state_restore(opt, snap->opt_state);
        c->opt = opt;
        free(snap->opt_state);
        snap->opt_state = NULL;
    }
    /* swap the state in; the snapshot's parts now belong to the session */
    sq_model_free(s->model);
    s->model = snap->model;
    snap->model = NULL;
counters:
    for (int i = 0; i < s->ncounters; i++)
        free(s->counters[i].base);
    free(s->counters);
    s->counters = snap->counters;
    s->ncounters = snap->ncounters;
    snap->counters = NULL;
    snap->ncounters = 0;
    s->rng = snap->rng;
    return 0;
}

int sq_snapshot_restore(sq_session *s, sq_snapshot *snap, sq_error *err)
{
    if (restore(s, snap, err) < 0)
        return -1;
    sq_snapshot_free(snap);
    return 0;
}

int sq_undo(sq_session *s, char *what, size_t n, sq_error *err)
{
    struct sq_undo *u = &s->undo;
    if (u->n == 0) {
        if (u->blocked[0])
            return sq_fail(err, "nothing to undo: %s", u->blocked);
        return sq_fail(err, "nothing to undo");
    }
    sq_snapshot *snap = u->items[u->n - 1];
    if (restore(s, snap, err) < 0)
        return -1;
    if (what && n)
        snprintf(what, n, "%s", snap->what ? snap->what : "");
    u->n--;
    u->bytes -= snap->bytes;
    sq_snapshot_free(snap);
    return 0;
}
