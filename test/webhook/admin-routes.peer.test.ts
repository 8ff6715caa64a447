/**
 * The founder's routes and the telephony fallback over real HTTP, on a real PostgreSQL registry:
 * POST /admin/provision-number, GET /churches/:id/status, POST /voice/fallback, GET /health.
 */
import type { FastifyInstance } from 'fastify';
import { sandboxMailpit } from '../../sandbox/mailpit';
import { createTestDatabase, type TestDatabase } from '../../sandbox/postgres';
import { claim, getChurch, listJobs, settle } from '../../registry';
import { secretValues, type ServiceConfig } from '../../webhook/config';
import { createLogger } from '../../common/logger';
import { bearerTokenMatches, buildServer } from '../../webhook/server';
import { LogCollector, configSecrets, listen, rowCounts, testConfig, uniqueId } from '../support/stripe-events';

let db: TestDatabase;
let config: ServiceConfig;
let app: FastifyInstance;
let request: Awaited<ReturnType<typeof listen>>;
const logs = new LogCollector();

beforeAll(async () => {
  db = await createTestDatabase('webhook_admin');
  config = testConfig(db, sandboxMailpit(), { fallbackMessage: 'Thanks for calling ChurchWise & friends. Goodbye.' });
  app = buildServer({
    config,
    pool: db.pool,
    logger: createLogger({ secrets: secretValues(config), destination: logs }),
  });
  request = await listen(app);
});

afterAll(async () => {
  await app?.close();
  await db?.drop();
});

const provision = (body: unknown, headers: Record<string, string> = {}) =>
  request({
    method: 'POST',
    url: '/admin/provision-number',
    payload: typeof body === 'string' ? body : JSON.stringify(body),
    headers: { 'content-type': 'application/json', authorization: `Bearer ${config.adminToken}`, ...headers },
  });

describe('POST /admin/provision-number', () => {
  it.each([
    ['no token', {}],
    ['a wrong token', { authorization: 'Bearer not-the-admin-token' }],
    ['the right token without "Bearer"', { authorization: 'ADMIN' }],
  ])('401 with %s, nothing written', async (_name, headers) => {
    const before = await rowCounts(db.pool);
    const noAuth = { ...headers } as Record<string, string>;
    const response = await request({
      method: 'POST',
      url: '/admin/provision-number',
      payload: JSON.stringify({ churchId: 'x1', areaCode: '414' }),
      headers: {
        'content-type': 'application/json',
        ...(noAuth.authorization === 'ADMIN' ? { authorization: config.adminToken } : noAuth),
      },
    });
    expect(response.statusCode).toBe(401);
    expect(response.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(await rowCounts(db.pool)).toEqual(before);
  });

  it.each([
    ['churchId missing', { areaCode: '414' }, 'churchId', /churchId is required/],
    ['churchId malformed', { churchId: 'has space', areaCode: '414' }, 'churchId', /letters, digits/],
    ['areaCode missing', { churchId: 'c-1' }, 'areaCode', /areaCode is required/],
    ['areaCode starting with 1', { churchId: 'c-1', areaCode: '123' }, 'areaCode', /3-digit North American area code/],
    ['areaCode as a number', { churchId: 'c-1', areaCode: 414 }, 'areaCode', /3-digit/],
    ['blank name', { churchId: 'c-1', areaCode: '414', name: ' ' }, 'name', /non-blank/],
    ['an unknown field', { churchId: 'c-1', areaCode: '414', phone: '+14145550000' }, 'phone', /unknown field phone/],
    ['a JSON array', [], 'body', /JSON object/],
  ])('400 naming the field: %s', async (_name, body, field, message) => {
    const before = await rowCounts(db.pool);
    const response = await provision(body);
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ field, error: expect.stringMatching(message) });
    expect(await rowCounts(db.pool)).toEqual(before);
  });

  it('malformed JSON: 400; wrong content type: 415; huge body: 413; nothing written', async () => {
    const before = await rowCounts(db.pool);
    expect((await provision('{"churchId": "c-1", ')).statusCode).toBe(400);
    expect(
      (await provision('churchId=c-1&areaCode=414', { 'content-type': 'application/x-www-form-urlencoded' }))
        .statusCode,
    ).toBe(415);
    expect((await provision('churchId c-1', { 'content-type': 'text/plain' })).statusCode).toBe(415);
    expect((await provision({ churchId: 'c-1', areaCode: '414', name: 'x'.repeat(100000) })).statusCode).toBe(413);
    expect(await rowCounts(db.pool)).toEqual(before);
  });

  it('202: the church is in the registry with a queued job; asking again returns the same job', async () => {
    const churchId = uniqueId('manual');
    const first = await provision({ churchId, areaCode: '469', name: 'Manual Church' });
    expect(first.statusCode).toBe(202);
    expect(first.json()).toMatchObject({ churchId, state: 'queued', status: `/churches/${churchId}/status` });
    const again = await provision({ churchId, areaCode: '469' });
    expect(again.statusCode).toBe(202);
    expect(again.json().jobId).toBe(first.json().jobId);
    expect(await getChurch(db.pool, churchId)).toMatchObject({
      name: 'Manual Church',
      areaCode: '469',
      plan: 'manual',
      status: 'active',
    });
    expect(await listJobs(db.pool, { churchId })).toHaveLength(1);
  });

  it('the token compare is exact', () => {
    expect(bearerTokenMatches(`Bearer ${config.adminToken}`, config.adminToken)).toBe(true);
    expect(bearerTokenMatches(`bearer ${config.adminToken}`, config.adminToken)).toBe(true);
    expect(bearerTokenMatches(`Bearer ${config.adminToken}x`, config.adminToken)).toBe(false);
    expect(bearerTokenMatches(`Bearer ${config.adminToken.slice(0, -1)}`, config.adminToken)).toBe(false);
    expect(bearerTokenMatches(undefined, config.adminToken)).toBe(false);
    expect(bearerTokenMatches('Bearer ', '')).toBe(false);
  });
});

describe('GET /churches/:id/status', () => {
  const status = (id: string, token = config.adminToken) =>
    request({
      method: 'GET',
      url: `/churches/${encodeURIComponent(id)}/status`,
      headers: { authorization: `Bearer ${token}` },
    });

  it('needs the admin token; 404 for an unknown church; 400 for a malformed id', async () => {
    expect((await status('anything', 'wrong')).statusCode).toBe(401);
    expect((await status('no-such-church')).statusCode).toBe(404);
    const bad = await status('bad id!');
    expect(bad.statusCode).toBe(400);
    expect(bad.json().field).toBe('id');
  });

  it('queued, then provisioning, then failed with the error and step, then live with number and last ring', async () => {
    const churchId = uniqueId('status');
    await provision({ churchId, areaCode: '414' });
    expect((await status(churchId)).json()).toMatchObject({
      churchId,
      state: 'queued',
      churchStatus: 'active',
      phoneNumber: null,
    });

    const [job] = (await claim(db.pool, { workerId: 'test', runId: 'run-1' })).filter((j) => j.churchId === churchId);
    expect((await status(churchId)).json()).toMatchObject({ state: 'provisioning', attempts: 1 });

    await settle(
      db.pool,
      { id: job.id, runId: 'run-1' },
      { ok: false, error: 'telnyx POST /number_orders failed: HTTP 500', failedStep: 'telnyx-number' },
    );
    expect((await status(churchId)).json()).toMatchObject({
      state: 'failed',
      failedStep: 'telnyx-number',
      lastError: expect.stringContaining('HTTP 500'),
    });

    await provision({ churchId, areaCode: '414' });
    const [retry] = (await claim(db.pool, { workerId: 'test', runId: 'run-2' })).filter((j) => j.churchId === churchId);
    await settle(
      db.pool,
      { id: retry.id, runId: 'run-2' },
      {
        ok: true,
        line: {
          phoneNumber: '+14144007103',
          trunkId: 'ST_abc',
          dispatchRuleId: 'SDR_abc',
          ring: { ok: true, at: '2026-11-25T10:00:00.000Z' },
        },
      },
    );
    expect((await status(churchId)).json()).toMatchObject({
      state: 'live',
      phoneNumber: '+14144007103',
      trunkId: 'ST_abc',
      dispatchRuleId: 'SDR_abc',
      lastError: null,
      lastRing: { ok: true, cause: null, at: '2026-11-25T10:00:00.000Z' },
    });
  });
});

describe('POST /voice/fallback', () => {
  it('answers TeXML that says the message and hangs up, whatever Telnyx posts', async () => {
    const form = await request({
      method: 'POST',
      url: '/voice/fallback',
      payload: 'CallSid=v3:abc&From=%2B14145550100&To=%2B14697288326',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    const empty = await request({ method: 'POST', url: '/voice/fallback' });
    const get = await request({ method: 'GET', url: '/voice/fallback' });
    for (const response of [form, empty, get]) {
      expect(response.statusCode).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^application\/xml/);
      expect(response.body).toBe(
        '<?xml version="1.0" encoding="UTF-8"?><Response><Say>Thanks for calling ChurchWise &amp; friends. Goodbye.</Say><Hangup/></Response>',
      );
    }
  });
});

describe('GET /health', () => {
  it('reports the registry database', async () => {
    const response = await request({ method: 'GET', url: '/health' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ status: 'ok', database: 'ok' });
  });
});

it('no secret in any log line', () => {
  expect(logs.lines.length).toBeGreaterThan(10);
  for (const secret of configSecrets(config)) expect(logs.text).not.toContain(secret);
});
