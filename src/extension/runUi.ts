// What a person sees of a run: a cancellable progress notification (Cancel = Stop) and a status-bar item.
import * as vscode from 'vscode';
import type { RunEvent } from '../engine/store/format';
import type { RunRequest, RunResult, Runner } from './runner';

export class RunStatusBar implements vscode.Disposable {
  readonly item = vscode.window.createStatusBarItem('starStudio.run', vscode.StatusBarAlignment.Left, 10);
  private readonly subs: vscode.Disposable[];

  constructor(runner: Runner) {
    this.item.name = 'STaR run';
    this.idle();
    this.subs = [
      runner.onEvent((e) => this.onEvent(e)),
      runner.onDidChangeRunning((on) => (on ? this.show('$(sync~spin) STaR: starting', 'starStudio.stop') : this.idle())),
    ];
  }

  private onEvent(e: RunEvent) {
    if (e.type === 'progress') this.show(`$(sync~spin) STaR: iteration ${e.iteration} · ${e.phase} ${e.done}/${e.total}`, 'starStudio.stop');
    if (e.type === 'iteration-end') this.show(`$(sync~spin) STaR: iteration ${e.iteration} done · eval ${(100 * e.metrics.eval.accuracy).toFixed(1)}%`, 'starStudio.stop');
  }

  private show(text: string, command: string) {
    this.item.text = text;
    this.item.tooltip = 'STaR run in progress: click to stop (finished work is kept)';
    this.item.command = command;
    this.item.show();
  }

  private idle() {
    this.item.text = '$(beaker) STaR';
    this.item.tooltip = 'STaR Studio: show the log';
    this.item.command = 'starStudio.showLog';
    this.item.show();
  }

  dispose() {
    this.subs.forEach((s) => s.dispose());
    this.item.dispose();
  }
}

/** Runs with a progress notification; its Cancel button stops the run cleanly. */
export function runWithProgress(runner: Runner, req: RunRequest, title: string): Promise<RunResult> {
  return Promise.resolve(
    vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title, cancellable: true }, (progress, token) => {
      let last = { key: '', pct: 0 };
      const sub = runner.onEvent((e) => {
        if (e.type !== 'progress' && e.type !== 'iteration-end') return;
        if (e.type === 'iteration-end') return progress.report({ message: `iteration ${e.iteration}: eval ${(100 * e.metrics.eval.accuracy).toFixed(1)}%` });
        const message = `iteration ${e.iteration} · ${e.phase} ${e.done}/${e.total}`;
        // rationalization runs chunk by chunk between generation's chunks: the bar follows generation alone
        if (e.phase === 'rationalize') return progress.report({ message });
        // withProgress takes increments; reset per phase so the bar restarts with each phase.
        const key = `${e.iteration}/${e.phase}`;
        const pct = e.total ? (100 * e.done) / e.total : 0;
        const increment = key === last.key ? pct - last.pct : pct;
        last = { key, pct };
        progress.report({ message, increment });
      });
      token.onCancellationRequested(() => runner.stop());
      const done = runner.start(req);
      return done.finally(() => sub.dispose());
    }),
  );
}
