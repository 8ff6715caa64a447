/**
 * The founder console in a real browser (Debian Chromium via playwright-core), on the real engine, LiveKit,
 * PostgreSQL and the Telnyx stand-in, with the lines in service adopted: sign-in and the refusal of every route
 * without it; the fleet (the adopted lines and the locked trunk shown as such, with no control); a failed job in
 * "needs attention" retried until live; a trunk edited by hand found by "run a drift check now"; a ring; and a
 * decommission guarded by typing the number. axe-core on each page; screenshots in test-artifacts/.
 */
import { SipClient } from 'livekit-server-sdk';
import type { Browser, Page } from 'playwright-core';
import { SANDBOX_LIVEKIT } from '../../sandbox/livekit';
import type { MailpitConnection } from '../../sandbox/mailpit';
import { DESIGN_LOCKED_TRUNK_ID } from '../../vendors/livekit-locks';
import { formatUsNumber } from '../../common/number-choice';
import { getChurch } from '../../registry/churches';
import { setFleetLayout } from '../../registry/fleet-layout';
import { newVoiceStack, type VoiceStackFixture } from '../support/voice-stack';
import {
  ENGINE_WAIT_MS,
  ensureMailpit,
  ServiceProcess,
  serviceConfig,
  subscriptionEvent,
  uniqueId,
} from '../support/service';
import { keepOnThisMachine, launchBrowser, screenshot, seriousAxeViolations } from '../support/browser';

const sip = new SipClient(SANDBOX_LIVEKIT.url, SANDBOX_LIVEKIT.apiKey, SANDBOX_LIVEKIT.apiSecret);

let mailpit: MailpitConnection;
let stack: VoiceStackFixture;
let svc: ServiceProcess;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  mailpit = await ensureMailpit();
  stack = await newVoiceStack('e2e-console', { testRings: true, linesInService: true });
  // A fleet split into shard stacks: the purchases below land in test-shard-000, the lines in service stay in the
  // base stack, and every console action (drift, ring, decommission) must find each line in its own stack.
  await setFleetLayout(stack.db.pool, { shardSize: 10, migrating: false });
  // Its own process, as in production: a failing run's engine errors stay in that process's log.
  const config = serviceConfig(stack, mailpit, { retry: { maxAttempts: 1, baseDelayMs: 1000, maxDelayMs: 1000 } });
  svc = await ServiceProcess.start(stack, config, {
    PROVISION_MAX_ATTEMPTS: '1',
    PROVISION_RETRY_BASE_SECONDS: '1',
    PROVISION_RETRY_MAX_SECONDS: '1',
  });
  browser = await launchBrowser();
  page = await browser.newPage({ viewport: { width: 1280, height: 900 }, bypassCSP: true });
  await keepOnThisMachine(page);
});

afterAll(async () => {
  await browser?.close();
  await svc?.stop();
  await stack?.close();
});

const control = (route: string, method: string, body?: unknown) =>
  fetch(`${stack.telnyx.url.replace(/\/v2$/, '')}${route}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

/** Follows a task page until it says Done (or Failed), returning what it says. */
async function taskOutcome(): Promise<{ state: string; summary: string }> {
  await page.waitForURL(/\/console\/tasks\/\d+/);
  await page.locator('#task-state strong', { hasText: /Done|Failed/ }).waitFor({ timeout: ENGINE_WAIT_MS });
  return {
    state: (await page.locator('#task-state strong').textContent())!,
    summary:
      (await page
        .locator('#task-summary')
        .textContent()
        .catch(() => '')) ?? '',
  };
}

test('without the session every route refuses, and shows no data; a wrong token is refused', async () => {
  const churchId = 'any-church';
  for (const url of ['/console', `/console/churches/${churchId}`, '/console/tasks/1', '/console/tasks/1.json']) {
    const response = await fetch(`${svc.base}${url}`, { redirect: 'manual' });
    expect({ url, status: response.status, to: response.headers.get('location') }).toEqual({
      url,
      status: 303,
      to: '/console/sign-in',
    });
  }
  for (const url of [
    `/console/churches/${churchId}/retry`,
    `/console/churches/${churchId}/ring`,
    `/console/churches/${churchId}/decommission`,
    '/console/drift-check',
    '/console/doctor',
    '/console/sign-out',
  ]) {
    const response = await fetch(`${svc.base}${url}`, { method: 'POST', redirect: 'manual' });
    expect({ url, status: response.status }).toEqual({ url, status: 401 });
    expect(await response.text()).toContain('Sign in first');
  }
  // A session cookie that was not signed by this service is no session.
  const forged = await fetch(`${svc.base}/console`, {
    redirect: 'manual',
    headers: { cookie: `churchwise_console=founder:${Date.now() + 3600_000}` },
  });
  expect(forged.status).toBe(303);

  await page.goto(`${svc.base}/console`);
  await page.waitForURL(/sign-in/);
  expect(await seriousAxeViolations(page)).toEqual([]);
  await page.getByLabel('Admin token').fill('not-the-token');
  await page.keyboard.press('Enter');
  await expect(page.locator('#token-error').textContent()).resolves.toContain('not the admin token');
});

test(
  'the fleet, a failed job retried until live, drift found by a check, a ring, a guarded decommission',
  async () => {
    // A church that goes live, and one whose number cannot be ordered (Telnyx refuses every order for now).
    const liveId = uniqueId('console-live').toLowerCase();
    const failingId = uniqueId('console-failing').toLowerCase();
    await svc.deliver(
      subscriptionEvent({
        subscriptionId: uniqueId('sub'),
        churchId: liveId,
        areaCode: '414',
        churchName: 'Calvary Console',
      }),
    );
    await svc.waitForState(liveId, ['live']);
    expect(
      (await control('/_standin/faults', 'POST', { status: 422, pathPrefix: '/number_orders', method: 'POST' })).ok,
    ).toBe(true);
    await svc.deliver(
      subscriptionEvent({
        subscriptionId: uniqueId('sub'),
        churchId: failingId,
        areaCode: '312',
        churchName: 'Bethel Failing',
      }),
    );
    expect(await svc.waitForState(failingId, ['failed', 'live'])).toMatchObject({
      state: 'failed',
      failedStep: 'telnyx-number',
    });

    // Sign in (the keyboard alone), land on the fleet.
    await page.goto(`${svc.base}/console/sign-in`);
    await page.getByLabel('Admin token').fill(svc.config.adminToken);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'The fleet' }).waitFor();
    expect(await page.content()).not.toContain(svc.config.adminToken);
    const cookie = (await page.context().cookies()).find((c) => c.name === 'churchwise_console')!;
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
    expect(cookie.expires * 1000).toBeGreaterThan(Date.now());

    // Every line, the adopted ones and the locked trunk as such, with no control in their rows.
    const fleet = page.locator('#fleet');
    const live = (await svc.status(liveId)).json();
    await expect(fleet.getByRole('row', { name: /Calvary Console/ }).textContent()).resolves.toContain(
      formatUsNumber(live.phoneNumber),
    );
    await expect(fleet.getByRole('row', { name: /Calvary Console/ }).textContent()).resolves.toContain(
      'test-shard-000',
    );
    await expect(fleet.getByRole('row', { name: /Medhanialem/ }).textContent()).resolves.toContain('in service');
    const locked = fleet.getByRole('row', { name: new RegExp(`Locked trunk ${DESIGN_LOCKED_TRUNK_ID}`) });
    await expect(locked.textContent()).resolves.toContain('LOCKED: nothing may change it');
    expect(await locked.locator('button, form, a').count()).toBe(0);
    // Search and filter.
    await page.getByLabel('Search', { exact: true }).fill('bethel');
    await page.getByLabel('Show', { exact: true }).selectOption('failed');
    await page.getByRole('button', { name: 'Filter' }).click();
    await expect(page.locator('#fleet tbody tr').allTextContents()).resolves.toEqual([
      expect.stringContaining('Bethel Failing'),
    ]);
    await page.goto(`${svc.base}/console`);
    expect(await seriousAxeViolations(page)).toEqual([]);
    await screenshot(page, 'console-fleet');

    // Needs attention: the failed job, its step and error in words; fixed at Telnyx, retried until live.
    const attention = page.locator('section', { has: page.getByRole('heading', { name: /Needs attention/ }) });
    await expect(attention.textContent()).resolves.toMatch(/Bethel Failing[^]*failed at\s+telnyx-number/);
    expect((await control('/_standin/faults', 'DELETE')).ok).toBe(true);
    await page.getByRole('button', { name: 'Retry Bethel Failing' }).click();
    await page.waitForURL(new RegExp(`/console/churches/${failingId}`));
    await svc.waitForState(failingId, ['live']);
    await page.reload();
    await expect(page.locator('.facts').textContent()).resolves.toMatch(/active/);
    await expect(page.locator('#timeline').textContent()).resolves.toContain('by founder founder (console)');

    // A trunk edited by hand appears after "run a drift check now".
    await sip.updateSipInboundTrunkFields(live.trunkId, { metadata: 'edited by hand in the LiveKit console' } as never);
    await page.goto(`${svc.base}/console`);
    await page.getByRole('button', { name: 'Run a drift check now' }).click();
    expect(await taskOutcome()).toMatchObject({ state: 'Done', summary: expect.stringContaining('Drift found') });
    expect(await seriousAxeViolations(page)).toEqual([]);
    await page.goto(`${svc.base}/console`);
    await expect(page.locator('#drift-list').textContent()).resolves.toMatch(
      /Calvary Console[^]*metadata[^]*edited by hand in the LiveKit console/,
    );

    // A ring from the church's page.
    await page.goto(`${svc.base}/console/churches/${liveId}`);
    await page.getByRole('button', { name: 'Ring now' }).click();
    expect(await taskOutcome()).toMatchObject({ state: 'Done', summary: expect.stringContaining('RING OK') });

    // Decommission: refused without the number typed right, done with it.
    await page.goto(`${svc.base}/console/churches/${liveId}`);
    expect(await seriousAxeViolations(page)).toEqual([]);
    await screenshot(page, 'console-church');
    await page.getByLabel(/Type .* to confirm/).fill('(414) 000-0000');
    await page.getByRole('button', { name: 'Decommission Calvary Console' }).click();
    await expect(page.locator('#confirm-error').textContent()).resolves.toContain('Nothing was done');
    expect(stack.telnyx.countRequests('DELETE', '/phone_numbers')).toBe(0);
    await page.getByLabel(/Type .* to confirm/).fill(formatUsNumber(live.phoneNumber));
    await page.getByRole('button', { name: 'Decommission Calvary Console' }).click();
    expect(await taskOutcome()).toMatchObject({ state: 'Done', summary: expect.stringContaining('decommissioned') });
    expect(await getChurch(stack.db.pool, liveId)).toMatchObject({ status: 'decommissioned' });
    expect(stack.telnyx.countRequests('DELETE', '/phone_numbers')).toBe(1);

    // Doctor findings with their fix: auth set by hand on the retried church's trunk (Telnyx sends none).
    const bethel = (await svc.status(failingId)).json();
    await sip.updateSipInboundTrunkFields(bethel.trunkId, {
      authUsername: 'telnyx',
      authPassword: 'set-by-hand',
    } as never);
    await page.goto(`${svc.base}/console`);
    await page.getByRole('button', { name: 'Run the doctor now' }).click();
    expect(await taskOutcome()).toMatchObject({ state: 'Done', summary: expect.stringMatching(/finding/) });
    await page.goto(`${svc.base}/console`);
    const findings = await page.locator('#doctor-list').textContent();
    expect(findings).toContain(bethel.trunkId);
    expect(findings).toMatch(/Fix: /);
    expect(findings).not.toContain('set-by-hand');
    await screenshot(page, 'console-needs-attention');
  },
  3 * ENGINE_WAIT_MS,
);
