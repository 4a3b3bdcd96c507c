/* walk.h - stepping through the elements of a tensor in C order while
 * keeping an offset computed with other strides (engine-internal, for the
 * layers that permute, broadcast or reduce over chosen axes: Permute,
 * PReLU with shared_axes, LayerNormalization, Softmax on an inner axis).
 * Adjacent axes that are contiguous in the walked strides are merged, so
 * a walk over the last axes of a tensor costs one add per element. */
#ifndef SEQSH_WALK_H
#define SEQSH_WALK_H

#include "base/base.h"

typedef struct {
    int n;                       /* axes after merging */
    long dim[SQ_MAX_RANK];       /* their lengths, outermost first */
    long stride[SQ_MAX_RANK];    /* offset step per index of each */
    long idx[SQ_MAX_RANK];       /* the current position */
    long off;                    /* sum of idx[a] * stride[a] */
} sq_walk;

/* A walk over n axes of lengths dim (outermost first), offset stepping by
 * stride[a] along axis a; axes of length 1 are dropped and neighbours
 * with stride[a] == dim[a+1] * stride[a+1] merged. Starts at offset 0. */
static inline void sq_walk_init(sq_walk *w, int n, const long *dim, const long *stride)
{
    w->n = 0;
    w->off = 0;
    for (int a = 0; a < n; a++) {
        if (dim[a] == 1)
            continue;
        int k = w->n;
        if (k > 0 && w->stride[k - 1] == dim[a] * stride[a]) {
            w->dim[k - 1] *= dim[a];
            w->stride[k - 1] = stride[a];
            continue;
        }
        w->dim[k] = dim[a];
        w->stride[k] = stride[a];
        w->idx[k] = 0;
        w->n++;
    }
}

/* One element on, in C order over the walk's axes; after the last element
 * the walk is back at offset 0. */
static inline void sq_walk_next(sq_walk *w)
{
    for (int a = w->n - 1; a >= 0; a--) {
        w->off += w->stride[a];
        if (++w->idx[a] < w->dim[a])
            return;
        w->off -= w->stride[a] * w->dim[a];
        w->idx[a] = 0;
    }
}

/* The C-order strides of a shape of n axes. */
static inline void sq_walk_strides(int n, const long *dim, long *stride)
{
    long s = 1;
    for (int a = n - 1; a >= 0; a--) {
        stride[a] = s;
        s *= dim[a];
    }
}

#endif
