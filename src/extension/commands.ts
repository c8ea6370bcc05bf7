// The STaR commands. Each takes optional arguments (what the tree passes, and what tests pass to skip the prompts)
// and otherwise asks the person.
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { INPUTS_CHANGED } from '../engine/inputs';
import { exportDataset, EXPORT_FORMATS, ExportFormat } from '../engine/export';
import { CONFIG_FILE, initFilesPresent, initProject, InitOptions, loadData, openProject } from '../engine/project';
import { hasWork, PickedRun, pickRun, whatHappened } from '../engine/runPick';
import { exists, WouldOverwrite } from '../engine/safeFiles';
import type { ProjectConfig } from '../engine/store/format';
import { RunStore } from '../engine/store/runStore';
import { TASK_NAMES, TaskName } from '../engine/tasks/task';
import { ExemplarEditorProvider } from './exemplarEditor';
import { FailedQuestions, revealQuestion } from './failedQuestions';
import { pickProject, Selection } from './projects';
import { defaultIteration } from './reportData';
import type { ReportPanel } from './reportPanel';
import type { RunResult, Runner } from './runner';
import { runWithProgress } from './runUi';
import { defaultIterations, runOverrides, section } from './settings';
import { BackendChoice, backendChoices } from './backendChoices';
import { backendPresence } from '../engine/compute/presence';
import type { StarTree } from './tree';
import type { WorkerRunOptions } from './workerProtocol';
import { ApiKeys } from './apiKeys';

export interface Ctx {
  log: vscode.LogOutputChannel;
  runner: Runner;
  selection: Selection;
  tree: StarTree;
  report: ReportPanel;
  failed: FailedQuestions;
  apiKeys: ApiKeys;
}

export interface NewProjectArgs {
  parent?: string;
  name?: string;
  task?: TaskName;
  /** tiny: a smoke-test project that runs an iteration in seconds */
  size?: 'tiny' | 'standard';
  from?: string;
  exemplars?: string;
}

/** Settings of a project small enough to run an iteration in seconds on 2 cores: for a first look and for tests. */
export const TINY: { init: Partial<InitOptions>; config: (c: ProjectConfig) => ProjectConfig } = {
  init: { trainCount: 40, exemplarCount: 32, exemplarMaxDigits: 2, maxDigits: 2, evalMaxDigits: 2, evalPerDigit: 12, seed: 3 },
  config: (c) => ({
    ...c,
    model: { ...c.model, nLayer: 2, nHead: 2, nEmbd: 32, blockSize: 48, dropout: 0 },
    training: { ...c.training, baseSteps: 200, schedule: { kind: 'exponential', base: 60, growth: 1.2 }, batchSize: 16, lr: 3e-3 },
    sampling: { ...c.sampling, maxNewTokens: 30 },
    star: { ...c.star, iterations: 2, seed: 1 },
  }),
};

export async function newProject(ctx: Ctx, a: NewProjectArgs = {}): Promise<string | undefined> {
  const task = a.task ?? (await vscode.window.showQuickPick(
    TASK_NAMES.map((t) => ({ label: t, description: t === 'arithmetic' ? 'n-digit addition, data generated' : t === 'gsm8k' ? 'from a GSM8K JSONL file' : 'from a CommonsenseQA JSONL file + exemplars' })),
    { placeHolder: 'Task of the new STaR project', title: 'New STaR Project' },
  ))?.label as TaskName | undefined;
  if (!task) return;
  const parent = a.parent ?? vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  if (!parent) return void vscode.window.showErrorMessage('STaR: open a folder first; the project is created inside it.');
  const name = a.name ?? (await vscode.window.showInputBox({
    title: 'New STaR Project', prompt: 'Folder of the project (inside the workspace)', value: `star-${task}`,
    validateInput: (v) => (!v.trim() ? 'a name is needed' : clashes(path.join(parent, v))),
  }));
  if (!name) return;
  let size = a.size;
  if (task === 'arithmetic' && !size)
    size = (await vscode.window.showQuickPick(
      [{ label: 'Tiny', description: 'an iteration in seconds: a first look', value: 'tiny' as const }, { label: 'Standard', description: "the paper's demo: 2,000 sums, minutes per iteration", value: 'standard' as const }],
      { title: 'New STaR Project', placeHolder: 'Size' },
    ))?.value;
  if (task === 'arithmetic' && !size) return;
  const o: InitOptions = { task, from: a.from, exemplarsFrom: a.exemplars };
  if (task !== 'arithmetic' && !o.from) {
    const pick = await vscode.window.showOpenDialog({ title: `${task} data (JSONL)`, filters: { JSONL: ['jsonl', 'json'] } });
    if (!pick) return;
    o.from = pick[0].fsPath;
  }
  if (task === 'multiple-choice' && !o.exemplarsFrom) {
    const pick = await vscode.window.showOpenDialog({ title: 'Exemplars with rationales (JSONL)', filters: { JSONL: ['jsonl', 'json'] } });
    if (!pick) return;
    o.exemplarsFrom = pick[0].fsPath;
  }
  const dir = path.join(parent, name);
  try {
    const { warnings } = await initProject(dir, size === 'tiny' ? { ...o, ...TINY.init } : o);
    for (const w of warnings) {
      ctx.log.warn(w);
      void vscode.window.showWarningMessage(`STaR: ${w}`);
    }
  } catch (e) {
    const why = e instanceof WouldOverwrite ? `${clashes(dir)}; choose another folder` : (e as Error).message;
    return void vscode.window.showErrorMessage(`STaR: no project created: ${why}`);
  }
  if (size === 'tiny') {
    const file = path.join(dir, CONFIG_FILE);
    fs.writeFileSync(file, JSON.stringify(TINY.config(JSON.parse(fs.readFileSync(file, 'utf8'))), null, 2) + '\n');
  }
  ctx.log.info(`created the ${task} project ${dir}`);
  ctx.selection.set(dir);
  ctx.tree.refresh();
  void vscode.window.showInformationMessage(`STaR: created ${name} (${task}). Next: "STaR: Run Iteration".`);
  return dir;
}

/** What a new project in `dir` would replace, in words; undefined when nothing. */
function clashes(dir: string): string | undefined {
  const present = initFilesPresent(dir);
  if (!present.length) return undefined;
  return `${present.join(', ')} already in ${path.basename(dir)}: a new project never replaces them`;
}

/** Runs execute what star.json names (a trainer command, a server URL) and write files: only in a trusted workspace. */
function refusedUntrusted(): boolean {
  if (vscode.workspace.isTrusted) return false;
  void vscode.window.showWarningMessage('STaR: runs are disabled in an untrusted workspace (they execute the model and write files).');
  return true;
}

async function startRun(ctx: Ctx, projectDir: string, options: WorkerRunOptions, title: string): Promise<RunResult | undefined> {
  if (refusedUntrusted()) return;
  if (ctx.runner.running) return void vscode.window.showWarningMessage('STaR: a run is already going on; stop it first.');
  const started = Date.now();
  let runDir: string | undefined;
  const sub = ctx.runner.onEvent((e) => {
    if (e.type === 'iteration-end' || e.type === 'run-start') ctx.tree.refresh();
    if (e.type === 'run-start') ctx.selection.set(projectDir, (runDir = e.runDir));
    if (e.type === 'iteration-end') ctx.report.refresh();
    // the open report of this run draws the loss as it trains
    if (e.type === 'progress' && e.phase === 'train' && e.loss !== undefined && runDir) ctx.report.liveLoss(runDir, e.iteration, e.done, e.loss);
  });
  try {
    const apiKey = await ctx.apiKeys.forProject(projectDir);
    const overrides = runOverrides(!!options.resume);
    const request = { projectDir, options: { ...overrides, ...options, ...(apiKey ? { apiKey } : {}) } };
    const r = await runWithProgress(ctx.runner, request, title);
    ctx.tree.refresh();
    if (r.runDir) {
      const store = new RunStore(r.runDir);
      const n = defaultIteration(store);
      select(ctx, projectDir, r.runDir, n);
      const m = store.readMetrics(n);
      const secs = ((Date.now() - started) / 1000).toFixed(0);
      const msg = r.status === 'failed' ? `STaR run failed: ${r.error}` : `STaR run ${r.status} after ${secs} s${m ? `: iteration ${n}, eval ${(100 * m.eval.accuracy).toFixed(1)}%` : ''}.`;
      const show = r.status === 'failed' ? vscode.window.showErrorMessage : vscode.window.showInformationMessage;
      void show(msg, 'Open Report').then((b) => b && ctx.report.show(r.runDir!, n));
    } else if (r.error && r.errorCode !== INPUTS_CHANGED) void vscode.window.showErrorMessage(`STaR: ${r.error}`);
    return r;
  } finally {
    sub.dispose();
  }
}

/** Stores the API key of a project's OpenAI-compatible server in SecretStorage (an empty key removes it). */
export async function setApiKey(ctx: Ctx, projectDir?: string, key?: string) {
  const dir = await pickProject(ctx.selection, projectDir);
  if (!dir) return;
  const server = ApiKeys.serverOf(dir);
  if (!server) return void vscode.window.showWarningMessage('STaR: this project runs the embedded model; it needs no API key.');
  const value = key ?? (await vscode.window.showInputBox({
    title: `API key for ${server}`, prompt: 'Kept in VS Code\'s secret storage, never in a file. Empty removes it.', password: true, ignoreFocusOut: true,
  }));
  if (value === undefined) return;
  await ctx.apiKeys.set(server, value);
  ctx.log.info(`${value ? 'stored' : 'removed'} the API key for ${server}`);
  return server;
}

/** Makes (run, iteration) the one the tree, the diagnostics and the report show. */
export function select(ctx: Ctx, projectDir: string, runDir: string, iteration: number) {
  ctx.selection.set(projectDir, runDir, iteration);
  ctx.failed.show(projectDir, runDir, iteration);
  if (ctx.report.visible) ctx.report.show(runDir, iteration);
}

export async function runIteration(ctx: Ctx, projectDir?: string, changed?: ChangedInputs) {
  const dir = await pickProject(ctx.selection, projectDir);
  if (!dir) return;
  const latest = RunStore.latest(dir);
  if (!latest) return startRun(ctx, dir, { iterations: 1 }, 'STaR: iteration 1');
  const run = latest.readRun();
  const next = run.iterationsDone + 1;
  // one more iteration: a run that plans more keeps its plan and stops after this one
  const iterations = Math.max(next, run.config.star.iterations);
  const options = { resume: true, runId: latest.id, iterations, untilIteration: next };
  return resumeRun(ctx, dir, options, `STaR: iteration ${next}`, { iterations: 1 }, changed);
}

export async function runIterations(ctx: Ctx, projectDir?: string, n?: number) {
  if (refusedUntrusted()) return; // before asking how many
  const dir = await pickProject(ctx.selection, projectDir);
  if (!dir) return;
  const fallback = defaultIterations() ?? (await openProject(dir)).config.star.iterations;
  const count = n ?? Number(await vscode.window.showInputBox({
    title: 'Run N Iterations', prompt: 'Iterations of a new run', value: String(fallback),
    validateInput: (v) => (/^[1-9]\d*$/.test(v) ? undefined : 'a positive whole number'),
  }));
  if (!count) return;
  return startRun(ctx, dir, { iterations: count }, `STaR: ${count} iteration(s)`);
}

export async function resume(ctx: Ctx, projectDir?: string, changed?: ChangedInputs) {
  const dir = await pickProject(ctx.selection, projectDir);
  if (!dir) return;
  const latest = RunStore.latest(dir);
  if (!latest) return void vscode.window.showWarningMessage('STaR: no run to resume in this project.');
  return resumeRun(ctx, dir, { resume: true, runId: latest.id }, `STaR: resuming ${latest.id}`, {}, changed);
}

const CHOICES = { 'new-run': 'Start a New Run', 'resume-anyway': 'Resume with the Changed Data' } as const;
/** What to do when a resumed run's inputs changed (tests pass it; a person is asked). */
export type ChangedInputs = keyof typeof CHOICES;

/** The modal that offers a new run or going on with the changed data. */
async function ask(message: string, detail: string): Promise<ChangedInputs | undefined> {
  const label = await vscode.window.showWarningMessage(message, { modal: true, detail }, ...Object.values(CHOICES));
  return (Object.keys(CHOICES) as ChangedInputs[]).find((k) => CHOICES[k] === label);
}

/** Resumes a run; when D, the held-out split or P changed since it last ran, offers a new run instead. */
async function resumeRun(
  ctx: Ctx, dir: string, options: WorkerRunOptions, title: string, fresh: WorkerRunOptions, changed?: ChangedInputs,
) {
  const r = await startRun(ctx, dir, options, title);
  if (r?.errorCode !== INPUTS_CHANGED) return r;
  const [head, ...lines] = (r.error ?? '').split('\n').map((l) => l.trim());
  const detail = lines.filter((l) => !l.includes('--accept-changes')).join('\n');
  const choice = changed ?? (await ask(`STaR: ${head}`, detail));
  ctx.log.info(`${head} ${detail.replace(/\n/g, '; ')}: ${choice ?? 'nothing done'}`);
  if (choice === 'new-run') return startRun(ctx, dir, fresh, 'STaR: new run');
  if (choice === 'resume-anyway') return startRun(ctx, dir, { ...options, acceptChanges: true }, title);
  return r;
}

export async function openReport(ctx: Ctx, projectDir?: string, runDir?: string, iteration?: number, focusId?: string) {
  const dir = await pickProject(ctx.selection, projectDir);
  if (!dir) return;
  let run = runDir ?? (ctx.selection.projectDir === dir ? ctx.selection.runDir : undefined);
  if (!run) {
    if (!RunStore.list(dir).length)
      return void vscode.window.showWarningMessage('STaR: no runs yet; start one with "STaR: Run Iteration".');
    const picked = pickOrWarn(dir, 0);
    if (!picked) return;
    const id = await chooseRun(dir, picked);
    if (!id) return;
    run = path.join(RunStore.runsDir(dir), id);
  }
  const n = iteration ?? (ctx.selection.runDir === run ? ctx.selection.iteration : undefined) ?? defaultIteration(new RunStore(run));
  select(ctx, dir, run, n);
  ctx.report.show(run, n, focusId);
}

/** The run with finished work a command falls back on; a warning that says how each run stands when none has. */
function pickOrWarn(dir: string, minIteration: number): PickedRun | undefined {
  try {
    return pickRun(dir, { minIteration });
  } catch (e) {
    return void vscode.window.showWarningMessage(`STaR: ${(e as Error).message}`);
  }
}

/** Asks which run when there are several, the picked one first with why it was picked. */
async function chooseRun(dir: string, picked: PickedRun): Promise<string | undefined> {
  const ids = RunStore.list(dir).reverse();
  if (ids.length === 1) return picked.store.id;
  const others = ids.filter((id) => id !== picked.store.id)
    .map((id) => ({ label: id, description: whatHappened(RunStore.at(dir, id)) }));
  const items = [{ label: picked.store.id, description: picked.reason.replace(/^run \S+: /, '') }, ...others];
  return (await vscode.window.showQuickPick(items, { placeHolder: 'Which run?' }))?.label;
}

export async function openExemplars(ctx: Ctx, projectDir?: string) {
  const dir = await pickProject(ctx.selection, projectDir);
  if (!dir) return;
  const file = path.resolve(dir, (await openProject(dir)).config.exemplars);
  await vscode.commands.executeCommand('vscode.openWith', vscode.Uri.file(file), ExemplarEditorProvider.viewType);
}

export interface ExportArgs {
  projectDir?: string;
  format?: ExportFormat;
  /** Given, it skips the save dialog; an existing file is then replaced only with `force`. */
  out?: string;
  force?: boolean;
  iteration?: number;
}

export async function exportCommand(ctx: Ctx, a: ExportArgs = {}) {
  const dir = await pickProject(ctx.selection, a.projectDir);
  if (!dir) return;
  if (!RunStore.list(dir).length) return void vscode.window.showWarningMessage('STaR: no run to export.');
  const { projectDir, runDir } = ctx.selection;
  const selected = projectDir === dir && runDir ? new RunStore(runDir) : undefined;
  const store = selected && hasWork(selected, 1) ? selected : pickOrWarn(dir, 1)?.store;
  if (!store) return;
  const format = a.format ?? ((await vscode.window.showQuickPick([...EXPORT_FORMATS], { placeHolder: 'Format: sft = {prompt, completion} (TRL), openai-chat = {messages}' })) as ExportFormat | undefined);
  if (!format) return;
  const out = a.out ?? (await vscode.window.showSaveDialog({ defaultUri: vscode.Uri.file(path.join(dir, `star-${store.id}-${format}.jsonl`)), filters: { JSONL: ['jsonl'] } }))?.fsPath;
  if (!out) return;
  // the save dialog itself asks before it returns a file that exists: that answer is the person's --force
  const force = a.out === undefined ? exists(out) : !!a.force;
  const chosen = ctx.selection.runDir === store.dir ? ctx.selection.iteration : undefined;
  const iteration = a.iteration ?? (chosen && chosen > 0 ? chosen : undefined);
  try {
    const project = await openProject(dir);
    const { train } = await loadData(project);
    const r = exportDataset(project.task, store, train, { format, out, iteration, force });
    ctx.log.info(`exported ${r.rows} rows of ${store.id} iteration ${r.iteration} to ${out}`);
    const what = `${r.rows} row(s) of run ${store.id}, iteration ${r.iteration}, to ${path.basename(out)}`;
    void vscode.window.showInformationMessage(`STaR: wrote ${what} (${r.skippedRejected} rejected left out).`);
    return r;
  } catch (e) {
    ctx.log.error(`export of ${store.id} to ${out}: ${(e as Error).message}`);
    return void vscode.window.showErrorMessage(`STaR: nothing exported: ${(e as Error).message}`);
  }
}

export async function selectBackend(name?: string) {
  const current = section().get<string>('backend', 'project');
  const choices = backendChoices(current, backendPresence());
  const items = choices.flatMap((c, i): (vscode.QuickPickItem & { choice?: BackendChoice })[] => {
    const first = c.missing !== undefined && choices[i - 1]?.missing === undefined;
    const separator = { label: 'cannot start here', kind: vscode.QuickPickItemKind.Separator };
    return [...(first ? [separator] : []), { label: c.label, description: c.description, choice: c }];
  });
  const picked = name === undefined
    ? (await vscode.window.showQuickPick(items, { placeHolder: 'Compute backend of the embedded model for new runs' }))?.choice
    : choices.find((c) => c.label === name);
  if (!picked) return;
  if (picked.missing !== undefined) {
    const why = `STaR: backend ${picked.label} cannot start here (${picked.missing})`;
    return void vscode.window.showWarningMessage(`${why}; the backend stays ${current}.`);
  }
  const target = vscode.workspace.workspaceFolders ? vscode.ConfigurationTarget.Workspace : vscode.ConfigurationTarget.Global;
  await section().update('backend', picked.label, target);
  void vscode.window.showInformationMessage(`STaR: backend set to ${picked.label}.`);
  return picked.label;
}

export async function revealCommand(ctx: Ctx, projectDir: string, runDir: string, iteration: number, id: string) {
  await revealQuestion(projectDir, new RunStore(runDir), iteration, id);
}
