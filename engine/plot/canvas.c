/* canvas.c - cairo surfaces whose bytes end up in a file: PNG from an
 * image surface, SVG and PDF from vector surfaces writing into memory;
 * the file is written whole (a temporary renamed into place). */
#include <stdlib.h>
#include <string.h>
#include <cairo-pdf.h>
#include <cairo-svg.h>
#include "io/fileio.h"
#include "plot/plot.h"

static cairo_status_t sink(void *closure, const unsigned char *data, unsigned int len)
{
    sq_canvas *c = closure;
    if (c->len + len > c->cap) {
        size_t cap = (c->cap ? 2 * c->cap : 65536) + len;
        unsigned char *p = sq_realloc(c->bytes, cap);
        if (!p)
            return CAIRO_STATUS_NO_MEMORY;
        c->bytes = p;
        c->cap = cap;
    }
    memcpy(c->bytes + c->len, data, len);
    c->len += len;
    return CAIRO_STATUS_SUCCESS;
}

int sq_canvas_open(sq_canvas *c, sq_plot_fmt fmt, double w, double h, sq_error *err)
{
    memset(c, 0, sizeof *c);
    c->fmt = fmt;
    /* the pixels, and about as much again for the PNG's bytes */
    if (fmt == SQ_PLOT_PNG && sq_check_memory(w * h * 8, "this picture", err) < 0)
        return -1;
    if (fmt == SQ_PLOT_PNG)
        c->surface = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, (int)w, (int)h);
    else if (fmt == SQ_PLOT_SVG)
        c->surface = cairo_svg_surface_create_for_stream(sink, c, w, h);
    else if (fmt == SQ_PLOT_PDF)
        c->surface = cairo_pdf_surface_create_for_stream(sink, c, w, h);
    else
        return sq_fail(err, "no such picture format");
    if (cairo_surface_status(c->surface) != CAIRO_STATUS_SUCCESS) {
        cairo_surface_destroy(c->surface);
        c->surface = NULL;
        return sq_fail(err, "cairo could not make a %.0fx%.0f picture", w, h);
    }
    c->cr = cairo_create(c->surface);
    return 0;
}

int sq_canvas_close(sq_canvas *c, const char *path, sq_error *err)
{
    int rc = -1;
    cairo_status_t st = cairo_status(c->cr);
    cairo_destroy(c->cr);
    c->cr = NULL;
    if (st == CAIRO_STATUS_SUCCESS) {
        if (c->fmt == SQ_PLOT_PNG)
            st = cairo_surface_write_to_png_stream(c->surface, sink, c);
        cairo_surface_finish(c->surface);
        if (st == CAIRO_STATUS_SUCCESS)
            st = cairo_surface_status(c->surface);
    }
    cairo_surface_destroy(c->surface);
    c->surface = NULL;
    if (st != CAIRO_STATUS_SUCCESS)
        sq_fail(err, "cairo could not draw the picture: %s", cairo_status_to_string(st));
    else
        rc = sq_write_file_atomic(path, c->bytes, c->len, err);
    free(c->bytes);
    c->bytes = NULL;
    return rc;
}
