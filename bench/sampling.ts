// Times batched sampling of a trained checkpoint over a project's training questions, at several batch sizes.
import { selectBackend } from '../src/engine/compute/backend';
import { loadModel } from '../src/engine/model/checkpoint';
import { sample } from '../src/engine/model/sample';
import { openProject, loadData } from '../src/engine/project';

async function main() {
  const [projectDir, modelDir, ...sizes] = process.argv.slice(2);
  console.log((await selectBackend('auto')).description);
  const p = await openProject(projectDir);
  const { train } = await loadData(p);
  const { model, tokenizer } = loadModel(modelDir);
  for (const hint of [false, true]) {
    const prompts = train.map((x) => p.task.prompt(x, hint));
    for (const bs of sizes.map(Number)) {
      const t = performance.now();
      const out = await sample(model, tokenizer, prompts, { maxNewTokens: 90, temperature: 0, topK: 0, stop: p.task.stop, batchSize: bs });
      const s = (performance.now() - t) / 1000;
      const chars = out.reduce((a, o) => a + o.length, 0);
      console.log(`hint=${hint} batch ${bs}: ${s.toFixed(1)} s, ${(chars / s).toFixed(0)} tokens/s`);
    }
  }
}
main();
