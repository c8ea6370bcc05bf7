// The iteration report: one webview panel showing the selected run and iteration. It answers the webview's
// requests (another iteration, a question's history) and turns its buttons into annotations, promotions and jumps.
import * as path from 'path';
import * as vscode from 'vscode';
import { RunStore } from '../engine/store/runStore';
import type { FromReport, ReportData, ToReport } from '../protocol';
import { annotate, promoteToP } from './annotations';
import { buildReport, defaultIteration, questionHistory } from './reportData';
import { latestAnnotations } from '../engine/export';
import { webviewHtml, webviewOptions } from './webviewHtml';

export class ReportPanel implements vscode.Disposable {
  static readonly viewType = 'starStudio.report';
  private panel?: vscode.WebviewPanel;
  private store?: RunStore;
  private iteration = 0;
  private ready = false;
  private pendingFocus?: string;
  /** Last data sent, for tests and for commands that act on the shown report. */
  data?: ReportData;
  /** Loss points sent live (for tests). */
  liveSteps = 0;

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly onAnnotated: () => void,
    private readonly reveal: (store: RunStore, iteration: number, id: string) => Promise<void>,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  get visible(): boolean {
    return !!this.panel;
  }

  show(runDir: string, iteration?: number, focusId?: string) {
    this.store = new RunStore(runDir);
    this.iteration = iteration ?? defaultIteration(this.store);
    this.pendingFocus = focusId;
    if (!this.panel) {
      this.panel = vscode.window.createWebviewPanel(ReportPanel.viewType, 'STaR Report', vscode.ViewColumn.Active, {
        ...webviewOptions(this.extensionUri),
        retainContextWhenHidden: true,
      });
      this.panel.iconPath = vscode.Uri.joinPath(this.extensionUri, 'media', 'star.svg');
      this.ready = false;
      this.panel.webview.html = webviewHtml(this.panel.webview, this.extensionUri, 'report', 'STaR Report');
      this.panel.webview.onDidReceiveMessage((m: FromReport) => this.receive(m).catch((e: Error) => {
        this.log.error(e.message);
        void vscode.window.showErrorMessage(`STaR: ${e.message}`);
      }));
      this.panel.onDidDispose(() => (this.panel = undefined));
    } else this.panel.reveal();
    this.panel.title = `STaR Report · ${this.store.id} · iteration ${this.iteration}`;
    if (this.ready) this.sendData();
  }

  /** A training step of a run in progress: drawn at once where the report shows that run. */
  liveLoss(runDir: string, iteration: number, step: number, loss: number) {
    if (!this.panel || !this.ready || this.store?.dir !== runDir) return;
    this.post({ type: 'loss', iteration, step, loss });
    this.liveSteps++;
  }

  /** Re-reads the run (after an iteration ends or an annotation is made elsewhere). */
  refresh() {
    if (this.panel && this.store && this.ready) this.sendData();
  }

  private post(m: ToReport) {
    void this.panel?.webview.postMessage(m);
  }

  private sendData() {
    this.data = buildReport(this.store!, this.iteration);
    this.post({ type: 'data', data: this.data });
    if (this.pendingFocus) this.post({ type: 'focus', id: this.pendingFocus });
    this.pendingFocus = undefined;
  }

  /** Handles a message of the webview (public so tests can drive the panel as the webview would). */
  async receive(m: FromReport) {
    const store = this.store!;
    switch (m.type) {
      case 'ready':
        this.ready = true;
        return this.sendData();
      case 'selectIteration':
        this.iteration = m.iteration;
        this.panel!.title = `STaR Report · ${store.id} · iteration ${m.iteration}`;
        return this.sendData();
      case 'history': {
        const h = questionHistory(store, m.id);
        if (h) this.post({ type: 'history', history: h });
        return;
      }
      case 'annotate':
        annotate(store, this.iteration, m.id, m.patch);
        this.sendRow(m.id);
        return this.onAnnotated();
      case 'promote': {
        const line = store.readGenerations(this.iteration).find((l) => l.id === m.id);
        if (!line) return;
        const edited = latestAnnotations(store.readAnnotations(), this.iteration).get(m.id)?.rationale;
        const uri = await promoteToP(store.projectDir, line, edited ?? line.rationale);
        annotate(store, this.iteration, m.id, { promoted: true });
        this.sendRow(m.id);
        void vscode.window.showInformationMessage(`STaR: added ${line.question} to ${path.basename(uri.fsPath)}`);
        return this.onAnnotated();
      }
      case 'reveal':
        return this.reveal(store, this.iteration, m.id);
    }
  }

  private sendRow(id: string) {
    const store = this.store!;
    const fresh = buildReport(store, this.iteration);
    this.data = fresh;
    const row = fresh.rows.find((r) => r.id === id);
    if (row) this.post({ type: 'row', row });
  }

  dispose() {
    this.panel?.dispose();
  }
}

