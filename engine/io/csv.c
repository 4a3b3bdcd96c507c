/* csv.c - CSV files of numbers: ',', ';', tabs or blanks between cells, a
 * first line with a non-numeric cell is a header, every row has the same
 * number of cells, and a bad cell is reported as FILE:LINE: column C as
 * compilers do. One column may be taken as the label (Y). */
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "io/bytes.h"
#include "io/data.h"

#define CELL_SHOW 40          /* bytes of a bad cell quoted in a message */
#define POLL_LINES 4096       /* lines read between two polls */

int sq_csv_label_parse(const char *label, label_spec *ls, sq_error *err)
{
    ls->kind = LABEL_NONE;
    ls->index = 0;
    ls->text = label;
    if (!label)
        return 0;
    if (strcmp(label, "last") == 0) {
        ls->kind = LABEL_LAST;
        return 0;
    }
    if (strcmp(label, "first") == 0) {
        ls->kind = LABEL_FIRST;
        return 0;
    }
    const char *s = label;
    if (*s == '+' || *s == '-')
        s++;
    if (*s >= '0' && *s <= '9') {
        char *end;
        errno = 0;
        long v = strtol(label, &end, 10);
        if (*end == '\0' && errno == 0) {
            ls->kind = LABEL_INDEX;
            ls->index = v;
            return 0;
        }
    }
    return sq_fail(err, "label must be 'last', 'first' or a column index "
                   "(0-based, negative counts from the end), got '%s'", label);
}

typedef struct {
    const char *p, *e;   /* the rest of the line */
    char sep;            /* ',', ';', '\t', or ' ' for runs of blanks */
    int done;
} cell_iter;

static int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* The next line of [*p, end) without its '\n' and a '\r' before it. */
static int next_line(const char **p, const char *end, const char **ls,
                     const char **le)
{
    if (*p >= end)
        return 0;
    const char *s = *p, *nl = memchr(s, '\n', (size_t)(end - s));
    const char *e = nl ? nl : end;
    *p = nl ? nl + 1 : end;
    if (e > s && e[-1] == '\r')
        e--;
    *ls = s;
    *le = e;
    return 1;
}

static int line_blank(const char *s, const char *e)
{
    for (; s < e; s++)
        if (!is_blank(*s) && *s != '\r' && *s != '\f' && *s != '\v')
            return 0;
    return 1;
}

/* The separator a line uses: ',' if it has one, else ';', else tab, else
 * runs of blanks (numpy.savetxt's default). */
static char line_sep(const char *s, const char *e)
{
    size_t n = (size_t)(e - s);
    if (memchr(s, ',', n))
        return ',';
    if (memchr(s, ';', n))
        return ';';
    if (memchr(s, '\t', n))
        return '\t';
    return ' ';
}

static void cells_start(cell_iter *c, const char *s, const char *e, char sep)
{
    c->p = s;
    c->e = e;
    c->sep = sep;
    c->done = 0;
}

/* The next cell, blanks around it and one pair of double quotes removed. */
static int cell_next(cell_iter *c, const char **cs, const char **ce)
{
    const char *s, *t;
    if (c->done)
        return 0;
    if (c->sep == ' ') {
        while (c->p < c->e && is_blank(*c->p))
            c->p++;
        if (c->p == c->e) {
            c->done = 1;
            return 0;
        }
        s = c->p;
        while (c->p < c->e && !is_blank(*c->p))
            c->p++;
        t = c->p;
    } else {
        const char *x = memchr(c->p, c->sep, (size_t)(c->e - c->p));
        s = c->p;
        t = x ? x : c->e;
        if (x)
            c->p = x + 1;
        else
            c->done = 1;
        while (s < t && is_blank(*s))
            s++;
        while (t > s && is_blank(t[-1]))
            t--;
    }
    if (t - s >= 2 && *s == '"' && t[-1] == '"') {
        s++;
        t--;
    }
    *cs = s;
    *ce = t;
    return 1;
}

static long count_cells(const char *s, const char *e, char sep)
{
    cell_iter c;
    const char *a, *b;
    long n = 0;
    cells_start(&c, s, e, sep);
    while (cell_next(&c, &a, &b))
        n++;
    return n;
}

enum { NUM_OK, NUM_EMPTY, NUM_BAD, NUM_NONFINITE, NUM_RANGE, NUM_OOM };

/* Parses [s, e) as one float32. */
static int parse_num(const char *s, const char *e, float *v)
{
    char small[128], *buf = small, *end;
    size_t n = (size_t)(e - s);
    int rc = NUM_OK;
    if (n == 0)
        return NUM_EMPTY;
    if (n >= sizeof small) {
        buf = sq_malloc(n + 1);
        if (!buf)
            return NUM_OOM;
    }
    memcpy(buf, s, n);
    buf[n] = '\0';
    errno = 0;
    double d = strtod(buf, &end);
    if (end != buf + n || end == buf || is_blank(buf[0]) || buf[0] == '\n' ||
        buf[0] == '\r' || buf[0] == '\f' || buf[0] == '\v')
        rc = NUM_BAD;
    else if (isnan(d) || (isinf(d) && errno != ERANGE))
        rc = NUM_NONFINITE;
    else if (isinf(d) || fabs(d) > FLT_MAX)
        rc = NUM_RANGE;
    else
        *v = (float)d;
    if (buf != small)
        free(buf);
    return rc;
}

/* A cell as quoted in a message: at most CELL_SHOW bytes, control
 * characters as '?'. */
static const char *cell_text(const char *s, const char *e, char *buf)
{
    size_t n = (size_t)(e - s), k = n > CELL_SHOW ? CELL_SHOW : n;
    for (size_t i = 0; i < k; i++) {
        unsigned char c = (unsigned char)s[i];
        buf[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    strcpy(buf + k, n > k ? "..." : "");
    return buf;
}

static int cell_fail(sq_error *err, int rc, const char *path,
                     unsigned long line, long col, const char *s,
                     const char *e)
{
    char shown[CELL_SHOW + 4];
    cell_text(s, e, shown);
    switch (rc) {
    case NUM_EMPTY:
        return sq_fail(err, "%s:%lu: column %ld is empty", path, line, col);
    case NUM_NONFINITE:
        return sq_fail(err, "%s:%lu: column %ld: '%s' is not a finite number "
                       "(NaN and infinity would poison training)", path, line,
                       col, shown);
    case NUM_RANGE:
        return sq_fail(err, "%s:%lu: column %ld: '%s' is out of float32 range",
                       path, line, col, shown);
    case NUM_OOM:
        return sq_fail(err, "out of memory reading '%s'", path);
    default:
        return sq_fail(err, "%s:%lu: column %ld: '%s' is not a number", path,
                       line, col, shown);
    }
}

int sq_csv_parse(const unsigned char *buf, size_t len, const char *path,
                     const char *subj, const label_spec *ls, sq_tensor *x,
                     sq_tensor *y, sq_error *err)
{
    const char *p = (const char *)buf, *end = p + len, *s, *e, *a, *b;
    const char *data = NULL;          /* where the first data line starts */
    unsigned long line = 0, data_line = 0;
    long ncols = 0, rows = 0, lab = -1;
    char sep = ',';
    float *xd = NULL, *yd = NULL;
    cell_iter c;

    if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
        p += 3;                       /* a UTF-8 byte order mark */

    /* Pass 1: the header, the columns, the rows; ragged rows. */
    int seen_first = 0;
    for (;;) {
        const char *here = p;
        if (!next_line(&p, end, &s, &e))
            break;
        if (++line % POLL_LINES == 1 && sq_poll(err) < 0)
            return -1;
        if (line_blank(s, e))
            continue;
        if (!data && !seen_first) {
            /* The first line is a header when a cell holds something that
             * is not a number (an empty cell alone does not make one). */
            seen_first = 1;
            sep = line_sep(s, e);
            cells_start(&c, s, e, sep);
            int header = 0;
            while (!header && cell_next(&c, &a, &b)) {
                float v;
                int rc = parse_num(a, b, &v);
                if (rc == NUM_OOM)
                    return sq_fail(err, "out of memory reading %s", subj);
                header = rc == NUM_BAD;
            }
            if (header)
                continue;
        }
        if (!data) {
            data = here;
            data_line = line;
            sep = line_sep(s, e);
            ncols = count_cells(s, e, sep);
        } else {
            long k = count_cells(s, e, sep);
            if (k != ncols)
                return sq_fail(err, "%s:%lu: expected %ld cells, found %ld",
                               path, line, ncols, k);
        }
        rows++;
    }
    if (!data)
        return sq_fail(err, seen_first ? "%s has a header but no data rows"
                                       : "%s has no data (only blank lines)",
                       subj);

    if (ls->kind != LABEL_NONE) {
        lab = ls->kind == LABEL_LAST ? ncols - 1
            : ls->kind == LABEL_FIRST ? 0
            : ls->index < 0 ? ls->index + ncols : ls->index;
        if (lab < 0 || lab >= ncols)
            return sq_fail(err, "label=%s is out of range: %s has %ld "
                           "column%s (0 to %ld, or -%ld to -1)", ls->text,
                           subj, ncols, ncols == 1 ? "" : "s", ncols - 1,
                           ncols);
        if (ncols == 1)
            return sq_fail(err, "label=%s would leave no feature columns: %s "
                           "has only 1 column", ls->text, subj);
    }

    long xc = lab >= 0 ? ncols - 1 : ncols, dims[2] = { rows, xc }, checked;
    size_t xn, xbytes, ybytes;
    if (sq_dims_count(dims, 2, subj, &checked, err) < 0)
        return -1;
    /* Every cell takes at least one byte, so these fit in the file. */
    if (!mul_size((size_t)rows, (size_t)xc, &xn) ||
        !mul_size(xn, sizeof(float), &xbytes) ||
        !mul_size((size_t)rows, sizeof(float), &ybytes))
        return sq_fail(err, "%s is too large", subj);
    char what[64 + SQ_ERR_MAX / 2];
    snprintf(what, sizeof what, "reading %.*s", SQ_ERR_MAX / 2, subj);
    if (sq_check_memory((double)xbytes + (lab >= 0 ? (double)ybytes : 0), what, err) < 0)
        return -1;
    xd = sq_malloc(xbytes ? xbytes : 1);
    if (!xd) {
        sq_fail(err, "out of memory reading %s (%zu bytes)", subj, xbytes);
        goto fail;
    }
    if (lab >= 0) {
        yd = sq_malloc(ybytes ? ybytes : 1);
        if (!yd) {
            sq_fail(err, "out of memory reading %s (%zu bytes)", subj, ybytes);
            goto fail;
        }
    }

    /* Pass 2: the numbers. */
    p = data;
    line = data_line - 1;
    size_t r = 0;
    while (next_line(&p, end, &s, &e)) {
        if (++line % POLL_LINES == 1 && sq_poll(err) < 0)
            goto fail;
        if (line_blank(s, e))
            continue;
        long col = 0;
        float *xr = xd + r * (size_t)xc;
        cells_start(&c, s, e, sep);
        while (cell_next(&c, &a, &b)) {
            float v = 0.0f;
            int rc = parse_num(a, b, &v);
            if (rc != NUM_OK) {
                cell_fail(err, rc, path, line, col + 1, a, b);
                goto fail;
            }
            if (col == lab)
                yd[r] = v;
            else
                *xr++ = v;
            col++;
        }
        r++;
    }

    x->shape.rank = 2;
    x->shape.d[0] = rows;
    x->shape.d[1] = xc;
    x->data = xd;
    if (lab >= 0) {
        y->shape.rank = 1;
        y->shape.d[0] = rows;
        y->data = yd;
    }
    return 0;

fail:
    free(xd);
    free(yd);
    return -1;
}

