/**
 * The subscription lifecycle of a church, decided from each Stripe event's own `created` time and the state the
 * event reports, never from the order events arrive in (Stripe delivers unordered, and more than once):
 *
 *   active --payment failed / past_due / unpaid--> past_due (grace period: the line keeps working, founder told once)
 *   past_due --paid again--> active (nothing touched)
 *   active | past_due --subscription deleted--> cancelled (nothing released by this)
 *   cancelled --the subscription (or a new one) active again--> active (the line is provisioned again)
 *
 * An event older than the newest one already applied to the church only goes into its timeline, as superseded.
 * Pure: the registry and the intake apply what this decides.
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
  | 'reactivated'
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
const DAY_MS = 24 * 60 * 60 * 1000;

/** Statuses the founder owns: no Stripe event moves a church out of a decommission. */
const FOUNDER_STATUSES: readonly ChurchStatus[] = ['decommission', 'decommissioned'];

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
      if (current.status === 'cancelled') return { ...same('reactivated'), toStatus: 'active' };
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
      if (current.status === 'cancelled') return same('unchanged');
      return { kind: 'cancelled', toStatus: 'cancelled', newest: true, tellFounder: true };
  }
}
