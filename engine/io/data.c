/* data.c - data sets for call, predict, fit and evaluate: one reader for
 * .npy files, .npz members, IDX files (MNIST's format) and CSV files of
 * numbers, any of them gzip-compressed. The kind is recognised from the
 * content (magic bytes), never from the name, so MNIST's extension-less
 * train-images-idx3-ubyte works. A CSV may be split into features X and one
 * label column Y. Nothing a header says is trusted: every size is checked
 * against the bytes actually present before anything is allocated, and
 * inflated gzip data is capped. Errors name the file; CSV errors name the
 * line (FILE:LINE: ...) as compilers do. */
#define ZLIB_CONST
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>
#include "io/npy.h"

/* Gzip data that inflates to more than this is refused. */
#ifndef SQ_DATA_GZ_MAX
#define SQ_DATA_GZ_MAX ((uint64_t)4 << 30)
#endif
#define SUBJ_MAX 600          /* "'path'" in messages */
#define CELL_SHOW 40          /* bytes of a bad cell quoted in a message */
#define SNIFF_LEN 4096        /* bytes looked at to tell text from binary */
#define ZCHUNK (1u << 30)     /* zlib's counters are uInt */

typedef enum { K_NPY, K_NPZ, K_GZIP, K_IDX, K_CSV, K_UNKNOWN } data_kind;

static const char *const kind_name[] = {
    "a .npy file", "an .npz archive", "a gzip file", "an IDX file",
    "a CSV file", "an unknown file"
};

enum { LABEL_NONE, LABEL_LAST, LABEL_FIRST, LABEL_INDEX };

typedef struct {
    int kind;
    long index;         /* LABEL_INDEX; may be negative */
    const char *text;   /* as given, for messages */
} label_spec;

/* ---- little helpers ------------------------------------------------------- */

/* a * b into *r; 0 on overflow. */
static int mul_size(size_t a, size_t b, size_t *r)
{
    if (a != 0 && b > SIZE_MAX / a)
        return 0;
    *r = a * b;
    return 1;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
           (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static uint64_t be64(const unsigned char *p)
{
    return (uint64_t)be32(p) << 32 | be32(p + 4);
}

static int exists_as_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && !S_ISDIR(st.st_mode);
}

/* "4 GiB", "64 KiB", "123 bytes". */
static const char *size_text(uint64_t n, char *buf, size_t cap)
{
    if (n >= ((uint64_t)1 << 30) && n % ((uint64_t)1 << 30) == 0)
        snprintf(buf, cap, "%llu GiB", (unsigned long long)(n >> 30));
    else if (n >= ((uint64_t)1 << 20) && n % ((uint64_t)1 << 20) == 0)
        snprintf(buf, cap, "%llu MiB", (unsigned long long)(n >> 20));
    else if (n >= 1024 && n % 1024 == 0)
        snprintf(buf, cap, "%llu KiB", (unsigned long long)(n >> 10));
    else
        snprintf(buf, cap, "%llu bytes", (unsigned long long)n);
    return buf;
}

/* Appends n bytes of s to dst (capacity cap, length *len), truncating. */
static void cat(char *dst, size_t cap, size_t *len, const char *s, size_t n)
{
    while (n-- > 0 && *s && *len + 1 < cap)
        dst[(*len)++] = *s++;
    dst[*len] = '\0';
}

/* The npy/npz memory readers call their data "input" (and an archive's
 * arrays "member 'NAME'"); say which file it was instead. */
static void name_source(sq_error *err, const char *subj)
{
    char tmp[SQ_ERR_MAX];
    size_t n = 0, sl = strlen(subj);
    const char *m, *p;
    if (!err)
        return;
    m = err->msg;
    tmp[0] = '\0';
    if (strncmp(m, "input", 5) == 0 && (m[5] == ' ' || m[5] == ':')) {
        cat(tmp, sizeof tmp, &n, subj, sl);                 /* 'f' is ... */
        cat(tmp, sizeof tmp, &n, m + 5, SIZE_MAX);
    } else if ((p = strstr(m, "member '")) != NULL) {
        cat(tmp, sizeof tmp, &n, m, (size_t)(p - m));      /* ... 'f' member */
        cat(tmp, sizeof tmp, &n, subj, sl);
        cat(tmp, sizeof tmp, &n, " ", 1);
        cat(tmp, sizeof tmp, &n, p, SIZE_MAX);
    } else if ((p = strstr(m, " input")) != NULL && p[6] == '\0') {
        cat(tmp, sizeof tmp, &n, m, (size_t)(p - m) + 1);  /* ... reading 'f' */
        cat(tmp, sizeof tmp, &n, subj, sl);
    } else {
        cat(tmp, sizeof tmp, &n, subj, sl);                 /* 'f': ... */
        cat(tmp, sizeof tmp, &n, ": ", 2);
        cat(tmp, sizeof tmp, &n, m, SIZE_MAX);
    }
    memcpy(err->msg, tmp, sizeof err->msg);
}

static int parse_label(const char *label, label_spec *ls, sq_error *err)
{
    ls->kind = LABEL_NONE;
    ls->index = 0;
    ls->text = label;
    if (!label)
        return 0;
    if (strcmp(label, "last") == 0) {
        ls->kind = LABEL_LAST;
        return 0;
    }
    if (strcmp(label, "first") == 0) {
        ls->kind = LABEL_FIRST;
        return 0;
    }
    const char *s = label;
    if (*s == '+' || *s == '-')
        s++;
    if (*s >= '0' && *s <= '9') {
        char *end;
        errno = 0;
        long v = strtol(label, &end, 10);
        if (*end == '\0' && errno == 0) {
            ls->kind = LABEL_INDEX;
            ls->index = v;
            return 0;
        }
    }
    return sq_fail(err, "label must be 'last', 'first' or a column index "
                   "(0-based, negative counts from the end), got '%s'", label);
}

/* PATH or PATH:KEY. The spec is split at its last ':' only when the whole
 * spec is not a file and the part before the ':' is one. *path is
 * malloc'd; *key points into spec or is NULL. */
static int split_spec(const char *spec, char **path, const char **key,
                      sq_error *err)
{
    const char *c = strrchr(spec, ':');
    *key = NULL;
    if (c && c != spec && !exists_as_file(spec)) {
        char *pre = sq_malloc((size_t)(c - spec) + 1);
        if (!pre)
            return sq_fail(err, "out of memory reading '%s'", spec);
        memcpy(pre, spec, (size_t)(c - spec));
        pre[c - spec] = '\0';
        if (exists_as_file(pre)) {
            *path = pre;
            *key = c + 1;
            return 0;
        }
        free(pre);
    }
    *path = sq_malloc(strlen(spec) + 1);
    if (!*path)
        return sq_fail(err, "out of memory reading '%s'", spec);
    strcpy(*path, spec);
    return 0;
}

static data_kind detect(const unsigned char *b, size_t n)
{
    if (n >= 6 && memcmp(b, "\x93NUMPY", 6) == 0)
        return K_NPY;
    if (n >= 4 && memcmp(b, "PK\x03\x04", 4) == 0)
        return K_NPZ;
    if (n >= 4 && memcmp(b, "PK\x05\x06", 4) == 0)
        return K_NPZ;                      /* an empty archive */
    if (n >= 2 && b[0] == 0x1f && b[1] == 0x8b)
        return K_GZIP;
    if (n >= 2 && b[0] == 0 && b[1] == 0)
        return K_IDX;
    size_t m = n < SNIFF_LEN ? n : SNIFF_LEN;
    for (size_t i = 0; i < m; i++) {
        unsigned char c = b[i];
        if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f' &&
             c != '\v') || c == 0x7f)
            return K_UNKNOWN;
    }
    return K_CSV;
}

/* ---- gzip ----------------------------------------------------------------- */

/* Inflates a gzip file (one or more concatenated members; zero padding
 * after the last is ignored) into a malloc'd buffer. */
static int gunzip(const unsigned char *src, size_t slen, const char *subj,
                  unsigned char **out, size_t *outlen, sq_error *err)
{
    z_stream zs;
    unsigned char *buf = NULL;
    size_t len = 0, cap, in_left = slen;
    uint64_t limit = SQ_DATA_GZ_MAX;
    char lim[32];
    int started = 0;

    if (limit > SIZE_MAX / 2)
        limit = SIZE_MAX / 2;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
        return sq_fail(err, "out of memory decompressing %s", subj);
    started = 1;
    /* A first guess at the size, grown by doubling up to the limit: the
     * last member's ISIZE field (its size mod 2**32) when deflate could
     * have produced it from this much input, else twice the input. */
    cap = slen > (size_t)(limit / 2) ? (size_t)limit : slen * 2;
    if (slen >= 18) {
        const unsigned char *t = src + slen - 4;
        uint64_t isize = (uint64_t)t[0] | (uint64_t)t[1] << 8 |
                         (uint64_t)t[2] << 16 | (uint64_t)t[3] << 24;
        if (isize > 0 && isize < limit && isize / 1032 <= slen)
            cap = (size_t)isize + 1;
    }
    if (cap < 4096)
        cap = 4096;
    buf = sq_malloc(cap);
    if (!buf) {
        sq_fail(err, "out of memory decompressing %s", subj);
        goto fail;
    }
    zs.next_in = src;
    for (;;) {
        if (zs.avail_in == 0 && in_left > 0) {
            zs.avail_in = in_left > ZCHUNK ? ZCHUNK : (uInt)in_left;
            in_left -= zs.avail_in;
        }
        if (len == cap) {
            if ((uint64_t)cap >= limit) {
                sq_fail(err, "%s decompresses to more than %s; refusing to "
                        "load it", subj, size_text(limit, lim, sizeof lim));
                goto fail;
            }
            size_t ncap = (uint64_t)cap * 2 > limit ? (size_t)limit : cap * 2;
            unsigned char *nb = sq_realloc(buf, ncap);
            if (!nb) {
                sq_fail(err, "out of memory decompressing %s", subj);
                goto fail;
            }
            buf = nb;
            cap = ncap;
        }
        size_t room = cap - len;
        zs.next_out = buf + len;
        zs.avail_out = room > ZCHUNK ? ZCHUNK : (uInt)room;
        uInt before = zs.avail_out;
        int rc = inflate(&zs, Z_NO_FLUSH);
        len += before - zs.avail_out;
        if (rc == Z_STREAM_END) {
            size_t pos = (size_t)(zs.next_in - src), rest = slen - pos;
            const unsigned char *p = src + pos;
            if (rest == 0)
                break;
            if (rest >= 2 && p[0] == 0x1f && p[1] == 0x8b) {
                /* Another member follows (as `cat a.gz b.gz` makes). */
                if (inflateReset(&zs) != Z_OK) {
                    sq_fail(err, "%s: corrupt gzip data", subj);
                    goto fail;
                }
                zs.next_in = p;
                zs.avail_in = rest > ZCHUNK ? ZCHUNK : (uInt)rest;
                in_left = rest - zs.avail_in;
                continue;
            }
            size_t k = 0;
            while (k < rest && p[k] == 0)
                k++;
            if (k == rest)
                break;
            sq_fail(err, "%s: junk after the gzip data (at byte %zu)", subj,
                    pos + k);
            goto fail;
        }
        if (rc == Z_OK)
            continue;
        if (rc == Z_BUF_ERROR && zs.avail_in == 0 && in_left == 0) {
            sq_fail(err, "%s is truncated (gzip data ends early)", subj);
            goto fail;
        }
        if (rc == Z_BUF_ERROR)
            continue;   /* no room for output: grown above */
        if (rc == Z_MEM_ERROR)
            sq_fail(err, "out of memory decompressing %s", subj);
        else
            sq_fail(err, "%s: corrupt gzip data (%s)", subj,
                    zs.msg ? zs.msg : "invalid data");
        goto fail;
    }
    inflateEnd(&zs);
    if (len < cap) {
        unsigned char *nb = sq_realloc(buf, len ? len : 1);
        if (nb)
            buf = nb;
    }
    *out = buf;
    *outlen = len;
    return 0;

fail:
    if (started)
        inflateEnd(&zs);
    free(buf);
    return -1;
}

/* ---- IDX ------------------------------------------------------------------ */

static int idx_parse(const unsigned char *b, size_t n, const char *subj,
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
    float *d = sq_malloc(outbytes ? outbytes : 1);
    if (!d)
        return sq_fail(err, "out of memory reading %s (%zu bytes)", subj,
                       outbytes);
    const unsigned char *p = b + off;
    for (size_t i = 0; i < count; i++, p += es) {
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

/* ---- .npz ----------------------------------------------------------------- */

/* The array `key` of the archive, or its only array when key is NULL. */
static int npz_pick(const unsigned char *buf, size_t len, const char *path,
                    const char *subj, const char *key, sq_tensor *out,
                    sq_error *err)
{
    npz_entry *e = NULL;
    int n = 0, found = -1;
    char keys[400];

    if (key && !*key)
        return sq_fail(err, "%s: no array name after ':'", subj);
    if (npz_read_mem(buf, len, &e, &n, err) != 0) {
        name_source(err, subj);
        return -1;
    }
    keys[0] = '\0';
    for (int i = 0; i < n; i++) {
        size_t l = strlen(keys);
        if (l + strlen(e[i].name) + 6 >= sizeof keys) {
            snprintf(keys + l, sizeof keys - l, "%s...", i ? ", " : "");
            break;
        }
        snprintf(keys + l, sizeof keys - l, "%s%s", i ? ", " : "", e[i].name);
    }
    if (key) {
        for (int i = 0; i < n && found < 0; i++)
            if (strcmp(e[i].name, key) == 0)
                found = i;
        if (found < 0)
            sq_fail(err, "%s has no array '%s' (it has: %s)", subj, key,
                    n ? keys : "none");
    } else if (n == 1) {
        found = 0;
    } else if (n == 0) {
        sq_fail(err, "%s holds no arrays", subj);
    } else {
        sq_fail(err, "%s holds %d arrays (%s); choose one with '%s:KEY'",
                subj, n, keys, path);
    }
    if (found >= 0) {
        *out = e[found].t;
        e[found].t.data = NULL;
    }
    npz_entries_free(e, n);
    return found >= 0 ? 0 : -1;
}

/* ---- CSV ------------------------------------------------------------------ */

typedef struct {
    const char *p, *e;   /* the rest of the line */
    char sep;            /* ',', ';', '\t', or ' ' for runs of blanks */
    int done;
} cell_iter;

static int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* The next line of [*p, end) without its '\n' and a '\r' before it. */
static int next_line(const char **p, const char *end, const char **ls,
                     const char **le)
{
    if (*p >= end)
        return 0;
    const char *s = *p, *nl = memchr(s, '\n', (size_t)(end - s));
    const char *e = nl ? nl : end;
    *p = nl ? nl + 1 : end;
    if (e > s && e[-1] == '\r')
        e--;
    *ls = s;
    *le = e;
    return 1;
}

static int line_blank(const char *s, const char *e)
{
    for (; s < e; s++)
        if (!is_blank(*s) && *s != '\r' && *s != '\f' && *s != '\v')
            return 0;
    return 1;
}

/* The separator a line uses: ',' if it has one, else ';', else tab, else
 * runs of blanks (numpy.savetxt's default). */
static char line_sep(const char *s, const char *e)
{
    size_t n = (size_t)(e - s);
    if (memchr(s, ',', n))
        return ',';
    if (memchr(s, ';', n))
        return ';';
    if (memchr(s, '\t', n))
        return '\t';
    return ' ';
}

static void cells_start(cell_iter *c, const char *s, const char *e, char sep)
{
    c->p = s;
    c->e = e;
    c->sep = sep;
    c->done = 0;
}

/* The next cell, blanks around it and one pair of double quotes removed. */
static int cell_next(cell_iter *c, const char **cs, const char **ce)
{
    const char *s, *t;
    if (c->done)
        return 0;
    if (c->sep == ' ') {
        while (c->p < c->e && is_blank(*c->p))
            c->p++;
        if (c->p == c->e) {
            c->done = 1;
            return 0;
        }
        s = c->p;
        while (c->p < c->e && !is_blank(*c->p))
            c->p++;
        t = c->p;
    } else {
        const char *x = memchr(c->p, c->sep, (size_t)(c->e - c->p));
        s = c->p;
        t = x ? x : c->e;
        if (x)
            c->p = x + 1;
        else
            c->done = 1;
        while (s < t && is_blank(*s))
            s++;
        while (t > s && is_blank(t[-1]))
            t--;
    }
    if (t - s >= 2 && *s == '"' && t[-1] == '"') {
        s++;
        t--;
    }
    *cs = s;
    *ce = t;
    return 1;
}

static long count_cells(const char *s, const char *e, char sep)
{
    cell_iter c;
    const char *a, *b;
    long n = 0;
    cells_start(&c, s, e, sep);
    while (cell_next(&c, &a, &b))
        n++;
    return n;
}

enum { NUM_OK, NUM_EMPTY, NUM_BAD, NUM_NONFINITE, NUM_RANGE, NUM_OOM };

/* Parses [s, e) as one float32. */
static int parse_num(const char *s, const char *e, float *v)
{
    char small[128], *buf = small, *end;
    size_t n = (size_t)(e - s);
    int rc = NUM_OK;
    if (n == 0)
        return NUM_EMPTY;
    if (n >= sizeof small) {
        buf = sq_malloc(n + 1);
        if (!buf)
            return NUM_OOM;
    }
    memcpy(buf, s, n);
    buf[n] = '\0';
    errno = 0;
    double d = strtod(buf, &end);
    if (end != buf + n || end == buf || is_blank(buf[0]) || buf[0] == '\n' ||
        buf[0] == '\r' || buf[0] == '\f' || buf[0] == '\v')
        rc = NUM_BAD;
    else if (isnan(d) || (isinf(d) && errno != ERANGE))
        rc = NUM_NONFINITE;
    else if (isinf(d) || fabs(d) > FLT_MAX)
        rc = NUM_RANGE;
    else
        *v = (float)d;
    if (buf != small)
        free(buf);
    return rc;
}

/* A cell as quoted in a message: at most CELL_SHOW bytes, control
 * characters as '?'. */
static const char *cell_text(const char *s, const char *e, char *buf)
{
    size_t n = (size_t)(e - s), k = n > CELL_SHOW ? CELL_SHOW : n;
    for (size_t i = 0; i < k; i++) {
        unsigned char c = (unsigned char)s[i];
        buf[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    strcpy(buf + k, n > k ? "..." : "");
    return buf;
}

static int cell_fail(sq_error *err, int rc, const char *path,
                     unsigned long line, long col, const char *s,
                     const char *e)
{
    char shown[CELL_SHOW + 4];
    cell_text(s, e, shown);
    switch (rc) {
    case NUM_EMPTY:
        return sq_fail(err, "%s:%lu: column %ld is empty", path, line, col);
    case NUM_NONFINITE:
        return sq_fail(err, "%s:%lu: column %ld: '%s' is not a finite number "
                       "(NaN and infinity would poison training)", path, line,
                       col, shown);
    case NUM_RANGE:
        return sq_fail(err, "%s:%lu: column %ld: '%s' is out of float32 range",
                       path, line, col, shown);
    case NUM_OOM:
        return sq_fail(err, "out of memory reading '%s'", path);
    default:
        return sq_fail(err, "%s:%lu: column %ld: '%s' is not a number", path,
                       line, col, shown);
    }
}

static int csv_parse(const unsigned char *buf, size_t len, const char *path,
                     const char *subj, const label_spec *ls, sq_tensor *x,
                     sq_tensor *y, sq_error *err)
{
    const char *p = (const char *)buf, *end = p + len, *s, *e, *a, *b;
    const char *data = NULL;          /* where the first data line starts */
    unsigned long line = 0, data_line = 0;
    long ncols = 0, rows = 0, lab = -1;
    char sep = ',';
    float *xd = NULL, *yd = NULL;
    cell_iter c;

    if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
        p += 3;                       /* a UTF-8 byte order mark */

    /* Pass 1: the header, the columns, the rows; ragged rows. */
    int seen_first = 0;
    for (;;) {
        const char *here = p;
        if (!next_line(&p, end, &s, &e))
            break;
        line++;
        if (line_blank(s, e))
            continue;
        if (!data && !seen_first) {
            /* The first line is a header when a cell holds something that
             * is not a number (an empty cell alone does not make one). */
            seen_first = 1;
            sep = line_sep(s, e);
            cells_start(&c, s, e, sep);
            int header = 0;
            while (!header && cell_next(&c, &a, &b)) {
                float v;
                int rc = parse_num(a, b, &v);
                if (rc == NUM_OOM)
                    return sq_fail(err, "out of memory reading %s", subj);
                header = rc == NUM_BAD;
            }
            if (header)
                continue;
        }
        if (!data) {
            data = here;
            data_line = line;
            sep = line_sep(s, e);
            ncols = count_cells(s, e, sep);
        } else {
            long k = count_cells(s, e, sep);
            if (k != ncols)
                return sq_fail(err, "%s:%lu: expected %ld cells, found %ld",
                               path, line, ncols, k);
        }
        rows++;
    }
    if (!data)
        return sq_fail(err, seen_first ? "%s has a header but no data rows"
                                       : "%s has no data (only blank lines)",
                       subj);

    if (ls->kind != LABEL_NONE) {
        lab = ls->kind == LABEL_LAST ? ncols - 1
            : ls->kind == LABEL_FIRST ? 0
            : ls->index < 0 ? ls->index + ncols : ls->index;
        if (lab < 0 || lab >= ncols)
            return sq_fail(err, "label=%s is out of range: %s has %ld "
                           "column%s (0 to %ld, or -%ld to -1)", ls->text,
                           subj, ncols, ncols == 1 ? "" : "s", ncols - 1,
                           ncols);
        if (ncols == 1)
            return sq_fail(err, "label=%s would leave no feature columns: %s "
                           "has only 1 column", ls->text, subj);
    }

    long xc = lab >= 0 ? ncols - 1 : ncols;
    size_t xn, xbytes, ybytes;
    /* Every cell takes at least one byte, so these fit in the file. */
    if (!mul_size((size_t)rows, (size_t)xc, &xn) ||
        !mul_size(xn, sizeof(float), &xbytes) ||
        !mul_size((size_t)rows, sizeof(float), &ybytes))
        return sq_fail(err, "%s is too large", subj);
    xd = sq_malloc(xbytes ? xbytes : 1);
    if (!xd) {
        sq_fail(err, "out of memory reading %s (%zu bytes)", subj, xbytes);
        goto fail;
    }
    if (lab >= 0) {
        yd = sq_malloc(ybytes ? ybytes : 1);
        if (!yd) {
            sq_fail(err, "out of memory reading %s (%zu bytes)", subj, ybytes);
            goto fail;
        }
    }

    /* Pass 2: the numbers. */
    p = data;
    line = data_line - 1;
    size_t r = 0;
    while (next_line(&p, end, &s, &e)) {
        line++;
        if (line_blank(s, e))
            continue;
        long col = 0;
        float *xr = xd + r * (size_t)xc;
        cells_start(&c, s, e, sep);
        while (cell_next(&c, &a, &b)) {
            float v = 0.0f;
            int rc = parse_num(a, b, &v);
            if (rc != NUM_OK) {
                cell_fail(err, rc, path, line, col + 1, a, b);
                goto fail;
            }
            if (col == lab)
                yd[r] = v;
            else
                *xr++ = v;
            col++;
        }
        r++;
    }

    x->shape.rank = 2;
    x->shape.d[0] = rows;
    x->shape.d[1] = xc;
    x->data = xd;
    if (lab >= 0) {
        y->shape.rank = 1;
        y->shape.d[0] = rows;
        y->data = yd;
    }
    return 0;

fail:
    free(xd);
    free(yd);
    return -1;
}

/* ---- the entry points ----------------------------------------------------- */

int sq_data_load(const char *spec, const char *label, sq_tensor *x,
                 sq_tensor *y, sq_error *err)
{
    label_spec ls;
    char *path = NULL;
    const char *key = NULL;
    unsigned char *raw = NULL, *plain = NULL;
    const unsigned char *buf;
    size_t len;
    char subj[SUBJ_MAX];
    sq_tensor tx, ty;
    int gz = 0;

    memset(&tx, 0, sizeof tx);
    memset(&ty, 0, sizeof ty);
    if (!spec || !*spec)
        return sq_fail(err, "no data file given");
    if (!x)
        return sq_fail(err, "internal error: no tensor to load '%s' into",
                       spec);
    if (parse_label(label, &ls, err) != 0)
        return -1;
    if (ls.kind != LABEL_NONE && !y)
        return sq_fail(err, "internal error: label=%s given for '%s' but no "
                       "tensor for the labels", label, spec);
    if (split_spec(spec, &path, &key, err) != 0)
        return -1;
    snprintf(subj, sizeof subj, "'%.*s'", SUBJ_MAX - 3, path);

    if (sq_read_whole_file(path, &raw, &len, err) != 0)
        goto fail;
    buf = raw;
    data_kind kind = detect(buf, len);
    if (kind == K_GZIP) {
        if (gunzip(raw, len, subj, &plain, &len, err) != 0)
            goto fail;
        free(raw);
        raw = NULL;
        buf = plain;
        gz = 1;
        kind = detect(buf, len);
        if (kind == K_GZIP) {
            sq_fail(err, "%s is gzip-compressed twice; decompress it once "
                    "first", subj);
            goto fail;
        }
    }
    if (len == 0) {
        sq_fail(err, gz ? "%s is empty (after decompression)" : "%s is empty",
                subj);
        goto fail;
    }
    if (kind == K_UNKNOWN) {
        sq_fail(err, "%s is not a data file seqsh reads (expected .npy, .npz, "
                "IDX or CSV, possibly gzip-compressed)", subj);
        goto fail;
    }
    if (key && kind != K_NPZ) {
        sq_fail(err, "%s is %s%s; ':%s' selects an array only in an .npz "
                "archive", subj, kind_name[kind],
                gz ? " (gzip-compressed)" : "", key);
        goto fail;
    }
    if (ls.kind != LABEL_NONE && kind != K_CSV) {
        sq_fail(err, "label= splits only CSV files, and %s is %s", subj,
                kind_name[kind]);
        goto fail;
    }

    int rc;
    switch (kind) {
    case K_NPY:
        rc = npy_read_mem(buf, len, &tx, err);
        if (rc != 0)
            name_source(err, subj);
        break;
    case K_NPZ:
        rc = npz_pick(buf, len, path, subj, key, &tx, err);
        break;
    case K_IDX:
        rc = idx_parse(buf, len, subj, &tx, err);
        break;
    default:
        rc = csv_parse(buf, len, path, subj, &ls, &tx, &ty, err);
        break;
    }
    if (rc != 0)
        goto fail;

    free(raw);
    free(plain);
    free(path);
    *x = tx;
    if (ls.kind != LABEL_NONE)
        *y = ty;
    return 0;

fail:
    free(raw);
    free(plain);
    free(path);
    return -1;
}

int sq_tensor_load(const char *spec, sq_tensor *out, sq_error *err)
{
    return sq_data_load(spec, NULL, out, NULL, err);
}
