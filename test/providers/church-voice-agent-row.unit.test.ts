/**
 * ChurchVoiceAgentRow check and diff: pure functions, no network.
 */
import * as pulumi from '@pulumi/pulumi';
import {
  checkChurchVoiceAgentRow,
  diffChurchVoiceAgentRow,
  rowWrite,
  type ChurchVoiceAgentRowOutputs,
} from '../../providers/church-voice-agent-row';

const VALID = {
  churchId: 'medhanialem',
  phoneNumber: '+14144007103',
  provider: 'telnyx',
  livekitTrunkId: 'ST_LWgmiBSwTk7P',
};

const failuresOf = (news: Record<string, unknown>) => checkChurchVoiceAgentRow({}, news).failures ?? [];

describe('checkChurchVoiceAgentRow', () => {
  test('valid inputs pass and get the defaults status active and decommission false', () => {
    const result = checkChurchVoiceAgentRow({}, { ...VALID, __provider: 'serialized' });
    expect(result.failures).toEqual([]);
    expect(result.inputs).toEqual({ ...VALID, status: 'active', decommission: false });
  });

  test.each([
    ['churchId', { churchId: undefined }, /churchId is required/],
    ['churchId', { churchId: 'has space' }, /churchId must be 1-64 letters, digits/],
    ['churchId', { churchId: 'x'.repeat(65) }, /churchId must be 1-64 letters/],
    ['phoneNumber', { phoneNumber: undefined }, /phoneNumber is required/],
    ['phoneNumber', { phoneNumber: '4144007103' }, /phoneNumber must be an E\.164 number with a leading "\+"/],
    ['phoneNumber', { phoneNumber: '+13125551234' }, /555 number .*reserved for fiction, it can never receive a call/],
    ['provider', { provider: 'vonage' }, /provider must be one of telnyx, twilio, got "vonage"/],
    ['provider', { provider: undefined }, /provider is required/],
    ['livekitTrunkId', { livekitTrunkId: 'trunk-1' }, /livekitTrunkId must be a LiveKit SIP trunk id like ST_/],
    [
      'dispatchRuleId',
      { dispatchRuleId: 'ST_wrongKind' },
      /dispatchRuleId must be a LiveKit dispatch rule id like SDR_/,
    ],
    ['status', { status: 'deleted' }, /status must be one of provisioning, active, suspended, parked, decommissioned/],
    ['decommission', { decommission: 'yes' }, /decommission must be true or false/],
    ['adoptId', { adoptId: 'someone-else' }, /adoptId .* must equal churchId \("medhanialem"\)/],
    ['phone', { phone: '+14144007103' }, /unknown input phone/],
  ])('%s: %j is refused with a reason naming the rule', (property, override, reason) => {
    const failures = failuresOf({ ...VALID, ...override });
    expect(failures).toEqual([{ property, reason: expect.stringMatching(reason) }]);
  });

  test('values not known yet during a preview are accepted and checked once known', () => {
    const unknown = pulumi.runtime.unknownValue;
    expect(failuresOf({ ...VALID, phoneNumber: unknown, livekitTrunkId: unknown, dispatchRuleId: unknown })).toEqual(
      [],
    );
  });

  test('adopting the church its own row is fine', () => {
    expect(failuresOf({ ...VALID, adoptId: 'medhanialem' })).toEqual([]);
  });

  test('every problem is reported at once', () => {
    const properties = failuresOf({ churchId: '', phoneNumber: '+1', provider: 'x' }).map((f) => f.property);
    expect(properties.sort()).toEqual(['churchId', 'phoneNumber', 'provider']);
  });
});

describe('diffChurchVoiceAgentRow', () => {
  const olds: ChurchVoiceAgentRowOutputs = {
    ...(VALID as { churchId: string; phoneNumber: string; provider: 'telnyx'; livekitTrunkId: string }),
    status: 'active',
    decommission: false,
    createdAt: '2026-11-25T10:00:00+00:00',
    updatedAt: '2026-11-25T10:00:00+00:00',
  };
  const news = { ...checkChurchVoiceAgentRow({}, VALID).inputs } as Record<string, unknown>;

  test('the same inputs are no change', () => {
    expect(diffChurchVoiceAgentRow('medhanialem', olds, news)).toMatchObject({ changes: false, replaces: [] });
  });

  test('another church id is another row: replaced, the old row deleted first when it keeps the number', () => {
    expect(diffChurchVoiceAgentRow('medhanialem', olds, { ...news, churchId: 'renamed' })).toMatchObject({
      changes: true,
      replaces: ['churchId'],
      deleteBeforeReplace: true,
    });
    expect(
      diffChurchVoiceAgentRow('medhanialem', olds, { ...news, churchId: 'renamed', phoneNumber: '+17473897673' }),
    ).toMatchObject({
      replaces: ['churchId'],
      deleteBeforeReplace: false,
    });
  });

  test.each([
    ['phoneNumber', { phoneNumber: '+17473897673' }],
    ['provider', { provider: 'twilio' }],
    ['livekitTrunkId', { livekitTrunkId: 'ST_other' }],
    ['dispatchRuleId', { dispatchRuleId: 'SDR_new' }],
    ['status', { status: 'suspended' }],
  ])('%s changes in place', (_field, override) => {
    expect(diffChurchVoiceAgentRow('medhanialem', olds, { ...news, ...override })).toMatchObject({
      changes: true,
      replaces: [],
      stables: ['churchId', 'createdAt'],
    });
  });

  test('dropping the trunk id from the program is a change (the column will be cleared)', () => {
    const { livekitTrunkId: _dropped, ...withoutTrunk } = news;
    expect(diffChurchVoiceAgentRow('medhanialem', olds, withoutTrunk)).toMatchObject({ changes: true, replaces: [] });
    expect(rowWrite(withoutTrunk as never).livekit_trunk_id).toBeNull();
  });

  test('decommission alone is recorded as a change without replacing the row', () => {
    expect(diffChurchVoiceAgentRow('medhanialem', olds, { ...news, decommission: true })).toEqual({
      changes: true,
      replaces: [],
      stables: ['churchId', 'createdAt'],
      deleteBeforeReplace: false,
    });
  });

  test('a trunk id not known yet during a preview shows as a change', () => {
    expect(
      diffChurchVoiceAgentRow('medhanialem', olds, { ...news, livekitTrunkId: pulumi.runtime.unknownValue }),
    ).toMatchObject({
      changes: true,
      replaces: [],
    });
  });
});
