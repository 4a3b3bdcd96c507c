/* interrupt.c - the one interrupt flag every long loop polls. A signal
 * handler sets it (the shell's SIGINT, SIGTERM and SIGHUP); the session
 * registers it here, so that code with no session at hand (the file
 * readers, the build step, and any reader added later) stops at its next
 * chunk with the same "Interrupted" as forward and fit. Process-wide, like
 * the memory limit: signals are. */
#include "base/base.h"

static volatile int *watched;   /* borrowed from the session's owner */

void sq_interrupt_watch(volatile int *flag)
{
    watched = flag;
}

volatile int *sq_interrupt_flag(void)
{
    return watched;
}

int sq_interrupted(void)
{
    return watched && *watched;
}

int sq_poll(sq_error *err)
{
    if (watched && *watched)
        return sq_fail(err, "%s", SQ_INTERRUPTED);
    return 0;
}
