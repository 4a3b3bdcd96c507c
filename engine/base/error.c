/* error.c - errors are values: one formatted line in a caller's sq_error. */
#include <stdarg.h>
#include <stdio.h>
#include "base/base.h"

int sq_fail(sq_error *err, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return -1;
}
