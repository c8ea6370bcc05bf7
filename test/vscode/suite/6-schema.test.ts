import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { ConfigError, loadProjectConfig } from '../../../src/engine/project';
import { workspaceDir } from '../helpers';

/** star.json with three mistakes, one a line, and an empty "training" to complete in. */
const TEXT = [
  '{',
  '  "task": "arithmetic",',
  '  "model": { "baseUrl": "http://localhost:8000/v1" },',
  '  "sampling": { "temperature": -1, "kind": "greedy" },',
  '  "training": {  }',
  '}',
  '',
].join('\n');

/** The diagnostics of `uri` once every one of `wanted` is among them: waits for the language service, no sleeps. */
function diagnosticsOf(uri: vscode.Uri, wanted: RegExp[], ms = 60_000): Promise<vscode.Diagnostic[]> {
  return new Promise((resolve, reject) => {
    const now = () => vscode.languages.getDiagnostics(uri);
    const done = () => wanted.every((re) => now().some((d) => re.test(d.message)));
    const settle = () => {
      if (!done()) return;
      sub.dispose();
      clearTimeout(timer);
      resolve(now());
    };
    const sub = vscode.languages.onDidChangeDiagnostics((e) => {
      if (e.uris.some((u) => u.toString() === uri.toString())) settle();
    });
    const timer = setTimeout(() => {
      sub.dispose();
      const has = JSON.stringify(now().map((d) => d.message));
      reject(new Error(`no diagnostics ${wanted.join(', ')} on ${uri.fsPath}; it has: ${has}`));
    }, ms);
    settle();
  });
}

const label = (i: vscode.CompletionItem) => (typeof i.label === 'string' ? i.label : i.label.label);
const docOf = (i: vscode.CompletionItem) =>
  (typeof i.documentation === 'string' ? i.documentation : i.documentation?.value ?? '');

suite('star.json in the editor', () => {
  const dir = path.join(workspaceDir(), 'schema-check');
  const file = path.join(dir, 'star.json');

  suiteSetup(() => {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(file, TEXT);
  });

  test('the built-in JSON language service checks star.json against the schema the extension ships', async () => {
    assert.ok(vscode.extensions.getExtension('vscode.json-language-features'), 'JSON Language Features is built in');
    const uri = vscode.Uri.file(file);
    const [served, range, unknown] = [/Only for a served model/, /below the minimum of 0/, /Property kind is not allowed/];
    const found = diagnosticsOf(uri, [served, range, unknown]);
    await vscode.window.showTextDocument(await vscode.workspace.openTextDocument(uri));
    const ds = await found;
    const at = (re: RegExp) => ds.find((d) => re.test(d.message))!.range.start.line + 1;
    assert.deepStrictEqual([at(served), at(range), at(unknown)], [3, 4, 4]);
    assert.deepStrictEqual(ds.filter((d) => /schema|load/i.test(d.message)).map((d) => d.message), [],
      'the schema loaded from the extension, offline');
    // the engine refuses the same file at the same lines, from the same definition
    assert.throws(() => loadProjectConfig(dir), (e: unknown) => e instanceof ConfigError &&
      e.message.includes(`${file}:3: "model.baseUrl" is not allowed here: only for a served model ("backend": `) &&
      e.message.includes(`${file}:4: "sampling.temperature" must be a number >= 0 and <= 10 (got -1)`) &&
      e.message.includes(`${file}:4: unknown setting "sampling.kind"`));
  });

  test('completion inside "training" offers its settings with their descriptions and ranges', async () => {
    const uri = vscode.Uri.file(file);
    const doc = await vscode.workspace.openTextDocument(uri);
    const line = TEXT.split('\n').findIndex((l) => l.includes('"training"'));
    const inside = new vscode.Position(line, doc.lineAt(line).text.indexOf('{') + 2);
    const list = await vscode.commands.executeCommand<vscode.CompletionList>(
      'vscode.executeCompletionItemProvider', uri, inside);
    const items = new Map(list.items.map((i) => [label(i), i]));
    for (const key of ['schedule', 'baseSteps', 'batchSize', 'lr', 'warmupFraction', 'weightDecay', 'gradClip'])
      assert.ok(items.has(key), `${key} is offered; offered: ${[...items.keys()].join(', ')}`);
    assert.ok(!items.has('temperature'), 'only the keys of "training"');
    assert.match(docOf(items.get('lr')!), /Peak learning rate of AdamW.*A number > 0 and <= 1\. Default: 0\.001\./s);
    assert.match(docOf(items.get('baseSteps')!), /Default: 300 for arithmetic, 200 for gsm8k and multiple-choice/);
  });
});
