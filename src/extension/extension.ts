// STaR Studio for VS Code: activate() only wires the parts together.
import * as path from 'path';
import * as vscode from 'vscode';
import { ApiKeys } from './apiKeys';
import * as cmd from './commands';
import { ExemplarEditorProvider } from './exemplarEditor';
import { FailedQuestions, revealQuestion, SHOW_IN_REPORT } from './failedQuestions';
import { findProjects, Selection } from './projects';
import { ReportPanel } from './reportPanel';
import { Runner } from './runner';
import { RunStatusBar } from './runUi';
import { StarTree } from './tree';
import { RunStore } from '../engine/store/runStore';

export type Api = cmd.Ctx;

export function activate(context: vscode.ExtensionContext): Api {
  const log = vscode.window.createOutputChannel('STaR Studio', { log: true });
  const uri = context.extensionUri;
  const runner = new Runner(path.join(context.extensionPath, 'dist', 'worker.js'), log);
  const selection = new Selection();
  const tree = new StarTree(vscode.Uri.joinPath(uri, 'media'));
  const failed = new FailedQuestions();
  const projectOf = (runDir: string) => new RunStore(runDir).projectDir;
  const report = new ReportPanel(uri, () => tree.refresh(), (store, n, id) => revealQuestion(projectOf(store.dir), store, n, id), log);
  const ctx: cmd.Ctx = { log, runner, selection, tree, report, failed, apiKeys: new ApiKeys(context.secrets) };

  const setContext = (key: string, value: unknown) => void vscode.commands.executeCommand('setContext', key, value);
  const updateContext = async () => {
    const projects = await findProjects();
    setContext('starStudio.hasProject', projects.length > 0);
    setContext('starStudio.hasRun', projects.some((d) => RunStore.list(d).length > 0));
  };
  const reg = (id: string, f: (...a: any[]) => unknown) => vscode.commands.registerCommand(id, f);

  context.subscriptions.push(
    log, runner, failed, report, new RunStatusBar(runner),
    vscode.window.registerTreeDataProvider('starStudio.projects', tree),
    vscode.window.registerCustomEditorProvider(ExemplarEditorProvider.viewType, new ExemplarEditorProvider(uri), {
      webviewOptions: { retainContextWhenHidden: true },
    }),
    vscode.languages.registerHoverProvider({ scheme: 'file', pattern: '**/*.jsonl' }, failed),
    vscode.languages.registerCodeActionsProvider({ scheme: 'file', pattern: '**/*.jsonl' }, failed, { providedCodeActionKinds: FailedQuestions.actionKinds }),
    runner.onDidChangeRunning((on) => { setContext('starStudio.running', on); if (!on) void updateContext(); }),
    tree.onDidChangeTreeData(() => void updateContext()),
    reg('starStudio.newProject', (a?: cmd.NewProjectArgs) => cmd.newProject(ctx, a)),
    reg('starStudio.runIteration', (dir?: unknown, changed?: cmd.ChangedInputs) =>
      cmd.runIteration(ctx, dirArg(dir), changed)),
    reg('starStudio.runIterations', (dir?: unknown, n?: number) => cmd.runIterations(ctx, dirArg(dir), n)),
    reg('starStudio.stop', () => runner.stop()),
    reg('starStudio.resume', (dir?: unknown, changed?: cmd.ChangedInputs) => cmd.resume(ctx, dirArg(dir), changed)),
    reg('starStudio.openReport', (dir?: unknown, runDir?: string, n?: number) => {
      const node = dir as { kind?: string; dir: string; runDir?: string; n?: number } | undefined;
      return node?.kind ? cmd.openReport(ctx, node.dir, node.runDir, node.n) : cmd.openReport(ctx, dirArg(dir), runDir, n);
    }),
    reg('starStudio.openExemplars', (dir?: unknown) => cmd.openExemplars(ctx, dirArg(dir))),
    reg('starStudio.exportDataset', (a?: Parameters<typeof cmd.exportCommand>[1]) => cmd.exportCommand(ctx, a)),
    reg('starStudio.selectBackend', (name?: string) => cmd.selectBackend(name)),
    reg('starStudio.setApiKey', (dir?: unknown, key?: string) => cmd.setApiKey(ctx, dirArg(dir), key)),
    reg('starStudio.selectIteration', (dir: string, runDir: string, n: number) => cmd.select(ctx, dir, runDir, n)),
    reg(SHOW_IN_REPORT, (runDir: string, n: number, id: string) => cmd.openReport(ctx, projectOf(runDir), runDir, n, id)),
    reg('starStudio.revealQuestion', (dir: string, runDir: string, n: number, id: string) => cmd.revealCommand(ctx, dir, runDir, n, id)),
    reg('starStudio.refresh', () => tree.refresh()),
    reg('starStudio.showLog', () => log.show()),
    vscode.workspace.onDidChangeWorkspaceFolders(() => tree.refresh()),
  );
  const watcher = vscode.workspace.createFileSystemWatcher('**/star.json');
  context.subscriptions.push(watcher, watcher.onDidCreate(() => tree.refresh()), watcher.onDidDelete(() => tree.refresh()));
  void updateContext();
  return ctx;
}

/** A project folder from a command argument: a path, or a tree node of a project. */
function dirArg(a: unknown): string | undefined {
  if (typeof a === 'string') return a;
  if (a && typeof a === 'object' && 'dir' in a) return (a as { dir: string }).dir;
  return undefined;
}

export function deactivate() {}
