/**
 * The end of a line, on the real engine: a cancelled subscription keeps everything (number, trunk, rule, row) through
 * later stack runs; only the founder's `churchwise church decommission` releases it, in two runs: the first records
 * `decommission: true` on every resource (registry status `decommission`), the second leaves the church out
 * (`decommissioned`) and the engine deletes what it had, releasing the number at Telnyx exactly once.
 */
import { SipClient } from 'livekit-server-sdk';
import { SANDBOX_LIVEKIT } from '../../sandbox/livekit';
import type { MailpitConnection } from '../../sandbox/mailpit';
import { getChurch } from '../../registry/churches';
import { newVoiceStack, type VoiceStackFixture } from '../support/voice-stack';
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

let mailpit: MailpitConnection;
let stack: VoiceStackFixture;
let svc: InProcessService;

beforeAll(async () => {
  mailpit = await ensureMailpit();
  stack = await newVoiceStack('e2e-decommission', { testRings: true });
  svc = await startInProcessService(stack, mailpit);
});

afterAll(async () => {
  await svc?.close();
  await stack?.close();
});

const releases = () => stack.telnyx.countRequests('DELETE', '/phone_numbers');

async function liveObjects(line: { phoneNumber: string; trunkId: string; dispatchRuleId: string; churchId: string }) {
  const number = [...stack.telnyx.state.phoneNumbers.values()].find((n) => n.phone_number === line.phoneNumber);
  const trunks = await sip.listSipInboundTrunk({ trunkIds: [line.trunkId] } as never);
  const rules = await sip.listSipDispatchRule({ dispatchRuleIds: [line.dispatchRuleId] } as never);
  const rows = await stack.db.pool.query('select twilio_phone_number from church_voice_agents where church_id = $1', [
    line.churchId,
  ]);
  return {
    numberStatus: number?.status,
    trunks: trunks.map((t) => t.sipTrunkId),
    rules: rules.map((r) => r.sipDispatchRuleId),
    rows: rows.rowCount,
  };
}

test(
  'a cancelled church keeps its line; decommission releases the number once and deletes trunk, rule and row',
  async () => {
    const churchId = uniqueId('leaving').toLowerCase();
    const neighbourId = uniqueId('staying').toLowerCase();
    const subscriptionId = uniqueId('sub');
    await svc.deliver(
      subscriptionEvent({ subscriptionId, churchId, areaCode: '216', churchName: 'Leaving Cleveland' }),
    );
    await svc.service.worker.whenIdle();
    const line = (await svc.status(churchId)).json();
    expect(line).toMatchObject({ state: 'live', lastRing: { ok: true } });
    const kept = { numberStatus: 'active', trunks: [line.trunkId], rules: [line.dispatchRuleId], rows: 1 };
    expect(await liveObjects({ ...line, churchId })).toEqual(kept);

    // The subscription is cancelled: the registry says so, the founder is told, nothing is released...
    const cancelled = await svc.deliver(
      subscriptionEvent({ type: 'customer.subscription.deleted', subscriptionId, churchId, status: 'canceled' }),
    );
    expect(cancelled.json()).toMatchObject({ outcome: 'cancelled', churchId });
    const [mail] = await founderMails(stack.db, svc.config, churchId);
    expect(mail.Subject).toContain('cancelled its voice plan (line kept)');
    expect(mail.Text).toContain(`churchwise church decommission --church ${churchId}`);
    // ... not even by the next stack run, which another church's purchase brings.
    await svc.deliver(
      subscriptionEvent({
        subscriptionId: uniqueId('sub'),
        churchId: neighbourId,
        areaCode: '216',
        churchName: 'Staying Cleveland',
      }),
    );
    await svc.service.worker.whenIdle();
    const neighbour = (await svc.status(neighbourId)).json();
    expect(neighbour).toMatchObject({ state: 'live' });
    expect(svc.runner.runs).toBe(2);
    expect((await svc.status(churchId)).json()).toMatchObject({
      churchStatus: 'cancelled',
      state: 'live',
      phoneNumber: line.phoneNumber,
    });
    expect(await liveObjects({ ...line, churchId })).toEqual(kept);
    expect(releases()).toBe(0);

    // The founder decommissions it (the service keeps running beside the CLI; they share the stack's run lock).
    const updatesBefore = (await stackUpdates(stack)).length;
    const cli = await runCli(stack, svc.config, ['decommission', '--church', churchId]);
    expect({ code: cli.code, stderr: cli.code ? cli.stderr : '' }).toEqual({ code: 0, stderr: '' });
    expect(cli.stdout).toContain(
      `church ${churchId} decommissioned: its number, trunk, dispatch rule and row are released`,
    );
    const report = JSON.parse(cli.stdout.slice(cli.stdout.indexOf('{\n'), cli.stdout.indexOf('\n}') + 2));
    expect(report).toMatchObject({ churchId, done: true, registryStatus: 'decommissioned', remaining: [] });
    expect(report.runs).toHaveLength(2);

    // Two engine runs: the first recorded the decommission, the second deleted the line.
    const updates = (await stackUpdates(stack)).slice(0, (await stackUpdates(stack)).length - updatesBefore).reverse();
    expect(updates).toEqual([
      { message: expect.stringContaining(`decommission ${churchId} (1/2: record decommission)`), result: 'succeeded' },
      { message: expect.stringContaining(`decommission ${churchId} (2/2: release)`), result: 'succeeded' },
    ]);
    expect(await getChurch(stack.db.pool, churchId)).toMatchObject({ status: 'decommissioned' });
    expect(releases()).toBe(1);
    expect(await liveObjects({ ...line, churchId })).toEqual({
      numberStatus: 'deleted',
      trunks: [],
      rules: [],
      rows: 0,
    });
    expect(stateFile(stack).urns.filter((urn) => urn.includes(`church-${churchId}`))).toEqual([]);

    // The neighbour in the same area code is untouched.
    expect(await liveObjects({ ...neighbour, churchId: neighbourId })).toEqual({
      numberStatus: 'active',
      trunks: [neighbour.trunkId],
      rules: [neighbour.dispatchRuleId],
      rows: 1,
    });

    // Running it again changes nothing and releases nothing more.
    const again = await runCli(stack, svc.config, ['decommission', '--church', churchId]);
    expect(again.code).toBe(0);
    expect(releases()).toBe(1);
  },
  ENGINE_WAIT_MS,
);
