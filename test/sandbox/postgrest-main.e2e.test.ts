/**
 * sandbox/postgrest/main.ts, the sandbox daemon's entry point, run as its own process.
 */
import { execFile, spawn, type ChildProcess } from 'child_process';
import { randomBytes } from 'crypto';
import * as path from 'path';
import { promisify } from 'util';
import { waitForPort } from '../../sandbox/processes';
import { createTestDatabase, type TestDatabase } from '../../sandbox/postgres';
import { freePort, serverClient } from '../support/supabase-sandbox';

const REPO = path.resolve(__dirname, '..', '..');
const MAIN = [
  require.resolve('ts-node/dist/bin.js'),
  '--transpile-only',
  path.join(REPO, 'sandbox', 'postgrest', 'main.ts'),
];

let db: TestDatabase;
let daemon: ChildProcess | undefined;

beforeAll(async () => {
  db = await createTestDatabase('postgrest_main');
});

afterAll(async () => {
  if (daemon && daemon.exitCode === null) {
    const exited = new Promise((resolve) => daemon!.once('exit', resolve));
    daemon.kill('SIGTERM');
    await exited;
  }
  await db?.drop();
});

test('serves DATABASE_URL on SANDBOX_POSTGREST_PORT with SUPABASE_SERVICE_ROLE_KEY, logging without the key', async () => {
  const port = await freePort();
  const serviceKey = `main-test-key-${randomBytes(8).toString('hex')}`;
  let output = '';
  daemon = spawn(process.execPath, MAIN, {
    cwd: REPO,
    env: {
      ...process.env,
      DATABASE_URL: db.url,
      SUPABASE_SERVICE_ROLE_KEY: serviceKey,
      SANDBOX_POSTGREST_PORT: String(port),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  daemon.stdout!.on('data', (chunk) => (output += chunk));
  daemon.stderr!.on('data', (chunk) => (output += chunk));
  await waitForPort(port, 30000, 'sandbox/postgrest/main.ts');

  const supabase = serverClient(`http://127.0.0.1:${port}`, serviceKey);
  const insert = await supabase
    .from('church_voice_agents')
    .insert({ church_id: 'grace', twilio_phone_number: '+13125550123', provider: 'telnyx' });
  expect(insert.error).toBeNull();
  const { data } = await supabase
    .from('church_voice_agents')
    .select('church_id, status')
    .eq('church_id', 'grace')
    .single();
  expect(data).toEqual({ church_id: 'grace', status: 'active' });

  expect(output).toContain(`PostgREST subset on http://127.0.0.1:${port}/rest/v1`);
  expect(output).toContain('/rest/v1/church_voice_agents');
  expect(output).not.toContain(serviceKey);

  const exited = new Promise<number | null>((resolve) => daemon!.once('exit', (code) => resolve(code)));
  daemon.kill('SIGTERM');
  expect(await exited).toBe(0);
});

test('without SUPABASE_SERVICE_ROLE_KEY it exits saying which variable is missing', async () => {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: db.url,
    SANDBOX_POSTGREST_PORT: String(await freePort()),
  };
  delete env.SUPABASE_SERVICE_ROLE_KEY;
  await expect(promisify(execFile)(process.execPath, MAIN, { cwd: REPO, env })).rejects.toMatchObject({
    code: 1,
    stderr: expect.stringContaining('SUPABASE_SERVICE_ROLE_KEY is not set'),
  });
});
