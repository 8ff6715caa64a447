/**
 * The doctor as the founder runs it (`npm run doctor`), on a provisioned test stack: the shared livekit-server, the
 * test's own Telnyx stand-in, PostgreSQL behind PostgREST. Each test plants one of the design document's gotchas
 * the way it happens in real life (a portal edit, a LiveKit API call, a row typed in by hand), checks that the
 * doctor names it with its fix and exit code 2, and puts things back.
 */
import { ListUpdate, RoomAgentDispatch } from '@livekit/protocol';
import { SipClient } from 'livekit-server-sdk';
import { SANDBOX_LIVEKIT } from '../../sandbox/livekit';
import { SANDBOX_PORTS } from '../../sandbox/ports';
import { LIVEKIT_INBOUND_CONNECTION } from '../../sandbox/telnyx/standin';
import type { DoctorFinding, DoctorReport } from '../../checks/doctor';
import { randomE164 } from '../support/unique';
import { founderCli, jsonOf, removeStackObjects, sharedLivekit, telnyxApi } from '../support/founder-cli';
import { editStackConfig, newVoiceStack, type VoiceStackFixture, type LiveLine } from '../support/voice-stack';

const sip = new SipClient(SANDBOX_LIVEKIT.url, SANDBOX_LIVEKIT.apiKey, SANDBOX_LIVEKIT.apiSecret);
const connectionId = LIVEKIT_INBOUND_CONNECTION.id;

async function doctor(stack: VoiceStackFixture): Promise<{ code: number; report: DoctorReport }> {
  const result = await founderCli(stack, ['doctor', '--json']);
  return { code: result.code, report: jsonOf<DoctorReport>(result) };
}

/** Edits the test stack's config file (Pulumi.test.yaml) for one test; returns the undo. */
describe('npm run doctor', () => {
  let stack: VoiceStackFixture;
  let grace: LiveLine;
  let hope: LiveLine;

  beforeAll(async () => {
    stack = await newVoiceStack('doctor', { testRings: false });
    await stack.addChurch({ churchId: 'doctor-grace', name: 'Doctor Grace', areaCode: '330' });
    await stack.addChurch({ churchId: 'doctor-hope', name: 'Doctor Hope', areaCode: '918' });
    const up = await stack.cli(['up', '--yes', '--skip-preview']);
    expect({ code: up.code, out: up.code ? up.stdout + up.stderr : '' }).toEqual({ code: 0, out: '' });
    const lines = await stack.lines();
    grace = lines.find((l) => l.churchId === 'doctor-grace')!;
    hope = lines.find((l) => l.churchId === 'doctor-hope')!;
  });
  afterAll(async () => {
    if (stack) await removeStackObjects(stack);
    await stack?.close();
  });

  test('passes on a clean sandbox stack: every check ran and found nothing, exit 0', async () => {
    const { code, report } = await doctor(stack);
    expect(report.findings).toEqual([]);
    expect(code).toBe(0);
    expect(report.ok).toBe(true);
    expect(Object.fromEntries(report.checks.map((c) => [c.check, c.ok]))).toEqual({
      'fqdn-transport': true,
      'fqdn-host': true,
      'line-trunk': true,
      'fictional-555': true,
      'telnyx-number': true,
      'legacy-twilio': true,
      'locked-trunk': true,
    });
    // Both churches' lines were looked at, not skipped.
    expect(report.checks.find((c) => c.check === 'line-trunk')!.checked).toBe(2);

    const text = await founderCli(stack, ['doctor']);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('All checks passed.');
  });

  test('UDP transport on the FQDN connection', async () => {
    await telnyxApi(stack, 'PATCH', `/fqdn_connections/${connectionId}`, { transport_protocol: 'UDP' });
    try {
      const { code, report } = await doctor(stack);
      expect(code).toBe(2);
      expect(report.findings).toEqual([
        expect.objectContaining({
          check: 'fqdn-transport',
          subject: `connection ${connectionId} ("LiveKit Inbound v2")`,
          problem: expect.stringContaining('transport is UDP'),
          fix: expect.stringContaining("set the connection's transport to TCP"),
        }),
      ]);
      const text = await founderCli(stack, ['doctor']);
      expect(text.code).toBe(2);
      expect(text.stdout).toMatch(
        /\[fqdn-transport\] connection \d+ \("LiveKit Inbound v2"\)\n {2}wrong: transport is UDP[^\n]*\n {2}fix: {3}set the connection's transport to TCP/,
      );
    } finally {
      await telnyxApi(stack, 'PATCH', `/fqdn_connections/${connectionId}`, { transport_protocol: 'TCP' });
    }
  });

  test('an FQDN on the LiveKit project-NAME host', async () => {
    // The stand-in serves no PATCH /fqdns (we never change an FQDN), so the edit goes into the account it holds.
    const [fqdn] = [...stack.telnyx.state.fqdns.values()].filter((f) => f.connection_id === connectionId);
    const original = { fqdn: fqdn.fqdn, port: fqdn.port };
    fqdn.fqdn = 'cwa-voice-9x077mph.sip.livekit.cloud';
    fqdn.port = 5060;
    try {
      const { code, report } = await doctor(stack);
      expect(code).toBe(2);
      expect(report.findings).toEqual([
        expect.objectContaining({
          check: 'fqdn-host',
          problem:
            'FQDN cwa-voice-9x077mph.sip.livekit.cloud:5060 is LiveKit\'s project NAME host: it answers "404 No trunk found", so no call reaches a trunk',
          // The sandbox's livekitSipHost (Pulumi.dev.yaml) is the bridge on loopback.
          fix: expect.stringContaining(`point the FQDN at 127.0.0.1:${SANDBOX_PORTS.sip}`),
        }),
      ]);
    } finally {
      Object.assign(fqdn, original);
    }
  });

  test('auth on a church trunk', async () => {
    await sip.updateSipInboundTrunkFields(grace.trunkId, { authUsername: 'telnyx', authPassword: 'set-by-hand' });
    try {
      const { code, report } = await doctor(stack);
      expect(code).toBe(2);
      expect(report.findings).toEqual([
        expect.objectContaining({
          check: 'line-trunk',
          churchId: 'doctor-grace',
          subject: grace.phoneNumber,
          problem: expect.stringMatching(new RegExp(`^call_rejected: trunk ${grace.trunkId} requires auth`)),
          fix: expect.stringContaining(
            `remove auth (auth_username/auth_password) and any caller allow-list from trunk ${grace.trunkId}`,
          ),
        }),
      ]);
      // The password never leaves LiveKit: not in the report, not in what the doctor prints.
      expect(JSON.stringify(report)).not.toContain('set-by-hand');
    } finally {
      await sip.updateSipInboundTrunkFields(grace.trunkId, { authUsername: '', authPassword: '' });
    }
  });

  test('a number on no trunk', async () => {
    // Taken off its trunk by hand (LiveKit keeps a trunk only with some number on it, so another one replaces it).
    await sip.updateSipInboundTrunkFields(hope.trunkId, { numbers: new ListUpdate({ set: [randomE164('918')] }) });
    try {
      const { code, report } = await doctor(stack);
      expect(code).toBe(2);
      expect(report.findings).toEqual([
        expect.objectContaining({
          check: 'line-trunk',
          churchId: 'doctor-hope',
          subject: hope.phoneNumber,
          problem: `not_found: no trunk found: no LiveKit inbound trunk lists ${hope.phoneNumber}`,
          fix: expect.stringContaining(`put ${hope.phoneNumber} on trunk ${hope.trunkId}`),
        }),
      ]);
    } finally {
      await sip.updateSipInboundTrunkFields(hope.trunkId, { numbers: new ListUpdate({ set: [hope.phoneNumber] }) });
    }
  });

  test('a number on two trunks', async () => {
    // LiveKit takes a second trunk for a number only with a caller allow-list: how a hand-made duplicate looks.
    const duplicate = await sip.createSipInboundTrunk('duplicate by hand', [grace.phoneNumber], {
      allowedNumbers: [randomE164('216')],
    });
    try {
      const { code, report } = await doctor(stack);
      expect(code).toBe(2);
      expect(report.findings).toContainEqual(
        expect.objectContaining({
          check: 'line-trunk',
          churchId: 'doctor-grace',
          problem: expect.stringContaining(`${grace.phoneNumber} is on 2 trunks`),
          fix: `keep ${grace.phoneNumber} only on ${grace.trunkId}: remove it from the other trunk(s)`,
        }),
      );
      expect(report.findings.every((f) => f.churchId === 'doctor-grace')).toBe(true);
    } finally {
      await sharedLivekit().deleteTrunk(duplicate.sipTrunkId);
    }
  });

  test('a dispatch rule that does not dispatch the agent', async () => {
    const [rule] = await sip.listSipDispatchRule({ dispatchRuleIds: [grace.dispatchRuleId!] });
    const withoutAgent = rule.clone();
    withoutAgent.roomConfig!.agents = [];
    await sip.updateSipDispatchRule(rule.sipDispatchRuleId, withoutAgent);
    try {
      const { code, report } = await doctor(stack);
      expect(code).toBe(2);
      expect(report.findings).toEqual([
        expect.objectContaining({
          check: 'line-trunk',
          churchId: 'doctor-grace',
          problem: `no_agent: dispatch rule ${rule.sipDispatchRuleId} does not dispatch agent churchwiseai-voice`,
          fix: expect.stringContaining('dispatch agent churchwiseai-voice (roomConfig.agents)'),
        }),
      ]);
    } finally {
      const restored = rule.clone();
      restored.roomConfig!.agents = rule.roomConfig!.agents.map(
        (a) => new RoomAgentDispatch({ agentName: a.agentName, metadata: a.metadata }),
      );
      await sip.updateSipDispatchRule(rule.sipDispatchRuleId, restored);
    }
  });

  test('a 555 number in a row a caller could dial (and not once the row is suspended)', async () => {
    await stack.db.pool.query(
      `insert into church_voice_agents (church_id, twilio_phone_number, provider, status) values ('doctor-demo', '+14145550123', 'telnyx', 'active')`,
    );
    try {
      const { code, report } = await doctor(stack);
      expect(code).toBe(2);
      // Only the 555 finding: a fiction number is on no trunk and in no account by nature.
      expect(report.findings).toEqual([
        expect.objectContaining({
          check: 'fictional-555',
          churchId: 'doctor-demo',
          subject: '+14145550123',
          problem: expect.stringContaining('a 555 number'),
          fix: expect.stringContaining('Demo Router (+14696152221 US, +13658254095 CA)'),
        }),
      ]);
      await stack.db.pool.query(`update church_voice_agents set status = 'suspended' where church_id = 'doctor-demo'`);
      expect((await doctor(stack)).code).toBe(0);
    } finally {
      await stack.db.pool.query(`delete from church_voice_agents where church_id = 'doctor-demo'`);
    }
  });

  test('a legacy Twilio number taken off its trunk', async () => {
    // Our own "legacy" trunk: the seeded production ids are shared by every test and must not change.
    const numbers = [randomE164('469'), randomE164('469')];
    const livekit = sharedLivekit();
    const trunk = await livekit.createInboundTrunk({ name: 'twilio (test legacy)', numbers });
    const undo = editStackConfig(stack, (config) => {
      const lines = config['churchwise-voice:linesInService'] as { twilioTrunks: unknown[] };
      lines.twilioTrunks = [{ trunkId: trunk.sipTrunkId, numbers }];
    });
    try {
      expect((await doctor(stack)).code).toBe(0);
      await sip.updateSipInboundTrunkFields(trunk.sipTrunkId, { numbers: new ListUpdate({ set: [numbers[0]] }) });
      const { code, report } = await doctor(stack);
      expect(code).toBe(2);
      expect(report.findings).toEqual([
        expect.objectContaining({
          check: 'legacy-twilio',
          subject: trunk.sipTrunkId,
          problem: `${numbers[1]} no longer on legacy Twilio trunk ${trunk.sipTrunkId}: calls to it get "no trunk found"`,
          fix: expect.stringContaining(`put ${numbers[1]} back on ${trunk.sipTrunkId}`),
        }),
      ]);
    } finally {
      undo();
      await livekit.deleteTrunk(trunk.sipTrunkId);
    }
  });

  test('the locked trunk missing', async () => {
    // A stack that locks a trunk LiveKit does not have (the real one is shared and stays).
    const undo = editStackConfig(stack, (config) => {
      config['churchwise-voice:lockedLiveKitIds'] = ['ST_NoSuchTrunk01'];
    });
    try {
      const { code, report } = await doctor(stack);
      expect(code).toBe(2);
      expect(report.findings).toEqual([
        expect.objectContaining({
          check: 'locked-trunk',
          subject: 'ST_NoSuchTrunk01',
          problem: expect.stringContaining('does not exist'),
        }),
      ]);
    } finally {
      undo();
    }
  });

  test('a Telnyx number moved off the FQDN connection', async () => {
    const [record] = (await telnyxApi(stack, 'GET', `/phone_numbers?filter[phone_number]=${hope.phoneNumber.slice(1)}`))
      .data;
    await telnyxApi(stack, 'PATCH', `/phone_numbers/${record.id}`, { connection_id: '' });
    try {
      const { code, report } = await doctor(stack);
      expect(code).toBe(2);
      expect(report.findings).toEqual([
        expect.objectContaining<Partial<DoctorFinding>>({
          check: 'telnyx-number',
          churchId: 'doctor-hope',
          problem: `${hope.phoneNumber} (church doctor-hope) is active on no connection; it must be active on ${connectionId}, or calls to it do not reach LiveKit`,
        }),
      ]);
    } finally {
      await telnyxApi(stack, 'PATCH', `/phone_numbers/${record.id}`, { connection_id: connectionId });
    }
  });

  test('a system it cannot read is an error, exit 1, not a pass', async () => {
    const undo = editStackConfig(stack, (config) => {
      config['churchwise-voice:telnyxBaseUrl'] = 'http://127.0.0.1:9/v2';
    });
    try {
      const result = await founderCli(stack, ['doctor', '--json']);
      expect(result.code).toBe(1);
      expect(result.stdout).toBe('');
      expect(result.stderr).toMatch(/^error: telnyx GET \/fqdn_connections\/\d+/m);
    } finally {
      undo();
    }
  });
});
