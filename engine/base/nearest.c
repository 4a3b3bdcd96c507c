/* nearest.c - "did you mean": the candidate closest to a mistyped word by
 * edit distance (ignoring case), within a distance that grows with the
 * word's length, so a typo finds its word and nonsense finds nothing. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include "base/base.h"

/* Edit distance ignoring case, where swapping two neighbours is one edit
 * (optimal string alignment: "rleu" is one step from "relu"); 99 for long
 * words. */
static int distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 48 || lb > 48)
        return 99;
    int d[49][49];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = (int)i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        int ca = tolower((unsigned char)a[i - 1]);
        for (size_t j = 1; j <= lb; j++) {
            int cb = tolower((unsigned char)b[j - 1]);
            int best = d[i - 1][j - 1] + (ca != cb);
            if (d[i - 1][j] + 1 < best) best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best) best = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && ca == tolower((unsigned char)b[j - 2])
                && tolower((unsigned char)a[i - 2]) == cb && d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    }
    return d[la][lb];
}

const char *sq_nearest(const char *word, const char *const *cands, int n)
{
    const char *best = NULL;
    int bestd = 99;
    size_t len = strlen(word);
    int limit = len <= 2 ? 0 : len <= 4 ? 1 : len <= 8 ? 2 : 3;
    for (int i = 0; i < n; i++) {
        if (!cands[i])
            continue;
        int d = distance(word, cands[i]);
        if (d < bestd) {
            bestd = d;
            best = cands[i];
        }
    }
    return bestd <= limit ? best : NULL;
}

const char *sq_hint(const char *word, const char *const *cands, int n, char *buf, size_t len)
{
    const char *best = sq_nearest(word, cands, n);
    if (!best || !len) {
        if (len)
            buf[0] = '\0';
        return buf;
    }
    snprintf(buf, len, " (did you mean %s?)", best);
    return buf;
}
