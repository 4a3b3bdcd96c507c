/* graph.c - `plot FILE`: the model as Keras's plot_model(show_shapes=True)
 * draws it, one record box per entry of model.layers ("name: Class" over
 * its input and output shapes) under a box for the input, written in
 * Graphviz's dot language and, for .svg, .png and .pdf, laid out and drawn
 * by Graphviz's library (no program is run). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gvc.h>
#include "model.h"
#include "io/fileio.h"
#include "plot/plot.h"
#include "text/text.h"

/* Text for a record label inside a dot string: the record's own
 * punctuation and the string's quotes get a backslash. */
static void label_text(sbuf *b, const char *s)
{
    for (; *s; s++) {
        if (strchr("{}|<>\"\\", *s))
            sb_printf(b, "\\%c", *s);
        else
            sb_printf(b, "%c", *s);
    }
}

/* One box: "name: Class\n|{input:|output:}|{{IN}|{OUT}}". */
static void node(sbuf *b, int id, const char *name, const char *cls, const char *in,
                 const char *out)
{
    sb_printf(b, "  n%d [label=\"", id);
    label_text(b, name);
    sb_printf(b, ": ");
    label_text(b, cls);
    sb_printf(b, "\\n|{input:|output:}|{{");
    label_text(b, in);
    sb_printf(b, "}|{");
    label_text(b, out);
    sb_printf(b, "}}\"];\n");
}

char *sq_plot_dot(const sq_session *s, sq_error *err)
{
    const sq_model *m = s->model;
    if (!m->built) {
        sq_fail_unbuilt(err);
        return NULL;
    }
    sbuf b = { 0 };
    char in[160], out[160], shp[128];
    sb_printf(&b, "digraph \"%s\" {\n  graph [rankdir=TB, concentrate=true, dpi=96];\n"
              "  node [shape=record, fontname=\"DejaVu Sans\", fontsize=14];\n", m->name);
    /* the input, as Keras prints an InputLayer's shapes: a list */
    snprintf(in, sizeof in, "[%s]", sq_shape_str(&m->input_shape, shp, sizeof shp));
    node(&b, 0, "input", "InputLayer", in, in);
    int ne = sq_entry_count(m);
    for (int e = 0; e < ne; e++) {
        int first, count;
        sq_entry_span(m, e, &first, &count);
        const sq_layer *l = m->layers[first], *last = m->layers[first + count - 1];
        sq_shape_str(&l->in_shape, in, sizeof in);
        sq_shape_str(&last->out_shape, out, sizeof out);
        node(&b, e + 1, sq_entry_name(m, e), l->group ? "Sequential" : l->kind->class_name, in,
             out);
    }
    for (int e = 0; e < ne; e++)
        sb_printf(&b, "  n%d -> n%d;\n", e, e + 1);
    sb_printf(&b, "}\n");
    return sb_finish(&b, err);
}

/* Graphviz reports through a global callback: seqsh's engine never prints,
 * so its messages are dropped and a failure gets one message of ours. */
static int quiet(char *msg)
{
    (void)msg;
    return 0;
}

/* One Graphviz context for the process, made on first use and never freed:
 * Graphviz 2.42's pango plugin keeps, in a static variable, a pointer to the
 * last font name of the context that measured text, and a later context
 * would compare against it after gvFreeContext freed it (valgrind sees the
 * read). Within one context the name stays alive. This is the engine's one
 * piece of process state besides the thread pool, owed to Graphviz's own. */
static GVC_t *the_gvc;
static pthread_once_t gvc_once = PTHREAD_ONCE_INIT;

static void gvc_start(void)
{
    agseterrf(quiet);
    the_gvc = gvContext();
}

int sq_render_dot(const char *dot, const char *format, const char *path, sq_error *err)
{
    pthread_once(&gvc_once, gvc_start);
    GVC_t *gvc = the_gvc;
    if (!gvc)
        return sq_fail(err, "plot: Graphviz could not start (out of memory?)");
    int rc = -1;
    char *data = NULL;
    unsigned int len = 0;
    Agraph_t *g = agmemread(dot);
    if (!g)
        return sq_fail(err, "plot: Graphviz could not read the graph");
    if (gvLayout(gvc, g, "dot") != 0) {
        sq_fail(err, "plot: Graphviz could not lay out the graph");
        agclose(g);
        return -1;
    }
    if (gvRenderData(gvc, g, format, &data, &len) != 0 || !data || len == 0)
        sq_fail(err, "plot: Graphviz has no '%s' renderer (Debian's libgvc6 package carries "
                "the cairo plugin for png and pdf; 'libgvc6-config-update -c' registers it)",
                format);
    else
        rc = sq_write_file_atomic(path, data, len, err);
    if (data)
        gvFreeRenderData(data);
    gvFreeLayout(gvc, g);
    agclose(g);
    return rc;
}

int sq_plot_model(const sq_session *s, const char *path, sq_error *err)
{
    const char *fmt;
    switch (sq_plot_format(path)) {
    case SQ_PLOT_DOT: fmt = NULL; break;
    case SQ_PLOT_SVG: fmt = "svg"; break;
    case SQ_PLOT_PNG: fmt = "png:cairo"; break;
    case SQ_PLOT_PDF: fmt = "pdf:cairo"; break;
    default:
        return sq_fail(err, "plot: cannot tell the format of '%s': name it .svg, .png, .pdf or "
                       ".dot", path);
    }
    char *dot = sq_plot_dot(s, err);
    if (!dot)
        return -1;
    int rc = fmt ? sq_render_dot(dot, fmt, path, err)
                 : sq_write_file_atomic(path, dot, strlen(dot), err);
    free(dot);
    return rc;
}
