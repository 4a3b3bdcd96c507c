/* cmd_safe.c - nothing lost by accident: `undo` (the snapshots are taken
 * by sh_run_cmd before every command the table marks as changing the
 * session), `history save FILE.seq` (the session's successful commands
 * as a script that replays to the same model), and the words of a command
 * quoted back into a line for that script. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "shell.h"

int cmd_undo(shell *sh, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    char what[256];
    sq_error e;
    if (sq_undo(sh->s, what, sizeof what, &e) < 0)
        return sh_engine_fail(sh, &e);
    if ((sh->interactive || sh->echo) && !sh->quiet)
        printf("took back '%s'\n", what);
    return 0;
}

/* Whether w reads back as itself when it stands alone in a line. */
static int plain_word(const char *w)
{
    if (!*w)
        return 0;
    int depth = 0;
    for (const char *p = w; *p; p++) {
        if (*p == '(')
            depth++;
        else if (*p == ')')
            depth--;
        else if (*p == ' ' || *p == '\t')
            if (depth == 0)
                return 0;
        if (*p == ';' || *p == '#' || *p == '"' || *p == '\\' || *p == '\'')
            return 0;
    }
    return depth == 0;
}

char *sh_join_words(int argc, char **argv)
{
    size_t n = 1;
    for (int i = 0; i < argc; i++)
        n += 1 + 3 * strlen(argv[i]) + 2;
    char *line = malloc(n), *p = line;
    if (!line)
        return NULL;
    for (int i = 0; i < argc; i++) {
        const char *w = argv[i];
        if (i)
            *p++ = ' ';
        if (plain_word(w)) {
            p += sprintf(p, "%s", w);
        } else if (!strchr(w, '\'') || !strchr(w, '"')) {
            /* a quote the word does not hold */
            char q = strchr(w, '\'') ? '"' : '\'';
            p += sprintf(p, "%c%s%c", q, w, q);
        } else {
            /* both: quoted pieces side by side make one word */
            for (const char *c = w; *c;) {
                char q = *c == '\'' ? '"' : '\'';
                *p++ = q;
                while (*c && *c != q)
                    *p++ = *c++;
                *p++ = q;
            }
        }
    }
    *p = '\0';
    return line;
}

/* history save FILE: a header, the seed the session started from when it
 * was given, then every successful command. */
static int history_save(shell *sh, const char *path)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return sh_fail(sh, "history save: file name too long");
    if (sq_dist_rank() != 0)
        return 0;   /* under mpirun the first process writes the file */
    FILE *f = fopen(tmp, "w");
    if (!f)
        return sh_fail(sh, "cannot write '%s': %s", path, strerror(errno));
    fprintf(f, "#!/usr/bin/env seqsh\n# written by 'history save': this session's commands "
               "that worked\n");
    if (sh->seed_given)
        fprintf(f, "seed %llu\n", sh->seed);
    for (int i = 0; i < sh->nhistory; i++)
        fprintf(f, "%s\n", sh->history[i]);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        int en = errno;
        remove(tmp);
        return sh_fail(sh, "cannot write '%s': %s", path, strerror(en));
    }
    if (rename(tmp, path) != 0) {
        int en = errno;
        remove(tmp);
        return sh_fail(sh, "cannot write '%s': %s", path, strerror(en));
    }
    return 0;
}

int cmd_history(shell *sh, int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "save")) {
        char path[4096];
        if (sh_path(sh, argv[2], path, sizeof path) < 0)
            return -1;
        return history_save(sh, path);
    }
    if (argc != 1)
        return sh_fail(sh, "usage: history [save FILE.seq]");
    for (int i = 0; i < sh->nhistory; i++)
        printf("%s\n", sh->history[i]);
    return 0;
}
