import * as assert from 'assert';
import * as path from 'path';
import * as vscode from 'vscode';
import { arithmetic } from '../../../src/engine/tasks/arithmetic';
import { applyExemplarEdit } from '../../../src/extension/exemplarEditor';
import { readExemplars } from '../../../src/extension/exemplarModel';
import { api, newTinyProject, until } from '../helpers';

suite('few-shot exemplar editor', () => {
  test('Open Few-shot Exemplars opens P in the custom editor', async () => {
    await api();
    const dir = await newTinyProject('p-editor');
    await vscode.commands.executeCommand('starStudio.openExemplars', dir);
    const tab = await until('the exemplar editor tab', () => vscode.window.tabGroups.activeTabGroup.activeTab);
    assert.ok(tab.input instanceof vscode.TabInputCustom, 'a custom editor');
    assert.strictEqual((tab.input as vscode.TabInputCustom).viewType, 'starStudio.exemplars');
    assert.strictEqual((tab.input as vscode.TabInputCustom).uri.fsPath, path.join(dir, 'exemplars.jsonl'));
  });

  test('field edits go through the document: undo and redo work, and the file stays JSONL', async () => {
    await api();
    const dir = await newTinyProject('p-undo');
    const uri = vscode.Uri.file(path.join(dir, 'exemplars.jsonl'));
    await vscode.commands.executeCommand('vscode.openWith', uri, 'starStudio.exemplars');
    const doc = await vscode.workspace.openTextDocument(uri);
    const original = doc.getText();
    const first = JSON.parse(doc.lineAt(0).text);
    assert.ok(await applyExemplarEdit(doc, { type: 'edit', line: 0, field: 'rationale', value: '9+9=18c1|' }));
    assert.strictEqual(JSON.parse(doc.lineAt(0).text).rationale, '9+9=18c1|');
    assert.strictEqual(JSON.parse(doc.lineAt(0).text).question, first.question, 'other fields kept');
    assert.ok(doc.isDirty);
    await vscode.commands.executeCommand('undo');
    await until('undo', () => doc.getText() === original);
    await vscode.commands.executeCommand('redo');
    await until('redo', () => doc.getText() !== original);
    await doc.save();
    for (const l of doc.getText().split('\n').filter((x) => x.trim())) JSON.parse(l);
    assert.strictEqual(doc.lineCount - 1, original.split('\n').length - 1);
  });

  test('validation: a rationale that does not lead to the gold answer, a bad line, a prompt over the block size', () => {
    const good = JSON.stringify({ question: '12+34', rationale: '2+4=6c0|1+3=4c0|', answer: '46' });
    const wrongPad = JSON.stringify({ question: '12+34', rationale: '2+4=7c0|1+3=4c0|', answer: '46' });
    const wrongGold = JSON.stringify({ question: '12+34', rationale: '2+4=6c0|1+3=4c0|', answer: '47' });
    const v = readExemplars([good, wrongPad, wrongGold, '{not json', ''].join('\n'), arithmetic, 128);
    assert.strictEqual(v.length, 4);
    assert.deepStrictEqual([v[0].errors, v[0].warnings], [[], []]);
    assert.match(v[1].warnings.join(), /scratchpad is not the column sums/);
    assert.match(v[2].errors.join(), /wrong/);
    assert.match(v[3].errors.join(), /malformed JSON/);
    assert.ok(v[0].length > 0);
    assert.match(readExemplars(good, arithmetic, 10)[0].warnings.join(), /over the model's block size of 10/);
  });
});
