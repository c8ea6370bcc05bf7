// Beyond the paper: the unbiased pass@k estimator, majority vote, rationale de-duplication and per-question history.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { dedupRationales } from '../../src/engine/metrics/dedup';
import { evalHistory, questionHistory } from '../../src/engine/metrics/history';
import { majorityVote, passAtK, sampleMetrics } from '../../src/engine/metrics/samples';
import { defaultConfig } from '../../src/engine/project';
import { GenerationLine, RUN_FORMAT_VERSION, Stage } from '../../src/engine/store/format';
import { RunStore } from '../../src/engine/store/runStore';

const eq = (a: string, b: string) => Number(a) === Number(b);
const binom = (n: number, k: number) => { let r = 1; for (let i = 1; i <= k; i++) r = (r * (n - k + i)) / i; return r; };

describe('pass@k and majority vote', () => {
  test('pass@k is 1 - C(n-c,k)/C(n,k) (Chen et al. 2021)', () => {
    const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-12, `${a} != ${b}`);
    close(passAtK(10, 3, 1), 0.3);
    close(passAtK(4, 1, 2), 0.5);
    assert.equal(passAtK(5, 0, 3), 0);
    assert.equal(passAtK(5, 3, 3), 1, 'n - c < k: every draw of k holds a right one');
    for (const [n, c, k] of [[20, 5, 4], [50, 7, 10], [8, 2, 8], [100, 1, 1]])
      assert.ok(Math.abs(passAtK(n, c, k) - (1 - binom(n - c, k) / binom(n, k))) < 1e-12, `${n} ${c} ${k}`);
    assert.throws(() => passAtK(2, 1, 3), /needs at least 3 samples/);
  });

  test('majority vote groups equal answers; ties go to the first seen; unreadable answers do not vote', () => {
    assert.equal(majorityVote(['18', '18.0', '17', null, null, null], eq), '18');
    assert.equal(majorityVote(['3', '4'], eq), '3');
    assert.equal(majorityVote([null, null], eq), null);
  });

  test('sample metrics over lines: pass@1,2,4 and the majority-vote accuracy', () => {
    const line = (gold: string, answers: (string | null)[]): GenerationLine => ({ id: gold, question: '', gold, rationale: '', answer: null, correct: false, stage: 'failed', sampleAnswers: answers });
    const lines = [line('1', ['1', '1', '2', '3']), line('2', ['0', '0', '2', null]), line('5', ['5', '5', '5', '5'])];
    const m = sampleMetrics(lines, 4, eq)!;
    assert.deepEqual(Object.keys(m.passAt), ['1', '2', '4']);
    assert.ok(Math.abs(m.passAt['1'] - (2 / 4 + 1 / 4 + 1) / 3) < 1e-12);
    assert.ok(Math.abs(m.passAt['2'] - (passAtK(4, 2, 2) + passAtK(4, 1, 2) + 1) / 3) < 1e-12);
    assert.equal(m.passAt['4'], 1);
    assert.ok(Math.abs(m.majority - 2 / 3) < 1e-12, 'question 2 votes 0');
    assert.equal(sampleMetrics(lines, 1, eq), undefined);
  });
});

describe('rationale de-duplication', () => {
  test('removes repeats within a question and copies of an exemplar, and says why', () => {
    const P = [{ id: 'p-1', rationale: 'Add the ones, then the tens.' }];
    const items = [
      { id: 'q1', rationale: 'Two and two make four.' },
      { id: 'q1', rationale: '  two and TWO make four ' }, // same after normalisation
      { id: 'q2', rationale: 'Two and two make four.' }, // another question: kept
      { id: 'q3', rationale: 'add the ones, then the tens' }, // copies p-1
    ];
    const { keep, report } = dedupRationales(items, P);
    assert.deepEqual(keep, [true, false, true, false]);
    assert.deepEqual(report, { kept: 2, removed: [{ id: 'q1', reason: 'same-question', of: 'q1' }, { id: 'q3', reason: 'copies-exemplar', of: 'p-1' }] });
  });
});

describe('per-question history', () => {
  test('first solved, by which stage, and lost again, across iterations', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'star-hist-'));
    const now = new Date().toISOString();
    const store = RunStore.create(dir, {
      version: RUN_FORMAT_VERSION, id: 'r', createdAt: now, updatedAt: now, status: 'finished', task: 'gsm8k', config: defaultConfig('gsm8k'),
      exemplars: [], trainCount: 3, evalCount: 1, backend: 'test', iterationsDone: 3,
    });
    const stages: Record<string, Stage[]> = { a: ['failed', 'rationalized', 'direct'], b: ['direct', 'failed', 'failed'], c: ['failed', 'failed', 'failed'] };
    for (let n = 1; n <= 3; n++) {
      store.ensureIter(n);
      store.appendGenerations(n, Object.entries(stages).map(([id, s]) => ({ id, question: id, gold: '1', rationale: '', answer: null, correct: s[n - 1] !== 'failed', stage: s[n - 1] })));
      store.writeMetrics(n, { iteration: n } as never);
    }
    for (let n = 0; n <= 3; n++) {
      store.ensureIter(n);
      store.writeEval(n, [{ id: 'e', question: '', gold: '1', rationale: '', answer: null, correct: n === 1 || n === 3 }]);
      store.writeMetrics(n, { iteration: n } as never);
    }
    const h = questionHistory(store);
    assert.deepEqual(h.get('a'), { id: 'a', stages: [{ iteration: 1, stage: 'failed' }, { iteration: 2, stage: 'rationalized' }, { iteration: 3, stage: 'direct' }], firstSolved: 2, firstStage: 'rationalized', lost: [], solvedNow: true });
    assert.deepEqual([h.get('b')!.firstSolved, h.get('b')!.firstStage, h.get('b')!.lost, h.get('b')!.solvedNow], [1, 'direct', [2], false]);
    assert.deepEqual([h.get('c')!.firstSolved, h.get('c')!.lost], [null, []]);
    const e = evalHistory(store).get('e')!;
    assert.deepEqual([e.firstCorrect, e.lost], [1, [2]]);
  });
});
