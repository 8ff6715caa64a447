/**
 * The Telnyx client against the Telnyx stand-in (a local API v2 that checks every request against Telnyx's
 * OpenAPI spec): the retry rule (429/5xx/transport retried, other 4xx final, a number order and a dial never
 * re-sent), errors that name vendor, method and path, filters and pagination, and Call Control (dial, status, hangup).
 */
import * as net from 'net';
import Telnyx from 'telnyx';
import { startTelnyxStandIn, type TelnyxStandIn } from '../../sandbox/telnyx/standin';
import { PRODUCTION_FQDN_CONNECTION_ID } from '../../vendors/vendor-settings';
import { classifyTelnyxError, TelnyxClient } from '../../vendors/telnyx-client';
import { VendorError, type RetryPolicy } from '../../vendors/vendor-request';

/** Short pauses so retried calls finish quickly; the rule (what is retried, how often) is the production one. */
const FAST_RETRIES: RetryPolicy = { attempts: 5, baseDelayMs: 10, maxDelayMs: 50 };

let standIn: TelnyxStandIn;
let client: TelnyxClient;

beforeAll(async () => {
  standIn = await startTelnyxStandIn({
    inventory: { byAreaCode: { '414': ['+14145550142', '+14142010001', '+14142010002'] } },
  });
  client = new TelnyxClient({ apiKey: standIn.apiKey, baseUrl: standIn.url }, { retryPolicy: FAST_RETRIES });
});

afterAll(async () => {
  await standIn?.close();
});

afterEach(() => {
  standIn.clearFaults();
  // A stand-in response that broke the Telnyx spec would make every assertion above it meaningless.
  expect(standIn.state.specFailures).toEqual([]);
});

describe('classifyTelnyxError', () => {
  const headers = (init: Record<string, string>) => new Headers(init);

  it('reads status, Telnyx error code and detail, and retry-after', () => {
    const error = Telnyx.APIError.generate(
      429,
      { errors: [{ code: '10011', title: 'Too many requests', detail: 'slow down' }] },
      undefined,
      headers({ 'retry-after': '3' }),
    );
    expect(error).toBeInstanceOf(Telnyx.RateLimitError);
    expect(classifyTelnyxError(error)).toEqual({ status: 429, code: '10011', detail: 'slow down', retryAfterMs: 3000 });
  });

  it('falls back to the title, then the SDK message, when Telnyx sends no detail', () => {
    const titled = Telnyx.APIError.generate(
      422,
      { errors: [{ code: 10015, title: 'Invalid' }] },
      undefined,
      headers({}),
    );
    expect(classifyTelnyxError(titled)).toMatchObject({ status: 422, code: '10015', detail: 'Invalid' });
    const bare = Telnyx.APIError.generate(502, undefined, 'Bad Gateway', headers({}));
    expect(classifyTelnyxError(bare)).toMatchObject({ status: 502, detail: expect.stringContaining('Bad Gateway') });
  });

  it('treats connection errors and timeouts as transport failures', () => {
    expect(classifyTelnyxError(new Telnyx.APIConnectionError({ message: 'Connection error.' }))).toEqual({
      detail: 'Connection error.',
    });
    expect(classifyTelnyxError(new Telnyx.APIConnectionTimeoutError())).toEqual({ detail: 'Request timed out.' });
  });

  it('leaves programming errors and aborts to the caller', () => {
    expect(classifyTelnyxError(new TypeError('x is undefined'))).toBeUndefined();
    expect(classifyTelnyxError(new Telnyx.APIUserAbortError())).toBeUndefined();
  });
});

describe('TelnyxClient against the stand-in', () => {
  it('searches exact local voice numbers in the area code and asks for no near matches', async () => {
    const found = await client.searchAvailableLocalNumbers('414', 10);
    expect(found.map((n) => n.phoneNumber).sort()).toEqual(['+14142010001', '+14142010002', '+14145550142']);
    expect(found.every((n) => !n.bestEffort && n.features.includes('voice'))).toBe(true);
    const search = standIn.requests.filter((r) => r.path === '/v2/available_phone_numbers').at(-1)!;
    expect(search.query).toMatchObject({
      'filter[country_code]': 'US',
      'filter[national_destination_code]': '414',
      'filter[phone_number_type]': 'local',
      'filter[features]': 'voice',
      'filter[best_effort]': 'false',
      'filter[limit]': '10',
    });
  });

  it('drops near matches even when the inventory offers them', async () => {
    // Without best_effort=false the stand-in, like Telnyx, pads a sold-out area code with other area codes' numbers.
    const sdk = new Telnyx({ apiKey: standIn.apiKey, baseURL: standIn.url, maxRetries: 0 });
    const padded = await sdk.availablePhoneNumbers.list({
      filter: { national_destination_code: '299', country_code: 'US' },
    });
    expect((padded.data ?? []).some((n) => n.best_effort === true)).toBe(true);
    const found = await client.searchAvailableLocalNumbers('299', 10);
    expect(found.length).toBeGreaterThan(0);
    expect(found.every((n) => n.phoneNumber.startsWith('+1299'))).toBe(true);
  });

  it('retries a 429 on a GET, honouring retry-after, and succeeds', async () => {
    const number = standIn.seedPhoneNumber({
      phone_number: '+14142019001',
      connection_id: PRODUCTION_FQDN_CONNECTION_ID,
    });
    const before = standIn.countRequests('GET', `/phone_numbers/${number.id}`);
    standIn.injectFaults({ status: 429, count: 2, pathPrefix: `/phone_numbers/${number.id}`, retryAfterSeconds: 1 });
    const record = await client.getPhoneNumber(number.id);
    expect(record).toMatchObject({ id: number.id, phoneNumber: '+14142019001', status: 'active' });
    expect(standIn.countRequests('GET', `/phone_numbers/${number.id}`) - before).toBe(3);
  });

  it('retries a 500 on a GET and succeeds', async () => {
    const before = standIn.countRequests('GET', `/fqdn_connections/${PRODUCTION_FQDN_CONNECTION_ID}`);
    standIn.injectFaults({ status: 500, count: 3, pathPrefix: '/fqdn_connections' });
    const connection = await client.getFqdnConnection(PRODUCTION_FQDN_CONNECTION_ID);
    expect(connection).toMatchObject({ connectionName: 'LiveKit Inbound v2', transportProtocol: 'TCP' });
    expect(standIn.countRequests('GET', `/fqdn_connections/${PRODUCTION_FQDN_CONNECTION_ID}`) - before).toBe(4);
  });

  it('gives up after the policy attempts, naming vendor, method, path and attempts', async () => {
    standIn.injectFaults({ status: 503, pathPrefix: '/fqdn_connections' });
    const error = await client.getFqdnConnection(PRODUCTION_FQDN_CONNECTION_ID).catch((e) => e);
    expect(error).toBeInstanceOf(VendorError);
    expect(error.message).toMatch(
      new RegExp(`^telnyx GET /fqdn_connections/${PRODUCTION_FQDN_CONNECTION_ID} failed after 5 attempts: HTTP 503`),
    );
  });

  it('treats a 422 as final: one request, a clear error', async () => {
    const number = standIn.seedPhoneNumber({
      phone_number: '+14142019002',
      connection_id: PRODUCTION_FQDN_CONNECTION_ID,
    });
    const before = standIn.countRequests('PATCH', `/phone_numbers/${number.id}`);
    const error = await client.updatePhoneNumber(number.id, { connection_id: '1999999999999999999' }).catch((e) => e);
    expect(error).toBeInstanceOf(VendorError);
    expect(error).toMatchObject({
      vendor: 'telnyx',
      method: 'PATCH',
      path: `/phone_numbers/${number.id}`,
      status: 422,
      attempts: 1,
    });
    expect(error.message).toContain('connection_id 1999999999999999999 is not a connection of this account');
    expect(standIn.countRequests('PATCH', `/phone_numbers/${number.id}`) - before).toBe(1);
  });

  it('treats a 404 as final and says so', async () => {
    const error = await client.getPhoneNumber('1000000000000000001').catch((e) => e);
    expect(error).toBeInstanceOf(VendorError);
    expect(error.notFound).toBe(true);
    expect(error.attempts).toBe(1);
  });

  it('never re-sends a number order, even on a 500 after which the order exists', async () => {
    const [offer] = await client.searchAvailableLocalNumbers('414', 10);
    const before = standIn.countRequests('POST', '/number_orders');
    standIn.injectFaults({ status: 500, count: 1, method: 'POST', pathPrefix: '/number_orders', takesEffect: true });
    const error = await client
      .createNumberOrder({
        phoneNumber: offer!.phoneNumber,
        connectionId: PRODUCTION_FQDN_CONNECTION_ID,
        customerReference: 'church-order-500',
      })
      .catch((e) => e);
    expect(error).toBeInstanceOf(VendorError);
    expect(error).toMatchObject({ method: 'POST', path: '/number_orders', status: 500, attempts: 1 });
    expect(standIn.countRequests('POST', '/number_orders') - before).toBe(1);
    // The order went through: the caller finds it by customer reference instead of ordering again.
    const orders = await client.listNumberOrders({ customerReference: 'church-order-500' });
    expect(orders).toHaveLength(1);
    expect(orders[0]!.phoneNumbers.map((line) => line.phoneNumber)).toEqual([offer!.phoneNumber]);
  });

  it('reports a refused connection as a transport error after retrying', async () => {
    const closedPort = await new Promise<number>((resolve) => {
      const server = net.createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as net.AddressInfo;
        server.close(() => resolve(port));
      });
    });
    const offline = new TelnyxClient(
      { apiKey: standIn.apiKey, baseUrl: `http://127.0.0.1:${closedPort}/v2` },
      { retryPolicy: FAST_RETRIES },
    );
    const error = await offline.getPhoneNumber('1').catch((e) => e);
    expect(error).toBeInstanceOf(VendorError);
    expect(error.status).toBeUndefined();
    expect(error.message).toMatch(/^telnyx GET \/phone_numbers\/1 failed after 5 attempts: transport error/);
  });

  it('does not leak the API key into errors', async () => {
    const wrongKey = new TelnyxClient(
      { apiKey: 'KEYwrong-secret-value', baseUrl: standIn.url },
      { retryPolicy: FAST_RETRIES },
    );
    const error = await wrongKey.getFqdnConnection(PRODUCTION_FQDN_CONNECTION_ID).catch((e) => e);
    expect(error).toMatchObject({ status: 401, attempts: 1 });
    expect(JSON.stringify({ message: error.message, detail: error.detail })).not.toContain('KEYwrong-secret-value');
  });

  it('walks every page of a list and filters by customer reference', async () => {
    for (let i = 0; i < 260; i++) {
      standIn.seedPhoneNumber({
        phone_number: `+1312${String(2000000 + i)}`,
        connection_id: PRODUCTION_FQDN_CONNECTION_ID,
        customer_reference: 'church-many',
      });
    }
    standIn.seedPhoneNumber({ phone_number: '+13129999999', connection_id: null, customer_reference: 'someone-else' });
    const before = standIn.countRequests('GET', '/phone_numbers');
    const numbers = await client.listPhoneNumbers({ customerReference: 'church-many' });
    expect(numbers).toHaveLength(260);
    expect(new Set(numbers.map((n) => n.phoneNumber)).size).toBe(260);
    expect(numbers.every((n) => n.customerReference === 'church-many')).toBe(true);
    expect(standIn.countRequests('GET', '/phone_numbers') - before).toBe(2);
  });

  it('finds a number by its exact E.164, not by a partial digit match', async () => {
    standIn.seedPhoneNumber({ phone_number: '+14142018888', connection_id: PRODUCTION_FQDN_CONNECTION_ID });
    standIn.seedPhoneNumber({ phone_number: '+14142018889', connection_id: PRODUCTION_FQDN_CONNECTION_ID });
    expect(await client.findPhoneNumber('+14142018888')).toMatchObject({ phoneNumber: '+14142018888' });
    expect(await client.findPhoneNumber('+1414201888')).toBeUndefined();
    const query = standIn.requests.filter((r) => r.path === '/v2/phone_numbers').at(-1)!.query;
    expect(query['filter[phone_number]']).toBe('1414201888');
  });

  it('lists the FQDNs of a connection', async () => {
    expect(await client.listFqdns(PRODUCTION_FQDN_CONNECTION_ID)).toEqual([
      expect.objectContaining({
        fqdn: '5u9xu5ysoly.sip.livekit.cloud',
        port: 5060,
        connectionId: PRODUCTION_FQDN_CONNECTION_ID,
      }),
    ]);
  });
});

describe('TelnyxClient Call Control against the stand-in', () => {
  const CALL_CONTROL_APP = '1684641123236054244';
  const CALLER = '+14697288326';

  it('dials, reports the call alive, hangs up, then reports it ended; a second hangup is not an error', async () => {
    standIn.seedPhoneNumber({ phone_number: '+14142017001', connection_id: PRODUCTION_FQDN_CONNECTION_ID });
    const { callControlId } = await client.dialCall({
      connectionId: CALL_CONTROL_APP,
      to: '+14142017001',
      from: CALLER,
      timeoutSecs: 11,
      timeLimitSecs: 60,
    });
    const dial = standIn.requests.filter((r) => r.operationId === 'DialCall').at(-1)!;
    expect(dial.body).toMatchObject({
      connection_id: CALL_CONTROL_APP,
      to: '+14142017001',
      from: CALLER,
      timeout_secs: 11,
      time_limit_secs: 60,
    });
    expect(await client.getCall(callControlId)).toMatchObject({ callControlId, isAlive: true, ended: false });

    await client.hangupCall(callControlId);
    const ended = await client.getCall(callControlId);
    expect(ended).toMatchObject({ callControlId, isAlive: false, ended: true, endTime: expect.any(String) });
    const hangups = () => standIn.countRequests('POST', `/calls/${callControlId}/actions/hangup`);
    const before = hangups();
    await expect(client.hangupCall(callControlId)).resolves.toBeUndefined();
    expect(standIn.requests.filter((r) => r.path.endsWith('/actions/hangup')).at(-1)!.status).toBe(422);
    expect(hangups() - before).toBe(1);
  });

  it('answers undefined for a call Telnyx does not know, and a hangup of it is not an error', async () => {
    expect(await client.getCall('v3:unknown-call')).toBeUndefined();
    await expect(client.hangupCall('v3:unknown-call')).resolves.toBeUndefined();
  });

  it('never re-sends a dial, even on a 500: a second POST /calls could ring the number twice', async () => {
    const before = standIn.countRequests('POST', '/calls');
    standIn.injectFaults({ status: 500, count: 1, method: 'POST', pathPrefix: '/calls' });
    const error = await client
      .dialCall({ connectionId: CALL_CONTROL_APP, to: '+14142017001', from: CALLER, timeoutSecs: 10 })
      .catch((e) => e);
    expect(error).toBeInstanceOf(VendorError);
    expect(error).toMatchObject({ vendor: 'telnyx', method: 'POST', path: '/calls', status: 500, attempts: 1 });
    expect(standIn.countRequests('POST', '/calls') - before).toBe(1);
  });

  it('retries a status read on a 503 (reading is safe to repeat)', async () => {
    const { callControlId } = await client.dialCall({
      connectionId: CALL_CONTROL_APP,
      to: '+14142017001',
      from: CALLER,
      timeoutSecs: 10,
    });
    const before = standIn.countRequests('GET', `/calls/${callControlId}`);
    standIn.injectFaults({ status: 503, count: 2, method: 'GET', pathPrefix: `/calls/${callControlId}` });
    expect(await client.getCall(callControlId)).toMatchObject({ isAlive: true });
    expect(standIn.countRequests('GET', `/calls/${callControlId}`) - before).toBe(3);
    await client.hangupCall(callControlId);
  });
});

describe('TelnyxClient number holds and searches by place against the stand-in', () => {
  const START = Date.parse('2026-12-01T15:00:00.000Z');
  const MINUTE = 60_000;
  const AUSTIN = ['+15122010100', '+15122015000', '+15122017777'];
  const at = (ms: number) => new Date(ms).toISOString();
  let now = START;
  let holds: TelnyxStandIn;
  let holdsClient: TelnyxClient;

  beforeEach(async () => {
    now = START;
    holds = await startTelnyxStandIn({
      inventory: { byAreaCode: { '512': AUSTIN } },
      orderCompletesAfterPolls: 0,
      clock: () => new Date(now),
    });
    holdsClient = new TelnyxClient({ apiKey: holds.apiKey, baseUrl: holds.url }, { retryPolicy: FAST_RETRIES });
  });

  afterEach(async () => {
    expect(holds.state.specFailures).toEqual([]);
    await holds.close();
  });

  const lastSearch = () => holds.requests.filter((r) => r.path === '/v2/available_phone_numbers').at(-1)!.query;

  it('holds one number for 30 minutes for the church, and reads the hold back', async () => {
    const hold = await holdsClient.createNumberReservation({
      phoneNumber: AUSTIN[1],
      customerReference: 'new-hope-austin',
    });
    expect(hold).toEqual({
      id: expect.any(String),
      status: 'success',
      phoneNumbers: [{ phoneNumber: AUSTIN[1], status: 'success', expiresAt: at(START + 30 * MINUTE) }],
      customerReference: 'new-hope-austin',
      createdAt: at(START),
      expiresAt: at(START + 30 * MINUTE),
    });
    expect(await holdsClient.getNumberReservation(hold.id)).toEqual(hold);
    const body = holds.requests.find((r) => r.path === '/v2/number_reservations')!.body;
    expect(body).toEqual({ phone_numbers: [{ phone_number: AUSTIN[1] }], customer_reference: 'new-hope-austin' });
  });

  it('extends a hold to 30 minutes from now, retrying the extend on a 503', async () => {
    const hold = await holdsClient.createNumberReservation({ phoneNumber: AUSTIN[0], customerReference: 'church-x' });
    now += 25 * MINUTE;
    const path = `/number_reservations/${hold.id}/actions/extend`;
    holds.injectFaults({ status: 503, count: 1, method: 'POST', pathPrefix: path });
    const extended = await holdsClient.extendNumberReservation(hold.id);
    expect(extended.expiresAt).toBe(at(START + 55 * MINUTE));
    expect(holds.countRequests('POST', path)).toBe(2);
  });

  it('treats the extend of a lapsed hold as final: a 422, sent once', async () => {
    const hold = await holdsClient.createNumberReservation({ phoneNumber: AUSTIN[0], customerReference: 'church-x' });
    now += 31 * MINUTE;
    const error = await holdsClient.extendNumberReservation(hold.id).catch((e) => e);
    expect(error).toBeInstanceOf(VendorError);
    expect(error).toMatchObject({ status: 422, attempts: 1, path: `/number_reservations/${hold.id}/actions/extend` });
    expect(error.detail).toContain('create a new reservation');
  });

  it('never re-sends a hold, even on a 500 after which it exists; the caller finds it by customer reference', async () => {
    holds.injectFaults({
      status: 500,
      count: 1,
      method: 'POST',
      pathPrefix: '/number_reservations',
      takesEffect: true,
    });
    const error = await holdsClient
      .createNumberReservation({ phoneNumber: AUSTIN[2], customerReference: 'church-500' })
      .catch((e) => e);
    expect(error).toMatchObject({ method: 'POST', path: '/number_reservations', status: 500, attempts: 1 });
    expect(holds.countRequests('POST', '/number_reservations')).toBe(1);
    const found = await holdsClient.listNumberReservations({ customerReference: 'church-500' });
    expect(found.map((r) => r.phoneNumbers.map((n) => n.phoneNumber))).toEqual([[AUSTIN[2]]]);
    expect(await holdsClient.listNumberReservations({ phoneNumber: AUSTIN[2] })).toEqual(found);
    expect(await holdsClient.listNumberReservations({ customerReference: 'someone-else' })).toEqual([]);
    const again = await holdsClient
      .createNumberReservation({ phoneNumber: AUSTIN[2], customerReference: 'church-other' })
      .catch((e) => e);
    expect(again).toMatchObject({ status: 422, detail: expect.stringContaining('already on hold') });
  });

  it('leaves held numbers out of a search for a church, keeps them in the search that checks a held number', async () => {
    await holdsClient.createNumberReservation({ phoneNumber: AUSTIN[0], customerReference: 'church-a' });
    const offered = await holdsClient.searchLocalNumbers({ areaCode: '512' }, { limit: 10 });
    expect(offered.map((n) => n.phoneNumber)).toEqual([AUSTIN[1], AUSTIN[2]]);
    expect(lastSearch()).toMatchObject({
      'filter[country_code]': 'US',
      'filter[national_destination_code]': '512',
      'filter[phone_number_type]': 'local',
      'filter[features]': 'voice',
      'filter[best_effort]': 'false',
      'filter[exclude_held_numbers]': 'true',
      'filter[limit]': '10',
    });
    const all = await holdsClient.searchLocalNumbers({ areaCode: '512' }, { limit: 10, excludeHeld: false });
    expect(all.map((n) => n.phoneNumber)).toEqual(AUSTIN);
    expect(lastSearch()['filter[exclude_held_numbers]']).toBeUndefined();
    const exact = await holdsClient.searchAvailableLocalNumbers('512', 10, { endsWith: AUSTIN[0].slice(5) });
    expect(exact.map((n) => n.phoneNumber)).toEqual([AUSTIN[0]]);
    now += 30 * MINUTE;
    expect((await holdsClient.searchLocalNumbers({ areaCode: '512' }, { limit: 10 })).length).toBe(3);
  });

  it('searches a city and state for exact matches only, with the monthly cost', async () => {
    const dallas = await holdsClient.searchLocalNumbers(
      { locality: 'Dallas', administrativeArea: 'TX' },
      { limit: 20 },
    );
    expect(dallas.length).toBeGreaterThan(0);
    expect(dallas.every((n) => /^\+1(214|469|972)\d{7}$/.test(n.phoneNumber) && !n.bestEffort)).toBe(true);
    expect(dallas[0]).toMatchObject({ monthlyCost: expect.any(String), currency: 'USD' });
    const query = lastSearch();
    expect(query).toMatchObject({
      'filter[locality]': 'Dallas',
      'filter[administrative_area]': 'TX',
      'filter[best_effort]': 'false',
    });
    expect(query['filter[national_destination_code]']).toBeUndefined();
    expect(
      await holdsClient.searchLocalNumbers({ locality: 'Nowhere', administrativeArea: 'TX' }, { limit: 5 }),
    ).toEqual([]);
  });
});
