/* sbuf.c - a growing string for the engine's text answers. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include "base/base.h"

/* A growing string. */
void sb_printf(sbuf *b, const char *fmt, ...)
{
    if (b->oom)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (k < 0) {
            b->oom = 1;
            return;
        }
        if (b->s && b->len + (size_t)k < b->cap) {
            b->len += (size_t)k;
            return;
        }
        size_t cap = (b->cap ? b->cap * 2 : 256) + (size_t)k;
        char *s = sq_realloc(b->s, cap);
        if (!s) {
            b->oom = 1;
            return;
        }
        b->s = s;
        b->cap = cap;
    }
}

char *sb_finish(sbuf *b, sq_error *err)
{
    if (b->oom || !b->s) {
        free(b->s);
        sq_fail(err, "out of memory");
        return NULL;
    }
    return b->s;
}

