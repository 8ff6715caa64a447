/**
 * Test rings under the carrier's concurrent-call limit: slots are PostgreSQL advisory locks in the registry, so
 * every provider process, service instance and laptop sharing the registry shares them (each slot holder here has
 * its own database session, exactly as separate processes would); a 403 "User channel limit exceeded" from Telnyx
 * waits and dials again instead of failing the line. Real PostgreSQL, the Telnyx stand-in in this process.
 */
import { Client } from 'pg';
import { CALL_SLOT_LOCK_CLASS, callSlotsInUse, withOutboundCallSlot } from '../../providers/call-slots';
import { isChannelLimitExceeded, telnyxCallControl } from '../../providers/line-ring';
import { createTestDatabase, type TestDatabase } from '../../sandbox/postgres';
import type { CallDialer, DialState } from '../../sandbox/telnyx/call-dialer';
import { startTelnyxStandIn, type TelnyxStandIn } from '../../sandbox/telnyx/standin';
import { randomE164 } from '../support/unique';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase('call_slots');
});
afterAll(async () => {
  await db?.drop();
});

describe('outbound call slots', () => {
  test('eight rings at once with a limit of 2: never more than 2 calls at a time, every ring placed', async () => {
    let live = 0;
    let peak = 0;
    let seenInUse = 0;
    const waits: string[] = [];
    const ring = (n: number) =>
      withOutboundCallSlot(
        async () => {
          live += 1;
          peak = Math.max(peak, live);
          seenInUse = Math.max(seenInUse, await callSlotsInUse(db.url));
          await sleep(150);
          live -= 1;
          return n;
        },
        { limit: 2, databaseUrl: db.url, onWait: (message) => waits.push(message) },
      );
    const done = await Promise.all([1, 2, 3, 4, 5, 6, 7, 8].map(ring));
    expect(done).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(peak).toBe(2);
    expect(seenInUse).toBe(2);
    expect(waits[0]).toMatch(/waiting for a free outbound call slot \(2 of 2 in use/);
    expect(await callSlotsInUse(db.url)).toBe(0);
  });

  test('a slot is given back when the ring throws, and when its holder dies (its session ends)', async () => {
    await expect(
      withOutboundCallSlot(async () => Promise.reject(new Error('dial failed')), { limit: 1, databaseUrl: db.url }),
    ).rejects.toThrow('dial failed');
    expect(await callSlotsInUse(db.url)).toBe(0);

    // Another process holds the only slot, then dies: PostgreSQL drops its session and with it the slot.
    const holder = new Client({ connectionString: db.url });
    holder.on('error', () => undefined); // its death is the point
    await holder.connect();
    await holder.query('select pg_advisory_lock($1, 0)', [CALL_SLOT_LOCK_CLASS]);
    const waiting = withOutboundCallSlot(async () => 'placed', { limit: 1, databaseUrl: db.url });
    await sleep(300);
    const admin = new Client({ connectionString: db.url });
    await admin.connect();
    await admin.query('select pg_terminate_backend($1)', [(holder as unknown as { processID: number }).processID]);
    await admin.end();
    await expect(waiting).resolves.toBe('placed');
  });

  test('a ring that cannot get a slot in time is not placed, and says why', async () => {
    const holder = new Client({ connectionString: db.url });
    await holder.connect();
    try {
      await holder.query('select pg_advisory_lock($1, 0)', [CALL_SLOT_LOCK_CLASS]);
      let placed = false;
      await expect(
        withOutboundCallSlot(async () => (placed = true), { limit: 1, databaseUrl: db.url, waitTimeoutMs: 500 }),
      ).rejects.toThrow(/no outbound call slot came free within 1 s \(outboundCallLimit 1\).*the ring was not placed/);
      expect(placed).toBe(false);
    } finally {
      await holder.end();
    }
  });
});

describe('Telnyx answers 403 "User channel limit exceeded"', () => {
  let standIn: TelnyxStandIn;
  beforeAll(async () => {
    // A far end that rings until we hang up, so a call holds its channel as long as a real ring would.
    const ringsUntilHungUp: CallDialer = {
      dial: () => {
        let state: DialState = 'ringing';
        return { state: () => state, hangup: async () => void (state = 'ended') };
      },
    };
    standIn = await startTelnyxStandIn({ dialer: ringsUntilHungUp });
  });
  afterAll(async () => {
    await standIn?.close();
  });

  const control = (waits: number[]) =>
    telnyxCallControl({ apiKey: standIn.apiKey, baseUrl: standIn.url }, '1493561726053476330', undefined, waits);
  const dial = (waits: number[]) => control(waits).dial({ to: randomE164(), from: '+14697288326', timeoutSecs: 30 });

  test('the dial waits and is sent again once a channel is free: one call placed, the line not failed', async () => {
    standIn.setChannelLimit(1);
    const busy = await dial([]);
    const before = standIn.countRequests('POST', '/calls');
    const second = dial([200, 200, 200, 200, 200]);
    await sleep(300);
    await control([]).hangup(busy.callControlId);
    const placed = await second;
    expect(placed.callControlId).toMatch(/^v3:/);
    // Refused at least once, then placed exactly once; never two calls at a time.
    const attempts = standIn.countRequests('POST', '/calls') - before;
    expect(attempts).toBeGreaterThanOrEqual(2);
    expect(standIn.peakConcurrentCalls()).toBe(1);
    await control([]).hangup(placed.callControlId);
  });

  test("past the waits, the refusal is Telnyx's own answer, recognised as the channel limit", async () => {
    standIn.setChannelLimit(1);
    const busy = await dial([]);
    let refused: unknown;
    try {
      await dial([50, 50]);
    } catch (error) {
      refused = error;
    }
    expect(isChannelLimitExceeded(refused)).toBe(true);
    expect(refused).toMatchObject({ status: 403, detail: expect.stringContaining('User channel limit exceeded') });
    await control([]).hangup(busy.callControlId);
    standIn.setChannelLimit(undefined);
  });
});
