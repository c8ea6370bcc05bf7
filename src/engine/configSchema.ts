// star.json's one definition, a JSON Schema (draft-07). The engine checks star.json with it (configCheck.ts) and the
// extension ships it as schemas/star.schema.json (written by `npm run schema`), so VS Code completes and checks the
// file as it is typed against the very ranges a run refuses. Each range is also said in words in its description;
// defaults come from configDefaults.ts: a `default` where one holds for every task and model, else in words.
import { defaultsFor, ModelKind, MODEL_KINDS, openaiModelDefaults } from './configDefaults';
import { TASK_NAMES, TaskName } from './tasks/task';

/** A JSON Schema node. */
export type Schema = { [keyword: string]: unknown };

interface Range {
  minimum?: number;
  exclusiveMinimum?: number;
  maximum?: number;
  exclusiveMaximum?: number;
}

const BOUNDS: [keyof Range, string][] =
  [['exclusiveMinimum', '>'], ['minimum', '>='], ['exclusiveMaximum', '<'], ['maximum', '<=']];

/** The values a schema node allows, in words: "an integer >= 1 and <= 128", "one of rope, learned". */
export function allowedValues(s: Schema): string {
  if (Array.isArray(s.enum)) return `one of ${s.enum.join(', ')}`;
  if (s.const !== undefined) return JSON.stringify(s.const);
  if (s.type === 'integer' || s.type === 'number') {
    const bounds = BOUNDS.filter(([k]) => typeof s[k] === 'number').map(([k, op]) => `${op} ${s[k]}`);
    const kind = s.type === 'integer' ? 'an integer' : 'a number';
    return bounds.length ? `${kind} ${bounds.join(' and ')}` : kind;
  }
  if (s.type === 'string') return typeof s.patternErrorMessage === 'string' ? s.patternErrorMessage : 'a string';
  if (s.type === 'boolean') return 'true or false';
  if (s.type === 'object') return 'an object';
  return 'a value this schema allows';
}

const capital = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/** A value with its allowed range said at the end of its description (what VS Code shows on hover and completion). */
const leaf = (s: Schema, description: string): Schema =>
  ({ ...s, description: `${description} ${capital(allowedValues(s))}.` });

const integer = (description: string, range: Range) => leaf({ type: 'integer', ...range }, description);
const number = (description: string, range: Range) => leaf({ type: 'number', ...range }, description);
const flag = (description: string): Schema => ({ type: 'boolean', description });
const text = (description: string): Schema => ({ type: 'string', description });
/** A string that must not be blank; `what` says what it is, in errors. */
const named = (description: string, what: string) =>
  leaf({ type: 'string', pattern: '\\S', patternErrorMessage: what }, description);
const choice = (description: string, values: Record<string, string>) =>
  leaf({ type: 'string', enum: Object.keys(values), enumDescriptions: Object.values(values) }, description);
const section = (description: string, properties: Record<string, Schema>, more: Schema = {}): Schema =>
  ({ type: 'object', description, properties, additionalProperties: false, ...more });

/** One variant of an object told apart by its `kind`; `title` names it in errors ("for a command trainer"). */
interface Variant {
  kind: string;
  title: string;
  description: string;
  properties?: Record<string, Schema>;
  /** Keys besides kind that must be given. */
  required?: string[];
}

function byKind(description: string, variants: Variant[]): Schema {
  return {
    type: 'object',
    description,
    required: ['kind'],
    // ajv picks the variant by its kind and reports only that variant's errors; VS Code ignores the keyword
    discriminator: { propertyName: 'kind' },
    oneOf: variants.map((v) => ({
      type: 'object',
      title: v.title,
      description: v.description,
      properties: { kind: { type: 'string', const: v.kind, description: v.description }, ...v.properties },
      required: ['kind', ...(v.required ?? [])],
      additionalProperties: false,
    })),
  };
}

const TASKS: Record<TaskName, string> = {
  arithmetic: 'multi-digit additions with a scratchpad',
  gsm8k: 'grade-school math word problems (GSM8K)',
  'multiple-choice': 'questions with labelled choices (CommonsenseQA)',
};

const FILE = 'a file path relative to the project folder';

// Node.js timers hold at most 2^31 - 1 ms: a longer one fires at once
const LONGEST_TIMER_SECONDS = 2147483;

/** The most steps one iteration may train: more is a schedule gone wrong (a growth compounded over many iterations). */
export const MAX_ITERATION_STEPS = 10_000_000;

const model = section('The model: the embedded tfjs transformer, or a served one ("backend": "openai").', {
  backend: choice('Which model generates.', {
    embedded: 'the tfjs transformer of STaR Studio, trained from P or loaded from "pretrained"',
    openai: 'any OpenAI-compatible server (vLLM, Ollama, llama.cpp, OpenAI)',
  }),
  compute: choice('The tfjs compute backend of the embedded model; auto takes the fastest one present.', {
    auto: 'the fastest one present',
    tensorflow: '@tensorflow/tfjs-node (native TensorFlow)',
    webgpu: 'WebGPU through Dawn',
    wasm: 'WebAssembly with the native kernels',
    cpu: 'plain JavaScript',
  }),
  nLayer: integer('Transformer layers of the embedded model trained from P.', { minimum: 1, maximum: 128 }),
  nHead: integer('Attention heads of each layer; "nEmbd" must be a multiple of it.', { minimum: 1, maximum: 128 }),
  nEmbd: integer('Width (embedding size) of the embedded model; a multiple of "nHead".',
    { minimum: 1, maximum: 16384 }),
  blockSize: integer('The longest sequence the embedded model reads, in tokens: prompt and answer together.',
    { minimum: 2, maximum: 131072 }),
  dropout: number('Dropout rate while the embedded model trains.', { minimum: 0, exclusiveMaximum: 1 }),
  pos: choice('Position encoding of the embedded model.', {
    rope: 'rotary position embeddings',
    learned: 'a learned table of positions (GPT-2)',
  }),
  pretrained: named('M0 is this Hugging Face checkpoint (GPT-2 or Llama family), relative to the project folder, ' +
    'instead of a model trained from P.', 'a folder with config.json, model.safetensors and tokenizer.json'),
  baseUrl: leaf({
    type: 'string', pattern: '^https?://\\S+$', patternErrorMessage: 'an http(s) URL such as http://localhost:8000/v1',
  }, 'The OpenAI-compatible API of the server: http://localhost:8000/v1 (vLLM), https://api.openai.com/v1...'),
  model: named('M0 on the server. Required with "backend": "openai".',
    'the served model\'s name, such as "Qwen/Qwen2.5-0.5B"'),
  apiKeyEnv: leaf({
    type: 'string', pattern: '^([A-Za-z_][A-Za-z0-9_]*)?$',
    patternErrorMessage:
      'the name of an environment variable, such as OPENAI_API_KEY, or "" for a server without a key',
  }, 'The environment variable that holds the API key. Keys never go in star.json.'),
  api: choice('How prompts are sent.', {
    completions: 'raw prompt continuation, for base models',
    chat: 'the few-shot exemplars as chat turns',
  }),
  concurrency: integer('Requests in flight at once.', { minimum: 1, maximum: 1024 }),
  maxRetries: integer('Retries of a request on 408/409/429/5xx, timeouts and dropped connections.',
    { minimum: 0, maximum: 100 }),
  retryBaseSeconds: number('The first backoff, doubled each retry (with jitter, at most 30 s); a Retry-After ' +
    'header wins.', { minimum: 0, maximum: 30 }),
  timeoutSeconds: number('Seconds before a request is given up (and retried).',
    { exclusiveMinimum: 0, maximum: 86400 }),
  revision: text('A label of the served weights: change it when the server\'s model changes under the same name ' +
    '(answers are cached by it).'),
  pricing: section('Price per million tokens, for the cost in metrics.', {
    promptPerMillion: number('Price per million prompt tokens.', { minimum: 0 }),
    completionPerMillion: number('Price per million completion tokens.', { minimum: 0 }),
  }),
  system: text('The system message of chat requests ("" for none).'),
}, {
  if: { properties: { backend: { const: 'openai' } }, required: ['backend'] },
  then: {
    title: 'a served model',
    required: ['model'],
    errorMessage: 'Only for the embedded model; a served model is named by "model".',
    properties: { pretrained: false },
  },
  else: {
    errorMessage: 'Only for a served model ("backend": "openai").',
    properties: Object.fromEntries(Object.keys(openaiModelDefaults()).map((k) => [k, false])),
  },
});

const schedule = byKind('Training steps of each iteration n = 1, 2, ...: every iteration trains at least 1 and ' +
  `at most ${MAX_ITERATION_STEPS} steps.`, [
  {
    kind: 'exponential', title: 'an exponential schedule',
    description: 'base × growth^(n-1) steps, rounded (the paper: 40 × 1.2^(n-1)).',
    properties: {
      base: integer('Steps of iteration 1.', { minimum: 1, maximum: 1_000_000 }),
      growth: number('Factor from one iteration to the next.', { exclusiveMinimum: 0, maximum: 10 }),
    },
    required: ['base', 'growth'],
  },
  {
    kind: 'linear', title: 'a linear schedule', description: 'base + increment × (n-1) steps, rounded.',
    properties: {
      base: integer('Steps of iteration 1.', { minimum: 1, maximum: 1_000_000 }),
      increment: number('Steps added from one iteration to the next.', { minimum: 0, maximum: 1_000_000 }),
    },
    required: ['base', 'increment'],
  },
  {
    kind: 'epochs', title: 'an epochs schedule',
    description: 'ceil(epochs × examples / batchSize) steps: passes over the iteration\'s fine-tuning set.',
    properties: { epochs: number('Passes over the fine-tuning set.', { exclusiveMinimum: 0, maximum: 1000 }) },
    required: ['epochs'],
  },
]);

const training = section('How M0 is made from P and M(n) fine-tuned (the embedded trainer).', {
  schedule,
  baseSteps: integer('Steps that train the base model M0 from P (iteration 0).',
    { minimum: 1, maximum: MAX_ITERATION_STEPS }),
  batchSize: integer('Sequences a training step learns from (in micro-batches where memory asks; the same result).',
    { minimum: 1, maximum: 4096 }),
  lr: number('Peak learning rate of AdamW (linear warmup, then cosine decay).', { exclusiveMinimum: 0, maximum: 1 }),
  warmupFraction: number('Share of the steps over which the learning rate warms up.', { minimum: 0, maximum: 1 }),
  weightDecay: number('Decoupled weight decay of AdamW.', { minimum: 0, maximum: 1 }),
  gradClip: number('The gradients\' global norm is clipped to this.', { exclusiveMinimum: 0 }),
  includeExemplars: flag('Keep P (with and without hints) in every fine-tuning set.'),
  includeHintLeaks: flag('Train on rationalizations that refer to the hint itself too (left out unless set).'),
  honourAnnotations:
    flag('Honour people\'s accept/reject marks (annotations.jsonl) when building the next training set.'),
  dedup: flag('Drop kept rationales that repeat another one of the same question or copy an exemplar of P.'),
  keepAllCorrect:
    flag('With "sampling.k" > 1: keep every distinct correct direct sample of a question, not only the first.'),
});

const sampling = section('How the model answers.', {
  k: integer('Samples per question; the first correct one is kept (k > 1 adds pass@k and majority vote to the ' +
    'metrics).', { minimum: 1, maximum: 1000 }),
  temperature: number('Sampling temperature; 0 is greedy.', { minimum: 0, maximum: 10 }),
  topK: integer('Sample among the k most likely tokens only; 0 is the whole vocabulary.',
    { minimum: 0, maximum: 1_000_000 }),
  maxNewTokens: integer('The longest answer, in tokens; with the embedded model trained from P, less than ' +
    '"model.blockSize" (the prompt and the answer share the block).', { minimum: 1, maximum: 131072 }),
  shots: integer('Exemplars of P put in front of each prompt (0 for a model trained on P).',
    { minimum: 0, maximum: 256 }),
  shotSelection: choice('Which exemplars make the few-shot prefix.', {
    first: 'the first "shots" of P',
    'per-question': '"shots" drawn for each question (seeded by its id)',
  }),
});

const star = section('The STaR loop.', {
  iterations: integer('Iterations after M0.', { minimum: 1, maximum: 1000 }),
  rationalize: flag('Give a question the model got wrong its answer as a hint, and keep a right rationale of it.'),
  seed: integer('Seed of every random choice: the same seed and config give the same run.',
    { minimum: 0, maximum: 4294967295 }),
  patience: integer('Stop when held-out accuracy has not risen for this many iterations; 0 never stops early.',
    { minimum: 0, maximum: 1000 }),
});

const trainer = byKind('What fine-tunes M(n): the embedded trainer, a command of yours for a served model (TRL, ' +
  'Axolotl, torchtune...), or nothing.', [
  {
    kind: 'embedded', title: 'the embedded trainer',
    description: 'The embedded tfjs trainer fine-tunes the embedded model.',
  },
  { kind: 'none', title: 'no trainer', description: 'Nothing fine-tunes: every iteration generates with M0.' },
  {
    kind: 'command', title: 'a command trainer', description: 'A shell command of yours fine-tunes the served model.',
    properties: {
      command: named('Shell command template. Placeholders (shell-quoted): {train} the iteration\'s train.jsonl, ' +
        '{trainChat} the same as chat rows, {base} the base model, {out} an empty output folder, {name} a unique ' +
        'name for the result, {iteration}, {steps}, {seed}, {run}, {project}.', 'a command template that is not blank'),
      model: text('The served name generation uses afterwards (a template; "{name}" unless given); a ' +
        '{out}/star-model.json {"model": "..."} written by the command wins.'),
      timeoutSeconds: number('Seconds before the command is killed; 0 is no limit.',
        { minimum: 0, maximum: LONGEST_TIMER_SECONDS }),
    },
    required: ['command'],
  },
]);

const bare: Schema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  title: 'star.json',
  description: 'A STaR project: the task, its files, the model, and how the STaR loop trains and samples it.',
  type: 'object',
  required: ['task'],
  additionalProperties: false,
  properties: {
    $schema: text('The JSON Schema of this file, for editors; star ignores it.'),
    task: choice('The reasoning task: how a question becomes a prompt and how an answer is read and compared.', TASKS),
    train: named('D, the training questions (JSONL).', FILE),
    eval: named('The held-out split (JSONL), scored after every iteration.', FILE),
    exemplars: named('P, the few-shot exemplars with worked rationales (JSONL).', FILE),
    model,
    training,
    sampling,
    star,
    trainer,
  },
};

const KIND_WORDS: Record<ModelKind, string> = {
  embedded: 'a model trained from P',
  pretrained: 'a pretrained model',
  openai: 'a served model',
};

const listed = (xs: string[]) => (xs.length > 1 ? `${xs.slice(0, -1).join(', ')} and ${xs[xs.length - 1]}` : xs[0]);

// The keys that tell the kinds of model apart default as the embedded model does: they are what makes another kind
const KIND_KEYS = ['model.backend', 'model.pretrained'];

/** What each task and kind of model defaults to at `path`, where it has a default. */
function defaultsAt(path: string[]): { task: TaskName; kind: ModelKind; value: unknown }[] {
  const out: { task: TaskName; kind: ModelKind; value: unknown }[] = [];
  const kinds = KIND_KEYS.includes(path.join('.')) ? ['embedded' as const] : MODEL_KINDS;
  for (const task of TASK_NAMES)
    for (const kind of kinds) {
      let v: unknown = defaultsFor(task, kind);
      for (const k of path) v = (v as Record<string, unknown> | undefined)?.[k];
      if (v !== undefined) out.push({ task, kind, value: v });
    }
  return out;
}

/** "300 for arithmetic, 40 for gsm8k and multiple-choice": the defaults grouped by what they depend on. */
function defaultWords(ds: { task: TaskName; kind: ModelKind; value: unknown }[]): string {
  const by = <K extends 'task' | 'kind'>(key: K): Map<string, string[]> | undefined => {
    const seen = new Map<string, string>();
    for (const d of ds) {
      const v = JSON.stringify(d.value);
      if ((seen.get(d[key]) ?? v) !== v) return undefined;
      seen.set(d[key], v);
    }
    const groups = new Map<string, string[]>();
    for (const [who, v] of seen) groups.set(v, [...(groups.get(v) ?? []), who]);
    return groups;
  };
  const byTask = by('task');
  if (byTask) return [...byTask].map(([v, tasks]) => `${v} for ${listed(tasks)}`).join(', ');
  const byKindOfModel = by('kind');
  if (byKindOfModel) {
    const said = [...byKindOfModel].map(([v, kinds]) => [v, listed(kinds.map((k) => KIND_WORDS[k as ModelKind]))]);
    return said.map(([v, kinds]) => `${v} for ${kinds}`).join(', ');
  }
  return ds.map((d) => `${JSON.stringify(d.value)} for ${d.task} with ${KIND_WORDS[d.kind]}`).join(', ');
}

/** A default the value's own schema refuses (the empty name of a served model) only says the value must be given. */
const validDefault = (s: Schema, v: unknown) =>
  !(typeof v === 'string' && typeof s.pattern === 'string' && !new RegExp(s.pattern).test(v));

/**
 * The schema with the defaults of configDefaults.ts: `default` where all agree, else said in the description; a
 * value that must be given has none.
 */
function withDefaults(s: Schema, path: string[]): Schema {
  if (s.properties && !s.oneOf) {
    const required = (s.required ?? []) as string[];
    const props = Object.entries(s.properties as Record<string, Schema>)
      .map(([k, sub]) => [k, required.includes(k) ? sub : withDefaults(sub, [...path, k])]);
    return { ...s, properties: Object.fromEntries(props) };
  }
  const ds = defaultsAt(path).filter((d) => validDefault(s, d.value));
  if (ds.length === 0) return s;
  const values = new Set(ds.map((d) => JSON.stringify(d.value)));
  const description = typeof s.description === 'string' ? s.description : '';
  if (values.size === 1)
    return { ...s, default: ds[0].value, description: `${description} Default: ${[...values][0]}.` };
  return { ...s, description: `${description} Default: ${defaultWords(ds)}.` };
}

/** star.json's schema: what the engine checks and what the extension contributes to VS Code. */
export const STAR_SCHEMA: Schema = withDefaults(bare, []);

/** The schema of star.json as the file the extension ships (schemas/star.schema.json). */
export const starSchemaText = (): string => JSON.stringify(STAR_SCHEMA, null, 2) + '\n';
