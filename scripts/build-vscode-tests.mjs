// Bundles the extension-test suite (test/vscode) for the extension host: index.js plus one file per suite.
import { build } from 'esbuild';
import { readdirSync } from 'fs';

const suites = readdirSync('test/vscode/suite').filter((f) => f.endsWith('.test.ts')).map((f) => `test/vscode/suite/${f}`);
const common = { bundle: true, platform: 'node', target: 'node20', format: 'cjs', sourcemap: true, logLevel: 'warning', external: ['vscode', 'mocha'] };
await build({ ...common, entryPoints: ['test/vscode/index.ts'], outdir: 'out/test/vscode' });
await build({ ...common, entryPoints: suites, outdir: 'out/test/vscode/suite' });
