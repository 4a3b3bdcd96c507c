/* rnn.c - the recurrent core of SimpleRNN, LSTM and GRU: options, shapes,
 * weights (under the cell's name), masks, stateful states, dropout, and the
 * forward and backward passes through time.
 *
 * Everything is laid out batch-major and indexed by time, (B, T, ...), as
 * the input is. The input projection of all time steps is one GEMM (B*T
 * rows); only the recurrent product h_{t-1} R is per step. Backward keeps
 * the per-step work to the recurrent product dZ_t R^T and the cells'
 * element-wise maths; the weight gradients (X^T dZ, H_{t-1}^T dZ) and the
 * input gradient (dZ K^T) are one GEMM each over all steps. Samples are
 * independent through time, so the batch is cut into blocks of samples
 * that the thread pool runs through all steps at once.
 *
 * Keras's rules kept here: a masked step keeps the previous states and
 * outputs the previous output (0 before the first real step), or 0 when
 * zero_output_for_mask (Bidirectional's copies returning sequences);
 * go_backwards runs from the last step and returns the sequence in that
 * order; dropout masks are drawn once per sequence (one for the inputs, one
 * for the recurrent state) and used at every step, except the input's in
 * the LSTM and GRU configurations that Keras runs on its cuDNN-compatible
 * path (a new mask every step); GRU's default implementation 2 ignores
 * recurrent_dropout. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "layers/rnn.h"
#include "kernels/blas.h"
#include "kernels/threads.h"
#include "layers/rnn_cells.h"

static const char *class_of(const sq_layer *l)
{
    return l->kind->class_name;
}

/* ---- options ------------------------------------------------------------ */

/* The value of option `name`, or NULL when the kind has none. */
static const sq_optval *opt(const sq_layer *l, const sq_optval *v, const char *name)
{
    int i = sq_opt_index(l->kind, name);
    return i < 0 ? NULL : &v[i];
}

static rnn_act_fast fast_kind(const char *name)
{
    if (!strcmp(name, "sigmoid")) return RA_SIGMOID;
    if (!strcmp(name, "tanh")) return RA_TANH;
    if (!strcmp(name, "hard_sigmoid")) return RA_HARD_SIGMOID;
    if (!strcmp(name, "relu")) return RA_RELU;
    if (!strcmp(name, "linear")) return RA_LINEAR;
    return RA_OTHER;
}

int rnn_is(const sq_layer *l)
{
    return l->kind->forward == rnn_forward;
}

const char *rnn_cell_base(rnn_cell c)
{
    return c == RNN_LSTM ? "lstm_cell" : c == RNN_GRU ? "gru_cell" : "simple_rnn_cell";
}

void rnn_set_cell_name(sq_layer *l, const char *name)
{
    rnn_state *st = l->state;
    static const char *const w[3] = { "kernel", "recurrent_kernel", "bias" };
    snprintf(st->cell_name, sizeof st->cell_name, "%s", name);
    for (int i = 0; i < 3; i++)
        snprintf(st->wname[i], sizeof st->wname[i], "%s/%s", st->cell_name, w[i]);
}

/* Keras clamps the rates to [0, 1] (recurrent.py: min(1., max(0., rate))) */
static float clamp01(double r)
{
    return r < 0 ? 0.0f : r > 1 ? 1.0f : (float)r;
}

int rnn_configure(sq_layer *l, rnn_cell cell, const sq_optval *v, sq_error *err)
{
    rnn_state *st = l->state;
    const sq_optval *o;
    st->cell = cell;
    st->units = opt(l, v, "units")->i[0];
    if (st->units <= 0)
        return sq_fail(err, "Received an invalid value for `units`, expected a positive "
                       "integer, got %ld.", st->units);
    st->act = sq_activation_find(opt(l, v, "activation")->s);
    st->fact = fast_kind(opt(l, v, "activation")->s);
    o = opt(l, v, "recurrent_activation");
    st->rec_act = o ? sq_activation_find(o->s) : 0;
    st->frec = o ? fast_kind(o->s) : RA_LINEAR;
    st->use_bias = (int)opt(l, v, "use_bias")->i[0];
    st->dropout = clamp01(opt(l, v, "dropout")->f);
    st->recurrent_dropout = clamp01(opt(l, v, "recurrent_dropout")->f);
    st->return_sequences = (int)opt(l, v, "return_sequences")->i[0];
    st->return_state = (int)opt(l, v, "return_state")->i[0];
    st->go_backwards = (int)opt(l, v, "go_backwards")->i[0];
    st->stateful = (int)opt(l, v, "stateful")->i[0];
    o = opt(l, v, "unit_forget_bias");
    st->unit_forget_bias = o ? (int)o->i[0] : 0;
    o = opt(l, v, "reset_after");
    st->reset_after = o ? (int)o->i[0] : 0;
    o = opt(l, v, "cell_name");
    rnn_set_cell_name(l, o && o->s[0] ? o->s : rnn_cell_base(cell));
    /* Keras 2.6's LSTM and GRU run their cuDNN-compatible path when they
     * can (recurrent_v2.py _could_use_gpu_kernel), and that path drops the
     * whole (B, T, d) input at once: a new mask at every step. The cell's
     * own path (any other case, and SimpleRNN) keeps one per sequence. */
    st->dropout_per_step = st->cell != RNN_SIMPLE && st->fact == RA_TANH
                           && st->frec == RA_SIGMOID && opt(l, v, "recurrent_dropout")->f == 0
                           && st->use_bias && !opt(l, v, "unroll")->i[0]
                           && (st->cell == RNN_LSTM || st->reset_after);
    return 0;
}

void rnn_auto_names(sq_layer *l, sq_namer *nm)
{
    rnn_state *st = l->state;
    int i = sq_opt_index(l->kind, "cell_name");
    if (i < 0 || l->opt[i].set)
        return;
    nm->next(nm, rnn_cell_base(st->cell), l->opt[i].s, sizeof l->opt[i].s);
    l->opt[i].set = 1;
    rnn_set_cell_name(l, l->opt[i].s);
}

/* ---- shapes and weights ------------------------------------------------- */

static long gates(const rnn_state *st)
{
    return st->cell == RNN_LSTM ? 4 : st->cell == RNN_GRU ? 3 : 1;
}

size_t rnn_macs(const sq_layer *l, const sq_shape *in, const sq_shape *out, sbuf *why)
{
    (void)out;
    const rnn_state *st = l->state;
    long t = in->rank == 3 ? in->d[1] : -1, d = in->rank == 3 ? in->d[2] : -1, u = st->units;
    long g = gates(st);
    if (t <= 0 || d <= 0) {
        if (why)
            sb_printf(why, "0  (the number of steps is not known)");
        return 0;
    }
    size_t total = (size_t)t * (size_t)g * (size_t)u * (size_t)(d + u);
    if (why) {
        if (g == 1)
            sb_printf(why, "%zu = %ld * %ld*(%ld+%ld)  (each of the %ld steps: every unit's dot "
                      "product with the %ld inputs and the %ld state values)", total, t, u, d, u,
                      t, d, u);
        else
            sb_printf(why, "%zu = %ld * %ld*%ld*(%ld+%ld)  (each of the %ld steps: the %ld gates' "
                      "dot products with the %ld inputs and the %ld state values)", total, t, g, u,
                      d, u, t, g, d, u);
    }
    return total;
}

int rnn_output_shape(const sq_layer *l, const sq_shape *in, sq_shape *out, sq_error *err)
{
    const rnn_state *st = l->state;
    char a[128], b[128];
    if (in->rank != 3)
        return sq_fail_ndim(err, l, 3, in);
    if (in->d[2] < 0)
        return sq_fail(err, "The last dimension of the inputs to `%s` should be defined. "
                       "Found `None`.", class_of(l));
    if (st->return_state)
        return sq_fail(err, "All layers in a Sequential model should have a single output "
                       "tensor. For multi-output layers, use the functional API.");
    if (st->stateful && in->d[0] < 0)
        return sq_fail(err, "If a RNN is stateful, it needs to know its batch size. Specify "
                       "the batch size of your input tensors: - If using a Sequential model, "
                       "specify the batch size by passing a `batch_input_shape` argument to "
                       "your first layer. - If using the functional API, specify the batch "
                       "size by passing a `batch_shape` argument to your Input layer.");
    if (st->stateful && l->built && in->d[0] != l->in_shape.d[0]) {
        sq_shape spec = { 3, { l->in_shape.d[0], -1, l->in_shape.d[2] } };
        return sq_fail(err, "Input 0 is incompatible with layer %s: expected shape=%s, found "
                       "shape=%s", l->name, sq_shape_str(&spec, a, sizeof a),
                       sq_shape_str(in, b, sizeof b));
    }
    out->rank = st->return_sequences ? 3 : 2;
    out->d[0] = in->d[0];
    out->d[1] = st->return_sequences ? in->d[1] : st->units;
    out->d[2] = st->units;
    return 0;
}

int rnn_weights(const sq_layer *l, const sq_shape *in, sq_weight_spec *w)
{
    const rnn_state *st = l->state;
    long u = st->units, gu = gates(st) * u;
    w[0] = (sq_weight_spec){ st->wname[0], { 2, { in->d[2], gu } }, INIT_GLOROT_UNIFORM, 1 };
    w[1] = (sq_weight_spec){ st->wname[1], { 2, { u, gu } }, INIT_ORTHOGONAL, 1 };
    if (!st->use_bias)
        return 2;
    if (st->cell == RNN_GRU && st->reset_after)
        w[2] = (sq_weight_spec){ st->wname[2], { 2, { 2, gu } }, INIT_ZEROS, 1 };
    else
        w[2] = (sq_weight_spec){ st->wname[2], { 1, { gu } },
                                 st->cell == RNN_LSTM && st->unit_forget_bias
                                 ? INIT_FORGET_BIAS : INIT_ZEROS, 1 };
    return 3;
}

sq_mask_rule rnn_mask(const sq_layer *l, int in_masked)
{
    const rnn_state *st = l->state;
    (void)in_masked;
    return st->return_sequences ? SQ_MASK_KEEP : SQ_MASK_DROP;
}

size_t rnn_states(const sq_layer *l)
{
    const rnn_state *st = l->state;
    if (!st->stateful)
        return 0;
    return (size_t)(st->cell == RNN_LSTM ? 2 : 1) * (size_t)st->units;
}

/* ---- buffers ------------------------------------------------------------ */

/* Whether an activation's derivative needs its input, not only its output. */
static int needs_z(rnn_act_fast f)
{
    return f == RA_OTHER;
}

/* Lays out the buffers of a pass over `in` from cache (training: what
 * backward needs) and scratch (the rest); with both NULL it only counts.
 * The cache has room for dropout whenever the layer has any: whether a
 * pass drops (rb->drop, rb->rdrop) is the caller's to set. Returns the
 * floats of {cache, scratch} in sizes. */
static void layout(const sq_layer *l, const sq_shape *in, int training, float *cache,
                   float *scratch, rnn_buf *rb, size_t sizes[2])
{
    const rnn_state *st = l->state;
    memset(rb, 0, sizeof *rb);
    long B = in->d[0] < 0 ? 0 : in->d[0], T = in->d[1] < 0 ? 0 : in->d[1];
    rb->B = B;
    rb->T = T;
    rb->d = in->d[2];
    rb->u = st->units;
    rb->gu = gates(st) * st->units;
    rb->training = training;
    rb->keep_z = needs_z(st->fact) || needs_z(st->frec);
    int can_drop = training && st->dropout > 0 && st->dropout < 1;
    int can_rdrop = training && st->recurrent_dropout > 0 && st->recurrent_dropout < 1
                    && st->cell != RNN_GRU;
    size_t BT = (size_t)B * (size_t)T, u = (size_t)rb->u, gu = (size_t)rb->gu;
    size_t nc = 0, ns = 0;
    float *cp = cache, *sp = scratch;
#define TAKE(ptr, n, inc) do { size_t n_ = (n); \
        if (inc) { rb->ptr = cp ? cp + nc : NULL; nc += n_; } \
        else { rb->ptr = sp ? sp + ns : NULL; ns += n_; } } while (0)
    int k = training;   /* what backward needs goes to the cache */
    if (training)
        TAKE(flag, 1, 1);
    TAKE(Z, BT * gu, k);
    if (training && rb->keep_z)
        TAKE(A, BT * gu, 1);
    else
        rb->A = rb->Z;
    if (training)
        TAKE(Hp, BT * u, 1);
    if (st->cell == RNN_LSTM) {
        if (training) {
            TAKE(Cp, BT * u, 1);
            TAKE(TC, BT * u, 1);
            if (rb->keep_z)
                TAKE(C, BT * u, 1);
        }
        TAKE(c, (size_t)B * u, 0);
        TAKE(cn, (size_t)B * u, 0);
        TAKE(tc, (size_t)B * u, 0);
    }
    if (st->cell == RNN_GRU) {
        TAKE(M, (size_t)B * gu, 0);
        if (training && st->reset_after)
            TAKE(Mh, BT * u, 1);
        if (!st->reset_after)
            TAKE(RH, training ? BT * u : (size_t)B * u, k);
    }
    if (can_drop) {
        TAKE(Xd, BT * (size_t)rb->d, 1);
        TAKE(dmask, (st->dropout_per_step ? BT : (size_t)B) * (size_t)rb->d, 1);
    }
    if (can_rdrop)
        TAKE(rmask, (size_t)B * u, 1);
    TAKE(h, (size_t)B * u, 0);
    TAKE(po, (size_t)B * u, 0);
    TAKE(hn, (size_t)B * u, 0);
#undef TAKE
    sizes[0] = nc;
    sizes[1] = ns;
}

size_t rnn_scratch(const sq_layer *l, const sq_shape *in)
{
    rnn_buf rb;
    size_t inf[2], tr[2];
    layout(l, in, 0, NULL, NULL, &rb, inf);
    layout(l, in, 1, NULL, NULL, &rb, tr);
    return inf[1] > tr[1] ? inf[1] : tr[1];
}

size_t rnn_cache(const sq_layer *l, const sq_shape *in)
{
    rnn_buf rb;
    size_t tr[2];
    layout(l, in, 1, NULL, NULL, &rb, tr);
    return tr[0];
}

static size_t grad_layout(const sq_layer *l, const sq_shape *in, float *scratch, rnn_grad *g)
{
    const rnn_state *st = l->state;
    long B = in->d[0] < 0 ? 0 : in->d[0], T = in->d[1] < 0 ? 0 : in->d[1];
    size_t BT = (size_t)B * (size_t)T, u = (size_t)st->units, gu = (size_t)gates(st) * u;
    size_t n = 0;
    memset(g, 0, sizeof *g);
#define TAKE(ptr, cnt) do { g->ptr = scratch ? scratch + n : NULL; n += (cnt); } while (0)
    TAKE(dZ, BT * gu);
    if (st->cell == RNN_GRU && st->reset_after)
        TAKE(dM, BT * gu);
    else
        g->dM = g->dZ;
    TAKE(dh, (size_t)B * u);
    TAKE(dc, (size_t)B * u);
    TAKE(dcar, (size_t)B * u);
    TAKE(dt, (size_t)B * u);
    if (st->dropout > 0 && st->dropout < 1)
        TAKE(dXd, BT * (size_t)in->d[2]);
#undef TAKE
    return n;
}

size_t rnn_scratch_bwd(const sq_layer *l, const sq_shape *in)
{
    rnn_grad g;
    return grad_layout(l, in, NULL, &g);
}

/* ---- forward ------------------------------------------------------------ */

typedef struct {
    const sq_layer *l;
    const rnn_state *st;
    const rnn_buf *rb;
    const float *K, *R, *bias;
    const uint8_t *mask;
    float *out;
    long ostride;
    int by_time;
    float *states;
    long sstride;
    volatile int *intr;
} fwd_ctx;

/* Samples [b0, b1) through every step. */
static void fwd_block(void *vctx, long b0, long b1, int tid)
{
    const fwd_ctx *x = vctx;
    const rnn_state *st = x->st;
    const rnn_buf *rb = x->rb;
    (void)tid;
    long T = rb->T, u = rb->u, gu = rb->gu, m = b1 - b0;
    int lstm = st->cell == RNN_LSTM;
    /* the initial state: the stored one (stateful) or zeros */
    for (long b = b0; b < b1; b++) {
        for (long j = 0; j < u; j++) {
            rb->h[b * u + j] = x->states ? x->states[b * x->sstride + j] : 0.0f;
            rb->po[b * u + j] = 0.0f;
            if (lstm)
                rb->c[b * u + j] = x->states ? x->states[b * x->sstride + u + j] : 0.0f;
        }
    }
    for (long s = 0; s < T; s++) {
        if (x->intr && *x->intr)
            return;
        long t = st->go_backwards ? T - 1 - s : s;
        /* the recurrent input: the state, after recurrent dropout */
        const float *src = rb->h + b0 * u;
        long lda = u;
        if (rb->training) {
            for (long b = b0; b < b1; b++) {
                float *hp = rb->Hp + ((size_t)b * T + t) * u;
                for (long j = 0; j < u; j++)
                    hp[j] = rb->rdrop ? rb->h[b * u + j] * rb->rmask[b * u + j]
                                      : rb->h[b * u + j];
            }
            src = rb->Hp + ((size_t)b0 * T + t) * u;
            lda = T * u;
        }
        float *zt = rb->Z + ((size_t)b0 * T + t) * gu;
        if (st->cell == RNN_GRU) {
            long n = st->reset_after ? gu : 2 * u;
            sq_gemm(0, 0, (int)m, (int)n, (int)u, 1.0f, src, (int)lda, x->R, (int)gu, 0.0f,
                    rb->M + b0 * gu, (int)gu);
        } else {
            sq_gemm(0, 0, (int)m, (int)gu, (int)u, 1.0f, src, (int)lda, x->R, (int)gu, 1.0f,
                    zt, (int)(T * gu));
        }
        rnn_cell_args a = { .st = st, .rb = rb, .b0 = b0, .b1 = b1, .t = t, .bias_in = x->bias,
                            .bias_rec = x->bias && st->cell == RNN_GRU && st->reset_after
                                        ? x->bias + gu : NULL };
        if (st->cell == RNN_GRU && !st->reset_after) {
            /* r first, then (r * h_{t-1}) R_h */
            rnn_gru_gates(&a);
            const float *rsrc = rb->training ? rb->RH + ((size_t)b0 * T + t) * u : rb->RH + b0 * u;
            sq_gemm(0, 0, (int)m, (int)u, (int)u, 1.0f, rsrc, (int)(rb->training ? T * u : u),
                    x->R + 2 * u, (int)gu, 1.0f, zt + 2 * u, (int)(T * gu));
        }
        rnn_cell_step(&a);
        /* masks: a masked step keeps the state and repeats the output */
        for (long b = b0; b < b1; b++) {
            int keep = !x->mask || x->mask[b * T + t];
            float *h = rb->h + b * u, *po = rb->po + b * u;
            const float *hn = rb->hn + b * u;
            if (keep) {
                memcpy(h, hn, (size_t)u * sizeof *h);
                memcpy(po, hn, (size_t)u * sizeof *po);
                if (lstm)
                    memcpy(rb->c + b * u, rb->cn + b * u, (size_t)u * sizeof(float));
            } else if (st->zero_output_for_mask) {
                memset(po, 0, (size_t)u * sizeof *po);
            }
            if (st->return_sequences) {
                long idx = x->by_time ? T - 1 - s : s;
                memcpy(x->out + ((size_t)b * T + idx) * x->ostride, po, (size_t)u * sizeof *po);
            }
        }
    }
    for (long b = b0; b < b1; b++) {
        if (!st->return_sequences)
            memcpy(x->out + b * x->ostride, rb->po + b * u, (size_t)u * sizeof(float));
        if (x->states) {
            memcpy(x->states + b * x->sstride, rb->h + b * u, (size_t)u * sizeof(float));
            if (lstm)
                memcpy(x->states + b * x->sstride + u, rb->c + b * u, (size_t)u * sizeof(float));
        }
    }
}

/* Inverted dropout masks, one per sequence: kept with probability 1 - rate
 * and scaled by 1 / (1 - rate). */
static void draw_mask(float *m, size_t n, float rate, sq_rng *rng)
{
    float keep = 1.0f / (1.0f - rate);
    for (size_t i = 0; i < n; i++)
        m[i] = sq_rng_uniform(rng) >= rate ? keep : 0.0f;
}

/* Sample blocks for the pool: about one per thread, at least 8 samples. */
static long block_size(long B)
{
    long nt = sq_pool_threads();
    long each = (B + nt - 1) / (nt ? nt : 1);
    return each < 8 ? 8 : each;
}

void rnn_run_forward(const sq_layer *l, const sq_fwd *f, float *out, long ostride, int by_time,
                     float *states, long sstride)
{
    const rnn_state *st = l->state;
    rnn_buf rb;
    size_t sizes[2];
    layout(l, f->in_shape, f->cache != NULL, f->cache, f->scratch, &rb, sizes);
    /* dropout only in a training step; backward reads what happened */
    rb.drop = f->training && rb.Xd;
    rb.rdrop = f->training && rb.rmask;
    if (rb.flag)
        *rb.flag = (float)(rb.drop + 2 * rb.rdrop);
    long B = rb.B, T = rb.T, d = rb.d, gu = rb.gu;
    size_t BT = (size_t)B * (size_t)T;
    if (B == 0)
        return;
    const float *K = f->w, *R = K + d * gu, *bias = st->use_bias ? R + rb.u * gu : NULL;
    /* dropout: the masks, then the dropped input */
    const float *x = f->in;
    if (rb.drop) {
        size_t per = st->dropout_per_step ? 1 : (size_t)T;   /* rows sharing a mask row */
        draw_mask(rb.dmask, BT / per * (size_t)d, st->dropout, f->rng);
        for (size_t r = 0; r < BT; r++)
            for (long j = 0; j < d; j++)
                rb.Xd[r * (size_t)d + j] = f->in[r * (size_t)d + j] * rb.dmask[(r / per) * (size_t)d + j];
        x = rb.Xd;
    }
    if (rb.rdrop)
        draw_mask(rb.rmask, (size_t)B * (size_t)rb.u, st->recurrent_dropout, f->rng);
    /* the input projection of every step, Z = x K (the cells add the bias) */
    sq_gemm(0, 0, (int)BT, (int)gu, (int)d, 1.0f, x, (int)d, K, (int)gu, 0.0f, rb.Z, (int)gu);
    fwd_ctx ctx = { l, st, &rb, K, R, bias, f->mask, out, ostride, by_time, states, sstride,
                    f->intr };
    sq_parallel_for(B, block_size(B), fwd_block, &ctx);
}

void rnn_forward(const sq_layer *l, const sq_fwd *f)
{
    const rnn_state *st = l->state;
    rnn_run_forward(l, f, f->out, st->units, 0, f->states, (long)rnn_states(l));
}

/* ---- backward ----------------------------------------------------------- */

typedef struct {
    const rnn_state *st;
    const rnn_buf *rb;
    const rnn_grad *g;
    const float *R;
    const uint8_t *mask;
    const float *dout;
    long dstride;
    int by_time;
} bwd_ctx;

static void bwd_block(void *vctx, long b0, long b1, int tid)
{
    const bwd_ctx *x = vctx;
    const rnn_state *st = x->st;
    const rnn_buf *rb = x->rb;
    const rnn_grad *g = x->g;
    (void)tid;
    long T = rb->T, u = rb->u, gu = rb->gu, m = b1 - b0;
    memset(g->dh + b0 * u, 0, (size_t)(m * u) * sizeof(float));
    memset(g->dc + b0 * u, 0, (size_t)(m * u) * sizeof(float));
    /* without return_sequences only the last output has a gradient: it is
     * the output carried out of the last step */
    for (long b = b0; b < b1; b++)
        for (long j = 0; j < u; j++)
            g->dcar[b * u + j] = st->return_sequences ? 0.0f : x->dout[b * x->dstride + j];
    for (long s = T - 1; s >= 0; s--) {
        long t = st->go_backwards ? T - 1 - s : s;
        for (long b = b0; b < b1; b++) {
            float *car = g->dcar + b * u;
            if (st->return_sequences) {
                const float *dy = x->dout + ((size_t)b * T + (x->by_time ? T - 1 - s : s))
                                  * x->dstride;
                for (long j = 0; j < u; j++)
                    car[j] += dy[j];
            }
            float *dz = g->dZ + ((size_t)b * T + t) * gu;
            if (x->mask && !x->mask[b * T + t]) {
                /* the output repeats the previous one (or is 0); the
                 * states pass through untouched */
                memset(dz, 0, (size_t)gu * sizeof *dz);
                if (g->dM != g->dZ)
                    memset(g->dM + ((size_t)b * T + t) * gu, 0, (size_t)gu * sizeof(float));
                if (st->zero_output_for_mask)
                    memset(car, 0, (size_t)u * sizeof *car);
                continue;
            }
            /* dh <- dL/dh_t: from later steps and from this output */
            float *dh = g->dh + b * u;
            for (long j = 0; j < u; j++) {
                dh[j] += car[j];
                car[j] = 0.0f;
            }
        }
        rnn_cell_args a = { .st = st, .rb = rb, .g = g, .b0 = b0, .b1 = b1, .t = t,
                            .mask = x->mask };
        rnn_cell_step_bwd(&a);
        const float *dzt = g->dM + ((size_t)b0 * T + t) * gu;
        if (st->cell == RNN_GRU && !st->reset_after) {
            /* d(r * h_{t-1}) = dZ_h R_h^T, then the r gate */
            sq_gemm(0, 1, (int)m, (int)u, (int)u, 1.0f, dzt + 2 * u, (int)(T * gu), x->R + 2 * u,
                    (int)gu, 0.0f, g->dt + b0 * u, (int)u);
            rnn_gru_reset_bwd(&a);
            sq_gemm(0, 1, (int)m, (int)u, (int)(2 * u), 1.0f, dzt, (int)(T * gu), x->R, (int)gu,
                    1.0f, g->dh + b0 * u, (int)u);
        } else if (rb->rdrop) {
            sq_gemm(0, 1, (int)m, (int)u, (int)gu, 1.0f, dzt, (int)(T * gu), x->R, (int)gu, 0.0f,
                    g->dt + b0 * u, (int)u);
            for (long i = b0 * u; i < b1 * u; i++)
                g->dh[i] += g->dt[i] * rb->rmask[i];
        } else {
            sq_gemm(0, 1, (int)m, (int)u, (int)gu, 1.0f, dzt, (int)(T * gu), x->R, (int)gu, 1.0f,
                    g->dh + b0 * u, (int)u);
        }
    }
}

/* Column sums of a (rows, n) matrix into out. */
static void colsum(const float *a, size_t rows, long n, float *out)
{
    for (long j = 0; j < n; j++)
        out[j] = 0.0f;
    for (size_t r = 0; r < rows; r++)
        for (long j = 0; j < n; j++)
            out[j] += a[r * (size_t)n + j];
}

void rnn_run_backward(const sq_layer *l, const sq_bwd *b, const float *dout, long dstride,
                      int by_time, int din_add)
{
    const rnn_state *st = l->state;
    rnn_buf rb;
    rnn_grad g;
    size_t sizes[2];
    /* the forward scratch is gone; backward uses the scratch for its own */
    layout(l, b->in_shape, 1, (float *)b->cache, NULL, &rb, sizes);
    rb.drop = ((int)*rb.flag & 1) != 0;
    rb.rdrop = ((int)*rb.flag & 2) != 0;
    grad_layout(l, b->in_shape, b->scratch, &g);
    long B = rb.B, T = rb.T, d = rb.d, u = rb.u, gu = rb.gu;
    size_t BT = (size_t)B * (size_t)T;
    const float *K = b->w, *R = K + d * gu;
    if (B == 0)
        return;
    bwd_ctx ctx = { st, &rb, &g, R, b->mask, dout, dstride, by_time };
    sq_parallel_for(B, block_size(B), bwd_block, &ctx);
    const float *x = rb.drop ? rb.Xd : b->in;
    if (b->dw) {
        float *dK = b->dw, *dR = dK + d * gu, *db = dR + u * gu;
        sq_gemm(1, 0, (int)d, (int)gu, (int)BT, 1.0f, x, (int)d, g.dZ, (int)gu, 0.0f, dK, (int)gu);
        if (st->cell == RNN_GRU && !st->reset_after) {
            sq_gemm(1, 0, (int)u, (int)(2 * u), (int)BT, 1.0f, rb.Hp, (int)u, g.dZ, (int)gu, 0.0f,
                    dR, (int)gu);
            sq_gemm(1, 0, (int)u, (int)u, (int)BT, 1.0f, rb.RH, (int)u, g.dZ + 2 * u, (int)gu, 0.0f,
                    dR + 2 * u, (int)gu);
        } else {
            sq_gemm(1, 0, (int)u, (int)gu, (int)BT, 1.0f, rb.Hp, (int)u, g.dM, (int)gu, 0.0f, dR,
                    (int)gu);
        }
        if (st->use_bias) {
            colsum(g.dZ, BT, gu, db);
            if (st->cell == RNN_GRU && st->reset_after)
                colsum(g.dM, BT, gu, db + gu);
        }
    }
    if (b->din) {
        if (rb.drop) {
            sq_gemm(0, 1, (int)BT, (int)d, (int)gu, 1.0f, g.dZ, (int)gu, K, (int)gu, 0.0f, g.dXd,
                    (int)d);
            size_t per = st->dropout_per_step ? 1 : (size_t)T;
            for (size_t r = 0; r < BT; r++)
                for (long j = 0; j < d; j++) {
                    float v = g.dXd[r * (size_t)d + j] * rb.dmask[(r / per) * (size_t)d + j];
                    b->din[r * (size_t)d + j] = din_add ? b->din[r * (size_t)d + j] + v : v;
                }
        } else {
            sq_gemm(0, 1, (int)BT, (int)d, (int)gu, 1.0f, g.dZ, (int)gu, K, (int)gu,
                    din_add ? 1.0f : 0.0f, b->din, (int)d);
        }
    }
}

void rnn_backward(const sq_layer *l, const sq_bwd *b)
{
    const rnn_state *st = l->state;
    rnn_run_backward(l, b, b->dout, st->units, 0, 0);
}
