#!/bin/sh
# run.sh - `make check-interop`: every format seqsh writes, opened by its real
# client, must give seqsh's outputs (|got - want| <= 1e-5 + 1e-4 |want|):
#   save DIR/model.json   -> TensorFlow.js 4.22 (tf.loadLayersModel)
#   save FILE.h5          -> read as Keras's loader reads it (h5py), converted as
#                            TensorFlow.js's converter does, run by TensorFlow.js
#   export onnx           -> onnxruntime-node (and onnx.checker when python3-onnx is there)
#   export pytorch        -> Debian's python3-torch (runpy.run_path)
#   export keras          -> compiled by Python (TensorFlow itself is not packaged
#                            in Debian and PyPI is not reachable: not run)
# and TensorFlow.js's own output on seqsh's fixtures must load back into seqsh.
# Every model runs with random weights (biases and moving statistics too). A
# model seqsh refuses to save as model.json because TensorFlow.js would load
# it and compute something else (bilinear UpSampling2D, Conv2DTranspose's
# output_padding or dilation, DepthwiseConv2D's dilation, a Bidirectional's
# masked steps) must indeed come out otherwise when TensorFlow.js runs its
# .h5 config.
# npm packages go to $INTEROP_NODE (default tests/interop/node in the build
# folder), installed there once.
set -u
: "${SEQSH:?}" "${srcdir:=.}"
PY=/usr/bin/python3
here=$(cd "$(dirname "$0")" && pwd)
node_dir=${INTEROP_NODE:-$(pwd)/tests/interop/node}
work=$(mktemp -d "${TMPDIR:-/tmp}/seqsh-interop.XXXXXX")
trap 'rm -rf "$work"' EXIT
passed=0; failed=0
ok() { passed=$((passed + 1)); echo "PASS: $1"; }
bad() { failed=$((failed + 1)); echo "FAIL: $1"; }

if [ ! -d "$node_dir/node_modules/@tensorflow/tfjs" ] || [ ! -d "$node_dir/node_modules/onnxruntime-node" ]; then
    mkdir -p "$node_dir"
    # onnxruntime-node ships its CPU binaries; only CUDA ones are downloaded
    ONNXRUNTIME_NODE_INSTALL=skip npm install --prefix "$node_dir" --no-audit --no-fund \
        --no-save @tensorflow/tfjs@4.22.0 onnxruntime-node@1.30.0 >"$work/npm.log" 2>&1 \
        || { cat "$work/npm.log"; echo "npm install failed"; exit 1; }
fi
export NODE_PATH="$node_dir/node_modules"

close() { # close NAME GOT WANT
    if $PY -c "
import sys, numpy as np
a, b = np.load(sys.argv[1]), np.load(sys.argv[2])
sys.exit(0 if a.shape == b.shape and np.all(np.abs(a - b) <= 1e-5 + 1e-4 * np.abs(b)) else 1)
" "$2" "$3" 2>"$work/close.err"; then ok "$1"; else bad "$1"; cat "$work/close.err"; fi
}

# the models: every layer kind and every activation seqsh has (the first
# wave's here, the second wave's below)
cat >"$work/conv.seq" <<'SEQ'
seed 3
input 9 9 2
add conv2d 4 3 strides=2 padding=same relu
add batchnormalization momentum=0.9 epsilon=0.01
add maxpooling2d 2 strides=1 padding=same
add conv2d 3 2 dilation_rate=(2,1) use_bias=false selu
add averagepooling2d 2 strides=1 padding=same
add globalaveragepooling2d
add reshape (1,1,-1)
add globalmaxpooling2d
add reshape (-1,)
add dense 6 gelu
add dropout 0.5
add dense 4 softmax
SEQ
cat >"$work/acts.seq" <<'SEQ'
seed 4
input 5 6
add dense 6 tanh
add activation sigmoid
add dense 6 softplus
add activation softsign
add dense 6 elu
add activation hard_sigmoid
add dense 6 swish
add activation silu
add dense 6 relu6
add activation leaky_relu
add dense 6 log_softmax
add activation linear
add rescaling 0.5 offset=0.25
add globalmaxpooling2d
SEQ
# globalmaxpooling2d needs rank 4: make the last a flatten instead
sed -i 's/^add globalmaxpooling2d$/add flatten/' "$work/acts.seq"
cat >"$work/base.seq" <<'SEQ'
seed 5
input 8 8 3
add conv2d 4 3 relu
add maxpooling2d 2
save base.seqm
model nested
input 8 8 3
add model base.seqm
add globalmaxpooling2d
add dense 3 exponential
SEQ

# the second wave: every 1-D kind, every option the formats differ on
cat >"$work/wave2.seq" <<'SEQ'
seed 6
input 12 3
add conv1d 4 3 padding=same relu
add maxpooling1d 2 padding=same
add conv1d 4 2 padding=causal dilation_rate=2
add averagepooling1d 3 strides=1 padding=same
add upsampling1d 2
add zeropadding1d (1,2)
add cropping1d (2,1)
add layernormalization
add leakyrelu 0.1
add prelu shared_axes=1
add elu alpha=0.5
add relu 6 negative_slope=0.1 threshold=0.2
add thresholdedrelu 0.3
add softmax axis=1
add permute 2,1
add globalmaxpooling1d keepdims=true
add globalaveragepooling1d
add repeatvector 5
add simplernn 4 return_sequences=true
add lstm 3 return_sequences=true recurrent_activation=hard_sigmoid
add gru 3 return_sequences=true reset_after=false
add bidirectional lstm 2 return_sequences=true merge_mode=sum
add bidirectional gru 2 return_sequences=true merge_mode=mul
add bidirectional simplernn 2 merge_mode=ave return_sequences=true
add timedistributed dense 3 relu
add bidirectional gru 2
SEQ
# what TF.js can hold of it, and the recurrent layers as torch and ONNX
# have them natively
cat >"$work/wave2tf.seq" <<'SEQ'
seed 7
input 12 3
add conv1d 4 3 padding=same relu
add maxpooling1d 2 padding=same
add conv1d 4 2 dilation_rate=2
add averagepooling1d 3 strides=1 padding=same
add layernormalization epsilon=0.01
add leakyrelu 0.1
add prelu shared_axes=1
add elu
add relu 6
add thresholdedrelu 0.3
add softmax
add permute 2,1
add globalmaxpooling1d
add repeatvector 5
add simplernn 4 relu return_sequences=true go_backwards=true
add lstm 3 return_sequences=true
add gru 3 return_sequences=true reset_after=false recurrent_activation=hard_sigmoid
add bidirectional lstm 2 return_sequences=true
add bidirectional gru 2 return_sequences=true merge_mode=ave reset_after=false
add timedistributed dense 3 relu
add globalaveragepooling1d
SEQ
# Keras's masks: Embedding(mask_zero) and Masking in front of recurrent layers
cat >"$work/embed.seq" <<'SEQ'
seed 8
input 7
add embedding 10 6 mask_zero=true
add lstm 5 return_sequences=true
add bidirectional gru 3 return_sequences=true reset_after=false
add simplernn 4 return_sequences=true go_backwards=true
add bidirectional lstm 3 merge_mode=ave
add dense 2
SEQ
cat >"$work/masking.seq" <<'SEQ'
seed 9
input 6 3
add masking
add gru 4 return_sequences=true reset_after=false
add lstm 2
SEQ
# masks through Dense and TimeDistributed into every recurrent kind and
# merge mode, a Bidirectional whose template runs backwards; the ids put
# masked steps anywhere, a whole sequence masked, one with its last step only.
# TF.js's Bidirectional gives no zeros at masked steps (Keras's
# zero_output_for_mask), and here those steps' outputs reach the output
cat >"$work/masked2.seq" <<'SEQ'
seed 16
input 7
add embedding 10 4 mask_zero=true
add dense 5 tanh
add timedistributed dense 4
add gru 3 return_sequences=true reset_after=false
add bidirectional lstm 2 return_sequences=true merge_mode=concat
add bidirectional simplernn 2 return_sequences=true merge_mode=mul go_backwards=true
add bidirectional gru 2 return_sequences=true merge_mode=sum reset_after=false recurrent_activation=hard_sigmoid
add lstm 3 return_sequences=true go_backwards=true activation=relu use_bias=false
SEQ
# activations ONNX's recurrent ops do not have (written out step by step)
cat >"$work/rnnacts.seq" <<'SEQ'
seed 17
input 6 3
add simplernn 4 return_sequences=true activation=selu
add lstm 3 return_sequences=true activation=gelu recurrent_activation=hard_sigmoid
add bidirectional gru 3 activation=relu6 merge_mode=ave reset_after=false
SEQ
# GRU's reset_after=true (which TF.js lacks) under a mask, both ways
cat >"$work/maskedgru.seq" <<'SEQ'
seed 18
input 6 3
add masking
add gru 4 return_sequences=true
add bidirectional gru 3 activation=elu
SEQ
# TimeDistributed around the first wave's kinds: a video-like model
cat >"$work/frames.seq" <<'SEQ'
seed 10
input 4 6 6 2
add timedistributed conv2d 3 3 padding=same relu
add timedistributed maxpooling2d 2
add timedistributed flatten
add lstm 4
add dense 2 softmax
SEQ
# the 2-D kinds: every one in TensorFlow.js's reach, TensorFlow's
# placements of a transposed convolution (a crop at the start, one at the
# end, cells past the full one's end), depthwise channel order
cat >"$work/wave2d.seq" <<'SEQ'
seed 11
input 9 10 3
add conv2dtranspose 4 (3,4) strides=2 padding=same relu
add depthwiseconv2d 3 strides=2 padding=same depth_multiplier=2
add separableconv2d 5 (3,2) dilation_rate=2 padding=same tanh
add zeropadding2d ((1,2),(0,3))
add conv2dtranspose 3 (2,3) strides=(3,2)
add cropping2d ((2,1),(0,3))
add upsampling2d (2,3)
add depthwiseconv2d (3,2) use_bias=false
add separableconv2d 4 3 strides=2 depth_multiplier=3
add conv2dtranspose 2 2 strides=3 padding=same use_bias=false
SEQ
# what TensorFlow.js 4.22 computes otherwise than Keras 2.6, one model each:
# seqsh refuses to save them as model.json, and TensorFlow.js, given the
# .h5's config, must indeed differ
cat >"$work/bilinear.seq" <<'SEQ'
seed 12
input 5 6 2
add upsampling2d (2,3) interpolation=bilinear
add conv2d 3 2 padding=same
add upsampling2d 3 interpolation=bilinear
SEQ
cat >"$work/outpad.seq" <<'SEQ'
seed 13
input 5 6 2
add conv2dtranspose 3 3 strides=2 padding=same output_padding=1
add conv2dtranspose 2 (3,2) strides=(3,2) output_padding=(2,1) relu
SEQ
cat >"$work/tdilated.seq" <<'SEQ'
seed 14
input 5 6 2
add conv2dtranspose 3 3 dilation_rate=2
SEQ
cat >"$work/dwdilated.seq" <<'SEQ'
seed 15
input 7 8 2
add depthwiseconv2d 3 dilation_rate=2 depth_multiplier=2 padding=same
SEQ
# initializers and regularizers of every kind of weight: TensorFlow.js
# constructs each initializer it reads while it builds the model
cat >"$work/wopts.seq" <<'SEQ'
seed 19
input 6 3
add conv1d 4 3 kernel_initializer=he_normal bias_initializer=constant(0.1) kernel_regularizer=l2(0.001) bias_regularizer=l1_l2(l1=0.001,l2=0.002)
add lstm 3 return_sequences=true recurrent_initializer=orthogonal(gain=0.5) bias_regularizer=l1(0.01)
add layernormalization gamma_initializer=random_normal(mean=1.0,stddev=0.1) beta_regularizer=l2
add bidirectional gru 2 return_sequences=true reset_after=false kernel_initializer=lecun_uniform recurrent_regularizer=l1_l2(l1=0.01,l2=0.02)
add timedistributed dense 3 kernel_initializer=variance_scaling(scale=2.0,mode=fan_out,distribution=uniform) bias_initializer=truncated_normal(stddev=0.02)
add globalaveragepooling1d
add batchnormalization moving_variance_initializer=random_uniform(minval=0.5,maxval=1.5) gamma_regularizer=l1
add prelu alpha_initializer=constant(0.25) alpha_regularizer=l2(0.01)
add dense 3 kernel_initializer=identity(gain=0.5)
SEQ
# masks through the layers Keras 2.6 passes them through, into an LSTM
cat >"$work/maskkeep.seq" <<'SEQ'
seed 20
input 7
add embedding 10 4 mask_zero=true
add dense 5
add layernormalization
add leakyrelu 0.2
add prelu shared_axes=1
add elu
add relu 6
add thresholdedrelu 0.05
add lstm 3
SEQ
# GlobalAveragePooling1D's mean of the unmasked steps; TF.js averages all
cat >"$work/maskgap.seq" <<'SEQ'
seed 21
input 7
add embedding 10 4 mask_zero=true
add dense 5 tanh
add globalaveragepooling1d
add dense 2
SEQ
differs="bilinear outpad tdilated dwdilated masked2 maskgap"
models="conv acts base wave2 wave2tf embed masking masked2 maskedgru rnnacts frames wave2d wopts maskkeep $differs"

cd "$work"
$PY -c "
import numpy as np
r = np.random.default_rng(1)
np.save('conv_x.npy', r.uniform(-1, 1, (3, 9, 9, 2)).astype(np.float32))
np.save('acts_x.npy', r.uniform(-2, 2, (3, 5, 6)).astype(np.float32))
np.save('base_x.npy', r.uniform(-1, 1, (2, 8, 8, 3)).astype(np.float32))
np.save('wave2_x.npy', r.uniform(-1, 1, (3, 12, 3)).astype(np.float32))
np.save('wave2tf_x.npy', r.uniform(-1, 1, (3, 12, 3)).astype(np.float32))
np.save('embed_x.npy', np.array([[0, 3, 5, 0, 2, 9, 0], [4, 0, 0, 1, 7, 0, 0],
                                 [1, 2, 3, 4, 5, 6, 7]], np.float32))
x = r.uniform(-1, 1, (3, 6, 3)).astype(np.float32)
x[0, 2] = 0; x[1, 0] = 0; x[1, 4:] = 0
np.save('masking_x.npy', x)
np.save('frames_x.npy', r.uniform(-1, 1, (2, 4, 6, 6, 2)).astype(np.float32))
np.save('masked2_x.npy', np.array([[0, 3, 5, 0, 2, 9, 0], [4, 0, 0, 1, 7, 0, 0],
                                   [1, 2, 3, 4, 5, 6, 7], [0, 0, 0, 0, 0, 0, 0],
                                   [0, 0, 0, 0, 0, 0, 3]], np.float32))
np.save('rnnacts_x.npy', r.uniform(-1, 1, (3, 6, 3)).astype(np.float32))
x = r.uniform(-1, 1, (4, 6, 3)).astype(np.float32)
x[0, 1:3] = 0; x[1, :] = 0; x[2, 5] = 0; x[3, 0] = 0
np.save('maskedgru_x.npy', x)
np.save('wave2d_x.npy', r.uniform(-1, 1, (2, 9, 10, 3)).astype(np.float32))
for m in ('bilinear', 'outpad', 'tdilated'):
    np.save(m + '_x.npy', r.uniform(-1, 1, (2, 5, 6, 2)).astype(np.float32))
np.save('dwdilated_x.npy', r.uniform(-1, 1, (2, 7, 8, 2)).astype(np.float32))
np.save('wopts_x.npy', r.uniform(-1, 1, (3, 6, 3)).astype(np.float32))
for m in ('maskkeep', 'maskgap'):
    np.save(m + '_x.npy', np.array([[0, 3, 5, 0, 2, 9, 0], [4, 0, 0, 1, 7, 0, 0],
                                    [1, 2, 3, 4, 5, 6, 7]], np.float32))
"
# random weights (biases, moving statistics and all), so that every weight's
# layout counts; the models load them after building
for m in $models; do
    { cat "$m.seq"; echo "save_weights ${m}_w0.npz"; } >"${m}_w.seq"
    "$SEQSH" -q "${m}_w.seq" >/dev/null 2>"$m.err" && $PY -c "
import sys, zlib, numpy as np
r = np.random.default_rng(zlib.crc32(sys.argv[1].encode()))
w = np.load(sys.argv[1] + '_w0.npz')
np.savez(sys.argv[1] + '_w.npz', **{k: (r.uniform(0.5, 1.5, v.shape) if k.endswith('moving_variance')
                                        else r.uniform(-1, 1, v.shape)).astype(np.float32)
                                     for k, v in w.items()})
" "$m" 2>>"$m.err" || { bad "$m: random weights"; cat "$m.err"; }
    echo "load_weights ${m}_w.npz" >>"$m.seq"
done
for m in $models; do
    { cat "$m.seq"; echo "call ${m}_x.npy save=${m}_ref.npy"; echo "save $m.h5"
      echo "export pytorch ${m}_torch.py"; echo "export keras ${m}_keras.py"; } >"${m}_all.seq"
    if ! "$SEQSH" -q "${m}_all.seq" >/dev/null 2>"$m.err"; then
        bad "$m: seqsh"; cat "$m.err"; continue
    fi
    # the .h5 goes back into seqsh exactly
    if "$SEQSH" -q -c "load $m.h5" -c "call ${m}_x.npy save=${m}_back.npy" >/dev/null 2>"$m.err" \
        && cmp -s "${m}_back.npy" "${m}_ref.npy"; then ok "$m: .h5 back into seqsh, exactly"
    else bad "$m: .h5 back into seqsh, exactly"; cat "$m.err"; fi
    # TF.js Layers has no exponential activation: that model is refused by name
    { cat "$m.seq"; echo "save ${m}_tfjs/model.json"; } >"${m}_tfjs.seq"
    if "$SEQSH" -q "${m}_tfjs.seq" >/dev/null 2>"$m.err"; then
        if node "$here/tfjs_run.js" "${m}_tfjs/model.json" "${m}_x.npy" "${m}_tfjs.npy" 2>"$m.err"; then
            close "$m: model.json in TensorFlow.js" "${m}_tfjs.npy" "${m}_ref.npy"
        else bad "$m: model.json in TensorFlow.js"; cat "$m.err"; fi
    elif grep -q "cannot be expressed in the TF.js Layers format" "$m.err"; then
        ok "$m: model.json refused with the layer named ($(cut -d: -f3- "$m.err"))"
    else bad "$m: save model.json"; cat "$m.err"; fi
    if $PY "$here/h5_to_tfjs.py" "$m.h5" "${m}_h5" 2>"$m.err" \
        && node "$here/tfjs_run.js" "${m}_h5/model.json" "${m}_x.npy" "${m}_h5.npy" 2>>"$m.err"; then
        case " $differs " in
        *" $m "*)
            if $PY -c "
import sys, numpy as np
a, b = np.load(sys.argv[1]), np.load(sys.argv[2])
sys.exit(0 if a.shape == b.shape and np.all(np.abs(a - b) <= 1e-5 + 1e-4 * np.abs(b)) else 1)
" "${m}_h5.npy" "${m}_ref.npy"; then bad "$m: TensorFlow.js computes what seqsh refuses to save for it"
            else ok "$m: .h5 in TensorFlow.js computes otherwise, as seqsh's model.json refusal says"; fi ;;
        *) close "$m: .h5 as Keras reads it, in TensorFlow.js" "${m}_h5.npy" "${m}_ref.npy" ;;
        esac
    elif grep -q "Unknown activation: \(exponential\|leakyRelu\)" "$m.err"; then
        ok "$m: .h5 holds an activation TensorFlow.js lacks ($(grep -o 'Unknown activation: [a-zA-Z]*' "$m.err")); not run there"
    elif grep -q "Unknown layer: \(UpSampling1D\|ZeroPadding1D\|Cropping1D\)\|reset_after parameter set to true\|Non-default alpha\|non-last dimension\|causal\|Unknown regularizer: L[12]\b" "$m.err"; then
        ok "$m: .h5 holds what TensorFlow.js lacks ($(grep -o 'Unknown layer: [a-zA-Z0-9]*\|reset_after parameter set to true\|Non-default alpha\|non-last dimension\|causal\|Unknown regularizer: L[12]' "$m.err" | head -1)); not run there"
    else bad "$m: .h5 via TensorFlow.js"; cat "$m.err"; fi
    { cat "$m.seq"; echo "export onnx $m.onnx"; } >"${m}_onnx.seq"
    if ! "$SEQSH" -q "${m}_onnx.seq" >/dev/null 2>"$m.err"; then
        if grep -q "cannot be expressed in ONNX" "$m.err"; then
            ok "$m: ONNX refused with the layer named ($(cut -d: -f3- "$m.err"))"
        else bad "$m: export onnx"; cat "$m.err"; fi
    elif node "$here/ort_run.js" "$m.onnx" "${m}_x.npy" "${m}_ort.npy" 2>"$m.err"; then
        close "$m: ONNX in onnxruntime" "${m}_ort.npy" "${m}_ref.npy"
    else bad "$m: ONNX in onnxruntime"; cat "$m.err"; fi
    if [ -f "$m.onnx" ] && $PY -c "import onnx" 2>/dev/null; then
        if $PY -c "import onnx, sys; onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True)" \
            "$m.onnx" 2>"$m.err"; then ok "$m: onnx.checker"; else bad "$m: onnx.checker"; cat "$m.err"; fi
    fi
    if $PY -c "
import runpy, sys, numpy as np, torch
m = runpy.run_path(sys.argv[1])['model']
assert isinstance(m, torch.nn.Module) and not m.training
with torch.no_grad():
    y = m(torch.from_numpy(np.load(sys.argv[2])))
np.save(sys.argv[3], y.numpy())
" "${m}_torch.py" "${m}_x.npy" "${m}_torch.npy" 2>"$m.err"; then
        close "$m: PyTorch module" "${m}_torch.npy" "${m}_ref.npy"
    else bad "$m: PyTorch module"; cat "$m.err"; fi
    if $PY -m py_compile "${m}_keras.py" 2>"$m.err"; then ok "$m: Keras code compiles"
    else bad "$m: Keras code compiles"; cat "$m.err"; fi
done

# TensorFlow.js's own save of a model goes back into seqsh
cat >tfjs_save.js <<'JS'
const tf = require('@tensorflow/tfjs');
const fs = require('fs');
const m = tf.sequential();
m.add(tf.layers.conv2d({inputShape: [6, 6, 2], filters: 3, kernelSize: 3, padding: 'same', activation: 'relu'}));
m.add(tf.layers.batchNormalization());
m.add(tf.layers.maxPooling2d({poolSize: 2}));
m.add(tf.layers.flatten());
m.add(tf.layers.dense({units: 4, activation: 'softmax'}));
const x = tf.randomUniform([2, 6, 6, 2], -1, 1, 'float32', 7);
fs.writeFileSync('tfjs_x.bin', Buffer.from(x.dataSync().buffer));
fs.writeFileSync('tfjs_y.bin', Buffer.from(m.predict(x).dataSync().buffer));
m.save(tf.io.withSaveHandler(async a => {
  fs.mkdirSync('fromtfjs', {recursive: true});
  fs.writeFileSync('fromtfjs/weights.bin', Buffer.from(a.weightData));
  fs.writeFileSync('fromtfjs/model.json', JSON.stringify({format: 'layers-model', generatedBy: 'TensorFlow.js',
    modelTopology: a.modelTopology, weightsManifest: [{paths: ['weights.bin'], weights: a.weightSpecs}]}));
  return {modelArtifactsInfo: {dateSaved: new Date(), modelTopologyType: 'JSON'}};
}));
JS
if node tfjs_save.js 2>tfjs.err && $PY -c "
import numpy as np
np.save('tfjs_x.npy', np.fromfile('tfjs_x.bin', '<f4').reshape(2, 6, 6, 2))
np.save('tfjs_y.npy', np.fromfile('tfjs_y.bin', '<f4').reshape(2, 4))
" && "$SEQSH" -q -c "load fromtfjs/model.json" -c "call tfjs_x.npy save=tfjs_seqsh.npy" >/dev/null 2>>tfjs.err; then
    close "TensorFlow.js's own model.json in seqsh" tfjs_seqsh.npy tfjs_y.npy
else bad "TensorFlow.js's own model.json in seqsh"; cat tfjs.err; fi

# and TensorFlow.js's own recurrent and 1-D models: weight names without cell
# scopes, its GRU (reset_after false, no such key), masks
cat >tfjs_save2.js <<'JS'
const tf = require('@tensorflow/tfjs');
const fs = require('fs');
async function save(name, m, x) {
  fs.writeFileSync(name + '_x.bin', Buffer.from(x.dataSync().buffer));
  fs.writeFileSync(name + '_y.bin', Buffer.from(m.predict(x).dataSync().buffer));
  await m.save(tf.io.withSaveHandler(async a => {
    fs.mkdirSync(name, {recursive: true});
    fs.writeFileSync(name + '/weights.bin', Buffer.from(a.weightData));
    fs.writeFileSync(name + '/model.json', JSON.stringify({format: 'layers-model', generatedBy: 'TensorFlow.js',
      modelTopology: a.modelTopology, weightsManifest: [{paths: ['weights.bin'], weights: a.weightSpecs}]}));
    return {modelArtifactsInfo: {dateSaved: new Date(), modelTopologyType: 'JSON'}};
  }));
}
async function main() {
  const a = tf.sequential();
  a.add(tf.layers.embedding({inputDim: 10, outputDim: 4, maskZero: true, inputLength: 7}));
  a.add(tf.layers.lstm({units: 3, returnSequences: true}));
  a.add(tf.layers.bidirectional({layer: tf.layers.gru({units: 2, returnSequences: true}), mergeMode: 'concat'}));
  a.add(tf.layers.simpleRNN({units: 2}));
  a.add(tf.layers.dense({units: 3, activation: 'softmax'}));
  await save('tfjs_rnn', a, tf.tensor2d([[0, 3, 5, 0, 2, 9, 0], [4, 1, 0, 1, 7, 0, 0]]));
  const b = tf.sequential();
  b.add(tf.layers.conv1d({inputShape: [10, 3], filters: 4, kernelSize: 3, padding: 'same', activation: 'relu'}));
  b.add(tf.layers.maxPooling1d({poolSize: 2}));
  b.add(tf.layers.layerNormalization());
  b.add(tf.layers.timeDistributed({layer: tf.layers.dense({units: 3})}));
  b.add(tf.layers.prelu({alphaInitializer: tf.initializers.constant({value: 0.2})}));
  b.add(tf.layers.permute({dims: [2, 1]}));
  b.add(tf.layers.globalAveragePooling1d());
  b.add(tf.layers.repeatVector({n: 2}));
  b.add(tf.layers.flatten());
  await save('tfjs_conv1d', b, tf.randomUniform([2, 10, 3], -1, 1, 'float32', 9));
  const c = tf.sequential();
  c.add(tf.layers.dense({inputShape: [3], units: 4, activation: 'relu', kernelInitializer: 'heNormal',
                         biasInitializer: tf.initializers.constant({value: 0.1}),
                         kernelRegularizer: tf.regularizers.l2({l2: 0.01})}));
  c.add(tf.layers.dense({units: 2, kernelInitializer: 'leCunUniform',
                         biasRegularizer: tf.regularizers.l1l2({l1: 0.001, l2: 0.002})}));
  await save('tfjs_wopts', c, tf.randomUniform([2, 3], -1, 1, 'float32', 11));
}
main().catch(e => { console.error(String(e && e.stack || e)); process.exit(1); });
JS
if node tfjs_save2.js 2>tfjs.err && $PY -c "
import numpy as np
np.save('tfjs_rnn_x.npy', np.fromfile('tfjs_rnn_x.bin', '<f4').reshape(2, 7))
np.save('tfjs_rnn_y.npy', np.fromfile('tfjs_rnn_y.bin', '<f4').reshape(2, 3))
np.save('tfjs_conv1d_x.npy', np.fromfile('tfjs_conv1d_x.bin', '<f4').reshape(2, 10, 3))
np.save('tfjs_conv1d_y.npy', np.fromfile('tfjs_conv1d_y.bin', '<f4').reshape(2, 10))
np.save('tfjs_wopts_x.npy', np.fromfile('tfjs_wopts_x.bin', '<f4').reshape(2, 3))
np.save('tfjs_wopts_y.npy', np.fromfile('tfjs_wopts_y.bin', '<f4').reshape(2, 2))
" 2>>tfjs.err; then
    for n in tfjs_rnn tfjs_conv1d tfjs_wopts; do
        if "$SEQSH" -q -c "load $n/model.json" -c "call ${n}_x.npy save=${n}_seqsh.npy" >/dev/null 2>"$n.err"; then
            close "TensorFlow.js's own $n in seqsh" "${n}_seqsh.npy" "${n}_y.npy"
        else bad "TensorFlow.js's own $n in seqsh"; cat "$n.err"; fi
    done
    # its initializers and regularizers become the layers' options
    if "$SEQSH" -q -c "load tfjs_wopts/model.json" -c "save tfjs_wopts.seqm" >/dev/null 2>tfjs.err \
        && grep -aq "kernel_initializer=he_normal bias_initializer=constant(value=0.1) kernel_regularizer=l2(0.01)" tfjs_wopts.seqm \
        && grep -aq "kernel_initializer=lecun_uniform bias_regularizer=l1_l2(l1=0.001,l2=0.002)" tfjs_wopts.seqm; then
        ok "TensorFlow.js's initializers and regularizers in seqsh"
    else bad "TensorFlow.js's initializers and regularizers in seqsh"; cat tfjs.err; grep -a "^add" tfjs_wopts.seqm; fi
else bad "TensorFlow.js saves its recurrent and 1-D models"; cat tfjs.err; fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
