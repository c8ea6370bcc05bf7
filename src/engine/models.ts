// Which model writes and which trainer fine-tunes: the embedded tfjs GPT (made from P, or a pretrained checkpoint),
// or a served model behind an OpenAI-compatible API; and the held-out evaluation, which only needs a generator.
import * as path from 'path';
import { clearTrainState, train as trainModel } from './model/train';
import { saveModel, hasModel } from './model/checkpoint';
import { GPT } from './model/gpt';
import { loadPretrained } from './model/pretrained';
import { CharTokenizer } from './model/tokenizer';
import { EmbeddedGenerator } from './generators/embedded';
import { emptyUsage, Generator } from './generators/generator';
import { OpenAIGenerator, openaiSettings, readRemoteModel, resolveApiKey, writeRemoteModel } from './generators/openai';
import { EmbeddedTrainer } from './trainers/embedded';
import { CommandTrainer } from './trainers/command';
import { NoneTrainer } from './trainers/none';
import type { Trainer } from './trainers/trainer';
import { budgets, examplesOf, promptOf, turnsOf } from './prompts';
import { hashSeed } from './random';
import type { EvalLine, ProjectConfig, UsageCounters } from './store/format';
import { Example, Exemplar, Task } from './tasks/task';

/** What a generator needs besides the config: where the request cache is, the key, and the run's stop. */
export interface GenContext {
  cacheDir: string;
  apiKey?: string;
  signal?: AbortSignal;
  /** retries and other trouble */
  log?: (message: string) => void;
  /** what ran (e.g. which decoder) */
  info?: (message: string) => void;
}

export function trainerFor(config: ProjectConfig): Trainer {
  const t = config.trainer ?? { kind: 'embedded' };
  if (t.kind === 'none') return new NoneTrainer();
  if (t.kind === 'command') return new CommandTrainer(t);
  return new EmbeddedTrainer(config.training);
}

/** A model folder is complete: the embedded checkpoint (weights + model.json), or a served model's model.json. */
export function modelReady(dir: string): boolean {
  return hasModel(dir) || readRemoteModel(dir) !== undefined;
}

export function generatorFor(config: ProjectConfig, modelDir: string, ctx: GenContext): Generator {
  const remote = readRemoteModel(modelDir);
  if (remote) {
    const settings = openaiSettings(config.model);
    return new OpenAIGenerator({ settings, model: remote.model, revision: remote.revision, apiKey: resolveApiKey(settings, ctx.apiKey), cacheDir: ctx.cacheDir, onRetry: ctx.log });
  }
  return EmbeddedGenerator.open(modelDir, 256, ctx.info);
}

/** The vocabulary of a model made from P: every character of P, D and the eval split, so no question meets an unknown. */
export function baseTokenizer(task: Task, P: Exemplar[], D: Example[], E: Example[]): CharTokenizer {
  const texts: string[] = [];
  for (const e of P) texts.push(task.prompt(e, true), task.completion(e.rationale, e.gold));
  for (const x of [...D, ...E]) texts.push(task.prompt(x, true));
  return CharTokenizer.fromTexts(texts);
}

/** M0 for the embedded backend: a fresh transformer whose vocabulary and training data come from the task only. */
export async function makeBaseModel(
  task: Task,
  config: ProjectConfig,
  P: Exemplar[],
  D: Example[],
  E: Example[],
  dir: string,
  projectDir: string,
  onStep: (done: number, total: number, loss: number) => void,
  shouldStop?: () => boolean,
  log?: (message: string) => void,
): Promise<{ loss: number | null; steps: number }> {
  if (config.model.backend === 'openai') {
    // a served model is M0 as it is: iteration 0 is its eval, with P in the prompt
    const s = openaiSettings(config.model);
    writeRemoteModel(dir, { architecture: 'remote', backend: 'openai', model: s.model, revision: s.revision, source: 'base' });
    return { loss: null, steps: 0 };
  }
  if (config.model.pretrained) {
    // a pretrained checkpoint is M0 as it is (few-shot P in the prompt), stored in the run like any embedded model
    const { model, tokenizer } = loadPretrained(path.resolve(projectDir, config.model.pretrained));
    try {
      await saveModel(dir, model, tokenizer);
    } finally {
      model.dispose();
    }
    return { loss: null, steps: 0 };
  }
  const tokenizer = baseTokenizer(task, P, D, E);
  const m = config.model;
  const model = new GPT({ vocabSize: tokenizer.vocabSize, nLayer: m.nLayer, nHead: m.nHead, nEmbd: m.nEmbd, blockSize: m.blockSize, dropout: m.dropout, pos: m.pos }, undefined, config.star.seed);
  try {
    const steps = config.training.baseSteps;
    const r = await trainModel(model, tokenizer, examplesOf(task, P), {
      ...config.training,
      steps,
      seed: hashSeed(config.star.seed, 'base'),
      stateDir: dir,
      onStep: (d, l) => onStep(d, steps, l),
      shouldStop,
      log,
    });
    await saveModel(dir, model, tokenizer);
    clearTrainState(dir);
    return r;
  } finally {
    model.dispose();
  }
}

export async function evaluate(
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
