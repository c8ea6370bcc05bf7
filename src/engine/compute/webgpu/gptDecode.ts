/// <reference types="@webgpu/types" />
// Batched decoding of the GPT with a KV cache on WebGPU: each forward (the prompts, then one token a row) is
// 4 + 8 per layer dispatches of our kernels in one submit, and the last position's logits come back to the host.
import { GPT } from '../../model/gpt';
import { gptUnsupported, layerNormOp, matmulOp, ropeTables } from './gptOps';
import * as K from './kernels';
import { flatGroups, KernelRunner, Op, webgpuBackend } from './runner';

interface DecodeContext {
  /** rows in this batch (<= the decoder's capacity) */
  n: number;
  /** new tokens per row */
  Tq: number;
  /** positions already in the cache */
  past: number;
  /** prompt length: cache positions below it consult the key mask */
  promptLen: number;
}

/** Why the fused decoder cannot run this model here, or null when it can. */
export function fusedDecodeUnsupported(model: unknown, rows: number): string | null {
  const why = gptUnsupported(model);
  if (why) return why;
  const { nEmbd: D, blockSize: T, vocabSize: V } = (model as GPT).config;
  if (T > 1024) return `context ${T}`; // the cache holds 2T positions, a query's scores 8T bytes of workgroup memory
  const biggest = 4 * rows * T * Math.max(4 * D, V, 2 * D);
  if (biggest > webgpuBackend().device.limits.maxStorageBufferBindingSize) return `a ${biggest >> 20} MiB buffer exceeds the device's binding limit`;
  return null;
}

export class GPTDecodeWebGPU {
  private readonly r: KernelRunner<DecodeContext>;
  private readonly buf: Record<string, GPUBuffer> = {};
  private past = 0;
  private promptLen = 0;
  private n = 0;
  /**
   * Cache positions: rows share cache slots, so a short prompt's row (left padded) can outgrow the context by the
   * longest prompt's length, as it can with tfjs ops, where positions stop at the context's last.
   */
  private readonly cacheT: number;

  private constructor(private readonly model: GPT, readonly capacity: number) {
    this.r = new KernelRunner([...model.params.values()]);
    this.cacheT = 2 * model.config.blockSize;
    this.build();
  }

  /** A decoder for up to `rows` rows at a time; throws with the reason when the model or device cannot run it. */
  static async create(model: object, rows: number): Promise<GPTDecodeWebGPU> {
    const why = fusedDecodeUnsupported(model, rows);
    if (why) throw new Error(why);
    const d = new GPTDecodeWebGPU(model as GPT, rows);
    await d.r.compile();
    // one forward of one token, checked for WebGPU errors, so a decoder that cannot run on this GPU is refused here
    // (and tfjs ops sample instead) rather than giving wrong tokens
    try {
      await (await d.r.checked(() => d.start(new Int32Array(1), new Int32Array(1), new Float32Array([1]), 1, 1)));
    } catch (e) {
      d.dispose();
      throw e;
    }
    return d;
  }

  get dispatchesPerToken(): number {
    return this.r.ops.length;
  }

  /** GPU memory of the decoder's own buffers (KV cache, activations), beside the model's tfjs variables. */
  get gpuBytes(): number {
    return this.r.bytes;
  }

  /** Runs n left-padded prompts of L tokens into an empty cache; the logits [n, V] of their last positions. */
  async start(ids: Int32Array, pos: Int32Array, keyMask: Float32Array, n: number, L: number): Promise<Float32Array> {
    if (n > this.capacity) throw new Error(`${n} rows, decoder built for ${this.capacity}`);
    if (L > this.model.config.blockSize) throw new Error(`prompts of ${L} tokens > context ${this.model.config.blockSize}`);
    const mask = new Float32Array(n * this.cacheT);
    for (let r = 0; r < n; r++) mask.set(keyMask.subarray(r * L, r * L + L), r * this.cacheT);
    this.r.device.queue.writeBuffer(this.buf.keyMask, 0, mask.buffer as ArrayBuffer);
    this.n = n;
    this.past = 0;
    this.promptLen = L;
    return this.forward(ids, pos, L);
  }

  /** One new token a row (every row of the batch, finished or not) at its own position; the next logits [n, V]. */
  async next(ids: ArrayLike<number>, pos: ArrayLike<number>): Promise<Float32Array> {
    if (this.past + 1 > this.cacheT) throw new Error('the cache is full');
    return this.forward(Int32Array.from(ids), Int32Array.from(pos), 1);
  }

  /**
   * One next-token forward of n rows with `past` positions in the cache, each dispatch timed on the GPU (its own
   * pass each); null without timestamp queries. For the bench: a token's GPU time against its time in sample().
   */
  async profileToken(n: number, past: number): Promise<{ kernel: string; ms: number }[] | null> {
    if (n > this.capacity || past + 1 > this.cacheT) throw new Error(`cannot profile ${n} rows at position ${past}`);
    this.r.syncTfjs();
    return this.r.profile({ n, Tq: 1, past, promptLen: 0 });
  }

  dispose(): void {
    this.r.dispose();
  }

  private async forward(ids: Int32Array, pos: Int32Array, Tq: number): Promise<Float32Array> {
    const { vocabSize: V } = this.model.config;
    this.r.syncTfjs();
    const q = this.r.device.queue;
    q.writeBuffer(this.buf.ids, 0, ids.buffer as ArrayBuffer, ids.byteOffset, this.n * Tq * 4);
    q.writeBuffer(this.buf.pos, 0, pos.buffer as ArrayBuffer, pos.byteOffset, this.n * Tq * 4);
    const enc = this.r.encode({ n: this.n, Tq, past: this.past, promptLen: this.promptLen });
    const bytes = this.n * V * 4;
    const staging = this.r.device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    enc.copyBufferToBuffer(this.buf.logits, 0, staging, 0, bytes);
    q.submit([enc.finish()]);
    this.past += Tq;
    await staging.mapAsync(GPUMapMode.READ);
    const out = new Float32Array(staging.getMappedRange().slice(0));
    staging.destroy();
    return out;
  }

  private build(): void {
    const { vocabSize: V, nLayer: L, nEmbd: D, nHead: H, blockSize: maxT, pos } = this.model.config;
    const F = 4 * D, hd = D / H, R = this.capacity, rows = R * maxT, cacheT = this.cacheT;
    const rope = pos === 'rope';
    const names = [...this.model.params.keys()];
    const param = (name: string) => this.r.tensor(names.indexOf(name));
    const a = (n: number) => this.r.buffer(n);
    const b = this.buf;
    Object.assign(b, {
      ids: a(rows), pos: a(rows), keyMask: a(R * cacheT), x: a(rows * D), mid: a(rows * D), ln: a(rows * D), mean: a(rows), rstd: a(rows),
      qkv: a(rows * 3 * D), Q: a(rows * D), y: a(rows * D), pre: a(rows * F), xl: a(R * D), lnl: a(R * D), logits: a(R * V),
    });
    Object.assign(b, ropeTables(this.r, this.model.config));
    const op = (o: Op<DecodeContext>) => this.r.add(o);
    const tokens = (c: DecodeContext) => c.n * c.Tq;
    const mm = (v: Partial<K.MatmulVariant>, bind: Op<DecodeContext>['bind'], dims: (c: DecodeContext) => [number, number, number]) =>
      op(matmulOp(v, bind, dims));
    const layerNorm = (X: GPUBuffer, name: string, Y: GPUBuffer, count: (c: DecodeContext) => number) =>
      op(layerNormOp(param, name, X, Y, b.mean, b.rstd, D, count));

    op({
      kernel: K.embedAt(!rope), bind: [b.ids, b.pos, param('transformer.wte.weight'), ...(rope ? [] : [param('transformer.wpe.weight')]), b.x],
      uniforms: (c) => [tokens(c), D], groups: (c) => flatGroups(tokens(c) * D),
    });
    for (let l = 0; l < L; l++) {
      const p = `transformer.h.${l}.`;
      const Kc = a(R * H * cacheT * hd), Vc = a(R * H * cacheT * hd);
      layerNorm(b.x, p + 'ln_1', b.ln, tokens);
      mm({ bias: true }, [b.ln, param(p + 'attn.c_attn.weight'), param(p + 'attn.c_attn.bias'), b.qkv], (c) => [tokens(c), 3 * D, D]);
      op({
        kernel: K.qkvToCache(rope), bind: [b.qkv, b.pos, b.cos, b.sin, b.Q, Kc, Vc],
        uniforms: (c) => [tokens(c), D, c.Tq, H, hd, c.past, cacheT], groups: (c) => flatGroups(tokens(c) * D),
      });
      op({
        kernel: K.attentionCached(cacheT, hd), bind: [b.Q, Kc, Vc, b.keyMask, b.y],
        uniforms: (c) => [c.Tq, H, c.past, cacheT, c.promptLen, 1 / Math.sqrt(hd)], groups: (c) => [c.Tq, c.n * H],
      });
      mm({ bias: true, resid: true }, [b.y, param(p + 'attn.c_proj.weight'), param(p + 'attn.c_proj.bias'), b.x, b.mid], (c) => [tokens(c), D, D]);
      layerNorm(b.mid, p + 'ln_2', b.ln, tokens);
      mm({ bias: true }, [b.ln, param(p + 'mlp.c_fc.weight'), param(p + 'mlp.c_fc.bias'), b.pre], (c) => [tokens(c), F, D]);
      mm({ geluA: true, bias: true, resid: true }, [b.pre, param(p + 'mlp.c_proj.weight'), param(p + 'mlp.c_proj.bias'), b.mid, b.x], (c) => [tokens(c), D, F]);
    }
    op({ kernel: K.takeLast, bind: [b.x, b.xl], uniforms: (c) => [c.n, c.Tq, D], groups: (c) => flatGroups(c.n * D) });
    layerNorm(b.xl, 'transformer.ln_f', b.lnl, (c) => c.n);
    mm({ transB: true }, [b.lnl, param('lm_head.weight'), b.logits], (c) => [c.n, V, D]);
  }
}
