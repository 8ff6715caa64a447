/**
 * The pure rules of LiveKitSipInboundTrunk: what check refuses (any auth, bad numbers, any change to a locked
 * trunk), what diff reports (in place for everything but adoptId, auth drift), and what update/delete refuse before
 * any LiveKit call. No network.
 */
import { unknownValue } from '@pulumi/pulumi/runtime/rpc';
import {
  TELNYX_NO_AUTH_REASON,
  checkLiveKitSipInboundTrunk,
  diffLiveKitSipInboundTrunk,
  looksLikeAuth,
  provider,
  type LiveKitSipInboundTrunkOutputs,
} from '../../providers/livekit-sip-inbound-trunk';
import { resetConfiguredSettings } from '../../vendors/vendor-settings';
import {
  LockedResourceError,
  LockedWithoutAdoptIdError,
  LockWithChangesError,
  NotDecommissionedError,
} from '../../providers/refusals';

const LOCKED_ID = 'ST_Xa3Bp9aixRFP';

const news = (overrides: Record<string, unknown> = {}) => ({
  name: 'church 7c1e',
  numbers: ['+14144007103'],
  ...overrides,
});

function failuresOf(inputs: Record<string, unknown>, olds: Record<string, unknown> = {}) {
  return checkLiveKitSipInboundTrunk(olds, inputs).failures ?? [];
}

/** Outputs as read from LiveKit for a plain managed trunk. */
function liveOutputs(overrides: Partial<LiveKitSipInboundTrunkOutputs> = {}): LiveKitSipInboundTrunkOutputs {
  return {
    sipTrunkId: 'ST_LWgmiBSwTk7P',
    name: 'church 7c1e',
    numbers: ['+14144007103'],
    krispEnabled: false,
    metadata: '',
    allowedAddresses: [],
    locked: false,
    decommission: false,
    allowedNumbers: [],
    authUsername: '',
    authPasswordSet: false,
    authRealm: '',
    headers: {},
    headersToAttributes: {},
    attributesToHeaders: {},
    includeHeaders: 'SIP_NO_HEADERS',
    ringingTimeoutSeconds: 0,
    maxCallDurationSeconds: 0,
    ...overrides,
  };
}

const lockedOlds = { name: 'Twilio main', numbers: ['+14696152221'], locked: true, adoptId: LOCKED_ID };

describe('checkLiveKitSipInboundTrunk', () => {
  it('accepts a plain trunk and fills the defaults', () => {
    const result = checkLiveKitSipInboundTrunk({}, news());
    expect(result.failures).toEqual([]);
    expect(result.inputs).toEqual({
      name: 'church 7c1e',
      numbers: ['+14144007103'],
      krispEnabled: false,
      metadata: '',
      allowedAddresses: [],
      locked: false,
      decommission: false,
    });
  });

  it('ignores the keys the engine adds (__provider)', () => {
    expect(failuresOf(news({ __provider: 'serialized' }))).toEqual([]);
  });

  it.each([
    'authUsername',
    'authPassword',
    'auth_password',
    'AuthPassword',
    'AUTH_USERNAME',
    'authentication',
    'username',
    'password',
    'inboundPassword',
    'credentials',
    'authRealm',
  ])('refuses authentication given as %s', (key) => {
    const failures = failuresOf(news({ [key]: 'anything' }));
    expect(failures).toEqual([{ property: key, reason: expect.stringContaining(TELNYX_NO_AUTH_REASON) }]);
    expect(failures[0].reason).toContain('LiveKit trunks for Telnyx must have NO authentication');
    expect(failures[0].reason).toContain('Telnyx sends no credentials, so a trunk with auth rejects every call');
  });

  it('refuses auth even with an empty value, and never echoes the value', () => {
    const failures = failuresOf(news({ authPassword: '', auth_username: 'hunter2-user' }));
    expect(failures.map((f) => f.property).sort()).toEqual(['authPassword', 'auth_username']);
    expect(JSON.stringify(failures)).not.toContain('hunter2');
  });

  it('does not mistake the real inputs for auth', () => {
    for (const key of [
      'name',
      'numbers',
      'krispEnabled',
      'metadata',
      'allowedAddresses',
      'locked',
      'adoptId',
      'decommission',
    ]) {
      expect(looksLikeAuth(key)).toBe(false);
    }
  });

  it('refuses an unknown input instead of ignoring it', () => {
    expect(failuresOf(news({ numbrs: ['+14144007103'] }))).toEqual([
      { property: 'numbrs', reason: expect.stringContaining('unknown input numbrs') },
    ]);
  });

  it('requires name and numbers', () => {
    const failures = failuresOf({});
    expect(failures).toEqual(
      expect.arrayContaining([
        { property: 'name', reason: 'name is required' },
        { property: 'numbers', reason: 'numbers is required' },
      ]),
    );
  });

  it('refuses a number without the leading +, naming the entry', () => {
    expect(failuresOf(news({ numbers: ['+14144007103', '14144007104'] }))).toEqual([
      { property: 'numbers[1]', reason: expect.stringContaining('leading "+"') },
    ]);
  });

  it('refuses a 555 number: it can never receive a call', () => {
    expect(failuresOf(news({ numbers: ['+14145551234'] }))).toEqual([
      { property: 'numbers[0]', reason: expect.stringContaining('555') },
    ]);
  });

  it('refuses an empty list and a repeated number', () => {
    expect(failuresOf(news({ numbers: [] }))).toEqual([
      { property: 'numbers', reason: expect.stringContaining('at least one') },
    ]);
    expect(failuresOf(news({ numbers: ['+14144007103', '+14144007103'] }))).toEqual([
      { property: 'numbers[1]', reason: expect.stringContaining('twice') },
    ]);
  });

  it('checks allowedAddresses are IPs or CIDR ranges', () => {
    expect(failuresOf(news({ allowedAddresses: ['192.76.120.10', '10.0.0.0/8', '2001:db8::/32'] }))).toEqual([]);
    expect(failuresOf(news({ allowedAddresses: ['10.0.0.0/8', 'sip.telnyx.com', '10.0.0.0/33'] }))).toEqual([
      { property: 'allowedAddresses[1]', reason: expect.stringContaining('IP address or CIDR') },
      { property: 'allowedAddresses[2]', reason: expect.stringContaining('IP address or CIDR') },
    ]);
  });

  it('checks the types of the optional inputs', () => {
    expect(failuresOf(news({ krispEnabled: 'yes', metadata: 7, decommission: 'true' }))).toEqual(
      expect.arrayContaining([
        { property: 'krispEnabled', reason: expect.stringContaining('must be a boolean') },
        { property: 'metadata', reason: expect.stringContaining('must be a string') },
        { property: 'decommission', reason: expect.stringContaining('must be a boolean') },
      ]),
    );
  });

  it('accepts values that are unknown during preview', () => {
    expect(failuresOf(news({ numbers: [unknownValue] }))).toEqual([]);
    expect(failuresOf(news({ numbers: unknownValue, name: unknownValue }))).toEqual([]);
  });

  it('refuses a locked trunk without adoptId: a locked trunk is only ever adopted', () => {
    expect(failuresOf({ locked: true })).toEqual([{ property: 'adoptId', reason: expect.stringContaining('adoptId') }]);
  });

  it('accepts a locked adoption that states only the id, and adds no defaults to compare', () => {
    const result = checkLiveKitSipInboundTrunk({}, { locked: true, adoptId: LOCKED_ID });
    expect(result.failures).toEqual([]);
    expect(result.inputs).toEqual({ locked: true, adoptId: LOCKED_ID, decommission: false });
  });

  it('refuses an adoptId that is not a trunk id', () => {
    expect(failuresOf(news({ adoptId: 'SDR_abc' }))).toEqual([
      { property: 'adoptId', reason: expect.stringContaining('ST_') },
    ]);
  });

  it('refuses ANY program change to a locked trunk, naming the lock and the trunk id', () => {
    const failures = failuresOf({ ...lockedOlds, numbers: ['+14696152221', '+14696152222'] }, lockedOlds);
    expect(failures).toEqual([
      { property: 'numbers', reason: expect.stringContaining(`trunk ${LOCKED_ID} ("Twilio main") is LOCKED`) },
    ]);
    expect(failures[0].reason).toContain('refused');
  });

  it.each([
    ['name', { name: 'renamed' }],
    ['metadata', { metadata: '{}' }],
    ['krispEnabled', { krispEnabled: true }],
    ['allowedAddresses', { allowedAddresses: ['10.0.0.1'] }],
    ['locked', { locked: false }],
    ['adoptId', { adoptId: 'ST_other1' }],
    ['decommission', { decommission: true }],
  ])('refuses changing %s on a locked trunk', (property, change) => {
    expect(failuresOf({ ...lockedOlds, ...change }, lockedOlds).map((f) => f.property)).toContain(property);
  });

  it('accepts a locked trunk whose inputs did not change (numbers in another order included)', () => {
    const olds = { ...lockedOlds, numbers: ['+14696152221', '+13658254095'] };
    expect(failuresOf({ ...olds, numbers: ['+13658254095', '+14696152221'] }, olds)).toEqual([]);
  });
});

describe('diffLiveKitSipInboundTrunk', () => {
  const inputs = (overrides: Record<string, unknown> = {}) => checkLiveKitSipInboundTrunk({}, news(overrides)).inputs!;

  it('reports nothing when the live trunk matches', () => {
    expect(diffLiveKitSipInboundTrunk('ST_LWgmiBSwTk7P', liveOutputs(), inputs())).toEqual(
      expect.objectContaining({ changes: false, replaces: [] }),
    );
  });

  it('updates numbers in place (LiveKit can update trunks)', () => {
    const diff = diffLiveKitSipInboundTrunk('ST_LWgmiBSwTk7P', liveOutputs(), inputs({ numbers: ['+14144007199'] }));
    expect(diff).toEqual(expect.objectContaining({ changes: true, replaces: [] }));
  });

  it.each([
    ['name', 'renamed'],
    ['metadata', '{"churchId":"x"}'],
    ['krispEnabled', true],
    ['allowedAddresses', ['10.0.0.1']],
  ])('updates %s in place', (key, value) => {
    const diff = diffLiveKitSipInboundTrunk('ST_LWgmiBSwTk7P', liveOutputs(), inputs({ [key]: value }));
    expect(diff).toEqual(expect.objectContaining({ changes: true, replaces: [] }));
  });

  it('ignores the order of numbers', () => {
    const olds = liveOutputs({ numbers: ['+14144007103', '+14144007104'] });
    const diff = diffLiveKitSipInboundTrunk(
      'ST_LWgmiBSwTk7P',
      olds,
      inputs({ numbers: ['+14144007104', '+14144007103'] }),
    );
    expect(diff.changes).toBe(false);
  });

  it('replaces only when adoptId changes', () => {
    const diff = diffLiveKitSipInboundTrunk('ST_LWgmiBSwTk7P', liveOutputs(), inputs({ adoptId: 'ST_other1' }));
    expect(diff).toEqual(expect.objectContaining({ changes: true, replaces: ['adoptId'], deleteBeforeReplace: false }));
  });

  it.each([
    ['authUsername', { authUsername: 'added-by-hand' }],
    ['authPasswordSet', { authPasswordSet: true }],
    ['allowedNumbers', { allowedNumbers: ['+14145550100'] }],
  ])('reports drift in %s as an in-place change, so update clears it', (_key, drift) => {
    const diff = diffLiveKitSipInboundTrunk('ST_LWgmiBSwTk7P', liveOutputs(drift), inputs());
    expect(diff).toEqual(expect.objectContaining({ changes: true, replaces: [] }));
  });

  it('still reports a program change on a locked trunk, so update refuses it', () => {
    const olds = liveOutputs({ sipTrunkId: LOCKED_ID, locked: true, adoptId: LOCKED_ID, numbers: ['+14696152221'] });
    const diff = diffLiveKitSipInboundTrunk(LOCKED_ID, olds, {
      locked: true,
      adoptId: LOCKED_ID,
      numbers: ['+14696152222'],
    });
    expect(diff.changes).toBe(true);
  });

  it('does not treat auth on a locked trunk as drift to repair (it must never be touched)', () => {
    const olds = liveOutputs({
      sipTrunkId: LOCKED_ID,
      locked: true,
      adoptId: LOCKED_ID,
      authUsername: 'twilio',
      authPasswordSet: true,
    });
    expect(diffLiveKitSipInboundTrunk(LOCKED_ID, olds, { locked: true, adoptId: LOCKED_ID }).changes).toBe(false);
  });
});

describe('provider refusals before any LiveKit call', () => {
  // No LiveKit settings at all: had a refusal below built a client, it would fail with "missing setting" instead.
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

  const lockedState = liveOutputs({ sipTrunkId: LOCKED_ID, name: 'Twilio main', locked: true, adoptId: LOCKED_ID });

  it('update of a locked trunk names the lock and the trunk id', async () => {
    const update = provider.update!(LOCKED_ID, lockedState, { ...lockedState, numbers: ['+14696152222'] });
    await expect(update).rejects.toBeInstanceOf(LockedResourceError);
    await expect(update).rejects.toMatchObject({
      kind: 'trunk',
      id: LOCKED_ID,
      objectName: 'Twilio main',
      action: 'update (numbers)',
    });
  });

  it('delete of a locked trunk is refused', async () => {
    const deletion = provider.delete!(LOCKED_ID, lockedState);
    await expect(deletion).rejects.toBeInstanceOf(LockedResourceError);
    await expect(deletion).rejects.toMatchObject({ kind: 'trunk', id: LOCKED_ID, action: 'delete' });
  });

  it('delete without decommission is refused: a trunk is a church line', async () => {
    const deletion = provider.delete!('ST_LWgmiBSwTk7P', liveOutputs());
    await expect(deletion).rejects.toBeInstanceOf(NotDecommissionedError);
    await expect(deletion).rejects.toMatchObject({ kind: 'trunk', id: 'ST_LWgmiBSwTk7P' });
  });

  it('locking a trunk is recorded without a LiveKit call, but not together with another change', async () => {
    const state = liveOutputs();
    await expect(provider.update!(state.sipTrunkId, state, { ...state, locked: true })).resolves.toEqual({
      outs: { ...state, locked: true },
    });
    const lockAndRename = provider.update!(state.sipTrunkId, state, { ...state, locked: true, name: 'x' });
    await expect(lockAndRename).rejects.toBeInstanceOf(LockWithChangesError);
    await expect(lockAndRename).rejects.toMatchObject({ kind: 'trunk', id: state.sipTrunkId, changed: ['name'] });
  });

  it('create of a locked trunk without adoptId creates nothing', async () => {
    const create = provider.create({ locked: true });
    await expect(create).rejects.toBeInstanceOf(LockedWithoutAdoptIdError);
    await expect(create).rejects.toMatchObject({ kind: 'trunk' });
  });
});
