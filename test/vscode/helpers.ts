// Shared by the suites (each is bundled on its own, so shared state lives on globalThis).
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import type { Api } from '../../src/extension/extension';
import type { RunResult } from '../../src/extension/runner';
import { gsm8k } from '../../src/engine/tasks/gsm8k';
import { ScriptedServer, startScriptedServer } from '../fixtures/openaiServer';

export async function api(): Promise<Api> {
  const ext = vscode.extensions.getExtension<Api>('star-studio.star-studio');
  if (!ext) throw new Error('star-studio.star-studio is not loaded');
  return ext.activate();
}

export function workspaceDir(): string {
  const ws = vscode.workspace.workspaceFolders?.[0];
  if (!ws) throw new Error('the tests need a workspace folder');
  return ws.uri.fsPath;
}

export async function newTinyProject(name: string): Promise<string> {
  const dir = await vscode.commands.executeCommand<string>('starStudio.newProject', { name, task: 'arithmetic', size: 'tiny' });
  if (!dir) throw new Error('newProject returned nothing');
  return dir;
}

const shared = globalThis as unknown as { __starRun?: Promise<{ dir: string; result: RunResult }> };

/** One tiny project with one finished iteration, made once and shared by the suites. */
export function projectWithRun(): Promise<{ dir: string; result: RunResult }> {
  shared.__starRun ??= (async () => {
    const dir = await newTinyProject('shared');
    const result = (await vscode.commands.executeCommand<RunResult>('starStudio.runIteration', dir))!;
    return { dir, result };
  })();
  return shared.__starRun;
}

export const readJsonl = <T>(file: string): T[] =>
  fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as T);

export async function until<T>(what: string, f: () => T | undefined | false | Promise<T | undefined | false>, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export const runDirOf = (dir: string, id: string) => path.join(dir, '.star', 'runs', id);

// (each suite is bundled on its own into out/test/vscode/<folder>/: four levels up is the repository)
const GSM8K = path.resolve(__dirname, '../../../..', '..', 'shared', 'datasets', 'gsm8k', 'test.jsonl');
/** The `star` CLI of this checkout. */
export const CLI = path.resolve(__dirname, '../../../..', 'dist', 'cli.js');

/** The first n records of the real GSM8K test set. */
export const gsm8kRecords = (n: number): Record<string, unknown>[] =>
  fs.readFileSync(GSM8K, 'utf8').split('\n').filter((l) => l.trim()).slice(0, n).map((l) => JSON.parse(l));

/** A scripted OpenAI-compatible server that knows the records' questions: right on even ones, and with the hint. */
export function scriptedGsm8kServer(records: Record<string, unknown>[], opts: { apiKey?: string } = {}): Promise<ScriptedServer> {
  return startScriptedServer(records.map((r, i) => {
    const ex = gsm8k.exemplarFromRecord(r, `r${i}`);
    return { question: ex.question, gold: ex.gold, rationale: ex.rationale, right: i % 2 === 0 };
  }), opts);
}

/**
 * A GSM8K project in the workspace on a served model: P = the first 2 records, D = the next `train`, the rest held
 * out; `model` and `extra` go into its star.json.
 */
export function servedProject(name: string, records: Record<string, unknown>[], train: number, model: Record<string, unknown>, extra: Record<string, unknown> = {}): string {
  const dir = path.join(workspaceDir(), name);
  fs.mkdirSync(path.join(dir, 'data'), { recursive: true });
  const jsonl = (rows: unknown[]) => rows.map((r) => JSON.stringify(r) + '\n').join('');
  fs.writeFileSync(path.join(dir, 'exemplars.jsonl'), jsonl(records.slice(0, 2)));
  fs.writeFileSync(path.join(dir, 'data/train.jsonl'), jsonl(records.slice(2, 2 + train)));
  fs.writeFileSync(path.join(dir, 'data/eval.jsonl'), jsonl(records.slice(2 + train)));
  fs.writeFileSync(path.join(dir, 'star.json'), JSON.stringify({
    task: 'gsm8k',
    model: { backend: 'openai', model: 'scripted-7b', retryBaseSeconds: 0.01, ...model },
    sampling: { shots: 1, maxNewTokens: 200 },
    star: { iterations: 1 },
    ...extra,
  }, null, 2));
  return dir;
}
