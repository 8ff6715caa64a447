/**
 * From a verified Stripe event (or an admin request) to the registry, in ONE transaction: the event id is
 * recorded (dedupe), the church is upserted, provisioning is queued, and any founder email is put in the outbox.
 * Either all of it commits or none of it does; a replayed event finds its id and changes nothing.
 */
import type { Pool } from 'pg';
import {
  RegistryInputError,
  checkChurchId,
  findChurchBySubscription,
  getChurch,
  markCancelled,
  upsertChurch,
  type Church,
} from '../registry/churches';
import { withTransaction, type Queryable } from '../registry/db';
import { queueFounderNotification } from '../registry/founder-notifications';
import { enqueue, hasSucceededJob, type ProvisioningJob } from '../registry/jobs';
import { recordStripeEvent, setStripeEventOutcome, type StripeEventOutcome } from '../registry/stripe-events';
import { cancellationEmail, unusablePurchaseEmail } from '../worker/founder-mail';
import type { StripeEventDecision, StripeEventLike, VoicePurchase } from './stripe-events';

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

export async function intakeStripeEvent(
  pool: Pool,
  event: StripeEventLike,
  decision: StripeEventDecision,
  options: { stackName: string },
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
        result = await cancel(tx, event, decision.stripeSubscriptionId, decision.churchId, options.stackName);
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

async function cancel(
  tx: Queryable,
  event: StripeEventLike,
  stripeSubscriptionId: string,
  churchId: string | undefined,
  stackName: string,
): Promise<StripeIntakeResult> {
  const change = await markCancelled(tx, { stripeSubscriptionId, churchId });
  if (!change) {
    return {
      outcome: 'ignored',
      founderNotified: false,
      jobCreated: false,
      detail: `no church holds subscription ${stripeSubscriptionId}`,
    };
  }
  let founderNotified = false;
  if (change.changed) {
    const email = cancellationEmail({ church: change.church, eventId: event.id, stripeSubscriptionId, stackName });
    // One email per cancelled subscription, however many events say so.
    founderNotified = await queueFounderNotification(tx, {
      dedupeKey: `cancelled:${stripeSubscriptionId}`,
      churchId: change.church.churchId,
      subject: email.subject,
      body: email.body,
    });
  }
  return { outcome: 'cancelled', churchId: change.church.churchId, founderNotified, jobCreated: false };
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
  // Stripe does not order events: a late "active" event of a subscription that was already cancelled must not
  // bring the church back. A different (new) subscription does.
  const staleEvent = isStaleForCancelledChurch(existing, decision);
  let upserted;
  try {
    upserted = await upsertChurch(tx, {
      churchId,
      name: decision.name,
      areaCode: decision.areaCode,
      requestedNumber: decision.requestedNumber,
      plan: decision.plan,
      stripeCustomerId: decision.stripeCustomerId,
      stripeSubscriptionId: decision.stripeSubscriptionId,
      activate: !staleEvent,
    });
  } catch (error) {
    if (error instanceof RegistryInputError) return notifyUnusable(tx, event, decision, error.failures);
    throw error;
  }
  if (staleEvent)
    return {
      outcome: 'unchanged',
      churchId,
      founderNotified: false,
      jobCreated: false,
      detail: 'subscription already cancelled',
    };
  // A paid invoice every month for a live, unchanged church needs no stack run.
  if (!upserted.changed && (await hasSucceededJob(tx, churchId))) {
    return {
      outcome: 'unchanged',
      churchId,
      founderNotified: false,
      jobCreated: false,
      detail: 'line already provisioned',
    };
  }
  const { job, created } = await enqueue(tx, churchId, `stripe ${event.type} ${event.id}`);
  return { outcome: 'queued', churchId, job, founderNotified: false, jobCreated: created };
}

function isStaleForCancelledChurch(existing: Church | undefined, decision: VoicePurchase): boolean {
  return (
    existing !== undefined &&
    existing.status !== 'active' &&
    decision.stripeSubscriptionId !== undefined &&
    existing.stripeSubscriptionId === decision.stripeSubscriptionId
  );
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
 * The seed's manual override: the founder names the church and the area code; the church is (re)activated and
 * a stack run queued even if its line exists (a forced re-run). Throws RegistryInputError naming bad fields.
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
