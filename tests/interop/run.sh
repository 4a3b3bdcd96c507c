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

# the models: every layer kind and every activation seqsh has
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

cd "$work"
$PY -c "
import numpy as np
r = np.random.default_rng(1)
np.save('conv_x.npy', r.uniform(-1, 1, (3, 9, 9, 2)).astype(np.float32))
np.save('acts_x.npy', r.uniform(-2, 2, (3, 5, 6)).astype(np.float32))
np.save('base_x.npy', r.uniform(-1, 1, (2, 8, 8, 3)).astype(np.float32))
"
for m in conv acts base; do
    { cat "$m.seq"; echo "call ${m}_x.npy save=${m}_ref.npy"; echo "save $m.h5"
      echo "export onnx $m.onnx"; echo "export pytorch ${m}_torch.py"
      echo "export keras ${m}_keras.py"; } >"${m}_all.seq"
    if ! "$SEQSH" -q "${m}_all.seq" >/dev/null 2>"$m.err"; then
        bad "$m: seqsh"; cat "$m.err"; continue
    fi
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
        close "$m: .h5 as Keras reads it, in TensorFlow.js" "${m}_h5.npy" "${m}_ref.npy"
    elif grep -q "Unknown activation: \(exponential\|leakyRelu\)" "$m.err"; then
        ok "$m: .h5 holds an activation TensorFlow.js lacks ($(grep -o 'Unknown activation: [a-zA-Z]*' "$m.err")); not run there"
    else bad "$m: .h5 via TensorFlow.js"; cat "$m.err"; fi
    if node "$here/ort_run.js" "$m.onnx" "${m}_x.npy" "${m}_ort.npy" 2>"$m.err"; then
        close "$m: ONNX in onnxruntime" "${m}_ort.npy" "${m}_ref.npy"
    else bad "$m: ONNX in onnxruntime"; cat "$m.err"; fi
    if $PY -c "import onnx" 2>/dev/null; then
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

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
