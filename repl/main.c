/* main.c - seqsh's entry point: GNU-style options, then -c commands, FILE
 * arguments and standard input (interactive when it is a terminal). */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "config.h"
#include "shell.h"

static volatile sig_atomic_t terminated;

/* SIGINT and SIGTERM stop the running command at its next safe point (between
 * layers or batches; a file being written is finished and renamed first). */
static void on_signal(int sig)
{
    if (sig == SIGTERM)
        terminated = 1;
    sh_interrupted = 1;
}

static void usage(FILE *f)
{
    fprintf(f,
        "Usage: seqsh [OPTION]... [FILE.seq]...\n"
        "Build, inspect and run Keras-style Sequential models one command at a time.\n"
        "With FILEs, replay them in order and exit; with none, read commands from\n"
        "standard input (interactively when it and standard output are terminals).\n\n"
        "  -c, --command=CMDS   run CMDS (';' separates commands), then exit;\n"
        "                         may be given more than once\n"
        "  -i, --interactive    stay interactive after the FILEs and commands\n"
        "  -q, --quiet          no banner, no per-layer feedback\n"
        "      --echo           print each command, after the prompt, before its output\n"
        "      --keep-going     carry on after a failing command (still exit 1)\n"
        "      --seed=N         seed the random numbers (weights, random inputs)\n"
        "      --threads=N      use N threads for the maths\n"
        "  -h, --help           display this help and exit\n"
        "  -V, --version        output version information and exit\n\n"
        "Exit status: 0 if every command succeeded, 1 if a command failed,\n"
        "2 for bad usage, 130 when interrupted (143 on SIGTERM).\n\n"
        "History is kept in $XDG_STATE_HOME/seqsh/history (or\n"
        "~/.local/state/seqsh/history); SEQSH_HISTFILE overrides, empty disables.\n\n"
        "Report bugs to: %s\n", PACKAGE_BUGREPORT);
}

static int bad_usage(const char *fmt, const char *arg)
{
    fprintf(stderr, "seqsh: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry 'seqsh --help' for more information.\n");
    return 2;
}

/* Gets OpenBLAS's fast kernels on CPUs it does not recognise, unless the
 * user chose a kernel: set OPENBLAS_CORETYPE and start again (once). */
static void fix_blas_kernel(char **argv)
{
    const char *core = sq_blas_better_coretype();
    if (!core || getenv("OPENBLAS_CORETYPE") || getenv("SEQSH_BLAS_FIXED"))
        return;
    setenv("OPENBLAS_CORETYPE", core, 1);
    setenv("SEQSH_BLAS_FIXED", "1", 1);
    execv("/proc/self/exe", argv);
    /* could not re-execute: carry on with the slow kernels */
}

int main(int argc, char **argv)
{
    fix_blas_kernel(argv);
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
    shell sh;
    memset(&sh, 0, sizeof sh);
    int force_interactive = 0, opt, threads = 0;
    char **commands = NULL;
    int ncommands = 0;
    unsigned long long seed = 0;
    int have_seed = 0;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "hVic:q", longopts, NULL)) != -1) {
        switch (opt) {
        case 'h':
            usage(stdout);
            free(commands);
            return 0;
        case 'V':
            printf("seqsh (%s) %s\n"
                   "License GPLv3+: GNU GPL version 3 or later <https://gnu.org/licenses/gpl.html>.\n"
                   "This is free software: you are free to change and redistribute it.\n"
                   "There is NO WARRANTY, to the extent permitted by law.\n"
                   "Maths: %s\n",
                   PACKAGE_NAME, PACKAGE_VERSION, sq_backend_info());
            free(commands);
            return 0;
        case 'i': force_interactive = 1; break;
        case 'c': {
            char **c = realloc(commands, (size_t)(ncommands + 1) * sizeof *c);
            if (!c) {
                fprintf(stderr, "seqsh: out of memory\n");
                return 1;
            }
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
            seed = strtoull(optarg, &end, 10);
            if (end == optarg || *end || errno || optarg[0] == '-') {
                free(commands);
                return bad_usage("--seed needs a non-negative integer, got '%s'", optarg);
            }
            have_seed = 1;
            break;
        }
        case 'T': {
            char *end;
            errno = 0;
            long t = strtol(optarg, &end, 10);
            if (end == optarg || *end || errno || t < 1 || t > 256) {
                free(commands);
                return bad_usage("--threads needs an integer from 1 to 256, got '%s'", optarg);
            }
            threads = (int)t;
            break;
        }
        case '?':
        default:
            free(commands);
            if (optopt && optopt != '?' && strchr("c", optopt))
                return bad_usage("option requires an argument -- '%s'", (char[2]){ (char)optopt, 0 });
            if (optopt)
                return bad_usage("invalid option -- '%s'", (char[2]){ (char)optopt, 0 });
            return bad_usage("unrecognized option '%s'", argv[optind - 1]);
        }
    }
    sh.s = sq_session_new();
    if (!sh.s) {
        fprintf(stderr, "seqsh: out of memory\n");
        free(commands);
        return 1;
    }
    if (have_seed)
        sq_seed(sh.s, seed);
    if (threads)
        sq_set_threads(threads);
    sq_set_interrupt_flag(sh.s, &sh_interrupted);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    int failed = 0;
    for (int i = 0; i < ncommands && !sh.want_exit && !sh_interrupted; i++) {
        if (sh_run_line(&sh, commands[i], "-c", i + 1) == 0)
            sh_remember(&sh, commands[i]);
        else {
            failed = 1;
            if (!sh.keep_going)
                goto done;
        }
    }
    for (int i = optind; i < argc && !sh.want_exit && !sh_interrupted; i++) {
        sh.reported = 0;
        if (sh_run_path(&sh, argv[i]) < 0) {
            if (!sh.reported)
                fprintf(stderr, "seqsh: %s\n", sh.err);
            failed = 1;
            if (!sh.keep_going)
                goto done;
        }
    }
    if (sh.want_exit || sh_interrupted)
        goto done;
    if ((ncommands == 0 && optind == argc) || force_interactive) {
        if (isatty(0) && isatty(1)) {
            sh.interactive = 1;
            sh_interactive(&sh);
        } else if (sh_run_stream(&sh, stdin, "stdin") < 0) {
            failed = 1;
        }
    }
done:;
    int rc = terminated ? 143 : sh_interrupted && !sh.interactive ? 130 : failed ? 1 : 0;
    for (int i = 0; i < sh.nhistory; i++)
        free(sh.history[i]);
    free(sh.history);
    free(commands);
    sq_session_free(sh.s);
    return rc;
}
