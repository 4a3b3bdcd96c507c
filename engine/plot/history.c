/* history.c - `plot history FILE`: the History's curves drawn with cairo,
 * one panel per metric (loss, accuracy, ...), the training values solid
 * blue and the validation values dashed orange, against the epoch. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "plot/plot.h"

#define WIDTH 720.0
#define PANEL 300.0
#define MAX_NAMES 32

typedef struct {
    double l, r, t, b;        /* the plot area */
    double x0, x1, y0, y1;    /* the data range it shows */
} frame;

static double fx(const frame *f, double x)
{
    return f->l + (x - f->x0) / (f->x1 - f->x0) * (f->r - f->l);
}

static double fy(const frame *f, double y)
{
    return f->b - (y - f->y0) / (f->y1 - f->y0) * (f->b - f->t);
}

/* 1, 2 or 5 times a power of ten, near span / n. */
static double nice_step(double span, int n)
{
    double raw = span / n, p = pow(10, floor(log10(raw))), m = raw / p;
    return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

static void text_at(cairo_t *cr, double x, double y, const char *s, double align)
{
    cairo_text_extents_t e;
    cairo_text_extents(cr, s, &e);
    cairo_move_to(cr, x - align * e.x_advance, y);
    cairo_show_text(cr, s);
}

static void curve(cairo_t *cr, const frame *f, const double *v, int n, int dashed,
                  double red, double green, double blue)
{
    static const double dash[] = { 6, 4 };
    cairo_set_source_rgb(cr, red, green, blue);
    cairo_set_line_width(cr, 2);
    cairo_set_dash(cr, dash, dashed ? 2 : 0, 0);
    int open = 0;
    for (int i = 0; i < n; i++) {
        if (isnan(v[i])) {
            open = 0;
            continue;
        }
        if (open)
            cairo_line_to(cr, fx(f, i + 1), fy(f, v[i]));
        else
            cairo_move_to(cr, fx(f, i + 1), fy(f, v[i]));
        open = 1;
    }
    cairo_stroke(cr);
    cairo_set_dash(cr, NULL, 0, 0);
    for (int i = 0; i < n; i++) {
        if (isnan(v[i]))
            continue;
        cairo_arc(cr, fx(f, i + 1), fy(f, v[i]), 3, 0, 6.283185307179586);
        cairo_fill(cr);
    }
}

/* The legend sits in the title line, right-aligned: entry 0 leftmost. */
static void legend_entry(cairo_t *cr, const frame *f, int k, const char *label, int dashed,
                         double red, double green, double blue)
{
    static const double dash[] = { 6, 4 };
    double y = f->t - 14, x = f->r - 230 + 120 * k;
    cairo_set_source_rgb(cr, red, green, blue);
    cairo_set_line_width(cr, 2);
    cairo_set_dash(cr, dash, dashed ? 2 : 0, 0);
    cairo_move_to(cr, x, y - 4);
    cairo_line_to(cr, x + 30, y - 4);
    cairo_stroke(cr);
    cairo_set_dash(cr, NULL, 0, 0);
    cairo_set_source_rgb(cr, 0, 0, 0);
    text_at(cr, x + 38, y, label, 0);
}

static void panel(cairo_t *cr, double top, const char *name, const double *tr, const double *va,
                  int n)
{
    frame f = { 80, WIDTH - 20, top + 40, top + PANEL - 50, 0, 0, INFINITY, -INFINITY };
    for (int i = 0; i < n; i++) {
        if (!isnan(tr[i])) {
            f.y0 = fmin(f.y0, tr[i]);
            f.y1 = fmax(f.y1, tr[i]);
        }
        if (va && !isnan(va[i])) {
            f.y0 = fmin(f.y0, va[i]);
            f.y1 = fmax(f.y1, va[i]);
        }
    }
    if (!(f.y1 > f.y0)) {
        double pad = fabs(f.y0) > 0 ? fabs(f.y0) * 0.1 : 0.5;
        f.y0 -= pad;
        f.y1 += pad;
    } else {
        double pad = (f.y1 - f.y0) * 0.05;
        f.y0 -= pad;
        f.y1 += pad;
    }
    /* room for the end points' dots */
    f.x0 = n > 1 ? 1 - 0.02 * (n - 1) : 0.5;
    f.x1 = n > 1 ? n + 0.02 * (n - 1) : 1.5;
    char s[32];
    /* grid and ticks */
    cairo_select_font_face(cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, 12);
    cairo_set_line_width(cr, 1);
    double ys = nice_step(f.y1 - f.y0, 5);
    for (double y = ceil(f.y0 / ys) * ys; y <= f.y1 + ys * 1e-9; y += ys) {
        cairo_set_source_rgb(cr, 0.88, 0.88, 0.88);
        cairo_move_to(cr, f.l, fy(&f, y));
        cairo_line_to(cr, f.r, fy(&f, y));
        cairo_stroke(cr);
        cairo_set_source_rgb(cr, 0, 0, 0);
        snprintf(s, sizeof s, "%.6g", fabs(y) < ys * 1e-9 ? 0.0 : y);
        text_at(cr, f.l - 6, fy(&f, y) + 4, s, 1);
    }
    double xs = n > 1 ? fmax(1, round(nice_step(n - 1, 8))) : 1;
    for (double x = 1; x <= n; x += xs) {
        cairo_set_source_rgb(cr, 0.88, 0.88, 0.88);
        cairo_move_to(cr, fx(&f, x), f.t);
        cairo_line_to(cr, fx(&f, x), f.b);
        cairo_stroke(cr);
        cairo_set_source_rgb(cr, 0, 0, 0);
        snprintf(s, sizeof s, "%.0f", x);
        text_at(cr, fx(&f, x), f.b + 16, s, 0.5);
    }
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_rectangle(cr, f.l, f.t, f.r - f.l, f.b - f.t);
    cairo_stroke(cr);
    text_at(cr, (f.l + f.r) / 2, f.b + 36, "epoch", 0.5);
    cairo_select_font_face(cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_BOLD);
    cairo_set_font_size(cr, 15);
    text_at(cr, f.l, top + 26, name, 0);
    cairo_select_font_face(cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, 12);
    /* the curves, clipped to the frame */
    cairo_save(cr);
    cairo_rectangle(cr, f.l, f.t, f.r - f.l, f.b - f.t);
    cairo_clip(cr);
    curve(cr, &f, tr, n, 0, 0.12, 0.47, 0.71);
    if (va)
        curve(cr, &f, va, n, 1, 1.0, 0.5, 0.05);
    cairo_restore(cr);
    legend_entry(cr, &f, 0, "training", 0, 0.12, 0.47, 0.71);
    if (va)
        legend_entry(cr, &f, 1, "validation", 1, 1.0, 0.5, 0.05);
}

int sq_plot_history(const sq_session *s, const char *path, sq_error *err)
{
    sq_plot_fmt fmt = sq_plot_format(path);
    if (fmt != SQ_PLOT_PNG && fmt != SQ_PLOT_SVG && fmt != SQ_PLOT_PDF)
        return sq_fail(err, "plot history: cannot tell the format of '%s': name it .png, .svg "
                       "or .pdf", path);
    int n = sq_history_epochs(s);
    if (n <= 0)
        return sq_fail(err, "plot history: no epochs yet: fit the model first (the history "
                       "starts again at compile)");
    const char *names[MAX_NAMES];
    int nn = sq_history_names(s, names, MAX_NAMES), panels = 0;
    for (int i = 0; i < nn; i++)
        panels += strncmp(names[i], "val_", 4) != 0;
    double *tr = sq_malloc(2 * (size_t)n * sizeof *tr);
    if (!tr)
        return sq_fail(err, "out of memory");
    double *va = tr + n;
    sq_canvas c;
    if (sq_canvas_open(&c, fmt, WIDTH, PANEL * panels, err) < 0) {
        free(tr);
        return -1;
    }
    cairo_set_source_rgb(c.cr, 1, 1, 1);
    cairo_paint(c.cr);
    int k = 0;
    for (int i = 0; i < nn; i++) {
        if (!strncmp(names[i], "val_", 4))
            continue;
        char vname[160];
        snprintf(vname, sizeof vname, "val_%s", names[i]);
        sq_history_values(s, names[i], tr, n);
        int has_val = 0;
        if (sq_history_values(s, vname, va, n) > 0)
            for (int e = 0; e < n; e++)
                has_val |= !isnan(va[e]);
        panel(c.cr, PANEL * k++, names[i], tr, has_val ? va : NULL, n);
    }
    free(tr);
    return sq_canvas_close(&c, path, err);
}
