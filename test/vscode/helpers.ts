// Shared by the suites (each is bundled on its own, so shared state lives on globalThis).
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import type { Api } from '../../src/extension/extension';
import type { RunResult } from '../../src/extension/runner';

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
