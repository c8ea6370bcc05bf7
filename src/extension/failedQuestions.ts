// Failed questions inline: a diagnostic on each line of the dataset file whose question failed in the selected
// iteration, and a hover there with the model's rationale and answer.
import * as path from 'path';
import * as vscode from 'vscode';
import { loadProjectConfig } from '../engine/project';
import type { GenerationLine } from '../engine/store/format';
import { RunStore } from '../engine/store/runStore';

export class FailedQuestions implements vscode.Disposable, vscode.HoverProvider {
  readonly diagnostics = vscode.languages.createDiagnosticCollection('star');
  /** dataset file path → line (1-based) → the generation shown there */
  private byFile = new Map<string, Map<number, GenerationLine>>();
  private iteration = 0;

  /** Shows the failures of `iteration` of the run; clears what an earlier selection showed. */
  show(projectDir: string, runDir: string, iteration: number) {
    this.diagnostics.clear();
    this.byFile.clear();
    this.iteration = iteration;
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
    return new vscode.Hover(md, doc.lineAt(pos.line).range);
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
