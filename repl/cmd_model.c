/* cmd_model.c - the commands that build and look at the model: model,
 * input, add (and add model), pop, layers, summary, weights, freeze,
 * unfreeze, reset, seed. At a terminal (or with --echo) add, pop and
 * model say what they did. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "shell.h"

int sh_engine_fail(shell *sh, const sq_error *e)
{
    return sh_fail(sh, "%s", e->msg);
}

void sh_put_text(char *text)
{
    size_t n = strlen(text);
    sh_fputs(text, stdout);
    if (n && text[n - 1] != '\n')
        putchar('\n');
    free(text);
}

/* Prints an engine text answer, or fails with its error. */
static int show(shell *sh, char *text, const sq_error *e)
{
    if (!text)
        return sh_engine_fail(sh, e);
    sh_put_text(text);
    return 0;
}

/* Whether to say what a command did: at a terminal or with --echo. */
static int feedback(const shell *sh)
{
    return (sh->interactive || sh->echo) && !sh->quiet;
}

/* "dense (Dense) (None, 10) 13530 params", as add says it. */
static void describe_layer(const sq_layer_info *li)
{
    sh_fputs(li->name, stdout);   /* a name from a file may hold anything */
    if (li->built) {
        char shp[128];
        printf(" (%s) %s %zu params", li->class_name,
               sq_shape_str(&li->output_shape, shp, sizeof shp), li->params);
    } else {
        printf(" (%s), not built yet", li->class_name);
    }
}

int cmd_model(shell *sh, int argc, char **argv)
{
    sq_error e;
    char old[160];
    int nold = sq_layer_count(sh->s);
    snprintf(old, sizeof old, "%s", sq_model_name(sh->s));
    if (sq_model_new(sh->s, argc > 1 ? argv[1] : NULL, &e) < 0)
        return sh_engine_fail(sh, &e);
    if (!feedback(sh))
        return 0;
    printf("new model %s", sq_model_name(sh->s));
    if (nold > 0)
        printf(" (it replaces %s and its %d layer%s%s)", old, nold, nold == 1 ? "" : "s",
               sh->undo_ready ? "; 'undo' brings them back" : "");
    putchar('\n');
    return 0;
}

/* Dimensions given as words "1 250 250 3" and/or tuples "1,250,250,3". */
int sh_parse_dims(shell *sh, int argc, char **argv, long *dims, int *n)
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
            sq_error e;
            if (*n == SQ_MAX_RANK)
                return sh_fail(sh, "too many dimensions (at most %d)", SQ_MAX_RANK);
            if (sq_check_long(NULL, "dimension", tok, -2147483647L - 1, 2147483647L,
                              &dims[*n], &e) < 0)
                return sh_engine_fail(sh, &e);
            (*n)++;
        }
    }
    if (*n == 0)
        return sh_fail(sh, "expected dimensions");
    return 0;
}

int cmd_input(shell *sh, int argc, char **argv)
{
    long dims[SQ_MAX_RANK];
    int n;
    sq_error e;
    if (sh_parse_dims(sh, argc - 1, argv + 1, dims, &n) < 0)
        return -1;
    if (sq_input(sh->s, n, dims, &e) < 0)
        return sh_engine_fail(sh, &e);
    return 0;
}

/* add model FILE [trainable=false] [name=NAME] */
static int add_model(shell *sh, int argc, char **argv)
{
    static const char usage[] = "usage: add model FILE [trainable=false] [name=NAME]";
    sq_args a;
    char *plain[64];
    int np, trainable = -1;
    sq_error e;
    if (argc > 64)
        return sh_fail(sh, "%s", usage);
    if (sq_args_init(&a, "add model", argc, argv, plain, &np, &e) < 0
        || sq_arg_bool(&a, "trainable", &trainable, &e) < 0)
        return sh_engine_fail(sh, &e);
    const char *name = sq_arg(&a, "name");
    if (sq_args_finish(&a, &e) < 0)
        return sh_fail(sh, "add model takes name= and trainable=, not '%s'",
                       sq_args_unused(&a, 0, &(size_t){ 0 }));
    if (np != 1)
        return sh_fail(sh, "%s", usage);
    char path[4096];
    if (sh_path(sh, plain[0], path, sizeof path) < 0)
        return -1;
    if (sq_add_model(sh->s, path, name, trainable, &e) < 0)
        return sh_engine_fail(sh, &e);
    return 0;
}

int cmd_add(shell *sh, int argc, char **argv)
{
    sq_error e;
    if (!strcmp(argv[1], "model")) {
        if (add_model(sh, argc - 2, argv + 2) < 0)
            return -1;
    } else if (sq_add(sh->s, argv[1], argc - 2, argv + 2, &e) < 0) {
        return sh_engine_fail(sh, &e);
    }
    if (feedback(sh)) {
        sq_layer_info li;
        sq_layer_get(sh->s, sq_layer_count(sh->s) - 1, &li);
        describe_layer(&li);
        putchar('\n');
    }
    return 0;
}

int cmd_pop(shell *sh, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    sq_error e;
    sq_layer_info li;
    char name[160], cls[64];
    int n = sq_layer_count(sh->s);
    if (n > 0 && sq_layer_get(sh->s, n - 1, &li) == 0) {
        snprintf(name, sizeof name, "%s", li.name);
        snprintf(cls, sizeof cls, "%s", li.class_name);
    }
    if (sq_pop(sh->s, &e) < 0)
        return sh_engine_fail(sh, &e);
    if (!feedback(sh))
        return 0;
    printf("removed %s (%s); ", name, cls);
    if (sq_layer_get(sh->s, n - 2, &li) == 0) {
        printf("the last layer is now ");
        describe_layer(&li);
    } else {
        printf("the model has no layers now");
    }
    putchar('\n');
    return 0;
}

int cmd_layers(shell *sh, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    sq_error e;
    return show(sh, sq_layers_text(sh->s, &e), &e);
}

/* summary [macs] [memory]: Keras's table, with extra columns when asked. */
int cmd_summary(shell *sh, int argc, char **argv)
{
    sq_error e;
    int columns = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "macs"))
            columns |= SQ_SUMMARY_MACS;
        else if (!strcmp(argv[i], "memory"))
            columns |= SQ_SUMMARY_MEMORY;
        else
            return sh_fail(sh, "summary: unknown column '%s' (expected macs or memory)", argv[i]);
    }
    return show(sh, sq_summary_columns(sh->s, columns, &e), &e);
}

int cmd_weights(shell *sh, int argc, char **argv)
{
    sq_error e;
    return show(sh, sq_weights_text(sh->s, argc > 1 ? argv[1] : NULL, &e), &e);
}

static int set_trainable(shell *sh, int argc, char **argv, int trainable)
{
    sq_error e;
    int count;
    for (int i = 1; i < argc; i++)
        if (sq_set_trainable(sh->s, argv[i], trainable, &count, &e) < 0)
            return sh_engine_fail(sh, &e);
    return 0;
}

int cmd_freeze(shell *sh, int argc, char **argv)
{
    return set_trainable(sh, argc, argv, 0);
}

int cmd_unfreeze(shell *sh, int argc, char **argv)
{
    return set_trainable(sh, argc, argv, 1);
}

int cmd_reset(shell *sh, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    sq_reset(sh->s);
    return 0;
}

int cmd_seed(shell *sh, int argc, char **argv)
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
