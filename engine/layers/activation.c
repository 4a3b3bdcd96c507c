/* activation.c - Keras's activation functions by their string names. */
#include <math.h>
#include <string.h>
#include "layers/layer.h"
#include "kernels/relu.h"

enum { A_LINEAR, A_RELU, A_SIGMOID, A_TANH, A_SOFTMAX, A_SOFTPLUS,
       A_SOFTSIGN, A_ELU, A_SELU, A_EXPONENTIAL, A_HARD_SIGMOID, A_SWISH,
       A_SILU, A_GELU, A_RELU6, A_LEAKY_RELU, A_LOG_SOFTMAX, A_COUNT };

static const char *const names[A_COUNT] = {
    "linear", "relu", "sigmoid", "tanh", "softmax", "softplus", "softsign",
    "elu", "selu", "exponential", "hard_sigmoid", "swish", "silu", "gelu",
    "relu6", "leaky_relu", "log_softmax",
};

int sq_activation_count(void) { return A_COUNT; }

const char *sq_activation_name(int i)
{
    return i >= 0 && i < A_COUNT ? names[i] : NULL;
}

int sq_activation_find(const char *name)
{
    for (int i = 0; i < A_COUNT; i++)
        if (strcmp(names[i], name) == 0)
            return i;
    return -1;
}

static float sigmoidf(float x)
{
    return x >= 0 ? 1.0f / (1.0f + expf(-x)) : expf(x) / (1.0f + expf(x));
}

/* Along rows of `last` values: softmax, or log_softmax when logp. */
static void softmax_rows(float *x, size_t n, long last, int logp)
{
    for (size_t r = 0; last > 0 && r < n / (size_t)last; r++) {
        float *v = x + r * (size_t)last;
        float mx = v[0];
        for (long j = 1; j < last; j++)
            if (v[j] > mx)
                mx = v[j];
        /* each exponential once (kept for rows of up to 64 values) */
        double sum = 0, e[64];
        int keep = !logp && last <= 64;
        for (long j = 0; j < last; j++) {
            double t = exp((double)v[j] - mx);
            if (keep)
                e[j] = t;
            sum += t;
        }
        if (logp) {
            float lse = mx + (float)log(sum);
            for (long j = 0; j < last; j++)
                v[j] -= lse;
        } else {
            for (long j = 0; j < last; j++)
                v[j] = (float)((keep ? e[j] : exp((double)v[j] - mx)) / sum);
        }
    }
}

void sq_activation_apply(int a, float *x, size_t n, long last)
{
    const float selu_alpha = 1.67326324f, selu_scale = 1.05070098f;
    switch (a) {
    case A_SOFTMAX: softmax_rows(x, n, last, 0); return;
    case A_LOG_SOFTMAX: softmax_rows(x, n, last, 1); return;
    case A_LINEAR: return;
    case A_RELU: sq_relu(x, n); return;
    default: break;
    }
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        switch (a) {
        case A_RELU: v = v > 0 ? v : 0; break;
        case A_SIGMOID: v = sigmoidf(v); break;
        case A_TANH: v = tanhf(v); break;
        case A_SOFTPLUS: v = v > 20 ? v : log1pf(expf(v)); break;
        case A_SOFTSIGN: v = v / (fabsf(v) + 1); break;
        case A_ELU: v = v > 0 ? v : expm1f(v); break;
        case A_SELU: v = v > 0 ? selu_scale * v : selu_scale * selu_alpha * expm1f(v); break;
        case A_EXPONENTIAL: v = expf(v); break;
        case A_HARD_SIGMOID: v = fminf(fmaxf(0.2f * v + 0.5f, 0), 1); break;
        case A_SWISH: case A_SILU: v = v * sigmoidf(v); break;
        case A_GELU: v = 0.5f * v * (1.0f + erff(v / sqrtf(2.0f))); break;
        case A_RELU6: v = fminf(fmaxf(v, 0), 6); break;
        case A_LEAKY_RELU: v = v >= 0 ? v : 0.2f * v; break;
        default: break;
        }
        x[i] = v;
    }
}

void sq_activation_backward(int a, const float *z, const float *y, float *dy,
                            size_t n, long last)
{
    const float selu_alpha = 1.67326324f, selu_scale = 1.05070098f;
    if (a == A_LINEAR)
        return;
    if (a == A_RELU) {
        sq_relu_grad(z, dy, n);
        return;
    }
    if (a == A_SOFTMAX || a == A_LOG_SOFTMAX) {
        for (size_t r = 0; last > 0 && r < n / (size_t)last; r++) {
            const float *yr = y + r * (size_t)last;
            float *g = dy + r * (size_t)last;
            double dot = 0;
            if (a == A_SOFTMAX) {
                for (long j = 0; j < last; j++)
                    dot += (double)g[j] * yr[j];
                for (long j = 0; j < last; j++)
                    g[j] = yr[j] * (g[j] - (float)dot);
            } else {
                for (long j = 0; j < last; j++)
                    dot += g[j];
                for (long j = 0; j < last; j++)
                    g[j] -= expf(yr[j]) * (float)dot;
            }
        }
        return;
    }
    for (size_t i = 0; i < n; i++) {
        float v = z[i], out = y[i], d;
        switch (a) {
        case A_RELU: d = v > 0 ? 1 : 0; break;
        case A_SIGMOID: d = out * (1 - out); break;
        case A_TANH: d = 1 - out * out; break;
        case A_SOFTPLUS: d = sigmoidf(v); break;
        case A_SOFTSIGN: { float t = 1 + fabsf(v); d = 1 / (t * t); break; }
        case A_ELU: d = v > 0 ? 1 : out + 1; break;
        case A_SELU: d = v > 0 ? selu_scale : out + selu_scale * selu_alpha; break;
        case A_EXPONENTIAL: d = out; break;
        case A_HARD_SIGMOID: d = v > -2.5f && v < 2.5f ? 0.2f : 0; break;
        case A_SWISH: case A_SILU: { float s = sigmoidf(v); d = s + v * s * (1 - s); break; }
        case A_GELU:
            d = 0.5f * (1.0f + erff(v / sqrtf(2.0f)))
                + v * expf(-0.5f * v * v) * 0.3989422804014327f;
            break;
        case A_RELU6: d = v > 0 && v < 6 ? 1 : 0; break;
        case A_LEAKY_RELU: d = v >= 0 ? 1 : 0.2f; break;
        default: d = 1; break;
        }
        dy[i] *= d;
    }
}
