// The fused WebGPU training step (src/engine/compute/webgpu) against the tfjs ops it replaces, on the WebGPU adapter
// of this machine: Mesa's lavapipe (software Vulkan, installed by scripts/setup-webgpu.sh) where there is no GPU.
// STAR_REQUIRE_WEBGPU=1 (npm test sets it) turns a missing adapter into a failure instead of a skip.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '../../src/engine/compute/backend';
import { GPTStepWebGPU, HostBatch } from '../../src/engine/compute/webgpu/gptStep';
import { GPT, GPTConfig } from '../../src/engine/model/gpt';
import { CharTokenizer } from '../../src/engine/model/tokenizer';
import { train } from '../../src/engine/model/train';

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
    const tok = new CharTokenizer([...'0123456789+=;']);
    const data = Array.from({ length: 24 }, (_, i) => ({ prompt: `${i}+${i % 7}=`, completion: `${i + (i % 7)};` }));
    const opts = { steps: 6, batchSize: 4, lr: 3e-3, warmupFraction: 0.2, weightDecay: 0.1, gradClip: 0.5, seed: 9 };
    const cfg = config({ vocabSize: tok.vocabSize });
    const run = async (fusedStep: boolean) => {
      process.env.STAR_FUSED_STEP = fusedStep ? '1' : '0';
      const model = new GPT(cfg, undefined, 11);
      const before = await model.p('lm_head.weight').data(); // tfjs caches what it has read: it must not go stale
      const said: string[] = [];
      const losses: number[] = [];
      await train(model, tok, data, { ...opts, log: (m) => said.push(m), onStep: (_s, l) => losses.push(l) });
      const params = new Map<string, Float32Array>();
      for (const [k, v] of model.params) params.set(k, (await v.data()) as Float32Array);
      model.dispose();
      return { said, losses, params, before };
    };
    const tfjs = await run(false);
    const fused = await run(true);
    delete process.env.STAR_FUSED_STEP;
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
