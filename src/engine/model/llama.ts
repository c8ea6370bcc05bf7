// A Llama-family decoder (Llama, Mistral, Qwen2) on tfjs-core ops, in the spirit of nanoGPT's model.py:
// RMSNorm, rotary positions (rope_theta, GPT-NeoX/HF half rotation), grouped-query attention, SwiGLU MLP.
// Parameter names and layouts are Hugging Face's (nn.Linear weights are [out, in]), so checkpoints load one to one.
import * as tf from '@tensorflow/tfjs-core';
import { maskedCrossEntropy } from './loss';
import { paramDeclarer } from './params';
import type { CausalLM, ForwardOptions, KVCache } from './gpt';

export interface LlamaConfig {
  arch: 'llama';
  vocabSize: number;
  nLayer: number;
  nHead: number;
  /** key/value heads: fewer than nHead is grouped-query attention */
  nKvHead: number;
  nEmbd: number;
  headDim: number;
  /** hidden size of the SwiGLU MLP */
  nInner: number;
  blockSize: number;
  ropeTheta: number;
  rmsNormEps: number;
  /** lm_head is embed_tokens (no lm_head.weight) */
  tied: boolean;
  /** biases on q/k/v (Qwen2, Llama's attention_bias) and on o (Llama's attention_bias) */
  qkvBias: boolean;
  oBias: boolean;
}


export class Llama implements CausalLM {
  readonly params = new Map<string, tf.Variable>();
  private readonly invFreq: tf.Tensor1D;

  constructor(readonly config: LlamaConfig, weights?: Map<string, tf.Tensor>, seed = 0) {
    const { vocabSize: V, nLayer: L, nEmbd: D, nHead: H, nKvHead: KV, headDim: hd, nInner: F } = config;
    if (H % KV !== 0) throw new Error(`num_attention_heads ${H} is not a multiple of num_key_value_heads ${KV}`);
    const add = paramDeclarer(this.params, 'llama', weights, seed);
    add('model.embed_tokens.weight', [V, D], 'normal');
    for (let i = 0; i < L; i++) {
      const p = `model.layers.${i}.`;
      add(p + 'input_layernorm.weight', [D], 'ones');
      add(p + 'self_attn.q_proj.weight', [H * hd, D], 'normal');
      add(p + 'self_attn.k_proj.weight', [KV * hd, D], 'normal');
      add(p + 'self_attn.v_proj.weight', [KV * hd, D], 'normal');
      if (config.qkvBias) {
        add(p + 'self_attn.q_proj.bias', [H * hd], 'zeros');
        add(p + 'self_attn.k_proj.bias', [KV * hd], 'zeros');
        add(p + 'self_attn.v_proj.bias', [KV * hd], 'zeros');
      }
      add(p + 'self_attn.o_proj.weight', [D, H * hd], 'normal');
      if (config.oBias) add(p + 'self_attn.o_proj.bias', [D], 'zeros');
      add(p + 'post_attention_layernorm.weight', [D], 'ones');
      add(p + 'mlp.gate_proj.weight', [F, D], 'normal');
      add(p + 'mlp.up_proj.weight', [F, D], 'normal');
      add(p + 'mlp.down_proj.weight', [D, F], 'normal');
    }
    add('model.norm.weight', [D], 'ones');
    if (!config.tied) add('lm_head.weight', [V, D], 'normal');
    // inv_freq[i] = theta^(-2i/hd), in float32 as HF computes it
    const inv = new Float32Array(hd / 2);
    for (let i = 0; i < hd / 2; i++) inv[i] = 1 / Math.pow(config.ropeTheta, (2 * i) / hd);
    this.invFreq = tf.tensor1d(inv);
  }

  p(name: string): tf.Variable {
    const v = this.params.get(name);
    if (!v) throw new Error(`no parameter ${name}`);
    return v;
  }

  /** Logits [B, T, V] for token ids [B, T], and the grown cache when one was given. */
  forward(idx: tf.Tensor2D, opt: ForwardOptions = {}): { logits: tf.Tensor3D; cache?: KVCache } {
    const { vocabSize: V, nEmbd: D, nHead: H, nKvHead: KV, headDim: hd } = this.config;
    const [B, T] = idx.shape;
    const G = H / KV; // query heads per key/value head
    const past = opt.cache ? opt.cache[0].k.shape[2] : 0;
    const linear = (x: tf.Tensor, name: string, bias = false) => {
      const y = tf.matMul(x, this.p(name + '.weight'), false, true); // nn.Linear: x @ W^T
      return bias ? tf.add(y, this.p(name + '.bias')) : y;
    };

    // One-hot @ embedding for small vocabularies (a matmul gradient); gather otherwise (UnsortedSegmentSum gradient).
    const flat = tf.reshape(idx, [B * T]);
    const emb = this.p('model.embed_tokens.weight');
    let x: tf.Tensor = V <= 512 ? tf.matMul(tf.oneHot(flat, V), emb) : tf.gather(emb, flat);

    // Rotary angles pos * inv_freq for these positions, [1|B, 1, T, hd] (both halves alike).
    const pos = opt.positions ? tf.cast(tf.reshape(opt.positions, [B * T, 1]), 'float32') : tf.reshape(tf.range(past, past + T, 1, 'float32'), [T, 1]);
    const half = tf.mul(pos, tf.reshape(this.invFreq, [1, hd / 2]));
    const angle = tf.reshape(tf.concat([half, half], 1), [opt.positions ? B : 1, 1, T, hd]);
    const cos = tf.cos(angle), sin = tf.sin(angle);
    const rope = (t: tf.Tensor4D) => {
      const [a, b] = tf.split(t, 2, 3);
      return tf.add(tf.mul(t, cos), tf.mul(tf.concat([tf.neg(b), a], 3), sin)) as tf.Tensor4D; // rotate_half
    };

    // Additive mask [1|B, 1, T, past+T]: causal within the new tokens, and no left padding.
    const Tk = past + T;
    let mask: tf.Tensor | undefined;
    if (T > 1) mask = tf.reshape(tf.mul(tf.sub(tf.linalg.bandPart(tf.ones([T, Tk]), -1, past), 1), 1e9), [1, 1, T, Tk]);
    if (opt.keyMask) {
      const pad = tf.reshape(tf.mul(tf.sub(opt.keyMask, 1), 1e9), [B, 1, 1, Tk]);
      mask = mask ? tf.add(mask, pad) : pad;
    }

    const heads = (t: tf.Tensor, n: number) => tf.transpose(tf.reshape(t, [B, T, n, hd]), [0, 2, 1, 3]) as tf.Tensor4D;
    const newCache: KVCache = [];
    for (let i = 0; i < this.config.nLayer; i++) {
      const p = `model.layers.${i}.`;
      const h = this.rmsNorm(x, p + 'input_layernorm');
      const q = rope(heads(linear(h, p + 'self_attn.q_proj', this.config.qkvBias), H));
      let k = rope(heads(linear(h, p + 'self_attn.k_proj', this.config.qkvBias), KV));
      let v = heads(linear(h, p + 'self_attn.v_proj', this.config.qkvBias), KV);
      if (opt.cache) {
        k = tf.concat([opt.cache[i].k, k], 2);
        v = tf.concat([opt.cache[i].v, v], 2);
        newCache.push({ k, v });
      }
      // Grouped-query attention without copying keys: the G query heads of a key/value head are stacked along time.
      const qg = tf.reshape(q, [B, KV, G * T, hd]);
      let att: tf.Tensor = tf.reshape(tf.mul(tf.matMul(qg, k, false, true), 1 / Math.sqrt(hd)), [B, H, T, Tk]);
      if (mask) att = tf.add(att, mask);
      att = tf.reshape(tf.softmax(att), [B, KV, G * T, Tk]);
      const y = tf.reshape(tf.transpose(tf.reshape(tf.matMul(att, v), [B, H, T, hd]), [0, 2, 1, 3]), [B * T, H * hd]);
      x = tf.add(x, linear(y, p + 'self_attn.o_proj', this.config.oBias));
      const h2 = this.rmsNorm(x, p + 'post_attention_layernorm');
      const g = linear(h2, p + 'mlp.gate_proj');
      x = tf.add(x, linear(tf.mul(tf.mul(g, tf.sigmoid(g)), linear(h2, p + 'mlp.up_proj')), p + 'mlp.down_proj')); // SwiGLU
    }
    const head = this.config.tied ? emb : this.p('lm_head.weight');
    const logits = tf.matMul(this.rmsNorm(x, 'model.norm'), head, false, true);
    return { logits: tf.reshape(logits, [B, T, V]), cache: opt.cache ? newCache : undefined };
  }

  /** Mean cross-entropy over the positions whose weight is 1 (the completion), not the prompt or padding. */
  loss(idx: tf.Tensor2D, targets: tf.Tensor2D, weights: tf.Tensor2D): tf.Scalar {
    const { logits } = this.forward(idx, { training: true });
    return maskedCrossEntropy(logits, targets, weights, this.config.vocabSize);
  }

  /** An empty cache for a batch of B rows (key/value heads only: grouped-query attention keeps it small). */
  emptyCache(B: number): KVCache {
    const { nKvHead: KV, headDim: hd } = this.config;
    return Array.from({ length: this.config.nLayer }, () => ({
      k: tf.zeros([B, KV, 0, hd]) as tf.Tensor4D,
      v: tf.zeros([B, KV, 0, hd]) as tf.Tensor4D,
    }));
  }

  dispose(): void {
    for (const v of this.params.values()) v.dispose();
    this.invFreq.dispose();
  }

  /** RMSNorm: x / sqrt(mean(x^2) + eps) * weight. */
  private rmsNorm(x: tf.Tensor, name: string): tf.Tensor {
    const ms = tf.mean(tf.square(x), -1, true);
    return tf.mul(tf.mul(x, tf.rsqrt(tf.add(ms, this.config.rmsNormEps))), this.p(name + '.weight'));
  }
}
