/* run.c - running commands and lines: the shell's state, dispatch through
 * the command table, undo of a failed command's random draws, and
 * FILE:LINE error reports. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "shell.h"

int sh_init(shell *sh)
{
    memset(sh, 0, sizeof *sh);
    sh->commands = sh_commands;
    sh->s = sq_session_new();
    if (!sh->s)
        return -1;
    sq_set_interrupt_flag(sh->s, &sh_interrupted);
    return 0;
}

void sh_deinit(shell *sh)
{
    for (int i = 0; i < sh->nhistory; i++)
        free(sh->history[i]);
    free(sh->history);
    sh->history = NULL;
    sh->nhistory = sh->caphistory = 0;
    sq_session_free(sh->s);
    sh->s = NULL;
}

int sh_fail(shell *sh, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sh->err, sizeof sh->err, fmt, ap);
    va_end(ap);
    return -1;
}

void sh_fputs(const char *s, FILE *f)
{
    size_t n = strlen(s), bad;
    while (n > 0) {
        size_t ok = sq_text_span(s, n, 1, &bad);
        fwrite(s, 1, ok, f);
        for (size_t i = ok; i < ok + bad; i++)
            fprintf(f, "\\x%02x", (unsigned char)s[i]);
        s += ok + bad;
        n -= ok + bad;
    }
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
    char hint[96];
    if (*sh_command_suggestion(sh, name, hint, sizeof hint))
        return sh_fail(sh, "unknown command '%s'%s", name, hint);
    return sh_fail(sh, "unknown command '%s' (try 'help')", name);
}

int sh_run_cmd(shell *sh, int argc, char **argv)
{
    const sh_command *cmd = sh_command_find(sh, argv[0]);
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
    if (sh_interrupted && !strcmp(sh->err, "Interrupted")) {
        fprintf(stderr, "Interrupted\n");
    } else {
        if (src) {
            sh_fputs(src, stderr);
            fprintf(stderr, ":%d: ", lineno);
        }
        fputs("error: ", stderr);
        sh_fputs(sh->err, stderr);
        fputc('\n', stderr);
    }
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
            for (int j = 0; j < cmds[i].argc; j++) {
                fputs(j ? " " : "", stdout);
                sh_fputs(cmds[i].argv[j], stdout);
            }
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
