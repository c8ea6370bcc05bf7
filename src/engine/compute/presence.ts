// Which compute backends could start here, told without starting any: the extension host asks before offering a
// backend, and loading tfjs or Dawn there would cost it hundreds of megabytes. backend.ts makes the same checks
// (these) before it starts one for real.
import { createRequire } from 'module';
import type { BackendName } from '../store/format';
import { hasVulkanLoader, vulkanGpu } from './vulkan';

const nodeRequire = createRequire(__filename);

/** The order `auto` tries the backends in: the fastest first. */
export const BACKEND_ORDER: BackendName[] = ['tensorflow', 'webgpu', 'wasm', 'cpu'];

/** For each backend, null when it can start here, else why not (in words a person can act on). */
export type BackendPresence = Record<BackendName, string | null>;

export function backendPresence(): BackendPresence {
  return Object.fromEntries(BACKEND_ORDER.map((b) => [b, whyMissing(b)])) as BackendPresence;
}

/** Why the backend cannot start here, or null when nothing known stops it (starting it may still fail). */
export function whyMissing(backend: BackendName): string | null {
  if (backend === 'tensorflow') return tensorflowMissing();
  if (backend === 'webgpu') return webgpuMissing();
  return null; // wasm and cpu are bundled
}

const installed = (pkg: string) => {
  try {
    nodeRequire.resolve(pkg);
    return true;
  } catch {
    return false;
  }
};

function tensorflowMissing(): string | null {
  if (process.env.STAR_NO_TFJS_NODE === '1') return 'disabled by STAR_NO_TFJS_NODE';
  if (installed('@tensorflow/tfjs-node')) return null;
  return '@tensorflow/tfjs-node is not installed (an optional dependency whose install downloads libtensorflow; ' +
    'where that fails, use wasm)';
}

function webgpuMissing(): string | null {
  const linux = process.platform === 'linux';
  if (linux && !hasVulkanLoader()) return 'no Vulkan loader (libvulkan.so.1) for the webgpu package';
  // Without a GPU and its driver only a software Vulkan could answer, never taken unasked: Dawn stays unloaded.
  if (linux && process.env.STAR_WEBGPU_SOFTWARE !== '1') {
    const gpu = vulkanGpu();
    if (gpu.missing) return gpu.missing;
  }
  return installed('webgpu') ? null : 'the webgpu package is not installed';
}
