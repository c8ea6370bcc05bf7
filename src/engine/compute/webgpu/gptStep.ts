/// <reference types="@webgpu/types" />
// The GPT's whole training step on WebGPU as our own kernels (kernels.ts; 166 dispatches for the demo's 3-layer model),
// encoded into one compute pass and one queue submit, instead of the ~2,000 kernels tfjs issues for it, each with its
// own uniforms and bind group.
// The parameters and the AdamW moments stay tf.Variables of the tfjs webgpu backend: this step reads and updates
// their GPU buffers in place, so checkpoints, sampling and the resumable train state see the same tensors.
import * as tf from '@tensorflow/tfjs-core';
import { GPT } from '../../model/gpt';
import { gptUnsupported, layerNormOp, matmulOp, ropeTables } from './gptOps';
import * as K from './kernels';
import { flatGroups, KernelRunner, Op, rowGroups, webgpuBackend } from './runner';

/** A training batch on the host: B rows of T tokens, targets, and a weight per position (1 where the loss counts). */
export interface HostBatch {
  B: number;
  T: number;
  idx: Int32Array;
  targets: Int32Array;
  weights: Float32Array;
}

export interface StepHyper {
  /** lr * sqrt(1 - beta2^t) / (1 - beta1^t) */
  stepSize: number;
  /** lr * weightDecay, applied to the 2-D parameters only */
  decay: number;
  clip: number;
  seed: number;
}

/** A loss still on the GPU: read it when the queue has moved on. */
export interface PendingLoss {
  data(): Promise<ArrayLike<number>>;
  dispose(): void;
}

/** At most this many partial sums of the embedding gradient, each over a chunk of the batch's positions. */
const EMBED_CHUNKS = 64;

/** Why the fused step cannot run this model here, or null when it can. */
export function fusedStepUnsupported(model: unknown, batchSize: number): string | null {
  const why = gptUnsupported(model);
  if (why) return why;
  const { vocabSize: V, nEmbd: D, nHead: H, blockSize: T } = (model as GPT).config;
  if (V > 4096) return `vocabulary of ${V} (the embedding gradient kernel is for character vocabularies)`;
  if (T > 2048) return `context ${T}`;
  if (Math.max(V, T) * D > 65535 * 256) return 'embedding tables too large for one dispatch row'; // embedBackward's x
  const limit = webgpuBackend().device.limits.maxStorageBufferBindingSize;
  const biggest = 4 * Math.max(batchSize * H * T * T, batchSize * T * Math.max(4 * D, V), EMBED_CHUNKS * V * D);
  if (biggest > limit) return `a ${biggest >> 20} MiB buffer exceeds the device's binding limit`;
  return null;
}

/** What a run of the step's ops depends on. */
interface StepContext {
  T: number;
  W: number;
  h: StepHyper;
}

export class GPTStepWebGPU {
  private readonly r: KernelRunner<StepContext>;
  private readonly offsets: number[] = [];
  private readonly gradSize: number;
  private readonly buf: Record<string, GPUBuffer> = {};
  private readonly perLayer: Record<string, GPUBuffer>[] = [];
  private readonly staging: GPUBuffer[] = [];
  /** ops[0, optimizerFrom) are forward and backward, the rest the optimizer */
  private optimizerFrom = 0;

  private constructor(
    private readonly model: GPT,
    private readonly B: number,
    private readonly vars: tf.Variable[],
    m: tf.Variable[],
    s: tf.Variable[],
    private readonly decayed: boolean[],
    private readonly betas: { beta1: number; beta2: number; eps: number },
  ) {
    this.r = new KernelRunner([...vars, ...m, ...s]);
    let off = 0;
    for (const v of vars) {
      this.offsets.push(off);
      off += Math.ceil(v.size / 64) * 64; // 256-byte aligned: each parameter's gradient is bound at its offset
    }
    this.gradSize = off;
    this.allocate();
    this.build();
  }

  get dispatchesPerStep(): number {
    return this.r.ops.length;
  }

  /** GPU memory of the step's own buffers (activations, gradients), beside the tfjs variables. */
  get gpuBytes(): number {
    return this.r.bytes;
  }

  /**
   * A fused step for `model` (its parameters in `vars` order, with AdamW moments m and s), or the reason there is
   * none. Pipelines are compiled here, so WGSL or validation errors surface as a rejected promise.
   */
  static async create(
    model: object, batchSize: number, vars: tf.Variable[], m: tf.Variable[], s: tf.Variable[], decayed: boolean[],
    betas: { beta1: number; beta2: number; eps: number },
  ): Promise<GPTStepWebGPU> {
    const why = fusedStepUnsupported(model, batchSize);
    if (why) throw new Error(why);
    const params = [...(model as GPT).params.values()];
    if (vars.length !== params.length || vars.some((v, i) => v !== params[i])) throw new Error('vars must be the model\'s parameters, in order');
    const step = new GPTStepWebGPU(model as GPT, batchSize, vars, m, s, decayed, betas);
    await step.r.compile();
    return step;
  }

  /** Forward, backward and AdamW for one batch; the loss comes back later. */
  step(batch: HostBatch, h: StepHyper): PendingLoss {
    return this.run(batch, h, true);
  }

  /** step(), checked for device errors: rejects (nothing applied) where the kernels do not run on this GPU. */
  checkedStep(batch: HostBatch, h: StepHyper): Promise<PendingLoss> {
    return this.r.checked(() => this.step(batch, h));
  }

  /** Forward and backward only: the loss and each parameter's gradient (tests compare them with tfjs's). */
  async lossAndGrads(batch: HostBatch, seed = 0): Promise<{ loss: number; grads: Float32Array[] }> {
    const pending = this.run(batch, { stepSize: 0, decay: 0, clip: 1, seed }, false);
    const loss = (await pending.data())[0];
    pending.dispose();
    const flat = await this.r.read(this.buf.G, this.gradSize);
    return { loss, grads: this.vars.map((v, i) => flat.slice(this.offsets[i], this.offsets[i] + v.size)) };
  }

  /**
   * One step with every dispatch timed on the GPU: milliseconds per kernel (all its dispatches), most first, with the
   * number of dispatches; null without timestamp queries. It is a real step: the parameters move.
   */
  async profile(batch: HostBatch, h: StepHyper): Promise<{ kernel: string; ms: number; calls: number }[] | null> {
    this.r.syncTfjs();
    const W = this.upload(batch);
    const times = await this.r.profile({ T: batch.T, W, h });
    this.r.invalidateTfjs();
    if (!times) return null;
    const by = new Map<string, { kernel: string; ms: number; calls: number }>();
    for (const { kernel, ms } of times) {
      const e = by.get(kernel) ?? { kernel, ms: 0, calls: 0 };
      e.ms += ms;
      e.calls++;
      by.set(kernel, e);
    }
    return [...by.values()].sort((a, b) => b.ms - a.ms);
  }

  dispose(): void {
    this.r.dispose();
    for (const b of this.staging) b.destroy();
  }

  /** Writes the batch to the GPU; returns the loss's denominator, max(sum of weights, 1). */
  private upload(batch: HostBatch): number {
    if (batch.B !== this.B) throw new Error(`batch of ${batch.B} rows, step built for ${this.B}`);
    if (batch.T > this.model.config.blockSize) throw new Error(`batch of ${batch.T} positions > context ${this.model.config.blockSize}`);
    const N = this.B * batch.T;
    const q = this.r.device.queue;
    q.writeBuffer(this.buf.idx, 0, batch.idx.buffer as ArrayBuffer, batch.idx.byteOffset, N * 4);
    q.writeBuffer(this.buf.targets, 0, batch.targets.buffer as ArrayBuffer, batch.targets.byteOffset, N * 4);
    q.writeBuffer(this.buf.weights, 0, batch.weights.buffer as ArrayBuffer, batch.weights.byteOffset, N * 4);
    let W = 0;
    for (let i = 0; i < N; i++) W += batch.weights[i];
    return Math.max(W, 1);
  }

  // -------------------------------------------------------------------------------------------------------------

  private run(batch: HostBatch, h: StepHyper, update: boolean): PendingLoss {
    this.r.syncTfjs();
    const W = this.upload(batch);
    const enc = this.r.encode({ T: batch.T, W, h }, 0, update ? this.r.ops.length : this.optimizerFrom);
    const staging = this.staging.pop() ?? this.r.device.createBuffer({ size: 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    enc.copyBufferToBuffer(this.buf.loss, 0, staging, 0, 4);
    this.r.device.queue.submit([enc.finish()]);
    if (update) this.r.invalidateTfjs();
    let done = false;
    return {
      data: async () => {
        await staging.mapAsync(GPUMapMode.READ);
        const out = new Float32Array(staging.getMappedRange().slice(0));
        staging.unmap();
        return out;
      },
      dispose: () => {
        if (done) return;
        done = true;
        if (staging.mapState === 'unmapped') this.staging.push(staging);
      },
    };
  }

  private allocate(): void {
    const { vocabSize: V, nLayer: L, nEmbd: D, nHead: H, blockSize: T } = this.model.config;
    const N = this.B * T, F = 4 * D;
    const chunks = Math.ceil(N / K.COL_CHUNK);
    const a = (n: number) => this.r.buffer(n);
    Object.assign(this.buf, {
      idx: a(N), targets: a(N), weights: a(N), lnf: a(N * D), meanF: a(N), rstdF: a(N), logits: a(N * V), lossRows: a(N),
      loss: a(1), qkv: a(N * 3 * D), dres: a(N * D), dbr: a(N * D), dX: a(N * D), dY: a(N * D), dpre: a(N * F),
      dQ: a(N * D), dK: a(N * D), dV: a(N * D), dS: a(this.B * H * T * T), partial: a(2 * chunks * Math.max(F, 3 * D, V)),
      G: a(this.gradSize), splits: a(512 * 64 * 64), embedPartial: a(EMBED_CHUNKS * V * D), normPartial: a(Math.ceil(this.gradSize / K.NORM_CHUNK)), normSq: a(1), res0: a(N * D),
    });
    Object.assign(this.buf, ropeTables(this.r, this.model.config));
    for (let l = 0; l < L; l++)
      this.perLayer.push({
        ln1: a(N * D), mean1: a(N), rstd1: a(N), Q: a(N * D), K: a(N * D), V: a(N * D), P: a(this.B * H * T * T),
        atty: a(N * D), mid: a(N * D), ln2: a(N * D), mean2: a(N), rstd2: a(N), pre: a(N * F), out: a(N * D),
      });
  }

  private build(): void {
    const { vocabSize: V, nLayer: L, nEmbd: D, nHead: H, blockSize: maxT, dropout, pos } = this.model.config;
    const F = 4 * D, hd = D / H, B = this.B, keep = 1 - dropout;
    const rope = pos === 'rope';
    const names = [...this.model.params.keys()];
    const nv = this.vars.length;
    const param = (name: string) => this.r.tensor(names.indexOf(name));
    const off = (name: string) => this.offsets[names.indexOf(name)];
    const grad = (name: string): GPUBufferBinding =>
      ({ buffer: this.buf.G, offset: off(name) * 4, size: Math.ceil(this.vars[names.indexOf(name)].size / 64) * 256 });
    const b = this.buf;
    const op = (o: Op<StepContext>) => this.r.add(o);
    const chunks = (T: number) => Math.ceil((B * T) / K.COL_CHUNK);
    const mm = (v: Partial<K.MatmulVariant>, bind: Op<StepContext>['bind'], dims: (T: number) => [number, number, number], site = 0) =>
      op(matmulOp(v, bind, (c) => dims(c.T), (c) => [c.h.seed, site, keep]));
    /**
     * A weight gradient dW[M, N] = A^T dY over all B*T positions, split along them into enough workgroups to fill
     * a GPU (a 128 x 384 gradient is only 12 tiles), then the splits summed into the gradient buffer.
     */
    const weightGrad = (v: Partial<K.MatmulVariant>, A: GPUBuffer, dY: GPUBuffer, name: string, M: number, N: number) => {
      const tiles = Math.ceil(M / 64) * Math.ceil(N / 64);
      const splits = Math.max(1, Math.min(Math.ceil(256 / tiles), Math.ceil((B * maxT) / 32)));
      const chunk = (T: number) => Math.ceil((B * T) / splits / 16) * 16;
      if (splits === 1) return mm({ transA: true, ...v }, [A, dY, grad(name)], (T) => [M, N, B * T]);
      op({
        ...matmulOp({ transA: true, splitK: true, ...v }, [A, dY, b.splits], (c) => [M, N, B * c.T]),
        uniforms: (c) => [M, N, B * c.T, 0, 0, 1, chunk(c.T)],
        groups: (c) => [Math.ceil(N / 64), Math.ceil(M / 64), Math.ceil((B * c.T) / chunk(c.T))],
      });
      op({ kernel: K.sumSplits, bind: [b.splits, grad(name)], uniforms: (c) => [M * N, Math.ceil((B * c.T) / chunk(c.T))], groups: () => flatGroups(M * N) });
    };
    const layerNorm = (X: GPUBuffer, name: string, Y: GPUBuffer, mean: GPUBuffer, rstd: GPUBuffer) =>
      op(layerNormOp(param, name, X, Y, mean, rstd, D, (c: StepContext) => B * c.T));
    const layerNormBack = (X: GPUBuffer, name: string, mean: GPUBuffer, rstd: GPUBuffer, dY: GPUBuffer, accumulate: boolean) => {
      op({ kernel: K.layerNormBackward(accumulate), bind: [X, param(name + '.weight'), mean, rstd, dY, b.dres], uniforms: (c) => [B * c.T, D], groups: (c) => rowGroups(B * c.T) });
      op({ kernel: K.colSumPartial(true), bind: [X, mean, rstd, dY, b.partial], uniforms: (c) => [B * c.T, D, chunks(c.T)], groups: (c) => [Math.ceil(D / 64), chunks(c.T)] });
      op({ kernel: K.colSumFinish(true), bind: [b.partial, b.G], uniforms: (c) => [D, chunks(c.T), off(name + '.weight'), off(name + '.bias')], groups: () => [Math.ceil(D / 64), 1] });
    };
    const biasGrad = (X: GPUBuffer, C: number, name: string) => {
      op({ kernel: K.colSumPartial(false), bind: [X, b.partial], uniforms: (c) => [B * c.T, C, chunks(c.T)], groups: (c) => [Math.ceil(C / 64), chunks(c.T)] });
      op({ kernel: K.colSumFinish(false), bind: [b.partial, b.G], uniforms: (c) => [C, chunks(c.T), off(name), 0], groups: () => [Math.ceil(C / 64), 1] });
    };
    /** the gradient of a dropout branch: dres through the mask (or dres itself without dropout) */
    const branch = (site: number): GPUBuffer => {
      if (keep >= 1) return b.dres;
      op({ kernel: K.dropoutMask, bind: [b.dres, b.dbr], uniforms: (c) => [B * c.T * D, c.h.seed, site, keep], groups: (c) => flatGroups(B * c.T * D) });
      return b.dbr;
    };
    const scale = 1 / Math.sqrt(hd);
    const res = (l: number) => (l === 0 ? b.res0 : this.perLayer[l - 1].out);

    // ---- forward
    op({
      kernel: K.embedForward(!rope),
      bind: [b.idx, param('transformer.wte.weight'), ...(rope ? [] : [param('transformer.wpe.weight')]), b.res0],
      uniforms: (c) => [B * c.T, D, c.T, c.h.seed, 0, keep], groups: (c) => flatGroups(B * c.T * D),
    });
    for (let l = 0; l < L; l++) {
      const p = `transformer.h.${l}.`, a = this.perLayer[l];
      layerNorm(res(l), p + 'ln_1', a.ln1, a.mean1, a.rstd1);
      mm({ bias: true }, [a.ln1, param(p + 'attn.c_attn.weight'), param(p + 'attn.c_attn.bias'), b.qkv], (T) => [B * T, 3 * D, D]);
      op({ kernel: K.qkvSplit(rope), bind: [b.qkv, b.cos, b.sin, a.Q, a.K, a.V], uniforms: (c) => [B * c.T, D, c.T, H, hd], groups: (c) => flatGroups(B * c.T * D) });
      op({ kernel: K.attentionForward(maxT, hd), bind: [a.Q, a.K, a.V, a.P, a.atty], uniforms: (c) => [c.T, H, scale], groups: (c) => [c.T, B * H] });
      mm({ bias: true, resid: true, dropout: keep < 1 }, [a.atty, param(p + 'attn.c_proj.weight'), param(p + 'attn.c_proj.bias'), res(l), a.mid], (T) => [B * T, D, D], 1 + 2 * l);
      layerNorm(a.mid, p + 'ln_2', a.ln2, a.mean2, a.rstd2);
      mm({ bias: true }, [a.ln2, param(p + 'mlp.c_fc.weight'), param(p + 'mlp.c_fc.bias'), a.pre], (T) => [B * T, F, D]);
      mm({ geluA: true, bias: true, resid: true, dropout: keep < 1 }, [a.pre, param(p + 'mlp.c_proj.weight'), param(p + 'mlp.c_proj.bias'), a.mid, a.out], (T) => [B * T, D, F], 2 + 2 * l);
    }
    layerNorm(res(L), 'transformer.ln_f', b.lnf, b.meanF, b.rstdF);
    mm({ transB: true }, [b.lnf, param('lm_head.weight'), b.logits], (T) => [B * T, V, D]);
    op({ kernel: K.crossEntropy, bind: [b.targets, b.weights, b.logits, b.lossRows], uniforms: (c) => [B * c.T, V, c.W], groups: (c) => rowGroups(B * c.T) });
    op({ kernel: K.sumAll, bind: [b.lossRows, b.loss], uniforms: (c) => [B * c.T, 1 / c.W], groups: () => [1, 1] });

    // ---- backward (the logits buffer now holds their gradient)
    mm({}, [b.logits, param('lm_head.weight'), b.dX], (T) => [B * T, D, V]);
    weightGrad({}, b.logits, b.lnf, 'lm_head.weight', V, D);
    layerNormBack(res(L), 'transformer.ln_f', b.meanF, b.rstdF, b.dX, false);
    for (let l = L - 1; l >= 0; l--) {
      const p = `transformer.h.${l}.`, a = this.perLayer[l];
      // MLP: out = mid + dropout(gelu(pre) W2 + b2), pre = ln2 W1 + b1
      let br = branch(2 + 2 * l);
      mm({ transB: true, geluGradOut: true }, [br, param(p + 'mlp.c_proj.weight'), a.pre, b.dpre], (T) => [B * T, F, D]);
      weightGrad({ geluA: true }, a.pre, br, p + 'mlp.c_proj.weight', F, D);
      biasGrad(br, D, p + 'mlp.c_proj.bias');
      weightGrad({}, a.ln2, b.dpre, p + 'mlp.c_fc.weight', D, F);
      biasGrad(b.dpre, F, p + 'mlp.c_fc.bias');
      mm({ transB: true }, [b.dpre, param(p + 'mlp.c_fc.weight'), b.dX], (T) => [B * T, D, F]);
      layerNormBack(a.mid, p + 'ln_2', a.mean2, a.rstd2, b.dX, true);
      // attention: mid = res + dropout(atty Wo + bo)
      br = branch(1 + 2 * l);
      mm({ transB: true }, [br, param(p + 'attn.c_proj.weight'), b.dY], (T) => [B * T, D, D]);
      weightGrad({}, a.atty, br, p + 'attn.c_proj.weight', D, D);
      biasGrad(br, D, p + 'attn.c_proj.bias');
      op({ kernel: K.attentionBackwardQuery(maxT, hd), bind: [a.K, a.V, a.P, b.dY, b.dS, b.dQ], uniforms: (c) => [c.T, H, scale], groups: (c) => [c.T, B * H] });
      op({ kernel: K.attentionBackwardKey(hd), bind: [a.Q, a.P, b.dS, b.dY, b.dK, b.dV], uniforms: (c) => [c.T, H, scale], groups: (c) => [c.T, B * H] });
      op({ kernel: K.qkvMerge(rope), bind: [b.dQ, b.dK, b.dV, b.cos, b.sin, b.qkv], uniforms: (c) => [B * c.T, D, c.T, H, hd], groups: (c) => flatGroups(B * c.T * D) });
      weightGrad({}, a.ln1, b.qkv, p + 'attn.c_attn.weight', D, 3 * D);
      biasGrad(b.qkv, 3 * D, p + 'attn.c_attn.bias');
      mm({ transB: true }, [b.qkv, param(p + 'attn.c_attn.weight'), b.dX], (T) => [B * T, D, 3 * D]);
      layerNormBack(res(l), p + 'ln_1', a.mean1, a.rstd1, b.dX, true);
    }
    const chunkRows = (T: number) => Math.max(16, Math.ceil((B * T) / EMBED_CHUNKS));
    const embedChunks = (T: number) => Math.ceil((B * T) / chunkRows(T));
    op({
      kernel: K.embedBackward(!rope), bind: [b.idx, branch(0), b.embedPartial, b.G],
      uniforms: (c) => [B * c.T, D, c.T, V, maxT, rope ? 0 : off('transformer.wpe.weight'), chunkRows(c.T)],
      groups: (c) => [Math.ceil((Math.max(V, rope ? 0 : maxT) * D) / 256), embedChunks(c.T)],
    });
    op({ kernel: K.sumSplits, bind: [b.embedPartial, grad('transformer.wte.weight')], uniforms: (c) => [V * D, embedChunks(c.T)], groups: () => flatGroups(V * D) });

    // ---- optimizer: global gradient norm, then AdamW per parameter in place
    this.optimizerFrom = this.r.ops.length;
    const normGroups = Math.ceil(this.gradSize / K.NORM_CHUNK);
    op({ kernel: K.squareSumPartial, bind: [b.G, b.normPartial], uniforms: () => [this.gradSize], groups: () => [normGroups, 1] });
    op({ kernel: K.sumAll, bind: [b.normPartial, b.normSq], uniforms: () => [normGroups, 1], groups: () => [1, 1] });
    this.vars.forEach((v, i) => op({
      kernel: K.adamw,
      bind: [b.G, b.normSq, this.r.tensor(i), this.r.tensor(nv + i), this.r.tensor(2 * nv + i)],
      uniforms: (c) => [this.offsets[i], v.size, this.betas.beta1, this.betas.beta2, this.betas.eps, c.h.stepSize,
        this.decayed[i] ? c.h.decay : 0, c.h.clip],
      groups: () => flatGroups(v.size),
    }));
  }
}
