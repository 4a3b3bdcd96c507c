// tfjs_run.js MODEL.json INPUT.npy OUTPUT.npy - loads a TF.js Layers model
// with TensorFlow.js's own loader (tf.loadLayersModel over the files, as a
// browser would fetch them), runs it on a float32 .npy and writes the
// result as a float32 .npy. Used by `make check-interop`.
'use strict';
const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs');

function readNpy(file) {
  const b = fs.readFileSync(file);
  const hlen = b.readUInt16LE(8);
  const header = b.toString('latin1', 10, 10 + hlen);
  if (!/'descr': '<f4'/.test(header) || /'fortran_order': True/.test(header))
    throw new Error(`${file}: expected a C-order float32 .npy`);
  const shape = header.match(/'shape': \(([^)]*)\)/)[1].split(',')
    .map(s => s.trim()).filter(s => s.length).map(Number);
  const data = new Float32Array(b.buffer.slice(b.byteOffset + 10 + hlen, b.byteOffset + b.length));
  return tf.tensor(data, shape);
}

function writeNpy(file, t) {
  const data = t.dataSync();
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${t.shape.join(', ')}${t.shape.length === 1 ? ',' : ''}), }`;
  while ((10 + header.length + 1) % 64) header += ' ';
  header += '\n';
  const h = Buffer.alloc(10);
  h.write('\x93NUMPY', 0, 'latin1');
  h[6] = 1; h[7] = 0;
  h.writeUInt16LE(header.length, 8);
  fs.writeFileSync(file, Buffer.concat([h, Buffer.from(header, 'latin1'),
    Buffer.from(data.buffer, data.byteOffset, data.byteLength)]));
}

// tf.io.http with a fetch that reads the local files, so the manifest's
// paths are resolved exactly as TensorFlow.js resolves URLs.
async function fileFetch(url) {
  const p = decodeURIComponent(new URL(url).pathname);
  const body = fs.readFileSync(p);
  return new Response(body, { status: 200 });
}

async function main() {
  const [modelPath, inPath, outPath] = process.argv.slice(2);
  const url = 'file://' + path.resolve(modelPath);
  const model = await tf.loadLayersModel(tf.io.http(url, { fetchFunc: fileFetch }));
  const y = model.predict(readNpy(inPath));
  writeNpy(outPath, y);
}

main().catch(e => { console.error(String(e && e.stack || e)); process.exit(1); });
