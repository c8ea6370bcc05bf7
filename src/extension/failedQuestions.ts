// Failed questions inline: a diagnostic on each line of the dataset file whose question failed in the selected
// iteration, a hover there with the model's rationale and answer, and on every line the iteration generated for, a
// quick fix (and a link in the hover) that opens the report at that question.
import * as path from 'path';
import * as vscode from 'vscode';
import { loadProjectConfig } from '../engine/project';
import type { GenerationLine } from '../engine/store/format';
import { RunStore } from '../engine/store/runStore';

export const SHOW_IN_REPORT = 'starStudio.showInReport';

export class FailedQuestions implements vscode.Disposable, vscode.HoverProvider, vscode.CodeActionProvider {
  static readonly actionKinds = [vscode.CodeActionKind.QuickFix];
  readonly diagnostics = vscode.languages.createDiagnosticCollection('star');
  /** dataset file path → line (1-based) → the generation shown there */
  private byFile = new Map<string, Map<number, GenerationLine>>();
  private iteration = 0;
  private runDir = '';

  /** Shows the failures of `iteration` of the run; clears what an earlier selection showed. */
  show(projectDir: string, runDir: string, iteration: number) {
    this.diagnostics.clear();
    this.byFile.clear();
    this.iteration = iteration;
    this.runDir = runDir;
    if (iteration < 1) return;
    const file = path.resolve(projectDir, loadProjectConfig(projectDir).train);
    const lines = new Map<number, GenerationLine>();
    const diags: vscode.Diagnostic[] = [];
    for (const g of new RunStore(runDir).readGenerations(iteration)) {
      if (!g.line) continue;
      lines.set(g.line, g);
      if (g.stage !== 'failed') continue;
      const range = new vscode.Range(g.line - 1, 0, g.line - 1, Number.MAX_SAFE_INTEGER);
      const d = new vscode.Diagnostic(range, `STaR iteration ${iteration}: failed — the model answered ${g.answer ?? '(nothing readable)'}, gold is ${g.gold}`, vscode.DiagnosticSeverity.Warning);
      d.source = 'STaR';
      d.code = g.id;
      diags.push(d);
    }
    this.byFile.set(file, lines);
    this.diagnostics.set(vscode.Uri.file(file), diags);
  }

  provideHover(doc: vscode.TextDocument, pos: vscode.Position): vscode.Hover | undefined {
    const g = this.byFile.get(doc.uri.fsPath)?.get(pos.line + 1);
    if (!g) return undefined;
    const md = new vscode.MarkdownString();
    // Model output is untrusted: it goes in as code blocks and plain text, never as Markdown or HTML.
    md.appendMarkdown(`**STaR iteration ${this.iteration}** · ${g.stage}${g.hintLeak ? ' · hint leak' : ''}\n\n`);
    md.appendText(`answer: ${g.answer ?? '(nothing readable)'} · gold: ${g.gold}\n`);
    md.appendCodeblock(g.rationale, 'text');
    // The one command link this hover may run; the model's text above is escaped, so it cannot add others.
    md.isTrusted = { enabledCommands: [SHOW_IN_REPORT] };
    md.appendMarkdown(`\n[Show in the report](command:${SHOW_IN_REPORT}?${encodeURIComponent(JSON.stringify(this.args(g)))})`);
    return new vscode.Hover(md, doc.lineAt(pos.line).range);
  }

  provideCodeActions(doc: vscode.TextDocument, range: vscode.Range, context: vscode.CodeActionContext): vscode.CodeAction[] {
    const lines = this.byFile.get(doc.uri.fsPath);
    if (!lines) return [];
    const actions: vscode.CodeAction[] = [];
    for (let l = range.start.line; l <= range.end.line; l++) {
      const g = lines.get(l + 1);
      if (!g) continue;
      const a = new vscode.CodeAction(`STaR: show ${g.id} in the report (iteration ${this.iteration}, ${g.stage})`, vscode.CodeActionKind.QuickFix);
      a.command = { command: SHOW_IN_REPORT, title: a.title, arguments: this.args(g) };
      a.diagnostics = context.diagnostics.filter((d) => d.source === 'STaR' && d.code === g.id);
      a.isPreferred = g.stage === 'failed';
      actions.push(a);
    }
    return actions;
  }

  private args(g: GenerationLine): [string, number, string] {
    return [this.runDir, this.iteration, g.id];
  }

  dispose() {
    this.diagnostics.dispose();
  }
}

/** Opens the dataset file at the question's line. */
export async function revealQuestion(projectDir: string, store: RunStore, iteration: number, id: string) {
  const g = store.readGenerations(iteration).find((l) => l.id === id);
  if (!g?.line) return void vscode.window.showWarningMessage(`STaR: no dataset line known for ${id}`);
  const file = path.resolve(projectDir, loadProjectConfig(projectDir).train);
  const pos = new vscode.Position(g.line - 1, 0);
  await vscode.window.showTextDocument(vscode.Uri.file(file), { selection: new vscode.Range(pos, pos), viewColumn: vscode.ViewColumn.Beside });
}
