// UnsortedSegmentSum for the tfjs `wasm` backend, which has none: it is the gradient of tf.gather, so without it a
// model that embeds tokens by gather (vocabularies over 512) cannot be fine-tuned on wasm. Plain TypeScript over the
// wasm heap, in place (no copies): out[segmentIds[r], i] += x[r, i], ids outside [0, numSegments) dropped (as TF does).
import * as tf from '@tensorflow/tfjs-core';

/** The parts of tfjs-backend-wasm's BackendWasm this kernel uses. */
interface WasmBackendLike {
  wasm: { HEAPU8: Uint8Array };
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
}

function view(backend: WasmBackendLike, t: tf.TensorInfo, n: number): Float32Array | Int32Array {
  const d = backend.dataIdMap.get(t.dataId);
  if (!d) throw new Error('tensor not on the wasm backend');
  const buf = backend.wasm.HEAPU8.buffer; // read after every makeOutput: it may have grown the memory
  return t.dtype === 'float32' ? new Float32Array(buf, d.memoryOffset, n) : new Int32Array(buf, d.memoryOffset, n);
}

function unsortedSegmentSum(args: Parameters<tf.KernelFunc>[0]): tf.TensorInfo {
  const { x, segmentIds } = args.inputs as { x: tf.TensorInfo; segmentIds: tf.TensorInfo };
  const { numSegments } = args.attrs as { numSegments: number };
  const backend = args.backend as unknown as WasmBackendLike;
  if (x.dtype !== 'float32' && x.dtype !== 'int32') throw new Error(`UnsortedSegmentSum (wasm): dtype ${x.dtype} is not supported`);
  const rows = tf.util.sizeFromShape(segmentIds.shape);
  const innerShape = x.shape.slice(segmentIds.shape.length);
  const inner = tf.util.sizeFromShape(innerShape);
  const out = backend.makeOutput([numSegments, ...innerShape], x.dtype);
  const n = numSegments * inner;
  if (n === 0) return out;
  const o = view(backend, out, n);
  o.fill(0);
  if (rows * inner === 0) return out;
  const xs = view(backend, x, rows * inner);
  const ids = view(backend, segmentIds, rows) as Int32Array;
  for (let r = 0; r < rows; r++) {
    const s = ids[r];
    if (s < 0 || s >= numSegments) continue;
    const a = r * inner, b = s * inner;
    for (let i = 0; i < inner; i++) o[b + i] += xs[a + i];
  }
  return out;
}

/** Registers the kernel on the wasm backend (idempotent; a kernel the backend gains one day is left in place). */
export function registerWasmSegmentSum(): void {
  if (tf.getKernel('UnsortedSegmentSum', 'wasm')) return;
  tf.registerKernel({ kernelName: 'UnsortedSegmentSum', backendName: 'wasm', kernelFunc: unsortedSegmentSum });
}
