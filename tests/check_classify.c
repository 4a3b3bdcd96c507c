/* check_classify.c - predictions people can read: predict's classes
 * (engine/classify.c) against a naive argmax and threshold, the confusion
 * matrix against a naive count of the same predictions and against
 * evaluate's accuracy, and the outputs written by save= (engine/io/
 * outputs.c) read back: CSV through the data reader, .npy/.npz as int64
 * or float32, unknown extensions refused without writing a file. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "seqsh/engine.h"
#include "test_util.h"

static char tmpdir[512];

static const char *tmp_path(const char *name)
{
    static char buf[1024];
    snprintf(buf, sizeof buf, "%s/%s", tmpdir, name);
    return buf;
}

static void run(sq_session *s, const char *line)
{
    sq_error e;
    ck_assert_msg(add_line(s, line, &e) == 0, "add %s: %s", line, e.msg);
}

/* Random inputs of shape (n, d) and labels 0..k-1, from a small LCG. */
static void fill(sq_tensor *x, long n, long d, sq_tensor *y, long k, unsigned seed)
{
    x->shape = (sq_shape){ 2, { n, d } };
    x->data = malloc((size_t)(n * d) * sizeof(float));
    y->shape = (sq_shape){ 1, { n } };
    y->data = malloc((size_t)n * sizeof(float));
    ck_assert(x->data && y->data);
    for (long i = 0; i < n * d; i++) {
        seed = seed * 1103515245u + 12345u;
        x->data[i] = (float)((seed >> 8) & 0xffff) / 65536.0f * 4.0f - 2.0f;
    }
    for (long i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        y->data[i] = (float)((seed >> 16) % (unsigned)k);
    }
}

/* The index of the first largest value, written out plainly. */
static long naive_argmax(const float *v, long n)
{
    long best = 0;
    for (long j = 0; j < n; j++)
        if (v[j] > v[best])
            best = j;
    return best;
}

static double accuracy_of(sq_session *s, const sq_tensor *x, const sq_tensor *y)
{
    double v[4];
    const char *names[4];
    int n;
    sq_error e;
    ck_assert_msg(sq_evaluate(s, x, y, 7, 0, NULL, NULL, v, names, 4, &n, &e) == 0, "%s",
                  e.msg);
    ck_assert_int_eq(n, 2);
    ck_assert_str_eq(names[1], "accuracy");
    return v[1];
}

/* Several classes, labels as indices and as one-hot rows. */
START_TEST(test_confusion_multiclass)
{
    sq_session *s = sq_session_new();
    sq_error e;
    sq_seed(s, 5);
    ck_assert(sq_input(s, 1, (long[]){ 6 }, &e) == 0);
    run(s, "dense 16 relu");
    run(s, "dense 4 softmax");
    char *words[] = { "optimizer=sgd", "loss=sparse_categorical_crossentropy",
                      "metrics=accuracy" };
    ck_assert_msg(sq_compile_words(s, 3, words, &e) == 0, "%s", e.msg);
    sq_tensor x, y, p;
    fill(&x, 101, 6, &y, 4, 7);
    ck_assert(sq_predict(s, &x, 32, &p, &e) == 0);
    long want[16] = { 0 };
    for (long i = 0; i < 101; i++)
        want[(long)y.data[i] * 4 + naive_argmax(p.data + 4 * i, 4)]++;
    sq_confusion_matrix cm;
    ck_assert_msg(sq_confusion(s, &x, &y, 10, &cm, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(cm.nclasses, 4);
    ck_assert_int_eq(cm.total, 101);
    long diag = 0;
    for (int i = 0; i < 16; i++)
        ck_assert_msg(cm.counts[i] == want[i], "cell %d: %ld, naive %ld", i, cm.counts[i],
                      want[i]);
    for (int i = 0; i < 4; i++)
        diag += cm.counts[i * 5];
    /* evaluate's accuracy is a float32-accumulated mean: 1e-6 covers it */
    ck_assert_msg(fabs(accuracy_of(s, &x, &y) - (double)diag / 101) < 1e-6,
                  "diagonal %ld/101 vs evaluate's accuracy", diag);
    sq_confusion_free(&cm);

    /* the same labels one-hot, with categorical_crossentropy */
    sq_tensor oh = { { 2, { 101, 4 } }, calloc(404, sizeof(float)) };
    for (long i = 0; i < 101; i++)
        oh.data[i * 4 + (long)y.data[i]] = 1.0f;
    char *words2[] = { "optimizer=sgd", "loss=categorical_crossentropy", "metrics=accuracy" };
    ck_assert(sq_compile_words(s, 3, words2, &e) == 0);
    ck_assert_msg(sq_confusion(s, &x, &oh, 32, &cm, &e) == 0, "%s", e.msg);
    for (int i = 0; i < 16; i++)
        ck_assert_int_eq(cm.counts[i], want[i]);
    ck_assert(fabs(accuracy_of(s, &x, &oh) - (double)diag / 101) < 1e-6);
    sq_confusion_free(&cm);

    /* classes=true is the same argmax */
    sq_tensor c;
    ck_assert(sq_classes(&p, &c, &e) == 0);
    ck_assert_int_eq(c.shape.rank, 1);
    ck_assert_int_eq(c.shape.d[0], 101);
    for (long i = 0; i < 101; i++)
        ck_assert(c.data[i] == (float)naive_argmax(p.data + 4 * i, 4));
    sq_tensor_free(&c);

    /* labels that are not classes: Keras's message, nothing counted */
    y.data[50] = 4.0f;
    ck_assert(sq_confusion(s, &x, &y, 32, &cm, &e) == -1);
    ck_assert_str_eq(e.msg, "Received a label value of 4 which is outside the valid range "
                     "of [0, 4).");
    sq_tensor_free(&x);
    sq_tensor_free(&y);
    sq_tensor_free(&oh);
    sq_tensor_free(&p);
    sq_session_free(s);
}
END_TEST

/* One sigmoid output: class 1 above 0.5, as binary_accuracy. */
START_TEST(test_confusion_binary)
{
    sq_session *s = sq_session_new();
    sq_error e;
    sq_seed(s, 11);
    ck_assert(sq_input(s, 1, (long[]){ 3 }, &e) == 0);
    run(s, "dense 1 sigmoid");
    char *words[] = { "optimizer=adam", "loss=binary_crossentropy", "metrics=accuracy" };
    ck_assert(sq_compile_words(s, 3, words, &e) == 0);
    sq_tensor x, y, p;
    fill(&x, 64, 3, &y, 2, 3);
    ck_assert(sq_predict(s, &x, 32, &p, &e) == 0);
    long want[4] = { 0 }, diag;
    int both = 0;
    for (long i = 0; i < 64; i++) {
        int pred = p.data[i] > 0.5f;
        want[(long)y.data[i] * 2 + pred]++;
    }
    for (int i = 0; i < 4; i++)
        both += want[i] > 0;
    ck_assert_msg(both >= 3, "the test data should fill most cells");
    sq_confusion_matrix cm;
    ck_assert_msg(sq_confusion(s, &x, &y, 32, &cm, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(cm.nclasses, 2);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(cm.counts[i], want[i]);
    diag = cm.counts[0] + cm.counts[3];
    ck_assert(fabs(accuracy_of(s, &x, &y) - (double)diag / 64) < 1e-6);
    sq_confusion_free(&cm);
    sq_tensor c;
    ck_assert(sq_classes(&p, &c, &e) == 0);
    ck_assert_int_eq(c.shape.rank, 2);     /* Keras keeps (N, 1) */
    for (long i = 0; i < 64; i++)
        ck_assert(c.data[i] == (p.data[i] > 0.5f ? 1.0f : 0.0f));
    sq_tensor_free(&c);
    sq_tensor_free(&x);
    sq_tensor_free(&y);
    sq_tensor_free(&p);
    sq_session_free(s);
}
END_TEST

/* The text: aligned, precision and recall from the counts. */
START_TEST(test_confusion_text)
{
    long counts[9] = { 5, 0, 1, 2, 3, 0, 0, 0, 0 };
    sq_confusion_matrix cm = { 3, counts, 11 };
    sq_error e;
    char *t = sq_confusion_text(&cm, &e);
    ck_assert_ptr_nonnull(t);
    ck_assert_str_eq(t,
        "Confusion matrix: 11 samples; a row is the true class, a column the predicted one\n"
        "true\\pred    0    1    2\n"
        "        0    5    0    1\n"
        "        1    2    3    0\n"
        "        2    0    0    0\n"
        "\n"
        "class  precision  recall  support\n"
        "    0     0.7143  0.8333        6\n"
        "    1     1.0000  0.6000        5\n"
        "    2     0.0000       -        0\n"
        "\n"
        "accuracy: 0.7273 (8 of 11)\n");
    free(t);
}
END_TEST

/* A failing confusion leaves an unbuilt model unbuilt. */
START_TEST(test_confusion_changes_nothing)
{
    sq_session *s = sq_session_new();
    sq_error e;
    run(s, "dense 3 softmax");
    sq_tensor x, y;
    fill(&x, 5, 2, &y, 3, 1);
    y.data[0] = 7;
    sq_rng_state before = sq_rng_get(s);
    sq_confusion_matrix cm;
    ck_assert(sq_confusion(s, &x, &y, 32, &cm, &e) == -1);
    ck_assert(!sq_model_is_built(s));
    sq_rng_state after = sq_rng_get(s);
    ck_assert(!memcmp(&before, &after, sizeof before));
    sq_tensor_free(&x);
    sq_tensor_free(&y);
    sq_session_free(s);
}
END_TEST

/* ---- save= ------------------------------------------------------------------ */

START_TEST(test_csv_round_trip)
{
    /* awkward floats: the shortest text must read back bit for bit */
    float v[12] = { 0.1f, -1.0f / 3.0f, 1e-30f, 3.4e38f, 0.0f, -0.0f, 123456789.0f,
                    1.17549435e-38f, 2.0f / 3.0f, 16777217.0f, -7.5f, 1e10f };
    sq_named_tensor t[2] = { { "a", { { 2, { 3, 2 } }, v } },
                             { "b", { { 3, { 3, 1, 2 } }, v + 6 } } };
    sq_error e;
    const char *p = tmp_path("out.csv");
    ck_assert_msg(sq_save_outputs(p, t, 2, 0, &e) == 0, "%s", e.msg);
    FILE *f = fopen(p, "r");
    char line[256];
    ck_assert(fgets(line, sizeof line, f));
    ck_assert_str_eq(line, "a[0],a[1],b[0],b[1]\n");
    fclose(f);
    sq_tensor back;
    ck_assert_msg(sq_tensor_load(p, &back, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(back.shape.rank, 2);
    ck_assert_int_eq(back.shape.d[0], 3);
    ck_assert_int_eq(back.shape.d[1], 4);
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 4; c++) {
            float want = c < 2 ? v[r * 2 + c] : v[6 + r * 2 + c - 2];
            ck_assert_msg(!memcmp(&back.data[r * 4 + c], &want, sizeof want),
                          "row %d col %d: %.9g, want %.9g", r, c, (double)back.data[r * 4 + c],
                          (double)want);
        }
    sq_tensor_free(&back);

    /* classes: integers, one named column */
    float cls[4] = { 3, 0, 9, 1 };
    sq_named_tensor ct = { "class", { { 1, { 4 } }, cls } };
    ck_assert(sq_save_outputs(p, &ct, 1, 1, &e) == 0);
    f = fopen(p, "r");
    char all[256] = "";
    size_t k = fread(all, 1, sizeof all - 1, f);
    all[k] = '\0';
    fclose(f);
    ck_assert_str_eq(all, "class\n3\n0\n9\n1\n");
}
END_TEST

START_TEST(test_npy_npz_outputs)
{
    float cls[3] = { 2, 0, 1 };
    sq_named_tensor ct = { "class", { { 1, { 3 } }, cls } };
    sq_error e;
    const char *p = tmp_path("c.npy");
    ck_assert(sq_save_outputs(p, &ct, 1, 1, &e) == 0);
    /* int64 as NumPy's argmax: '<i8' in the header, 8 bytes a value */
    FILE *f = fopen(p, "rb");
    unsigned char b[256];
    size_t n = fread(b, 1, sizeof b, f);
    fclose(f);
    ck_assert_int_eq(n, 128 + 24);
    int found = 0;
    for (size_t i = 0; i + 5 <= n; i++)
        found |= !memcmp(b + i, "'<i8'", 5);
    ck_assert(found);
    ck_assert(b[128] == 2 && b[136] == 0 && b[144] == 1 && b[143] == 0);
    sq_tensor back;
    ck_assert(sq_tensor_load(p, &back, &e) == 0);
    ck_assert(back.data[0] == 2 && back.data[1] == 0 && back.data[2] == 1);
    sq_tensor_free(&back);
    /* float32 in an .npz, keyed by name */
    float v[2] = { 0.25f, -4 };
    sq_named_tensor t = { "dense_1", { { 2, { 1, 2 } }, v } };
    p = tmp_path("o.NPZ");
    ck_assert(sq_save_outputs(p, &t, 1, 0, &e) == 0);
    char spec[1100];
    snprintf(spec, sizeof spec, "%s:dense_1", p);
    ck_assert_msg(sq_tensor_load(spec, &back, &e) == 0, "%s", e.msg);
    ck_assert(back.data[0] == 0.25f && back.data[1] == -4);
    sq_tensor_free(&back);
}
END_TEST

START_TEST(test_bad_extensions)
{
    float v[2] = { 1, 2 };
    sq_named_tensor t[2] = { { "a", { { 2, { 1, 2 } }, v } }, { "b", { { 2, { 1, 2 } }, v } } };
    sq_error e;
    static const struct { const char *name, *msg; } bad[] = {
        { "p.txt", "seqsh writes .npy, .npz or .csv (picked by the extension), not '.txt'" },
        { "p.csv.gz", "seqsh writes .npy, .npz or .csv (picked by the extension), not '.gz'" },
        { "p", "the extension picks the format; end the name in .npy, .npz or .csv" },
        { ".csv", "the extension picks the format; end the name in .npy, .npz or .csv" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *p = tmp_path(bad[i].name);
        char want[1400];
        snprintf(want, sizeof want, "save=%s: %s", p, bad[i].msg);
        ck_assert(sq_save_outputs(p, t, 1, 0, &e) == -1);
        ck_assert_str_eq(e.msg, want);
        ck_assert(sq_check_output_path(p, 1, &e) == -1);
        ck_assert_str_eq(e.msg, want);
        ck_assert_msg(access(p, F_OK) != 0, "%s was written", p);
    }
    const char *p = tmp_path("two.npy");
    ck_assert(sq_save_outputs(p, t, 2, 0, &e) == -1);
    ck_assert(strstr(e.msg, "a .npy file holds one array and there are 2") != NULL);
    ck_assert(access(p, F_OK) != 0);
}
END_TEST

/* NumPy's str() of integer arrays; the expected strings were printed by
 * /usr/bin/python3 -c 'import numpy as np; print(repr(str(EXPR)))' with
 * numpy 1.24.2, EXPR given beside each. */
START_TEST(test_format_int)
{
    static const struct { float v[40]; int rank; long d[2]; const char *want; } cases[] = {
        { { 3, 1, 0 }, 1, { 3 }, "[3 1 0]" },                          /* np.array([3,1,0]) */
        { { -1, 20, 3, 4 }, 2, { 2, 2 }, "[[-1 20]\n [ 3  4]]" },     /* [[-1,20],[3,4]] */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sq_tensor t = { { cases[i].rank, { cases[i].d[0], cases[i].d[1] } },
                        (float *)cases[i].v };
        char *s = sq_tensor_format_int(&t);
        ck_assert_str_eq(s, cases[i].want);
        free(s);
    }
    /* np.arange(40): wraps at 75 columns */
    float r[2000];
    for (int i = 0; i < 2000; i++)
        r[i] = (float)i;
    sq_tensor t = { { 1, { 40 } }, r };
    char *s = sq_tensor_format_int(&t);
    ck_assert_str_eq(s, "[ 0  1  2  3  4  5  6  7  8  9 10 11 12 13 14 15 16 17 18 19 20 21 "
                        "22 23\n 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39]");
    free(s);
    /* np.arange(2000): summarised, padded to the shown values */
    t.shape.d[0] = 2000;
    s = sq_tensor_format_int(&t);
    ck_assert_str_eq(s, "[   0    1    2 ... 1997 1998 1999]");
    free(s);
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
    snprintf(tmpdir, sizeof tmpdir, "%s/check_classify.XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(tmpdir)) {
        fprintf(stderr, "check_classify: cannot create %s: %s\n", tmpdir, strerror(errno));
        return EXIT_FAILURE;
    }
    Suite *s = suite_create("classify");
    TCase *tc = tcase_create("confusion");
    tcase_add_test(tc, test_confusion_multiclass);
    tcase_add_test(tc, test_confusion_binary);
    tcase_add_test(tc, test_confusion_text);
    tcase_add_test(tc, test_confusion_changes_nothing);
    suite_add_tcase(s, tc);
    tc = tcase_create("outputs");
    tcase_add_test(tc, test_csv_round_trip);
    tcase_add_test(tc, test_npy_npz_outputs);
    tcase_add_test(tc, test_bad_extensions);
    tcase_add_test(tc, test_format_int);
    suite_add_tcase(s, tc);
    int rc = run_suite(s);
    remove_tmpdir();
    return rc;
}
