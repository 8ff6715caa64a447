/**
 * The stand-in's misbehaviour and inspection: auth, injected 429/5xx (with retry-after, for N requests, for a
 * while, after the request took effect), latency, the request log, the spec safety net on responses, and the same
 * controls over HTTP under /_standin.
 */
import Telnyx from 'telnyx';
import { PRODUCTION_FQDN_CONNECTION_ID } from '../../../vendors/vendor-settings';
import { validateTelnyxErrorEnvelope } from '../../../sandbox/telnyx/openapi';
import { startTelnyxStandIn, type TelnyxStandIn } from '../../../sandbox/telnyx/standin';
import { eventually } from '../../support/eventually';
import { closeChecked, expectMatchesSpec, openStandIn, rawRequest } from './support';

const CONNECTION = PRODUCTION_FQDN_CONNECTION_ID;

describe('Telnyx stand-in: auth', () => {
  let standIn: TelnyxStandIn;
  beforeAll(async () => ({ standIn } = await openStandIn({ apiKey: 'KEYtest-auth' })));
  afterAll(() => closeChecked(standIn));

  it('answers 401 in Telnyx shape without the Bearer token, or with a wrong one, on every /v2 route', async () => {
    for (const apiKey of [undefined, 'KEYwrong']) {
      const client = new Telnyx({ apiKey: apiKey ?? '', baseURL: standIn.url, maxRetries: 0 });
      const listing = await client.phoneNumbers.list().catch((e) => e);
      expect(listing).toBeInstanceOf(Telnyx.AuthenticationError);
      expectMatchesSpec('GET', '/v2/phone_numbers', 401, listing.error);
      expect(listing.error.errors[0]).toMatchObject({ code: '10009', title: 'Authentication failed' });
      const dial = await client.calls
        .dial({ connection_id: '1', from: '+14697288326', to: '+14144007103' })
        .catch((e) => e);
      expect(dial).toBeInstanceOf(Telnyx.AuthenticationError);
      expectMatchesSpec('POST', '/v2/calls', 401, dial.error);
    }
    const raw = await rawRequest(`${standIn.url}/no_such_thing`);
    expect(raw.status).toBe(401);
    expect(standIn.countRequests('*', '/')).toBe(5);
    expect(standIn.requests.every((r) => r.status === 401)).toBe(true);
  });

  it('serves the right key', async () => {
    const client = new Telnyx({ apiKey: 'KEYtest-auth', baseURL: standIn.url, maxRetries: 0 });
    await expect(client.phoneNumbers.list()).resolves.toBeDefined();
  });
});

describe('Telnyx stand-in: injected faults and latency', () => {
  let standIn: TelnyxStandIn;
  let client: Telnyx;
  beforeAll(async () => ({ standIn, client } = await openStandIn()));
  afterEach(() => standIn.clearFaults());
  afterAll(() => closeChecked(standIn));

  it('answers 429 with retry-after in Telnyx shape, then recovers once the fault is spent', async () => {
    standIn.injectFaults({ status: 429, count: 1, retryAfterSeconds: 7, pathPrefix: '/available_phone_numbers' });
    const limited = await client.availablePhoneNumbers
      .list({ filter: { national_destination_code: '414' } })
      .catch((e) => e);
    expect(limited).toBeInstanceOf(Telnyx.RateLimitError);
    expect(limited.headers.get('retry-after')).toBe('7');
    expect(validateTelnyxErrorEnvelope(limited.error)).toEqual([]);
    expect(limited.error.errors[0]).toMatchObject({ code: '10011', title: 'Too many requests' });
    const next = await client.availablePhoneNumbers.list({ filter: { national_destination_code: '414' } });
    expectMatchesSpec('GET', '/v2/available_phone_numbers', 200, next);
  });

  it('fails exactly N requests with 500, then serves again; a retrying client gets through', async () => {
    standIn.injectFaults({ status: 500, count: 2, pathPrefix: '/v2/phone_numbers' });
    for (let i = 0; i < 2; i++) {
      const failed = await client.phoneNumbers.list().catch((e) => e);
      expect(failed).toBeInstanceOf(Telnyx.InternalServerError);
      expectMatchesSpec('GET', '/v2/phone_numbers', 500, failed.error);
    }
    await expect(client.phoneNumbers.list()).resolves.toBeDefined();

    standIn.injectFaults({ status: 503, count: 1, retryAfterSeconds: 0, pathPrefix: '/phone_numbers' });
    const before = standIn.countRequests('GET', '/phone_numbers');
    const retrying = new Telnyx({ apiKey: standIn.apiKey, baseURL: standIn.url, maxRetries: 2 });
    await expect(retrying.phoneNumbers.list()).resolves.toBeDefined();
    expect(standIn.countRequests('GET', '/phone_numbers') - before).toBe(2);
  });

  it('limits a fault to its path prefix and method', async () => {
    standIn.injectFaults({ status: 503, pathPrefix: '/number_orders', method: 'POST' });
    await expect(client.phoneNumbers.list()).resolves.toBeDefined();
    await expect(client.numberOrders.list()).resolves.toBeDefined();
    const refused = await client.numberOrders
      .create({ phone_numbers: [{ phone_number: '+14144007103' }] })
      .catch((e) => e);
    expect(refused.status).toBe(503);
  });

  it('lasts forMs, then lets requests through again', async () => {
    standIn.injectFaults({ status: 503, forMs: 300 });
    const during = await client.phoneNumbers.list().catch((e) => e);
    expect(during.status).toBe(503);
    await eventually(
      () =>
        client.phoneNumbers.list().then(
          () => true,
          () => undefined,
        ),
      'the timed fault to lapse',
    );
    expect(standIn.state.faults).toEqual([]);
  });

  it('with takesEffect, carries the order out and loses only the answer: why orders are never retried blindly', async () => {
    const [offered] = (
      await client.availablePhoneNumbers.list({ filter: { national_destination_code: '312', best_effort: false } })
    ).data!;
    standIn.injectFaults({ status: 500, count: 1, pathPrefix: '/number_orders', method: 'POST', takesEffect: true });
    const lost = await client.numberOrders
      .create({ phone_numbers: [{ phone_number: offered.phone_number! }], customer_reference: 'church-lost-answer' })
      .catch((e) => e);
    expect(lost).toBeInstanceOf(Telnyx.InternalServerError);
    const orders = await client.numberOrders.list({ filter: { customer_reference: 'church-lost-answer' } });
    expect(orders.data.map((o) => o.phone_numbers![0].phone_number)).toEqual([offered.phone_number]);
    expect(standIn.requests.filter((r) => r.fault).at(-1)).toMatchObject({
      method: 'POST',
      path: '/v2/number_orders',
      status: 500,
    });
  });

  it('delays every /v2 call by the set latency: a client with a shorter timeout times out', async () => {
    standIn.setLatency(3000);
    try {
      const impatient = new Telnyx({ apiKey: standIn.apiKey, baseURL: standIn.url, maxRetries: 0, timeout: 200 });
      const timedOut = await impatient.fqdnConnections.retrieve(CONNECTION).catch((e) => e);
      // The SDK raises APIConnectionTimeoutError (a subclass) in plain Node; under jest the abort error comes from
      // another realm and reads as its parent, APIConnectionError. Either way: no answer, no status.
      expect(timedOut).toBeInstanceOf(Telnyx.APIConnectionError);
      expect(timedOut.status).toBeUndefined();
    } finally {
      standIn.setLatency(0);
    }
    await expect(client.fqdnConnections.retrieve(CONNECTION)).resolves.toBeDefined();
  });

  it('refuses a fault that is not an error status, naming the field', () => {
    expect(() => standIn.injectFaults({ status: 200 })).toThrow(
      'status must be an HTTP error status (400-599), got 200',
    );
    expect(() => standIn.injectFaults({ status: 500, count: 0 })).toThrow('count must be a positive integer, got 0');
  });
});

describe('Telnyx stand-in: request log', () => {
  let standIn: TelnyxStandIn;
  let client: Telnyx;
  beforeAll(async () => ({ standIn, client } = await openStandIn({ apiKey: 'KEYnever-logged' })));
  afterAll(() => closeChecked(standIn));

  it('counts purchases and records what was sent, never the credential', async () => {
    const offered = (
      await client.availablePhoneNumbers.list({
        filter: { national_destination_code: '414', best_effort: false, limit: 2 },
      })
    ).data!;
    for (const n of offered) {
      await client.numberOrders.create({
        phone_numbers: [{ phone_number: n.phone_number! }],
        connection_id: CONNECTION,
      });
    }
    expect(standIn.countRequests('POST', '/number_orders')).toBe(2);
    expect(standIn.countRequests('POST', '/v2/number_orders')).toBe(2);
    expect(standIn.countRequests('GET', '/available_phone_numbers')).toBe(1);
    expect(standIn.countRequests('DELETE', '/phone_numbers')).toBe(0);
    const search = standIn.requests.find((r) => r.path === '/v2/available_phone_numbers')!;
    expect(search.query).toEqual({
      'filter[national_destination_code]': '414',
      'filter[best_effort]': 'false',
      'filter[limit]': '2',
    });
    const purchase = standIn.requests.find((r) => r.method === 'POST')!;
    expect(purchase).toMatchObject({
      operationId: 'CreateNumberOrder',
      status: 200,
      body: { phone_numbers: [{ phone_number: offered[0].phone_number }] },
    });
    expect(JSON.stringify(standIn.requests)).not.toContain('KEYnever-logged');
  });
});

describe('Telnyx stand-in: response safety net', () => {
  it('turns a response that breaks the spec into a 500 naming the field, and records it', async () => {
    const standIn = await startTelnyxStandIn();
    try {
      const seeded = standIn.seedPhoneNumber({ phone_number: '+14144007103', connection_id: CONNECTION });
      // Corrupt the record behind the API, as a stand-in bug would.
      (standIn.state.phoneNumbers.get(seeded.id) as unknown as { phone_number: number }).phone_number = 14144007103;
      const response = await rawRequest(`${standIn.url}/phone_numbers/${seeded.id}`, { apiKey: standIn.apiKey });
      expect(response.status).toBe(500);
      expect(response.body.errors[0].title).toBe('Stand-in response broke the Telnyx spec');
      expect(response.body.errors[0].detail).toContain('response body /data/phone_number: must be string');
      expect(standIn.state.specFailures).toEqual([
        expect.objectContaining({
          what: `GET /v2/phone_numbers/${seeded.id} -> 200`,
          errors: ['response body /data/phone_number: must be string'],
        }),
      ]);
      expect(standIn.requests.at(-1)!.status).toBe(500);
    } finally {
      await standIn.close();
    }
  });

  it('sends such a response unchanged when validateResponses is off', async () => {
    const standIn = await startTelnyxStandIn({ validateResponses: false });
    try {
      const seeded = standIn.seedPhoneNumber({ phone_number: '+14144007103', connection_id: CONNECTION });
      (standIn.state.phoneNumbers.get(seeded.id) as unknown as { phone_number: number }).phone_number = 14144007103;
      const response = await rawRequest(`${standIn.url}/phone_numbers/${seeded.id}`, { apiKey: standIn.apiKey });
      expect(response.status).toBe(200);
      expect(response.body.data.phone_number).toBe(14144007103);
    } finally {
      await standIn.close();
    }
  });
});

describe('Telnyx stand-in: routes it does not serve', () => {
  let standIn: TelnyxStandIn;
  beforeAll(async () => ({ standIn } = await openStandIn()));
  afterAll(() => closeChecked(standIn));

  // Every operation of the in-repo spec is served (a 501 for a spec operation without a handler is only reachable
  // with TELNYX_OPENAPI_SPEC pointing at a fuller spec).
  it('answers 405 for a method the path lacks, 404 off the spec', async () => {
    const put = await rawRequest(`${standIn.url}/phone_numbers`, { method: 'PUT', apiKey: standIn.apiKey, body: {} });
    expect(put.status).toBe(405);
    const nowhere = await rawRequest(`${standIn.url}/churches`, { apiKey: standIn.apiKey });
    expect(nowhere.status).toBe(404);
    // A real Telnyx operation the stand-in does not serve is outside its trimmed spec: 404, saying so.
    const balance = await rawRequest(`${standIn.url}/balance`, { apiKey: standIn.apiKey });
    expect(balance.status).toBe(404);
    expect(balance.body.errors[0].detail).toContain('sandbox/telnyx/telnyx-openapi.yml');
    for (const r of [put, nowhere, balance]) expect(validateTelnyxErrorEnvelope(r.body)).toEqual([]);
  });

  it('answers 400 in Telnyx shape for a body that is not JSON', async () => {
    const response = await rawRequest(`${standIn.url}/number_orders`, {
      method: 'POST',
      apiKey: standIn.apiKey,
      rawBody: '{"phone_numbers": [',
    });
    expect(response.status).toBe(400);
    expectMatchesSpec('POST', '/v2/number_orders', 400, response.body);
    expect(response.body.errors[0].detail).toBe('The request body is not valid JSON');
  });
});

describe('Telnyx stand-in: controls over HTTP (/_standin)', () => {
  let standIn: TelnyxStandIn;
  let control: string;
  beforeAll(async () => {
    ({ standIn } = await openStandIn());
    control = standIn.url.replace(/\/v2$/, '/_standin');
  });
  afterAll(() => closeChecked(standIn));

  it('seeds a number, injects and clears faults, sets latency, and reads the log and the state', async () => {
    const seeded = await rawRequest(`${control}/phone-numbers`, {
      method: 'POST',
      body: { phone_number: '+17473897673', connection_id: CONNECTION, tags: ['church'], deletion_lock_enabled: true },
    });
    expect(seeded.status).toBe(201);
    expect(seeded.body.data).toMatchObject({
      phone_number: '+17473897673',
      status: 'active',
      deletion_lock_enabled: true,
    });

    const fault = await rawRequest(`${control}/faults`, {
      method: 'POST',
      body: { status: 429, count: 1, retryAfterSeconds: 3 },
    });
    expect(fault.status).toBe(201);
    const limited = await rawRequest(`${standIn.url}/phone_numbers/${seeded.body.data.id}`, { apiKey: standIn.apiKey });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('3');
    const served = await rawRequest(`${standIn.url}/phone_numbers/${seeded.body.data.id}`, { apiKey: standIn.apiKey });
    expect(served.status).toBe(200);
    expectMatchesSpec('GET', `/v2/phone_numbers/${seeded.body.data.id}`, 200, served.body);

    await rawRequest(`${control}/faults`, { method: 'POST', body: { status: 503 } });
    expect((await rawRequest(`${control}/faults`)).body.data).toHaveLength(1);
    await rawRequest(`${control}/faults`, { method: 'DELETE' });
    expect((await rawRequest(`${control}/faults`)).body.data).toEqual([]);

    const latency = await rawRequest(`${control}/latency`, { method: 'POST', body: { ms: 0 } });
    expect(latency).toMatchObject({ status: 200, body: { latency_ms: 0 } });

    const log = await rawRequest(`${control}/requests?method=GET&pathPrefix=/phone_numbers`);
    expect(log.body.count).toBe(2);
    expect(log.body.data.map((r: { status: number }) => r.status)).toEqual([429, 200]);

    const state = await rawRequest(`${control}/state`);
    expect(state.body.phone_numbers).toEqual([expect.objectContaining({ phone_number: '+17473897673' })]);
    expect(state.body.fqdn_connections).toEqual([
      expect.objectContaining({ id: CONNECTION, connection_name: 'LiveKit Inbound v2' }),
    ]);
    expect(state.body.spec_failures).toEqual([]);
  });

  it('answers 400 naming the field for a bad control request', async () => {
    const badFault = await rawRequest(`${control}/faults`, { method: 'POST', body: { status: 'often' } });
    expect(badFault).toMatchObject({
      status: 400,
      body: { error: expect.stringContaining('status must be an HTTP error status') },
    });
    const badSeed = await rawRequest(`${control}/phone-numbers`, {
      method: 'POST',
      body: { phone_number: '4144007103', connection_id: CONNECTION },
    });
    expect(badSeed).toMatchObject({
      status: 400,
      body: { error: expect.stringContaining('seed phone_number must be E.164') },
    });
    const badLatency = await rawRequest(`${control}/latency`, { method: 'POST', body: { ms: -5 } });
    expect(badLatency).toMatchObject({
      status: 400,
      body: { error: expect.stringContaining('ms must be a non-negative number') },
    });
  });
});
