/* check_modelfile.c - save/load round trips (bit-identical outputs, same
 * summary, flags and compile settings), nested models, freezing selectors,
 * extract, and damaged files that must fail and change nothing. Layer outputs
 * are held against the test model's forward pass written out in loops. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>
#include "seqsh/engine.h"
#include "model.h"

static sq_error err;
static char dir[64], path[128];

static void setup(void)
{
    strcpy(dir, "/tmp/seqsh_mf_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/m.seqm", dir);
}

static void teardown(void)
{
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static int add(sq_session *s, const char *line)
{
    char buf[256], *argv[16];
    int argc = 0;
    snprintf(buf, sizeof buf, "%s", line);
    for (char *t = strtok(buf, " "); t && argc < 16; t = strtok(NULL, " "))
        argv[argc++] = t;
    return sq_add(s, argv[0], argc - 1, argv + 1, &err);
}

static sq_session *conv_model(void)
{
    sq_session *s = sq_session_new();
    sq_seed(s, 11);
    long d[3] = { 9, 9, 2 };
    ck_assert_int_eq(sq_input(s, 3, d, &err), 0);
    ck_assert_int_eq(add(s, "conv2d 4 3 padding=same strides=(2,1) relu name=c1"), 0);
    ck_assert_int_eq(add(s, "batchnormalization momentum=0.9"), 0);
    ck_assert_int_eq(add(s, "averagepooling2d 2 padding=same"), 0);
    ck_assert_int_eq(add(s, "dropout 0.25"), 0);
    ck_assert_int_eq(add(s, "flatten"), 0);
    ck_assert_int_eq(add(s, "dense 3 activation=gelu use_bias=false"), 0);
    ck_assert_int_eq(add(s, "rescaling 0.5 offset=-1"), 0);
    ck_assert_int_eq(add(s, "reshape (3,1)"), 0);
    ck_assert_int_eq(add(s, "activation log_softmax"), 0);
    /* non-trivial moving statistics and weights */
    for (size_t i = 0; i < s->model->nparams; i++)
        s->model->params[i] += 0.01f * (float)(i % 7);
    return s;
}

static sq_tensor input(sq_session *s, long b)
{
    sq_tensor x;
    long d[4] = { b, 9, 9, 2 };
    ck_assert_int_eq(sq_tensor_generate(s, "random", 4, d, &x, &err), 0);
    return x;
}

/* ---- conv_model's forward pass, written out -------------------------------
 * Plain loops in double from the layer definitions (TensorFlow's SAME split,
 * average pooling over the cells inside the input, inference-mode batch
 * normalization and dropout, exact GELU), reading the weights straight from
 * the flat buffer. Beside each value goes the sum of the magnitudes that made
 * it, propagated through the layers, for the tolerance. */

#define REF_STAGES 9      /* one per layer of conv_model */
#define REF_MAX 180       /* floats of the largest output of one sample */

typedef struct {
    long count[REF_STAGES];            /* floats per sample */
    double v[REF_STAGES][REF_MAX];     /* one sample's outputs */
    double mag[REF_STAGES][REF_MAX];
} ref_out;

/* Weight wi of layer li of a's model (borrowed). */
static const float *weights_of(const sq_session *a, int li, int wi)
{
    const sq_layer *l = a->model->layers[li];
    ck_assert_int_lt(wi, l->nweights);
    const float *p = a->model->params + l->param_off;
    for (int j = 0; j < wi; j++)
        p += sq_weight_count(&l->w[j]);
    return p;
}

/* Every layer's output for one sample x (9 x 9 x 2) of conv_model. */
static void ref_forward(const sq_session *a, const float *x, ref_out *r)
{
    const long h = 9, w = 9, c = 2, f = 4;
    /* c1: 3x3, 4 filters, strides (2, 1), SAME: 5 x 9 out, padding 1 before
     * the first row and column, relu */
    const long oh = 5, ow = 9, pt = 1, pl = 1;
    const float *kern = weights_of(a, 0, 0), *bias = weights_of(a, 0, 1);
    for (long oy = 0; oy < oh; oy++)
        for (long ox = 0; ox < ow; ox++)
            for (long k = 0; k < f; k++) {
                double acc = bias[k], mag = fabs(bias[k]);
                for (long ky = 0; ky < 3; ky++)
                    for (long kx = 0; kx < 3; kx++) {
                        long iy = oy * 2 - pt + ky, ix = ox - pl + kx;
                        if (iy < 0 || iy >= h || ix < 0 || ix >= w)
                            continue;
                        for (long ci = 0; ci < c; ci++) {
                            double t = (double)x[(iy * w + ix) * c + ci]
                                       * kern[((ky * 3 + kx) * c + ci) * f + k];
                            acc += t;
                            mag += fabs(t);
                        }
                    }
                long o = (oy * ow + ox) * f + k;
                r->v[0][o] = acc > 0 ? acc : 0;
                r->mag[0][o] = mag;
            }
    r->count[0] = oh * ow * f;
    /* batch_normalization, inference: gamma (x - mean) / sqrt(var + 0.001) + beta */
    const float *gamma = weights_of(a, 1, 0), *beta = weights_of(a, 1, 1);
    const float *mean = weights_of(a, 1, 2), *var = weights_of(a, 1, 3);
    for (long i = 0; i < r->count[0]; i++) {
        long k = i % f;
        double s = gamma[k] / sqrt((double)var[k] + 0.001);
        r->v[1][i] = s * (r->v[0][i] - mean[k]) + beta[k];
        r->mag[1][i] = fabs(s) * (r->mag[0][i] + fabs(mean[k])) + fabs(beta[k]);
    }
    r->count[1] = r->count[0];
    /* average_pooling2d 2, SAME: 3 x 5 out, the odd padding row and column
     * after the input; padded cells are not counted */
    const long ph = 3, pw = 5;
    for (long py = 0; py < ph; py++)
        for (long px = 0; px < pw; px++)
            for (long k = 0; k < f; k++) {
                double acc = 0, mag = 0;
                int cells = 0;
                for (long iy = 2 * py; iy < 2 * py + 2 && iy < oh; iy++)
                    for (long ix = 2 * px; ix < 2 * px + 2 && ix < ow; ix++) {
                        acc += r->v[1][(iy * ow + ix) * f + k];
                        mag += r->mag[1][(iy * ow + ix) * f + k];
                        cells++;
                    }
                r->v[2][(py * pw + px) * f + k] = acc / cells;
                r->mag[2][(py * pw + px) * f + k] = mag / cells;
            }
    r->count[2] = ph * pw * f;
    /* dropout (inference) and flatten (channels-last order) pass values on */
    for (int st = 3; st <= 4; st++) {
        memcpy(r->v[st], r->v[2], sizeof r->v[2]);
        memcpy(r->mag[st], r->mag[2], sizeof r->mag[2]);
        r->count[st] = r->count[2];
    }
    /* dense 3, no bias, gelu: 0.5 z (1 + erf(z / sqrt 2)), |gelu'| < 1.13 */
    const long d = ph * pw * f, u = 3;
    const float *dk = weights_of(a, 5, 0);
    for (long j = 0; j < u; j++) {
        double z = 0, mag = 0;
        for (long i = 0; i < d; i++) {
            z += r->v[4][i] * dk[i * u + j];
            mag += r->mag[4][i] * fabs(dk[i * u + j]);
        }
        r->v[5][j] = 0.5 * z * (1 + erf(z / sqrt(2.0)));
        r->mag[5][j] = 1.13 * mag;
    }
    r->count[5] = u;
    /* rescaling 0.5 offset=-1, then reshape (3, 1) */
    for (long j = 0; j < u; j++) {
        r->v[6][j] = r->v[7][j] = 0.5 * r->v[5][j] - 1;
        r->mag[6][j] = r->mag[7][j] = 0.5 * r->mag[5][j] + 1;
    }
    r->count[6] = r->count[7] = u;
    /* log_softmax over an axis of length 1: x - x - log(exp(0)) = 0 */
    for (long j = 0; j < u; j++) {
        r->v[8][j] = 0;
        r->mag[8][j] = 0;
    }
    r->count[8] = u;
}

/* ref_forward for each sample of x (at most REF_BATCH). */
#define REF_BATCH 3
static void ref_batch(const sq_session *a, const sq_tensor *x, ref_out *r)
{
    long b = x->shape.d[0];
    size_t in = (size_t)(x->shape.d[1] * x->shape.d[2] * x->shape.d[3]);
    ck_assert_int_le(b, REF_BATCH);
    for (long i = 0; i < b; i++)
        ref_forward(a, x->data + (size_t)i * in, &r[i]);
}

/* got holds layer st's output for a batch of b; compares it with r, sample by
 * sample. The engine sums at most 60 float terms per value in each of the
 * four layers that sum (2^-24 relative each: ~4e-6 of the magnitudes per
 * layer at worst), so 1e-5 of the propagated magnitudes bounds the rounding;
 * a wrong weight, option or layer moves values by ~1e-2. */
static void expect_stage(const ref_out *r, long b, int st, const sq_tensor *got,
                         const char *what)
{
    ck_assert_msg(sq_shape_count(&got->shape) == (size_t)(b * r[0].count[st]),
                  "%s, layer %d: %zu values, want %ld", what, st,
                  sq_shape_count(&got->shape), b * r[0].count[st]);
    for (long i = 0; i < b; i++)
        for (long j = 0; j < r[i].count[st]; j++) {
            double want = r[i].v[st][j], tol = 1e-5 * r[i].mag[st][j] + 1e-6;
            double g = got->data[i * r[i].count[st] + j];
            ck_assert_msg(fabs(g - want) <= tol, "%s, layer %d, sample %ld, value %ld: "
                          "got %.9g, want %.9g (tolerance %.3g)", what, st, i, j, g, want,
                          tol);
        }
}

START_TEST(round_trip_is_bit_identical)
{
    sq_session *a = conv_model();
    const char *keys[] = { "learning_rate", "momentum" }, *vals[] = { "0.05", "0.5" };
    ck_assert_int_eq(sq_compile(a, "sgd", "mse", "mae,accuracy", 2, keys, vals, &err), 0);
    int count;
    ck_assert_int_eq(sq_set_trainable(a, "1:3", 0, &count, &err), 0);
    ck_assert_int_eq(count, 2);
    ck_assert_int_eq(sq_save(a, path, &err), 0);
    sq_session *b = sq_session_new();
    ck_assert_int_eq(sq_load(b, path, &err), 0);
    char *sa = sq_summary(a, &err), *sb = sq_summary(b, &err);
    ck_assert_str_eq(sa, sb);
    free(sa);
    free(sb);
    sa = sq_layers_text(a, &err);
    sb = sq_layers_text(b, &err);
    ck_assert_str_eq(sa, sb);
    free(sa);
    free(sb);
    ck_assert_uint_eq(a->model->nparams, b->model->nparams);
    ck_assert_int_eq(memcmp(a->model->params, b->model->params, a->model->nparams * 4), 0);
    sbuf ca = { 0 }, cb = { 0 };
    sq_compiled_describe(a->model->compiled, &ca);
    sq_compiled_describe(b->model->compiled, &cb);
    char *ta = sb_finish(&ca, &err), *tb = sb_finish(&cb, &err);
    ck_assert_str_eq(ta, tb);
    ck_assert_str_eq(ta, "compile optimizer=sgd loss=mse metrics=mae,accuracy learning_rate=0.05 momentum=0.5");
    free(ta);
    free(tb);
    /* Every layer's output (the model's own ends in a log_softmax over one
     * value, always 0): the loaded model computes the saved one's function,
     * and, holding the same weights and running the same code in the same
     * process, to the bit. */
    static ref_out r[REF_BATCH];
    sq_tensor x = input(a, 3);
    ref_batch(a, &x, r);
    sq_named_tensor *oa, *ob;
    int na, nb;
    ck_assert_int_eq(sq_extract(a, "all", &x, &oa, &na, &err), 0);
    ck_assert_int_eq(sq_extract(b, "all", &x, &ob, &nb, &err), 0);
    ck_assert_int_eq(na, REF_STAGES);
    ck_assert_int_eq(nb, REF_STAGES);
    for (int k = 0; k < na; k++) {
        ck_assert_str_eq(oa[k].name, ob[k].name);
        expect_stage(r, 3, k, &ob[k].t, "loaded model");
        ck_assert_int_eq(memcmp(oa[k].t.data, ob[k].t.data,
                                sq_shape_count(&oa[k].t.shape) * 4), 0);
    }
    sq_named_free(oa, na);
    sq_named_free(ob, nb);
    sq_tensor_free(&x);
    sq_session_free(a);
    sq_session_free(b);
}
END_TEST

START_TEST(deferred_and_unbuilt_models_round_trip)
{
    sq_session *a = sq_session_new();
    ck_assert_int_eq(add(a, "dense 3 relu"), 0);
    ck_assert_int_eq(add(a, "dense 2"), 0);
    ck_assert_int_eq(sq_save(a, path, &err), 0);   /* unbuilt: no weights */
    sq_session *b = sq_session_new();
    ck_assert_int_eq(sq_load(b, path, &err), 0);
    ck_assert(!sq_model_is_built(b));
    ck_assert_int_eq(sq_layer_count(b), 2);
    sq_tensor x, y;
    long d[2] = { 1, 4 };
    ck_assert_int_eq(sq_tensor_generate(a, "ones", 2, d, &x, &err), 0);
    ck_assert_int_eq(sq_call(a, &x, &y, &err), 0);   /* deferred build, batch 1 */
    sq_tensor_free(&y);
    ck_assert_int_eq(sq_save(a, path, &err), 0);
    ck_assert_int_eq(sq_load(b, path, &err), 0);
    char *sa = sq_summary(a, &err), *sb = sq_summary(b, &err);
    ck_assert_str_eq(sa, sb);
    ck_assert_ptr_nonnull(strstr(sb, "(1, 2)"));
    free(sa);
    free(sb);
    sa = sq_weights_text(a, NULL, &err);
    sb = sq_weights_text(b, NULL, &err);
    ck_assert_str_eq(sa, sb);   /* sequential/dense/kernel:0 names too */
    free(sa);
    free(sb);
    sq_tensor_free(&x);
    sq_session_free(a);
    sq_session_free(b);
}
END_TEST

START_TEST(damaged_files_fail_and_change_nothing)
{
    sq_session *a = conv_model();
    ck_assert_int_eq(sq_save(a, path, &err), 0);
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    static unsigned char buf[1 << 16];
    size_t len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    ck_assert(len > 100 && len < sizeof buf);
    sq_session *b = sq_session_new();
    ck_assert_int_eq(add(b, "dense 5 input_shape=3"), 0);
    char *before = sq_summary(b, &err);
    char bad[160];
    snprintf(bad, sizeof bad, "%s/bad.seqm", dir);
    /* every truncation */
    for (size_t cut = 0; cut < len; cut += (cut < 64 ? 1 : 7)) {
        f = fopen(bad, "wb");
        fwrite(buf, 1, cut, f);
        fclose(f);
        ck_assert_msg(sq_load(b, bad, &err) == -1, "truncated at %zu loaded", cut);
        ck_assert(err.msg[0]);
    }
    /* flipped bytes anywhere */
    for (size_t at = 0; at < len; at += 13) {
        buf[at] ^= 0x20;
        f = fopen(bad, "wb");
        fwrite(buf, 1, len, f);
        fclose(f);
        ck_assert_msg(sq_load(b, bad, &err) == -1, "flip at %zu loaded", at);
        buf[at] ^= 0x20;
    }
    char *after = sq_summary(b, &err);
    ck_assert_str_eq(before, after);
    free(before);
    free(after);
    /* the messages users see */
    f = fopen(bad, "wb");
    fwrite("SEQSHMDL\x07\0\0\0", 1, 12, f);
    fclose(f);
    ck_assert_int_eq(sq_load(b, bad, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "is truncated"));
    f = fopen(bad, "wb");
    fwrite("SEQSHMDL\x07\0\0\0\0\0\0\0", 1, 16, f);
    fclose(f);
    ck_assert_int_eq(sq_load(b, bad, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "is a seqsh model of format version 7; this seqsh reads versions 1 to 2"));
    f = fopen(bad, "wb");
    fwrite("PK\x03\x04 not a model", 1, 16, f);
    fclose(f);
    ck_assert_int_eq(sq_load(b, bad, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "is not a seqsh model file (bad magic number)"));
    buf[len - 20] ^= 1;
    f = fopen(bad, "wb");
    fwrite(buf, 1, len, f);
    fclose(f);
    ck_assert_int_eq(sq_load(b, bad, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "is corrupt (its CRC-32 check fails)"));
    ck_assert_int_eq(sq_load(b, "/nonexistent/m.seqm", &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "cannot open"));
    sq_session_free(a);
    sq_session_free(b);
}
END_TEST

/* A file with an optimizer state: every truncation and flipped byte is
 * refused, and a state that does not fit its compile line too. */
START_TEST(damaged_state_fails_and_changes_nothing)
{
    sq_session *a = sq_session_new();
    long d[1] = { 3 };
    ck_assert_int_eq(sq_input(a, 1, d, &err), 0);
    ck_assert_int_eq(add(a, "dense 4 relu kernel_regularizer=l2"), 0);
    ck_assert_int_eq(add(a, "dense 2 softmax"), 0);
    const char *k[] = { "clipnorm" }, *v[] = { "1" };
    ck_assert_int_eq(sq_compile(a, "adam", "sparse_categorical_crossentropy", NULL, 1, k, v,
                                &err), 0);
    sq_tensor x, y;
    long dx[2] = { 6, 3 }, dy[1] = { 6 };
    ck_assert_int_eq(sq_tensor_generate(a, "random", 2, dx, &x, &err), 0);
    ck_assert_int_eq(sq_tensor_generate(a, "zeros", 1, dy, &y, &err), 0);
    sq_fit_opts o = { .epochs = 1, .batch_size = 2, .shuffle = 1 };
    ck_assert_int_eq(sq_fit(a, &x, &y, &o, NULL, NULL, &err), 0);
    ck_assert_int_eq(sq_save(a, path, &err), 0);
    FILE *f = fopen(path, "rb");
    static unsigned char buf[1 << 16];
    size_t len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    /* 26 weights and Adam's 2 x 26 slots after the header */
    ck_assert_int_gt((long)len, 2 * 26 * 4 + 26 * 4);
    sq_session *b = sq_session_new();
    ck_assert_int_eq(add(b, "dense 5 input_shape=3"), 0);
    char *before = sq_summary(b, &err);
    char bad[160];
    snprintf(bad, sizeof bad, "%s/bad.seqm", dir);
    for (size_t cut = 0; cut < len; cut += (cut < 64 ? 1 : 5)) {
        f = fopen(bad, "wb");
        fwrite(buf, 1, cut, f);
        fclose(f);
        ck_assert_msg(sq_load(b, bad, &err) == -1, "truncated at %zu loaded", cut);
    }
    for (size_t at = 0; at < len; at += 7) {
        buf[at] ^= 0x10;
        f = fopen(bad, "wb");
        fwrite(buf, 1, len, f);
        fclose(f);
        ck_assert_msg(sq_load(b, bad, &err) == -1, "flip at %zu loaded", at);
        buf[at] ^= 0x10;
    }
    /* the state of an Adam model under an SGD compile line (CRC made right) */
    unsigned char *sgd = NULL;
    for (size_t i = 0; i + 14 <= len && !sgd; i++)
        if (!memcmp(buf + i, "optimizer=adam", 14))
            sgd = buf + i;
    ck_assert_ptr_nonnull(sgd);
    memcpy(sgd, "optimizer=sgd ", 14);
    uLong crc = crc32(crc32(0L, Z_NULL, 0), buf, (uInt)(len - 4));
    for (int i = 0; i < 4; i++)
        buf[len - 4 + (size_t)i] = (unsigned char)(crc >> (8 * i));
    f = fopen(bad, "wb");
    fwrite(buf, 1, len, f);
    fclose(f);
    ck_assert_int_eq(sq_load(b, bad, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "holds an optimizer state that does not fit its "
                                 "compile settings"));
    char *after = sq_summary(b, &err);
    ck_assert_str_eq(before, after);
    free(before);
    free(after);
    sq_tensor_free(&x);
    sq_tensor_free(&y);
    sq_session_free(a);
    sq_session_free(b);
}
END_TEST

START_TEST(nested_model_trains_only_the_head_and_round_trips)
{
    sq_session *a = sq_session_new();
    long d[1] = { 4 };
    ck_assert_int_eq(sq_input(a, 1, d, &err), 0);
    ck_assert_int_eq(add(a, "dense 8 relu"), 0);
    ck_assert_int_eq(add(a, "batchnormalization"), 0);
    ck_assert_int_eq(sq_save(a, path, &err), 0);
    sq_session *b = sq_session_new();
    ck_assert_int_eq(add(b, "dense 1 name=first input_shape=2"), 0);
    ck_assert_int_eq(sq_add_model(b, path, "base", 0, &err), -1);   /* 1 != 4 inputs */
    ck_assert_ptr_nonnull(strstr(err.msg, "expected axis -1 of input shape to have value 4"));
    ck_assert_int_eq(sq_layer_count(b), 1);
    ck_assert_int_eq(sq_model_new(b, NULL, &err), 0);
    ck_assert_int_eq(sq_add_model(b, path, "base", 0, &err), 0);
    ck_assert_int_eq(sq_add_model(b, path, "base", 0, &err), -1);   /* same name */
    ck_assert_ptr_nonnull(strstr(err.msg, "Name \"base\" is already the name of a layer"));
    ck_assert_int_eq(add(b, "dense 2 softmax"), 0);
    ck_assert_int_eq(sq_layer_count(b), 2);
    sq_layer_info li;
    ck_assert_int_eq(sq_layer_get(b, 0, &li), 0);
    ck_assert_str_eq(li.name, "base");
    ck_assert_str_eq(li.class_name, "Sequential");
    ck_assert_uint_eq(li.params, 40 + 32);
    ck_assert(!li.trainable);
    ck_assert_int_eq(sq_compile(b, "adam", "sparse_categorical_crossentropy", NULL, 0, NULL, NULL, &err), 0);
    size_t nb = b->model->layers[2]->param_off;
    float *before = malloc(b->model->nparams * 4);
    memcpy(before, b->model->params, b->model->nparams * 4);
    sq_tensor x, y;
    long dx[2] = { 16, 4 }, dy[1] = { 16 };
    ck_assert_int_eq(sq_tensor_generate(b, "random", 2, dx, &x, &err), 0);
    ck_assert_int_eq(sq_tensor_generate(b, "zeros", 1, dy, &y, &err), 0);
    sq_fit_opts o = { .epochs = 2, .batch_size = 4, .validation_split = 0, .shuffle = 1, .verbose = 0  };
    ck_assert_int_eq(sq_fit(b, &x, &y, &o, NULL, NULL, &err), 0);
    ck_assert_int_eq(memcmp(before, b->model->params, nb * 4), 0);       /* base frozen */
    ck_assert(memcmp(before + nb, b->model->params + nb, 4 * 4) != 0);  /* head moved */
    /* weights of the nested model, by its name */
    char *w = sq_weights_text(b, "base", &err);
    ck_assert_ptr_nonnull(strstr(w, "dense/kernel:0 shape=(4, 8)"));
    ck_assert_ptr_nonnull(strstr(w, "batch_normalization/moving_variance:0"));
    free(w);
    /* extract treats it as one layer */
    sq_named_tensor *outs;
    int n;
    ck_assert_int_eq(sq_extract(b, "all", &x, &outs, &n, &err), 0);
    ck_assert_int_eq(n, 2);
    ck_assert_str_eq(outs[0].name, "base");
    ck_assert_int_eq((int)outs[0].t.shape.d[1], 8);
    sq_named_free(outs, n);
    /* unfreeze the row: all its layers */
    int count;
    ck_assert_int_eq(sq_set_trainable(b, "base", 1, &count, &err), 0);
    ck_assert_int_eq(sq_layer_get(b, 0, &li), 0);
    ck_assert(li.trainable);
    ck_assert_int_eq(sq_set_trainable(b, "0", 0, &count, &err), 0);
    /* save/load keeps the nesting */
    char p2[160];
    snprintf(p2, sizeof p2, "%s/outer.seqm", dir);
    ck_assert_int_eq(sq_save(b, p2, &err), 0);
    sq_session *c = sq_session_new();
    ck_assert_int_eq(sq_load(c, p2, &err), 0);
    char *sa = sq_summary(b, &err), *sc = sq_summary(c, &err);
    ck_assert_str_eq(sa, sc);
    ck_assert_ptr_nonnull(strstr(sc, "base (Sequential)            (None, 8)                 72"));
    free(sa);
    free(sc);
    ck_assert_int_eq(memcmp(b->model->params, c->model->params, b->model->nparams * 4), 0);
    /* save_weights keys carry the nesting */
    char p3[160];
    snprintf(p3, sizeof p3, "%s/w.npz", dir);
    ck_assert_int_eq(sq_save_weights(b, p3, &err), 0);
    ck_assert_int_eq(sq_load_weights(c, p3, &err), 0);
    free(before);
    sq_tensor_free(&x);
    sq_tensor_free(&y);
    sq_session_free(a);
    sq_session_free(b);
    sq_session_free(c);
}
END_TEST

START_TEST(selectors)
{
    sq_session *s = sq_session_new();
    long d[1] = { 3 };
    ck_assert_int_eq(sq_input(s, 1, d, &err), 0);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(add(s, "dense 2"), 0);
    static const struct { const char *sel; const char *flags; } cases[] = {
        { ":-1", "00001" }, { "1:3", "10011" }, { "::2", "01010" }, { "-1", "11110" },
        { "all", "00000" }, { "dense_2", "11011" }, { "::-1", "00000" }, { "3:", "11100" },
        { "-2:", "11100" }, { ":0", "11111" }, { "10:", "11111" }, { "4:1:-1", "11000" },
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        int count;
        ck_assert_int_eq(sq_set_trainable(s, "all", 1, &count, &err), 0);
        ck_assert_int_eq(sq_set_trainable(s, cases[k].sel, 0, &count, &err), 0);
        char got[6];
        for (int i = 0; i < 5; i++) {
            sq_layer_info li;
            sq_layer_get(s, i, &li);
            got[i] = li.trainable ? '1' : '0';
        }
        got[5] = '\0';
        ck_assert_msg(!strcmp(got, cases[k].flags), "%s: %s, want %s", cases[k].sel, got,
                      cases[k].flags);
    }
    int count;
    ck_assert_int_eq(sq_set_trainable(s, "5", 0, &count, &err), -1);
    ck_assert_str_eq(err.msg, "Was asked to retrieve layer at index 5 but model only has 5 layers.");
    ck_assert_int_eq(sq_set_trainable(s, "-6", 0, &count, &err), -1);
    ck_assert_int_eq(sq_set_trainable(s, "::0", 0, &count, &err), -1);
    ck_assert_str_eq(err.msg, "slice step cannot be zero");
    ck_assert_int_eq(sq_set_trainable(s, "1:x", 0, &count, &err), -1);
    ck_assert_int_eq(sq_set_trainable(s, "nope", 0, &count, &err), -1);
    ck_assert_str_eq(err.msg, "No such layer: nope. Existing layers are: ['dense', 'dense_1', "
                     "'dense_2', 'dense_3', 'dense_4'].");
    sq_session_free(s);
}
END_TEST

/* extract gives every layer's output, and so does a model cut after that
 * layer. Both are held against the loops above, not against each other:
 * extract runs the whole batch through the training driver while a call runs
 * it in chunks, which may round differently (OpenBLAS's SSE3 kernels do with
 * two threads). */
START_TEST(extract_and_truncated_models_match_the_loops)
{
    static const char *const names[REF_STAGES] = {
        "c1", "batch_normalization", "average_pooling2d", "dropout", "flatten", "dense",
        "rescaling", "reshape", "activation",
    };
    static ref_out r[REF_BATCH];
    sq_session *a = conv_model();
    sq_tensor x = input(a, 2);
    ref_batch(a, &x, r);
    sq_named_tensor *outs;
    int n;
    ck_assert_int_eq(sq_extract(a, "all", &x, &outs, &n, &err), 0);
    ck_assert_int_eq(n, REF_STAGES);
    for (int k = 0; k < n; k++) {
        ck_assert_str_eq(outs[k].name, names[k]);
        expect_stage(r, 2, k, &outs[k].t, "extract");
    }
    ck_assert_int_eq(sq_save(a, path, &err), 0);
    for (int k = n - 1; k >= 0; k--) {
        sq_tensor y;
        ck_assert_int_eq(sq_call(a, &x, &y, &err), 0);
        ck_assert(sq_shape_eq(&y.shape, &outs[k].t.shape));
        expect_stage(r, 2, k, &y, "model cut after it");
        sq_tensor_free(&y);
        if (k)
            ck_assert_int_eq(sq_pop(a, &err), 0);
    }
    sq_named_free(outs, n);
    ck_assert_int_eq(sq_load(a, path, &err), 0);
    ck_assert_int_eq(sq_extract(a, "c1,flatten", &x, &outs, &n, &err), 0);
    ck_assert_int_eq(n, 2);
    ck_assert_str_eq(outs[1].name, "flatten");
    expect_stage(r, 2, 0, &outs[0].t, "extract c1");
    expect_stage(r, 2, 4, &outs[1].t, "extract flatten");
    sq_named_free(outs, n);
    ck_assert_int_eq(sq_extract(a, "c1,nope", &x, &outs, &n, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "No such layer: nope. Existing layers are: ['c1', "));
    sq_tensor_free(&x);
    sq_session_free(a);
}
END_TEST

/* Writes a well-formed container (magic, version, lengths, CRC) around an
 * architecture text and no weights. */
static void write_arch(const char *file, const char *text)
{
    size_t t = strlen(text), len = 16 + t + 8 + 4;
    unsigned char *b = calloc(1, len);
    memcpy(b, "SEQSHMDL\x01\0\0\0", 12);
    for (int i = 0; i < 4; i++)
        b[12 + i] = (unsigned char)(t >> (8 * i));
    memcpy(b + 16, text, t);
    uint32_t crc = (uint32_t)crc32(0L, b, (uInt)(len - 4));
    for (int i = 0; i < 4; i++)
        b[len - 4 + i] = (unsigned char)(crc >> (8 * i));
    FILE *f = fopen(file, "wb");
    ck_assert_ptr_nonnull(f);
    fwrite(b, 1, len, f);
    fclose(f);
    free(b);
}

/* Found by fuzzing (tests/fuzz/fuzz_modelfile.c): files whose layers break
 * the naming rules `add` enforces loaded, giving models with two layers of
 * one name or a layer without one. */
START_TEST(files_breaking_name_rules_are_refused)
{
    static const struct { const char *text, *msg; } cases[] = {
        { "model a\nadd dense units=1 name=d\nadd dense units=1 name=d\n",
          "is corrupt: two layers are named 'd'" },
        { "model a\nadd dense units=1\n", "is corrupt: layer 1 has no name" },
        { "model a\nbegin_model g\nadd dense units=1 name=d\nend_model\n"
          "add dense units=1 name=g\n", "is corrupt: two layers are named 'g'" },
        { "model a\nbegin_model g\nadd dense units=1 name=d\nend_model\n"
          "begin_model g\nadd dense units=1 name=e\nend_model\n",
          "is corrupt: two layers are named 'g'" },
        { "model a\nbegin_model g\nadd dense units=1 name=d\nadd dense units=2 name=d\n"
          "end_model\n", "is corrupt: two layers of 'g' are named 'd'" },
        { "model a/b\n", "architecture line 1: invalid model name 'a/b'" },
        { "model a\nbegin_model g:h\nend_model\n", "architecture line 2: invalid model name 'g:h'" },
        /* names that would drive a terminal are refused, shown escaped */
        { "model a\x1b]0;pwned\x07\n",
          "architecture line 1: invalid model name 'a\\x1b]0;pwned\\x07'" },
        { "model a\nadd dense units=1 name=d\x1b[2J\n",
          "architecture line 2: invalid layer name 'd\\x1b[2J'" },
        { "model a\nbegin_model g\xc2\x9b\nend_model\n",
          "architecture line 2: invalid model name 'g\\xc2\\x9b'" },
        { "model a\nadd dense units=1 name=d\xff\n",
          "architecture line 2: invalid layer name 'd\\xff'" },
    };
    sq_session *b = sq_session_new();
    ck_assert_int_eq(add(b, "dense 5 input_shape=3"), 0);
    char *before = sq_summary(b, &err);
    write_arch(path, "model ok\nadd dense units=1 name=d\nadd dense units=1 name=e\n");
    ck_assert_msg(sq_load(b, path, &err) == 0, "%s", err.msg);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_arch(path, cases[i].text);
        ck_assert_msg(sq_load(b, path, &err) == -1, "case %zu loaded", i);
        ck_assert_msg(strstr(err.msg, cases[i].msg) != NULL, "case %zu: %s", i, err.msg);
        ck_assert_int_eq(sq_add_model(b, path, "x", -1, &err), -1);
    }
    sq_session_free(b);
    free(before);
}
END_TEST

static double seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Issue 18: a model file of 20,000 layers (and one nested model) loads,
 * stacks and saves in well under a second (8,000 took minutes: the names
 * were compared pairwise through quadratic helpers), and a load polls the
 * interrupt flag, failing with "Interrupted" and changing nothing. */
START_TEST(many_layers_load_at_once_and_interruptibly)
{
    enum { N = 20000 };
    sq_session *s = sq_session_new();
    long d[1] = { 2 };
    ck_assert_int_eq(sq_input(s, 1, d, &err), 0);
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(add(s, "dense 2"), 0);
    double t0 = seconds();
    ck_assert_int_eq(sq_save(s, path, &err), 0);
    double t_save = seconds() - t0;
    sq_session *b = sq_session_new();
    t0 = seconds();
    ck_assert_msg(sq_load(b, path, &err) == 0, "%s", err.msg);
    double t_load = seconds() - t0;
    ck_assert_int_eq(sq_layer_count(b), N);
    t0 = seconds();
    ck_assert_int_eq(sq_model_new(b, NULL, &err), 0);
    ck_assert_int_eq(sq_input(b, 1, d, &err), 0);
    ck_assert_msg(sq_add_model(b, path, "deep", -1, &err) == 0, "%s", err.msg);
    double t_stack = seconds() - t0;
    ck_assert_int_eq(sq_layer_count(b), 1);
    ck_assert_msg(t_save < 1.0 && t_load < 1.0 && t_stack < 1.0,
                  "save %.2f s, load %.2f s, add model %.2f s", t_save, t_load, t_stack);

    volatile int stop = 1;
    char *before = sq_summary(b, &err);
    sq_set_interrupt_flag(b, &stop);
    ck_assert_int_eq(sq_load(b, path, &err), -1);
    ck_assert_str_eq(err.msg, "Interrupted");
    ck_assert_int_eq(sq_add_model(b, path, "again", -1, &err), -1);
    ck_assert_str_eq(err.msg, "Interrupted");
    char *after = sq_summary(b, &err);
    ck_assert_str_eq(before, after);
    free(before);
    free(after);
    sq_session_free(b);
    sq_session_free(s);
}
END_TEST

int main(void)
{
    Suite *su = suite_create("modelfile");
    TCase *tc = tcase_create("modelfile");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, round_trip_is_bit_identical);
    tcase_add_test(tc, deferred_and_unbuilt_models_round_trip);
    tcase_add_test(tc, damaged_files_fail_and_change_nothing);
    tcase_add_test(tc, damaged_state_fails_and_changes_nothing);
    tcase_add_test(tc, nested_model_trains_only_the_head_and_round_trips);
    tcase_add_test(tc, selectors);
    tcase_add_test(tc, extract_and_truncated_models_match_the_loops);
    tcase_add_test(tc, files_breaking_name_rules_are_refused);
    tcase_add_test(tc, many_layers_load_at_once_and_interruptibly);
    suite_add_tcase(su, tc);
    SRunner *sr = srunner_create(su);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
