/* model.c - the Sequential model: new, input, add, pop, and the build step
 * that runs shape inference and lays out every weight in one flat buffer.
 * Each operation either succeeds or leaves the model as it was. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"

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

/* The first model of a session takes its number only when first used, so
 * that a script starting with `model` gets `sequential` as in Keras. */
static int take_pending_name(sq_session *s, sq_error *err)
{
    if (!s->model->name_pending)
        return 0;
    if (sq_name_take(s, "sequential", err) < 0)
        return -1;
    s->model->name_pending = 0;
    return 0;
}

int sq_model_new(sq_session *s, const char *name, sq_error *err)
{
    char auto_name[SQ_NAME_MAX];
    if (name && (!*name || strlen(name) >= SQ_NAME_MAX || strpbrk(name, " \t/:")))
        return sq_fail(err, "invalid model name '%s' (1 to %d characters, no blanks, '/' or ':')",
                       name, SQ_NAME_MAX - 1);
    if (!name) {
        sq_name_peek(s, "sequential", auto_name, sizeof auto_name);
        name = auto_name;
    }
    sq_model *m = sq_calloc(1, sizeof *m);
    if (!m)
        return sq_fail(err, "out of memory");
    strcpy(m->name, name);
    if (!s->model && name == auto_name) {
        m->name_pending = 1;
    } else if (name == auto_name && sq_name_take(s, "sequential", err) < 0) {
        free(m);
        return -1;
    }
    sq_model_free(s->model);
    s->model = m;
    return 0;
}

int sq_input(sq_session *s, int ndims, const long *dims, sq_error *err)
{
    sq_model *m = s->model;
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
    if (take_pending_name(s, err) < 0 || sq_name_take(s, "input", err) < 0)
        return -1;
    m->input_shape = sh;
    m->built = 1;
    m->explicit_input = 1;
    m->deferred_built = 0;
    return 0;
}

const char *sq_weight_prefix(const sq_model *m, char *buf, size_t n)
{
    if (m->deferred_built)
        snprintf(buf, n, "%s/", m->name);
    else if (n)
        buf[0] = '\0';
    return buf;
}

/* The input-spec message for a layer whose weights no longer fit. */
static int fail_axis(sq_error *err, const sq_layer *l, const sq_shape *in)
{
    char s[128];
    return sq_fail(err, "Input 0 of layer %s is incompatible with the layer: expected axis -1 "
                   "of input shape to have value %ld but received input with shape %s",
                   l->name, l->in_shape.d[l->in_shape.rank - 1], sq_shape_str(in, s, sizeof s));
}

/* Shape inference for one layer on `in`: output shape and weight specs,
 * checking a built layer's existing weights still fit. */
static int infer(const sq_layer *l, const sq_shape *in, sq_shape *out,
                 sq_weight_spec *w, int *nw, sq_error *err)
{
    if (l->kind->output_shape(l, in, out, err) < 0)
        return -1;
    *nw = l->kind->weights ? l->kind->weights(l, in, w) : 0;
    if (!l->built)
        return 0;
    if (*nw != l->nweights)
        return fail_axis(err, l, in);
    for (int j = 0; j < *nw; j++)
        if (!sq_shape_eq(&w[j].shape, &l->w[j].shape))
            return fail_axis(err, l, in);
    return 0;
}

int sq_layer_check_input(const sq_layer *l, const sq_shape *in, sq_shape *out,
                         sq_error *err)
{
    sq_weight_spec w[SQ_MAX_WEIGHTS];
    int nw;
    return infer(l, in, out, w, &nw, err);
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
        if (infer(layers[i], &cur, &p[i].out, p[i].w, &p[i].nw, err) < 0)
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
            sq_weight_init(&p[i].w[j], dst, &r);
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

int sq_add(sq_session *s, const char *kindname, int argc, char **argv,
           sq_error *err)
{
    sq_model *m = s->model;
    if (take_pending_name(s, err) < 0)
        return -1;
    const sq_layer_kind *kind = sq_kind_find(kindname);
    if (!kind)
        return sq_fail(err, "Unknown layer: %s", kindname);
    sq_shape ishape;
    sq_layer *l = sq_layer_create(kind, argc, argv, &ishape, err);
    if (!l)
        return -1;
    int auto_named = !l->name[0];
    if (auto_named)
        sq_name_peek(s, kind->base_name, l->name, sizeof l->name);
    for (int e = 0; e < sq_entry_count(m); e++) {
        if (!strcmp(sq_entry_name(m, e), l->name)) {
            sq_fail(err, "All layers added to a Sequential model should have unique names. "
                    "Name \"%s\" is already the name of a layer in this model. Update the "
                    "`name` argument to pass a unique name.", l->name);
            goto fail;
        }
    }
    sq_layer **arr = sq_malloc((size_t)(m->n + 1) * sizeof *arr);
    if (!arr) {
        sq_fail(err, "out of memory");
        goto fail;
    }
    if (m->n)
        memcpy(arr, m->layers, (size_t)m->n * sizeof *arr);
    arr[m->n] = l;
    if (m->built || (m->n == 0 && ishape.rank > 0)) {
        sq_shape in = m->input_shape;
        int fresh = !m->built;
        if (fresh) {
            in.rank = ishape.rank + 1;
            in.d[0] = -1;
            memcpy(in.d + 1, ishape.d, (size_t)ishape.rank * sizeof in.d[0]);
        }
        if (sq_model_build(m, arr, m->n + 1, &in, &s->rng, err) < 0) {
            free(arr);
            goto fail;
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
    if (auto_named)
        sq_name_take(s, kind->base_name, err);  /* failure only loses a number */
    return 0;
fail:
    sq_layer_free(l);
    return -1;
}

int sq_pop(sq_session *s, sq_error *err)
{
    sq_model *m = s->model;
    if (m->n == 0)
        return sq_fail(err, "There are no layers in the model.");
    int first, count;
    sq_entry_span(m, sq_entry_count(m) - 1, &first, &count);
    sq_model_truncate(m, first);
    return 0;
}
