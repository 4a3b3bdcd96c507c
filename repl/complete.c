/* complete.c - Tab completion that knows the position: commands, then
 * layer kinds after `add`, a kind's option names and values, activations,
 * layer names after freeze/extract/weights, compile's optimizers, losses
 * and metrics, settings, help topics, file names where a file goes. The
 * words before the cursor come from the shell's own lexer, so quotes and
 * tuples are read as the shell will read them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "shell.h"

typedef void (*emit_fn)(const char *cand, void *ctx);

static int starts(const char *s, const char *prefix)
{
    return !strncmp(s, prefix, strlen(prefix));
}

/* Lower case without underscores: how layer kinds are offered. */
static void squash(const char *s, char *out, size_t n)
{
    size_t k = 0;
    for (; *s && k + 1 < n; s++)
        if (*s != '_')
            out[k++] = (char)(*s >= 'A' && *s <= 'Z' ? *s - 'A' + 'a' : *s);
    out[k] = '\0';
}

static void emit_if(const char *cand, const char *word, emit_fn emit, void *ctx)
{
    if (starts(cand, word))
        emit(cand, ctx);
}

static void emit_prefixed(const char *prefix, const char *value, const char *word,
                          emit_fn emit, void *ctx)
{
    char buf[160];
    snprintf(buf, sizeof buf, "%s%s", prefix, value);
    emit_if(buf, word, emit, ctx);
}

static void emit_kinds(const char *word, emit_fn emit, void *ctx)
{
    for (int i = 0; i < sq_kind_count(); i++) {
        char k[64];
        squash(sq_kind_class(i), k, sizeof k);
        emit_if(k, word, emit, ctx);
    }
}

static void emit_activations(const char *prefix, const char *word, emit_fn emit, void *ctx)
{
    for (int i = 0; i < sq_activation_count(); i++)
        emit_prefixed(prefix, sq_activation_name(i), word, emit, ctx);
}

/* The words after `add KIND`. */
static void complete_kind_options(const char *kind, const char *word, emit_fn emit, void *ctx)
{
    const char *opts[64];
    int k = sq_kind_options(kind, opts, 64);
    int has_act = 0;
    for (int i = 0; i < k; i++) {
        char o[80];
        snprintf(o, sizeof o, "%s=", opts[i]);
        if (!strcmp(opts[i], "activation"))
            has_act = 1;
        if (!strcmp(opts[i], "padding") && starts(word, "padding=")) {
            emit_prefixed("padding=", "valid", word, emit, ctx);
            emit_prefixed("padding=", "same", word, emit, ctx);
        }
        emit_if(o, word, emit, ctx);
    }
    if (has_act) {
        emit_activations("", word, emit, ctx);
        emit_activations("activation=", word, emit, ctx);
    }
}

/* compile optimizer=... loss=... metrics=a,b */
static void complete_compile(const char *word, emit_fn emit, void *ctx)
{
    const char *eq = strchr(word, '=');
    if (!eq) {
        emit_if("optimizer=", word, emit, ctx);
        emit_if("loss=", word, emit, ctx);
        emit_if("metrics=", word, emit, ctx);
        emit_if("learning_rate=", word, emit, ctx);
        return;
    }
    const char *name;
    if (starts(word, "optimizer="))
        for (int i = 0; (name = sq_optimizer_name(i, NULL)); i++)
            emit_prefixed("optimizer=", name, word, emit, ctx);
    if (starts(word, "loss="))
        for (int i = 0; (name = sq_loss_name_at(i, NULL)); i++)
            emit_prefixed("loss=", name, word, emit, ctx);
    if (starts(word, "metrics=")) {
        /* after the last ',' of a list */
        const char *last = strrchr(word, ',');
        size_t keep = last ? (size_t)(last + 1 - word) : strlen("metrics=");
        char prefix[128];
        snprintf(prefix, sizeof prefix, "%.*s", (int)keep, word);
        for (int i = 0; (name = sq_metric_name_at(i, NULL)); i++)
            emit_prefixed(prefix, name, word, emit, ctx);
    }
}

int sh_complete_words(shell *sh, const char *line, int start, const char *word,
                      emit_fn emit, void *ctx)
{
    char buf[4096];
    int len = start < (int)sizeof buf - 1 ? start : (int)sizeof buf - 1;
    memcpy(buf, line, (size_t)len);
    buf[len] = '\0';
    sh_cmd c;
    int trailing;
    if (sh_lex_partial(buf, &c, &trailing) < 0)
        return 0;
    int skip = 0;
    while (skip < c.argc && !strcmp(c.argv[skip], "time"))
        skip++;
    int n = c.argc - skip;
    char **w = c.argv + skip;
    int files = 0;
    const sh_command *cmd = n > 0 ? sh_command_find(sh, w[0]) : NULL;
    if (n == 0) {
        for (const sh_command *k = sh->commands; k->name; k++)
            emit_if(k->name, word, emit, ctx);
    } else if (cmd) {
        switch (cmd->complete) {
        case C_KIND:
            if (n == 1) {
                emit_kinds(word, emit, ctx);
                emit_if("model", word, emit, ctx);
            } else if (!strcmp(w[1], "model")) {
                emit_if("trainable=false", word, emit, ctx);
                emit_if("name=", word, emit, ctx);
                files = 1;
            } else {
                complete_kind_options(w[1], word, emit, ctx);
            }
            break;
        case C_LAYER:
            for (int i = 0; i < sq_layer_count(sh->s); i++) {
                sq_layer_info li;
                if (sq_layer_get(sh->s, i, &li) == 0)
                    emit_if(li.name, word, emit, ctx);
            }
            break;
        case C_TOPIC: {
            static const char *const topics[] = { "layers", "activations", "optimizers",
                                                  "losses", "metrics" };
            for (const sh_command *k = sh->commands; k->name; k++)
                emit_if(k->name, word, emit, ctx);
            emit_kinds(word, emit, ctx);
            for (size_t i = 0; i < sizeof topics / sizeof *topics; i++)
                emit_if(topics[i], word, emit, ctx);
            /* the names help explains in one line, each once (relu is also a
             * kind, mean_squared_error a loss and a metric) */
            const char *seen[256];
            int nseen = 0;
            for (int i = 0; i < sq_kind_count() && nseen < 256; i++) {
                static char kinds[256][64];
                squash(sq_kind_class(i), kinds[nseen], sizeof kinds[nseen]);
                seen[nseen] = kinds[nseen];
                nseen++;
            }
            for (int pass = 0; pass < 4; pass++) {
                const char *name;
                for (int i = 0; nseen < 256; i++) {
                    name = pass == 0 ? (i < sq_activation_count() ? sq_activation_name(i) : NULL)
                         : pass == 1 ? sq_optimizer_name(i, NULL)
                         : pass == 2 ? sq_loss_name_at(i, NULL) : sq_metric_name_at(i, NULL);
                    if (!name)
                        break;
                    int dup = 0;
                    for (int j = 0; j < nseen && !dup; j++)
                        dup = !strcmp(seen[j], name);
                    if (dup)
                        continue;
                    seen[nseen++] = name;
                    emit_if(name, word, emit, ctx);
                }
            }
            break;
        }
        case C_INPUT:
            if (n == 1) {
                static const char *const gens[] = { "ones", "zeros", "random", "range" };
                for (int i = 0; i < 4; i++)
                    emit_if(gens[i], word, emit, ctx);
            }
            emit_if("save=", word, emit, ctx);
            files = n == 1;
            break;
        case C_COMPILE:
            complete_compile(word, emit, ctx);
            break;
        case C_SETTING:
            emit_if("memory_limit=", word, emit, ctx);
            emit_if("threads=", word, emit, ctx);
            break;
        case C_FILE:
            files = 1;
            break;
        case C_SUMMARY:
            emit_if("macs", word, emit, ctx);
            emit_if("memory", word, emit, ctx);
            break;
        case C_PLOT:
            if (n == 1)
                emit_if("history", word, emit, ctx);
            else if (!strcmp(w[1], "history"))
                emit_if("width=", word, emit, ctx);
            files = 1;
            break;
        case C_COMMAND:
            for (const sh_command *k = sh->commands; k->name; k++)
                emit_if(k->name, word, emit, ctx);
            break;
        default:
            break;
        }
    }
    for (int i = 0; i < c.argc; i++)
        free(c.argv[i]);
    free(c.argv);
    (void)trailing;
    return files;
}
