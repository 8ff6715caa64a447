/**
 * vendors/supabase-client.ts against the PostgREST subset over the real sandbox PostgreSQL.
 */
import { SupabaseVendorClient } from '../../vendors/supabase-client';
import { resetConfiguredSettings } from '../../vendors/vendor-settings';
import { VendorError, type RetryPolicy } from '../../vendors/vendor-request';
import { startPostgrest } from '../../sandbox/postgrest';
import { freePort, startSupabaseSandbox, type SupabaseSandbox } from '../support/supabase-sandbox';

let sandbox: SupabaseSandbox;
let client: SupabaseVendorClient;

/** Fast retries so that exhausting them takes milliseconds. */
const QUICK_RETRIES: RetryPolicy = { attempts: 3, baseDelayMs: 1, maxDelayMs: 5 };

const GRACE = { church_id: 'grace', twilio_phone_number: '+13125550123', provider: 'telnyx' as const };

async function rejection(promise: Promise<unknown>): Promise<VendorError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof VendorError) return error;
    throw error;
  }
  throw new Error('expected the call to fail');
}

beforeAll(async () => {
  sandbox = await startSupabaseSandbox('supabase_client');
  client = new SupabaseVendorClient({ url: sandbox.url, serviceKey: sandbox.serviceKey }, QUICK_RETRIES);
});

afterAll(async () => {
  await sandbox?.close();
});

beforeEach(async () => {
  await sandbox.db.pool.query('truncate church_voice_agents');
});

test('upsert writes the row; get and getByNumber find it; missing rows are undefined', async () => {
  const written = await client.churchVoiceAgents.upsert({ ...GRACE, livekit_trunk_id: 'ST_grace' });
  expect(written).toMatchObject({ ...GRACE, livekit_trunk_id: 'ST_grace', dispatch_rule_id: null, status: 'active' });
  expect(await client.churchVoiceAgents.get('grace')).toEqual(written);
  expect(await client.churchVoiceAgents.getByNumber('+13125550123')).toEqual(written);
  expect(await client.churchVoiceAgents.get('nobody')).toBeUndefined();
  expect(await client.churchVoiceAgents.getByNumber('+13125550000')).toBeUndefined();
});

test('upsert twice on church_id updates the one row', async () => {
  const first = await client.churchVoiceAgents.upsert(GRACE);
  const second = await client.churchVoiceAgents.upsert({
    ...GRACE,
    dispatch_rule_id: 'SDR_grace',
    status: 'provisioning',
  });
  expect(second).toMatchObject({ dispatch_rule_id: 'SDR_grace', status: 'provisioning', created_at: first.created_at });
  const { rows } = await sandbox.db.pool.query('select count(*)::int as n from church_voice_agents');
  expect(rows[0].n).toBe(1);
});

test('update changes only the given columns; an unknown church gives undefined', async () => {
  await client.churchVoiceAgents.upsert({ ...GRACE, livekit_trunk_id: 'ST_grace' });
  const updated = await client.churchVoiceAgents.update('grace', { status: 'suspended' });
  expect(updated).toMatchObject({
    status: 'suspended',
    livekit_trunk_id: 'ST_grace',
    twilio_phone_number: GRACE.twilio_phone_number,
  });
  expect(await client.churchVoiceAgents.update('nobody', { status: 'suspended' })).toBeUndefined();
});

test('delete removes the row and says whether there was one', async () => {
  await client.churchVoiceAgents.upsert(GRACE);
  expect(await client.churchVoiceAgents.delete('grace')).toBe(true);
  expect(await client.churchVoiceAgents.get('grace')).toBeUndefined();
  expect(await client.churchVoiceAgents.delete('grace')).toBe(false);
});

test('a unique violation is a final VendorError with status 409 and code 23505, not retried', async () => {
  await client.churchVoiceAgents.upsert(GRACE);
  const error = await rejection(client.churchVoiceAgents.upsert({ ...GRACE, church_id: 'copycat' }));
  expect(error).toMatchObject({
    vendor: 'supabase',
    method: 'POST',
    path: '/rest/v1/church_voice_agents',
    status: 409,
    code: '23505',
    attempts: 1,
  });
  expect(error.message).toContain('Key (twilio_phone_number)=(+13125550123) already exists');
});

test('a check violation is a final 400 naming the constraint', async () => {
  const error = await rejection(client.churchVoiceAgents.upsert({ ...GRACE, twilio_phone_number: '3125550123' }));
  expect(error).toMatchObject({ status: 400, code: '23514', attempts: 1 });
  expect(error.message).toContain('church_voice_agents_twilio_phone_number_e164');
});

test('a wrong service key is a final 401 and the key is in no error', async () => {
  const wrongKey = 'wrong-key-that-must-not-leak';
  const wrong = new SupabaseVendorClient({ url: sandbox.url, serviceKey: wrongKey }, QUICK_RETRIES);
  const error = await rejection(wrong.churchVoiceAgents.get('grace'));
  expect(error).toMatchObject({ status: 401, attempts: 1 });
  expect(JSON.stringify({ ...error, message: error.message })).not.toContain(wrongKey);
  expect(JSON.stringify(wrong.settings)).not.toContain(wrongKey);
});

test('nothing listening is a transport error, retried, then reported with the attempts made', async () => {
  const closed = new SupabaseVendorClient(
    { url: `http://127.0.0.1:${await freePort()}`, serviceKey: sandbox.serviceKey },
    QUICK_RETRIES,
  );
  const error = await rejection(closed.churchVoiceAgents.get('grace'));
  expect(error.status).toBeUndefined();
  expect(error.attempts).toBe(3);
  expect(error.message).toMatch(
    /supabase GET \/rest\/v1\/church_voice_agents failed after 3 attempts: transport error: .*ECONNREFUSED/,
  );
});

test('a database outage behind PostgREST (503) is retried', async () => {
  const unreachable = `postgresql://postgres@127.0.0.1:${await freePort()}/postgres`;
  const server = await startPostgrest({ databaseUrl: unreachable, port: 0, serviceKey: sandbox.serviceKey });
  try {
    const outage = new SupabaseVendorClient({ url: server.url, serviceKey: sandbox.serviceKey }, QUICK_RETRIES);
    const error = await rejection(outage.churchVoiceAgents.get('grace'));
    expect(error).toMatchObject({ status: 503, code: 'PGRST000', attempts: 3 });
  } finally {
    await server.close();
  }
});

test('without explicit settings the client reads SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY at construction', async () => {
  const saved = { url: process.env.SUPABASE_URL, key: process.env.SUPABASE_SERVICE_ROLE_KEY };
  resetConfiguredSettings();
  process.env.SUPABASE_URL = sandbox.url;
  process.env.SUPABASE_SERVICE_ROLE_KEY = sandbox.serviceKey;
  try {
    await client.churchVoiceAgents.upsert(GRACE);
    expect((await new SupabaseVendorClient().churchVoiceAgents.get('grace'))?.church_id).toBe('grace');
  } finally {
    for (const [name, value] of [
      ['SUPABASE_URL', saved.url],
      ['SUPABASE_SERVICE_ROLE_KEY', saved.key],
    ] as const) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
});
