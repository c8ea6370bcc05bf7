// JSON Lines, read as a stream (a 100 MB file never sits in memory as one string) and appended durably.
import * as fs from 'fs';
import { pipeline, Readable } from 'stream';
import * as zlib from 'zlib';
import { decodeLine, HEAD_BYTES, isGzip, notUtf8Text, printable } from '../textEncoding';

export interface JsonlRecord {
  /** 1-based line number in the file. */
  line: number;
  value: unknown;
}

/**
 * A bad line of a JSONL file, reported as `file:line: reason` (line 0: the file as a whole). The reason is made
 * printable (controls escaped, cut short), so quoting a file never puts raw bytes on a terminal.
 */
export class JsonlError extends Error {
  readonly reason: string;
  constructor(readonly file: string, readonly line: number, reason: string) {
    const r = printable(reason, 400);
    super(`${file}:${line}: ${r}`);
    this.reason = r;
  }
}

/** A problem with the file as a whole (its encoding or format): reported once, and nothing more is read. */
class WholeFile extends Error {
  constructor(readonly line: number, readonly reason: string) {
    super(reason);
  }
}

/**
 * The bytes of a file, gunzipped when it is gzip-compressed (so a `.jsonl.gz` from a hub reads as it is), after a
 * look at its first bytes: one that is not UTF-8 text (UTF-16, an archive, Parquet, binary) throws WholeFile.
 */
async function* fileBytes(file: string): AsyncGenerator<Buffer> {
  const magic = Buffer.alloc(2);
  const fh = await fs.promises.open(file, 'r');
  try {
    await fh.read(magic, 0, 2, 0);
  } finally {
    await fh.close();
  }
  const gz = isGzip(magic);
  const raw = fs.createReadStream(file);
  const source: Readable = gz ? pipeline(raw, zlib.createGunzip(), () => {}) : raw;
  try {
    const it = source[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    // Gather the head (a gunzip chunk can be small), look at it, then pass everything on.
    const first: Buffer[] = [];
    let have = 0;
    let done = false;
    while (have < HEAD_BYTES) {
      const r = await next(it, gz);
      if (r.done) {
        done = true;
        break;
      }
      first.push(r.value);
      have += r.value.length;
    }
    const kind = notUtf8Text(Buffer.concat(first).subarray(0, HEAD_BYTES));
    if (kind) throw new WholeFile(kind.line, gz && kind.line === 0 ? `gzip-compressed, and inside: ${kind.reason}` : kind.reason);
    yield* first;
    while (!done) {
      const r = await next(it, gz);
      if (r.done) break;
      yield r.value;
    }
  } finally {
    source.destroy();
    raw.destroy();
  }
}

// A damaged gzip stream is a problem of the whole file, not a crash.
async function next(it: AsyncIterator<Buffer>, gz: boolean): Promise<IteratorResult<Buffer>> {
  try {
    return await it.next();
  } catch (err) {
    if (!gz || (err as NodeJS.ErrnoException).code?.startsWith('Z_') !== true) throw err;
    throw new WholeFile(0, `gzip-compressed, but damaged or cut short (${(err as Error).message})`);
  }
}

/**
 * The lines of a byte stream, split at LF, CRLF or a lone CR (as editors on any system save them); a last line
 * without a newline counts. Bytes, not text: each line is decoded on its own, so a bad byte is named by its line.
 */
async function* byteLines(chunks: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  let parts: Buffer[] = [];
  let afterCR = false; // the last chunk ended in CR: an LF starting this one belongs to it
  const take = (tail: Buffer) => {
    const line = parts.length === 0 ? tail : Buffer.concat([...parts, tail]);
    parts = [];
    return line;
  };
  for await (const chunk of chunks) {
    if (chunk.length === 0) continue;
    let i = afterCR && chunk[0] === 0x0a ? 1 : 0;
    afterCR = false;
    let lf = chunk.indexOf(0x0a, i);
    let cr = chunk.indexOf(0x0d, i);
    for (;;) {
      if (lf >= 0 && lf < i) lf = chunk.indexOf(0x0a, i);
      if (cr >= 0 && cr < i) cr = chunk.indexOf(0x0d, i);
      const end = lf < 0 ? cr : cr < 0 ? lf : Math.min(lf, cr);
      if (end < 0) break;
      yield take(chunk.subarray(i, end));
      i = end + 1;
      if (chunk[end] === 0x0d) {
        if (i < chunk.length) {
          if (chunk[i] === 0x0a) i++;
        } else afterCR = true;
      }
    }
    if (i < chunk.length) parts.push(chunk.subarray(i));
  }
  if (parts.length > 0) yield take(Buffer.alloc(0));
}

const isObject = (v: unknown) => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * What the first non-blank line of a file says it is when that is not JSON Lines: a JSON array, pretty-printed
 * JSON, CSV/TSV, a web page, a Git LFS pointer. Null when it may be JSON Lines.
 */
function notJsonLines(text: string, parsed: { value: unknown } | null): string | null {
  const t = text.trim();
  if (t.startsWith('[') && (parsed === null || (Array.isArray(parsed.value) && parsed.value.every(isObject)))) {
    return "a JSON array, expected JSON Lines (one object per line): convert it with jq -c '.[]' FILE > OUT.jsonl";
  }
  if (parsed !== null) return null;
  if (t === '{' || /^\{\s*"[^"]*"\s*:\s*[[{]$/.test(t)) {
    return 'pretty-printed JSON (one value over several lines), expected JSON Lines (one object per line): convert it with jq -c . FILE > OUT.jsonl';
  }
  if (t.startsWith('version https://git-lfs.github.com/spec/')) {
    return 'a Git LFS pointer, not the data: fetch the file itself (git lfs pull)';
  }
  if (/^<(!doctype\s+html|html|head|body)\b/i.test(t)) {
    return 'an HTML page, not the data (a download that saved the web page?): fetch the raw file';
  }
  if (t.startsWith('<')) return 'XML or HTML, expected JSON Lines (one JSON object per line)';
  if (!/^[{["\d-]/.test(t)) {
    for (const [sep, name] of [['\t', 'TSV (tab-separated)'], [',', 'CSV (comma-separated)'], [';', 'CSV (semicolon-separated)']]) {
      if (t.split(sep).length >= 2) return `${name} with a header row, expected JSON Lines (one JSON object per line, e.g. {"question": ..., "answer": ...})`;
    }
  }
  return null;
}

/**
 * Yields each non-blank line parsed as JSON. A line that is not JSON is passed to `onError` (and skipped) when given,
 * else thrown as JsonlError, so a validator can report every bad line and a loader can stop at the first.
 * A problem of the whole file (UTF-16, gzip that is damaged, a zip, Parquet or a JSON array, binary content, invalid
 * UTF-8) is reported once, and the reading stops there. A UTF-8 byte-order mark, CRLF or lone CR line ends and a
 * missing final newline are accepted, and a gzip-compressed file is read decompressed.
 */
export async function* readJsonl(file: string, onError?: (e: JsonlError) => void): AsyncGenerator<JsonlRecord> {
  const report = (e: JsonlError) => {
    if (!onError) throw e;
    onError(e);
  };
  let n = 0;
  let seenText = false;
  try {
    for await (const bytes of byteLines(fileBytes(file))) {
      n++;
      const decoded = decodeLine(bytes);
      // An undecodable line is an encoding problem of the file: every other line would likely say the same.
      if ('reason' in decoded) throw new WholeFile(n, decoded.reason);
      const text = decoded.text;
      if (text.trim() === '') continue;
      let value: unknown;
      let error: Error | null = null;
      try {
        value = JSON.parse(text);
      } catch (err) {
        error = err as Error;
      }
      if (!seenText) {
        seenText = true;
        const kind = notJsonLines(text, error ? null : { value });
        if (kind) throw new WholeFile(0, kind);
      }
      if (error) {
        // Python's repr of a dict is the usual near-miss: say so rather than only "Unexpected token '".
        const python = /^\s*\{\s*'/.test(text) ? '; JSON takes double quotes: this looks like a Python dict' : '';
        report(new JsonlError(file, n, `malformed JSON (${error.message})${python}`));
        continue;
      }
      yield { line: n, value };
    }
  } catch (err) {
    if (!(err instanceof WholeFile)) throw err;
    report(new JsonlError(file, err.line, err.reason));
  }
}

/**
 * Reads a file this program appends to. A kill can leave a torn last line (no trailing newline, or not JSON);
 * that line is dropped — and cut from the file when `repair` is set — so appending can go on after a resume.
 */
export function readAppendLog<T>(file: string, repair = false): T[] {
  if (!fs.existsSync(file)) return [];
  const text = fs.readFileSync(file, 'utf8');
  const out: T[] = [];
  let good = 0; // byte length of the intact prefix
  let start = 0;
  while (start < text.length) {
    const nl = text.indexOf('\n', start);
    if (nl < 0) break; // torn tail
    const line = text.slice(start, nl);
    if (line.trim() !== '') {
      try {
        out.push(JSON.parse(line) as T);
      } catch {
        break; // a torn write followed by nothing valid: stop here
      }
    }
    start = nl + 1;
    good = Buffer.byteLength(text.slice(0, start), 'utf8');
  }
  if (repair && good < Buffer.byteLength(text, 'utf8')) fs.truncateSync(file, good);
  return out;
}

/** Appends records as whole lines and flushes them to disk before returning. */
export function appendJsonl(file: string, records: unknown[]): void {
  if (records.length === 0) return;
  const fd = fs.openSync(file, 'a');
  try {
    fs.writeSync(fd, records.map((r) => JSON.stringify(r) + '\n').join(''));
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Writes a whole file atomically: a reader (or a crash) sees the old content or the new, never half. */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const tmp = stagingPath(file);
  writeDurably(tmp, data);
  fs.renameSync(tmp, file);
}

/** Where a file is written before it is renamed into place. */
export const stagingPath = (file: string) => `${file}.${process.pid}.tmp`;

/** Writes a file and flushes it to disk before returning. */
export function writeDurably(file: string, data: string | Uint8Array): void {
  const fd = fs.openSync(file, 'w');
  try {
    fs.writeSync(fd, data as any);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

export function writeJsonAtomic(file: string, value: unknown): void {
  writeFileAtomic(file, JSON.stringify(value, null, 2) + '\n');
}
