// How a batch's forward passes run for the sampler: tfjs ops with a KV cache of tensors (every backend), or the fused
// WebGPU decoder (the embedded GPT on webgpu); and how the next token is picked from logits.
import * as tf from '@tensorflow/tfjs-core';
import { GPTDecodeWebGPU } from '../compute/webgpu/gptDecode';
import type { CausalLM, KVCache } from './gpt';
import type { SampleOptions } from './sample';

/**
 * The forward passes of one batch: its prompts, then a token a row. The sampler's host side (stops, budgets,
 * picking) is the same whatever runs them.
 */
export interface Decoder {
  /** Whether finished rows are dropped from the batch (worth it where a row costs compute, not on a GPU). */
  readonly compacts: boolean;
  start(ids: Int32Array, pos: Int32Array, keyMask: Float32Array, n: number, L: number, rands: (() => number)[], opt: SampleOptions): Promise<number[]>;
  /** keep: the batch rows that stay (compaction), else all */
  next(ids: number[], pos: number[], keep: number[] | undefined, rands: (() => number)[], opt: SampleOptions): Promise<number[]>;
  end(): void;
  dispose(): void;
}

/** The fused WebGPU decoder where it can run (the embedded GPT on webgpu), else tfjs ops. */
export async function decoderFor(model: CausalLM, rows: number, log?: (message: string) => void): Promise<Decoder> {
  if (tf.getBackend() !== 'webgpu') return new TfjsDecoder(model);
  if (process.env.STAR_WEBGPU_FUSED === '0') {
    log?.('sampling: tfjs ops (STAR_WEBGPU_FUSED=0)');
    return new TfjsDecoder(model);
  }
  try {
    const d = await GPTDecodeWebGPU.create(model, rows);
    log?.(`sampling: fused WebGPU kernels, ${d.dispatchesPerToken} dispatches a forward`);
    return new FusedDecoder(d, model.config.vocabSize);
  } catch (e) {
    log?.(`sampling: tfjs ops (fused WebGPU decoder unavailable: ${(e as Error).message})`);
    return new TfjsDecoder(model);
  }
}

class FusedDecoder implements Decoder {
  readonly compacts = false;
  constructor(private readonly d: GPTDecodeWebGPU, private readonly V: number) {}
  async start(ids: Int32Array, pos: Int32Array, keyMask: Float32Array, n: number, L: number, rands: (() => number)[], opt: SampleOptions) {
    return pickHost(await this.d.start(ids, pos, keyMask, n, L), this.V, rands, opt);
  }
  async next(ids: number[], pos: number[], _keep: number[] | undefined, rands: (() => number)[], opt: SampleOptions) {
    return pickHost(await this.d.next(ids, pos), this.V, rands, opt);
  }
  end(): void {}
  dispose(): void {
    this.d.dispose();
  }
}

class TfjsDecoder implements Decoder {
  readonly compacts = true;
  private cache: KVCache = [];
  private mask?: tf.Tensor2D;
  constructor(private readonly model: CausalLM) {}

  async start(ids: Int32Array, pos: Int32Array, keyMask: Float32Array, n: number, L: number, rands: (() => number)[], opt: SampleOptions) {
    this.mask = tf.tensor2d(keyMask, [n, L]);
    const idsT = tf.tensor2d(ids, [n, L], 'int32');
    const posT = tf.tensor2d(pos, [n, L], 'int32');
    const empty = this.model.emptyCache(n);
    const first = tf.tidy(() => {
      const r = this.model.forward(idsT, { cache: empty, positions: posT, keyMask: this.mask });
      return { logits: tf.reshape(tf.slice(r.logits, [0, L - 1, 0], [n, 1, -1]), [n, -1]) as tf.Tensor2D, cache: r.cache! };
    });
    disposeCache(empty);
    idsT.dispose();
    posT.dispose();
    this.cache = first.cache;
    try {
      return await pick(first.logits, rands, opt);
    } finally {
      first.logits.dispose();
    }
  }

  async next(ids: number[], pos: number[], keep: number[] | undefined, rands: (() => number)[], opt: SampleOptions) {
    const compact = keep ? tf.tensor1d(keep, 'int32') : undefined;
    const nextIds = tf.tensor2d(ids, [ids.length, 1], 'int32');
    const nextPos = tf.tensor2d(pos, [pos.length, 1], 'int32');
    const shrink = <T extends tf.Tensor>(t: T): T => (compact ? (tf.gather(t, compact) as T) : t);
    const prevCache = this.cache;
    const prevMask = this.mask!;
    const stepped = tf.tidy(() => {
      const c = prevCache.map(({ k, v }) => ({ k: shrink(k), v: shrink(v) }));
      const m = tf.concat([shrink(prevMask), tf.ones([ids.length, 1])], 1) as tf.Tensor2D;
      const r = this.model.forward(nextIds, { cache: c, positions: nextPos, keyMask: m });
      return { logits: tf.reshape(r.logits, [ids.length, -1]) as tf.Tensor2D, cache: r.cache!, mask: m };
    });
    disposeCache(prevCache);
    prevMask.dispose();
    compact?.dispose();
    nextIds.dispose();
    nextPos.dispose();
    this.cache = stepped.cache;
    this.mask = stepped.mask;
    try {
      return await pick(stepped.logits, rands, opt);
    } finally {
      stepped.logits.dispose();
    }
  }

  /** Frees the batch's cache. */
  end(): void {
    disposeCache(this.cache);
    this.cache = [];
    this.mask?.dispose();
    this.mask = undefined;
  }

  dispose(): void {
    this.end();
  }
}

function disposeCache(c: KVCache) {
  for (const { k, v } of c) { k.dispose(); v.dispose(); }
}

/** Next token per row: argmax when greedy, else top-k sampling at the temperature with the row's own PRNG. */
async function pick(logits: tf.Tensor2D, rands: (() => number)[], opt: SampleOptions): Promise<number[]> {
  if (opt.temperature <= 0) {
    const am = tf.argMax(logits, 1);
    const r = Array.from(await am.data());
    am.dispose();
    return r;
  }
  const V = logits.shape[1];
  const k = opt.topK > 0 ? Math.min(opt.topK, V) : V;
  const { values, indices } = tf.topk(logits, k);
  const [vals, idx] = await Promise.all([values.data(), indices.data()]);
  values.dispose();
  indices.dispose();
  return rands.map((rand, row) => sampleTopK(vals, idx, row, k, rand, opt.temperature));
}

/** Draws from the row's k candidates (logits vals, token ids idx, best first) at the temperature. */
function sampleTopK(vals: ArrayLike<number>, idx: ArrayLike<number>, row: number, k: number, rand: () => number, temperature: number): number {
  let max = -Infinity;
  for (let j = 0; j < k; j++) max = Math.max(max, vals[row * k + j]);
  const p = new Float64Array(k);
  let sum = 0;
  for (let j = 0; j < k; j++) sum += p[j] = Math.exp((vals[row * k + j] - max) / temperature);
  let u = rand() * sum;
  for (let j = 0; j < k; j++) if ((u -= p[j]) <= 0) return idx[row * k + j];
  return idx[row * k + k - 1];
}

/** pick() for logits [rows, V] on the host: the same argmax (first of ties) and top-k draw as tfjs's argMax/topk. */
function pickHost(logits: Float32Array, V: number, rands: (() => number)[], opt: SampleOptions): number[] {
  if (opt.temperature <= 0)
    return rands.map((_, row) => {
      let best = 0;
      for (let v = 1; v < V; v++) if (logits[row * V + v] > logits[row * V + best]) best = v;
      return best;
    });
  const k = opt.topK > 0 ? Math.min(opt.topK, V) : V;
  const vals = new Float32Array(rands.length * k);
  const idx = new Int32Array(rands.length * k);
  rands.forEach((_, row) => {
    // stable: equal logits keep the lower token id first, as tfjs's topk does
    const order = Array.from({ length: V }, (_, v) => v).sort((a, b) => logits[row * V + b] - logits[row * V + a] || a - b);
    for (let j = 0; j < k; j++) { idx[row * k + j] = order[j]; vals[row * k + j] = logits[row * V + order[j]]; }
  });
  return rands.map((rand, row) => sampleTopK(vals, idx, row, k, rand, opt.temperature));
}
