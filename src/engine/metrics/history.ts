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

/** First solve, by which stage, and losses (failed right after a solved iteration) of one question's stages in order. */
export function summarizeStages(stages: { iteration: number; stage: Stage }[]): Omit<QuestionHistory, 'id' | 'stages'> {
  let firstSolved: number | null = null;
  let firstStage: Exclude<Stage, 'failed'> | null = null;
  const lost: number[] = [];
  stages.forEach(({ iteration, stage }, i) => {
    if (stage !== 'failed' && firstSolved === null) { firstSolved = iteration; firstStage = stage; }
    if (stage === 'failed' && i > 0 && stages[i - 1].stage !== 'failed') lost.push(iteration);
  });
  return { firstSolved, firstStage, lost, solvedNow: stages.length > 0 && stages[stages.length - 1].stage !== 'failed' };
}

/** History of every training question of a run, in the order of the first iteration's lines. */
export function questionHistory(store: RunStore): Map<string, QuestionHistory> {
  const stages = new Map<string, { iteration: number; stage: Stage }[]>();
  const iterations = new Set(store.finishedIterations().filter((n) => n > 0));
  // the iteration in progress counts too: its lines are already there
  for (let n = 1; store.readGenerations(n).length > 0 || iterations.has(n); n++) iterations.add(n);
  for (const n of [...iterations].sort((a, b) => a - b))
    for (const l of store.readGenerations(n)) {
      if (!stages.has(l.id)) stages.set(l.id, []);
      stages.get(l.id)!.push({ iteration: n, stage: l.stage });
    }
  return new Map([...stages].map(([id, st]) => [id, { id, stages: st, ...summarizeStages(st) }]));
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
