// A STaR project is a folder with star.json; this module reads it (filling defaults, naming the file and line of
// any mistake) and creates new ones from a per-task template.
import * as fs from 'fs';
import * as path from 'path';
import { loadExamples, loadExemplars, loadRecords } from './dataset';
import { crossProblems, schemaProblems } from './configCheck';
import { DEFAULT_FILES, defaultConfig, defaultsFor, modelKindOf, openaiModelDefaults } from './configDefaults';
import { Schema, STAR_SCHEMA } from './configSchema';
import { ConfigProblem, ConfigText } from './configText';
import { exists, sameFile, WouldOverwrite, writeAllOrNothing } from './safeFiles';
import type { ProjectConfig } from './store/format';
import { arithmeticExemplar, generateAdditions } from './tasks/arithmetic';
import { getTask } from './tasks/index';
import { Example, Exemplar, Task, TaskName } from './tasks/task';
import { hashSeed } from './random';

export const CONFIG_FILE = 'star.json';

export { defaultConfig, openaiModelDefaults };

export interface Project {
  dir: string;
  config: ProjectConfig;
  task: Task;
}

/** A star.json problem, with the line it is on when known. */
export class ConfigError extends Error {}

/**
 * star.json with its defaults. Every value is checked against the schema (configSchema.ts) and then together; any
 * problem throws a ConfigError naming the file, the line of the key and the values allowed (each problem a line).
 */
export function loadProjectConfig(dir: string): ProjectConfig {
  const file = path.join(dir, CONFIG_FILE);
  if (!fs.existsSync(file)) throw new ConfigError(`${file}: not found (is ${dir} a STaR project? create one with \`star init\`)`);
  const text = fs.readFileSync(file, 'utf8');
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    const msg = (e as Error).message;
    const at = /position (\d+)/.exec(msg);
    const line = at ? text.slice(0, Number(at[1])).split('\n').length : 1;
    throw new ConfigError(`${file}:${line}: malformed JSON (${msg})`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError(`${file}:1: must be a JSON object`);
  const src = new ConfigText(text);
  const refuse = (problems: ConfigProblem[]) => {
    if (problems.length) throw new ConfigError(problems.map((p) => `${file}:${p.line}: ${p.message}`).join('\n'));
  };
  const given = raw as Record<string, unknown>;
  const model = given.model as Record<string, unknown> | undefined;
  const key = model && typeof model === 'object' && ['apiKey', 'api_key'].find((k) => k in model);
  if (key)
    refuse([{ line: src.lineOf(['model', key]), message: 'API keys never go in star.json: put the key in an environment ' +
      'variable and name it in "model.apiKeyEnv"' }]);
  refuse(src.duplicateKeys());
  refuse(schemaProblems(raw, src));
  const { $schema: _editorsOnly, ...settings } = given;
  const config = merge(defaultsFor(given.task as TaskName, modelKindOf(model)), settings, STAR_SCHEMA) as ProjectConfig;
  refuse(crossProblems(config, src));
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

/** Values from star.json (checked) over the defaults: a section key by key, anything else (a schedule) whole. */
function merge(def: unknown, given: unknown, schema: Schema): unknown {
  if (given === undefined) return def;
  const props = schema.oneOf ? undefined : (schema.properties as Record<string, Schema> | undefined);
  if (!props || typeof def !== 'object' || def === null) return given;
  const out: Record<string, unknown> = { ...(def as Record<string, unknown>) };
  for (const [k, v] of Object.entries(given as Record<string, unknown>)) out[k] = merge(out[k], v, props[k]);
  return out;
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
