// What a run read: fingerprints of D, the held-out split and P, kept in run.json. A resume compares them with the
// files as they are now, because going on with an edited D would mix two datasets in one run without a word.
import { createHash } from 'crypto';
import { canonicalJson } from './generators/cache';
import type { InputFingerprint, ProjectConfig, RunInputs } from './store/format';
import type { Example, Exemplar } from './tasks/task';

/** A file's records as loaded; line numbers (and so blank lines) are left out: moving a record changes nothing. */
export function fingerprint(file: string, records: Example[]): InputFingerprint {
  const h = createHash('sha256');
  for (const { line: _line, ...r } of records) h.update(canonicalJson(r) + '\n');
  return { file, records: records.length, sha256: h.digest('hex') };
}

export function runInputs(
  config: ProjectConfig, data: { train: Example[]; eval: Example[]; exemplars: Exemplar[] },
): RunInputs {
  return {
    train: fingerprint(config.train, data.train),
    eval: fingerprint(config.eval, data.eval),
    exemplars: fingerprint(config.exemplars, data.exemplars),
  };
}

const ROLE = { train: 'D', eval: 'the held-out split', exemplars: 'P' } as const;

/**
 * What differs between the inputs a run read and those there now, one sentence each; `seen` are the question ids
 * the run has generated for, to say how many of them D no longer holds.
 */
export function describeChanges(before: RunInputs, now: RunInputs, D: Example[], seen: string[]): string[] {
  const out: string[] = [];
  for (const k of ['train', 'eval', 'exemplars'] as const) {
    const [a, b] = [before[k], now[k]];
    if (a.file === b.file && a.sha256 === b.sha256) continue;
    const file = a.file === b.file ? a.file : `${a.file} -> ${b.file}`;
    const count = a.records === b.records
      ? `still ${b.records} records, contents differ`
      : `${a.records} -> ${b.records} records`;
    let line = `${ROLE[k]} (${file}): ${count}`;
    if (k === 'train' && seen.length) {
      const ids = new Set(D.map((x) => x.id));
      const gone = [...new Set(seen)].filter((id) => !ids.has(id)).length;
      if (gone) line += `; ${gone} question(s) the run generated for are no longer in it`;
    }
    if (k === 'exemplars') line += ' (the run keeps the P it started with; a new run uses the edited one)';
    out.push(line);
  }
  return out;
}

/** The code of InputsChangedError, for a caller that offers a way out (the extension: a new run). */
export const INPUTS_CHANGED = 'inputs-changed';

/** A resume whose inputs changed: refused unless told to go on (`--accept-changes`), or start a new run. */
export class InputsChangedError extends Error {
  readonly code = INPUTS_CHANGED;
  constructor(readonly runId: string, readonly changes: string[]) {
    super(
      `the inputs of run ${runId} changed since it last ran:\n  ${changes.join('\n  ')}\n` +
        'start a new run for the data as it is now, or resume with --accept-changes to go on with it in this run',
    );
  }
}
