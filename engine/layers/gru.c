/* gru.c - GRU (Keras 2.6): gates z, r, h; reset_after=True (the default,
 * cuDNN's) has a (2, 3*units) bias [input; recurrent], reset_after=False a
 * (3*units,) one. Weights under the cell's name (gru/gru_cell/kernel). The
 * work is in rnn.c. */
#include "layers/rnn.h"

static const sq_optdef opts[] = {
    { .name = "units", .type = OPT_INT, .help = "dimensionality of the output space" },
    { .name = "activation", .type = OPT_ACT, .def = "tanh", .help = "of the candidate state" },
    { .name = "recurrent_activation", .type = OPT_ACT, .def = "sigmoid", .help = "of the gates (hard_sigmoid is Keras 2's clip(0.2x+0.5, 0, 1))" },
    { .name = "use_bias", .type = OPT_BOOL, .def = "true", .help = "whether the layer uses a bias vector" },
    { .name = "dropout", .type = OPT_FLOAT, .def = "0.0", .help = "fraction of the inputs dropped while training (a new mask every step, or one per sequence with recurrent_dropout, other activations or reset_after=false, as Keras 2.6)" },
    { .name = "recurrent_dropout", .type = OPT_FLOAT, .def = "0.0", .help = "accepted; as in Keras 2.6's GRU (implementation 2) it drops nothing" },
    { .name = "return_sequences", .type = OPT_BOOL, .def = "false", .help = "output every step (B, T, units), not only the last" },
    { .name = "return_state", .type = OPT_BOOL, .def = "false", .help = "not in a Sequential model (one output per layer)" },
    { .name = "go_backwards", .type = OPT_BOOL, .def = "false", .help = "run from the last step; the output sequence comes reversed" },
    { .name = "stateful", .type = OPT_BOOL, .def = "false", .help = "keep each sample's last state for the next call (needs a fixed batch)" },
    { .name = "unroll", .type = OPT_BOOL, .def = "false", .help = "accepted for Keras scripts; changes nothing here" },
    { .name = "reset_after", .type = OPT_BOOL, .def = "true", .help = "apply the reset gate after the recurrent product (separate recurrent bias)" },
    { .name = "cell_name", .type = OPT_STR, .def = "", .hidden = 1 },
    { .name = NULL },
};

static int configure(sq_layer *l, const sq_optval *v, sq_error *err)
{
    return rnn_configure(l, RNN_GRU, v, err);
}

const sq_layer_kind sq_kind_gru = {
    .class_name = "GRU",
    .base_name = "gru",
    .opts = opts,
    .npositional = 4,
    .summary = "gated recurrent unit (Cho et al. 2014)",
    .shape_rule = "(B, T, d) -> (B, units), or (B, T, units) with return_sequences; "
                  "params 3*(units*(d+units) + 2*units), 3*(units*(d+units) + units) "
                  "with reset_after=false",
    .example = "input 10 8; add gru 16 return_sequences=true; add gru 4 reset_after=false",
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
