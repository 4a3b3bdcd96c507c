/* args.c - one vocabulary for key=value words and for option values, used
 * by every command that takes them (fit, evaluate, predict, call, extract,
 * set, add model), by the layer options, the optimizer options and the
 * model file: one set of checkers, one wording for every bad value, as
 * lauxlib's luaL_check and luaL_opt functions are for Lua. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "base/base.h"

/* "fit: `epochs`" or, for a command's own setting, "`threads`". */
static const char *subject(const char *what, const char *key, char *buf, size_t n)
{
    if (what && *what && (!key || strcmp(what, key)))
        snprintf(buf, n, "%s: `%s`", what, key ? key : "?");
    else
        snprintf(buf, n, "`%s`", key ? key : what);
    return buf;
}

int sq_check_long(const char *what, const char *key, const char *text, long lo, long hi,
                  long *v, sq_error *err)
{
    char s[160], *end;
    errno = 0;
    long x = strtol(text, &end, 10);
    if (end == text || *end || isspace((unsigned char)*text) || errno == ERANGE)
        return sq_fail(err, "%s must be an integer, got '%s'", subject(what, key, s, sizeof s),
                       text);
    if (sq_check_long_range(what, key, x, lo, hi, err) < 0)
        return -1;
    *v = x;
    return 0;
}

int sq_check_long_range(const char *what, const char *key, long x, long lo, long hi,
                        sq_error *err)
{
    char s[160];
    if (x >= lo && x <= hi)
        return 0;
    subject(what, key, s, sizeof s);
    if (hi == LONG_MAX || hi == INT_MAX)
        return sq_fail(err, "%s must be at least %ld, got %ld", s, lo, x);
    if (lo == LONG_MIN)
        return sq_fail(err, "%s must be at most %ld, got %ld", s, hi, x);
    return sq_fail(err, "%s must be an integer from %ld to %ld, got %ld", s, lo, hi, x);
}

int sq_check_double(const char *what, const char *key, const char *text, double lo,
                    double hi, double *v, sq_error *err)
{
    char s[160], *end;
    errno = 0;
    double x = strtod(text, &end);
    if (end == text || *end || isspace((unsigned char)*text) || errno == ERANGE
        || !isfinite(x))
        return sq_fail(err, "%s must be a number, got '%s'", subject(what, key, s, sizeof s),
                       text);
    if (sq_check_double_range(what, key, x, lo, hi, err) < 0)
        return -1;
    *v = x;
    return 0;
}

int sq_check_double_range(const char *what, const char *key, double x, double lo, double hi,
                          sq_error *err)
{
    char s[160];
    if (x >= lo && x <= hi)
        return 0;
    subject(what, key, s, sizeof s);
    if (hi == HUGE_VAL)
        return sq_fail(err, "%s must be at least %g, got %g", s, lo, x);
    if (lo == -HUGE_VAL)
        return sq_fail(err, "%s must be at most %g, got %g", s, hi, x);
    return sq_fail(err, "%s must be a number from %g to %g, got %g", s, lo, hi, x);
}

int sq_check_bool(const char *what, const char *key, const char *text, int *v, sq_error *err)
{
    char s[160];
    if (!strcmp(text, "true") || !strcmp(text, "True") || !strcmp(text, "1"))
        *v = 1;
    else if (!strcmp(text, "false") || !strcmp(text, "False") || !strcmp(text, "0"))
        *v = 0;
    else {
        static const char *const words[] = { "true", "false" };
        char hint[64];
        return sq_fail(err, "%s must be true or false, got '%s'%s",
                       subject(what, key, s, sizeof s), text,
                       sq_hint(text, words, 2, hint, sizeof hint));
    }
    return 0;
}

/* "512M", "8G", "1.5GiB", "1000000" in bytes; -1 when not a size. */
static double parse_size(const char *s)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno || !(v > 0) || v > 1e18 || isspace((unsigned char)*s))
        return -1;
    static const char *const suffixes = "KMGTP";
    double mult = 1;
    if (*end) {
        const char *u = strchr(suffixes, toupper((unsigned char)*end));
        if (!u)
            return -1;
        for (const char *q = suffixes; q <= u; q++)
            mult *= 1024;
        end++;
        if (!strcmp(end, "iB") || !strcmp(end, "B"))
            end += strlen(end);
        if (*end)
            return -1;
    }
    return v * mult;
}

int sq_check_size(const char *what, const char *key, const char *text, double lo,
                  size_t *v, sq_error *err)
{
    char s[160], least[32];
    double b = parse_size(text);
    if (b < lo || b > (double)SIZE_MAX)
        return sq_fail(err, "%s must be a size of at least %s, like 512M or 8G, got '%s'",
                       subject(what, key, s, sizeof s),
                       sq_bytes_str(lo, least, sizeof least), text);
    *v = (size_t)b;
    return 0;
}

/* ---- key=value words ------------------------------------------------------ */

int sq_is_option_word(const char *w)
{
    const char *p = w;
    while ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9' && p > w) || *p == '_')
        p++;
    return p > w && *p == '=';
}

int sq_args_init(sq_args *a, const char *cmd, int argc, char **argv, char **plain,
                 int *nplain, sq_error *err)
{
    memset(a, 0, sizeof *a);
    a->cmd = cmd;
    *nplain = 0;
    for (int i = 0; i < argc; i++) {
        if (!sq_is_option_word(argv[i])) {
            plain[(*nplain)++] = argv[i];
            continue;
        }
        size_t klen = (size_t)(strchr(argv[i], '=') - argv[i]);
        if (a->n == SQ_ARGS_MAX)
            return sq_fail(err, "%s: too many options (at most %d)", cmd, SQ_ARGS_MAX);
        if (klen > 64)
            return sq_fail(err, "%s: option name too long: '%.40s...'", cmd, argv[i]);
        for (int j = 0; j < a->n; j++)
            if (a->keylen[j] == klen && !strncmp(a->word[j], argv[i], klen))
                return sq_fail(err, "%s() got multiple values for keyword argument '%.*s'",
                               cmd, (int)klen, argv[i]);
        a->word[a->n] = argv[i];
        a->keylen[a->n] = (unsigned char)klen;
        a->n++;
    }
    return 0;
}

const char *sq_arg(sq_args *a, const char *key)
{
    size_t klen = strlen(key);
    for (int i = 0; i < a->n; i++) {
        if (a->keylen[i] == klen && !strncmp(a->word[i], key, klen)) {
            a->used[i] = 1;
            return a->word[i] + klen + 1;
        }
    }
    return NULL;
}

int sq_arg_long(sq_args *a, const char *key, long lo, long hi, long *v, sq_error *err)
{
    const char *t = sq_arg(a, key);
    return t ? sq_check_long(a->cmd, key, t, lo, hi, v, err) : 0;
}

int sq_arg_int(sq_args *a, const char *key, int lo, int hi, int *v, sq_error *err)
{
    long x = *v;
    if (sq_arg_long(a, key, lo, hi, &x, err) < 0)
        return -1;
    *v = (int)x;
    return 0;
}

int sq_arg_double(sq_args *a, const char *key, double lo, double hi, double *v,
                  sq_error *err)
{
    const char *t = sq_arg(a, key);
    return t ? sq_check_double(a->cmd, key, t, lo, hi, v, err) : 0;
}

int sq_arg_bool(sq_args *a, const char *key, int *v, sq_error *err)
{
    const char *t = sq_arg(a, key);
    return t ? sq_check_bool(a->cmd, key, t, v, err) : 0;
}

int sq_arg_size(sq_args *a, const char *key, double lo, size_t *v, sq_error *err)
{
    const char *t = sq_arg(a, key);
    return t ? sq_check_size(a->cmd, key, t, lo, v, err) : 0;
}

int sq_args_finish(const sq_args *a, sq_error *err)
{
    for (int i = 0; i < a->n; i++)
        if (!a->used[i])
            return sq_fail(err, "%s() got an unexpected keyword argument '%.*s'", a->cmd,
                           (int)a->keylen[i], a->word[i]);
    return 0;
}

const char *sq_args_unused(const sq_args *a, int i, size_t *keylen)
{
    for (int k = 0; k < a->n; k++) {
        if (a->used[k])
            continue;
        if (i-- == 0) {
            *keylen = a->keylen[k];
            return a->word[k];
        }
    }
    return NULL;
}
