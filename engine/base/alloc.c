/* alloc.c - the engine's one door to the heap. Every engine allocation goes
 * through these, so a test can make the N-th one fail and check that each
 * command fails cleanly and leaves the model as it was. Big blocks (data
 * sets, inputs, activations) are advised for transparent huge pages: a
 * first touch then costs one fault per 2 MiB instead of one per 4 KiB,
 * which on a virtual machine is most of the time a fresh buffer takes. */
#define _GNU_SOURCE       /* madvise's MADV_HUGEPAGE, mremap */
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
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

#define HUGE_PAGE ((uintptr_t)2 << 20)
#define HUGE_MIN ((size_t)8 << 20)     /* blocks advised: at least 4 huge pages */

/* Asks for huge pages over the whole 2 MiB pages inside [p, p + n). Only
 * advice: the kernel may refuse (THP off) and nothing changes. */
static void *advise_huge(void *p, size_t n)
{
#ifdef MADV_HUGEPAGE
    if (p && n >= HUGE_MIN) {
        uintptr_t b = ((uintptr_t)p + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
        uintptr_t e = ((uintptr_t)p + n) & ~(HUGE_PAGE - 1);
        if (e > b)
            madvise((void *)b, e - b, MADV_HUGEPAGE);
    }
#endif
    return p;
}

/* Big blocks freed through sq_free are kept for the next big allocation
 * of about their size instead of going back to the heap: there a freed
 * data set becomes a hole that the next command's small allocations carve
 * into (a model's weights, its optimizer's slots), so the next data set of
 * the same size no longer fits and is faulted in afresh (every other `fit
 * X.npy` re-faulted its 188 MB, ~0.3 s on a virtual machine). Up to
 * KEEP_SLOTS blocks and KEEP_MAX bytes, and no more than the memory limit (what
 * one command may hold; a new limit gives them all back); a big allocation
 * that none of them fits frees them all first, so that the heap can use
 * their memory. */
#define KEEP_MIN ((size_t)16 << 20)
#define KEEP_SLOTS 4
#define KEEP_MAX ((size_t)1 << 30)

static pthread_mutex_t kept_mu = PTHREAD_MUTEX_INITIALIZER;
static void *kept[KEEP_SLOTS];
static size_t kept_size[KEEP_SLOTS];

/* The smallest kept block of n to 2n bytes, taken out; NULL if none (the
 * kept blocks then freed). */
static void *take_kept(size_t n)
{
    if (n < KEEP_MIN)
        return NULL;
    pthread_mutex_lock(&kept_mu);
    int best = -1;
    for (int i = 0; i < KEEP_SLOTS; i++)
        if (kept[i] && kept_size[i] >= n && kept_size[i] / 2 <= n
            && (best < 0 || kept_size[i] < kept_size[best]))
            best = i;
    void *p = NULL;
    if (best >= 0) {
        p = kept[best];
        kept[best] = NULL;
    } else {
        for (int i = 0; i < KEEP_SLOTS; i++) {
            free(kept[i]);
            kept[i] = NULL;
        }
    }
    pthread_mutex_unlock(&kept_mu);
    return p;
}

void sq_free(void *p)
{
    if (!p)
        return;
    size_t n = malloc_usable_size(p);
    if (n >= KEEP_MIN) {
        pthread_mutex_lock(&kept_mu);
        size_t total = n;
        int slot = -1;
        for (int i = 0; i < KEEP_SLOTS; i++) {
            if (kept[i])
                total += kept_size[i];
            else if (slot < 0)
                slot = i;
        }
        if (slot >= 0 && total <= KEEP_MAX && total <= sq_get_memory_limit()) {
            kept[slot] = p;
            kept_size[slot] = n;
            p = NULL;
        }
        pthread_mutex_unlock(&kept_mu);
    }
    free(p);
}

int sq_kept_blocks(void)
{
    int k = 0;
    pthread_mutex_lock(&kept_mu);
    for (int i = 0; i < KEEP_SLOTS; i++)
        k += kept[i] != NULL;
    pthread_mutex_unlock(&kept_mu);
    return k;
}

void sq_free_kept(void)
{
    pthread_mutex_lock(&kept_mu);
    for (int i = 0; i < KEEP_SLOTS; i++) {
        free(kept[i]);
        kept[i] = NULL;
    }
    pthread_mutex_unlock(&kept_mu);
}

void *sq_malloc(size_t n)
{
    if (refuse())
        return NULL;
    void *p = take_kept(n);
    return p ? p : advise_huge(malloc(n), n);
}

void *sq_calloc(size_t n, size_t size)
{
    if (refuse())
        return NULL;
    if (size && n <= SIZE_MAX / size) {
        void *p = take_kept(n * size);
        if (p)
            return memset(p, 0, n * size);
    }
    void *p = calloc(n, size);
    return size && n <= SIZE_MAX / size ? advise_huge(p, n * size) : p;
}

void *sq_realloc(void *p, size_t n)
{
    return refuse() ? NULL : advise_huge(realloc(p, n), n);
}

/* Mappings are whole pages; an empty block still maps one. */
static size_t map_len(size_t n)
{
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    if (n == 0)
        n = 1;
    return n > SIZE_MAX - pg ? SIZE_MAX - pg + 1 : (n + pg - 1) / pg * pg;
}

/* Advice over the whole mapping: advice over part of it would split it into
 * several areas, and mremap moves only one. */
static void *advise_map(void *p, size_t n)
{
#ifdef MADV_HUGEPAGE
    if (p && n >= HUGE_MIN)
        madvise(p, map_len(n), MADV_HUGEPAGE);
#endif
    return p;
}

void *sq_map(size_t n)
{
    if (refuse())
        return NULL;
    void *p = mmap(NULL, map_len(n), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : advise_map(p, n);
}

void *sq_map_resize(void *p, size_t old, size_t n)
{
    if (refuse())
        return NULL;
    void *q = mremap(p, map_len(old), map_len(n), MREMAP_MAYMOVE);
    return q == MAP_FAILED ? NULL : advise_map(q, n);
}

void sq_unmap(void *p, size_t n)
{
    if (p)
        munmap(p, map_len(n));
}

char *sq_strdup(const char *s)
{
    return refuse() ? NULL : strdup(s);
}

char *sq_strndup(const char *s, size_t n)
{
    return refuse() ? NULL : strndup(s, n);
}

/* The memory a single command may ask for: half of what this process may
 * use, unless set otherwise. What it may use is the smallest of the
 * machine's memory, its cgroup's limit (cgroup v2 memory.max, or v1
 * memory.limit_in_bytes, along the path from its own cgroup up to the
 * root) and its address-space limit (RLIMIT_AS, ulimit -v): in a 500 MB
 * container a request is refused rather than left to the OOM killer. A
 * setting of the process, like the thread count. */
static size_t mem_limit;

/* A limit read from a cgroup file: a number of bytes, or none ("max", a
 * huge v1 value, a missing file). */
static unsigned long long cgroup_value(const char *dir, const char *file)
{
    char path[4096], buf[64];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    FILE *f = fopen(path, "re");
    if (!f)
        return ULLONG_MAX;
    unsigned long long v = ULLONG_MAX;
    if (fgets(buf, sizeof buf, f)) {
        char *end;
        errno = 0;
        unsigned long long x = strtoull(buf, &end, 10);
        if (end != buf && !errno && (*end == '\n' || *end == '\0') && x > 0
            && x < ((unsigned long long)1 << 60))
            v = x;
    }
    fclose(f);
    return v;
}

/* The smallest limit on the cgroup path `rel` ("/a/b") under mount point
 * `root`, in `file`, checking every folder from the cgroup up. */
static unsigned long long cgroup_path_limit(const char *root, const char *rel, const char *file)
{
    char dir[4096];
    unsigned long long best = ULLONG_MAX;
    snprintf(dir, sizeof dir, "%s%s", root, rel);
    size_t rootlen = strlen(root);
    for (;;) {
        unsigned long long v = cgroup_value(dir, file);
        if (v < best)
            best = v;
        char *slash = strrchr(dir, '/');
        if (!slash || (size_t)(slash - dir) < rootlen)
            break;
        *slash = '\0';
    }
    return best;
}

unsigned long long sq_cgroup_memory_limit(const char *proc_cgroup, const char *fs_root)
{
    FILE *f = fopen(proc_cgroup, "re");
    if (!f)
        return ULLONG_MAX;
    char line[4096], root[4096];
    unsigned long long best = ULLONG_MAX;
    while (fgets(line, sizeof line, f)) {
        /* "0::/path" (v2) or "4:memory:/path" (v1; maybe "4:cpu,memory:") */
        line[strcspn(line, "\n")] = '\0';
        char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2 || c2[1] != '/')
            continue;
        *c1 = *c2 = '\0';
        const char *ctl = c1 + 1, *rel = c2 + 1;
        unsigned long long v = ULLONG_MAX;
        if (!strcmp(line, "0") && !*ctl) {
            snprintf(root, sizeof root, "%s", fs_root);
            v = cgroup_path_limit(root, !strcmp(rel, "/") ? "" : rel, "memory.max");
            /* inside a cgroup namespace the mount is the process's own */
            unsigned long long top = cgroup_value(root, "memory.max");
            if (top < v)
                v = top;
        } else {
            int memory = 0;
            for (char *save = NULL, *t = strtok_r((char *)ctl, ",", &save); t;
                 t = strtok_r(NULL, ",", &save))
                memory |= !strcmp(t, "memory");
            if (!memory)
                continue;
            snprintf(root, sizeof root, "%s/memory", fs_root);
            v = cgroup_path_limit(root, !strcmp(rel, "/") ? "" : rel, "memory.limit_in_bytes");
            unsigned long long top = cgroup_value(root, "memory.limit_in_bytes");
            if (top < v)
                v = top;
        }
        if (v < best)
            best = v;
    }
    fclose(f);
    return best;
}

size_t sq_default_memory_limit(unsigned long long phys, unsigned long long cgroup,
                               unsigned long long rlimit_as)
{
    unsigned long long m = phys;
    if (cgroup < m)
        m = cgroup;
    if (rlimit_as < m)
        m = rlimit_as;
    if (m == ULLONG_MAX)
        m = (unsigned long long)16 << 30;
    if (m / 2 > SIZE_MAX)
        return SIZE_MAX;
    return (size_t)(m / 2) > ((size_t)1 << 20) ? (size_t)(m / 2) : (size_t)1 << 20;
}

size_t sq_get_memory_limit(void)
{
    if (!mem_limit) {
        long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
        unsigned long long phys = pages > 0 && size > 0
            ? (unsigned long long)pages * (unsigned long long)size : ULLONG_MAX;
        struct rlimit rl;
        unsigned long long as = ULLONG_MAX;
        if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
            as = (unsigned long long)rl.rlim_cur;
        mem_limit = sq_default_memory_limit(
            phys, sq_cgroup_memory_limit("/proc/self/cgroup", "/sys/fs/cgroup"), as);
    }
    return mem_limit;
}

void sq_set_memory_limit(size_t bytes)
{
    mem_limit = bytes;
    sq_free_kept();
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
