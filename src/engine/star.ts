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
import { saveModel, hasModel } from './model/checkpoint';
import { GPT } from './model/gpt';
import { CharTokenizer } from './model/tokenizer';
import { clearTrainState, StopRequested, train as trainModel } from './model/train';
import { selectBackend } from './compute/backend';
import { EmbeddedGenerator } from './generators/embedded';
import { addUsage, ChatTurn, emptyUsage, Generator } from './generators/generator';
import { OpenAIGenerator, openaiSettings, readRemoteModel, resolveApiKey, writeRemoteModel } from './generators/openai';
import { CACHE_DIR } from './generators/cache';
import { loadPretrained } from './model/pretrained';
import { dedupRationales } from './metrics/dedup';
import { sampleMetrics } from './metrics/samples';
import { writeJsonAtomic } from './store/jsonl';
import { EmbeddedTrainer } from './trainers/embedded';
import { CommandTrainer } from './trainers/command';
import { NoneTrainer } from './trainers/none';
import type { Trainer } from './trainers/trainer';
import { hashSeed } from './random';
import { loadData, Project } from './project';
import { Curation, curationBefore } from './curation';
import { RunStore } from './store/runStore';
import {
  EvalLine,
  GenerationLine,
  GroupAccuracy,
  IterationMetrics,
  ProjectConfig,
  RUN_FORMAT_VERSION,
  RunEvent,
  RunJson,
  StepSchedule,
  TrainExample,
  UsageCounters,
  UsageMetrics,
  DedupMetrics,
} from './store/format';
import { Example, Exemplar, fewShotPrefix, Task } from './tasks/task';

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
}

/** What a generator needs besides the config: where the request cache is, the key, and the run's stop. */
interface GenContext {
  cacheDir: string;
  apiKey?: string;
  signal?: AbortSignal;
  log?: (message: string) => void;
}

export { StopRequested };

/** Steps of iteration n (1-based) under a schedule; the paper's default is 40 * 1.2^(n-1). */
export function trainSteps(s: StepSchedule, n: number, examples: number, batchSize: number): number {
  if (s.kind === 'exponential') return Math.round(s.base * Math.pow(s.growth, n - 1));
  if (s.kind === 'linear') return Math.round(s.base + s.increment * (n - 1));
  return Math.max(1, Math.ceil((s.epochs * examples) / batchSize));
}

export async function runStar(project: Project, opts: RunOptions, emit: (e: RunEvent) => void): Promise<RunStore> {
  const { task } = project;
  const data = await loadData(project);
  const store = openRun(project, data, opts);
  const run = store.readRun();
  const config = run.config;
  const P = run.exemplars.map((r, i) => task.exemplarFromRecord(r, `p-${i + 1}`));
  const remote = config.model.backend === 'openai';
  const backend = remote
    ? { description: `openai(${openaiSettings(config.model).baseUrl})`, skipped: [] as string[] }
    : await selectBackend(config.model.compute);
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
  };
  if (remote) resolveApiKey(openaiSettings(config.model), opts.apiKey); // a missing key fails now, not mid-run
  store.updateRun({ status: 'running', backend: backend.description, error: undefined });
  say({ type: 'run-start', runId: store.id, runDir: store.dir, backend: backend.description, resumed: !!opts.resume });
  for (const s of backend.skipped) say({ type: 'log', level: 'info', message: `backend ${s}` });
  const stop = () => { if (opts.shouldStop?.()) throw new StopRequested(); };

  try {
    // M0: the base model, evaluated as iteration 0.
    const baseDir = store.ensureIter(0);
    if (!store.readMetrics(0)) {
      say({ type: 'iteration-start', iteration: 0 });
      const t0 = Date.now();
      let loss: number | null = null;
      let steps = 0;
      if (!modelReady(baseDir)) ({ loss, steps } = makeBaseModel(task, config, P, data.train, data.eval, baseDir, (d, n, l) =>
        emit({ type: 'progress', iteration: 0, phase: 'train', done: d, total: n, loss: l }), opts.shouldStop));
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
    for (let n = 1; n <= config.star.iterations; n++) {
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
        ({ loss } = await trainerFor(config).train({
          baseDir,
          outDir,
          examples,
          steps,
          seed: hashSeed(config.star.seed, 'train', n),
          onProgress: (d, total, l) => emit({ type: 'progress', iteration: n, phase: 'train', done: d, total, loss: l }),
          shouldStop: opts.shouldStop,
          iteration: n,
          runId: store.id,
          projectDir: project.dir,
          trainFile: store.iterPath(n, 'train.jsonl'),
          log: (message) => say({ type: 'log', level: 'info', message }),
        }));
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
        break;
      }
    }
    store.updateRun({ status: 'finished' });
    say({ type: 'run-end', status: 'finished', iterations: store.finishedIterations().length - 1 });
  } catch (e0) {
    // a request cancelled by the run's stop is a stop, not a failure
    const e = abort.signal.aborted && !(e0 instanceof StopRequested) ? new StopRequested() : e0;
    const stopped = e instanceof StopRequested;
    const status = stopped ? 'stopped' : 'failed';
    const error = stopped ? undefined : (e as Error).stack ?? String(e);
    store.updateRun({ status, error });
    say({ type: 'run-end', status, iterations: Math.max(0, store.finishedIterations().length - 1), error: stopped ? undefined : (e as Error).message });
    if (!stopped) throw e;
  } finally {
    clearInterval(poll);
  }
  return store;
}

/** A new run snapshotting config and P, or the one being resumed (its own config, with overrides applied). */
function openRun(project: Project, data: { train: Example[]; eval: Example[]; exemplars: Exemplar[] }, opts: RunOptions): RunStore {
  const override = (c: ProjectConfig): ProjectConfig => ({
    ...c,
    model: { ...c.model, compute: opts.compute ?? c.model.compute },
    training: { ...c.training, honourAnnotations: opts.honourAnnotations ?? c.training.honourAnnotations },
    star: {
      ...c.star,
      iterations: opts.iterations ?? c.star.iterations,
      seed: opts.seed ?? c.star.seed,
      rationalize: opts.rationalize ?? c.star.rationalize,
    },
  });
  if (opts.resume || opts.runId) {
    const store = opts.runId ? new RunStore(path.join(RunStore.runsDir(project.dir), opts.runId)) : RunStore.latest(project.dir);
    if (!store || !fs.existsSync(path.join(store.dir, 'run.json'))) throw new Error(`no run to resume in ${RunStore.runsDir(project.dir)}`);
    const run = store.readRun();
    // A resumed run keeps its seed and settings; only the iteration count (to extend it) and backend may change,
    // and where the work runs: the trainer command and the server's address, key variable and limits come from
    // star.json as it is now (a failed trainer command is fixed there, then resumed).
    const now = project.config;
    const sameModel = now.model.backend === run.config.model.backend && now.model.model === run.config.model.model;
    const where = sameModel && now.model.backend === 'openai'
      ? { baseUrl: now.model.baseUrl, apiKeyEnv: now.model.apiKeyEnv, concurrency: now.model.concurrency, maxRetries: now.model.maxRetries, retryBaseSeconds: now.model.retryBaseSeconds, timeoutSeconds: now.model.timeoutSeconds }
      : {};
    const trainer = run.config.trainer && now.trainer && now.trainer.kind === run.config.trainer.kind ? now.trainer : run.config.trainer;
    const training = { ...run.config.training, honourAnnotations: opts.honourAnnotations ?? run.config.training.honourAnnotations };
    store.writeRun({ ...run, config: { ...run.config, trainer, training, model: { ...run.config.model, ...where, compute: opts.compute ?? run.config.model.compute }, star: { ...run.config.star, iterations: opts.iterations ?? run.config.star.iterations } } });
    return store;
  }
  const now = new Date();
  const run: RunJson = {
    version: RUN_FORMAT_VERSION,
    id: RunStore.newRunId(now),
    createdAt: now.toISOString(),
    updatedAt: now.toISOString(),
    status: 'running',
    task: project.config.task,
    config: override(project.config),
    exemplars: data.exemplars.map((e) => project.task.exemplarToRecord(e)),
    trainCount: data.train.length,
    evalCount: data.eval.length,
    backend: '',
    iterationsDone: 0,
  };
  return RunStore.create(project.dir, run);
}

function trainerFor(config: ProjectConfig): Trainer {
  const t = config.trainer ?? { kind: 'embedded' };
  if (t.kind === 'none') return new NoneTrainer();
  if (t.kind === 'command') return new CommandTrainer(t);
  return new EmbeddedTrainer(config.training);
}

/** A model folder is complete: the embedded checkpoint (weights + model.json), or a served model's model.json. */
function modelReady(dir: string): boolean {
  return hasModel(dir) || readRemoteModel(dir) !== undefined;
}

function generatorFor(config: ProjectConfig, modelDir: string, ctx: GenContext): Generator {
  const remote = readRemoteModel(modelDir);
  if (remote) {
    const settings = openaiSettings(config.model);
    return new OpenAIGenerator({ settings, model: remote.model, revision: remote.revision, apiKey: resolveApiKey(settings, ctx.apiKey), cacheDir: ctx.cacheDir, onRetry: ctx.log });
  }
  return EmbeddedGenerator.open(modelDir);
}

/** The exemplars of P in front of x: the first `shots`, or `shots` drawn for x alone (seeded by its id). */
export function shotsFor(config: ProjectConfig, P: Exemplar[], x: Example): Exemplar[] {
  const k = Math.min(config.sampling.shots, P.length);
  if (k <= 0) return [];
  if ((config.sampling.shotSelection ?? 'first') === 'first') return P.slice(0, k);
  const ranked = P.filter((e) => e.id !== x.id).map((e) => ({ e, h: hashSeed('shots', x.id, e.id) })).sort((a, b) => a.h - b.h);
  return ranked.slice(0, k).map((r) => r.e);
}

/** Tokens each question may generate: the configured limit, or less when the task knows a right answer is shorter. */
function budgets(task: Task, config: ProjectConfig, xs: Example[]): number[] {
  const max = config.sampling.maxNewTokens;
  return xs.map((x) => Math.min(max, task.completionBudget?.(x) ?? max));
}

/** The prompt for x: the few-shot prefix of P (when the model needs one), then x, with the hint when rationalizing. */
function promptOf(task: Task, config: ProjectConfig, P: Exemplar[], x: Example, hint: boolean): string {
  return fewShotPrefix(task, shotsFor(config, P, x)) + task.prompt(x, hint);
}

/** The same prompt as chat turns: each shot a user/assistant pair, then x. */
function turnsOf(task: Task, config: ProjectConfig, P: Exemplar[], x: Example, hint: boolean): ChatTurn[] {
  const turns: ChatTurn[] = [];
  for (const e of shotsFor(config, P, x)) turns.push({ role: 'user', content: task.prompt(e) }, { role: 'assistant', content: task.completion(e.rationale, e.gold) });
  turns.push({ role: 'user', content: task.prompt(x, hint) });
  return turns;
}

/** Requests of a remote model in generate and rationalize so far (iter-<n>/usage.json: a resumed run adds to it). */
function readUsage(store: RunStore, n: number): { generate: UsageCounters; rationalize: UsageCounters } {
  const f = store.iterPath(n, 'usage.json');
  if (!fs.existsSync(f)) return { generate: emptyUsage(), rationalize: emptyUsage() };
  return JSON.parse(fs.readFileSync(f, 'utf8'));
}

function usageMetrics(generate: UsageCounters, rationalize: UsageCounters, ev: UsageCounters): UsageMetrics {
  return { generate, rationalize, eval: ev, total: addUsage(addUsage(generate, rationalize), ev) };
}

function reportUsage(say: (e: RunEvent) => void, n: number, u: UsageMetrics) {
  if (u.total.requests === 0) return;
  const t = u.total;
  say({
    type: 'log',
    level: 'info',
    message: `iteration ${n}: ${t.requests} request(s), ${t.cached} reused from the cache, ${t.requests - t.cached} sent (${t.retries} retries), ` +
      `${t.promptTokens} prompt + ${t.completionTokens} completion tokens${t.cost > 0 ? `, cost ${t.cost.toFixed(4)}` : ''}`,
  });
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
  try {
    for (let i = 0; i < todo.length; i += chunkSize) {
      stop();
      const chunk = todo.slice(i, i + chunkSize);
      const seeds = chunk.map((x) => hashSeed(config.star.seed, n, x.id));
      const opts = { k: s.k, temperature: s.temperature, topK: s.topK, maxNewTokens: s.maxNewTokens, stop: task.stop, seeds, signal: gen.signal };

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
        const hinted = await M.generate(wrong.map(({ x }) => promptOf(task, config, P, x, true)), {
          ...opts,
          seeds: wrong.map(({ x }) => hashSeed(config.star.seed, n, x.id, 'hint')),
          turns: wrong.map(({ x }) => chat(x, true)),
        });
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

/**
 * P as training text: each exemplar without and with the hint, so the model learns to use a hint too. Kept also
 * when rationalization is off, so that ablation changes only what the loop adds, never M0 or P's share.
 */
function examplesOf(task: Task, P: Exemplar[]): TrainExample[] {
  return P.flatMap((e) => [
    { prompt: task.prompt(e, false), completion: task.completion(e.rationale, e.gold), source: 'exemplar' as const, id: e.id },
    { prompt: task.prompt(e, true), completion: task.completion(e.rationale, e.gold), source: 'exemplar-hint' as const, id: e.id },
  ]);
}

/** M0 for the embedded backend: a fresh transformer whose vocabulary and training data come from the task only. */
function makeBaseModel(
  task: Task,
  config: ProjectConfig,
  P: Exemplar[],
  D: Example[],
  E: Example[],
  dir: string,
  onStep: (done: number, total: number, loss: number) => void,
  shouldStop?: () => boolean,
): { loss: number | null; steps: number } {
  if (config.model.backend === 'openai') {
    // a served model is M0 as it is: iteration 0 is its eval, with P in the prompt
    const s = openaiSettings(config.model);
    writeRemoteModel(dir, { architecture: 'remote', backend: 'openai', model: s.model, revision: s.revision, source: 'base' });
    return { loss: null, steps: 0 };
  }
  if (config.model.pretrained) {
    // a pretrained checkpoint is M0 as it is (few-shot P in the prompt), stored in the run like any embedded model
    const { model, tokenizer } = loadPretrained(path.resolve(path.dirname(path.dirname(path.dirname(path.dirname(dir)))), config.model.pretrained));
    try {
      saveModel(dir, model, tokenizer);
    } finally {
      model.dispose();
    }
    return { loss: null, steps: 0 };
  }
  const texts: string[] = [];
  for (const e of P) texts.push(task.prompt(e, true), task.completion(e.rationale, e.gold));
  for (const x of [...D, ...E]) texts.push(task.prompt(x, true));
  const tokenizer = CharTokenizer.fromTexts(texts);
  const m = config.model;
  const model = new GPT({ vocabSize: tokenizer.vocabSize, nLayer: m.nLayer, nHead: m.nHead, nEmbd: m.nEmbd, blockSize: m.blockSize, dropout: m.dropout, pos: m.pos }, undefined, config.star.seed);
  try {
    const steps = config.training.baseSteps;
    const r = trainModel(model, tokenizer, examplesOf(task, P), {
      ...config.training,
      steps,
      seed: hashSeed(config.star.seed, 'base'),
      stateDir: dir,
      onStep: (d, l) => onStep(d, steps, l),
      shouldStop,
    });
    saveModel(dir, model, tokenizer);
    clearTrainState(dir);
    return r;
  } finally {
    model.dispose();
  }
}

async function evaluate(
  task: Task,
  config: ProjectConfig,
  modelDir: string,
  E: Example[],
  P: Exemplar[],
  gen: GenContext,
  onProgress: (done: number, total: number) => void,
): Promise<{ lines: EvalLine[]; seconds: number; usage: UsageCounters }> {
  const t0 = Date.now();
  const M = generatorFor(config, modelDir, gen);
  try {
    // greedy, one sample: the accuracy of the model itself, not of a sampling budget
    const out = await M.generate(E.map((x) => promptOf(task, config, P, x, false)), {
      k: 1, temperature: 0, topK: 0, maxNewTokens: budgets(task, config, E), stop: task.stop, seeds: E.map((_, i) => i), onProgress,
      turns: E.map((x) => turnsOf(task, config, P, x, false)), signal: gen.signal,
    });
    const lines = E.map((x, i) => {
      const r = task.parse(out[i][0]);
      return { id: x.id, question: x.question, gold: x.gold, rationale: r.rationale, answer: r.answer, correct: r.answer !== null && task.equal(r.answer, x.gold), group: x.group };
    });
    return { lines, seconds: (Date.now() - t0) / 1000, usage: M.takeUsage?.() ?? emptyUsage() };
  } finally {
    M.dispose();
  }
}

function metrics(
  task: Task,
  n: number,
  lines: GenerationLine[],
  ev: EvalLine[],
  steps: number,
  trainExamples: number,
  loss: number | null,
  t0: number,
  phaseSeconds: IterationMetrics['phaseSeconds'],
  usage: UsageMetrics,
  k: number,
  dedup?: DedupMetrics,
): IterationMetrics {
  const byGroup: Record<string, GroupAccuracy> = {};
  for (const l of ev) {
    const g = (byGroup[l.group ?? 'all'] ??= { total: 0, correct: 0, accuracy: 0 });
    g.total++;
    if (l.correct) g.correct++;
  }
  for (const g of Object.values(byGroup)) g.accuracy = g.total ? g.correct / g.total : 0;
  const correct = ev.filter((l) => l.correct).length;
  return {
    iteration: n,
    train: {
      total: lines.length,
      correct: lines.filter((l) => l.stage === 'direct').length,
      rationalized: lines.filter((l) => l.stage === 'rationalized').length,
      failed: lines.filter((l) => l.stage === 'failed').length,
      hintLeaks: lines.filter((l) => l.hintLeak).length,
    },
    eval: { total: ev.length, correct, accuracy: ev.length ? correct / ev.length : 0, byGroup },
    trainSteps: steps,
    trainExamples,
    finalLoss: loss,
    seconds: (Date.now() - t0) / 1000,
    phaseSeconds,
    usage,
    ...(k > 1 && n > 0 ? { samples: sampleMetrics(lines, k, (a, b) => task.equal(a, b)) } : {}),
    ...(dedup ? { dedup } : {}),
  };
}
