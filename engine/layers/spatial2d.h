/* spatial2d.h - what the 2-D layer kinds share (engine-internal): the
 * checks Keras's Conv base class makes on its arguments, TensorFlow's
 * shape-inference error for a depthwise window larger than its input, the
 * margins argument of ZeroPadding2D and Cropping2D, and a block copy
 * between channels-last images. */
#ifndef SEQSH_SPATIAL2D_H
#define SEQSH_SPATIAL2D_H

#include <limits.h>
#include "layers/layer.h"

/* Python's repr of a 2-tuple of ints, "(3, 3)"; returns buf. */
const char *sq_pair_str(const long *v, char *buf, size_t n);

/* The checks of Keras's Conv.__init__ and _validate_init, in Keras's
 * order and with its messages: filters, padding, kernel_size, strides,
 * causal padding, dilation_rate, strides with dilation. filters is the
 * layer's, or SQ_NO_FILTERS for DepthwiseConv2D (Keras passes None). Sets
 * *same from padding. */
#define SQ_NO_FILTERS LONG_MIN  /* out of the options' int range */
int sq_conv_validate(long filters, const long *k, const long *s, const long *d,
                     const char *padding, int *same, sq_error *err);

/* "Current implementation only supports equal length strides in the row
 * and column dimensions." when s[0] != s[1] (TensorFlow's depthwise
 * convolution, which SeparableConv2D and DepthwiseConv2D run on). */
int sq_check_equal_strides(const long *s, sq_error *err);

/* A depthwise kernel of dk cells (dilated) on an axis of n cells of layer
 * l (class cls): TensorFlow's leading sentence ("Negative dimension size
 * caused by subtracting 3 from 2"), then what it means in this model,
 * never TensorFlow's graph node; k and d the kernel size and dilation. */
int sq_fail_depthwise_negative(sq_error *err, const sq_layer *l, const char *cls, long dk,
                               long n, const sq_shape *in, const long *k, const long *d);

/* The margins of ZeroPadding2D (what = "padding") and Cropping2D ("cropping"),
 * as Keras reads them: an int p (p on every side), (a, b) (a rows at top and
 * bottom, b cols left and right) or ((t, b), (l, r)), each entry of the pair
 * an int or a 2-tuple. Fills m = { t, b, l, r } and, when canon is not NULL,
 * canon with "((t,b),(l,r))" (the text that parses back to the same). Keras's
 * messages for the wrong number of entries; negative values are refused. */
int sq_parse_margins(const char *text, const char *kind, const char *what, long m[4],
                     char *canon, size_t n, sq_error *err);

/* Copies, for each of nb images, a block of rows x cols pixels of c
 * channels from src (images of sh x sw pixels) at (sy, sx) to dst (images
 * of dh x dw pixels) at (dy, dx). */
void sq_copy_block(const float *src, long sh, long sw, long sy, long sx, float *dst, long dh,
                   long dw, long dy, long dx, long nb, long rows, long cols, long c);

#endif
