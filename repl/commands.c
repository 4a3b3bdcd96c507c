/* commands.c - the command table: every command's name, usage, help,
 * handler, argument counts and completion. Dispatch, `help`, usage errors,
 * Tab completion and the documentation tests all read this one table; the
 * handlers live in cmd_*.c by area. */
#include <string.h>
#include "shell.h"

const sh_command sh_commands[] = {
    { "model", "model [NAME]", "start a new, empty Sequential model",
      "Replaces the current model with a new empty one (keras.Sequential(name=NAME)).\n"
      "Unnamed models are called sequential, sequential_1, ...\n\nexample: model my_net",
      cmd_model, 0, 1, C_NONE, U_CHANGES },
    { "input", "input D1 [D2 ...]", "give the model its input shape (keras.Input)",
      "Fixes the input shape without the batch, so the model is built at once and\n"
      "summary shows (None, ...) shapes.\n\nexample: input 250 250 3",
      cmd_input, 1, -1, C_NONE, U_CHANGES },
    { "add", "add KIND [ARGS...] [key=value...] | add model FILE [trainable=false]", "add a layer (model.add)",
      "Adds a layer of Keras class KIND (Dense, Conv2D, MaxPooling2D, ... matched\n"
      "ignoring case and underscores). Positional ARGS follow the Keras constructor;\n"
      "a bare activation name sets activation=. 'add model FILE [trainable=false]\n"
      "[name=NAME]' stacks a saved model as one layer.\n\nexample: add conv2d 32 3 strides=2 relu",
      cmd_add, 1, -1, C_KIND, U_APPENDS },
    { "pop", "pop", "remove the last layer (model.pop)",
      "Removes the last layer. Name counters are not rewound.\n\nexample: pop",
      cmd_pop, 0, 0, C_NONE, U_CHANGES },
    { "layers", "layers", "list the layers: index, name, class, shape, trainable",
      "Lists model.layers with each layer's output shape and trainable flag.\n\nexample: layers",
      cmd_layers, 0, 0, C_NONE, U_NONE },
    { "summary", "summary [macs] [memory]", "print model.summary()",
      "Prints the Keras 2.6 summary table of a built model. 'macs' adds a column of\n"
      "multiply-accumulates for one sample (the products of weights with values: a\n"
      "Dense or convolution output is one dot product; bias additions, pooling and\n"
      "activations count 0; FLOPs are about twice this) and torchinfo's 'Total\n"
      "mult-adds' line; 'memory' adds the float32 bytes of each layer's output (one\n"
      "sample) and weights, and torchinfo's size lines (its forward/backward pass size\n"
      "counts the outputs of the layers with weights twice: values and gradients).\n"
      "'explain' shows the arithmetic.\n\nexample: summary macs memory",
      cmd_summary, 0, 2, C_SUMMARY, U_NONE },
    { "explain", "explain [LAYER]", "show the arithmetic of shapes, parameters and mult-adds",
      "For each layer (or the one called LAYER, or at that index): how its output shape\n"
      "and parameter count follow from its input and options, in this model's numbers\n"
      "(123 = floor((250 - 5) / 2) + 1, 2432 = (5*5*3 + 1) * 32), and its\n"
      "multiply-accumulates for one sample; then the totals.\n\n"
      "example: explain conv2d", cmd_explain, 0, 1, C_LAYER, U_NONE },
    { "plot", "plot FILE.svg|.png|.pdf|.dot | plot history [FILE.png|.svg|.pdf] [width=N]",
      "draw the model, or the training curves",
      "plot FILE draws the model as Keras's plot_model does: a box per layer with its\n"
      "name, class, input and output shapes, laid out by Graphviz's library (.dot\n"
      "writes the graph's text). plot history draws the loss and metric curves of the\n"
      "fits since compile, training and validation, to a .png, .svg or .pdf file, or\n"
      "without a file in the terminal with braille dots (training solid, validation\n"
      "dotted; width= columns, by default the terminal's).\n\n"
      "example: plot model.png", cmd_plot, 1, -1, C_PLOT, U_NONE },
    { "show", "show INPUT [save=FILE.png] [shape=H,W[,C]] [label=last|first|N] [width=N] [color=true|false] [scale=N]",
      "draw one input sample as an image",
      "Draws the first sample of INPUT in the terminal, two pixel rows per line with\n"
      "Unicode half blocks: in 24-bit colour when the terminal says it has it\n"
      "(COLORTERM=truecolor; color= decides otherwise), in grey shades if not.\n"
      "(B, H, W, C) and (H, W, C) inputs with 1, 3 or 4 channels, (B, H, W) and (H, W)\n"
      "greys are recognised; shape=8,8 reads a flat row as an image (label= drops a\n"
      "CSV's label column first). Greys run from the sample's minimum (black) to its\n"
      "maximum (white). save= writes the image as PNG instead, scale= pixels a\n"
      "value; width= caps the columns (default the terminal's).\n\n"
      "example: show scripts/data/digits_test.csv.gz label=last shape=8,8",
      cmd_show, 1, -1, C_INPUT, U_NONE },
    { "weights", "weights [LAYER]", "list weights with their values",
      "Lists model.weights (or one layer's weights): name, shape, dtype and values.\n\n"
      "example: weights dense", cmd_weights, 0, 1, C_LAYER, U_NONE },
    { "call", "call INPUT [save=FILE.npy|.npz|.csv]", "run the model on an input (y = model(x))",
      "INPUT is ones|zeros|random|range D0 D1 ... (D0 is the batch) or a data file\n"
      "(.npy, FILE.npz:KEY, CSV, IDX), with rows picked by FILE[0:10] or FILE[3].\n"
      "Builds an unbuilt model with the input's shape. save= writes the output as\n"
      ".npy, .npz or .csv, by the extension.\n\n"
      "example: call ones 1 250 250 3", cmd_call, 1, -1, C_INPUT, U_BUILDS },
    { "compile", "compile optimizer=NAME loss=NAME [metrics=NAME,...] [learning_rate=X ...]",
      "configure training (model.compile)",
      "Sets the optimizer (default rmsprop), the loss and the metrics, with Keras's\n"
      "names and defaults; compile starts a new optimizer and a new history.\n"
      "The loss takes from_logits=true (binary_crossentropy, categorical_crossentropy,\n"
      "sparse_categorical_crossentropy; outputs without sigmoid/softmax),\n"
      "label_smoothing=0.1 (binary and categorical crossentropy) and delta=1.0 (huber).\n"
      "Every other option goes to the optimizer: learning_rate (a number or a schedule,\n"
      "learning_rate=exponential_decay(0.1,decay_steps=100,decay_rate=0.5), stepping\n"
      "per batch across fits), momentum, nesterov, beta_1, beta_2, epsilon, rho, ...,\n"
      "and clipvalue=, clipnorm= (each weight by its own norm) or global_clipnorm=,\n"
      "applied in that order to the gradients, regularization penalties included.\n"
      "Metrics take arguments in call form: auc(num_thresholds=200), precision,\n"
      "recall, top_k_categorical_accuracy(k=3). 'help NAME' explains each name.\n\n"
      "optimizers: {optimizers}\nlosses: {losses}\nmetrics: {metrics}\n"
      "schedules: {schedules}\n\n"
      "example: compile optimizer=adam loss=sparse_categorical_crossentropy metrics=accuracy",
      cmd_compile, 1, -1, C_COMPILE, U_CHANGES },
    { "fit", "fit X Y [epochs=1] [batch_size=32] [validation_split=0] [validation_data=XV,YV] "
      "[class_weight={0:1,1:5}] [sample_weight=W] [callbacks=CB(...),...] [initial_epoch=0] "
      "[shuffle=true] [verbose=1]",
      "train the model (model.fit)",
      "X and Y are INPUTs (files or generators); 'fit data.csv label=last' splits one CSV\n"
      "into X and Y. Prints Keras's progress bar. Ctrl-C stops between batches and\n"
      "keeps the weights of the last finished batch.\n"
      "validation_split=0.2 holds out the file's tail; validation_data=xv.npy,yv.npy\n"
      "(or (xv.npy, yv.npy), generators too, or val.csv split by the same label=) is\n"
      "evaluated after every epoch instead (it overrides validation_split, as Keras\n"
      "documents). class_weight={0:1,1:5} and sample_weight=w.npy weight each sample's\n"
      "loss (summed, divided by the batch size) and make the metrics weighted means.\n"
      "callbacks= runs, in order, after every epoch: {callbacks}.\n"
      "initial_epoch=N starts counting at epoch N+1 (to resume a run).\n\n"
      "example: fit x.npy y.npy epochs=100 validation_data=xv.npy,yv.npy "
      "callbacks=early_stopping(patience=3,restore_best_weights=true),csv_logger(log.csv)",
      cmd_fit, 1, -1, C_FIT, U_CHANGES },
    { "evaluate", "evaluate X Y [batch_size=32] [verbose=1] [sample_weight=W]",
      "loss and metrics on data",
      "Prints Keras's one-line result: loss and each compiled metric. verbose=0\n"
      "prints it without the progress bar. sample_weight= names an input of one\n"
      "weight per sample, as fit's: each batch's loss is the sum of the weighted\n"
      "losses over the batch's size, the metrics are weighted means.\n\n"
      "example: evaluate test.csv label=last", cmd_evaluate, 1, -1, C_EVALUATE, U_BUILDS },
    { "predict", "predict X [batch_size=32] [classes=true] [save=FILE.npy|.npz|.csv]",
      "run the model on data in batches",
      "Like call, in batches. classes=true gives each row's class instead (Keras's\n"
      "predict_classes: the index of the largest output, or 1 where a single output\n"
      "is above 0.5). save= writes them in the format its extension names: .npy,\n"
      ".npz or .csv (a header line, then one line per sample).\n\n"
      "example: predict digits_test.csv.gz[0:10] label=last classes=true save=p.csv",
      cmd_predict, 1, -1, C_FILE, U_BUILDS },
    { "confusion", "confusion X Y [batch_size=32]", "a classifier's confusion matrix on labelled data",
      "Runs the model on X and counts each sample's predicted class against its label\n"
      "in Y (one class index per sample, or one-hot rows; 'confusion data.csv\n"
      "label=last' splits one CSV). Classes are decided as Keras's accuracy decides\n"
      "them, so the diagonal gives evaluate's accuracy. Below the matrix: each class's\n"
      "precision (of the samples predicted as it, how many are it), recall (of the\n"
      "samples that are it, how many were found) and support (how many there are).\n\n"
      "example: confusion digits_test.csv.gz label=last", cmd_confusion, 1, -1, C_FILE, U_BUILDS },
    { "freeze", "freeze SEL...", "make layers non-trainable (layer.trainable = False)",
      "SEL is a layer name, an index (negative counts from the end), a Python slice\n"
      "over the layers (:-1 is all but the last, 1:3, ::2) or all. Frozen weights stay\n"
      "bit for bit the same in fit; summary's footer shows them as non-trainable.\n\n"
      "example: freeze :-1", cmd_freeze, 1, -1, C_LAYER, U_CHANGES },
    { "unfreeze", "unfreeze SEL...", "make layers trainable again",
      "SEL as for freeze.\n\nexample: unfreeze all", cmd_unfreeze, 1, -1, C_LAYER, U_CHANGES },
    { "extract", "extract all|NAME[,NAME...] INPUT [save=FILE.npz|.csv|.npy]",
      "every (or some) layer's output for an input",
      "Runs the model once and prints the chosen layers' outputs in layer order, as\n"
      "keras.Model(model.inputs, [layer.output ...]) would; save= writes them to an\n"
      ".npz keyed by layer name, a .csv (one line per sample, columns NAME[j]) or,\n"
      "for one layer, a .npy. Builds an unbuilt model as call does.\n\n"
      "example: extract all ones 1 250 250 3", cmd_extract, 2, -1, C_LAYER, U_BUILDS },
    { "save", "save FILE", "write the whole model to one file (model.save)",
      "Writes the architecture, every weight, the trainable flags and the compile\n"
      "settings to FILE (format in the README), through a temporary file renamed\n"
      "into place. FILE is a regular file or a new path (a FIFO, a device or a\n"
      "socket is refused); a symbolic link is written through to its target.\n\n"
      "example: save base.seqm",
      cmd_save, 1, 1, C_FILE, U_NONE },
    { "load", "load FILE", "replace the model with a saved one (load_model)",
      "Reads a file written by save. On any error the current model stays.\n\n"
      "example: load base.seqm", cmd_load, 1, 1, C_FILE, U_CHANGES },
    { "export", "export onnx|pytorch|keras FILE", "write the model for another framework",
      "onnx FILE.onnx: an ONNX model (opset 13) that onnxruntime runs, taking input in\n"
      "seqsh's channels-last layout. pytorch FILE.py / keras FILE.py: Python defining a\n"
      "module-level `model` with the weights (in FILE.npz beside it).\n\n"
      "example: export onnx model.onnx", cmd_export, 2, 2, C_FILE, U_NONE },
    { "save_weights", "save_weights FILE.npz", "write every weight to a NumPy .npz",
      "Writes one array per weight, keyed LAYER/WEIGHT (dense/kernel).\n\n"
      "example: save_weights w.npz", cmd_save_weights, 1, 1, C_FILE, U_NONE },
    { "load_weights", "load_weights FILE.npz", "read weights from a NumPy .npz",
      "Reads arrays keyed LAYER/WEIGHT; every name and shape must match the model,\n"
      "or nothing changes.\n\nexample: load_weights w.npz", cmd_load_weights, 1, 1, C_FILE, U_CHANGES },
    { "reset", "reset", "restart the automatic name counters (clear_session)",
      "Like keras.backend.clear_session(): the next Dense is dense again.\n\nexample: reset",
      cmd_reset, 0, 0, C_NONE, U_CHANGES },
    { "seed", "seed N", "seed the random numbers (weights, random inputs)",
      "The same script with the same seed gives the same weights.\n\nexample: seed 42",
      cmd_seed, 1, 1, C_NONE, U_CHANGES },
    { "source", "source FILE.seq", "run the commands of a .seq file",
      "Runs FILE's commands in this session. A relative FILE inside a sourced file is\n"
      "found relative to that file. Nesting is bounded; a file cannot source itself.\n\n"
      "example: source scripts/seed_04_debug_workflow.seq", cmd_source, 1, 1, C_FILE, U_NONE },
    { "time", "time COMMAND...", "run a command and print its wall time",
      "Runs COMMAND, then prints 'Time: 12.345 ms' on its own line.\n\n"
      "example: time call ones 1 250 250 3", cmd_time, 1, -1, C_COMMAND, U_NONE },
    { "history", "history [save FILE.seq]", "print (or save) this session's commands as a script",
      "Prints the commands typed (or read) so far that succeeded, ready to save as a\n"
      ".seq file; 'history save FILE.seq' writes them there (with the --seed the\n"
      "session started from), a script that replays to the same model. Relative\n"
      "paths in it mean what they meant where they were typed: save it in that\n"
      "folder.\n\n"
      "example: history save lesson.seq", cmd_history, 0, 2, C_FILE, U_NONE },
    { "undo", "undo", "take back the last command that changed the model",
      "Puts the model back as it was before the last command that changed it (add,\n"
      "pop, model, input, load, add model, freeze, unfreeze, compile, fit,\n"
      "load_weights, reset, seed, or a call or predict that built the model): its\n"
      "layers, weights, compile settings, optimizer state and training history, the\n"
      "automatic names and the random state, bit for bit. Several levels, as many as\n"
      "fit in the memory limit (the oldest go first); there is no redo.\n\n"
      "example: undo", cmd_undo, 0, 0, C_NONE, U_NONE },
    { "threads", "threads N", "use N threads for the maths",
      "Sets the number of threads OpenBLAS and seqsh use (1 to 256); the same as\n"
      "set threads=N.\n\nexample: threads 2",
      cmd_threads, 1, 1, C_NONE, U_NONE },
    { "set", "set [memory_limit=SIZE] [threads=N]", "show or change settings",
      "Without arguments shows the settings. memory_limit caps the memory one command\n"
      "may need, reading and decompressing files included (default: half of what\n"
      "seqsh may use: the machine's memory, its cgroup's limit or ulimit -v, the\n"
      "smallest); bigger requests are refused up front.\n\n"
      "example: set memory_limit=4G", cmd_set, 0, -1, C_SETTING, U_NONE },
    { "info", "info", "show the version and the maths backend",
      "Prints seqsh's version, the BLAS library, its kernel and thread count.\n\nexample: info",
      cmd_info, 0, 0, C_NONE, U_NONE },
    { "echo", "echo TEXT", "print TEXT", "Prints its words.\n\nexample: echo hello",
      cmd_echo, 0, -1, C_NONE, U_NONE },
    { "help", "help [COMMAND|KIND|NAME|TOPIC]", "list commands or explain one",
      "Without an argument lists every command. help COMMAND explains a command,\n"
      "help KIND a layer kind (help conv2d), help NAME an activation, optimizer,\n"
      "loss, metric, initializer, regularizer, schedule or callback (help relu, help\n"
      "he_normal, help early_stopping); the topics layers (or kinds), activations,\n"
      "optimizers, losses, metrics, initializers, regularizers, schedules and\n"
      "callbacks list what the engine knows, and help layers also explains the\n"
      "command layers.\n\nexample: help add",
      cmd_help, 0, 1, C_TOPIC, U_NONE },
    { "quit", "quit", "leave seqsh", "Leaves seqsh.\n\nexample: quit", cmd_quit, 0, 0, C_NONE, U_NONE },
    { "exit", "exit", "leave seqsh", "Leaves seqsh.\n\nexample: exit", cmd_quit, 0, 0, C_NONE, U_NONE },
    { NULL, NULL, NULL, NULL, NULL, 0, 0, C_NONE, U_NONE },
};

const sh_command *sh_command_find(const shell *sh, const char *name)
{
    for (const sh_command *c = sh->commands; c->name; c++)
        if (!strcmp(c->name, name))
            return c;
    return NULL;
}
