// The STaR loop end to end on a tiny arithmetic project, with the real embedded model.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { before, describe, test } from 'node:test';
import { selectBackend } from '../../src/engine/compute/backend';
import { decodeSafetensors } from '../../src/engine/model/checkpoint';
import { openProject } from '../../src/engine/project';
import { hashSeed } from '../../src/engine/random';
import { trainSteps } from '../../src/engine/schedule';
import { runStar } from '../../src/engine/star';
import type { GenerationLine, ProjectConfig, RunEvent } from '../../src/engine/store/format';
import { RunStore } from '../../src/engine/store/runStore';
import { EmbeddedTrainer } from '../../src/engine/trainers/embedded';
import { curationBefore } from '../../src/engine/curation';
import { cli, generating, StarProcess, tinyProject, training } from '../fixtures/starCli';

const hintFree = (l: GenerationLine) => !/Target/i.test(l.rationale) || l.hintLeak === true;

before(async () => {
  await selectBackend('wasm');
});

describe('STaR loop', () => {
  let dir: string;
  let store: RunStore;
  const events: RunEvent[] = [];

  before(async () => {
    dir = await tinyProject();
    store = await runStar(await openProject(dir), {}, (e) => events.push(e));
  });

  test('writes the run store: base model as iteration 0, then one folder per iteration', () => {
    const run = store.readRun();
    assert.equal(run.status, 'finished');
    assert.match(run.backend, /^wasm/);
    assert.deepEqual(store.finishedIterations(), [0, 1, 2]);
    const m0 = store.readMetrics(0)!;
    assert.equal(m0.eval.total, 12 + 12, '12 held-out sums of each digit count, the one-digit ones unseen too');
    assert.deepEqual(Object.keys(m0.eval.byGroup).sort(), ['1', '2']);
    for (const n of [1, 2]) {
      const lines = store.readGenerations(n);
      assert.equal(lines.length, 48, 'one line per training question');
      assert.equal(new Set(lines.map((l) => l.id)).size, 48);
      const m = store.readMetrics(n)!;
      assert.equal(m.train.correct + m.train.rationalized + m.train.failed, 48);
      assert.equal(m.trainSteps, trainSteps({ kind: 'exponential', base: 60, growth: 1.2 }, n, 0, 16));
    }
    assert.equal(store.readMetrics(2)!.trainSteps, 72, 'steps grow 20% an iteration');
    for (const n of [0, 1, 2]) {
      const curve = store.readTrainLoss(n);
      const steps = n === 0 ? 200 : store.readMetrics(n)!.trainSteps;
      assert.deepEqual(curve.map((l) => l.step), Array.from({ length: steps }, (_, i) => i + 1), `iteration ${n}: every step's loss, once`);
      assert.ok(curve.every((l) => l.loss !== null && l.loss > 0));
    }
    const base = store.readTrainLoss(0).map((l) => l.loss!);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    assert.ok(mean(base.slice(-20)) < 0.5 * mean(base.slice(0, 20)), 'the base model\'s loss falls');
    assert.ok(events.some((e) => e.type === 'progress' && e.phase === 'train'));
    assert.equal(events[events.length - 1].type, 'run-end');
  });

  test('rationalization adds examples the direct pass missed, stored without the hint', () => {
    const lines = store.readGenerations(1);
    const rationalized = lines.filter((l) => l.stage === 'rationalized');
    assert.ok(rationalized.length > 0, 'the hint rescued some questions');
    for (const l of rationalized) {
      assert.ok(l.correct);
      assert.notEqual(l.directAnswer, l.gold, 'only questions the direct pass got wrong are rationalized');
    }
    const train = store.readTrainSet(1);
    const fromRationalization = train.filter((e) => e.source === 'rationalized');
    assert.equal(fromRationalization.length, rationalized.filter((l) => !l.hintLeak).length);
    for (const e of train.filter((x) => x.source === 'direct' || x.source === 'rationalized')) {
      assert.ok(!e.prompt.includes('Target'), `the hint is not in a training prompt: ${e.prompt}`);
      assert.ok(!e.completion.includes('Target'), `the hint is not in a training rationale: ${e.completion}`);
    }
    for (const n of [1, 2]) for (const l of store.readGenerations(n)) assert.ok(hintFree(l), `hint in stored rationale of ${l.id}: ${l.rationale}`);
  });

  test('every iteration fine-tunes the ORIGINAL base model, not the previous iteration', async () => {
    const run = store.readRun();
    const examples = store.readTrainSet(2);
    const steps = store.readMetrics(2)!.trainSteps;
    const weights = (d: string) => decodeSafetensors(fs.readFileSync(path.join(d, 'model.safetensors'))).tensors;
    const retrain = async (baseDir: string) => {
      const out = fs.mkdtempSync(path.join(os.tmpdir(), 'star-retrain-'));
      await new EmbeddedTrainer(run.config.training).train({ baseDir, outDir: out, examples, steps, seed: hashSeed(run.config.star.seed, 'train', 2) });
      return weights(out);
    };
    const actual = weights(store.iterPath(2));
    const fromBase = await retrain(store.iterPath(0));
    const fromPrevious = await retrain(store.iterPath(1));
    const same = (a: Map<string, { data: ArrayLike<number> }>, b: typeof a) =>
      [...a].every(([k, t]) => Array.from(t.data).every((x, i) => Math.abs(x - b.get(k)!.data[i]) < 1e-6));
    assert.ok(same(actual, fromBase), 'M2 = train(M0, D2)');
    assert.ok(!same(actual, fromPrevious), 'M2 != train(M1, D2)');
  });

  test('export: kept rationales as SFT or chat rows, with provenance, no hint, rejected rows left out', async () => {
    const out = path.join(dir, 'export.jsonl');
    const kept = store.readGenerations(2).filter((l) => l.correct && !l.hintLeak);
    assert.ok(kept.length >= 2);
    store.appendAnnotation({ time: new Date().toISOString(), iteration: 2, id: kept[0].id, verdict: 'reject' });
    store.appendAnnotation({ time: new Date().toISOString(), iteration: 2, id: kept[1].id, verdict: 'accept', rationale: 'edited by a person' });
    const r = await cli(['export', dir, '--format', 'sft', '--out', out]);
    assert.equal(r.code, 0, r.stderr);
    const rows = fs.readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(rows.length, kept.length - 1);
    assert.ok(!rows.some((x) => x.metadata.id === kept[0].id), 'the rejected row is not exported');
    const edited = rows.find((x) => x.metadata.id === kept[1].id);
    assert.equal(edited.completion, `edited by a person>${kept[1].gold}\n`);
    for (const x of rows) {
      assert.ok(!x.prompt.includes('Target') && !x.completion.includes('Target'));
      assert.deepEqual(Object.keys(x.metadata).sort(), ['id', 'iteration', 'run', 'stage', 'verdict']);
      assert.equal(x.metadata.run, store.id);
    }
    const chat = path.join(dir, 'chat.jsonl');
    assert.equal((await cli(['export', dir, '--format', 'openai-chat', '--out', chat])).code, 0);
    const first = JSON.parse(fs.readFileSync(chat, 'utf8').split('\n')[0]);
    assert.deepEqual(first.messages.map((m: { role: string }) => m.role), ['user', 'assistant']);
  });

  test('with honourAnnotations, the next iteration trains on the accepted edit and never on a rejected rationale', async () => {
    // the export test above rejected the first kept rationale of iteration 2 and accepted an edit of the second
    const kept = store.readGenerations(2).filter((l) => l.correct && !l.hintLeak);
    const [rejected, edited] = kept;
    const s = await runStar(await openProject(dir), { resume: true, runId: store.id, iterations: 3, honourAnnotations: true }, () => {});
    assert.equal(s.readRun().config.training.honourAnnotations, true);
    const train = s.readTrainSet(3);
    const forEdited = train.filter((e) => e.id === edited.id);
    assert.deepEqual(forEdited.map((e) => [e.source, e.completion]), [['annotated', `edited by a person>${edited.gold}\n`]]);
    assert.ok(!train.some((e) => e.id === rejected.id && e.completion === `${rejected.rationale}>${rejected.gold}\n`));
    // and the report still reads the extended run
    assert.deepEqual(s.finishedIterations(), [0, 1, 2, 3]);
  });

  test('report prints every finished iteration', async () => {
    const r = await cli(['report', dir, '--json']);
    assert.equal(r.code, 0);
    const rows = JSON.parse(r.stdout).rows;
    assert.deepEqual(rows.map((x: { iteration: number }) => x.iteration), [0, 1, 2, 3]);
    assert.equal(rows[1].direct + rows[1].rationalized + rows[1].failed, 48);
  });

  test('--no-rationalize keeps only direct hits', async () => {
    const s = await runStar(await openProject(dir), { rationalize: false, iterations: 1 }, () => {});
    const lines = s.readGenerations(1);
    assert.ok(lines.every((l) => l.stage !== 'rationalized'));
    assert.equal(s.readRun().config.star.rationalize, false);
    assert.ok(s.readTrainSet(1).every((e) => e.source !== 'rationalized'));
    const base = (r: RunStore) => fs.readFileSync(r.iterPath(0, 'model.safetensors'));
    assert.ok(base(s).equals(base(store)), 'the ablation starts from the same M0');

    // star compare: both runs' held-out accuracy, the ablation named by what it changed
    const r = await cli(['compare', dir, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const cmp = JSON.parse(r.stdout) as { reference: string; runs: { runId: string; differs: string; evalAccuracy: { iteration: number; accuracy: number }[] }[] };
    assert.equal(cmp.reference, store.id);
    assert.deepEqual(cmp.runs.map((x) => [x.runId, x.evalAccuracy.map((e) => e.iteration)]), [[store.id, store.finishedIterations()], [s.id, [0, 1]]]);
    assert.equal(cmp.runs[0].differs, '');
    assert.match(cmp.runs[1].differs, /^star\.rationalize: false\b/); // (the earlier test's resume turned honourAnnotations on)
    assert.equal(cmp.runs[1].evalAccuracy[1].accuracy, s.readMetrics(1)!.eval.accuracy);
    const table = await cli(['compare', dir, '--markdown']);
    assert.match(table.stdout, new RegExp(`\\| ${s.id} \\| star.rationalize: false[^|]* \\| [\\d.]+ \\| [\\d.]+ \\|( +\\|)+\n`));
    const wrong = await cli(['compare', dir, '--run', 'no-such-run']);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /no run no-such-run in .*runs/);
  });
});

describe('stopping rules and schedules', () => {
  test('the loop stops once held-out accuracy has not risen for `patience` iterations', async () => {
    const dir = await tinyProject();
    const file = path.join(dir, 'star.json');
    const c = JSON.parse(fs.readFileSync(file, 'utf8')) as ProjectConfig;
    // a learning rate too small to change anything: every model answers as M0 does, so accuracy never rises
    c.training = { ...c.training, lr: 1e-12, baseSteps: 5, schedule: { kind: 'exponential', base: 5, growth: 1.2 } };
    c.star = { ...c.star, iterations: 4, patience: 1 };
    fs.writeFileSync(file, JSON.stringify(c));
    const events: RunEvent[] = [];
    const s = await runStar(await openProject(dir), {}, (e) => events.push(e));
    assert.deepEqual(s.finishedIterations(), [0, 1]);
    assert.equal(s.readRun().status, 'finished');
    assert.ok(events.some((e) => e.type === 'log' && /has not risen for 1 iteration/.test(e.message)));
  });

  test('training steps per iteration: exponential (the paper), linear, or epochs over the training set', () => {
    const paper = [1, 2, 3, 4].map((n) => trainSteps({ kind: 'exponential', base: 40, growth: 1.2 }, n, 0, 8));
    assert.deepEqual(paper, [40, 48, 58, 69]);
    assert.deepEqual([1, 2, 3].map((n) => trainSteps({ kind: 'linear', base: 100, increment: 25 }, n, 0, 8)), [100, 125, 150]);
    assert.equal(trainSteps({ kind: 'epochs', epochs: 2 }, 5, 100, 32), 7);
  });
});

describe('curation', () => {
  test('a rejected rationale is left out, an accepted one stands in, and the newest verdict wins', () => {
    const s = new RunStore(fs.mkdtempSync(path.join(os.tmpdir(), 'star-curation-')));
    s.ensureIter(1);
    const line = (id: string, rationale: string): GenerationLine => ({ id, question: id, gold: '3', rationale, answer: '3', correct: true, stage: 'direct' });
    s.appendGenerations(1, [line('a', 'ra'), line('b', 'rb'), line('c', 'rc')]);
    const t = new Date().toISOString();
    s.appendAnnotation({ time: t, iteration: 1, id: 'a', verdict: 'reject' });
    s.appendAnnotation({ time: t, iteration: 1, id: 'b', verdict: 'accept', rationale: 'better' });
    s.appendAnnotation({ time: t, iteration: 1, id: 'c', verdict: 'accept' });
    s.appendAnnotation({ time: t, iteration: 1, id: 'c', verdict: 'reject' }); // changed their mind
    const c = curationBefore(s, 2);
    assert.deepEqual([...c.rejected.get('a')!], ['ra']);
    assert.deepEqual([...c.rejected.get('c')!], ['rc']);
    assert.equal(c.accepted.get('b'), 'better');
    assert.ok(!c.accepted.has('c'));
    assert.equal(curationBefore(s, 1).accepted.size, 0, 'only earlier iterations count');
  });
});

describe('kill and resume', () => {
  /** Runs the CLI; SIGKILLs it at the first event that `killWhen` matches. */
  async function cliUntil(args: string[], killWhen?: (e: RunEvent) => boolean) {
    const p = new StarProcess(args);
    if (killWhen) await p.waitFor(killWhen).then(() => p.child.kill('SIGKILL'));
    return { ...(await p.exit), killed: !!killWhen, events: p.events };
  }

  test('a run killed with SIGKILL mid-generation and mid-training resumes to exactly the uninterrupted result', async () => {
    const a = await tinyProject();
    const b = await tinyProject(); // same seed and config: the same data
    const whole = await cliUntil(['run', a, '--json', '--chunk-size', '8']);
    assert.equal(whole.code, 0);

    // killed after 3 chunks of iteration 1's generation
    const k1 = await cliUntil(['run', b, '--json', '--chunk-size', '8'], generating(1, 24));
    assert.ok(k1.killed);
    const runB = RunStore.latest(b)!;
    const partial = runB.readGenerations(1).length;
    assert.ok(partial >= 24 && partial < 48, `partial generations kept: ${partial}`);
    // a torn line, as a kill in the middle of a write leaves it
    fs.appendFileSync(runB.iterPath(1, 'generations.jsonl'), '{"id":"train-4","quest');

    // killed again mid-training of iteration 1
    const k2 = await cliUntil(['run', b, '--resume', '--json', '--chunk-size', '8'], training(1, 20));
    assert.ok(k2.killed);
    const generated = k2.events.filter((e) => e.type === 'progress' && e.phase === 'generate' && e.iteration === 1);
    assert.ok(generated.every((e) => (e as { done: number }).done > partial), 'finished chunks are not generated again');

    const k3 = await cliUntil(['run', b, '--resume', '--json', '--chunk-size', '8']);
    assert.equal(k3.code, 0);
    assert.equal(runB.readRun().status, 'finished');

    const runA = RunStore.latest(a)!;
    for (const n of [1, 2]) {
      const ga = runA.readGenerations(n);
      const gb = runB.readGenerations(n);
      assert.equal(gb.length, 48, 'no line lost or duplicated');
      const byId = (g: GenerationLine[]) => JSON.stringify([...g].sort((x, y) => x.id.localeCompare(y.id)));
      assert.equal(byId(gb), byId(ga), `iteration ${n}: same generations as the unbroken run`);
      assert.deepEqual(runB.readEval(n), runA.readEval(n));
    }
    for (const n of [0, 1, 2]) assert.deepEqual(runB.readTrainLoss(n), runA.readTrainLoss(n), `iteration ${n}: the loss curve of the unbroken run`);
    const wa = fs.readFileSync(runA.iterPath(2, 'model.safetensors'));
    const wb = fs.readFileSync(runB.iterPath(2, 'model.safetensors'));
    assert.ok(wa.equals(wb), 'same final weights');
  });
});
