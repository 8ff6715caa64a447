/**
 * The real browser the page tests drive: Debian's Chromium through playwright-core (no browser download), with
 * axe-core injected for the accessibility check. Nothing leaves the machine: every request to an address that is
 * not loopback is answered by the test itself (Stripe Checkout's page, which the tests do not need to see).
 */
import * as fs from 'fs';
import * as path from 'path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { PROJECT_ROOT as REPO_ROOT } from '../../common/project';

export const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'];
/** Screenshots go here (CI keeps them as artifacts; the README shows some). */
export const ARTIFACTS = path.join(REPO_ROOT, 'test-artifacts');

export async function launchBrowser(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(
      `${CHROMIUM} is missing: the browser tests drive Debian's Chromium. Install it with ` +
        '`apt-get install chromium` (scripts/tools.sh does, as root)',
    );
  }
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}

/** Answers every request to a non-loopback address with a stub page, so no test ever reaches the internet. */
export async function keepOnThisMachine(page: Page): Promise<string[]> {
  const outside: string[] = [];
  await page.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname) || url.protocol === 'data:') return route.continue();
    outside.push(url.href);
    return route.fulfill({
      status: 200,
      contentType: 'text/html',
      body: '<!doctype html><html lang="en"><title>Outside</title><h1>Not reached: outside this machine</h1></html>',
    });
  });
  return outside;
}

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: Array<{ target: string[] }>;
}

/** axe-core's serious and critical violations on the page as it is now. */
export async function seriousAxeViolations(page: Page): Promise<AxeViolation[]> {
  await page.addScriptTag({ path: require.resolve('axe-core') });
  const violations = (await page.evaluate(
    'axe.run(document, { resultTypes: ["violations"] }).then((r) => r.violations)',
  )) as AxeViolation[];
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => ({ target: n.target })) }));
}

export async function screenshot(page: Page, name: string): Promise<string> {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/** First contentful paint of the page as the browser measured it (ms from navigation start). */
export async function firstContentfulPaint(page: Page): Promise<number | undefined> {
  const paint = await page
    .waitForFunction("performance.getEntriesByName('first-contentful-paint')[0]?.startTime", undefined, {
      timeout: 5000,
    })
    .catch(() => undefined);
  return paint ? ((await paint.jsonValue()) as number) : undefined;
}
