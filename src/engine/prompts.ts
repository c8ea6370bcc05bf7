// What the model is shown: the few-shot prefix of P (or chat turns), the question, the hint when rationalizing, and
// how long an answer may run.
import type { ChatTurn } from './generators/generator';
import { hashSeed } from './random';
import type { ProjectConfig, TrainExample } from './store/format';
import { Example, Exemplar, fewShotPrefix, Task } from './tasks/task';

/** The exemplars of P in front of x: the first `shots`, or `shots` drawn for x alone (seeded by its id). */
export function shotsFor(config: ProjectConfig, P: Exemplar[], x: Example): Exemplar[] {
  const k = Math.min(config.sampling.shots, P.length);
  if (k <= 0) return [];
  if ((config.sampling.shotSelection ?? 'first') === 'first') return P.slice(0, k);
  const ranked = P.filter((e) => e.id !== x.id).map((e) => ({ e, h: hashSeed('shots', x.id, e.id) })).sort((a, b) => a.h - b.h);
  return ranked.slice(0, k).map((r) => r.e);
}

/** The prompt for x: the few-shot prefix of P (when the model needs one), then x, with the hint when rationalizing. */
export function promptOf(task: Task, config: ProjectConfig, P: Exemplar[], x: Example, hint: boolean): string {
  return fewShotPrefix(task, shotsFor(config, P, x)) + task.prompt(x, hint);
}

/** The same prompt as chat turns: each shot a user/assistant pair, then x. */
export function turnsOf(task: Task, config: ProjectConfig, P: Exemplar[], x: Example, hint: boolean): ChatTurn[] {
  const turns: ChatTurn[] = [];
  for (const e of shotsFor(config, P, x)) turns.push({ role: 'user', content: task.prompt(e) }, { role: 'assistant', content: task.completion(e.rationale, e.gold) });
  turns.push({ role: 'user', content: task.prompt(x, hint) });
  return turns;
}

/** Tokens each question may generate: the configured limit, or less when the task knows a right answer is shorter. */
export function budgets(task: Task, config: ProjectConfig, xs: Example[]): number[] {
  const max = config.sampling.maxNewTokens;
  return xs.map((x) => Math.min(max, task.completionBudget?.(x) ?? max));
}

/**
 * P as training text: each exemplar without and with the hint, so the model learns to use a hint too. Kept also
 * when rationalization is off, so that ablation changes only what the loop adds, never M0 or P's share.
 */
export function examplesOf(task: Task, P: Exemplar[]): TrainExample[] {
  return P.flatMap((e) => [
    { prompt: task.prompt(e, false), completion: task.completion(e.rationale, e.gold), source: 'exemplar' as const, id: e.id },
    { prompt: task.prompt(e, true), completion: task.completion(e.rationale, e.gold), source: 'exemplar-hint' as const, id: e.id },
  ]);
}
