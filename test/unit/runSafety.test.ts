// The ordinary ways people stop, restart and mistype, met the way they meet them: real `star` processes, real
// signals. One writer per run; Ctrl-C that stops; a failed start that changes nothing; a resume that notices
// edited inputs.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, describe, test } from 'node:test';
import { LOCK_FILE, RunEvent } from '../../src/engine/store/format';
import { readLock } from '../../src/engine/store/runLock';
import { RunStore } from '../../src/engine/store/runStore';
import { cli, Exit, generating, StarProcess, tinyProject, training } from '../fixtures/starCli';

const runStarted = (e: RunEvent) => e.type === 'run-start';
const idOf = (p: StarProcess) => (p.events.find(runStarted) as { runId: string }).runId;

/** What `star report --json` prints, less the wall time: equal for runs that did the same work. */
async function rows(dir: string, run?: string) {
  const r = await cli(['report', dir, '--json', ...(run ? ['--run', run] : [])]);
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout).rows as { seconds?: number }[]).map(({ seconds: _s, ...row }) => row);
}

/** Resolves once the process has taken its pending SIGINT (Linux: no longer in /proc/<pid>/status's pending sets). */
async function signalTaken(pid: number) {
  const SIGINT_BIT = 1n << 1n;
  const pending = () => {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    return ['SigPnd', 'ShdPnd'].some((k) => BigInt('0x' + new RegExp(`${k}:\\s*(\\w+)`).exec(status)![1]) & SIGINT_BIT);
  };
  while (pending()) await new Promise((r) => setTimeout(r, 2));
}

/** Sends SIGINT once the process reaches `at`, and returns how it ended. */
async function interrupt(p: StarProcess, at: (e: RunEvent) => boolean) {
  await p.waitFor(at);
  p.child.kill('SIGINT');
  return p.exit;
}

describe('one writer per run', () => {
  test('a second writer is refused naming the holder, runs side by side go on, a dead writer\'s lock is taken over', async () => {
    const dir = await tinyProject((c) => (c.training.baseSteps = 1_000_000)); // M0 trains until killed
    const a = new StarProcess(['run', dir, '--json']);
    await a.waitFor(training(0));
    const runA = RunStore.at(dir, idOf(a));
    assert.equal(readLock(runA.dir)?.pid, a.pid, 'the lock names the writer');

    const second = await cli(['run', dir, '--resume', '--run', runA.id]);
    assert.equal(second.code, 1);
    assert.match(second.stderr, new RegExp(`being written by another process: pid ${a.pid} on `));
    assert.match((await cli(['report', dir, '--run', runA.id])).stdout, /\(running,/);

    const side = new StarProcess(['run', dir, '--json']); // a new run of the same project is allowed
    await side.waitFor(training(0));
    assert.notEqual(idOf(side), runA.id);
    side.child.kill('SIGINT');
    assert.equal((await side.exit).code, 130);

    a.child.kill('SIGKILL');
    await a.exit;
    assert.match((await cli(['report', dir, '--run', runA.id])).stdout, /\(interrupted,/, 'not "running" forever');

    // three resumes at once on the dead writer's lock: one takes it over, the others are refused naming it
    const racers = [1, 2, 3].map(() => new StarProcess(['run', dir, '--resume', '--run', runA.id, '--json']));
    const tookOver = (e: RunEvent) => e.type === 'log' && /took over the writer lock/.test(e.message);
    // each racer either trains (it has the lock) or ends (refused)
    await Promise.all(racers.map((p) => p.waitFor(training(0)).catch(() => undefined)));
    const winners = racers.filter((p) => p.events.some(training(0)));
    assert.equal(winners.length, 1, 'one writer');
    const b = winners[0];
    const took = b.events.find(tookOver) as { message: string } | undefined;
    assert.ok(took, 'the winner says it took over');
    assert.match(took.message, new RegExp(`pid ${a.pid} on .*: that process is gone`));
    assert.equal(readLock(runA.dir)?.pid, b.pid);
    for (const p of racers.filter((r) => r !== b)) {
      const lost = await p.exit;
      assert.equal(lost.code, 1);
      assert.match(lost.stderr, new RegExp(`being written by another process: pid ${b.pid} `));
    }
    const end = await interrupt(b, training(0));
    assert.equal(end.code, 130);
    assert.equal(runA.readRun().status, 'stopped');
    assert.ok(!fs.existsSync(path.join(runA.dir, LOCK_FILE)), 'the lock goes with its writer');
    assert.ok(fs.readFileSync(path.join(runA.dir, 'events.jsonl'), 'utf8').includes('took over the writer lock'));
  });
});

describe('Ctrl-C and resume', () => {
  let whole: string; // the unbroken run
  before(async () => {
    whole = await tinyProject();
    assert.equal((await cli(['run', whole, '--chunk-size', '8'])).code, 0);
  });

  test('the first Ctrl-C stops after the current step (M0 training, generation, training) and resume reaches the unbroken run', async () => {
    const dir = await tinyProject();
    const args = ['--json', '--chunk-size', '8'];
    const store = () => RunStore.latest(dir)!;
    // each stop lands before the phase it interrupts is through (M0 trains 200 steps, D has 48 questions,
    // iteration 1 trains 60 steps): the run did not go on to the end of what it was doing
    const points: [string, (e: RunEvent) => boolean, () => boolean][] = [
      ['M0 training', training(0, 20), () => !store().readMetrics(0) && store().readTrainLoss(0).length < 200],
      ['generation', generating(1, 16), () => store().readGenerations(1).length < 48],
      ['training of iteration 1', training(1, 10), () => !store().readMetrics(1) && store().readTrainLoss(1).length < 60],
    ];
    for (const [i, [where, at, midway]] of points.entries()) {
      const p = new StarProcess(['run', dir, ...(i ? ['--resume'] : []), ...args]);
      const end = await interrupt(p, at);
      assert.equal(end.code, 130, `${where}: exits with 130`);
      assert.match(end.stderr, /stopping after the current step/);
      assert.ok(end.stderr.includes(`continue with: star run ${dir} --resume`), `${where}: says how to go on`);
      assert.ok(midway(), `${where}: stopped there, not at the end of the phase`);
      assert.equal(store().readRun().status, 'stopped', where);
      assert.ok(!fs.existsSync(path.join(store().dir, LOCK_FILE)), `${where}: no lock left`);
      const last = p.events[p.events.length - 1];
      assert.deepEqual(last.type, 'run-end', `${where}: the run ended itself`);
    }
    assert.equal((await cli(['run', dir, '--resume', ...args])).code, 0);
    assert.deepEqual(await rows(dir), await rows(whole), 'the numbers of the unbroken run');
    const weights = (d: string) => fs.readFileSync(RunStore.latest(d)!.iterPath(2, 'model.safetensors'));
    assert.ok(weights(dir).equals(weights(whole)), 'the weights of the unbroken run');
  });

  test('a second Ctrl-C exits at once with 130, leaving a run that resumes', async () => {
    // training steps of a few hundred ms: both Ctrl-Cs land inside one, as a person's impatient second press does
    const dir = await tinyProject((c) => {
      c.model = { ...c.model, nEmbd: 128 };
      c.training.batchSize = 256;
    });
    // A Ctrl-C that lands in the moment between two steps is handled at once, and the run stops cleanly before the
    // second arrives; such a try says nothing about the second Ctrl-C and is made again, resuming the run.
    let hard: Exit | undefined;
    for (let tries = 0; !hard && tries < 5; tries++) {
      const p = new StarProcess(['run', dir, ...(tries ? ['--resume'] : []), '--json']);
      await p.waitFor(training(0));
      p.child.kill('SIGINT');
      await signalTaken(p.pid); // else the kernel would merge the two into one
      p.child.kill('SIGINT');
      const end = await p.exit;
      assert.equal(end.code, 130);
      if (!p.events.some((e) => e.type === 'run-end')) hard = end;
    }
    assert.ok(hard, 'a second Ctrl-C inside a step ends the process before the step does');
    const store = RunStore.latest(dir)!;
    assert.ok(!fs.existsSync(path.join(store.dir, LOCK_FILE)), 'the lock goes with the process');
    assert.match((await cli(['report', dir, '--run', store.id])).stdout, /\(interrupted,/);
    const again = new StarProcess(['run', dir, '--resume', '--json']);
    assert.equal((await interrupt(again, training(0))).code, 130);
    assert.equal(store.readRun().status, 'stopped');
  });
});

describe('resuming a finished run', () => {
  let dir: string;
  let store: RunStore;
  const snapshot = () => ['run.json', 'events.jsonl'].map((f) => fs.readFileSync(path.join(store.dir, f), 'utf8'));
  before(async () => {
    dir = await tinyProject();
    assert.equal((await cli(['run', dir])).code, 0);
    store = RunStore.latest(dir)!;
  });

  test('a start that fails, or flags that contradict the run, change nothing', async () => {
    const before = snapshot();
    const refused: [string[], RegExp][] = [
      [['--backend', 'tensorflow'], /backend tensorflow: disabled by STAR_NO_TFJS_NODE/],
      [['--seed', '7'], /runs with seed 1, not 7/],
      [['--no-rationalize'], /runs with rationalization/],
      [['--iterations', '1'], /plans 2 iterations; --iterations 1 would shorten it/],
    ];
    for (const [flags, why] of refused) {
      const r = await cli(['run', dir, '--resume', ...flags], { STAR_NO_TFJS_NODE: '1' });
      assert.equal(r.code, 1, flags.join(' '));
      assert.match(r.stderr, why);
      assert.deepEqual(snapshot(), before, `${flags.join(' ')}: run.json and events.jsonl byte-identical`);
    }
    const cpu = await cli(['run', dir, '--resume', '--backend', 'cpu']);
    assert.equal(cpu.code, 0, cpu.stderr);
    assert.equal(store.readRun().backend, 'cpu', 'every listed backend starts');
    assert.equal(store.readRun().config.model.compute, 'wasm', 'a resume\'s backend is not written into the snapshot');
    assert.equal((await cli(['run', dir, '--resume'])).code, 0);
  });

  test('edited inputs are named and refused, blank lines are no change, --accept-changes goes on and records it', async () => {
    const file = (f: string) => path.join(dir, f);
    fs.appendFileSync(file('data/eval.jsonl'), '\n\n');
    assert.equal((await cli(['run', dir, '--resume'])).code, 0, 'blank lines change no record');

    const train = fs.readFileSync(file('data/train.jsonl'), 'utf8').trim().split('\n');
    fs.writeFileSync(file('data/train.jsonl'), train.slice(0, 36).join('\n') + '\n');
    const P = fs.readFileSync(file('exemplars.jsonl'), 'utf8').trim().split('\n');
    fs.writeFileSync(file('exemplars.jsonl'), P.slice(1).join('\n') + '\n');
    const before = snapshot();
    const r = await cli(['run', dir, '--resume', '--iterations', '3']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /D \(data\/train\.jsonl\): 48 -> 36 records; 12 question\(s\) the run generated for are no longer/);
    assert.match(r.stderr, /P \(exemplars\.jsonl\): 32 -> 31 records \(the run keeps the P it started with/);
    assert.match(r.stderr, /--accept-changes/);
    assert.deepEqual(snapshot(), before, 'refused before writing anything');

    const go = await cli(['run', dir, '--resume', '--iterations', '3', '--accept-changes']);
    assert.equal(go.code, 0, go.stderr);
    const run = store.readRun();
    assert.equal(run.trainCount, 36);
    assert.equal(run.exemplars.length, 32, 'P stays the snapshot');
    assert.equal(run.inputChanges?.length, 1);
    assert.equal(run.inputChanges![0].beforeIteration, 3);
    assert.equal(store.readGenerations(3).length, 36);
    assert.equal((await cli(['run', dir, '--resume'])).code, 0, 'the new inputs are the run\'s now');
  });
});
