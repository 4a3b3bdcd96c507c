/* data.c - data sets for call, predict, fit and evaluate: one reader for
 * .npy files, .npz members, IDX files (MNIST's format) and CSV files of
 * numbers, any of them gzip-compressed. The kind is recognised from the
 * content (magic bytes), never from the name, so MNIST's extension-less
 * train-images-idx3-ubyte works. A CSV may be split into features X and one
 * label column Y. Nothing a header says is trusted: every size is checked
 * against the bytes actually present before anything is allocated, and
 * inflated gzip data is capped. Errors name the file; CSV errors name the
 * line (FILE:LINE: ...) as compilers do. A trailing [SEL] picks rows:
 * FILE[3] (a batch of one), FILE[0:10], FILE[::2], data.npz:x[100:], with
 * Python's slice rules. */
#define ZLIB_CONST
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include "io/data.h"
#include "io/npy.h"

/* Gzip data that inflates to more than this is refused. */
#ifndef SQ_DATA_GZ_MAX
#define SQ_DATA_GZ_MAX ((uint64_t)4 << 30)
#endif
#define SUBJ_MAX 600          /* "'path'" in messages */
#define SNIFF_LEN 4096        /* bytes looked at to tell text from binary */
#define ZCHUNK (1u << 30)     /* zlib's counters are uInt */
#define OUT_CHUNK (4u << 20)  /* bytes inflated between two polls */

typedef enum { K_NPY, K_NPZ, K_GZIP, K_IDX, K_CSV, K_UNKNOWN } data_kind;

static const char *const kind_name[] = {
    "a .npy file", "an .npz archive", "a gzip file", "an IDX file",
    "a CSV file", "an unknown file"
};


/* ---- little helpers ------------------------------------------------------- */

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
    if (!err || !strcmp(err->msg, SQ_INTERRUPTED))
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

/* A regular file that starts as a .npy file: read by npy_read_file straight
 * into the tensor, without a copy of the whole file first. */
static int is_npy_file(const char *path)
{
    unsigned char magic[6];
    struct stat st;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return 0;
    int yes = fstat(fd, &st) == 0 && S_ISREG(st.st_mode)
           && pread(fd, magic, sizeof magic, 0) == (ssize_t)sizeof magic
           && detect(magic, sizeof magic) == K_NPY;
    close(fd);
    return yes;
}

/* ---- gzip ----------------------------------------------------------------- */

/* Inflates a gzip file (one or more concatenated members; zero padding
 * after the last is ignored) into a buffer from sq_map (*outcap bytes, to
 * release with sq_unmap). Refused as soon as
 * the output passes the memory limit (or SQ_DATA_GZ_MAX); polls the
 * interrupt flag every OUT_CHUNK bytes. */
static int gunzip(const unsigned char *src, size_t slen, const char *subj,
                  unsigned char **out, size_t *outlen, size_t *outcap,
                  sq_error *err)
{
    z_stream zs;
    unsigned char *buf = NULL;
    size_t len = 0, cap, in_left = slen;
    uint64_t limit = SQ_DATA_GZ_MAX;
    char lim[32];
    int started = 0;

    int by_memory = 0;
    if ((uint64_t)sq_get_memory_limit() < limit) {
        limit = sq_get_memory_limit();
        by_memory = 1;
    }
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
    if (cap > limit)
        cap = (size_t)limit;
    buf = sq_map(cap);
    if (!buf) {
        sq_fail(err, "out of memory decompressing %s", subj);
        goto fail;
    }
    zs.next_in = src;
    for (;;) {
        if (sq_poll(err) < 0)
            goto fail;
        if (zs.avail_in == 0 && in_left > 0) {
            zs.avail_in = in_left > ZCHUNK ? ZCHUNK : (uInt)in_left;
            in_left -= zs.avail_in;
        }
        if (len == cap) {
            if ((uint64_t)cap >= limit) {
                char have[32];
                if (by_memory)
                    sq_fail(err, "%s decompresses to more than the memory limit of %s "
                            "(change it with 'set memory_limit=SIZE')", subj,
                            sq_bytes_str((double)limit, have, sizeof have));
                else
                    sq_fail(err, "%s decompresses to more than %s; refusing to "
                            "load it", subj, size_text(limit, lim, sizeof lim));
                goto fail;
            }
            size_t ncap = (uint64_t)cap * 2 > limit ? (size_t)limit : cap * 2;
            unsigned char *nb = sq_map_resize(buf, cap, ncap);
            if (!nb) {
                sq_fail(err, "out of memory decompressing %s", subj);
                goto fail;
            }
            buf = nb;
            cap = ncap;
        }
        size_t room = cap - len;
        zs.next_out = buf + len;
        zs.avail_out = room > OUT_CHUNK ? OUT_CHUNK : (uInt)room;
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
    *out = buf;
    *outlen = len;
    *outcap = cap;
    return 0;

fail:
    if (started)
        inflateEnd(&zs);
    sq_unmap(buf, cap);
    return -1;
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
    sq_named_free(e, n);
    return found >= 0 ? 0 : -1;
}

/* ---- row selection: FILE[3], FILE[0:10], FILE[::2] -------------------------- */

/* A trailing [SEL] on a spec: one row (kept as a batch of one, NumPy's
 * x[i:i+1]) or a Python slice start:stop:step over the first axis. */
typedef struct {
    int set;            /* the spec ends in a selection */
    int index;          /* [i] rather than a slice */
    long v[3];          /* index, or start, stop, step */
    int has[3];         /* which slice parts were given */
    char text[64];      /* "[0:10]", for messages */
} row_sel;

/* One part of a selection: blanks, an optional integer, blanks. */
static int sel_part(const char *s, size_t len, long *v, int *has)
{
    char buf[32];
    while (len && (*s == ' ' || *s == '\t')) { s++; len--; }
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t')) len--;
    *has = len > 0;
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

/* Splits "FILE[SEL]" into the file part (a malloc'd copy in *file) and
 * the selection; a spec that names an existing file, or has no trailing
 * brackets, has no selection. */
static int split_selection(const char *spec, char **file, row_sel *rs, sq_error *err)
{
    size_t n = strlen(spec);
    const char *open = n ? strrchr(spec, '[') : NULL;
    memset(rs, 0, sizeof *rs);
    if (!open || spec[n - 1] != ']' || exists_as_file(spec)) {
        *file = sq_strdup(spec);
        return *file ? 0 : sq_fail(err, "out of memory reading '%s'", spec);
    }
    const char *in = open + 1;
    size_t len = (size_t)(spec + n - 1 - in);
    snprintf(rs->text, sizeof rs->text, "%.*s", (int)(spec + n - open), open);
    const char *c1 = memchr(in, ':', len);
    int bad;
    if (!c1) {
        rs->index = 1;
        bad = sel_part(in, len, &rs->v[0], &rs->has[0]) < 0 || !rs->has[0];
    } else {
        const char *stop = c1 + 1, *c2 = memchr(stop, ':', len - (size_t)(stop - in));
        size_t stop_len = c2 ? (size_t)(c2 - stop) : len - (size_t)(stop - in);
        bad = sel_part(in, (size_t)(c1 - in), &rs->v[0], &rs->has[0]) < 0
            || sel_part(stop, stop_len, &rs->v[1], &rs->has[1]) < 0
            || (c2 && (memchr(c2 + 1, ':', len - (size_t)(c2 + 1 - in))
                       || sel_part(c2 + 1, len - (size_t)(c2 + 1 - in), &rs->v[2],
                                   &rs->has[2]) < 0));
    }
    if (bad || open == spec)
        return sq_fail(err, "'%s': bad row selection %s (expected one row or a slice "
                       "of rows: [3], [-1], [0:10], [100:], [::2])", spec, rs->text);
    if (!rs->index && rs->has[2] && rs->v[2] == 0)
        return sq_fail(err, "'%s': slice step cannot be zero", spec);
    rs->set = 1;
    *file = sq_strndup(spec, (size_t)(open - spec));
    return *file ? 0 : sq_fail(err, "out of memory reading '%s'", spec);
}

/* The rows rs picks out of n, in order (Python's slice.indices, then
 * range): *idx is malloc'd, *k of them. */
static int sel_rows(const row_sel *rs, long n, const char *spec, long **idx, long *k,
                    sq_error *err)
{
    long a, b, st = 1;
    if (rs->index) {
        a = rs->v[0] < 0 ? rs->v[0] + n : rs->v[0];
        if (a < 0 || a >= n)
            return sq_fail(err, "'%s': index %ld is out of bounds for axis 0 with size %ld",
                           spec, rs->v[0], n);
        b = a + 1;
    } else {
        if (rs->has[2])
            st = rs->v[2];
        long lo = st > 0 ? 0 : -1, hi = st > 0 ? n : n - 1;
        a = rs->v[0];
        b = rs->v[1];
        if (!rs->has[0]) a = st > 0 ? lo : hi;
        else if (a < 0) a = a + n < lo ? lo : a + n;
        else if (a > hi) a = hi;
        if (!rs->has[1]) b = st > 0 ? hi : lo;
        else if (b < 0) b = b + n < lo ? lo : b + n;
        else if (b > hi) b = hi;
    }
    long cnt = 0;
    if (st > 0 && b > a)
        cnt = (b - a + st - 1) / st;
    else if (st < 0 && a > b)
        cnt = (a - b - st - 1) / -st;
    if (cnt == 0)
        return sq_fail(err, "'%s' selects no rows (there are %ld)", spec, n);
    if (!(*idx = sq_malloc((size_t)cnt * sizeof **idx)))
        return sq_fail(err, "out of memory selecting rows of '%s'", spec);
    for (long i = 0; i < cnt; i++)
        (*idx)[i] = a + i * st;
    *k = cnt;
    return 0;
}

/* Replaces t by its rows idx[0..k). */
static int take_rows(sq_tensor *t, const long *idx, long k, const char *spec, sq_error *err)
{
    size_t per = t->shape.d[0] ? sq_shape_count(&t->shape) / (size_t)t->shape.d[0] : 0;
    size_t count = (size_t)k * per;
    float *d = sq_malloc((count ? count : 1) * sizeof *d);
    if (!d)
        return sq_fail(err, "out of memory selecting rows of '%s'", spec);
    for (long i = 0; i < k; i++)
        memcpy(d + (size_t)i * per, t->data + (size_t)idx[i] * per, per * sizeof *d);
    sq_free(t->data);
    t->data = d;
    t->shape.d[0] = k;
    return 0;
}

/* Applies a selection to x (and y, its labels, when not NULL). */
static int select_rows(const row_sel *rs, const char *spec, sq_tensor *x, sq_tensor *y,
                       sq_error *err)
{
    long *idx = NULL, k = 0;
    if (x->shape.rank == 0)
        return sq_fail(err, "'%s': a row selection needs rows, and the data is a scalar",
                       spec);
    if (sel_rows(rs, x->shape.d[0], spec, &idx, &k, err) < 0)
        return -1;
    /* k rows of the loaded data: no more than it held */
    int rc = take_rows(x, idx, k, spec, err);
    if (rc == 0 && y)
        rc = take_rows(y, idx, k, spec, err);
    free(idx);
    return rc;
}

/* ---- the entry points ----------------------------------------------------- */

/* Reads the data in file path (named subj; key selects an .npz member)
 * into *tx (and *ty for a CSV split by ls). */
static int read_data(const char *path, const char *key, const char *subj, const label_spec *ls,
                     sq_tensor *tx, sq_tensor *ty, sq_error *err)
{
    unsigned char *raw = NULL, *plain = NULL;
    const unsigned char *buf;
    size_t len, plain_cap = 0;
    int gz = 0, rc = -1;

    if (!key && ls->kind == LABEL_NONE && is_npy_file(path))
        return npy_read_file(path, tx, err);
    if (sq_read_whole_file(path, &raw, &len, err) != 0)
        return -1;
    buf = raw;
    data_kind kind = detect(buf, len);
    if (kind == K_GZIP) {
        if (gunzip(raw, len, subj, &plain, &len, &plain_cap, err) != 0)
            goto out;
        free(raw);
        raw = NULL;
        buf = plain;
        gz = 1;
        kind = detect(buf, len);
        if (kind == K_GZIP) {
            sq_fail(err, "%s is gzip-compressed twice; decompress it once "
                    "first", subj);
            goto out;
        }
    }
    if (len == 0) {
        sq_fail(err, gz ? "%s is empty (after decompression)" : "%s is empty",
                subj);
        goto out;
    }
    if (kind == K_UNKNOWN) {
        sq_fail(err, "%s is not a data file seqsh reads (expected .npy, .npz, "
                "IDX or CSV, possibly gzip-compressed)", subj);
        goto out;
    }
    if (key && kind != K_NPZ) {
        sq_fail(err, "%s is %s%s; ':%s' selects an array only in an .npz "
                "archive", subj, kind_name[kind],
                gz ? " (gzip-compressed)" : "", key);
        goto out;
    }
    if (ls->kind != LABEL_NONE && kind != K_CSV) {
        sq_fail(err, "label= splits only CSV files, and %s is %s", subj,
                kind_name[kind]);
        goto out;
    }

    switch (kind) {
    case K_NPY:
        rc = npy_read_mem(buf, len, tx, err);
        if (rc != 0)
            name_source(err, subj);
        break;
    case K_NPZ:
        rc = npz_pick(buf, len, path, subj, key, tx, err);
        break;
    case K_IDX:
        rc = sq_idx_parse(buf, len, subj, tx, err);
        break;
    default:
        rc = sq_csv_parse(buf, len, path, subj, ls, tx, ty, err);
        break;
    }
out:
    free(raw);
    sq_unmap(plain, plain_cap);
    return rc;
}

int sq_data_load(const char *spec, const char *label, sq_tensor *x,
                 sq_tensor *y, sq_error *err)
{
    label_spec ls;
    char *path = NULL;
    const char *key = NULL;
    char subj[SUBJ_MAX];
    sq_tensor tx, ty;
    char *file = NULL;
    row_sel rs;

    memset(&tx, 0, sizeof tx);
    memset(&ty, 0, sizeof ty);
    if (!spec || !*spec)
        return sq_fail(err, "no data file given");
    if (!x)
        return sq_fail(err, "internal error: no tensor to load '%s' into",
                       spec);
    if (sq_csv_label_parse(label, &ls, err) != 0)
        return -1;
    if (ls.kind != LABEL_NONE && !y)
        return sq_fail(err, "internal error: label=%s given for '%s' but no "
                       "tensor for the labels", label, spec);
    if (split_selection(spec, &file, &rs, err) != 0)
        return -1;
    if (split_spec(file, &path, &key, err) != 0) {
        free(file);
        return -1;
    }
    snprintf(subj, sizeof subj, "'%.*s'", SUBJ_MAX - 3, path);
    if (read_data(path, key, subj, &ls, &tx, &ty, err) != 0)
        goto fail;
    if (rs.set && select_rows(&rs, spec, &tx, ls.kind != LABEL_NONE ? &ty : NULL, err) < 0) {
        sq_tensor_free(&tx);
        sq_tensor_free(&ty);
        goto fail;
    }
    free(path);
    free(file);
    *x = tx;
    if (ls.kind != LABEL_NONE)
        *y = ty;
    return 0;

fail:
    free(path);
    free(file);
    return -1;
}

int sq_tensor_load(const char *spec, sq_tensor *out, sq_error *err)
{
    return sq_data_load(spec, NULL, out, NULL, err);
}

