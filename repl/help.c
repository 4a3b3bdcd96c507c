/* help.c - `help`: the commands from the command table, a command's usage
 * and help (with the engine's lists of optimizers, losses, metrics and
 * activations filled in, so help cannot drift from what is accepted), a
 * layer kind's help from the registry, one line on any activation,
 * optimizer, loss or metric (the engine's glossary), and the lists
 * themselves (`help layers` also explains the command `layers`). */
#include <stdlib.h>
#include <string.h>
#include "shell.h"

typedef const char *(*name_fn)(int i, const char **extra);

static const char *activation_at(int i, const char **extra)
{
    if (extra)
        *extra = NULL;
    return i < sq_activation_count() ? sq_activation_name(i) : NULL;
}

static const char *layer_at(int i, const char **extra)
{
    if (extra)
        *extra = NULL;
    return i < sq_kind_count() ? sq_kind_class(i) : NULL;
}

static const char *optimizer_at(int i, const char **extra)
{
    if (extra)
        *extra = NULL;
    return sq_optimizer_name(i, NULL);
}

static const struct {
    const char *topic;
    name_fn at;
} lists[] = {
    { "layers", layer_at },
    { "activations", activation_at },
    { "optimizers", optimizer_at },
    { "losses", sq_loss_name_at },
    { "metrics", sq_metric_name_at },
    { "initializers", sq_initializer_name_at },
    { "regularizers", sq_regularizer_name_at },
    { "schedules", sq_schedule_name_at },
    { "callbacks", sq_callback_name_at },
};
#define NLISTS (int)(sizeof lists / sizeof *lists)

/* A list as one line: "a, b (alias, alias), c". */
static void print_inline(name_fn at)
{
    const char *extra;
    for (int i = 0; at(i, NULL); i++) {
        const char *name = at(i, &extra);
        printf("%s%s", i ? ", " : "", name);
        if (extra && *extra)
            printf(" (%s)", extra);
    }
}

/* A command's help with {topic} replaced by that list. */
static void print_help_text(const char *text)
{
    for (const char *p = text; *p;) {
        const char *open = strchr(p, '{');
        if (!open) {
            fputs(p, stdout);
            break;
        }
        fwrite(p, 1, (size_t)(open - p), stdout);
        const char *close = strchr(open, '}');
        int done = 0;
        for (int i = 0; close && i < NLISTS; i++) {
            size_t n = strlen(lists[i].topic);
            if ((size_t)(close - open - 1) == n && !strncmp(open + 1, lists[i].topic, n)) {
                print_inline(lists[i].at);
                done = 1;
            }
        }
        if (!done) {
            putchar('{');
            p = open + 1;
            continue;
        }
        p = close + 1;
    }
    putchar('\n');
}

int cmd_help(shell *sh, int argc, char **argv)
{
    if (argc == 1) {
        for (const sh_command *c = sh->commands; c->name; c++)
            printf("  %-14s %s\n", c->name, c->summary);
        printf("\nhelp COMMAND explains a command, help LAYER a layer kind (help conv2d),\n"
               "help NAME an activation, optimizer, loss, metric, initializer, regularizer,\n"
               "schedule or callback (help relu, help adam, help he_normal); help layers,\n"
               "activations, optimizers, losses, metrics, initializers, regularizers,\n"
               "schedules and callbacks list them.\n");
        return 0;
    }
    const char *topic = argv[1];
    if (!strcmp(topic, "kinds"))
        topic = "layers";
    for (int i = 0; i < NLISTS; i++) {
        if (strcmp(topic, lists[i].topic))
            continue;
        const char *extra;
        for (int k = 0; lists[i].at(k, NULL); k++) {
            const char *name = lists[i].at(k, &extra);
            if (lists[i].at == layer_at)
                printf("  %s\n", name);
            else if (extra && *extra)
                printf("%s (%s)\n", name, extra);
            else
                printf("%s\n", name);
        }
        /* a topic that is also a command: its help too */
        const sh_command *c = sh_command_find(sh, topic);
        if (c) {
            printf("\nThe command '%s' (%s):\nusage: %s\n\n", c->name, c->summary, c->usage);
            print_help_text(c->help);
        }
        return 0;
    }
    const sh_command *c = sh_command_find(sh, topic);
    if (c) {
        printf("usage: %s\n\n", c->usage);
        print_help_text(c->help);
        return 0;
    }
    /* an activation, optimizer, loss or metric; relu is also a layer kind */
    char *names = sq_name_help(topic);
    char *k = sq_kind_help(topic);
    if (names) {
        fputs(names, stdout);
        if (k)
            printf("\nThe layer kind:\n");
        free(names);
    }
    if (k) {
        fputs(k, stdout);
        free(k);
    }
    if (names || k)
        return 0;
    char hint[96] = "";
    if (!*sh_command_suggestion(sh, topic, hint, sizeof hint))
        sh_kind_suggestion(topic, hint, sizeof hint);
    return sh_fail(sh, "no help for '%s'%s; 'help' lists commands, 'help layers' layer kinds",
                   topic, hint);
}
