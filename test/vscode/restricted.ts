// The extension-test entry point for a workbench whose folder is NOT trusted (restricted mode): the same run() contract
// as index.ts, with the suites of test/vscode/restricted. scripts/vscode-tests.mjs --restricted prepares the folder.
import * as fs from 'fs';
import * as path from 'path';
import Mocha from 'mocha';

export function run(): Promise<void> {
  const mocha = new Mocha({ ui: 'tdd', color: false, timeout: 60_000 });
  const dir = path.join(__dirname, 'restricted');
  for (const f of fs.readdirSync(dir).sort()) if (f.endsWith('.test.js')) mocha.addFile(path.join(dir, f));
  return new Promise((resolve, reject) => mocha.run((failures) => (failures > 0 ? reject(new Error(`${failures} test(s) failed`)) : resolve())));
}
