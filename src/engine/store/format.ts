// THE run-directory format: everything the engine writes and the CLI and the extension read is typed here.
//
// <project>/
//   star.json                         ProjectConfig
//   exemplars.jsonl                   P (task-native records with a `rationale`)
//   data/train.jsonl, data/eval.jsonl D and the held-out split (task-native records)
//   .star/runs/<runId>/
//     run.json                        RunJson (config, P snapshot, seed, backend, status)
//     events.jsonl                    RunEvent, appended as they happen (for late viewers and post-mortems)
//     iter-0/model.safetensors        the base model M (+ model.json), trained from P
//     iter-0/metrics.json             the base model's eval
//     iter-<n>/generations.jsonl      GenerationLine, one per training question, appended in chunks
//     iter-<n>/train.jsonl            TrainExample, the fine-tuning set of this iteration
//     iter-<n>/train-state.*          a mid-training checkpoint (deleted when training ends)
//     iter-<n>/model.safetensors      M(n), fine-tuned from the base model
//     iter-<n>/metrics.json           IterationMetrics; its presence marks the iteration finished
//     iter-<n>/eval.jsonl             EvalLine, one per held-out question
//     annotations.jsonl               Annotation, appended by people curating the data

import type { TaskName } from '../tasks/task';

export const RUN_FORMAT_VERSION = 1;

export type BackendName = 'tensorflow' | 'webgpu' | 'wasm' | 'cpu';
export type BackendChoice = 'auto' | BackendName;

export interface ModelSpec {
  backend: 'embedded';
  /** tfjs compute backend; `auto` takes the fastest one present. */
  compute: BackendChoice;
  nLayer: number;
  nHead: number;
  nEmbd: number;
  blockSize: number;
  dropout: number;
  pos: 'rope' | 'learned';
}

export type StepSchedule =
  | { kind: 'exponential'; base: number; growth: number } // steps(n) = base * growth^(n-1), the paper's 40 * 1.2^(n-1)
  | { kind: 'linear'; base: number; increment: number } // steps(n) = base + increment * (n-1)
  | { kind: 'epochs'; epochs: number }; // steps(n) = ceil(epochs * examples / batchSize)

export interface TrainSpec {
  schedule: StepSchedule;
  /** Steps that make the base model M from P (iteration 0). */
  baseSteps: number;
  batchSize: number;
  lr: number;
  warmupFraction: number;
  weightDecay: number;
  gradClip: number;
  /** Keep P (with and without hints) in every fine-tuning set: the embedded model learned to reason from it. */
  includeExemplars: boolean;
  /** Rationalizations flagged hintLeak are left out of training unless this is set. */
  includeHintLeaks: boolean;
  /** Honour people's accept/reject marks in annotations.jsonl when building the next training set. */
  honourAnnotations: boolean;
}

export interface SampleSpec {
  /** Samples per question (k); the first correct one is kept. */
  k: number;
  /** 0 = greedy. */
  temperature: number;
  topK: number;
  maxNewTokens: number;
  /** Exemplars of P put in front of each prompt (0 when the model was trained on P, as the embedded one is). */
  shots: number;
}

export interface StarSpec {
  iterations: number;
  rationalize: boolean;
  seed: number;
  /** Stop early when held-out accuracy has not risen for this many iterations (0 = never). */
  patience: number;
}

/** star.json: a STaR project. Paths are relative to the project folder. */
export interface ProjectConfig {
  task: TaskName;
  train: string;
  eval: string;
  exemplars: string;
  model: ModelSpec;
  training: TrainSpec;
  sampling: SampleSpec;
  star: StarSpec;
}

export type RunStatus = 'running' | 'finished' | 'stopped' | 'failed';

export interface RunJson {
  version: number;
  id: string;
  createdAt: string;
  updatedAt: string;
  status: RunStatus;
  error?: string;
  task: TaskName;
  config: ProjectConfig;
  /** P as it was when the run started: later edits of exemplars.jsonl do not change a run. */
  exemplars: unknown[];
  trainCount: number;
  evalCount: number;
  /** The compute backend that ran, e.g. "wasm+native(BatchMatMul,Transpose)". */
  backend: string;
  iterationsDone: number;
}

export type Stage = 'direct' | 'rationalized' | 'failed';

export interface GenerationLine {
  id: string;
  question: string;
  gold: string;
  /** The kept rationale (for `failed`: the direct attempt's). Never contains the hint. */
  rationale: string;
  /** The model's answer (for `rationalized`: the answer reached with the hint). null = unreadable. */
  answer: string | null;
  correct: boolean;
  stage: Stage;
  /** A rationalization that refers to the hint itself; left out of training by default. */
  hintLeak?: boolean;
  group?: string;
  /** 1-based line in the dataset file. */
  line?: number;
  /** For `rationalized` and `failed`: what the direct pass answered. */
  directAnswer?: string | null;
  /** With k > 1: how many of the k direct samples were correct. */
  directCorrect?: number;
  samples?: number;
}

export interface EvalLine {
  id: string;
  question: string;
  gold: string;
  rationale: string;
  answer: string | null;
  correct: boolean;
  group?: string;
}

export interface TrainExample {
  prompt: string;
  completion: string;
  /** Where the example came from: an exemplar of P (with or without hint), or a stage of this iteration. */
  source: 'exemplar' | 'exemplar-hint' | 'direct' | 'rationalized';
  id: string;
}

export interface GroupAccuracy {
  total: number;
  correct: number;
  accuracy: number;
}

export interface IterationMetrics {
  iteration: number;
  train: { total: number; correct: number; rationalized: number; failed: number; hintLeaks: number };
  eval: { total: number; correct: number; accuracy: number; byGroup: Record<string, GroupAccuracy> };
  trainSteps: number;
  trainExamples: number;
  finalLoss: number | null;
  seconds: number;
  /** Wall time of each phase: where the time went. */
  phaseSeconds: { generate: number; rationalize: number; train: number; eval: number };
}

export type AnnotationVerdict = 'accept' | 'reject';

export interface Annotation {
  time: string;
  iteration: number;
  id: string;
  verdict?: AnnotationVerdict;
  /** A person's edited rationale, replacing the model's in export and training. */
  rationale?: string;
  note?: string;
  promoted?: boolean;
}

/** Events streamed by a run (CLI --json prints one per line; the extension receives them from its worker). */
export type RunEvent =
  | { type: 'run-start'; runId: string; runDir: string; backend: string; resumed: boolean }
  | { type: 'iteration-start'; iteration: number }
  | { type: 'phase'; iteration: number; phase: Phase; total: number }
  | { type: 'progress'; iteration: number; phase: Phase; done: number; total: number; loss?: number }
  | { type: 'iteration-end'; iteration: number; metrics: IterationMetrics }
  | { type: 'log'; level: 'info' | 'warn'; message: string }
  | { type: 'run-end'; status: RunStatus; iterations: number; error?: string };

export type Phase = 'generate' | 'rationalize' | 'train' | 'eval';

export const RUNS_DIR = '.star/runs';
export const iterDir = (n: number) => `iter-${n}`;
