/**
 * The pastor's self-service pages, served by the service:
 *
 *   GET  /start/:token                  pick: search by area code (or city and state), the numbers ranked
 *   POST /start/:token/hold             hold the picked number (a Telnyx number reservation, 30 minutes)
 *   GET  /start/:token/hold             the held number and how long it is held
 *   POST /start/:token/hold/extend      30 more minutes
 *   POST /start/:token/checkout         a Stripe Checkout Session for the church and its held number
 *   GET  /start/:token/line             the line coming alive, step by step (updates itself)
 *   GET  /start/:token/line.json        the same, for the page's script
 *
 * Server-rendered with Eta (a small, well-kept template engine that escapes by default): the pages are forms and
 * links that work without JavaScript, and first paint needs nothing but one HTML document and one stylesheet. The
 * token (webhook/pastor/link.ts) is checked on every request; every POST carries a CSRF token bound to an HttpOnly,
 * SameSite=Strict cookie; holds are limited per church and per client address (registry/number-holds.ts).
 */
import * as path from 'path';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Pool } from 'pg';
import type Stripe from 'stripe';
import { stateOfAreaCode, nearbyAreaCodes } from '../../common/area-codes';
import { formatUsNumber, memorability, rankNumbers } from '../../common/number-choice';
import { US_LOCAL_PATTERN } from '../../common/phone-numbers';
import { getChurch } from '../../registry/churches';
import { churchStatus } from '../../registry/jobs';
import { latestRunSteps } from '../../registry/line-steps';
import {
  currentHold,
  holdLimitReached,
  recordHold,
  updateHold,
  DEFAULT_HOLD_LIMITS,
  type HoldLimits,
} from '../../registry/number-holds';
import type { AvailableNumber, LocalNumberPlace, NumberReservation, TelnyxClient } from '../../vendors/telnyx-client';
import { withTransaction } from '../../registry/db';
import { VendorError } from '../../vendors/vendor-request';
import { PastorLinkError, verifyPastorLink, type PastorLink } from './link';
import { formSecurity, htmlPages, isCsrfRefusal, serveAssets } from '../html-pages';

export interface PastorPagesOptions {
  pool: Pool;
  /** Signs the pastors' links (PASTOR_LINK_SECRET); also signs the CSRF cookie. */
  linkSecret: string;
  /** The Stripe price a church subscribes to (VOICE_PRICE_ID). */
  voicePriceId?: string;
  /** Where the pastor's browser reaches this service (PUBLIC_BASE_URL), for Stripe's return addresses. */
  publicBaseUrl: string;
  telnyx: () => TelnyxClient;
  /** Undefined when no Stripe key is set: checkout says so instead of failing. */
  stripe: () => Stripe | undefined;
  holdLimits?: HoldLimits;
  now?: () => Date;
}

const VIEWS = path.join(__dirname, 'views');
const ASSETS = path.join(__dirname, 'assets');
/** Numbers shown per search: enough to choose from, few enough to read on a phone. */
const SHOWN = 8;
const SEARCH_LIMIT = 40;

// Stripe Checkout is the one other place the pages' forms send the pastor.
const pages = htmlPages(VIEWS, { formAction: ['https://checkout.stripe.com'] });

/** What the picker form was given, and what is wrong with it, field by field. */
interface SearchForm {
  query: { areaCode: string; city: string; state: string };
  errors: Partial<Record<'areaCode' | 'city' | 'state', string>>;
  place?: LocalNumberPlace;
}

const text = (value: unknown) => (typeof value === 'string' ? value.trim() : '');

/** The picker's rules, in the pastor's words; every message names its field by being shown beside it. */
export function readSearchForm(raw: Record<string, unknown>): SearchForm {
  const query = { areaCode: text(raw.areaCode), city: text(raw.city), state: text(raw.state).toUpperCase() };
  const errors: SearchForm['errors'] = {};
  if (query.areaCode) {
    const code = query.areaCode;
    if (!/^\d+$/.test(code)) errors.areaCode = 'Use digits only: an area code is 3 digits, like 214.';
    else if (code.length !== 3) errors.areaCode = `An area code is 3 digits, like 214 (you typed ${code.length}).`;
    else if (code === '555') errors.areaCode = '555 is kept for made-up numbers in films; type your real area code.';
    else if (/^[01]/.test(code)) errors.areaCode = 'US area codes never start with 0 or 1.';
    else if (/^\d11$/.test(code)) errors.areaCode = `${code} is a service code (like 911), not an area code.`;
    else if (!stateOfAreaCode(code))
      errors.areaCode = `${code} is not a US area code; only US numbers are offered for now.`;
    return errors.areaCode ? { query, errors } : { query, errors, place: { areaCode: code } };
  }
  if (!query.city && !query.state) {
    errors.areaCode = 'Type an area code, or a city and its state.';
    return { query, errors };
  }
  if (!query.city) errors.city = 'Type the city, or search by area code instead.';
  else if (!/^[\p{L} .'-]{2,60}$/u.test(query.city)) errors.city = 'Use letters only for the city, like Dallas.';
  if (!/^[A-Z]{2}$/.test(query.state)) errors.state = 'Use the 2-letter state code, like TX.';
  if (Object.keys(errors).length) return { query, errors };
  return { query, errors, place: { locality: query.city, administrativeArea: query.state } };
}

function monthlyCost(number: AvailableNumber): string {
  if (!number.monthlyCost) return '';
  const amount = Number(number.monthlyCost);
  const currency = (number.currency ?? 'USD').toUpperCase();
  const price = Number.isFinite(amount)
    ? new Intl.NumberFormat('en-US', { style: 'currency', currency }).format(amount)
    : number.monthlyCost;
  return `${price} a month`;
}

/** Exact matches only (never Telnyx's near matches), never 555, the easiest to remember first. */
export function numbersToShow(found: AvailableNumber[], place: LocalNumberPlace): AvailableNumber[] {
  const exact = found.filter(
    (n) =>
      !n.bestEffort &&
      US_LOCAL_PATTERN.test(n.phoneNumber) &&
      (!('areaCode' in place) || n.phoneNumber.startsWith(`+1${place.areaCode}`)),
  );
  return rankNumbers(exact).slice(0, SHOWN);
}

/**
 * Holds the number at Telnyx for the church. The create is sent once; when its outcome is unknown (a transport error
 * or a 5xx) the church's reservations are looked up before anything is said. A hold Telnyx did not make is refused
 * in the pastor's words: taken (422, or a reservation that failed), or the error stands (anything else).
 */
async function holdAtTelnyx(telnyx: TelnyxClient, churchId: string, phoneNumber: string): Promise<NumberReservation> {
  const taken = () =>
    new PageError(
      409,
      'That number was just taken',
      `${formatUsNumber(phoneNumber)} is no longer available. Please pick another one.`,
      true,
    );
  let reservation: NumberReservation | undefined;
  try {
    reservation = await telnyx.createNumberReservation({ phoneNumber, customerReference: churchId });
  } catch (error) {
    if (error instanceof VendorError && error.status === 422) throw taken();
    const unknownOutcome = error instanceof VendorError && (error.status === undefined || error.status >= 500);
    if (!unknownOutcome) throw error;
    reservation = (await telnyx.listNumberReservations({ customerReference: churchId, phoneNumber })).find(
      (r) => r.status === 'success',
    );
    if (!reservation) throw error;
  }
  const line = reservation.phoneNumbers.find((n) => n.phoneNumber === phoneNumber);
  if (reservation.status !== 'success' || (line?.status !== undefined && line.status !== 'success')) throw taken();
  return reservation;
}

class PageError extends Error {
  constructor(
    readonly statusCode: number,
    readonly heading: string,
    message: string,
    readonly back?: boolean,
  ) {
    super(message);
  }
}

declare module 'fastify' {
  interface FastifyRequest {
    pastorLink?: PastorLink;
  }
}

export async function pastorPages(app: FastifyInstance, options: PastorPagesOptions): Promise<void> {
  const now = () => options.now?.() ?? new Date();
  const limits = options.holdLimits ?? DEFAULT_HOLD_LIMITS;
  const secure = options.publicBaseUrl.startsWith('https:');
  await formSecurity(app, { cookieSecret: options.linkSecret, csrfCookie: 'churchwise_csrf', path: '/start', secure });

  const base = (request: FastifyRequest) => `/start/${(request.params as { token: string }).token}`;
  const page = pages.send;

  serveAssets(app, '/assets', {
    'pastor.css': { file: path.join(ASSETS, 'pastor.css'), type: 'text/css' },
    'pastor.js': { file: path.join(ASSETS, 'pastor.js'), type: 'text/javascript' },
  });

  app.setErrorHandler((error: Error & { statusCode?: number; code?: string }, request, reply) => {
    const link = request.pastorLink;
    const common = { churchName: link?.churchName, title: 'Something went wrong' };
    if (error instanceof PageError) {
      return page(reply, error.statusCode, 'problem', {
        ...common,
        heading: error.heading,
        message: error.message,
        back: error.back && link ? base(request) : undefined,
      });
    }
    if (isCsrfRefusal(error)) {
      return page(reply, 403, 'problem', {
        ...common,
        heading: 'Please try that again',
        message: 'This page was open too long or came from somewhere else. Go back, reload the page and try again.',
        back: link ? base(request) : undefined,
      });
    }
    const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    if (status >= 500) request.log.error({ err: error }, 'pastor page failed');
    return page(reply, status, 'problem', {
      ...common,
      heading: 'Something went wrong',
      message:
        status >= 500
          ? 'We could not do that just now. Nothing was charged. Please try again in a minute.'
          : 'That request could not be understood. Go back and try again.',
      back: link ? base(request) : undefined,
    });
  });

  /**
   * A church that already has a line picks no new number here: a second purchase would replace the number printed
   * in its bulletins (and the old one is never released by it). A live line's pastor is sent to its status; a parked
   * one is told how to get the same number back. Undefined: the church may pick (new, or released for good).
   */
  const alreadyLined = async (request: FastifyRequest): Promise<'status' | PageError | undefined> => {
    const existing = await getChurch(options.pool, request.pastorLink!.churchId);
    if (!existing || existing.status === 'decommissioned') return undefined;
    if (existing.status === 'parking' || existing.status === 'parked') {
      const until = existing.quarantineUntil?.toISOString().slice(0, 10);
      return new PageError(
        409,
        'Your line is paused',
        `Your church's subscription has ended, so its line answers with a short message. Its number is kept for ` +
          `you${until ? ` until ${until}` : ''}: renew the subscription and the same number comes back.`,
      );
    }
    return 'status';
  };

  // The token is checked on every request of a church's pages, before anything else is read or written.
  app.register(async (church) => {
    church.addHook('preHandler', async (request) => {
      const { token } = request.params as { token: string };
      try {
        request.pastorLink = verifyPastorLink(options.linkSecret, token, now());
      } catch (error) {
        if (error instanceof PastorLinkError) throw new PageError(403, 'This link does not work', error.message);
        throw error;
      }
    });

    church.get('/start/:token', async (request, reply) => {
      const link = request.pastorLink!;
      const lined = await alreadyLined(request);
      if (lined === 'status') return reply.redirect(`${base(request)}/line`, 303);
      if (lined) throw lined;
      const raw = request.query as Record<string, unknown>;
      const searched = Object.keys(raw).some((k) => ['areaCode', 'city', 'state'].includes(k));
      const form = searched ? readSearchForm(raw) : { query: { areaCode: '', city: '', state: '' }, errors: {} };
      let results;
      if (form.place) {
        const found = await options.telnyx().searchLocalNumbers(form.place, { limit: SEARCH_LIMIT, excludeHeld: true });
        const numbers = numbersToShow(found, form.place).map((n) => ({
          phoneNumber: n.phoneNumber,
          display: formatUsNumber(n.phoneNumber),
          reasons: memorability(n.phoneNumber).reasons.join(', '),
          cost: monthlyCost(n),
        }));
        const where =
          'areaCode' in form.place ? `area code ${form.place.areaCode}` : `${form.query.city}, ${form.query.state}`;
        results = {
          heading: numbers.length ? `Numbers in ${where}` : `No numbers in ${where} right now`,
          numbers,
          nearby: 'areaCode' in form.place ? nearbyAreaCodes(form.place.areaCode).slice(0, 4) : [],
        };
      }
      const status = Object.keys(form.errors).length ? 400 : 200;
      return page(reply, status, 'pick', {
        title: 'Choose your phone number',
        churchName: link.churchName,
        base: base(request),
        query: form.query,
        errors: form.errors,
        results,
        csrf: reply.generateCsrf(),
      });
    });

    church.post('/start/:token/hold', { preHandler: church.csrfProtection }, async (request, reply) => {
      const link = request.pastorLink!;
      const lined = await alreadyLined(request);
      if (lined === 'status') return reply.redirect(`${base(request)}/line`, 303);
      if (lined) throw lined;
      const phoneNumber = text((request.body as Record<string, unknown> | undefined)?.phoneNumber);
      if (!US_LOCAL_PATTERN.test(phoneNumber))
        throw new PageError(400, 'Pick a number first', 'Choose one of the numbers shown, then hold it.', true);
      // Check, hold and record under one lock per church and per client address: parallel requests cannot all pass
      // the limit, and a church's picks are recorded in the order they were made.
      const reservation = await withTransaction(options.pool, async (tx) => {
        await tx.query('select pg_advisory_xact_lock(hashtext($1)), pg_advisory_xact_lock(hashtext($2))', [
          `number-hold:church:${link.churchId}`,
          `number-hold:client:${request.ip}`,
        ]);
        const clientAddress = request.ip;
        const limit = await holdLimitReached(tx, { churchId: link.churchId, clientAddress, now: now() }, limits);
        if (limit) throw new PageError(429, 'Too many numbers held', `Sorry: ${limit}.`, true);
        const held = await holdAtTelnyx(options.telnyx(), link.churchId, phoneNumber);
        const expiresAt = held.expiresAt ? new Date(held.expiresAt) : new Date(now().getTime() + 30 * 60_000);
        await recordHold(tx, {
          churchId: link.churchId,
          phoneNumber,
          reservationId: held.id,
          clientAddress,
          expiresAt,
        });
        return held;
      });
      request.log.info({ churchId: link.churchId, phoneNumber, reservationId: reservation.id }, 'number held');
      return reply.redirect(`${base(request)}/hold`, 303);
    });

    church.get('/start/:token/hold', async (request, reply) => {
      const link = request.pastorLink!;
      const hold = await currentHold(options.pool, link.churchId);
      if (!hold) return reply.redirect(base(request), 303);
      if (hold.expiresAt.getTime() <= now().getTime())
        throw new PageError(
          410,
          'Your hold has run out',
          `${formatUsNumber(hold.phoneNumber)} is no longer held for you. Search again to hold it (or another).`,
          true,
        );
      return page(reply, 200, 'held', {
        title: 'Your number is held',
        churchName: link.churchName,
        base: base(request),
        display: formatUsNumber(hold.phoneNumber),
        expiresAt: hold.expiresAt.toISOString(),
        expiresText: hold.expiresAt.toLocaleTimeString('en-US', {
          hour: 'numeric',
          minute: '2-digit',
          timeZoneName: 'short',
        }),
        csrf: reply.generateCsrf(),
      });
    });

    church.post('/start/:token/hold/extend', { preHandler: church.csrfProtection }, async (request, reply) => {
      const link = request.pastorLink!;
      const hold = await currentHold(options.pool, link.churchId);
      if (!hold) return reply.redirect(base(request), 303);
      let reservation;
      try {
        reservation = await options.telnyx().extendNumberReservation(hold.reservationId);
      } catch (error) {
        if (error instanceof VendorError && error.status !== undefined && error.status < 500)
          throw new PageError(
            410,
            'Your hold has run out',
            `${formatUsNumber(hold.phoneNumber)} could not be held longer. Search again to hold a number.`,
            true,
          );
        throw error;
      }
      if (reservation.expiresAt)
        await updateHold(options.pool, hold.id, { expiresAt: new Date(reservation.expiresAt) });
      return reply.redirect(`${base(request)}/hold`, 303);
    });

    church.post('/start/:token/checkout', { preHandler: church.csrfProtection }, async (request, reply) => {
      const link = request.pastorLink!;
      const lined = await alreadyLined(request);
      if (lined === 'status') return reply.redirect(`${base(request)}/line`, 303);
      if (lined) throw lined;
      const hold = await currentHold(options.pool, link.churchId);
      if (!hold || hold.expiresAt.getTime() <= now().getTime())
        throw new PageError(410, 'Your hold has run out', 'Hold a number again, then continue to payment.', true);
      const stripe = options.stripe();
      if (!stripe || !options.voicePriceId)
        throw new PageError(
          503,
          'Payment is not open yet',
          'Online payment is not set up yet. Your number stays held; ChurchWise will contact you.',
          true,
        );
      const metadata = {
        church_id: link.churchId,
        church_name: link.churchName,
        requested_number: hold.phoneNumber,
        area_code: hold.phoneNumber.slice(2, 5),
        number_hold: hold.reservationId,
        plan: 'voice',
      };
      const pages = `${options.publicBaseUrl.replace(/\/$/, '')}${base(request)}`;
      // One session per hold: a double click or a retried request gets the same session, never a second charge.
      const session = await stripe.checkout.sessions.create(
        {
          mode: 'subscription',
          line_items: [{ price: options.voicePriceId, quantity: 1 }],
          client_reference_id: link.churchId,
          metadata,
          subscription_data: { metadata },
          success_url: `${pages}/line`,
          cancel_url: `${pages}/hold`,
        },
        { idempotencyKey: `churchwise-checkout-hold-${hold.id}` },
      );
      await updateHold(options.pool, hold.id, { state: 'checkout' });
      request.log.info({ churchId: link.churchId, session: session.id }, 'checkout session created');
      if (!session.url) throw new Error(`Stripe answered checkout session ${session.id} without a url`);
      return reply.redirect(session.url, 303);
    });

    church.get('/start/:token/line', async (request, reply) => {
      const link = request.pastorLink!;
      const status = await lineStatusForPastor(options.pool, link.churchId);
      return page(reply, 200, 'line', {
        title: status.live ? 'Your line is live' : 'Setting up your phone line',
        churchName: link.churchName,
        base: base(request),
        status,
        refreshSeconds: status.done ? undefined : 3,
      });
    });

    church.get('/start/:token/line.json', async (request, reply) => {
      const status = await lineStatusForPastor(options.pool, request.pastorLink!.churchId);
      return reply
        .header('cache-control', 'no-store')
        .send({ done: status.done, live: status.live, html: pages.render('line-status', { status }) });
    });
  });
}

export type StepState = 'done' | 'working' | 'waiting' | 'failed';

export interface PastorLineStatus {
  headline: string;
  steps: Array<{ key: string; label: string; state: StepState; stateText: string }>;
  note?: string;
  live: boolean;
  /** Nothing more will change by itself (live, or failed for good). */
  done: boolean;
  phoneNumber?: string;
  display?: string;
}

const STEPS: Array<{ key: string; label: string }> = [
  { key: 'paid', label: 'Payment received' },
  { key: 'telnyx-number', label: 'Phone number' },
  { key: 'livekit-trunk', label: 'Call connection (SIP trunk)' },
  { key: 'dispatch-rule', label: 'Answering agent assigned' },
  { key: 'church-row', label: 'Church settings saved' },
  { key: 'test-ring', label: 'Test call' },
];
const STATE_TEXT: Record<StepState, string> = {
  done: 'done',
  working: 'in progress',
  waiting: 'waiting',
  failed: 'failed',
};

/** The line as the pastor sees it: each step from the registry's record of the newest run, in plain words. */
export async function lineStatusForPastor(pool: Pool, churchId: string): Promise<PastorLineStatus> {
  const church = await getChurch(pool, churchId);
  const status = church ? await churchStatus(pool, churchId, church) : undefined;
  const recorded = church ? await latestRunSteps(pool, churchId) : [];
  const live = status?.state === 'live';
  const failedForGood = status?.state === 'failed';
  const stepState = new Map<string, StepState>();
  if (church) stepState.set('paid', 'done');
  for (const step of recorded) stepState.set(step.step, step.ok ? 'done' : 'failed');
  let working = false;
  const steps = STEPS.map(({ key, label }) => {
    let state: StepState = live ? 'done' : (stepState.get(key) ?? 'waiting');
    if (state === 'waiting' && !working && church && !failedForGood) {
      state = 'working';
      working = true;
    }
    return { key, label, state, stateText: STATE_TEXT[state] };
  });
  const phoneNumber = status?.phoneNumber ?? undefined;
  let note: string | undefined;
  if (church?.requestedNumber && phoneNumber && phoneNumber !== church.requestedNumber) {
    note =
      `The number you held, ${formatUsNumber(church.requestedNumber)}, was taken after your hold ran out, so your ` +
      `line got ${formatUsNumber(phoneNumber)}, the easiest to remember number left in the same area code. ` +
      'You were charged once, for this line. ChurchWise has been told.';
  }
  let headline: string;
  if (!church) headline = 'Waiting for your payment to come through. This page updates by itself.';
  else if (live) headline = 'Your line is live. Call it now to hear your church’s assistant.';
  else if (failedForGood)
    headline =
      'Something went wrong while setting up your line. ChurchWise has been told and will finish it for you; ' +
      'you do not need to do anything, and you will not be charged again.';
  else if (steps.some((s) => s.state === 'failed'))
    headline = 'One step did not work the first time. We are trying it again, nothing for you to do.';
  else headline = 'We are setting up your line. This takes about a minute; this page updates by itself.';
  return {
    headline,
    steps,
    note,
    live,
    done: live || failedForGood,
    phoneNumber: live ? phoneNumber : undefined,
    display: live && phoneNumber ? formatUsNumber(phoneNumber) : undefined,
  };
}
