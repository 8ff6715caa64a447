/**
 * Call Control: dial, status and hangup through the SDK; the route check used without a dialer; a dialer driven
 * through the CallDialer interface; and the signed call webhooks, verified with the SDK's own verifier.
 */
import Telnyx from 'telnyx';
import { PRODUCTION_FQDN_CONNECTION_ID } from '../../../vendors/vendor-settings';
import type { TelnyxStandIn } from '../../../sandbox/telnyx/standin';
import { eventually } from '../../support/eventually';
import { closeChecked, expectMatchesSpec, openStandIn, ScriptedDialer, startWebhookReceiver } from './support';

const CALL_CONTROL_APP = '1684641123236054244';
const CHURCH_NUMBER = '+14144007103';
const CALLER = '+14697288326';

interface CallEvent {
  data: {
    event_type: string;
    payload: { call_control_id: string; hangup_cause?: string; hangup_source?: string; client_state?: string };
  };
}

describe('Telnyx stand-in: calls without a dialer (route check)', () => {
  let standIn: TelnyxStandIn;
  let client: Telnyx;
  let receiver: Awaited<ReturnType<typeof startWebhookReceiver>>;
  beforeAll(async () => {
    receiver = await startWebhookReceiver();
    ({ standIn, client } = await openStandIn({ callWebhookUrl: receiver.url }));
    standIn.seedPhoneNumber({ phone_number: CHURCH_NUMBER, connection_id: PRODUCTION_FQDN_CONNECTION_ID });
    standIn.seedPhoneNumber({ phone_number: '+17473897673', connection_id: null });
  });
  afterAll(async () => {
    await closeChecked(standIn);
    await receiver.close();
  });

  const events = async (callControlId: string): Promise<CallEvent[]> => {
    await standIn.webhooksSettled();
    return receiver.received
      .map((r) => JSON.parse(r.body) as CallEvent)
      .filter((e) => e.data.payload.call_control_id === callControlId);
  };

  it('keeps a call to an active number on an FQDN connection alive until hangup', async () => {
    const dialed = await client.calls.dial({
      connection_id: CALL_CONTROL_APP,
      from: CALLER,
      to: CHURCH_NUMBER,
      timeout_secs: 30,
      client_state: Buffer.from('test-ring').toString('base64'),
    });
    expectMatchesSpec('POST', '/v2/calls', 200, dialed);
    const call = dialed.data!;
    expect(call).toMatchObject({ record_type: 'call', is_alive: true });
    expect(call.call_control_id).toMatch(/^v3:/);

    const status = await client.calls.retrieveStatus(call.call_control_id);
    expectMatchesSpec('GET', `/v2/calls/${call.call_control_id}`, 200, status);
    expect(status.data).toMatchObject({
      call_control_id: call.call_control_id,
      call_leg_id: call.call_leg_id,
      is_alive: true,
    });

    const hungUp = await client.calls.actions.hangup(call.call_control_id, {});
    expectMatchesSpec('POST', `/v2/calls/${call.call_control_id}/actions/hangup`, 200, hungUp);
    expect(hungUp.data).toEqual({ result: 'ok' });
    const after = await client.calls.retrieveStatus(call.call_control_id);
    expect(after.data!.is_alive).toBe(false);
    expect(after.data!.end_time).toBeDefined();

    const received = await events(call.call_control_id);
    expect(received.map((e) => e.data.event_type)).toEqual(['call.initiated', 'call.answered', 'call.hangup']);
    expect(received[2].data.payload).toMatchObject({
      hangup_cause: 'normal_clearing',
      hangup_source: 'caller',
      client_state: 'dGVzdC1yaW5n',
    });
  });

  it('ends a call to a number that routes nowhere with hangup cause not_found', async () => {
    for (const to of ['+17473897673' /* no connection */, '+13125550100' /* not ours */]) {
      const dialed = await client.calls.dial({ connection_id: CALL_CONTROL_APP, from: CALLER, to, timeout_secs: 10 });
      expectMatchesSpec('POST', '/v2/calls', 200, dialed);
      const status = await client.calls.retrieveStatus(dialed.data!.call_control_id);
      expect(status.data!.is_alive).toBe(false);
      const received = await events(dialed.data!.call_control_id);
      expect(received.map((e) => e.data.event_type)).toEqual(['call.initiated', 'call.hangup']);
      expect(received[1].data.payload.hangup_cause).toBe('not_found');
      expect(standIn.state.calls.get(dialed.data!.call_control_id)!.hangup_cause).toBe('not_found');
    }
  });

  it('signs webhooks so the SDK verifies them with the stand-in public key, and rejects a tampered body', async () => {
    const verifier = new Telnyx({
      apiKey: 'unused',
      baseURL: standIn.url,
      publicKey: standIn.webhookPublicKey,
      maxRetries: 0,
    });
    await standIn.webhooksSettled();
    expect(receiver.received.length).toBeGreaterThan(0);
    for (const webhook of receiver.received) {
      const event = await verifier.webhooks.unwrap(webhook.body, {
        headers: webhook.headers as Record<string, string>,
      });
      expect((event as unknown as CallEvent).data.event_type).toMatch(/^call\./);
    }
    const tampered = receiver.received[0].body.replace('call.', 'kall.');
    await expect(
      verifier.webhooks.unwrap(tampered, { headers: receiver.received[0].headers as Record<string, string> }),
    ).rejects.toThrow(/signature/i);
  });

  it('answers 422 for a hangup of a call that already ended, and 404 for an unknown call', async () => {
    const dialed = await client.calls.dial({ connection_id: CALL_CONTROL_APP, from: CALLER, to: '+17473897673' });
    const again = await client.calls.actions.hangup(dialed.data!.call_control_id, {}).catch((e) => e);
    expect(again).toBeInstanceOf(Telnyx.UnprocessableEntityError);
    expectMatchesSpec('POST', `/v2/calls/${dialed.data!.call_control_id}/actions/hangup`, 422, again.error);
    expect(again.error.errors[0]).toMatchObject({ code: '90018', title: 'Call has already ended' });
    const unknown = await client.calls.retrieveStatus('v3:unknown').catch((e) => e);
    expect(unknown).toBeInstanceOf(Telnyx.NotFoundError);
    expectMatchesSpec('GET', '/v2/calls/v3:unknown', 404, unknown.error);
  });

  it('never contacts a webhook_url off loopback: the event is recorded as not sent', async () => {
    const dialed = await client.calls.dial({
      connection_id: CALL_CONTROL_APP,
      from: CALLER,
      to: '+17473897673',
      webhook_url: 'https://hooks.example.com/telnyx',
    });
    await standIn.webhooksSettled();
    const offLoopback = standIn.state.webhooks.filter((w) => w.url === 'https://hooks.example.com/telnyx');
    expect(offLoopback.map((w) => w.eventType)).toEqual(['call.initiated', 'call.hangup']);
    for (const w of offLoopback) {
      expect(w.status).toBeUndefined();
      expect(w.error).toContain('only delivers webhooks to loopback addresses');
    }
    expect((await events(dialed.data!.call_control_id)).length).toBe(0);
  });

  it('needs a body on hangup, as the spec requires (send {})', async () => {
    const dialed = await client.calls.dial({ connection_id: CALL_CONTROL_APP, from: CALLER, to: CHURCH_NUMBER });
    // The SDK's types demand a body; a caller that skips them (plain JS, a cast) sends none.
    const noBody = undefined as unknown as Telnyx.Calls.ActionHangupParams;
    const bodiless = await client.calls.actions.hangup(dialed.data!.call_control_id, noBody).catch((e) => e);
    expect(bodiless).toBeInstanceOf(Telnyx.UnprocessableEntityError);
    expect(bodiless.error.errors[0].detail).toContain('is required by HangupCall');
    expect((await client.calls.retrieveStatus(dialed.data!.call_control_id)).data!.is_alive).toBe(true);
    await client.calls.actions.hangup(dialed.data!.call_control_id, {});
  });

  it('refuses a dial whose body breaks the spec or whose timeout is out of range, naming the field', async () => {
    const missingFrom = await client.calls
      .dial({ connection_id: CALL_CONTROL_APP, to: CHURCH_NUMBER } as Telnyx.CallDialParams)
      .catch((e) => e);
    expect(missingFrom).toBeInstanceOf(Telnyx.UnprocessableEntityError);
    expectMatchesSpec('POST', '/v2/calls', 422, missingFrom.error);
    expect(missingFrom.error.errors[0].source).toEqual({ pointer: '/from' });
    const tooShort = await client.calls
      .dial({ connection_id: CALL_CONTROL_APP, from: CALLER, to: CHURCH_NUMBER, timeout_secs: 2 })
      .catch((e) => e);
    expect(tooShort.status).toBe(422);
    expect(tooShort.error.errors[0].source).toEqual({ pointer: '/timeout_secs' });
  });
});

describe('Telnyx stand-in: calls through a CallDialer', () => {
  let standIn: TelnyxStandIn;
  let client: Telnyx;
  let dialer: ScriptedDialer;
  let receiver: Awaited<ReturnType<typeof startWebhookReceiver>>;
  beforeAll(async () => {
    receiver = await startWebhookReceiver();
    dialer = new ScriptedDialer();
    ({ standIn, client } = await openStandIn({
      dialer,
      connections: [
        { id: PRODUCTION_FQDN_CONNECTION_ID, connection_name: 'LiveKit Inbound v2', transport_protocol: 'TCP' },
      ],
      fqdns: [{ connection_id: PRODUCTION_FQDN_CONNECTION_ID, fqdn: '127.0.0.1', port: 15060 }],
    }));
    standIn.seedPhoneNumber({ phone_number: CHURCH_NUMBER, connection_id: PRODUCTION_FQDN_CONNECTION_ID });
  });
  afterAll(async () => {
    await closeChecked(standIn);
    await receiver.close();
  });

  it('hands the dialer the call and its route (FQDN, port, transport, DNIS format)', async () => {
    await client.calls.dial({
      connection_id: CALL_CONTROL_APP,
      from: CALLER,
      to: CHURCH_NUMBER,
      webhook_url: receiver.url,
    });
    expect(dialer.dials.at(-1)).toEqual({
      to: CHURCH_NUMBER,
      from: CALLER,
      connectionId: CALL_CONTROL_APP,
      route: {
        phoneNumberId: [...standIn.state.phoneNumbers.values()][0].id,
        fqdnConnectionId: PRODUCTION_FQDN_CONNECTION_ID,
        transport: 'TCP',
        targets: [{ fqdn: '127.0.0.1', port: 15060 }],
        dnisNumberFormat: '+e164',
      },
    });
    const unrouted = await client.calls.dial({ connection_id: CALL_CONTROL_APP, from: CALLER, to: '+13125550100' });
    expect(dialer.dials.at(-1)!.route).toBeUndefined();
    await client.calls.actions.hangup(unrouted.data!.call_control_id, {});
  });

  it('follows the dialer: ringing, answered, then ended by the far end with its cause', async () => {
    const dialed = await client.calls.dial({
      connection_id: CALL_CONTROL_APP,
      from: CALLER,
      to: CHURCH_NUMBER,
      webhook_url: receiver.url,
    });
    const id = dialed.data!.call_control_id;
    const handle = dialer.calls.at(-1)!;
    expect((await client.calls.retrieveStatus(id)).data!.is_alive).toBe(true);
    handle.answer();
    await eventually(
      () => (standIn.state.calls.get(id)!.state === 'answered' ? true : undefined),
      'the call to be answered',
    );
    handle.end('user_busy');
    const ended = await eventually(async () => {
      const status = await client.calls.retrieveStatus(id);
      return status.data!.is_alive ? undefined : status;
    }, 'the call to end');
    expectMatchesSpec('GET', `/v2/calls/${id}`, 200, ended);
    await standIn.webhooksSettled();
    const mine = receiver.received
      .map((r) => JSON.parse(r.body) as CallEvent)
      .filter((e) => e.data.payload.call_control_id === id);
    expect(mine.map((e) => e.data.event_type)).toEqual(['call.initiated', 'call.answered', 'call.hangup']);
    expect(mine[2].data.payload).toMatchObject({ hangup_cause: 'user_busy', hangup_source: 'callee' });
  });

  it('hangs up through the dialer when the client hangs up', async () => {
    const dialed = await client.calls.dial({ connection_id: CALL_CONTROL_APP, from: CALLER, to: CHURCH_NUMBER });
    const handle = dialer.calls.at(-1)!;
    handle.answer();
    await client.calls.actions.hangup(dialed.data!.call_control_id, {});
    expect(handle.hungUpByUs).toBe(true);
    expect(standIn.state.calls.get(dialed.data!.call_control_id)).toMatchObject({
      state: 'ended',
      hangup_cause: 'normal_clearing',
    });
  });

  it('ends a call still ringing after timeout_secs with hangup cause timeout, and hangs the dialer up', async () => {
    const dialed = await client.calls.dial({
      connection_id: CALL_CONTROL_APP,
      from: CALLER,
      to: CHURCH_NUMBER,
      timeout_secs: 5,
    });
    const handle = dialer.calls.at(-1)!;
    const ended = await eventually(
      async () => {
        const status = await client.calls.retrieveStatus(dialed.data!.call_control_id);
        return status.data!.is_alive ? undefined : status;
      },
      'the unanswered call to time out',
      20000,
    );
    expect(ended.data!.is_alive).toBe(false);
    expect(standIn.state.calls.get(dialed.data!.call_control_id)!.hangup_cause).toBe('timeout');
    expect(handle.hungUpByUs).toBe(true);
  });
});
