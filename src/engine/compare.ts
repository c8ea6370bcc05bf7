// The runs of one project side by side: each run's held-out accuracy by iteration and what its config and P do
// differently from a reference run (an ablation, another seed, an edited P). `star compare` and the report use it.
import type { RunState } from './store/format';
import { RunStore } from './store/runStore';

export interface RunComparison {
  runId: string;
  /** How the run's config and P differ from the reference run's, e.g. "star.rationalize: false"; '' for the reference. */
  differs: string;
  /** How the run stands now: a failed or stopped run is shown too, with what it finished (maybe nothing). */
  state: RunState;
  evalAccuracy: { iteration: number; accuracy: number }[];
}

/** Every run of the project, oldest first, each compared with `reference`. */
export function compareRuns(projectDir: string, reference: RunStore): RunComparison[] {
  const mine = reference.readRun();
  const out: RunComparison[] = [];
  for (const id of RunStore.list(projectDir)) {
    const other = RunStore.at(projectDir, id);
    const done = other.finishedIterations();
    const run = other.readRun();
    // how many iterations a run planned says nothing of how each ran: the accuracies show how far it got
    const diffs = configDiff(mine.config, run.config).filter((d) => !d.startsWith('star.iterations:'));
    if (JSON.stringify(run.exemplars) !== JSON.stringify(mine.exemplars)) diffs.push(`P: ${run.exemplars.length} exemplars, edited`);
    const shown = diffs.length > 3 ? [...diffs.slice(0, 3), `${diffs.length - 3} more`] : diffs;
    out.push({
      runId: id,
      differs: id === reference.id ? '' : shown.length ? shown.join(', ') : 'same config',
      state: other.state(run),
      evalAccuracy: done.map((n) => ({ iteration: n, accuracy: other.readMetrics(n)!.eval.accuracy })),
    });
  }
  return out;
}

/** The leaves where b's config differs from a's, as "path: value" (b's value). */
export function configDiff(a: unknown, b: unknown, at = ''): string[] {
  if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    return keys.flatMap((k) => configDiff((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], at ? `${at}.${k}` : k));
  }
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [`${at}: ${b === undefined ? '(unset)' : JSON.stringify(b)}`];
}
