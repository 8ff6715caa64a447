/**
 * POST /stripe/webhook over real HTTP (a listening fastify server) against a real PostgreSQL registry and the real mailpit
 * SMTP sink: what is refused (and writes nothing), what is deduplicated, what is ignored, what is queued, and what
 * the founder is told.
 */
import { secretScrubber } from '../../common/logger';
import { getMessage, messagesTo } from '../../sandbox/mailpit';
import { getChurch, listJobs } from '../../registry';
import { getStripeEvent } from '../../registry/stripe-events';
import type { TestDatabase } from '../../sandbox/postgres';
import type { ServiceConfig } from '../../webhook/config';
import { FounderNotifier } from '../../worker/founder-mail';
import {
  LogCollector,
  VOICE_PRODUCT_ID,
  checkoutCompletedEvent,
  configSecrets,
  invoicePaidEvent,
  listen,
  rowCounts,
  signedDelivery,
  subscriptionEvent,
  listeningWebhook,
  uniqueId,
} from '../support/stripe-events';

let db: TestDatabase;
let config: ServiceConfig;
let request: Awaited<ReturnType<typeof listen>>;
let notifier: FounderNotifier;
let logs: LogCollector;
let webhook: Awaited<ReturnType<typeof listeningWebhook>>;
const jobWakeUps = () => webhook.jobWakeUps();

beforeAll(async () => {
  webhook = await listeningWebhook('webhook_stripe');
  ({ db, config, request, notifier, logs } = webhook);
});

afterAll(async () => {
  await webhook?.close();
});

function deliver(event: unknown, options: { timestamp?: number; secret?: string } = {}) {
  return webhook.deliver(event, options);
}

describe('refused deliveries write nothing', () => {
  const voiceEvent = () =>
    subscriptionEvent({ subscriptionId: uniqueId('sub'), churchId: uniqueId('church'), areaCode: '414' });

  it.each([
    [
      'a forged signature (signed with another secret)',
      () => deliver(voiceEvent(), { secret: 'whsec_not_the_endpoint_secret' }),
      /signature verification failed/,
    ],
    [
      'an expired timestamp (signed 10 minutes ago)',
      () => deliver(voiceEvent(), { timestamp: Math.floor(Date.now() / 1000) - 600 }),
      /tolerance/i,
    ],
    [
      'no Stripe-Signature header',
      () =>
        request({
          method: 'POST',
          url: '/stripe/webhook',
          payload: JSON.stringify(voiceEvent()),
          headers: { 'content-type': 'application/json' },
        }),
      /missing Stripe-Signature/,
    ],
    ['malformed JSON, correctly signed', () => deliver('{"id": "evt_1", "type": '), /not a JSON Stripe event/],
    ['signed JSON that is not an event', () => deliver({ hello: 'world' }), /id, type and data.object are required/],
  ])('%s: 400', async (_name, send, message) => {
    const before = await rowCounts(db.pool);
    const response = await send();
    expect(response.statusCode).toBe(400);
    expect(response.json().error).toMatch(message);
    expect(await rowCounts(db.pool)).toEqual(before);
  });

  it('a huge body: 413', async () => {
    const before = await rowCounts(db.pool);
    const event = voiceEvent();
    (event.data.object.metadata as Record<string, string>).padding = 'x'.repeat(2 * 1024 * 1024);
    const response = await deliver(event);
    expect(response.statusCode).toBe(413);
    expect(await rowCounts(db.pool)).toEqual(before);
  });

  it.each(['text/plain', 'application/x-www-form-urlencoded'])('content type %s: 415', async (contentType) => {
    const before = await rowCounts(db.pool);
    const { payload, headers } = signedDelivery(voiceEvent(), config.stripeWebhookSecret);
    const response = await request({
      method: 'POST',
      url: '/stripe/webhook',
      payload,
      headers: { ...headers, 'content-type': contentType },
    });
    expect(response.statusCode).toBe(415);
    expect(await rowCounts(db.pool)).toEqual(before);
  });
});

describe('voice-plan purchases', () => {
  it('the same event 5 times and a second event for the same subscription: one church, one open job', async () => {
    const churchId = uniqueId('grace');
    const subscriptionId = uniqueId('sub');
    const created = subscriptionEvent({ subscriptionId, churchId, areaCode: '414', churchName: 'Grace Chapel' });
    const responses = [];
    for (let i = 0; i < 5; i++) responses.push(await deliver(created));
    expect(responses.map((r) => r.statusCode)).toEqual([200, 200, 200, 200, 200]);
    expect(responses.map((r) => r.json().outcome)).toEqual([
      'queued',
      'duplicate',
      'duplicate',
      'duplicate',
      'duplicate',
    ]);
    const updated = subscriptionEvent({
      type: 'customer.subscription.updated',
      subscriptionId,
      churchId,
      areaCode: '414',
      churchName: 'Grace Chapel',
    });
    const second = await deliver(updated);
    expect(second.statusCode).toBe(200);

    const church = await getChurch(db.pool, churchId);
    expect(church).toMatchObject({
      churchId,
      name: 'Grace Chapel',
      areaCode: '414',
      plan: 'voice_monthly',
      status: 'active',
      stripeSubscriptionId: subscriptionId,
    });
    const jobs = await listJobs(db.pool, { churchId });
    expect(jobs).toHaveLength(1);
    expect(jobs[0]).toMatchObject({ state: 'queued', reason: `stripe customer.subscription.created ${created.id}` });
    expect(await getStripeEvent(db.pool, created.id)).toMatchObject({ outcome: 'queued', churchId });
    expect(await getStripeEvent(db.pool, updated.id)).toMatchObject({ churchId });
  });

  it('checkout.session.completed: church id from client_reference_id, voice plan from metadata plan=voice*', async () => {
    const churchId = uniqueId('hope');
    const response = await deliver(
      checkoutCompletedEvent({
        clientReferenceId: churchId,
        subscriptionId: uniqueId('sub'),
        metadata: { plan: 'voice_annual', area_code: '747' },
      }),
    );
    expect(response.json()).toMatchObject({ outcome: 'queued', churchId });
    expect(await getChurch(db.pool, churchId)).toMatchObject({ areaCode: '747', plan: 'voice_annual' });
    expect(await listJobs(db.pool, { churchId })).toHaveLength(1);
  });

  it('invoice.paid for a church whose line is live and unchanged queues nothing; voice plan by product id', async () => {
    const churchId = uniqueId('live');
    const subscriptionId = uniqueId('sub');
    await deliver(
      subscriptionEvent({ subscriptionId, churchId, areaCode: '312', lookupKey: null, productId: VOICE_PRODUCT_ID }),
    );
    await db.pool.query(`update provisioning_jobs set state = 'succeeded' where church_id = $1`, [churchId]);
    const response = await deliver(
      invoicePaidEvent({
        subscriptionId,
        productId: VOICE_PRODUCT_ID,
        metadata: { church_id: churchId, area_code: '312' },
      }),
    );
    expect(response.json()).toMatchObject({ outcome: 'unchanged', churchId });
    expect(await listJobs(db.pool, { churchId })).toHaveLength(1);
  });

  it('a subscription that is not paid yet (incomplete) is acknowledged and not provisioned', async () => {
    const churchId = uniqueId('later');
    const response = await deliver(
      subscriptionEvent({ subscriptionId: uniqueId('sub'), churchId, areaCode: '414', status: 'incomplete' }),
    );
    expect(response.json()).toMatchObject({ outcome: 'ignored' });
    expect(await getChurch(db.pool, churchId)).toBeUndefined();
  });
});

describe('events that are not voice plans', () => {
  it('are acknowledged with 200 and ignored: no church, no job; the event id is recorded', async () => {
    const before = await rowCounts(db.pool);
    const event = subscriptionEvent({
      subscriptionId: uniqueId('sub'),
      churchId: uniqueId('web'),
      areaCode: '414',
      lookupKey: 'website_pro',
    });
    const response = await deliver(event);
    expect(response.statusCode).toBe(200);
    expect(response.json().outcome).toBe('ignored');
    const after = await rowCounts(db.pool);
    expect(after).toEqual({ ...before, stripe_events: before.stripe_events + 1 });
    const other = await deliver({
      id: uniqueId('evt'),
      object: 'event',
      type: 'charge.refunded',
      data: { object: { id: 'ch_1' } },
    });
    expect(other.json().outcome).toBe('ignored');
  });
});

describe('cancellation', () => {
  it("parks the church's line (one job), releases nothing, and tells the founder once", async () => {
    const churchId = uniqueId('bethel');
    const subscriptionId = uniqueId('sub');
    await deliver(subscriptionEvent({ subscriptionId, churchId, areaCode: '414', churchName: 'Bethel' }));
    const jobsBefore = await listJobs(db.pool, { churchId });
    const deleted = subscriptionEvent({
      type: 'customer.subscription.deleted',
      subscriptionId,
      churchId,
      status: 'canceled',
    });
    const response = await deliver(deleted);
    expect(response.json()).toMatchObject({ outcome: 'cancelled', churchId });
    // Replays of the same cancellation, and a late "active" update of the cancelled subscription: created before the
    // cancellation, delivered after it.
    await deliver(deleted);
    await deliver(
      subscriptionEvent({
        type: 'customer.subscription.updated',
        subscriptionId,
        churchId,
        areaCode: '414',
        created: deleted.created - 60,
      }),
    );
    await notifier.idle();

    expect(await getChurch(db.pool, churchId)).toMatchObject({
      status: 'parking',
      areaCode: '414',
      stripeSubscriptionId: subscriptionId,
      quarantineUntil: new Date((deleted.created + 30 * 24 * 3600) * 1000),
    });
    // Parking is a stack run: the purchase's job is still open here (no worker runs), so it carries the parking.
    expect(await listJobs(db.pool, { churchId })).toEqual(jobsBefore);

    const mails = (await messagesTo(config.founderEmail)).filter((m) => m.Subject.includes(churchId));
    expect(mails).toHaveLength(1);
    expect(mails[0].Subject).toMatch(/cancelled: line parked, number kept/);
    const mail = await getMessage(mails[0].ID);
    expect(mail.Text).toContain(subscriptionId);
    expect(mail.Text).toMatch(/The number itself is NOT released/);
  });
});

describe('voice purchases that cannot be provisioned automatically', () => {
  it('no church id: acknowledged, nothing added, the founder is told what is missing', async () => {
    const subscriptionId = uniqueId('sub');
    const before = await rowCounts(db.pool);
    const response = await deliver(subscriptionEvent({ subscriptionId, areaCode: '414' }));
    expect(response.statusCode).toBe(200);
    expect(response.json().outcome).toBe('founder-notified');
    await notifier.idle();
    const after = await rowCounts(db.pool);
    expect(after.churches).toBe(before.churches);
    expect(after.provisioning_jobs).toBe(before.provisioning_jobs);
    const mails = (await messagesTo(config.founderEmail)).filter((m) => m.Subject.includes('not provisioned'));
    const bodies = await Promise.all(mails.map((m) => getMessage(m.ID)));
    expect(bodies.filter((b) => b.Text.includes(subscriptionId))).toHaveLength(1);
  });

  it('a new church without an area code: the founder is told to provision it by hand', async () => {
    const churchId = uniqueId('noarea');
    const subscriptionId = uniqueId('sub');
    const response = await deliver(subscriptionEvent({ subscriptionId, churchId }));
    expect(response.json().outcome).toBe('founder-notified');
    await notifier.idle();
    expect(await getChurch(db.pool, churchId)).toBeUndefined();
    const mails = (await messagesTo(config.founderEmail)).filter((m) => m.Subject.includes('areaCode'));
    const bodies = await Promise.all(mails.map((m) => getMessage(m.ID)));
    const mine = bodies.filter((b) => b.Text.includes(churchId));
    expect(mine).toHaveLength(1);
    expect(mine[0].Text).toMatch(/admin\/provision-number/);
  });
});

describe('logs', () => {
  it('name what happened and contain no secret', async () => {
    expect(logs.records('stripe event handled').length).toBeGreaterThan(5);
    expect(logs.records('request refused').length).toBeGreaterThan(3);
    for (const secret of configSecrets(config)) expect(logs.text).not.toContain(secret);
    // The scrubber itself: a secret that reaches a log line by accident is replaced.
    expect(secretScrubber(configSecrets(config))(`engine said ${config.adminToken}`)).toBe('engine said [REDACTED]');
  });
});

it('a job was announced to the worker for each new job', () => {
  expect(jobWakeUps()).toBeGreaterThanOrEqual(3);
});
