// Nothing the user wrote is overwritten: `star init` and `star export` refuse to replace files unless told to with
// --force, never write over their own input or a project's data, and a failed init leaves nothing behind.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { writeAllOrNothing } from '../../src/engine/safeFiles';
import { fakeRun } from '../fixtures/fakeRuns';

const CLI = path.resolve('dist', 'cli.js');
const GSM8K_TEST = path.resolve('..', 'shared', 'datasets', 'gsm8k', 'test.jsonl');
const star = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'star-keep-'));
const bytes = (f: string) => fs.readFileSync(f);
const lineCount = (f: string) => fs.readFileSync(f, 'utf8').trim().split('\n').length;

/** 60 GSM8K records in a file of the user's. */
function gsm8k60(dir: string): string {
  const f = path.join(dir, 'gsm8k-60.jsonl');
  fs.writeFileSync(f, fs.readFileSync(GSM8K_TEST, 'utf8').split('\n').slice(0, 60).join('\n') + '\n');
  return f;
}

describe('star init never replaces what is there', () => {
  test('a folder holding data/train.jsonl and exemplars.jsonl is refused, naming both, and left byte for byte', () => {
    const dir = tmp();
    fs.mkdirSync(path.join(dir, 'data'));
    fs.writeFileSync(path.join(dir, 'data', 'train.jsonl'), '{"question": "1+1", "answer": "2"}\n');
    fs.writeFileSync(path.join(dir, 'exemplars.jsonl'), '{"question": "2+2", "answer": "4", "rationale": "mine"}\n');
    const before = [bytes(path.join(dir, 'data', 'train.jsonl')), bytes(path.join(dir, 'exemplars.jsonl'))];
    const r = star('init', dir, '--task', 'arithmetic', '--train-count', '10');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /already holds exemplars\.jsonl, data\/train\.jsonl: .*--force/);
    assert.deepEqual([bytes(path.join(dir, 'data', 'train.jsonl')), bytes(path.join(dir, 'exemplars.jsonl'))], before);
    assert.deepEqual(fs.readdirSync(dir).sort(), ['data', 'exemplars.jsonl'], 'no star.json, nothing added');
    assert.deepEqual(fs.readdirSync(path.join(dir, 'data')), ['train.jsonl'], 'no eval.jsonl added');

    const forced = star('init', dir, '--task', 'arithmetic', '--train-count', '10', '--force');
    assert.equal(forced.status, 0, forced.stderr);
    assert.equal(lineCount(path.join(dir, 'data', 'train.jsonl')), 10, '--force replaces them');
    assert.ok(fs.existsSync(path.join(dir, 'star.json')));
  });

  test('--from a file init would write is refused even with --force, and the source keeps its 60 records', () => {
    const dir = tmp();
    fs.mkdirSync(path.join(dir, 'data'));
    const inside = path.join(dir, 'data', 'train.jsonl');
    fs.renameSync(gsm8k60(dir), inside);
    const before = bytes(inside);
    for (const force of [[], ['--force']]) {
      const r = star('init', dir, '--task', 'gsm8k', '--from', inside, ...force);
      assert.equal(r.status, 1);
      assert.match(r.stderr, /--from .*train\.jsonl is .*a file init writes.*not even with --force/);
      assert.ok(bytes(inside).equals(before), 'the source is untouched');
      assert.ok(!fs.existsSync(path.join(dir, 'star.json')));
    }
  });

  test('a project file that is a link to the --from file counts as the same file', () => {
    const dir = tmp();
    const source = gsm8k60(tmp());
    fs.writeFileSync(path.join(dir, 'star.json'), '{"task": "gsm8k"}\n');
    fs.symlinkSync(source, path.join(dir, 'exemplars.jsonl'));
    const r = star('init', dir, '--task', 'gsm8k', '--from', source, '--force');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /exemplars\.jsonl, a file init writes/);
    assert.equal(lineCount(source), 60);
    assert.equal(fs.readFileSync(path.join(dir, 'star.json'), 'utf8'), '{"task": "gsm8k"}\n');
  });

  test('--from a file elsewhere inside the folder is read, not written', () => {
    const dir = tmp();
    const source = gsm8k60(dir);
    const before = bytes(source);
    const r = star('init', dir, '--task', 'gsm8k', '--from', source);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(bytes(source).equals(before));
    const written = ['train', 'eval'].map((f) => lineCount(path.join(dir, 'data', `${f}.jsonl`)));
    assert.equal(written[0] + written[1] + 8, 60, 'all 60 records copied: 8 into P');
  });

  test('a bad line in --from names file:line and leaves no folder', () => {
    const src = tmp();
    const bad = path.join(src, 'bad.jsonl');
    const five = fs.readFileSync(gsm8k60(src), 'utf8').split('\n').slice(0, 5).join('\n');
    fs.writeFileSync(bad, five + '\n{"question": \n');
    const target = path.join(tmp(), 'new', 'project');
    const r = star('init', target, '--task', 'gsm8k', '--from', bad);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /bad\.jsonl:6: malformed JSON/);
    assert.ok(!fs.existsSync(path.dirname(target)), 'no half-made folder');
  });

  test('a write that fails part way removes what it wrote and the folders it made, and nothing that was there', () => {
    const dir = tmp();
    fs.writeFileSync(path.join(dir, 'keep.txt'), 'mine');
    // the second file needs x.txt to be a folder, so renaming the first into place fails after both are staged
    const files = [
      { file: path.join(dir, 'new', 'x.txt'), text: 'a' },
      { file: path.join(dir, 'new', 'x.txt', 'y.txt'), text: 'b' },
    ];
    assert.throws(() => writeAllOrNothing(files));
    assert.deepEqual(fs.readdirSync(dir), ['keep.txt']);
    assert.equal(fs.readFileSync(path.join(dir, 'keep.txt'), 'utf8'), 'mine');
  });

  test('star demo in a folder with data but no star.json says why it will not make the project there', () => {
    const dir = tmp();
    fs.mkdirSync(path.join(dir, 'data'));
    fs.writeFileSync(path.join(dir, 'data', 'eval.jsonl'), 'mine\n');
    const r = star('demo', dir);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /holds data\/eval\.jsonl but no star\.json: the demo makes its project only where it replaces/);
    assert.equal(fs.readFileSync(path.join(dir, 'data', 'eval.jsonl'), 'utf8'), 'mine\n');
    assert.deepEqual(fs.readdirSync(dir), ['data']);
  });
});

describe('star export never replaces what is there', () => {
  /** A project with one run whose iteration 1 kept three rationales. */
  function exported() {
    const dir = path.join(tmp(), 'p');
    assert.equal(star('init', dir, '--task', 'arithmetic', '--train-count', '10').status, 0);
    fakeRun(dir, '20261201-100000000-aaaa', { status: 'finished', iterations: [0, 1] });
    return dir;
  }
  const exportTo = (dir: string, out: string, ...more: string[]) =>
    star('export', dir, '--format', 'sft', '--out', out, ...more);

  test('an --out that exists is refused and kept; --force replaces it', () => {
    const dir = exported();
    const out = path.join(tmp(), 'mine.jsonl');
    fs.writeFileSync(out, 'my own notes\n');
    const r = exportTo(dir, out);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /mine\.jsonl already exists: export replaces a file only with --force/);
    assert.equal(fs.readFileSync(out, 'utf8'), 'my own notes\n');
    const forced = exportTo(dir, out, '--force');
    assert.equal(forced.status, 0, forced.stderr);
    assert.equal(fs.readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l).metadata.id).length, 3);
  });

  test("the project's data/train.jsonl, star.json and run store are refused even with --force", () => {
    const dir = exported();
    const train = path.join(dir, 'data', 'train.jsonl');
    const before = [bytes(train), bytes(path.join(dir, 'star.json'))];
    const r = exportTo(dir, train, '--force');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /is the project's training set .*never writes over a project's files/);
    const link = path.join(tmp(), 'looks-new.jsonl');
    fs.symlinkSync(path.join(dir, 'star.json'), link);
    assert.match(exportTo(dir, link, '--force').stderr, /is the project's config/);
    const inStore = path.join(dir, '.star', 'runs', 'export.jsonl');
    assert.match(exportTo(dir, inStore).stderr, /inside the project's run store/);
    assert.ok(!fs.existsSync(inStore));
    assert.deepEqual([bytes(train), bytes(path.join(dir, 'star.json'))], before, 'byte for byte');
  });
});
