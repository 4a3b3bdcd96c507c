/* check_undo.c - nothing lost by accident: after `undo` the session is
 * bit for bit what it was before the command taken back (the model file's
 * bytes, which hold the architecture, every weight, the trainable flags
 * and the compile settings; the weights file; the random state; the
 * automatic names and the optimizer's state, seen through what the same
 * commands do next), for every command that changes the session and for
 * every layer kind's example; several levels; the memory limit drops the
 * oldest; and `history save` writes a script that replays to the same
 * model. Runs the shell's own dispatch (sh_run_line), with files in a
 * private mkdtemp folder. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "seqsh/engine.h"
#include "model.h"
#include "shell.h"
#include "test_util.h"

static char tmpdir[512];

static const char *tmp_path(const char *name)
{
    static char buf[4][1024];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

static unsigned char *read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    rewind(f);
    unsigned char *b = malloc((size_t)len + 1);
    ck_assert_int_eq(fread(b, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    *n = (size_t)len;
    return b;
}

/* Runs lines (';' between commands) that must all work, output hidden. */
static void ok(shell *sh, const char *line)
{
    fflush(stdout);
    int saved = dup(1), null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    sh->reported = 1;
    int rc = sh_run_line(sh, line, NULL, 0);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    close(null);
    ck_assert_msg(rc == 0, "'%s' fails: %s", line, sh->err);
}

static void fails(shell *sh, const char *line, const char *want)
{
    sh->reported = 1;
    ck_assert_msg(sh_run_line(sh, line, NULL, 0) < 0, "'%s' works", line);
    if (want)
        ck_assert_str_eq(sh->err, want);
}

/* What can be compared of a session without running anything: the model
 * file (unless the model cannot be saved yet) and the random state. */
typedef struct {
    unsigned char *file;
    size_t n;
    sq_rng_state rng;
    char name[160];
    int layers, built, levels;
} state;

static void capture(shell *sh, state *st, const char *tag)
{
    char name[64];
    snprintf(name, sizeof name, "state_%s.seqm", tag);
    sq_error e;
    st->file = NULL;
    st->n = 0;
    if (sq_save(sh->s, tmp_path(name), &e) == 0)
        st->file = read_all(tmp_path(name), &st->n);
    st->rng = sq_rng_get(sh->s);
    snprintf(st->name, sizeof st->name, "%s", sq_model_name(sh->s));
    st->layers = sq_layer_count(sh->s);
    st->built = sq_model_is_built(sh->s);
}

static void same(const state *a, const state *b, const char *what)
{
    ck_assert_msg(!strcmp(a->name, b->name), "%s: model %s, want %s", what, b->name, a->name);
    ck_assert_msg(a->layers == b->layers, "%s: %d layers, want %d", what, b->layers, a->layers);
    ck_assert_msg(a->built == b->built, "%s: built %d, want %d", what, b->built, a->built);
    ck_assert_msg(!memcmp(&a->rng, &b->rng, sizeof a->rng), "%s: the random state differs",
                  what);
    ck_assert_msg((a->file == NULL) == (b->file == NULL), "%s: one saves, one does not", what);
    ck_assert_msg(a->n == b->n && (!a->n || !memcmp(a->file, b->file, a->n)),
                  "%s: the model files differ", what);
}

static void release(state *st)
{
    free(st->file);
    st->file = NULL;
}

/* ---- every command that changes the session ---------------------------------- */

static const struct {
    const char *setup;    /* run first, in both sessions */
    const char *cmd;      /* taken back */
    const char *after;    /* then the same in both: names, random state and
                             optimizer state show through */
} cases[] = {
    { "input 3; add dense 4 relu", "add dense 2 softmax",
      "add dense 5; add dense 1" },
    { "input 3; add dense 4 relu; add dense 2", "pop", "add dense 7" },
    { "input 3; add dense 4 relu", "model", "model; input 2; add dense 3" },
    { "input 3; add dense 4 relu", "model other", "model; add dense 3" },
    { "model", "input 5", "input 6; add dense 2" },
    { "input 3; add dense 4; add dense 3; freeze 0", "unfreeze all", "add dense 1" },
    { "input 3; add dense 4; add dense 3", "freeze :-1", "add dense 1" },
    { "input 3; add dense 4; add dense 3", "compile optimizer=sgd loss=mse",
      "compile optimizer=adam loss=mse; fit random 8 3 random 8 3 epochs=2 verbose=0" },
    /* Adam's moments and step count come back: the next fit matches */
    { "seed 4; input 3; add dense 4 relu; add dense 3; compile optimizer=adam loss=mse; "
      "fit random 20 3 random 20 3 epochs=2 batch_size=8 verbose=0",
      "fit random 20 3 random 20 3 epochs=3 batch_size=8 verbose=0",
      "fit random 20 3 random 20 3 epochs=2 batch_size=8 verbose=0" },
    { "input 3; add dense 4; add batchnormalization; add dense 2; "
      "compile optimizer=rmsprop loss=mse momentum=0.5 centered=true; "
      "fit random 16 3 random 16 2 epochs=1 batch_size=4 verbose=0",
      "fit random 16 3 random 16 2 epochs=2 batch_size=4 verbose=0",
      "fit random 16 3 random 16 2 epochs=1 batch_size=4 verbose=0" },
    { "input 3; add dense 4; add dense 3", "load_weights @w.npz", "add dense 2" },
    { "input 3; add dense 4", "load @m.seqm", "add dense 2" },
    { "input 3; add dense 4", "add model @m.seqm trainable=false name=base", "add dense 2" },
    { "input 3; add dense 4", "reset", "add dense 2; add dense 2" },
    { "input 3; add dense 4", "seed 9", "add dense 2" },
    /* a call or predict that builds an unbuilt model */
    { "add dense 4; add dense 2", "call ones 2 3", "call ones 2 3" },
    { "add dense 4; add dense 2", "predict random 5 3 batch_size=2", "add dense 1" },
    { "add dense 4; add dense 2; compile optimizer=sgd loss=mse",
      "evaluate ones 4 3 zeros 4 2 verbose=0", "add dense 1" },
    { "add dense 4; add dense 2", "extract all ones 1 3", "add dense 1" },
};

/* @NAME in a command is a file in the private folder. */
static void expand(const char *in, char *out, size_t n)
{
    size_t k = 0;
    for (const char *p = in; *p && k + 1 < n; p++) {
        if (*p == '@') {
            k += (size_t)snprintf(out + k, n - k, "%s/", tmpdir);
            continue;
        }
        out[k++] = *p;
    }
    out[k] = '\0';
}

/* The files some cases load: a weights file and a model file. */
static void make_files(void)
{
    shell sh;
    char line[1200];
    ck_assert_int_eq(sh_init(&sh), 0);
    sq_seed(sh.s, 77);
    snprintf(line, sizeof line, "input 3; add dense 4; add dense 3; save_weights %s",
             tmp_path("w.npz"));
    ok(&sh, line);
    snprintf(line, sizeof line, "model saved; input 4; add dense 6 relu; add dense 3; "
             "compile optimizer=adam loss=mse; save %s", tmp_path("m.seqm"));
    ok(&sh, line);
    sh_deinit(&sh);
}

START_TEST(test_undo_each_command)
{
    shell a, b;
    char cmd[1500], after[1500], setup[1500];
    make_files();
    expand(cases[_i].setup, setup, sizeof setup);
    expand(cases[_i].cmd, cmd, sizeof cmd);
    expand(cases[_i].after, after, sizeof after);
    ck_assert_int_eq(sh_init(&a), 0);
    ck_assert_int_eq(sh_init(&b), 0);
    sq_seed(a.s, 1);
    sq_seed(b.s, 1);
    ok(&a, setup);
    ok(&b, setup);
    int levels = sq_undo_levels(b.s);
    ok(&b, cmd);
    ck_assert_int_eq(sq_undo_levels(b.s), levels + 1);
    ok(&b, "undo");
    ck_assert_int_eq(sq_undo_levels(b.s), levels);
    state sa, sb;
    capture(&a, &sa, "a");
    capture(&b, &sb, "b");
    same(&sa, &sb, cases[_i].cmd);
    release(&sa);
    release(&sb);
    /* the same commands now do the same thing in both */
    ok(&a, after);
    ok(&b, after);
    capture(&a, &sa, "a");
    capture(&b, &sb, "b");
    same(&sa, &sb, cases[_i].after);
    ck_assert_int_eq(sq_history_epochs(a.s), sq_history_epochs(b.s));
    release(&sa);
    release(&sb);
    sh_deinit(&a);
    sh_deinit(&b);
}
END_TEST

/* For every layer kind: its example, then undo of the last add, then the
 * add again gives the very same weights (the random state came back). */
START_TEST(test_undo_every_kind)
{
    const sq_layer_kind *k = sq_kinds[_i];
    shell sh;
    ck_assert_int_eq(sh_init(&sh), 0);
    sq_seed(sh.s, 3);
    ok(&sh, k->example);
    state before, after;
    capture(&sh, &before, "kind0");
    ck_assert_msg(before.file != NULL, "%s: the example does not save", k->class_name);
    const char *last = strrchr(k->example, ';');
    last = last ? last + 1 : k->example;
    ok(&sh, "undo");
    ck_assert_int_eq(sq_layer_count(sh.s), before.layers - 1);
    ok(&sh, last);
    capture(&sh, &after, "kind1");
    same(&before, &after, k->class_name);
    release(&after);
    /* pop and undo */
    ok(&sh, "pop; undo");
    capture(&sh, &after, "kind2");
    same(&before, &after, k->class_name);
    release(&after);
    release(&before);
    sh_deinit(&sh);
}
END_TEST

START_TEST(test_undo_levels)
{
    shell sh, ref;
    ck_assert_int_eq(sh_init(&sh), 0);
    ck_assert_int_eq(sh_init(&ref), 0);
    ok(&sh, "input 4");
    ok(&ref, "input 4");
    state s0;
    capture(&ref, &s0, "ref");
    ok(&sh, "add dense 3; add dense 5 relu; pop; add dense 2; freeze 0; model; input 2");
    ck_assert_int_eq(sq_undo_levels(sh.s), 8);
    /* a failing command keeps nothing */
    fails(&sh, "add nope", NULL);
    ck_assert_int_eq(sq_undo_levels(sh.s), 8);
    for (int i = 0; i < 7; i++)
        ok(&sh, "undo");
    state s1;
    capture(&sh, &s1, "back");
    same(&s0, &s1, "seven undos");
    release(&s1);
    ok(&sh, "undo");
    ck_assert_int_eq(sq_layer_count(sh.s), 0);
    fails(&sh, "undo", "nothing to undo");
    /* a command that does not change the model keeps nothing */
    ok(&sh, "input 3; add dense 2; summary; layers; weights; call ones 1 3");
    ck_assert_int_eq(sq_undo_levels(sh.s), 2);
    release(&s0);
    sh_deinit(&sh);
    sh_deinit(&ref);
}
END_TEST

/* Snapshots stay within the memory limit: the oldest go first, and a
 * model too big to copy makes the earlier steps unreachable. */
START_TEST(test_undo_memory_limit)
{
    size_t old = sq_get_memory_limit();
    shell sh;
    ck_assert_int_eq(sh_init(&sh), 0);
    ok(&sh, "input 500; add dense 300");           /* 150,300 weights: 587 KiB */
    ok(&sh, "set memory_limit=1M");
    ok(&sh, "freeze 0; unfreeze 0");               /* two copies would pass 1 MiB */
    ck_assert_int_eq(sq_undo_levels(sh.s), 1);
    ok(&sh, "undo");
    ck_assert_int_eq(sq_layer_count(sh.s), 1);
    fails(&sh, "undo", "nothing to undo");
    /* adding only appends: undone by cutting back, whatever the model's size */
    ok(&sh, "add dense 2; add dense 3");
    ck_assert_int_eq(sq_undo_levels(sh.s), 2);
    ok(&sh, "undo; undo");
    ck_assert_int_eq(sq_layer_count(sh.s), 1);
    ok(&sh, "add dense 2");
    /* a model too big to copy: nothing before it can be undone */
    ok(&sh, "set memory_limit=64M; pop; add dense 700; set memory_limit=1M");
    ck_assert_int_ge(sq_undo_levels(sh.s), 1);
    ok(&sh, "freeze 0");
    ck_assert_int_eq(sq_undo_levels(sh.s), 0);
    sh.reported = 1;
    ck_assert(sh_run_line(&sh, "undo", NULL, 0) < 0);
    ck_assert_msg(strstr(sh.err, "nothing to undo: 'freeze 0' cannot be undone: a copy of "
                         "the model needs 1.4 MiB, more than the memory limit of 1.0 MiB")
                  == sh.err, "%s", sh.err);
    /* the next command that can be copied starts a new list */
    ok(&sh, "unfreeze 0; set memory_limit=64M; unfreeze all");
    ck_assert_int_eq(sq_undo_levels(sh.s), 1);
    sq_set_memory_limit(old);
    sh_deinit(&sh);
}
END_TEST

/* A command that builds the model and then fails leaves it unbuilt (the
 * shell puts the snapshot back), and keeps nothing to undo. */
START_TEST(test_failed_build_put_back)
{
    size_t old = sq_get_memory_limit();
    shell sh;
    ck_assert_int_eq(sh_init(&sh), 0);
    ok(&sh, "add dense 300; set memory_limit=1M");
    sq_rng_state before = sq_rng_get(sh.s);
    /* the first batch builds the model, the predictions pass the limit */
    fails(&sh, "predict ones 2000 4 batch_size=1", NULL);
    ck_assert(!sq_model_is_built(sh.s));
    sq_rng_state after = sq_rng_get(sh.s);
    ck_assert(!memcmp(&before, &after, sizeof before));
    ck_assert_int_eq(sq_undo_levels(sh.s), 1);      /* the add's */
    sq_set_memory_limit(old);
    sh_deinit(&sh);
}
END_TEST

/* `history save` then `source` of the file: the same model, bit for bit. */
START_TEST(test_history_save_replays)
{
    shell sh, re;
    char line[2400];
    ck_assert_int_eq(sh_init(&sh), 0);
    sq_seed(sh.s, 21);
    sh.seed_given = 1;
    sh.seed = 21;
    /* lines as typed: with a failure part way, an undo, quotes and a tuple */
    ok(&sh, "model lesson; input 8,8,1 # a comment");
    ok(&sh, "add conv2d 4 3 relu padding=same; add maxpooling2d (2, 2)");
    fails(&sh, "add flatten; add nope; add dense 3", NULL);
    ok(&sh, "add dense 5 relu; add dense 3 softmax; undo; add dense 3 softmax name=out");
    ok(&sh, "echo 'two words'; compile optimizer=adam loss=sparse_categorical_crossentropy "
            "metrics=accuracy");
    ok(&sh, "fit random 24 8 8 1 zeros 24 1 epochs=2 batch_size=8 verbose=0; freeze 0");
    snprintf(line, sizeof line, "history save %s", tmp_path("h.seq"));
    ok(&sh, line);
    ck_assert_int_eq(sh_init(&re), 0);
    snprintf(line, sizeof line, "source %s", tmp_path("h.seq"));
    ok(&re, line);
    state a, b;
    capture(&sh, &a, "hist_a");
    capture(&re, &b, "hist_b");
    same(&a, &b, "history save, replayed");
    release(&a);
    release(&b);
    /* the file: the seed first, comments gone, one command a line */
    size_t n;
    char *text = (char *)read_all(tmp_path("h.seq"), &n);
    text[n] = '\0';
    ck_assert_msg(strstr(text, "\nseed 21\nmodel lesson\ninput 8,8,1\n") != NULL, "%s", text);
    ck_assert_msg(strstr(text, "\nadd flatten\nadd dense 5 relu\n") != NULL, "%s", text);
    ck_assert_msg(strstr(text, "\necho 'two words'\n") != NULL, "%s", text);
    ck_assert_msg(strstr(text, "\nhistory") == NULL, "%s", text);
    free(text);
    sh_deinit(&sh);
    sh_deinit(&re);
}
END_TEST

static void remove_tmpdir(void)
{
    DIR *d = opendir(tmpdir);
    if (d) {
        struct dirent *e;
        char p[1024];
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            snprintf(p, sizeof p, "%s/%s", tmpdir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(tmpdir);
}

int main(void)
{
    const char *t = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/check_undo.XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(tmpdir)) {
        fprintf(stderr, "check_undo: cannot create %s: %s\n", tmpdir, strerror(errno));
        return EXIT_FAILURE;
    }
    Suite *s = suite_create("undo");
    TCase *tc = tcase_create("undo");
    tcase_add_loop_test(tc, test_undo_each_command, 0, sizeof cases / sizeof cases[0]);
    tcase_add_loop_test(tc, test_undo_every_kind, 0, sq_kind_count());
    tcase_add_test(tc, test_undo_levels);
    tcase_add_test(tc, test_undo_memory_limit);
    tcase_add_test(tc, test_history_save_replays);
    tcase_add_test(tc, test_failed_build_put_back);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    int rc = run_suite(s);
    remove_tmpdir();
    return rc;
}
