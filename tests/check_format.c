/* check_format.c - sq_tensor_format against NumPy 1.24's str(array).
 *
 * The cases live in $srcdir/tests/fixtures/fmt_cases.txt, generated once by
 * tests/fixtures/make_fmt_fixtures.py with Debian's numpy. Every case is
 * compared byte for byte; a failure prints both texts and the first
 * differing line. */
#include "seqsh/engine.h"

#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    char *name;
    sq_shape shape;
    float *data;
    size_t count;
    char *expect;
} fmt_case;

static fmt_case *cases;
static int ncases;
static char fixture_path[4096];

/* ---- fixture reading -------------------------------------------------- */

static float bits_to_float(uint32_t b)
{
    float f;
    memcpy(&f, &b, sizeof f);
    return f;
}

/* The generator's LCG; see make_fmt_fixtures.py. */
static void lcg_fill(float *out, size_t n, unsigned long long seed, int shift)
{
    uint64_t x = seed;
    size_t i;
    for (i = 0; i < n; i++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        {
            long k = (long)(x >> 40);
            double v = (double)(k - (1L << 23)) / (double)(1L << 23);
            out[i] = (float)ldexp(v, shift);
        }
    }
}

static void chomp(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
}

static void die(const char *what, int lineno)
{
    fprintf(stderr, "%s:%d: bad fixture: %s\n", fixture_path, lineno, what);
    exit(EXIT_FAILURE);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(EXIT_FAILURE);
    }
    return p;
}

static void load_cases(void)
{
    const char *srcdir = getenv("srcdir");
    FILE *fp;
    char *line = NULL;
    size_t cap = 0;
    int lineno = 0, capcases = 0;

    if (!srcdir || !*srcdir)
        srcdir = ".";
    snprintf(fixture_path, sizeof fixture_path,
             "%s/tests/fixtures/fmt_cases.txt", srcdir);
    fp = fopen(fixture_path, "r");
    if (!fp) {
        perror(fixture_path);
        exit(EXIT_FAILURE);
    }

#define NEXT() (lineno++, getline(&line, &cap, fp) >= 0 ? (chomp(line), 1) : 0)

    while (NEXT()) {
        fmt_case c;
        int i, nlines;
        size_t elen = 0, ecap = 0;

        if (line[0] == '#' || line[0] == '\0')
            continue;
        if (strncmp(line, "case ", 5) != 0)
            die("expected 'case'", lineno);
        memset(&c, 0, sizeof c);
        c.name = strdup(line + 5);

        /* shape */
        if (!NEXT() || strncmp(line, "shape ", 6) != 0)
            die("expected 'shape'", lineno);
        {
            char *p = line + 6, *end;
            c.shape.rank = (int)strtol(p, &end, 10);
            if (end == p || c.shape.rank < 0 || c.shape.rank > SQ_MAX_RANK)
                die("bad rank", lineno);
            c.count = 1;
            for (i = 0; i < c.shape.rank; i++) {
                p = end;
                c.shape.d[i] = strtol(p, &end, 10);
                if (end == p || c.shape.d[i] < 0)
                    die("bad dim", lineno);
                c.count *= (size_t)c.shape.d[i];
            }
        }
        c.data = xmalloc(c.count * sizeof(float));

        /* data */
        if (!NEXT() || strncmp(line, "data ", 5) != 0)
            die("expected 'data'", lineno);
        if (strncmp(line + 5, "hex ", 4) == 0) {
            size_t n = (size_t)strtoul(line + 9, NULL, 10), got = 0;
            if (n != c.count)
                die("data count does not match shape", lineno);
            while (got < n) {
                char *p, *end;
                if (!NEXT())
                    die("truncated data", lineno);
                p = line;
                for (;;) {
                    unsigned long w = strtoul(p, &end, 16);
                    if (end == p)
                        break;
                    if (got >= n)
                        die("too many data words", lineno);
                    c.data[got++] = bits_to_float((uint32_t)w);
                    p = end;
                }
            }
        } else if (strncmp(line + 5, "lcg ", 4) == 0) {
            unsigned long long seed;
            int shift;
            if (sscanf(line + 9, "%llu %d", &seed, &shift) != 2)
                die("bad lcg", lineno);
            lcg_fill(c.data, c.count, seed, shift);
        } else if (strncmp(line + 5, "fill ", 5) == 0) {
            float v = bits_to_float((uint32_t)strtoul(line + 10, NULL, 16));
            size_t k;
            for (k = 0; k < c.count; k++)
                c.data[k] = v;
        } else {
            die("unknown data kind", lineno);
        }

        /* expected text */
        if (!NEXT() || sscanf(line, "expect %d", &nlines) != 1 || nlines < 1)
            die("expected 'expect N'", lineno);
        c.expect = NULL;
        for (i = 0; i < nlines; i++) {
            size_t n;
            if (!NEXT())
                die("truncated expect", lineno);
            n = strlen(line);
            if (elen + n + 2 > ecap) {
                ecap = (elen + n + 2) * 2;
                c.expect = realloc(c.expect, ecap);
                if (!c.expect)
                    die("out of memory", lineno);
            }
            if (i > 0)
                c.expect[elen++] = '\n';
            memcpy(c.expect + elen, line, n);
            elen += n;
            c.expect[elen] = '\0';
        }
        if (!NEXT() || strcmp(line, "end") != 0)
            die("expected 'end'", lineno);

        if (ncases == capcases) {
            capcases = capcases ? capcases * 2 : 64;
            cases = realloc(cases, (size_t)capcases * sizeof *cases);
            if (!cases)
                die("out of memory", lineno);
        }
        cases[ncases++] = c;
    }
#undef NEXT
    free(line);
    fclose(fp);
    if (ncases == 0)
        die("no cases", lineno);
}

static void free_cases(void)
{
    int i;
    for (i = 0; i < ncases; i++) {
        free(cases[i].name);
        free(cases[i].data);
        free(cases[i].expect);
    }
    free(cases);
}

/* ---- failure reporting --------------------------------------------------- */

/* Line number (1-based) and column of the first difference. */
static void first_diff(const char *a, const char *b, int *line, int *col)
{
    int l = 1, c = 1;
    while (*a && *a == *b) {
        if (*a == '\n') {
            l++;
            c = 1;
        } else {
            c++;
        }
        a++;
        b++;
    }
    *line = l;
    *col = c;
}

static void print_numbered(const char *label, const char *text)
{
    int n = 1;
    const char *p = text;
    fprintf(stderr, "--- %s\n", label);
    while (*p) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        fprintf(stderr, "%4d|%.*s|\n", n++, (int)len, p);
        if (!e)
            break;
        p = e + 1;
    }
}

static void extract_line(const char *text, int want, char *out, size_t n)
{
    int l = 1;
    const char *p = text, *e;
    size_t len;
    while (l < want && (e = strchr(p, '\n'))) {
        p = e + 1;
        l++;
    }
    if (l < want) {
        snprintf(out, n, "<missing>");
        return;
    }
    e = strchr(p, '\n');
    len = e ? (size_t)(e - p) : strlen(p);
    if (len > n - 3)
        len = n - 3;
    snprintf(out, n, "|%.*s|", (int)len, p);
}

/* ---- tests ------------------------------------------------------------- */

START_TEST(test_fixture_case)
{
    const fmt_case *c = &cases[_i];
    sq_tensor t;
    char *got;

    t.shape = c->shape;
    t.data = c->data;
    got = sq_tensor_format(&t);
    ck_assert_msg(got != NULL, "case %s: sq_tensor_format returned NULL",
                  c->name);
    if (strcmp(got, c->expect) != 0) {
        int l, col;
        char le[200], lg[200];
        first_diff(c->expect, got, &l, &col);
        extract_line(c->expect, l, le, sizeof le);
        extract_line(got, l, lg, sizeof lg);
        fprintf(stderr, "=== case %s: mismatch at line %d, column %d\n",
                c->name, l, col);
        print_numbered("expected (numpy)", c->expect);
        print_numbered("got", got);
        free(got);
        ck_abort_msg("case %s: line %d col %d: expected %s got %s",
                     c->name, l, col, le, lg);
    }
    free(got);
}
END_TEST

/* A summarised (1,123,123,32) tensor must be formatted from the shown
 * corners only: every hidden element is NaN here, so looking at one would
 * change the padding, and the output must equal the all-ones fixture. The
 * time bound is loose; it only catches formatting all 484k values. */
START_TEST(test_summary_uses_shown_only)
{
    sq_tensor t;
    size_t n = 1 * 123 * 123 * 32, i;
    long a, b, c;
    char *got;
    const char *expect = NULL;
    clock_t t0;
    double secs;
    int k;

    for (k = 0; k < ncases; k++)
        if (strcmp(cases[k].name, "summary_1_123_123_32_ones") == 0)
            expect = cases[k].expect;
    ck_assert_msg(expect != NULL, "fixture summary_1_123_123_32_ones missing");

    t.shape.rank = 4;
    t.shape.d[0] = 1;
    t.shape.d[1] = 123;
    t.shape.d[2] = 123;
    t.shape.d[3] = 32;
    t.data = malloc(n * sizeof(float));
    ck_assert_ptr_nonnull(t.data);
    for (i = 0; i < n; i++)
        t.data[i] = NAN;
    for (a = 0; a < 123; a++) {
        if (a >= 3 && a < 120)
            continue;
        for (b = 0; b < 123; b++) {
            if (b >= 3 && b < 120)
                continue;
            for (c = 0; c < 32; c++) {
                if (c >= 3 && c < 29)
                    continue;
                t.data[(size_t)((a * 123 + b) * 32 + c)] = 1.0f;
            }
        }
    }
    t0 = clock();
    for (k = 0; k < 20; k++) {
        got = sq_tensor_format(&t);
        ck_assert_ptr_nonnull(got);
        ck_assert_str_eq(got, expect);
        free(got);
    }
    secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    ck_assert_msg(secs < 5.0, "20 summarised formats took %.2f s", secs);
    free(t.data);
}
END_TEST

static Suite *format_suite(void)
{
    Suite *s = suite_create("format");
    TCase *tc = tcase_create("numpy");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_fixture_case, 0, ncases);
    tcase_add_test(tc, test_summary_uses_shown_only);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr;
    int failed;

    load_cases();
    sr = srunner_create(format_suite());
    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    free_cases();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
