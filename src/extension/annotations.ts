// People's marks on a run's rationales: appended to <run>/annotations.jsonl (never rewritten, so a crash loses
// nothing), and promotion of a rationale into P through a WorkspaceEdit, so it can be undone like any edit.
import * as path from 'path';
import * as vscode from 'vscode';
import { loadExamples } from '../engine/dataset';
import { openProject } from '../engine/project';
import type { Annotation, GenerationLine } from '../engine/store/format';
import { RunStore } from '../engine/store/runStore';
import type { AnnotationPatch } from '../protocol';

export function annotate(store: RunStore, iteration: number, id: string, patch: AnnotationPatch & { promoted?: boolean }): Annotation {
  const a: Annotation = { time: new Date().toISOString(), iteration, id };
  if (patch.verdict) a.verdict = patch.verdict;
  if (patch.rationale !== undefined) a.rationale = patch.rationale;
  if (patch.note !== undefined) a.note = patch.note;
  if (patch.promoted) a.promoted = true;
  store.appendAnnotation(a);
  return a;
}

/** Appends the question with its (edited) rationale to the project's P file and saves it. */
export async function promoteToP(projectDir: string, line: GenerationLine, rationale: string): Promise<vscode.Uri> {
  const project = await openProject(projectDir);
  const uri = vscode.Uri.file(path.resolve(projectDir, project.config.exemplars));
  const doc = await vscode.workspace.openTextDocument(uri);
  // The dataset's own record carries what the generation line does not (e.g. the choices of a multiple-choice question).
  const source = (await loadExamples(path.resolve(projectDir, project.config.train), project.task)).find((x) => x.id === line.id);
  const base = source ?? { id: line.id, question: line.question, gold: line.gold };
  const record = project.task.exemplarToRecord({ ...base, line: undefined, id: `promoted-${line.id}`, rationale });
  // Checked through the task before it goes in: P must stay loadable.
  project.task.exemplarFromRecord(record, record.id as string);
  const end = doc.lineAt(doc.lineCount - 1);
  const text = (end.text.trim() === '' ? '' : '\n') + JSON.stringify(record) + '\n';
  const edit = new vscode.WorkspaceEdit();
  edit.insert(uri, end.range.end, text);
  if (!(await vscode.workspace.applyEdit(edit))) throw new Error(`could not edit ${uri.fsPath}`);
  await doc.save();
  return uri;
}
