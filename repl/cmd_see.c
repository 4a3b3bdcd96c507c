/* cmd_see.c - the commands for seeing and teaching: explain (the arithmetic
 * of shapes, parameters and multiply-accumulates), plot (the model as a
 * picture, the training curves) and show (one input as an image). */
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include "shell.h"

int cmd_explain(shell *sh, int argc, char **argv)
{
    sq_error e;
    char *text = sq_explain(sh->s, argc > 1 ? argv[1] : NULL, &e);
    if (!text)
        return sh_engine_fail(sh, &e);
    sh_put_text(text);
    return 0;
}

/* Columns of the terminal on stdout; 80 when it is not one (or says 0). */
static int terminal_width(void)
{
    struct winsize ws;
    if (sh_stdout_is_terminal() && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    return 80;
}

/* plot history [FILE] [width=N] */
static int plot_history(shell *sh, int argc, char **argv)
{
    sq_args a;
    char *plain[8];
    int np;
    sq_error e;
    if (argc > 8)
        return sh_fail(sh, "usage: plot history [FILE.png|.svg|.pdf] [width=N]");
    if (sq_args_init(&a, "plot", argc, argv, plain, &np, &e) < 0)
        return sh_engine_fail(sh, &e);
    int width = terminal_width();
    if (sq_arg_int(&a, "width", 30, 1000, &width, &e) < 0 || sq_args_finish(&a, &e) < 0)
        return sh_engine_fail(sh, &e);
    if (np > 1)
        return sh_fail(sh, "usage: plot history [FILE.png|.svg|.pdf] [width=N]");
    if (np == 1) {
        char path[4096];
        if (sh_path(sh, plain[0], path, sizeof path) < 0)
            return -1;
        return sq_plot_history(sh->s, path, &e) < 0 ? sh_engine_fail(sh, &e) : 0;
    }
    char *text = sq_history_chart(sh->s, width, &e);
    if (!text)
        return sh_engine_fail(sh, &e);
    sh_put_text(text);
    return 0;
}

int cmd_plot(shell *sh, int argc, char **argv)
{
    sq_error e;
    if (!strcmp(argv[1], "history"))
        return plot_history(sh, argc - 2, argv + 2);
    if (argc != 2)
        return sh_fail(sh, "usage: plot FILE.svg|.png|.pdf|.dot, or plot history [FILE]");
    char path[4096];
    if (sh_path(sh, argv[1], path, sizeof path) < 0)
        return -1;
    if (sq_plot_model(sh->s, path, &e) < 0)
        return sh_engine_fail(sh, &e);
    return 0;
}

/* 24-bit colour: the terminal says so (COLORTERM), nobody said NO_COLOR. */
static int terminal_colour(void)
{
    const char *ct = getenv("COLORTERM"), *term = getenv("TERM"), *no = getenv("NO_COLOR");
    if (!sh_stdout_is_terminal() || (no && *no) || (term && !strcmp(term, "dumb")))
        return 0;
    return ct && (!strcmp(ct, "truecolor") || !strcmp(ct, "24bit"));
}

int cmd_show(shell *sh, int argc, char **argv)
{
    sq_args a;
    char *plain[64];
    int np;
    sq_error e;
    if (argc - 1 > 64)
        return sh_fail(sh, "too many words");
    if (sq_args_init(&a, "show", argc - 1, argv + 1, plain, &np, &e) < 0)
        return sh_engine_fail(sh, &e);
    const char *save = sq_arg(&a, "save"), *shape = sq_arg(&a, "shape"),
               *label = sq_arg(&a, "label");
    int width = terminal_width(), colour = terminal_colour(), scale = 1;
    if (sq_arg_int(&a, "width", 1, 10000, &width, &e) < 0
        || sq_arg_bool(&a, "color", &colour, &e) < 0
        || sq_arg_int(&a, "scale", 1, 64, &scale, &e) < 0 || sq_args_finish(&a, &e) < 0)
        return sh_engine_fail(sh, &e);
    if (save && !*save)
        return sh_fail(sh, "save= needs a file name");
    long dims[3];
    int nd = 0;
    /* "8,8" or "(8, 8)" */
    char tuple[64] = "";
    if (shape) {
        size_t k = 0;
        for (const char *q = shape; *q && k + 1 < sizeof tuple; q++)
            if (*q != '(' && *q != ')' && *q != ' ')
                tuple[k++] = *q;
        tuple[k] = '\0';
    }
    for (const char *p = shape ? tuple : NULL; p && *p && nd <= 3; nd++) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || (*end && *end != ',') || nd == 3)
            return sh_fail(sh, "show: shape= is H,W or H,W,C (got '%s')", shape);
        dims[nd] = v;
        p = *end ? end + 1 : end;
    }
    sq_tensor x = { 0 }, y = { 0 };
    if (label) {
        if (np != 1)
            return sh_fail(sh, "with label=, give one data file");
        char path[4096];
        if (sh_path(sh, plain[0], path, sizeof path) < 0)
            return -1;
        if (sq_data_load(path, label, &x, &y, &e) < 0)
            return sh_engine_fail(sh, &e);
        sq_tensor_free(&y);
    } else if (sh_get_input(sh, np, plain, &x) < 0) {
        return -1;
    }
    sq_image img;
    int rc = sq_image_from_tensor(&x, dims, nd, &img, &e);
    sq_tensor_free(&x);
    if (rc < 0)
        return sh_engine_fail(sh, &e);
    char savepath[4096];
    if (save && sh_path(sh, save, savepath, sizeof savepath) < 0) {
        sq_image_free(&img);
        return -1;
    }
    if (save) {
        rc = sq_image_save_png(&img, savepath, scale, &e);
        sq_image_free(&img);
        return rc < 0 ? sh_engine_fail(sh, &e) : 0;
    }
    char *text = sq_image_text(&img, width, colour, &e);
    sq_image_free(&img);
    if (!text)
        return sh_engine_fail(sh, &e);
    /* the picture's colour escapes are the engine's own (sq_image_text
     * writes nothing else), so they reach the terminal as they are */
    fputs(text, stdout);
    free(text);
    return 0;
}
