/**
 * The subscription lifecycle's rules (registry/subscription-lifecycle.ts): each event decided from its own created
 * time and what it says, never from the order it arrives in. No database.
 */
import {
  decideByClock,
  decideLifecycle,
  quarantineEnd,
  type LifecycleState,
} from '../../registry/subscription-lifecycle';

const at = (minute: number) => new Date(Date.UTC(2026, 10, 1, 12, minute));
const state = (status: LifecycleState['status'], minute: number | null): LifecycleState => ({
  status,
  lifecycleAt: minute === null ? null : at(minute),
});

describe('decideLifecycle', () => {
  test('a first payment creates the church; nothing else does', () => {
    expect(decideLifecycle(undefined, 'paid', at(0))).toMatchObject({
      kind: 'purchase',
      toStatus: 'active',
      newest: true,
    });
    expect(decideLifecycle(undefined, 'payment-trouble', at(0))).toMatchObject({ kind: 'unchanged', newest: false });
    expect(decideLifecycle(undefined, 'cancelled', at(0))).toMatchObject({ kind: 'unchanged', newest: false });
  });

  test('a failed payment starts the grace period (a setting, 14 days by default) and tells the founder', () => {
    expect(decideLifecycle(state('active', 0), 'payment-trouble', at(5))).toEqual({
      kind: 'payment-trouble',
      toStatus: 'past_due',
      newest: true,
      graceUntil: new Date(at(5).getTime() + 14 * 24 * 3600_000),
      tellFounder: true,
    });
    expect(decideLifecycle(state('active', 0), 'payment-trouble', at(5), { graceDays: 3 }).graceUntil).toEqual(
      new Date(at(5).getTime() + 3 * 24 * 3600_000),
    );
    // Stripe's retries of the payment while past_due change nothing and tell nobody again.
    expect(decideLifecycle(state('past_due', 5), 'payment-trouble', at(9))).toMatchObject({
      kind: 'unchanged',
      toStatus: 'past_due',
      tellFounder: false,
    });
  });

  test('payment recovered: back to active; a cancellation: parking, once', () => {
    expect(decideLifecycle(state('past_due', 5), 'paid', at(9))).toMatchObject({
      kind: 'payment-recovered',
      toStatus: 'active',
    });
    expect(decideLifecycle(state('past_due', 5), 'cancelled', at(9))).toMatchObject({
      kind: 'cancelled',
      toStatus: 'parking',
      tellFounder: true,
    });
    expect(decideLifecycle(state('parking', 9), 'cancelled', at(10))).toMatchObject({ kind: 'unchanged' });
    expect(decideLifecycle(state('parked', 9), 'cancelled', at(10))).toMatchObject({ kind: 'unchanged' });
    // A parked church's failed payment changes nothing: there is no line to keep working.
    expect(decideLifecycle(state('parked', 9), 'payment-trouble', at(10))).toMatchObject({
      kind: 'unchanged',
      toStatus: 'parked',
    });
  });

  test('an event older than the newest one applied changes nothing, whatever it says', () => {
    for (const signal of ['paid', 'payment-trouble', 'cancelled'] as const) {
      expect(decideLifecycle(state('past_due', 9), signal, at(8))).toEqual({
        kind: 'superseded',
        toStatus: 'past_due',
        newest: false,
        tellFounder: false,
      });
    }
    // The late "active" of a subscription created before its cancellation does not bring the church back...
    expect(decideLifecycle(state('parked', 9), 'paid', at(7))).toMatchObject({
      kind: 'superseded',
      toStatus: 'parked',
    });
    // ...a newer one (the subscription reactivated, or a new checkout) does: the undo, from either parking phase.
    for (const status of ['parking', 'parked'] as const) {
      expect(decideLifecycle(state(status, 9), 'paid', at(12))).toMatchObject({
        kind: 'reactivated',
        toStatus: 'active',
        tellFounder: true,
      });
    }
  });

  test("no Stripe event moves a church out of the founder's decommission; a new purchase after release is a new line", () => {
    expect(decideLifecycle(state('decommission', 0), 'paid', at(5))).toMatchObject({
      kind: 'unchanged',
      toStatus: 'decommission',
    });
    expect(decideLifecycle(state('decommission', 0), 'payment-trouble', at(5))).toMatchObject({ kind: 'unchanged' });
    expect(decideLifecycle(state('decommissioned', 0), 'paid', at(5))).toMatchObject({
      kind: 'reactivated',
      toStatus: 'active',
    });
  });
});

describe('the clock', () => {
  const church = (status: 'past_due' | 'parked' | 'active', graceUntil: Date | null, quarantineUntil: Date | null) => ({
    status,
    graceUntil,
    quarantineUntil,
  });

  test('a grace period that ran out parks the line; one still running does nothing', () => {
    expect(decideByClock(church('past_due', at(10), null), at(9))).toBeUndefined();
    expect(decideByClock(church('past_due', at(10), null), at(10))).toEqual({
      kind: 'grace-expired',
      toStatus: 'parking',
    });
    // A church that recovered in time has no grace period left to run out.
    expect(decideByClock(church('active', null, null), at(100))).toBeUndefined();
  });

  test('a quarantine that ran out only reminds: the line stays parked, nothing is released', () => {
    expect(decideByClock(church('parked', null, at(30)), at(29))).toBeUndefined();
    expect(decideByClock(church('parked', null, at(30)), at(31))).toEqual({
      kind: 'quarantine-over',
      toStatus: 'parked',
    });
  });

  test('the quarantine is counted in whole days from parking', () => {
    const parkedAt = new Date('2026-11-01T12:00:00Z');
    expect(quarantineEnd(parkedAt).toISOString()).toBe('2026-12-01T12:00:00.000Z');
    expect(quarantineEnd(parkedAt, 7).toISOString()).toBe('2026-11-08T12:00:00.000Z');
  });
});
