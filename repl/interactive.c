/* interactive.c - the session at a terminal: GNU Readline as one more
 * source of lines for the one input path (a prompt, a second prompt for
 * continued lines, pasted blocks run line by line, Ctrl-C dropping the
 * half-typed line), Tab completion (complete.c), and the history kept
 * across sessions: each session appends its own lines under a lock, so
 * sessions ending together do not overwrite each other. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <readline/readline.h>
#include <readline/history.h>
#include "config.h"
#include "shell.h"

#define HISTORY_MAX 1000

static shell *the_shell;        /* completion callbacks carry no context */

/* ---- completion glue ------------------------------------------------------ */

static char **cands;
static int ncands, capcands;

static void collect(const char *c, void *ctx)
{
    (void)ctx;
    if (ncands == capcands) {
        int cap = capcands ? 2 * capcands : 32;
        char **v = realloc(cands, (size_t)cap * sizeof *v);
        if (!v)
            return;
        cands = v;
        capcands = cap;
    }
    char *d = strdup(c);
    if (d)
        cands[ncands++] = d;
}

static void cands_clear(void)
{
    for (int i = 0; i < ncands; i++)
        free(cands[i]);
    ncands = 0;
}

static int want_files;

static char *generator(const char *text, int state)
{
    static int i, fstate;
    if (state == 0) {
        i = 0;
        fstate = 0;
    }
    if (i < ncands)
        return strdup(cands[i++]);
    if (want_files)
        return rl_filename_completion_function(text, fstate++);
    return NULL;
}

static char **attempted(const char *text, int start, int end)
{
    (void)end;
    cands_clear();
    want_files = sh_complete_words(the_shell, rl_line_buffer, start, text, collect, NULL);
    rl_attempted_completion_over = 1;
    rl_completion_append_character = ' ';
    if (ncands == 0 && !want_files)
        return NULL;
    if (ncands > 0 && !want_files) {
        int all_eq = 1;
        for (int i = 0; i < ncands; i++)
            if (!strchr("=,(", cands[i][strlen(cands[i]) - 1]))
                all_eq = 0;
        if (all_eq)
            rl_completion_append_character = '\0';
    }
    if (want_files)
        rl_filename_completion_desired = 1;
    return rl_completion_matches(text, generator);
}

/* ---- history ------------------------------------------------------------ */

static char *histfile;          /* NULL: history is not kept */
static int added;               /* lines this session added */

/* $SEQSH_HISTFILE (empty: none), else $XDG_STATE_HOME/seqsh/history, else
 * ~/.local/state/seqsh/history. Creates the folder. malloc'd or NULL. */
static char *history_path(void)
{
    const char *env = getenv("SEQSH_HISTFILE");
    if (env)
        return *env ? strdup(env) : NULL;
    const char *state = getenv("XDG_STATE_HOME");
    const char *home = getenv("HOME");
    char dir[4096];
    if (state && state[0] == '/')
        snprintf(dir, sizeof dir, "%s/seqsh", state);
    else if (home && *home)
        snprintf(dir, sizeof dir, "%s/.local/state/seqsh", home);
    else
        return NULL;
    /* mkdir -p */
    for (char *p = dir + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            mkdir(dir, 0700);
            *p = '/';
        }
    }
    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        return NULL;
    size_t n = strlen(dir) + sizeof "/history";
    char *path = malloc(n);
    if (path)
        snprintf(path, n, "%s/history", dir);
    return path;
}

/* Appends this session's lines to the file under an exclusive lock (as
 * bash's histappend does), then keeps its last HISTORY_MAX lines. */
static void save_history(void)
{
    if (!histfile || added == 0)
        return;
    int fd = open(histfile, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return;
    flock(fd, LOCK_EX);
    if (append_history(added < HISTORY_MAX ? added : HISTORY_MAX, histfile) == 0)
        history_truncate_file(histfile, HISTORY_MAX);
    fchmod(fd, 0600);
    flock(fd, LOCK_UN);
    close(fd);
    added = 0;
}

/* ---- the terminal as a source of lines ------------------------------------ */

typedef struct {
    char *block;    /* a pasted block still being handed out, line by line */
    char *next;     /* where its next line starts */
} term;

/* A signal came while readline waited for a key. */
static int event_hook(void)
{
    if (sh_signal() == SIGINT) {
        sh_signal_clear_int();
        rl_replace_line("", 0);
        rl_crlf();
        rl_on_new_line();
        rl_redisplay();
    } else if (sh_interrupted) {
        rl_done = 1;   /* SIGTERM, SIGHUP: the session ends */
    }
    return 0;
}

static char *term_next(sh_input *in, int continued, size_t *len)
{
    term *t = in->ctx;
    for (;;) {
        if (t->block && t->next) {
            char *p = t->next, *nl = strchr(p, '\n');
            size_t n = nl ? (size_t)(nl - p) : strlen(p);
            t->next = nl ? nl + 1 : NULL;
            char *line = strndup(p, n);
            if (!t->next) {
                free(t->block);
                t->block = NULL;
            }
            if (!line)
                return NULL;
            *len = n;
            return line;
        }
        if (sh_interrupted && sh_signal() != SIGINT)
            return NULL;
        char *line = readline(continued ? SH_PROMPT2 : SH_PROMPT);
        if (!line || (sh_interrupted && sh_signal() != SIGINT)) {
            free(line);
            return NULL;
        }
        /* a pasted block arrives as one string: hand it out line by line */
        t->block = line;
        t->next = line;
    }
}

static void term_line_done(sh_input *in, const char *line)
{
    (void)in;
    const char *p = line;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p) {
        add_history(line);
        added++;
    }
}

void sh_interactive(shell *sh)
{
    the_shell = sh;
    rl_readline_name = "seqsh";
    rl_attempted_completion_function = attempted;
    rl_signal_event_hook = event_hook;
    rl_basic_word_break_characters = " \t\n;";
    using_history();
    stifle_history(HISTORY_MAX);
    histfile = history_path();
    if (histfile)
        read_history(histfile);
    if (!sh->quiet)
        printf("seqsh %s: Keras-style Sequential models. Type 'help' for commands.\n",
               PACKAGE_VERSION);
    term t = { NULL, NULL };
    sh_input in = { term_next, term_line_done, &t, NULL, 0 };
    sh_process_input(sh, &in);
    free(t.block);
    if (!sh->want_exit)
        putchar('\n');
    save_history();
    free(histfile);
    histfile = NULL;
    cands_clear();
    free(cands);
    cands = NULL;
    capcands = 0;
}
