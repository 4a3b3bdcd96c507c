/* cmd_session.c - the commands about the session rather than the model:
 * source, time, threads, set, info, echo, quit (history is cmd_safe.c's). */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "config.h"
#include "shell.h"

int cmd_source(shell *sh, int argc, char **argv)
{
    (void)argc;
    sh->in_source++;
    int rc = sh_run_path(sh, argv[1]);
    sh->in_source--;
    return rc;
}

int cmd_time(shell *sh, int argc, char **argv)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = sh_run_cmd(sh, argc - 1, argv + 1);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (rc < 0)
        return -1;
    fflush(stdout);
    printf("Time: %.3f ms\n", (double)(t1.tv_sec - t0.tv_sec) * 1e3
           + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
    return 0;
}

/* set's options, read and applied by the engine. */
static int apply_settings(shell *sh, const char *cmd, int argc, char **argv)
{
    sq_args a;
    char *plain[64];
    int np;
    sq_error e;
    if (argc > 64)
        return sh_fail(sh, "too many words");
    if (sq_args_init(&a, cmd, argc, argv, plain, &np, &e) < 0)
        return sh_engine_fail(sh, &e);
    if (np > 0)
        return sh_fail(sh, "set takes key=value settings, got '%s'", plain[0]);
    /* an unknown setting is refused before any is changed */
    for (int i = 0; i < a.n; i++)
        if (strncmp(a.word[i], "memory_limit=", 13) && strncmp(a.word[i], "threads=", 8))
            return sh_fail(sh, "unknown setting '%.*s' (settings: memory_limit, threads)",
                           (int)a.keylen[i], a.word[i]);
    if (sq_settings_apply(&a, &e) < 0)
        return sh_engine_fail(sh, &e);
    return 0;
}

int cmd_threads(shell *sh, int argc, char **argv)
{
    (void)argc;
    char word[64];
    snprintf(word, sizeof word, "threads=%.50s", argv[1]);
    char *words[1] = { word };
    return apply_settings(sh, "threads", 1, words);
}

int cmd_set(shell *sh, int argc, char **argv)
{
    if (argc == 1) {
        sq_error e;
        char *t = sq_settings_text(&e);
        if (!t)
            return sh_engine_fail(sh, &e);
        sh_put_text(t);
        return 0;
    }
    return apply_settings(sh, "set", argc - 1, argv + 1);
}

int cmd_info(shell *sh, int argc, char **argv)
{
    (void)sh;
    (void)argc;
    (void)argv;
    printf("seqsh %s\n%s\n", PACKAGE_VERSION, sq_backend_info());
    return 0;
}

int cmd_echo(shell *sh, int argc, char **argv)
{
    (void)sh;
    for (int i = 1; i < argc; i++)
        printf("%s%s", i > 1 ? " " : "", argv[i]);
    putchar('\n');
    return 0;
}

int cmd_quit(shell *sh, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    sh->want_exit = 1;
    return 0;
}
