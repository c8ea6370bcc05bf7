// An honest held-out split: the records `star init` holds out are spread over the file (a file sorted by source or
// difficulty still gets an unbiased eval), and questions P, D and the held-out split share are left out and counted.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { leaveOutOverlap } from '../../src/engine/overlap';
import { heldOutPositions } from '../../src/engine/split';
import type { RunEvent, RunJson } from '../../src/engine/store/format';
import type { Example } from '../../src/engine/tasks/task';
import { cli, tinyProject } from '../fixtures/starCli';

const GSM8K_TRAIN = path.resolve('..', 'shared', 'datasets', 'gsm8k', 'train.jsonl');
const lines = (f: string) => fs.readFileSync(f, 'utf8').trim().split('\n');
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'star-split-'));

/** Positions in `source` (0-based) of the records of a project's held-out split, found by question. */
function heldOutIn(source: string[], dir: string): number[] {
  const at = new Map(source.map((l, i) => [JSON.parse(l).question as string, i]));
  return lines(path.join(dir, 'data', 'eval.jsonl')).map((l) => at.get(JSON.parse(l).question)!).sort((a, b) => a - b);
}

/** Pearson's chi-square of how many of the positions fall in each tenth of 0..n-1. */
function decileChiSquare(positions: number[], n: number): number {
  const counts = Array(10).fill(0);
  for (const p of positions) counts[Math.floor((10 * p) / n)]++;
  const expected = positions.length / 10;
  return counts.reduce((s, c) => s + (c - expected) ** 2 / expected, 0);
}

describe('the held-out split is spread over the file', () => {
  test('all of GSM8K train (7473 records): 500 held out, no more clustered than chance', async () => {
    const source = lines(GSM8K_TRAIN);
    const dir = path.join(tmp(), 'g');
    const exit = await cli(['init', dir, '--task', 'gsm8k', '--from', GSM8K_TRAIN]);
    assert.equal(exit.code, 0, exit.stderr);
    const held = heldOutIn(source, dir);
    const n = source.length;
    assert.equal(held.length, 500);
    assert.ok(held[0] >= 8, 'P (the first 8) is never held out');
    // under a uniform draw: 50 +- 6.7 in the first tenth; chi-square (9 df) over 27.9 one time in 1000; about 33
    // held-out neighbours (p, p+1); the longest gap near 90. FNV-1a alone gave 74, 163, 403 and 843.
    const first = held.filter((p) => p < n / 10).length;
    assert.ok(first >= 30 && first <= 70, `the first tenth of the file holds ${first} of the 500`);
    const chi = decileChiSquare(held, n);
    assert.ok(chi < 27.9, `chi-square over the tenths of the file: ${chi.toFixed(1)}`);
    const neighbours = held.filter((p, i) => i > 0 && p - held[i - 1] === 1).length;
    assert.ok(neighbours < 70, `${neighbours} held-out records sit right after another`);
    const gaps = [held[0] - 8, ...held.slice(1).map((p, i) => p - held[i]), n - 1 - held[held.length - 1]];
    assert.ok(Math.max(...gaps) < 250, `longest run of records none of which is held out: ${Math.max(...gaps)}`);
  });

  test('60 records: the 5 held out are those the hash ranks first, not the first 5, and move with --seed', async () => {
    const source = lines(GSM8K_TRAIN).slice(0, 60);
    const file = path.join(tmp(), 'g60.jsonl');
    fs.writeFileSync(file, source.join('\n') + '\n');
    const got: number[][] = [];
    for (const seed of ['0', '1']) {
      const dir = path.join(tmp(), 'g');
      const exit = await cli(['init', dir, '--task', 'gsm8k', '--from', file, '--seed', seed]);
      assert.equal(exit.code, 0, exit.stderr);
      const held = heldOutIn(source, dir);
      const drawn = heldOutPositions(52, Number(seed)).map((p) => p + 8);
      assert.deepEqual(held, drawn, 'P is the first 8; the rest is drawn');
      got.push(held);
    }
    for (const held of got) assert.ok(held[held.length - 1] - held[0] > 10, `held out: ${held.join(', ')}`);
    assert.notDeepEqual(got[0], got[1]);
  });

  test('52 records over 400 seeds: each position held out about equally often, rarely all 5 close together', () => {
    const counts = Array(52).fill(0);
    let close = 0;
    for (let seed = 0; seed < 400; seed++) {
      const held = heldOutPositions(52, seed);
      assert.equal(held.length, 5);
      held.forEach((p) => counts[p]++);
      if (held[4] - held[0] < 15) close++;
    }
    // 2000 draws, 38.5 a position: chi-square (51 df) over 87 one time in 1000; all 5 within 15 about 1.6% of the
    // time (6 seeds). FNV-1a alone gave 301 and 279 seeds.
    const expected = 2000 / 52;
    const chi = counts.reduce((s, c) => s + (c - expected) ** 2 / expected, 0);
    assert.ok(chi < 87, `chi-square over the positions: ${chi.toFixed(1)}`);
    assert.ok(close <= 20, `${close} of 400 seeds held out 5 records within 15 positions`);
    const first = counts.slice(0, 6).reduce((a, b) => a + b, 0) / 2000;
    assert.ok(Math.abs(first - 6 / 52) < 0.03, `the first 6 positions hold ${(100 * first).toFixed(1)}% of the draws`);
  });
});

describe('questions shared by P, D and the held-out split', () => {
  const ex = (question: string, choices?: [string, string][]): Example => {
    const labelled = choices?.map(([label, text]) => ({ label, text }));
    return { id: question, question, gold: 'A', ...(labelled ? { choices: labelled } : {}) };
  };

  test('matched by exact and by normalised text; each held-out question counted once, under P first', () => {
    const P = [ex('How many eggs?'), ex('What is 12+34?')];
    const D = [ex('How many eggs?'), ex('what  is 12 + 34 ?'), ex('Where is the sea?'), ex('How many hens?')];
    const E = [ex('HOW MANY EGGS?'), ex('How many hens?'), ex('Where is the sea'), ex('What is 123+4?'), ex('Why?')];
    const r = leaveOutOverlap(P, D, E);
    assert.deepEqual(r.train.map((x) => x.question), ['Where is the sea?', 'How many hens?']);
    assert.deepEqual(r.eval.map((x) => x.question), ['What is 123+4?', 'Why?'], '12+34 and 123+4 stay apart');
    assert.deepEqual(r.counts, {
      trainInExemplars: { exact: 1, normalised: 2 },
      evalInExemplars: { exact: 0, normalised: 1 },
      evalInTrain: { exact: 1, normalised: 2 },
    });
  });

  test('multiple choice: the same stem with other options is another question; reordered options are not', () => {
    const P = [ex('Where is a fish?', [['A', 'sea'], ['B', 'sky']])];
    const E = [
      ex('Where is a fish?', [['A', 'sky'], ['B', 'sea']]),
      ex('Where is a fish?', [['A', 'sea'], ['B', 'tree']]),
    ];
    const r = leaveOutOverlap(P, [ex('Where is a bird?', [['A', 'sky'], ['B', 'sea']])], E);
    assert.equal(r.eval.length, 1);
    assert.equal(r.eval[0].choices![1].text, 'tree');
    assert.deepEqual(r.counts.evalInExemplars, { exact: 0, normalised: 1 });
  });

  /** A tiny arithmetic project that runs in seconds: what is measured here is which questions it uses. */
  const quick = () => tinyProject((c) => {
    c.training = { ...c.training, baseSteps: 10, schedule: { kind: 'exponential', base: 5, growth: 1.2 } };
    c.star = { ...c.star, iterations: 1 };
  });
  type Sum = { id: string; question: string; answer: string };
  const questions = (f: string) => lines(f).map((l) => JSON.parse(l) as Sum);
  const warnings = (stdout: string) => stdout.split('\n').filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as RunEvent)
    .flatMap((e) => (e.type === 'log' && e.level === 'warn' ? [e.message] : []));

  test('star run leaves them out with a counted warning, records the counts in run.json, and a resume does the same',
    async () => {
      const dir = await quick();
      const trainFile = path.join(dir, 'data', 'train.jsonl');
      const evalFile = path.join(dir, 'data', 'eval.jsonl');
      const P = questions(path.join(dir, 'exemplars.jsonl'));
      const D = questions(trainFile);
      const E = questions(evalFile);
      const recs = (xs: [string, Sum][]) =>
        xs.map(([id, x]) => JSON.stringify({ id, question: x.question, answer: x.answer }) + '\n').join('');
      fs.appendFileSync(trainFile, recs([['dp-1', P[0]], ['dp-2', P[1]]]));
      fs.appendFileSync(evalFile, recs([['ed-1', D[0]], ['ed-2', D[1]], ['ed-3', D[2]], ['ep-1', P[2]]]));

      const first = await cli(['run', dir, '--json']);
      assert.equal(first.code, 0, first.stderr);
      assert.deepEqual(warnings(first.stdout), [
        `left 2 of ${D.length + 2} questions of D (data/train.jsonl) out: they are exemplars in P (exemplars.jsonl)`,
        `left 4 of ${E.length + 4} held-out questions (data/eval.jsonl) out: ` +
          '1 is an exemplar in P (exemplars.jsonl), 3 are in D (data/train.jsonl)',
      ]);
      const runsDir = path.join(dir, '.star', 'runs');
      const [id] = fs.readdirSync(runsDir);
      const runFile = path.join(runsDir, id, 'run.json');
      const run = JSON.parse(fs.readFileSync(runFile, 'utf8')) as RunJson;
      const counts = {
        trainInExemplars: { exact: 2, normalised: 2 },
        evalInExemplars: { exact: 1, normalised: 1 },
        evalInTrain: { exact: 3, normalised: 3 },
      };
      assert.deepEqual(run.overlap, counts);
      assert.equal(run.trainCount, D.length);
      assert.equal(run.evalCount, E.length);
      const evaluated = questions(path.join(runsDir, id, 'iter-0', 'eval.jsonl')).map((l) => l.id);
      assert.deepEqual(evaluated.sort(), E.map((x) => x.id).sort(), 'M0 was evaluated on the unshared questions only');
      const generated = questions(path.join(runsDir, id, 'iter-1', 'generations.jsonl')).map((l) => l.id);
      assert.ok(!generated.includes('dp-1') && !generated.includes('dp-2') && generated.length === D.length);

      const resumed = await cli(['run', dir, '--resume', '--iterations', '2', '--json']);
      assert.equal(resumed.code, 0, resumed.stderr);
      assert.equal(warnings(resumed.stdout).length, 2, 'the resume warns the same way');
      assert.deepEqual((JSON.parse(fs.readFileSync(runFile, 'utf8')) as RunJson).overlap, counts);
    });

  test('star run refuses a held-out split that D holds whole, and starts no run', async () => {
    const dir = await quick();
    const trainFile = path.join(dir, 'data', 'train.jsonl');
    const n = lines(trainFile).length;
    fs.copyFileSync(trainFile, path.join(dir, 'data', 'eval.jsonl'));
    const r = await cli(['run', dir]);
    assert.equal(r.code, 1);
    assert.ok(r.stderr.includes(`every held-out question (all ${n} of data/eval.jsonl) is also in D or P: ` +
      `${n} in D (data/train.jsonl); hold out questions that D and P do not have`), r.stderr);
    const runs = path.join(dir, '.star', 'runs');
    assert.ok(!fs.existsSync(runs) || fs.readdirSync(runs).length === 0, 'no run was started');
  });
});
