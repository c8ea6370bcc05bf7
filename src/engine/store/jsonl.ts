// JSON Lines, read as a stream (a 100 MB file never sits in memory as one string) and appended durably.
import * as fs from 'fs';
import * as readline from 'readline';

export interface JsonlRecord {
  /** 1-based line number in the file. */
  line: number;
  value: unknown;
}

/** A bad line of a JSONL file, reported as `file:line: reason`. */
export class JsonlError extends Error {
  constructor(readonly file: string, readonly line: number, readonly reason: string) {
    super(`${file}:${line}: ${reason}`);
  }
}

/**
 * Yields each non-blank line parsed as JSON. A line that is not JSON is passed to `onError` (and skipped) when given,
 * else thrown as JsonlError, so a validator can report every bad line and a loader can stop at the first.
 */
export async function* readJsonl(file: string, onError?: (e: JsonlError) => void): AsyncGenerator<JsonlRecord> {
  const input = fs.createReadStream(file, { encoding: 'utf8' });
  const lines = readline.createInterface({ input, crlfDelay: Infinity });
  let n = 0;
  try {
    for await (const text of lines) {
      n++;
      if (text.trim() === '') continue;
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (err) {
        const e = new JsonlError(file, n, `malformed JSON (${(err as Error).message})`);
        if (onError) { onError(e); continue; }
        throw e;
      }
      yield { line: n, value };
    }
  } finally {
    lines.close();
    input.destroy();
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
