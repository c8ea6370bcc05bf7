// The README's screenshots, from the arithmetic demo's real run (`npm run demo`, then `npm run demo --
// --no-rationalize`: the ablation) in the workbench with the installed .vsix: the STaR view, the report of the
// rationalization run's last iteration, its charts with the ablation beside it, a failed question inline and P in the
// exemplar editor. scripts/vscode-tests.mjs --screenshots starts the server and the browser and hands over a copy of
// the project, so the real one is never written. Nothing here is a test of its own: the end-to-end test is e2e.mjs.
import fs from 'fs';
import path from 'path';
import { openWorkbench, readJsonl, until, workbench } from './workbench.mjs';

const SIDEBAR = '.part.sidebar';
const TREE_ROW = `${SIDEBAR} .monaco-list-row`;
/** The STaR view wide enough for an iteration's accuracy and counts, and the tooltip beside it. */
const WIDE_SIDEBAR = 600;

/** The latest finished run with rationalization and the latest without it, or the commands that would make them. */
export function demoRuns(projectDir, demoArgs) {
  const runsDir = path.join(projectDir, '.star', 'runs');
  const finished = (fs.existsSync(runsDir) ? fs.readdirSync(runsDir).sort() : [])
    .map((id) => ({ id, file: path.join(runsDir, id, 'run.json') }))
    .filter((r) => fs.existsSync(r.file))
    .map((r) => ({ id: r.id, run: JSON.parse(fs.readFileSync(r.file, 'utf8')) }))
    .filter((r) => r.run.status === 'finished' && r.run.iterationsDone > 0);
  const star = finished.filter((r) => r.run.config.star.rationalize !== false).pop()?.id;
  const ablation = finished.filter((r) => r.run.config.star.rationalize === false).pop()?.id;
  const missing = [];
  const demo = (extra) => `npm run demo${demoArgs(extra)}`;
  if (!star) missing.push({ what: 'a finished run with rationalization', command: demo([]) });
  const ablationWhat = 'a finished run without it (the ablation)';
  if (!ablation) missing.push({ what: ablationWhat, command: demo(['--no-rationalize']) });
  return { star, ablation, missing };
}

/** Copies the project into `ws` with only the two runs the shots show (a third run would be a third line). */
export function copyProject(projectDir, ws, keep) {
  const dest = path.join(ws, path.basename(projectDir));
  const runsDir = path.join(projectDir, '.star', 'runs');
  fs.cpSync(projectDir, dest, {
    recursive: true,
    filter: (src) => {
      const rel = path.relative(runsDir, src).split(path.sep);
      return rel[0] === '..' || rel[0] === '' || keep.includes(rel[0]);
    },
  });
  return dest;
}

/** A kept rationalization worth showing among the first rows of its tab: its history changed stage the most, and of
 *  those the longest rationale (more steps to read). */
function pickRationalized(project, runId, n) {
  const runDir = path.join(project, '.star', 'runs', runId);
  const gens = (i) => readJsonl(path.join(runDir, `iter-${i}`, 'generations.jsonl'));
  const earlier = Array.from({ length: n - 1 }, (_, i) => new Map(gens(i + 1).map((g) => [g.id, g])));
  const rows = gens(n).filter((g) => g.stage === 'rationalized' && !g.hintLeak)
    .sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
  const stages = (g) => new Set([...earlier.map((m) => m.get(g.id)?.stage), g.stage].filter(Boolean)).size;
  const score = (g) => stages(g) * 1000 + g.rationale.length;
  const first = rows.slice(0, 12);
  if (!first.length) throw new Error(`run ${runId} iteration ${n} kept no rationalization without a hint leak`);
  return first.reduce((best, g) => (score(g) > score(best) ? g : best));
}

export async function screenshots({ browser, base, ws, project, runs, out, log }) {
  fs.mkdirSync(out, { recursive: true });
  const page = await (await browser.newContext({ viewport: { width: 1440, height: 900 } })).newPage();
  const written = [];
  const shot = async (name) => {
    if (name !== 'run-and-tree.png') await restMouse(page);
    await page.screenshot({ path: path.join(out, name) });
    written.push(path.join(out, name));
    log(`screenshots: ${name}`);
  };
  const { palette, frameWith } = workbench(page);
  const runJson = JSON.parse(fs.readFileSync(path.join(project, '.star', 'runs', runs.star, 'run.json'), 'utf8'));
  const last = runJson.iterationsDone;
  try {
    await openWorkbench(page, base, ws);
    await page.locator('.activitybar .action-item a[aria-label^="STaR Studio"]').click();
    for (const id of [runs.star, runs.ablation])
      await page.locator(TREE_ROW, { hasText: `Run ${id}` }).waitFor({ timeout: 30_000 });

    // 1. The STaR view, wide, with the project's configuration beside it and the last iteration's tooltip.
    await quickOpen(page, 'star.json');
    await page.locator('.tab.active', { hasText: 'star.json' }).waitFor({ timeout: 15_000 });
    const narrow = await sidebarWidth(page);
    await resizeSidebar(page, WIDE_SIDEBAR);
    const { row: lastRow, bottom } = await iterationRow(page, runs.star, last);
    await lastRow.click(); // selects it: the report and the diagnostics now show it
    await page.locator(`${TREE_ROW}.selected`, { hasText: `Iteration ${last}` }).waitFor({ timeout: 10_000 });
    if (bottom) {
      // its tooltip (held-out count, training examples, steps, seconds) opens below it: only where it hides no row
      await page.mouse.move(900, 450); // it comes on the mouse entering the row, not on the click
      await lastRow.hover({ position: { x: 200, y: 10 } });
      const tooltip = page.locator('.monaco-hover, .workbench-hover', { hasText: 'training examples' }).first();
      await tooltip.waitFor({ timeout: 15_000 });
    }
    await shot('run-and-tree.png');
    await page.mouse.move(900, 450);
    await resizeSidebar(page, narrow);

    // 2. The report of that iteration: a kept rationalization with its history.
    await palette('View: Close All Editors');
    await palette('STaR: Open Iteration Report');
    const report = await frameWith('[data-testid="count-direct"]');
    const title = `${path.basename(project)} · run ${runs.star} · iteration ${last}`;
    await until(`the report titled ${title}`, async () =>
      (await report.locator('#title').textContent()) === title, 20_000);
    const chosen = pickRationalized(project, runs.star, last);
    await report.locator('vscode-tab-header[data-tab="rationalized"]').click();
    const row = report.locator(`.row[data-id="${chosen.id}"]`);
    await row.waitFor({ timeout: 10_000 });
    await row.click();
    await report.locator('[data-testid="history"]').waitFor({ timeout: 10_000 });
    // iteration 1 has nothing before it to compare with
    if (last > 1) await report.locator('[data-testid="compare"]').waitFor({ timeout: 10_000 });
    await shot('report.png');

    // 3. The charts (Chart.js animation is off in the report): the ablation's held-out accuracy is a line of its own.
    await report.locator('vscode-tab-header[data-tab="chart"]').click();
    await until('the charts drawn', () => report.evaluate((n) =>
      [...document.querySelectorAll('.charts canvas')].every((c) => c.getBoundingClientRect().height > 100)
        && (document.querySelector('#chart-loss')?.getAttribute('aria-label') ?? '').includes(`iteration ${n}:`),
    last), 10_000);
    await report.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => r()))));
    await shot('report-chart.png');

    // 4. A failed question inline: from the Mismatches tab to its line, where a warning and a hover show it; the
    // report goes, so the file has the width.
    await report.locator('vscode-tab-header[data-tab="mismatch"]').click();
    const question = pickFailed(project, runs.star, last);
    const failed = report.locator(`.row[data-id="${question.id}"]`);
    await failed.waitFor({ timeout: 10_000 });
    await failed.click();
    await report.locator('#reveal').click();
    await page.locator('.tab.active', { hasText: 'train.jsonl' }).waitFor({ timeout: 20_000 });
    await palette('View: Close Editors in Other Groups');
    const reportTabs = page.locator('.tab', { hasText: 'STaR Report' });
    await until('the report closed', async () => (await reportTabs.count()) === 0);
    await page.locator('.monaco-editor .squiggly-warning').first().waitFor({ timeout: 20_000 });
    await page.locator('.statusbar-item', { hasText: new RegExp(`Ln ${question.line},`) }).waitFor({ timeout: 10_000 });
    await palette('View: Focus Active Editor Group'); // the palette's click left the focus in the status bar
    await restMouse(page);
    await page.keyboard.press('Control+K');
    await page.keyboard.press('Control+I'); // Show Hover at the cursor
    await page.locator('.monaco-hover', { hasText: /answer:\s\S+\s·\sgold:\s/ }).first().waitFor({ timeout: 15_000 });
    await shot('failed-question-inline.png');
    await page.keyboard.press('Escape');

    // 5. P in the exemplar editor, alone in the editor area.
    await palette('View: Close All Editors');
    await palette('STaR: Open Few-shot Exemplars');
    await frameWith('.cards [data-line="0"]');
    await page.locator('.tab.active', { hasText: 'exemplars.jsonl' }).waitFor({ timeout: 10_000 });
    await shot('exemplar-editor.png');
    return written;
  } catch (e) {
    await page.screenshot({ path: path.join(out, 'screenshots-failure.png') }).catch(() => {});
    throw e;
  }
}

/** A failed question far enough down its file that the hover, drawn above its line, leaves the line in sight, and
 *  among the first rows of the Mismatches tab. */
function pickFailed(project, runId, n) {
  const failed = readJsonl(path.join(project, '.star', 'runs', runId, `iter-${n}`, 'generations.jsonl'))
    .filter((g) => g.stage === 'failed' && g.line).sort((a, b) => a.line - b.line);
  if (!failed.length) throw new Error(`run ${runId} iteration ${n} has no failed question with a dataset line`);
  return failed.slice(0, 20).find((g) => g.line >= 12) ?? failed[0];
}

/** The mouse where it opens no tooltip: the empty part of the side bar, below the tree. */
async function restMouse(page) {
  const box = await page.locator(SIDEBAR).boundingBox();
  await page.mouse.move(box.x + box.width / 2, box.y + box.height - 60);
}

/** Opens a workspace file by name through Quick Open (Ctrl+P). */
async function quickOpen(page, name) {
  await page.locator('.monaco-workbench .part.statusbar').click({ position: { x: 5, y: 5 } });
  await page.keyboard.press('Control+P');
  const input = page.locator('.quick-input-widget .quick-input-box input');
  await input.waitFor({ timeout: 10_000 });
  await input.fill(name);
  const row = page.locator('.quick-input-widget .quick-input-list .monaco-list-row.focused', { hasText: name });
  await row.waitFor({ timeout: 30_000 });
  await page.keyboard.press('Enter');
}

async function sidebarWidth(page) {
  return (await page.locator(SIDEBAR).boundingBox()).width;
}

/** Drags the sash between the side bar and the editors until the side bar is `width` wide. */
async function resizeSidebar(page, width) {
  const box = await page.locator(SIDEBAR).boundingBox();
  const edge = box.x + box.width;
  const y = box.y + box.height / 2;
  await page.mouse.move(edge - 1, y);
  await page.mouse.down();
  await page.mouse.move(edge + (width - box.width) / 2, y, { steps: 5 });
  await page.mouse.move(box.x + width, y, { steps: 5 });
  await page.mouse.up();
  await until(`a side bar ${width} px wide`, async () => Math.abs((await sidebarWidth(page)) - width) < 3, 5000);
}

/** The tree row of iteration `n` under the row of run `runId` (rows are a flat list; data-index is their order), and
 *  whether it is the tree's last row. */
async function iterationRow(page, runId, n) {
  const rows = await page.locator(TREE_ROW).evaluateAll((els) =>
    els.map((e) => ({ index: Number(e.getAttribute('data-index')), text: (e.textContent ?? '').trim() }))
      .sort((a, b) => a.index - b.index));
  const run = rows.findIndex((r) => r.text.includes(`Run ${runId}`));
  const it = rows.slice(run + 1).find((r) => Number(/^Iteration (\d+)/.exec(r.text)?.[1]) === n);
  if (run < 0 || !it)
    throw new Error(`no tree row of iteration ${n} under run ${runId}: ${rows.map((r) => r.text).join(' | ')}`);
  return { row: page.locator(`${TREE_ROW}[data-index="${it.index}"]`), bottom: it === rows[rows.length - 1] };
}
