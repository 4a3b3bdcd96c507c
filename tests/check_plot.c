/* check_plot.c - the pictures: plot's dot text against boxes and edges
 * written out here, the SVG, PNG and PDF files Graphviz and cairo write
 * (read back: PNG through cairo, with its size), the history's files and
 * its braille chart decoded back into dots, and `show`'s images: which
 * axes become rows, columns and colours, the grey levels, the terminal
 * text and the PNG pixels. */
#include <check.h>
#include <cairo.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "test_util.h"
#include "text/text.h"

static char dir[64];

static void make_dir(void)
{
    snprintf(dir, sizeof dir, "/tmp/seqsh-plot-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void remove_dir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static const char *in_dir(const char *name, char *buf, size_t n)
{
    snprintf(buf, n, "%s/%s", dir, name);
    return buf;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "%s was not written", path);
    char *buf = malloc(1 << 22);
    *len = fread(buf, 1, (1 << 22) - 1, f);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

/* The seed's conv stack. */
static sq_session *seed_model(void)
{
    sq_session *s = sq_session_new();
    sq_error e;
    long dims[] = { 250, 250, 3 };
    ck_assert_int_eq(sq_input(s, 3, dims, &e), 0);
    ck_assert_int_eq(add_line(s, "conv2d 32 5 strides=2 relu", &e), 0);
    ck_assert_int_eq(add_line(s, "conv2d 32 3 relu", &e), 0);
    ck_assert_int_eq(add_line(s, "maxpooling2d 3", &e), 0);
    return s;
}

/* ---- plot: the model ------------------------------------------------------- */

START_TEST(dot_structure)
{
    sq_session *s = seed_model();
    sq_error e;
    char *dot = sq_plot_dot(s, &e);
    ck_assert_ptr_nonnull(dot);
    static const char *const boxes[] = {
        "n0 [label=\"input: InputLayer\\n|{input:|output:}|{{[(None, 250, 250, 3)]}|"
        "{[(None, 250, 250, 3)]}}\"];",
        "n1 [label=\"conv2d: Conv2D\\n|{input:|output:}|{{(None, 250, 250, 3)}|"
        "{(None, 123, 123, 32)}}\"];",
        "n2 [label=\"conv2d_1: Conv2D\\n|{input:|output:}|{{(None, 123, 123, 32)}|"
        "{(None, 121, 121, 32)}}\"];",
        "n3 [label=\"max_pooling2d: MaxPooling2D\\n|{input:|output:}|{{(None, 121, 121, 32)}|"
        "{(None, 40, 40, 32)}}\"];",
    };
    for (size_t i = 0; i < 4; i++)
        ck_assert_msg(strstr(dot, boxes[i]) != NULL, "no box '%s' in\n%s", boxes[i], dot);
    /* a chain: n0 -> n1 -> n2 -> n3 and nothing else */
    int nodes = 0, edges = 0;
    for (const char *p = dot; (p = strstr(p, "[label=")); p++)
        nodes++;
    for (const char *p = dot; (p = strstr(p, " -> ")); p++)
        edges++;
    ck_assert_int_eq(nodes, 4);
    ck_assert_int_eq(edges, 3);
    for (int i = 0; i < 3; i++) {
        char edge[32];
        snprintf(edge, sizeof edge, "  n%d -> n%d;\n", i, i + 1);
        ck_assert_ptr_nonnull(strstr(dot, edge));
    }
    ck_assert(!strncmp(dot, "digraph \"sequential\" {\n", 23));
    ck_assert_ptr_nonnull(strstr(dot, "node [shape=record"));
    ck_assert_ptr_nonnull(strstr(dot, "rankdir=TB"));
    /* .dot writes the same text */
    char path[128];
    ck_assert_int_eq(sq_plot_model(s, in_dir("m.dot", path, sizeof path), &e), 0);
    size_t len;
    char *file = slurp(path, &len);
    ck_assert_str_eq(file, dot);
    free(file);
    free(dot);
    sq_session_free(s);
}
END_TEST

/* PNG's height grows with the boxes; SVG and PDF are what they say. */
START_TEST(model_pictures)
{
    sq_session *s = seed_model();
    sq_error e;
    char path[128];
    ck_assert_msg(sq_plot_model(s, in_dir("m.png", path, sizeof path), &e) == 0, "%s", e.msg);
    cairo_surface_t *png = cairo_image_surface_create_from_png(path);
    ck_assert_int_eq(cairo_surface_status(png), CAIRO_STATUS_SUCCESS);
    int w4 = cairo_image_surface_get_width(png), h4 = cairo_image_surface_get_height(png);
    cairo_surface_destroy(png);
    /* four boxes of ~50 pixels and three arrows at 96 dpi */
    ck_assert_msg(w4 > 200 && w4 < 1000 && h4 > 250 && h4 < 800, "%dx%d", w4, h4);
    sq_session *two = sq_session_new();
    long dims[] = { 8 };
    ck_assert_int_eq(sq_input(two, 1, dims, &e), 0);
    ck_assert_int_eq(add_line(two, "dense 2", &e), 0);
    ck_assert_int_eq(sq_plot_model(two, in_dir("two.PNG", path, sizeof path), &e), 0);
    png = cairo_image_surface_create_from_png(path);
    ck_assert_int_eq(cairo_surface_status(png), CAIRO_STATUS_SUCCESS);
    int h2 = cairo_image_surface_get_height(png);
    cairo_surface_destroy(png);
    ck_assert_msg(h2 < h4 * 3 / 4, "two boxes %d pixels high, four %d", h2, h4);
    sq_session_free(two);

    size_t len;
    ck_assert_int_eq(sq_plot_model(s, in_dir("m.svg", path, sizeof path), &e), 0);
    char *svg = slurp(path, &len);
    ck_assert_ptr_nonnull(strstr(svg, "<svg"));
    ck_assert_ptr_nonnull(strstr(svg, "</svg>"));
    ck_assert_ptr_nonnull(strstr(svg, ">max_pooling2d: MaxPooling2D<"));
    ck_assert_ptr_nonnull(strstr(svg, ">(None, 123, 123, 32)<"));
    int texts = 0;
    for (const char *p = svg; (p = strstr(p, "<text")); p++)
        texts++;
    ck_assert_int_eq(texts, 4 * 5);   /* name, input:, output: and two shapes a box */
    free(svg);
    ck_assert_int_eq(sq_plot_model(s, in_dir("m.pdf", path, sizeof path), &e), 0);
    char *pdf = slurp(path, &len);
    ck_assert(len > 500 && !memcmp(pdf, "%PDF-", 5));
    free(pdf);

    ck_assert_int_eq(sq_plot_model(s, in_dir("m.jpg", path, sizeof path), &e), -1);
    ck_assert_ptr_nonnull(strstr(e.msg, "name it .svg, .png, .pdf or .dot"));
    ck_assert_int_eq(access(path, F_OK), -1);
    ck_assert_int_eq(sq_plot_model(s, "/nonexistent/dir/m.png", &e), -1);
    sq_session_free(s);
    /* not built */
    s = sq_session_new();
    ck_assert_int_eq(add_line(s, "dense 2", &e), 0);
    ck_assert_int_eq(sq_plot_model(s, in_dir("u.svg", path, sizeof path), &e), -1);
    ck_assert(!strncmp(e.msg, "This model has not yet been built.", 34));
    sq_session_free(s);
}
END_TEST

/* ---- plot history --------------------------------------------------------- */

/* A small classifier fitted for `epochs` on random data, with validation. */
static sq_session *fitted(int epochs, double split)
{
    sq_session *s = sq_session_new();
    sq_error e;
    sq_seed(s, 3);
    long dims[] = { 4 };
    ck_assert_int_eq(sq_input(s, 1, dims, &e), 0);
    ck_assert_int_eq(add_line(s, "dense 3 softmax", &e), 0);
    ck_assert_int_eq(sq_compile(s, "sgd", "sparse_categorical_crossentropy", "accuracy", 0, NULL,
                                NULL, &e), 0);
    sq_tensor x, y;
    long xd[] = { 40, 4 }, yd[] = { 40, 1 };
    ck_assert_int_eq(sq_tensor_generate(s, "random", 2, xd, &x, &e), 0);
    ck_assert_int_eq(sq_tensor_generate(s, "zeros", 2, yd, &y, &e), 0);
    for (int i = 0; i < 40; i++)
        y.data[i] = (float)(i % 3);
    sq_fit_opts o = { .epochs = epochs, .batch_size = 8, .validation_split = split };
    ck_assert_msg(sq_fit(s, &x, &y, &o, NULL, NULL, &e) == 0, "%s", e.msg);
    sq_tensor_free(&x);
    sq_tensor_free(&y);
    return s;
}

START_TEST(history_pictures)
{
    sq_error e;
    char path[128];
    sq_session *s = sq_session_new();
    ck_assert_int_eq(sq_plot_history(s, in_dir("h.png", path, sizeof path), &e), -1);
    ck_assert_ptr_nonnull(strstr(e.msg, "no epochs yet"));
    ck_assert_ptr_null(sq_history_chart(s, 80, &e));
    sq_session_free(s);

    s = fitted(4, 0.25);
    ck_assert_msg(sq_plot_history(s, in_dir("h.png", path, sizeof path), &e) == 0, "%s", e.msg);
    cairo_surface_t *png = cairo_image_surface_create_from_png(path);
    ck_assert_int_eq(cairo_surface_status(png), CAIRO_STATUS_SUCCESS);
    /* two panels of 300 pixels: loss and accuracy */
    ck_assert_int_eq(cairo_image_surface_get_width(png), 720);
    ck_assert_int_eq(cairo_image_surface_get_height(png), 600);
    cairo_surface_destroy(png);
    size_t len;
    ck_assert_int_eq(sq_plot_history(s, in_dir("h.svg", path, sizeof path), &e), 0);
    char *svg = slurp(path, &len);
    ck_assert_ptr_nonnull(strstr(svg, "<svg"));
    ck_assert_ptr_nonnull(strstr(svg, "width=\"720pt\" height=\"600pt\""));
    free(svg);
    ck_assert_int_eq(sq_plot_history(s, in_dir("h.pdf", path, sizeof path), &e), 0);
    char *pdf = slurp(path, &len);
    ck_assert(!memcmp(pdf, "%PDF-", 5));
    free(pdf);
    ck_assert_int_eq(sq_plot_history(s, in_dir("h.dot", path, sizeof path), &e), -1);
    ck_assert_ptr_nonnull(strstr(e.msg, "name it .png, .svg or .pdf"));
    sq_session_free(s);
}
END_TEST

/* ---- the braille chart ---------------------------------------------------- */

/* Decodes one panel back into its dots: rows[r] is the r-th plot line;
 * returns the grid as dots[y][x] (y from the top). */
typedef struct {
    int w, h;
    unsigned char d[64][256];
    char top[32], bottom[32];
    int lines;
} grid;

static void decode(const char *text, grid *g)
{
    memset(g, 0, sizeof *g);
    char *copy = strdup(text), *save = NULL;
    int r = -1;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        g->lines++;
        char *axis = strstr(line, "\u2524");
        if (!axis)
            axis = strstr(line, "\u2502");
        if (!axis)
            continue;
        r++;
        char label[32];
        snprintf(label, sizeof label, "%.*s", (int)(axis - line), line);
        char *lab = label;
        while (*lab == ' ')
            lab++;
        if (r == 0)
            snprintf(g->top, sizeof g->top, "%s", lab);
        if (*lab)
            snprintf(g->bottom, sizeof g->bottom, "%s", lab);
        const unsigned char *p = (const unsigned char *)axis + 3;
        for (int c = 0; *p; c++, p += 3) {
            ck_assert_int_eq(p[0], 0xE2);
            unsigned bits = (unsigned)(p[1] - 0xA0) << 6 | (unsigned)(p[2] - 0x80);
            /* braille dot numbering: 1 2 3 7 down the left, 4 5 6 8 the right */
            static const int dx[8] = { 0, 0, 0, 1, 1, 1, 0, 1 }, dy[8] = { 0, 1, 2, 0, 1, 2, 3, 3 };
            for (int k = 0; k < 8; k++)
                if (bits & (1u << k))
                    g->d[4 * r + dy[k]][2 * c + dx[k]] = 1;
            if (2 * c + 2 > g->w)
                g->w = 2 * c + 2;
        }
    }
    g->h = 4 * (r + 1);
    free(copy);
}

START_TEST(chart_dots)
{
    /* a straight fall from 1 to 0 over 5 epochs */
    double fall[5] = { 1, 0.75, 0.5, 0.25, 0 };
    sbuf b = { 0 };
    sq_chart_panel(&b, "loss", fall, NULL, 5, 40);
    char *t = sb_finish(&b, NULL);
    grid g;
    decode(t, &g);
    /* title, 8 rows, axis, epochs, legend */
    ck_assert_int_eq(g.lines, 12);
    ck_assert_int_eq(g.h, 32);
    ck_assert_str_eq(g.top, "1");
    ck_assert_str_eq(g.bottom, "0");
    ck_assert(!strncmp(t, "loss\n", 5));
    /* 40 columns: 2 of label, the axis, 37 of plot = 74 dots */
    int cols = 37, X = 2 * cols;
    ck_assert_int_le(g.w, X);
    ck_assert_int_eq(g.d[0][0], 1);
    ck_assert_int_eq(g.d[31][X - 1], 1);
    /* one connected falling line: every dot column has dots, their rows
     * follow y = 31 * x / 73 within a dot */
    for (int x = 0; x < X; x++) {
        int any = 0;
        for (int y = 0; y < 32; y++) {
            if (!g.d[y][x])
                continue;
            any = 1;
            ck_assert_msg(fabs(y - 31.0 * x / (X - 1)) <= 1.0, "dot (%d, %d) off the line", x, y);
        }
        ck_assert_msg(any, "no dot in column %d", x);
    }
    ck_assert_ptr_nonnull(strstr(t, "\u2514\u252c"));
    ck_assert_ptr_nonnull(strstr(t, "\n   1"));
    ck_assert_ptr_nonnull(strstr(t, "epoch"));
    ck_assert_ptr_nonnull(strstr(t, "5\n"));
    free(t);

    /* a flat training line in the middle, a dotted validation line across */
    double flat[3] = { 2, 2, 2 }, val[3] = { 1, NAN, 3 };
    sbuf c = { 0 };
    sq_chart_panel(&c, "loss", flat, val, 3, 30);
    t = sb_finish(&c, NULL);
    decode(t, &g);
    ck_assert_str_eq(g.top, "3");
    ck_assert_str_eq(g.bottom, "1");
    X = 2 * (30 - 2 - 1);
    for (int x = 0; x < X; x++)
        ck_assert_msg(g.d[16][x] || g.d[15][x], "flat line broken at %d", x);
    /* validation: only its two points (the NaN breaks the line) */
    int val_dots = 0;
    for (int y = 0; y < 32; y++)
        for (int x = 0; x < X; x++)
            val_dots += g.d[y][x] && y != 16 && y != 15;
    ck_assert_int_eq(val_dots, 2);
    ck_assert_int_eq(g.d[31][0], 1);
    ck_assert_int_eq(g.d[0][X - 1], 1);
    ck_assert_ptr_nonnull(strstr(t, "\u2500\u2500 loss (training)   \u00b7\u00b7 val_loss (validation)"));
    free(t);

    /* dotted: a validation line drawn with about half the dots */
    double a[2] = { 0, 1 }, v2[2] = { 1, 0 };
    sbuf d = { 0 };
    sq_chart_panel(&d, "m", a, v2, 2, 30);
    t = sb_finish(&d, NULL);
    decode(t, &g);
    int down = 0, up = 0;
    for (int x = 0; x < X; x++)
        for (int y = 0; y < 32; y++)
            if (g.d[y][x]) {
                if (fabs(y - 31.0 * x / (X - 1)) <= 1.0)
                    down++;   /* the validation line falls from the top left */
                if (fabs(y - 31.0 * (X - 1 - x) / (X - 1)) <= 1.0)
                    up++;
            }
    ck_assert_msg(down < up * 2 / 3, "dotted %d dots, solid %d", down, up);
    free(t);
}
END_TEST

START_TEST(history_chart_panels)
{
    sq_session *s = fitted(3, 0.25);
    sq_error e;
    char *t = sq_history_chart(s, 60, &e);
    ck_assert_ptr_nonnull(t);
    ck_assert(!strncmp(t, "loss\n", 5));
    ck_assert_ptr_nonnull(strstr(t, "\n\naccuracy\n"));
    ck_assert_ptr_nonnull(strstr(t, "val_accuracy (validation)"));
    /* the top label is the largest loss, training or validation */
    double v[8], best = -1;
    ck_assert_int_eq(sq_history_values(s, "loss", v, 8), 3);
    for (int i = 0; i < 3; i++)
        best = fmax(best, v[i]);
    ck_assert_int_eq(sq_history_values(s, "val_loss", v, 8), 3);
    for (int i = 0; i < 3; i++)
        best = fmax(best, v[i]);
    char want[64];
    snprintf(want, sizeof want, "loss\n%*s%.4g\u2524", 0, "", best);
    /* labels are right-aligned: compare without the leading blanks */
    const char *line2 = strchr(t, '\n') + 1;
    while (*line2 == ' ')
        line2++;
    snprintf(want, sizeof want, "%.4g\u2524", best);
    ck_assert_msg(!strncmp(line2, want, strlen(want)), "%s", t);
    free(t);
    sq_session_free(s);
}
END_TEST

/* ---- show ----------------------------------------------------------------- */

static sq_tensor tensor(int rank, const long *d, const float *v)
{
    sq_tensor t = { { rank, { 0 } }, NULL };
    memcpy(t.shape.d, d, (size_t)rank * sizeof *d);
    size_t n = sq_shape_count(&t.shape);
    t.data = malloc(n * sizeof *t.data);
    memcpy(t.data, v, n * sizeof *v);
    return t;
}

START_TEST(image_geometry_and_levels)
{
    sq_error e;
    sq_image img;
    /* a batch of two 2x5 greys (the last axis is no colour axis): the
     * first, stretched from 1 (black) to 10 (white) */
    float g[20];
    for (int i = 0; i < 20; i++)
        g[i] = i < 10 ? (float)(i + 1) : 50;
    sq_tensor t = tensor(3, (long[]){ 2, 2, 5 }, g);
    ck_assert_int_eq(sq_image_from_tensor(&t, NULL, 0, &img, &e), 0);
    ck_assert_int_eq(img.h, 2);
    ck_assert_int_eq(img.w, 5);
    ck_assert_int_eq(img.channels, 1);
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(img.px[i], (int)lround(i * 255.0 / 9));
    ck_assert(img.black == 1 && img.white == 10);
    sq_image_free(&img);
    sq_tensor_free(&t);
    /* (H, W, 3) in [0, 1]: one RGB image, scaled by 255 */
    float c[12] = { 0, 0.5f, 1, 1, 1, 1, 0, 0, 0, 0.2f, 0.4f, 0.6f };
    t = tensor(3, (long[]){ 2, 2, 3 }, c);
    ck_assert_int_eq(sq_image_from_tensor(&t, NULL, 0, &img, &e), 0);
    ck_assert_int_eq(img.h, 2);
    ck_assert_int_eq(img.w, 2);
    ck_assert_int_eq(img.channels, 3);
    static const int want[12] = { 0, 128, 255, 255, 255, 255, 0, 0, 0, 51, 102, 153 };
    for (int i = 0; i < 12; i++)
        ck_assert_int_eq(img.px[i], want[i]);
    sq_image_free(&img);
    sq_tensor_free(&t);
    /* (B, H, W, 4): alpha dropped; values in [0, 255] kept */
    float r[8] = { 10, 20, 30, 255, 40, 50, 60, 0 };
    t = tensor(4, (long[]){ 1, 1, 2, 4 }, r);
    ck_assert_int_eq(sq_image_from_tensor(&t, NULL, 0, &img, &e), 0);
    ck_assert_int_eq(img.channels, 3);
    ck_assert_int_eq(img.px[3], 40);
    ck_assert_int_eq(img.px[5], 60);
    sq_image_free(&img);
    sq_tensor_free(&t);
    /* a flat row read with shape=: the digits' 8x8 (the label cut) */
    float row[2 * 4];
    for (int i = 0; i < 8; i++)
        row[i] = (float)i;
    t = tensor(2, (long[]){ 2, 4 }, row);
    long shape[] = { 2, 2 };
    ck_assert_int_eq(sq_image_from_tensor(&t, shape, 2, &img, &e), 0);
    ck_assert_int_eq(img.h * img.w, 4);
    ck_assert_int_eq(img.px[3], 255);
    sq_image_free(&img);
    long bad[] = { 3, 3 };
    ck_assert_int_eq(sq_image_from_tensor(&t, bad, 2, &img, &e), -1);
    ck_assert_str_eq(e.msg, "show: a sample of the input (2, 4) has 4 values; shape=3,3 holds 9");
    sq_tensor_free(&t);
    t = tensor(1, (long[]){ 8 }, row);
    ck_assert_int_eq(sq_image_from_tensor(&t, NULL, 0, &img, &e), -1);
    ck_assert_str_eq(e.msg, "show: cannot tell the rows and columns of a (8,) input: give "
                     "shape=H,W (or H,W,C)");
    ck_assert_int_eq(sq_image_from_tensor(&t, (long[]){ 2, 4 }, 2, &img, &e), 0);
    sq_image_free(&img);
    sq_tensor_free(&t);
    t = tensor(4, (long[]){ 1, 2, 1, 4 }, (float[]){ 0, 0, 0, 0, 0, 0, 0, 0 });
    ck_assert_int_eq(sq_image_from_tensor(&t, NULL, 0, &img, &e), 0);   /* 4 channels */
    sq_image_free(&img);
    sq_tensor_free(&t);
    t = tensor(4, (long[]){ 1, 2, 1, 2 }, (float[]){ 0, 0, 0, 0 });
    ck_assert_int_eq(sq_image_from_tensor(&t, NULL, 0, &img, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.msg, "needs 1, 3 or 4 channels"));
    sq_tensor_free(&t);
}
END_TEST

START_TEST(image_text)
{
    sq_error e;
    /* 4 rows, 2 columns of greys: black white / white black / grey x2 / ... */
    unsigned char px[8] = { 0, 255, 255, 0, 128, 128, 255, 255 };
    sq_image img = { 4, 2, 1, px, 0, 255 };
    /* no room to enlarge: one character a column, two rows a line */
    char *t = sq_image_text(&img, 2, 0, &e);
    ck_assert_str_eq(t, "(4, 2) grey: 0 is black, 255 white\n"
                        "\u2592\u2592\n"        /* (0+255)/2 and (255+0)/2: 128 -> the middle shade */
                        "\u2593\u2593\n");      /* (128+255)/2 = 192 -> 3 of 0..4 */
    free(t);
    /* colour: the upper pixel the foreground, the lower the background */
    t = sq_image_text(&img, 2, 1, &e);
    ck_assert_str_eq(t, "(4, 2) grey: 0 is black, 255 white\n"
                        "\033[38;2;0;0;0m\033[48;2;255;255;255m\u2580"
                        "\033[38;2;255;255;255m\033[48;2;0;0;0m\u2580\033[0m\n"
                        "\033[38;2;128;128;128m\033[48;2;255;255;255m\u2580\u2580\033[0m\n");
    free(t);
    /* enlarged toward 32 columns: 16 times, each pixel 16 characters */
    t = sq_image_text(&img, 80, 0, &e);
    int lines = 0;
    for (const char *p = t; (p = strchr(p, '\n')); p++)
        lines++;
    ck_assert_int_eq(lines, 1 + 4 * 16 / 2);
    ck_assert_ptr_nonnull(strstr(t, "; drawn 32 characters wide\n"));
    free(t);
    /* shrunk to fit: 6 columns into 3, each the mean of 2x2 pixels */
    unsigned char wide[12] = { 0, 0, 255, 255, 0, 255, 0, 0, 255, 255, 255, 0 };
    sq_image w6 = { 2, 6, 1, wide, 0, 255 };
    t = sq_image_text(&w6, 3, 0, &e);
    ck_assert_str_eq(t, "(2, 6) grey: 0 is black, 255 white; drawn 3 characters wide\n"
                        " \u2588\u2592\n");
    free(t);
}
END_TEST

START_TEST(image_png)
{
    sq_error e;
    char path[128];
    unsigned char px[6] = { 255, 0, 0, 10, 20, 30 };
    sq_image img = { 1, 2, 3, px, 0, 255 };
    ck_assert_int_eq(sq_image_save_png(&img, in_dir("i.png", path, sizeof path), 3, &e), 0);
    cairo_surface_t *png = cairo_image_surface_create_from_png(path);
    ck_assert_int_eq(cairo_surface_status(png), CAIRO_STATUS_SUCCESS);
    ck_assert_int_eq(cairo_image_surface_get_width(png), 6);
    ck_assert_int_eq(cairo_image_surface_get_height(png), 3);
    const unsigned char *d = cairo_image_surface_get_data(png);
    int stride = cairo_image_surface_get_stride(png);
    for (int y = 0; y < 3; y++)
        for (int x = 0; x < 6; x++) {
            uint32_t v = *(const uint32_t *)(d + y * stride + 4 * x);
            uint32_t want = x < 3 ? 0xFFFF0000u : 0xFF0A141Eu;
            ck_assert_msg(v == want, "pixel (%d, %d) is %08x", x, y, v);
        }
    cairo_surface_destroy(png);
    ck_assert_int_eq(sq_image_save_png(&img, in_dir("i.jpg", path, sizeof path), 1, &e), -1);
    ck_assert_str_eq(e.msg, "show: save= writes a PNG image: name the file .png");
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("plot");
    TCase *tc = tcase_create("plot");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, make_dir, remove_dir);
    tcase_add_test(tc, dot_structure);
    tcase_add_test(tc, model_pictures);
    tcase_add_test(tc, history_pictures);
    tcase_add_test(tc, chart_dots);
    tcase_add_test(tc, history_chart_panels);
    tcase_add_test(tc, image_geometry_and_levels);
    tcase_add_test(tc, image_text);
    tcase_add_test(tc, image_png);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(suite());
}
