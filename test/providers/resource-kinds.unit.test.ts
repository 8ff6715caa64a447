/**
 * The one list of a line's resource kinds: the names every other layer derives from it (type tokens as the state
 * records them, step names of the founder's emails, drift kinds of `--json`, resource-name suffixes) and the drift
 * sentences each kind says for itself.
 */
import { RESOURCE_KINDS, kindOfType } from '../../providers/resource-kinds';
import { LIVEKIT_SIP_INBOUND_TRUNK_KIND } from '../../providers/livekit-sip-inbound-trunk';
import { TELNYX_PHONE_NUMBER_KIND } from '../../providers/telnyx-phone-number';
import { CHURCH_VOICE_AGENT_ROW_KIND, ROW_BOOKKEEPING_OUTPUTS } from '../../providers/church-voice-agent-row';
import { stepOfUrn } from '../../stacks/provisioning-run';

describe('RESOURCE_KINDS', () => {
  test('lists the kinds in the order a line is built, with the names the state, the jobs and drift use', () => {
    expect(RESOURCE_KINDS.map((k) => [k.type, k.step, k.driftKind, k.nameSuffix, k.label])).toEqual([
      ['pulumi-nodejs:dynamic/telnyx:TelnyxPhoneNumber', 'telnyx-number', 'number', '-number', 'Telnyx number'],
      ['pulumi-nodejs:dynamic/livekit:LiveKitSipInboundTrunk', 'livekit-trunk', 'trunk', '-trunk', 'LiveKit trunk'],
      [
        'pulumi-nodejs:dynamic/livekit:LiveKitSipDispatchRule',
        'dispatch-rule',
        'dispatch-rule',
        '-dispatch',
        'dispatch rule',
      ],
      ['pulumi-nodejs:dynamic/supabase:ChurchVoiceAgentRow', 'church-row', 'row', '-row', 'church_voice_agents row'],
      ['pulumi-nodejs:dynamic/churchwise:TestRing', 'test-ring', 'test-ring', '-ring', 'test ring'],
    ]);
  });

  test('only the row has bookkeeping outputs', () => {
    expect(RESOURCE_KINDS.filter((k) => k.bookkeepingOutputs.length > 0)).toEqual([CHURCH_VOICE_AGENT_ROW_KIND]);
    expect(CHURCH_VOICE_AGENT_ROW_KIND.bookkeepingOutputs).toEqual(ROW_BOOKKEEPING_OUTPUTS);
  });

  test('a kind is found by its type token; the component and the stack are no kind', () => {
    expect(kindOfType('pulumi-nodejs:dynamic/livekit:LiveKitSipInboundTrunk')).toBe(LIVEKIT_SIP_INBOUND_TRUNK_KIND);
    expect(kindOfType('churchwise:voice:ChurchVoiceLine')).toBeUndefined();
    expect(kindOfType('pulumi:pulumi:Stack')).toBeUndefined();
    expect(kindOfType(undefined)).toBeUndefined();
  });

  test("a resource's name is the line's name and its kind's suffix, and a run reads church and step back from the URN", () => {
    const parent = 'urn:pulumi:dev::churchwise-voice::churchwise:voice:ChurchVoiceLine';
    for (const kind of RESOURCE_KINDS) {
      const name = kind.childName('church-grace-number');
      expect(stepOfUrn(`${parent}$${kind.type}::${name}`)).toEqual({ churchId: 'grace-number', step: kind.step });
    }
    expect(stepOfUrn(`${parent}::church-grace`)).toEqual({ step: 'engine' });
  });
});

describe("each kind's drift sentences", () => {
  test('a number moved off the connection, and the repair', () => {
    const change = { property: 'connectionId', before: '2925216093662349036', after: '' };
    expect(TELNYX_PHONE_NUMBER_KIND.describeChange('id1', { phoneNumber: '+13305550101' }, change)).toBe(
      '+13305550101 was taken off connection 2925216093662349036 by hand: calls to it reach no one',
    );
    expect(TELNYX_PHONE_NUMBER_KIND.describeRepairs([change])).toEqual([
      'move it back to connection 2925216093662349036',
    ]);
  });

  test('auth on a trunk is one sentence, and the repairs come in a fixed order', () => {
    const auth = { property: 'authUsername', before: '', after: 'someone' };
    const numbers = { property: 'numbers', before: ['+13305550101'], after: [] };
    expect(LIVEKIT_SIP_INBOUND_TRUNK_KIND.describeChange('ST_1', {}, auth)).toBe(
      "auth set on trunk ST_1 by hand: LiveKit challenges Telnyx's INVITEs, which carry no credentials, so every call fails",
    );
    expect(LIVEKIT_SIP_INBOUND_TRUNK_KIND.describeRepairs([auth, numbers])).toEqual([
      "set the trunk's numbers back to +13305550101",
      'remove the auth',
    ]);
  });

  test('a property no kind words itself is said plainly; the row names its column', () => {
    const change = { property: 'metadata', before: 'a', after: 'b' };
    expect(LIVEKIT_SIP_INBOUND_TRUNK_KIND.describeChange('ST_1', {}, change)).toBe(
      'metadata of ST_1 changed by hand: a -> b',
    );
    expect(
      CHURCH_VOICE_AGENT_ROW_KIND.describeChange(
        'grace',
        {},
        { property: 'status', before: 'active', after: 'paused' },
      ),
    ).toBe('church_voice_agents.status changed by hand: active -> paused');
  });
});
