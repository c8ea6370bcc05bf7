import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import type { Annotation, GenerationLine, IterationMetrics } from '../../../src/engine/store/format';
import { RunStore } from '../../../src/engine/store/runStore';
import type { Api } from '../../../src/extension/extension';
import { buildReport } from '../../../src/extension/reportData';
import type { RunResult } from '../../../src/extension/runner';
import { api, newTinyProject, projectWithRun, readJsonl, until } from '../helpers';

/** Runs f while recording the rows whose history the report's webview asks for: it asks for the row it selects. */
async function watchingSelections(a: Api, f: (asked: string[]) => Promise<void>) {
  const asked: string[] = [];
  const receive = a.report.receive.bind(a.report);
  a.report.receive = async (m) => { if (m.type === 'history') asked.push(m.id); return receive(m); };
  try {
    await f(asked);
  } finally {
    a.report.receive = receive;
  }
}

suite('report, annotations, failed questions, export', () => {
  test('the report opens in a webview and shows the run store\'s rows and counts', async () => {
    const a = await api();
    const { dir, result } = await projectWithRun();
    a.report.data = undefined;
    await vscode.commands.executeCommand('starStudio.openReport', dir);
    // the data is sent when the webview's script says it is ready: this proves it ran under the CSP
    const data = await until('the report webview to load', () => a.report.data);
    const m = JSON.parse(fs.readFileSync(path.join(result.runDir!, 'iter-1', 'metrics.json'), 'utf8')) as IterationMetrics;
    assert.strictEqual(data.iteration, 1);
    assert.strictEqual(data.rows.length, m.train.total);
    assert.strictEqual(data.rows.filter((r) => r.stage === 'direct').length, m.train.correct);
    assert.strictEqual(data.rows.filter((r) => r.stage === 'rationalized').length, m.train.rationalized);
    assert.strictEqual(data.rows.filter((r) => r.stage === 'failed').length, m.train.failed);
    assert.deepStrictEqual(data.iterations.map((s) => s.evalAccuracy), [0, 1].map((n) => new RunStore(result.runDir!).readMetrics(n)!.eval.accuracy));
    const tab = vscode.window.tabGroups.all.flatMap((g) => g.tabs).find((t) => t.input instanceof vscode.TabInputWebview && t.label.startsWith('STaR Report'));
    assert.ok(tab, 'a STaR Report tab is open');
  });

  test('accept / reject / edit / note are appended to annotations.jsonl, survive a reload, and mark disagreements', async () => {
    const a = await api();
    const { result } = await projectWithRun();
    const file = path.join(result.runDir!, 'annotations.jsonl');
    const before = fs.existsSync(file) ? readJsonl<Annotation>(file).length : 0;
    const rows = a.report.data!.rows;
    const failed = rows.find((r) => r.stage === 'failed')!;
    await a.report.receive({ type: 'annotate', id: failed.id, patch: { verdict: 'accept' } });
    await a.report.receive({ type: 'annotate', id: failed.id, patch: { rationale: 'edited by a person', note: 'looks fine' } });
    const lines = readJsonl<Annotation>(file);
    assert.strictEqual(lines.length, before + 2, 'appended, never rewritten');
    assert.deepStrictEqual({ ...lines[lines.length - 2], time: '' }, { time: '', iteration: 1, id: failed.id, verdict: 'accept' });
    // a fresh read of the run store (as after a reload) has all of it
    const row = buildReport(new RunStore(result.runDir!), 1).rows.find((r) => r.id === failed.id)!;
    assert.strictEqual(row.verdict, 'accept');
    assert.strictEqual(row.editedRationale, 'edited by a person');
    assert.strictEqual(row.note, 'looks fine');
    assert.strictEqual(row.disagrees, true, 'a wrong answer accepted disagrees with the automatic verdict');
  });

  test('Promote to P appends the rationale to exemplars.jsonl through the document', async () => {
    const a = await api();
    const { dir } = await projectWithRun();
    const p = path.join(dir, 'exemplars.jsonl');
    const n = readJsonl(p).length;
    const row = a.report.data!.rows[0];
    await a.report.receive({ type: 'promote', id: row.id });
    const after = readJsonl<{ id: string; question: string; rationale: string }>(p);
    assert.strictEqual(after.length, n + 1);
    assert.strictEqual(after[n].question, row.question);
    assert.strictEqual(after[n].id, `promoted-${row.id}`);
    assert.ok(a.report.data!.rows.find((r) => r.id === row.id)!.promoted);
    // undo-able like any edit: the document knows it
    const doc = vscode.workspace.textDocuments.find((d) => d.uri.fsPath === p)!;
    assert.ok(doc && !doc.isDirty, 'saved');
  });

  test('failed questions are warnings on their dataset lines, with a hover showing the rationale', async () => {
    await api();
    const { dir, result } = await projectWithRun();
    await vscode.commands.executeCommand('starStudio.selectIteration', dir, result.runDir, 1);
    const train = vscode.Uri.file(path.join(dir, 'data', 'train.jsonl'));
    const lines = new RunStore(result.runDir!).readGenerations(1);
    const failed = lines.filter((l) => l.stage === 'failed');
    const diags = vscode.languages.getDiagnostics(train);
    assert.strictEqual(diags.length, failed.length);
    assert.deepStrictEqual(diags.map((d) => d.range.start.line).sort((x, y) => x - y), failed.map((l) => l.line! - 1).sort((x, y) => x - y));
    const g = failed[0] as GenerationLine;
    assert.match(diags.find((d) => d.range.start.line === g.line! - 1)!.message, new RegExp(`gold is ${g.gold}`));
    const doc = await vscode.workspace.openTextDocument(train);
    const hovers = await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', doc.uri, new vscode.Position(g.line! - 1, 2));
    const text = hovers.flatMap((h) => h.contents.map((c) => (typeof c === 'string' ? c : c.value))).join('\n').replace(/&nbsp;/g, ' ');
    assert.ok(text.includes(g.rationale), 'the hover has the rationale');
    assert.ok(text.includes(`gold: ${g.gold}`));
  });

  test('from a dataset line, a quick fix and the hover\'s link open the report at that question', async () => {
    const a = await api();
    const { dir, result } = await projectWithRun();
    await vscode.commands.executeCommand('starStudio.selectIteration', dir, result.runDir, 1);
    const lines = new RunStore(result.runDir!).readGenerations(1);
    const g = lines.find((l) => l.stage === 'failed')!;
    const doc = await vscode.workspace.openTextDocument(vscode.Uri.file(path.join(dir, 'data', 'train.jsonl')));
    const at = new vscode.Range(g.line! - 1, 3, g.line! - 1, 3);
    const actions = await vscode.commands.executeCommand<vscode.CodeAction[]>('vscode.executeCodeActionProvider', doc.uri, at);
    const fix = actions.find((x) => x.title.startsWith('STaR:'))!;
    assert.ok(fix, `a STaR quick fix on line ${g.line}`);
    assert.match(fix.title, new RegExp(`show ${g.id} in the report \\(iteration 1, failed\\)`));
    assert.ok(fix.isPreferred, 'preferred on a failed question');
    const hovers = await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', doc.uri, at.start);
    const link = hovers.flatMap((h) => h.contents.map((c) => (typeof c === 'string' ? c : c.value))).join('\n').match(/\(command:starStudio\.showInReport\?([^)]+)\)/);
    assert.ok(link, 'the hover links to the report');
    assert.deepStrictEqual(JSON.parse(decodeURIComponent(link[1])), fix.command!.arguments);

    // the webview asks for the history of the row it selected: the focused question is the one on the line
    await watchingSelections(a, async (asked) => {
      await vscode.commands.executeCommand(fix.command!.command, ...fix.command!.arguments!);
      await until('the report to select the question', () => asked.includes(g.id));
      assert.strictEqual(a.report.data!.iteration, 1);
      const other = lines.find((l) => l.stage !== 'failed' && l.line);
      if (other) {
        const more = await vscode.commands.executeCommand<vscode.CodeAction[]>('vscode.executeCodeActionProvider', doc.uri, new vscode.Range(other.line! - 1, 0, other.line! - 1, 0));
        const f = more.find((x) => x.title.startsWith('STaR:'))!;
        assert.ok(f && !f.isPreferred, 'offered, not preferred, on a question that did not fail');
        await vscode.commands.executeCommand(f.command!.command, ...f.command!.arguments!);
        await until('the report to select the second question', () => asked.includes(other.id));
      }
    });
  });

  test('the report jumps to a question\'s line in the dataset', async () => {
    const a = await api();
    const { dir } = await projectWithRun();
    await vscode.commands.executeCommand('starStudio.openReport', dir);
    const row = a.report.data!.rows.find((r) => r.line)!;
    await a.report.receive({ type: 'reveal', id: row.id });
    const ed = await until('the dataset editor', () => vscode.window.activeTextEditor?.document.uri.fsPath.endsWith('train.jsonl') && vscode.window.activeTextEditor);
    assert.strictEqual(ed.selection.active.line, row.line! - 1);
  });

  test('Export Dataset leaves out rejected rationales', async () => {
    const a = await api();
    const { dir, result } = await projectWithRun();
    const store = new RunStore(result.runDir!);
    const out1 = path.join(dir, 'export-1.jsonl');
    const r1 = (await vscode.commands.executeCommand<{ rows: number }>('starStudio.exportDataset', { projectDir: dir, format: 'sft', out: out1 }))!;
    const kept = store.readGenerations(1).find((l) => l.correct && !l.hintLeak);
    if (kept) {
      await a.report.receive({ type: 'annotate', id: kept.id, patch: { verdict: 'reject' } });
      const out2 = path.join(dir, 'export-2.jsonl');
      const r2 = (await vscode.commands.executeCommand<{ rows: number }>('starStudio.exportDataset', { projectDir: dir, format: 'sft', out: out2 }))!;
      assert.strictEqual(r2.rows, r1.rows - 1);
      assert.ok(!readJsonl<{ metadata: { id: string } }>(out2).some((r) => r.metadata.id === kept.id));
    }
    assert.strictEqual(readJsonl(out1).length, r1.rows);
  });

  test('Export Dataset never writes over the project\'s data, nor over a file unless told to', async () => {
    const { dir } = await projectWithRun();
    const exportTo = (out: string, force?: boolean) => vscode.commands.executeCommand<{ rows: number } | undefined>(
      'starStudio.exportDataset', { projectDir: dir, format: 'sft', out, force });
    const train = path.join(dir, 'data', 'train.jsonl');
    const before = fs.readFileSync(train);
    assert.strictEqual(await exportTo(train, true), undefined, 'refused with an error message');
    assert.ok(fs.readFileSync(train).equals(before), 'the training set byte for byte');
    const mine = path.join(dir, 'my-notes.jsonl');
    fs.writeFileSync(mine, 'my notes\n');
    assert.strictEqual(await exportTo(mine), undefined);
    assert.strictEqual(fs.readFileSync(mine, 'utf8'), 'my notes\n');
    const r = await exportTo(mine, true);
    assert.strictEqual(readJsonl(mine).length, r!.rows, 'replaced when told to');
  });

  test('the report draws each iteration\'s training loss, and the loss of a run in progress as it trains', async () => {
    const a = await api();
    const { dir, result } = await projectWithRun();
    await vscode.commands.executeCommand('starStudio.openReport', dir, result.runDir, 1);
    const data = await until('the report data', () => a.report.data?.runId === path.basename(result.runDir!) && a.report.data);
    const store = new RunStore(result.runDir!);
    assert.deepStrictEqual(data.trainLoss.map((c) => c.iteration), [0, 1]);
    for (const c of data.trainLoss) {
      const steps = store.readTrainLoss(c.iteration).length;
      assert.strictEqual(steps, c.iteration === 0 ? 200 : store.readMetrics(1)!.trainSteps, 'one line a step');
      assert.strictEqual(c.steps.length, Math.min(steps, 400));
      assert.strictEqual(c.steps[c.steps.length - 1], steps);
    }

    // a second iteration of another project, with its report open: its steps reach the webview while it trains
    const live = await newTinyProject('live-loss');
    const first = (await vscode.commands.executeCommand<RunResult>('starStudio.runIteration', live))!;
    await vscode.commands.executeCommand('starStudio.openReport', live, first.runDir, 1);
    await until('the report of the live project', () => a.report.data?.runId === path.basename(first.runDir!));
    const before = a.report.liveSteps;
    const second = (await vscode.commands.executeCommand<RunResult>('starStudio.runIteration', live))!;
    assert.strictEqual(second.status, 'finished');
    const steps2 = new RunStore(second.runDir!).readMetrics(2)!.trainSteps;
    assert.strictEqual(a.report.liveSteps - before, steps2, 'every training step was sent to the open report');
    const after = await until('the report to show iteration 2\'s curve', () => a.report.data?.trainLoss.some((c) => c.iteration === 2) && a.report.data);
    assert.strictEqual(after.trainLoss.find((c) => c.iteration === 2)!.steps.at(-1), steps2);

    // a second run of the project, with another seed: the first run's report names it and charts its accuracy
    await vscode.workspace.getConfiguration('starStudio').update('seed', 5, vscode.ConfigurationTarget.Global);
    let other: RunResult;
    try {
      other = (await vscode.commands.executeCommand<RunResult>('starStudio.runIterations', live, 1))!;
    } finally {
      await vscode.workspace.getConfiguration('starStudio').update('seed', undefined, vscode.ConfigurationTarget.Global);
    }
    assert.strictEqual(other.status, 'finished');
    a.report.data = undefined;
    await vscode.commands.executeCommand('starStudio.openReport', live, first.runDir, 1);
    const withOther = await until('the report data', () => a.report.data);
    assert.deepStrictEqual(withOther.otherRuns.map((r) => [r.runId, r.differs, r.evalAccuracy.length]), [[path.basename(other.runDir!), 'star.seed: 5', 2]]);
    // the webview drew it and goes on working: selecting a row still asks for its history
    await watchingSelections(a, async (asked) => {
      await vscode.commands.executeCommand('starStudio.showInReport', first.runDir, 1, withOther.rows[0].id);
      await until('the webview to select the row', () => asked.includes(withOther.rows[0].id));
    });
  });
});
