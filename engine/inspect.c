/* inspect.c - looking inside a model: freezing and unfreezing by Keras-ish
 * selectors, and extracting every (or some) layer's output. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "model.h"
#include "io/npy.h"

/* An optional integer of a slice part: empty gives *set = 0. */
static int slice_part(const char *s, size_t len, long *v, int *set)
{
    char buf[32];
    while (len && *s == ' ') { s++; len--; }
    while (len && s[len - 1] == ' ') len--;
    *set = len > 0;
    if (!len)
        return 0;
    if (len >= sizeof buf)
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *end;
    errno = 0;
    *v = strtol(buf, &end, 10);
    return *end || errno ? -1 : 0;
}

/* Python's slice.indices(n) then range: marks picked[i]. */
static int apply_slice(const char *sel, int n, char *picked, sq_error *err)
{
    const char *c1 = strchr(sel, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    long a, b, st = 1;
    int has_a, has_b, has_st = 0;
    if (slice_part(sel, (size_t)(c1 - sel), &a, &has_a) < 0
        || slice_part(c1 + 1, c2 ? (size_t)(c2 - c1 - 1) : strlen(c1 + 1), &b, &has_b) < 0
        || (c2 && (strchr(c2 + 1, ':') || slice_part(c2 + 1, strlen(c2 + 1), &st, &has_st) < 0)))
        return sq_fail(err, "'%s' is not a slice (expected START:STOP[:STEP], e.g. :-1 or 1:3)", sel);
    if (!has_st)
        st = 1;
    if (st == 0)
        return sq_fail(err, "slice step cannot be zero");
    long lo = st > 0 ? 0 : -1, hi = st > 0 ? n : n - 1;
    if (!has_a) a = st > 0 ? lo : hi;
    else if (a < 0) a = a + n < lo ? lo : a + n;
    else if (a > hi) a = hi;
    if (!has_b) b = st > 0 ? hi : lo;
    else if (b < 0) b = b + n < lo ? lo : b + n;
    else if (b > hi) b = hi;
    for (long i = a; st > 0 ? i < b : i > b; i += st)
        picked[i] = 1;
    return 0;
}

int sq_set_trainable(sq_session *s, const char *sel, int trainable, int *count,
                     sq_error *err)
{
    sq_model *m = s->model;
    int ne = sq_entry_count(m);
    char *picked = sq_calloc((size_t)ne + 1, 1);
    if (!picked)
        return sq_fail(err, "out of memory");
    int rc = -1;
    char *end;
    errno = 0;
    long idx = strtol(sel, &end, 10);
    if (!strcmp(sel, "all")) {
        memset(picked, 1, (size_t)ne);
    } else if (*sel && !*end && !errno) {
        if (idx < -(long)ne || idx >= ne) {
            sq_fail(err, "Was asked to retrieve layer at index %s but model only has %d layer%s.",
                    sel, ne, ne == 1 ? "" : "s");
            goto done;
        }
        picked[idx < 0 ? idx + ne : idx] = 1;
    } else if (strchr(sel, ':')) {
        if (apply_slice(sel, ne, picked, err) < 0)
            goto done;
    } else {
        int e = sq_entry_find(m, sel, err);
        if (e < 0)
            goto done;
        picked[e] = 1;
    }
    *count = 0;
    for (int first = 0, e = 0; first < m->n; first = sq_entry_end(m, first), e++) {
        if (!picked[e])
            continue;
        for (int i = first; i < sq_entry_end(m, first); i++)
            m->layers[i]->trainable = trainable;
        (*count)++;
    }
    rc = 0;
done:
    free(picked);
    return rc;
}

int sq_extract(sq_session *s, const char *which, const sq_tensor *x,
               sq_named_tensor **outs, int *n, sq_error *err)
{
    sq_model *m = s->model;
    if (m->n == 0 && !strcmp(which, "all"))
        return sq_fail(err, "the model has no layers yet: add some first");
    /* the chosen entries, checked before anything runs */
    int ne = sq_entry_count(m);
    char *picked = sq_calloc((size_t)ne + 1, 1);
    if (!picked)
        return sq_fail(err, "out of memory");
    if (!strcmp(which, "all")) {
        memset(picked, 1, (size_t)ne);
    } else {
        char buf[1024];
        if (strlen(which) >= sizeof buf) {
            free(picked);
            return sq_fail(err, "layer list too long");
        }
        strcpy(buf, which);
        char *save = NULL;
        for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            int e = sq_entry_find(m, t, err);
            if (e < 0) {
                free(picked);
                return -1;
            }
            picked[e] = 1;
        }
    }
    /* an unbuilt model is built by running it once, as a call does */
    if (!m->built) {
        sq_tensor y;
        if (sq_call(s, x, &y, err) < 0) {
            free(picked);
            return -1;
        }
        sq_tensor_free(&y);
    } else if (sq_model_check_input(m, &x->shape, err) < 0
               || sq_model_check_data(m, x, err) < 0) {
        free(picked);
        return -1;
    }
    sq_train_ws ws;
    if (sq_train_ws_init(&ws, m, &x->shape, err) < 0) {
        free(picked);
        return -1;
    }
    sq_train_forward(m, &ws, x->data, x->shape.d[0], 0, NULL);
    int k = 0, rc = -1;
    sq_named_tensor *o = sq_calloc((size_t)ne + 1, sizeof *o);
    if (!o) {
        sq_fail(err, "out of memory");
        goto done;
    }
    for (int first = 0, e = 0; first < m->n; first = sq_entry_end(m, first), e++) {
        if (!picked[e])
            continue;
        int last = sq_entry_end(m, first) - 1;
        size_t c = sq_shape_count(&ws.sh[last + 1]);
        o[k].name = sq_strdup(sq_entry_name_at(m, first));
        o[k].t.shape = ws.sh[last + 1];
        o[k].t.data = sq_malloc((c ? c : 1) * sizeof(float));
        k++;
        if (!o[k - 1].name || !o[k - 1].t.data) {
            sq_fail(err, "out of memory");
            goto done;
        }
        memcpy(o[k - 1].t.data, ws.y[last], c * sizeof(float));
    }
    *outs = o;
    *n = k;
    o = NULL;
    rc = 0;
done:
    sq_named_free(o, k);
    sq_train_ws_free(&ws);
    free(picked);
    return rc;
}
