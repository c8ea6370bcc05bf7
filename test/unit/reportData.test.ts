// What the report shows of a project's other runs: their held-out accuracy and what they do differently.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import type { IterationMetrics, ProjectConfig, RunJson } from '../../src/engine/store/format';
import { RunStore } from '../../src/engine/store/runStore';
import { configDiff } from '../../src/engine/compare';
import { otherRuns } from '../../src/extension/reportData';

const config = (star: Partial<ProjectConfig['star']>, lr = 3e-3) =>
  ({ task: 'arithmetic', training: { lr, batchSize: 16 }, star: { iterations: 2, seed: 1, rationalize: true, ...star } }) as unknown as ProjectConfig;

function run(project: string, id: string, c: ProjectConfig, exemplars: unknown[], accuracies: number[]): RunStore {
  const s = RunStore.create(project, { id, config: c, exemplars } as RunJson);
  accuracies.forEach((accuracy, n) => {
    s.ensureIter(n);
    s.writeMetrics(n, { iteration: n, eval: { accuracy } } as IterationMetrics);
  });
  return s;
}

test('the other runs of a project: their held-out accuracy by iteration, and how their config and P differ', () => {
  const project = fs.mkdtempSync(path.join(os.tmpdir(), 'star-report-'));
  const P = [{ question: '1+1', answer: '2' }];
  const shown = run(project, '20261130-100000000-aaaa', config({}), P, [0.1, 0.2, 0.3]);
  run(project, '20261130-110000000-bbbb', config({ rationalize: false, iterations: 6 }), P, [0.1, 0.15]);
  run(project, '20261130-120000000-cccc', config({ seed: 2 }, 1e-3), [...P, { question: '2+2', answer: '4' }], [0.12]);
  run(project, '20261130-130000000-dddd', config({}), P, []); // started, nothing finished: left out
  assert.deepEqual(otherRuns(shown), [
    { runId: '20261130-110000000-bbbb', differs: 'star.rationalize: false', evalAccuracy: [{ iteration: 0, accuracy: 0.1 }, { iteration: 1, accuracy: 0.15 }] },
    { runId: '20261130-120000000-cccc', differs: 'star.seed: 2, training.lr: 0.001, P: 2 exemplars, edited', evalAccuracy: [{ iteration: 0, accuracy: 0.12 }] },
  ]);
});

test('configDiff names each differing leaf once, with the other run\'s value', () => {
  assert.deepEqual(configDiff({ a: { b: 1, c: [1, 2] }, d: 'x' }, { a: { b: 1, c: [1, 3] }, e: true }), ['a.c: [1,3]', 'd: (unset)', 'e: true']);
  assert.deepEqual(configDiff({ a: 1 }, { a: 1 }), []);
});
