/* fuzz_data.c - the data-set readers behind sq_data_load: CSV, IDX (and,
 * through the same door, .npy, .npz and gzip), read from a file in the
 * scratch folder as `call FILE` and `fit FILE label=...` read them.
 *
 * The first byte chooses how: bits 0-2 the label (none, last, first, 0, 1,
 * -1, 7, -9), bit 3 adds an ":arr_0" key to the path, bit 4 gzips the rest
 * first (so the CSV and IDX parsers also run behind the gzip reader), bits
 * 5-7 a loss and metric. The rest of the input is the file.
 *
 * What loads, when small, is then used as `call` and `fit` would use it:
 * called through a deferred Dense model, and with labels compiled, fitted
 * and evaluated; and a BatchNormalization model is fitted to reproduce it
 * (fit x x), so whatever values and shapes a file holds (NaN, infinities,
 * labels out of range, axes of length 0) run through the engine. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "seqsh/engine.h"
#include "fuzz.h"

static unsigned char *gzip_bytes(const uint8_t *d, size_t n, size_t *out)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return NULL;
    size_t cap = deflateBound(&z, (uLong)n) + 32;
    unsigned char *b = malloc(cap);
    if (!b) {
        deflateEnd(&z);
        return NULL;
    }
    z.next_in = (Bytef *)d;
    z.avail_in = (uInt)n;
    z.next_out = b;
    z.avail_out = (uInt)cap;
    if (deflate(&z, Z_FINISH) != Z_STREAM_END) {
        deflateEnd(&z);
        free(b);
        return NULL;
    }
    *out = cap - z.avail_out;
    deflateEnd(&z);
    return b;
}

static void check_tensor(const sq_tensor *t)
{
    /* rank 0 is a .npy scalar: one value */
    if (t->shape.rank < 0 || t->shape.rank > SQ_MAX_RANK)
        abort();
    size_t c = 1;
    for (int i = 0; i < t->shape.rank; i++) {
        if (t->shape.d[i] < 0)
            abort();
        c *= (size_t)t->shape.d[i];
    }
    volatile float sink = 0;
    for (size_t i = 0; i < c; i++)
        sink += t->data[i];
    (void)sink;
}

static void use(const sq_tensor *x, const sq_tensor *y, unsigned which)
{
    static const struct { const char *loss, *metric, *units, *act; } combos[8] = {
        { "mse", "mae", "1", NULL },
        { "sparse_categorical_crossentropy", "accuracy", "3", "softmax" },
        { "mse", "sparse_categorical_accuracy", "3", NULL },
        { "categorical_crossentropy", "categorical_accuracy", "3", "softmax" },
        { "binary_crossentropy", "accuracy", "1", "sigmoid" },
        { "huber", "mse", "2", "relu" },
        { "kld", "acc", "3", "softmax" },
        { "sparse_categorical_crossentropy", "sparse_categorical_accuracy", "2", NULL },
    };
    if (sq_shape_count(&x->shape) > 4096)
        return;
    sq_session *s = sq_session_new();
    if (!s)
        abort();
    sq_error e;
    char units[8], act[32];
    snprintf(units, sizeof units, "%s", combos[which].units);
    char *argv[2] = { units, act };
    int argc = 1;
    if (combos[which].act) {
        snprintf(act, sizeof act, "%s", combos[which].act);
        argc = 2;
    }
    if (sq_add(s, "dense", argc, argv, &e) != 0)
        abort();
    sq_tensor out;
    if (sq_call(s, x, &out, &e) == 0) {
        free(sq_tensor_format(&out));
        sq_tensor_free(&out);
    }
    if (y && sq_compile(s, "sgd", combos[which].loss, combos[which].metric, 0, NULL, NULL,
                        &e) == 0) {
        sq_fit_opts o = { .epochs = 2, .batch_size = 4, .validation_split = 0.25, .shuffle = 1, .verbose = 0  };
        (void)sq_fit(s, x, y, &o, NULL, NULL, &e);
        double v[8];
        const char *names[8];
        int n;
        (void)sq_evaluate(s, x, y, 3, 0, NULL, NULL, v, names, 8, &n, &e);
        sq_tensor p;
        if (sq_predict(s, x, 2, &p, &e) == 0)
            sq_tensor_free(&p);
    }
    sq_session_free(s);

    /* a shape-keeping model trained to reproduce x: fit(x, x) */
    s = sq_session_new();
    if (!s)
        abort();
    if (sq_add(s, "batchnormalization", 0, NULL, &e) != 0)
        abort();
    if (sq_compile(s, "adam", "mse", "mae", 0, NULL, NULL, &e) == 0) {
        sq_fit_opts o = { .epochs = 1, .batch_size = 3, .validation_split = 0.5, .shuffle = 1, .verbose = 0  };
        (void)sq_fit(s, x, x, &o, NULL, NULL, &e);
        double v[8];
        const char *names[8];
        int n;
        (void)sq_evaluate(s, x, x, 2, 0, NULL, NULL, v, names, 8, &n, &e);
        sq_tensor p;
        if (sq_predict(s, x, 3, &p, &e) == 0)
            sq_tensor_free(&p);
        sq_named_tensor *outs;
        if (sq_extract(s, "all", x, &outs, &n, &e) == 0)
            sq_named_free(outs, n);
    }
    sq_session_free(s);
}

FUZZ_ENTRY(data)
{
    static const char *labels[8] = { NULL, "last", "first", "0", "1", "-1", "7", "-9" };
    if (size < 1)
        return 0;
    unsigned mode = data[0];
    const uint8_t *body = data + 1;
    size_t blen = size - 1;
    unsigned char *gz = NULL;
    if (mode & 16) {
        gz = gzip_bytes(body, blen, &blen);
        if (!gz)
            return 0;
        body = gz;
    }
    const char *path = fuzz_write_scratch("data", body, blen);
    free(gz);
    if (!path)
        abort();
    char spec[4200];
    snprintf(spec, sizeof spec, "%s%s", path, mode & 8 ? ":arr_0" : "");
    const char *label = labels[mode & 7];
    sq_tensor x, y;
    sq_error err;
    memset(&x, 0, sizeof x);
    memset(&y, 0, sizeof y);
    err.msg[0] = '\0';
    if (sq_data_load(spec, label, &x, label ? &y : NULL, &err) != 0) {
        if (!err.msg[0] || !memchr(err.msg, '\0', sizeof err.msg))
            abort();
        return 0;
    }
    check_tensor(&x);
    if (label) {
        check_tensor(&y);
        if (y.shape.d[0] != x.shape.d[0])
            abort();                       /* one label per sample */
    }
    use(&x, label ? &y : NULL, mode >> 5);
    sq_tensor_free(&x);
    sq_tensor_free(&y);
    return 0;
}
