/* format.c - which picture a file name asks for. */
#include <string.h>
#include <strings.h>
#include "plot/plot.h"

sq_plot_fmt sq_plot_format(const char *path)
{
    static const struct { const char *ext; sq_plot_fmt f; } known[] = {
        { ".dot", SQ_PLOT_DOT }, { ".gv", SQ_PLOT_DOT }, { ".svg", SQ_PLOT_SVG },
        { ".png", SQ_PLOT_PNG }, { ".pdf", SQ_PLOT_PDF },
    };
    const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
    if (!dot || (slash && dot < slash) || dot == path || (slash && dot == slash + 1))
        return SQ_PLOT_UNKNOWN;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (!strcasecmp(dot, known[i].ext))
            return known[i].f;
    return SQ_PLOT_UNKNOWN;
}
