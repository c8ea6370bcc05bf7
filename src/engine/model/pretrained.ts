// Pretrained weights for the embedded engine: a local Hugging Face checkpoint folder (config.json, model.safetensors,
// tokenizer.json) loaded into the tfjs transformer. GPT-2 family: the parameter names and Conv1D [in, out] layouts
// are GPT-2's already, so tensors map one to one (`transformer.` prefix optional, a tied lm_head taken from wte).
// Llama family (llama, mistral, qwen2): llama.ts uses the HF names and [out, in] layouts as they are.
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { decodeSafetensors, RawTensor } from './checkpoint';
import { CausalLM, GPT, GPTConfig } from './gpt';
import { Llama, LlamaConfig } from './llama';
import { HFTokenizer } from './hfTokenizer';

export interface HFConfig {
  model_type?: string;
  architectures?: string[];
  vocab_size: number;
  // GPT-2
  n_embd?: number;
  n_layer?: number;
  n_head?: number;
  n_positions?: number;
  n_inner?: number | null;
  layer_norm_epsilon?: number;
  activation_function?: string;
  tie_word_embeddings?: boolean;
  // Llama family
  hidden_size?: number;
  intermediate_size?: number;
  num_hidden_layers?: number;
  num_attention_heads?: number;
  num_key_value_heads?: number | null;
  head_dim?: number | null;
  max_position_embeddings?: number;
  rms_norm_eps?: number;
  rope_theta?: number;
  rope_scaling?: { rope_type?: string; type?: string } | null;
  rope_parameters?: { rope_type?: string; type?: string; rope_theta?: number } | null;
  hidden_act?: string;
  attention_bias?: boolean;
  mlp_bias?: boolean;
  sliding_window?: number | null;
  use_sliding_window?: boolean;
}

export type Family = 'gpt2' | 'llama';
const LLAMA_TYPES = ['llama', 'mistral', 'qwen2'];

/** Reads config.json and names the family; anything the tfjs transformer cannot run exactly is an error here. */
export function readHFConfig(dir: string): { config: HFConfig; family: Family } {
  const file = path.join(dir, 'config.json');
  if (!fs.existsSync(file)) throw new Error(`${file}: not found (a Hugging Face checkpoint folder has config.json, model.safetensors and tokenizer.json)`);
  const config = JSON.parse(fs.readFileSync(file, 'utf8')) as HFConfig;
  const type = config.model_type ?? '';
  if (LLAMA_TYPES.includes(type)) {
    llamaConfig(config, file); // throws on what the embedded Llama cannot run exactly
    return { config, family: 'llama' };
  }
  if (type !== 'gpt2') throw new Error(`${file}: model_type "${type}" is not supported by the embedded engine (gpt2, ${LLAMA_TYPES.join(', ')} are)`);
  const act = config.activation_function ?? 'gelu_new';
  if (!['gelu_new', 'gelu_pytorch_tanh', 'gelu_fast'].includes(act)) throw new Error(`${file}: activation_function "${act}" (the embedded GPT-2 computes the tanh GELU, gelu_new)`);
  const eps = config.layer_norm_epsilon ?? 1e-5;
  if (Math.abs(eps - 1e-5) > 1e-12) throw new Error(`${file}: layer_norm_epsilon ${eps} (the embedded GPT-2 uses 1e-5)`);
  if (config.n_inner && config.n_inner !== 4 * (config.n_embd ?? 0)) throw new Error(`${file}: n_inner ${config.n_inner} (the embedded GPT-2 uses 4 * n_embd)`);
  return { config, family: 'gpt2' };
}

/** Tensors of model.safetensors, or of the shards a model.safetensors.index.json lists. */
export function readSafetensorsDir(dir: string): Map<string, RawTensor> {
  const single = path.join(dir, 'model.safetensors');
  if (fs.existsSync(single)) return decodeSafetensors(fs.readFileSync(single), single).tensors;
  const index = path.join(dir, 'model.safetensors.index.json');
  if (!fs.existsSync(index)) throw new Error(`${dir}: no model.safetensors (nor model.safetensors.index.json)`);
  const map = (JSON.parse(fs.readFileSync(index, 'utf8')) as { weight_map: Record<string, string> }).weight_map;
  const out = new Map<string, RawTensor>();
  for (const shard of new Set(Object.values(map))) {
    const f = path.join(dir, shard);
    for (const [k, v] of decodeSafetensors(fs.readFileSync(f), f).tensors) out.set(k, v);
  }
  return out;
}

/** The tfjs model config of a GPT-2 checkpoint. */
export function gpt2Config(c: HFConfig): GPTConfig {
  return { vocabSize: c.vocab_size, nLayer: c.n_layer!, nHead: c.n_head!, nEmbd: c.n_embd!, blockSize: c.n_positions ?? 1024, dropout: 0, pos: 'learned' };
}

/** The tfjs model config of a Llama-family checkpoint, with HF's defaults; unsupported settings are errors. */
export function llamaConfig(c: HFConfig, file = 'config.json'): LlamaConfig {
  const type = c.model_type ?? 'llama';
  const D = c.hidden_size!, H = c.num_attention_heads!;
  const scaling = c.rope_scaling ?? c.rope_parameters;
  const ropeType = scaling?.rope_type ?? scaling?.type ?? 'default';
  if (ropeType !== 'default') throw new Error(`${file}: rope_scaling "${ropeType}" is not supported by the embedded engine (only plain RoPE with rope_theta)`);
  const act = c.hidden_act ?? 'silu';
  if (act !== 'silu') throw new Error(`${file}: hidden_act "${act}" (the embedded Llama computes SwiGLU with silu)`);
  if (c.mlp_bias) throw new Error(`${file}: mlp_bias true is not supported by the embedded Llama`);
  if (!D || !H || !c.num_hidden_layers || !c.intermediate_size) throw new Error(`${file}: hidden_size, num_attention_heads, num_hidden_layers and intermediate_size are required`);
  let blockSize = c.max_position_embeddings ?? 2048;
  // Mistral's (and Qwen2's, when used) sliding window: within it attention is plain causal attention
  const window = type === 'mistral' || (type === 'qwen2' && c.use_sliding_window) ? c.sliding_window : null;
  if (window && window < blockSize) blockSize = window;
  return {
    arch: 'llama',
    vocabSize: c.vocab_size,
    nLayer: c.num_hidden_layers,
    nHead: H,
    nKvHead: c.num_key_value_heads ?? H,
    nEmbd: D,
    headDim: c.head_dim ?? D / H,
    nInner: c.intermediate_size,
    blockSize,
    ropeTheta: c.rope_theta ?? c.rope_parameters?.rope_theta ?? 10000,
    rmsNormEps: c.rms_norm_eps ?? 1e-6,
    tied: c.tie_word_embeddings ?? false,
    qkvBias: type === 'qwen2' ? true : !!c.attention_bias,
    oBias: type === 'qwen2' ? false : !!c.attention_bias,
  };
}

/** Llama tensors as the model names them: rotary buffers of old exports dropped, a tied head's copy dropped. */
export function llamaWeights(raw: Map<string, RawTensor>, cfg: LlamaConfig): Map<string, RawTensor> {
  const out = new Map<string, RawTensor>();
  for (const [k, v] of raw) {
    if (k.endsWith('.rotary_emb.inv_freq')) continue;
    if (cfg.tied && k === 'lm_head.weight') continue;
    out.set(k, v);
  }
  return out;
}

/** GPT-2 tensors under our names: `transformer.` prefixed, buffers dropped, a tied head filled in from wte. */
export function gpt2Weights(raw: Map<string, RawTensor>): Map<string, RawTensor> {
  const out = new Map<string, RawTensor>();
  for (const [k, v] of raw) {
    if (/\.attn\.(bias|masked_bias)$/.test(k)) continue; // causal-mask buffers of old exports
    const name = k === 'lm_head.weight' || k.startsWith('transformer.') ? k : `transformer.${k}`;
    out.set(name, v);
  }
  if (!out.has('lm_head.weight')) {
    const wte = out.get('transformer.wte.weight');
    if (!wte) throw new Error('the checkpoint has no wte.weight');
    out.set('lm_head.weight', wte);
  }
  return out;
}

/** Loads a Hugging Face checkpoint folder into the tfjs transformer, with its tokenizer. */
export function loadPretrained(dir: string): { model: CausalLM; tokenizer: HFTokenizer; family: Family } {
  const { config, family } = readHFConfig(dir);
  const llama = family === 'llama' ? llamaConfig(config) : undefined;
  const raw = readSafetensorsDir(dir);
  const named = llama ? llamaWeights(raw, llama) : gpt2Weights(raw);
  const weights = new Map<string, tf.Tensor>();
  try {
    for (const [name, t] of named) weights.set(name, tf.tensor(t.data, t.shape, t.dtype === 'I32' ? 'int32' : 'float32'));
    const model: CausalLM = llama ? new Llama(llama, weights) : new GPT(gpt2Config(config), weights);
    return { model, tokenizer: HFTokenizer.fromDir(dir, model.config.vocabSize), family };
  } finally {
    for (const t of weights.values()) t.dispose();
  }
}
