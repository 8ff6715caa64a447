/**
 * One church that can never be provisioned, on the real engine with webhook/main.ts as production runs it: it
 * fails alone (its step, one founder email), while the churches bought beside it and after it go live. Before the
 * runner continued past a failed resource, every run stopped at that church for as long as it stayed in the
 * registry, and the others never got their line.
 *
 * The service runs as its own process: the inline program's rejected outputs of the failed church are handled by
 * Pulumi's own handler there, while in a jest worker they would surface as the test's unhandled rejections.
 */
import type { MailpitConnection } from '../../sandbox/mailpit';
import { newVoiceStack, type VoiceStackFixture } from '../support/voice-stack';
import {
  ENGINE_WAIT_MS,
  ServiceProcess,
  ensureMailpit,
  founderMails,
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
  stack = await newVoiceStack('e2e-one-fails', { testRings: false });
});

afterAll(async () => {
  await service?.stop();
  await stack?.close();
});

test(
  'a church whose number cannot be bought fails alone; the churches beside it and after it go live',
  async () => {
    const config = serviceConfig(stack, mailpit, { retry: { maxAttempts: 2, baseDelayMs: 1000, maxDelayMs: 1000 } });
    service = await ServiceProcess.start(stack, config, {
      PROVISION_MAX_ATTEMPTS: '2',
      PROVISION_RETRY_BASE_SECONDS: '1',
      PROVISION_RETRY_MAX_SECONDS: '1',
    });
    const failingId = uniqueId('unbuyable').toLowerCase();
    const besideId = uniqueId('beside').toLowerCase();
    const afterId = uniqueId('after').toLowerCase();
    // An exact number Telnyx does not offer: every run fails that church's number create.
    const responses = await Promise.all([
      service.deliver(
        subscriptionEvent({
          subscriptionId: uniqueId('sub'),
          churchId: failingId,
          churchName: 'Unbuyable',
          metadata: { requested_number: '+12129870000' },
        }),
      ),
      service.deliver(
        subscriptionEvent({
          subscriptionId: uniqueId('sub'),
          churchId: besideId,
          areaCode: '414',
          churchName: 'Beside',
        }),
      ),
    ]);
    expect(responses.map((r) => r.json().outcome)).toEqual(['queued', 'queued']);

    expect(await service.waitForState(besideId, ['live', 'failed'])).toMatchObject({
      state: 'live',
      attempts: 1,
      phoneNumber: expect.stringMatching(/^\+1414/),
    });
    expect(await service.waitForState(failingId, ['failed', 'live'])).toMatchObject({
      state: 'failed',
      attempts: 2,
      failedStep: 'telnyx-number',
      lastError: expect.stringContaining('+12129870000 is not available to order'),
    });
    const mails = await founderMails(stack.db, config, failingId);
    expect(mails.map((m) => m.Subject)).toEqual([
      `[ChurchWise voice] Line for church ${failingId} NOT provisioned: failed at telnyx-number`,
    ]);

    // The failing church stays in the registry, so every later run fails it again; a new church goes live anyway.
    await service.deliver(
      subscriptionEvent({ subscriptionId: uniqueId('sub'), churchId: afterId, areaCode: '918', churchName: 'After' }),
    );
    expect(await service.waitForState(afterId, ['live', 'failed'])).toMatchObject({
      state: 'live',
      attempts: 1,
      phoneNumber: expect.stringMatching(/^\+1918/),
    });
    expect(stack.telnyx.state.numberOrders.size).toBe(2);
    // Still one email, about the failing church only.
    expect(await founderMails(stack.db, config, failingId)).toHaveLength(1);
    expect((await stackUpdates(stack)).map((u) => u.result)).toEqual(['failed', 'failed', 'failed']);
  },
  ENGINE_WAIT_MS,
);
