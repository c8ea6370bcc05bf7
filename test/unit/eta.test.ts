// The run's ETA that `star run` shows, fed the events a run emits, on a clock the test sets.
import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import { formatDuration, RunEta, RunPlan } from '../../src/cli/eta';
import type { Phase, RunEvent } from '../../src/engine/store/format';

/** Two iterations after M0; D of 100 questions, 10 held out; iteration n trains 10n steps, M0 10. */
const plan: RunPlan = { lastIteration: 2, questions: 100, evalQuestions: 10, steps: (n) => (n === 0 ? 10 : 10 * n) };

function clocked(resumed = false) {
  let t = 0;
  const eta = new RunEta(() => t * 1000);
  eta.setPlan(plan);
  const at = (seconds: number, e: RunEvent) => {
    t = seconds;
    eta.onEvent(e);
  };
  at(0, { type: 'run-start', runId: 'r', runDir: '/nowhere', backend: 'test', resumed });
  const progress = (iteration: number, phase: Phase, done: number, total: number): RunEvent =>
    ({ type: 'progress', iteration, phase, done, total });
  return { eta, at, progress, setClock: (s: number) => (t = s) };
}

describe('run ETA', () => {
  test('none while some work ahead has no rate (generation, before its first chunk); then the sum at the rates', () => {
    const { eta, at, progress, setClock } = clocked();
    at(0, { type: 'iteration-start', iteration: 0 });
    for (let s = 1; s <= 10; s++) at(s, progress(0, 'train', s, 10)); // 1 s a step
    assert.equal(eta.phaseRemaining(), 0);
    assert.equal(eta.runRemaining(), undefined, 'no generation has run yet');
    at(12, progress(0, 'eval', 10, 10)); // 0.2 s a held-out question, from the end of training on
    at(12, { type: 'iteration-start', iteration: 1 });
    at(12, { type: 'phase', iteration: 1, phase: 'generate', total: 100 });
    at(15, progress(1, 'rationalize', 20, 40)); // timed within generation
    assert.equal(eta.runRemaining(), undefined);
    at(22, progress(1, 'generate', 50, 100)); // 0.2 s a question
    // this iteration: 50 questions (10 s), 10 steps (10 s), eval (2 s); iteration 2: 20 s + 20 s + 2 s
    assert.equal(eta.runRemaining(), 64);
    assert.equal(eta.phaseRemaining(), 10);
    setClock(27); // runs down between events
    assert.equal(eta.runRemaining(), 59);
    assert.equal(eta.phaseRemaining(), 5);
  });

  test('a resumed iteration is not taken to have started at 0: its rate comes from what this process did', () => {
    const { eta, at, progress } = clocked(true);
    at(0, { type: 'iteration-start', iteration: 1 });
    at(0, { type: 'phase', iteration: 1, phase: 'train', total: 10 });
    at(1, progress(1, 'train', 6, 10)); // steps 1-5 were done before the resume
    assert.equal(eta.phaseRemaining(), undefined, 'no rate from one event');
    at(3, progress(1, 'train', 7, 10));
    assert.equal(eta.phaseRemaining(), 6); // 2 s a step, not 3 s for 7
  });

  test('a trainer that reports no steps (a command) gets the time until eval began, less eval at its rate', () => {
    const { eta, at, progress } = clocked();
    at(0, { type: 'iteration-start', iteration: 0 });
    at(10, progress(0, 'train', 10, 10));
    at(12, progress(0, 'eval', 10, 10)); // 0.2 s a question
    at(12, { type: 'iteration-start', iteration: 1 });
    at(12, { type: 'phase', iteration: 1, phase: 'generate', total: 100 });
    at(32, progress(1, 'generate', 100, 100)); // 0.2 s a question
    at(32, { type: 'phase', iteration: 1, phase: 'train', total: 10 });
    at(133, progress(1, 'eval', 5, 10)); // training took 100 s of these 101 (eval's 5 questions: 1 s)
    // eval's other 5 (1 s); iteration 2: 20 s generating, 20 steps at 5.5 s (110 s for 20 so far), 2 s eval
    assert.equal(eta.runRemaining(), 1 + 20 + 20 * 5.5 + 2);
  });

  test('nothing left after the last iteration', () => {
    const { eta, at } = clocked();
    at(5, { type: 'iteration-end', iteration: 2, metrics: {} as never });
    assert.equal(eta.runRemaining(), 0);
  });

  test('durations read as a person says them', () => {
    assert.deepEqual([42, 185, 3720, 59.6].map(formatDuration), ['42s', '3m05s', '1h02m', '1m00s']);
  });
});
