/* simple_rnn.c - SimpleRNN (Keras 2.6): h = act(x K + b + h_{t-1} R);
 * weights under the cell's name (simple_rnn/simple_rnn_cell/kernel). The
 * work is in rnn.c. */
#include "layers/rnn.h"

static const sq_optdef opts[] = {
    { .name = "units", .type = OPT_INT, .help = "dimensionality of the output space" },
    { .name = "activation", .type = OPT_ACT, .def = "tanh", .help = "of the state" },
    { .name = "use_bias", .type = OPT_BOOL, .def = "true", .help = "whether the layer uses a bias vector" },
    { .name = "dropout", .type = OPT_FLOAT, .def = "0.0", .help = "fraction of the inputs dropped while training (one mask per sequence)" },
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
    return rnn_configure(l, RNN_SIMPLE, v, err);
}

const sq_layer_kind sq_kind_simple_rnn = {
    .class_name = "SimpleRNN",
    .base_name = "simple_rnn",
    .opts = opts,
    .npositional = 3,
    .summary = "fully-connected recurrent layer: the output is fed back",
    .shape_rule = "(B, T, d) -> (B, units), or (B, T, units) with return_sequences; "
                  "params units*(d+units) + units",
    .example = "input 10 8; add simplernn 16 return_sequences=true; add simplernn 4 relu",
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
