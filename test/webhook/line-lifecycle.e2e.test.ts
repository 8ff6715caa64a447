/**
 * The life of a line on the real engine, LiveKit and PostgreSQL, with the service in this process and its clock in
 * the test's hands: purchase -> cancelled (events late and twice) -> parked -> resubscribed within the quarantine
 * (the same number, no order) -> cancelled again -> quarantine over (a reminder, nothing released) -> decommissioned
 * (released once); and a payment that is never recovered, parked when its grace period runs out.
 *
 * Parked: the number moves onto the fallback TeXML application, whose voice_url is this service's /voice/fallback;
 * the church's trunk and dispatch rule are gone from LiveKit; the row says parked; the test ring passed because the
 * stand-in's call to the number was answered by /voice/fallback with the "no longer active" message.
 */
import { SipClient } from 'livekit-server-sdk';
import { SANDBOX_LIVEKIT } from '../../sandbox/livekit';
import { ensureFallbackTexmlApplication } from '../../sandbox/lines-in-service';
import type { MailpitConnection } from '../../sandbox/mailpit';
import { getChurch } from '../../registry/churches';
import { churchTimeline } from '../../registry/timeline';
import { PRODUCTION_FQDN_CONNECTION_ID } from '../../vendors/vendor-settings';
import { newVoiceStack, type VoiceStackFixture } from '../support/voice-stack';
import { VOICE_PRODUCT_ID, invoicePaidEvent } from '../support/stripe-events';
import {
  ENGINE_WAIT_MS,
  ensureMailpit,
  founderMails,
  runCli,
  stackUpdates,
  startInProcessService,
  stateFile,
  subscriptionEvent,
  uniqueId,
  type InProcessService,
} from '../support/service';

const sip = new SipClient(SANDBOX_LIVEKIT.url, SANDBOX_LIVEKIT.apiKey, SANDBOX_LIVEKIT.apiSecret);
/** The dev stack's fallbackTexmlAppId (Pulumi.dev.yaml), which the fixture's config copies. */
const FALLBACK_APP_ID = '2925216093662351414';
const DAY_MS = 24 * 3600_000;

let mailpit: MailpitConnection;
let stack: VoiceStackFixture;
let svc: InProcessService;
/** The service's clock: the real one plus what the test moves it by. */
let clockOffsetMs = 0;

beforeAll(async () => {
  mailpit = await ensureMailpit();
  stack = await newVoiceStack('e2e-lifecycle', { testRings: true });
  svc = await startInProcessService(stack, mailpit, {}, { now: () => new Date(Date.now() + clockOffsetMs) });
  // The company's fallback TeXML application, answered by this service.
  expect(
    await ensureFallbackTexmlApplication(
      { url: stack.telnyx.url, apiKey: stack.telnyx.apiKey },
      FALLBACK_APP_ID,
      `${svc.base}/voice/fallback`,
    ),
  ).toBe('created');
});

afterAll(async () => {
  await svc?.close();
  await stack?.close();
});

const releases = () => stack.telnyx.countRequests('DELETE', '/phone_numbers');
const orders = () => stack.telnyx.state.numberOrders.size;
const numberRecord = (phoneNumber: string) =>
  [...stack.telnyx.state.phoneNumbers.values()].find((n) => n.phone_number === phoneNumber);

/** What a caller, LiveKit and Supabase see of a church's line. */
async function lineAsSeen(churchId: string, line: { phoneNumber: string; trunkId?: string; dispatchRuleId?: string }) {
  const number = numberRecord(line.phoneNumber);
  const trunks = line.trunkId ? await sip.listSipInboundTrunk({ trunkIds: [line.trunkId] } as never) : [];
  const rules = line.dispatchRuleId
    ? await sip.listSipDispatchRule({ dispatchRuleIds: [line.dispatchRuleId] } as never)
    : [];
  const { rows } = await stack.db.pool.query(
    'select status, livekit_trunk_id, twilio_phone_number from church_voice_agents where church_id = $1',
    [churchId],
  );
  return {
    number: number && { status: number.status, connection: number.connection_id, reference: number.customer_reference },
    trunks: trunks.map((t) => t.sipTrunkId),
    rules: rules.map((r) => r.sipDispatchRuleId),
    rows,
  };
}

/** What the last call to `phoneNumber` heard, from the stand-in's record of the TeXML it was answered with. */
function lastCallHeard(phoneNumber: string): string[] | undefined {
  const calls = [...stack.telnyx.state.calls.values()].filter((c) => c.to === phoneNumber);
  return calls[calls.length - 1]?.texml?.say;
}

async function settled(churchId: string) {
  await svc.service.worker.whenIdle();
  return (await svc.status(churchId)).json();
}

test(
  'purchase -> cancelled -> parked -> resubscribed (same number, 0 orders) -> cancelled -> quarantine over -> ' +
    'decommissioned (released once)',
  async () => {
    const churchId = uniqueId('parking').toLowerCase();
    const neighbourId = uniqueId('staying').toLowerCase();
    const firstSubscription = uniqueId('sub');
    const t0 = Math.floor(Date.now() / 1000) - 3600;
    const churchName = 'Parking Lot Chapel';
    await svc.deliver(
      subscriptionEvent({ subscriptionId: firstSubscription, churchId, areaCode: '216', churchName, created: t0 }),
    );
    await svc.deliver(
      subscriptionEvent({ subscriptionId: uniqueId('sub'), churchId: neighbourId, areaCode: '216', created: t0 }),
    );
    const live = await settled(churchId);
    expect(live).toMatchObject({ state: 'live', churchStatus: 'active', lastRing: { ok: true } });
    const neighbour = (await svc.status(neighbourId)).json();
    expect(orders()).toBe(2);

    // Cancelled: Stripe sends the deletion twice, and a late "active" update of the same subscription after it.
    const cancellation = subscriptionEvent({
      type: 'customer.subscription.deleted',
      subscriptionId: firstSubscription,
      churchId,
      status: 'canceled',
      created: t0 + 60,
    });
    expect((await svc.deliver(cancellation)).json()).toMatchObject({ outcome: 'cancelled', churchId });
    expect((await svc.deliver(cancellation)).json()).toMatchObject({ outcome: 'duplicate' });
    const late = subscriptionEvent({ subscriptionId: firstSubscription, churchId, areaCode: '216', created: t0 + 30 });
    expect((await svc.deliver(late)).json()).toMatchObject({ outcome: 'unchanged' });

    const parked = await settled(churchId);
    expect(parked).toMatchObject({
      churchStatus: 'parked',
      state: 'live',
      phoneNumber: live.phoneNumber,
      trunkId: null,
      lastRing: { ok: true },
    });
    const quarantineUntil = new Date(parked.quarantineUntil).getTime();
    expect(quarantineUntil).toBe((t0 + 60) * 1000 + 30 * DAY_MS);
    expect(await lineAsSeen(churchId, live)).toEqual({
      number: { status: 'active', connection: FALLBACK_APP_ID, reference: churchId },
      trunks: [],
      rules: [],
      rows: [{ status: 'parked', livekit_trunk_id: null, twilio_phone_number: live.phoneNumber }],
    });
    // The parked ring's call was answered by /voice/fallback with the message for this church's callers.
    expect(lastCallHeard(live.phoneNumber)).toEqual([expect.stringContaining(`${churchName} is no longer active`)]);
    expect(releases()).toBe(0);
    const updates = (await stackUpdates(stack)).map((u) => u.message);
    expect(updates.filter((m) => m.includes(`park: stripe customer.subscription.deleted`))).toHaveLength(2);
    // The stack holds what the program declares: a preview finds nothing to do.
    expect((await stack.cli(['preview', '--expect-no-changes'])).code).toBe(0);
    const [parkedMail, ...moreMails] = await founderMails(stack.db, svc.config, churchId);
    expect(moreMails).toEqual([]);
    expect(parkedMail.Subject).toContain('cancelled: line parked, number kept');
    expect(parkedMail.Text).toContain('the same number comes back');

    // Undo within the quarantine: a new checkout for the same church brings the same number back, nothing ordered.
    const secondSubscription = uniqueId('sub');
    await svc.deliver(
      subscriptionEvent({
        subscriptionId: secondSubscription,
        churchId,
        areaCode: '216',
        churchName,
        created: t0 + 120,
      }),
    );
    const back = await settled(churchId);
    expect(back).toMatchObject({
      churchStatus: 'active',
      state: 'live',
      phoneNumber: live.phoneNumber,
      quarantineUntil: null,
      lastRing: { ok: true },
    });
    expect(back.trunkId).not.toBe(live.trunkId);
    expect(back.dispatchRuleId).not.toBe(live.dispatchRuleId);
    expect(orders()).toBe(2);
    expect(await lineAsSeen(churchId, back)).toEqual({
      number: { status: 'active', connection: PRODUCTION_FQDN_CONNECTION_ID, reference: churchId },
      trunks: [back.trunkId],
      rules: [back.dispatchRuleId],
      rows: [{ status: 'active', livekit_trunk_id: back.trunkId, twilio_phone_number: live.phoneNumber }],
    });

    // Cancelled again; then the quarantine runs out: the founder is reminded once, and nothing is released.
    await svc.deliver(
      subscriptionEvent({
        type: 'customer.subscription.deleted',
        subscriptionId: secondSubscription,
        churchId,
        status: 'canceled',
        created: t0 + 180,
      }),
    );
    const parkedAgain = await settled(churchId);
    expect(parkedAgain).toMatchObject({ churchStatus: 'parked', phoneNumber: live.phoneNumber, trunkId: null });
    clockOffsetMs = new Date(parkedAgain.quarantineUntil).getTime() - Date.now() + 60_000;
    expect(await svc.service.worker.sweepClock()).toEqual({ parking: [], reminded: [churchId] });
    expect(await svc.service.worker.sweepClock()).toEqual({ parking: [], reminded: [] });
    const reminders = (await founderMails(stack.db, svc.config, churchId)).filter((m) =>
      m.Subject.includes('quarantine over, number still owned'),
    );
    expect(reminders).toHaveLength(1);
    expect(reminders[0].Text).toContain(`churchwise church decommission --church ${churchId}`);
    await svc.service.worker.whenIdle();
    expect(releases()).toBe(0);
    expect(numberRecord(live.phoneNumber)).toMatchObject({ status: 'active', connection_id: FALLBACK_APP_ID });

    // The founder decommissions the parked line: released once, and nothing of it is made again on the way out.
    const updatesBefore = (await stackUpdates(stack)).length;
    const cli = await runCli(stack, svc.config, ['decommission', '--church', churchId]);
    expect({ code: cli.code, stderr: cli.code ? cli.stderr : '' }).toEqual({ code: 0, stderr: '' });
    expect((await stackUpdates(stack)).length - updatesBefore).toBe(2);
    expect(await getChurch(stack.db.pool, churchId)).toMatchObject({ status: 'decommissioned' });
    expect(releases()).toBe(1);
    expect(orders()).toBe(2);
    expect(await lineAsSeen(churchId, live)).toMatchObject({ number: { status: 'deleted' }, rows: [] });
    expect(stateFile(stack).urns.filter((urn) => urn.includes(`church-${churchId}`))).toEqual([]);

    // Every transition is in the timeline, in order, with what caused it.
    const kinds = (await churchTimeline(stack.db.pool, churchId)).map((e) => `${e.kind}:${e.actor}`);
    expect(kinds).toEqual([
      'purchase:stripe',
      'cancelled:stripe',
      'superseded:stripe',
      'parked:service',
      'reactivated:stripe',
      'cancelled:stripe',
      'parked:service',
      'quarantine-over:service',
      'decommission-requested:founder',
      'decommissioned:founder',
    ]);

    // The neighbour in the same area code was never touched.
    expect(await lineAsSeen(neighbourId, neighbour)).toMatchObject({
      number: { status: 'active', connection: PRODUCTION_FQDN_CONNECTION_ID },
      trunks: [neighbour.trunkId],
      rules: [neighbour.dispatchRuleId],
    });
  },
  2 * ENGINE_WAIT_MS,
);

test(
  'a payment never recovered: the line keeps working through the grace period, then is parked by the clock',
  async () => {
    clockOffsetMs = 0;
    const churchId = uniqueId('unpaid').toLowerCase();
    const subscriptionId = uniqueId('sub');
    const t0 = Math.floor(Date.now() / 1000) - 600;
    await svc.deliver(subscriptionEvent({ subscriptionId, churchId, areaCode: '330', created: t0 }));
    const live = await settled(churchId);
    expect(live).toMatchObject({ state: 'live', lastRing: { ok: true } });

    await svc.deliver(
      invoicePaidEvent({
        type: 'invoice.payment_failed',
        subscriptionId,
        metadata: { church_id: churchId, area_code: '330' },
        productId: VOICE_PRODUCT_ID,
        created: t0 + 60,
      }),
    );
    const pastDue = await settled(churchId);
    expect(pastDue).toMatchObject({ churchStatus: 'past_due', state: 'live', trunkId: live.trunkId });
    expect(await svc.service.worker.sweepClock()).toEqual({ parking: [], reminded: [] });

    clockOffsetMs = new Date(pastDue.graceUntil).getTime() - Date.now() + 1000;
    expect(await svc.service.worker.sweepClock()).toEqual({ parking: [churchId], reminded: [] });
    const parked = await settled(churchId);
    expect(parked).toMatchObject({ churchStatus: 'parked', phoneNumber: live.phoneNumber, lastRing: { ok: true } });
    expect(await lineAsSeen(churchId, live)).toMatchObject({
      number: { status: 'active', connection: FALLBACK_APP_ID },
      trunks: [],
      rules: [],
    });
    const subjects = (await founderMails(stack.db, svc.config, churchId)).map((m) => m.Subject);
    expect(subjects.filter((s) => s.includes('grace period over, line parked'))).toHaveLength(1);
    expect((await churchTimeline(stack.db.pool, churchId)).map((e) => e.kind)).toContain('grace-expired');
    expect(releases()).toBe(1); // the first test's decommission, and nothing since
  },
  2 * ENGINE_WAIT_MS,
);
