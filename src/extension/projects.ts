// STaR projects in the workspace (folders holding star.json) and the one a command should act on.
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { CONFIG_FILE } from '../engine/project';

const SKIP = new Set(['node_modules', '.git', '.star', 'out', 'dist']);

/** Folders with a star.json, at most 3 levels below a workspace folder. A walk of our own, not findFiles: the
 * search service can answer empty while it starts, and the tree must not flash "no project". */
export async function findProjects(): Promise<string[]> {
  const found: string[] = [];
  const walk = async (dir: string, depth: number) => {
    if (fs.existsSync(path.join(dir, CONFIG_FILE))) found.push(dir);
    if (depth === 0) return;
    const entries = await fs.promises.readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const e of entries) if (e.isDirectory() && !SKIP.has(e.name)) await walk(path.join(dir, e.name), depth - 1);
  };
  for (const f of vscode.workspace.workspaceFolders ?? []) if (f.uri.scheme === 'file') await walk(f.uri.fsPath, 3);
  return [...new Set(found)].sort();
}

/** The run and iteration a person is looking at; the tree, the report and the diagnostics follow it. */
export class Selection {
  private readonly changes = new vscode.EventEmitter<void>();
  readonly onDidChange = this.changes.event;
  projectDir?: string;
  runDir?: string;
  iteration?: number;

  set(projectDir: string, runDir?: string, iteration?: number) {
    this.projectDir = projectDir;
    this.runDir = runDir;
    this.iteration = iteration;
    this.changes.fire();
  }
}

/** The project a command acts on: the given one, else the selected one, else the only one, else ask. */
export async function pickProject(selection: Selection, given?: string): Promise<string | undefined> {
  if (given) return given;
  const all = await findProjects();
  if (selection.projectDir && fs.existsSync(path.join(selection.projectDir, CONFIG_FILE))) return selection.projectDir;
  if (all.length <= 1) {
    if (!all.length) void vscode.window.showWarningMessage('No STaR project in this workspace: create one with "STaR: New STaR Project".');
    return all[0];
  }
  const root = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? '';
  const pick = await vscode.window.showQuickPick(all.map((d) => ({ label: path.relative(root, d) || path.basename(d), dir: d })), { placeHolder: 'Which STaR project?' });
  return pick?.dir;
}
