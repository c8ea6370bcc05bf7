// Questions shared by P, D and the held-out split. A held-out question the model was trained on (an exemplar of P,
// a question of D) measures recall, not reasoning: exemplars written for questions of the dataset gave 100%
// "held-out" accuracy. A question of D that is an exemplar is trained on with P's gold rationale already. So such
// questions are left out of D and of the held-out split, and counted.
import type { OverlapCounts, SharedQuestions } from './store/format';
import type { Example } from './tasks/task';

/** D and the held-out split without the questions P (or, for the held-out split, D) holds, and what was left out. */
export interface WithoutOverlap<T extends Example> {
  train: T[];
  eval: T[];
  counts: OverlapCounts;
}

/** The files (or descriptions) of P, D and the held-out split, as messages name them. */
export interface OverlapNames {
  exemplars: string;
  train: string;
  eval: string;
}

/**
 * D less P's questions; the held-out split less P's and (the rest of) D's. Multiple-choice questions match with
 * their choices: a stem shared with other options asks something else, and the model sees the options.
 */
export function leaveOutOverlap<T extends Example>(P: Example[], D: T[], E: T[]): WithoutOverlap<T> {
  const counts: OverlapCounts = { trainInExemplars: none(), evalInExemplars: none(), evalInTrain: none() };
  const inP = keysOf(P);
  const train = D.filter((x) => !counted(inP, x, counts.trainInExemplars));
  const inD = keysOf(train);
  const evalSet = E.filter((x) => !counted(inP, x, counts.evalInExemplars) && !counted(inD, x, counts.evalInTrain));
  return { train, eval: evalSet, counts };
}

/** How many questions D and the held-out split had before any was left out. */
export interface SetSizes {
  train: number;
  eval: number;
}

/** A warning for each set that lost questions, counting them; none when nothing was shared. */
export function overlapWarnings(c: OverlapCounts, before: SetSizes, names: OverlapNames): string[] {
  const out: string[] = [];
  const fromD = c.trainInExemplars.normalised;
  if (fromD)
    out.push(`left ${fromD} of ${before.train} questions of D (${names.train}) out: ` +
      `${fromD === 1 ? 'it is an exemplar' : 'they are exemplars'} in P (${names.exemplars})` +
      looseNote(c.trainInExemplars));
  const inP = c.evalInExemplars.normalised;
  const inD = c.evalInTrain.normalised;
  if (inP + inD) {
    const exemplars = `${inP} ${inP === 1 ? 'is an exemplar' : 'are exemplars'} in P (${names.exemplars})`;
    const why = [
      inP ? exemplars + looseNote(c.evalInExemplars) : '',
      inD ? `${inD} ${inD === 1 ? 'is' : 'are'} in D (${names.train})${looseNote(c.evalInTrain)}` : '',
    ].filter(Boolean).join(', ');
    out.push(`left ${inP + inD} of ${before.eval} held-out questions (${names.eval}) out: ${why}`);
  }
  return out;
}

/** Why nothing is left to train or evaluate on, or undefined when both sets keep questions. */
export function overlapRefusal<T extends Example>(r: WithoutOverlap<T>, before: SetSizes,
  names: OverlapNames): string | undefined {
  if (r.train.length === 0)
    return `every question of D (all ${before.train} of ${names.train}) is also an exemplar in P ` +
      `(${names.exemplars}): nothing is left to train on; D needs questions P does not have`;
  if (r.eval.length === 0) {
    const [inP, inD] = [r.counts.evalInExemplars.normalised, r.counts.evalInTrain.normalised];
    const parts = [inD ? `${inD} in D (${names.train})` : '', inP ? `${inP} exemplars in P (${names.exemplars})` : ''];
    return `every held-out question (all ${before.eval} of ${names.eval}) is also in D or P: ` +
      `${parts.filter(Boolean).join(', ')}; hold out questions that D and P do not have`;
  }
  return undefined;
}

const none = (): SharedQuestions => ({ exact: 0, normalised: 0 });

interface Keys {
  exact: Set<string>;
  normalised: Set<string>;
}

function keysOf(xs: Example[]): Keys {
  return { exact: new Set(xs.map(exactKey)), normalised: new Set(xs.map(normalisedKey)) };
}

/** Whether `keys` holds x's question; if so it is counted in `into`. */
function counted(keys: Keys, x: Example, into: SharedQuestions): boolean {
  if (!keys.normalised.has(normalisedKey(x))) return false;
  into.normalised++;
  if (keys.exact.has(exactKey(x))) into.exact++;
  return true;
}

function exactKey(x: Example): string {
  return x.choices ? JSON.stringify([x.question, x.choices.map((c) => [c.label, c.text])]) : x.question;
}

// Choices as a set of texts: the same options relabelled or reordered are the same question.
function normalisedKey(x: Example): string {
  const choices = x.choices ? x.choices.map((c) => normalise(c.text)).sort() : [];
  return [normalise(x.question), ...choices].join('\u0000');
}

/** Case, compatibility forms and runs of anything but letters and digits set aside (`12+34` stays `12 34`). */
export function normalise(text: string): string {
  return text.normalize('NFKC').toLowerCase().replace(/[^\p{L}\p{N}]+/gu, ' ').trim();
}

function looseNote(s: SharedQuestions): string {
  const loose = s.normalised - s.exact;
  if (!loose) return '';
  return loose === s.normalised
    ? '; they differ only in case, spacing or punctuation'
    : `; ${loose} of them differ${loose === 1 ? 's' : ''} only in case, spacing or punctuation`;
}
