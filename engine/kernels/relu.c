/* relu.c - relu and its gradient over long arrays. The scalar loops compile
 * to branches that mispredict on relu's coin-toss signs; MAXPS and a
 * compare-and-mask give the same values without them. */
#include "kernels/relu.h"
#include "kernels/conv_kernels.h"
#include "kernels/threads.h"

#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
#define RELU_X86 1
#include <immintrin.h>
#endif

#ifdef RELU_X86
/* MAXPS(x, 0) returns its second operand unless x > 0: 0 for NaN and -0. */
__attribute__((target("avx512f")))
static void relu_z(float *x, size_t n)
{
    __m512 z = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(x + i, _mm512_max_ps(_mm512_loadu_ps(x + i), z));
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(x + i, m, _mm512_max_ps(_mm512_maskz_loadu_ps(m, x + i), z));
    }
}

__attribute__((target("avx512f")))
static void relu_grad_z(const float *z, float *dy, size_t n)
{
    __m512 zero = _mm512_setzero_ps(), one = _mm512_set1_ps(1.0f);
    size_t i = 0;
    for (; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
        __m512 zv = _mm512_maskz_loadu_ps(m, z + i);
        __mmask16 pos = _mm512_cmp_ps_mask(zv, zero, _CMP_GT_OQ);
        __m512 f = _mm512_mask_mov_ps(zero, pos, one);
        _mm512_mask_storeu_ps(dy + i, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, dy + i), f));
    }
}

__attribute__((target("avx2")))
static void relu_y(float *x, size_t n)
{
    __m256 z = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(x + i, _mm256_max_ps(_mm256_loadu_ps(x + i), z));
    for (; i < n; i++)
        _mm_store_ss(x + i, _mm_max_ss(_mm_load_ss(x + i), _mm_setzero_ps()));
}

__attribute__((target("avx2")))
static void relu_grad_y(const float *z, float *dy, size_t n)
{
    __m256 zero = _mm256_setzero_ps(), one = _mm256_set1_ps(1.0f);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 f = _mm256_and_ps(_mm256_cmp_ps(_mm256_loadu_ps(z + i), zero, _CMP_GT_OQ), one);
        _mm256_storeu_ps(dy + i, _mm256_mul_ps(_mm256_loadu_ps(dy + i), f));
    }
    for (; i < n; i++)
        dy[i] *= z[i] > 0 ? 1.0f : 0.0f;
}
#endif

void sq_relu(float *x, size_t n)
{
#ifdef RELU_X86
    sq_isa isa = sq_isa_active();
    if (isa == SQ_ISA_AVX512) {
        relu_z(x, n);
        return;
    }
    if (isa == SQ_ISA_AVX2) {
        relu_y(x, n);
        return;
    }
#endif
    for (size_t i = 0; i < n; i++)
        x[i] = x[i] > 0 ? x[i] : 0;
}

static void relu_grad_one(const float *z, float *dy, size_t n)
{
#ifdef RELU_X86
    sq_isa isa = sq_isa_active();
    if (isa == SQ_ISA_AVX512) {
        relu_grad_z(z, dy, n);
        return;
    }
    if (isa == SQ_ISA_AVX2) {
        relu_grad_y(z, dy, n);
        return;
    }
#endif
    for (size_t i = 0; i < n; i++)
        dy[i] *= z[i] > 0 ? 1.0f : 0.0f;
}

/* Long arrays (a convolution's output for a batch) are shared by the
 * thread pool in blocks; each value on its own, so the same values. */
#define RELU_BLOCK 16384
#define RELU_PARALLEL (4 * RELU_BLOCK)

typedef struct {
    const float *z;
    float *dy;
} grad_job;

static void grad_blocks(void *ctx, size_t lo, size_t hi)
{
    const grad_job *j = ctx;
    relu_grad_one(j->z + lo, j->dy + lo, hi - lo);
}

void sq_relu_grad(const float *z, float *dy, size_t n)
{
    grad_job j = { z, dy };
    sq_parallel_blocks(n, RELU_BLOCK, RELU_PARALLEL, grad_blocks, &j);
}
