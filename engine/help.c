/* help.c - help for the names the engine knows besides layer kinds:
 * initializers, regularizers, learning-rate schedules, callbacks, losses
 * and metrics, each from its own table. */
#include <stdlib.h>
#include <string.h>
#include "model.h"
#include "train/callbacks.h"
#include "train/loss.h"
#include "train/schedule.h"
#include "text/text.h"

/* text into b with its lines cut at blanks to at most width columns. */
static void wrap(sbuf *b, const char *text, int width)
{
    for (const char *line = text; *line;) {
        size_t len = strcspn(line, "\n");
        const char *p = line, *end = line + len;
        while (end - p > width) {
            const char *cut = p + width;
            while (cut > p && *cut != ' ')
                cut--;
            if (cut == p)
                break;
            sb_printf(b, "%.*s\n", (int)(cut - p), p);
            p = cut + 1;
        }
        sb_printf(b, "%.*s%s", (int)(end - p), p, *end ? "\n" : "");
        line = *end ? end + 1 : end;
    }
}

/* The glossary's one line for each thing NAME is (an activation, an
 * optimizer, a loss, a metric), then the first longer help there is (a
 * loss's or metric's arguments, an initializer, regularizer, schedule or
 * callback). */
char *sq_name_help(const char *name)
{
    char *(*const helpers[])(const char *) = {
        sq_loss_help, sq_metric_help, sq_initializer_help, sq_regularizer_help,
        sq_schedule_help, sq_callback_help,
    };
    char *line = sq_glossary_help(name), *more = NULL;
    for (size_t i = 0; i < sizeof helpers / sizeof *helpers && !more; i++)
        more = helpers[i](name);
    if (!line && !more)
        return NULL;
    sbuf b = { 0 };
    if (line)
        sb_printf(&b, "%s%s", line, more ? "\n" : "");
    if (more)
        wrap(&b, more, 79);
    free(line);
    free(more);
    return sb_finish(&b, NULL);
}
