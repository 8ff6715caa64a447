/**
 * The pastor's path in a real browser (Debian Chromium via playwright-core), against the real engine, LiveKit,
 * PostgreSQL, the Telnyx stand-in (number reservations) and stripe-mock (the Checkout Session, created by the stripe
 * SDK): the picker -> a hold at Telnyx -> Stripe Checkout with the church and the held number -> a signed
 * checkout.session.completed -> the status page reaching "live" -> the line has exactly the held number. Also: the
 * hold that lapsed and was taken (the best number left, told to the pastor and the founder, one order), bad input
 * beside its field, a 375 px phone, the keyboard alone, axe-core, and the abuse rules (token, CSRF, hold limits).
 *
 * Screenshots go to test-artifacts/; the picker's first paint is printed (the bench reports it, nothing asserts it).
 */
import * as http from 'http';
import type { AddressInfo } from 'net';
import type { Browser, Page } from 'playwright-core';
import type { MailpitConnection } from '../../sandbox/mailpit';
import { ensureStripeMock, SANDBOX_STRIPE_SECRET_KEY } from '../../sandbox/stripe-mock';
import { TelnyxClient } from '../../vendors/telnyx-client';
import { signPastorLink } from '../../webhook/pastor/link';
import { formatUsNumber, rankNumbers } from '../../common/number-choice';
import { newVoiceStack, type VoiceStackFixture } from '../support/voice-stack';
import { checkoutCompletedEvent } from '../support/stripe-events';
import {
  ENGINE_WAIT_MS,
  ensureMailpit,
  founderMails,
  startInProcessService,
  uniqueId,
  type InProcessService,
} from '../support/service';
import {
  firstContentfulPaint,
  keepOnThisMachine,
  launchBrowser,
  screenshot,
  seriousAxeViolations,
} from '../support/browser';

const LINK_SECRET = 'pastor-link-secret-for-tests-only-0123456789';
const PRICE = 'price_voice_monthly';

/** Every request the service sent to stripe-mock, with its form body. */
interface StripeCall {
  method: string;
  path: string;
  body: URLSearchParams;
}

let mailpit: MailpitConnection;
let stack: VoiceStackFixture;
let svc: InProcessService;
let browser: Browser;
let stripeProxy: http.Server;
const stripeCalls: StripeCall[] = [];

/** Forwards to stripe-mock and keeps what was asked (stripe-mock echoes no metadata back: it keeps no state). */
async function recordingStripeProxy(target: string): Promise<string> {
  stripeProxy = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', async () => {
      const body = Buffer.concat(chunks);
      stripeCalls.push({ method: request.method!, path: request.url!, body: new URLSearchParams(body.toString()) });
      const forwarded = await fetch(`${target}${request.url}`, {
        method: request.method,
        headers: Object.fromEntries(
          Object.entries(request.headers).filter(([k]) => !['host', 'content-length', 'connection'].includes(k)),
        ) as Record<string, string>,
        body: body.length ? body : undefined,
      });
      response.writeHead(forwarded.status, { 'content-type': forwarded.headers.get('content-type') ?? 'text/plain' });
      response.end(Buffer.from(await forwarded.arrayBuffer()));
    });
  });
  await new Promise<void>((resolve) => stripeProxy.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(stripeProxy.address() as AddressInfo).port}`;
}

beforeAll(async () => {
  mailpit = await ensureMailpit();
  const stripeMock = await ensureStripeMock();
  const stripeBaseUrl = await recordingStripeProxy(stripeMock.url);
  stack = await newVoiceStack('e2e-pastor', { testRings: true });
  svc = await startInProcessService(
    stack,
    mailpit,
    {
      stripeSecretKey: SANDBOX_STRIPE_SECRET_KEY,
      selfService: {
        linkSecret: LINK_SECRET,
        publicBaseUrl: 'http://127.0.0.1:8787',
        voicePriceId: PRICE,
        stripeBaseUrl,
      },
    },
    { telnyx: () => new TelnyxClient({ baseUrl: stack.telnyx.url, apiKey: stack.telnyx.apiKey }) },
  );
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await svc?.close();
  await stack?.close();
  await new Promise((resolve) => stripeProxy?.close(resolve));
});

const link = (churchId: string, churchName: string) =>
  `${svc.base}/start/${signPastorLink(LINK_SECRET, { churchId, churchName })}`;

async function newPage(width = 1024): Promise<{ page: Page; outside: string[] }> {
  // bypassCSP only lets the test inject axe-core; the pages' own CSP is checked on its own (the abuse test).
  const page = await browser.newPage({ viewport: { width, height: 800 }, bypassCSP: true });
  const outside = await keepOnThisMachine(page);
  return { page, outside };
}

/** The numbers the picker lists, as shown. */
const shownNumbers = (page: Page) => page.locator('.numbers .number').allTextContents();

/** From the picker to a held number, keyboard only; returns the number held (E.164). */
async function searchAndHold(page: Page, areaCode: string): Promise<string> {
  await page.getByLabel('Area code').focus();
  await page.keyboard.type(areaCode);
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: `Numbers in area code ${areaCode}`, exact: true }).waitFor();
  const picked = await page.locator('input[name="phoneNumber"]:checked').getAttribute('value');
  await page.getByRole('button', { name: 'Hold this number for 30 minutes' }).focus();
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'Your number is held' }).waitFor();
  return picked!;
}

/** The Checkout Session the service asked stripe-mock for, for this church. */
function checkoutRequest(churchId: string): URLSearchParams {
  const call = stripeCalls.filter((c) => c.path === '/v1/checkout/sessions' && c.method === 'POST').pop();
  expect(call?.body.get('client_reference_id')).toBe(churchId);
  return call!.body;
}

async function paid(churchId: string, checkout: URLSearchParams) {
  const metadata: Record<string, string> = {};
  for (const [key, value] of checkout) {
    const field = /^metadata\[(.+)\]$/.exec(key);
    if (field) metadata[field[1]] = value;
  }
  const delivered = await svc.deliver(
    checkoutCompletedEvent({ clientReferenceId: churchId, metadata, subscriptionId: uniqueId('sub') }),
  );
  expect(delivered.json()).toMatchObject({ outcome: 'queued', churchId });
}

const ordersFor = (churchId: string) =>
  [...stack.telnyx.state.numberOrders.values()].filter((o) => o.customer_reference === churchId);

test(
  'pick -> hold -> Stripe Checkout -> paid -> the status page goes live with exactly the held number',
  async () => {
    const churchId = uniqueId('pastor').toLowerCase();
    const { page, outside } = await newPage();
    await page.goto(link(churchId, 'Grace Fellowship Dallas'));
    const paint = await firstContentfulPaint(page);
    console.log(`picker first contentful paint: ${paint?.toFixed(0)} ms`);
    expect(await seriousAxeViolations(page)).toEqual([]);

    const held = await searchAndHold(page, '214');
    await page.goBack();
    await page.goBack();
    // The list the pastor chose from: formatted as people read them, exact matches, no 555, most memorable first.
    await page.getByLabel('Area code').fill('214');
    await page.getByRole('button', { name: 'Show numbers' }).click();
    await page.getByRole('heading', { name: 'Numbers in area code 214', exact: true }).waitFor();
    const shown = await shownNumbers(page);
    expect(shown.length).toBeGreaterThan(1);
    for (const number of shown) expect(number).toMatch(/^\(214\) (?!555)\d{3}-\d{4}$/);
    const e164 = shown.map((s) => `+1${s.replace(/\D/g, '')}`);
    expect(rankNumbers(e164.map((phoneNumber) => ({ phoneNumber }))).map((n) => n.phoneNumber)).toEqual(e164);
    expect(await page.locator('.cost').first().textContent()).toMatch(/^\$\d+\.\d{2} a month$/);
    await screenshot(page, 'pastor-picker');
    expect(await seriousAxeViolations(page)).toEqual([]);

    // The hold is at Telnyx, for this church.
    await page.goto(`${link(churchId, 'Grace Fellowship Dallas')}/hold`);
    await expect(page.locator('.big-number').textContent()).resolves.toBe(formatUsNumber(held));
    await expect(page.locator('#hold-time').textContent()).resolves.toMatch(/Held for you until/);
    const reservation = [...stack.telnyx.state.numberReservations.values()].find(
      (r) => r.customer_reference === churchId,
    );
    expect(reservation?.phone_numbers.map((n) => n.phone_number)).toEqual([held]);
    const source = await page.content();
    for (const secret of [LINK_SECRET, SANDBOX_STRIPE_SECRET_KEY, svc.config.adminToken, reservation!.id])
      expect(source).not.toContain(secret);
    await screenshot(page, 'pastor-held');
    // Extend: 30 more minutes from now, at Telnyx and on the page.
    const heldUntil = await page.locator('#hold-time time').getAttribute('datetime');
    const telnyxUntil = reservation!.phone_numbers[0].expired_at;
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await page.getByRole('button', { name: 'Hold it 30 more minutes' }).click();
    await page.getByRole('heading', { name: 'Your number is held' }).waitFor();
    const extendedUntil = await page.locator('#hold-time time').getAttribute('datetime');
    expect(Date.parse(extendedUntil!)).toBeGreaterThan(Date.parse(heldUntil!));
    const extended = stack.telnyx.state.numberReservations.get(reservation!.id)!;
    expect(Date.parse(extended.phone_numbers[0].expired_at)).toBeGreaterThan(Date.parse(telnyxUntil));
    expect(await seriousAxeViolations(page)).toEqual([]);

    // To Stripe Checkout: a session for this church with the held number, created through the stripe SDK.
    await page.getByRole('button', { name: 'Continue to payment' }).click();
    await page.waitForURL(/checkout\.stripe\.com|stripe/);
    expect(outside.some((url) => /stripe/.test(url))).toBe(true);
    const checkout = checkoutRequest(churchId);
    expect(Object.fromEntries(checkout)).toMatchObject({
      mode: 'subscription',
      'line_items[0][price]': PRICE,
      'metadata[church_id]': churchId,
      'metadata[requested_number]': held,
      'metadata[number_hold]': reservation!.id,
    });

    // Stripe tells the service; the pastor lands on the status page, which updates itself until the line is live.
    await paid(churchId, checkout);
    await page.goto(`${link(churchId, 'Grace Fellowship Dallas')}/line`);
    await page.getByText('Your line is live').waitFor({ timeout: ENGINE_WAIT_MS });
    await expect(page.locator('#line-number').textContent()).resolves.toBe(formatUsNumber(held));
    await expect(page.getByRole('link', { name: 'Call it now' }).getAttribute('href')).resolves.toBe(`tel:${held}`);
    expect(await page.locator('.step.done').count()).toBe(6);
    await screenshot(page, 'pastor-live');
    expect(await seriousAxeViolations(page)).toEqual([]);
    expect(ordersFor(churchId).map((o) => o.phone_numbers.map((n) => n.phone_number))).toEqual([[held]]);
    // The church has its line now: its link no longer offers numbers (a second purchase would replace this one).
    await page.goto(link(churchId, 'Grace Fellowship Dallas'));
    await page.waitForURL(/\/line$/);
    await page.getByText('Your line is live').waitFor();
    await page.close();
  },
  ENGINE_WAIT_MS,
);

test(
  'the hold lapsed and the number was taken: the best number left in the area code, one order, everyone told',
  async () => {
    const churchId = uniqueId('lapsed').toLowerCase();
    const { page } = await newPage();
    await page.goto(link(churchId, 'Hope Chapel Austin'));
    const held = await searchAndHold(page, '512');
    await page.getByRole('button', { name: 'Continue to payment' }).click();
    await page.waitForURL(/stripe/);
    const checkout = checkoutRequest(churchId);

    // Before the payment's webhook arrives the hold lapses and another Telnyx customer buys the number.
    const control = stack.telnyx.url.replace(/\/v2$/, '');
    const post = (route: string, body: unknown) =>
      fetch(`${control}${route}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    expect((await post('/_standin/number-reservations/expire', { phone_number: held })).ok).toBe(true);
    expect((await post('/_standin/available-phone-numbers/take', { phone_number: held })).ok).toBe(true);

    await paid(churchId, checkout);
    await page.goto(`${link(churchId, 'Hope Chapel Austin')}/line`);
    await page.getByText('Your line is live').waitFor({ timeout: ENGINE_WAIT_MS });
    const got = `+1${(await page.locator('#line-number').textContent())!.replace(/\D/g, '')}`;
    expect(got).not.toBe(held);
    expect(got.slice(0, 5)).toBe('+1512');
    await expect(page.locator('#line-note').textContent()).resolves.toContain(
      `The number you held, ${formatUsNumber(held)}, was taken`,
    );
    await screenshot(page, 'pastor-substitute');
    expect(ordersFor(churchId).map((o) => o.phone_numbers.map((n) => n.phone_number))).toEqual([[got]]);
    const mails = await founderMails(stack.db, svc.config, churchId);
    expect(mails.map((m) => m.Subject)).toEqual([expect.stringContaining(`held number gone, line got ${got}`)]);
    await page.close();
  },
  ENGINE_WAIT_MS,
);

test('bad input gets a clear message beside its field; a 375 px phone works with the keyboard', async () => {
  const { page } = await newPage(375);
  const picker = link(uniqueId('typo').toLowerCase(), 'St. Mark Lutheran');
  const cases: Array<[string, RegExp]> = [
    ['abc', /Use digits only/],
    ['21', /An area code is 3 digits/],
    ['555', /555 is kept for made-up numbers/],
    ['604', /604 is not a US area code/],
  ];
  for (const [typed, message] of cases) {
    await page.goto(picker);
    await page.getByLabel('Area code').fill(typed);
    await page.keyboard.press('Enter');
    await page.locator('#areaCode-error').waitFor();
    const field = page.getByLabel('Area code');
    await expect(field.getAttribute('aria-invalid')).resolves.toBe('true');
    const described = await field.getAttribute('aria-describedby');
    await expect(page.locator(`#${described}`).textContent()).resolves.toMatch(message);
    await expect(field.inputValue()).resolves.toBe(typed);
  }
  await screenshot(page, 'pastor-bad-input-375px');
  expect(await seriousAxeViolations(page)).toEqual([]);
  // Nothing is wider than the phone.
  expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(375);

  // The keyboard alone: the skip link first, then the search.
  await page.goto(picker);
  await page.keyboard.press('Tab');
  await expect(page.evaluate('document.activeElement.textContent')).resolves.toBe('Skip to the content');
  await page.keyboard.press('Enter');
  await page.keyboard.press('Tab');
  await expect(page.evaluate('document.activeElement.id')).resolves.toBe('areaCode');
  await page.keyboard.type('469');
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'Numbers in area code 469', exact: true }).waitFor();
  expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(375);
  await screenshot(page, 'pastor-picker-375px');
  await page.close();
});

test('abuse: a forged link, a request without its CSRF token, and too many holds are refused', async () => {
  const churchId = uniqueId('abuse').toLowerCase();
  const good = link(churchId, 'Abuse Test Church');
  // A link signed with another secret, and one whose church was edited.
  const forged = `${svc.base}/start/${signPastorLink('another-secret-of-at-least-32-characters!!', { churchId, churchName: 'X' })}`;
  for (const url of [forged, `${good}x`]) {
    const response = await fetch(url);
    expect(response.status).toBe(403);
    expect(await response.text()).toContain('This link does not work');
  }
  // A hold posted without the page's CSRF token (another site's form) changes nothing.
  const reservationsBefore = stack.telnyx.state.numberReservations.size;
  const noCsrf = await fetch(`${good}/hold`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'phoneNumber=%2B14692000000',
  });
  expect(noCsrf.status).toBe(403);
  expect(stack.telnyx.state.numberReservations.size).toBe(reservationsBefore);

  // The pages forbid inline scripts, framing and outside form targets (other than Stripe Checkout).
  const headers = (await fetch(good)).headers;
  expect(headers.get('content-security-policy')).toMatch(/script-src 'self'.*frame-ancestors 'none'/);
  expect(headers.get('x-frame-options')).toBe('DENY');

  // One browser (one client address) may hold 3 numbers at once, whatever the church, counting the holds this
  // address made in the tests above (a hold sent to checkout still holds its number at Telnyx).
  const heldNow = async () =>
    Number(
      (
        await stack.db.pool.query(
          `select count(*) as n from number_holds where client_address = '127.0.0.1' and expires_at > now()`,
        )
      ).rows[0].n,
    );
  const { page } = await newPage();
  const areaCodes = ['312', '414', '747', '469'];
  let refused = false;
  for (const [i, areaCode] of areaCodes.entries()) {
    await page.goto(link(uniqueId(`holder${i}`).toLowerCase(), `Holder ${i}`));
    await page.getByLabel('Area code').fill(areaCode);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: `Numbers in area code ${areaCode}`, exact: true }).waitFor();
    const before = await heldNow();
    await page.getByRole('button', { name: 'Hold this number for 30 minutes' }).click();
    await page.getByRole('heading', { name: /Your number is held|Too many numbers held/ }).waitFor();
    if ((await page.locator('h1').textContent()) === 'Too many numbers held') {
      expect(before).toBe(3);
      await expect(page.locator('main').textContent()).resolves.toMatch(/already holds 3 numbers/);
      expect(await heldNow()).toBe(3);
      refused = true;
      break;
    }
    expect(await heldNow()).toBe(before + 1);
  }
  expect(refused).toBe(true);
  await page.close();
});
