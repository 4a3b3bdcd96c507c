/* format.c - NumPy's str(array) for float32 tensors.
 *
 * Reproduces numpy 1.24's array2string with the default print options
 * (precision=8, threshold=1000, edgeitems=3, linewidth=75,
 * floatmode='maxprec', suppress=False, sign='-') for float32 data, and
 * str(np.float32(x)) for rank-0 tensors; whole numbers (class indices) as
 * NumPy prints an int64 array (IntegerFormat).
 *
 * The digits come from dragon4.c; the layout follows arrayprint.py's
 * FloatingFormat and _formatArray. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "base/base.h"
#include "text/dragon4.h"

/* ---- FloatingFormat --------------------------------------------------- */

#define ELEM_BUF 192

typedef struct {
    int integer;        /* whole numbers, as NumPy's IntegerFormat */
    int exp_format;
    int precision;
    int min_digits;
    int pad_left;
    int pad_right;
    int exp_size;
    int trim;
} float_format;

/* Visits every element shown by the summarised array. */
typedef struct {
    const sq_tensor *t;
    int summarise;
    long strides[SQ_MAX_RANK];
} walk_ctx;

/* Number of items shown along an axis of length n, and the k-th of them. */
static long shown_count(const walk_ctx *w, long n)
{
    return (w->summarise && n > 6) ? 6 : n;
}

static long shown_index(const walk_ctx *w, long n, long k)
{
    if (w->summarise && n > 6)
        return k < 3 ? k : n - 6 + k;
    return k;
}

typedef void (*visit_fn)(float v, void *arg);

static void walk(const walk_ctx *w, int axis, long offset, visit_fn fn,
                 void *arg)
{
    long n, cnt, k;
    if (axis == w->t->shape.rank) {
        fn(w->t->data[offset], arg);
        return;
    }
    n = w->t->shape.d[axis];
    cnt = shown_count(w, n);
    for (k = 0; k < cnt; k++)
        walk(w, axis + 1, offset + shown_index(w, n, k) * w->strides[axis],
             fn, arg);
}

typedef struct {
    int any_finite, any_nonfinite, any_neginf;
    float maxv, minv;   /* over finite nonzero abs values */
    int any_nonzero;
} stats_acc;

static void stats_visit(float v, void *arg)
{
    stats_acc *s = arg;
    if (isnan(v) || isinf(v)) {
        s->any_nonfinite = 1;
        if (isinf(v) && v < 0)
            s->any_neginf = 1;
        return;
    }
    s->any_finite = 1;
    if (v != 0) {
        float a = fabsf(v);
        if (!s->any_nonzero) {
            s->maxv = s->minv = a;
            s->any_nonzero = 1;
        } else {
            if (a > s->maxv)
                s->maxv = a;
            if (a < s->minv)
                s->minv = a;
        }
    }
}

typedef struct {
    int exp_format;
    int max_int, max_frac, max_exp; /* lengths from the first pass */
} pass_acc;

static void pass_visit(float v, void *arg)
{
    pass_acc *a = arg;
    f32parts p;
    char buf[ELEM_BUF];
    char *dot, *e;
    int len;

    sq_f32_split(v, &p);
    if (p.special)
        return;
    if (a->exp_format) {
        len = sq_format_scientific(buf, &p, 8, -1, TRIM_ZEROS, -1, -1);
        e = strchr(buf, 'e');
        dot = strchr(buf, '.');
        if ((int)(dot - buf) > a->max_int)
            a->max_int = (int)(dot - buf);
        if ((int)(e - dot - 1) > a->max_frac)
            a->max_frac = (int)(e - dot - 1);
        if ((int)(len - (e - buf) - 1) > a->max_exp)
            a->max_exp = (int)(len - (e - buf) - 1);
    } else {
        len = sq_format_positional(buf, &p, 8, -1, CUT_FRACTION, TRIM_ZEROS,
                                -1, -1);
        dot = strchr(buf, '.');
        if ((int)(dot - buf) > a->max_int)
            a->max_int = (int)(dot - buf);
        if ((int)(len - (dot - buf) - 1) > a->max_frac)
            a->max_frac = (int)(len - (dot - buf) - 1);
    }
}

static void fill_format(const walk_ctx *w, float_format *ff)
{
    stats_acc s;
    pass_acc a;

    memset(&s, 0, sizeof s);
    walk(w, 0, 0, stats_visit, &s);

    ff->exp_format = 0;
    if (s.any_nonzero) {
        float ratio = s.maxv / s.minv; /* float32 division, as numpy */
        if ((double)s.maxv >= 1.e8 || (double)s.minv < 0.0001 ||
            (double)ratio > 1000.)
            ff->exp_format = 1;
    }

    if (!s.any_finite) {
        ff->pad_left = 0;
        ff->pad_right = 0;
        ff->trim = TRIM_ZEROS;
        ff->exp_size = -1;
        ff->precision = 8;
        ff->min_digits = -1;
    } else {
        memset(&a, 0, sizeof a);
        a.exp_format = ff->exp_format;
        walk(w, 0, 0, pass_visit, &a);
        if (ff->exp_format) {
            ff->exp_size = a.max_exp - 1;
            ff->trim = TRIM_NONE;
            ff->precision = a.max_frac;
            ff->min_digits = a.max_frac;
            ff->pad_left = a.max_int;
            ff->pad_right = ff->exp_size + 2 + ff->precision;
        } else {
            ff->pad_left = a.max_int;
            ff->pad_right = a.max_frac;
            ff->exp_size = -1;
            ff->precision = 8;
            ff->trim = TRIM_ZEROS;
            ff->min_digits = 0;
        }
    }

    if (s.any_nonfinite) {
        int offset = ff->pad_right + 1;
        int nanlen = 3, inflen = 3 + s.any_neginf;
        if (nanlen - offset > ff->pad_left)
            ff->pad_left = nanlen - offset;
        if (inflen - offset > ff->pad_left)
            ff->pad_left = inflen - offset;
    }
}

static int format_element(const float_format *ff, float v, char *buf)
{
    if (ff->integer)
        return snprintf(buf, ELEM_BUF, "%*lld", ff->pad_left, (long long)v);
    f32parts p;
    sq_f32_split(v, &p);
    if (p.special) {
        const char *ret = p.special == 2 ? "nan" : (p.negative ? "-inf"
                                                               : "inf");
        int len = (int)strlen(ret);
        int pad = ff->pad_left + ff->pad_right + 1 - len, pos = 0;
        while (pad-- > 0)
            buf[pos++] = ' ';
        memcpy(buf + pos, ret, (size_t)len + 1);
        return pos + len;
    }
    if (ff->exp_format)
        return sq_format_scientific(buf, &p, ff->precision, ff->min_digits,
                                 ff->trim, ff->pad_left, ff->exp_size);
    return sq_format_positional(buf, &p, ff->precision, ff->min_digits,
                             CUT_FRACTION, ff->trim, ff->pad_left,
                             ff->pad_right);
}

/* ---- growable strings -------------------------------------------------- */

typedef struct {
    char *p;
    size_t len, cap;
    int oom;
} fbuf;

static int fb_reserve(fbuf *s, size_t extra)
{
    size_t need;
    char *np;
    if (s->oom)
        return -1;
    need = s->len + extra + 1;
    if (need <= s->cap)
        return 0;
    {
        size_t cap = s->cap ? s->cap : 64;
        while (cap < need)
            cap *= 2;
        np = sq_realloc(s->p, cap);
        if (!np) {
            s->oom = 1;
            return -1;
        }
        s->p = np;
        s->cap = cap;
    }
    return 0;
}

static void fb_add(fbuf *s, const char *str, size_t n)
{
    if (fb_reserve(s, n))
        return;
    memcpy(s->p + s->len, str, n);
    s->len += n;
    s->p[s->len] = '\0';
}

static void fb_chars(fbuf *s, char c, size_t n)
{
    if (fb_reserve(s, n))
        return;
    memset(s->p + s->len, c, n);
    s->len += n;
    s->p[s->len] = '\0';
}

static void fb_free(fbuf *s)
{
    free(s->p);
    s->p = NULL;
    s->len = s->cap = 0;
}

/* ---- _formatArray -------------------------------------------------------- */

#define LINE_WIDTH 75

typedef struct {
    const walk_ctx *w;
    const float_format *ff;
} fmt_ctx;

/* _extendLine: word is always a single line here. */
static void extend_line(fbuf *s, fbuf *line, const char *word, size_t wlen,
                        size_t line_width, size_t indent)
{
    if (line->len + wlen > line_width && line->len > indent) {
        size_t n = line->len;
        while (n > 0 && (line->p[n - 1] == ' ' || line->p[n - 1] == '\t' ||
                         line->p[n - 1] == '\n'))
            n--;
        fb_add(s, line->p, n);
        fb_add(s, "\n", 1);
        line->len = 0;
        fb_chars(line, ' ', indent);
    }
    fb_add(line, word, wlen);
}

/* recurser(): appends the text for the sub-array at `offset` (axis `axis`)
 * into out, with hanging indent `indent` and width `width`. */
static void recurse(const fmt_ctx *c, int axis, long offset, size_t indent,
                    long width, fbuf *out)
{
    const sq_tensor *t = c->w->t;
    int rank = t->shape.rank, axes_left = rank - axis;
    long n = t->shape.d[axis];
    long cnt = shown_count(c->w, n), k;
    int summary = cnt != n;
    long stride = c->w->strides[axis];
    fbuf s = {0};

    if (axes_left == 1) {
        size_t elem_width = width > 1 ? (size_t)(width - 1) : 0;
        fbuf line = {0};
        char word[ELEM_BUF];
        fb_chars(&line, ' ', indent);
        if (line.oom) {
            out->oom = 1;
            return;
        }
        for (k = 0; k < cnt; k++) {
            long idx = shown_index(c->w, n, k);
            int wl = format_element(c->ff, t->data[offset + idx * stride],
                                    word);
            extend_line(&s, &line, word, (size_t)wl, elem_width, indent);
            if (k != cnt - 1)
                fb_add(&line, " ", 1);
            if (summary && k == 2) {
                extend_line(&s, &line, "...", 3, elem_width, indent);
                fb_add(&line, " ", 1);
            }
        }
        fb_add(&s, line.p, line.len);
        if (line.oom)
            s.oom = 1;
        fb_free(&line);
    } else {
        for (k = 0; k < cnt; k++) {
            long idx = shown_index(c->w, n, k);
            fb_chars(&s, ' ', indent);
            recurse(c, axis + 1, offset + idx * stride, indent + 1,
                    width - 1, &s);
            if (k != cnt - 1)
                fb_chars(&s, '\n', (size_t)(axes_left - 1));
            if (summary && k == 2) {
                fb_chars(&s, ' ', indent);
                fb_add(&s, "...", 3);
                fb_chars(&s, '\n', (size_t)(axes_left - 1));
            }
        }
    }

    if (s.oom) {
        out->oom = 1;
        fb_free(&s);
        return;
    }
    fb_add(out, "[", 1);
    if (s.len > indent)
        fb_add(out, s.p + indent, s.len - indent);
    fb_add(out, "]", 1);
    fb_free(&s);
}

/* ---- rank 0: str(np.float32(x)) ----------------------------------------- */

void sq_float32_str(float v, char *buf)
{
    f32parts p;
    double a;

    sq_f32_split(v, &p);
    if (p.special == 2)
        strcpy(buf, "nan");
    else if (p.special == 1)
        strcpy(buf, p.negative ? "-inf" : "inf");
    else {
        a = fabs((double)v);
        if (a == 0 || (1.e-4 <= a && a < 1.e16))
            sq_format_positional(buf, &p, -1, -1, CUT_TOTAL,
                              TRIM_LEAVE_ONE_ZERO, -1, -1);
        else
            sq_format_scientific(buf, &p, -1, -1, TRIM_DPT_ZEROS, -1, -1);
    }
}

static char *format_scalar(float v)
{
    char buf[ELEM_BUF];
    sq_float32_str(v, buf);
    size_t n = strlen(buf);
    char *r = sq_malloc(n + 1);
    if (r)
        memcpy(r, buf, n + 1);
    return r;
}

/* IntegerFormat: every shown value right-aligned to the widest of the
 * shown largest and smallest. */
typedef struct {
    int any;
    long long maxv, minv;
} int_acc;

static void int_visit(float v, void *arg)
{
    int_acc *a = arg;
    long long x = (long long)v;
    if (!a->any || x > a->maxv)
        a->maxv = x;
    if (!a->any || x < a->minv)
        a->minv = x;
    a->any = 1;
}

/* ---- public ---------------------------------------------------------------- */

static char *format_tensor(const sq_tensor *t, int integer);

char *sq_tensor_format(const sq_tensor *t)
{
    return format_tensor(t, 0);
}

char *sq_tensor_format_int(const sq_tensor *t)
{
    return format_tensor(t, 1);
}

static char *format_tensor(const sq_tensor *t, int integer)
{
    walk_ctx w;
    float_format ff;
    fmt_ctx c;
    fbuf out = {0};
    size_t size = 1;
    int i;

    if (t->shape.rank == 0 && integer) {
        char buf[32];
        snprintf(buf, sizeof buf, "%lld", (long long)t->data[0]);
        return sq_strdup(buf);
    }
    if (t->shape.rank == 0)
        return format_scalar(t->data[0]);

    for (i = 0; i < t->shape.rank; i++)
        size *= (size_t)t->shape.d[i];
    if (size == 0) {
        char *r = sq_malloc(3);
        if (r)
            memcpy(r, "[]", 3);
        return r;
    }

    w.t = t;
    w.summarise = size > 1000;
    w.strides[t->shape.rank - 1] = 1;
    for (i = t->shape.rank - 2; i >= 0; i--)
        w.strides[i] = w.strides[i + 1] * t->shape.d[i + 1];

    memset(&ff, 0, sizeof ff);
    if (integer) {
        int_acc a = { 0, 0, 0 };
        char lo[32], hi[32];
        walk(&w, 0, 0, int_visit, &a);
        int nl = snprintf(lo, sizeof lo, "%lld", a.minv);
        int nh = snprintf(hi, sizeof hi, "%lld", a.maxv);
        ff.integer = 1;
        ff.pad_left = nl > nh ? nl : nh;
    } else {
        fill_format(&w, &ff);
    }
    c.w = &w;
    c.ff = &ff;
    recurse(&c, 0, 0, 1, LINE_WIDTH, &out);
    if (out.oom) {
        fb_free(&out);
        return NULL;
    }
    return out.p;
}

