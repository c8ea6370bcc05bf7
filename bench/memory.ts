// Measures what the memory estimate (src/engine/model/memory.ts) is calibrated against, on the wasm backend:
//   node dist/memory.js heap                      the most the wasm heap can grow to (allocates until refused)
//   node dist/memory.js train B T [L C H V]       one training step's peak: tensor bytes (tf.profile) and heap size
//   node dist/memory.js sample B P N [L C H V]    sampling B prompts of P tokens, N new tokens each
// One shape per process: the wasm heap never shrinks, so its size after the work is that work's high-water mark.
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '../src/engine/compute/backend';
import { GPT } from '../src/engine/model/gpt';
import { CharTokenizer } from '../src/engine/model/tokenizer';
import { trainStep } from '../src/engine/model/train';
import { sample } from '../src/engine/model/sample';

const MB = 1024 * 1024;
const heap = () => (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.length;

async function main() {
  const [mode, ...rest] = process.argv.slice(2);
  const info = await selectBackend((process.env.STAR_COMPUTE as 'wasm') ?? 'wasm');
  console.log(info.description);
  if (mode === 'heap') return heapMax();
  const n = rest.map(Number);
  const [L, C, H, V] = [n[3] ?? 4, n[4] ?? 128, n[5] ?? 4, n[6] ?? 96];
  const T = mode === 'train' ? n[1] : n[1] + n[2];
  const model = new GPT({ vocabSize: V, nLayer: L, nHead: H, nEmbd: C, blockSize: Math.max(T, 8), dropout: 0.1, pos: 'rope' });
  const before = { bytes: tf.memory().numBytes, heap: heap() };
  const t0 = Date.now();
  const prof = await tf.profile(async () => (mode === 'train' ? trainOnce(model, n[0], n[1]) : sampleOnce(model, V, n[0], n[1], n[2])));
  console.log(JSON.stringify({
    mode, B: n[0], T: n[1], N: n[2], L, C, H, V, params: model.numParams, seconds: (Date.now() - t0) / 1000,
    baseMB: +(before.bytes / MB).toFixed(1), peakTensorMB: +(prof.peakBytes / MB).toFixed(1),
    heapBeforeMB: +(before.heap / MB).toFixed(1), heapAfterMB: +(heap() / MB).toFixed(1),
  }));
}

async function trainOnce(model: GPT, B: number, T: number) {
  const vars = [...model.params.values()];
  const zeros = () => vars.map((v) => tf.variable(tf.zerosLike(v), false));
  const [m, s] = [zeros(), zeros()];
  const idx = new Int32Array(B * T).map((_, i) => 1 + (i % (model.config.vocabSize - 1)));
  const batch = { B, T, idx, targets: idx, weights: new Float32Array(B * T).fill(1) };
  const loss = trainStep(model, vars, m, s, new Set(vars), batch, { lr: 1e-3, t: 1, weightDecay: 0.1, clip: 1, seed: 1 });
  await loss.data();
  loss.dispose();
}

async function sampleOnce(model: GPT, V: number, B: number, P: number, N: number) {
  const chars = Array.from({ length: V - 2 }, (_, i) => String.fromCharCode(33 + i));
  const tok = CharTokenizer.fromTexts([chars.join('')]);
  const prompts = Array.from({ length: B }, (_, b) => Array.from({ length: P }, (_, i) => chars[(b + i) % chars.length]).join(''));
  await sample(model, tok, prompts, { maxNewTokens: N, temperature: 0, topK: 0, stop: [], batchSize: B });
}

/** Grows the heap with 64 MB tensors until the backend refuses: the real ceiling, not the build flag's. */
function heapMax() {
  const kept: tf.Tensor[] = [];
  try {
    for (;;) {
      kept.push(tf.zeros([16 * MB]));
      if (kept.length % 8 === 0) console.log(`${kept.length * 64} MB held, heap ${(heap() / MB).toFixed(0)} MB`);
    }
  } catch (e) {
    console.log(`refused after ${kept.length * 64} MB held (heap ${(heap() / MB).toFixed(0)} MB): ${(e as Error).message}`);
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
