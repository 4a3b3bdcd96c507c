/* session.c - the engine's façade: the session (the current model, Keras's
 * automatic-name counters, the RNG, the interrupt flag) and the public
 * verbs that build and run its model. The model itself (model.c,
 * forward.c) knows nothing of sessions or names. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "model.h"

sq_session *sq_session_new(void)
{
    sq_session *s = sq_calloc(1, sizeof *s);
    if (!s)
        return NULL;
    sq_rng_seed(&s->rng, 0);
    sq_error err;
    if (sq_model_new(s, NULL, &err) < 0) {
        free(s);
        return NULL;
    }
    return s;
}

void sq_session_free(sq_session *s)
{
    if (!s)
        return;
    sq_undo_clear(s);
    if (s->interrupt && sq_interrupt_flag() == s->interrupt)
        sq_interrupt_watch(NULL);
    sq_model_free(s->model);
    for (int i = 0; i < s->ncounters; i++)
        free(s->counters[i].base);
    free(s->counters);
    free(s);
    sq_free_kept();
}

void sq_seed(sq_session *s, unsigned long long seed)
{
    sq_rng_seed(&s->rng, seed);
}

void sq_reset(sq_session *s)
{
    for (int i = 0; i < s->ncounters; i++)
        free(s->counters[i].base);
    free(s->counters);
    s->counters = NULL;
    s->ncounters = 0;
}

void sq_set_interrupt_flag(sq_session *s, volatile int *flag)
{
    s->interrupt = flag;
    sq_interrupt_watch(flag);
}

/* The automatic name `ahead` numbers after the next one for `base`
 * ("dense", "dense_1", ...); input_ names are one-based. */
static void name_at(const sq_session *s, const char *base, long ahead, char *out, size_t n)
{
    long next = ahead;
    for (int i = 0; i < s->ncounters; i++)
        if (!strcmp(s->counters[i].base, base))
            next += s->counters[i].next;
    if (!strcmp(base, "input"))
        snprintf(out, n, "input_%ld", next + 1);
    else if (next == 0)
        snprintf(out, n, "%s", base);
    else
        snprintf(out, n, "%s_%ld", base, next);
}

/* The next automatic name for `base` without taking it; name_take commits
 * it. */
void sq_name_peek(const sq_session *s, const char *base, char *out, size_t n)
{
    name_at(s, base, 0, out, n);
}

static int name_take(sq_session *s, const char *base, sq_error *err)
{
    for (int i = 0; i < s->ncounters; i++) {
        if (!strcmp(s->counters[i].base, base)) {
            s->counters[i].next++;
            return 0;
        }
    }
    struct sq_counter *c = sq_realloc(s->counters, (size_t)(s->ncounters + 1) * sizeof *c);
    if (!c)
        return sq_fail(err, "out of memory");
    s->counters = c;
    char *b = sq_strdup(base);
    if (!b)
        return sq_fail(err, "out of memory");
    c[s->ncounters++] = (struct sq_counter){ b, 1 };
    return 0;
}


/* ---- building ------------------------------------------------------------ */

/* The first model of a session takes its number only when first used, so
 * that a script starting with `model` gets `sequential` as in Keras. */
static int take_pending_name(sq_session *s, sq_error *err)
{
    if (!s->model->name_pending)
        return 0;
    if (name_take(s, "sequential", err) < 0)
        return -1;
    s->model->name_pending = 0;
    return 0;
}

int sq_model_new(sq_session *s, const char *name, sq_error *err)
{
    char auto_name[SQ_NAME_MAX];
    if (!name) {
        sq_name_peek(s, "sequential", auto_name, sizeof auto_name);
        name = auto_name;
    }
    sq_model *m = sq_model_alloc(name, err);
    if (!m)
        return -1;
    if (!s->model && name == auto_name) {
        m->name_pending = 1;
    } else if (name == auto_name && name_take(s, "sequential", err) < 0) {
        sq_model_free(m);
        return -1;
    }
    sq_model_free(s->model);
    s->model = m;
    return 0;
}

int sq_input(sq_session *s, int ndims, const long *dims, sq_error *err)
{
    sq_model *m = s->model, before = *m;
    if (sq_model_set_input(m, ndims, dims, err) < 0)
        return -1;
    if (take_pending_name(s, err) < 0 || name_take(s, "input", err) < 0) {
        *m = before;
        return -1;
    }
    return 0;
}

/* The names one add hands out (the layer's own, its cells', a wrapped
 * layer's), taken from the counters only once the add has succeeded. */
#define MAX_PENDING 8
typedef struct {
    sq_namer namer;
    const sq_session *s;
    struct { char base[64]; long n; } p[MAX_PENDING];
    int np;
} pending_names;

static void pending_next(sq_namer *nm, const char *base, char *out, size_t n)
{
    pending_names *pn = (pending_names *)(void *)nm;
    int i = 0;
    while (i < pn->np && strcmp(pn->p[i].base, base))
        i++;
    if (i == pn->np && pn->np < MAX_PENDING && strlen(base) < sizeof pn->p[0].base) {
        strcpy(pn->p[i].base, base);
        pn->p[i].n = 0;
        pn->np++;
    }
    long ahead = i < pn->np ? pn->p[i].n++ : 0;
    name_at(pn->s, base, ahead, out, n);
}

int sq_add(sq_session *s, const char *kindname, int argc, char **argv,
           sq_error *err)
{
    if (take_pending_name(s, err) < 0)
        return -1;
    const sq_layer_kind *kind = sq_kind_find(kindname);
    if (!kind) {
        char best[96];
        if (sq_kind_suggest(kindname, best, sizeof best))
            return sq_fail(err, "Unknown layer: %s (did you mean %s?)", kindname, best);
        return sq_fail(err, "Unknown layer: %s; 'help layers' lists the kinds", kindname);
    }
    sq_shape ishape;
    sq_layer *l = sq_layer_create(kind, argc, argv, &ishape, err);
    if (!l)
        return -1;
    /* what the layer makes is named before it, as Keras's constructors
     * run inside out */
    pending_names pn = { .namer.next = pending_next, .s = s };
    if (kind->auto_names)
        kind->auto_names(l, &pn.namer);
    if (!l->name[0])
        pending_next(&pn.namer, kind->base_name, l->name, sizeof l->name);
    if (sq_model_append(s->model, l, &ishape, &s->rng, err) < 0) {
        sq_layer_free(l);
        return -1;
    }
    /* a failure here only loses numbers */
    for (int i = 0; i < pn.np; i++)
        for (long k = 0; k < pn.p[i].n; k++)
            name_take(s, pn.p[i].base, err);
    return 0;
}

int sq_pop(sq_session *s, sq_error *err)
{
    sq_model *m = s->model;
    if (m->n == 0)
        return sq_fail(err, "There are no layers in the model.");
    sq_model_truncate(m, sq_entry_last(m));
    return 0;
}

/* ---- running ----------------------------------------------------------------- */

int sq_call(sq_session *s, const sq_tensor *x, sq_tensor *y, sq_error *err)
{
    return sq_model_call(s->model, x, y, &s->rng, s->interrupt, err);
}

int sq_call_check(sq_session *s, const sq_shape *in, sq_error *err)
{
    return sq_forward_check(s->model, in, err);
}

/* ---- looking ------------------------------------------------------------- */

const char *sq_model_name(const sq_session *s) { return s->model->name; }
int sq_model_is_built(const sq_session *s) { return s->model->built; }
int sq_layer_count(const sq_session *s) { return sq_entry_count(s->model); }

int sq_layer_get(const sq_session *s, int i, sq_layer_info *info)
{
    const sq_model *m = s->model;
    if (i < 0)
        return -1;
    for (int first = 0, e = 0; first < m->n; first = sq_entry_end(m, first), e++) {
        if (e == i) {
            sq_entry_info(m, first, info);
            return 0;
        }
    }
    return -1;
}

sq_rng_state sq_rng_get(const sq_session *s)
{
    sq_rng_state st;
    for (int i = 0; i < 4; i++)
        st.s[i] = s->rng.s[i];
    return st;
}

void sq_rng_set(sq_session *s, sq_rng_state st)
{
    for (int i = 0; i < 4; i++)
        s->rng.s[i] = st.s[i];
}
