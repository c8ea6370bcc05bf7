// n-digit addition with a column scratchpad, as in the STaR paper's arithmetic experiment:
// `58+67:8+7=15c1|5+6+1=12c1|>125\n`. With the hint the prompt shows the target: `58+67 Target:125:`.
import { mulberry32 } from '../random';
import { Example, Exemplar, ParsedCompletion, Task } from './task';
import { asRecord, cutAtStop, normalizeDigits, Rec, recordId, requireString } from './numbers';
import { quoted } from '../textEncoding';

const QUESTION = /^(\d+)\+(\d+)$/;
const STOP = ['\n'];

/** The gold scratchpad: columns right to left, `x+y=sCc|`, with `+1` when a carry comes in; missing digits are 0. */
export function arithmeticRationale(a: string, b: string): string {
  const ra = [...a].reverse();
  const rb = [...b].reverse();
  let carry = 0;
  let out = '';
  for (let i = 0; i < Math.max(ra.length, rb.length); i++) {
    const x = Number(ra[i] ?? '0');
    const y = Number(rb[i] ?? '0');
    const s = x + y + carry;
    out += `${x}+${y}${carry ? '+1' : ''}=${s}c${s >= 10 ? 1 : 0}|`;
    carry = s >= 10 ? 1 : 0;
  }
  return out;
}

function operands(question: string): [string, string] {
  const m = QUESTION.exec(question.trim());
  if (!m) throw new Error(`question ${quoted(question)} is not of the form <digits>+<digits>`);
  return [m[1], m[2]];
}

// BigInt so 30-digit additions are checked exactly.
function sum(a: string, b: string): string {
  return (BigInt(a) + BigInt(b)).toString();
}

function answerField(o: Rec): string {
  const v = o.answer;
  if (v === undefined || v === null) throw new Error('missing field "answer"');
  const s = typeof v === 'number' && Number.isSafeInteger(v) ? String(v) : v;
  if (typeof s !== 'string') throw new Error('field "answer" must be a string of digits');
  const d = normalizeDigits(s);
  if (d === null) throw new Error(`answer ${quoted(s)} is not a non-negative integer`);
  return d;
}

function exampleFrom(o: Rec, id: string): Example {
  const question = requireString(o, 'question').trim();
  const [a, b] = operands(question);
  const gold = answerField(o);
  const truth = sum(a, b);
  if (gold !== truth) throw new Error(`answer ${gold} is wrong: ${a}+${b}=${truth}`);
  return { id: recordId(o, id), question, gold, group: String(Math.max(a.length, b.length)) };
}

/** An exemplar with the gold scratchpad as its rationale. */
export function arithmeticExemplar(ex: Example): Exemplar {
  const [a, b] = operands(ex.question);
  return { ...ex, rationale: arithmeticRationale(a, b) };
}

export const arithmetic: Task = {
  name: 'arithmetic',
  stop: STOP,

  prompt(ex, hint) {
    return hint ? `${ex.question} Target:${ex.gold}:` : `${ex.question}:`;
  },

  completion(rationale, answer) {
    return `${rationale}>${answer}\n`;
  },

  parse(completion): ParsedCompletion {
    const text = cutAtStop(completion, STOP);
    const i = text.lastIndexOf('>');
    if (i < 0) return { rationale: text, answer: null };
    const answer = text.slice(i + 1).trim();
    return { rationale: text.slice(0, i), answer: /^\d+$/.test(answer) ? answer : null };
  },

  equal(answer, gold) {
    const a = normalizeDigits(answer);
    return a !== null && a === normalizeDigits(gold);
  },

  // A column is at most `9+9+1=19c1|` (11 characters); then `>`, at most n+1 digits and the newline.
  completionBudget(ex) {
    const n = Math.max(...ex.question.split('+').map((o) => o.length));
    return 11 * n + n + 3;
  },

  // Any piece of the hint's format (`Target`, `:`, parentheses) in a rationale means it copied the hint.
  hintLeak(rationale) {
    return /target/i.test(rationale) || /[:()]/.test(rationale);
  },

  fromRecord(rec, id) {
    return exampleFrom(asRecord(rec), id);
  },

  exemplarFromRecord(rec, id) {
    const o = asRecord(rec);
    const ex = exampleFrom(o, id);
    const rationale = requireString(o, 'rationale');
    // A newline is the stop sequence: a rationale holding one would teach the model to stop mid-scratchpad.
    if (rationale.includes('\n')) throw new Error('field "rationale" must be one line');
    return { ...ex, rationale };
  },

  exemplarToRecord(ex) {
    return { id: ex.id, question: ex.question, rationale: ex.rationale, answer: ex.gold };
  },
};

export interface AdditionOptions {
  count: number;
  minDigits: number;
  maxDigits: number;
  seed: number;
  /** Questions (`a+b`) never to produce, e.g. the train split's when generating the eval split. */
  exclude?: Set<string>;
}

// n random digits, the first non-zero unless n = 1 (so a "3-digit" operand really has 3 digits).
function randomOperand(rand: () => number, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) {
    const lo = i === 0 && n > 1 ? 1 : 0;
    s += String(lo + Math.floor(rand() * (10 - lo)));
  }
  return s;
}

/** All 100 one-digit sums, `0+0` to `9+9`. */
export const ONE_DIGIT_SUMS: readonly string[] =
  Array.from({ length: 100 }, (_, i) => `${Math.floor(i / 10)}+${i % 10}`);

/** Distinct sums of two n-digit operands: 100 for n = 1, else (9 * 10^(n-1))^2. */
export function distinctSums(n: number): number {
  return n === 1 ? 100 : (9 * 10 ** (n - 1)) ** 2;
}

// Drawn from the few one-digit sums left rather than by rejection, which can miss the last of them in 200 tries.
function drawnFrom(all: readonly string[], rand: () => number, exclude: Set<string>, seen: Set<string>): string | null {
  const left = all.filter((q) => !exclude.has(q));
  const fresh = left.filter((q) => !seen.has(q));
  const pool = fresh.length ? fresh : left;
  return pool.length ? pool[Math.floor(rand() * pool.length)] : null;
}

/**
 * `count` additions balanced over digit counts (question i has minDigits + i % span digits in both operands),
 * reproducible per seed. Questions repeat only when the digit count has too few distinct ones left; excluded
 * questions never appear.
 */
export function generateAdditions(opts: AdditionOptions): Example[] {
  const { count, minDigits, maxDigits, seed } = opts;
  if (!Number.isInteger(minDigits) || minDigits < 1 || !Number.isInteger(maxDigits) || maxDigits < minDigits) {
    throw new Error(`bad digit range ${minDigits}..${maxDigits}`);
  }
  const exclude = opts.exclude ?? new Set<string>();
  const rand = mulberry32(seed);
  const span = maxDigits - minDigits + 1;
  const seen = new Set<string>();
  const out: Example[] = [];
  for (let i = 0; i < count; i++) {
    const n = minDigits + (i % span);
    let question: string | null = null;
    let fallback: string | null = null;
    if (n === 1) question = drawnFrom(ONE_DIGIT_SUMS, rand, exclude, seen);
    for (let tries = 0; n > 1 && tries < 200 && question === null; tries++) {
      const q = `${randomOperand(rand, n)}+${randomOperand(rand, n)}`;
      if (exclude.has(q)) continue;
      if (!seen.has(q)) question = q;
      else fallback ??= q;
    }
    question ??= fallback;
    if (question === null) throw new Error(`cannot draw a ${n}-digit addition outside the excluded set`);
    seen.add(question);
    const [a, b] = operands(question);
    out.push({ id: `add-${seed}-${i}`, question, gold: sum(a, b), group: String(n) });
  }
  return out;
}
