/**
 * From a verified Stripe event (or an admin request) to the registry, in ONE transaction: the event id is
 * recorded (dedupe), the church is upserted, provisioning is queued, and any founder email is put in the outbox.
 * Either all of it commits or none of it does; a replayed event finds its id and changes nothing.
 */
import type { Pool } from 'pg';
import {
  RegistryInputError,
  applyLifecycle,
  checkChurchId,
  findChurchBySubscription,
  getChurch,
  markParked,
  startParking,
  upsertChurch,
  type Church,
} from '../registry/churches';
import {
  decideLifecycle,
  quarantineEnd,
  type LifecycleDecision,
  type SubscriptionSignal,
} from '../registry/subscription-lifecycle';
import { recordTimeline } from '../registry/timeline';
import { withTransaction, type Queryable } from '../registry/db';
import { queueFounderNotification } from '../registry/founder-notifications';
import { enqueue, hasSucceededJob, listJobs, type ProvisioningJob } from '../registry/jobs';
import { lineNumberOf } from '../registry/parked-lines';
import { recordStripeEvent, setStripeEventOutcome, type StripeEventOutcome } from '../registry/stripe-events';
import { cancellationEmail, paymentTroubleEmail, unusablePurchaseEmail } from '../worker/founder-mail';
import {
  eventCreatedAt,
  type StripeEventDecision,
  type StripeEventLike,
  type VoicePaymentTrouble,
  type VoicePurchase,
} from './stripe-events';

export interface StripeIntakeResult {
  /** `duplicate`: the event id was seen before and nothing was done. */
  outcome: StripeEventOutcome | 'duplicate';
  churchId?: string;
  job?: ProvisioningJob;
  /** A founder email was put in the outbox (wake the notifier). */
  founderNotified: boolean;
  /** A job was created (wake the worker). */
  jobCreated: boolean;
  detail?: string;
}

export interface IntakeOptions {
  stackName: string;
  /** Days a past_due church keeps its line (default 14). */
  graceDays?: number;
  /** Days a parked number is kept for its church before the founder is reminded to decommission it (default 30). */
  quarantineDays?: number;
}

export async function intakeStripeEvent(
  pool: Pool,
  event: StripeEventLike,
  decision: StripeEventDecision,
  options: IntakeOptions,
): Promise<StripeIntakeResult> {
  return withTransaction(pool, async (tx) => {
    const fresh = await recordStripeEvent(tx, { eventId: event.id, type: event.type, outcome: 'ignored' });
    if (!fresh) return { outcome: 'duplicate', founderNotified: false, jobCreated: false };
    let result: StripeIntakeResult;
    switch (decision.kind) {
      case 'ignored':
        result = { outcome: 'ignored', founderNotified: false, jobCreated: false, detail: decision.reason };
        break;
      case 'cancellation':
        result = await cancel(tx, event, decision.stripeSubscriptionId, decision.churchId, options);
        break;
      case 'payment-trouble':
        result = await paymentTrouble(tx, event, decision, options);
        break;
      case 'purchase':
        result = await purchase(tx, event, decision);
        break;
    }
    await setStripeEventOutcome(tx, event.id, {
      outcome: result.outcome as StripeEventOutcome,
      churchId: result.churchId,
    });
    return result;
  });
}

/** The church a subscription event is about: by its subscription, else by the church id it names. */
async function subscriptionChurch(
  tx: Queryable,
  stripeSubscriptionId: string,
  churchId: string | undefined,
): Promise<Church | undefined> {
  const church =
    (await findChurchBySubscription(tx, stripeSubscriptionId)) ??
    (churchId && !checkChurchId('churchId', churchId) ? await getChurch(tx, churchId) : undefined);
  if (!church || (church.stripeSubscriptionId !== null && church.stripeSubscriptionId !== stripeSubscriptionId)) {
    return undefined;
  }
  return getChurch(tx, church.churchId, { forUpdate: true });
}

/** What a subscription event decides for a church, recorded in its timeline whatever it is. */
async function lifecycleOf(
  tx: Queryable,
  church: Church | undefined,
  churchId: string,
  event: StripeEventLike,
  signal: SubscriptionSignal,
  detail: string,
  graceDays?: number,
): Promise<LifecycleDecision> {
  const created = eventCreatedAt(event);
  const decision = decideLifecycle(church, signal, created, { graceDays });
  await recordTimeline(tx, {
    churchId,
    kind: decision.kind,
    fromStatus: church?.status ?? null,
    toStatus: decision.toStatus,
    actor: 'stripe',
    occurredAt: created,
    cause: `${event.type} ${event.id}`,
    detail:
      decision.kind === 'superseded'
        ? `${detail}; older than the newest event already applied ` +
          `(${church?.lifecycleAt?.toISOString()}): changes nothing`
        : detail,
  });
  return decision;
}

/** A subscription event about a subscription no church of ours holds. */
function noChurchHolds(stripeSubscriptionId: string): StripeIntakeResult {
  return {
    outcome: 'ignored',
    founderNotified: false,
    jobCreated: false,
    detail: `no church holds subscription ${stripeSubscriptionId}`,
  };
}

/** An event that changes nothing for the church: only its `created` time is kept, when it is the newest. */
async function unchangedBy(
  tx: Queryable,
  church: Church,
  event: StripeEventLike,
  lifecycle: LifecycleDecision,
): Promise<StripeIntakeResult> {
  if (lifecycle.newest)
    await applyLifecycle(tx, church.churchId, { toStatus: church.status, eventCreated: eventCreatedAt(event) });
  return {
    outcome: 'unchanged',
    churchId: church.churchId,
    founderNotified: false,
    jobCreated: false,
    detail: lifecycle.kind,
  };
}

async function cancel(
  tx: Queryable,
  event: StripeEventLike,
  stripeSubscriptionId: string,
  churchId: string | undefined,
  options: IntakeOptions,
): Promise<StripeIntakeResult> {
  const church = await subscriptionChurch(tx, stripeSubscriptionId, churchId);
  if (!church) {
    return noChurchHolds(stripeSubscriptionId);
  }
  const lifecycle = await lifecycleOf(tx, church, church.churchId, event, 'cancelled', 'subscription cancelled');
  if (lifecycle.kind !== 'cancelled') {
    return unchangedBy(tx, church, event, lifecycle);
  }
  // The quarantine counts from when Stripe ended the subscription, not from when the event happened to arrive.
  const parkedAt = eventCreatedAt(event);
  const change = await startParking(tx, church.churchId, {
    parkedAt,
    quarantineUntil: quarantineEnd(parkedAt, options.quarantineDays),
    stripeSubscriptionId,
  });
  const parked = await applyLifecycle(tx, church.churchId, { toStatus: 'parking', eventCreated: parkedAt });
  const email = cancellationEmail({
    church: parked,
    eventId: event.id,
    stripeSubscriptionId,
    stackName: options.stackName,
  });
  // One email per cancelled subscription, however many events say so.
  const founderNotified = await queueFounderNotification(tx, {
    dedupeKey: `cancelled:${stripeSubscriptionId}`,
    churchId: church.churchId,
    subject: email.subject,
    body: email.body,
  });
  // A church cancelled before its line ever got a number has nothing to park: it is parked at once, no run needed
  // (a run would find no line to report, and fail). One with a job still open lets that job carry the parking.
  const open = await listJobs(tx, { churchId: church.churchId, states: ['queued', 'running'] });
  if (open.length === 0 && !(await lineNumberOf(tx, church.churchId))) {
    await markParked(tx, church.churchId);
    return { outcome: 'cancelled', churchId: church.churchId, founderNotified, jobCreated: false, detail: 'no line' };
  }
  const { job, created } = await enqueue(tx, church.churchId, `park: stripe ${event.type} ${event.id}`);
  return {
    outcome: 'cancelled',
    churchId: church.churchId,
    job,
    founderNotified,
    jobCreated: created,
    detail: change.changed ? 'parking: the line moves to the fallback message' : undefined,
  };
}

/**
 * A failed payment: the church goes past_due and its grace period starts; the line keeps working, nothing runs,
 * and the founder is told once per grace period (not once per retry Stripe makes).
 */
async function paymentTrouble(
  tx: Queryable,
  event: StripeEventLike,
  decision: VoicePaymentTrouble,
  options: { stackName: string; graceDays?: number },
): Promise<StripeIntakeResult> {
  const church = await subscriptionChurch(tx, decision.stripeSubscriptionId, decision.churchId);
  if (!church) {
    return noChurchHolds(decision.stripeSubscriptionId);
  }
  const lifecycle = await lifecycleOf(
    tx,
    church,
    church.churchId,
    event,
    'payment-trouble',
    decision.reason,
    options.graceDays,
  );
  if (lifecycle.kind !== 'payment-trouble') {
    return unchangedBy(tx, church, event, lifecycle);
  }
  const updated = await applyLifecycle(tx, church.churchId, {
    toStatus: 'past_due',
    graceUntil: lifecycle.graceUntil,
    eventCreated: eventCreatedAt(event),
  });
  const email = paymentTroubleEmail({
    church: updated,
    eventId: event.id,
    reason: decision.reason,
    stackName: options.stackName,
  });
  const founderNotified = await queueFounderNotification(tx, {
    dedupeKey: `past-due:${decision.stripeSubscriptionId}:${updated.graceUntil?.toISOString()}`,
    churchId: church.churchId,
    subject: email.subject,
    body: email.body,
  });
  return { outcome: 'past-due', churchId: church.churchId, founderNotified, jobCreated: false };
}

async function notifyUnusable(
  tx: Queryable,
  event: StripeEventLike,
  decision: VoicePurchase,
  failures: RegistryInputError['failures'],
): Promise<StripeIntakeResult> {
  const email = unusablePurchaseEmail({
    eventId: event.id,
    eventType: event.type,
    churchId: decision.churchId,
    stripeCustomerId: decision.stripeCustomerId,
    stripeSubscriptionId: decision.stripeSubscriptionId,
    failures,
  });
  // One email per subscription (its created/updated/invoice events would each say the same), else per event.
  const founderNotified = await queueFounderNotification(tx, {
    dedupeKey: `unusable:${decision.stripeSubscriptionId ?? event.id}`,
    churchId: decision.churchId,
    subject: email.subject,
    body: email.body,
  });
  return {
    outcome: 'founder-notified',
    churchId: decision.churchId && !checkChurchId('churchId', decision.churchId) ? decision.churchId : undefined,
    founderNotified,
    jobCreated: false,
    detail: failures.map((f) => f.reason).join('; '),
  };
}

async function purchase(tx: Queryable, event: StripeEventLike, decision: VoicePurchase): Promise<StripeIntakeResult> {
  const idFailure = checkChurchId('metadata.church_id', decision.churchId);
  if (idFailure) return notifyUnusable(tx, event, decision, [idFailure]);
  const churchId = decision.churchId as string;

  if (decision.stripeSubscriptionId) {
    const holder = await findChurchBySubscription(tx, decision.stripeSubscriptionId);
    if (holder && holder.churchId !== churchId) {
      return notifyUnusable(tx, event, decision, [
        {
          property: 'metadata.church_id',
          reason:
            `subscription ${decision.stripeSubscriptionId} already belongs to ` +
            `church ${holder.churchId}, but this event names church ${churchId}`,
        },
      ]);
    }
  }

  const existing = await getChurch(tx, churchId, { forUpdate: true });
  // Stripe does not order events: an "active" event older than the church's newest one (a late replay of the
  // subscription before its cancellation) changes nothing. A newer one is a payment: recovered, or reactivated.
  const lifecycle = await lifecycleOf(tx, existing, churchId, event, 'paid', `paid (${decision.plan})`);
  const staleEvent =
    lifecycle.kind === 'superseded' || (lifecycle.kind === 'unchanged' && lifecycle.toStatus !== 'active');
  let upserted;
  try {
    upserted = await upsertChurch(tx, {
      churchId,
      name: decision.name,
      areaCode: decision.areaCode,
      requestedNumber: decision.requestedNumber,
      numberHold: decision.requestedNumber ? decision.numberHold : undefined,
      plan: decision.plan,
      stripeCustomerId: decision.stripeCustomerId,
      stripeSubscriptionId: decision.stripeSubscriptionId,
      activate: !staleEvent,
    });
  } catch (error) {
    if (error instanceof RegistryInputError) return notifyUnusable(tx, event, decision, error.failures);
    throw error;
  }
  if (lifecycle.newest) {
    upserted.church = await applyLifecycle(tx, churchId, {
      toStatus: upserted.church.status,
      eventCreated: eventCreatedAt(event),
    });
  }
  if (staleEvent)
    return {
      outcome: 'unchanged',
      churchId,
      founderNotified: false,
      jobCreated: false,
      detail: `older than the church's newest subscription event (it is ${existing?.status})`,
    };
  // A paid invoice every month for a live, unchanged church needs no stack run; nor does a payment that recovers
  // within the grace period (the line kept working throughout: nothing is touched).
  const nothingToRun = !upserted.changed || lifecycle.kind === 'payment-recovered';
  if (nothingToRun && (await hasSucceededJob(tx, churchId))) {
    return {
      outcome: 'unchanged',
      churchId,
      founderNotified: false,
      jobCreated: false,
      detail:
        lifecycle.kind === 'payment-recovered'
          ? 'payment recovered: the line kept working'
          : 'line already provisioned',
    };
  }
  const { job, created } = await enqueue(tx, churchId, `stripe ${event.type} ${event.id}`);
  return { outcome: 'queued', churchId, job, founderNotified: false, jobCreated: created };
}

export interface AdminProvisionRequest {
  churchId: string;
  areaCode: string;
  name?: string;
}

export interface AdminIntakeResult {
  church: Church;
  job: ProvisioningJob;
  jobCreated: boolean;
}

/**
 * The design document's manual override: the founder names the church and the area code; the church is
 * (re)activated and a stack run queued even if its line exists (a forced re-run). Throws RegistryInputError naming
 * bad fields.
 */
export async function intakeAdminProvision(pool: Pool, request: AdminProvisionRequest): Promise<AdminIntakeResult> {
  return withTransaction(pool, async (tx) => {
    const existing = await getChurch(tx, request.churchId, { forUpdate: true });
    const { church } = await upsertChurch(tx, {
      churchId: request.churchId,
      name: request.name,
      areaCode: request.areaCode,
      plan: existing ? undefined : 'manual',
      activate: true,
    });
    const { job, created } = await enqueue(tx, church.churchId, 'admin provision-number');
    return { church, job, jobCreated: created };
  });
}
