/**
 * The stack the founder runs (issue: "The stack"), with the real CLI on the on-disk program against the sandbox:
 * provisioning from empty, a clean second preview, adoption of the lines in service, protection and the lock.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { SipClient } from 'livekit-server-sdk';
import { SANDBOX_LIVEKIT } from '../../sandbox/livekit';
import { SANDBOX_PORTS } from '../../sandbox/ports';
import { REPO_ROOT, toolPath } from '../../sandbox/processes';
import { editStackConfig, newVoiceStack, VoiceStackFixture } from '../support/voice-stack';

const sip = new SipClient(SANDBOX_LIVEKIT.url, SANDBOX_LIVEKIT.apiKey, SANDBOX_LIVEKIT.apiSecret);
/** Numbers bought: orders Telnyx accepted (an order refused because the number was taken buys nothing). */
const orders = (stack: VoiceStackFixture) => stack.telnyx.state.numberOrders.size;
const releases = (stack: VoiceStackFixture) => stack.telnyx.countRequests('DELETE', '/phone_numbers');

const LOCKED_TRUNK = 'ST_Xa3Bp9aixRFP';
/** LiveKit's own stored copy of the locked trunk: the protobuf bytes livekit-server keeps in its Redis. */
const lockedTrunkBytes = (): Buffer =>
  execFileSync(toolPath('redis-cli'), [
    '-h',
    '127.0.0.1',
    '-p',
    String(SANDBOX_PORTS.redis),
    '--no-raw',
    'HGET',
    'sip_inbound_trunk',
    LOCKED_TRUNK,
  ]);

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
      expect(row.rows[0]).toMatchObject({
        twilio_phone_number: line.phoneNumber,
        provider: 'telnyx',
        livekit_trunk_id: line.trunkId,
        dispatch_rule_id: line.dispatchRuleId,
      });
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
    for (const [number, trunkId] of [
      ['+14144007103', 'ST_LWgmiBSwTk7P'],
      ['+17473897673', 'ST_3KMJ5YEjF2fF'],
    ]) {
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

  test.each([
    [
      'a second Twilio trunk entry naming it',
      'twilioTrunks',
      { trunkId: LOCKED_TRUNK, numbers: ['+14697000001'] },
      'linesInService.twilioTrunks[1].trunkId',
    ],
    [
      'the same entry with other numbers',
      'twilioTrunks',
      { trunkId: LOCKED_TRUNK, numbers: ['+14697000002'] },
      'linesInService.twilioTrunks[1].trunkId',
    ],
    [
      "a church's line in service on it",
      'churches',
      { churchId: 'sneaky', name: 'Sneaky', phoneNumber: '+14697000001', trunkId: LOCKED_TRUNK },
      'linesInService.churches[2].trunkId',
    ],
  ])(
    'a config entry that names the locked trunk (%s) is refused; LiveKit keeps it byte for byte',
    async (_what, list, entry, field) => {
      const before = lockedTrunkBytes();
      const undo = editStackConfig(stack, (config) => {
        const lines = config['churchwise-voice:linesInService'] as Record<string, unknown[]>;
        lines[list] = [...lines[list], entry];
      });
      try {
        for (const args of [['preview'], ['up', '--yes', '--skip-preview']]) {
          const run = await stack.cli(args);
          expect(run.code).not.toBe(0);
          expect(run.stdout + run.stderr).toContain(`trunk ${LOCKED_TRUNK} is LOCKED (lockedLiveKitIds)`);
          expect(run.stdout + run.stderr).toContain(field);
        }
        expect(lockedTrunkBytes().equals(before)).toBe(true);
      } finally {
        undo();
      }
      // Taken back out, the stack is as clean as before.
      expect((await stack.cli(['preview', '--expect-no-changes'])).code).toBe(0);
    },
  );

  test('the lines in service own their dispatch rules: adopted by trunk, nothing created', async () => {
    const state = JSON.parse((await stack.cli(['stack', 'export'])).stdout) as {
      deployment: { resources: Array<{ type: string; id?: string; urn: string }> };
    };
    const rules = state.deployment.resources.filter((r) => r.type.endsWith(':LiveKitSipDispatchRule'));
    for (const trunkId of ['ST_LWgmiBSwTk7P', 'ST_3KMJ5YEjF2fF']) {
      const live = await sip.listSipDispatchRule({ trunkIds: [trunkId] } as never);
      expect(live).toHaveLength(1);
      expect(rules.map((r) => r.id)).toContain(live[0].sipDispatchRuleId);
    }
  });
});

describe('program edits that name the locked trunk', () => {
  let stack: VoiceStackFixture;
  beforeAll(async () => {
    stack = await newVoiceStack('stack-lock-program', { testRings: false });
  });
  afterAll(async () => {
    await stack?.close();
  });

  const program = (body: string) =>
    fs.writeFileSync(
      path.join(stack.work.dir, 'index.ts'),
      [
        `import { LiveKitSipInboundTrunk } from '${path.join(REPO_ROOT, 'providers', 'livekit-sip-inbound-trunk')}';`,
        `import { LiveKitSipDispatchRule } from '${path.join(REPO_ROOT, 'providers', 'livekit-sip-dispatch-rule')}';`,
        'void LiveKitSipInboundTrunk; void LiveKitSipDispatchRule;',
        body,
      ].join('\n'),
    );

  test.each([
    [
      'adopting it as an ordinary trunk',
      `new LiveKitSipInboundTrunk('mine', { adoptId: '${LOCKED_TRUNK}', numbers: ['+14697000001'] });`,
      'adoptId',
    ],
    [
      'adopting it and changing its numbers',
      `new LiveKitSipInboundTrunk('mine', { adoptId: '${LOCKED_TRUNK}', numbers: ['+14697000001', '+14697000009'] });`,
      'adoptId',
    ],
    [
      'a new dispatch rule routing its calls',
      `new LiveKitSipDispatchRule('steal', { roomPrefix: 'steal-', trunkIds: ['${LOCKED_TRUNK}'], agentMetadata: '{"churchId":"x"}' });`,
      'trunkIds[0]',
    ],
  ])('%s is refused before LiveKit is called', async (_what, body, property) => {
    const before = lockedTrunkBytes();
    const rulesBefore = await sip.listSipDispatchRule({ trunkIds: [LOCKED_TRUNK] } as never);
    program(body);
    const up = await stack.cli(['up', '--yes', '--skip-preview']);
    expect(up.code).not.toBe(0);
    expect(up.stdout + up.stderr).toMatch(
      new RegExp(`property ${property.replace(/[[\]]/g, '\\$&')} .*trunk ${LOCKED_TRUNK} is LOCKED`),
    );
    expect(lockedTrunkBytes().equals(before)).toBe(true);
    expect((await sip.listSipDispatchRule({ trunkIds: [LOCKED_TRUNK] } as never)).length).toBe(rulesBefore.length);
  });

  test('a refused credential input is named with its rule, and its value appears nowhere', async () => {
    program(
      `new LiveKitSipInboundTrunk('with-auth', { name: 'x', numbers: ['+14697000001'], authPassword: 'hunter2-never-print' } as never);`,
    );
    for (const args of [['preview'], ['preview', '--diff'], ['up', '--yes', '--skip-preview']]) {
      const run = await stack.cli(args);
      expect(run.code).not.toBe(0);
      expect(run.stdout + run.stderr).toContain(
        'input authPassword: LiveKit trunks for Telnyx must have NO authentication',
      );
      expect(run.stdout + run.stderr).not.toContain('hunter2');
    }
    expect(
      fs.readFileSync(path.join(stack.work.dir, 'state', '.pulumi', 'stacks', 'churchwise-voice', 'test.json'), 'utf8'),
    ).not.toContain('hunter2');
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
    expect(up.stdout).toMatch(
      /church bad-number is left out of this update: requestedNumber \+12120870000 cannot be bought here/,
    );
    expect((await stack.lines()).map((l) => l.churchId)).toEqual(['good-church']);
  });
});

describe('a burst of new lines on an account allowed 2 outbound calls at once', () => {
  let stack: VoiceStackFixture;
  beforeAll(async () => {
    stack = await newVoiceStack('stack-ring-limit', { testRings: true });
  });
  afterAll(async () => {
    stack?.telnyx.setChannelLimit(undefined);
    await stack?.close();
  });

  test('every line rings and passes, never more than 2 calls at a time, and Telnyx never refuses a dial', async () => {
    // Telnyx enforces the limit (403 past it); the stack's outboundCallLimit is the default, 2.
    stack.telnyx.setChannelLimit(2);
    const areaCodes = ['216', '234', '419', '440', '513'];
    for (const areaCode of areaCodes)
      await stack.addChurch({ churchId: `ring-limit-${areaCode}`, name: `Ring Limit ${areaCode}`, areaCode });
    const up = await stack.cli(['up', '--yes', '--skip-preview']);
    expect({ code: up.code, out: up.code ? up.stdout : '' }).toEqual({ code: 0, out: '' });
    const lines = await stack.lines();
    expect(lines.map((l) => [l.churchId, l.ring?.ok])).toEqual(areaCodes.map((a) => [`ring-limit-${a}`, true]));
    const dials = stack.telnyx.requests.filter((r) => r.operationId === 'DialCall');
    expect(dials.map((d) => d.status)).toEqual(areaCodes.map(() => 200));
    expect(stack.telnyx.peakConcurrentCalls()).toBeLessThanOrEqual(2);
  });
});
