// The openai backend end to end: a scripted OpenAI-compatible server on 127.0.0.1 (real sockets), `star run` (the
// built CLI) with the none trainer on GSM8K records, injected 500s / 429s / dropped connections, the on-disk request
// cache (a rerun after editing one exemplar sends only the requests whose prompt changed), the store's shape against
// an embedded run, and a command trainer that fails and is resumed.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cacheKey, canonicalJson } from '../../src/engine/generators/cache';
import { OpenAIGenerator, openaiSettings } from '../../src/engine/generators/openai';
import { loadProjectConfig, openProject } from '../../src/engine/project';
import { shotsFor } from '../../src/engine/prompts';
import { runStar } from '../../src/engine/star';
import type { GenerationLine, IterationMetrics, ProjectConfig, RunEvent } from '../../src/engine/store/format';
import { RunStore } from '../../src/engine/store/runStore';
import { gsm8k } from '../../src/engine/tasks/gsm8k';
import { ScriptedQuestion, ScriptedServer, startScriptedServer } from '../fixtures/openaiServer';
import { StarProcess } from '../fixtures/starCli';

const GSM8K = path.resolve('..', 'shared', 'datasets', 'gsm8k', 'test.jsonl');
const KEY_ENV = 'STAR_TEST_OPENAI_KEY';
const KEY = 'sk-test-123';

const records = fs.readFileSync(GSM8K, 'utf8').split('\n').filter((l) => l.trim()).slice(0, 20).map((l) => JSON.parse(l) as { question: string; answer: string });
const P = records.slice(0, 4);
const D = records.slice(4, 14);
const E = records.slice(14, 18);

/** The scripted model: right on every other training question and on half the eval ones; right with the hint always. */
function table(): ScriptedQuestion[] {
  return records.map((r, i) => {
    const ex = gsm8k.exemplarFromRecord(r, `r${i}`);
    return { question: ex.question, gold: ex.gold, rationale: ex.rationale, right: i % 2 === 0 };
  });
}

function writeJsonl(file: string, rows: unknown[]) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, rows.map((r) => JSON.stringify(r) + '\n').join(''));
}

function project(url: string, extra: { model?: Record<string, unknown>; sampling?: Record<string, unknown>; training?: Record<string, unknown>; trainer?: unknown; star?: Record<string, unknown> } = {}): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'star-openai-'));
  writeJsonl(path.join(dir, 'exemplars.jsonl'), P);
  writeJsonl(path.join(dir, 'data/train.jsonl'), D);
  writeJsonl(path.join(dir, 'data/eval.jsonl'), E);
  const config = {
    task: 'gsm8k',
    model: { backend: 'openai', baseUrl: url, model: 'scripted-7b', apiKeyEnv: KEY_ENV, concurrency: 3, maxRetries: 4, retryBaseSeconds: 0.01, timeoutSeconds: 10, pricing: { promptPerMillion: 1, completionPerMillion: 2 }, ...extra.model },
    sampling: { shots: 2, shotSelection: 'per-question', maxNewTokens: 200, ...extra.sampling },
    star: { iterations: 1, ...extra.star },
    ...(extra.training ? { training: extra.training } : {}),
    ...(extra.trainer ? { trainer: extra.trainer } : {}),
  };
  fs.writeFileSync(path.join(dir, 'star.json'), JSON.stringify(config, null, 2));
  return dir;
}

/** `star` to completion, with the test server's key in the environment. */
async function cli(args: string[], env: Record<string, string> = { [KEY_ENV]: KEY }) {
  const p = new StarProcess(args, env);
  return { ...(await p.exit), events: p.events };
}

const keysOf = (o: object) => Object.keys(o).sort();
function unionKeys(rows: object[]): string[] {
  const s = new Set<string>();
  for (const r of rows) for (const k of Object.keys(r)) s.add(k);
  return [...s].sort();
}

describe('openai backend', () => {
  let server: ScriptedServer;
  before(async () => {
    server = await startScriptedServer(table(), { apiKey: KEY });
  });
  after(async () => {
    await server.close();
  });

  test('the request cache key is canonical: the same request in any key order hashes the same', () => {
    assert.equal(canonicalJson({ b: 1, a: [{ d: 2, c: 3 }] }), '{"a":[{"c":3,"d":2}],"b":1}');
    assert.equal(cacheKey({ x: 1, y: 'p' }), cacheKey({ y: 'p', x: 1 }));
    assert.notEqual(cacheKey({ x: 1 }), cacheKey({ x: 2 }));
  });

  let dir: string;
  let first: Awaited<ReturnType<typeof cli>>;
  test('star run completes an iteration with the none trainer, surviving 500s, a 429 and dropped connections', async () => {
    dir = project(server.url);
    server.log.requests.length = 0;
    server.inject('500', 'drop-mid-response', '429', 'drop-before-response', '500');
    first = await cli(['run', dir, '--json']);
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual(server.log.faults, ['500', 'drop-mid-response', '429', 'drop-before-response', '500']);
    const store = RunStore.latest(dir)!;
    const run = store.readRun();
    assert.equal(run.status, 'finished');
    assert.match(run.backend, /^openai\(http:\/\/127\.0\.0\.1/);
    assert.deepEqual(store.finishedIterations(), [0, 1]);

    const m0 = store.readMetrics(0)!;
    assert.equal(m0.eval.total, E.length);
    assert.equal(m0.trainSteps, 0, 'iteration 0 of a served model is its eval, no training');
    assert.equal(m0.eval.correct, 2, 'the scripted model is right on every other eval question');

    const lines = store.readGenerations(1);
    assert.equal(lines.length, D.length);
    const direct = lines.filter((l) => l.stage === 'direct').length;
    const rationalized = lines.filter((l) => l.stage === 'rationalized').length;
    assert.equal(direct, D.length / 2);
    assert.equal(rationalized, D.length / 2, 'the hint rescues every wrong one');
    for (const l of lines) assert.ok(!l.rationale.includes(`(${l.gold})`), 'no hint in a kept rationale');
    const m1 = store.readMetrics(1)!;
    assert.equal(m1.trainSteps, 0);
    assert.equal(store.readTrainSet(1).length, D.length, 'P is not in the training set of a served model by default');
    assert.ok(store.readTrainSet(1).every((e) => !e.prompt.endsWith(')\nA:')), 'training prompts carry no hint');

    // usage: split by phase, every request counted once, retries counted, cost from the pricing
    const u = m1.usage!;
    assert.equal(u.generate.requests, D.length);
    assert.equal(u.rationalize.requests, D.length / 2);
    assert.equal(u.eval.requests, E.length);
    assert.equal(u.eval.cached, E.length, 'M1 = M0 (none trainer): its eval reuses iteration 0\'s answers');
    assert.equal(m0.usage!.total.retries + u.total.retries, 5);
    assert.ok(u.generate.promptTokens > 0 && u.generate.completionTokens > 0);
    assert.ok(Math.abs(u.total.cost - (u.total.promptTokens * 1 + u.total.completionTokens * 2) / 1e6) < 1e-12);
    const sent = server.log.answered;
    assert.equal(sent, E.length + D.length + D.length / 2, 'each distinct request answered once');
    assert.ok(first.events.some((e) => e.type === 'log' && /reused from the cache/.test(e.message)));
    assert.equal(first.events.filter((e) => e.type === 'log' && e.level === 'warn' && /retry/.test(e.message)).length, 5);

    // requests carry the key from the environment, the stop sequence and the model
    const req = server.log.requests.find((r) => r.path === '/v1/completions')!;
    assert.equal(req.body.model, 'scripted-7b');
    assert.deepEqual(req.body.stop, ['\n\n']);
    assert.ok(!fs.readFileSync(path.join(store.dir, 'run.json'), 'utf8').includes(KEY), 'the key is never written');
  });

  test('a rerun after editing one exemplar of P sends only the requests whose prompt changed', async () => {
    const before = server.log.answered;
    const file = path.join(dir, 'exemplars.jsonl');
    const ex = fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    ex[1].answer = ex[1].answer.replace('####', 'So that is it.\n####');
    fs.writeFileSync(file, ex.map((r: unknown) => JSON.stringify(r) + '\n').join(''));
    const second = await cli(['run', dir, '--json']);
    assert.equal(second.code, 0, second.stderr);

    // which prompts hold exemplar 2 (p-2)? with per-question shots, only some of them
    const proj = await openProject(dir);
    const store = RunStore.latest(dir)!;
    const Px = store.readRun().exemplars.map((r, i) => gsm8k.exemplarFromRecord(r, `p-${i + 1}`));
    const uses = (id: string) => shotsFor(proj.config, Px, { id, question: '', gold: '' }).some((e) => e.id === Px[1].id);
    const trainIds = store.readGenerations(1).map((l) => l.id);
    const wrongIds = store.readGenerations(1).filter((l) => l.stage !== 'direct').map((l) => l.id);
    const evalIds = store.readEval(0).map((l) => l.id);
    const changed = evalIds.filter(uses).length + trainIds.filter(uses).length + wrongIds.filter(uses).length;
    assert.ok(changed > 0 && changed < evalIds.length + trainIds.length + wrongIds.length, `some but not all prompts hold p-2 (${changed})`);
    assert.equal(server.log.answered - before, changed, 'only the changed prompts were sent');

    const m0 = store.readMetrics(0)!;
    const m1 = store.readMetrics(1)!;
    const total = m0.usage!.total.requests + m1.usage!.total.requests;
    const cached = m0.usage!.total.cached + m1.usage!.total.cached;
    assert.equal(total - cached, changed, 'metrics count the reused requests');
    const logs = second.events.filter((e) => e.type === 'log' && /reused from the cache/.test(e.message));
    assert.equal(logs.length, 2, 'one usage line per iteration');
  });

  test('the run store of a served model has the shape of an embedded run: same files, same keys', async () => {
    const emb = fs.mkdtempSync(path.join(os.tmpdir(), 'star-emb-'));
    writeJsonl(path.join(emb, 'exemplars.jsonl'), P);
    writeJsonl(path.join(emb, 'data/train.jsonl'), D);
    writeJsonl(path.join(emb, 'data/eval.jsonl'), E);
    fs.writeFileSync(path.join(emb, 'star.json'), JSON.stringify({
      task: 'gsm8k',
      model: { compute: 'wasm', nLayer: 1, nHead: 1, nEmbd: 8, blockSize: 1024, dropout: 0 }, // GSM8K prompts run to ~500 characters
      training: { baseSteps: 1, schedule: { kind: 'exponential', base: 1, growth: 1 }, batchSize: 2 },
      sampling: { maxNewTokens: 2 },
      star: { iterations: 1 },
    }));
    const es = await runStar(await openProject(emb), {}, () => {});
    const os_ = RunStore.latest(dir)!;
    // the weights and the loss curve are the embedded trainer's own
    const files = (s: RunStore, rel = '') => fs.readdirSync(path.join(s.dir, rel)).filter((f) => f !== 'model.safetensors' && f !== 'train-loss.jsonl').sort();
    assert.deepEqual(files(os_), files(es));
    for (const n of [0, 1]) assert.deepEqual(files(os_, `iter-${n}`), files(es, `iter-${n}`), `iter-${n}`);
    assert.deepEqual(keysOf(os_.readRun()), keysOf(es.readRun()));
    const mk = (m: IterationMetrics) => keysOf(m);
    assert.deepEqual(mk(os_.readMetrics(1)!), mk(es.readMetrics(1)!));
    assert.deepEqual(keysOf(os_.readMetrics(1)!.usage!), keysOf(es.readMetrics(1)!.usage!));
    assert.deepEqual(unionKeys(os_.readEval(1)), unionKeys(es.readEval(1)));
    const g = (s: RunStore) => unionKeys(s.readGenerations(1).map((l: GenerationLine) => ({ ...l, hintLeak: undefined, directAnswer: undefined })).map((l) => JSON.parse(JSON.stringify(l))));
    assert.deepEqual(g(os_), g(es));
    assert.deepEqual(unionKeys(os_.readTrainSet(1)), unionKeys(es.readTrainSet(1)));
  });

  test('chat API with k samples: n choices per request, pass@k and majority vote in metrics', async () => {
    const d = project(server.url, { model: { api: 'chat', system: 'Solve it.' }, sampling: { k: 4, temperature: 0.8, shots: 1 }, training: { keepAllCorrect: true, dedup: true } });
    const before = server.log.requests.length;
    const s = await runStar(await openProject(d), { apiKey: KEY }, () => {});
    const reqs = server.log.requests.slice(before).filter((r) => r.path === '/v1/chat/completions');
    assert.ok(reqs.length > 0);
    const gen = reqs.find((r) => r.body.n === 4)!;
    assert.ok(gen, 'k samples are one request with n = k');
    const msgs = gen.body.messages as { role: string; content: string }[];
    assert.deepEqual(msgs.map((m) => m.role), ['system', 'user', 'assistant', 'user'], 'the shot is a user/assistant pair');
    assert.equal(typeof gen.body.seed, 'number');
    const m = s.readMetrics(1)!;
    assert.equal(m.samples!.k, 4);
    assert.deepEqual(Object.keys(m.samples!.passAt), ['1', '2', '4']);
    assert.ok(m.samples!.passAt['1'] <= m.samples!.passAt['2'] && m.samples!.passAt['2'] <= m.samples!.passAt['4']);
    const lines = s.readGenerations(1);
    assert.ok(lines.every((l) => l.sampleAnswers?.length === 4));
    // pass@1 is the mean fraction of right samples
    const frac = lines.reduce((a, l) => a + l.sampleAnswers!.filter((x) => x !== null && gsm8k.equal(x, l.gold)).length / 4, 0) / lines.length;
    assert.ok(Math.abs(m.samples!.passAt['1'] - frac) < 1e-12);
    // every right sample of a question has the same scripted rationale: de-duplication keeps one per question
    const direct = lines.filter((l) => l.stage === 'direct');
    const extra = direct.reduce((a, l) => a + (l.alternatives?.length ?? 0), 0);
    assert.ok(extra > 0, 'other correct samples are kept as alternatives');
    assert.equal(m.dedup!.removed.length, extra);
    assert.ok(m.dedup!.removed.every((r) => r.reason === 'same-question'));
    const train = s.readTrainSet(1);
    assert.equal(new Set(train.map((e) => e.id)).size, train.length, 'one example per question after de-duplication');
  });

  test('a missing API key, a key in star.json, and an unknown trainer are clear errors', async () => {
    const d = project(server.url);
    const r = await cli(['run', d], {});
    assert.equal(r.code, 1);
    assert.match(r.stderr, /STAR_TEST_OPENAI_KEY, which is not set/);
    const c = JSON.parse(fs.readFileSync(path.join(d, 'star.json'), 'utf8'));
    c.model.apiKey = 'sk-oops';
    fs.writeFileSync(path.join(d, 'star.json'), JSON.stringify(c, null, 2));
    assert.throws(() => loadProjectConfig(d), /star\.json:\d+: API keys never go in star\.json/);
    delete c.model.apiKey;
    c.trainer = { kind: 'embedded' };
    fs.writeFileSync(path.join(d, 'star.json'), JSON.stringify(c, null, 2));
    assert.throws(() => loadProjectConfig(d), /embedded trainer fine-tunes the embedded model only/);
  });

  test('a failing command trainer leaves the run resumable with its exit code and last lines; fixed, --resume finishes', async () => {
    const d = project(server.url, { trainer: { kind: 'command', command: 'echo "loading {base}"; echo "CUDA out of memory" >&2; exit 3' }, star: { iterations: 2 } });
    const r = await cli(['run', d]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /exited with code 3/);
    assert.match(r.stderr, /CUDA out of memory/);
    assert.match(r.stderr, /star run --resume/);
    const store = RunStore.latest(d)!;
    assert.equal(store.readRun().status, 'failed');
    assert.equal(store.readGenerations(1).length, D.length, 'generations are kept');
    assert.match(fs.readFileSync(store.iterPath(1, 'trainer.log'), 'utf8'), /loading scripted-7b/);

    // the fixed command writes an adapter and names it; generation then asks for that model
    const c = JSON.parse(fs.readFileSync(path.join(d, 'star.json'), 'utf8'));
    c.trainer = { kind: 'command', command: 'test -s {train} && test -s {trainChat} && echo "{\\"model\\": \\"$STAR_NAME\\", \\"loss\\": 0.5}" > {out}/star-model.json' };
    fs.writeFileSync(path.join(d, 'star.json'), JSON.stringify(c, null, 2));
    const before = server.log.requests.length;
    const r2 = await cli(['run', d, '--resume']);
    assert.equal(r2.code, 0, r2.stderr);
    const m1 = store.readMetrics(1)!;
    assert.equal(m1.finalLoss, 0.5);
    assert.ok(m1.trainSteps > 0);
    const model = JSON.parse(fs.readFileSync(store.iterPath(1, 'model.json'), 'utf8'));
    assert.equal(model.model, `star-${store.id}-iter-1`);
    const asked = new Set(server.log.requests.slice(before).map((x) => x.body.model));
    assert.ok(asked.has(`star-${store.id}-iter-1`), 'M1 generates iteration 2 and is evaluated');
    assert.equal(store.readRun().status, 'finished');
  });

  test('the generator cancels requests in flight when the run stops', async () => {
    server.inject('500');
    const ac = new AbortController();
    const g = new OpenAIGenerator({ settings: { ...openaiSettings({ backend: 'openai' } as ProjectConfig['model']), baseUrl: server.url, retryBaseSeconds: 5, maxRetries: 5 }, model: 'scripted-7b', revision: '', apiKey: KEY });
    const t0 = Date.now();
    setTimeout(() => ac.abort(), 100);
    await assert.rejects(g.generate(['Q: x\nA:'], { k: 1, temperature: 0, topK: 0, maxNewTokens: 5, stop: [], seeds: [0], signal: ac.signal }));
    assert.ok(Date.now() - t0 < 3000, 'the backoff sleep is cut short');
    server.log.faults.length = 0;
  });

  test('two runs of one project side by side share its request cache', async () => {
    const d = project(server.url);
    const [a, b] = await Promise.all([cli(['run', d, '--json']), cli(['run', d, '--json'])]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    const [ra, rb] = RunStore.list(d).map((id) => RunStore.at(d, id));
    const byId = (s: RunStore) => JSON.stringify(s.readGenerations(1).sort((x, y) => x.id.localeCompare(y.id)));
    assert.equal(byId(ra), byId(rb), 'the same answers');
    const files = (dir: string): string[] =>
      fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(path.join(dir, e.name)) : [path.join(dir, e.name)]));
    const cached = files(path.join(d, '.star', 'cache'));
    assert.ok(cached.length > 0);
    for (const f of cached) {
      assert.match(f, /\.json$/, 'no temporary file left');
      assert.doesNotThrow(() => JSON.parse(fs.readFileSync(f, 'utf8')), `${f} is whole`);
    }
  });
});
