/* runstat: run a command with a time limit, then append its wall time, peak
 * memory and page faults to a file.
 *
 *   runstat OUTFILE SECONDS COMMAND [ARG...]
 *
 * Appends "WALL_MS MAXRSS_KB FAULTS" to OUTFILE.  Wall time is
 * CLOCK_MONOTONIC around fork/exec/wait; peak memory is ru_maxrss from
 * wait4() for the child (the number /usr/bin/time -f %M prints), in KiB;
 * faults are its minor and major page faults (ru_minflt + ru_majflt, what
 * /usr/bin/time -f '%R + %F' prints).  After SECONDS
 * the child gets SIGTERM, 5 s later SIGKILL, and runstat exits 124 (as
 * timeout(1) does).  Otherwise the exit status is the child's (128+N if it
 * was killed by signal N).  stdin, stdout and stderr are the child's. */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>

static volatile sig_atomic_t alarmed;
static void on_alarm(int sig) { (void)sig; alarmed++; }

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: runstat OUTFILE SECONDS COMMAND [ARG...]\n");
        return 2;
    }
    unsigned limit = (unsigned)atoi(argv[2]);
    if (limit == 0) limit = 1;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;          /* no SA_RESTART: wait4 sees EINTR */
    sigaction(SIGALRM, &sa, NULL);

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid_t pid = fork();
    if (pid < 0) {
        perror("runstat: fork");
        return 127;
    }
    if (pid == 0) {
        signal(SIGALRM, SIG_DFL);
        execvp(argv[3], argv + 3);
        fprintf(stderr, "runstat: %s: %s\n", argv[3], strerror(errno));
        _exit(127);
    }
    alarm(limit);
    int status, timed_out = 0;
    struct rusage ru;
    for (;;) {
        if (wait4(pid, &status, 0, &ru) == pid) break;
        if (errno != EINTR) {
            perror("runstat: wait4");
            return 127;
        }
        if (alarmed == 1 && !timed_out) {
            timed_out = 1;
            fprintf(stderr, "runstat: %s: no answer after %u s, stopping it\n",
                    argv[3], limit);
            kill(pid, SIGTERM);
            alarm(5);
        } else if (alarmed >= 2) {
            kill(pid, SIGKILL);
        }
    }
    alarm(0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3
              + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-6;
    FILE *f = fopen(argv[1], "a");
    if (!f) {
        perror(argv[1]);
        return 127;
    }
    fprintf(f, "%.3f %ld %ld\n", ms, (long)ru.ru_maxrss, (long)(ru.ru_minflt + ru.ru_majflt));
    fclose(f);
    if (timed_out) return 124;
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return 127;
}
