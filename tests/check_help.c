/* check_help.c - `help NAME` for every activation, optimizer, loss and
 * metric the engine knows, under every spelling it accepts: one line that
 * names it and describes it (the glossary has an entry for each name the
 * engine's tables hold, so a new name fails here until it is described);
 * and `help layers` lists the kinds and still explains the command
 * `layers`. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "seqsh/engine.h"
#include "shell.h"
#include "test_util.h"

/* The output of `help TOPIC` in a fresh shell (malloc'd). */
static char *help(const char *topic)
{
    char path[] = "/tmp/seqsh-help-XXXXXX", line[256];
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    shell sh;
    ck_assert_int_eq(sh_init(&sh), 0);
    snprintf(line, sizeof line, "help %s", topic);
    fflush(stdout);
    int saved = dup(1);
    dup2(fd, 1);
    sh.reported = 1;
    int rc = sh_run_line(&sh, line, NULL, 0);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    ck_assert_msg(rc == 0, "'%s' fails: %s", line, sh.err);
    sh_deinit(&sh);
    off_t len = lseek(fd, 0, SEEK_END);
    char *text = malloc((size_t)len + 1);
    ck_assert_int_eq(pread(fd, text, (size_t)len, 0), len);
    text[len] = '\0';
    close(fd);
    unlink(path);
    return text;
}

/* `help NAME` has a described line starting "NAME: KIND". */
static void described(const char *name, const char *kind)
{
    char *h = help(name), want[128];
    snprintf(want, sizeof want, "%s: %s", name, kind);
    ck_assert_msg(strstr(h, want) != NULL, "'help %s' lacks '%s':\n%s", name, want, h);
    ck_assert_msg(strstr(h, "(no description)") == NULL, "'help %s' has no description", name);
    free(h);
    char *g = sq_name_help(name);
    ck_assert_ptr_nonnull(g);
    free(g);
}

/* Every spelling in a ", "-separated list. */
static void each_alias(const char *aliases, const char *kind)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", aliases ? aliases : "");
    for (char *save = NULL, *t = strtok_r(buf, ", ", &save); t; t = strtok_r(NULL, ", ", &save))
        described(t, kind);
}

START_TEST(test_every_name)
{
    const char *name, *extra;
    for (int i = 0; i < sq_activation_count(); i++)
        described(sq_activation_name(i), "activation");
    for (int i = 0; (name = sq_optimizer_name(i, &extra)); i++) {
        described(name, "optimizer");
        char *h = help(extra);          /* the class name: Adam */
        ck_assert_msg(strstr(h, "defaults: learning_rate=") != NULL, "help %s:\n%s", extra, h);
        free(h);
    }
    for (int i = 0; (name = sq_loss_name_at(i, &extra)); i++) {
        char aliases[256];
        snprintf(aliases, sizeof aliases, "%s", extra);
        described(name, "loss");
        each_alias(aliases, "loss");
    }
    for (int i = 0; (name = sq_metric_name_at(i, &extra)); i++) {
        char aliases[256];
        snprintf(aliases, sizeof aliases, "%s", extra);
        described(name, "metric");
        each_alias(aliases, "metric");
    }
    ck_assert_ptr_null(sq_name_help("nothing_like_it"));
}
END_TEST

/* One word, several meanings: each is there. */
START_TEST(test_shared_names)
{
    char *h = help("mse");
    ck_assert(strstr(h, "mse: loss mean_squared_error") && strstr(h, "mse: metric "
                                                                     "mean_squared_error"));
    free(h);
    h = help("relu");                   /* an activation and a layer kind */
    ck_assert(strstr(h, "relu: activation, max(x, 0)") != NULL);
    ck_assert(strstr(h, "\nThe layer kind:\nReLU: ") != NULL);
    free(h);
    h = help("adam");
    ck_assert_msg(strstr(h, "defaults: learning_rate=0.001, beta_1=0.9, beta_2=0.999, "
                         "epsilon=1e-07;") != NULL, "%s", h);
    free(h);
}
END_TEST

START_TEST(test_layers_both_ways)
{
    const char *topics[] = { "layers", "kinds" };
    for (int t = 0; t < 2; t++) {
        char *h = help(topics[t]);
        for (int i = 0; i < sq_kind_count(); i++)
            ck_assert_msg(strstr(h, sq_kind_class(i)) != NULL, "help %s lacks %s", topics[t],
                          sq_kind_class(i));
        ck_assert_msg(strstr(h, "The command 'layers'") && strstr(h, "usage: layers"),
                      "help %s does not explain the command layers:\n%s", topics[t], h);
        free(h);
    }
}
END_TEST

/* Tab after `help` offers the names too, each once; in evaluate's
 * arguments, its options. */
static void collect(const char *cand, void *ctx)
{
    char *buf = ctx;
    strcat(buf, cand);
    strcat(buf, " ");
}

START_TEST(test_help_completion)
{
    shell sh;
    ck_assert_int_eq(sh_init(&sh), 0);
    static const struct { const char *before, *word, *want; } cases[] = {
        { "help ", "ada", "adam adagrad adadelta adamax " },
        { "help ", "mean_s", "mean_squared_error mean_squared_logarithmic_error " },
        { "help ", "relu", "relu relu6 " },
        { "help ", "sparse_categorical_a", "sparse_categorical_accuracy " },
        { "help ", "binary_c", "binary_crossentropy " },
        /* evaluate's options (files beside them) */
        { "evaluate x.csv y.csv ", "sample_w", "sample_weight= " },
        { "evaluate x.csv y.csv ", "batch", "batch_size= " },
        { "evaluate x.csv y.csv ", "verb", "verbose= " },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char line[96], got[1024] = "";
        snprintf(line, sizeof line, "%s%s", cases[i].before, cases[i].word);
        sh_complete_words(&sh, line, (int)strlen(cases[i].before), cases[i].word, collect, got);
        ck_assert_msg(!strcmp(got, cases[i].want), "%s: '%s', want '%s'", line, got,
                      cases[i].want);
    }
    sh_deinit(&sh);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("help");
    TCase *tc = tcase_create("names");
    tcase_add_test(tc, test_every_name);
    tcase_add_test(tc, test_shared_names);
    tcase_add_test(tc, test_layers_both_ways);
    tcase_add_test(tc, test_help_completion);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
