// Fine-tuning the embedded GPT: AdamW, global-norm gradient clipping, linear warmup then cosine decay,
// loss on the completion only, length-grouped batches, and a resumable training state.
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { adamwStep } from '../compute/native';
import { yieldToEventLoop } from '../eventLoop';
import { GPTStepWebGPU, HostBatch, PendingLoss } from '../compute/webgpu/gptStep';
import { hashSeed, mulberry32 } from '../random';
import { writeFileAtomic, writeJsonAtomic } from '../store/jsonl';
import { decodeSafetensors, encodeSafetensors, RawTensor } from './checkpoint';
import { formatBytes, memoryBudget, rowsThatFit, shapeOf, trainStepBytes } from './memory';
import type { CausalLM } from './gpt';
import type { TextTokenizer } from './hfTokenizer';
import { StopRequested } from './stop';
import { PAD } from './tokenizer';

export { StopRequested };

export interface TrainOptions {
  steps: number;
  batchSize: number;
  lr: number;
  warmupFraction: number;
  weightDecay: number;
  gradClip: number;
  seed: number;
  /** Folder for the resumable state (written every `checkpointSeconds`); none = not resumable. */
  stateDir?: string;
  checkpointSeconds?: number;
  onStep?: (step: number, loss: number) => void;
  shouldStop?: () => boolean;
  /** Says which training step runs (the fused WebGPU step, or tfjs ops and why). */
  log?: (message: string) => void;
}

export interface Sequence {
  prompt: string;
  completion: string;
}

const BETA1 = 0.9;
const BETA2 = 0.98;
const EPS = 1e-8;

/** lr at a step: linear warmup over the first fraction, then cosine down to a tenth (as the feasibility probe did). */
export function learningRate(step: number, steps: number, lr: number, warmupFraction: number): number {
  const warm = Math.max(1, Math.round(steps * warmupFraction));
  const w = Math.min(1, (step + 1) / warm);
  return lr * w * (0.1 + 0.9 * 0.5 * (1 + Math.cos((Math.PI * step) / steps)));
}

interface Encoded {
  ids: number[];
  /** Index of the first completion token. */
  start: number;
}

/** Trains `model` in place for `opts.steps` steps, resuming from `opts.stateDir` when a state is there. */
export async function train(model: CausalLM, tokenizer: TextTokenizer, data: Sequence[], opts: TrainOptions): Promise<{ loss: number | null; steps: number }> {
  if (data.length === 0 || opts.steps <= 0) return { loss: null, steps: 0 };
  const T = model.config.blockSize;
  const enc = encodeFitting(tokenizer, data, T, opts.log);
  // Length-grouped batches: sort by length, cut into buckets of a batch each, and sample within a bucket.
  const order = enc.map((_, i) => i).sort((a, b) => enc[a].ids.length - enc[b].ids.length);

  const names = [...model.params.keys()];
  const vars = [...model.params.values()];
  const decay = new Set(vars.filter((v) => v.shape.length === 2)); // no decay on biases and LayerNorm gains
  const m = vars.map((v) => tf.tidy(() => tf.variable(tf.zerosLike(v), false)));
  const s = vars.map((v) => tf.tidy(() => tf.variable(tf.zerosLike(v), false)));
  let step = 0;
  let ema: number | null = null;

  const statePath = opts.stateDir ? path.join(opts.stateDir, 'train-state.safetensors') : undefined;
  if (statePath && fs.existsSync(statePath)) {
    const { tensors, metadata } = decodeSafetensors(fs.readFileSync(statePath), statePath);
    if (Number(metadata.steps) === opts.steps) {
      step = Number(metadata.step);
      ema = metadata.loss === 'null' ? null : Number(metadata.loss);
      const assign = (v: tf.Variable, key: string) => {
        const t = tensors.get(key);
        if (!t) throw new Error(`${statePath}: missing ${key}`);
        tf.tidy(() => v.assign(tf.tensor(t.data, t.shape)));
      };
      vars.forEach((v, i) => { assign(v, `p.${names[i]}`); assign(m[i], `m.${names[i]}`); assign(s[i], `s.${names[i]}`); });
    }
  }

  const saveState = async (done: number) => {
    if (!statePath) return;
    const tensors = new Map<string, RawTensor>();
    for (let i = 0; i < vars.length; i++) {
      tensors.set(`p.${names[i]}`, { dtype: 'F32', shape: vars[i].shape, data: (await vars[i].data()) as Float32Array });
      tensors.set(`m.${names[i]}`, { dtype: 'F32', shape: vars[i].shape, data: (await m[i].data()) as Float32Array });
      tensors.set(`s.${names[i]}`, { dtype: 'F32', shape: vars[i].shape, data: (await s[i].data()) as Float32Array });
    }
    writeFileAtomic(statePath, encodeSafetensors(tensors, { step: String(done), steps: String(opts.steps), loss: String(ema) }));
  };

  // On WebGPU the whole step is our own kernels in one submit (STAR_WEBGPU_FUSED=0 keeps the tfjs ops).
  let fused: GPTStepWebGPU | undefined;
  let fusedChecked = false;
  if (tf.getBackend() === 'webgpu') {
    if (process.env.STAR_WEBGPU_FUSED === '0') opts.log?.('training step: tfjs ops (STAR_WEBGPU_FUSED=0)');
    else {
      try {
        fused = await GPTStepWebGPU.create(model, opts.batchSize, vars, m, s, vars.map((v) => decay.has(v)), { beta1: BETA1, beta2: BETA2, eps: EPS });
        opts.log?.(`training step: fused WebGPU kernels, ${fused.dispatchesPerStep} dispatches a step`);
      } catch (e) {
        opts.log?.(`training step: tfjs ops (fused WebGPU step unavailable: ${(e as Error).message})`);
      }
    }
  }

  // Losses are read back asynchronously, every step on CPU backends and every 10th on a GPU, where each read
  // would stall the queue of work (and a synchronous read does not exist in Node).
  const readEvery = tf.getBackend() === 'webgpu' ? 10 : 1;
  const pending: { step: number; loss: PendingLoss }[] = [];
  const flush = async () => {
    for (const p of pending.splice(0)) {
      const loss = (await p.loss.data())[0];
      p.loss.dispose();
      ema = ema === null ? loss : 0.95 * ema + 0.05 * loss;
      opts.onStep?.(p.step, loss);
    }
  };
  const micro = microBatcher(model, opts.batchSize, opts.log);
  let lastSave = Date.now();
  const every = (opts.checkpointSeconds ?? 30) * 1000;
  try {
    for (; step < opts.steps; step++) {
      await yieldToEventLoop();
      if (opts.shouldStop?.()) { await flush(); await saveState(step); throw new StopRequested(); }
      const batch = makeBatch(enc, order, opts.batchSize, T, hashSeed(opts.seed, 'batch', step));
      const h = {
        lr: learningRate(step, opts.steps, opts.lr, opts.warmupFraction),
        t: step + 1,
        weightDecay: opts.weightDecay,
        clip: opts.gradClip,
        seed: hashSeed(opts.seed, 'dropout', step),
      };
      let loss: PendingLoss | undefined;
      if (fused) {
        const hf = { stepSize: adamStepSize(h.lr, h.t), decay: h.lr * h.weightDecay, clip: h.clip, seed: h.seed };
        if (!fusedChecked) {
          // the first step on this device is checked for WebGPU errors: where our kernels fail, the tfjs ops go on
          try {
            loss = await fused.checkedStep(batch, hf);
            fusedChecked = true;
          } catch (e) {
            opts.log?.(`training step: tfjs ops (the fused WebGPU step failed on this device: ${(e as Error).message})`);
            fused.dispose();
            fused = undefined;
          }
        } else loss = fused.step(batch, hf);
      }
      loss ??= trainStep(model, vars, m, s, decay, batch, h, micro(batch));
      pending.push({ step: step + 1, loss });
      if ((step + 1) % readEvery === 0 || step + 1 === opts.steps) await flush();
      if (pending.length === 0 && Date.now() - lastSave > every && step + 1 < opts.steps) {
        await saveState(step + 1);
        lastSave = Date.now();
      }
    }
  } finally {
    for (const p of pending) p.loss.dispose();
    fused?.dispose();
    m.forEach((v) => v.dispose());
    s.forEach((v) => v.dispose());
  }
  return { loss: ema, steps: opts.steps };
}

/** A sum of many tensors as a tree of pairwise adds: one AddN of dozens of inputs exceeds WebGPU's bindings per shader. */
export function sumAll(xs: tf.Tensor[]): tf.Tensor {
  while (xs.length > 1) {
    const next: tf.Tensor[] = [];
    for (let i = 0; i < xs.length; i += 2) next.push(i + 1 < xs.length ? tf.add(xs[i], xs[i + 1]) : xs[i]);
    xs = next;
  }
  return xs[0];
}


export function clearTrainState(stateDir: string): void {
  fs.rmSync(path.join(stateDir, 'train-state.safetensors'), { force: true });
}

/** Adam's step size with both bias corrections folded in. */
export function adamStepSize(lr: number, t: number): number {
  return (lr * Math.sqrt(1 - Math.pow(BETA2, t))) / (1 - Math.pow(BETA1, t));
}

/**
 * Token ids of the sequences that fit the context. A longer one is left out, not cut: its end alone would teach
 * an answer without its question. How many and which are said; with none left there is nothing to train on.
 */
function encodeFitting(tokenizer: TextTokenizer, data: Sequence[], T: number, log?: (message: string) => void): Encoded[] {
  const enc: Encoded[] = [];
  const over: { i: number; n: number }[] = [];
  data.forEach(({ prompt, completion }, i) => {
    const ids = tokenizer.encode(prompt + completion);
    if (ids.length > T + 1) over.push({ i, n: ids.length });
    else enc.push({ ids, start: tokenizer.encode(prompt).length });
  });
  if (over.length === 0) return enc;
  const name = ({ i }: { i: number }) => (data[i] as { id?: string }).id ?? `#${i + 1}`;
  const longest = Math.max(...over.map((o) => o.n));
  const which = over.slice(0, 10).map(name).join(', ') + (over.length > 10 ? ', ...' : '');
  const what = `${over.length} of ${data.length} training sequences are longer than blockSize ${T} + 1 tokens`;
  if (enc.length === 0) throw new Error(`${what} (all of them; the longest ${longest}): set model.blockSize to at least ${longest - 1}`);
  log?.(`${what} and are left out of training (longest ${longest} tokens): ${which}`);
  return enc;
}

/**
 * Rows per micro-batch of the tfjs-ops step, so its estimated memory fits the backend's budget; the whole batch
 * when it fits (the step is then the plain one, bit for bit). Said when it changes.
 */
function microBatcher(model: CausalLM, B: number, log?: (message: string) => void): (batch: HostBatch) => number {
  const budget = memoryBudget(tf.getBackend());
  const shape = shapeOf(model);
  let said = B;
  return (batch) => {
    const rows = rowsThatFit((n) => trainStepBytes(shape, n, batch.T), B, budget);
    if (rows === 0)
      throw new Error(`one sequence of ${batch.T} tokens needs about ${formatBytes(trainStepBytes(shape, 1, batch.T))} to train, ` +
        `more than the ${formatBytes(budget!)} the ${tf.getBackend()} backend has: lower model.blockSize, nEmbd or nLayer`);
    if (rows < said) {
      log?.(`training step: tfjs ops in ${Math.ceil(B / rows)} micro-batches of up to ${rows} rows, gradients accumulated ` +
        `(a batch of ${B} x ${batch.T} tokens needs about ${formatBytes(trainStepBytes(shape, B, batch.T))}, ` +
        `the ${tf.getBackend()} backend has ${formatBytes(budget!)})`);
      said = rows;
    }
    return rows;
  };
}

function makeBatch(enc: Encoded[], order: number[], B: number, T: number, seed: number): HostBatch {
  const rand = mulberry32(seed);
  // pick a bucket of neighbouring lengths, then B sequences from it
  const span = Math.min(order.length, B * 2);
  const lo = Math.floor(rand() * (order.length - span + 1));
  const rows: Encoded[] = [];
  for (let i = 0; i < B; i++) rows.push(enc[order[lo + Math.floor(rand() * span)]]);
  const L = Math.min(T, Math.max(...rows.map((r) => r.ids.length - 1)));
  const idx = new Int32Array(B * L).fill(PAD);
  const tgt = new Int32Array(B * L).fill(PAD);
  const w = new Float32Array(B * L);
  rows.forEach((r, b) => {
    for (let t = 0; t < Math.min(L, r.ids.length - 1); t++) {
      idx[b * L + t] = r.ids[t];
      tgt[b * L + t] = r.ids[t + 1];
      if (t + 1 >= r.start) w[b * L + t] = 1; // predict completion tokens only
    }
  });
  return { B, T: L, idx, targets: tgt, weights: w };
}

type StepHyper = { lr: number; t: number; weightDecay: number; clip: number; seed: number };

/**
 * One step on tfjs ops: forward, backward, global-norm clipping, AdamW; the loss, not yet read. With `microBatch`
 * below the batch's rows, the gradients of micro-batches are summed first, each loss scaled by its share of the
 * whole batch's weight, so loss and gradients are the full batch's (up to float rounding; dropout masks differ).
 */
export function trainStep(
  model: CausalLM,
  vars: tf.Variable[],
  m: tf.Variable[],
  s: tf.Variable[],
  decays: Set<tf.Variable>,
  host: HostBatch,
  h: StepHyper,
  microBatch = host.B,
): tf.Scalar {
  if (microBatch < host.B) return accumulatedStep(model, vars, m, s, decays, host, h, microBatch);
  const batch = deviceBatch(host);
  const lossValue = tf.tidy(() => {
    const { value, grads } = tf.variableGrads(() => model.loss(batch.idx, batch.targets, batch.weights, h.seed), vars);
    update(vars, m, s, decays, vars.map((v) => grads[v.name]), h);
    return value;
  });
  disposeBatch(batch);
  return lossValue;
}

function accumulatedStep(
  model: CausalLM, vars: tf.Variable[], m: tf.Variable[], s: tf.Variable[], decays: Set<tf.Variable>,
  host: HostBatch, h: StepHyper, rows: number,
): tf.Scalar {
  // the whole batch's weight, as maskedCrossEntropy normalises by it
  const total = Math.max(1, host.weights.reduce((a, w) => a + w, 0));
  let grads: tf.Tensor[] | undefined;
  let loss: tf.Scalar | undefined;
  for (let lo = 0, j = 0; lo < host.B; lo += rows, j++) {
    const part = sliceBatch(host, lo, Math.min(rows, host.B - lo));
    const share = Math.max(1, part.weights.reduce((a, w) => a + w, 0)) / total;
    const batch = deviceBatch(part);
    const seed = j === 0 ? h.seed : hashSeed(h.seed, 'micro', j);
    const next = tf.tidy(() => {
      const r = tf.variableGrads(() => tf.mul(model.loss(batch.idx, batch.targets, batch.weights, seed), share) as tf.Scalar, vars);
      const g = vars.map((v) => r.grads[v.name]);
      return { g: grads ? g.map((x, i) => tf.add(grads![i], x)) : g, loss: loss ? tf.add(loss, r.value) : r.value };
    });
    disposeBatch(batch);
    grads?.forEach((g) => g.dispose());
    loss?.dispose();
    grads = next.g;
    loss = next.loss as tf.Scalar;
  }
  tf.tidy(() => update(vars, m, s, decays, grads!, h));
  grads!.forEach((g) => g.dispose());
  return loss!;
}

/** Global-norm clipping and AdamW, once a step, from the step's gradients. */
function update(vars: tf.Variable[], m: tf.Variable[], s: tf.Variable[], decays: Set<tf.Variable>, g: tf.Tensor[], h: StepHyper) {
  // global-norm clipping without a round trip to the host
  const norm = tf.sqrt(sumAll(g.map((x) => tf.sum(tf.square(x)))));
  const scale = tf.minimum(1, tf.div(h.clip, tf.add(norm, 1e-6)));
  // Adam with bias correction folded into the step size; decoupled weight decay (AdamW)
  const stepSize = adamStepSize(h.lr, h.t);
  vars.forEach((v, i) => {
    const decay = decays.has(v) && h.weightDecay > 0 ? h.lr * h.weightDecay : 0;
    const [v1, m1, s1] = adamwStep(v, m[i], s[i], g[i], scale, { beta1: BETA1, beta2: BETA2, eps: EPS, stepSize, decay });
    m[i].assign(m1);
    s[i].assign(s1);
    v.assign(v1);
  });
}

/** Rows lo..lo+n of a batch, cut after its last weighted position: later ones change no loss (attention is causal). */
function sliceBatch(host: HostBatch, lo: number, n: number): HostBatch {
  const { T } = host;
  let L = 1;
  for (let b = lo; b < lo + n; b++) for (let t = T - 1; t >= L; t--) if (host.weights[b * T + t] > 0) { L = t + 1; break; }
  const cut = <A extends Int32Array | Float32Array>(a: A): A => {
    const out = new (a.constructor as new (n: number) => A)(n * L);
    for (let b = 0; b < n; b++) out.set(a.subarray((lo + b) * T, (lo + b) * T + L), b * L);
    return out;
  };
  return { B: n, T: L, idx: cut(host.idx), targets: cut(host.targets), weights: cut(host.weights) };
}

function deviceBatch(host: HostBatch) {
  return {
    idx: tf.tensor2d(host.idx, [host.B, host.T], 'int32'),
    targets: tf.tensor2d(host.targets, [host.B, host.T], 'int32'),
    weights: tf.tensor2d(host.weights, [host.B, host.T]),
  };
}

function disposeBatch(batch: { idx: tf.Tensor; targets: tf.Tensor; weights: tf.Tensor }) {
  batch.idx.dispose();
  batch.targets.dispose();
  batch.weights.dispose();
}
