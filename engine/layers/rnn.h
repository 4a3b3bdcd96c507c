/* rnn.h - the recurrent core that SimpleRNN, LSTM and GRU share, and that
 * Bidirectional drives for its two copies (engine-internal). */
#ifndef SEQSH_RNN_H
#define SEQSH_RNN_H

#include "layers/layer.h"

typedef enum { RNN_SIMPLE, RNN_LSTM, RNN_GRU } rnn_cell;

/* An activation as the cells evaluate it: the common ones inline. */
typedef enum { RA_LINEAR, RA_SIGMOID, RA_TANH, RA_HARD_SIGMOID, RA_RELU, RA_OTHER } rnn_act_fast;

typedef struct {
    rnn_cell cell;
    long units;
    int act, rec_act;                 /* activation indices (activation.c) */
    rnn_act_fast fact, frec;          /* the same, for the inline paths */
    int use_bias;
    int return_sequences, return_state, go_backwards, stateful;
    float dropout, recurrent_dropout; /* used only when in (0, 1), as Keras */
    int unit_forget_bias;             /* LSTM */
    int reset_after;                  /* GRU */
    int zero_output_for_mask;         /* masked steps output 0 (Bidirectional's
                                         copies that return sequences) */
    int dropout_per_step;             /* a new input dropout mask every step */
    char cell_name[SQ_NAME_MAX];
    char wname[3][SQ_WNAME_MAX];      /* "lstm_cell/kernel", ... */
} rnn_state;

/* Reads the options of an RNN kind's table (looked up by name) into
 * l->state; the kind's class name is in Keras's messages. */
int rnn_configure(sq_layer *l, rnn_cell cell, const sq_optval *v, sq_error *err);
/* Sets the cell's name (and the weight names under it). */
void rnn_set_cell_name(sq_layer *l, const char *name);
/* The base of the cells' automatic names: "lstm_cell", ... */
const char *rnn_cell_base(rnn_cell c);
/* Whether l is a SimpleRNN, LSTM or GRU (its state an rnn_state). */
int rnn_is(const sq_layer *l);

/* The kind functions (layer.h) of the three RNN kinds. */
int rnn_output_shape(const sq_layer *l, const sq_shape *in, sq_shape *out, sq_error *err);
int rnn_weights(const sq_layer *l, const sq_shape *in, sq_weight_spec *w);
size_t rnn_scratch(const sq_layer *l, const sq_shape *in);
size_t rnn_cache(const sq_layer *l, const sq_shape *in);
size_t rnn_scratch_bwd(const sq_layer *l, const sq_shape *in);
void rnn_forward(const sq_layer *l, const sq_fwd *f);
void rnn_backward(const sq_layer *l, const sq_bwd *b);
sq_mask_rule rnn_mask(const sq_layer *l, int in_masked);
/* Multiply-adds of one sample (explain's count): each step, every gate's
 * dot products of the weights with the input and with the state. */
size_t rnn_macs(const sq_layer *l, const sq_shape *in, const sq_shape *out, sbuf *why);
size_t rnn_states(const sq_layer *l);
void rnn_auto_names(sq_layer *l, sq_namer *nm);

/* Bidirectional's entry points: the output rows go to out with `ostride`
 * floats between them (units for a plain layer, 2 * units into a concat),
 * in processing order, or in the reverse of it when by_time (Keras's
 * Bidirectional reverses the backward copy's outputs whichever way that
 * copy ran: back in time order when it ran backwards, the usual case);
 * the states of sample b at states + b * sstride. Backward reads dout the
 * same way and adds to din when din_add. */
void rnn_run_forward(const sq_layer *l, const sq_fwd *f, float *out, long ostride, int by_time,
                     float *states, long sstride);
void rnn_run_backward(const sq_layer *l, const sq_bwd *b, const float *dout, long dstride,
                      int by_time, int din_add);

#endif
