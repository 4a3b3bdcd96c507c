/* suggest.c - "did you mean" for mistyped commands and layer kinds (the
 * engine finds the nearest words: sq_nearest, sq_kind_suggest). */
#include <stdio.h>
#include <string.h>
#include "shell.h"

const char *sh_nearest(const char *word, const char *const *cands, int n)
{
    return sq_nearest(word, cands, n);
}

const char *sh_kind_suggestion(const char *word, char *buf, size_t n)
{
    char best[96];
    if (!sq_kind_suggest(word, best, sizeof best))
        return "";
    snprintf(buf, n, " (did you mean %s?)", best);
    return buf;
}

const char *sh_command_suggestion(const shell *sh, const char *word, char *buf, size_t n)
{
    const char *names[128];
    int k = 0;
    for (const sh_command *c = sh->commands; c->name && k < 128; c++)
        names[k++] = c->name;
    const char *best = sh_nearest(word, names, k);
    if (!best)
        return "";
    snprintf(buf, n, " (did you mean %s?)", best);
    return buf;
}
