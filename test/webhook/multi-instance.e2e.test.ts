/**
 * Two service processes (webhook/main.ts) on one registry database and one stack, as a load balancer would run
 * them, under chaos: a burst of purchases (delivered to either instance, some twice), and 20 times a random
 * instance is killed with kill -9 (its whole process group) at a random moment and started again. The cross-process
 * run lock, the durable queue, the idempotent number create and the outbox's dedupe keys are what keep it safe; the
 * test counts what a founder would: 0 double orders, 0 releases, 0 stuck jobs, 0 processes left by dead instances,
 * and the one failure email (a church whose number cannot be bought) sent once.
 */
import { randomInt } from 'crypto';
import { messagesTo } from '../../sandbox/mailpit';
import type { MailpitConnection } from '../../sandbox/mailpit';
import { killProcesses, processesOfDeadHosts } from '../../engine/orphaned-processes';
import { listFounderNotifications } from '../../registry/founder-notifications';
import { newVoiceStack, type VoiceStackFixture } from '../support/voice-stack';
import {
  ENGINE_WAIT_MS,
  ServiceProcess,
  ensureMailpit,
  serviceConfig,
  subscriptionEvent,
  uniqueId,
} from '../support/service';

const KILLS = 20;

let mailpit: MailpitConnection;
let stack: VoiceStackFixture;
const started: ServiceProcess[] = [];

beforeAll(async () => {
  mailpit = await ensureMailpit();
  stack = await newVoiceStack('e2e-two-instances', { testRings: false });
});

afterAll(async () => {
  for (const service of started) await service.stop().catch(() => undefined);
  await killProcesses(leftBy(started).map((p) => p.pid));
  await stack?.close();
});

/** Processes still running that runs of these (dead) services started. */
function leftBy(services: ServiceProcess[]) {
  const hosts = new Set(services.map((s) => String(s.pid)));
  return processesOfDeadHosts().filter((p) => hosts.has(p.host.split(':')[0]));
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test(
  '2 instances, a burst, 20 random kill -9: no double order, no release, no stuck job, no leak, one email',
  async () => {
    const config = serviceConfig(stack, mailpit, { retry: { maxAttempts: 2, baseDelayMs: 1000, maxDelayMs: 1000 } });
    const env = { PROVISION_MAX_ATTEMPTS: '2', PROVISION_RETRY_BASE_SECONDS: '1', PROVISION_RETRY_MAX_SECONDS: '1' };
    const start = async () => {
      const service = await ServiceProcess.start(stack, config, env);
      started.push(service);
      return service;
    };
    const instances = [await start(), await start()];
    const anyInstance = () => instances[randomInt(instances.length)];
    stack.telnyx.setLatency(150);

    const areaCodes = ['602', '480', '623', '520', '928', '414', '312', '469'];
    const churches = areaCodes.map((areaCode) => ({ areaCode, churchId: uniqueId(`chaos-${areaCode}`).toLowerCase() }));
    const unbuyable = uniqueId('chaos-unbuyable').toLowerCase();
    const events = [
      ...churches.map((c) =>
        subscriptionEvent({ subscriptionId: uniqueId('sub'), churchName: `Chaos ${c.areaCode}`, ...c }),
      ),
      // An exact number Telnyx does not offer: its job fails for good, and the founder is emailed once.
      subscriptionEvent({
        subscriptionId: uniqueId('sub'),
        churchId: unbuyable,
        churchName: 'Chaos Unbuyable',
        metadata: { requested_number: '+12129870000' },
      }),
    ];
    /** Delivers to a live instance; an instance killed meanwhile is no answer, and Stripe would retry. */
    const deliver = async (event: unknown) => {
      for (;;) {
        const response = await anyInstance()
          .deliver(event)
          .catch(() => undefined);
        if (response?.statusCode === 200) return;
        await sleep(200);
      }
    };

    const killed: ServiceProcess[] = [];
    let delivered = 0;
    for (let kill = 1; kill <= KILLS; kill++) {
      // Events arrive throughout (and some twice, as Stripe retries), between and during the kills.
      if (delivered < events.length) await deliver(events[delivered++]);
      if (kill % 3 === 0) await deliver(events[randomInt(delivered)]);
      await sleep(randomInt(200, 2500));
      const victim = randomInt(instances.length);
      process.kill(-instances[victim].pid, 'SIGKILL');
      await instances[victim].exited();
      killed.push(instances[victim]);
      instances[victim] = await start();
    }
    while (delivered < events.length) await deliver(events[delivered++]);
    stack.telnyx.setLatency(0);

    for (const church of churches)
      expect(await anyInstance().waitForState(church.churchId, ['live', 'failed'])).toMatchObject({ state: 'live' });
    expect(await anyInstance().waitForState(unbuyable, ['failed', 'live'])).toMatchObject({ state: 'failed' });
    // One more purchase: its run starts with the recovery that ends whatever the last kills left running.
    const last = uniqueId('chaos-last').toLowerCase();
    await deliver(subscriptionEvent({ subscriptionId: uniqueId('sub'), churchId: last, areaCode: '602' }));
    expect(await anyInstance().waitForState(last, ['live', 'failed'])).toMatchObject({ state: 'live' });

    // 0 double orders: one order per church that has a line, each for the number it shows.
    const orders = [...stack.telnyx.state.numberOrders.values()];
    const perChurch = new Map<string, number>();
    for (const order of orders)
      perChurch.set(order.customer_reference!, (perChurch.get(order.customer_reference!) ?? 0) + 1);
    expect([...perChurch.values()].filter((n) => n > 1)).toEqual([]);
    expect(orders).toHaveLength(churches.length + 1);
    // 0 releases.
    expect(stack.telnyx.countRequests('DELETE', '/phone_numbers')).toBe(0);
    // 0 stuck jobs.
    const open = await stack.db.pool.query(`select id from provisioning_jobs where state in ('queued', 'running')`);
    expect(open.rows).toEqual([]);
    // 0 processes left by the killed instances.
    expect(leftBy(killed)).toEqual([]);
    // The failure email: queued once, sent once.
    const deadline = Date.now() + 60_000;
    let notifications = await listFounderNotifications(stack.db.pool, { churchId: unbuyable });
    while (notifications.some((n) => n.sentAt === null) && Date.now() < deadline) {
      await sleep(250);
      notifications = await listFounderNotifications(stack.db.pool, { churchId: unbuyable });
    }
    expect(notifications).toHaveLength(1);
    const mails = (await messagesTo(config.founderEmail)).filter((m) => m.Subject.includes(unbuyable));
    expect(mails).toHaveLength(1);
  },
  ENGINE_WAIT_MS * 3,
);
