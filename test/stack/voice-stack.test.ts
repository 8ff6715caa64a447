/**
 * The stack the founder runs (issue: "The stack"), with the real CLI on the on-disk program against the sandbox:
 * provisioning from empty, a clean second preview, adoption of the lines in service, protection and the lock.
 */
import { SipClient } from 'livekit-server-sdk';
import { SANDBOX_LIVEKIT } from '../../sandbox/livekit';
import { newVoiceStack, VoiceStackFixture } from '../support/voice-stack';

const sip = new SipClient(SANDBOX_LIVEKIT.url, SANDBOX_LIVEKIT.apiKey, SANDBOX_LIVEKIT.apiSecret);
/** Numbers bought: orders Telnyx accepted (an order refused because the number was taken buys nothing). */
const orders = (stack: VoiceStackFixture) => stack.telnyx.state.numberOrders.size;
const releases = (stack: VoiceStackFixture) => stack.telnyx.countRequests('DELETE', '/phone_numbers');

describe('a stack of churches from the registry', () => {
  let stack: VoiceStackFixture;
  beforeAll(async () => {
    stack = await newVoiceStack('stack-churches');
  });
  afterAll(async () => {
    await stack?.close();
  });

  test('up provisions every church end to end; the next preview has no changes', async () => {
    await stack.addChurch({ churchId: 'first-baptist-akron', name: 'First Baptist Akron', areaCode: '330' });
    await stack.addChurch({ churchId: 'grace-akron', name: 'Grace Akron', areaCode: '330' });
    await stack.addChurch({ churchId: 'hope-tulsa', name: 'Hope Tulsa', areaCode: '918' });

    const up = await stack.cli(['up', '--yes', '--skip-preview']);
    expect({ code: up.code, out: up.code ? up.stdout : '' }).toEqual({ code: 0, out: '' });

    const lines = await stack.lines();
    expect(lines.map((l) => l.churchId).sort()).toEqual(['first-baptist-akron', 'grace-akron', 'hope-tulsa']);
    for (const line of lines) {
      expect(line.phoneNumber).toMatch(/^\+1\d{10}$/);
      expect(line.ring).toMatchObject({ ok: true });
      // The trunk really exists in LiveKit with the number, and the rule dispatches the agent for that trunk.
      const [trunk] = await sip.listSipInboundTrunk({ trunkIds: [line.trunkId] } as never);
      expect(trunk.numbers).toEqual([line.phoneNumber]);
      expect(trunk.authUsername).toBe('');
      const [rule] = await sip.listSipDispatchRule({ dispatchRuleIds: [line.dispatchRuleId!] } as never);
      expect(rule.trunkIds).toEqual([line.trunkId]);
      expect(rule.roomConfig?.agents.map((a) => a.agentName)).toEqual(['churchwiseai-voice']);
      const row = await stack.db.pool.query('select * from church_voice_agents where church_id = $1', [line.churchId]);
      expect(row.rows[0]).toMatchObject({ twilio_phone_number: line.phoneNumber, provider: 'telnyx', livekit_trunk_id: line.trunkId, dispatch_rule_id: line.dispatchRuleId });
    }
    // Two churches in area code 330 got two different numbers in 330.
    const akron = lines.filter((l) => l.churchId.endsWith('akron')).map((l) => l.phoneNumber);
    expect(new Set(akron).size).toBe(2);
    expect(akron.every((n) => n.startsWith('+1330'))).toBe(true);
    expect(orders(stack)).toBe(3);

    const preview = await stack.cli(['preview', '--expect-no-changes']);
    expect({ code: preview.code, out: preview.code ? preview.stdout : '' }).toEqual({ code: 0, out: '' });
  });

  test('an area code change keeps the number; a trunk edited by hand shows on refresh and up puts it back', async () => {
    const before = (await stack.lines()).find((l) => l.churchId === 'grace-akron')!;
    await stack.db.pool.query("update churches set area_code = '614' where church_id = 'grace-akron'");
    const preview = await stack.cli(['preview']);
    expect(preview.code).toBe(0);
    expect(preview.stdout).toMatch(/areaCode 330 -> 614: .* keeps its number/);
    expect(preview.stdout).not.toMatch(/replace/);
    expect((await stack.cli(['up', '--yes', '--skip-preview'])).code).toBe(0);
    const after = (await stack.lines()).find((l) => l.churchId === 'grace-akron')!;
    expect(after.phoneNumber).toBe(before.phoneNumber);
    expect(orders(stack)).toBe(3);

    await sip.updateSipInboundTrunkFields(before.trunkId, { metadata: 'edited by hand in the LiveKit console' });
    expect((await stack.cli(['preview', '--expect-no-changes'])).code).toBe(0); // no refresh: nothing seen
    const drift = await stack.cli(['preview', '--refresh', '--expect-no-changes', '--diff']);
    expect(drift.code).not.toBe(0);
    expect(drift.stdout).toContain('edited by hand in the LiveKit console');
    expect((await stack.cli(['up', '--yes', '--skip-preview', '--refresh'])).code).toBe(0);
    const [repaired] = await sip.listSipInboundTrunk({ trunkIds: [before.trunkId] } as never);
    expect(JSON.parse(repaired.metadata)).toMatchObject({ churchId: 'grace-akron' });
    expect(repaired.sipTrunkId).toBe(before.trunkId);
  });

  test('a church removed from the registry without decommission keeps its number: the update fails loudly', async () => {
    const line = (await stack.lines()).find((l) => l.churchId === 'hope-tulsa');
    expect(line).toBeDefined();
    await stack.db.pool.query("delete from churches where church_id = 'hope-tulsa'");
    const preview = await stack.cli(['preview']);
    expect(preview.stdout).toMatch(/LINE WITHOUT A CHURCH: hope-tulsa \(\+1918\d{7}\)[^]*will NOT be released/);
    const up = await stack.cli(['up', '--yes', '--skip-preview']);
    expect(up.code).not.toBe(0);
    expect(up.stdout).toMatch(/refusing to (release|delete)/);
    expect(releases(stack)).toBe(0);
    const [trunk] = await sip.listSipInboundTrunk({ trunkIds: [line!.trunkId] } as never);
    expect(trunk.numbers).toEqual([line!.phoneNumber]);
    const number = [...stack.telnyx.state.phoneNumbers.values()].find((n) => n.phone_number === line!.phoneNumber);
    expect(number?.status).toBe('active');
    const row = await stack.db.pool.query("select 1 from church_voice_agents where church_id = 'hope-tulsa'");
    expect(row.rowCount).toBe(1);
  });
});

describe('lines in service', () => {
  let stack: VoiceStackFixture;
  beforeAll(async () => {
    stack = await newVoiceStack('stack-adopt', { linesInService: true, testRings: false });
  });
  afterAll(async () => {
    await stack?.close();
  });

  test('are adopted without buying a number or creating a trunk', async () => {
    const up = await stack.cli(['up', '--yes', '--skip-preview']);
    expect({ code: up.code, out: up.code ? up.stdout : '' }).toEqual({ code: 0, out: '' });
    expect(orders(stack)).toBe(0);
    // LiveKit is shared with other tests, so "no trunk created" is checked by number: each adopted number is still
    // on exactly one trunk, the seeded one.
    for (const [number, trunkId] of [['+14144007103', 'ST_LWgmiBSwTk7P'], ['+17473897673', 'ST_3KMJ5YEjF2fF']]) {
      const onNumber = await sip.listSipInboundTrunk({ numbers: [number] } as never);
      expect(onNumber.map((t) => t.sipTrunkId)).toEqual([trunkId]);
    }
    const lines = await stack.lines();
    expect(lines.map((l) => [l.phoneNumber, l.trunkId, l.source])).toEqual(
      expect.arrayContaining([
        ['+14144007103', 'ST_LWgmiBSwTk7P', 'in-service'],
        ['+17473897673', 'ST_3KMJ5YEjF2fF', 'in-service'],
      ]),
    );
    const preview = await stack.cli(['preview', '--expect-no-changes']);
    expect(preview.code).toBe(0);
  });

  test('destroy is refused for the protected legacy resources', async () => {
    const destroy = await stack.cli(['destroy', '--yes', '--skip-preview']);
    expect(destroy.code).not.toBe(0);
    expect(destroy.stdout + destroy.stderr).toMatch(/protected/);
    const [locked] = await sip.listSipInboundTrunk({ trunkIds: ['ST_Xa3Bp9aixRFP'] } as never);
    expect(locked.sipTrunkId).toBe('ST_Xa3Bp9aixRFP');
    expect(releases(stack)).toBe(0);
  });

  test('a program change that would touch the locked trunk fails before calling LiveKit', async () => {
    const [before] = await sip.listSipInboundTrunk({ trunkIds: ['ST_Xa3Bp9aixRFP'] } as never);
    // A config mistake pointing the legacy Twilio trunk list at the locked trunk would change its numbers.
    const set = await stack.cli(['config', 'set', '--path', 'churchwise-voice:linesInService.twilioTrunks[0].trunkId', 'ST_Xa3Bp9aixRFP']);
    expect(set.code).toBe(0);
    const up = await stack.cli(['up', '--yes', '--skip-preview']);
    expect(up.code).not.toBe(0);
    const [after] = await sip.listSipInboundTrunk({ trunkIds: ['ST_Xa3Bp9aixRFP'] } as never);
    expect(after.numbers).toEqual(before.numbers);
    expect(after.name).toBe(before.name);
  });
});

describe('a church the providers would refuse', () => {
  let stack: VoiceStackFixture;
  beforeAll(async () => {
    stack = await newVoiceStack('stack-bad-church', { testRings: false });
  });
  afterAll(async () => {
    await stack?.close();
  });

  test('is left out with a warning naming the field; the other churches are provisioned', async () => {
    await stack.addChurch({ churchId: 'good-church', name: 'Good Church', areaCode: '503' });
    // E.164 and accepted by the database, but not a US local number: no provider would order it.
    await stack.db.pool.query(
      "insert into churches (church_id, name, requested_number, plan) values ('bad-number', 'Bad Number', '+12120870000', 'voice')",
    );
    const up = await stack.cli(['up', '--yes', '--skip-preview']);
    expect({ code: up.code, out: up.code ? up.stdout : '' }).toEqual({ code: 0, out: '' });
    expect(up.stdout).toMatch(/church bad-number is left out of this update: requestedNumber \+12120870000 cannot be bought here/);
    expect((await stack.lines()).map((l) => l.churchId)).toEqual(['good-church']);
  });
});
