/* lstm.c - LSTM (Keras 2.6): gates i, f, c, o; weights under the cell's
 * name (lstm/lstm_cell/kernel). The work is in rnn.c. */
#include "layers/rnn.h"

static const sq_optdef opts[] = {
    { .name = "units", .type = OPT_INT, .help = "dimensionality of the output space" },
    { .name = "activation", .type = OPT_ACT, .def = "tanh", .help = "of the cell input and the output" },
    { .name = "recurrent_activation", .type = OPT_ACT, .def = "sigmoid", .help = "of the gates (hard_sigmoid is Keras 2's clip(0.2x+0.5, 0, 1))" },
    { .name = "use_bias", .type = OPT_BOOL, .def = "true", .help = "whether the layer uses a bias vector" },
    { .name = "unit_forget_bias", .type = OPT_BOOL, .def = "true", .help = "start the forget gate's bias at 1" },
    { .name = "dropout", .type = OPT_FLOAT, .def = "0.0", .help = "fraction of the inputs dropped while training (a new mask every step, or one per sequence with recurrent_dropout or other activations, as Keras 2.6)" },
    { .name = "recurrent_dropout", .type = OPT_FLOAT, .def = "0.0", .help = "fraction of the recurrent state dropped while training" },
    { .name = "return_sequences", .type = OPT_BOOL, .def = "false", .help = "output every step (B, T, units), not only the last" },
    { .name = "return_state", .type = OPT_BOOL, .def = "false", .help = "not in a Sequential model (one output per layer)" },
    { .name = "go_backwards", .type = OPT_BOOL, .def = "false", .help = "run from the last step; the output sequence comes reversed" },
    { .name = "stateful", .type = OPT_BOOL, .def = "false", .help = "keep each sample's last state for the next call (needs a fixed batch)" },
    { .name = "unroll", .type = OPT_BOOL, .def = "false", .help = "accepted for Keras scripts; changes nothing here" },
    { .name = "cell_name", .type = OPT_STR, .def = "", .hidden = 1 },
    { .name = NULL },
};

static int configure(sq_layer *l, const sq_optval *v, sq_error *err)
{
    return rnn_configure(l, RNN_LSTM, v, err);
}

const sq_layer_kind sq_kind_lstm = {
    .class_name = "LSTM",
    .base_name = "lstm",
    .opts = opts,
    .npositional = 4,
    .summary = "long short-term memory layer (Hochreiter & Schmidhuber 1997)",
    .shape_rule = "(B, T, d) -> (B, units), or (B, T, units) with return_sequences; "
                  "params 4*(units*(d+units) + units)",
    .example = "input 10 8; add lstm 16 return_sequences=true; add lstm 4",
    .state_size = sizeof(rnn_state),
    .configure = configure,
    .output_shape = rnn_output_shape,
    .weights = rnn_weights,
    .scratch = rnn_scratch,
    .forward = rnn_forward,
    .cache = rnn_cache,
    .scratch_bwd = rnn_scratch_bwd,
    .backward = rnn_backward,
    .mask = rnn_mask,
    .macs = rnn_macs,
    .reads_mask = 1,
    .states = rnn_states,
    .auto_names = rnn_auto_names,
};
