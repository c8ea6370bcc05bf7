// Loading and checking dataset (D, eval) and exemplar (P) files. Files are streamed line by line, so a large file is
// never held as one string; every problem is reported as `file:line: reason` so editors can jump to it. A file that
// is not UTF-8 JSON Lines (UTF-16, a JSON array, Parquet, ...) gets one error naming what it is (store/jsonl.ts).
import * as fs from 'fs';
import * as path from 'path';
import { JsonlError, readJsonl } from './store/jsonl';
import { quoted } from './textEncoding';
import { Example, Exemplar, Task } from './tasks/task';

export type RecordKind = 'examples' | 'exemplars';

// Line 0 stands for "the file as a whole".
async function checkReadable(file: string): Promise<JsonlError | null> {
  try {
    const st = await fs.promises.stat(file);
    return st.isFile() ? null : new JsonlError(file, 0, 'not a regular file');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return new JsonlError(file, 0, code === 'ENOENT' ? 'file not found' : `cannot read (${(err as Error).message})`);
  }
}

/**
 * Walks a file, converting each record and checking ids are unique. Each bad line goes to `onError` (the loaders
 * throw there, so they stop at the first; the validator collects); each good record goes to `onRecord`.
 */
async function scan(
  file: string,
  task: Task,
  kind: RecordKind,
  onError: (e: JsonlError) => void,
  onRecord: (ex: Example, raw: Record<string, unknown>) => void,
): Promise<void> {
  const unreadable = await checkReadable(file);
  if (unreadable) return onError(unreadable);
  const base = path.basename(file);
  const firstLine = new Map<string, number>();
  let lines = 0; // non-blank lines, good or bad
  const onJsonError = (e: JsonlError) => {
    lines++;
    onError(e);
  };
  for await (const { line, value } of readJsonl(file, onJsonError)) {
    lines++;
    let ex: Example;
    try {
      const id = `${base}:${line}`;
      ex = kind === 'examples' ? task.fromRecord(value, id) : task.exemplarFromRecord(value, id);
    } catch (err) {
      onError(new JsonlError(file, line, (err as Error).message));
      continue;
    }
    const earlier = firstLine.get(ex.id);
    if (earlier !== undefined) {
      onError(new JsonlError(file, line, `duplicate id ${quoted(ex.id)} (first used on line ${earlier})`));
      continue;
    }
    firstLine.set(ex.id, line);
    ex.line = line;
    onRecord(ex, value as Record<string, unknown>);
  }
  // A file whose lines were all bad already has its errors; "no records" is for one with nothing but blank lines.
  if (lines === 0) onError(new JsonlError(file, 0, 'no records'));
}

function thrower(e: JsonlError): never {
  throw e;
}

/** Every question of a dataset file, `line` set; throws JsonlError (`file:line: reason`) at the first bad line. */
export async function loadExamples(file: string, task: Task): Promise<Example[]> {
  const out: Example[] = [];
  await scan(file, task, 'examples', thrower, (ex) => out.push(ex));
  return out;
}

/**
 * The records of a file exactly as written (for copying into a project), after each has passed the task's checks;
 * throws JsonlError (`file:line: reason`) at the first bad line. One pass over the file.
 */
export async function loadRecords(file: string, task: Task, kind: RecordKind): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  await scan(file, task, kind, thrower, (_ex, raw) => out.push(raw));
  return out;
}

/** Every exemplar of a P file, `line` set; throws JsonlError at the first bad line. */
export async function loadExemplars(file: string, task: Task): Promise<Exemplar[]> {
  const out: Exemplar[] = [];
  await scan(file, task, 'exemplars', thrower, (ex) => out.push(ex as Exemplar));
  return out;
}

/**
 * Reads the whole file and reports every bad line (malformed JSON, missing or invalid fields, duplicate ids), or
 * a missing or empty file at line 0; a problem of the whole file (its encoding or format) is reported once and
 * ends the reading. `records` counts the valid records; none are kept, so any size file fits.
 */
export async function validateFile(
  file: string,
  task: Task,
  kind: RecordKind,
): Promise<{ records: number; errors: JsonlError[] }> {
  const errors: JsonlError[] = [];
  let records = 0;
  await scan(file, task, kind, (e) => errors.push(e), () => records++);
  return { records, errors };
}
