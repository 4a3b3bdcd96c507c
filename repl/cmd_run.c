/* cmd_run.c - the commands that run the model on data: call, extract,
 * compile, fit, evaluate, predict, confusion. Their key=value options are read with
 * the engine's one option vocabulary (sq_args). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "shell.h"

#define MAX_WORDS 64

static int is_generator(const char *w)
{
    return !strcmp(w, "ones") || !strcmp(w, "zeros") || !strcmp(w, "random")
        || !strcmp(w, "range");
}

/* INPUT: ones|zeros|random|range D0 D1 ... or a file. With for_call, a
 * generated input is made only when the call fits in the memory limit. */
static int get_input_for(shell *sh, int argc, char **argv, sq_tensor *x, int for_call)
{
    sq_error e;
    if (argc == 0)
        return sh_fail(sh, "expected an input: ones|zeros|random|range D0 D1 ..., or a file");
    const char *g = argv[0];
    if (is_generator(g)) {
        long dims[SQ_MAX_RANK];
        int n;
        if (sh_parse_dims(sh, argc - 1, argv + 1, dims, &n) < 0)
            return -1;
        sq_shape in = { .rank = n };
        for (int i = 0; i < n && i < SQ_MAX_RANK; i++)
            in.d[i] = dims[i];
        if (for_call && n >= 1 && n <= SQ_MAX_RANK && sq_call_check(sh->s, &in, &e) < 0)
            return sh_engine_fail(sh, &e);
        if (sq_tensor_generate(sh->s, g, n, dims, x, &e) < 0)
            return sh_engine_fail(sh, &e);
        return 0;
    }
    if (argc > 1)
        return sh_fail(sh, "unexpected '%s' after the input file", argv[1]);
    char path[4096];
    if (sh_path(sh, g, path, sizeof path) < 0)
        return -1;
    if (sq_tensor_load(path, x, &e) < 0)
        return sh_engine_fail(sh, &e);
    return 0;
}

static int get_input(shell *sh, int argc, char **argv, sq_tensor *x)
{
    return get_input_for(sh, argc, argv, x, 0);
}

static int is_number_word(const char *w)
{
    char *end;
    strtol(w, &end, 10);
    return end != w && (*end == '\0' || *end == ',' || *end == ')' || *end == '(')
        ? 1 : (w[0] == '(' || strchr(w, ',') != NULL);
}

/* Splits words into INPUTs (a generator with its dimensions, or a file);
 * starts[k] and counts[k] give each one's words. Returns how many, or -1. */
static int split_inputs(shell *sh, int argc, char **argv, int *starts, int *counts, int max)
{
    int k = 0;
    for (int i = 0; i < argc;) {
        if (k == max)
            return sh_fail(sh, "too many inputs (expected at most %d)", max);
        starts[k] = i;
        if (is_generator(argv[i])) {
            int j = i + 1;
            while (j < argc && is_number_word(argv[j]))
                j++;
            counts[k] = j - i;
            i = j;
        } else {
            counts[k] = 1;
            i++;
        }
        k++;
    }
    return k;
}

/* The progress bar: redrawn in place on a terminal, final lines only
 * otherwise. */
static void progress(void *ctx, const char *text, int kind)
{
    static size_t prev;
    int tty = *(int *)ctx;
    size_t len = strlen(text);
    if (kind == SQ_PROGRESS_WARNING) {
        fflush(stdout);
        fprintf(stderr, "warning: %s\n", text);
        return;
    }
    if (kind == SQ_PROGRESS_LINE) {
        printf("%s\n", text);
    } else if (!tty) {
        if (kind == SQ_PROGRESS_FINAL)
            printf("%s\n", text);
    } else {
        printf("\r%s", text);
        for (size_t i = len; i < prev; i++)
            putchar(' ');
        if (kind == SQ_PROGRESS_FINAL) {
            putchar('\n');
            len = 0;
        }
    }
    prev = len;
    fflush(stdout);
}

/* X and Y for fit/evaluate: INPUT INPUT, or one FILE with label=. */
static int get_xy(shell *sh, int argc, char **argv, const char *label, sq_tensor *x,
                  sq_tensor *y)
{
    int starts[3], counts[3];
    int k = split_inputs(sh, argc, argv, starts, counts, 2);
    sq_error e;
    if (k < 0)
        return -1;
    if (label) {
        if (k != 1)
            return sh_fail(sh, "with label=, give one data file (its other columns are X)");
        char path[4096];
        if (sh_path(sh, argv[starts[0]], path, sizeof path) < 0)
            return -1;
        if (sq_data_load(path, label, x, y, &e) < 0)
            return sh_engine_fail(sh, &e);
        return 0;
    }
    if (k != 2)
        return sh_fail(sh, "expected X and Y inputs (or one CSV file with label=)");
    if (get_input(sh, counts[0], argv + starts[0], x) < 0)
        return -1;
    if (get_input(sh, counts[1], argv + starts[1], y) < 0) {
        sq_tensor_free(x);
        return -1;
    }
    return 0;
}

static void print_tensor(const sq_tensor *t)
{
    char sh[128];
    char *v = sq_tensor_format(t);
    printf("shape=%s dtype=float32\n%s\n", sq_shape_str(&t->shape, sh, sizeof sh),
           v ? v : "(out of memory)");
    free(v);
}

/* Class indices, as NumPy prints argmax's int64 array. */
static void print_classes(const sq_tensor *t)
{
    char sh[128];
    char *v = sq_tensor_format_int(t);
    printf("shape=%s dtype=int64\n%s\n", sq_shape_str(&t->shape, sh, sizeof sh),
           v ? v : "(out of memory)");
    free(v);
}

/* Writes one output tensor to save= (format by extension), named after
 * the model's last layer (or `name`). */
static int save_one(shell *sh, const char *path, const sq_tensor *t, const char *name,
                    int integer)
{
    sq_error e;
    sq_layer_info li;
    if (!name)
        name = sq_layer_get(sh->s, sq_layer_count(sh->s) - 1, &li) == 0 ? li.name : "output";
    sq_named_tensor nt = { (char *)name, *t };
    if (sq_save_outputs(path, &nt, 1, integer, &e) < 0)
        return sh_engine_fail(sh, &e);
    return 0;
}

/* Splits a command's words into plain ones and options; options must come
 * after the plain words where `options_last`. */
static int args_of(shell *sh, sq_args *a, const char *cmd, int argc, char **argv,
                   char **plain, int *np, int options_last)
{
    sq_error e;
    if (argc > MAX_WORDS)
        return sh_fail(sh, "too many words");
    if (sq_args_init(a, cmd, argc, argv, plain, np, &e) < 0)
        return sh_engine_fail(sh, &e);
    if (options_last)
        for (int i = 0; i < *np; i++)
            if (plain[i] != argv[i])
                return sh_fail(sh, "options must come after the input");
    return 0;
}

/* `INPUT [save=FILE]`, as call and extract take it: the input in *x and
 * save= (or NULL) in *save, which will hold nsave arrays. */
static int input_and_save(shell *sh, const char *cmd, int argc, char **argv, sq_tensor *x,
                          const char **save, char *savebuf, size_t savelen, int nsave)
{
    sq_args a;
    char *plain[MAX_WORDS];
    int np;
    sq_error e;
    if (args_of(sh, &a, cmd, argc, argv, plain, &np, 1) < 0)
        return -1;
    *save = sq_arg(&a, "save");
    if (sq_args_finish(&a, &e) < 0)
        return sh_engine_fail(sh, &e);
    if (*save && !**save)
        return sh_fail(sh, "save= needs a file name");
    if (*save) {
        if (sh_path(sh, *save, savebuf, savelen) < 0)
            return -1;
        *save = savebuf;
    }
    /* a bad extension is refused before anything runs */
    if (*save && sq_check_output_path(*save, nsave, &e) < 0)
        return sh_engine_fail(sh, &e);
    return get_input_for(sh, np, plain, x, !strcmp(cmd, "call"));
}

int cmd_call(shell *sh, int argc, char **argv)
{
    const char *save;
    sq_error e;
    sq_tensor x = { 0 }, y = { 0 };
    char savebuf[4096];
    if (input_and_save(sh, "call", argc - 1, argv + 1, &x, &save, savebuf, sizeof savebuf, 1)
        < 0)
        return -1;
    int rc = sq_call(sh->s, &x, &y, &e);
    sq_tensor_free(&x);
    if (rc < 0)
        return sh_engine_fail(sh, &e);
    if (save && save_one(sh, save, &y, NULL, 0) < 0) {
        sq_tensor_free(&y);
        return -1;
    }
    print_tensor(&y);
    sq_tensor_free(&y);
    return 0;
}

int cmd_extract(shell *sh, int argc, char **argv)
{
    const char *save;
    sq_error e;
    sq_tensor x = { 0 };
    int nsave = 1;
    if (!strcmp(argv[1], "all"))
        nsave = sq_layer_count(sh->s);
    else
        for (const char *c = argv[1]; (c = strchr(c, ',')); c++)
            nsave++;
    char savebuf[4096];
    if (input_and_save(sh, "extract", argc - 2, argv + 2, &x, &save, savebuf, sizeof savebuf,
                       nsave) < 0)
        return -1;
    sq_named_tensor *outs;
    int n;
    int rc = sq_extract(sh->s, argv[1], &x, &outs, &n, &e);
    sq_tensor_free(&x);
    if (rc < 0)
        return sh_engine_fail(sh, &e);
    if (save && sq_save_outputs(save, outs, n, 0, &e) < 0) {
        sq_named_free(outs, n);
        return sh_engine_fail(sh, &e);
    }
    /* each output's name, shape and a short view: str(x.ravel()) */
    for (int i = 0; i < n; i++) {
        char shp[128];
        sq_tensor flat = { { 1, { (long)sq_shape_count(&outs[i].t.shape) } }, outs[i].t.data };
        char *v = sq_tensor_format(&flat);
        sh_fputs(outs[i].name, stdout);
        printf(" shape=%s dtype=float32\n%s\n",
               sq_shape_str(&outs[i].t.shape, shp, sizeof shp), v ? v : "(out of memory)");
        free(v);
    }
    sq_named_free(outs, n);
    return 0;
}

int cmd_compile(shell *sh, int argc, char **argv)
{
    sq_error e;
    if (sq_compile_words(sh->s, argc - 1, argv + 1, &e) < 0)
        return sh_engine_fail(sh, &e);
    return 0;
}

int cmd_fit(shell *sh, int argc, char **argv)
{
    sq_args a;
    char *plain[MAX_WORDS];
    int np;
    sq_fit_opts o;
    sq_error e;
    if (args_of(sh, &a, "fit", argc - 1, argv + 1, plain, &np, 0) < 0)
        return -1;
    if (sq_fit_opts_read(&a, &o, &e) < 0 || sq_args_finish(&a, &e) < 0)
        return sh_engine_fail(sh, &e);
    sq_tensor x = { 0 }, y = { 0 };
    if (get_xy(sh, np, plain, o.label, &x, &y) < 0)
        return -1;
    int tty = sh_stdout_is_terminal();
    int rc = sq_fit(sh->s, &x, &y, &o, progress, &tty, &e);
    sq_tensor_free(&x);
    sq_tensor_free(&y);
    if (rc < 0)
        return sh_engine_fail(sh, &e);
    return 0;
}

int cmd_evaluate(shell *sh, int argc, char **argv)
{
    sq_args a;
    char *plain[MAX_WORDS];
    int np, verbose;
    long batch;
    sq_error e;
    if (args_of(sh, &a, "evaluate", argc - 1, argv + 1, plain, &np, 0) < 0)
        return -1;
    const char *label = sq_arg(&a, "label"), *sw = sq_arg(&a, "sample_weight");
    if (sq_batch_opts_read(&a, &batch, &verbose, &e) < 0 || sq_args_finish(&a, &e) < 0)
        return sh_engine_fail(sh, &e);
    sq_tensor x = { 0 }, y = { 0 };
    if (get_xy(sh, np, plain, label, &x, &y) < 0)
        return -1;
    int tty = sh_stdout_is_terminal();
    double vals[16];
    const char *names[16];
    int n;
    int rc = sq_evaluate_weighted(sh->s, &x, &y, sw, NULL, batch, verbose, progress, &tty, vals,
                                  names, 16, &n, &e);
    sq_tensor_free(&x);
    sq_tensor_free(&y);
    if (rc < 0)
        return sh_engine_fail(sh, &e);
    if (!verbose) {
        for (int i = 0; i < n; i++)
            printf("%s%s: %.4f", i ? " - " : "", names[i], vals[i]);
        putchar('\n');
    }
    return 0;
}

int cmd_predict(shell *sh, int argc, char **argv)
{
    sq_args a;
    char *plain[MAX_WORDS];
    int np;
    long batch;
    sq_error e;
    if (args_of(sh, &a, "predict", argc - 1, argv + 1, plain, &np, 0) < 0)
        return -1;
    const char *label = sq_arg(&a, "label"), *save = sq_arg(&a, "save");
    int classes = 0;
    if (sq_batch_opts_read(&a, &batch, NULL, &e) < 0
        || sq_arg_bool(&a, "classes", &classes, &e) < 0 || sq_args_finish(&a, &e) < 0)
        return sh_engine_fail(sh, &e);
    if (save && !*save)
        return sh_fail(sh, "save= needs a file name");
    char savebuf[4096], path[4096];
    if (save) {
        if (sh_path(sh, save, savebuf, sizeof savebuf) < 0)
            return -1;
        save = savebuf;
    }
    if (save && sq_check_output_path(save, 1, &e) < 0)
        return sh_engine_fail(sh, &e);
    sq_tensor x = { 0 }, y = { 0 }, ignored = { 0 };
    if (label) {
        if (np != 1)
            return sh_fail(sh, "with label=, give one data file");
        if (sh_path(sh, plain[0], path, sizeof path) < 0)
            return -1;
        if (sq_data_load(path, label, &x, &ignored, &e) < 0)
            return sh_engine_fail(sh, &e);
        sq_tensor_free(&ignored);
    } else if (get_input(sh, np, plain, &x) < 0) {
        return -1;
    }
    int rc = sq_predict(sh->s, &x, batch, &y, &e);
    sq_tensor_free(&x);
    if (rc < 0)
        return sh_engine_fail(sh, &e);
    if (classes) {
        sq_tensor c;
        rc = sq_classes(&y, &c, &e);
        sq_tensor_free(&y);
        if (rc < 0)
            return sh_engine_fail(sh, &e);
        y = c;
    }
    if (save && save_one(sh, save, &y, classes ? "class" : NULL, classes) < 0) {
        sq_tensor_free(&y);
        return -1;
    }
    if (classes)
        print_classes(&y);
    else
        print_tensor(&y);
    sq_tensor_free(&y);
    return 0;
}

int sh_get_input(shell *sh, int argc, char **argv, sq_tensor *x)
{
    return get_input(sh, argc, argv, x);
}

int cmd_confusion(shell *sh, int argc, char **argv)
{
    sq_args a;
    char *plain[MAX_WORDS];
    int np;
    long batch;
    sq_error e;
    if (args_of(sh, &a, "confusion", argc - 1, argv + 1, plain, &np, 0) < 0)
        return -1;
    const char *label = sq_arg(&a, "label");
    if (sq_batch_opts_read(&a, &batch, NULL, &e) < 0 || sq_args_finish(&a, &e) < 0)
        return sh_engine_fail(sh, &e);
    sq_tensor x = { 0 }, y = { 0 };
    if (get_xy(sh, np, plain, label, &x, &y) < 0)
        return -1;
    sq_confusion_matrix cm;
    int rc = sq_confusion(sh->s, &x, &y, batch, &cm, &e);
    sq_tensor_free(&x);
    sq_tensor_free(&y);
    if (rc < 0)
        return sh_engine_fail(sh, &e);
    char *text = sq_confusion_text(&cm, &e);
    sq_confusion_free(&cm);
    if (!text)
        return sh_engine_fail(sh, &e);
    sh_put_text(text);
    return 0;
}
