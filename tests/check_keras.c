/* check_keras.c - the Keras formats: TF.js Layers folders (model.json and
 * shards) read and written. Fixtures made by
 * tests/fixtures/make_keras_fixtures.py in the shapes Keras 2.2.4, 2.6,
 * 2.15 and 3 write, with outputs computed there by NumPy, and by
 * make_keras_rnn_fixtures.py (recurrent models, outputs from torch) and
 * make_keras_2d_fixtures.py (the 2-D kinds, outputs from naive loops and
 * torch); files built here
 * for every way a stranger's model can be broken, each of which must leave
 * the current model as it was. */
#define _GNU_SOURCE   /* memmem */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <jansson.h>
#include "seqsh/engine.h"
#include "model.h"
#include "compile.h"
#include "io/npy.h"
#include "test_util.h"

static sq_error err;
static char tmp[64];

static const char *fixture(const char *name)
{
    static char buf[4][512];
    static int k;
    const char *src = getenv("srcdir");
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/tests/fixtures/keras/%s", src ? src : ".", name);
    return buf[k];
}

static const char *tpath(const char *name)
{
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmp, name);
    return buf[k];
}

static void write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    fclose(f);
}

/* Loads model `dir`, runs it on INPUT and compares with OUTPUT within
 * 1e-5 + 1e-4 |want| (the references are float64). */
static void check_outputs(const char *json, const char *in, const char *out)
{
    sq_session *s = sq_session_new();
    char notes[1024];
    ck_assert_msg(sq_load_noted(s, fixture(json), notes, sizeof notes, &err) == 0, "%s: %s",
                  json, err.msg);
    sq_tensor x, want, got;
    ck_assert_int_eq(npy_read_file(fixture(in), &x, &err), 0);
    ck_assert_int_eq(npy_read_file(fixture(out), &want, &err), 0);
    ck_assert_msg(sq_call(s, &x, &got, &err) == 0, "%s: %s", json, err.msg);
    ck_assert(sq_shape_eq(&got.shape, &want.shape));
    size_t n = sq_shape_count(&got.shape);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(fabsf(got.data[i] - want.data[i]) <= 1e-5f + 1e-4f * fabsf(want.data[i]),
                      "%s: output %zu is %g, NumPy says %g", json, i, got.data[i], want.data[i]);
    sq_tensor_free(&x);
    sq_tensor_free(&want);
    sq_tensor_free(&got);
    sq_session_free(s);
}

static char *compiled_text(sq_session *s)
{
    sbuf b = { 0 };
    if (s->model->compiled)
        sq_compiled_describe(s->model->compiled, &b);
    return sb_finish(&b, NULL);
}

START_TEST(reads_what_keras_versions_write)
{
    check_outputs("a_keras26/model.json", "a_input.npy", "a_output.npy");
    check_outputs("a_keras224/model.json", "a_input.npy", "a_output.npy");
    check_outputs("a_keras3/model.json", "a_input.npy", "a_output.npy");
    check_outputs("b_activations/model.json", "b_input.npy", "b_output.npy");
}
END_TEST

START_TEST(training_config_becomes_compile)
{
    sq_session *s = sq_session_new();
    ck_assert_int_eq(sq_load(s, fixture("a_keras26/model.json"), &err), 0);
    char *t = compiled_text(s);
    ck_assert_str_eq(t, "compile optimizer=adam loss=categorical_crossentropy "
                     "metrics=categorical_accuracy learning_rate=0.002 beta_1=0.9 "
                     "beta_2=0.999 epsilon=1e-07 amsgrad=false");
    free(t);
    ck_assert_int_eq(sq_load(s, fixture("b_activations/model.json"), &err), 0);
    t = compiled_text(s);
    ck_assert_str_eq(t, "compile optimizer=sgd loss=sparse_categorical_crossentropy "
                     "metrics=accuracy learning_rate=0.05 momentum=0.5 nesterov=true");
    free(t);
    /* the frozen layer stays frozen; the model keeps its name */
    sq_layer_info li;
    ck_assert_int_eq(sq_layer_get(s, 4, &li), 0);
    ck_assert_str_eq(li.name, "hidden");
    ck_assert_int_eq(li.trainable, 0);
    ck_assert_str_eq(sq_model_name(s), "bee");
    sq_session_free(s);
}
END_TEST

/* The class metrics with their arguments survive a save in the Keras
 * formats (written as Keras 2.6 does: {"class_name": "AUC", "config": ...},
 * which Keras's metrics.get takes where it refuses 'auc'); and read from
 * what Keras wrote: AUC's default thresholds written out are left to
 * num_thresholds, a MeanMetricWrapper by its function, a metric seqsh
 * cannot take (top_k) left out with a note. */
static char *slurp(const char *path);

START_TEST(class_metrics_round_trip)
{
    static const char *const metrics =
        "auc(num_thresholds=50,multi_label=true,label_weights=[1,2,3]),"
        "auc(curve=PR,summation_method=minoring,name=prauc),auc(thresholds=[0.25,0.75]),"
        "precision(thresholds=0.3,class_id=1),recall,top_k_categorical_accuracy(k=2),"
        "sparse_top_k_categorical_accuracy,top_k_categorical_accuracy(name=top5)";
    static const char *const want =
        "compile optimizer=adam loss=binary_crossentropy metrics="
        "auc(num_thresholds=50,multi_label=true,label_weights=[1,2,3]),"
        "auc(curve=PR,summation_method=minoring,name=prauc),"
        "auc(thresholds=[0.25,0.75],name=auc_1),precision(thresholds=0.300000012,class_id=1),"
        "recall,top_k_categorical_accuracy(k=2),sparse_top_k_categorical_accuracy,"
        "top_k_categorical_accuracy(name=top5)";
    const char *files[] = { "cm_m.h5", "cm/model.json" };
    for (int f = 0; f < 2; f++) {
        sq_session *a = sq_session_new(), *b = sq_session_new();
        long d[1] = { 5 };
        ck_assert_int_eq(sq_input(a, 1, d, &err), 0);
        ck_assert_int_eq(add_line(a, "dense 3 sigmoid", &err), 0);
        ck_assert_msg(sq_compile(a, "adam", "binary_crossentropy", metrics, 0, NULL, NULL,
                                 &err) == 0, "%s", err.msg);
        ck_assert_msg(sq_save(a, tpath(files[f]), &err) == 0, "%s", err.msg);
        if (f == 0) {
            /* the Keras script compiles with the metric classes */
            ck_assert_msg(sq_export(a, "keras", tpath("cm.py"), &err) == 0, "%s", err.msg);
            char *py = slurp(tpath("cm.py"));
            ck_assert_msg(strstr(py, "metrics=[keras.metrics.AUC(name=\"auc\", dtype=\"float32\", "
                                 "num_thresholds=50, curve=\"ROC\", summation_method="
                                 "\"interpolation\", multi_label=True, label_weights=(1.0, 2.0, "
                                 "3.0)), ") && strstr(py, "keras.metrics.TopKCategoricalAccuracy("
                                 "name=\"top_k_categorical_accuracy\", dtype=\"float32\", k=2)")
                          && strstr(py, ", \"sparse_top_k_categorical_accuracy\", "), "%s", py);
            free(py);
        }
        ck_assert_msg(sq_load(b, tpath(files[f]), &err) == 0, "%s", err.msg);
        char *t = compiled_text(b);
        ck_assert_str_eq(t, want);
        free(t);
        sq_session_free(a);
        sq_session_free(b);
    }
    /* as Keras writes them, into the model.json just saved */
    json_error_t je;
    json_t *root = json_load_file(tpath("cm/model.json"), 0, &je);
    ck_assert_ptr_nonnull(root);
    json_t *tc = json_object_get(json_object_get(root, "modelTopology"), "training_config");
    ck_assert_ptr_nonnull(tc);
    json_t *ms = json_loads(
        "[{\"class_name\": \"AUC\", \"config\": {\"name\": \"auc\", \"dtype\": \"float32\", "
        "\"num_thresholds\": 5, \"curve\": \"PR\", \"summation_method\": \"interpolation\", "
        "\"thresholds\": [0.25, 0.5, 0.75], \"multi_label\": true, \"label_weights\": null}},"
        "{\"class_name\": \"MeanMetricWrapper\", \"config\": {\"name\": \"acc\", \"dtype\": "
        "\"float32\", \"fn\": \"binary_accuracy\"}},"
        "{\"class_name\": \"Precision\", \"config\": {\"name\": \"precision\", \"dtype\": "
        "\"float32\", \"thresholds\": [0.4], \"top_k\": null, \"class_id\": null}},"
        "{\"class_name\": \"Precision\", \"config\": {\"name\": \"p5\", \"dtype\": \"float32\", "
        "\"thresholds\": null, \"top_k\": 5, \"class_id\": null}},"
        "{\"class_name\": \"TopKCategoricalAccuracy\", \"config\": {\"name\": "
        "\"top_k_categorical_accuracy\", \"dtype\": \"float32\", \"k\": 3}}]", 0, &je);
    ck_assert_ptr_nonnull(ms);
    ck_assert_int_eq(json_object_set_new(tc, "metrics", ms), 0);
    ck_assert_int_eq(json_dump_file(root, tpath("cm/model.json"), 0), 0);
    json_decref(root);
    sq_session *c = sq_session_new();
    char notes[512];
    ck_assert_msg(sq_load_noted(c, tpath("cm/model.json"), notes, sizeof notes, &err) == 0,
                  "%s", err.msg);
    ck_assert_str_eq(notes, "note: metric precision(top_k=5,name=p5) is not one seqsh can take "
                     "(Precision: `top_k` is not supported by seqsh); left out\n");
    char *t = compiled_text(c);
    ck_assert_str_eq(t, "compile optimizer=adam loss=binary_crossentropy metrics="
                     "auc(num_thresholds=5,curve=PR,multi_label=true),binary_accuracy,"
                     "precision(thresholds=0.4),top_k_categorical_accuracy(k=3)");
    free(t);
    /* more metrics than compile takes: the first eight */
    root = json_load_file(tpath("cm/model.json"), 0, &je);
    ck_assert_ptr_nonnull(root);
    tc = json_object_get(json_object_get(root, "modelTopology"), "training_config");
    ck_assert_int_eq(json_object_set_new(tc, "metrics", json_loads(
        "[\"mse\", \"mae\", \"mse\", \"mae\", \"mse\", \"mae\", \"mse\", \"mae\", "
        "\"binary_accuracy\"]", 0, &je)), 0);
    ck_assert_int_eq(json_dump_file(root, tpath("cm/model.json"), 0), 0);
    json_decref(root);
    ck_assert_msg(sq_load_noted(c, tpath("cm/model.json"), notes, sizeof notes, &err) == 0,
                  "%s", err.msg);
    ck_assert_str_eq(notes, "note: metric binary_accuracy left out: seqsh compiles at most 8 "
                     "metrics\n");
    t = compiled_text(c);
    ck_assert_str_eq(t, "compile optimizer=adam loss=binary_crossentropy "
                     "metrics=mse,mae,mse,mae,mse,mae,mse,mae");
    free(t);
    sq_session_free(c);
}
END_TEST

static int count_files(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "ls -A '%s' | wc -l", dir);
    FILE *p = popen(cmd, "r");
    int n = -1;
    ck_assert_int_eq(fscanf(p, "%d", &n), 1);
    pclose(p);
    return n;
}

START_TEST(round_trip_is_exact)
{
    sq_session *a = sq_session_new(), *b = sq_session_new();
    ck_assert_int_eq(sq_load(a, fixture("a_keras224/model.json"), &err), 0);
    ck_assert_int_eq(sq_load(a, fixture("b_activations/model.json"), &err), 0);
    ck_assert_msg(sq_save(a, tpath("m/model.json"), &err) == 0, "%s", err.msg);
    ck_assert_msg(sq_load(b, tpath("m/model.json"), &err) == 0, "%s", err.msg);
    char *sa = sq_summary(a, &err), *sb = sq_summary(b, &err);
    char *la = sq_layers_text(a, &err), *lb = sq_layers_text(b, &err);
    char *ca = compiled_text(a), *cb = compiled_text(b);
    ck_assert_str_eq(sa, sb);
    ck_assert_str_eq(la, lb);
    ck_assert_str_eq(ca, cb);
    ck_assert_uint_eq(a->model->nparams, b->model->nparams);
    ck_assert(!memcmp(a->model->params, b->model->params, a->model->nparams * sizeof(float)));
    free(sa); free(sb); free(la); free(lb); free(ca); free(cb);
    /* the conv model too, with a nested model and every option set */
    ck_assert_int_eq(sq_load(a, fixture("a_keras26/model.json"), &err), 0);
    ck_assert_int_eq(sq_save(a, tpath("m/model.json"), &err), 0);
    ck_assert_int_eq(sq_load(b, tpath("m/model.json"), &err), 0);
    ck_assert(!memcmp(a->model->params, b->model->params, a->model->nparams * sizeof(float)));
    ck_assert_int_eq(count_files(tpath("m")), 2);
    sq_session_free(a);
    sq_session_free(b);
}
END_TEST

START_TEST(nested_and_every_option_round_trip)
{
    sq_session *a = sq_session_new(), *b = sq_session_new();
    long d[3] = { 9, 9, 2 };
    ck_assert_int_eq(sq_input(a, 3, d, &err), 0);
    ck_assert_int_eq(add_line(a, "conv2d 3 (3,2) strides=(2,1) padding=same use_bias=false "
                              "activation=selu name=c1", &err), 0);
    ck_assert_int_eq(add_line(a, "averagepooling2d (2,3) strides=(1,2) padding=same", &err), 0);
    ck_assert_int_eq(add_line(a, "batchnormalization momentum=0.9 epsilon=0.01 center=false", &err), 0);
    ck_assert_int_eq(add_line(a, "conv2d 2 2 dilation_rate=2", &err), 0);
    ck_assert_int_eq(add_line(a, "globalaveragepooling2d", &err), 0);
    ck_assert_int_eq(add_line(a, "reshape (2,1)", &err), 0);
    ck_assert_int_eq(add_line(a, "flatten", &err), 0);
    ck_assert_int_eq(add_line(a, "dense 4 use_bias=false gelu", &err), 0);
    ck_assert_int_eq(sq_save(a, tpath("inner.seqm"), &err), 0);
    sq_session *c = sq_session_new();
    long d2[1] = { 4 };
    ck_assert_int_eq(sq_input(c, 1, d2, &err), 0);
    ck_assert_int_eq(add_line(c, "dense 4 relu", &err), 0);
    ck_assert_int_eq(sq_add_model(c, tpath("inner.seqm"), "base", 0, &err), -1); /* shapes differ */
    sq_session_free(c);
    ck_assert_int_eq(sq_model_new(a, "outer", &err), 0);
    ck_assert_int_eq(sq_input(a, 3, d, &err), 0);
    ck_assert_int_eq(sq_add_model(a, tpath("inner.seqm"), "base", 0, &err), 0);
    ck_assert_int_eq(add_line(a, "dropout 0.3", &err), 0);
    ck_assert_int_eq(add_line(a, "activation silu", &err), 0);
    ck_assert_int_eq(add_line(a, "rescaling 2 offset=-1", &err), 0);
    ck_assert_int_eq(add_line(a, "dense 3 softmax", &err), 0);
    ck_assert_msg(sq_save(a, tpath("n/model.json"), &err) == 0, "%s", err.msg);
    ck_assert_msg(sq_load(b, tpath("n/model.json"), &err) == 0, "%s", err.msg);
    char *sa = sq_summary(a, &err), *sb = sq_summary(b, &err);
    ck_assert_str_eq(sa, sb);
    free(sa);
    free(sb);
    ck_assert(!memcmp(a->model->params, b->model->params, a->model->nparams * sizeof(float)));
    /* every option as seqsh would save it natively */
    for (int i = 0; i < a->model->n; i++) {
        sbuf x = { 0 }, y = { 0 };
        sq_layer_describe(a->model->layers[i], &x);
        sq_layer_describe(b->model->layers[i], &y);
        char *tx = sb_finish(&x, NULL), *ty = sb_finish(&y, NULL);
        /* silu is written as swish, its other Keras name */
        if (strstr(tx, "silu"))
            ck_assert_ptr_nonnull(strstr(ty, "swish"));
        else
            ck_assert_str_eq(tx, ty);
        free(tx);
        free(ty);
    }
    sq_tensor x, ya, yb;
    long xd[4] = { 2, 9, 9, 2 };
    ck_assert_int_eq(sq_tensor_generate(a, "random", 4, xd, &x, &err), 0);
    ck_assert_int_eq(sq_call(a, &x, &ya, &err), 0);
    ck_assert_int_eq(sq_call(b, &x, &yb, &err), 0);
    ck_assert(!memcmp(ya.data, yb.data, sq_shape_count(&ya.shape) * sizeof(float)));
    sq_tensor_free(&x);
    sq_tensor_free(&ya);
    sq_tensor_free(&yb);
    sq_session_free(a);
    sq_session_free(b);
}
END_TEST

START_TEST(saving_replaces_the_old_model_whole)
{
    sq_session *s = sq_session_new();
    char cmd[800];
    /* a converted model's folder: its shards go once the new one is in */
    snprintf(cmd, sizeof cmd, "mkdir -p '%s' && cp '%s'/* '%s'", tpath("c"),
             fixture("a_keras26"), tpath("c"));
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_int_eq(count_files(tpath("c")), 3);
    ck_assert_int_eq(sq_load(s, tpath("c/model.json"), &err), 0);
    /* what a save killed half-way leaves: a temporary file and a shard */
    write_file(tpath("c/model.json.tmp123.4"), "{", 1);
    write_file(tpath("c/model.0badcafe.bin"), "1234", 4);
    write_file(tpath("c/notes.txt"), "mine", 4);
    ck_assert_int_eq(sq_save(s, tpath("c/model.json"), &err), 0);
    ck_assert_int_eq(count_files(tpath("c")), 3);   /* model.json, its shard, notes.txt */
    ck_assert_int_eq(access(tpath("c/notes.txt"), F_OK), 0);
    ck_assert_int_eq(access(tpath("c/group1-shard1of2.bin"), F_OK), -1);
    ck_assert_int_eq(sq_save(s, tpath("c/model.json"), &err), 0);
    ck_assert_int_eq(count_files(tpath("c")), 3);
    ck_assert_int_eq(sq_load(s, tpath("c/model.json"), &err), 0);
    /* a format that cannot hold an activation says which layer */
    ck_assert_int_eq(sq_model_new(s, NULL, &err), 0);
    long d[1] = { 3 };
    ck_assert_int_eq(sq_input(s, 1, d, &err), 0);
    ck_assert_int_eq(add_line(s, "dense 2 exponential name=ex", &err), 0);
    ck_assert_int_eq(sq_save(s, tpath("c/model.json"), &err), -1);
    ck_assert_str_eq(err.msg, "layer ex (Dense): activation exponential cannot be expressed in "
                     "the TF.js Layers format");
    ck_assert_int_eq(sq_load(s, tpath("c/model.json"), &err), 0);  /* the old one is intact */
    sq_session_free(s);
}
END_TEST

/* ---- broken files ---------------------------------------------------------- */

static const char *base_json =
    "{\"format\":\"layers-model\",\"modelTopology\":{\"keras_version\":\"2.6.0\","
    "\"model_config\":{\"class_name\":\"Sequential\",\"config\":{\"name\":\"s\",\"layers\":["
    "{\"class_name\":\"InputLayer\",\"config\":{\"batch_input_shape\":[null,2],\"name\":\"i\"}},"
    "{\"class_name\":\"%s\",\"config\":{\"name\":\"d\"%s,\"units\":3}}]}}},"
    "\"weightsManifest\":[{\"paths\":[\"%s\"],\"weights\":["
    "{\"name\":\"d/kernel\",\"shape\":[%s],\"dtype\":\"float32\"}%s]}]}";

/* Writes a model.json from base_json with its holes filled, and a shard of
 * `bytes` bytes called "w.bin"; tries to load it into a session holding a
 * model; the load must fail with `want` in its message and the model stay. */
static void refused(const char *cls, const char *extra, const char *path, const char *shape,
                    const char *more, size_t bytes, const char *want)
{
    char json[4096];
    snprintf(json, sizeof json, base_json, cls, extra, path, shape, more);
    mkdir(tpath("x"), 0777);
    write_file(tpath("x/model.json"), json, strlen(json));
    float w[64] = { 0 };
    write_file(tpath("x/w.bin"), w, bytes);
    sq_session *s = sq_session_new();
    long d[1] = { 5 };
    ck_assert_int_eq(sq_input(s, 1, d, &err), 0);
    ck_assert_int_eq(add_line(s, "dense 2 name=keep", &err), 0);
    char *before = sq_summary(s, &err);
    float w0 = s->model->params[0];
    ck_assert_msg(sq_load(s, tpath("x/model.json"), &err) == -1, "loaded: %s", json);
    ck_assert_msg(strstr(err.msg, want) != NULL, "message '%s' lacks '%s'", err.msg, want);
    char *after = sq_summary(s, &err);
    ck_assert_str_eq(before, after);
    ck_assert(s->model->params[0] == w0);
    free(before);
    free(after);
    sq_session_free(s);
}

START_TEST(broken_files_change_nothing)
{
    /* the well-formed file loads */
    char json[4096];
    snprintf(json, sizeof json, base_json, "Dense", ",\"use_bias\":false", "w.bin", "2,3", "");
    mkdir(tpath("x"), 0777);
    write_file(tpath("x/model.json"), json, strlen(json));
    float w[6] = { 1, 2, 3, 4, 5, 6 };
    write_file(tpath("x/w.bin"), w, sizeof w);
    sq_session *s = sq_session_new();
    ck_assert_msg(sq_load(s, tpath("x/model.json"), &err) == 0, "%s", err.msg);
    ck_assert(s->model->params[5] == 6);
    sq_session_free(s);

    refused("Dense", "", "w.bin", "2,3", "", 20, "a file is truncated");
    refused("Dense", "", "nope.bin", "2,3", "", 24, "weight file");
    refused("Dense", "", "../x/w.bin", "2,3", "", 24, "leaves the model's folder");
    refused("Dense", "", "/etc/passwd", "2,3", "", 24, "leaves the model's folder");
    refused("Dense", "", "w.bin", "3,2", "", 24, "has shape (3, 2), but layer d needs (2, 3)");
    refused("Dense", "", "w.bin", "2,3",
            ",{\"name\":\"d/bias\",\"shape\":[3],\"dtype\":\"float32\"},"
            "{\"name\":\"e/bias\",\"shape\":[1],\"dtype\":\"float32\"}", 40,
            "weight e/bias belongs to no layer");
    refused("Dense", ",\"use_bias\":true", "w.bin", "2,3", "", 24, "has no weight d/bias");
    refused("Dense", ",\"use_bias\":false", "w.bin", "1000000,1000000", "", 24,
            "the model's weight files");
    refused("Attention", "", "w.bin", "2,3", "", 24,
            "layer d is of kind Attention, which seqsh does not have");
    refused("Conv3D", "", "w.bin", "2,3", "", 24, "the nearest kind seqsh has is Conv2D");
    refused("Dense", ",\"activation\":\"mish\"", "w.bin", "2,3", "", 24,
            "unknown activation 'mish'");
    refused("Dense", ",\"go_backwards\":true", "w.bin", "2,3", "", 24,
            "sets `go_backwards` to true, which seqsh's Dense cannot express");
    refused("Conv2D", ",\"data_format\":\"channels_first\"", "w.bin", "2,3", "", 24,
            "has data_format=\"channels_first\"; seqsh computes only \"channels_last\"");
    refused("Dense", ",\"use_bias\":[3]", "w.bin", "2,3", "", 24, "`use_bias` [3] is not a value");
}
END_TEST

START_TEST(broken_json_changes_nothing)
{
    sq_session *s = sq_session_new();
    long d[1] = { 5 };
    ck_assert_int_eq(sq_input(s, 1, d, &err), 0);
    ck_assert_int_eq(add_line(s, "dense 2 name=keep", &err), 0);
    mkdir(tpath("y"), 0777);
    struct { const char *text, *want; } cases[] = {
        { "{\"modelTopology\": {", "is not valid JSON" },
        { "[1, 2", "is not valid JSON" },
        { "{\"a\": 1, \"a\": 2}", "is not valid JSON" },
        { "{\"format\": \"graph-model\", \"modelTopology\": {}}", "graph model" },
        { "{\"modelTopology\": {\"model_config\": {\"class_name\": \"Functional\", \"config\": {}}}}",
          "holds a Functional model, not a Sequential one" },
        { "{\"modelTopology\": {\"class_name\": \"Sequential\", \"config\": {\"layers\": 3}}}",
          "layers are not a list" },
        { "{\"modelTopology\": {\"class_name\": \"Sequential\", \"config\": [{\"class_name\": "
          "\"Dense\", \"config\": {\"name\": \"a/b\", \"units\": 2}}]}}", "invalid name" },
        { "{\"modelTopology\": {\"class_name\": \"Sequential\", \"config\": [{\"class_name\": "
          "\"Dense\", \"config\": {\"name\": \"a\", \"units\": 2}}, {\"class_name\": "
          "\"Dense\", \"config\": {\"name\": \"a\", \"units\": 2}}]}}", "two layers are named a" },
        { "{\"modelTopology\": {\"keras_version\": \"3.1.0\", \"class_name\": \"Sequential\", "
          "\"config\": [{\"class_name\": \"Dense\", \"config\": {\"name\": \"a\", \"units\": 2, "
          "\"activation\": \"hard_sigmoid\"}}]}}", "Keras 3's hard_sigmoid" },
        /* [null] is a batch of scalars; an empty list or six entries are not shapes */
        { "{\"modelTopology\": {\"class_name\": \"Sequential\", \"config\": [{\"class_name\": "
          "\"InputLayer\", \"config\": {\"batch_input_shape\": []}}]}}",
          "input shape [] is not a list of 1 to 5 dimensions" },
        { "{\"modelTopology\": {\"class_name\": \"Sequential\", \"config\": [{\"class_name\": "
          "\"InputLayer\", \"config\": {\"batch_input_shape\": [null, 1, 1, 1, 1, 1]}}]}}",
          "is not a list of 1 to 5 dimensions" },
    };
    char *before = sq_summary(s, &err);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_file(tpath("y/model.json"), cases[i].text, strlen(cases[i].text));
        ck_assert_msg(sq_load(s, tpath("y/model.json"), &err) == -1, "%s loaded", cases[i].text);
        ck_assert_msg(strstr(err.msg, cases[i].want), "'%s' lacks '%s'", err.msg, cases[i].want);
        char *after = sq_summary(s, &err);
        ck_assert_str_eq(before, after);
        free(after);
    }
    /* deep nesting is refused before the parser recurses */
    char deep[4000];
    memset(deep, '[', 3000);
    deep[3000] = '\0';
    write_file(tpath("y/model.json"), deep, 3000);
    ck_assert_int_eq(sq_load(s, tpath("y/model.json"), &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "nests JSON more than 64 levels deep"));
    /* a symlink out of the folder is refused as a path is */
    write_file(tpath("outside.bin"), "0123456789012345678901234", 24);
    const char *j = "{\"modelTopology\": {\"class_name\": \"Sequential\", \"config\": [{\"class_name\":"
        " \"Dense\", \"config\": {\"name\": \"d\", \"units\": 3, \"batch_input_shape\": [null, 2],"
        " \"use_bias\": false}}]}, \"weightsManifest\": [{\"paths\": [\"link.bin\"], \"weights\":"
        " [{\"name\": \"d/kernel\", \"shape\": [2, 3], \"dtype\": \"float32\"}]}]}";
    write_file(tpath("y/model.json"), j, strlen(j));
    unlink(tpath("y/link.bin"));
    ck_assert_int_eq(symlink(tpath("outside.bin"), tpath("y/link.bin")), 0);
    ck_assert_int_eq(sq_load(s, tpath("y/model.json"), &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "leaves the model's folder"));
    /* the same shard inside the folder loads, with or without .bin */
    unlink(tpath("y/link.bin"));
    write_file(tpath("y/link"), "0123456789012345678901234", 24);
    ck_assert_msg(sq_load(s, tpath("y/model.json"), &err) == 0, "%s", err.msg);
    /* an input of scalars, as Keras saves a model built by a call on a 1-D tensor */
    j = "{\"modelTopology\": {\"class_name\": \"Sequential\", \"config\": [{\"class_name\":"
        " \"InputLayer\", \"config\": {\"batch_input_shape\": [7]}}, {\"class_name\":"
        " \"Rescaling\", \"config\": {\"name\": \"r\", \"scale\": 2.0, \"offset\": 0.0}}]}}";
    write_file(tpath("y/model.json"), j, strlen(j));
    ck_assert_msg(sq_load(s, tpath("y/model.json"), &err) == 0, "%s", err.msg);
    ck_assert_int_eq(s->model->input_shape.rank, 1);
    ck_assert_int_eq(s->model->input_shape.d[0], -1);
    free(before);
    sq_session_free(s);
}
END_TEST

/* ---- HDF5 ------------------------------------------------------------------ */

START_TEST(reads_keras_h5_files)
{
    check_outputs("a_keras21.h5", "a_input.npy", "a_output.npy");
    check_outputs("a_keras215.h5", "a_input.npy", "a_output.npy");
    check_outputs("a_keras3.h5", "a_input.npy", "a_output.npy");
    sq_session *s = sq_session_new();
    char notes[1024];
    ck_assert_int_eq(sq_load_noted(s, fixture("a_keras215.h5"), notes, sizeof notes, &err), 0);
    ck_assert_str_eq(notes, "note: the file's optimizer state (2 arrays) is ignored; fit starts "
                     "afresh\n");
    char *t = compiled_text(s);
    ck_assert_str_eq(t, "compile optimizer=adam loss=categorical_crossentropy "
                     "metrics=categorical_accuracy learning_rate=0.002 beta_1=0.9 "
                     "beta_2=0.999 epsilon=1e-07 amsgrad=false");
    free(t);
    /* round trip, the nested model included */
    sq_session *b = sq_session_new();
    ck_assert_msg(sq_save(s, tpath("m.h5"), &err) == 0, "%s", err.msg);
    ck_assert_msg(sq_load(b, tpath("m.h5"), &err) == 0, "%s", err.msg);
    ck_assert(!memcmp(s->model->params, b->model->params, s->model->nparams * sizeof(float)));
    ck_assert_int_eq(sq_save(s, tpath("inner.seqm"), &err), 0);
    ck_assert_int_eq(sq_model_new(s, "outer", &err), 0);
    long d[3] = { 8, 8, 2 };
    ck_assert_int_eq(sq_input(s, 3, d, &err), 0);
    ck_assert_int_eq(sq_add_model(s, tpath("inner.seqm"), "base", 1, &err), 0);
    ck_assert_int_eq(add_line(s, "dense 2", &err), 0);
    ck_assert_int_eq(sq_save(s, tpath("n.h5"), &err), 0);
    ck_assert_msg(sq_load(b, tpath("n.h5"), &err) == 0, "%s", err.msg);
    char *sa = sq_summary(s, &err), *sb = sq_summary(b, &err);
    ck_assert_str_eq(sa, sb);
    free(sa);
    free(sb);
    ck_assert(!memcmp(s->model->params, b->model->params, s->model->nparams * sizeof(float)));
    sq_session_free(b);
    sq_session_free(s);
}
END_TEST

START_TEST(broken_h5_changes_nothing)
{
    sq_session *s = sq_session_new();
    long d[1] = { 5 };
    ck_assert_int_eq(sq_input(s, 1, d, &err), 0);
    ck_assert_int_eq(add_line(s, "dense 2 name=keep", &err), 0);
    char *before = sq_summary(s, &err);
    /* every truncation of a real file, and a file that is not HDF5 */
    FILE *f = fopen(fixture("a_keras215.h5"), "rb");
    static unsigned char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    for (size_t cut = 0; cut < n; cut += n / 23 + 1) {
        write_file(tpath("t.h5"), buf, cut);
        ck_assert_int_eq(sq_load(s, tpath("t.h5"), &err), -1);
        ck_assert(err.msg[0]);
    }
    write_file(tpath("t.h5"), "{\"not\": \"hdf5\"}", 15);
    ck_assert_int_eq(sq_load(s, tpath("t.h5"), &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "is not an HDF5 file"));
    /* weights only, no model_config */
    ck_assert_int_eq(sq_model_new(s, NULL, &err), 0);
    ck_assert_int_eq(sq_load(s, tpath("m.h5"), &err), -1);
    ck_assert_int_eq(sq_load(s, fixture("a_keras21.h5"), &err), 0);
    ck_assert_int_eq(sq_save_weights(s, tpath("w.npz"), &err), 0);
    ck_assert_int_eq(sq_load(s, tpath("w.npz.h5"), &err), -1);
    sq_session_free(s);
    s = sq_session_new();
    ck_assert_int_eq(sq_input(s, 1, d, &err), 0);
    ck_assert_int_eq(add_line(s, "dense 2 name=keep", &err), 0);
    ck_assert_int_eq(sq_load(s, fixture("a_input.npy.h5"), &err), -1);
    char *after = sq_summary(s, &err);
    ck_assert_str_eq(before, after);
    free(before);
    free(after);
    sq_session_free(s);
}
END_TEST

/* ---- the second wave: recurrent, 1-D and wrapper kinds ------------------ */

/* Every layer's describe line (hidden cell names included) and every
 * weight of a and b are the same. */
static void same_models(sq_session *a, sq_session *b)
{
    ck_assert_int_eq(a->model->n, b->model->n);
    for (int i = 0; i < a->model->n; i++) {
        sbuf x = { 0 }, y = { 0 };
        sq_layer_describe(a->model->layers[i], &x);
        sq_layer_describe(b->model->layers[i], &y);
        char *tx = sb_finish(&x, NULL), *ty = sb_finish(&y, NULL);
        ck_assert_str_eq(tx, ty);
        free(tx);
        free(ty);
    }
    ck_assert_uint_eq(a->model->nparams, b->model->nparams);
    ck_assert(!memcmp(a->model->params, b->model->params, a->model->nparams * sizeof(float)));
}

START_TEST(reads_recurrent_models)
{
    /* Keras 2.6's .h5 with cell scopes (outputs from torch's LSTM and GRU),
     * TF.js's folder without them and without GRU's reset_after */
    check_outputs("rnn_keras26.h5", "rnn_input.npy", "rnn_output.npy");
    check_outputs("rnn_tfjs/model.json", "rnn_tfjs_input.npy", "rnn_tfjs_output.npy");
    sq_session *a = sq_session_new(), *b = sq_session_new();
    ck_assert_int_eq(sq_load(a, fixture("rnn_keras26.h5"), &err), 0);
    /* the stored cell scopes are the layers' own: they are saved again */
    sbuf d = { 0 };
    sq_layer_describe(a->model->layers[2], &d);
    char *t = sb_finish(&d, NULL);
    ck_assert_str_eq(t, "add bidirectional gru units=2 "
                     "layer_name=gru forward_cell_name=gru_cell_1 backward_cell_name=gru_cell_2 "
                     "name=bidirectional");
    free(t);
    ck_assert_msg(sq_save(a, tpath("r.h5"), &err) == 0, "%s", err.msg);
    ck_assert_msg(sq_load(b, tpath("r.h5"), &err) == 0, "%s", err.msg);
    same_models(a, b);
    /* TF.js's GRU has no reset_after=true: refused by name, nothing written */
    ck_assert_int_eq(sq_save(a, tpath("r/model.json"), &err), -1);
    ck_assert_str_eq(err.msg, "layer bidirectional (Bidirectional): layer gru (GRU): "
                     "reset_after=true cannot be expressed in the TF.js Layers format "
                     "(TensorFlow.js's GRU has only reset_after=false)");
    ck_assert_int_eq(access(tpath("r"), F_OK), -1);
    ck_assert_int_eq(sq_load(a, fixture("rnn_tfjs/model.json"), &err), 0);
    ck_assert_msg(sq_save(a, tpath("t/model.json"), &err) == 0, "%s", err.msg);
    ck_assert_msg(sq_load(b, tpath("t/model.json"), &err) == 0, "%s", err.msg);
    same_models(a, b);
    ck_assert_msg(sq_save(a, tpath("t.h5"), &err) == 0, "%s", err.msg);
    ck_assert_msg(sq_load(b, tpath("t.h5"), &err) == 0, "%s", err.msg);
    same_models(a, b);
    sq_session_free(a);
    sq_session_free(b);
}
END_TEST

START_TEST(every_new_kind_round_trips)
{
    static const char *const lines[] = {
        "conv1d 4 3 padding=causal dilation_rate=2 relu", "maxpooling1d 2 padding=same",
        "averagepooling1d 3 strides=1 padding=same", "upsampling1d 3", "zeropadding1d (1,2)",
        "cropping1d (2,1)", "layernormalization epsilon=0.01 center=false",
        "leakyrelu 0.1", "prelu shared_axes=1", "elu alpha=0.5",
        "relu 6 negative_slope=0.1 threshold=0.2", "thresholdedrelu 0.3", "softmax axis=1",
        "permute 2,1", "globalmaxpooling1d keepdims=true", "globalaveragepooling1d",
        "repeatvector 5", "masking 0.5", "simplernn 4 return_sequences=true go_backwards=true",
        "lstm 3 return_sequences=true recurrent_activation=hard_sigmoid use_bias=false",
        "gru 3 return_sequences=true reset_after=false",
        "bidirectional lstm 2 return_sequences=true merge_mode=sum",
        "bidirectional gru 2 return_sequences=true merge_mode=mul",
        "timedistributed dense 3 relu", "bidirectional simplernn 2 merge_mode=ave",
    };
    sq_session *a = sq_session_new(), *b = sq_session_new();
    long d[2] = { 12, 3 };
    ck_assert_int_eq(sq_input(a, 2, d, &err), 0);
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
        ck_assert_msg(add_line(a, lines[i], &err) == 0, "%s: %s", lines[i], err.msg);
    ck_assert_msg(sq_save(a, tpath("w.h5"), &err) == 0, "%s", err.msg);
    ck_assert_msg(sq_load(b, tpath("w.h5"), &err) == 0, "%s", err.msg);
    /* options set to their defaults come back unset; the rest is the same */
    ck_assert_int_eq(a->model->n, b->model->n);
    ck_assert_uint_eq(a->model->nparams, b->model->nparams);
    ck_assert(!memcmp(a->model->params, b->model->params, a->model->nparams * sizeof(float)));
    sq_tensor x, ya, yb;
    long xd[3] = { 2, 12, 3 };
    ck_assert_int_eq(sq_tensor_generate(a, "random", 3, xd, &x, &err), 0);
    ck_assert_int_eq(sq_call(a, &x, &ya, &err), 0);
    ck_assert_int_eq(sq_call(b, &x, &yb, &err), 0);
    ck_assert(!memcmp(ya.data, yb.data, sq_shape_count(&ya.shape) * sizeof(float)));
    sq_tensor_free(&ya);
    sq_tensor_free(&yb);
    sq_tensor_free(&x);
    /* what TF.js 4.22 lacks is refused naming the layer */
    struct { const char *line, *want; } tfjs[] = {
        { "upsampling1d 2 name=up", "layer up (UpSampling1D) cannot be expressed in the TF.js "
          "Layers format (TensorFlow.js has no UpSampling1D layer)" },
        { "zeropadding1d 1 name=zp", "layer zp (ZeroPadding1D) cannot be expressed" },
        { "cropping1d 1 name=cr", "layer cr (Cropping1D) cannot be expressed" },
        { "conv1d 2 2 padding=causal name=cc", "layer cc (Conv1D): padding=causal cannot be "
          "expressed" },
        { "elu 0.5 name=el", "layer el (ELU): alpha=0.5 cannot be expressed" },
        { "relu threshold=0.5 name=rl", "layer rl (ReLU): threshold cannot be expressed" },
        { "softmax axis=1 name=sm", "layer sm (Softmax): axis=1 cannot be expressed" },
        { "globalmaxpooling1d keepdims=true name=gp", "layer gp (GlobalMaxPooling1D): keepdims "
          "cannot be expressed" },
        { "gru 2 name=g", "layer g (GRU): reset_after=true cannot be expressed" },
        { "timedistributed dense 2 name=td", NULL },
    };
    for (size_t i = 0; i < sizeof tfjs / sizeof tfjs[0]; i++) {
        ck_assert_int_eq(sq_model_new(a, NULL, &err), 0);
        ck_assert_int_eq(sq_input(a, 2, d, &err), 0);
        ck_assert_msg(add_line(a, tfjs[i].line, &err) == 0, "%s: %s", tfjs[i].line, err.msg);
        int rc = sq_save(a, tpath("f/model.json"), &err);
        if (!tfjs[i].want) {
            ck_assert_msg(rc == 0, "%s", err.msg);
            continue;
        }
        ck_assert_int_eq(rc, -1);
        ck_assert_msg(strstr(err.msg, tfjs[i].want), "'%s' lacks '%s'", err.msg, tfjs[i].want);
    }
    sq_session_free(a);
    sq_session_free(b);
}
END_TEST

/* ---- the 2-D kinds of the second wave --------------------------------------- */

START_TEST(reads_2d_models)
{
    /* Keras 2.6's .h5 (bilinear, output_padding, dilations included) and
     * TF.js's folder; outputs from naive loops and torch */
    check_outputs("conv2d_keras26.h5", "conv2d_input.npy", "conv2d_output.npy");
    check_outputs("conv2d_tfjs/model.json", "conv2d_tfjs_input.npy", "conv2d_tfjs_output.npy");
    sq_session *a = sq_session_new(), *b = sq_session_new();
    ck_assert_int_eq(sq_load(a, fixture("conv2d_keras26.h5"), &err), 0);
    ck_assert_msg(sq_save(a, tpath("c.h5"), &err) == 0, "%s", err.msg);
    ck_assert_msg(sq_load(b, tpath("c.h5"), &err) == 0, "%s", err.msg);
    same_models(a, b);
    /* what TF.js would load and compute otherwise is refused, nothing written */
    ck_assert_int_eq(sq_save(a, tpath("c/model.json"), &err), -1);
    ck_assert_str_eq(err.msg, "layer conv2d_transpose_1 (Conv2DTranspose): output_padding=(1,0) "
                     "cannot be expressed in the TF.js Layers format (TensorFlow.js's "
                     "Conv2DTranspose has no output_padding)");
    ck_assert_int_eq(access(tpath("c"), F_OK), -1);
    ck_assert_int_eq(sq_load(a, fixture("conv2d_tfjs/model.json"), &err), 0);
    ck_assert_msg(sq_save(a, tpath("t/model.json"), &err) == 0, "%s", err.msg);
    ck_assert_msg(sq_load(b, tpath("t/model.json"), &err) == 0, "%s", err.msg);
    same_models(a, b);
    ck_assert_msg(sq_save(a, tpath("t.h5"), &err) == 0, "%s", err.msg);
    ck_assert_msg(sq_load(b, tpath("t.h5"), &err) == 0, "%s", err.msg);
    same_models(a, b);
    sq_session_free(a);
    sq_session_free(b);
}
END_TEST

/* Reads the whole of file `path` (NUL-terminated, malloc'd). */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strdup(buf);
}

START_TEST(margins_in_every_form)
{
    /* Keras writes ((t, b), (l, r)); an int and a pair mean what Keras's
     * constructors make of them */
    const char *j = "{\"modelTopology\": {\"class_name\": \"Sequential\", \"config\": ["
        "{\"class_name\": \"ZeroPadding2D\", \"config\": {\"name\": \"z\", \"padding\": 2, "
        "\"batch_input_shape\": [null, 4, 5, 1]}},"
        "{\"class_name\": \"ZeroPadding2D\", \"config\": {\"name\": \"y\", \"padding\": [1, 0]}},"
        "{\"class_name\": \"Cropping2D\", \"config\": {\"name\": \"c\", \"cropping\": [[3, 0], 1]}},"
        "{\"class_name\": \"Cropping2D\", \"config\": {\"name\": \"d\", \"cropping\": [[0, 1], "
        "[2, 0]], \"data_format\": \"channels_last\"}}]}}";
    mkdir(tpath("m"), 0777);
    write_file(tpath("m/model.json"), j, strlen(j));
    sq_session *s = sq_session_new();
    ck_assert_msg(sq_load(s, tpath("m/model.json"), &err) == 0, "%s", err.msg);
    long want[4][2] = { { 8, 9 }, { 10, 9 }, { 7, 7 }, { 6, 5 } };
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(s->model->layers[i]->out_shape.d[1], want[i][0]);
        ck_assert_int_eq(s->model->layers[i]->out_shape.d[2], want[i][1]);
    }
    ck_assert_msg(sq_save(s, tpath("n/model.json"), &err) == 0, "%s", err.msg);
    char *t = slurp(tpath("n/model.json"));
    ck_assert_msg(strstr(t, "\"padding\":[[2,2],[2,2]]") && strstr(t, "\"padding\":[[1,1],[0,0]]")
                  && strstr(t, "\"cropping\":[[3,0],[1,1]]"), "%s", t);
    free(t);
    /* a layout seqsh does not compute, and margins that are not margins */
    j = "{\"modelTopology\": {\"class_name\": \"Sequential\", \"config\": ["
        "{\"class_name\": \"Cropping2D\", \"config\": {\"name\": \"c\", \"cropping\": %s, "
        "\"data_format\": \"%s\", \"batch_input_shape\": [null, 4, 5, 1]}}]}}";
    struct { const char *v, *fmt, *want; } bad[] = {
        { "1", "channels_first", "has data_format=\"channels_first\"; seqsh computes only "
          "\"channels_last\"" },
        { "[1, 2, 3]", "channels_last", "`cropping` should have two elements. Found: (1, 2, 3)" },
        { "[[1, 2, 3], 1]", "channels_last", "The `1st entry of cropping` argument must be a "
          "tuple of 2 integers" },
        { "[[[1]], 1]", "channels_last", "`cropping` [[[1]],1] is not a value seqsh understands" },
        { "\"a\"", "channels_last", "Cropping2D: `cropping` must" },
    };
    char buf[1024];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(buf, sizeof buf, j, bad[i].v, bad[i].fmt);
        write_file(tpath("m/model.json"), buf, strlen(buf));
        ck_assert_int_eq(sq_load(s, tpath("m/model.json"), &err), -1);
        ck_assert_msg(strstr(err.msg, bad[i].want), "'%s' lacks '%s'", err.msg, bad[i].want);
    }
    sq_session_free(s);
}
END_TEST

START_TEST(every_2d_kind_round_trips)
{
    static const char *const lines[] = {
        "conv2dtranspose 4 (3,4) strides=2 padding=same relu",
        "conv2dtranspose 3 3 strides=(2,1) padding=same output_padding=(1,0) use_bias=false",
        "conv2dtranspose 2 2 dilation_rate=2", "depthwiseconv2d 3 strides=2 padding=same "
        "depth_multiplier=2", "depthwiseconv2d (2,3) dilation_rate=(2,1) use_bias=false tanh",
        "separableconv2d 5 (3,2) dilation_rate=2 padding=same depth_multiplier=3",
        "separableconv2d 3 2 strides=2 use_bias=false", "zeropadding2d ((1,2),(0,3))",
        "zeropadding2d", "cropping2d (1,2)", "cropping2d ((2,0),(0,3))",
        "upsampling2d (2,3) interpolation=bilinear", "upsampling2d",
    };
    sq_session *a = sq_session_new(), *b = sq_session_new();
    long d[3] = { 5, 6, 2 };
    ck_assert_int_eq(sq_input(a, 3, d, &err), 0);
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
        ck_assert_msg(add_line(a, lines[i], &err) == 0, "%s: %s", lines[i], err.msg);
    ck_assert_msg(sq_save(a, tpath("w.h5"), &err) == 0, "%s", err.msg);
    ck_assert_msg(sq_load(b, tpath("w.h5"), &err) == 0, "%s", err.msg);
    /* options set to their defaults come back unset; the rest is the same */
    ck_assert_int_eq(a->model->n, b->model->n);
    for (int i = 0; i < a->model->n; i++) {
        sbuf x = { 0 }, y = { 0 };
        sq_layer_describe(a->model->layers[i], &x);
        sq_layer_describe(b->model->layers[i], &y);
        char *tx = sb_finish(&x, NULL), *ty = sb_finish(&y, NULL);
        if (!strstr(tx, "zero_padding2d_1"))    /* padding=1 was not typed */
            ck_assert_str_eq(tx, ty);
        free(tx);
        free(ty);
    }
    ck_assert_uint_eq(a->model->nparams, b->model->nparams);
    ck_assert(!memcmp(a->model->params, b->model->params, a->model->nparams * sizeof(float)));
    sq_tensor x, ya, yb;
    long xd[4] = { 2, 5, 6, 2 };
    ck_assert_int_eq(sq_tensor_generate(a, "random", 4, xd, &x, &err), 0);
    ck_assert_int_eq(sq_call(a, &x, &ya, &err), 0);
    ck_assert_int_eq(sq_call(b, &x, &yb, &err), 0);
    ck_assert(!memcmp(ya.data, yb.data, sq_shape_count(&ya.shape) * sizeof(float)));
    sq_tensor_free(&ya);
    sq_tensor_free(&yb);
    sq_tensor_free(&x);
    /* every export writes them (their outputs: make check-interop) */
    ck_assert_msg(sq_export(a, "onnx", tpath("w.onnx"), &err) == 0, "%s", err.msg);
    ck_assert_msg(sq_export(a, "pytorch", tpath("w.py"), &err) == 0, "%s", err.msg);
    ck_assert_msg(sq_export(a, "keras", tpath("k.py"), &err) == 0, "%s", err.msg);
    char *t = slurp(tpath("k.py"));
    ck_assert_msg(strstr(t, "layers.ZeroPadding2D(padding=((1, 2), (0, 3)), "
                         "data_format=\"channels_last\", name=\"zero_padding2d\")"), "%s", t);
    ck_assert_msg(strstr(t, "output_padding=(1, 0)") && strstr(t, "output_padding=None"), "%s", t);
    free(t);
    /* what TF.js 4.22 lacks or computes otherwise is refused naming the layer */
    struct { const char *line, *want; } tfjs[] = {
        { "upsampling2d interpolation=bilinear name=up", "layer up (UpSampling2D): "
          "interpolation=bilinear cannot be expressed in the TF.js Layers format" },
        { "conv2dtranspose 2 3 strides=2 output_padding=1 name=ct", "layer ct (Conv2DTranspose): "
          "output_padding=(1,1) cannot be expressed" },
        { "conv2dtranspose 2 3 dilation_rate=2 name=ct", "layer ct (Conv2DTranspose): "
          "dilation_rate=(2, 2) cannot be expressed" },
        { "depthwiseconv2d 3 dilation_rate=(1,2) name=dw", "layer dw (DepthwiseConv2D): "
          "dilation_rate=(1, 2) cannot be expressed" },
        { "timedistributed depthwiseconv2d 2 dilation_rate=2 layer_name=dw name=td", "layer td "
          "(TimeDistributed): layer dw (DepthwiseConv2D): dilation_rate=(2, 2) cannot be "
          "expressed" },
        { "separableconv2d 2 3 dilation_rate=2 name=sc", NULL },
        { "conv2dtranspose 2 3 strides=2 output_padding=None name=ct", NULL },
        { "upsampling2d (2,3) interpolation=nearest", NULL },
    };
    for (size_t i = 0; i < sizeof tfjs / sizeof tfjs[0]; i++) {
        ck_assert_int_eq(sq_model_new(a, NULL, &err), 0);
        long d4[4] = { 2, 7, 6, 2 };
        int td = !strncmp(tfjs[i].line, "timedistributed", 15);
        ck_assert_int_eq(sq_input(a, td ? 4 : 3, td ? d4 : d, &err), 0);
        ck_assert_msg(add_line(a, tfjs[i].line, &err) == 0, "%s: %s", tfjs[i].line, err.msg);
        int rc = sq_save(a, tpath("f/model.json"), &err);
        if (!tfjs[i].want) {
            ck_assert_msg(rc == 0, "%s", err.msg);
            continue;
        }
        ck_assert_int_eq(rc, -1);
        ck_assert_msg(strstr(err.msg, tfjs[i].want), "'%s' lacks '%s'", err.msg, tfjs[i].want);
    }
    sq_session_free(a);
    sq_session_free(b);
}
END_TEST

/* ---- exports (their outputs are checked in their clients by make
 * check-interop; here what make check can see without them) ---------------- */

START_TEST(exports_write_or_refuse)
{
    sq_session *s = sq_session_new();
    ck_assert_int_eq(sq_export(s, "onnx", tpath("e.onnx"), &err), -1);
    ck_assert_str_eq(err.msg, "export needs a built model with layers (give it an input shape)");
    ck_assert_int_eq(sq_load(s, fixture("a_keras26/model.json"), &err), 0);
    ck_assert_int_eq(sq_export(s, "tflite", tpath("e.tflite"), &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "unknown export format 'tflite'"));
    ck_assert_int_eq(sq_export(s, "pytorch", tpath("e.txt"), &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "must end in .py"));
    ck_assert_int_eq(count_files(tmp), 0);
    ck_assert_msg(sq_export(s, "onnx", tpath("e.onnx"), &err) == 0, "%s", err.msg);
    ck_assert_msg(sq_export(s, "pytorch", tpath("t.py"), &err) == 0, "%s", err.msg);
    ck_assert_msg(sq_export(s, "keras", tpath("k.py"), &err) == 0, "%s", err.msg);
    ck_assert_int_eq(count_files(tmp), 5);   /* e.onnx, t.py, t.npz, k.py, k.npz */
    /* the .npz holds every weight under its Keras name, as saved */
    npz_entry *e;
    int n;
    ck_assert_int_eq(npz_read_file(tpath("t.npz"), &e, &n, &err), 0);
    ck_assert_int_eq(n, 11);
    ck_assert_str_eq(e[2].name, "batch_normalization/gamma");
    ck_assert(!memcmp(e[0].t.data, s->model->params, 72 * sizeof(float)));
    sq_named_free(e, n);
    /* the ONNX file starts as protobuf does: field 1 (ir_version), varint 8 */
    FILE *f = fopen(tpath("e.onnx"), "rb");
    unsigned char head[2];
    ck_assert_uint_eq(fread(head, 1, 2, f), 2);
    fclose(f);
    ck_assert_uint_eq(head[0], 0x08);
    ck_assert_uint_eq(head[1], 8);
    sq_session_free(s);
}
END_TEST

/* Builds the model of `lines` (";"-separated, "input ..." first) in a new
 * session. */
static sq_session *model_of(const char *lines)
{
    sq_session *s = sq_session_new();
    char buf[1024], *save = NULL;
    snprintf(buf, sizeof buf, "%s", lines);
    for (char *ln = strtok_r(buf, ";", &save); ln; ln = strtok_r(NULL, ";", &save)) {
        while (*ln == ' ')
            ln++;
        if (!strncmp(ln, "input ", 6)) {
            long d[SQ_MAX_RANK];
            int n = 0;
            for (char *p = ln + 6, *end; n < SQ_MAX_RANK && (d[n] = strtol(p, &end, 10), end != p);
                 p = end)
                n++;
            ck_assert_int_eq(sq_input(s, n, d, &err), 0);
        } else {
            ck_assert_msg(add_line(s, ln + 4, &err) == 0, "%s: %s", ln, err.msg);
        }
    }
    return s;
}

START_TEST(masked_recurrent_layers)
{
    /* ONNX: a Keras mask goes into the recurrent layers (their outputs are
     * checked in onnxruntime by make check-interop); one it cannot follow
     * is refused naming the layer */
    static const char *const onnx_ok[] = {
        "input 7; add embedding 10 4 mask_zero=true; add dense 3; add lstm 3 "
        "return_sequences=true; add bidirectional gru 2 go_backwards=true merge_mode=sum",
        "input 6 3; add masking; add timedistributed dense 2; add simplernn 2 activation=selu",
        "input 6 3; add simplernn 2 activation=gelu return_sequences=true; add gru 2",
    };
    for (size_t i = 0; i < sizeof onnx_ok / sizeof onnx_ok[0]; i++) {
        sq_session *s = model_of(onnx_ok[i]);
        ck_assert_msg(sq_export(s, "onnx", tpath("r.onnx"), &err) == 0, "%s: %s", onnx_ok[i],
                      err.msg);
        sq_session_free(s);
    }
    sq_session *s = model_of("input 4 3 2; add masking; add timedistributed "
                             "globalaveragepooling1d name=t; add lstm 2 name=l");
    ck_assert_int_eq(sq_export(s, "onnx", tpath("u.onnx"), &err), -1);
    ck_assert_str_eq(err.msg, "layer t (TimeDistributed): its input's Keras mask reaches the "
                     "GlobalAveragePooling1D it wraps, which this seqsh cannot follow into ONNX");
    ck_assert_int_eq(access(tpath("u.onnx"), F_OK), -1);
    ck_assert_int_eq(sq_export(s, "pytorch", tpath("u.py"), &err), -1);
    ck_assert_str_eq(err.msg, "layer t (TimeDistributed): its input's Keras mask reaches the "
                     "GlobalAveragePooling1D it wraps, which cannot be expressed in PyTorch by "
                     "this seqsh");
    sq_session_free(s);
    /* a masked GlobalAveragePooling1D: ONNX and PyTorch follow the mask
     * (their outputs: make check-interop); TF.js averages every step */
    s = model_of("input 6; add embedding 9 3 mask_zero=true; add globalaveragepooling1d name=g; "
                 "add dense 2");
    ck_assert_msg(sq_export(s, "onnx", tpath("g.onnx"), &err) == 0, "%s", err.msg);
    ck_assert_msg(sq_export(s, "pytorch", tpath("g.py"), &err) == 0, "%s", err.msg);
    ck_assert_int_eq(sq_save(s, tpath("g/model.json"), &err), -1);
    ck_assert_str_eq(err.msg, "layer g (GlobalAveragePooling1D): a masked input cannot be "
                     "expressed in the TF.js Layers format (TensorFlow.js's "
                     "GlobalAveragePooling1D averages every step, Keras 2.6's only the unmasked "
                     "ones)");
    ck_assert_msg(sq_save(s, tpath("g.h5"), &err) == 0, "%s", err.msg);
    sq_session_free(s);
    /* TF.js: a Bidirectional returning sequences on a masked input gives
     * no zeros at masked steps; fine while a masked recurrent layer reads
     * them, refused when anything else does */
    struct { const char *lines, *want; } tfjs[] = {
        { "input 6; add embedding 5 3 mask_zero=true; add bidirectional lstm 2 "
          "return_sequences=true; add dense 2; add lstm 2", NULL },
        { "input 6; add embedding 5 3 mask_zero=true; add bidirectional lstm 2 "
          "return_sequences=true name=b; add flatten", "layer b (Bidirectional): "
          "return_sequences=true on a masked input cannot be expressed in the TF.js Layers "
          "format (TensorFlow.js's Bidirectional repeats the previous output at masked steps "
          "where Keras 2.6 gives 0, and layer flatten reads them)" },
        { "input 6; add embedding 5 3 mask_zero=true; add bidirectional lstm 2 "
          "return_sequences=true name=b", "and the model's output reads them" },
        { "input 6; add embedding 5 3 mask_zero=true; add bidirectional lstm 2 "
          "return_sequences=true go_backwards=true name=b; add lstm 2", "layer b "
          "(Bidirectional): return_sequences=true on a masked input" },
        { "input 6 2; add bidirectional lstm 2 return_sequences=true", NULL },
    };
    for (size_t i = 0; i < sizeof tfjs / sizeof tfjs[0]; i++) {
        s = model_of(tfjs[i].lines);
        int rc = sq_save(s, tpath("b/model.json"), &err);
        if (!tfjs[i].want) {
            ck_assert_msg(rc == 0, "%s: %s", tfjs[i].lines, err.msg);
        } else {
            ck_assert_int_eq(rc, -1);
            ck_assert_msg(strstr(err.msg, tfjs[i].want), "'%s' lacks '%s'", err.msg,
                          tfjs[i].want);
            ck_assert_msg(sq_save(s, tpath("b.h5"), &err) == 0, "%s", err.msg);
        }
        sq_session_free(s);
    }
}
END_TEST

/* ---- weight options: initializers and regularizers -------------------- */

/* Values no kind has as a weight's default, each in the text seqsh writes
 * back (so describe lines compare whole), cycled over a layer's options. */
static const char *const wo_inits[] = {
    "he_uniform(seed=5)", "random_normal(mean=0.5,stddev=0.25)", "constant(value=0.375)",
    "truncated_normal(stddev=0.125,seed=3)", "random_uniform(minval=-0.5,maxval=0.25)",
    "lecun_normal", "glorot_normal(seed=1)",
    "variance_scaling(scale=3.0,mode=fan_avg,distribution=uniform)",
};
static const char *const wo_regs[] = { "l2(0.001)", "l1(0.002)", "l1_l2(l1=0.003,l2=0.004)" };

/* The kind's example with every weight option of its (last) layer of kind
 * k set (activity_regularizer too when activity): into buf; 0 when that
 * layer has no weights. */
static int example_with_options(const sq_layer_kind *k, int activity, char *buf, size_t n)
{
    sq_session *s = model_of(k->example);
    sq_layer *l = NULL;
    for (int i = 0; i < s->model->n; i++)
        if (s->model->layers[i]->kind == k)
            l = s->model->layers[i];
    ck_assert_msg(l != NULL, "%s: its example adds no such layer", k->class_name);
    sq_wslot sl[SQ_MAX_WSLOTS];
    int ns = sq_layer_weight_slots(l, sl), q = 0;
    char opts[1024] = "";
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < ns; i++, q++) {
            if (pass && !sl[i].trainable)
                continue;
            snprintf(opts + strlen(opts), sizeof opts - strlen(opts), " %s_%s=%s", sl[i].stem,
                     pass ? "regularizer" : "initializer",
                     pass ? wo_regs[q % 3] : wo_inits[q % 8]);
        }
    if (activity)
        snprintf(opts + strlen(opts), sizeof opts - strlen(opts),
                 " activity_regularizer=l1_l2(l1=0.01,l2=0.02)");
    sq_session_free(s);
    if (ns == 0)
        return 0;
    /* the options go on the kind's last `add` */
    const char *at = NULL;
    for (const char *p = k->example; (p = strstr(p, "add ")); p++) {
        char word[64];
        if (sscanf(p + 4, "%63[^; ]", word) == 1 && sq_kind_find(word) == k)
            at = p;
    }
    ck_assert_ptr_nonnull(at);
    size_t end = (size_t)(at - k->example) + strcspn(at, ";");
    snprintf(buf, n, "%.*s%s%s", (int)end, k->example, opts, k->example + end);
    return 1;
}

/* a and b have the same weight options on every layer (and wrapped
 * layer), in the same order, and the same weights. */
static void same_options(sq_session *a, sq_session *b, const char *what)
{
    ck_assert_int_eq(a->model->n, b->model->n);
    for (int i = 0; i < a->model->n; i++)
        for (const sq_layer *x = a->model->layers[i], *y = b->model->layers[i]; x;
             x = x->inner, y = y->inner) {
            ck_assert_ptr_nonnull(y);
            ck_assert_msg(x->nwopt == y->nwopt, "%s: layer %s has %d weight options, %d after",
                          what, x->name, x->nwopt, y->nwopt);
            for (int j = 0; j < x->nwopt; j++) {
                ck_assert_str_eq(x->wopt[j].key, y->wopt[j].key);
                ck_assert_str_eq(x->wopt[j].text, y->wopt[j].text);
            }
        }
    ck_assert_uint_eq(a->model->nparams, b->model->nparams);
    ck_assert(!memcmp(a->model->params, b->model->params, a->model->nparams * sizeof(float)));
}

START_TEST(every_kind_keeps_weight_options)
{
    int tested = 0;
    for (int i = 0; i < sq_kind_count(); i++) {
        const sq_layer_kind *k = sq_kinds[i];
        char line[2048];
        if (!example_with_options(k, 1, line, sizeof line))
            continue;
        sq_session *a = model_of(line), *b = sq_session_new();
        ck_assert_msg(sq_save(a, tpath("w.h5"), &err) == 0, "%s: %s", k->class_name, err.msg);
        ck_assert_msg(sq_load(b, tpath("w.h5"), &err) == 0, "%s: %s", k->class_name, err.msg);
        same_options(a, b, k->class_name);
        /* TF.js builds no model with an activity regularizer; it refuses
         * some examples for what they are (GRU's reset_after=true, causal
         * Conv1D), never for the other options */
        sq_session_free(a);
        example_with_options(k, 0, line, sizeof line);
        a = model_of(line);
        if (sq_save(a, tpath("w/model.json"), &err) == 0) {
            ck_assert_msg(sq_load(b, tpath("w/model.json"), &err) == 0, "%s: %s",
                          k->class_name, err.msg);
            same_options(a, b, k->class_name);
        } else {
            ck_assert_msg(!strstr(err.msg, "_initializer") && !strstr(err.msg, "_regularizer"),
                          "%s: %s", k->class_name, err.msg);
        }
        sq_session_free(a);
        sq_session_free(b);
        tested++;
    }
    ck_assert_int_ge(tested, 16);   /* every kind with weights */
}
END_TEST

/* Whether the bytes of file path (an .h5 holds its config as text) hold
 * text. */
static int file_has(const char *path, const char *text)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    static char buf[1 << 18];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    return memmem(buf, n, text, strlen(text)) != NULL;
}

START_TEST(weight_options_as_keras_writes_them)
{
    sq_session *s = model_of("input 3; add dense 2 kernel_initializer=he_normal "
                             "bias_initializer=constant(0.5) kernel_regularizer=l2(0.01) "
                             "bias_regularizer=l1_l2(l1=0.02,l2=0) activity_regularizer=l1; "
                             "add batchnormalization gamma_regularizer=l2(0.001); "
                             "add dense 1 kernel_initializer=glorot_uniform(seed=4)");
    ck_assert_int_eq(sq_save(s, tpath("k.h5"), &err), 0);
    /* Keras 2.6's classes and float32 factors, defaults written out, null
     * for none */
    static const char *const h5[] = {
        "\"kernel_initializer\":{\"class_name\":\"HeNormal\",\"config\":{\"seed\":null}}",
        "\"bias_initializer\":{\"class_name\":\"Constant\",\"config\":{\"value\":0.5}}",
        "\"kernel_regularizer\":{\"class_name\":\"L2\",\"config\":{\"l2\":0.0099999997764825",
        "\"bias_regularizer\":{\"class_name\":\"L1L2\",\"config\":{\"l1\":0.019999999552965",
        "\"activity_regularizer\":{\"class_name\":\"L1\",\"config\":{\"l1\":0.0099999997764825",
        "\"kernel_constraint\":null,\"bias_constraint\":null",
        "\"gamma_initializer\":{\"class_name\":\"Ones\",\"config\":{}}",
        "\"moving_variance_initializer\":{\"class_name\":\"Ones\",\"config\":{}}",
        "\"gamma_regularizer\":{\"class_name\":\"L2\"", "\"beta_regularizer\":null",
        "{\"class_name\":\"GlorotUniform\",\"config\":{\"seed\":4}}",
        "\"bias_initializer\":{\"class_name\":\"Zeros\",\"config\":{}},\"kernel_regularizer\":null",
        "\"activity_regularizer\":null",
    };
    for (size_t i = 0; i < sizeof h5 / sizeof h5[0]; i++)
        ck_assert_msg(file_has(tpath("k.h5"), h5[i]), "the .h5 lacks %s", h5[i]);
    /* BatchNormalization writes no activity_regularizer, as Keras's */
    ck_assert(!file_has(tpath("k.h5"), "\"beta_constraint\":null,\"activity_regularizer\""));
    /* the Keras export passes them as objects */
    ck_assert_int_eq(sq_export(s, "keras", tpath("k.py"), &err), 0);
    ck_assert(file_has(tpath("k.py"), "kernel_initializer=keras.initializers.HeNormal(seed=None)"));
    ck_assert(file_has(tpath("k.py"), "bias_regularizer=keras.regularizers.L1L2("
                                      "l1=0.019999999552965164, l2=0.0)"));
    /* TF.js's own forms: VarianceScaling, L1L2 (and no activity
     * regularizer: TF.js builds no model with one) */
    sq_session_free(s);
    s = model_of("input 3; add dense 2 kernel_initializer=he_normal "
                 "bias_initializer=constant(0.5) kernel_regularizer=l2(0.01) "
                 "bias_regularizer=l1_l2(l1=0.02,l2=0) activity_regularizer=l1; "
                 "add batchnormalization gamma_regularizer=l2(0.001); "
                 "add dense 1 kernel_initializer=glorot_uniform(seed=4)");
    ck_assert_int_eq(sq_save(s, tpath("k/model.json"), &err), -1);
    ck_assert_str_eq(err.msg, "layer dense (Dense): activity_regularizer=l1 cannot be "
                     "expressed in the TF.js Layers format (TensorFlow.js 4.22 builds no model "
                     "with an activity regularizer)");
    sq_session_free(s);
    s = model_of("input 3; add dense 2 kernel_initializer=he_normal "
                 "bias_initializer=constant(0.5) kernel_regularizer=l2(0.01); "
                 "add dense 1 kernel_initializer=glorot_uniform(seed=4)");
    ck_assert_int_eq(sq_save(s, tpath("k/model.json"), &err), 0);
    static const char *const tfjs[] = {
        "\"kernel_initializer\":{\"class_name\":\"VarianceScaling\",\"config\":{\"scale\":2.0,"
        "\"mode\":\"fan_in\",\"distribution\":\"normal\",\"seed\":null}}",
        "\"kernel_regularizer\":{\"class_name\":\"L1L2\",\"config\":{\"l1\":0.0,\"l2\":0.01}}",
        "{\"class_name\":\"VarianceScaling\",\"config\":{\"scale\":1.0,\"mode\":\"fan_avg\","
        "\"distribution\":\"uniform\",\"seed\":4}}",
    };
    for (size_t i = 0; i < sizeof tfjs / sizeof tfjs[0]; i++)
        ck_assert_msg(file_has(tpath("k/model.json"), tfjs[i]), "model.json lacks %s", tfjs[i]);
    sq_session_free(s);
    /* what TF.js cannot construct is refused by name, nothing written */
    struct { const char *opt, *want; } bad[] = {
        { "kernel_initializer=orthogonal(seed=2)", "layer d (Dense): kernel_initializer="
          "orthogonal(seed=2) cannot be expressed in the TF.js Layers format (TensorFlow.js's "
          "Orthogonal takes no seed)" },
        { "bias_initializer=variance_scaling(distribution=untruncated_normal)", "layer d "
          "(Dense): bias_initializer=variance_scaling(distribution=untruncated_normal) cannot "
          "be expressed in the TF.js Layers format (TensorFlow.js's VarianceScaling has no "
          "untruncated_normal)" },
        { "kernel_initializer=identity(gain=2.0)", "layer d (Dense): kernel_initializer="
          "identity(gain=2.0) cannot be expressed in the TF.js Layers format (TensorFlow.js's "
          "Identity builds square matrices only)" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char line[256];
        snprintf(line, sizeof line, "input 3; add dense 2 name=d %s", bad[i].opt);
        s = model_of(line);
        ck_assert_int_eq(sq_save(s, tpath("b/model.json"), &err), -1);
        ck_assert_str_eq(err.msg, bad[i].want);
        ck_assert_int_eq(access(tpath("b"), F_OK), -1);
        ck_assert_msg(sq_save(s, tpath("b.h5"), &err) == 0, "%s", err.msg);
        sq_session *b = sq_session_new();
        ck_assert_msg(sq_load(b, tpath("b.h5"), &err) == 0, "%s", err.msg);
        same_models(s, b);
        sq_session_free(b);
        sq_session_free(s);
    }
}
END_TEST

static char *describe_all(sq_session *s)
{
    sbuf b = { 0 };
    for (int i = 0; i < s->model->n; i++) {
        sq_layer_describe(s->model->layers[i], &b);
        sb_printf(&b, "\n");
    }
    return sb_finish(&b, NULL);
}

START_TEST(reads_weight_options_keras_wrote)
{
    sq_session *s = sq_session_new();
    char notes[2048];
    ck_assert_msg(sq_load_noted(s, fixture("wopts_keras26.h5"), notes, sizeof notes, &err) == 0,
                  "%s", err.msg);
    char *d = describe_all(s);
    ck_assert_str_eq(d, "add dense units=2 kernel_initializer=he_normal "
                     "bias_initializer=constant(value=0.5) kernel_regularizer=l2(0.01) "
                     "bias_regularizer=l1(0.02) name=dense\n");
    free(d);
    /* Keras's defaults come back unset; what seqsh lacks is said */
    ck_assert_msg(sq_load_noted(s, fixture("wopts_defaults_keras26.h5"), notes, sizeof notes,
                                &err) == 0, "%s", err.msg);
    d = describe_all(s);
    ck_assert_str_eq(d, "add embedding input_dim=5 output_dim=3 input_length=4 "
                     "embeddings_regularizer=l2(0.0001) name=embedding\n"
                     "add lstm units=2 name=lstm\n"
                     "add batch_normalization axis=1 gamma_regularizer=l1_l2(l1=0.001,l2=0.002) "
                     "name=batch_normalization\n"
                     "add dense units=1 activity_regularizer=l2(0.01) name=dense\n");
    free(d);
    ck_assert_msg(strstr(notes, "layer dense's kernel_constraint is not carried over")
                  && strstr(notes, "layer dense's bias_initializer MyBiasInit is not one seqsh "
                            "has; left out"), "%s", notes);
    /* TF.js's forms */
    ck_assert_msg(sq_load(s, fixture("wopts_tfjs/model.json"), &err) == 0, "%s", err.msg);
    d = describe_all(s);
    ck_assert_str_eq(d, "add dense units=4 kernel_initializer=he_normal "
                     "kernel_regularizer=l2(0.01) activation=relu name=dense_Dense1\n"
                     "add dense units=2 bias_regularizer=l1_l2(l1=0.001,l2=0.002) "
                     "name=dense_Dense2\n");
    free(d);
    /* bad values of a known class are errors that change nothing */
    const char *j = "{\"modelTopology\": {\"class_name\": \"Sequential\", \"config\": ["
        "{\"class_name\": \"Dense\", \"config\": {\"name\": \"d\", \"units\": 1, "
        "\"batch_input_shape\": [null, 2], \"kernel_regularizer\": %s}}]}}";
    struct { const char *v, *want; } bad[] = {
        { "{\"class_name\": \"L2\", \"config\": {\"l2\": \"x\"}}", "'%s': layer d: "
          "kernel_regularizer: Value: x is not a valid regularization penalty number, "
          "expected an int or float value" },
        { "7", "'%s': layer d: `kernel_regularizer` is not an regularizer seqsh understands" },
    };
    mkdir(tpath("j"), 0777);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char buf[1024], want[512];
        snprintf(buf, sizeof buf, j, bad[i].v);
        write_file(tpath("j/model.json"), buf, strlen(buf));
        snprintf(want, sizeof want, bad[i].want, tpath("j/model.json"));
        ck_assert_int_eq(sq_load(s, tpath("j/model.json"), &err), -1);
        ck_assert_str_eq(err.msg, want);
        ck_assert_str_eq(s->model->layers[0]->name, "dense_Dense1");
    }
    /* an initializer's "dtype" (older Keras wrote it) is dropped, as Keras
     * 2.6's Initializer.from_config drops it; a regularizer's is not */
    const char *dt = "{\"modelTopology\": {\"class_name\": \"Sequential\", \"config\": ["
        "{\"class_name\": \"Dense\", \"config\": {\"name\": \"d\", \"units\": 1, "
        "\"batch_input_shape\": [null, 2], \"kernel_initializer\": {\"class_name\": "
        "\"RandomNormal\", \"config\": {\"mean\": 0.0, \"stddev\": 0.5, \"seed\": null, "
        "\"dtype\": \"float32\"}}, \"bias_regularizer\": %s}}]}, \"weightsManifest\": "
        "[{\"paths\": [\"w.bin\"], \"weights\": [{\"name\": \"d/kernel\", \"shape\": [2, 1], "
        "\"dtype\": \"float32\"}, {\"name\": \"d/bias\", \"shape\": [1], "
        "\"dtype\": \"float32\"}]}]}";
    const float w3[3] = { 1, 2, 3 };
    write_file(tpath("j/w.bin"), (const char *)w3, sizeof w3);
    char buf[1024];
    snprintf(buf, sizeof buf, dt, "null");
    write_file(tpath("j/model.json"), buf, strlen(buf));
    ck_assert_msg(sq_load(s, tpath("j/model.json"), &err) == 0, "%s", err.msg);
    d = describe_all(s);
    ck_assert_str_eq(d, "add dense units=1 kernel_initializer=random_normal(stddev=0.5) "
                     "name=d\n");
    free(d);
    snprintf(buf, sizeof buf, dt, "{\"class_name\": \"L2\", \"config\": {\"l2\": 0.01, "
             "\"dtype\": \"float32\"}}");
    write_file(tpath("j/model.json"), buf, strlen(buf));
    ck_assert_int_eq(sq_load(s, tpath("j/model.json"), &err), -1);
    ck_assert_msg(strstr(err.msg, "got an unexpected keyword argument 'dtype'"), "%s", err.msg);
    ck_assert_str_eq(s->model->layers[0]->name, "d");
    sq_session_free(s);
}
END_TEST

/* A loaded Keras model with kernel_regularizer=L2 and bias_regularizer=L1
 * evaluates and trains with the penalties: against naive loops on the
 * weights it loaded (loss = mean((xW + b - y)^2) + l2 sum W^2 + l1 sum |b|,
 * SGD(0.1) from the file's training_config). */
START_TEST(loaded_regularizers_train)
{
    sq_session *s = sq_session_new();
    ck_assert_int_eq(sq_load(s, fixture("wopts_keras26.h5"), &err), 0);
    float x[4][3] = { { 0.5f, -1, 2 }, { 1, 0.25f, -0.5f }, { -2, 1, 0 }, { 0.75f, 0.5f, 1 } };
    float t[4][2] = { { 1, 0 }, { -1, 0.5f }, { 0, 2 }, { 0.25f, -0.75f } };
    double w[3][2], b[2], g[3][2] = { { 0 } }, gb[2] = { 0 }, loss = 0;
    const float *p = s->model->params;
    for (int i = 0; i < 3; i++)
        for (int o = 0; o < 2; o++)
            w[i][o] = p[i * 2 + o];
    b[0] = p[6];
    b[1] = p[7];
    for (int r = 0; r < 4; r++)
        for (int o = 0; o < 2; o++) {
            double y = b[o];
            for (int i = 0; i < 3; i++)
                y += x[r][i] * w[i][o];
            double e = y - t[r][o];
            loss += e * e / 8;
            for (int i = 0; i < 3; i++)
                g[i][o] += 2 * e * x[r][i] / 8;
            gb[o] += 2 * e / 8;
        }
    const double l2 = 0.01f, l1 = 0.02f;
    for (int i = 0; i < 3; i++)
        for (int o = 0; o < 2; o++) {
            loss += l2 * w[i][o] * w[i][o];
            g[i][o] += 2 * l2 * w[i][o];
        }
    for (int o = 0; o < 2; o++) {
        loss += l1 * fabs(b[o]);
        gb[o] += l1 * (b[o] > 0 ? 1 : -1);
    }
    sq_tensor tx = { { 2, { 4, 3 } }, &x[0][0] }, ty = { { 2, { 4, 2 } }, &t[0][0] };
    double v[4];
    const char *names[4];
    int n;
    ck_assert_msg(sq_evaluate(s, &tx, &ty, 4, 0, NULL, NULL, v, names, 4, &n, &err) == 0, "%s",
                  err.msg);
    ck_assert_msg(fabs(v[0] - loss) <= 1e-5 * fabs(loss), "evaluate: %g, naive %g", v[0], loss);
    sq_fit_opts o = { .epochs = 1, .batch_size = 4, .shuffle = 0, .verbose = 0 };
    ck_assert_msg(sq_fit(s, &tx, &ty, &o, NULL, NULL, &err) == 0, "%s", err.msg);
    p = s->model->params;
    for (int i = 0; i < 3; i++)
        for (int q = 0; q < 2; q++) {
            double want = w[i][q] - 0.1 * g[i][q];
            ck_assert_msg(fabs(p[i * 2 + q] - want) <= 1e-6 + 1e-5 * fabs(want),
                          "kernel[%d][%d] is %g after a step, naive %g", i, q, p[i * 2 + q], want);
        }
    for (int q = 0; q < 2; q++) {
        double want = b[q] - 0.1 * gb[q];
        ck_assert_msg(fabs(p[6 + q] - want) <= 1e-6 + 1e-5 * fabs(want), "bias[%d] is %g, "
                      "naive %g", q, p[6 + q], want);
    }
    sq_session_free(s);
}
END_TEST

static void setup(void)
{
    strcpy(tmp, "/tmp/seqsh_keras_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmp));
}

static void teardown(void)
{
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    ck_assert_int_eq(system(cmd), 0);
}

int main(void)
{
    Suite *su = suite_create("keras");
    TCase *tc = tcase_create("tfjs");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, reads_what_keras_versions_write);
    tcase_add_test(tc, training_config_becomes_compile);
    tcase_add_test(tc, class_metrics_round_trip);
    tcase_add_test(tc, round_trip_is_exact);
    tcase_add_test(tc, nested_and_every_option_round_trip);
    tcase_add_test(tc, saving_replaces_the_old_model_whole);
    tcase_add_test(tc, broken_files_change_nothing);
    tcase_add_test(tc, broken_json_changes_nothing);
    tcase_add_test(tc, reads_keras_h5_files);
    tcase_add_test(tc, broken_h5_changes_nothing);
    tcase_add_test(tc, exports_write_or_refuse);
    tcase_add_test(tc, reads_recurrent_models);
    tcase_add_test(tc, every_new_kind_round_trips);
    tcase_add_test(tc, reads_2d_models);
    tcase_add_test(tc, margins_in_every_form);
    tcase_add_test(tc, every_2d_kind_round_trips);
    tcase_add_test(tc, masked_recurrent_layers);
    tcase_add_test(tc, every_kind_keeps_weight_options);
    tcase_add_test(tc, weight_options_as_keras_writes_them);
    tcase_add_test(tc, reads_weight_options_keras_wrote);
    tcase_add_test(tc, loaded_regularizers_train);
    suite_add_tcase(su, tc);
    return run_suite(su);
}
