// What star.json leaves out: the defaults of each task, and how a pretrained or served model changes them. The
// schema (configSchema.ts) takes its `default`s and the words "Default: ..." from here, so they cannot disagree.
import type { ModelSpec, ProjectConfig } from './store/format';
import type { TaskName } from './tasks/task';

/** Where a new project keeps D, the held-out split and P; star.json may name other files. */
export const DEFAULT_FILES = { train: 'data/train.jsonl', eval: 'data/eval.jsonl', exemplars: 'exemplars.jsonl' };

/** The model a star.json describes, as far as its defaults depend on it. */
export type ModelKind = 'embedded' | 'pretrained' | 'openai';

export const MODEL_KINDS: ModelKind[] = ['embedded', 'pretrained', 'openai'];

type OpenAIKey = 'baseUrl' | 'model' | 'apiKeyEnv' | 'api' | 'concurrency' | 'maxRetries' | 'retryBaseSeconds' |
  'timeoutSeconds' | 'revision' | 'pricing' | 'system';

/** The `model` settings of a remote OpenAI-compatible server, as star.json may give them. */
export function openaiModelDefaults(): Required<Pick<ModelSpec, OpenAIKey>> {
  return {
    baseUrl: 'http://localhost:8000/v1',
    model: '',
    apiKeyEnv: 'OPENAI_API_KEY',
    api: 'completions',
    concurrency: 8,
    maxRetries: 6,
    retryBaseSeconds: 0.5,
    timeoutSeconds: 300,
    revision: '',
    pricing: { promptPerMillion: 0, completionPerMillion: 0 },
    system: '',
  };
}

export function defaultConfig(task: TaskName): ProjectConfig {
  const arithmetic = task === 'arithmetic';
  const gsm8k = task === 'gsm8k';
  return {
    task,
    ...DEFAULT_FILES,
    model: {
      backend: 'embedded',
      compute: 'auto',
      nLayer: arithmetic ? 3 : 4,
      nHead: 4,
      nEmbd: 128,
      // GSM8K's questions run to 995 characters with the hint (train split), its worked answers to 1300 more:
      // 512 refused 210 prompts, and 1024 keeps every question with room to answer the most of them
      blockSize: arithmetic ? 128 : gsm8k ? 1024 : 512,
      dropout: 0.1,
      pos: 'rope',
    },
    training: {
      // The paper's 40 steps grown 20% an iteration fine-tunes a pretrained LLM; a model made from P alone
      // needs more steps to learn the scratchpad.
      schedule: { kind: 'exponential', base: arithmetic ? 300 : 40, growth: 1.2 },
      baseSteps: arithmetic ? 300 : 200,
      // GSM8K's M0 (P's 16 sequences of up to 821 tokens) takes 4 micro-batches of 8 rows: about 4.5 s a step on
      // 2 cores
      batchSize: 32,
      lr: 1e-3,
      warmupFraction: 0.1,
      weightDecay: 0.1,
      gradClip: 1,
      includeExemplars: true,
      includeHintLeaks: false,
      honourAnnotations: false,
      dedup: false,
      keepAllCorrect: false,
    },
    sampling: { k: 1, temperature: 0, topK: 0, maxNewTokens: arithmetic ? 90 : 256, shots: 0, shotSelection: 'first' },
    star: { iterations: arithmetic ? 6 : 3, rationalize: true, seed: 0, patience: 0 },
  };
}

/** The kind of model a star.json's `model` section (as written) describes. */
export function modelKindOf(model: unknown): ModelKind {
  const m = (model ?? {}) as Record<string, unknown>;
  if (m.backend === 'openai') return 'openai';
  return 'pretrained' in m ? 'pretrained' : 'embedded';
}

/** The defaults of a task for a kind of model. */
export function defaultsFor(task: TaskName, kind: ModelKind): ProjectConfig {
  const def: ProjectConfig = { ...defaultConfig(task), trainer: { kind: 'embedded' } };
  if (kind === 'embedded') return def;
  // a pretrained or served model is M0 as it is: P goes in the prompt instead of being trained on
  def.sampling.shots = 4;
  def.training.includeExemplars = false;
  if (kind === 'pretrained') {
    def.model.pretrained = '';
    return def;
  }
  // a served model: the openai settings; the trainer decides what generates next
  def.model = { ...def.model, backend: 'openai', ...openaiModelDefaults() };
  def.trainer = { kind: 'none' };
  return def;
}
