// Checkpoints: tensors in safetensors (8-byte little-endian header length, JSON header, raw data), config in JSON.
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { writeFileAtomic, writeJsonAtomic } from '../store/jsonl';
import { CausalLM, GPT, GPTConfig } from './gpt';
import { Llama, LlamaConfig } from './llama';
import { HFTokenizer } from './hfTokenizer';
import { CharTokenizer } from './tokenizer';

export type Dtype = 'F32' | 'F16' | 'BF16' | 'I32';
interface HeaderEntry {
  dtype: Dtype;
  shape: number[];
  data_offsets: [number, number];
}

export interface RawTensor {
  dtype: Dtype;
  shape: number[];
  data: Float32Array | Int32Array;
}

/** Serialises named float32/int32 arrays to safetensors bytes (keys sorted, 8-byte aligned as the spec suggests). */
export function encodeSafetensors(tensors: Map<string, RawTensor>, metadata: Record<string, string> = {}): Buffer {
  const names = [...tensors.keys()].sort();
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const n of names) {
    const t = tensors.get(n)!;
    const bytes = t.data.byteLength;
    header[n] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((json.length + 8) % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf8');
  const out = Buffer.alloc(8 + headerBytes.length + offset);
  out.writeBigUInt64LE(BigInt(headerBytes.length), 0);
  headerBytes.copy(out, 8);
  let pos = 8 + headerBytes.length;
  for (const n of names) {
    const t = tensors.get(n)!;
    Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).copy(out, pos);
    pos += t.data.byteLength;
  }
  return out;
}

/** Reads safetensors bytes; F16 and BF16 are widened to float32 (tfjs computes in float32). */
export function decodeSafetensors(buf: Buffer, file = '<buffer>'): { tensors: Map<string, RawTensor>; metadata: Record<string, string> } {
  if (buf.length < 8) throw new Error(`${file}: not a safetensors file (too short)`);
  const n = Number(buf.readBigUInt64LE(0));
  if (n > buf.length - 8) throw new Error(`${file}: safetensors header length ${n} exceeds the file`);
  let header: Record<string, HeaderEntry | Record<string, string>>;
  try {
    header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
  } catch (e) {
    throw new Error(`${file}: safetensors header is not JSON (${(e as Error).message})`);
  }
  const base = 8 + n;
  const tensors = new Map<string, RawTensor>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') { metadata = entry as Record<string, string>; continue; }
    const { dtype, shape, data_offsets: [a, b] } = entry as HeaderEntry;
    const bytes = buf.subarray(base + a, base + b);
    const count = shape.reduce((x, y) => x * y, 1);
    let data: Float32Array | Int32Array;
    if (dtype === 'F32') data = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    else if (dtype === 'I32') data = new Int32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    else if (dtype === 'F16' || dtype === 'BF16') {
      data = new Float32Array(count);
      for (let i = 0; i < count; i++) {
        const h = bytes.readUInt16LE(2 * i);
        data[i] = dtype === 'BF16' ? bf16ToFloat(h) : f16ToFloat(h);
      }
    } else throw new Error(`${file}: tensor ${name} has unsupported dtype ${dtype}`);
    if (data.length !== count) throw new Error(`${file}: tensor ${name} holds ${data.length} values, shape [${shape}] needs ${count}`);
    tensors.set(name, { dtype: dtype === 'I32' ? 'I32' : 'F32', shape, data });
  }
  return { tensors, metadata };
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
function bf16ToFloat(h: number): number {
  u32[0] = h << 16;
  return f32[0];
}
function f16ToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * Math.pow(2, -14) * (m / 1024);
  if (e === 31) return m ? NaN : s * Infinity;
  return s * Math.pow(2, e - 15) * (1 + m / 1024);
}

/** model.json beside model.safetensors. */
export type ModelJson = {
  /** `hf`: a Hugging Face tokenizer.json beside the weights (a pretrained checkpoint's). */
  tokenizer: { type: 'char'; chars: string[] } | { type: 'hf'; file: string };
  // the tensors keep the model's own names: GPT-2's (star-gpt) or Hugging Face Llama's (star-llama)
} & ({ architecture: 'star-gpt'; config: GPTConfig } | { architecture: 'star-llama'; config: LlamaConfig });

export async function saveModel(dir: string, model: CausalLM, tokenizer: CharTokenizer | HFTokenizer): Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  const tensors = new Map<string, RawTensor>();
  // read back asynchronously: a GPU backend has no synchronous read in Node
  for (const [name, v] of model.params) tensors.set(name, { dtype: 'F32', shape: v.shape, data: (await v.data()) as Float32Array });
  writeFileAtomic(path.join(dir, 'model.safetensors'), encodeSafetensors(tensors, { format: 'pt' }));
  if (tokenizer instanceof HFTokenizer) tokenizer.saveTo(dir);
  const json: ModelJson = model instanceof Llama
    ? { architecture: 'star-llama', config: model.config, tokenizer: tokenizer.toJSON() }
    : { architecture: 'star-gpt', config: (model as GPT).config, tokenizer: tokenizer.toJSON() };
  writeJsonAtomic(path.join(dir, 'model.json'), json);
}

export function hasModel(dir: string): boolean {
  return fs.existsSync(path.join(dir, 'model.safetensors')) && fs.existsSync(path.join(dir, 'model.json'));
}

/** A checkpoint with the character tokenizer (the embedded model made from P). */
export function loadModel(dir: string): { model: GPT; tokenizer: CharTokenizer } {
  const r = loadCheckpoint(dir);
  if (r.tokenizer instanceof CharTokenizer && r.model instanceof GPT) return { model: r.model, tokenizer: r.tokenizer };
  r.model.dispose();
  throw new Error(`${dir}: the checkpoint has a Hugging Face tokenizer (use loadCheckpoint)`);
}

/** Any checkpoint of the embedded engine: character tokenizer, or a pretrained model's Hugging Face one. */
export function loadCheckpoint(dir: string): { model: CausalLM; tokenizer: CharTokenizer | HFTokenizer } {
  const json = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8')) as ModelJson;
  const file = path.join(dir, 'model.safetensors');
  const { tensors } = decodeSafetensors(fs.readFileSync(file), file);
  const weights = new Map<string, tf.Tensor>();
  for (const [name, t] of tensors) weights.set(name, tf.tensor(t.data, t.shape, t.dtype === 'I32' ? 'int32' : 'float32'));
  try {
    const tokenizer = json.tokenizer.type === 'hf' ? HFTokenizer.fromDir(dir, json.config.vocabSize) : new CharTokenizer(json.tokenizer.chars);
    return { model: json.architecture === 'star-llama' ? new Llama(json.config, weights) : new GPT(json.config, weights), tokenizer };
  } finally {
    for (const t of weights.values()) t.dispose();
  }
}
