/* chart.c - `plot history` in a terminal: the loss and metric curves of
 * the History drawn with Unicode braille (each character a 2x4 grid of
 * dots), one panel per metric, training solid and validation dotted. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "text/text.h"

#define ROWS 8          /* character rows of a panel's plot area */
#define MAX_NAMES 32

/* A grid of dots, w x h, 2x4 to a character. */
typedef struct {
    int w, h;             /* in dots */
    unsigned char *bits;  /* one braille bit pattern per character */
} dots;

static void dot_set(dots *d, int x, int y)
{
    if (x < 0 || y < 0 || x >= d->w || y >= d->h)
        return;
    static const unsigned char bit[2][4] = { { 0x01, 0x02, 0x04, 0x40 },
                                             { 0x08, 0x10, 0x20, 0x80 } };
    d->bits[(y / 4) * (d->w / 2) + x / 2] |= bit[x % 2][y % 4];
}

/* A line of dots from (x0, y0) to (x1, y1) (Bresenham); every other dot
 * when dotted. */
static void dot_line(dots *d, int x0, int y0, int x1, int y1, int dotted)
{
    int dx = abs(x1 - x0), sx = x0 < x1 ? 1 : -1;
    int dy = -abs(y1 - y0), sy = y0 < y1 ? 1 : -1;
    int e = dx + dy;
    for (int k = 0;; k++) {
        if (!dotted || k % 2 == 0)
            dot_set(d, x0, y0);
        if (x0 == x1 && y0 == y1)
            break;
        int e2 = 2 * e;
        if (e2 >= dy) {
            e += dy;
            x0 += sx;
        }
        if (e2 <= dx) {
            e += dx;
            y0 += sy;
        }
    }
}

/* One series: its values at epochs 0..n-1 on the grid, NaN breaking it. */
static void series(dots *d, const double *v, int n, double lo, double hi, int dotted)
{
    int px = -1, py = -1;
    for (int i = 0; i < n; i++) {
        if (isnan(v[i])) {
            px = -1;
            continue;
        }
        int x = n > 1 ? (int)lround((double)i * (d->w - 1) / (n - 1)) : 0;
        int y = hi > lo ? (int)lround((hi - v[i]) / (hi - lo) * (d->h - 1)) : d->h / 2;
        if (px >= 0)
            dot_line(d, px, py, x, y, dotted);
        else
            dot_set(d, x, y);
        px = x;
        py = y;
    }
}

/* U+2800 + bits in UTF-8. */
static void braille(sbuf *b, unsigned char bits)
{
    sb_printf(b, "%c%c%c", 0xE2, 0xA0 + (bits >> 6), 0x80 + (bits & 0x3F));
}

void sq_chart_panel(sbuf *b, const char *name, const double *tr, const double *va, int n,
                    int width)
{
    double lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < n; i++) {
        if (!isnan(tr[i])) {
            lo = fmin(lo, tr[i]);
            hi = fmax(hi, tr[i]);
        }
        if (va && !isnan(va[i])) {
            lo = fmin(lo, va[i]);
            hi = fmax(hi, va[i]);
        }
    }
    char top[32], bottom[32];
    snprintf(top, sizeof top, "%.4g", hi);
    snprintf(bottom, sizeof bottom, "%.4g", lo);
    int lw = (int)(strlen(top) > strlen(bottom) ? strlen(top) : strlen(bottom)) + 1;
    int cols = width - lw - 1;
    dots d = { 2 * cols, 4 * ROWS, NULL };
    d.bits = sq_calloc((size_t)(cols * ROWS), 1);
    if (!d.bits) {
        b->oom = 1;
        return;
    }
    series(&d, tr, n, lo, hi, 0);
    if (va)
        series(&d, va, n, lo, hi, 1);
    sb_printf(b, "%s\n", name);
    for (int r = 0; r < ROWS; r++) {
        const char *label = r == 0 ? top : r == ROWS - 1 ? bottom : "";
        sb_printf(b, "%*s%s", lw, label, r == 0 || r == ROWS - 1 ? "\u2524" : "\u2502");
        /* trailing blank characters are left out */
        int last = cols - 1;
        while (last >= 0 && !d.bits[r * cols + last])
            last--;
        for (int c = 0; c <= last; c++)
            braille(b, d.bits[r * cols + c]);
        sb_printf(b, "\n");
    }
    free(d.bits);
    /* the epoch axis: ticks at the first and the last epoch */
    sb_printf(b, "%*s\u2514\u252c", lw, "");
    for (int c = 1; c < cols - 1; c++)
        sb_printf(b, "\u2500");
    sb_printf(b, "%s\n", cols > 1 ? "\u252c" : "");
    char last[16];
    snprintf(last, sizeof last, "%d", n);
    int gap = cols - 1 - (int)strlen(last) - 5;
    if (gap < 2)
        gap = 2;
    sb_printf(b, "%*s1%*s%*s%s\n", lw + 1, "", gap / 2 + 5, "epoch", gap - gap / 2, "", last);
    if (va)
        sb_printf(b, "%*s\u2500\u2500 %s (training)   \u00b7\u00b7 val_%s (validation)\n", lw + 1,
                  "", name, name);
    else
        sb_printf(b, "%*s\u2500\u2500 %s (training)\n", lw + 1, "", name);
}

char *sq_history_chart(const sq_session *s, int width, sq_error *err)
{
    int n = sq_history_epochs(s);
    if (n <= 0) {
        sq_fail(err, "plot history: no epochs yet: fit the model first (the history starts "
                "again at compile)");
        return NULL;
    }
    if (width < 30)
        width = 30;
    const char *names[MAX_NAMES];
    int nn = sq_history_names(s, names, MAX_NAMES);
    double *tr = sq_malloc(2 * (size_t)n * sizeof *tr);
    if (!tr) {
        sq_fail(err, "out of memory");
        return NULL;
    }
    double *va = tr + n;
    sbuf b = { 0 };
    int panels = 0;
    for (int i = 0; i < nn; i++) {
        if (!strncmp(names[i], "val_", 4))
            continue;
        char vname[160];
        snprintf(vname, sizeof vname, "val_%s", names[i]);
        sq_history_values(s, names[i], tr, n);
        int has_val = sq_history_values(s, vname, va, n) > 0;
        if (has_val) {
            has_val = 0;
            for (int k = 0; k < n; k++)
                has_val |= !isnan(va[k]);
        }
        if (panels++)
            sb_printf(&b, "\n");
        sq_chart_panel(&b, names[i], tr, has_val ? va : NULL, n, width);
    }
    free(tr);
    return sb_finish(&b, err);
}
