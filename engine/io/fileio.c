/* fileio.c - whole files: a careful whole-file reader (sizes checked,
 * devices and folders refused, pipes bounded) and the atomic writer every
 * save uses (a temporary file in the same folder, renamed into place). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#include "io/bytes.h"
#include "io/fileio.h"

/* ---- whole files ---------------------------------------------------------- */

/* A pipe (a FIFO, `<(zcat ...)`) has no size to check: it is read up to
 * this many bytes. */
#define READ_PIPE_MAX ((size_t)4 << 30)

int sq_read_whole_file(const char *path, unsigned char **buf, size_t *len,
                       sq_error *err)
{
    FILE *f = NULL;
    unsigned char *b = NULL;
    size_t n = 0, cap = 0, max = SIZE_MAX;
    struct stat st;
    int fd, flags;

    /* O_NONBLOCK so that opening a FIFO without a writer does not wait;
     * devices (/dev/zero, a terminal) and sockets are refused before any
     * read, since they may never end. */
    fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return sq_fail(err, "cannot open '%s': %s", path, strerror(errno));
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return sq_fail(err, "cannot read '%s': %s", path, strerror(e));
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return sq_fail(err, "cannot read '%s': %s", path, strerror(EISDIR));
    }
    if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode)) {
        close(fd);
        return sq_fail(err, "cannot read '%s': not a regular file (%s)", path,
                       S_ISCHR(st.st_mode) ? "a character device"
                       : S_ISBLK(st.st_mode) ? "a block device"
                       : S_ISSOCK(st.st_mode) ? "a socket" : "a special file");
    }
    if (S_ISFIFO(st.st_mode))
        max = READ_PIPE_MAX;
    if ((flags = fcntl(fd, F_GETFL)) == -1 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) == -1
        || !(f = fdopen(fd, "rb"))) {
        int e = errno;
        close(fd);
        return sq_fail(err, "cannot read '%s': %s", path, strerror(e));
    }
    /* Size the buffer from fstat when we can; + 1 so that the first read
     * already sees the end of the file. */
    cap = 65536;
    if (S_ISREG(st.st_mode) && st.st_size > 0 && (uintmax_t)st.st_size < SIZE_MAX)
        cap = (size_t)st.st_size + 1;
    b = sq_malloc(cap);
    if (!b) {
        sq_fail(err, "out of memory reading '%s'", path);
        goto fail;
    }
    for (;;) {
        size_t want = cap - n, got = fread(b + n, 1, want, f);
        n += got;
        if (got < want) {
            if (ferror(f)) {
                sq_fail(err, "cannot read '%s': %s", path, strerror(errno));
                goto fail;
            }
            break;
        }
        size_t ncap;
        if (n >= max) {
            sq_fail(err, "cannot read '%s': a pipe giving more than %zu MiB is not read to "
                    "its end; save the data to a file first", path, max >> 20);
            goto fail;
        }
        if (!mul_size(cap, 2, &ncap)) {
            sq_fail(err, "cannot read '%s': file is too large", path);
            goto fail;
        }
        if (ncap > max + 1)
            ncap = max + 1;
        unsigned char *nb = sq_realloc(b, ncap);
        if (!nb) {
            sq_fail(err, "out of memory reading '%s'", path);
            goto fail;
        }
        b = nb;
        cap = ncap;
    }
    if (fclose(f) != 0) {
        f = NULL;
        sq_fail(err, "cannot read '%s': %s", path, strerror(errno));
        goto fail;
    }
    *buf = b;
    *len = n;
    return 0;

fail:
    if (f)
        fclose(f);
    free(b);
    return -1;
}

int sq_write_file_atomic(const char *path, const void *buf, size_t len,
                         sq_error *err)
{
    static unsigned serial;
    char *tmp = NULL;
    int fd = -1, saved;
    size_t cap = strlen(path) + 48;
    struct stat st;

    tmp = sq_malloc(cap);
    if (!tmp)
        return sq_fail(err, "out of memory writing '%s'", path);
    /* Our own unique name rather than mkstemp so that the new file gets the
     * usual 0666 & ~umask permissions. */
    for (int attempt = 0; attempt < 100; attempt++) {
        snprintf(tmp, cap, "%s.tmp%ld.%u", path, (long)getpid(), serial++);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0 || errno != EEXIST)
            break;
    }
    if (fd < 0) {
        sq_fail(err, "cannot write '%s': %s", path, strerror(errno));
        free(tmp);
        return -1;
    }
    /* Replacing a file keeps its permissions, as numpy.save's open does. */
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
        (void)fchmod(fd, st.st_mode & 07777);

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
    if (rename(tmp, path) != 0)
        goto fail;
    free(tmp);
    return 0;

fail:
    saved = errno;
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    free(tmp);
    return sq_fail(err, "cannot write '%s': %s", path, strerror(saved));
}

