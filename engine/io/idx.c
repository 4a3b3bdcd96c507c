/* idx.c - IDX files, MNIST's format: a big-endian header with the element
 * type and the dimensions, then the elements (ubyte, byte, short, int,
 * float, double), converted to float32. The header is checked against the
 * bytes present before anything is allocated. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "io/bytes.h"
#include "io/data.h"

#define POLL_EVERY ((size_t)1 << 20)   /* values converted between two polls */

int sq_idx_parse(const unsigned char *b, size_t n, const char *subj,
                     sq_tensor *out, sq_error *err)
{
    size_t es;
    sq_tensor t;
    char shape[SQ_MAX_RANK * 24 + 8];

    if (n < 4)
        return sq_fail(err, "%s is truncated (incomplete IDX header)", subj);
    int type = b[2], nd = b[3];
    switch (type) {
    case 0x08: case 0x09: es = 1; break;
    case 0x0B: es = 2; break;
    case 0x0C: case 0x0D: es = 4; break;
    case 0x0E: es = 8; break;
    default:
        return sq_fail(err, "%s: unknown IDX type code 0x%02X (expected 08, "
                       "09, 0B, 0C, 0D or 0E)", subj, (unsigned)type);
    }
    if (nd < 1 || nd > SQ_MAX_RANK)
        return sq_fail(err, "%s: IDX arrays of %d dimensions are not supported "
                       "(1 to %d)", subj, nd, SQ_MAX_RANK);
    if (n - 4 < 4 * (size_t)nd)
        return sq_fail(err, "%s is truncated (incomplete IDX header)", subj);

    memset(&t, 0, sizeof t);
    t.shape.rank = nd;
    size_t count = 1;
    int overflow = 0;
    for (int i = 0; i < nd; i++) {
        uint32_t d = be32(b + 4 + 4 * (size_t)i);
        if (sizeof(long) < 8 && d > 0x7fffffffu)
            return sq_fail(err, "%s: IDX dimension %lu is too large", subj,
                           (unsigned long)d);
        t.shape.d[i] = (long)d;
        if (!mul_size(count, d, &count))
            overflow = 1;
    }
    sq_shape_str(&t.shape, shape, sizeof shape);
    size_t off = 4 + 4 * (size_t)nd, have = n - off, nbytes, outbytes;
    if (overflow || !mul_size(count, es, &nbytes) ||
        !mul_size(count, sizeof(float), &outbytes))
        return sq_fail(err, "%s: IDX header claims shape %s, far more than the "
                       "file's %zu bytes of data", subj, shape, have);
    if (nbytes > have)
        return sq_fail(err, "%s is truncated: its IDX header claims shape %s "
                       "(%zu bytes of data), the file has %zu", subj, shape,
                       nbytes, have);
    if (nbytes < have)
        return sq_fail(err, "%s: its IDX header claims shape %s (%zu bytes of "
                       "data), but the file has %zu (extra bytes at the end)",
                       subj, shape, nbytes, have);
    /* the dimensions as every shape is checked (a file of shape
     * (0, 2^32 - 1, 2^32 - 1) holds nothing but cannot be flattened) */
    long checked;
    if (sq_dims_count(t.shape.d, nd, subj, &checked, err) < 0)
        return -1;
    char what[64 + SQ_ERR_MAX / 2];
    snprintf(what, sizeof what, "reading %.*s", SQ_ERR_MAX / 2, subj);
    if (sq_check_memory((double)outbytes, what, err) < 0)
        return -1;
    float *d = sq_malloc(outbytes ? outbytes : 1);
    if (!d)
        return sq_fail(err, "out of memory reading %s (%zu bytes)", subj,
                       outbytes);
    const unsigned char *p = b + off;
    for (size_t i = 0; i < count; i++, p += es) {
        if (i % POLL_EVERY == 0 && sq_poll(err) < 0) {
            free(d);
            return -1;
        }
        switch (type) {
        case 0x08: d[i] = (float)p[0]; break;
        case 0x09: d[i] = (float)(p[0] < 128 ? (int)p[0] : (int)p[0] - 256);
                   break;
        case 0x0B: {
            unsigned v = (unsigned)p[0] << 8 | p[1];
            d[i] = (float)(v < 32768 ? (long)v : (long)v - 65536);
            break;
        }
        case 0x0C: {
            uint32_t v = be32(p);
            d[i] = (float)(v < 0x80000000u ? (int64_t)v
                                          : (int64_t)v - ((int64_t)1 << 32));
            break;
        }
        case 0x0D: {
            uint32_t v = be32(p);
            float f;
            memcpy(&f, &v, sizeof f);
            d[i] = f;
            break;
        }
        default: {
            uint64_t v = be64(p);
            double f;
            memcpy(&f, &v, sizeof f);
            d[i] = (float)f;
            break;
        }
        }
    }
    t.data = d;
    *out = t;
    return 0;
}

