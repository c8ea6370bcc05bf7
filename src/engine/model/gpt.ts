// A decoder-only transformer in the spirit of nanoGPT's model.py, on tfjs-core ops.
// Parameter names and layouts follow Hugging Face GPT-2 (Conv1D weights are [in, out]), so checkpoints read like one.
import * as tf from '@tensorflow/tfjs-core';
import { maskedCrossEntropy } from './loss';
import { paramDeclarer } from './params';
// Fused where the native kernels run, the plain tfjs composition elsewhere: same numbers either way.
import { gelu, layerNorm } from '../compute/native';

export interface GPTConfig {
  vocabSize: number;
  nLayer: number;
  nHead: number;
  nEmbd: number;
  blockSize: number;
  dropout: number;
  /** rotary (GPT-NeoX half-rotation) or learned absolute positions */
  pos: 'rope' | 'learned';
}

/** Keys and values of every layer for the positions seen so far: [B, H, T, hd] each. */
export type KVCache = { k: tf.Tensor4D; v: tf.Tensor4D }[];

export interface ForwardOptions {
  training?: boolean;
  /** Seed for dropout masks; a new one per step keeps training reproducible. */
  seed?: number;
  cache?: KVCache;
  /** [B, T] position of each token; defaults to 0..T-1 for every row (right-padded batches). */
  positions?: tf.Tensor2D;
  /** [B, Tk] 1 where a key is real, 0 where it is left padding (sampling batches). */
  keyMask?: tf.Tensor2D;
}

/** What the sampler, the trainer and checkpoints need of a model: GPT (below) and Llama (llama.ts) have it. */
export interface CausalLM {
  readonly config: { vocabSize: number; blockSize: number };
  readonly params: Map<string, tf.Variable>;
  forward(idx: tf.Tensor2D, opt?: ForwardOptions): { logits: tf.Tensor3D; cache?: KVCache };
  loss(idx: tf.Tensor2D, targets: tf.Tensor2D, weights: tf.Tensor2D, seed?: number): tf.Scalar;
  emptyCache(B: number): KVCache;
  dispose(): void;
}

const LN_EPS = 1e-5;

export class GPT implements CausalLM {
  readonly params = new Map<string, tf.Variable>();
  private readonly ropeCos?: tf.Tensor2D;
  private readonly ropeSin?: tf.Tensor2D;
  private readonly ropeRot?: tf.Tensor2D;
  private readonly causal: tf.Tensor2D;

  constructor(readonly config: GPTConfig, weights?: Map<string, tf.Tensor>, seed = 0) {
    const { vocabSize: V, nLayer: L, nEmbd: D, blockSize } = config;
    if (D % config.nHead !== 0) throw new Error(`nEmbd ${D} is not a multiple of nHead ${config.nHead}`);
    const add = paramDeclarer(this.params, 'gpt', weights, seed);
    add('transformer.wte.weight', [V, D], 'normal');
    if (config.pos === 'learned') add('transformer.wpe.weight', [blockSize, D], 'normal', 0.01);
    const projStd = 0.02 / Math.sqrt(2 * L); // nanoGPT: scaled init of residual projections
    for (let i = 0; i < L; i++) {
      const p = `transformer.h.${i}.`;
      add(p + 'ln_1.weight', [D], 'ones');
      add(p + 'ln_1.bias', [D], 'zeros');
      add(p + 'attn.c_attn.weight', [D, 3 * D], 'normal');
      add(p + 'attn.c_attn.bias', [3 * D], 'zeros');
      add(p + 'attn.c_proj.weight', [D, D], 'normal', projStd);
      add(p + 'attn.c_proj.bias', [D], 'zeros');
      add(p + 'ln_2.weight', [D], 'ones');
      add(p + 'ln_2.bias', [D], 'zeros');
      add(p + 'mlp.c_fc.weight', [D, 4 * D], 'normal');
      add(p + 'mlp.c_fc.bias', [4 * D], 'zeros');
      add(p + 'mlp.c_proj.weight', [4 * D, D], 'normal', projStd);
      add(p + 'mlp.c_proj.bias', [D], 'zeros');
    }
    add('transformer.ln_f.weight', [D], 'ones');
    add('transformer.ln_f.bias', [D], 'zeros');
    add('lm_head.weight', [V, D], 'normal');

    if (config.pos === 'rope') [this.ropeCos, this.ropeSin, this.ropeRot] = ropeTables(D / config.nHead, blockSize);
    // -1e9 above the diagonal: added to attention scores so a position never sees the future.
    this.causal = tf.tidy(() => tf.mul(tf.sub(tf.linalg.bandPart(tf.ones([blockSize, blockSize]), -1, 0), 1), 1e9)) as tf.Tensor2D;
  }

  p(name: string): tf.Variable {
    const v = this.params.get(name);
    if (!v) throw new Error(`no parameter ${name}`);
    return v;
  }

  get numParams(): number {
    let n = 0;
    for (const v of this.params.values()) n += v.size;
    return n;
  }

  /** Logits [B, T, V] for token ids [B, T], and the grown cache when one was given. */
  forward(idx: tf.Tensor2D, opt: ForwardOptions = {}): { logits: tf.Tensor3D; cache?: KVCache } {
    const { vocabSize: V, nEmbd: D, nHead: H } = this.config;
    const [B, T] = idx.shape;
    const hd = D / H;
    const past = opt.cache ? opt.cache[0].k.shape[2] : 0;
    let seed = opt.seed ?? 0;
    const drop = (x: tf.Tensor) => (opt.training && this.config.dropout > 0 ? tf.dropout(x, this.config.dropout, undefined, seed++) : x);

    // Embedding as one-hot @ wte: its gradient is a matmul, which every backend has (wasm has no gather gradient).
    const flat = tf.reshape(idx, [B * T]);
    let x: tf.Tensor = V <= 512 ? tf.matMul(tf.oneHot(flat, V), this.p('transformer.wte.weight')) : tf.gather(this.p('transformer.wte.weight'), flat);
    if (this.config.pos === 'learned') {
      const pe = opt.positions
        ? tf.reshape(tf.gather(this.p('transformer.wpe.weight'), tf.reshape(opt.positions, [B * T])), [B, T, D])
        : tf.slice(this.p('transformer.wpe.weight'), [past, 0], [T, D]);
      x = tf.reshape(tf.add(tf.reshape(x, [B, T, D]), pe), [B * T, D]);
    }
    x = drop(x);

    // Rotary tables for these positions, shaped to broadcast over heads: [1|B, 1, T, hd].
    let cos: tf.Tensor | undefined, sin: tf.Tensor | undefined;
    if (this.ropeCos && this.ropeSin) {
      if (opt.positions) {
        const pos = tf.reshape(opt.positions, [B * T]);
        cos = tf.reshape(tf.gather(this.ropeCos, pos), [B, 1, T, hd]);
        sin = tf.reshape(tf.gather(this.ropeSin, pos), [B, 1, T, hd]);
      } else {
        cos = tf.reshape(tf.slice(this.ropeCos, [past, 0], [T, hd]), [1, 1, T, hd]);
        sin = tf.reshape(tf.slice(this.ropeSin, [past, 0], [T, hd]), [1, 1, T, hd]);
      }
    }
    const rope = (t: tf.Tensor4D) => {
      if (!cos || !sin || !this.ropeRot) return t;
      const rotated = tf.reshape(tf.matMul(tf.reshape(t, [B * H * T, hd]), this.ropeRot), [B, H, T, hd]);
      return tf.add(tf.mul(t, cos), tf.mul(rotated, sin)) as tf.Tensor4D;
    };

    // Additive attention mask [1|B, 1, T, past+T]: causal within the new tokens, and no left padding.
    const Tk = past + T;
    let mask: tf.Tensor | undefined;
    if (T > 1) mask = tf.reshape(tf.slice(this.causal, [past, 0], [T, Tk]), [1, 1, T, Tk]);
    if (opt.keyMask) {
      const pad = tf.reshape(tf.mul(tf.sub(opt.keyMask, 1), 1e9), [B, 1, 1, Tk]);
      mask = mask ? tf.add(mask, pad) : pad;
    }

    const newCache: KVCache = [];
    for (let i = 0; i < this.config.nLayer; i++) {
      const p = `transformer.h.${i}.`;
      const h = this.layerNorm(x, p + 'ln_1');
      const qkv = tf.add(tf.matMul(h, this.p(p + 'attn.c_attn.weight')), this.p(p + 'attn.c_attn.bias'));
      const [q0, k0, v0] = tf.unstack(tf.transpose(tf.reshape(qkv, [B, T, 3, H, hd]), [2, 0, 3, 1, 4])) as tf.Tensor4D[];
      const q = rope(q0);
      let k = rope(k0);
      let v = v0;
      if (opt.cache) {
        k = tf.concat([opt.cache[i].k, k], 2);
        v = tf.concat([opt.cache[i].v, v], 2);
        newCache.push({ k, v });
      }
      let att: tf.Tensor = tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(hd));
      if (mask) att = tf.add(att, mask);
      att = tf.softmax(att);
      const y = tf.reshape(tf.transpose(tf.matMul(att, v), [0, 2, 1, 3]), [B * T, D]);
      x = tf.add(x, drop(tf.add(tf.matMul(y, this.p(p + 'attn.c_proj.weight')), this.p(p + 'attn.c_proj.bias'))));
      const h2 = this.layerNorm(x, p + 'ln_2');
      const f = gelu(tf.add(tf.matMul(h2, this.p(p + 'mlp.c_fc.weight')), this.p(p + 'mlp.c_fc.bias')));
      x = tf.add(x, drop(tf.add(tf.matMul(f, this.p(p + 'mlp.c_proj.weight')), this.p(p + 'mlp.c_proj.bias'))));
    }
    const logits = tf.matMul(this.layerNorm(x, 'transformer.ln_f'), this.p('lm_head.weight'), false, true);
    return { logits: tf.reshape(logits, [B, T, V]), cache: opt.cache ? newCache : undefined };
  }

  /** Mean cross-entropy over the positions whose weight is 1 (the completion), not the prompt or padding. */
  loss(idx: tf.Tensor2D, targets: tf.Tensor2D, weights: tf.Tensor2D, seed?: number): tf.Scalar {
    const { logits } = this.forward(idx, { training: true, seed });
    return maskedCrossEntropy(logits, targets, weights, this.config.vocabSize);
  }

  /** An empty cache for a batch of B rows. */
  emptyCache(B: number): KVCache {
    const hd = this.config.nEmbd / this.config.nHead;
    return Array.from({ length: this.config.nLayer }, () => ({
      k: tf.zeros([B, this.config.nHead, 0, hd]) as tf.Tensor4D,
      v: tf.zeros([B, this.config.nHead, 0, hd]) as tf.Tensor4D,
    }));
  }

  dispose(): void {
    for (const v of this.params.values()) v.dispose();
    this.ropeCos?.dispose();
    this.ropeSin?.dispose();
    this.ropeRot?.dispose();
    this.causal.dispose();
  }

  private layerNorm(x: tf.Tensor, name: string): tf.Tensor {
    return layerNorm(x, this.p(name + '.weight'), this.p(name + '.bias'), LN_EPS);
  }
}

/**
 * Rotary embedding tables, GPT-NeoX layout: x' = x*cos + rotate_half(x)*sin with rotate_half(x) = [-x2, x1].
 * rotate_half is a fixed signed permutation, applied as a matmul so it stays one fast kernel.
 */
function ropeTables(hd: number, T: number): [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D] {
  const { cos, sin } = ropeTableValues(hd, T);
  const half = hd / 2;
  const rot = new Float32Array(hd * hd); // row j of x, column i of rotate_half(x)
  for (let i = 0; i < half; i++) {
    rot[(i + half) * hd + i] = -1; // out[i] = -x[i+half]
    rot[i * hd + i + half] = 1; // out[i+half] = x[i]
  }
  return [tf.tensor2d(cos, [T, hd]), tf.tensor2d(sin, [T, hd]), tf.tensor2d(rot, [hd, hd])];
}

/** cos and sin [T, hd] of the rotary embedding; the fused WebGPU step reads the same numbers. */
export function ropeTableValues(hd: number, T: number): { cos: Float32Array; sin: Float32Array } {
  const half = hd / 2;
  const cos = new Float32Array(T * hd);
  const sin = new Float32Array(T * hd);
  for (let t = 0; t < T; t++)
    for (let i = 0; i < half; i++) {
      const angle = t / Math.pow(10000, (2 * i) / hd);
      cos[t * hd + i] = cos[t * hd + i + half] = Math.cos(angle);
      sin[t * hd + i] = sin[t * hd + i + half] = Math.sin(angle);
    }
  return { cos, sin };
}
