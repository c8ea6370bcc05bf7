// Every message between the extension and its webviews, defined once. Webviews import only this module: they know
// nothing of the engine, so the shapes here are plain data shaped for display.

export type Stage = 'direct' | 'rationalized' | 'failed';
export type Verdict = 'accept' | 'reject';

/** How a question's outcome moved since the previous iteration. */
export type Change = 'newly-solved' | 'newly-lost' | 'still-solved' | 'still-failed' | 'first';

/** One question of D in one iteration, with what people said about it. */
export interface ReportRow {
  id: string;
  question: string;
  gold: string;
  rationale: string;
  answer: string | null;
  stage: Stage;
  correct: boolean;
  hintLeak: boolean;
  group: string;
  /** 1-based line in the dataset file. */
  line: number | null;
  directAnswer: string | null;
  change: Change;
  verdict: Verdict | null;
  editedRationale: string | null;
  note: string | null;
  promoted: boolean;
  /** The person's verdict disagrees with the automatic one (a correct answer rejected, a wrong one accepted). */
  disagrees: boolean;
}

export interface IterationSummary {
  iteration: number;
  train: { total: number; direct: number; rationalized: number; failed: number; hintLeaks: number };
  /** (direct + rationalized) / total; null for iteration 0, which generates nothing. */
  trainAccuracy: number | null;
  evalAccuracy: number;
  evalCorrect: number;
  evalTotal: number;
  byGroup: Record<string, number>;
}

/** The training loss of one iteration by step, thinned to a few hundred points for drawing. */
export interface LossCurve {
  iteration: number;
  steps: number[];
  losses: (number | null)[];
}

/** Another run of the same project, for comparing held-out accuracy (an ablation, another seed, an edited P). */
export interface OtherRun {
  runId: string;
  /** What its config and P do differently from the run shown, e.g. "star.rationalize: false". */
  differs: string;
  evalAccuracy: { iteration: number; accuracy: number }[];
}

export interface ReportData {
  project: string;
  runId: string;
  task: string;
  iteration: number;
  /** Finished iterations of the run (0 = the base model). */
  iterations: IterationSummary[];
  rows: ReportRow[];
  groups: string[];
  /** Every iteration's training loss that the run store has (a served model's trainer may log none). */
  trainLoss: LossCurve[];
  /** The project's other runs with a finished iteration, oldest first. */
  otherRuns: OtherRun[];
}

/** One question across the iterations of a run. */
export interface HistoryEntry {
  iteration: number;
  stage: Stage;
  answer: string | null;
  rationale: string;
  hintLeak: boolean;
}

export interface QuestionHistory {
  id: string;
  question: string;
  gold: string;
  entries: HistoryEntry[];
  firstSolved: { iteration: number; stage: Stage } | null;
  /** Iterations where the question was solved before and failed again. */
  lostAgain: number[];
}

export interface AnnotationPatch {
  verdict?: Verdict;
  rationale?: string;
  note?: string;
}

export type ToReport =
  | { type: 'data'; data: ReportData }
  | { type: 'row'; row: ReportRow }
  | { type: 'history'; history: QuestionHistory }
  /** Select a row (e.g. after a jump from the tree). */
  | { type: 'focus'; id: string }
  /** A training step of the run shown, while it trains. */
  | { type: 'loss'; iteration: number; step: number; loss: number };

export type FromReport =
  | { type: 'ready' }
  | { type: 'selectIteration'; iteration: number }
  | { type: 'history'; id: string }
  | { type: 'annotate'; id: string; patch: AnnotationPatch }
  | { type: 'promote'; id: string }
  | { type: 'reveal'; id: string };

// ---- the few-shot exemplar editor

export type ExemplarField = 'question' | 'rationale' | 'answer';

export interface ExemplarView {
  /** 0-based line in the document: the key of every edit. */
  line: number;
  id: string;
  question: string;
  rationale: string;
  answer: string;
  /** Problems that make the line unusable (bad JSON, missing fields) or that teach the model something wrong. */
  errors: string[];
  warnings: string[];
  /** Characters of prompt + completion, against the model's block size. */
  length: number;
}

export interface ExemplarsData {
  task: string;
  blockSize: number;
  exemplars: ExemplarView[];
}

export type ToExemplars = { type: 'data'; data: ExemplarsData };

export type FromExemplars =
  | { type: 'ready' }
  | { type: 'edit'; line: number; field: ExemplarField; value: string }
  | { type: 'add' }
  | { type: 'delete'; line: number };
