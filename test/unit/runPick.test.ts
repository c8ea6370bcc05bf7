// The latest run is not the only run: after a failed or stopped start, report, export and compare still find the
// runs with finished work, and say which run they picked and why.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { fakeRun } from '../fixtures/fakeRuns';

const CLI = path.resolve('dist', 'cli.js');
const star = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
const A = '20261201-100000000-aaaa';
const B = '20261201-110000000-bbbb';
const C = '20261201-120000000-cccc';
const ERROR = 'backend tensorflow: disabled by STAR_NO_TFJS_NODE';

/** A project whose older run A finished iterations 0 and 1, and whose newer run B failed at its start. */
function project(): string {
  const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'star-pick-')), 'p');
  assert.equal(star('init', dir, '--task', 'arithmetic', '--train-count', '10').status, 0);
  fakeRun(dir, A, { status: 'finished', iterations: [0, 1], accuracy: 0.25 });
  fakeRun(dir, B, { status: 'failed', error: ERROR, iterations: [] });
  return dir;
}

describe('picking the run with finished work', () => {
  test('star report shows the earlier run, not the failed start, and says why', () => {
    const dir = project();
    const r = star('report', dir);
    assert.equal(r.status, 0, r.stderr);
    const why = `^run ${A}: the latest with a finished iteration; newer run ${B} failed before finishing any iteration`;
    assert.match(r.stdout, new RegExp(`${why} \\(error: ${ERROR}\\)\n`));
    assert.match(r.stdout, new RegExp(`run ${A}  \\(finished`));
    assert.match(r.stdout, /25\.0/, "run A's held-out accuracy");
    const json = star('report', dir, '--json');
    const parsed = JSON.parse(json.stdout) as { run: string; rows: { iteration: number }[] };
    assert.deepEqual([parsed.run, parsed.rows.map((x) => x.iteration)], [A, [0, 1]], 'stdout stays JSON');
    assert.match(json.stderr, new RegExp(`newer run ${B} failed`));
    const named = star('report', dir, '--run', B, '--json');
    const shown = JSON.parse(named.stdout);
    assert.deepEqual([shown.run, shown.rows], [B, []], '--run still shows the run named');
  });

  test('star export takes the latest run with a finished iteration 1, past one that stopped after iteration 0', () => {
    const dir = project();
    fakeRun(dir, C, { status: 'stopped', iterations: [0] });
    const report = star('report', dir).stdout;
    assert.match(report, new RegExp(`^run ${C}: the latest run\n`), 'iteration 0 is work to report');
    const out = path.join(path.dirname(dir), 'sft.jsonl');
    const r = star('export', dir, '--format', 'sft', '--out', out);
    assert.equal(r.status, 0, r.stderr);
    const why = `run ${A}: the latest with a finished iteration 1 or later; newer run ${C} was stopped`;
    assert.match(r.stdout, new RegExp(`${why} after finishing only iteration 0; newer run ${B} failed`));
    const rows = fs.readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual([...new Set(rows.map((x) => `${x.metadata.run}/${x.metadata.iteration}`))], [`${A}/1`]);
  });

  test('star compare lists the failed run too, with its status and no accuracies', () => {
    const dir = project();
    const r = star('compare', dir, '--json');
    assert.equal(r.status, 0, r.stderr);
    const cmp = JSON.parse(r.stdout) as { reference: string; runs: { runId: string; state: string; evalAccuracy: [] }[] };
    assert.equal(cmp.reference, A);
    const runs = cmp.runs.map((x) => [x.runId, x.state, x.evalAccuracy.length]);
    assert.deepEqual(runs, [[A, 'finished', 2], [B, 'failed', 0]]);
    const table = star('compare', dir, '--markdown');
    assert.match(table.stdout, new RegExp(`\\| ${B} \\(failed\\) \\| same config \\|  \\|  \\|\n?`));
  });

  test('when no run finished anything, each command says so with every run\'s status', () => {
    const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'star-pick-')), 'p');
    assert.equal(star('init', dir, '--task', 'arithmetic', '--train-count', '10').status, 0);
    fakeRun(dir, A, { status: 'failed', error: ERROR, iterations: [] });
    fakeRun(dir, B, { status: 'stopped', iterations: [] });
    const out = path.join(dir, '..', 'x.jsonl');
    for (const args of [['report', dir], ['compare', dir], ['export', dir, '--format', 'sft', '--out', out]]) {
      const r = star(...args);
      assert.equal(r.status, 1, args[0]);
      assert.match(r.stderr, /has a finished iteration/, args[0]);
      assert.match(r.stderr, new RegExp(`run ${B} was stopped before finishing any iteration`), args[0]);
      assert.match(r.stderr, new RegExp(`run ${A} failed before finishing any iteration \\(error: ${ERROR}\\)`), args[0]);
    }
  });
});
