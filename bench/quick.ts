// Quick timing of one training step and of batched sampling for the default arithmetic model.
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '../src/engine/compute/backend';
import { GPT } from '../src/engine/model/gpt';
import { sample } from '../src/engine/model/sample';
import { CharTokenizer } from '../src/engine/model/tokenizer';
import { train } from '../src/engine/model/train';
import { arithmetic, generateAdditions, arithmeticExemplar } from '../src/engine/tasks/arithmetic';

async function main() {
  const b = await selectBackend((process.argv[2] as any) ?? 'auto');
  console.log(b.description);
  const ex = generateAdditions({ count: 500, minDigits: 1, maxDigits: 5, seed: 1 }).map(arithmeticExemplar);
  const data = ex.map((e) => ({ prompt: arithmetic.prompt(e), completion: arithmetic.completion(e.rationale, e.gold) }));
  const tok = CharTokenizer.fromTexts(ex.flatMap((e) => [arithmetic.prompt(e, true), arithmetic.completion(e.rationale, e.gold)]));
  const model = new GPT({ vocabSize: tok.vocabSize, nLayer: 3, nHead: 4, nEmbd: 128, blockSize: 128, dropout: 0.1, pos: 'rope' });
  const steps = Number(process.argv[3] ?? 10);
  let t = performance.now();
  let tokens = 0;
  train(model, tok, data, { steps, batchSize: 32, lr: 1e-3, warmupFraction: 0.1, weightDecay: 0.1, gradClip: 1, seed: 0 });
  const dt = (performance.now() - t) / 1000;
  console.log(`train: ${(dt / steps * 1000).toFixed(0)} ms/step`);
  if (process.argv[4] === 'profile') {
    const prof = await tf.profile(() => { train(model, tok, data, { steps: 1, batchSize: 32, lr: 1e-3, warmupFraction: 0.1, weightDecay: 0.1, gradClip: 1, seed: 5 }); });
    const agg: Record<string, [number, number]> = {};
    let tot = 0;
    for (const k of prof.kernels) { const kt = k.kernelTimeMs as number; agg[k.name] ??= [0, 0]; agg[k.name][0] += kt; agg[k.name][1]++; tot += kt; }
    console.log(`kernel time ${tot.toFixed(0)} ms over ${prof.kernels.length} calls`);
    for (const [n, [kt, c]] of Object.entries(agg).sort((a, b) => b[1][0] - a[1][0]).slice(0, 20)) console.log(`  ${n.padEnd(22)} ${kt.toFixed(1).padStart(7)} ms x${c}`);
  }
  t = performance.now();
  const prompts = ex.map((e) => arithmetic.prompt(e));
  const out = sample(model, tok, prompts, { maxNewTokens: 90, temperature: 0, topK: 0, stop: ['\n'] });
  const st = (performance.now() - t) / 1000;
  console.log(`sample 500 prompts: ${st.toFixed(1)} s; ${out.reduce((a, o) => a + o.length, 0)} chars; tensors ${tf.memory().numTensors}`);
}
main();
