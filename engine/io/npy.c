/* npy.c - NumPy's .npy and .npz formats: readers that trust no size they
 * are given (every offset and length is checked against the real data
 * before use), writers that produce what numpy.save / numpy.savez write, and
 * the whole-file read and atomic write helpers the rest of the engine uses. */
#define ZLIB_CONST
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#include <zlib.h>
#include "io/npy.h"

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6
#define NPY_ALIGN 64
#define NPY_GROWTH_DIGITS 21   /* numpy's GROWTH_AXIS_MAX_DIGITS */
#define SUBJECT_MAX 600        /* "'path' member 'name'" in messages */

#define ZIP_LOCAL_SIG 0x04034b50u
#define ZIP_CENTRAL_SIG 0x02014b50u
#define ZIP_EOCD_SIG 0x06054b50u
#define ZIP64_EOCD_SIG 0x06064b50u
#define ZIP64_LOCATOR_SIG 0x07064b50u
#define ZIP_LOCAL_LEN 30
#define ZIP_CENTRAL_LEN 46
#define ZIP_EOCD_LEN 22
#define ZIP64_EOCD_LEN 56
#define ZIP64_LOCATOR_LEN 20
#define ZIP64_LIMIT 0x7fffffffu   /* Python's zipfile.ZIP64_LIMIT */
#define ZIP_DOS_DATE 0x0021       /* 1980-01-01, as numpy.savez stamps it */

/* ---- little helpers ------------------------------------------------------- */

static int host_is_big_endian(void)
{
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 0;
}

/* a * b into *r; 0 on overflow. */
static int mul_size(size_t a, size_t b, size_t *r)
{
    if (a != 0 && b > SIZE_MAX / a)
        return 0;
    *r = a * b;
    return 1;
}

/* Number of elements of a shape (1 for rank 0); 0 on overflow. */
static int shape_count(const sq_shape *sh, size_t *count)
{
    size_t c = 1;
    for (int i = 0; i < sh->rank; i++)
        if (sh->d[i] < 0 || !mul_size(c, (size_t)sh->d[i], &c))
            return 0;
    *count = c;
    return 1;
}

static uint16_t rd16(const unsigned char *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t rd32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static uint64_t rd64(const unsigned char *p)
{
    return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static uint32_t crc32_of(const unsigned char *p, size_t n)
{
    uLong c = crc32(0L, Z_NULL, 0);
    while (n > 0) {
        uInt k = n > (1u << 30) ? (1u << 30) : (uInt)n;
        c = crc32(c, p, k);
        p += k;
        n -= k;
    }
    return (uint32_t)c;
}

/* A growable byte buffer for the writers; `oom` sticks once set. */
typedef struct {
    unsigned char *p;
    size_t len, cap;
    int oom;
} bbuf;

static int bb_reserve(bbuf *b, size_t more)
{
    if (b->oom)
        return 0;
    if (more > SIZE_MAX - b->len) {
        b->oom = 1;
        return 0;
    }
    if (b->len + more <= b->cap)
        return 1;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + more)
        cap = cap > SIZE_MAX / 2 ? b->len + more : cap * 2;
    unsigned char *p = sq_realloc(b->p, cap);
    if (!p) {
        b->oom = 1;
        return 0;
    }
    b->p = p;
    b->cap = cap;
    return 1;
}

static void bb_put(bbuf *b, const void *src, size_t n)
{
    if (n && bb_reserve(b, n)) {
        memcpy(b->p + b->len, src, n);
        b->len += n;
    }
}

static void bb_le(bbuf *b, uint64_t v, int nbytes)
{
    unsigned char tmp[8];
    for (int i = 0; i < nbytes; i++)
        tmp[i] = (unsigned char)(v >> (8 * i));
    bb_put(b, tmp, (size_t)nbytes);
}

static void bb_u16(bbuf *b, unsigned v) { bb_le(b, v, 2); }
static void bb_u32(bbuf *b, uint64_t v) { bb_le(b, v, 4); }
static void bb_u64(bbuf *b, uint64_t v) { bb_le(b, v, 8); }

static void patch32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* ---- .npy reading --------------------------------------------------------- */

typedef struct {
    char kind;        /* 'f', 'i', 'u' or 'b' */
    int size;         /* bytes per element */
    int big;          /* big-endian data */
} npy_dtype;

typedef struct {
    char descr[64];
    int has_descr, has_fortran, has_shape;
    int fortran;
    int rank;         /* as written, may exceed SQ_MAX_RANK */
    long d[SQ_MAX_RANK];
} npy_header;

static void skip_ws(const char **p)
{
    while (**p == ' ' || **p == '\t' || **p == '\n' || **p == '\r')
        (*p)++;
}

/* A Python string literal in ' or " quotes, without escapes. */
static int parse_pystr(const char **p, char *dst, size_t cap)
{
    char q = **p;
    if (q != '\'' && q != '"')
        return 0;
    const char *s = *p + 1, *e = strchr(s, q);
    if (!e || (size_t)(e - s) >= cap)
        return 0;
    memcpy(dst, s, (size_t)(e - s));
    dst[e - s] = '\0';
    *p = e + 1;
    return 1;
}

/* The shape tuple: "()", "(3,)", "(2, 3)", "(2L, 3L)", "(2, 3,)". */
static int parse_shape(const char **p, npy_header *h, const char *subject,
                       sq_error *err)
{
    const char *s = *p;
    if (*s != '(')
        return sq_fail(err, "%s: malformed .npy header (shape is not a tuple)",
                       subject);
    s++;
    h->rank = 0;
    for (;;) {
        skip_ws(&s);
        if (*s == ')')
            break;
        if (*s < '0' || *s > '9') {
            if (*s == '-')
                break;   /* reported below as a negative dimension */
            return sq_fail(err, "%s: malformed .npy header (bad shape)",
                           subject);
        }
        char *end;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (errno == ERANGE)
            return sq_fail(err, "%s: shape is too large", subject);
        s = end;
        if (*s == 'L')
            s++;
        if (h->rank < SQ_MAX_RANK)
            h->d[h->rank] = v;
        h->rank++;
        skip_ws(&s);
        if (*s == ',')
            s++;
        else if (*s != ')')
            return sq_fail(err, "%s: malformed .npy header (bad shape)",
                           subject);
    }
    if (*s == '-') {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s + 1)
            return sq_fail(err, "%s: malformed .npy header (bad shape)",
                           subject);
        return sq_fail(err, "%s: negative dimension %ld in shape", subject, v);
    }
    *p = s + 1;
    if (h->rank > SQ_MAX_RANK)
        return sq_fail(err, "%s: arrays of rank %d are not supported "
                       "(at most %d dimensions)", subject, h->rank,
                       SQ_MAX_RANK);
    return 0;
}

/* The header dict literal; h->... filled. `text` is NUL-terminated. */
static int parse_header(const char *text, npy_header *h, const char *subject,
                        sq_error *err)
{
    const char *p = text;
    memset(h, 0, sizeof *h);
    skip_ws(&p);
    if (*p != '{')
        return sq_fail(err, "%s: malformed .npy header (no dictionary)",
                       subject);
    p++;
    for (;;) {
        char key[32];
        skip_ws(&p);
        if (*p == '}')
            break;
        if (!parse_pystr(&p, key, sizeof key))
            return sq_fail(err, "%s: malformed .npy header (bad key)", subject);
        skip_ws(&p);
        if (*p != ':')
            return sq_fail(err, "%s: malformed .npy header (no ':' after "
                           "'%s')", subject, key);
        p++;
        skip_ws(&p);
        if (strcmp(key, "descr") == 0) {
            if (*p == '[')
                return sq_fail(err, "%s: unsupported dtype (structured "
                               "arrays are not supported)", subject);
            if (!parse_pystr(&p, h->descr, sizeof h->descr))
                return sq_fail(err, "%s: malformed .npy header (bad descr)",
                               subject);
            h->has_descr = 1;
        } else if (strcmp(key, "fortran_order") == 0) {
            if (strncmp(p, "True", 4) == 0) {
                h->fortran = 1;
                p += 4;
            } else if (strncmp(p, "False", 5) == 0) {
                h->fortran = 0;
                p += 5;
            } else {
                return sq_fail(err, "%s: malformed .npy header (bad "
                               "fortran_order)", subject);
            }
            h->has_fortran = 1;
        } else if (strcmp(key, "shape") == 0) {
            if (parse_shape(&p, h, subject, err) != 0)
                return -1;
            h->has_shape = 1;
        } else {
            return sq_fail(err, "%s: unexpected key '%s' in .npy header",
                           subject, key);
        }
        skip_ws(&p);
        if (*p == ',')
            p++;
        else if (*p != '}')
            return sq_fail(err, "%s: malformed .npy header (expected ',' or "
                           "'}')", subject);
    }
    p++;
    skip_ws(&p);
    if (*p != '\0')
        return sq_fail(err, "%s: malformed .npy header (junk after the "
                       "dictionary)", subject);
    if (!h->has_descr || !h->has_fortran || !h->has_shape)
        return sq_fail(err, "%s: .npy header lacks '%s'", subject,
                       !h->has_descr ? "descr" :
                       !h->has_fortran ? "fortran_order" : "shape");
    return 0;
}

static int parse_dtype(const char *descr, npy_dtype *dt)
{
    const char *s = descr;
    int big = host_is_big_endian();
    if (*s == '<' || *s == '>' || *s == '=' || *s == '|') {
        if (*s == '<')
            big = 0;
        else if (*s == '>')
            big = 1;
        s++;
    }
    char kind = *s;
    if (kind != 'f' && kind != 'i' && kind != 'u' && kind != 'b')
        return 0;
    s++;
    int size;
    if (strcmp(s, "1") == 0)
        size = 1;
    else if (strcmp(s, "2") == 0)
        size = 2;
    else if (strcmp(s, "4") == 0)
        size = 4;
    else if (strcmp(s, "8") == 0)
        size = 8;
    else
        return 0;
    if ((kind == 'f' && size != 4 && size != 8) || (kind == 'b' && size != 1))
        return 0;
    dt->kind = kind;
    dt->size = size;
    dt->big = big;
    return 1;
}

static float convert_one(const unsigned char *p, const npy_dtype *dt)
{
    uint64_t v = 0;
    for (int i = 0; i < dt->size; i++)
        v |= (uint64_t)p[dt->big ? dt->size - 1 - i : i] << (8 * i);
    switch (dt->kind) {
    case 'f':
        if (dt->size == 4) {
            uint32_t u = (uint32_t)v;
            float f;
            memcpy(&f, &u, sizeof f);
            return f;
        } else {
            double d;
            memcpy(&d, &v, sizeof d);
            return (float)d;
        }
    case 'i': {
        int bits = 8 * dt->size;
        if (bits < 64 && (v >> (bits - 1)) & 1)
            v |= ~(uint64_t)0 << bits;      /* sign-extend */
        int64_t s = (v >> 63) ? -(int64_t)(~v) - 1 : (int64_t)v;
        return (float)s;
    }
    case 'u':
        return (float)v;
    default:   /* 'b' */
        return v != 0 ? 1.0f : 0.0f;
    }
}

/* Parses a .npy image. `subject` names it in messages ("'x.npy'"). On
 * failure *out is untouched. */
static int npy_parse(const unsigned char *buf, size_t len, const char *subject,
                     sq_tensor *out, sq_error *err)
{
    char *text = NULL;
    float *data = NULL;
    npy_header h;
    npy_dtype dt;

    if (len < NPY_MAGIC_LEN || memcmp(buf, NPY_MAGIC, NPY_MAGIC_LEN) != 0)
        return sq_fail(err, "%s is not a .npy file (bad magic)", subject);
    if (len < NPY_MAGIC_LEN + 2)
        return sq_fail(err, "%s is truncated (incomplete header)", subject);
    int major = buf[6], minor = buf[7];
    if (major < 1 || major > 3 || minor != 0)
        return sq_fail(err, "%s: unsupported .npy format version %d.%d",
                       subject, major, minor);
    size_t pre = major == 1 ? 10 : 12, hlen;
    if (len < pre)
        return sq_fail(err, "%s is truncated (incomplete header)", subject);
    hlen = major == 1 ? rd16(buf + 8) : rd32(buf + 8);
    if (hlen > len - pre)
        return sq_fail(err, "%s is truncated (incomplete header)", subject);

    text = sq_malloc(hlen + 1);
    if (!text) {
        sq_fail(err, "out of memory reading %s", subject);
        goto fail;
    }
    memcpy(text, buf + pre, hlen);
    text[hlen] = '\0';
    if (strlen(text) != hlen) {
        sq_fail(err, "%s: malformed .npy header (NUL byte)", subject);
        goto fail;
    }
    if (parse_header(text, &h, subject, err) != 0)
        goto fail;
    if (!parse_dtype(h.descr, &dt)) {
        sq_fail(err, "%s: unsupported dtype '%s'", subject, h.descr);
        goto fail;
    }

    sq_tensor t;
    memset(&t, 0, sizeof t);
    t.shape.rank = h.rank;
    for (int i = 0; i < h.rank; i++)
        t.shape.d[i] = h.d[i];
    size_t count, nbytes, outbytes;
    if (!shape_count(&t.shape, &count) ||
        !mul_size(count, (size_t)dt.size, &nbytes) ||
        !mul_size(count, sizeof(float), &outbytes)) {
        sq_fail(err, "%s: shape is too large", subject);
        goto fail;
    }
    size_t avail = len - pre - hlen;
    if (nbytes > avail) {
        sq_fail(err, "%s is truncated: header says %zu bytes of data, "
                "file has %zu", subject, nbytes, avail);
        goto fail;
    }
    data = sq_malloc(outbytes ? outbytes : 1);
    if (!data) {
        sq_fail(err, "out of memory reading %s (%zu bytes)", subject, outbytes);
        goto fail;
    }

    const unsigned char *src = buf + pre + hlen;
    if (!h.fortran || h.rank < 2 || count == 0) {
        if (dt.kind == 'f' && dt.size == 4 && dt.big == host_is_big_endian()) {
            memcpy(data, src, nbytes);
        } else {
            for (size_t j = 0; j < count; j++)
                data[j] = convert_one(src + j * (size_t)dt.size, &dt);
        }
    } else {
        /* Walk the source in Fortran order (axis 0 fastest), keeping the
         * matching C-order destination index up to date. */
        size_t cstride[SQ_MAX_RANK], dst = 0;
        long idx[SQ_MAX_RANK] = {0};
        cstride[h.rank - 1] = 1;
        for (int i = h.rank - 2; i >= 0; i--)
            cstride[i] = cstride[i + 1] * (size_t)h.d[i + 1];
        for (size_t j = 0; j < count; j++) {
            data[dst] = convert_one(src + j * (size_t)dt.size, &dt);
            for (int i = 0; i < h.rank; i++) {
                idx[i]++;
                dst += cstride[i];
                if (idx[i] < h.d[i])
                    break;
                dst -= cstride[i] * (size_t)h.d[i];
                idx[i] = 0;
            }
        }
    }
    free(text);
    t.data = data;
    *out = t;
    return 0;

fail:
    free(text);
    free(data);
    return -1;
}

int npy_read_mem(const unsigned char *buf, size_t len, sq_tensor *out,
                 sq_error *err)
{
    if (!buf && len > 0)
        return sq_fail(err, "input is not a .npy file (bad magic)");
    return npy_parse(buf, len, "input", out, err);
}

int npy_read_file(const char *path, sq_tensor *out, sq_error *err)
{
    unsigned char *buf;
    size_t len;
    char subject[SUBJECT_MAX];
    if (sq_read_whole_file(path, &buf, &len, err) != 0)
        return -1;
    snprintf(subject, sizeof subject, "'%s'", path);
    int rc = npy_parse(buf, len, subject, out, err);
    free(buf);
    return rc;
}

/* ---- .npy writing --------------------------------------------------------- */

/* Appends t as a float32 .npy image, byte for byte as numpy.save writes a
 * C-contiguous '<f4' array (numpy >= 1.23 header padding). */
static int npy_append(bbuf *b, const sq_tensor *t, const char *subject,
                     sq_error *err)
{
    if (!t)
        return sq_fail(err, "%s: no tensor to save", subject);
    if (t->shape.rank < 0 || t->shape.rank > SQ_MAX_RANK)
        return sq_fail(err, "%s: cannot save a tensor of rank %d", subject,
                       t->shape.rank);
    for (int i = 0; i < t->shape.rank; i++)
        if (t->shape.d[i] < 0)
            return sq_fail(err, "%s: cannot save a tensor with unknown "
                           "dimension %d", subject, i);
    size_t count, nbytes;
    if (!shape_count(&t->shape, &count) ||
        !mul_size(count, sizeof(float), &nbytes))
        return sq_fail(err, "%s: tensor is too large", subject);
    if (count > 0 && !t->data)
        return sq_fail(err, "%s: tensor has no data", subject);

    char shape[SQ_MAX_RANK * 24 + 4], hdr[sizeof shape + 128];
    int n = 0, lead = 0;
    shape[n++] = '(';
    for (int i = 0; i < t->shape.rank; i++) {
        int k = snprintf(shape + n, sizeof shape - (size_t)n,
                         i ? ", %ld" : "%ld", t->shape.d[i]);
        if (i == 0)
            lead = k;
        n += k;
    }
    snprintf(shape + n, sizeof shape - (size_t)n,
             t->shape.rank == 1 ? ",)" : ")");
    int hl = snprintf(hdr, sizeof hdr,
                      "{'descr': '<f4', 'fortran_order': False, "
                      "'shape': %s, }", shape);
    /* numpy leaves room for the first axis to grow to 21 digits. */
    if (t->shape.rank > 0)
        for (int i = lead; i < NPY_GROWTH_DIGITS; i++)
            hdr[hl++] = ' ';
    size_t body = (size_t)hl + 1;                       /* + '\n' */
    size_t pad = NPY_ALIGN - (NPY_MAGIC_LEN + 4 + body) % NPY_ALIGN;
    bb_put(b, NPY_MAGIC, NPY_MAGIC_LEN);
    bb_put(b, "\x01\x00", 2);
    bb_u16(b, (unsigned)(body + pad));
    bb_put(b, hdr, (size_t)hl);
    for (size_t i = 0; i < pad; i++)
        bb_put(b, " ", 1);
    bb_put(b, "\n", 1);
    if (!host_is_big_endian()) {
        bb_put(b, t->data, nbytes);
    } else if (bb_reserve(b, nbytes)) {
        for (size_t j = 0; j < count; j++) {
            uint32_t u;
            memcpy(&u, &t->data[j], sizeof u);
            patch32(b->p + b->len + 4 * j, u);
        }
        b->len += nbytes;
    }
    if (b->oom)
        return sq_fail(err, "out of memory saving %s", subject);
    return 0;
}

int npy_write_file(const char *path, const sq_tensor *t, sq_error *err)
{
    bbuf b = {0};
    char subject[SUBJECT_MAX];
    snprintf(subject, sizeof subject, "'%s'", path);
    int rc = npy_append(&b, t, subject, err);
    if (rc == 0)
        rc = sq_write_file_atomic(path, b.p, b.len, err);
    free(b.p);
    return rc;
}

/* ---- .npz reading --------------------------------------------------------- */

/* Inflates raw deflate data into exactly dlen bytes. */
static int inflate_exact(const unsigned char *src, size_t slen,
                         unsigned char *dst, size_t dlen, const char *subject,
                         sq_error *err)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, -MAX_WBITS) != Z_OK)
        return sq_fail(err, "%s: cannot start zlib", subject);
    size_t in_left = slen, out_left = dlen;
    const uInt chunk = 1u << 30;
    zs.next_in = src;
    zs.next_out = dst;
    int rc;
    for (;;) {
        if (zs.avail_in == 0 && in_left > 0) {
            zs.avail_in = in_left > chunk ? chunk : (uInt)in_left;
            in_left -= zs.avail_in;
        }
        if (zs.avail_out == 0 && out_left > 0) {
            zs.avail_out = out_left > chunk ? chunk : (uInt)out_left;
            out_left -= zs.avail_out;
        }
        rc = inflate(&zs, Z_NO_FLUSH);
        if (rc != Z_OK)
            break;
    }
    int full = out_left == 0 && zs.avail_out == 0;
    const char *zmsg = zs.msg ? zs.msg : "invalid data";
    if (rc == Z_STREAM_END && full) {
        inflateEnd(&zs);
        return 0;
    }
    if (rc == Z_STREAM_END)
        sq_fail(err, "%s: decompressed data is shorter than its header says",
                subject);
    else if (rc == Z_BUF_ERROR && full)
        sq_fail(err, "%s: decompressed data is longer than its header says",
                subject);
    else if (rc == Z_BUF_ERROR)
        sq_fail(err, "%s is truncated (compressed data ends early)", subject);
    else if (rc == Z_MEM_ERROR)
        sq_fail(err, "out of memory decompressing %s", subject);
    else
        sq_fail(err, "%s: corrupt compressed data (%s)", subject, zmsg);
    inflateEnd(&zs);
    return -1;
}

/* Values from a ZIP64 extra field (id 1) that replace 0xFFFFFFFF fields, in
 * the order usize, csize, offset; need[] says which are expected. */
static int zip64_extra(const unsigned char *x, size_t xlen, const int need[3],
                       uint64_t val[3])
{
    while (xlen >= 4) {
        unsigned id = rd16(x), sz = rd16(x + 2);
        if (sz > xlen - 4)
            return 0;
        if (id == 1) {
            size_t at = 4;
            for (int i = 0; i < 3; i++) {
                if (!need[i])
                    continue;
                if (at + 8 > 4 + (size_t)sz)
                    return 0;
                val[i] = rd64(x + at);
                at += 8;
            }
            return 1;
        }
        x += 4 + sz;
        xlen -= 4 + sz;
    }
    return !need[0] && !need[1] && !need[2];
}

void npz_entries_free(npz_entry *entries, int n)
{
    if (!entries)
        return;
    for (int i = 0; i < n; i++) {
        free(entries[i].name);
        free(entries[i].t.data);
    }
    free(entries);
}

/* `path` is NULL for an in-memory archive (messages say "input"). */
static int npz_parse(const unsigned char *buf, size_t len, const char *path,
                     npz_entry **entries_out, int *n_out, sq_error *err)
{
    char arch[SUBJECT_MAX], subject[SUBJECT_MAX];
    npz_entry *ents = NULL;
    unsigned char *inflated = NULL;
    int n = 0;

    if (path)
        snprintf(arch, sizeof arch, "'%s'", path);
    else
        snprintf(arch, sizeof arch, "input");

    /* End of central directory record: scan back over a comment of up to
     * 64 KiB. */
    size_t eocd = SIZE_MAX;
    if (buf && len >= ZIP_EOCD_LEN) {
        size_t lo = len - ZIP_EOCD_LEN > 0xffff ? len - ZIP_EOCD_LEN - 0xffff
                                                : 0;
        for (size_t i = len - ZIP_EOCD_LEN + 1; i-- > lo;) {
            if (rd32(buf + i) == ZIP_EOCD_SIG &&
                rd16(buf + i + 20) <= len - i - ZIP_EOCD_LEN) {
                eocd = i;
                break;
            }
        }
    }
    if (eocd == SIZE_MAX)
        return sq_fail(err, "%s is not a .npz file (no end of central "
                       "directory record)", arch);

    uint64_t count = rd16(buf + eocd + 10);
    uint64_t cd_size = rd32(buf + eocd + 12), cd_off = rd32(buf + eocd + 16);
    size_t cd_limit = eocd;
    if (eocd >= ZIP64_LOCATOR_LEN &&
        rd32(buf + eocd - ZIP64_LOCATOR_LEN) == ZIP64_LOCATOR_SIG) {
        const unsigned char *loc = buf + eocd - ZIP64_LOCATOR_LEN;
        uint64_t e64 = rd64(loc + 8);
        if (rd32(loc + 4) != 0 || rd32(loc + 16) > 1)
            return sq_fail(err, "%s: multi-disk archives are not supported",
                           arch);
        if (e64 > eocd - ZIP64_LOCATOR_LEN ||
            eocd - ZIP64_LOCATOR_LEN - e64 < ZIP64_EOCD_LEN ||
            rd32(buf + e64) != ZIP64_EOCD_SIG)
            return sq_fail(err, "%s: corrupt ZIP64 end of central directory",
                           arch);
        const unsigned char *r = buf + e64;
        if (rd32(r + 16) != 0 || rd32(r + 20) != 0 ||
            rd64(r + 24) != rd64(r + 32))
            return sq_fail(err, "%s: multi-disk archives are not supported",
                           arch);
        count = rd64(r + 32);
        cd_size = rd64(r + 40);
        cd_off = rd64(r + 48);
        cd_limit = (size_t)e64;
    } else if (rd16(buf + eocd + 4) != 0 || rd16(buf + eocd + 6) != 0 ||
               rd16(buf + eocd + 8) != count) {
        return sq_fail(err, "%s: multi-disk archives are not supported", arch);
    }
    if (cd_off > cd_limit || cd_size > cd_limit - cd_off)
        return sq_fail(err, "%s: corrupt central directory (outside the "
                       "file)", arch);
    if (count > cd_size / ZIP_CENTRAL_LEN || count > INT_MAX)
        return sq_fail(err, "%s: corrupt central directory (%llu entries "
                       "cannot fit)", arch, (unsigned long long)count);

    ents = sq_calloc(count ? (size_t)count : 1, sizeof *ents);
    if (!ents) {
        sq_fail(err, "out of memory reading %s", arch);
        goto fail;
    }

    size_t p = (size_t)cd_off, cd_end = (size_t)(cd_off + cd_size);
    for (uint64_t k = 0; k < count; k++) {
        if (cd_end - p < ZIP_CENTRAL_LEN ||
            rd32(buf + p) != ZIP_CENTRAL_SIG) {
            sq_fail(err, "%s: corrupt central directory (entry %llu)", arch,
                    (unsigned long long)k);
            goto fail;
        }
        const unsigned char *c = buf + p;
        unsigned flags = rd16(c + 8), method = rd16(c + 10);
        uint32_t crc = rd32(c + 16);
        size_t nlen = rd16(c + 28), xlen = rd16(c + 30), clen = rd16(c + 32);
        if (cd_end - p - ZIP_CENTRAL_LEN < nlen + xlen + clen) {
            sq_fail(err, "%s: corrupt central directory (entry %llu)", arch,
                    (unsigned long long)k);
            goto fail;
        }
        const char *name = (const char *)c + ZIP_CENTRAL_LEN;
        uint64_t v[3] = { rd32(c + 24), rd32(c + 20), rd32(c + 42) };
        int need[3] = { v[0] == 0xffffffffu, v[1] == 0xffffffffu,
                        v[2] == 0xffffffffu };
        p += ZIP_CENTRAL_LEN + nlen + xlen + clen;

        if (path)
            snprintf(subject, sizeof subject, "'%.380s' member '%.*s'", path,
                     (int)(nlen > 200 ? 200 : nlen), name);
        else
            snprintf(subject, sizeof subject, "member '%.*s'",
                     (int)(nlen > 200 ? 200 : nlen), name);
        if (!zip64_extra(c + ZIP_CENTRAL_LEN + nlen, xlen, need, v)) {
            sq_fail(err, "%s: corrupt ZIP64 extra field", subject);
            goto fail;
        }
        uint64_t usize = v[0], csize = v[1], loff = v[2];
        if (memchr(name, '\0', nlen)) {
            sq_fail(err, "%s: corrupt central directory (NUL in a name)",
                    arch);
            goto fail;
        }
        /* numpy only loads members named KEY.npy as arrays. */
        if (nlen < 4 || memcmp(name + nlen - 4, ".npy", 4) != 0)
            continue;
        if (flags & 1) {
            sq_fail(err, "%s is encrypted", subject);
            goto fail;
        }
        if (method != 0 && method != 8) {
            sq_fail(err, "%s uses unsupported compression method %u", subject,
                    method);
            goto fail;
        }

        /* Local header: its name must agree; its extra field moves the data. */
        if (loff > len || len - loff < ZIP_LOCAL_LEN ||
            rd32(buf + loff) != ZIP_LOCAL_SIG) {
            sq_fail(err, "%s: corrupt local header", subject);
            goto fail;
        }
        const unsigned char *l = buf + loff;
        size_t lnlen = rd16(l + 26), lxlen = rd16(l + 28);
        if (len - loff - ZIP_LOCAL_LEN < lnlen + lxlen) {
            sq_fail(err, "%s is truncated (local header)", subject);
            goto fail;
        }
        if (lnlen != nlen || memcmp(l + ZIP_LOCAL_LEN, name, nlen) != 0) {
            sq_fail(err, "%s: local header names another file", subject);
            goto fail;
        }
        if (!(rd16(l + 6) & 8)) {
            /* Sizes are in the local header too; they must agree. */
            uint64_t lv[3] = { rd32(l + 22), rd32(l + 18), 0 };
            int lneed[3] = { lv[0] == 0xffffffffu, lv[1] == 0xffffffffu, 0 };
            if (!zip64_extra(l + ZIP_LOCAL_LEN + lnlen, lxlen, lneed, lv)) {
                sq_fail(err, "%s: corrupt ZIP64 extra field", subject);
                goto fail;
            }
            if (lv[0] != usize || lv[1] != csize) {
                sq_fail(err, "%s: local header sizes disagree with the "
                        "central directory", subject);
                goto fail;
            }
        }
        size_t doff = (size_t)loff + ZIP_LOCAL_LEN + lnlen + lxlen;
        if (csize > len - doff) {
            sq_fail(err, "%s is truncated: archive says %llu bytes, file has "
                    "%zu", subject, (unsigned long long)csize, len - doff);
            goto fail;
        }

        const unsigned char *data = buf + doff;
        if (method == 0) {
            if (usize != csize) {
                sq_fail(err, "%s: corrupt sizes for a stored member", subject);
                goto fail;
            }
        } else {
            /* Deflate cannot beat about 1032:1; refuse bigger claims before
             * allocating. */
            if (usize > SIZE_MAX - 1 || usize / 1032 > csize + 64) {
                sq_fail(err, "%s: implausible uncompressed size %llu", subject,
                        (unsigned long long)usize);
                goto fail;
            }
            inflated = sq_malloc(usize ? (size_t)usize : 1);
            if (!inflated) {
                sq_fail(err, "out of memory reading %s", subject);
                goto fail;
            }
            if (inflate_exact(data, (size_t)csize, inflated, (size_t)usize,
                              subject, err) != 0)
                goto fail;
            data = inflated;
        }
        if (crc32_of(data, (size_t)usize) != crc) {
            sq_fail(err, "%s fails its CRC-32 check (the archive is corrupt)",
                    subject);
            goto fail;
        }
        npz_entry *e = &ents[n];
        e->name = sq_malloc(nlen - 3);
        if (!e->name) {
            sq_fail(err, "out of memory reading %s", subject);
            goto fail;
        }
        memcpy(e->name, name, nlen - 4);
        e->name[nlen - 4] = '\0';
        if (npy_parse(data, (size_t)usize, subject, &e->t, err) != 0) {
            free(e->name);
            e->name = NULL;
            goto fail;
        }
        n++;
        free(inflated);
        inflated = NULL;
    }
    *entries_out = ents;
    *n_out = n;
    return 0;

fail:
    free(inflated);
    npz_entries_free(ents, n);
    return -1;
}

int npz_read_mem(const unsigned char *buf, size_t len, npz_entry **entries,
                 int *n, sq_error *err)
{
    return npz_parse(buf, len, NULL, entries, n, err);
}

int npz_read_file(const char *path, npz_entry **entries, int *n,
                  sq_error *err)
{
    unsigned char *buf;
    size_t len;
    if (sq_read_whole_file(path, &buf, &len, err) != 0)
        return -1;
    int rc = npz_parse(buf, len, path, entries, n, err);
    free(buf);
    return rc;
}

/* ---- .npz writing --------------------------------------------------------- */

/* As Python's zipfile does for numpy.savez: stored members, each local
 * header with a forced ZIP64 extra field; ZIP64 central fields and end
 * records only where a value passes 2**31 - 1. */
int npz_write_file(const char *path, const npz_entry *entries, int n,
                   sq_error *err)
{
    bbuf b = {0};
    uint64_t *offs = NULL, *sizes = NULL;
    uint32_t *crcs = NULL;
    char subject[SUBJECT_MAX];

    if (n < 0 || (n > 0 && !entries))
        return sq_fail(err, "cannot write '%s': no arrays given", path);
    for (int i = 0; i < n; i++) {
        if (!entries[i].name)
            return sq_fail(err, "cannot write '%s': array %d has no name",
                           path, i);
        if (strlen(entries[i].name) > 0xffff - 4)
            return sq_fail(err, "cannot write '%s': array name '%.40s...' is "
                           "too long", path, entries[i].name);
        for (int j = 0; j < i; j++)
            if (strcmp(entries[i].name, entries[j].name) == 0)
                return sq_fail(err, "cannot write '%s': duplicate array name "
                               "'%s'", path, entries[i].name);
    }
    size_t cnt = n > 0 ? (size_t)n : 1;
    offs = sq_malloc(cnt * sizeof *offs);
    sizes = sq_malloc(cnt * sizeof *sizes);
    crcs = sq_malloc(cnt * sizeof *crcs);
    if (!offs || !sizes || !crcs) {
        sq_fail(err, "out of memory writing '%s'", path);
        goto fail;
    }

    for (int i = 0; i < n; i++) {
        const char *name = entries[i].name;
        size_t nlen = strlen(name) + 4;
        unsigned flags = 0;
        for (const char *s = name; *s; s++)
            if ((unsigned char)*s >= 0x80)
                flags = 0x800;                  /* UTF-8 name */
        offs[i] = b.len;
        bb_u32(&b, ZIP_LOCAL_SIG);
        bb_u16(&b, 20);
        bb_u16(&b, flags);
        bb_u16(&b, 0);                          /* stored */
        bb_u16(&b, 0);                          /* time */
        bb_u16(&b, ZIP_DOS_DATE);
        bb_u32(&b, 0);                          /* crc, patched below */
        bb_u32(&b, 0);                          /* csize, patched */
        bb_u32(&b, 0);                          /* usize, patched */
        bb_u16(&b, (unsigned)nlen);
        bb_u16(&b, 20);
        bb_put(&b, name, nlen - 4);
        bb_put(&b, ".npy", 4);
        bb_u16(&b, 1);
        bb_u16(&b, 16);
        bb_u64(&b, 0);                          /* usize, patched */
        bb_u64(&b, 0);                          /* csize, patched */
        size_t start = b.len;
        snprintf(subject, sizeof subject, "'%s' member '%.200s.npy'", path,
                 name);
        if (npy_append(&b, &entries[i].t, subject, err) != 0)
            goto fail;
        if (b.oom)
            break;
        uint64_t size = b.len - start;
        unsigned char *h = b.p + offs[i];
        sizes[i] = size;
        crcs[i] = crc32_of(b.p + start, (size_t)size);
        uint32_t s32 = size > ZIP64_LIMIT ? 0xffffffffu : (uint32_t)size;
        if (size > ZIP64_LIMIT)
            h[4] = 45;                          /* version needed: ZIP64 */
        patch32(h + 14, crcs[i]);
        patch32(h + 18, s32);
        patch32(h + 22, s32);
        patch32(h + 30 + nlen + 4, (uint32_t)size);
        patch32(h + 30 + nlen + 8, (uint32_t)(size >> 32));
        patch32(h + 30 + nlen + 12, (uint32_t)size);
        patch32(h + 30 + nlen + 16, (uint32_t)(size >> 32));
    }

    uint64_t cd_off = b.len;
    for (int i = 0; i < n && !b.oom; i++) {
        const char *name = entries[i].name;
        size_t nlen = strlen(name) + 4;
        unsigned flags = 0;
        for (const char *s = name; *s; s++)
            if ((unsigned char)*s >= 0x80)
                flags = 0x800;
        int big_size = sizes[i] > ZIP64_LIMIT, big_off = offs[i] > ZIP64_LIMIT;
        unsigned ver = big_size || big_off ? 45 : 20;
        unsigned xlen = (big_size ? 16 : 0) + (big_off ? 8 : 0);
        bb_u32(&b, ZIP_CENTRAL_SIG);
        bb_u16(&b, 0x300 | ver);                /* made by: Unix */
        bb_u16(&b, ver);
        bb_u16(&b, flags);
        bb_u16(&b, 0);
        bb_u16(&b, 0);
        bb_u16(&b, ZIP_DOS_DATE);
        bb_u32(&b, crcs[i]);
        bb_u32(&b, big_size ? 0xffffffffu : sizes[i]);
        bb_u32(&b, big_size ? 0xffffffffu : sizes[i]);
        bb_u16(&b, (unsigned)nlen);
        bb_u16(&b, xlen ? xlen + 4 : 0);
        bb_u16(&b, 0);                          /* comment */
        bb_u16(&b, 0);                          /* disk */
        bb_u16(&b, 0);                          /* internal attributes */
        bb_u32(&b, 0600u << 16);                /* rw------- */
        bb_u32(&b, big_off ? 0xffffffffu : offs[i]);
        bb_put(&b, name, nlen - 4);
        bb_put(&b, ".npy", 4);
        if (xlen) {
            bb_u16(&b, 1);
            bb_u16(&b, xlen);
            if (big_size) {
                bb_u64(&b, sizes[i]);
                bb_u64(&b, sizes[i]);
            }
            if (big_off)
                bb_u64(&b, offs[i]);
        }
    }
    uint64_t cd_size = b.len - cd_off, count = (uint64_t)n;
    if (count > 0xffff || cd_off > ZIP64_LIMIT || cd_size > ZIP64_LIMIT) {
        uint64_t e64 = b.len;
        bb_u32(&b, ZIP64_EOCD_SIG);
        bb_u64(&b, 44);
        bb_u16(&b, 45);
        bb_u16(&b, 45);
        bb_u32(&b, 0);
        bb_u32(&b, 0);
        bb_u64(&b, count);
        bb_u64(&b, count);
        bb_u64(&b, cd_size);
        bb_u64(&b, cd_off);
        bb_u32(&b, ZIP64_LOCATOR_SIG);
        bb_u32(&b, 0);
        bb_u64(&b, e64);
        bb_u32(&b, 1);
    }
    bb_u32(&b, ZIP_EOCD_SIG);
    bb_u16(&b, 0);
    bb_u16(&b, 0);
    bb_u16(&b, count > 0xffff ? 0xffff : (unsigned)count);
    bb_u16(&b, count > 0xffff ? 0xffff : (unsigned)count);
    bb_u32(&b, cd_size > 0xffffffffu ? 0xffffffffu : cd_size);
    bb_u32(&b, cd_off > 0xffffffffu ? 0xffffffffu : cd_off);
    bb_u16(&b, 0);
    if (b.oom) {
        sq_fail(err, "out of memory writing '%s'", path);
        goto fail;
    }
    if (sq_write_file_atomic(path, b.p, b.len, err) != 0)
        goto fail;
    free(b.p);
    free(offs);
    free(sizes);
    free(crcs);
    return 0;

fail:
    free(b.p);
    free(offs);
    free(sizes);
    free(crcs);
    return -1;
}

/* ---- whole files ---------------------------------------------------------- */

/* A pipe (a FIFO, `<(zcat ...)`) has no size to check: it is read up to
 * this many bytes. */
#define READ_PIPE_MAX ((size_t)4 << 30)

int sq_read_whole_file(const char *path, unsigned char **buf, size_t *len,
                       sq_error *err)
{
    FILE *f = NULL;
    unsigned char *b = NULL;
    size_t n = 0, cap = 0, max = SIZE_MAX;
    struct stat st;
    int fd, flags;

    /* O_NONBLOCK so that opening a FIFO without a writer does not wait;
     * devices (/dev/zero, a terminal) and sockets are refused before any
     * read, since they may never end. */
    fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return sq_fail(err, "cannot open '%s': %s", path, strerror(errno));
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return sq_fail(err, "cannot read '%s': %s", path, strerror(e));
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return sq_fail(err, "cannot read '%s': %s", path, strerror(EISDIR));
    }
    if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode)) {
        close(fd);
        return sq_fail(err, "cannot read '%s': not a regular file (%s)", path,
                       S_ISCHR(st.st_mode) ? "a character device"
                       : S_ISBLK(st.st_mode) ? "a block device"
                       : S_ISSOCK(st.st_mode) ? "a socket" : "a special file");
    }
    if (S_ISFIFO(st.st_mode))
        max = READ_PIPE_MAX;
    if ((flags = fcntl(fd, F_GETFL)) == -1 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) == -1
        || !(f = fdopen(fd, "rb"))) {
        int e = errno;
        close(fd);
        return sq_fail(err, "cannot read '%s': %s", path, strerror(e));
    }
    /* Size the buffer from fstat when we can; + 1 so that the first read
     * already sees the end of the file. */
    cap = 65536;
    if (S_ISREG(st.st_mode) && st.st_size > 0 && (uintmax_t)st.st_size < SIZE_MAX)
        cap = (size_t)st.st_size + 1;
    b = sq_malloc(cap);
    if (!b) {
        sq_fail(err, "out of memory reading '%s'", path);
        goto fail;
    }
    for (;;) {
        size_t want = cap - n, got = fread(b + n, 1, want, f);
        n += got;
        if (got < want) {
            if (ferror(f)) {
                sq_fail(err, "cannot read '%s': %s", path, strerror(errno));
                goto fail;
            }
            break;
        }
        size_t ncap;
        if (n >= max) {
            sq_fail(err, "cannot read '%s': a pipe giving more than %zu MiB is not read to "
                    "its end; save the data to a file first", path, max >> 20);
            goto fail;
        }
        if (!mul_size(cap, 2, &ncap)) {
            sq_fail(err, "cannot read '%s': file is too large", path);
            goto fail;
        }
        if (ncap > max + 1)
            ncap = max + 1;
        unsigned char *nb = sq_realloc(b, ncap);
        if (!nb) {
            sq_fail(err, "out of memory reading '%s'", path);
            goto fail;
        }
        b = nb;
        cap = ncap;
    }
    if (fclose(f) != 0) {
        f = NULL;
        sq_fail(err, "cannot read '%s': %s", path, strerror(errno));
        goto fail;
    }
    *buf = b;
    *len = n;
    return 0;

fail:
    if (f)
        fclose(f);
    free(b);
    return -1;
}

int sq_write_file_atomic(const char *path, const void *buf, size_t len,
                         sq_error *err)
{
    static unsigned serial;
    char *tmp = NULL;
    int fd = -1, saved;
    size_t cap = strlen(path) + 48;
    struct stat st;

    tmp = sq_malloc(cap);
    if (!tmp)
        return sq_fail(err, "out of memory writing '%s'", path);
    /* Our own unique name rather than mkstemp so that the new file gets the
     * usual 0666 & ~umask permissions. */
    for (int attempt = 0; attempt < 100; attempt++) {
        snprintf(tmp, cap, "%s.tmp%ld.%u", path, (long)getpid(), serial++);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0 || errno != EEXIST)
            break;
    }
    if (fd < 0) {
        sq_fail(err, "cannot write '%s': %s", path, strerror(errno));
        free(tmp);
        return -1;
    }
    /* Replacing a file keeps its permissions, as numpy.save's open does. */
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
        (void)fchmod(fd, st.st_mode & 07777);

    const unsigned char *p = buf;
    size_t left = len;
    while (left > 0) {
        size_t k = left > (1u << 30) ? (1u << 30) : left;
        ssize_t w = write(fd, p, k);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            goto fail;
        }
        p += w;
        left -= (size_t)w;
    }
    if (fsync(fd) != 0 && errno != EINVAL)
        goto fail;
    saved = close(fd);
    fd = -1;
    if (saved != 0)
        goto fail;
    if (rename(tmp, path) != 0)
        goto fail;
    free(tmp);
    return 0;

fail:
    saved = errno;
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    free(tmp);
    return sq_fail(err, "cannot write '%s': %s", path, strerror(saved));
}
