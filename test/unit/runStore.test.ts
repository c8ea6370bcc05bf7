import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { appendJsonl, readAppendLog, writeJsonAtomic } from '../../src/engine/store/jsonl';
import { LOCK_FILE, RunJson, WriterLock } from '../../src/engine/store/format';
import { acquireRunLock, RunLockedError } from '../../src/engine/store/runLock';
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

describe('the writer lock', () => {
  const lockOf = (dir: string, h: Partial<WriterLock>) =>
    fs.writeFileSync(path.join(dir, LOCK_FILE), JSON.stringify({ pid: process.pid, host: os.hostname(), startedAt: 'then', command: 'star run', ...h }));

  test('a live holder is refused by name; its own process sees it alive', () => {
    const dir = tmp();
    const held = acquireRunLock(dir, 'star run p');
    assert.throws(() => acquireRunLock(dir), (e: Error) => e instanceof RunLockedError && e.message.includes(`pid ${process.pid} on ${os.hostname()}`));
    held.release();
    assert.ok(!fs.existsSync(path.join(dir, LOCK_FILE)));
  });

  test('a lock of another machine is refused with how to clear it, never taken over', () => {
    const dir = tmp();
    lockOf(dir, { host: 'elsewhere' });
    assert.throws(() => acquireRunLock(dir), new RegExp(`pid ${process.pid} on elsewhere.*if it is gone, delete .*${LOCK_FILE}`));
  });

  test('a pid now used by another process, a lock of an earlier boot, and an unreadable old lock are taken over', () => {
    for (const stale of [{ procStart: '1' }, { bootId: 'an-earlier-boot' }]) {
      const dir = tmp();
      lockOf(dir, { pid: process.ppid, ...stale }); // the parent is alive, but it is not the process that wrote this
      const held = acquireRunLock(dir);
      assert.equal(held.tookOver?.pid, process.ppid, JSON.stringify(stale));
      held.release();
    }
    const dir = tmp();
    fs.writeFileSync(path.join(dir, LOCK_FILE), '{"pid": 12');
    const old = new Date(Date.now() - 60_000);
    fs.utimesSync(path.join(dir, LOCK_FILE), old, old);
    assert.equal(acquireRunLock(dir).tookOver?.command, 'unreadable lock');
  });
});
