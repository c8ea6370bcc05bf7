/// <reference types="@webgpu/types" />
// Runs a fixed list of our WGSL kernels on tfjs-webgpu's device: pipelines compiled once, bind groups made once
// (again only when tfjs moves a tensor to another buffer), every op's uniforms in one buffer written once per run,
// and the whole list encoded into one compute pass. tfjs tensors (the model's parameters) are bound in place.
import * as tf from '@tensorflow/tfjs-core';
import { KernelDef, wgslSource } from './kernels';

/** What this needs of tfjs-webgpu's backend (WebGPUBackend in @tensorflow/tfjs-backend-webgpu). */
interface WebGPUBackendLike {
  device: GPUDevice;
  tensorMap: { get(dataId: object): { resource: unknown; values: unknown } };
  uploadToGPU(dataId: object): void;
  commandEncoder: GPUCommandEncoder | null;
  endComputePassEncoder(): void;
  submitQueue(): void;
}

/** One dispatch: a kernel, its storage buffers, and its uniforms and workgroup counts for a run's context C. */
export interface Op<C> {
  kernel: KernelDef;
  bind: (GPUBuffer | GPUBufferBinding)[];
  uniforms: (c: C) => number[];
  groups: (c: C) => [number, number] | [number, number, number];
}

const SLOT = 256; // bytes of uniforms per op: minUniformBufferOffsetAlignment

interface Compiled {
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
}

// Pipelines by device and kernel name, shared by every runner: a sampler or trainer made per call compiles nothing
// after the first (compiling is tens of milliseconds a kernel).
const compiledOn = new WeakMap<GPUDevice, Map<string, Promise<Compiled>>>();

function compileKernel(device: GPUDevice, k: KernelDef): Promise<Compiled> {
  let cache = compiledOn.get(device);
  if (!cache) compiledOn.set(device, (cache = new Map()));
  let p = cache.get(k.name);
  if (!p) {
    p = (async () => {
      const layout = device.createBindGroupLayout({
        entries: [
          { binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform' } },
          ...k.buffers.map(([, access], i) => ({
            binding: i + 1,
            visibility: GPUShaderStage.COMPUTE,
            buffer: { type: access === 'r' ? ('read-only-storage' as const) : ('storage' as const) },
          })),
        ],
      });
      const module = device.createShaderModule({ code: wgslSource(k), label: k.name });
      const errors = (await module.getCompilationInfo()).messages.filter((msg) => msg.type === 'error');
      if (errors.length) throw new Error(`WGSL ${k.name}: ${errors.map((e) => `${e.lineNum}:${e.linePos} ${e.message}`).join('; ')}`);
      const pipeline = await device.createComputePipelineAsync({
        layout: device.createPipelineLayout({ bindGroupLayouts: [layout] }),
        compute: { module, entryPoint: 'entry' },
        label: k.name,
      });
      return { pipeline, layout };
    })();
    cache.set(k.name, p);
    p.catch(() => cache!.delete(k.name)); // a failure is not cached
  }
  return p;
}

export function webgpuBackend(): WebGPUBackendLike {
  if (tf.getBackend() !== 'webgpu') throw new Error('backend is not webgpu');
  return tf.backend() as unknown as WebGPUBackendLike;
}

/** Workgroups for n threads of `wg` each, spilling into y past WebGPU's 65535 per dimension (kernels undo it). */
export function flatGroups(n: number, wg = 256): [number, number] {
  const g = Math.ceil(n / wg);
  return g <= 65535 ? [g, 1] : [65535, Math.ceil(g / 65535)];
}

/** One workgroup per row. */
export function rowGroups(n: number): [number, number] {
  return n <= 65535 ? [n, 1] : [65535, Math.ceil(n / 65535)];
}

export class KernelRunner<C> {
  readonly backend = webgpuBackend();
  readonly device = this.backend.device;
  readonly ops: Op<C>[] = [];
  private readonly owned: GPUBuffer[] = [];
  private readonly pipelines = new Map<string, Compiled>();
  private readonly stand: GPUBuffer[];
  private groups: GPUBindGroup[] = [];
  private boundTo: GPUBuffer[] = [];
  private uniformBuf?: GPUBuffer;

  /** `tensors`: the tfjs tensors ops may bind, through tensor(i). */
  constructor(private readonly tensors: tf.Tensor[]) {
    this.stand = tensors.map(() => this.buffer(1));
  }

  /** A zeroed storage buffer of `floats` 32-bit elements, freed with the runner. */
  buffer(floats: number): GPUBuffer {
    const b = this.device.createBuffer({
      size: Math.max(16, Math.ceil(floats / 4) * 16), // whole vec4s: some kernels read buffers as array<vec4<f32>>
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
    });
    this.owned.push(b);
    return b;
  }

  /** A storage buffer holding `data`, freed with the runner. */
  upload(data: Float32Array): GPUBuffer {
    const b = this.buffer(data.length);
    this.device.queue.writeBuffer(b, 0, data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
    return b;
  }

  /** Stands for the GPU buffer of tensors[i] in an op's bindings. */
  tensor(i: number): GPUBuffer {
    return this.stand[i];
  }

  add(op: Op<C>): void {
    this.ops.push(op);
  }

  /** Bytes of GPU memory this runner holds (its buffers; the tfjs tensors it binds are tfjs's). */
  get bytes(): number {
    return this.owned.reduce((n, b) => n + b.size, 0) + (this.uniformBuf?.size ?? 0);
  }

  /** Compiles every kernel (once per device); WGSL or validation errors reject with the kernel's name. */
  async compile(): Promise<void> {
    const kernels = new Map<string, KernelDef>();
    for (const op of this.ops) kernels.set(op.kernel.name, op.kernel);
    for (const [name, c] of await Promise.all([...kernels.values()].map(async (k) => [k.name, await compileKernel(this.device, k)] as const)))
      this.pipelines.set(name, c);
    this.uniformBuf?.destroy();
    this.uniformBuf = this.device.createBuffer({ size: SLOT * this.ops.length, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    this.boundTo = [];
  }

  /**
   * Makes the tfjs tensors' data current on the GPU (tfjs may have it on the CPU, or work queued for it) and
   * submits tfjs's queue, so that our commands come after its own.
   */
  syncTfjs(): void {
    for (const t of this.tensors) this.backend.uploadToGPU(t.dataId);
    if (this.backend.commandEncoder) {
      this.backend.endComputePassEncoder();
      this.backend.submitQueue();
    }
    const now = this.tensors.map((t) => {
      const r = this.backend.tensorMap.get(t.dataId).resource;
      if (!(r instanceof GPUBuffer)) throw new Error('a tensor is not in a GPU buffer');
      return r;
    });
    if (this.groups.length !== this.ops.length || now.length !== this.boundTo.length || now.some((b, i) => b !== this.boundTo[i])) this.bindAll(now);
  }

  /** tfjs keeps values it has read on the CPU: after our kernels write the bound tensors in place, those are stale. */
  invalidateTfjs(): void {
    for (const t of this.tensors) this.backend.tensorMap.get(t.dataId).values = null;
  }

  /** Encodes ops[from, to) for context c into one compute pass of a new command encoder (not yet submitted). */
  encode(c: C, from = 0, to = this.ops.length): GPUCommandEncoder {
    this.writeUniforms(c, from, to);
    const enc = this.device.createCommandEncoder();
    const pass = enc.beginComputePass();
    for (let i = from; i < to; i++) this.dispatch(pass, i, c);
    pass.end();
    return enc;
  }

  /**
   * Runs ops[from, to) once, each in its own compute pass between two GPU timestamps, and returns each op's kernel
   * name and GPU milliseconds; null where the device has no timestamp queries. For finding the kernels that dominate.
   */
  async profile(c: C, from = 0, to = this.ops.length): Promise<{ kernel: string; ms: number }[] | null> {
    if (!this.device.features.has('timestamp-query')) return null;
    const n = to - from;
    this.writeUniforms(c, from, to);
    const querySet = this.device.createQuerySet({ type: 'timestamp', count: 2 * n });
    const enc = this.device.createCommandEncoder();
    for (let i = from; i < to; i++) {
      const k = 2 * (i - from);
      const pass = enc.beginComputePass({ timestampWrites: { querySet, beginningOfPassWriteIndex: k, endOfPassWriteIndex: k + 1 } });
      this.dispatch(pass, i, c);
      pass.end();
    }
    const resolved = this.device.createBuffer({ size: 16 * n, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
    const read = this.device.createBuffer({ size: 16 * n, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    enc.resolveQuerySet(querySet, 0, 2 * n, resolved, 0);
    enc.copyBufferToBuffer(resolved, 0, read, 0, 16 * n);
    this.device.queue.submit([enc.finish()]);
    await read.mapAsync(GPUMapMode.READ);
    const t = new BigUint64Array(read.getMappedRange().slice(0));
    read.unmap();
    for (const x of [read, resolved]) x.destroy();
    querySet.destroy();
    return Array.from({ length: n }, (_, j) => ({ kernel: this.ops[from + j].kernel.name, ms: Number(t[2 * j + 1] - t[2 * j]) / 1e6 }));
  }

  private dispatch(pass: GPUComputePassEncoder, i: number, c: C): void {
    const [x, y, z = 1] = this.ops[i].groups(c);
    if (x === 0 || y === 0) return;
    pass.setPipeline(this.pipelines.get(this.ops[i].kernel.name)!.pipeline);
    pass.setBindGroup(0, this.groups[i]);
    pass.dispatchWorkgroups(x, y, z);
  }

  private writeUniforms(c: C, from: number, to: number): void {
    const uni = new ArrayBuffer(SLOT * (to - from));
    for (let i = from; i < to; i++) {
      const op = this.ops[i];
      const names = op.kernel.uniforms;
      const u32 = new Uint32Array(uni, (i - from) * SLOT, names.length);
      const f32 = new Float32Array(uni, (i - from) * SLOT, names.length);
      op.uniforms(c).forEach((x, j) => {
        if (names[j].endsWith(':f')) f32[j] = x;
        else u32[j] = x >>> 0;
      });
    }
    this.device.queue.writeBuffer(this.uniformBuf!, SLOT * from, uni);
  }

  /**
   * Runs f with the device's errors captured, and rejects with the first validation, out-of-memory or internal error
   * its calls raised. WebGPU reports such errors only asynchronously (an invalid command buffer is skipped, its
   * outputs left as they were), so a kernel that breaks on some GPU would otherwise give wrong numbers silently.
   */
  async checked<T>(f: () => T): Promise<T> {
    const filters: GPUErrorFilter[] = ['validation', 'out-of-memory', 'internal'];
    for (const k of filters) this.device.pushErrorScope(k);
    let out: T;
    try {
      out = f();
    } finally {
      const errors = await Promise.all(filters.map(() => this.device.popErrorScope()));
      const e = errors.find((x) => x);
      if (e) throw new Error(`WebGPU error: ${e.message.split('\n')[0]}`);
    }
    return out;
  }

  /** Copies `floats` elements of an owned buffer to the host. */
  async read(buffer: GPUBuffer, floats: number): Promise<Float32Array> {
    const st = this.device.createBuffer({ size: floats * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const enc = this.device.createCommandEncoder();
    enc.copyBufferToBuffer(buffer, 0, st, 0, floats * 4);
    this.device.queue.submit([enc.finish()]);
    await st.mapAsync(GPUMapMode.READ);
    const out = new Float32Array(st.getMappedRange().slice(0));
    st.destroy();
    return out;
  }

  dispose(): void {
    for (const b of this.owned) b.destroy();
    this.uniformBuf?.destroy();
    this.owned.length = 0;
  }

  private bindAll(real: GPUBuffer[]): void {
    this.boundTo = real;
    const resolve = (x: GPUBuffer | GPUBufferBinding): GPUBufferBinding => {
      const binding = x instanceof GPUBuffer ? { buffer: x } : x;
      const i = this.stand.indexOf(binding.buffer);
      return i < 0 ? binding : { ...binding, buffer: real[i] };
    };
    this.groups = this.ops.map((op, slot) => this.device.createBindGroup({
      layout: this.pipelines.get(op.kernel.name)!.layout,
      entries: [
        { binding: 0, resource: { buffer: this.uniformBuf!, offset: SLOT * slot, size: SLOT } },
        ...op.bind.map((x, i) => ({ binding: i + 1, resource: resolve(x) })),
      ],
    }));
  }
}
