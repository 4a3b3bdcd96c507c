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

/* s's summary and weights text (*sum, *w) as a Keras format (.json, .h5)
 * keeps the model: one built by a call becomes one with an explicit input
 * (weight names without the model's prefix) and a batch size the call
 * fixed is written as None. Taken from a copy made so. */
static void as_keras_keeps(sq_session *s, char **sum, char **w, sq_error *e)
{
    sq_model *m = s->model, *c = NULL;
    if (m->built && (m->deferred_built || m->input_shape.d[0] > 0)) {
        sq_shape in = m->input_shape;
        in.d[0] = -1;
        sq_rng rng = s->rng;
        c = sq_model_clone(m);
        if (c && sq_model_rebuild(c, &in, &rng, e) == 0) {
            c->deferred_built = 0;
            c->explicit_input = 1;
            s->model = c;
        }
    }
    *sum = sq_summary(s, e);
    *w = sq_weights_text(s, NULL, e);
    s->model = m;
    if (c)
        sq_model_free(c);
}

/* Saves s's model as path (in the scratch folder); when that succeeds,
 * loading it into a new session must work and give the same summary and
 * weights text (as a Keras format keeps it, for .json and .h5), else the
 * harness aborts saying what differs. */
void fuzz_round_trip(sq_session *s, const char *path)
{
    sq_error e;
    e.msg[0] = '\0';
    const char *dot = strrchr(path, '.');
    char *sum1, *w1;
    if (dot && (!strcmp(dot, ".json") || !strcmp(dot, ".h5"))) {
        as_keras_keeps(s, &sum1, &w1, &e);
    } else {
        sum1 = sq_summary(s, &e);
        w1 = sq_weights_text(s, NULL, &e);
    }
    if (sq_save(s, path, &e) == 0) {
        sq_session *r = sq_session_new();
        if (sq_load(r, path, &e) != 0) {
            fprintf(stderr, "reloading the saved %s failed: %s\n", path, e.msg);
            abort();
        }
        char *sum2 = sq_summary(r, &e), *w2 = sq_weights_text(r, NULL, &e);
        if ((sum1 == NULL) != (sum2 == NULL) || (sum1 && strcmp(sum1, sum2))) {
            fprintf(stderr, "saving as %s and loading changed the summary:\n%s\n---\n%s\n", path,
                    sum1 ? sum1 : "(none)", sum2 ? sum2 : "(none)");
            abort();
        }
        if ((w1 == NULL) != (w2 == NULL) || (w1 && strcmp(w1, w2))) {
            fprintf(stderr, "saving as %s and loading changed the weights:\n%s\n---\n%s\n", path,
                    w1 ? w1 : "(none)", w2 ? w2 : "(none)");
            abort();
        }
        free(sum2);
        free(w2);
        sq_session_free(r);
    }
    free(sum1);
    free(w1);
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
