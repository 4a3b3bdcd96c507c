/* check_registry.c - driven by the registries, so that nothing can be
 * added without its tests and its documentation.
 *
 * For every layer kind of the registry (one test case per kind):
 *  - its help example is a whole script that runs in the shell and adds a
 *    layer of that kind;
 *  - finite differences agree with the backward pass for every trainable
 *    weight and for the model's input, in training mode (Dropout's masks and
 *    BatchNormalization's batch statistics held fixed by replaying the same
 *    random state), with L = sum(r * y) for a fixed random r. Points where
 *    the function has a kink within the step (relu, max pooling) are told
 *    apart by their one-sided differences and skipped, and most points must
 *    be smooth;
 *  - save/load and save_weights/load_weights round-trip exactly: the same
 *    summary, layers, weights bit for bit and outputs bit for bit;
 *  - `help KIND` renders usage, the shape rule and the example; every
 *    spelling (class name, aliases, base name) finds the kind; Tab after
 *    `add ` offers it.
 * For every command of the command table, and every layer kind, activation,
 * optimizer, loss and metric the engine knows: `help` lists it, and the man
 * page and the README name it. */
#include <check.h>
#include <ctype.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "seqsh/engine.h"
#include "model.h"
#include "shell.h"
#include "test_util.h"

#ifndef SRCDIR
#define SRCDIR "."
#endif

/* ---- helpers --------------------------------------------------------------- */

static uint64_t trng = 0x9e3779b97f4a7c15ULL;

static double urand(double lo, double hi)
{
    trng ^= trng >> 12;
    trng ^= trng << 25;
    trng ^= trng >> 27;
    uint64_t r = trng * 0x2545f4914f6cdd1dULL;
    return lo + (hi - lo) * ((double)(r >> 11) / 9007199254740992.0);
}

/* Runs fn with standard output going to a string (malloc'd). */
static char *capture(void (*fn)(void *), void *ctx)
{
    char path[] = "/tmp/seqsh-registry-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    fflush(stdout);
    int saved = dup(1);
    dup2(fd, 1);
    fn(ctx);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    off_t len = lseek(fd, 0, SEEK_END);
    char *text = malloc((size_t)len + 1);
    ck_assert_ptr_nonnull(text);
    ck_assert_int_eq(pread(fd, text, (size_t)len, 0), len);
    text[len] = '\0';
    close(fd);
    unlink(path);
    return text;
}

static char *read_file(const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", SRCDIR, name);
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *s = malloc((size_t)n + 1);
    ck_assert_int_eq(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = '\0';
    fclose(f);
    return s;
}

/* ---- the layer kinds ---------------------------------------------------------- */

typedef struct {
    shell sh;
    sq_model *m;
    sq_train_ws ws;
    long b;
    float *x, *r, *params0;
    sq_rng rng0;
    size_t nx, ny;
} gcase;

/* Runs the kind's example in a fresh shell. */
static void run_example(shell *sh, const sq_layer_kind *k, unsigned long long seed)
{
    ck_assert_int_eq(sh_init(sh), 0);
    sq_seed(sh->s, seed);
    ck_assert_msg(k->example && !strncmp(k->example, "input ", 6),
                  "%s: its example must be a whole script starting with 'input'",
                  k->class_name);
    sh->reported = 1;  /* the test says what failed */
    ck_assert_msg(sh_run_line(sh, k->example, NULL, 0) == 0, "%s: example '%s' fails: %s",
                  k->class_name, k->example, sh->err);
    sq_model *m = sh->s->model;
    ck_assert_msg(m->n > 0 && m->built, "%s: the example builds no model", k->class_name);
    int found = 0;
    for (int i = 0; i < m->n; i++)
        found |= m->layers[i]->kind == k;
    ck_assert_msg(found, "%s: the example adds no layer of that kind", k->class_name);
}

/* L = sum(r * y) in double, from the snapshot's weights and random state. */
static double loss_at(gcase *g, const float *x)
{
    sq_model *m = g->m;
    memcpy(m->params, g->params0, m->nparams * sizeof(float));
    sq_rng rng = g->rng0;
    sq_train_forward(m, &g->ws, x, g->b, 1, &rng);
    const float *y = g->ws.y[m->n - 1];
    double s = 0;
    for (size_t i = 0; i < g->ny; i++)
        s += (double)g->r[i] * (double)y[i];
    return s;
}

typedef struct {
    int checked, kinks, bad;
    char first_bad[256];
} fd_stats;

/* Central and one-sided differences of L along *p with step h; *p is
 * restored. */
static void diffs(gcase *g, float *p, const float *x, double h, double *num, double *fwd,
                  double *bwd)
{
    float keep = *p;
    double l0 = loss_at(g, x);
    *p = (float)(keep + h);
    double hp = (double)*p - keep;
    double lp = loss_at(g, x);
    *p = (float)(keep - h);
    double hm = keep - (double)*p;
    double lm = loss_at(g, x);
    *p = keep;
    *fwd = (lp - l0) / hp;
    *bwd = (l0 - lm) / hm;
    *num = (lp - lm) / (hp + hm);
}

/* Compares the analytic derivative `ana` of L in the direction of *p with
 * central differences. A point where the function is not smooth within the
 * step (its one-sided differences disagree) is skipped; a disagreement is
 * tried again with a step ten times smaller, since a kink (a relu turning)
 * within the larger step can bend the central difference while looking
 * smooth from either side. */
static void fd_point(gcase *g, float *p, const float *x, double ana, double scale,
                     const char *what, long idx, fd_stats *st)
{
    double h = 1e-4 * fmax(1.0, fabs(*p)), num, fwd, bwd;
    for (int attempt = 0; attempt < 2; attempt++, h /= 10) {
        diffs(g, p, x, h, &num, &fwd, &bwd);
        /* the noise of L in float32 grows as the step shrinks */
        double tol = 2e-2 * fmax(fabs(num), fabs(ana)) + 2e-3 * scale * (attempt ? 10 : 1);
        if (fabs(fwd - bwd) > tol) {
            st->kinks++;    /* not smooth within the step: no derivative to compare */
            return;
        }
        if (fabs(num - ana) <= tol) {
            st->checked++;
            return;
        }
    }
    st->checked++;
    if (!st->bad++)
        snprintf(st->first_bad, sizeof st->first_bad,
                 "%s[%ld]: backward %.6g, finite differences %.6g", what, idx, ana, num);
}

/* Up to `most` indices of [0, n), spread evenly. */
static long pick(long n, int most, int j)
{
    return n <= most ? j : (long)((double)j * (double)n / most);
}

static void gradient_check(const sq_layer_kind *k)
{
    gcase g;
    memset(&g, 0, sizeof g);
    run_example(&g.sh, k, 5);
    sq_model *m = g.m = g.sh.s->model;
    sq_error e;
    g.b = 3;
    sq_shape in = m->input_shape;
    in.d[0] = g.b;
    ck_assert_msg(sq_train_ws_init(&g.ws, m, &in, &e) == 0, "%s: %s", k->class_name, e.msg);
    g.nx = sq_shape_count(&in);
    g.ny = sq_shape_count(&g.ws.sh[m->n]);
    g.x = malloc(g.nx * sizeof(float));
    g.r = malloc(g.ny * sizeof(float));
    g.params0 = malloc((m->nparams + 1) * sizeof(float));
    float *dx = calloc(g.nx, sizeof(float));
    m->grads = realloc(m->grads, (m->nparams + 1) * sizeof(float));
    m->grads_cap = m->nparams;
    memset(m->grads, 0, (m->nparams + 1) * sizeof(float));
    const sq_layer *first = m->layers[0];
    sq_rng xr;
    sq_rng_seed(&xr, 11);
    if (first->kind->sample_input)
        first->kind->sample_input(first, g.x, g.nx, &xr);
    else
        for (size_t i = 0; i < g.nx; i++)
            g.x[i] = (float)urand(-1, 1);
    for (size_t i = 0; i < g.ny; i++)
        g.r[i] = (float)urand(-1, 1);
    memcpy(g.params0, m->params, m->nparams * sizeof(float));
    g.rng0 = g.sh.s->rng;

    /* the analytic gradients */
    double l = loss_at(&g, g.x);
    ck_assert_msg(isfinite(l), "%s: the forward pass gives %g", k->class_name, l);
    sq_train_backward_input(m, &g.ws, g.x, g.r, dx);
    float *grads = malloc((m->nparams + 1) * sizeof(float));
    memcpy(grads, m->grads, m->nparams * sizeof(float));
    double scale = 0;
    for (size_t i = 0; i < g.ny; i++)
        scale = fmax(scale, fabs(g.r[i]));

    fd_stats st = { 0 };
    /* every trainable weight of every trainable layer */
    float *work = malloc((m->nparams + 1) * sizeof(float));
    for (int li = 0; li < m->n; li++) {
        const sq_layer *ly = m->layers[li];
        size_t off = ly->param_off;
        for (int wi = 0; wi < ly->nweights; wi++) {
            long cnt = (long)sq_weight_count(&ly->w[wi]);
            if (ly->trainable && ly->w[wi].trainable) {
                int most = cnt < 16 ? (int)cnt : 16;
                for (int j = 0; j < most; j++) {
                    long idx = pick(cnt, most, j);
                    char what[160];
                    snprintf(what, sizeof what, "%s/%s", ly->name, ly->w[wi].name);
                    /* perturb the snapshot: loss_at copies it into the model */
                    fd_point(&g, &g.params0[off + (size_t)idx], g.x, grads[off + (size_t)idx],
                             scale, what, idx, &st);
                }
            }
            off += (size_t)cnt;
        }
    }
    /* the model's input (not for discrete inputs such as Embedding's ids) */
    if (!first->kind->sample_input) {
        int most = g.nx < 24 ? (int)g.nx : 24;
        for (int j = 0; j < most; j++) {
            long idx = pick((long)g.nx, most, j);
            fd_point(&g, &g.x[idx], g.x, dx[idx], scale, "input", idx, &st);
        }
    }
    ck_assert_msg(st.bad == 0, "%s: %d of %d points disagree; first %s", k->class_name, st.bad,
                  st.checked, st.first_bad);
    ck_assert_msg(st.checked > 0 && st.kinks <= st.checked,
                  "%s: too few smooth points (%d checked, %d at kinks)", k->class_name,
                  st.checked, st.kinks);
    free(work);
    free(grads);
    free(dx);
    free(g.x);
    free(g.r);
    free(g.params0);
    sq_train_ws_free(&g.ws);
    sh_deinit(&g.sh);
}

START_TEST(kind_gradients)
{
    gradient_check(sq_kinds[_i]);
}
END_TEST

/* summary, layers, weights (with values) and an output for a fixed input. */
static char *fingerprint(sq_session *s, const sq_tensor *x)
{
    sq_error e;
    char *sum = sq_summary(s, &e), *lay = sq_layers_text(s, &e), *w = sq_weights_text(s, NULL, &e);
    ck_assert_ptr_nonnull(sum);
    ck_assert_ptr_nonnull(lay);
    ck_assert_ptr_nonnull(w);
    sq_tensor y;
    ck_assert_msg(sq_call(s, x, &y, &e) == 0, "call: %s", e.msg);
    size_t n = sq_shape_count(&y.shape);
    size_t len = strlen(sum) + strlen(lay) + strlen(w) + 16 + n * 9;
    char *fp = malloc(len), *p = fp;
    p += sprintf(p, "%s%s%s", sum, lay, w);
    for (size_t i = 0; i < n; i++) {
        uint32_t bits;
        memcpy(&bits, &y.data[i], 4);
        p += sprintf(p, "%08x", bits);
    }
    free(sum);
    free(lay);
    free(w);
    sq_tensor_free(&y);
    return fp;
}

START_TEST(kind_save_load)
{
    const sq_layer_kind *k = sq_kinds[_i];
    shell a, b;
    sq_error e;
    run_example(&a, k, 3);
    sq_model *m = a.s->model;
    sq_tensor x = { m->input_shape, NULL };
    x.shape.d[0] = 2;
    x.data = malloc(sq_shape_count(&x.shape) * sizeof(float));
    sq_rng xr;
    sq_rng_seed(&xr, 12);
    if (m->layers[0]->kind->sample_input)
        m->layers[0]->kind->sample_input(m->layers[0], x.data, sq_shape_count(&x.shape), &xr);
    else
        for (size_t i = 0; i < sq_shape_count(&x.shape); i++)
            x.data[i] = (float)urand(-1, 1);
    char *want = fingerprint(a.s, &x);
    char dir[] = "/tmp/seqsh-registry-XXXXXX", path[64], wpath[64];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/m.seqm", dir);
    snprintf(wpath, sizeof wpath, "%s/w.npz", dir);
    ck_assert_msg(sq_save(a.s, path, &e) == 0, "%s: save: %s", k->class_name, e.msg);
    ck_assert_msg(sq_save_weights(a.s, wpath, &e) == 0, "%s: save_weights: %s", k->class_name,
                  e.msg);
    /* save / load */
    ck_assert_int_eq(sh_init(&b), 0);
    ck_assert_msg(sq_load(b.s, path, &e) == 0, "%s: load: %s", k->class_name, e.msg);
    char *got = fingerprint(b.s, &x);
    ck_assert_msg(!strcmp(want, got), "%s: the loaded model differs", k->class_name);
    free(got);
    sh_deinit(&b);
    /* save_weights / load_weights into the same model drawn with another seed */
    run_example(&b, k, 4);
    ck_assert_msg(sq_load_weights(b.s, wpath, &e) == 0, "%s: load_weights: %s", k->class_name,
                  e.msg);
    got = fingerprint(b.s, &x);
    ck_assert_msg(!strcmp(want, got), "%s: load_weights does not restore the model",
                  k->class_name);
    free(got);
    sh_deinit(&b);
    unlink(path);
    unlink(wpath);
    rmdir(dir);
    free(want);
    free(x.data);
    sh_deinit(&a);
}
END_TEST

static void collect(const char *cand, void *ctx)
{
    char *buf = ctx;
    strcat(buf, cand);
    strcat(buf, "\n");
}

static void squash(const char *s, char *out)
{
    for (; *s; s++)
        if (*s != '_')
            *out++ = (char)tolower((unsigned char)*s);
    *out = '\0';
}

START_TEST(kind_help_and_names)
{
    const sq_layer_kind *k = sq_kinds[_i];
    char *h = sq_kind_help(k->class_name);
    ck_assert_msg(h != NULL, "%s: no help", k->class_name);
    char want[256];
    snprintf(want, sizeof want, "usage: add %s", k->base_name);
    ck_assert_msg(strstr(h, want) != NULL, "%s: help lacks '%s'", k->class_name, want);
    ck_assert_msg(k->summary && strstr(h, k->summary), "%s: help lacks its summary",
                  k->class_name);
    ck_assert_msg(k->shape_rule && strstr(h, "shape: "), "%s: help lacks the shape rule",
                  k->class_name);
    snprintf(want, sizeof want, "example: %s", k->example);
    ck_assert_msg(strstr(h, want) != NULL, "%s: help lacks its example", k->class_name);
    free(h);
    /* every spelling finds it */
    ck_assert_ptr_eq(sq_kind_find(k->class_name), k);
    ck_assert_ptr_eq(sq_kind_find(k->base_name), k);
    for (int j = 0; k->aliases && k->aliases[j]; j++)
        ck_assert_ptr_eq(sq_kind_find(k->aliases[j]), k);
    /* Tab after `add ` offers it */
    shell sh;
    ck_assert_int_eq(sh_init(&sh), 0);
    char *cands = calloc(1, 16384), name[128];
    sh_complete_words(&sh, "add ", 4, "", collect, cands);
    squash(k->class_name, name);
    strcat(name, "\n");
    ck_assert_msg(strstr(cands, name) != NULL, "%s: Tab after 'add ' does not offer it",
                  k->class_name);
    /* and Tab after `add KIND ` offers its options; after a wrapper, the
     * kinds it wraps, then after `add WRAPPER lstm ` its options and the
     * wrapped kind's */
    char line[160];
    const char *inner = !strcmp(k->base_name, "bidirectional") ? "lstm" : "dense";
    if (k->wraps) {
        snprintf(line, sizeof line, "add %s ", k->base_name);
        cands[0] = '\0';
        sh_complete_words(&sh, line, (int)strlen(line), "", collect, cands);
        ck_assert_msg(strstr(cands, "lstm\n") && strstr(cands, "gru\n"), "%s: %s", line, cands);
        ck_assert_msg(!strstr(cands, "=\n"), "%s offers options before the kind: %s", line, cands);
        ck_assert_msg(!strstr(cands, "dense\n") == (k->states != NULL),
                      "%s: dense offered or not: %s", line, cands);
    }
    snprintf(line, sizeof line, "add %s %s", k->base_name, k->wraps ? inner : "");
    strcat(line, k->wraps ? " " : "");
    cands[0] = '\0';
    sh_complete_words(&sh, line, (int)strlen(line), "", collect, cands);
    if (k->wraps) {
        const sq_layer_kind *ik = sq_kind_find(inner);
        for (int j = 0; ik->opts[j].name; j++) {
            snprintf(want, sizeof want, "%s=\n", ik->opts[j].name);
            ck_assert_msg(ik->opts[j].hidden || strstr(cands, want) != NULL,
                          "%s: Tab does not offer %s's %s=", line, inner, ik->opts[j].name);
        }
    }
    for (int j = 0; k->opts && k->opts[j].name; j++) {
        if (k->opts[j].hidden)
            continue;   /* names the session hands out, not for users */
        snprintf(want, sizeof want, "%s=\n", k->opts[j].name);
        ck_assert_msg(strstr(cands, want) != NULL, "%s: Tab does not offer %s=", k->class_name,
                      k->opts[j].name);
    }
    free(cands);
    sh_deinit(&sh);
}
END_TEST

static int has_word(const char *text, const char *name);

/* Every weight option of every kind (kernel_initializer=, ...): `help KIND`
 * names it, Tab offers it, an initializer reaches a weight of the layer,
 * and save/load keeps every option. */
START_TEST(kind_weight_options)
{
    const sq_layer_kind *k = sq_kinds[_i];
    char *h = sq_kind_help(k->class_name);
    shell sh;
    ck_assert_int_eq(sh_init(&sh), 0);
    char *cands = calloc(1, 65536), opt[64], line[512];
    /* a wrapper's come after the kind it wraps */
    snprintf(line, sizeof line, "add %s %s", k->base_name,
             !k->wraps ? "" : !strcmp(k->base_name, "bidirectional") ? "lstm " : "dense ");
    sh_complete_words(&sh, line, (int)strlen(line), "", collect, cands);
    int n = 0;
    for (; sq_kind_weight_option(k->class_name, n, opt, sizeof opt, NULL) == 0; n++) {
        ck_assert_msg(has_word(h, opt), "%s: help lacks %s", k->class_name, opt);
        char want[80];
        snprintf(want, sizeof want, "%s=\n", opt);
        ck_assert_msg(strstr(cands, want) != NULL, "%s: Tab does not offer %s=", k->class_name,
                      opt);
    }
    ck_assert_msg(n >= 1, "%s: no activity_regularizer", k->class_name);
    sh_deinit(&sh);
    /* each option on the example's layer */
    for (int i = 0; i < n; i++) {
        sq_kind_weight_option(k->class_name, i, opt, sizeof opt, NULL);
        int init = strstr(opt, "_initializer") != NULL;
        /* on the example's last `add` of this kind (Embedding's is not its last) */
        const char *at = NULL;
        for (const char *p = k->example; (p = strstr(p, "add ")); p++) {
            char word[64];
            if (sscanf(p + 4, "%63[^; ]", word) == 1 && sq_kind_find(word) == k)
                at = p;
        }
        ck_assert_msg(at != NULL, "%s: the example adds no such layer", k->class_name);
        size_t end = (size_t)(at - k->example) + strcspn(at, ";");
        snprintf(line, sizeof line, "%.*s %s=%s%s", (int)end, k->example, opt,
                 init ? "constant(0.375)" : "l1_l2(l1=0.25)", k->example + end);
        ck_assert_int_eq(sh_init(&sh), 0);
        sh.reported = 1;
        ck_assert_msg(sh_run_line(&sh, line, NULL, 0) == 0, "%s: '%s' fails: %s", k->class_name,
                      line, sh.err);
        sq_model *m = sh.s->model;
        sq_layer *l = NULL;
        for (int j = 0; j < m->n; j++)
            if (m->layers[j]->kind == k)
                l = m->layers[j];
        if (init) {
            /* some weight of the layer is all 0.375 (a switched-off one: none) */
            int hit = 0;
            size_t off = l->param_off;
            for (int w = 0; w < l->nweights; w++) {
                size_t c = sq_weight_count(&l->w[w]), j = 0;
                while (j < c && m->params[off + j] == 0.375f)
                    j++;
                hit |= c > 0 && j == c;
                off += c;
            }
            int has = 0;
            char stem[64];
            snprintf(stem, sizeof stem, "%.*s", (int)(strlen(opt) - strlen("_initializer")), opt);
            for (int w = 0; w < l->nweights; w++) {
                const char *name = strrchr(l->w[w].name, '/');
                name = name ? name + 1 : l->w[w].name;
                has |= !strncmp(name, stem, strlen(stem));
            }
            ck_assert_msg(hit || !has, "%s: %s reaches no weight", k->class_name, opt);
        }
        /* save/load keeps the option */
        sbuf b1 = { 0 }, b2 = { 0 };
        sq_layer_describe(l, &b1);
        char *d1 = sb_finish(&b1, NULL);
        ck_assert_msg(strstr(d1, opt) != NULL, "%s: describe drops %s", k->class_name, opt);
        char dir[] = "/tmp/seqsh-registry-XXXXXX", path[64];
        ck_assert_ptr_nonnull(mkdtemp(dir));
        snprintf(path, sizeof path, "%s/m.seqm", dir);
        sq_error e;
        ck_assert_msg(sq_save(sh.s, path, &e) == 0, "%s: %s", k->class_name, e.msg);
        ck_assert_msg(sq_load(sh.s, path, &e) == 0, "%s: %s", k->class_name, e.msg);
        m = sh.s->model;
        for (int j = 0; j < m->n; j++)
            if (m->layers[j]->kind == k)
                l = m->layers[j];
        sq_layer_describe(l, &b2);
        char *d2 = sb_finish(&b2, NULL);
        ck_assert_str_eq(d1, d2);
        free(d1);
        free(d2);
        unlink(path);
        rmdir(dir);
        sh_deinit(&sh);
    }
    free(cands);
    free(h);
}
END_TEST

/* Tab offers the names of the training controls where they go. */
START_TEST(training_names_complete)
{
    shell sh;
    ck_assert_int_eq(sh_init(&sh), 0);
    char *cands = calloc(1, 65536);
    static const struct {
        const char *line, *word;
        const char *(*at)(int, const char **);
        const char *prefix;
    } cases[] = {
        { "compile ", "loss=", sq_loss_name_at, "loss=" },
        { "compile ", "metrics=accuracy,", sq_metric_name_at, "metrics=accuracy," },
        { "compile ", "learning_rate=", sq_schedule_name_at, "learning_rate=" },
        { "fit x.npy y.npy ", "callbacks=early_stopping(patience=3,mode=max),",
          sq_callback_name_at, "callbacks=early_stopping(patience=3,mode=max)," },
        { "add dense 3 ", "kernel_initializer=", sq_initializer_name_at, "kernel_initializer=" },
        { "add conv2d 3 3 ", "bias_regularizer=", sq_regularizer_name_at, "bias_regularizer=" },
        { "help ", "", sq_initializer_name_at, "" },
        { "help ", "", sq_regularizer_name_at, "" },
        { "help ", "", sq_schedule_name_at, "" },
        { "help ", "", sq_callback_name_at, "" },
        { "help ", "", sq_loss_name_at, "" },
        { "help ", "", sq_metric_name_at, "" },
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        char line[256];
        snprintf(line, sizeof line, "%s%s", cases[c].line, cases[c].word);
        cands[0] = '\0';
        sh_complete_words(&sh, line, (int)strlen(cases[c].line), cases[c].word, collect, cands);
        const char *name;
        for (int i = 0; (name = cases[c].at(i, NULL)); i++) {
            char want[256];
            snprintf(want, sizeof want, "\n%s%s\n", cases[c].prefix, name);
            ck_assert_msg(strstr(cands, want + 1) == cands || strstr(cands, want) != NULL,
                          "Tab on '%s' does not offer %s%s", line, cases[c].prefix, name);
        }
        /* and `help NAME` explains each */
        for (int i = 0; c >= 6 && (name = cases[c].at(i, NULL)); i++) {
            char *h = sq_name_help(name);
            ck_assert_msg(h && strstr(h, "example: "), "help %s: no help or no example", name);
            free(h);
        }
    }
    static const char *const fit_keys[] = { "validation_data=", "class_weight=", "sample_weight=",
                                            "callbacks=", "initial_epoch=" };
    cands[0] = '\0';
    sh_complete_words(&sh, "fit x.npy y.npy ", 16, "", collect, cands);
    for (size_t i = 0; i < sizeof fit_keys / sizeof *fit_keys; i++)
        ck_assert_msg(strstr(cands, fit_keys[i]) != NULL, "Tab after fit lacks %s", fit_keys[i]);
    static const char *const eval_keys[] = { "batch_size=", "verbose=", "sample_weight=",
                                             "label=" };
    cands[0] = '\0';
    sh_complete_words(&sh, "evaluate x.npy y.npy ", 21, "", collect, cands);
    for (size_t i = 0; i < sizeof eval_keys / sizeof *eval_keys; i++)
        ck_assert_msg(strstr(cands, eval_keys[i]) != NULL, "Tab after evaluate lacks %s",
                      eval_keys[i]);
    static const char *const compile_keys[] = { "from_logits=", "label_smoothing=", "delta=",
                                                "clipvalue=", "clipnorm=", "global_clipnorm=" };
    cands[0] = '\0';
    sh_complete_words(&sh, "compile ", 8, "", collect, cands);
    for (size_t i = 0; i < sizeof compile_keys / sizeof *compile_keys; i++)
        ck_assert_msg(strstr(cands, compile_keys[i]) != NULL, "Tab after compile lacks %s",
                      compile_keys[i]);
    free(cands);
    sh_deinit(&sh);
}
END_TEST

/* ---- commands and names in help, the man page and the README ---------------------- */

typedef struct {
    shell *sh;
    const char *line;
} run_ctx;

static void run_cmd(void *ctx)
{
    run_ctx *c = ctx;
    ck_assert_msg(sh_run_line(c->sh, c->line, NULL, 0) == 0, "'%s' fails", c->line);
}

static char *help_output(shell *sh, const char *line)
{
    run_ctx c = { sh, line };
    return capture(run_cmd, &c);
}

/* name appears in text as a word (not inside a longer name). */
static int has_word(const char *text, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = text; (p = strstr(p, name)); p++) {
        int before = p == text || !(isalnum((unsigned char)p[-1]) || p[-1] == '_');
        int after = !(isalnum((unsigned char)p[n]) || p[n] == '_');
        if (before && after)
            return 1;
    }
    return 0;
}

START_TEST(commands_documented)
{
    shell sh;
    ck_assert_int_eq(sh_init(&sh), 0);
    char *list = help_output(&sh, "help");
    char *man = read_file("repl/seqsh.1"), *readme = read_file("README.md");
    for (const sh_command *c = sh_commands; c->name; c++) {
        ck_assert_msg(has_word(list, c->name), "'help' does not list %s", c->name);
        char line[64];
        snprintf(line, sizeof line, "help %s", c->name);
        char *h = help_output(&sh, line);
        char usage[96];
        snprintf(usage, sizeof usage, "usage: %s", c->name);
        ck_assert_msg(strstr(h, usage) != NULL, "'%s' gives no usage", line);
        ck_assert_msg(strstr(h, "example: ") != NULL, "'%s' gives no example", line);
        free(h);
        char bold[64];
        snprintf(bold, sizeof bold, "\\fB%s\\fR", c->name);
        ck_assert_msg(strstr(man, bold) != NULL, "the man page does not list the command %s",
                      c->name);
        snprintf(bold, sizeof bold, "`%s", c->name);
        ck_assert_msg(strstr(readme, bold) != NULL, "the README does not show `%s`", c->name);
    }
    free(list);
    free(man);
    free(readme);
    sh_deinit(&sh);
}
END_TEST

/* Every name of a registry in `help TOPIC`, the man page and the README. */
static void names_documented(const char *topic, const char *(*at)(int, const char **))
{
    shell sh;
    ck_assert_int_eq(sh_init(&sh), 0);
    char line[64];
    snprintf(line, sizeof line, "help %s", topic);
    char *h = help_output(&sh, line);
    char *man = read_file("repl/seqsh.1"), *readme = read_file("README.md");
    const char *name;
    int n = 0;
    for (int i = 0; (name = at(i, NULL)); i++, n++) {
        ck_assert_msg(has_word(h, name), "'help %s' does not list %s", topic, name);
        ck_assert_msg(has_word(man, name), "the man page does not name the %s %s", topic,
                      name);
        ck_assert_msg(has_word(readme, name), "the README does not name the %s %s", topic,
                      name);
    }
    ck_assert_int_gt(n, 0);
    free(h);
    free(man);
    free(readme);
    sh_deinit(&sh);
}

static const char *kind_at(int i, const char **x)
{
    (void)x;
    return i < sq_kind_count() ? sq_kind_class(i) : NULL;
}

static const char *activation_at(int i, const char **x)
{
    (void)x;
    return i < sq_activation_count() ? sq_activation_name(i) : NULL;
}

static const char *optimizer_at(int i, const char **x)
{
    (void)x;
    return sq_optimizer_name(i, NULL);
}

START_TEST(kinds_documented) { names_documented("layers", kind_at); }
END_TEST
START_TEST(activations_documented) { names_documented("activations", activation_at); }
END_TEST
START_TEST(optimizers_documented) { names_documented("optimizers", optimizer_at); }
END_TEST
START_TEST(losses_documented) { names_documented("losses", sq_loss_name_at); }
END_TEST
START_TEST(metrics_documented) { names_documented("metrics", sq_metric_name_at); }
END_TEST
START_TEST(initializers_documented) { names_documented("initializers", sq_initializer_name_at); }
END_TEST
START_TEST(regularizers_documented) { names_documented("regularizers", sq_regularizer_name_at); }
END_TEST
START_TEST(schedules_documented) { names_documented("schedules", sq_schedule_name_at); }
END_TEST
START_TEST(callbacks_documented) { names_documented("callbacks", sq_callback_name_at); }
END_TEST

/* compile's help names every optimizer, loss and metric the engine takes. */
START_TEST(compile_help_complete)
{
    shell sh;
    ck_assert_int_eq(sh_init(&sh), 0);
    char *h = help_output(&sh, "help compile");
    const char *name;
    for (int i = 0; (name = sq_optimizer_name(i, NULL)); i++)
        ck_assert_msg(has_word(h, name), "help compile lacks the optimizer %s", name);
    for (int i = 0; (name = sq_loss_name_at(i, NULL)); i++)
        ck_assert_msg(has_word(h, name), "help compile lacks the loss %s", name);
    for (int i = 0; (name = sq_metric_name_at(i, NULL)); i++)
        ck_assert_msg(has_word(h, name), "help compile lacks the metric %s", name);
    free(h);
    sh_deinit(&sh);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("registry");
    int n = sq_kind_count();
    TCase *tc = tcase_create("kinds");
    tcase_add_loop_test(tc, kind_help_and_names, 0, n);
    tcase_add_loop_test(tc, kind_gradients, 0, n);
    tcase_add_loop_test(tc, kind_save_load, 0, n);
    tcase_add_loop_test(tc, kind_weight_options, 0, n);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);
    tc = tcase_create("docs");
    tcase_add_test(tc, commands_documented);
    tcase_add_test(tc, kinds_documented);
    tcase_add_test(tc, activations_documented);
    tcase_add_test(tc, optimizers_documented);
    tcase_add_test(tc, losses_documented);
    tcase_add_test(tc, metrics_documented);
    tcase_add_test(tc, compile_help_complete);
    tcase_add_test(tc, initializers_documented);
    tcase_add_test(tc, regularizers_documented);
    tcase_add_test(tc, schedules_documented);
    tcase_add_test(tc, callbacks_documented);
    tcase_add_test(tc, training_names_complete);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
