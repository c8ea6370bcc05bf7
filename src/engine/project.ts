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
import { leaveOutOverlap, OverlapNames, overlapRefusal, overlapWarnings } from './overlap';
import { heldOutPositions } from './split';
import { arithmeticExemplar, distinctSums, generateAdditions, ONE_DIGIT_SUMS } from './tasks/arithmetic';
import { getTask } from './tasks/index';
import { Example, Exemplar, Task, TaskName } from './tasks/task';
import { hashSeed } from './random';
import { readTextFile } from './textEncoding';

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
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError(`${file}:1: must be a JSON object`);
  const src = new ConfigText(text);
  const refuse = (problems: ConfigProblem[]) => {
    if (problems.length) throw new ConfigError(problems.map((p) => `${file}:${p.line}: ${p.message}`).join('\n'));
  };
  const given = raw as Record<string, unknown>;
  const model = given.model as Record<string, unknown> | undefined;
  const key = model && typeof model === 'object' && ['apiKey', 'api_key'].find((k) => k in model);
  const noKeys = 'API keys never go in star.json: put the key in an environment variable and name it in ' +
    '"model.apiKeyEnv"';
  if (key) refuse([{ line: src.lineOf(['model', key]), message: noKeys }]);
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
