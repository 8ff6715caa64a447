/**
 * Shared reads (providers/shared-reads.ts), as the engine's refresh uses them: every resource's `read` is served
 * from one list of the vendor account instead of one GET per resource, and gives exactly what the per-resource
 * read gives. What the founder relies on: a drift check of many churches is a handful of calls, and it still sees
 * every hand edit, every released object and every object the list does not show.
 */
import type * as pulumi from '@pulumi/pulumi';
import { provider as rowProvider, type ChurchVoiceAgentRowOutputs } from '../../providers/church-voice-agent-row';
import { LiveKitClient } from '../../vendors/livekit-client';
import { provider as ruleProvider, ruleOutputs } from '../../providers/livekit-sip-dispatch-rule';
import { provider as trunkProvider, trunkOutputs } from '../../providers/livekit-sip-inbound-trunk';
import { PRODUCTION_FQDN_CONNECTION_ID, resetConfiguredSettings } from '../../vendors/vendor-settings';
import { forgetSharedLists, setSharedReads } from '../../providers/shared-reads';
import { provider as numberProvider, type TelnyxPhoneNumberOutputs } from '../../providers/telnyx-phone-number';
import {
  LIVEKIT_INBOUND_CONNECTION,
  LIVEKIT_INBOUND_FQDN,
  startTelnyxStandIn,
  type TelnyxStandIn,
} from '../../sandbox/telnyx/standin';
import { startSupabaseSandbox, type SupabaseSandbox } from '../support/supabase-sandbox';
import { byHand, CreatedObjects, useSandboxLivekit } from '../support/livekit';
import { randomE164, uniqueName } from '../support/unique';

let standIn: TelnyxStandIn;
let supabase: SupabaseSandbox;
let livekit: Awaited<ReturnType<typeof useSandboxLivekit>>;
const created = new CreatedObjects();

/** Calls of one LiveKit RPC (e.g. ListSIPInboundTrunk) among the fetches a spy saw. */
const rpcCalls = (spy: jest.SpyInstance, rpc: string) =>
  spy.mock.calls.filter(([url]) => String(url).endsWith(`/${rpc}`)).length;

const NUMBERS = ['+14142010011', '+14142010012', '+14142010013', '+14142010014'];

beforeAll(async () => {
  livekit = await useSandboxLivekit();
  standIn = await startTelnyxStandIn({ connections: [LIVEKIT_INBOUND_CONNECTION], fqdns: [LIVEKIT_INBOUND_FQDN] });
  supabase = await startSupabaseSandbox('shared_reads');
  const config = new Map([
    ['churchwise-voice:telnyxApiKey', standIn.apiKey],
    ['churchwise-voice:telnyxBaseUrl', standIn.url],
    ['churchwise-voice:supabaseUrl', supabase.url],
    ['churchwise-voice:supabaseServiceKey', supabase.serviceKey],
  ]);
  await numberProvider.configure!({ config: { get: (key: string) => config.get(key) } as unknown as pulumi.Config });
});

afterAll(async () => {
  setSharedReads(false);
  await created.removeAll(livekit);
  resetConfiguredSettings();
  await standIn?.close();
  await supabase?.close();
});

afterEach(() => setSharedReads(false));

/** The state's outputs of a number as create left them (what read is handed). */
function numberState(id: string, phoneNumber: string, church: string): TelnyxPhoneNumberOutputs {
  return {
    phoneNumber,
    phoneNumberId: id,
    connectionId: PRODUCTION_FQDN_CONNECTION_ID,
    customerReference: church,
    status: 'active',
    tags: [],
    deletionLockEnabled: false,
  };
}

describe('Telnyx numbers', () => {
  let states: Array<{ id: string; outs: TelnyxPhoneNumberOutputs }>;
  beforeAll(() => {
    states = NUMBERS.map((phoneNumber, i) => {
      const record = standIn.seedPhoneNumber({
        phone_number: phoneNumber,
        connection_id: PRODUCTION_FQDN_CONNECTION_ID,
        customer_reference: `church-${i}`,
      });
      return { id: record.id, outs: numberState(record.id, phoneNumber, `church-${i}`) };
    });
  });

  test('every read of a refresh is served by one listing of the account, with what a GET per number gives', async () => {
    const oneByOne = [];
    for (const { id, outs } of states) oneByOne.push(await numberProvider.read!(id, outs));

    setSharedReads(true);
    const listsBefore =
      standIn.countRequests('GET', '/phone_numbers') - standIn.countRequests('GET', '/phone_numbers/');
    const getsBefore = standIn.countRequests('GET', '/phone_numbers/');
    const shared = await Promise.all(states.map(({ id, outs }) => numberProvider.read!(id, outs)));
    const lists =
      standIn.countRequests('GET', '/phone_numbers') - standIn.countRequests('GET', '/phone_numbers/') - listsBefore;
    expect({ lists, gets: standIn.countRequests('GET', '/phone_numbers/') - getsBefore }).toEqual({
      lists: 1,
      gets: 0,
    });
    expect(shared).toEqual(oneByOne);
  });

  test('a hand edit made before the refresh is seen; a number the list does not show is read on its own', async () => {
    const [first] = states;
    await fetch(`${standIn.url}/phone_numbers/${first.id}`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${standIn.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ tags: ['edited-by-hand'] }),
    });
    setSharedReads(true);
    const edited = await numberProvider.read!(first.id, first.outs);
    expect(edited.props?.tags).toEqual(['edited-by-hand']);

    const getsBefore = standIn.countRequests('GET', '/phone_numbers/');
    const unknown = await numberProvider.read!(
      '99999999999',
      numberState('99999999999', '+14142019999', 'gone-church'),
    );
    expect(unknown).toEqual({ id: '', props: {} });
    expect(standIn.countRequests('GET', '/phone_numbers/') - getsBefore).toBe(1);
  });

  test('forgetting the lists (what the shim does around every write) makes the next read list again', async () => {
    setSharedReads(true);
    const [, second] = states;
    const lists = () =>
      standIn.countRequests('GET', '/phone_numbers') - standIn.countRequests('GET', '/phone_numbers/');
    const before = lists();
    await numberProvider.read!(second.id, second.outs);
    await numberProvider.read!(second.id, second.outs);
    expect(lists() - before).toBe(1);
    forgetSharedLists();
    await numberProvider.read!(second.id, second.outs);
    expect(lists() - before).toBe(2);
  });
});

describe('church_voice_agents rows', () => {
  const churches = ['grace', 'hope', 'trinity'];
  let states: ChurchVoiceAgentRowOutputs[];
  beforeAll(async () => {
    states = [];
    for (const [i, church] of churches.entries()) {
      const created = await rowProvider.create({
        churchId: church,
        phoneNumber: NUMBERS[i],
        provider: 'telnyx',
        livekitTrunkId: `ST_${church}`,
        status: 'active',
      });
      states.push(created.outs!);
    }
  });

  test('every read is served by one listing of the table, with what a GET per row gives', async () => {
    const oneByOne = [];
    for (const outs of states) oneByOne.push(await rowProvider.read!(outs.churchId, outs));

    setSharedReads(true);
    const fetchSpy = jest.spyOn(globalThis, 'fetch');
    try {
      const shared = await Promise.all(states.map((outs) => rowProvider.read!(outs.churchId, outs)));
      expect(fetchSpy).toHaveBeenCalledTimes(1);
      expect(shared).toEqual(oneByOne);
    } finally {
      fetchSpy.mockRestore();
    }
  });

  test('a row deleted by hand reads as gone', async () => {
    await supabase.db.pool.query("delete from church_voice_agents where church_id = 'trinity'");
    setSharedReads(true);
    expect(await rowProvider.read!('trinity', states[2])).toEqual({ id: '', props: undefined });
  });
});

describe('LiveKit trunks and dispatch rules', () => {
  const client = () => new LiveKitClient(livekit);
  let trunks: string[];
  let rules: string[];
  beforeAll(async () => {
    trunks = [];
    rules = [];
    for (let i = 0; i < 3; i++) {
      const trunk = await client().createInboundTrunk({
        name: uniqueName('shared-read trunk'),
        numbers: [randomE164()],
        krispEnabled: true,
      });
      trunks.push(created.trunk(trunk.sipTrunkId));
      const rule = await client().createDispatchRule({
        roomPrefix: `church-shared-${i}-`,
        trunkIds: [trunk.sipTrunkId],
        agents: [{ agentName: 'churchwiseai-voice', metadata: '{}' }],
        name: uniqueName('shared-read rule'),
      });
      rules.push(created.rule(rule.sipDispatchRuleId));
    }
  });

  test('every read is served by one listing per kind, with what a read per object gives', async () => {
    const trunkState = async (id: string) => trunkOutputs((await client().getInboundTrunk(id))!, {});
    const ruleState = async (id: string) => ruleOutputs((await client().getDispatchRule(id))!, {});
    const oneByOne = [];
    for (const id of trunks) oneByOne.push(await trunkProvider.read!(id, await trunkState(id)));
    for (const id of rules) oneByOne.push(await ruleProvider.read!(id, await ruleState(id)));
    const states = [...(await Promise.all(trunks.map(trunkState))), ...(await Promise.all(rules.map(ruleState)))];

    setSharedReads(true);
    const fetchSpy = jest.spyOn(globalThis, 'fetch');
    try {
      const shared = await Promise.all([
        ...trunks.map((id, i) => trunkProvider.read!(id, states[i] as never)),
        ...rules.map((id, i) => ruleProvider.read!(id, states[trunks.length + i] as never)),
      ]);
      expect({
        trunkLists: rpcCalls(fetchSpy, 'ListSIPInboundTrunk'),
        ruleLists: rpcCalls(fetchSpy, 'ListSIPDispatchRule'),
        calls: fetchSpy.mock.calls.length,
      }).toEqual({
        trunkLists: 1,
        ruleLists: 1,
        calls: 2,
      });
      expect(shared).toEqual(oneByOne);
    } finally {
      fetchSpy.mockRestore();
    }
  });

  test('a trunk renamed by hand is seen, a trunk deleted by hand reads as gone', async () => {
    const [renamed, deleted] = trunks;
    await byHand(livekit).updateSipInboundTrunkFields(renamed, { name: 'renamed by hand' });
    await client().deleteTrunk(deleted);
    setSharedReads(true);
    const state = trunkOutputs((await client().getInboundTrunk(renamed))!, {});
    expect((await trunkProvider.read!(renamed, { ...state, name: 'before' })).props?.name).toBe('renamed by hand');
    expect(await trunkProvider.read!(deleted, state)).toEqual({ id: '', props: undefined });
  });
});
