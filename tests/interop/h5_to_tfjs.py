#!/usr/bin/python3
"""h5_to_tfjs.py FILE.h5 DIR - reads a Keras .h5 the way Keras's own loader
does (keras/saving/hdf5_format.py: model_config, then model_weights'
layer_names and each layer's weight_names, in order) and writes the TF.js
Layers folder TensorFlow.js's converter would (model.json with the weights
named as weight_names says, one shard). Used by `make check-interop` so that
TensorFlow.js itself checks what seqsh writes into .h5 files."""
import json
import os
import sys

import h5py
import numpy as np


def text(v):
    return v.decode("utf-8") if isinstance(v, bytes) else str(v)


def main(src, out):
    os.makedirs(out, exist_ok=True)
    with h5py.File(src, "r") as f:
        config = json.loads(text(f.attrs["model_config"]))
        mw = f["model_weights"]
        weights = []
        for layer in [text(n) for n in mw.attrs["layer_names"]]:
            g = mw[layer]
            for name in [text(n) for n in g.attrs["weight_names"]]:
                weights.append((name.split(":")[0], np.asarray(g[name], dtype="<f4")))
    blob = b"".join(a.tobytes() for _, a in weights)
    with open(os.path.join(out, "group1-shard1of1.bin"), "wb") as fh:
        fh.write(blob)
    model = {"format": "layers-model", "generatedBy": "h5_to_tfjs.py",
             "modelTopology": {"keras_version": "2.6.0", "backend": "tensorflow",
                               "model_config": config},
             "weightsManifest": [{"paths": ["group1-shard1of1.bin"],
                                  "weights": [{"name": n, "shape": list(a.shape),
                                               "dtype": "float32"} for n, a in weights]}]}
    with open(os.path.join(out, "model.json"), "w") as fh:
        json.dump(model, fh)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
