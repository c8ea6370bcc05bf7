// Rationale de-duplication before training: a kept rationale that repeats another one of the same question, or that
// copies an exemplar of P word for word (a few-shot prompt invites that), is left out, and each removal is recorded.
import type { DedupMetrics } from '../store/format';

/** Texts that differ only in case, spacing or punctuation at the ends count as the same rationale. */
export function normalizeRationale(s: string): string {
  return s.toLowerCase().replace(/\s+/g, ' ').replace(/^[\s.,;:]+|[\s.,;:]+$/g, '').trim();
}

export interface DedupItem {
  id: string;
  rationale: string;
}

/** Which items to keep (by index) and what was removed and why. */
export function dedupRationales(items: DedupItem[], exemplars: DedupItem[]): { keep: boolean[]; report: DedupMetrics } {
  const fromP = new Map<string, string>();
  for (const e of exemplars) fromP.set(normalizeRationale(e.rationale), e.id);
  const seen = new Set<string>();
  const removed: DedupMetrics['removed'] = [];
  const keep = items.map((it) => {
    const norm = normalizeRationale(it.rationale);
    const copied = fromP.get(norm);
    if (copied !== undefined) { removed.push({ id: it.id, reason: 'copies-exemplar', of: copied }); return false; }
    const key = `${it.id}\u0000${norm}`;
    if (seen.has(key)) { removed.push({ id: it.id, reason: 'same-question', of: it.id }); return false; }
    seen.add(key);
    return true;
  });
  return { keep, report: { kept: keep.filter((k) => k).length, removed } };
}
