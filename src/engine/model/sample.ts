// Batched sampling with a KV cache: prompts of one batch are left-padded to a common length, each row keeps its own
// positions, and (with tfjs ops, where a row costs compute) rows that finished are dropped from the batch so long
// answers do not drag short ones along; a batch has fewer rows where its memory would not fit (memory.ts). decoders.ts
// runs the forward passes.
import { getBackend } from '@tensorflow/tfjs-core';
import { yieldToEventLoop } from '../eventLoop';
import { mulberry32 } from '../random';
import { StopRequested } from './stop';
import { Decoder, decoderFor } from './decoders';
import type { CausalLM } from './gpt';
import { formatBytes, memoryBudget, rowsThatFit, sampleBytes, shapeOf } from './memory';
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
  /** The run's stop: sampling ends at the next token (the batch's work is dropped; seeds make a redo the same). */
  signal?: AbortSignal;
}

/** Completions (stop sequence cut off) for each prompt, in order. */
export async function sample(model: CausalLM, tokenizer: TextTokenizer, prompts: string[], opt: SampleOptions): Promise<string[]> {
  if (prompts.length === 0) return [];
  const out = new Array<string>(prompts.length);
  const enc = prompts.map((p) => tokenizer.encode(p));
  const limit = model.config.blockSize;
  enc.forEach((e, i) => {
    if (e.length >= limit) throw new Error(`prompt ${i + 1} has ${e.length} tokens: blockSize ${limit} leaves no room to answer`);
  });
  const order = enc.map((_, i) => i).sort((a, b) => enc[a].length - enc[b].length);
  const B = Math.min(opt.batchSize ?? 256, prompts.length);
  const rowsFrom = batchRows(model, enc, order, B, (i) => budgetOf(opt, i), opt.log);
  const decoder = await decoderFor(model, B, opt.log);
  let done = 0;
  try {
    for (let lo = 0; lo < order.length; ) {
      const rows = order.slice(lo, lo + rowsFrom(lo));
      lo += rows.length;
      const budgets = rows.map((i) => budgetOf(opt, i));
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

const budgetOf = (opt: SampleOptions, i: number) => (typeof opt.maxNewTokens === 'number' ? opt.maxNewTokens : opt.maxNewTokens[i]);

/**
 * Rows of the batch that starts at `lo` (prompts sorted by length): up to B, fewer where the estimated memory of
 * the longest prompts would not fit the backend's budget. Rows keep their own seeds, so completions do not change.
 */
function batchRows(model: CausalLM, enc: number[][], order: number[], B: number, budget: (i: number) => number,
  log?: (message: string) => void): (lo: number) => number {
  const room = memoryBudget(getBackend());
  const shape = shapeOf(model);
  let said = B;
  return (lo) => {
    let n = Math.min(B, order.length - lo);
    for (;;) {
      const P = enc[order[lo + n - 1]].length;
      let most = 0;
      for (let j = lo; j < lo + n; j++) most = Math.max(most, budget(order[j]));
      const total = Math.min(model.config.blockSize, P + most);
      const fit = rowsThatFit((r) => sampleBytes(shape, r, P, total), n, room);
      if (fit === 0)
        throw new Error(`sampling one prompt of ${P} tokens needs about ${formatBytes(sampleBytes(shape, 1, P, total))}, ` +
          `more than the ${formatBytes(room!)} the ${getBackend()} backend has: lower model.blockSize, nEmbd or nLayer`);
      if (fit === n) break;
      n = fit;
    }
    if (n < said && n < order.length - lo) {
      log?.(`sampling: batches of ${n} rows (not ${B}) from prompts of ${enc[order[lo + n - 1]].length} tokens, ` +
        `to fit the ${getBackend()} backend's ${formatBytes(room!)}`);
      said = n;
    }
    return n;
  };
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
      await yieldToEventLoop();
      if (opt.signal?.aborted) throw new StopRequested();
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
