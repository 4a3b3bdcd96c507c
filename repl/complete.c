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

typedef const char *(*name_at_fn)(int i, const char **aliases);

/* NAME=value where value is one of a registry's names, offered as
 * "key=name" and, for names that take arguments, also "key=name(". */
static void emit_names(const char *prefix, name_at_fn at, const char *word, emit_fn emit,
                       void *ctx)
{
    const char *name;
    for (int i = 0; (name = at(i, NULL)); i++)
        emit_prefixed(prefix, name, word, emit, ctx);
}

/* The weight options of a kind (kernel_initializer=, ...) and their values. */
static void complete_weight_options(const char *kind, const char *word, emit_fn emit, void *ctx)
{
    char o[64];
    for (int i = 0; sq_kind_weight_option(kind, i, o, sizeof o - 1, NULL) == 0; i++) {
        strcat(o, "=");
        emit_if(o, word, emit, ctx);
        if (!starts(word, o))
            continue;
        emit_names(o, strstr(o, "_regularizer=") ? sq_regularizer_name_at
                      : sq_initializer_name_at, word, emit, ctx);
    }
}

/* The words after `add KIND`. */
static void complete_kind_options(const char *kind, const char *word, emit_fn emit, void *ctx)
{
    const char *opts[64];
    int k = sq_kind_options(kind, opts, 64);
    int has_act = 0;
    complete_weight_options(kind, word, emit, ctx);
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

/* In a list value (metrics=a,b or callbacks=f(x=1),g), the words up to
 * the last ',' outside parentheses: what a completion keeps. */
static void list_prefix(const char *word, const char *key, char *prefix, size_t n)
{
    size_t keep = strlen(key);
    int depth = 0;
    for (size_t i = keep; word[i]; i++) {
        if (word[i] == '(' || word[i] == '[')
            depth++;
        else if ((word[i] == ')' || word[i] == ']') && depth > 0)
            depth--;
        else if (word[i] == ',' && depth == 0)
            keep = i + 1;
    }
    if (word[strlen(key)] == '[' && keep == strlen(key))
        keep++;
    snprintf(prefix, n, "%.*s", (int)keep, word);
}

/* compile optimizer=... loss=... metrics=a,b and the loss's and the
 * optimizer's options */
static void complete_compile(const char *word, emit_fn emit, void *ctx)
{
    static const char *const keys[] = {
        "optimizer=", "loss=", "metrics=", "learning_rate=", "from_logits=",
        "label_smoothing=", "delta=", "clipvalue=", "clipnorm=", "global_clipnorm=",
    };
    const char *eq = strchr(word, '=');
    if (!eq) {
        for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
            emit_if(keys[i], word, emit, ctx);
        return;
    }
    const char *name;
    if (starts(word, "optimizer="))
        for (int i = 0; (name = sq_optimizer_name(i, NULL)); i++)
            emit_prefixed("optimizer=", name, word, emit, ctx);
    if (starts(word, "loss="))
        emit_names("loss=", sq_loss_name_at, word, emit, ctx);
    if (starts(word, "learning_rate="))
        emit_names("learning_rate=", sq_schedule_name_at, word, emit, ctx);
    if (starts(word, "from_logits=")) {
        emit_if("from_logits=true", word, emit, ctx);
        emit_if("from_logits=false", word, emit, ctx);
    }
    if (starts(word, "metrics=")) {
        char prefix[256];
        list_prefix(word, "metrics=", prefix, sizeof prefix);
        emit_names(prefix, sq_metric_name_at, word, emit, ctx);
    }
}

/* fit X Y [options]: files, fit's options, and callback names */
static void complete_fit(const char *word, emit_fn emit, void *ctx)
{
    static const char *const keys[] = {
        "epochs=", "batch_size=", "validation_split=", "validation_data=", "shuffle=",
        "verbose=", "initial_epoch=", "class_weight=", "sample_weight=", "callbacks=",
        "label=",
    };
    if (!strchr(word, '=')) {
        for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
            emit_if(keys[i], word, emit, ctx);
        return;
    }
    if (starts(word, "callbacks=")) {
        char prefix[256];
        list_prefix(word, "callbacks=", prefix, sizeof prefix);
        emit_names(prefix, sq_callback_name_at, word, emit, ctx);
    }
    if (starts(word, "shuffle=")) {
        emit_if("shuffle=true", word, emit, ctx);
        emit_if("shuffle=false", word, emit, ctx);
    }
    if (starts(word, "label=")) {
        emit_if("label=last", word, emit, ctx);
        emit_if("label=first", word, emit, ctx);
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
            } else if (sq_kind_wraps(w[1], NULL) == 1) {
                /* add WRAPPER KIND ARGS...: the kinds it wraps, then the
                 * wrapped kind's words and the wrapper's own */
                if (n == 2) {
                    for (int i = 0; i < sq_kind_count(); i++)
                        if (sq_kind_wraps(w[1], sq_kind_base(i)) == 1) {
                            char k[64];
                            squash(sq_kind_class(i), k, sizeof k);
                            emit_if(k, word, emit, ctx);
                        }
                } else {
                    complete_kind_options(w[2], word, emit, ctx);
                    const char *opts[16];
                    int k = sq_kind_options(w[1], opts, 16);
                    for (int i = 0; i < k; i++) {
                        char o[80];
                        snprintf(o, sizeof o, "%s=", opts[i]);
                        emit_if(o, word, emit, ctx);
                    }
                }
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
                                                  "losses", "metrics", "initializers",
                                                  "regularizers", "schedules", "callbacks" };
            static const name_at_fn names[] = { sq_loss_name_at, sq_metric_name_at,
                                                sq_initializer_name_at, sq_regularizer_name_at,
                                                sq_schedule_name_at, sq_callback_name_at };
            for (const sh_command *k = sh->commands; k->name; k++)
                emit_if(k->name, word, emit, ctx);
            emit_kinds(word, emit, ctx);
            for (size_t i = 0; i < sizeof topics / sizeof *topics; i++)
                emit_if(topics[i], word, emit, ctx);
            /* the names help explains, each once (relu is also a kind,
             * mean_squared_error a loss and a metric) */
            const char *seen[512];
            int nseen = 0;
            static char kinds[256][64];
            for (int i = 0; i < sq_kind_count() && nseen < 256; i++) {
                squash(sq_kind_class(i), kinds[nseen], sizeof kinds[nseen]);
                seen[nseen] = kinds[nseen];
                nseen++;
            }
            int npass = 2 + (int)(sizeof names / sizeof *names);
            for (int pass = 0; pass < npass; pass++) {
                const char *name;
                for (int i = 0; nseen < 512; i++) {
                    name = pass == 0 ? (i < sq_activation_count() ? sq_activation_name(i) : NULL)
                         : pass == 1 ? sq_optimizer_name(i, NULL) : names[pass - 2](i, NULL);
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
        case C_FIT:
            complete_fit(word, emit, ctx);
            files = !strchr(word, '=');
            break;
        case C_SETTING:
            emit_if("memory_limit=", word, emit, ctx);
            emit_if("threads=", word, emit, ctx);
            break;
        case C_FILE:
            files = 1;
            break;
        case C_EVALUATE: {
            static const char *const keys[] = { "batch_size=", "verbose=", "sample_weight=",
                                                "label=" };
            for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
                emit_if(keys[i], word, emit, ctx);
            files = 1;
            break;
        }
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
