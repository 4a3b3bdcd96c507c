/* cmd_export.c - `export FORMAT FILE`: the model for another framework. */
#include "shell.h"

int cmd_export(shell *sh, int argc, char **argv)
{
    sq_error e;
    (void)argc;
    if (sq_export(sh->s, argv[1], argv[2], &e) < 0)
        return sh_fail(sh, "%s", e.msg);
    return 0;
}
