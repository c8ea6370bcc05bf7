// The STaR activity-bar tree: projects → P and runs → iterations (accuracy, counts) → failed questions.
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { loadProjectConfig } from '../engine/project';
import type { IterationMetrics, RunJson, RunState } from '../engine/store/format';
import { RunStore } from '../engine/store/runStore';
import { findProjects } from './projects';

export type Node =
  | { kind: 'project'; dir: string }
  | { kind: 'exemplars'; dir: string; file: string }
  | { kind: 'run'; dir: string; runDir: string; run: RunJson; state: RunState }
  | { kind: 'iteration'; dir: string; runDir: string; n: number; m: IterationMetrics }
  | { kind: 'failed'; dir: string; runDir: string; n: number; id: string; question: string; answer: string | null; gold: string; line?: number }
  | { kind: 'more'; count: number };

const MAX_FAILED = 200;
const RUN_ICONS: Record<RunState, string> = {
  finished: 'pass', running: 'sync', failed: 'error', stopped: 'debug-pause', interrupted: 'debug-disconnect',
};
const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

export class StarTree implements vscode.TreeDataProvider<Node> {
  private readonly changes = new vscode.EventEmitter<Node | undefined>();
  readonly onDidChangeTreeData = this.changes.event;

  constructor(private readonly media: vscode.Uri) {}

  refresh() {
    this.changes.fire(undefined);
  }

  async getChildren(node?: Node): Promise<Node[]> {
    if (!node) return (await findProjects()).map((dir) => ({ kind: 'project', dir }));
    if (node.kind === 'project') {
      const runs = RunStore.list(node.dir).reverse().map((id) => RunStore.at(node.dir, id));
      let file = 'exemplars.jsonl';
      try { file = loadProjectConfig(node.dir).exemplars; } catch { /* a broken star.json still lists its runs */ }
      return [
        { kind: 'exemplars', dir: node.dir, file: path.resolve(node.dir, file) },
        ...runs.map((s): Node => {
          const run = s.readRun();
          return { kind: 'run', dir: node.dir, runDir: s.dir, run, state: s.state(run) };
        }),
      ];
    }
    if (node.kind === 'run') {
      const s = new RunStore(node.runDir);
      return s.finishedIterations().map((n): Node => ({ kind: 'iteration', dir: node.dir, runDir: node.runDir, n, m: s.readMetrics(n)! }));
    }
    if (node.kind === 'iteration' && node.n > 0) {
      const failed = new RunStore(node.runDir).readGenerations(node.n).filter((l) => l.stage === 'failed');
      const items: Node[] = failed.slice(0, MAX_FAILED).map((l) => ({ kind: 'failed', dir: node.dir, runDir: node.runDir, n: node.n, id: l.id, question: l.question, answer: l.answer, gold: l.gold, line: l.line }));
      if (failed.length > MAX_FAILED) items.push({ kind: 'more', count: failed.length - MAX_FAILED });
      return items;
    }
    return [];
  }

  getTreeItem(node: Node): vscode.TreeItem {
    const C = vscode.TreeItemCollapsibleState;
    switch (node.kind) {
      case 'project': {
        const item = new vscode.TreeItem(path.basename(node.dir), C.Expanded);
        let task = '?';
        try { task = loadProjectConfig(node.dir).task; } catch (e) { item.tooltip = (e as Error).message; }
        item.description = task;
        item.contextValue = 'project';
        item.iconPath = vscode.Uri.joinPath(this.media, 'project.svg');
        item.resourceUri = vscode.Uri.file(node.dir);
        return item;
      }
      case 'exemplars': {
        const count = fs.existsSync(node.file) ? fs.readFileSync(node.file, 'utf8').split('\n').filter((l) => l.trim()).length : 0;
        const item = new vscode.TreeItem('P · few-shot exemplars', C.None);
        item.description = `${count}`;
        item.contextValue = 'exemplars';
        item.iconPath = vscode.Uri.joinPath(this.media, 'exemplars.svg');
        item.command = { command: 'starStudio.openExemplars', title: 'Open Few-shot Exemplars', arguments: [node.dir] };
        return item;
      }
      case 'run': {
        const item = new vscode.TreeItem(`Run ${node.run.id}`, C.Expanded);
        // the backend's kernel list is for the tooltip; an ablation says so, as the report's chart does
        const backend = node.run.backend.split('(')[0] || 'backend ?';
        const ablation = node.run.config.star.rationalize === false ? ' · no rationalization' : '';
        item.description = `${node.state} · ${backend}${ablation}`;
        item.contextValue = `run-${node.state}`;
        item.iconPath = new vscode.ThemeIcon(RUN_ICONS[node.state]);
        const held = `${node.run.trainCount} questions, ${node.run.evalCount} held out; backend ${node.run.backend || '?'}`;
        // runs written before errorStack existed kept the stack in error: its frames are cut off
        item.tooltip = node.run.error?.split(/\n\s+at /)[0] ?? held;
        return item;
      }
      case 'iteration': {
        const t = node.m.train;
        const base = node.n === 0;
        const item = new vscode.TreeItem(base ? 'Iteration 0 (base model)' : `Iteration ${node.n}`, base ? C.None : C.Collapsed);
        item.description = base ? `eval ${pct(node.m.eval.accuracy)}` : `eval ${pct(node.m.eval.accuracy)} · ${t.correct} direct · ${t.rationalized} rationalized · ${t.failed} failed`;
        item.tooltip = `held-out ${node.m.eval.correct}/${node.m.eval.total}; ${node.m.trainExamples} training examples, ${node.m.trainSteps} steps, ${node.m.seconds.toFixed(0)} s`;
        item.contextValue = 'iteration';
        item.iconPath = vscode.Uri.joinPath(this.media, 'iteration.svg');
        item.command = { command: 'starStudio.selectIteration', title: 'Select Iteration', arguments: [node.dir, node.runDir, node.n] };
        return item;
      }
      case 'failed': {
        const item = new vscode.TreeItem(node.question, C.None);
        item.description = `answered ${node.answer ?? '?'} · gold ${node.gold}`;
        item.tooltip = node.line ? `line ${node.line} of the dataset` : node.id;
        item.iconPath = new vscode.ThemeIcon('warning');
        item.contextValue = 'failed';
        item.command = { command: 'starStudio.revealQuestion', title: 'Go to Question', arguments: [node.dir, node.runDir, node.n, node.id] };
        return item;
      }
      case 'more':
        return new vscode.TreeItem(`… and ${node.count} more (see the report)`, C.None);
    }
  }
}
