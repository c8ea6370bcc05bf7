// Reads and writes one run directory. Whole files are replaced atomically; growing files are only appended to,
// and a torn last line (a kill mid-write) is cut off on resume, so nothing is lost or duplicated.
import * as fs from 'fs';
import * as path from 'path';
import { appendJsonl, readAppendLog, writeFileAtomic, writeJsonAtomic } from './jsonl';
import {
  Annotation,
  EvalLine,
  GenerationLine,
  IterationMetrics,
  iterDir,
  RunEvent,
  RunJson,
  RunState,
  RUNS_DIR,
  TrainExample,
  TrainLossLine,
} from './format';
import { writerAlive } from './runLock';
import { TrainLossLog } from './trainLossLog';

export class RunStore {
  constructor(readonly dir: string) {}

  static runsDir(projectDir: string): string {
    return path.join(projectDir, RUNS_DIR);
  }

  /** Run ids, oldest first (ids start with a sortable timestamp). */
  static list(projectDir: string): string[] {
    const d = RunStore.runsDir(projectDir);
    if (!fs.existsSync(d)) return [];
    return fs.readdirSync(d).filter((n) => fs.existsSync(path.join(d, n, 'run.json'))).sort();
  }

  static latest(projectDir: string): RunStore | undefined {
    const ids = RunStore.list(projectDir);
    return ids.length ? RunStore.at(projectDir, ids[ids.length - 1]) : undefined;
  }

  /** The run `id` of a project (which need not exist yet). */
  static at(projectDir: string, id: string): RunStore {
    return new RunStore(path.join(RunStore.runsDir(projectDir), id));
  }

  static create(projectDir: string, run: RunJson): RunStore {
    const store = RunStore.at(projectDir, run.id);
    fs.mkdirSync(store.dir, { recursive: true });
    store.writeRun(run);
    return store;
  }

  /** Sortable by start time to the millisecond, so `latest` is the newest run even when two start in one second. */
  static newRunId(now = new Date()): string {
    const t = now.toISOString().replace(/[-:.]/g, '').replace('T', '-').slice(0, 18);
    return `${t}-${Math.random().toString(36).slice(2, 6)}`;
  }

  get id(): string {
    return path.basename(this.dir);
  }

  /** The project the run belongs to (runs live in <project>/.star/runs/<id>). */
  get projectDir(): string {
    return path.dirname(path.dirname(path.dirname(this.dir)));
  }

  readRun(): RunJson {
    return JSON.parse(fs.readFileSync(path.join(this.dir, 'run.json'), 'utf8')) as RunJson;
  }

  writeRun(run: RunJson): void {
    writeJsonAtomic(path.join(this.dir, 'run.json'), { ...run, updatedAt: new Date().toISOString() });
  }

  /** The status as a reader should show it: `running` only while its writer lives, else `interrupted`. */
  state(run = this.readRun()): RunState {
    const { status } = run;
    return status === 'running' && !writerAlive(this.dir) ? 'interrupted' : status;
  }

  updateRun(patch: Partial<RunJson>): RunJson {
    const run = { ...this.readRun(), ...patch };
    this.writeRun(run);
    return run;
  }

  iterPath(n: number, file?: string): string {
    const d = path.join(this.dir, iterDir(n));
    return file ? path.join(d, file) : d;
  }

  ensureIter(n: number): string {
    const d = this.iterPath(n);
    fs.mkdirSync(d, { recursive: true });
    return d;
  }

  /** Iterations with a metrics.json, i.e. finished ones, in order. */
  finishedIterations(): number[] {
    if (!fs.existsSync(this.dir)) return [];
    return fs
      .readdirSync(this.dir)
      .map((n) => /^iter-(\d+)$/.exec(n))
      .filter((m): m is RegExpExecArray => !!m && fs.existsSync(path.join(this.dir, m[0], 'metrics.json')))
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);
  }

  readGenerations(n: number, repair = false): GenerationLine[] {
    return readAppendLog<GenerationLine>(this.iterPath(n, 'generations.jsonl'), repair);
  }

  appendGenerations(n: number, lines: GenerationLine[]): void {
    appendJsonl(this.iterPath(n, 'generations.jsonl'), lines);
  }

  writeTrainSet(n: number, examples: TrainExample[]): void {
    writeFileAtomic(this.iterPath(n, 'train.jsonl'), examples.map((e) => JSON.stringify(e) + '\n').join(''));
  }

  readTrainSet(n: number): TrainExample[] {
    return readAppendLog<TrainExample>(this.iterPath(n, 'train.jsonl'));
  }

  /** Where training appends iteration n's loss, step by step. */
  trainLossLog(n: number): TrainLossLog {
    return new TrainLossLog(this.iterPath(n, 'train-loss.jsonl'));
  }

  readTrainLoss(n: number): TrainLossLine[] {
    return readAppendLog<TrainLossLine>(this.iterPath(n, 'train-loss.jsonl'));
  }

  readMetrics(n: number): IterationMetrics | undefined {
    const f = this.iterPath(n, 'metrics.json');
    return fs.existsSync(f) ? (JSON.parse(fs.readFileSync(f, 'utf8')) as IterationMetrics) : undefined;
  }

  writeMetrics(n: number, m: IterationMetrics): void {
    writeJsonAtomic(this.iterPath(n, 'metrics.json'), m);
  }

  writeEval(n: number, lines: EvalLine[]): void {
    writeFileAtomic(this.iterPath(n, 'eval.jsonl'), lines.map((l) => JSON.stringify(l) + '\n').join(''));
  }

  readEval(n: number): EvalLine[] {
    return readAppendLog<EvalLine>(this.iterPath(n, 'eval.jsonl'));
  }

  appendEvent(e: RunEvent): void {
    appendJsonl(path.join(this.dir, 'events.jsonl'), [{ time: new Date().toISOString(), ...e }]);
  }

  readAnnotations(): Annotation[] {
    return readAppendLog<Annotation>(path.join(this.dir, 'annotations.jsonl'));
  }

  appendAnnotation(a: Annotation): void {
    appendJsonl(path.join(this.dir, 'annotations.jsonl'), [a]);
  }
}
