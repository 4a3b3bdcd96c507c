/* check_rnn.c - the sequence kinds: Embedding, Masking, SimpleRNN, LSTM,
 * GRU, Bidirectional, TimeDistributed.
 *
 * Forward passes are held against PyTorch: tests/fixtures/make_rnn_fixtures.py
 * computed every case's output with torch's cells (and Keras's masking
 * rules written out around them) from weights it saved under Keras's names,
 * which load_weights reads here. Gradients are held against central
 * differences of the engine's training forward pass, for every kind, with
 * masks, dropout, stateful states, every merge mode. The rest: stateful
 * calls against one long call, names and counters, errors, saving. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "seqsh/engine.h"
#include "model.h"
#include "test_util.h"

/* ---- fixtures -------------------------------------------------------------- */

static const char *fixture(const char *name)
{
    static char buf[1024];
    const char *srcdir = getenv("srcdir");
    snprintf(buf, sizeof buf, "%s/tests/fixtures/%s", srcdir && *srcdir ? srcdir : ".", name);
    return buf;
}

static void load_data(const char *key, sq_tensor *t)
{
    char spec[1200];
    sq_error err;
    snprintf(spec, sizeof spec, "%s:%s", fixture("rnn_data.npz"), key);
    ck_assert_msg(sq_tensor_load(spec, t, &err) == 0, "%s: %s", spec, err.msg);
}

/* A session whose model takes inputs shaped like x (without the batch). */
static sq_session *session_for(const sq_shape *x)
{
    sq_error err;
    sq_session *s = sq_session_new();
    ck_assert_ptr_nonnull(s);
    sq_seed(s, 7);
    long dims[SQ_MAX_RANK];
    for (int i = 1; i < x->rank; i++)
        dims[i - 1] = x->d[i];
    ck_assert_msg(sq_input(s, x->rank - 1, dims, &err) == 0, "input: %s", err.msg);
    return s;
}

static void add_ok(sq_session *s, const char *line)
{
    sq_error err;
    ck_assert_msg(add_line(s, line, &err) == 0, "add %s: %s", line, err.msg);
}

/* add for each of "LINE; LINE; ...". */
static void add_lines(sq_session *s, const char *lines)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", lines);
    char *save = NULL;
    for (char *l = strtok_r(buf, ";", &save); l; l = strtok_r(NULL, ";", &save)) {
        while (*l == ' ')
            l++;
        add_ok(s, l);
    }
}

static void add_fails(sq_session *s, const char *line, const char *msg)
{
    sq_error err;
    ck_assert_msg(add_line(s, line, &err) < 0, "add %s succeeded", line);
    ck_assert_msg(strstr(err.msg, msg), "add %s: '%s' lacks '%s'", line, err.msg, msg);
}

/* |a - b| <= 1e-5 + 1e-4 |b|: float32 against torch in double, through a
 * few steps of float32 sums and the cells' expf (about 2 ulp). */
static int near(float a, float b)
{
    return fabsf(a - b) <= 1e-5f + 1e-4f * fabsf(b);
}

/* ---- forward against PyTorch ------------------------------------------------ */

/* name, weights file (rnn_w_NAME.npz; "" none), add lines: printed by
 * make_rnn_fixtures.py */
static const struct { const char *name, *wset, *lines; } cases[] = {
    { "lstm", "lstm", "lstm 5" },
    { "lstm_seq_back_hard", "lstm", "lstm 5 return_sequences=true go_backwards=true recurrent_activation=hard_sigmoid" },
    { "lstm_relu_nobias", "lstm_relu_nobias", "lstm 5 relu use_bias=false return_sequences=true" },
    { "gru", "gru", "gru 3 return_sequences=true" },
    { "gru_before", "gru_before", "gru 3 reset_after=false go_backwards=true" },
    { "gru_before_hard", "gru_before", "gru 3 tanh hard_sigmoid reset_after=false return_sequences=true" },
    { "simple", "simple", "simplernn 4 return_sequences=true" },
    { "simple_relu", "simple", "simplernn 4 relu" },
    { "emb_mask_lstm", "emb_lstm", "embedding 10 4 mask_zero=true; lstm 5 return_sequences=true" },
    { "emb_mask_lstm_back", "emb_lstm", "embedding 10 4 mask_zero=true; lstm 5 go_backwards=true" },
    { "emb_nomask_lstm", "emb_lstm", "embedding 10 4; lstm 5" },
    { "emb_dense_gru", "emb_dense_gru", "embedding 10 4 mask_zero=true; dense 3; gru 2 return_sequences=true" },
    { "masking_simple", "simple", "masking; simplernn 4 return_sequences=true" },
    { "masking_value", "", "masking 0.5" },
    { "bidi_concat", "bidi", "bidirectional lstm 3 merge_mode=concat" },
    { "bidi_concat_seq", "bidi", "bidirectional lstm 3 merge_mode=concat return_sequences=true" },
    { "bidi_sum", "bidi", "bidirectional lstm 3 merge_mode=sum" },
    { "bidi_sum_seq", "bidi", "bidirectional lstm 3 merge_mode=sum return_sequences=true" },
    { "bidi_mul", "bidi", "bidirectional lstm 3 merge_mode=mul" },
    { "bidi_mul_seq", "bidi", "bidirectional lstm 3 merge_mode=mul return_sequences=true" },
    { "bidi_ave", "bidi", "bidirectional lstm 3 merge_mode=ave" },
    { "bidi_ave_seq", "bidi", "bidirectional lstm 3 merge_mode=ave return_sequences=true" },
    { "bidi_mask", "bidi_mask", "embedding 10 4 mask_zero=true; bidirectional lstm 3" },
    { "bidi_mask_seq", "bidi_mask", "embedding 10 4 mask_zero=true; bidirectional lstm 3 return_sequences=true" },
    { "bidi_gru_sum", "bidi_gru_sum", "bidirectional gru 2 merge_mode=sum" },
    { "td_dense", "td_dense", "timedistributed dense 2 tanh" },
    { "td_dense_rank4", "td_dense", "timedistributed dense 2" },
    { "embedding", "embedding", "embedding 10 4" },
    { "emb_mask_gru_back_seq", "emb_mask_gru_back_seq", "embedding 10 4 mask_zero=true; gru 2 go_backwards=true return_sequences=true" },
    { "lstm_softmax_gates", "lstm", "lstm 5 activation=softsign recurrent_activation=softmax return_sequences=true" },
};
#define NCASES ((int)(sizeof cases / sizeof cases[0]))

/* One case, with threads: the batch's sample blocks run on the pool. */
static void run_case(int i, int threads)
{
    char key[96], wfile[96];
    sq_tensor x, want, y;
    sq_error err;
    snprintf(key, sizeof key, "%s_x", cases[i].name);
    load_data(key, &x);
    snprintf(key, sizeof key, "%s_y", cases[i].name);
    load_data(key, &want);
    sq_set_threads(threads);
    sq_session *s = session_for(&x.shape);
    add_lines(s, cases[i].lines);
    if (cases[i].wset[0]) {
        snprintf(wfile, sizeof wfile, "rnn_w_%s.npz", cases[i].wset);
        ck_assert_msg(sq_load_weights(s, fixture(wfile), &err) == 0, "%s: %s", cases[i].name,
                      err.msg);
    }
    ck_assert_msg(sq_call(s, &x, &y, &err) == 0, "%s: %s", cases[i].name, err.msg);
    ck_assert_msg(sq_shape_eq(&y.shape, &want.shape), "%s: shape", cases[i].name);
    size_t n = sq_shape_count(&y.shape), bad = 0;
    for (size_t k = 0; k < n; k++)
        if (!near(y.data[k], want.data[k]) && bad++ < 5)
            fprintf(stderr, "%s[%zu]: %.7g, torch %.7g\n", cases[i].name, k, y.data[k],
                    want.data[k]);
    ck_assert_msg(bad == 0, "%s: %zu values differ from torch's", cases[i].name, bad);
    sq_tensor_free(&x);
    sq_tensor_free(&want);
    sq_tensor_free(&y);
    sq_session_free(s);
    sq_set_threads(1);
}

START_TEST(test_forward_vs_torch)
{
    run_case(_i, 1);
}
END_TEST

START_TEST(test_forward_two_threads)
{
    run_case(_i, 2);
}
END_TEST

/* ---- gradients by finite differences ---------------------------------------- */

/* drand: test_util.h */

typedef struct {
    sq_session *s;
    sq_model *m;
    sq_train_ws ws;
    long b;
    float *x, *c, *base, *ana;
    float *states0[8];           /* per layer: its stored states, or NULL */
    size_t nx, ny, nstates[8];
    sq_rng rng0;
    double worst;
} gc;

/* A check of the model in s on x (b samples; random in [-1, 1) unless
 * ids > 0: integer ids in [0, ids) with padding zeros at both ends). */
static void gc_init(gc *g, sq_session *s, long b, int ids)
{
    sq_error err;
    memset(g, 0, sizeof *g);
    g->s = s;
    g->m = s->model;
    g->b = b;
    sq_shape in = g->m->input_shape;
    in.d[0] = b;
    ck_assert_msg(sq_train_ws_init(&g->ws, g->m, &in, &err) == 0, "ws: %s", err.msg);
    g->nx = sq_shape_count(&in);
    g->ny = sq_shape_count(&g->ws.sh[g->m->n]);
    g->x = malloc(g->nx * sizeof *g->x);
    g->c = malloc(g->ny * sizeof *g->c);
    for (size_t i = 0; i < g->nx; i++)
        g->x[i] = (float)drand(-1, 1);
    if (ids) {
        long T = g->nx / (size_t)b;
        for (long s0 = 0; s0 < b; s0++)
            for (long t = 0; t < T; t++) {
                /* sample 0 all padding; others padded at the start or end */
                int pad = s0 == 0 || (s0 % 2 ? t < s0 % 3 : t >= T - s0 % 3);
                g->x[s0 * T + t] = pad ? 0.0f : (float)(1 + (long)drand(0, ids - 1));
            }
    }
    for (size_t i = 0; i < g->ny; i++)
        g->c[i] = (float)drand(-1, 1);
    size_t np = g->m->nparams;
    free(g->m->grads);
    g->m->grads = malloc((np ? np : 1) * sizeof(float));
    g->m->grads_cap = np;
    g->base = malloc((np ? np : 1) * sizeof(float));
    g->ana = malloc((np ? np : 1) * sizeof(float));
    memcpy(g->base, g->m->params, np * sizeof(float));
    /* stateful layers start every pass from the same (non-zero) states */
    ck_assert_int_le(g->m->n, 8);
    for (int i = 0; i < g->m->n; i++) {
        sq_layer *l = g->m->layers[i];
        if (l->states) {
            g->nstates[i] = l->kind->states(l) * (size_t)l->in_shape.d[0];
            g->states0[i] = malloc(g->nstates[i] * sizeof(float));
            for (size_t k = 0; k < g->nstates[i]; k++)
                g->states0[i][k] = (float)drand(-0.5, 0.5);
        }
    }
    sq_rng_seed(&g->rng0, 99);
}

static void gc_free(gc *g)
{
    sq_train_ws_free(&g->ws);
    free(g->x);
    free(g->c);
    free(g->base);
    free(g->ana);
    for (int i = 0; i < 8; i++)
        free(g->states0[i]);
    sq_session_free(g->s);
}

static void gc_forward(gc *g)
{
    sq_model *m = g->m;
    for (int i = 0; i < m->n; i++)
        if (g->states0[i])
            memcpy(m->layers[i]->states, g->states0[i], g->nstates[i] * sizeof(float));
    sq_rng rng = g->rng0;
    sq_train_forward(m, &g->ws, g->x, g->b, 1, &rng);
}

static double gc_loss(gc *g)
{
    sq_model *m = g->m;
    memcpy(m->params, g->base, m->nparams * sizeof(float));
    gc_forward(g);
    const float *y = g->ws.y[m->n - 1];
    double l = 0;
    for (size_t i = 0; i < g->ny; i++)
        l += (double)g->c[i] * y[i];
    memcpy(m->params, g->base, m->nparams * sizeof(float));
    return l;
}

static double gc_numeric(gc *g, float *v, size_t i)
{
    const double h = getenv("CHECK_RNN_H") ? atof(getenv("CHECK_RNN_H")) : 1e-2;
    float orig = v[i], up = (float)(orig + h), down = (float)(orig - h);
    v[i] = up;
    double lp = gc_loss(g);
    v[i] = down;
    double lm = gc_loss(g);
    v[i] = orig;
    return (lp - lm) / ((double)up - (double)down);
}

/* |a - n| <= 1e-2 max(1, |a|, |n|): central differences with h = 1e-2 on
 * float32 passes (check_grad.c's bound). */
static int gc_close(gc *g, double a, double n)
{
    double e = fabs(a - n) / fmax(1.0, fmax(fabs(a), fabs(n)));
    if (e > g->worst)
        g->worst = e;
    return e <= 1e-2;
}

/* Every weight's gradient, and for a one-layer model the input's. */
static void gc_run(gc *g, const char *what)
{
    sq_model *m = g->m;
    int bad = 0;
    memcpy(m->params, g->base, m->nparams * sizeof(float));
    gc_forward(g);
    for (size_t i = 0; i < m->nparams; i++)
        m->grads[i] = NAN;
    sq_train_backward(m, &g->ws, g->x, g->b, g->c, 0);
    memcpy(g->ana, m->grads, m->nparams * sizeof(float));
    for (int li = 0; li < m->n; li++) {
        const sq_layer *l = m->layers[li];
        double biggest = 0;
        for (size_t i = l->param_off; i < l->param_off + l->param_count; i++) {
            double n = gc_numeric(g, g->base, i);
            biggest = fmax(biggest, fabs(n));
            if (!gc_close(g, g->ana[i], n) && bad++ < 10)
                fprintf(stderr, "%s: %s[%zu]: analytic %.7g, numeric %.7g\n", what, l->name,
                        i - l->param_off, g->ana[i], n);
        }
        if (l->param_count && biggest < 1e-3 && bad++ < 10)
            fprintf(stderr, "%s: %s: every gradient ~0\n", what, l->name);
    }
    if (m->n == 1) {
        /* the layer's own backward with din, against differences in x */
        const sq_layer *l = m->layers[0];
        memcpy(m->params, g->base, m->nparams * sizeof(float));
        gc_forward(g);
        float *dz = malloc(g->ny * sizeof *dz), *din = malloc(g->nx * sizeof *din);
        memcpy(dz, g->c, g->ny * sizeof *dz);
        const sq_shape *os = &g->ws.shb[1];
        if (l->act)
            sq_activation_backward(l->act, g->ws.z[0], g->ws.y[0], dz, g->ny,
                                   os->d[os->rank - 1]);
        for (size_t i = 0; i < g->nx; i++)
            din[i] = NAN;
        sq_bwd bw = { .in = g->x, .out = g->ws.z[0], .dout = dz, .din = din,
                      .in_shape = &g->ws.shb[0], .out_shape = os, .w = m->params + l->param_off,
                      .cache = g->ws.cache[0], .scratch = g->ws.scratch,
                      .mask_out = g->ws.mask[0] };
        l->kind->backward(l, &bw);
        double biggest = 0;
        for (size_t i = 0; i < g->nx; i++) {
            double n = gc_numeric(g, g->x, i);
            biggest = fmax(biggest, fabs(n));
            if (!gc_close(g, din[i], n) && bad++ < 10)
                fprintf(stderr, "%s: din[%zu]: analytic %.7g, numeric %.7g\n", what, i, din[i], n);
        }
        if (biggest < 1e-3 && bad++ < 10)
            fprintf(stderr, "%s: every input gradient ~0\n", what);
        free(dz);
        free(din);
    }
    if (getenv("CHECK_GRAD_VERBOSE"))
        fprintf(stderr, "%-70s worst %.2e\n", what, g->worst);
    ck_assert_msg(bad == 0, "%s: %d gradient mismatches (see stderr)", what, bad);
}

/* "input DIMS" then the lines; a first Dense is set to the identity so that
 * the layers above get x itself and their input gradient is checked
 * through its kernel's. */
static sq_session *grad_model(const char *input, const char *lines)
{
    sq_error err;
    sq_session *s = sq_session_new();
    sq_seed(s, 11);
    long dims[SQ_MAX_RANK];
    int nd = 0;
    char buf[64];
    snprintf(buf, sizeof buf, "%s", input);
    for (char *t = strtok(buf, " "); t; t = strtok(NULL, " "))
        dims[nd++] = strtol(t, NULL, 10);
    ck_assert_msg(sq_input(s, nd, dims, &err) == 0, "%s", err.msg);
    add_lines(s, lines);
    sq_model *m = s->model;
    const sq_layer *l = m->layers[0];
    if (!strcmp(l->kind->class_name, "Dense")) {
        float *k = m->params + l->param_off;
        long d = l->w[0].shape.d[0], u = l->w[0].shape.d[1];
        for (long i = 0; i < d; i++)
            for (long j = 0; j < u; j++)
                k[i * u + j] = i == j ? 1.0f : 0.0f;
    }
    return s;
}

static const struct { const char *input, *lines; int ids; } grad_cases[] = {
    /* each kind alone: the input gradient too */
    { "5 3", "simplernn 4 return_sequences=true", 0 },
    { "5 3", "lstm 4", 0 },
    { "5 3", "lstm 4 return_sequences=true go_backwards=true", 0 },
    { "5 3", "gru 3 return_sequences=true", 0 },
    { "5 3", "gru 3 reset_after=false go_backwards=true", 0 },
    { "5 3", "gru 3 reset_after=false return_sequences=true use_bias=false", 0 },
    { "5 3", "bidirectional lstm 2", 0 },
    { "5 3", "bidirectional gru 2 merge_mode=sum return_sequences=true", 0 },
    { "5 3", "bidirectional simplernn 2 merge_mode=mul return_sequences=true", 0 },
    { "5 3", "bidirectional lstm 2 merge_mode=ave", 0 },
    { "5 3", "bidirectional simplernn 2 go_backwards=true return_sequences=true", 0 },
    { "5 3", "timedistributed dense 2 tanh", 0 },
    { "2 3 4", "timedistributed lstm 3", 0 },
    { "5 3", "masking 0.25", 0 },
    /* stacks: Dense (identity) below, so din is checked through it */
    { "5 3", "dense 3; lstm 4 return_sequences=true; lstm 3 go_backwards=true", 0 },
    { "5 3", "dense 3; gru 4 return_sequences=true; simplernn 2", 0 },
    { "5 3", "dense 3; lstm 3 recurrent_activation=hard_sigmoid activation=softsign return_sequences=true; gru 2 activation=swish recurrent_activation=tanh reset_after=false", 0 },
    { "5 3", "dense 3; simplernn 3 activation=gelu return_sequences=true; lstm 2 use_bias=false", 0 },
    { "5 3", "dense 3; lstm 3 softmax softmax return_sequences=true; gru 2 log_softmax softmax", 0 },
    { "5 3", "dense 3; bidirectional lstm 2 return_sequences=true; timedistributed dense 2 sigmoid; lstm 2", 0 },
    /* dropout: the same masks in every pass (a fixed generator); LSTM and
     * GRU with only `dropout` draw a new input mask every step, as Keras */
    { "5 3", "dense 3; lstm 4 dropout=0.3 recurrent_dropout=0.4 return_sequences=true; simplernn 3 dropout=0.3 recurrent_dropout=0.3", 0 },
    { "5 3", "dense 3; lstm 3 dropout=0.4 return_sequences=true; gru 2 dropout=0.3", 0 },
    { "5 3", "simplernn 3 dropout=0.5", 0 },
    { "5 3", "simplernn 3 recurrent_dropout=0.5", 0 },
    { "5 3", "dense 3; gru 3 dropout=0.4 recurrent_dropout=0.5; dense 2", 0 },
    { "5 3", "bidirectional lstm 2 dropout=0.3 recurrent_dropout=0.3 return_sequences=true", 0 },
    /* masks */
    { "6", "embedding 9 3 mask_zero=true; lstm 4 return_sequences=true; gru 3", 1 },
    { "6", "embedding 9 3 mask_zero=true; gru 3 reset_after=false go_backwards=true return_sequences=true; simplernn 2 go_backwards=true", 1 },
    { "6", "embedding 9 3 mask_zero=true; dense 3 tanh; bidirectional lstm 3 return_sequences=true; bidirectional gru 2 merge_mode=sum", 1 },
    { "6", "embedding 9 3 mask_zero=true; timedistributed dense 3; lstm 2", 1 },
    { "6", "embedding 9 3 mask_zero=true; bidirectional gru 2 go_backwards=true return_sequences=true merge_mode=ave", 1 },
    { "6", "embedding 9 3; lstm 2", 1 },
    { "6 3", "dense 3 use_bias=false; masking; lstm 3 return_sequences=true; simplernn 2", 2 },
    /* GlobalAveragePooling1D's mean over the unmasked steps (whole rows of
     * zeros are masked; no sample is all masked: Keras's 0 / 0 there) */
    { "6 3", "dense 3 use_bias=false; masking; globalaveragepooling1d keepdims=true; dense 2", 2 },
    { "6 3", "dense 3 use_bias=false; masking; layernormalization; leakyrelu 0.2; globalaveragepooling1d", 2 },
    /* stateful: every pass starts from the same stored states */
    { "5 3", "dense 3; lstm 3 stateful=true return_sequences=true; gru 2 stateful=true", 0 },
};
#define NGRAD ((int)(sizeof grad_cases / sizeof grad_cases[0]))

START_TEST(test_gradients)
{
    *trng_state_at() = 0x9e3779b97f4a7c15ULL + (uint64_t)_i;
    const char *lines = grad_cases[_i].lines;
    char buf[600];
    sq_session *s;
    if (strstr(lines, "stateful=true")) {
        /* a fixed batch: batch_input_shape on the first layer */
        sq_error err;
        s = sq_session_new();
        sq_seed(s, 11);
        ck_assert(add_line(s, "dense 3 batch_input_shape=3,5,3", &err) == 0);
        snprintf(buf, sizeof buf, "%s", strchr(lines, ';') + 1);
        add_lines(s, buf);
        float *k = s->model->params;
        for (int i = 0; i < 9; i++)
            k[i] = i % 4 == 0 ? 1.0f : 0.0f;
    } else {
        s = grad_model(grad_cases[_i].input, lines);
    }
    gc g;
    gc_init(&g, s, 3, grad_cases[_i].ids == 1 ? 9 : 0);
    if (grad_cases[_i].ids == 2) {
        /* whole rows of zeros: Masking masks them */
        for (long b = 0; b < 3; b++)
            for (long t = 0; t < 6; t++)
                if ((b + t) % 3 == 0)
                    memset(g.x + (b * 6 + t) * 3, 0, 3 * sizeof(float));
    }
    snprintf(buf, sizeof buf, "input %s; %s", grad_cases[_i].input, lines);
    gc_run(&g, buf);
    gc_free(&g);
}
END_TEST

/* The check itself catches a wrong gradient: one weight's gradient off. */
START_TEST(test_gradient_check_bites)
{
    *trng_state_at() = 42;
    sq_session *s = grad_model("5 3", "lstm 3");
    gc g;
    gc_init(&g, s, 2, 0);
    sq_model *m = g.m;
    gc_forward(&g);
    sq_train_backward(m, &g.ws, g.x, g.b, g.c, 0);
    double n = gc_numeric(&g, g.base, 5);
    ck_assert(gc_close(&g, m->grads[5], n));
    ck_assert(!gc_close(&g, m->grads[5] + 0.05, n));
    gc_free(&g);
}
END_TEST

/* ---- stateful --------------------------------------------------------------- */

static void call_ok(sq_session *s, const sq_tensor *x, sq_tensor *y)
{
    sq_error err;
    ck_assert_msg(sq_call(s, x, y, &err) == 0, "call: %s", err.msg);
}

/* Columns [t0, t1) of x (B, T, d) as a new tensor. */
static sq_tensor time_slice(const sq_tensor *x, long t0, long t1)
{
    long B = x->shape.d[0], T = x->shape.d[1], d = x->shape.d[2];
    sq_tensor r = { { 3, { B, t1 - t0, d } }, malloc((size_t)(B * (t1 - t0) * d) * sizeof(float)) };
    for (long b = 0; b < B; b++)
        memcpy(r.data + b * (t1 - t0) * d, x->data + (b * T + t0) * d,
               (size_t)((t1 - t0) * d) * sizeof(float));
    return r;
}

/* Keras's Bidirectional reverses its backward copy's output sequence
 * whichever way the copies run: with a template that runs backwards, the
 * forward copy's outputs come in the order it ran (last step first) and
 * the backward copy (running forwards) has its outputs reversed into that
 * same order. Held against the two copies run as plain layers. */
START_TEST(test_bidirectional_go_backwards)
{
    sq_error err;
    sq_session *a = sq_session_new(), *f = sq_session_new(), *b = sq_session_new();
    long d[2] = { 5, 3 }, xd[3] = { 2, 5, 3 };
    ck_assert_int_eq(sq_input(a, 2, d, &err), 0);
    ck_assert_int_eq(sq_input(f, 2, d, &err), 0);
    ck_assert_int_eq(sq_input(b, 2, d, &err), 0);
    add_ok(a, "bidirectional gru 2 go_backwards=true return_sequences=true");
    add_ok(f, "gru 2 go_backwards=true return_sequences=true");
    add_ok(b, "gru 2 return_sequences=true");
    size_t half = f->model->nparams;
    ck_assert_uint_eq(a->model->nparams, 2 * half);
    for (size_t i = 0; i < 2 * half; i++)
        a->model->params[i] = (float)drand(-1, 1);
    memcpy(f->model->params, a->model->params, half * sizeof(float));
    memcpy(b->model->params, a->model->params + half, half * sizeof(float));
    sq_tensor x, ya, yf, yb;
    ck_assert_int_eq(sq_tensor_generate(a, "random", 3, xd, &x, &err), 0);
    call_ok(a, &x, &ya);
    call_ok(f, &x, &yf);
    call_ok(b, &x, &yb);
    for (long n = 0; n < 2; n++)
        for (long t = 0; t < 5; t++)
            for (long j = 0; j < 2; j++) {
                /* the same sums in another arrangement: rounding may differ */
                ck_assert(near(ya.data[(n * 5 + t) * 4 + j], yf.data[(n * 5 + t) * 2 + j]));
                ck_assert(near(ya.data[(n * 5 + t) * 4 + 2 + j],
                               yb.data[(n * 5 + 4 - t) * 2 + j]));
            }
    sq_tensor_free(&x);
    sq_tensor_free(&ya);
    sq_tensor_free(&yf);
    sq_tensor_free(&yb);
    sq_session_free(a);
    sq_session_free(f);
    sq_session_free(b);
}
END_TEST

START_TEST(test_stateful_across_calls)
{
    static const char *const kinds[] = { "lstm", "gru", "simplernn", "lstm", "gru", "simplernn" };
    sq_error err;
    sq_tensor x;
    load_data("lstm_x", &x);   /* (3, 6, 4) */
    char line[128];
    for (int k = 0; k < 6; k++) {
        /* on two threads the call's chunks of samples take their rows */
        sq_set_threads(k < 3 ? 1 : 2);
        sq_session *a = sq_session_new(), *b = sq_session_new();
        snprintf(line, sizeof line, "%s 5 stateful=true return_sequences=true "
                 "batch_input_shape=3,3,4", kinds[k]);
        ck_assert_msg(add_line(a, line, &err) == 0, "%s", err.msg);
        snprintf(line, sizeof line, "%s 5 return_sequences=true input_shape=6,4", kinds[k]);
        ck_assert_msg(add_line(b, line, &err) == 0, "%s", err.msg);
        ck_assert(sq_save_weights(a, "rnn_stateful.npz", &err) == 0);
        ck_assert_msg(sq_load_weights(b, "rnn_stateful.npz", &err) == 0, "%s", err.msg);
        remove("rnn_stateful.npz");
        sq_tensor x1 = time_slice(&x, 0, 3), x2 = time_slice(&x, 3, 6), y1, y2, yall;
        call_ok(a, &x1, &y1);
        call_ok(a, &x2, &y2);
        call_ok(b, &x, &yall);
        /* two calls of 3 steps == one call of 6 */
        for (long bb = 0; bb < 3; bb++)
            for (long t = 0; t < 6; t++)
                for (long j = 0; j < 5; j++) {
                    float got = t < 3 ? y1.data[(bb * 3 + t) * 5 + j]
                                      : y2.data[(bb * 3 + t - 3) * 5 + j];
                    float want = yall.data[(bb * 6 + t) * 5 + j];
                    ck_assert_msg(fabsf(got - want) <= 1e-6f + 1e-5f * fabsf(want),
                                  "%s: b%ld t%ld: %g vs %g", kinds[k], bb, t, got, want);
                }
        /* a rebuild keeps them; a different batch is refused */
        sq_tensor x3 = time_slice(&x, 0, 3), y3;
        x3.shape.d[0] = 2;
        ck_assert(sq_call(a, &x3, &y3, &err) < 0);
        ck_assert_msg(strstr(err.msg, "expected shape=(3, 3, 4), found shape=(2, 3, 4)"), "%s",
                      err.msg);
        sq_tensor_free(&x1);
        sq_tensor_free(&x2);
        sq_tensor_free(&x3);
        sq_tensor_free(&y1);
        sq_tensor_free(&y2);
        sq_tensor_free(&yall);
        sq_session_free(a);
        sq_session_free(b);
    }
    sq_set_threads(1);
    sq_tensor_free(&x);
}
END_TEST

START_TEST(test_stateful_needs_batch)
{
    sq_session *s = sq_session_new();
    sq_error err;
    long d[] = { 6, 4 };
    ck_assert(sq_input(s, 2, d, &err) == 0);
    add_fails(s, "lstm 3 stateful=true", "If a RNN is stateful, it needs to know its batch "
              "size. Specify the batch size of your input tensors: - If using a Sequential "
              "model, specify the batch size by passing a `batch_input_shape` argument to your "
              "first layer. - If using the functional API, specify the batch size by passing a "
              "`batch_shape` argument to your Input layer.");
    add_fails(s, "bidirectional gru 3 stateful=true", "If a RNN is stateful");
    sq_session_free(s);
    /* batch_size= with input_shape= fixes it */
    s = sq_session_new();
    add_ok(s, "lstm 3 stateful=true input_shape=6,4 batch_size=2 return_sequences=true");
    add_ok(s, "bidirectional gru 3 stateful=true");
    ck_assert_int_eq(s->model->input_shape.d[0], 2);
    sq_session_free(s);
}
END_TEST

/* ---- names, counters, shapes, errors ------------------------------------------ */

static void weight_names(sq_session *s, char *out, size_t n)
{
    const sq_model *m = s->model;
    size_t k = 0;
    out[0] = '\0';
    for (int i = 0; i < m->n; i++)
        for (int j = 0; j < m->layers[i]->nweights; j++)
            k += (size_t)snprintf(out + k, n - k, "%s/%s\n", m->layers[i]->name,
                                  m->layers[i]->w[j].name);
}

START_TEST(test_cell_counters)
{
    char names[4096];
    sq_session *s = sq_session_new();
    sq_error err;
    long d[] = { 5, 4 };
    ck_assert(sq_input(s, 2, d, &err) == 0);
    add_ok(s, "lstm 3 return_sequences=true");
    /* failed adds take no number: not the layer's, not its cells' */
    add_fails(s, "lstm 3 dropout=x", "`dropout` must be a number");
    add_fails(s, "bidirectional lstm 2 merge_mode=None", "single output tensor");
    add_fails(s, "bidirectional dense 2", "wraps a recurrent layer");
    add_ok(s, "bidirectional lstm 2 return_sequences=true");
    add_ok(s, "simplernn 2 return_sequences=true");
    add_ok(s, "bidirectional simplernn 2 return_sequences=true merge_mode=sum name=both");
    weight_names(s, names, sizeof names);
    ck_assert_str_eq(names,
        "lstm/lstm_cell/kernel\nlstm/lstm_cell/recurrent_kernel\nlstm/lstm_cell/bias\n"
        "bidirectional/forward_lstm_1/lstm_cell_2/kernel\n"
        "bidirectional/forward_lstm_1/lstm_cell_2/recurrent_kernel\n"
        "bidirectional/forward_lstm_1/lstm_cell_2/bias\n"
        "bidirectional/backward_lstm_1/lstm_cell_3/kernel\n"
        "bidirectional/backward_lstm_1/lstm_cell_3/recurrent_kernel\n"
        "bidirectional/backward_lstm_1/lstm_cell_3/bias\n"
        "simple_rnn/simple_rnn_cell/kernel\nsimple_rnn/simple_rnn_cell/recurrent_kernel\n"
        "simple_rnn/simple_rnn_cell/bias\n"
        "both/forward_simple_rnn_1/simple_rnn_cell_2/kernel\n"
        "both/forward_simple_rnn_1/simple_rnn_cell_2/recurrent_kernel\n"
        "both/forward_simple_rnn_1/simple_rnn_cell_2/bias\n"
        "both/backward_simple_rnn_1/simple_rnn_cell_3/kernel\n"
        "both/backward_simple_rnn_1/simple_rnn_cell_3/recurrent_kernel\n"
        "both/backward_simple_rnn_1/simple_rnn_cell_3/bias\n");
    /* the wrapped layers took layer numbers too: the next LSTM is lstm_2,
     * its cell lstm_cell_4 */
    add_ok(s, "lstm 2");
    ck_assert_str_eq(s->model->layers[s->model->n - 1]->name, "lstm_2");
    ck_assert_str_eq(s->model->layers[s->model->n - 1]->w[0].name, "lstm_cell_4/kernel");
    /* TimeDistributed: the wrapped layer's weights under the wrapper's name */
    long d4[] = { 2, 5, 4 };
    sq_model_new(s, NULL, &err);
    ck_assert(sq_input(s, 3, d4, &err) == 0);
    add_ok(s, "timedistributed lstm 3");
    add_ok(s, "timedistributed dense 2");
    weight_names(s, names, sizeof names);
    ck_assert_str_eq(names, "time_distributed/lstm_cell_5/kernel\n"
                     "time_distributed/lstm_cell_5/recurrent_kernel\n"
                     "time_distributed/lstm_cell_5/bias\n"
                     "time_distributed_1/kernel\ntime_distributed_1/bias\n");
    ck_assert_str_eq(s->model->layers[0]->inner->name, "lstm_3");
    sq_reset(s);
    sq_model_new(s, NULL, &err);
    ck_assert(sq_input(s, 2, d, &err) == 0);
    add_ok(s, "gru 2");
    weight_names(s, names, sizeof names);
    ck_assert_str_eq(names, "gru/gru_cell/kernel\ngru/gru_cell/recurrent_kernel\n"
                     "gru/gru_cell/bias\n");
    sq_session_free(s);
}
END_TEST

START_TEST(test_shapes_and_params)
{
    sq_session *s = sq_session_new();
    sq_error err;
    long d[] = { 10, 8 };
    ck_assert(sq_input(s, 2, d, &err) == 0);
    add_ok(s, "masking");   /* stays: popping to empty would unbuild the model */
    static const struct { const char *line; long params; const char *shape; } rows[] = {
        { "lstm 32", 5248, "(None, 32)" },
        { "gru 32", 4032, "(None, 32)" },
        { "gru 32 reset_after=false", 3936, "(None, 32)" },
        { "simplernn 32", 1312, "(None, 32)" },
        { "lstm 32 use_bias=false", 5120, "(None, 32)" },
        { "simplernn 7 return_sequences=true", 112, "(None, 10, 7)" },
        { "bidirectional lstm 32", 10496, "(None, 64)" },
        { "bidirectional gru 5 merge_mode=sum return_sequences=true", 2 * 3 * (5 * 13 + 10),
          "(None, 10, 5)" },
        { "timedistributed dense 3", 27, "(None, 10, 3)" },
        { "masking", 0, "(None, 10, 8)" },
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        add_ok(s, rows[i].line);
        sq_layer_info li;
        char sh[64];
        ck_assert(sq_layer_get(s, sq_layer_count(s) - 1, &li) == 0);
        ck_assert_msg(li.params == (size_t)rows[i].params, "%s: %zu", rows[i].line, li.params);
        ck_assert_str_eq(sq_shape_str(&li.output_shape, sh, sizeof sh), rows[i].shape);
        ck_assert(sq_pop(s, &err) == 0);
    }
    sq_session_free(s);
    /* Embedding as the first layer builds the model: (None, None) or input_length */
    s = sq_session_new();
    add_ok(s, "embedding 1000 64");
    ck_assert(s->model->built);
    char sh[64];
    ck_assert_str_eq(sq_shape_str(&s->model->layers[0]->out_shape, sh, sizeof sh),
                     "(None, None, 64)");
    sq_session_free(s);
    s = sq_session_new();
    add_ok(s, "embedding 1000 64 input_length=12");
    ck_assert_str_eq(sq_shape_str(&s->model->layers[0]->out_shape, sh, sizeof sh),
                     "(None, 12, 64)");
    ck_assert_int_eq(s->model->layers[0]->param_count, 64000);
    sq_session_free(s);
}
END_TEST

START_TEST(test_errors)
{
    sq_session *s = sq_session_new();
    sq_error err;
    long d1[] = { 10 };
    ck_assert(sq_input(s, 1, d1, &err) == 0);
    add_fails(s, "lstm 4", "Input 0 of layer lstm is incompatible with the layer: expected "
              "ndim=3, found ndim=2. Full shape received: (None, 10)");
    add_fails(s, "bidirectional lstm 4", "Input 0 of layer bidirectional is incompatible with "
              "the layer: expected ndim=3, found ndim=2. Full shape received: (None, 10)");
    add_fails(s, "timedistributed dense 4", "`TimeDistributed` Layer should be passed an "
              "`input_shape ` with at least 3 dimensions, received: (None, 10)");
    add_fails(s, "embedding 0 3", "Both `input_dim` and `output_dim` should be positive, found "
              "input_dim 0 and output_dim 3");
    add_fails(s, "embedding 10 3 input_length=5", "\"input_length\" is 5, but received input "
              "has shape (None, 10)");
    add_fails(s, "lstm 0", "Received an invalid value for `units`, expected a positive integer, "
              "got 0.");
    add_fails(s, "bidirectional lstm 4 merge_mode=max", "Invalid merge mode. Merge mode should "
              "be one of {\"sum\", \"mul\", \"ave\", \"concat\", None}");
    add_fails(s, "bidirectional", "Bidirectional needs the layer to wrap");
    add_fails(s, "timedistributed lstm 3 stateful=true", "cannot wrap a stateful layer");
    add_fails(s, "gru 3 activation=tanhh", "Unknown activation function: tanhh");
    add_fails(s, "lstm 3 bogus=1", "Keyword argument not understood: bogus");
    ck_assert_int_eq(s->model->n, 0);
    sq_session_free(s);
    s = sq_session_new();
    add_ok(s, "dense 3 input_shape=4,2");
    add_fails(s, "lstm 4 return_state=true", "All layers in a Sequential model should have a "
              "single output tensor. For multi-output layers, use the functional API.");
    sq_session_free(s);

    /* ids out of range: TensorFlow's message, and nothing runs */
    s = sq_session_new();
    add_ok(s, "embedding 10 3");
    float ids[] = { 1, 2, 3, 4, 9.9f, 10 };
    sq_tensor x = { { 2, { 2, 3 } }, ids }, y;
    ck_assert(sq_call(s, &x, &y, &err) < 0);
    ck_assert_msg(strstr(err.msg, "indices[1,2] = 10 is not in [0, 10)"), "%s", err.msg);
    ids[5] = -1.5f;
    ck_assert(sq_call(s, &x, &y, &err) < 0);
    ck_assert_msg(strstr(err.msg, "indices[1,2] = -1 is not in [0, 10)"), "%s", err.msg);
    ids[5] = -0.5f;   /* truncates to 0 */
    call_ok(s, &x, &y);
    sq_tensor_free(&y);
    sq_session_free(s);
}
END_TEST

/* ---- saving ---------------------------------------------------------------- */

START_TEST(test_save_load_round_trip)
{
    static const char *const models[] = {
        "embedding 20 4 mask_zero=true input_length=6; bidirectional gru 3 return_sequences=true "
        "merge_mode=ave reset_after=false dropout=0.25; timedistributed dense 2 relu; "
        "lstm 3 go_backwards=true recurrent_activation=hard_sigmoid unit_forget_bias=false",
        "embedding 20 4; simplernn 3 relu use_bias=false return_sequences=true; masking 0.5; "
        "bidirectional lstm 2 merge_mode=mul",
    };
    sq_error err;
    float ids[12];
    for (int i = 0; i < 12; i++)
        ids[i] = (float)((i * 7) % 20);
    sq_tensor x = { { 2, { 2, 6 } }, ids };
    for (int k = 0; k < 2; k++) {
        sq_session *s = sq_session_new();
        add_lines(s, models[k]);
        sq_tensor y0, y1, y2;
        call_ok(s, &x, &y0);
        ck_assert_msg(sq_save(s, "rnn_rt.seqm", &err) == 0, "%s", err.msg);
        ck_assert(sq_save_weights(s, "rnn_rt.npz", &err) == 0);
        sq_session *t = sq_session_new();
        ck_assert_msg(sq_load(t, "rnn_rt.seqm", &err) == 0, "%s", err.msg);
        call_ok(t, &x, &y1);
        /* the same names, layer by layer, weight by weight */
        char a[4096], b[4096];
        weight_names(s, a, sizeof a);
        weight_names(t, b, sizeof b);
        ck_assert_str_eq(a, b);
        /* weights into a model built again from the same lines */
        sq_session *u = sq_session_new();
        sq_seed(u, 99);
        add_lines(u, models[k]);
        ck_assert_msg(sq_load_weights(u, "rnn_rt.npz", &err) == 0, "%s", err.msg);
        call_ok(u, &x, &y2);
        size_t n = sq_shape_count(&y0.shape);
        ck_assert(memcmp(y0.data, y1.data, n * sizeof(float)) == 0);
        ck_assert(memcmp(y0.data, y2.data, n * sizeof(float)) == 0);
        /* every option survives describe */
        for (int i = 0; i < s->model->n; i++) {
            sbuf d0 = { 0 }, d1 = { 0 };
            sq_layer_describe(s->model->layers[i], &d0);
            sq_layer_describe(t->model->layers[i], &d1);
            char *t0 = sb_finish(&d0, NULL), *t1 = sb_finish(&d1, NULL);
            ck_assert_str_eq(t0, t1);
            free(t0);
            free(t1);
        }
        sq_tensor_free(&y0);
        sq_tensor_free(&y1);
        sq_tensor_free(&y2);
        sq_session_free(s);
        sq_session_free(t);
        sq_session_free(u);
    }
    remove("rnn_rt.seqm");
    remove("rnn_rt.npz");
}
END_TEST

/* Wrappers inside wrappers: names in Keras's order, and save/load (the
 * wrapper's own words come last in what describe writes). */
START_TEST(test_nested_wrappers)
{
    sq_error err;
    sq_session *s = sq_session_new();
    long d[] = { 3, 4, 5 };
    ck_assert(sq_input(s, 3, d, &err) == 0);
    add_ok(s, "timedistributed bidirectional lstm 3 merge_mode=sum return_sequences=true");
    add_ok(s, "timedistributed timedistributed dense 2 tanh");
    char names[2048];
    weight_names(s, names, sizeof names);
    ck_assert_str_eq(names,
        "time_distributed/forward_lstm/lstm_cell_1/kernel\n"
        "time_distributed/forward_lstm/lstm_cell_1/recurrent_kernel\n"
        "time_distributed/forward_lstm/lstm_cell_1/bias\n"
        "time_distributed/backward_lstm/lstm_cell_2/kernel\n"
        "time_distributed/backward_lstm/lstm_cell_2/recurrent_kernel\n"
        "time_distributed/backward_lstm/lstm_cell_2/bias\n"
        "time_distributed_2/kernel\ntime_distributed_2/bias\n");
    sq_tensor x, y0, y1;
    long xd[] = { 2, 3, 4, 5 };
    ck_assert(sq_tensor_generate(s, "random", 4, xd, &x, &err) == 0);
    call_ok(s, &x, &y0);
    ck_assert_msg(sq_save(s, "rnn_nested.seqm", &err) == 0, "%s", err.msg);
    sq_session *t = sq_session_new();
    ck_assert_msg(sq_load(t, "rnn_nested.seqm", &err) == 0, "%s", err.msg);
    remove("rnn_nested.seqm");
    call_ok(t, &x, &y1);
    ck_assert(memcmp(y0.data, y1.data, sq_shape_count(&y0.shape) * sizeof(float)) == 0);
    char names2[2048];
    weight_names(t, names2, sizeof names2);
    ck_assert_str_eq(names, names2);
    ck_assert_str_eq(t->model->layers[1]->inner->name, "time_distributed_1");
    ck_assert_str_eq(t->model->layers[1]->inner->inner->name, "dense");
    sq_tensor_free(&x);
    sq_tensor_free(&y0);
    sq_tensor_free(&y1);
    sq_session_free(s);
    sq_session_free(t);
}
END_TEST

/* Training runs and lowers the loss of a masked sequence classifier; the
 * masked padding does not change the prediction. */
START_TEST(test_fit_masked)
{
    sq_error err;
    sq_session *s = sq_session_new();
    sq_seed(s, 5);
    add_lines(s, "embedding 12 6 mask_zero=true; lstm 8; dense 1 sigmoid");
    ck_assert(sq_compile(s, "adam", "binary_crossentropy", NULL, 0, NULL, NULL, &err) == 0);
    enum { N = 64, T = 8 };
    float *xs = malloc(N * T * sizeof *xs), ys[N];
    for (int i = 0; i < N; i++) {
        int len = 2 + i % 6, cls = i % 2;
        for (int t = 0; t < T; t++)
            xs[i * T + t] = t < T - len ? 0.0f : (float)(1 + (cls ? 6 : 0) + (i + t) % 5);
        ys[i] = (float)cls;
    }
    sq_tensor x = { { 2, { N, T } }, xs }, y = { { 1, { N } }, ys };
    sq_fit_opts o = { .epochs = 1, .batch_size = 16, .shuffle = 0, .verbose = 0 };
    double before[2], after[2];
    const char *names[2];
    int nv;
    ck_assert(sq_evaluate(s, &x, &y, 16, 0, NULL, NULL, before, names, 2, &nv, &err) == 0);
    o.epochs = 30;
    ck_assert_msg(sq_fit(s, &x, &y, &o, NULL, NULL, &err) == 0, "%s", err.msg);
    ck_assert(sq_evaluate(s, &x, &y, 16, 0, NULL, NULL, after, names, 2, &nv, &err) == 0);
    ck_assert_msg(after[0] < 0.5 * before[0], "loss %g -> %g", before[0], after[0]);
    /* more padding in front changes nothing */
    float a[T] = { 0, 0, 0, 0, 0, 3, 4, 5 }, b[T] = { 0, 0, 0, 0, 0, 0, 0, 0 };
    sq_tensor xa = { { 2, { 1, T } }, a }, ya, yb;
    call_ok(s, &xa, &ya);
    memcpy(b, a, sizeof a);
    b[4] = 0;
    sq_tensor xb = { { 2, { 1, T } }, b };
    call_ok(s, &xb, &yb);
    ck_assert(ya.data[0] == yb.data[0]);
    sq_tensor_free(&ya);
    sq_tensor_free(&yb);
    free(xs);
    sq_session_free(s);
}
END_TEST

/* Fault injection: the N-th allocation of a command fails, for every N
 * until it succeeds; each failure leaves the model as it was (summary,
 * weights, the counters: the next automatic names are unchanged). */
static char *snapshot(sq_session *s)
{
    sq_error err;
    char *sum = sq_summary(s, &err), names[4096];
    ck_assert_ptr_nonnull(sum);
    weight_names(s, names, sizeof names);
    size_t n = strlen(sum) + strlen(names) + 64 + s->model->nparams * 12;
    char *out = malloc(n);
    size_t k = (size_t)snprintf(out, n, "%s%s", sum, names);
    for (size_t i = 0; i < s->model->nparams; i++)
        k += (size_t)snprintf(out + k, n - k, "%.9g,", s->model->params[i]);
    free(sum);
    return out;
}

START_TEST(test_faults)
{
    static const char *const steps[] = {
        "add bidirectional lstm 3 return_sequences=true merge_mode=sum",
        "add timedistributed dense 2 tanh",
        "add gru 2 reset_after=false",
        "call",
        "fit",
    };
    sq_error err;
    float ids[16], ys[4] = { 0, 1, 1, 0 };
    for (int i = 0; i < 16; i++)
        ids[i] = (float)(i % 7);
    sq_tensor x = { { 2, { 4, 4 } }, ids }, yv = { { 2, { 4, 1 } }, ys };
    sq_session *s = sq_session_new();
    sq_seed(s, 3);
    add_ok(s, "embedding 7 3 mask_zero=true input_length=4");
    ck_assert(sq_compile(s, "adam", "mse", NULL, 0, NULL, NULL, &err) == 0);
    for (size_t k = 0; k < sizeof steps / sizeof steps[0]; k++) {
        int done = 0;
        for (long n = 0; !done && n < 100000; n++) {
            char *before = snapshot(s);
            sq_rng_state rng = sq_rng_get(s);
            sq_alloc_fail_after(n);
            int rc;
            sq_tensor y;
            if (!strncmp(steps[k], "add ", 4)) {
                rc = add_line(s, steps[k] + 4, &err);
            } else if (!strcmp(steps[k], "call")) {
                rc = sq_call(s, &x, &y, &err);
                if (rc == 0)
                    sq_tensor_free(&y);
            } else {
                sq_fit_opts o = { .epochs = 1, .batch_size = 2, .shuffle = 0, .verbose = 0 };
                rc = sq_fit(s, &x, &yv, &o, NULL, NULL, &err);
            }
            sq_alloc_fail_after(-1);
            if (rc == 0) {
                done = 1;
            } else {
                char *after = snapshot(s);
                ck_assert_msg(!strcmp(before, after), "%s, allocation %ld: the model changed",
                              steps[k], n);
                sq_rng_state r2 = sq_rng_get(s);
                ck_assert(!memcmp(&rng, &r2, sizeof rng));
                free(after);
            }
            free(before);
        }
        ck_assert_msg(done, "%s never succeeded", steps[k]);
    }
    /* no failed add took a number */
    ck_assert_str_eq(s->model->layers[1]->name, "bidirectional");
    ck_assert_str_eq(s->model->layers[1]->inner->name, "lstm");
    ck_assert_str_eq(s->model->layers[1]->w[0].name, "forward_lstm/lstm_cell_1/kernel");
    ck_assert_str_eq(s->model->layers[2]->name, "time_distributed");
    ck_assert_str_eq(s->model->layers[3]->name, "gru");
    ck_assert_str_eq(s->model->layers[3]->w[0].name, "gru_cell/kernel");
    sq_session_free(s);
}
END_TEST

/* ---- masks through the layers Keras passes them through -------------- */

/* Keras 2.6's advanced activations and LayerNormalization support masking
 * (the mask passes unchanged): an LSTM after them skips the padding, so a
 * padded sequence gives what its unpadded part alone gives. */
START_TEST(test_mask_passes_through)
{
    static const char *const kinds[] = {
        "layernormalization", "leakyrelu 0.2", "prelu shared_axes=1", "elu alpha=0.5",
        "relu 6 negative_slope=0.1 threshold=0.05", "thresholdedrelu 0.1",
        "dense 4 tanh", "dropout 0.5", "activation relu", "batchnormalization",
    };
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        sq_error err;
        sq_session *s = sq_session_new();
        sq_seed(s, 5);
        char lines[256];
        snprintf(lines, sizeof lines, "embedding 9 4 mask_zero=true; dense 4; %s; lstm 3",
                 kinds[k]);
        add_lines(s, lines);
        /* a random PReLU alpha, BatchNormalization statistics: not the identity */
        for (size_t i = 0; i < s->model->nparams; i++)
            if (s->model->params[i] == 0.0f)
                s->model->params[i] = 0.1f + 0.01f * (float)(i % 7);
        sq_mask_rule rule[4];
        ck_assert_int_eq(sq_model_mask_rules(s->model, rule), 0);  /* the LSTM ends it */
        ck_assert_msg(rule[2] == SQ_MASK_KEEP, "%s does not pass the mask", kinds[k]);
        float ids[3][6] = { { 3, 5, 2, 0, 0, 0 }, { 0, 0, 7, 1, 4, 8 }, { 6, 0, 2, 0, 3, 1 } };
        float kept[3][6] = { { 3, 5, 2 }, { 7, 1, 4, 8 }, { 6, 2, 3, 1 } };
        long nkept[3] = { 3, 4, 4 };
        sq_tensor x = { { 2, { 3, 6 } }, &ids[0][0] }, y;
        ck_assert_msg(sq_call(s, &x, &y, &err) == 0, "%s: %s", kinds[k], err.msg);
        for (int b = 0; b < 3; b++) {
            sq_tensor xb = { { 2, { 1, nkept[b] } }, kept[b] }, yb;
            ck_assert_msg(sq_call(s, &xb, &yb, &err) == 0, "%s: %s", kinds[k], err.msg);
            for (int j = 0; j < 3; j++)
                ck_assert_msg(near(y.data[b * 3 + j], yb.data[j]), "%s: sample %d: %g with "
                              "the padding, %g without", kinds[k], b, y.data[b * 3 + j],
                              yb.data[j]);
            sq_tensor_free(&yb);
        }
        sq_tensor_free(&y);
        sq_session_free(s);
    }
}
END_TEST

/* GlobalAveragePooling1D takes the mean of the unmasked steps (Keras 2.6's
 * sum(x * mask) / sum(mask), NaN when every step is masked), against a
 * naive loop over the embeddings it loaded; its output has no mask. */
START_TEST(test_global_average_masked)
{
    for (int keep = 0; keep < 2; keep++) {
        sq_error err;
        sq_session *s = sq_session_new();
        sq_seed(s, 3);
        add_lines(s, keep ? "embedding 9 4 mask_zero=true; globalaveragepooling1d keepdims=true"
                          : "embedding 9 4 mask_zero=true; globalaveragepooling1d");
        sq_mask_rule rule[2];
        ck_assert_int_eq(sq_model_mask_rules(s->model, rule), 0);
        float ids[4][5] = { { 3, 0, 5, 0, 8 }, { 1, 2, 3, 4, 5 }, { 0, 0, 0, 0, 7 },
                            { 0, 0, 0, 0, 0 } };
        sq_tensor x = { { 2, { 4, 5 } }, &ids[0][0] }, y;
        ck_assert_msg(sq_call(s, &x, &y, &err) == 0, "%s", err.msg);
        ck_assert_int_eq(y.shape.rank, keep ? 3 : 2);
        const float *e = s->model->params;   /* (9, 4) */
        for (int b = 0; b < 4; b++)
            for (int c = 0; c < 4; c++) {
                double sum = 0;
                int n = 0;
                for (int t = 0; t < 5; t++)
                    if (ids[b][t] != 0) {
                        sum += e[(int)ids[b][t] * 4 + c];
                        n++;
                    }
                float got = y.data[b * 4 + c];
                if (n == 0)
                    ck_assert_msg(isnan(got), "an all-masked sample gives %g, Keras NaN", got);
                else
                    ck_assert_msg(near(got, (float)(sum / n)), "[%d][%d]: %g, naive %g", b, c,
                                  got, sum / n);
            }
        sq_tensor_free(&y);
        sq_session_free(s);
    }
    /* Masking's mask too, and GlobalMaxPooling1D ignores masks (Keras 2.6
     * gives it none) */
    sq_error err;
    sq_session *s = sq_session_new();
    long d[2] = { 4, 2 };
    ck_assert_int_eq(sq_input(s, 2, d, &err), 0);
    add_lines(s, "masking 0.5; globalaveragepooling1d");
    float x[2][4][2] = { { { 1, 2 }, { 0.5f, 0.5f }, { 3, -4 }, { 0.5f, 1 } },
                         { { 0.5f, 0.5f }, { -1, 6 }, { 0.5f, 0.5f }, { 0.5f, 0.5f } } };
    float want[2][2] = { { 1.5f, -1.0f / 3 }, { -1, 6 } };
    sq_tensor tx = { { 3, { 2, 4, 2 } }, &x[0][0][0] }, y;
    ck_assert_int_eq(sq_call(s, &tx, &y, &err), 0);
    for (int i = 0; i < 4; i++)
        ck_assert_msg(near(y.data[i], (&want[0][0])[i]), "masking: %g, naive %g", y.data[i],
                      (&want[0][0])[i]);
    sq_tensor_free(&y);
    ck_assert_int_eq(sq_model_new(s, NULL, &err), 0);
    ck_assert_int_eq(sq_input(s, 2, d, &err), 0);
    add_lines(s, "masking 0.5; globalmaxpooling1d");
    ck_assert_int_eq(sq_call(s, &tx, &y, &err), 0);
    /* Masking zeroes the masked steps */
    ck_assert(near(y.data[0], 3) && near(y.data[1], 2) && near(y.data[2], 0)
              && near(y.data[3], 6));
    sq_tensor_free(&y);
    sq_session_free(s);
}
END_TEST

/* Keras 2.6 drops a mask silently at a layer without mask support (Flatten,
 * Conv1D, GlobalMaxPooling1D: base_layer._set_mask_metadata returns at
 * once), but TimeDistributed asks the layer it wraps for the mask of each
 * step, and base_layer's compute_mask raises there. */
START_TEST(test_mask_errors)
{
    sq_error err;
    sq_session *s = sq_session_new();
    add_lines(s, "embedding 9 4 mask_zero=true input_length=6; flatten; dense 2");
    ck_assert_int_eq(sq_model_new(s, NULL, &err), 0);
    add_lines(s, "embedding 9 4 mask_zero=true input_length=6; conv1d 3 2; lstm 2");
    ck_assert_int_eq(sq_model_new(s, NULL, &err), 0);
    long d[3] = { 5, 4, 3 };
    ck_assert_int_eq(sq_input(s, 3, d, &err), 0);
    add_lines(s, "masking; timedistributed dense 2");
    char *before = sq_summary(s, &err);
    /* (flatten and conv1d were named in the models before) */
    add_fails(s, "timedistributed flatten", "Layer flatten_1 does not support masking, but was "
              "passed an input_mask: Tensor(shape=(None, 4), dtype=bool)");
    add_fails(s, "timedistributed conv1d 2 2", "Layer conv1d_1 does not support masking");
    char *after = sq_summary(s, &err);
    ck_assert_str_eq(before, after);
    free(before);
    free(after);
    /* Keras 2.6's Softmax layer adds its input's mask to the input, aligned
     * at the last axis: TensorFlow's error where the shapes differ */
    ck_assert_int_eq(sq_model_new(s, NULL, &err), 0);
    add_lines(s, "embedding 10 4 mask_zero=true input_length=7; dense 5");
    add_fails(s, "softmax", "Dimensions must be equal, but are 5 and 7 (layer softmax: Keras "
              "2.6's Softmax adds its input's mask, of shape (None, 7), to its input, of shape "
              "(None, 7, 5), aligned at the last axis; use the activation softmax instead, "
              "which takes no mask)");
    add_lines(s, "dense 7");
    add_fails(s, "softmax", "which puts the mask of one row on others");
    add_lines(s, "activation softmax; lstm 2; softmax");
    ck_assert_int_eq(sq_model_new(s, NULL, &err), 0);
    ck_assert_int_eq(sq_input(s, 3, d, &err), 0);
    add_lines(s, "masking; timedistributed dense 2");
    /* a wrapped layer that supports masking is fine */
    add_ok(s, "timedistributed globalaveragepooling1d");
    sq_mask_rule rule[3];
    ck_assert_int_eq(sq_model_mask_rules(s->model, rule), 1);
    ck_assert_int_eq(rule[2], SQ_MASK_MAKE);   /* any() of each step's mask */
    /* a model built by its first call has that call's batch, which Keras's
     * TimeDistributed.compute_mask then returns the mask for unasked */
    ck_assert_int_eq(sq_model_new(s, NULL, &err), 0);
    add_lines(s, "masking; timedistributed flatten");
    sq_tensor x, y;
    long xd[4] = { 2, 5, 4, 3 };
    ck_assert_int_eq(sq_tensor_generate(s, "ones", 4, xd, &x, &err), 0);
    ck_assert_msg(sq_call(s, &x, &y, &err) == 0, "%s", err.msg);
    sq_tensor_free(&x);
    sq_tensor_free(&y);
    sq_session_free(s);
}
END_TEST

/* The loss and metrics of a model whose output carries a mask, as Keras
 * 2.6 takes them (compile_utils.apply_mask: the mask is the sample weight,
 * or multiplies it; losses_utils.reduce_weighted_loss divides by every
 * step, masked or not; metrics are the masked steps' weighted means),
 * against naive sums over the predictions: evaluate, the loss fit reports
 * for its one full batch, val_loss, the step SGD makes on the last bias,
 * and targets at masked steps that change nothing. */
START_TEST(test_masked_loss)
{
    for (int weighted = 0; weighted < 2; weighted++) {
        sq_error err;
        sq_session *s = sq_session_new();
        sq_seed(s, 8);
        add_lines(s, "embedding 6 3 mask_zero=true input_length=5; lstm 4 return_sequences=true; "
                     "timedistributed dense 2");
        const char *k[1] = { "learning_rate" }, *v[1] = { "0.1" };
        ck_assert(sq_compile(s, "sgd", "mse", "mae", 1, k, v, &err) == 0);
        enum { B = 4, T = 5, D = 2 };
        float ids[B][T] = { { 1, 2, 0, 0, 0 }, { 0, 3, 4, 5, 1 }, { 2, 0, 2, 0, 2 },
                            { 5, 4, 3, 2, 1 } };
        float y[B][T][D], sw[B] = { 1, 2, 0.5f, 3 };
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T; t++)
                for (int j = 0; j < D; j++)
                    y[b][t][j] = (float)((b * 7 + t * 3 + j * 5) % 11) / 5.0f - 1;
        sq_tensor x = { { 2, { B, T } }, &ids[0][0] }, ty = { { 3, { B, T, D } }, &y[0][0][0] };
        sq_tensor pred;
        ck_assert_int_eq(sq_predict(s, &x, B, &pred, &err), 0);
        /* the naive masked loss, mae and the bias gradient */
        double loss = 0, mae = 0, wsum = 0, gb[D] = { 0 };
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T; t++) {
                double w = ids[b][t] != 0 ? (weighted ? sw[b] : 1) : 0, se = 0, ae = 0;
                for (int j = 0; j < D; j++) {
                    double e = pred.data[(b * T + t) * D + j] - y[b][t][j];
                    se += e * e / D;
                    ae += fabs(e) / D;
                    gb[j] += w * 2 * e / D / (B * T);
                }
                loss += w * se / (B * T);
                mae += w * ae;
                wsum += w;
            }
        mae /= wsum;
        /* targets at masked steps change nothing */
        for (int j = 0; j < D; j++)
            y[0][3][j] = y[2][1][j] = 100;
        double vals[2];
        const char *names[2];
        int n;
        if (!weighted) {
            ck_assert_msg(sq_evaluate(s, &x, &ty, B, 0, NULL, NULL, vals, names, 2, &n, &err) == 0,
                          "%s", err.msg);
            ck_assert_msg(fabs(vals[0] - loss) <= 1e-6 + 1e-5 * loss, "evaluate: loss %.9g, "
                          "naive %.9g", vals[0], loss);
            ck_assert_msg(fabs(vals[1] - mae) <= 1e-6 + 1e-5 * mae, "evaluate: mae %.9g, naive "
                          "%.9g", vals[1], mae);
        }
        /* one step on the whole batch; sample weights multiply the mask */
        float bias[D];
        const sq_layer *td = s->model->layers[2];
        memcpy(bias, s->model->params + td->param_off + 4 * D, sizeof bias);
        sq_tensor tsw = { { 1, { B } }, sw };
        sq_fit_opts o = { .epochs = 1, .batch_size = B, .shuffle = 0, .verbose = 0,
                          .val_x = weighted ? NULL : &x, .val_y = weighted ? NULL : &ty,
                          .sample_weights = weighted ? &tsw : NULL };
        ck_assert_msg(sq_fit(s, &x, &ty, &o, NULL, NULL, &err) == 0, "%s", err.msg);
        double h[1];
        ck_assert_int_eq(sq_history_values(s, "loss", h, 1), 1);
        ck_assert_msg(fabs(h[0] - loss) <= 1e-6 + 1e-5 * loss, "fit: loss %.9g, naive %.9g",
                      h[0], loss);
        ck_assert_int_eq(sq_history_values(s, "mae", h, 1), 1);
        ck_assert_msg(fabs(h[0] - mae) <= 1e-6 + 1e-5 * mae, "fit: mae %.9g, naive %.9g", h[0],
                      mae);
        if (!weighted) {
            /* validation on the same data after the step: evaluate's */
            double vl[1];
            ck_assert_int_eq(sq_history_values(s, "val_loss", vl, 1), 1);
            ck_assert_msg(sq_evaluate(s, &x, &ty, B, 0, NULL, NULL, vals, names, 2, &n, &err)
                          == 0, "%s", err.msg);
            ck_assert_msg(fabs(vl[0] - vals[0]) <= 1e-6 + 1e-5 * vals[0], "val_loss %.9g, "
                          "evaluate %.9g", vl[0], vals[0]);
        }
        for (int j = 0; j < D; j++) {
            double want = bias[j] - 0.1 * gb[j];
            float got = s->model->params[td->param_off + 4 * D + j];
            ck_assert_msg(fabs(got - want) <= 1e-6 + 1e-5 * fabs(want), "bias[%d] %.9g after "
                          "the step, naive %.9g", j, got, want);
        }
        sq_tensor_free(&pred);
        sq_session_free(s);
    }
}
END_TEST

/* Ids out of Embedding's range: TensorFlow's error in fit (training x or
 * validation data) and evaluate, before any step changes a weight (Keras
 * fails at the batch that holds one, after the steps before it). */
START_TEST(test_embedding_ids_checked)
{
    sq_error err;
    sq_session *s = sq_session_new();
    add_lines(s, "embedding 5 2 input_length=3; flatten; dense 1");
    ck_assert(sq_compile(s, "sgd", "mse", NULL, 0, NULL, NULL, &err) == 0);
    float good[4][3] = { { 0, 1, 2 }, { 3, 4, 0 }, { 1, 1, 1 }, { 2, 3, 4 } };
    float bad[4][3] = { { 0, 1, 2 }, { 3, 4, 0 }, { 1, 5, 1 }, { 2, 3, 4 } };
    float y[4] = { 1, 0, 1, 0 };
    sq_tensor xg = { { 2, { 4, 3 } }, &good[0][0] }, xb = { { 2, { 4, 3 } }, &bad[0][0] };
    sq_tensor ty = { { 2, { 4, 1 } }, y };
    size_t np = s->model->nparams;
    float *before = malloc(np * sizeof *before);
    memcpy(before, s->model->params, np * sizeof *before);
    sq_fit_opts o = { .epochs = 2, .batch_size = 1, .shuffle = 0, .verbose = 0 };
    ck_assert_int_eq(sq_fit(s, &xb, &ty, &o, NULL, NULL, &err), -1);
    ck_assert_str_eq(err.msg, "indices[2,1] = 5 is not in [0, 5) (layer embedding: ids must be "
                     "whole numbers from 0 to input_dim - 1)");
    o.val_x = &xb;
    o.val_y = &ty;
    ck_assert_int_eq(sq_fit(s, &xg, &ty, &o, NULL, NULL, &err), -1);
    ck_assert_msg(strstr(err.msg, "indices[2,1] = 5 is not in [0, 5)"), "%s", err.msg);
    ck_assert(!memcmp(before, s->model->params, np * sizeof *before));
    ck_assert_int_eq(sq_history_epochs(s), 0);
    double v[2];
    const char *names[2];
    int n;
    ck_assert_int_eq(sq_evaluate(s, &xb, &ty, 2, 0, NULL, NULL, v, names, 2, &n, &err), -1);
    ck_assert_msg(strstr(err.msg, "indices[2,1] = 5 is not in [0, 5)"), "%s", err.msg);
    free(before);
    sq_session_free(s);
}
END_TEST

/* A model with a fixed batch (a stateful one): fit, evaluate and predict
 * take any number of samples that is a multiple of it, in batches of it;
 * fit over 6 samples in order is three fits of 2 after one another (the
 * states carry on between batches); any other size is Keras's input error
 * for the first batch of another size, before anything changes. */
START_TEST(test_fixed_batch_multiples)
{
    sq_error err;
    sq_session *a = sq_session_new(), *b = sq_session_new();
    const char *k[1] = { "learning_rate" }, *v[1] = { "0.1" };
    for (int i = 0; i < 2; i++) {
        sq_session *s = i ? b : a;
        sq_seed(s, 6);
        add_lines(s, "lstm 3 stateful=true batch_input_shape=(2,3,2); dense 1");
        ck_assert(sq_compile(s, "sgd", "mse", NULL, 1, k, v, &err) == 0);
    }
    float x[7][3][2], y[7];
    for (int i = 0; i < 7; i++) {
        y[i] = (float)drand(-1, 1);
        for (int t = 0; t < 3; t++)
            for (int j = 0; j < 2; j++)
                x[i][t][j] = (float)drand(-1, 1);
    }
    sq_tensor x6 = { { 3, { 6, 3, 2 } }, &x[0][0][0] }, y6 = { { 2, { 6, 1 } }, y };
    sq_fit_opts o = { .epochs = 1, .batch_size = 2, .shuffle = 0, .verbose = 0 };
    ck_assert_msg(sq_fit(a, &x6, &y6, &o, NULL, NULL, &err) == 0, "%s", err.msg);
    for (int i = 0; i < 3; i++) {
        sq_tensor xi = { { 3, { 2, 3, 2 } }, &x[2 * i][0][0] }, yi = { { 2, { 2, 1 } }, y + 2 * i };
        ck_assert_msg(sq_fit(b, &xi, &yi, &o, NULL, NULL, &err) == 0, "%s", err.msg);
    }
    ck_assert_uint_eq(a->model->nparams, b->model->nparams);
    for (size_t i = 0; i < a->model->nparams; i++)
        ck_assert_msg(near(a->model->params[i], b->model->params[i]), "weight %zu: %g, %g", i,
                      a->model->params[i], b->model->params[i]);
    for (size_t i = 0; i < 6; i++)
        ck_assert(near(a->model->layers[0]->states[i], b->model->layers[0]->states[i]));
    double vals[1];
    const char *names[1];
    int n;
    ck_assert_msg(sq_evaluate(a, &x6, &y6, 2, 0, NULL, NULL, vals, names, 1, &n, &err) == 0,
                  "%s", err.msg);
    sq_tensor p;
    ck_assert_msg(sq_predict(a, &x6, 2, &p, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(p.shape.d[0], 6);
    sq_tensor_free(&p);
    /* 7 samples, or batches of 3 or 32: the first batch of another size */
    size_t np = a->model->nparams;
    float *w = malloc(np * sizeof *w), st[6];
    memcpy(w, a->model->params, np * sizeof *w);
    memcpy(st, a->model->layers[0]->states, sizeof st);
    sq_tensor x7 = { { 3, { 7, 3, 2 } }, &x[0][0][0] }, y7 = { { 2, { 7, 1 } }, y };
    ck_assert_int_eq(sq_fit(a, &x7, &y7, &o, NULL, NULL, &err), -1);
    ck_assert_str_eq(err.msg, "Input 0 of layer sequential is incompatible with the layer: "
                     "expected shape=(2, 3, 2), found shape=(1, 3, 2)");
    o.batch_size = 3;
    ck_assert_int_eq(sq_fit(a, &x6, &y6, &o, NULL, NULL, &err), -1);
    ck_assert_msg(strstr(err.msg, "found shape=(3, 3, 2)"), "%s", err.msg);
    o.batch_size = 2;
    o.val_x = &x7;
    o.val_y = &y7;
    ck_assert_int_eq(sq_fit(a, &x6, &y6, &o, NULL, NULL, &err), -1);
    ck_assert_msg(strstr(err.msg, "found shape=(1, 3, 2)"), "%s", err.msg);
    o.val_x = o.val_y = NULL;
    o.validation_split = 0.5;   /* 3 and 3 */
    ck_assert_int_eq(sq_fit(a, &x6, &y6, &o, NULL, NULL, &err), -1);
    ck_assert_msg(strstr(err.msg, "found shape=(1, 3, 2)"), "%s", err.msg);
    ck_assert_int_eq(sq_evaluate(a, &x6, &y6, 32, 0, NULL, NULL, vals, names, 1, &n, &err), -1);
    ck_assert_msg(strstr(err.msg, "found shape=(6, 3, 2)"), "%s", err.msg);
    ck_assert_int_eq(sq_predict(a, &x7, 2, &p, &err), -1);
    ck_assert_msg(strstr(err.msg, "found shape=(1, 3, 2)"), "%s", err.msg);
    ck_assert(!memcmp(w, a->model->params, np * sizeof *w));
    ck_assert(!memcmp(st, a->model->layers[0]->states, sizeof st));
    free(w);
    sq_session_free(a);
    sq_session_free(b);
}
END_TEST

static Suite *rnn_suite(void)
{
    Suite *su = suite_create("rnn");
    TCase *tc = tcase_create("forward");
    tcase_add_loop_test(tc, test_forward_vs_torch, 0, NCASES);
    tcase_add_loop_test(tc, test_forward_two_threads, 0, NCASES);
    suite_add_tcase(su, tc);
    tc = tcase_create("gradients");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, test_gradients, 0, NGRAD);
    tcase_add_test(tc, test_gradient_check_bites);
    tcase_add_test(tc, test_bidirectional_go_backwards);
    suite_add_tcase(su, tc);
    tc = tcase_create("behaviour");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_stateful_across_calls);
    tcase_add_test(tc, test_stateful_needs_batch);
    tcase_add_test(tc, test_cell_counters);
    tcase_add_test(tc, test_shapes_and_params);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_save_load_round_trip);
    tcase_add_test(tc, test_nested_wrappers);
    tcase_add_test(tc, test_fit_masked);
    tcase_add_test(tc, test_mask_passes_through);
    tcase_add_test(tc, test_global_average_masked);
    tcase_add_test(tc, test_mask_errors);
    tcase_add_test(tc, test_masked_loss);
    tcase_add_test(tc, test_embedding_ids_checked);
    tcase_add_test(tc, test_fixed_batch_multiples);
    tcase_add_test(tc, test_faults);
    suite_add_tcase(su, tc);
    return su;
}

int main(void)
{
    return run_suite(rnn_suite());
}
