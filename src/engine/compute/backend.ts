// Picks the tfjs compute backend at run time: tfjs-node where it installed, WebGPU on a real GPU adapter,
// then WASM (with the native kernels when they load), then plain JS.
import * as fs from 'fs';
import { createRequire } from 'module';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
// The package's main file is not in its own `sideEffects` list, so a bundler drops it whole and `cpu` never
// registers; its ES module entry is listed, and registers the backend and its kernels.
import '@tensorflow/tfjs-backend-cpu/dist/index.js';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import type { BackendChoice, BackendName } from '../store/format';
import { installNativeKernels, nativeInfo } from './native';
import { BACKEND_ORDER as ORDER, whyMissing } from './presence';
import { registerWasmSegmentSum } from './segmentSum';
import { withoutSoftwareVulkan } from './vulkan';

export interface BackendInfo {
  name: BackendName;
  /** What ran, for run.json and reports, e.g. "wasm+native(BatchMatMul,Transpose)". */
  description: string;
  /** Why faster backends were passed over. */
  skipped: string[];
}

// Packages that are optional or platform-bound are loaded with the real `require`, never bundled.
const nodeRequire = createRequire(__filename);

interface GpuLike {
  requestAdapter(opts?: { powerPreference?: string }): Promise<object | null>;
}


let current: BackendInfo | undefined;

/** Selects (once per process) the backend; `auto` tries the fastest first. Throws when a named one is unavailable. */
export async function selectBackend(choice: BackendChoice = 'auto'): Promise<BackendInfo> {
  if (current && (choice === 'auto' || choice === current.name)) return current;
  const candidates = choice === 'auto' ? ORDER : [choice];
  const skipped: string[] = [];
  for (const name of candidates) {
    try {
      const description = await TRY[name]();
      applyFlags();
      current = { name, description, skipped };
      return current;
    } catch (e) {
      const reason = `${name}: ${(e as Error).message.split('\n')[0]}`;
      if (choice !== 'auto') throw new Error(`backend ${reason}`);
      skipped.push(reason);
    }
  }
  throw new Error(`no tfjs backend could start (${skipped.join('; ')})`);
}

/** What presence.ts knows stops a backend, as the error its start fails with. */
function refuseMissing(backend: BackendName): void {
  const why = whyMissing(backend);
  if (why) throw new Error(why);
}

const TRY: Record<BackendName, () => Promise<string>> = {
  async tensorflow() {
    refuseMissing('tensorflow');
    nodeRequire('@tensorflow/tfjs-node');
    if (!(await tf.setBackend('tensorflow'))) throw new Error('tfjs-node loaded but its backend did not start');
    return 'tensorflow (tfjs-node)';
  },

  async webgpu() {
    refuseMissing('webgpu');
    const softwareOk = process.env.STAR_WEBGPU_SOFTWARE === '1';
    const webgpu: { create: (opts: string[]) => GpuLike; globals: object } = nodeRequire('webgpu');
    return withoutSoftwareVulkan(!softwareOk, async () => {
      const g = globalThis as { navigator?: { gpu?: GpuLike } };
      if (!g.navigator?.gpu) {
        Object.assign(globalThis, webgpu.globals);
        Object.defineProperty(globalThis, 'navigator', { value: { gpu: webgpu.create([]) }, configurable: true });
      }
      const adapter = await g.navigator!.gpu!.requestAdapter({ powerPreference: 'high-performance' });
      if (!adapter) throw new Error('no GPU adapter');
      type AdapterInfo = { description?: string; vendor?: string; device?: string };
      const info = (adapter as unknown as { info?: AdapterInfo }).info ?? {};
      const label = `${info.vendor ?? ''} ${info.description || info.device || ''}`.trim();
      // A software Vulkan (Mesa's lavapipe) is slower than wasm: tests opt in with STAR_WEBGPU_SOFTWARE=1 to check
      // kernels.
      const fallback = (adapter as unknown as { isFallbackAdapter?: boolean }).isFallbackAdapter;
      const software = fallback || /swiftshader|llvmpipe|lavapipe/i.test(label);
      if (software && !softwareOk) throw new Error(`only a software adapter (${label || 'unnamed'})`);
      // The backend registers itself only if navigator.gpu exists when its module is first evaluated.
      nodeRequire('@tensorflow/tfjs-backend-webgpu');
      if (!(await tf.setBackend('webgpu'))) throw new Error('the webgpu backend did not start');
      // Fewer, larger queue submits: measured on an H200, +22% training and +33% sampling throughput over the
      // default 15.
      tf.env().set('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE', 128);
      return `webgpu (${label || 'GPU'})`;
    });
  },

  async wasm() {
    setWasmPaths(wasmDir());
    if (!(await tf.setBackend('wasm'))) throw new Error('the wasm backend did not start');
    registerWasmSegmentSum(); // the gradient of gather, which wasm lacks
    const native = installNativeKernels();
    // named because the BLAS kernel set decides float rounding: runs agree number for number only on the same one
    const blas = nativeInfo();
    const kernels = blas ? `; OpenBLAS ${blas.blasCore}, ${blas.threads} thread(s)` : '';
    if (native.installed.length > 0) return `wasm+native(${native.installed.join(',')}${kernels})`;
    return native.error ? `wasm (native kernels unavailable: ${native.error})` : 'wasm';
  },

  async cpu() {
    if (!(await tf.setBackend('cpu'))) throw new Error('the cpu backend did not start');
    return 'cpu';
  },
};

/** The .wasm binaries: beside the bundle in dist/ (CLI, extension), else in node_modules (test bundles in out/). */
function wasmDir(): string {
  if (fs.existsSync(path.join(__dirname, 'tfjs-backend-wasm-simd.wasm'))) return __dirname + path.sep;
  return path.dirname(nodeRequire.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm')) + path.sep;
}

/** STAR_TFJS_FLAGS='{"WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE": 64}' sets tfjs flags, for tuning a backend without a rebuild. */
function applyFlags(): void {
  const raw = process.env.STAR_TFJS_FLAGS;
  if (!raw) return;
  let flags: unknown;
  try {
    flags = JSON.parse(raw);
  } catch (e) {
    throw new Error(`STAR_TFJS_FLAGS is not JSON: ${(e as Error).message}`);
  }
  if (typeof flags !== 'object' || flags === null || Array.isArray(flags)) throw new Error('STAR_TFJS_FLAGS must be a JSON object');
  for (const [k, v] of Object.entries(flags)) tf.env().set(k, v as number | boolean);
}
