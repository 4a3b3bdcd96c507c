/* rnn_cells.h - one time step of the SimpleRNN, LSTM and GRU cells for a
 * block of samples, forward and backward: the element-wise maths between
 * the recurrent products that rnn.c does (engine-internal). */
#ifndef SEQSH_RNN_CELLS_H
#define SEQSH_RNN_CELLS_H

#include "layers/rnn.h"

/* Where everything of one pass lives, (B, T, ...) by time. Training keeps,
 * for backward, the gates before (Z) and after (A) their activations (one
 * array when the activations' derivatives need only their outputs), the
 * recurrent input of every step (Hp: h_{t-1} after recurrent dropout),
 * and per cell: the LSTM's c_{t-1} (Cp), c_t (C, only when its
 * activation's derivative needs it) and act(c_t) (TC); the GRU's
 * recurrent h-part with its bias (Mh, reset_after) or r * h_{t-1} (RH);
 * the dropped input (Xd) and the dropout masks. The rest lives for one
 * call: the states h and c, the carried output po, the new h and c (hn,
 * cn), the GRU's recurrent product M. */
typedef struct {
    long B, T, d, u, gu;
    int training;          /* Z, A, Hp... are the cache's (B, T, ...) arrays */
    int keep_z;            /* Z and A are apart */
    int drop, rdrop;       /* input / recurrent dropout happened */
    float *flag;           /* the cache's first float: whether drop happened */
    float *Z, *A, *Hp, *Cp, *C, *TC, *Mh, *RH, *Xd, *dmask, *rmask;
    float *h, *c, *po, *M, *hn, *cn, *tc;
} rnn_buf;

/* Backward's scratch: dZ (the gates' pre-activation gradients; dM, the
 * GRU's recurrent part, differs from it when reset_after), the running
 * gradients of the states (dh, dc) and of the carried output (dcar), a row
 * per sample (dt), and the dropped input's gradient. */
typedef struct {
    float *dZ, *dM, *dh, *dc, *dcar, *dt, *dXd;
} rnn_grad;

typedef struct {
    const rnn_state *st;
    const rnn_buf *rb;
    const rnn_grad *g;
    long b0, b1, t;              /* samples [b0, b1) at time t */
    const float *bias_in;        /* the input bias, added here; NULL without */
    const float *bias_rec;       /* the GRU's recurrent bias (reset_after) */
    const uint8_t *mask;         /* backward: masked samples are skipped */
} rnn_cell_args;

/* Forward: Z[b, t] holds x_t K (+ h_{t-1} R for SimpleRNN and LSTM; the
 * GRU's recurrent products are in M); the biases are added here, so that Z
 * ends as the gates' pre-activations. Writes A[b, t], hn[b] (and cn[b]),
 * and in training the step's Cp, C, TC, Mh. */
void rnn_cell_step(const rnn_cell_args *a);
/* GRU without reset_after, before its second product: z and r into A (their
 * biases added), and r * h_{t-1} into RH. */
void rnn_gru_gates(const rnn_cell_args *a);
/* Backward for the unmasked samples: from dh = dL/dh_t (and dc), dZ[b, t]
 * (and dM), then dh <- the direct part of dL/dh_{t-1} (GRU: z * dh), dc <-
 * dL/dc_{t-1}. */
void rnn_cell_step_bwd(const rnn_cell_args *a);
/* GRU without reset_after, between its two products: with dt = d(r *
 * h_{t-1}), r's gradient into dZ and r * dt into dh. */
void rnn_gru_reset_bwd(const rnn_cell_args *a);

#endif
