/* input.c - the one input path, as SQLite's shell has one_input_line()
 * feeding process_input(): every source of commands (a -c string, a
 * script, standard input, the terminal) hands over physical lines, and
 * sh_process_input joins backslash continuations, refuses what is not
 * text, runs each logical line, and applies the same rules for errors,
 * interrupts and history to all of them. Script files are opened here
 * too (a script on the command line, `source`). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "shell.h"

/* Length of the valid UTF-8 prefix of s[0..n). */
static size_t utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t k;
        unsigned min;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            k = 1, min = 0x80, c &= 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            k = 2, min = 0x800, c &= 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            k = 3, min = 0x10000, c &= 0x07;
        } else {
            return i;
        }
        for (size_t j = 1; j <= k; j++) {
            if (i + j >= n || (s[i + j] & 0xc0) != 0x80)
                return i;
            c = c << 6 | (s[i + j] & 0x3f);
        }
        if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
            return i;
        i += k + 1;
    }
    return n;
}

/* Why a physical line is not a line of text, or NULL. */
static const char *not_text(const char *line, size_t len)
{
    if (memchr(line, '\0', len))
        return "the line holds a NUL byte (is this a binary file?)";
    size_t ok = utf8_valid((const unsigned char *)line, len);
    if (ok < len)
        return "the line is not valid UTF-8 text";
    return NULL;
}

static void report_at(shell *sh, const sh_input *in, int lineno, const char *msg)
{
    if (in->name) {
        sh_fputs(in->name, stderr);
        fprintf(stderr, ":%d: ", lineno);
    }
    fprintf(stderr, "error: %s\n", msg);
    sh->reported = 1;
}

int sh_process_input(shell *sh, sh_input *in)
{
    int failed = 0, first = 0, terminal = in->name == NULL;
    char *logical = NULL;
    size_t llen = 0;
    for (;;) {
        if (sh->want_exit)
            break;
        if (sh_interrupted) {
            /* at a terminal Ctrl-C gives the prompt back; anything else ends */
            if (!terminal || sh_signal() != SIGINT)
                break;
            sh_signal_clear_int();
        }
        size_t len;
        char *line = in->next(in, logical != NULL, &len);
        if (!line)
            break;
        if (!logical)
            first = in->lineno;
        const char *bad = not_text(line, len);
        if (bad) {
            free(line);
            free(logical);
            logical = NULL;
            llen = 0;
            report_at(sh, in, in->lineno, bad);
            failed = 1;
            if (!terminal && !sh->keep_going)
                break;
            continue;
        }
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        int cont = len > 0 && line[len - 1] == '\\';
        if (cont)
            line[--len] = '\0';
        char *j = realloc(logical, llen + len + 2);
        if (!j) {
            free(line);
            break;
        }
        logical = j;
        memcpy(logical + llen, line, len);
        llen += len;
        logical[llen] = '\0';
        free(line);
        if (cont) {
            logical[llen++] = ' ';
            logical[llen] = '\0';
            continue;
        }
        if (in->line_done)
            in->line_done(in, logical);
        int rc = sh_run_line(sh, logical, in->name, first);
        /* `history` lists what worked, so it replays as a script */
        if (rc == 0 && sh->in_source == 0)
            sh_remember(sh, logical);
        free(logical);
        logical = NULL;
        llen = 0;
        if (rc < 0) {
            failed = 1;
            if (!terminal && !sh->keep_going)
                break;
        }
    }
    if (logical) {
        /* a continuation at the very end: run what was gathered */
        if (!sh_interrupted && !sh->want_exit) {
            if (sh_run_line(sh, logical, in->name, first) < 0)
                failed = 1;
            else if (sh->in_source == 0)
                sh_remember(sh, logical);
        }
        free(logical);
    }
    return failed || (sh_interrupted && !terminal) ? -1 : 0;
}

/* ---- a stream: a script or standard input ----------------------------------- */

static char *stream_next(sh_input *in, int continued, size_t *len)
{
    (void)continued;
    FILE *f = in->ctx;
    char *buf = NULL;
    size_t cap = 0;
    ssize_t k = getline(&buf, &cap, f);
    if (k < 0) {
        free(buf);
        return NULL;
    }
    in->lineno++;
    *len = (size_t)k;
    /* a UTF-8 byte order mark at the start of a file is not a command */
    if (in->lineno == 1 && k >= 3 && !memcmp(buf, "\xef\xbb\xbf", 3)) {
        memmove(buf, buf + 3, (size_t)k - 2);
        *len -= 3;
    }
    return buf;
}

void sh_input_stream(sh_input *in, FILE *f, const char *name)
{
    *in = (sh_input){ stream_next, NULL, f, name, 0 };
}

/* ---- a string: a -c argument ------------------------------------------------ */

static char *string_next(sh_input *in, int continued, size_t *len)
{
    (void)continued;
    const char **cur = in->ctx;
    const char *p = *cur;
    if (!p)
        return NULL;
    const char *nl = strchr(p, '\n');
    size_t n = nl ? (size_t)(nl - p) : strlen(p);
    char *line = malloc(n + 1);
    if (!line)
        return NULL;
    memcpy(line, p, n);
    line[n] = '\0';
    *cur = nl ? nl + 1 : NULL;
    in->lineno++;
    *len = n;
    return line;
}

void sh_input_string(sh_input *in, const char *text, const char *name, int first_line,
                     const char **cursor)
{
    *cursor = text;
    *in = (sh_input){ string_next, NULL, cursor, name, first_line - 1 };
}

/* ---- a file: a script given on the command line, or `source` ------------- */

/* Opens a script for `source`: a regular file or a pipe. A folder would
 * read as nothing and a device (/dev/zero, a terminal) may never end, so
 * they are refused. A FIFO without a writer is waited for, as sh does (an
 * interrupt stops the wait), rather than read as an empty script. */
static FILE *open_script(shell *sh, const char *path)
{
    struct stat st;
    int flags, fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        sh_fail(sh, "cannot open '%s': %s", path, strerror(errno));
        return NULL;
    }
    if (fstat(fd, &st) != 0) {
        sh_fail(sh, "cannot read '%s': %s", path, strerror(errno));
        close(fd);
        return NULL;
    }
    if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode)) {
        sh_fail(sh, "cannot read '%s': %s", path,
                S_ISDIR(st.st_mode) ? "it is a folder, not a script"
                : S_ISCHR(st.st_mode) ? "not a regular file (a character device)"
                : S_ISBLK(st.st_mode) ? "not a regular file (a block device)"
                : S_ISSOCK(st.st_mode) ? "not a regular file (a socket)"
                : "not a regular file (a special file)");
        close(fd);
        return NULL;
    }
    sq_error e;
    if (S_ISFIFO(st.st_mode) && sq_wait_readable(fd, path, &e) < 0) {
        sh_fail(sh, "%s", e.msg);
        close(fd);
        return NULL;
    }
    FILE *f = NULL;
    if ((flags = fcntl(fd, F_GETFL)) == -1 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) == -1
        || !(f = fdopen(fd, "r"))) {
        sh_fail(sh, "cannot read '%s': %s", path, strerror(errno));
        close(fd);
        return NULL;
    }
    return f;
}

int sh_run_path(shell *sh, const char *path)
{
    char full[PATH_MAX];
    /* nested files are found relative to the including file */
    if (sh->depth > 0 && path[0] != '/') {
        const char *parent = sh->src[sh->depth - 1].name;
        const char *slash = strrchr(parent, '/');
        if (slash)
            snprintf(full, sizeof full, "%.*s/%s", (int)(slash - parent), parent, path);
        else
            snprintf(full, sizeof full, "%s", path);
    } else {
        snprintf(full, sizeof full, "%s", path);
    }
    if (sh->depth >= SH_MAX_SOURCE_DEPTH)
        return sh_fail(sh, "source: nesting deeper than %d files", SH_MAX_SOURCE_DEPTH);
    FILE *f = open_script(sh, full);
    if (!f)
        return -1;
    char *real = realpath(full, NULL);
    for (int i = 0; real && i < sh->depth; i++) {
        if (sh->src[i].real && !strcmp(sh->src[i].real, real)) {
            fclose(f);
            free(real);
            return sh_fail(sh, "source: '%s' is already being read (a file cannot source itself)",
                           full);
        }
    }
    char *name = strdup(full);
    if (!name) {
        fclose(f);
        free(real);
        return sh_fail(sh, "out of memory");
    }
    sh->src[sh->depth].name = name;
    sh->src[sh->depth].real = real;
    sh->depth++;
    sh_input in;
    sh_input_stream(&in, f, name);
    int rc = sh_process_input(sh, &in);
    sh->depth--;
    fclose(f);
    free(real);
    free(name);
    if (rc < 0) {
        /* the failing line inside was reported already */
        sh->reported = 1;
        return sh_fail(sh, "%s", sh_interrupted ? "Interrupted" : "source failed");
    }
    return 0;
}

int sh_stdout_is_terminal(void)
{
    /* mpirun hands its processes a pseudo-terminal even when its own
     * output goes to a file (open-mpi/ompi#7868): print as to a file */
    return isatty(STDOUT_FILENO) && !sq_dist_launched();
}
