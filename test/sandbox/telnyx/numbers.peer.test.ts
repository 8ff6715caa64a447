/**
 * Number search, orders and phone numbers through the official SDK against the stand-in: behaviour as Telnyx
 * documents it, and every body the client receives checked against the spec.
 */
import Telnyx from 'telnyx';
import { FICTIONAL_555_PATTERN } from '../../../common/phone-numbers';
import { PRODUCTION_FQDN_CONNECTION_ID } from '../../../vendors/vendor-settings';
import type { TelnyxStandIn } from '../../../sandbox/telnyx/standin';
import { closeChecked, expectMatchesSpec, openStandIn, pageBody, rawRequest } from './support';

const CONNECTION = PRODUCTION_FQDN_CONNECTION_ID;

describe('Telnyx stand-in: available phone numbers', () => {
  let standIn: TelnyxStandIn;
  let client: Telnyx;
  beforeAll(async () => ({ standIn, client } = await openStandIn()));
  afterAll(() => closeChecked(standIn));

  it('finds exact local numbers in the area code plus best_effort results from other area codes', async () => {
    const result = await client.availablePhoneNumbers.list({
      filter: {
        country_code: 'US',
        national_destination_code: '414',
        phone_number_type: 'local',
        features: ['voice', 'sms'],
        limit: 10,
      },
    });
    expectMatchesSpec('GET', '/v2/available_phone_numbers', 200, result);
    const exact = result.data!.filter((n) => !n.best_effort);
    const bestEffort = result.data!.filter((n) => n.best_effort);
    expect(exact.length).toBeGreaterThan(0);
    expect(bestEffort.length).toBeGreaterThan(0);
    for (const n of exact) expect(n.phone_number).toMatch(/^\+1414\d{7}$/);
    for (const n of bestEffort) expect(n.phone_number).not.toMatch(/^\+1414/);
    for (const n of result.data!) {
      expect(n.phone_number).not.toMatch(FICTIONAL_555_PATTERN);
      expect(n.features!.map((f) => f.name)).toEqual(expect.arrayContaining(['voice', 'sms']));
    }
    expect(result.meta).toEqual({ total_results: result.data!.length, best_effort_results: bestEffort.length });
  });

  it('returns only exact matches when best_effort is false, and honours the limit', async () => {
    const exactOnly = await client.availablePhoneNumbers.list({
      filter: { national_destination_code: '747', best_effort: false },
    });
    expectMatchesSpec('GET', '/v2/available_phone_numbers', 200, exactOnly);
    expect(exactOnly.data!.length).toBeGreaterThan(0);
    expect(exactOnly.data!.every((n) => n.best_effort === false && n.phone_number!.startsWith('+1747'))).toBe(true);
    const limited = await client.availablePhoneNumbers.list({ filter: { national_destination_code: '747', limit: 1 } });
    expect(limited.data).toHaveLength(1);
  });

  it('finds the same numbers on a repeated search, and filters by the number pattern', async () => {
    const first = await client.availablePhoneNumbers.list({
      filter: { national_destination_code: '312', best_effort: false },
    });
    const again = await client.availablePhoneNumbers.list({
      filter: { national_destination_code: '312', best_effort: false },
    });
    expect(again.data!.map((n) => n.phone_number)).toEqual(first.data!.map((n) => n.phone_number));
    const last4 = first.data![0].phone_number!.slice(-4);
    const byEnding = await client.availablePhoneNumbers.list({
      filter: { national_destination_code: '312', best_effort: false, phone_number: { ends_with: last4 } },
    });
    expect(byEnding.data!.map((n) => n.phone_number)).toContain(first.data![0].phone_number);
    expect(byEnding.data!.every((n) => n.phone_number!.endsWith(last4))).toBe(true);
  });

  it('has nothing for a country or number type it does not stock', async () => {
    const tollFree = await client.availablePhoneNumbers.list({ filter: { phone_number_type: 'toll_free' } });
    expectMatchesSpec('GET', '/v2/available_phone_numbers', 200, tollFree);
    expect(tollFree.data).toEqual([]);
  });

  it('answers 400 naming the parameter when a filter breaks the spec', async () => {
    const bad = await rawRequest(`${standIn.url}/available_phone_numbers?filter[features]=voice,telepathy`, {
      apiKey: standIn.apiKey,
    });
    expect(bad.status).toBe(400);
    expectMatchesSpec('GET', '/v2/available_phone_numbers', 400, bad.body);
    expect(bad.body.errors[0].source).toEqual({ parameter: 'filter[features][1]' });
    expect(bad.body.errors[0].detail).toContain('must be one of');
  });

  it('sells exactly the numbers given per area code, never topping them up (a test can sell an area code out)', async () => {
    const fixed = await openStandIn({
      inventory: { byAreaCode: { '414': ['+14144001111', '+14145550123'] }, bestEffortPerSearch: 0 },
      orderCompletesAfterPolls: 0,
    });
    try {
      const offered = await fixed.client.availablePhoneNumbers.list({ filter: { national_destination_code: '414' } });
      // A 555 number can be offered on purpose, to prove a client refuses fiction numbers.
      expect(offered.data!.map((n) => n.phone_number)).toEqual(['+14144001111', '+14145550123']);
      const order = await fixed.client.numberOrders.create({
        phone_numbers: offered.data!.map((n) => ({ phone_number: n.phone_number! })),
      });
      expect(order.data!.status).toBe('success');
      const soldOut = await fixed.client.availablePhoneNumbers.list({ filter: { national_destination_code: '414' } });
      expect(soldOut.data).toEqual([]);
      expectMatchesSpec('GET', '/v2/available_phone_numbers', 200, soldOut);
    } finally {
      await closeChecked(fixed.standIn);
    }
    await expect(openStandIn({ inventory: { byAreaCode: { '414': ['4144001111'] } } })).rejects.toThrow(
      'inventory.byAreaCode.414: "4144001111" is not E.164 with a leading "+"',
    );
  });

  it('offers different numbers on two stand-ins, and the same numbers for the same seed', async () => {
    const a = await openStandIn({ inventory: { seed: 'church-a' } });
    const b = await openStandIn();
    const aAgain = await openStandIn({ inventory: { seed: 'church-a' } });
    try {
      const search = (c: Telnyx) =>
        c.availablePhoneNumbers.list({ filter: { national_destination_code: '469', best_effort: false } });
      const [numbersA, numbersB, numbersAAgain] = await Promise.all([
        search(a.client),
        search(b.client),
        search(aAgain.client),
      ]);
      const set = (r: typeof numbersA) => r.data!.map((n) => n.phone_number);
      expect(set(numbersA)).toEqual(set(numbersAAgain));
      expect(set(numbersA).filter((n) => set(numbersB).includes(n))).toEqual([]);
    } finally {
      await Promise.all([closeChecked(a.standIn), closeChecked(b.standIn), closeChecked(aAgain.standIn)]);
    }
  });
});

describe('Telnyx stand-in: number orders', () => {
  let standIn: TelnyxStandIn;
  let client: Telnyx;
  beforeAll(async () => ({ standIn, client } = await openStandIn({ orderCompletesAfterPolls: 2 })));
  afterAll(() => closeChecked(standIn));

  async function searchOne(areaCode: string): Promise<string> {
    const found = await client.availablePhoneNumbers.list({
      filter: { national_destination_code: areaCode, best_effort: false, limit: 1 },
    });
    return found.data![0].phone_number!;
  }

  it('orders a searched number: pending, then success after the configured polls, numbers active', async () => {
    const wanted = await searchOne('414');
    const created = await client.numberOrders.create({
      phone_numbers: [{ phone_number: wanted }],
      connection_id: CONNECTION,
      customer_reference: 'church-milwaukee',
    });
    expectMatchesSpec('POST', '/v2/number_orders', 200, created);
    const order = created.data!;
    expect(order.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(order.status).toBe('pending');
    expect(order.phone_numbers).toEqual([expect.objectContaining({ phone_number: wanted, status: 'pending' })]);

    const numbers = await client.phoneNumbers.list({ filter: { phone_number: wanted.slice(1) } });
    expectMatchesSpec('GET', '/v2/phone_numbers', 200, pageBody(numbers));
    expect(numbers.data).toEqual([
      expect.objectContaining({ phone_number: wanted, status: 'purchase-pending', connection_id: CONNECTION }),
    ]);
    // The order line's id is not the phone number's id, as at Telnyx: a client must look the number up.
    expect(numbers.data[0].id).toMatch(/^\d+$/);
    expect(numbers.data[0].id).not.toBe(order.phone_numbers![0].id);

    const firstPoll = await client.numberOrders.retrieve(order.id!);
    expectMatchesSpec('GET', `/v2/number_orders/${order.id}`, 200, firstPoll);
    expect(firstPoll.data!.status).toBe('pending');
    const secondPoll = await client.numberOrders.retrieve(order.id!);
    expect(secondPoll.data!.status).toBe('success');
    expect(secondPoll.data!.phone_numbers![0].status).toBe('success');

    const active = await client.phoneNumbers.retrieve(numbers.data[0].id!);
    expectMatchesSpec('GET', `/v2/phone_numbers/${numbers.data[0].id}`, 200, active);
    expect(active.data).toMatchObject({
      phone_number: wanted,
      status: 'active',
      connection_id: CONNECTION,
      connection_name: 'LiveKit Inbound v2',
      customer_reference: 'church-milwaukee',
    });
  });

  it('no longer offers an ordered number, and refuses to order it again with 422 naming the field', async () => {
    const wanted = await searchOne('747');
    await client.numberOrders.create({ phone_numbers: [{ phone_number: wanted }], connection_id: CONNECTION });
    const after = await client.availablePhoneNumbers.list({ filter: { national_destination_code: '747' } });
    expect(after.data!.map((n) => n.phone_number)).not.toContain(wanted);

    const again = await client.numberOrders.create({ phone_numbers: [{ phone_number: wanted }] }).catch((e) => e);
    expect(again).toBeInstanceOf(Telnyx.UnprocessableEntityError);
    expectMatchesSpec('POST', '/v2/number_orders', 422, again.error);
    expect(again.error.errors[0]).toMatchObject({ source: { pointer: '/phone_numbers/0/phone_number' } });
    expect(again.error.errors[0].detail).toContain(wanted);
  });

  it('refuses a number no search offered, an unknown connection and an empty order, creating nothing', async () => {
    const ordersBefore = standIn.state.numberOrders.size;
    const neverOffered = await client.numberOrders
      .create({ phone_numbers: [{ phone_number: '+14145550100' }] })
      .catch((e) => e);
    expect(neverOffered.status).toBe(422);
    const badConnection = await client.numberOrders
      .create({ phone_numbers: [{ phone_number: await searchOne('312') }], connection_id: '1' })
      .catch((e) => e);
    expect(badConnection.status).toBe(422);
    expect(badConnection.error.errors[0].source).toEqual({ pointer: '/connection_id' });
    const empty = await client.numberOrders.create({ phone_numbers: [] }).catch((e) => e);
    expect(empty).toBeInstanceOf(Telnyx.BadRequestError);
    expectMatchesSpec('POST', '/v2/number_orders', 400, empty.error);
    expect(standIn.state.numberOrders.size).toBe(ordersBefore);
  });

  it('answers 422 naming the field when the order body breaks the spec', async () => {
    const response = await rawRequest(`${standIn.url}/number_orders`, {
      method: 'POST',
      apiKey: standIn.apiKey,
      body: { phone_numbers: [{ phone_number: 14145550100 }] },
    });
    expect(response.status).toBe(422);
    expectMatchesSpec('POST', '/v2/number_orders', 422, response.body);
    expect(response.body.errors).toEqual([
      expect.objectContaining({
        source: { pointer: '/phone_numbers/0/phone_number' },
        detail: expect.stringContaining('must be string'),
      }),
    ]);
  });

  it('lists orders by status and customer_reference', async () => {
    const wanted = await searchOne('469');
    const created = await client.numberOrders.create({
      phone_numbers: [{ phone_number: wanted }],
      customer_reference: 'church-dallas',
    });
    const byReference = await client.numberOrders.list({ filter: { customer_reference: 'church-dallas' } });
    expectMatchesSpec('GET', '/v2/number_orders', 200, pageBody(byReference));
    expect(byReference.data.map((o) => o.id)).toEqual([created.data!.id]);
    const pending = await client.numberOrders.list({ filter: { status: 'pending' } });
    expect(pending.data.map((o) => o.id)).toContain(created.data!.id);
    expect(pending.data.every((o) => o.status === 'pending')).toBe(true);
    const missing = await client.numberOrders.retrieve('6ce96a66-7c9e-4844-8072-fea796124bf8').catch((e) => e);
    expect(missing).toBeInstanceOf(Telnyx.NotFoundError);
    expectMatchesSpec('GET', '/v2/number_orders/x', 404, missing.error);
  });
});

describe('Telnyx stand-in: phone numbers', () => {
  let standIn: TelnyxStandIn;
  let client: Telnyx;
  beforeAll(async () => {
    ({ standIn, client } = await openStandIn());
    standIn.seedPhoneNumber({
      phone_number: '+14144007103',
      connection_id: CONNECTION,
      customer_reference: 'medhanialem',
      tags: ['church'],
    });
    standIn.seedPhoneNumber({
      phone_number: '+17473897673',
      connection_id: CONNECTION,
      customer_reference: 'melvindale',
      deletion_lock_enabled: true,
    });
    standIn.seedPhoneNumber({
      phone_number: '+14697288326',
      connection_id: null,
      status: 'active',
      tags: ['fallback'],
    });
  });
  afterAll(() => closeChecked(standIn));

  it('filters by phone number written as digits or with +, by connection, reference, tag and status', async () => {
    const digits = await client.phoneNumbers.list({ filter: { phone_number: '14144007103' } });
    expectMatchesSpec('GET', '/v2/phone_numbers', 200, pageBody(digits));
    expect(digits.data.map((n) => n.phone_number)).toEqual(['+14144007103']);
    const plus = await client.phoneNumbers.list({ filter: { phone_number: '+14144007103' } });
    expect(plus.data.map((n) => n.phone_number)).toEqual(['+14144007103']);
    const byConnection = await client.phoneNumbers.list({ filter: { connection_id: CONNECTION } });
    expect(byConnection.data.map((n) => n.phone_number).sort()).toEqual(['+14144007103', '+17473897673']);
    const byReference = await client.phoneNumbers.list({ filter: { customer_reference: 'melvindale' } });
    expect(byReference.data.map((n) => n.phone_number)).toEqual(['+17473897673']);
    const byTag = await client.phoneNumbers.list({ filter: { tag: 'fallback' } });
    expect(byTag.data.map((n) => n.phone_number)).toEqual(['+14697288326']);
    const pendingOnly = await client.phoneNumbers.list({ filter: { status: 'purchase-pending' } });
    expect(pendingOnly.data).toEqual([]);
  });

  it('pages with page[number] and page[size] and reports totals in meta', async () => {
    const firstPage = await client.phoneNumbers.list({ 'page[size]': 2 });
    expectMatchesSpec('GET', '/v2/phone_numbers', 200, pageBody(firstPage));
    expect(firstPage.data).toHaveLength(2);
    expect(firstPage.meta).toEqual({ total_results: 3, total_pages: 2, page_number: 1, page_size: 2 });
    const secondPage = await client.phoneNumbers.list({ 'page[size]': 2, 'page[number]': 2 });
    expect(secondPage.data).toHaveLength(1);
    const all: string[] = [];
    for await (const n of client.phoneNumbers.list({ 'page[size]': 2 })) all.push(n.phone_number!);
    expect(all.sort()).toEqual(['+14144007103', '+14697288326', '+17473897673']);
  });

  it('updates connection, tags, customer_reference and billing group with PATCH', async () => {
    const [number] = (await client.phoneNumbers.list({ filter: { phone_number: '14697288326' } })).data;
    const updated = await client.phoneNumbers.update(number.id!, {
      connection_id: CONNECTION,
      tags: ['fallback', 'texml'],
      customer_reference: 'company-fallback',
      billing_group_id: 'dc8e4d67-33a0-4cbb-af74-7b58f05bd494',
    });
    expectMatchesSpec('PATCH', `/v2/phone_numbers/${number.id}`, 200, updated);
    expect(updated.data).toMatchObject({
      connection_id: CONNECTION,
      connection_name: 'LiveKit Inbound v2',
      tags: ['fallback', 'texml'],
      customer_reference: 'company-fallback',
      billing_group_id: 'dc8e4d67-33a0-4cbb-af74-7b58f05bd494',
    });
    const reread = await client.phoneNumbers.retrieve(number.id!);
    expect(reread.data).toMatchObject({ tags: ['fallback', 'texml'], customer_reference: 'company-fallback' });
    const badConnection = await client.phoneNumbers.update(number.id!, { connection_id: '42' }).catch((e) => e);
    expect(badConnection).toBeInstanceOf(Telnyx.UnprocessableEntityError);
    expectMatchesSpec('PATCH', `/v2/phone_numbers/${number.id}`, 422, badConnection.error);
  });

  it('refuses to delete a number with deletion lock enabled, and keeps it', async () => {
    const [locked] = (await client.phoneNumbers.list({ filter: { phone_number: '17473897673' } })).data;
    const refused = await client.phoneNumbers.delete(locked.id!).catch((e) => e);
    expect(refused).toBeInstanceOf(Telnyx.UnprocessableEntityError);
    expectMatchesSpec('DELETE', `/v2/phone_numbers/${locked.id}`, 422, refused.error);
    expect(refused.error.errors[0]).toMatchObject({
      title: 'Deletion lock enabled',
      source: { pointer: '/deletion_lock_enabled' },
    });
    expect(refused.error.errors[0].detail).toContain('+17473897673');
    const still = await client.phoneNumbers.retrieve(locked.id!);
    expect(still.data).toMatchObject({ status: 'active', deletion_lock_enabled: true });
  });

  it('deletes an unlocked number, which then reads as 404 and leaves the list', async () => {
    const [number] = (await client.phoneNumbers.list({ filter: { phone_number: '14144007103' } })).data;
    const deleted = await client.phoneNumbers.delete(number.id!);
    expectMatchesSpec('DELETE', `/v2/phone_numbers/${number.id}`, 200, deleted);
    expect(deleted.data).toMatchObject({ id: number.id, phone_number: '+14144007103', status: 'deleted' });
    const gone = await client.phoneNumbers.retrieve(number.id!).catch((e) => e);
    expect(gone).toBeInstanceOf(Telnyx.NotFoundError);
    expectMatchesSpec('GET', `/v2/phone_numbers/${number.id}`, 404, gone.error);
    const listed = await client.phoneNumbers.list({ filter: { phone_number: '14144007103' } });
    expect(listed.data).toEqual([]);
    const deleteAgain = await client.phoneNumbers.delete(number.id!).catch((e) => e);
    expect(deleteAgain).toBeInstanceOf(Telnyx.NotFoundError);
  });

  it('needs at least three digits to filter by phone number', async () => {
    const tooShort = await client.phoneNumbers.list({ filter: { phone_number: '14' } }).catch((e) => e);
    expect(tooShort).toBeInstanceOf(Telnyx.BadRequestError);
    expectMatchesSpec('GET', '/v2/phone_numbers', 400, tooShort.error);
    expect(tooShort.error.errors[0].source).toEqual({ parameter: 'filter[phone_number]' });
  });
});
