/**
 * Number reservations (holds) and searches by place through the official SDK against the stand-in: a hold lasts 30
 * minutes on the stand-in's clock, an extend pushes it 30 minutes from now, a lapsed hold holds nothing, and every
 * body the client receives is checked against the spec. The controls end holds and sell a number to another
 * customer over HTTP, for tests in another process.
 */
import Telnyx from 'telnyx';
import { NUMBER_HOLD_MS, type TelnyxStandIn } from '../../../sandbox/telnyx/standin';
import { closeChecked, expectMatchesSpec, openStandIn, pageBody, rawRequest } from './support';

const START = Date.parse('2026-12-01T15:00:00.000Z');
const MINUTE = 60_000;
const AUSTIN = ['+15122010100', '+15122015000', '+15122017777'];
const at = (ms: number) => new Date(ms).toISOString();

/** A stand-in on a clock the test moves, selling exactly the Austin numbers above. */
async function heldStandIn(): Promise<{ standIn: TelnyxStandIn; client: Telnyx; advance(ms: number): void }> {
  let now = START;
  const { standIn, client } = await openStandIn({
    inventory: { byAreaCode: { '512': AUSTIN }, bestEffortPerSearch: 0 },
    orderCompletesAfterPolls: 0,
    clock: () => new Date(now),
  });
  return { standIn, client, advance: (ms) => (now += ms) };
}

describe('Telnyx stand-in: number reservations', () => {
  let standIn: TelnyxStandIn;
  let client: Telnyx;
  let advance: (ms: number) => void;
  beforeEach(async () => ({ standIn, client, advance } = await heldStandIn()));
  afterEach(() => closeChecked(standIn));

  const search = async (filter: Telnyx.AvailablePhoneNumberListParams.Filter = {}) =>
    (await client.availablePhoneNumbers.list({ filter: { national_destination_code: '512', ...filter } })).data!.map(
      (n) => n.phone_number,
    );

  it('holds a number for 30 minutes, with the customer reference, readable by id', async () => {
    const created = await client.numberReservations.create({
      phone_numbers: [{ phone_number: AUSTIN[0] }],
      customer_reference: 'new-hope-austin',
    });
    expectMatchesSpec('POST', '/v2/number_reservations', 200, created);
    expect(NUMBER_HOLD_MS).toBe(30 * MINUTE);
    expect(created.data).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      record_type: 'number_reservation',
      status: 'success',
      customer_reference: 'new-hope-austin',
      phone_numbers: [
        {
          id: expect.stringMatching(/^[0-9a-f-]{36}$/),
          record_type: 'reserved_phone_number',
          phone_number: AUSTIN[0],
          status: 'success',
          created_at: at(START),
          updated_at: at(START),
          expired_at: at(START + 30 * MINUTE),
        },
      ],
      created_at: at(START),
      updated_at: at(START),
    });
    const read = await client.numberReservations.retrieve(created.data!.id!);
    expectMatchesSpec('GET', `/v2/number_reservations/${created.data!.id}`, 200, read);
    expect(read.data).toEqual(created.data);
  });

  it('extends a hold to 30 minutes from now, not from its old expiry', async () => {
    const { data } = await client.numberReservations.create({ phone_numbers: [{ phone_number: AUSTIN[1] }] });
    advance(20 * MINUTE);
    const extended = await client.numberReservations.actions.extend(data!.id!);
    expectMatchesSpec('POST', `/v2/number_reservations/${data!.id}/actions/extend`, 200, extended);
    expect(extended.data!.phone_numbers![0].expired_at).toBe(at(START + 50 * MINUTE));
    expect(extended.data!.updated_at).toBe(at(START + 20 * MINUTE));
    advance(29 * MINUTE);
    await expect(client.numberReservations.create({ phone_numbers: [{ phone_number: AUSTIN[1] }] })).rejects.toThrow(
      /already on hold/,
    );
  });

  it('lets a hold lapse after 30 minutes: the number is free again, and the lapsed hold cannot be extended', async () => {
    const { data } = await client.numberReservations.create({ phone_numbers: [{ phone_number: AUSTIN[0] }] });
    expect(await search({ exclude_held_numbers: true })).toEqual([AUSTIN[1], AUSTIN[2]]);
    advance(30 * MINUTE);
    expect(await search({ exclude_held_numbers: true })).toEqual(AUSTIN);
    const extend = await rawRequest(`${standIn.url}/number_reservations/${data!.id}/actions/extend`, {
      method: 'POST',
      apiKey: standIn.apiKey,
    });
    expect(extend.status).toBe(422);
    expectMatchesSpec('POST', `/v2/number_reservations/${data!.id}/actions/extend`, 422, extend.body);
    expect(extend.body.errors[0].detail).toContain('create a new reservation');
    // The lapsed reservation still reads as it went (`success`), its hold over by its expired_at.
    const lapsed = await client.numberReservations.retrieve(data!.id!);
    expect(lapsed.data).toMatchObject({ status: 'success', phone_numbers: [{ expired_at: at(START + 30 * MINUTE) }] });
    const again = await client.numberReservations.create({ phone_numbers: [{ phone_number: AUSTIN[0] }] });
    expect(again.data!.phone_numbers![0].expired_at).toBe(at(START + 60 * MINUTE));
  });

  it('lists held numbers unless the search leaves them out, and refuses a second hold on one', async () => {
    await client.numberReservations.create({ phone_numbers: [{ phone_number: AUSTIN[2] }] });
    // Every hold is the account's own: listed by default, left out on request (filter[exclude_held_numbers]).
    expect(await search()).toEqual(AUSTIN);
    expect(await search({ exclude_held_numbers: false })).toEqual(AUSTIN);
    expect(await search({ exclude_held_numbers: true, best_effort: false })).toEqual([AUSTIN[0], AUSTIN[1]]);
    const second = await rawRequest(`${standIn.url}/number_reservations`, {
      method: 'POST',
      apiKey: standIn.apiKey,
      body: { phone_numbers: [{ phone_number: AUSTIN[2] }] },
    });
    expect(second.status).toBe(422);
    expectMatchesSpec('POST', '/v2/number_reservations', 422, second.body);
    expect(second.body.errors[0]).toMatchObject({
      title: 'Number already on hold',
      source: { pointer: '/phone_numbers/0/phone_number' },
    });
  });

  it('sells a held number to the account holding it; the bought number holds no more and cannot be extended', async () => {
    const { data } = await client.numberReservations.create({ phone_numbers: [{ phone_number: AUSTIN[0] }] });
    const order = await client.numberOrders.create({
      phone_numbers: [{ phone_number: AUSTIN[0] }],
      customer_reference: 'new-hope-austin',
    });
    expect(order.data!.status).toBe('success');
    expect(await search()).toEqual([AUSTIN[1], AUSTIN[2]]);
    await expect(client.numberReservations.actions.extend(data!.id!)).rejects.toMatchObject({ status: 422 });
  });

  it('refuses a reservation of nothing, of a number not for sale, or of the same number twice', async () => {
    const reserve = (body: unknown) =>
      rawRequest(`${standIn.url}/number_reservations`, { method: 'POST', apiKey: standIn.apiKey, body });
    const empty = await reserve({ phone_numbers: [] });
    expect(empty.status).toBe(400);
    expectMatchesSpec('POST', '/v2/number_reservations', 400, empty.body);
    const unknown = await reserve({ phone_numbers: [{ phone_number: '+15129990000' }] });
    expect(unknown).toMatchObject({ status: 422, body: { errors: [{ title: 'Number not available' }] } });
    const twice = await reserve({ phone_numbers: [{ phone_number: AUSTIN[0] }, { phone_number: AUSTIN[0] }] });
    expect(twice).toMatchObject({
      status: 422,
      body: { errors: [{ source: { pointer: '/phone_numbers/1/phone_number' } }] },
    });
    const malformed = await reserve({ phone_numbers: AUSTIN[0] });
    expect(malformed.status).toBe(422);
    expect(malformed.body.errors[0].source).toEqual({ pointer: '/phone_numbers' });
    expect(standIn.state.numberReservations.size).toBe(0);
    const missing = await rawRequest(`${standIn.url}/number_reservations/0b7c1f7e-5d1a-4c1e-9d4e-2f1a7a0c9b11`, {
      apiKey: standIn.apiKey,
    });
    expect(missing.status).toBe(404);
    expectMatchesSpec('GET', '/v2/number_reservations/0b7c1f7e-5d1a-4c1e-9d4e-2f1a7a0c9b11', 404, missing.body);
  });

  it('lists reservations by customer reference, number, status and creation time, a page at a time', async () => {
    const first = await client.numberReservations.create({
      phone_numbers: [{ phone_number: AUSTIN[0] }],
      customer_reference: 'church-a',
    });
    advance(MINUTE);
    const second = await client.numberReservations.create({
      phone_numbers: [{ phone_number: AUSTIN[1] }, { phone_number: AUSTIN[2] }],
      customer_reference: 'church-b',
    });
    const ids = async (filter: Telnyx.NumberReservationListParams.Filter, page?: { number: number; size: number }) => {
      const listed = await client.numberReservations.list({
        filter,
        ...(page ? { 'page[number]': page.number, 'page[size]': page.size } : {}),
      });
      expectMatchesSpec('GET', '/v2/number_reservations', 200, pageBody(listed));
      return listed.data.map((r) => r.id);
    };
    const [a, b] = [first.data!.id, second.data!.id];
    expect(await ids({})).toEqual([a, b]);
    expect(await ids({ customer_reference: 'church-b' })).toEqual([b]);
    expect(await ids({ 'phone_numbers.phone_number': AUSTIN[2] })).toEqual([b]);
    expect(await ids({ status: 'success' })).toEqual([a, b]);
    expect(await ids({ status: 'failure' })).toEqual([]);
    expect(await ids({ created_at: { gt: at(START) } })).toEqual([b]);
    expect(await ids({ created_at: { lt: at(START + MINUTE) } })).toEqual([a]);
    expect(await ids({}, { number: 2, size: 1 })).toEqual([b]);
    const bad = await rawRequest(`${standIn.url}/number_reservations?filter[created_at][gt]=yesterday`, {
      apiKey: standIn.apiKey,
    });
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].source).toEqual({ parameter: 'filter[created_at][gt]' });
  });
});

describe('Telnyx stand-in: searches by city and state', () => {
  let standIn: TelnyxStandIn;
  let client: Telnyx;
  beforeAll(async () => ({ standIn, client } = await openStandIn({ inventory: { bestEffortPerSearch: 2 } })));
  afterAll(() => closeChecked(standIn));

  const find = async (filter: Telnyx.AvailablePhoneNumberListParams.Filter) => {
    const result = await client.availablePhoneNumbers.list({ filter: { country_code: 'US', ...filter } });
    expectMatchesSpec('GET', '/v2/available_phone_numbers', 200, result);
    return result.data!;
  };

  it("finds exact matches in the city's area codes, padded with near matches unless best_effort is false", async () => {
    const exact = await find({ locality: 'Dallas', administrative_area: 'TX', best_effort: false });
    expect(exact.length).toBeGreaterThan(0);
    expect(new Set(exact.map((n) => n.phone_number!.slice(2, 5)))).toEqual(new Set(['214', '469', '972']));
    expect(exact.every((n) => n.best_effort === false)).toBe(true);
    const padded = await find({ locality: 'dallas', administrative_area: 'tx' });
    expect(padded.filter((n) => n.best_effort).length).toBe(2);
    expect(padded.filter((n) => n.best_effort).every((n) => !/^\+1(214|469|972)/.test(n.phone_number!))).toBe(true);
  });

  it('finds nothing exact for a city not in that state, or an area code outside the city', async () => {
    expect(await find({ locality: 'Dallas', administrative_area: 'WI', best_effort: false })).toEqual([]);
    expect(
      await find({
        national_destination_code: '414',
        locality: 'Dallas',
        administrative_area: 'TX',
        best_effort: false,
      }),
    ).toEqual([]);
    const milwaukee = await find({ national_destination_code: '414', locality: 'Milwaukee', best_effort: false });
    expect(milwaukee.length).toBeGreaterThan(0);
  });
});

describe('Telnyx stand-in: hold controls over HTTP (/_standin)', () => {
  let standIn: TelnyxStandIn;
  let client: Telnyx;
  let control: string;
  beforeEach(async () => {
    ({ standIn, client } = await heldStandIn());
    control = standIn.url.replace(/\/v2$/, '/_standin');
  });
  afterEach(() => closeChecked(standIn));

  it('expires holds now: one number, one reservation, or all', async () => {
    const one = await client.numberReservations.create({
      phone_numbers: [{ phone_number: AUSTIN[0] }, { phone_number: AUSTIN[1] }],
    });
    const other = await client.numberReservations.create({ phone_numbers: [{ phone_number: AUSTIN[2] }] });
    const byNumber = await rawRequest(`${control}/number-reservations/expire`, {
      method: 'POST',
      body: { phone_number: AUSTIN[1] },
    });
    expect(byNumber.status).toBe(200);
    expect(byNumber.body.data.map((r: { id: string }) => r.id)).toEqual([one.data!.id]);
    expect(byNumber.body.data[0].phone_numbers.map((n: { expired_at: string }) => n.expired_at)).toEqual([
      at(START + 30 * MINUTE),
      at(START),
    ]);
    const byId = await rawRequest(`${control}/number-reservations/expire`, {
      method: 'POST',
      body: { id: other.data!.id },
    });
    expect(byId.body.data.map((r: { id: string }) => r.id)).toEqual([other.data!.id]);
    const all = await rawRequest(`${control}/number-reservations/expire`, { method: 'POST' });
    expect(all.body.data.map((r: { id: string }) => r.id)).toEqual([one.data!.id]);
    expect(await rawRequest(`${control}/number-reservations/expire`, { method: 'POST' })).toMatchObject({
      status: 200,
      body: { data: [] },
    });
    const unknown = await rawRequest(`${control}/number-reservations/expire`, { method: 'POST', body: { id: 'nope' } });
    expect(unknown).toMatchObject({ status: 400, body: { error: 'no number reservation nope' } });
    const state = await rawRequest(`${control}/state`);
    expect(state.body.number_reservations).toHaveLength(2);
  });

  it('sells a number to another customer only once nobody holds it; then it can be neither held nor ordered', async () => {
    await client.numberReservations.create({ phone_numbers: [{ phone_number: AUSTIN[0] }] });
    const refused = await rawRequest(`${control}/available-phone-numbers/take`, {
      method: 'POST',
      body: { phone_number: AUSTIN[0] },
    });
    expect(refused.status).toBe(400);
    expect(refused.body.error).toMatch(/is on hold .*expire the hold first/);
    await rawRequest(`${control}/number-reservations/expire`, { method: 'POST' });
    const taken = await rawRequest(`${control}/available-phone-numbers/take`, {
      method: 'POST',
      body: { phone_number: AUSTIN[0] },
    });
    expect(taken).toMatchObject({ status: 200, body: { taken: AUSTIN[0] } });
    const listed = await client.availablePhoneNumbers.list({ filter: { national_destination_code: '512' } });
    expect(listed.data!.map((n) => n.phone_number)).toEqual([AUSTIN[1], AUSTIN[2]]);
    await expect(client.numberReservations.create({ phone_numbers: [{ phone_number: AUSTIN[0] }] })).rejects.toThrow(
      /not available/,
    );
    await expect(client.numberOrders.create({ phone_numbers: [{ phone_number: AUSTIN[0] }] })).rejects.toThrow(
      /not available/,
    );
    const again = await rawRequest(`${control}/available-phone-numbers/take`, {
      method: 'POST',
      body: { phone_number: AUSTIN[0] },
    });
    expect(again.status).toBe(400);
    const malformed = await rawRequest(`${control}/available-phone-numbers/take`, {
      method: 'POST',
      body: { phone_number: '5122010100' },
    });
    expect(malformed.body.error).toContain('E.164');
  });
});
