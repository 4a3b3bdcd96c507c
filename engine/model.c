/* model.c - the Sequential model itself: its entries (layers and nested
 * models), appending and truncating, the input check, and the build step
 * that runs shape inference and lays out every weight in one flat buffer.
 * It knows nothing of sessions or names; each operation either succeeds or
 * leaves the model as it was. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "model.h"

int sq_entry_count(const sq_model *m)
{
    int n = 0;
    for (int i = 0; i < m->n; i++)
        if (!m->layers[i]->group || i == 0 || m->layers[i - 1]->group != m->layers[i]->group)
            n++;
    return n;
}

void sq_entry_span(const sq_model *m, int e, int *first, int *count)
{
    int k = -1;
    *first = *count = 0;
    for (int i = 0; i < m->n; i++) {
        if (!m->layers[i]->group || i == 0 || m->layers[i - 1]->group != m->layers[i]->group)
            k++;
        if (k == e) {
            if (*count == 0)
                *first = i;
            (*count)++;
        } else if (k > e) {
            break;
        }
    }
}

const char *sq_entry_name(const sq_model *m, int e)
{
    int first, count;
    sq_entry_span(m, e, &first, &count);
    const sq_layer *l = m->layers[first];
    return l->group ? l->group->name : l->name;
}

int sq_entry_find(const sq_model *m, const char *name, sq_error *err)
{
    int n = sq_entry_count(m);
    for (int e = 0; e < n; e++)
        if (!strcmp(sq_entry_name(m, e), name))
            return e;
    sbuf b = { 0 };
    for (int e = 0; e < n; e++)
        sb_printf(&b, "%s'%s'", e ? ", " : "", sq_entry_name(m, e));
    char *list = sb_finish(&b, NULL);
    sq_fail(err, "No such layer: %s. Existing layers are: [%s].", name, list ? list : "");
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

int sq_model_build_from(sq_model *m, sq_layer **layers, int n, const sq_shape *in,
                        sq_rng *rng, const float *const *src, sq_error *err)
{
    struct plan { sq_shape in, out; sq_weight_spec w[SQ_MAX_WEIGHTS]; int nw;
                  size_t off, count; } *p = sq_calloc((size_t)n + 1, sizeof *p);
    if (!p)
        return sq_fail(err, "out of memory");
    size_t total = 0;
    sq_shape cur = *in;
    for (int i = 0; i < n; i++) {
        p[i].in = cur;
        if (sq_layer_infer(layers[i], &cur, &p[i].out, p[i].w, &p[i].nw, err) < 0)
            goto fail;
        p[i].off = total;
        p[i].count = 0;
        for (int j = 0; j < p[i].nw; j++) {
            size_t c = sq_weight_count(&p[i].w[j]);
            char what[SQ_NAME_MAX + 32];
            snprintf(what, sizeof what, "layer %s's weights", layers[i]->name);
            if (c == SIZE_MAX)
                c = (size_t)1 << 62;
            if (sq_check_memory((double)c * sizeof(float), what, err) < 0)
                goto fail;
            p[i].count += c;
        }
        total += p[i].count;
        char what[SQ_NAME_MAX + 64];
        snprintf(what, sizeof what, "the model's %zu weights (up to layer %s)", total,
                 layers[i]->name);
        if (sq_check_memory((double)total * sizeof(float), what, err) < 0)
            goto fail;
        cur = p[i].out;
    }
    float *params = sq_malloc((total ? total : 1) * sizeof *params);
    if (!params) {
        sq_fail(err, "out of memory for %zu weights", total);
        goto fail;
    }
    sq_rng r = *rng;
    for (int i = 0; i < n; i++) {
        sq_layer *l = layers[i];
        if (l->built) {
            const float *from = src && src[i] ? src[i] : m->params + l->param_off;
            memcpy(params + p[i].off, from, p[i].count * sizeof *params);
            continue;
        }
        float *dst = params + p[i].off;
        for (int j = 0; j < p[i].nw; j++) {
            if (sq_layer_init_weight(l, &p[i].w[j], dst, &r, err) < 0) {
                free(params);
                goto fail;
            }
            dst += sq_weight_count(&p[i].w[j]);
        }
    }
    /* commit */
    for (int i = 0; i < n; i++) {
        sq_layer *l = layers[i];
        l->built = 1;
        l->in_shape = p[i].in;
        l->out_shape = p[i].out;
        l->nweights = p[i].nw;
        memcpy(l->w, p[i].w, sizeof l->w);
        l->param_off = p[i].off;
        l->param_count = p[i].count;
    }
    *rng = r;
    free(m->params);
    m->params = params;
    m->nparams = total;
    if (layers != m->layers) {
        free(m->layers);
        m->layers = layers;
    }
    m->n = n;
    m->input_shape = *in;
    m->built = 1;
    free(p);
    return 0;
fail:
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
    if (!*name || strlen(name) >= SQ_NAME_MAX || strpbrk(name, " \t/:")) {
        sq_fail(err, "invalid model name '%s' (1 to %d characters, no blanks, '/' or ':')",
                name, SQ_NAME_MAX - 1);
        return NULL;
    }
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
        sh.d[i + 1] = dims[i];
    }
    m->input_shape = sh;
    m->built = 1;
    m->explicit_input = 1;
    m->deferred_built = 0;
    return 0;
}

/* Keras's message when a name is taken. */
int sq_model_check_name(const sq_model *m, const char *name, sq_error *err)
{
    for (int e = 0; e < sq_entry_count(m); e++)
        if (!strcmp(sq_entry_name(m, e), name))
            return sq_fail(err, "All layers added to a Sequential model should have unique "
                           "names. Name \"%s\" is already the name of a layer in this model. "
                           "Update the `name` argument to pass a unique name.", name);
    return 0;
}

int sq_model_append(sq_model *m, sq_layer *l, const sq_shape *ishape, sq_rng *rng,
                    sq_error *err)
{
    if (sq_model_check_name(m, l->name, err) < 0)
        return -1;
    sq_layer **arr = sq_malloc((size_t)(m->n + 1) * sizeof *arr);
    if (!arr)
        return sq_fail(err, "out of memory");
    if (m->n)
        memcpy(arr, m->layers, (size_t)m->n * sizeof *arr);
    arr[m->n] = l;
    if (m->built || (m->n == 0 && ishape->rank > 0)) {
        sq_shape in = m->input_shape;
        int fresh = !m->built;
        if (fresh) {
            in.rank = ishape->rank + 1;
            in.d[0] = -1;
            memcpy(in.d + 1, ishape->d, (size_t)ishape->rank * sizeof in.d[0]);
        }
        if (sq_model_build(m, arr, m->n + 1, &in, rng, err) < 0) {
            free(arr);
            return -1;
        }
        if (fresh) {
            m->explicit_input = 1;
            m->deferred_built = 0;
        }
    } else {
        free(m->layers);
        m->layers = arr;
        m->n++;
    }
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
