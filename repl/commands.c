/* commands.c - the command table: every command's name, usage, help and
 * handler. Dispatch, `help` and usage errors all read this one table. */
#include <errno.h>
#include <limits.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
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

static int cmd_add(shell *sh, int argc, char **argv)
{
    sq_error e;
    if (sq_add(sh->s, argv[1], argc - 2, argv + 2, &e) < 0) {
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

static int cmd_save_weights(shell *sh, int argc, char **argv)
{
    (void)argc;
    sq_error e;
    if (sq_save_weights(sh->s, argv[1], &e) < 0)
        return engine_fail(sh, &e);
    return 0;
}

static int cmd_load_weights(shell *sh, int argc, char **argv)
{
    (void)argc;
    sq_error e;
    if (sq_load_weights(sh->s, argv[1], &e) < 0)
        return engine_fail(sh, &e);
    return 0;
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

static int cmd_info(shell *sh, int argc, char **argv)
{
    (void)sh;
    (void)argc;
    (void)argv;
    printf("seqsh %s\n%s\n", PACKAGE_VERSION, sq_backend_info());
    return 0;
}

const sh_command sh_commands[] = {
    { "model", "model [NAME]", "start a new, empty Sequential model",
      "Replaces the current model with a new empty one (keras.Sequential(name=NAME)).\n"
      "Unnamed models are called sequential, sequential_1, ...\n\nexample: model my_net",
      cmd_model, 0, 1, C_NONE },
    { "input", "input D1 [D2 ...]", "give the model its input shape (keras.Input)",
      "Fixes the input shape without the batch, so the model is built at once and\n"
      "summary shows (None, ...) shapes.\n\nexample: input 250 250 3",
      cmd_input, 1, -1, C_NONE },
    { "add", "add KIND [ARGS...] [key=value...]", "add a layer (model.add)",
      "Adds a layer of Keras class KIND (Dense, Conv2D, MaxPooling2D, ... matched\n"
      "ignoring case and underscores). Positional ARGS follow the Keras constructor;\n"
      "a bare activation name sets activation=.\n\nexample: add conv2d 32 3 strides=2 relu",
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
