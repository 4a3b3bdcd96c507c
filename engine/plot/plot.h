/* plot.h - what the drawing files share (engine-internal). */
#ifndef SEQSH_PLOT_H
#define SEQSH_PLOT_H

#include <cairo.h>
#include "base/base.h"

/* A picture's format, from its file name's extension (any case). */
typedef enum { SQ_PLOT_UNKNOWN, SQ_PLOT_DOT, SQ_PLOT_SVG, SQ_PLOT_PNG, SQ_PLOT_PDF } sq_plot_fmt;
sq_plot_fmt sq_plot_format(const char *path);

/* Lays out a graph in the dot language with Graphviz's library and writes
 * it to path in Graphviz's output format (e.g. "svg", "png:cairo"). */
int sq_render_dot(const char *dot, const char *format, const char *path, sq_error *err);

/* A cairo surface whose picture goes to a file when closed. */
typedef struct {
    sq_plot_fmt fmt;
    cairo_surface_t *surface;
    cairo_t *cr;                /* draw with this */
    unsigned char *bytes;       /* the file's bytes (SVG, PDF as drawn; PNG at close) */
    size_t len, cap;
} sq_canvas;
/* A w x h canvas (pixels for PNG, points for SVG and PDF) of format fmt. */
int sq_canvas_open(sq_canvas *c, sq_plot_fmt fmt, double w, double h, sq_error *err);
/* Finishes the picture and writes it to path; frees the canvas either way. */
int sq_canvas_close(sq_canvas *c, const char *path, sq_error *err);

#endif
