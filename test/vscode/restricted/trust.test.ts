import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { runOverrides } from '../../../src/extension/settings';
import { api, gsm8kRecords, scriptedGsm8kServer, servedProject, until, workspaceDir } from '../helpers';

// The folder comes from scripts/vscode-tests.mjs --restricted: an arithmetic project `guarded` and a
// .vscode/settings.json that sets run settings.
const dir = () => path.join(workspaceDir(), 'guarded');
/** A project on a served model that answers, fine-tuned by a command that writes EXECUTED: in a trusted folder a
 *  run of it gets as far as that command (suite 5 runs the same served set-up to the end). */
function servedProjectWithCommand(url: string, records: Record<string, unknown>[]): { dir: string; executed: string } {
  const executed = path.join(workspaceDir(), 'served', 'EXECUTED');
  const command = `node -e "require('fs').writeFileSync(process.argv[1], '')" ${JSON.stringify(executed)}`;
  return { dir: servedProject('served', records, 4, { baseUrl: url, apiKeyEnv: '' }, { trainer: { kind: 'command', command } }), executed };
}

suite('an untrusted workspace (restricted mode)', () => {
  test('the folder is untrusted and the extension still activates and lists the project', async () => {
    assert.strictEqual(vscode.workspace.isTrusted, false, 'the harness opened an untrusted folder');
    const a = await api();
    const roots = await until('the project in the tree', async () => {
      const r = await a.tree.getChildren();
      return r.some((n) => n.kind === 'project' && n.dir === dir()) && r;
    });
    assert.ok(roots);
  });

  test('runs are refused without a prompt: no worker, no request, no run store, star.json\'s command never runs', async () => {
    const a = await api();
    const records = gsm8kRecords(8);
    const server = await scriptedGsm8kServer(records);
    try {
      const p = servedProjectWithCommand(server.url, records);
      // runIterations without a count would ask for one; it must refuse before asking (a prompt would hang here)
      for (const [cmd, ...args] of [['starStudio.runIteration', p.dir], ['starStudio.runIterations', p.dir, 1], ['starStudio.runIterations', p.dir], ['starStudio.resume', p.dir]] as const) {
        const r = await vscode.commands.executeCommand(cmd, ...args);
        assert.strictEqual(r, undefined, `${cmd} started nothing`);
        assert.strictEqual(a.runner.running, false);
      }
      // time for a worker that must not exist to have reached the server and written something
      await new Promise((r) => setTimeout(r, 2000));
      assert.strictEqual(server.log.answered, 0, 'no request reached the model server');
      assert.ok(!fs.existsSync(path.join(p.dir, '.star')), 'no run store was made');
      assert.ok(!fs.existsSync(p.executed), 'the trainer command did not execute');
    } finally {
      await server.close();
    }
  });

  test('the run settings the workspace makes are ignored until it is trusted', async () => {
    const written = JSON.parse(fs.readFileSync(path.join(workspaceDir(), '.vscode', 'settings.json'), 'utf8'));
    assert.strictEqual(written['starStudio.iterations'], 9, 'the harness wrote .vscode/settings.json');
    const c = vscode.workspace.getConfiguration('starStudio');
    assert.strictEqual(c.get('iterations'), null);
    assert.strictEqual(c.get('backend'), 'project');
    assert.deepStrictEqual(runOverrides(false), { compute: undefined, seed: undefined, sampling: undefined, honourAnnotations: undefined });
  });

  test('P stays readable: Open Few-shot Exemplars opens the custom editor', async () => {
    await vscode.commands.executeCommand('starStudio.openExemplars', dir());
    const tab = await until('the exemplar editor tab', () => vscode.window.tabGroups.activeTabGroup.activeTab);
    assert.ok(tab.input instanceof vscode.TabInputCustom, 'a custom editor');
    assert.strictEqual((tab.input as vscode.TabInputCustom).uri.fsPath, path.join(dir(), 'exemplars.jsonl'));
  });
});
