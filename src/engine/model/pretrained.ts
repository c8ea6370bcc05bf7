// Pretrained weights for the embedded engine: a local Hugging Face checkpoint folder (config.json, model.safetensors,
// tokenizer.json) loaded into the tfjs transformer. GPT-2 family: the parameter names and Conv1D [in, out] layouts
// are GPT-2's already, so tensors map one to one (`transformer.` prefix optional, a tied lm_head taken from wte).
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { decodeSafetensors, RawTensor } from './checkpoint';
import { GPT, GPTConfig } from './gpt';
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
}

export type Family = 'gpt2';

/** Reads config.json and names the family; anything the tfjs transformer cannot run exactly is an error here. */
export function readHFConfig(dir: string): { config: HFConfig; family: Family } {
  const file = path.join(dir, 'config.json');
  if (!fs.existsSync(file)) throw new Error(`${file}: not found (a Hugging Face checkpoint folder has config.json, model.safetensors and tokenizer.json)`);
  const config = JSON.parse(fs.readFileSync(file, 'utf8')) as HFConfig;
  const type = config.model_type ?? '';
  if (type !== 'gpt2') throw new Error(`${file}: model_type "${type}" is not supported by the embedded engine (gpt2 is)`);
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
export function loadPretrained(dir: string): { model: GPT; tokenizer: HFTokenizer; family: Family } {
  const { config, family } = readHFConfig(dir);
  const cfg = gpt2Config(config);
  const weights = new Map<string, tf.Tensor>();
  try {
    for (const [name, t] of gpt2Weights(readSafetensorsDir(dir))) weights.set(name, tf.tensor(t.data, t.shape, t.dtype === 'I32' ? 'int32' : 'float32'));
    const model = new GPT(cfg, weights);
    return { model, tokenizer: HFTokenizer.fromDir(dir, cfg.vocabSize), family };
  } finally {
    for (const t of weights.values()) t.dispose();
  }
}
