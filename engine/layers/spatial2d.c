/* spatial2d.c - what the 2-D layer kinds share: Keras's Conv argument
 * checks, TensorFlow's depthwise shape errors, the margins argument of
 * ZeroPadding2D and Cropping2D, and a block copy between images. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "layers/spatial2d.h"

const char *sq_pair_str(const long *v, char *buf, size_t n)
{
    snprintf(buf, n, "(%ld, %ld)", v[0], v[1]);
    return buf;
}

int sq_conv_validate(long filters, const long *k, const long *s, const long *d,
                     const char *padding, int *same, sq_error *err)
{
    char a[64], b[64];
    int causal;
    if (filters != SQ_NO_FILTERS && filters < 0)
        return sq_fail(err, "Received a negative value for `filters`.Was expecting a positive "
                       "value, got %ld.", filters);
    if (filters == 0)
        return sq_fail(err, "Received an invalid value for `filters`, expected a positive "
                       "integer, got 0.");
    if (sq_parse_padding(padding, same, &causal, err) < 0)
        return -1;
    if (k[0] == 0 || k[1] == 0)
        return sq_fail(err, "The argument `kernel_size` cannot contain 0(s). Received: %s",
                       sq_pair_str(k, a, sizeof a));
    if (s[0] == 0 || s[1] == 0)
        return sq_fail(err, "The argument `strides` cannot contains 0(s). Received: %s",
                       sq_pair_str(s, a, sizeof a));
    if (causal)
        return sq_fail(err, "Causal padding is only supported for `Conv1D`and `SeparableConv1D`.");
    if (k[0] < 0 || k[1] < 0)
        return sq_fail(err, "The argument `kernel_size` must contain positive integers. "
                       "Received: %s", sq_pair_str(k, a, sizeof a));
    if (s[0] < 0 || s[1] < 0)
        return sq_fail(err, "The argument `strides` must contain positive integers. "
                       "Received: %s", sq_pair_str(s, a, sizeof a));
    if (d[0] <= 0 || d[1] <= 0)
        return sq_fail(err, "The argument `dilation_rate` must contain positive integers. "
                       "Received: %s", sq_pair_str(d, a, sizeof a));
    if ((s[0] > 1 || s[1] > 1) && (d[0] > 1 || d[1] > 1))
        return sq_fail(err, "`strides > 1` not supported in conjunction with `dilation_rate > 1`. "
                       "Received: strides=%s and dilation_rate=%s",
                       sq_pair_str(s, a, sizeof a), sq_pair_str(d, b, sizeof b));
    return 0;
}

int sq_check_equal_strides(const long *s, sq_error *err)
{
    if (s[0] != s[1])
        return sq_fail(err, "Current implementation only supports equal length strides in the "
                       "row and column dimensions.");
    return 0;
}

int sq_fail_depthwise_negative(sq_error *err, const sq_layer *l, const char *cls, long dk,
                               long n, const sq_shape *in, const long *k, const long *d)
{
    char s[128];
    sq_shape_str(in, s, sizeof s);
    /* TensorFlow's leading sentence, then what it means in this model
     * instead of the graph node TensorFlow prints */
    if (d[0] > 1 || d[1] > 1)
        return sq_fail(err, "Negative dimension size caused by subtracting %ld from %ld: the "
                       "%ldx%ld depthwise kernel of %s (%s), with dilation_rate=(%ld, %ld), "
                       "spans %ld, more than its input %s has; use a smaller kernel_size or "
                       "dilation_rate, or padding=same", dk, n, k[0], k[1], l->name, cls, d[0],
                       d[1], dk, s);
    return sq_fail(err, "Negative dimension size caused by subtracting %ld from %ld: the "
                   "%ldx%ld depthwise kernel of %s (%s) does not fit in its input %s; use a "
                   "smaller kernel_size, or padding=same", dk, n, k[0], k[1], l->name, cls, s);
}

/* ---- margins: int | (a, b) | ((t, b), (l, r)) ----------------------------- */

#define MAX_ITEMS 8

/* One parsed value: an int, or a tuple of ints. */
typedef struct {
    int tuple;
    int n;
    long v[MAX_ITEMS];
} item;

static const char *skip_blanks(const char *p)
{
    while (isspace((unsigned char)*p))
        p++;
    return p;
}

static int parse_int(const char **p, long *v)
{
    char *end;
    errno = 0;
    long x = strtol(*p, &end, 10);
    if (end == *p || errno == ERANGE || x > INT_MAX || x < INT_MIN)
        return -1;
    *v = x;
    *p = end;
    return 0;
}

/* Items separated by commas up to `close` (')' or '\0'); an item is an int
 * or, when nested, a parenthesised list of ints. Returns -1 on bad text. */
static int parse_items(const char **pp, char close, int nested, item *out, int *n, int *comma)
{
    const char *p = *pp;
    *n = 0;
    *comma = 0;
    for (;;) {
        p = skip_blanks(p);
        if (*p == close)
            break;
        if (*n == MAX_ITEMS)
            return -1;
        item *it = &out[*n];
        memset(it, 0, sizeof *it);
        if (*p == '(') {
            if (!nested)
                return -1;
            p++;
            int inner_comma;
            item sub[MAX_ITEMS];
            if (parse_items(&p, ')', 0, sub, &it->n, &inner_comma) < 0)
                return -1;
            p++;  /* the ')' */
            it->tuple = 1;
            for (int i = 0; i < it->n; i++)
                it->v[i] = sub[i].v[0];
        } else {
            if (parse_int(&p, &it->v[0]) < 0)
                return -1;
            it->n = 1;
        }
        (*n)++;
        p = skip_blanks(p);
        if (*p == ',') {
            *comma = 1;
            p++;
            continue;
        }
        if (*p != close)
            return -1;
        break;
    }
    *pp = p;
    return 0;
}

/* Python's repr of an item. */
static void item_repr(const item *it, char *buf, size_t n)
{
    size_t k = 0;
    if (!it->tuple) {
        snprintf(buf, n, "%ld", it->v[0]);
        return;
    }
    k += (size_t)snprintf(buf + k, n - k, "(");
    for (int i = 0; i < it->n && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, "%s%ld", i ? ", " : "", it->v[i]);
    if (k < n)
        snprintf(buf + k, n - k, it->n == 1 ? ",)" : ")");
}

static void items_repr(const item *its, int count, char *buf, size_t n)
{
    size_t k = (size_t)snprintf(buf, n, "(");
    for (int i = 0; i < count && k < n; i++) {
        char one[160];
        item_repr(&its[i], one, sizeof one);
        k += (size_t)snprintf(buf + k, n - k, "%s%s", i ? ", " : "", one);
    }
    if (k < n)
        snprintf(buf + k, n - k, count == 1 ? ",)" : ")");
}

int sq_parse_margins(const char *text, const char *kind, const char *what, long m[4],
                     char *canon, size_t n, sq_error *err)
{
    item its[MAX_ITEMS];
    int count, comma;
    const char *p = skip_blanks(text);
    /* a bare "1,2" is the tuple (1, 2); "(...)" whole is one value */
    int outer = 0;
    if (*p == '(') {
        int depth = 0;
        const char *q = p;
        for (; *q; q++) {
            if (*q == '(')
                depth++;
            else if (*q == ')' && --depth == 0)
                break;
        }
        outer = *q == ')' && *skip_blanks(q + 1) == '\0';
    }
    if (outer)
        p++;
    if (parse_items(&p, outer ? ')' : '\0', 1, its, &count, &comma) < 0 || count == 0
        || (outer && *skip_blanks(p + 1) != '\0'))
        return sq_fail(err, "%s: `%s` must be an int, (symmetric_height, symmetric_width) or "
                       "((top, bottom), (left, right)); got '%s'", kind, what, text);
    if (count == 1 && !comma) {
        /* one value without a comma: Python's (3) is 3, ((1, 2)) is (1, 2) */
        item one = its[0];
        if (!one.tuple) {
            for (int i = 0; i < 4; i++)
                m[i] = one.v[0];
            goto check;
        }
        count = one.n;
        for (int i = 0; i < one.n; i++)
            its[i] = (item){ 0, 1, { one.v[i] } };
    }
    char shown[512];
    if (count != 2) {
        items_repr(its, count, shown, sizeof shown);
        return sq_fail(err, "`%s` should have two elements. Found: %s", what, shown);
    }
    static const char *const nth[2] = { "1st", "2nd" };
    for (int i = 0; i < 2; i++) {
        if (!its[i].tuple) {
            m[2 * i] = m[2 * i + 1] = its[i].v[0];
            continue;
        }
        if (its[i].n != 2) {
            item_repr(&its[i], shown, sizeof shown);
            return sq_fail(err, "The `%s entry of %s` argument must be a tuple of 2 "
                           "integers. Received: %s", nth[i], what, shown);
        }
        m[2 * i] = its[i].v[0];
        m[2 * i + 1] = its[i].v[1];
    }
check:
    if (m[0] < 0 || m[1] < 0 || m[2] < 0 || m[3] < 0)
        return sq_fail(err, "%s: `%s` must not be negative, got ((%ld, %ld), (%ld, %ld))", kind,
                       what, m[0], m[1], m[2], m[3]);
    if (canon)
        snprintf(canon, n, "((%ld,%ld),(%ld,%ld))", m[0], m[1], m[2], m[3]);
    return 0;
}

void sq_copy_block(const float *src, long sh, long sw, long sy, long sx, float *dst, long dh,
                   long dw, long dy, long dx, long nb, long rows, long cols, long c)
{
    if (rows <= 0 || cols <= 0 || c <= 0)
        return;
    size_t sim = (size_t)(sh * sw * c), dim = (size_t)(dh * dw * c);
    size_t len = (size_t)(cols * c) * sizeof(float);
    for (long b = 0; b < nb; b++)
        for (long r = 0; r < rows; r++)
            memcpy(dst + (size_t)b * dim + (size_t)(((dy + r) * dw + dx) * c),
                   src + (size_t)b * sim + (size_t)(((sy + r) * sw + sx) * c), len);
}
