/* shell.h - the seqsh shell's shared declarations: the lexer, the command
 * table, the runner and the state one shell carries. */
#ifndef SEQSH_SHELL_H
#define SEQSH_SHELL_H

#include <signal.h>
#include <stdio.h>
#include "seqsh/engine.h"

#define SH_MAX_SOURCE_DEPTH 32
#define SH_PROMPT "seqsh> "
#define SH_PROMPT2 "...> "

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

/* Set by the SIGINT handler; the engine polls it. */
extern volatile int sh_interrupted;

typedef struct shell {
    sq_session *s;
    int interactive;      /* a person at a terminal */
    int echo;             /* --echo: print each command before running it */
    int quiet;
    int keep_going;
    int want_exit;
    int reported;         /* the current error was already printed */
    /* the files being read, innermost last, for `source` */
    struct sh_src { const char *name; char *real; } src[SH_MAX_SOURCE_DEPTH + 1];
    int depth;
    int in_source;        /* inside a `source` command: not top level */
    char **history;       /* this session's top-level lines, for `history` */
    int nhistory, caphistory;
    char err[SQ_ERR_MAX + 256];
} shell;

typedef int (*sh_fn)(shell *sh, int argc, char **argv);

/* What the words after a command complete to, for Tab. */
typedef enum { C_NONE, C_FILE, C_LAYER, C_KIND, C_TOPIC, C_INPUT, C_COMMAND } sh_complete;

typedef struct {
    const char *name;
    const char *usage;     /* "add KIND [ARGS...] [key=value...]" */
    const char *summary;   /* one line for `help` */
    const char *help;      /* explanation and example for `help CMD` */
    sh_fn fn;
    int min_args, max_args; /* words after the name; max -1 = any */
    sh_complete complete;
} sh_command;

extern const sh_command sh_commands[];
const sh_command *sh_command_find(const char *name);

/* Runs one logical line from `src` (NULL = the terminal) at `lineno`;
 * reports errors; returns 0 if every command succeeded. */
int sh_run_line(shell *sh, const char *line, const char *src, int lineno);
/* Runs the file at path (relative to the including file when nested);
 * returns 0 if all succeeded. */
int sh_run_path(shell *sh, const char *path);
/* Runs every line of f named `name`; returns 0 if all succeeded. */
int sh_run_stream(shell *sh, FILE *f, const char *name);
/* Runs one command given as words (also used by `time`). */
int sh_run_cmd(shell *sh, int argc, char **argv);
/* Sets sh->err and returns -1. */
int sh_fail(shell *sh, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends a line to the session history. */
void sh_remember(shell *sh, const char *line);

/* The closest of n candidates to `word` within a small edit distance, or
 * NULL (suggest.c). */
const char *sh_nearest(const char *word, const char *const *cands, int n);
/* " (did you mean X?)" for an unknown layer kind, or "". */
const char *sh_kind_suggestion(const char *word, char *buf, size_t n);

/* The interactive loop with readline, history and completion. */
void sh_interactive(shell *sh);
/* Completion candidates for the line so far (also used by tests): calls
 * emit(text) for every candidate of the word being typed, which starts at
 * `start` in `line`. Returns 1 if file names should be offered too. */
int sh_complete_words(shell *sh, const char *line, int start, const char *word,
                      void (*emit)(const char *cand, void *ctx), void *ctx);

#endif
