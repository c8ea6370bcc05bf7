#!/usr/bin/env node
// Every command the README documents, each run on its own from a fresh clone after `npm ci`, in a cheap form (one
// iteration instead of six, the bench's quick mode). A command that only ever worked after another one had made
// its files (out/, dist/, a demo project) fails here. The README is scanned for `npm run X`, `bash scripts/X.sh Y`
// and `star X`: one that this table neither runs nor skips with a reason fails the check, so a new command in the
// README gets checked too.
//   node scripts/readme-commands.mjs [--only <substring>]      (.ci/run runs it after `npm test`)
import { execFileSync, spawnSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { fileURLToPath } from 'url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined;
const MIN = 60_000;

/**
 * `documents`: what the README says, as the scan finds it; `run`: the shell command run in the clone (after the
 * steps in `after`, which the README says come first); `expect`: what its output or the clone must then show.
 */
const COMMANDS = [
  { documents: ['npm run demo'], run: 'npm run demo -- --iterations 1', expect: /run \S+ finished in/, timeout: 15 * MIN },
  {
    documents: ['star report', 'star compare'],
    after: 'npm run demo -- --iterations 1',
    run: 'npx star report demo/arithmetic && npx star compare demo/arithmetic && npx star report demo/arithmetic --markdown',
    expect: /held-out accuracy % by iteration[\s\S]*\| iter \|/,
    timeout: 15 * MIN,
  },
  {
    documents: ['npm run demo -- --no-rationalize'],
    run: 'npm run demo -- --no-rationalize --iterations 1',
    expect: /run \S+ finished in/,
    timeout: 15 * MIN,
  },
  { documents: ['star run', 'star init', 'star validate', 'star export', 'star demo'], run: cliHelp(), expect: /star run[\s\S]*star export/ },
  { documents: ['npm run package'], run: 'npm run package', files: ['out/star-studio.vsix'], timeout: 5 * MIN },
  // the committed schema is the definition's: writing it again changes nothing
  {
    documents: ['npm run schema'], run: 'npm run schema && git diff --exit-code schemas/',
    expect: /wrote schemas\/star\.schema\.json/,
  },
  { documents: ['npm run bench'], run: 'npm run bench -- --quick --sizes small --reps 1', expect: /ratios ours\/PyTorch/, timeout: 15 * MIN },
  { documents: ['npm run test:ext'], run: 'npm run test:ext', expect: /\bPASS\b/, timeout: 20 * MIN },
  { documents: ['npm run test:e2e'], run: 'npm run test:e2e', expect: /e2e: PASS/, timeout: 15 * MIN },
  {
    documents: ['npm run screenshots'],
    after: 'npm run demo -- --iterations 1 && npm run demo -- --no-rationalize --iterations 1',
    run: 'npm run screenshots',
    expect: /screenshots: wrote .*report\.png/,
    timeout: 30 * MIN,
  },
  { documents: ['bash scripts/bench-gpu.sh prepare'], run: 'bash scripts/bench-gpu.sh prepare', files: ['.gpu/node.xz'], timeout: 10 * MIN },
];
const SKIPPED = {
  'npm test': '.ci/run runs it in full, on a clean clone, before this check',
  'npm run test:vscode': 'downloads VS Code (@vscode/test-electron): no route to it here; test:ext runs the same suite',
  'bash scripts/bench-gpu.sh run': 'runs on the GPU machine only',
  'bash scripts/bench-gpu.sh all': 'runs on the GPU machine only',
  'bash scripts/bench-gpu.sh star': 'runs on the GPU machine only',
};

function cliHelp() {
  const subs = ['init', 'run', 'report', 'compare', 'validate', 'export', 'demo'];
  return ['npx star --help', ...subs.map((s) => `npx star ${s} --help | head -1 | sed 's/^Usage: /usage: /'`)].join(' && ');
}

/** The commands the README names, in the forms this table keys them by. */
function documented() {
  const text = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const found = new Set();
  for (const m of text.matchAll(/npm run ([a-z0-9:-]+)( -- --[a-z-]+)?|npm (test)\b|bash scripts\/([a-z0-9-]+\.sh) ([a-z]+)|`star ([a-z]+)/g)) {
    if (m[1]) found.add(`npm run ${m[1]}${m[2] ?? ''}`);
    else if (m[3]) found.add('npm test');
    else if (m[4]) found.add(`bash scripts/${m[4]} ${m[5]}`);
    else found.add(`star ${m[6]}`);
  }
  return [...found];
}

function sh(cmd, cwd, timeout) {
  const r = spawnSync('bash', ['-o', 'pipefail', '-c', cmd], { cwd, encoding: 'utf8', timeout, maxBuffer: 256 << 20 });
  return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}`, code: r.status ?? r.signal };
}

const uncovered = documented().filter((d) => !(d in SKIPPED) && !COMMANDS.some((c) => c.documents.includes(d)));
if (uncovered.length) {
  console.error(`README commands this check neither runs nor skips: ${uncovered.join(', ')} (add them to ${path.basename(fileURLToPath(import.meta.url))})`);
  process.exit(1);
}

// One clone and one `npm ci`, beside this checkout so that ../shared is beside it too; before each command the clone is put back to that state (everything untracked but
// node_modules removed, then what `npm ci` runs after installing: the prepare script).
const clone = fs.mkdtempSync(path.join(path.dirname(ROOT), '.readme-check-'));
const t0 = Date.now();
const log = (s) => console.log(`[readme +${((Date.now() - t0) / 1000).toFixed(0)}s] ${s}`);
let failed = 0;
try {
  execFileSync('git', ['clone', '-q', '--no-hardlinks', ROOT, clone]);
  log(`clone ${clone} at ${execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: clone, encoding: 'utf8' }).trim()}; npm ci`);
  const ci = sh('npm ci --no-audit --no-fund', clone, 15 * MIN);
  if (!ci.ok) throw new Error(`npm ci failed:\n${ci.out.slice(-4000)}`);
  for (const c of COMMANDS) {
    if (only && !c.run.includes(only)) continue;
    const reset = sh('git clean -xdfq -e node_modules && npm run --silent prepare', clone, 5 * MIN);
    if (!reset.ok) throw new Error(`could not reset the clone:\n${reset.out}`);
    const steps = c.after ? `${c.after} >/dev/null && ${c.run}` : c.run;
    const t = Date.now();
    const r = sh(steps, clone, c.timeout ?? 5 * MIN);
    const missing = (c.files ?? []).filter((f) => !fs.existsSync(path.join(clone, f)));
    const ok = r.ok && (!c.expect || c.expect.test(r.out)) && missing.length === 0;
    const shown = c.run.length > 90 ? `${c.run.slice(0, 87)}...` : c.run;
    log(`${ok ? 'ok  ' : 'FAIL'} ${c.documents.join(', ')}: \`${shown}\` (${((Date.now() - t) / 1000).toFixed(0)} s)`);
    if (!ok) {
      failed++;
      const why = !r.ok ? `exit ${r.code}` : missing.length ? `no ${missing.join(', ')}` : `output lacks ${c.expect}`;
      console.log(`  ${why}; last output:\n${r.out.slice(-3000).replace(/^/gm, '  | ')}`);
    }
  }
  for (const [d, why] of Object.entries(SKIPPED)) log(`skip ${d}: ${why}`);
} finally {
  fs.rmSync(clone, { recursive: true, force: true });
}
log(failed ? `${failed} README command(s) failed` : 'every README command works on its own from a fresh clone');
process.exit(failed ? 1 : 0);
