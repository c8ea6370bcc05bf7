// P as the exemplar editor sees it: each line of the JSONL text read through the task, checked (does the rationale
// lead to the gold answer? does prompt + completion fit the model?), and single-field edits turned back into a line.
import { arithmeticRationale } from '../engine/tasks/arithmetic';
import type { Exemplar, Task } from '../engine/tasks/task';
import type { ExemplarField, ExemplarView } from '../protocol';

/** Why a rationale does not lead to the gold answer, per task; undefined when it does (as far as we can tell). */
export function rationaleProblem(task: Task, ex: Exemplar): string | undefined {
  if (task.name === 'arithmetic') {
    const m = /^(\d+)\+(\d+)$/.exec(ex.question);
    if (m && ex.rationale !== arithmeticRationale(m[1], m[2]))
      return `the scratchpad is not the column sums of ${ex.question} (expected ${arithmeticRationale(m[1], m[2])})`;
    return undefined;
  }
  if (task.name === 'gsm8k') {
    const nums = ex.rationale.replace(/,(?=\d{3})/g, '').match(/-?\d+(\.\d+)?/g);
    const last = nums?.[nums.length - 1];
    if (!last) return 'the rationale computes no number';
    if (!task.equal(last, ex.gold)) return `the rationale ends at ${last}, not at the gold answer ${ex.gold}`;
    return undefined;
  }
  const choice = ex.choices?.find((c) => c.label === ex.gold);
  if (choice && !ex.rationale.toLowerCase().includes(choice.text.toLowerCase()))
    return `the rationale never mentions the gold choice "${choice.text}"`;
  return undefined;
}

export function readExemplars(text: string, task: Task, blockSize: number): ExemplarView[] {
  const out: ExemplarView[] = [];
  const seen = new Map<string, number>();
  text.split('\n').forEach((raw, line) => {
    if (raw.trim() === '') return;
    const view: ExemplarView = { line, id: '', question: '', rationale: '', answer: '', errors: [], warnings: [], length: 0 };
    out.push(view);
    let rec: unknown;
    try {
      rec = JSON.parse(raw);
    } catch (e) {
      view.errors.push(`malformed JSON (${(e as Error).message})`);
      return;
    }
    const r = rec as Record<string, unknown>;
    // Show what there is even when the task rejects the record, so the person can fix it here.
    view.question = typeof r.question === 'string' ? r.question : JSON.stringify(r.question ?? '');
    view.rationale = typeof r.rationale === 'string' ? r.rationale : '';
    view.answer = String(r.answer ?? r.answerKey ?? '');
    let ex: Exemplar;
    try {
      ex = task.exemplarFromRecord(rec, `exemplars.jsonl:${line + 1}`);
    } catch (e) {
      view.errors.push((e as Error).message);
      return;
    }
    Object.assign(view, { id: ex.id, question: ex.question, rationale: ex.rationale, answer: ex.gold });
    const earlier = seen.get(ex.id);
    if (earlier !== undefined) view.errors.push(`duplicate id "${ex.id}" (line ${earlier + 1})`);
    seen.set(ex.id, line);
    const problem = rationaleProblem(task, ex);
    if (problem) view.warnings.push(problem);
    view.length = task.prompt(ex, true).length + task.completion(ex.rationale, ex.gold).length;
    if (view.length > blockSize) view.warnings.push(`prompt + completion is ${view.length} characters, over the model's block size of ${blockSize}`);
  });
  return out;
}

/** The line with one field changed; other keys of the record are kept. */
export function editLine(raw: string, task: Task, field: ExemplarField, value: string): string {
  const rec = JSON.parse(raw) as Record<string, unknown>;
  let ex: Exemplar | undefined;
  try {
    ex = task.exemplarFromRecord(rec, '');
  } catch {
    // not a valid exemplar yet: set the field where the task's records keep it, so the person can finish it
    const key = field === 'answer' && task.name === 'multiple-choice' ? 'answerKey' : field;
    return JSON.stringify({ ...rec, [key]: value });
  }
  const out: Record<string, unknown> = { ...rec, ...task.exemplarToRecord({ ...ex, [field === 'answer' ? 'gold' : field]: value }) };
  if (rec.id === undefined) delete out.id; // the task filled in a placeholder id
  return JSON.stringify(out);
}

export function newExemplarLine(task: Task): string {
  if (task.name === 'multiple-choice')
    return JSON.stringify({ question: { stem: '', choices: [{ label: 'A', text: '' }, { label: 'B', text: '' }] }, answerKey: 'A', rationale: '' });
  return JSON.stringify({ question: '', rationale: '', answer: '' });
}
