// Kernel profile of sampling one batch of a trained checkpoint.
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '../src/engine/compute/backend';
import { loadModel } from '../src/engine/model/checkpoint';
import { sample } from '../src/engine/model/sample';
import { openProject, loadData } from '../src/engine/project';

async function main() {
  const [projectDir, modelDir, n] = process.argv.slice(2);
  console.log((await selectBackend('auto')).description);
  const p = await openProject(projectDir);
  const { train } = await loadData(p);
  const { model, tokenizer } = loadModel(modelDir);
  const prompts = train.slice(0, Number(n)).map((x) => p.task.prompt(x, true));
  const t = performance.now();
  const prof = await tf.profile(async () => { await sample(model, tokenizer, prompts, { maxNewTokens: 90, temperature: 0, topK: 0, stop: p.task.stop, batchSize: 256 }); });
  const wall = performance.now() - t;
  const agg: Record<string, [number, number]> = {};
  let tot = 0;
  for (const k of prof.kernels) { const kt = k.kernelTimeMs as number; agg[k.name] ??= [0, 0]; agg[k.name][0] += kt; agg[k.name][1]++; tot += kt; }
  console.log(`wall ${wall.toFixed(0)} ms, kernel time ${tot.toFixed(0)} ms over ${prof.kernels.length} calls`);
  for (const [k, [kt, c]] of Object.entries(agg).sort((a, b) => b[1][0] - a[1][0]).slice(0, 25)) console.log(`  ${k.padEnd(22)} ${kt.toFixed(1).padStart(8)} ms x${c}`);
}
main();
