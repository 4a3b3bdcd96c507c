/* cmd_export.c - `export FORMAT FILE`: the model for another framework. */
#include "shell.h"

int cmd_export(shell *sh, int argc, char **argv)
{
    sq_error e;
    char path[4096];
    (void)argc;
    if (sh_path(sh, argv[2], path, sizeof path) < 0)
        return -1;
    if (sq_export(sh->s, argv[1], path, &e) < 0)
        return sh_fail(sh, "%s", e.msg);
    return 0;
}
