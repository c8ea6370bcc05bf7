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
//     iter-<n>/train-loss.jsonl       TrainLossLine, the training loss step by step (the embedded trainer)
//     iter-<n>/model.safetensors      M(n), fine-tuned from the base model
//     iter-<n>/metrics.json           IterationMetrics; its presence marks the iteration finished
//     iter-<n>/eval.jsonl             EvalLine, one per held-out question
//     annotations.jsonl               Annotation, appended by people curating the data
//     writer.lock                     WriterLock: the one process writing the run now (gone when it ends)

import type { TaskName } from '../tasks/task';

export const RUN_FORMAT_VERSION = 1;

export type BackendName = 'tensorflow' | 'webgpu' | 'wasm' | 'cpu';
export type BackendChoice = 'auto' | BackendName;

export type ModelBackend = 'embedded' | 'openai';

/**
 * `model` of star.json. `embedded`: the tfjs transformer (the size fields; `pretrained` loads a local Hugging Face
 * checkpoint instead of training M0 from P). `openai`: any OpenAI-compatible server (vLLM, Ollama, llama.cpp, OpenAI);
 * the size fields are then ignored and the `openai` fields below apply (project.ts fills their defaults).
 */
export interface ModelSpec {
  backend: ModelBackend;
  /** tfjs compute backend; `auto` takes the fastest one present. */
  compute: BackendChoice;
  nLayer: number;
  nHead: number;
  nEmbd: number;
  blockSize: number;
  dropout: number;
  pos: 'rope' | 'learned';
  /** embedded: folder with a Hugging Face `config.json`, `model.safetensors`, `tokenizer.json` (GPT-2 or Llama family). */
  pretrained?: string;
  /** openai: e.g. "http://localhost:8000/v1" (vLLM), "https://api.openai.com/v1". */
  baseUrl?: string;
  /** openai: the served model name of M0. */
  model?: string;
  /** openai: the environment variable holding the API key ("" = no key). Keys never go in star.json. */
  apiKeyEnv?: string;
  /** openai: `completions` (raw prompt continuation, for base models) or `chat` (few-shot as turns). */
  api?: 'completions' | 'chat';
  /** openai: requests in flight at once. */
  concurrency?: number;
  /** openai: retries of a request on 408/409/429/5xx, timeouts and dropped connections. */
  maxRetries?: number;
  /** openai: first backoff; doubled each retry (with jitter), a Retry-After header wins. */
  retryBaseSeconds?: number;
  timeoutSeconds?: number;
  /** openai: a label of the served weights; change it when the server's model changes under the same name. */
  revision?: string;
  /** openai: price per million tokens, for the cost in metrics. */
  pricing?: { promptPerMillion: number; completionPerMillion: number };
  /** openai chat: the system message ("" = none). */
  system?: string;
}

/** What fine-tunes M(n): the embedded tfjs trainer, a user's command (TRL, Axolotl, torchtune...), or nothing. */
export type TrainerSpec =
  | { kind: 'embedded' }
  | { kind: 'none' }
  | {
      kind: 'command';
      /**
       * Shell command template. Placeholders (shell-quoted when substituted): {train} the iteration's train.jsonl,
       * {trainChat} the same as OpenAI chat rows, {base} the base model (served name or folder), {out} an empty
       * output folder, {name} a unique name for the result, {iteration}, {steps}, {seed}, {run}, {project}.
       */
      command: string;
      /** The served model name generation uses afterwards (template, default "{name}"); a `{out}/star-model.json`
       *  `{"model": "..."}` written by the command wins. */
      model?: string;
      /** Seconds before the command is killed (0 = no limit). */
      timeoutSeconds?: number;
    };

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
  /** Drop kept rationales that repeat another one of the same question or copy an exemplar of P (recorded in metrics). */
  dedup?: boolean;
  /** With k > 1: keep every distinct correct direct sample of a question (not only the first). */
  keepAllCorrect?: boolean;
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
  /** Which exemplars make the few-shot prefix: the first `shots` of P, or `shots` drawn per question (seeded by its id). */
  shotSelection?: 'first' | 'per-question';
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
  /** Default: `embedded` for the embedded model, `none` for a remote one. */
  trainer?: TrainerSpec;
}

export type RunStatus = 'running' | 'finished' | 'stopped' | 'failed';

/** What readers show: a run.json that says `running` with no live writer was interrupted (kill -9, a crash). */
export type RunState = RunStatus | 'interrupted';

/** writer.lock: who writes the run. A lock of a process that is gone is taken over by the next writer. */
export interface WriterLock {
  pid: number;
  host: string;
  startedAt: string;
  /** The command line, to recognise the holder. */
  command: string;
  /** Linux: the process's start time in clock ticks, to tell a pid reused by another process. */
  procStart?: string;
  /** Linux: the boot the process ran in; a lock of an earlier boot is stale. */
  bootId?: string;
}

/** One input file as a run read it: a resume compares it with the file as it is now. */
export interface InputFingerprint {
  /** As star.json names it, relative to the project. */
  file: string;
  records: number;
  /** sha256 of the records as loaded (line numbers and blank lines aside). */
  sha256: string;
}

export interface RunInputs {
  train: InputFingerprint;
  eval: InputFingerprint;
  exemplars: InputFingerprint;
}

/**
 * Records of one set whose question another set holds. `normalised` also counts those equal only once case, spacing
 * and punctuation are set aside, so it includes `exact` (the same text; for multiple choice, the same choices too).
 */
export interface SharedQuestions {
  exact: number;
  normalised: number;
}

/**
 * Questions left out because they are shared: D's that are exemplars of P, held-out ones that are exemplars of P,
 * and held-out ones that (not being in P) are in D. Each record is counted once.
 */
export interface OverlapCounts {
  trainInExemplars: SharedQuestions;
  evalInExemplars: SharedQuestions;
  evalInTrain: SharedQuestions;
}

export interface RunJson {
  version: number;
  id: string;
  createdAt: string;
  updatedAt: string;
  status: RunStatus;
  /** Why a failed run failed, as a person reads it (one message, no stack). */
  error?: string;
  /** The failure's stack trace, for a bug report; never shown in the UI. */
  errorStack?: string;
  task: TaskName;
  config: ProjectConfig;
  /** P as it was when the run started: later edits of exemplars.jsonl do not change a run. */
  exemplars: unknown[];
  /** Questions of D the run trains on: the file's, less those left out as exemplars of P (`overlap`). */
  trainCount: number;
  /** Held-out questions the run evaluates on: the file's, less those left out as in P or D (`overlap`). */
  evalCount: number;
  /** What the run left out of D and the held-out split because P or D holds the same question (absent in runs
   *  written before the check). Counted again, the same way, at every start and resume. */
  overlap?: OverlapCounts;
  /** D, the held-out split and P as the run last read them (absent in runs written before fingerprints). */
  inputs?: RunInputs;
  /** Resumes that went on after inputs changed (`--accept-changes`), and what had changed. */
  inputChanges?: { time: string; beforeIteration: number; changes: string[] }[];
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
  /** With k > 1: the answer of each direct sample (majority vote, pass@k). */
  sampleAnswers?: (string | null)[];
  /** With training.keepAllCorrect: the other correct direct rationales (trained on too). */
  alternatives?: string[];
}

/** One training step's loss, in iter-<n>/train-loss.jsonl (null where it was not finite). */
export interface TrainLossLine {
  step: number;
  loss: number | null;
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
  source: 'exemplar' | 'exemplar-hint' | 'direct' | 'rationalized' | 'annotated';
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
  /** Requests, cache reuse, tokens and cost per phase (zeros for the embedded model, which sends no requests). */
  usage?: UsageMetrics;
  /** With k > 1 samples per question: the unbiased pass@j estimates (Chen et al. 2021) and majority-vote accuracy. */
  samples?: SampleMetrics;
  /** Rationales left out of training as duplicates (sampling.dedup). */
  dedup?: DedupMetrics;
}

export interface UsageCounters {
  /** Requests answered (sent + reused from the cache). */
  requests: number;
  /** Of those, answered from <project>/.star/cache without a request. */
  cached: number;
  retries: number;
  /** Tokens of the requests actually sent (a cached answer costs nothing). */
  promptTokens: number;
  completionTokens: number;
  cost: number;
}

export interface UsageMetrics {
  generate: UsageCounters;
  rationalize: UsageCounters;
  eval: UsageCounters;
  total: UsageCounters;
}

export interface SampleMetrics {
  k: number;
  /** pass@j for j = 1, 2, 4, ... <= k, over the training questions' direct samples. */
  passAt: Record<string, number>;
  /** Fraction of questions whose most frequent direct answer is right. */
  majority: number;
}

export interface DedupMetrics {
  kept: number;
  removed: { id: string; reason: 'same-question' | 'copies-exemplar'; of: string }[];
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
export const LOCK_FILE = 'writer.lock';
export const iterDir = (n: number) => `iter-${n}`;
