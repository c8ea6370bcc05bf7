// Bundles the CLI, the VS Code extension, its run worker and its webviews with esbuild.
import { build } from 'esbuild';
import { readFileSync } from 'fs';

// `star --version`: the version is fixed in the bundle, which then needs no package.json beside it.
const { version } = JSON.parse(readFileSync('package.json', 'utf8'));

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

const define = { STAR_VERSION: JSON.stringify(version) };
await build({ ...common, entryPoints: { cli: 'src/cli/main.ts' }, outdir: 'dist', define });
// The extension host loads extension.js; runs happen in worker.js, a child process it forks.
await build({ ...common, entryPoints: { extension: 'src/extension/extension.ts', worker: 'src/extension/worker.ts' }, outdir: 'dist' });
// Webviews are browser pages: one self-contained script each (their CSP allows nothing else).
await build({
  entryPoints: { report: 'webview/report.ts', exemplars: 'webview/exemplars.ts' },
  outdir: 'dist/webview',
  bundle: true,
  platform: 'browser',
  target: 'chrome120',
  format: 'iife',
  sourcemap: true,
  logLevel: 'warning',
});

// The tfjs wasm binaries live beside the bundle (setWasmPaths points there).
import { cpSync, mkdirSync } from 'fs';
mkdirSync('dist', { recursive: true });
for (const f of ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm'])
  cpSync(`node_modules/@tensorflow/tfjs-backend-wasm/dist/${f}`, `dist/${f}`);

// `npm run bench` (bench/bench.ts): the embedded model against its PyTorch twin.
await build({ ...common, entryPoints: { bench: 'bench/bench.ts', memory: 'bench/memory.ts' }, outdir: 'dist' });
// `node dist/memory.js`: the measurements src/engine/model/memory.ts is calibrated against.
