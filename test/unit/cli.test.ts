// The `star` command as a person types it: set-up, validation, and the errors they see.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { before, describe, test } from 'node:test';
import { shellQuote } from '../../src/cli/shellQuote';
import { fakeRun } from '../fixtures/fakeRuns';
import { cli, Exit, tinyProject } from '../fixtures/starCli';

const CLI = path.resolve('dist', 'cli.js');
const GSM8K_TEST = path.resolve('..', 'shared', 'datasets', 'gsm8k', 'test.jsonl');
const star = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'star-cli-'));
const lines = (f: string) => fs.readFileSync(f, 'utf8').trim().split('\n');

describe('star init', () => {
  test('arithmetic: P, D and a held-out split that shares no sum of 2+ digits with D', () => {
    const dir = path.join(tmp(), 'p');
    const r = star('init', dir, '--task', 'arithmetic');
    assert.equal(r.status, 0, r.stderr);
    const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'star.json'), 'utf8'));
    assert.equal(cfg.task, 'arithmetic');
    const train = lines(path.join(dir, 'data/train.jsonl')).map((l) => JSON.parse(l));
    const evalSet = lines(path.join(dir, 'data/eval.jsonl')).map((l) => JSON.parse(l));
    const P = lines(path.join(dir, 'exemplars.jsonl')).map((l) => JSON.parse(l));
    assert.equal(train.length, 2000);
    assert.equal(P.length, 128);
    assert.ok(P.every((e) => typeof e.rationale === 'string' && e.rationale.length > 0));
    const seen = new Set([...train, ...P].map((x) => x.question));
    const longer = evalSet.filter((x) => x.question.split('+')[0].length > 1);
    assert.equal(longer.length, 400);
    assert.ok(longer.every((x) => !seen.has(x.question)), 'held-out sums are not in D or P');
    assert.notEqual(star('init', dir, '--task', 'arithmetic').status, 0, 'never overwrites a project');
  });

  test('gsm8k from the real GSM8K test set: 8 worked solutions become P, a tenth is held out', () => {
    const dir = path.join(tmp(), 'g');
    const r = star('init', dir, '--task', 'gsm8k', '--from', GSM8K_TEST);
    assert.equal(r.status, 0, r.stderr);
    const total = lines(GSM8K_TEST).length;
    const P = lines(path.join(dir, 'exemplars.jsonl'));
    const train = lines(path.join(dir, 'data/train.jsonl'));
    const evalSet = lines(path.join(dir, 'data/eval.jsonl'));
    assert.equal(P.length, 8);
    assert.equal(P.length + train.length + evalSet.length, total);
    assert.equal(evalSet.length, Math.floor((total - 8) / 10));
    assert.equal(star('validate', path.join(dir, 'exemplars.jsonl'), '--task', 'gsm8k', '--exemplars').status, 0);
  });

  test('--from, --exemplars and --eval are checked line by line, then copied as written', () => {
    const q = (id: string, extra: object = {}) =>
      JSON.stringify({ id, question: { stem: `Where is ${id}?`, choices: [{ label: 'A', text: 'sea' }, { label: 'B', text: 'sky' }] }, answerKey: 'A', ...extra });
    const from = path.join(tmp(), 'cqa.jsonl'), ex = path.join(tmp(), 'p.jsonl'), ev = path.join(tmp(), 'e.jsonl');
    fs.writeFileSync(from, [q('q1'), q('q2', { note: 'kept' })].join('\n') + '\n');
    fs.writeFileSync(ex, q('p1', { rationale: 'Fish swim in the sea.' }) + '\n');
    fs.writeFileSync(ev, [q('e1'), '{"id": "e2", "question": '].join('\n') + '\n');
    const dir = path.join(tmp(), 'mc');
    const bad = star('init', dir, '--task', 'multiple-choice', '--from', from, '--exemplars', ex, '--eval', ev);
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /e\.jsonl:2: malformed JSON/);
    fs.writeFileSync(ev, q('e1') + '\n');
    const ok = star('init', dir, '--task', 'multiple-choice', '--from', from, '--exemplars', ex, '--eval', ev);
    assert.equal(ok.status, 0, ok.stderr);
    assert.deepEqual(lines(path.join(dir, 'data/train.jsonl')), lines(from));
    assert.deepEqual(lines(path.join(dir, 'exemplars.jsonl')), lines(ex));
    assert.deepEqual(lines(path.join(dir, 'data/eval.jsonl')), lines(ev));
  });

  test('multiple-choice without exemplars says why it needs them', () => {
    const f = path.join(tmp(), 'cqa.jsonl');
    fs.writeFileSync(f, JSON.stringify({ id: 'q1', question: { stem: 'Where is a fish?', choices: [{ label: 'A', text: 'sea' }, { label: 'B', text: 'sky' }] }, answerKey: 'A' }) + '\n');
    const r = star('init', path.join(tmp(), 'm'), '--task', 'multiple-choice', '--from', f);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /--exemplars FILE is required/);
  });
});

describe('star validate', () => {
  test('reports every bad line as file:line: reason, exits 1, and counts the good ones', () => {
    const f = path.join(tmp(), 'bad.jsonl');
    fs.writeFileSync(f, ['{"question": "1+2", "answer": "3"}', '{"question": "1+2", "answer": ', '{"answer": "4"}', '{"question": "2+2", "answer": "4"}'].join('\n') + '\n');
    const r = star('validate', f, '--task', 'arithmetic');
    assert.equal(r.status, 1);
    assert.match(r.stderr, new RegExp(`${f.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:2: malformed JSON`));
    assert.match(r.stderr, /bad\.jsonl:3: .*question/);
    assert.match(r.stdout, /2 valid record\(s\), 2 error\(s\)/);
    assert.equal(fs.readFileSync(f, 'utf8').split('\n').length, 5, 'the file is left as it was');
  });

  test('the real GSM8K test set has no bad line', () => {
    const r = star('validate', GSM8K_TEST, '--task', 'gsm8k');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /1319 valid record\(s\), 0 error\(s\)/);
  });
});

describe('star run', () => {
  test('a malformed star.json names the file and line', () => {
    const dir = path.join(tmp(), 'p');
    assert.equal(star('init', dir, '--task', 'arithmetic', '--train-count', '10').status, 0);
    const file = path.join(dir, 'star.json');
    const text = fs.readFileSync(file, 'utf8').split('\n');
    const i = text.findIndex((l) => l.includes('"nLayer"'));
    text[i] = text[i].replace(/\d+/, '"three"');
    fs.writeFileSync(file, text.join('\n'));
    const r = star('run', dir);
    assert.equal(r.status, 1);
    assert.ok(r.stderr.includes(`star.json:${i + 1}: "model.nLayer" must be an integer >= 1 and <= 128 (got "three")`), r.stderr);
  });

  test('a bad line in the dataset stops the run before any work, naming file and line', () => {
    const dir = path.join(tmp(), 'p');
    assert.equal(star('init', dir, '--task', 'arithmetic', '--train-count', '10').status, 0);
    fs.appendFileSync(path.join(dir, 'data/train.jsonl'), '{"question": "12+3", "answer": "16"}\n');
    const r = star('run', dir);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /train\.jsonl:11: /);
    assert.ok(!fs.existsSync(path.join(dir, '.star')), 'no run was started');
  });

  test('a backend that cannot start fails at once, with the reason, and starts no run', () => {
    const dir = path.join(tmp(), 'p');
    assert.equal(star('init', dir, '--task', 'arithmetic', '--train-count', '10').status, 0);
    const env = { ...process.env, STAR_NO_TFJS_NODE: '1' };
    const r = spawnSync(process.execPath, [CLI, 'run', dir, '--backend', 'tensorflow'], { encoding: 'utf8', env });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /backend tensorflow: disabled by STAR_NO_TFJS_NODE/);
    assert.ok(!fs.existsSync(path.join(dir, '.star', 'runs')), 'a failed start leaves nothing behind');
  });

  test('--resume with nothing to resume is a clear error', () => {
    const dir = path.join(tmp(), 'p');
    assert.equal(star('init', dir, '--task', 'arithmetic', '--train-count', '10').status, 0);
    const r = star('run', dir, '--resume');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /no run to resume/);
  });
});

describe('star conventions', () => {
  test('--version prints the version of package.json', () => {
    const { version } = JSON.parse(fs.readFileSync('package.json', 'utf8'));
    const r = star('--version');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), version);
  });

  test("init's next hint, pasted into a shell, gives `star run` the folder made (a space and a quote in it)", () => {
    const dir = path.join(tmp(), "my project's data");
    const r = star('init', dir, '--task', 'arithmetic', '--train-count', '10');
    assert.equal(r.status, 0, r.stderr);
    const hint = /next: (.*)$/m.exec(r.stdout)?.[1];
    assert.ok(hint, r.stdout);
    // a `star` that says which arguments it got, one a line
    const bin = tmp();
    fs.writeFileSync(path.join(bin, 'star'), '#!/bin/sh\nprintf "%s\\n" "$@"\n', { mode: 0o755 });
    const env = { ...process.env, PATH: `${bin}:${process.env.PATH}` };
    const pasted = spawnSync('bash', ['-c', hint], { encoding: 'utf8', env });
    assert.equal(pasted.status, 0, pasted.stderr);
    assert.deepEqual(pasted.stdout.split('\n').slice(0, -1), ['run', dir]);
  });

  test('report --markdown gives accuracy in percent, as the terminal table does, under the task\'s group names', () => {
    const dir = path.join(tmp(), 'p');
    assert.equal(star('init', dir, '--task', 'arithmetic', '--train-count', '10').status, 0);
    const store = fakeRun(dir, '20260101-000000000-aaaa', { status: 'finished', iterations: [0, 1] });
    const m = store.readMetrics(1)!;
    const group = (correct: number) => ({ total: 100, correct, accuracy: correct / 100 });
    const byGroup = { '1': group(61), '2': group(7) };
    store.writeMetrics(1, { ...m, eval: { ...m.eval, accuracy: 0.136, byGroup } });
    const md = star('report', dir, '--markdown');
    assert.equal(md.status, 0, md.stderr);
    assert.match(md.stdout, /^\| iter \| .* \| eval % \| digits 1 % \| digits 2 % \| seconds \|$/m);
    assert.match(md.stdout, /^\| 1 \| 3 \| 0 \| 0 \| 3 \| 1 \| 13\.6 \| 61\.0 \| 7\.0 \| 1 \|$/m);
    const terminal = star('report', dir);
    assert.match(terminal.stdout, /│ 13\.6 +│ 61\.0 +│ 7\.0 +│/);
  });

  test('a run that fails says why once, on stderr, without a stack, and exits 1', async () => {
    const port = await closedPort();
    const dir = await tinyProject((c) => {
      const baseUrl = `http://127.0.0.1:${port}/v1`;
      c.model = { ...c.model, backend: 'openai', baseUrl, model: 'm', apiKeyEnv: '', maxRetries: 0 };
    });
    for (const args of [[], ['--json']]) {
      const r = await cli(['run', dir, ...args]);
      assert.equal(r.code, 1, r.stderr);
      const why = /Connection error/g;
      assert.equal(r.stderr.match(why)?.length, 1, `once, with ${args}:\n${r.stderr}`);
      assert.match(r.stderr, /^star: http:\/\/127\.0\.0\.1:\d+\/v1 \(model m\): Connection error/m);
      assert.doesNotMatch(r.stderr, /^\s+at /m, 'no stack');
    }
    const debug = await cli(['run', dir], { STAR_DEBUG: '1' });
    assert.match(debug.stderr, /^\s+at /m, 'STAR_DEBUG=1 shows the stack');
    // run.json keeps the message people read (the tree's tooltip, the run picker) apart from the stack
    const runs = path.join(dir, '.star', 'runs');
    const run = JSON.parse(fs.readFileSync(path.join(runs, fs.readdirSync(runs).sort().at(-1)!, 'run.json'), 'utf8'));
    assert.match(run.error, /Connection error/);
    assert.doesNotMatch(run.error, /\n\s+at /);
    assert.match(run.errorStack, /\n\s+at /);
  });
});

describe('what star run shows: plain lines where stderr is a pipe (a CI log), bars in a terminal', () => {
  let dir: string;
  let run: Exit;
  before(async () => {
    // compute auto: tensorflow, webgpu, then wasm, as a person's first run picks
    dir = await tinyProject((c) => {
      c.model.compute = 'auto';
      c.training = { ...c.training, baseSteps: 60, schedule: { kind: 'exponential', base: 20, growth: 1.2 } };
      c.star.iterations = 1;
    });
    run = await cli(['run', dir]);
    assert.equal(run.code, 0, run.stderr);
  });

  test('progress comes as plain lines: no carriage return, no escape sequence', () => {
    assert.doesNotMatch(run.stderr, /[\r\x1b]/);
    const lines = run.stderr.split('\n');
    const phases = [
      'base model train', 'base model eval', 'iteration 1 generate', 'iteration 1 train', 'iteration 1 eval',
    ];
    for (const phase of phases)
      assert.ok(lines.some((l) => l.startsWith(`${phase}: done, `)), `${phase} says it is done:\n${run.stderr}`);
    const training = /^base model train: \d+\/60 \(\d+%\) · eta \d+[hms]\w* · loss \d/;
    assert.ok(lines.some((l) => training.test(l)), run.stderr);
    assert.ok(lines.some((l) => /^iteration 1 rationalize: \d+\/\d+ .*of the failed so far/.test(l)), run.stderr);
    assert.ok(lines.length < 60, `a line per fifth of a phase, not one per step:\n${run.stderr}`);
  });

  test('a run ETA once every phase ahead has a rate: not while the base model trains, then from generation on', () => {
    const lines = run.stderr.split('\n');
    assert.ok(lines.filter((l) => l.startsWith('base model')).every((l) => !l.includes('run eta')), run.stderr);
    assert.ok(lines.some((l) => /^iteration 1 train: .* · run eta \d+[hms]\w*$/.test(l)), run.stderr);
  });

  test('no WebGPU probing noise (Dawn warnings) on a start with compute auto', () => {
    assert.doesNotMatch(run.stderr, /artificially reduced|^Warning:/m);
  });

  const terminal = { skip: !hasScript() && 'no script(1) to give the run a terminal' };
  test("in a terminal: live bars, rationalization's too, below the run's line with its ETA", terminal, () => {
    const command = [process.execPath, CLI, 'run', dir].map(shellQuote).join(' ');
    const r = spawnSync('script', ['-qec', command, '/dev/null'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout);
    const frames = r.stdout.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '\n').split(/[\r\n]+/);
    const rationalizing = /^iteration 1 rationalize +[█░]{20} \d+\/\d+  of the failed so far/;
    assert.ok(frames.some((l) => rationalizing.test(l)), r.stdout);
    assert.ok(frames.some((l) => /^iteration 1 generate +[█░]{20} /.test(l)), r.stdout);
    assert.ok(frames.some((l) => /^run +[█░]{20} \d+% · iteration 1\/1 · eta \d+[hms]/.test(l)), r.stdout);
  });
});

function hasScript(): boolean {
  return spawnSync('script', ['--version']).status === 0;
}

/** A port on 127.0.0.1 that nothing listens on. */
function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
