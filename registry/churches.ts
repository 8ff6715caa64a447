/**
 * The `churches` table: one row per customer church, the list the Pulumi program provisions a line for.
 * Only the webhook (a purchase, a cancellation) and the founder (decommission) change it.
 */
import { checkAreaCode, checkOrderableNumber, type RuleFailure } from '../common/phone-numbers';
import type { Queryable } from './db';
import { assignShard } from './fleet-layout';
import { recordTimeline } from './timeline';

/** Also the key of the church's Pulumi resources, so the alphabet is narrow; same check as the table's. */
export const CHURCH_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

export const CHURCH_STATUSES = ['active', 'past_due', 'parking', 'parked', 'decommission', 'decommissioned'] as const;
/**
 * `past_due`: a payment failed; the grace period runs and the line keeps working. `parking`/`parked`: the
 * subscription ended (or the grace period ran out); the number answers with the fallback message and is kept for
 * the church through the quarantine, while its trunk and rule are removed (two stack runs: `parking` marks them,
 * `parked` removes them). `decommission` means the founder asked for the line to be released; `decommissioned`
 * means it was. registry/subscription-lifecycle.ts says how Stripe events and the clock move a church.
 */
export type ChurchStatus = (typeof CHURCH_STATUSES)[number];

export interface Church {
  churchId: string;
  name: string;
  areaCode: string | null;
  requestedNumber: string | null;
  /**
   * The pastor's hold on `requestedNumber` (a Telnyx reservation id): a held number that is gone by the time the
   * payment arrives is replaced by the best one left in its area code; a number typed by the founder is exact.
   */
  numberHold: string | null;
  plan: string;
  status: ChurchStatus;
  stripeCustomerId: string | null;
  stripeSubscriptionId: string | null;
  /** The Stripe `created` time of the newest subscription event applied; null before the first. */
  lifecycleAt: Date | null;
  /** While past_due: when the grace period ends. */
  graceUntil: Date | null;
  /** When parking started; null unless the line is parked (or was, and is being decommissioned). */
  parkedAt: Date | null;
  /** While parked: until when the number is kept for the church without a reminder to decommission it. */
  quarantineUntil: Date | null;
  /** The shard stack the church's line is in (common/fleet-shards.ts); null: the base stack. */
  shard: number | null;
  createdAt: Date;
  updatedAt: Date;
}

/** The name infra/program.ts reads the registry rows by. */
export type RegistryChurch = Church;

/**
 * What a purchase or the admin route knows about a church. An absent field keeps the stored value (a
 * `customer.subscription.updated` usually carries no area code); on creation `plan` and one of
 * `areaCode`/`requestedNumber` are required and `name` defaults to the church id.
 */
export interface ChurchUpsert {
  churchId: string;
  name?: string;
  areaCode?: string;
  requestedNumber?: string;
  numberHold?: string;
  plan?: string;
  stripeCustomerId?: string;
  stripeSubscriptionId?: string;
  /** Set status back to `active` (a new purchase); false leaves the status as it is. */
  activate: boolean;
}

export interface UpsertResult {
  church: Church;
  created: boolean;
  /** True when a field the Pulumi program reads changed (name, area code, number, status): the line needs a run. */
  changed: boolean;
}

/** Bad input, with one failure per field naming the field and the rule. Nothing was written. */
export class RegistryInputError extends Error {
  readonly failures: RuleFailure[];
  constructor(failures: RuleFailure[]) {
    super(failures.map((f) => f.reason).join('; '));
    this.name = 'RegistryInputError';
    this.failures = failures;
  }
}

export class ChurchNotFoundError extends Error {
  constructor(readonly churchId: string) {
    super(`church ${JSON.stringify(churchId)} is not in the registry`);
    this.name = 'ChurchNotFoundError';
  }
}

export function checkChurchId(property: string, value: unknown): RuleFailure | undefined {
  if (typeof value !== 'string' || !CHURCH_ID_PATTERN.test(value)) {
    return {
      property,
      reason:
        `${property} must be 1-64 letters, digits, "_" or "-", starting with a letter or digit ` +
        `(${CHURCH_ID_PATTERN.source}), got ${JSON.stringify(value)}`,
    };
  }
  return undefined;
}

function checkText(property: string, value: unknown, maxLength: number): RuleFailure | undefined {
  if (typeof value !== 'string' || value.trim() === '' || value.length > maxLength) {
    return {
      property,
      reason: `${property} must be a non-blank string of at most ${maxLength} characters, got ${JSON.stringify(value)}`,
    };
  }
  return undefined;
}

/** Every rule the table enforces, checked up front so the caller gets all failures by field name at once. */
export function checkChurchUpsert(input: ChurchUpsert, existing: Church | undefined): RuleFailure[] {
  const failures: (RuleFailure | undefined)[] = [checkChurchId('churchId', input.churchId)];
  if (input.name !== undefined) failures.push(checkText('name', input.name, 200));
  if (input.plan !== undefined) failures.push(checkText('plan', input.plan, 200));
  if (input.areaCode !== undefined) failures.push(checkAreaCode('areaCode', input.areaCode));
  if (input.requestedNumber !== undefined)
    failures.push(checkOrderableNumber('requestedNumber', input.requestedNumber));
  if (input.stripeCustomerId !== undefined) failures.push(checkText('stripeCustomerId', input.stripeCustomerId, 255));
  if (input.stripeSubscriptionId !== undefined)
    failures.push(checkText('stripeSubscriptionId', input.stripeSubscriptionId, 255));
  if (!existing) {
    if (input.plan === undefined)
      failures.push({ property: 'plan', reason: `plan is required to add church ${input.churchId} to the registry` });
    if (input.areaCode === undefined && input.requestedNumber === undefined) {
      failures.push({
        property: 'areaCode',
        reason:
          `areaCode (or requestedNumber) is required to add ` +
          `church ${input.churchId}: there is nothing to order a number by`,
      });
    }
  }
  return failures.filter((f): f is RuleFailure => f !== undefined);
}

interface ChurchRow {
  church_id: string;
  name: string;
  area_code: string | null;
  requested_number: string | null;
  number_hold?: string | null;
  plan: string;
  status: ChurchStatus;
  stripe_customer_id: string | null;
  stripe_subscription_id: string | null;
  parked_at?: Date | null;
  quarantine_until?: Date | null;
  shard?: number | null;
  lifecycle_at: Date | null;
  grace_until: Date | null;
  created_at: Date;
  updated_at: Date;
}

function toChurch(row: ChurchRow): Church {
  return {
    churchId: row.church_id,
    name: row.name,
    areaCode: row.area_code,
    requestedNumber: row.requested_number,
    numberHold: row.number_hold ?? null,
    plan: row.plan,
    status: row.status,
    stripeCustomerId: row.stripe_customer_id,
    stripeSubscriptionId: row.stripe_subscription_id,
    lifecycleAt: row.lifecycle_at ?? null,
    graceUntil: row.grace_until ?? null,
    parkedAt: row.parked_at ?? null,
    quarantineUntil: row.quarantine_until ?? null,
    shard: row.shard ?? null,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export async function getChurch(
  db: Queryable,
  churchId: string,
  options: { forUpdate?: boolean } = {},
): Promise<Church | undefined> {
  const { rows } = await db.query<ChurchRow>(
    `select * from churches where church_id = $1${options.forUpdate ? ' for update' : ''}`,
    [churchId],
  );
  return rows[0] ? toChurch(rows[0]) : undefined;
}

export async function findChurchBySubscription(
  db: Queryable,
  stripeSubscriptionId: string,
): Promise<Church | undefined> {
  const { rows } = await db.query<ChurchRow>('select * from churches where stripe_subscription_id = $1', [
    stripeSubscriptionId,
  ]);
  return rows[0] ? toChurch(rows[0]) : undefined;
}

/**
 * Every church, ordered by id; the Pulumi program reads this (optionally only some statuses, or only one stack's:
 * `shard` null is the base stack's churches, a number that shard's).
 */
export async function listChurches(
  db: Queryable,
  options: { statuses?: readonly ChurchStatus[]; shard?: number | null; churchIds?: readonly string[] } = {},
): Promise<Church[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  if (options.statuses) {
    params.push(options.statuses);
    where.push(`status = any($${params.length}::text[])`);
  }
  if (options.churchIds) {
    params.push(options.churchIds);
    where.push(`church_id = any($${params.length}::text[])`);
  }
  if (options.shard === null) where.push('shard is null');
  else if (options.shard !== undefined) {
    params.push(options.shard);
    where.push(`shard = $${params.length}`);
  }
  const { rows } = await db.query<ChurchRow>(
    `select * from churches${where.length ? ` where ${where.join(' and ')}` : ''} order by church_id`,
    params,
  );
  return rows.map(toChurch);
}

/** The fields the Pulumi program reads: a change in one of them needs a stack run (a new plan name does not). */
const PROVISIONING_FIELDS = ['name', 'areaCode', 'requestedNumber', 'status'] as const;

/**
 * Adds the church or merges what is known into its row; idempotent (the same input twice changes nothing the
 * second time). Checks every field first and throws RegistryInputError naming them, so nothing is half-written.
 * Run it inside a transaction when it must commit together with other writes.
 */
/** $1..$7 of both statements below: absent fields are null, so the update keeps what is stored. */
function churchParameters(input: ChurchUpsert): Array<string | null> {
  return [
    input.churchId,
    input.name ?? null,
    input.areaCode ?? null,
    input.requestedNumber ?? null,
    input.plan ?? null,
    input.stripeCustomerId ?? null,
    input.stripeSubscriptionId ?? null,
  ];
}

export async function upsertChurch(db: Queryable, input: ChurchUpsert): Promise<UpsertResult> {
  let existing = await getChurch(db, input.churchId, { forUpdate: true });
  const failures = checkChurchUpsert(input, existing);
  if (failures.length) throw new RegistryInputError(failures);
  if (!existing) {
    // A concurrent upsert of the same new church may win the insert; then this one merges into its row.
    const { rows } = await db.query<ChurchRow>(
      `insert into churches (church_id, name, area_code, requested_number, plan, stripe_customer_id, ` +
        `stripe_subscription_id, number_hold)
       values ($1, coalesce($2, $1), $3, $4, $5, $6, $7, $8)
       on conflict (church_id) do nothing
       returning *`,
      [...churchParameters(input), input.numberHold ?? null],
    );
    if (rows[0]) {
      // Its shard is written now, once (registry/fleet-layout.ts): the stack its line will be in.
      const shard = await assignShard(db, input.churchId);
      return { church: { ...toChurch(rows[0]), shard }, created: true, changed: true };
    }
    existing = await getChurch(db, input.churchId, { forUpdate: true });
    if (!existing) throw new Error(`church ${input.churchId} was deleted while being added`);
  }
  // An update, not insert-on-conflict: PostgreSQL checks the proposed insert row first, and an event that carries
  // no area code would fail "area code or number" for a church that has one.
  const { rows } = await db.query<ChurchRow>(
    `update churches set
       name = coalesce($2, name),
       area_code = coalesce($3, area_code),
       requested_number = coalesce($4, requested_number),
       plan = coalesce($5, plan),
       stripe_customer_id = coalesce($6, stripe_customer_id),
       stripe_subscription_id = coalesce($7, stripe_subscription_id),
       status = case when $8 then 'active' else status end,
       number_hold = case when $4 is null then number_hold else $9 end,
       parked_at = case when $8 then null else parked_at end,
       quarantine_until = case when $8 then null else quarantine_until end
     where church_id = $1
     returning *`,
    [...churchParameters(input), input.activate, input.numberHold ?? null],
  );
  const church = toChurch(rows[0]);
  const before = existing;
  const changed = PROVISIONING_FIELDS.some((field) => before[field] !== church[field]);
  return { church, created: false, changed };
}

export interface StatusChange {
  church: Church;
  /** False when the church already had the target status (a replayed request). */
  changed: boolean;
}

/**
 * Starts parking a live (active or past_due) church: status `parking`, the quarantine counted from `parkedAt`.
 * A church in any other status is left as it is (`changed: false`).
 */
export async function startParking(
  db: Queryable,
  churchId: string,
  options: { parkedAt: Date; quarantineUntil: Date; stripeSubscriptionId?: string },
): Promise<StatusChange> {
  const church = await getChurch(db, churchId, { forUpdate: true });
  if (!church) throw new ChurchNotFoundError(churchId);
  if (church.status !== 'active' && church.status !== 'past_due') return { church, changed: false };
  const { rows } = await db.query<ChurchRow>(
    `update churches set status = 'parking', grace_until = null, parked_at = $2, quarantine_until = $3,
       quarantine_reminded_at = null,
       stripe_subscription_id = coalesce(stripe_subscription_id, $4)
     where church_id = $1 returning *`,
    [churchId, options.parkedAt, options.quarantineUntil, options.stripeSubscriptionId ?? null],
  );
  return { church: toChurch(rows[0]), changed: true };
}

/**
 * Phase 2 of parking: the state records the trunk's and rule's removal, so the program may now leave them out and
 * the next run deletes them. Only a church in phase 1 moves on.
 */
export async function markParked(db: Queryable, churchId: string): Promise<StatusChange> {
  const church = await getChurch(db, churchId, { forUpdate: true });
  if (!church) throw new ChurchNotFoundError(churchId);
  if (church.status !== 'parking') return { church, changed: false };
  const { rows } = await db.query<ChurchRow>(
    `update churches set status = 'parked' where church_id = $1 and status = 'parking' returning *`,
    [churchId],
  );
  await recordTimeline(db, {
    churchId,
    kind: 'parked',
    fromStatus: 'parking',
    toStatus: 'parked',
    actor: 'service',
    detail:
      'the number answers with the fallback message; the trunk and dispatch rule are removed by the next run; ' +
      `the number is kept until ${church.quarantineUntil?.toISOString() ?? 'the founder decommissions it'}`,
  });
  return { church: toChurch(rows[0]), changed: true };
}

/**
 * The founder asks for the church's line to be released. Phase 1 of a decommission: the next stack run still
 * declares the church, with `decommission: true` on every resource, which records that their deletes are allowed.
 * `reopen` brings a church marked `decommissioned` back to this phase (its resources were found without the
 * decommission recorded, so phase 1 must run again before anything can be deleted).
 */
export async function requestDecommission(
  db: Queryable,
  churchId: string,
  options: { reopen?: boolean } = {},
): Promise<StatusChange> {
  const church = await getChurch(db, churchId, { forUpdate: true });
  if (!church) throw new ChurchNotFoundError(churchId);
  if (church.status === 'decommission' || (church.status === 'decommissioned' && !options.reopen))
    return { church, changed: false };
  // Parking's first run recorded the trunk's and rule's removal only once the church is `parked`; a decommission
  // started in between would leave them out unrecorded, and their deletes would be refused for good.
  if (church.status === 'parking') {
    throw new RegistryInputError([
      {
        property: 'status',
        reason:
          `church ${churchId} is being parked (its trunk and rule are being removed): ` +
          'decommission it once it is parked, a minute or two from now',
      },
    ]);
  }
  const { rows } = await db.query<ChurchRow>(
    `update churches set status = 'decommission' where church_id = $1 returning *`,
    [churchId],
  );
  await recordTimeline(db, {
    churchId,
    kind: 'decommission-requested',
    fromStatus: church.status,
    toStatus: 'decommission',
    actor: 'founder',
    cause: 'churchwise church decommission',
  });
  return { church: toChurch(rows[0]), changed: true };
}

/**
 * Phase 2 of a decommission: every resource of the church carries `decommission: true` in the stack's state, so
 * the program may now leave the church out and the next run deletes its number, trunk, rule and row.
 * Only a church in phase 1 (`decommission`) moves on; a replay on `decommissioned` changes nothing.
 */
export async function markDecommissioned(db: Queryable, churchId: string): Promise<StatusChange> {
  const church = await getChurch(db, churchId, { forUpdate: true });
  if (!church) throw new ChurchNotFoundError(churchId);
  if (church.status === 'decommissioned') return { church, changed: false };
  if (church.status !== 'decommission') {
    throw new RegistryInputError([
      {
        property: 'status',
        reason:
          `church ${churchId} is ${church.status}: only a church marked for ` +
          `decommission (status decommission) can be marked decommissioned`,
      },
    ]);
  }
  const { rows } = await db.query<ChurchRow>(
    `update churches set status = 'decommissioned' where church_id = $1 returning *`,
    [churchId],
  );
  await recordTimeline(db, {
    churchId,
    kind: 'decommissioned',
    fromStatus: 'decommission',
    toStatus: 'decommissioned',
    actor: 'founder',
    cause: 'churchwise church decommission',
    detail: 'the decommission is recorded on every resource: the next run releases the number, trunk, rule and row',
  });
  return { church: toChurch(rows[0]), changed: true };
}

/**
 * Stores what registry/subscription-lifecycle.ts decided for a church: its status, the grace period of a payment
 * problem (cleared by any other status), the parking (cleared when the church is live again), and, for the newest
 * event, that event's `created` time.
 */
export async function applyLifecycle(
  db: Queryable,
  churchId: string,
  change: { toStatus: ChurchStatus; graceUntil?: Date; eventCreated?: Date },
): Promise<Church> {
  const { rows } = await db.query<ChurchRow>(
    `update churches set status = $2,
       grace_until = case when $2 = 'past_due' then coalesce($3, grace_until) else null end,
       parked_at = case when $2 in ('active', 'past_due') then null else parked_at end,
       quarantine_until = case when $2 in ('active', 'past_due') then null else quarantine_until end,
       lifecycle_at = greatest(lifecycle_at, $4)
     where church_id = $1 returning *`,
    [churchId, change.toStatus, change.graceUntil ?? null, change.eventCreated ?? null],
  );
  if (!rows[0]) throw new ChurchNotFoundError(churchId);
  return toChurch(rows[0]);
}

/** Churches the clock has something for at `now`: a grace period or a quarantine that ran out. */
export async function churchesDueByClock(db: Queryable, now: Date): Promise<Church[]> {
  const { rows } = await db.query<ChurchRow>(
    `select * from churches
      where (status = 'past_due' and grace_until <= $1)
         or (status = 'parked' and quarantine_until <= $1
             and (quarantine_reminded_at is null or quarantine_reminded_at < quarantine_until))
      order by church_id`,
    [now],
  );
  return rows.map(toChurch);
}
