#!/usr/bin/env node
// Runs the extension in a real VS Code 1.100.3 workbench, offline: the VS Code server bundled in code-server@4.100.3
// and Debian's headless chromium driven by playwright-core (the recipe of ../shared/e2e/README.md).
//   --suite   the mocha extension-test suite (out/test/vscode/index.js, the @vscode/test-electron run() contract),
//             loaded as a development extension through the workbench's `payload` URL parameter;
//   --restricted  the suites of test/vscode/restricted (out/test/vscode/restricted.js) in a workbench with workspace
//             trust on and an untrusted folder (restricted mode);
//   --e2e     the end-to-end test (test/e2e/e2e.mjs) against the .vsix installed into the server, from the palette;
//   --screenshots [projectDir]  not a test: the README's screenshots (test/e2e/screenshots.mjs) of a copy of the demo
//             project (default demo/arithmetic, made by `npm run demo` and `npm run demo -- --no-rationalize`) with
//             the .vsix installed, into docs/screenshots/ (or $STAR_SCREENSHOTS_DIR).
// With no flag, the three tests. Exit code 0 only when everything passed.
import { execFileSync, spawn } from 'child_process';
import fs from 'fs';
import http from 'http';
import net from 'net';
import os from 'os';
import path from 'path';
import { createRequire } from 'module';
import { fileURLToPath } from 'url';
import util from 'util';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const args = new Set(argv);
const all = !['--suite', '--restricted', '--e2e', '--screenshots'].some((a) => args.has(a));
const wantSuite = all || args.has('--suite');
const wantRestricted = all || args.has('--restricted');
const wantE2e = all || args.has('--e2e');
const VSIX = path.join(ROOT, 'out', 'star-studio.vsix');
const ART = path.join(ROOT, 'out', 'vscode-test');
fs.mkdirSync(ART, { recursive: true });
const T0 = Date.now();
const log = (...a) => console.log(`[vscode-tests +${((Date.now() - T0) / 1000).toFixed(1)}s]`, ...a);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const shots = args.has('--screenshots') ? await screenshotRuns() : undefined;

// Offline by construction: the server gets a gallery with no address (code-server falls back to open-vsx.org when
// EXTENSIONS_GALLERY is unset), and the browser resolves no host but this one. A request that still leaves is
// recorded and fails the run, so a test that passes only with the network cannot pass here.
const SERVER_ENV = { ...process.env, EXTENSIONS_GALLERY: '{}' };
const external = new Set();
// Webview resources are addressed as *.vscode-resource.vscode-cdn.net but answered by the webview's service worker
// from the server, never looked up.
const local = (host) => host === '127.0.0.1' || host.endsWith('.vscode-resource.vscode-cdn.net');
const watchOffline = (context) => context.on('request', (r) => {
  const url = new URL(r.url());
  if (/^(https?|wss?):$/.test(url.protocol) && !local(url.hostname)) external.add(url.origin);
});

/** The project and runs the screenshots show; without both runs, which commands make them, and exit 1 (the demo takes
 *  minutes: it is never started from here). */
async function screenshotRuns() {
  const given = argv[argv.indexOf('--screenshots') + 1];
  const dir = given && !given.startsWith('--') ? path.resolve(given) : path.join(ROOT, 'demo', 'arithmetic');
  const shown = path.relative(ROOT, dir).startsWith('..') ? dir : path.relative(ROOT, dir);
  const quoted = /^[\w./-]+$/.test(shown) ? shown : `'${shown.replace(/'/g, `'\\''`)}'`;
  const isDefault = dir === path.join(ROOT, 'demo', 'arithmetic');
  const demoArgs = (extra) => {
    const a = [...(isDefault ? [] : [quoted]), ...extra];
    return a.length ? ` -- ${a.join(' ')}` : '';
  };
  const { demoRuns } = await import(path.join(ROOT, 'test', 'e2e', 'screenshots.mjs'));
  const runs = demoRuns(dir, demoArgs);
  if (runs.missing.length) {
    const none = fs.existsSync(path.join(dir, 'star.json')) ? '' : ' (no star.json: no project yet)';
    const make = runs.missing.length > 1 ? 'them first (minutes each)' : 'it first (minutes)';
    console.error(`screenshots: ${shown}${none} lacks ${runs.missing.map((m) => m.what).join(' and ')}; `
      + `the screenshots show both. Make ${make}, `
      + 'then run this again:\n'
      + runs.missing.map((m) => `  ${m.command}\n`).join(''));
    process.exit(1);
  }
  const out = path.resolve(ROOT, process.env.STAR_SCREENSHOTS_DIR ?? path.join('docs', 'screenshots'));
  log(`screenshots: project ${dir}, rationalization run ${runs.star}, ablation run ${runs.ablation}, into ${out}`);
  return { dir, runs: { star: runs.star, ablation: runs.ablation }, out };
}

const tools = execFileSync('bash', [path.join(ROOT, 'scripts', 'setup-e2e.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim().split('\n').pop();
const require = createRequire(path.join(tools, 'package.json'));
const { chromium } = require('playwright-core');
const SERVER_MAIN = path.join(tools, 'node_modules/code-server/lib/vscode/out/server-main.js');

function freePort() {
  return new Promise((res, rej) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => res(p)); });
    s.on('error', rej);
  });
}
const httpOk = (url) => new Promise((res) => {
  const r = http.get(url, (resp) => { resp.resume(); res(resp.statusCode === 200); });
  r.on('error', () => res(false));
  r.setTimeout(2000, () => { r.destroy(); res(false); });
});

/** A server with its own data and extensions folders; stopped by its process group, never by name. Workspace trust is
 *  off (its dialog steals the palette's focus) unless `trust` is set. */
async function startServer(install, { trust = false, name = install ? 'e2e' : 'suite' } = {}) {
  const data = fs.mkdtempSync(path.join(os.tmpdir(), 'star-vscode-data-'));
  fs.mkdirSync(path.join(data, 'data/Machine'), { recursive: true });
  fs.writeFileSync(path.join(data, 'data/Machine/settings.json'), JSON.stringify({
    ...(trust ? {} : { 'security.workspace.trust.enabled': false }), 'workbench.startupEditor': 'none', 'extensions.autoCheckUpdates': false,
    'extensions.autoUpdate': false, 'telemetry.telemetryLevel': 'off', 'update.mode': 'none', 'workbench.tips.enabled': false,
    'window.commandCenter': false, 'chat.commandCenter.enabled': false, 'workbench.welcomePage.walkthroughs.openOnInstall': false,
  }));
  const serverArgs = ['--accept-server-license-terms', ...(trust ? [] : ['--disable-workspace-trust']), '--server-data-dir', data, '--extensions-dir', path.join(data, 'ext')];
  if (install) log(execFileSync(process.execPath, [SERVER_MAIN, ...serverArgs, '--install-extension', install], { encoding: 'utf8', env: SERVER_ENV }).trim().split('\n').pop());
  const port = await freePort();
  const proc = spawn(process.execPath, [SERVER_MAIN, '--host', '127.0.0.1', '--port', String(port), '--without-connection-token', ...serverArgs],
    { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: SERVER_ENV });
  const out = fs.createWriteStream(path.join(ART, `server-${name}.log`));
  proc.stdout.pipe(out);
  proc.stderr.pipe(out);
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; !(await httpOk(base + '/')); i++) {
    if (i > 240 || proc.exitCode !== null) throw new Error(`server did not come up; see ${out.path}`);
    await sleep(250);
  }
  const stop = async () => {
    const exited = proc.exitCode !== null ? Promise.resolve() : new Promise((r) => proc.once('exit', r));
    try { process.kill(-proc.pid, 'SIGTERM'); } catch {}
    await Promise.race([exited, sleep(5000)]);
    try { process.kill(-proc.pid, 'SIGKILL'); } catch {} // stragglers of the group (extension host, run workers)
    fs.rmSync(data, { recursive: true, force: true });
  };
  process.on('exit', () => { try { process.kill(-proc.pid, 'SIGKILL'); } catch {} });
  return { base, port, stop };
}

const launch = () => chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-dev-shm-usage',
    '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1'],
}).then((browser) => {
  const newContext = browser.newContext.bind(browser);
  browser.newContext = async (...a) => { const c = await newContext(...a); watchOffline(c); return c; };
  return browser;
});

/** Runs a mocha run() module in the workbench; `prepare(ws)` fills the folder first. */
async function runSuite({ entry = 'index.js', trust = false, name = 'suite', prepare = () => {} } = {}) {
  const server = await startServer(undefined, { trust, name });
  const browser = await launch();
  const ws = fs.mkdtempSync(path.join(os.tmpdir(), `star-${name}-ws-`));
  try {
    prepare(ws);
    const remote = (p) => `vscode-remote://127.0.0.1:${server.port}${p}`;
    const payload = JSON.stringify([
      ['extensionDevelopmentPath', remote(ROOT)],
      ['extensionTestsPath', remote(path.join(ROOT, 'out/test/vscode', entry))],
      ['skipWelcome', 'true'],
    ]);
    const page = await (await browser.newContext({ viewport: { width: 1400, height: 900 } })).newPage();
    const done = new Promise((resolve) => {
      page.exposeFunction('codeAutomationLog', (type, a) => console.log('  ' + util.format(...(Array.isArray(a) ? a : [a]))));
      page.exposeFunction('codeAutomationExit', (code) => resolve(code));
    });
    log(`extension-test ${name}: starting the workbench`);
    await page.goto(`${server.base}/?folder=${encodeURIComponent(ws)}&payload=${encodeURIComponent(payload)}`);
    const code = await Promise.race([done, sleep(+(process.env.SUITE_TIMEOUT_MS || 300000)).then(() => 'timeout')]);
    if (code !== 0) await page.screenshot({ path: path.join(ART, `${name}-failure.png`) }).catch(() => {});
    log(`extension-test ${name}: exit code ${code}`);
    return code === 0;
  } finally {
    await browser.close();
    await server.stop();
    fs.rmSync(ws, { recursive: true, force: true });
  }
}

/** An untrusted folder with a small arithmetic project (it activates the extension) and workspace settings that would
 *  change runs; the suite adds a project whose star.json names a command. */
function prepareUntrusted(ws) {
  execFileSync(process.execPath, [path.join(ROOT, 'dist/cli.js'), 'init', path.join(ws, 'guarded'), '--task', 'arithmetic', '--train-count', '20',
    '--exemplar-count', '8', '--max-digits', '2', '--exemplar-max-digits', '2', '--eval-max-digits', '2'], { stdio: 'ignore' });
  fs.mkdirSync(path.join(ws, '.vscode'));
  fs.writeFileSync(path.join(ws, '.vscode/settings.json'), JSON.stringify({ 'starStudio.iterations': 9, 'starStudio.seed': 42, 'starStudio.backend': 'cpu' }));
}

/**
 * Drives a server with the .vsix installed, as a person's VS Code has it, in a fresh temporary folder; true when
 * `drive` passes. KEEP=1 keeps the folder.
 */
async function withInstalledVsix(name, drive) {
  if (!fs.existsSync(VSIX)) throw new Error(`${VSIX} is missing: run \`npm run package\` first`);
  const server = await startServer(VSIX, { name });
  const browser = await launch();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `star-${name}-`));
  try {
    await drive({ server, browser, tmp });
    return true;
  } catch (e) {
    log(`${name}: FAIL`, e.stack ?? e);
    return false;
  } finally {
    await browser.close();
    await server.stop();
    if (!process.env.KEEP) fs.rmSync(tmp, { recursive: true, force: true });
  }
}

const runE2e = () => withInstalledVsix('e2e', async ({ server, browser, tmp }) => {
  const { e2e } = await import(path.join(ROOT, 'test', 'e2e', 'e2e.mjs'));
  await e2e({ browser, base: server.base, ws: tmp, root: ROOT, log, artifacts: ART });
  log('e2e: PASS');
});

/** The README's screenshots of a copy of the project, with the .vsix installed as a person would. */
const runScreenshots = ({ dir, runs, out }) => withInstalledVsix('screenshots', async ({ server, browser, tmp }) => {
  // the folder's name is the window's title
  const ws = path.join(tmp, 'star-studio');
  const { copyProject, screenshots } = await import(path.join(ROOT, 'test', 'e2e', 'screenshots.mjs'));
  const project = copyProject(dir, ws, [runs.star, runs.ablation]);
  const written = await screenshots({ browser, base: server.base, ws, project, runs, out, log });
  const shown = (f) => (path.relative(ROOT, f).startsWith('..') ? f : path.relative(ROOT, f));
  log(`screenshots: wrote ${written.map(shown).join(', ')}`);
});

let ok = true;
if (shots) ok = (await runScreenshots(shots)) && ok;
if (wantSuite) ok = (await runSuite()) && ok;
if (wantRestricted) ok = (await runSuite({ entry: 'restricted.js', trust: true, name: 'restricted', prepare: prepareUntrusted })) && ok;
if (wantE2e) ok = (await runE2e()) && ok;
if (external.size) {
  log(`FAIL: the workbench tried to reach ${[...external].join(', ')}; the tests must run offline`);
  ok = false;
}
log(ok ? 'PASS' : 'FAIL');
process.exit(ok ? 0 : 1);
