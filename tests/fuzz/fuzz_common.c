/* fuzz_common.c - the scratch folder and the safety wrappers every seqsh
 * fuzz harness links with.
 *
 * Linked with -Wl,--wrap=sq_write_file_atomic,--wrap=sq_malloc,
 * --wrap=sq_calloc,--wrap=sq_realloc (tests/fuzz/build.sh and the
 * fuzz_replay check program do this):
 *  - writes: only a plain file name (no '/', not starting with '.') in the
 *    current folder, which the script harness makes the scratch folder, and
 *    at most 1 MiB; anything else fails cleanly with an error, so a fuzzed
 *    `save /etc/passwd` cannot touch the machine;
 *  - memory: the engine's memory limit starts at FUZZ_MEMORY_LIMIT_MB
 *    (default 16), so big requests are refused up front as on a small
 *    machine; and, should a script raise the limit, one engine allocation
 *    larger than FUZZ_ALLOC_CAP_MB (default 64) fails as if the machine
 *    were out of memory, so the engine's out-of-memory paths run instead of
 *    the harness eating gigabytes;
 *  - threads: sq_set_threads always sets one. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "model.h"
#include "fuzz.h"

#ifndef FUZZ_DEFAULT_SRCDIR
#define FUZZ_DEFAULT_SRCDIR "."
#endif

static char scratch[PATH_MAX];

static void remove_scratch(void)
{
    if (!scratch[0])
        return;
    DIR *d = opendir(scratch);
    if (d) {
        struct dirent *e;
        char p[PATH_MAX + 256];
        while ((e = readdir(d)))
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
                snprintf(p, sizeof p, "%s/%s", scratch, e->d_name);
                unlink(p);
            }
        closedir(d);
    }
    rmdir(scratch);
    scratch[0] = '\0';
}

const char *fuzz_scratch_dir(void)
{
    if (scratch[0])
        return scratch;
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp)
        tmp = "/tmp";
    snprintf(scratch, sizeof scratch, "%s/seqsh-fuzz.XXXXXX", tmp);
    if (!mkdtemp(scratch)) {
        perror("fuzz: mkdtemp");
        abort();
    }
    atexit(remove_scratch);
    return scratch;
}

const char *fuzz_write_scratch(const char *name, const uint8_t *data, size_t size)
{
    static char path[PATH_MAX + 256];
    snprintf(path, sizeof path, "%s/%s", fuzz_scratch_dir(), name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return NULL;
    size_t off = 0;
    while (off < size) {
        ssize_t w = write(fd, data + off, size - off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            close(fd);
            return NULL;
        }
        off += (size_t)w;
    }
    close(fd);
    return path;
}

void fuzz_clean_scratch(void)
{
    DIR *d = opendir(fuzz_scratch_dir());
    if (!d)
        return;
    struct dirent *e;
    char p[PATH_MAX + 256];
    struct stat st;
    while ((e = readdir(d))) {
        snprintf(p, sizeof p, "%s/%s", scratch, e->d_name);
        if (lstat(p, &st) == 0 && S_ISREG(st.st_mode))
            unlink(p);
    }
    closedir(d);
}

const char *fuzz_srcdir(void)
{
    const char *s = getenv("SEQSH_SRCDIR");
    if (!s || !*s)
        s = getenv("srcdir");
    if (!s || !*s)
        s = FUZZ_DEFAULT_SRCDIR;
    return s;
}

/* ---- the wrappers ----------------------------------------------------------- */

int __wrap_sq_write_file_atomic(const char *path, const void *buf, size_t len,
                                sq_error *err);

int __wrap_sq_write_file_atomic(const char *path, const void *buf, size_t len,
                                sq_error *err)
{
    char cwd[PATH_MAX];
    if (!path || !*path || strchr(path, '/') || path[0] == '.' || len > (1u << 20)
        || !scratch[0] || !getcwd(cwd, sizeof cwd) || strcmp(cwd, scratch))
        return sq_fail(err, "cannot write '%s': writing is disabled in the fuzz harness",
                       path ? path : "(null)");
    if (!fuzz_write_scratch(path, buf, len))
        return sq_fail(err, "cannot write '%s': %s", path, strerror(errno));
    return 0;
}

void *__real_sq_malloc(size_t n);
void *__real_sq_calloc(size_t n, size_t size);
void *__real_sq_realloc(void *p, size_t n);
void *__wrap_sq_malloc(size_t n);
void *__wrap_sq_calloc(size_t n, size_t size);
void *__wrap_sq_realloc(void *p, size_t n);

static size_t alloc_cap(void)
{
    static size_t cap;
    if (!cap) {
        const char *e = getenv("FUZZ_ALLOC_CAP_MB");
        long mb = e ? atol(e) : 0;
        cap = (size_t)(mb > 0 ? mb : 64) << 20;
    }
    return cap;
}

__attribute__((constructor)) static void fuzz_memory_limit(void)
{
    const char *e = getenv("FUZZ_MEMORY_LIMIT_MB");
    long mb = e ? atol(e) : 0;
    sq_set_memory_limit((size_t)(mb > 0 ? mb : 16) << 20);
}

void *__wrap_sq_malloc(size_t n)
{
    return n > alloc_cap() ? NULL : __real_sq_malloc(n);
}

void *__wrap_sq_calloc(size_t n, size_t size)
{
    if (size && n > alloc_cap() / size)
        return NULL;
    return __real_sq_calloc(n, size);
}

void *__wrap_sq_realloc(void *p, size_t n)
{
    return n > alloc_cap() ? NULL : __real_sq_realloc(p, n);
}

/* `threads N` stays at one thread: the fuzzers share the machine. */
void __real_sq_set_threads(int n);
void __wrap_sq_set_threads(int n);

void __wrap_sq_set_threads(int n)
{
    (void)n;
    __real_sq_set_threads(1);
}
