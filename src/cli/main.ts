#!/usr/bin/env node
// `star`: the command line over the headless engine.
import * as fs from 'fs';
import * as path from 'path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { validateFile } from '../engine/dataset';
import { exportDataset, EXPORT_FORMATS, ExportFormat } from '../engine/export';
import { CONFIG_FILE, initProject, loadData, openProject } from '../engine/project';
import { compareRuns, RunComparison } from '../engine/compare';
import { PickedRun, pickRun, PickOptions } from '../engine/runPick';
import { WouldOverwrite } from '../engine/safeFiles';
import { groupLabel, groupNames, markdown, markdownTable, percent, reportRows } from '../engine/report';
import { runStar, RunOptions } from '../engine/star';
import type { BackendChoice } from '../engine/store/format';
import { getTask } from '../engine/tasks/index';
import { TASK_NAMES, TaskName } from '../engine/tasks/task';
import { ProgressView } from './progress';
import { shellQuote } from './shellQuote';
import { reportError } from './errors';
import { printTable } from './table';

/** A whole number written in decimal digits alone: '', ' 3', '0x10', '1e3', '1.5' and '-1' are refused. */
const int = (v: string) => {
  const n = Number(v);
  if (!/^[0-9]+$/.test(v) || !Number.isSafeInteger(n))
    throw new InvalidArgumentError('must be a non-negative integer in decimal digits');
  return n;
};
/** As `int`, for sizes where 0 cannot work. */
const positiveInt = (v: string) => {
  const n = int(v);
  if (n === 0) throw new InvalidArgumentError('must be a positive integer (1 or more)');
  return n;
};
const taskOption = () => new Option('--task <task>', 'arithmetic | gsm8k | multiple-choice').choices(TASK_NAMES).makeOptionMandatory();
const backendOption = () => new Option('--backend <name>', 'tfjs compute backend').choices(['auto', 'tensorflow', 'webgpu', 'wasm', 'cpu']);

/** package.json's version, fixed in the bundle by scripts/build.mjs. */
declare const STAR_VERSION: string;

const program = new Command('star')
  .description('STaR Studio: run the Self-Taught Reasoner loop and curate its reasoning data')
  .version(STAR_VERSION)
  .showHelpAfterError();

program
  .command('init <dir>')
  .description('create a STaR project (star.json, exemplars.jsonl, data/)')
  .addOption(taskOption())
  .option('--from <file>', 'task-native JSONL for D (GSM8K, CommonsenseQA or arithmetic format); a tenth is held out')
  .option('--eval <file>', 'held-out split (instead of holding out part of --from)')
  .option('--exemplars <file>', 'P: exemplars with rationales (gsm8k: default the first records of --from)')
  .option('--train-count <n>', 'arithmetic: training questions generated (default 2000)', positiveInt)
  .option('--exemplar-count <n>',
    'arithmetic: worked sums generated for P (default 128); gsm8k: records of --from that become P (default 8)',
    positiveInt)
  .option('--max-digits <n>', 'arithmetic: longest sum in D (default 5)', positiveInt)
  .option('--exemplar-max-digits <n>', 'arithmetic: longest sum in P (default 5)', positiveInt)
  .option('--eval-max-digits <n>', 'arithmetic: longest sum in the held-out split (default --max-digits)', positiveInt)
  .option('--eval-per-digit <n>', 'arithmetic: held-out sums per digit count (default 100)', positiveInt)
  .option('--seed <n>', 'seed of the generated data, or of the held-out split drawn from --from (default 0)', int)
  .option('--force', 'replace the project files already in <dir> (never a file init reads from)')
  .action(async (dir: string, o) => {
    const { warnings } = await initProject(dir, {
      task: o.task as TaskName, from: o.from, evalFrom: o.eval, exemplarsFrom: o.exemplars, trainCount: o.trainCount,
      exemplarCount: o.exemplarCount, maxDigits: o.maxDigits, exemplarMaxDigits: o.exemplarMaxDigits,
      evalMaxDigits: o.evalMaxDigits, evalPerDigit: o.evalPerDigit, seed: o.seed, force: !!o.force,
    });
    for (const w of warnings) console.error(`star: warning: ${w}`);
    console.log(`created ${path.join(dir, CONFIG_FILE)} — next: star run ${shellQuote(dir)}`);
  });

program
  .command('run <dir>')
  .description('run STaR iterations on a project (a new run, or --resume the latest)')
  .option('--iterations <n>', 'iterations (with --resume: extend the run to n)', int)
  .option('--seed <n>', 'seed (same seed and config give the same run)', int)
  .option('--no-rationalize', 'skip rationalization (the paper\'s ablation)')
  .option('--resume', 'continue the latest run without redoing finished work')
  .option('--run <id>', 'the run to resume')
  .addOption(backendOption())
  .option('--json', 'print one JSON event per line instead of a progress bar')
  .option('--chunk-size <n>', 'questions generated per chunk appended to generations.jsonl (the most a kill can cost)', int)
  .option('--accept-changes', 'with --resume: go on although D, the held-out split or P changed since the run last ran')
  .action(async (dir: string, o) => {
    await runCommand(dir, {
      iterations: o.iterations, seed: o.seed, rationalize: o.rationalize === false ? false : undefined,
      resume: o.resume, runId: o.run, compute: o.backend as BackendChoice | undefined, chunkSize: o.chunkSize,
      acceptChanges: o.acceptChanges,
    }, !!o.json);
  });

program
  .command('demo [dir]')
  .description('the built-in arithmetic demo on the embedded model: creates the project if needed, then runs it')
  .option('--iterations <n>', 'iterations', int)
  .option('--seed <n>', 'seed', int)
  .option('--no-rationalize', 'skip rationalization')
  .addOption(backendOption())
  .option('--json', 'JSON events instead of a progress bar')
  .action(async (dir: string | undefined, o) => {
    const target = dir ?? path.join('demo', 'arithmetic');
    if (!fs.existsSync(path.join(target, CONFIG_FILE))) {
      await initProject(target, { task: 'arithmetic' }).catch((e) => {
        if (!(e instanceof WouldOverwrite)) throw e;
        const held = `${target} holds ${e.files.join(', ')} but no ${CONFIG_FILE}`;
        const instead = 'name another folder (star demo <dir>)';
        throw new Error(`${held}: the demo makes its project only where it replaces nothing; ${instead}`);
      });
      console.error(`created the arithmetic project in ${target}`);
    }
    await runCommand(target, { iterations: o.iterations, seed: o.seed, rationalize: o.rationalize === false ? false : undefined, compute: o.backend }, !!o.json);
  });

program
  .command('report <dir>')
  .description('per-iteration table of a run')
  .option('--run <id>', 'which run (default: the latest with a finished iteration)')
  .option('--markdown', 'print a Markdown table')
  .option('--json', 'print the rows as JSON')
  .action(async (dir: string, o) => {
    const { store } = pickSaying(dir, { id: o.run }, o.json || o.markdown);
    const rows = reportRows(store);
    if (o.json) return console.log(JSON.stringify({ run: store.id, rows }, null, 2));
    const run = store.readRun();
    console.log(`run ${store.id}  (${store.state(run)}, task ${run.task}, backend ${run.backend || '?'})`);
    if (o.markdown) return console.log(markdownTable(rows, groupLabel(run.task)));
    printRows(rows);
  });

program
  .command('compare <dir>')
  .description('held-out accuracy of every run of a project by iteration, with what each run does differently')
  .option('--run <id>', 'the run the others are compared with (default: the oldest with a finished iteration)')
  .option('--markdown', 'print a Markdown table')
  .option('--json', 'print the runs as JSON')
  .action(async (dir: string, o) => {
    const { store: reference } = pickSaying(dir, { id: o.run, oldest: true }, o.json || o.markdown);
    const runs = compareRuns(dir, reference);
    if (o.json) return console.log(JSON.stringify({ reference: reference.id, runs }, null, 2));
    const last = Math.max(0, ...runs.flatMap((r) => r.evalAccuracy.map((e) => e.iteration)));
    const head = ['run', `differs from ${reference.id}`, ...Array.from({ length: last + 1 }, (_, n) => `it ${n}`)];
    const rows = runs.map((r) => [runCell(r), r.differs || '(reference)', ...head.slice(2).map((_, n) => {
      const e = r.evalAccuracy.find((x) => x.iteration === n);
      return e ? (100 * e.accuracy).toFixed(1) : '';
    })]);
    if (o.markdown) return console.log(markdown(head, rows));
    printTable(head, rows, 'held-out accuracy % by iteration');
  });

program
  .command('validate <file>')
  .description('check a dataset or exemplar file: every bad line as file:line: reason')
  .addOption(taskOption())
  .option('--exemplars', 'the file is P (records need a rationale)')
  .action(async (file: string, o) => {
    const { records, errors } = await validateFile(file, getTask(o.task), o.exemplars ? 'exemplars' : 'examples');
    for (const e of errors) console.error(e.message);
    console.log(`${file}: ${records} valid record(s), ${errors.length} error(s)`);
    if (errors.length > 0) process.exitCode = 1;
  });

program
  .command('export <dir>')
  .description('export the curated rationales of a run as a fine-tuning dataset')
  .addOption(new Option('--format <format>', 'sft (TRL prompt/completion) | openai-chat (messages) | hf (Hugging Face datasets JSONL + README.md card)').choices(EXPORT_FORMATS).makeOptionMandatory())
  .requiredOption('--out <file>', 'output JSONL file')
  .option('--force', 'replace --out if it exists (never a file of the project)')
  .option('--run <id>', 'which run (default: the latest with a finished iteration 1 or later)')
  .option('--iteration <n>', 'which iteration (default: the last finished)', int)
  .action(async (dir: string, o) => {
    const project = await openProject(dir);
    const { store } = pickSaying(dir, { id: o.run, minIteration: 1 }, false);
    const { train } = await loadData(project);
    const options = { format: o.format as ExportFormat, out: o.out, iteration: o.iteration, force: !!o.force };
    const r = exportDataset(project.task, store, train, options);
    console.log(`wrote ${r.rows} row(s) of iteration ${r.iteration} to ${o.out} (${r.skippedRejected} rejected by annotation left out)${r.card ? `, dataset card ${r.card}` : ''}`);
  });

/** The run a command works on, saying which and why: on stderr when stdout is for a program (JSON, Markdown). */
function pickSaying(dir: string, o: PickOptions, quietStdout: boolean): PickedRun {
  const picked = pickRun(dir, o);
  (quietStdout ? console.error : console.log)(picked.reason);
  return picked;
}

/** A run's id, with its state unless it finished. */
const runCell = (r: RunComparison) => (r.state === 'finished' ? r.runId : `${r.runId} (${r.state})`);

async function runCommand(dir: string, opts: RunOptions, json: boolean) {
  const project = await openProject(dir);
  // The first Ctrl-C (or SIGTERM) stops after the current step, keeping finished work; the second exits at once.
  // Both leave a run that `--resume` continues: what is on disk is always whole.
  let stopRequests = 0;
  const view = json ? undefined : new ProgressView();
  const onSignal = () => {
    stopRequests++;
    if (stopRequests > 1) {
      view?.stop(); // gives the terminal its cursor back
      process.exit(130);
    }
    const note = 'stopping after the current step (Ctrl-C again to quit at once; `star run --resume` continues)';
    if (view) view.say(note);
    else console.error(`\n${note}`);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const t0 = Date.now();
  try {
    const store = await runStar(project, { ...opts, shouldStop: () => stopRequests > 0 }, (e) => {
      if (json) console.log(JSON.stringify(e));
      else view!.onEvent(e);
    });
    view?.stop();
    const run = store.readRun();
    if (!json) {
      console.log(`\nrun ${store.id} ${run.status} in ${((Date.now() - t0) / 1000).toFixed(0)} s on ${run.backend}`);
      console.log(`run store: ${store.dir}`);
      printRows(reportRows(store));
    }
    if (run.status === 'stopped') console.error(`continue with: star run ${shellQuote(dir)} --resume`);
    if (run.status === 'stopped' && stopRequests > 0) process.exitCode = 130;
  } finally {
    view?.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

function printRows(rows: ReturnType<typeof reportRows>) {
  const groups = groupNames(rows);
  printTable(
    ['iter', 'direct', 'rationalized', 'failed', 'train ex.', 'steps', 'eval %', ...groups.map((g) => `${g}`), 'sec'],
    rows.map((r) => [
      r.iteration, r.direct ?? '–', r.rationalized ?? '–', r.failed ?? '–', r.trainExamples, r.trainSteps,
      percent(r.accuracy),
      ...groups.map((g) => percent(r.byGroup[g] ?? 0)), r.seconds.toFixed(0),
    ]),
    groups.length ? `eval accuracy % by group (${groups.join(', ')})` : undefined,
  );
}

// Every error reaches the user once, as its message; its stack only with STAR_DEBUG=1.
process.on('uncaughtException', (e) => {
  reportError(e);
  process.exit(1);
});
program.parseAsync(process.argv).catch((e: unknown) => {
  reportError(e);
  process.exitCode = 1;
});
