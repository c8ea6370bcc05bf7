import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import type { RunJson } from '../../../src/engine/store/format';
import type { RunResult } from '../../../src/extension/runner';
import { api, gsm8kRecords, scriptedGsm8kServer, servedProject } from '../helpers';

const KEY = 'sk-from-secret-storage-7f3a';

/** Every file under dir whose text holds s. */
function filesHolding(dir: string, s: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...filesHolding(p, s));
    else if (fs.readFileSync(p, 'utf8').includes(s)) out.push(p);
  }
  return out;
}

suite('API keys of served models', () => {
  test('a key set in the extension reaches the server from SecretStorage and is written to no file', async () => {
    await api();
    const records = gsm8kRecords(12);
    const server = await scriptedGsm8kServer(records, { apiKey: KEY });
    try {
      // the key's environment variable is not set: SecretStorage is the only source
      const dir = servedProject('served', records, 6, { baseUrl: server.url, apiKeyEnv: 'STAR_TEST_KEY_NOT_SET' });
      assert.strictEqual(await vscode.commands.executeCommand('starStudio.setApiKey', dir, KEY), server.url);
      const r = await vscode.commands.executeCommand<RunResult>('starStudio.runIteration', dir);
      assert.strictEqual(r?.status, 'finished', r?.error);
      assert.ok(server.log.answered > 0, 'the server answered requests that carried the key');
      const run = JSON.parse(fs.readFileSync(path.join(r!.runDir!, 'run.json'), 'utf8')) as RunJson;
      assert.strictEqual(run.iterationsDone, 1);
      assert.deepStrictEqual(filesHolding(dir, KEY), [], 'the key is in no file of the project or its runs');
    } finally {
      await server.close();
    }
  });
});
