import * as assert from 'assert';
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { backendPresence } from '../../../src/engine/compute/presence';
import type { IterationMetrics, RunEvent, RunJson } from '../../../src/engine/store/format';
import { RunStore } from '../../../src/engine/store/runStore';
import type { RunResult } from '../../../src/extension/runner';
import type { Node } from '../../../src/extension/tree';
import { api, CLI, newTinyProject, projectWithRun, readJsonl, until, workspaceDir } from '../helpers';

const pkg = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../../../package.json'), 'utf8'));

suite('commands, runs and the tree', () => {
  test('every STaR command is registered, in category STaR', async () => {
    await api();
    const all = await vscode.commands.getCommands(true);
    const ours = pkg.contributes.commands as { command: string; category: string }[];
    for (const c of ours) {
      assert.ok(all.includes(c.command), `${c.command} is registered`);
      assert.strictEqual(c.category, 'STaR');
    }
    for (const id of ['newProject', 'runIteration', 'runIterations', 'stop', 'resume', 'openReport', 'openExemplars', 'exportDataset', 'selectBackend'])
      assert.ok(ours.some((c) => c.command === `starStudio.${id}`), id);
  });

  test('New STaR Project makes a tiny arithmetic project that the tree lists', async () => {
    const a = await api();
    const dir = await newTinyProject('fresh');
    assert.ok(fs.existsSync(path.join(dir, 'star.json')));
    assert.strictEqual(readJsonl(path.join(dir, 'exemplars.jsonl')).length, 32);
    assert.strictEqual(readJsonl(path.join(dir, 'data/train.jsonl')).length, 40);
    const roots = await a.tree.getChildren();
    assert.ok(roots.some((n) => n.kind === 'project' && n.dir === dir), 'the tree lists the new project');
  });

  test('New STaR Project in a folder with the user\'s data says so and replaces nothing', async () => {
    await api();
    const dir = path.join(workspaceDir(), 'mine-data');
    fs.mkdirSync(path.join(dir, 'data'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'data', 'train.jsonl'), '{"question": "1+1", "answer": "2"}\n');
    const args = { name: 'mine-data', task: 'arithmetic', size: 'tiny' };
    const made = await vscode.commands.executeCommand('starStudio.newProject', args);
    assert.strictEqual(made, undefined, 'refused, as an error message rather than a failed command');
    const train = fs.readFileSync(path.join(dir, 'data', 'train.jsonl'), 'utf8');
    assert.strictEqual(train, '{"question": "1+1", "answer": "2"}\n');
    assert.deepStrictEqual(fs.readdirSync(dir), ['data'], 'no star.json, nothing added');
  });

  test('Run Iteration trains in a child process while the extension host stays responsive', async () => {
    const a = await api();
    const events: RunEvent[] = [];
    const sub = a.runner.onEvent((e) => events.push(e));
    const { dir, result } = await projectWithRun();
    sub.dispose();
    assert.strictEqual(result.status, 'finished');
    assert.notStrictEqual(result.workerPid, process.pid, 'the run is in another process');
    assert.ok(events.some((e) => e.type === 'progress' && e.phase === 'train'), 'training progress was streamed');
    const store = new RunStore(result.runDir!);
    assert.deepStrictEqual(store.finishedIterations(), [0, 1]);
    console.log(`[stall] worst extension-host event-loop stall during a training run: ${result.maxStallMs.toFixed(1)} ms`);
    // Training in the host would stall it for the whole run (seconds); the bound is far above a loaded machine's
    // scheduling hiccups, so it fails only on a real freeze.
    assert.ok(result.maxStallMs < 2000, `event loop stalled ${result.maxStallMs} ms`);
    assert.ok(dir);
  });

  test('the tree shows runs and iterations with the run store\'s counts, and the failed questions', async () => {
    const a = await api();
    const { dir, result } = await projectWithRun();
    const project = (await a.tree.getChildren()).find((n) => n.kind === 'project' && n.dir === dir)!;
    const kids = await a.tree.getChildren(project);
    assert.strictEqual(kids[0].kind, 'exemplars');
    const run = kids.find((n) => n.kind === 'run')!;
    const iters = await a.tree.getChildren(run);
    assert.deepStrictEqual(iters.map((n) => (n as Extract<Node, { kind: 'iteration' }>).n), [0, 1]);
    const m = JSON.parse(fs.readFileSync(path.join(result.runDir!, 'iter-1', 'metrics.json'), 'utf8')) as IterationMetrics;
    const item = a.tree.getTreeItem(iters[1]);
    assert.strictEqual(item.description, `eval ${(100 * m.eval.accuracy).toFixed(1)}% · ${m.train.correct} direct · ${m.train.rationalized} rationalized · ${m.train.failed} failed`);
    const failed = await a.tree.getChildren(iters[1]);
    assert.strictEqual(failed.length, Math.min(m.train.failed, 200));
  });

  test('Stop ends a run cleanly after the current step; Resume finishes it without redoing work', async () => {
    const a = await api();
    const dir = await newTinyProject('stop-resume');
    const sub = a.runner.onEvent((e) => {
      if (e.type === 'progress' && e.iteration === 1) void vscode.commands.executeCommand('starStudio.stop');
    });
    const stopped = (await vscode.commands.executeCommand<RunResult>('starStudio.runIterations', dir, 2))!;
    sub.dispose();
    assert.strictEqual(stopped.status, 'stopped');
    const store = new RunStore(stopped.runDir!);
    assert.strictEqual(store.readRun().status, 'stopped');
    assert.ok(store.finishedIterations().includes(0), 'the base model is kept');
    const base = fs.statSync(store.iterPath(0, 'metrics.json')).mtimeMs;
    const resumed = (await vscode.commands.executeCommand<RunResult>('starStudio.resume', dir))!;
    assert.strictEqual(resumed.status, 'finished');
    assert.strictEqual(resumed.runDir, stopped.runDir, 'the same run continued');
    assert.deepStrictEqual(store.finishedIterations(), [0, 1, 2]);
    assert.strictEqual(fs.statSync(store.iterPath(0, 'metrics.json')).mtimeMs, base, 'finished work was not redone');
  });

  test('a killed worker leaves a run that Resume continues', async () => {
    const a = await api();
    const dir = await newTinyProject('kill-resume');
    const sub = a.runner.onEvent((e) => {
      if (e.type === 'progress' && e.iteration === 0 && e.phase === 'train' && e.done >= 20) a.runner.kill();
    });
    const killed = (await vscode.commands.executeCommand<RunResult>('starStudio.runIteration', dir))!;
    sub.dispose();
    assert.strictEqual(killed.status, 'killed');
    const runJson = JSON.parse(fs.readFileSync(path.join(killed.runDir!, 'run.json'), 'utf8')) as RunJson;
    assert.strictEqual(runJson.status, 'running', 'the run was cut short, not finished');
    const resumed = (await vscode.commands.executeCommand<RunResult>('starStudio.resume', dir))!;
    assert.strictEqual(resumed.status, 'finished');
    assert.deepStrictEqual(new RunStore(killed.runDir!).finishedIterations(), [0, 1]);
  });

  test('Resume while the CLI writes the run is refused, naming the CLI\'s process, and changes nothing', async () => {
    await api();
    const dir = await newTinyProject('cli-writes');
    const file = path.join(dir, 'star.json');
    fs.writeFileSync(file, JSON.stringify({ ...JSON.parse(fs.readFileSync(file, 'utf8')), training: { baseSteps: 1_000_000 } }));
    const cli = spawn(process.execPath, [CLI, 'run', dir, '--json'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    cli.stdout.on('data', (d) => (out += d));
    try {
      await until('the CLI training M0', () => out.includes('"phase":"train"'), 120_000);
      const runJson = path.join(RunStore.latest(dir)!.dir, 'run.json');
      const before = fs.readFileSync(runJson, 'utf8');
      const r = (await vscode.commands.executeCommand<RunResult>('starStudio.resume', dir))!;
      assert.strictEqual(r.status, 'failed');
      assert.match(r.error!, new RegExp(`being written by another process: pid ${cli.pid} `));
      assert.strictEqual(fs.readFileSync(runJson, 'utf8'), before, 'run.json untouched');
    } finally {
      cli.kill('SIGKILL');
    }
  });

  test('a resume after D was edited goes on with the new data when told, or starts a new run', async () => {
    await api();
    const dir = await newTinyProject('edited-data');
    const first = (await vscode.commands.executeCommand<RunResult>('starStudio.runIteration', dir))!;
    assert.strictEqual(first.status, 'finished');
    const train = path.join(dir, 'data', 'train.jsonl');
    const cut = (n: number) => fs.writeFileSync(train, readJsonl(train).slice(0, n).map((r) => JSON.stringify(r) + '\n').join(''));
    cut(30);
    const on = (await vscode.commands.executeCommand<RunResult>('starStudio.runIteration', dir, 'resume-anyway'))!;
    assert.strictEqual(on.runDir, first.runDir, 'the same run went on');
    const store = new RunStore(first.runDir!);
    assert.deepStrictEqual(store.finishedIterations(), [0, 1, 2]);
    assert.strictEqual(store.readGenerations(2).length, 30);
    assert.match(store.readRun().inputChanges![0].changes[0], /40 -> 30 records/);
    cut(25);
    const fresh = (await vscode.commands.executeCommand<RunResult>('starStudio.runIteration', dir, 'new-run'))!;
    assert.notStrictEqual(fresh.runDir, first.runDir, 'a new run');
    assert.strictEqual(new RunStore(fresh.runDir!).readRun().trainCount, 25);
    assert.deepStrictEqual(store.finishedIterations(), [0, 1, 2], 'the edited run is left as it was');
  });

  test('Select Model Backend sets the backend of new runs, and only one that can start here', async () => {
    await api();
    await vscode.commands.executeCommand('starStudio.selectBackend', 'cpu');
    assert.strictEqual(vscode.workspace.getConfiguration('starStudio').get('backend'), 'cpu');
    // a backend that cannot start here is refused with why, and the setting stays
    const missing = Object.entries(backendPresence()).find(([, why]) => why !== null);
    if (missing) {
      const set = await vscode.commands.executeCommand('starStudio.selectBackend', missing[0]);
      assert.strictEqual(set, undefined, `${missing[0]} is not set: ${missing[1]}`);
      assert.strictEqual(vscode.workspace.getConfiguration('starStudio').get('backend'), 'cpu');
    }
    await vscode.commands.executeCommand('starStudio.selectBackend', 'project');
  });
});
