// ort_run.js MODEL.onnx INPUT.npy OUTPUT.npy - runs an ONNX model with
// onnxruntime-node on a float32 .npy (seqsh's layout) and writes the output
// as a float32 .npy. Used by `make check-interop`.
'use strict';
const fs = require('fs');
const ort = require('onnxruntime-node');

function readNpy(file) {
  const b = fs.readFileSync(file);
  const hlen = b.readUInt16LE(8);
  const header = b.toString('latin1', 10, 10 + hlen);
  const shape = header.match(/'shape': \(([^)]*)\)/)[1].split(',')
    .map(s => s.trim()).filter(s => s.length).map(Number);
  const data = new Float32Array(b.buffer.slice(b.byteOffset + 10 + hlen, b.byteOffset + b.length));
  return new ort.Tensor('float32', data, shape);
}

function writeNpy(file, t) {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${t.dims.join(', ')}${t.dims.length === 1 ? ',' : ''}), }`;
  while ((10 + header.length + 1) % 64) header += ' ';
  header += '\n';
  const h = Buffer.alloc(10);
  h.write('\x93NUMPY', 0, 'latin1');
  h[6] = 1; h[7] = 0;
  h.writeUInt16LE(header.length, 8);
  const d = t.data;
  fs.writeFileSync(file, Buffer.concat([h, Buffer.from(header, 'latin1'),
    Buffer.from(d.buffer, d.byteOffset, d.byteLength)]));
}

async function main() {
  const [modelPath, inPath, outPath] = process.argv.slice(2);
  const session = await ort.InferenceSession.create(modelPath);
  const out = await session.run({ input: readNpy(inPath) });
  writeNpy(outPath, out.output);
}

main().catch(e => { console.error(String(e && e.stack || e)); process.exit(1); });
