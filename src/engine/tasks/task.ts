// The one interface every reasoning task implements: how a question becomes a prompt (with or without the
// gold answer as a hint), what the model is trained to write after it, and how an answer is read back and compared.

export type TaskName = 'arithmetic' | 'gsm8k' | 'multiple-choice';
export const TASK_NAMES: TaskName[] = ['arithmetic', 'gsm8k', 'multiple-choice'];

/** One question of D (or of the eval split): answer known, rationale not. */
export interface Example {
  /** Stable across runs: the record's own id, else `<file basename>:<line>`. */
  id: string;
  /** The question as a person reads it (for multiple choice: the stem). */
  question: string;
  /** The gold answer, normalised by the task (e.g. "1000" for "1,000"; "B" for a choice). */
  gold: string;
  /** For per-group metrics, e.g. the digit count of an addition. */
  group?: string;
  /** Multiple choice only: labelled options. */
  choices?: { label: string; text: string }[];
  /** 1-based line of the record in its file, to jump there from the UI. */
  line?: number;
}

/** One member of P: a question with a worked rationale. */
export interface Exemplar extends Example {
  rationale: string;
}

export interface ParsedCompletion {
  rationale: string;
  /** null when no answer could be read (unfinished or malformed completion). */
  answer: string | null;
}

export interface Task {
  readonly name: TaskName;
  /** Generation stops at the first of these; they are not part of the completion. */
  readonly stop: string[];
  /** The prompt for one question; with `hint`, the gold answer is shown in the task's hint format. */
  prompt(ex: Example, hint?: boolean): string;
  /** What the model should write after the prompt for a given rationale and answer (stop sequence included). */
  completion(rationale: string, answer: string): string;
  /** Reads rationale and answer out of a raw completion (stop sequence already cut or not). */
  parse(completion: string): ParsedCompletion;
  /** Answer equality after the task's normalisation. */
  equal(answer: string, gold: string): boolean;
  /**
   * The most characters a right completion of this question can need, when the task knows (a scratchpad of n
   * columns); generation stops there instead of at the global limit, so wrong answers cannot ramble.
   */
  completionBudget?(ex: Example): number;
  /** True when a rationale written with the hint refers to the hint rather than reasoning to the answer. */
  hintLeak(rationale: string, ex: Example): boolean;
  /** Turns one parsed JSON record of a dataset file into an Example; throws Error(reason) when it is not valid. */
  fromRecord(rec: unknown, id: string): Example;
  /** Turns one parsed JSON record of the exemplar file into an Exemplar; throws Error(reason) when not valid. */
  exemplarFromRecord(rec: unknown, id: string): Exemplar;
  /** The record written back for an exemplar (the inverse of exemplarFromRecord). */
  exemplarToRecord(ex: Exemplar): Record<string, unknown>;
}

/** A few-shot prefix: each exemplar rendered as prompt + completion, separated as the task's format expects. */
export function fewShotPrefix(task: Task, shots: Exemplar[]): string {
  return shots.map((e) => task.prompt(e) + task.completion(e.rationale, e.gold)).join('');
}
