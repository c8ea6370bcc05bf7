// Export of curated rationales: sft (TRL prompt/completion), openai-chat (messages) and Hugging Face datasets JSONL
// with a dataset card; provenance on every row; annotations honoured; never a hint.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { exportDataset } from '../../src/engine/export';
import { defaultConfig } from '../../src/engine/project';
import { GenerationLine, RUN_FORMAT_VERSION } from '../../src/engine/store/format';
import { RunStore } from '../../src/engine/store/runStore';
import { gsm8k } from '../../src/engine/tasks/gsm8k';
import type { Example } from '../../src/engine/tasks/task';

const D: Example[] = [1, 2, 3, 4, 5, 6].map((i) => ({ id: `q${i}`, question: `What is ${i} + ${i}?`, gold: String(2 * i), line: i }));

function line(x: Example, stage: GenerationLine['stage'], rationale: string, extra: Partial<GenerationLine> = {}): GenerationLine {
  const correct = stage !== 'failed';
  return { id: x.id, question: x.question, gold: x.gold, rationale, answer: correct ? x.gold : '0', correct, stage, line: x.line, ...extra };
}

function fixture(): RunStore {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'star-export-'));
  const now = new Date().toISOString();
  const store = RunStore.create(dir, {
    version: RUN_FORMAT_VERSION, id: 'run-x', createdAt: now, updatedAt: now, status: 'finished', task: 'gsm8k', config: defaultConfig('gsm8k'),
    exemplars: [], trainCount: D.length, evalCount: 0, backend: 'test', iterationsDone: 1,
  });
  store.ensureIter(1);
  store.appendGenerations(1, [
    line(D[0], 'direct', `${D[0].id}: add them, ${D[0].gold}.`),
    line(D[1], 'rationalized', `${D[1].id}: double it.`, { directAnswer: '5' }),
    line(D[2], 'rationalized', `As the hint says (${D[2].gold}).`, { hintLeak: true }),
    line(D[3], 'failed', 'no idea'),
    line(D[4], 'direct', 'to be rejected'),
    line(D[5], 'rationalized', 'the given answer is right', { hintLeak: true }),
  ]);
  store.writeMetrics(1, { iteration: 1 } as never);
  const t = new Date().toISOString();
  store.appendAnnotation({ time: t, iteration: 1, id: 'q5', verdict: 'reject' });
  store.appendAnnotation({ time: t, iteration: 1, id: 'q6', verdict: 'accept', rationale: 'q6: six and six make twelve.' });
  store.appendAnnotation({ time: t, iteration: 1, id: 'q3', verdict: 'accept' }); // accepted, but it leaks the hint
  return store;
}

/** A folder for exports: never the run store, which export refuses to write into. */
const outside = () => fs.mkdtempSync(path.join(os.tmpdir(), 'star-export-out-'));
const read = (f: string) => fs.readFileSync(f, 'utf8').trim().split('\n').map((l) => JSON.parse(l));

describe('export', () => {
  test('sft: prompt/completion rows with provenance; rejected, failed and hint-leaking rows left out', () => {
    const store = fixture();
    const out = path.join(outside(), 'x', 'sft.jsonl');
    const r = exportDataset(gsm8k, store, D, { format: 'sft', out });
    assert.deepEqual([r.rows, r.skippedRejected, r.skippedHintLeaks], [3, 1, 1]);
    const rows = read(out);
    assert.deepEqual(rows.map((x) => x.metadata.id), ['q1', 'q2', 'q6']);
    assert.deepEqual(rows[0], {
      prompt: 'Q: What is 1 + 1?\nA:',
      completion: ' q1: add them, 2.\n#### 2\n\n',
      metadata: { run: 'run-x', iteration: 1, stage: 'direct', id: 'q1', verdict: null },
    });
    assert.equal(rows[2].completion, ' q6: six and six make twelve.\n#### 12\n\n', "a person's edit replaces the rationale");
    for (const x of rows) assert.ok(!/\(\d+\)/.test(x.prompt + x.completion), 'no hint in a row');
  });

  test('openai-chat: a user and an assistant message per row', () => {
    const store = fixture();
    const out = path.join(outside(), 'chat.jsonl');
    exportDataset(gsm8k, store, D, { format: 'openai-chat', out });
    const rows = read(out);
    assert.equal(rows.length, 3);
    assert.deepEqual(rows[1].messages, [{ role: 'user', content: 'Q: What is 2 + 2?\nA:' }, { role: 'assistant', content: ' q2: double it.\n#### 4\n\n' }]);
    assert.equal(rows[1].metadata.stage, 'rationalized');
  });

  test('hf: flat columns with provenance, and a dataset card beside the file (never over a README of someone else)', () => {
    const store = fixture();
    const dir = path.join(outside(), 'hf');
    const out = path.join(dir, 'train.jsonl');
    const r = exportDataset(gsm8k, store, D, { format: 'hf', out });
    assert.equal(r.card, path.join(dir, 'README.md'));
    const rows = read(out);
    assert.equal(rows.length, 3);
    for (const x of rows) assert.deepEqual(Object.keys(x).sort(), ['answer', 'completion', 'edited', 'id', 'iteration', 'prompt', 'question', 'rationale', 'run', 'stage', 'task', 'verdict']);
    assert.deepEqual(rows[2], {
      id: 'q6', question: 'What is 6 + 6?', rationale: 'q6: six and six make twelve.', answer: '12', prompt: 'Q: What is 6 + 6?\nA:',
      completion: ' q6: six and six make twelve.\n#### 12\n\n', task: 'gsm8k', run: 'run-x', iteration: 1, stage: 'rationalized', verdict: 'accept', edited: true,
    });
    const card = fs.readFileSync(r.card!, 'utf8');
    assert.match(card, /^---\nconfigs:\n- config_name: default\n  data_files:\n  - split: train\n    path: train\.jsonl\n/);
    assert.match(card, /\*\*3\*\* rows: 1 found directly, 2 by rationalization/);
    assert.match(card, /1 row\(s\) a person rejected are left out/);
    // a README.md that is not ours stays
    const other = path.join(outside(), 'other');
    fs.mkdirSync(other);
    fs.writeFileSync(path.join(other, 'README.md'), '# mine\n');
    const r2 = exportDataset(gsm8k, store, D, { format: 'hf', out: path.join(other, 'data.jsonl') });
    assert.equal(r2.card, undefined);
    assert.equal(fs.readFileSync(path.join(other, 'README.md'), 'utf8'), '# mine\n');
  });
});
