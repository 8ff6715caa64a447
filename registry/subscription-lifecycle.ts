/**
 * The subscription lifecycle of a church, decided from each Stripe event's own `created` time and the state the
 * event reports, never from the order events arrive in (Stripe delivers unordered, and more than once):
 *
 *   active --payment failed / past_due / unpaid--> past_due (grace period: the line keeps working, founder told once)
 *   past_due --paid again--> active (nothing touched)
 *   active | past_due --subscription deleted--> parking -> parked (the number moves to the fallback message, the
 *     trunk and rule are removed; the number stays owned for the quarantine)
 *   past_due --grace period over (the clock, not an event)--> parking -> parked
 *   parking | parked --the subscription (or a new one) active again--> active (same number, new trunk/rule/row)
 *   parked --quarantine over (the clock)--> parked, and the founder is reminded: only a decommission releases it
 *
 * An event older than the newest one already applied to the church only goes into its timeline, as superseded.
 * Pure: the registry, the intake and the worker apply what this decides.
 */
import type { ChurchStatus } from './churches';

/** What a Stripe event says about a church's subscription. */
export type SubscriptionSignal = 'paid' | 'payment-trouble' | 'cancelled';

/** What the timeline calls a transition. */
export type LifecycleKind =
  | 'purchase'
  | 'payment-trouble'
  | 'payment-recovered'
  | 'cancelled'
  | 'grace-expired'
  | 'parked'
  | 'reactivated'
  | 'quarantine-over'
  | 'number-substituted'
  | 'retry'
  | 'superseded'
  | 'unchanged'
  | 'decommission-requested'
  | 'decommissioned';

export interface LifecycleState {
  status: ChurchStatus;
  /** The `created` time of the newest subscription event applied to the church; null before the first. */
  lifecycleAt: Date | null;
}

export interface LifecycleDecision {
  kind: LifecycleKind;
  /** The status to store; equal to the current one when nothing changes. */
  toStatus: ChurchStatus;
  /** Whether the event is the newest the church has seen (its `created` time becomes `lifecycleAt`). */
  newest: boolean;
  /** When the grace period of a payment problem ends (past_due only). */
  graceUntil?: Date;
  /** The founder is told about this transition (once: the caller dedupes by transition). */
  tellFounder: boolean;
}

export const DEFAULT_GRACE_DAYS = 14;
export const DEFAULT_QUARANTINE_DAYS = 30;
export const DAY_MS = 24 * 60 * 60 * 1000;

/** Statuses the founder owns: no Stripe event moves a church out of a decommission. */
const FOUNDER_STATUSES: readonly ChurchStatus[] = ['decommission', 'decommissioned'];
/** A line on its way to the fallback, or there: its number is kept, its trunk and rule are (being) removed. */
export const PARKED_STATUSES: readonly ChurchStatus[] = ['parking', 'parked'];

/**
 * The transition a subscription event makes, given the church's current state (undefined: a church the registry
 * does not have yet, which only a payment creates).
 */
export function decideLifecycle(
  current: LifecycleState | undefined,
  signal: SubscriptionSignal,
  eventCreated: Date,
  options: { graceDays?: number } = {},
): LifecycleDecision {
  if (!current) {
    return signal === 'paid'
      ? { kind: 'purchase', toStatus: 'active', newest: true, tellFounder: false }
      : { kind: 'unchanged', toStatus: 'active', newest: false, tellFounder: false };
  }
  const same = (kind: LifecycleKind, newest = true): LifecycleDecision => ({
    kind,
    toStatus: current.status,
    newest,
    tellFounder: false,
  });
  if (current.lifecycleAt && eventCreated.getTime() < current.lifecycleAt.getTime()) return same('superseded', false);
  // A line already released comes back only as a new purchase (a new number); one being released stays so.
  if (current.status === 'decommissioned' && signal === 'paid') return { ...same('reactivated'), toStatus: 'active' };
  if (FOUNDER_STATUSES.includes(current.status)) return same('unchanged', false);

  switch (signal) {
    case 'paid':
      if (current.status === 'past_due') return { ...same('payment-recovered'), toStatus: 'active' };
      // Undo: the parked number comes back (the stack still holds it), with a new trunk, rule and row.
      if (PARKED_STATUSES.includes(current.status))
        return { ...same('reactivated'), toStatus: 'active', tellFounder: true };
      return same('unchanged');
    case 'payment-trouble':
      if (current.status !== 'active') return same('unchanged');
      return {
        kind: 'payment-trouble',
        toStatus: 'past_due',
        newest: true,
        graceUntil: new Date(eventCreated.getTime() + (options.graceDays ?? DEFAULT_GRACE_DAYS) * DAY_MS),
        tellFounder: true,
      };
    case 'cancelled':
      if (PARKED_STATUSES.includes(current.status)) return same('unchanged');
      return { kind: 'cancelled', toStatus: 'parking', newest: true, tellFounder: true };
  }
}

/** A church as the clock sees it. */
export interface ClockedState {
  status: ChurchStatus;
  graceUntil: Date | null;
  quarantineUntil: Date | null;
}

/**
 * What the passing of time does to a church at `now`: a grace period that ran out parks the line; a quarantine that
 * ran out only reminds the founder (the number is released by a decommission and nothing else). Undefined: nothing.
 */
export function decideByClock(
  church: ClockedState,
  now: Date,
): { kind: 'grace-expired'; toStatus: 'parking' } | { kind: 'quarantine-over'; toStatus: 'parked' } | undefined {
  if (church.status === 'past_due' && church.graceUntil && church.graceUntil.getTime() <= now.getTime())
    return { kind: 'grace-expired', toStatus: 'parking' };
  if (church.status === 'parked' && church.quarantineUntil && church.quarantineUntil.getTime() <= now.getTime())
    return { kind: 'quarantine-over', toStatus: 'parked' };
  return undefined;
}

/** When the quarantine of a line parked at `parkedAt` ends. */
export function quarantineEnd(parkedAt: Date, quarantineDays = DEFAULT_QUARANTINE_DAYS): Date {
  return new Date(parkedAt.getTime() + quarantineDays * DAY_MS);
}
