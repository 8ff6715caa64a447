/**
 * The fleet split into shard stacks, as the founder does it: a fleet that is one stack of 20 churches (built by the
 * real engine), `churchwise fleet shard --size 8 --dry-run`, then the split itself, then the fleet commands and the
 * worker on the shards. The vendors are the test's own Telnyx stand-in and the shared livekit-server; every call to
 * them during the split is counted.
 */
import { SANDBOX_LIVEKIT } from '../../sandbox/livekit';
import { SipClient } from 'livekit-server-sdk';
import { createLogger } from '../../common/logger';
import { getChurch, getFleetLayout, enqueue } from '../../registry';
import { fleetRunners, VoiceStackRunner } from '../../stacks/provisioning-run';
import { runPulumi } from '../../engine/pulumi-cli';
import { openVoiceStack } from '../../engine/voice-stack';
import { ProvisioningWorker } from '../../worker/provisioning-worker';
import type { FleetDriftReport, FleetLine } from '../../checks/fleet-checks';
import type { SplitPlan, SplitResult } from '../../stacks/fleet-split';
import { founderCli, jsonOf, sharedLivekit } from '../support/founder-cli';
import { newVoiceStack, TEST_STACK, type VoiceStackFixture } from '../support/voice-stack';

const AREA_CODES = ['214', '312', '414', '512', '612', '713', '818', '918', '330', '469'];
const CHURCHES = Array.from({ length: 20 }, (_, i) => ({
  churchId: `split-${String(i + 1).padStart(2, '0')}`,
  name: `Split Church ${i + 1}`,
  areaCode: AREA_CODES[i % AREA_CODES.length],
}));
const SHARD = (n: number) => `${TEST_STACK}-shard-${String(n).padStart(3, '0')}`;

const sip = new SipClient(SANDBOX_LIVEKIT.url, SANDBOX_LIVEKIT.apiKey, SANDBOX_LIVEKIT.apiSecret);

/** Every LiveKit trunk and rule of this test's lines, as LiveKit serves them (to compare before and after). */
async function liveKitObjects(trunkIds: string[], ruleIds: string[]): Promise<string> {
  const trunks = (await sip.listSipInboundTrunk()).filter((t) => trunkIds.includes(t.sipTrunkId));
  const rules = (await sip.listSipDispatchRule()).filter((r) => ruleIds.includes(r.sipDispatchRuleId));
  return JSON.stringify({
    trunks: trunks.map((t) => t.toJson()).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
    rules: rules.map((r) => r.toJson()).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
  });
}

describe('a one-stack fleet split into shard stacks', () => {
  let stack: VoiceStackFixture;
  const trunkIds: string[] = [];
  const ruleIds: string[] = [];

  beforeAll(async () => {
    stack = await newVoiceStack('fleet-split', { testRings: false });
    for (const church of CHURCHES) await stack.addChurch(church);
    const built = await new VoiceStackRunner(stack.options).provision({ reason: 'the fleet before the split' });
    expect(built.failures ?? []).toEqual([]);
    for (const line of await stack.lines()) {
      trunkIds.push(line.trunkId);
      ruleIds.push(line.dispatchRuleId!);
    }
    expect(trunkIds).toHaveLength(20);
  }, 600_000);

  afterAll(async () => {
    const livekit = sharedLivekit();
    for (const id of ruleIds) await livekit.deleteDispatchRule(id).catch(() => undefined);
    for (const id of trunkIds) await livekit.deleteTrunk(id).catch(() => undefined);
    await stack?.close();
  });

  test('the dry run says what moves where, and writes nothing', async () => {
    const before = await liveKitObjects(trunkIds, ruleIds);
    const requests = stack.telnyx.requests.length;
    const dry = await founderCli(stack, ['fleet', 'shard', '--size', '8', '--dry-run', '--json']);
    expect(dry.code).toBe(0);
    const plan = jsonOf<SplitPlan>(dry);
    expect(plan.moves.map((m) => [m.stack, m.churches.length, m.urns.length])).toEqual([
      [SHARD(0), 8, 8],
      [SHARD(1), 8, 8],
      [SHARD(2), 4, 4],
    ]);
    // Each line is its number, trunk, rule and row under one component (the ring is off in this stack).
    expect(plan.resourcesToMove).toBe(20 * 5);

    const text = await founderCli(stack, ['fleet', 'shard', '--size', '8', '--dry-run']);
    expect(text.stdout).toContain('Dry run: nothing is written, no vendor is called.');
    expect(text.stdout).toMatch(new RegExp(`${SHARD(2)}\\s+4\\s+4`));

    expect(await getFleetLayout(stack.db.pool)).toEqual({ migrating: false });
    expect((await getChurch(stack.db.pool, 'split-01'))?.shard).toBeNull();
    expect(stack.telnyx.requests.length).toBe(requests);
    expect(await liveKitObjects(trunkIds, ruleIds)).toBe(before);
  }, 300_000);

  test('the split moves state only: 0 vendor calls, and every stack previews with no changes', async () => {
    const before = await liveKitObjects(trunkIds, ruleIds);
    const requests = stack.telnyx.requests.length;
    const orders = stack.telnyx.state.numberOrders.size;

    const split = await founderCli(stack, ['fleet', 'shard', '--size', '8', '--json']);
    expect({ code: split.code, stderr: split.code ? split.stderr : '' }).toEqual({ code: 0, stderr: '' });
    const result = jsonOf<SplitResult>(split);
    expect(result.stateMoves).toBe(3);
    expect(result.outputsWritten).toBe(4);
    expect(result.previews.map((p) => [p.stack, p.changes])).toEqual([
      [TEST_STACK, 0],
      [SHARD(0), 0],
      [SHARD(1), 0],
      [SHARD(2), 0],
    ]);
    expect(split.stderr).toContain(`${SHARD(2)}: 4 line(s) moved from ${TEST_STACK}`);

    // Not one request reached Telnyx (no order, no update, no delete), LiveKit's objects are byte for byte the same.
    expect(stack.telnyx.requests.slice(requests)).toEqual([]);
    expect(stack.telnyx.state.numberOrders.size).toBe(orders);
    expect(await liveKitObjects(trunkIds, ruleIds)).toBe(before);

    expect(await getFleetLayout(stack.db.pool)).toMatchObject({ shardSize: 8, migrating: false });
    expect((await getChurch(stack.db.pool, 'split-01'))?.shard).toBe(0);
    expect((await getChurch(stack.db.pool, 'split-20'))?.shard).toBe(2);

    // Plain Pulumi on one shard stack: the founder's `pulumi preview` there agrees.
    const plain = await runPulumi(['preview', '--expect-no-changes', '--stack', SHARD(1)], {
      cwd: stack.work.dir,
      env: stack.work.env(stack.vendorEnv),
    });
    expect({ code: plain.code, out: plain.code ? plain.stdout + plain.stderr : '' }).toEqual({ code: 0, out: '' });
  }, 600_000);

  test('fleet lines and fleet drift cover every stack; a hand edit in one shard is drift of the fleet', async () => {
    const lines = await founderCli(stack, ['fleet', 'lines', '--json']);
    expect(lines.code).toBe(0);
    const all = jsonOf<{ lines: FleetLine[] }>(lines).lines;
    expect(all).toHaveLength(20);
    expect(all.find((l) => l.churchId === 'split-09')?.stack).toBe(SHARD(1));
    const table = await founderCli(stack, ['fleet', 'lines']);
    expect(table.stdout).toMatch(new RegExp(`${SHARD(2)}\\s+Split Church 20`));

    const clean = await founderCli(stack, ['fleet', 'drift', '--json', '--parallel', '2']);
    expect(clean.code).toBe(0);
    const report = jsonOf<FleetDriftReport>(clean);
    expect(report.drift).toBe(false);
    // Numbers of one shard are not "unmanaged" because another shard does not own them.
    expect(report.unmanaged.numbers).toEqual([]);
    expect(report.stacks.map((s) => [s.stack, s.checked])).toEqual([
      [TEST_STACK, true],
      [SHARD(0), true],
      [SHARD(1), true],
      [SHARD(2), true],
    ]);
    expect(clean.stderr).toMatch(/\[4\/4\] /);

    const edited = all.find((l) => l.churchId === 'split-10')!;
    const trunk = (await sip.listSipInboundTrunk()).find((t) => t.sipTrunkId === edited.trunkId)!;
    await sip.updateSipInboundTrunkFields(trunk.sipTrunkId, { name: 'renamed by hand' });
    const drifted = await founderCli(stack, ['fleet', 'drift', '--json']);
    expect(drifted.code).toBe(2);
    const found = jsonOf<FleetDriftReport>(drifted).churches.find((c) => c.churchId === 'split-10');
    expect(found?.resources.map((r) => r.properties.map((p) => p.property))).toEqual([['name']]);
    await sip.updateSipInboundTrunkFields(trunk.sipTrunkId, { name: trunk.name });
  }, 600_000);

  test("a purchase after the split runs only its own shard's stack; two shards' jobs run as two runs", async () => {
    const pool = stack.db.pool;
    await stack.addChurch({ churchId: 'split-21', name: 'After The Split', areaCode: '214' });
    expect((await getChurch(pool, 'split-21'))?.shard).toBe(2); // the lowest shard with room (4 of 8)
    const worker = new ProvisioningWorker({
      pool,
      ...fleetRunners(stack.options),
      logger: createLogger({ level: 'silent', secrets: [] }),
      stackName: TEST_STACK,
      retry: { maxAttempts: 1, baseDelayMs: 10, maxDelayMs: 10 },
    });
    await enqueue(pool, 'split-21', 'purchase');
    const purchase = await worker.runOnce();
    expect(purchase.stack).toBe(SHARD(2));
    expect(purchase.settled.map((j) => [j.churchId, j.state])).toEqual([['split-21', 'succeeded']]);
    expect(purchase.result?.failures).toEqual([]);
    // The run targeted split-21 alone: the shard's other lines stay in its output, and it previews with no changes.
    const fleet = (await founderCli(stack, ['fleet', 'lines', '--json']).then((r) => jsonOf<{ lines: FleetLine[] }>(r)))
      .lines;
    const line = fleet.find((l) => l.churchId === 'split-21')!;
    expect(line.stack).toBe(SHARD(2));
    expect(
      fleet
        .filter((l) => l.stack === SHARD(2))
        .map((l) => l.churchId)
        .sort(),
    ).toEqual(['split-17', 'split-18', 'split-19', 'split-20', 'split-21']);
    const whole = await runPulumi(['preview', '--expect-no-changes', '--stack', SHARD(2)], {
      cwd: stack.work.dir,
      env: stack.work.env(stack.vendorEnv),
    });
    expect({ code: whole.code, out: whole.code ? whole.stdout + whole.stderr : '' }).toEqual({ code: 0, out: '' });
    // The purchase created the new line (component, number, trunk, rule, row) and changed nothing else: the other
    // lines of the shard were not targeted, so the engine could not have updated or deleted one of them.
    const [purchaseUpdate] = await (await openVoiceStack({ ...stack.options, stackName: SHARD(2) })).history(1);
    expect(purchaseUpdate.resourceChanges).toEqual({ create: 5, same: 4 * 5 + 1 });
    trunkIds.push(line.trunkId!);
    ruleIds.push(line.dispatchRuleId!);

    await enqueue(pool, 'split-02', 'renamed');
    await enqueue(pool, 'split-12', 'renamed');
    const both = await worker.runStacksWithWork();
    expect(both.map((r) => [r.stack, r.jobs.map((j) => j.churchId)]).sort()).toEqual([
      [SHARD(0), ['split-02']],
      [SHARD(1), ['split-12']],
    ]);
    expect(both.flatMap((r) => r.settled.map((j) => j.state))).toEqual(['succeeded', 'succeeded']);
  }, 600_000);
});
