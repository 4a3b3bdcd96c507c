/* alloc.c - the engine's one door to the heap. Every engine allocation goes
 * through these, so a test can make the N-th one fail and check that each
 * command fails cleanly and leaves the model as it was. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "base/base.h"

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

void sq_alloc_count_elsewhere(long n)
{
    calls += n;
    if (countdown > 0)
        countdown = countdown > n ? countdown - n : 0;
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

/* The memory a single command may ask for: half the machine's memory unless
 * set otherwise. A setting of the process, like the thread count. */
static size_t mem_limit;

size_t sq_get_memory_limit(void)
{
    if (!mem_limit) {
        long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
        mem_limit = pages > 0 && size > 0 ? (size_t)pages * (size_t)size / 2 : (size_t)8 << 30;
    }
    return mem_limit;
}

void sq_set_memory_limit(size_t bytes)
{
    mem_limit = bytes;
}

/* "1.5 GiB" */
const char *sq_bytes_str(double bytes, char *buf, size_t n)
{
    static const char *const units[] = { "bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
    int u = 0;
    while (bytes >= 1024 && u < 6) {
        bytes /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(buf, n, "%.0f bytes", bytes);
    else
        snprintf(buf, n, "%.1f %s", bytes, units[u]);
    return buf;
}

int sq_check_memory(double bytes, const char *what, sq_error *err)
{
    size_t lim = sq_get_memory_limit();
    if (bytes <= (double)lim)
        return 0;
    char a[32], b[32];
    return sq_fail(err, "%s would need %s of memory, more than the memory limit of %s "
                   "(change it with 'set memory_limit=SIZE')", what,
                   sq_bytes_str(bytes, a, sizeof a), sq_bytes_str((double)lim, b, sizeof b));
}
