/* commands.c - the command table: every command's name, usage, help and
 * handler. Dispatch, `help` and usage errors all read this one table. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "config.h"
#include "shell.h"

static int engine_fail(shell *sh, const sq_error *e)
{
    return sh_fail(sh, "%s", e->msg);
}

/* Prints malloc'd text from the engine, adding a final newline. */
static void put_text(char *text)
{
    size_t n = strlen(text);
    fputs(text, stdout);
    if (n && text[n - 1] != '\n')
        putchar('\n');
    free(text);
}

static int parse_long(shell *sh, const char *what, const char *s, long *v)
{
    char *end;
    errno = 0;
    long x = strtol(s, &end, 10);
    if (end == s || *end || errno == ERANGE || x > INT_MAX || x < INT_MIN)
        return sh_fail(sh, "%s must be an integer, got '%s'", what, s);
    *v = x;
    return 0;
}

/* Dimensions given as words "1 250 250 3" and/or tuples "1,250,250,3". */
static int parse_dims(shell *sh, int argc, char **argv, long *dims, int *n)
{
    *n = 0;
    for (int i = 0; i < argc; i++) {
        char buf[256];
        if (strlen(argv[i]) >= sizeof buf)
            return sh_fail(sh, "dimension list too long");
        strcpy(buf, argv[i]);
        for (char *p = buf; *p; p++)
            if (*p == '(' || *p == ')' || *p == ',')
                *p = ' ';
        char *save = NULL;
        for (char *tok = strtok_r(buf, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
            if (*n == SQ_MAX_RANK)
                return sh_fail(sh, "too many dimensions (at most %d)", SQ_MAX_RANK);
            if (parse_long(sh, "a dimension", tok, &dims[*n]) < 0)
                return -1;
            (*n)++;
        }
    }
    if (*n == 0)
        return sh_fail(sh, "expected dimensions");
    return 0;
}

/* "key=value" with an identifier key. */
static int is_option(const char *w)
{
    const char *p = w;
    while ((*p >= 'a' && *p <= 'z') || *p == '_')
        p++;
    return p > w && *p == '=';
}

/* Splits trailing key=value words off argv: returns how many plain words
 * come first; *save gets save= (or NULL). Other keys are errors. */
static int take_save(shell *sh, int argc, char **argv, const char **save)
{
    *save = NULL;
    int plain = 0;
    for (int i = 0; i < argc; i++) {
        if (!strncmp(argv[i], "save=", 5)) {
            if (!argv[i][5])
                return sh_fail(sh, "save= needs a file name");
            *save = argv[i] + 5;
        } else if (is_option(argv[i])) {
            return sh_fail(sh, "unknown option '%s'", argv[i]);
        } else {
            if (plain != i)
                return sh_fail(sh, "options must come after the input");
            plain++;
        }
    }
    return plain;
}

/* INPUT: ones|zeros|random|range D0 D1 ... or a file. */
static int get_input(shell *sh, int argc, char **argv, sq_tensor *x)
{
    sq_error e;
    if (argc == 0)
        return sh_fail(sh, "expected an input: ones|zeros|random|range D0 D1 ..., or a file");
    const char *g = argv[0];
    if (!strcmp(g, "ones") || !strcmp(g, "zeros") || !strcmp(g, "random") || !strcmp(g, "range")) {
        long dims[SQ_MAX_RANK];
        int n;
        if (parse_dims(sh, argc - 1, argv + 1, dims, &n) < 0)
            return -1;
        if (sq_tensor_generate(sh->s, g, n, dims, x, &e) < 0)
            return engine_fail(sh, &e);
        return 0;
    }
    if (argc > 1)
        return sh_fail(sh, "unexpected '%s' after the input file", argv[1]);
    if (sq_tensor_load(g, x, &e) < 0)
        return engine_fail(sh, &e);
    return 0;
}

/* Words that name INPUTs: a generator with its dimensions, or a file. */
static int is_generator(const char *w)
{
    return !strcmp(w, "ones") || !strcmp(w, "zeros") || !strcmp(w, "random")
        || !strcmp(w, "range");
}

static int is_number_word(const char *w)
{
    char *end;
    strtol(w, &end, 10);
    return end != w && (*end == '\0' || *end == ',' || *end == ')' || *end == '(')
        ? 1 : (w[0] == '(' || strchr(w, ',') != NULL);
}

/* Splits argv into INPUTs; starts[k] and counts[k] give each one's words.
 * Returns how many, or -1. */
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

/* A key=value option's value if argv[i] is "key=...", else NULL. */
static const char *opt_value(const char *word, const char *key)
{
    size_t n = strlen(key);
    return !strncmp(word, key, n) && word[n] == '=' ? word + n + 1 : NULL;
}

static int parse_double(shell *sh, const char *what, const char *s, double *v)
{
    char *end;
    errno = 0;
    double x = strtod(s, &end);
    if (end == s || *end || errno == ERANGE)
        return sh_fail(sh, "%s must be a number, got '%s'", what, s);
    *v = x;
    return 0;
}

static int parse_bool(shell *sh, const char *what, const char *s, int *v)
{
    if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "1"))
        *v = 1;
    else if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "0"))
        *v = 0;
    else
        return sh_fail(sh, "%s must be true or false, got '%s'", what, s);
    return 0;
}

/* The progress bar: redrawn in place on a terminal, final lines only
 * otherwise. */
static void progress(void *ctx, const char *text, int kind)
{
    static size_t prev;
    int tty = *(int *)ctx;
    size_t len = strlen(text);
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

/* Loads X and Y for fit/evaluate from argv (INPUT INPUT, or FILE with
 * label=); the remaining key=value words are left for the caller. */
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
        if (sq_data_load(argv[starts[0]], label, x, y, &e) < 0)
            return engine_fail(sh, &e);
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

/* ---- handlers ------------------------------------------------------------ */

static int cmd_model(shell *sh, int argc, char **argv)
{
    sq_error e;
    if (sq_model_new(sh->s, argc > 1 ? argv[1] : NULL, &e) < 0)
        return engine_fail(sh, &e);
    return 0;
}

static int cmd_input(shell *sh, int argc, char **argv)
{
    long dims[SQ_MAX_RANK];
    int n;
    sq_error e;
    if (parse_dims(sh, argc - 1, argv + 1, dims, &n) < 0)
        return -1;
    if (sq_input(sh->s, n, dims, &e) < 0)
        return engine_fail(sh, &e);
    return 0;
}

/* add model FILE [trainable=false] [name=NAME] */
static int add_model(shell *sh, int argc, char **argv)
{
    const char *file = NULL, *name = NULL, *v;
    int trainable = -1;
    sq_error e;
    for (int i = 2; i < argc; i++) {
        if ((v = opt_value(argv[i], "name"))) {
            name = v;
        } else if ((v = opt_value(argv[i], "trainable"))) {
            if (parse_bool(sh, "trainable", v, &trainable) < 0)
                return -1;
        } else if (is_option(argv[i])) {
            return sh_fail(sh, "add model takes name= and trainable=, not '%s'", argv[i]);
        } else if (!file) {
            file = argv[i];
        } else {
            return sh_fail(sh, "usage: add model FILE [trainable=false] [name=NAME]");
        }
    }
    if (!file)
        return sh_fail(sh, "usage: add model FILE [trainable=false] [name=NAME]");
    if (sq_add_model(sh->s, file, name, trainable, &e) < 0)
        return engine_fail(sh, &e);
    return 0;
}

static int cmd_add(shell *sh, int argc, char **argv)
{
    sq_error e;
    if (!strcmp(argv[1], "model")) {
        if (add_model(sh, argc, argv) < 0)
            return -1;
    } else if (sq_add(sh->s, argv[1], argc - 2, argv + 2, &e) < 0) {
        char hint[96] = "";
        if (!strncmp(e.msg, "Unknown layer: ", 15))
            sh_kind_suggestion(argv[1], hint, sizeof hint);
        return sh_fail(sh, "%s%s", e.msg, hint);
    }
    if ((sh->interactive || sh->echo) && !sh->quiet) {
        sq_layer_info li;
        int n = sq_layer_count(sh->s);
        sq_layer_get(sh->s, n - 1, &li);
        if (li.built) {
            char shp[128];
            printf("%s (%s) %s %zu params\n", li.name, li.class_name,
                   sq_shape_str(&li.output_shape, shp, sizeof shp), li.params);
        } else {
            printf("%s (%s), not built yet\n", li.name, li.class_name);
        }
    }
    return 0;
}

static int cmd_pop(shell *sh, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    sq_error e;
    if (sq_pop(sh->s, &e) < 0)
        return engine_fail(sh, &e);
    return 0;
}

static int cmd_layers(shell *sh, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    sq_error e;
    char *t = sq_layers_text(sh->s, &e);
    if (!t)
        return engine_fail(sh, &e);
    put_text(t);
    return 0;
}

static int cmd_summary(shell *sh, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    sq_error e;
    char *t = sq_summary(sh->s, &e);
    if (!t)
        return engine_fail(sh, &e);
    put_text(t);
    return 0;
}

static int cmd_weights(shell *sh, int argc, char **argv)
{
    sq_error e;
    char *t = sq_weights_text(sh->s, argc > 1 ? argv[1] : NULL, &e);
    if (!t)
        return engine_fail(sh, &e);
    put_text(t);
    return 0;
}

static int cmd_call(shell *sh, int argc, char **argv)
{
    const char *save;
    int plain = take_save(sh, argc - 1, argv + 1, &save);
    if (plain < 0)
        return -1;
    sq_tensor x = { 0 }, y = { 0 };
    sq_error e;
    if (get_input(sh, plain, argv + 1, &x) < 0)
        return -1;
    int rc = sq_call(sh->s, &x, &y, &e);
    sq_tensor_free(&x);
    if (rc < 0)
        return engine_fail(sh, &e);
    if (save && sq_tensor_save(save, &y, &e) < 0) {
        sq_tensor_free(&y);
        return engine_fail(sh, &e);
    }
    print_tensor(&y);
    sq_tensor_free(&y);
    return 0;
}

static int cmd_compile(shell *sh, int argc, char **argv)
{
    const char *optimizer = NULL, *loss = NULL;
    char metrics[256] = "";
    const char *keys[16], *vals[16];
    int n = 0;
    sq_error e;
    for (int i = 1; i < argc; i++) {
        const char *eq = strchr(argv[i], '=');
        if (!eq || eq == argv[i])
            return sh_fail(sh, "compile takes key=value options, got '%s'", argv[i]);
        const char *v = eq + 1;
        if (opt_value(argv[i], "optimizer")) {
            optimizer = v;
        } else if (opt_value(argv[i], "loss")) {
            loss = v;
        } else if (opt_value(argv[i], "metrics")) {
            size_t l = strlen(metrics);
            snprintf(metrics + l, sizeof metrics - l, "%s%s", l ? "," : "", v);
        } else {
            if (n == 16)
                return sh_fail(sh, "too many options");
            static char keybuf[16][64];
            snprintf(keybuf[n], sizeof keybuf[n], "%.*s", (int)(eq - argv[i]), argv[i]);
            keys[n] = keybuf[n];
            vals[n] = v;
            n++;
        }
    }
    if (sq_compile(sh->s, optimizer, loss, metrics, n, keys, vals, &e) < 0)
        return engine_fail(sh, &e);
    return 0;
}

/* A key=value option of fit/evaluate/predict and where its value goes. */
typedef enum { KV_INT, KV_LONG, KV_DOUBLE, KV_BOOL, KV_STR } kv_type;
typedef struct {
    const char *key;
    kv_type type;
    void *dst;
} kv_opt;

/* Splits words into plain ones (the inputs) and key=value options parsed
 * by spec (a NULL-key-ended table); cmd names the command in messages. */
static int parse_words(shell *sh, const char *cmd, int argc, char **argv, char **plain,
                       int *np, const kv_opt *spec)
{
    *np = 0;
    if (argc > 64)
        return sh_fail(sh, "too many words");
    for (int i = 0; i < argc; i++) {
        if (!is_option(argv[i])) {
            plain[(*np)++] = argv[i];
            continue;
        }
        const kv_opt *o = spec;
        const char *v = NULL;
        while (o->key && !(v = opt_value(argv[i], o->key)))
            o++;
        if (!o->key)
            return sh_fail(sh, "%s() got an unexpected keyword argument '%.*s'", cmd,
                           (int)(strchr(argv[i], '=') - argv[i]), argv[i]);
        long l;
        switch (o->type) {
        case KV_INT:
            if (parse_long(sh, o->key, v, &l) < 0)
                return -1;
            *(int *)o->dst = (int)l;
            break;
        case KV_LONG:
            if (parse_long(sh, o->key, v, (long *)o->dst) < 0)
                return -1;
            break;
        case KV_DOUBLE:
            if (parse_double(sh, o->key, v, (double *)o->dst) < 0)
                return -1;
            break;
        case KV_BOOL:
            if (parse_bool(sh, o->key, v, (int *)o->dst) < 0)
                return -1;
            break;
        case KV_STR:
            *(const char **)o->dst = v;
            break;
        }
    }
    return 0;
}

static int cmd_fit(shell *sh, int argc, char **argv)
{
    char *plain[64];
    int np;
    sq_fit_opts o = { 1, 32, 0, 1, 1 };
    const char *label = NULL;
    const kv_opt spec[] = {
        { "epochs", KV_INT, &o.epochs }, { "batch_size", KV_LONG, &o.batch_size },
        { "validation_split", KV_DOUBLE, &o.validation_split },
        { "shuffle", KV_BOOL, &o.shuffle }, { "verbose", KV_INT, &o.verbose },
        { "label", KV_STR, &label }, { NULL, KV_INT, NULL },
    };
    if (parse_words(sh, "fit", argc - 1, argv + 1, plain, &np, spec) < 0)
        return -1;
    sq_tensor x = { 0 }, y = { 0 };
    if (get_xy(sh, np, plain, label, &x, &y) < 0)
        return -1;
    sq_error e;
    int tty = isatty(1);
    int rc = sq_fit(sh->s, &x, &y, &o, progress, &tty, &e);
    sq_tensor_free(&x);
    sq_tensor_free(&y);
    if (rc < 0)
        return engine_fail(sh, &e);
    return 0;
}

static int cmd_evaluate(shell *sh, int argc, char **argv)
{
    char *plain[64];
    int np;
    const char *label = NULL;
    long batch = 32;
    int verbose = 1;
    const kv_opt spec[] = {
        { "batch_size", KV_LONG, &batch }, { "verbose", KV_INT, &verbose },
        { "label", KV_STR, &label }, { NULL, KV_INT, NULL },
    };
    if (parse_words(sh, "evaluate", argc - 1, argv + 1, plain, &np, spec) < 0)
        return -1;
    sq_tensor x = { 0 }, y = { 0 };
    if (get_xy(sh, np, plain, label, &x, &y) < 0)
        return -1;
    sq_error e;
    int tty = isatty(1);
    double vals[16];
    const char *names[16];
    int n;
    int rc = sq_evaluate(sh->s, &x, &y, batch, verbose ? 1 : 0, progress, &tty, vals, names,
                         16, &n, &e);
    sq_tensor_free(&x);
    sq_tensor_free(&y);
    if (rc < 0)
        return engine_fail(sh, &e);
    if (!verbose) {
        for (int i = 0; i < n; i++)
            printf("%s%s: %.4f", i ? " - " : "", names[i], vals[i]);
        putchar('\n');
    }
    return 0;
}

static int cmd_predict(shell *sh, int argc, char **argv)
{
    char *plain[64];
    int np;
    const char *save = NULL, *label = NULL;
    long batch = 32;
    const kv_opt spec[] = {
        { "batch_size", KV_LONG, &batch }, { "save", KV_STR, &save },
        { "label", KV_STR, &label }, { NULL, KV_INT, NULL },
    };
    if (parse_words(sh, "predict", argc - 1, argv + 1, plain, &np, spec) < 0)
        return -1;
    sq_tensor x = { 0 }, y = { 0 }, ignored = { 0 };
    sq_error e;
    if (label) {
        if (np != 1)
            return sh_fail(sh, "with label=, give one data file");
        if (sq_data_load(plain[0], label, &x, &ignored, &e) < 0)
            return engine_fail(sh, &e);
        sq_tensor_free(&ignored);
    } else if (get_input(sh, np, plain, &x) < 0) {
        return -1;
    }
    int rc = sq_predict(sh->s, &x, batch, &y, &e);
    sq_tensor_free(&x);
    if (rc < 0)
        return engine_fail(sh, &e);
    if (save && sq_tensor_save(save, &y, &e) < 0) {
        sq_tensor_free(&y);
        return engine_fail(sh, &e);
    }
    print_tensor(&y);
    sq_tensor_free(&y);
    return 0;
}

static int set_trainable(shell *sh, int argc, char **argv, int trainable)
{
    sq_error e;
    int count;
    for (int i = 1; i < argc; i++)
        if (sq_set_trainable(sh->s, argv[i], trainable, &count, &e) < 0)
            return engine_fail(sh, &e);
    return 0;
}

static int cmd_freeze(shell *sh, int argc, char **argv)
{
    return set_trainable(sh, argc, argv, 0);
}

static int cmd_unfreeze(shell *sh, int argc, char **argv)
{
    return set_trainable(sh, argc, argv, 1);
}

static int cmd_extract(shell *sh, int argc, char **argv)
{
    const char *save;
    int plain = take_save(sh, argc - 2, argv + 2, &save);
    if (plain < 0)
        return -1;
    sq_tensor x = { 0 };
    sq_error e;
    if (get_input(sh, plain, argv + 2, &x) < 0)
        return -1;
    sq_named_tensor *outs;
    int n;
    int rc = sq_extract(sh->s, argv[1], &x, &outs, &n, &e);
    sq_tensor_free(&x);
    if (rc < 0)
        return engine_fail(sh, &e);
    if (save && sq_save_npz(save, outs, n, &e) < 0) {
        sq_named_free(outs, n);
        return engine_fail(sh, &e);
    }
    /* each output's name, shape and a short view: str(x.ravel()) */
    for (int i = 0; i < n; i++) {
        char shp[128];
        sq_tensor flat = { { 1, { (long)sq_shape_count(&outs[i].t.shape) } }, outs[i].t.data };
        char *v = sq_tensor_format(&flat);
        printf("%s shape=%s dtype=float32\n%s\n", outs[i].name,
               sq_shape_str(&outs[i].t.shape, shp, sizeof shp), v ? v : "(out of memory)");
        free(v);
    }
    sq_named_free(outs, n);
    return 0;
}

/* save, load, save_weights, load_weights: one engine call on a path. */
typedef int (*path_fn)(sq_session *s, const char *path, sq_error *err);

static int with_path(shell *sh, path_fn fn, const char *path)
{
    sq_error e;
    if (fn(sh->s, path, &e) < 0)
        return engine_fail(sh, &e);
    return 0;
}

static int save_model(sq_session *s, const char *p, sq_error *e) { return sq_save(s, p, e); }
static int save_weights(sq_session *s, const char *p, sq_error *e)
{
    return sq_save_weights(s, p, e);
}

static int cmd_save(shell *sh, int argc, char **argv)
{
    (void)argc;
    return with_path(sh, save_model, argv[1]);
}

static int cmd_load(shell *sh, int argc, char **argv)
{
    (void)argc;
    char notes[2048];
    sq_error e;
    if (sq_load_noted(sh->s, argv[1], notes, sizeof notes, &e) < 0)
        return engine_fail(sh, &e);
    fputs(notes, stdout);
    return 0;
}

static int cmd_save_weights(shell *sh, int argc, char **argv)
{
    (void)argc;
    return with_path(sh, save_weights, argv[1]);
}

static int cmd_load_weights(shell *sh, int argc, char **argv)
{
    (void)argc;
    return with_path(sh, sq_load_weights, argv[1]);
}

static int cmd_reset(shell *sh, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    sq_reset(sh->s);
    return 0;
}

static int cmd_seed(shell *sh, int argc, char **argv)
{
    (void)argc;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(argv[1], &end, 10);
    if (end == argv[1] || *end || errno == ERANGE || argv[1][0] == '-')
        return sh_fail(sh, "seed must be a non-negative integer, got '%s'", argv[1]);
    sq_seed(sh->s, v);
    return 0;
}

static int cmd_echo(shell *sh, int argc, char **argv)
{
    (void)sh;
    for (int i = 1; i < argc; i++)
        printf("%s%s", i > 1 ? " " : "", argv[i]);
    putchar('\n');
    return 0;
}

static int cmd_quit(shell *sh, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    sh->want_exit = 1;
    return 0;
}

static int cmd_help(shell *sh, int argc, char **argv)
{
    if (argc == 1) {
        for (const sh_command *c = sh_commands; c->name; c++)
            printf("  %-14s %s\n", c->name, c->summary);
        printf("\nhelp COMMAND explains a command, help LAYER a layer kind (help conv2d);\n"
           "help layers lists the layer kinds, help activations the activations.\n");
        return 0;
    }
    if (!strcmp(argv[1], "activations")) {
        for (int i = 0; i < sq_activation_count(); i++)
            printf("%s\n", sq_activation_name(i));
        return 0;
    }
    if (!strcmp(argv[1], "layers") || !strcmp(argv[1], "kinds")) {
        for (int i = 0; i < sq_kind_count(); i++)
            printf("  %s\n", sq_kind_class(i));
        return 0;
    }
    const sh_command *c = sh_command_find(argv[1]);
    if (c) {
        printf("usage: %s\n\n%s\n", c->usage, c->help);
        return 0;
    }
    char *k = sq_kind_help(argv[1]);
    if (k) {
        fputs(k, stdout);
        free(k);
        return 0;
    }
    char hint[96] = "";
    const char *names[64];
    int n = 0;
    for (const sh_command *cc = sh_commands; cc->name && n < 64; cc++)
        names[n++] = cc->name;
    const char *near = sh_nearest(argv[1], names, n);
    if (near)
        snprintf(hint, sizeof hint, " (did you mean %s?)", near);
    else
        sh_kind_suggestion(argv[1], hint, sizeof hint);
    return sh_fail(sh, "no help for '%s'%s; 'help' lists commands, 'help layers' layer kinds",
                   argv[1], hint);
}

static int cmd_source(shell *sh, int argc, char **argv)
{
    (void)argc;
    sh->in_source++;
    int rc = sh_run_path(sh, argv[1]);
    sh->in_source--;
    return rc;
}

static int cmd_time(shell *sh, int argc, char **argv)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = sh_run_cmd(sh, argc - 1, argv + 1);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (rc < 0)
        return -1;
    fflush(stdout);
    printf("Time: %.3f ms\n", (double)(t1.tv_sec - t0.tv_sec) * 1e3
           + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
    return 0;
}

static int cmd_history(shell *sh, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    for (int i = 0; i < sh->nhistory; i++)
        printf("%s\n", sh->history[i]);
    return 0;
}

static int cmd_threads(shell *sh, int argc, char **argv)
{
    (void)argc;
    long n;
    if (parse_long(sh, "threads", argv[1], &n) < 0)
        return -1;
    if (n < 1 || n > 256)
        return sh_fail(sh, "threads must be between 1 and 256, got %ld", n);
    sq_set_threads((int)n);
    return 0;
}

/* "512M", "8G", "1.5GiB", "1000000" -> bytes; -1 when not a size. */
static double parse_size(const char *s)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno || !(v > 0) || v > 1e18)
        return -1;
    static const char *const suffixes = "KMGTP";
    double mult = 1;
    if (*end) {
        const char *u = strchr(suffixes, toupper((unsigned char)*end));
        if (!u)
            return -1;
        for (const char *q = suffixes; q <= u; q++)
            mult *= 1024;
        end++;
        if (!strcmp(end, "iB") || !strcmp(end, "B"))
            end += strlen(end);
        if (*end)
            return -1;
    }
    return v * mult;
}

static int cmd_set(shell *sh, int argc, char **argv)
{
    if (argc == 1) {
        char b[32];
        double lim = (double)sq_get_memory_limit();
        if (lim >= 1024.0 * 1024 * 1024)
            snprintf(b, sizeof b, "%.1fG", lim / (1024.0 * 1024 * 1024));
        else
            snprintf(b, sizeof b, "%.0fM", lim / (1024.0 * 1024));
        printf("memory_limit=%s\nthreads=%d\n", b, sq_get_threads());
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        const char *v;
        if ((v = opt_value(argv[i], "memory_limit"))) {
            double bytes = parse_size(v);
            if (bytes < 1024 * 1024)
                return sh_fail(sh, "memory_limit must be a size of at least 1M, like 512M or "
                               "8G, got '%s'", v);
            sq_set_memory_limit((size_t)bytes);
        } else if ((v = opt_value(argv[i], "threads"))) {
            long n;
            if (parse_long(sh, "threads", v, &n) < 0)
                return -1;
            if (n < 1 || n > 256)
                return sh_fail(sh, "threads must be between 1 and 256, got %ld", n);
            sq_set_threads((int)n);
        } else {
            return sh_fail(sh, "unknown setting '%s' (settings: memory_limit, threads)", argv[i]);
        }
    }
    return 0;
}

static int cmd_info(shell *sh, int argc, char **argv)
{
    (void)sh;
    (void)argc;
    (void)argv;
    printf("seqsh %s\n%s\n", PACKAGE_VERSION, sq_backend_info());
    return 0;
}

int cmd_export(shell *sh, int argc, char **argv);   /* cmd_export.c */

const sh_command sh_commands[] = {
    { "model", "model [NAME]", "start a new, empty Sequential model",
      "Replaces the current model with a new empty one (keras.Sequential(name=NAME)).\n"
      "Unnamed models are called sequential, sequential_1, ...\n\nexample: model my_net",
      cmd_model, 0, 1, C_NONE },
    { "input", "input D1 [D2 ...]", "give the model its input shape (keras.Input)",
      "Fixes the input shape without the batch, so the model is built at once and\n"
      "summary shows (None, ...) shapes.\n\nexample: input 250 250 3",
      cmd_input, 1, -1, C_NONE },
    { "add", "add KIND [ARGS...] [key=value...] | add model FILE [trainable=false]", "add a layer (model.add)",
      "Adds a layer of Keras class KIND (Dense, Conv2D, MaxPooling2D, ... matched\n"
      "ignoring case and underscores). Positional ARGS follow the Keras constructor;\n"
      "a bare activation name sets activation=. 'add model FILE [trainable=false]\n"
      "[name=NAME]' stacks a saved model as one layer.\n\nexample: add conv2d 32 3 strides=2 relu",
      cmd_add, 1, -1, C_KIND },
    { "pop", "pop", "remove the last layer (model.pop)",
      "Removes the last layer. Name counters are not rewound.\n\nexample: pop",
      cmd_pop, 0, 0, C_NONE },
    { "layers", "layers", "list the layers: index, name, class, shape, trainable",
      "Lists model.layers with each layer's output shape and trainable flag.\n\nexample: layers",
      cmd_layers, 0, 0, C_NONE },
    { "summary", "summary", "print model.summary()",
      "Prints the Keras 2.6 summary table of a built model.\n\nexample: summary",
      cmd_summary, 0, 0, C_NONE },
    { "weights", "weights [LAYER]", "list weights with their values",
      "Lists model.weights (or one layer's weights): name, shape, dtype and values.\n\n"
      "example: weights dense", cmd_weights, 0, 1, C_LAYER },
    { "call", "call INPUT [save=FILE.npy]", "run the model on an input (y = model(x))",
      "INPUT is ones|zeros|random|range D0 D1 ... (D0 is the batch) or a .npy file or\n"
      "FILE.npz:KEY. Builds an unbuilt model with the input's shape.\n\n"
      "example: call ones 1 250 250 3", cmd_call, 1, -1, C_INPUT },
    { "compile", "compile optimizer=NAME loss=NAME [metrics=NAME,...] [learning_rate=X ...]",
      "configure training (model.compile)",
      "Sets the optimizer (sgd, adam, rmsprop, adagrad, adamax, nadam; default rmsprop),\n"
      "the loss (mse, mae, binary_crossentropy, categorical_crossentropy,\n"
      "sparse_categorical_crossentropy and Keras's aliases) and metrics (accuracy, mse,\n"
      "mae). Other options go to the optimizer: learning_rate, momentum, nesterov,\n"
      "beta_1, beta_2, epsilon, rho, ...\n\n"
      "example: compile optimizer=adam loss=sparse_categorical_crossentropy metrics=accuracy",
      cmd_compile, 1, -1, C_NONE },
    { "fit", "fit X Y [epochs=1] [batch_size=32] [validation_split=0] [shuffle=true] [verbose=1]",
      "train the model (model.fit)",
      "X and Y are INPUTs (files or generators); 'fit data.csv label=last' splits one CSV\n"
      "into X and Y. Prints Keras's progress bar. Ctrl-C stops between batches and\n"
      "keeps the weights of the last finished batch.\n\n"
      "example: fit digits.csv.gz label=last epochs=15 validation_split=0.25",
      cmd_fit, 1, -1, C_FILE },
    { "evaluate", "evaluate X Y [batch_size=32] [verbose=1]", "loss and metrics on data",
      "Prints Keras's one-line result: loss and each compiled metric.\n\n"
      "example: evaluate test.csv label=last", cmd_evaluate, 1, -1, C_FILE },
    { "predict", "predict X [batch_size=32] [save=FILE.npy]", "run the model on data in batches",
      "Like call, in batches; save= writes the predictions as .npy.\n\n"
      "example: predict x.npy save=p.npy", cmd_predict, 1, -1, C_FILE },
    { "freeze", "freeze SEL...", "make layers non-trainable (layer.trainable = False)",
      "SEL is a layer name, an index (negative counts from the end), a Python slice\n"
      "over the layers (:-1 is all but the last, 1:3, ::2) or all. Frozen weights stay\n"
      "bit for bit the same in fit; summary's footer shows them as non-trainable.\n\n"
      "example: freeze :-1", cmd_freeze, 1, -1, C_LAYER },
    { "unfreeze", "unfreeze SEL...", "make layers trainable again",
      "SEL as for freeze.\n\nexample: unfreeze all", cmd_unfreeze, 1, -1, C_LAYER },
    { "extract", "extract all|NAME[,NAME...] INPUT [save=FILE.npz]",
      "every (or some) layer's output for an input",
      "Runs the model once and prints the chosen layers' outputs in layer order, as\n"
      "keras.Model(model.inputs, [layer.output ...]) would; save= writes them to an\n"
      ".npz keyed by layer name. Builds an unbuilt model as call does.\n\n"
      "example: extract all ones 1 250 250 3", cmd_extract, 2, -1, C_LAYER },
    { "save", "save FILE", "write the whole model to one file (model.save)",
      "Writes the architecture, every weight, the trainable flags and the compile\n"
      "settings to FILE (format in the README).\n\nexample: save base.seqm",
      cmd_save, 1, 1, C_FILE },
    { "load", "load FILE", "replace the model with a saved one (load_model)",
      "Reads a file written by save. On any error the current model stays.\n\n"
      "example: load base.seqm", cmd_load, 1, 1, C_FILE },
    { "export", "export onnx|pytorch|keras FILE", "write the model for another framework",
      "onnx FILE.onnx: an ONNX model (opset 13) that onnxruntime runs, taking input in\n"
      "seqsh's channels-last layout. pytorch FILE.py / keras FILE.py: Python defining a\n"
      "module-level `model` with the weights (in FILE.npz beside it).\n\n"
      "example: export onnx model.onnx", cmd_export, 2, 2, C_FILE },
    { "save_weights", "save_weights FILE.npz", "write every weight to a NumPy .npz",
      "Writes one array per weight, keyed LAYER/WEIGHT (dense/kernel).\n\n"
      "example: save_weights w.npz", cmd_save_weights, 1, 1, C_FILE },
    { "load_weights", "load_weights FILE.npz", "read weights from a NumPy .npz",
      "Reads arrays keyed LAYER/WEIGHT; every name and shape must match the model,\n"
      "or nothing changes.\n\nexample: load_weights w.npz", cmd_load_weights, 1, 1, C_FILE },
    { "reset", "reset", "restart the automatic name counters (clear_session)",
      "Like keras.backend.clear_session(): the next Dense is dense again.\n\nexample: reset",
      cmd_reset, 0, 0, C_NONE },
    { "seed", "seed N", "seed the random numbers (weights, random inputs)",
      "The same script with the same seed gives the same weights.\n\nexample: seed 42",
      cmd_seed, 1, 1, C_NONE },
    { "source", "source FILE.seq", "run the commands of a .seq file",
      "Runs FILE's commands in this session. A relative FILE inside a sourced file is\n"
      "found relative to that file. Nesting is bounded; a file cannot source itself.\n\n"
      "example: source scripts/seed_04_debug_workflow.seq", cmd_source, 1, 1, C_FILE },
    { "time", "time COMMAND...", "run a command and print its wall time",
      "Runs COMMAND, then prints 'Time: 12.345 ms' on its own line.\n\n"
      "example: time call ones 1 250 250 3", cmd_time, 1, -1, C_COMMAND },
    { "history", "history", "print this session's commands as a .seq script",
      "Prints the commands typed (or read) so far that succeeded, ready to save as a\n.seq file.\n\n"
      "example: history", cmd_history, 0, 0, C_NONE },
    { "threads", "threads N", "use N threads for the maths",
      "Sets the number of threads OpenBLAS and seqsh use.\n\nexample: threads 2",
      cmd_threads, 1, 1, C_NONE },
    { "set", "set [memory_limit=SIZE] [threads=N]", "show or change settings",
      "Without arguments shows the settings. memory_limit caps the memory one command\n"
      "may need (default half of the machine's); bigger requests are refused up front.\n\n"
      "example: set memory_limit=4G", cmd_set, 0, -1, C_NONE },
    { "info", "info", "show the version and the maths backend",
      "Prints seqsh's version, the BLAS library, its kernel and thread count.\n\nexample: info",
      cmd_info, 0, 0, C_NONE },
    { "echo", "echo TEXT", "print TEXT", "Prints its words.\n\nexample: echo hello",
      cmd_echo, 0, -1, C_NONE },
    { "help", "help [COMMAND|activations]", "list commands or explain one",
      "Without an argument lists every command.\n\nexample: help add", cmd_help, 0, 1, C_TOPIC },
    { "quit", "quit", "leave seqsh", "Leaves seqsh.\n\nexample: quit", cmd_quit, 0, 0, C_NONE },
    { "exit", "exit", "leave seqsh", "Leaves seqsh.\n\nexample: exit", cmd_quit, 0, 0, C_NONE },
    { NULL, NULL, NULL, NULL, NULL, 0, 0, C_NONE },
};

const sh_command *sh_command_find(const char *name)
{
    for (const sh_command *c = sh_commands; c->name; c++)
        if (!strcmp(c->name, name))
            return c;
    return NULL;
}
