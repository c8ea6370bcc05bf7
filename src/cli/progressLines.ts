// Progress as plain lines, for a stderr that is no terminal (a CI log, `2>log`): no escapes, no carriage returns.
// A line when a phase starts, each time it is another fifth of the way, at least every 30 s while it moves, and when
// it ends. (cli-progress's noTTYOutput prints every bar on a timer, moving or not, with blank lines between.)
import type { Phase } from '../engine/store/format';
import { formatDuration } from './eta';
import type { Display, PhaseState } from './progress';

const STEPS = 5;
const EVERY_MS = 30_000;

interface Shown {
  step: number;
  at: number;
  state: PhaseState;
}

export class LinesDisplay implements Display {
  private readonly shown = new Map<Phase, Shown>();

  constructor(
    private readonly stream: NodeJS.WritableStream,
    private readonly now: () => number,
    private readonly runEta: () => string | undefined,
  ) {}

  update(state: PhaseState): void {
    const t = this.now();
    const step = state.total > 0 ? Math.floor((STEPS * state.done) / state.total) : 0;
    const seen = this.shown.get(state.phase);
    if (seen) seen.state = state;
    // the end says the last count; a count at the total before it would say the same
    if (state.done >= state.total && state.total > 0) {
      if (!seen) this.shown.set(state.phase, { step, at: t, state });
      return;
    }
    if (seen && step <= seen.step && t - seen.at < EVERY_MS) return;
    const pct = state.total > 0 ? ` (${Math.floor((100 * state.done) / state.total)}%)` : '';
    this.line(`${state.label} ${state.phase}: ${state.done}/${state.total}${pct}`, state.detail());
    this.shown.set(state.phase, { step, at: t, state });
  }

  end(phase: Phase): void {
    const seen = this.shown.get(phase);
    if (!seen) return;
    this.shown.delete(phase);
    const { label, done, total, started } = seen.state;
    const took = formatDuration((this.now() - started) / 1000);
    this.line(`${label} ${phase}: done, ${done}/${total} in ${took}`, '');
  }

  say(line: string): void {
    this.stream.write(`${line}\n`);
  }

  run(): void {
    // each line ends with the run's ETA instead
  }

  stop(): void {
    this.shown.clear();
  }

  private line(head: string, detail: string): void {
    const eta = this.runEta();
    this.say([head, detail, eta === undefined ? '' : `run eta ${eta}`].filter(Boolean).join(' · '));
  }
}
