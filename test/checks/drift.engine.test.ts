/**
 * The drift report as the founder runs it (`npm run drift`), against a real stack: the real Pulumi CLI and engine,
 * the shared livekit-server, the test's own Telnyx stand-in, PostgreSQL and PostgREST. Each hand edit is made the
 * way a person would make it (LiveKit's API, Telnyx's API, SQL on the table), then the report must show it under
 * the church whose line it broke, with the exit code a script can act on.
 */
import { ListUpdate } from '@livekit/protocol';
import { SipClient } from 'livekit-server-sdk';
import { SANDBOX_LIVEKIT } from '../../sandbox/livekit';
import { ensureMailpit, getMessage, messagesTo } from '../../sandbox/mailpit';
import { LIVEKIT_INBOUND_CONNECTION } from '../../sandbox/telnyx/standin';
import type { DriftReport, DriftedResource } from '../../checks/drift';
import { newVoiceStack, type VoiceStackFixture, type LiveLine } from '../support/voice-stack';
import { randomE164 } from '../support/unique';
import {
  addPortalConnection,
  founderCli,
  jsonOf,
  removeStackObjects,
  sharedLivekit,
  telnyxApi,
} from '../support/founder-cli';

const sip = new SipClient(SANDBOX_LIVEKIT.url, SANDBOX_LIVEKIT.apiKey, SANDBOX_LIVEKIT.apiSecret);
const livekitConnection = LIVEKIT_INBOUND_CONNECTION.id;

const CHURCHES = [
  { churchId: 'drift-trunk-akron', name: 'Trunk Akron', areaCode: '330' },
  { churchId: 'drift-number-tulsa', name: 'Number Tulsa', areaCode: '918' },
  { churchId: 'drift-row-milwaukee', name: 'Row Milwaukee', areaCode: '414' },
];

function resourcesOf(report: DriftReport, churchId: string): DriftedResource[] {
  return report.churches.find((c) => c.churchId === churchId)?.resources ?? [];
}

/** The section of the human report under one church's heading. */
function sectionOf(text: string, churchId: string): string {
  const start = text.indexOf(`(${churchId})\n`);
  if (start < 0) return '';
  const next = text.indexOf('\n== ', start);
  return next < 0 ? text.slice(start) : text.slice(start, next);
}

/** `pulumi up`, with --refresh when it must see hand edits (the update the report's sentences are about). */
async function up(stack: VoiceStackFixture, ...flags: string[]): Promise<void> {
  const result = await stack.cli(['up', '--yes', '--skip-preview', ...flags]);
  expect({ code: result.code, out: result.code ? result.stdout + result.stderr : '' }).toEqual({ code: 0, out: '' });
}

describe('npm run drift', () => {
  let stack: VoiceStackFixture;
  let lines: Map<string, LiveLine>;
  const handMade = { trunkIds: [] as string[], ruleIds: [] as string[] };

  beforeAll(async () => {
    stack = await newVoiceStack('drift', { testRings: false });
    for (const church of CHURCHES) await stack.addChurch(church);
    await up(stack);
    lines = new Map((await stack.lines()).map((l) => [l.churchId, l]));
  });
  afterAll(async () => {
    if (stack) await removeStackObjects(stack, handMade);
    await stack?.close();
  });

  test('a clean stack: exit 0 and nothing to report', async () => {
    const json = await founderCli(stack, ['drift', '--json']);
    expect(json.code).toBe(0);
    const report = jsonOf<DriftReport>(json);
    expect(report).toMatchObject({
      stack: 'test',
      drift: false,
      churches: [],
      unmanaged: { numbers: [], trunks: [], dispatchRules: [] },
    });

    const text = await founderCli(stack, ['drift']);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('No drift on stack test');
  });

  test('a row deleted and put back by hand with the same content is not drift (its timestamps are not managed)', async () => {
    const milwaukee = lines.get('drift-row-milwaukee')!;
    const { rows } = await stack.db.pool.query('select * from church_voice_agents where church_id = $1', [
      milwaukee.churchId,
    ]);
    const row = rows[0] as Record<string, unknown>;
    await stack.db.pool.query('delete from church_voice_agents where church_id = $1', [milwaukee.churchId]);
    const columns = ['church_id', 'twilio_phone_number', 'provider', 'livekit_trunk_id', 'dispatch_rule_id', 'status'];
    await stack.db.pool.query(
      `insert into church_voice_agents (${columns.join(', ')}) values (${columns.map((_, i) => `$${i + 1}`).join(', ')})`,
      columns.map((c) => row[c]),
    );
    const restored = await stack.db.pool.query('select created_at from church_voice_agents where church_id = $1', [
      milwaukee.churchId,
    ]);
    expect(restored.rows[0].created_at).not.toEqual(row.created_at);

    const json = await founderCli(stack, ['drift', '--json']);
    expect({ code: json.code, churches: jsonOf<DriftReport>(json).churches }).toEqual({ code: 0, churches: [] });
  });

  test('a trunk renumbered (and given auth) in LiveKit, a number moved to another connection, a deleted row: each under its church, exit 2; pulumi up puts them back', async () => {
    const akron = lines.get('drift-trunk-akron')!;
    const tulsa = lines.get('drift-number-tulsa')!;
    const milwaukee = lines.get('drift-row-milwaukee')!;

    const extra = randomE164('330');
    await sip.updateSipInboundTrunkFields(akron.trunkId, {
      numbers: new ListUpdate({ set: [akron.phoneNumber, extra] }),
      authUsername: 'telnyx',
      authPassword: 'set-by-hand',
    });
    const otherConnection = '1999999999999999001';
    addPortalConnection(stack, otherConnection, 'Hand-made connection');
    const [tulsaRecord] = (
      await telnyxApi(stack, 'GET', `/phone_numbers?filter[phone_number]=${tulsa.phoneNumber.slice(1)}`)
    ).data;
    await telnyxApi(stack, 'PATCH', `/phone_numbers/${tulsaRecord.id}`, { connection_id: otherConnection });
    await stack.db.pool.query('delete from church_voice_agents where church_id = $1', ['drift-row-milwaukee']);

    const json = await founderCli(stack, ['drift', '--json']);
    expect(json.code).toBe(2);
    const report = jsonOf<DriftReport>(json);
    expect(report.drift).toBe(true);

    const [trunk] = resourcesOf(report, 'drift-trunk-akron');
    expect(trunk).toMatchObject({
      resource: 'church-drift-trunk-akron-trunk',
      kind: 'trunk',
      id: akron.trunkId,
      state: 'changed',
      upStep: 'update',
    });
    const numbers = trunk.properties.find((p) => p.property === 'numbers')!;
    expect(numbers.before).toEqual([akron.phoneNumber]);
    expect([...(numbers.after as string[])].sort()).toEqual([akron.phoneNumber, extra].sort());
    expect(trunk.properties).toContainEqual({ property: 'authUsername', before: '', after: 'telnyx' });
    // LiveKit's answer carries no password and neither does the report: only whether one is set.
    expect(trunk.properties).toContainEqual({ property: 'authPasswordSet', before: false, after: true });
    expect(json.stdout).not.toContain('set-by-hand');

    const [number] = resourcesOf(report, 'drift-number-tulsa');
    expect(number).toMatchObject({ kind: 'number', id: tulsaRecord.id, state: 'changed', upStep: 'update' });
    expect(number.properties).toContainEqual({
      property: 'connectionId',
      before: livekitConnection,
      after: otherConnection,
    });

    const [row] = resourcesOf(report, 'drift-row-milwaukee');
    expect(row).toMatchObject({ kind: 'row', id: 'drift-row-milwaukee', state: 'missing', upStep: 'create' });

    // Nothing else: the other resources of these churches (and the fleet's) did not change.
    expect(report.churches.map((c) => [c.churchId, c.resources.length]).sort()).toEqual([
      ['drift-number-tulsa', 1],
      ['drift-row-milwaukee', 1],
      ['drift-trunk-akron', 1],
    ]);

    const text = await founderCli(stack, ['drift']);
    expect(text.code).toBe(2);
    expect(sectionOf(text.stdout, 'drift-trunk-akron')).toContain(`${extra} added to trunk ${akron.trunkId} by hand`);
    expect(sectionOf(text.stdout, 'drift-trunk-akron')).toContain(
      `auth set on trunk ${akron.trunkId} by hand: LiveKit challenges Telnyx's INVITEs`,
    );
    expect(sectionOf(text.stdout, 'drift-trunk-akron')).toContain(
      `\`pulumi up --refresh\` will set the trunk's numbers back to ${akron.phoneNumber}, and remove the auth`,
    );
    expect(sectionOf(text.stdout, 'drift-number-tulsa')).toContain(
      `${tulsa.phoneNumber} moved to connection ${otherConnection} by hand (was ${livekitConnection})`,
    );
    expect(sectionOf(text.stdout, 'drift-number-tulsa')).toContain(
      `\`pulumi up --refresh\` will move it back to connection ${livekitConnection}`,
    );
    expect(sectionOf(text.stdout, 'drift-row-milwaukee')).toContain(
      `the church_voice_agents row of drift-row-milwaukee was deleted by hand: the agent cannot look the church up by ${milwaukee.phoneNumber}`,
    );

    // The report's promise holds: one `pulumi up --refresh` repairs all three, and the next report is clean.
    await up(stack, '--refresh');
    const [liveTrunk] = await sharedLivekit().listInboundTrunks({ trunkIds: [akron.trunkId] });
    expect(liveTrunk.numbers).toEqual([akron.phoneNumber]);
    expect([liveTrunk.authUsername, liveTrunk.authPassword]).toEqual(['', '']);
    expect((await telnyxApi(stack, 'GET', `/phone_numbers/${tulsaRecord.id}`)).data.connection_id).toBe(
      livekitConnection,
    );
    const after = await founderCli(stack, ['drift', '--json']);
    expect(after.code).toBe(0);
    expect(jsonOf<DriftReport>(after).churches).toEqual([]);
  });

  test('a number released and a trunk deleted by hand: warnings that pulumi up would buy a new number and create a new trunk', async () => {
    const tulsa = lines.get('drift-number-tulsa')!;
    const akron = lines.get('drift-trunk-akron')!;
    const [tulsaRecord] = (
      await telnyxApi(stack, 'GET', `/phone_numbers?filter[phone_number]=${tulsa.phoneNumber.slice(1)}`)
    ).data;
    await telnyxApi(stack, 'DELETE', `/phone_numbers/${tulsaRecord.id}`);
    await sharedLivekit().deleteTrunk(akron.trunkId);

    const result = await founderCli(stack, ['drift', '--json']);
    expect(result.code).toBe(2);
    const report = jsonOf<DriftReport>(result);
    expect(resourcesOf(report, 'drift-number-tulsa')).toContainEqual(
      expect.objectContaining({
        resource: 'church-drift-number-tulsa-number',
        id: tulsaRecord.id,
        state: 'missing',
        upStep: 'create',
      }),
    );
    expect(resourcesOf(report, 'drift-trunk-akron')).toContainEqual(
      expect.objectContaining({
        resource: 'church-drift-trunk-akron-trunk',
        id: akron.trunkId,
        state: 'missing',
        upStep: 'create',
      }),
    );
    const warnings = report.churches.flatMap((c) => c.warnings);
    expect(warnings).toContainEqual(
      expect.objectContaining({
        churchId: 'drift-number-tulsa',
        resource: 'church-drift-number-tulsa-number',
        what: 'recreate',
      }),
    );
    expect(warnings.find((w) => w.churchId === 'drift-number-tulsa')!.message).toMatch(
      new RegExp(
        `will BUY a NEW number in area code 918 for Number Tulsa \\(drift-number-tulsa\\): \\${tulsa.phoneNumber} is gone`,
      ),
    );
    expect(warnings).toContainEqual(
      expect.objectContaining({
        churchId: 'drift-trunk-akron',
        resource: 'church-drift-trunk-akron-trunk',
        what: 'recreate',
      }),
    );
    expect(warnings.find((w) => w.churchId === 'drift-trunk-akron')!.message).toContain(
      `CREATE A NEW TRUNK for Trunk Akron (drift-trunk-akron) (${akron.trunkId} is gone)`,
    );

    const text = await founderCli(stack, ['drift']);
    expect(text.code).toBe(2);
    expect(sectionOf(text.stdout, 'drift-number-tulsa')).toMatch(
      /WARNING: `pulumi up --refresh` will BUY a NEW number in area code 918/,
    );
    expect(sectionOf(text.stdout, 'drift-trunk-akron')).toContain(
      'WARNING: `pulumi up --refresh` will CREATE A NEW TRUNK',
    );

    // What the warning said is what up does: a new number in 918, a new trunk; then nothing drifts.
    await up(stack, '--refresh');
    lines = new Map((await stack.lines()).map((l) => [l.churchId, l]));
    expect(lines.get('drift-number-tulsa')!.phoneNumber).toMatch(/^\+1918\d{7}$/);
    expect(lines.get('drift-number-tulsa')!.phoneNumber).not.toBe(tulsa.phoneNumber);
    expect(lines.get('drift-trunk-akron')!.trunkId).not.toBe(akron.trunkId);
    expect((await founderCli(stack, ['drift', '--json'])).code).toBe(0);
  });

  test('a number on the connection and a trunk and a rule made by hand are reported as unmanaged (and emailed)', async () => {
    const akron = lines.get('drift-trunk-akron')!;
    const stray = randomE164('216');
    stack.telnyx.seedPhoneNumber({
      phone_number: stray,
      connection_id: livekitConnection,
      customer_reference: 'set-up-by-hand',
    });
    const livekit = sharedLivekit();
    const trunk = await livekit.createInboundTrunk({ name: 'made by hand', numbers: [stray] });
    handMade.trunkIds.push(trunk.sipTrunkId);
    // As voice-agent-livekit/scripts/setup_sip.py would: a trunk and its rule, outside the stack.
    const rule = await livekit.createDispatchRule({
      roomPrefix: 'by-hand-',
      trunkIds: [trunk.sipTrunkId],
      agents: [],
      name: 'made by hand',
    });
    handMade.ruleIds.push(rule.sipDispatchRuleId);

    const mail = await ensureMailpit();
    const founder = `founder-drift-${Date.now()}@churchwise.test`;
    const result = await founderCli(stack, ['drift', '--json', '--email'], {
      SMTP_URL: mail.smtpUrl,
      FOUNDER_EMAIL: founder,
    });
    expect(result.code).toBe(2);
    const report = jsonOf<DriftReport>(result);
    // Only this test's objects are asserted: other tests' trunks live in the same LiveKit.
    expect(report.unmanaged.numbers).toContainEqual(
      expect.objectContaining({
        phoneNumber: stray,
        connectionId: livekitConnection,
        customerReference: 'set-up-by-hand',
      }),
    );
    expect(report.unmanaged.trunks).toContainEqual(
      expect.objectContaining({ sipTrunkId: trunk.sipTrunkId, numbers: [stray], ourNumbers: [stray] }),
    );
    expect(report.unmanaged.dispatchRules).toContainEqual(
      expect.objectContaining({ sipDispatchRuleId: rule.sipDispatchRuleId, trunkIds: [trunk.sipTrunkId] }),
    );
    // The stack's own objects are never unmanaged.
    const owned = [...lines.values()];
    expect(report.unmanaged.trunks.map((t) => t.sipTrunkId)).not.toEqual(expect.arrayContaining([akron.trunkId]));
    expect(report.unmanaged.numbers.map((n) => n.phoneNumber)).not.toEqual(
      expect.arrayContaining([owned[0].phoneNumber]),
    );
    expect(report.otherTrunks.map((t) => t.sipTrunkId)).not.toContain(trunk.sipTrunkId);
    expect(report.churches).toEqual([]);

    // The command exits only after the SMTP server accepted the message: it is there now.
    const [summary] = await messagesTo(founder);
    expect(summary).toBeDefined();
    expect(summary.Subject).toBe('[ChurchWise voice] DRIFT on stack test: lines changed by hand');
    const message = await getMessage(summary.ID);
    expect(message.Text).toContain(
      `${stray} is on connection ${livekitConnection} but no resource of stack test owns it`,
    );
    expect(message.Text).toContain(`trunk ${trunk.sipTrunkId} ("made by hand") lists ${stray}`);

    // Gone again, the report is clean: the exit code follows the objects, not a memory of them.
    await livekit.deleteDispatchRule(rule.sipDispatchRuleId);
    await livekit.deleteTrunk(trunk.sipTrunkId);
    const [strayRecord] = (await telnyxApi(stack, 'GET', `/phone_numbers?filter[phone_number]=${stray.slice(1)}`)).data;
    await telnyxApi(stack, 'PATCH', `/phone_numbers/${strayRecord.id}`, { connection_id: '' });
    expect((await founderCli(stack, ['drift', '--json'])).code).toBe(0);
  });

  test('an unknown stack is an error (exit 1) that names the stacks there are, and creates nothing', async () => {
    const result = await founderCli(stack, ['drift', '--stack', 'no-such-stack']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('stack no-such-stack does not exist in this backend (stacks: test)');
    const listed = await stack.cli(['stack', 'ls', '--json']);
    expect((JSON.parse(listed.stdout) as Array<{ name: string }>).map((s) => s.name)).toEqual(['test']);
  });
});

describe('npm run drift on a fleet with the lines in service', () => {
  let stack: VoiceStackFixture;
  beforeAll(async () => {
    stack = await newVoiceStack('drift-in-service', { testRings: false, linesInService: true });
    await stack.addChurch({ churchId: 'drift-clean-akron', name: 'Clean Akron', areaCode: '330' });
    await up(stack);
  });
  afterAll(async () => {
    await stack?.close();
  });

  test('reports clean: the adopted lines own their dispatch rules, so none is unmanaged (exit 0)', async () => {
    const json = await founderCli(stack, ['drift', '--json']);
    const report = jsonOf<DriftReport>(json);
    expect({ code: json.code, unmanaged: report.unmanaged, churches: report.churches }).toEqual({
      code: 0,
      unmanaged: { numbers: [], trunks: [], dispatchRules: [] },
      churches: [],
    });
  });

  test("an adopted line's rule changed by hand is drift under its church (exit 2)", async () => {
    const [rule] = await sip.listSipDispatchRule({ trunkIds: ['ST_3KMJ5YEjF2fF'] } as never);
    await sip.updateSipDispatchRuleFields(rule.sipDispatchRuleId, { name: 'renamed by hand' } as never);
    try {
      const json = await founderCli(stack, ['drift', '--json']);
      expect(json.code).toBe(2);
      expect(resourcesOf(jsonOf<DriftReport>(json), 'melvindale-church-of-god')).toEqual([
        expect.objectContaining({
          kind: 'dispatch-rule',
          id: rule.sipDispatchRuleId,
          properties: [expect.objectContaining({ property: 'name', after: 'renamed by hand' })],
        }),
      ]);
    } finally {
      await sip.updateSipDispatchRuleFields(rule.sipDispatchRuleId, { name: rule.name } as never);
    }
  });
});
