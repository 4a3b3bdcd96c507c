/* summary.c - model.summary() in the classic Keras 2.6 layout, and the
 * `layers` listing. Both return malloc'd text. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "model.h"

/* print_row of layer_utils.print_summary: each field overwrites the last
 * character of the line so far with a space, then the line is cut and
 * padded to the field's stop. */
static void row(sbuf *b, const char *f0, const char *f1, const char *f2)
{
    static const int stops[3] = { 29, 55, 65 };
    const char *fields[3] = { f0, f1, f2 };
    char line[160] = "";
    int len = 0;
    for (int k = 0; k < 3; k++) {
        if (k > 0 && len > 0)
            line[len - 1] = ' ';
        int add = (int)strlen(fields[k]);
        if (len + add > stops[k])
            add = stops[k] - len;
        memcpy(line + len, fields[k], (size_t)add);
        len += add;
        while (len < stops[k])
            line[len++] = ' ';
        line[len] = '\0';
    }
    sb_printf(b, "%s\n", line);
}

/* Python's "{:,}". */
static const char *commas(size_t v, char *buf)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%zu", v), k = 0;
    for (int i = 0; i < n; i++) {
        if (i > 0 && (n - i) % 3 == 0)
            buf[k++] = ',';
        buf[k++] = tmp[i];
    }
    buf[k] = '\0';
    return buf;
}

static const char unbuilt_msg[] =
    "This model has not yet been built. Build the model first by calling `build()` or "
    "calling `fit()` with some data, or specify an `input_shape` argument in the first "
    "layer(s) for automatic build.";

char *sq_summary(const sq_session *s, sq_error *err)
{
    const sq_model *m = s->model;
    if (!m->built) {
        sq_fail(err, "%s", unbuilt_msg);
        return NULL;
    }
    sbuf b = { 0 };
    char rule_[66], eq_[66];
    memset(rule_, '_', 65);
    rule_[65] = '\0';
    memset(eq_, '=', 65);
    eq_[65] = '\0';
    sb_printf(&b, "Model: \"%s\"\n%s\n", m->name, rule_);
    row(&b, "Layer (type)", "Output Shape", "Param #");
    sb_printf(&b, "%s\n", eq_);
    size_t trainable = 0, frozen = 0;
    for (int first = 0; first < m->n; first = sq_entry_end(m, first)) {
        sq_layer_info li;
        sq_entry_info(m, first, &li);
        char f0[2 * SQ_NAME_MAX], f1[128], f2[32];
        snprintf(f0, sizeof f0, "%s (%s)", li.name, li.class_name);
        sq_shape_str(&li.output_shape, f1, sizeof f1);
        snprintf(f2, sizeof f2, "%zu", li.params);
        row(&b, f0, f1, f2);
        sb_printf(&b, "%s\n", sq_entry_end(m, first) == m->n ? eq_ : rule_);
    }
    for (int i = 0; i < m->n; i++) {
        const sq_layer *l = m->layers[i];
        for (int j = 0; j < l->nweights; j++) {
            size_t c = sq_weight_count(&l->w[j]);
            if (l->trainable && l->w[j].trainable)
                trainable += c;
            else
                frozen += c;
        }
    }
    char c1[32], c2[32], c3[32];
    sb_printf(&b, "Total params: %s\nTrainable params: %s\nNon-trainable params: %s\n%s\n",
              commas(trainable + frozen, c1), commas(trainable, c2), commas(frozen, c3), rule_);
    return sb_finish(&b, err);
}

char *sq_layers_text(const sq_session *s, sq_error *err)
{
    sbuf b = { 0 };
    const sq_model *m = s->model;
    int wname = 4, wclass = 5;
    sq_layer_info li;
    for (int first = 0; first < m->n; first = sq_entry_end(m, first)) {
        sq_entry_info(m, first, &li);
        int a = (int)strlen(li.name), c = (int)strlen(li.class_name);
        if (a > wname) wname = a;
        if (c > wclass) wclass = c;
    }
    if (m->n == 0)
        sb_printf(&b, "%s", "");
    else
        sb_printf(&b, "%-3s %-*s  %-*s  %-22s %s\n", "#", wname, "Name", wclass, "Class",
                  "Output Shape", "Trainable");
    int e = 0;
    for (int first = 0; first < m->n; first = sq_entry_end(m, first), e++) {
        sq_entry_info(m, first, &li);
        char shape[128];
        if (li.built)
            sq_shape_str(&li.output_shape, shape, sizeof shape);
        else
            strcpy(shape, "?");
        sb_printf(&b, "%-3d %-*s  %-*s  %-22s %s\n", e, wname, li.name, wclass,
                  li.class_name, shape, li.trainable ? "True" : "False");
    }
    return sb_finish(&b, err);
}
