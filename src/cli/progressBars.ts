// Progress as live bars in a terminal (cli-progress): the run's line on top, below it the bars of the phases now
// running. Lines that stay (logs, each iteration's summary) are written above the bars.
import { Format, MultiBar, Options, Params, SingleBar } from 'cli-progress';
import type { Phase } from '../engine/store/format';
import type { Display, PhaseState } from './progress';

/** Wide enough for "iteration 12 rationalize". */
const HEAD = 25;

const phaseFormat = (options: Options, params: Params, payload: { state: PhaseState }): string => {
  const s = payload.state;
  const detail = s.detail();
  const head = `${s.label} ${s.phase}`.padEnd(HEAD);
  return `${head} ${Format.BarFormat(params.progress, options)} ${s.done}/${s.total}${detail ? `  ${detail}` : ''}`;
};

type RunText = () => { fraction?: number; text: string };

const runFormat = (options: Options, _params: Params, payload: { line: RunText }): string => {
  const { fraction, text } = payload.line();
  const bar = fraction === undefined ? ' '.repeat(options.barsize ?? 0) : Format.BarFormat(fraction, options);
  const pct = fraction === undefined ? '' : `${Math.floor(100 * fraction)}% · `;
  return `${'run'.padEnd(HEAD)} ${bar} ${pct}${text}`;
};

export class BarsDisplay implements Display {
  private multi?: MultiBar;
  private readonly bars = new Map<Phase, SingleBar>();

  constructor(private readonly stream: NodeJS.WriteStream) {}

  update(state: PhaseState): void {
    const multi = this.open();
    const bar = this.bars.get(state.phase);
    if (!bar) {
      this.bars.set(state.phase, multi.create(state.total, state.done, { state }, { format: phaseFormat }));
      // drawn at once: a phase shorter than the redraw interval would otherwise never be seen
      multi.update();
      return;
    }
    bar.setTotal(state.total);
    bar.update(state.done, { state });
  }

  end(phase: Phase): void {
    const bar = this.bars.get(phase);
    if (!bar) return;
    this.bars.delete(phase);
    this.multi?.update(); // its last state, before it goes
    this.multi?.remove(bar);
  }

  say(line: string): void {
    if (this.multi) this.multi.log(`${line}\n`);
    else this.stream.write(`${line}\n`);
  }

  run(line: RunText): void {
    this.open().create(1, 0, { line }, { format: runFormat });
  }

  stop(): void {
    if (!this.multi) return;
    this.multi.update(); // writes out the lines logged since the last redraw
    this.multi.stop();
    this.multi = undefined;
    this.bars.clear();
  }

  private open(): MultiBar {
    this.multi ??= new MultiBar({
      stream: this.stream,
      barsize: 20,
      barCompleteChar: '\u2588',
      barIncompleteChar: '\u2591',
      hideCursor: true,
      clearOnComplete: true,
      linewrap: true,
    });
    return this.multi;
  }
}
