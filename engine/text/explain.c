/* explain.c - `explain`: each entry's output shape, parameter count and
 * multiply-accumulates with the arithmetic behind them, in the model's own
 * numbers. The lines of one layer come from its kind (layers/explain.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "text/text.h"

/* "name (Class): (None, 28, 28, 1) -> (None, 26, 26, 8)" */
static void header(sbuf *b, const char *indent, const char *name, const char *cls,
                   const sq_shape *in, const sq_shape *out)
{
    char a[128], c[128];
    sb_printf(b, "%s%s (%s): %s -> %s\n", indent, name, cls, sq_shape_str(in, a, sizeof a),
              sq_shape_str(out, c, sizeof c));
}

/* Appends text with every line indented by two more spaces. */
static void indented(sbuf *b, const char *text)
{
    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p + 1) : strlen(p);
        sb_printf(b, "  %.*s", (int)len, p);
        p += len;
    }
}

/* One entry: a layer, or a nested model with its layers inside. */
static int entry(const sq_model *m, int e, sbuf *b)
{
    int first, count;
    sq_entry_span(m, e, &first, &count);
    const sq_layer *l = m->layers[first], *last = m->layers[first + count - 1];
    if (!l->group) {
        header(b, "", l->name, l->kind->class_name, &l->in_shape, &l->out_shape);
        sq_layer_explain(l, b);
        return 0;
    }
    char a[128], c[128];
    sb_printf(b, "%s (Sequential): %s -> %s, a model of %d layers:\n", l->group->name,
              sq_shape_str(&l->in_shape, a, sizeof a), sq_shape_str(&last->out_shape, c, sizeof c),
              count);
    for (int k = first; k < first + count; k++) {
        sbuf one = { 0 };
        const sq_layer *x = m->layers[k];
        header(&one, "", x->name, x->kind->class_name, &x->in_shape, &x->out_shape);
        sq_layer_explain(x, &one);
        if (one.oom) {
            free(one.s);
            b->oom = 1;
            return -1;
        }
        indented(b, one.s);
        free(one.s);
    }
    return 0;
}

/* The entry a word names: a name, else an index (negative from the end). */
static int find_entry(const sq_model *m, const char *word, sq_error *err)
{
    sq_error none;
    int e = sq_entry_find(m, word, &none);
    if (e >= 0)
        return e;
    char *end;
    errno = 0;
    long i = strtol(word, &end, 10);
    int n = sq_entry_count(m);
    if (end != word && !*end && !errno) {
        if (i < 0)
            i += n;
        if (i >= 0 && i < n)
            return (int)i;
    }
    return sq_entry_find(m, word, err);
}

char *sq_explain(const sq_session *s, const char *layer, sq_error *err)
{
    const sq_model *m = s->model;
    if (!m->built) {
        sq_fail_unbuilt(err);
        return NULL;
    }
    sbuf b = { 0 };
    if (layer) {
        int e = find_entry(m, layer, err);
        if (e < 0)
            return NULL;
        entry(m, e, &b);
        return sb_finish(&b, err);
    }
    char in[128];
    sb_printf(&b, "Model: \"%s\", input %s\n", m->name, sq_shape_str(&m->input_shape, in, sizeof in));
    int ne = sq_entry_count(m);
    size_t params = 0, macs = 0;
    sbuf psum = { 0 }, msum = { 0 };
    for (int e = 0; e < ne; e++) {
        sq_layer_info li;
        sq_layer_cost c;
        sq_layer_get(s, e, &li);
        sq_layer_cost_get(s, e, &c);
        sb_printf(&b, "\n");
        entry(m, e, &b);
        params += li.params;
        macs += c.macs;
        sb_printf(&psum, "%s%zu", e ? " + " : "", li.params);
        sb_printf(&msum, "%s%zu", e ? " + " : "", c.macs);
    }
    if (ne > 1 && !psum.oom && !msum.oom)
        sb_printf(&b, "\nTotal params:    %zu = %s\nTotal mult-adds: %zu = %s  (one sample)\n",
                  params, psum.s, macs, msum.s);
    else
        sb_printf(&b, "\nTotal params:    %zu\nTotal mult-adds: %zu  (one sample)\n", params, macs);
    if (psum.oom || msum.oom)
        b.oom = 1;
    free(psum.s);
    free(msum.s);
    return sb_finish(&b, err);
}
