// Turns a run directory into what the report shows: rows of one iteration with their change since the previous
// one and people's marks, per-iteration summaries for the chart, and a question's history across iterations.
import * as path from 'path';
import { compareRuns } from '../engine/compare';
import { latestAnnotations } from '../engine/export';
import { summarizeStages } from '../engine/metrics/history';
import type { Annotation, GenerationLine, IterationMetrics } from '../engine/store/format';
import { RunStore } from '../engine/store/runStore';
import type { Change, HistoryEntry, IterationSummary, LossCurve, OtherRun, QuestionHistory, ReportData, ReportRow } from '../protocol';

export function summary(m: IterationMetrics): IterationSummary {
  const t = m.train;
  return {
    iteration: m.iteration,
    train: { total: t.total, direct: t.correct, rationalized: t.rationalized, failed: t.failed, hintLeaks: t.hintLeaks },
    trainAccuracy: m.iteration === 0 || !t.total ? null : (t.correct + t.rationalized) / t.total,
    evalAccuracy: m.eval.accuracy,
    evalCorrect: m.eval.correct,
    evalTotal: m.eval.total,
    byGroup: Object.fromEntries(Object.entries(m.eval.byGroup).map(([g, a]) => [g, a.accuracy])),
  };
}

function change(prev: GenerationLine | undefined, now: GenerationLine, first: boolean): Change {
  if (first || !prev) return 'first';
  if (now.correct) return prev.correct ? 'still-solved' : 'newly-solved';
  return prev.correct ? 'newly-lost' : 'still-failed';
}

export function toRow(l: GenerationLine, c: Change, a: Annotation | undefined): ReportRow {
  return {
    id: l.id,
    question: l.question,
    gold: l.gold,
    rationale: l.rationale,
    answer: l.answer,
    stage: l.stage,
    correct: l.correct,
    hintLeak: !!l.hintLeak,
    group: l.group ?? 'all',
    line: l.line ?? null,
    directAnswer: l.directAnswer ?? null,
    change: c,
    verdict: a?.verdict ?? null,
    editedRationale: a?.rationale ?? null,
    note: a?.note ?? null,
    promoted: !!a?.promoted,
    disagrees: disagrees({ verdict: a?.verdict ?? null, correct: l.correct }),
  };
}

/** The iteration to show when none is chosen: the last finished one that generated rationales. */
export function defaultIteration(store: RunStore): number {
  const done = store.finishedIterations();
  return done.filter((n) => n > 0).pop() ?? done.pop() ?? 0;
}

export function buildReport(store: RunStore, iteration: number): ReportData {
  const run = store.readRun();
  const lines = store.readGenerations(iteration);
  const prev = new Map(iteration > 1 ? store.readGenerations(iteration - 1).map((l) => [l.id, l]) : []);
  const notes = latestAnnotations(store.readAnnotations(), iteration);
  const rows = lines.map((l) => toRow(l, change(prev.get(l.id), l, iteration <= 1), notes.get(l.id)));
  const iterations = store.finishedIterations().map((n) => summary(store.readMetrics(n)!));
  const groups = [...new Set(rows.map((r) => r.group))].sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
  return {
    project: path.basename(store.projectDir), runId: store.id, task: run.task, iteration, iterations, rows, groups,
    trainLoss: lossCurves(store),
    otherRuns: otherRuns(store),
  };
}

/** The other runs of the store's project that finished an iteration, each with what it does differently. */
export function otherRuns(store: RunStore): OtherRun[] {
  return compareRuns(store.projectDir, store)
    .filter((r) => r.runId !== store.id && r.evalAccuracy.length > 0)
    .map(({ runId, differs, evalAccuracy }) => ({ runId, differs, evalAccuracy }));
}

/** Points drawn per curve at most: longer ones are averaged over runs of consecutive steps. */
export const LOSS_POINTS = 400;

/** The training loss of every iteration that has one, the one training now included. */
export function lossCurves(store: RunStore): LossCurve[] {
  const out: LossCurve[] = [];
  const last = Math.max(0, ...store.finishedIterations()) + 1;
  for (let n = 0; n <= last; n++) {
    const lines = store.readTrainLoss(n);
    if (!lines.length) continue;
    const per = Math.ceil(lines.length / LOSS_POINTS);
    const curve: LossCurve = { iteration: n, steps: [], losses: [] };
    for (let i = 0; i < lines.length; i += per) {
      const run = lines.slice(i, i + per);
      const finite = run.map((l) => l.loss).filter((x): x is number => x !== null);
      curve.steps.push(run[run.length - 1].step);
      curve.losses.push(finite.length ? finite.reduce((a, b) => a + b, 0) / finite.length : null);
    }
    out.push(curve);
  }
  return out;
}

/** A question through every iteration: when it was first solved and by which stage, and when it was lost again. */
export function questionHistory(store: RunStore, id: string): QuestionHistory | undefined {
  const entries: HistoryEntry[] = [];
  let found: GenerationLine | undefined;
  for (const n of store.finishedIterations().filter((i) => i > 0)) {
    const l = store.readGenerations(n).find((g) => g.id === id);
    if (!l) continue;
    found = l;
    entries.push({ iteration: n, stage: l.stage, answer: l.answer, rationale: l.rationale, hintLeak: !!l.hintLeak });
  }
  if (!found) return undefined;
  const { firstSolved, firstStage, lost } = summarizeStages(entries);
  return {
    id,
    question: found.question,
    gold: found.gold,
    entries,
    firstSolved: firstSolved !== null && firstStage !== null ? { iteration: firstSolved, stage: firstStage } : null,
    lostAgain: lost,
  };
}

/** A person's verdict disagrees with the automatic one: a correct answer rejected, or a wrong one accepted. */
export function disagrees(r: Pick<ReportRow, 'verdict' | 'correct'>): boolean {
  return (r.verdict === 'reject' && r.correct) || (r.verdict === 'accept' && !r.correct);
}
