/**
 * The subscription lifecycle through POST /stripe/webhook, with signed events delivered out of order and more than
 * once, as Stripe delivers them: a failed payment starts the grace period (the line keeps working, nothing runs,
 * the founder is told once), a recovered payment puts the church back with nothing touched, and an event older
 * than what the church has seen changes nothing. Every transition is in the church's timeline, which the status
 * route shows. Real PostgreSQL and mailpit; the service in this process.
 */
import { messagesTo } from '../../sandbox/mailpit';
import { getChurch, listJobs } from '../../registry';
import type { TestDatabase } from '../../sandbox/postgres';
import type { ServiceConfig } from '../../webhook/config';
import { FounderNotifier } from '../../worker/founder-mail';
import {
  VOICE_PRODUCT_ID,
  invoicePaidEvent,
  listen,
  subscriptionEvent,
  listeningWebhook,
  uniqueId,
} from '../support/stripe-events';

let db: TestDatabase;
let config: ServiceConfig;
let request: Awaited<ReturnType<typeof listen>>;
let notifier: FounderNotifier;
let webhook: Awaited<ReturnType<typeof listeningWebhook>>;

beforeAll(async () => {
  webhook = await listeningWebhook('webhook_lifecycle', { gracePeriodDays: 10 });
  ({ db, config, request, notifier } = webhook);
});

afterAll(async () => {
  await webhook?.close();
});

async function deliver(event: { id: string }): Promise<Record<string, unknown>> {
  const response = await webhook.deliver(event);
  expect(response.statusCode).toBe(200);
  return response.json();
}

async function status(churchId: string) {
  const response = await request({
    method: 'GET',
    url: `/churches/${churchId}/status`,
    headers: { authorization: `Bearer ${config.adminToken}` },
  });
  expect(response.statusCode).toBe(200);
  return response.json();
}

/** The line went live: what the worker records after a successful run (no engine runs in this test). */
async function lineWentLive(churchId: string): Promise<void> {
  // A line has a number: parking keeps it (a church that never got one has nothing to park).
  await db.pool.query(
    `update provisioning_jobs set state = 'succeeded', finished_at = now(), phone_number = '+16085550142'
      where church_id = $1`,
    [churchId],
  );
}

const minutes = (base: number, n: number) => base + n * 60;

test('purchase -> payment failed -> recovered, delivered out of order and twice', async () => {
  const churchId = uniqueId('grace').toLowerCase();
  const subscriptionId = uniqueId('sub');
  const metadata = { church_id: churchId, area_code: '414', church_name: 'Grace Lifecycle' };
  const t0 = Math.floor(Date.now() / 1000) - 3600;

  expect(
    await deliver(
      subscriptionEvent({ subscriptionId, churchId, areaCode: '414', churchName: 'Grace Lifecycle', created: t0 }),
    ),
  ).toMatchObject({
    outcome: 'queued',
  });
  await lineWentLive(churchId);
  const jobsWhenLive = await listJobs(db.pool, { churchId });

  // The payment fails at t0+10; Stripe also sent the subscription's past_due update (t0+9), which arrives later.
  const failed = invoicePaidEvent({
    type: 'invoice.payment_failed',
    subscriptionId,
    metadata,
    productId: VOICE_PRODUCT_ID,
    created: minutes(t0, 10),
  });
  expect(await deliver(failed)).toMatchObject({ outcome: 'past-due', churchId });
  expect(await deliver(failed)).toMatchObject({ outcome: 'duplicate' });
  const pastDue = subscriptionEvent({
    type: 'customer.subscription.updated',
    subscriptionId,
    churchId,
    status: 'past_due',
    created: minutes(t0, 9),
  });
  expect(await deliver(pastDue)).toMatchObject({ outcome: 'unchanged' });
  // Stripe retries the payment at t0+20: it fails again, nobody is told twice.
  const retried = invoicePaidEvent({
    type: 'invoice.payment_failed',
    subscriptionId,
    metadata,
    productId: VOICE_PRODUCT_ID,
    created: minutes(t0, 20),
  });
  expect(await deliver(retried)).toMatchObject({ outcome: 'unchanged' });

  const during = await getChurch(db.pool, churchId);
  expect(during).toMatchObject({ status: 'past_due', graceUntil: new Date((minutes(t0, 10) + 10 * 24 * 3600) * 1000) });
  // The line keeps working: no run was queued for any of it.
  expect(await listJobs(db.pool, { churchId })).toEqual(jobsWhenLive);

  // Paid at t0+30: back to normal with nothing touched; a past_due update of t0+25 delivered afterwards changes nothing.
  const paid = invoicePaidEvent({ subscriptionId, metadata, productId: VOICE_PRODUCT_ID, created: minutes(t0, 30) });
  expect(await deliver(paid)).toMatchObject({ outcome: 'unchanged', churchId });
  const latePastDue = subscriptionEvent({
    type: 'customer.subscription.updated',
    subscriptionId,
    churchId,
    status: 'past_due',
    created: minutes(t0, 25),
  });
  expect(await deliver(latePastDue)).toMatchObject({ outcome: 'unchanged' });

  expect(await getChurch(db.pool, churchId)).toMatchObject({ status: 'active', graceUntil: null });
  expect(await listJobs(db.pool, { churchId })).toEqual(jobsWhenLive);

  await notifier.idle();
  const mails = (await messagesTo(config.founderEmail)).filter((m) => m.Subject.includes(churchId));
  expect(mails.map((m) => m.Subject)).toEqual([
    expect.stringMatching(/payment failed, line kept until \d{4}-\d{2}-\d{2}/),
  ]);

  // The timeline says what happened, in the order it was recorded, each with its cause.
  const shown = await status(churchId);
  expect(shown).toMatchObject({ churchStatus: 'active', graceUntil: null });
  expect(shown.timeline.map((e: Record<string, unknown>) => [e.kind, e.fromStatus, e.toStatus, e.actor])).toEqual([
    ['purchase', null, 'active', 'stripe'],
    ['payment-trouble', 'active', 'past_due', 'stripe'],
    ['superseded', 'past_due', 'past_due', 'stripe'],
    ['unchanged', 'past_due', 'past_due', 'stripe'],
    ['payment-recovered', 'past_due', 'active', 'stripe'],
    ['superseded', 'active', 'active', 'stripe'],
  ]);
  expect(shown.timeline[1]).toMatchObject({
    cause: `invoice.payment_failed ${failed.id}`,
    occurredAt: new Date(minutes(t0, 10) * 1000).toISOString(),
  });
});

test('cancelled (parking), then the subscription active again: a newer event brings the church back, an older one does not', async () => {
  const churchId = uniqueId('bethany').toLowerCase();
  const subscriptionId = uniqueId('sub');
  const t0 = Math.floor(Date.now() / 1000) - 3600;
  await deliver(subscriptionEvent({ subscriptionId, churchId, areaCode: '608', churchName: 'Bethany', created: t0 }));
  await lineWentLive(churchId);
  const cancelled = subscriptionEvent({
    type: 'customer.subscription.deleted',
    subscriptionId,
    churchId,
    status: 'canceled',
    created: minutes(t0, 10),
  });
  expect(await deliver(cancelled)).toMatchObject({ outcome: 'cancelled' });

  // An "active" update from before the cancellation, delivered late.
  const old = subscriptionEvent({
    type: 'customer.subscription.updated',
    subscriptionId,
    churchId,
    created: minutes(t0, 5),
  });
  expect(await deliver(old)).toMatchObject({ outcome: 'unchanged' });
  expect(await getChurch(db.pool, churchId)).toMatchObject({ status: 'parking' });
  await lineWentLive(churchId); // the parking runs (no engine here)

  // Reactivated in Stripe after the cancellation.
  const again = subscriptionEvent({
    type: 'customer.subscription.updated',
    subscriptionId,
    churchId,
    created: minutes(t0, 20),
  });
  expect(await deliver(again)).toMatchObject({ outcome: 'queued', churchId });
  expect(await getChurch(db.pool, churchId)).toMatchObject({ status: 'active', parkedAt: null, quarantineUntil: null });
  expect((await status(churchId)).timeline.map((e: Record<string, unknown>) => e.kind)).toEqual([
    'purchase',
    'cancelled',
    'superseded',
    'reactivated',
  ]);
});

test('cancelled before its line ever got a number: parked at once, nothing queued, nothing to buy', async () => {
  const churchId = uniqueId('never-lined').toLowerCase();
  const subscriptionId = uniqueId('sub');
  const t0 = Math.floor(Date.now() / 1000) - 3600;
  await deliver(
    subscriptionEvent({ subscriptionId, churchId, areaCode: '608', churchName: 'Never Lined', created: t0 }),
  );
  // Its first run failed before a number was bought (no job open, no number on record).
  await db.pool.query(`update provisioning_jobs set state = 'failed', finished_at = now() where church_id = $1`, [
    churchId,
  ]);
  const cancelled = subscriptionEvent({
    type: 'customer.subscription.deleted',
    subscriptionId,
    churchId,
    status: 'canceled',
    created: minutes(t0, 10),
  });
  expect(await deliver(cancelled)).toMatchObject({ outcome: 'cancelled', churchId });
  expect(await getChurch(db.pool, churchId)).toMatchObject({ status: 'parked' });
  expect(await listJobs(db.pool, { churchId, states: ['queued', 'running'] })).toEqual([]);
});
