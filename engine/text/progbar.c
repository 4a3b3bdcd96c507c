/* progbar.c - Keras 2.6's progress bar text (keras/utils/generic_utils.py
 * Progbar), character for character. The engine hands finished lines to
 * the caller's callback; drawing them is the caller's business. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "model.h"
#include "text/progbar.h"

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Appends printf output to buf at *len, never past n. */
static void put(char *buf, size_t n, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
#include <stdarg.h>
static void put(char *buf, size_t n, size_t *len, const char *fmt, ...)
{
    if (*len >= n)
        return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(buf + *len, n - *len, fmt, ap);
    va_end(ap);
    if (k > 0)
        *len += (size_t)k < n - *len ? (size_t)k : n - *len - 1;
}

static void put_values(char *buf, size_t n, size_t *len, int nv,
                       const char *const *names, const double *values, int v2)
{
    for (int i = 0; i < nv; i++) {
        put(buf, n, len, " - %s:", names[i]);
        /* verbose=1 tests abs(avg) > 1e-3; verbose=2 tests avg > 1e-3 */
        double v = values[i];
        if (v2 ? v > 1e-3 : fabs(v) > 1e-3)
            put(buf, n, len, " %.4f", v);
        else
            put(buf, n, len, " %.4e", v);
    }
}

static int digits(long target)
{
    return (int)floor(log10((double)target)) + 1;
}

void sq_progbar_format(char *buf, size_t n, int verbose, long current, long target,
                       int finalize, double elapsed, double per_step, int nv,
                       const char *const *names, const double *values)
{
    size_t len = 0;
    buf[0] = '\0';
    if (verbose == 2) {
        put(buf, n, &len, "%*ld/%ld - %.0fs", digits(target), current, target, elapsed);
        put_values(buf, n, &len, nv, names, values, 1);
        return;
    }
    put(buf, n, &len, "%*ld/%ld [", digits(target), current, target);
    int width = (int)(30.0 * (double)current / (double)target);
    for (int i = 0; i < width - 1; i++)
        put(buf, n, &len, "=");
    if (width > 0)
        put(buf, n, &len, current < target ? ">" : "=");
    for (int i = width; i < 30; i++)
        put(buf, n, &len, ".");
    put(buf, n, &len, "]");
    if (finalize) {
        put(buf, n, &len, " - %.0fs", elapsed);
        if (per_step >= 1 || per_step == 0)
            put(buf, n, &len, " %.0fs/step", per_step);
        else if (per_step >= 1e-3)
            put(buf, n, &len, " %.0fms/step", per_step * 1e3);
        else
            put(buf, n, &len, " %.0fus/step", per_step * 1e6);
    } else {
        double eta = per_step * (double)(target - current);
        if (eta > 3600)
            put(buf, n, &len, " - ETA: %d:%02d:%02d", (int)(eta / 3600),
                (int)fmod(eta, 3600) / 60, (int)fmod(eta, 60));
        else if (eta > 60)
            put(buf, n, &len, " - ETA: %d:%02d", (int)(eta / 60), (int)fmod(eta, 60));
        else
            put(buf, n, &len, " - ETA: %ds", (int)eta);
    }
    put_values(buf, n, &len, nv, names, values, 0);
}

void sq_progbar_start(sq_progbar *p, long target, int verbose, sq_progress_fn cb, void *ctx)
{
    memset(p, 0, sizeof *p);
    p->target = target;
    p->verbose = verbose;
    p->cb = cb;
    p->ctx = ctx;
    p->start = now_s();
    p->last_update = -1;
}

void sq_progbar_update(sq_progbar *p, long current, int nv, const char *const *names,
                       const double *values, int finalize)
{
    double now = now_s();
    if (current == 1)
        p->after_first = now;
    if (!p->cb || p->verbose == 0)
        return;
    if (p->verbose == 2 && !finalize)
        return;
    if (!finalize && p->last_update >= 0 && now - p->last_update < 0.05)
        return;
    p->last_update = now;
    /* Keras's _estimate_step_duration: leave out the first (warm-up) step */
    double per_step = 0;
    if (current > 1 && p->after_first > 0)
        per_step = (now - p->after_first) / (double)(current - 1);
    else if (current > 0)
        per_step = (now - p->start) / (double)current;
    char line[1024];
    sq_progbar_format(line, sizeof line, p->verbose, current, p->target, finalize,
                      now - p->start, per_step, nv, names, values);
    p->cb(p->ctx, line, finalize ? SQ_PROGRESS_FINAL : SQ_PROGRESS_UPDATE);
}
