// Batched sampling with a KV cache: prompts of one batch are left-padded to a common length, each row keeps its own
// positions, and rows that finished are dropped from the batch so long answers do not drag short ones along.
import * as tf from '@tensorflow/tfjs-core';
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
}

/** Completions (stop sequence cut off) for each prompt, in order. */
export async function sample(model: CausalLM, tokenizer: TextTokenizer, prompts: string[], opt: SampleOptions): Promise<string[]> {
  const out = new Array<string>(prompts.length);
  const enc = prompts.map((p) => tokenizer.encode(p));
  const limit = model.config.blockSize;
  // Prompts longer than the context keep their end.
  enc.forEach((e, i) => { if (e.length > limit - 1) enc[i] = e.slice(e.length - (limit - 1)); });
  const order = enc.map((_, i) => i).sort((a, b) => enc[a].length - enc[b].length);
  const B = opt.batchSize ?? 256;
  let done = 0;
  for (let lo = 0; lo < order.length; lo += B) {
    const rows = order.slice(lo, lo + B);
    const budgets = rows.map((i) => (typeof opt.maxNewTokens === 'number' ? opt.maxNewTokens : opt.maxNewTokens[i]));
    const texts = await sampleBatch(model, tokenizer, rows.map((i) => enc[i]), rows.map((i) => opt.seeds?.[i] ?? i), budgets, opt);
    rows.forEach((i, j) => (out[i] = texts[j]));
    done += rows.length;
    opt.onBatch?.(done);
  }
  return out;
}

async function sampleBatch(model: CausalLM, tok: TextTokenizer, prompts: number[][], seeds: number[], budgets: number[], opt: SampleOptions): Promise<string[]> {
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
  let mask = tf.tensor2d(keyMask, [n, L]);
  const idsT = tf.tensor2d(ids, [n, L], 'int32');
  const posT = tf.tensor2d(pos, [n, L], 'int32');
  const empty = model.emptyCache(n);
  const first = tf.tidy(() => {
    const r = model.forward(idsT, { cache: empty, positions: posT, keyMask: mask });
    return { logits: tf.reshape(tf.slice(r.logits, [0, L - 1, 0], [n, 1, -1]), [n, -1]) as tf.Tensor2D, cache: r.cache! };
  });
  disposeCache(empty);
  idsT.dispose();
  posT.dispose();
  let logits = first.logits;
  let cache = first.cache;

  try {
    for (let step = 0; ; step++) {
      const next = await pick(logits, rows.map((i) => rands[i]), opt);
      logits.dispose();
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
      const compact = alive.length <= rows.length / 2 ? tf.tensor1d(alive, 'int32') : undefined;
      const keep = compact ? alive : rows.map((_, r) => r);
      const nextIds = tf.tensor2d(keep.map((r) => next[r]), [keep.length, 1], 'int32');
      const nextPos = tf.tensor2d(keep.map((r) => Math.min(length[rows[r]] - 1, last)), [keep.length, 1], 'int32');
      const shrink = <T extends tf.Tensor>(t: T): T => (compact ? (tf.gather(t, compact) as T) : t);
      const prevCache = cache;
      const prevMask = mask;
      const stepped = tf.tidy(() => {
        const c = prevCache.map(({ k, v }) => ({ k: shrink(k), v: shrink(v) }));
        const m = tf.concat([shrink(prevMask), tf.ones([keep.length, 1])], 1) as tf.Tensor2D;
        const r = model.forward(nextIds, { cache: c, positions: nextPos, keyMask: m });
        return { logits: tf.reshape(r.logits, [keep.length, -1]) as tf.Tensor2D, cache: r.cache!, mask: m };
      });
      disposeCache(prevCache);
      prevMask.dispose();
      compact?.dispose();
      nextIds.dispose();
      nextPos.dispose();
      logits = stepped.logits;
      cache = stepped.cache;
      mask = stepped.mask;
      rows = keep.map((r) => rows[r]);
    }
  } finally {
    disposeCache(cache);
    mask.dispose();
    if (!logits.isDisposed) logits.dispose();
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
  return rands.map((rand, row) => {
    let max = -Infinity;
    for (let j = 0; j < k; j++) max = Math.max(max, vals[row * k + j]);
    const p = new Float64Array(k);
    let sum = 0;
    for (let j = 0; j < k; j++) sum += p[j] = Math.exp((vals[row * k + j] - max) / opt.temperature);
    let u = rand() * sum;
    for (let j = 0; j < k; j++) if ((u -= p[j]) <= 0) return idx[row * k + j];
    return idx[row * k + k - 1];
  });
}
