/* fuzz_script.c - the command language: any bytes as a .seq script, run by
 * the shell's own input path (sh_process_input of repl/input.c) in a fresh shell and
 * session, --keep-going, so every line runs.
 *
 * Safe and bounded by construction:
 *  - it runs inside a private scratch folder (fixtures/, scripts/ and
 *    include/ link to the source tree's, for reading), and writes go through
 *    the wrapped sq_write_file_atomic of fuzz_common.c: plain names in that
 *    folder only, removed after every input;
 *  - time: an interval timer sets the shell's interrupt flag after
 *    FUZZ_TIME_LIMIT_MS (default 100) ms, as Ctrl-C would; the engine
 *    polls it between layers and batches and the runner stops;
 *  - memory: the wrapped allocator refuses single allocations over the cap;
 *  - threads: `threads N` is held at 1 (sq_set_threads is wrapped).
 * Output goes where stdout/stderr go: run with -close_fd_mask=3. */
#define _GNU_SOURCE
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>
#include "shell.h"
#include "fuzz.h"

static void on_alarm(int sig)
{
    (void)sig;
    sh_interrupted = 1;
}

static void setup(void)
{
    const char *dir = fuzz_scratch_dir();
    char top[PATH_MAX], link[PATH_MAX + 64], target[2 * PATH_MAX];
    static const char *const links[][2] = {
        { "fixtures", "tests/fixtures" },
        { "scripts", "scripts" },
        { "include", "tests/transcripts/include" },
    };
    /* the links must be absolute: the harness works in the scratch folder */
    if (!realpath(fuzz_srcdir(), top))
        snprintf(top, sizeof top, "%s", fuzz_srcdir());
    for (size_t i = 0; i < sizeof links / sizeof links[0]; i++) {
        snprintf(link, sizeof link, "%s/%s", dir, links[i][0]);
        snprintf(target, sizeof target, "%s/%s", top, links[i][1]);
        (void)symlink(target, link);
    }
    if (chdir(dir) != 0)
        abort();
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;                 /* no SA_RESTART: a blocked read fails */
    sigaction(SIGALRM, &sa, NULL);
}

static void arm(long ms)
{
    struct itimerval it;
    memset(&it, 0, sizeof it);
    it.it_value.tv_sec = ms / 1000;
    it.it_value.tv_usec = (ms % 1000) * 1000;
    setitimer(ITIMER_REAL, &it, NULL);
}

FUZZ_ENTRY(script)
{
    static int ready;
    static long limit_ms = 100;
    if (!ready) {
        setup();
        const char *e = getenv("FUZZ_TIME_LIMIT_MS");
        if (e && atol(e) > 0)
            limit_ms = atol(e);
        ready = 1;
    }
    if (size == 0)
        return 0;
    FILE *f = fmemopen((void *)data, size, "r");
    if (!f)
        return 0;
    shell sh;
    if (sh_init(&sh) < 0)
        abort();
    sh.keep_going = 1;
    sh_interrupted = 0;
    arm(limit_ms);
    sh_input in;
    sh_input_stream(&in, f, "fuzz.seq");
    sh_process_input(&sh, &in);
    arm(0);
    sh_interrupted = 0;
    fclose(f);
    if (sh.depth != 0 || sh.in_source != 0)
        abort();                     /* source bookkeeping must unwind */
    sh_deinit(&sh);
    fuzz_clean_scratch();
    return 0;
}
