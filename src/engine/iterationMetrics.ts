// An iteration's metrics.json: training-set counts by stage, held-out accuracy by group, time by phase, and the
// requests a served model cost.
import * as fs from 'fs';
import { addUsage, emptyUsage } from './generators/generator';
import { sampleMetrics } from './metrics/samples';
import { RunStore } from './store/runStore';
import type { DedupMetrics, EvalLine, GenerationLine, GroupAccuracy, IterationMetrics, RunEvent, UsageCounters, UsageMetrics } from './store/format';
import type { Task } from './tasks/task';

export function metrics(
  task: Task,
  n: number,
  lines: GenerationLine[],
  ev: EvalLine[],
  steps: number,
  trainExamples: number,
  loss: number | null,
  t0: number,
  phaseSeconds: IterationMetrics['phaseSeconds'],
  usage: UsageMetrics,
  k: number,
  dedup?: DedupMetrics,
): IterationMetrics {
  const byGroup: Record<string, GroupAccuracy> = {};
  for (const l of ev) {
    const g = (byGroup[l.group ?? 'all'] ??= { total: 0, correct: 0, accuracy: 0 });
    g.total++;
    if (l.correct) g.correct++;
  }
  for (const g of Object.values(byGroup)) g.accuracy = g.total ? g.correct / g.total : 0;
  const correct = ev.filter((l) => l.correct).length;
  return {
    iteration: n,
    train: {
      total: lines.length,
      correct: lines.filter((l) => l.stage === 'direct').length,
      rationalized: lines.filter((l) => l.stage === 'rationalized').length,
      failed: lines.filter((l) => l.stage === 'failed').length,
      hintLeaks: lines.filter((l) => l.hintLeak).length,
    },
    eval: { total: ev.length, correct, accuracy: ev.length ? correct / ev.length : 0, byGroup },
    trainSteps: steps,
    trainExamples,
    finalLoss: loss,
    seconds: (Date.now() - t0) / 1000,
    phaseSeconds,
    usage,
    ...(k > 1 && n > 0 ? { samples: sampleMetrics(lines, k, (a, b) => task.equal(a, b)) } : {}),
    ...(dedup ? { dedup } : {}),
  };
}

/** Requests of a remote model in generate and rationalize so far (iter-<n>/usage.json: a resumed run adds to it). */
export function readUsage(store: RunStore, n: number): { generate: UsageCounters; rationalize: UsageCounters } {
  const f = store.iterPath(n, 'usage.json');
  if (!fs.existsSync(f)) return { generate: emptyUsage(), rationalize: emptyUsage() };
  return JSON.parse(fs.readFileSync(f, 'utf8'));
}

export function usageMetrics(generate: UsageCounters, rationalize: UsageCounters, ev: UsageCounters): UsageMetrics {
  return { generate, rationalize, eval: ev, total: addUsage(addUsage(generate, rationalize), ev) };
}

export function reportUsage(say: (e: RunEvent) => void, n: number, u: UsageMetrics) {
  if (u.total.requests === 0) return;
  const t = u.total;
  say({
    type: 'log',
    level: 'info',
    message: `iteration ${n}: ${t.requests} request(s), ${t.cached} reused from the cache, ${t.requests - t.cached} sent (${t.retries} retries), ` +
      `${t.promptTokens} prompt + ${t.completionTokens} completion tokens${t.cost > 0 ? `, cost ${t.cost.toFixed(4)}` : ''}`,
  });
}
