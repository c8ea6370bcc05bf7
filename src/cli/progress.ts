// A live progress bar for `star run`, fed by the engine's events.
import { SingleBar } from 'cli-progress';
import type { RunEvent } from '../engine/store/format';

export class ProgressView {
  private bar?: SingleBar;
  private label = '';

  onEvent(e: RunEvent): void {
    switch (e.type) {
      case 'run-start':
        console.error(`${e.resumed ? 'resuming' : 'starting'} run ${e.runId} on ${e.backend}`);
        break;
      case 'iteration-start':
        this.label = e.iteration === 0 ? 'base model' : `iteration ${e.iteration}`;
        break;
      case 'phase':
      case 'progress': {
        const loss = e.type === 'progress' && e.loss !== undefined ? `loss ${e.loss.toFixed(3)}` : '';
        const phase = `${this.label} ${e.phase}`.padEnd(26);
        const total = e.total;
        const done = e.type === 'progress' ? e.done : 0;
        if (!this.bar || this.bar.getTotal() !== total || (this.bar as unknown as { payload: { phase: string } }).payload?.phase !== phase) {
          this.bar?.stop();
          this.bar = new SingleBar({
            format: '{phase} [{bar}] {value}/{total} {eta_formatted} {loss}',
            barsize: 30,
            hideCursor: true,
            clearOnComplete: false,
            stream: process.stderr,
          });
          this.bar.start(total, done, { phase, loss });
        } else this.bar.update(done, { phase, loss });
        break;
      }
      case 'iteration-end': {
        this.bar?.stop();
        this.bar = undefined;
        const m = e.metrics;
        const groups = Object.entries(m.eval.byGroup)
          .sort(([a], [b]) => a.localeCompare(b, undefined, { numeric: true }))
          .map(([g, a]) => `${g}:${(100 * a.accuracy).toFixed(0)}%`)
          .join(' ');
        const t = m.iteration === 0 ? '' : `kept ${m.train.correct} direct + ${m.train.rationalized} rationalized of ${m.train.total}; `;
        console.error(`${this.label}: ${t}eval ${(100 * m.eval.accuracy).toFixed(1)}% [${groups}] in ${m.seconds.toFixed(0)} s`);
        break;
      }
      case 'log':
        this.bar?.stop();
        this.bar = undefined;
        console.error(`${e.level}: ${e.message}`);
        break;
      case 'run-end':
        this.stop();
        if (e.error) console.error(`run failed: ${e.error}`);
        break;
    }
  }

  stop(): void {
    this.bar?.stop();
    this.bar = undefined;
  }
}
