/* summary.c - model.summary() in the classic Keras 2.6 layout (with the
 * extra columns and torchinfo's totals of `summary macs` and `summary
 * memory`), what each entry costs, and the `layers` listing. The texts are
 * malloc'd. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "text/text.h"

/* print_row of layer_utils.print_summary: each field overwrites the last
 * character of the line so far with a space, then the line is cut and
 * padded to the field's stop. Keras's three columns stop at 29, 55 and 65;
 * the extra columns of `summary macs`/`memory` follow the same rule. */
static void row(sbuf *b, const char *const *fields, const int *stops, int n)
{
    char line[256] = "";
    int len = 0;
    for (int k = 0; k < n; k++) {
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

const char *sq_commas(size_t v, char *buf)
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

const char *sq_bytes_short(double bytes, char *buf, size_t n)
{
    if (bytes >= 1e9)
        snprintf(buf, n, "%.2f GB", bytes / 1e9);
    else if (bytes >= 1e6)
        snprintf(buf, n, "%.2f MB", bytes / 1e6);
    else if (bytes >= 1e3)
        snprintf(buf, n, "%.2f KB", bytes / 1e3);
    else
        snprintf(buf, n, "%.0f B", bytes);
    return buf;
}

int sq_fail_unbuilt(sq_error *err)
{
    return sq_fail(err, "This model has not yet been built. Build the model first by calling "
                   "`build()` or calling `fit()` with some data, or specify an `input_shape` "
                   "argument in the first layer(s) for automatic build.");
}

int sq_layer_cost_get(const sq_session *s, int i, sq_layer_cost *c)
{
    const sq_model *m = s->model;
    if (!m->built || i < 0 || i >= sq_entry_count(m))
        return -1;
    int first, count;
    sq_entry_span(m, i, &first, &count);
    *c = (sq_layer_cost){ 0 };
    for (int k = first; k < first + count; k++) {
        c->macs += sq_layer_macs(m->layers[k], NULL);
        c->param_bytes += m->layers[k]->param_count * sizeof(float);
    }
    c->out_bytes = sq_sample_count(&m->layers[first + count - 1]->out_shape) * sizeof(float);
    return 0;
}

/* torchinfo's "Total mult-adds (M): 0.42": millions, or G and T when big. */
static void macs_total(sbuf *b, double macs)
{
    if (macs >= 1e12)
        sb_printf(b, "Total mult-adds (T): %.2f\n", macs / 1e12);
    else if (macs >= 1e9)
        sb_printf(b, "Total mult-adds (G): %.2f\n", macs / 1e9);
    else
        sb_printf(b, "Total mult-adds (M): %.2f\n", macs / 1e6);
}

char *sq_summary_columns(const sq_session *s, int columns, sq_error *err)
{
    const sq_model *m = s->model;
    if (!m->built) {
        sq_fail_unbuilt(err);
        return NULL;
    }
    const char *head[6] = { "Layer (type)", "Output Shape", "Param #" };
    int stops[6] = { 29, 55, 65 }, n = 3;
    if (columns & SQ_SUMMARY_MACS) {
        head[n] = "Mult-Adds";
        stops[n] = stops[n - 1] + 18;
        n++;
    }
    if (columns & SQ_SUMMARY_MEMORY) {
        head[n] = "Output Memory";
        stops[n] = stops[n - 1] + 15;
        n++;
        head[n] = "Param Memory";
        stops[n] = stops[n - 1] + 14;
        n++;
    }
    int width = stops[n - 1];
    sbuf b = { 0 };
    char rule_[256], eq_[256];
    memset(rule_, '_', (size_t)width);
    rule_[width] = '\0';
    memset(eq_, '=', (size_t)width);
    eq_[width] = '\0';
    sb_printf(&b, "Model: \"%s\"\n%s\n", m->name, rule_);
    row(&b, head, stops, n);
    sb_printf(&b, "%s\n", eq_);
    size_t trainable = 0, frozen = 0, out_bytes = 0, param_bytes = 0;
    double macs = 0;
    /* entries walked in one pass: a summary of many layers stays linear */
    int e = 0;
    for (int first = 0; first < m->n; first = sq_entry_end(m, first), e++) {
        sq_layer_info li;
        sq_layer_cost c = { 0 };
        sq_entry_info(m, first, &li);
        if (columns)
            sq_layer_cost_get(s, e, &c);
        char f[6][2 * SQ_NAME_MAX];
        const char *fields[6] = { f[0], f[1], f[2], f[3], f[4], f[5] };
        snprintf(f[0], sizeof f[0], "%s (%s)", li.name, li.class_name);
        sq_shape_str(&li.output_shape, f[1], sizeof f[1]);
        snprintf(f[2], sizeof f[2], "%zu", li.params);
        int k = 3;
        if (columns & SQ_SUMMARY_MACS)
            sq_commas(c.macs, f[k++]);
        if (columns & SQ_SUMMARY_MEMORY) {
            sq_bytes_short((double)c.out_bytes, f[k++], sizeof f[0]);
            sq_bytes_short((double)c.param_bytes, f[k++], sizeof f[0]);
        }
        row(&b, fields, stops, n);
        sb_printf(&b, "%s\n", sq_entry_end(m, first) == m->n ? eq_ : rule_);
        macs += (double)c.macs;
        param_bytes += c.param_bytes;
    }
    for (int i = 0; i < m->n; i++) {
        const sq_layer *l = m->layers[i];
        /* torchinfo's forward/backward pass size: the outputs of the layers
         * with weights, twice (values and their gradients) */
        if (l->param_count)
            out_bytes += 2 * sq_sample_count(&l->out_shape) * sizeof(float);
        for (int j = 0; j < l->nweights; j++) {
            size_t c = sq_weight_count(&l->w[j]);
            if (l->trainable && l->w[j].trainable)
                trainable += c;
            else
                frozen += c;
        }
    }
    char c1[32], c2[32], c3[32];
    sb_printf(&b, "Total params: %s\nTrainable params: %s\nNon-trainable params: %s\n",
              sq_commas(trainable + frozen, c1), sq_commas(trainable, c2), sq_commas(frozen, c3));
    if (columns & SQ_SUMMARY_MACS)
        macs_total(&b, macs);
    sb_printf(&b, "%s\n", rule_);
    if (columns & SQ_SUMMARY_MEMORY) {
        double in_bytes = (double)sq_sample_count(&m->input_shape) * sizeof(float);
        sb_printf(&b, "Input size (MB): %.2f\nForward/backward pass size (MB): %.2f\n"
                  "Params size (MB): %.2f\nEstimated Total Size (MB): %.2f\n%s\n",
                  in_bytes / 1e6, (double)out_bytes / 1e6, (double)param_bytes / 1e6,
                  (in_bytes + (double)out_bytes + (double)param_bytes) / 1e6, rule_);
    }
    return sb_finish(&b, err);
}

char *sq_summary(const sq_session *s, sq_error *err)
{
    return sq_summary_columns(s, 0, err);
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
