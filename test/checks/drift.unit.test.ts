/**
 * The pure rules under the drift report and the doctor, without any peer: what counts as a changed property, how
 * the stack's config is read, which SIP hosts are LiveKit's project-NAME host.
 */
import { CONFIG_NAMESPACE } from '../../vendors/vendor-settings';
import { stackSettingsFrom } from '../../stacks/live-systems';
import { isProjectNameSipHost, sipEndpoint } from '../../checks/doctor';
import { ROW_BOOKKEEPING_OUTPUTS } from '../../providers/church-voice-agent-row';
import { changedProperties, formatValue } from '../../checks/drift';

describe('changedProperties', () => {
  test('a value changed by hand is reported with its before and after', () => {
    expect(
      changedProperties(
        { connectionId: '2925216093662349036', status: 'active' },
        { connectionId: '', status: 'active' },
      ),
    ).toEqual([{ property: 'connectionId', before: '2925216093662349036', after: '' }]);
  });

  test('list order is not drift; a member added or removed is', () => {
    expect(
      changedProperties({ numbers: ['+13301112222', '+13303334444'] }, { numbers: ['+13303334444', '+13301112222'] }),
    ).toEqual([]);
    expect(changedProperties({ numbers: ['+13301112222'] }, { numbers: ['+13301112222', '+13305550199'] })).toEqual([
      { property: 'numbers', before: ['+13301112222'], after: ['+13301112222', '+13305550199'] },
    ]);
  });

  test('absent, empty and unset mean the same (LiveKit adds empty objects the state never had)', () => {
    expect(
      changedProperties(
        { allowedNumbers: [], headers: {} },
        { media: {}, allowedNumbers: undefined, dispatchRuleId: null },
      ),
    ).toEqual([]);
  });

  test("a row restored by hand with the same content is not drift: its timestamps are the database's own", () => {
    const before = {
      churchId: 'grace',
      phoneNumber: '+13305550101',
      createdAt: '2026-11-30T10:00:00Z',
      updatedAt: '2026-11-30T10:00:00Z',
    };
    const restored = { ...before, createdAt: '2026-11-30T11:00:00Z', updatedAt: '2026-11-30T11:00:00Z' };
    expect(changedProperties(before, restored, ROW_BOOKKEEPING_OUTPUTS)).toEqual([]);
    // What the program manages still counts, beside the timestamps.
    expect(changedProperties(before, { ...restored, phoneNumber: '+13305550102' }, ROW_BOOKKEEPING_OUTPUTS)).toEqual([
      { property: 'phoneNumber', before: '+13305550101', after: '+13305550102' },
    ]);
  });

  test("the engine's own keys are not properties of the object", () => {
    expect(changedProperties({ __provider: 'old code' }, { __provider: 'new code' })).toEqual([]);
  });

  test('nested values compare by content', () => {
    expect(
      changedProperties(
        { roomConfig: { agents: [{ agentName: 'churchwiseai-voice' }] } },
        { roomConfig: { agents: [] } },
      ),
    ).toEqual([
      { property: 'roomConfig', before: { agents: [{ agentName: 'churchwiseai-voice' }] }, after: { agents: [] } },
    ]);
  });

  test('values print the way the founder reads them', () => {
    expect([
      formatValue(undefined),
      formatValue(''),
      formatValue(['+1', '+2']),
      formatValue({ a: 1 }),
      formatValue(true),
    ]).toEqual(['(none)', '""', '+1, +2', '{"a":1}', 'true']);
  });
});

describe('stackSettingsFrom', () => {
  const key = (name: string) => `${CONFIG_NAMESPACE}:${name}`;

  test("the stack's values win over Pulumi.yaml's defaults; objects arrive as JSON text", () => {
    const settings = stackSettingsFrom(
      {
        [key('livekitSipHost')]: { value: '127.0.0.1:5060', secret: false },
        [key('adoptLinesInService')]: { value: 'false', secret: false },
        [key('linesInService')]: {
          value: JSON.stringify({ twilioTrunks: [{ trunkId: 'ST_jKtes8Md7dEZ', numbers: ['+18886030316'] }] }),
          secret: false,
        },
      },
      {
        [key('livekitSipHost')]: '5u9xu5ysoly.sip.livekit.cloud:5060',
        [key('agentName')]: 'churchwiseai-voice',
        [key('lockedLiveKitIds')]: ['SDR_LegacyRule01'],
      },
    );
    expect(settings).toMatchObject({
      livekitSipHost: '127.0.0.1:5060',
      agentName: 'churchwiseai-voice',
      // The design document's trunk is locked whatever the setting lists.
      lockedLiveKitIds: ['ST_Xa3Bp9aixRFP', 'SDR_LegacyRule01'],
      adoptLinesInService: false,
      linesInService: { churches: [], twilioTrunks: [{ trunkId: 'ST_jKtes8Md7dEZ', numbers: ['+18886030316'] }] },
    });
  });

  test('a malformed value is an error naming the key', () => {
    expect(() => stackSettingsFrom({ [key('adoptLinesInService')]: { value: 'yes', secret: false } }, {})).toThrow(
      `config ${CONFIG_NAMESPACE}:adoptLinesInService must be true or false, got "yes"`,
    );
    expect(() => stackSettingsFrom({ [key('linesInService')]: { value: '{not json', secret: false } }, {})).toThrow(
      `config ${CONFIG_NAMESPACE}:linesInService is not valid JSON`,
    );
  });
});

describe('SIP hosts', () => {
  test('host[:port] compares with the default SIP port filled in', () => {
    expect(sipEndpoint('5U9XU5YSOLY.sip.livekit.cloud')).toBe('5u9xu5ysoly.sip.livekit.cloud:5060');
    expect(sipEndpoint('127.0.0.1:5060')).toBe(sipEndpoint('127.0.0.1', 5060));
    expect(sipEndpoint('127.0.0.1', 15060)).toBe('127.0.0.1:15060');
  });

  test('the project-NAME host is told apart from the project-ID host (seed: the name answers 404 No trunk found)', () => {
    const apiUrl = 'https://cwa-voice-9x077mph.livekit.cloud';
    expect(isProjectNameSipHost('cwa-voice-9x077mph.sip.livekit.cloud', apiUrl)).toBe(true);
    expect(isProjectNameSipHost('cwa-voice-9x077mph.sip.livekit.cloud:5060', 'http://127.0.0.1:7880')).toBe(true);
    expect(isProjectNameSipHost('5u9xu5ysoly.sip.livekit.cloud:5060', apiUrl)).toBe(false);
    expect(isProjectNameSipHost('127.0.0.1:5060', apiUrl)).toBe(false);
  });
});
