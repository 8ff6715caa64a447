/**
 * The provisioning worker inside the whole service (HTTP routes, real PostgreSQL queue, real mailpit), with a
 * StackRunner double in place of the Pulumi engine: bursts coalesce into few runs, failures retry and then
 * email the founder exactly once, a dead process's running job is resumed, one run at a time per stack.
 */
import { ensureMailpit, getMessage, messagesTo, type MailpitConnection } from '../../sandbox/mailpit';
import { createTestDatabase, type TestDatabase } from '../../sandbox/postgres';
import { claim, enqueue, listFounderNotifications, listJobs, upsertChurch } from '../../registry';
import type { ServiceConfig } from '../../webhook/config';
import { createLogger } from '../../common/logger';
import { createService, type Service } from '../../webhook/service';
import { ProvisioningWorker } from '../../worker/provisioning-worker';
import {
  LogCollector,
  RegistryStackRunnerDouble,
  completeLine,
  configSecrets,
  gate,
  listen,
  signedDelivery,
  subscriptionEvent,
  testConfig,
  uniqueId,
} from '../support/stripe-events';

let mailpit: MailpitConnection;

beforeAll(async () => {
  mailpit = await ensureMailpit();
});

interface Harness {
  db: TestDatabase;
  config: ServiceConfig;
  service: Service;
  runner: RegistryStackRunnerDouble;
  logs: LogCollector;
  request: Awaited<ReturnType<typeof listen>>;
  close(): Promise<void>;
}

async function harness(prefix: string, overrides: Partial<ServiceConfig> = {}): Promise<Harness> {
  const db = await createTestDatabase(prefix);
  const config = testConfig(db, mailpit, overrides);
  const logs = new LogCollector();
  const runner = new RegistryStackRunnerDouble(db.pool);
  const service = createService(config, {
    runner,
    logDestination: logs,
    worker: { gatherMs: 20, pollIntervalMs: 200 },
    notifier: { retryPollMs: 200, retryBaseMs: 10, retryMaxMs: 50 },
  });
  await service.app.ready();
  service.notifier.start();
  service.worker.start();
  const request = await listen(service.app);
  return {
    db,
    config,
    service,
    runner,
    logs,
    request,
    close: async () => {
      await service.close();
      await db.drop();
    },
  };
}

function buy(h: Harness, churchId: string, areaCode = '414') {
  const { payload, headers } = signedDelivery(
    subscriptionEvent({ subscriptionId: uniqueId('sub'), churchId, areaCode, churchName: `Church ${churchId}` }),
    h.config.stripeWebhookSecret,
  );
  return h.request({ method: 'POST', url: '/stripe/webhook', payload, headers });
}

function status(h: Harness, churchId: string) {
  return h.request({
    method: 'GET',
    url: `/churches/${churchId}/status`,
    headers: { authorization: `Bearer ${h.config.adminToken}` },
  });
}

describe('a burst of purchases', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness('webhook_burst');
  });
  afterAll(async () => h?.close());

  it('20 purchases within a second: every church live, at most 3 stack runs', async () => {
    // The first run is held open until the whole burst has been accepted, as a real engine run would be.
    const firstRunHeld = gate();
    const runsSeen: number[] = [];
    h.runner.behaviour = async ({ run, churches }) => {
      runsSeen.push(churches.length);
      if (run === 1) await firstRunHeld.promise;
      return { ok: true, churches: churches.map(completeLine) };
    };
    const churchIds = Array.from({ length: 20 }, (_, i) => uniqueId(`burst${i}`));
    const responses = await Promise.all(churchIds.map((id) => buy(h, id)));
    expect(responses.map((r) => r.statusCode)).toEqual(Array(20).fill(200));
    expect(responses.every((r) => r.json().outcome === 'queued')).toBe(true);
    firstRunHeld.open();
    await h.service.worker.whenIdle();

    expect(h.runner.runs).toBeGreaterThanOrEqual(1);
    expect(h.runner.runs).toBeLessThanOrEqual(3);
    const jobs = await listJobs(h.db.pool);
    expect(jobs).toHaveLength(20);
    expect(jobs.every((j) => j.state === 'succeeded' && j.attempts === 1 && j.phoneNumber?.startsWith('+1414'))).toBe(
      true,
    );
    for (const id of [churchIds[0], churchIds[19]]) {
      expect((await status(h, id)).json()).toMatchObject({
        state: 'live',
        trunkId: `ST_${id}`,
        lastRing: { ok: true },
      });
    }
    // The engine's output went into the log, tagged with the run.
    expect(h.logs.records('Updating (webhook-test):').length).toBe(h.runner.runs);
    expect(h.logs.records('Updating (webhook-test):')[0]).toMatchObject({
      component: 'engine',
      runId: expect.stringMatching(/^run-/),
    });
  });
});

describe('failures', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness('webhook_failure');
  });
  afterAll(async () => h?.close());

  it('past the retry budget: exactly one founder email naming the church and the step; recovery then succeeds', async () => {
    const churchId = uniqueId('failing');
    let telnyxDown = true;
    h.runner.behaviour = ({ churches }) =>
      telnyxDown
        ? {
            ok: false,
            churches: [],
            error: {
              message: 'telnyx POST /number_orders failed after 5 attempts: HTTP 500: Internal Server Error',
              failedStep: 'telnyx-number',
              churchId,
            },
          }
        : { ok: true, churches: churches.map(completeLine) };
    expect((await buy(h, churchId, '747')).statusCode).toBe(200);
    await h.service.worker.whenIdle();

    const [job] = await listJobs(h.db.pool, { churchId });
    expect(job).toMatchObject({ state: 'failed', attempts: h.config.retry.maxAttempts, failedStep: 'telnyx-number' });
    expect(h.runner.runs).toBe(h.config.retry.maxAttempts);
    // Delivery is asynchronous; once the outbox says sent, mailpit has it.
    await h.service.notifier.idle();
    while ((await listFounderNotifications(h.db.pool, { churchId }))[0]?.sentAt == null) {
      h.service.notifier.wake();
      await h.service.notifier.idle();
    }
    const mails = await messagesTo(h.config.founderEmail);
    expect(mails).toHaveLength(1);
    expect(mails[0].Subject).toContain(churchId);
    expect(mails[0].Subject).toContain('telnyx-number');
    const mail = await getMessage(mails[0].ID);
    expect(mail.Text).toContain('Failed step: telnyx-number');
    expect(mail.Text).toContain('HTTP 500');
    expect(mail.Text).toContain(`churchwise church provision --church ${churchId}`);
    expect(mail.Text).toContain(`pulumi up -s ${h.config.stackName}`);
    expect((await status(h, churchId)).json()).toMatchObject({
      state: 'failed',
      failedStep: 'telnyx-number',
      lastError: expect.stringContaining('HTTP 500'),
    });

    // The stand-in recovers; the founder re-queues the church (the email's route); the line goes live.
    telnyxDown = false;
    const retry = await h.request({
      method: 'POST',
      url: '/admin/provision-number',
      payload: JSON.stringify({ churchId, areaCode: '747' }),
      headers: { 'content-type': 'application/json', authorization: `Bearer ${h.config.adminToken}` },
    });
    expect(retry.statusCode).toBe(202);
    await h.service.worker.whenIdle();
    await h.service.notifier.idle();
    expect((await status(h, churchId)).json()).toMatchObject({
      state: 'live',
      phoneNumber: expect.stringMatching(/^\+1747/),
    });
    // Still exactly one email: success is not announced, and the failure was announced once.
    expect(await messagesTo(h.config.founderEmail)).toHaveLength(1);
    expect((await listFounderNotifications(h.db.pool, { churchId })).map((n) => n.dedupeKey)).toEqual([
      `job-failed:${job.id}`,
    ]);
    expect((await listJobs(h.db.pool, { churchId }))[0].founderNotifiedAt).not.toBeNull();
  });

  it('a failed test ring fails the step test-ring; a runner that throws fails the step engine', async () => {
    const ringChurch = uniqueId('ring');
    const throwChurch = uniqueId('throw');
    h.runner.behaviour = ({ churches }) => ({
      ok: true,
      churches: churches.map((c) =>
        c.churchId === ringChurch
          ? { ...completeLine(c), ring: { ok: false, cause: 'no_answer', at: new Date().toISOString() } }
          : completeLine(c),
      ),
    });
    await buy(h, ringChurch);
    await h.service.worker.whenIdle();
    expect((await listJobs(h.db.pool, { churchId: ringChurch }))[0]).toMatchObject({
      state: 'failed',
      failedStep: 'test-ring',
      lastError: expect.stringContaining('no_answer'),
    });

    h.runner.behaviour = () => {
      throw new Error('pulumi exited with code 255');
    };
    await buy(h, throwChurch);
    await h.service.worker.whenIdle();
    expect((await listJobs(h.db.pool, { churchId: throwChurch }))[0]).toMatchObject({
      state: 'failed',
      failedStep: 'engine',
      lastError: 'pulumi exited with code 255',
    });
  });

  it('no secret in any log line, even when the engine prints one', async () => {
    const churchId = uniqueId('leaky');
    h.runner.output = [
      `connecting to ${h.config.databaseUrl}`,
      `smtp password is ${new URL(h.config.smtpUrl).password}`,
      `token ${h.config.adminToken}`,
    ];
    h.runner.behaviour = ({ churches }) => ({ ok: true, churches: churches.map(completeLine) });
    await buy(h, churchId);
    await h.service.worker.whenIdle();
    expect(h.logs.text).toContain('smtp password is [REDACTED]');
    for (const secret of configSecrets(h.config)) expect(h.logs.text).not.toContain(secret);
  });
});

describe('restart', () => {
  it("re-queues a job a dead process left 'running', and the next run finishes it", async () => {
    const db = await createTestDatabase('webhook_restart');
    try {
      const churchId = uniqueId('orphan');
      await upsertChurch(db.pool, { churchId, name: 'Orphan', areaCode: '414', plan: 'voice', activate: true });
      await enqueue(db.pool, churchId, 'stripe customer.subscription.created evt_x');
      // The process that claimed it was killed mid-run (kill -9): the job stays running, its lock is gone.
      const [claimed] = await claim(db.pool, { workerId: 'dead-host:4242:abc', runId: 'run-dead' });
      expect(claimed).toMatchObject({ churchId, state: 'running' });

      const config = testConfig(db, mailpit);
      const logs = new LogCollector();
      const runner = new RegistryStackRunnerDouble(db.pool);
      const service = createService(config, {
        runner,
        logDestination: logs,
        worker: { gatherMs: 0, pollIntervalMs: 200 },
      });
      try {
        service.worker.start();
        await service.worker.whenIdle();
      } finally {
        await service.close();
      }
      const [job] = await listJobs(db.pool, { churchId });
      // The dead run's attempt was given back: a crash is not the church's failed attempt, so the run that finished it is attempt 1.
      expect(job).toMatchObject({ id: claimed.id, state: 'succeeded', attempts: 1, lockedBy: null });
      expect(runner.runs).toBe(1);
      expect(logs.records('job left running by a dead worker queued again')[0]).toMatchObject({
        churchId,
        note: expect.stringContaining('dead-host:4242:abc'),
      });
    } finally {
      await db.drop();
    }
  });
});

describe('one stack run at a time', () => {
  it('a second worker (another process) finds the stack busy and runs nothing until the first is done', async () => {
    const db = await createTestDatabase('webhook_single');
    const config = testConfig(db, mailpit);
    const logs = new LogCollector();
    const logger = createLogger({ secrets: [], destination: logs });
    try {
      await upsertChurch(db.pool, { churchId: 'sf-1', name: 'One', areaCode: '414', plan: 'voice', activate: true });
      await upsertChurch(db.pool, { churchId: 'sf-2', name: 'Two', areaCode: '414', plan: 'voice', activate: true });
      await enqueue(db.pool, 'sf-1', 'test');
      const held = gate();
      let concurrentRuns = 0;
      let maxConcurrent = 0;
      const runner = new RegistryStackRunnerDouble(db.pool);
      runner.behaviour = async ({ churches }) => {
        concurrentRuns += 1;
        maxConcurrent = Math.max(maxConcurrent, concurrentRuns);
        await held.promise;
        concurrentRuns -= 1;
        return { ok: true, churches: churches.map(completeLine) };
      };
      const workerA = new ProvisioningWorker({
        pool: db.pool,
        runner,
        logger,
        stackName: config.stackName,
        retry: config.retry,
        workerId: 'A',
      });
      const workerB = new ProvisioningWorker({
        pool: db.pool,
        runner,
        logger,
        stackName: config.stackName,
        retry: config.retry,
        workerId: 'B',
      });
      const first = workerA.runOnce();
      while (runner.runs === 0) await new Promise((r) => setTimeout(r, 10));
      await enqueue(db.pool, 'sf-2', 'test');
      const second = await workerB.runOnce();
      expect(second.skipped).toBe('stack-busy');
      held.open();
      expect((await first).jobs.map((j) => j.churchId)).toEqual(['sf-1']);
      const third = await workerB.runOnce();
      expect(third.jobs.map((j) => j.churchId)).toEqual(['sf-2']);
      expect(maxConcurrent).toBe(1);
      expect((await listJobs(db.pool)).map((j) => j.state)).toEqual(['succeeded', 'succeeded']);
    } finally {
      await db.drop();
    }
  });
});
