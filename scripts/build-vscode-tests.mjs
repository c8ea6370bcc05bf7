// Bundles the extension-test suites (test/vscode) for the extension host: index.js plus one file per suite, and
// restricted.js plus the suites that run in an untrusted folder.
import { build } from 'esbuild';
import { readdirSync } from 'fs';

const tests = (dir) => readdirSync(`test/vscode/${dir}`).filter((f) => f.endsWith('.test.ts')).map((f) => `test/vscode/${dir}/${f}`);
const common = { bundle: true, platform: 'node', target: 'node20', format: 'cjs', sourcemap: true, logLevel: 'warning', external: ['vscode', 'mocha'] };
await build({ ...common, entryPoints: ['test/vscode/index.ts', 'test/vscode/restricted.ts'], outdir: 'out/test/vscode' });
await build({ ...common, entryPoints: tests('suite'), outdir: 'out/test/vscode/suite' });
await build({ ...common, entryPoints: tests('restricted'), outdir: 'out/test/vscode/restricted' });
