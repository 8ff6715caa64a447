/** TestRing's pure rules: what `check` refuses (naming the field and the rule) and when `diff` rings again. */
import * as pulumi from '@pulumi/pulumi';
import {
  checkTestRing,
  diffTestRing,
  provider,
  ringFailureMessage,
  type TestRingInputs,
  type TestRingOutputs,
} from '../../providers/test-ring';
import { NotDecommissionedError } from '../../providers/refusals';

const good: TestRingInputs = {
  churchId: 'church-7c1e',
  phoneNumber: '+14144007103',
  trunkId: 'ST_LWgmiBSwTk7P',
  dispatchRuleId: 'SDR_kChSNMAbv5mp',
  roomPrefix: 'church-church-7c1e-',
  from: '+14697288326',
};

function failuresOf(news: Record<string, unknown>) {
  return checkTestRing(undefined, news).failures ?? [];
}

describe('checkTestRing', () => {
  it('accepts a complete line', () => {
    expect(failuresOf({ ...good })).toEqual([]);
    expect(
      failuresOf({ ...good, dispatchRuleId: undefined, trigger: '2026-11-25T10:00:00Z', timeoutSecs: 45 }),
    ).toEqual([]);
  });

  it('refuses a number without "+" and a 555 number, naming the field', () => {
    expect(failuresOf({ ...good, phoneNumber: '14144007103' })).toEqual([
      expect.objectContaining({
        property: 'phoneNumber',
        reason: expect.stringContaining('E.164 number with a leading "+"'),
      }),
    ]);
    expect(failuresOf({ ...good, from: '+14145550100' })).toEqual([
      expect.objectContaining({ property: 'from', reason: expect.stringContaining('555 number') }),
    ]);
  });

  it('requires the church, the number, the trunk and the caller', () => {
    const failures = failuresOf({ roomPrefix: 'x' });
    expect(failures.map((f) => f.property).sort()).toEqual(['churchId', 'from', 'phoneNumber', 'trunkId']);
    expect(failures.every((f) => f.reason.endsWith('is required'))).toBe(true);
  });

  it('refuses ids that are not LiveKit ids of the right kind', () => {
    expect(failuresOf({ ...good, trunkId: 'SDR_kChSNMAbv5mp', dispatchRuleId: 'ST_LWgmiBSwTk7P' })).toEqual([
      { property: 'trunkId', reason: 'trunkId must be a LiveKit id like ST_LWgmiBSwTk7P, got "SDR_kChSNMAbv5mp"' },
      {
        property: 'dispatchRuleId',
        reason: 'dispatchRuleId must be a LiveKit id like SDR_LWgmiBSwTk7P, got "ST_LWgmiBSwTk7P"',
      },
    ]);
  });

  it('bounds the ring time and refuses a line calling itself and unknown inputs', () => {
    expect(failuresOf({ ...good, timeoutSecs: 600 })[0]).toMatchObject({
      property: 'timeoutSecs',
      reason: 'timeoutSecs must be a whole number of seconds from 5 to 120, got 600',
    });
    expect(failuresOf({ ...good, from: good.phoneNumber })[0]).toMatchObject({ property: 'from' });
    expect(failuresOf({ ...good, phonenumber: '+14144007103' })[0]).toMatchObject({
      property: 'phonenumber',
      reason: expect.stringContaining('unknown input phonenumber'),
    });
    expect(failuresOf({ ...good, churchId: '  ' })[0]).toMatchObject({ property: 'churchId' });
  });

  it("leaves values not known during a preview (another resource's output) for later", () => {
    const unknown = pulumi.runtime.unknownValue;
    expect(failuresOf({ ...good, phoneNumber: unknown, trunkId: unknown, dispatchRuleId: unknown })).toEqual([]);
  });
});

describe('diffTestRing', () => {
  const lastRing: TestRingOutputs = {
    ...good,
    ok: true,
    detail: 'rang through',
    at: '2026-11-25T10:00:00.000Z',
    elapsedMs: 812,
  };

  it('does not ring again when nothing changed and the last ring passed', () => {
    expect(diffTestRing('ring:x', lastRing, { ...good })).toMatchObject({ changes: false, replaces: [] });
  });

  it.each([
    ['trunkId', 'ST_3KMJ5YEjF2fF'],
    ['dispatchRuleId', 'SDR_6CRiocKkiRuy'],
    ['phoneNumber', '+17473897673'],
    ['trigger', 'ring-now-1'],
  ])('rings again (an update, never a replacement) when %s changes', (field, value) => {
    expect(diffTestRing('ring:x', lastRing, { ...good, [field]: value })).toMatchObject({
      changes: true,
      replaces: [],
    });
  });

  it('rings again while the last ring failed, so the line stays red until it works', () => {
    const failed: TestRingOutputs = { ...lastRing, ok: false, cause: 'no_room', detail: 'no dispatch rule' };
    expect(diffTestRing('ring:x', failed, { ...good })).toMatchObject({ changes: true, replaces: [] });
  });
});

test('a failed ring says the line is not live, why, and that the other resources stay as they are', () => {
  const outs: TestRingOutputs = {
    ...good,
    ok: false,
    cause: 'call_rejected',
    detail: 'trunk ST_LWgmiBSwTk7P requires auth',
    at: '2026-11-25T10:00:00.000Z',
    elapsedMs: 300,
  };
  expect(ringFailureMessage(good, outs)).toBe(
    'test ring of +14144007103 (church church-7c1e) failed: call_rejected: trunk ST_LWgmiBSwTk7P requires auth. ' +
      'The line is NOT live: a caller to +14144007103 does not reach the agent. The number, trunk and dispatch rule are ' +
      'left as they are; fix the cause and run `pulumi up` again to ring again.',
  );
});

describe('a ring record goes only with its line', () => {
  const outputs = {
    churchId: 'grace',
    phoneNumber: '+13305550101',
    trunkId: 'ST_LWgmiBSwTk7P',
    from: '+14697288326',
    ok: true,
    detail: '',
    at: '2026-11-30T10:00:00.000Z',
    elapsedMs: 300,
  } as TestRingOutputs;

  it('refuses a delete unless the line was decommissioned, so a refused destroy leaves the state as it was', async () => {
    const deletion = provider.delete!('ring:grace:+13305550101', outputs);
    await expect(deletion).rejects.toBeInstanceOf(NotDecommissionedError);
    await expect(deletion).rejects.toMatchObject({
      kind: 'test ring',
      id: 'ring:grace:+13305550101',
      churchId: 'grace',
      phoneNumber: '+13305550101',
    });
    await expect(
      provider.delete!('ring:grace:+13305550101', { ...outputs, decommission: true }),
    ).resolves.toBeUndefined();
  });

  it('records a decommission without placing a call (no Telnyx setting is even read)', async () => {
    delete process.env.TELNYX_API_KEY;
    const result = await provider.update!('ring:grace:+13305550101', outputs, { ...outputs, decommission: true });
    expect(result.outs).toEqual({ ...outputs, decommission: true });
  });

  it('does not ask to ring a failed line again once it is being decommissioned', () => {
    const failed = { ...outputs, ok: false, decommission: true };
    expect(diffTestRing('id', failed, { ...failed }).changes).toBe(false);
  });
});
