/**
 * TestRing in the real Pulumi engine (CLI built by scripts/tools.sh, Automation API, file backend), next to the
 * trunk and rule it proves, against the whole sandbox call path (Telnyx stand-in dialing with sipp, livekit-sip,
 * livekit-server). What the founder sees: a working line rings through on `up`; preview and refresh place no call;
 * a broken line fails the `up` with the cause while the trunk and rule stay; fixed, the next `up` rings again.
 */
import type { Stack } from '@pulumi/pulumi/automation';
import { LiveKitClient } from '../../vendors/livekit-client';
import { DEFAULT_AGENT_NAME, LiveKitSipDispatchRule } from '../../providers/livekit-sip-dispatch-rule';
import { LiveKitSipInboundTrunk } from '../../providers/livekit-sip-inbound-trunk';
import { PRODUCTION_FQDN_CONNECTION_ID, type LiveKitSettings } from '../../vendors/vendor-settings';
import { TestRing } from '../../providers/test-ring';
import { ensureLivekitSip } from '../../sandbox/livekit-sip';
import { SippDialer } from '../../sandbox/sip-dialer';
import { LIVEKIT_INBOUND_CONNECTION, startTelnyxStandIn, type TelnyxStandIn } from '../../sandbox/telnyx/standin';
import { failedRun, inlineStack } from '../support/engine';
import { eventually } from '../support/eventually';
import { CreatedObjects, byHand, useSandboxLivekit } from '../support/livekit';
import { randomE164 } from '../support/unique';
import { sippProcessesOf } from '../support/sipp';

const TYPE = 'pulumi-nodejs:dynamic/churchwise:TestRing';
const FROM = randomE164();
/** The Telnyx Call Control application the stack's telnyxCallControlAppId names (env TELNYX_CALL_CONTROL_APP_ID). */
const RING_APP = '1684641123236054244';
let livekit: LiveKitSettings;
let client: LiveKitClient;
let dialer: SippDialer;
let standIn: TelnyxStandIn;
const created = new CreatedObjects();

beforeAll(async () => {
  livekit = await useSandboxLivekit();
  await ensureLivekitSip();
  client = new LiveKitClient(livekit);
  dialer = new SippDialer();
  standIn = await startTelnyxStandIn({ dialer });
});

afterAll(async () => {
  await dialer?.close();
  await standIn?.close();
  await created.removeAll(livekit);
});

async function ringState(stack: Stack): Promise<Record<string, any>> {
  const deployment = await stack.exportStack();
  const resource = (deployment.deployment.resources ?? []).find((r: { type: string }) => r.type === TYPE);
  return resource?.outputs ?? {};
}

test('a church line with its test ring: rings on up, never on preview or refresh, fails the up while broken, rings again once fixed', async () => {
  const churchId = `engine-${Math.random().toString(36).slice(2, 8)}`;
  const phoneNumber = randomE164();
  const roomPrefix = `church-${churchId}-`;
  standIn.seedPhoneNumber({
    phone_number: phoneNumber,
    connection_id: LIVEKIT_INBOUND_CONNECTION.id,
    customer_reference: churchId,
  });
  const declared = { trigger: 'first', decommission: false };
  const program = async () => {
    const name = `church ${churchId}`;
    const trunk = new LiveKitSipInboundTrunk('trunk', { name, numbers: [phoneNumber], decommission: true });
    const rule = new LiveKitSipDispatchRule('rule', {
      name,
      roomPrefix,
      trunkIds: [trunk.sipTrunkId],
      agentName: DEFAULT_AGENT_NAME,
      agentMetadata: JSON.stringify({ churchId }),
      decommission: true,
    });
    const ring = new TestRing('ring', {
      churchId,
      phoneNumber,
      trunkId: trunk.sipTrunkId,
      dispatchRuleId: rule.sipDispatchRuleId,
      roomPrefix,
      from: FROM,
      trigger: declared.trigger,
      timeoutSecs: 6,
      decommission: declared.decommission,
    });
    return {
      trunkId: trunk.sipTrunkId,
      ruleId: rule.sipDispatchRuleId,
      ringOk: ring.ok,
      ringCause: ring.cause,
      ringAt: ring.at,
    };
  };
  const { stack } = await inlineStack({
    name: 'test-ring',
    projectName: 'test-ring',
    program,
    vendors: { livekit, telnyx: { baseUrl: standIn.url, apiKey: standIn.apiKey, callControlAppId: RING_APP } },
  });
  const dials = () => standIn.requests.filter((r) => r.operationId === 'DialCall').length;
  const hangups = () => standIn.requests.filter((r) => r.operationId === 'HangupCall').length;

  // A fresh line: the up rings it, and the ring passes.
  const up = await stack.up();
  expect(up.summary.result).toBe('succeeded');
  const trunkId = created.trunk(up.outputs.trunkId.value);
  const ruleId = created.rule(up.outputs.ruleId.value);
  expect(up.outputs.ringOk.value).toBe(true);
  expect(up.outputs.ringCause?.value).toBeUndefined();
  expect(dials()).toBe(1);
  // The ring dials through the configured Call Control application, not the number's FQDN connection.
  const dial = standIn.requests.find(
    (r) => r.operationId === 'DialCall' && (r.body as { to?: string }).to === phoneNumber,
  );
  expect(dial?.body).toMatchObject({ connection_id: RING_APP, from: FROM });
  expect(up.stdout).not.toContain('telnyxCallControlAppId is not set');

  // Preview and refresh read the last result; neither places a call.
  const preview = await stack.preview({ expectNoChanges: true });
  expect(preview.changeSummary).toEqual({ same: 4 });
  await stack.refresh();
  expect(dials()).toBe(1);
  expect((await ringState(stack)).ok).toBe(true);

  // Auth added by hand: the next ring fails the up with the cause, and says the line is not live.
  await byHand(livekit).updateSipInboundTrunkFields(trunkId, {
    authUsername: 'by-hand',
    authPassword: 'pw-engine-ring-3310',
  });
  declared.trigger = 'after-auth';
  const failure = await failedRun(stack.up());
  expect(failure).toContain(`test ring of ${phoneNumber} (church ${churchId}) failed: call_rejected`);
  expect(failure).toContain(`trunk ${trunkId} requires auth`);
  expect(failure).toContain('The line is NOT live');
  expect(failure).not.toContain('pw-engine-ring-3310');
  expect(dials()).toBe(2);
  // The failed result is recorded; the trunk and rule are untouched, in the state and at LiveKit.
  expect(await ringState(stack)).toMatchObject({ ok: false, cause: 'call_rejected', trigger: 'after-auth' });
  const resources = (await stack.exportStack()).deployment.resources ?? [];
  expect(resources.map((r: { id?: string }) => r.id)).toEqual(expect.arrayContaining([trunkId, ruleId]));
  expect(await client.getInboundTrunk(trunkId)).toMatchObject({ numbers: [phoneNumber] });
  expect(await client.getDispatchRule(ruleId)).toMatchObject({ trunkIds: [trunkId] });
  expect(JSON.stringify(await stack.exportStack())).not.toContain('pw-engine-ring-3310');

  // Fixed by hand, nothing changed in the program: the up rings again because the last ring failed.
  await client.updateInboundTrunk(trunkId, { clearAuth: true });
  const fixed = await stack.up();
  expect(fixed.summary.result).toBe('succeeded');
  expect(fixed.summary.resourceChanges).toMatchObject({ update: 1 });
  expect(fixed.outputs.ringOk.value).toBe(true);
  expect(dials()).toBe(3);

  // Every ring hung up: a hangup per dial, all calls ended, no sipp left.
  expect(hangups()).toBe(dials());
  expect([...standIn.state.calls.values()].filter((c) => c.state !== 'ended')).toEqual([]);
  await eventually(() => dialer.running() === 0 && sippProcessesOf(process.pid).length === 0, 'every sipp exited');

  // A destroy before the ring's line is decommissioned is refused, and leaves the state exactly as it was: the
  // ring's record is not dropped, so the next up does not ring the line again.
  const stateBefore = (await stack.exportStack()).deployment.resources;
  const refused = await failedRun(stack.destroy());
  expect(refused).toContain(`refusing to delete the test ring record of church ${churchId}`);
  expect((await stack.exportStack()).deployment.resources).toEqual(stateBefore);
  expect(await client.getInboundTrunk(trunkId)).toMatchObject({ numbers: [phoneNumber] });
  const after = await stack.up();
  expect(after.summary.resourceChanges).toEqual({ same: 4 });
  expect(dials()).toBe(3);

  // Decommissioned: recorded without a call; then destroy releases nothing for the ring, the trunk and rule go.
  declared.decommission = true;
  const recorded = await stack.up();
  expect(recorded.summary.resourceChanges).toMatchObject({ update: 1 });
  expect(dials()).toBe(3);
  const destroyed = await stack.destroy();
  expect(destroyed.summary.result).toBe('succeeded');
  expect(await client.getInboundTrunk(trunkId)).toBeUndefined();
  expect(dials()).toBe(3);
}, 300_000);

test('a line provisioned without a dispatch rule: the first up fails on the ring with no_room, the trunk is kept, the failure is on record', async () => {
  const churchId = `engine-${Math.random().toString(36).slice(2, 8)}`;
  const phoneNumber = randomE164();
  standIn.seedPhoneNumber({
    phone_number: phoneNumber,
    connection_id: LIVEKIT_INBOUND_CONNECTION.id,
    customer_reference: churchId,
  });
  const program = async () => {
    const trunk = new LiveKitSipInboundTrunk('trunk', {
      name: `church ${churchId}`,
      numbers: [phoneNumber],
      decommission: true,
    });
    // Already on its way out (decommission), so the test can destroy it; a first ring is placed all the same.
    new TestRing('ring', {
      churchId,
      phoneNumber,
      trunkId: trunk.sipTrunkId,
      roomPrefix: `church-${churchId}-`,
      from: FROM,
      timeoutSecs: 6,
      decommission: true,
    });
    return { trunkId: trunk.sipTrunkId };
  };
  // No telnyxCallControlAppId in this stack's settings.
  const { stack } = await inlineStack({
    name: 'test-ring-norule',
    projectName: 'test-ring-norule',
    program,
    vendors: { livekit, telnyx: { baseUrl: standIn.url, apiKey: standIn.apiKey } },
  });

  const failure = await failedRun(stack.up());

  expect(failure).toContain(`test ring of ${phoneNumber} (church ${churchId}) failed: no_room`);
  expect(failure).toContain('no dispatch rule for trunk');
  // No telnyxCallControlAppId in this stack: the ring says it falls back to the FQDN connection, and does.
  expect(failure).toContain(`telnyxCallControlAppId is not set`);
  const dial = standIn.requests.find(
    (r) => r.operationId === 'DialCall' && (r.body as { to?: string }).to === phoneNumber,
  );
  expect(dial?.body).toMatchObject({ connection_id: PRODUCTION_FQDN_CONNECTION_ID });
  const resources = (await stack.exportStack()).deployment.resources ?? [];
  const trunk = resources.find(
    (r: { type: string }) => r.type === 'pulumi-nodejs:dynamic/livekit:LiveKitSipInboundTrunk',
  );
  created.trunk(trunk.id);
  expect(await client.getInboundTrunk(trunk.id)).toMatchObject({ numbers: [phoneNumber] });
  expect(await ringState(stack)).toMatchObject({ ok: false, cause: 'no_room', phoneNumber });
  expect([...standIn.state.calls.values()].filter((c) => c.state !== 'ended')).toEqual([]);
  await eventually(() => dialer.running() === 0, 'every sipp exited');

  expect((await stack.destroy()).summary.result).toBe('succeeded');
}, 300_000);
