// End-to-end: a person's first session with the installed .vsix, driven from the command palette in a real VS Code
// workbench (scripts/vscode-tests.mjs starts the server and the browser). Creates a tiny arithmetic project, runs
// one iteration, checks the report's counts against the run store, checks a hostile rationale renders as text,
// annotates, checks 10,000 rows stay virtualised, jumps to a failed question's diagnostic, and edits P in the
// custom editor. Its screenshots go to out/screenshots/ (what the test saw, hostile row included); the README's come
// from the demo's real run through test/e2e/screenshots.mjs (`npm run screenshots`).
import assert from 'assert';
import fs from 'fs';
import path from 'path';
import { openWorkbench, readJsonl, sleep, until, workbench } from './workbench.mjs';

const HOSTILE = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>';

export async function e2e({ browser, base, ws, root, log, artifacts }) {
  const shots = path.join(root, 'out', 'screenshots');
  fs.mkdirSync(shots, { recursive: true });
  const page = await (await browser.newContext({ viewport: { width: 1440, height: 900 } })).newPage();
  const shot = (name) => page.screenshot({ path: path.join(shots, name) });
  const { palette, answer, frameWith } = workbench(page);
  try {
    await openWorkbench(page, base, ws);

    // 1. New project, from the palette.
    log('e2e: New STaR Project');
    await palette('STaR: New STaR Project');
    await answer('arithmetic');
    await answer('demo', false);
    await answer('Tiny');
    const project = path.join(ws, 'demo');
    await until('star.json', () => fs.existsSync(path.join(project, 'star.json')));

    // 2. One iteration.
    log('e2e: Run Iteration');
    await palette('STaR: Run Iteration');
    const runs = path.join(project, '.star', 'runs');
    const runDir = await until('a run directory', () => fs.existsSync(runs) && fs.readdirSync(runs).map((d) => path.join(runs, d))[0]);
    await until('the run to finish', () => {
      const f = path.join(runDir, 'run.json');
      return fs.existsSync(f) && JSON.parse(fs.readFileSync(f, 'utf8')).status === 'finished';
    }, 180_000);
    const metrics = JSON.parse(fs.readFileSync(path.join(runDir, 'iter-1', 'metrics.json'), 'utf8'));
    await page.locator('.activitybar .action-item a[aria-label^="STaR Studio"]').click();
    await page.locator('.part.sidebar .monaco-list-row', { hasText: 'Iteration 1' }).first().waitFor({ timeout: 20_000 });
    await page.locator('.notification-toast', { hasText: 'STaR run finished' }).first().waitFor({ timeout: 20_000 });
    await shot('run-and-tree.png');
    await palette('Notifications: Clear All Notifications');

    // A hostile rationale, as a model could write: it must show up as text and run nothing.
    const genFile = path.join(runDir, 'iter-1', 'generations.jsonl');
    const gens = readJsonl(genFile);
    const target = gens.find((g) => g.stage === 'failed' && g.line) ?? gens[0];
    target.rationale = HOSTILE + target.rationale;
    fs.writeFileSync(genFile, gens.map((g) => JSON.stringify(g) + '\n').join(''));

    // 3. The report: counts equal the run store's.
    log('e2e: Open Iteration Report');
    await palette('STaR: Open Iteration Report');
    const report = await frameWith('[data-testid="count-direct"]');
    const count = async (id) => Number(await report.locator(`[data-testid="count-${id}"]`).textContent());
    await until('the report counts', async () => (await count('failed')) + (await count('direct')) + (await count('rationalized')) > 0, 20_000);
    assert.deepStrictEqual(
      { direct: await count('direct'), rationalized: await count('rationalized'), failed: await count('failed'), hintLeaks: await count('hintLeaks'), eval: await count('eval') },
      { direct: metrics.train.correct, rationalized: metrics.train.rationalized, failed: metrics.train.failed, hintLeaks: metrics.train.hintLeaks, eval: metrics.eval.correct },
      'the report shows the counts of metrics.json');

    // 4. Security: the hostile rationale is text, nothing ran, and the CSP is strict.
    await report.locator(`vscode-tab-header[data-tab="${target.stage === 'failed' ? 'mismatch' : target.stage}"]`).click();
    const hostileRow = report.locator('.row', { hasText: '<script>' }).first();
    await hostileRow.waitFor({ timeout: 10_000 });
    await hostileRow.click();
    const shown = await report.locator('[data-testid="rationale"]').textContent();
    assert.ok(shown.startsWith(HOSTILE), 'the rationale is shown verbatim, as text');
    const dom = await report.evaluate(() => ({
      pwned: window.__pwned ?? null,
      imgs: document.querySelectorAll('#app img').length,
      scripts: document.querySelectorAll('#app script').length,
      csp: document.querySelector('meta[http-equiv="Content-Security-Policy"]')?.getAttribute('content') ?? '',
    }));
    assert.deepStrictEqual([dom.pwned, dom.imgs, dom.scripts], [null, 0, 0], 'no element was made from the rationale');
    assert.match(dom.csp, /default-src 'none'/);
    assert.match(dom.csp, /script-src 'nonce-[^']+'(;|$)/);
    assert.doesNotMatch(dom.csp, /unsafe-eval|unsafe-inline/);
    log(`e2e: CSP ${dom.csp}`);

    // 5. Annotate: Reject this rationale; it is appended to annotations.jsonl.
    await report.locator('#reject').click();
    const annotations = path.join(runDir, 'annotations.jsonl');
    await until('the annotation', () => fs.existsSync(annotations) && readJsonl(annotations).some((a) => a.id === target.id && a.verdict === 'reject'));
    await report.locator('.row.selected .flag.reject').waitFor({ timeout: 10_000 });
    await report.locator('[data-testid="history"]').waitFor({ timeout: 10_000 });
    await shot('report.png');
    await report.locator('vscode-tab-header[data-tab="chart"]').click();
    await sleep(500);
    const lossSteps = (n) => readJsonl(path.join(runDir, `iter-${n}`, 'train-loss.jsonl')).length;
    const described = await report.locator('#chart-loss').getAttribute('aria-label');
    assert.match(described, new RegExp(`M0 \\(from P\\): ${lossSteps(0)} steps, last loss \\d\\.\\d{3}; iteration 1: ${lossSteps(1)} steps`), described);
    await shot('report-chart.png');
    await report.locator('vscode-tab-header[data-tab="mismatch"]').click();

    // 6. A failed question inline: jump from the report to its line, where a warning and a hover show it.
    await report.locator('#reveal').click();
    await page.locator('.monaco-editor .squiggly-warning').first().waitFor({ timeout: 20_000 });
    const cursorLine = await page.locator('.statusbar-item', { hasText: /Ln \d+/ }).first().textContent();
    assert.match(cursorLine, new RegExp(`Ln ${target.line},`), 'the jump lands on the question\'s line');
    await page.keyboard.press('Control+K');
    await page.keyboard.press('Control+I'); // Show Hover at the cursor
    // the diagnostic's message and the provider's hover (the model's answer and rationale) in one widget
    const hover = page.locator('.monaco-hover', { hasText: /answer:\s\S+\s·\sgold:\s/ }).first();
    await hover.waitFor({ timeout: 15_000 });
    const hoverText = await hover.textContent();
    assert.match(hoverText, new RegExp(`gold:\\s${target.gold}`));
    assert.ok(hoverText.includes(HOSTILE), 'the hover shows the rationale as text');
    await shot('failed-question-inline.png');
    await page.keyboard.press('Escape');

    // 7. 10,000 rows stay light: only the visible rows exist, and scrolling brings the rows it reaches.
    writeBigIteration(runDir, 2, 10_000, metrics);
    await palette('STaR: Open Iteration Report');
    await until('iteration 2 in the report', async () => (await report.locator('#iteration vscode-option[value="2"]').count()) > 0, 20_000);
    await report.evaluate(() => {
      const sel = document.querySelector('#iteration');
      sel.value = '2';
      sel.dispatchEvent(new Event('change'));
    });
    await until('10,000 rows', async () => (await count('failed')) === 10_000, 30_000);
    const perf = await report.evaluate(async () => {
      const list = document.querySelector('#list');
      const frame = () => new Promise((r) => requestAnimationFrame(() => r()));
      const times = [];
      for (let i = 1; i <= 20; i++) {
        const t = performance.now();
        list.scrollTop = (list.scrollHeight * i) / 21;
        list.dispatchEvent(new Event('scroll'));
        await frame();
        await frame();
        times.push(performance.now() - t);
      }
      list.scrollTop = list.scrollHeight;
      list.dispatchEvent(new Event('scroll'));
      await frame();
      await frame();
      const ids = [...document.querySelectorAll('#list .row')].map((r) => r.getAttribute('data-id'));
      return { rows: ids.length, last: ids.includes('big-9999'), worst: Math.max(...times), median: times.sort((a, b) => a - b)[10] };
    });
    log(`e2e: 10,000 rows: ${perf.rows} row elements in the DOM; scroll-to-render median ${perf.median.toFixed(1)} ms, worst ${perf.worst.toFixed(1)} ms`);
    fs.writeFileSync(path.join(artifacts, 'report-10k.json'), JSON.stringify(perf));
    // Only what the eye can see: the times are logged (a loaded machine stretches frames), the rows are asserted.
    assert.ok(perf.rows > 0 && perf.rows < 120, `virtualised: ${perf.rows} rows in the DOM`);
    assert.ok(perf.last, 'scrolled to the end, the last of the 10,000 rows is drawn');

    // 8. P in the custom editor: edit a rationale, save, the file is JSONL with the edit.
    log('e2e: Open Few-shot Exemplars');
    await palette('STaR: Open Few-shot Exemplars');
    const editor = await frameWith('.cards [data-line="0"]');
    const pFile = path.join(project, 'exemplars.jsonl');
    const before = readJsonl(pFile);
    const field = editor.locator('[data-line="0"] vscode-textarea[data-field="rationale"] textarea');
    await field.fill('0+0=0c0|');
    await field.press('Tab');
    await editor.locator('[data-line="0"].has-warnings').waitFor({ timeout: 10_000 });
    await page.locator('.tab.active.dirty').first().waitFor({ timeout: 10_000 });
    await shot('exemplar-editor.png');
    await palette('File: Save');
    await until('P saved', () => readJsonl(pFile)[0].rationale === '0+0=0c0|');
    const after = readJsonl(pFile);
    assert.strictEqual(after.length, before.length);
    assert.deepStrictEqual({ ...after[0], rationale: before[0].rationale }, before[0], 'only the rationale changed');
  } catch (e) {
    await page.screenshot({ path: path.join(artifacts, 'e2e-failure.png') }).catch(() => {});
    throw e;
  }
}

/** A synthetic iteration of `n` questions, to check the report at scale. */
function writeBigIteration(runDir, it, n, like) {
  const dir = path.join(runDir, `iter-${it}`);
  fs.mkdirSync(dir, { recursive: true });
  const lines = [];
  for (let i = 0; i < n; i++) {
    const a = 1000 + i;
    lines.push(JSON.stringify({ id: `big-${i}`, question: `${a}+${i}`, gold: String(a + i), rationale: `${i % 10}+${a % 10}=?c0|`.repeat(4), answer: String(a), correct: false, stage: 'failed', group: String(String(a).length), line: i + 1 }));
  }
  fs.writeFileSync(path.join(dir, 'generations.jsonl'), lines.join('\n') + '\n');
  fs.writeFileSync(path.join(dir, 'metrics.json'), JSON.stringify({ ...like, iteration: it, train: { total: n, correct: 0, rationalized: 0, failed: n, hintLeaks: 0 } }));
}
