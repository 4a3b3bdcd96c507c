/* shell.h - the seqsh shell's shared declarations: the state one shell
 * carries, the command table, the one input path, the lexer, signals,
 * completion and suggestions. The shell sees the engine only through
 * <seqsh/engine.h>. */
#ifndef SEQSH_SHELL_H
#define SEQSH_SHELL_H

#include <signal.h>
#include <stdio.h>
#include "seqsh/engine.h"

#define SH_MAX_SOURCE_DEPTH 32
#define SH_PROMPT "seqsh> "
#define SH_PROMPT2 "...> "

struct sh_command;

typedef struct shell {
    sq_session *s;
    const struct sh_command *commands; /* the command table (sh_commands) */
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
    int line_remembered;  /* the last line's commands are in history already */
    int seed_given;       /* --seed N was given: `history save` starts with it */
    unsigned long long seed;
    int undo_ready;       /* the running command's snapshot is kept for `undo` */
    char err[SQ_ERR_MAX + 256];
} shell;

/* A new shell around a new session, with the command table; -1 when out
 * of memory. sh_deinit frees what it holds. */
int sh_init(shell *sh);
void sh_deinit(shell *sh);

/* ---- the command table (commands.c) ------------------------------------ */

typedef int (*sh_fn)(shell *sh, int argc, char **argv);

/* What the words after a command complete to, for Tab. */
typedef enum { C_NONE, C_FILE, C_EVALUATE, C_LAYER, C_KIND, C_TOPIC, C_INPUT, C_COMMAND, C_COMPILE,
               C_SETTING,
               C_SUMMARY,   /* summary's columns: macs, memory */
               C_PLOT,      /* plot: history, then file names */
               C_FIT        /* fit's options and callbacks */
} sh_complete;

/* Whether a command changes the session, for `undo`: never (the default),
 * always (a snapshot is taken before it runs), or only when it builds an
 * unbuilt model (call, predict, ...). */
typedef enum { U_NONE, U_CHANGES, U_BUILDS, U_APPENDS } sh_undo;

typedef struct sh_command {
    const char *name;
    const char *usage;     /* "add KIND [ARGS...] [key=value...]" */
    const char *summary;   /* one line for `help` */
    const char *help;      /* explanation and example for `help CMD`; {optimizers},
                              {losses}, {metrics} and {activations} are the
                              engine's lists */
    sh_fn fn;
    int min_args, max_args; /* words after the name; max -1 = any */
    sh_complete complete;
    sh_undo undo;          /* what `undo` can take back of it */
} sh_command;

extern const sh_command sh_commands[];
/* The entry called name in sh->commands, or NULL. */
const sh_command *sh_command_find(const shell *sh, const char *name);

/* The handlers, by area (cmd_model.c, cmd_run.c, cmd_files.c,
 * cmd_session.c, cmd_safe.c, help.c, cmd_see.c). */
int cmd_model(shell *sh, int argc, char **argv);
int cmd_input(shell *sh, int argc, char **argv);
int cmd_add(shell *sh, int argc, char **argv);
int cmd_pop(shell *sh, int argc, char **argv);
int cmd_layers(shell *sh, int argc, char **argv);
int cmd_summary(shell *sh, int argc, char **argv);
int cmd_weights(shell *sh, int argc, char **argv);
int cmd_freeze(shell *sh, int argc, char **argv);
int cmd_unfreeze(shell *sh, int argc, char **argv);
int cmd_reset(shell *sh, int argc, char **argv);
int cmd_seed(shell *sh, int argc, char **argv);
int cmd_call(shell *sh, int argc, char **argv);
int cmd_extract(shell *sh, int argc, char **argv);
int cmd_compile(shell *sh, int argc, char **argv);
int cmd_fit(shell *sh, int argc, char **argv);
int cmd_evaluate(shell *sh, int argc, char **argv);
int cmd_predict(shell *sh, int argc, char **argv);
int cmd_confusion(shell *sh, int argc, char **argv);
int cmd_save(shell *sh, int argc, char **argv);
int cmd_load(shell *sh, int argc, char **argv);
int cmd_save_weights(shell *sh, int argc, char **argv);
int cmd_load_weights(shell *sh, int argc, char **argv);
int cmd_export(shell *sh, int argc, char **argv);
int cmd_source(shell *sh, int argc, char **argv);
int cmd_time(shell *sh, int argc, char **argv);
int cmd_history(shell *sh, int argc, char **argv);
int cmd_undo(shell *sh, int argc, char **argv);
int cmd_threads(shell *sh, int argc, char **argv);
int cmd_set(shell *sh, int argc, char **argv);
int cmd_info(shell *sh, int argc, char **argv);
int cmd_echo(shell *sh, int argc, char **argv);
int cmd_quit(shell *sh, int argc, char **argv);
int cmd_help(shell *sh, int argc, char **argv);
int cmd_explain(shell *sh, int argc, char **argv);
int cmd_plot(shell *sh, int argc, char **argv);
int cmd_show(shell *sh, int argc, char **argv);

/* INPUT as call reads it (a generator with its dimensions, or a file) into
 * *x (cmd_run.c). */
int sh_get_input(shell *sh, int argc, char **argv, sq_tensor *x);
/* Dimensions given as words "1 250 250 3" and/or tuples "1,250,250,3". */
int sh_parse_dims(shell *sh, int argc, char **argv, long *dims, int *n);
/* The words of a command as one line that lexes back to them (quoted
 * where needed); malloc'd, NULL when out of memory. */
char *sh_join_words(int argc, char **argv);
/* A path as a command means it: a relative path in a script file is
 * relative to that file's folder; at the prompt, in -c and on standard
 * input, to the current folder. Into buf; -1 (sh->err) when too long. */
int sh_path(shell *sh, const char *path, char *buf, size_t n);
/* Sets sh->err from an engine error and returns -1. */
int sh_engine_fail(shell *sh, const sq_error *e);
/* Prints malloc'd text from the engine, adding a final newline; frees it. */
void sh_put_text(char *text);

/* ---- running (run.c) ------------------------------------------------------ */

/* Runs one command given as words (also used by `time`). */
int sh_run_cmd(shell *sh, int argc, char **argv);
/* Runs one logical line from `src` (NULL = the terminal) at `lineno`;
 * reports errors; returns 0 if every command succeeded. */
int sh_run_line(shell *sh, const char *line, const char *src, int lineno);
/* Sets sh->err and returns -1. */
int sh_fail(shell *sh, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Writes s to f as a terminal should see it: text, tabs and newlines as
 * they are, every other control character (ESC, CR, C1) and every byte that
 * is not UTF-8 as \xNN, so that nothing a model file or a bad line holds
 * can drive the terminal. Everything the shell prints that it did not
 * write itself (engine texts, names, error messages) goes through it. */
void sh_fputs(const char *s, FILE *f);
/* Appends a line that worked to the session history, unless
 * sh_run_line has just kept its commands one by one. */
void sh_remember(shell *sh, const char *line);

/* ---- the one input path (input.c) ----------------------------------------
 * Every source of commands (a -c string, a script, standard input, the
 * terminal) is a reader of physical lines; sh_process_input joins
 * backslash continuations, runs each logical line and applies the rules
 * for errors, interrupts and history the same way for all of them. */
typedef struct sh_input {
    /* The next physical line without its newline, malloc'd, its length in
     * *len; NULL at the end. `continued`: the previous line asked for more
     * (the terminal shows the second prompt). */
    char *(*next)(struct sh_input *in, int continued, size_t *len);
    /* Called with each logical line before it runs (the terminal keeps it
     * in readline's history); may be NULL. */
    void (*line_done)(struct sh_input *in, const char *line);
    void *ctx;
    const char *name;    /* in messages: "-c", "stdin", a file; NULL = terminal */
    int lineno;          /* of the last line read */
} sh_input;

/* Runs the file at path (relative to the including file when nested);
 * returns 0 if all succeeded. */
int sh_run_path(shell *sh, const char *path);
/* Runs every logical line of in; returns 0 if all succeeded. */
int sh_process_input(shell *sh, sh_input *in);
/* Readers: lines of a stream, of a string (a -c argument). */
void sh_input_stream(sh_input *in, FILE *f, const char *name);
void sh_input_string(sh_input *in, const char *text, const char *name, int first_line,
                     const char **cursor);

/* ---- the lexer (lex.c) -------------------------------------------------- */

/* One command of a line: its words, unquoted. */
typedef struct {
    int argc;
    char **argv;
} sh_cmd;

/* Splits a logical line into commands (separated by ';'), dropping '#'
 * comments; quotes keep blanks, parentheses keep a tuple "(1, 2)" whole.
 * Returns 0 and a malloc'd array, or -1 with err filled. */
int sh_lex(const char *line, sh_cmd **cmds, int *n, char *err, size_t errn);
/* For completion: the words of the last command of a line being typed
 * (after the last ';'), with an unfinished quote or tuple taken as it is;
 * *trailing is 1 when the line ends in a blank (a new word starts). */
int sh_lex_partial(const char *line, sh_cmd *cmd, int *trailing);
void sh_cmds_free(sh_cmd *cmds, int n);

/* ---- signals (signals.c) --------------------------------------------------
 * One policy, installed once: SIGINT, SIGTERM and SIGHUP set sh_interrupted
 * (the engine polls it and stops at its next safe point; nothing after the
 * interrupted command runs) and remember which signal came. */
extern volatile int sh_interrupted;
void sh_signals_install(void);
/* Whether stdout is a terminal to redraw progress on (not under mpirun). */
int sh_stdout_is_terminal(void);
/* Acts as if sig had come (another MPI rank got it). */
void sh_signal_adopt(int sig);
/* The signal that interrupted (0 = none yet). */
int sh_signal(void);
/* Forgets a SIGINT (the prompt comes back); SIGTERM and SIGHUP stay. */
void sh_signal_clear_int(void);
/* 130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP, 0 when none came. */
int sh_signal_status(void);

/* ---- the terminal (interactive.c, complete.c) ----------------------------- */

/* The interactive loop with readline, history and completion. */
void sh_interactive(shell *sh);
/* Completion candidates for the line so far (also used by tests): calls
 * emit(text) for every candidate of the word being typed, which starts at
 * `start` in `line`. Returns 1 if file names should be offered too. */
int sh_complete_words(shell *sh, const char *line, int start, const char *word,
                      void (*emit)(const char *cand, void *ctx), void *ctx);

/* ---- suggestions (suggest.c) ---------------------------------------------- */

/* The closest of n candidates to `word` within a small edit distance, or
 * NULL. */
const char *sh_nearest(const char *word, const char *const *cands, int n);
/* " (did you mean X?)" for an unknown command, or "". */
const char *sh_command_suggestion(const shell *sh, const char *word, char *buf, size_t n);
/* " (did you mean X?)" for an unknown layer kind, or "". */
const char *sh_kind_suggestion(const char *word, char *buf, size_t n);

#endif
