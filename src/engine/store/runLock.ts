// One writer per run: <run>/writer.lock names the process that writes the run (pid, host, start time). A second
// writer refuses at once, naming the holder; a lock whose process is gone (kill -9, a crash, a reboot) is taken over.
// Readers (report, tree, export) never take it; they read it to tell a live run from an interrupted one.
//
// Why not a library such as proper-lockfile: it decides staleness by an mtime the holder refreshes on a timer, and a
// training step can hold the event loop for seconds; a pid that is checked against the process table cannot go stale.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { LOCK_FILE, WriterLock } from './format';
import { stagingPath, writeDurably, writeFileAtomic } from './jsonl';

/** A second writer: the message names the holder and what to do. */
export class RunLockedError extends Error {
  readonly code = 'run-locked';
  constructor(readonly runDir: string, readonly holder: WriterLock) {
    const elsewhere = holder.host !== os.hostname()
      ? ` That machine's processes cannot be checked from here: if it is gone, delete ${path.join(runDir, LOCK_FILE)}.`
      : '';
    super(
      `run ${path.basename(runDir)} is being written by another process: ${describeHolder(holder)}. ` +
        'Wait for it to end or stop it (Ctrl-C, or STaR: Stop), then resume; runs side by side need a new run.' +
        elsewhere,
    );
  }
}

export function describeHolder(h: WriterLock): string {
  return `pid ${h.pid} on ${h.host} since ${h.startedAt}${h.command ? ` (${h.command})` : ''}`;
}

/** The lock of a run directory as written, or undefined when there is none (or it cannot be read). */
export function readLock(runDir: string): WriterLock | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(runDir, LOCK_FILE), 'utf8')) as WriterLock;
  } catch {
    return undefined;
  }
}

/** Whether a run's writer is alive now. A lock of another host cannot be checked, so it counts as alive. */
export function writerAlive(runDir: string): boolean {
  const h = readLock(runDir);
  return !!h && holderAlive(h);
}

export function holderAlive(h: WriterLock): boolean {
  if (h.host !== os.hostname()) return true;
  if (h.bootId && bootId() && h.bootId !== bootId()) return false; // the machine restarted since
  try {
    process.kill(h.pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const now = procStart(h.pid);
  if (now === 'zombie') return false;
  // the pid was reused by a process that started later than the holder
  return !(h.procStart && now && now !== h.procStart);
}

export interface HeldLock {
  /** Takes the lock back (only if it is still ours). */
  release(): void;
  /** A lock of a dead process that this one replaced, for the run's log. */
  tookOver?: WriterLock;
}

/** Takes the run's writer lock, or throws RunLockedError naming the live holder. */
export function acquireRunLock(runDir: string, command = commandLine()): HeldLock {
  const file = path.join(runDir, LOCK_FILE);
  const mine: WriterLock = {
    pid: process.pid,
    host: os.hostname(),
    startedAt: new Date().toISOString(),
    command,
    ...(procStart(process.pid) ? { procStart: procStart(process.pid) as string } : {}),
    ...(bootId() ? { bootId: bootId() } : {}),
  };
  const text = JSON.stringify(mine, null, 2) + '\n';
  const held = (tookOver?: WriterLock): HeldLock => {
    const release = () => {
      process.off('exit', release);
      if (fs.existsSync(file) && fs.readFileSync(file, 'utf8') === text) fs.rmSync(file, { force: true });
    };
    // process.exit (a second Ctrl-C) runs 'exit' handlers synchronously: the lock goes with the process
    process.on('exit', release);
    return { release, tookOver };
  };
  // a few rounds: another process may be taking over the same stale lock at this moment
  for (let attempt = 0; attempt < 200; attempt++) {
    if (createExclusive(file, text)) return held();
    const stale = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : undefined;
    if (stale === undefined) continue; // released in between
    const holder = parseLock(stale);
    if (holder && holderAlive(holder)) throw new RunLockedError(runDir, holder);
    if (!holder && Date.now() - mtime(file) < 10_000) throw new Error(`${file}: another process is taking the lock`);
    const r = takeOver(file, stale, text);
    if (r === 'taken') return held(holder ?? { pid: -1, host: '?', startedAt: '?', command: 'unreadable lock' });
    if (r === 'busy') sleep(5);
  }
  throw new Error(`${file}: could not take the run's writer lock`);
}

/**
 * Replaces a dead holder's lock with ours in one rename, so the lock file never goes missing for a third process to
 * create unannounced; only one process may try at a time (the guard), or two could each replace the other's.
 */
function takeOver(file: string, stale: string, text: string): 'taken' | 'changed' | 'busy' {
  const guard = `${file}.takeover`;
  if (fs.existsSync(guard) && Date.now() - mtime(guard) > 30_000) fs.rmSync(guard, { force: true });
  if (!createExclusive(guard, String(process.pid))) return 'busy';
  try {
    if (!fs.existsSync(file) || fs.readFileSync(file, 'utf8') !== stale) return 'changed';
    writeFileAtomic(file, text);
    return 'taken';
  } finally {
    fs.rmSync(guard, { force: true });
  }
}

/** Creates `file` with `text` unless it exists, atomically: a reader never sees it half written. */
function createExclusive(file: string, text: string): boolean {
  const tmp = stagingPath(file);
  writeDurably(tmp, text);
  try {
    fs.linkSync(tmp, file);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

function parseLock(text: string): WriterLock | undefined {
  try {
    const h = JSON.parse(text) as WriterLock;
    return typeof h.pid === 'number' && typeof h.host === 'string' ? h : undefined;
  } catch {
    return undefined;
  }
}

const sleep = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

const mtime = (file: string) => {
  try {
    return fs.statSync(file).mtimeMs;
  } catch {
    return 0;
  }
};

/** A process's start time in clock ticks since boot (Linux), to tell a reused pid; 'zombie' for an exited one. */
function procStart(pid: number): string | 'zombie' | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[0] === 'Z' || fields[0] === 'X' ? 'zombie' : fields[19]; // state is field 3, starttime field 22
  } catch {
    return undefined;
  }
}

let boot: string | undefined | null = null;
function bootId(): string | undefined {
  if (boot === null) {
    try {
      boot = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    } catch {
      boot = undefined;
    }
  }
  return boot;
}

function commandLine(): string {
  return [path.basename(process.argv[1] ?? process.argv0), ...process.argv.slice(2)].join(' ').slice(0, 200);
}
