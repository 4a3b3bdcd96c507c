/* cmd_files.c - the commands that write and read model files: save, load,
 * save_weights, load_weights (the format of save and load follows the
 * extension: .seqm, DIR/model.json, .h5). Each is one engine call on a path
 * (relative to the script's folder in a script: sh_path). */
#include "shell.h"

typedef int (*path_fn)(sq_session *s, const char *path, sq_error *err);

static int with_path(shell *sh, path_fn fn, const char *path)
{
    sq_error e;
    char full[4096];
    if (sh_path(sh, path, full, sizeof full) < 0)
        return -1;
    if (fn(sh->s, full, &e) < 0)
        return sh_engine_fail(sh, &e);
    return 0;
}

/* The writers take a const session. */
static int save_model(sq_session *s, const char *p, sq_error *e) { return sq_save(s, p, e); }
static int save_weights(sq_session *s, const char *p, sq_error *e)
{
    return sq_save_weights(s, p, e);
}

int cmd_save(shell *sh, int argc, char **argv)
{
    (void)argc;
    return with_path(sh, save_model, argv[1]);
}

/* load prints what it notes about a foreign file (optimizer weights it
 * ignored, ...). */
int cmd_load(shell *sh, int argc, char **argv)
{
    (void)argc;
    char notes[2048];
    sq_error e;
    if (sq_load_noted(sh->s, argv[1], notes, sizeof notes, &e) < 0)
        return sh_engine_fail(sh, &e);
    fputs(notes, stdout);
    return 0;
}

int cmd_save_weights(shell *sh, int argc, char **argv)
{
    (void)argc;
    return with_path(sh, save_weights, argv[1]);
}

int cmd_load_weights(shell *sh, int argc, char **argv)
{
    (void)argc;
    return with_path(sh, sq_load_weights, argv[1]);
}
