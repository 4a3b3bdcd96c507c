/* fit_data.c - fit's options and the data they name: validation_data=
 * (two inputs, a tuple, or a CSV split by the same label=),
 * sample_weight=, class_weight={0:1,1:5} (turned into per-sample weights
 * as keras/engine/data_adapter.py _make_class_weight_map_fn does) and
 * callbacks=. */
#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "compile.h"
#include "train/fit.h"

/* ---- fit's options ------------------------------------------------------------- */

int sq_fit_opts_check(const sq_fit_opts *o, sq_error *err)
{
    if (sq_check_long_range("fit", "epochs", o->epochs, 1, INT_MAX, err) < 0
        || sq_check_long_range("fit", "batch_size", o->batch_size, 1, LONG_MAX, err) < 0
        || sq_check_long_range("fit", "verbose", o->verbose, 0, 2, err) < 0
        || sq_check_long_range("fit", "initial_epoch", o->initial_epoch, 0, INT_MAX, err) < 0)
        return -1;
    if (!(o->validation_split >= 0 && o->validation_split < 1))
        return sq_fail(err, "fit: `validation_split` must be in [0, 1), got %g",
                       o->validation_split);
    return 0;
}

int sq_fit_opts_read(sq_args *a, sq_fit_opts *o, sq_error *err)
{
    *o = (sq_fit_opts){ .epochs = 1, .batch_size = 32, .shuffle = 1, .verbose = 1 };
    if (sq_arg_int(a, "epochs", INT_MIN, INT_MAX, &o->epochs, err) < 0
        || sq_arg_long(a, "batch_size", LONG_MIN, LONG_MAX, &o->batch_size, err) < 0
        || sq_arg_double(a, "validation_split", -HUGE_VAL, HUGE_VAL, &o->validation_split,
                         err) < 0
        || sq_arg_bool(a, "shuffle", &o->shuffle, err) < 0
        || sq_arg_int(a, "verbose", INT_MIN, INT_MAX, &o->verbose, err) < 0
        || sq_arg_int(a, "initial_epoch", INT_MIN, INT_MAX, &o->initial_epoch, err) < 0)
        return -1;
    o->label = sq_arg(a, "label");
    o->validation_data = sq_arg(a, "validation_data");
    o->sample_weight = sq_arg(a, "sample_weight");
    o->class_weight = sq_arg(a, "class_weight");
    o->callbacks = sq_arg(a, "callbacks");
    if (sq_fit_opts_check(o, err) < 0)
        return -1;
    /* the texts that need no data are checked now, before any is read */
    double w[1];
    int n;
    if (o->class_weight && sq_class_weight_parse(o->class_weight, w, 0, &n, err) < 0)
        return -1;
    sq_callbacks *cb;
    if (o->callbacks) {
        if (sq_callbacks_parse(o->callbacks, &cb, err) < 0)
            return -1;
        sq_callbacks_free(cb);
    }
    return 0;
}

int sq_batch_opts_read(sq_args *a, long *batch_size, int *verbose, sq_error *err)
{
    *batch_size = 32;
    if (sq_arg_long(a, "batch_size", 1, LONG_MAX, batch_size, err) < 0)
        return -1;
    if (verbose) {
        *verbose = 1;
        if (sq_arg_int(a, "verbose", 0, 1, verbose, err) < 0)
            return -1;
    }
    return 0;
}

/* ---- class_weight={0:1,1:5} ------------------------------------------------------ */

/* Python's repr of the dict as given: "{0: 1, 1: 5.0}". */
static void dict_repr(const long *k, const char *const *vt, const double *v, int n, char *buf,
                      size_t size)
{
    size_t len = 0;
    len += (size_t)snprintf(buf, size, "{");
    for (int i = 0; i < n && len < size; i++) {
        char num[64];
        len += (size_t)snprintf(buf + len, size - len, "%s%ld: %s", i ? ", " : "", k[i],
                                sq_py_number(vt[i], v[i], num, sizeof num));
    }
    if (len < size)
        snprintf(buf + len, size - len, "}");
}

int sq_class_weight_parse(const char *text, double *w, int max, int *n, sq_error *err)
{
    const char *p = text;
    int dict;
    size_t len = sq_unwrap(&p, "{}", &dict);
    if (!dict)
        return sq_fail(err, "fit: `class_weight` must be a dict such as {0:1,1:5}, got '%s'",
                       text);
    const char *start[SQ_ARGS_MAX];
    size_t sz[SQ_ARGS_MAX];
    int k;
    int rc = sq_split_items(p, len, start, sz, SQ_ARGS_MAX, &k);
    if (rc == -2)
        return sq_fail(err, "fit: `class_weight` has more than %d classes", SQ_ARGS_MAX);
    if (rc < 0)
        return sq_fail(err, "fit: `class_weight` must be a dict such as {0:1,1:5}, got '%s'",
                       text);
    long keys[SQ_ARGS_MAX];
    double vals[SQ_ARGS_MAX];
    char vtext[SQ_ARGS_MAX][64];
    const char *vt[SQ_ARGS_MAX];
    for (int i = 0; i < k; i++) {
        char item[160], *colon;
        if (sz[i] >= sizeof item)
            return sq_fail(err, "fit: `class_weight` entry '%.40s...' is too long", start[i]);
        memcpy(item, start[i], sz[i]);
        item[sz[i]] = '\0';
        if (!(colon = strchr(item, ':')))
            return sq_fail(err, "fit: `class_weight` must be a dict such as {0:1,1:5}, got "
                           "'%s'", text);
        *colon = '\0';
        char *kt = item, *v = colon + 1;
        while (isspace((unsigned char)*kt))
            kt++;
        for (char *e = kt + strlen(kt); e > kt && isspace((unsigned char)e[-1]);)
            *--e = '\0';
        while (isspace((unsigned char)*v))
            v++;
        for (char *e = v + strlen(v); e > v && isspace((unsigned char)e[-1]);)
            *--e = '\0';
        if (sq_check_long("fit", "class_weight", kt, LONG_MIN, LONG_MAX, &keys[i], err) < 0
            || sq_check_double("fit", "class_weight", v, -HUGE_VAL, HUGE_VAL, &vals[i], err) < 0)
            return -1;
        snprintf(vtext[i], sizeof vtext[i], "%s", v);
        vt[i] = vtext[i];
    }
    /* keys must be exactly 0 .. k-1 */
    int ok = 1;
    for (int c = 0; c < k && ok; c++) {
        int found = 0;
        for (int i = 0; i < k; i++)
            found += keys[i] == c;
        ok = found == 1;
    }
    if (!ok) {
        char repr[1024];
        dict_repr(keys, vt, vals, k, repr, sizeof repr);
        return sq_fail(err, "Expected `class_weight` to be a dict with keys from 0 to one less "
                       "than the number of classes, found %s", repr);
    }
    for (int i = 0; i < k && i < max; i++)
        w[keys[i]] = (double)(float)vals[i];
    *n = k;
    return 0;
}

/* ---- inputs named in options ------------------------------------------------------- */

int sq_input_load(sq_session *s, const char *spec, sq_tensor *out, sq_error *err)
{
    char buf[1024];
    while (isspace((unsigned char)*spec))
        spec++;
    if (strlen(spec) >= sizeof buf)
        return sq_fail(err, "input '%.40s...' is too long", spec);
    strcpy(buf, spec);
    for (char *e = buf + strlen(buf); e > buf && isspace((unsigned char)e[-1]);)
        *--e = '\0';
    size_t w = strcspn(buf, " \t");
    static const char *const gens[] = { "ones", "zeros", "random", "range" };
    for (int g = 0; g < 4; g++) {
        if (strlen(gens[g]) != w || strncmp(buf, gens[g], w))
            continue;
        long dims[SQ_MAX_RANK];
        int nd = 0;
        for (char *p = buf + w; *p; p++)
            if (*p == '(' || *p == ')' || *p == ',')
                *p = ' ';
        char *save = NULL;
        for (char *t = strtok_r(buf + w, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
            if (nd == SQ_MAX_RANK)
                return sq_fail(err, "too many dimensions (at most %d)", SQ_MAX_RANK);
            if (sq_check_long(NULL, "dimension", t, INT_MIN, INT_MAX, &dims[nd], err) < 0)
                return -1;
            nd++;
        }
        if (nd == 0)
            return sq_fail(err, "%s needs dimensions: %s D0 D1 ...", gens[g], gens[g]);
        return sq_tensor_generate(s, gens[g], nd, dims, out, err);
    }
    if (buf[w])
        return sq_fail(err, "unexpected '%s' after the input file", buf + w + 1);
    return sq_tensor_load(buf, out, err);
}

/* One value per sample, as a (N,) or (N, 1) array. */
static int per_sample(const sq_tensor *t, long n, const char *what, float **out, sq_error *err)
{
    char a[128];
    if (t->shape.rank < 1 || t->shape.rank > 2 || (t->shape.rank == 2 && t->shape.d[1] != 1))
        return sq_fail(err, "%s must hold one weight per sample, shape (%ld,); got shape %s",
                       what, n, sq_shape_str(&t->shape, a, sizeof a));
    if (t->shape.d[0] != n)
        return sq_fail(err, "Data cardinality is ambiguous: x sizes: %ld, %s sizes: %ld. Make "
                       "sure all arrays contain the same number of samples.", n, what,
                       t->shape.d[0]);
    float *w = sq_malloc((size_t)(n ? n : 1) * sizeof *w);
    if (!w)
        return sq_fail(err, "out of memory");
    memcpy(w, t->data, (size_t)n * sizeof *w);
    *out = w;
    return 0;
}

/* The class of each sample of y: argmax for one-hot rows, else int(y). */
static int class_weights(const char *text, const sq_tensor *y, long ntrain, float *sw,
                         sq_error *err)
{
    double cw[SQ_ARGS_MAX];
    int ncw;
    if (sq_class_weight_parse(text, cw, SQ_ARGS_MAX, &ncw, err) < 0)
        return -1;
    if (y->shape.rank > 2)
        return sq_fail(err, "`class_weight` not supported for 3+ dimensional targets.");
    long n = y->shape.d[0];
    size_t per = n ? sq_shape_count(&y->shape) / (size_t)n : 0;
    for (long i = 0; i < ntrain; i++) {
        const float *r = y->data + (size_t)i * per;
        long c = 0;
        if (y->shape.rank == 2 && y->shape.d[1] > 1) {
            for (size_t j = 1; j < per; j++)
                if (r[j] > r[c])
                    c = (long)j;
        } else if (r[0] > -2147483647.0f && r[0] < 2147483647.0f) {
            c = (long)r[0];
        } else {
            return sq_fail(err, "class_weight: y[%ld] = %g is not a class", i, r[0]);
        }
        if (c < 0 || c >= ncw)
            return sq_fail(err, "class_weight has no weight for class %ld (sample %ld of y): "
                           "indices[%ld] = %ld is not in [0, %d)", c, i, i, c, ncw);
        sw[i] *= (float)cw[c];
    }
    return 0;
}

void sq_fit_inputs_free(fit_inputs *in)
{
    if (in->own_val) {
        sq_tensor_free(&in->vx);
        sq_tensor_free(&in->vy);
    }
    free(in->vsw);
    free(in->sw);
    sq_callbacks_free(in->cbs);
    memset(in, 0, sizeof *in);
}

/* validation_data=: "xv,yv", "(xv, yv[, sw])", or one CSV split by label=. */
static int load_validation(sq_session *s, const char *text, const char *label, fit_inputs *in,
                           sq_error *err)
{
    const char *p = text;
    size_t len = sq_unwrap(&p, "()", NULL);
    const char *start[4];
    size_t sz[4];
    int k;
    if (sq_split_items(p, len, start, sz, 4, &k) < 0 || k == 0 || k > 3 || (k == 1 && !label))
        return sq_fail(err, "When passing validation_data, it must contain 2 (x_val, y_val) or 3 "
                       "(x_val, y_val, val_sample_weights) items, however it contains %d items "
                       "(validation_data=xv.npy,yv.npy, or one CSV file when fit has label=)",
                       k < 0 ? 0 : k);
    char item[3][1024];
    for (int i = 0; i < k; i++) {
        if (sz[i] >= sizeof item[i])
            return sq_fail(err, "validation_data: '%.40s...' is too long", start[i]);
        memcpy(item[i], start[i], sz[i]);
        item[i][sz[i]] = '\0';
    }
    in->own_val = 1;
    if (k == 1) {
        static const char *const gens[] = { "ones ", "zeros ", "random ", "range " };
        for (int g = 0; g < 4; g++)
            if (!strncmp(item[0], gens[g], strlen(gens[g])))
                return sq_fail(err, "When passing validation_data, it must contain 2 (x_val, "
                               "y_val) or 3 (x_val, y_val, val_sample_weights) items, however "
                               "it contains 1 items (one CSV file may stand for both when fit "
                               "has label=)");
        return sq_data_load(item[0], label, &in->vx, &in->vy, err);
    }
    if (sq_input_load(s, item[0], &in->vx, err) < 0)
        return -1;
    if (sq_input_load(s, item[1], &in->vy, err) < 0)
        return -1;
    if (k == 3) {
        sq_tensor w = { { 0, { 0 } }, NULL };
        if (sq_input_load(s, item[2], &w, err) < 0)
            return -1;
        int rc = per_sample(&w, in->vx.shape.d[0], "val_sample_weight", &in->vsw, err);
        sq_tensor_free(&w);
        return rc;
    }
    return 0;
}

int sq_fit_inputs_load(sq_session *s, const sq_tensor *y, long ntrain, const sq_fit_opts *o,
                       fit_inputs *in, sq_error *err)
{
    memset(in, 0, sizeof *in);
    long n = y->shape.d[0];
    if (o->validation_data) {
        if (load_validation(s, o->validation_data, o->label, in, err) < 0)
            goto fail;
        in->has_val = 1;
    } else if (o->val_x && o->val_y) {
        in->vx = *o->val_x;
        in->vy = *o->val_y;
        in->has_val = 1;
    }
    if (in->has_val && in->vy.shape.d[0] != in->vx.shape.d[0]) {
        sq_fail(err, "Data cardinality is ambiguous: x sizes: %ld, y sizes: %ld. Make sure all "
                "arrays contain the same number of samples. (validation_data)",
                in->vx.shape.d[0], in->vy.shape.d[0]);
        goto fail;
    }
    if (o->sample_weight || o->sample_weights) {
        sq_tensor w = { { 0, { 0 } }, NULL };
        if (o->sample_weight && sq_input_load(s, o->sample_weight, &w, err) < 0)
            goto fail;
        int rc = per_sample(o->sample_weight ? &w : o->sample_weights, n, "sample_weight",
                            &in->sw, err);
        sq_tensor_free(&w);
        if (rc < 0)
            goto fail;
    }
    if (o->class_weight) {
        if (!in->sw) {
            if (!(in->sw = sq_malloc((size_t)(n ? n : 1) * sizeof *in->sw))) {
                sq_fail(err, "out of memory");
                goto fail;
            }
            for (long i = 0; i < n; i++)
                in->sw[i] = 1.0f;
        }
        if (class_weights(o->class_weight, y, ntrain, in->sw, err) < 0)
            goto fail;
    }
    if (o->callbacks && sq_callbacks_parse(o->callbacks, &in->cbs, err) < 0)
        goto fail;
    return 0;
fail:
    sq_fit_inputs_free(in);
    return -1;
}
