// Which run a command works on when none is named: the latest with finished work, not merely the latest, so a
// failed or stopped start does not hide the runs before it. The reason comes with it, so a person knows which run
// they are looking at and why.
import { RunStore } from './store/runStore';

export interface PickedRun {
  store: RunStore;
  /** e.g. "run X: the latest with finished iterations; newer run Y failed before finishing any iteration (...)" */
  reason: string;
}

export interface PickOptions {
  /** The run named (`--run`); then no other is considered. */
  id?: string;
  /** The lowest finished iteration that counts as work: 1 for export (iteration 0 generates no rationales). */
  minIteration?: number;
  /** The oldest such run instead of the latest (compare's reference). */
  oldest?: boolean;
}

export function pickRun(projectDir: string, o: PickOptions = {}): PickedRun {
  const ids = RunStore.list(projectDir);
  if (o.id) {
    if (!ids.includes(o.id))
      throw new Error(`no run ${o.id} in ${RunStore.runsDir(projectDir)} (runs: ${ids.join(', ') || 'none'})`);
    return { store: RunStore.at(projectDir, o.id), reason: `run ${o.id}: named by --run` };
  }
  if (!ids.length)
    throw new Error(`no runs in ${RunStore.runsDir(projectDir)} — start one with \`star run ${projectDir}\``);
  const min = o.minIteration ?? 0;
  const skipped: RunStore[] = [];
  for (const id of o.oldest ? ids : [...ids].reverse()) {
    const store = RunStore.at(projectDir, id);
    if (hasWork(store, min)) return { store, reason: reasonFor(store, skipped, min, !!o.oldest) };
    skipped.push(store);
  }
  const each = skipped.map((s) => `run ${s.id} ${whatHappened(s)}`).join('; ');
  throw new Error(`no run in ${RunStore.runsDir(projectDir)} has ${workName(min)}: ${each}`);
}

/** Whether the run finished an iteration numbered `min` or later. */
export function hasWork(store: RunStore, min = 0): boolean {
  return store.finishedIterations().some((n) => n >= min);
}

const workName = (min: number) => (min > 0 ? `a finished iteration ${min} or later` : 'a finished iteration');

function reasonFor(store: RunStore, skipped: RunStore[], min: number, oldest: boolean): string {
  const which = oldest ? 'oldest' : 'latest';
  if (!skipped.length) return `run ${store.id}: the ${which} run`;
  const passed = skipped.map((s) => `${oldest ? 'older' : 'newer'} run ${s.id} ${whatHappened(s)}`).join('; ');
  return `run ${store.id}: the ${which} with ${workName(min)}; ${passed}`;
}

/** How a run stands, in words: "failed before finishing any iteration (error: ...)". */
export function whatHappened(store: RunStore): string {
  let state: string;
  let error: string | undefined;
  try {
    const run = store.readRun();
    state = store.state(run);
    error = run.error?.split('\n')[0];
  } catch (e) {
    return `has a run.json that cannot be read (${(e as Error).message})`;
  }
  const done = store.finishedIterations();
  const verb = STATE_WORDS[state] ?? `is ${state}`;
  const sofar = state === 'running' ? 'and has finished' : '';
  const progress = done.length
    ? `${sofar || 'after finishing'} only iteration${done.length > 1 ? 's' : ''} ${done.join(', ')}`
    : sofar ? `${sofar} no iteration yet` : 'before finishing any iteration';
  return `${verb} ${progress}${error ? ` (error: ${error})` : ''}`;
}

const STATE_WORDS: Record<string, string> = {
  failed: 'failed',
  stopped: 'was stopped',
  interrupted: 'was interrupted',
  running: 'is running',
  finished: 'finished',
};
