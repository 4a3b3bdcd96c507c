/* signals.c - the shell's one signal policy, installed once by main():
 * SIGINT, SIGTERM and SIGHUP stop the running command at its next safe
 * point (between layers, batches or chunks of a file; a file being written
 * is finished and renamed first) and nothing after it runs. At the prompt
 * Ctrl-C drops the line being typed; SIGTERM and SIGHUP end the session
 * (the history is saved first). The exit status says which came: 130, 143
 * or 129. */
#include <string.h>
#include "shell.h"

volatile int sh_interrupted;
static volatile sig_atomic_t last_signal;

static void on_signal(int sig)
{
    /* SIGTERM and SIGHUP outrank a SIGINT that came before them */
    if (last_signal == 0 || last_signal == SIGINT)
        last_signal = sig;
    sh_interrupted = 1;
}

void sh_signals_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_signal;     /* no SA_RESTART: blocking reads return EINTR */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
}

void sh_signal_adopt(int sig)
{
    on_signal(sig);
}

int sh_signal(void)
{
    return last_signal;
}

void sh_signal_clear_int(void)
{
    if (last_signal == SIGINT || last_signal == 0) {
        last_signal = 0;
        sh_interrupted = 0;
    }
}

int sh_signal_status(void)
{
    switch (last_signal) {
    case SIGINT: return 130;
    case SIGTERM: return 143;
    case SIGHUP: return 129;
    default: return 0;
    }
}
