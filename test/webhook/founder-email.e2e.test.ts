/**
 * Telnyx down for longer than the retry budget, on the real engine with webhook/main.ts as production runs it
 * (retry budget from PROVISION_* in its environment): exactly one founder email, read back from mailpit, naming
 * the church, the step and the command that finishes the job; once Telnyx answers again, that command (the
 * founder CLI) finishes the line, and no second email is sent.
 */
import * as fs from 'fs';
import type { MailpitConnection } from '../../sandbox/mailpit';
import { listJobs } from '../../registry/jobs';
import { newVoiceStack, type VoiceStackFixture } from '../support/voice-stack';
import { configSecrets } from '../support/stripe-events';
import {
  ENGINE_WAIT_MS,
  ServiceProcess,
  ensureMailpit,
  founderMails,
  runCli,
  serviceConfig,
  stackUpdates,
  subscriptionEvent,
  uniqueId,
} from '../support/service';

let mailpit: MailpitConnection;
let stack: VoiceStackFixture;
let service: ServiceProcess | undefined;

beforeAll(async () => {
  mailpit = await ensureMailpit();
  stack = await newVoiceStack('e2e-telnyx-down', { testRings: true });
});

afterAll(async () => {
  await service?.stop();
  await stack?.close();
});

test(
  'Telnyx answering 500 past the retry budget: one founder email naming church and step; after recovery the CLI finishes the line',
  async () => {
    const config = serviceConfig(stack, mailpit, { retry: { maxAttempts: 2, baseDelayMs: 1000, maxDelayMs: 1000 } });
    service = await ServiceProcess.start(stack, config, {
      PROVISION_MAX_ATTEMPTS: '2',
      PROVISION_RETRY_BASE_SECONDS: '1',
      PROVISION_RETRY_MAX_SECONDS: '1',
    });
    const churchId = uniqueId('zion').toLowerCase();
    // Every Telnyx request answers 500 until the faults are cleared.
    stack.telnyx.injectFaults({ status: 500 });

    const accepted = await service.deliver(
      subscriptionEvent({ subscriptionId: uniqueId('sub'), churchId, areaCode: '313', churchName: 'Zion Detroit' }),
    );
    expect(accepted.json()).toMatchObject({ outcome: 'queued' });
    const failed = await service.waitForState(churchId, ['failed', 'live']);
    expect(failed).toMatchObject({
      state: 'failed',
      attempts: 2,
      failedStep: 'telnyx-number',
      lastError: expect.stringContaining('HTTP 500'),
    });
    expect(stack.telnyx.state.numberOrders.size).toBe(0);

    const mails = await founderMails(stack.db, config, churchId);
    expect(mails).toHaveLength(1);
    expect(mails[0].Subject).toBe(
      `[ChurchWise voice] Line for church ${churchId} NOT provisioned: failed at telnyx-number`,
    );
    expect(mails[0].Text).toContain('Zion Detroit, area code 313');
    expect(mails[0].Text).toContain('Failed step: telnyx-number');
    expect(mails[0].Text).toMatch(/Error: telnyx .* failed after \d+ attempts: HTTP 500/);
    expect(mails[0].Text).toContain(`churchwise church provision --church ${churchId}`);
    // No secret of the service in the email.
    for (const secret of [config.adminToken, config.stripeWebhookSecret, new URL(config.smtpUrl).password])
      expect(mails[0].Text).not.toContain(secret);

    // Telnyx is back; the founder runs the command the email names.
    stack.telnyx.clearFaults();
    const cli = await runCli(stack, config, ['provision', '--church', churchId]);
    expect({ code: cli.code, stderr: cli.code ? cli.stderr : '' }).toEqual({ code: 0, stderr: '' });
    expect(JSON.parse(cli.stdout.slice(cli.stdout.indexOf('{\n')))).toMatchObject({ churchId, state: 'live' });

    const live = (await service.status(churchId)).json();
    expect(live).toMatchObject({
      state: 'live',
      phoneNumber: expect.stringMatching(/^\+1313\d{7}$/),
      lastRing: { ok: true },
    });
    expect(stack.telnyx.state.numberOrders.size).toBe(1);
    expect((await listJobs(stack.db.pool, { churchId })).map((j) => j.state)).toEqual(['failed', 'succeeded']);
    // Still exactly one email: the failure was announced once, the recovery is not announced.
    expect(await founderMails(stack.db, config, churchId)).toHaveLength(1);
    expect((await stackUpdates(stack)).map((u) => u.result)).toEqual(['succeeded', 'failed', 'failed']);
    // The service's log carries the engine's output and the vendor errors, and none of its secrets.
    const log = fs.readFileSync(service.logFile, 'utf8');
    expect(service.records().filter((r) => r.component === 'engine').length).toBeGreaterThan(0);
    expect(log).toContain('HTTP 500');
    for (const secret of configSecrets(config)) expect(log).not.toContain(secret);
  },
  ENGINE_WAIT_MS,
);
