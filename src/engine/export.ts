// Exports a run's kept rationales as a fine-tuning dataset. The prompt never carries the hint, rows a person
// rejected are left out, a person's edited rationale replaces the model's, and each row says where it came from.
import * as fs from 'fs';
import * as path from 'path';
import type { Annotation, GenerationLine } from './store/format';
import { RunStore } from './store/runStore';
import type { Example, Task } from './tasks/task';

export const EXPORT_FORMATS = ['sft', 'openai-chat'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export interface ExportOptions {
  format: ExportFormat;
  out: string;
  iteration?: number;
}

/** The latest annotation of each question of one iteration. */
export function latestAnnotations(all: Annotation[], iteration: number): Map<string, Annotation> {
  const out = new Map<string, Annotation>();
  for (const a of all) {
    if (a.iteration !== iteration) continue;
    out.set(a.id, { ...out.get(a.id), ...a });
  }
  return out;
}

export function exportDataset(task: Task, store: RunStore, D: Example[], o: ExportOptions): { rows: number; iteration: number; skippedRejected: number } {
  const done = store.finishedIterations().filter((n) => n > 0);
  const iteration = o.iteration ?? done[done.length - 1];
  if (iteration === undefined) throw new Error(`run ${store.id} has no finished iteration to export`);
  const lines = store.readGenerations(iteration);
  if (lines.length === 0) throw new Error(`run ${store.id} has no generations in iteration ${iteration}`);
  const notes = latestAnnotations(store.readAnnotations(), iteration);
  const run = store.readRun();
  const byId = new Map(D.map((x) => [x.id, x]));
  let skippedRejected = 0;
  const rows: string[] = [];
  for (const l of lines) {
    const a = notes.get(l.id);
    if (a?.verdict === 'reject') { skippedRejected++; continue; }
    const accepted = a?.verdict === 'accept';
    if (!accepted && (!l.correct || l.hintLeak || l.answer === null)) continue;
    const rationale = a?.rationale ?? l.rationale;
    const x = byId.get(l.id);
    if (!x) throw new Error(`question ${l.id} of run ${store.id} is no longer in the dataset`);
    rows.push(JSON.stringify(row(task, x, l, rationale, o.format, { run: run.id, iteration, stage: l.stage, id: l.id, verdict: a?.verdict ?? null })));
  }
  fs.mkdirSync(path.dirname(path.resolve(o.out)), { recursive: true });
  fs.writeFileSync(o.out, rows.map((r) => r + '\n').join(''));
  return { rows: rows.length, iteration, skippedRejected };
}

function row(task: Task, x: Example, l: GenerationLine, rationale: string, format: ExportFormat, provenance: Record<string, unknown>) {
  const prompt = task.prompt(x, false);
  // Always the gold answer: a row is kept only when the answer matched it or a person vouched for it.
  const completion = task.completion(rationale, l.gold);
  if (format === 'sft') return { prompt, completion, metadata: provenance };
  return { messages: [{ role: 'user', content: prompt }, { role: 'assistant', content: completion }], metadata: provenance };
}
