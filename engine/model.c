/* model.c - the Sequential model itself: its entries (layers and nested
 * models), appending and truncating, the input check, and the build step
 * that runs shape inference and lays out every weight in one flat buffer.
 * It knows nothing of sessions or names; each operation either succeeds or
 * leaves the model as it was. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "model.h"

/* Layer i starts an entry: a top-level layer or a nested model's first. */
static int starts_entry(const sq_model *m, int i)
{
    return !m->layers[i]->group || i == 0 || m->layers[i - 1]->group != m->layers[i]->group;
}

int sq_entry_end(const sq_model *m, int first)
{
    int i = first + 1;
    while (i < m->n && !starts_entry(m, i))
        i++;
    return i;
}

const char *sq_entry_name_at(const sq_model *m, int first)
{
    const sq_layer *l = m->layers[first];
    return l->group ? l->group->name : l->name;
}

int sq_entry_last(const sq_model *m)
{
    int i = m->n - 1;
    while (i > 0 && !starts_entry(m, i))
        i--;
    return i > 0 ? i : 0;
}

int sq_entry_count(const sq_model *m)
{
    int n = 0;
    for (int i = 0; i < m->n; i = sq_entry_end(m, i))
        n++;
    return n;
}

void sq_entry_span(const sq_model *m, int e, int *first, int *count)
{
    *first = *count = 0;
    for (int i = 0, k = 0; i < m->n; k++) {
        int end = sq_entry_end(m, i);
        if (k == e) {
            *first = i;
            *count = end - i;
            return;
        }
        i = end;
    }
}

const char *sq_entry_name(const sq_model *m, int e)
{
    int first, count;
    sq_entry_span(m, e, &first, &count);
    return sq_entry_name_at(m, first);
}

void sq_entry_info(const sq_model *m, int first, sq_layer_info *info)
{
    int end = sq_entry_end(m, first);
    const sq_layer *l = m->layers[first], *last = m->layers[end - 1];
    info->name = sq_entry_name_at(m, first);
    info->class_name = l->group ? "Sequential" : l->kind->class_name;
    info->built = last->built;
    info->output_shape = last->out_shape;
    info->params = 0;
    info->trainable = 1;
    for (int k = first; k < end; k++) {
        info->params += m->layers[k]->param_count;
        if (!m->layers[k]->trainable)
            info->trainable = 0;
    }
}

int sq_entry_find(const sq_model *m, const char *name, sq_error *err)
{
    int e = 0;
    for (int i = 0; i < m->n; i = sq_entry_end(m, i), e++)
        if (!strcmp(sq_entry_name_at(m, i), name))
            return e;
    /* Keras's sentence, then (as Keras 2.8 does) the names there are, and
     * the nearest of them */
    if (m->n == 0)
        return sq_fail(err, "No such layer: %s. The model has no layers yet.", name);
    sbuf b = { 0 };
    const char *names[64];
    int n = 0;
    for (int i = 0; i < m->n; i = sq_entry_end(m, i)) {
        sb_printf(&b, "%s'%s'", i ? ", " : "", sq_entry_name_at(m, i));
        if (n < 64)
            names[n++] = sq_entry_name_at(m, i);
    }
    char *list = sb_finish(&b, NULL);
    const char *near = sq_nearest(name, names, n);
    sq_fail(err, "No such layer: %s. Existing layers are: [%s].%s%s%s", name,
            list ? list : "", near ? " Did you mean " : "", near ? near : "", near ? "?" : "");
    free(list);
    return -1;
}

void sq_model_truncate(sq_model *m, int from)
{
    if (from >= m->n)
        return;
    size_t keep = m->layers[from]->param_off;
    for (int i = from; i < m->n; i++)
        sq_layer_free(m->layers[i]);
    m->n = from;
    if (m->name_n > from)
        m->name_n = from;   /* the popped names' slots are skipped from now on */
    if (m->n == 0) {
        m->built = 0;
        m->explicit_input = 0;
        m->deferred_built = 0;
        m->nparams = 0;
    } else if (m->built) {
        m->nparams = keep;
    }
}

void sq_model_free(sq_model *m)
{
    if (!m)
        return;
    for (int i = 0; i < m->n; i++)
        sq_layer_free(m->layers[i]);
    free(m->layers);
    free(m->name_slot);
    free(m->params);
    free(m->grads);
    free(m->work);
    sq_compiled_free(m->compiled);
    free(m);
}

const char *sq_weight_prefix(const sq_model *m, char *buf, size_t n)
{
    if (m->deferred_built)
        snprintf(buf, n, "%s/", m->name);
    else if (n)
        buf[0] = '\0';
    return buf;
}

int sq_model_build(sq_model *m, sq_layer **layers, int n, const sq_shape *in,
                   sq_rng *rng, sq_error *err)
{
    return sq_model_build_from(m, layers, n, in, rng, NULL, err);
}

/* What the build step works out for one layer before anything changes. */
typedef struct {
    sq_shape in, out;
    sq_weight_spec w[SQ_MAX_WEIGHTS];
    int nw;
    size_t off, count;       /* its weights in the flat buffer */
    float *states;           /* a stateful layer's new states, or NULL */
} layer_plan;

/* Shape inference for layer l on `in`, then every shape and count the kind
 * gave checked here, whatever the kind computed (so a kind that forgets an
 * overflow check still gets a clear error rather than a wrapped count):
 * the output shape, each weight's shape and count, and the running total
 * *total against the memory limit. */
static int plan_layer(const sq_layer *l, const sq_shape *in, layer_plan *p, size_t *total,
                      sq_error *err)
{
    char what[SQ_NAME_MAX + 160];
    p->in = *in;
    if (sq_layer_infer(l, in, &p->out, p->w, &p->nw, err) < 0)
        return -1;
    snprintf(what, sizeof what, "layer %s", l->name);
    if (p->out.rank < 1 || p->out.rank > SQ_MAX_RANK || p->nw < 0 || p->nw > SQ_MAX_WEIGHTS)
        return sq_fail(err, "%s: its output has rank %d (at most %d) or it has %d weights "
                       "(at most %d)", what, p->out.rank, SQ_MAX_RANK, p->nw, SQ_MAX_WEIGHTS);
    if (sq_shape_check(&p->out, what, err) < 0)
        return -1;
    p->off = *total;
    p->count = 0;
    for (int j = 0; j < p->nw; j++) {
        const sq_shape *ws = &p->w[j].shape;
        long c;
        snprintf(what, sizeof what, "layer %s's weight %s", l->name, p->w[j].name);
        if (ws->rank < 0 || ws->rank > SQ_MAX_RANK)
            return sq_fail(err, "%s: rank %d", what, ws->rank);
        if (sq_dims_count(ws->d, ws->rank, what, &c, err) < 0)
            return -1;
        snprintf(what, sizeof what, "layer %s's weights", l->name);
        if (sq_check_memory((double)c * sizeof(float), what, err) < 0)
            return -1;
        p->count += (size_t)c;
    }
    /* each count is below the memory limit and so is the running total:
     * no sum can wrap */
    *total += p->count;
    snprintf(what, sizeof what, "the model's %zu weights (up to layer %s)", *total, l->name);
    return sq_check_memory((double)*total * sizeof(float), what, err);
}

/* Fills a planned layer's weights by their initializers (the layer's
 * options or the kind's defaults) from the RNG, or copies them from src. */
static int place_weights(const sq_layer *l, const layer_plan *p, float *params,
                         const float *src, sq_rng *r, sq_error *err)
{
    if (src) {
        memcpy(params + p->off, src, p->count * sizeof *params);
        return 0;
    }
    float *dst = params + p->off;
    for (int j = 0; j < p->nw; j++) {
        if (sq_layer_init_weight(l, &p->w[j], dst, r, err) < 0)
            return -1;
        dst += sq_weight_count(&p->w[j]);
    }
    return 0;
}

/* A stateful layer's states for the planned batch: kept while its batch
 * stays, else new zeros in p->states. */
static int plan_states(const sq_layer *l, layer_plan *p, sq_error *err)
{
    size_t per = l->kind->states ? l->kind->states(l) : 0;
    p->states = NULL;
    if (per == 0 || (l->built && l->states && l->in_shape.d[0] == p->in.d[0]))
        return 0;
    size_t cnt = per * (size_t)(p->in.d[0] > 0 ? p->in.d[0] : 1);
    if (!(p->states = sq_calloc(cnt, sizeof(float))))
        return sq_fail(err, "out of memory for layer %s's states", l->name);
    return 0;
}

static void commit_layer(sq_layer *l, layer_plan *p)
{
    if (p->states) {
        free(l->states);
        l->states = p->states;
        p->states = NULL;
    }
    l->built = 1;
    l->in_shape = p->in;
    l->out_shape = p->out;
    l->nweights = p->nw;
    memcpy(l->w, p->w, sizeof l->w);
    l->param_off = p->off;
    l->param_count = p->count;
}

int sq_model_build_from(sq_model *m, sq_layer **layers, int n, const sq_shape *in,
                        sq_rng *rng, const float *const *src, sq_error *err)
{
    layer_plan *p = sq_calloc((size_t)n + 1, sizeof *p);
    if (!p)
        return sq_fail(err, "out of memory");
    size_t total = 0;
    sq_shape cur = *in;
    int masked = 0;
    for (int i = 0; i < n; i++) {
        /* a long build (a model file of thousands of layers) stops here */
        if (sq_poll(err) < 0 || plan_layer(layers[i], &cur, &p[i], &total, err) < 0
            || sq_layer_mask_check(layers[i], &cur, masked, err) < 0
            || plan_states(layers[i], &p[i], err) < 0)
            goto fail;
        masked = sq_layer_mask_rule(layers[i], masked) != SQ_MASK_DROP;
        cur = p[i].out;
    }
    float *params = sq_malloc((total ? total : 1) * sizeof *params);
    if (!params) {
        sq_fail(err, "out of memory for %zu weights", total);
        goto fail;
    }
    sq_rng r = *rng;
    for (int i = 0; i < n; i++) {
        const sq_layer *l = layers[i];
        const float *from = NULL;
        if (l->built)
            from = src && src[i] ? src[i] : m->params + l->param_off;
        if (place_weights(l, &p[i], params, from, &r, err) < 0) {
            free(params);
            goto fail;
        }
    }
    /* commit */
    for (int i = 0; i < n; i++)
        commit_layer(layers[i], &p[i]);
    *rng = r;
    free(m->params);
    m->params = params;
    m->nparams = total;
    m->params_cap = total ? total : 1;
    if (layers != m->layers) {
        free(m->layers);
        m->layers = layers;
        m->cap = n;
        m->name_n = 0;   /* other layers: the name table is rebuilt when needed */
    }
    m->n = n;
    m->input_shape = *in;
    m->built = 1;
    free(p);
    return 0;
fail:
    for (int i = 0; i < n; i++)
        free(p[i].states);
    free(p);
    return -1;
}

/* Builds every layer of m on input shape `in` (batch first), as
 * sq_model_build does, for a model whose layers are all in place. */
int sq_model_rebuild(sq_model *m, const sq_shape *in, sq_rng *rng, sq_error *err)
{
    sq_layer **arr = sq_malloc((size_t)(m->n ? m->n : 1) * sizeof *arr);
    if (!arr)
        return sq_fail(err, "out of memory");
    if (m->n)
        memcpy(arr, m->layers, (size_t)m->n * sizeof *arr);
    if (sq_model_build(m, arr, m->n, in, rng, err) < 0) {
        free(arr);
        return -1;
    }
    return 0;
}

void sq_model_unbuild(sq_model *m)
{
    for (int i = 0; i < m->n; i++)
        m->layers[i]->built = 0;
    m->built = 0;
    m->explicit_input = 0;
    m->deferred_built = 0;
    m->nparams = 0;
}

sq_model *sq_model_alloc(const char *name, sq_error *err)
{
    if (sq_check_name("model", name, err) < 0)
        return NULL;
    sq_model *m = sq_calloc(1, sizeof *m);
    if (!m) {
        sq_fail(err, "out of memory");
        return NULL;
    }
    strcpy(m->name, name);
    return m;
}

int sq_model_set_input(sq_model *m, int ndims, const long *dims, sq_error *err)
{
    if (m->n > 0)
        return sq_fail(err, "the input must come before the first layer (the model has %d "
                       "layer%s; start again with 'model')", m->n, m->n == 1 ? "" : "s");
    if (ndims < 1 || ndims > SQ_MAX_RANK - 1)
        return sq_fail(err, "input takes 1 to %d dimensions (without the batch), got %d",
                       SQ_MAX_RANK - 1, ndims);
    sq_shape sh = { .rank = ndims + 1, .d = { -1 } };
    for (int i = 0; i < ndims; i++) {
        if (dims[i] <= 0)
            return sq_fail(err, "input dimensions must be positive, got %ld", dims[i]);
        if (dims[i] > SQ_DIM_MAX)
            return sq_fail(err, "input dimensions must be at most 2^32, got %ld", dims[i]);
        sh.d[i + 1] = dims[i];
    }
    m->input_shape = sh;
    m->built = 1;
    m->explicit_input = 1;
    m->deferred_built = 0;
    return 0;
}

/* ---- the names of the entries, for `add`'s uniqueness check -------------
 * An open-addressing table of entry starts (layer index + 1; 0 is empty),
 * keyed by name. It is a hint: every hit is compared with the model as it
 * is now, so a slot left by a popped layer is only skipped. It covers the
 * entries starting before layer name_n; appending extends it, anything
 * that replaces the layers sets name_n to 0 and the next check rebuilds
 * it. Without it each add would compare its name with every entry. */

static size_t name_hash(const char *s)
{
    size_t h = 1469598103934665603u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h;
}

static void names_put(sq_model *m, int first)
{
    size_t mask = m->name_cap - 1, i = name_hash(sq_entry_name_at(m, first)) & mask;
    while (m->name_slot[i])
        i = (i + 1) & mask;
    m->name_slot[i] = first + 1;
    m->name_used++;
}

/* The table for every entry of m; -1 when out of memory. */
static int names_rebuild(sq_model *m)
{
    size_t cap = 64;
    while (cap < 4 * (size_t)m->n)
        cap *= 2;
    int *slot = sq_calloc(cap, sizeof *slot);
    if (!slot)
        return -1;
    free(m->name_slot);
    m->name_slot = slot;
    m->name_cap = cap;
    m->name_used = 0;
    for (int i = 0; i < m->n; i = sq_entry_end(m, i))
        names_put(m, i);
    m->name_n = m->n;
    return 0;
}

/* After layer m->n - 1 was appended as a top-level layer. The table stays
 * at most half full (so that every probe ends at an empty slot). */
static void names_appended(sq_model *m)
{
    if (m->name_n == m->n - 1 && m->name_slot && 2 * (m->name_used + 1) <= m->name_cap) {
        names_put(m, m->n - 1);
        m->name_n = m->n;
    } else {
        m->name_n = 0;   /* rebuilt, bigger, at the next check */
    }
}

/* Keras's message when a name is taken. */
int sq_model_check_name(sq_model *m, const char *name, sq_error *err)
{
    int taken = 0;
    if ((m->name_n == m->n && m->name_slot) || names_rebuild(m) == 0) {
        size_t mask = m->name_cap - 1;
        for (size_t i = name_hash(name) & mask; m->name_slot[i] && !taken; i = (i + 1) & mask) {
            int f = m->name_slot[i] - 1;
            taken = f < m->n && starts_entry(m, f) && !strcmp(sq_entry_name_at(m, f), name);
        }
    } else {
        /* no memory for the table: compare with every entry */
        for (int i = 0; i < m->n && !taken; i = sq_entry_end(m, i))
            taken = !strcmp(sq_entry_name_at(m, i), name);
    }
    if (taken)
        return sq_fail(err, "All layers added to a Sequential model should have unique "
                       "names. Name \"%s\" is already the name of a layer in this model. "
                       "Update the `name` argument to pass a unique name.", name);
    return 0;
}

/* Room for one more layer in m->layers (the array only grows). */
static int reserve_one(sq_model *m, sq_error *err)
{
    if (m->n < m->cap)
        return 0;
    if (m->cap > (1 << 28))
        return sq_fail(err, "too many layers");
    int cap = m->cap ? 2 * m->cap : 16;
    sq_layer **a = sq_realloc(m->layers, (size_t)cap * sizeof *a);
    if (!a)
        return sq_fail(err, "out of memory");
    m->layers = a;
    m->cap = cap;
    return 0;
}

int sq_model_append(sq_model *m, sq_layer *l, const sq_shape *ishape, sq_rng *rng,
                    sq_error *err)
{
    if (sq_model_check_name(m, l->name, err) < 0 || reserve_one(m, err) < 0)
        return -1;
    if (m->built) {
        /* only the new layer is planned: the others stay as they are, so
         * adding costs the same however many layers the model has */
        layer_plan p;
        size_t total = m->nparams;
        const sq_shape *in = m->n ? &m->layers[m->n - 1]->out_shape : &m->input_shape;
        int masked = 0;
        for (int i = 0; l->kind->mask_check && i < m->n; i++)   /* adding stays O(1) */
            masked = sq_layer_mask_rule(m->layers[i], masked) != SQ_MASK_DROP;
        if (plan_layer(l, in, &p, &total, err) < 0 || sq_layer_mask_check(l, in, masked, err) < 0
            || plan_states(l, &p, err) < 0)
            return -1;
        if (total > m->params_cap || !m->params) {
            /* room to grow by a quarter (at most 4 MiB more), so that many
             * small layers do not copy the buffer each time */
            size_t more = total / 4 < ((size_t)1 << 20) ? total / 4 : (size_t)1 << 20;
            size_t cap = total + more ? total + more : 1;   /* a built model has a buffer */
            float *params = sq_realloc(m->params, cap * sizeof *params);
            if (!params) {
                free(p.states);
                return sq_fail(err, "out of memory for %zu weights", total);
            }
            m->params = params;
            m->params_cap = cap;
        }
        sq_rng r = *rng;
        if (place_weights(l, &p, m->params, NULL, &r, err) < 0) {
            free(p.states);
            return -1;
        }
        *rng = r;
        commit_layer(l, &p);
        m->nparams = total;
        m->layers[m->n++] = l;
        names_appended(m);
        return 0;
    }
    if (m->n == 0 && ishape->rank > 0) {
        /* the first layer with input_shape=: the model is built at once on
         * it (batch first, None unless batch_size= fixed it) */
        sq_shape in = *ishape;
        m->layers[0] = l;
        if (sq_model_build(m, m->layers, 1, &in, rng, err) < 0)
            return -1;
        m->explicit_input = 1;
        m->deferred_built = 0;
        names_appended(m);
        return 0;
    }
    m->layers[m->n++] = l;
    names_appended(m);
    return 0;
}

/* Keras's InputSpec check of a model built from an explicit input. */
int sq_model_check_input(const sq_model *m, const sq_shape *x, sq_error *err)
{
    if (!m->explicit_input) {
        /* a model built by a call: each layer checks its own weights */
        sq_shape cur = *x, next;
        for (int i = 0; i < m->n; i++) {
            if (sq_layer_check_input(m->layers[i], &cur, &next, err) < 0)
                return -1;
            cur = next;
        }
        return 0;
    }
    char a[128], b[128];
    const sq_shape *want = &m->input_shape;
    if (x->rank != want->rank)
        return sq_fail(err, "Input 0 of layer %s is incompatible with the layer: expected "
                       "ndim=%d, found ndim=%d. Full shape received: %s", m->name,
                       want->rank, x->rank, sq_shape_str(x, a, sizeof a));
    for (int i = 0; i < x->rank; i++)
        if (want->d[i] >= 0 && want->d[i] != x->d[i])
            return sq_fail(err, "Input 0 of layer %s is incompatible with the layer: expected "
                           "shape=%s, found shape=%s", m->name,
                           sq_shape_str(want, a, sizeof a), sq_shape_str(x, b, sizeof b));
    return 0;
}

/* A deep copy of l in group `group` (already counted). */
static sq_layer *layer_clone(const sq_layer *l, sq_group *group)
{
    sq_layer *c = sq_layer_clone(l);
    if (c)
        c->group = group;
    return c;
}

/* A deep copy of m: layers, weights, compile settings; no optimizer, no
 * gradients or workspace (both are made again on demand). */
sq_model *sq_model_clone(const sq_model *m)
{
    sq_model *c = sq_calloc(1, sizeof *c);
    if (!c)
        return NULL;
    *c = *m;
    c->layers = NULL;
    c->n = c->cap = 0;
    c->params = NULL;
    c->grads = NULL;
    c->grads_cap = 0;
    c->compiled = NULL;
    c->work = NULL;
    c->work_cap = 0;
    c->name_slot = NULL;          /* the name table is rebuilt when needed */
    c->name_cap = c->name_used = 0;
    c->name_n = 0;
    if (m->n && !(c->layers = sq_calloc((size_t)m->n, sizeof *c->layers)))
        goto fail;
    c->cap = m->n;
    sq_group *from = NULL, *to = NULL;
    for (int i = 0; i < m->n; i++) {
        const sq_layer *l = m->layers[i];
        sq_group *g = NULL;
        if (l->group) {
            if (l->group != from) {
                if (!(to = sq_malloc(sizeof *to)))
                    goto fail;
                *to = *l->group;
                to->refs = 0;
                from = l->group;
            }
            g = to;
            g->refs++;
        }
        if (!(c->layers[i] = layer_clone(l, g))) {
            if (g && --g->refs == 0) {
                free(g);
                from = to = NULL;
            }
            goto fail;
        }
        c->n = i + 1;
    }
    size_t np = m->built ? m->nparams : 0;
    if (!(c->params = sq_malloc((np ? np : 1) * sizeof *c->params)))
        goto fail;
    c->params_cap = np ? np : 1;
    if (np)
        memcpy(c->params, m->params, np * sizeof *c->params);
    if (m->compiled && !(c->compiled = sq_compiled_clone(m->compiled)))
        goto fail;
    return c;
fail:
    sq_model_free(c);
    return NULL;
}
