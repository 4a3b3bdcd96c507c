/* main.c - seqsh's entry point: GNU-style options, then -c commands, FILE
 * arguments and standard input (interactive when it is a terminal). */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "config.h"
#include "shell.h"

static void usage(FILE *f)
{
    fprintf(f,
        "Usage: seqsh [OPTION]... [FILE.seq]...\n"
        "Build, inspect and run Keras-style Sequential models one command at a time.\n"
        "With FILEs, replay them in order and exit; with none, read commands from\n"
        "standard input (interactively when it and standard output are terminals).\n\n"
        "  -c, --command=CMDS   run CMDS (';' separates commands), then exit;\n"
        "                         may be given more than once\n"
        "  -C, --directory=DIR  run as if started in DIR (before anything else; each\n"
        "                         -C is relative to the one before, as in make)\n"
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
        "Relative paths in a script file are relative to that file's folder; at the\n"
        "prompt, in -c and on standard input, to the current folder.\n\n"
        "History is kept in $XDG_STATE_HOME/seqsh/history (or\n"
        "~/.local/state/seqsh/history); SEQSH_HISTFILE overrides, empty disables.\n\n"
        "Report bugs to: %s\n", PACKAGE_BUGREPORT);
}

static int bad_usage(const char *fmt, const char *arg)
{
    char msg[SQ_ERR_MAX];
    snprintf(msg, sizeof msg, fmt, arg);
    fprintf(stderr, "seqsh: ");
    sh_fputs(msg, stderr);
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

/* Big buffers (data sets, inputs, outputs, activations) are kept by the
 * heap when freed, for the next command: glibc would otherwise map each
 * one afresh and unmap it when freed, so every command would fault its
 * pages in again (on a virtual machine ~10 us per 4 KiB page, as long as
 * the work itself). Up to 1 GiB stays with the process between commands;
 * the engine asks huge pages for big blocks (base/alloc.c). */
static void keep_big_buffers(void)
{
#ifdef M_MMAP_MAX
    mallopt(M_MMAP_MAX, 0);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
#endif
}

int main(int argc, char **argv)
{
    fix_blas_kernel(argv);
    keep_big_buffers();
    if (sq_dist_init(&argc, &argv) < 0) {
        fprintf(stderr, "seqsh: MPI failed to start\n");
        return 1;
    }
    atexit(sq_dist_finalize);   /* every way out, usage errors included */
    /* under mpirun only rank 0 prints: results, warnings, and the errors
     * all ranks agree on (run.c) */
    if (sq_dist_rank() != 0
        && (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr))) {
        sq_dist_finalize();
        return 1;
    }
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
        { "directory", required_argument, NULL, 'C' },
        { NULL, 0, NULL, 0 },
    };
    shell sh;
    int quiet = 0, echo = 0, keep_going = 0;
    int force_interactive = 0, opt;
    char **commands = NULL;
    int ncommands = 0;
    unsigned long long seed = 0;
    int have_seed = 0;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "hVic:qC:", longopts, NULL)) != -1) {
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
                   "Maths: %s\n"
                   "MPI: %s\n",
                   PACKAGE_NAME, PACKAGE_VERSION, sq_backend_info(), sq_dist_library());
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
        case 'C':
            /* as make -C and git -C: everything after runs from DIR */
            if (chdir(optarg) != 0) {
                char msg[600];
                snprintf(msg, sizeof msg, "cannot change to '%.500s': %s", optarg,
                         strerror(errno));
                free(commands);
                return bad_usage("%s", msg);
            }
            break;
        case 'q': quiet = 1; break;
        case 'E': echo = 1; break;
        case 'k': keep_going = 1; break;
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
            /* the same setting and range as `set threads=N` */
            char word[64];
            snprintf(word, sizeof word, "threads=%.50s", optarg);
            char *words[1] = { word }, *plain[1];
            int np;
            sq_args a;
            sq_error e;
            if (sq_args_init(&a, "--threads", 1, words, plain, &np, &e) < 0
                || sq_settings_apply(&a, &e) < 0) {
                free(commands);
                return bad_usage("%s", e.msg);
            }
            break;
        }
        case '?':
        default:
            free(commands);
            if (optopt && optopt != '?' && strchr("cC", optopt))
                return bad_usage("option requires an argument -- '%s'", (char[2]){ (char)optopt, 0 });
            if (optopt)
                return bad_usage("invalid option -- '%s'", (char[2]){ (char)optopt, 0 });
            return bad_usage("unrecognized option '%s'", argv[optind - 1]);
        }
    }
    if (sh_init(&sh) < 0) {
        fprintf(stderr, "seqsh: out of memory\n");
        free(commands);
        return 1;
    }
    sh.quiet = quiet;
    sh.echo = echo;
    sh.keep_going = keep_going;
    if (have_seed) {
        sq_seed(sh.s, seed);
        sh.seed_given = 1;
        sh.seed = seed;
    }
    sh_signals_install();

    int failed = 0;
    for (int i = 0; i < ncommands && !sh.want_exit && !sh_interrupted; i++) {
        sh_input in;
        const char *cursor;
        sh_input_string(&in, commands[i], "-c", i + 1, &cursor);
        if (sh_process_input(&sh, &in) < 0) {
            failed = 1;
            if (!sh.keep_going)
                goto done;
        }
    }
    for (int i = optind; i < argc && !sh.want_exit && !sh_interrupted; i++) {
        sh.reported = 0;
        if (sh_run_path(&sh, argv[i]) < 0) {
            if (!sh.reported) {
                fputs("seqsh: ", stderr);
                sh_fputs(sh.err, stderr);
                fputc('\n', stderr);
            }
            failed = 1;
            if (!sh.keep_going)
                goto done;
        }
    }
    if (sh.want_exit || sh_interrupted)
        goto done;
    if (((ncommands == 0 && optind == argc) || force_interactive) && sq_dist_size() > 1) {
        /* mpirun hands standard input to rank 0 alone */
        if (sq_dist_rank() == 0)
            fprintf(stderr, "seqsh: under mpirun, give the commands as script files or -c "
                    "(standard input reaches rank 0 only)\n");
        failed = 1;
    } else if ((ncommands == 0 && optind == argc) || force_interactive) {
        if (isatty(0) && isatty(1)) {
            sh.interactive = 1;
            sh_interactive(&sh);
        } else {
            sh_input in;
            sh_input_stream(&in, stdin, "stdin");
            if (sh_process_input(&sh, &in) < 0)
                failed = 1;
        }
    }
done:;
    /* a signal's status wins; a Ctrl-C at the prompt was cleared there */
    int rc = sh_signal_status();
    if (!rc)
        rc = failed ? 1 : 0;
    free(commands);
    sh_deinit(&sh);
    return rc;
}
