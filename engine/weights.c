/* weights.c - the model's weights: listing them with their values, and
 * save_weights / load_weights as NumPy .npz archives keyed LAYER/WEIGHT. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "model.h"
#include "io/npy.h"

static int fail_unbuilt(const sq_model *m, sq_error *err)
{
    return sq_fail(err, "Weights for model %s have not yet been created. Weights are created "
                   "when the Model is first called on inputs or `build()` is called with an "
                   "`input_shape`.", m->name);
}

/* The key of weight j of layer l in weights files: LAYER/WEIGHT, with the
 * nested model's name in front for its layers. */
static void weight_key(const sq_layer *l, int j, char *buf, size_t n)
{
    if (l->group)
        snprintf(buf, n, "%s/%s/%s", l->group->name, l->name, l->w[j].name);
    else
        snprintf(buf, n, "%s/%s", l->name, l->w[j].name);
}

char *sq_weights_text(const sq_session *s, const char *layer, sq_error *err)
{
    const sq_model *m = s->model;
    int from = 0, count = m->n;
    if (layer) {
        int e = sq_entry_find(m, layer, err);
        if (e < 0)
            return NULL;
        sq_entry_span(m, e, &from, &count);
    }
    if (!m->built && !layer) {
        fail_unbuilt(m, err);
        return NULL;
    }
    sbuf b = { 0 };
    char prefix[SQ_NAME_MAX + 2];
    sq_weight_prefix(m, prefix, sizeof prefix);
    int shown = 0;
    for (int i = from; i < from + count; i++) {
        const sq_layer *l = m->layers[i];
        if (!l->built)
            continue;
        /* trainable weights first, then the others (Keras's order) */
        for (int pass = 0; pass < 2; pass++) {
            const float *w = m->params + l->param_off;
            for (int j = 0; j < l->nweights; j++) {
                size_t c = sq_weight_count(&l->w[j]);
                int tr = l->w[j].trainable && l->trainable;
                if (tr == (pass == 0)) {
                    char sh[128];
                    sq_tensor t = { l->w[j].shape, (float *)w };
                    char *vals = sq_tensor_format(&t);
                    if (!vals)
                        b.oom = 1;
                    sb_printf(&b, "%s%s%s/%s:0 shape=%s dtype=float32\n%s\n", shown ? "\n" : "",
                              prefix, l->name, l->w[j].name,
                              sq_shape_str(&l->w[j].shape, sh, sizeof sh), vals ? vals : "");
                    free(vals);
                    shown++;
                }
                w += c;
            }
        }
    }
    if (!shown)
        sb_printf(&b, "[]\n");
    return sb_finish(&b, err);
}

int sq_save_weights(const sq_session *s, const char *path, sq_error *err)
{
    const sq_model *m = s->model;
    if (!m->built)
        return fail_unbuilt(m, err);
    int total = 0;
    for (int i = 0; i < m->n; i++)
        total += m->layers[i]->nweights;
    npz_entry *e = sq_calloc((size_t)total + 1, sizeof *e);
    if (!e)
        return sq_fail(err, "out of memory");
    int k = 0, rc = -1;
    for (int i = 0; i < m->n; i++) {
        const sq_layer *l = m->layers[i];
        const float *w = m->params + l->param_off;
        for (int j = 0; j < l->nweights; j++) {
            size_t len = 3 * SQ_NAME_MAX + 3;
            if (!(e[k].name = sq_malloc(len))) {
                sq_fail(err, "out of memory");
                goto done;
            }
            weight_key(l, j, e[k].name, len);
            e[k].t.shape = l->w[j].shape;
            e[k].t.data = (float *)w;
            w += sq_weight_count(&l->w[j]);
            k++;
        }
    }
    rc = npz_write_file(path, e, k, err);
done:
    for (int i = 0; i < k; i++)
        free(e[i].name);
    free(e);
    return rc;
}

int sq_load_weights(sq_session *s, const char *path, sq_error *err)
{
    sq_model *m = s->model;
    if (!m->built)
        return fail_unbuilt(m, err);
    npz_entry *e = NULL;
    int n = 0, rc = -1, used = 0;
    if (npz_read_file(path, &e, &n, err) < 0)
        return -1;
    float *params = sq_malloc((m->nparams ? m->nparams : 1) * sizeof *params);
    if (!params) {
        sq_fail(err, "out of memory");
        goto done;
    }
    for (int i = 0; i < m->n; i++) {
        const sq_layer *l = m->layers[i];
        float *w = params + l->param_off;
        for (int j = 0; j < l->nweights; j++) {
            char key[3 * SQ_NAME_MAX + 3], a[128], b[128];
            weight_key(l, j, key, sizeof key);
            int found = -1;
            for (int q = 0; q < n; q++)
                if (!strcmp(e[q].name, key))
                    found = q;
            if (found < 0) {
                sq_fail(err, "'%s' has no array '%s': it does not match this model", path, key);
                goto done;
            }
            if (!sq_shape_eq(&e[found].t.shape, &l->w[j].shape)) {
                sq_fail(err, "Shape mismatch in layer #%d (named %s) for weight %s:0. Weight "
                        "expects shape %s. Received saved weight with shape %s", i, l->name,
                        key, sq_shape_str(&l->w[j].shape, a, sizeof a),
                        sq_shape_str(&e[found].t.shape, b, sizeof b));
                goto done;
            }
            size_t c = sq_weight_count(&l->w[j]);
            memcpy(w, e[found].t.data, c * sizeof *w);
            w += c;
            used++;
        }
    }
    if (used != n) {
        for (int q = 0; q < n; q++) {
            int match = 0;
            for (int i = 0; i < m->n && !match; i++) {
                const sq_layer *l = m->layers[i];
                const char *top = l->group ? l->group->name : l->name;
                size_t len = strlen(top);
                match = !strncmp(e[q].name, top, len) && e[q].name[len] == '/';
            }
            if (!match) {
                sq_fail(err, "'%s' has an array '%s' that matches no weight of this model",
                        path, e[q].name);
                goto done;
            }
        }
        sq_fail(err, "'%s' holds %d arrays but this model has %d weights", path, n, used);
        goto done;
    }
    free(m->params);
    m->params = params;
    m->params_cap = m->nparams ? m->nparams : 1;
    params = NULL;
    rc = 0;
done:
    free(params);
    sq_named_free(e, n);
    return rc;
}
