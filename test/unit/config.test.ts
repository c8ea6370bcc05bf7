// star.json as a person writes it: every value that cannot work is refused before a run starts, naming the file,
// the line of its key and the values allowed; the same definition is the JSON Schema VS Code checks the file with.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { defaultsFor, MODEL_KINDS } from '../../src/engine/configDefaults';
import { Schema, STAR_SCHEMA, starSchemaText } from '../../src/engine/configSchema';
import { ConfigError, defaultConfig, loadProjectConfig } from '../../src/engine/project';
import { TASK_NAMES } from '../../src/engine/tasks/task';
import { cli } from '../fixtures/starCli';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** A value written into star.json as it stands (1e999, which JSON.stringify cannot write). */
const raw = (text: string) => `@raw:${text}@`;

/** star.json as `star init` writes it for arithmetic, changed by `edit` (which may return a whole new config). */
function starJson(edit: (c: Json) => Json | void): string {
  const c = JSON.parse(JSON.stringify(defaultConfig('arithmetic'))) as Json;
  const text = JSON.stringify(edit(c) ?? c, null, 2) + '\n';
  return text.replace(/"@raw:(.*?)@"/g, '$1');
}

function projectWith(text: string): { dir: string; file: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'star-config-'));
  const file = path.join(dir, 'star.json');
  fs.writeFileSync(file, text);
  return { dir, file };
}

/** The 1-based line of the one line of `text` holding `needle`. */
function lineHolding(text: string, needle: string | number): number {
  if (typeof needle === 'number') return needle;
  const hits = text.split('\n').flatMap((l, i) => (l.includes(needle) ? [i + 1] : []));
  assert.equal(hits.length, 1, `exactly one line of star.json holds ${needle}:\n${text}`);
  return hits[0];
}

function refusal(dir: string): string {
  try {
    loadProjectConfig(dir);
  } catch (e) {
    assert.ok(e instanceof ConfigError, `a ConfigError, not ${(e as Error).stack}`);
    return e.message;
  }
  assert.fail('star.json was accepted');
}

/** A served model on a server, the least star.json for one. */
const served = (model: Json = {}, more: Json = {}): Json =>
  ({ task: 'gsm8k', model: { backend: 'openai', model: 'Qwen/Qwen2.5-0.5B', ...model }, ...more });

interface Bad {
  /** What is wrong. */
  what: string;
  edit: (c: Json) => Json | void;
  /** Text found on the line the error must name, and on no other (or that line's number). */
  at: string | number;
  /** The message after "<file>:<line>: ". */
  says: string;
}

/** The values of issue 11 that ran, ran wrongly or failed mid-run. */
const ISSUE: Bad[] = [
  { what: 'a negative temperature', edit: (c) => void (c.sampling.temperature = -1), at: '"temperature": -1',
    says: '"sampling.temperature" must be a number >= 0 and <= 10 (got -1)' },
  { what: 'a negative top-k', edit: (c) => void (c.sampling.topK = -3), at: '"topK": -3',
    says: '"sampling.topK" must be an integer >= 0 and <= 1000000 (got -3)' },
  { what: 'negative shots', edit: (c) => void (c.sampling.shots = -2), at: '"shots": -2',
    says: '"sampling.shots" must be an integer >= 0 and <= 256 (got -2)' },
  { what: 'a fraction of a shot', edit: (c) => void (c.sampling.shots = 1.5), at: '"shots": 1.5',
    says: '"sampling.shots" must be an integer >= 0 and <= 256 (got 1.5)' },
  { what: 'a hundred million new tokens', edit: (c) => void (c.sampling.maxNewTokens = raw('1e8')),
    at: '"maxNewTokens": 1e8',
    says: '"sampling.maxNewTokens" must be an integer >= 1 and <= 131072 (got 1e8)' },
  { what: 'dropout above 1', edit: (c) => void (c.model.dropout = 1.5), at: '"dropout": 1.5',
    says: '"model.dropout" must be a number >= 0 and < 1 (got 1.5)' },
  { what: 'a warmup of five runs', edit: (c) => void (c.training.warmupFraction = 5), at: '"warmupFraction": 5',
    says: '"training.warmupFraction" must be a number >= 0 and <= 1 (got 5)' },
  { what: 'a negative weight decay', edit: (c) => void (c.training.weightDecay = -1), at: '"weightDecay": -1',
    says: '"training.weightDecay" must be a number >= 0 and <= 1 (got -1)' },
  { what: 'a negative gradient clip', edit: (c) => void (c.training.gradClip = -1), at: '"gradClip": -1',
    says: '"training.gradClip" must be a number > 0 (got -1)' },
  { what: 'no steps for M0', edit: (c) => void (c.training.baseSteps = 0), at: '"baseSteps": 0',
    says: '"training.baseSteps" must be an integer >= 1 and <= 10000000 (got 0)' },
  { what: 'an infinite learning rate', edit: (c) => void (c.training.lr = raw('1e999')), at: '"lr": 1e999',
    says: '"training.lr" must be a number > 0 and <= 1 (got 1e999)' },
  { what: 'a negative patience', edit: (c) => void (c.star.patience = -1), at: '"patience": -1',
    says: '"star.patience" must be an integer >= 0 and <= 1000 (got -1)' },
  { what: 'a fractional seed', edit: (c) => void (c.star.seed = 1.5), at: '"seed": 1.5',
    says: '"star.seed" must be an integer >= 0 and <= 4294967295 (got 1.5)' },
  { what: 'an unknown key in the schedule', edit: (c) => void (c.training.schedule.warmup = 10), at: '"warmup": 10',
    says: 'unknown setting "training.schedule.warmup" for an exponential schedule (allowed: kind, base, growth)' },
  { what: 'a schedule whose first iteration trains 0 steps',
    edit: (c) => void (c.training.schedule = { kind: 'linear', base: 0, increment: 10 }), at: '"base": 0',
    says: '"training.schedule.base" must be an integer >= 1 and <= 1000000 (got 0)' },
  { what: 'an unknown sampling.kind, after a schedule with a kind', edit: (c) => void (c.sampling.kind = 'greedy'),
    at: '"kind": "greedy"',
    says: 'unknown setting "sampling.kind" (allowed: k, temperature, topK, maxNewTokens, shots, shotSelection)' },
];

/** At least one of each class of value, of every section. */
const CLASSES: Bad[] = [
  // the top
  { what: 'an unknown task', edit: (c) => void (c.task = 'math'), at: '"task": "math"',
    says: '"task" must be one of arithmetic, gsm8k, multiple-choice (got "math")' },
  { what: 'no task', edit: (c) => void delete c.task, at: 1,
    says: '"task" is required: one of arithmetic, gsm8k, multiple-choice' },
  { what: 'a blank file name', edit: (c) => void (c.train = ' '), at: '"train": " "',
    says: '"train" must be a file path relative to the project folder (got " ")' },
  { what: 'an unknown top-level key', edit: (c) => void (c.iterations = 3), at: '"iterations": 3',
    says: 'unknown setting "iterations" (allowed: $schema, task, train, eval, exemplars, model, training, ' +
      'sampling, star, trainer)' },
  { what: 'a section that is no object', edit: (c) => void (c.sampling = 'greedy'), at: '"sampling": "greedy"',
    says: '"sampling" must be an object (got "greedy")' },
  // the embedded model
  { what: 'an unknown backend', edit: (c) => void (c.model.backend = 'local'), at: '"backend": "local"',
    says: '"model.backend" must be one of embedded, openai (got "local")' },
  { what: 'an unknown compute backend', edit: (c) => void (c.model.compute = 'gpu'), at: '"compute": "gpu"',
    says: '"model.compute" must be one of auto, tensorflow, webgpu, wasm, cpu (got "gpu")' },
  { what: 'a size written as a word', edit: (c) => void (c.model.nLayer = 'three'), at: '"nLayer": "three"',
    says: '"model.nLayer" must be an integer >= 1 and <= 128 (got "three")' },
  { what: 'no heads', edit: (c) => void (c.model.nHead = 0), at: '"nHead": 0',
    says: '"model.nHead" must be an integer >= 1 and <= 128 (got 0)' },
  { what: 'a width that is no multiple of the heads', edit: (c) => void (c.model.nEmbd = 130), at: '"nEmbd": 130',
    says: '"model.nEmbd" must be a multiple of "model.nHead" (4) (got 130)' },
  { what: 'a block of one token', edit: (c) => void (c.model.blockSize = 1), at: '"blockSize": 1',
    says: '"model.blockSize" must be an integer >= 2 and <= 131072 (got 1)' },
  { what: 'an unknown position encoding', edit: (c) => void (c.model.pos = 'alibi'), at: '"pos": "alibi"',
    says: '"model.pos" must be one of rope, learned (got "alibi")' },
  { what: 'a pretrained model with no folder', edit: (c) => void (c.model.pretrained = ''), at: '"pretrained": ""',
    says: '"model.pretrained" must be a folder with config.json, model.safetensors and tokenizer.json (got "")' },
  { what: 'a server setting on the embedded model', edit: (c) => void (c.model.baseUrl = 'http://localhost:8000/v1'),
    at: '"baseUrl"', says: '"model.baseUrl" is not allowed here: only for a served model ("backend": "openai")' },
  { what: 'an answer as long as the block', edit: (c) => void (c.sampling.maxNewTokens = 128),
    at: '"maxNewTokens": 128',
    says: '"sampling.maxNewTokens" must be less than "model.blockSize" (128): the prompt and the answer share the ' +
      'block (got 128)' },
  { what: 'a block shorter than the default answer', edit: (c) => void (c.model.blockSize = 64),
    at: '"maxNewTokens": 90',
    says: '"sampling.maxNewTokens" must be less than "model.blockSize" (64): the prompt and the answer share the ' +
      'block (got 90)' },
  // a served model
  { what: 'a served model without its name', edit: () => ({ task: 'gsm8k', model: { backend: 'openai' } }),
    at: '"model": {',
    says: '"model.model" is required for a served model: the served model\'s name, such as "Qwen/Qwen2.5-0.5B"' },
  { what: 'a server URL that is not http', edit: () => served({ baseUrl: 'ftp://models' }), at: '"baseUrl"',
    says: '"model.baseUrl" must be an http(s) URL such as http://localhost:8000/v1 (got "ftp://models")' },
  { what: 'an API key variable that is no variable name', edit: () => served({ apiKeyEnv: 'MY-KEY' }),
    at: '"apiKeyEnv"',
    says: '"model.apiKeyEnv" must be the name of an environment variable, such as OPENAI_API_KEY, or "" for a ' +
      'server without a key (got "MY-KEY")' },
  { what: 'an unknown API', edit: () => served({ api: 'responses' }), at: '"api": "responses"',
    says: '"model.api" must be one of completions, chat (got "responses")' },
  { what: 'no requests in flight', edit: () => served({ concurrency: 0 }), at: '"concurrency": 0',
    says: '"model.concurrency" must be an integer >= 1 and <= 1024 (got 0)' },
  { what: 'negative retries', edit: () => served({ maxRetries: -1 }), at: '"maxRetries": -1',
    says: '"model.maxRetries" must be an integer >= 0 and <= 100 (got -1)' },
  { what: 'a minute of first backoff', edit: () => served({ retryBaseSeconds: 60 }), at: '"retryBaseSeconds": 60',
    says: '"model.retryBaseSeconds" must be a number >= 0 and <= 30 (got 60)' },
  { what: 'a request timeout of 0', edit: () => served({ timeoutSeconds: 0 }), at: '"timeoutSeconds": 0',
    says: '"model.timeoutSeconds" must be a number > 0 and <= 86400 (got 0)' },
  { what: 'a negative price', edit: () => served({ pricing: { promptPerMillion: -1 } }), at: '"promptPerMillion": -1',
    says: '"model.pricing.promptPerMillion" must be a number >= 0 (got -1)' },
  { what: 'an unknown price', edit: () => served({ pricing: { cachedPerMillion: 1 } }), at: '"cachedPerMillion"',
    says: 'unknown setting "model.pricing.cachedPerMillion" (allowed: promptPerMillion, completionPerMillion)' },
  { what: 'a system message that is no text', edit: () => served({ api: 'chat', system: 5 }), at: '"system": 5',
    says: '"model.system" must be a string (got 5)' },
  { what: 'a checkpoint folder for a served model', edit: () => served({ pretrained: 'ckpt' }), at: '"pretrained"',
    says: '"model.pretrained" is not allowed here: only for the embedded model; a served model is named by "model"' },
  { what: 'an API key in star.json', edit: () => served({ apiKey: 'sk-oops' }), at: '"apiKey"',
    says: 'API keys never go in star.json: put the key in an environment variable and name it in "model.apiKeyEnv"' },
  // training
  { what: 'an unknown schedule', edit: (c) => void (c.training.schedule = { kind: 'cosine', base: 40 }),
    at: '"kind": "cosine"',
    says: '"training.schedule.kind" must be one of exponential, linear, epochs (got "cosine")' },
  { what: 'a schedule without its growth', edit: (c) => void (c.training.schedule = { kind: 'exponential', base: 40 }),
    at: '"schedule"', says: '"training.schedule.growth" is required for an exponential schedule: a number > 0 and ' +
      '<= 10' },
  { what: 'a schedule without a kind', edit: (c) => void (c.training.schedule = { base: 40, growth: 1.2 }),
    at: '"schedule"',
    says: '"training.schedule.kind" is required: one of exponential, linear, epochs' },
  { what: 'a growth of 0', edit: (c) => void (c.training.schedule.growth = 0), at: '"growth": 0',
    says: '"training.schedule.growth" must be a number > 0 and <= 10 (got 0)' },
  { what: 'a shrinking schedule that reaches 0 steps',
    edit: (c) => void (c.training.schedule = { kind: 'exponential', base: 2, growth: 0.3 }),
    at: '"schedule"', says: '"training.schedule" trains 0 steps in iteration 3 of 6 ("star.iterations"): every ' +
      'iteration needs at least 1; raise "growth"' },
  { what: 'a schedule that compounds past ten million steps', edit: (c) => void (c.training.schedule.growth = 10),
    at: '"schedule"', says: '"training.schedule" trains 30000000 steps in iteration 6 of 6 ("star.iterations"): at ' +
      'most 10000000; lower "growth" or "star.iterations"' },
  { what: 'a negative increment', edit: (c) => void (c.training.schedule = { kind: 'linear', base: 40, increment: -5 }),
    at: '"increment": -5', says: '"training.schedule.increment" must be a number >= 0 and <= 1000000 (got -5)' },
  { what: 'no epochs', edit: (c) => void (c.training.schedule = { kind: 'epochs', epochs: 0 }), at: '"epochs": 0',
    says: '"training.schedule.epochs" must be a number > 0 and <= 1000 (got 0)' },
  { what: 'an empty batch', edit: (c) => void (c.training.batchSize = 0), at: '"batchSize": 0',
    says: '"training.batchSize" must be an integer >= 1 and <= 4096 (got 0)' },
  { what: 'a learning rate of 0', edit: (c) => void (c.training.lr = 0), at: '"lr": 0',
    says: '"training.lr" must be a number > 0 and <= 1 (got 0)' },
  { what: 'a switch written as a word', edit: (c) => void (c.training.includeExemplars = 'yes'),
    at: '"includeExemplars"',
    says: '"training.includeExemplars" must be true or false (got "yes")' },
  { what: 'an unknown training key', edit: (c) => void (c.training.epochs = 3), at: '"epochs": 3',
    says: 'unknown setting "training.epochs" (allowed: schedule, baseSteps, batchSize, lr, warmupFraction, ' +
      'weightDecay, gradClip, includeExemplars, includeHintLeaks, honourAnnotations, dedup, keepAllCorrect)' },
  // sampling
  { what: 'no samples', edit: (c) => void (c.sampling.k = 0), at: '"k": 0',
    says: '"sampling.k" must be an integer >= 1 and <= 1000 (got 0)' },
  { what: 'a fraction of a sample', edit: (c) => void (c.sampling.k = 2.5), at: '"k": 2.5',
    says: '"sampling.k" must be an integer >= 1 and <= 1000 (got 2.5)' },
  { what: 'a temperature beyond 10', edit: (c) => void (c.sampling.temperature = 50), at: '"temperature": 50',
    says: '"sampling.temperature" must be a number >= 0 and <= 10 (got 50)' },
  { what: 'an unknown shot selection', edit: (c) => void (c.sampling.shotSelection = 'random'), at: '"shotSelection"',
    says: '"sampling.shotSelection" must be one of first, per-question (got "random")' },
  // the loop
  { what: 'no iterations', edit: (c) => void (c.star.iterations = 0), at: '"iterations": 0',
    says: '"star.iterations" must be an integer >= 1 and <= 1000 (got 0)' },
  { what: 'a negative seed', edit: (c) => void (c.star.seed = -1), at: '"seed": -1',
    says: '"star.seed" must be an integer >= 0 and <= 4294967295 (got -1)' },
  { what: 'a seed past 32 bits', edit: (c) => void (c.star.seed = 2 ** 32), at: '"seed": 4294967296',
    says: '"star.seed" must be an integer >= 0 and <= 4294967295 (got 4294967296)' },
  { what: 'a switch written as a string', edit: (c) => void (c.star.rationalize = 'true'), at: '"rationalize"',
    says: '"star.rationalize" must be true or false (got "true")' },
  // the trainer
  { what: 'an unknown trainer', edit: (c) => void (c.trainer = { kind: 'trl' }), at: '"kind": "trl"',
    says: '"trainer.kind" must be one of embedded, none, command (got "trl")' },
  { what: 'a trainer without a kind', edit: () => served({}, { trainer: { command: 'train.sh' } }), at: '"trainer"',
    says: '"trainer.kind" is required: one of embedded, none, command' },
  { what: 'a command trainer without its command', edit: () => served({}, { trainer: { kind: 'command' } }),
    at: '"trainer"',
    says: '"trainer.command" is required for a command trainer: a command template that is not blank' },
  { what: 'a blank command', edit: () => served({}, { trainer: { kind: 'command', command: ' ' } }),
    at: '"command": " "',
    says: '"trainer.command" must be a command template that is not blank (got " ")' },
  { what: 'a command timeout past what a timer holds',
    edit: () => served({}, { trainer: { kind: 'command', command: 'train.sh', timeoutSeconds: 3e6 } }),
    at: '"timeoutSeconds"',
    says: '"trainer.timeoutSeconds" must be a number >= 0 and <= 2147483 (got 3000000)' },
  { what: 'a setting of another kind of trainer',
    edit: (c) => void (c.trainer = { kind: 'embedded', command: 'train.sh' }),
    at: '"command"', says: 'unknown setting "trainer.command" for the embedded trainer (allowed: kind)' },
  { what: 'a command trainer for the embedded model',
    edit: (c) => void (c.trainer = { kind: 'command', command: 'train.sh' }),
    at: '"trainer"', says: 'a command trainer drives a served model: set "model.backend" to "openai"' },
  { what: 'the embedded trainer for a served model', edit: () => served({}, { trainer: { kind: 'embedded' } }),
    at: '"trainer"',
    says: 'the embedded trainer fine-tunes the embedded model only; with "model.backend": "openai" use ' +
      '{"kind":"command",...} or {"kind":"none"}' },
];

describe('star.json values that cannot work', () => {
  for (const bad of [...ISSUE, ...CLASSES])
    test(`${bad.what}: the file, the line of its key and the values allowed`, () => {
      const text = starJson(bad.edit);
      const { dir, file } = projectWith(text);
      const message = refusal(dir);
      assert.ok(message.includes(`${file}:${lineHolding(text, bad.at)}: ${bad.says}`), `got:\n${message}`);
    });

  test('a key set twice is refused at its second line', () => {
    const text = starJson(() => ({ task: 'arithmetic', sampling: { k: 2 } })).replace('"k": 2', '"k": 2,\n    "k": 3');
    const { dir, file } = projectWith(text);
    const [first, second] = [lineHolding(text, '"k": 2'), lineHolding(text, '"k": 3')];
    assert.equal(refusal(dir),
      `${file}:${second}: "sampling.k" is set twice (first on line ${first}): JSON keeps only the last; remove one`);
  });

  test('every problem is named, one a line, in the order of the file', () => {
    const text = starJson((c) => {
      c.star.seed = -1;
      c.model.dropout = 2;
      c.sampling.kind = 'greedy';
    });
    const { dir, file } = projectWith(text);
    assert.deepEqual(refusal(dir).split('\n'), [
      `${file}:${lineHolding(text, '"dropout"')}: "model.dropout" must be a number >= 0 and < 1 (got 2)`,
      `${file}:${lineHolding(text, '"kind": "greedy"')}: unknown setting "sampling.kind" (allowed: k, temperature, ` +
        'topK, maxNewTokens, shots, shotSelection)',
      `${file}:${lineHolding(text, '"seed"')}: "star.seed" must be an integer >= 0 and <= 4294967295 (got -1)`,
    ]);
  });

  test('the CLI refuses each value of the issue before a run: exit 1, the message on stderr, no run', async () => {
    // two at a time: each process loads the whole engine
    for (let i = 0; i < ISSUE.length; i += 2)
      await Promise.all(ISSUE.slice(i, i + 2).map(async (bad) => {
        const text = starJson(bad.edit);
        const { dir, file } = projectWith(text);
        const r = await cli(['run', dir]);
        assert.equal(r.code, 1, `${bad.what}: ${r.stderr}`);
        assert.ok(r.stderr.includes(`${file}:${lineHolding(text, bad.at)}: ${bad.says}`), `${bad.what}: ${r.stderr}`);
        assert.ok(!fs.existsSync(path.join(dir, '.star')), `${bad.what}: nothing written under .star/runs`);
      }));
  });
});

describe('star.json values that work', () => {
  const edges: [string, (c: Json) => Json | void][] = [
    ['the ends of each range', (c) => {
      Object.assign(c.sampling, { temperature: 10, topK: 0, shots: 0, k: 1000, maxNewTokens: 127 });
      Object.assign(c.model, { dropout: 0, nHead: 1, nEmbd: 3 });
      Object.assign(c.training, { warmupFraction: 1, weightDecay: 0, lr: 1, baseSteps: 1 });
      Object.assign(c.star, { seed: 4294967295, patience: 0, iterations: 1 });
    }],
    ['a shrinking schedule that trains in every iteration', (c) => {
      c.training.schedule = { kind: 'exponential', base: 8, growth: 0.5 };
      c.star.iterations = 4;
    }],
    ['a $schema for editors', (c) => void (c.$schema = './node_modules/star-studio/schemas/star.schema.json')],
    ['a served model with every setting', () => served({
      baseUrl: 'https://api.openai.com/v1', apiKeyEnv: '', api: 'chat', concurrency: 1, maxRetries: 0,
      retryBaseSeconds: 0, timeoutSeconds: 86400, revision: 'r1', pricing: { promptPerMillion: 0.5 },
      system: 'Solve it.',
    }, { trainer: { kind: 'command', command: 'train.sh {train} {out}', model: '{name}', timeoutSeconds: 0 } })],
    ['a pretrained model (its own block: the size settings do not apply)',
      (c) => void (c.model = { pretrained: 'ckpt', blockSize: 8 })],
  ];
  for (const [what, edit] of edges)
    test(`${what} load`, () => {
      assert.doesNotThrow(() => loadProjectConfig(projectWith(starJson(edit)).dir));
    });

  test('a section given in part keeps the other defaults; a schedule and a trainer are replaced whole', () => {
    const { dir } = projectWith(JSON.stringify({
      task: 'gsm8k', model: { nLayer: 2 }, training: { schedule: { kind: 'linear', base: 10, increment: 5 } },
    }));
    const c = loadProjectConfig(dir);
    const d = defaultConfig('gsm8k');
    assert.deepEqual(c.model, { ...d.model, nLayer: 2 });
    assert.deepEqual(c.training, { ...d.training, schedule: { kind: 'linear', base: 10, increment: 5 } });
    assert.deepEqual(c.trainer, { kind: 'embedded' });
    const withSchema = projectWith(JSON.stringify({ task: 'gsm8k', $schema: 'x' })).dir;
    assert.equal('$schema' in loadProjectConfig(withSchema), false, 'an editor\'s $schema is no setting of the run');
  });

  test('what star init writes for each task loads as the defaults of that task', () => {
    for (const task of TASK_NAMES) {
      const { dir } = projectWith(JSON.stringify(defaultConfig(task), null, 2));
      assert.deepEqual(loadProjectConfig(dir), defaultsFor(task, 'embedded'), task);
    }
  });
});

/** The paths of every value a schema describes (a variant's keys under the path of its object). */
function schemaPaths(s: Schema, at: string[] = []): string[] {
  const props = { ...(s.properties as Record<string, Schema> | undefined) };
  for (const v of (s.oneOf ?? []) as Schema[]) Object.assign(props, v.properties);
  const keys = Object.keys(props);
  if (keys.length === 0) return [at.join('.')];
  return keys.flatMap((k) => schemaPaths(props[k], [...at, k]));
}

function valuePaths(v: unknown, at: string[] = []): string[] {
  if (typeof v !== 'object' || v === null) return [at.join('.')];
  return Object.entries(v).flatMap(([k, sub]) => valuePaths(sub, [...at, k]));
}

describe('the JSON Schema of star.json', () => {
  test('schemas/star.schema.json, the file the extension ships, is the definition the engine checks with', () => {
    const shipped = fs.readFileSync(path.resolve('schemas', 'star.schema.json'), 'utf8');
    assert.ok(shipped === starSchemaText(), 'schemas/star.schema.json is stale: run `npm run schema` and commit it');
  });

  test('package.json contributes it for every star.json', () => {
    const pkg = JSON.parse(fs.readFileSync('package.json', 'utf8'));
    assert.deepEqual(pkg.contributes.jsonValidation, [{ fileMatch: 'star.json', url: './schemas/star.schema.json' }]);
  });

  test('it describes every setting that has a default, and nothing else but the optional ones', () => {
    const described = new Set(schemaPaths(STAR_SCHEMA));
    const defaulted = new Set(TASK_NAMES.flatMap((t) => MODEL_KINDS.flatMap((k) => valuePaths(defaultsFor(t, k)))));
    assert.deepEqual([...defaulted].filter((p) => !described.has(p)), [], 'defaults the schema does not know');
    // what only another kind of schedule or trainer has
    const optional = ['$schema', 'training.schedule.increment', 'training.schedule.epochs', 'trainer.command',
      'trainer.model', 'trainer.timeoutSeconds'];
    assert.deepEqual([...described].filter((p) => !defaulted.has(p) && !optional.includes(p)), []);
  });

  test('each description says the range, and a default only where every task and model has that one', () => {
    const sampling = (STAR_SCHEMA.properties as Record<string, Schema>).sampling.properties as Record<string, Schema>;
    assert.equal(sampling.temperature.default, 0);
    assert.match(String(sampling.temperature.description), /A number >= 0 and <= 10\. Default: 0\.$/);
    assert.equal(sampling.shots.default, undefined, 'a model trained on P takes no shots, another 4');
    assert.match(String(sampling.shots.description),
      /Default: 0 for a model trained from P, 4 for a pretrained model and a served model\.$/);
  });

  test('the extension\'s settings that override star.json allow the same range', () => {
    const pkg = JSON.parse(fs.readFileSync('package.json', 'utf8'));
    const settings = pkg.contributes.configuration.properties as Record<string, Schema>;
    const props = STAR_SCHEMA.properties as Record<string, Schema>;
    const of = (section: string, key: string) => (props[section].properties as Record<string, Schema>)[key];
    const pairs: [string, Schema][] = [
      ['starStudio.iterations', of('star', 'iterations')], ['starStudio.seed', of('star', 'seed')],
      ...['k', 'temperature', 'topK', 'maxNewTokens']
        .map((k): [string, Schema] => [`starStudio.sampling.${k}`, of('sampling', k)]),
    ];
    for (const [setting, schema] of pairs)
      assert.deepEqual([settings[setting].minimum, settings[setting].maximum], [schema.minimum, schema.maximum],
        setting);
  });
});
