/* main.c - seqsh's entry point: options, the choice between interactive and
 * script mode, the line reader, and error reporting with FILE:LINE. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <readline/readline.h>
#include <readline/history.h>
#include "config.h"
#include "shell.h"

static volatile sig_atomic_t got_sigint;
static shell *the_shell;   /* for the signal handler's flag only */

static void on_sigint(int sig)
{
    (void)sig;
    got_sigint = 1;
    if (the_shell)
        the_shell->interrupted = 1;
}

static void report(shell *sh, const char *src, int lineno)
{
    if (sh->interactive && !strcmp(src, "<tty>"))
        fprintf(stderr, "error: %s\n", sh->err);
    else
        fprintf(stderr, "%s:%d: error: %s\n", src, lineno, sh->err);
}

static void remember(shell *sh, const char *line)
{
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

static int run_cmd(shell *sh, sh_cmd *c)
{
    const sh_command *cmd = sh_command_find(c->argv[0]);
    if (!cmd)
        return sh_fail(sh, "unknown command '%s' (try 'help')", c->argv[0]);
    int nargs = c->argc - 1;
    if (nargs < cmd->min_args || (cmd->max_args >= 0 && nargs > cmd->max_args))
        return sh_fail(sh, "usage: %s", cmd->usage);
    return cmd->fn(sh, c->argc, c->argv);
}

int sh_run_line(shell *sh, const char *line, const char *src, int lineno)
{
    sh_cmd *cmds;
    int n, rc = 0;
    if (sh_lex(line, &cmds, &n, sh->err, sizeof sh->err) < 0) {
        report(sh, src, lineno);
        return -1;
    }
    for (int i = 0; i < n && !sh->want_exit; i++) {
        if (sh->echo) {
            printf("seqsh>");
            for (int j = 0; j < cmds[i].argc; j++)
                printf(" %s", cmds[i].argv[j]);
            putchar('\n');
        }
        if (run_cmd(sh, &cmds[i]) < 0) {
            fflush(stdout);
            report(sh, src, lineno);
            rc = -1;
            if (!sh->interactive || strcmp(src, "<tty>"))
                break;
        }
        fflush(stdout);
    }
    sh_cmds_free(cmds, n);
    return rc;
}

/* Reads one logical line (joining trailing-backslash continuations) from f.
 * Returns a malloc'd line or NULL at end of file. */
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
        if (!o)
            break;
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

int sh_run_file(shell *sh, FILE *f, const char *name)
{
    int lineno = 0, first, failed = 0;
    char *line;
    while (!sh->want_exit && (line = read_logical(f, &lineno, &first))) {
        if (sh->interrupted) {
            free(line);
            break;
        }
        int rc = sh_run_line(sh, line, name, first);
        free(line);
        if (rc < 0) {
            failed = 1;
            if (!sh->keep_going)
                break;
        }
    }
    return failed ? -1 : 0;
}

static void interactive_loop(shell *sh)
{
    rl_readline_name = "seqsh";
    if (!sh->quiet)
        printf("seqsh %s: Keras-style Sequential models. Type 'help' for commands.\n",
               PACKAGE_VERSION);
    char *line;
    while (!sh->want_exit && (line = readline("seqsh> "))) {
        sh->interrupted = 0;
        /* a pasted block arrives as one string: run it line by line */
        char *save = NULL;
        for (char *l = strtok_r(line, "\n", &save); l && !sh->want_exit;
             l = strtok_r(NULL, "\n", &save)) {
            if (*l) {
                add_history(l);
                remember(sh, l);
            }
            sh_run_line(sh, l, "<tty>", 0);
        }
        free(line);
    }
    if (!sh->want_exit)
        putchar('\n');
}

static void usage(FILE *f)
{
    fprintf(f,
        "Usage: seqsh [OPTION]... [FILE.seq]...\n"
        "Build, inspect and run Keras-style Sequential models one command at a time.\n"
        "With FILEs, replay them in order and exit; with none, read commands from\n"
        "standard input (interactively when it is a terminal).\n\n"
        "  -c, --command=CMDS   run CMDS (';' separates commands), then exit\n"
        "  -i, --interactive    stay interactive after the FILEs and commands\n"
        "  -q, --quiet          no banner, no per-layer feedback\n"
        "      --echo           print each command before its output\n"
        "      --keep-going     carry on after a failing command (still exit 1)\n"
        "      --seed=N         seed the random numbers\n"
        "      --threads=N      use N threads for the maths\n"
        "  -h, --help           show this help and exit\n"
        "  -V, --version        show the version and exit\n\n"
        "Exit status: 0 success, 1 a command failed, 2 bad usage, 130 interrupted.\n\n"
        "Report bugs to: %s\n", PACKAGE_BUGREPORT);
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { "interactive", no_argument, NULL, 'i' },
        { "command", required_argument, NULL, 'c' },
        { "quiet", no_argument, NULL, 'q' },
        { "echo", no_argument, NULL, 'E' },
        { "keep-going", no_argument, NULL, 'k' },
        { "seed", required_argument, NULL, 'S' },
        { "threads", required_argument, NULL, 'T' },
        { NULL, 0, NULL, 0 },
    };
    shell sh = { 0 };
    int force_interactive = 0, opt, rc = 0;
    char **commands = NULL;
    int ncommands = 0;
    long long seed = -1;
    while ((opt = getopt_long(argc, argv, "hVic:q", longopts, NULL)) != -1) {
        switch (opt) {
        case 'h': usage(stdout); return 0;
        case 'V':
            printf("seqsh (%s) %s\nThis is free software; there is NO warranty.\n",
                   PACKAGE_NAME, PACKAGE_VERSION);
            return 0;
        case 'i': force_interactive = 1; break;
        case 'c': {
            char **c = realloc(commands, (size_t)(ncommands + 1) * sizeof *c);
            if (!c) { fprintf(stderr, "seqsh: out of memory\n"); return 1; }
            commands = c;
            commands[ncommands++] = optarg;
            break;
        }
        case 'q': sh.quiet = 1; break;
        case 'E': sh.echo = 1; break;
        case 'k': sh.keep_going = 1; break;
        case 'S': {
            char *end;
            errno = 0;
            seed = strtoll(optarg, &end, 10);
            if (end == optarg || *end || errno || seed < 0) {
                fprintf(stderr, "seqsh: --seed needs a non-negative integer, got '%s'\n"
                        "Try 'seqsh --help' for more information.\n", optarg);
                return 2;
            }
            break;
        }
        case 'T': {
            char *end;
            long t = strtol(optarg, &end, 10);
            if (end == optarg || *end || t < 1 || t > 1024) {
                fprintf(stderr, "seqsh: --threads needs a positive integer, got '%s'\n"
                        "Try 'seqsh --help' for more information.\n", optarg);
                return 2;
            }
            break;
        }
        default:
            fprintf(stderr, "Try 'seqsh --help' for more information.\n");
            return 2;
        }
    }
    sh.s = sq_session_new();
    if (!sh.s) {
        fprintf(stderr, "seqsh: out of memory\n");
        return 1;
    }
    if (seed >= 0)
        sq_seed(sh.s, (unsigned long long)seed);
    the_shell = &sh;
    sq_set_interrupt_flag(sh.s, (volatile int *)&sh.interrupted);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);

    int failed = 0;
    for (int i = 0; i < ncommands && !sh.want_exit; i++) {
        if (sh_run_line(&sh, commands[i], "-c", i + 1) < 0) {
            failed = 1;
            if (!sh.keep_going)
                goto done;
        }
    }
    for (int i = optind; i < argc && !sh.want_exit; i++) {
        FILE *f = fopen(argv[i], "r");
        if (!f) {
            fprintf(stderr, "seqsh: cannot open '%s': %s\n", argv[i], strerror(errno));
            failed = 1;
            if (!sh.keep_going)
                goto done;
            continue;
        }
        if (sh_run_file(&sh, f, argv[i]) < 0) {
            failed = 1;
            fclose(f);
            if (!sh.keep_going)
                goto done;
            continue;
        }
        fclose(f);
        if (sh.interrupted)
            goto done;
    }
    if (sh.want_exit)
        goto done;
    if ((ncommands == 0 && optind == argc) || force_interactive) {
        if (isatty(0) && isatty(1)) {
            sh.interactive = 1;
            interactive_loop(&sh);
        } else if (sh_run_file(&sh, stdin, "stdin") < 0) {
            failed = 1;
        }
    }
done:
    if (sh.interrupted && !sh.interactive)
        rc = 130;
    else
        rc = failed ? 1 : 0;
    for (int i = 0; i < sh.nhistory; i++)
        free(sh.history[i]);
    free(sh.history);
    free(commands);
    sq_session_free(sh.s);
    return rc;
}
