// `star init` makes only projects that run: every bad option or input is refused through the real CLI, with a message
// naming the option (or file and line) and what would work, and nothing is written.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { before, describe, test } from 'node:test';

const CLI = path.resolve('dist', 'cli.js');
const GSM8K = path.resolve('..', 'shared', 'datasets', 'gsm8k');
const star = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
const lines = (f: string) => fs.readFileSync(f, 'utf8').trim().split('\n');
const jsonl = (recs: unknown[]) => recs.map((r) => JSON.stringify(r) + '\n').join('');

/** Input files of a user's, in a folder of their own. */
const inputs: Record<string, string> = {};
let work: string;

before(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'star-init-'));
  const train = lines(path.join(GSM8K, 'train.jsonl')).slice(0, 40);
  const testSet = lines(path.join(GSM8K, 'test.jsonl')).slice(0, 5);
  const put = (name: string, text: string) => {
    inputs[name] = path.join(work, name);
    fs.writeFileSync(inputs[name], text);
  };
  put('g1.jsonl', train.slice(0, 1).join('\n') + '\n');
  put('g3.jsonl', train.slice(0, 3).join('\n') + '\n');
  put('g40.jsonl', train.join('\n') + '\n');
  put('tail10.jsonl', train.slice(30).join('\n') + '\n');
  put('test5.jsonl', testSet.join('\n') + '\n');
  const emptySolution = { ...JSON.parse(train[0]), answer: '#### 72' };
  put('gempty.jsonl', [JSON.stringify(emptySolution), ...train.slice(1, 30)].join('\n') + '\n');
  put('empty.jsonl', '\n');
  put('sums.jsonl', jsonl([{ question: '1+2', answer: '3' }, { question: '2+2', answer: '4' }]));
  put('sumsP.jsonl', jsonl([{ question: '3+4', answer: '7', rationale: '3+4=7c0|' }]));
  const mc = (id: string, extra: object = {}) => ({
    id, question: { stem: `Where is ${id}?`, choices: [{ label: 'A', text: 'sea' }, { label: 'B', text: 'sky' }] },
    answerKey: 'A', ...extra,
  });
  put('cqa.jsonl', jsonl([mc('q1'), mc('q2'), mc('q3')]));
  put('cqaP.jsonl', jsonl([mc('p1', { rationale: 'Fish swim in the sea.' })]));
});

/** Runs init into a folder that does not exist yet; `args` name inputs by their key. */
function init(args: string[]) {
  const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'star-init-out-')), 'p');
  const r = star('init', dir, ...args.map((a) => inputs[a] ?? a));
  return { ...r, dir };
}

/** A message holding each fragment, in order (with anything between). */
const says = (...fragments: string[]) =>
  new RegExp(fragments.map((f) => f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*'));
/** The command-line parser's refusal of an option's value. */
const badValue = (flag: string, value: string, why = 'must be a non-negative integer') =>
  says(`option '${flag} <n>' argument '${value}' is invalid. ${why}`);
const arithmetic = (...rest: string[]) => ['--task', 'arithmetic', ...rest];
const gsm8k = (...rest: string[]) => ['--task', 'gsm8k', ...rest];
const cqa = (...rest: string[]) => ['--task', 'multiple-choice', '--from', 'cqa.jsonl', ...rest];

// [what a user typed, what the error says]
const refused: [string[], RegExp][] = [
  // numbers are whole, in decimal digits, named in the message
  ...['', '0x10', '1e3', '-1', '1.5', ' 3'].map((v): [string[], RegExp] =>
    [arithmetic('--train-count', v), badValue('--train-count', v)]),
  [arithmetic('--seed', '-1'), badValue('--seed', '-1')],
  [arithmetic('--seed', '1.5'), badValue('--seed', '1.5')],
  // sizes where 0 cannot work
  ...['--train-count', '--exemplar-count', '--max-digits', '--eval-per-digit'].map((flag): [string[], RegExp] =>
    [arithmetic(flag, '0'), badValue(flag, '0', 'must be a positive integer')]),
  // ranges that cannot work, with the range
  [arithmetic('--max-digits', '8'), says('--max-digits must be 1 to 7 digits (got 8): ', 'sampling.maxNewTokens')],
  [arithmetic('--eval-max-digits', '9'), says('--eval-max-digits must be 1 to 7 digits (got 9)')],
  [arithmetic('--exemplar-max-digits', '30'), says('--exemplar-max-digits must be 1 to 7 digits (got 30)')],
  [arithmetic('--max-digits', '1'), says('--train-count 2000 (the default) is more than the ',
    ' distinct sums of 1 digit (--max-digits 1) that P and the held-out split leave: at most ')],
  [arithmetic('--max-digits', '2', '--train-count', '9000'),
    says('--train-count 9000 is more than the ', ' distinct sums of 1 to 2 digits (--max-digits 2)')],
  [arithmetic('--exemplar-max-digits', '1', '--exemplar-count', '101'),
    says('--exemplar-count 101 is more than the 100 distinct sums of 1 digit (--exemplar-max-digits 1): at most 100')],
  [arithmetic('--exemplar-max-digits', '1', '--exemplar-count', '100'), says('no one-digit sum is left for D or the ' +
    'held-out split: P holds all 100 (--exemplar-count 100, --exemplar-max-digits 1)')],
  [arithmetic('--exemplar-max-digits', '1', '--exemplar-count', '99', '--max-digits', '2', '--eval-max-digits', '1',
    '--train-count', '10'), says('the held-out split would be empty: P holds 99 of the 100 one-digit sums',
    '--eval-max-digits 1: lower --exemplar-count, or raise --eval-max-digits')],
  [arithmetic('--max-digits', '2', '--train-count', '8000', '--eval-per-digit', '5000'),
    says('--eval-per-digit 5000 is more than the ', ' 2-digit sums P and D leave: at most ')],
  // options that do not apply to the task, or to where its data comes from
  [gsm8k('--from', 'g40.jsonl', '--train-count', '10'), says('--train-count applies to --task arithmetic only')],
  [gsm8k('--from', 'g40.jsonl', '--max-digits', '3'), says('--max-digits applies to --task arithmetic only')],
  [gsm8k('--from', 'g40.jsonl', '--eval-per-digit', '3'), says('--eval-per-digit applies to --task arithmetic only')],
  [cqa('--exemplars', 'cqaP.jsonl', '--eval-max-digits', '2'),
    says('--eval-max-digits applies to --task arithmetic only')],
  [cqa('--exemplars', 'cqaP.jsonl', '--exemplar-count', '3'),
    says('--exemplar-count applies to --task arithmetic and gsm8k only (multiple-choice takes P from --exemplars)')],
  [gsm8k('--from', 'g40.jsonl', '--exemplars', 'g3.jsonl', '--exemplar-count', '3'),
    says('--exemplar-count takes P from the first records of --from: with --exemplars, P is ', 'g3.jsonl')],
  [gsm8k('--from', 'g40.jsonl', '--eval', 'test5.jsonl', '--seed', '3'),
    says('--seed draws the held-out split from --from: with --eval (', 'test5.jsonl) nothing is drawn')],
  [arithmetic('--eval', 'sums.jsonl'),
    says('--eval applies with --from only: without it, --task arithmetic generates P, D and the held-out split')],
  [arithmetic('--exemplars', 'sumsP.jsonl'), says('--exemplars applies with --from only')],
  [arithmetic('--from', 'sums.jsonl', '--exemplars', 'sumsP.jsonl', '--train-count', '3'),
    says('--train-count sizes the generated sums: it does not apply with --from (D is ', 'sums.jsonl)')],
  [arithmetic('--from', 'sums.jsonl', '--exemplars', 'sumsP.jsonl', '--exemplar-count', '3'),
    says('--exemplar-count sizes the generated sums: it does not apply with --from')],
  // inputs a task needs
  [arithmetic('--from', 'sums.jsonl'),
    says('--exemplars FILE is required with --from for --task arithmetic: the records of --from carry no rationales')],
  [cqa(), says('--exemplars FILE is required for multiple-choice: CommonsenseQA records carry no rationales')],
  [gsm8k(), says('--from FILE is required for the gsm8k task')],
  // P split off --from: enough records, each a worked example
  [gsm8k('--from', 'g1.jsonl'), says('g1.jsonl has 1 record(s): P takes the first 8 ', '; give a larger file')],
  [gsm8k('--from', 'g3.jsonl'), says('g3.jsonl has 3 record(s): P takes the first 8 (--exemplar-count 8, the ' +
    'default), and D and the held-out split need at least 1 more each; give --exemplar-count 1 at most')],
  [gsm8k('--from', 'g40.jsonl', '--exemplar-count', '50'),
    says('g40.jsonl has 40 record(s): P takes the first 50 (--exemplar-count 50)', 'give --exemplar-count 38 at most')],
  [gsm8k('--from', 'g40.jsonl', '--eval', 'test5.jsonl', '--exemplar-count', '40'),
    says('P takes the first 40 (--exemplar-count 40), and D needs at least 1 more; give --exemplar-count 39 at most')],
  [gsm8k('--from', 'gempty.jsonl'),
    says('gempty.jsonl:1: the worked solution before "####" is empty: the first 8 records of --from become P')],
  // empty inputs
  [gsm8k('--from', 'empty.jsonl'), says('empty.jsonl:0: no records')],
  [gsm8k('--from', 'g40.jsonl', '--eval', 'empty.jsonl'), says('empty.jsonl:0: no records')],
  [gsm8k('--from', 'g40.jsonl', '--exemplars', 'empty.jsonl'), says('empty.jsonl:0: no records')],
  // held-out splits that hold nothing out, P that leaves D nothing
  [gsm8k('--from', 'g40.jsonl', '--eval', 'g40.jsonl'),
    says('--eval ', 'g40.jsonl is the --from file itself: every held-out question would be in D')],
  [gsm8k('--from', 'g40.jsonl', '--eval', 'tail10.jsonl'), says('every held-out question (all 10 of ',
    'tail10.jsonl) is also in D or P: 10 in D (', 'g40.jsonl); hold out questions that D and P do not have')],
  [gsm8k('--from', 'g40.jsonl', '--eval', 'g3.jsonl'), says('every held-out question (all 3 of ',
    'g3.jsonl) is also in D or P: 3 exemplars in P (the first 8 records of ')],
  [gsm8k('--from', 'g40.jsonl', '--exemplars', 'g40.jsonl'), says('every question of D (all 36 of ',
    'g40.jsonl) is also an exemplar in P ', 'nothing is left to train on')],
];

describe('star init refuses what cannot run, and writes nothing', () => {
  for (const [args, message] of refused) {
    test(args.join(' ') || '(no options)', () => {
      const r = init(args);
      assert.equal(r.status, 1, `exit code; stdout: ${r.stdout}`);
      assert.match(r.stderr, message);
      assert.doesNotMatch(r.stdout, /created/);
      assert.ok(!fs.existsSync(r.dir), 'nothing written');
    });
  }
});

describe('star init does what the options say', () => {
  test('--exemplar-count 38 of 40 GSM8K records: P is exactly 38, never silently fewer', () => {
    const r = init(gsm8k('--from', 'g40.jsonl', '--exemplar-count', '38'));
    assert.equal(r.status, 0, r.stderr);
    assert.equal(lines(path.join(r.dir, 'exemplars.jsonl')).length, 38);
    const [D, E] = ['data/train.jsonl', 'data/eval.jsonl'].map((f) => lines(path.join(r.dir, f)));
    assert.deepEqual([D.length, E.length], [1, 1]);
  });

  test('a held-out file sharing questions with P and D: they are left out, counted in a warning', () => {
    const train = lines(inputs['g40.jsonl']);
    const loose = JSON.parse(train[32]);
    loose.question = loose.question.toUpperCase().replace(/ /g, '  ');
    const fresh = lines(inputs['test5.jsonl']).slice(0, 2);
    const mixed = path.join(work, 'mixed.jsonl');
    fs.writeFileSync(mixed, [train[0], train[30], train[31], JSON.stringify(loose), ...fresh].join('\n') + '\n');
    const r = init(gsm8k('--from', 'g40.jsonl', '--eval', mixed));
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, says('warning: left 4 of 6 held-out questions (', 'mixed.jsonl) out: ',
      '1 is an exemplar in P (the first 8 records of ', 'g40.jsonl), 3 are in D (', 'g40.jsonl); ',
      '1 of them differs only in case, spacing or punctuation'));
    const parsed = (ls: string[]) => ls.map((l) => JSON.parse(l));
    assert.deepEqual(parsed(lines(path.join(r.dir, 'data/eval.jsonl'))), parsed(fresh));
    assert.equal(lines(path.join(r.dir, 'data/train.jsonl')).length, 32, 'D is what P leaves of --from');
  });

  test('exemplars that are questions of D: left out of D, counted in a warning', () => {
    const train = lines(inputs['g40.jsonl']);
    const asExemplar = (line: string) => {
      const { question, answer } = JSON.parse(line);
      const [rationale, gold] = answer.split('####');
      return { question, rationale: rationale.trim(), answer: gold.trim() };
    };
    const P = path.join(work, 'sharedP.jsonl');
    const shared = [train[20], train[21], lines(inputs['test5.jsonl'])[4]];
    fs.writeFileSync(P, jsonl(shared.map(asExemplar)));
    const r = init(gsm8k('--from', 'g40.jsonl', '--exemplars', P, '--eval', 'test5.jsonl'));
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, says('warning: left 2 of 40 questions of D (', 'g40.jsonl) out: they are exemplars in P (',
      'sharedP.jsonl)'));
    assert.match(r.stderr, says('warning: left 1 of 5 held-out questions (', 'test5.jsonl) out: ',
      '1 is an exemplar in P'));
    const D = lines(path.join(r.dir, 'data/train.jsonl'));
    assert.equal(D.length, 38);
    const questions = new Set(D.map((l) => JSON.parse(l).question));
    assert.ok(shared.every((l) => !questions.has(JSON.parse(l).question)));
  });

  test('arithmetic: the one-digit group of the held-out split holds sums neither P nor D has', () => {
    const r = init(arithmetic('--train-count', '300', '--eval-per-digit', '20', '--max-digits', '3'));
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '', 'generated data shares nothing: no warning');
    const read = (f: string) => lines(path.join(r.dir, f)).map((l) => JSON.parse(l).question as string);
    const seen = new Set([...read('data/train.jsonl'), ...read('exemplars.jsonl')]);
    const E = read('data/eval.jsonl');
    const oneDigit = E.filter((q) => /^\d\+\d$/.test(q));
    assert.equal(oneDigit.length, 20);
    assert.equal(E.length, 60);
    assert.deepEqual(E.filter((q) => seen.has(q)), [], 'no held-out sum is in D or P');
    assert.ok(read('data/train.jsonl').some((q) => /^\d\+\d$/.test(q)), 'D still learns one-digit sums');
  });

  test('the same options make the same project', () => {
    const args = arithmetic('--train-count', '50', '--exemplar-count', '20', '--max-digits', '2', '--seed', '7');
    const [a, b] = [init(args), init(args)];
    for (const f of ['exemplars.jsonl', 'data/train.jsonl', 'data/eval.jsonl'])
      assert.deepEqual(lines(path.join(a.dir, f)), lines(path.join(b.dir, f)), f);
  });
});
