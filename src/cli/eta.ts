// How long the rest of a run will take: the work left (known from run.json when the run starts) at the rates its
// phases have shown so far. No estimate until every kind of work still ahead has a measured rate.
import { trainSteps } from '../engine/schedule';
import type { Phase, RunEvent, RunJson } from '../engine/store/format';

/** The work of a run, as planned. */
export interface RunPlan {
  /** The iteration the run ends with (held-out accuracy that stops rising can end it sooner). */
  lastIteration: number;
  /** |D|: the questions generated from in each iteration. */
  questions: number;
  /** The held-out questions evaluated after each iteration. */
  evalQuestions: number;
  /** Training steps of iteration n; undefined where they depend on what is kept (the `epochs` schedule). */
  steps(n: number): number | undefined;
}

/** The plan run.json holds. */
export function planOf(run: RunJson): RunPlan {
  const { config } = run;
  const trains = (config.trainer?.kind ?? 'embedded') !== 'none';
  const baseTrains = config.model.backend !== 'openai' && !config.model.pretrained;
  const { schedule, baseSteps, batchSize } = config.training;
  return {
    lastIteration: config.star.iterations,
    questions: run.trainCount,
    evalQuestions: run.evalCount,
    steps: (n) => {
      if (n === 0) return baseTrains ? baseSteps : 0;
      if (!trains) return 0;
      return schedule.kind === 'epochs' ? undefined : trainSteps(schedule, n, 0, batchSize);
    },
  };
}

/** The phases that take time, in the order an iteration runs them; rationalization is timed within generation. */
type Timed = Exclude<Phase, 'rationalize'>;

/** Iteration 0 makes the base model; every later one generates from D first. */
const BASE: Timed[] = ['train', 'eval'];
const ITERATION: Timed[] = ['generate', 'train', 'eval'];

/** Time spent and units of work done in it. */
interface Tally {
  seconds: number;
  units: number;
}

export class RunEta {
  private readonly tally = new Map<Timed, Tally>();
  private plan?: RunPlan;
  private resumed = false;
  private iteration?: number;
  /** The first iteration after a resume may have been part done: its phases do not start at 0. */
  private partDone = false;
  private phase?: { name: Timed; done: number; total: number };
  /** The last moment (ms) with a known count of done units in the current phase; undefined when none yet. */
  private mark?: { t: number; done: number };
  /** The last training total seen, the estimate of later iterations' steps when the plan has none. */
  private lastSteps?: number;

  constructor(private readonly now: () => number = Date.now) {}

  /** The run's plan, once run.json is there to read (after `run-start`). */
  setPlan(plan: RunPlan): void {
    this.plan = plan;
  }

  onEvent(e: RunEvent): void {
    const t = this.now();
    switch (e.type) {
      case 'run-start':
        this.resumed = e.resumed;
        break;
      case 'iteration-start':
        this.partDone = this.resumed && this.iteration === undefined;
        this.iteration = e.iteration;
        this.phase = undefined;
        this.mark = this.partDone ? undefined : { t, done: 0 };
        break;
      case 'phase':
        if (e.phase !== 'rationalize') this.enter(e.phase, e.total, t, 0);
        break;
      case 'progress':
        if (e.phase === 'rationalize') break;
        this.enter(e.phase, e.total, t, e.done);
        this.count(e.done, t);
        break;
      case 'iteration-end':
        this.iteration = e.iteration + 1; // the next, not started yet
        this.phase = undefined;
        this.mark = undefined;
        break;
      case 'run-end':
        this.phase = undefined;
        this.mark = undefined;
        break;
    }
  }

  /** Seconds left in the current phase, or undefined without a rate for it. */
  phaseRemaining(): number | undefined {
    if (!this.phase) return undefined;
    const left = this.left(this.phase.name, this.phase.total - this.phase.done);
    return left === undefined ? undefined : Math.max(0, left - this.sinceMark());
  }

  /** Seconds left in the whole run, or undefined while some work ahead has no rate yet. */
  runRemaining(): number | undefined {
    const plan = this.plan;
    const n = this.iteration;
    if (!plan || n === undefined) return undefined;
    if (n > plan.lastIteration) return 0;
    const units = (phase: Timed, m: number) =>
      phase === 'generate' ? plan.questions : phase === 'eval' ? plan.evalQuestions : plan.steps(m) ?? this.lastSteps;
    const current = this.phase;
    let sum = current ? this.phaseRemaining() : 0;
    const order = n === 0 ? BASE : ITERATION;
    const ahead = order.slice(current ? order.indexOf(current.name) + 1 : 0).map((phase) => ({ phase, m: n }));
    for (let m = n + 1; m <= plan.lastIteration; m++) ahead.push(...ITERATION.map((phase) => ({ phase, m })));
    for (const { phase, m } of ahead) {
      const u = units(phase, m);
      const s = u === undefined ? undefined : this.left(phase, u);
      sum = sum === undefined || s === undefined ? undefined : sum + s;
    }
    return sum;
  }

  /** Seconds that `units` of a phase take at its rate so far; no work needs no rate. */
  private left(phase: Timed, units: number): number | undefined {
    if (units <= 0) return 0;
    const r = this.tally.get(phase);
    return r && r.units > 0 ? (units * r.seconds) / r.units : undefined;
  }

  private sinceMark(): number {
    return this.mark ? (this.now() - this.mark.t) / 1000 : 0;
  }

  /**
   * A phase starts where the previous one ended, none of its work done then (unless the iteration was part done
   * before a resume). A phase that ended without reporting its last units (a trainer command reports no steps) did
   * them between its last event and this one, less what the new phase's first units took at their rate.
   */
  private enter(name: Timed, total: number, t: number, firstDone: number): void {
    if (name === 'train') this.lastSteps = total;
    if (this.phase?.name === name) {
      this.phase.total = total;
      return;
    }
    const prev = this.phase;
    const mark = this.mark;
    let start: number | undefined = mark?.t ?? t;
    if (prev && mark && prev.total > mark.done) {
      const theirs = firstDone > 0 ? this.left(name, firstDone) : 0;
      const span = (t - mark.t) / 1000;
      const mine = theirs === undefined ? span : Math.max(0, span - theirs);
      this.add(prev.name, mine, prev.total - mark.done);
      start = theirs === undefined ? undefined : mark.t + mine * 1000;
    }
    if (prev && mark) this.partDone = false; // work was seen being done: what follows starts at 0
    this.phase = { name, done: 0, total };
    this.mark = this.partDone || start === undefined ? undefined : { t: start, done: 0 };
  }

  private count(done: number, t: number): void {
    const phase = this.phase!;
    if (this.mark && done > this.mark.done) this.add(phase.name, (t - this.mark.t) / 1000, done - this.mark.done);
    phase.done = done;
    this.mark = { t, done };
  }

  private add(phase: Timed, seconds: number, units: number): void {
    const r = this.tally.get(phase) ?? { seconds: 0, units: 0 };
    r.seconds += seconds;
    r.units += units;
    this.tally.set(phase, r);
  }
}

/** A duration as a person reads it: 42s, 3m05s, 1h02m. */
export function formatDuration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}
