// Writing where a person keeps their own files: init and export must never replace a file nobody asked them to,
// never write over a file they read from, and never leave half their output behind when they fail.
import * as fs from 'fs';
import * as path from 'path';
import { stagingPath, writeDurably } from './store/jsonl';

/** A refusal to replace files that are there; `files` names them as the message does. */
export class WouldOverwrite extends Error {
  constructor(readonly files: string[], message: string) {
    super(message);
  }
}

/** Whether anything is at `p`; a link to nowhere counts, since writing there would follow or replace it. */
export function exists(p: string): boolean {
  try {
    fs.lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

/** The path with every link resolved, as far as the path exists (a file still to be written has no realpath). */
export function realPath(p: string): string {
  const abs = path.resolve(p);
  try {
    return fs.realpathSync(abs);
  } catch {
    const parent = path.dirname(abs);
    return parent === abs ? abs : path.join(realPath(parent), path.basename(abs));
  }
}

/** Whether two paths name one file: through links, and hard links too once both exist. */
export function sameFile(a: string, b: string): boolean {
  try {
    const [x, y] = [fs.statSync(a), fs.statSync(b)];
    return x.dev === y.dev && x.ino === y.ino;
  } catch {
    return realPath(a) === realPath(b);
  }
}

/** Whether `p` lies inside the folder `dir` (links resolved). */
export function isUnder(p: string, dir: string): boolean {
  const rel = path.relative(realPath(dir), realPath(p));
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

export interface FileText {
  file: string;
  text: string;
}

/**
 * Writes every file or none: each is written in full beside its place first, then all are renamed into place.
 * On a failure the staged copies, the files this call added and the folders it made are removed again;
 * nothing that was there before is touched (a file it was told to replace may already be replaced).
 */
export function writeAllOrNothing(files: FileText[]): void {
  const made = makeParents(files.map((f) => f.file));
  const added = files.filter((f) => !exists(f.file)).map((f) => f.file);
  const staged: string[] = [];
  try {
    for (const f of files) {
      staged.push(stagingPath(f.file));
      writeDurably(stagingPath(f.file), f.text);
    }
    files.forEach((f, i) => fs.renameSync(staged[i], f.file));
  } catch (e) {
    for (const f of [...staged, ...added]) fs.rmSync(f, { force: true });
    removeFoldersMade(made);
    throw e;
  }
}

/** Makes the missing folders above the files; returns those it made, outermost first. */
function makeParents(files: string[]): string[] {
  const made: string[] = [];
  for (const f of files) {
    const missing: string[] = [];
    for (let d = path.dirname(path.resolve(f)); !exists(d); d = path.dirname(d)) missing.unshift(d);
    for (const d of missing) {
      fs.mkdirSync(d);
      made.push(d);
    }
  }
  return made;
}

/** Removes folders innermost first, each only while empty: what someone else put there meanwhile stays. */
function removeFoldersMade(made: string[]): void {
  for (const d of [...made].reverse()) {
    try {
      fs.rmdirSync(d);
    } catch {
      // not empty: not only ours
    }
  }
}
