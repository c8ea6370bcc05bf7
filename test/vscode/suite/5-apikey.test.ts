import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import type { RunJson } from '../../../src/engine/store/format';
import { gsm8k } from '../../../src/engine/tasks/gsm8k';
import type { RunResult } from '../../../src/extension/runner';
import { startScriptedServer } from '../../fixtures/openaiServer';
import { api, workspaceDir } from '../helpers';

const root = path.resolve(__dirname, '../../../..');
const GSM8K = path.resolve(root, '..', 'shared', 'datasets', 'gsm8k', 'test.jsonl');
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
    const records = fs.readFileSync(GSM8K, 'utf8').split('\n').filter((l) => l.trim()).slice(0, 12).map((l) => JSON.parse(l));
    const server = await startScriptedServer(
      records.map((r, i) => { const ex = gsm8k.exemplarFromRecord(r, `r${i}`); return { question: ex.question, gold: ex.gold, rationale: ex.rationale, right: i % 2 === 0 }; }),
      { apiKey: KEY },
    );
    try {
      const dir = path.join(workspaceDir(), 'served');
      fs.mkdirSync(path.join(dir, 'data'), { recursive: true });
      const jsonl = (rows: unknown[]) => rows.map((r) => JSON.stringify(r) + '\n').join('');
      fs.writeFileSync(path.join(dir, 'exemplars.jsonl'), jsonl(records.slice(0, 2)));
      fs.writeFileSync(path.join(dir, 'data/train.jsonl'), jsonl(records.slice(2, 8)));
      fs.writeFileSync(path.join(dir, 'data/eval.jsonl'), jsonl(records.slice(8, 12)));
      // the key's environment variable is not set: SecretStorage is the only source
      fs.writeFileSync(path.join(dir, 'star.json'), JSON.stringify({
        task: 'gsm8k',
        model: { backend: 'openai', baseUrl: server.url, model: 'scripted-7b', apiKeyEnv: 'STAR_TEST_KEY_NOT_SET', retryBaseSeconds: 0.01 },
        sampling: { shots: 1, maxNewTokens: 200 },
        star: { iterations: 1 },
      }, null, 2));

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
