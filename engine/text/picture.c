/* picture.c - `show` in a terminal: an image as lines of Unicode half
 * blocks, each character two pixels high (U+2580 with the upper pixel as
 * its foreground colour and the lower as its background), or as plain
 * shades when the terminal has no colour. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "text/text.h"

#define SMALL 32   /* images narrower than this are enlarged toward it */

/* The image resampled to w x h: each new pixel the mean of the old pixels
 * its area covers (shrinking) or a copy of the one it falls in
 * (enlarging); out has w*h*channels bytes. */
static void resample(const sq_image *img, long w, long h, unsigned char *out)
{
    int c = img->channels;
    for (long y = 0; y < h; y++) {
        long y0 = y * img->h / h, y1 = (y + 1) * img->h / h;
        if (y1 <= y0)
            y1 = y0 + 1;
        for (long x = 0; x < w; x++) {
            long x0 = x * img->w / w, x1 = (x + 1) * img->w / w;
            if (x1 <= x0)
                x1 = x0 + 1;
            for (int k = 0; k < c; k++) {
                unsigned long sum = 0, n = 0;
                for (long yy = y0; yy < y1; yy++)
                    for (long xx = x0; xx < x1; xx++, n++)
                        sum += img->px[((size_t)yy * (size_t)img->w + (size_t)xx) * (size_t)c
                                       + (size_t)k];
                out[((size_t)y * (size_t)w + (size_t)x) * (size_t)c + (size_t)k] =
                    (unsigned char)((sum + n / 2) / n);
            }
        }
    }
}

static void rgb(const unsigned char *p, int c, int *r, int *g, int *b)
{
    *r = p[0];
    *g = c == 3 ? p[1] : p[0];
    *b = c == 3 ? p[2] : p[0];
}

static int grey(const unsigned char *p, int c)
{
    int r, g, b;
    rgb(p, c, &r, &g, &b);
    return (299 * r + 587 * g + 114 * b + 500) / 1000;
}

char *sq_image_text(const sq_image *img, int max_width, int colour, sq_error *err)
{
    if (max_width < 1)
        max_width = 1;
    long w = img->w, h = img->h;
    if (w > max_width) {
        /* shrink by a whole factor, keeping the aspect */
        long f = (w + max_width - 1) / max_width;
        w = img->w / f > 0 ? img->w / f : 1;
        h = img->h / f > 0 ? img->h / f : 1;
    } else if (w < SMALL) {
        long f = SMALL / w;
        if (f * w > max_width)
            f = max_width / w;
        if (f > 1) {
            w *= f;
            h *= f;
        }
    }
    int c = img->channels;
    unsigned char *px = sq_malloc((size_t)w * (size_t)h * (size_t)c);
    if (!px) {
        sq_fail(err, "out of memory");
        return NULL;
    }
    resample(img, w, h, px);
    sbuf b = { 0 };
    if (c == 1)
        sb_printf(&b, "(%ld, %ld) grey", img->h, img->w);
    else
        sb_printf(&b, "(%ld, %ld, 3) RGB", img->h, img->w);
    sb_printf(&b, ": %g is black, %g white", img->black, img->white);
    if (w != img->w)
        sb_printf(&b, "; drawn %ld characters wide", w);
    sb_printf(&b, "\n");
    static const char *const shades[5] = { " ", "\u2591", "\u2592", "\u2593", "\u2588" };
    for (long y = 0; y < h; y += 2) {
        int pr = -1, pg = -1, pb = -1, qr = -1, qg = -1, qb = -1;
        for (long x = 0; x < w; x++) {
            const unsigned char *up = px + ((size_t)y * (size_t)w + (size_t)x) * (size_t)c;
            const unsigned char *down = y + 1 < h ? up + (size_t)w * (size_t)c : NULL;
            if (!colour) {
                int v = down ? (grey(up, c) + grey(down, c) + 1) / 2 : grey(up, c);
                sb_printf(&b, "%s", shades[v * 5 / 256]);
                continue;
            }
            int r, g, bl;
            rgb(up, c, &r, &g, &bl);
            if (r != pr || g != pg || bl != pb)
                sb_printf(&b, "\033[38;2;%d;%d;%dm", r, g, bl);
            pr = r, pg = g, pb = bl;
            if (down) {
                rgb(down, c, &r, &g, &bl);
                if (r != qr || g != qg || bl != qb)
                    sb_printf(&b, "\033[48;2;%d;%d;%dm", r, g, bl);
                qr = r, qg = g, qb = bl;
            } else if (qr != -2) {
                /* an odd last row: its lower half is the terminal's own */
                sb_printf(&b, "\033[49m");
                qr = -2;
            }
            sb_printf(&b, "\u2580");
        }
        sb_printf(&b, "%s\n", colour ? "\033[0m" : "");
    }
    free(px);
    return sb_finish(&b, err);
}
