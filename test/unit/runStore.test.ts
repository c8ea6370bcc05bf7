import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { appendJsonl, readAppendLog, writeJsonAtomic } from '../../src/engine/store/jsonl';
import type { RunJson } from '../../src/engine/store/format';
import { RunStore } from '../../src/engine/store/runStore';
import { TrainLossLog } from '../../src/engine/store/trainLossLog';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'star-store-'));

describe('run store', () => {
  test('the latest run is the newest, also when two runs start within one second', () => {
    const dir = tmp();
    const t = Date.parse('2026-11-26T12:00:00.900Z');
    const created = [0, 5, 40].map((ms) => RunStore.create(dir, { id: RunStore.newRunId(new Date(t + ms)) } as RunJson).id);
    assert.deepEqual(RunStore.list(dir), created);
    assert.equal(RunStore.latest(dir)!.id, created[2]);
  });

  test('a torn last line is dropped, and cut from the file when repairing, so appends can go on', () => {
    const f = path.join(tmp(), 'g.jsonl');
    appendJsonl(f, [{ id: 'a' }, { id: 'b' }]);
    fs.appendFileSync(f, '{"id":"c","quest');
    assert.deepEqual(readAppendLog<{ id: string }>(f).map((r) => r.id), ['a', 'b']);
    assert.ok(fs.readFileSync(f, 'utf8').endsWith('quest'), 'reading alone changes nothing');
    readAppendLog(f, true);
    appendJsonl(f, [{ id: 'c' }]);
    assert.deepEqual(readAppendLog<{ id: string }>(f).map((r) => r.id), ['a', 'b', 'c']);
  });

  test('the loss log: each step once after a resume replays steps from a checkpoint or restarts, and a torn line is cut', () => {
    const f = path.join(tmp(), 'train-loss.jsonl');
    const steps = () => readAppendLog<{ step: number; loss: number | null }>(f).map((l) => l.step);
    let log = new TrainLossLog(f, 0); // every add written at once
    for (let s = 1; s <= 6; s++) log.add(s, 1 / s);
    assert.deepEqual(steps(), [1, 2, 3, 4, 5, 6]);
    // killed mid-write after step 6; the checkpoint was at step 4, so a new process trains 5, 6, 7 again
    fs.appendFileSync(f, '{"step":7,"lo');
    log = new TrainLossLog(f, 0);
    for (const s of [5, 6, 7]) log.add(s, 2 / s);
    assert.deepEqual(steps(), [1, 2, 3, 4, 5, 6, 7]);
    assert.equal(readAppendLog<{ loss: number }>(f)[4].loss, 2 / 5, 'the replayed step\'s loss');
    // no checkpoint at all: training starts over
    log = new TrainLossLog(f, 0);
    log.add(1, 9);
    log.add(2, Infinity);
    assert.deepEqual(readAppendLog(f), [{ step: 1, loss: 9 }, { step: 2, loss: null }]);
    // buffered: nothing on disk until a flush (or a second has passed)
    log = new TrainLossLog(f, 60_000);
    log.add(3, 1);
    assert.deepEqual(steps(), [1, 2]);
    log.flush();
    assert.deepEqual(steps(), [1, 2, 3]);
  });

  test('an atomic write leaves no temporary file and replaces the whole content', () => {
    const d = tmp();
    const f = path.join(d, 'm.json');
    writeJsonAtomic(f, { a: 1, long: 'x'.repeat(1000) });
    writeJsonAtomic(f, { a: 2 });
    assert.deepEqual(JSON.parse(fs.readFileSync(f, 'utf8')), { a: 2 });
    assert.deepEqual(fs.readdirSync(d), ['m.json']);
  });
});
