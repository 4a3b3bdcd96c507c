/* npy.c - NumPy's .npy format: a reader that trusts no size it is given
 * (every offset and length is checked against the real data before use)
 * and a writer that produces what numpy.save writes. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "io/bytes.h"
#include "io/fileio.h"
#include "io/npy.h"
#include "kernels/threads.h"

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6
#define NPY_ALIGN 64
#define NPY_GROWTH_DIGITS 21   /* numpy's GROWTH_AXIS_MAX_DIGITS */
#define SUBJECT_MAX 600        /* "'path' member 'name'" in messages */
#define POLL_EVERY ((size_t)1 << 20)   /* values converted between two polls */
/* bytes read from a file between two polls (and the conversion buffer) */
#define NPY_READ_PIECE ((size_t)4 << 20)

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

/* What a .npy header says, checked: where the data starts, the values'
 * type and count, the shape (C order once read). */
typedef struct {
    npy_header h;
    npy_dtype dt;
    size_t pre, hlen;        /* the prefix (magic, version, length) and header */
    size_t count, nbytes, outbytes;
} npy_info;

/* The header of a .npy image of len bytes whose first `have` bytes are at
 * buf. Returns 0, -1 with *err set, or 1 when the header is complete in
 * the image but not in the first `have` bytes: *need then says how many
 * to give. Checks everything npy_parse checks before allocating, the
 * memory limit included. */
static int read_info(const unsigned char *buf, size_t have, size_t len, const char *subject,
                     npy_info *inf, size_t *need, sq_error *err)
{
    if (len < NPY_MAGIC_LEN || have < NPY_MAGIC_LEN || memcmp(buf, NPY_MAGIC, NPY_MAGIC_LEN) != 0)
        return sq_fail(err, "%s is not a .npy file (bad magic)", subject);
    if (len < NPY_MAGIC_LEN + 2)
        return sq_fail(err, "%s is truncated (incomplete header)", subject);
    int major = buf[6], minor = buf[7];
    if (major < 1 || major > 3 || minor != 0)
        return sq_fail(err, "%s: unsupported .npy format version %d.%d",
                       subject, major, minor);
    inf->pre = major == 1 ? 10 : 12;
    if (len < inf->pre)
        return sq_fail(err, "%s is truncated (incomplete header)", subject);
    if (have < inf->pre) {
        *need = inf->pre;
        return 1;
    }
    inf->hlen = major == 1 ? rd16(buf + 8) : rd32(buf + 8);
    if (inf->hlen > len - inf->pre)
        return sq_fail(err, "%s is truncated (incomplete header)", subject);
    if (have < inf->pre + inf->hlen) {
        *need = inf->pre + inf->hlen;
        return 1;
    }
    char *text = sq_malloc(inf->hlen + 1);
    if (!text)
        return sq_fail(err, "out of memory reading %s", subject);
    memcpy(text, buf + inf->pre, inf->hlen);
    text[inf->hlen] = '\0';
    int rc = -1;
    if (strlen(text) != inf->hlen) {
        sq_fail(err, "%s: malformed .npy header (NUL byte)", subject);
        goto out;
    }
    if (parse_header(text, &inf->h, subject, err) != 0)
        goto out;
    if (!parse_dtype(inf->h.descr, &inf->dt)) {
        sq_fail(err, "%s: unsupported dtype '%s'", subject, inf->h.descr);
        goto out;
    }
    sq_shape sh = { .rank = inf->h.rank };
    for (int i = 0; i < inf->h.rank; i++)
        sh.d[i] = inf->h.d[i];
    if (!shape_count(&sh, &inf->count) ||
        !mul_size(inf->count, (size_t)inf->dt.size, &inf->nbytes) ||
        !mul_size(inf->count, sizeof(float), &inf->outbytes)) {
        sq_fail(err, "%s: shape is too large", subject);
        goto out;
    }
    size_t avail = len - inf->pre - inf->hlen;
    if (inf->nbytes > avail) {
        sq_fail(err, "%s is truncated: header says %zu bytes of data, "
                "file has %zu", subject, inf->nbytes, avail);
        goto out;
    }
    long checked;
    if (sq_dims_count(sh.d, sh.rank, subject, &checked, err) < 0)
        goto out;
    char what[SUBJECT_MAX + 16];
    snprintf(what, sizeof what, "reading %s", subject);
    if (sq_check_memory((double)inf->outbytes, what, err) < 0)
        goto out;
    rc = 0;
out:
    free(text);
    return rc;
}

/* Where the next source value goes: the source is read in its own order
 * (C, or Fortran: axis 0 fastest), a piece at a time. */
typedef struct {
    size_t next;                 /* source values converted so far */
    size_t dst;                  /* Fortran order: the next one's C index */
    long idx[SQ_MAX_RANK];
    size_t cstride[SQ_MAX_RANK];
} npy_walk;

static void walk_init(npy_walk *w, const npy_info *inf)
{
    memset(w, 0, sizeof *w);
    const npy_header *h = &inf->h;
    if (h->fortran && h->rank >= 2) {
        w->cstride[h->rank - 1] = 1;
        for (int i = h->rank - 2; i >= 0; i--)
            w->cstride[i] = w->cstride[i + 1] * (size_t)h->d[i + 1];
    }
}

/* A float32 of this machine's byte order in C order: the bytes are the
 * values. */
static int npy_is_native(const npy_info *inf)
{
    return inf->dt.kind == 'f' && inf->dt.size == 4 && inf->dt.big == host_is_big_endian()
        && (!inf->h.fortran || inf->h.rank < 2 || inf->count == 0);
}

/* Converts the next k source values at src into data. */
static void convert_piece(const npy_info *inf, npy_walk *w, const unsigned char *src, size_t k,
                          float *data)
{
    const npy_header *h = &inf->h;
    size_t sz = (size_t)inf->dt.size;
    if (!h->fortran || h->rank < 2) {
        if (npy_is_native(inf))
            memcpy(data + w->next, src, k * 4);
        else
            for (size_t i = 0; i < k; i++)
                data[w->next + i] = convert_one(src + i * sz, &inf->dt);
        w->next += k;
        return;
    }
    /* Fortran order: keep the matching C-order index up to date */
    for (size_t j = 0; j < k; j++) {
        data[w->dst] = convert_one(src + j * sz, &inf->dt);
        for (int i = 0; i < h->rank; i++) {
            w->idx[i]++;
            w->dst += w->cstride[i];
            if (w->idx[i] < h->d[i])
                break;
            w->dst -= w->cstride[i] * (size_t)h->d[i];
            w->idx[i] = 0;
        }
    }
    w->next += k;
}

static void info_shape(const npy_info *inf, sq_tensor *t)
{
    memset(t, 0, sizeof *t);
    t->shape.rank = inf->h.rank;
    for (int i = 0; i < inf->h.rank; i++)
        t->shape.d[i] = inf->h.d[i];
}

/* Parses a .npy image. `subject` names it in messages ("'x.npy'"). On
 * failure *out is untouched. */
int npy_parse(const unsigned char *buf, size_t len, const char *subject,
              sq_tensor *out, sq_error *err)
{
    npy_info inf;
    size_t need;
    int rc = read_info(buf, len, len, subject, &inf, &need, err);
    if (rc != 0)
        return -1;   /* (never 1: the whole image is here) */
    float *data = sq_malloc(inf.outbytes ? inf.outbytes : 1);
    if (!data)
        return sq_fail(err, "out of memory reading %s (%zu bytes)", subject, inf.outbytes);
    const unsigned char *src = buf + inf.pre + inf.hlen;
    npy_walk w;
    walk_init(&w, &inf);
    for (size_t j = 0; j < inf.count; j += POLL_EVERY) {
        size_t k = inf.count - j < POLL_EVERY ? inf.count - j : POLL_EVERY;
        if (sq_poll(err) < 0) {
            free(data);
            return -1;
        }
        convert_piece(&inf, &w, src + j * (size_t)inf.dt.size, k, data);
    }
    info_shape(&inf, out);
    out->data = data;
    return 0;
}

int npy_read_mem(const unsigned char *buf, size_t len, sq_tensor *out,
                 sq_error *err)
{
    if (!buf && len > 0)
        return sq_fail(err, "input is not a .npy file (bad magic)");
    return npy_parse(buf, len, "input", out, err);
}

/* Reads exactly n bytes at offset off of fd into dst; -1 with *err set (a
 * file that ended early is truncated). Polls between pieces. */
static int read_at(int fd, unsigned char *dst, size_t n, off_t off, const char *subject,
                   size_t piece, sq_error *err)
{
    size_t done = 0;
    while (done < n) {
        if (sq_poll(err) < 0)
            return -1;
        size_t want = n - done < piece ? n - done : piece;
        ssize_t got = pread(fd, dst + done, want, off + (off_t)done);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            return sq_fail(err, "cannot read %s: %s", subject, strerror(errno));
        }
        if (got == 0)
            return sq_fail(err, "%s is truncated: it ended while being read", subject);
        done += (size_t)got;
    }
    return 0;
}

/* A native read of READ_SHARED pieces or more (32 MiB in NPY_READ_PIECE's)
 * is shared by the thread pool, a piece per claim, each by read_at: each
 * core copies its part out of the page cache (and touches its part of
 * fresh memory) at once. The first failure's message is the read's. */
#define READ_SHARED 8

typedef struct {
    int fd;
    unsigned char *dst;
    size_t n, piece;
    off_t off;
    const char *subject;
    int failed;     /* atomic: set by the first piece that fails */
    sq_error err;   /* its message */
} read_job;

static void read_pieces(void *ctx, long b, long e, int tid)
{
    read_job *j = ctx;
    (void)tid;
    for (long p = b; p < e && !__atomic_load_n(&j->failed, __ATOMIC_ACQUIRE); p++) {
        size_t lo = (size_t)p * j->piece, len = j->n - lo < j->piece ? j->n - lo : j->piece;
        sq_error e1;
        int none = 0;
        if (read_at(j->fd, j->dst + lo, len, j->off + (off_t)lo, j->subject, j->piece, &e1) < 0
            && __atomic_compare_exchange_n(&j->failed, &none, 1, 0, __ATOMIC_ACQ_REL,
                                           __ATOMIC_ACQUIRE))
            j->err = e1;
    }
}

/* read_at's work on the threads. */
static int read_shared(int fd, unsigned char *dst, size_t n, off_t off, const char *subject,
                       size_t piece, sq_error *err)
{
    read_job j = { .fd = fd, .dst = dst, .n = n, .piece = piece, .off = off,
                   .subject = subject };
    sq_parallel_for((long)((n + piece - 1) / piece), 1, read_pieces, &j);
    if (j.failed)
        *err = j.err;
    return j.failed ? -1 : 0;
}

int npy_read_fd(int fd, size_t len, const char *subject, size_t piece, sq_tensor *out,
                sq_error *err)
{
    unsigned char head[4096], *big = NULL;
    float *data = NULL;
    unsigned char *bounce = NULL;
    npy_info inf;
    size_t have = len < sizeof head ? len : sizeof head, need;
    if (piece < 16)
        piece = 16;
    if (read_at(fd, head, have, 0, subject, piece, err) < 0)
        return -1;
    int rc = read_info(head, have, len, subject, &inf, &need, err);
    if (rc == 1) {
        /* a long header (version 2 and 3 allow 4 GiB): read it whole */
        if (!(big = sq_malloc(need))) {
            sq_fail(err, "out of memory reading %s", subject);
            goto fail;
        }
        if (read_at(fd, big, need, 0, subject, piece, err) < 0)
            goto fail;
        rc = read_info(big, need, len, subject, &inf, &need, err);
    }
    if (rc != 0)
        goto fail;
    free(big);
    big = NULL;
    data = sq_malloc(inf.outbytes ? inf.outbytes : 1);
    if (!data) {
        sq_fail(err, "out of memory reading %s (%zu bytes)", subject, inf.outbytes);
        goto fail;
    }
    off_t off = (off_t)(inf.pre + inf.hlen);
    if (npy_is_native(&inf)) {
        /* the file's bytes are the values: straight into place */
        int shared = inf.nbytes / piece >= READ_SHARED && sq_pool_threads() > 1;
        if ((shared ? read_shared : read_at)(fd, (unsigned char *)data, inf.nbytes, off,
                                             subject, piece, err) < 0)
            goto fail;
    } else if (inf.count > 0) {
        /* through a small buffer, a whole number of values at a time */
        size_t per = piece / (size_t)inf.dt.size;
        if (per < 1)
            per = 1;
        if (!(bounce = sq_malloc(per * (size_t)inf.dt.size))) {
            sq_fail(err, "out of memory reading %s", subject);
            goto fail;
        }
        npy_walk w;
        walk_init(&w, &inf);
        while (w.next < inf.count) {
            size_t k = inf.count - w.next < per ? inf.count - w.next : per;
            if (read_at(fd, bounce, k * (size_t)inf.dt.size,
                        off + (off_t)(w.next * (size_t)inf.dt.size), subject, piece, err) < 0)
                goto fail;
            convert_piece(&inf, &w, bounce, k, data);
        }
        free(bounce);
    }
    info_shape(&inf, out);
    out->data = data;
    return 0;
fail:
    free(big);
    free(bounce);
    free(data);
    return -1;
}

int npy_read_file(const char *path, sq_tensor *out, sq_error *err)
{
    char subject[SUBJECT_MAX];
    snprintf(subject, sizeof subject, "'%s'", path);
    /* a regular file is read straight into the tensor; anything else
     * (a FIFO) whole first, by the careful reader */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
        int rc = npy_read_fd(fd, (size_t)st.st_size, subject, NPY_READ_PIECE, out, err);
        close(fd);
        return rc;
    }
    if (fd >= 0)
        close(fd);
    unsigned char *buf;
    size_t len;
    if (sq_read_whole_file(path, &buf, &len, err) != 0)
        return -1;
    int rc = npy_parse(buf, len, subject, out, err);
    free(buf);
    return rc;
}

/* ---- .npy writing --------------------------------------------------------- */

/* Appends t as a float32 .npy image, byte for byte as numpy.save writes a
 * C-contiguous '<f4' array (numpy >= 1.23 header padding). */
int npy_append(bbuf *b, const sq_tensor *t, const char *subject,
                     sq_error *err)
{
    return npy_append_as(b, t, 0, subject, err);
}

int npy_append_as(bbuf *b, const sq_tensor *t, int int64, const char *subject,
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
        !mul_size(count, int64 ? sizeof(int64_t) : sizeof(float), &nbytes))
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
                      "{'descr': '%s', 'fortran_order': False, "
                      "'shape': %s, }", int64 ? "<i8" : "<f4", shape);
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
    if (int64) {
        /* whole numbers (class indices), as NumPy's argmax gives them */
        if (bb_reserve(b, nbytes)) {
            for (size_t j = 0; j < count; j++) {
                uint64_t u = (uint64_t)(int64_t)t->data[j];
                patch32(b->p + b->len + 8 * j, (uint32_t)u);
                patch32(b->p + b->len + 8 * j + 4, (uint32_t)(u >> 32));
            }
            b->len += nbytes;
        }
    } else if (!host_is_big_endian()) {
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

