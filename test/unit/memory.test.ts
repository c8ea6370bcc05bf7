import { strict as assert } from 'node:assert';
import { before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '../../src/engine/compute/backend';
import { GPT, GPTConfig } from '../../src/engine/model/gpt';
import { gptParams, memoryBudget, sampleBytes, shapeOf, trainStepBytes, WASM_HEAP_MAX } from '../../src/engine/model/memory';
import { sample } from '../../src/engine/model/sample';
import { CharTokenizer } from '../../src/engine/model/tokenizer';
import { train, trainStep } from '../../src/engine/model/train';
import type { HostBatch } from '../../src/engine/compute/webgpu/gptStep';

const tok = CharTokenizer.fromTexts(['0123456789+=:>|c\nTarget ']);
const cfg: GPTConfig = { vocabSize: tok.vocabSize, nLayer: 2, nHead: 2, nEmbd: 16, blockSize: 48, dropout: 0, pos: 'rope' };
const opts = { batchSize: 8, lr: 3e-3, warmupFraction: 0.1, weightDecay: 0.1, gradClip: 1, seed: 7 };
// completions of different lengths: a per-micro-batch mean would weigh their tokens differently
const texts = ['3+4:4+3=7c0|>7\n', '12+9:2+9=11c1|1+0+1=2c0|>21\n', '5+5:5+5=10c1|>10\n', '7+1:7+1=8c0|>8\n',
  '99+99:9+9=18c1|9+9+1=19c1|>198\n', '1+1:>2\n'];
const data = texts.map((t) => ({ prompt: t.slice(0, t.indexOf(':') + 1), completion: t.slice(t.indexOf(':') + 1) }));

const weightsOf = (m: GPT) => [...m.params.values()].map((v) => (v.dataSync() as Float32Array).slice());
const maxDiff = (a: Float32Array[], b: Float32Array[]) => Math.max(...a.map((x, i) => Math.max(...x.map((v, j) => Math.abs(v - b[i][j])))));
/** Runs f with STAR_MEMORY_BUDGET_MB set (the budget the trainer and the sampler fit to). */
async function withBudget<T>(bytes: number, f: () => Promise<T>): Promise<T> {
  process.env.STAR_MEMORY_BUDGET_MB = String(bytes / 2 ** 20);
  try {
    return await f();
  } finally {
    delete process.env.STAR_MEMORY_BUDGET_MB;
  }
}

/** A right-padded batch of the data's rows, loss on the completions. */
function hostBatch(rows: number[]): HostBatch {
  const enc = rows.map((r) => ({ ids: tok.encode(data[r].prompt + data[r].completion), start: tok.encode(data[r].prompt).length }));
  const T = Math.max(...enc.map((e) => e.ids.length - 1));
  const B = rows.length;
  const b = { B, T, idx: new Int32Array(B * T), targets: new Int32Array(B * T), weights: new Float32Array(B * T) };
  enc.forEach((e, i) => {
    for (let t = 0; t < e.ids.length - 1; t++) {
      b.idx[i * T + t] = e.ids[t];
      b.targets[i * T + t] = e.ids[t + 1];
      if (t + 1 >= e.start) b.weights[i * T + t] = 1;
    }
  });
  return b;
}

/** Weights and losses after `steps` tfjs-ops steps with micro-batches of `rows`. */
async function stepped(rows: number, steps: number) {
  const model = new GPT(cfg, undefined, 3);
  const vars = [...model.params.values()];
  const zeros = () => vars.map((v) => tf.variable(tf.zerosLike(v), false));
  const [m, s] = [zeros(), zeros()];
  const losses: number[] = [];
  for (let i = 0; i < steps; i++) {
    const batch = hostBatch([0, 1, 2, 3, 4, 5, (i + 1) % 6, 4].slice(0, 8));
    const loss = trainStep(model, vars, m, s, new Set(vars.filter((v) => v.shape.length === 2)), batch,
      { lr: 3e-3, t: i + 1, weightDecay: 0.1, clip: 1, seed: i }, rows);
    losses.push((await loss.data())[0]);
    loss.dispose();
  }
  const w = weightsOf(model);
  [...m, ...s].forEach((v) => v.dispose());
  model.dispose();
  return { w, losses };
}

before(async () => {
  await selectBackend('wasm');
});

describe('memory', () => {
  test('the GSM8K default (4 layers of 128, 32 rows of 512) does not fit the wasm heap as one batch; 4 rows do', () => {
    const m = { nLayer: 4, nHead: 4, nEmbd: 128, vocabSize: 96, blockSize: 512, params: 0 };
    m.params = gptParams({ ...m, pos: 'rope' });
    assert.ok(trainStepBytes(m, 32, 512) > WASM_HEAP_MAX, 'the shape that aborted is estimated over the ceiling');
    // measured: 8 rows of 512 grew the heap to 1641 MB, 1 row of 1024 to 707 MB (bench/memory.ts)
    assert.ok(trainStepBytes(m, 8, 512) >= 1641 * 2 ** 20);
    assert.ok(trainStepBytes({ ...m, blockSize: 1024 }, 1, 1024) >= 707 * 2 ** 20);
    assert.ok(trainStepBytes(m, 4, 512) < memoryBudget('wasm')!);
    // measured: 16 prompts of 512 with 128 new tokens grew it to 1815 MB
    assert.ok(sampleBytes({ ...m, blockSize: 640 }, 16, 512, 640) >= 1815 * 2 ** 20);
  });

  test('gptParams counts what GPT declares', () => {
    for (const pos of ['rope', 'learned'] as const) {
      const model = new GPT({ ...cfg, pos });
      assert.equal(gptParams({ ...cfg, pos }), shapeOf(model).params);
      model.dispose();
    }
  });
});

describe('micro-batches', () => {
  test('gradients accumulated over micro-batches give the full batch\'s loss and weights', async () => {
    const full = await stepped(8, 6);
    for (const rows of [3, 1]) {
      const micro = await stepped(rows, 6);
      full.losses.forEach((l, i) => assert.ok(Math.abs(l - micro.losses[i]) < 1e-5, `step ${i + 1}: ${l} vs ${micro.losses[i]}`));
      const d = maxDiff(full.w, micro.w);
      assert.ok(d < 2e-6, `micro-batches of ${rows}: weights differ by ${d}`);
    }
  });

  test('train() under a tight budget runs micro-batches, says so, and ends where the full batch does', async () => {
    const run = async (budget?: number) => {
      const model = new GPT(cfg, undefined, 3);
      const log: string[] = [];
      const go = () => train(model, tok, data, { ...opts, steps: 8, log: (m) => log.push(m) });
      await (budget ? withBudget(budget, go) : go());
      const w = weightsOf(model);
      model.dispose();
      return { w, log };
    };
    const full = await run();
    const tight = await run(trainStepBytes(shapeOf(new GPT(cfg)), 2, cfg.blockSize));
    assert.equal(full.log.length, 0);
    assert.match(tight.log.join('\n'), /micro-batches of up to \d rows, gradients accumulated \(a batch of 8 x \d+ tokens needs about/);
    assert.ok(maxDiff(full.w, tight.w) < 2e-6);
  });

  test('not even one row fitting is an error with the estimate and what to change', async () => {
    const model = new GPT(cfg);
    await assert.rejects(withBudget(2 ** 20, () => train(model, tok, data, { ...opts, steps: 1 })),
      /one sequence of \d+ tokens needs about \d+ MB to train, more than the 1 MB the wasm backend has: lower model.blockSize/);
    model.dispose();
  });
});

describe('sequences longer than the block', () => {
  test('are left out of training and counted, not cut to their end', async () => {
    const long = { prompt: '1+1:', completion: '2c0|'.repeat(20) + '>2\n', id: 'p-long' };
    const run = async (d: typeof data) => {
      const model = new GPT(cfg, undefined, 3);
      const log: string[] = [];
      await train(model, tok, d, { ...opts, steps: 4, log: (m) => log.push(m) });
      const w = weightsOf(model);
      model.dispose();
      return { w, log };
    };
    const without = await run(data);
    const withLong = await run([...data, long]);
    assert.match(withLong.log.join('\n'), /1 of 7 training sequences are longer than blockSize 48 \+ 1 tokens and are left out of training \(longest 87 tokens\): p-long/);
    assert.deepEqual(withLong.w, without.w, 'the long one took no part in training');
    const model = new GPT(cfg);
    await assert.rejects(train(model, tok, [long], { ...opts, steps: 1 }), /all of them; the longest 87\): set model.blockSize to at least 86/);
    model.dispose();
  });
});

describe('sampling that fits', () => {
  test('fewer rows a batch where memory is tight: the same completions', async () => {
    const model = new GPT(cfg, undefined, 5);
    const prompts = ['1+2:', '33+44:', '5+6:', '123+456:', '9+9:', '77+8:', '1+0:', '40+4:'];
    const opt = { maxNewTokens: 12, temperature: 1, topK: 5, stop: ['\n'], seeds: prompts.map((_, i) => 100 + i), batchSize: 8 };
    const wide = await sample(model, tok, prompts, opt);
    const log: string[] = [];
    const narrow = await withBudget(sampleBytes(shapeOf(model), 2, 8, 20), () => sample(model, tok, prompts, { ...opt, log: (m) => log.push(m) }));
    assert.deepEqual(narrow, wide);
    assert.match(log.join('\n'), /sampling: batches of [12] rows \(not 8\)/);
    await assert.rejects(sample(model, tok, ['1'.repeat(48)], opt), /prompt 1 has 48 tokens: blockSize 48 leaves no room to answer/);
    model.dispose();
  });
});
