// Multiple choice in the CommonsenseQA format: `{"id", "question": {"stem", "choices": [{"label", "text"}]},
// "answerKey"}`. Prompts list the choices as `(a) text`, as in the STaR paper's CQA prompts; the hint marks the
// correct one with ` (CORRECT)`.
import { Example, Exemplar, ParsedCompletion, Task } from './task';
import { asRecord, cutAtStop, Rec, recordId, requireString } from './numbers';
import { quoted } from '../textEncoding';

const STOP = ['\n\n'];
const LEAK = /\b(hint|marked (as )?correct|the (given|provided) answer)\b/i;

function choicesOf(q: Rec): { label: string; text: string }[] {
  const raw = q.choices;
  if (raw === undefined) throw new Error('missing field "question.choices"');
  if (!Array.isArray(raw)) throw new Error('field "question.choices" must be an array');
  if (raw.length < 2) throw new Error(`"question.choices" needs at least 2 choices, has ${raw.length}`);
  const seen = new Set<string>();
  return raw.map((c, i) => {
    const o = asChoice(c, i);
    const label = requireString(o, 'label', `question.choices[${i}].`).trim().toUpperCase();
    // One character, because prompts and answers refer to choices as `(a)`.
    if (!/^[A-Z0-9]$/.test(label)) throw new Error(`choice label ${quoted(label)} must be a single letter or digit`);
    if (seen.has(label)) throw new Error(`choice label ${quoted(label)} appears twice`);
    seen.add(label);
    return { label, text: requireString(o, 'text', `question.choices[${i}].`).trim() };
  });
}

function asChoice(c: unknown, i: number): Rec {
  if (typeof c !== 'object' || c === null || Array.isArray(c)) throw new Error(`question.choices[${i}] is not an object`);
  return c as Rec;
}

function exampleFrom(o: Rec, id: string): Example {
  const q = o.question;
  if (q === undefined) throw new Error('missing field "question"');
  if (typeof q !== 'object' || q === null || Array.isArray(q)) {
    throw new Error('field "question" must be an object {"stem", "choices"}');
  }
  const stem = requireString(q as Rec, 'stem', 'question.').trim();
  const choices = choicesOf(q as Rec);
  const gold = requireString(o, 'answerKey').trim().toUpperCase();
  if (!choices.some((c) => c.label === gold)) {
    throw new Error(`answerKey ${quoted(gold)} is not one of the labels ${choices.map((c) => c.label).join(', ')}`);
  }
  return { id: recordId(o, id), question: stem, gold, choices };
}

// All `(x)` labels in the text, in order.
function labels(text: string): RegExpExecArray[] {
  return [...text.matchAll(/\(([a-z0-9])\)/gi)] as RegExpExecArray[];
}

function lastMatch(text: string, re: RegExp): RegExpExecArray | null {
  let last: RegExpExecArray | null = null;
  for (const m of text.matchAll(re)) last = m as RegExpExecArray;
  return last;
}

export const multipleChoice: Task = {
  name: 'multiple-choice',
  stop: STOP,

  prompt(ex, hint) {
    const lines = (ex.choices ?? []).map(
      (c) => `(${c.label.toLowerCase()}) ${c.text}${hint && c.label === ex.gold ? ' (CORRECT)' : ''}`,
    );
    return `Q: ${ex.question}\nAnswer Choices:\n${lines.join('\n')}\nA:`;
  },

  completion(rationale, answer) {
    return ` ${rationale} Therefore, the answer is (${answer.toLowerCase()}).\n\n`;
  },

  parse(completion): ParsedCompletion {
    const text = cutAtStop(completion, STOP);
    const said = lastMatch(text, /answer is/gi);
    const after = said ? labels(text.slice(said.index)) : [];
    const found = after.length > 0 ? after : labels(text);
    const answer = found.length > 0 ? found[found.length - 1][1].toUpperCase() : null;
    const end = lastMatch(text, /\b(therefore|so the answer)\b/gi) ?? said;
    return { rationale: (end ? text.slice(0, end.index) : text).trim(), answer };
  },

  equal(answer, gold) {
    return answer.trim().toUpperCase() === gold.trim().toUpperCase();
  },

  hintLeak(rationale) {
    return /CORRECT/.test(rationale) || LEAK.test(rationale);
  },

  fromRecord(rec, id) {
    return exampleFrom(asRecord(rec), id);
  },

  exemplarFromRecord(rec, id) {
    const o = asRecord(rec);
    const ex = exampleFrom(o, id);
    // A blank line is the stop sequence; inside a rationale it would cut a few-shot prompt short.
    const rationale = requireString(o, 'rationale').trim().replace(/\n\s*\n/g, '\n');
    return { ...ex, rationale };
  },

  exemplarToRecord(ex: Exemplar) {
    return {
      id: ex.id,
      question: { stem: ex.question, choices: (ex.choices ?? []).map((c) => ({ label: c.label, text: c.text })) },
      answerKey: ex.gold,
      rationale: ex.rationale,
    };
  },
};
