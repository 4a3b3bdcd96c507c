/* shape.c - shapes: Python-style text, comparison, counting with overflow
 * checks (the one place products of dimensions are computed), and the
 * window-length rule every convolution and pooling layer shares. */
#include <stdio.h>
#include <stdint.h>
#include "base/base.h"

char *sq_shape_str(const sq_shape *sh, char *buf, size_t n)
{
    size_t len = 0;
    if (n == 0)
        return buf;
    buf[0] = '\0';
#define PUT(...) do { int k_ = snprintf(buf + len, len < n ? n - len : 0, __VA_ARGS__); \
                      if (k_ > 0) len += (size_t)k_; } while (0)
    PUT("(");
    for (int i = 0; i < sh->rank; i++) {
        if (i > 0)
            PUT(", ");
        if (sh->d[i] < 0)
            PUT("None");
        else
            PUT("%ld", sh->d[i]);
    }
    PUT(sh->rank == 1 ? ",)" : ")");
#undef PUT
    return buf;
}

int sq_shape_eq(const sq_shape *a, const sq_shape *b)
{
    if (a->rank != b->rank)
        return 0;
    for (int i = 0; i < a->rank; i++)
        if (a->d[i] != b->d[i])
            return 0;
    return 1;
}

int sq_count_mul(long a, long b, long *r)
{
    if (a < 0 || b < 0 || (a != 0 && b > SQ_COUNT_MAX / a))
        return 0;
    *r = a * b;
    return 1;
}

/* "65536 x 65536 x 65536" */
static void dims_text(const long *d, int n, char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && len < size; i++) {
        int k = snprintf(buf + len, size - len, i ? " x %ld" : "%ld", d[i]);
        if (k < 0)
            break;
        len += (size_t)k;
    }
}

int sq_dims_count(const long *d, int n, const char *what, long *count, sq_error *err)
{
    long c = 1, nz = 1;
    for (int i = 0; i < n; i++) {
        if (d[i] < 0 || d[i] > SQ_DIM_MAX)
            return sq_fail(err, "%s: dimension %ld is out of range (0 to 2^32)", what, d[i]);
        /* the product of the non-zero dimensions bounds every partial one */
        if (d[i] > 0 && !sq_count_mul(nz, d[i], &nz)) {
            char t[SQ_MAX_RANK * 24 + 8];
            dims_text(d, n, t, sizeof t);
            return sq_fail(err, "%s: %s is too large (a shape holds at most 2^53 values)",
                           what, t);
        }
        c = d[i] == 0 ? 0 : c * d[i];
    }
    *count = c;
    return 0;
}

int sq_shape_check(const sq_shape *sh, const char *what, sq_error *err)
{
    char s[SQ_MAX_RANK * 24 + 8];
    long nz = 1;
    for (int i = 0; i < sh->rank; i++) {
        if (sh->d[i] > SQ_DIM_MAX)
            return sq_fail(err, "%s: the shape %s has a dimension larger than 2^32", what,
                           sq_shape_str(sh, s, sizeof s));
        if (sh->d[i] > 0 && !sq_count_mul(nz, sh->d[i], &nz))
            return sq_fail(err, "%s: the shape %s is too large (a shape holds at most 2^53 "
                           "values)", what, sq_shape_str(sh, s, sizeof s));
    }
    return 0;
}

size_t sq_shape_count(const sq_shape *sh)
{
    size_t n = 1;
    for (int i = 0; i < sh->rank; i++) {
        if (sh->d[i] < 0)
            return 0;
        if (sh->d[i] != 0 && n > SIZE_MAX / (size_t)sh->d[i])
            return SIZE_MAX;
        n *= (size_t)sh->d[i];
    }
    return n;
}

long sq_conv_len(long n, long k, int same, long stride, long dilation)
{
    if (n < 0)
        return -1;
    long dk = k + (k - 1) * (dilation - 1);
    long m = same ? n : n - dk + 1;
    if (m < 0)
        m = 0;
    return (m + stride - 1) / stride;
}
