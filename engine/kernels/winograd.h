/* winograd.h - 3x3 convolutions with unit strides by Winograd's minimal
 * filtering F(4x4, 3x3) (engine-internal). Each 4x4 block of outputs (a
 * tile) takes 36 products per input channel and filter instead of 144: the
 * 6x6 input patch and the 3x3 kernel are transformed, multiplied position
 * by position (36 GEMMs over the channels), and the products transformed
 * back.
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
/* 4x4 tiles per output image: ceil(oh / 4) * ceil(ow / 4). The tiles of a
 * batch are numbered image by image, row by row. */
long sq_wino_tiles(const sq_conv_desc *d);
/* Transforms d's kernel (and bias) into u (sq_wino_scratch(d) floats);
 * once per forward, before sq_wino_run. Shares the channels among the
 * threads when called outside a job, and runs on the calling thread alone
 * inside one. */
void sq_wino_prepare(const sq_conv_desc *d, float *u);
/* Tiles [t0, t1) of a batch: x is its input (h*w*c per image), y its
 * output (oh*ow*f per image), u as prepared, work sq_wino_work(d) floats of
 * the calling thread's own. Bias and relu as d says. Stops between chunks
 * once *intr (unless NULL) is set. Reentrant for disjoint tiles. */
void sq_wino_run(const sq_conv_desc *d, const float *u, const float *x, float *y, long t0,
                 long t1, float *work, volatile int *intr);

/* The kernel gradient by the same transforms, for a d that sq_wino_fits:
 * each 4x4 tile of dy and its 6x6 input patch give the tile's 3x3
 * contribution from 36 products per channel and filter (144 direct).
 * Partial sums: floats of them (the transformed kernel gradient and the
 * bias gradient). */
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
