/* interactive.c - the session at a terminal: GNU Readline with a prompt,
 * context-aware Tab completion, history kept across sessions, Ctrl-C that
 * drops the half-typed line, and pasted blocks run line by line. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <readline/readline.h>
#include <readline/history.h>
#include "config.h"
#include "shell.h"

#define HISTORY_MAX 1000

static shell *the_shell;        /* completion callbacks carry no context */
static volatile sig_atomic_t got_term;
static char *histfile;          /* NULL: history is not kept */

/* ---- completion --------------------------------------------------------- */

static int starts(const char *s, const char *prefix)
{
    return !strncmp(s, prefix, strlen(prefix));
}

/* Lower case without underscores: how layer kinds are offered. */
static void squash(const char *s, char *out, size_t n)
{
    size_t k = 0;
    for (; *s && k + 1 < n; s++)
        if (*s != '_')
            out[k++] = (char)(*s >= 'A' && *s <= 'Z' ? *s - 'A' + 'a' : *s);
    out[k] = '\0';
}

static void emit_if(const char *cand, const char *word,
                    void (*emit)(const char *, void *), void *ctx)
{
    if (starts(cand, word))
        emit(cand, ctx);
}

static void emit_kinds(const char *word, void (*emit)(const char *, void *), void *ctx)
{
    for (int i = 0; i < sq_kind_count(); i++) {
        char k[64];
        squash(sq_kind_class(i), k, sizeof k);
        emit_if(k, word, emit, ctx);
    }
}

static void emit_prefixed(const char *prefix, const char *value, const char *word,
                          void (*emit)(const char *, void *), void *ctx)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s%s", prefix, value);
    emit_if(buf, word, emit, ctx);
}

int sh_complete_words(shell *sh, const char *line, int start, const char *word,
                      void (*emit)(const char *cand, void *ctx), void *ctx)
{
    /* the words before the one being completed, after the last ';' */
    char buf[1024];
    int len = start < (int)sizeof buf - 1 ? start : (int)sizeof buf - 1;
    memcpy(buf, line, (size_t)len);
    buf[len] = '\0';
    char *seg = strrchr(buf, ';');
    seg = seg ? seg + 1 : buf;
    char *words[64];
    int n = 0;
    char *save = NULL;
    for (char *t = strtok_r(seg, " \t", &save); t && n < 64; t = strtok_r(NULL, " \t", &save))
        words[n++] = t;
    int skip = 0;
    while (skip < n && !strcmp(words[skip], "time"))
        skip++;
    n -= skip;
    char **w = words + skip;
    if (n == 0) {
        for (const sh_command *c = sh_commands; c->name; c++)
            emit_if(c->name, word, emit, ctx);
        return 0;
    }
    const sh_command *cmd = sh_command_find(w[0]);
    if (!cmd)
        return 0;
    switch (cmd->complete) {
    case C_KIND:
        if (n == 1) {
            emit_kinds(word, emit, ctx);
            emit_if("model", word, emit, ctx);
            return 0;
        } else if (!strcmp(w[1], "model")) {
            emit_if("trainable=false", word, emit, ctx);
            emit_if("name=", word, emit, ctx);
            return 1;
        } else {
            const char *opts[32];
            int k = sq_kind_options(w[1], opts, 32);
            int has_act = 0;
            for (int i = 0; i < k; i++) {
                char o[80];
                snprintf(o, sizeof o, "%s=", opts[i]);
                if (!strcmp(opts[i], "activation"))
                    has_act = 1;
                if (!strcmp(opts[i], "padding") && starts(word, "padding=")) {
                    emit_prefixed("padding=", "valid", word, emit, ctx);
                    emit_prefixed("padding=", "same", word, emit, ctx);
                }
                emit_if(o, word, emit, ctx);
            }
            for (int i = 0; has_act && i < sq_activation_count(); i++) {
                emit_if(sq_activation_name(i), word, emit, ctx);
                emit_prefixed("activation=", sq_activation_name(i), word, emit, ctx);
            }
            return 0;
        }
    case C_LAYER:
        for (int i = 0; i < sq_layer_count(sh->s); i++) {
            sq_layer_info li;
            if (sq_layer_get(sh->s, i, &li) == 0)
                emit_if(li.name, word, emit, ctx);
        }
        return 0;
    case C_TOPIC:
        for (const sh_command *c = sh_commands; c->name; c++)
            emit_if(c->name, word, emit, ctx);
        emit_kinds(word, emit, ctx);
        emit_if("activations", word, emit, ctx);
        return 0;
    case C_INPUT:
        if (n == 1) {
            static const char *gens[] = { "ones", "zeros", "random", "range" };
            for (int i = 0; i < 4; i++)
                emit_if(gens[i], word, emit, ctx);
        }
        emit_if("save=", word, emit, ctx);
        return n == 1;
    case C_FILE:
        return 1;
    default:
        return 0;
    }
}

/* Readline glue: candidates collected into a list the generator walks. */
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
    for (int i = 0; i < ncands; i++)
        free(cands[i]);
    ncands = 0;
    want_files = sh_complete_words(the_shell, rl_line_buffer, start, text, collect, NULL);
    rl_attempted_completion_over = 1;
    rl_completion_append_character = ' ';
    if (ncands == 0 && !want_files)
        return NULL;
    if (ncands > 0 && !want_files) {
        int all_eq = 1;
        for (int i = 0; i < ncands; i++)
            if (cands[i][strlen(cands[i]) - 1] != '=')
                all_eq = 0;
        if (all_eq)
            rl_completion_append_character = '\0';
    }
    if (want_files)
        rl_filename_completion_desired = 1;
    return rl_completion_matches(text, generator);
}

/* ---- history ------------------------------------------------------------ */

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

static void save_history(void)
{
    if (!histfile)
        return;
    stifle_history(HISTORY_MAX);
    if (write_history(histfile) == 0)
        chmod(histfile, 0600);
}

/* ---- signals ------------------------------------------------------------ */

static void on_sigint(int sig)
{
    (void)sig;
    sh_interrupted = 1;
}

static void on_sigterm(int sig)
{
    (void)sig;
    got_term = 1;
    sh_interrupted = 1;
}

static int event_hook(void)
{
    if (got_term) {
        save_history();
        rl_cleanup_after_signal();
        _exit(143);
    }
    if (sh_interrupted) {
        sh_interrupted = 0;
        rl_replace_line("", 0);
        rl_crlf();
        rl_on_new_line();
        rl_redisplay();
    }
    return 0;
}

static void run_interactive_line(shell *sh, char *l)
{
    if (!*l)
        return;
    add_history(l);
    sh_interrupted = 0;
    /* `history` lists what worked, so it replays as a script */
    if (sh_run_line(sh, l, NULL, 0) == 0)
        sh_remember(sh, l);
    if (got_term) {
        save_history();
        exit(143);
    }
    sh_interrupted = 0;
}

void sh_interactive(shell *sh)
{
    the_shell = sh;
    rl_readline_name = "seqsh";
    rl_attempted_completion_function = attempted;
    rl_signal_event_hook = event_hook;
    rl_basic_word_break_characters = " \t\n;";
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_sigint;     /* no SA_RESTART: reads return EINTR */
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = on_sigterm;
    sigaction(SIGTERM, &sa, NULL);
    using_history();
    histfile = history_path();
    if (histfile)
        read_history(histfile);
    if (!sh->quiet)
        printf("seqsh %s: Keras-style Sequential models. Type 'help' for commands.\n",
               PACKAGE_VERSION);
    char *pending = NULL;  /* a line continued with a trailing backslash */
    while (!sh->want_exit) {
        char *line = readline(pending ? SH_PROMPT2 : SH_PROMPT);
        if (!line)
            break;
        /* a pasted block arrives as one string: run it line by line */
        char *save = NULL;
        for (char *l = strtok_r(line, "\n", &save); l && !sh->want_exit;
             l = strtok_r(NULL, "\n", &save)) {
            size_t k = strlen(l);
            int cont = k > 0 && l[k - 1] == '\\';
            if (cont)
                l[k - 1] = ' ';
            if (pending || cont) {
                size_t pk = pending ? strlen(pending) : 0;
                char *j = realloc(pending, pk + strlen(l) + 1);
                if (!j)
                    break;
                memcpy(j + pk, l, strlen(l) + 1);
                pending = j;
                if (cont)
                    continue;
                run_interactive_line(sh, pending);
                free(pending);
                pending = NULL;
                continue;
            }
            run_interactive_line(sh, l);
        }
        free(line);
    }
    free(pending);
    if (!sh->want_exit)
        putchar('\n');
    save_history();
    free(histfile);
    histfile = NULL;
    for (int i = 0; i < ncands; i++)
        free(cands[i]);
    free(cands);
    cands = NULL;
    ncands = capcands = 0;
}
