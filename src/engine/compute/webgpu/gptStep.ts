/// <reference types="@webgpu/types" />
// The GPT's whole training step on WebGPU as ~30 + 21 per layer dispatches of our own kernels (kernels.ts), encoded
// into one compute pass and one queue submit, instead of ~800 tfjs ops each with its own uniforms and bind group.
// The parameters and the AdamW moments stay tf.Variables of the tfjs webgpu backend: this step reads and updates
// their GPU buffers in place, so checkpoints, sampling and the resumable train state see the same tensors.
import * as tf from '@tensorflow/tfjs-core';
import { GPT, ropeTableValues } from '../../model/gpt';
import * as K from './kernels';

/** What this file needs of tfjs-webgpu's backend (WebGPUBackend in @tensorflow/tfjs-backend-webgpu). */
interface WebGPUBackendLike {
  device: GPUDevice;
  tensorMap: { get(dataId: object): { resource: unknown; values: unknown } };
  uploadToGPU(dataId: object): void;
  commandEncoder: GPUCommandEncoder | null;
  endComputePassEncoder(): void;
  submitQueue(): void;
}

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

/** Why the fused step cannot run this model here, or null when it can. */
export function fusedStepUnsupported(model: unknown, batchSize: number): string | null {
  if (!(model instanceof GPT)) return 'not the embedded GPT';
  if (tf.getBackend() !== 'webgpu') return 'backend is not webgpu';
  const { vocabSize: V, nEmbd: D, nHead: H, blockSize: T } = model.config;
  const hd = D / H;
  if (V > 4096) return `vocabulary of ${V} (the embedding gradient kernel is for character vocabularies)`;
  if (hd > 256 || hd % 2 !== 0) return `head size ${hd}`;
  if (T > 2048) return `context ${T}`;
  const limit = (tf.backend() as unknown as WebGPUBackendLike).device.limits.maxStorageBufferBindingSize;
  const biggest = 4 * Math.max(batchSize * H * T * T, batchSize * T * Math.max(4 * D, V));
  if (biggest > limit) return `a ${biggest >> 20} MiB buffer exceeds the device's binding limit`;
  return null;
}

interface Op {
  kernel: K.KernelDef;
  bind: (GPUBuffer | GPUBufferBinding)[];
  uniforms: (T: number) => number[];
  groups: (T: number) => [number, number];
}

const SLOT = 256; // bytes per uniform slot: minUniformBufferOffsetAlignment

export class GPTStepWebGPU {
  private readonly device: GPUDevice;
  private readonly backend: WebGPUBackendLike;
  private readonly pipelines = new Map<string, { pipeline: GPUComputePipeline; layout: GPUBindGroupLayout }>();
  private readonly owned: GPUBuffer[] = [];
  private readonly offsets: number[] = [];
  private readonly gradSize: number;
  private uniformBuf!: GPUBuffer;
  private fwdBwd: { op: Op; group: GPUBindGroup }[] = [];
  private optim: { op: Op; group: GPUBindGroup }[] = [];
  private boundTo: GPUBuffer[] = [];
  private readonly staging: GPUBuffer[] = [];
  private readonly buf: Record<string, GPUBuffer> = {};
  private readonly perLayer: Record<string, GPUBuffer>[] = [];
  private hyper: StepHyper = { stepSize: 0, decay: 0, clip: 1, seed: 0 };
  private W = 1;
  readonly dispatchesPerStep: number;

  private constructor(
    private readonly model: GPT,
    private readonly B: number,
    private readonly vars: tf.Variable[],
    private readonly m: tf.Variable[],
    private readonly s: tf.Variable[],
    private readonly decayed: boolean[],
    private readonly betas: { beta1: number; beta2: number; eps: number },
  ) {
    this.backend = tf.backend() as unknown as WebGPUBackendLike;
    this.device = this.backend.device;
    let off = 0;
    for (const v of vars) {
      this.offsets.push(off);
      off += Math.ceil(v.size / 64) * 64; // 256-byte aligned: each parameter's gradient is bound at its offset
    }
    this.gradSize = off;
    this.allocate();
    this.build();
    this.dispatchesPerStep = this.fwdBwd.length + this.optim.length;
  }

  /**
   * A fused step for `model` (its parameters in `vars` order, with AdamW moments m and s), or the reason there is
   * none. Pipelines are compiled here, so WGSL or validation errors surface as a rejected promise.
   */
  static async create(
    model: CausalLike, batchSize: number, vars: tf.Variable[], m: tf.Variable[], s: tf.Variable[], decayed: boolean[],
    betas: { beta1: number; beta2: number; eps: number },
  ): Promise<GPTStepWebGPU> {
    const why = fusedStepUnsupported(model, batchSize);
    if (why) throw new Error(why);
    const step = new GPTStepWebGPU(model as GPT, batchSize, vars, m, s, decayed, betas);
    await step.compile();
    return step;
  }

  /** Forward, backward and AdamW for one batch; the loss comes back later. */
  step(batch: HostBatch, h: StepHyper): PendingLoss {
    return this.run(batch, h, true);
  }

  /** Forward and backward only: the loss and the flat gradient (tests compare them with tfjs's). */
  async lossAndGrads(batch: HostBatch, seed = 0): Promise<{ loss: number; grads: Float32Array[] }> {
    const pending = this.run(batch, { ...this.hyper, seed }, false);
    const loss = (await pending.data())[0];
    pending.dispose();
    const flat = await this.read(this.buf.G, this.gradSize);
    return { loss, grads: this.vars.map((v, i) => flat.slice(this.offsets[i], this.offsets[i] + v.size)) };
  }

  dispose(): void {
    for (const b of [...this.owned, ...this.staging]) b.destroy();
    this.owned.length = 0;
  }

  // -------------------------------------------------------------------------------------------------------------

  private run(batch: HostBatch, h: StepHyper, update: boolean): PendingLoss {
    if (batch.B !== this.B) throw new Error(`batch of ${batch.B} rows, step built for ${this.B}`);
    if (batch.T > this.model.config.blockSize) throw new Error(`batch of ${batch.T} positions > context ${this.model.config.blockSize}`);
    this.hyper = h;
    const targets = [...this.vars, ...this.m, ...this.s];
    // tfjs may hold values on the CPU or have work queued for these tensors: upload, and flush its queue first
    for (const v of targets) this.backend.uploadToGPU(v.dataId);
    if (this.backend.commandEncoder) {
      this.backend.endComputePassEncoder();
      this.backend.submitQueue();
    }
    const now = targets.map((v) => this.gpuBuffer(v));
    if (now.some((b, i) => b !== this.boundTo[i])) this.bindAll(now);

    const T = batch.T, N = this.B * T;
    const q = this.device.queue;
    q.writeBuffer(this.buf.idx, 0, batch.idx.buffer as ArrayBuffer, batch.idx.byteOffset, N * 4);
    q.writeBuffer(this.buf.targets, 0, batch.targets.buffer as ArrayBuffer, batch.targets.byteOffset, N * 4);
    q.writeBuffer(this.buf.weights, 0, batch.weights.buffer as ArrayBuffer, batch.weights.byteOffset, N * 4);
    let W = 0;
    for (let i = 0; i < N; i++) W += batch.weights[i];
    this.W = Math.max(W, 1);

    const ops = update ? [...this.fwdBwd, ...this.optim] : this.fwdBwd;
    const uni = new ArrayBuffer(SLOT * ops.length);
    ops.forEach(({ op }, i) => {
      const u32 = new Uint32Array(uni, i * SLOT, op.kernel.uniforms.length);
      const f32 = new Float32Array(uni, i * SLOT, op.kernel.uniforms.length);
      op.uniforms(T).forEach((x, j) => {
        if (op.kernel.uniforms[j].endsWith(':f')) f32[j] = x;
        else u32[j] = x >>> 0;
      });
    });
    q.writeBuffer(this.uniformBuf, 0, uni);

    const enc = this.device.createCommandEncoder();
    const pass = enc.beginComputePass();
    for (const { op, group } of ops) {
      const [x, y] = op.groups(T);
      if (x === 0 || y === 0) continue;
      pass.setPipeline(this.pipelines.get(op.kernel.name)!.pipeline);
      pass.setBindGroup(0, group);
      pass.dispatchWorkgroups(x, y);
    }
    pass.end();
    const staging = this.staging.pop() ?? this.device.createBuffer({ size: 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    enc.copyBufferToBuffer(this.buf.loss, 0, staging, 0, 4);
    q.submit([enc.finish()]);
    // tfjs caches values it has read on the CPU; ours are now newer
    if (update) for (const v of targets) this.backend.tensorMap.get(v.dataId).values = null;

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

  private gpuBuffer(v: tf.Tensor): GPUBuffer {
    const r = this.backend.tensorMap.get(v.dataId).resource;
    if (!r || !(r instanceof GPUBuffer)) throw new Error('a parameter is not in a GPU buffer');
    return r;
  }

  private async read(buffer: GPUBuffer, floats: number): Promise<Float32Array> {
    const st = this.device.createBuffer({ size: floats * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const enc = this.device.createCommandEncoder();
    enc.copyBufferToBuffer(buffer, 0, st, 0, floats * 4);
    this.device.queue.submit([enc.finish()]);
    await st.mapAsync(GPUMapMode.READ);
    const out = new Float32Array(st.getMappedRange().slice(0));
    st.destroy();
    return out;
  }

  private create(floats: number): GPUBuffer {
    const b = this.device.createBuffer({
      size: Math.max(16, Math.ceil(floats) * 4),
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
    });
    this.owned.push(b);
    return b;
  }

  private allocate(): void {
    const { vocabSize: V, nLayer: L, nEmbd: D, nHead: H, blockSize: T } = this.model.config;
    const N = this.B * T, F = 4 * D;
    const chunks = Math.ceil(N / K.COL_CHUNK);
    const b = this.buf;
    Object.assign(b, {
      idx: this.create(N), targets: this.create(N), weights: this.create(N),
      lnf: this.create(N * D), meanF: this.create(N), rstdF: this.create(N),
      logits: this.create(N * V), lossRows: this.create(N), loss: this.create(1),
      qkv: this.create(N * 3 * D), dres: this.create(N * D), dbr: this.create(N * D), dX: this.create(N * D),
      dY: this.create(N * D), dpre: this.create(N * F), dQ: this.create(N * D), dK: this.create(N * D), dV: this.create(N * D),
      dS: this.create(this.B * H * T * T), partial: this.create(2 * chunks * Math.max(F, 3 * D, V)),
      G: this.create(this.gradSize), normPartial: this.create(Math.ceil(this.gradSize / K.NORM_CHUNK)), normSq: this.create(1),
      res0: this.create(N * D),
    });
    const { cos, sin } = this.model.config.pos === 'rope' ? ropeTableValues(D / H, T) : { cos: new Float32Array(4), sin: new Float32Array(4) };
    b.cos = this.create(cos.length);
    b.sin = this.create(sin.length);
    this.device.queue.writeBuffer(b.cos, 0, cos.buffer as ArrayBuffer);
    this.device.queue.writeBuffer(b.sin, 0, sin.buffer as ArrayBuffer);
    for (let l = 0; l < L; l++)
      this.perLayer.push({
        ln1: this.create(N * D), mean1: this.create(N), rstd1: this.create(N), Q: this.create(N * D), K: this.create(N * D),
        V: this.create(N * D), P: this.create(this.B * H * T * T), atty: this.create(N * D), mid: this.create(N * D),
        ln2: this.create(N * D), mean2: this.create(N), rstd2: this.create(N), pre: this.create(N * F), out: this.create(N * D),
      });
  }

  private async compile(): Promise<void> {
    const kernels = new Map<string, K.KernelDef>();
    for (const { op } of [...this.fwdBwd, ...this.optim]) kernels.set(op.kernel.name, op.kernel);
    await Promise.all([...kernels.values()].map(async (k) => {
      const layout = this.device.createBindGroupLayout({
        entries: [
          { binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform' } },
          ...k.buffers.map(([, access], i) => ({
            binding: i + 1,
            visibility: GPUShaderStage.COMPUTE,
            buffer: { type: access === 'r' ? 'read-only-storage' as const : 'storage' as const },
          })),
        ],
      });
      const module = this.device.createShaderModule({ code: K.wgslSource(k), label: k.name });
      const info = await module.getCompilationInfo();
      const errors = info.messages.filter((msg) => msg.type === 'error');
      if (errors.length) throw new Error(`WGSL ${k.name}: ${errors.map((e) => `${e.lineNum}:${e.linePos} ${e.message}`).join('; ')}`);
      const pipeline = await this.device.createComputePipelineAsync({
        layout: this.device.createPipelineLayout({ bindGroupLayouts: [layout] }),
        compute: { module, entryPoint: 'entry' },
        label: k.name,
      });
      this.pipelines.set(k.name, { pipeline, layout });
    }));
    this.bindAll(this.boundTo);
  }

  /** Bind groups for every op; redone when tfjs has moved a variable to another buffer (assign, resume). */
  private bindAll(tfjsBuffers: GPUBuffer[]): void {
    this.boundTo = tfjsBuffers;
    if (this.pipelines.size === 0 || tfjsBuffers.length === 0) return;
    const resolve = (x: GPUBuffer | GPUBufferBinding): GPUBufferBinding => {
      const binding = x instanceof GPUBuffer ? { buffer: x } : x;
      const i = this.placeholders.indexOf(binding.buffer);
      return i < 0 ? binding : { ...binding, buffer: tfjsBuffers[i] };
    };
    let slot = 0;
    const group = (op: Op) => {
      const { layout } = this.pipelines.get(op.kernel.name)!;
      return this.device.createBindGroup({
        layout,
        entries: [
          { binding: 0, resource: { buffer: this.uniformBuf, offset: SLOT * slot++, size: SLOT } },
          ...op.bind.map((x, i) => ({ binding: i + 1, resource: resolve(x) })),
        ],
      });
    };
    this.fwdBwd = this.fwdBwd.map(({ op }) => ({ op, group: group(op) }));
    this.optim = this.optim.map(({ op }) => ({ op, group: group(op) }));
  }

  // Stand-ins for the tfjs-owned buffers (params, m, s) while ops are recorded; bindAll swaps in the real ones.
  private placeholders: GPUBuffer[] = [];

  private build(): void {
    const { vocabSize: V, nLayer: L, nEmbd: D, nHead: H, blockSize: maxT, dropout, pos } = this.model.config;
    const F = 4 * D, hd = D / H, B = this.B, keep = 1 - dropout;
    const rope = pos === 'rope';
    const names = [...this.model.params.keys()];
    this.placeholders = [...this.vars, ...this.m, ...this.s].map(() => this.create(1));
    const param = (name: string) => this.placeholders[names.indexOf(name)];
    const grad = (name: string): GPUBufferBinding => {
      const i = names.indexOf(name);
      return { buffer: this.buf.G, offset: this.offsets[i] * 4, size: Math.ceil(this.vars[i].size / 64) * 256 };
    };
    const off = (name: string) => this.offsets[names.indexOf(name)];
    const b = this.buf;
    const fb: Op[] = [];
    const seed = () => this.hyper.seed;
    const flat = (n: number, wg = 256): [number, number] => {
      const g = Math.ceil(n / wg);
      return g <= 65535 ? [g, 1] : [65535, Math.ceil(g / 65535)];
    };
    const rows = (n: number): [number, number] => (n <= 65535 ? [n, 1] : [65535, Math.ceil(n / 65535)]);
    const chunks = (T: number) => Math.ceil((B * T) / K.COL_CHUNK);

    const mm = (v: Partial<K.MatmulVariant>, bind: (GPUBuffer | GPUBufferBinding)[], dims: (T: number) => [number, number, number], site = 0) => {
      const kernel = K.matmul({ transA: false, transB: false, bias: false, geluA: false, resid: false, dropout: false, geluGradOut: false, ...v });
      fb.push({
        kernel, bind,
        uniforms: (T) => [...dims(T), seed(), site, keep],
        groups: (T) => { const [M, Nn] = dims(T); return [Math.ceil(Nn / 64), Math.ceil(M / 64)]; },
      });
    };
    const layerNorm = (X: GPUBuffer, name: string, Y: GPUBuffer, mean: GPUBuffer, rstd: GPUBuffer) =>
      fb.push({ kernel: K.layerNormForward, bind: [X, param(name + '.weight'), param(name + '.bias'), Y, mean, rstd], uniforms: (T) => [B * T, D, 1e-5], groups: (T) => rows(B * T) });
    const layerNormBack = (X: GPUBuffer, name: string, mean: GPUBuffer, rstd: GPUBuffer, dY: GPUBuffer, accumulate: boolean) => {
      fb.push({ kernel: K.layerNormBackward(accumulate), bind: [X, param(name + '.weight'), mean, rstd, dY, b.dres], uniforms: (T) => [B * T, D], groups: (T) => rows(B * T) });
      fb.push({ kernel: K.colSumPartial(true), bind: [X, mean, rstd, dY, b.partial], uniforms: (T) => [B * T, D, chunks(T)], groups: (T) => [Math.ceil(D / 64), chunks(T)] });
      fb.push({ kernel: K.colSumFinish(true), bind: [b.partial, b.G], uniforms: (T) => [D, chunks(T), off(name + '.weight'), off(name + '.bias')], groups: () => [Math.ceil(D / 64), 1] });
    };
    const biasGrad = (X: GPUBuffer, C: number, name: string) => {
      fb.push({ kernel: K.colSumPartial(false), bind: [X, b.partial], uniforms: (T) => [B * T, C, chunks(T)], groups: (T) => [Math.ceil(C / 64), chunks(T)] });
      fb.push({ kernel: K.colSumFinish(false), bind: [b.partial, b.G], uniforms: (T) => [C, chunks(T), off(name), 0], groups: () => [Math.ceil(C / 64), 1] });
    };
    /** the gradient of a dropout branch: dres through the mask (or dres itself without dropout) */
    const branch = (site: number): GPUBuffer => {
      if (keep >= 1) return b.dres;
      fb.push({ kernel: K.dropoutMask, bind: [b.dres, b.dbr], uniforms: (T) => [B * T * D, seed(), site, keep], groups: (T) => flat(B * T * D) });
      return b.dbr;
    };
    const scale = 1 / Math.sqrt(hd);
    const res = (l: number) => (l === 0 ? b.res0 : this.perLayer[l - 1].out);

    // ---- forward
    fb.push({
      kernel: K.embedForward(!rope),
      bind: [b.idx, param('transformer.wte.weight'), ...(rope ? [] : [param('transformer.wpe.weight')]), b.res0],
      uniforms: (T) => [B * T, D, T, seed(), 0, keep], groups: (T) => flat(B * T * D),
    });
    for (let l = 0; l < L; l++) {
      const p = `transformer.h.${l}.`, a = this.perLayer[l];
      layerNorm(res(l), p + 'ln_1', a.ln1, a.mean1, a.rstd1);
      mm({ bias: true }, [a.ln1, param(p + 'attn.c_attn.weight'), param(p + 'attn.c_attn.bias'), b.qkv], (T) => [B * T, 3 * D, D]);
      fb.push({ kernel: K.qkvSplit(rope), bind: [b.qkv, b.cos, b.sin, a.Q, a.K, a.V], uniforms: (T) => [B * T, D, T, H, hd], groups: (T) => flat(B * T * D) });
      fb.push({ kernel: K.attentionForward(maxT, hd), bind: [a.Q, a.K, a.V, a.P, a.atty], uniforms: (T) => [T, H, scale], groups: (T) => [T, B * H] });
      mm({ bias: true, resid: true, dropout: keep < 1 }, [a.atty, param(p + 'attn.c_proj.weight'), param(p + 'attn.c_proj.bias'), res(l), a.mid], (T) => [B * T, D, D], 1 + 2 * l);
      layerNorm(a.mid, p + 'ln_2', a.ln2, a.mean2, a.rstd2);
      mm({ bias: true }, [a.ln2, param(p + 'mlp.c_fc.weight'), param(p + 'mlp.c_fc.bias'), a.pre], (T) => [B * T, F, D]);
      mm({ geluA: true, bias: true, resid: true, dropout: keep < 1 }, [a.pre, param(p + 'mlp.c_proj.weight'), param(p + 'mlp.c_proj.bias'), a.mid, a.out], (T) => [B * T, D, F], 2 + 2 * l);
    }
    layerNorm(res(L), 'transformer.ln_f', b.lnf, b.meanF, b.rstdF);
    mm({ transB: true }, [b.lnf, param('lm_head.weight'), b.logits], (T) => [B * T, V, D]);
    fb.push({ kernel: K.crossEntropy, bind: [b.targets, b.weights, b.logits, b.lossRows], uniforms: (T) => [B * T, V, this.W], groups: (T) => rows(B * T) });
    fb.push({ kernel: K.sumAll, bind: [b.lossRows, b.loss], uniforms: (T) => [B * T, 1 / this.W], groups: () => [1, 1] });

    // ---- backward (the logits buffer now holds their gradient)
    mm({}, [b.logits, param('lm_head.weight'), b.dX], (T) => [B * T, D, V]);
    mm({ transA: true }, [b.logits, b.lnf, grad('lm_head.weight')], (T) => [V, D, B * T]);
    layerNormBack(res(L), 'transformer.ln_f', b.meanF, b.rstdF, b.dX, false);
    for (let l = L - 1; l >= 0; l--) {
      const p = `transformer.h.${l}.`, a = this.perLayer[l];
      // MLP: out = mid + dropout(gelu(pre) W2 + b2), pre = ln2 W1 + b1
      let br = branch(2 + 2 * l);
      mm({ transB: true, geluGradOut: true }, [br, param(p + 'mlp.c_proj.weight'), a.pre, b.dpre], (T) => [B * T, F, D]);
      mm({ transA: true, geluA: true }, [a.pre, br, grad(p + 'mlp.c_proj.weight')], (T) => [F, D, B * T]);
      biasGrad(br, D, p + 'mlp.c_proj.bias');
      mm({ transA: true }, [a.ln2, b.dpre, grad(p + 'mlp.c_fc.weight')], (T) => [D, F, B * T]);
      biasGrad(b.dpre, F, p + 'mlp.c_fc.bias');
      mm({ transB: true }, [b.dpre, param(p + 'mlp.c_fc.weight'), b.dX], (T) => [B * T, D, F]);
      layerNormBack(a.mid, p + 'ln_2', a.mean2, a.rstd2, b.dX, true);
      // attention: mid = res + dropout(atty Wo + bo)
      br = branch(1 + 2 * l);
      mm({ transB: true }, [br, param(p + 'attn.c_proj.weight'), b.dY], (T) => [B * T, D, D]);
      mm({ transA: true }, [a.atty, br, grad(p + 'attn.c_proj.weight')], (T) => [D, D, B * T]);
      biasGrad(br, D, p + 'attn.c_proj.bias');
      fb.push({ kernel: K.attentionBackwardQuery(maxT, hd), bind: [a.K, a.V, a.P, b.dY, b.dS, b.dQ], uniforms: (T) => [T, H, scale], groups: (T) => [T, B * H] });
      fb.push({ kernel: K.attentionBackwardKey(hd), bind: [a.Q, a.P, b.dS, b.dY, b.dK, b.dV], uniforms: (T) => [T, H, scale], groups: (T) => [T, B * H] });
      fb.push({ kernel: K.qkvMerge(rope), bind: [b.dQ, b.dK, b.dV, b.cos, b.sin, b.qkv], uniforms: (T) => [B * T, D, T, H, hd], groups: (T) => flat(B * T * D) });
      mm({ transA: true }, [a.ln1, b.qkv, grad(p + 'attn.c_attn.weight')], (T) => [D, 3 * D, B * T]);
      biasGrad(b.qkv, 3 * D, p + 'attn.c_attn.bias');
      mm({ transB: true }, [b.qkv, param(p + 'attn.c_attn.weight'), b.dX], (T) => [B * T, D, 3 * D]);
      layerNormBack(res(l), p + 'ln_1', a.mean1, a.rstd1, b.dX, true);
    }
    const d0 = branch(0);
    fb.push({
      kernel: K.embedBackward(!rope), bind: [b.idx, d0, b.G],
      uniforms: (T) => [B * T, D, T, V, maxT, off('transformer.wte.weight'), rope ? 0 : off('transformer.wpe.weight')],
      groups: () => flat(Math.max(V, rope ? 0 : maxT) * D),
    });

    // ---- optimizer: global gradient norm, then AdamW per parameter in place
    const opt: Op[] = [];
    const normGroups = Math.ceil(this.gradSize / K.NORM_CHUNK);
    opt.push({ kernel: K.squareSumPartial, bind: [b.G, b.normPartial], uniforms: () => [this.gradSize], groups: () => [normGroups, 1] });
    opt.push({ kernel: K.sumAll, bind: [b.normPartial, b.normSq], uniforms: () => [normGroups, 1], groups: () => [1, 1] });
    const nv = this.vars.length;
    this.vars.forEach((v, i) => {
      opt.push({
        kernel: K.adamw,
        bind: [b.G, b.normSq, this.placeholders[i], this.placeholders[nv + i], this.placeholders[2 * nv + i]],
        uniforms: () => [this.offsets[i], v.size, this.betas.beta1, this.betas.beta2, this.betas.eps, this.hyper.stepSize,
          this.decayed[i] ? this.hyper.decay : 0, this.hyper.clip],
        groups: () => flat(v.size),
      });
    });
    const dummy = undefined as unknown as GPUBindGroup; // made by bindAll once pipelines exist
    this.fwdBwd = fb.map((op) => ({ op, group: dummy }));
    this.optim = opt.map((op) => ({ op, group: dummy }));
    this.uniformBuf = this.device.createBuffer({ size: SLOT * (fb.length + opt.length), usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    this.owned.push(this.uniformBuf);
  }
}

type CausalLike = object;
