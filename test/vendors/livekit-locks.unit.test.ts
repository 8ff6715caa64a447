/**
 * The lock belongs to the LiveKit id, not to one resource. Pure rules: whatever names a locked trunk or rule id
 * (an adoption, a rule routing the trunk, a line in service in config, a provider write under any resource) is
 * refused before LiveKit is called, and the design document's trunk stays locked whatever the setting says.
 * No network: the LiveKit settings point at a closed port, so a call that got through would fail differently.
 */
import { checkLinesInService } from '../../infra/settings';
import {
  checkLiveKitSipDispatchRule,
  provider as ruleProvider,
  type LiveKitSipDispatchRuleOutputs,
} from '../../providers/livekit-sip-dispatch-rule';
import {
  checkLiveKitSipInboundTrunk,
  provider as trunkProvider,
  type LiveKitSipInboundTrunkOutputs,
} from '../../providers/livekit-sip-inbound-trunk';
import { LiveKitClient } from '../../vendors/livekit-client';
import {
  DESIGN_LOCKED_TRUNK_ID,
  LockedObjectError,
  lockedIdFailures,
  lockedLiveKitIds,
  parseLockedIds,
  refuseLockedWrite,
} from '../../vendors/livekit-locks';
import { resetConfiguredSettings } from '../../vendors/vendor-settings';

const LOCKED = DESIGN_LOCKED_TRUNK_ID;
const CLOSED_LIVEKIT = { url: 'http://127.0.0.1:9', apiKey: 'k', apiSecret: 's' };

beforeEach(() => {
  resetConfiguredSettings();
  process.env.LIVEKIT_URL = CLOSED_LIVEKIT.url;
  process.env.LIVEKIT_API_KEY = CLOSED_LIVEKIT.apiKey;
  process.env.LIVEKIT_API_SECRET = CLOSED_LIVEKIT.apiSecret;
  delete process.env.LOCKED_LIVEKIT_IDS;
});
afterAll(() => {
  for (const key of ['LIVEKIT_URL', 'LIVEKIT_API_KEY', 'LIVEKIT_API_SECRET', 'LOCKED_LIVEKIT_IDS'])
    delete process.env[key];
});

describe('the set of locked ids (one setting)', () => {
  it('always holds the design document trunk, even when the setting lists something else or nothing', () => {
    expect([...lockedLiveKitIds([])]).toEqual([LOCKED]);
    expect([...lockedLiveKitIds(['SDR_LegacyRule01'])]).toEqual([LOCKED, 'SDR_LegacyRule01']);
  });

  it('reads a JSON list (stack config) or a comma-separated list (LOCKED_LIVEKIT_IDS)', () => {
    expect(parseLockedIds('["ST_Other0001","SDR_Rule0001"]')).toEqual(['ST_Other0001', 'SDR_Rule0001']);
    expect(parseLockedIds('ST_Other0001, SDR_Rule0001')).toEqual(['ST_Other0001', 'SDR_Rule0001']);
    process.env.LOCKED_LIVEKIT_IDS = 'ST_FromEnv0001';
    expect(lockedLiveKitIds().has('ST_FromEnv0001')).toBe(true);
  });

  it('refuses a value that is not a list of LiveKit ids, naming the setting and the rule', () => {
    expect(() => parseLockedIds('["not-an-id"]')).toThrow(
      /lockedLiveKitIds must be a list of LiveKit ids \(ST_\.\.\. or SDR_\.\.\.\)/,
    );
    expect(() => parseLockedIds('[oops')).toThrow(/lockedLiveKitIds .*unparseable JSON/);
  });
});

describe('check: any resource naming a locked id is refused', () => {
  it('a trunk adopting the locked id without locked: true (how a config entry under twilioTrunks reached it)', () => {
    const failures = checkLiveKitSipInboundTrunk({}, { adoptId: LOCKED, numbers: ['+14697000001'] }).failures ?? [];
    expect(failures).toEqual([{ property: 'adoptId', reason: expect.stringContaining(`trunk ${LOCKED} is LOCKED`) }]);
  });

  it("a church line's trunk adopting an id locked by the setting", () => {
    process.env.LOCKED_LIVEKIT_IDS = 'ST_Church00001';
    const failures =
      checkLiveKitSipInboundTrunk({}, { adoptId: 'ST_Church00001', numbers: ['+14144007103'] }).failures ?? [];
    expect(failures.map((f) => f.property)).toEqual(['adoptId']);
  });

  it('a dispatch rule routing the locked trunk, adopted or new', () => {
    const created = checkLiveKitSipDispatchRule(
      {},
      {
        roomPrefix: 'church-x-',
        trunkIds: ['ST_LWgmiBSwTk7P', LOCKED],
        agentMetadata: '{"churchId":"x"}',
      },
    ).failures;
    expect(created).toEqual([
      { property: 'trunkIds[1]', reason: expect.stringContaining(`trunk ${LOCKED} is LOCKED`) },
    ]);
    const adopted = checkLiveKitSipDispatchRule({}, { adoptByTrunk: true, trunkIds: [LOCKED] }).failures;
    expect(adopted?.map((f) => f.property)).toEqual(['trunkIds[0]']);
  });

  it('a dispatch rule whose own id is locked, unless it is the read-only locked adoption', () => {
    process.env.LOCKED_LIVEKIT_IDS = 'SDR_Legacy0001';
    expect(checkLiveKitSipDispatchRule({}, { adoptId: 'SDR_Legacy0001' }).failures?.map((f) => f.property)).toEqual([
      'adoptId',
    ]);
    expect(checkLiveKitSipDispatchRule({}, { adoptId: 'SDR_Legacy0001', locked: true }).failures).toEqual([]);
    expect(checkLiveKitSipInboundTrunk({}, { adoptId: LOCKED, locked: true }).failures).toEqual([]);
  });

  it('names the field of each failure; nothing else', () => {
    expect(lockedIdFailures('trunk', { adoptId: 'ST_LWgmiBSwTk7P' })).toEqual([]);
    expect(lockedIdFailures('dispatch rule', { trunkIds: ['ST_LWgmiBSwTk7P'] })).toEqual([]);
  });
});

describe('config: a line in service naming a locked id', () => {
  const lines = (twilioTrunkId: string) => ({
    churches: [{ churchId: 'melvindale', name: 'Melvindale', phoneNumber: '+17473897673', trunkId: 'ST_3KMJ5YEjF2fF' }],
    twilioTrunks: [
      { trunkId: 'ST_jKtes8Md7dEZ', numbers: ['+18886030316'] },
      { trunkId: twilioTrunkId, numbers: ['+14697000001'] },
    ],
  });

  it('is refused with a typed error naming the config entry', () => {
    let refused: unknown;
    try {
      checkLinesInService(lines(LOCKED), lockedLiveKitIds([]));
    } catch (error) {
      refused = error;
    }
    expect(refused).toBeInstanceOf(LockedObjectError);
    expect(refused).toMatchObject({ kind: 'trunk', id: LOCKED, via: 'linesInService.twilioTrunks[1].trunkId' });
  });

  it('a rule id locked by the setting under a Twilio trunk, or as a church dispatchRuleId, too', () => {
    const locked = lockedLiveKitIds(['SDR_Legacy0001']);
    const withRule = {
      ...lines('ST_Other000001'),
      twilioTrunks: [{ trunkId: 'ST_jKtes8Md7dEZ', numbers: ['+18886030316'], dispatchRuleIds: ['SDR_Legacy0001'] }],
    };
    expect(() => checkLinesInService(withRule, locked)).toThrow(
      expect.objectContaining({ kind: 'dispatch rule', via: 'linesInService.twilioTrunks[0].dispatchRuleIds[0]' }),
    );
    const church = {
      churches: [
        {
          churchId: 'c',
          name: 'C',
          phoneNumber: '+17473897673',
          trunkId: 'ST_3KMJ5YEjF2fF',
          dispatchRuleId: 'SDR_Legacy0001',
        },
      ],
      twilioTrunks: [],
    };
    expect(() => checkLinesInService(church, locked)).toThrow(
      expect.objectContaining({ via: 'linesInService.churches[0].dispatchRuleId' }),
    );
  });

  it('passes lines that name no locked id, unchanged', () => {
    const fine = lines('ST_Other000001');
    expect(checkLinesInService(fine, lockedLiveKitIds([]))).toBe(fine);
  });
});

describe('writes: refused by id whatever the resource state says', () => {
  // State of an older program that adopted the locked trunk as an ordinary resource (the bug this lock closes).
  const unlockedOlds = {
    sipTrunkId: LOCKED,
    name: 'twilio',
    numbers: ['+14697000001'],
    locked: false,
    decommission: true,
  } as unknown as LiveKitSipInboundTrunkOutputs;

  it('a trunk provider update or delete of the locked id, even with a state that says unlocked and decommissioned', async () => {
    await expect(
      trunkProvider.update!(LOCKED, unlockedOlds, { ...unlockedOlds, numbers: ['+14697000002'] }),
    ).rejects.toBeInstanceOf(LockedObjectError);
    await expect(trunkProvider.delete!(LOCKED, unlockedOlds)).rejects.toBeInstanceOf(LockedObjectError);
  });

  it('a rule provider update or delete of a rule that routes the locked trunk', async () => {
    const olds = {
      sipDispatchRuleId: 'SDR_Other0001',
      trunkIds: [LOCKED],
      roomPrefix: 'x-',
      locked: false,
      decommission: true,
    } as unknown as LiveKitSipDispatchRuleOutputs;
    await expect(ruleProvider.update!('SDR_Other0001', olds, { ...olds, roomPrefix: 'y-' })).rejects.toMatchObject({
      kind: 'trunk',
      id: LOCKED,
    });
    await expect(ruleProvider.delete!('SDR_Other0001', olds)).rejects.toMatchObject({ kind: 'trunk', id: LOCKED });
  });

  it('the LiveKit client itself: update and delete of the locked trunk, a new rule on it (no request is sent)', async () => {
    const client = new LiveKitClient(CLOSED_LIVEKIT);
    await expect(client.updateInboundTrunk(LOCKED, { numbers: ['+14697000002'] })).rejects.toMatchObject({
      id: LOCKED,
      action: 'update',
    });
    await expect(client.deleteTrunk(LOCKED)).rejects.toMatchObject({ id: LOCKED, action: 'delete' });
    await expect(
      client.createDispatchRule({
        roomPrefix: 'x-',
        trunkIds: [LOCKED],
        agents: [{ agentName: 'churchwiseai-voice', metadata: '{}' }],
      }),
    ).rejects.toBeInstanceOf(LockedObjectError);
  });

  it('refuseLockedWrite passes ids that are not locked', () => {
    expect(() => refuseLockedWrite('trunk', 'ST_LWgmiBSwTk7P', 'update')).not.toThrow();
    expect(() => refuseLockedWrite('dispatch rule', 'SDR_Other0001', 'delete', ['ST_LWgmiBSwTk7P'])).not.toThrow();
  });
});
