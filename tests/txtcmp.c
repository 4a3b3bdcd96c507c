/* txtcmp.c - compares a golden transcript with a new one: the text exactly,
 * printed floats within a tolerance, so that a transcript made on one CPU
 * passes on another whose BLAS or convolution kernels round differently.
 *
 * usage: txtcmp [-e] [-t RTOL] EXPECTED ACTUAL
 *
 * A NumPy array printed over several lines (a line starting with '[' whose
 * brackets are not closed, and the lines up to the closing one) is one
 * logical line, since another rounding may reflow it. Logical
 * lines that are equal are equal. Otherwise both are cut into numbers,
 * blanks and other text: the other text must be equal; integers (no '.' and
 * no exponent: shapes, counts, steps) must be equal; floats a and b must
 * satisfy
 *     |a - b| <= RTOL * max(|a|, |b|, S) + U
 * where S is the largest float of the expected logical line (the scale of
 * an array, for entries that cancel to near zero) and U is one unit in the
 * last printed place when both are printed with the same number (>= 3) of
 * decimals (a fixed format such as Keras's "loss: 0.0333", where a tiny
 * change can flip the last digit). Blanks may differ only where a number's
 * text differs (column widths follow the numbers). -e compares exactly.
 * Exit status 0 when they match, 1 when not (the first differences are
 * printed), 2 on a usage or file error. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char **line;   /* logical lines, '\n' kept between joined lines */
    int *first;    /* the physical line each one starts at (1-based) */
    int n;
} text;

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n);
    if (!p) {
        fprintf(stderr, "txtcmp: out of memory\n");
        exit(2);
    }
    return p;
}

/* Reads path into logical lines. */
static void load(const char *path, text *t)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "txtcmp: cannot open %s\n", path);
        exit(2);
    }
    memset(t, 0, sizeof *t);
    char *cur = NULL;
    size_t curlen = 0;
    int depth = 0, phys = 0, start = 0;
    char *buf = NULL;
    size_t cap = 0;
    ssize_t got;
    while ((got = getline(&buf, &cap, f)) >= 0) {
        phys++;
        if (got > 0 && buf[got - 1] == '\n')
            buf[--got] = '\0';
        if (!cur)
            start = phys;
        cur = xrealloc(cur, curlen + (size_t)got + 2);
        if (curlen)
            cur[curlen++] = '\n';
        memcpy(cur + curlen, buf, (size_t)got + 1);
        curlen += (size_t)got;
        /* a NumPy array starts a line with '['; other text with a '['
         * ("must be in [0, 1)") is not joined */
        const char *q = buf;
        while (*q == ' ')
            q++;
        if (curlen == (size_t)got && *q != '[') {
            depth = 0;
        } else {
            for (ssize_t i = 0; i < got; i++)
                depth += buf[i] == '[' ? 1 : buf[i] == ']' ? -1 : 0;
            if (depth > 0)
                continue;  /* the array goes on */
        }
        depth = 0;
        t->line = xrealloc(t->line, (size_t)(t->n + 1) * sizeof *t->line);
        t->first = xrealloc(t->first, (size_t)(t->n + 1) * sizeof *t->first);
        t->line[t->n] = cur;
        t->first[t->n++] = start;
        cur = NULL;
        curlen = 0;
    }
    if (cur) {  /* an unbalanced '[' at the end */
        t->line = xrealloc(t->line, (size_t)(t->n + 1) * sizeof *t->line);
        t->first = xrealloc(t->first, (size_t)(t->n + 1) * sizeof *t->first);
        t->line[t->n] = cur;
        t->first[t->n++] = start;
    }
    free(buf);
    fclose(f);
}

enum { T_TEXT, T_INT, T_FLOAT };
typedef struct {
    int type;
    const char *s;   /* into the line */
    size_t len;
    double v;
    int decimals;    /* digits after the point, before any exponent */
} token;

static int ident(int c) { return isalnum(c) || c == '_' || c == '.'; }

/* Length of a number starting at p (p[-1] is not part of a word), or 0. */
static size_t number_at(const char *line, const char *p, int *is_float, int *decimals)
{
    const char *q = p;
    if (p > line && ident((unsigned char)p[-1]))
        return 0;
    if (*q == '-' || *q == '+')
        q++;
    const char *d0 = q;
    while (isdigit((unsigned char)*q))
        q++;
    int nint = (int)(q - d0), nfrac = 0;
    *is_float = 0;
    if (*q == '.') {
        *is_float = 1;
        q++;
        const char *f0 = q;
        while (isdigit((unsigned char)*q))
            q++;
        nfrac = (int)(q - f0);
    }
    if (nint + nfrac == 0)
        return 0;
    if ((*q == 'e' || *q == 'E')
        && (isdigit((unsigned char)q[1])
            || ((q[1] == '-' || q[1] == '+') && isdigit((unsigned char)q[2])))) {
        *is_float = 1;
        q += 2;
        while (isdigit((unsigned char)*q))
            q++;
    }
    if (isalpha((unsigned char)*q) || *q == '_')
        return 0;  /* part of a word: 2d, 3x3 */
    *decimals = nfrac;
    return (size_t)(q - p);
}

/* Cuts a logical line into tokens, blanks left out. */
static token *tokenise(const char *line, int *n)
{
    token *t = NULL;
    int k = 0;
    const char *p = line;
    while (*p) {
        if (isspace((unsigned char)*p)) {
            p++;
            continue;
        }
        int fl = 0, dec = 0;
        size_t len = number_at(line, p, &fl, &dec);
        t = xrealloc(t, (size_t)(k + 1) * sizeof *t);
        if (len) {
            t[k] = (token){ fl ? T_FLOAT : T_INT, p, len, strtod(p, NULL), dec };
            p += len;
        } else {
            const char *q = p;
            do {
                q++;
            } while (*q && !isspace((unsigned char)*q)
                     && !((isdigit((unsigned char)*q) || *q == '-' || *q == '+')
                          && number_at(line, q, &fl, &dec)));
            t[k] = (token){ T_TEXT, p, (size_t)(q - p), 0, 0 };
            p = q;
        }
        k++;
    }
    *n = k;
    return t;
}

static int same_text(const token *a, const token *b)
{
    return a->len == b->len && !memcmp(a->s, b->s, a->len);
}

/* 1 when logical lines a (expected) and b agree within rtol. */
static int lines_match(const char *a, const char *b, double rtol)
{
    if (!strcmp(a, b))
        return 1;
    if (rtol < 0)
        return 0;
    int na, nb, ok = 1, numbers_differ = 0;
    token *ta = tokenise(a, &na), *tb = tokenise(b, &nb);
    double scale = 0;
    for (int i = 0; i < na; i++)
        if (ta[i].type == T_FLOAT && isfinite(ta[i].v) && fabs(ta[i].v) > scale)
            scale = fabs(ta[i].v);
    if (na != nb)
        ok = 0;
    for (int i = 0; ok && i < na; i++) {
        if (same_text(&ta[i], &tb[i]))
            continue;
        if (ta[i].type == T_TEXT || tb[i].type == T_TEXT
            || (ta[i].type == T_INT && tb[i].type == T_INT)) {
            ok = 0;
            break;
        }
        double x = ta[i].v, y = tb[i].v;
        double m = fmax(fmax(fabs(x), fabs(y)), scale);
        double unit = 0;
        if (ta[i].decimals == tb[i].decimals && ta[i].decimals >= 3)
            unit = pow(10.0, -ta[i].decimals);
        /* an exponent scales the unit: 1.234e-05 */
        if (unit && (memchr(ta[i].s, 'e', ta[i].len) || memchr(ta[i].s, 'E', ta[i].len)))
            unit = 0;
        if (!(fabs(x - y) <= rtol * m + unit * 1.000001))
            ok = 0;
        numbers_differ = 1;
    }
    /* equal tokens but different lines: the blanks differ, and no number
     * that changed its width explains it */
    if (ok && !numbers_differ)
        ok = 0;
    free(ta);
    free(tb);
    return ok;
}

static void show(const char *sign, const char *s)
{
    printf("%s ", sign);
    for (; *s; s++) {
        putchar(*s);
        if (*s == '\n')
            printf("%s ", sign);
    }
    putchar('\n');
}

int main(int argc, char **argv)
{
    double rtol = 1e-5;
    int i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
        if (!strcmp(argv[i], "-e")) {
            rtol = -1;
        } else if (!strcmp(argv[i], "-t") && i + 1 < argc) {
            char *end;
            rtol = strtod(argv[++i], &end);
            if (*end || !(rtol >= 0)) {
                fprintf(stderr, "txtcmp: bad tolerance '%s'\n", argv[i]);
                return 2;
            }
        } else {
            break;
        }
    }
    if (argc - i != 2) {
        fprintf(stderr, "usage: txtcmp [-e] [-t RTOL] EXPECTED ACTUAL\n");
        return 2;
    }
    text a, b;
    load(argv[i], &a);
    load(argv[i + 1], &b);
    int bad = 0, shown = 0;
    int n = a.n < b.n ? a.n : b.n;
    for (int k = 0; k < n; k++) {
        if (lines_match(a.line[k], b.line[k], rtol))
            continue;
        bad = 1;
        if (shown++ < 10) {
            printf("line %d differs%s:\n", a.first[k], rtol < 0 ? "" : " (beyond the tolerance)");
            show("-", a.line[k]);
            show("+", b.line[k]);
        }
    }
    if (a.n != b.n) {
        bad = 1;
        printf("%d logical lines expected, %d found\n", a.n, b.n);
        for (int k = n; k < a.n && shown++ < 10; k++)
            show("-", a.line[k]);
        for (int k = n; k < b.n && shown++ < 10; k++)
            show("+", b.line[k]);
    }
    for (int k = 0; k < a.n; k++)
        free(a.line[k]);
    for (int k = 0; k < b.n; k++)
        free(b.line[k]);
    free(a.line);
    free(a.first);
    free(b.line);
    free(b.first);
    return bad;
}
