/* rnn_cells.c - the cells' element-wise maths for one time step and a block
 * of samples (rnn_cells.h), Keras 2.6's formulas with gates in Keras's
 * order:
 *   SimpleRNN  h = act(x K + b + h_{t-1} R)
 *   LSTM       i, f, g, o = rec(z_i), rec(z_f), act(z_g), rec(z_o)
 *              c = f c_{t-1} + i g,  h = o act(c)
 *   GRU        z, r = rec(x K_z + b_z + h_{t-1} R_z ...)
 *              reset_after:  hh = act(x K_h + b_h + r (h_{t-1} R_h + b'_h))
 *              otherwise:    hh = act(x K_h + b_h + (r h_{t-1}) R_h)
 *              h = z h_{t-1} + (1 - z) hh
 * The common activations are inline (rnn_act.h); the loops are compiled
 * once per instruction set and chosen at run time (SEQSH_ISA). */
/* Comparisons that may not trap let GCC turn the clamps and selects of the
 * activations into vector blends; nothing here relies on FP exceptions. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif
#include <string.h>
#include "layers/rnn_cells.h"
#include "layers/rnn_act.h"
#include "kernels/conv_kernels.h"

/* ---- the maths, written once ------------------------------------------- */

RNN_INLINE void add_bias(float *restrict z, const float *restrict bias, long n)
{
    if (bias)
        for (long j = 0; j < n; j++)
            z[j] += bias[j];
}

/* Row pointers of sample b at time t in a (B, T, n) array. */
#define ROW(base, b, n) ((base) + ((size_t)(b) * (size_t)rb->T + (size_t)a->t) * (size_t)(n))

RNN_INLINE void step_simple(const rnn_cell_args *a)
{
    const rnn_state *st = a->st;
    const rnn_buf *rb = a->rb;
    long u = rb->u;
    for (long b = a->b0; b < a->b1; b++) {
        float *z = ROW(rb->Z, b, u), *y = ROW(rb->A, b, u);
        add_bias(z, a->bias_in, u);
        rnn_act_fwd(st->fact, st->act, z, y, u);
        memcpy(rb->hn + b * u, y, (size_t)u * sizeof(float));
    }
}

RNN_INLINE void step_lstm(const rnn_cell_args *a)
{
    const rnn_state *st = a->st;
    const rnn_buf *rb = a->rb;
    long u = rb->u, gu = rb->gu;
    for (long b = a->b0; b < a->b1; b++) {
        float *z = ROW(rb->Z, b, gu), *y = ROW(rb->A, b, gu);
        const float *cp = rb->c + b * u;
        float *cn = rb->cn + b * u, *hn = rb->hn + b * u;
        float *tc = rb->training ? ROW(rb->TC, b, u) : rb->tc + b * u;
        add_bias(z, a->bias_in, gu);
        /* gate by gate: softmax and friends work on one gate's units */
        rnn_act_fwd(st->frec, st->rec_act, z, y, u);               /* i */
        rnn_act_fwd(st->frec, st->rec_act, z + u, y + u, u);       /* f */
        rnn_act_fwd(st->fact, st->act, z + 2 * u, y + 2 * u, u);   /* g */
        rnn_act_fwd(st->frec, st->rec_act, z + 3 * u, y + 3 * u, u); /* o */
        const float *gi = y, *gf = y + u, *gg = y + 2 * u, *go = y + 3 * u;
        for (long j = 0; j < u; j++)
            cn[j] = gf[j] * cp[j] + gi[j] * gg[j];
        rnn_act_fwd(st->fact, st->act, cn, tc, u);
        for (long j = 0; j < u; j++)
            hn[j] = go[j] * tc[j];
        if (rb->training) {
            memcpy(ROW(rb->Cp, b, u), cp, (size_t)u * sizeof(float));
            if (rb->C)
                memcpy(ROW(rb->C, b, u), cn, (size_t)u * sizeof(float));
        }
    }
}

/* z and r of the GRU: their pre-activations complete with the recurrent
 * products in M (and, reset_after, the recurrent bias). */
RNN_INLINE void gru_zr(const rnn_cell_args *a, long b)
{
    const rnn_state *st = a->st;
    const rnn_buf *rb = a->rb;
    long u = rb->u, gu = rb->gu;
    float *z = ROW(rb->Z, b, gu), *y = ROW(rb->A, b, gu);
    const float *mr = rb->M + b * gu;
    add_bias(z, a->bias_in, 2 * u);
    add_bias(z, a->bias_rec, 2 * u);
    for (long j = 0; j < 2 * u; j++)
        z[j] += mr[j];
    rnn_act_fwd(st->frec, st->rec_act, z, y, u);
    rnn_act_fwd(st->frec, st->rec_act, z + u, y + u, u);
}

RNN_INLINE void gru_gates(const rnn_cell_args *a)
{
    const rnn_buf *rb = a->rb;
    long u = rb->u, gu = rb->gu;
    for (long b = a->b0; b < a->b1; b++) {
        gru_zr(a, b);
        const float *r = ROW(rb->A, b, gu) + u, *h = rb->h + b * u;
        float *rh = rb->training ? ROW(rb->RH, b, u) : rb->RH + b * u;
        for (long j = 0; j < u; j++)
            rh[j] = r[j] * h[j];
    }
}

RNN_INLINE void step_gru(const rnn_cell_args *a)
{
    const rnn_state *st = a->st;
    const rnn_buf *rb = a->rb;
    long u = rb->u, gu = rb->gu;
    for (long b = a->b0; b < a->b1; b++) {
        float *z = ROW(rb->Z, b, gu), *y = ROW(rb->A, b, gu);
        if (a->bias_in)
            add_bias(z + 2 * u, a->bias_in + 2 * u, u);
        if (st->reset_after) {
            gru_zr(a, b);
            /* hh's pre-activation: x_h + r * (h R_h + b'_h) */
            const float *mh = rb->M + b * gu + 2 * u, *br = a->bias_rec;
            float *keep = rb->training ? ROW(rb->Mh, b, u) : NULL;
            for (long j = 0; j < u; j++) {
                float m = mh[j] + (br ? br[2 * u + j] : 0.0f);
                if (keep)
                    keep[j] = m;
                z[2 * u + j] += y[u + j] * m;
            }
        }
        rnn_act_fwd(st->fact, st->act, z + 2 * u, y + 2 * u, u);
        const float *gz = y, *hh = y + 2 * u, *h = rb->h + b * u;
        float *hn = rb->hn + b * u;
        for (long j = 0; j < u; j++)
            hn[j] = gz[j] * h[j] + (1.0f - gz[j]) * hh[j];
    }
}

/* ---- backward ----------------------------------------------------------- */

RNN_INLINE int skipped(const rnn_cell_args *a, long b)
{
    return a->mask && !a->mask[(size_t)b * (size_t)a->rb->T + (size_t)a->t];
}

RNN_INLINE void bwd_simple(const rnn_cell_args *a)
{
    const rnn_state *st = a->st;
    const rnn_buf *rb = a->rb;
    const rnn_grad *g = a->g;
    long u = rb->u;
    for (long b = a->b0; b < a->b1; b++) {
        if (skipped(a, b))
            continue;
        float *dz = ROW(g->dZ, b, u), *dh = g->dh + b * u;
        memcpy(dz, dh, (size_t)u * sizeof(float));
        rnn_act_bwd(st->fact, st->act, ROW(rb->Z, b, u), ROW(rb->A, b, u), dz, u);
        memset(dh, 0, (size_t)u * sizeof(float));
    }
}

/* The LSTM's gradients through c, in one pass (restrict: no aliasing). */
RNN_INLINE void lstm_bwd_c(long u, const float *restrict dt, float *restrict dc,
                           const float *restrict gi, const float *restrict gf,
                           const float *restrict gg, const float *restrict cp,
                           float *restrict di, float *restrict df, float *restrict dg,
                           float *restrict dh)
{
    for (long j = 0; j < u; j++) {
        float dct = dc[j] + dt[j];
        di[j] = dct * gg[j];
        dg[j] = dct * gi[j];
        df[j] = dct * cp[j];
        dc[j] = dct * gf[j];
        dh[j] = 0.0f;
    }
}

RNN_INLINE void lstm_bwd_o(long u, const float *restrict dh, const float *restrict tc,
                           const float *restrict go, float *restrict dout, float *restrict dt)
{
    for (long j = 0; j < u; j++) {
        dout[j] = dh[j] * tc[j];
        dt[j] = dh[j] * go[j];
    }
}

RNN_INLINE void bwd_lstm(const rnn_cell_args *a)
{
    const rnn_state *st = a->st;
    const rnn_buf *rb = a->rb;
    const rnn_grad *g = a->g;
    long u = rb->u, gu = rb->gu;
    for (long b = a->b0; b < a->b1; b++) {
        if (skipped(a, b))
            continue;
        const float *z = ROW(rb->Z, b, gu), *y = ROW(rb->A, b, gu);
        const float *tc = ROW(rb->TC, b, u), *cp = ROW(rb->Cp, b, u);
        const float *c = rb->C ? ROW(rb->C, b, u) : tc;
        float *dz = ROW(g->dZ, b, gu), *dh = g->dh + b * u, *dc = g->dc + b * u;
        float *dt = g->dt + b * u;
        lstm_bwd_o(u, dh, tc, y + 3 * u, dz + 3 * u, dt);
        rnn_act_bwd(st->fact, st->act, c, tc, dt, u);
        lstm_bwd_c(u, dt, dc, y, y + u, y + 2 * u, cp, dz, dz + u, dz + 2 * u, dh);
        rnn_act_bwd(st->frec, st->rec_act, z, y, dz, u);
        rnn_act_bwd(st->frec, st->rec_act, z + u, y + u, dz + u, u);
        rnn_act_bwd(st->fact, st->act, z + 2 * u, y + 2 * u, dz + 2 * u, u);
        rnn_act_bwd(st->frec, st->rec_act, z + 3 * u, y + 3 * u, dz + 3 * u, u);
    }
}

RNN_INLINE void bwd_gru(const rnn_cell_args *a)
{
    const rnn_state *st = a->st;
    const rnn_buf *rb = a->rb;
    const rnn_grad *g = a->g;
    long u = rb->u, gu = rb->gu;
    for (long b = a->b0; b < a->b1; b++) {
        if (skipped(a, b))
            continue;
        const float *z = ROW(rb->Z, b, gu), *y = ROW(rb->A, b, gu);
        const float *hp = ROW(rb->Hp, b, u);
        const float *gz = y, *gr = y + u, *hh = y + 2 * u;
        float *dz = ROW(g->dZ, b, gu), *dh = g->dh + b * u;
        float *dzz = dz, *dzr = dz + u, *dzh = dz + 2 * u;
        for (long j = 0; j < u; j++) {
            dzz[j] = dh[j] * (hp[j] - hh[j]);
            dzh[j] = dh[j] * (1.0f - gz[j]);
            dh[j] = dh[j] * gz[j];
        }
        rnn_act_bwd(st->fact, st->act, z + 2 * u, hh, dzh, u);
        rnn_act_bwd(st->frec, st->rec_act, z, gz, dzz, u);
        if (st->reset_after) {
            const float *mh = ROW(rb->Mh, b, u);
            float *dm = ROW(g->dM, b, gu);
            for (long j = 0; j < u; j++)
                dzr[j] = dzh[j] * mh[j];
            rnn_act_bwd(st->frec, st->rec_act, z + u, gr, dzr, u);
            memcpy(dm, dz, (size_t)(2 * u) * sizeof(float));
            for (long j = 0; j < u; j++)
                dm[2 * u + j] = dzh[j] * gr[j];
        } else {
            memset(dzr, 0, (size_t)u * sizeof(float));  /* rnn_gru_reset_bwd fills it */
        }
    }
}

RNN_INLINE void bwd_gru_reset(const rnn_cell_args *a)
{
    const rnn_state *st = a->st;
    const rnn_buf *rb = a->rb;
    const rnn_grad *g = a->g;
    long u = rb->u, gu = rb->gu;
    for (long b = a->b0; b < a->b1; b++) {
        if (skipped(a, b))
            continue;
        const float *z = ROW(rb->Z, b, gu), *y = ROW(rb->A, b, gu);
        const float *hp = ROW(rb->Hp, b, u), *gr = y + u, *dt = g->dt + b * u;
        float *dzr = ROW(g->dZ, b, gu) + u, *dh = g->dh + b * u;
        for (long j = 0; j < u; j++) {
            dzr[j] = dt[j] * hp[j];
            dh[j] += dt[j] * gr[j];
        }
        rnn_act_bwd(st->frec, st->rec_act, z + u, gr, dzr, u);
    }
}

/* ---- one copy per instruction set --------------------------------------- */

RNN_INLINE void fwd_any(const rnn_cell_args *a)
{
    switch (a->st->cell) {
    case RNN_SIMPLE: step_simple(a); break;
    case RNN_LSTM: step_lstm(a); break;
    case RNN_GRU: step_gru(a); break;
    }
}

RNN_INLINE void bwd_any(const rnn_cell_args *a)
{
    switch (a->st->cell) {
    case RNN_SIMPLE: bwd_simple(a); break;
    case RNN_LSTM: bwd_lstm(a); break;
    case RNN_GRU: bwd_gru(a); break;
    }
}

#define VARIANTS(name, body)                                                \
    static void name##_c(const rnn_cell_args *a) { body(a); }               \
    VARIANTS_X86(name, body)                                                \
    void name(const rnn_cell_args *a)                                       \
    {                                                                       \
        DISPATCH_X86(name)                                                  \
        name##_c(a);                                                        \
    }

#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
#define VARIANTS_X86(name, body)                                            \
    __attribute__((target("avx512f,avx512dq,avx2,fma")))                    \
    static void name##_512(const rnn_cell_args *a) { body(a); }             \
    __attribute__((target("avx2,fma")))                                     \
    static void name##_256(const rnn_cell_args *a) { body(a); }
#define DISPATCH_X86(name)                                                  \
    sq_isa isa = sq_isa_active();                                           \
    if (isa == SQ_ISA_AVX512) { name##_512(a); return; }                    \
    if (isa == SQ_ISA_AVX2) { name##_256(a); return; }
#else
#define VARIANTS_X86(name, body)
#define DISPATCH_X86(name)
#endif

VARIANTS(rnn_cell_step, fwd_any)
VARIANTS(rnn_gru_gates, gru_gates)
VARIANTS(rnn_cell_step_bwd, bwd_any)
VARIANTS(rnn_gru_reset_bwd, bwd_gru_reset)
