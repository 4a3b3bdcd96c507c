/* optim_update.c - the optimizers' update loops, one flat loop over a range
 * of the weights per optimizer, each per-element expression written in the
 * order TensorFlow 2.6's CPU kernels (training_ops.cc) evaluate it in
 * float32 (see optim.c). */
#include <math.h>
#include <stddef.h>
#include "base/base.h"
#include "train/optim_impl.h"
#include "kernels/threads.h"


/* The update loops are the hot path of small models (W2 spends most of its
 * time here): compile them for AVX-512 and AVX2 as well, chosen when the
 * program loads. */
#define VECTOR_CLONES SQ_VECTOR_CLONES

/* ---- clipnorm's division ------------------------------------------------------
 * TensorFlow clips a gradient t by its norm as (t * c) / norm, a division
 * per element; beside Adam's own division and square root it made Adam's
 * loop 40% slower. The same float comes from the reciprocal: q = t * r with
 * r = 1 / norm (correctly rounded), then one fused multiply-add corrects it,
 * q + (t - q norm) r (Markstein's theorem; checked against the division on
 * 268 million cases covering every mantissa of norm). A product that is
 * already exact (zeros of either sign, whose sign it keeps) or not finite
 * (an infinite t, an infinite norm) is left as it is, as the division
 * would give it. Used where the CPU has FMA and norm is far from the
 * float range's ends (so r is a normal number); else the division itself.
 * Under flush-to-zero (the training threads' mode) a residual below 2^-126
 * is flushed, so for |t| under about 2^-100 the result can be one unit in
 * the last place from the division's: no update can notice that. The
 * loops that use it are compiled with FMA. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define FMA_CLONES __attribute__((target_clones("avx512f", "fma", "default")))
#else
#define FMA_CLONES
#endif

static int norm_fast(float norm)
{
#if defined(__x86_64__) && defined(__GNUC__)
    static int fma = -1;
    if (fma < 0)
        fma = __builtin_cpu_supports("fma") != 0;
#else
    const int fma = 0;
#endif
    return fma && norm >= 0x1p-60f && norm <= 0x1p60f;
}

/* t / norm as the division rounds it (fast: from r = 1 / norm) */
static inline __attribute__((always_inline)) float clip_div(float t, float norm, float r,
                                                             const int fast)
{
    if (!fast)
        return t / norm;
    float q = t * r, e = __builtin_fmaf(-q, norm, t);
    return e != 0 && e == e ? __builtin_fmaf(e, r, q) : q;
}

/* ---- the updates ---------------------------------------------------------- *
 * Each is a flat loop over one range; w, g and the slots never alias. */

/* ResourceApplyGradientDescent: var -= grad * lr */
VECTOR_CLONES static void upd_sgd(float *restrict w, const float *restrict g, size_t n, float lr)
{
    for (size_t i = 0; i < n; i++)
        w[i] -= g[i] * lr;
}

/* ResourceApplyKerasMomentum:
 *   accum = accum * momentum - grad * lr
 *   nesterov: var += accum * momentum - grad * lr;  else var += accum */
VECTOR_CLONES static void upd_momentum(float *restrict w, const float *restrict g,
                         float *restrict a, size_t n, float lr, float mom,
                         int nesterov)
{
    if (nesterov) {
        for (size_t i = 0; i < n; i++) {
            a[i] = a[i] * mom - g[i] * lr;
            w[i] += a[i] * mom - g[i] * lr;
        }
    } else {
        for (size_t i = 0; i < n; i++) {
            a[i] = a[i] * mom - g[i] * lr;
            w[i] += a[i];
        }
    }
}

/* ResourceApplyAdam (ApplyAdamNonCuda, use_nesterov=False):
 *   m += (g - m) * (1 - beta1)
 *   v += (g^2 - v) * (1 - beta2)
 *   var -= (m * alpha) / (sqrt(v) + epsilon)
 * ResourceApplyAdamWithAmsgrad: the same with vhat = max(vhat, v) in place
 * of v in the last line. */
VECTOR_CLONES static void upd_adam(float *restrict w, const float *restrict g,
                     float *restrict m, float *restrict v, size_t n,
                     const coefs *cf)
{
    const float omb1 = cf->omb1, omb2 = cf->omb2, alpha = cf->alpha, eps = cf->eps;
    for (size_t i = 0; i < n; i++) {
        m[i] += (g[i] - m[i]) * omb1;
        v[i] += (g[i] * g[i] - v[i]) * omb2;
        w[i] -= (m[i] * alpha) / (sqrtf(v[i]) + eps);
    }
}

VECTOR_CLONES static void upd_amsgrad(float *restrict w, const float *restrict g,
                        float *restrict m, float *restrict v,
                        float *restrict vhat, size_t n, const coefs *cf)
{
    const float omb1 = cf->omb1, omb2 = cf->omb2, alpha = cf->alpha, eps = cf->eps;
    for (size_t i = 0; i < n; i++) {
        m[i] += (g[i] - m[i]) * omb1;
        v[i] += (g[i] * g[i] - v[i]) * omb2;
        vhat[i] = vhat[i] < v[i] ? v[i] : vhat[i];   /* std::max */
        w[i] -= (m[i] * alpha) / (sqrtf(vhat[i]) + eps);
    }
}

/* RMSprop without momentum, rmsprop.py _resource_apply_dense (Python ops):
 *   rms = rho * rms + (1 - rho) * g^2
 *   centered: mg = rho * mg + (1 - rho) * g;  denom = rms - mg^2
 *   else:     denom = rms
 *   var = var - lr * g / (sqrt(denom) + epsilon) */
VECTOR_CLONES static void upd_rmsprop(float *restrict w, const float *restrict g,
                        float *restrict rms, size_t n, const coefs *cf)
{
    const float rho = cf->rho, omrho = cf->omrho, lr = cf->lr, eps = cf->eps;
    for (size_t i = 0; i < n; i++) {
        rms[i] = rho * rms[i] + omrho * (g[i] * g[i]);
        w[i] = w[i] - lr * g[i] / (sqrtf(rms[i]) + eps);
    }
}

VECTOR_CLONES static void upd_rmsprop_centered(float *restrict w, const float *restrict g,
                                 float *restrict rms, float *restrict mg,
                                 size_t n, const coefs *cf)
{
    const float rho = cf->rho, omrho = cf->omrho, lr = cf->lr, eps = cf->eps;
    for (size_t i = 0; i < n; i++) {
        rms[i] = rho * rms[i] + omrho * (g[i] * g[i]);
        mg[i] = rho * mg[i] + omrho * g[i];
        w[i] = w[i] - lr * g[i] / (sqrtf(rms[i] - mg[i] * mg[i]) + eps);
    }
}

/* RMSprop with momentum > 0: ResourceApplyRMSProp
 *   ms += (g^2 - ms) * (1 - rho)
 *   mom = mom * momentum + (g * lr) / sqrt(ms + epsilon)
 *   var -= mom */
VECTOR_CLONES static void upd_rmsprop_mom(float *restrict w, const float *restrict g,
                            float *restrict ms, float *restrict mom, size_t n,
                            const coefs *cf)
{
    const float omrho = cf->omrho, lr = cf->lr, eps = cf->eps, mu = cf->mom;
    for (size_t i = 0; i < n; i++) {
        ms[i] += (g[i] * g[i] - ms[i]) * omrho;
        mom[i] = mom[i] * mu + (g[i] * lr) / sqrtf(ms[i] + eps);
        w[i] -= mom[i];
    }
}

/* Centered with momentum > 0: ResourceApplyCenteredRMSProp
 *   ms += (g^2 - ms) * (1 - rho)
 *   mg += (g - mg) * (1 - rho)
 *   mom = mom * momentum + (g * lr) / sqrt((ms - mg^2) + epsilon)
 *   var -= mom */
VECTOR_CLONES static void upd_rmsprop_mom_centered(float *restrict w, const float *restrict g,
                                     float *restrict ms, float *restrict mom,
                                     float *restrict mg, size_t n,
                                     const coefs *cf)
{
    const float omrho = cf->omrho, lr = cf->lr, eps = cf->eps, mu = cf->mom;
    for (size_t i = 0; i < n; i++) {
        ms[i] += (g[i] * g[i] - ms[i]) * omrho;
        mg[i] += (g[i] - mg[i]) * omrho;
        mom[i] = mom[i] * mu + (g[i] * lr) / sqrtf((ms[i] - mg[i] * mg[i]) + eps);
        w[i] -= mom[i];
    }
}

/* ResourceApplyAdagradV2 (update_slots=True):
 *   accum += g^2
 *   var -= g * lr / (sqrt(accum) + epsilon) */
VECTOR_CLONES static void upd_adagrad(float *restrict w, const float *restrict g,
                        float *restrict acc, size_t n, const coefs *cf)
{
    const float lr = cf->lr, eps = cf->eps;
    for (size_t i = 0; i < n; i++) {
        acc[i] += g[i] * g[i];
        w[i] -= g[i] * lr / (sqrtf(acc[i]) + eps);
    }
}

/* ResourceApplyAdadelta:
 *   accum = accum * rho + g^2 * (1 - rho)
 *   update = sqrt(accum_update + epsilon) * rsqrt(accum + epsilon) * g
 *   var -= update * lr
 *   accum_update = accum_update * rho + update^2 * (1 - rho) */
VECTOR_CLONES static void upd_adadelta(float *restrict w, const float *restrict g,
                         float *restrict acc, float *restrict accu, size_t n,
                         const coefs *cf)
{
    const float rho = cf->rho, omrho = cf->omrho, lr = cf->lr, eps = cf->eps;
    for (size_t i = 0; i < n; i++) {
        acc[i] = acc[i] * rho + g[i] * g[i] * omrho;
        float up = sqrtf(accu[i] + eps) * (1.0f / sqrtf(acc[i] + eps)) * g[i];
        w[i] -= up * lr;
        accu[i] = accu[i] * rho + up * up * omrho;
    }
}

/* ResourceApplyAdaMax (ApplyAdaMaxNonCuda):
 *   m += (g - m) * (1 - beta1)
 *   v = max(beta2 * v, |g|)
 *   var -= lr / (1 - beta1_power) * (m / (v + epsilon)) */
VECTOR_CLONES static void upd_adamax(float *restrict w, const float *restrict g,
                       float *restrict m, float *restrict v, size_t n,
                       const coefs *cf)
{
    const float omb1 = cf->omb1, b2 = cf->b2, alpha = cf->alpha, eps = cf->eps;
    for (size_t i = 0; i < n; i++) {
        m[i] += (g[i] - m[i]) * omb1;
        float bv = b2 * v[i], ag = fabsf(g[i]);
        v[i] = bv < ag ? ag : bv;                    /* std::max */
        w[i] -= alpha * (m[i] / (v[i] + eps));
    }
}

/* Nadam, nadam.py _resource_apply_dense (Python ops):
 *   g' = g / (1 - m_schedule_new)
 *   m = beta_1 * m + (1 - beta_1) * g;      m' = m / (1 - m_schedule_next)
 *   v = beta_2 * v + (1 - beta_2) * g^2;    v' = v / (1 - beta_2^t)
 *   m_bar = (1 - m_t) * g' + m_t_1 * m'
 *   var = var - lr * m_bar / (sqrt(v') + epsilon) */
VECTOR_CLONES static void upd_nadam(float *restrict w, const float *restrict g,
                      float *restrict m, float *restrict v, size_t n,
                      const coefs *cf)
{
    const float b1 = cf->b1, b2 = cf->b2, omb1 = cf->omb1, omb2 = cf->omb2;
    const float lr = cf->lr, eps = cf->eps, omt = cf->one_minus_m_t;
    const float mt1 = cf->m_t_1, omsn = cf->one_minus_msched_new;
    const float omsx = cf->one_minus_msched_next, vden = cf->v_prime_den;
    for (size_t i = 0; i < n; i++) {
        float gp = g[i] / omsn;
        m[i] = b1 * m[i] + omb1 * g[i];
        float mp = m[i] / omsx;
        v[i] = b2 * v[i] + omb2 * (g[i] * g[i]);
        float vp = v[i] / vden;
        float mbar = omt * gp + mt1 * mp;
        w[i] = w[i] - lr * mbar / (sqrtf(vp) + eps);
    }
}

/* Ftrl: ResourceApplyFtrl (l2_shrinkage == 0) or ResourceApplyFtrlV2, with
 * l2 already adjusted by beta:
 *   gs = g                          (V2: g + 2 * l2_shrinkage * var)
 *   new_accum = accum + g^2
 *   linear += gs - (new_accum^-p - accum^-p) / lr * var   (p = lr_power;
 *                                     sqrt() when p == -0.5)
 *   x = l1 * sign(linear) - linear
 *   y = new_accum^-p / lr + 2 * l2
 *   var = |linear| > l1 ? x / y : 0
 *   accum += g^2 */
VECTOR_CLONES static void upd_ftrl(float *restrict w, const float *restrict g,
                     float *restrict acc, float *restrict lin, size_t n,
                     const coefs *cf)
{
    const float lr = cf->lr, l1 = cf->l1, two_l2 = cf->two_l2;
    const float two_s = cf->two_l2_shrink, pw = -cf->lr_power;
    if (cf->lr_power == -0.5f) {
        for (size_t i = 0; i < n; i++) {
            float gs = g[i] + two_s * w[i];   /* = g when l2_shrinkage is 0 */
            float na = acc[i] + g[i] * g[i];
            float pna = sqrtf(na);
            lin[i] += gs - (pna - sqrtf(acc[i])) / lr * w[i];
            float sgn = lin[i] > 0 ? 1.0f : lin[i] < 0 ? -1.0f : 0.0f;
            float x = l1 * sgn - lin[i];
            float y = pna / lr + two_l2;
            float q = x / y;
            w[i] = fabsf(lin[i]) > l1 ? q : 0.0f;
            acc[i] += g[i] * g[i];
        }
    } else {
        for (size_t i = 0; i < n; i++) {
            float gs = g[i] + two_s * w[i];   /* = g when l2_shrinkage is 0 */
            float na = acc[i] + g[i] * g[i];
            float pna = powf(na, pw);
            lin[i] += gs - (pna - powf(acc[i], pw)) / lr * w[i];
            float sgn = lin[i] > 0 ? 1.0f : lin[i] < 0 ? -1.0f : 0.0f;
            float x = l1 * sgn - lin[i];
            float y = pna / lr + two_l2;
            float q = x / y;
            w[i] = fabsf(lin[i]) > l1 ? q : 0.0f;
            acc[i] += g[i] * g[i];
        }
    }
}

void sq_optim_update(sq_optim *o, float *params, const float *grads,
                     size_t off, size_t len)
{
    if (off <= o->n && grads)
        sq_optim_apply(o, params, grads + off, off, len);
}

/* Updates [off, off + len) of the weights with gradient g (g[0] is
 * off's). */
static void apply_range(sq_optim *o, float *params, const float *g, size_t off, size_t len)
{
    float *w = params + off;
    float *s0 = o->slots ? o->slots + off : NULL;
    float *s1 = o->nslots > 1 ? s0 + o->n : NULL;
    float *s2 = o->nslots > 2 ? s0 + 2 * o->n : NULL;
    const coefs *c = &o->c;

    switch (o->kind) {
    case K_SGD:
        if (o->has_mom)
            upd_momentum(w, g, s0, len, c->lr, c->mom, o->p[P_NESTEROV] != 0);
        else
            upd_sgd(w, g, len, c->lr);
        break;
    case K_ADAM:
        if (o->p[P_AMSGRAD])
            upd_amsgrad(w, g, s0, s1, s2, len, c);
        else
            upd_adam(w, g, s0, s1, len, c);
        break;
    case K_RMSPROP: {
        float *mom = o->s_mom >= 0 ? s0 + (size_t)o->s_mom * o->n : NULL;
        float *mg = o->s_mg >= 0 ? s0 + (size_t)o->s_mg * o->n : NULL;
        if (mom && mg)
            upd_rmsprop_mom_centered(w, g, s0, mom, mg, len, c);
        else if (mom)
            upd_rmsprop_mom(w, g, s0, mom, len, c);
        else if (mg)
            upd_rmsprop_centered(w, g, s0, mg, len, c);
        else
            upd_rmsprop(w, g, s0, len, c);
        break;
    }
    case K_ADAGRAD: upd_adagrad(w, g, s0, len, c); break;
    case K_ADADELTA: upd_adadelta(w, g, s0, s1, len, c); break;
    case K_ADAMAX: upd_adamax(w, g, s0, s1, len, c); break;
    case K_NADAM: upd_nadam(w, g, s0, s1, len, c); break;
    case K_FTRL: upd_ftrl(w, g, s0, s1, len, c); break;
    }
}

/* A long range is shared by the thread pool in blocks: every update is
 * element by element, so the blocks are independent (the same values as
 * one loop). */
#define APPLY_BLOCK 8192           /* weights per block */
#define APPLY_PARALLEL 262144      /* fewer run on one thread: ~50 us for Adam
                                      * (W2's 101,770 weights ran slower shared: see
                                      * GEMM_PARALLEL_FLOPS in blas.c) */

typedef struct {
    sq_optim *o;
    float *params;
    const float *g;
    size_t off;
} apply_job;

static void apply_blocks(void *ctx, size_t lo, size_t hi)
{
    const apply_job *j = ctx;
    apply_range(j->o, j->params, j->g + lo, j->off + lo, hi - lo);
}

void sq_optim_apply(sq_optim *o, float *params, const float *g, size_t off, size_t len)
{
    if (o->t == 0 || len == 0 || off > o->n || len > o->n - off)
        return;
    apply_job j = { o, params, g, off };
    sq_parallel_blocks(len, APPLY_BLOCK, APPLY_PARALLEL, apply_blocks, &j);
}


/* ---- clipping's passes -------------------------------------------------------- */

#define LANES 16
#define BLOCK 4096

/* Four sums of LANES lanes each: one chain of adds waits on the adder's
 * latency; four keep pace with the cache (25% faster on a gradient that
 * was just written). */
VECTOR_CLONES static void sumsq_block(const float *restrict g, size_t n, float *restrict s)
{
    float a[LANES] = { 0 }, b[LANES] = { 0 }, c[LANES] = { 0 }, d[LANES] = { 0 };
    size_t i = 0;
    for (; i + 4 * LANES <= n; i += 4 * LANES) {
        for (int k = 0; k < LANES; k++)
            a[k] += g[i + k] * g[i + k];
        for (int k = 0; k < LANES; k++)
            b[k] += g[i + LANES + k] * g[i + LANES + k];
        for (int k = 0; k < LANES; k++)
            c[k] += g[i + 2 * LANES + k] * g[i + 2 * LANES + k];
        for (int k = 0; k < LANES; k++)
            d[k] += g[i + 3 * LANES + k] * g[i + 3 * LANES + k];
    }
    for (; i < n; i++)
        a[0] += g[i] * g[i];
    for (int k = 0; k < LANES; k++)
        s[k] = (a[k] + b[k]) + (c[k] + d[k]);
}

double sq_sumsq(const float *g, size_t n)
{
    float s[LANES];
    double t = 0;
    for (size_t at = 0; at < n; at += BLOCK) {
        sumsq_block(g + at, n - at < BLOCK ? n - at : BLOCK, s);
        for (int k = 0; k < LANES; k++)
            t += s[k];
    }
    return t;
}

/* out = g * c / norm: t * clip_norm / max(l2norm, clip_norm) with the
 * product rounded first, as tf.clip_by_norm does (out may be g) */
static inline __attribute__((always_inline)) void
clip_scale_body(const float *g, float *out, size_t n, float c, float norm)
{
    float r = 1.0f / norm;
    if (norm_fast(norm))
        for (size_t i = 0; i < n; i++)
            out[i] = clip_div(g[i] * c, norm, r, 1);
    else
        for (size_t i = 0; i < n; i++)
            out[i] = clip_div(g[i] * c, norm, r, 0);
}

FMA_CLONES void sq_clip_scale(float *restrict g, size_t n, float c, float norm)
{
    clip_scale_body(g, g, n, c, norm);
}

VECTOR_CLONES void sq_clip_value(float *restrict g, size_t n, float v)
{
    for (size_t i = 0; i < n; i++)
        g[i] = g[i] > v ? v : g[i] < -v ? -v : g[i];
}

VECTOR_CLONES void sq_scale(float *restrict g, size_t n, float s)
{
    for (size_t i = 0; i < n; i++)
        g[i] *= s;
}

/* ---- the step's fused gradient passes (sq_optim_step) ---------------------------
 * The penalty's gradient a sign(w) + b w, a scale (clipnorm's c / norm, or
 * global_clipnorm's), and the penalty's sums, in one loop each. */

static inline __attribute__((always_inline)) void
pen_scale_body(const float *restrict w, const float *restrict g, float *restrict out, size_t n,
               float a, float b, float c, float norm, float *restrict s1, float *restrict s2,
               const int fast)
{
    size_t i = 0;
    float r = 1.0f / norm;
    for (int k = 0; k < LANES; k++)
        s1[k] = s2[k] = 0;
    for (; i + LANES <= n; i += LANES)
        for (int k = 0; k < LANES; k++) {
            float x = w[i + k];
            float sg = (float)(x > 0) - (float)(x < 0);
            out[i + k] = clip_div((g[i + k] + (a * sg + b * x)) * c, norm, r, fast);
            s1[k] += fabsf(x);
            s2[k] += x * x;
        }
    for (; i < n; i++) {
        float x = w[i];
        float sg = (float)(x > 0) - (float)(x < 0);
        out[i] = clip_div((g[i] + (a * sg + b * x)) * c, norm, r, fast);
        s1[0] += fabsf(x);
        s2[0] += x * x;
    }
}

FMA_CLONES static void pen_scale_block(const float *restrict w, const float *restrict g,
                                       float *restrict out, size_t n, float a, float b,
                                       float c, float norm, float *restrict s1,
                                       float *restrict s2)
{
    if (norm_fast(norm))
        pen_scale_body(w, g, out, n, a, b, c, norm, s1, s2, 1);
    else
        pen_scale_body(w, g, out, n, a, b, c, norm, s1, s2, 0);
}

/* The norm pass with a penalty also takes the penalty's sums of |w| (q1)
 * and w^2 (q2) of the weights before the update: the step's penalty when
 * no sums were kept from the last step. */
VECTOR_CLONES static void l2_sumsq_block(const float *restrict w, const float *restrict g,
                                         size_t n, float b, float *restrict s,
                                         float *restrict q2)
{
    size_t i = 0;
    for (int k = 0; k < LANES; k++)
        s[k] = q2[k] = 0;
    for (; i + LANES <= n; i += LANES)
        for (int k = 0; k < LANES; k++) {
            float x = w[i + k], t = g[i + k] + b * x;
            s[k] += t * t;
            q2[k] += x * x;
        }
    for (; i < n; i++) {
        float x = w[i], t = g[i] + b * x;
        s[0] += t * t;
        q2[0] += x * x;
    }
}

VECTOR_CLONES static void pen_sumsq_block(const float *restrict w, const float *restrict g,
                                          size_t n, float a, float b, float *restrict s,
                                          float *restrict q1, float *restrict q2)
{
    size_t i = 0;
    for (int k = 0; k < LANES; k++)
        s[k] = q1[k] = q2[k] = 0;
    for (; i + LANES <= n; i += LANES)
        for (int k = 0; k < LANES; k++) {
            float x = w[i + k];
            float sg = (float)(x > 0) - (float)(x < 0);
            float t = g[i + k] + (a * sg + b * x);
            s[k] += t * t;
            q1[k] += fabsf(x);
            q2[k] += x * x;
        }
    for (; i < n; i++) {
        float x = w[i];
        float sg = (float)(x > 0) - (float)(x < 0);
        float t = g[i] + (a * sg + b * x);
        s[0] += t * t;
        q1[0] += fabsf(x);
        q2[0] += x * x;
    }
}

FMA_CLONES static void scale_into(const float *restrict g, float *restrict out, size_t n,
                                  float c, float norm)
{
    clip_scale_body(g, out, n, c, norm);
}

double sq_pen_sumsq(const float *w, const float *g, size_t n, float a, float b, double *s1,
                    double *s2)
{
    float s[LANES], q1[LANES] = { 0 }, q2[LANES];
    /* the sums in registers (through s1 and s2 each add waited on a store) */
    double t = 0, x1 = *s1, x2 = *s2;
    for (size_t at = 0; at < n; at += BLOCK) {
        size_t m = n - at < BLOCK ? n - at : BLOCK;
        if (a == 0 && b == 0) {
            sumsq_block(g + at, m, s);
            for (int k = 0; k < LANES; k++)
                t += s[k];
            continue;
        }
        if (a == 0)
            l2_sumsq_block(w + at, g + at, m, b, s, q2);
        else
            pen_sumsq_block(w + at, g + at, m, a, b, s, q1, q2);
        for (int k = 0; k < LANES; k++) {
            t += s[k];
            x1 += q1[k];
            x2 += q2[k];
        }
    }
    *s1 = x1;
    *s2 = x2;
    return t;
}

void sq_pen_scale(const float *w, const float *g, float *out, size_t n, float a, float b,
                  float c, float norm, double *s1, double *s2)
{
    float l1[LANES], l2[LANES];
    if (a == 0 && b == 0) {
        scale_into(g, out, n, c, norm);
        return;
    }
    pen_scale_block(w, g, out, n, a, b, c, norm, l1, l2);
    for (int k = 0; k < LANES; k++) {
        *s1 += l1[k];
        *s2 += l2[k];
    }
}

/* Adam with the step's gradient transform inside its loop: the gradient
 * it uses is (g + a sign(w) + b w) * c / norm, the same float values the
 * chunk path hands it, so the results are the same bit for bit; the sums
 * of |w| and w^2 of the updated weights go to s1, s2 (lane by lane, as
 * wsums_block sums them): the next step's penalty, and the size of w its
 * clipnorm bound needs, without another read of w. For the common case
 * (Adam with penalties or clipnorm), one pass over the weights. One body,
 * specialised by pen (0 none, 1 l2 only, 2 l1 and l2) and scaled. */
static inline __attribute__((always_inline)) void
adam_pen(float *restrict w, const float *restrict g, float *restrict m, float *restrict v,
         size_t n, const coefs *cf, float a, float b, float c, float norm,
         float *restrict s1, float *restrict s2, const int pen, const int scaled)
{
    const float omb1 = cf->omb1, omb2 = cf->omb2, alpha = cf->alpha, eps = cf->eps;
    const float r = 1.0f / norm;
    size_t i = 0;
    for (int k = 0; k < LANES; k++)
        s1[k] = s2[k] = 0;
    for (; i + LANES <= n; i += LANES)
        for (int k = 0; k < LANES; k++) {
            size_t j = i + (size_t)k;
            float x = w[j], gj = g[j];
            if (pen == 2) {
                float sg = (float)(x > 0) - (float)(x < 0);
                gj = gj + (a * sg + b * x);
            } else if (pen == 1) {
                gj = gj + b * x;
            }
            if (scaled)
                gj = clip_div(gj * c, norm, r, 1);
            m[j] += (gj - m[j]) * omb1;
            v[j] += (gj * gj - v[j]) * omb2;
            x -= (m[j] * alpha) / (sqrtf(v[j]) + eps);
            w[j] = x;
            if (pen == 2)
                s1[k] += fabsf(x);
            if (pen)
                s2[k] += x * x;
        }
    for (; i < n; i++) {
        float x = w[i], gj = g[i];
        if (pen) {
            float sg = (float)(x > 0) - (float)(x < 0);
            gj = gj + (a * sg + b * x);
        }
        if (scaled)
            gj = clip_div(gj * c, norm, r, 1);
        m[i] += (gj - m[i]) * omb1;
        v[i] += (gj * gj - v[i]) * omb2;
        x -= (m[i] * alpha) / (sqrtf(v[i]) + eps);
        w[i] = x;
        if (pen == 2)
            s1[0] += fabsf(x);
        if (pen)
            s2[0] += x * x;
    }
}

#define ADAM_PEN(name, pen, scaled) \
    FMA_CLONES static void name(float *restrict w, const float *restrict g, \
        float *restrict m, float *restrict v, size_t n, const coefs *cf, float a, float b, \
        float c, float norm, float *restrict s1, float *restrict s2) \
    { adam_pen(w, g, m, v, n, cf, a, b, c, norm, s1, s2, pen, scaled); }
ADAM_PEN(adam_scaled, 0, 1)
ADAM_PEN(adam_l2, 1, 0)
ADAM_PEN(adam_l2_scaled, 1, 1)
ADAM_PEN(adam_l1l2, 2, 0)
ADAM_PEN(adam_l1l2_scaled, 2, 1)

/* The sums of |w| and w^2, lane by lane and block by block as Adam's loop
 * and the norm pass add them (so the same doubles come out). */
VECTOR_CLONES static void wsums_block(const float *restrict w, size_t n, float *restrict q1,
                                      float *restrict q2)
{
    size_t i = 0;
    for (int k = 0; k < LANES; k++)
        q1[k] = q2[k] = 0;
    for (; i + LANES <= n; i += LANES)
        for (int k = 0; k < LANES; k++) {
            float x = w[i + k];
            q1[k] += fabsf(x);
            q2[k] += x * x;
        }
    for (; i < n; i++) {
        q1[0] += fabsf(w[i]);
        q2[0] += w[i] * w[i];
    }
}

void sq_weight_sums(const float *w, size_t n, double *s1, double *s2)
{
    float q1[LANES], q2[LANES];
    double x1 = 0, x2 = 0;
    for (size_t at = 0; at < n; at += BLOCK) {
        wsums_block(w + at, n - at < BLOCK ? n - at : BLOCK, q1, q2);
        for (int k = 0; k < LANES; k++) {
            x1 += q1[k];
            x2 += q2[k];
        }
    }
    *s1 = x1;
    *s2 = x2;
}

int sq_optim_fuses_pen(const sq_optim *o, float c, float norm)
{
    int scaled = !(c == 1 && norm == 1);
    /* a norm clip_div cannot take fast: the caller's chunk path divides */
    return o->kind == K_ADAM && !o->p[P_AMSGRAD] && o->t != 0 && !(scaled && !norm_fast(norm));
}

int sq_optim_apply_pen(sq_optim *o, float *params, const float *g, size_t off, size_t len,
                       float a, float b, float c, float norm, double *s1, double *s2)
{
    if (!sq_optim_fuses_pen(o, c, norm) || off > o->n || len > o->n - off)
        return -1;
    int scaled = !(c == 1 && norm == 1), pen = a != 0 ? 2 : b != 0 ? 1 : 0;
    if (!pen && !scaled) {
        sq_optim_apply(o, params, g, off, len);
        *s1 = *s2 = 0;
        return 0;
    }
    void (*const kernel[3][2])(float *restrict, const float *restrict, float *restrict,
                               float *restrict, size_t, const coefs *, float, float, float,
                               float, float *restrict, float *restrict) = {
        { NULL, adam_scaled }, { adam_l2, adam_l2_scaled }, { adam_l1l2, adam_l1l2_scaled },
    };
    float *w = params + off, *m = o->slots + off, *v = o->slots + o->n + off;
    float l1[LANES], l2[LANES];
    double x1 = 0, x2 = 0;
    for (size_t at = 0; at < len; at += BLOCK) {
        size_t k = len - at < BLOCK ? len - at : BLOCK;
        kernel[pen][scaled](w + at, g + at, m + at, v + at, k, &o->c, a, b, c, norm, l1, l2);
        for (int q = 0; q < LANES && pen; q++) {
            x1 += l1[q];
            x2 += l2[q];
        }
    }
    *s1 = x1;
    *s2 = x2;
    return 0;
}
