// The STaR loop (Zelikman et al. 2022, Algorithm 1), resumable at every step:
//
//   M0 <- base model (the embedded one is trained from P alone)
//   for n in 1..N:
//     (r̂, ŷ)  <- M(n-1)(x + P)              for every x in D          rationale generation
//     (r̂ʳ, ŷʳ) <- M(n-1)(x + hint(y) + P)   for every wrong x         rationalization
//     Dn <- {(x, r̂, y) : ŷ = y} ∪ {(x, r̂ʳ, y) : ŷ ≠ y and ŷʳ = y}     kept WITHOUT the hint
//     Mn <- train(M0, Dn)                                              from the ORIGINAL model, more steps each time
//   until accuracy stops rising
import { setMaxListeners } from 'events';
import * as fs from 'fs';
import * as path from 'path';
import { selectBackend } from './compute/backend';
import { CACHE_DIR } from './generators/cache';
import { addUsage, emptyUsage } from './generators/generator';
import { openaiSettings, resolveApiKey } from './generators/openai';
import { metrics, readUsage, reportUsage, usageMetrics } from './iterationMetrics';
import { dedupRationales } from './metrics/dedup';
import { StopRequested } from './model/train';
import { evaluate, GenContext, generatorFor, makeBaseModel, modelReady, trainerFor } from './models';
import { budgets, examplesOf, promptOf, turnsOf } from './prompts';
import { hashSeed } from './random';
import { trainSteps } from './schedule';
import { loadData, Project } from './project';
import { leaveOutOverlap, overlapRefusal, overlapWarnings } from './overlap';
import { checkRunFits } from './preflight';
import { Curation, curationBefore } from './curation';
import { describeChanges, InputsChangedError, runInputs } from './inputs';
import { writeJsonAtomic } from './store/jsonl';
import { acquireRunLock, describeHolder, HeldLock } from './store/runLock';
import { RunStore } from './store/runStore';
import {
  DedupMetrics,
  GenerationLine,
  InputFingerprint,
  ProjectConfig,
  RUN_FORMAT_VERSION,
  RunEvent,
  RunInputs,
  RunJson,
  TrainExample,
  UsageCounters,
} from './store/format';
import { Example, Exemplar, Task } from './tasks/task';

export interface RunOptions {
  /** Continue the latest run (or `runId`) instead of starting a new one. */
  resume?: boolean;
  runId?: string;
  /** Overrides of the project's star.json for this run. */
  iterations?: number;
  seed?: number;
  rationalize?: boolean;
  compute?: ProjectConfig['model']['compute'];
  /** Questions generated per appended chunk of generations.jsonl: the most a kill can cost. */
  chunkSize?: number;
  shouldStop?: () => boolean;
  /** Honour people's accept/reject marks of earlier iterations in the next training sets (also when resuming). */
  honourAnnotations?: boolean;
  /** The API key of a remote model (the extension's SecretStorage); else the environment variable of model.apiKeyEnv. */
  apiKey?: string;
  /** Resume although D, the held-out split or P changed since the run last ran (recorded in run.json). */
  acceptChanges?: boolean;
  /** End this invocation after that iteration, leaving the run's plan as it is (the extension's Run Iteration). */
  untilIteration?: number;
}

type LoadedData = Awaited<ReturnType<typeof loadData>>;

export { InputsChangedError, StopRequested };

export async function runStar(project: Project, opts: RunOptions, emit: (e: RunEvent) => void): Promise<RunStore> {
  // A resume takes the run's writer lock before anything else, so a second writer is refused at once.
  const resumed = opts.resume || opts.runId ? claimRun(project, opts) : undefined;
  let lock = resumed?.lock;
  try {
    // Everything that can refuse a start runs before the run is written: a failed start changes nothing.
    const data = await loadData(project);
    const planned = resumed ? resumedRun(project, resumed.store, data, opts) : newRun(project, data, opts);
    const remote = planned.config.model.backend === 'openai';
    const backend = remote
      ? { description: `openai(${openaiSettings(planned.config.model).baseUrl})`, skipped: [] as string[] }
      : await selectBackend(opts.compute ?? planned.config.model.compute);
    if (remote) resolveApiKey(openaiSettings(planned.config.model), opts.apiKey);
    const P = planned.exemplars.map((r, i) => project.task.exemplarFromRecord(r, `p-${i + 1}`));
    const { run, used, warnings } = withoutOverlap(project, planned, P, data);
    const fits = 'name' in backend
      ? checkRunFits(project.task, run.config, P, used, project.dir, backend.name)
      : [];
    let store: RunStore;
    if (resumed) store = resumed.store;
    else ({ store, lock } = createRun(project, run));
    store.writeRun({ ...run, status: 'running', backend: backend.description, error: undefined, errorStack: undefined });
    const notes: RunEvent[] = [
      ...warnings.map((message): RunEvent => ({ type: 'log', level: 'warn', message })),
      ...fits.map((message): RunEvent => ({ type: 'log', level: 'info', message })),
    ];
    if (lock?.tookOver) {
      const message = `took over the writer lock of ${describeHolder(lock.tookOver)}: that process is gone`;
      notes.unshift({ type: 'log', level: 'warn', message });
    }
    return await runLoop(project, store, { ...used, P }, run, backend, opts, emit, notes);
  } finally {
    lock?.release();
  }
}

async function runLoop(
  project: Project,
  store: RunStore,
  data: { train: Example[]; eval: Example[]; P: Exemplar[] },
  run: RunJson,
  backend: { description: string; skipped: string[] },
  opts: RunOptions,
  emit: (e: RunEvent) => void,
  notes: RunEvent[],
): Promise<RunStore> {
  const { task } = project;
  const { config } = run;
  const { P } = data;
  const remote = config.model.backend === 'openai';
  const say = (e: RunEvent) => { store.appendEvent(e); emit(e); };
  // The run's stop also cancels requests in flight; answers already received stay in the cache.
  const abort = new AbortController();
  setMaxListeners(0, abort.signal); // one listener per request in flight
  const poll = setInterval(() => { if (opts.shouldStop?.()) abort.abort(); }, 100);
  poll.unref();
  const gen: GenContext = {
    cacheDir: path.join(project.dir, CACHE_DIR, 'openai'),
    apiKey: opts.apiKey,
    signal: abort.signal,
    log: (message) => say({ type: 'log', level: 'warn', message }),
    info: (message) => say({ type: 'log', level: 'info', message }),
  };
  const stop = () => { if (opts.shouldStop?.()) throw new StopRequested(); };
  // this invocation ends after `last` (the extension's Run Iteration); the run's plan stays as it is
  const last = Math.min(config.star.iterations, opts.untilIteration ?? Infinity);

  try {
    say({ type: 'run-start', runId: store.id, runDir: store.dir, backend: backend.description, resumed: !!opts.resume });
    for (const s of backend.skipped) say({ type: 'log', level: 'info', message: `backend ${s}` });
    for (const e of notes) say(e);
    const changed = run.inputChanges?.[run.inputChanges.length - 1];
    if (opts.acceptChanges && changed)
      say({ type: 'log', level: 'warn', message: `going on with changed inputs: ${changed.changes.join('; ')}` });

    // M0: the base model, evaluated as iteration 0.
    const baseDir = store.ensureIter(0);
    if (!store.readMetrics(0)) {
      say({ type: 'iteration-start', iteration: 0 });
      const t0 = Date.now();
      let loss: number | null = null;
      let steps = 0;
      const progress = trainingProgress(store, 0, emit);
      if (!modelReady(baseDir)) ({ loss, steps } = await progress.run(() =>
        makeBaseModel(
          task, config, P, data.train, data.eval, baseDir, project.dir, progress.onStep, opts.shouldStop, gen.info,
        )));
      const tTrain = (Date.now() - t0) / 1000;
      const ev = await evaluate(task, config, baseDir, data.eval, P, gen, (d, n) => emit({ type: 'progress', iteration: 0, phase: 'eval', done: d, total: n }));
      store.writeEval(0, ev.lines);
      const m = metrics(task, 0, [], ev.lines, steps, remote ? 0 : examplesOf(task, P).length, loss, t0, { generate: 0, rationalize: 0, train: tTrain, eval: ev.seconds },
        usageMetrics(emptyUsage(), emptyUsage(), ev.usage), config.sampling.k);
      reportUsage(say, 0, m.usage!);
      store.writeMetrics(0, m);
      say({ type: 'iteration-end', iteration: 0, metrics: m });
    }

    let best = store.readMetrics(0)!.eval.accuracy;
    let sinceBest = 0;
    let converged = false;
    for (let n = 1; n <= last; n++) {
      const done = store.readMetrics(n);
      if (done) {
        if (done.eval.accuracy > best) { best = done.eval.accuracy; sinceBest = 0; } else sinceBest++;
        continue;
      }
      say({ type: 'iteration-start', iteration: n });
      const t0 = Date.now();
      store.ensureIter(n);

      // 1-3. Rationales from M(n-1) for all of D, rationalizing the wrong ones; appended chunk by chunk.
      const phase = { generate: 0, rationalize: 0, train: 0, eval: 0 };
      const usage = readUsage(store, n);
      const lines = await generateAll(task, config, store, n, data.train, P, phase, usage, gen, emit, stop, Math.max(1, opts.chunkSize ?? 256));

      // 4. Fine-tune the ORIGINAL model on the kept rationales.
      const curation = config.training.honourAnnotations ? curationBefore(store, n) : undefined;
      const { examples, dedup } = trainingSet(task, config, P, lines, data.train, curation);
      store.writeTrainSet(n, examples);
      const trainerKind = (config.trainer ?? { kind: 'embedded' }).kind;
      const steps = trainerKind === 'none' ? 0 : trainSteps(config.training.schedule, n, examples.length, config.training.batchSize);
      const outDir = store.iterPath(n);
      let loss: number | null = null;
      if (!modelReady(outDir)) {
        const tTrain = Date.now();
        emit({ type: 'phase', iteration: n, phase: 'train', total: steps });
        const progress = trainingProgress(store, n, emit);
        ({ loss } = await progress.run(() => trainerFor(config).train({
          baseDir,
          outDir,
          examples,
          steps,
          seed: hashSeed(config.star.seed, 'train', n),
          onProgress: progress.onStep,
          shouldStop: opts.shouldStop,
          iteration: n,
          runId: store.id,
          projectDir: project.dir,
          trainFile: store.iterPath(n, 'train.jsonl'),
          log: (message) => say({ type: 'log', level: 'info', message }),
        })));
        phase.train = (Date.now() - tTrain) / 1000;
      }

      // Held-out accuracy of Mn.
      const ev = await evaluate(task, config, outDir, data.eval, P, gen, (d, total) => emit({ type: 'progress', iteration: n, phase: 'eval', done: d, total }));
      phase.eval = ev.seconds;
      store.writeEval(n, ev.lines);
      const m = metrics(task, n, lines, ev.lines, steps, examples.length, loss, t0, phase, usageMetrics(usage.generate, usage.rationalize, ev.usage), config.sampling.k, dedup);
      reportUsage(say, n, m.usage!);
      store.writeMetrics(n, m);
      store.updateRun({ iterationsDone: n });
      say({ type: 'iteration-end', iteration: n, metrics: m });

      // 5. Until accuracy stops rising.
      if (m.eval.accuracy > best) { best = m.eval.accuracy; sinceBest = 0; } else sinceBest++;
      if (config.star.patience > 0 && sinceBest >= config.star.patience) {
        say({ type: 'log', level: 'info', message: `held-out accuracy has not risen for ${sinceBest} iteration(s): stopping` });
        converged = true;
        break;
      }
    }
    const status = converged || last === config.star.iterations ? 'finished' : 'stopped';
    store.updateRun({ status });
    say({ type: 'run-end', status, iterations: store.finishedIterations().length - 1 });
  } catch (e0) {
    // a request cancelled by the run's stop is a stop, not a failure
    const e = abort.signal.aborted && !(e0 instanceof StopRequested) ? new StopRequested() : e0;
    const stopped = e instanceof StopRequested;
    const status = stopped ? 'stopped' : 'failed';
    // the message is what a person reads (tree, report, run picker); the stack is kept apart for a bug report
    const error = stopped ? undefined : (e as Error).message ?? String(e);
    const errorStack = stopped ? undefined : (e as Error).stack;
    store.updateRun({ status, error, errorStack });
    say({ type: 'run-end', status, iterations: Math.max(0, store.finishedIterations().length - 1), error: stopped ? undefined : (e as Error).message });
    if (!stopped) throw e;
  } finally {
    clearInterval(poll);
  }
  return store;
}

/**
 * D and the held-out split as the run uses them: without the questions P holds (and, for the held-out split, D), the
 * same way for a new run and a resume (with the P the run keeps). Refused when nothing would be left.
 */
function withoutOverlap(project: Project, planned: RunJson, P: Exemplar[], data: LoadedData) {
  const c = project.config;
  const names = { exemplars: c.exemplars, train: c.train, eval: c.eval };
  const before = { train: data.train.length, eval: data.eval.length };
  const used = leaveOutOverlap(P, data.train, data.eval);
  const refusal = overlapRefusal(used, before, names);
  if (refusal) throw new Error(refusal);
  const run: RunJson = { ...planned, overlap: used.counts, trainCount: used.train.length, evalCount: used.eval.length };
  return { run, used: { train: used.train, eval: used.eval }, warnings: overlapWarnings(used.counts, before, names) };
}

/** Training progress of iteration n: events for the UI, and each step's loss in iter-<n>/train-loss.jsonl. */
function trainingProgress(store: RunStore, n: number, emit: (e: RunEvent) => void) {
  const log = store.trainLossLog(n);
  return {
    onStep: (done: number, total: number, loss: number) => {
      log.add(done, loss);
      emit({ type: 'progress', iteration: n, phase: 'train', done, total, loss });
    },
    /** Runs the training and writes out the last losses however it ends (a stop included). */
    async run<T>(train: () => Promise<T>): Promise<T> {
      try {
        return await train();
      } finally {
        log.flush();
      }
    },
  };
}

/** The run to resume (the latest, or `runId`), its writer lock taken. */
function claimRun(project: Project, opts: RunOptions): { store: RunStore; lock: HeldLock } {
  const store = opts.runId ? RunStore.at(project.dir, opts.runId) : RunStore.latest(project.dir);
  if (!store || !fs.existsSync(path.join(store.dir, 'run.json'))) {
    const which = opts.runId ? `run ${opts.runId}` : 'run';
    throw new Error(`no ${which} to resume in ${RunStore.runsDir(project.dir)}`);
  }
  return { store, lock: acquireRunLock(store.dir) };
}

/**
 * The resumed run as it goes on. It keeps its seed, rationalization and P; it may plan more iterations, and where the
 * work runs comes from star.json as it is now (the trainer command, the server's address, key variable and limits:
 * a failed trainer command is fixed there, then resumed). Flags that contradict the run, and inputs that changed
 * since it last ran, are refused rather than ignored or written into its snapshot.
 */
function resumedRun(project: Project, store: RunStore, data: LoadedData, opts: RunOptions): RunJson {
  const run = store.readRun();
  const star = run.config.star;
  const refuse = (why: string) =>
    new Error(`run ${run.id}: ${why}; start a new run for that (\`star run\` without --resume)`);
  if (project.config.task !== run.task)
    throw refuse(`star.json's task is now ${project.config.task}, the run's is ${run.task}`);
  if (opts.seed !== undefined && opts.seed !== star.seed)
    throw refuse(`it runs with seed ${star.seed}, not ${opts.seed}`);
  if (opts.rationalize !== undefined && opts.rationalize !== star.rationalize)
    throw refuse(`it runs ${star.rationalize ? 'with' : 'without'} rationalization`);
  if (opts.iterations !== undefined && opts.iterations < star.iterations)
    throw refuse(
      `it plans ${star.iterations} iterations; --iterations ${opts.iterations} would shorten it (Ctrl-C stops a run early)`,
    );

  const inputs = runInputs(project.config, data);
  const before = run.inputs ?? legacyInputs(run, inputs);
  const seen = [run.iterationsDone, run.iterationsDone + 1].flatMap((n) => store.readGenerations(n).map((l) => l.id));
  const changes = describeChanges(before, inputs, data.train, seen);
  if (changes.length && !opts.acceptChanges) throw new InputsChangedError(run.id, changes);
  const change = { time: new Date().toISOString(), beforeIteration: run.iterationsDone + 1, changes };
  const inputChanges = changes.length ? [...(run.inputChanges ?? []), change] : run.inputChanges;

  const now = project.config;
  const sameModel = now.model.backend === run.config.model.backend && now.model.model === run.config.model.model;
  const m = now.model;
  const where = sameModel && m.backend === 'openai'
    ? { baseUrl: m.baseUrl, apiKeyEnv: m.apiKeyEnv, concurrency: m.concurrency, maxRetries: m.maxRetries,
        retryBaseSeconds: m.retryBaseSeconds, timeoutSeconds: m.timeoutSeconds }
    : {};
  const sameTrainer = run.config.trainer && now.trainer && now.trainer.kind === run.config.trainer.kind;
  const trainer = sameTrainer ? now.trainer : run.config.trainer;
  const honourAnnotations = opts.honourAnnotations ?? run.config.training.honourAnnotations;
  return {
    ...run,
    config: {
      ...run.config,
      trainer,
      training: { ...run.config.training, honourAnnotations },
      model: { ...run.config.model, ...where },
      star: { ...star, iterations: opts.iterations ?? star.iterations },
    },
    inputs,
    inputChanges,
    trainCount: data.train.length,
    evalCount: data.eval.length,
  };
}

/** A run written before fingerprints: only its counts can be compared. */
function legacyInputs(run: RunJson, now: RunInputs): RunInputs {
  const counted = (f: InputFingerprint, records: number) => (f.records === records ? f : { ...f, records, sha256: '' });
  return {
    train: counted(now.train, run.trainCount),
    eval: counted(now.eval, run.evalCount),
    exemplars: counted(now.exemplars, run.exemplars.length),
  };
}

/** A new run, snapshotting config and P with this run's overrides (not written yet). */
function newRun(project: Project, data: LoadedData, opts: RunOptions): RunJson {
  const c = project.config;
  const now = new Date();
  return {
    version: RUN_FORMAT_VERSION,
    id: RunStore.newRunId(now),
    createdAt: now.toISOString(),
    updatedAt: now.toISOString(),
    status: 'running',
    task: c.task,
    config: {
      ...c,
      model: { ...c.model, compute: opts.compute ?? c.model.compute },
      training: { ...c.training, honourAnnotations: opts.honourAnnotations ?? c.training.honourAnnotations },
      star: {
        ...c.star,
        iterations: opts.iterations ?? c.star.iterations,
        seed: opts.seed ?? c.star.seed,
        rationalize: opts.rationalize ?? c.star.rationalize,
      },
    },
    exemplars: data.exemplars.map((e) => project.task.exemplarToRecord(e)),
    trainCount: data.train.length,
    evalCount: data.eval.length,
    inputs: runInputs(c, data),
    backend: '',
    iterationsDone: 0,
  };
}

/** The new run's folder with its writer lock; run.json is written by the caller. */
function createRun(project: Project, run: RunJson): { store: RunStore; lock: HeldLock } {
  const store = RunStore.at(project.dir, run.id);
  fs.mkdirSync(store.dir, { recursive: true });
  return { store, lock: acquireRunLock(store.dir) };
}

async function generateAll(
  task: Task,
  config: ProjectConfig,
  store: RunStore,
  n: number,
  D: Example[],
  P: Exemplar[],
  phase: { generate: number; rationalize: number },
  usage: { generate: UsageCounters; rationalize: UsageCounters },
  gen: GenContext,
  emit: (e: RunEvent) => void,
  stop: () => void,
  chunkSize: number,
): Promise<GenerationLine[]> {
  const lines = store.readGenerations(n, true); // cuts a line torn by a kill
  const have = new Set(lines.map((l) => l.id));
  const todo = D.filter((x) => !have.has(x.id));
  emit({ type: 'phase', iteration: n, phase: 'generate', total: D.length });
  if (todo.length === 0) return lines;
  const s = config.sampling;
  const M = generatorFor(config, store.iterPath(n - 1), gen);
  const chat = (x: Example, hint: boolean) => turnsOf(task, config, P, x, hint);
  // rationalization's progress: of the questions failed so far (this invocation), how many had their hinted try
  const tried = { done: 0, total: 0 };
  const rationalizing = (done: number) =>
    emit({ type: 'progress', iteration: n, phase: 'rationalize', done: tried.done + done, total: tried.total });
  try {
    for (let i = 0; i < todo.length; i += chunkSize) {
      stop();
      const chunk = todo.slice(i, i + chunkSize);
      const seeds = chunk.map((x) => hashSeed(config.star.seed, n, x.id));
      const opts = { k: s.k, temperature: s.temperature, topK: s.topK, maxNewTokens: budgets(task, config, chunk), stop: task.stop, seeds, signal: gen.signal };

      let t = Date.now();
      const direct = await M.generate(chunk.map((x) => promptOf(task, config, P, x, false)), { ...opts, turns: chunk.map((x) => chat(x, false)) });
      phase.generate += (Date.now() - t) / 1000;
      if (M.takeUsage) usage.generate = addUsage(usage.generate, M.takeUsage());
      const out: GenerationLine[] = chunk.map((x, j) => {
        const samples = direct[j].map((c) => task.parse(c));
        const right = samples.filter((r) => r.answer !== null && task.equal(r.answer, x.gold));
        const first = right[0] ?? samples[0];
        // with k samples: every other correct rationale too, when training keeps them all
        const others = config.training.keepAllCorrect ? right.slice(1).map((r) => r.rationale) : [];
        return {
          id: x.id, question: x.question, gold: x.gold, rationale: first.rationale, answer: first.answer,
          correct: right.length > 0, stage: right.length > 0 ? 'direct' : 'failed', group: x.group, line: x.line,
          ...(s.k > 1 ? { directCorrect: right.length, samples: s.k, sampleAnswers: samples.map((r) => r.answer) } : {}),
          ...(others.length ? { alternatives: others } : {}),
        };
      });

      const wrong = out.map((l, j) => ({ l, x: chunk[j] })).filter(({ l }) => !l.correct);
      if (config.star.rationalize && wrong.length > 0) {
        t = Date.now();
        tried.total += wrong.length;
        rationalizing(0);
        const hinted = await M.generate(wrong.map(({ x }) => promptOf(task, config, P, x, true)), {
          ...opts,
          seeds: wrong.map(({ x }) => hashSeed(config.star.seed, n, x.id, 'hint')),
          turns: wrong.map(({ x }) => chat(x, true)),
          onProgress: rationalizing,
        });
        tried.done += wrong.length;
        phase.rationalize += (Date.now() - t) / 1000;
        if (M.takeUsage) usage.rationalize = addUsage(usage.rationalize, M.takeUsage());
        wrong.forEach(({ l, x }, j) => {
          const r = hinted[j].map((c) => task.parse(c)).find((p) => p.answer !== null && task.equal(p.answer, x.gold));
          if (!r) return;
          l.directAnswer = l.answer;
          l.rationale = r.rationale; // the hint was in the prompt only, never in what is kept
          l.answer = r.answer;
          l.correct = true;
          l.stage = 'rationalized';
          if (task.hintLeak(r.rationale, x)) l.hintLeak = true;
        });
      }
      store.appendGenerations(n, out);
      writeJsonAtomic(store.iterPath(n, 'usage.json'), usage);
      lines.push(...out);
      emit({ type: 'progress', iteration: n, phase: 'generate', done: lines.length, total: D.length });
    }
  } finally {
    M.dispose();
  }
  return lines;
}

/** Dn: the kept rationales (rationalized ones stored without the hint), plus P itself when the config says so. */
function trainingSet(task: Task, config: ProjectConfig, P: Exemplar[], lines: GenerationLine[], D: Example[], curation?: Curation): { examples: TrainExample[]; dedup?: DedupMetrics } {
  const byId = new Map(D.map((x) => [x.id, x]));
  const out = config.training.includeExemplars ? examplesOf(task, P) : [];
  const kept: { x: Example; l: GenerationLine; rationale: string }[] = [];
  for (const l of lines) {
    if (curation?.accepted.has(l.id)) continue; // a person's accepted rationale stands in for the model's
    if (!l.correct || l.answer === null) continue;
    if (l.hintLeak && !config.training.includeHintLeaks) continue;
    const x = byId.get(l.id);
    if (!x) continue;
    for (const r of [l.rationale, ...(l.alternatives ?? [])]) if (!curation?.rejected.get(l.id)?.has(r)) kept.push({ x, l, rationale: r });
  }
  for (const [id, rationale] of curation?.accepted ?? []) {
    const x = byId.get(id);
    if (x) out.push({ prompt: promptOf(task, config, P, x, false), completion: task.completion(rationale, x.gold), source: 'annotated', id });
  }
  let keep = kept.map(() => true);
  let dedup: DedupMetrics | undefined;
  if (config.training.dedup) ({ keep, report: dedup } = dedupRationales(kept.map((k) => ({ id: k.x.id, rationale: k.rationale })), P));
  kept.forEach(({ x, l, rationale }, i) => {
    if (keep[i]) out.push({ prompt: promptOf(task, config, P, x, false), completion: task.completion(rationale, l.answer!), source: l.stage === 'rationalized' ? 'rationalized' : 'direct', id: l.id });
  });
  return { examples: out, dedup };
}




