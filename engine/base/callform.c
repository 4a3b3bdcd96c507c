/* callform.c - the values that are objects with arguments, written as a
 * Python call: `l2(0.001)`, `random_normal(stddev=0.02)`,
 * `early_stopping(patience=3, restore_best_weights=true)`. A call's
 * arguments become key=value words of the one option vocabulary (sq_args),
 * positionals bound to the constructor's names in order, so every value is
 * read with sq_arg_* and every bad one gets the vocabulary's wording.
 * Also: lists `[10,20]`, names matched ignoring case and underscores, and
 * Python's repr of numbers, which the messages quote. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "base/base.h"

int sq_names_match(const char *a, const char *b)
{
    for (;;) {
        while (*a == '_')
            a++;
        while (*b == '_')
            b++;
        if (!*a || !*b)
            return !*a && !*b;
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
            return 0;
        a++;
        b++;
    }
}

/* Where the item that starts at p ends: the next ',' (or end) outside
 * brackets and quotes; NULL when they do not balance. */
static const char *item_end(const char *p, const char *end)
{
    int depth = 0;
    char q = 0;
    for (; p < end; p++) {
        if (q) {
            if (*p == q)
                q = 0;
        } else if (*p == '\'' || *p == '"') {
            q = *p;
        } else if (*p == '(' || *p == '[' || *p == '{') {
            depth++;
        } else if (*p == ')' || *p == ']' || *p == '}') {
            if (--depth < 0)
                return NULL;
        } else if (*p == ',' && depth == 0) {
            return p;
        }
    }
    return depth || q ? NULL : end;
}

int sq_split_items(const char *text, size_t len, const char **start, size_t *n, int max,
                   int *count)
{
    const char *p = text, *end = text + len;
    int k = 0;
    while (p < end) {
        const char *e = item_end(p, end);
        if (!e)
            return -1;
        const char *s = p, *t = e;
        while (s < t && isspace((unsigned char)*s))
            s++;
        while (t > s && isspace((unsigned char)t[-1]))
            t--;
        if (s == t) {
            /* a trailing comma is Python; an empty item elsewhere is not */
            if (e == end && k > 0)
                break;
            return -1;
        }
        if (k == max)
            return -2;
        start[k] = s;
        n[k++] = (size_t)(t - s);
        p = e < end ? e + 1 : e;
        if (e < end && p == end)
            break;   /* "a," */
    }
    *count = k;
    return 0;
}

/* A Python string literal's contents, or the text itself. */
static void unquote(const char **s, size_t *n)
{
    if (*n >= 2 && ((*s)[0] == '\'' || (*s)[0] == '"') && (*s)[*n - 1] == (*s)[0]) {
        (*s)++;
        *n -= 2;
    }
}

static int is_ident_start(int c) { return isalpha(c) || c == '_'; }
static int is_ident(int c) { return isalnum(c) || c == '_'; }

int sq_call_parse(sq_callform *c, const char *text, sq_error *err)
{
    memset(c, 0, sizeof *c);
    const char *p = text;
    while (isspace((unsigned char)*p))
        p++;
    const char *name = p;
    if (!is_ident_start((unsigned char)*p))
        return sq_fail(err, "expected a name, got '%s'", text);
    while (is_ident((unsigned char)*p))
        p++;
    size_t nlen = (size_t)(p - name);
    if (nlen >= sizeof c->name)
        return sq_fail(err, "the name '%.40s...' is too long", name);
    memcpy(c->name, name, nlen);
    while (isspace((unsigned char)*p))
        p++;
    if (!*p)
        return 0;
    size_t len = strlen(p);
    while (len > 0 && isspace((unsigned char)p[len - 1]))
        len--;
    if (*p != '(' || p[len - 1] != ')')
        return sq_fail(err, "invalid syntax: '%s' (expected NAME or NAME(arguments))", text);
    c->called = 1;
    const char *start[SQ_ARGS_MAX];
    size_t n[SQ_ARGS_MAX];
    int k;
    int rc = sq_split_items(p + 1, len - 2, start, n, SQ_ARGS_MAX, &k);
    if (rc == -2)
        return sq_fail(err, "%s(): too many arguments (at most %d)", c->name, SQ_ARGS_MAX);
    if (rc < 0)
        return sq_fail(err, "invalid syntax: '%s' (unbalanced brackets or quotes, or an empty "
                       "argument)", text);
    size_t used = 0;
    int seen_kw = 0;
    for (int i = 0; i < k; i++) {
        const char *s = start[i];
        size_t m = n[i], klen = 0;
        while (klen < m && is_ident((unsigned char)s[klen]))
            klen++;
        size_t eq = klen;
        while (eq < m && isspace((unsigned char)s[eq]))
            eq++;
        int kw = klen > 0 && is_ident_start((unsigned char)s[0]) && eq < m && s[eq] == '='
                 && (eq + 1 == m || s[eq + 1] != '=');
        const char *v = kw ? s + eq + 1 : s;
        size_t vn = kw ? m - eq - 1 : m;
        while (vn > 0 && isspace((unsigned char)*v)) {
            v++;
            vn--;
        }
        if (kw && vn == 0)
            return sq_fail(err, "invalid syntax: '%s' (no value for '%.*s')", text, (int)klen, s);
        if (!kw && seen_kw)
            return sq_fail(err, "invalid syntax: '%s' (positional argument follows keyword "
                           "argument)", text);
        seen_kw |= kw;
        unquote(&v, &vn);
        if (used + klen + vn + 2 > sizeof c->buf)
            return sq_fail(err, "%s(): the arguments are too long", c->name);
        char *dst = c->buf + used;
        if (kw) {
            memcpy(dst, s, klen);
            dst[klen] = '\0';
            c->key[c->nargs] = dst;
            used += klen + 1;
            dst = c->buf + used;
        }
        memcpy(dst, v, vn);
        dst[vn] = '\0';
        c->val[c->nargs] = dst;
        used += vn + 1;
        c->nargs++;
    }
    c->used = used;
    return 0;
}

int sq_call_bind(sq_callform *c, const char *what, const char *const *params, sq_error *err)
{
    int np = 0;
    while (params && params[np])
        np++;
    int npos = 0;
    for (int i = 0; i < c->nargs; i++)
        if (!c->key[i])
            npos++;
    if (npos > np)
        return sq_fail(err, "%s() takes %d positional argument%s but %d %s given", what, np,
                       np == 1 ? "" : "s", npos, npos == 1 ? "was" : "were");
    size_t used = c->used;
    int p = 0;
    for (int i = 0; i < c->nargs; i++) {
        const char *key = c->key[i] ? c->key[i] : params[p++];
        for (int j = 0; j < c->nargs; j++)
            if (j != i && c->key[j] && !c->key[i] && !strcmp(c->key[j], key))
                return sq_fail(err, "%s() got multiple values for argument '%s'", what, key);
        size_t kl = strlen(key), vl = strlen(c->val[i]);
        if (used + kl + vl + 2 > sizeof c->buf)
            return sq_fail(err, "%s(): the arguments are too long", what);
        char *w = c->buf + used;
        memcpy(w, key, kl);
        w[kl] = '=';
        memcpy(w + kl + 1, c->val[i], vl + 1);
        c->words[i] = w;
        used += kl + vl + 2;
    }
    c->used = used;
    char *plain[SQ_ARGS_MAX];
    int nplain;
    if (sq_args_init(&c->a, what, c->nargs, c->words, plain, &nplain, err) < 0)
        return -1;
    if (nplain > 0) {
        size_t kl = strcspn(plain[0], "=");
        return sq_fail(err, "%s() got an unexpected keyword argument '%.*s'", what, (int)kl,
                       plain[0]);
    }
    return 0;
}

size_t sq_unwrap(const char **text, const char *pairs, int *wrapped)
{
    const char *p = *text;
    size_t len = strlen(p);
    while (len && isspace((unsigned char)*p)) {
        p++;
        len--;
    }
    while (len && isspace((unsigned char)p[len - 1]))
        len--;
    int off = 0;
    for (const char *q = pairs; !off && q[0] && q[1]; q += 2)
        if (len >= 2 && p[0] == q[0] && p[len - 1] == q[1]) {
            p++;
            len -= 2;
            off = 1;
        }
    if (wrapped)
        *wrapped = off;
    *text = p;
    return len;
}

int sq_check_doubles(const char *what, const char *key, const char *text, double *out,
                     int max, int *n, sq_error *err)
{
    const char *p = text;
    size_t len = sq_unwrap(&p, "[]()", NULL);
    const char *start[SQ_ARGS_MAX];
    size_t sz[SQ_ARGS_MAX];
    int k;
    int rc = sq_split_items(p, len, start, sz, max < SQ_ARGS_MAX ? max : SQ_ARGS_MAX, &k);
    if (rc == -2)
        return sq_fail(err, "%s: `%s` takes at most %d numbers, got '%s'", what, key,
                       max < SQ_ARGS_MAX ? max : SQ_ARGS_MAX, text);
    if (rc < 0 || k == 0)
        return sq_fail(err, "%s: `%s` must be a list of numbers like [10,20], got '%s'", what,
                       key, text);
    for (int i = 0; i < k; i++) {
        char num[64];
        if (sz[i] >= sizeof num)
            return sq_fail(err, "%s: `%s` must be a list of numbers, got '%s'", what, key, text);
        memcpy(num, start[i], sz[i]);
        num[sz[i]] = '\0';
        if (sq_check_double(what, key, num, -HUGE_VAL, HUGE_VAL, &out[i], err) < 0)
            return -1;
    }
    *n = k;
    return 0;
}

void sq_squeeze_blanks(char *dst, size_t n, const char *src)
{
    size_t k = 0;
    char q = 0;
    for (; *src && k + 1 < n; src++) {
        if (q) {
            if (*src == q)
                q = 0;
        } else if (*src == '\'' || *src == '"') {
            q = *src;
        } else if (isspace((unsigned char)*src)) {
            continue;
        }
        dst[k++] = *src;
    }
    if (n)
        dst[k] = '\0';
}

/* ---- Python's repr of numbers ----------------------------------------------- */

const char *sq_py_float(double x, char *buf, size_t n)
{
    char tmp[48], digits[24];
    int nd = 0, exp10, prec;
    const char *s;
    size_t k = 0;

    if (isnan(x)) {
        snprintf(buf, n, "nan");
        return buf;
    }
    if (isinf(x)) {
        snprintf(buf, n, "%s", x < 0 ? "-inf" : "inf");
        return buf;
    }
    if (x == 0) {
        snprintf(buf, n, "%s", signbit(x) ? "-0.0" : "0.0");
        return buf;
    }
    for (prec = 1; prec < 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec - 1, x);
        if (strtod(tmp, NULL) == x)
            break;
    }
    snprintf(tmp, sizeof tmp, "%.*e", prec - 1, x);
    for (s = tmp; *s && *s != 'e'; s++)
        if (isdigit((unsigned char)*s))
            digits[nd++] = *s;
    exp10 = atoi(s + 1);
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;

    char out[64];
    if (x < 0)
        out[k++] = '-';
    if (exp10 < -4 || exp10 >= 16) {
        out[k++] = digits[0];
        if (nd > 1) {
            out[k++] = '.';
            for (int i = 1; i < nd; i++)
                out[k++] = digits[i];
        }
        k += (size_t)snprintf(out + k, sizeof out - k, "e%c%02d",
                              exp10 < 0 ? '-' : '+', abs(exp10));
    } else if (exp10 < 0) {
        out[k++] = '0';
        out[k++] = '.';
        for (int i = 0; i < -exp10 - 1; i++)
            out[k++] = '0';
        for (int i = 0; i < nd; i++)
            out[k++] = digits[i];
    } else {
        for (int i = 0; i <= exp10; i++)
            out[k++] = i < nd ? digits[i] : '0';
        out[k++] = '.';
        if (nd > exp10 + 1)
            for (int i = exp10 + 1; i < nd; i++)
                out[k++] = digits[i];
        else
            out[k++] = '0';
    }
    out[k] = '\0';
    snprintf(buf, n, "%s", out);
    return buf;
}

const char *sq_py_number(const char *text, double v, char *buf, size_t n)
{
    if (!text)
        return sq_py_float(v, buf, n);
    const char *s = text + (*text == '-' || *text == '+');
    int is_int = *s != '\0';
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            is_int = 0;
    if (is_int && fabs(v) < 1e18)
        snprintf(buf, n, "%lld", (long long)v);
    else
        sq_py_float(v, buf, n);
    return buf;
}
