/* npz.c - NumPy's .npz archives (zip files of .npy members, stored or
 * deflated, ZIP64 included): a reader that checks every offset and size
 * against the real data, and a writer that produces what numpy.savez
 * writes. */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "io/bytes.h"
#include "io/fileio.h"
#include "io/npy.h"

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
#define OUT_CHUNK (4u << 20)      /* bytes inflated between two polls */

/* ---- .npz reading --------------------------------------------------------- */

/* Inflates raw deflate data into exactly dlen bytes, polling the
 * interrupt flag every OUT_CHUNK bytes of output. */
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
    int rc = Z_OK;
    zs.next_in = src;
    zs.next_out = dst;
    for (;;) {
        if (sq_poll(err) < 0) {
            inflateEnd(&zs);
            return -1;
        }
        if (zs.avail_in == 0 && in_left > 0) {
            zs.avail_in = in_left > chunk ? chunk : (uInt)in_left;
            in_left -= zs.avail_in;
        }
        if (zs.avail_out == 0 && out_left > 0) {
            zs.avail_out = out_left > OUT_CHUNK ? OUT_CHUNK : (uInt)out_left;
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

void sq_named_free(sq_named_tensor *t, int n)
{
    for (int i = 0; t && i < n; i++) {
        free(t[i].name);
        sq_free(t[i].t.data);
    }
    free(t);
}

int sq_save_npz(const char *path, const sq_named_tensor *t, int n, sq_error *err)
{
    return npz_write_file(path, t, n, err);
}

/* `path` is NULL for an in-memory archive (messages say "input"). */
static int npz_parse(const unsigned char *buf, size_t len, const char *path,
                     npz_entry **entries_out, int *n_out, sq_error *err)
{
    char arch[SUBJECT_MAX], subject[SUBJECT_MAX], what[SUBJECT_MAX + 64];
    npz_entry *ents = NULL;
    unsigned char *inflated = NULL;
    int n = 0;
    double held = 0;   /* bytes of the arrays read so far */

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
            /* its declared size, with the arrays already read, against
             * the memory limit before anything is inflated */
            snprintf(what, sizeof what, "reading %s", subject);
            if (sq_check_memory(held + (double)usize, what, err) < 0)
                goto fail;
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
        uint32_t have_crc;
        if (sq_crc32_polled(data, (size_t)usize, &have_crc, err) < 0)
            goto fail;
        if (have_crc != crc) {
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
        held += (double)sq_shape_count(&e->t.shape) * sizeof(float);
        snprintf(what, sizeof what, "reading %s (with the arrays before it)", subject);
        if (sq_check_memory(held, what, err) < 0)
            goto fail;
        free(inflated);
        inflated = NULL;
    }
    *entries_out = ents;
    *n_out = n;
    return 0;

fail:
    free(inflated);
    sq_named_free(ents, n);
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
    return npz_write_file_as(path, entries, n, 0, err);
}

int npz_write_file_as(const char *path, const npz_entry *entries, int n, int int64,
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
        if (npy_append_as(&b, &entries[i].t, int64, subject, err) != 0)
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

