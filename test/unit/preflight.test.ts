// Configurations that cannot work are refused before the run does any work, with numbers a user can act on.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, describe, test } from 'node:test';
import { selectBackend } from '../../src/engine/compute/backend';
import { openProject } from '../../src/engine/project';
import { runStar } from '../../src/engine/star';
import type { ProjectConfig, RunEvent } from '../../src/engine/store/format';
import { RunStore } from '../../src/engine/store/runStore';
import { tinyProject } from '../fixtures/starCli';

/** A small arithmetic project with its star.json changed by `edit`. */
const project = (edit: (c: ProjectConfig) => void) =>
  tinyProject((c) => {
    c.model = { ...c.model, compute: 'wasm', nLayer: 1, nHead: 2, nEmbd: 16, blockSize: 64, dropout: 0 };
    c.training = { ...c.training, baseSteps: 2, schedule: { kind: 'exponential', base: 2, growth: 1 }, batchSize: 4 };
    c.sampling = { ...c.sampling, maxNewTokens: 20 };
    c.star = { ...c.star, iterations: 1 };
    edit(c);
  }, { trainCount: 24, exemplarCount: 8, exemplarMaxDigits: 2, maxDigits: 3, evalMaxDigits: 2, evalPerDigit: 4 });

/** Runs the loop expecting a refusal: its message; a refused start leaves no run behind. */
async function refused(dir: string): Promise<{ message: string }> {
  const events: RunEvent[] = [];
  const err = await runStar(await openProject(dir), {}, (e) => events.push(e)).then(() => undefined, (e: Error) => e);
  assert.ok(err, 'the run was refused');
  assert.deepEqual(events, [], 'no work started');
  assert.deepEqual(RunStore.list(dir), [], 'no run written');
  return { message: err.message };
}

before(async () => {
  await selectBackend('wasm');
});

describe('refused before any work', () => {
  test('a model no micro-batch fits: the estimate, the budget and what to change; no model or iteration written', async () => {
    const dir = await project((c) => { c.model = { ...c.model, nLayer: 48, nHead: 16, nEmbd: 1024, blockSize: 4096 }; });
    const { message } = await refused(dir);
    assert.match(message, /the model does not fit: training one sequence of 4096 tokens needs about \d+\.\d GB on tfjs ops, more than the 3\.6 GB the wasm backend has/);
    assert.match(message, /Lower model\.blockSize \(about \d+ fits\), model\.nEmbd or model\.nLayer/);
  });

  test('a prompt longer than the block: how many, the longest, the first one\'s file:line, what blockSize to set', async () => {
    const dir = await project(() => {});
    const train = path.join(dir, 'data', 'train.jsonl');
    const lines = fs.readFileSync(train, 'utf8').trimEnd().split('\n');
    lines[4] = JSON.stringify({ id: 'long-one', question: '1'.repeat(70) + '+1', answer: '1'.repeat(69) + '2' });
    fs.writeFileSync(train, lines.join('\n') + '\n');
    const { message } = await refused(dir);
    assert.match(message, /^2 prompt\(s\) have blockSize 64 tokens or more, leaving the model no room to answer \(the longest has \d+; the first is the question at .*data\/train\.jsonl:5\)\. Set model\.blockSize to at least \d+/);
  });

  test('exemplars longer than the block are counted in the run\'s log and left out; with none left, refused', async () => {
    const dir = await project(() => {});
    const file = path.join(dir, 'exemplars.jsonl');
    const recs = fs.readFileSync(file, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    recs[1] = { ...recs[1], rationale: String(recs[1].rationale).repeat(6) };
    fs.writeFileSync(file, recs.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const events: RunEvent[] = [];
    await runStar(await openProject(dir), { iterations: 1 }, (e) => events.push(e));
    const said = events.filter((e) => e.type === 'log').map((e) => (e as { message: string }).message).join('\n');
    assert.match(said, /2 of 16 training sequences of P are longer than blockSize 64 \+ 1 tokens and are left out of training \(longest \d+\): p-2, p-2 \(hint\)/);

    const none = await project(() => {});
    const all = path.join(none, 'exemplars.jsonl');
    const long = fs.readFileSync(all, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    fs.writeFileSync(all, long.map((r) => JSON.stringify({ ...r, rationale: String(r.rationale).repeat(8) })).join('\n') + '\n');
    const { message } = await refused(none);
    assert.match(message, /all 16 training sequences of P .* are longer than blockSize 64 \+ 1 tokens .* Set model\.blockSize to at least \d+/);
  });
});
