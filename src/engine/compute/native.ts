// Native CPU kernels for the tfjs `wasm` backend.
//
// The `star_kernels` N-API addon (native/src/star_kernels.cc, OpenBLAS linked statically, shipped prebuilt under
// prebuilds/<platform>-<arch>/) is registered over the wasm backend's hottest kernels. It reads and writes the
// tensors in place on the WebAssembly heap: no copies. A kernel falls back to the stock wasm one for dtypes and
// shapes it does not handle, and if the addon cannot be loaded nothing is replaced at all.
//
// Call installNativeKernels() after `await tf.setBackend('wasm')`. STAR_NATIVE=0 disables it;
// STAR_NATIVE_PATH=<file.node> loads a specific build; STAR_NATIVE_THREADS=<n> sets the OpenBLAS thread count.
import * as tf from '@tensorflow/tfjs-core';
import * as fs from 'fs';
import { createRequire } from 'module';
import * as os from 'os';
import * as path from 'path';

/** The addon's exports. Offsets are byte offsets into `heap` (the wasm memory). */
interface StarKernelsAddon {
  version: number;
  sgemm(
    heap: Uint8Array, aOff: number, bOff: number, cOff: number, batch: number, m: number, n: number, k: number,
    transA: boolean, transB: boolean, aStride: number, bStride: number,
  ): void;
  transpose(heap: Uint8Array, inOff: number, outOff: number, shape: Int32Array, perm: Int32Array): void;
  /** out = a (op) b, strides in elements (0 along broadcast axes); op 0 add, 1 sub, 2 mul, 3 div. */
  binary(
    heap: Uint8Array, op: number, aOff: number, bOff: number, outOff: number,
    outShape: Int32Array, aStrides: Int32Array, bStrides: Int32Array,
  ): void;
  /** out[o, i] = sum over r of in[o, r, i]. */
  sum(heap: Uint8Array, inOff: number, outOff: number, outer: number, r: number, inner: number): void;
  /** op 0: tanh, 1: gelu (tanh approximation). */
  unary(heap: Uint8Array, op: number, inOff: number, outOff: number, n: number): void;
  /** out = dy * gelu'(x) */
  geluGrad(heap: Uint8Array, xOff: number, dyOff: number, outOff: number, n: number): void;
  layerNorm(
    heap: Uint8Array, xOff: number, gOff: number, bOff: number, yOff: number, meanOff: number, rstdOff: number,
    rows: number, d: number, eps: number,
  ): void;
  layerNormGrad(
    heap: Uint8Array, xOff: number, gOff: number, meanOff: number, rstdOff: number, dyOff: number,
    dxOff: number, dgOff: number, dbOff: number, rows: number, d: number,
  ): void;
  adamw(
    heap: Uint8Array, vOff: number, mOff: number, sOff: number, gOff: number, scaleOff: number,
    vOut: number, mOut: number, sOut: number, n: number,
    beta1: number, beta2: number, eps: number, stepSize: number, decay: number,
  ): void;
  /** out[r * outStride + c] = in[r * inStride + c] (4-byte elements) */
  copyRows(heap: Uint8Array, inOff: number, outOff: number, rows: number, cols: number, inStride: number, outStride: number): void;
  setThreads(n: number): number;
  getThreads(): number;
  /** The OpenBLAS kernel set in use, e.g. "SkylakeX". */
  coreName(): string;
}

/** The parts of tfjs-backend-wasm's BackendWasm these kernels use. */
interface WasmBackendLike {
  wasm: { HEAPU8: Uint8Array };
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  incRef(dataId: object): void;
}

type KernelArgs = Parameters<tf.KernelFunc>[0];
/** A native kernel body: returns the output(s), or null to let the stock kernel run. */
type NativeKernel = (args: KernelArgs, backend: WasmBackendLike, addon: StarKernelsAddon) => tf.TensorInfo | tf.TensorInfo[] | null;

const ADDON_FILE = 'star_kernels.node';
/** The addon build this code needs (kAddonVersion in star_kernels.cc). */
const ADDON_VERSION = 4;

let addon: StarKernelsAddon | null = null;
let addonPath: string | null = null;
/** Stock kernel configs of the kernels currently replaced, to fall back to and to restore. */
const stock = new Map<string, tf.KernelConfig>();

/** Where the addon may be: a prebuilt binary in the package, or a local `node-gyp` build. */
export function nativeAddonCandidates(): string[] {
  const out: string[] = [];
  if (process.env.STAR_NATIVE_PATH) out.push(path.resolve(process.env.STAR_NATIVE_PATH));
  const platformDir = `${process.platform}-${process.arch}`;
  // Bundled (dist/cli.js) or compiled (out/src/engine/compute/native.js): walk up to the package root.
  let dir = __dirname;
  for (let i = 0; i < 8; i++) {
    const prebuilt = path.join(dir, 'prebuilds', platformDir, ADDON_FILE);
    const local = path.join(dir, 'native', 'build', 'Release', ADDON_FILE);
    if (fs.existsSync(prebuilt)) out.push(prebuilt);
    if (fs.existsSync(local)) out.push(local);
    if (out.length > 0 && fs.existsSync(path.join(dir, 'package.json'))) break;
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return out;
}

function loadAddon(): StarKernelsAddon {
  if (addon) return addon;
  const candidates = nativeAddonCandidates();
  if (candidates.length === 0) throw new Error(`no ${ADDON_FILE} for ${process.platform}-${process.arch} found above ${__dirname}`);
  // createRequire keeps esbuild from trying to bundle the .node file.
  const req = createRequire(__filename);
  const errors: string[] = [];
  for (const file of candidates) {
    try {
      const mod = req(file) as StarKernelsAddon;
      if (typeof mod.sgemm !== 'function') throw new Error('not a star_kernels addon');
      if (mod.version !== ADDON_VERSION) throw new Error(`addon version ${mod.version}, need ${ADDON_VERSION} (rebuild: npm run build:native)`);
      addon = mod;
      addonPath = file;
      const threads = Number(process.env.STAR_NATIVE_THREADS);
      blasThreads = Number.isInteger(threads) && threads > 0 ? threads : defaultThreads();
      useThreads(1);
      return mod;
    } catch (e) {
      errors.push(`${file}: ${(e as Error).message}`);
    }
  }
  throw new Error(`could not load ${ADDON_FILE}: ${errors.join('; ')}`);
}

/**
 * OpenBLAS threads for a big product: up to 2. Measured on the 2-core machine (quiet), 2 threads on every sgemm:
 * training +9% (small bench model, batch 16) and +24-28% (4.8M model), but sampling the small model -7 to -15%,
 * where the products are too small to split. With 2 threads only from PARALLEL_MACS multiply-adds a product: training
 * +8-12% and +25-31%, sampling 0 to +16% and +7%. STAR_NATIVE_THREADS sets the count (1: never split).
 */
function defaultThreads(): number {
  return Math.max(1, Math.min(2, os.availableParallelism()));
}
const PARALLEL_MACS = Number(process.env.STAR_NATIVE_PARALLEL_MACS) || 2.5e6;
let blasThreads = 1;
let threadsNow = 0;

/** OpenBLAS's thread count for the next calls; set only on change. */
function useThreads(n: number): void {
  if (n !== threadsNow && addon) threadsNow = addon.setThreads(n);
}

// ---------------------------------------------------------------------------------------------------------------
// kernels

const size = (shape: readonly number[]) => tf.util.sizeFromShape(shape as number[]);

function offsetOf(backend: WasmBackendLike, t: tf.TensorInfo): number {
  const d = backend.dataIdMap.get(t.dataId);
  if (!d) throw new Error('tensor not on the wasm backend');
  return d.memoryOffset;
}

const batchMatMul: NativeKernel = (args, backend, ext) => {
  const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
  const { transposeA, transposeB } = args.attrs as { transposeA: boolean; transposeB: boolean };
  if (a.dtype !== 'float32' || b.dtype !== 'float32') return null;
  const ra = a.shape.length, rb = b.shape.length;
  if (ra < 2 || rb < 2) return null;
  const m = transposeA ? a.shape[ra - 1] : a.shape[ra - 2];
  const kA = transposeA ? a.shape[ra - 2] : a.shape[ra - 1];
  const kB = transposeB ? b.shape[rb - 1] : b.shape[rb - 2];
  const n = transposeB ? b.shape[rb - 2] : b.shape[rb - 1];
  if (kA !== kB) return null; // let the stock kernel raise its error
  const batchA = a.shape.slice(0, -2), batchB = b.shape.slice(0, -2);
  const bA = size(batchA), bB = size(batchB);
  let outBatch: number[];
  try {
    outBatch = tf.broadcast_util.assertAndGetBroadcastShape(batchA, batchB);
  } catch {
    return null;
  }
  const batch = size(outBatch);
  // Supported: same batch, or one side not batched (broadcast). Mixed broadcasting goes to the stock kernel.
  if (!(bA === batch && bB === batch) && !(bA === 1 && bB === batch) && !(bB === 1 && bA === batch)) return null;
  const out = backend.makeOutput([...outBatch, m, n], 'float32');
  if (batch * m * n === 0) return out;
  const heap = backend.wasm.HEAPU8; // after makeOutput: it may have grown the memory
  const aOff = offsetOf(backend, a), bOff = offsetOf(backend, b), cOff = offsetOf(backend, out);
  const folded = bB === 1 && bA > 1 && !transposeA;
  useThreads((folded ? bA : 1) * m * n * kA >= PARALLEL_MACS ? blasThreads : 1);
  if (folded) {
    // [batch, m, k] @ [k, n] is one [batch*m, k] @ [k, n]
    ext.sgemm(heap, aOff, bOff, cOff, 1, bA * m, n, kA, false, transposeB, 0, 0);
  } else {
    ext.sgemm(heap, aOff, bOff, cOff, batch, m, n, kA, transposeA, transposeB, bA === 1 ? 0 : m * kA, bB === 1 ? 0 : kA * n);
  }
  return out;
};

const transpose: NativeKernel = (args, backend, ext) => {
  const { x } = args.inputs as { x: tf.TensorInfo };
  const { perm } = args.attrs as { perm: number[] };
  if ((x.dtype !== 'float32' && x.dtype !== 'int32') || perm.length !== x.shape.length || x.shape.length === 0) return null;
  const out = backend.makeOutput(perm.map((p) => x.shape[p]), x.dtype);
  if (size(x.shape) === 0) return out;
  const heap = backend.wasm.HEAPU8;
  ext.transpose(heap, offsetOf(backend, x), offsetOf(backend, out), Int32Array.from(x.shape), Int32Array.from(perm));
  return out;
};

/** Element strides of a tensor of `shape` read broadcast to `outShape` (0 along broadcast axes). */
function broadcastStrides(shape: readonly number[], outShape: readonly number[]): Int32Array {
  const r = outShape.length, off = r - shape.length;
  const strides = new Int32Array(r);
  let stride = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[off + i] = shape[i] === 1 ? 0 : stride;
    stride *= shape[i];
  }
  return strides;
}

function binaryKernel(op: number): NativeKernel {
  return (args, backend, ext) => {
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    if (a.dtype !== 'float32' || b.dtype !== 'float32') return null;
    let outShape: number[];
    try {
      outShape = tf.broadcast_util.assertAndGetBroadcastShape(a.shape, b.shape);
    } catch {
      return null;
    }
    const out = backend.makeOutput(outShape, 'float32');
    if (size(outShape) === 0) return out;
    ext.binary(
      backend.wasm.HEAPU8, op, offsetOf(backend, a), offsetOf(backend, b), offsetOf(backend, out),
      Int32Array.from(outShape), broadcastStrides(a.shape, outShape), broadcastStrides(b.shape, outShape),
    );
    return out;
  };
}

const sum: NativeKernel = (args, backend, ext) => {
  const { x } = args.inputs as { x: tf.TensorInfo };
  const { axis, keepDims } = args.attrs as { axis: number | number[]; keepDims: boolean };
  if (x.dtype !== 'float32') return null;
  const axes = tf.util.parseAxisParam(axis, x.shape).sort((p, q) => p - q);
  // Only a contiguous block of axes: [outer, R, inner].
  for (let i = 1; i < axes.length; i++) if (axes[i] !== axes[i - 1] + 1) return null;
  const first = axes.length ? axes[0] : x.shape.length, last = axes.length ? axes[axes.length - 1] : x.shape.length - 1;
  const outer = size(x.shape.slice(0, first)), r = size(x.shape.slice(first, last + 1)), inner = size(x.shape.slice(last + 1));
  const outShape = keepDims ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !axes.includes(i));
  const out = backend.makeOutput(outShape, 'float32');
  if (outer * inner === 0) return out;
  ext.sum(backend.wasm.HEAPU8, offsetOf(backend, x), offsetOf(backend, out), outer, r, inner);
  return out;
};

const tanh: NativeKernel = (args, backend, ext) => {
  const { x } = args.inputs as { x: tf.TensorInfo };
  if (x.dtype !== 'float32') return null;
  const out = backend.makeOutput(x.shape, 'float32');
  const n = size(x.shape);
  if (n > 0) ext.unary(backend.wasm.HEAPU8, 0, offsetOf(backend, x), offsetOf(backend, out), n);
  return out;
};

/** Identity (and Cast to the same dtype) share the input's memory instead of copying it, as Reshape does. */
const identity: NativeKernel = (args, backend) => {
  const { x } = args.inputs as { x: tf.TensorInfo };
  const dtype = (args.attrs as { dtype?: tf.DataType } | undefined)?.dtype ?? x.dtype;
  if (dtype !== x.dtype || x.dtype === 'string' || x.dtype === 'complex64') return null;
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
};

/** Unstack: each output is a strided copy (the stock kernel runs a general Slice per output). */
const unpack: NativeKernel = (args, backend, ext) => {
  const { value } = args.inputs as { value: tf.TensorInfo };
  let { axis } = args.attrs as { axis: number };
  if (value.dtype !== 'float32' && value.dtype !== 'int32') return null;
  const rank = value.shape.length;
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank) return null;
  const n = value.shape[axis];
  const outShape = value.shape.filter((_, i) => i !== axis);
  const rows = size(value.shape.slice(0, axis)), cols = size(value.shape.slice(axis + 1));
  const outs: tf.TensorInfo[] = [];
  for (let j = 0; j < n; j++) outs.push(backend.makeOutput(outShape, value.dtype));
  if (rows * cols === 0) return outs;
  const heap = backend.wasm.HEAPU8, inOff = offsetOf(backend, value);
  for (let j = 0; j < n; j++) ext.copyRows(heap, inOff + 4 * j * cols, offsetOf(backend, outs[j]), rows, cols, n * cols, cols);
  return outs;
};

/** Stack (the gradient of unstack): each input is a strided copy into the output. */
const pack: NativeKernel = (args, backend, ext) => {
  const xs = args.inputs as unknown as tf.TensorInfo[];
  let { axis } = args.attrs as { axis: number };
  if (xs.length === 0) return null;
  const { shape, dtype } = xs[0];
  if ((dtype !== 'float32' && dtype !== 'int32') || xs.some((x) => x.dtype !== dtype || x.shape.join() !== shape.join())) return null;
  if (axis < 0) axis += shape.length + 1;
  if (axis < 0 || axis > shape.length) return null;
  const n = xs.length;
  const outShape = [...shape.slice(0, axis), n, ...shape.slice(axis)];
  const rows = size(shape.slice(0, axis)), cols = size(shape.slice(axis));
  const out = backend.makeOutput(outShape, dtype);
  if (rows * cols === 0) return out;
  const heap = backend.wasm.HEAPU8, outOff = offsetOf(backend, out);
  for (let j = 0; j < n; j++) ext.copyRows(heap, offsetOf(backend, xs[j]), outOff + 4 * j * cols, rows, cols, cols, n * cols);
  return out;
};

/** Kernel name -> native body, in the order they are installed. */
const KERNELS: [string, NativeKernel][] = [
  ['BatchMatMul', batchMatMul],
  ['Transpose', transpose],
  ['Add', binaryKernel(0)],
  ['Sub', binaryKernel(1)],
  ['Multiply', binaryKernel(2)],
  ['RealDiv', binaryKernel(3)],
  ['Sum', sum],
  ['Tanh', tanh],
  ['Identity', identity],
  ['Cast', identity],
  ['Unpack', unpack],
  ['Pack', pack],
];

// ---------------------------------------------------------------------------------------------------------------
// fused kernels: new kernels (not overrides), used through gelu() and layerNorm() below

const GELU = 'StarGelu';
const GELU_GRAD = 'StarGeluGrad';
const LAYER_NORM = 'StarLayerNorm';
const LAYER_NORM_GRAD = 'StarLayerNormGrad';
const ADAMW = 'StarAdamW';
const FUSED = [GELU, GELU_GRAD, LAYER_NORM, LAYER_NORM_GRAD, ADAMW];
let fusedRegistered = false;

function registerFused(ext: StarKernelsAddon): void {
  if (fusedRegistered) return;
  const reg = (kernelName: string, f: (args: KernelArgs, backend: WasmBackendLike) => tf.TensorInfo | tf.TensorInfo[]) =>
    tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc: (args: KernelArgs) => f(args, args.backend as unknown as WasmBackendLike) });
  reg(GELU, (args, backend) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    const out = backend.makeOutput(x.shape, 'float32');
    const n = size(x.shape);
    if (n > 0) ext.unary(backend.wasm.HEAPU8, 1, offsetOf(backend, x), offsetOf(backend, out), n);
    return out;
  });
  reg(GELU_GRAD, (args, backend) => {
    const { x, dy } = args.inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
    const out = backend.makeOutput(x.shape, 'float32');
    const n = size(x.shape);
    if (n > 0) ext.geluGrad(backend.wasm.HEAPU8, offsetOf(backend, x), offsetOf(backend, dy), offsetOf(backend, out), n);
    return out;
  });
  reg(LAYER_NORM, (args, backend) => {
    const { x, gamma, beta } = args.inputs as { x: tf.TensorInfo; gamma: tf.TensorInfo; beta: tf.TensorInfo };
    const { eps } = args.attrs as { eps: number };
    const d = x.shape[x.shape.length - 1], rows = size(x.shape) / d;
    const rowShape = [...x.shape.slice(0, -1), 1];
    const y = backend.makeOutput(x.shape, 'float32');
    const mean = backend.makeOutput(rowShape, 'float32');
    const rstd = backend.makeOutput(rowShape, 'float32');
    if (rows > 0) {
      ext.layerNorm(
        backend.wasm.HEAPU8, offsetOf(backend, x), offsetOf(backend, gamma), offsetOf(backend, beta), offsetOf(backend, y),
        offsetOf(backend, mean), offsetOf(backend, rstd), rows, d, eps,
      );
    }
    return [y, mean, rstd];
  });
  reg(LAYER_NORM_GRAD, (args, backend) => {
    const { x, gamma, mean, rstd, dy } = args.inputs as Record<'x' | 'gamma' | 'mean' | 'rstd' | 'dy', tf.TensorInfo>;
    const d = x.shape[x.shape.length - 1], rows = size(x.shape) / d;
    const dx = backend.makeOutput(x.shape, 'float32');
    const dg = backend.makeOutput([d], 'float32');
    const db = backend.makeOutput([d], 'float32');
    ext.layerNormGrad(
      backend.wasm.HEAPU8, offsetOf(backend, x), offsetOf(backend, gamma), offsetOf(backend, mean), offsetOf(backend, rstd),
      offsetOf(backend, dy), offsetOf(backend, dx), offsetOf(backend, dg), offsetOf(backend, db), rows, d,
    );
    return [dx, dg, db];
  });
  reg(ADAMW, (args, backend) => {
    const { v, m, s, g, scale } = args.inputs as Record<'v' | 'm' | 's' | 'g' | 'scale', tf.TensorInfo>;
    const h = args.attrs as unknown as AdamWHyper;
    const outs = [v, m, s].map((t) => backend.makeOutput(t.shape, 'float32'));
    const n = size(v.shape);
    if (n > 0) {
      const [vo, mo, so] = outs.map((t) => offsetOf(backend, t));
      ext.adamw(
        backend.wasm.HEAPU8, offsetOf(backend, v), offsetOf(backend, m), offsetOf(backend, s), offsetOf(backend, g),
        offsetOf(backend, scale), vo, mo, so, n, h.beta1, h.beta2, h.eps, h.stepSize, h.decay,
      );
    }
    return outs;
  });
  fusedRegistered = true;
}

function unregisterFused(): void {
  if (!fusedRegistered) return;
  for (const name of FUSED) tf.unregisterKernel(name, 'wasm');
  fusedRegistered = false;
}

/** True when gelu(), layerNorm() and adamwStep() run as fused native kernels (the wasm backend is active). */
function fusedActive(...xs: tf.Tensor[]): boolean {
  return fusedRegistered && tf.getBackend() === 'wasm' && xs.every((x) => x.dtype === 'float32');
}

const nativeLayerNorm = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [x, gamma, beta] = args as tf.Tensor[];
  const save = args[3] as tf.GradSaveFunc;
  const eps = layerNormEps;
  const [y, mean, rstd] = tf.engine().runKernel(LAYER_NORM, { x, gamma, beta }, { eps }) as tf.Tensor[];
  save([x, gamma, mean, rstd]);
  return {
    value: y,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sx, sg, sm, sr] = saved;
      return tf.engine().runKernel(LAYER_NORM_GRAD, { x: sx, gamma: sg, mean: sm, rstd: sr, dy }) as tf.Tensor[];
    },
  };
});
/** customGrad functions take tensors only: eps is passed beside them. */
let layerNormEps = 1e-5;

/** LayerNorm over the last axis, composed of stock ops (as tf.moments does it). */
export function layerNormReference(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps = 1e-5): tf.Tensor {
  const { mean, variance } = tf.moments(x, -1, true);
  return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps))), gamma), beta);
}

/**
 * LayerNorm over the last axis with gamma and beta of shape [D]. With the native kernels on wasm it is one fused
 * kernel forward and one backward (instead of ~10 and ~25 kernel calls); otherwise layerNormReference.
 */
export function layerNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps = 1e-5): tf.Tensor {
  const d = x.shape[x.shape.length - 1];
  if (x.rank >= 1 && d > 0 && gamma.shape.join() === `${d}` && beta.shape.join() === `${d}` && fusedActive(x, gamma, beta)) {
    layerNormEps = eps;
    return nativeLayerNorm(x, gamma, beta) as tf.Tensor;
  }
  return layerNormReference(x, gamma, beta, eps);
}

const nativeGelu = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const x = args[0] as tf.Tensor, save = args[1] as tf.GradSaveFunc;
  save([x]);
  return {
    value: tf.engine().runKernel(GELU, { x }) as tf.Tensor,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.engine().runKernel(GELU_GRAD, { x: saved[0], dy }) as tf.Tensor,
  };
});

/** GELU, tanh approximation (GPT-2's), composed of stock ops. */
export function geluReference(x: tf.Tensor): tf.Tensor {
  const inner = tf.mul(tf.add(x, tf.mul(tf.mul(tf.mul(x, x), x), 0.044715)), Math.sqrt(2 / Math.PI));
  return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1));
}

/**
 * GELU (tanh approximation). On the wasm backend with the native kernels installed it is one fused kernel forward
 * and one backward (instead of ~8 and ~15 elementwise passes); otherwise geluReference.
 */
export function gelu(x: tf.Tensor): tf.Tensor {
  if (fusedActive(x)) return nativeGelu(x) as tf.Tensor;
  return geluReference(x);
}

// ---------------------------------------------------------------------------------------------------------------
// install / uninstall

/**
 * Registers the native kernels over the wasm backend's. Returns the kernel names replaced, or the reason none were.
 * Idempotent. Must run after `await tf.setBackend('wasm')` (the wasm backend registers its kernels on import).
 */
export function installNativeKernels(): { installed: string[]; error?: string } {
  if (process.env.STAR_NATIVE === '0') return { installed: [], error: 'disabled by STAR_NATIVE=0' };
  let ext: StarKernelsAddon;
  try {
    ext = loadAddon();
  } catch (e) {
    return { installed: [], error: (e as Error).message };
  }
  const installed: string[] = [];
  for (const [name, body] of KERNELS) {
    if (stock.has(name)) {
      installed.push(name);
      continue;
    }
    const orig = tf.getKernel(name, 'wasm');
    if (!orig) continue; // wasm backend not registered, or a kernel it lacks: keep whatever is there
    stock.set(name, orig);
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel({
      kernelName: name,
      backendName: 'wasm',
      setupFunc: orig.setupFunc,
      disposeFunc: orig.disposeFunc,
      kernelFunc: (args: KernelArgs) => {
        return body(args, args.backend as unknown as WasmBackendLike, ext) ?? orig.kernelFunc(args);
      },
    });
    installed.push(name);
  }
  if (installed.length === 0) return { installed, error: 'the wasm backend has none of the kernels (is it registered?)' };
  registerFused(ext);
  return { installed };
}

/** Puts the stock wasm kernels back (tests compare against them). */
export function uninstallNativeKernels(): void {
  unregisterFused();
  for (const [name, orig] of stock) {
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel(orig);
  }
  stock.clear();
}

/** Names of the kernels currently replaced. */
export function installedNativeKernels(): string[] {
  return [...stock.keys()];
}

/** Sets the number of OpenBLAS threads for big products; returns the count in effect, or 0 when the addon is not loaded. */
export function setThreads(n: number): number {
  if (!addon) return 0;
  blasThreads = n;
  useThreads(n);
  return threadsNow;
}

/** The loaded addon's file and thread count, or null when none is loaded. */
export function nativeInfo(): { path: string; threads: number; blasCore: string; version: number } | null {
  return addon && addonPath
    ? { path: addonPath, threads: blasThreads, blasCore: addon.coreName(), version: addon.version }
    : null;
}

// ---------------------------------------------------------------------------------------------------------------
// fused AdamW step

export interface AdamWHyper {
  beta1: number;
  beta2: number;
  eps: number;
  /** lr * sqrt(1 - beta2^t) / (1 - beta1^t): bias correction folded into the step size */
  stepSize: number;
  /** lr * weightDecay for decayed parameters, 0 for the others */
  decay: number;
}

/** One AdamW step composed of stock ops: returns the new [param, m, s]. `scale` is a scalar (gradient clipping). */
export function adamwStepReference(
  v: tf.Tensor, m: tf.Tensor, s: tf.Tensor, g: tf.Tensor, scale: tf.Tensor, h: AdamWHyper,
): [tf.Tensor, tf.Tensor, tf.Tensor] {
  return tf.tidy(() => {
    const gi = tf.mul(g, scale);
    const m1 = tf.add(tf.mul(m, h.beta1), tf.mul(gi, 1 - h.beta1));
    const s1 = tf.add(tf.mul(s, h.beta2), tf.mul(tf.square(gi), 1 - h.beta2));
    let update = tf.mul(tf.div(m1, tf.add(tf.sqrt(s1), h.eps)), h.stepSize);
    if (h.decay !== 0) update = tf.add(update, tf.mul(v, h.decay));
    return [tf.sub(v, update), m1, s1] as [tf.Tensor, tf.Tensor, tf.Tensor];
  });
}

/**
 * One AdamW step for one parameter: returns the new [param, m, s] (assign them). One native kernel instead of ~13
 * when the native kernels are installed on wasm; the same float32 arithmetic as adamwStepReference either way.
 */
export function adamwStep(
  v: tf.Tensor, m: tf.Tensor, s: tf.Tensor, g: tf.Tensor, scale: tf.Tensor, h: AdamWHyper,
): [tf.Tensor, tf.Tensor, tf.Tensor] {
  const same = m.shape.join() === v.shape.join() && s.shape.join() === v.shape.join() && g.shape.join() === v.shape.join();
  if (same && scale.size === 1 && fusedActive(v, m, s, g, scale)) {
    const attrs = { beta1: h.beta1, beta2: h.beta2, eps: h.eps, stepSize: h.stepSize, decay: h.decay };
    return tf.engine().runKernel(ADAMW, { v, m, s, g, scale }, attrs) as [tf.Tensor, tf.Tensor, tf.Tensor];
  }
  return adamwStepReference(v, m, s, g, scale, h);
}
