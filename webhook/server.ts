/**
 * The HTTP service (fastify, pino logs):
 *   POST /stripe/webhook             Stripe events, signature checked on the raw body (tolerance 300 s)
 *   POST /admin/provision-number     manual override: bearer ADMIN_TOKEN, JSON {churchId, areaCode, name?}
 *   POST /voice/fallback             TeXML of the fallback application (the company fallback number and parked
 *                                    churches' numbers): a message, then hang up; each call is recorded
 *   GET  /health                     the service and its registry database
 *   GET  /churches/:id/status        queued | provisioning | live | failed, last error and step, number, last ring
 *                                    (bearer ADMIN_TOKEN: it shows vendor errors)
 * Every 4xx is decided before anything is written; the Stripe route answers as soon as its one transaction
 * commits, and provisioning happens in the worker.
 */
import { createHash, timingSafeEqual } from 'crypto';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Pool } from 'pg';
import type { Logger } from 'pino';
import Stripe from 'stripe';
import { RegistryInputError, checkChurchId } from '../registry/churches';
import { churchStatus } from '../registry/jobs';
import { parkedChurchByNumber, recordFallbackAnswer } from '../registry/parked-lines';
import { checkAreaCode, type RuleFailure } from '../common/phone-numbers';
import type { ServiceConfig } from './config';
import { intakeAdminProvision, intakeStripeEvent } from './intake';
import { decideStripeEvent, type StripeEventLike } from './stripe-events';
import { pastorPages } from './pastor/pages';
import { founderConsole, type ConsoleActions } from './console/pages';
import { telnyxClientFromSettings, type TelnyxClient } from '../vendors/telnyx-client';
import { stripeClient } from '../vendors/stripe-client';

/** Stripe's signature tolerance: an event signed more than 5 minutes ago is refused (replay protection). */
export const STRIPE_TOLERANCE_SECONDS = 300;
/** Stripe events are a few KB to a few tens of KB; anything near this is not from Stripe. */
export const STRIPE_BODY_LIMIT = 512 * 1024;
/** The admin route takes three short fields. */
export const ADMIN_BODY_LIMIT = 16 * 1024;

export interface ServerDependencies {
  config: Pick<
    ServiceConfig,
    | 'stripeWebhookSecret'
    | 'adminToken'
    | 'voicePlans'
    | 'fallbackMessage'
    | 'stackName'
    | 'gracePeriodDays'
    | 'quarantineDays'
    | 'selfService'
    | 'stripeSecretKey'
    | 'publicBaseUrl'
    | 'trustProxy'
  >;
  pool: Pool;
  logger: Logger;
  /** Woken after a job was queued. */
  onJobQueued?: () => void;
  /** The Telnyx client the pastor's pages search and hold with (default: from TELNYX_* settings). */
  telnyx?: () => TelnyxClient;
  /** The pages' clock (holds, link expiry); default the system clock. */
  now?: () => Date;
  /** What the founder console's buttons do; without it the console is not served. */
  console?: ConsoleActions;
  /** Woken after a founder email was queued. */
  onFounderNotification?: () => void;
}

class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

function sha256(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** Bearer token check in constant time: both sides are hashed first, so even the length does not leak. */
export function bearerTokenMatches(authorization: string | undefined, expected: string): boolean {
  const match = /^Bearer ([^\s]+)$/i.exec(authorization?.trim() ?? '');
  const equal = timingSafeEqual(sha256(match?.[1] ?? ''), sha256(expected));
  return match !== null && equal;
}

function xmlEscape(text: string): string {
  return text.replace(
    /[<>&'"]/g,
    (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c] as string,
  );
}

/** What a caller of a parked church's number hears. */
export function parkedLineMessage(churchName: string): string {
  return `The phone line of ${churchName} is no longer active. Please reach the church another way. Goodbye.`;
}

export function fallbackTexml(message: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?><Response><Say>${xmlEscape(message)}</Say><Hangup/></Response>`;
}

const ADMIN_FIELDS = ['churchId', 'areaCode', 'name'];

/** The admin body, checked field by field with the shared rules; the first failure names its field. */
function parseAdminBody(body: unknown): { churchId: string; areaCode: string; name?: string } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new HttpError(400, 'body must be a JSON object {"churchId", "areaCode", "name"?}', 'body');
  }
  const fields = body as Record<string, unknown>;
  const unknown = Object.keys(fields).filter((key) => !ADMIN_FIELDS.includes(key));
  if (unknown.length)
    throw new HttpError(400, `unknown field ${unknown.join(', ')}: allowed are ${ADMIN_FIELDS.join(', ')}`, unknown[0]);
  const failures: (RuleFailure | undefined)[] = [
    fields.churchId === undefined
      ? { property: 'churchId', reason: 'churchId is required' }
      : checkChurchId('churchId', fields.churchId),
    fields.areaCode === undefined
      ? { property: 'areaCode', reason: 'areaCode is required' }
      : checkAreaCode('areaCode', fields.areaCode),
  ];
  if (
    fields.name !== undefined &&
    (typeof fields.name !== 'string' || fields.name.trim() === '' || fields.name.length > 200)
  ) {
    failures.push({
      property: 'name',
      reason: `name must be a non-blank string of at most 200 characters, got ${JSON.stringify(fields.name)}`,
    });
  }
  const failure = failures.find((f) => f !== undefined);
  if (failure) throw new HttpError(400, failure.reason, failure.property);
  return {
    churchId: fields.churchId as string,
    areaCode: fields.areaCode as string,
    name: fields.name as string | undefined,
  };
}

function requireAdmin(request: FastifyRequest, reply: FastifyReply, token: string): void {
  if (!bearerTokenMatches(request.headers.authorization, token)) {
    reply.header('www-authenticate', 'Bearer realm="churchwise-voice-admin"');
    throw new HttpError(
      401,
      request.headers.authorization
        ? 'wrong bearer token'
        : 'missing bearer token (Authorization: Bearer <ADMIN_TOKEN>)',
    );
  }
}

/** The verified event, or a 400 that says why (and nothing is written). */
function verifyStripeEvent(raw: Buffer, signature: string | string[] | undefined, secret: string): StripeEventLike {
  if (typeof signature !== 'string' || signature === '') throw new HttpError(400, 'missing Stripe-Signature header');
  let event: unknown;
  try {
    event = Stripe.webhooks.constructEvent(raw, signature, secret, STRIPE_TOLERANCE_SECONDS);
  } catch (error) {
    if (error instanceof Stripe.errors.StripeSignatureVerificationError) {
      throw new HttpError(400, `signature verification failed: ${error.message.split('\n')[0]}`);
    }
    // The signature matched but the signed bytes are not JSON.
    throw new HttpError(400, `body is not a JSON Stripe event: ${(error as Error).message}`);
  }
  const e = event as Partial<StripeEventLike> | null;
  if (!e || typeof e.id !== 'string' || typeof e.type !== 'string' || typeof e.data !== 'object' || e.data === null) {
    throw new HttpError(400, 'body is not a Stripe event: id, type and data.object are required');
  }
  return e as StripeEventLike;
}

export function buildServer(deps: ServerDependencies): FastifyInstance {
  const { config, pool } = deps;
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    bodyLimit: ADMIN_BODY_LIMIT,
    // Behind a proxy the request id comes from it; otherwise fastify numbers requests.
    requestIdHeader: 'x-request-id',
    // A pastor's link carries a signed token in its path (webhook/pastor/link.ts): ~250 characters.
    routerOptions: { maxParamLength: 1024 },
    // Behind a load balancer the client's address comes from X-Forwarded-For, only from the proxies trusted.
    trustProxy: config.trustProxy ?? false,
  });

  // Only JSON is accepted (fastify's text/plain parser would let a wrong content type through): anything else 415.
  app.removeContentTypeParser('text/plain');

  app.setErrorHandler((error: Error & { statusCode?: number; code?: string; field?: string }, request, reply) => {
    const status = error.statusCode && error.statusCode >= 400 ? error.statusCode : 500;
    if (status >= 500) {
      request.log.error({ err: error }, 'request failed');
      return reply.status(500).send({ error: 'internal error; nothing was recorded, retry later' });
    }
    request.log.info({ status, code: error.code, reason: error.message }, 'request refused');
    return reply.status(status).send({ error: error.message, ...(error.field ? { field: error.field } : {}) });
  });

  // Stripe signs the exact bytes it sent: this route gets the raw body, and only this one.
  app.register(async (stripeScope) => {
    stripeScope.removeAllContentTypeParsers();
    stripeScope.addContentTypeParser(
      'application/json',
      { parseAs: 'buffer', bodyLimit: STRIPE_BODY_LIMIT },
      (_request, body, done) => done(null, body),
    );
    stripeScope.post('/stripe/webhook', { bodyLimit: STRIPE_BODY_LIMIT }, async (request, reply) => {
      if (!Buffer.isBuffer(request.body)) throw new HttpError(400, 'empty body: a Stripe event is required');
      const event = verifyStripeEvent(request.body, request.headers['stripe-signature'], config.stripeWebhookSecret);
      const decision = decideStripeEvent(event, config.voicePlans);
      const result = await intakeStripeEvent(pool, event, decision, {
        stackName: config.stackName,
        graceDays: config.gracePeriodDays,
        quarantineDays: config.quarantineDays,
      });
      request.log.info(
        {
          eventId: event.id,
          type: event.type,
          outcome: result.outcome,
          churchId: result.churchId,
          jobId: result.job?.id,
          detail: result.detail,
        },
        'stripe event handled',
      );
      if (result.jobCreated) deps.onJobQueued?.();
      if (result.founderNotified) deps.onFounderNotification?.();
      return reply
        .status(200)
        .send({ received: true, outcome: result.outcome, churchId: result.churchId, jobId: result.job?.id });
    });
  });

  app.post('/admin/provision-number', async (request, reply) => {
    requireAdmin(request, reply, config.adminToken);
    const body = parseAdminBody(request.body);
    let result;
    try {
      result = await intakeAdminProvision(pool, body);
    } catch (error) {
      if (error instanceof RegistryInputError) throw new HttpError(400, error.message, error.failures[0]?.property);
      throw error;
    }
    request.log.info(
      { churchId: result.church.churchId, jobId: result.job.id, created: result.jobCreated },
      'admin provisioning queued',
    );
    if (result.jobCreated) deps.onJobQueued?.();
    return reply.status(202).send({
      churchId: result.church.churchId,
      jobId: result.job.id,
      state: result.job.state === 'running' ? 'provisioning' : 'queued',
      status: `/churches/${result.church.churchId}/status`,
    });
  });

  // Telnyx posts TeXML callbacks form-encoded (or, set to GET, in the query). Every answer is recorded: a parked
  // line's test ring finds its call there, which proves the number's callers hear this message.
  app.register(async (voiceScope) => {
    voiceScope.removeAllContentTypeParsers();
    voiceScope.addContentTypeParser('*', { parseAs: 'string', bodyLimit: ADMIN_BODY_LIMIT }, (_request, body, done) =>
      done(null, body),
    );
    const texml = async (request: FastifyRequest, reply: FastifyReply) => {
      const params = new URLSearchParams(typeof request.body === 'string' ? request.body : '');
      for (const [name, value] of new URLSearchParams(request.url.split('?')[1] ?? '')) params.set(name, value);
      const calledNumber = params.get('To') ?? '';
      let message = config.fallbackMessage;
      try {
        // Only a parked line's calls are recorded (its ring looks for them); anyone can post here, so nothing else
        // is written.
        const church = calledNumber ? await parkedChurchByNumber(pool, calledNumber) : undefined;
        if (church) {
          message = parkedLineMessage(church.name);
          await recordFallbackAnswer(pool, {
            calledNumber,
            callerNumber: params.get('From') ?? '',
            callSid: params.get('CallSid') ?? undefined,
          });
        }
      } catch (error) {
        // The caller still hears the message when the registry is down; only the record is lost.
        request.log.error({ err: error }, 'fallback answer not recorded: registry unreachable');
      }
      return reply.status(200).header('content-type', 'application/xml; charset=utf-8').send(fallbackTexml(message));
    };
    voiceScope.post('/voice/fallback', texml);
    voiceScope.get('/voice/fallback', texml);
  });

  // The pastor's self-service pages, in their own scope (form bodies, cookies, CSRF and HTML errors stay there).
  const selfService = config.selfService;
  if (selfService) {
    const stripe = config.stripeSecretKey
      ? stripeClient(config.stripeSecretKey, { baseUrl: selfService.stripeBaseUrl })
      : undefined;
    app.register(pastorPages, {
      pool,
      linkSecret: selfService.linkSecret,
      publicBaseUrl: selfService.publicBaseUrl,
      voicePriceId: selfService.voicePriceId,
      telnyx: deps.telnyx ?? (() => telnyxClientFromSettings()),
      stripe: () => stripe,
      now: deps.now,
    });
  }

  // The founder console, in its own scope too (its own cookies and CSRF; HTML errors).
  if (deps.console) {
    app.register(founderConsole, {
      pool,
      adminToken: config.adminToken,
      actions: deps.console,
      now: deps.now,
      secureCookies: (config.publicBaseUrl ?? '').startsWith('https:'),
    });
  }

  app.get('/health', async (request, reply) => {
    try {
      await pool.query('select 1');
      return reply.send({ status: 'ok', database: 'ok' });
    } catch (error) {
      request.log.error({ err: error }, 'health check: registry database unreachable');
      return reply.status(503).send({ status: 'unavailable', database: 'unreachable' });
    }
  });

  app.get<{ Params: { id: string } }>('/churches/:id/status', async (request, reply) => {
    requireAdmin(request, reply, config.adminToken);
    const failure = checkChurchId('id', request.params.id);
    if (failure) throw new HttpError(400, failure.reason, 'id');
    const status = await churchStatus(pool, request.params.id);
    if (!status) throw new HttpError(404, `church ${request.params.id} is not in the registry`);
    return reply.send(status);
  });

  return app;
}
