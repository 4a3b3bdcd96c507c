/* explain.c - what `explain` and `summary macs` say about one built layer:
 * the helpers the kinds write their arithmetic with, and the generic
 * explanation and mult-add count for kinds that have none of their own. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "layers/layer.h"

#define LABEL_WIDTH 11   /* "mult-adds: " */

void sq_explain_line(sbuf *b, const char *label, const char *fmt, ...)
{
    char text[512], lab[64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    snprintf(lab, sizeof lab, "%s:", label);
    sb_printf(b, "  %-*s%s\n", LABEL_WIDTH, lab, text);
}

void sq_explain_window(sbuf *b, const char *label, long n, long k, long s, long d, int same,
                       long out)
{
    long dk = k + (k - 1) * (d - 1);
    char dil[160] = "";
    if (d > 1)
        snprintf(dil, sizeof dil, "; dilation %ld spreads the %ld taps over %ld = %ld + (%ld - 1) * "
                 "(%ld - 1)", d, k, dk, k, k, d);
    if (same && s == 1)
        sq_explain_line(b, label, "%ld = %ld  (same padding: zeros around keep the size%s)", out,
                        n, dil);
    else if (same)
        sq_explain_line(b, label, "%ld = ceil(%ld / %ld)  (same padding: zeros around, a "
                        "window every %ld%s)", out, n, s, s, dil);
    else if (s == 1)
        sq_explain_line(b, label, "%ld = %ld - %ld + 1  (valid padding: every place a window "
                        "of %ld fits%s)", out, n, dk, dk, dil);
    else
        sq_explain_line(b, label, "%ld = floor((%ld - %ld) / %ld) + 1  (valid padding: a "
                        "window of %ld where it fits, every %ld%s)", out, n, dk, s, dk, s, dil);
}

void sq_explain_no_params(sbuf *b)
{
    sq_explain_line(b, "params", "0  (no weights)");
}

void sq_explain_same_shape(sbuf *b, const char *what)
{
    if (what)
        sq_explain_line(b, "shape", "the same as the input (%s)", what);
    else
        sq_explain_line(b, "shape", "the same as the input");
    sq_explain_no_params(b);
}

size_t sq_sample_count(const sq_shape *sh)
{
    size_t n = 1;
    for (int i = 1; i < sh->rank; i++) {
        if (sh->d[i] < 0)
            return 0;
        n *= (size_t)sh->d[i];
    }
    return n;
}

/* dims[from..rank) as "a*b*c" ("1" when there are none). */
static const char *product_text(const long *d, int from, int rank, char *buf, size_t n)
{
    size_t k = 0;
    buf[0] = '\0';
    for (int i = from; i < rank && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, "%s%ld", i > from ? "*" : "", d[i]);
    if (from >= rank)
        snprintf(buf, n, "1");
    return buf;
}

const char *sq_dims_text(const sq_shape *sh, char *buf, size_t n)
{
    return product_text(sh->d, 1, sh->rank, buf, n);
}

size_t sq_macs_dot(const sq_shape *out, size_t dot, const char *dot_text, sbuf *why)
{
    size_t total = sq_sample_count(out) * dot;
    if (why) {
        char o[128];
        sb_printf(why, "%zu = %s * %s  (each output value is a dot product of %zu numbers)",
                  total, sq_dims_text(out, o, sizeof o), dot_text, dot);
    }
    return total;
}

size_t sq_macs_each(const sq_shape *out, size_t per, const char *note, sbuf *why)
{
    size_t total = sq_sample_count(out) * per;
    if (why) {
        char o[128];
        sq_dims_text(out, o, sizeof o);
        if (per == 1)
            sb_printf(why, "%zu = %s  (%s)", total, o, note);
        else
            sb_printf(why, "%zu = %s * %zu  (%s)", total, o, per, note);
    }
    return total;
}

void sq_explain_generic(const sq_layer *l, const sq_shape *in, const sq_shape *out, sbuf *b)
{
    sq_weight_spec w[SQ_MAX_WEIGHTS];
    int nw = l->kind->weights ? l->kind->weights(l, in, w) : 0;
    if (sq_shape_eq(in, out))
        sq_explain_line(b, "shape", "the same as the input");
    else if (l->kind->shape_rule)
        sq_explain_line(b, "rule", "%s", l->kind->shape_rule);
    if (nw == 0) {
        sq_explain_no_params(b);
        return;
    }
    char sum[512] = "", which[512] = "", one[128], shp[128];
    size_t total = 0, ks = 0, kw = 0;
    for (int j = 0; j < nw; j++) {
        total += sq_weight_count(&w[j]);
        product_text(w[j].shape.d, 0, w[j].shape.rank, one, sizeof one);
        if (ks < sizeof sum)
            ks += (size_t)snprintf(sum + ks, sizeof sum - ks, "%s%s", j ? " + " : "", one);
        if (kw < sizeof which)
            kw += (size_t)snprintf(which + kw, sizeof which - kw, "%s%s %s", j ? ", " : "",
                                   w[j].name, sq_shape_str(&w[j].shape, shp, sizeof shp));
    }
    sq_explain_line(b, "params", "%zu = %s  (%s)", total, sum, which);
}

size_t sq_macs_generic(const sq_layer *l, const sq_shape *in, const sq_shape *out, sbuf *why)
{
    sq_weight_spec w[SQ_MAX_WEIGHTS];
    int nw = l->kind->weights ? l->kind->weights(l, in, w) : 0;
    long last = out->rank > 1 ? out->d[out->rank - 1] : 0;
    for (int j = 0; j < nw; j++) {
        const sq_shape *k = &w[j].shape;
        if (strcmp(w[j].name, "kernel") || k->rank < 2 || last <= 0 || k->d[k->rank - 1] != last)
            continue;
        char t[128];
        product_text(k->d, 0, k->rank - 1, t, sizeof t);
        return sq_macs_dot(out, sq_weight_count(&w[j]) / (size_t)last, t, why);
    }
    if (why)
        sb_printf(why, "0  (%s)", nw ? "no kernel: counted as none" : "no weights to multiply by");
    return 0;
}

size_t sq_macs_on(const sq_layer *l, const sq_shape *in, const sq_shape *out, sbuf *why)
{
    return l->kind->macs ? l->kind->macs(l, in, out, why) : sq_macs_generic(l, in, out, why);
}

size_t sq_layer_macs(const sq_layer *l, sbuf *why)
{
    return sq_macs_on(l, &l->in_shape, &l->out_shape, why);
}

void sq_layer_explain(const sq_layer *l, sbuf *b)
{
    if (l->kind->explain)
        l->kind->explain(l, &l->in_shape, &l->out_shape, b);
    else
        sq_explain_generic(l, &l->in_shape, &l->out_shape, b);
    sb_printf(b, "  %-*s", LABEL_WIDTH, "mult-adds:");
    sq_layer_macs(l, b);
    sb_printf(b, "\n");
}
