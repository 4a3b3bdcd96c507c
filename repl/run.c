/* run.c - running commands and lines: the shell's state, dispatch through
 * the command table (keeping a snapshot for `undo` before a command that
 * changes the session), undo of a failed command's random draws, and
 * FILE:LINE error reports. */
#include <stdarg.h>
#include <stdio.h>
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

/* Appends one line to the history (not `history` itself). */
static void remember_one(shell *sh, const char *line)
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

int sh_path(shell *sh, const char *path, char *buf, size_t n)
{
    const char *parent = sh->depth > 0 ? sh->src[sh->depth - 1].name : NULL;
    const char *slash = parent ? strrchr(parent, '/') : NULL;
    int k;
    if (path[0] == '/' || !slash)
        k = snprintf(buf, n, "%s", path);
    else
        k = snprintf(buf, n, "%.*s/%s", (int)(slash - parent), parent, path);
    if (k < 0 || (size_t)k >= n)
        return sh_fail(sh, "path too long: '%.60s...'", path);
    return 0;
}

/* sh_run_line keeps each command that worked as it runs (so `history
 * save` on the same line sees the ones before it); the whole line the
 * input path hands over afterwards is then already there. */
void sh_remember(shell *sh, const char *line)
{
    if (sh->line_remembered) {
        sh->line_remembered = 0;
        return;
    }
    remember_one(sh, line);
}

static int unknown_command(shell *sh, const char *name)
{
    char hint[96];
    if (*sh_command_suggestion(sh, name, hint, sizeof hint))
        return sh_fail(sh, "unknown command '%s'%s", name, hint);
    return sh_fail(sh, "unknown command '%s' (try 'help')", name);
}

/* The outcome all ranks agree on: the command failed when it failed on
 * any rank, with the message of the lowest failing rank (prefixed with its
 * rank unless it is rank 0), which rank 0 reports. A signal that reached
 * any rank stops them all. */
static int agree(shell *sh, int rc)
{
    int first = sq_dist_agree(rc < 0, sh->err, sizeof sh->err);
    int sig = sq_dist_max(sh_signal());
    if (sig && !sh_interrupted)
        sh_signal_adopt(sig);
    if (first < 0)
        return 0;
    if (first != 0) {
        char prefix[32];
        size_t k = (size_t)snprintf(prefix, sizeof prefix, "rank %d: ", first);
        size_t len = strlen(sh->err);
        if (len + k >= sizeof sh->err)
            len = sizeof sh->err - k - 1;
        memmove(sh->err + k, sh->err, len);
        memcpy(sh->err, prefix, k);
        sh->err[k + len] = '\0';
    }
    sh->reported = sq_dist_rank() != 0 || (first == 0 && sh->reported);
    return -1;
}

int sh_run_cmd(shell *sh, int argc, char **argv)
{
    const sh_command *cmd = sh_command_find(sh, argv[0]);
    if (!cmd)
        return unknown_command(sh, argv[0]);
    int nargs = argc - 1;
    if (nargs < cmd->min_args || (cmd->max_args >= 0 && nargs > cmd->max_args))
        return sh_fail(sh, "usage: %s", cmd->usage);
    /* what the command may change is kept first, for `undo` */
    int keep = cmd->undo == U_CHANGES || cmd->undo == U_APPENDS
               || (cmd->undo == U_BUILDS && !sq_model_is_built(sh->s));
    sq_error why = { "" };
    /* `add KIND` only appends: undone by cutting the model back (`add
     * model` may rebuild the model it stacks on: a whole copy) */
    int appends = cmd->undo == U_APPENDS && argc > 1 && strcmp(argv[1], "model");
    sq_snapshot *snap = !keep ? NULL
                      : appends ? sq_snapshot_take_append(sh->s, &why)
                      : sq_snapshot_take(sh->s, &why);
    /* a failing command changes nothing, random state included */
    sq_rng_state rng = sq_rng_get(sh->s);
    int ready = sh->undo_ready;
    sh->undo_ready = snap != NULL;
    int rc = cmd->fn(sh, argc, argv);
    sh->undo_ready = ready;
    /* under mpirun every rank runs every command: they agree on its outcome,
     * and a rank where it worked while another failed puts back what it
     * changed */
    if (sq_dist_size() > 1) {
        int mine = rc;
        rc = agree(sh, rc);
        if (rc < 0 && mine == 0 && snap && sq_snapshot_restore(sh->s, snap, &why) == 0) {
            sq_snapshot_free(snap);
            snap = NULL;
            keep = 0;
        }
    }
    if (rc < 0) {
        sq_rng_set(sh->s, rng);
        /* a command that builds the model and then failed may have left it
         * built (predict failing after its first batch): put it back */
        if (snap && cmd->undo == U_BUILDS && sq_model_is_built(sh->s)
            && sq_snapshot_restore(sh->s, snap, &why) == 0)
            snap = NULL;
        sq_snapshot_free(snap);
    } else if (keep && cmd->undo == U_BUILDS && !sq_model_is_built(sh->s)) {
        sq_snapshot_free(snap);         /* it did not build the model after all */
    } else if (keep) {
        char what[256];
        size_t k = 0;
        what[0] = '\0';
        for (int i = 0; i < argc && k + 1 < sizeof what; i++)
            k += (size_t)snprintf(what + k, sizeof what - k, "%s%s", i ? " " : "", argv[i]);
        if (k >= sizeof what)
            strcpy(what + sizeof what - 4, "...");
        if (snap)
            sq_undo_push(sh->s, snap, what);
        else
            sq_undo_block(sh->s, what, why.msg);
    }
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
        if (r == 0 && sh->in_source == 0) {
            /* `history` lists what worked, so it replays as a script */
            char *text = sh_join_words(cmds[i].argc, cmds[i].argv);
            if (text)
                remember_one(sh, text);
            free(text);
        }
        if (r < 0) {
            report(sh, src, lineno);
            rc = -1;
            if (!sh->keep_going || sh_interrupted)
                break;
        }
    }
    sh->line_remembered = sh->in_source == 0;
    sh_cmds_free(cmds, n);
    return rc;
}
