/* bytes.h - little helpers the binary readers and writers share
 * (engine-internal): overflow-checked sizes, little-endian reads, CRC-32,
 * and a growable byte buffer whose `oom` sticks once set. */
#ifndef SEQSH_BYTES_H
#define SEQSH_BYTES_H

#define ZLIB_CONST
#include <stdint.h>
#include <string.h>
#include <zlib.h>
#include "base/base.h"


static inline int host_is_big_endian(void)
{
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 0;
}

/* a * b into *r; 0 on overflow. */
static inline int mul_size(size_t a, size_t b, size_t *r)
{
    if (a != 0 && b > SIZE_MAX / a)
        return 0;
    *r = a * b;
    return 1;
}

/* Number of elements of a shape (1 for rank 0); 0 on overflow. */
static inline int shape_count(const sq_shape *sh, size_t *count)
{
    size_t c = 1;
    for (int i = 0; i < sh->rank; i++)
        if (sh->d[i] < 0 || !mul_size(c, (size_t)sh->d[i], &c))
            return 0;
    *count = c;
    return 1;
}

static inline uint16_t rd16(const unsigned char *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t rd32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static inline uint64_t rd64(const unsigned char *p)
{
    return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static inline uint32_t crc32_of(const unsigned char *p, size_t n)
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

static inline int bb_reserve(bbuf *b, size_t more)
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

static inline void bb_put(bbuf *b, const void *src, size_t n)
{
    if (n && bb_reserve(b, n)) {
        memcpy(b->p + b->len, src, n);
        b->len += n;
    }
}

static inline void bb_le(bbuf *b, uint64_t v, int nbytes)
{
    unsigned char tmp[8];
    for (int i = 0; i < nbytes; i++)
        tmp[i] = (unsigned char)(v >> (8 * i));
    bb_put(b, tmp, (size_t)nbytes);
}

static inline void bb_u16(bbuf *b, unsigned v) { bb_le(b, v, 2); }
static inline void bb_u32(bbuf *b, uint64_t v) { bb_le(b, v, 4); }
static inline void bb_u64(bbuf *b, uint64_t v) { bb_le(b, v, 8); }

static inline void patch32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}


static inline uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
           (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static inline uint64_t be64(const unsigned char *p)
{
    return (uint64_t)be32(p) << 32 | be32(p + 4);
}

#endif
