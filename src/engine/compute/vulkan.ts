// What Dawn (the `webgpu` package) would find through Vulkan on Linux, looked up before Dawn is loaded: Dawn prints
// to stderr for every adapter it opens, and opening a software one only to refuse it is what made each start noisy.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

/** Dawn reaches the GPU through Vulkan on Linux; without the loader it would only print a warning and find nothing. */
export function hasVulkanLoader(): boolean {
  const dirs = (process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean);
  if (dirs.some((d) => fs.existsSync(path.join(d, 'libvulkan.so.1')))) return true;
  try {
    return fs.readFileSync('/etc/ld.so.cache').includes('libvulkan.so.1');
  } catch {
    const dirs = ['/usr/lib/x86_64-linux-gnu', '/usr/lib64', '/usr/lib'];
    return dirs.some((d) => fs.existsSync(path.join(d, 'libvulkan.so.1')));
  }
}

/** Vulkan drivers that run on the CPU, as globs over manifest names (the loader's VK_LOADER_DRIVERS_DISABLE form). */
const SOFTWARE_DRIVERS = ['*lvp_icd*', '*swiftshader*'];

/** The loader's own variables: a person who set one chose their drivers, and nothing here second-guesses that. */
const OWN_CHOICE = [
  'VK_ICD_FILENAMES', 'VK_DRIVER_FILES', 'VK_ADD_DRIVER_FILES', 'VK_LOADER_DRIVERS_SELECT', 'VK_LOADER_DRIVERS_DISABLE',
];

const chosen = () => OWN_CHOICE.some((k) => process.env[k] !== undefined);

const isSoftware = (manifest: string) => /lvp_icd|swiftshader/.test(manifest);

/**
 * Whether a GPU and a Vulkan driver for it are both here: a device node (NVIDIA's, a DRM render node, WSL's) and
 * a driver manifest of that kind where the loader looks. `missing` says what is not, for the backend's skip reason.
 */
export function vulkanGpu(): { missing?: string } {
  if (chosen()) return {};
  const devices = [...list('/dev/dri').map((f) => `/dev/dri/${f}`), ...list('/dev').map((f) => `/dev/${f}`)]
    .filter((d) => /^\/dev\/(nvidia\d+|dxg|dri\/renderD\d+)$/.test(d));
  if (devices.length === 0) return { missing: 'no GPU device (/dev/nvidia*, /dev/dri/renderD*, /dev/dxg)' };
  const drivers = manifestDirs().flatMap(list).filter((f) => f.endsWith('.json') && !isSoftware(f));
  const nvidia = drivers.some((f) => f.startsWith('nvidia'));
  const drm = drivers.some((f) => !f.startsWith('nvidia') && !f.startsWith('dzn'));
  const usable = devices.some((d) =>
    d.startsWith('/dev/nvidia') ? nvidia : d === '/dev/dxg' ? drivers.some((f) => f.startsWith('dzn')) : drm);
  if (usable) return {};
  return { missing: `no Vulkan driver for ${devices.join(', ')} (none in ${manifestDirs().join(', ')})` };
}

/**
 * Runs `fn` with the software Vulkan drivers hidden from Dawn when `hide`. Dawn opens every adapter it finds, and
 * for lavapipe, which reports a million dynamic buffers per pipeline layout, prints two "artificially reduced"
 * warnings; hidden, it is never opened. The loader reads the variable when Dawn starts it, within `fn`.
 */
export async function withoutSoftwareVulkan<T>(hide: boolean, fn: () => Promise<T>): Promise<T> {
  if (!hide || chosen()) return fn();
  process.env.VK_LOADER_DRIVERS_DISABLE = SOFTWARE_DRIVERS.join(',');
  try {
    return await fn();
  } finally {
    delete process.env.VK_LOADER_DRIVERS_DISABLE;
  }
}

/** Where the Vulkan loader looks for driver manifests on Linux. */
function manifestDirs(): string[] {
  const config = (process.env.XDG_CONFIG_DIRS || '/etc/xdg').split(':');
  const data = [process.env.XDG_DATA_HOME || path.join(os.homedir(), '.local/share'),
    ...(process.env.XDG_DATA_DIRS || '/usr/local/share:/usr/share').split(':')];
  return [...config, '/etc', ...data].filter(Boolean).map((d) => path.join(d, 'vulkan', 'icd.d'));
}

function list(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}
