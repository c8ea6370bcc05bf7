// Driving the VS Code workbench the way a person does, shared by the end-to-end test and the screenshots driver:
// the command palette, the quick pick or input box a command opens, the webview frame that holds an element.
import fs from 'fs';

export const INPUT = '.quick-input-widget .quick-input-box input';
export const ROW = '.quick-input-widget .quick-input-list .monaco-list-row';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const readJsonl = (f) =>
  fs.readFileSync(f, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));

/** Polls `f` until it returns something truthy (for what only the file system or a webview can tell). */
export async function until(what, f, ms = 60_000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

/** Opens the workbench on `folder` and waits until it is drawn. */
export async function openWorkbench(page, base, folder) {
  await page.goto(`${base}/?folder=${encodeURIComponent(folder)}`);
  await page.waitForSelector('.monaco-workbench .part.statusbar', { timeout: 90_000 });
}

/** The palette and its prompts, bound to one page. */
export function workbench(page) {
  // As VS Code's smoke automation drives it; retried while the extension host registers commands.
  async function palette(label) {
    for (let attempt = 1; attempt <= 12; attempt++) {
      if (await page.locator('.monaco-dialog-box').isVisible()) await page.keyboard.press('Escape');
      await page.locator('.monaco-workbench .part.statusbar').click({ position: { x: 5, y: 5 }, timeout: 2000 })
        .catch(() => {});
      await page.keyboard.press('Control+Shift+P');
      const opened = await page.waitForFunction((sel) => document.activeElement?.matches(sel), INPUT, { timeout: 5000 })
        .then(() => true, () => false);
      if (!opened) { await page.keyboard.press('Escape'); continue; }
      await page.fill(INPUT, '>' + label);
      const row = page.locator(ROW, { hasText: label }).first();
      if (!(await row.waitFor({ state: 'visible', timeout: 5000 }).then(() => true, () => false))) {
        await page.keyboard.press('Escape');
        await sleep(1000);
        continue;
      }
      const focused = await page.locator(`${ROW}.focused`).first().innerText().catch(() => '');
      if (!focused.includes(label)) { await row.click(); return; }
      await page.keyboard.press('Enter');
      return;
    }
    throw new Error(`palette: "${label}" never showed up`);
  }

  /** Answers a quick pick or input box the command opened. */
  async function answer(text, pick = true) {
    await page.waitForFunction((sel) => document.activeElement?.matches(sel), INPUT, { timeout: 15_000 });
    await page.fill(INPUT, text);
    if (pick) await page.locator(`${ROW}.focused`, { hasText: text }).first().waitFor({ timeout: 10_000 });
    await page.keyboard.press('Enter');
  }

  /** The webview frame holding `selector` (webviews are nested iframes the workbench makes). */
  async function frameWith(selector) {
    return until(`a webview with ${selector}`, async () => {
      for (const f of page.frames()) if (await f.$(selector).catch(() => null)) return f;
      return undefined;
    });
  }

  return { palette, answer, frameWith };
}
