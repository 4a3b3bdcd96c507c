/* winograd.h - 3x3 convolutions with unit strides by Winograd's minimal
 * filtering F(2x2, 3x3) (engine-internal). Each 2x2 block of outputs takes
 * 16 products per input channel and filter instead of 36: the 4x4 input
 * patch and the 3x3 kernel are transformed, multiplied position by
 * position (16 GEMMs over the channels), and the products transformed back.
 * Same geometry and Keras kernel layout as conv_kernels.h. */
#ifndef SEQSH_WINOGRAD_H
#define SEQSH_WINOGRAD_H

#include <stddef.h>
#include "kernels/conv_kernels.h"

/* Whether d runs by Winograd with variant isa: a 3x3 kernel, unit strides
 * and dilations, enough channels and filters for it to pay, AVX-512. */
int sq_wino_fits(sq_isa isa, const sq_conv_desc *d);
/* Floats of the transformed kernel (and padded bias) sq_wino_prepare writes. */
size_t sq_wino_scratch(const sq_conv_desc *d);
/* Floats of work space each thread running d needs. */
size_t sq_wino_work(const sq_conv_desc *d);
/* Rows of 2x2 tiles per output image: (oh + 1) / 2. */
long sq_wino_tile_rows(const sq_conv_desc *d);
/* Transforms d's kernel (and bias) into u (sq_wino_scratch(d) floats);
 * once per forward, before sq_wino_rows. */
void sq_wino_prepare(const sq_conv_desc *d, float *u);
/* Output rows [2 t0, 2 t1) (within oh) of one image: x is h*w*c, y is
 * oh*ow*f, u as prepared, work sq_wino_work(d) floats of the calling
 * thread's own. Bias and relu as d says. Reentrant. */
void sq_wino_rows(const sq_conv_desc *d, const float *u, const float *x, float *y, long t0,
                  long t1, float *work);

/* The kernel gradient by F(3x3, 2x2), for a d that sq_wino_fits: each 2x2
 * tile of dy and its 4x4 input patch give the tile's 3x3 contribution from
 * 16 products per channel and filter (36 direct). Partial sums: floats of
 * them (the transformed kernel gradient and the bias gradient). */
size_t sq_wino_dw_partial(const sq_conv_desc *d);
/* Adds images [b0, b1) of a batch (x: h*w*c per image, dy: oh*ow*f) to the
 * partial sums part (zeroed before the first), with work sq_wino_work(d)
 * floats of the calling thread's own. Reentrant for distinct part. */
void sq_wino_dw_images(const sq_conv_desc *d, const float *x, const float *dy, long b0, long b1,
                       float *part, float *work);
/* dw ((3, 3, c, f), Keras's layout) and, unless db is NULL, the bias
 * gradient (f) from the partial sums (the threads' added up). */
void sq_wino_dw_finish(const sq_conv_desc *d, const float *part, float *dw, float *db);

#endif
