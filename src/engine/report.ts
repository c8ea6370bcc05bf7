// A run's iterations as rows: what `star report` prints and what the README tables come from.
import type { IterationMetrics } from './store/format';
import type { TaskName } from './tasks/task';
import { RunStore } from './store/runStore';

export interface ReportRow {
  iteration: number;
  direct: number | null;
  rationalized: number | null;
  failed: number | null;
  trainExamples: number;
  trainSteps: number;
  accuracy: number;
  byGroup: Record<string, number>;
  seconds: number;
}

export function reportRows(store: RunStore): ReportRow[] {
  return store
    .finishedIterations()
    .map((n) => store.readMetrics(n)!)
    .map((m: IterationMetrics) => ({
      iteration: m.iteration,
      direct: m.iteration === 0 ? null : m.train.correct,
      rationalized: m.iteration === 0 ? null : m.train.rationalized,
      failed: m.iteration === 0 ? null : m.train.failed,
      trainExamples: m.trainExamples,
      trainSteps: m.trainSteps,
      accuracy: m.eval.accuracy,
      byGroup: Object.fromEntries(Object.entries(m.eval.byGroup).map(([g, a]) => [g, a.accuracy])),
      seconds: m.seconds,
    }));
}

/** Group names in a natural order: "2" before "10". */
export function groupNames(rows: ReportRow[]): string[] {
  const names = new Set<string>();
  for (const r of rows) for (const g of Object.keys(r.byGroup)) names.add(g);
  return [...names].sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
}

/** What a task's eval groups count, for column heads. */
export function groupLabel(task: TaskName): string {
  return task === 'arithmetic' ? 'digits' : task === 'gsm8k' ? 'steps' : 'group';
}

/** Accuracy as `star report` prints it in the terminal: percent, one decimal. */
export const percent = (x: number): string => (100 * x).toFixed(1);

/** A Markdown table of the rows (for READMEs and notes), in the terminal table's units. */
export function markdownTable(rows: ReportRow[], label = 'digits'): string {
  const groups = groupNames(rows);
  const head = ['iter', 'direct', 'rationalized', 'failed', 'train ex.', 'steps', 'eval %',
    ...groups.map((g) => `${label} ${g} %`), 'seconds'];
  const fmt = (x: number | null) => (x === null ? '–' : String(x));
  return markdown(head, rows.map((r) => [
    r.iteration, fmt(r.direct), fmt(r.rationalized), fmt(r.failed), r.trainExamples, r.trainSteps, percent(r.accuracy),
    ...groups.map((g) => percent(r.byGroup[g] ?? 0)), r.seconds.toFixed(0),
  ]));
}

/** A Markdown table. */
export function markdown(head: string[], rows: (string | number)[][]): string {
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}
