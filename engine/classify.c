/* classify.c - reading a classifier's outputs as classes: predict's
 * classes=true (Keras's predict_classes) and the confusion matrix with its
 * per-class precision and recall. Classes are decided exactly as Keras's
 * "accuracy" metric decides them, so the matrix's diagonal is evaluate's
 * accuracy: one output is binary (above 0.5 is class 1), several are
 * scored by their largest value against a class index per row or a
 * one-hot row. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "model.h"

/* The first largest of n values (NaN never wins), as Keras's argmax. */
static long arg_max(const float *v, long n)
{
    long b = 0;
    for (long j = 1; j < n; j++)
        if (v[j] > v[b])
            b = j;
    return b;
}

int sq_classes(const sq_tensor *y, sq_tensor *cls, sq_error *err)
{
    char a[128];
    if (y->shape.rank < 2 || y->shape.d[y->shape.rank - 1] < 1)
        return sq_fail(err, "classes need outputs with a batch and a class axis; got shape %s",
                       sq_shape_str(&y->shape, a, sizeof a));
    long last = y->shape.d[y->shape.rank - 1];
    size_t rows = sq_shape_count(&y->shape) / (size_t)last;
    sq_shape sh = y->shape;
    if (last > 1)
        sh.rank--;              /* argmax(axis=-1) */
    float *d = sq_malloc((rows ? rows : 1) * sizeof *d);
    if (!d)
        return sq_fail(err, "out of memory for the classes");
    for (size_t r = 0; r < rows; r++)
        d[r] = last > 1 ? (float)arg_max(y->data + r * (size_t)last, last)
                        : (float)(y->data[r] > 0.5f);
    cls->shape = sh;
    cls->data = d;
    return 0;
}

void sq_confusion_free(sq_confusion_matrix *cm)
{
    free(cm->counts);
    cm->counts = NULL;
    cm->nclasses = 0;
}

/* How y's rows name classes for outputs with `last` values per row. */
enum { Y_BINARY, Y_INDEX, Y_ONEHOT };

/* Reads true class r of y; -1 for a label that is not a class. */
static long true_class(int how, const float *y, size_t r, long last)
{
    if (how == Y_BINARY)
        return y[r] > 0.5f;
    if (how == Y_ONEHOT)
        return arg_max(y + r * (size_t)last, last);
    float v = y[r];
    if (!(v >= 0 && v < (float)last) || v != floorf(v))
        return -1;
    return (long)v;
}

int sq_confusion(sq_session *s, const sq_tensor *x, const sq_tensor *y, long batch_size,
                 sq_confusion_matrix *cm, sq_error *err)
{
    sq_model *m = s->model;
    char a[128], b[128];
    if (m->n == 0)
        return sq_fail(err, "the model has no layers yet: add some first");
    if (x->shape.rank < 1 || y->shape.rank < 1 || x->shape.d[0] != y->shape.d[0])
        return sq_fail(err, "Data cardinality is ambiguous: x sizes: %ld, y sizes: %ld. Make "
                       "sure all arrays contain the same number of samples.",
                       x->shape.rank ? x->shape.d[0] : 0, y->shape.rank ? y->shape.d[0] : 0);
    int was_built = m->built;
    sq_rng saved = s->rng;
    sq_tensor out = { 0 };
    if (sq_predict(s, x, batch_size, &out, err) < 0)
        goto fail;           /* it may have built the model before failing */
    long n = out.shape.d[0], last = out.shape.d[out.shape.rank - 1];
    size_t per_out = n ? sq_shape_count(&out.shape) / (size_t)n : 0;
    size_t per_y = n ? sq_shape_count(&y->shape) / (size_t)n : 0;
    size_t rows = last > 0 ? per_out / (size_t)last : 0;
    long k = last == 1 ? 2 : last;
    int how = last == 1 ? Y_BINARY : per_y == rows ? Y_INDEX : Y_ONEHOT;
    if (out.shape.rank < 2 || last < 1 || rows == 0) {
        sq_fail(err, "the model's outputs have shape %s: there are no classes to count",
                sq_shape_str(&out.shape, a, sizeof a));
        goto fail;
    }
    if ((how == Y_ONEHOT && per_y != per_out) || (how == Y_BINARY && per_y != rows)) {
        sq_fail(err, "y has shape %s but the model's outputs have shape %s: give one class "
                "index (or one-hot row) per output row", sq_shape_str(&y->shape, a, sizeof a),
                sq_shape_str(&out.shape, b, sizeof b));
        goto fail;
    }
    double need = (double)k * (double)k * sizeof(long);
    if (sq_check_memory(need, "the confusion matrix", err) < 0)
        goto fail;
    long *counts = sq_calloc((size_t)(k * k), sizeof *counts);
    if (!counts) {
        sq_fail(err, "out of memory for the confusion matrix");
        goto fail;
    }
    size_t total = (size_t)n * rows;
    for (size_t r = 0; r < total; r++) {
        long t = true_class(how, y->data, r, last);
        if (t < 0) {
            sq_fail(err, "Received a label value of %g which is outside the valid range of "
                    "[0, %ld).", (double)y->data[r], last);
            free(counts);
            goto fail;
        }
        const float *o = out.data + r * (size_t)last;
        long p = last == 1 ? o[0] > 0.5f : arg_max(o, last);
        counts[t * k + p]++;
    }
    sq_tensor_free(&out);
    cm->nclasses = (int)k;
    cm->counts = counts;
    cm->total = (long)total;
    return 0;
fail:
    sq_tensor_free(&out);
    if (!was_built)
        sq_model_unbuild(m);
    s->rng = saved;
    return -1;
}

/* Digits of v >= 0. */
static int digits(long v)
{
    int d = 1;
    while (v >= 10) {
        v /= 10;
        d++;
    }
    return d;
}

/* A ratio as 0.9667, or "-" when there is nothing to divide by. */
static void ratio(sbuf *b, long num, long den, int width)
{
    if (den == 0)
        sb_printf(b, "%*s", width, "-");
    else
        sb_printf(b, "%*.4f", width, (double)num / (double)den);
}

char *sq_confusion_text(const sq_confusion_matrix *cm, sq_error *err)
{
    int k = cm->nclasses;
    long maxc = 0, right = 0;
    for (long i = 0; i < (long)k * k; i++)
        if (cm->counts[i] > maxc)
            maxc = cm->counts[i];
    int w = digits(maxc) > digits(k - 1) ? digits(maxc) : digits(k - 1);
    if (w < 3)
        w = 3;
    const char *corner = "true\\pred";
    int cw = (int)strlen(corner);
    sbuf b = { 0 };
    sb_printf(&b, "Confusion matrix: %ld sample%s; a row is the true class, a column the "
              "predicted one\n", cm->total, cm->total == 1 ? "" : "s");
    sb_printf(&b, "%s", corner);
    for (int j = 0; j < k; j++)
        sb_printf(&b, "  %*d", w, j);
    sb_printf(&b, "\n");
    for (int i = 0; i < k; i++) {
        sb_printf(&b, "%*d", cw, i);
        for (int j = 0; j < k; j++)
            sb_printf(&b, "  %*ld", w, cm->counts[(long)i * k + j]);
        sb_printf(&b, "\n");
        right += cm->counts[(long)i * k + i];
    }
    int sw = digits(cm->total) > 7 ? digits(cm->total) : 7;
    sb_printf(&b, "\n%5s  %9s  %6s  %*s\n", "class", "precision", "recall", sw, "support");
    for (int i = 0; i < k; i++) {
        long predicted = 0, support = 0;
        for (int j = 0; j < k; j++) {
            predicted += cm->counts[(long)j * k + i];
            support += cm->counts[(long)i * k + j];
        }
        sb_printf(&b, "%5d  ", i);
        ratio(&b, cm->counts[(long)i * k + i], predicted, 9);
        sb_printf(&b, "  ");
        ratio(&b, cm->counts[(long)i * k + i], support, 6);
        sb_printf(&b, "  %*ld\n", sw, support);
    }
    sb_printf(&b, "\naccuracy: ");
    ratio(&b, right, cm->total, 0);
    sb_printf(&b, " (%ld of %ld)\n", right, cm->total);
    return sb_finish(&b, err);
}
