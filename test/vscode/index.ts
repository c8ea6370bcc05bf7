// The extension-test entry point: the `run()` module that @vscode/test-electron takes as extensionTestsPath, and
// that the offline workbench harness (scripts/vscode-tests.mjs) passes through the `payload` URL parameter.
import * as fs from 'fs';
import * as path from 'path';
import Mocha from 'mocha';

export function run(): Promise<void> {
  const mocha = new Mocha({ ui: 'tdd', color: false, timeout: 120_000 });
  const dir = path.join(__dirname, 'suite');
  for (const f of fs.readdirSync(dir).sort()) if (f.endsWith('.test.js')) mocha.addFile(path.join(dir, f));
  return new Promise((resolve, reject) => mocha.run((failures) => (failures > 0 ? reject(new Error(`${failures} test(s) failed`)) : resolve())));
}
