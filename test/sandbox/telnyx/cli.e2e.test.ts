/**
 * The sandbox entry `sandbox/telnyx/main.ts`, run as the orchestrator runs it (ts-node --transpile-only, its own
 * process): it serves on SANDBOX_PORTS.telnyx, points the LiveKit connection's FQDN at the sandbox SIP port, is
 * driven over /_standin, and stops cleanly on SIGTERM. Ports come from the env so a running sandbox is not touched.
 */
import { spawn, type ChildProcess } from 'child_process';
import * as net from 'net';
import * as path from 'path';
import Telnyx from 'telnyx';
import { PRODUCTION_FQDN_CONNECTION_ID } from '../../../vendors/vendor-settings';
import { REPO_ROOT } from '../../../sandbox/processes';
import { eventually } from '../../support/eventually';
import { expectMatchesSpec, rawRequest } from './support';

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('sandbox/telnyx/main.ts', () => {
  let child: ChildProcess;
  let output = '';
  let telnyxPort: number;
  const sipPort = 25060;

  beforeAll(async () => {
    telnyxPort = await freePort();
    child = spawn(
      process.execPath,
      [require.resolve('ts-node/dist/bin'), '--transpile-only', path.join('sandbox', 'telnyx', 'main.ts')],
      {
        cwd: REPO_ROOT,
        env: { ...process.env, SANDBOX_TELNYX_PORT: String(telnyxPort), SANDBOX_SIP_PORT: String(sipPort) },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await eventually(
      () => (output.includes('telnyx stand-in: http') ? true : undefined),
      `the stand-in to start (output so far: ${output})`,
      60000,
    );
  });

  afterAll(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });

  it('prints its /v2 URL on the sandbox port', () => {
    expect(output).toContain(`telnyx stand-in: http://127.0.0.1:${telnyxPort}/v2`);
  });

  it('routes the LiveKit connection to the sandbox SIP port on 127.0.0.1 over TCP', async () => {
    const client = new Telnyx({ apiKey: 'KEYsandbox', baseURL: `http://127.0.0.1:${telnyxPort}/v2`, maxRetries: 0 });
    const fqdns = await client.fqdns.list({ filter: { connection_id: PRODUCTION_FQDN_CONNECTION_ID } });
    expect(fqdns.data.map((f) => `${f.fqdn}:${f.port}`)).toEqual([`127.0.0.1:${sipPort}`]);
    const connection = await client.fqdnConnections.retrieve(PRODUCTION_FQDN_CONNECTION_ID);
    expectMatchesSpec('GET', `/v2/fqdn_connections/${PRODUCTION_FQDN_CONNECTION_ID}`, 200, connection);
    expect(connection.data).toMatchObject({ connection_name: 'LiveKit Inbound v2', transport_protocol: 'TCP' });
  });

  it('is driven from outside over /_standin: seed a number, then read it through the API and the log', async () => {
    const control = `http://127.0.0.1:${telnyxPort}/_standin`;
    const seeded = await rawRequest(`${control}/phone-numbers`, {
      method: 'POST',
      body: { phone_number: '+14144007103', connection_id: PRODUCTION_FQDN_CONNECTION_ID },
    });
    expect(seeded.status).toBe(201);
    const listed = await rawRequest(
      `http://127.0.0.1:${telnyxPort}/v2/phone_numbers?filter%5Bphone_number%5D=14144007103`,
      { apiKey: 'KEYsandbox' },
    );
    expect(listed.body.data.map((n: { phone_number: string }) => n.phone_number)).toEqual(['+14144007103']);
    const log = await rawRequest(`${control}/requests?method=GET&pathPrefix=/phone_numbers`);
    expect(log.body.count).toBe(1);
  });

  it('stops on SIGTERM with exit code 0', async () => {
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(output).toContain('SIGTERM, closing');
  });
});
