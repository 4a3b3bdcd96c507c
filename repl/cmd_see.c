/* cmd_see.c - the commands for seeing and teaching: explain (the arithmetic
 * of shapes, parameters and multiply-accumulates), plot (the model as a
 * picture, the training curves) and show (one input as an image). */
#include <stdlib.h>
#include <string.h>
#include "shell.h"

int cmd_explain(shell *sh, int argc, char **argv)
{
    sq_error e;
    char *text = sq_explain(sh->s, argc > 1 ? argv[1] : NULL, &e);
    if (!text)
        return sh_engine_fail(sh, &e);
    sh_put_text(text);
    return 0;
}
