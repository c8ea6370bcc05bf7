// Bundles the CLI (and later the extension and webviews) with esbuild.
import { build } from 'esbuild';

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: true,
  logLevel: 'warning',
  // Native and optional packages are resolved at run time, never bundled.
  external: ['@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu', 'webgpu', 'vscode'],
};

await build({ ...common, entryPoints: { cli: 'src/cli/main.ts' }, outdir: 'dist' });

// The tfjs wasm binaries live beside the bundle (setWasmPaths points there).
import { cpSync, mkdirSync } from 'fs';
mkdirSync('dist', { recursive: true });
for (const f of ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm'])
  cpSync(`node_modules/@tensorflow/tfjs-backend-wasm/dist/${f}`, `dist/${f}`);
