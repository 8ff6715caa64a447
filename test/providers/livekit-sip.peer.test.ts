/**
 * LiveKitSipInboundTrunk and LiveKitSipDispatchRule against the real livekit-server (SIP admin API on Redis), called
 * the way the Pulumi engine calls a dynamic provider: check, then create/read/diff/update/delete.
 */
import type * as pulumi from '@pulumi/pulumi';
import { LiveKitClient } from '../../vendors/livekit-client';
import * as ruleResource from '../../providers/livekit-sip-dispatch-rule';
import * as trunkResource from '../../providers/livekit-sip-inbound-trunk';
import type { LiveKitSettings } from '../../vendors/vendor-settings';
import { VendorError } from '../../vendors/vendor-request';
import {
  AdoptionMismatchError,
  LockedResourceError,
  NotDecommissionedError,
  NothingToAdoptError,
} from '../../providers/refusals';
import { CreatedObjects, byHand, scriptedServer, useSandboxLivekit } from '../support/livekit';
import { randomE164, uniqueName } from '../support/unique';

const trunks = trunkResource.provider;
const rules = ruleResource.provider;

let livekit: LiveKitSettings;
let client: LiveKitClient;
const created = new CreatedObjects();

beforeAll(async () => {
  livekit = await useSandboxLivekit();
  client = new LiveKitClient(livekit);
});

afterEach(async () => {
  await created.removeAll(livekit);
});

/** check as the engine runs it; a failure fails the test with the reasons. */
async function checked<T>(
  impl: pulumi.dynamic.ResourceProvider<T>,
  olds: Record<string, unknown>,
  news: Record<string, unknown>,
): Promise<T> {
  const result = await impl.check!(olds as T, news as T);
  expect(result.failures ?? []).toEqual([]);
  return result.inputs as T;
}

async function createTrunk(news: Record<string, unknown>) {
  const inputs = await checked(trunks, {}, news);
  const { id, outs } = await trunks.create(inputs);
  created.trunk(id);
  return { inputs, id, outs: outs! };
}

async function createRule(news: Record<string, unknown>) {
  const inputs = await checked(rules, {}, news);
  const { id, outs } = await adopt(rules, inputs);
  created.rule(id);
  return { inputs, id, outs: outs! };
}

/** create of an adoption: the id and the outputs it records. */
async function adopt<T, O>(impl: pulumi.dynamic.ResourceProvider<T, O>, inputs: T): Promise<{ id: string; outs: O }> {
  const { id, outs } = await impl.create(inputs);
  return { id, outs: outs! };
}

/**
 * Runs `body` with the providers reaching LiveKit through a recording proxy; returns the write RPCs they sent.
 * LiveKit is shared with tests running in parallel, so "created nothing" is read from our own requests, not from
 * how many objects LiveKit holds.
 */
async function withRecordedWrites<T>(body: () => Promise<T>): Promise<{ result: T; writes: string[] }> {
  const proxy = await scriptedServer(livekit.url, () => 'forward');
  process.env.LIVEKIT_URL = proxy.url;
  let result: T;
  try {
    result = await body();
  } finally {
    process.env.LIVEKIT_URL = livekit.url;
    await proxy.close();
  }
  // The providers did go through the proxy: no writes below means none were sent, not an unused proxy.
  expect(proxy.requests.length).toBeGreaterThan(0);
  return { result, writes: proxy.requests.filter((path) => /\/(Create|Update|Delete)SIP/.test(path)) };
}

async function updated<T, O>(impl: pulumi.dynamic.ResourceProvider<T, O>, id: string, olds: O, news: T): Promise<O> {
  return (await impl.update!(id, olds, news)).outs!;
}

async function readProps<T, O>(impl: pulumi.dynamic.ResourceProvider<T, O>, id: string, props: O): Promise<O> {
  const result = await impl.read!(id, props);
  expect(result.id).toBe(id);
  return result.props!;
}

const churchMetadata = (churchId: string) => JSON.stringify({ churchId, churchName: 'Test Church' });

describe('trunk and dispatch rule lifecycle', () => {
  it('creates, lists and deletes a SIP inbound trunk and a dispatch rule on the real livekit-server', async () => {
    const number = randomE164();
    const trunk = await createTrunk({
      name: uniqueName('church trunk'),
      numbers: [number],
      krispEnabled: true,
      decommission: true,
    });
    expect(trunk.id).toMatch(/^ST_/);
    expect(trunk.outs).toMatchObject({
      sipTrunkId: trunk.id,
      numbers: [number],
      krispEnabled: true,
      authUsername: '',
      authPasswordSet: false,
    });

    const listed = await client.listInboundTrunks();
    expect(listed.find((t) => t.sipTrunkId === trunk.id)).toMatchObject({
      numbers: [number],
      authUsername: '',
      authPassword: '',
    });

    const metadata = churchMetadata('church-lifecycle');
    const rule = await createRule({
      name: uniqueName('church rule'),
      roomPrefix: 'church-lifecycle-',
      trunkIds: [trunk.id],
      agentMetadata: metadata,
      attributes: { churchId: 'church-lifecycle' },
      decommission: true,
    });
    expect(rule.id).toMatch(/^SDR_/);
    const listedRules = await client.listDispatchRules({ trunkIds: [trunk.id] });
    expect(listedRules).toHaveLength(1);
    const onServer = listedRules[0];
    expect(onServer.sipDispatchRuleId).toBe(rule.id);
    expect(onServer.trunkIds).toEqual([trunk.id]);
    expect(onServer.rule?.rule).toMatchObject({
      case: 'dispatchRuleIndividual',
      value: { roomPrefix: 'church-lifecycle-', pin: '' },
    });
    expect(onServer.roomConfig?.agents.map((a) => ({ agentName: a.agentName, metadata: a.metadata }))).toEqual([
      { agentName: ruleResource.DEFAULT_AGENT_NAME, metadata },
    ]);
    expect(onServer.inboundNumbers).toEqual([]);
    expect(onServer.attributes).toEqual({ churchId: 'church-lifecycle' });

    // read is complete: it returns exactly what create recorded, so a refresh right after shows no drift.
    expect((await trunks.read!(trunk.id, trunk.outs)).props).toEqual(trunk.outs);
    expect((await rules.read!(rule.id, rule.outs)).props).toEqual(rule.outs);
    await expect(trunks.diff!(trunk.id, trunk.outs, trunk.inputs)).resolves.toMatchObject({ changes: false });
    await expect(rules.diff!(rule.id, rule.outs, rule.inputs)).resolves.toMatchObject({ changes: false });

    await rules.delete!(rule.id, rule.outs);
    await trunks.delete!(trunk.id, trunk.outs);
    expect((await client.listDispatchRules()).map((r) => r.sipDispatchRuleId)).not.toContain(rule.id);
    expect((await client.listInboundTrunks()).map((t) => t.sipTrunkId)).not.toContain(trunk.id);
    // Gone at LiveKit: read says so with an empty id, and the engine drops it from the state.
    expect((await trunks.read!(trunk.id, trunk.outs)).id).toBe('');
    expect((await rules.read!(rule.id, rule.outs)).id).toBe('');
  });

  it('refuses to delete a church trunk or rule that was not decommissioned, and LiveKit keeps them', async () => {
    const trunk = await createTrunk({ name: uniqueName('kept'), numbers: [randomE164()] });
    const rule = await createRule({
      roomPrefix: 'church-kept-',
      trunkIds: [trunk.id],
      agentMetadata: churchMetadata('kept'),
    });
    const ruleDelete = rules.delete!(rule.id, rule.outs);
    await expect(ruleDelete).rejects.toBeInstanceOf(NotDecommissionedError);
    await expect(ruleDelete).rejects.toMatchObject({ kind: 'dispatch rule', id: rule.id });
    const trunkDelete = trunks.delete!(trunk.id, trunk.outs);
    await expect(trunkDelete).rejects.toBeInstanceOf(NotDecommissionedError);
    await expect(trunkDelete).rejects.toMatchObject({ kind: 'trunk', id: trunk.id });
    expect(await client.getInboundTrunk(trunk.id)).toBeDefined();
    expect(await client.getDispatchRule(rule.id)).toBeDefined();
  });

  it('a create retried after a crash finds the trunk and rule the first attempt made, creating no second one', async () => {
    // The first attempt reached LiveKit, then the process died before the engine recorded the ids.
    const name = uniqueName('crashed');
    const trunk = await createTrunk({ name, numbers: [randomE164()] });
    const rule = await createRule({
      name,
      roomPrefix: 'church-crashed-',
      trunkIds: [trunk.id],
      agentMetadata: churchMetadata('crashed'),
    });
    const { result, writes } = await withRecordedWrites(async () => ({
      trunk: await trunks.create(trunk.inputs),
      rule: await rules.create(rule.inputs),
    }));
    expect(writes).toEqual([]);
    expect(result.trunk.id).toBe(trunk.id);
    expect(result.rule.id).toBe(rule.id);
  });

  it('surfaces a second trunk with the same number as the VendorError LiveKit answered, creating nothing', async () => {
    const number = randomE164();
    const first = await createTrunk({ name: uniqueName('first'), numbers: [number] });
    const inputs = await checked(trunks, {}, { name: uniqueName('second'), numbers: [number] });
    const error = await trunks.create(inputs).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(VendorError);
    expect(error).toMatchObject({ status: 400, code: 'invalid_argument' });
    expect((error as Error).message).toMatch(new RegExp(`Conflicting inbound SIP Trunks.*${first.id}.*\\${number}`));
    expect((await client.listInboundTrunks({ numbers: [number] })).map((t) => t.sipTrunkId)).toEqual([first.id]);
  });
});

describe('trunk updates in place', () => {
  it('changes numbers in place and keeps the trunk id', async () => {
    const trunk = await createTrunk({ name: uniqueName('renumber'), numbers: [randomE164()] });
    const newNumbers = [randomE164(), randomE164()];
    const news = await checked(trunks, trunk.inputs as any, { ...trunk.inputs, numbers: newNumbers });
    await expect(trunks.diff!(trunk.id, trunk.outs, news)).resolves.toMatchObject({ changes: true, replaces: [] });
    const outs = await updated(trunks, trunk.id, trunk.outs, news);
    expect(outs).toMatchObject({ sipTrunkId: trunk.id, numbers: newNumbers });
    expect((await client.getInboundTrunk(trunk.id))?.numbers).toEqual(newNumbers);
  });

  it('changes krispEnabled (not in the partial-update API) in place and keeps the other fields', async () => {
    const number = randomE164();
    const trunk = await createTrunk({ name: uniqueName('krisp'), numbers: [number], metadata: '{"churchId":"k"}' });
    const news = await checked(trunks, trunk.inputs as any, {
      ...trunk.inputs,
      krispEnabled: true,
      name: 'renamed krisp',
    });
    const outs = await updated(trunks, trunk.id, trunk.outs, news);
    expect(outs).toMatchObject({
      sipTrunkId: trunk.id,
      krispEnabled: true,
      name: 'renamed krisp',
      numbers: [number],
      metadata: '{"churchId":"k"}',
    });
    expect(await client.getInboundTrunk(trunk.id)).toMatchObject({
      krispEnabled: true,
      name: 'renamed krisp',
      numbers: [number],
    });
  });

  it('shows auth added by hand in read, never the password, and update clears it', async () => {
    const trunk = await createTrunk({ name: uniqueName('auth drift'), numbers: [randomE164()] });
    await byHand(livekit).updateSipInboundTrunkFields(trunk.id, {
      authUsername: 'added-by-hand',
      authPassword: 'pw-set-by-hand-7781',
    });

    const refreshed = await readProps(trunks, trunk.id, trunk.outs);
    expect(refreshed).toMatchObject({ authUsername: 'added-by-hand', authPasswordSet: true });
    expect(JSON.stringify(refreshed)).not.toContain('pw-set-by-hand-7781');
    await expect(trunks.diff!(trunk.id, refreshed, trunk.inputs)).resolves.toMatchObject({
      changes: true,
      replaces: [],
    });

    const outs = await updated(trunks, trunk.id, refreshed, trunk.inputs);
    expect(outs).toMatchObject({ sipTrunkId: trunk.id, authUsername: '', authPasswordSet: false });
    expect(await client.getInboundTrunk(trunk.id)).toMatchObject({ authUsername: '', authPassword: '' });
    await expect(trunks.diff!(trunk.id, outs, trunk.inputs)).resolves.toMatchObject({ changes: false });
  });

  it('clears a caller allow-list added by hand', async () => {
    const trunk = await createTrunk({ name: uniqueName('allow-list drift'), numbers: [randomE164()] });
    await byHand(livekit).updateSipInboundTrunkFields(trunk.id, {
      allowedNumbers: new (await import('@livekit/protocol')).ListUpdate({ set: [randomE164()] }),
    });
    const refreshed = await readProps(trunks, trunk.id, trunk.outs);
    expect(refreshed.allowedNumbers).toHaveLength(1);
    const outs = await updated(trunks, trunk.id, refreshed, trunk.inputs);
    expect(outs.allowedNumbers).toEqual([]);
    expect((await client.getInboundTrunk(trunk.id))?.allowedNumbers).toEqual([]);
  });
});

describe('locked and adopted trunks', () => {
  /** A trunk made outside the program, like the legacy Twilio trunk (which does use auth). */
  async function legacyTrunk() {
    const info = await byHand(livekit).createSipInboundTrunk(
      uniqueName('legacy twilio'),
      [randomE164(), randomE164()],
      {
        authUsername: 'twilio-user',
        authPassword: 'twilio-pw-4410',
      },
    );
    created.trunk(info.sipTrunkId);
    return info;
  }

  it('adopting a locked trunk creates nothing and records what LiveKit has', async () => {
    const legacy = await legacyTrunk();
    const inputs = await checked(trunks, {}, { locked: true, adoptId: legacy.sipTrunkId });
    const {
      result: { id, outs },
      writes,
    } = await withRecordedWrites(() => adopt(trunks, inputs));
    expect(writes).toEqual([]);
    expect(id).toBe(legacy.sipTrunkId);
    expect(outs).toMatchObject({
      locked: true,
      adoptId: legacy.sipTrunkId,
      numbers: legacy.numbers,
      authUsername: 'twilio-user',
      authPasswordSet: true,
    });
    expect(JSON.stringify(outs)).not.toContain('twilio-pw-4410');
    // Its auth is not "drift" to repair: a locked trunk is never touched.
    await expect(trunks.diff!(id, outs, inputs)).resolves.toMatchObject({ changes: false });
  });

  it('refuses update and delete of a locked trunk and leaves it exactly as it was', async () => {
    const legacy = await legacyTrunk();
    const inputs = await checked(trunks, {}, { locked: true, adoptId: legacy.sipTrunkId, numbers: legacy.numbers });
    const { id, outs } = await adopt(trunks, inputs);
    const snapshot = (await client.getInboundTrunk(id))!.toJsonString();

    const changed = { ...inputs, numbers: [legacy.numbers[0]] };
    const checkResult = await trunks.check!(inputs, changed);
    expect(checkResult.failures).toEqual([{ property: 'numbers', reason: expect.stringContaining(`trunk ${id}`) }]);
    expect(checkResult.failures![0].reason).toMatch(/is LOCKED .*refused/);
    await expect(trunks.diff!(id, outs, changed)).resolves.toMatchObject({ changes: true });
    const update = trunks.update!(id, outs, changed);
    await expect(update).rejects.toBeInstanceOf(LockedResourceError);
    await expect(update).rejects.toMatchObject({ kind: 'trunk', id, action: 'update (numbers)' });
    const deletion = trunks.delete!(id, { ...outs, decommission: true });
    await expect(deletion).rejects.toBeInstanceOf(LockedResourceError);
    await expect(deletion).rejects.toMatchObject({ kind: 'trunk', id, action: 'delete' });

    expect((await client.getInboundTrunk(id))!.toJsonString()).toBe(snapshot);
  });

  it('refuses to adopt a trunk that does not exist, creating nothing', async () => {
    const inputs = await checked(trunks, {}, { locked: true, adoptId: 'ST_doesNotExist1' });
    const { writes } = await withRecordedWrites(async () => {
      const create = trunks.create(inputs);
      await expect(create).rejects.toBeInstanceOf(NothingToAdoptError);
      await expect(create).rejects.toMatchObject({
        what: 'inbound trunk ST_doesNotExist1',
        holder: 'LiveKit',
        id: 'ST_doesNotExist1',
      });
    });
    expect(writes).toEqual([]);
  });

  it('refuses to adopt a trunk whose numbers differ from the program, naming both', async () => {
    const legacy = await legacyTrunk();
    const other = randomE164();
    const inputs = await checked(trunks, {}, { locked: true, adoptId: legacy.sipTrunkId, numbers: [other] });
    const create = trunks.create(inputs);
    await expect(create).rejects.toBeInstanceOf(AdoptionMismatchError);
    await expect(create).rejects.toMatchObject({
      what: `inbound trunk ${legacy.sipTrunkId}`,
      holder: 'LiveKit',
      id: legacy.sipTrunkId,
      differences: [{ field: 'numbers', holderHas: legacy.numbers, programSays: [other] }],
    });
  });

  it('adopts an unlocked trunk without creating one; the next update repairs its auth', async () => {
    const legacy = await legacyTrunk();
    const inputs = await checked(
      trunks,
      {},
      { name: legacy.name, numbers: legacy.numbers, adoptId: legacy.sipTrunkId },
    );
    const {
      result: { id, outs },
      writes,
    } = await withRecordedWrites(() => adopt(trunks, inputs));
    expect(writes).toEqual([]);
    expect(id).toBe(legacy.sipTrunkId);
    await expect(trunks.diff!(id, outs, inputs)).resolves.toMatchObject({ changes: true, replaces: [] });
    expect(await updated(trunks, id, outs, inputs)).toMatchObject({
      sipTrunkId: id,
      authUsername: '',
      authPasswordSet: false,
    });
  });
});

describe('dispatch rule updates in place', () => {
  async function churchLine() {
    const trunk = await createTrunk({ name: uniqueName('rule trunk'), numbers: [randomE164()] });
    const rule = await createRule({
      name: uniqueName('rule'),
      roomPrefix: 'church-upd-',
      trunkIds: [trunk.id],
      agentMetadata: churchMetadata('upd'),
      attributes: { churchId: 'upd', plan: 'basic' },
    });
    return { trunk, rule };
  }

  it('changes the agent metadata (roomConfig) in place and keeps the rule id', async () => {
    const { rule } = await churchLine();
    const metadata = churchMetadata('upd-2');
    const news = await checked(rules, rule.inputs as any, {
      ...rule.inputs,
      agentMetadata: metadata,
      agentName: 'churchwise-voice-canary',
    });
    await expect(rules.diff!(rule.id, rule.outs, news)).resolves.toMatchObject({ changes: true, replaces: [] });
    const outs = await updated(rules, rule.id, rule.outs, news);
    expect(outs).toMatchObject({
      sipDispatchRuleId: rule.id,
      agentName: 'churchwise-voice-canary',
      agentMetadata: metadata,
      roomPrefix: 'church-upd-',
    });
    const onServer = await client.getDispatchRule(rule.id);
    expect(onServer?.roomConfig?.agents.map((a) => [a.agentName, a.metadata])).toEqual([
      ['churchwise-voice-canary', metadata],
    ]);
    expect(onServer?.attributes).toEqual({ churchId: 'upd', plan: 'basic' });
  });

  it('changes prefix, trunks and attributes in place (a removed attribute is gone)', async () => {
    const { rule } = await churchLine();
    const secondTrunk = await createTrunk({ name: uniqueName('second trunk'), numbers: [randomE164()] });
    const news = await checked(rules, rule.inputs as any, {
      ...rule.inputs,
      roomPrefix: 'church-upd2-',
      trunkIds: [...(rule.inputs.trunkIds as string[]), secondTrunk.id],
      attributes: { churchId: 'upd' },
    });
    const outs = await updated(rules, rule.id, rule.outs, news);
    expect(outs).toMatchObject({
      sipDispatchRuleId: rule.id,
      roomPrefix: 'church-upd2-',
      attributes: { churchId: 'upd' },
    });
    const onServer = await client.getDispatchRule(rule.id);
    expect(onServer?.trunkIds.sort()).toEqual([...(rule.inputs.trunkIds as string[]), secondTrunk.id].sort());
    expect(onServer?.attributes).toEqual({ churchId: 'upd' });
    expect(onServer?.roomConfig?.agents).toHaveLength(1);
  });

  it('shows a caller filter and PIN added by hand in read (not the PIN) and update removes them', async () => {
    const { rule } = await churchLine();
    const live = (await client.getDispatchRule(rule.id))!.clone();
    live.inboundNumbers = [randomE164()];
    if (live.rule?.rule.case === 'dispatchRuleIndividual') live.rule.rule.value.pin = '8642';
    await byHand(livekit).updateSipDispatchRule(rule.id, live);

    const refreshed = await readProps(rules, rule.id, rule.outs);
    expect(refreshed).toMatchObject({ pinSet: true, inboundNumbers: live.inboundNumbers });
    expect(JSON.stringify(refreshed)).not.toContain('8642');
    await expect(rules.diff!(rule.id, refreshed, rule.inputs)).resolves.toMatchObject({ changes: true, replaces: [] });

    const outs = await updated(rules, rule.id, refreshed, rule.inputs);
    expect(outs).toMatchObject({
      sipDispatchRuleId: rule.id,
      pinSet: false,
      inboundNumbers: [],
      roomPrefix: 'church-upd-',
    });
    const onServer = await client.getDispatchRule(rule.id);
    expect(onServer?.inboundNumbers).toEqual([]);
    expect(onServer?.rule?.rule.value?.pin).toBe('');
  });

  it('refuses update and delete of a locked rule, leaving it as it was; adopting it creates nothing', async () => {
    const { trunk } = await churchLine();
    const secondTrunk = await createTrunk({ name: uniqueName('locked rule trunk'), numbers: [randomE164()] });
    const legacy = await byHand(livekit).createSipDispatchRule(
      { type: 'individual', roomPrefix: 'twilio-' },
      { trunkIds: [secondTrunk.id], name: uniqueName('legacy rule') },
    );
    created.rule(legacy.sipDispatchRuleId);

    const inputs = await checked(rules, {}, { locked: true, adoptId: legacy.sipDispatchRuleId });
    const {
      result: { id, outs },
      writes,
    } = await withRecordedWrites(() => adopt(rules, inputs));
    expect(writes).toEqual([]);
    expect(id).toBe(legacy.sipDispatchRuleId);
    const snapshot = (await client.getDispatchRule(id))!.toJsonString();

    const changed = { ...inputs, trunkIds: [trunk.id] };
    expect((await rules.check!(inputs, changed)).failures).toEqual([
      { property: 'trunkIds', reason: expect.stringMatching(new RegExp(`dispatch rule ${id} .*is LOCKED`)) },
    ]);
    const update = rules.update!(id, outs, changed);
    await expect(update).rejects.toBeInstanceOf(LockedResourceError);
    await expect(update).rejects.toMatchObject({ kind: 'dispatch rule', id, action: 'update (trunkIds)' });
    const deletion = rules.delete!(id, { ...outs, decommission: true });
    await expect(deletion).rejects.toBeInstanceOf(LockedResourceError);
    await expect(deletion).rejects.toMatchObject({ kind: 'dispatch rule', id, action: 'delete' });
    expect((await client.getDispatchRule(id))!.toJsonString()).toBe(snapshot);
  });
});
