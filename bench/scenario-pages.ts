/**
 * Scenario 5: the web pages, in Debian Chromium. The founder console's fleet page with N churches in the registry
 * (N = 1, the baseline of this run, and the large fleet), and the pastor's picker with a search, each loaded
 * `repeats` times in a fresh page: the server's answer (navigation responseEnd) and the first contentful paint,
 * as the browser measured them. The registry is filled with SQL (churches, their succeeded jobs, rings), not
 * through the engine: these pages read only the registry, so the engine has nothing to do with their speed.
 */
import type { AddressInfo } from 'net';
import type { Browser } from 'playwright-core';
import { launchBrowser } from '../test/support/browser';
import { createTestDatabase } from '../sandbox/postgres';
import { createLogger } from '../common/logger';
import { buildServer } from '../webhook/server';
import { signPastorLink } from '../webhook/pastor/link';
import type { AvailableNumber, TelnyxClient } from '../vendors/telnyx-client';

export interface PageTiming {
  page: string;
  churches: number;
  /** Medians over the repeats, ms. */
  responseEndMs: number;
  firstPaintMs: number;
  bytes: number;
}

const SECRET = 'bench-pastor-link-secret-0123456789abcdefgh';
const ADMIN = 'bench-admin-token-0123456789abcdefghijklmnop';
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** N churches, each with a succeeded job (its line) and a ring, as many days of purchases as the charts show. */
async function fill(pool: import('pg').Pool, n: number): Promise<void> {
  await pool.query(
    `insert into churches (church_id, name, area_code, plan)
       select 'bench-' || i, 'Bench Church ' || i, '214', 'voice' from generate_series(1, $1) i`,
    [n],
  );
  await pool.query(
    `insert into provisioning_jobs (church_id, reason, state, attempts, phone_number, trunk_id, dispatch_rule_id,
                                    ring_ok, ring_at, finished_at, created_at)
       select 'bench-' || i, 'bench', 'succeeded', 1, '+1214' || lpad((2000000 + i)::text, 7, '0'),
              'ST_bench' || i, 'SDR_bench' || i, i % 50 <> 0, now() - (i % 30) * interval '1 day',
              now() - (i % 30) * interval '1 day' + interval '40 seconds', now() - (i % 30) * interval '1 day'
         from generate_series(1, $1) i`,
    [n],
  );
}

export async function runPagesScenario(
  sizes: number[],
  repeats: number,
  say: (line: string) => void,
): Promise<PageTiming[]> {
  const browser: Browser = await launchBrowser();
  const timings: PageTiming[] = [];
  try {
    for (const n of sizes) {
      const db = await createTestDatabase(`bench_pages_${n}`);
      try {
        await fill(db.pool, n);
        const numbers: AvailableNumber[] = Array.from({ length: 40 }, (_, i) => ({
          phoneNumber: `+1214${String(3000000 + i * 7919).padStart(7, '0')}`,
          bestEffort: false,
          features: ['voice'],
          monthlyCost: '1.00',
          currency: 'USD',
        }));
        const app = buildServer({
          config: {
            stripeWebhookSecret: 'whsec_bench',
            adminToken: ADMIN,
            voicePlans: { lookupKeys: [], productIds: [] },
            fallbackMessage: 'bench',
            stackName: 'bench',
            gracePeriodDays: 14,
            quarantineDays: 30,
            stripeSecretKey: undefined,
            selfService: { linkSecret: SECRET, publicBaseUrl: 'http://127.0.0.1' },
          },
          pool: db.pool,
          logger: createLogger({ level: 'warn', secrets: [] }),
          telnyx: () => ({ searchLocalNumbers: async () => numbers }) as unknown as TelnyxClient,
          console: {
            stackName: 'bench',
            scrub: (text) => text,
            wakeWorker: () => undefined,
            ring: async () => ({ ok: true, summary: '' }),
            driftCheck: async () => ({ drift: false, summary: '', report: {} }),
            decommission: async () => ({ done: true, summary: '' }),
            doctor: async () => ({ ok: true, summary: '' }),
            linesInService: async () => ({ churches: [], twilioTrunks: [], lockedIds: ['ST_Xa3Bp9aixRFP'] }),
          },
        });
        await app.listen({ host: '127.0.0.1', port: 0 });
        const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
        // bypassCSP lets the measurement read the paint timing (its polling is an eval the pages' CSP forbids).
        const context = await browser.newContext({ bypassCSP: true });
        const signIn = await context.newPage();
        await signIn.goto(`${base}/console/sign-in`);
        await signIn.getByLabel('Admin token').fill(ADMIN);
        await signIn.keyboard.press('Enter');
        await signIn.waitForURL(`${base}/console`);
        await signIn.close();
        const measure = async (name: string, url: string) => {
          const responseEnd: number[] = [];
          const paint: number[] = [];
          let bytes = 0;
          for (let i = 0; i < repeats; i++) {
            const page = await context.newPage();
            const response = await page.goto(url);
            bytes = (await response?.body())?.length ?? 0;
            const fcp = await page.waitForFunction(
              "performance.getEntriesByName('first-contentful-paint')[0]?.startTime",
            );
            paint.push((await fcp.jsonValue()) as number);
            responseEnd.push(
              (await page.evaluate("performance.getEntriesByType('navigation')[0].responseEnd")) as number,
            );
            await page.close();
          }
          const timing = {
            page: name,
            churches: n,
            responseEndMs: median(responseEnd),
            firstPaintMs: median(paint),
            bytes,
          };
          const answered = timing.responseEndMs.toFixed(0);
          say(`  ${name}, ${n} churches: answered ${answered} ms, first paint ${timing.firstPaintMs.toFixed(0)} ms`);
          timings.push(timing);
        };
        await measure('console fleet', `${base}/console`);
        const link = signPastorLink(SECRET, { churchId: 'bench-picker', churchName: 'Bench Picker' });
        if (n === sizes[0]) await measure('pastor picker (search 214)', `${base}/start/${link}?areaCode=214`);
        await context.close();
        await app.close();
      } finally {
        await db.drop();
      }
    }
  } finally {
    await browser.close();
  }
  return timings;
}
