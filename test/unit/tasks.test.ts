import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'path';
import {
  arithmetic,
  arithmeticExemplar,
  arithmeticRationale,
  generateAdditions,
} from '../../src/engine/tasks/arithmetic';
import { gsm8k } from '../../src/engine/tasks/gsm8k';
import { multipleChoice } from '../../src/engine/tasks/multipleChoice';
import { getTask } from '../../src/engine/tasks/index';
import { extractNumber, normalizeNumber } from '../../src/engine/tasks/numbers';
import { Example, fewShotPrefix, TaskName, TASK_NAMES } from '../../src/engine/tasks/task';
import { loadExamples } from '../../src/engine/dataset';
import { fmix32, fnv1a32, hashSeed, mulberry32 } from '../../src/engine/random';

// out/test/unit → repo root → its sibling shared/ (the datasets are read in place, never copied into the repo)
const repoRoot = path.resolve(__dirname, '..', '..', '..');
const gsmDir = path.resolve(repoRoot, '..', 'shared', 'datasets', 'gsm8k');

// ---------- arithmetic ----------

test('arithmetic rationale: no carry, with carries, unequal lengths', () => {
  assert.equal(arithmeticRationale('123', '45'), '3+5=8c0|2+4=6c0|1+0=1c0|');
  assert.equal(arithmeticRationale('58', '67'), '8+7=15c1|5+6+1=12c1|');
  assert.equal(arithmeticRationale('9', '999'), '9+9=18c1|0+9+1=10c1|0+9+1=10c1|');
  assert.equal(arithmeticRationale('5', '4'), '5+4=9c0|');
});

test('arithmetic record: gold, group, id fallback, and clear rejections', () => {
  const ex = arithmetic.fromRecord({ question: '123+45', answer: '168' }, 'd.jsonl:3');
  assert.deepEqual(ex, { id: 'd.jsonl:3', question: '123+45', gold: '168', group: '3' });
  assert.equal(arithmetic.fromRecord({ id: 'x1', question: '7+8', answer: '015' }, 'f:1').id, 'x1');
  assert.equal(arithmetic.fromRecord({ id: '', question: '7+8', answer: '015' }, 'f:1').id, 'f:1');
  assert.equal(arithmetic.fromRecord({ question: '7+8', answer: '015' }, 'f:1').gold, '15');
  // exact for operands far beyond 2^53
  const big = arithmetic.fromRecord({ question: '99999999999999999999+1', answer: '100000000000000000000' }, 'f:2');
  assert.equal(big.group, '20');
  assert.throws(() => arithmetic.fromRecord({ question: '12+3', answer: '16' }, 'f'), /wrong: 12\+3=15/);
  assert.throws(() => arithmetic.fromRecord({ question: '12-3', answer: '9' }, 'f'), /<digits>\+<digits>/);
  assert.throws(() => arithmetic.fromRecord({ question: '12+3', answer: '1a' }, 'f'), /not a non-negative integer/);
  assert.throws(() => arithmetic.fromRecord({ answer: '3' }, 'f'), /missing field "question"/);
  assert.throws(() => arithmetic.fromRecord({ question: '1+2' }, 'f'), /missing field "answer"/);
  assert.throws(() => arithmetic.fromRecord([1, 2], 'f'), /not a JSON object/);
});

test('arithmetic prompt and hint formats', () => {
  const ex = arithmetic.fromRecord({ question: '123+45', answer: '168' }, 'f:1');
  assert.equal(arithmetic.prompt(ex), '123+45:');
  assert.equal(arithmetic.prompt(ex, true), '123+45 Target:168:');
  assert.equal(arithmetic.completion('3+5=8c0|', '8'), '3+5=8c0|>8\n');
  assert.deepEqual(arithmetic.stop, ['\n']);
});

test('arithmetic parse: good, unfinished and malformed completions', () => {
  assert.deepEqual(arithmetic.parse('8+7=15c1|5+6+1=12c1|>125\n58+1:'), {
    rationale: '8+7=15c1|5+6+1=12c1|',
    answer: '125',
  });
  assert.deepEqual(arithmetic.parse('8+7=15c1|5+6+1=12c1|>125'), { rationale: '8+7=15c1|5+6+1=12c1|', answer: '125' });
  assert.equal(arithmetic.parse('3+5=8c0|>8 \n').answer, '8');
  assert.equal(arithmetic.parse('3+5=8c0|2+4=6').answer, null); // no '>'
  assert.equal(arithmetic.parse('3+5=8c0|>').answer, null); // empty answer
  assert.equal(arithmetic.parse('3+5=8c0|>8c0|').answer, null); // not digits
  assert.equal(arithmetic.parse('1>2|>68\n').answer, '68'); // the LAST '>'
  assert.equal(arithmetic.parse('3+5=8c0|\n>8').answer, null); // '>' only after the stop
});

test('arithmetic completion → parse round-trips, and equal normalises', () => {
  for (const [a, b] of [['58', '67'], ['123', '45'], ['0', '0'], ['999', '1']]) {
    const r = arithmeticRationale(a, b);
    const ans = String(Number(a) + Number(b));
    assert.deepEqual(arithmetic.parse(arithmetic.completion(r, ans)), { rationale: r, answer: ans });
  }
  assert.ok(arithmetic.equal('0168', '168'));
  assert.ok(!arithmetic.equal('167', '168'));
  assert.ok(!arithmetic.equal('', '0'));
});

test('arithmetic hint leak catches any piece of the hint format', () => {
  const ex = arithmetic.fromRecord({ question: '58+67', answer: '125' }, 'f:1');
  assert.ok(!arithmetic.hintLeak('8+7=15c1|5+6+1=12c1|', ex));
  assert.ok(arithmetic.hintLeak('target 125|', ex));
  assert.ok(arithmetic.hintLeak('8+7=15c1|:125', ex));
  assert.ok(arithmetic.hintLeak('(125)', ex));
});

test('arithmetic exemplars: gold rationale, record round trip, checks', () => {
  const ex = arithmetic.fromRecord({ question: '58+67', answer: '125' }, 'p:1');
  const p = arithmeticExemplar(ex);
  assert.equal(p.rationale, '8+7=15c1|5+6+1=12c1|');
  assert.equal(fewShotPrefix(arithmetic, [p]), '58+67:8+7=15c1|5+6+1=12c1|>125\n');
  const rec = arithmetic.exemplarToRecord(p);
  assert.deepEqual(rec, { id: 'p:1', question: '58+67', rationale: '8+7=15c1|5+6+1=12c1|', answer: '125' });
  assert.deepEqual(arithmetic.exemplarFromRecord(JSON.parse(JSON.stringify(rec)), 'other:9'), p);
  assert.throws(() => arithmetic.exemplarFromRecord({ question: '58+67', answer: '125' }, 'p'), /"rationale"/);
  assert.throws(() => arithmetic.exemplarFromRecord({ question: '58+67', rationale: 'x', answer: '126' }, 'p'), /wrong/);
});

test('arithmetic completion budget fits the longest right completion, and no more than a few characters over', () => {
  for (let n = 1; n <= 8; n++) {
    const nines = '9'.repeat(n);
    const worst = arithmeticExemplar(arithmetic.fromRecord({ question: `${nines}+${nines}`, answer: String(2n * BigInt(nines)) }, 'x'));
    const need = arithmetic.completion(worst.rationale, worst.gold).length;
    const budget = arithmetic.completionBudget!(worst);
    assert.ok(budget >= need && budget <= need + 4, `n=${n}: budget ${budget}, worst completion ${need}`);
  }
});

test('generateAdditions: deterministic per seed, balanced over digits, honours exclude', () => {
  const opts = { count: 300, minDigits: 2, maxDigits: 4, seed: 7 };
  const a = generateAdditions(opts);
  assert.deepEqual(generateAdditions(opts), a);
  assert.notDeepEqual(generateAdditions({ ...opts, seed: 8 }).map((e) => e.question), a.map((e) => e.question));
  assert.equal(new Set(a.map((e) => e.id)).size, 300);
  const perGroup = new Map<string, number>();
  for (const e of a) {
    const [x, y] = e.question.split('+');
    assert.equal(x.length, Number(e.group));
    assert.equal(y.length, Number(e.group));
    assert.equal(e.gold, String(Number(x) + Number(y)));
    // every generated example must itself be a valid record
    assert.deepEqual(arithmetic.fromRecord({ id: e.id, question: e.question, answer: e.gold }, 'x'), e);
    perGroup.set(e.group!, (perGroup.get(e.group!) ?? 0) + 1);
  }
  assert.deepEqual([...perGroup.entries()].sort(), [['2', 100], ['3', 100], ['4', 100]]);
  assert.equal(new Set(a.map((e) => e.question)).size, 300, 'no repeats while the space is large');

  // 1-digit space is 100 questions: exclude 90 of them and the rest must come from the other 10
  const train = generateAdditions({ count: 90, minDigits: 1, maxDigits: 1, seed: 1 });
  const exclude = new Set(train.map((e) => e.question));
  assert.equal(exclude.size, 90);
  const evalSet = generateAdditions({ count: 50, minDigits: 1, maxDigits: 1, seed: 2, exclude });
  assert.ok(evalSet.every((e) => !exclude.has(e.question)));
  assert.equal(new Set(evalSet.map((e) => e.question)).size, 10);
  const all = new Set<string>();
  for (let x = 0; x < 10; x++) for (let y = 0; y < 10; y++) all.add(`${x}+${y}`);
  assert.throws(() => generateAdditions({ count: 1, minDigits: 1, maxDigits: 1, seed: 3, exclude: all }), /excluded/);
});

test('seeded PRNG and hashSeed are stable', () => {
  const r1 = mulberry32(42);
  const r2 = mulberry32(42);
  const xs = Array.from({ length: 1000 }, () => r1());
  assert.deepEqual(Array.from({ length: 1000 }, () => r2()), xs);
  assert.ok(xs.every((x) => x >= 0 && x < 1));
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  assert.ok(Math.abs(mean - 0.5) < 0.05, `mean ${mean}`);
  assert.notEqual(mulberry32(43)(), mulberry32(42)());
  assert.equal(fnv1a32(''), 0x811c9dc5); // FNV-1a offset basis
  assert.equal(fnv1a32('a'), 0xe40c292c); // the published FNV-1a 32 value for "a"
  assert.equal(fmix32(1), 0x514e28b7); // MurmurHash3_x86_32 of "" with seed 1, which is fmix32(1)
  assert.equal(hashSeed('a'), 0x1a80b1b3); // fmix32(0xe40c292c), worked out apart in Python
  assert.equal(hashSeed('run', 3), hashSeed('run', '3'));
  assert.notEqual(hashSeed('ab', 'c'), hashSeed('a', 'bc'));
});

// ---------- gsm8k ----------

test('gsm8k: the whole real test and train splits load with no errors', async () => {
  const testSet = await loadExamples(path.join(gsmDir, 'test.jsonl'), gsm8k);
  assert.equal(testSet.length, 1319);
  const train = await loadExamples(path.join(gsmDir, 'train.jsonl'), gsm8k);
  assert.equal(train.length, 7473);
  const first = testSet[0];
  assert.equal(first.id, 'test.jsonl:1');
  assert.equal(first.line, 1);
  assert.equal(first.gold, '18');
  assert.ok(first.question.startsWith('Janet'));
  assert.ok(train.every((e) => /^-?\d+$/.test(e.gold)), 'every GSM8K gold is an integer after normalising');
  assert.ok(train.some((e) => e.gold === '1080'), '"1,080" normalised');
  const groups = new Set(train.map((e) => e.group));
  assert.deepEqual([...groups].sort(), ['0', '1-2', '3-4', '5+']);
});

test('normalizeNumber', () => {
  const cases: [string, string | null][] = [
    ['1,000', '1000'], ['$18', '18'], ['18.0', '18'], ['18.00', '18'], ['-3', '-3'], ['.5', '0.5'],
    ['12%', '12'], ['$1,234.50.', '1234.5'], [' 72 ', '72'], ['007', '7'], ['-0', '0'], ['3.', '3'],
    ['', null], ['abc', null], ['1.2.3', null], ['$', null], ['12 apples', null],
  ];
  for (const [s, want] of cases) assert.equal(normalizeNumber(s), want, JSON.stringify(s));
  assert.equal(extractNumber(' is $1,000 dollars.'), '1000');
  assert.equal(extractNumber('no number'), null);
});

test('gsm8k prompt, hint and completion formats', () => {
  const ex = gsm8k.fromRecord({ question: 'How many?', answer: 'Half of 48 is <<48/2=24>>24.\n#### 24' }, 'g:1');
  assert.equal(ex.group, '1-2');
  assert.equal(gsm8k.prompt(ex), 'Q: How many?\nA:');
  assert.equal(gsm8k.prompt(ex, true), 'Q: How many? (24)\nA:');
  assert.equal(gsm8k.completion('48/2=24', '24'), ' 48/2=24\n#### 24\n\n');
  assert.deepEqual(gsm8k.stop, ['\n\n']);
});

test('gsm8k parse: ####, "The answer is", neither', () => {
  assert.deepEqual(gsm8k.parse(' She has 3+4=7.\n#### 7\n\nQ: next'), { rationale: 'She has 3+4=7.', answer: '7' });
  assert.deepEqual(gsm8k.parse(' 2 * 500 = 1000. The answer is $1,000.'), { rationale: '2 * 500 = 1000.', answer: '1000' });
  assert.equal(gsm8k.parse('x. the ANSWER is 5. Then the answer is 6 apples').answer, '6');
  assert.equal(gsm8k.parse('a\n#### 1\nb\n#### 2').answer, '2'); // the last ####
  assert.deepEqual(gsm8k.parse(' I think it is 12 or so'), { rationale: 'I think it is 12 or so', answer: null });
  assert.equal(gsm8k.parse(' 3+4=7\n#### ').answer, null);
  const r = 'Half of 48 is 24.\nSo 72 in all.';
  assert.deepEqual(gsm8k.parse(gsm8k.completion(r, '72')), { rationale: r, answer: '72' });
});

test('gsm8k equal compares numbers', () => {
  assert.ok(gsm8k.equal('1000', '1,000'));
  assert.ok(gsm8k.equal('18.00', '18'));
  assert.ok(gsm8k.equal('$18', '18'));
  assert.ok(gsm8k.equal('0.5', '.5'));
  assert.ok(!gsm8k.equal('17', '18'));
  assert.ok(!gsm8k.equal('-18', '18'));
  assert.ok(!gsm8k.equal('x', '18'));
});

test('gsm8k bad records and hint leaks', () => {
  assert.throws(() => gsm8k.fromRecord({ answer: '#### 3' }, 'g'), /missing field "question"/);
  assert.throws(() => gsm8k.fromRecord({ question: 'q?' }, 'g'), /missing field "answer"/);
  // a MATH record: the fields it has tell the person which mapping is off
  const math = { problem: 'What is $1+2$?', solution: '$\\boxed{3}$', answer: '3' };
  assert.throws(() => gsm8k.fromRecord(math, 'g'), /missing field "question" \(the record has problem, solution, answer\)/);
  assert.throws(() => gsm8k.fromRecord({ question: 'q?', answer: 'it is 3' }, 'g'), /no "#### <number>"/);
  assert.throws(() => gsm8k.fromRecord({ question: 'q?', answer: '1+2=3\n#### three' }, 'g'), /not a number/);
  const ex = gsm8k.fromRecord({ question: 'q?', answer: '<<1+2=3>>\n#### 3' }, 'g:1');
  assert.ok(gsm8k.hintLeak('The given answer is 3, so', ex));
  assert.ok(gsm8k.hintLeak('Using the hint, 1+2', ex));
  assert.ok(gsm8k.hintLeak('We know it is (3).', ex));
  assert.ok(!gsm8k.hintLeak('1+2=3 apples, so she has 3.', ex));
});

test('gsm8k exemplars from raw GSM8K and from {question, rationale, answer}; round trip', () => {
  const raw = { question: 'q?', answer: 'A is <<1+2=3>>3.\n\nB is <<3*2=6>>6.\n#### 6' };
  const p = gsm8k.exemplarFromRecord(raw, 'p:1');
  // the blank line (the stop sequence) is folded so the few-shot prompt is not cut there
  assert.equal(p.rationale, 'A is <<1+2=3>>3.\nB is <<3*2=6>>6.');
  assert.equal(p.gold, '6');
  const rec = gsm8k.exemplarToRecord(p);
  assert.deepEqual(rec, { id: 'p:1', question: 'q?', rationale: p.rationale, answer: '6' });
  assert.deepEqual(gsm8k.exemplarFromRecord(rec, 'zz:1'), p);
  assert.ok(!fewShotPrefix(gsm8k, [p]).slice(0, -2).includes('\n\n'));
  assert.throws(() => gsm8k.exemplarFromRecord({ question: 'q?', rationale: 'r', answer: 'six' }, 'p'), /not a number/);
});

// ---------- multiple choice ----------

const cqa = [
  {
    id: '075e483d21c29a511267ef62bedc0461',
    question: {
      question_concept: 'punishing',
      choices: [
        { label: 'A', text: 'ignore' }, { label: 'B', text: 'enforce' }, { label: 'C', text: 'authoritarian' },
        { label: 'D', text: 'yell at' }, { label: 'E', text: 'avoid' },
      ],
      stem: 'The sanctions against the school were a punishing blow, and they seemed to what the efforts the school had made to change?',
    },
    answerKey: 'A',
  },
  {
    id: '61fe6e879ff18686d7552425a36344c8',
    question: {
      question_concept: 'people',
      choices: [
        { label: 'A', text: 'race track' }, { label: 'B', text: 'populated areas' }, { label: 'C', text: 'the desert' },
        { label: 'D', text: 'apartment' }, { label: 'E', text: 'roadblock' },
      ],
      stem: 'Sammy wanted to go to where the people were.  Where might he go?',
    },
    answerKey: 'b',
  },
];

test('multiple choice: records, prompt with and without hint', () => {
  const ex = multipleChoice.fromRecord(cqa[1], 'c:2');
  assert.equal(ex.id, '61fe6e879ff18686d7552425a36344c8');
  assert.equal(ex.gold, 'B');
  assert.equal(ex.choices?.length, 5);
  assert.equal(
    multipleChoice.prompt(ex),
    'Q: Sammy wanted to go to where the people were.  Where might he go?\nAnswer Choices:\n(a) race track\n' +
      '(b) populated areas\n(c) the desert\n(d) apartment\n(e) roadblock\nA:',
  );
  const hinted = multipleChoice.prompt(ex, true);
  assert.ok(hinted.includes('\n(b) populated areas (CORRECT)\n'));
  assert.equal(hinted.match(/CORRECT/g)?.length, 1);
  assert.equal(multipleChoice.fromRecord(cqa[0], 'c:1').gold, 'A');
});

test('multiple choice parse, round trip, equal, leaks', () => {
  const r = 'People are found in populated areas.';
  const c = multipleChoice.completion(r, 'B');
  assert.equal(c, ' People are found in populated areas. Therefore, the answer is (b).\n\n');
  assert.deepEqual(multipleChoice.parse(c), { rationale: r, answer: 'B' });
  assert.deepEqual(multipleChoice.parse(' Not (a) but (c) fits. So the answer is (c).'), {
    rationale: 'Not (a) but (c) fits.',
    answer: 'C',
  });
  // the last label after "answer is"; with no "answer is", the last label anywhere
  assert.equal(multipleChoice.parse(' The answer is (d), not (e)').answer, 'E');
  assert.equal(multipleChoice.parse(' I pick (a) over (d).').answer, 'D');
  assert.equal(multipleChoice.parse(' the answer is (A).\n\nQ: (b)').answer, 'A');
  assert.equal(multipleChoice.parse(' no idea').answer, null);
  assert.ok(multipleChoice.equal('b', 'B'));
  assert.ok(!multipleChoice.equal('C', 'B'));
  const ex = multipleChoice.fromRecord(cqa[1], 'c:2');
  assert.ok(multipleChoice.hintLeak('(b) is marked CORRECT', ex));
  assert.ok(multipleChoice.hintLeak('the provided answer says so', ex));
  assert.ok(!multipleChoice.hintLeak('Crowds gather in populated areas, so that is correct.', ex));
});

test('multiple choice bad records', () => {
  const base = cqa[0];
  const withQ = (q: object, extra: object = {}) => ({ id: 'x', question: { ...base.question, ...q }, answerKey: 'A', ...extra });
  assert.throws(() => multipleChoice.fromRecord({ id: 'x', question: { stem: 's' }, answerKey: 'A' }, 'c'), /missing field "question.choices"/);
  assert.throws(() => multipleChoice.fromRecord(withQ({ choices: [{ label: 'A', text: 'x' }] }), 'c'), /at least 2/);
  assert.throws(() => multipleChoice.fromRecord(withQ({}, { answerKey: 'F' }), 'c'), /answerKey "F" is not one of the labels A, B, C, D, E/);
  assert.throws(() => multipleChoice.fromRecord(withQ({}, { answerKey: undefined }), 'c'), /missing field "answerKey"/);
  assert.throws(
    () => multipleChoice.fromRecord(withQ({ choices: [{ label: 'A', text: 'x' }, { label: 'a', text: 'y' }] }), 'c'),
    /appears twice/,
  );
  assert.throws(
    () => multipleChoice.fromRecord(withQ({ choices: [{ label: 'A', text: 'x' }, { label: 'B' }] }), 'c'),
    /missing field "question.choices\[1\].text"/,
  );
  assert.throws(() => multipleChoice.fromRecord({ id: 'x', question: 'a string', answerKey: 'A' }, 'c'), /must be an object/);
});

test('multiple choice exemplars round trip', () => {
  const rec = { ...cqa[1], answerKey: 'B', rationale: 'The answer must be a place with many people.' };
  const p = multipleChoice.exemplarFromRecord(rec, 'p:1');
  assert.equal(p.rationale, rec.rationale);
  const back = multipleChoice.exemplarToRecord(p);
  assert.deepEqual(multipleChoice.exemplarFromRecord(back, 'q:1'), p);
  assert.ok(fewShotPrefix(multipleChoice, [p]).endsWith('Therefore, the answer is (b).\n\n'));
  assert.throws(() => multipleChoice.exemplarFromRecord(cqa[1], 'p'), /missing field "rationale"/);
});

test('getTask returns each task by name and rejects others', () => {
  for (const name of TASK_NAMES) assert.equal(getTask(name).name, name);
  assert.throws(() => getTask('addition' as TaskName), /unknown task "addition".*arithmetic, gsm8k, multiple-choice/);
});

// Each task's fromRecord ignores a blank id and uses the fallback, as dataset.ts relies on.
test('every task falls back to the given id', () => {
  const recs: Record<TaskName, object> = {
    arithmetic: { id: '  ', question: '1+2', answer: '3' },
    gsm8k: { question: 'q', answer: '#### 3' },
    'multiple-choice': { ...cqa[0], id: undefined },
  };
  for (const name of TASK_NAMES) {
    const ex: Example = getTask(name).fromRecord(recs[name], 'file.jsonl:9');
    assert.equal(ex.id, 'file.jsonl:9', name);
  }
});
