// ort_bench.js - onnxruntime's side of seqsh's benchmark (scripts/bench/run.sh):
// the model seqsh's `export onnx` wrote, run by onnxruntime-node on
// ones(B, H, W, C) (seqsh's channels-last layout; the exported graph
// transposes inside).
//
//   node ort_bench.js MODEL.onnx THREADS REPS B H W C
//
// One session with intraOpNumThreads THREADS (interOpNumThreads 1,
// sequential execution, every graph optimisation), the input made before
// timing, one warm-up run, then REPS timed runs: one line "ms VALUE" each,
// then "rss_kb VALUE" (this process's peak resident set).
'use strict';
const ort = require('onnxruntime-node');

async function main() {
  const [model, threads, reps, ...dims] = process.argv.slice(2);
  const shape = dims.map(Number);
  if (!model || !(Number(threads) >= 1) || !(Number(reps) >= 1) || shape.length !== 4
      || shape.some(d => !(d >= 1))) {
    console.error('usage: node ort_bench.js MODEL.onnx THREADS REPS B H W C');
    process.exit(2);
  }
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: Number(threads), interOpNumThreads: 1,
    executionMode: 'sequential', graphOptimizationLevel: 'all',
  });
  const x = new ort.Tensor('float32', new Float32Array(shape.reduce((a, b) => a * b)).fill(1),
                           shape);
  const feeds = { [session.inputNames[0]]: x };
  await session.run(feeds);                      // warm-up
  for (let i = 0; i < Number(reps); i++) {
    const t0 = process.hrtime.bigint();
    await session.run(feeds);
    console.log('ms ' + (Number(process.hrtime.bigint() - t0) / 1e6).toFixed(3));
  }
  console.log('rss_kb ' + Math.round(process.resourceUsage().maxRSS));
}

main().catch(e => { console.error(String(e && e.stack || e)); process.exit(1); });
