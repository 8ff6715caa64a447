/**
 * The pure rules of LiveKitSipDispatchRule: what check refuses (no trunk = every trunk, metadata without the church
 * id, any change to a locked rule), what diff reports (in place but adoptId, routing drift), what update sends to
 * LiveKit, and what update/delete refuse before any LiveKit call. No network.
 */
import { unknownValue } from '@pulumi/pulumi/runtime/rpc';
import {
  RoomAgentDispatch,
  RoomConfiguration,
  SIPDispatchRule,
  SIPDispatchRuleInfo,
  SIPDispatchRuleIndividual,
} from 'livekit-server-sdk';
import {
  DEFAULT_AGENT_NAME,
  checkLiveKitSipDispatchRule,
  diffLiveKitSipDispatchRule,
  provider,
  ruleChanges,
  ruleOutputs,
  type LiveKitSipDispatchRuleOutputs,
} from '../../providers/livekit-sip-dispatch-rule';
import { resetConfiguredSettings } from '../../vendors/vendor-settings';
import { LockedResourceError, LockedWithoutAdoptIdError, NotDecommissionedError } from '../../providers/refusals';

const TRUNK = 'ST_LWgmiBSwTk7P';
const RULE = 'SDR_5kq9cM2nPQra';
const METADATA = JSON.stringify({ churchId: 'c0ffee00-0000-4000-8000-000000000001' });

const news = (overrides: Record<string, unknown> = {}) => ({
  roomPrefix: 'church-c0ffee00-',
  trunkIds: [TRUNK],
  agentMetadata: METADATA,
  ...overrides,
});

function failuresOf(inputs: Record<string, unknown>, olds: Record<string, unknown> = {}) {
  return checkLiveKitSipDispatchRule(olds, inputs).failures ?? [];
}

/** A rule as LiveKit stores it after our create. */
function liveRule(overrides: Partial<SIPDispatchRuleInfo> = {}): SIPDispatchRuleInfo {
  return new SIPDispatchRuleInfo({
    sipDispatchRuleId: RULE,
    rule: new SIPDispatchRule({
      rule: {
        case: 'dispatchRuleIndividual',
        value: new SIPDispatchRuleIndividual({ roomPrefix: 'church-c0ffee00-' }),
      },
    }),
    trunkIds: [TRUNK],
    roomConfig: new RoomConfiguration({
      agents: [new RoomAgentDispatch({ agentName: DEFAULT_AGENT_NAME, metadata: METADATA })],
    }),
    ...overrides,
  });
}

const managedInputs = (overrides: Record<string, unknown> = {}) =>
  checkLiveKitSipDispatchRule({}, news(overrides)).inputs!;

describe('checkLiveKitSipDispatchRule', () => {
  it('accepts a church rule and fills the defaults (the one multi-tenant agent)', () => {
    const result = checkLiveKitSipDispatchRule({}, news());
    expect(result.failures).toEqual([]);
    expect(result.inputs).toEqual({
      roomPrefix: 'church-c0ffee00-',
      trunkIds: [TRUNK],
      agentName: DEFAULT_AGENT_NAME,
      agentMetadata: METADATA,
      name: '',
      metadata: '',
      attributes: {},
      locked: false,
      decommission: false,
    });
  });

  it('requires roomPrefix, trunkIds and agentMetadata', () => {
    expect(
      failuresOf({})
        .map((f) => f.property)
        .sort(),
    ).toEqual(['agentMetadata', 'roomPrefix', 'trunkIds']);
  });

  it('refuses a rule without trunks: it would catch calls on every trunk, the legacy Twilio lines included', () => {
    expect(failuresOf(news({ trunkIds: [] }))).toEqual([
      { property: 'trunkIds', reason: expect.stringContaining('EVERY trunk') },
    ]);
  });

  it('refuses a trunk id that is not one, and a repeated one', () => {
    expect(failuresOf(news({ trunkIds: [TRUNK, 'trunk-1', TRUNK] }))).toEqual([
      { property: 'trunkIds[1]', reason: expect.stringContaining('ST_') },
      { property: 'trunkIds[2]', reason: expect.stringContaining('twice') },
    ]);
  });

  it('refuses agentMetadata that is not JSON, not an object, or has no church id', () => {
    expect(failuresOf(news({ agentMetadata: 'church 7' }))).toEqual([
      { property: 'agentMetadata', reason: expect.stringContaining('JSON') },
    ]);
    expect(failuresOf(news({ agentMetadata: '[1]' }))).toEqual([
      { property: 'agentMetadata', reason: expect.stringContaining('JSON object') },
    ]);
    expect(failuresOf(news({ agentMetadata: '{"churchName":"x"}' }))).toEqual([
      { property: 'agentMetadata', reason: expect.stringContaining('churchId') },
    ]);
  });

  it('refuses a room prefix with characters a room name should not carry', () => {
    expect(failuresOf(news({ roomPrefix: 'church 7/' }))).toEqual([
      { property: 'roomPrefix', reason: expect.stringContaining('roomPrefix') },
    ]);
  });

  it('refuses empty attribute values (LiveKit reads them as "remove") and non-string ones', () => {
    expect(failuresOf(news({ attributes: { churchId: '' } }))).toEqual([
      { property: 'attributes.churchId', reason: expect.stringContaining('must not be empty') },
    ]);
    expect(failuresOf(news({ attributes: { n: 7 } }))).toEqual([
      { property: 'attributes', reason: expect.stringContaining('map of string') },
    ]);
  });

  it('refuses an unknown input, e.g. the caller filter it must not use', () => {
    expect(failuresOf(news({ inboundNumbers: ['+14144007103'] }))).toEqual([
      { property: 'inboundNumbers', reason: expect.stringContaining('unknown input inboundNumbers') },
    ]);
  });

  it('accepts a trunk id that is unknown during preview', () => {
    expect(failuresOf(news({ trunkIds: [unknownValue] }))).toEqual([]);
    expect(failuresOf(news({ trunkIds: unknownValue, agentMetadata: unknownValue }))).toEqual([]);
  });

  it('refuses a locked rule without adoptId and accepts a bare locked adoption', () => {
    expect(failuresOf({ locked: true })).toEqual([{ property: 'adoptId', reason: expect.stringContaining('adoptId') }]);
    expect(failuresOf({ locked: true, adoptId: RULE })).toEqual([]);
  });

  it('refuses any program change to a locked rule, naming the lock and the rule id', () => {
    const olds = { locked: true, adoptId: RULE, name: 'twilio demo', trunkIds: ['ST_jKtes8Md7dEZ'] };
    const failures = failuresOf({ ...olds, trunkIds: ['ST_jKtes8Md7dEZ', TRUNK] }, olds);
    expect(failures).toEqual([
      { property: 'trunkIds', reason: expect.stringContaining(`dispatch rule ${RULE} ("twilio demo") is LOCKED`) },
    ]);
    expect(failuresOf(olds, olds)).toEqual([]);
  });
});

describe('diffLiveKitSipDispatchRule', () => {
  const outputs = (overrides: Partial<SIPDispatchRuleInfo> = {}) =>
    ruleOutputs(liveRule(overrides), { decommission: false });

  it('reports nothing when the live rule matches', () => {
    expect(diffLiveKitSipDispatchRule(RULE, outputs(), managedInputs()).changes).toBe(false);
  });

  it.each([
    ['roomPrefix', 'church-other-'],
    ['trunkIds', ['ST_other1']],
    ['agentName', 'other-agent'],
    ['agentMetadata', JSON.stringify({ churchId: 'other' })],
    ['name', 'renamed'],
    ['metadata', 'm'],
    ['attributes', { a: 'b' }],
  ])('updates %s in place', (key, value) => {
    expect(diffLiveKitSipDispatchRule(RULE, outputs(), managedInputs({ [key]: value }))).toEqual(
      expect.objectContaining({ changes: true, replaces: [] }),
    );
  });

  it('replaces only when adoptId changes', () => {
    expect(diffLiveKitSipDispatchRule(RULE, outputs(), managedInputs({ adoptId: 'SDR_other1' })).replaces).toEqual([
      'adoptId',
    ]);
  });

  it.each([
    ['a caller filter (inboundNumbers)', { inboundNumbers: ['+14144007103'] }],
    ['a called-number filter', { numbers: ['+14144007103'] }],
    ['a hidden phone number', { hidePhoneNumber: true }],
    [
      'a second agent',
      {
        roomConfig: new RoomConfiguration({
          agents: [
            new RoomAgentDispatch({ agentName: DEFAULT_AGENT_NAME, metadata: METADATA }),
            new RoomAgentDispatch({ agentName: 'x' }),
          ],
        }),
      },
    ],
  ])('reports %s added by hand as drift to repair in place', (_what, drift) => {
    expect(diffLiveKitSipDispatchRule(RULE, outputs(drift as Partial<SIPDispatchRuleInfo>), managedInputs())).toEqual(
      expect.objectContaining({ changes: true, replaces: [] }),
    );
  });

  it('reports a PIN added by hand as drift, without reading the PIN into state', () => {
    const withPin = liveRule({
      rule: new SIPDispatchRule({
        rule: {
          case: 'dispatchRuleIndividual',
          value: new SIPDispatchRuleIndividual({ roomPrefix: 'church-c0ffee00-', pin: '4321' }),
        },
      }),
    });
    const olds = ruleOutputs(withPin, {});
    expect(olds.pinSet).toBe(true);
    expect(JSON.stringify(olds)).not.toContain('4321');
    expect(diffLiveKitSipDispatchRule(RULE, olds, managedInputs()).changes).toBe(true);
  });

  it('does not treat routing quirks of a locked rule as drift', () => {
    const olds: LiveKitSipDispatchRuleOutputs = { ...outputs({ hidePhoneNumber: true }), locked: true, adoptId: RULE };
    expect(diffLiveKitSipDispatchRule(RULE, olds, { locked: true, adoptId: RULE }).changes).toBe(false);
  });
});

describe('ruleChanges (what update sends)', () => {
  it('sends nothing when the live rule matches', () => {
    expect(ruleChanges(liveRule(), managedInputs())).toEqual({});
  });

  it('changes the agent through roomConfig when the metadata changes', () => {
    const metadata = JSON.stringify({ churchId: 'other' });
    expect(ruleChanges(liveRule(), managedInputs({ agentMetadata: metadata }))).toEqual({
      agents: [{ agentName: DEFAULT_AGENT_NAME, metadata }],
    });
  });

  it('resets routing drift and keeps the rest', () => {
    expect(ruleChanges(liveRule({ inboundNumbers: ['+14144007103'] }), managedInputs({ name: 'n' }))).toEqual({
      name: 'n',
      resetRouting: true,
    });
  });
});

describe('provider refusals before any LiveKit call', () => {
  const saved = { ...process.env };
  beforeEach(() => {
    delete process.env.LIVEKIT_URL;
    delete process.env.LIVEKIT_API_KEY;
    delete process.env.LIVEKIT_API_SECRET;
    resetConfiguredSettings();
  });
  afterAll(() => {
    process.env = saved;
  });

  const lockedState: LiveKitSipDispatchRuleOutputs = {
    ...ruleOutputs(liveRule({ name: 'twilio demo' }), { locked: true, adoptId: RULE }),
  };

  it('update of a locked rule names the lock and the rule id', async () => {
    const update = provider.update!(RULE, lockedState, { ...lockedState, roomPrefix: 'x-' });
    await expect(update).rejects.toBeInstanceOf(LockedResourceError);
    await expect(update).rejects.toMatchObject({
      kind: 'dispatch rule',
      id: RULE,
      objectName: 'twilio demo',
      action: 'update (roomPrefix)',
    });
  });

  it('delete of a locked rule is refused, and of any rule without decommission', async () => {
    const lockedDelete = provider.delete!(RULE, lockedState);
    await expect(lockedDelete).rejects.toBeInstanceOf(LockedResourceError);
    await expect(lockedDelete).rejects.toMatchObject({ kind: 'dispatch rule', id: RULE, action: 'delete' });
    const unlockedDelete = provider.delete!(RULE, { ...lockedState, locked: false });
    await expect(unlockedDelete).rejects.toBeInstanceOf(NotDecommissionedError);
    await expect(unlockedDelete).rejects.toMatchObject({ kind: 'dispatch rule', id: RULE });
  });

  it('create of a locked rule without adoptId creates nothing', async () => {
    const create = provider.create({ locked: true });
    await expect(create).rejects.toBeInstanceOf(LockedWithoutAdoptIdError);
    await expect(create).rejects.toMatchObject({ kind: 'dispatch rule' });
  });
});
