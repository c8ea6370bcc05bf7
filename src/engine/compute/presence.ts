// Which compute backends could start here, told without starting any: the extension host asks before offering a
// backend, and loading tfjs or Dawn there would cost it hundreds of megabytes. backend.ts starts them for real.
import { createRequire } from 'module';
import type { BackendName } from '../store/format';
import { hasVulkanLoader, vulkanGpu } from './vulkan';

const nodeRequire = createRequire(__filename);

/** The order `auto` tries the backends in: the fastest first. */
export const BACKEND_ORDER: BackendName[] = ['tensorflow', 'webgpu', 'wasm', 'cpu'];

/** For each backend, null when it can start here, else why not (in words a person can act on). */
export type BackendPresence = Record<BackendName, string | null>;

const installed = (pkg: string) => {
  try {
    nodeRequire.resolve(pkg);
    return true;
  } catch {
    return false;
  }
};

export function backendPresence(): BackendPresence {
  const noTfjsNode = process.env.STAR_NO_TFJS_NODE === '1' ? 'disabled by STAR_NO_TFJS_NODE' : null;
  return {
    tensorflow: noTfjsNode ?? (installed('@tensorflow/tfjs-node')
      ? null
      : '@tensorflow/tfjs-node is not installed (its install downloads libtensorflow)'),
    webgpu: webgpuMissing(),
    wasm: null,
    cpu: null,
  };
}

// the checks backend.ts makes before it loads Dawn, in the same order
function webgpuMissing(): string | null {
  if (process.platform === 'linux' && !hasVulkanLoader()) return 'no Vulkan loader (libvulkan.so.1)';
  if (process.platform === 'linux' && process.env.STAR_WEBGPU_SOFTWARE !== '1') {
    const gpu = vulkanGpu();
    if (gpu.missing) return gpu.missing;
  }
  return installed('webgpu') ? null : 'the webgpu package is not installed';
}
