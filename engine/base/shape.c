/* shape.c - shapes: Python-style text, comparison, counting and the
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
