/* dragon4.h - numpy's float32 digits and layouts (engine-internal). */
#ifndef SEQSH_DRAGON4_H
#define SEQSH_DRAGON4_H

#include <stdint.h>

enum { CUT_TOTAL, CUT_FRACTION };
enum { TRIM_NONE, TRIM_LEAVE_ONE_ZERO, TRIM_ZEROS, TRIM_DPT_ZEROS };

/* A float32 as Dragon4's inputs. */
typedef struct {
    uint32_t mantissa;
    int exponent;
    int mantissa_bit;
    int unequal;
    int negative;
    int special;        /* 0 finite, 1 inf, 2 nan */
} f32parts;

/* Splits a float32 into Dragon4's inputs. */
void sq_f32_split(float f, f32parts *p);
/* numpy's FormatPositional for a finite float (unique digits; precision
 * and min_digits < 0 for none). buf holds at least 160 bytes. Returns the
 * length. */
int sq_format_positional(char *buf, const f32parts *p, int precision,
                         int min_digits, int cutoff_mode, int trim,
                         int digits_left, int digits_right);
/* numpy's FormatScientific for a finite float. */
int sq_format_scientific(char *buf, const f32parts *p, int precision,
                         int min_digits, int trim, int digits_left,
                         int exp_digits);

#endif
