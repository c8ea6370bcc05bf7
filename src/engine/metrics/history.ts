// Per-question history across the iterations of a run: when a question was first solved, by which stage, and the
// iterations where it was lost again (solved before, failed now). The extension calls this for its question view.
import type { Stage } from '../store/format';
import type { RunStore } from '../store/runStore';

export interface QuestionHistory {
  id: string;
  /** The stage in each iteration that has a line for the question. */
  stages: { iteration: number; stage: Stage }[];
  /** First iteration where it was solved (direct or rationalized), or null. */
  firstSolved: number | null;
  firstStage: Exclude<Stage, 'failed'> | null;
  /** Iterations where it failed after having been solved in the iteration before. */
  lost: number[];
  /** Solved in the last iteration that has it. */
  solvedNow: boolean;
}

/** History of every training question of a run, in the order of the first iteration's lines. */
export function questionHistory(store: RunStore): Map<string, QuestionHistory> {
  const out = new Map<string, QuestionHistory>();
  const iterations = new Set(store.finishedIterations().filter((n) => n > 0));
  // the iteration in progress counts too: its lines are already there
  for (let n = 1; store.readGenerations(n).length > 0 || iterations.has(n); n++) iterations.add(n);
  for (const n of [...iterations].sort((a, b) => a - b)) {
    for (const l of store.readGenerations(n)) {
      let h = out.get(l.id);
      if (!h) out.set(l.id, (h = { id: l.id, stages: [], firstSolved: null, firstStage: null, lost: [], solvedNow: false }));
      const prev = h.stages[h.stages.length - 1];
      h.stages.push({ iteration: n, stage: l.stage });
      if (l.stage !== 'failed' && h.firstSolved === null) { h.firstSolved = n; h.firstStage = l.stage; }
      if (l.stage === 'failed' && prev && prev.stage !== 'failed') h.lost.push(n);
      h.solvedNow = l.stage !== 'failed';
    }
  }
  return out;
}

/** Held-out history: per eval question, correct or not at each finished iteration (0 = the base model). */
export function evalHistory(store: RunStore): Map<string, { id: string; correct: { iteration: number; correct: boolean }[]; firstCorrect: number | null; lost: number[] }> {
  const out = new Map<string, { id: string; correct: { iteration: number; correct: boolean }[]; firstCorrect: number | null; lost: number[] }>();
  for (const n of store.finishedIterations()) {
    for (const l of store.readEval(n)) {
      let h = out.get(l.id);
      if (!h) out.set(l.id, (h = { id: l.id, correct: [], firstCorrect: null, lost: [] }));
      const prev = h.correct[h.correct.length - 1];
      h.correct.push({ iteration: n, correct: l.correct });
      if (l.correct && h.firstCorrect === null) h.firstCorrect = n;
      if (!l.correct && prev?.correct) h.lost.push(n);
    }
  }
  return out;
}
