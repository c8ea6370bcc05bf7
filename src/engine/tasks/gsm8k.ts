// GSM8K grade-school maths: `{"question", "answer": "... <<48/2=24>> ...\n#### 72"}`. The model writes the worked
// solution, then `#### <number>`; answers compare as numbers, so "$1,000.00" and "1000" agree.
import { Example, Exemplar, ParsedCompletion, Task } from './task';
import { asRecord, cutAtStop, extractNumber, normalizeNumber, notOneNumber, Rec, recordId, requireString } from './numbers';
import { quoted } from '../textEncoding';

const STOP = ['\n\n'];
const LEAK = /\b(hint|the (given|provided|correct) answer|answer (is )?given|as (given|stated) in the question)\b/i;

/** Calculator annotations (`<<6*2=12>>`) bucketed, as a rough difficulty for per-group metrics. */
function stepsGroup(text: string): string {
  const n = (text.match(/<<[^>]*>>/g) ?? []).length;
  return n === 0 ? '0' : n <= 2 ? '1-2' : n <= 4 ? '3-4' : '5+';
}

// A blank line is the stop sequence; a few GSM8K solutions hold one, which would cut a few-shot prompt short.
function oneBlock(text: string): string {
  return text.trim().replace(/\n\s*\n/g, '\n');
}

/** Splits a GSM8K answer text at its last `####` into the worked solution and the normalised final number. */
function splitAnswer(text: string): { rationale: string; gold: string } {
  const i = text.lastIndexOf('####');
  if (i < 0) throw new Error('field "answer" has no "#### <number>" final answer');
  const final = text.slice(i + 4).trim();
  const gold = normalizeNumber(final);
  if (gold === null) throw new Error(`final answer ${quoted(final)} after "####" is not a number${notOneNumber(final)}`);
  return { rationale: text.slice(0, i).trim(), gold };
}

function parsed(o: Rec, id: string): Exemplar {
  const question = requireString(o, 'question').trim();
  const answer = requireString(o, 'answer');
  // The exemplar form `{question, rationale, answer}` carries a bare number; the raw GSM8K form carries `####`.
  if (typeof o.rationale === 'string' && !answer.includes('####')) {
    const gold = normalizeNumber(answer);
    if (gold === null) throw new Error(`field "answer" ${quoted(answer)} is not a number${notOneNumber(answer)}`);
    const rationale = oneBlock(requireString(o, 'rationale'));
    return { id: recordId(o, id), question, gold, group: stepsGroup(rationale), rationale };
  }
  const { rationale, gold } = splitAnswer(answer);
  return { id: recordId(o, id), question, gold, group: stepsGroup(rationale), rationale: oneBlock(rationale) };
}

export const gsm8k: Task = {
  name: 'gsm8k',
  stop: STOP,

  prompt(ex, hint) {
    return hint ? `Q: ${ex.question} (${ex.gold})\nA:` : `Q: ${ex.question}\nA:`;
  },

  completion(rationale, answer) {
    return ` ${rationale}\n#### ${answer}\n\n`;
  },

  parse(completion): ParsedCompletion {
    const text = cutAtStop(completion, STOP);
    const i = text.lastIndexOf('####');
    if (i >= 0) {
      const line = text.slice(i + 4).split('\n')[0];
      return { rationale: text.slice(0, i).trim(), answer: extractNumber(line) };
    }
    let last: RegExpExecArray | null = null;
    for (const m of text.matchAll(/the answer is/gi)) last = m as RegExpExecArray;
    if (last) {
      const rest = text.slice(last.index + last[0].length).split('\n')[0];
      return { rationale: text.slice(0, last.index).trim(), answer: extractNumber(rest) };
    }
    return { rationale: text.trim(), answer: null };
  },

  equal(answer, gold) {
    const a = normalizeNumber(answer);
    const g = normalizeNumber(gold);
    if (a === null || g === null) return false;
    if (a === g) return true;
    const x = Number(a);
    const y = Number(g);
    return Math.abs(x - y) <= 1e-9 * Math.max(1, Math.abs(x), Math.abs(y));
  },

  hintLeak(rationale, ex) {
    return LEAK.test(rationale) || rationale.includes(`(${ex.gold})`);
  },

  fromRecord(rec, id) {
    const { rationale: _unused, ...ex } = parsed(asRecord(rec), id);
    return ex;
  },

  exemplarFromRecord(rec, id) {
    const ex = parsed(asRecord(rec), id);
    if (ex.rationale === '') throw new Error('the worked solution before "####" is empty');
    return ex;
  },

  exemplarToRecord(ex) {
    return { id: ex.id, question: ex.question, rationale: ex.rationale, answer: ex.gold };
  },
};
