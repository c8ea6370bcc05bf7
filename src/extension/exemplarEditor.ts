// The few-shot exemplar editor: a custom text editor over P (exemplars.jsonl). The TextDocument stays the model, so
// undo/redo, save, dirty state and hot exit are VS Code's own; every edit is a WorkspaceEdit of one line, and the
// file stays plain JSONL that can be opened as text at any time.
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { CONFIG_FILE, loadProjectConfig } from '../engine/project';
import { getTask } from '../engine/tasks/index';
import type { Task } from '../engine/tasks/task';
import type { ExemplarsData, FromExemplars, ToExemplars } from '../protocol';
import { editLine, newExemplarLine, readExemplars } from './exemplarModel';
import { webviewHtml, webviewOptions } from './webviewHtml';

export class ExemplarEditorProvider implements vscode.CustomTextEditorProvider {
  static readonly viewType = 'starStudio.exemplars';

  constructor(private readonly extensionUri: vscode.Uri) {}

  /** The task and block size of the project that owns this P file (the nearest star.json above it). */
  static context(file: string): { task: Task; blockSize: number } {
    for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
      if (fs.existsSync(path.join(dir, CONFIG_FILE))) {
        const c = loadProjectConfig(dir);
        return { task: getTask(c.task), blockSize: c.model.blockSize };
      }
      if (path.dirname(dir) === dir) throw new Error(`${file} is not inside a STaR project (no ${CONFIG_FILE} above it)`);
    }
  }

  static data(doc: vscode.TextDocument): ExemplarsData {
    const { task, blockSize } = ExemplarEditorProvider.context(doc.uri.fsPath);
    return { task: task.name, blockSize, exemplars: readExemplars(doc.getText(), task, blockSize) };
  }

  resolveCustomTextEditor(doc: vscode.TextDocument, panel: vscode.WebviewPanel): void {
    panel.webview.options = webviewOptions(this.extensionUri);
    panel.webview.html = webviewHtml(panel.webview, this.extensionUri, 'exemplars', 'Few-shot Exemplars');
    const update = () => void panel.webview.postMessage({ type: 'data', data: ExemplarEditorProvider.data(doc) } satisfies ToExemplars);
    const sub = vscode.workspace.onDidChangeTextDocument((e) => {
      if (e.document.uri.toString() === doc.uri.toString() && e.contentChanges.length) update();
    });
    panel.onDidDispose(() => sub.dispose());
    panel.webview.onDidReceiveMessage((m: FromExemplars) => {
      if (m.type === 'ready') return update();
      applyExemplarEdit(doc, m).then(undefined, (e: Error) => void vscode.window.showErrorMessage(`STaR: ${e.message}`));
    });
  }
}

/** One edit from the webview, as a WorkspaceEdit on the document (so it is undoable). */
export async function applyExemplarEdit(doc: vscode.TextDocument, m: Exclude<FromExemplars, { type: 'ready' }>): Promise<boolean> {
  const { task } = ExemplarEditorProvider.context(doc.uri.fsPath);
  const edit = new vscode.WorkspaceEdit();
  if (m.type === 'add') {
    const last = doc.lineAt(doc.lineCount - 1);
    edit.insert(doc.uri, last.range.end, (last.text.trim() ? '\n' : '') + newExemplarLine(task) + '\n');
  } else if (m.type === 'delete') {
    edit.delete(doc.uri, doc.lineAt(m.line).rangeIncludingLineBreak);
  } else {
    const line = doc.lineAt(m.line);
    edit.replace(doc.uri, line.range, editLine(line.text, task, m.field, m.value));
  }
  return vscode.workspace.applyEdit(edit);
}
