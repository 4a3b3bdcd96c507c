/* conv_kernels.h - direct channels-last 2-D convolution (engine-internal):
 * register-blocked over output pixels x filters, read straight from the
 * input and from the kernel in Keras's (kh, kw, C, F) layout, with the bias
 * and relu fused into the store. AVX-512 and AVX2 variants are chosen at run
 * time; the portable C variant runs everywhere. */
#ifndef SEQSH_CONV_KERNELS_H
#define SEQSH_CONV_KERNELS_H

#include <stddef.h>

typedef enum { SQ_ISA_C = 0, SQ_ISA_AVX2 = 1, SQ_ISA_AVX512 = 2 } sq_isa;

/* The best variant this CPU and OS support (SQ_ISA_C off x86-64). */
sq_isa sq_isa_supported(void);
/* The variant the layers use: the supported one, or a lower one named by
 * the SEQSH_ISA environment variable ("c", "avx2", "avx512"). */
sq_isa sq_isa_active(void);
/* Makes the layers use isa, or the best supported one below it; returns
 * the one chosen. For tests and benchmarks, between forward calls. */
sq_isa sq_isa_set_active(sq_isa isa);
const char *sq_isa_name(sq_isa isa);

/* One convolution's geometry; all lengths in elements. */
typedef struct {
    long h, w, c;              /* input rows, cols, channels */
    long oh, ow, f;            /* output rows, cols, filters */
    long kh, kw;               /* kernel rows, cols */
    long sh, sw;               /* strides */
    long dh, dw;               /* dilation rates */
    long pt, pl;               /* padding before the first row, col */
    const float *kernel;       /* (kh, kw, c, f), Keras's layout */
    const float *bias;         /* f values, or NULL */
    int relu;                  /* store max(0, sum) instead of sum */
    /* Filled by sq_conv_prepare: the last, partial, panel of filters
     * repacked with zero padding (in the caller's scratch). */
    const float *tail_w, *tail_b;
    long tail_f0;              /* first filter of the padded panel; f when none */
} sq_conv_desc;

/* Floats of scratch sq_conv_prepare needs for kernel dims kh x kw x c. */
size_t sq_conv_scratch(long kh, long kw, long c);
/* Readies d for variant isa (repacks the partial filter panel, if any,
 * into scratch). Call once per forward, before sq_conv_rows. */
void sq_conv_prepare(sq_isa isa, sq_conv_desc *d, float *scratch);
/* Floats of row buffer a thread running d needs so that windows poking out
 * of the input's sides cost no more than the others (0: none do). */
size_t sq_conv_rowbuf(const sq_conv_desc *d);
/* Output rows [oy0, oy1) of one image: x is h*w*c, y is oh*ow*f. rowbuf
 * has sq_conv_rowbuf(d) floats of the calling thread's own, or is NULL
 * (slower edges). Reentrant: threads may run disjoint rows of the same
 * prepared d. */
void sq_conv_rows(sq_isa isa, const sq_conv_desc *d, const float *x, float *y,
                  long oy0, long oy1, float *rowbuf);

/* ---- the kernel gradient (conv_dw.c) ----------------------------------- */

/* Whether sq_conv_dw_rows runs d with isa: AVX-512, and every window of d
 * inside the input (no padding). */
int sq_conv_dw_direct(sq_isa isa, const sq_conv_desc *d);
/* Rows of the kernel gradient a block holds; threads sharing rows should
 * split them at multiples of it. */
long sq_conv_dw_block(const sq_conv_desc *d);
/* Adds to rows [r0, r1) of dw ((kh*kw*c) x f, Keras's kernel layout) what
 * output rows [o0, o1) of a batch (numbered image by image: oh per image)
 * contribute to the kernel gradient: x is the batch's input (h*w*c per
 * image), dy its output gradient (oh*ow*f per image). Does nothing unless
 * sq_conv_dw_direct(isa, d). Reentrant: threads may run disjoint rows of
 * dw, or disjoint output rows into dw's of their own. */
void sq_conv_dw_rows(sq_isa isa, const sq_conv_desc *d, const float *x, const float *dy,
                     long o0, long o1, long r0, long r1, float *dw);

#endif
