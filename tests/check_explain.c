/* check_explain.c - `explain` and `summary macs|memory`: multiply-
 * accumulates, output and weight bytes against counts written out by hand
 * in the tests; every equation explain prints evaluated by an independent
 * little calculator here (for every layer kind's example and more); the
 * summary's extra columns and torchinfo footer against the hand counts. */
#include <check.h>
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "test_util.h"
#include "layers/layer.h"

/* Runs "input ...; add ...; add ..." in a fresh session. */
static sq_session *build(const char *script)
{
    sq_session *s = sq_session_new();
    sq_error e;
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", script);
    sq_seed(s, 1);
    for (char *save = NULL, *cmd = strtok_r(buf, ";", &save); cmd; cmd = strtok_r(NULL, ";", &save)) {
        while (*cmd == ' ')
            cmd++;
        if (!strncmp(cmd, "input ", 6)) {
            long dims[SQ_MAX_RANK];
            int n = 0;
            for (char *p = cmd + 6; *p && n < SQ_MAX_RANK;) {
                char *end;
                dims[n++] = strtol(p, &end, 10);
                ck_assert_ptr_ne(end, p);
                p = end;
                while (*p == ' ')
                    p++;
            }
            ck_assert_msg(sq_input(s, n, dims, &e) == 0, "%s: %s", cmd, e.msg);
        } else {
            ck_assert_msg(!strncmp(cmd, "add ", 4), "can't run '%s'", cmd);
            ck_assert_msg(add_line(s, cmd + 4, &e) == 0, "%s: %s", cmd, e.msg);
        }
    }
    return s;
}

static size_t macs_of(sq_session *s, int i)
{
    sq_layer_cost c;
    ck_assert_int_eq(sq_layer_cost_get(s, i, &c), 0);
    return c.macs;
}

/* ---- multiply-accumulates against hand counts ----------------------------- */

START_TEST(macs_by_hand)
{
    static const struct {
        const char *script;
        size_t macs;   /* of the last layer, written out by hand */
    } cases[] = {
        /* the seed's first layer: 123x123x32 outputs, each 5*5*3 products */
        { "input 250 250 3; add conv2d 32 5 strides=2 relu", 123UL * 123 * 32 * (5 * 5 * 3) },
        { "input 250 250 3; add conv2d 32 5 strides=2; add conv2d 32 3",
          121UL * 121 * 32 * (3 * 3 * 32) },
        /* same padding, dilation: the output keeps 28x28 */
        { "input 28 28 1; add conv2d 8 3 padding=same dilation_rate=2",
          28UL * 28 * 8 * (3 * 3 * 1) },
        { "input 28 28 1; add conv2d 8 3 strides=2 padding=same use_bias=false",
          14UL * 14 * 8 * 9 },
        { "input 784; add dense 128", 128UL * 784 },
        /* Dense on each of 10 steps */
        { "input 10 64; add dense 128 use_bias=false", 10UL * 128 * 64 },
        { "input 100 8; add conv1d 16 5 padding=causal dilation_rate=2", 100UL * 16 * 5 * 8 },
        { "input 100 8; add conv1d 16 5 strides=3", 32UL * 16 * 5 * 8 },
        /* one folded scale per value */
        { "input 8 8 3; add batchnormalization", 8UL * 8 * 3 },
        { "input 10 16; add layernormalization", 10UL * 16 },
        { "input 10 16; add layernormalization scale=false", 0 },
        { "input 6 5; add prelu", 6UL * 5 },
        /* recurrent: each of T steps, gates * units dot products over d + units */
        { "input 10 8; add simplernn 16", 10UL * 16 * (8 + 16) },
        { "input 10 8; add lstm 16 return_sequences=true", 10UL * 4 * 16 * (8 + 16) },
        { "input 12 5; add gru 7", 12UL * 3 * 7 * (5 + 7) },
        { "input 12 5; add gru 7 reset_after=false", 12UL * 3 * 7 * (5 + 7) },
        /* two copies of the wrapped layer */
        { "input 6 3; add bidirectional lstm 4 merge_mode=sum", 2UL * 6 * 4 * 4 * (3 + 4) },
        { "input 6 3; add bidirectional simplernn 5 return_sequences=true",
          2UL * 6 * 5 * (3 + 5) },
        /* the wrapped layer on each step */
        { "input 7 4 4 2; add timedistributed conv2d 3 3", 7UL * (2 * 2 * 3) * (3 * 3 * 2) },
        { "input 9 6; add timedistributed dense 4", 9UL * 4 * 6 },
        /* one channel's window per output value; out 14x14x(3*2) */
        { "input 16 16 3; add depthwiseconv2d 3 depth_multiplier=2", 14UL * 14 * 6 * 9 },
        { "input 16 16 3; add depthwiseconv2d 5 strides=2 padding=same", 8UL * 8 * 3 * 25 },
        /* depthwise 12x12x(6*2) windows, then 12x12x8 dot products of 12 */
        { "input 14 14 6; add separableconv2d 8 3 depth_multiplier=2",
          12UL * 12 * 12 * 9 + 12UL * 12 * 8 * 12 },
        /* every input value times every tap for every filter */
        { "input 12 12 8; add conv2dtranspose 4 3 strides=2", 12UL * 12 * 8 * 9 * 4 },
        { "input 5 5 2; add conv2dtranspose 3 2 padding=same", 5UL * 5 * 2 * 4 * 3 },
        /* a lookup multiplies nothing */
        { "input 10; add embedding 100 8", 0 },
        /* weightless layers count nothing */
        { "input 8 8 3; add maxpooling2d 2", 0 },
        { "input 9 9 2; add averagepooling2d 3 strides=2", 0 },
        { "input 4 4 3; add flatten", 0 },
        { "input 10; add dropout 0.5", 0 },
        { "input 10; add activation softmax", 0 },
        { "input 8 8 3; add rescaling 0.5", 0 },
        { "input 6 6 4; add globalaveragepooling2d", 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sq_session *s = build(cases[i].script);
        int last = sq_layer_count(s) - 1;
        ck_assert_msg(macs_of(s, last) == cases[i].macs, "%s: %zu mult-adds, by hand %zu",
                      cases[i].script, macs_of(s, last), cases[i].macs);
        sq_session_free(s);
    }
}
END_TEST

START_TEST(costs_bytes_by_hand)
{
    sq_session *s = build("input 250 250 3; add conv2d 32 5 strides=2 relu; add maxpooling2d 3");
    sq_layer_cost c;
    ck_assert_int_eq(sq_layer_cost_get(s, 0, &c), 0);
    ck_assert_uint_eq(c.out_bytes, 123UL * 123 * 32 * 4);
    ck_assert_uint_eq(c.param_bytes, (5UL * 5 * 3 * 32 + 32) * 4);
    ck_assert_int_eq(sq_layer_cost_get(s, 1, &c), 0);
    ck_assert_uint_eq(c.out_bytes, 41UL * 41 * 32 * 4);
    ck_assert_uint_eq(c.param_bytes, 0);
    ck_assert_int_eq(sq_layer_cost_get(s, 2, &c), -1);
    sq_session_free(s);
    /* an unbuilt model has no costs */
    s = sq_session_new();
    sq_error e;
    ck_assert_int_eq(add_line(s, "dense 4", &e), 0);
    ck_assert_int_eq(sq_layer_cost_get(s, 0, &c), -1);
    sq_session_free(s);
}
END_TEST

/* A nested model (add model) costs what its layers cost together. */
START_TEST(macs_of_nested_model)
{
    char dir[] = "/tmp/seqsh-explain-XXXXXX", path[64];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/base.seqm", dir);
    sq_session *s = build("input 28 28 1; add conv2d 8 3; add flatten; add dense 10");
    sq_error e;
    ck_assert_msg(sq_save(s, path, &e) == 0, "%s", e.msg);
    sq_session_free(s);
    s = build("input 28 28 1");
    ck_assert_msg(sq_add_model(s, path, NULL, -1, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(add_line(s, "dense 2", &e), 0);
    ck_assert_int_eq(sq_layer_count(s), 2);
    ck_assert_uint_eq(macs_of(s, 0), 26UL * 26 * 8 * 9 + 10UL * (26 * 26 * 8));
    ck_assert_uint_eq(macs_of(s, 1), 2UL * 10);
    char *t = sq_explain(s, NULL, &e);
    ck_assert_ptr_nonnull(t);
    ck_assert_msg(strstr(t, "a model of 3 layers:\n  conv2d (Conv2D): (None, 28, 28, 1) -> "
                         "(None, 26, 26, 8)\n    rows:") != NULL, "%s", t);
    free(t);
    sq_session_free(s);
    unlink(path);
    rmdir(dir);
}
END_TEST

/* ---- a little calculator for explain's equations -------------------------
 * integers, + - * /, parentheses, floor( ) and ceil( ); division is exact
 * (real), so floor((250 - 5) / 2) is 122. Returns 0 on success, -1 when
 * the text is not such an expression (it names a word: "32 = filters"). */
typedef struct {
    const char *p;
    int bad;
} calc;

static double expr(calc *c);

static void blanks(calc *c)
{
    while (*c->p == ' ')
        c->p++;
}

static double atom(calc *c)
{
    blanks(c);
    if (!strncmp(c->p, "floor(", 6) || !strncmp(c->p, "ceil(", 5)) {
        int fl = c->p[0] == 'f';
        c->p += fl ? 6 : 5;
        double v = expr(c);
        blanks(c);
        if (*c->p != ')')
            c->bad = 1;
        else
            c->p++;
        return fl ? floor(v) : ceil(v);
    }
    if (*c->p == '(') {
        c->p++;
        double v = expr(c);
        blanks(c);
        if (*c->p != ')')
            c->bad = 1;
        else
            c->p++;
        return v;
    }
    if (*c->p == '-') {
        c->p++;
        return -atom(c);
    }
    if (!isdigit((unsigned char)*c->p)) {
        c->bad = 1;
        return 0;
    }
    char *end;
    double v = strtod(c->p, &end);
    c->p = end;
    return v;
}

static double term(calc *c)
{
    double v = atom(c);
    for (;;) {
        blanks(c);
        if (*c->p == '*') {
            c->p++;
            v *= atom(c);
        } else if (*c->p == '/') {
            c->p++;
            v /= atom(c);
        } else {
            return v;
        }
    }
}

static double expr(calc *c)
{
    double v = term(c);
    for (;;) {
        blanks(c);
        /* "a - b" only: a '-' glued to a digit is a sign, handled in atom */
        if (*c->p == '+') {
            c->p++;
            v += term(c);
        } else if (c->p[0] == '-' && c->p[1] == ' ') {
            c->p++;
            v -= term(c);
        } else {
            return v;
        }
    }
}

/* text "LHS = EXPR[  (note)]": 1 when it is an equation that holds, 0 when
 * it is not an equation of numbers, and fails the test when it is false. */
static int check_equation(const char *line, const char *text)
{
    char *end;
    double lhs = strtod(text, &end);
    if (end == text || strncmp(end, " = ", 3))
        return 0;
    char rhs[512];
    const char *stop = strstr(end + 3, "  (");
    size_t n = stop ? (size_t)(stop - end - 3) : strlen(end + 3);
    if (n >= sizeof rhs)
        n = sizeof rhs - 1;
    memcpy(rhs, end + 3, n);
    rhs[n] = '\0';
    /* "2432 = (5*5*3 + 1) * 32", also chains "48 = 4*3*4 = 6*8" */
    int checked = 0;
    for (char *part = rhs, *next; part; part = next) {
        next = strstr(part, " = ");
        if (next) {
            *next = '\0';
            next += 3;
        }
        calc c = { part, 0 };
        double v = expr(&c);
        blanks(&c);
        if (c.bad || *c.p)
            return checked;
        ck_assert_msg(fabs(v - lhs) < 1e-9, "explain says '%s', but %s is %g", line, part, v);
        checked = 1;
    }
    return checked;
}

START_TEST(calculator_works)
{
    ck_assert_int_eq(check_equation("", "123 = floor((250 - 5) / 2) + 1"), 1);
    ck_assert_int_eq(check_equation("", "14 = ceil(28 / 2)"), 1);
    ck_assert_int_eq(check_equation("", "4 = 48 / (3*4)"), 1);
    ck_assert_int_eq(check_equation("", "2432 = (5*5*3 + 1) * 32  (note)"), 1);
    ck_assert_int_eq(check_equation("", "32 = filters"), 0);
    ck_assert_int_eq(check_equation("", "the same as the input"), 0);
}
END_TEST

/* Every equation of explain's text holds; returns how many there were.
 * The params line's left side is the layer's count and the mult-adds
 * line's the cost sq_layer_cost_get reports. */
static int check_explained(sq_session *s, const char *what)
{
    sq_error e;
    char *t = sq_explain(s, NULL, &e);
    ck_assert_msg(t != NULL, "%s: %s", what, e.msg);
    int n = 0, entry = -1;
    char *save = NULL;
    for (char *line = strtok_r(t, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (line[0] != ' ' && strstr(line, ") -> ("))
            entry++;
        const char *colon = strchr(line, ':');
        if (!colon)
            continue;
        const char *text = colon + 1;
        while (*text == ' ')
            text++;
        n += check_equation(line, text);
        if (entry < 0 || line[0] != ' ' || line[2] == ' ')
            continue;   /* only the lines of a top-level layer */
        sq_layer_info li;
        sq_layer_cost c;
        ck_assert_int_eq(sq_layer_get(s, entry, &li), 0);
        ck_assert_int_eq(sq_layer_cost_get(s, entry, &c), 0);
        if (!strncmp(line, "  params:", 9))
            ck_assert_msg(strtoul(text, NULL, 10) == li.params, "%s: '%s' for %zu params", what,
                          line, li.params);
        if (!strncmp(line, "  mult-adds:", 12))
            ck_assert_msg(strtoul(text, NULL, 10) == c.macs, "%s: '%s' for %zu mult-adds",
                          what, line, c.macs);
    }
    free(t);
    return n;
}

/* Every kind's help example, explained: the equations hold. */
START_TEST(every_kind_explains_true_arithmetic)
{
    for (int i = 0; sq_kinds[i]; i++) {
        sq_session *s = build(sq_kinds[i]->example);
        check_explained(s, sq_kinds[i]->example);
        sq_session_free(s);
    }
}
END_TEST

START_TEST(explained_models)
{
    static const char *const scripts[] = {
        "input 250 250 3; add conv2d 32 5 strides=2 relu; add conv2d 32 3 relu; add maxpooling2d 3",
        "input 28 28 1; add conv2d 8 3 padding=same dilation_rate=2; add conv2d 4 5 strides=2,3 "
        "padding=same use_bias=false; add averagepooling2d 2,3 strides=1; add flatten; "
        "add dense 10 softmax",
        "input 48; add reshape 4,-1,2; add reshape (-1,); add dense 3 use_bias=false",
        "input 100 8; add conv1d 16 5 padding=causal dilation_rate=2; add conv1d 4 3 strides=2; "
        "add maxpooling1d 3 strides=2 padding=same; add upsampling1d 2; add zeropadding1d (1,2); "
        "add cropping1d 3; add globalmaxpooling1d keepdims=true",
        "input 6 4; add permute 2,1; add layernormalization center=false; add prelu shared_axes=1",
        "input 8 8 3; add batchnormalization scale=false; add globalaveragepooling2d; "
        "add repeatvector 3; add dense 2",
    };
    for (size_t i = 0; i < sizeof scripts / sizeof scripts[0]; i++) {
        sq_session *s = build(scripts[i]);
        ck_assert_msg(check_explained(s, scripts[i]) >= sq_layer_count(s), "%s: too few "
                      "equations", scripts[i]);
        sq_session_free(s);
    }
}
END_TEST

/* The example, word for word. */
START_TEST(explain_seed_text)
{
    sq_session *s = build("input 250 250 3; add conv2d 32 5 strides=2 relu");
    sq_error e;
    char *t = sq_explain(s, "conv2d", &e);
    ck_assert_ptr_nonnull(t);
    ck_assert_msg(strstr(t, "conv2d (Conv2D): (None, 250, 250, 3) -> (None, 123, 123, 32)\n"
                         "  rows:      123 = floor((250 - 5) / 2) + 1  (") == t, "%s", t);
    ck_assert_ptr_nonnull(strstr(t, "\n  params:    2432 = (5*5*3 + 1) * 32  ("));
    ck_assert_ptr_nonnull(strstr(t, "\n  mult-adds: 36309600 = 123*123*32 * 5*5*3  ("));
    free(t);
    /* by index, and from the end */
    t = sq_explain(s, "-1", &e);
    ck_assert_ptr_nonnull(t);
    ck_assert(!strncmp(t, "conv2d (Conv2D)", 15));
    free(t);
    ck_assert_ptr_null(sq_explain(s, "nope", &e));
    ck_assert_str_eq(e.msg, "No such layer: nope. Existing layers are: ['conv2d'].");
    sq_session_free(s);
    /* not built: Keras's summary message */
    s = sq_session_new();
    ck_assert_int_eq(add_line(s, "dense 4", &e), 0);
    ck_assert_ptr_null(sq_explain(s, NULL, &e));
    ck_assert(!strncmp(e.msg, "This model has not yet been built.", 34));
    sq_session_free(s);
}
END_TEST

/* A kind without its own explain and macs (those to come on other
 * branches) gets the generic ones: its weights' shapes and their
 * products, one dot product per output value for a kernel. */
START_TEST(generic_explain)
{
    sq_error e;
    sq_shape given, in = { 4, { -1, 28, 28, 1 } }, out = { 4, { -1, 26, 26, 8 } };
    char *argv[] = { "8", "3" };
    sq_layer *conv = sq_layer_create(sq_kind_find("conv2d"), 2, argv, &given, &e);
    ck_assert_ptr_nonnull(conv);
    sbuf b = { 0 };
    sq_explain_generic(conv, &in, &out, &b);
    sb_printf(&b, "mult-adds: ");
    size_t macs = sq_macs_generic(conv, &in, &out, &b);
    char *t = sb_finish(&b, &e);
    ck_assert_msg(strstr(t, "  params:    80 = 3*3*1*8 + 8  (kernel (3, 3, 1, 8), bias (8,))\n")
                  != NULL, "%s", t);
    ck_assert_msg(strstr(t, "mult-adds: 48672 = 26*26*8 * 3*3*1") != NULL, "%s", t);
    ck_assert_uint_eq(macs, 26UL * 26 * 8 * 9);
    ck_assert_ptr_nonnull(strstr(t, "rule:      (B, H, W, C) -> "));
    free(t);
    sq_layer_free(conv);
    /* weightless and unchanged */
    sq_layer *fl = sq_layer_create(sq_kind_find("dropout"), 1, (char *[]){ "0.5" }, &given, &e);
    ck_assert_ptr_nonnull(fl);
    sbuf c = { 0 };
    sq_explain_generic(fl, &out, &out, &c);
    ck_assert_uint_eq(sq_macs_generic(fl, &out, &out, NULL), 0);
    t = sb_finish(&c, &e);
    ck_assert_str_eq(t, "  shape:     the same as the input\n  params:    0  (no weights)\n");
    free(t);
    sq_layer_free(fl);
}
END_TEST

/* ---- summary macs / memory ---------------------------------------------- */

static int count_lines(const char *t, const char *prefix)
{
    int n = 0;
    for (const char *p = t; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        n += !strncmp(p, prefix, strlen(prefix));
    return n;
}

START_TEST(summary_columns)
{
    sq_session *s = build("input 250 250 3; add conv2d 32 5 strides=2 relu; add conv2d 32 3 relu; "
                          "add maxpooling2d 3");
    sq_error e;
    char *plain = sq_summary(s, &e), *zero = sq_summary_columns(s, 0, &e);
    ck_assert_str_eq(plain, zero);
    free(zero);
    size_t m1 = 123UL * 123 * 32 * 75, m2 = 121UL * 121 * 32 * 288;
    char *t = sq_summary_columns(s, SQ_SUMMARY_MACS, &e);
    ck_assert_ptr_nonnull(t);
    ck_assert_msg(strstr(t, "Layer (type)                 Output Shape              Param #   "
                         "Mult-Adds         \n") != NULL, "%s", t);
    ck_assert_ptr_nonnull(strstr(t, "\nconv2d (Conv2D)              (None, 123, 123, 32)      "
                                    "2432      36,309,600        \n"));
    ck_assert_ptr_nonnull(strstr(t, "\nconv2d_1 (Conv2D)            (None, 121, 121, 32)      "
                                    "9248      134,931,456       \n"));
    char want[64];
    snprintf(want, sizeof want, "\nTotal mult-adds (M): %.2f\n", (double)(m1 + m2) / 1e6);
    ck_assert_ptr_nonnull(strstr(t, want));
    ck_assert_ptr_nonnull(strstr(t, "\nNon-trainable params: 0\nTotal mult-adds"));
    ck_assert_int_eq(count_lines(t, "Input size"), 0);
    /* every rule and row as wide as the table */
    for (const char *p = strchr(t, '\n') + 1; *p; p = strchr(p, '\n') + 1) {
        size_t len = (size_t)(strchr(p, '\n') - p);
        if (p[0] == '_' || p[0] == '=' || !strncmp(p, "Layer", 5) || !strncmp(p, "conv2d", 6)
            || !strncmp(p, "max_", 4))
            ck_assert_uint_eq(len, 65 + 18);
    }
    free(t);
    t = sq_summary_columns(s, SQ_SUMMARY_MEMORY, &e);
    ck_assert_ptr_nonnull(strstr(t, "Param #   Output Memory  Param Memory  \n"));
    ck_assert_ptr_nonnull(strstr(t, "2432      1.94 MB        9.73 KB       \n"));
    ck_assert_ptr_nonnull(strstr(t, "0         204.80 KB      0 B           \n"));
    double in = 250.0 * 250 * 3 * 4, fb = 2.0 * 4 * (123 * 123 * 32 + 121 * 121 * 32),
           par = 4.0 * 11680;
    char foot[256];
    snprintf(foot, sizeof foot, "\nInput size (MB): %.2f\nForward/backward pass size (MB): %.2f\n"
             "Params size (MB): %.2f\nEstimated Total Size (MB): %.2f\n", in / 1e6, fb / 1e6,
             par / 1e6, (in + fb + par) / 1e6);
    ck_assert_msg(strstr(t, foot) != NULL, "%s\nwanted%s", t, foot);
    ck_assert_int_eq(count_lines(t, "Total mult-adds"), 0);
    free(t);
    t = sq_summary_columns(s, SQ_SUMMARY_MACS | SQ_SUMMARY_MEMORY, &e);
    ck_assert_ptr_nonnull(strstr(t, "Param #   Mult-Adds         Output Memory  Param Memory  \n"));
    ck_assert_int_eq(count_lines(t, "Total mult-adds (M)"), 1);
    ck_assert_int_eq(count_lines(t, "Estimated Total Size (MB)"), 1);
    free(t);
    free(plain);
    sq_session_free(s);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("explain");
    TCase *tc = tcase_create("explain");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, macs_by_hand);
    tcase_add_test(tc, costs_bytes_by_hand);
    tcase_add_test(tc, macs_of_nested_model);
    tcase_add_test(tc, calculator_works);
    tcase_add_test(tc, every_kind_explains_true_arithmetic);
    tcase_add_test(tc, explained_models);
    tcase_add_test(tc, explain_seed_text);
    tcase_add_test(tc, generic_explain);
    tcase_add_test(tc, summary_columns);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(suite());
}
