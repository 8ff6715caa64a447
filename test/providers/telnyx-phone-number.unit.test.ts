/**
 * The pure rules of TelnyxPhoneNumber: what check refuses, what diff replaces (almost nothing: a church keeps its
 * number), what a purchase may order, and when an adoption is refused. No network.
 */
import { unknownValue } from '@pulumi/pulumi/runtime/rpc';
import {
  adoptionMismatches,
  checkTelnyxPhoneNumber,
  diffTelnyxPhoneNumber,
  orderableNumbers,
  recordOnlyChanges,
  vendorChanges,
  type TelnyxPhoneNumberInputs,
  type TelnyxPhoneNumberOutputs,
} from '../../providers/telnyx-phone-number';
import type { AvailableNumber, PhoneNumberRecord } from '../../vendors/telnyx-client';

const CONNECTION = '2925216093662349036';
const CHURCH = 'c0ffee00-0000-4000-8000-000000000001';

const inputs = (overrides: Partial<TelnyxPhoneNumberInputs> = {}): Partial<TelnyxPhoneNumberInputs> => ({
  areaCode: '414',
  connectionId: CONNECTION,
  customerReference: CHURCH,
  ...overrides,
});

function failuresOf(news: Partial<TelnyxPhoneNumberInputs>) {
  return checkTelnyxPhoneNumber({}, news).failures ?? [];
}

describe('checkTelnyxPhoneNumber', () => {
  it('accepts an area code purchase, an exact purchase and an adoption', () => {
    expect(failuresOf(inputs())).toEqual([]);
    expect(failuresOf(inputs({ areaCode: undefined, phoneNumber: '+14144007103' }))).toEqual([]);
    expect(failuresOf(inputs({ areaCode: undefined, adoptId: '1293384261075731499' }))).toEqual([]);
    expect(failuresOf(inputs({ areaCode: undefined, adoptId: '+14144007103', phoneNumber: '+14144007103' }))).toEqual(
      [],
    );
  });

  it('passes the inputs through unchanged', () => {
    const news = inputs({ tags: ['churchwise-voice'], decommission: false, orderTimeoutSeconds: 60 });
    expect(checkTelnyxPhoneNumber({}, news).inputs).toEqual(news);
  });

  it('requires one of areaCode, phoneNumber or adoptId', () => {
    const failures = failuresOf(inputs({ areaCode: undefined }));
    expect(failures).toEqual([
      expect.objectContaining({
        property: 'areaCode',
        reason: expect.stringMatching(/areaCode.*phoneNumber.*adoptId/),
      }),
    ]);
  });

  it('refuses areaCode together with phoneNumber', () => {
    expect(failuresOf(inputs({ phoneNumber: '+14144007103' }))).toEqual([
      expect.objectContaining({ property: 'phoneNumber', reason: expect.stringContaining('not both') }),
    ]);
  });

  it('refuses areaCode together with adoptId', () => {
    expect(failuresOf(inputs({ adoptId: '1293384261075731499' }))).toEqual([
      expect.objectContaining({ property: 'areaCode', reason: expect.stringContaining('adoptId') }),
    ]);
  });

  it.each(['41', '4144', '014', '114', 'abc'])('refuses area code %j with the area-code rule', (areaCode) => {
    expect(failuresOf(inputs({ areaCode }))).toEqual([
      expect.objectContaining({
        property: 'areaCode',
        reason: expect.stringContaining('3-digit North American area code'),
      }),
    ]);
  });

  it('treats an empty area code as not given', () => {
    expect(failuresOf(inputs({ areaCode: '' }))).toEqual([
      expect.objectContaining({ property: 'areaCode', reason: expect.stringMatching(/set one of areaCode/) }),
    ]);
  });

  it('refuses a phone number without "+" (E.164 rule)', () => {
    expect(failuresOf(inputs({ areaCode: undefined, phoneNumber: '14144007103' }))).toEqual([
      expect.objectContaining({ property: 'phoneNumber', reason: expect.stringContaining('E.164') }),
    ]);
  });

  it('refuses a 555 number to buy and to adopt', () => {
    expect(failuresOf(inputs({ areaCode: undefined, phoneNumber: '+14145551234' }))).toEqual([
      expect.objectContaining({ property: 'phoneNumber', reason: expect.stringContaining('555') }),
    ]);
    expect(failuresOf(inputs({ areaCode: undefined, adoptId: '+14145551234' }))).toEqual([
      expect.objectContaining({ property: 'adoptId', reason: expect.stringContaining('555') }),
    ]);
  });

  it('refuses to buy a non-US number but lets it be adopted', () => {
    expect(failuresOf(inputs({ areaCode: undefined, phoneNumber: '+442071838750' }))).toEqual([
      expect.objectContaining({ property: 'phoneNumber', reason: expect.stringContaining('only US local numbers') }),
    ]);
    expect(failuresOf(inputs({ areaCode: undefined, adoptId: '+442071838750' }))).toEqual([]);
  });

  it('refuses an adoptId that is neither an id nor E.164', () => {
    expect(failuresOf(inputs({ areaCode: undefined, adoptId: 'number-7' }))).toEqual([
      expect.objectContaining({ property: 'adoptId', reason: expect.stringContaining('Telnyx phone number id') }),
    ]);
  });

  it('refuses a phoneNumber that names another number than adoptId', () => {
    expect(failuresOf(inputs({ areaCode: undefined, adoptId: '+14144007103', phoneNumber: '+17473897673' }))).toEqual([
      expect.objectContaining({ property: 'phoneNumber', reason: expect.stringContaining('different numbers') }),
    ]);
  });

  it.each([undefined, '', '  ', ' c1'])('requires customerReference (got %j)', (customerReference) => {
    expect(failuresOf(inputs({ customerReference }))).toEqual([
      expect.objectContaining({ property: 'customerReference', reason: expect.stringContaining('church id') }),
    ]);
  });

  it('refuses a connection id that is not a Telnyx id', () => {
    expect(failuresOf(inputs({ connectionId: 'LiveKit Inbound v2' }))).toEqual([
      expect.objectContaining({ property: 'connectionId', reason: expect.stringContaining('FQDN connection id') }),
    ]);
  });

  it('refuses empty tags, a non-boolean decommission and an out-of-range order timeout', () => {
    expect(failuresOf(inputs({ tags: ['ok', ''] }))).toEqual([expect.objectContaining({ property: 'tags' })]);
    expect(failuresOf(inputs({ decommission: 'yes' as unknown as boolean }))).toEqual([
      expect.objectContaining({ property: 'decommission' }),
    ]);
    for (const orderTimeoutSeconds of [0, 1.5, 3601]) {
      expect(failuresOf(inputs({ orderTimeoutSeconds }))).toEqual([
        expect.objectContaining({ property: 'orderTimeoutSeconds', reason: expect.stringContaining('1 to 3600') }),
      ]);
    }
  });

  it('lets values unknown during preview through', () => {
    expect(failuresOf(inputs({ customerReference: unknownValue, connectionId: unknownValue }))).toEqual([]);
  });

  it('reports every failure at once', () => {
    const properties = failuresOf({ areaCode: '1', connectionId: 'x', customerReference: '' }).map((f) => f.property);
    expect(properties.sort()).toEqual(['areaCode', 'connectionId', 'customerReference']);
  });
});

const held: TelnyxPhoneNumberOutputs = {
  areaCode: '414',
  connectionId: CONNECTION,
  customerReference: CHURCH,
  tags: ['churchwise-voice'],
  decommission: false,
  phoneNumber: '+14144007103',
  phoneNumberId: '1293384261075731499',
  orderId: 'ord-1',
  status: 'active',
  deletionLockEnabled: false,
};
const desired = (overrides: Partial<TelnyxPhoneNumberInputs> = {}): TelnyxPhoneNumberInputs => ({
  areaCode: '414',
  connectionId: CONNECTION,
  customerReference: CHURCH,
  tags: ['churchwise-voice'],
  decommission: false,
  ...overrides,
});
const diff = (news: TelnyxPhoneNumberInputs, olds = held) => diffTelnyxPhoneNumber(olds.phoneNumberId, olds, news);

describe('diffTelnyxPhoneNumber', () => {
  it('sees no change when the program matches the number', () => {
    expect(diff(desired())).toMatchObject({ changes: false, replaces: [] });
    // Naming the number it already holds, by phoneNumber or adoptId, changes nothing either.
    expect(diff(desired({ areaCode: undefined, phoneNumber: '+14144007103' }))).toMatchObject({ changes: false });
  });

  it('keeps the number when the area code changes: a recorded change, never a replacement', () => {
    const result = diff(desired({ areaCode: '747' }));
    expect(result).toMatchObject({ changes: true, replaces: [], deleteBeforeReplace: false });
    expect(recordOnlyChanges(held, desired({ areaCode: '747' }))).toEqual([
      expect.stringContaining('+14144007103 (church c0ffee00-0000-4000-8000-000000000001) keeps its number'),
    ]);
    expect(vendorChanges(held, desired({ areaCode: '747' }))).toEqual({});
  });

  it('replaces only for an explicit different phoneNumber, creating the new one before deleting the old', () => {
    expect(diff(desired({ areaCode: undefined, phoneNumber: '+17473897673' }))).toEqual({
      changes: true,
      replaces: ['phoneNumber'],
      stables: [],
      deleteBeforeReplace: false,
    });
  });

  it('replaces for an adoptId naming another number, not for one naming this number', () => {
    expect(diff(desired({ areaCode: undefined, adoptId: '+17473897673' })).replaces).toEqual(['adoptId']);
    expect(diff(desired({ areaCode: undefined, adoptId: '999' })).replaces).toEqual(['adoptId']);
    for (const adoptId of ['+14144007103', '1293384261075731499']) {
      const result = diff(desired({ areaCode: undefined, adoptId }));
      expect(result).toMatchObject({ changes: true, replaces: [] });
      expect(vendorChanges(held, desired({ areaCode: undefined, adoptId }))).toEqual({});
    }
  });

  it('dropping phoneNumber or adoptId from the program keeps the number', () => {
    const adopted = { ...held, areaCode: undefined, adoptId: '1293384261075731499', orderId: undefined };
    const result = diff(desired({ areaCode: '414' }), adopted);
    expect(result).toMatchObject({ changes: true, replaces: [] });
    expect(recordOnlyChanges(adopted, desired({ areaCode: '414' }))).toEqual(
      expect.arrayContaining([expect.stringContaining('adoptId 1293384261075731499 -> (none): recorded only')]),
    );
  });

  it('updates connection, tags and customer reference in place', () => {
    const news = desired({ connectionId: '1111', tags: ['b', 'a'], customerReference: 'church-2' });
    expect(diff(news)).toMatchObject({ changes: true, replaces: [] });
    expect(vendorChanges(held, news)).toEqual({
      connection_id: '1111',
      tags: ['b', 'a'],
      customer_reference: 'church-2',
    });
  });

  it('ignores tag order and leaves tags alone when the program sets none', () => {
    const tagged = { ...held, tags: ['a', 'b'] };
    expect(diff(desired({ tags: ['b', 'a'] }), tagged).changes).toBe(false);
    expect(diff(desired({ tags: undefined }), tagged).changes).toBe(false);
  });

  it('sees drift found by refresh as an in-place change back to the program', () => {
    const drifted = { ...held, connectionId: '' };
    expect(diff(desired(), drifted)).toMatchObject({ changes: true, replaces: [] });
    expect(vendorChanges(drifted, desired())).toEqual({ connection_id: CONNECTION });
  });

  it('records decommission in place and says what it means', () => {
    expect(diff(desired({ decommission: true }))).toMatchObject({ changes: true, replaces: [] });
    expect(recordOnlyChanges(held, desired({ decommission: true }))).toEqual([
      expect.stringContaining('will be RELEASED when this resource is deleted'),
    ]);
    expect(diff(desired({ decommission: undefined })).changes).toBe(false);
  });
});

const offer = (phoneNumber: string, bestEffort = false): AvailableNumber => ({
  phoneNumber,
  bestEffort,
  features: ['voice'],
});

describe('orderableNumbers', () => {
  it('keeps exact local matches in order and drops near matches, 555 numbers and other area codes', () => {
    const found = [
      offer('+14145551234'),
      offer('+14143001234', true),
      offer('+12623001234'),
      offer('+14142001234'),
      offer('+14143007777'),
    ];
    expect(orderableNumbers(found, '414').map((n) => n.phoneNumber)).toEqual(['+14142001234', '+14143007777']);
  });

  it('finds nothing to order when only fiction and near matches are offered', () => {
    expect(orderableNumbers([offer('+14145550000'), offer('+14143000000', true)], '414')).toEqual([]);
  });
});

const record = (overrides: Partial<PhoneNumberRecord> = {}): PhoneNumberRecord => ({
  id: '1293384261075731499',
  phoneNumber: '+14144007103',
  status: 'active',
  connectionId: CONNECTION,
  connectionName: 'LiveKit Inbound v2',
  tags: ['churchwise-voice'],
  customerReference: CHURCH,
  deletionLockEnabled: false,
  ...overrides,
});

describe('adoptionMismatches', () => {
  const adopting = desired({ areaCode: undefined, adoptId: '+14144007103', phoneNumber: '+14144007103' });

  it('adopts a number that already matches the program', () => {
    expect(adoptionMismatches(adopting, record())).toEqual([]);
  });

  it('names every mismatch instead of changing the number', () => {
    const mismatches = adoptionMismatches(
      adopting,
      record({
        status: 'port-pending',
        connectionId: null,
        customerReference: 'someone-else',
        tags: [],
        phoneNumber: '+14144009999',
      }),
    );
    expect(mismatches).toEqual([
      'status is port-pending, only an active number can be adopted',
      'it is +14144009999, not phoneNumber +14144007103',
      `connection_id is (none), want connectionId ${CONNECTION}`,
      `customer_reference is someone-else, want customerReference ${CHURCH}`,
      'tags are [], want [churchwise-voice]',
    ]);
  });

  it('does not compare tags the program does not set', () => {
    expect(adoptionMismatches({ ...adopting, tags: undefined }, record({ tags: ['legacy'] }))).toEqual([]);
  });
});
