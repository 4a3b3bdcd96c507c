/* format.c - NumPy's str(array) for float32 tensors.
 *
 * Reproduces numpy 1.24's array2string with the default print options
 * (precision=8, threshold=1000, edgeitems=3, linewidth=75,
 * floatmode='maxprec', suppress=False, sign='-') for float32 data, and
 * str(np.float32(x)) for rank-0 tensors.
 *
 * The digit generation is a port of the Dragon4 algorithm as numpy uses it
 * (numpy/core/src/multiarray/dragon4.c): shortest unique digits with IEEE
 * unbiased boundaries, an optional maximum cutoff (precision) and minimum
 * digit count (min_digits), then numpy's positional / scientific layout,
 * trimming and padding.  Layout follows arrayprint.py's FloatingFormat and
 * _formatArray. */
#include "model.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- a small unsigned big integer ------------------------------------ */

/* float32 needs at most ~2^330 during Dragon4; 24 blocks are plenty. */
#define BN_BLOCKS 24

typedef struct {
    int len;                    /* used blocks; 0 means zero */
    uint32_t b[BN_BLOCKS];
} bn;

static void bn_set(bn *x, uint32_t v)
{
    x->b[0] = v;
    x->len = v ? 1 : 0;
}

static void bn_trim(bn *x)
{
    while (x->len > 0 && x->b[x->len - 1] == 0)
        x->len--;
}

static void bn_shl(bn *x, int shift)
{
    int blocks = shift / 32, bits = shift % 32, i;
    if (x->len == 0 || shift == 0)
        return;
    if (bits == 0) {
        for (i = x->len - 1; i >= 0; i--)
            x->b[i + blocks] = x->b[i];
        x->len += blocks;
    } else {
        x->b[x->len + blocks] = 0;
        for (i = x->len - 1; i >= 0; i--) {
            x->b[i + blocks + 1] |= x->b[i] >> (32 - bits);
            x->b[i + blocks] = x->b[i] << bits;
        }
        x->len += blocks + 1;
    }
    for (i = 0; i < blocks; i++)
        x->b[i] = 0;
    bn_trim(x);
}

static void bn_pow2(bn *x, int e)
{
    bn_set(x, 1);
    bn_shl(x, e);
}

static void bn_mul_small(bn *x, uint32_t m)
{
    uint64_t carry = 0;
    int i;
    for (i = 0; i < x->len; i++) {
        uint64_t p = (uint64_t)x->b[i] * m + carry;
        x->b[i] = (uint32_t)p;
        carry = p >> 32;
    }
    if (carry)
        x->b[x->len++] = (uint32_t)carry;
}

static void bn_mul_pow10(bn *x, int n)
{
    while (n >= 9) {
        bn_mul_small(x, 1000000000u);
        n -= 9;
    }
    {
        uint32_t m = 1;
        while (n-- > 0)
            m *= 10;
        if (m != 1)
            bn_mul_small(x, m);
    }
}

static int bn_cmp(const bn *x, const bn *y)
{
    int i;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    for (i = x->len - 1; i >= 0; i--)
        if (x->b[i] != y->b[i])
            return x->b[i] < y->b[i] ? -1 : 1;
    return 0;
}

static void bn_add(bn *r, const bn *x, const bn *y)
{
    const bn *lo = x->len < y->len ? x : y, *hi = x->len < y->len ? y : x;
    uint64_t carry = 0;
    int i;
    for (i = 0; i < hi->len; i++) {
        uint64_t s = (uint64_t)hi->b[i] + (i < lo->len ? lo->b[i] : 0) + carry;
        r->b[i] = (uint32_t)s;
        carry = s >> 32;
    }
    r->len = hi->len;
    if (carry)
        r->b[r->len++] = (uint32_t)carry;
}

/* x -= y, requires x >= y */
static void bn_sub(bn *x, const bn *y)
{
    uint64_t borrow = 0;
    int i;
    for (i = 0; i < x->len; i++) {
        uint64_t d = (uint64_t)x->b[i] - (i < y->len ? y->b[i] : 0) - borrow;
        x->b[i] = (uint32_t)d;
        borrow = (d >> 32) & 1;
    }
    bn_trim(x);
}

/* q = floor(x / y) for a quotient known to be < 10; x becomes x mod y. */
static uint32_t bn_divmod_digit(bn *x, const bn *y)
{
    uint32_t q = 0;
    while (bn_cmp(x, y) >= 0) {
        bn_sub(x, y);
        q++;
    }
    return q;
}

/* ---- Dragon4 (unique digit mode only) -------------------------------- */

enum { CUT_TOTAL, CUT_FRACTION };
enum { TRIM_NONE, TRIM_LEAVE_ONE_ZERO, TRIM_ZEROS, TRIM_DPT_ZEROS };

#define DIGIT_BUF 64

/* Digits of mantissa * 2^exponent into out (no NUL); returns the count and
 * sets *out_exp to the base-10 exponent of the first digit. */
static int dragon4(uint32_t mantissa, int exponent, int mantissa_bit,
                   int unequal_margins, int cutoff_mode, int cutoff_max,
                   int cutoff_min, char *out, int *out_exp)
{
    const double log10_2 = 0.30102999566398119521373889472449;
    const int buffer_size = DIGIT_BUF;
    bn scale, value, mlow, mhigh, vhigh;
    int digit_exp, cut_max_exp, cut_min_exp, low, high, round_down;
    int is_even = (mantissa & 1) == 0;
    uint32_t digit;
    char *cur = out;

    if (mantissa == 0) {
        out[0] = '0';
        *out_exp = 0;
        return 1;
    }

    bn_set(&value, mantissa);
    if (unequal_margins) {
        if (exponent > 0) {
            bn_shl(&value, exponent + 2);
            bn_set(&scale, 4);
            bn_pow2(&mlow, exponent);
        } else {
            bn_shl(&value, 2);
            bn_pow2(&scale, -exponent + 2);
            bn_set(&mlow, 1);
        }
    } else {
        if (exponent > 0) {
            bn_shl(&value, exponent + 1);
            bn_set(&scale, 2);
            bn_pow2(&mlow, exponent);
        } else {
            bn_shl(&value, 1);
            bn_pow2(&scale, -exponent + 1);
            bn_set(&mlow, 1);
        }
    }

    digit_exp = (int)ceil((double)(mantissa_bit + exponent) * log10_2 - 0.69);
    if (cutoff_max >= 0 && cutoff_mode == CUT_FRACTION &&
        digit_exp <= -cutoff_max)
        digit_exp = -cutoff_max + 1;

    if (digit_exp > 0) {
        bn_mul_pow10(&scale, digit_exp);
    } else if (digit_exp < 0) {
        bn_mul_pow10(&value, -digit_exp);
        bn_mul_pow10(&mlow, -digit_exp);
    }

    if (bn_cmp(&value, &scale) >= 0) {
        digit_exp++;
    } else {
        bn_mul_small(&value, 10);
        bn_mul_small(&mlow, 10);
    }

    cut_max_exp = digit_exp - buffer_size;
    if (cutoff_max >= 0) {
        int want = cutoff_mode == CUT_TOTAL ? digit_exp - cutoff_max
                                            : -cutoff_max;
        if (want > cut_max_exp)
            cut_max_exp = want;
    }
    cut_min_exp = digit_exp;
    if (cutoff_min >= 0) {
        int want = cutoff_mode == CUT_TOTAL ? digit_exp - cutoff_min
                                            : -cutoff_min;
        if (want < cut_min_exp)
            cut_min_exp = want;
    }

    *out_exp = digit_exp - 1;

    for (;;) {
        int cmp;
        digit_exp--;
        digit = bn_divmod_digit(&value, &scale);
        mhigh = mlow;
        if (unequal_margins)
            bn_mul_small(&mhigh, 2);
        bn_add(&vhigh, &value, &mhigh);
        cmp = bn_cmp(&value, &mlow);
        low = is_even ? (cmp <= 0) : (cmp < 0);
        cmp = bn_cmp(&vhigh, &scale);
        high = is_even ? (cmp >= 0) : (cmp > 0);
        if (((low | high) & (digit_exp <= cut_min_exp)) |
            (digit_exp == cut_max_exp))
            break;
        *cur++ = (char)('0' + digit);
        bn_mul_small(&value, 10);
        bn_mul_small(&mlow, 10);
    }

    round_down = low;
    if (low == high) {
        int compare;
        bn_mul_small(&value, 2);
        compare = bn_cmp(&value, &scale);
        round_down = compare < 0;
        if (compare == 0)
            round_down = (digit & 1) == 0;
    }

    if (round_down) {
        *cur++ = (char)('0' + digit);
    } else if (digit == 9) {
        for (;;) {
            if (cur == out) {
                *cur++ = '1';
                *out_exp += 1;
                break;
            }
            --cur;
            if (*cur != '9') {
                *cur += 1;
                ++cur;
                break;
            }
        }
    } else {
        *cur++ = (char)('0' + digit + 1);
    }
    return (int)(cur - out);
}

/* Splits a float32 into Dragon4's inputs. Returns 0 for finite values. */
typedef struct {
    uint32_t mantissa;
    int exponent;
    int mantissa_bit;
    int unequal;
    int negative;
    int special;        /* 0 finite, 1 inf, 2 nan */
} f32parts;

static int log2_u32(uint32_t v)
{
    int r = -1;
    while (v) {
        v >>= 1;
        r++;
    }
    return r;
}

static void f32_split(float f, f32parts *p)
{
    uint32_t bits, fm, fe;
    memcpy(&bits, &f, sizeof bits);
    fm = bits & 0x7FFFFFu;
    fe = (bits >> 23) & 0xFFu;
    p->negative = (int)(bits >> 31);
    p->special = 0;
    if (fe == 0xFF) {
        p->special = fm == 0 ? 1 : 2;
        p->mantissa = 0;
        p->exponent = 0;
        p->mantissa_bit = 0;
        p->unequal = 0;
        return;
    }
    if (fe != 0) {
        p->mantissa = (1u << 23) | fm;
        p->exponent = (int)fe - 127 - 23;
        p->mantissa_bit = 23;
        p->unequal = (fe != 1) && (fm == 0);
    } else {
        p->mantissa = fm;
        p->exponent = 1 - 127 - 23;
        p->mantissa_bit = fm ? log2_u32(fm) : 0;
        p->unequal = 0;
    }
}

/* numpy's FormatPositional for a finite float (fractional cutoff, unique).
 * buf must hold at least 160 bytes. Returns the length. */
static int format_positional(char *buf, const f32parts *p, int precision,
                             int min_digits, int cutoff_mode, int trim,
                             int digits_left, int digits_right)
{
    char digits[DIGIT_BUF + 8];
    int pos = 0, has_sign = 0, num_digits, print_exp, i;
    int whole = 0, frac = 0, add_digits, desired;

    if (p->negative) {
        buf[pos++] = '-';
        has_sign = 1;
    }
    num_digits = dragon4(p->mantissa, p->exponent, p->mantissa_bit,
                         p->unequal, cutoff_mode, precision, min_digits,
                         digits, &print_exp);

    if (print_exp >= 0) {
        whole = print_exp + 1;
        if (num_digits <= whole) {
            memcpy(buf + pos, digits, (size_t)num_digits);
            pos += num_digits;
            for (i = num_digits; i < whole; i++)
                buf[pos++] = '0';
        } else {
            frac = num_digits - whole;
            memcpy(buf + pos, digits, (size_t)whole);
            pos += whole;
            buf[pos++] = '.';
            memcpy(buf + pos, digits + whole, (size_t)frac);
            pos += frac;
        }
    } else {
        int zeros = -(print_exp + 1);
        buf[pos++] = '0';
        buf[pos++] = '.';
        for (i = 0; i < zeros; i++)
            buf[pos++] = '0';
        memcpy(buf + pos, digits, (size_t)num_digits);
        pos += num_digits;
        frac = num_digits + zeros;
        whole = 1;
    }

    if (trim != TRIM_DPT_ZEROS && frac == 0)
        buf[pos++] = '.';

    add_digits = min_digits; /* unique mode */
    desired = add_digits < 0 ? 0 : add_digits;
    if (cutoff_mode == CUT_TOTAL)
        desired = add_digits - whole;

    if (trim == TRIM_LEAVE_ONE_ZERO) {
        if (frac == 0) {
            buf[pos++] = '0';
            frac++;
        }
    } else if (trim == TRIM_NONE && desired > frac) {
        int count = desired - frac;
        frac += count;
        while (count-- > 0)
            buf[pos++] = '0';
    }

    if (trim != TRIM_NONE && frac > 0) {
        while (buf[pos - 1] == '0') {
            pos--;
            frac--;
        }
        if (buf[pos - 1] == '.') {
            if (trim == TRIM_LEAVE_ONE_ZERO) {
                buf[pos++] = '0';
                frac++;
            } else if (trim == TRIM_DPT_ZEROS) {
                pos--;
            }
        }
    }

    if (digits_right >= frac) {
        int count = digits_right - frac;
        if (trim == TRIM_DPT_ZEROS && frac == 0)
            buf[pos++] = ' ';
        while (count-- > 0)
            buf[pos++] = ' ';
    }
    if (digits_left > whole + has_sign) {
        int shift = digits_left - (whole + has_sign);
        memmove(buf + shift, buf, (size_t)pos);
        for (i = 0; i < shift; i++)
            buf[i] = ' ';
        pos += shift;
    }
    buf[pos] = '\0';
    return pos;
}

/* numpy's FormatScientific for a finite float (unique digit mode). */
static int format_scientific(char *buf, const f32parts *p, int precision,
                             int min_digits, int trim, int digits_left,
                             int exp_digits)
{
    char digits[DIGIT_BUF + 8];
    int pos = 0, num_digits, print_exp, frac, add_digits, i;
    int leftchars = 1 + (p->negative ? 1 : 0);
    int ed[5], exp_size;

    if (digits_left > leftchars)
        for (i = 0; i < digits_left - leftchars; i++)
            buf[pos++] = ' ';
    if (p->negative)
        buf[pos++] = '-';

    num_digits = dragon4(p->mantissa, p->exponent, p->mantissa_bit,
                         p->unequal, CUT_TOTAL,
                         precision < 0 ? -1 : precision + 1,
                         min_digits < 0 ? -1 : min_digits + 1,
                         digits, &print_exp);

    buf[pos++] = digits[0];
    frac = num_digits - 1;
    if (frac > 0) {
        buf[pos++] = '.';
        memcpy(buf + pos, digits + 1, (size_t)frac);
        pos += frac;
    }
    if (trim != TRIM_DPT_ZEROS && frac == 0)
        buf[pos++] = '.';

    add_digits = min_digits < 0 ? 0 : min_digits;
    if (trim == TRIM_LEAVE_ONE_ZERO) {
        if (frac == 0) {
            buf[pos++] = '0';
            frac++;
        }
    } else if (trim == TRIM_NONE) {
        while (add_digits > frac) {
            buf[pos++] = '0';
            frac++;
        }
    }

    if (trim != TRIM_NONE && frac > 0) {
        while (buf[pos - 1] == '0') {
            pos--;
            frac--;
        }
        if (trim == TRIM_LEAVE_ONE_ZERO && buf[pos - 1] == '.') {
            buf[pos++] = '0';
            frac++;
        }
    }

    if (exp_digits > 5)
        exp_digits = 5;
    if (exp_digits < 0)
        exp_digits = 2;
    buf[pos++] = 'e';
    if (print_exp >= 0) {
        buf[pos++] = '+';
    } else {
        buf[pos++] = '-';
        print_exp = -print_exp;
    }
    for (i = 0; i < 5; i++) {
        ed[i] = print_exp % 10;
        print_exp /= 10;
    }
    for (i = 5; i > exp_digits && ed[i - 1] == 0; i--)
        ;
    exp_size = i;
    for (i = exp_size; i > 0; i--)
        buf[pos++] = (char)('0' + ed[i - 1]);
    buf[pos] = '\0';
    return pos;
}

/* ---- FloatingFormat --------------------------------------------------- */

#define ELEM_BUF 192

typedef struct {
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

    f32_split(v, &p);
    if (p.special)
        return;
    if (a->exp_format) {
        len = format_scientific(buf, &p, 8, -1, TRIM_ZEROS, -1, -1);
        e = strchr(buf, 'e');
        dot = strchr(buf, '.');
        if ((int)(dot - buf) > a->max_int)
            a->max_int = (int)(dot - buf);
        if ((int)(e - dot - 1) > a->max_frac)
            a->max_frac = (int)(e - dot - 1);
        if ((int)(len - (e - buf) - 1) > a->max_exp)
            a->max_exp = (int)(len - (e - buf) - 1);
    } else {
        len = format_positional(buf, &p, 8, -1, CUT_FRACTION, TRIM_ZEROS,
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
    f32parts p;
    f32_split(v, &p);
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
        return format_scientific(buf, &p, ff->precision, ff->min_digits,
                                 ff->trim, ff->pad_left, ff->exp_size);
    return format_positional(buf, &p, ff->precision, ff->min_digits,
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

static char *format_scalar(float v)
{
    f32parts p;
    char buf[ELEM_BUF];
    double a;

    f32_split(v, &p);
    if (p.special == 2)
        strcpy(buf, "nan");
    else if (p.special == 1)
        strcpy(buf, p.negative ? "-inf" : "inf");
    else {
        a = fabs((double)v);
        if (a == 0 || (1.e-4 <= a && a < 1.e16))
            format_positional(buf, &p, -1, -1, CUT_TOTAL,
                              TRIM_LEAVE_ONE_ZERO, -1, -1);
        else
            format_scientific(buf, &p, -1, -1, TRIM_DPT_ZEROS, -1, -1);
    }
    {
        size_t n = strlen(buf);
        char *r = sq_malloc(n + 1);
        if (r)
            memcpy(r, buf, n + 1);
        return r;
    }
}

/* ---- public ---------------------------------------------------------------- */

char *sq_tensor_format(const sq_tensor *t)
{
    walk_ctx w;
    float_format ff;
    fmt_ctx c;
    fbuf out = {0};
    size_t size = 1;
    int i;

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

    fill_format(&w, &ff);
    c.w = &w;
    c.ff = &ff;
    recurse(&c, 0, 0, 1, LINE_WIDTH, &out);
    if (out.oom) {
        fb_free(&out);
        return NULL;
    }
    return out.p;
}
