// What cannot work is refused before a run does any work: prompts that leave the embedded model no room to answer,
// training data of which nothing fits the block, and shapes whose memory no micro-batch brings under the backend's
// budget. What works but not as configured (exemplars left out, micro-batches, smaller sampling batches) is said.
import * as path from 'path';
import { formatBytes, gptParams, memoryBudget, ModelShape, rowsThatFit, sampleBytes, trainStepBytes } from './model/memory';
import { HFTokenizer } from './model/hfTokenizer';
import { gpt2Config, llamaConfig, readHFConfig } from './model/pretrained';
import { baseTokenizer } from './models';
import { examplesOf, promptOf } from './prompts';
import type { ProjectConfig } from './store/format';
import type { Example, Exemplar, Task } from './tasks/task';

interface Tokens {
  encode(text: string): number[];
}

/** A prompt and where its question is written. */
interface Located {
  tokens: number;
  where: string;
}

/**
 * Checks the embedded model's config against the run's data and memory; throws an Error a CLI user can act on,
 * else returns what the run's log should say. Reads nothing but config files; writes nothing.
 */
export function checkRunFits(
  task: Task, config: ProjectConfig, P: Exemplar[], data: { train: Example[]; eval: Example[] },
  projectDir: string, backend: string | undefined,
): string[] {
  const { tokenizer, shape } = runModel(task, config, P, data, projectDir);
  const T = shape.blockSize;
  const prompts = promptLengths(task, config, P, data, projectDir, tokenizer);
  refuseLongPrompts(prompts, T, config.sampling.maxNewTokens);
  const notes: string[] = [];
  const fromP = config.model.pretrained === undefined;
  const records = fromP || config.training.includeExemplars ? examplesOf(task, P) : [];
  const lengths = records.map((r) => tokenizer.encode(r.prompt + r.completion).length);
  const over = records.filter((_, i) => lengths[i] > T + 1);
  if (fromP && over.length === records.length)
    throw new Error(`all ${records.length} training sequences of P (exemplars with and without the hint) are longer than ` +
      `blockSize ${T} + 1 tokens (the longest has ${Math.max(...lengths)}): M0 would have nothing to learn from. ` +
      `Set model.blockSize to at least ${Math.max(...lengths) - 1}`);
  if (over.length > 0)
    notes.push(`${over.length} of ${records.length} training sequences of P are longer than blockSize ${T} + 1 tokens and are ` +
      `left out of training (longest ${Math.max(...lengths)}): ${over.map((r) => `${r.id}${r.source === 'exemplar-hint' ? ' (hint)' : ''}`).join(', ')}`);
  const budget = memoryBudget(backend ?? '');
  if (budget === undefined) return [...notes, `memory: not estimated on the ${backend} backend`];
  const longest = Math.max(0, ...prompts.map((p) => p.tokens));
  refuseMemory(shape, budget, backend!, longest, config.sampling.maxNewTokens);
  const kept = lengths.filter((n) => n <= T + 1);
  const t0 = Math.min(T, Math.max(1, ...kept) - 1);
  const B = config.training.batchSize;
  const rows = rowsThatFit((n) => trainStepBytes(shape, n, t0), B, budget);
  if (fromP && rows < B)
    notes.push(`M0's training step: ${Math.ceil(B / rows)} micro-batches of up to ${rows} rows (a batch of ${B} x ${t0} tokens ` +
      `needs about ${formatBytes(trainStepBytes(shape, B, t0))}, the ${backend} backend has ${formatBytes(budget)}); same result`);
  return notes;
}

/** The tokenizer and shape of the model the run would make or load. */
function runModel(task: Task, config: ProjectConfig, P: Exemplar[], data: { train: Example[]; eval: Example[] }, projectDir: string) {
  const m = config.model;
  if (m.pretrained === undefined) {
    const tokenizer = baseTokenizer(task, P, data.train, data.eval);
    const c = { ...m, vocabSize: tokenizer.vocabSize };
    const shape: ModelShape = { nLayer: m.nLayer, nHead: m.nHead, nEmbd: m.nEmbd, vocabSize: c.vocabSize, blockSize: m.blockSize, params: gptParams(c) };
    return { tokenizer: tokenizer as Tokens, shape };
  }
  const dir = path.resolve(projectDir, m.pretrained);
  const { config: hf, family } = readHFConfig(dir);
  const c = family === 'llama' ? llamaConfig(hf) : gpt2Config(hf);
  // weights are not read here: a transformer's count, 12 L C^2 + 2 V C, is close enough for the fixed share
  const params = 12 * c.nLayer * c.nEmbd * c.nEmbd + 2 * c.vocabSize * c.nEmbd;
  const shape: ModelShape = { nLayer: c.nLayer, nHead: c.nHead, nEmbd: c.nEmbd, vocabSize: c.vocabSize, blockSize: c.blockSize, params };
  return { tokenizer: HFTokenizer.fromDir(dir, c.vocabSize) as Tokens, shape };
}

/** Tokens of every prompt the run samples: D's and the eval split's, with the hint where rationalization asks. */
function promptLengths(task: Task, config: ProjectConfig, P: Exemplar[], data: { train: Example[]; eval: Example[] },
  projectDir: string, tok: Tokens): Located[] {
  const out: Located[] = [];
  const add = (xs: Example[], file: string, hint: boolean) => {
    for (const x of xs)
      out.push({ tokens: tok.encode(promptOf(task, config, P, x, hint)).length, where: `${path.resolve(projectDir, file)}:${x.line ?? 1}` });
  };
  add(data.train, config.train, false);
  if (config.star.rationalize) add(data.train, config.train, true);
  add(data.eval, config.eval, false);
  return out;
}

function refuseLongPrompts(prompts: Located[], T: number, maxNew: number) {
  const long = prompts.filter((p) => p.tokens >= T);
  if (long.length === 0) return;
  const longest = Math.max(...long.map((p) => p.tokens));
  throw new Error(`${long.length} prompt(s) have blockSize ${T} tokens or more, leaving the model no room to answer ` +
    `(the longest has ${longest}; the first is the question at ${long[0].where}). Set model.blockSize to at least ` +
    `${longest + 1} (${longest + maxNew} leaves room for sampling.maxNewTokens ${maxNew}), or leave those questions out`);
}

/** Not even one row trains or samples within the budget: the estimate, the budget, and a blockSize that fits. */
function refuseMemory(shape: ModelShape, budget: number, backend: string, longest: number, maxNew: number) {
  const T = shape.blockSize;
  const train = trainStepBytes(shape, 1, T);
  const P = Math.min(longest, T - 1);
  const sampling = sampleBytes(shape, 1, P, Math.min(T, P + maxNew));
  if (train <= budget && sampling <= budget) return;
  let fits = T;
  while (fits > 1 && trainStepBytes({ ...shape, blockSize: fits }, 1, fits) > budget) fits = Math.floor(fits * 0.9);
  const what = train > budget ? `training one sequence of ${T} tokens needs about ${formatBytes(train)}`
    : `sampling one prompt of ${P} tokens needs about ${formatBytes(sampling)}`;
  throw new Error(`the model does not fit: ${what} on tfjs ops, more than the ${formatBytes(budget)} the ${backend} ` +
    `backend has (nLayer ${shape.nLayer}, nHead ${shape.nHead}, nEmbd ${shape.nEmbd}, blockSize ${T}). Lower ` +
    `model.blockSize (about ${fits} fits), model.nEmbd or model.nLayer; training.batchSize only sets how many ` +
    `micro-batches a step takes`);
}
