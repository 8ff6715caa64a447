/**
 * The peers go away and come back while the service (webhook/main.ts, its own process) works: PostgreSQL is
 * restarted in the middle of a stack run, livekit-server is down when a purchase arrives, and the SMTP server is
 * down when a failure email is due. Nothing is lost: each church ends up live with one number order, and the email
 * is sent once the SMTP server is back. The sandbox's own daemons are stopped and started, as an outage would.
 */
import type { MailpitConnection } from '../../sandbox/mailpit';
import { ensureMailpit, messagesTo } from '../../sandbox/mailpit';
import { ensurePostgres, stopPostgres } from '../../sandbox/postgres';
import { ensureLivekitServer, LIVEKIT_DAEMONS, waitForSipAdminApi } from '../../sandbox/livekit';
import { stopDaemon } from '../../sandbox/processes';
import { listFounderNotifications } from '../../registry/founder-notifications';
import { newVoiceStack, type VoiceStackFixture } from '../support/voice-stack';
import { ENGINE_WAIT_MS, ServiceProcess, serviceConfig, subscriptionEvent, uniqueId } from '../support/service';

let mailpit: MailpitConnection;
let stack: VoiceStackFixture;
let service: ServiceProcess;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(async () => {
  mailpit = await ensureMailpit();
  stack = await newVoiceStack('e2e-outages', { testRings: false });
  // This test's own connections see the restart too: an idle one that breaks is expected, not a crash.
  stack.db.pool.on('error', () => undefined);
  const config = serviceConfig(stack, mailpit, { retry: { maxAttempts: 8, baseDelayMs: 1000, maxDelayMs: 2000 } });
  service = await ServiceProcess.start(stack, config, {
    PROVISION_MAX_ATTEMPTS: '8',
    PROVISION_RETRY_BASE_SECONDS: '1',
    PROVISION_RETRY_MAX_SECONDS: '2',
  });
});

afterAll(async () => {
  // Whatever happened, the sandbox is left running for the next test.
  await ensurePostgres();
  await ensureLivekitServer();
  await ensureMailpit();
  await service?.stop();
  await stack?.close();
});

const ordersFor = (churchId: string) =>
  [...stack.telnyx.state.numberOrders.values()].filter((o) => o.customer_reference === churchId);

test(
  'PostgreSQL restarted mid-run: the church goes live with one order',
  async () => {
    const churchId = uniqueId('pg-restart').toLowerCase();
    stack.telnyx.setLatency(1500);
    await service.deliver(subscriptionEvent({ subscriptionId: uniqueId('sub'), churchId, areaCode: '602' }));
    const deadline = Date.now() + ENGINE_WAIT_MS;
    while (ordersFor(churchId).length === 0 && Date.now() < deadline) await sleep(50);
    expect(ordersFor(churchId)).toHaveLength(1);
    await stopPostgres();
    await sleep(2000);
    await ensurePostgres();
    stack.telnyx.setLatency(0);
    expect(await service.waitForState(churchId, ['live', 'failed'])).toMatchObject({ state: 'live' });
    expect(ordersFor(churchId)).toHaveLength(1);
  },
  ENGINE_WAIT_MS * 2,
);

test(
  'livekit-server down when a purchase arrives: retried until it is back, then live with one order',
  async () => {
    const churchId = uniqueId('lk-outage').toLowerCase();
    await stopDaemon(LIVEKIT_DAEMONS.livekitServer);
    await service.deliver(subscriptionEvent({ subscriptionId: uniqueId('sub'), churchId, areaCode: '480' }));
    // At least one attempt meets the outage (the trunk step fails) before LiveKit is back.
    const deadline = Date.now() + ENGINE_WAIT_MS;
    for (;;) {
      const status = (await service.status(churchId)).json();
      if (status.attempts >= 1 && status.lastError) break;
      if (Date.now() > deadline) throw new Error(`no attempt met the outage: ${JSON.stringify(status)}`);
      await sleep(200);
    }
    const settings = await ensureLivekitServer();
    await waitForSipAdminApi(settings, 30_000);
    expect(await service.waitForState(churchId, ['live', 'failed'])).toMatchObject({ state: 'live' });
    expect(ordersFor(churchId)).toHaveLength(1);
  },
  ENGINE_WAIT_MS * 2,
);

test(
  'SMTP down when a failure email is due: sent once it is back',
  async () => {
    const churchId = uniqueId('smtp-outage').toLowerCase();
    await stopDaemon('mailpit');
    // An exact number Telnyx does not offer: the job fails for good and the founder is to be emailed.
    await service.deliver(
      subscriptionEvent({
        subscriptionId: uniqueId('sub'),
        churchId,
        churchName: 'Unbuyable While SMTP Is Down',
        metadata: { requested_number: '+12129870000' },
      }),
    );
    expect(await service.waitForState(churchId, ['failed', 'live'])).toMatchObject({ state: 'failed' });
    await sleep(1500);
    const queued = await listFounderNotifications(stack.db.pool, { churchId });
    expect(queued.map((n) => n.sentAt)).toEqual([null]);
    await ensureMailpit();
    const deadline = Date.now() + 120_000;
    let sent = queued;
    while (sent.some((n) => n.sentAt === null) && Date.now() < deadline) {
      await sleep(500);
      sent = await listFounderNotifications(stack.db.pool, { churchId });
    }
    expect(sent).toHaveLength(1);
    expect(sent[0].sentAt).not.toBeNull();
    const mails = (await messagesTo(service.config.founderEmail)).filter((m) => m.Subject.includes(churchId));
    expect(mails).toHaveLength(1);
  },
  ENGINE_WAIT_MS * 2,
);
