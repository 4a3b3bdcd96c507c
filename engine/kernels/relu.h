/* relu.h - relu and its gradient over long arrays, vectorised where the CPU
 * allows (engine-internal); the same values as the scalar definitions. */
#ifndef SEQSH_RELU_H
#define SEQSH_RELU_H

#include <stddef.h>

/* x[i] = x[i] > 0 ? x[i] : 0 (NaN gives 0) */
void sq_relu(float *x, size_t n);
/* dy[i] *= z[i] > 0 ? 1 : 0 (so NaN or infinite dy stay NaN where z <= 0) */
void sq_relu_grad(const float *z, float *dy, size_t n);

#endif
