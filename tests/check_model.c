/* check_model.c - the engine's model: names, building, shapes, summary
 * text, weights, and the rule that a failing call changes nothing; shape
 * overflows and a build that checks every kind, linear in the number of
 * layers and interruptible (issue 18). */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "seqsh/engine.h"
#include "model.h"
#include "test_util.h"

static sq_session *s;
static sq_error err;

static void setup(void) { s = sq_session_new(); ck_assert_ptr_nonnull(s); }
static void teardown(void) { sq_session_free(s); }

/* Runs `add` from one string of words. */
static int add(const char *line)
{
    return add_line(s, line, &err);
}

static const char *name_of(int i)
{
    sq_layer_info li;
    ck_assert_int_eq(sq_layer_get(s, i, &li), 0);
    return li.name;
}

static void input(int n, long a, long b, long c)
{
    long d[3] = { a, b, c };
    ck_assert_int_eq(sq_input(s, n, d, &err), 0);
}

START_TEST(names_are_keras_counters)
{
    ck_assert_int_eq(sq_model_new(s, NULL, &err), 0);
    ck_assert_str_eq(sq_model_name(s), "sequential");
    ck_assert_int_eq(add("dense 2"), 0);
    ck_assert_int_eq(add("dense 3"), 0);
    ck_assert_str_eq(name_of(0), "dense");
    ck_assert_str_eq(name_of(1), "dense_1");
    ck_assert_int_eq(sq_pop(s, &err), 0);
    ck_assert_int_eq(add("dense 3"), 0);
    ck_assert_str_eq(name_of(1), "dense_2");       /* pop never rewinds */
    ck_assert_int_eq(add("conv2d 3 3"), 0);
    ck_assert_str_eq(name_of(2), "conv2d");        /* one counter per kind */
    ck_assert_int_eq(add("dense 3 name=mine"), 0); /* explicit: no number */
    ck_assert_int_eq(add("dense 3"), 0);
    ck_assert_str_eq(name_of(4), "dense_3");
    ck_assert_int_eq(sq_model_new(s, NULL, &err), 0);
    ck_assert_str_eq(sq_model_name(s), "sequential_1");
    ck_assert_int_eq(add("dense 1"), 0);
    ck_assert_str_eq(name_of(0), "dense_4");       /* global to the session */
    sq_reset(s);
    ck_assert_int_eq(sq_model_new(s, NULL, &err), 0);
    ck_assert_str_eq(sq_model_name(s), "sequential");
    ck_assert_int_eq(add("max_pool2d"), 0);
    ck_assert_str_eq(name_of(0), "max_pooling2d");
    ck_assert_int_eq(add("MaxPooling2D"), 0);
    ck_assert_str_eq(name_of(1), "max_pooling2d_1");
}
END_TEST

START_TEST(explicit_name_collides_with_later_auto_name)
{
    ck_assert_int_eq(add("dense 2 name=dense_1"), 0);
    ck_assert_int_eq(add("dense 2"), 0);          /* dense */
    ck_assert_int_eq(add("dense 2"), -1);         /* dense_1 is taken */
    ck_assert_str_eq(err.msg, "All layers added to a Sequential model should have unique "
                     "names. Name \"dense_1\" is already the name of a layer in this model. "
                     "Update the `name` argument to pass a unique name.");
    ck_assert_int_eq(sq_layer_count(s), 2);
    /* a failing command takes no number (it changes nothing), so the same
     * auto name collides again until the user gives one */
    ck_assert_int_eq(add("dense 2"), -1);
    ck_assert_int_eq(add("dense 2 name=other"), 0);
    ck_assert_int_eq(sq_layer_count(s), 3);
}
END_TEST

static const char seed_table[] =
    "Model: \"sequential\"\n"
    "_________________________________________________________________\n"
    "Layer (type)                 Output Shape              Param #   \n"
    "=================================================================\n"
    "conv2d (Conv2D)              (None, 123, 123, 32)      2432      \n"
    "_________________________________________________________________\n"
    "conv2d_1 (Conv2D)            (None, 121, 121, 32)      9248      \n"
    "_________________________________________________________________\n"
    "max_pooling2d (MaxPooling2D) (None, 40, 40, 32)        0         \n"
    "=================================================================\n"
    "Total params: 11,680\n"
    "Trainable params: 11,680\n"
    "Non-trainable params: 0\n"
    "_________________________________________________________________\n";

START_TEST(summary_of_the_seed_conv_stack)
{
    input(3, 250, 250, 3);
    ck_assert_int_eq(add("conv2d 32 5 strides=2 relu"), 0);
    ck_assert_int_eq(add("conv2d 32 3 relu"), 0);
    ck_assert_int_eq(add("maxpooling2d 3"), 0);
    char *t = sq_summary(s, &err);
    ck_assert_ptr_nonnull(t);
    ck_assert_str_eq(t, seed_table);
    free(t);
}
END_TEST

/* The classic row builder: cut to width-1 characters plus a space. */
START_TEST(summary_truncates_like_keras)
{
    input(3, 8, 8, 3);
    ck_assert_int_eq(add("maxpooling2d 2 padding=same"), 0);
    ck_assert_int_eq(add("maxpooling2d 1"), 0);
    ck_assert_int_eq(add("conv2d 4 1 name=abcdefghijklmnopqr"), 0);   /* 18 + 9 = 27 */
    ck_assert_int_eq(add("conv2d 4 1 name=abcdefghijklmnopqrs"), 0);  /* 28 chars */
    ck_assert_int_eq(add("conv2d 4 1 name=abcdefghijklmnopqrst"), 0); /* 29 chars */
    ck_assert_int_eq(add("batchnormalization"), 0);
    char *t = sq_summary(s, &err);
    ck_assert_ptr_nonnull(t);
    ck_assert_ptr_nonnull(strstr(t, "\nmax_pooling2d (MaxPooling2D) (None, 4, 4, 3)           0         \n"));
    ck_assert_ptr_nonnull(strstr(t, "\nmax_pooling2d_1 (MaxPooling2 (None, 4, 4, 3)           0         \n"));
    ck_assert_ptr_nonnull(strstr(t, "\nabcdefghijklmnopqr (Conv2D)  (None, 4, 4, 4)           16        \n"));
    ck_assert_ptr_nonnull(strstr(t, "\nabcdefghijklmnopqrs (Conv2D) (None, 4, 4, 4)           20        \n"));
    ck_assert_ptr_nonnull(strstr(t, "\nabcdefghijklmnopqrst (Conv2D (None, 4, 4, 4)           20        \n"));
    ck_assert_ptr_nonnull(strstr(t, "\nbatch_normalization (BatchNo (None, 4, 4, 4)           16        \n"));
    ck_assert_ptr_nonnull(strstr(t, "Total params: 72\nTrainable params: 64\nNon-trainable params: 8\n"));
    /* every table line is exactly 65 characters */
    for (char *line = t, *nl; (nl = strchr(line, '\n')); line = nl + 1)
        if (strncmp(line, "Model:", 6) && strncmp(line, "Total", 5)
            && strncmp(line, "Trainable", 9) && strncmp(line, "Non-", 4))
            ck_assert_int_eq((int)(nl - line), 65);
    free(t);
}
END_TEST

START_TEST(summary_commas_and_long_shapes)
{
    input(1, 4096, 0, 0);
    ck_assert_int_eq(add("dense 5000"), 0);
    char *t = sq_summary(s, &err);
    ck_assert_ptr_nonnull(strstr(t, "dense (Dense)                (None, 5000)              20485000  \n"));
    ck_assert_ptr_nonnull(strstr(t, "Total params: 20,485,000\nTrainable params: 20,485,000\n"));
    free(t);
    ck_assert_int_eq(sq_model_new(s, NULL, &err), 0);
    long d[4] = { 12345, 12345, 1234, 3 };
    ck_assert_int_eq(sq_input(s, 4, d, &err), 0);
    ck_assert_int_eq(add("rescaling 0.5"), 0);
    t = sq_summary(s, &err);
    /* "(None, 12345, 12345, 1234, 3)" is 30 characters: 25 shown + space */
    ck_assert_ptr_nonnull(strstr(t, "rescaling (Rescaling)        (None, 12345, 12345, 1234 0         \n"));
    free(t);
}
END_TEST

START_TEST(empty_model_with_input_has_one_rule)
{
    input(1, 4, 0, 0);
    char *t = sq_summary(s, &err);
    ck_assert_ptr_nonnull(t);
    ck_assert_str_eq(strstr(t, "=====") , "=================================================================\n"
                     "Total params: 0\nTrainable params: 0\nNon-trainable params: 0\n"
                     "_________________________________________________________________\n");
    free(t);
}
END_TEST

START_TEST(unbuilt_errors)
{
    ck_assert_ptr_null(sq_summary(s, &err));
    ck_assert_str_eq(err.msg, "This model has not yet been built. Build the model first by "
                     "calling `build()` or calling `fit()` with some data, or specify an "
                     "`input_shape` argument in the first layer(s) for automatic build.");
    ck_assert_int_eq(add("dense 2"), 0);
    ck_assert_ptr_null(sq_weights_text(s, NULL, &err));
    ck_assert_str_eq(err.msg, "Weights for model sequential have not yet been created. Weights "
                     "are created when the Model is first called on inputs or `build()` is "
                     "called with an `input_shape`.");
    ck_assert_int_eq(sq_pop(s, &err), 0);
    ck_assert_int_eq(sq_pop(s, &err), -1);
    ck_assert_str_eq(err.msg, "There are no layers in the model.");
}
END_TEST

/* Snapshot of everything a failing command must not change. */
typedef struct {
    char *summary, *layers;
    float *params;
    size_t n;
    sq_rng rng;
    char next_dense[64];
} snap;

static snap take(void)
{
    snap p = { 0 };
    sq_error e;
    p.summary = sq_summary(s, &e);
    p.layers = sq_layers_text(s, &e);
    p.n = s->model->nparams;
    p.params = malloc(p.n * sizeof(float) + 1);
    memcpy(p.params, s->model->params, p.n * sizeof(float));
    p.rng = s->rng;
    sq_name_peek(s, "dense", p.next_dense, sizeof p.next_dense);
    return p;
}

static void same(snap *a)
{
    snap b = take();
    if (a->summary)
        ck_assert_str_eq(a->summary, b.summary);
    ck_assert_str_eq(a->layers, b.layers);
    ck_assert_uint_eq(a->n, b.n);
    ck_assert_int_eq(memcmp(a->params, b.params, a->n * sizeof(float)), 0);
    ck_assert_int_eq(memcmp(&a->rng, &b.rng, sizeof a->rng), 0);
    ck_assert_str_eq(a->next_dense, b.next_dense);
    free(b.summary);
    free(b.layers);
    free(b.params);
}

START_TEST(failing_commands_change_nothing)
{
    input(3, 6, 6, 3);
    ck_assert_int_eq(add("conv2d 4 3 relu"), 0);
    ck_assert_int_eq(add("dense 5"), 0);
    snap a = take();
    static const char *bad[] = {
        "dense 3 foo", "dense 3 activation=nope", "dense 0", "dense", "dense 3 bogus=1",
        "conv2d 4 7", "maxpooling2d 5", "reshape 7", "reshape -1,-1", "dropout 2",
        "frobnicate", "dense 3 name=conv2d", "dense 3 name=dense", "conv2d 4 (0, 3)",
        "conv2d 4 3 padding=full", "conv2d 4 3 strides=2 dilation_rate=2",
        "globalmaxpooling2d keepdims=maybe",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ck_assert_msg(add(bad[i]) == -1, "add %s should fail", bad[i]);
        ck_assert_msg(err.msg[0] != '\0', "add %s: empty message", bad[i]);
        same(&a);
    }
    long wrong[3] = { 1, 2, 3 };
    ck_assert_int_eq(sq_input(s, 3, wrong, &err), -1);
    same(&a);
    sq_tensor x, y;
    long d[4] = { 2, 5, 6, 3 };
    ck_assert_int_eq(sq_tensor_generate(s, "ones", 4, d, &x, &err), 0);
    a.rng = s->rng;
    ck_assert_int_eq(sq_call(s, &x, &y, &err), -1);
    ck_assert_str_eq(err.msg, "Input 0 of layer sequential is incompatible with the layer: "
                     "expected shape=(None, 6, 6, 3), found shape=(2, 5, 6, 3)");
    same(&a);
    sq_tensor_free(&x);
    free(a.summary);
    free(a.layers);
    free(a.params);
}
END_TEST

START_TEST(deferred_build_and_relaxation)
{
    ck_assert_int_eq(add("dense 2"), 0);
    ck_assert_int_eq(add("conv2d 2 3"), 0);  /* impossible, but unknowable yet */
    sq_tensor x, y;
    long d[2] = { 1, 4 };
    ck_assert_int_eq(sq_tensor_generate(s, "ones", 2, d, &x, &err), 0);
    sq_rng before = s->rng;
    ck_assert_int_eq(sq_call(s, &x, &y, &err), -1);
    ck_assert_str_eq(err.msg, "Input 0 of layer conv2d is incompatible with the layer: : "
                     "expected min_ndim=4, found ndim=2. Full shape received: (1, 2)");
    ck_assert(!sq_model_is_built(s));
    ck_assert_int_eq(memcmp(&before, &s->rng, sizeof before), 0);
    ck_assert_int_eq(sq_pop(s, &err), 0);
    ck_assert_int_eq(add("dense 3"), 0);
    ck_assert_int_eq(sq_call(s, &x, &y, &err), 0);
    sq_tensor_free(&y);
    sq_layer_info li;
    char buf[64];
    sq_layer_get(s, 1, &li);
    ck_assert_str_eq(sq_shape_str(&li.output_shape, buf, sizeof buf), "(1, 3)");
    sq_tensor_free(&x);
    d[0] = 5;
    ck_assert_int_eq(sq_tensor_generate(s, "ones", 2, d, &x, &err), 0);
    ck_assert_int_eq(sq_call(s, &x, &y, &err), 0);
    ck_assert_int_eq((int)y.shape.d[0], 5);
    sq_tensor_free(&y);
    sq_layer_get(s, 0, &li);
    ck_assert_str_eq(sq_shape_str(&li.output_shape, buf, sizeof buf), "(None, 2)");
    /* a new layer on the built model extends it with the relaxed batch */
    ck_assert_int_eq(add("dense 7"), 0);
    sq_layer_get(s, 2, &li);
    ck_assert_str_eq(sq_shape_str(&li.output_shape, buf, sizeof buf), "(None, 7)");
    sq_tensor_free(&x);
    d[1] = 5;
    ck_assert_int_eq(sq_tensor_generate(s, "ones", 2, d, &x, &err), 0);
    ck_assert_int_eq(sq_call(s, &x, &y, &err), -1);
    ck_assert_str_eq(err.msg, "Input 0 of layer dense is incompatible with the layer: expected "
                     "axis -1 of input shape to have value 4 but received input with shape (5, 5)");
    sq_tensor_free(&x);
    /* popping to empty unbuilds, even with an explicit input */
    ck_assert_int_eq(sq_model_new(s, NULL, &err), 0);
    input(1, 4, 0, 0);
    ck_assert_int_eq(add("dense 2"), 0);
    ck_assert_int_eq(sq_pop(s, &err), 0);
    ck_assert(!sq_model_is_built(s));
}
END_TEST

START_TEST(weights_names_shapes_and_init)
{
    sq_seed(s, 7);
    input(1, 4, 0, 0);
    ck_assert_int_eq(add("dense 3"), 0);
    ck_assert_int_eq(add("batchnormalization"), 0);
    char *t = sq_weights_text(s, NULL, &err);
    ck_assert_ptr_nonnull(t);
    ck_assert_ptr_nonnull(strstr(t, "dense/kernel:0 shape=(4, 3) dtype=float32\n[["));
    ck_assert_ptr_nonnull(strstr(t, "\ndense/bias:0 shape=(3,) dtype=float32\n[0. 0. 0.]\n"));
    ck_assert_ptr_nonnull(strstr(t, "\nbatch_normalization/gamma:0 shape=(3,) dtype=float32\n[1. 1. 1.]\n"));
    ck_assert_ptr_nonnull(strstr(t, "\nbatch_normalization/moving_variance:0 shape=(3,) dtype=float32\n[1. 1. 1.]\n"));
    free(t);
    /* glorot_uniform: inside +-sqrt(6 / (4 + 3)) and not all tiny */
    float lim = sqrtf(6.0f / 7.0f), mx = 0;
    for (int i = 0; i < 12; i++) {
        ck_assert(fabsf(s->model->params[i]) <= lim);
        mx = fmaxf(mx, fabsf(s->model->params[i]));
    }
    ck_assert(mx > lim / 4);
    /* same seed, same weights */
    float first[12];
    memcpy(first, s->model->params, sizeof first);
    sq_seed(s, 7);
    ck_assert_int_eq(sq_model_new(s, NULL, &err), 0);
    input(1, 4, 0, 0);
    ck_assert_int_eq(add("dense 3"), 0);
    ck_assert_int_eq(memcmp(first, s->model->params, sizeof first), 0);
    ck_assert_ptr_null(sq_weights_text(s, "nope", &err));
    ck_assert_str_eq(err.msg, "No such layer: nope. Existing layers are: ['dense_1'].");
}
END_TEST

START_TEST(conv_glorot_limit)
{
    input(3, 9, 9, 3);
    ck_assert_int_eq(add("conv2d 32 5"), 0);
    float lim = sqrtf(6.0f / (75 + 800)), mx = 0;
    for (int i = 0; i < 5 * 5 * 3 * 32; i++) {
        ck_assert(fabsf(s->model->params[i]) <= lim);
        mx = fmaxf(mx, fabsf(s->model->params[i]));
    }
    ck_assert(mx > 0.9f * lim);
}
END_TEST

START_TEST(weights_files_round_trip)
{
    char path[] = "/tmp/seqsh_w_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    input(3, 5, 5, 2);
    ck_assert_int_eq(add("conv2d 3 3"), 0);
    ck_assert_int_eq(add("batchnormalization"), 0);
    ck_assert_int_eq(add("flatten"), 0);
    ck_assert_int_eq(add("dense 2"), 0);
    ck_assert_int_eq(sq_save_weights(s, path, &err), 0);
    size_t n = s->model->nparams;
    float *orig = malloc(n * sizeof *orig);
    memcpy(orig, s->model->params, n * sizeof *orig);
    for (size_t i = 0; i < n; i++)
        s->model->params[i] = -1;
    ck_assert_int_eq(sq_load_weights(s, path, &err), 0);
    ck_assert_int_eq(memcmp(orig, s->model->params, n * sizeof *orig), 0);
    /* a model it does not fit: an error and no change */
    ck_assert_int_eq(sq_pop(s, &err), 0);
    ck_assert_int_eq(add("dense 3 name=dense"), 0);
    float *before = malloc(s->model->nparams * sizeof *before);
    memcpy(before, s->model->params, s->model->nparams * sizeof *before);
    ck_assert_int_eq(sq_load_weights(s, path, &err), -1);
    ck_assert_str_eq(err.msg, "Shape mismatch in layer #3 (named dense) for weight "
                     "dense/kernel:0. Weight expects shape (27, 3). Received saved weight "
                     "with shape (27, 2)");
    ck_assert_int_eq(memcmp(before, s->model->params, s->model->nparams * sizeof *before), 0);
    ck_assert_int_eq(sq_pop(s, &err), 0);
    ck_assert_int_eq(sq_load_weights(s, path, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "has an array 'dense/kernel' that matches no weight"));
    free(before);
    free(orig);
    remove(path);
}
END_TEST

START_TEST(generated_inputs)
{
    sq_tensor x;
    long d[2] = { 2, 3 };
    ck_assert_int_eq(sq_tensor_generate(s, "range", 2, d, &x, &err), 0);
    for (int i = 0; i < 6; i++)
        ck_assert_float_eq(x.data[i], (float)i);
    sq_tensor_free(&x);
    ck_assert_int_eq(sq_tensor_generate(s, "random", 2, d, &x, &err), 0);
    for (int i = 0; i < 6; i++)
        ck_assert(x.data[i] >= 0 && x.data[i] < 1);
    sq_tensor_free(&x);
    ck_assert_int_eq(sq_tensor_generate(s, "twos", 2, d, &x, &err), -1);
    /* big ones are filled by the threads, each a share: every value right */
    int was = sq_get_threads();
    sq_set_threads(3);
    long big[2] = { 3, 100003 };
    const char *kinds[3] = { "zeros", "ones", "range" };
    for (int k = 0; k < 3; k++) {
        ck_assert_int_eq(sq_tensor_generate(s, kinds[k], 2, big, &x, &err), 0);
        for (long i = 0; i < 300009; i++) {
            float want = k == 0 ? 0.0f : k == 1 ? 1.0f : (float)i;
            if (x.data[i] != want)
                ck_abort_msg("%s: value %ld is %g, want %g", kinds[k], i, (double)x.data[i],
                             (double)want);
        }
        sq_tensor_free(&x);
    }
    sq_set_threads(was);
    d[1] = 0;
    ck_assert_int_eq(sq_tensor_generate(s, "ones", 2, d, &x, &err), -1);
    ck_assert_str_eq(err.msg, "dimensions must be positive, got 0");
}
END_TEST

/* The memory limit counts what a call holds: its input, its output and a
 * chunk of samples' activations, not every layer's output for the whole
 * batch; sq_call_check says so before the input is made. */
START_TEST(memory_limit_counts_what_a_call_holds)
{
    size_t was = sq_get_memory_limit();
    sq_set_threads(1);
    input(3, 64, 64, 3);
    ck_assert_int_eq(add("conv2d 32 3 relu"), 0);
    ck_assert_int_eq(add("globalmaxpool2d"), 0);
    /* batch 64: the conv's output is 62*62*32 floats (492 KB) a sample,
     * 31.5 MB for the batch; the input 3.1 MB, the output 8 KB */
    sq_set_memory_limit((size_t)8 << 20);
    sq_shape in = { 4, { 64, 64, 64, 3 } };
    ck_assert_msg(sq_call_check(s, &in, &err) == 0, "%s", err.msg);
    sq_tensor x, y;
    ck_assert_int_eq(sq_tensor_generate(s, "ones", 4, in.d, &x, &err), 0);
    ck_assert_msg(sq_call(s, &x, &y, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(y.shape.rank, 2);
    ck_assert_int_eq(y.shape.d[0], 64);
    ck_assert_int_eq(y.shape.d[1], 32);
    sq_tensor_free(&y);
    /* under the input and the output alone (3,153,920 bytes): refused, by
     * the check and by the call */
    sq_set_memory_limit((size_t)3 << 20);
    ck_assert_int_eq(sq_call_check(s, &in, &err), -1);
    ck_assert_msg(!strncmp(err.msg, "this call would need ", 21), "%s", err.msg);
    ck_assert_msg(strstr(err.msg, "more than the memory limit of 3.0 MiB") != NULL, "%s", err.msg);
    ck_assert_int_eq(sq_call(s, &x, &y, &err), -1);
    ck_assert_msg(!strncmp(err.msg, "this call would need ", 21), "%s", err.msg);
    sq_tensor_free(&x);
    /* a shape the model refuses is left to the call to report */
    sq_shape bad = { 4, { 1, 64, 64, 4 } };
    ck_assert_int_eq(sq_call_check(s, &bad, &err), 0);
    sq_set_memory_limit(was);
}
END_TEST

/* OpenBLAS's fallback kernels on a CPU it does not know get replaced. */
START_TEST(blas_kernel_choice)
{
    __builtin_cpu_init();
    const char *fix = sq_blas_better_coretype_for("Prescott");
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
        && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
        ck_assert_str_eq(fix, "SkylakeX");
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        ck_assert_str_eq(fix, "Haswell");
    ck_assert_ptr_null(sq_blas_better_coretype_for("SkylakeX"));
    ck_assert_ptr_null(sq_blas_better_coretype_for("Haswell"));
    ck_assert_ptr_null(sq_blas_better_coretype_for("Cooperlake"));
}
END_TEST

/* A kernel narrower than the CPU (OPENBLAS_CORETYPE=Haswell on an AVX-512
 * machine) is named as such in info. */
START_TEST(blas_kernel_narrower_than_the_cpu)
{
    ck_assert_str_eq(sq_blas_kernel_isa("SkylakeX"), "AVX-512");
    ck_assert_str_eq(sq_blas_kernel_isa("cooperlake"), "AVX-512");
    ck_assert_str_eq(sq_blas_kernel_isa("Haswell"), "AVX2");
    ck_assert_str_eq(sq_blas_kernel_isa("Zen"), "AVX2");
    ck_assert_str_eq(sq_blas_kernel_isa("Sandybridge"), "AVX");
    ck_assert_str_eq(sq_blas_kernel_isa("Prescott"), "SSE");
    ck_assert_ptr_null(sq_blas_kernel_note("SkylakeX"));
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) {
        ck_assert_str_eq(sq_blas_kernel_note("Haswell"), "an AVX2 kernel on this AVX-512 CPU");
        ck_assert_str_eq(sq_blas_kernel_note("Prescott"), "an SSE kernel on this AVX-512 CPU");
    } else {
        ck_assert_ptr_null(sq_blas_kernel_note("Haswell"));
    }
    /* info says it for the kernel in use (make check runs with
     * OPENBLAS_CORETYPE=Prescott too) */
    const char *info = sq_backend_info(), *k = strstr(info, "; kernel ");
    ck_assert_ptr_nonnull(k);
    char core[64];
    ck_assert_int_eq(sscanf(k + 9, "%63[A-Za-z0-9]", core), 1);
    const char *note = sq_blas_kernel_note(core);
    if (note)
        ck_assert_msg(strstr(info, note) != NULL, "%s", info);
    else
        ck_assert_msg(strstr(info, "AVX-512 CPU") == NULL, "%s", info);
}
END_TEST

/* ---- issue 18: shapes that overflow, kinds that forget, many layers ------- */

START_TEST(shape_overflows_are_errors_naming_the_dimensions)
{
    static const struct { const char *in, *add, *msg; } c[] = {
        { "65536 65536 65536 65536", "flatten",
          "layer flatten: 65536 x 65536 x 65536 x 65536 is too large (a shape holds at most "
          "2^53 values)" },
        { "65536 65536 65536 65536", "reshape -1",
          "layer reshape: 65536 x 65536 x 65536 x 65536 is too large (a shape holds at most "
          "2^53 values)" },
        { "65536 65536 65536 65536", "reshape 65536,65536,65536,65536",
          "layer reshape: 65536 x 65536 x 65536 x 65536 is too large (a shape holds at most "
          "2^53 values)" },
        { "2147483647 3", "upsampling1d size=2147483647",
          "layer up_sampling1d: 2147483647 x 2147483647 is too large (a shape holds at most "
          "2^53 values)" },
        /* no check in the kind: the build's */
        { "2147483647 1", "zeropadding1d padding=(2147483647,2147483647)",
          "layer zero_padding1d: the shape (None, 6442450941, 1) has a dimension larger "
          "than 2^32" },
        { "2147483647", "dense 2147483647",
          "layer dense's weight kernel: 2147483647 x 2147483647 is too large (a shape holds "
          "at most 2^53 values)" },
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        ck_assert_int_eq(sq_model_new(s, NULL, &err), 0);
        long d[SQ_MAX_RANK];
        int n = 0;
        char buf[64];
        snprintf(buf, sizeof buf, "%s", c[i].in);
        for (char *t = strtok(buf, " "); t; t = strtok(NULL, " "))
            d[n++] = strtol(t, NULL, 10);
        ck_assert_int_eq(sq_input(s, n, d, &err), 0);
        ck_assert_msg(add(c[i].add) == -1, "%s loaded", c[i].add);
        ck_assert_str_eq(err.msg, c[i].msg);
        ck_assert_int_eq(sq_layer_count(s), 0);
    }
    /* a dimension past 2^32 is refused at the input */
    long big[1] = { 4294967297L };
    ck_assert_int_eq(sq_input(s, 1, big, &err), -1);
}
END_TEST

/* Kinds that compute shapes without the helper (as a new kind might):
 * the build step still checks what they return. */
static int wide_shape(const sq_layer *l, const sq_shape *in, sq_shape *out, sq_error *e)
{
    (void)l;
    (void)e;
    *out = (sq_shape){ 2, { in->d[0], (long)1 << 40 } };
    return 0;
}

static int deep_shape(const sq_layer *l, const sq_shape *in, sq_shape *out, sq_error *e)
{
    (void)l;
    (void)e;
    *out = (sq_shape){ 7, { in->d[0], 1 } };
    return 0;
}

static int same_shape(const sq_layer *l, const sq_shape *in, sq_shape *out, sq_error *e)
{
    (void)l;
    (void)e;
    *out = *in;
    return 0;
}

static int heavy_weights(const sq_layer *l, const sq_shape *in, sq_weight_spec *w)
{
    (void)l;
    (void)in;
    w[0] = (sq_weight_spec){ "kernel", { 2, { (long)1 << 27, (long)1 << 27 } },
                             INIT_ZEROS, 1 };
    return 1;
}

START_TEST(the_build_checks_what_any_kind_returns)
{
    static const sq_layer_kind wide = { .class_name = "Wide", .base_name = "wide",
                                        .output_shape = wide_shape },
                               deep = { .class_name = "Deep", .base_name = "deep",
                                        .output_shape = deep_shape },
                               heavy = { .class_name = "Heavy", .base_name = "heavy",
                                         .output_shape = same_shape,
                                         .weights = heavy_weights };
    static const struct { const sq_layer_kind *k; const char *msg; } c[] = {
        { &wide, "layer wide: the shape (None, 1099511627776) has a dimension larger than 2^32" },
        { &deep, "layer deep: its output has rank 7 (at most 5) or it has 0 weights (at most 8)" },
        { &heavy, "layer heavy's weight kernel: 134217728 x 134217728 is too large (a shape "
                  "holds at most 2^53 values)" },
    };
    input(1, 4, 0, 0);
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        sq_shape ish;
        sq_layer *l = sq_layer_create(c[i].k, 0, NULL, &ish, &err);
        ck_assert_ptr_nonnull(l);
        snprintf(l->name, sizeof l->name, "%s", c[i].k->base_name);
        ck_assert_int_eq(sq_model_append(s->model, l, &ish, &s->rng, &err), -1);
        ck_assert_str_eq(err.msg, c[i].msg);
        sq_layer_free(l);
        ck_assert_int_eq(sq_layer_count(s), 0);
    }
}
END_TEST

static double seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Adding plans only the new layer and finds its name in a hash table, and
 * popping looks at the last entry only: 20,000 layers are added, built,
 * summarised and popped in well under a second each (adding them took
 * minutes; 0.16 s, 0.07 s, 0.03 s and 0.04 s on the 2-core EPYC of the
 * README, 2026-12-02, with this test). */
START_TEST(many_layers_are_linear)
{
    enum { N = 20000 };
    input(1, 2, 0, 0);
    double t0 = seconds();
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(add("dense 2"), 0);
    double t_add = seconds() - t0;
    ck_assert_int_eq(sq_layer_count(s), N);
    ck_assert_str_eq(name_of(N - 1), "dense_19999");
    ck_assert_int_eq(add("dense 2 name=dense_777"), -1);   /* names still checked */
    t0 = seconds();
    char *text = sq_summary(s, &err);
    double t_summary = seconds() - t0;
    ck_assert_ptr_nonnull(text);
    free(text);
    /* a model built by its first call: one build of every layer */
    sq_session *d = sq_session_new();
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(add_line(d, "dense 2", &err), 0);
    sq_tensor x, y;
    long dims[2] = { 1, 2 };
    ck_assert_int_eq(sq_tensor_generate(d, "ones", 2, dims, &x, &err), 0);
    t0 = seconds();
    ck_assert_msg(sq_call(d, &x, &y, &err) == 0, "%s", err.msg);
    double t_build = seconds() - t0;
    sq_tensor_free(&x);
    sq_tensor_free(&y);
    sq_session_free(d);
    t0 = seconds();
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(sq_pop(s, &err), 0);
    double t_pop = seconds() - t0;
    ck_assert_int_eq(sq_layer_count(s), 0);
    ck_assert_msg(t_add < 1.0 && t_summary < 0.5 && t_build < 0.5 && t_pop < 0.5,
                  "add %.2f s, summary %.2f s, build and call %.2f s, pop %.2f s", t_add,
                  t_summary, t_build, t_pop);
}
END_TEST

/* The build polls the interrupt flag: a long one (thousands of layers
 * from a file) stops, and changes nothing. */
START_TEST(the_build_is_interruptible)
{
    volatile int stop = 0;
    sq_set_interrupt_flag(s, &stop);
    ck_assert_int_eq(add("dense 3"), 0);
    ck_assert_int_eq(add("dense 2"), 0);
    stop = 1;
    sq_shape in = { 2, { -1, 4 } };
    ck_assert_int_eq(sq_model_rebuild(s->model, &in, &s->rng, &err), -1);
    ck_assert_str_eq(err.msg, "Interrupted");
    ck_assert_int_eq(sq_model_is_built(s), 0);
    stop = 0;
    ck_assert_int_eq(sq_model_rebuild(s->model, &in, &s->rng, &err), 0);
    sq_set_interrupt_flag(s, NULL);
}
END_TEST

int main(void)
{
    Suite *su = suite_create("model");
    TCase *tc = tcase_create("model");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, names_are_keras_counters);
    tcase_add_test(tc, explicit_name_collides_with_later_auto_name);
    tcase_add_test(tc, summary_of_the_seed_conv_stack);
    tcase_add_test(tc, summary_truncates_like_keras);
    tcase_add_test(tc, summary_commas_and_long_shapes);
    tcase_add_test(tc, empty_model_with_input_has_one_rule);
    tcase_add_test(tc, unbuilt_errors);
    tcase_add_test(tc, failing_commands_change_nothing);
    tcase_add_test(tc, deferred_build_and_relaxation);
    tcase_add_test(tc, weights_names_shapes_and_init);
    tcase_add_test(tc, conv_glorot_limit);
    tcase_add_test(tc, weights_files_round_trip);
    tcase_add_test(tc, generated_inputs);
    tcase_add_test(tc, blas_kernel_choice);
    tcase_add_test(tc, blas_kernel_narrower_than_the_cpu);
    tcase_add_test(tc, memory_limit_counts_what_a_call_holds);
    tcase_add_test(tc, shape_overflows_are_errors_naming_the_dimensions);
    tcase_add_test(tc, the_build_checks_what_any_kind_returns);
    tcase_add_test(tc, many_layers_are_linear);
    tcase_add_test(tc, the_build_is_interruptible);
    suite_add_tcase(su, tc);
    return run_suite(su);
}
