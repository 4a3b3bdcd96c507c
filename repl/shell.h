/* shell.h - the seqsh shell's shared declarations: the lexer, the command
 * table and the state one shell carries. */
#ifndef SEQSH_SHELL_H
#define SEQSH_SHELL_H

#include <stdio.h>
#include "engine.h"

/* One command of a line: its words, unquoted. */
typedef struct {
    int argc;
    char **argv;
} sh_cmd;

/* Splits a logical line into commands (separated by ';'), dropping '#'
 * comments; quotes keep blanks, parentheses keep a tuple "(1, 2)" whole.
 * Returns 0 and a malloc'd array, or -1 with err filled. */
int sh_lex(const char *line, sh_cmd **cmds, int *n, char *err, size_t errn);
void sh_cmds_free(sh_cmd *cmds, int n);

typedef struct shell {
    sq_session *s;
    int interactive;      /* a person at a terminal */
    int echo;             /* --echo: print each command before running it */
    int quiet;
    int keep_going;
    int source_depth;
    const char *src_name; /* where the current command came from */
    char **history;       /* this session's commands, for `history` */
    int nhistory, caphistory;
    int want_exit;
    volatile int interrupted;
    char err[SQ_ERR_MAX + 256];
} shell;

typedef int (*sh_fn)(shell *sh, int argc, char **argv);

typedef struct {
    const char *name;
    const char *usage;     /* "add KIND [ARGS...] [key=value...]" */
    const char *summary;   /* one line for `help` */
    const char *help;      /* explanation and example for `help CMD` */
    sh_fn fn;
    int min_args, max_args; /* words after the name; max -1 = any */
} sh_command;

extern const sh_command sh_commands[];
const sh_command *sh_command_find(const char *name);

/* Runs one logical line; returns 0, or -1 after printing the error with
 * the NAME:LINE prefix when not interactive. */
int sh_run_line(shell *sh, const char *line, const char *src, int lineno);
/* Runs every line of f; returns 0 if all succeeded. */
int sh_run_file(shell *sh, FILE *f, const char *name);
/* Sets sh->err and returns -1. */
int sh_fail(shell *sh, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
