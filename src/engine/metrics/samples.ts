// Metrics over k samples per question: the unbiased pass@k estimator of Chen et al. 2021 ("Evaluating Large Language
// Models Trained on Code") and majority vote (self-consistency).
import type { GenerationLine, SampleMetrics } from '../store/format';

/**
 * Unbiased pass@k from n samples of which c are correct: 1 - C(n-c, k) / C(n, k), computed as the product
 * 1 - prod_{i=n-c+1..n} (1 - k/i), which never forms the huge binomials.
 */
export function passAtK(n: number, c: number, k: number): number {
  if (k <= 0 || n <= 0) throw new Error(`pass@k needs n > 0 and k > 0 (got n=${n}, k=${k})`);
  if (k > n) throw new Error(`pass@${k} needs at least ${k} samples (got ${n})`);
  if (n - c < k) return 1;
  let prod = 1;
  for (let i = n - c + 1; i <= n; i++) prod *= 1 - k / i;
  return 1 - prod;
}

/** The most frequent answer (answers the task calls equal count together; ties go to the first seen); null if none. */
export function majorityVote(answers: (string | null)[], equal: (a: string, b: string) => boolean): string | null {
  const groups: { answer: string; count: number }[] = [];
  for (const a of answers) {
    if (a === null) continue;
    const g = groups.find((x) => equal(a, x.answer));
    if (g) g.count++;
    else groups.push({ answer: a, count: 1 });
  }
  let best: { answer: string; count: number } | undefined;
  for (const g of groups) if (!best || g.count > best.count) best = g;
  return best?.answer ?? null;
}

/** pass@1, pass@2, pass@4... up to k, and majority-vote accuracy, over lines that carry their k sample answers. */
export function sampleMetrics(lines: GenerationLine[], k: number, equal: (a: string, b: string) => boolean): SampleMetrics | undefined {
  const withSamples = lines.filter((l) => l.sampleAnswers && l.sampleAnswers.length === k);
  if (k <= 1 || withSamples.length === 0) return undefined;
  const js: number[] = [];
  for (let j = 1; j < k; j *= 2) js.push(j);
  js.push(k);
  const passAt: Record<string, number> = {};
  for (const j of js) {
    let sum = 0;
    for (const l of withSamples) {
      const c = l.sampleAnswers!.filter((a) => a !== null && equal(a, l.gold)).length;
      sum += passAtK(k, c, j);
    }
    passAt[String(j)] = sum / withSamples.length;
  }
  let right = 0;
  for (const l of withSamples) {
    const m = majorityVote(l.sampleAnswers!, equal);
    if (m !== null && equal(m, l.gold)) right++;
  }
  return { k, passAt, majority: right / withSamples.length };
}
