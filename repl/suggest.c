/* suggest.c - "did you mean" for mistyped commands and layer kinds. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include "shell.h"

/* Levenshtein distance, capped at 99 for long words. */
static int distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 48 || lb > 48)
        return 99;
    int row[49];
    for (size_t j = 0; j <= lb; j++)
        row[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        int diag = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int up = row[j];
            int cost = tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
            int best = diag + cost;
            if (row[j] + 1 < best) best = row[j] + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

const char *sh_nearest(const char *word, const char *const *cands, int n)
{
    const char *best = NULL;
    int bestd = 99;
    int limit = strlen(word) <= 4 ? 1 : strlen(word) <= 8 ? 2 : 3;
    for (int i = 0; i < n; i++) {
        int d = distance(word, cands[i]);
        if (d < bestd) {
            bestd = d;
            best = cands[i];
        }
    }
    return bestd <= limit ? best : NULL;
}

/* Lower case without underscores, as kinds are matched. */
static void squash(const char *s, char *out, size_t n)
{
    size_t k = 0;
    for (; *s && k + 1 < n; s++)
        if (*s != '_')
            out[k++] = (char)tolower((unsigned char)*s);
    out[k] = '\0';
}

const char *sh_kind_suggestion(const char *word, char *buf, size_t n)
{
    char w[64], names[64][48];
    const char *cands[64];
    int k = sq_kind_count();
    if (k > 64)
        k = 64;
    squash(word, w, sizeof w);
    for (int i = 0; i < k; i++) {
        squash(sq_kind_class(i), names[i], sizeof names[i]);
        cands[i] = names[i];
    }
    const char *best = sh_nearest(w, cands, k);
    if (!best)
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
