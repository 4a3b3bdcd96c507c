/* dw_kernels.h - direct channels-last depthwise 2-D convolution
 * (engine-internal), as tf.nn.depthwise_conv2d computes it: output channel
 * c*dm + m of a pixel sums input channel c over the window, weighted by
 * kernel (ky, kx, c, m). The forward pass has AVX-512, AVX2 and portable C
 * variants (sq_isa, as for the ordinary convolution), vectorised across
 * channels and register-blocked over neighbouring output pixels, with the
 * bias and relu fused; the backward pass is portable C, images shared by
 * the thread pool. */
#ifndef SEQSH_DW_KERNELS_H
#define SEQSH_DW_KERNELS_H

#include <stddef.h>
#include "kernels/conv_kernels.h"

/* One depthwise convolution's geometry; all lengths in elements. */
typedef struct {
    long h, w, c;              /* input rows, cols, channels */
    long oh, ow;               /* output rows, cols */
    long dm;                   /* depth multiplier: c*dm output channels */
    long kh, kw;               /* kernel rows, cols */
    long sh, sw;               /* strides */
    long dh, dw;               /* dilation rates */
    long pt, pl;               /* padding before the first row, col */
    const float *kernel;       /* (kh, kw, c, dm), Keras's layout */
    const float *bias;         /* c*dm values, or NULL */
    int relu;                  /* store max(0, sum) instead of sum */
} sq_dw_desc;

/* Floats of row buffer one thread running d needs: with dm > 1 the tap
 * rows of an output row are first spread to c*dm channels (0 when dm = 1). */
size_t sq_dw_rowbuf(const sq_dw_desc *d);
/* Output rows [oy0, oy1) of one image: x is h*w*c, y is oh*ow*c*dm.
 * rowbuf has sq_dw_rowbuf(d) floats of the calling thread's own (NULL when
 * that is 0). Reentrant: threads may run disjoint rows. */
void sq_dw_rows(sq_isa isa, const sq_dw_desc *d, const float *x, float *y, long oy0,
                long oy1, float *rowbuf);
/* The forward of a batch of nb images, x to y, its output rows shared by
 * up to `threads` threads (shares of ~0.5 MFLOP at least), each with its
 * row buffer in rowbufs (sq_dw_rowbuf(d) floats per thread); row by row,
 * stopping early, when *intr (intr may be NULL) may be set. */
void sq_dw_forward(const sq_dw_desc *d, long nb, const float *x, float *y, float *rowbufs,
                   int threads, volatile int *intr);

/* Floats of scratch sq_dw_backward needs when shared by up to nt threads. */
size_t sq_dw_bwd_scratch(const sq_dw_desc *d, int nt);
/* The gradients of nb images given dy (nb*oh*ow*c*dm): dx (nb*h*w*c, NULL
 * for none), dk (the kernel's shape) and db (c*dm; NULL when no bias), each
 * overwritten; dk NULL skips the weight gradients. d->relu is ignored (dy
 * is the gradient before the activation). At most nt threads. */
void sq_dw_backward(const sq_dw_desc *d, long nb, const float *x, const float *dy, float *dx,
                    float *dk, float *db, float *scratch, int nt);

#endif
