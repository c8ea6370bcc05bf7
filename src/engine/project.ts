// A STaR project is a folder with star.json; this module reads it (filling defaults, naming the file and line of
// any mistake) and creates new ones from a per-task template.
import * as fs from 'fs';
import * as path from 'path';
import { loadExamples, loadExemplars, loadRecords } from './dataset';
import { exists, sameFile, WouldOverwrite, writeAllOrNothing } from './safeFiles';
import type { ModelSpec, ProjectConfig, TrainerSpec } from './store/format';
import { arithmeticExemplar, generateAdditions } from './tasks/arithmetic';
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
  /** Task-native records for D (and, split off, for eval and P when they are not given). */
  from?: string;
  evalFrom?: string;
  exemplarsFrom?: string;
  /** arithmetic: sizes of the generated splits */
  trainCount?: number;
  exemplarCount?: number;
  evalPerDigit?: number;
  maxDigits?: number;
  evalMaxDigits?: number;
  exemplarMaxDigits?: number;
  seed?: number;
  /** Replace the files of a project already in the folder (never a file init reads from). */
  force?: boolean;
}

/** The files `initProject` writes, relative to the project folder. */
export const INIT_FILES = [CONFIG_FILE, DEFAULT_FILES.exemplars, DEFAULT_FILES.train, DEFAULT_FILES.eval];

/** Those of INIT_FILES already in `dir`. */
export function initFilesPresent(dir: string): string[] {
  return INIT_FILES.filter((rel) => exists(path.join(dir, rel)));
}

/**
 * Creates a project folder: star.json, exemplars.jsonl (P) and data/{train,eval}.jsonl. Every input is read and
 * checked before anything is written; then all files are written or none, and a folder it made is removed again.
 */
export async function initProject(dir: string, o: InitOptions): Promise<void> {
  refuseOwnSources(dir, o);
  const present = initFilesPresent(dir);
  if (present.length && !o.force) {
    const them = present.length > 1 ? 'them' : 'it';
    const why = `${dir} already holds ${present.join(', ')}: init would replace ${them}`;
    throw new WouldOverwrite(present, `${why}; pass --force to replace, or choose another folder`);
  }
  const files = await initFileTexts(o);
  writeAllOrNothing(Object.entries(files).map(([rel, text]) => ({ file: path.join(dir, rel), text })));
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
async function initFileTexts(o: InitOptions): Promise<Record<string, string>> {
  const config = defaultConfig(o.task);
  const data = o.task === 'arithmetic' && !o.from ? generatedArithmetic(o) : await copiedRecords(o);
  const jsonl = (recs: Record<string, unknown>[]) => recs.map((r) => JSON.stringify(r) + '\n').join('');
  return {
    [config.exemplars]: jsonl(data.exemplars),
    [config.train]: jsonl(data.train),
    [config.eval]: jsonl(data.eval),
    [CONFIG_FILE]: JSON.stringify(config, null, 2) + '\n',
  };
}

interface InitRecords {
  exemplars: Record<string, unknown>[];
  train: Record<string, unknown>[];
  eval: Record<string, unknown>[];
}

function generatedArithmetic(o: InitOptions): InitRecords {
  const task = getTask('arithmetic');
  const seed = o.seed ?? 0;
  const maxDigits = o.maxDigits ?? 5;
  // 128 worked sums of 1-5 digits: with 64 of 1-3 (the feasibility probe's P) the base model never got a 2-digit
  // sum right, so STaR had nothing to bootstrap longer sums from.
  const P = generateAdditions({ count: o.exemplarCount ?? 128, minDigits: 1, maxDigits: o.exemplarMaxDigits ?? 5, seed: hashSeed(seed, 'P') });
  const seen = new Set(P.map((e) => e.question));
  const D = generateAdditions({ count: o.trainCount ?? 2000, minDigits: 1, maxDigits, seed: hashSeed(seed, 'D'), exclude: seen });
  D.forEach((e) => seen.add(e.question));
  // Held out per digit count. There are only 100 one-digit sums and D already holds them, so that group is all
  // 100 of them, each once: it measures recall of seen sums; longer groups are sums D never had.
  const evalMax = o.evalMaxDigits ?? maxDigits;
  const perDigit = o.evalPerDigit ?? 100;
  const E: Example[] = [];
  for (let a = 0; a < 10; a++) for (let b = 0; b < 10; b++) E.push({ id: '', question: `${a}+${b}`, gold: String(a + b), group: '1' });
  for (let n = 2; n <= evalMax; n++)
    E.push(...generateAdditions({ count: perDigit, minDigits: n, maxDigits: n, seed: hashSeed(seed, 'eval', n), exclude: seen }));
  const rec = (e: Example, i: number, tag: string) => ({ id: `${tag}-${i + 1}`, question: e.question, answer: e.gold });
  return {
    exemplars: P.map((e, i) => task.exemplarToRecord(arithmeticExemplar({ ...e, id: `p-${i + 1}` }))),
    train: D.map((e, i) => rec(e, i, 'train')),
    eval: E.map((e, i) => rec(e, i, 'eval')),
  };
}

async function copiedRecords(o: InitOptions): Promise<InitRecords> {
  const task = getTask(o.task);
  if (!o.from) throw new Error(`--from FILE is required for the ${o.task} task (a ${o.task === 'gsm8k' ? 'GSM8K' : 'CommonsenseQA'} JSONL file)`);
  // Copied as written, each record checked by the task first; an error names the file and line.
  const records = await loadRecords(o.from, task, 'examples');
  let pool = records;
  let exemplars: Record<string, unknown>[];
  if (o.exemplarsFrom) {
    exemplars = await loadRecords(o.exemplarsFrom, task, 'exemplars');
  } else if (o.task === 'gsm8k') {
    // GSM8K's own worked solutions are rationales: the first records become P.
    const n = Math.min(o.exemplarCount ?? 8, Math.floor(records.length / 4));
    exemplars = records.slice(0, n);
    pool = records.slice(n);
  } else {
    throw new Error('--exemplars FILE is required for multiple-choice: CommonsenseQA records carry no rationales');
  }
  let evalRecs: Record<string, unknown>[];
  if (o.evalFrom) {
    evalRecs = await loadRecords(o.evalFrom, task, 'examples');
  } else {
    // hold out a tenth (at most 500) chosen by a hash of the position, so re-running init splits the same way
    const nEval = Math.min(500, Math.max(1, Math.floor(pool.length / 10)));
    const ranked = pool.map((r, i) => ({ r, h: hashSeed(o.seed ?? 0, 'split', i) })).sort((a, b) => a.h - b.h);
    const held = new Set(ranked.slice(0, nEval).map((x) => x.r));
    evalRecs = pool.filter((r) => held.has(r));
    pool = pool.filter((r) => !held.has(r));
  }
  return { exemplars, train: pool, eval: evalRecs };
}
