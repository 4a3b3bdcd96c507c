/* fileio.c - whole files: a careful whole-file reader (sizes checked
 * against the memory limit, devices and folders refused, pipes waited for
 * and bounded, interruptible) and the atomic writer every save uses.
 *
 * The writer writes only regular files (or new paths): a device, a FIFO, a
 * socket or a folder as the target is an error and nothing is replaced. A
 * symbolic link is written through: its final target is replaced, by a
 * temporary file in the target's folder renamed onto it, so the link stays
 * a link. The temporary files are named .NAME.seqsh-tmp-HOST-PID-N, so
 * that the next save to NAME recognises those a killed seqsh left (same
 * host, a process that no longer exists, a regular file we own) and
 * removes them before writing. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#include "dist/dist.h"
#include "io/bytes.h"
#include "io/fileio.h"

/* A pipe (a FIFO, `<(zcat ...)`) has no size to check: it is read up to
 * this many bytes. */
#define READ_PIPE_MAX ((size_t)4 << 30)
/* Bytes read or checksummed between two polls of the interrupt flag. */
#define CHUNK ((size_t)16 << 20)
#define TMP_TAG ".seqsh-tmp-"
#define TMP_BASE_MAX 180      /* bytes of NAME kept in a temporary's name */
#define LINKS_MAX 40          /* symbolic links followed, as Linux does */

static const char *kind_of(mode_t m)
{
    return S_ISCHR(m) ? "a character device" : S_ISBLK(m) ? "a block device"
         : S_ISFIFO(m) ? "a FIFO" : S_ISSOCK(m) ? "a socket" : "a special file";
}

/* ---- reading ------------------------------------------------------------- */

int sq_wait_readable(int fd, const char *path, sq_error *err)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    for (;;) {
        if (sq_poll(err) < 0)
            return -1;
        /* POLLIN or POLLHUP (the writer came and went): a read says which */
        int k = poll(&p, 1, 100);
        if (k > 0)
            return 0;
        if (k < 0 && errno != EINTR)
            return sq_fail(err, "cannot read '%s': %s", path, strerror(errno));
    }
}

int sq_crc32_polled(const unsigned char *p, size_t n, uint32_t *crc, sq_error *err)
{
    uLong c = crc32(0L, Z_NULL, 0);
    while (n > 0) {
        if (sq_poll(err) < 0)
            return -1;
        size_t k = n > CHUNK ? CHUNK : n;
        c = crc32(c, p, (uInt)k);
        p += k;
        n -= k;
    }
    *crc = (uint32_t)c;
    return 0;
}

int sq_read_whole_file(const char *path, unsigned char **buf, size_t *len,
                       sq_error *err)
{
    unsigned char *b = NULL;
    size_t n = 0, cap = 0, max = SIZE_MAX;
    struct stat st;
    int fd, flags;
    char what[64 + PATH_MAX];

    /* O_NONBLOCK so that opening a FIFO without a writer does not wait
     * where no interrupt can reach; devices (/dev/zero, a terminal) and
     * sockets are refused before any read, since they may never end. */
    fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return sq_fail(err, "cannot open '%s': %s", path, strerror(errno));
    if (fstat(fd, &st) != 0) {
        sq_fail(err, "cannot read '%s': %s", path, strerror(errno));
        goto fail;
    }
    if (S_ISDIR(st.st_mode)) {
        sq_fail(err, "cannot read '%s': %s", path, strerror(EISDIR));
        goto fail;
    }
    if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode)) {
        sq_fail(err, "cannot read '%s': not a regular file (%s)", path, kind_of(st.st_mode));
        goto fail;
    }
    snprintf(what, sizeof what, "reading '%.*s'", PATH_MAX, path);
    if (S_ISFIFO(st.st_mode)) {
        /* a FIFO with no writer yet is waited for, as sh does */
        max = READ_PIPE_MAX;
        if (sq_wait_readable(fd, path, err) < 0)
            goto fail;
    }
    if ((flags = fcntl(fd, F_GETFL)) == -1 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) == -1) {
        sq_fail(err, "cannot read '%s': %s", path, strerror(errno));
        goto fail;
    }
    /* Size the buffer from fstat when we can; + 1 so that the reads
     * already see the end of the file. */
    cap = 65536;
    if (S_ISREG(st.st_mode) && st.st_size > 0) {
        if (sq_check_memory((double)st.st_size, what, err) < 0)
            goto fail;
        if ((uintmax_t)st.st_size < SIZE_MAX)
            cap = (size_t)st.st_size + 1;
    }
    b = sq_malloc(cap);
    if (!b) {
        sq_fail(err, "out of memory reading '%s'", path);
        goto fail;
    }
    for (;;) {
        if (sq_poll(err) < 0)
            goto fail;
        if (n == cap) {
            size_t ncap;
            if (n >= max) {
                sq_fail(err, "cannot read '%s': a pipe giving more than %zu MiB is not read "
                        "to its end; save the data to a file first", path, max >> 20);
                goto fail;
            }
            if (!mul_size(cap, 2, &ncap)) {
                sq_fail(err, "cannot read '%s': file is too large", path);
                goto fail;
            }
            if (ncap > max + 1)
                ncap = max + 1;
            if (sq_check_memory((double)ncap, what, err) < 0)
                goto fail;
            unsigned char *nb = sq_realloc(b, ncap);
            if (!nb) {
                sq_fail(err, "out of memory reading '%s'", path);
                goto fail;
            }
            b = nb;
            cap = ncap;
        }
        size_t want = cap - n > CHUNK ? CHUNK : cap - n;
        ssize_t got = read(fd, b + n, want);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            sq_fail(err, "cannot read '%s': %s", path, strerror(errno));
            goto fail;
        }
        if (got == 0)
            break;
        n += (size_t)got;
    }
    if (close(fd) != 0) {
        fd = -1;
        sq_fail(err, "cannot read '%s': %s", path, strerror(errno));
        goto fail;
    }
    *buf = b;
    *len = n;
    return 0;

fail:
    if (fd >= 0)
        close(fd);
    free(b);
    return -1;
}

/* ---- writing --------------------------------------------------------------- */

/* The file a write to path lands on: path with every symbolic link on it
 * followed (a link's relative target is relative to the link's folder).
 * malloc'd; NULL with err filled. */
static char *final_target(const char *path, sq_error *err)
{
    char *cur = sq_strdup(path);
    if (!cur) {
        sq_fail(err, "out of memory writing '%s'", path);
        return NULL;
    }
    for (int hops = 0;; hops++) {
        struct stat st;
        if (lstat(cur, &st) != 0 || !S_ISLNK(st.st_mode))
            return cur;   /* a file, a new path, or an error open will report */
        if (hops == LINKS_MAX) {
            sq_fail(err, "cannot write '%s': %s", path, strerror(ELOOP));
            break;
        }
        char link[PATH_MAX];
        ssize_t k = readlink(cur, link, sizeof link - 1);
        if (k < 0) {
            sq_fail(err, "cannot write '%s': %s", path, strerror(errno));
            break;
        }
        link[k] = '\0';
        const char *slash = strrchr(cur, '/');
        size_t keep = link[0] == '/' || !slash ? 0 : (size_t)(slash - cur) + 1;
        char *next = sq_malloc(keep + (size_t)k + 1);
        if (!next) {
            sq_fail(err, "out of memory writing '%s'", path);
            break;
        }
        memcpy(next, cur, keep);
        memcpy(next + keep, link, (size_t)k + 1);
        free(cur);
        cur = next;
    }
    free(cur);
    return NULL;
}

/* This machine's name as it goes into temporary files: letters, digits,
 * '-' and '_' only. */
static void host_tag(char *buf, size_t n)
{
    char h[256];
    if (gethostname(h, sizeof h) != 0)
        snprintf(h, sizeof h, "localhost");
    h[sizeof h - 1] = '\0';
    size_t k = 0;
    for (const char *p = h; *p && k + 1 < n && k < 64; p++) {
        char c = *p;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                 || c == '-' || c == '_';
        buf[k++] = ok ? c : '_';
    }
    buf[k] = '\0';
}

/* Whether the rest of a temporary's name, "HOST-PID-N", names one that a
 * seqsh on this host left behind: its process is gone. */
static int stale_tag(const char *rest, const char *host)
{
    const char *last = strrchr(rest, '-');
    if (!last || last == rest || !last[1] || strspn(last + 1, "0123456789") != strlen(last + 1))
        return 0;
    const char *p = last - 1;
    while (p > rest && *p != '-')
        p--;
    if (*p != '-' || p + 1 == last || strspn(p + 1, "0123456789") != (size_t)(last - p - 1))
        return 0;
    if ((size_t)(p - rest) != strlen(host) || strncmp(rest, host, (size_t)(p - rest)))
        return 0;
    char *end;
    errno = 0;
    long pid = strtol(p + 1, &end, 10);
    if (errno || pid <= 0 || pid == (long)getpid() || (pid_t)pid != pid)
        return 0;
    return kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

/* Removes the temporary files an interrupted save to dir/base left (a
 * seqsh killed with -9 mid-write): only regular files we own, named as
 * ours, from a process of this host that no longer exists. */
static void remove_stale(const char *dir, const char *prefix, const char *host)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    size_t plen = strlen(prefix);
    struct dirent *e;
    while ((e = readdir(d))) {
        struct stat st;
        if (strncmp(e->d_name, prefix, plen) || !stale_tag(e->d_name + plen, host))
            continue;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0
            && S_ISREG(st.st_mode) && st.st_uid == geteuid())
            (void)unlinkat(dirfd(d), e->d_name, 0);
    }
    closedir(d);
}

int sq_write_file_atomic(const char *path, const void *buf, size_t len,
                         sq_error *err)
{
    char *target = NULL, *tmp = NULL, *dir = NULL, host[72], prefix[TMP_BASE_MAX + 32];
    int fd = -1, saved = 0, have_old = 0;
    struct stat st;

    if (!*path)
        return sq_fail(err, "cannot write '': %s", strerror(ENOENT));
    /* under mpirun only the first process writes files: the others have
     * the same bytes */
    if (sq_dist_rank() != 0)
        return 0;
    if (!(target = final_target(path, err)))
        return -1;
    if (stat(target, &st) == 0) {
        if (S_ISDIR(st.st_mode)) {
            sq_fail(err, "cannot write '%s': %s", path, strerror(EISDIR));
            goto out;
        }
        if (!S_ISREG(st.st_mode)) {
            sq_fail(err, "cannot write '%s': not a regular file (%s); seqsh writes only "
                    "regular files and new paths", path, kind_of(st.st_mode));
            goto out;
        }
        if (access(target, W_OK) != 0) {
            sq_fail(err, "cannot write '%s': %s", path, strerror(errno));
            goto out;
        }
        have_old = 1;
    }
    /* the target's folder and name */
    const char *slash = strrchr(target, '/'), *base = slash ? slash + 1 : target;
    if (!*base) {
        sq_fail(err, "cannot write '%s': %s", path, strerror(EISDIR));
        goto out;
    }
    size_t dlen = slash ? (size_t)(slash - target) + 1 : 0;
    dir = sq_malloc(dlen + 2);
    tmp = sq_malloc(dlen + sizeof prefix + sizeof host + 32);
    if (!dir || !tmp) {
        sq_fail(err, "out of memory writing '%s'", path);
        goto out;
    }
    if (dlen)
        memcpy(dir, target, dlen);
    else
        dir[dlen++] = '.';
    dir[dlen] = '\0';
    host_tag(host, sizeof host);
    snprintf(prefix, sizeof prefix, ".%.*s%s", TMP_BASE_MAX, base, TMP_TAG);
    remove_stale(dir, prefix, host);

    /* our own unique name rather than mkstemp, so that a new file gets the
     * usual 0666 & ~umask permissions */
    for (int attempt = 0; attempt < 100; attempt++) {
        snprintf(tmp, dlen + sizeof prefix + sizeof host + 32, "%.*s%s%s-%ld-%d",
                 slash ? (int)(slash - target) + 1 : 0, target, prefix, host, (long)getpid(),
                 attempt);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
        if (fd >= 0 || errno != EEXIST)
            break;
    }
    if (fd < 0) {
        sq_fail(err, "cannot write '%s': %s", path, strerror(errno));
        goto out;
    }
    /* replacing a file keeps its permissions, as numpy.save's open does */
    if (have_old)
        (void)fchmod(fd, st.st_mode & 07777);

    /* A signal does not stop the write: the file is finished and renamed,
     * then the command reports the interrupt. */
    const unsigned char *p = buf;
    size_t left = len;
    while (left > 0) {
        size_t k = left > (1u << 30) ? (1u << 30) : left;
        ssize_t w = write(fd, p, k);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            goto fail;
        }
        p += w;
        left -= (size_t)w;
    }
    if (fsync(fd) != 0 && errno != EINVAL)
        goto fail;
    saved = close(fd);
    fd = -1;
    if (saved != 0)
        goto fail;
    if (rename(tmp, target) != 0)
        goto fail;
    /* the rename itself reaches the disk with the folder */
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    free(tmp);
    free(dir);
    free(target);
    return 0;

fail:
    saved = errno;
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    sq_fail(err, "cannot write '%s': %s", path, strerror(saved));
out:
    free(tmp);
    free(dir);
    free(target);
    return -1;
}
