// How much memory a training step and sampling take on tfjs ops, and how many rows fit a backend's budget.
//
// tfjs keeps every intermediate of a step until its tidy ends (the backward pass needs them), so the peak is the
// whole forward's activations, their gradients, and the parameters with AdamW's moments. Attention dominates at
// long contexts: B*H*T*T floats several times a layer (scores, scaled, masked, softmax, and their gradients).
//
// Calibrated on the wasm backend (tfjs-backend-wasm 4.22 + native kernels, bench/memory.ts, one shape per process;
// measured = the heap's size after one step, which never shrinks; per row = slope over B):
//   train  L4 C128 H4 V96  T128: 28.6 MB a row | T256: 73 | T512: 199 (B=1..8, B=8 1641 MB) | T1024: 557
//   train  T512: L2 C256 B4 618 MB | V1000 B4 950 | C256 H8 B2 906 | L8 B2 813 | T64 V40 B16 207
//   sample L4 C128 H4 V96: 64 prompts of 256 + 64 new 2514 MB | 16 of 512 + 128: 1815 | 8 of 960 + 64: 2530 |
//          128 of 200 + 256: 3568 | 4 of 960 + 256: 1361 (32 of 512 and 64 of 512 aborted)
// The constants below are rounded up so that every estimate is at or above what was measured: by 1-28% where
// more than 200 MB was measured (more below, where FIXED dominates). A full GSM8K batch (32 rows of 512)
// estimates 6.7 GB against the heap's 4 GiB ceiling: the abort users saw.
import * as os from 'os';

const F32 = 4;
const MB = 1024 * 1024;

/** Copies of the attention scores B*H*T*T live at a training step's peak, per layer. */
const ATT_TRAIN = 7;
/** Token-wide activations (C floats each) live at the peak, per layer: ln, qkv, heads, MLP 4C, residuals, grads. */
const ACT_TRAIN = 96;
/** Copies of the logits B*T*V: logits, log-softmax, one-hot, their product and gradients. */
const LOGIT_TRAIN = 16;
/** Parameters, gradients, AdamW's two moments and the accumulated gradients of micro-batches. */
const PARAM_COPIES = 5;
/** The wasm runtime, the causal mask and rope tables, the allocator's slack. */
const FIXED = 48 * MB;
/** Sampling's prefill runs in one tidy: scores, scaled, masked and softmax of every layer. */
const ATT_PREFILL = 4.5;
const ACT_PREFILL = 48;
const LOGIT_PREFILL = 4;

/**
 * The wasm heap's ceiling: tfjs-backend-wasm 4.22 is built with MAXIMUM_MEMORY=4GB (getHeapMax() in
 * wasm-out/tfjs-backend-wasm*.js returns 4294901760); bench/memory.ts `heap` allocated 64 tensors of 64 MB
 * before "memory access out of bounds".
 */
export const WASM_HEAP_MAX = 4294901760;
/** Of a ceiling, what the estimate may fill: the heap grows in steps and fragments. */
const HEADROOM = 0.9;

/** What sizes a model's activations. */
export interface ModelShape {
  nLayer: number;
  nHead: number;
  nEmbd: number;
  vocabSize: number;
  blockSize: number;
  /** Parameter count (weights only). */
  params: number;
}

/** Peak bytes of one training step on `rows` sequences of `T` tokens. */
export function trainStepBytes(m: ModelShape, rows: number, T: number): number {
  const perRow =
    ATT_TRAIN * m.nLayer * m.nHead * T * T + ACT_TRAIN * m.nLayer * T * m.nEmbd + LOGIT_TRAIN * T * m.vocabSize;
  return FIXED + F32 * (PARAM_COPIES * m.params + m.blockSize * m.blockSize + rows * perRow);
}

/** Peak bytes of sampling `rows` prompts of `P` tokens (left-padded) growing to `total` tokens with a KV cache. */
export function sampleBytes(m: ModelShape, rows: number, P: number, total: number): number {
  const prefill =
    ATT_PREFILL * m.nLayer * m.nHead * P * P + ACT_PREFILL * m.nLayer * P * m.nEmbd + LOGIT_PREFILL * P * m.vocabSize;
  // keys and values of every layer, twice while a step's concat makes the next cache
  const cache = 2 * 2 * m.nLayer * total * m.nEmbd;
  return FIXED + F32 * (m.params + m.blockSize * m.blockSize + rows * (prefill + cache));
}

/**
 * Bytes the tfjs ops of a backend may use; undefined where it is not estimated (webgpu: GPU memory is not
 * reported, and the fused kernels allocate their own buffers).
 */
export function memoryBudget(backend: string): number | undefined {
  if (process.env.STAR_MEMORY_BUDGET_MB) return Number(process.env.STAR_MEMORY_BUDGET_MB) * MB;
  if (backend === 'wasm') return HEADROOM * WASM_HEAP_MAX;
  // tensors live in the process's own memory: leave the machine half of it
  if (backend === 'cpu' || backend === 'tensorflow') return 0.5 * os.totalmem();
  return undefined;
}

/** The most rows (up to `want`) whose estimate fits; 0 when not even one does. */
export function rowsThatFit(bytes: (rows: number) => number, want: number, budget: number | undefined): number {
  if (budget === undefined || bytes(want) <= budget) return want;
  let lo = 0;
  let hi = want;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (bytes(mid) <= budget) lo = mid;
    else hi = mid;
  }
  return lo;
}

/** "7.1 GB", "312 MB": what a person reads in a log or an error. */
export function formatBytes(n: number): string {
  return n >= 1024 * MB ? `${(n / (1024 * MB)).toFixed(1)} GB` : `${Math.ceil(n / MB)} MB`;
}

/** The shape of a model the sampler or trainer holds (GPT or Llama config), with its parameter count. */
export function shapeOf(model: { config: object; params: Map<string, { size: number }> }): ModelShape {
  const c = model.config as Partial<ModelShape>;
  let params = 0;
  for (const v of model.params.values()) params += v.size;
  return { nLayer: c.nLayer ?? 1, nHead: c.nHead ?? 1, nEmbd: c.nEmbd ?? 1, vocabSize: c.vocabSize ?? 1, blockSize: c.blockSize ?? 1, params };
}

/** The parameter count of the embedded GPT of a config (gpt.ts's layout), without making it. */
export function gptParams(c: { nLayer: number; nEmbd: number; vocabSize: number; blockSize: number; pos: string }): number {
  const D = c.nEmbd;
  const layer = 4 * D + 3 * D * D + 3 * D + D * D + D + 4 * D * D + 4 * D + 4 * D * D + D;
  return 2 * c.vocabSize * D + c.nLayer * layer + 2 * D + (c.pos === 'learned' ? c.blockSize * D : 0);
}
