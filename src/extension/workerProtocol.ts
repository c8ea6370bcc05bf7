// Messages between the extension host and the run worker (a child process): the engine's own RunEvent travels as is.
import type { RunEvent, SampleSpec } from '../engine/store/format';
import type { RunOptions } from '../engine/star';

/** What may cross the process boundary of RunOptions (no callbacks). */
export type WorkerRunOptions = Omit<RunOptions, 'shouldStop'> & {
  sampling?: Partial<SampleSpec>;
  honourAnnotations?: boolean;
};

export type ToWorker =
  /** stopFile: created to ask for a stop. A file, because a training loop can hold the worker's event loop for long
   * stretches, and the engine's shouldStop check reads it synchronously; the `stop` message is the fast path. */
  | { type: 'start'; projectDir: string; options: WorkerRunOptions; stopFile: string }
  | { type: 'stop' };

export type FromWorker =
  | { type: 'event'; event: RunEvent }
  | { type: 'done'; runDir: string; status: string }
  /** code: what the extension can offer a way out of (`inputs-changed`: a new run instead). */
  | { type: 'error'; message: string; code?: string };
