// How many steps each iteration trains: star.ts trains them, and star.json's check refuses a schedule that would
// train none (or absurdly many) in an iteration it plans.
import type { StepSchedule } from './store/format';

/** Steps of iteration n (1-based) under a schedule; the paper's default is 40 * 1.2^(n-1). */
export function trainSteps(s: StepSchedule, n: number, examples: number, batchSize: number): number {
  if (s.kind === 'exponential') return Math.round(s.base * Math.pow(s.growth, n - 1));
  if (s.kind === 'linear') return Math.round(s.base + s.increment * (n - 1));
  return Math.max(1, Math.ceil((s.epochs * examples) / batchSize));
}
