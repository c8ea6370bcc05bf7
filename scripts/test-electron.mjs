// `npm run test:vscode`: the same extension-test suite in a desktop VS Code that @vscode/test-electron downloads
// (where it can be downloaded; the offline workbench harness is scripts/vscode-tests.mjs).
import { runTests } from '@vscode/test-electron';
import fs from 'fs';
import os from 'os';
import path from 'path';

const root = path.resolve(import.meta.dirname, '..');
const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'star-electron-ws-'));
try {
  await runTests({
    version: '1.100.3',
    extensionDevelopmentPath: root,
    extensionTestsPath: path.join(root, 'out/test/vscode/index.js'),
    launchArgs: [ws, '--disable-workspace-trust', '--disable-extensions'],
  });
} catch (e) {
  console.error(e);
  process.exitCode = 1;
} finally {
  fs.rmSync(ws, { recursive: true, force: true });
}
