import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadExamples, loadExemplars, validateFile } from '../../src/engine/dataset';
import { JsonlError } from '../../src/engine/store/jsonl';
import { arithmetic } from '../../src/engine/tasks/arithmetic';
import { gsm8k } from '../../src/engine/tasks/gsm8k';

// The module object itself (not an import binding), so patching it is seen by dataset.ts at call time.
const realFs = require('node:fs') as typeof fs;

const repoRoot = path.resolve(__dirname, '..', '..', '..');
const gsmTest = path.resolve(repoRoot, '..', 'shared', 'datasets', 'gsm8k', 'test.jsonl');

function tmpFile(name: string, text: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'star-dataset-'));
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

function cleanup(file: string): void {
  fs.rmSync(path.dirname(file), { recursive: true, force: true });
}

const good = (q: string, a: string, id?: string) => JSON.stringify(id ? { id, question: q, answer: a } : { question: q, answer: a });

test('loadExamples: ids, lines, blank lines skipped', async () => {
  const file = tmpFile('add.jsonl', [good('1+2', '3', 'first'), '', good('58+67', '125'), ''].join('\n'));
  try {
    const exs = await loadExamples(file, arithmetic);
    assert.deepEqual(exs, [
      { id: 'first', question: '1+2', gold: '3', group: '1', line: 1 },
      { id: 'add.jsonl:3', question: '58+67', gold: '125', group: '2', line: 3 },
    ]);
  } finally {
    cleanup(file);
  }
});

test('loadExamples stops at the first bad line with file:line: reason', async () => {
  const file = tmpFile('bad.jsonl', [good('1+2', '3'), '{"question": "1+1", "answer": ', good('2+2', '5')].join('\n'));
  try {
    await assert.rejects(loadExamples(file, arithmetic), (e: unknown) => {
      assert.ok(e instanceof JsonlError);
      assert.equal(e.line, 2);
      assert.match(e.message, new RegExp(`^${file.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&')}:2: malformed JSON`));
      return true;
    });
  } finally {
    cleanup(file);
  }
  const wrong = tmpFile('wrong.jsonl', [good('1+2', '3'), good('2+2', '5')].join('\n'));
  try {
    await assert.rejects(loadExamples(wrong, arithmetic), /wrong\.jsonl:2: answer 5 is wrong: 2\+2=4/);
  } finally {
    cleanup(wrong);
  }
});

test('loaders: duplicate ids name the earlier line; empty and missing files are errors', async () => {
  const dup = tmpFile('dup.jsonl', [good('1+2', '3', 'a'), good('1+3', '4', 'b'), good('2+2', '4', 'a')].join('\n') + '\n');
  const empty = tmpFile('empty.jsonl', '\n  \n');
  try {
    await assert.rejects(loadExamples(dup, arithmetic), /dup\.jsonl:3: duplicate id "a" \(first used on line 1\)/);
    await assert.rejects(loadExamples(empty, arithmetic), /empty\.jsonl:0: no records/);
    await assert.rejects(loadExamples(path.join(os.tmpdir(), 'no-such-star-file.jsonl'), arithmetic), /:0: file not found/);
  } finally {
    cleanup(dup);
    cleanup(empty);
  }
});

test('loadExemplars reads P records with rationales', async () => {
  const file = tmpFile('p.jsonl', JSON.stringify({ question: '58+67', rationale: '8+7=15c1|5+6+1=12c1|', answer: '125' }) + '\n');
  try {
    const [p, ...rest] = await loadExemplars(file, arithmetic);
    assert.equal(rest.length, 0);
    assert.equal(p.rationale, '8+7=15c1|5+6+1=12c1|');
    assert.equal(p.line, 1);
    // the same file is not a valid exemplar file for a record lacking its rationale
    fs.appendFileSync(file, good('1+1', '2') + '\n');
    await assert.rejects(loadExemplars(file, arithmetic), /p\.jsonl:2: missing field "rationale"/);
  } finally {
    cleanup(file);
  }
});

test('validateFile reports every bad line and keeps reading', async () => {
  const lines = [
    good('1+2', '3', 'a'), // 1 ok
    'not json at all', // 2 malformed
    good('2+2', '5'), // 3 wrong sum
    '{"answer": "4"}', // 4 missing question
    '', // 5 blank
    good('3+3', '6', 'a'), // 6 duplicate id
    '[1, 2]', // 7 not an object
    good('4+4', '8'), // 8 ok
    '{"question": "4+4", "answer": ', // 9 malformed (torn last line)
  ];
  const file = tmpFile('v.jsonl', lines.join('\n'));
  try {
    const { records, errors } = await validateFile(file, arithmetic, 'examples');
    assert.equal(records, 2);
    assert.deepEqual(errors.map((e) => e.line), [2, 3, 4, 6, 7, 9]);
    assert.ok(errors.every((e) => e instanceof JsonlError && e.message.startsWith(`${file}:${e.line}: `)));
    assert.match(errors[0].reason, /^malformed JSON/);
    assert.match(errors[1].reason, /wrong/);
    assert.match(errors[2].reason, /missing field "question"/);
    assert.match(errors[3].reason, /duplicate id "a" \(first used on line 1\)/);
    assert.match(errors[4].reason, /not a JSON object/);
    assert.match(errors[5].reason, /^malformed JSON/);
    // as exemplars every parsed record also lacks its rationale (line 6 is then no duplicate: line 1 never loaded)
    const asP = await validateFile(file, arithmetic, 'exemplars');
    assert.equal(asP.records, 0);
    assert.deepEqual(asP.errors.map((e) => e.line), [1, 2, 3, 4, 6, 7, 8, 9]);
  } finally {
    cleanup(file);
  }
});

test('validateFile: missing file and empty file are reported at line 0', async () => {
  const missing = path.join(os.tmpdir(), 'no-such-star-file.jsonl');
  const v1 = await validateFile(missing, arithmetic, 'examples');
  assert.equal(v1.records, 0);
  assert.deepEqual(v1.errors.map((e) => [e.line, e.reason]), [[0, 'file not found']]);
  const empty = tmpFile('empty.jsonl', '');
  try {
    const v2 = await validateFile(empty, arithmetic, 'examples');
    assert.deepEqual(v2.errors.map((e) => e.message), [`${empty}:0: no records`]);
  } finally {
    cleanup(empty);
  }
  // a file of only bad lines reports those lines, not "no records"
  const bad = tmpFile('bad.jsonl', '{oops\n');
  try {
    const v3 = await validateFile(bad, arithmetic, 'examples');
    assert.deepEqual(v3.errors.map((e) => e.line), [1]);
  } finally {
    cleanup(bad);
  }
});

test('validateFile streams a ~100 MB file', { timeout: 60_000 }, async () => {
  // The real GSM8K test split repeated to ~100 MB, with a few bad lines planted far into the file.
  const chunk = fs.readFileSync(gsmTest, 'utf8');
  const chunkLines = chunk.split('\n').filter((l) => l.trim() !== '').length;
  const copies = Math.ceil((100 * 1024 * 1024) / Buffer.byteLength(chunk));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'star-big-'));
  const file = path.join(dir, 'big.jsonl');
  const fd = fs.openSync(file, 'w');
  const badLines: number[] = [];
  let line = 0;
  try {
    for (let i = 0; i < copies; i++) {
      fs.writeSync(fd, chunk.endsWith('\n') ? chunk : chunk + '\n');
      line += chunkLines;
      if (i % 40 === 39) {
        fs.writeSync(fd, '{"question": "torn\n');
        badLines.push(++line);
      }
    }
    fs.closeSync(fd);
    assert.ok(fs.statSync(file).size >= 100 * 1024 * 1024);

    // Any whole-file read of this path fails the test: it must be streamed. (Patched on the module object itself,
    // which dataset.ts's import reads through at call time.)
    const readFileSync = realFs.readFileSync;
    const readFile = realFs.promises.readFile;
    const refuse = (p: unknown) => {
      if (String(p) === file) throw new Error('read whole instead of streamed');
    };
    const baseRss = process.memoryUsage().rss;
    let peakRss = baseRss;
    const timer = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 20);
    let result: Awaited<ReturnType<typeof validateFile>>;
    try {
      realFs.readFileSync = ((p: fs.PathOrFileDescriptor, o?: never) => (refuse(p), readFileSync(p, o))) as typeof readFileSync;
      realFs.promises.readFile = ((p: fs.PathLike, o?: never) => (refuse(p), readFile(p, o))) as typeof readFile;
      result = await validateFile(file, gsm8k, 'examples');
    } finally {
      realFs.readFileSync = readFileSync;
      realFs.promises.readFile = readFile;
      clearInterval(timer);
    }
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
    const { records, errors } = result;

    assert.equal(records, copies * chunkLines);
    assert.deepEqual(errors.map((e) => e.line), badLines);
    // A gross-regression guard (e.g. keeping every example); streaming itself grows by ~70 MB here, mostly ids.
    const grownMb = (peakRss - baseRss) / 1024 / 1024;
    assert.ok(grownMb < 150, `memory grew by ${grownMb.toFixed(0)} MB while validating`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
