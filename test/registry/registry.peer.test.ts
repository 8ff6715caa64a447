/**
 * The registry against a real PostgreSQL 15 (sandbox/postgres.ts), every migration applied: what the webhook
 * writes, what the worker claims and settles, and what the Pulumi program and the status route read back.
 */
import { createTestDatabase, type TestDatabase } from '../../sandbox/postgres';
import {
  RegistryInputError,
  churchStatus,
  claim,
  deliverFounderNotifications,
  enqueue,
  getChurch,
  listChurches,
  listFounderNotifications,
  listJobs,
  markParked,
  startParking,
  churchesDueByClock,
  churchTimeline,
  queueFounderNotification,
  recordStripeEvent,
  requestDecommission,
  requeueOrphaned,
  settle,
  upsertChurch,
  withTransaction,
} from '../../registry';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase('registry');
});

afterAll(async () => {
  await db?.drop();
});

async function count(table: string): Promise<number> {
  const { rows } = await db.pool.query<{ n: string }>(`select count(*) as n from ${table}`);
  return Number(rows[0].n);
}

describe('churches', () => {
  it('adds a church once; the same upsert again changes nothing', async () => {
    const input = {
      churchId: 'grace-1',
      name: 'Grace Chapel',
      areaCode: '414',
      plan: 'voice_monthly',
      stripeSubscriptionId: 'sub_grace1',
      activate: true,
    };
    const first = await upsertChurch(db.pool, input);
    const second = await upsertChurch(db.pool, input);
    expect(first).toMatchObject({ created: true, changed: true });
    expect(second).toMatchObject({ created: false, changed: false });
    expect(second.church).toMatchObject({
      churchId: 'grace-1',
      name: 'Grace Chapel',
      areaCode: '414',
      status: 'active',
      plan: 'voice_monthly',
    });
    expect((await listChurches(db.pool)).filter((c) => c.churchId === 'grace-1')).toHaveLength(1);
  });

  it('concurrent upserts of one new church: one creates it, the others merge', async () => {
    const results = await Promise.all(
      Array.from({ length: 6 }, () =>
        withTransaction(db.pool, (client) =>
          upsertChurch(client, { churchId: 'race-1', name: 'Race', areaCode: '414', plan: 'voice', activate: true }),
        ),
      ),
    );
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect((await listChurches(db.pool)).filter((c) => c.churchId === 'race-1')).toHaveLength(1);
  });

  it('keeps stored fields an event does not carry (a subscription update has no area code)', async () => {
    await upsertChurch(db.pool, { churchId: 'keep-1', name: 'Keep', areaCode: '747', plan: 'voice', activate: true });
    const { church, changed } = await upsertChurch(db.pool, {
      churchId: 'keep-1',
      plan: 'voice_annual',
      stripeCustomerId: 'cus_1',
      activate: true,
    });
    // Nothing the Pulumi program reads changed: no stack run needed.
    expect(changed).toBe(false);
    expect((await upsertChurch(db.pool, { churchId: 'keep-1', areaCode: '312', activate: true })).changed).toBe(true);
    expect(church).toMatchObject({ areaCode: '747', name: 'Keep', stripeCustomerId: 'cus_1', plan: 'voice_annual' });
  });

  it('refuses bad input naming every bad field, and writes nothing', async () => {
    const before = await count('churches');
    const attempt = upsertChurch(db.pool, {
      churchId: '-bad id',
      areaCode: '123',
      requestedNumber: '+14145551234',
      plan: 'voice',
      activate: true,
    });
    await expect(attempt).rejects.toBeInstanceOf(RegistryInputError);
    const error = (await attempt.catch((e) => e)) as RegistryInputError;
    expect(error.failures.map((f) => f.property).sort()).toEqual(['areaCode', 'churchId', 'requestedNumber']);
    expect(error.message).toMatch(/555/);
    expect(await count('churches')).toBe(before);
  });

  it('needs an area code or a number to add a church', async () => {
    await expect(upsertChurch(db.pool, { churchId: 'nowhere', plan: 'voice', activate: true })).rejects.toThrow(
      /areaCode \(or requestedNumber\) is required/,
    );
    expect(await getChurch(db.pool, 'nowhere')).toBeUndefined();
  });

  it('the table itself enforces the id, area code, 555 and status rules (another writer cannot bypass them)', async () => {
    const insert = (id: string, area: string | null, number: string | null, status = 'active') =>
      db.pool.query(
        `insert into churches (church_id, name, area_code, requested_number, plan, status) values ($1, 'x', $2, $3, 'voice', $4)`,
        [id, area, number, status],
      );
    await expect(insert('has space', '414', null)).rejects.toMatchObject({ constraint: 'churches_church_id_format' });
    await expect(insert('c-area', '099', null)).rejects.toMatchObject({ constraint: 'churches_area_code_format' });
    await expect(insert('c-555', null, '+14145551234')).rejects.toMatchObject({
      constraint: 'churches_requested_number_not_555',
    });
    await expect(insert('c-none', null, null)).rejects.toMatchObject({ constraint: 'churches_area_code_or_number' });
    await expect(insert('c-status', '414', null, 'deleted')).rejects.toMatchObject({
      constraint: 'churches_status_known',
    });
  });

  it('parking keeps the line fields and counts the quarantine; coming back clears it; the clock finds what is due', async () => {
    await upsertChurch(db.pool, {
      churchId: 'park-1',
      name: 'P',
      areaCode: '312',
      plan: 'voice',
      stripeSubscriptionId: 'sub_new',
      activate: true,
    });
    const parkedAt = new Date('2026-11-01T00:00:00Z');
    const quarantineUntil = new Date('2026-12-01T00:00:00Z');
    expect(await markParked(db.pool, 'park-1')).toMatchObject({ changed: false, church: { status: 'active' } });
    const change = await startParking(db.pool, 'park-1', { parkedAt, quarantineUntil });
    expect(change).toMatchObject({
      changed: true,
      church: { status: 'parking', areaCode: '312', parkedAt, quarantineUntil },
    });
    expect(await startParking(db.pool, 'park-1', { parkedAt, quarantineUntil })).toMatchObject({ changed: false });
    // A decommission waits for the parking to finish (its trunk and rule lack their recorded removal until then).
    await expect(requestDecommission(db.pool, 'park-1')).rejects.toThrow(/is being parked/);
    expect(await markParked(db.pool, 'park-1')).toMatchObject({ changed: true, church: { status: 'parked' } });
    expect((await churchTimeline(db.pool, 'park-1')).map((e) => e.kind)).toEqual(['parked']);

    expect((await churchesDueByClock(db.pool, new Date('2026-11-30T23:59:59Z'))).map((c) => c.churchId)).not.toContain(
      'park-1',
    );
    expect((await churchesDueByClock(db.pool, quarantineUntil)).map((c) => c.churchId)).toContain('park-1');

    const back = await upsertChurch(db.pool, { churchId: 'park-1', activate: true });
    expect(back.church).toMatchObject({ status: 'active', parkedAt: null, quarantineUntil: null });
    expect(back.changed).toBe(true);
  });

  it('decommission is the founder asking for the release', async () => {
    await upsertChurch(db.pool, { churchId: 'decom-1', name: 'D', areaCode: '312', plan: 'voice', activate: true });
    expect(await requestDecommission(db.pool, 'decom-1')).toMatchObject({
      changed: true,
      church: { status: 'decommission' },
    });
    await expect(requestDecommission(db.pool, 'no-such-church')).rejects.toThrow(/not in the registry/);
    expect((await listChurches(db.pool, { statuses: ['decommission'] })).map((c) => c.churchId)).toEqual(['decom-1']);
  });
});

describe('stripe events', () => {
  it('records an event id once', async () => {
    expect(await recordStripeEvent(db.pool, { eventId: 'evt_once', type: 'invoice.paid', outcome: 'ignored' })).toBe(
      true,
    );
    expect(await recordStripeEvent(db.pool, { eventId: 'evt_once', type: 'invoice.paid', outcome: 'ignored' })).toBe(
      false,
    );
  });

  it('concurrent deliveries of one event: exactly one proceeds', async () => {
    const results = await Promise.all(
      Array.from({ length: 8 }, () =>
        withTransaction(db.pool, (client) =>
          recordStripeEvent(client, { eventId: 'evt_race', type: 'invoice.paid', outcome: 'queued' }),
        ),
      ),
    );
    expect(results.filter(Boolean)).toHaveLength(1);
  });
});

describe('provisioning jobs', () => {
  beforeAll(async () => {
    for (const id of ['q-1', 'q-2', 'q-3'])
      await upsertChurch(db.pool, { churchId: id, name: id, areaCode: '414', plan: 'voice', activate: true });
  });

  it('one open job per church, even when enqueued concurrently', async () => {
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => enqueue(db.pool, 'q-1', `burst ${i}`)));
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(new Set(results.map((r) => r.job.id)).size).toBe(1);
    expect(await listJobs(db.pool, { churchId: 'q-1' })).toHaveLength(1);
  });

  it('two workers claiming at once never share a job', async () => {
    await enqueue(db.pool, 'q-2', 'test');
    await enqueue(db.pool, 'q-3', 'test');
    const [a, b] = await Promise.all([
      claim(db.pool, { workerId: 'w-a', runId: 'run-a' }),
      claim(db.pool, { workerId: 'w-b', runId: 'run-b' }),
    ]);
    const ids = [...a, ...b].map((j) => j.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toHaveLength(3);
    for (const job of [...a, ...b]) expect(job).toMatchObject({ state: 'running', attempts: 1 });
    // While running, the church's job is still its one open job.
    expect((await enqueue(db.pool, 'q-1', 'again')).created).toBe(false);

    const runOf = (id: number) => (a.some((j) => j.id === id) ? 'run-a' : 'run-b');
    const [j1, j2, j3] = [...a, ...b].sort((x, y) => x.id - y.id);
    const live = await settle(
      db.pool,
      { id: j1.id, runId: runOf(j1.id) },
      {
        ok: true,
        line: {
          phoneNumber: '+14144007103',
          trunkId: 'ST_1',
          dispatchRuleId: 'SDR_1',
          ring: { ok: true, at: '2026-11-25T10:00:00Z' },
        },
      },
    );
    expect(live).toMatchObject({ state: 'succeeded', phoneNumber: '+14144007103', ring: { ok: true } });
    const retry = await settle(
      db.pool,
      { id: j2.id, runId: runOf(j2.id) },
      {
        ok: false,
        error: 'telnyx POST /number_orders failed: HTTP 500',
        failedStep: 'telnyx-number',
        retryAt: new Date(Date.now() + 60000),
      },
    );
    expect(retry).toMatchObject({ state: 'queued', failedStep: 'telnyx-number', lockedBy: null });
    // A settle from a run that no longer holds the job changes nothing.
    expect(await settle(db.pool, { id: j3.id, runId: 'someone-else' }, { ok: true, line: {} })).toBeUndefined();
    const failed = await settle(
      db.pool,
      { id: j3.id, runId: runOf(j3.id) },
      { ok: false, error: 'boom', failedStep: 'engine' },
    );
    expect(failed).toMatchObject({ state: 'failed', lastError: 'boom' });

    // A job backing off is not due: nothing to claim.
    expect(await claim(db.pool, { workerId: 'w-a', runId: 'run-c' })).toEqual([]);

    const statuses = await Promise.all(['q-1', 'q-2', 'q-3'].map((id) => churchStatus(db.pool, id)));
    expect(statuses.map((s) => s?.state)).toEqual(['live', 'queued', 'failed']);
    expect(statuses[0]).toMatchObject({ phoneNumber: '+14144007103', lastRing: { ok: true } });
    expect(statuses[1]).toMatchObject({
      lastError: expect.stringContaining('HTTP 500'),
      failedStep: 'telnyx-number',
      attempts: 1,
    });
    expect(await churchStatus(db.pool, 'nobody')).toBeUndefined();
  });

  it('a job left running by a dead worker is queued again', async () => {
    await upsertChurch(db.pool, { churchId: 'orphan-1', name: 'O', areaCode: '414', plan: 'voice', activate: true });
    await enqueue(db.pool, 'orphan-1', 'test');
    await claim(db.pool, { workerId: 'dead-worker', runId: 'run-dead' });
    const requeued = await requeueOrphaned(db.pool, 'interrupted');
    expect(requeued.map((j) => j.churchId)).toContain('orphan-1');
    const [job] = await listJobs(db.pool, { churchId: 'orphan-1' });
    expect(job).toMatchObject({ state: 'queued', lockedBy: null, lastError: expect.stringContaining('dead-worker') });
  });
});

describe('founder notifications', () => {
  it('one email per dedupe key; a failed send stays queued and goes out later', async () => {
    expect(
      await queueFounderNotification(db.pool, { dedupeKey: 'k-1', churchId: 'grace-1', subject: 's', body: 'b' }),
    ).toBe(true);
    expect(
      await queueFounderNotification(db.pool, { dedupeKey: 'k-1', churchId: 'grace-1', subject: 's', body: 'b' }),
    ).toBe(false);
    const sent: string[] = [];
    let smtpDown = true;
    const send = async (n: { dedupeKey: string }) => {
      if (smtpDown) throw new Error('connect ECONNREFUSED 127.0.0.1:1');
      sent.push(n.dedupeKey);
    };
    expect(await deliverFounderNotifications(db.pool, send, { retryDelayMs: () => 0 })).toEqual({ sent: 0, failed: 1 });
    expect((await listFounderNotifications(db.pool, { churchId: 'grace-1' }))[0]).toMatchObject({
      sentAt: null,
      lastError: expect.stringContaining('ECONNREFUSED'),
    });
    smtpDown = false;
    expect(await deliverFounderNotifications(db.pool, send, { retryDelayMs: () => 0 })).toEqual({ sent: 1, failed: 0 });
    expect(await deliverFounderNotifications(db.pool, send, { retryDelayMs: () => 0 })).toEqual({ sent: 0, failed: 0 });
    expect(sent).toEqual(['k-1']);
  });
});
