/* dragon4.c - the shortest digits that identify a float32, as numpy prints
 * them: a port of the Dragon4 algorithm as numpy uses it
 * (numpy/core/src/multiarray/dragon4.c) with a small unsigned big integer,
 * and numpy's FormatPositional / FormatScientific layouts (cutoffs,
 * minimum digits, trimming, padding). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "text/dragon4.h"

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


static int log2_u32(uint32_t v)
{
    int r = -1;
    while (v) {
        v >>= 1;
        r++;
    }
    return r;
}

void sq_f32_split(float f, f32parts *p)
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
int sq_format_positional(char *buf, const f32parts *p, int precision,
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
int sq_format_scientific(char *buf, const f32parts *p, int precision,
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

