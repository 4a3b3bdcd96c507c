/* fuzz_data.c - the data-set readers behind sq_data_load: CSV, IDX (and,
 * through the same door, .npy, .npz and gzip), read from a file in the
 * scratch folder as `call FILE` and `fit FILE label=...` read them.
 *
 * The first byte chooses how: bits 0-2 the label (none, last, first, 0, 1,
 * -1, 7, -9), bit 3 adds an ":arr_0" key to the path, bit 4 gzips the rest
 * first (so the CSV and IDX parsers also run behind the gzip reader). The
 * rest of the input is the file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "engine.h"
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
    if (t->shape.rank < 1 || t->shape.rank > SQ_MAX_RANK)
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
    sq_tensor_free(&x);
    sq_tensor_free(&y);
    return 0;
}
