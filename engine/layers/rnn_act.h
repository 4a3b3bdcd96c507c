/* rnn_act.h - the activations inside the recurrent cells, over rows of
 * units: sigmoid, tanh, hard_sigmoid, linear and relu inline (a Cephes-style
 * expf that compilers vectorise, about 2 ulp), any other Keras activation
 * through activation.c. Included by rnn_cells.c only. */
#ifndef SEQSH_RNN_ACT_H
#define SEQSH_RNN_ACT_H

#include <stdint.h>
#include <string.h>
#include "layers/rnn.h"

#define RNN_INLINE static inline __attribute__((always_inline))

/* e^x for x in about [-87, 88] (clamped): 2^n * p(r), n = round(x / ln 2),
 * r = x - n ln 2 in two parts, p Cephes expf's polynomial. Rounding by
 * adding and subtracting 1.5 * 2^23 keeps it to plain arithmetic. */
RNN_INLINE float rnn_expf(float x)
{
    x = x < -87.0f ? -87.0f : x > 88.0f ? 88.0f : x;
    float fn = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float r = x - fn * 0.693359375f;
    r = r + fn * 2.12194440e-4f;
    float r2 = r * r;
    float p = ((((1.9875691500e-4f * r + 1.3981999507e-3f) * r + 8.3334519073e-3f) * r
                + 4.1665795894e-2f) * r + 1.6666665459e-1f) * r + 5.0000001201e-1f;
    p = p * r2 + r + 1.0f;
    union { int32_t i; float f; } two = { .i = ((int32_t)fn + 127) << 23 };
    return p * two.f;
}

RNN_INLINE float rnn_sigmoidf(float x)
{
    return 1.0f / (1.0f + rnn_expf(-x));
}

/* Cephes tanhf: an odd polynomial below 0.625, 1 - 2 / (e^2|x| + 1) above. */
RNN_INLINE float rnn_tanhf(float x)
{
    float a = x < 0 ? -x : x;
    float s = x * x;
    float small = ((((-5.70498872745e-3f * s + 2.06390887954e-2f) * s - 5.37397155531e-2f) * s
                    + 1.33314422036e-1f) * s - 3.33332819422e-1f) * s * x + x;
    float big = 1.0f - 2.0f / (rnn_expf(a + a) + 1.0f);
    big = x < 0 ? -big : big;
    return a < 0.625f ? small : big;
}

/* y = act(z) over n values (y may be z). */
RNN_INLINE void rnn_act_fwd(rnn_act_fast fa, int a, const float *z, float *y, long n)
{
    switch (fa) {
    case RA_SIGMOID:
        for (long j = 0; j < n; j++)
            y[j] = rnn_sigmoidf(z[j]);
        return;
    case RA_TANH:
        for (long j = 0; j < n; j++)
            y[j] = rnn_tanhf(z[j]);
        return;
    case RA_HARD_SIGMOID:
        for (long j = 0; j < n; j++) {
            float v = 0.2f * z[j] + 0.5f;
            y[j] = v < 0 ? 0.0f : v > 1 ? 1.0f : v;
        }
        return;
    case RA_RELU:
        for (long j = 0; j < n; j++)
            y[j] = z[j] > 0 ? z[j] : 0.0f;
        return;
    case RA_LINEAR:
        if (y != z)
            memcpy(y, z, (size_t)n * sizeof *y);
        return;
    case RA_OTHER:
        if (y != z)
            memcpy(y, z, (size_t)n * sizeof *y);
        sq_activation_apply(a, y, (size_t)n, n);
        return;
    }
}

/* d *= act'(z), given y = act(z); the inline ones read y only (z may then
 * be y's storage). */
RNN_INLINE void rnn_act_bwd(rnn_act_fast fa, int a, const float *z, const float *y, float *d,
                            long n)
{
    switch (fa) {
    case RA_SIGMOID:
        for (long j = 0; j < n; j++)
            d[j] *= y[j] * (1.0f - y[j]);
        return;
    case RA_TANH:
        for (long j = 0; j < n; j++)
            d[j] *= 1.0f - y[j] * y[j];
        return;
    case RA_HARD_SIGMOID:
        /* 0.2 where 0.2 z + 0.5 is strictly inside (0, 1), as Keras's clip */
        for (long j = 0; j < n; j++)
            d[j] *= y[j] > 0 && y[j] < 1 ? 0.2f : 0.0f;
        return;
    case RA_RELU:
        for (long j = 0; j < n; j++)
            d[j] *= y[j] > 0 ? 1.0f : 0.0f;
        return;
    case RA_LINEAR:
        return;
    case RA_OTHER:
        sq_activation_backward(a, z, y, d, (size_t)n, n);
        return;
    }
}

#endif
