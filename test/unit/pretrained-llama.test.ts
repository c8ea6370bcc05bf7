// Llama-family checkpoints in the embedded engine: random-weight checkpoints written in the exact Hugging Face layout
// load into the tfjs Llama, match an independent plain-PyTorch Llama (test/fixtures/llama_reference.py) in logits and
// greedy tokens, sample the same text with the KV cache as with full forwards, and fine-tune on wasm. Also the wasm
// UnsortedSegmentSum kernel (the gradient of gather), which lets a model with a vocabulary over 512 tokens fine-tune.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '../../src/engine/compute/backend';
import { decodeSafetensors, loadCheckpoint, saveModel } from '../../src/engine/model/checkpoint';
import type { CausalLM } from '../../src/engine/model/gpt';
import type { TextTokenizer } from '../../src/engine/model/hfTokenizer';
import { Llama } from '../../src/engine/model/llama';
import { loadPretrained, readHFConfig } from '../../src/engine/model/pretrained';
import { sample } from '../../src/engine/model/sample';
import { Sequence, train } from '../../src/engine/model/train';
import { initProject, openProject } from '../../src/engine/project';
import { runStar } from '../../src/engine/star';
import type { ProjectConfig } from '../../src/engine/store/format';
import { LlamaFixtureOptions, writeGpt2CheckpointWithVocab, writeLlamaCheckpoint } from '../fixtures/llamaCheckpoint';

const PY = '/usr/bin/python3';
const REF = path.resolve('test', 'fixtures', 'llama_reference.py');
const torchMissing = (() => {
  const r = spawnSync(PY, ['-c', 'import torch'], { encoding: 'utf8' });
  return r.status === 0 ? false : `${PY} has no torch (apt-get install -y python3-torch, or run scripts/setup-torch.sh): the PyTorch parity check is skipped`;
})();
const tmp = (p: string) => fs.mkdtempSync(path.join(os.tmpdir(), p));

before(async () => {
  await selectBackend('wasm');
});

/** Greedy continuation by full forwards over the whole sequence (no cache). */
function greedyFull(model: CausalLM, ids: number[], steps: number): number[] {
  const seq = [...ids];
  const out: number[] = [];
  for (let i = 0; i < steps; i++) {
    const next = tf.tidy(() => {
      const { logits } = model.forward(tf.tensor2d([seq], [1, seq.length], 'int32'));
      return tf.argMax(tf.reshape(tf.slice(logits, [0, seq.length - 1, 0], [1, 1, -1]), [-1])).dataSync()[0];
    });
    out.push(next);
    seq.push(next);
  }
  return out;
}

function lastLogits(model: CausalLM, ids: number[]): number[] {
  return tf.tidy(() => {
    const { logits } = model.forward(tf.tensor2d([ids], [1, ids.length], 'int32'));
    return Array.from(tf.slice(logits, [0, ids.length - 1, 0], [1, 1, -1]).dataSync());
  });
}

/** Mean completion loss over all sequences at once (right-padded), as the trainer weighs it. */
function evalLoss(model: CausalLM, tok: TextTokenizer, data: Sequence[]): number {
  const rows = data.map(({ prompt, completion }) => ({ ids: tok.encode(prompt + completion), start: tok.encode(prompt).length }));
  const L = Math.max(...rows.map((r) => r.ids.length - 1));
  const idx = new Int32Array(rows.length * L), tgt = new Int32Array(rows.length * L), w = new Float32Array(rows.length * L);
  rows.forEach((r, b) => {
    for (let t = 0; t < r.ids.length - 1; t++) {
      idx[b * L + t] = r.ids[t];
      tgt[b * L + t] = r.ids[t + 1];
      if (t + 1 >= r.start) w[b * L + t] = 1;
    }
  });
  return tf.tidy(() => model.loss(tf.tensor2d(idx, [rows.length, L], 'int32'), tf.tensor2d(tgt, [rows.length, L], 'int32'), tf.tensor2d(w, [rows.length, L])).dataSync()[0]);
}

const DATA: Sequence[] = [
  { prompt: 'the cat is ', completion: '12+1==13' },
  { prompt: 'is the cat ', completion: 'here' },
];

const TRAIN = { steps: 8, batchSize: 2, lr: 3e-3, warmupFraction: 0.1, weightDecay: 0.01, gradClip: 1, seed: 1 };

describe('pretrained Llama checkpoints', () => {
  const dir = tmp('star-llama-');
  const { eos, bos } = writeLlamaCheckpoint(dir);

  test('config.json is read as a Llama: GQA, rope_theta, untied head; the SentencePiece tokenizer.json round-trips', () => {
    const { model, tokenizer, family } = loadPretrained(dir);
    try {
      assert.equal(family, 'llama');
      assert.ok(model instanceof Llama);
      const c = model.config;
      assert.deepEqual([c.nHead, c.nKvHead, c.headDim, c.ropeTheta, c.tied, c.blockSize], [4, 2, 8, 5000, false, 128]);
      assert.ok(c.vocabSize > 512, 'a vocabulary over 512 tokens: the embedding is a gather');
      const text = 'the cat is 12+1==13, the end';
      const ids = tokenizer.encode(text);
      assert.equal(ids[0], bos, 'BOS from the template post-processor');
      assert.equal(tokenizer.decode(ids), text);
      assert.equal(tokenizer.decode(tokenizer.encode('é')), 'é', 'byte fallback');
      assert.equal(tokenizer.eosId, eos);
    } finally {
      model.dispose();
    }
  });

  test('unsupported settings are refused with a clear message', () => {
    const bad = (extra: Record<string, unknown>, re: RegExp) => {
      const d = tmp('star-llama-bad-');
      writeLlamaCheckpoint(d, { extraConfig: extra });
      assert.throws(() => readHFConfig(d), re);
    };
    bad({ rope_scaling: { rope_type: 'llama3', factor: 8 } }, /rope_scaling "llama3" is not supported/);
    bad({ rope_scaling: { type: 'linear', factor: 2 } }, /rope_scaling "linear" is not supported/);
    bad({ hidden_act: 'gelu' }, /hidden_act "gelu"/);
    bad({ model_type: 'phi3' }, /model_type "phi3" is not supported/);
  });

  const variants: [string, LlamaFixtureOptions][] = [
    ['llama: GQA (4 query heads, 2 key/value heads), untied lm_head', {}],
    ['llama: multi-head, tied embeddings, attention_bias', { nKvHead: 4, tied: true, attentionBias: true, ropeTheta: 10000, seed: 5 }],
    ['mistral', { modelType: 'mistral', nKvHead: 1, seed: 6 }],
    ['qwen2: q/k/v biases, tied', { modelType: 'qwen2', tied: true, seed: 8, ropeTheta: 1e6 }],
  ];
  for (const [name, o] of variants) {
    test(`${name}: logits and greedy tokens match an independent PyTorch Llama`, { skip: torchMissing }, async () => {
      const d = Object.keys(o).length ? tmp('star-llama-v-') : dir;
      if (d !== dir) writeLlamaCheckpoint(d, o);
      const { model, tokenizer } = loadPretrained(d);
      try {
        const prompt = 'the cat is 12+1==';
        const ids = tokenizer.encode(prompt);
        const steps = 16;
        const r = spawnSync(PY, [REF, d, JSON.stringify(ids), String(steps)], { encoding: 'utf8' });
        assert.equal(r.status, 0, r.stderr);
        const ref = JSON.parse(r.stdout) as { tokens: number[]; logits: number[] };
        const logits = lastLogits(model, ids);
        const maxDiff = Math.max(...logits.map((x, i) => Math.abs(x - ref.logits[i])));
        assert.ok(maxDiff < 1e-3, `logits differ by ${maxDiff}`);
        assert.deepEqual(greedyFull(model, ids, steps), ref.tokens, 'identical greedy tokens');
        const untilEos = ref.tokens.indexOf(eos) >= 0 ? ref.tokens.slice(0, ref.tokens.indexOf(eos)) : ref.tokens;
        const [text] = await sample(model, tokenizer, [prompt, 'a padding row of another length'], { maxNewTokens: steps, temperature: 0, topK: 0, stop: [], seeds: [0, 1] });
        assert.equal(text, tokenizer.decode(untilEos), 'the KV-cache sampler writes the same text');
      } finally {
        model.dispose();
      }
    });
  }

  test('sampling with the KV cache (batched, left-padded) writes what full forwards write', async () => {
    const { model, tokenizer } = loadPretrained(dir);
    try {
      const prompts = ['the cat is 12+1==', 'is', 'Q: what is the cat?\nA:'];
      const steps = 12;
      const texts = await sample(model, tokenizer, prompts, { maxNewTokens: steps, temperature: 0, topK: 0, stop: [], batchSize: 3 });
      prompts.forEach((p, i) => {
        const g = greedyFull(model, tokenizer.encode(p), steps);
        const cut = g.indexOf(eos) >= 0 ? g.slice(0, g.indexOf(eos)) : g;
        assert.equal(texts[i], tokenizer.decode(cut), `prompt ${i}`);
      });
      // one cached step gives the logits of the full forward at that position
      const ids = tokenizer.encode(prompts[2]);
      const diff = tf.tidy(() => {
        const full = model.forward(tf.tensor2d([ids], [1, ids.length], 'int32')).logits;
        const head = model.forward(tf.tensor2d([ids.slice(0, -1)], [1, ids.length - 1], 'int32'), { cache: model.emptyCache(1) });
        const step = model.forward(tf.tensor2d([ids.slice(-1)], [1, 1], 'int32'), { cache: head.cache }).logits;
        return tf.max(tf.abs(tf.sub(tf.slice(full, [0, ids.length - 1, 0], [1, 1, -1]), step))).dataSync()[0];
      });
      assert.ok(diff < 1e-4, `cached step differs by ${diff}`);
      // sampled (temperature, top-k) rows do not depend on the batch they fell into
      const opt = { maxNewTokens: 8, temperature: 0.8, topK: 20, stop: [], seeds: [4, 5, 6] };
      assert.deepEqual(await sample(model, tokenizer, prompts, { ...opt, batchSize: 1 }), await sample(model, tokenizer, prompts, { ...opt, batchSize: 3 }));
    } finally {
      model.dispose();
    }
  });

  test('fine-tuning on wasm changes the weights and lowers the loss; the checkpoint saves and loads as a Llama', async () => {
    assert.equal(tf.getBackend(), 'wasm');
    const loaded = loadPretrained(dir);
    const model = loaded.model as Llama, tokenizer = loaded.tokenizer;
    try {
      const before = evalLoss(model, tokenizer, DATA);
      const q0 = model.p('model.layers.0.self_attn.q_proj.weight').dataSync().slice();
      const e0 = model.p('model.embed_tokens.weight').dataSync().slice();
      const losses: number[] = [];
      await train(model, tokenizer, DATA, { ...TRAIN, onStep: (_, l) => losses.push(l) });
      assert.equal(losses.length, TRAIN.steps);
      assert.ok(losses.every(Number.isFinite));
      const after = evalLoss(model, tokenizer, DATA);
      assert.ok(after < before - 0.1, `loss ${before} -> ${after}`);
      assert.ok(model.p('model.layers.0.self_attn.q_proj.weight').dataSync().some((x, i) => x !== q0[i]), 'q_proj changed');
      assert.ok(model.p('model.embed_tokens.weight').dataSync().some((x, i) => x !== e0[i]), 'the gathered embedding changed');

      const out = tmp('star-llama-save-');
      await saveModel(out, model, tokenizer);
      assert.equal(JSON.parse(fs.readFileSync(path.join(out, 'model.json'), 'utf8')).architecture, 'star-llama');
      const names = [...decodeSafetensors(fs.readFileSync(path.join(out, 'model.safetensors'))).tensors.keys()];
      assert.ok(names.includes('model.layers.1.mlp.down_proj.weight') && names.includes('lm_head.weight'), 'Hugging Face tensor names');
      const back = loadCheckpoint(out);
      try {
        assert.ok(back.model instanceof Llama);
        assert.ok(Math.abs(evalLoss(back.model, back.tokenizer, DATA) - after) < 1e-5);
      } finally {
        back.model.dispose();
      }
    } finally {
      model.dispose();
    }
  });

  test('a STaR iteration on a pretrained Llama: M0 is the checkpoint, M1 is fine-tuned from it', async () => {
    const proj = tmp('star-llama-run-');
    await initProject(proj, { task: 'arithmetic', trainCount: 4, exemplarCount: 2, maxDigits: 1, evalMaxDigits: 1, evalPerDigit: 3, seed: 2 });
    const file = path.join(proj, 'star.json');
    const c = JSON.parse(fs.readFileSync(file, 'utf8')) as ProjectConfig;
    fs.writeFileSync(file, JSON.stringify({
      ...c,
      model: { compute: 'wasm', pretrained: path.relative(proj, dir) },
      training: { ...c.training, schedule: { kind: 'exponential', base: 2, growth: 1.2 }, batchSize: 2 },
      sampling: { maxNewTokens: 4, shots: 1 },
      star: { iterations: 1 },
    }));
    fs.writeFileSync(path.join(proj, 'data', 'eval.jsonl'), fs.readFileSync(path.join(proj, 'data', 'eval.jsonl'), 'utf8').split('\n').slice(0, 3).join('\n') + '\n');
    const store = await runStar(await openProject(proj), {}, () => {});
    assert.equal(store.readRun().status, 'finished');
    assert.equal(JSON.parse(fs.readFileSync(store.iterPath(0, 'model.json'), 'utf8')).architecture, 'star-llama');
    const w = (n: number) => decodeSafetensors(fs.readFileSync(store.iterPath(n, 'model.safetensors'))).tensors.get('model.layers.0.mlp.gate_proj.weight')!.data;
    assert.ok(Array.from(w(1)).some((x, i) => x !== w(0)[i]), 'M1 was fine-tuned');
  });
});

describe('UnsortedSegmentSum on wasm (the gradient of gather)', () => {
  /** Runs f on the cpu backend and on wasm with the same inputs. */
  async function onBoth<T>(f: () => T): Promise<{ cpu: T; wasm: T }> {
    assert.equal(tf.getBackend(), 'wasm');
    const wasm = f();
    await tf.setBackend('cpu');
    try {
      return { cpu: f(), wasm };
    } finally {
      await tf.setBackend('wasm');
    }
  }

  test('matches the cpu backend: float32 and int32, inner dimensions, repeated and out-of-range ids', async () => {
    const ids = [3, 0, 3, 5, -1, 1, 7, 0];
    const x = Array.from({ length: ids.length * 6 }, (_, i) => Math.sin(i) * 3);
    const { cpu, wasm } = await onBoth(() =>
      tf.tidy(() => [
        Array.from(tf.unsortedSegmentSum(tf.tensor3d(x, [ids.length, 2, 3]), tf.tensor1d(ids, 'int32'), 6).dataSync()),
        Array.from(tf.unsortedSegmentSum(tf.tensor2d(x.map(Math.round), [ids.length, 6], 'int32'), tf.tensor1d(ids, 'int32'), 4).dataSync()),
        Array.from(tf.unsortedSegmentSum(tf.tensor1d(x.slice(0, 8)), tf.tensor1d(ids, 'int32'), 9).dataSync()),
      ]),
    );
    assert.equal(cpu[0].length, 6 * 6);
    cpu.forEach((c, k) => c.forEach((v, i) => assert.ok(Math.abs(v - wasm[k][i]) < 1e-5, `case ${k} [${i}]: ${v} vs ${wasm[k][i]}`)));
  });

  test('the gradient of gather matches the cpu backend', async () => {
    const table = Array.from({ length: 700 * 4 }, (_, i) => Math.cos(i));
    const idx = [5, 699, 5, 0, 42, 42, 42];
    const { cpu, wasm } = await onBoth(() =>
      tf.tidy(() => {
        const t = tf.tensor2d(table, [700, 4]);
        const g = tf.grad((w: tf.Tensor) => tf.sum(tf.mul(tf.gather(w, tf.tensor1d(idx, 'int32')), tf.reshape(tf.range(1, 29), [7, 4]))))(t);
        return Array.from(g.dataSync());
      }),
    );
    cpu.forEach((v, i) => assert.ok(Math.abs(v - wasm[i]) < 1e-5, `[${i}]`));
    assert.equal(wasm[42 * 4], 17 + 21 + 25, 'three lookups of row 42 summed');
  });

  test('a GPT-2 checkpoint with a 1000-token vocabulary fine-tunes on wasm (loss falls)', async () => {
    assert.equal(tf.getBackend(), 'wasm');
    const d = tmp('star-gpt2-1000-');
    writeGpt2CheckpointWithVocab(d, 1000);
    const { model, tokenizer } = loadPretrained(d);
    try {
      assert.equal(model.config.vocabSize, 1000);
      const before = evalLoss(model, tokenizer, DATA);
      const wte0 = model.params.get('transformer.wte.weight')!.dataSync().slice();
      await train(model, tokenizer, DATA, TRAIN);
      const after = evalLoss(model, tokenizer, DATA);
      assert.ok(after < before - 0.1, `loss ${before} -> ${after}`);
      assert.ok(model.params.get('transformer.wte.weight')!.dataSync().some((x, i) => x !== wte0[i]), 'the gathered embedding changed');
    } finally {
      model.dispose();
    }
  });
});
