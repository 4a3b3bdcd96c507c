/* alloc.c - the engine's one door to the heap. Every engine allocation goes
 * through these, so a test can make the N-th one fail and check that each
 * command fails cleanly and leaves the model as it was. */
#include <stdlib.h>
#include <string.h>
#include "internal.h"

static long countdown = -1;  /* fail when it reaches 0; -1: never */
static long calls;

void sq_alloc_fail_after(long n)
{
    countdown = n;
    calls = 0;
}

long sq_alloc_calls(void)
{
    return calls;
}

static int refuse(void)
{
    calls++;
    if (countdown < 0)
        return 0;
    if (countdown == 0)
        return 1;
    countdown--;
    return 0;
}

void *sq_malloc(size_t n)
{
    return refuse() ? NULL : malloc(n);
}

void *sq_calloc(size_t n, size_t size)
{
    return refuse() ? NULL : calloc(n, size);
}

void *sq_realloc(void *p, size_t n)
{
    return refuse() ? NULL : realloc(p, n);
}

char *sq_strdup(const char *s)
{
    return refuse() ? NULL : strdup(s);
}

char *sq_strndup(const char *s, size_t n)
{
    return refuse() ? NULL : strndup(s, n);
}
