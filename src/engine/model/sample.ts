// Batched sampling with a KV cache: prompts of one batch are left-padded to a common length, each row keeps its own
// positions, and rows that finished are dropped from the batch so long answers do not drag short ones along.
import * as tf from '@tensorflow/tfjs-core';
import { GPTDecodeWebGPU } from '../compute/webgpu/gptDecode';
import { mulberry32 } from '../random';
import type { CausalLM, KVCache } from './gpt';
import type { TextTokenizer } from './hfTokenizer';
import { CharTokenizer, PAD } from './tokenizer';

export interface SampleOptions {
  /** One limit for all prompts, or one per prompt (a task may know how long a right answer can be). */
  maxNewTokens: number | number[];
  /** 0 = greedy */
  temperature: number;
  /** 0 = whole vocabulary */
  topK: number;
  stop: string[];
  /** One seed per prompt, so a row's sample does not depend on which batch it fell into. */
  seeds?: number[];
  batchSize?: number;
  onBatch?: (done: number) => void;
  /** On WebGPU: says whether the fused decoder runs, or why tfjs ops do. */
  log?: (message: string) => void;
}

/** Completions (stop sequence cut off) for each prompt, in order. */
export async function sample(model: CausalLM, tokenizer: TextTokenizer, prompts: string[], opt: SampleOptions): Promise<string[]> {
  const out = new Array<string>(prompts.length);
  const enc = prompts.map((p) => tokenizer.encode(p));
  const limit = model.config.blockSize;
  // Prompts longer than the context keep their end.
  enc.forEach((e, i) => { if (e.length > limit - 1) enc[i] = e.slice(e.length - (limit - 1)); });
  const order = enc.map((_, i) => i).sort((a, b) => enc[a].length - enc[b].length);
  const B = Math.min(opt.batchSize ?? 256, prompts.length);
  const decoder = await decoderFor(model, B, opt.log);
  let done = 0;
  try {
    for (let lo = 0; lo < order.length; lo += B) {
      const rows = order.slice(lo, lo + B);
      const budgets = rows.map((i) => (typeof opt.maxNewTokens === 'number' ? opt.maxNewTokens : opt.maxNewTokens[i]));
      const texts = await sampleBatch(decoder, model, tokenizer, rows.map((i) => enc[i]), rows.map((i) => opt.seeds?.[i] ?? i), budgets, opt);
      rows.forEach((i, j) => (out[i] = texts[j]));
      done += rows.length;
      opt.onBatch?.(done);
    }
  } finally {
    decoder.dispose();
  }
  return out;
}

/**
 * The forward passes of one batch: its prompts, then a token a row. The sampler's host side (stops, budgets,
 * picking) is the same whatever runs them.
 */
interface Decoder {
  /** Whether finished rows are dropped from the batch (worth it where a row costs compute, not on a GPU). */
  readonly compacts: boolean;
  start(ids: Int32Array, pos: Int32Array, keyMask: Float32Array, n: number, L: number, rands: (() => number)[], opt: SampleOptions): Promise<number[]>;
  /** keep: the batch rows that stay (compaction), else all */
  next(ids: number[], pos: number[], keep: number[] | undefined, rands: (() => number)[], opt: SampleOptions): Promise<number[]>;
  end(): void;
  dispose(): void;
}

/** The fused WebGPU decoder where it can run (the embedded GPT on webgpu), else tfjs ops. */
async function decoderFor(model: CausalLM, rows: number, log?: (message: string) => void): Promise<Decoder> {
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

async function sampleBatch(decoder: Decoder, model: CausalLM, tok: TextTokenizer, prompts: number[][], seeds: number[], budgets: number[], opt: SampleOptions): Promise<string[]> {
  const n = prompts.length;
  const L = Math.max(...prompts.map((p) => p.length));
  const ids = new Int32Array(n * L).fill(PAD);
  const pos = new Int32Array(n * L);
  const keyMask = new Float32Array(n * L);
  prompts.forEach((p, b) => {
    const pad = L - p.length;
    for (let t = 0; t < p.length; t++) {
      ids[b * L + pad + t] = p[t];
      pos[b * L + pad + t] = t;
      keyMask[b * L + pad + t] = 1;
    }
  });
  const rands = seeds.map((s) => mulberry32(s));
  const text = prompts.map(() => '');
  // A subword tokenizer decodes the whole row again (a token alone may be half a character or lose its space).
  const whole = !(tok instanceof CharTokenizer);
  const gen: number[][] = prompts.map(() => []);
  const finished = new Array<boolean>(n).fill(false);
  const length = prompts.map((p) => p.length);
  const last = model.config.blockSize - 1;
  const maxNew = prompts.map((p, i) => Math.min(budgets[i], model.config.blockSize - p.length));

  let rows = prompts.map((_, i) => i); // batch row -> prompt index
  try {
    let next = await decoder.start(ids, pos, keyMask, n, L, rows.map((i) => rands[i]), opt);
    for (let step = 0; ; step++) {
      rows.forEach((i, r) => {
        if (finished[i]) return;
        if (whole) {
          const before = text[i].length;
          gen[i].push(next[r]);
          text[i] = tok.decode(gen[i]);
          length[i]++;
          // the first stop sequence the new token completed (a subword token may carry text past it), or EOS
          let cut = -1;
          for (const s of opt.stop) {
            const at = s ? text[i].indexOf(s, Math.max(0, before - s.length + 1)) : -1;
            if (at >= 0 && (cut < 0 || at < cut)) cut = at;
          }
          if (cut >= 0) { text[i] = text[i].slice(0, cut); finished[i] = true; }
          else if (next[r] === tok.eosId || step + 1 >= maxNew[i]) finished[i] = true;
          return;
        }
        text[i] += tok.decodeOne(next[r]);
        length[i]++;
        const stop = opt.stop.find((s) => s && text[i].endsWith(s));
        if (stop !== undefined) { text[i] = text[i].slice(0, text[i].length - stop.length); finished[i] = true; }
        else if (step + 1 >= maxNew[i]) finished[i] = true;
      });
      const alive = rows.map((i, r) => (finished[i] ? -1 : r)).filter((r) => r >= 0);
      if (alive.length === 0) break;
      // Finished rows ride along until half the batch is done, then the batch is compacted: copying the cache
      // on every finish would cost more than the rows it saves.
      const compact = decoder.compacts && alive.length <= rows.length / 2;
      const keep = compact ? alive : rows.map((_, r) => r);
      next = await decoder.next(
        keep.map((r) => next[r]),
        keep.map((r) => Math.min(length[rows[r]] - 1, last)),
        compact ? alive : undefined,
        keep.map((r) => rands[rows[r]]),
        opt,
      );
      rows = keep.map((r) => rows[r]);
    }
  } finally {
    decoder.end();
  }
  return text;
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
export function pickHost(logits: Float32Array, V: number, rands: (() => number)[], opt: SampleOptions): number[] {
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
