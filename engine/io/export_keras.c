/* export_keras.c - `export keras FILE.py`: tf.keras code that builds the
 * model layer by layer from its Keras config (keras_write.c), each layer a
 * readable `layers.KIND(arg=value, ...)` call, then sets the weights from
 * the .npz beside it and compiles as seqsh's compile settings say. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "io/export.h"
#include "io/fileio.h"
#include "io/keras.h"

static void keras_call(json_t *lc, sbuf *b);

/* A JSON value as a Python literal; a layer config (a wrapper's "layer")
 * as the call that makes it. */
static void py_value(json_t *v, sbuf *b)
{
    size_t i;
    json_t *e;
    if (json_is_null(v))
        sb_printf(b, "None");
    else if (json_is_true(v))
        sb_printf(b, "True");
    else if (json_is_false(v))
        sb_printf(b, "False");
    else if (json_is_integer(v))
        sb_printf(b, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v)) {
        char t[48];
        sb_printf(b, "%s", sq_py_float(json_real_value(v), t, sizeof t));
    }
    else if (json_is_string(v))
        sb_printf(b, "\"%s\"", json_string_value(v));
    else if (json_is_array(v)) {
        sb_printf(b, "(");
        json_array_foreach(v, i, e) {
            sb_printf(b, "%s", i ? ", " : "");
            py_value(e, b);
        }
        sb_printf(b, json_array_size(v) == 1 ? ",)" : ")");
    } else if (json_is_object(v) && json_object_get(v, "class_name")) {
        keras_call(v, b);
    }
}

/* keras.initializers.HeNormal(seed=None) from a serialized object under
 * module (initializers, regularizers). */
static void object_call(const char *module, json_t *v, sbuf *b)
{
    json_t *a;
    const char *k;
    int first = 1;
    sb_printf(b, "keras.%s.%s(", module, json_string_value(json_object_get(v, "class_name")));
    json_object_foreach(json_object_get(v, "config"), k, a) {
        sb_printf(b, "%s%s=", first ? "" : ", ", k);
        py_value(a, b);
        first = 0;
    }
    sb_printf(b, ")");
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), n = strlen(suffix);
    return a >= n && !strcmp(s + a - n, suffix);
}

/* layers.Conv2D(filters=4, ...) from a layer's Keras config. */
static void keras_call(json_t *lc, sbuf *b)
{
    json_t *cfg = json_object_get(lc, "config"), *v;
    const char *k;
    int first = 1;
    sb_printf(b, "layers.%s(", json_string_value(json_object_get(lc, "class_name")));
    json_object_foreach(cfg, k, v) {
        if (!strcmp(k, "dtype") || !strcmp(k, "trainable") || !strcmp(k, "name"))
            continue;
        sb_printf(b, "%s%s=", first ? "" : ", ", k);
        if (json_is_object(v) && ends_with(k, "_initializer"))
            object_call("initializers", v, b);
        else if (json_is_object(v) && ends_with(k, "_regularizer"))
            object_call("regularizers", v, b);
        else
            py_value(v, b);
        first = 0;
    }
    sb_printf(b, "%sname=\"%s\")", first ? "" : ", ",
              json_string_value(json_object_get(cfg, "name")));
}

int sq_export_keras_code(const sq_model *m, const char *path, const char *npz,
                         sq_error *err)
{
    json_t *mc = keras_model_config(m, KERAS_FMT_H5, err);
    if (!mc)
        return -1;
    sbuf b = { 0 };
    char shp[128];
    sb_printf(&b, "\"\"\"The seqsh model %s as tf.keras code.\n\n"
              "Input in Keras's layout: %s. Running this file (or runpy.run_path)\n"
              "defines `model`, a keras.Sequential with the weights of %s.\n\"\"\"\n"
              "import os\n\nimport numpy as np\nimport tensorflow as tf\n"
              "from tensorflow import keras\nfrom tensorflow.keras import layers\n\n"
              "_WEIGHTS = np.load(os.path.join(os.path.dirname(os.path.abspath(__file__)), \"%s\"))\n\n",
              m->name, sq_shape_str(&m->input_shape, shp, sizeof shp), npz, npz);
    json_t *list = json_object_get(json_object_get(mc, "config"), "layers"), *lc;
    size_t i;
    json_array_foreach(list, i, lc) {
        const char *cls = json_string_value(json_object_get(lc, "class_name"));
        json_t *cfg = json_object_get(lc, "config");
        if (!strcmp(cls, "Sequential")) {
            const char *gn = json_string_value(json_object_get(cfg, "name"));
            sb_printf(&b, "%s = keras.Sequential(name=\"%s\")\n", gn, gn);
            json_t *inner, *il;
            size_t j;
            inner = json_object_get(cfg, "layers");
            json_array_foreach(inner, j, il) {
                json_t *ic = json_object_get(il, "config");
                if (!strcmp(json_string_value(json_object_get(il, "class_name")), "InputLayer")) {
                    sb_printf(&b, "%s.add(keras.Input(shape=", gn);
                    json_t *s = json_object_get(ic, "batch_input_shape");
                    json_t *rest = json_array();
                    for (size_t q = 1; q < json_array_size(s); q++)
                        json_array_append(rest, json_array_get(s, q));
                    py_value(rest, &b);
                    json_decref(rest);
                    sb_printf(&b, "))\n");
                    continue;
                }
                sb_printf(&b, "%s.add(", gn);
                keras_call(il, &b);
                sb_printf(&b, ")\n");
            }
            sb_printf(&b, "model.add(%s)\n", gn);
            continue;
        }
        if (i == 0)
            sb_printf(&b, "model = keras.Sequential(name=\"%s\")\n", m->name);
        if (!strcmp(cls, "InputLayer")) {
            json_t *s = json_object_get(cfg, "batch_input_shape"), *rest = json_array();
            for (size_t q = 1; q < json_array_size(s); q++)
                json_array_append(rest, json_array_get(s, q));
            sb_printf(&b, "model.add(keras.Input(shape=");
            py_value(rest, &b);
            json_decref(rest);
            sb_printf(&b, "))\n");
            continue;
        }
        sb_printf(&b, "model.add(");
        keras_call(lc, &b);
        sb_printf(&b, ")\n");
    }
    if (!json_array_size(list))
        sb_printf(&b, "model = keras.Sequential(name=\"%s\")\n", m->name);
    sb_printf(&b, "\n# the weights, layer by layer\n");
    for (int q = 0; q < m->n; q++) {
        const sq_layer *l = m->layers[q];
        char k0[3 * SQ_NAME_MAX];
        if (l->nweights) {
            if (l->group)
                sb_printf(&b, "model.get_layer(\"%s\").get_layer(\"%s\").set_weights([", l->group->name, l->name);
            else
                sb_printf(&b, "model.get_layer(\"%s\").set_weights([", l->name);
            for (int j = 0; j < l->nweights; j++) {
                sq_npz_key(l, j, k0, sizeof k0);
                sb_printf(&b, "%s_WEIGHTS[\"%s\"]", j ? ", " : "", k0);
            }
            sb_printf(&b, "])\n");
        }
        if (!l->trainable && l->group)
            sb_printf(&b, "model.get_layer(\"%s\").get_layer(\"%s\").trainable = False\n",
                      l->group->name, l->name);
        else if (!l->trainable)
            sb_printf(&b, "model.get_layer(\"%s\").trainable = False\n", l->name);
    }
    if (m->compiled) {
        json_t *tc = keras_training_config(m);
        json_t *oc = json_object_get(tc, "optimizer_config");
        if (oc) {
            sb_printf(&b, "\nmodel.compile(optimizer=keras.optimizers.%s(",
                      json_string_value(json_object_get(oc, "class_name")));
            const char *k;
            json_t *v;
            int first = 1;
            json_object_foreach(json_object_get(oc, "config"), k, v) {
                if (!strcmp(k, "name"))
                    continue;
                sb_printf(&b, "%s%s=", first ? "" : ", ", k);
                py_value(v, &b);
                first = 0;
            }
            sb_printf(&b, "), loss=");
            py_value(json_object_get(tc, "loss"), &b);
            sb_printf(&b, ", metrics=[");
            json_t *mt = json_object_get(tc, "metrics");
            for (size_t q = 0; q < json_array_size(mt); q++) {
                json_t *one = json_array_get(mt, q);
                sb_printf(&b, "%s", q ? ", " : "");
                if (json_is_object(one))   /* keras.metrics.AUC(...) */
                    object_call("metrics", one, &b);
                else
                    py_value(one, &b);
            }
            sb_printf(&b, "])\n");
        }
        json_decref(tc);
    }
    json_decref(mc);
    char *text = sb_finish(&b, err);
    if (!text)
        return -1;
    int rc = sq_write_file_atomic(path, text, strlen(text), err);
    free(text);
    return rc;
}
