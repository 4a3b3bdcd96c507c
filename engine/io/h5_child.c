/* h5_child.c - `load FILE.h5` (and `add model FILE.h5`) read the file in a
 * child process. Debian's libhdf5 can loop forever on a corrupt file (a
 * fuzzer found one) and never polls seqsh's interrupt flag, and it may crash
 * on one; in a child neither reaches the session. The child reads the file
 * with sq_h5_read and writes back, over a pipe, its notes and either its
 * error or the model in seqsh's own serialised form (the bytes of a .seqm
 * file, checked by their CRC on arrival). The parent polls the interrupt
 * flag and a time limit scaled by the file size between reads; either
 * kills the child at once. The child dies with the parent (a seqsh killed
 * outright left a child looping for hours) and, as a backstop where that
 * cannot be asked for, at its CPU-time limit. The child's address space is capped at the
 * memory limit above what it inherited, so libhdf5's own allocations keep
 * to it too.
 *
 * Message: u32 status (0 = a model, 1 = an error), u32 length of the notes,
 * u64 length of the body, u64 the child's engine allocations (so that the
 * fault-injection sweep counts them as the parent's), the notes, the body
 * (the model's bytes or the error's text); little-endian. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "io/h5.h"
#include "io/modelfile.h"

#define BASE_SECONDS 20.0      /* the time limit: this, plus ... */
#define SECONDS_PER_MIB 1.0    /* ... this per MiB of the file */

static void put_u(unsigned char *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_u(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static int write_all(int fd, const void *buf, size_t n)
{
    const unsigned char *p = buf;
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Caps the child's address space at what it maps now plus the memory
 * limit (best effort: where /proc is missing nothing is capped). */
static void cap_memory(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long pages = 0;
    if (!f)
        return;
    int ok = fscanf(f, "%lu", &pages) == 1;
    fclose(f);
    long psz = sysconf(_SC_PAGESIZE);
    if (!ok || psz <= 0)
        return;
    rlim_t lim = (rlim_t)pages * (rlim_t)psz + (rlim_t)sq_get_memory_limit();
    struct rlimit rl = { lim, lim };
    setrlimit(RLIMIT_AS, &rl);
}

/* The child ends with the parent that waits for it: killed when the parent
 * dies (Linux), and in any case once it has used a second more CPU time
 * than the parent's time limit, by which time the parent has stopped
 * waiting. */
static void bound_life(pid_t parent, double limit)
{
#ifdef PR_SET_PDEATHSIG
    prctl(PR_SET_PDEATHSIG, SIGKILL);
#endif
    if (getppid() != parent)
        _exit(1);   /* the parent died before we asked */
    rlim_t cpu = (rlim_t)limit + 2;
    struct rlimit rl = { cpu, cpu + 1 };
    setrlimit(RLIMIT_CPU, &rl);
}

/* The child keeps only its pipe and stderr: a script being read shares its
 * file offset with the parent through an inherited descriptor, and any way
 * out that syncs stdio's read buffers (exit() in a library, valgrind's end
 * of the process) would move the parent back in its script. stdin and
 * stdout become /dev/null. */
static void isolate(int keep)
{
    int fds[4096], n = 0;
    DIR *d = opendir("/proc/self/fd");
    if (d) {
        int self = dirfd(d);
        for (struct dirent *e; (e = readdir(d)) && n < 4096;) {
            char *end;
            long v = strtol(e->d_name, &end, 10);
            if (end != e->d_name && !*end && v != self)
                fds[n++] = (int)v;
        }
        closedir(d);
    } else {
        for (int i = 0; i < 1024; i++)
            fds[n++] = i;
    }
    for (int i = 0; i < n; i++)
        if (fds[i] != keep && fds[i] != STDERR_FILENO)
            close(fds[i]);
    int null = open("/dev/null", O_RDWR);
    if (null >= 0) {
        if (null != STDIN_FILENO)
            dup2(null, STDIN_FILENO);
        if (null != STDOUT_FILENO)
            dup2(null, STDOUT_FILENO);
        if (null > STDOUT_FILENO && null != keep)
            close(null);
    }
}

/* The child: reads the file, writes the message, and ends with _exit (a
 * process of its own, never the caller's: no atexit handlers, no stdio
 * buffers of the parent flushed twice). */
static void child(int fd, const char *path, pid_t parent, double limit)
{
    bound_life(parent, limit);
    isolate(fd);
    sbuf notes = { 0 };
    sq_error err = { .msg = "" };
    unsigned char *body = NULL, head[24];
    long calls0 = sq_alloc_calls();
    size_t blen = 0;
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, SIG_DFL);     /* the parent decides; a Ctrl-C may end us */
    /* a crash in libhdf5 ends us by its signal, which the parent reports,
     * and SIGTERM ends us: no handler inherited from the parent (seqsh's
     * own, a sanitizer's, a fuzzer's) runs here */
    static const int fatal[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTERM };
    for (size_t i = 0; i < sizeof fatal / sizeof fatal[0]; i++)
        signal(fatal[i], SIG_DFL);
    cap_memory();
    sq_model *m = sq_h5_read(path, &notes, &err);
    int status = 1;
    if (m && sq_model_bytes(m, &body, &blen, &err) == 0)
        status = 0;
    sq_model_free(m);
    if (status) {
        body = (unsigned char *)err.msg;
        blen = strlen(err.msg);
    }
    size_t nlen = notes.s && !notes.oom ? notes.len : 0;
    put_u(head, (uint64_t)status, 4);
    put_u(head + 4, nlen, 4);
    put_u(head + 8, blen, 8);
    put_u(head + 16, (uint64_t)(sq_alloc_calls() - calls0), 8);
    int rc = write_all(fd, head, sizeof head) == 0 && (!nlen || write_all(fd, notes.s, nlen) == 0)
             && write_all(fd, body, blen) == 0 ? 0 : 1;
    _exit(rc);
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec / 1e9;
}

/* The time limit for a file of `bytes`: SEQSH_H5_TIME_LIMIT seconds when
 * set (tests), otherwise BASE_SECONDS + SECONDS_PER_MIB per MiB. */
static double time_limit(double bytes)
{
    const char *e = getenv("SEQSH_H5_TIME_LIMIT");
    char *end;
    double t = e ? strtod(e, &end) : 0;
    if (e && end != e && !*end && t > 0)
        return t;
    return BASE_SECONDS + SECONDS_PER_MIB * bytes / (1 << 20);
}

typedef struct {
    int fd;
    pid_t pid;
    double deadline, limit;
    volatile int *intr;
    const char *path;
} waiter;

static int too_long(const waiter *w, sq_error *err)
{
    return sq_fail(err, "reading '%s' took longer than %.0f seconds (libhdf5 may be looping on a "
                   "corrupt file): stopped", w->path, w->limit);
}

/* Reads n bytes from the child, polling the interrupt flag and the clock;
 * 1 at a clean end of file before any byte (the child died), -1 with err. */
static int read_child(waiter *w, unsigned char *buf, size_t n, sq_error *err)
{
    size_t got = 0;
    while (got < n) {
        if (w->intr && *w->intr)
            return sq_fail(err, "Interrupted");
        double left = w->deadline - now();
        if (left <= 0)
            return too_long(w, err);
        struct pollfd p = { .fd = w->fd, .events = POLLIN };
        int ms = left < 0.05 ? (int)(left * 1000) + 1 : 50;
        int r = poll(&p, 1, ms);
        if (r < 0 && errno != EINTR)
            return sq_fail(err, "reading '%s': %s", w->path, strerror(errno));
        if (r <= 0)
            continue;
        ssize_t k = read(w->fd, buf + got, n - got > (1u << 30) ? (1u << 30) : n - got);
        if (k < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (k < 0)
            return sq_fail(err, "reading '%s': %s", w->path, strerror(errno));
        if (k == 0)
            return 1;
        got += (size_t)k;
    }
    return 0;
}

/* Why the child ended without a whole message. */
static void child_died(waiter *w, sq_error *err)
{
    int st = 0;
    pid_t r;
    while ((r = waitpid(w->pid, &st, 0)) < 0 && errno == EINTR)
        ;
    w->pid = -1;
    if (w->intr && *w->intr)
        sq_fail(err, "Interrupted");   /* a Ctrl-C reaches the child too */
    else if (now() >= w->deadline)
        too_long(w, err);   /* its CPU-time limit ended it (this process was stopped) */
    else if (r > 0 && WIFSIGNALED(st))
        sq_fail(err, "'%s' is a corrupt HDF5 file (reading it crashed libhdf5: signal %d)",
                w->path, WTERMSIG(st));
    else
        sq_fail(err, "'%s' could not be read (the reading process ended early%s)", w->path,
                r > 0 && WIFEXITED(st) && WEXITSTATUS(st) ? ", out of memory?" : "");
}

sq_model *sq_h5_read_isolated(const char *path, sbuf *notes, volatile int *intr, sq_error *err)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        sq_fail(err, "cannot open '%s': %s", path, strerror(errno));
        return NULL;
    }
    int fds[2];
    if (pipe(fds) != 0) {
        sq_fail(err, "cannot read '%s': %s", path, strerror(errno));
        return NULL;
    }
    double limit = time_limit((double)st.st_size);
    pid_t parent = getpid();
    fflush(NULL);   /* nothing buffered is written twice */
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        sq_fail(err, "cannot read '%s': %s", path, strerror(errno));
        return NULL;
    }
    if (pid == 0) {
        close(fds[0]);
        child(fds[1], path, parent, limit);
    }
    close(fds[1]);
    waiter w = { .fd = fds[0], .pid = pid, .intr = intr, .path = path, .limit = limit };
    w.deadline = now() + w.limit;
    sq_model *m = NULL;
    unsigned char head[24], *text = NULL, *body = NULL;
    int r = read_child(&w, head, sizeof head, err);
    if (r != 0) {
        if (r > 0)
            child_died(&w, err);
        goto done;
    }
    uint32_t status = (uint32_t)get_u(head, 4), nlen = (uint32_t)get_u(head + 4, 4);
    uint64_t blen = get_u(head + 8, 8);
    sq_alloc_count_elsewhere((long)(get_u(head + 16, 8) & 0x3fffffffffffffffu));
    if (status > 1 || (status == 1 && blen >= sizeof err->msg) || nlen > (64u << 20)) {
        sq_fail(err, "reading '%s': a garbled answer from the reading process", path);
        goto done;
    }
    if (sq_check_memory((double)blen + nlen, "the model read from the file", err) < 0)
        goto done;
    text = sq_malloc((size_t)nlen + 1);
    body = sq_malloc((size_t)blen + 1);
    if (!text || !body) {
        sq_fail(err, "out of memory reading '%s'", path);
        goto done;
    }
    if ((r = read_child(&w, text, nlen, err)) != 0 || (r = read_child(&w, body, (size_t)blen, err)) != 0) {
        if (r > 0)
            child_died(&w, err);
        goto done;
    }
    if (status == 1) {
        sq_fail(err, "%.*s", (int)blen, (const char *)body);
        goto done;
    }
    m = sq_model_from_bytes(body, (size_t)blen, path, err);
    if (m && nlen)
        sb_printf(notes, "%.*s", (int)nlen, (const char *)text);
done:
    close(fds[0]);
    if (w.pid > 0) {
        if (!m)
            kill(w.pid, SIGKILL);   /* stopped, or no longer needed */
        while (waitpid(w.pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    free(text);
    free(body);
    return m;
}
