// People's verdicts on earlier iterations, as the next training set honours them (training.honourAnnotations):
// a rejected rationale is not trained on again, and an accepted (possibly edited) one is, whatever the model writes now.
import { latestAnnotations } from './export';
import { RunStore } from './store/runStore';

export interface Curation {
  /** Per question: rationales a person rejected. */
  rejected: Map<string, Set<string>>;
  /** Per question: the rationale a person accepted (their edit, else the model's), the newest verdict winning. */
  accepted: Map<string, string>;
}

export function curationBefore(store: RunStore, n: number): Curation {
  const all = store.readAnnotations();
  const rejected = new Map<string, Set<string>>();
  const accepted = new Map<string, string>();
  for (let i = 1; i < n; i++) {
    const notes = latestAnnotations(all, i);
    if (notes.size === 0) continue;
    const lines = new Map(store.readGenerations(i).map((l) => [l.id, l]));
    for (const [id, a] of notes) {
      const rationale = a.rationale ?? lines.get(id)?.rationale;
      if (rationale === undefined || !a.verdict) continue;
      if (a.verdict === 'reject') {
        if (!rejected.has(id)) rejected.set(id, new Set());
        rejected.get(id)!.add(rationale);
        if (accepted.get(id) === rationale) accepted.delete(id);
      } else {
        accepted.set(id, rationale);
        rejected.get(id)?.delete(rationale);
      }
    }
  }
  return { rejected, accepted };
}
