import { randomUUID } from 'crypto';
import Telnyx from 'telnyx';
import { telnyxDigits } from '../common/phone-numbers';
import { telnyxSettings, type TelnyxSettings } from './vendor-settings';
import {
  callVendor,
  DEFAULT_RETRY_POLICY,
  parseRetryAfter,
  VendorError,
  type AttemptFailure,
  type RetryPolicy,
  type VendorCall,
} from './vendor-request';

/**
 * The one Telnyx API client of the project: typed calls over the official SDK, with the SDK's own retries
 * switched off so that vendors/vendor-request.ts owns the retry rule. Ordering a number and dialing a call are
 * never retried: the SDK sends no idempotency key, so a blind retry of `POST /number_orders` can buy a second
 * number, and one of `POST /calls` can ring the number twice.
 */

/** A number the inventory search offered. Only numbers returned by a search can be ordered. */
export interface AvailableNumber {
  phoneNumber: string;
  /** True when Telnyx offers it as a near match, not an exact match of the filter. */
  bestEffort: boolean;
  features: string[];
  monthlyCost?: string;
  upfrontCost?: string;
  currency?: string;
}

/**
 * Where to look for local numbers: an area code, or a city and its state (both: Telnyx's `locality` alone matches
 * every state's city of that name).
 */
export type LocalNumberPlace = { areaCode: string } | { locality: string; administrativeArea: string };

export interface LocalNumberSearch {
  limit: number;
  /** Only numbers ending in these digits. */
  endsWith?: string;
  /**
   * Leave out numbers on hold (default true). Every hold is on this one account, so a number held for one church's
   * checkout is listed to the next church unless the search leaves it out; a search for the very number a church
   * holds must keep it (false).
   */
  excludeHeld?: boolean;
}

export type NumberOrderStatus = 'pending' | 'success' | 'failure';

/** One number of a reservation. */
export interface ReservedNumber {
  phoneNumber: string;
  status?: 'pending' | 'success' | 'failure';
  /** When the hold ends (ISO 8601); it has ended once this is past. */
  expiresAt?: string;
  /** Why Telnyx could not hold it, when it could not. */
  error?: string;
}

/** A number reservation: numbers held for this account for 30 minutes, extendable. */
export interface NumberReservation {
  id: string;
  status: 'pending' | 'success' | 'failure';
  phoneNumbers: ReservedNumber[];
  customerReference?: string;
  createdAt?: string;
  /** The earliest end of its numbers' holds: when the reservation stops holding all of them. */
  expiresAt?: string;
  error?: string;
}

export interface OrderedNumber {
  /** The id of the order line, NOT the id of /phone_numbers/{id}: resolve that with findPhoneNumber. */
  orderLineId?: string;
  phoneNumber: string;
  status?: string;
  requirementsMet?: boolean;
}

export interface NumberOrder {
  id: string;
  status: NumberOrderStatus;
  phoneNumbers: OrderedNumber[];
  connectionId?: string;
  customerReference?: string;
  createdAt?: string;
}

/** A number the account holds (`/phone_numbers/{id}`). */
export interface PhoneNumberRecord {
  id: string;
  phoneNumber: string;
  status: string;
  connectionId: string | null;
  connectionName: string | null;
  tags: string[];
  customerReference: string | null;
  deletionLockEnabled: boolean;
  purchasedAt?: string;
}

export interface PhoneNumberChanges {
  connection_id?: string;
  tags?: string[];
  customer_reference?: string;
}

export interface FqdnConnection {
  id: string;
  connectionName: string;
  active?: boolean;
  transportProtocol?: string;
}

export interface ConnectionFqdn {
  id: string;
  connectionId: string;
  fqdn: string;
  port?: number;
  dnsRecordType?: string;
}

/** A Call Control dial: who is called, from which number, through which Call Control application. */
export interface CallDial {
  /** The Call Control application (or connection) that places the call. */
  connectionId: string;
  to: string;
  from: string;
  /** How long the far end may ring before Telnyx gives up. */
  timeoutSecs: number;
  /** Telnyx ends the call after this long, whatever else happens. */
  timeLimitSecs?: number;
}

/** A call as `GET /calls/{id}` reports it. */
export interface CallStatus {
  callControlId: string;
  /** False once the call is over, but also while a dial is still being set up. */
  isAlive: boolean;
  endTime?: string;
  /** The call is over: not alive AND it has an end time (a dial being set up has neither). */
  ended: boolean;
}

export interface TelnyxClientOptions {
  /** Per-request timeout of the SDK, in ms. */
  timeoutMs?: number;
  retryPolicy?: RetryPolicy;
}

/** Telnyx's page size ceiling for list endpoints. */
const PAGE_SIZE = 250;
const DEFAULT_TIMEOUT_MS = 30_000;

interface TelnyxErrorBody {
  errors?: Array<{ code?: string | number; title?: string; detail?: string }>;
}

/**
 * Turns whatever the SDK threw into what the retry rule needs. Connection errors and timeouts are transport
 * failures (no status); HTTP errors carry Telnyx's first error code/detail and any retry-after the server sent.
 * Anything else (a bug in our code, an abort) is not a vendor answer and is rethrown untouched.
 */
export function classifyTelnyxError(error: unknown): AttemptFailure | undefined {
  if (error instanceof Telnyx.APIConnectionError) {
    return { detail: error.message || 'connection failed' };
  }
  if (error instanceof Telnyx.APIUserAbortError) return undefined;
  if (error instanceof Telnyx.APIError && typeof error.status === 'number') {
    const first = (error.error as TelnyxErrorBody | undefined)?.errors?.[0];
    const detail = first?.detail ?? first?.title ?? error.message;
    return {
      status: error.status,
      code: first?.code === undefined ? undefined : String(first.code),
      detail,
      retryAfterMs: parseRetryAfter(error.headers),
    };
  }
  return undefined;
}

/** A Telnyx call as the client names it (the vendor is implied). */
type TelnyxCall = Omit<VendorCall, 'vendor'>;

function requireField<T>(value: T | null | undefined, what: string, call: TelnyxCall): T {
  if (value === undefined || value === null || value === '') {
    throw new Error(`telnyx ${call.method} ${call.path} answered without ${what}`);
  }
  return value;
}

export class TelnyxClient {
  private readonly sdk: Telnyx;
  private readonly retryPolicy: RetryPolicy;

  constructor(settings: Pick<TelnyxSettings, 'apiKey' | 'baseUrl'>, options: TelnyxClientOptions = {}) {
    this.sdk = new Telnyx({
      apiKey: settings.apiKey,
      baseURL: settings.baseUrl,
      // Our retry rule owns retries; the SDK would also retry POST /number_orders, which can buy twice.
      maxRetries: 0,
      timeout: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    });
    this.retryPolicy = options.retryPolicy ?? DEFAULT_RETRY_POLICY;
  }

  private call<T>(call: TelnyxCall, attempt: () => Promise<T>): Promise<T> {
    return callVendor({ vendor: 'telnyx', ...call }, attempt, classifyTelnyxError, this.retryPolicy);
  }

  /**
   * Exact local voice numbers in a US area code; near matches (`best_effort`) are dropped. Numbers on hold are kept:
   * the number a church holds is found by the search that checks it is still for sale before it is ordered.
   */
  async searchAvailableLocalNumbers(
    areaCode: string,
    limit: number,
    pattern: { endsWith?: string } = {},
  ): Promise<AvailableNumber[]> {
    return this.searchLocalNumbers({ areaCode }, { limit, endsWith: pattern.endsWith, excludeHeld: false });
  }

  /**
   * Exact local voice numbers in a US area code, or in a city and state: Telnyx is asked for no near matches
   * (`best_effort=false`) and any it sends anyway are dropped, so a pastor in Austin is never offered a Dallas
   * number. Numbers on hold are left out unless `excludeHeld` is false.
   */
  async searchLocalNumbers(place: LocalNumberPlace, search: LocalNumberSearch): Promise<AvailableNumber[]> {
    const call = { method: 'GET', path: '/available_phone_numbers' };
    const where =
      'areaCode' in place
        ? { national_destination_code: place.areaCode }
        : { locality: place.locality, administrative_area: place.administrativeArea };
    const response = await this.call(call, () =>
      this.sdk.availablePhoneNumbers.list({
        filter: {
          country_code: 'US',
          ...where,
          phone_number_type: 'local',
          features: ['voice'],
          best_effort: false,
          ...(search.excludeHeld !== false ? { exclude_held_numbers: true } : {}),
          limit: search.limit,
          ...(search.endsWith ? { phone_number: { ends_with: search.endsWith } } : {}),
        },
      }),
    );
    return (response.data ?? [])
      .filter((item) => item.best_effort !== true && typeof item.phone_number === 'string')
      .map((item) => ({
        phoneNumber: item.phone_number as string,
        bestEffort: false,
        features: (item.features ?? []).map((feature) => feature.name ?? '').filter(Boolean),
        monthlyCost: item.cost_information?.monthly_cost,
        upfrontCost: item.cost_information?.upfront_cost,
        currency: item.cost_information?.currency,
      }));
  }

  /**
   * Orders ONE number. Sent once, never retried: on any failure the caller must look the order up by
   * `customerReference` (listNumberOrders) before it may order again.
   */
  async createNumberOrder(order: {
    phoneNumber: string;
    connectionId: string;
    customerReference: string;
  }): Promise<NumberOrder> {
    const call = { method: 'POST', path: '/number_orders', idempotent: false };
    const response = await this.call(call, () =>
      this.sdk.numberOrders.create({
        phone_numbers: [{ phone_number: order.phoneNumber }],
        connection_id: order.connectionId,
        customer_reference: order.customerReference,
      }),
    );
    return toNumberOrder(response.data, call);
  }

  /**
   * Holds ONE number for sale for this account (Telnyx holds it 30 minutes). Sent once, never retried: a retry after
   * a hold was made but its answer lost would be refused as "already on hold", so on a failure the caller looks the
   * reservation up by `customerReference` (listNumberReservations) before holding again.
   */
  async createNumberReservation(hold: { phoneNumber: string; customerReference: string }): Promise<NumberReservation> {
    const call = { method: 'POST', path: '/number_reservations', idempotent: false };
    const response = await this.call(call, () =>
      this.sdk.numberReservations.create({
        phone_numbers: [{ phone_number: hold.phoneNumber }],
        customer_reference: hold.customerReference,
      }),
    );
    return toNumberReservation(response.data, call);
  }

  async getNumberReservation(id: string): Promise<NumberReservation> {
    const call = { method: 'GET', path: `/number_reservations/${id}` };
    const response = await this.call(call, () => this.sdk.numberReservations.retrieve(id));
    return toNumberReservation(response.data, call);
  }

  /**
   * Holds the reservation's numbers for another 30 minutes from now. Safe to repeat (each extend only moves the end
   * to 30 minutes from then), so it is retried like a read. A reservation that holds nothing any more (lapsed or
   * bought) is refused with a 422: hold the number anew.
   */
  async extendNumberReservation(id: string): Promise<NumberReservation> {
    const call = { method: 'POST', path: `/number_reservations/${id}/actions/extend` };
    const response = await this.call(call, () => this.sdk.numberReservations.actions.extend(id));
    return toNumberReservation(response.data, call);
  }

  async listNumberReservations(filter: {
    customerReference?: string;
    phoneNumber?: string;
  }): Promise<NumberReservation[]> {
    const call = { method: 'GET', path: '/number_reservations' };
    const query: Telnyx.NumberReservationListParams.Filter = {};
    if (filter.customerReference !== undefined) query.customer_reference = filter.customerReference;
    if (filter.phoneNumber !== undefined) query['phone_numbers.phone_number'] = filter.phoneNumber;
    const reservations = await this.allPages(call, (page) =>
      this.sdk.numberReservations.list({ filter: query, 'page[number]': page, 'page[size]': PAGE_SIZE }),
    );
    // Filter again locally, as for phone numbers: a server that ignored a filter must not hand us another's hold.
    return reservations
      .map((reservation) => toNumberReservation(reservation, call))
      .filter(
        (r) =>
          (filter.customerReference === undefined || r.customerReference === filter.customerReference) &&
          (filter.phoneNumber === undefined || r.phoneNumbers.some((n) => n.phoneNumber === filter.phoneNumber)),
      );
  }

  async getNumberOrder(id: string): Promise<NumberOrder> {
    const call = { method: 'GET', path: `/number_orders/${id}` };
    const response = await this.call(call, () => this.sdk.numberOrders.retrieve(id));
    return toNumberOrder(response.data, call);
  }

  async listNumberOrders(filter: { customerReference: string; status?: NumberOrderStatus }): Promise<NumberOrder[]> {
    const call = { method: 'GET', path: '/number_orders' };
    return this.allPages(call, (page) =>
      this.sdk.numberOrders.list({
        filter: { customer_reference: filter.customerReference, ...(filter.status ? { status: filter.status } : {}) },
        'page[number]': page,
        'page[size]': PAGE_SIZE,
      }),
    ).then((orders) => orders.map((order) => toNumberOrder(order, call)));
  }

  /** The account's record of one E.164 number, or undefined when the account does not hold it. */
  async findPhoneNumber(e164: string): Promise<PhoneNumberRecord | undefined> {
    const matches = await this.listPhoneNumbers({ phoneNumber: e164 });
    // Telnyx may keep released numbers listed as `deleted`; prefer the live record.
    return matches.find((record) => record.status !== 'deleted') ?? matches[0];
  }

  async listPhoneNumbers(
    filter: { customerReference?: string; connectionId?: string; status?: string; phoneNumber?: string } = {},
  ): Promise<PhoneNumberRecord[]> {
    const call = { method: 'GET', path: '/phone_numbers' };
    const query: Telnyx.PhoneNumberListParams.Filter = {};
    if (filter.customerReference !== undefined) query.customer_reference = filter.customerReference;
    if (filter.connectionId !== undefined) query.connection_id = filter.connectionId;
    if (filter.status !== undefined) query.status = filter.status as Telnyx.PhoneNumberListParams.Filter['status'];
    if (filter.phoneNumber !== undefined) query.phone_number = telnyxDigits(filter.phoneNumber);
    const records = await this.allPages(call, (page) =>
      this.sdk.phoneNumbers.list({ filter: query, 'page[number]': page, 'page[size]': PAGE_SIZE }),
    );
    const mapped = records.map((record) => toPhoneNumberRecord(record, call));
    // Filter again locally: a server that ignores a filter must not make us act on someone else's number.
    return mapped.filter(
      (record) =>
        (filter.customerReference === undefined || record.customerReference === filter.customerReference) &&
        (filter.connectionId === undefined || record.connectionId === filter.connectionId) &&
        (filter.status === undefined || record.status === filter.status) &&
        (filter.phoneNumber === undefined || record.phoneNumber === filter.phoneNumber),
    );
  }

  async getPhoneNumber(id: string): Promise<PhoneNumberRecord> {
    const call = { method: 'GET', path: `/phone_numbers/${id}` };
    const response = await this.call(call, () => this.sdk.phoneNumbers.retrieve(id));
    return toPhoneNumberRecord(response.data, call);
  }

  async updatePhoneNumber(id: string, changes: PhoneNumberChanges): Promise<PhoneNumberRecord> {
    const call = { method: 'PATCH', path: `/phone_numbers/${id}` };
    const response = await this.call(call, () => this.sdk.phoneNumbers.update(id, changes));
    return toPhoneNumberRecord(response.data, call);
  }

  /** Releases the number: the church loses it for good. Callers guard this behind an explicit decommission. */
  async deletePhoneNumber(id: string): Promise<void> {
    const call = { method: 'DELETE', path: `/phone_numbers/${id}` };
    await this.call(call, () => this.sdk.phoneNumbers.delete(id));
  }

  async getFqdnConnection(id: string): Promise<FqdnConnection> {
    const call = { method: 'GET', path: `/fqdn_connections/${id}` };
    const response = await this.call(call, () => this.sdk.fqdnConnections.retrieve(id));
    const data = requireField(response.data, 'data', call);
    return {
      id: requireField(data.id, 'data.id', call),
      connectionName: data.connection_name,
      active: data.active,
      transportProtocol: data.transport_protocol,
    };
  }

  /** A TeXML application of the account (a parked number's fallback); VendorError notFound when there is none. */
  async getTexmlApplication(id: string): Promise<{ id: string; friendlyName?: string; voiceUrl?: string }> {
    const call = { method: 'GET', path: `/texml_applications/${id}` };
    const response = await this.call(call, () => this.sdk.texmlApplications.retrieve(id));
    const data = requireField(response.data, 'data', call);
    return { id: requireField(data.id, 'data.id', call), friendlyName: data.friendly_name, voiceUrl: data.voice_url };
  }

  async listFqdns(connectionId: string): Promise<ConnectionFqdn[]> {
    const call = { method: 'GET', path: '/fqdns' };
    const fqdns = await this.allPages(call, (page) =>
      this.sdk.fqdns.list({ filter: { connection_id: connectionId }, 'page[number]': page, 'page[size]': PAGE_SIZE }),
    );
    return fqdns
      .map((fqdn) => ({
        id: requireField(fqdn.id, 'data[].id', call),
        connectionId: requireField(fqdn.connection_id, 'data[].connection_id', call),
        fqdn: requireField(fqdn.fqdn, 'data[].fqdn', call),
        port: fqdn.port,
        dnsRecordType: fqdn.dns_record_type,
      }))
      .filter((fqdn) => fqdn.connectionId === connectionId);
  }

  /**
   * Places a call (`POST /calls`). Sent once, never retried: a retried dial could ring the number twice, so on a
   * failure the caller learns nothing was dialed for sure and decides itself.
   */
  async dialCall(dial: CallDial): Promise<{ callControlId: string }> {
    const call = { method: 'POST', path: '/calls', idempotent: false };
    const response = await this.call(call, () =>
      this.sdk.calls.dial({
        connection_id: dial.connectionId,
        to: dial.to,
        from: dial.from,
        timeout_secs: dial.timeoutSecs,
        ...(dial.timeLimitSecs !== undefined ? { time_limit_secs: dial.timeLimitSecs } : {}),
      }),
    );
    return { callControlId: requireField(response.data?.call_control_id, 'data.call_control_id', call) };
  }

  /** A call's status, or undefined when Telnyx no longer knows the call (404: it ended long ago). */
  async getCall(callControlId: string): Promise<CallStatus | undefined> {
    const call = { method: 'GET', path: `/calls/${callControlId}` };
    try {
      const response = await this.call(call, () => this.sdk.calls.retrieveStatus(callControlId));
      const isAlive = response.data?.is_alive !== false;
      const endTime = response.data?.end_time || undefined;
      return { callControlId, isAlive, ...(endTime ? { endTime } : {}), ended: !isAlive && endTime !== undefined };
    } catch (error) {
      if (error instanceof VendorError && error.notFound) return undefined;
      throw error;
    }
  }

  /**
   * Hangs up a call. It carries a `command_id`, so Telnyx ignores a repeat and the retry rule may re-send it. A call
   * that already ended (422) or is gone (404) is not an error: the call is down, which is all a hangup wants.
   */
  async hangupCall(callControlId: string): Promise<void> {
    const call = { method: 'POST', path: `/calls/${callControlId}/actions/hangup` };
    const commandId = randomUUID();
    try {
      await this.call(call, () => this.sdk.calls.actions.hangup(callControlId, { command_id: commandId }));
    } catch (error) {
      if (error instanceof VendorError && (error.status === 422 || error.notFound)) return;
      throw error;
    }
  }

  /** Walks `page[number]` to `meta.total_pages`, each page under the retry rule on its own. */
  private async allPages<Item>(
    call: TelnyxCall,
    fetchPage: (page: number) => PromiseLike<{ data?: Item[]; meta?: { total_pages?: number } }>,
  ): Promise<Item[]> {
    const items: Item[] = [];
    for (let page = 1; ; page++) {
      const response = await this.call(call, async () => fetchPage(page));
      items.push(...(response.data ?? []));
      const totalPages = response.meta?.total_pages ?? 1;
      if (page >= totalPages || (response.data ?? []).length === 0) return items;
    }
  }
}

/** The client for the current stack config or environment, built at call time (never at module scope). */
export function telnyxClientFromSettings(options?: TelnyxClientOptions): TelnyxClient {
  return new TelnyxClient(telnyxSettings(), options);
}

type SdkOrder = Telnyx.NumberOrderWithPhoneNumbers | Telnyx.NumberOrderListResponse;

function toNumberOrder(order: SdkOrder | undefined, call: TelnyxCall): NumberOrder {
  const data = requireField(order, 'data', call);
  const status = requireField(data.status, 'data.status', call);
  return {
    id: requireField(data.id, 'data.id', call),
    status,
    phoneNumbers: (data.phone_numbers ?? [])
      .filter((line) => typeof line.phone_number === 'string')
      .map((line: Partial<Telnyx.NumberOrders.PhoneNumber>) => ({
        orderLineId: line.id,
        phoneNumber: line.phone_number as string,
        status: line.status,
        requirementsMet: line.requirements_met,
      })),
    connectionId: data.connection_id,
    customerReference: data.customer_reference,
    createdAt: data.created_at,
  };
}

function toNumberReservation(
  reservation: Telnyx.NumberReservations.NumberReservation | undefined,
  call: TelnyxCall,
): NumberReservation {
  const data = requireField(reservation, 'data', call);
  const phoneNumbers = (data.phone_numbers ?? [])
    .filter((line) => typeof line.phone_number === 'string')
    .map((line) => ({
      phoneNumber: line.phone_number as string,
      status: line.status,
      expiresAt: line.expired_at,
      ...(line.errors ? { error: line.errors } : {}),
    }));
  const ends = phoneNumbers.flatMap((n) => (n.expiresAt ? [n.expiresAt] : []));
  return {
    id: requireField(data.id, 'data.id', call),
    status: requireField(data.status, 'data.status', call),
    phoneNumbers,
    customerReference: data.customer_reference,
    createdAt: data.created_at,
    expiresAt: ends.length ? ends.reduce((a, b) => (Date.parse(a) <= Date.parse(b) ? a : b)) : undefined,
    ...(data.errors ? { error: data.errors } : {}),
  };
}

type SdkPhoneNumber = Telnyx.NumbersPhoneNumberDetailed | Telnyx.PhoneNumberSlimListResponse;

function toPhoneNumberRecord(record: SdkPhoneNumber | undefined, call: TelnyxCall): PhoneNumberRecord {
  const data = requireField(record, 'data', call) as Partial<Telnyx.NumbersPhoneNumberDetailed>;
  return {
    id: requireField(data.id, 'data.id', call),
    phoneNumber: requireField(data.phone_number, 'data.phone_number', call),
    status: requireField(data.status, 'data.status', call),
    connectionId: data.connection_id ?? null,
    connectionName: data.connection_name ?? null,
    tags: data.tags ?? [],
    customerReference: data.customer_reference ?? null,
    deletionLockEnabled: data.deletion_lock_enabled === true,
    purchasedAt: data.purchased_at,
  };
}
