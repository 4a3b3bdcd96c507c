/* settings.c - the session-wide settings `set` shows and changes: the
 * memory limit and the number of threads, with their ranges. */
#include <stdio.h>
#include "model.h"

#define THREADS_MAX 256

char *sq_settings_text(sq_error *err)
{
    char b[32];
    double lim = (double)sq_get_memory_limit();
    if (lim >= 1024.0 * 1024 * 1024)
        snprintf(b, sizeof b, "%.1fG", lim / (1024.0 * 1024 * 1024));
    else
        snprintf(b, sizeof b, "%.0fM", lim / (1024.0 * 1024));
    sbuf s = { 0 };
    sb_printf(&s, "memory_limit=%s\nthreads=%d\n", b, sq_get_threads());
    return sb_finish(&s, err);
}

int sq_settings_apply(sq_args *a, sq_error *err)
{
    size_t limit = 0;
    long threads = 0;
    if (sq_arg_size(a, "memory_limit", 1024.0 * 1024, &limit, err) < 0
        || sq_arg_long(a, "threads", 1, THREADS_MAX, &threads, err) < 0)
        return -1;
    if (limit)
        sq_set_memory_limit(limit);
    if (threads)
        sq_set_threads((int)threads);
    return 0;
}
