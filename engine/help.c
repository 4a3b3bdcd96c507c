/* help.c - help for the names the engine knows besides layer kinds:
 * initializers, regularizers, learning-rate schedules, callbacks, losses
 * and metrics, each from its own table. */
#include <stdlib.h>
#include "model.h"
#include "train/callbacks.h"
#include "train/loss.h"
#include "train/schedule.h"

char *sq_name_help(const char *name)
{
    char *(*const helpers[])(const char *) = {
        sq_loss_help, sq_metric_help, sq_initializer_help, sq_regularizer_help,
        sq_schedule_help, sq_callback_help,
    };
    for (size_t i = 0; i < sizeof helpers / sizeof *helpers; i++) {
        char *h = helpers[i](name);
        if (h)
            return h;
    }
    return NULL;
}
