/** FQDN connections and FQDNs: the production "LiveKit Inbound v2" seed by default, overridable for the sandbox. */
import Telnyx from 'telnyx';
import { PRODUCTION_FQDN_CONNECTION_ID } from '../../../vendors/vendor-settings';
import type { TelnyxStandIn } from '../../../sandbox/telnyx/standin';
import { closeChecked, expectMatchesSpec, openStandIn, pageBody, rawRequest } from './support';

describe('Telnyx stand-in: FQDN connections and FQDNs', () => {
  let standIn: TelnyxStandIn;
  let client: Telnyx;
  beforeAll(async () => ({ standIn, client } = await openStandIn()));
  afterAll(() => closeChecked(standIn));

  it('serves the production connection "LiveKit Inbound v2" over TCP by default', async () => {
    const connection = await client.fqdnConnections.retrieve(PRODUCTION_FQDN_CONNECTION_ID);
    expectMatchesSpec('GET', `/v2/fqdn_connections/${PRODUCTION_FQDN_CONNECTION_ID}`, 200, connection);
    expect(connection.data).toMatchObject({
      id: PRODUCTION_FQDN_CONNECTION_ID,
      record_type: 'fqdn_connection',
      connection_name: 'LiveKit Inbound v2',
      active: true,
      transport_protocol: 'TCP',
    });
  });

  it('lists its FQDN, the LiveKit project-id host on port 5060', async () => {
    const fqdns = await client.fqdns.list({ filter: { connection_id: PRODUCTION_FQDN_CONNECTION_ID } });
    expectMatchesSpec('GET', '/v2/fqdns', 200, pageBody(fqdns));
    expect(fqdns.data).toEqual([
      expect.objectContaining({
        connection_id: PRODUCTION_FQDN_CONNECTION_ID,
        fqdn: '5u9xu5ysoly.sip.livekit.cloud',
        port: 5060,
      }),
    ]);
    const other = await client.fqdns.list({ filter: { connection_id: '1' } });
    expect(other.data).toEqual([]);
  });

  it('updates name, active flag, transport and inbound settings with PATCH, merging inbound', async () => {
    const before = await client.fqdnConnections.retrieve(PRODUCTION_FQDN_CONNECTION_ID);
    const updated = await client.fqdnConnections.update(PRODUCTION_FQDN_CONNECTION_ID, {
      connection_name: 'LiveKit Inbound v3',
      active: false,
      transport_protocol: 'TLS',
      inbound: { dnis_number_format: 'e164' },
    });
    expectMatchesSpec('PATCH', `/v2/fqdn_connections/${PRODUCTION_FQDN_CONNECTION_ID}`, 200, updated);
    expect(updated.data).toMatchObject({
      connection_name: 'LiveKit Inbound v3',
      active: false,
      transport_protocol: 'TLS',
    });
    expect(updated.data!.inbound).toEqual({ ...before.data!.inbound, dnis_number_format: 'e164' });
    const reread = await client.fqdnConnections.retrieve(PRODUCTION_FQDN_CONNECTION_ID);
    expect(reread.data).toMatchObject({ connection_name: 'LiveKit Inbound v3', transport_protocol: 'TLS' });
    await client.fqdnConnections.update(PRODUCTION_FQDN_CONNECTION_ID, {
      connection_name: 'LiveKit Inbound v2',
      active: true,
      transport_protocol: 'TCP',
    });
  });

  it('refuses a transport the spec does not know with 422 naming the field, and changes nothing', async () => {
    const response = await rawRequest(`${standIn.url}/fqdn_connections/${PRODUCTION_FQDN_CONNECTION_ID}`, {
      method: 'PATCH',
      apiKey: standIn.apiKey,
      body: { transport_protocol: 'SCTP' },
    });
    expect(response.status).toBe(422);
    expectMatchesSpec('PATCH', `/v2/fqdn_connections/${PRODUCTION_FQDN_CONNECTION_ID}`, 422, response.body);
    expect(response.body.errors[0]).toMatchObject({ source: { pointer: '/transport_protocol' } });
    const connection = await client.fqdnConnections.retrieve(PRODUCTION_FQDN_CONNECTION_ID);
    expect(connection.data!.transport_protocol).toBe('TCP');
  });

  it('answers 404 for an unknown connection', async () => {
    const missing = await client.fqdnConnections.retrieve('1234').catch((e) => e);
    expect(missing).toBeInstanceOf(Telnyx.NotFoundError);
    expectMatchesSpec('GET', '/v2/fqdn_connections/1234', 404, missing.error);
  });

  it('takes other connections and FQDNs as options (the sandbox points the FQDN at its own SIP port)', async () => {
    const sandbox = await openStandIn({
      connections: [
        { id: PRODUCTION_FQDN_CONNECTION_ID, connection_name: 'LiveKit Inbound v2', transport_protocol: 'TCP' },
      ],
      fqdns: [{ connection_id: PRODUCTION_FQDN_CONNECTION_ID, fqdn: '127.0.0.1', port: 15060 }],
    });
    try {
      const fqdns = await sandbox.client.fqdns.list({ filter: { connection_id: PRODUCTION_FQDN_CONNECTION_ID } });
      expect(fqdns.data.map((f) => `${f.fqdn}:${f.port}`)).toEqual(['127.0.0.1:15060']);
      const connection = await sandbox.client.fqdnConnections.retrieve(PRODUCTION_FQDN_CONNECTION_ID);
      expect(connection.data!.inbound!.default_primary_fqdn_id).toBe(fqdns.data[0].id);
    } finally {
      await closeChecked(sandbox.standIn);
    }
  });
});
