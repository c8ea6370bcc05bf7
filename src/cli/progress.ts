// What `star run` shows of a run on stderr, fed by the engine's events: live bars in a terminal, plain lines where
// stderr is a file or a pipe (CI logs, `2>log`). Either way with the current phase's ETA and the whole run's.
import type { Phase, RunEvent } from '../engine/store/format';
import { RunStore } from '../engine/store/runStore';
import { formatDuration, planOf, RunEta } from './eta';
import { BarsDisplay } from './progressBars';
import { LinesDisplay } from './progressLines';

/** One phase of an iteration as shown: where it stands and what to say beside the count. */
export interface PhaseState {
  label: string;
  phase: Phase;
  done: number;
  total: number;
  /** When (ms) its work began: the previous phase's last event, as phases run back to back. */
  started: number;
  /** e.g. "eta 40s · loss 1.234", computed when shown (the ETA runs down between events). */
  detail: () => string;
}

/** Where phases and lines go: a terminal's bars, or plain lines. */
export interface Display {
  /** Shows a phase starting or moving on. */
  update(state: PhaseState): void;
  /** The phase is over. */
  end(phase: Phase): void;
  /** A line that stays (a log line, an iteration's summary). */
  say(line: string): void;
  /** The run's line: where it is and when it ends (bars only; plain lines carry the run ETA in each line). */
  run(text: () => { fraction?: number; text: string }): void;
  stop(): void;
}

/** Generation and rationalization alternate chunk by chunk: both stay shown until the next phase. */
const together = (a: Phase, b: Phase) =>
  (a === 'generate' && b === 'rationalize') || (a === 'rationalize' && b === 'generate');

export class ProgressView {
  private readonly eta: RunEta;
  private readonly display: Display;
  private readonly active = new Map<Phase, PhaseState>();
  private label = '';
  private iteration = 0;
  private last?: number;
  private started?: number;
  /** The time of the iteration's last event: where a phase that starts without a `phase` event began. */
  private lastAt = 0;

  constructor(stream: NodeJS.WriteStream = process.stderr, private readonly now: () => number = Date.now) {
    this.eta = new RunEta(now);
    this.display = stream.isTTY ? new BarsDisplay(stream) : new LinesDisplay(stream, now, () => this.runEta());
  }

  onEvent(e: RunEvent): void {
    this.eta.onEvent(e);
    switch (e.type) {
      case 'run-start':
        this.started = this.now();
        this.readPlan(e.runDir);
        this.display.say(`${e.resumed ? 'resuming' : 'starting'} run ${e.runId} on ${e.backend}`);
        this.display.run(() => this.runLine());
        break;
      case 'iteration-start':
        this.lastAt = this.now();
        this.iteration = e.iteration;
        this.label = e.iteration === 0 ? 'base model' : `iteration ${e.iteration}`;
        break;
      case 'phase':
        this.show(e.phase, 0, e.total, this.now());
        break;
      case 'progress':
        this.show(e.phase, e.done, e.total, e.phase === 'rationalize' ? this.now() : this.lastAt, e.loss);
        break;
      case 'iteration-end': {
        this.endAll();
        const m = e.metrics;
        const groups = Object.entries(m.eval.byGroup)
          .sort(([a], [b]) => a.localeCompare(b, undefined, { numeric: true }))
          .map(([g, a]) => `${g}:${(100 * a.accuracy).toFixed(0)}%`)
          .join(' ');
        const kept = `kept ${m.train.correct} direct + ${m.train.rationalized} rationalized of ${m.train.total}; `;
        const t = m.iteration === 0 ? '' : kept;
        const acc = (100 * m.eval.accuracy).toFixed(1);
        this.display.say(`${this.label}: ${t}eval ${acc}% [${groups}] in ${m.seconds.toFixed(0)} s`);
        break;
      }
      case 'log':
        this.display.say(`${e.level}: ${e.message}`);
        break;
      case 'run-end':
        // a failure's message is the command's to print (once), with the exit code
        this.stop();
        break;
    }
  }

  /** A line between the bars' updates (e.g. the stop request's note). */
  say(line: string): void {
    this.display.say(line);
  }

  stop(): void {
    this.endAll();
    this.display.stop();
  }

  private show(phase: Phase, done: number, total: number, started: number, loss?: number): void {
    this.lastAt = this.now();
    for (const p of [...this.active.keys()]) if (p !== phase && !together(p, phase)) this.endPhase(p);
    const state = this.active.get(phase) ?? { label: this.label, phase, done, total, started, detail: () => '' };
    state.done = done;
    state.total = total;
    state.detail = () => this.detail(phase, loss);
    this.active.set(phase, state);
    this.display.update(state);
  }

  private detail(phase: Phase, loss?: number): string {
    if (phase === 'rationalize') return 'of the failed so far';
    const left = this.eta.phaseRemaining();
    const eta = left === undefined ? '' : `eta ${formatDuration(left)}`;
    return [eta, loss === undefined ? '' : `loss ${loss.toFixed(3)}`].filter(Boolean).join(' · ');
  }

  private endPhase(p: Phase): void {
    this.active.delete(p);
    this.display.end(p);
  }

  private endAll(): void {
    for (const p of [...this.active.keys()]) this.endPhase(p);
  }

  /** "iteration 2/6 · eta 12m40s" (it fits an 80-column terminal), and the share of the run done by the clock. */
  private runLine(): { fraction?: number; text: string } {
    const elapsed = (this.now() - (this.started ?? this.now())) / 1000;
    const left = this.eta.runRemaining();
    const of = this.last === undefined ? '' : `/${this.last}`;
    const eta = left === undefined ? 'eta unknown yet' : `eta ${formatDuration(left)}`;
    const fraction = left === undefined ? undefined : elapsed / Math.max(1e-9, elapsed + left);
    return { fraction, text: `iteration ${this.iteration}${of} · ${eta}` };
  }

  private runEta(): string | undefined {
    const left = this.eta.runRemaining();
    return left === undefined ? undefined : formatDuration(left);
  }

  /** run.json says how much work the run plans; unreadable, the run goes on without a run ETA. */
  private readPlan(runDir: string): void {
    try {
      const plan = planOf(new RunStore(runDir).readRun());
      this.eta.setPlan(plan);
      this.last = plan.lastIteration;
    } catch {
      this.last = undefined;
    }
  }
}
