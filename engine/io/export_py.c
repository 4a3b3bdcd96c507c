/* export_py.c - `export pytorch FILE.py` and `export keras FILE.py`:
 * readable Python that defines a module-level `model` with seqsh's weights,
 * read from FILE.npz written beside it (keys "LAYER/WEIGHT", a nested
 * model's as "MODEL/LAYER/WEIGHT"). Both take input in seqsh's layout
 * (channels last); the PyTorch module permutes to NCHW around its
 * convolutions and pooling and pads as TensorFlow does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "io/export.h"
#include "io/keras.h"
#include "io/npy.h"

static const sq_optval *opt(const sq_layer *l, const char *name)
{
    int i = sq_opt_index(l->kind, name);
    return i >= 0 ? &l->opt[i] : NULL;
}

/* The .npz key of weight j of layer l. */
static void key(const sq_layer *l, int j, char *buf, size_t n)
{
    if (l->group)
        snprintf(buf, n, "%s/%s/%s", l->group->name, l->name, l->w[j].name);
    else
        snprintf(buf, n, "%s/%s", l->name, l->w[j].name);
}

/* FILE.py -> FILE.npz, and its base name for the Python side. */
static int npz_path(const char *py, char *out, size_t n, const char **base, sq_error *err)
{
    size_t len = strlen(py);
    if (len < 4 || strcmp(py + len - 3, ".py") || len + 2 > n)
        return sq_fail(err, "export to '%s': the file name must end in .py", py);
    snprintf(out, n, "%.*s.npz", (int)(len - 3), py);
    const char *slash = strrchr(out, '/');
    *base = slash ? slash + 1 : out;
    return 0;
}

static int write_weights(const sq_model *m, const char *path, sq_error *err)
{
    int total = 0, k = 0, rc;
    for (int i = 0; i < m->n; i++)
        total += m->layers[i]->nweights;
    npz_entry *e = sq_calloc((size_t)total + 1, sizeof *e);
    if (!e)
        return sq_fail(err, "out of memory");
    for (int i = 0; i < m->n; i++) {
        const sq_layer *l = m->layers[i];
        const float *w = m->params + l->param_off;
        for (int j = 0; j < l->nweights; j++) {
            char buf[3 * SQ_NAME_MAX + 8];
            key(l, j, buf, sizeof buf);
            if (!(e[k].name = sq_strdup(buf))) {
                rc = sq_fail(err, "out of memory");
                goto done;
            }
            e[k].t.shape = l->w[j].shape;
            e[k].t.data = (float *)w;
            w += sq_weight_count(&l->w[j]);
            k++;
        }
    }
    rc = npz_write_file(path, e, k, err);
done:
    for (int i = 0; i < k; i++)
        free(e[i].name);
    free(e);
    return rc;
}

/* A Python tuple of the dims of sh from `from`. */
static void tuple(sbuf *b, const long *d, int n)
{
    sb_printf(b, "(");
    for (int i = 0; i < n; i++)
        sb_printf(b, "%s%ld", i ? ", " : "", d[i]);
    sb_printf(b, n == 1 ? ",)" : ")");
}

/* ---- PyTorch ------------------------------------------------------------- */

static const char *torch_act(int a)
{
    static const char *const names[][2] = {
        { "linear", NULL }, { "relu", "F.relu(x)" }, { "sigmoid", "torch.sigmoid(x)" },
        { "tanh", "torch.tanh(x)" }, { "softmax", "torch.softmax(x, dim=-1)" },
        { "softplus", "F.softplus(x)" }, { "softsign", "F.softsign(x)" }, { "elu", "F.elu(x)" },
        { "selu", "F.selu(x)" }, { "exponential", "torch.exp(x)" },
        { "hard_sigmoid", "torch.clamp(0.2 * x + 0.5, 0.0, 1.0)  # Keras 2's hard_sigmoid" },
        { "swish", "F.silu(x)" }, { "silu", "F.silu(x)" }, { "gelu", "F.gelu(x)  # exact (erf)" },
        { "relu6", "F.relu6(x)" }, { "leaky_relu", "F.leaky_relu(x, 0.2)" },
        { "log_softmax", "torch.log_softmax(x, dim=-1)" },
    };
    const char *n = sq_activation_name(a);
    for (size_t i = 0; n && i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(names[i][0], n))
            return names[i][1];
    return NULL;
}

/* TensorFlow's SAME split as F.pad's (left, right, top, bottom). */
static void tf_pads(const sq_layer *l, const long *k, const long *s, const long *d, int same,
                    long *p)
{
    for (int a = 0; a < 2; a++) {
        long n = l->in_shape.d[1 + a], o = l->out_shape.d[1 + a];
        long dk = k[a] + (k[a] - 1) * (d[a] - 1), total = same ? (o - 1) * s[a] + dk - n : 0;
        if (total < 0)
            total = 0;
        p[2 - 2 * a] = total / 2;            /* F.pad wants the last axis first */
        p[3 - 2 * a] = total - total / 2;
    }
}

static int torch_layer(const sq_layer *l, int idx, sbuf *init, sbuf *fwd, sq_error *err)
{
    const char *cls = l->kind->class_name;
    char k0[3 * SQ_NAME_MAX], k1[3 * SQ_NAME_MAX];
    const char *at = l->group ? l->group->name : NULL;
    sb_printf(fwd, "        # %s (%s)%s%s\n", l->name, cls, at ? " in " : "", at ? at : "");
    if (!strcmp(cls, "Dense")) {
        key(l, 0, k0, sizeof k0);
        sb_printf(init, "        self.l%d = nn.Linear(%ld, %ld, bias=%s)  # %s\n", idx,
                  l->w[0].shape.d[0], l->w[0].shape.d[1], l->nweights > 1 ? "True" : "False",
                  l->name);
        sb_printf(init, "        self.l%d.weight.data = _w(\"%s\").T.contiguous()\n", idx, k0);
        if (l->nweights > 1) {
            key(l, 1, k1, sizeof k1);
            sb_printf(init, "        self.l%d.bias.data = _w(\"%s\")\n", idx, k1);
        }
        sb_printf(fwd, "        x = self.l%d(x)\n", idx);
    } else if (!strcmp(cls, "Conv2D")) {
        const sq_shape *ks = &l->w[0].shape;
        const sq_optval *sv = opt(l, "strides"), *dv = opt(l, "dilation_rate");
        long p[4];
        tf_pads(l, ks->d, sv->i, dv->i, !strcasecmp(opt(l, "padding")->s, "same"), p);
        key(l, 0, k0, sizeof k0);
        sb_printf(init, "        self.l%d = nn.Conv2d(%ld, %ld, (%ld, %ld), stride=(%ld, %ld), "
                  "dilation=(%ld, %ld), bias=%s)  # %s\n", idx, ks->d[2], ks->d[3], ks->d[0],
                  ks->d[1], sv->i[0], sv->i[1], dv->i[0], dv->i[1],
                  l->nweights > 1 ? "True" : "False", l->name);
        sb_printf(init, "        self.l%d.weight.data = _w(\"%s\").permute(3, 2, 0, 1).contiguous()\n",
                  idx, k0);
        if (l->nweights > 1) {
            key(l, 1, k1, sizeof k1);
            sb_printf(init, "        self.l%d.bias.data = _w(\"%s\")\n", idx, k1);
        }
        sb_printf(fwd, "        x = x.permute(0, 3, 1, 2)\n");
        if (p[0] || p[1] || p[2] || p[3])
            sb_printf(fwd, "        x = F.pad(x, (%ld, %ld, %ld, %ld))  # TensorFlow's 'same'\n",
                      p[0], p[1], p[2], p[3]);
        sb_printf(fwd, "        x = self.l%d(x).permute(0, 2, 3, 1)\n", idx);
    } else if (!strcmp(cls, "MaxPooling2D") || !strcmp(cls, "AveragePooling2D")) {
        const sq_optval *pv = opt(l, "pool_size"), *sv = opt(l, "strides");
        const long *s = sv->i[0] > 0 ? sv->i : pv->i, one[2] = { 1, 1 };
        long p[4];
        int same = !strcasecmp(opt(l, "padding")->s, "same"), pad;
        tf_pads(l, pv->i, s, one, same, p);
        pad = p[0] || p[1] || p[2] || p[3];
        sb_printf(fwd, "        x = x.permute(0, 3, 1, 2)\n");
        sb_printf(fwd, "        x = (");
        if (cls[0] == 'M') {
            /* a 'same' window's padding is -inf: it never wins a max */
            char src[160] = "x";
            if (pad)
                snprintf(src, sizeof src, "F.pad(x, (%ld, %ld, %ld, %ld), value=float(\"-inf\"))",
                         p[0], p[1], p[2], p[3]);
            sb_printf(fwd, "F.max_pool2d(%s, (%ld, %ld), (%ld, %ld))", src, pv->i[0], pv->i[1],
                      s[0], s[1]);
        } else if (pad) {
            /* 'same' averages only the real cells */
            sb_printf(fwd, "F.avg_pool2d(F.pad(x, (%ld, %ld, %ld, %ld)), (%ld, %ld), (%ld, %ld))\n"
                      "             / F.avg_pool2d(F.pad(torch.ones_like(x[:, :1]), (%ld, %ld, %ld, %ld)), "
                      "(%ld, %ld), (%ld, %ld))", p[0], p[1], p[2], p[3],
                      pv->i[0], pv->i[1], s[0], s[1], p[0], p[1], p[2], p[3], pv->i[0], pv->i[1],
                      s[0], s[1]);
        } else {
            sb_printf(fwd, "F.avg_pool2d(x, (%ld, %ld), (%ld, %ld))", pv->i[0], pv->i[1], s[0], s[1]);
        }
        sb_printf(fwd, ").permute(0, 2, 3, 1)\n");
    } else if (!strcmp(cls, "GlobalMaxPooling2D") || !strcmp(cls, "GlobalAveragePooling2D")) {
        int keep = (int)opt(l, "keepdims")->i[0];
        if (cls[6] == 'M')
            sb_printf(fwd, "        x = x.amax(dim=(1, 2), keepdim=%s)\n", keep ? "True" : "False");
        else
            sb_printf(fwd, "        x = x.mean(dim=(1, 2), keepdim=%s)\n", keep ? "True" : "False");
    } else if (!strcmp(cls, "Flatten")) {
        sb_printf(fwd, "        x = x.reshape(x.shape[0], -1)\n");
    } else if (!strcmp(cls, "Reshape")) {
        sb_printf(fwd, "        x = x.reshape((x.shape[0],) + ");
        tuple(fwd, l->out_shape.d + 1, l->out_shape.rank - 1);
        sb_printf(fwd, ")\n");
    } else if (!strcmp(cls, "Dropout")) {
        sb_printf(init, "        self.l%d = nn.Dropout(%.17g)  # %s\n", idx, opt(l, "rate")->f,
                  l->name);
        sb_printf(fwd, "        x = self.l%d(x)\n", idx);
    } else if (!strcmp(cls, "Activation")) {
        /* the activation below */
    } else if (!strcmp(cls, "Rescaling")) {
        sb_printf(fwd, "        x = x * %.9g + %.9g\n", opt(l, "scale")->f, opt(l, "offset")->f);
    } else if (!strcmp(cls, "BatchNormalization")) {
        /* inference with the moving statistics, on the last axis */
        int scale = (int)opt(l, "scale")->i[0], center = (int)opt(l, "center")->i[0], j = 0;
        const char *what[4] = { "gamma", "beta", "mean", "var" };
        char arg[4][48];
        sb_printf(init, "        # %s (BatchNormalization) on the last axis\n", l->name);
        for (int q = 0; q < 4; q++) {
            if ((q == 0 && !scale) || (q == 1 && !center)) {
                snprintf(arg[q], sizeof arg[q], "None");
                continue;
            }
            key(l, j++, k0, sizeof k0);
            snprintf(arg[q], sizeof arg[q], "self.l%d_%s", idx, what[q]);
            if (q < 2)
                sb_printf(init, "        self.l%d_%s = nn.Parameter(_w(\"%s\"))\n", idx, what[q], k0);
            else
                sb_printf(init, "        self.register_buffer(\"l%d_%s\", _w(\"%s\"))\n", idx,
                          what[q], k0);
        }
        sb_printf(fwd, "        x = F.batch_norm(x.movedim(-1, 1), %s, %s, %s, %s, False, 0.0, "
                  "%.17g).movedim(1, -1)\n", arg[2], arg[3], arg[0], arg[1], opt(l, "epsilon")->f);
    } else {
        return sq_fail(err, "layer %s (%s) cannot be expressed in PyTorch by this seqsh",
                       l->name, cls);
    }
    if (l->act) {
        const char *a = torch_act(l->act);
        if (!a)
            return sq_fail(err, "layer %s: activation %s cannot be expressed in PyTorch",
                           l->name, sq_activation_name(l->act));
        sb_printf(fwd, "        x = %s\n", a);
    }
    return 0;
}

static int pytorch(const sq_model *m, const char *path, const char *npz, sq_error *err)
{
    sbuf init = { 0 }, fwd = { 0 }, b = { 0 };
    char shp[128];
    for (int i = 0; i < m->n; i++)
        if (torch_layer(m->layers[i], i, &init, &fwd, err) < 0) {
            free(init.s);
            free(fwd.s);
            return -1;
        }
    sb_printf(&b, "\"\"\"The seqsh model %s as a PyTorch module.\n\n"
              "Input in seqsh's (Keras's) layout, channels last: %s. Running this file\n"
              "(or runpy.run_path) defines `model`, a torch.nn.Module in eval mode with the\n"
              "weights of %s loaded.\n\"\"\"\n", m->name,
              sq_shape_str(&m->input_shape, shp, sizeof shp), npz);
    sb_printf(&b, "import os\n\nimport numpy as np\nimport torch\nimport torch.nn as nn\n"
              "import torch.nn.functional as F\n\n"
              "_WEIGHTS = np.load(os.path.join(os.path.dirname(os.path.abspath(__file__)), \"%s\"))\n\n\n"
              "def _w(name):\n    return torch.from_numpy(np.array(_WEIGHTS[name], dtype=np.float32))\n\n\n"
              "class Model(nn.Module):\n    def __init__(self):\n        super().__init__()\n%s"
              "\n    def forward(self, x):\n%s        return x\n\n\n"
              "model = Model().eval()\n", npz, init.s ? init.s : "        pass\n",
              fwd.s ? fwd.s : "");
    free(init.s);
    free(fwd.s);
    char *text = sb_finish(&b, err);
    if (!text)
        return -1;
    int rc = sq_write_file_atomic(path, text, strlen(text), err);
    free(text);
    return rc;
}

/* ---- Keras ---------------------------------------------------------------- */

/* A JSON value as a Python literal. */
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
    else if (json_is_real(v))
        sb_printf(b, "%.17g", json_real_value(v));
    else if (json_is_string(v))
        sb_printf(b, "\"%s\"", json_string_value(v));
    else if (json_is_array(v)) {
        sb_printf(b, "(");
        json_array_foreach(v, i, e) {
            sb_printf(b, "%s", i ? ", " : "");
            py_value(e, b);
        }
        sb_printf(b, json_array_size(v) == 1 ? ",)" : ")");
    }
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
        py_value(v, b);
        first = 0;
    }
    sb_printf(b, "%sname=\"%s\")", first ? "" : ", ",
              json_string_value(json_object_get(cfg, "name")));
}

static int keras(const sq_model *m, const char *path, const char *npz, sq_error *err)
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
                key(l, j, k0, sizeof k0);
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
                sb_printf(&b, "%s", q ? ", " : "");
                py_value(json_array_get(mt, q), &b);
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

int sq_export_python(const sq_model *m, int torch, const char *path, sq_error *err)
{
    char npz[4200];
    const char *base = NULL;
    if (!m->built || m->n == 0)
        return sq_fail(err, "export needs a built model with layers (give it an input shape)");
    if (strlen(path) > 4000)
        return sq_fail(err, "export to '%s': path too long", path);
    if (npz_path(path, npz, sizeof npz, &base, err) < 0)
        return -1;
    /* check that the code can be written before writing anything */
    sbuf probe_i = { 0 }, probe_f = { 0 };
    for (int i = 0; torch && i < m->n; i++)
        if (torch_layer(m->layers[i], i, &probe_i, &probe_f, err) < 0) {
            free(probe_i.s);
            free(probe_f.s);
            return -1;
        }
    free(probe_i.s);
    free(probe_f.s);
    if (write_weights(m, npz, err) < 0)
        return -1;
    return torch ? pytorch(m, path, base, err) : keras(m, path, base, err);
}
