// Bundles each test file with esbuild (as the CLI and extension are bundled), so tests run what ships:
// tfjs-core's gradient registrations are ES modules that plain `require` of tsc output cannot load.
import { build } from 'esbuild';
import { readdirSync } from 'fs';

const dir = 'test/unit';
const entryPoints = readdirSync(dir).filter((f) => f.endsWith('.test.ts')).map((f) => `${dir}/${f}`);
await build({
  entryPoints,
  outdir: 'out/test/unit',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: true,
  logLevel: 'error',
  external: ['@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu', 'webgpu', 'vscode'],
});
