import * as pulumi from '@pulumi/pulumi';
import { containsUnknown, sameField } from './resource-inputs';
import { projectProvider } from './dynamic-provider';
import {
  US_LOCAL_PATTERN,
  checkAreaCode,
  checkE164,
  checkOrderableNumber,
  isFictional555,
  type RuleFailure,
} from '../common/phone-numbers';
import { configureFromStack, telnyxSettings } from '../vendors/vendor-settings';
import { accountKey, readThroughList } from './shared-reads';
import {
  telnyxClientFromSettings,
  type AvailableNumber,
  type NumberOrder,
  type PhoneNumberChanges,
  type PhoneNumberRecord,
  type TelnyxClient,
} from '../vendors/telnyx-client';
import { VendorError } from '../vendors/vendor-request';
import {
  AdoptionMismatchError,
  AmbiguousHeldNumbersError,
  DeletionLockError,
  NotDecommissionedError,
  NothingToAdoptError,
  NumberUnavailableError,
  UnknownConnectionError,
  type AdoptionDifference,
} from './refusals';
import { changedByHand, formatValue, resourceKind } from './resource-kind';
import { sleep } from '../common/timing';
import { rankNumbers } from '../common/number-choice';

/**
 * A church's Telnyx phone number: the resource that spends money and holds a customer's line.
 *
 * - Buying is idempotent by `customerReference` (the church id): create first looks for a number or an order
 *   already carrying it, so a retry after a crash or a timeout right after `POST /number_orders` reuses what the
 *   first attempt bought instead of buying a second number.
 * - A church keeps its number: `areaCode` only matters for a new purchase; only an explicit different
 *   `phoneNumber` or `adoptId` replaces, and the old number is still released only with `decommission: true`.
 */

export type ConnectionKind = 'fqdn' | 'texml-application';
const CONNECTION_KINDS: readonly ConnectionKind[] = ['fqdn', 'texml-application'];

export interface TelnyxPhoneNumberInputs {
  /** Area code (NPA) of a new purchase. Ignored once the church has a number. */
  areaCode?: string;
  /** An exact E.164 number to buy (with an adoptId: the number being adopted, as a cross-check). */
  phoneNumber?: string;
  /**
   * With `phoneNumber`: when that number can no longer be bought (a pastor's hold lapsed and someone took it), buy
   * the easiest to remember number left in its area code instead of failing. Only ever one number is bought.
   */
  substituteInAreaCode?: boolean;
  /** A number the account already holds (its id or E.164): create verifies it and buys nothing. */
  adoptId?: string;
  /** FQDN connection the number answers on. Filled from settings by check when absent. */
  connectionId: string;
  /**
   * What `connectionId` names: the FQDN connection (default), or, for a parked line only, the fallback TeXML
   * application. A number is never bought onto a TeXML application: parking moves a number the church holds.
   */
  connectionKind?: ConnectionKind;
  /** The church id; also what makes buying idempotent. */
  customerReference: string;
  tags?: string[];
  /** The only thing that lets delete release the number. */
  decommission?: boolean;
  /** How long create waits for Telnyx to complete the order. */
  orderTimeoutSeconds?: number;
}

export interface TelnyxPhoneNumberOutputs extends TelnyxPhoneNumberInputs {
  /** The number the church holds, E.164. */
  phoneNumber: string;
  /** Id of `/phone_numbers/{id}`; also the resource id. */
  phoneNumberId: string;
  /** The order that bought it (absent for an adopted number). */
  orderId?: string;
  /** The number asked for, when it was gone and `phoneNumber` is its substitute (see `substituteInAreaCode`). */
  substituteFor?: string;
  /** Live values from Telnyx (refresh shows drift against the inputs). */
  connectionId: string;
  customerReference: string;
  status: string;
  tags: string[];
  deletionLockEnabled: boolean;
}

export const DEFAULT_ORDER_TIMEOUT_SECONDS = 120;
const MAX_ORDER_TIMEOUT_SECONDS = 3600;
/** Statuses of a number the account holds and can route (or soon will). */
const HELD_STATUSES = new Set(['active', 'purchase-pending']);
const SEARCH_LIMIT = 20;
const TELNYX_ID_PATTERN = /^\d+$/;

function checkCustomerReference(value: unknown): RuleFailure | undefined {
  if (typeof value !== 'string' || value.trim() === '' || value.trim() !== value) {
    return {
      property: 'customerReference',
      reason:
        `customerReference is required: the church id, a non-empty string without surrounding spaces ` +
        `(it makes buying idempotent), got ${JSON.stringify(value)}`,
    };
  }
  return undefined;
}

function checkAdoptId(value: unknown): RuleFailure | undefined {
  if (typeof value === 'string' && TELNYX_ID_PATTERN.test(value)) return undefined;
  if (typeof value === 'string' && value.startsWith('+')) return checkE164('adoptId', value);
  return {
    property: 'adoptId',
    reason:
      `adoptId must be a Telnyx phone number id (digits) or an E.164 number with a leading "+", ` +
      `got ${JSON.stringify(value)}`,
  };
}

/** Pure validation; the provider's check fills `connectionId` from settings first. */
export function checkTelnyxPhoneNumber(
  _olds: Partial<TelnyxPhoneNumberInputs>,
  news: Partial<TelnyxPhoneNumberInputs>,
): pulumi.dynamic.CheckResult<TelnyxPhoneNumberInputs> {
  const failures: RuleFailure[] = [];
  const add = (failure: RuleFailure | undefined) => failure && failures.push(failure);
  const given = (value: unknown) => value !== undefined && value !== null && value !== '';

  if (!containsUnknown(news.customerReference)) add(checkCustomerReference(news.customerReference));
  if (news.connectionKind !== undefined && !containsUnknown(news.connectionKind)) {
    if (!CONNECTION_KINDS.includes(news.connectionKind)) {
      add({
        property: 'connectionKind',
        reason:
          `connectionKind must be one of ${CONNECTION_KINDS.join(', ')}, ` +
          `got ${JSON.stringify(news.connectionKind)}`,
      });
    } else if (news.connectionKind === 'texml-application' && _olds.customerReference === undefined) {
      add({
        property: 'connectionKind',
        reason:
          'connectionKind texml-application only parks a number the church already holds: a new number is bought ' +
          'onto the FQDN connection, never onto a TeXML application',
      });
    }
  }

  if (given(news.adoptId)) {
    if (!containsUnknown(news.adoptId)) add(checkAdoptId(news.adoptId));
    if (given(news.areaCode)) {
      add({
        property: 'areaCode',
        reason:
          'areaCode cannot be combined with adoptId: an area code only applies to a new purchase, ' +
          'an adopted number keeps its own',
      });
    }
    if (given(news.phoneNumber) && !containsUnknown(news.phoneNumber)) {
      const failure = checkE164('phoneNumber', news.phoneNumber);
      add(failure);
      if (!failure && news.adoptId!.startsWith('+') && news.adoptId !== news.phoneNumber) {
        add({
          property: 'phoneNumber',
          reason:
            `phoneNumber ${news.phoneNumber} and adoptId ${news.adoptId} name different numbers: with adoptId, ` +
            `phoneNumber may only repeat the adopted number`,
        });
      }
    }
  } else if (given(news.areaCode) && given(news.phoneNumber)) {
    add({
      property: 'phoneNumber',
      reason: 'set either areaCode (buy a new local number there) or phoneNumber (buy exactly this number), not both',
    });
  } else if (given(news.areaCode)) {
    if (!containsUnknown(news.areaCode)) add(checkAreaCode('areaCode', news.areaCode));
  } else if (given(news.phoneNumber)) {
    if (!containsUnknown(news.phoneNumber)) add(checkOrderableNumber('phoneNumber', news.phoneNumber));
  } else {
    add({
      property: 'areaCode',
      reason:
        'set one of areaCode (buy a new local number in that area code), phoneNumber (buy exactly this number) ' +
        'or adoptId (adopt a number the account already holds)',
    });
  }

  if (
    !containsUnknown(news.connectionId) &&
    (typeof news.connectionId !== 'string' || !TELNYX_ID_PATTERN.test(news.connectionId))
  ) {
    add({
      property: 'connectionId',
      reason:
        `connectionId must be a Telnyx FQDN connection id (digits, e.g. 2925216093662349036), ` +
        `got ${JSON.stringify(news.connectionId)}`,
    });
  }
  if (news.tags !== undefined && !containsUnknown(news.tags)) {
    if (!Array.isArray(news.tags) || news.tags.some((tag) => typeof tag !== 'string' || tag.trim() === '')) {
      add({ property: 'tags', reason: `tags must be a list of non-empty strings, got ${JSON.stringify(news.tags)}` });
    }
  }
  if (
    news.decommission !== undefined &&
    typeof news.decommission !== 'boolean' &&
    !containsUnknown(news.decommission)
  ) {
    add({
      property: 'decommission',
      reason: `decommission must be true or false, got ${JSON.stringify(news.decommission)}`,
    });
  }
  const timeout = news.orderTimeoutSeconds;
  if (timeout !== undefined && !containsUnknown(timeout)) {
    if (
      typeof timeout !== 'number' ||
      !Number.isInteger(timeout) ||
      timeout < 1 ||
      timeout > MAX_ORDER_TIMEOUT_SECONDS
    ) {
      add({
        property: 'orderTimeoutSeconds',
        reason:
          `orderTimeoutSeconds must be a whole number of seconds from 1 to ${MAX_ORDER_TIMEOUT_SECONDS}, ` +
          `got ${JSON.stringify(timeout)}`,
      });
    }
  }
  return { inputs: news as TelnyxPhoneNumberInputs, failures };
}

/** Whether an adoptId names the number a resource already holds (by id or by E.164). */
function namesHeldNumber(adoptId: string, olds: TelnyxPhoneNumberOutputs): boolean {
  return adoptId === olds.phoneNumberId || adoptId === olds.phoneNumber;
}

/**
 * Input changes that are recorded without touching Telnyx, worded for the operator. They show in a preview as an
 * update, and the provider logs these lines so nobody expects a new number.
 */
export function recordOnlyChanges(olds: TelnyxPhoneNumberOutputs, news: TelnyxPhoneNumberInputs): string[] {
  const notes: string[] = [];
  const holds = `${olds.phoneNumber} (church ${olds.customerReference})`;
  if (news.areaCode !== olds.areaCode && news.areaCode !== undefined) {
    notes.push(
      `areaCode ${olds.areaCode ?? '(none)'} -> ${news.areaCode}: ${holds} keeps its number; ` +
        `an area code only applies to a new purchase`,
    );
  }
  if (news.adoptId !== olds.adoptId && (news.adoptId === undefined || namesHeldNumber(news.adoptId, olds))) {
    notes.push(
      `adoptId ${olds.adoptId ?? '(none)'} -> ${news.adoptId ?? '(none)'}: recorded only, ${holds} is unchanged`,
    );
  }
  if (news.orderTimeoutSeconds !== olds.orderTimeoutSeconds) {
    notes.push(
      `orderTimeoutSeconds -> ${news.orderTimeoutSeconds ?? DEFAULT_ORDER_TIMEOUT_SECONDS}: ` +
        `only used by a new purchase`,
    );
  }
  if ((news.decommission ?? false) !== (olds.decommission ?? false)) {
    notes.push(
      news.decommission
        ? `decommission set: ${holds} will be RELEASED when this resource is deleted`
        : `decommission cleared: ${holds} can no longer be released by a delete`,
    );
  }
  return notes;
}

/** What update must PATCH at Telnyx (empty when the change is record-only). */
export function vendorChanges(olds: TelnyxPhoneNumberOutputs, news: TelnyxPhoneNumberInputs): PhoneNumberChanges {
  const changes: PhoneNumberChanges = {};
  if (news.connectionId !== olds.connectionId) changes.connection_id = news.connectionId;
  if (news.customerReference !== olds.customerReference) changes.customer_reference = news.customerReference;
  if (news.tags !== undefined && !sameField('set', news.tags, olds.tags)) changes.tags = news.tags;
  return changes;
}

/**
 * A church keeps its number. Only an explicit different `phoneNumber` or `adoptId` replaces (create before delete,
 * and the old number's delete still needs its decommission). Connection, tags and customer reference are updated in
 * place; every other input change is recorded only (see recordOnlyChanges).
 */
export function diffTelnyxPhoneNumber(
  _id: string,
  olds: TelnyxPhoneNumberOutputs,
  news: TelnyxPhoneNumberInputs,
): pulumi.dynamic.DiffResult {
  const replaces: string[] = [];
  // A substitute stands for the number asked for: asking for that number again is not asking for a new number.
  const askedFor = news.phoneNumber !== undefined && news.phoneNumber === olds.substituteFor;
  if (news.phoneNumber !== undefined && news.phoneNumber !== olds.phoneNumber && !askedFor)
    replaces.push('phoneNumber');
  if (news.adoptId !== undefined && news.adoptId !== olds.adoptId && !namesHeldNumber(news.adoptId, olds)) {
    replaces.push('adoptId');
  }
  const inPlace = Object.keys(vendorChanges(olds, news)).length > 0;
  const recorded = recordOnlyChanges(olds, news).length > 0;
  return {
    changes: replaces.length > 0 || inPlace || recorded,
    replaces,
    stables: replaces.length > 0 ? [] : ['phoneNumber', 'phoneNumberId', 'orderId'],
    deleteBeforeReplace: false,
  };
}

/** Search results a purchase may order: exact matches in the area code, never a 555 number. */
/** How many different numbers one create may try when each was taken between search and order. */
const ORDER_CANDIDATES = 3;

/** Telnyx refused an order for a number that is no longer available (422): nothing was bought. */
class NumberTakenError extends Error {}

export function orderableNumbers(found: readonly AvailableNumber[], areaCode: string): AvailableNumber[] {
  return found.filter(
    (candidate) =>
      !candidate.bestEffort &&
      candidate.phoneNumber.startsWith(`+1${areaCode}`) &&
      US_LOCAL_PATTERN.test(candidate.phoneNumber) &&
      !isFictional555(candidate.phoneNumber),
  );
}

/** A way an existing number differs from the program, with the words the founder reads. */
type NumberAdoptionDifference = AdoptionDifference & { reason: string };

/** How an existing number differs from the program, field by field (adoption changes nothing at Telnyx). */
function adoptionDifferences(inputs: TelnyxPhoneNumberInputs, record: PhoneNumberRecord): NumberAdoptionDifference[] {
  const differences: NumberAdoptionDifference[] = [];
  const differ = (field: string, holderHas: unknown, programSays: unknown, reason: string) =>
    differences.push({ field, holderHas, programSays, reason });
  if (record.status !== 'active') {
    differ('status', record.status, 'active', `status is ${record.status}, only an active number can be adopted`);
  }
  if (inputs.phoneNumber !== undefined && record.phoneNumber !== inputs.phoneNumber) {
    differ(
      'phoneNumber',
      record.phoneNumber,
      inputs.phoneNumber,
      `it is ${record.phoneNumber}, not phoneNumber ${inputs.phoneNumber}`,
    );
  }
  if (record.connectionId !== inputs.connectionId) {
    differ(
      'connectionId',
      record.connectionId,
      inputs.connectionId,
      `connection_id is ${record.connectionId ?? '(none)'}, want connectionId ${inputs.connectionId}`,
    );
  }
  if (record.customerReference !== inputs.customerReference) {
    differ(
      'customerReference',
      record.customerReference,
      inputs.customerReference,
      `customer_reference is ${record.customerReference ?? '(none)'}, ` +
        `want customerReference ${inputs.customerReference}`,
    );
  }
  if (inputs.tags !== undefined && !sameField('set', inputs.tags, record.tags)) {
    differ('tags', record.tags, inputs.tags, `tags are [${record.tags.join(', ')}], want [${inputs.tags.join(', ')}]`);
  }
  return differences;
}

/** Why an existing number cannot be adopted as is (adoption changes nothing at Telnyx). */
export function adoptionMismatches(inputs: TelnyxPhoneNumberInputs, record: PhoneNumberRecord): string[] {
  return adoptionDifferences(inputs, record).map((difference) => difference.reason);
}

/** Outputs carry no undefined: the engine's struct encoding refuses them. */
function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

function outputsFor(
  inputs: TelnyxPhoneNumberInputs,
  record: PhoneNumberRecord,
  orderId?: string,
): TelnyxPhoneNumberOutputs {
  return withoutUndefined({
    ...inputs,
    phoneNumber: record.phoneNumber,
    phoneNumberId: record.id,
    orderId,
    connectionId: record.connectionId ?? '',
    customerReference: record.customerReference ?? '',
    status: record.status,
    tags: record.tags,
    deletionLockEnabled: record.deletionLockEnabled,
  });
}

const churchLabel = (inputs: { customerReference: string }) => `church ${inputs.customerReference}`;

/** Polls `probe` with growing pauses until it returns a value or the deadline passes (then undefined). */
async function pollUntil<T>(deadline: number, probe: () => Promise<T | undefined>): Promise<T | undefined> {
  for (let pause = 250; ; pause = Math.min(pause * 2, 5000)) {
    const value = await probe();
    if (value !== undefined) return value;
    const left = deadline - Date.now();
    if (left <= 0) return undefined;
    await sleep(Math.min(pause, left));
  }
}

/**
 * Rejection that tells the engine the number WAS bought but is not ready: the engine keeps it in the state (instead
 * of leaking a paid number) and the next `up` updates it.
 */
class BoughtButNotReady extends Error {
  readonly id: string;
  readonly properties: TelnyxPhoneNumberOutputs;
  readonly reasons: string[];

  constructor(outputs: TelnyxPhoneNumberOutputs, reason: string) {
    super(`${outputs.phoneNumber} was bought for ${churchLabel(outputs)} but is not ready: ${reason}`);
    this.id = outputs.phoneNumberId;
    this.properties = outputs;
    // The engine shows only the reasons of an init failure: make them say that the number WAS bought.
    this.reasons = [this.message];
  }
}

/** One create: the client, the inputs and the order deadline. */
class Purchase {
  readonly deadline: number;
  /** Set when the number asked for was gone and a substitute is bought instead. */
  substituteFor?: string;

  constructor(
    readonly client: TelnyxClient,
    readonly inputs: TelnyxPhoneNumberInputs,
  ) {
    this.deadline = Date.now() + (inputs.orderTimeoutSeconds ?? DEFAULT_ORDER_TIMEOUT_SECONDS) * 1000;
  }

  get label(): string {
    return churchLabel(this.inputs);
  }

  async run(): Promise<pulumi.dynamic.CreateResult<TelnyxPhoneNumberOutputs>> {
    // Read-only look-ups side by side (each is a round trip to Telnyx). Nothing is ordered before both answered,
    // and the connection's answer is still judged first.
    const earlierPurchase = this.findEarlierPurchase();
    earlierPurchase.catch(() => undefined); // judged below, after the connection
    await this.requireConnection();
    const earlier = await earlierPurchase;
    if (earlier?.record) return this.finish(earlier.record, earlier.order?.id);
    if (earlier?.order) {
      await pulumi.log.info(`${this.label}: resuming order ${earlier.order.id} placed earlier`);
      return this.complete(earlier.order);
    }
    const candidates = await this.chooseNumbers();
    for (const [index, chosen] of candidates.entries()) {
      await pulumi.log.info(`${this.label}: ordering ${chosen.phoneNumber} on connection ${this.inputs.connectionId}`);
      try {
        return await this.complete(await this.placeOrder(chosen.phoneNumber));
      } catch (error) {
        // Another buyer (often the church next to this one in the same `up`) took the number between search and
        // order. Telnyx refused the order, so nothing was bought: the next candidate is safe to order.
        const last = index === candidates.length - 1;
        if (!(error instanceof NumberTakenError) || last) throw error;
        await pulumi.log.info(`${this.label}: ${chosen.phoneNumber} was taken meanwhile; trying another`);
      }
    }
    throw new Error(`no number could be ordered for ${this.label}`);
  }

  /** The connection must exist before anything is bought; a number is never put on a new connection. */
  private async requireConnection(): Promise<void> {
    try {
      await this.client.getFqdnConnection(this.inputs.connectionId);
    } catch (error) {
      if (error instanceof VendorError && error.notFound) {
        throw new UnknownConnectionError(this.inputs.connectionId, error.message);
      }
      throw error;
    }
  }

  /**
   * What an earlier attempt for this church already bought or ordered. Numbers first (the common case), then
   * orders: a pending one, or a successful one whose number the account still holds.
   */
  private async findEarlierPurchase(): Promise<{ record?: PhoneNumberRecord; order?: NumberOrder } | undefined> {
    // With substitution the church may already hold (or have ordered) the substitute, not the number it asked for:
    // any number of its own in that area code is the earlier purchase, never a reason to buy again.
    const substituting = this.inputs.substituteInAreaCode === true && this.inputs.phoneNumber !== undefined;
    const wanted = substituting ? undefined : this.inputs.phoneNumber;
    const sameArea = substituting ? `+1${this.inputs.phoneNumber!.slice(2, 5)}` : undefined;
    const customerReference = this.inputs.customerReference;
    // The orders are only needed when no active number is held, which is the usual case (a first purchase): they
    // are listed alongside the numbers instead of after them, and their answer is ignored when not needed.
    const placedOrders = this.client.listNumberOrders({ customerReference });
    placedOrders.catch(() => undefined); // awaited below only when the orders matter
    const held = (await this.client.listPhoneNumbers({ customerReference })).filter(
      (record) =>
        HELD_STATUSES.has(record.status) &&
        (wanted === undefined || record.phoneNumber === wanted) &&
        (sameArea === undefined || record.phoneNumber.startsWith(sameArea)),
    );
    if (held.length > 1) {
      throw new AmbiguousHeldNumbersError(
        customerReference,
        held.map((r) => ({ phoneNumber: r.phoneNumber, id: r.id })),
      );
    }
    const heldRecord = held[0];
    if (heldRecord && this.inputs.areaCode && !heldRecord.phoneNumber.startsWith(`+1${this.inputs.areaCode}`)) {
      await pulumi.log.warn(
        `${this.label} already holds ${heldRecord.phoneNumber}; ` +
          `keeping it (areaCode ${this.inputs.areaCode} only applies to a new purchase)`,
      );
    }
    if (heldRecord && substituting && heldRecord.phoneNumber !== this.inputs.phoneNumber)
      this.substituteFor = this.inputs.phoneNumber;
    if (heldRecord?.status === 'active') {
      await pulumi.log.info(`${this.label}: reusing ${heldRecord.phoneNumber} bought earlier (id ${heldRecord.id})`);
      return { record: heldRecord };
    }

    const orders = (await placedOrders)
      .filter((order) => order.status !== 'failure')
      .filter((order) => {
        const wantedHere = heldRecord?.phoneNumber ?? wanted;
        if (wantedHere !== undefined) return order.phoneNumbers.some((line) => line.phoneNumber === wantedHere);
        return sameArea === undefined || order.phoneNumbers.some((line) => line.phoneNumber.startsWith(sameArea));
      })
      .sort((a, b) => (b.createdAt ?? '').localeCompare(a.createdAt ?? ''));
    const standsIn = (numbers: string[]) => {
      if (substituting && !numbers.includes(this.inputs.phoneNumber!)) this.substituteFor = this.inputs.phoneNumber;
    };
    for (const order of orders) {
      // A number still purchase-pending is finished by waiting for its order.
      if (order.status === 'pending') {
        standsIn(order.phoneNumbers.map((line) => line.phoneNumber));
        return { order };
      }
      for (const line of order.phoneNumbers) {
        const record = await this.client.findPhoneNumber(line.phoneNumber);
        const ours = record?.customerReference == null || record.customerReference === this.inputs.customerReference;
        if (record && HELD_STATUSES.has(record.status) && ours) {
          await pulumi.log.info(`${this.label}: reusing ${record.phoneNumber} from order ${order.id}`);
          standsIn([record.phoneNumber]);
          return { record, order };
        }
      }
    }
    return heldRecord ? { record: heldRecord } : undefined;
  }

  /** Candidates in the order to try: the exact number alone, or up to ORDER_CANDIDATES from a random start. */
  private async chooseNumbers(): Promise<AvailableNumber[]> {
    const exact = this.inputs.phoneNumber;
    if (exact !== undefined) {
      const areaCode = exact.slice(2, 5);
      const found = await this.client.searchAvailableLocalNumbers(areaCode, SEARCH_LIMIT, { endsWith: exact.slice(5) });
      const match = orderableNumbers(found, areaCode).find((candidate) => candidate.phoneNumber === exact);
      if (match) return [match];
      const left = this.inputs.substituteInAreaCode
        ? rankNumbers(
            orderableNumbers(
              await this.client.searchLocalNumbers({ areaCode }, { limit: SEARCH_LIMIT, excludeHeld: true }),
              areaCode,
            ),
          )
        : [];
      if (left.length === 0) {
        throw new NumberUnavailableError({ churchId: this.inputs.customerReference, areaCode, phoneNumber: exact });
      }
      this.substituteFor = exact;
      await pulumi.log.warn(
        `${this.label}: ${exact} can no longer be bought (a hold on it lapsed and it was taken); ` +
          `buying the easiest to remember number left in ${areaCode} instead`,
      );
      return left.slice(0, ORDER_CANDIDATES);
    }
    const areaCode = this.inputs.areaCode!;
    // Held numbers are left out: a pastor's hold is on this same account, which Telnyx would let us order.
    const found = await this.client.searchLocalNumbers({ areaCode }, { limit: SEARCH_LIMIT, excludeHeld: true });
    const orderable = orderableNumbers(found, areaCode);
    if (orderable.length === 0) {
      throw new NumberUnavailableError({ churchId: this.inputs.customerReference, areaCode, offered: found.length });
    }
    // Churches provisioned side by side search the same inventory: a random start keeps them off one number.
    const start = Math.floor(Math.random() * orderable.length);
    return [...orderable.slice(start), ...orderable.slice(0, start)].slice(0, ORDER_CANDIDATES);
  }

  /**
   * POST /number_orders is sent once. When its outcome is unknown (transport error, timeout, 5xx) the order may
   * exist, so we look it up by customer reference instead of ordering again.
   */
  private async placeOrder(phoneNumber: string): Promise<NumberOrder> {
    const order = {
      phoneNumber,
      connectionId: this.inputs.connectionId,
      customerReference: this.inputs.customerReference,
    };
    try {
      return await this.client.createNumberOrder(order);
    } catch (error) {
      const outcomeUnknown = error instanceof VendorError && (error.status === undefined || error.status >= 500);
      if (!outcomeUnknown) {
        const message =
          `ordering ${phoneNumber} for ${this.label} failed, ` + `nothing was bought: ${(error as Error).message}`;
        throw error instanceof VendorError && error.status === 422 ? new NumberTakenError(message) : new Error(message);
      }
      const placed = (await this.client.listNumberOrders({ customerReference: this.inputs.customerReference })).find(
        (candidate) =>
          candidate.status !== 'failure' && candidate.phoneNumbers.some((line) => line.phoneNumber === phoneNumber),
      );
      if (placed) return placed;
      throw new Error(
        `ordering ${phoneNumber} for ${this.label} had no clear answer ` +
          `(${(error as Error).message}) and no order with ` +
          `customer_reference ${this.inputs.customerReference} is visible yet. Run pulumi up again: it looks the ` +
          'order up by customer reference before ordering anything',
        { cause: error },
      );
    }
  }

  /** Waits for the order, resolves the real phone-number id, and puts the number on the connection. */
  private async complete(placed: NumberOrder): Promise<pulumi.dynamic.CreateResult<TelnyxPhoneNumberOutputs>> {
    const order = await this.waitForOrder(placed);
    const line = order.phoneNumbers[0];
    if (!line) throw new Error(`Telnyx order ${order.id} for ${this.label} succeeded without a phone number`);
    // The order line's id is not the number's id: the number is looked up by its digits.
    const record = await pollUntil(this.deadline, async () => {
      const found = await this.client.findPhoneNumber(line.phoneNumber);
      return found && found.status !== 'deleted' ? found : undefined;
    });
    if (!record) {
      throw new Error(
        `order ${order.id} bought ${line.phoneNumber} for ${this.label}, but the number is not listed in the account ` +
          `after ${this.timeoutSeconds}s; run pulumi up again to pick it up (it is found by customer reference)`,
      );
    }
    return this.finish(record, order.id);
  }

  private get timeoutSeconds(): number {
    return this.inputs.orderTimeoutSeconds ?? DEFAULT_ORDER_TIMEOUT_SECONDS;
  }

  private async waitForOrder(placed: NumberOrder): Promise<NumberOrder> {
    let polls = 0;
    const order = await pollUntil(this.deadline, async () => {
      const current =
        polls++ === 0 && placed.status !== 'pending' ? placed : await this.client.getNumberOrder(placed.id);
      if (current.status === 'pending' && polls % 5 === 0) {
        await pulumi.log.info(`${this.label}: order ${current.id} still pending`);
      }
      return current.status === 'pending' ? undefined : current;
    });
    if (!order) {
      throw new Error(
        `order ${placed.id} for ${this.label} is still pending after ${this.timeoutSeconds}s (orderTimeoutSeconds); ` +
          'nothing else was ordered. Run pulumi up again to keep waiting: it finds this order by customer reference',
      );
    }
    if (order.status === 'failure') {
      const numbers = order.phoneNumbers.map((line) => `${line.phoneNumber} ${line.status ?? ''}`.trim()).join(', ');
      throw new Error(
        `Telnyx order ${order.id} for ${this.label} failed (${numbers || 'no numbers'}); nothing was bought. ` +
          'Check the order in the Telnyx portal (regulatory requirements, balance), then run pulumi up again',
      );
    }
    return order;
  }

  /** Puts a bought number where the inputs want it; any failure from here on keeps it in the state. */
  private async finish(
    bought: PhoneNumberRecord,
    orderId?: string,
  ): Promise<pulumi.dynamic.CreateResult<TelnyxPhoneNumberOutputs>> {
    let record = bought;
    try {
      const changes = vendorChanges(outputsFor(this.inputs, record), this.inputs);
      if (Object.keys(changes).length > 0) {
        record = await this.client.updatePhoneNumber(record.id, changes);
      }
      if (record.connectionId !== this.inputs.connectionId) {
        throw new Error(
          `its connection is ${record.connectionId ?? '(none)'} after the update, not ${this.inputs.connectionId}`,
        );
      }
      if (record.status !== 'active') {
        record =
          (await pollUntil(this.deadline, async () => {
            const current = await this.client.getPhoneNumber(record.id);
            return current.status === 'active' ? current : undefined;
          })) ?? record;
      }
    } catch (error) {
      const outs = outputsFor(this.inputs, record, orderId);
      throw new BoughtButNotReady(
        this.substituteFor ? { ...outs, substituteFor: this.substituteFor } : outs,
        (error as Error).message,
      );
    }
    if (record.status !== 'active') {
      await pulumi.log.warn(
        `${record.phoneNumber} (${this.label}) is ${record.status}; refresh will show when it is active`,
      );
    }
    await pulumi.log.info(`${this.label}: ${record.phoneNumber} is on connection ${record.connectionId}`);
    const outs = outputsFor(this.inputs, record, orderId);
    return { id: record.id, outs: this.substituteFor ? { ...outs, substituteFor: this.substituteFor } : outs };
  }
}

async function adopt(
  client: TelnyxClient,
  inputs: TelnyxPhoneNumberInputs,
): Promise<pulumi.dynamic.CreateResult<TelnyxPhoneNumberOutputs>> {
  const adoptId = inputs.adoptId!;
  let record: PhoneNumberRecord | undefined;
  if (TELNYX_ID_PATTERN.test(adoptId)) {
    try {
      record = await client.getPhoneNumber(adoptId);
    } catch (error) {
      if (!(error instanceof VendorError && error.notFound)) throw error;
    }
  } else {
    record = await client.findPhoneNumber(adoptId);
  }
  if (!record || record.status === 'deleted') {
    throw new NothingToAdoptError(
      { what: adoptId, holder: 'Telnyx', id: adoptId, churchId: inputs.customerReference },
      `cannot adopt ${adoptId} for ${churchLabel(inputs)}: this Telnyx account holds no such number (adoptId)`,
    );
  }
  const differences = adoptionDifferences(inputs, record);
  if (differences.length > 0) {
    const what = `${record.phoneNumber} (id ${record.id})`;
    throw new AdoptionMismatchError(
      {
        what,
        holder: 'Telnyx',
        id: record.id,
        churchId: inputs.customerReference,
        differences: differences.map(({ field, holderHas, programSays }) => ({ field, holderHas, programSays })),
      },
      `cannot adopt ${what} for ${churchLabel(inputs)}: ${differences.map((d) => d.reason).join('; ')}. ` +
        'Adoption changes nothing at Telnyx: make the program match the number ' +
        '(or fix the number in the Telnyx portal) and run pulumi up',
    );
  }
  return { id: record.id, outs: outputsFor(inputs, record) };
}

/** The live record, or undefined when the number was released (404 or status deleted). */
async function liveRecord(client: TelnyxClient, id: string): Promise<PhoneNumberRecord | undefined> {
  try {
    const record = await client.getPhoneNumber(id);
    return record.status === 'deleted' ? undefined : record;
  } catch (error) {
    if (error instanceof VendorError && error.notFound) return undefined;
    throw error;
  }
}

export const provider: pulumi.dynamic.ResourceProvider = {
  async configure(req) {
    configureFromStack(req);
  },

  async check(olds, news) {
    const connectionId = news.connectionId ?? telnyxSettings().connectionId;
    return checkTelnyxPhoneNumber(olds, { ...news, connectionId });
  },

  async diff(id, olds: TelnyxPhoneNumberOutputs, news: TelnyxPhoneNumberInputs) {
    const result = diffTelnyxPhoneNumber(id, olds, news);
    // A preview is where the operator decides: say plainly what will (not) happen to the church's number.
    for (const note of recordOnlyChanges(olds, news)) await pulumi.log.warn(note);
    if (result.replaces?.length) {
      await pulumi.log.warn(
        `${olds.phoneNumber} (${churchLabel(olds)}) ` +
          `will be REPLACED (${result.replaces.join(', ')} changed): a new number ` +
          `is bought first; the old one is released only if it was decommissioned ` +
          `(decommission: ${olds.decommission === true})`,
      );
    }
    return result;
  },

  async create(inputs: TelnyxPhoneNumberInputs) {
    const client = telnyxClientFromSettings();
    if (inputs.adoptId !== undefined) return adopt(client, inputs);
    return new Purchase(client, inputs).run();
  },

  async read(id, props: TelnyxPhoneNumberOutputs) {
    const client = telnyxClientFromSettings();
    const { baseUrl, apiKey } = telnyxSettings();
    // In a refresh every number's read shares one listing of the account (providers/shared-reads.ts).
    const found = await readThroughList({
      listKey: accountKey('telnyx phone_numbers', baseUrl, apiKey),
      list: () => client.listPhoneNumbers(),
      idOf: (record) => record.id,
      id,
      readOne: () => liveRecord(client, id),
    });
    const record = found?.status === 'deleted' ? undefined : found;
    if (!record) return { id: '', props: {} };
    return { id, props: outputsFor(props, record, props.orderId) };
  },

  async update(id, olds: TelnyxPhoneNumberOutputs, news: TelnyxPhoneNumberInputs) {
    for (const note of recordOnlyChanges(olds, news)) await pulumi.log.warn(note);
    const changes = vendorChanges(olds, news);
    // What the number stands in for stays on record through every update (the diff reads it).
    const substitute = olds.substituteFor ? { substituteFor: olds.substituteFor } : {};
    if (Object.keys(changes).length === 0) {
      return { outs: { ...withoutUndefined(news), ...pickLive(olds), ...substitute } };
    }
    const client = telnyxClientFromSettings();
    // The target must exist, and be what the program says it is, before the number moves onto it.
    if (changes.connection_id !== undefined) {
      if (news.connectionKind === 'texml-application') await client.getTexmlApplication(changes.connection_id);
      else await client.getFqdnConnection(changes.connection_id);
    }
    const record = await client.updatePhoneNumber(id, changes);
    return { outs: { ...outputsFor(news, record, olds.orderId), ...substitute } };
  },

  async delete(id, props: TelnyxPhoneNumberOutputs) {
    const label = `${props.phoneNumber ?? `number id ${id}`} (${churchLabel(props)})`;
    if (props.decommission !== true) {
      throw new NotDecommissionedError({
        kind: 'number',
        id,
        churchId: props.customerReference,
        phoneNumber: props.phoneNumber,
      });
    }
    const client = telnyxClientFromSettings();
    const record = await liveRecord(client, id);
    if (!record) {
      await pulumi.log.info(`${label} was already released`);
      return;
    }
    if (record.deletionLockEnabled) {
      throw new DeletionLockError(props.phoneNumber, id, props.customerReference);
    }
    try {
      await client.deletePhoneNumber(id);
    } catch (error) {
      // A retried DELETE whose first attempt went through answers 404: the number is released.
      if (!(error instanceof VendorError && error.notFound)) throw error;
    }
    await pulumi.log.info(`released ${label}`);
  },
};

/** The outputs that come from Telnyx, not from the program. */
function pickLive(olds: TelnyxPhoneNumberOutputs) {
  const { phoneNumber, phoneNumberId, orderId, connectionId, customerReference, status, tags, deletionLockEnabled } =
    olds;
  return withoutUndefined({
    phoneNumber,
    phoneNumberId,
    orderId,
    connectionId,
    customerReference,
    status,
    tags,
    deletionLockEnabled,
  });
}

/** A church's number among the kinds of a line (providers/resource-kinds.ts), and how drift words it. */
export const TELNYX_PHONE_NUMBER_KIND = resourceKind({
  module: 'telnyx',
  typeName: 'TelnyxPhoneNumber',
  step: 'telnyx-number',
  driftKind: 'number',
  label: 'Telnyx number',
  nameSuffix: '-number',
  describeChange(id, before, change) {
    const { property, before: was, after: now } = change;
    const number = typeof before.phoneNumber === 'string' ? before.phoneNumber : id;
    if (property === 'connectionId') {
      return now
        ? `${number} moved to connection ${formatValue(now)} by hand (was ${formatValue(was)}): ` +
            `its calls go wherever that connection points`
        : `${number} was taken off connection ${formatValue(was)} by hand: calls to it reach no one`;
    }
    if (property === 'status') return `${number} is now "${formatValue(now)}" at Telnyx (was "${formatValue(was)}")`;
    return changedByHand(`${property} of ${id}`, change);
  },
  describeMissing: (id, before) =>
    `${formatValue(before.phoneNumber ?? id)} is gone from the Telnyx account (released or ported by hand)`,
  describeRepairs(changes) {
    const moved = changes.find((c) => c.property === 'connectionId');
    return moved ? [`move it back to connection ${formatValue(moved.before)}`] : [];
  },
});

export interface TelnyxPhoneNumberArgs {
  areaCode?: pulumi.Input<string>;
  phoneNumber?: pulumi.Input<string>;
  /** See TelnyxPhoneNumberInputs.substituteInAreaCode. */
  substituteInAreaCode?: pulumi.Input<boolean>;
  adoptId?: pulumi.Input<string>;
  /** Defaults to the stack's `telnyxConnectionId` (production: the "LiveKit Inbound v2" FQDN connection). */
  connectionId?: pulumi.Input<string>;
  /** `texml-application` only for a parked line's number (see TelnyxPhoneNumberInputs). */
  connectionKind?: pulumi.Input<ConnectionKind>;
  customerReference: pulumi.Input<string>;
  tags?: pulumi.Input<pulumi.Input<string>[]>;
  decommission?: pulumi.Input<boolean>;
  orderTimeoutSeconds?: pulumi.Input<number>;
}

export class TelnyxPhoneNumber extends pulumi.dynamic.Resource {
  // Output properties are `declare`d, never `!:` (why: providers/resource-kind.ts, "Resource classes").
  declare public readonly phoneNumber: pulumi.Output<string>;
  declare public readonly phoneNumberId: pulumi.Output<string>;
  declare public readonly orderId: pulumi.Output<string | undefined>;
  declare public readonly connectionId: pulumi.Output<string>;
  declare public readonly customerReference: pulumi.Output<string>;
  declare public readonly status: pulumi.Output<string>;
  declare public readonly tags: pulumi.Output<string[]>;
  declare public readonly deletionLockEnabled: pulumi.Output<boolean>;
  declare public readonly areaCode: pulumi.Output<string | undefined>;
  declare public readonly adoptId: pulumi.Output<string | undefined>;
  declare public readonly decommission: pulumi.Output<boolean | undefined>;
  declare public readonly substituteFor: pulumi.Output<string | undefined>;

  constructor(name: string, args: TelnyxPhoneNumberArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      projectProvider('telnyx-phone-number'),
      name,
      {
        // Every output is named here (undefined until known) so the engine fills it in.
        areaCode: args.areaCode,
        phoneNumber: args.phoneNumber,
        adoptId: args.adoptId,
        connectionId: args.connectionId,
        connectionKind: args.connectionKind,
        customerReference: args.customerReference,
        tags: args.tags,
        decommission: args.decommission,
        orderTimeoutSeconds: args.orderTimeoutSeconds,
        substituteInAreaCode: args.substituteInAreaCode,
        substituteFor: undefined,
        phoneNumberId: undefined,
        orderId: undefined,
        status: undefined,
        deletionLockEnabled: undefined,
      },
      opts,
      TELNYX_PHONE_NUMBER_KIND.module,
      TELNYX_PHONE_NUMBER_KIND.typeName,
    );
  }
}
