/* check_faults.c - fault injection: make the N-th engine allocation fail,
 * for every N along add, call, fit, load, extract, save, confusion, undo,
 * every data reader and the other commands, and check that each fails
 * cleanly and leaves the model exactly as it was: same summary, same
 * layers, same weights, same RNG state. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "seqsh/engine.h"
#include "model.h"
#include "test_util.h"

static sq_error err;
static char dir[64], model_path[128], weights_path[128], out_path[128], json_path[128],
    json_out[128], h5_path[128], trained_path[128];

static int add(sq_session *s, const char *line)
{
    return add_line(s, line, &err);
}

/* A compiled conv model with a nested part and a frozen layer. */
static sq_session *fixture(void)
{
    sq_session *s = sq_session_new();
    ck_assert_ptr_nonnull(s);
    sq_seed(s, 5);
    long d[3] = { 6, 6, 2 };
    ck_assert_int_eq(sq_input(s, 3, d, &err), 0);
    ck_assert_int_eq(add(s, "conv2d 3 3 padding=same relu"), 0);
    ck_assert_int_eq(add(s, "batchnormalization"), 0);
    ck_assert_int_eq(add(s, "maxpooling2d 2"), 0);
    ck_assert_int_eq(add(s, "flatten"), 0);
    ck_assert_int_eq(add(s, "dropout 0.5"), 0);
    ck_assert_int_eq(add(s, "dense 4 softmax"), 0);
    int count;
    ck_assert_int_eq(sq_set_trainable(s, "1", 0, &count, &err), 0);
    ck_assert_int_eq(sq_compile(s, "adam", "sparse_categorical_crossentropy", "accuracy", 0,
                                NULL, NULL, &err), 0);
    return s;
}

typedef struct {
    char *summary, *layers, *weights;
    float *params;
    size_t n;
    sq_rng_state rng;
} snap;

static snap take(sq_session *s)
{
    snap p;
    sq_error e;
    p.summary = sq_model_is_built(s) ? sq_summary(s, &e) : NULL;
    p.layers = sq_layers_text(s, &e);
    p.weights = sq_model_is_built(s) ? sq_weights_text(s, NULL, &e) : NULL;
    p.n = s->model->nparams;
    p.params = malloc(p.n * sizeof(float) + 1);
    if (p.n)
        memcpy(p.params, s->model->params, p.n * sizeof(float));
    p.rng = sq_rng_get(s);
    return p;
}

static void drop(snap *p)
{
    free(p->summary);
    free(p->layers);
    free(p->weights);
    free(p->params);
}

static void same(const snap *a, const snap *b, const char *what, long n)
{
    ck_assert_msg((a->summary == NULL) == (b->summary == NULL)
                  && (!a->summary || !strcmp(a->summary, b->summary)),
                  "%s, allocation %ld: summary changed", what, n);
    ck_assert_msg(!strcmp(a->layers, b->layers), "%s, allocation %ld: layers changed", what, n);
    ck_assert_msg(a->n == b->n && !memcmp(a->params, b->params, a->n * sizeof(float)),
                  "%s, allocation %ld: weights changed", what, n);
    ck_assert_msg(!memcmp(&a->rng, &b->rng, sizeof a->rng), "%s, allocation %ld: RNG changed",
                  what, n);
}

typedef int (*op_fn)(sq_session *s);


static sq_tensor x_img, y_lab, x_small;

static int op_add(sq_session *s) { return add(s, "dense 3 relu"); }
static void prep_pop3(sq_session *s)
{
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(sq_pop(s, &err), 0);
}
static int op_add_conv(sq_session *s) { return add(s, "conv2d 2 2 strides=2"); }
static int op_call(sq_session *s)
{
    sq_tensor y;
    int rc = sq_call(s, &x_img, &y, &err);
    if (rc == 0)
        sq_tensor_free(&y);
    return rc;
}
static int op_fit(sq_session *s)
{
    sq_fit_opts o = { .epochs = 2, .batch_size = 3, .validation_split = 0.25, .shuffle = 1, .verbose = 0  };
    return sq_fit(s, &x_img, &y_lab, &o, NULL, NULL, &err);
}
/* fit with everything of issue 13 but checkpoints (which save mid-fit):
 * penalties, clipping, validation data, class and sample
 * weights, callbacks that copy weights and write a file */
static sq_tensor w_lab;
static char csv_path[128], cb_text[300];
static void prep_controls(sq_session *s)
{
    ck_assert_int_eq(sq_model_new(s, NULL, &err), 0);
    long d[3] = { 6, 6, 2 };
    ck_assert_int_eq(sq_input(s, 3, d, &err), 0);
    ck_assert_int_eq(add(s, "conv2d 3 3 kernel_initializer=orthogonal kernel_regularizer=l2 "
                            "activity_regularizer=l1(0.001)"), 0);
    ck_assert_int_eq(add(s, "flatten"), 0);
    ck_assert_int_eq(add(s, "dense 4 softmax bias_regularizer=l1_l2"), 0);
    char *argv[] = { "optimizer=adam", "loss=sparse_categorical_crossentropy",
                     "metrics=accuracy,sparse_top_k_categorical_accuracy(k=2)", "clipnorm=1.0" };
    ck_assert_msg(sq_compile_words(s, 4, argv, &err) == 0, "%s", err.msg);
}
static int op_fit_controls(sq_session *s)
{
    sq_fit_opts o = { .epochs = 3, .batch_size = 3, .shuffle = 1, .verbose = 0,
                      .val_x = &x_img, .val_y = &y_lab, .sample_weights = &w_lab,
                      .class_weight = "{0: 2}", .callbacks = cb_text };
    return sq_fit(s, &x_img, &y_lab, &o, NULL, NULL, &err);
}
static int op_load_trained(sq_session *s) { return sq_load(s, trained_path, &err); }
static int op_add_init(sq_session *s)
{
    return add(s, "dense 5 kernel_initializer=orthogonal(gain=2) bias_regularizer=l2(0.1) "
                  "activity_regularizer=l1_l2");
}
static int op_compile_calls(sq_session *s)
{
    char *argv[] = { "optimizer=sgd", "loss=huber", "delta=2",
                     "metrics=[auc(num_thresholds=50),precision(class_id=1),recall]",
                     "learning_rate=piecewise_constant_decay([1,2],[0.1,0.01,0.001])",
                     "global_clipnorm=2" };
    return sq_compile_words(s, 6, argv, &err);
}

static int op_evaluate(sq_session *s)
{
    double v[4];
    const char *names[4];
    int n;
    return sq_evaluate(s, &x_img, &y_lab, 4, 0, NULL, NULL, v, names, 4, &n, &err);
}
static int op_evaluate_weighted(sq_session *s)
{
    double v[4];
    const char *names[4];
    int n;
    return sq_evaluate_weighted(s, &x_img, &y_lab, NULL, &w_lab, 4, 0, NULL, NULL, v, names, 4,
                                &n, &err);
}
static int op_predict(sq_session *s)
{
    sq_tensor y;
    int rc = sq_predict(s, &x_img, 3, &y, &err);
    if (rc == 0)
        sq_tensor_free(&y);
    return rc;
}
static int op_extract(sq_session *s)
{
    sq_named_tensor *o;
    int n;
    int rc = sq_extract(s, "all", &x_img, &o, &n, &err);
    if (rc == 0)
        sq_named_free(o, n);
    return rc;
}
static int op_save(sq_session *s) { return sq_save(s, out_path, &err); }
static int op_load(sq_session *s) { return sq_load(s, model_path, &err); }
static void prep_empty(sq_session *s)
{
    ck_assert_int_eq(sq_model_new(s, NULL, &err), 0);
}
static int op_add_model(sq_session *s)
{
    return sq_add_model(s, model_path, "base", 0, &err);
}
static int op_load_tfjs(sq_session *s) { return sq_load(s, json_path, &err); }
static int op_save_tfjs(sq_session *s) { return sq_save(s, json_out, &err); }
static int op_load_h5(sq_session *s) { return sq_load(s, h5_path, &err); }
static int op_save_h5(sq_session *s) { return sq_save(s, h5_path, &err); }
/* The fixture and every 2-D kind of the second wave after it, for the
 * exports (the file each writes: out_path with its extension). */
static void prep_exports(sq_session *s)
{
    static const char *const more[] = {
        "reshape (2,2,1)", "conv2dtranspose 3 3 strides=2 padding=same",
        "depthwiseconv2d 3 depth_multiplier=2 padding=same", "separableconv2d 2 2",
        "zeropadding2d (1,2)", "cropping2d ((1,0),(0,2))", "upsampling2d interpolation=bilinear",
        "flatten",
    };
    for (size_t i = 0; i < sizeof more / sizeof more[0]; i++)
        ck_assert_msg(add(s, more[i]) == 0, "%s: %s", more[i], err.msg);
}
/* A model whose recurrent layers the ONNX export writes as Scans: a Keras
 * mask, an activation ONNX's RNN ops lack. */
static void prep_masked(sq_session *s)
{
    static const char *const lines[] = {
        "embedding 9 3 mask_zero=true", "lstm 3 return_sequences=true",
        "bidirectional gru 2 return_sequences=true merge_mode=sum", "simplernn 2 activation=selu",
    };
    long d[1] = { 5 };
    ck_assert_int_eq(sq_model_new(s, NULL, &err), 0);
    ck_assert_int_eq(sq_input(s, 1, d, &err), 0);
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
        ck_assert_msg(add(s, lines[i]) == 0, "%s: %s", lines[i], err.msg);
}
static int op_export(sq_session *s, const char *fmt, const char *ext)
{
    char path[160];
    snprintf(path, sizeof path, "%s.%s", out_path, ext);
    return sq_export(s, fmt, path, &err);
}
static int op_export_onnx(sq_session *s) { return op_export(s, "onnx", "onnx"); }
static int op_export_torch(sq_session *s) { return op_export(s, "pytorch", "py"); }
static int op_export_keras(sq_session *s) { return op_export(s, "keras", "k.py"); }
static int op_save_weights(sq_session *s) { return sq_save_weights(s, out_path, &err); }
static int op_load_weights(sq_session *s) { return sq_load_weights(s, weights_path, &err); }
static int op_weights(sq_session *s)
{
    char *t = sq_weights_text(s, NULL, &err);
    free(t);
    return t ? 0 : -1;
}
static int op_summary(sq_session *s)
{
    char *t = sq_summary(s, &err);
    free(t);
    return t ? 0 : -1;
}
static int op_compile(sq_session *s)
{
    const char *k[] = { "momentum" }, *v[] = { "0.5" };
    return sq_compile(s, "sgd", "mse", "mae", 1, k, v, &err);
}
static int op_model(sq_session *s) { return sq_model_new(s, "fresh", &err); }
static void prep_deferred(sq_session *s)
{
    ck_assert_int_eq(sq_model_new(s, NULL, &err), 0);
    ck_assert_int_eq(add(s, "dense 3"), 0);
    ck_assert_int_eq(add(s, "dense 2"), 0);
}
static int op_deferred_call(sq_session *s)
{
    sq_tensor y;
    int rc = sq_call(s, &x_small, &y, &err);
    if (rc == 0)
        sq_tensor_free(&y);
    return rc;
}

static sq_tensor y_small;
static int op_confusion(sq_session *s)
{
    sq_confusion_matrix cm;
    int rc = sq_confusion(s, &x_img, &y_lab, 3, &cm, &err);
    if (rc == 0) {
        char *t = sq_confusion_text(&cm, &err);
        sq_confusion_free(&cm);
        if (!t)
            return -1;
        free(t);
    }
    return rc;
}
static int op_deferred_confusion(sq_session *s)
{
    sq_confusion_matrix cm;
    int rc = sq_confusion(s, &x_small, &y_small, 1, &cm, &err);
    if (rc == 0)
        sq_confusion_free(&cm);
    return rc;
}
static int op_snapshot(sq_session *s)
{
    sq_snapshot *p = sq_snapshot_take(s, &err);
    sq_snapshot_free(p);
    return p ? 0 : -1;
}
/* undo of an add after a fit (the optimizer is made again): while it
 * fails, the added layer stays */
static void prep_undoable(sq_session *s)
{
    sq_fit_opts o = { .epochs = 1, .batch_size = 4, .shuffle = 1 };
    ck_assert_int_eq(sq_fit(s, &x_img, &y_lab, &o, NULL, NULL, &err), 0);
    sq_snapshot *p = sq_snapshot_take(s, &err);
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(add(s, "dense 3"), 0);
    sq_undo_push(s, p, "add dense 3");
}
static int op_undo(sq_session *s)
{
    char what[64];
    return sq_undo(s, what, sizeof what, &err);
}
static int op_save_csv(sq_session *s)
{
    (void)s;
    char path[160];
    snprintf(path, sizeof path, "%s/out.csv", dir);
    sq_named_tensor t = { "x", x_img };
    int rc = sq_save_outputs(path, &t, 1, 0, &err);
    if (rc == 0)
        unlink(path);
    return rc;
}
static int op_load_rows(sq_session *s)
{
    (void)s;
    char spec[160];
    snprintf(spec, sizeof spec, "%s:dense/bias[::-1]", weights_path);
    sq_tensor t;
    int rc = sq_tensor_load(spec, &t, &err);
    if (rc == 0)
        sq_tensor_free(&t);
    return rc;
}

/* The data readers (issue 18 asks the sweep to cover every reader): CSV
 * with a label column, gzip, .npy, a deflated .npz member, gzipped IDX. */
static const char *fixture_path(const char *name)
{
    static char buf[1024];
    const char *srcdir = getenv("srcdir");
    snprintf(buf, sizeof buf, "%s/tests/fixtures/%s", srcdir && *srcdir ? srcdir : ".", name);
    return buf;
}
static int read_data(const char *name, const char *label)
{
    sq_tensor x, y;
    int rc = sq_data_load(fixture_path(name), label, &x, label ? &y : NULL, &err);
    if (rc == 0) {
        sq_tensor_free(&x);
        if (label)
            sq_tensor_free(&y);
    }
    return rc;
}
static int op_read_csv(sq_session *s) { (void)s; return read_data("data_iris.csv", "last"); }
static int op_read_csv_gz(sq_session *s) { (void)s; return read_data("data_digits.csv.gz", NULL); }
static int op_read_npy(sq_session *s) { (void)s; return read_data("np_f8.npy", NULL); }
static int op_read_npz(sq_session *s) { (void)s; return read_data("np_savez_compressed.npz:b", NULL); }
static int op_read_idx_gz(sq_session *s)
{
    (void)s;
    return read_data("data_images-idx3-ubyte.gz", NULL);
}

/* Runs op with the n-th allocation failing for n = 0, 1, ... until it
 * succeeds; every failure must leave the session as the snapshot. */
static void sweep(const char *what, void (*prep)(sq_session *), op_fn op)
{
    long n = 0;
    for (;; n++) {
        sq_session *s = fixture();
        if (prep)
            prep(s);
        snap before = take(s);
        sq_alloc_fail_after(n);
        int rc = op(s);
        long calls = sq_alloc_calls();
        sq_alloc_fail_after(-1);
        if (rc == 0 || calls <= n) {
            drop(&before);
            sq_session_free(s);
            ck_assert_msg(rc == 0, "%s failed without an allocation failure: %s", what, err.msg);
            break;
        }
        ck_assert_msg(err.msg[0] != '\0', "%s, allocation %ld: no message", what, n);
        snap after = take(s);
        same(&before, &after, what, n);
        drop(&after);
        drop(&before);
        sq_session_free(s);
        ck_assert_msg(n < 100000, "%s: no end", what);
    }
    ck_assert_msg(n > 0, "%s: never allocated?", what);
}

static void setup(void)
{
    strcpy(dir, "/tmp/seqsh_faults_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(model_path, sizeof model_path, "%s/m.seqm", dir);
    snprintf(weights_path, sizeof weights_path, "%s/w.npz", dir);
    snprintf(out_path, sizeof out_path, "%s/out.bin", dir);
    snprintf(json_path, sizeof json_path, "%s/tfjs/model.json", dir);
    snprintf(json_out, sizeof json_out, "%s/out/model.json", dir);
    snprintf(h5_path, sizeof h5_path, "%s/k/m.h5", dir);
    sq_session *s = fixture();
    ck_assert_int_eq(sq_save(s, model_path, &err), 0);
    ck_assert_int_eq(sq_save_weights(s, weights_path, &err), 0);
    ck_assert_int_eq(sq_save(s, json_path, &err), 0);
    char kdir[160];
    snprintf(kdir, sizeof kdir, "%s/k", dir);
    ck_assert_int_eq(mkdir(kdir, 0777), 0);
    ck_assert_int_eq(sq_save(s, h5_path, &err), 0);
    long d[4] = { 8, 6, 6, 2 }, dl[1] = { 8 }, ds[2] = { 2, 4 };
    ck_assert_int_eq(sq_tensor_generate(s, "random", 4, d, &x_img, &err), 0);
    ck_assert_int_eq(sq_tensor_generate(s, "zeros", 1, dl, &y_lab, &err), 0);
    ck_assert_int_eq(sq_tensor_generate(s, "ones", 2, ds, &x_small, &err), 0);
    long dys[1] = { 2 };
    ck_assert_int_eq(sq_tensor_generate(s, "zeros", 1, dys, &y_small, &err), 0);
    ck_assert_int_eq(sq_tensor_generate(s, "random", 1, dl, &w_lab, &err), 0);
    snprintf(csv_path, sizeof csv_path, "%s/log.csv", dir);
    snprintf(cb_text, sizeof cb_text, "early_stopping(monitor=loss,patience=1,"
             "restore_best_weights=true),reduce_lr_on_plateau(monitor=loss),csv_logger(%s)",
             csv_path);
    /* a model saved with its optimizer's state */
    snprintf(trained_path, sizeof trained_path, "%s/t.seqm", dir);
    prep_controls(s);
    sq_fit_opts o = { .epochs = 1, .batch_size = 4, .shuffle = 1, .verbose = 0 };
    ck_assert_int_eq(sq_fit(s, &x_img, &y_lab, &o, NULL, NULL, &err), 0);
    ck_assert_int_eq(sq_save(s, trained_path, &err), 0);
    sq_session_free(s);
}

static void teardown(void)
{
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
    sq_tensor_free(&x_img);
    sq_tensor_free(&y_lab);
    sq_tensor_free(&x_small);
    sq_tensor_free(&y_small);
    sq_tensor_free(&w_lab);
}

START_TEST(add_fails_cleanly) { sweep("add", NULL, op_add); }
END_TEST
START_TEST(add_conv_fails_cleanly) { sweep("add conv2d", prep_pop3, op_add_conv); }
END_TEST
START_TEST(call_fails_cleanly) { sweep("call", NULL, op_call); }
END_TEST
START_TEST(deferred_call_fails_cleanly) { sweep("deferred call", prep_deferred, op_deferred_call); }
END_TEST
START_TEST(fit_fails_cleanly) { sweep("fit", NULL, op_fit); }
END_TEST
START_TEST(evaluate_fails_cleanly) { sweep("evaluate", NULL, op_evaluate); }
END_TEST
START_TEST(evaluate_weighted_fails_cleanly)
{
    sweep("evaluate sample_weight", NULL, op_evaluate_weighted);
}
END_TEST
START_TEST(training_controls_fail_cleanly)
{
    sweep("fit with the training controls", prep_controls, op_fit_controls);
    sweep("load with an optimizer state", NULL, op_load_trained);
    sweep("add with initializers", prep_controls, op_add_init);
    sweep("compile with call forms", NULL, op_compile_calls);
}
END_TEST
START_TEST(predict_fails_cleanly) { sweep("predict", NULL, op_predict); }
END_TEST
START_TEST(extract_fails_cleanly) { sweep("extract", NULL, op_extract); }
END_TEST
START_TEST(save_fails_cleanly)
{
    sweep("save", NULL, op_save);
    /* a failed save never leaves a half-written file or a temporary one */
    char cmd[200];
    snprintf(cmd, sizeof cmd, "test $(ls -A '%s' | grep -c seqsh-tmp) -eq 0", dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST
START_TEST(keras_files_fail_cleanly)
{
    sweep("load model.json", NULL, op_load_tfjs);
    sweep("save model.json", NULL, op_save_tfjs);
    /* a failed save leaves the folder as it was: here, the last success */
    char cmd[200];
    snprintf(cmd, sizeof cmd, "test $(ls '%s/out' | wc -l) -eq 2", dir);
    ck_assert_int_eq(system(cmd), 0);
    sweep("load h5", NULL, op_load_h5);
    sweep("save h5", NULL, op_save_h5);
    snprintf(cmd, sizeof cmd, "test $(ls '%s/k' | wc -l) -eq 1", dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST
START_TEST(load_fails_cleanly) { sweep("load", NULL, op_load); }
END_TEST
START_TEST(exports_fail_cleanly)
{
    sweep("export onnx", prep_exports, op_export_onnx);
    sweep("export pytorch", prep_exports, op_export_torch);
    sweep("export keras", prep_exports, op_export_keras);
    sweep("export onnx, masked recurrent layers", prep_masked, op_export_onnx);
}
END_TEST
START_TEST(add_model_fails_cleanly) { sweep("add model", prep_empty, op_add_model); }
END_TEST
START_TEST(weights_files_fail_cleanly)
{
    sweep("save_weights", NULL, op_save_weights);
    sweep("load_weights", NULL, op_load_weights);
}
END_TEST
START_TEST(data_readers_fail_cleanly)
{
    sweep("read CSV", NULL, op_read_csv);
    sweep("read gzipped CSV", NULL, op_read_csv_gz);
    sweep("read .npy", NULL, op_read_npy);
    sweep("read .npz", NULL, op_read_npz);
    sweep("read gzipped IDX", NULL, op_read_idx_gz);
}
END_TEST
START_TEST(text_and_settings_fail_cleanly)
{
    sweep("weights", NULL, op_weights);
    sweep("summary", NULL, op_summary);
    sweep("compile", NULL, op_compile);
    sweep("model", NULL, op_model);
}
END_TEST

START_TEST(classify_and_undo_fail_cleanly)
{
    sweep("confusion", NULL, op_confusion);
    sweep("deferred confusion", prep_deferred, op_deferred_confusion);
    sweep("snapshot", NULL, op_snapshot);
    sweep("undo", prep_undoable, op_undo);
    sweep("save= .csv", NULL, op_save_csv);
    sweep("rows of an .npz member", NULL, op_load_rows);
}
END_TEST

int main(void)
{
    Suite *su = suite_create("faults");
    TCase *tc = tcase_create("faults");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, add_fails_cleanly);
    tcase_add_test(tc, add_conv_fails_cleanly);
    tcase_add_test(tc, call_fails_cleanly);
    tcase_add_test(tc, deferred_call_fails_cleanly);
    tcase_add_test(tc, fit_fails_cleanly);
    tcase_add_test(tc, evaluate_fails_cleanly);
    tcase_add_test(tc, evaluate_weighted_fails_cleanly);
    tcase_add_test(tc, training_controls_fail_cleanly);
    tcase_add_test(tc, predict_fails_cleanly);
    tcase_add_test(tc, extract_fails_cleanly);
    tcase_add_test(tc, save_fails_cleanly);
    tcase_add_test(tc, load_fails_cleanly);
    tcase_add_test(tc, keras_files_fail_cleanly);
    tcase_add_test(tc, exports_fail_cleanly);
    tcase_add_test(tc, add_model_fails_cleanly);
    tcase_add_test(tc, weights_files_fail_cleanly);
    tcase_add_test(tc, text_and_settings_fail_cleanly);
    tcase_add_test(tc, classify_and_undo_fail_cleanly);
    tcase_add_test(tc, data_readers_fail_cleanly);
    suite_add_tcase(su, tc);
    return run_suite(su);
}
