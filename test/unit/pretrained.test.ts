// Pretrained weights in the embedded engine: a random-weight GPT-2 checkpoint written in the exact Hugging Face layout
// is loaded into the tfjs transformer, tokenized with its tokenizer.json, and gives the same greedy tokens as an
// independent plain-PyTorch GPT-2 (test/fixtures/gpt2_reference.py, run with Debian's /usr/bin/python3 + torch);
// then it runs a STaR iteration, fine-tuned by the embedded trainer.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '../../src/engine/compute/backend';
import { decodeSafetensors } from '../../src/engine/model/checkpoint';
import { loadPretrained } from '../../src/engine/model/pretrained';
import { sample } from '../../src/engine/model/sample';
import { initProject, openProject } from '../../src/engine/project';
import { runStar } from '../../src/engine/star';
import type { ProjectConfig } from '../../src/engine/store/format';
import { writeGpt2Checkpoint } from '../fixtures/hfCheckpoint';

const PY = '/usr/bin/python3';
const REF = path.resolve('test', 'fixtures', 'gpt2_reference.py');
const torchMissing = (() => {
  const r = spawnSync(PY, ['-c', 'import torch'], { encoding: 'utf8' });
  return r.status === 0 ? false : `${PY} has no torch (apt-get install -y python3-torch, or run scripts/setup-torch.sh): the PyTorch parity check is skipped`;
})();

before(async () => {
  await selectBackend('wasm');
});

describe('pretrained GPT-2 checkpoints', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'star-gpt2-'));
  const { eos } = writeGpt2Checkpoint(dir);

  test('the tokenizer.json is read by @huggingface/tokenizers: BPE merges, exact round trip', () => {
    const { model, tokenizer } = loadPretrained(dir);
    model.dispose();
    const text = 'the cat is 12+1==13, the end';
    const ids = tokenizer.encode(text);
    assert.equal(tokenizer.decode(ids), text);
    assert.equal(tokenizer.encode(' the').length, 1, '"Ġthe" is one token');
    assert.equal(tokenizer.encode(' cat').length, 1);
    assert.equal(tokenizer.eosId, eos);
    assert.equal(tokenizer.decode([...tokenizer.encode('é'), eos]), 'é', 'two bytes, one character; special tokens skipped');
  });

  test('greedy tokens and logits match an independent PyTorch GPT-2', { skip: torchMissing }, async () => {
    const { model, tokenizer } = loadPretrained(dir);
    try {
      const prompt = 'the cat is 12+1==';
      const ids = tokenizer.encode(prompt);
      const steps = 16;
      const r = spawnSync(PY, [REF, dir, JSON.stringify(ids), String(steps)], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      const ref = JSON.parse(r.stdout) as { tokens: number[]; logits: number[] };

      // logits of the last prompt position, full forward
      const logits = tf.tidy(() => {
        const { logits } = model.forward(tf.tensor2d([ids], [1, ids.length], 'int32'));
        return Array.from(tf.slice(logits, [0, ids.length - 1, 0], [1, 1, -1]).dataSync());
      });
      const maxDiff = Math.max(...logits.map((x, i) => Math.abs(x - ref.logits[i])));
      assert.ok(maxDiff < 1e-3, `logits differ by ${maxDiff}`);

      // greedy decoding through the engine's sampler (KV cache, batched), compared as tokens and as text
      const greedy: number[] = [];
      const seq = [...ids];
      for (let i = 0; i < steps; i++) {
        const next = tf.tidy(() => {
          const { logits } = model.forward(tf.tensor2d([seq], [1, seq.length], 'int32'));
          return tf.argMax(tf.reshape(tf.slice(logits, [0, seq.length - 1, 0], [1, 1, -1]), [-1])).dataSync()[0];
        });
        greedy.push(next);
        seq.push(next);
      }
      assert.deepEqual(greedy, ref.tokens, 'identical greedy tokens');
      const untilEos = ref.tokens.indexOf(eos) >= 0 ? ref.tokens.slice(0, ref.tokens.indexOf(eos)) : ref.tokens;
      const [text] = await sample(model, tokenizer, [prompt, 'padding row of another length'], { maxNewTokens: steps, temperature: 0, topK: 0, stop: [], seeds: [0, 1] });
      assert.equal(text, tokenizer.decode(untilEos), 'the KV-cache sampler writes the same text');
    } finally {
      model.dispose();
    }
  });

  test('a STaR iteration on the pretrained model: M0 is the checkpoint (few-shot), M1 is fine-tuned from it', async () => {
    const proj = fs.mkdtempSync(path.join(os.tmpdir(), 'star-pre-'));
    await initProject(proj, { task: 'arithmetic', trainCount: 6, exemplarCount: 4, maxDigits: 1, evalMaxDigits: 1, evalPerDigit: 5, seed: 2 });
    const file = path.join(proj, 'star.json');
    const c = JSON.parse(fs.readFileSync(file, 'utf8')) as ProjectConfig;
    fs.writeFileSync(file, JSON.stringify({
      ...c,
      model: { compute: 'wasm', pretrained: path.relative(proj, dir) },
      training: { ...c.training, schedule: { kind: 'exponential', base: 3, growth: 1.2 }, batchSize: 2 },
      sampling: { maxNewTokens: 6, shots: 1 },
      star: { iterations: 1 },
    }));
    // a small eval split
    fs.writeFileSync(path.join(proj, 'data', 'eval.jsonl'), fs.readFileSync(path.join(proj, 'data', 'eval.jsonl'), 'utf8').split('\n').slice(0, 5).join('\n') + '\n');
    const store = await runStar(await openProject(proj), {}, () => {});
    assert.equal(store.readRun().status, 'finished');
    const m0 = store.readMetrics(0)!;
    assert.equal(m0.trainSteps, 0, 'no training for M0: it is the checkpoint');
    const mj = JSON.parse(fs.readFileSync(store.iterPath(0, 'model.json'), 'utf8'));
    assert.deepEqual(mj.tokenizer, { type: 'hf', file: 'tokenizer.json' });
    assert.ok(fs.existsSync(store.iterPath(0, 'tokenizer.json')));
    const m1 = store.readMetrics(1)!;
    assert.equal(m1.trainSteps, 3);
    assert.equal(store.readGenerations(1).length, 6);
    const w = (n: number) => decodeSafetensors(fs.readFileSync(store.iterPath(n, 'model.safetensors'))).tensors.get('transformer.h.0.mlp.c_fc.weight')!.data;
    assert.ok(Array.from(w(1)).some((x, i) => x !== w(0)[i]), 'M1 was fine-tuned');
    assert.ok(fs.existsSync(store.iterPath(1, 'tokenizer.json')), 'M1 keeps the tokenizer');
  });
});
