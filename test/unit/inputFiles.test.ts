// Files as editors, spreadsheets and hubs save them, and answers as people write them. A corpus made from real
// records (the GSM8K test split and the MATH-500 parquet in ../shared) re-encoded and re-packed the ways files
// arrive: what is harmless is read as the original, everything else gets one message naming what the file is —
// through validateFile and through the `star` command a person types, whose terminal never gets raw bytes.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { loadExamples, loadRecords, validateFile } from '../../src/engine/dataset';
import { ConfigError, loadProjectConfig } from '../../src/engine/project';
import { arithmetic } from '../../src/engine/tasks/arithmetic';
import { gsm8k } from '../../src/engine/tasks/gsm8k';
import { extractNumber, normalizeNumber } from '../../src/engine/tasks/numbers';
import { decodeTextFile, invalidUtf8At, printable } from '../../src/engine/textEncoding';

// out/test/unit → repo root → its sibling shared/ (read in place, never copied into the repo)
const repoRoot = path.resolve(__dirname, '..', '..', '..');
const shared = path.resolve(repoRoot, '..', 'shared', 'datasets');
const CLI = path.join(repoRoot, 'dist', 'cli.js');

// 60 real GSM8K test records: more than one 4 KB head, all ASCII (GSM8K escapes its curly quotes as \u2019).
const realLines = fs.readFileSync(path.join(shared, 'gsm8k', 'test.jsonl'), 'utf8').split('\n').filter((l) => l.trim()).slice(0, 60);
const realText = realLines.join('\n') + '\n';
const bytes = (s: string) => Buffer.from(s, 'utf8');
const swap16 = (b: Buffer) => Buffer.from(b).swap16();
const utf16le = (s: string) => Buffer.from(s, 'utf16le');
const utf32le = (s: string) => {
  const cps = [...s].map((c) => c.codePointAt(0)!);
  const out = Buffer.alloc(cps.length * 4);
  cps.forEach((cp, i) => out.writeUInt32LE(cp, i * 4));
  return out;
};
const BOM8 = Buffer.from([0xef, 0xbb, 0xbf]);
const BOM16LE = Buffer.from([0xff, 0xfe]);
const BOM16BE = Buffer.from([0xfe, 0xff]);

// A zip's first local file header naming its first entry, as an .xlsx or a zipped JSONL starts.
function zipHead(name: string, data: string): Buffer {
  const h = Buffer.alloc(30);
  h.writeUInt32LE(0x04034b50, 0);
  h.writeUInt16LE(20, 4);
  h.writeUInt32LE(data.length, 18);
  h.writeUInt32LE(data.length, 22);
  h.writeUInt16LE(name.length, 26);
  return Buffer.concat([h, Buffer.from(name, 'latin1'), Buffer.from(data, 'latin1')]);
}

// Line 3 with one word in Latin-1: "café", the é a single byte 0xE9.
const latin1Line = 3;
const latin1Text = realLines.map((l, i) => (i === latin1Line - 1 ? l.replace('"question": "', '"question": "At the café: ') : l)).join('\n') + '\n';
const latin1Column = realLines[latin1Line - 1].indexOf('"question": "') + '"question": "At the caf'.length + 1;

// A NUL in line 50, beyond the first 4 KB, and one in the first line.
const nulLate = Buffer.concat([bytes(realLines.slice(0, 49).join('\n') + '\n'), bytes('{"question": "x'), Buffer.from([0]), bytes('y"}\n')]);
assert.ok(nulLate.indexOf(0) > 4096);

const EXPECTED = 'JSON Lines (one JSON object per line) expected';
const PARQUET = path.join(shared, 'math500', 'qa-pyarrow.parquet');
const gzipped = zlib.gzipSync(bytes(realText));

/** Harmless differences: read as the original records, line for line. */
const accepted: Record<string, Buffer> = {
  'bom.jsonl': Buffer.concat([BOM8, bytes(realText)]),
  'crlf.jsonl': bytes(realText.replace(/\n/g, '\r\n')),
  'cr.jsonl': bytes(realText.replace(/\n/g, '\r')),
  'no-final-newline.jsonl': bytes(realText.slice(0, -1)),
  'bom-crlf-no-final-newline.jsonl': Buffer.concat([BOM8, bytes(realText.slice(0, -1).replace(/\n/g, '\r\n'))]),
  // gzip is read decompressed (a hub's .jsonl.gz as downloaded)
  'gzip.jsonl.gz': gzipped,
  'gzip-bom-crlf.jsonl.gz': zlib.gzipSync(Buffer.concat([BOM8, bytes(realText.replace(/\n/g, '\r\n'))])),
};

/** Not JSON Lines as UTF-8: one message each, naming what the file is; [line, reason, valid records before it]. */
const rejected: Record<string, { data: Buffer; line: number; reason: string; records?: number }> = {
  'utf16le-bom.jsonl': { data: Buffer.concat([BOM16LE, utf16le(realText)]), line: 0, reason: 'UTF-16 (little-endian) text: save it as UTF-8' },
  'utf16le.jsonl': { data: utf16le(realText), line: 0, reason: 'UTF-16 (little-endian) text: save it as UTF-8' },
  'utf16be-bom.jsonl': { data: Buffer.concat([BOM16BE, swap16(utf16le(realText))]), line: 0, reason: 'UTF-16 (big-endian) text: save it as UTF-8' },
  'utf16be.jsonl': { data: swap16(utf16le(realText)), line: 0, reason: 'UTF-16 (big-endian) text: save it as UTF-8' },
  'utf32le-bom.jsonl': { data: utf32le('\ufeff' + realText), line: 0, reason: 'UTF-32 (little-endian) text: save it as UTF-8' },
  'utf32le.jsonl': { data: utf32le(realText), line: 0, reason: 'UTF-32 (little-endian) text: save it as UTF-8' },
  'utf32be.jsonl': { data: Buffer.from(utf32le(realText)).swap32(), line: 0, reason: 'UTF-32 (big-endian) text: save it as UTF-8' },
  'latin1.jsonl': {
    data: Buffer.from(latin1Text, 'latin1'),
    line: latin1Line,
    reason: `invalid UTF-8 (byte 0xE9 at column ${latin1Column}; the file may be Latin-1/Windows-1252: save it as UTF-8)`,
    records: latin1Line - 1,
  },
  // Windows-1252's curly apostrophe, 0x92, where GSM8K has \u2019
  'cp1252.jsonl': {
    data: Buffer.from(realText.replace('\\u2019', '\x92'), 'latin1'),
    line: 1,
    reason: `invalid UTF-8 (byte 0x92 at column ${realLines[0].indexOf('\\u2019') + 1}; the file may be Latin-1/Windows-1252: save it as UTF-8)`,
    records: 0,
  },
  'gzip-utf16.jsonl.gz': {
    data: zlib.gzipSync(Buffer.concat([BOM16LE, utf16le(realText)])),
    line: 0,
    reason: 'gzip-compressed, and inside: UTF-16 (little-endian) text: save it as UTF-8',
  },
  'gzip-cut-short.jsonl.gz': {
    data: gzipped.subarray(0, gzipped.length - 20),
    line: 0,
    reason: 'gzip-compressed, but damaged or cut short (unexpected end of file)',
    // what came before the cut was read (the lines zlib can still give whole); the error says the rest is missing
    records: zlib.gunzipSync(gzipped.subarray(0, gzipped.length - 20), { finishFlush: zlib.constants.Z_SYNC_FLUSH }).toString().split('\n').length - 1,
  },
  'array-pretty.json': {
    data: bytes(JSON.stringify(realLines.map((l) => JSON.parse(l)), null, 2)),
    line: 0,
    reason: "a JSON array, expected JSON Lines (one object per line): convert it with jq -c '.[]' FILE > OUT.jsonl",
  },
  'array-one-line.json': {
    data: bytes(JSON.stringify(realLines.map((l) => JSON.parse(l))) + '\n'),
    line: 0,
    reason: "a JSON array, expected JSON Lines (one object per line): convert it with jq -c '.[]' FILE > OUT.jsonl",
  },
  'pretty-records.jsonl': {
    data: bytes(realLines.map((l) => JSON.stringify(JSON.parse(l), null, 2)).join('\n') + '\n'),
    line: 0,
    reason: 'pretty-printed JSON (one value over several lines), expected JSON Lines (one object per line): convert it with jq -c . FILE > OUT.jsonl',
  },
  'hub-rows.json': {
    data: bytes(JSON.stringify({ rows: realLines.map((l) => JSON.parse(l)) }, null, 2)),
    line: 0,
    reason: 'pretty-printed JSON (one value over several lines), expected JSON Lines (one object per line): convert it with jq -c . FILE > OUT.jsonl',
  },
  'math500.parquet': {
    data: fs.readFileSync(PARQUET),
    line: 0,
    reason: `a Parquet file: ${EXPECTED}; convert it, e.g. in Python: pandas.read_parquet(FILE).to_json(OUT, orient="records", lines=True)`,
  },
  'sheet.xlsx': {
    data: zipHead('[Content_Types].xml', '<?xml version="1.0"?><Types><Override PartName="/xl/workbook.xml"/></Types>'),
    line: 0,
    reason: `an Excel workbook (.xlsx): ${EXPECTED}; export the sheet and convert each row to a JSON object`,
  },
  'zipped.jsonl.zip': { data: zipHead('test.jsonl', realText), line: 0, reason: `a zip archive: ${EXPECTED}; unzip it first` },
  'sheet.xls': {
    data: Buffer.concat([Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]), Buffer.alloc(504)]),
    line: 0,
    reason: `an old-format Office file (an Excel .xls workbook?): ${EXPECTED}`,
  },
  'bzip2.jsonl.bz2': { data: Buffer.from('BZh91AY&SY\x01\x02', 'latin1'), line: 0, reason: 'bzip2-compressed: decompress it first (bunzip2 FILE)' },
  'nul-first-line.jsonl': {
    data: Buffer.concat([bytes('{"question": "a'), Buffer.from([0]), bytes('"}\n'), bytes(realText)]),
    line: 1, // text up to it: its line and column
    reason: `binary content (a NUL byte at column 16): not a text file; ${EXPECTED}`,
  },
  'nul-line-50.jsonl': { data: nulLate, line: 50, reason: `binary content (a NUL byte at column 16): not a text file; ${EXPECTED}`, records: 49 },
  'image.png': {
    data: Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d]), bytes('IHDR'), Buffer.alloc(64, 7)]),
    line: 0,
    reason: `binary content (a NUL byte at byte 9): not a text file; ${EXPECTED}`,
  },
  'spreadsheet.csv': {
    data: bytes('question,answer\r\n"Janet has 3 ducks, how many?","#### 3"\r\n'),
    line: 0,
    reason: 'CSV (comma-separated) with a header row, expected JSON Lines (one JSON object per line, e.g. {"question": ..., "answer": ...})',
  },
  'spreadsheet.tsv': {
    data: bytes('question\tanswer\nJanet has 3 ducks\t#### 3\n'),
    line: 0,
    reason: 'TSV (tab-separated) with a header row, expected JSON Lines (one JSON object per line, e.g. {"question": ..., "answer": ...})',
  },
  'hub-page.jsonl': {
    data: bytes('\n<!DOCTYPE html>\n<html lang="en"><head><title>test.jsonl</title></head>\x1b[31m</html>\n'),
    line: 0,
    reason: 'an HTML page, not the data (a download that saved the web page?): fetch the raw file',
  },
  'lfs-pointer.jsonl': {
    data: bytes('version https://git-lfs.github.com/spec/v1\noid sha256:4d7a2146a6b5b0fbd5cd8a5d5b7a1b0c\nsize 732968\n'),
    line: 0,
    reason: 'a Git LFS pointer, not the data: fetch the file itself (git lfs pull)',
  },
};

function corpusDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'star-inputs-'));
  fs.writeFileSync(path.join(dir, 'original.jsonl'), realText);
  for (const [name, data] of Object.entries(accepted)) fs.writeFileSync(path.join(dir, name), data);
  for (const [name, { data }] of Object.entries(rejected)) fs.writeFileSync(path.join(dir, name), data);
  return dir;
}

// Anything a terminal would act on or hide: controls other than the newline ending each message, DEL, C1.
const CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/;

test('harmless differences (BOM, CRLF, lone CR, no final newline, gzip) read as the original records', async () => {
  const dir = corpusDir();
  try {
    const original = await loadRecords(path.join(dir, 'original.jsonl'), gsm8k, 'examples');
    const originalExamples = await loadExamples(path.join(dir, 'original.jsonl'), gsm8k);
    assert.equal(original.length, 60);
    for (const name of Object.keys(accepted)) {
      const file = path.join(dir, name);
      assert.deepEqual(await loadRecords(file, gsm8k, 'examples'), original, name);
      const exs = await loadExamples(file, gsm8k);
      // ids fall back to `<basename>:<line>`: the lines are the same lines
      assert.deepEqual(exs.map((e) => [e.line, e.gold, e.question]), originalExamples.map((e) => [e.line, e.gold, e.question]), name);
      assert.deepEqual(await validateFile(file, gsm8k, 'examples'), { records: 60, errors: [] }, name);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('every other encoding and format gets one message naming it, through validateFile and the loaders', async () => {
  const dir = corpusDir();
  try {
    for (const [name, want] of Object.entries(rejected)) {
      const file = path.join(dir, name);
      const { records, errors } = await validateFile(file, gsm8k, 'examples');
      assert.deepEqual(errors.map((e) => [e.line, e.reason]), [[want.line, want.reason]], name);
      assert.equal(errors[0].message, `${file}:${want.line}: ${want.reason}`);
      assert.equal(records, want.records ?? 0, name);
      await assert.rejects(loadExamples(file, gsm8k), (e: Error) => e.message === `${file}:${want.line}: ${want.reason}`, name);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

// The CLI as a person runs it (each start costs most of a second, so a few at a time).
let running = 0;
const waiting: (() => void)[] = [];
async function star(...args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  if (running >= Math.max(2, os.cpus().length)) await new Promise<void>((go) => waiting.push(go));
  running++;
  try {
    return await new Promise((resolve) => {
      execFile(process.execPath, [CLI, ...args], { encoding: 'utf8', maxBuffer: 1 << 24 }, (err, stdout, stderr) =>
        resolve({ status: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
    });
  } finally {
    running--;
    waiting.shift()?.();
  }
}

// `star init --from` for one file of each kind of problem (the rest share its code path, checked by validate)
const INIT_FROM = ['utf16le-bom.jsonl', 'latin1.jsonl', 'gzip-cut-short.jsonl.gz', 'array-pretty.json', 'math500.parquet', 'sheet.xlsx', 'nul-line-50.jsonl', 'spreadsheet.csv'];

test('star validate and star init --from: the same one message, a clean terminal, and init writes nothing', { timeout: 300_000 }, async () => {
  const dir = corpusDir();
  try {
    await Promise.all(Object.entries(rejected).map(async ([name, want]) => {
      const file = path.join(dir, name);
      const v = await star('validate', file, '--task', 'gsm8k');
      assert.equal(v.status, 1, name);
      assert.equal(v.stderr, `${file}:${want.line}: ${want.reason}\n`, name);
      assert.equal(v.stdout, `${file}: ${want.records ?? 0} valid record(s), 1 error(s)\n`, name);
      for (const out of [v.stdout, v.stderr]) assert.ok(!CONTROL.test(out), `control bytes on the terminal for ${name}`);
      if (!INIT_FROM.includes(name)) return;
      const project = path.join(dir, `project-${name}`);
      const i = await star('init', project, '--task', 'gsm8k', '--from', file);
      assert.equal(i.status, 1, name);
      assert.equal(i.stderr, `star: ${file}:${want.line}: ${want.reason}\n`, name);
      assert.ok(!fs.existsSync(project), `init from ${name} wrote ${project}`);
      for (const out of [i.stdout, i.stderr]) assert.ok(!CONTROL.test(out), `control bytes on the terminal for ${name}`);
    }));
    // accepted ones make the same project as the original
    const made = async (name: string) => {
      const project = path.join(dir, `project-${name}`);
      const r = await star('init', project, '--task', 'gsm8k', '--from', path.join(dir, name));
      assert.equal(r.status, 0, `${name}: ${r.stderr}`);
      return ['exemplars.jsonl', 'data/train.jsonl', 'data/eval.jsonl'].map((f) => fs.readFileSync(path.join(project, f), 'utf8'));
    };
    const [original, ...others] = await Promise.all(['original.jsonl', 'bom-crlf-no-final-newline.jsonl', 'cr.jsonl', 'gzip.jsonl.gz'].map(made));
    for (const files of others) assert.deepEqual(files, original);
    const v = await star('validate', path.join(dir, 'gzip-bom-crlf.jsonl.gz'), '--task', 'gsm8k');
    assert.equal(v.stdout, `${path.join(dir, 'gzip-bom-crlf.jsonl.gz')}: 60 valid record(s), 0 error(s)\n`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('line by line: bad UTF-8 forms, control characters, a Python dict, 10 MB lines', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'star-lines-'));
  const write = (name: string, ...parts: (string | Buffer)[]) => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, Buffer.concat(parts.map((p) => (typeof p === 'string' ? bytes(p) : p))));
    return file;
  };
  const ok = realLines[0] + '\n';
  const hint = 'the file may be Latin-1/Windows-1252: save it as UTF-8';
  try {
    // each is a form TextDecoder's fatal mode refuses; the message names the first bad byte and its column
    const forms: [string, Buffer, string][] = [
      ['overlong "/"', Buffer.from([0xc0, 0xaf]), '0xC0'],
      ['a UTF-16 surrogate', Buffer.from([0xed, 0xa0, 0x80]), '0xED'],
      ['past U+10FFFF', Buffer.from([0xf4, 0x90, 0x80, 0x80]), '0xF4'],
      ['a lone continuation byte', Buffer.from([0x80]), '0x80'],
      ['0xFF', Buffer.from([0xff]), '0xFF'],
      ['a sequence cut short', Buffer.from([0xe2, 0x82]), '0xE2'],
    ];
    for (const [what, bad, hex] of forms) {
      const file = write('bad.jsonl', ok, '{"question": "é ', bad, ' x", "answer": "#### 1"}\n', ok);
      const { records, errors } = await validateFile(file, gsm8k, 'examples');
      assert.deepEqual(errors.map((e) => [e.line, e.reason]), [[2, `invalid UTF-8 (byte ${hex} at column 17; ${hint})`]], what);
      assert.equal(records, 1);
      assert.equal(invalidUtf8At(Buffer.concat([bytes('é '), bad])), 3, what);
    }
    // valid multi-byte text is not flagged anywhere
    assert.equal(invalidUtf8At(bytes('é € 𝄞 ✓')), -1);

    // raw control characters: malformed JSON, reported escaped; the scan goes on past them
    const ctl = write('ctl.jsonl', '{"question": "a\x1b[2J\x07b", "answer": "#### 1"}\n', 'oops \x1b]0;title\x07\n', ok);
    const c = await validateFile(ctl, gsm8k, 'examples');
    assert.equal(c.records, 1);
    assert.deepEqual(c.errors.map((e) => e.line), [1, 2]);
    // (the words inside the parentheses are V8's, and differ between Node versions)
    assert.match(c.errors[0].reason, /^malformed JSON \(Bad control character in string literal/);
    assert.ok(c.errors[1].reason.includes('oops \\u001b]0;title\\u0007'), c.errors[1].reason);
    for (const e of c.errors) assert.ok(!CONTROL.test(e.message), e.message);

    // Python's repr of a dict
    const py = write('py.jsonl', ok, "{'question': 'How many?', 'answer': '#### 3'}\n");
    const p = await validateFile(py, gsm8k, 'examples');
    assert.deepEqual(p.errors.map((e) => e.line), [2]);
    assert.match(p.errors[0].reason, /^malformed JSON \(.*\); JSON takes double quotes: this looks like a Python dict$/);

    // a 10 MB record is read; a 10 MB bad line gets a short message
    const long = 'x'.repeat(10 * 1024 * 1024);
    const big = write('big.jsonl', ok, JSON.stringify({ question: long, answer: 'so\n#### 5' }) + '\n', `{"question": "${long}\n`, long + '\n');
    const b = await validateFile(big, gsm8k, 'examples');
    assert.equal(b.records, 2);
    assert.deepEqual(b.errors.map((e) => e.line), [3, 4]);
    for (const e of b.errors) assert.ok(e.message.length < 500, `${e.message.length} characters`);
    const [, second] = await loadExamples(write('big2.jsonl', ok, JSON.stringify({ question: long, answer: '#### 5' })), gsm8k);
    assert.equal(second.question.length, long.length);

    // a long value quoted in a task's message is cut short too
    const longAnswer = write('ans.jsonl', JSON.stringify({ question: 'q', answer: `#### ${'7 '.repeat(5000)}` }) + '\n');
    const a = await validateFile(longAnswer, gsm8k, 'examples');
    assert.equal(a.errors[0].reason, `final answer "${'7 '.repeat(30)}..." after "####" is not a number (a space between digits: one number is written 1200 or 1,200)`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('printable escapes what a terminal would act on and cuts long text', () => {
  assert.equal(printable('a\u0000b\u001b[31mc\td\ne\u202ef\u0085'), 'a\\u0000b\\u001b[31mc\\td\\ne\\u202ef\\u0085');
  assert.equal(printable('x'.repeat(100), 10), 'xxxxxxxxxx...');
  assert.equal(printable('😀'.repeat(10), 5), '😀😀...'); // never half a surrogate pair
  assert.equal(printable('café ✓ 𝄞'), 'café ✓ 𝄞');
});

test('star.json: a BOM is accepted; UTF-16 and invalid UTF-8 get the same wording as data files', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'star-config-'));
  const file = path.join(dir, 'star.json');
  const config = '{\n  "task": "gsm8k",\n  "model": {\n    "name": "café"\n  }\n}\n';
  const rejects = (data: Buffer, message: string) => {
    fs.writeFileSync(file, data);
    assert.throws(() => loadProjectConfig(dir), (e: unknown) => e instanceof ConfigError && e.message === message);
  };
  try {
    fs.writeFileSync(file, Buffer.concat([BOM8, bytes('{"task": "gsm8k"}\n')]));
    assert.equal(loadProjectConfig(dir).task, 'gsm8k');
    fs.writeFileSync(file, bytes('{"task": "gsm8k"}\r\n'));
    assert.equal(loadProjectConfig(dir).task, 'gsm8k');
    rejects(Buffer.concat([BOM16LE, utf16le(config)]), `${file}:0: UTF-16 (little-endian) text: save it as UTF-8`);
    rejects(utf16le(config), `${file}:0: UTF-16 (little-endian) text: save it as UTF-8`);
    rejects(Buffer.from(config, 'latin1'), `${file}:4: invalid UTF-8 (byte 0xE9 at column 17; the file may be Latin-1/Windows-1252: save it as UTF-8)`);
    rejects(Buffer.from(config.replace(/\n/g, '\r\n'), 'latin1'), `${file}:4: invalid UTF-8 (byte 0xE9 at column 17; the file may be Latin-1/Windows-1252: save it as UTF-8)`);
    rejects(zlib.gzipSync(bytes(config)), `${file}:0: gzip-compressed: decompress it first (gunzip FILE)`);
    rejects(bytes(config.replace('café', 'caf\u0000')), `${file}:4: binary content (a NUL byte at column 17): not a text file; ${EXPECTED}`);
    assert.deepEqual(decodeTextFile(Buffer.concat([BOM8, bytes('é')])), { text: 'é' });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

// ---------- answers read as written ----------

test('normalizeNumber: one number as people write it, and nothing else', () => {
  const yes: [string, string][] = [
    ['72', '72'], ['1,000', '1000'], ['12,345.6', '12345.6'], ['1,000,000', '1000000'], ['$1,000.', '1000'],
    ['$ 1,000', '1000'], ['-$5', '-5'], ['$-5', '-5'], ['+5', '5'], ['\u22127', '-7'], ['12%', '12'], ['12 %', '12'],
    ['18.00', '18'], ['.5', '0.5'], ['0.50', '0.5'], ['3.', '3'], [' \t72\u00a0', '72'], ['-0.0', '0'],
    ['123456789012345678901234567890', '123456789012345678901234567890'],
  ];
  const no = [
    '1 2', '1,5', '1,50', '12,34', '1,0000', '1000,000', ',5', '5,', '1,,000', '1 000', '1\u00a0000', '1\u202f000',
    '1.000,5', '1.2.3', '-$-5', '--5', '$', '%', '.', '-', '1e5', '0x10', 'twelve', '12 apples', '5/2', '1-2',
  ];
  for (const [s, want] of yes) assert.equal(normalizeNumber(s), want, JSON.stringify(s));
  for (const s of no) assert.equal(normalizeNumber(s), null, JSON.stringify(s));
});

test('model answers: one number is read, anything else is unparsed, never a different number', () => {
  const read: [string, string][] = [
    [' 3+4=7.\n#### 72', '72'], [' x\n#### $1,000.', '1000'], [' So 2*9=18.\nThe answer is 18.', '18'],
    [' x\n#### 1,080', '1080'], [' x\n#### -7', '-7'], [' x\n#### 0.5', '0.5'], [' x\n#### 18.00\n\nQ: next', '18'],
    [' x\n#### 5 dollars', '5'], [' x\n#### 12%', '12'], [' The answer is $1,000 dollars.', '1000'],
    [' The answer is 5, because 2+3=5.', '5'], [' x\n####72', '72'], [' x\n#### 1,000,000.', '1000000'],
  ];
  const unparsed = [
    ' x\n#### 1 2', ' x\n#### 1,5', ' The answer is 1,5', ' The answer is 1,5.', ' x\n#### 100 000', ' x\n#### 1.2.3',
    ' x\n#### 12,34', ' x\n#### twelve', ' x\n#### ', ' I think 12',
  ];
  for (const [c, want] of read) assert.equal(gsm8k.parse(c).answer, want, JSON.stringify(c));
  for (const c of unparsed) assert.equal(gsm8k.parse(c).answer, null, JSON.stringify(c));
  assert.equal(extractNumber('no number here'), null);
  assert.equal(extractNumber('it is 1 2 or so'), null);
  // arithmetic reads digits only
  assert.equal(arithmetic.parse('3+5=8c0|>1 2\n').answer, null);
  assert.equal(arithmetic.parse('3+5=8c0|>8\n').answer, '8');
});

test('gold answers that are not one number are an error at their line, naming the text', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'star-gold-'));
  try {
    const rec = (answer: string, extra: object = {}) => JSON.stringify({ question: 'How many?', answer, ...extra });
    const d = path.join(dir, 'd.jsonl');
    fs.writeFileSync(d, [realLines[0], rec('6 and 6 make 12.\n#### 1 2'), realLines[1], rec('#### 1,5'), rec('#### 1,000'), rec('#### 12,34')].join('\n') + '\n');
    const v = await validateFile(d, gsm8k, 'examples');
    assert.equal(v.records, 3);
    assert.deepEqual(v.errors.map((e) => [e.line, e.reason]), [
      [2, 'final answer "1 2" after "####" is not a number (a space between digits: one number is written 1200 or 1,200)'],
      [4, 'final answer "1,5" after "####" is not a number (a comma only separates thousands, as in 1,000; a decimal takes a point: 1.5)'],
      [6, 'final answer "12,34" after "####" is not a number (a comma only separates thousands, as in 1,000; a decimal takes a point: 1.5)'],
    ]);
    const p = path.join(dir, 'p.jsonl');
    fs.writeFileSync(p, [rec('1 2', { rationale: 'r' }), rec('$1,000.', { rationale: 'r' }), rec('1,5', { rationale: 'r' })].join('\n') + '\n');
    const vp = await validateFile(p, gsm8k, 'exemplars');
    assert.deepEqual(vp.errors.map((e) => [e.line, e.reason]), [
      [1, 'field "answer" "1 2" is not a number (a space between digits: one number is written 1200 or 1,200)'],
      [3, 'field "answer" "1,5" is not a number (a comma only separates thousands, as in 1,000; a decimal takes a point: 1.5)'],
    ]);
    const a = path.join(dir, 'a.jsonl');
    fs.writeFileSync(a, [JSON.stringify({ question: '5+7', answer: '1 2' }), JSON.stringify({ question: '5+7', answer: '12' })].join('\n') + '\n');
    const va = await validateFile(a, arithmetic, 'examples');
    assert.deepEqual(va.errors.map((e) => [e.line, e.reason]), [[1, 'answer "1 2" is not a non-negative integer']]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

// The normalisation before answers were read as written: every whitespace and comma dropped.
function oldNormalize(s: string): string | null {
  const t = s.replace(/[$,%\s]/g, '').replace(/\.+$/, '');
  const m = /^([+-]?)(\d*)(?:\.(\d*))?$/.exec(t);
  if (!m) return null;
  const [, sign, intPart, frac = ''] = m;
  if (intPart === '' && frac === '') return null;
  const int = intPart.replace(/^0+/, '') || '0';
  const fr = frac.replace(/0+$/, '');
  const body = fr ? `${int}.${fr}` : int;
  return sign === '-' && body !== '0' ? `-${body}` : body;
}

test('every real GSM8K record (train and test) loads with the gold it had before', { timeout: 60_000 }, async () => {
  let changed = 0;
  let total = 0;
  for (const split of ['train', 'test']) {
    const file = path.join(shared, 'gsm8k', `${split}.jsonl`);
    const raw = fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as { answer: string });
    const exs = await loadExamples(file, gsm8k);
    assert.equal(exs.length, raw.length, split);
    exs.forEach((ex, i) => {
      const before = oldNormalize(raw[i].answer.slice(raw[i].answer.lastIndexOf('####') + 4));
      if (before !== ex.gold) changed++;
      // the gold as written after `####` reads back through the model-answer path the same
      if (gsm8k.parse(` x\n#### ${raw[i].answer.slice(raw[i].answer.lastIndexOf('####') + 4).trim()}`).answer !== ex.gold) changed++;
    });
    total += exs.length;
  }
  assert.equal(total, 7473 + 1319);
  assert.equal(changed, 0);
});
