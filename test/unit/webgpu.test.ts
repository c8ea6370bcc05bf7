// The fused WebGPU training step and decoder (src/engine/compute/webgpu) against the tfjs ops they replace, on the WebGPU adapter
// of this machine: Mesa's lavapipe (software Vulkan, installed by scripts/setup-webgpu.sh) where there is no GPU.
// STAR_REQUIRE_WEBGPU=1 (npm test sets it) turns a missing adapter into a failure instead of a skip.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '../../src/engine/compute/backend';
import { GPTDecodeWebGPU } from '../../src/engine/compute/webgpu/gptDecode';
import { GPTStepWebGPU, HostBatch } from '../../src/engine/compute/webgpu/gptStep';
import * as K from '../../src/engine/compute/webgpu/kernels';
import { flatGroups, KernelRunner, rowGroups } from '../../src/engine/compute/webgpu/runner';
import { GPT, GPTConfig } from '../../src/engine/model/gpt';
import { CharTokenizer } from '../../src/engine/model/tokenizer';
import { sample } from '../../src/engine/model/sample';
import { StopRequested, train } from '../../src/engine/model/train';
import { openProject } from '../../src/engine/project';
import { runStar } from '../../src/engine/star';
import type { RunEvent } from '../../src/engine/store/format';
import { tinyProject } from '../fixtures/starCli';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

process.env.STAR_WEBGPU_SOFTWARE = '1';
process.env.XDG_RUNTIME_DIR ??= '/tmp'; // Mesa's window-system code asks for it, though nothing is drawn
let unavailable: string | undefined;

before(async () => {
  try {
    await selectBackend('webgpu');
  } catch (e) {
    unavailable = (e as Error).message;
    if (process.env.STAR_REQUIRE_WEBGPU === '1') throw e;
  }
});

const config = (over: Partial<GPTConfig> = {}): GPTConfig =>
  ({ vocabSize: 23, nLayer: 2, nHead: 2, nEmbd: 16, blockSize: 12, dropout: 0, pos: 'rope', ...over });

/** A batch of B rows of T tokens whose loss counts only on some positions (a prompt, and right padding). */
function batchOf(B: number, T: number, V: number, seed: number): HostBatch {
  let x = seed;
  const next = () => (x = (x * 1103515245 + 12345) % 2147483648) / 2147483648;
  const idx = Int32Array.from({ length: B * T }, () => Math.floor(next() * V));
  const targets = Int32Array.from({ length: B * T }, () => Math.floor(next() * V));
  const weights = Float32Array.from({ length: B * T }, (_, i) => (i % T >= 2 && i % T < T - (i / T >= 1 ? 2 : 0) ? 1 : 0));
  return { B, T, idx, targets, weights };
}

/** max |a - b| / max |b|: the error relative to the scale of the reference. */
function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0, scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return Number.isNaN(diff) ? Infinity : diff / Math.max(scale, 1e-30);
}

async function fusedFor(model: GPT, B: number) {
  const vars = [...model.params.values()];
  const m = vars.map((v) => tf.variable(tf.zerosLike(v), false));
  const s = vars.map((v) => tf.variable(tf.zerosLike(v), false));
  const step = await GPTStepWebGPU.create(model, B, vars, m, s, vars.map((v) => v.rank === 2), { beta1: 0.9, beta2: 0.98, eps: 1e-8 });
  return { step, vars, dispose: () => { step.dispose(); tf.dispose([...m, ...s]); } };
}

/**
 * train() on a small sum-learning set, with the fused step or tfjs ops (STAR_WEBGPU_FUSED): what its log said, each
 * step's loss, and the parameters it ended with (and lm_head's before, read first: tfjs's cache of it must not go stale).
 */
async function trainSums(fusedStep: boolean, steps: number, seed: number, modelSeed: number) {
  const tok = new CharTokenizer([...'0123456789+=;']);
  const data = Array.from({ length: 24 }, (_, i) => ({ prompt: `${i}+${i % 7}=`, completion: `${i + (i % 7)};` }));
  process.env.STAR_WEBGPU_FUSED = fusedStep ? '1' : '0';
  try {
    const model = new GPT(config({ vocabSize: tok.vocabSize }), undefined, modelSeed);
    const before = await model.p('lm_head.weight').data();
    const said: string[] = [];
    const losses: number[] = [];
    const opts = { steps, batchSize: 4, lr: 3e-3, warmupFraction: 0.2, weightDecay: 0.1, gradClip: 0.5, seed };
    await train(model, tok, data, { ...opts, log: (m) => said.push(m), onStep: (_s, l) => losses.push(l) });
    const params = new Map<string, Float32Array>();
    for (const [k, v] of model.params) params.set(k, (await v.data()) as Float32Array);
    model.dispose();
    return { said, losses, params, before };
  } finally {
    delete process.env.STAR_WEBGPU_FUSED;
  }
}

describe('fused WebGPU training step', () => {
  for (const pos of ['rope', 'learned'] as const) {
    test(`loss and every parameter's gradient equal tfjs's (${pos} positions, a prompt and padding masked out)`, async (t) => {
      if (unavailable) return t.skip(unavailable);
      const model = new GPT(config({ pos }), undefined, 3);
      const batch = batchOf(3, 9, 23, 5);
      const { step, vars, dispose } = await fusedFor(model, 3);
      const ours = await step.lossAndGrads(batch);
      const ref = tf.tidy(() => {
        const idx = tf.tensor2d(batch.idx, [3, 9], 'int32');
        const tgt = tf.tensor2d(batch.targets, [3, 9], 'int32');
        const w = tf.tensor2d(batch.weights, [3, 9]);
        const { value, grads } = tf.variableGrads(() => model.loss(idx, tgt, w), vars);
        return { value: tf.keep(value), grads: vars.map((v) => tf.keep(grads[v.name])) };
      });
      assert.ok(relErr([ours.loss], [(await ref.value.data())[0]]) < 1e-5, `loss ${ours.loss} vs ${(await ref.value.data())[0]}`);
      const names = [...model.params.keys()];
      for (let i = 0; i < vars.length; i++) {
        const err = relErr(ours.grads[i], await ref.grads[i].data());
        assert.ok(err < 1e-5, `${names[i]}: relative error ${err}`); // float32 reordering gives ~5e-7
      }
      assert.ok(step.dispatchesPerStep < 120, `${step.dispatchesPerStep} dispatches`);
      tf.dispose([ref.value, ...ref.grads]);
      dispose();
      model.dispose();
    });
  }

  test('train() on WebGPU runs the fused step, says so, and ends with the parameters the tfjs ops reach', async (t) => {
    if (unavailable) return t.skip(unavailable);
    const tfjs = await trainSums(false, 6, 9, 11);
    const fused = await trainSums(true, 6, 9, 11);
    assert.match(fused.said.join('\n'), /fused WebGPU kernels, \d+ dispatches/);
    assert.match(tfjs.said.join('\n'), /tfjs ops/);
    assert.equal(fused.losses.length, 6);
    assert.ok(relErr(fused.losses, tfjs.losses) < 1e-4, `losses ${fused.losses} vs ${tfjs.losses}`);
    assert.ok(relErr(fused.params.get('lm_head.weight')!, fused.before) > 1e-3, 'the parameters moved');
    for (const [k, ref] of tfjs.params) {
      const err = relErr(fused.params.get(k)!, ref);
      assert.ok(err < 2e-4, `${k}: relative error ${err} after 6 AdamW steps`); // measured up to 1.5e-5
    }
  });

  test('with dropout, each gradient is the derivative of the loss the step computes, and masks follow the seed', async (t) => {
    if (unavailable) return t.skip(unavailable);
    const model = new GPT(config({ dropout: 0.2 }), undefined, 4);
    const batch = batchOf(2, 10, 23, 8);
    const { step, dispose } = await fusedFor(model, 2);
    const base = await step.lossAndGrads(batch, 77);
    assert.notEqual((await step.lossAndGrads(batch, 78)).loss, base.loss, 'another seed drops other units');
    assert.equal((await step.lossAndGrads(batch, 77)).loss, base.loss, 'the same seed, the same mask');
    const names = [...model.params.keys()];
    for (const name of ['transformer.h.0.mlp.c_fc.weight', 'transformer.h.1.attn.c_attn.weight', 'transformer.wte.weight']) {
      const i = names.indexOf(name);
      const g = base.grads[i];
      let at = 0;
      for (let j = 0; j < g.length; j++) if (Math.abs(g[j]) > Math.abs(g[at])) at = j;
      const v = model.p(name);
      const orig = (await v.data()).slice() as Float32Array;
      const eps = 1e-2;
      const lossWith = async (delta: number) => {
        const w = orig.slice();
        w[at] += delta;
        v.assign(tf.tensor(w, v.shape)); // a new buffer: the step must rebind it
        return (await step.lossAndGrads(batch, 77)).loss;
      };
      const numeric = ((await lossWith(eps)) - (await lossWith(-eps))) / (2 * eps);
      v.assign(tf.tensor(orig, v.shape));
      assert.ok(Math.abs(numeric - g[at]) <= 0.03 * Math.abs(g[at]) + 1e-4, `${name}[${at}]: analytic ${g[at]}, numeric ${numeric}`);
    }
    dispose();
    model.dispose();
  });
});

describe('fused WebGPU step: profiling and resuming', () => {
  test('a profiled step times every dispatch on the GPU and moves the parameters exactly as a plain step', async (t) => {
    if (unavailable) return t.skip(unavailable);
    const batch = batchOf(2, 8, 23, 3);
    const h = { stepSize: 1e-2, decay: 1e-3, clip: 1, seed: 5 };
    const after: Float32Array[][] = [];
    let prof: Awaited<ReturnType<GPTStepWebGPU['profile']>> = null;
    let dispatches = 0;
    for (const profiled of [false, true]) {
      const model = new GPT(config({ dropout: 0.1 }), undefined, 21);
      const { step, vars, dispose } = await fusedFor(model, 2);
      if (profiled) prof = await step.profile(batch, h);
      else await step.step(batch, h).data();
      dispatches = step.dispatchesPerStep;
      after.push(await Promise.all(vars.map(async (v) => (await v.data()) as Float32Array)));
      dispose();
      model.dispose();
    }
    after[0].forEach((p, i) => assert.deepEqual(after[1][i], p));
    assert.ok(prof, 'lavapipe has timestamp queries');
    assert.equal(prof!.reduce((n, k) => n + k.calls, 0), dispatches);
    assert.ok(prof!.every((k) => k.ms >= 0) && prof!.reduce((a, k) => a + k.ms, 0) > 0);
    assert.ok(prof!.some((k) => k.kernel.startsWith('matmul')) && prof!.some((k) => k.kernel === 'adamw'));
  });

  test('train() stopped half way on WebGPU resumes from its saved state to the parameters of an unbroken run', async (t) => {
    if (unavailable) return t.skip(unavailable);
    const tok = new CharTokenizer([...'0123456789+=;']);
    const data = Array.from({ length: 16 }, (_, i) => ({ prompt: `${i}+1=`, completion: `${i + 1};` }));
    const opts = { steps: 8, batchSize: 2, lr: 3e-3, warmupFraction: 0.2, weightDecay: 0.1, gradClip: 1, seed: 4 };
    const cfg = config({ vocabSize: tok.vocabSize, dropout: 0.1 });
    const read = async (m: GPT) => Promise.all([...m.params.values()].map(async (v) => (await v.data()) as Float32Array));
    const whole = new GPT(cfg, undefined, 2);
    await train(whole, tok, data, opts);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'star-webgpu-resume-'));
    const first = new GPT(cfg, undefined, 2);
    let asked = 0; // asked before each step; losses come back in tens on a GPU, so onStep cannot count here
    await assert.rejects(train(first, tok, data, { ...opts, stateDir: dir, shouldStop: () => ++asked > 3 }), StopRequested);
    assert.ok(fs.existsSync(path.join(dir, 'train-state.safetensors')));
    first.dispose();
    const resumed = new GPT(cfg, undefined, 2); // a fresh process would start from the base weights too
    await train(resumed, tok, data, { ...opts, stateDir: dir });
    const [a, b] = [await read(whole), await read(resumed)];
    a.forEach((p, i) => assert.ok(relErr(b[i], p) < 1e-6, `parameter ${i}: ${relErr(b[i], p)}`));
    whole.dispose();
    resumed.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('fused WebGPU decoder', () => {
  for (const pos of ['rope', 'learned'] as const) {
    test(`logits of left-padded prompts and of each next token equal the tfjs model's (${pos} positions)`, async (t) => {
      if (unavailable) return t.skip(unavailable);
      const model = new GPT(config({ pos }), undefined, 6);
      const n = 3, L = 7, V = 23;
      const lens = [7, 3, 5];
      const ids = new Int32Array(n * L), posArr = new Int32Array(n * L), mask = new Float32Array(n * L);
      lens.forEach((len, r) => {
        for (let j = 0; j < len; j++) {
          ids[r * L + L - len + j] = (r * 7 + j * 3) % V;
          posArr[r * L + L - len + j] = j;
          mask[r * L + L - len + j] = 1;
        }
      });
      const dec = await GPTDecodeWebGPU.create(model, 4);
      let ours = await dec.start(ids, posArr, mask, n, L);
      let cache = model.emptyCache(n);
      let maskT = tf.tensor2d(mask, [n, L]);
      let ref = tf.tidy(() => {
        const r = model.forward(tf.tensor2d(ids, [n, L], 'int32'), { cache, positions: tf.tensor2d(posArr, [n, L], 'int32'), keyMask: maskT });
        cache = r.cache!.map(({ k, v }) => ({ k: tf.keep(k), v: tf.keep(v) }));
        return tf.reshape(tf.slice(r.logits, [0, L - 1, 0], [n, 1, V]), [n, V]);
      });
      const lens2 = [...lens];
      for (let step = 0; step < 4; step++) {
        const err = relErr(ours, await ref.data());
        assert.ok(err < 1e-5, `forward ${step}: relative error ${err}`);
        const next = [1 + step, 5, 9 + step];
        const p = lens2.map((len) => len); // the new token's position: the row's length so far
        lens2.forEach((_, i) => lens2[i]++);
        ours = await dec.next(next, p);
        const prev = cache;
        const m2 = tf.concat([maskT, tf.ones([n, 1])], 1) as tf.Tensor2D;
        ref.dispose();
        ref = tf.tidy(() => {
          const r = model.forward(tf.tensor2d(next, [n, 1], 'int32'), { cache: prev, positions: tf.tensor2d(p, [n, 1], 'int32'), keyMask: m2 });
          cache = r.cache!.map(({ k, v }) => ({ k: tf.keep(k), v: tf.keep(v) }));
          return tf.reshape(r.logits, [n, V]);
        });
        tf.dispose(prev.flatMap(({ k, v }) => [k, v]));
        maskT.dispose();
        maskT = m2;
      }
      assert.ok(relErr(ours, await ref.data()) < 1e-5);
      dec.dispose();
      model.dispose();
    });
  }

  test('sample() on WebGPU decodes with the fused kernels and writes what tfjs ops write, greedy and at a temperature', async (t) => {
    if (unavailable) return t.skip(unavailable);
    const tok = new CharTokenizer([...'0123456789+=;']);
    const model = new GPT(config({ vocabSize: tok.vocabSize }), undefined, 13);
    // a 1-token and a 9-token prompt in one batch: the short row outgrows the context's 12 cache positions
    const prompts = ['7', '12+34=', '999+999=', '5+5='];
    const run = async (fused: boolean, temperature: number) => {
      process.env.STAR_WEBGPU_FUSED = fused ? '1' : '0';
      const said: string[] = [];
      const out = await sample(model, tok, prompts, { maxNewTokens: 11, temperature, topK: temperature ? 5 : 0, stop: [';'], seeds: [1, 2, 3, 4], log: (m) => said.push(m) });
      delete process.env.STAR_WEBGPU_FUSED;
      return { out, said: said.join('\n') };
    };
    for (const temperature of [0, 0.8]) {
      const fused = await run(true, temperature);
      const ops = await run(false, temperature);
      assert.match(fused.said, /fused WebGPU kernels/);
      assert.match(ops.said, /tfjs ops/);
      assert.deepEqual(fused.out, ops.out, `temperature ${temperature}`);
      // rows share cache slots: the 1-token row's tokens sit after the 8-token prompt's, past the context's 12
      if (temperature === 0) assert.ok(8 + fused.out[0].length > 12, `the short row wrote ${fused.out[0].length} tokens`);
    }
    model.dispose();
  });
});

test('a STaR run on WebGPU trains and generates with the fused kernels and its log says so', async (t) => {
  if (unavailable) return t.skip(unavailable);
  const dir = await tinyProject((c) => {
    c.model = { ...c.model, compute: 'webgpu', nLayer: 1, nHead: 2, nEmbd: 32, blockSize: 48, dropout: 0.1 };
    c.training = { ...c.training, baseSteps: 12, schedule: { kind: 'exponential', base: 6, growth: 1.2 }, batchSize: 8 };
    c.sampling = { ...c.sampling, maxNewTokens: 24 };
    c.star = { ...c.star, iterations: 1, seed: 1 };
  }, { trainCount: 16, exemplarCount: 16, exemplarMaxDigits: 1, maxDigits: 1, evalMaxDigits: 1, evalPerDigit: 8 });
  const events: RunEvent[] = [];
  const store = await runStar(await openProject(dir), {}, (e) => events.push(e));
  const logs = events.flatMap((e) => (e.type === 'log' ? [e.message] : []));
  const start = events.find((e) => e.type === 'run-start');
  assert.match(start && start.type === 'run-start' ? start.backend : '', /^webgpu/);
  assert.ok(logs.some((m) => /^training step: fused WebGPU kernels, \d+ dispatches/.test(m)), logs.join('\n'));
  assert.ok(logs.some((m) => /^sampling: fused WebGPU kernels/.test(m)), logs.join('\n'));
  assert.equal(store.readRun().iterationsDone, 1);
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('dispatches past 65,535 workgroups', () => {
  // WebGPU allows 65,535 workgroups per dimension: larger grids spill into y (runner.ts flatGroups/rowGroups) and the
  // kernels fold the two back into one index. The bench's and the demo's sizes stay under it; bigger batches do not.
  test('a row kernel over 70,000 rows and a flat kernel over 17 million elements cover every element once', async (t) => {
    if (unavailable) return t.skip(unavailable);
    const runner = new KernelRunner<null>([]);
    try {
      const rows = 70_000, D = 4;
      const X = Float32Array.from({ length: rows * D }, (_, i) => ((i * 7919) % 101) / 10 - 5);
      const gamma = Float32Array.from({ length: D }, (_, d) => 1 + d / 4);
      const beta = Float32Array.from({ length: D }, (_, d) => d / 8 - 0.2);
      const Y = runner.buffer(rows * D), mean = runner.buffer(rows), rstd = runner.buffer(rows);
      runner.add({ kernel: K.layerNormForward, bind: [runner.upload(X), runner.upload(gamma), runner.upload(beta), Y, mean, rstd],
        uniforms: () => [rows, D, 1e-5], groups: () => rowGroups(rows) });
      const size = 65_535 * 256 + 1_000_003; // past one dimension of 256-thread workgroups
      const P = Float32Array.from({ length: size }, (_, i) => (i % 1000) + 1); // one split: 2 would pass the 128 MiB binding limit
      const Out = runner.buffer(size);
      runner.add({ kernel: K.sumSplits, bind: [runner.upload(P), Out], uniforms: () => [size, 1], groups: () => flatGroups(size) });
      assert.deepEqual(rowGroups(rows), [65_535, 2]);
      assert.equal(flatGroups(size)[1], 2);
      await runner.compile();
      runner.syncTfjs();
      runner.device.queue.submit([runner.encode(null).finish()]);
      const y = await runner.read(Y, rows * D);
      for (const r of [0, 65_534, 65_535, 65_536, rows - 1]) {
        const x = X.subarray(r * D, r * D + D);
        const mu = x.reduce((s, v) => s + v, 0) / D;
        const sd = Math.sqrt(x.reduce((s, v) => s + (v - mu) ** 2, 0) / D + 1e-5);
        for (let d = 0; d < D; d++) assert.ok(Math.abs(y[r * D + d] - ((x[d] - mu) / sd * gamma[d] + beta[d])) < 1e-4, `row ${r}`);
      }
      const out = await runner.read(Out, size);
      let wrong = 0;
      for (let i = 0; i < size; i++) if (out[i] !== (i % 1000) + 1) wrong++;
      assert.equal(wrong, 0, 'elements summed wrong or never written');
    } finally {
      runner.dispose();
    }
  });
});

describe('WebGPU errors', () => {
  test('checked() turns a device error, which WebGPU reports only asynchronously, into a rejection', async (t) => {
    if (unavailable) return t.skip(unavailable);
    const runner = new KernelRunner<null>([]);
    try {
      const huge = () => runner.device.createBuffer({ size: runner.device.limits.maxBufferSize + 4, usage: GPUBufferUsage.STORAGE });
      await assert.rejects(runner.checked(huge), /WebGPU error/);
      assert.equal(await runner.checked(() => 42), 42);
    } finally {
      runner.dispose();
    }
  });

  test('where the fused step fails on the device, train() says so and the tfjs ops train without losing a step', async (t) => {
    if (unavailable) return t.skip(unavailable);
    const tfjs = await trainSums(false, 4, 5, 13);
    // as a kernel that does not validate on some GPU would: the device reports an error and the submit does nothing
    const real = GPTStepWebGPU.prototype.step;
    GPTStepWebGPU.prototype.step = function () {
      tf.backend(); // the same device tfjs uses
      (this as unknown as { r: KernelRunner<unknown> }).r.device.createBuffer({ size: 2 ** 52, usage: GPUBufferUsage.STORAGE });
      return { data: async () => [NaN], dispose: () => {} };
    };
    let broken;
    try {
      broken = await trainSums(true, 4, 5, 13);
    } finally {
      GPTStepWebGPU.prototype.step = real;
    }
    assert.match(broken.said.join('\n'), /fused WebGPU kernels/);
    assert.match(broken.said.join('\n'), /training step: tfjs ops \(the fused WebGPU step failed on this device: WebGPU error/);
    assert.deepEqual(broken.losses, tfjs.losses, 'every step trained, by the tfjs ops');
    for (const [k, ref] of tfjs.params) assert.deepEqual(broken.params.get(k), ref, k);
  });

  test('a decoder whose first forward raises a device error is refused, and tfjs ops sample the same text', async (t) => {
    if (unavailable) return t.skip(unavailable);
    const tok = new CharTokenizer([...'0123456789+=;']);
    const model = new GPT(config({ vocabSize: tok.vocabSize }), undefined, 17);
    const prompts = ['12+34=', '5+5='];
    const opt = (said: string[]) => ({ maxNewTokens: 6, temperature: 0, topK: 0, stop: [';'], log: (m: string) => said.push(m) });
    process.env.STAR_WEBGPU_FUSED = '0';
    const ops = await sample(model, tok, prompts, opt([]));
    delete process.env.STAR_WEBGPU_FUSED;
    const real = GPTDecodeWebGPU.prototype.start;
    GPTDecodeWebGPU.prototype.start = function (...a) {
      (this as unknown as { r: KernelRunner<unknown> }).r.device.createBuffer({ size: 2 ** 52, usage: GPUBufferUsage.STORAGE });
      return real.apply(this, a);
    };
    const said: string[] = [];
    let out;
    try {
      out = await sample(model, tok, prompts, opt(said));
    } finally {
      GPTDecodeWebGPU.prototype.start = real;
    }
    assert.match(said.join('\n'), /sampling: tfjs ops \(fused WebGPU decoder unavailable: WebGPU error/);
    assert.deepEqual(out, ops);
    model.dispose();
  });
});
