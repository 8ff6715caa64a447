/**
 * TeXML applications: create, retrieve and list through the SDK, each checked against the spec; a number moved onto
 * an application and back onto the FQDN connection; and a call to a number on an application, answered by a real
 * local HTTP server standing in for the service's /voice/fallback (or not answered, when nothing listens there).
 */
import * as http from 'http';
import type { AddressInfo } from 'net';
import Telnyx from 'telnyx';
import { PRODUCTION_FQDN_CONNECTION_ID } from '../../../vendors/vendor-settings';
import { SANDBOX_PORTS } from '../../../sandbox/ports';
import {
  SANDBOX_FALLBACK_TEXML_APP,
  ensureFallbackTexmlApplication,
  stackFileSettings,
} from '../../../sandbox/lines-in-service';
import type { TelnyxStandIn } from '../../../sandbox/telnyx/standin';
import { parseTexml } from '../../../sandbox/telnyx/texml';
import { closeChecked, expectMatchesSpec, openStandIn, pageBody, rawRequest, startWebhookReceiver } from './support';

const CALL_CONTROL_APP = '1684641123236054244';
const PARKED_NUMBER = '+14144007103';
const CALLER = '+14697288326';
const FALLBACK_APP_ID = '2990000000000000014';
const FALLBACK_TEXML =
  '<?xml version="1.0" encoding="UTF-8"?><Response><Say>This church&apos;s line is no longer active &amp; ' +
  'we are sorry.</Say><Hangup/></Response>';

interface ReceivedTexml {
  method: string;
  url: string;
  contentType?: string;
  form: Record<string, string>;
}

/** A tiny loopback server standing in for the service's /voice/fallback: it keeps what it was sent. */
async function startFallbackRoute(
  answer: { status: number; contentType: string; body: string } = {
    status: 200,
    contentType: 'application/xml; charset=utf-8',
    body: FALLBACK_TEXML,
  },
): Promise<{ url: string; received: ReceivedTexml[]; close(): Promise<void> }> {
  const received: ReceivedTexml[] = [];
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push({
        method: request.method ?? '',
        url: request.url ?? '',
        contentType: request.headers['content-type'],
        form: Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8'))),
      });
      response.writeHead(answer.status, { 'content-type': answer.contentType }).end(answer.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/voice/fallback`,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A loopback port nothing listens on (taken, then released). */
async function closedPortUrl(): Promise<string> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}/voice/fallback`;
}

describe('Telnyx stand-in: TeXML applications', () => {
  let standIn: TelnyxStandIn;
  let client: Telnyx;
  beforeAll(async () => ({ standIn, client } = await openStandIn()));
  afterAll(() => closeChecked(standIn));

  it('creates an application (201), retrieves it and lists it, each as the spec says', async () => {
    const created = await client.texmlApplications.create({
      friendly_name: 'ChurchWise fallback',
      voice_url: 'http://127.0.0.1:8787/voice/fallback',
      voice_method: 'post',
      tags: ['parking'],
    });
    expectMatchesSpec('POST', '/v2/texml_applications', 201, created);
    const app = created.data!;
    expect(app).toMatchObject({
      record_type: 'texml_application',
      friendly_name: 'ChurchWise fallback',
      voice_url: 'http://127.0.0.1:8787/voice/fallback',
      voice_method: 'post',
      active: true,
      tags: ['parking'],
    });
    expect(app.id).toMatch(/^\d+$/);
    expect(standIn.requests.at(-1)).toMatchObject({ operationId: 'CreateTexmlApplication', status: 201 });

    const retrieved = await client.texmlApplications.retrieve(app.id!);
    expectMatchesSpec('GET', `/v2/texml_applications/${app.id}`, 200, retrieved);
    expect(retrieved.data).toEqual(app);

    await client.texmlApplications.create({ friendly_name: 'call-router', voice_url: 'http://127.0.0.1:9/texml' });
    const all = await client.texmlApplications.list();
    expectMatchesSpec('GET', '/v2/texml_applications', 200, pageBody(all));
    expect(all.data.map((a) => a.friendly_name)).toEqual(['call-router', 'ChurchWise fallback']); // newest first
    const byName = await client.texmlApplications.list({ filter: { friendly_name: 'churchwise' } });
    expect(byName.data.map((a) => a.id)).toEqual([app.id]);
    expect((pageBody(byName) as { meta: unknown }).meta).toEqual({
      total_results: 1,
      total_pages: 1,
      page_number: 1,
      page_size: 250,
    });
  });

  it('refuses a body the spec refuses with 422 naming the field, and creates nothing', async () => {
    const before = standIn.state.texmlApplications.size;
    const missing = await rawRequest(`${standIn.url}/texml_applications`, {
      method: 'POST',
      apiKey: standIn.apiKey,
      body: { friendly_name: 'no url' },
    });
    expect(missing.status).toBe(422);
    expectMatchesSpec('POST', '/v2/texml_applications', 422, missing.body);
    expect(JSON.stringify(missing.body.errors)).toContain('voice_url');
    const badMethod = await rawRequest(`${standIn.url}/texml_applications`, {
      method: 'POST',
      apiKey: standIn.apiKey,
      body: { friendly_name: 'bad', voice_url: 'http://127.0.0.1:1/x', voice_method: 'put' },
    });
    expect(badMethod.status).toBe(422);
    expect(badMethod.body.errors[0]).toMatchObject({ source: { pointer: '/voice_method' } });
    expect(standIn.state.texmlApplications.size).toBe(before);
    expect(standIn.state.specFailures).toEqual([]);
  });

  it('answers 404 for an unknown application and 400 for a filter shorter than three characters', async () => {
    const missing = await client.texmlApplications.retrieve('1234').catch((e) => e);
    expect(missing).toBeInstanceOf(Telnyx.NotFoundError);
    expectMatchesSpec('GET', '/v2/texml_applications/1234', 404, missing.error);
    const short = await client.texmlApplications.list({ filter: { friendly_name: 'ch' } }).catch((e) => e);
    expect(short).toBeInstanceOf(Telnyx.BadRequestError);
  });

  it('puts an application with a fixed id into the account through the control route, checked by the spec', async () => {
    const root = standIn.url.replace(/\/v2$/, '');
    const made = await rawRequest(`${root}/_standin/texml-applications`, {
      method: 'POST',
      body: { id: FALLBACK_APP_ID, friendly_name: 'Fixed', voice_url: 'http://127.0.0.1:8787/voice/fallback' },
    });
    expect(made.status).toBe(201);
    expect(made.body.data).toMatchObject({ id: FALLBACK_APP_ID, friendly_name: 'Fixed' });
    const again = await rawRequest(`${root}/_standin/texml-applications`, {
      method: 'POST',
      body: { id: FALLBACK_APP_ID, friendly_name: 'Fixed', voice_url: 'http://127.0.0.1:8787/voice/fallback' },
    });
    expect(again.status).toBe(400);
    expect(again.body.error).toMatch(/already/);
    const bad = await rawRequest(`${root}/_standin/texml-applications`, {
      method: 'POST',
      body: { friendly_name: 'Bad', voice_url: 'http://127.0.0.1:8787/x', voice_method: 'PUT' },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatch(/voice_method/);
    const state = await rawRequest(`${root}/_standin/state`);
    expect(state.body.texml_applications.map((a: { id: string }) => a.id)).toContain(FALLBACK_APP_ID);
  });

  it('moves a number onto an application and back onto the FQDN connection, connection_name following', async () => {
    const app = (
      await client.texmlApplications.create({ friendly_name: 'Parking lot', voice_url: 'http://127.0.0.1:9/x' })
    ).data!;
    const number = standIn.seedPhoneNumber({
      phone_number: '+17473897673',
      connection_id: PRODUCTION_FQDN_CONNECTION_ID,
    });
    const parked = await client.phoneNumbers.update(number.id, { connection_id: app.id });
    expectMatchesSpec('PATCH', `/v2/phone_numbers/${number.id}`, 200, parked);
    expect(parked.data).toMatchObject({ connection_id: app.id, connection_name: 'Parking lot' });
    const listed = await client.phoneNumbers.list({ filter: { connection_id: app.id } });
    expect(listed.data.map((n) => n.phone_number)).toEqual(['+17473897673']);

    const restored = await client.phoneNumbers.update(number.id, { connection_id: PRODUCTION_FQDN_CONNECTION_ID });
    expect(restored.data).toMatchObject({
      connection_id: PRODUCTION_FQDN_CONNECTION_ID,
      connection_name: 'LiveKit Inbound v2',
    });
    const unknown = await client.phoneNumbers.update(number.id, { connection_id: '42' }).catch((e) => e);
    expect(unknown).toBeInstanceOf(Telnyx.UnprocessableEntityError);
  });
});

describe('Telnyx stand-in: calls to a number on a TeXML application', () => {
  let standIn: TelnyxStandIn;
  let client: Telnyx;
  let receiver: Awaited<ReturnType<typeof startWebhookReceiver>>;
  let fallback: Awaited<ReturnType<typeof startFallbackRoute>>;
  let numberId: string;
  beforeAll(async () => {
    receiver = await startWebhookReceiver();
    fallback = await startFallbackRoute();
    ({ standIn, client } = await openStandIn({
      callWebhookUrl: receiver.url,
      texmlApplications: [{ id: FALLBACK_APP_ID, friendly_name: 'ChurchWise fallback', voice_url: fallback.url }],
    }));
    numberId = standIn.seedPhoneNumber({
      phone_number: PARKED_NUMBER,
      connection_id: PRODUCTION_FQDN_CONNECTION_ID,
    }).id;
    await client.phoneNumbers.update(numberId, { connection_id: FALLBACK_APP_ID });
  });
  afterAll(async () => {
    await closeChecked(standIn);
    await receiver.close();
    await fallback.close();
  });

  const eventsOf = async (callControlId: string) => {
    await standIn.webhooksSettled();
    return receiver.received
      .map((r) => JSON.parse(r.body) as { data: { event_type: string; payload: Record<string, string> } })
      .filter((e) => e.data.payload.call_control_id === callControlId);
  };

  it("requests the application's voice_url form-encoded, records the TeXML and completes the call", async () => {
    const dialed = await client.calls.dial({ connection_id: CALL_CONTROL_APP, from: CALLER, to: PARKED_NUMBER });
    expectMatchesSpec('POST', '/v2/calls', 200, dialed);
    const id = dialed.data!.call_control_id;
    await standIn.webhooksSettled();

    expect(fallback.received).toHaveLength(1);
    const request = fallback.received[0];
    expect(request).toMatchObject({ method: 'POST', url: '/voice/fallback' });
    expect(request.contentType).toBe('application/x-www-form-urlencoded');
    expect(request.form).toMatchObject({
      CallSid: id,
      From: CALLER,
      To: PARKED_NUMBER,
      CallStatus: 'ringing',
      Direction: 'inbound',
      ConnectionId: FALLBACK_APP_ID,
    });
    expect(request.form.AccountSid).toMatch(/\S/);

    const call = standIn.state.calls.get(id)!;
    expect(call).toMatchObject({
      state: 'ended',
      hangup_cause: 'normal_clearing',
      texml_application_id: FALLBACK_APP_ID,
      texml: {
        application_id: FALLBACK_APP_ID,
        url: fallback.url,
        method: 'POST',
        status: 200,
        body: FALLBACK_TEXML,
        verbs: ['Say', 'Hangup'],
        say: ["This church's line is no longer active & we are sorry."],
      },
    });
    expect(call.texml!.error).toBeUndefined();
    expect(call.answered_at).toBeDefined();
    expect((await eventsOf(id)).map((e) => e.data.event_type)).toEqual([
      'call.initiated',
      'call.answered',
      'call.hangup',
    ]);

    // The API's Call object has no TeXML field: the status shows an ended call, within the spec.
    const status = await client.calls.retrieveStatus(id);
    expectMatchesSpec('GET', `/v2/calls/${id}`, 200, status);
    expect(status.data).toMatchObject({ call_control_id: id, is_alive: false });
    expect(JSON.stringify(status.data)).not.toContain('texml');

    const state = await rawRequest(`${standIn.url.replace(/\/v2$/, '')}/_standin/state`);
    const recorded = state.body.calls.find((c: { call_control_id: string }) => c.call_control_id === id);
    expect(recorded.texml.say).toEqual(["This church's line is no longer active & we are sorry."]);
  });

  it('ends the call unanswered, with a recorded cause, when the voice_url cannot be reached', async () => {
    const unreachable = await closedPortUrl();
    standIn.state.texmlApplications.get(FALLBACK_APP_ID)!.voice_url = unreachable;
    try {
      const dialed = await client.calls.dial({ connection_id: CALL_CONTROL_APP, from: CALLER, to: PARKED_NUMBER });
      const id = dialed.data!.call_control_id;
      await standIn.webhooksSettled();
      const call = standIn.state.calls.get(id)!;
      expect(call).toMatchObject({ state: 'ended', hangup_cause: 'unspecified', hangup_source: 'callee' });
      expect(call.answered_at).toBeUndefined();
      expect(call.texml).toMatchObject({ url: unreachable, method: 'POST' });
      expect(call.texml!.status).toBeUndefined();
      expect(call.texml!.error).toMatch(new RegExp(`^POST ${unreachable} failed`));
      const events = await eventsOf(id);
      expect(events.map((e) => e.data.event_type)).toEqual(['call.initiated', 'call.hangup']);
      expect(events[1].data.payload.hangup_cause).toBe('unspecified');
    } finally {
      standIn.state.texmlApplications.get(FALLBACK_APP_ID)!.voice_url = fallback.url;
    }
  });

  it('ends the call unanswered when the voice_url answers non-2xx or something that is not TeXML', async () => {
    const broken = await startFallbackRoute({ status: 500, contentType: 'text/plain', body: 'oops' });
    const html = await startFallbackRoute({ status: 200, contentType: 'text/html', body: '<html>hi</html>' });
    try {
      for (const [server, error] of [
        [broken, /answered HTTP 500$/],
        [html, /not a TeXML document/],
      ] as const) {
        standIn.state.texmlApplications.get(FALLBACK_APP_ID)!.voice_url = server.url;
        const dialed = await client.calls.dial({ connection_id: CALL_CONTROL_APP, from: CALLER, to: PARKED_NUMBER });
        await standIn.webhooksSettled();
        const call = standIn.state.calls.get(dialed.data!.call_control_id)!;
        expect(call).toMatchObject({ state: 'ended', hangup_cause: 'unspecified' });
        expect(call.texml!.error).toMatch(error);
        expect(server.received).toHaveLength(1);
      }
    } finally {
      standIn.state.texmlApplications.get(FALLBACK_APP_ID)!.voice_url = fallback.url;
      await broken.close();
      await html.close();
    }
  });

  it('calls the number on the FQDN connection through the dialer again once it is moved back', async () => {
    await client.phoneNumbers.update(numberId, { connection_id: PRODUCTION_FQDN_CONNECTION_ID });
    const before = fallback.received.length;
    const dialed = await client.calls.dial({ connection_id: CALL_CONTROL_APP, from: CALLER, to: PARKED_NUMBER });
    const call = standIn.state.calls.get(dialed.data!.call_control_id)!;
    expect(call.route).toMatchObject({ fqdnConnectionId: PRODUCTION_FQDN_CONNECTION_ID });
    expect(call.texml_application_id).toBeUndefined();
    await client.calls.actions.hangup(call.call_control_id, {});
    await standIn.webhooksSettled();
    expect(fallback.received).toHaveLength(before);
    await client.phoneNumbers.update(numberId, { connection_id: FALLBACK_APP_ID });
  });
});

describe("the sandbox's fallback TeXML application", () => {
  let standIn: TelnyxStandIn;
  let client: Telnyx;
  beforeAll(async () => ({ standIn, client } = await openStandIn()));
  afterAll(() => closeChecked(standIn));

  it('has the fixed id the dev stack names', () => {
    expect(stackFileSettings('dev').fallbackTexmlAppId).toBe(SANDBOX_FALLBACK_TEXML_APP.id);
  });

  it('is put into the stand-in once, as "ChurchWise fallback" answering from /voice/fallback', async () => {
    const telnyx = { url: standIn.url, apiKey: standIn.apiKey };
    expect(await ensureFallbackTexmlApplication(telnyx)).toBe('created');
    expect(await ensureFallbackTexmlApplication(telnyx)).toBe('present');
    const app = await client.texmlApplications.retrieve(SANDBOX_FALLBACK_TEXML_APP.id);
    expect(app.data).toMatchObject({
      id: SANDBOX_FALLBACK_TEXML_APP.id,
      friendly_name: 'ChurchWise fallback',
      voice_url: `http://127.0.0.1:${SANDBOX_PORTS.webhook}/voice/fallback`,
      voice_method: 'post',
    });
    expect(standIn.state.texmlApplications.size).toBe(1);
  });

  it('is reported unsupported, not an error, by a stand-in that predates TeXML applications', async () => {
    const older = http.createServer((_request, response) => response.writeHead(404).end('{"errors":[]}'));
    await new Promise<void>((resolve) => older.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(older.address() as AddressInfo).port}/v2`;
      expect(await ensureFallbackTexmlApplication({ url, apiKey: 'KEYsandbox' })).toBe('unsupported');
    } finally {
      await new Promise<void>((resolve) => older.close(() => resolve()));
    }
  });
});

describe('parseTexml', () => {
  it('reads the verbs and the <Say> texts of a <Response>, and refuses anything else', () => {
    expect(parseTexml(FALLBACK_TEXML)).toEqual({
      verbs: ['Say', 'Hangup'],
      say: ["This church's line is no longer active & we are sorry."],
    });
    expect(parseTexml('<Response/>')).toEqual({ verbs: [], say: [] });
    expect(parseTexml('<Response>\n  <Say voice="alice">Hi &#233;</Say>\n  <Pause length="1"/>\n</Response>')).toEqual({
      verbs: ['Say', 'Pause'],
      say: ['Hi é'],
    });
    expect(parseTexml('{"ok":true}')).toHaveProperty('error');
    expect(parseTexml('<html><body/></html>')).toHaveProperty('error');
  });
});
