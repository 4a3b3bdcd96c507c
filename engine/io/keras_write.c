/* keras_write.c - a seqsh model as Keras's `model_config` and
 * `training_config` JSON, and Keras's names for its weights: what the TF.js
 * Layers and HDF5 writers (and the Keras export) share. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "io/keras.h"
#include "compile.h"
#include "layers/spatial2d.h"

/* A shape with the batch as a JSON list, None as null. */
static json_t *shape_json(const sq_shape *sh)
{
    json_t *a = json_array();
    for (int i = 0; a && i < sh->rank; i++)
        json_array_append_new(a, i == 0 || sh->d[i] < 0 ? json_null() : json_integer(sh->d[i]));
    return a;
}

static json_t *input_layer(const sq_shape *sh, const char *name)
{
    return json_pack("{s:s,s:{s:o,s:s,s:b,s:b,s:s}}", "class_name", "InputLayer", "config",
                     "batch_input_shape", shape_json(sh), "dtype", "float32", "sparse", 0,
                     "ragged", 0, "name", name);
}

/* One layer's config for format fmt, or NULL with err. */
static json_t *layer_config(const sq_layer *l, keras_fmt fmt, sq_error *err)
{
    const sq_layer_kind *k = l->kind;
    const keras_kind *kk = keras_kind_by_kind(k->class_name);
    const char *fname = keras_fmt_name(fmt);
    if (fmt == KERAS_FMT_TFJS && kk && kk->no_tfjs) {
        sq_fail(err, "layer %s (%s) cannot be expressed in %s (TensorFlow.js has no %s layer)",
                l->name, k->class_name, fname, k->class_name);
        return NULL;
    }
    if (kk && kk->check && kk->check(l, fmt, err) < 0)
        return NULL;
    json_t *cfg = json_pack("{s:s,s:b,s:s}", "name", l->name, "trainable", l->trainable,
                            "dtype", "float32");
    if (!cfg) {
        sq_fail(err, "out of memory");
        return NULL;
    }
    if (l->inner) {
        /* a wrapper: the wrapped layer's own config under "layer" */
        sq_error e2;
        json_t *inner = layer_config(l->inner, fmt, &e2);
        if (!inner) {
            json_decref(cfg);
            sq_fail(err, "layer %s (%s): %s", l->name, k->class_name, e2.msg);
            return NULL;
        }
        if (json_object_set_new(cfg, "layer", inner) < 0) {
            json_decref(cfg);
            sq_fail(err, "out of memory");
            return NULL;
        }
    }
    for (int i = 0; k->opts && k->opts[i].name; i++) {
        const sq_optdef *d = &k->opts[i];
        const sq_optval *v = &l->opt[i];
        json_t *j = NULL;
        if (d->hidden)
            continue;   /* seqsh's own names (an RNN's cell): in the weight names */
        if (fmt == KERAS_FMT_TFJS && kk && keras_in_list(kk->tfjs_lacks, d->name)) {
            if (v->set && !(d->type == OPT_BOOL && !v->i[0])) {
                sq_fail(err, "layer %s (%s): %s cannot be expressed in %s", l->name,
                        k->class_name, d->name, fname);
                json_decref(cfg);
                return NULL;
            }
            continue;
        }
        int nulls = kk && keras_in_list(kk->nulls, d->name);
        if (nulls && ((d->type == OPT_INT && v->i[0] == 0)
                      || (d->type == OPT_STR && !strcasecmp(v->s, "None")))) {
            j = json_null();
        } else if (d->type == OPT_STR && kk && keras_in_list(kk->numbers, d->name)) {
            j = json_real(strtod(v->s, NULL));
        } else switch (d->type) {
        case OPT_INT: j = json_integer(v->i[0]); break;
        case OPT_INTS:
            /* an unset tuple whose default is 0 means "like another
             * option" (pooling strides = pool_size): Keras's None */
            if (!v->set && d->def && !strcmp(d->def, "0")) {
                j = json_null();
                break;
            }
            j = json_array();
            for (int q = 0; j && q < v->n; q++)
                json_array_append_new(j, json_integer(v->i[q]));
            break;
        case OPT_FLOAT: j = json_real(v->f); break;
        case OPT_BOOL: j = json_boolean(v->i[0]); break;
        case OPT_STR:
            if (kk && keras_in_list(kk->tuples, d->name) && l->built
                && !strcmp(k->class_name, "Reshape")) {
                /* the -1 resolved, as every reader can take it */
                j = json_array();
                for (int q = 1; j && q < l->out_shape.rank; q++)
                    json_array_append_new(j, json_integer(l->out_shape.d[q]));
                break;
            }
            if (kk && keras_in_list(kk->margins, d->name)) {
                /* Keras's own form, whatever form was typed */
                long mg[4];
                sq_error e2;
                if (sq_parse_margins(v->s, k->class_name, d->name, mg, NULL, 0, &e2) == 0) {
                    j = json_pack("[[I,I],[I,I]]", (json_int_t)mg[0], (json_int_t)mg[1],
                                  (json_int_t)mg[2], (json_int_t)mg[3]);
                    break;
                }
            }
            if (kk && keras_in_list(kk->tuples, d->name)) {
                long t[SQ_MAX_RANK];
                int nt;
                sq_error e2;
                if (sq_parse_ints(v->s, t, SQ_MAX_RANK, &nt, &e2) == 0) {
                    j = json_array();
                    for (int q = 0; j && q < nt; q++)
                        json_array_append_new(j, json_integer(t[q]));
                    break;
                }
            }
            j = json_string(v->s);
            break;
        case OPT_ACT: {
            const char *an = keras_activation_out(sq_activation_find(v->s), fmt);
            if (!an && !strcmp(v->s, "leaky_relu") && !strcmp(k->class_name, "Activation")) {
                /* TF.js has the layer, with tf.nn's slope */
                json_object_set_new(cfg, "alpha", json_real(0.2));
                json_t *out = json_pack("{s:s,s:o}", "class_name", "LeakyReLU", "config", cfg);
                if (!out)
                    sq_fail(err, "out of memory");
                return out;
            }
            if (!an) {
                sq_fail(err, "layer %s (%s): activation %s cannot be expressed in %s", l->name,
                        k->class_name, v->s, fname);
                json_decref(cfg);
                return NULL;
            }
            j = json_string(an);
            break;
        }
        }
        if (!j || json_object_set_new(cfg, d->name, j) < 0) {
            json_decref(cfg);
            sq_fail(err, "out of memory");
            return NULL;
        }
    }
    if (k->has_activation) {
        const char *an = keras_activation_out(l->act, fmt);
        if (!an) {
            sq_fail(err, "layer %s (%s): activation %s cannot be expressed in %s", l->name,
                    k->class_name, sq_activation_name(l->act), fname);
            json_decref(cfg);
            return NULL;
        }
        json_object_set_new(cfg, "activation", json_string(an));
    }
    if (keras_wopts_write(l, kk, fmt, cfg, err) < 0) {
        json_decref(cfg);
        return NULL;
    }
    for (const char *p = kk ? kk->fixed : NULL; p && *p;) {
        while (*p == ' ')
            p++;
        size_t kl = strcspn(p, "="), vl;
        if (!p[kl])
            break;
        vl = strcspn(p + kl + 1, " ");
        char key[64];
        snprintf(key, sizeof key, "%.*s", (int)kl, p);
        json_t *val = json_loadb(p + kl + 1, vl, JSON_DECODE_ANY, NULL);
        if (!val || json_object_set_new(cfg, key, val) < 0) {
            json_decref(cfg);
            sq_fail(err, "out of memory");
            return NULL;
        }
        p += kl + 1 + vl;
    }
    json_t *out = json_pack("{s:s,s:o}", "class_name", kk && kk->keras ? kk->keras : k->class_name,
                            "config", cfg);
    if (!out)
        sq_fail(err, "out of memory");
    return out;
}

static int opt_on(const sq_layer *l, const char *name)
{
    int i = sq_opt_index(l->kind, name);
    return i >= 0 && l->opt[i].i[0];
}

static int bidirectional(const sq_layer *l)
{
    return !strcmp(l->kind->class_name, "Bidirectional");
}

/* SimpleRNN, LSTM, GRU or Bidirectional. */
static int recurrent(const sq_layer *l)
{
    return sq_opt_index(l->kind, "return_sequences") >= 0 || bidirectional(l);
}

/* TF.js 4.22's Bidirectional has no zero_output_for_mask: returning
 * sequences on a masked input, it repeats the previous output at masked
 * steps where Keras 2.6 gives 0. That is harmless when only a recurrent
 * layer skipping those steps reads them (through per-step layers that keep
 * the mask), but not when anything else or the model's output does, nor
 * after a template that runs backwards (its outputs come in reversed order
 * under the unreversed mask, so masked steps' outputs sit at steps the
 * mask keeps). -1 with err naming the layer when m has such a layer. */
static int tfjs_masked_bidirectional(const sq_model *m, sq_error *err)
{
    const sq_layer *pending = NULL, *reader = NULL;
    int masked = 0, backwards = 0;
    for (int i = 0; i < m->n && !reader; i++) {
        const sq_layer *l = m->layers[i];
        sq_mask_rule r = sq_layer_mask_rule(l, masked);
        int skips = recurrent(l) && masked && !backwards;
        if (pending && skips)
            pending = NULL;
        else if (pending && r != SQ_MASK_KEEP)
            reader = l;
        if (!reader && !pending && bidirectional(l) && masked
            && opt_on(l->inner, "return_sequences")) {
            pending = l;
            backwards = opt_on(l->inner, "go_backwards");
        }
        masked = r == SQ_MASK_MAKE || (r == SQ_MASK_KEEP && masked);
    }
    if (!pending)
        return 0;
    char what[SQ_NAME_MAX + 16] = "the model's output";
    if (reader)
        snprintf(what, sizeof what, "layer %s", reader->name);
    return sq_fail(err, "layer %s (Bidirectional): return_sequences=true on a masked input cannot "
                   "be expressed in %s (TensorFlow.js's Bidirectional repeats the previous output "
                   "at masked steps where Keras 2.6 gives 0, and %s reads them)", pending->name,
                   keras_fmt_name(KERAS_FMT_TFJS), what);
}

/* TF.js 4.22's GlobalAveragePooling1D takes no mask: it averages every
 * step where Keras 2.6 averages the unmasked ones. -1 with err naming the
 * first such layer on a masked input. */
static int tfjs_masked_average(const sq_model *m, sq_error *err)
{
    int masked = 0;
    for (int i = 0; i < m->n; i++) {
        const sq_layer *l = m->layers[i];
        if (masked && !strcmp(l->kind->class_name, "GlobalAveragePooling1D"))
            return sq_fail(err, "layer %s (GlobalAveragePooling1D): a masked input cannot be "
                           "expressed in %s (TensorFlow.js's GlobalAveragePooling1D averages "
                           "every step, Keras 2.6's only the unmasked ones)", l->name,
                           keras_fmt_name(KERAS_FMT_TFJS));
        masked = sq_layer_mask_rule(l, masked) != SQ_MASK_DROP;
    }
    return 0;
}

json_t *keras_model_config(const sq_model *m, keras_fmt fmt, sq_error *err)
{
    if (fmt == KERAS_FMT_TFJS
        && (tfjs_masked_bidirectional(m, err) < 0 || tfjs_masked_average(m, err) < 0))
        return NULL;
    keras_json_init();
    json_t *top = json_array(), *inner = NULL, *list = top;
    const sq_group *open = NULL;
    char iname[SQ_NAME_MAX + 8];
    if (!top)
        goto oom;
    if (m->built) {
        /* an input with no layer yet is keras.Input's: its first name */
        if (m->n > 0)
            snprintf(iname, sizeof iname, "%s_input", m->layers[0]->name);
        else
            snprintf(iname, sizeof iname, "input_1");
        if (json_array_append_new(top, input_layer(&m->input_shape, iname)) < 0)
            goto oom;
    }
    for (int i = 0; i < m->n; i++) {
        const sq_layer *l = m->layers[i];
        if (l->group != open) {
            open = l->group;
            list = top;
            if (open) {
                inner = json_array();
                json_t *g = json_pack("{s:s,s:{s:s,s:o}}", "class_name", "Sequential", "config",
                                      "name", open->name, "layers", inner);
                if (!g || json_array_append_new(top, g) < 0)
                    goto oom;
                list = inner;
                /* a nested model carries its own input, as Keras saves it */
                if (l->built) {
                    snprintf(iname, sizeof iname, "%s_input", l->name);
                    if (json_array_append_new(inner, input_layer(&l->in_shape, iname)) < 0)
                        goto oom;
                }
            }
        }
        json_t *lc = layer_config(l, fmt, err);
        if (!lc) {
            json_decref(top);
            return NULL;
        }
        if (json_array_append_new(list, lc) < 0)
            goto oom;
    }
    json_t *mc = json_pack("{s:s,s:{s:s,s:o}}", "class_name", "Sequential", "config", "name",
                           m->name, "layers", top);
    if (!mc)
        goto oom_nofree;
    return mc;
oom:
    json_decref(top);
oom_nofree:
    sq_fail(err, "out of memory");
    return NULL;
}

/* A metric as Keras 2.6 saves it: the class metrics (AUC, Precision,
 * Recall, and top-k with another k or name) as {"class_name", "config"}
 * with their arguments (Keras's metrics.get knows 'AUC' but not 'auc', and
 * no arguments in a name); the function metrics by name. */
static json_t *metric_json(const sq_metric_cfg *mc, const char *name)
{
    static const char *const sums[] = { "interpolation", "minoring", "majoring" };
    const char *cls, *fn = sq_metric_kind_name(mc->kind, &cls);
    json_t *cfg;
    switch (mc->kind) {
    case M_AUC: {
        json_t *lw = json_null(), *th = NULL;
        if (mc->nlw) {
            lw = json_array();
            for (int i = 0; lw && i < mc->nlw; i++)
                json_array_append_new(lw, json_real(mc->lw[i]));
        }
        cfg = json_pack("{s:s,s:s,s:i,s:s,s:s,s:b,s:o}", "name", name, "dtype", "float32",
                        "num_thresholds", mc->nthr, "curve", mc->curve_pr ? "PR" : "ROC",
                        "summation_method", sums[mc->summation], "multi_label", mc->multi_label,
                        "label_weights", lw);
        if (cfg && mc->thr_given) {
            th = json_array();
            for (int k = 1; th && k < mc->nthr - 1; k++)
                json_array_append_new(th, json_real(mc->thr[k]));
            if (!th || json_object_set_new(cfg, "thresholds", th) < 0) {
                json_decref(cfg);
                return NULL;
            }
        }
        if (cfg && mc->from_logits && json_object_set_new(cfg, "from_logits", json_true()) < 0) {
            json_decref(cfg);
            return NULL;
        }
        break;
    }
    case M_PRECISION:
    case M_RECALL:
        cfg = json_pack("{s:s,s:s,s:o,s:n,s:o}", "name", name, "dtype", "float32",
                        "thresholds", mc->thr_given ? json_real(mc->thr[0]) : json_null(),
                        "top_k", "class_id",
                        mc->class_id >= 0 ? json_integer(mc->class_id) : json_null());
        break;
    case M_TOP_K:
    case M_SPARSE_TOP_K:
        if (mc->k == 5 && !strcmp(name, fn))
            return json_string(name);
        cfg = json_pack("{s:s,s:s,s:i}", "name", name, "dtype", "float32", "k", mc->k);
        break;
    default:
        return json_string(name);
    }
    return cfg ? json_pack("{s:s,s:o}", "class_name", cls, "config", cfg) : NULL;
}

json_t *keras_training_config(const sq_model *m)
{
    static const char *const classes[][2] = {
        { "sgd", "SGD" }, { "adam", "Adam" }, { "rmsprop", "RMSprop" }, { "adagrad", "Adagrad" },
        { "adadelta", "Adadelta" }, { "adamax", "Adamax" }, { "nadam", "Nadam" }, { "ftrl", "Ftrl" },
    };
    const struct sq_compiled *c = m->compiled;
    if (!c)
        return NULL;
    const char *cls = NULL;
    for (size_t i = 0; i < sizeof classes / sizeof classes[0]; i++)
        if (!strcasecmp(c->optimizer, classes[i][0]))
            cls = classes[i][1];
    if (!cls)
        return NULL;
    json_t *ocfg = json_pack("{s:s}", "name", cls), *metrics = json_array();
    for (int i = 0; ocfg && i < c->nopts; i++) {
        char *end;
        double x = strtod(c->values[i], &end);
        json_t *v = !*end ? json_real(x)
            : !strcasecmp(c->values[i], "true") ? json_true()
            : !strcasecmp(c->values[i], "false") ? json_false() : json_string(c->values[i]);
        json_object_set_new(ocfg, c->keys[i], v);
    }
    for (int i = 0; metrics && i < c->nmetrics; i++) {
        json_t *mj = metric_json(&c->metric[i], c->metric_name[i]);
        if (!mj || json_array_append_new(metrics, mj) < 0) {
            json_decref(metrics);
            metrics = NULL;
        }
    }
    if (!ocfg || !metrics) {
        json_decref(ocfg);
        json_decref(metrics);
        return NULL;
    }
    return json_pack("{s:s,s:o,s:n,s:n,s:{s:s,s:o}}", "loss", c->loss_name, "metrics", metrics,
                     "weighted_metrics", "loss_weights", "optimizer_config", "class_name", cls,
                     "config", ocfg);
}

int keras_weight_names(const sq_model *m, char ***names, int **entry, int *n, sq_error *err)
{
    int total = 0;
    for (int i = 0; i < m->n; i++)
        total += m->built ? m->layers[i]->nweights : 0;
    char **nm = sq_calloc((size_t)total + 1, sizeof *nm);
    int *en = sq_calloc((size_t)total + 1, sizeof *en);
    if (!nm || !en) {
        free(nm);
        free(en);
        return sq_fail(err, "out of memory");
    }
    int k = 0, e = -1;
    for (int i = 0; i < m->n && m->built; i++) {
        const sq_layer *l = m->layers[i];
        if (!l->group || i == 0 || m->layers[i - 1]->group != l->group)
            e++;
        for (int j = 0; j < l->nweights; j++) {
            char buf[2 * SQ_NAME_MAX + 8];
            snprintf(buf, sizeof buf, "%s/%s", l->name, l->w[j].name);
            en[k] = e;
            if (!(nm[k++] = sq_strdup(buf))) {
                keras_names_free(nm, k);
                free(en);
                return sq_fail(err, "out of memory");
            }
        }
    }
    *names = nm;
    *n = k;
    if (entry)
        *entry = en;
    else
        free(en);
    return 0;
}

void keras_names_free(char **names, int n)
{
    for (int i = 0; names && i < n; i++)
        free(names[i]);
    free(names);
}
