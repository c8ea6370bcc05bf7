// A STaR project is a folder with star.json; this module reads it (filling defaults, naming the file and line of
// any mistake) and creates new ones from a per-task template.
import * as fs from 'fs';
import * as path from 'path';
import { loadExamples, loadExemplars, loadRecords } from './dataset';
import { exists, sameFile, WouldOverwrite, writeAllOrNothing } from './safeFiles';
import type { ModelSpec, ProjectConfig, TrainerSpec } from './store/format';
import { leaveOutOverlap, OverlapNames, overlapRefusal, overlapWarnings } from './overlap';
import { heldOutPositions } from './split';
import { arithmeticExemplar, distinctSums, generateAdditions, ONE_DIGIT_SUMS } from './tasks/arithmetic';
import { getTask } from './tasks/index';
import { Example, Exemplar, Task, TASK_NAMES, TaskName } from './tasks/task';
import { hashSeed } from './random';
import { readTextFile } from './textEncoding';

export const CONFIG_FILE = 'star.json';

/** Where a new project keeps D, the held-out split and P; star.json may name other files. */
const DEFAULT_FILES = { train: 'data/train.jsonl', eval: 'data/eval.jsonl', exemplars: 'exemplars.jsonl' };

export interface Project {
  dir: string;
  config: ProjectConfig;
  task: Task;
}

/** The `model` settings of a remote OpenAI-compatible server, as star.json may give them. */
export function openaiModelDefaults(): Required<Pick<ModelSpec, 'baseUrl' | 'model' | 'apiKeyEnv' | 'api' | 'concurrency' | 'maxRetries' | 'retryBaseSeconds' | 'timeoutSeconds' | 'revision' | 'pricing' | 'system'>> {
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
      schedule: arithmetic ? { kind: 'exponential', base: 300, growth: 1.2 } : { kind: 'exponential', base: 40, growth: 1.2 },
      baseSteps: arithmetic ? 300 : 200,
      // GSM8K's M0 (P's 16 sequences of up to 821 tokens) takes 4 micro-batches of 8 rows: about 4.5 s a step on 2 cores
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

/** A star.json problem, with the line it is on when known. */
export class ConfigError extends Error {}

export function loadProjectConfig(dir: string): ProjectConfig {
  const file = path.join(dir, CONFIG_FILE);
  if (!fs.existsSync(file)) throw new ConfigError(`${file}: not found (is ${dir} a STaR project? create one with \`star init\`)`);
  const text = readTextFile(file, (line, reason) => new ConfigError(`${file}:${line}: ${reason}`));
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    const msg = (e as Error).message;
    const at = /position (\d+)/.exec(msg);
    const line = at ? text.slice(0, Number(at[1])).split('\n').length : 1;
    throw new ConfigError(`${file}:${line}: malformed JSON (${msg})`);
  }
  const where = (key: string) => `${file}:${lineOf(text, key)}`;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError(`${file}:1: must be a JSON object`);
  const task = (raw as { task?: unknown }).task;
  if (!TASK_NAMES.includes(task as TaskName))
    throw new ConfigError(`${where('task')}: "task" must be one of ${TASK_NAMES.join(', ')} (got ${JSON.stringify(task)})`);
  const def = defaultConfig(task as TaskName);
  const given = { ...(raw as Record<string, unknown>) };
  const rawModel = given.model as Record<string, unknown> | undefined;
  if (rawModel && typeof rawModel === 'object') {
    if ('apiKey' in rawModel || 'api_key' in rawModel)
      throw new ConfigError(`${where('apiKey')}: API keys never go in star.json: put the key in an environment variable and name it in "model.apiKeyEnv"`);
    if ('pretrained' in rawModel) {
      // a pretrained model is M0 as it is: P goes in the prompt, as with a served model
      def.model.pretrained = '';
      def.sampling.shots = 4;
      def.training.includeExemplars = false;
    }
    if (rawModel.backend === 'openai') {
      // a remote model: the openai settings; P goes in the prompt; the trainer decides what generates next
      def.model = { ...def.model, backend: 'openai', ...openaiModelDefaults() };
      def.sampling.shots = 4;
      def.training.includeExemplars = false;
      def.trainer = { kind: 'none' };
    }
  }
  const trainer = given.trainer;
  delete given.trainer;
  const config = merge(def, given, '', where) as ProjectConfig;
  config.trainer = trainer === undefined ? def.trainer ?? { kind: 'embedded' } : checkTrainer(trainer, where);
  check(config, where);
  return config;
}

export async function openProject(dir: string): Promise<Project> {
  const config = loadProjectConfig(dir);
  return { dir: path.resolve(dir), config, task: getTask(config.task) };
}

export function projectPath(p: Project, rel: string): string {
  return path.resolve(p.dir, rel);
}

/** A file a project is made of, and what it is to the project. */
export interface ProjectFile {
  file: string;
  role: string;
}

/** star.json and the training set, held-out split and P that a config names. */
export function projectFiles(dir: string, c: Pick<ProjectConfig, 'train' | 'eval' | 'exemplars'>): ProjectFile[] {
  return [
    { file: path.resolve(dir, CONFIG_FILE), role: 'config' },
    { file: path.resolve(dir, c.train), role: 'training set' },
    { file: path.resolve(dir, c.eval), role: 'held-out split' },
    { file: path.resolve(dir, c.exemplars), role: 'exemplars (P)' },
  ];
}

export async function loadData(p: Project): Promise<{ train: Example[]; eval: Example[]; exemplars: Exemplar[] }> {
  const [train, evalSet, exemplars] = await Promise.all([
    loadExamples(projectPath(p, p.config.train), p.task),
    loadExamples(projectPath(p, p.config.eval), p.task),
    loadExemplars(projectPath(p, p.config.exemplars), p.task),
  ]);
  return { train, eval: evalSet, exemplars };
}

// Values from star.json over the defaults; unknown keys and wrong types are errors that name the line.
function merge(def: unknown, given: unknown, key: string, where: (k: string) => string): unknown {
  if (given === undefined) return def;
  if (def !== null && typeof def === 'object' && !Array.isArray(def)) {
    if (typeof given !== 'object' || given === null || Array.isArray(given))
      throw new ConfigError(`${where(leaf(key))}: "${key}" must be an object`);
    // a step schedule is replaced whole: its fields depend on its kind
    if (key === 'training.schedule') return given;
    const out: Record<string, unknown> = { ...(def as Record<string, unknown>) };
    for (const [k, v] of Object.entries(given as Record<string, unknown>)) {
      const sub = key ? `${key}.${k}` : k;
      if (!(k in out)) throw new ConfigError(`${where(k)}: unknown setting "${sub}"`);
      out[k] = merge(out[k], v, sub, where);
    }
    return out;
  }
  if (typeof def !== typeof given) throw new ConfigError(`${where(leaf(key))}: "${key}" must be a ${typeof def} (got ${JSON.stringify(given)})`);
  return given;
}

function checkTrainer(t: unknown, where: (k: string) => string): TrainerSpec {
  const bad = (why: string) => new ConfigError(`${where('trainer')}: "trainer" ${why}`);
  if (typeof t !== 'object' || t === null || Array.isArray(t)) throw bad('must be an object such as {"kind":"none"}');
  const o = t as Record<string, unknown>;
  const allowed: Record<string, string[]> = { embedded: ['kind'], none: ['kind'], command: ['kind', 'command', 'model', 'timeoutSeconds'] };
  const kind = o.kind as string;
  if (!(kind in allowed)) throw bad(`"kind" must be embedded, command or none (got ${JSON.stringify(o.kind)})`);
  for (const k of Object.keys(o)) if (!allowed[kind].includes(k)) throw new ConfigError(`${where(k)}: unknown setting "trainer.${k}" for a ${kind} trainer`);
  if (kind === 'command') {
    if (typeof o.command !== 'string' || !o.command.trim()) throw new ConfigError(`${where('command')}: "trainer.command" must be a non-empty command template`);
    if (o.model !== undefined && typeof o.model !== 'string') throw new ConfigError(`${where('model')}: "trainer.model" must be a string`);
    if (o.timeoutSeconds !== undefined && !(typeof o.timeoutSeconds === 'number' && o.timeoutSeconds >= 0))
      throw new ConfigError(`${where('timeoutSeconds')}: "trainer.timeoutSeconds" must be a number >= 0`);
  }
  return o as TrainerSpec;
}

function check(c: ProjectConfig, where: (k: string) => string) {
  const positive = (key: string, v: number, integer = true) => {
    if (!(v > 0) || (integer && !Number.isInteger(v))) throw new ConfigError(`${where(leaf(key))}: "${key}" must be a positive ${integer ? 'integer' : 'number'} (got ${v})`);
  };
  positive('model.nLayer', c.model.nLayer);
  positive('model.nHead', c.model.nHead);
  positive('model.nEmbd', c.model.nEmbd);
  positive('model.blockSize', c.model.blockSize);
  if (c.model.nEmbd % c.model.nHead !== 0) throw new ConfigError(`${where('nEmbd')}: "model.nEmbd" must be a multiple of "model.nHead"`);
  if (!['auto', 'tensorflow', 'webgpu', 'wasm', 'cpu'].includes(c.model.compute))
    throw new ConfigError(`${where('compute')}: "model.compute" must be auto, tensorflow, webgpu, wasm or cpu`);
  if (!['rope', 'learned'].includes(c.model.pos)) throw new ConfigError(`${where('pos')}: "model.pos" must be rope or learned`);
  positive('training.batchSize', c.training.batchSize);
  positive('training.lr', c.training.lr, false);
  positive('sampling.k', c.sampling.k);
  positive('sampling.maxNewTokens', c.sampling.maxNewTokens);
  positive('star.iterations', c.star.iterations);
  if (!['first', 'per-question'].includes(c.sampling.shotSelection ?? 'first'))
    throw new ConfigError(`${where('shotSelection')}: "sampling.shotSelection" must be first or per-question`);
  if (!['embedded', 'openai'].includes(c.model.backend)) throw new ConfigError(`${where('backend')}: "model.backend" must be embedded or openai`);
  const trainer = c.trainer ?? { kind: 'embedded' };
  if (c.model.backend === 'openai') {
    if (!c.model.model) throw new ConfigError(`${where('backend')}: "model.model" must name the served model (e.g. "Qwen/Qwen2.5-0.5B")`);
    if (!/^https?:\/\//.test(c.model.baseUrl ?? '')) throw new ConfigError(`${where('baseUrl')}: "model.baseUrl" must be an http(s) URL such as http://localhost:8000/v1`);
    if (!['completions', 'chat'].includes(c.model.api ?? '')) throw new ConfigError(`${where('api')}: "model.api" must be completions or chat`);
    positive('model.concurrency', c.model.concurrency ?? 0);
    positive('model.timeoutSeconds', c.model.timeoutSeconds ?? 0, false);
    if (!((c.model.maxRetries ?? -1) >= 0)) throw new ConfigError(`${where('maxRetries')}: "model.maxRetries" must be >= 0`);
    if (trainer.kind === 'embedded') throw new ConfigError(`${where('trainer')}: the embedded trainer fine-tunes the embedded model only; with "model.backend": "openai" use {"kind":"command",...} or {"kind":"none"}`);
  } else if (c.model.pretrained !== undefined && !c.model.pretrained) {
    throw new ConfigError(`${where('pretrained')}: "model.pretrained" must name a folder with config.json, model.safetensors and tokenizer.json`);
  } else if (trainer.kind === 'command') {
    throw new ConfigError(`${where('trainer')}: a command trainer drives a served model: set "model.backend" to "openai"`);
  }
  const s = c.training.schedule;
  const ok =
    (s.kind === 'exponential' && s.base > 0 && s.growth > 0) ||
    (s.kind === 'linear' && s.base > 0 && s.increment >= 0) ||
    (s.kind === 'epochs' && s.epochs > 0);
  if (!ok)
    throw new ConfigError(
      `${where('schedule')}: "training.schedule" must be {"kind":"exponential","base":N,"growth":G}, {"kind":"linear","base":N,"increment":I} or {"kind":"epochs","epochs":E}`,
    );
}

const leaf = (key: string) => key.split('.').pop() ?? key;

function lineOf(text: string, key: string): number {
  const i = text.indexOf(`"${key}"`);
  return i < 0 ? 1 : text.slice(0, i).split('\n').length;
}

export interface InitOptions {
  task: TaskName;
  /** Task-native records for D (and, split off, for the held-out split and, with gsm8k, P when not given). */
  from?: string;
  evalFrom?: string;
  exemplarsFrom?: string;
  /** arithmetic without `from`: questions generated for D */
  trainCount?: number;
  /** arithmetic without `from`: worked sums generated for P; gsm8k without `exemplarsFrom`: records of `from` that
   *  become P (the first ones) */
  exemplarCount?: number;
  /** arithmetic without `from`: held-out sums per digit count (the one-digit group: at most half those P lacks) */
  evalPerDigit?: number;
  /** arithmetic without `from`: the longest sums of D, of the held-out split and of P, in digits */
  maxDigits?: number;
  evalMaxDigits?: number;
  exemplarMaxDigits?: number;
  /** Seed of the generated data, or of the held-out split drawn from `from`. */
  seed?: number;
  /** Replace the files of a project already in the folder (never a file init reads from). */
  force?: boolean;
}

/** What init has to say besides "created": the questions it left out because P or D holds them too. */
export interface InitReport {
  warnings: string[];
}

/** The files `initProject` writes, relative to the project folder. */
export const INIT_FILES = [CONFIG_FILE, DEFAULT_FILES.exemplars, DEFAULT_FILES.train, DEFAULT_FILES.eval];

/** Those of INIT_FILES already in `dir`. */
export function initFilesPresent(dir: string): string[] {
  return INIT_FILES.filter((rel) => exists(path.join(dir, rel)));
}

/**
 * Creates a project folder: star.json, exemplars.jsonl (P) and data/{train,eval}.jsonl, only one that can run:
 * options that do not apply or cannot work are refused, P is checked as exemplars, and questions P or D share with
 * a later set are left out of it (with a warning). Every input is read and checked before anything is written; then
 * all files are written or none, and a folder it made is removed again.
 */
export async function initProject(dir: string, o: InitOptions): Promise<InitReport> {
  checkInitOptions(o);
  refuseOwnSources(dir, o);
  const present = initFilesPresent(dir);
  if (present.length && !o.force) {
    const them = present.length > 1 ? 'them' : 'it';
    const why = `${dir} already holds ${present.join(', ')}: init would replace ${them}`;
    throw new WouldOverwrite(present, `${why}; pass --force to replace, or choose another folder`);
  }
  const { files, warnings } = await initFileTexts(o);
  writeAllOrNothing(Object.entries(files).map(([rel, text]) => ({ file: path.join(dir, rel), text })));
  return { warnings };
}

/** The command-line name of each option, as messages name them. */
const FLAG: Record<Exclude<keyof InitOptions, 'task' | 'force'>, string> = {
  from: '--from', evalFrom: '--eval', exemplarsFrom: '--exemplars', trainCount: '--train-count',
  exemplarCount: '--exemplar-count', evalPerDigit: '--eval-per-digit', maxDigits: '--max-digits',
  evalMaxDigits: '--eval-max-digits', exemplarMaxDigits: '--exemplar-max-digits', seed: '--seed',
};

/** Options that size generated sums: arithmetic without --from only. */
const GENERATION = ['trainCount', 'evalPerDigit', 'maxDigits', 'evalMaxDigits', 'exemplarMaxDigits'] as const;

const DIGIT_OPTIONS = ['maxDigits', 'evalMaxDigits', 'exemplarMaxDigits'] as const;

/** Options that do not apply to the task (or to where its data comes from) and values that cannot work. */
function checkInitOptions(o: InitOptions): void {
  getTask(o.task);
  const refuse = (k: keyof typeof FLAG, why: string) => new Error(`${FLAG[k]} ${why}`);
  const generated = o.task === 'arithmetic' && !o.from;
  const notGenerated = o.task === 'arithmetic'
    ? `sizes the generated sums: it does not apply with --from (D is ${o.from})`
    : 'applies to --task arithmetic only';
  for (const k of GENERATION) if (o[k] !== undefined && !generated) throw refuse(k, notGenerated);
  if (o.exemplarCount !== undefined) {
    if (o.task === 'multiple-choice')
      throw refuse('exemplarCount',
        'applies to --task arithmetic and gsm8k only (multiple-choice takes P from --exemplars)');
    if (o.task === 'arithmetic' && o.from) throw refuse('exemplarCount', notGenerated);
    if (o.exemplarsFrom)
      throw refuse('exemplarCount',
        `takes P from the first records of --from: with --exemplars, P is ${o.exemplarsFrom}`);
  }
  for (const k of ['evalFrom', 'exemplarsFrom'] as const)
    if (o[k] !== undefined && generated)
      throw refuse(k, 'applies with --from only: without it, --task arithmetic generates P, D and the held-out split');
  if (o.seed !== undefined && o.evalFrom)
    throw refuse('seed', `draws the held-out split from --from: with --eval (${o.evalFrom}) nothing is drawn`);
  if (!o.from && o.task !== 'arithmetic')
    throw new Error(`--from FILE is required for the ${o.task} task ` +
      `(a ${o.task === 'gsm8k' ? 'GSM8K' : 'CommonsenseQA'} JSONL file)`);
  if (o.from && !o.exemplarsFrom && o.task === 'multiple-choice')
    throw new Error('--exemplars FILE is required for multiple-choice: CommonsenseQA records carry no rationales');
  if (o.from && !o.exemplarsFrom && o.task === 'arithmetic')
    throw new Error('--exemplars FILE is required with --from for --task arithmetic: the records of --from carry no ' +
      'rationales (without --from, init generates P, D and the held-out split)');
  for (const k of ['trainCount', 'exemplarCount', 'evalPerDigit', ...DIGIT_OPTIONS] as const) {
    const v = o[k];
    if (v !== undefined && !(Number.isSafeInteger(v) && v >= 1))
      throw refuse(k, `must be a positive integer (got ${v})`);
  }
  if (o.seed !== undefined && !(Number.isSafeInteger(o.seed) && o.seed >= 0))
    throw refuse('seed', `must be a non-negative integer (got ${o.seed})`);
  const longest = longestSum();
  const tokens = defaultConfig('arithmetic').sampling.maxNewTokens;
  for (const k of DIGIT_OPTIONS) {
    const v = o[k];
    if (v !== undefined && v > longest)
      throw refuse(k, `must be 1 to ${longest} digits (got ${v}): the scratchpad of a longer sum does not fit the ` +
        `${tokens} new tokens (sampling.maxNewTokens) of the star.json init writes`);
  }
}

/** The most digits a generated sum may have: its worked answer, with the hinted prompt, must fit the config. */
function longestSum(): number {
  const c = defaultConfig('arithmetic');
  const task = getTask('arithmetic');
  const fits = (n: number) => {
    const nines = '9'.repeat(n);
    const x = arithmeticExemplar({ id: '', question: `${nines}+${nines}`, gold: `1${nines.slice(1)}8` });
    const completion = task.completion(x.rationale, x.gold);
    const sequence = task.prompt(x, true).length + completion.length;
    return completion.length <= c.sampling.maxNewTokens && sequence <= c.model.blockSize;
  };
  let n = 1;
  while (fits(n + 1)) n++;
  return n;
}

/** An input that is also an output would be overwritten by what is read from it: refused even with --force. */
function refuseOwnSources(dir: string, o: InitOptions): void {
  const sources: [string, string | undefined][] =
    [['--from', o.from], ['--eval', o.evalFrom], ['--exemplars', o.exemplarsFrom]];
  for (const [flag, src] of sources) {
    if (!src || !exists(src)) continue;
    const hit = INIT_FILES.find((rel) => sameFile(src, path.join(dir, rel)));
    if (!hit) continue;
    const what = `${flag} ${src} is ${path.join(dir, hit)}, a file init writes`;
    throw new Error(`${what}: init never writes over its own input, not even with --force; copy it out of ${dir} first`);
  }
}

/** The text of each file of a new project, by its path relative to the folder: all computed before any is written. */
async function initFileTexts(o: InitOptions): Promise<{ files: Record<string, string>; warnings: string[] }> {
  const config = defaultConfig(o.task);
  const sets = o.task === 'arithmetic' && !o.from ? generatedArithmetic(o) : await copiedRecords(o);
  const { records, warnings } = withoutShared(sets);
  const jsonl = (recs: Record<string, unknown>[]) => recs.map((r) => JSON.stringify(r) + '\n').join('');
  const files = {
    [config.exemplars]: jsonl(records.exemplars),
    [config.train]: jsonl(records.train),
    [config.eval]: jsonl(records.eval),
    [CONFIG_FILE]: JSON.stringify(config, null, 2) + '\n',
  };
  return { files, warnings };
}

/** A question as the task reads it, with the record written for it. */
type Written = Example & { record: Record<string, unknown> };

/** P, D and the held-out split before shared questions are left out, and what messages call each. */
interface InitSets {
  exemplars: Written[];
  train: Written[];
  eval: Written[];
  names: OverlapNames;
}

interface InitRecords {
  exemplars: Record<string, unknown>[];
  train: Record<string, unknown>[];
  eval: Record<string, unknown>[];
}

/** The records to write: D without P's questions, the held-out split without P's and D's; refused if one empties. */
function withoutShared(sets: InitSets): { records: InitRecords; warnings: string[] } {
  const before = { train: sets.train.length, eval: sets.eval.length };
  const kept = leaveOutOverlap(sets.exemplars, sets.train, sets.eval);
  const refusal = overlapRefusal(kept, before, sets.names);
  if (refusal) throw new Error(refusal);
  const records = (xs: Written[]) => xs.map((x) => x.record);
  return {
    records: { exemplars: records(sets.exemplars), train: records(kept.train), eval: records(kept.eval) },
    warnings: overlapWarnings(kept.counts, before, sets.names),
  };
}

/** The sizes of generated arithmetic data, defaults filled. */
type ArithmeticSizes = Required<Pick<InitOptions, (typeof GENERATION)[number] | 'exemplarCount'>>;

function arithmeticSizes(o: InitOptions): ArithmeticSizes {
  const maxDigits = o.maxDigits ?? 5;
  return {
    trainCount: o.trainCount ?? 2000,
    // 128 worked sums of 1-5 digits: with 64 of 1-3 (the feasibility probe's P) the base model never got a 2-digit
    // sum right, so STaR had nothing to bootstrap longer sums from.
    exemplarCount: o.exemplarCount ?? 128,
    exemplarMaxDigits: o.exemplarMaxDigits ?? 5,
    evalPerDigit: o.evalPerDigit ?? 100,
    maxDigits,
    evalMaxDigits: o.evalMaxDigits ?? maxDigits,
  };
}

/**
 * P, D and the held-out split of generated sums, the same for the same seed and sizes. Each set excludes the sums of
 * those made before it: P, then the held-out one-digit sums, then D, then the held-out longer sums.
 */
function generatedArithmetic(o: InitOptions): InitSets {
  const task = getTask('arithmetic');
  const seed = o.seed ?? 0;
  const z = arithmeticSizes(o);
  /** An option as a message names it: its flag and value, and whether that is the default. */
  const said = (k: keyof ArithmeticSizes) => `${FLAG[k]} ${z[k]}${o[k] === undefined ? ' (the default)' : ''}`;
  const pRoom = sumsUpTo(z.exemplarMaxDigits);
  if (z.exemplarCount > pRoom)
    throw new Error(`${said('exemplarCount')} is more than the ${pRoom} distinct sums of ` +
      `${digitRange(z.exemplarMaxDigits)} (${said('exemplarMaxDigits')}): at most ${pRoom}`);
  const P = generateAdditions({
    count: z.exemplarCount, minDigits: 1, maxDigits: z.exemplarMaxDigits, seed: hashSeed(seed, 'P'),
  });
  const seen = new Set(P.map((e) => e.question));
  // There are only 100 one-digit sums, so the held-out group takes half of those P lacks (at most --eval-per-digit)
  // before D is drawn: D learns from the other half, and the group measures sums the model never saw.
  const lacking = ONE_DIGIT_SUMS.filter((q) => !seen.has(q)).length;
  const E = generateAdditions({
    count: Math.min(z.evalPerDigit, Math.floor(lacking / 2)), minDigits: 1, maxDigits: 1,
    seed: hashSeed(seed, 'eval', 1), exclude: seen,
  });
  E.forEach((e) => seen.add(e.question));
  if (lacking === 0)
    throw new Error('no one-digit sum is left for D or the held-out split: P holds all 100 ' +
      `(${said('exemplarCount')}, ${said('exemplarMaxDigits')}); ` +
      'lower --exemplar-count or raise --exemplar-max-digits');
  let room = 0;
  for (let n = 1; n <= z.maxDigits; n++) room += distinctSums(n) - countDigits(seen, n);
  // D repeats sums of a digit count that has too few (the one-digit ones), but never holds fewer distinct ones
  if (z.trainCount > room)
    throw new Error(`${said('trainCount')} is more than the ${room} distinct sums of ${digitRange(z.maxDigits)} ` +
      `(${said('maxDigits')}) that P and the held-out split leave: at most ${room}`);
  const D = generateAdditions({
    count: z.trainCount, minDigits: 1, maxDigits: z.maxDigits, seed: hashSeed(seed, 'D'), exclude: seen,
  });
  D.forEach((e) => seen.add(e.question));
  for (let n = 2; n <= z.evalMaxDigits; n++) {
    const left = distinctSums(n) - countDigits(seen, n);
    if (z.evalPerDigit > left)
      throw new Error(`${said('evalPerDigit')} is more than the ${left} ${n}-digit sums P and D leave: ` +
        `at most ${left}`);
    E.push(...generateAdditions({
      count: z.evalPerDigit, minDigits: n, maxDigits: n, seed: hashSeed(seed, 'eval', n), exclude: seen,
    }));
  }
  if (E.length === 0)
    throw new Error(`the held-out split would be empty: P holds ${100 - lacking} of the 100 one-digit sums ` +
      `(${said('exemplarCount')}, ${said('exemplarMaxDigits')}), leaving none to hold out from D, and ` +
      `${said('evalMaxDigits')}: lower --exemplar-count, or raise --eval-max-digits`);
  const written = (e: Example, i: number, tag: string): Written =>
    ({ ...e, id: `${tag}-${i + 1}`, record: { id: `${tag}-${i + 1}`, question: e.question, answer: e.gold } });
  const exemplars = P.map((e, i) => {
    const x = arithmeticExemplar({ ...e, id: `p-${i + 1}` });
    return { ...x, record: task.exemplarToRecord(x) };
  });
  return {
    exemplars,
    train: D.map((e, i) => written(e, i, 'train')),
    eval: E.map((e, i) => written(e, i, 'eval')),
    names: { exemplars: 'generated P', train: 'generated D', eval: 'the generated held-out split' },
  };
}

const digitRange = (n: number) => (n === 1 ? '1 digit' : `1 to ${n} digits`);

/** Distinct sums of 1 to n digits. */
function sumsUpTo(n: number): number {
  let total = 0;
  for (let d = 1; d <= n; d++) total += distinctSums(d);
  return total;
}

/** How many of the questions have n-digit operands. */
function countDigits(questions: Set<string>, n: number): number {
  let count = 0;
  for (const q of questions) if (q.indexOf('+') === n) count++;
  return count;
}

/** D (and, unless given, the held-out split and P) copied from task-native files, each record checked first. */
async function copiedRecords(o: InitOptions): Promise<InitSets> {
  const task = getTask(o.task);
  const from = o.from!;
  // Copied as written, each record checked by the task first; an error names the file and line.
  let pool = await readWritten(from, task, 'examples');
  let exemplars: Written[];
  let pName: string;
  if (o.exemplarsFrom) {
    exemplars = await readWritten(o.exemplarsFrom, task, 'exemplars');
    pName = o.exemplarsFrom;
  } else {
    // GSM8K's own worked solutions are rationales: the first records become P.
    const n = o.exemplarCount ?? 8;
    const need = n + (o.evalFrom ? 1 : 2);
    if (pool.length < need) {
      const most = pool.length - need + n;
      const count = o.exemplarCount === undefined ? `--exemplar-count ${n}, the default` : `--exemplar-count ${n}`;
      const instead = most >= 1 ? `give --exemplar-count ${most} at most, or a larger file` : 'give a larger file';
      const rest = o.evalFrom ? 'D needs at least 1 more' : 'D and the held-out split need at least 1 more each';
      throw new Error(`${from} has ${pool.length} record(s): P takes the first ${n} (${count}), and ${rest}; ` +
        instead);
    }
    exemplars = pool.slice(0, n).map((x) => ({ ...asExemplar(task, x, from, n), record: x.record }));
    pool = pool.slice(n);
    pName = `the first ${n} records of ${from}`;
  }
  let evalSet: Written[];
  let eName: string;
  if (o.evalFrom) {
    if (sameFile(o.evalFrom, from))
      throw new Error(`--eval ${o.evalFrom} is the --from file itself: every held-out question would be in D; leave ` +
        '--eval out to hold out a tenth of --from, or give a file of questions D does not have');
    evalSet = await readWritten(o.evalFrom, task, 'examples');
    eName = o.evalFrom;
  } else {
    // a tenth (at most 500) ranked by a well-mixed hash of the position: the same split each time, spread over the file
    const held = new Set(heldOutPositions(pool.length, o.seed ?? 0));
    evalSet = pool.filter((_, i) => held.has(i));
    pool = pool.filter((_, i) => !held.has(i));
    eName = `the held-out tenth of ${from}`;
  }
  return { exemplars, train: pool, eval: evalSet, names: { exemplars: pName, train: from, eval: eName } };
}

/** A file's records as written, each with the question the task reads from it (its line set). */
async function readWritten(file: string, task: Task, kind: 'examples' | 'exemplars'): Promise<Written[]> {
  const [records, read] = await Promise.all([
    loadRecords(file, task, kind),
    kind === 'examples' ? loadExamples(file, task) : loadExemplars(file, task),
  ]);
  return read.map((x, i) => ({ ...x, record: records[i] }));
}

/** A record split off as P, checked as an exemplar: its error names the file and line. */
function asExemplar(task: Task, x: Written, file: string, n: number): Exemplar {
  try {
    return { ...task.exemplarFromRecord(x.record, x.id), line: x.line };
  } catch (e) {
    throw new Error(`${file}:${x.line}: ${(e as Error).message}: the first ${n} records of --from become P ` +
      '(--exemplar-count), so each needs a worked solution; move this one down, or give --exemplars FILE');
  }
}
