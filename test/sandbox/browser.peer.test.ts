/**
 * The real browser the page tests drive: Debian's Chromium (installed by scripts/tools.sh) through playwright-core,
 * which ships no browser of its own, with axe-core injected into the page for the accessibility check. A machine
 * without Chromium fails here with what to install: the browser tests never skip.
 */
import * as fs from 'fs';
import type { Browser } from 'playwright-core';
import { launchBrowser } from '../support/browser';

const PAGE = `<!doctype html>
<html lang="en">
  <head><meta charset="utf-8"><title>Pick a number</title></head>
  <body>
    <main>
      <h1>Pick a number</h1>
      <form>
        <label for="area-code">Area code</label>
        <input id="area-code" name="area-code" inputmode="numeric">
        <button type="submit">Search</button>
      </form>
    </main>
  </body>
</html>`;

interface AxeResults {
  violations: Array<{ id: string; impact: string | null }>;
  passes: unknown[];
}

describe('browser peer: Chromium through playwright-core, with axe-core', () => {
  let browser: Browser;

  beforeAll(async () => {
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
  });

  it('loads a page and runs axe-core in it', async () => {
    const page = await browser.newPage();
    await page.setContent(PAGE);
    expect(await page.title()).toBe('Pick a number');
    await page.addScriptTag({ content: fs.readFileSync(require.resolve('axe-core'), 'utf8') });
    const results = (await page.evaluate(() =>
      (window as unknown as { axe: { run(): Promise<unknown> } }).axe.run(),
    )) as AxeResults;
    expect(Array.isArray(results.violations)).toBe(true);
    expect(results.passes.length).toBeGreaterThan(0);
    // The labelled field above is what the picker's pages must look like: nothing serious to report.
    expect(results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')).toEqual([]);
  });
});
