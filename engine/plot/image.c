/* image.c - `show`: one sample of a tensor as an image (which axes are
 * rows, columns and colours; how values become grey levels), and the
 * image written as PNG with cairo. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "plot/plot.h"

/* Where the sample starts and its geometry, or Keras-free words why not. */
static int geometry(const sq_tensor *x, const long *shape, int nshape, const float **data,
                    long *h, long *w, int *c, sq_error *err)
{
    const sq_shape *sh = &x->shape;
    char s[128];
    size_t total = sq_shape_count(sh);
    if (total == 0)
        return sq_fail(err, "show: the input %s holds no values", sq_shape_str(sh, s, sizeof s));
    *data = x->data;
    if (nshape) {
        if (nshape < 2 || nshape > 3 || (nshape == 3 && shape[2] != 1 && shape[2] != 3
                                         && shape[2] != 4))
            return sq_fail(err, "show: shape= is H,W or H,W,C with C 1, 3 or 4");
        for (int i = 0; i < nshape; i++)
            if (shape[i] <= 0)
                return sq_fail(err, "show: shape= needs positive sizes");
        size_t per = sh->rank > 1 ? total / (size_t)sh->d[0] : total;
        size_t want = (size_t)shape[0] * (size_t)shape[1] * (size_t)(nshape == 3 ? shape[2] : 1);
        if (per != want)
            return sq_fail(err, "show: a sample of the input %s has %zu values; shape=%ld,%ld%s "
                           "holds %zu", sq_shape_str(sh, s, sizeof s), per, shape[0], shape[1],
                           nshape == 3 ? (shape[2] == 1 ? ",1" : shape[2] == 3 ? ",3" : ",4")
                                       : "", want);
        *h = shape[0];
        *w = shape[1];
        *c = nshape == 3 ? (int)shape[2] : 1;
        return 0;
    }
    long last = sh->d[sh->rank - 1];
    int colours = last == 1 || last == 3 || last == 4;
    switch (sh->rank) {
    case 4:
        if (!colours)
            return sq_fail(err, "show: a (batch, rows, cols, channels) input needs 1, 3 or 4 "
                           "channels; %s has %ld", sq_shape_str(sh, s, sizeof s), last);
        *h = sh->d[1];
        *w = sh->d[2];
        *c = (int)last;
        return 0;
    case 3:
        *h = colours ? sh->d[0] : sh->d[1];
        *w = colours ? sh->d[1] : sh->d[2];
        *c = colours ? (int)last : 1;
        return 0;
    case 2:
        *h = sh->d[0];
        *w = sh->d[1];
        *c = 1;
        return 0;
    default:
        return sq_fail(err, "show: cannot tell the rows and columns of a %s input: give "
                       "shape=H,W (or H,W,C)", sq_shape_str(sh, s, sizeof s));
    }
}

int sq_image_from_tensor(const sq_tensor *x, const long *shape, int nshape, sq_image *img,
                         sq_error *err)
{
    const float *v = NULL;
    long h = 0, w = 0;
    int c = 1;
    memset(img, 0, sizeof *img);
    if (geometry(x, shape, nshape, &v, &h, &w, &c, err) < 0)
        return -1;
    size_t npix = (size_t)h * (size_t)w;
    int out_c = c == 1 ? 1 : 3;
    if (sq_check_memory((double)npix * out_c, "this image", err) < 0)
        return -1;
    img->px = sq_malloc(npix * (size_t)out_c);
    if (!img->px)
        return sq_fail(err, "out of memory");
    img->h = h;
    img->w = w;
    img->channels = out_c;
    double lo = INFINITY, hi = -INFINITY;
    for (size_t p = 0; p < npix; p++)
        for (int k = 0; k < (c == 4 ? 3 : c); k++) {
            double a = v[p * (size_t)c + (size_t)k];
            if (isfinite(a)) {
                lo = fmin(lo, a);
                hi = fmax(hi, a);
            }
        }
    if (!(lo <= hi))
        lo = hi = 0;
    /* greys stretch from the minimum to the maximum (imshow's default);
     * colours in [0, 1] or [0, 255] keep their meaning, as do the values of
     * a one-valued image */
    int keep = c != 1 || hi == lo;
    if (keep && lo >= 0 && hi <= 1) {
        img->black = 0;
        img->white = 1;
    } else if (keep && lo >= 0 && hi <= 255) {
        img->black = 0;
        img->white = 255;
    } else if (hi > lo) {
        img->black = lo;
        img->white = hi;
    } else {
        img->black = lo - 1;
        img->white = lo;
    }
    double scale = 255.0 / (img->white - img->black);
    for (size_t p = 0; p < npix; p++)
        for (int k = 0; k < out_c; k++) {
            double a = v[p * (size_t)c + (size_t)k];
            double g = isfinite(a) ? (a - img->black) * scale : 0;
            img->px[p * (size_t)out_c + (size_t)k] = (unsigned char)(g < 0 ? 0 : g > 255 ? 255
                                                                     : lround(g));
        }
    return 0;
}

void sq_image_free(sq_image *img)
{
    free(img->px);
    img->px = NULL;
}

int sq_image_save_png(const sq_image *img, const char *path, int scale, sq_error *err)
{
    if (sq_plot_format(path) != SQ_PLOT_PNG)
        return sq_fail(err, "show: save= writes a PNG image: name the file .png");
    if (scale < 1)
        scale = 1;
    double w = (double)img->w * scale, h = (double)img->h * scale;
    if (w > 32767 || h > 32767)
        return sq_fail(err, "show: a %.0fx%.0f picture is larger than PNG pictures cairo "
                       "writes (32767 pixels a side)", w, h);
    sq_canvas c;
    if (sq_canvas_open(&c, SQ_PLOT_PNG, w, h, err) < 0)
        return -1;
    cairo_surface_flush(c.surface);
    unsigned char *data = cairo_image_surface_get_data(c.surface);
    int stride = cairo_image_surface_get_stride(c.surface);
    for (long y = 0; y < (long)h; y++) {
        uint32_t *row = (uint32_t *)(data + (size_t)y * (size_t)stride);
        for (long x = 0; x < (long)w; x++) {
            const unsigned char *p = img->px + ((size_t)(y / scale) * (size_t)img->w
                                                + (size_t)(x / scale)) * (size_t)img->channels;
            uint32_t r = p[0], g = img->channels == 3 ? p[1] : p[0],
                     b = img->channels == 3 ? p[2] : p[0];
            row[x] = 0xFF000000u | r << 16 | g << 8 | b;   /* cairo's ARGB32, opaque */
        }
    }
    cairo_surface_mark_dirty(c.surface);
    return sq_canvas_close(&c, path, err);
}
