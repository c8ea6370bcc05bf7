// Exports a run's kept rationales as a fine-tuning dataset (`sft`: TRL's prompt/completion; `openai-chat`: messages;
// `hf`: flat Hugging Face datasets-style JSONL with a dataset card, README.md, beside it). The prompt never carries the hint, rows a person
// rejected are left out, a person's edited rationale replaces the model's, and each row says where it came from.
import * as fs from 'fs';
import * as path from 'path';
import { loadProjectConfig, projectFiles, ProjectFile } from './project';
import { exists, isUnder, sameFile, WouldOverwrite } from './safeFiles';
import type { Annotation, GenerationLine } from './store/format';
import { writeFileAtomic } from './store/jsonl';
import { RunStore } from './store/runStore';
import type { Example, Task } from './tasks/task';

export const EXPORT_FORMATS = ['sft', 'openai-chat', 'hf'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export interface ExportOptions {
  format: ExportFormat;
  out: string;
  iteration?: number;
  /** Replace `out` when it exists (never a file of the project, never inside its run store). */
  force?: boolean;
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

export function exportDataset(task: Task, store: RunStore, D: Example[], o: ExportOptions): { rows: number; iteration: number; skippedRejected: number; skippedHintLeaks: number; card?: string } {
  refuseOut(store, o.out, !!o.force);
  const done = store.finishedIterations().filter((n) => n > 0);
  const iteration = o.iteration ?? done[done.length - 1];
  if (iteration === undefined) throw new Error(`run ${store.id} has no finished iteration to export`);
  if (!done.includes(iteration))
    throw new Error(`run ${store.id} has not finished iteration ${iteration} (finished: ${done.join(', ') || 'none'})`);
  const lines = store.readGenerations(iteration);
  if (lines.length === 0) throw new Error(`run ${store.id} has no generations in iteration ${iteration}`);
  const notes = latestAnnotations(store.readAnnotations(), iteration);
  const run = store.readRun();
  const byId = new Map(D.map((x) => [x.id, x]));
  let skippedRejected = 0;
  let skippedHintLeaks = 0;
  const rows: string[] = [];
  const stages = { direct: 0, rationalized: 0, edited: 0 };
  for (const l of lines) {
    const a = notes.get(l.id);
    if (a?.verdict === 'reject') { skippedRejected++; continue; }
    const accepted = a?.verdict === 'accept';
    if (!accepted && (!l.correct || l.hintLeak || l.answer === null)) continue;
    const rationale = a?.rationale ?? l.rationale;
    const x = byId.get(l.id);
    if (!x) throw new Error(`question ${l.id} of run ${store.id} is no longer in the dataset`);
    // no hint ever: a rationale that refers to it stays out even when accepted, unless a person rewrote it clean
    if (task.hintLeak(rationale, x) || (l.hintLeak && a?.rationale === undefined)) { skippedHintLeaks++; continue; }
    const provenance = { run: run.id, iteration, stage: l.stage, id: l.id, verdict: a?.verdict ?? null };
    if (l.stage === 'rationalized') stages.rationalized++;
    else stages.direct++;
    if (a?.rationale !== undefined) stages.edited++;
    rows.push(JSON.stringify(o.format === 'hf' ? hfRow(task, x, rationale, provenance, a?.rationale !== undefined) : row(task, x, l, rationale, o.format, provenance)));
  }
  fs.mkdirSync(path.dirname(path.resolve(o.out)), { recursive: true });
  // whole or not at all: a failed export leaves the file it was replacing as it was
  writeFileAtomic(o.out, rows.map((r) => r + '\n').join(''));
  let card: string | undefined;
  if (o.format === 'hf') {
    card = path.join(path.dirname(path.resolve(o.out)), 'README.md');
    const mine = !fs.existsSync(card) || fs.readFileSync(card, 'utf8').includes(CARD_MARK);
    if (mine) fs.writeFileSync(card, datasetCard(task, run, iteration, path.basename(o.out), rows.length, stages, skippedRejected));
    else card = undefined; // a README.md of someone else's is never overwritten
  }
  return { rows: rows.length, iteration, skippedRejected, skippedHintLeaks, card };
}

/** A project's own files are never an export's output, whatever --force says; other files only with it. */
function refuseOut(store: RunStore, out: string, force: boolean): void {
  const own = ownFiles(store).find((f) => sameFile(out, f.file));
  const never = "export never writes over a project's files; choose another file";
  if (own) throw new Error(`${out} is the project's ${own.role} (${own.file}): ${never}`);
  const runs = path.join(store.projectDir, '.star');
  if (isUnder(out, runs) || sameFile(out, runs))
    throw new Error(`${out} is inside the project's run store (${runs}): ${never}`);
  if (exists(out) && !force)
    throw new WouldOverwrite([out], `${out} already exists: export replaces a file only with --force`);
}

/** The project's files as star.json names them now and as the run's config named them when it ran. */
function ownFiles(store: RunStore): ProjectFile[] {
  const dir = store.projectDir;
  const files = projectFiles(dir, store.readRun().config);
  try {
    files.push(...projectFiles(dir, loadProjectConfig(dir)));
  } catch {
    // a star.json that does not load now: the run's own config still names the files
  }
  return files;
}

const CARD_MARK = '<!-- written by star export -->';

/** One flat row: the columns a `datasets.load_dataset("json", ...)` user expects, provenance as columns too. */
function hfRow(task: Task, x: Example, rationale: string, p: { run: string; iteration: number; stage: string; id: string; verdict: string | null }, edited: boolean) {
  const prompt = task.prompt(x, false);
  return {
    id: x.id,
    question: x.question,
    rationale,
    answer: x.gold,
    prompt,
    completion: task.completion(rationale, x.gold),
    task: task.name,
    run: p.run,
    iteration: p.iteration,
    stage: p.stage,
    verdict: p.verdict,
    edited,
  };
}

function datasetCard(task: Task, run: { id: string; config: { model: { backend: string; model?: string; pretrained?: string } } }, iteration: number, file: string, rows: number, stages: { direct: number; rationalized: number; edited: number }, rejected: number): string {
  const model = run.config.model.backend === 'openai' ? run.config.model.model : run.config.model.pretrained ? `embedded (${path.basename(run.config.model.pretrained)})` : 'embedded transformer';
  const size = rows < 1000 ? 'n<1K' : rows < 10000 ? '1K<n<10K' : rows < 100000 ? '10K<n<100K' : 'n>100K';
  return `---
configs:
- config_name: default
  data_files:
  - split: train
    path: ${file}
task_categories:
- text-generation
tags:
- reasoning
- rationales
- star
size_categories:
- ${size}
---
${CARD_MARK}
# STaR rationales: ${task.name}, run ${run.id}, iteration ${iteration}

Rationales written by a model (${model}) in the STaR loop (Zelikman et al. 2022, *STaR: Bootstrapping Reasoning With
Reasoning*) and kept because they reach the gold answer, exported by STaR Studio.

- **${rows}** rows: ${stages.direct} found directly, ${stages.rationalized} by rationalization (the model saw the
  right answer as a hint; the hint is in no row: prompts are hint-free and rationales that refer to it are left out),
  ${stages.edited} edited by a person;
- ${rejected} row(s) a person rejected are left out.

Columns: \`id\` (question id in the source data), \`question\`, \`rationale\`, \`answer\` (gold), \`prompt\` and
\`completion\` (the text the model is fine-tuned on), \`task\`, and provenance: \`run\`, \`iteration\`, \`stage\`
(\`direct\` | \`rationalized\`), \`verdict\` (a person's accept, or null), \`edited\`.

\`\`\`python
from datasets import load_dataset
ds = load_dataset("json", data_files="${file}", split="train")
\`\`\`
`;
}

function row(task: Task, x: Example, l: GenerationLine, rationale: string, format: ExportFormat, provenance: Record<string, unknown>) {
  const prompt = task.prompt(x, false);
  // Always the gold answer: a row is kept only when the answer matched it or a person vouched for it.
  const completion = task.completion(rationale, l.gold);
  if (format === 'sft') return { prompt, completion, metadata: provenance };
  return { messages: [{ role: 'user', content: prompt }, { role: 'assistant', content: completion }], metadata: provenance };
}
