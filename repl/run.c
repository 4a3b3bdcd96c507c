/* run.c - running commands, lines, files and `source`: dispatch through the
 * command table, undo of a failed command's random draws, FILE:LINE error
 * reports, and the interrupt rules. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "shell.h"

volatile int sh_interrupted;

int sh_fail(shell *sh, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sh->err, sizeof sh->err, fmt, ap);
    va_end(ap);
    return -1;
}

void sh_remember(shell *sh, const char *line)
{
    while (*line == ' ' || *line == '\t')
        line++;
    if (!strncmp(line, "history", 7) && (!line[7] || line[7] == ' ' || line[7] == ';'))
        return;
    if (sh->nhistory == sh->caphistory) {
        int cap = sh->caphistory ? 2 * sh->caphistory : 64;
        char **h = realloc(sh->history, (size_t)cap * sizeof *h);
        if (!h)
            return;
        sh->history = h;
        sh->caphistory = cap;
    }
    char *copy = strdup(line);
    if (copy)
        sh->history[sh->nhistory++] = copy;
}

static int unknown_command(shell *sh, const char *name)
{
    const char *names[64];
    int n = 0;
    for (const sh_command *c = sh_commands; c->name && n < 64; c++)
        names[n++] = c->name;
    const char *near = sh_nearest(name, names, n);
    if (near)
        return sh_fail(sh, "unknown command '%s' (did you mean %s?)", name, near);
    return sh_fail(sh, "unknown command '%s' (try 'help')", name);
}

int sh_run_cmd(shell *sh, int argc, char **argv)
{
    const sh_command *cmd = sh_command_find(argv[0]);
    if (!cmd)
        return unknown_command(sh, argv[0]);
    int nargs = argc - 1;
    if (nargs < cmd->min_args || (cmd->max_args >= 0 && nargs > cmd->max_args))
        return sh_fail(sh, "usage: %s", cmd->usage);
    /* a failing command changes nothing, random state included */
    sq_rng_state rng = sq_rng_get(sh->s);
    int rc = cmd->fn(sh, argc, argv);
    if (rc < 0)
        sq_rng_set(sh->s, rng);
    return rc;
}

static void report(shell *sh, const char *src, int lineno)
{
    if (sh->reported)
        return;
    if (sh_interrupted && !strcmp(sh->err, "Interrupted"))
        fprintf(stderr, "Interrupted\n");
    else if (!src)
        fprintf(stderr, "error: %s\n", sh->err);
    else
        fprintf(stderr, "%s:%d: error: %s\n", src, lineno, sh->err);
    sh->reported = 1;
}

int sh_run_line(shell *sh, const char *line, const char *src, int lineno)
{
    sh_cmd *cmds;
    int n, rc = 0;
    sh->reported = 0;
    if (sh_lex(line, &cmds, &n, sh->err, sizeof sh->err) < 0) {
        report(sh, src, lineno);
        return -1;
    }
    for (int i = 0; i < n && !sh->want_exit; i++) {
        if (sh->echo) {
            fputs(SH_PROMPT, stdout);
            for (int j = 0; j < cmds[i].argc; j++)
                printf("%s%s", j ? " " : "", cmds[i].argv[j]);
            putchar('\n');
        }
        sh->reported = 0;
        int r = sh_run_cmd(sh, cmds[i].argc, cmds[i].argv);
        fflush(stdout);
        if (r < 0) {
            report(sh, src, lineno);
            rc = -1;
            if (!sh->keep_going || sh_interrupted)
                break;
        }
    }
    sh_cmds_free(cmds, n);
    return rc;
}

/* Reads one logical line (joining trailing-backslash continuations) from
 * f; *first gets its first line number. NULL at end of file. */
static char *read_logical(FILE *f, int *lineno, int *first)
{
    char *out = NULL, *buf = NULL;
    size_t cap = 0, len = 0;
    ssize_t k;
    *first = *lineno + 1;
    while ((k = getline(&buf, &cap, f)) >= 0) {
        (*lineno)++;
        while (k > 0 && (buf[k - 1] == '\n' || buf[k - 1] == '\r'))
            buf[--k] = '\0';
        int cont = k > 0 && buf[k - 1] == '\\';
        if (cont)
            buf[--k] = '\0';
        char *o = realloc(out, len + (size_t)k + 2);
        if (!o) {
            free(out);
            out = NULL;
            break;
        }
        out = o;
        memcpy(out + len, buf, (size_t)k);
        len += (size_t)k;
        out[len] = '\0';
        if (!cont)
            break;
        out[len++] = ' ';
        out[len] = '\0';
    }
    free(buf);
    return out;
}

int sh_run_stream(shell *sh, FILE *f, const char *name)
{
    int lineno = 0, first, failed = 0;
    char *line;
    while (!sh->want_exit && !sh_interrupted && (line = read_logical(f, &lineno, &first))) {
        int rc = sh_run_line(sh, line, name, first);
        if (rc == 0 && sh->in_source == 0)
            sh_remember(sh, line);
        free(line);
        if (rc < 0) {
            failed = 1;
            if (!sh->keep_going || sh_interrupted)
                break;
        }
    }
    return failed || sh_interrupted ? -1 : 0;
}

/* Opens a script for `source`: a regular file or a pipe. A folder would
 * read as nothing and a device (/dev/zero, a terminal) may never end, so
 * they are refused; a FIFO without a writer does not block the open. */
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
    int rc = sh_run_stream(sh, f, name);
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
