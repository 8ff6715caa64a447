/**
 * Shared pieces of the webhook tests: a service configuration on the sandbox peers (a test database, mailpit),
 * Stripe events signed the way Stripe signs them, a log collector, row counts, and the stack-runner double the
 * worker tests inject (the real engine runs in the end-to-end tests).
 */
import { randomBytes } from 'crypto';
import type { Pool } from 'pg';
import Stripe from 'stripe';
import { listChurches } from '../../registry/churches';
import { createLogger } from '../../common/logger';
import { createTestDatabase, type TestDatabase } from '../../sandbox/postgres';
import { ensureMailpit, type MailpitConnection } from '../../sandbox/mailpit';
import { smtpFounderMailer } from '../../vendors/smtp-client';
import { buildServer } from '../../webhook/server';
import { FounderNotifier } from '../../worker/founder-mail';
import type { StackRunResult, StackRunner } from '../../stacks/provisioning-run';
import { DEFAULT_FALLBACK_MESSAGE, secretValues, type ServiceConfig } from '../../webhook/config';

export const VOICE_LOOKUP_KEY = 'voice_monthly';
export const VOICE_PRODUCT_ID = 'prod_VoiceAnnual';

/** Secrets are random per test file, so a leak is found by grepping for the exact value. */
export function testConfig(
  db: TestDatabase,
  mailpit: MailpitConnection,
  overrides: Partial<ServiceConfig> = {},
): ServiceConfig {
  const smtpPassword = `smtp-pw-${randomBytes(12).toString('hex')}`;
  const smtp = new URL(mailpit.smtpUrl);
  smtp.username = 'provisioning-bot';
  smtp.password = smtpPassword;
  const founderEmail = `founder+${randomBytes(6).toString('hex')}@churchwise.test`;
  return {
    databaseUrl: db.url,
    stripeWebhookSecret: `whsec_${randomBytes(24).toString('hex')}`,
    stripeSecretKey: `sk_test_${randomBytes(24).toString('hex')}`,
    adminToken: randomBytes(32).toString('hex'),
    smtpUrl: smtp.toString(),
    founderEmail,
    mailFrom: `ChurchWise provisioning <${founderEmail}>`,
    voicePlans: { lookupKeys: [VOICE_LOOKUP_KEY], productIds: [VOICE_PRODUCT_ID] },
    host: '127.0.0.1',
    port: 0,
    stackName: 'webhook-test',
    retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 5 },
    gracePeriodDays: 14,
    quarantineDays: 30,
    fallbackMessage: DEFAULT_FALLBACK_MESSAGE,
    logLevel: 'info',
    ...overrides,
  };
}

/** Every secret of a config, as the leak check greps for them. */
export function configSecrets(config: ServiceConfig): string[] {
  return [
    config.stripeWebhookSecret,
    config.stripeSecretKey as string,
    config.adminToken,
    new URL(config.smtpUrl).password,
  ];
}

export class LogCollector {
  readonly lines: string[] = [];
  write(line: string): void {
    this.lines.push(line);
  }
  get text(): string {
    return this.lines.join('');
  }
  /** Parsed log records whose msg matches. */
  records(msg: string | RegExp): Array<Record<string, unknown>> {
    return this.lines
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((r) => (typeof msg === 'string' ? r.msg === msg : msg.test(String(r.msg))));
  }
}

export function signedDelivery(
  event: unknown,
  secret: string,
  timestamp?: number,
): { payload: string; headers: Record<string, string> } {
  const payload = typeof event === 'string' ? event : JSON.stringify(event);
  const signature = Stripe.webhooks.generateTestHeaderString({ payload, secret, timestamp });
  return { payload, headers: { 'content-type': 'application/json', 'stripe-signature': signature } };
}

let sequence = 0;
export const uniqueId = (prefix: string) =>
  `${prefix}_${Date.now().toString(36)}${(sequence++).toString(36)}${randomBytes(3).toString('hex')}`;

interface SubscriptionEventOptions {
  type?: 'customer.subscription.created' | 'customer.subscription.updated' | 'customer.subscription.deleted';
  eventId?: string;
  subscriptionId: string;
  churchId?: string;
  areaCode?: string;
  churchName?: string;
  status?: string;
  lookupKey?: string | null;
  productId?: string;
  metadata?: Record<string, string>;
  /** When Stripe created the event (Unix seconds); default now. A late delivery of an old event is an earlier one. */
  created?: number;
}

/** A customer.subscription.* event shaped as Stripe sends it (only the fields the service reads matter). */
export function subscriptionEvent(o: SubscriptionEventOptions) {
  const metadata: Record<string, string> = { ...o.metadata };
  if (o.churchId !== undefined) metadata.church_id = o.churchId;
  if (o.areaCode !== undefined) metadata.area_code = o.areaCode;
  if (o.churchName !== undefined) metadata.church_name = o.churchName;
  return {
    id: o.eventId ?? uniqueId('evt'),
    object: 'event',
    type: o.type ?? 'customer.subscription.created',
    api_version: '2026-10-28.endive',
    created: o.created ?? Math.floor(Date.now() / 1000),
    data: {
      object: {
        id: o.subscriptionId,
        object: 'subscription',
        customer: 'cus_' + o.subscriptionId.slice(4),
        status: o.status ?? 'active',
        metadata,
        items: {
          object: 'list',
          data: [
            {
              id: 'si_' + o.subscriptionId.slice(4),
              object: 'subscription_item',
              price: {
                id: 'price_' + (o.lookupKey ?? 'other'),
                object: 'price',
                lookup_key: o.lookupKey === undefined ? VOICE_LOOKUP_KEY : o.lookupKey,
                product: o.productId ?? 'prod_Other',
                metadata: {},
              },
            },
          ],
        },
      },
    },
  };
}

export function checkoutCompletedEvent(o: {
  eventId?: string;
  clientReferenceId?: string;
  metadata: Record<string, string>;
  subscriptionId: string;
  paymentStatus?: string;
}) {
  return {
    id: o.eventId ?? uniqueId('evt'),
    object: 'event',
    type: 'checkout.session.completed',
    data: {
      object: {
        id: uniqueId('cs'),
        object: 'checkout.session',
        mode: 'subscription',
        client_reference_id: o.clientReferenceId ?? null,
        customer: 'cus_checkout',
        subscription: o.subscriptionId,
        payment_status: o.paymentStatus ?? 'paid',
        metadata: o.metadata,
      },
    },
  };
}

/** invoice.paid in the current API shape: subscription facts under parent.subscription_details. */
export function invoicePaidEvent(o: {
  eventId?: string;
  subscriptionId: string;
  metadata: Record<string, string>;
  productId: string;
  /** invoice.paid (default) or invoice.payment_failed, of the same shape. */
  type?: 'invoice.paid' | 'invoice.payment_failed';
  /** When Stripe created the event (Unix seconds); default now. */
  created?: number;
}) {
  return {
    id: o.eventId ?? uniqueId('evt'),
    object: 'event',
    type: o.type ?? 'invoice.paid',
    created: o.created ?? Math.floor(Date.now() / 1000),
    data: {
      object: {
        id: uniqueId('in'),
        object: 'invoice',
        customer: 'cus_invoice',
        metadata: {},
        parent: {
          type: 'subscription_details',
          subscription_details: { subscription: o.subscriptionId, metadata: o.metadata },
        },
        lines: {
          object: 'list',
          data: [
            {
              id: uniqueId('il'),
              pricing: { type: 'price_details', price_details: { price: 'price_x', product: o.productId } },
            },
          ],
        },
      },
    },
  };
}

export async function rowCounts(pool: Pool): Promise<Record<string, number>> {
  const { rows } = await pool.query<Record<string, string>>(
    `select (select count(*) from churches) as churches, (select count(*) from stripe_events) as stripe_events,
            (select count(*) from provisioning_jobs) as provisioning_jobs, (select count(*) from founder_notifications) as founder_notifications`,
  );
  return Object.fromEntries(Object.entries(rows[0]).map(([k, v]) => [k, Number(v)]));
}

export type RunBehaviour = (call: {
  run: number;
  churches: Array<{ churchId: string; areaCode: string | null }>;
}) => Promise<StackRunResult> | StackRunResult;

/**
 * The StackRunner double for worker tests. Like the real runner, one run covers every church in the registry:
 * it reads the registry and, by default, reports a complete line (number, trunk, rule, good ring) for each.
 */
export class RegistryStackRunnerDouble implements StackRunner {
  runs = 0;
  readonly reasons: string[] = [];
  behaviour: RunBehaviour = ({ churches }) => ({ ok: true, churches: churches.map(completeLine) });
  /** Lines the double writes to onOutput during each run, like the engine's progress output. */
  output: string[] = ['Updating (webhook-test):', 'Resources: 0 changed'];

  constructor(private readonly pool: Pool) {}

  async provision(opts: { reason: string; onOutput?: (line: string) => void }): Promise<StackRunResult> {
    this.runs += 1;
    this.reasons.push(opts.reason);
    for (const line of this.output) opts.onOutput?.(`${line}\n`);
    const churches = (await listChurches(this.pool)).map((c) => ({ churchId: c.churchId, areaCode: c.areaCode }));
    return this.behaviour({ run: this.runs, churches });
  }
}

export function completeLine(church: {
  churchId: string;
  areaCode: string | null;
}): StackRunResult['churches'][number] {
  let hash = 0;
  for (const c of church.churchId) hash = (hash * 31 + c.charCodeAt(0)) % 10000000;
  return {
    churchId: church.churchId,
    phoneNumber: `+1${church.areaCode ?? '414'}${String(hash).padStart(7, '0').replace(/^555/, '556')}`,
    trunkId: `ST_${church.churchId}`,
    dispatchRuleId: `SDR_${church.churchId}`,
    ring: { ok: true, at: new Date().toISOString() },
  };
}

/** A promise the test resolves by hand: holds a run open while the burst arrives. */
export function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

export interface HttpResponse {
  statusCode: number;
  headers: Headers;
  body: string;
  json(): any;
}

/**
 * Real HTTP to a listening server: the routes are exercised through the real socket, parser and headers a Stripe
 * delivery or the founder's CLI goes through. Returns a request function bound to the server's address.
 */
export async function listen(app: { listen(o: { host: string; port: number }): Promise<string> }) {
  const base = await app.listen({ host: '127.0.0.1', port: 0 });
  return async function request(o: {
    method: string;
    url: string;
    payload?: string;
    headers?: Record<string, string>;
  }): Promise<HttpResponse> {
    const response = await fetch(`${base}${o.url}`, { method: o.method, headers: o.headers, body: o.payload });
    const body = await response.text();
    return { statusCode: response.status, headers: response.headers, body, json: () => JSON.parse(body) };
  };
}

/**
 * The webhook service in this process, listening on a real socket: its own test database, mailpit for the founder's
 * mail, the log collected, and the worker's wake-ups counted (no engine runs here). What the webhook tests share.
 */
export async function listeningWebhook(databasePrefix: string, overrides: Partial<ServiceConfig> = {}) {
  const mailpit = await ensureMailpit();
  const db = await createTestDatabase(databasePrefix);
  const config = testConfig(db, mailpit, overrides);
  const logs = new LogCollector();
  const logger = createLogger({ secrets: secretValues(config), destination: logs });
  const notifier = new FounderNotifier(
    db.pool,
    smtpFounderMailer({ smtpUrl: config.smtpUrl, from: config.mailFrom, to: config.founderEmail }),
    logger,
  );
  let jobWakeUps = 0;
  const app = buildServer({
    config,
    pool: db.pool,
    logger,
    onJobQueued: () => (jobWakeUps += 1),
    onFounderNotification: () => notifier.wake(),
  });
  const request = await listen(app);
  return {
    db,
    mailpit,
    config,
    logs,
    notifier,
    request,
    jobWakeUps: () => jobWakeUps,
    /** A Stripe delivery of `event`, signed with the endpoint's secret (or `secret`) at `timestamp`. */
    deliver(event: unknown, options: { timestamp?: number; secret?: string } = {}) {
      const { payload, headers } = signedDelivery(
        event,
        options.secret ?? config.stripeWebhookSecret,
        options.timestamp,
      );
      return request({ method: 'POST', url: '/stripe/webhook', payload, headers });
    },
    async close() {
      await app.close();
      await notifier.stop();
      await db.drop();
    },
  };
}
