/**
 * What the stand-in's Telnyx account holds: phone numbers, number orders, number reservations (holds), FQDN
 * connections and their FQDNs, TeXML applications, plus the numbers for sale. Every business rule of these
 * resources lives here (the router only translates HTTP); records are kept in the shapes the spec returns so a test
 * can read them as a client would.
 */
import { createHash, randomUUID } from 'crypto';
import { E164_PATTERN } from '../../common/phone-numbers';
import { PRODUCTION_FQDN_CONNECTION_ID } from '../../vendors/vendor-settings';
import { TelnyxApiError, badRequest, notFound, unprocessable } from './errors';
import { NumberInventory, type InventoryOptions } from './inventory';

export type TransportProtocol = 'UDP' | 'TCP' | 'TLS';

export const PHONE_NUMBER_STATUSES = [
  'purchase-pending',
  'purchase-failed',
  'port-pending',
  'active',
  'deleted',
  'port-failed',
  'emergency-only',
  'ported-out',
  'port-out-pending',
] as const;
export type PhoneNumberStatus = (typeof PHONE_NUMBER_STATUSES)[number];

/** A `/v2/phone_numbers` record (PhoneNumberDetailed), less `connection_name`, which is read from the connection. */
export interface PhoneNumberRecord {
  id: string;
  record_type: 'phone_number';
  phone_number: string;
  status: PhoneNumberStatus;
  tags: string[];
  connection_id: string | null;
  customer_reference: string | null;
  billing_group_id: string | null;
  external_pin: string | null;
  hd_voice_enabled: boolean;
  deletion_lock_enabled: boolean;
  phone_number_type: 'local';
  country_iso_alpha2: 'US';
  source_type: 'number_order' | null;
  purchased_at: string;
  created_at: string;
  updated_at: string;
  activated_at: string | null;
}

/** One number inside a number order; its `id` is the order line's, not the `/phone_numbers` id (as at Telnyx). */
export interface OrderedNumber {
  id: string;
  record_type: 'number_order_phone_number';
  phone_number: string;
  phone_number_type: 'local';
  country_code: 'US';
  status: 'pending' | 'success' | 'failure';
  requirements_met: boolean;
  requirements_status: 'approved';
  regulatory_requirements: never[];
}

export interface NumberOrderRecord {
  id: string;
  record_type: 'number_order';
  status: 'pending' | 'success' | 'failure';
  phone_numbers: OrderedNumber[];
  connection_id?: string;
  customer_reference?: string;
  billing_group_id?: string;
  messaging_profile_id?: string;
  requirements_met: boolean;
  sub_number_orders_ids: string[];
  created_at: string;
  updated_at: string;
  /** `/phone_numbers` ids of the numbers this order created, in order. */
  phoneNumberIds: string[];
  /** GETs of this order so far; it completes after `orderCompletesAfterPolls`. */
  polls: number;
}

export interface FqdnConnectionSeed {
  id: string;
  connection_name: string;
  active?: boolean;
  transport_protocol?: TransportProtocol;
  /** Merged over the default `inbound` settings. */
  inbound?: Record<string, unknown>;
}

export interface FqdnSeed {
  id?: string;
  connection_id: string;
  fqdn: string;
  port?: number;
  dns_record_type?: string;
}

/** An FQDN connection as the API returns it (FqdnConnection); PATCH merges any field the spec allows. */
export interface FqdnConnectionRecord {
  id: string;
  record_type: 'fqdn_connection';
  connection_name: string;
  active: boolean;
  transport_protocol: TransportProtocol;
  inbound: Record<string, unknown>;
  created_at: string;
  updated_at: string;
  [field: string]: unknown;
}

export interface FqdnRecord {
  id: string;
  record_type: 'fqdn';
  connection_id: string;
  fqdn: string;
  port: number;
  dns_record_type: string;
  created_at: string;
  updated_at: string;
}

/** A TeXML application to create (`POST /texml_applications` body, or put into the account with a fixed id). */
export interface TexmlApplicationSeed {
  /** Fixed numeric id (a control-route or option entry); the API picks one when absent. */
  id?: string;
  friendly_name: string;
  voice_url: string;
  voice_method?: 'get' | 'post';
  voice_fallback_url?: string;
  active?: boolean;
  status_callback?: string;
  status_callback_method?: 'get' | 'post';
  tags?: string[];
  /** Any other CreateTexmlApplicationRequest field (anchorsite_override, dtmf_type, inbound, outbound...). */
  [field: string]: unknown;
}

/** A TeXML application as the API returns it (TexmlApplication); unset optional URLs are left out, not null. */
export interface TexmlApplicationRecord {
  id: string;
  record_type: 'texml_application';
  friendly_name: string;
  active: boolean;
  voice_url: string;
  voice_method: 'get' | 'post';
  voice_fallback_url?: string;
  status_callback?: string;
  status_callback_method: 'get' | 'post';
  anchorsite_override: string;
  dtmf_type: string;
  first_command_timeout: boolean;
  first_command_timeout_secs: number;
  call_cost_in_webhooks: boolean;
  inbound: Record<string, unknown>;
  outbound: Record<string, unknown>;
  tags: string[];
  created_at: string;
  updated_at: string;
  [field: string]: unknown;
}

export interface TexmlApplicationFilter {
  friendly_name?: string;
  outbound_voice_profile_id?: string;
}

export interface PhoneNumberSeed {
  phone_number: string;
  connection_id: string | null;
  customer_reference?: string;
  tags?: string[];
  status?: PhoneNumberStatus;
  deletion_lock_enabled?: boolean;
  billing_group_id?: string;
}

/** The production connection every new number joins ("LiveKit Inbound v2", TCP: LiveKit drops UDP from Telnyx). */
export const LIVEKIT_INBOUND_CONNECTION: FqdnConnectionSeed = {
  id: PRODUCTION_FQDN_CONNECTION_ID,
  connection_name: 'LiveKit Inbound v2',
  active: true,
  transport_protocol: 'TCP',
};

/** Its FQDN: the LiveKit project id host (the name-based host answers "404 No trunk found"). */
export const LIVEKIT_INBOUND_FQDN: FqdnSeed = {
  connection_id: PRODUCTION_FQDN_CONNECTION_ID,
  fqdn: '5u9xu5ysoly.sip.livekit.cloud',
  port: 5060,
  dns_record_type: 'a',
};

/** One number of a reservation (ReservedPhoneNumber): held until `expired_at`. */
export interface ReservedNumberRecord {
  id: string;
  record_type: 'reserved_phone_number';
  phone_number: string;
  status: 'pending' | 'success' | 'failure';
  created_at: string;
  updated_at: string;
  expired_at: string;
}

/**
 * A number reservation (NumberReservation). The spec's statuses say how the reservation went (pending, success,
 * failure), not whether it still holds: a lapsed hold keeps `success` and reads as lapsed by its `expired_at`.
 */
export interface NumberReservationRecord {
  id: string;
  record_type: 'number_reservation';
  status: 'pending' | 'success' | 'failure';
  customer_reference?: string;
  phone_numbers: ReservedNumberRecord[];
  created_at: string;
  updated_at: string;
}

export interface CreateReservationInput {
  phone_numbers?: Array<{ phone_number?: string }>;
  customer_reference?: string;
}

export interface NumberReservationFilter {
  status?: string;
  customer_reference?: string;
  'phone_numbers.phone_number'?: string;
  created_at?: { gt?: string; lt?: string };
}

/** Which holds `POST /_standin/number-reservations/expire` ends: all, one reservation's, or one number's. */
export interface ExpireHoldsFilter {
  id?: string;
  phone_number?: string;
}

/** How long Telnyx holds a reserved number, and how far an extend pushes the hold from now: 30 minutes. */
export const NUMBER_HOLD_MS = 30 * 60 * 1000;

export interface TelnyxStateOptions {
  inventory?: InventoryOptions;
  /** The time reservations are made, extended and lapse by; default the wall clock. A test may move it. */
  clock?: () => Date;
  orderCompletesAfterPolls?: number;
  connections?: FqdnConnectionSeed[];
  fqdns?: FqdnSeed[];
  texmlApplications?: TexmlApplicationSeed[];
}

export interface PhoneNumberFilter {
  phone_number?: string;
  connection_id?: string;
  customer_reference?: string;
  tag?: string;
  status?: string;
}

export interface NumberOrderFilter {
  status?: string;
  customer_reference?: string;
}

export interface FqdnFilter {
  connection_id?: string;
  fqdn?: string;
  port?: number;
  dns_record_type?: string;
}

export interface CreateOrderInput {
  phone_numbers?: Array<{ phone_number: string }>;
  connection_id?: string;
  customer_reference?: string;
  billing_group_id?: string;
  messaging_profile_id?: string;
}

export interface UpdatePhoneNumberInput {
  connection_id?: string;
  tags?: string[];
  customer_reference?: string;
  billing_group_id?: string;
  external_pin?: string;
  hd_voice_enabled?: boolean;
}

const now = () => new Date().toISOString();

/** Telnyx ids are 19-digit numeric strings; these count up from a seed-derived base so instances differ. */
class NumericIds {
  private next: bigint;
  constructor(seed: string) {
    const offset = BigInt(`0x${createHash('sha256').update(seed).digest('hex').slice(0, 12)}`) % 10n ** 14n;
    this.next = 1_200_000_000_000_000_000n + offset * 1000n;
  }
  take(): string {
    this.next += 1n;
    return this.next.toString();
  }
}

const DEFAULT_INBOUND = {
  ani_number_format: '+E.164',
  dnis_number_format: '+e164',
  codecs: ['G722', 'G711U', 'G711A', 'G729', 'OPUS', 'H.264'],
  default_routing_method: 'sequential',
  channel_limit: null,
  generate_ringback_tone: false,
  isup_headers_enabled: false,
  prack_enabled: false,
  shaken_stir_enabled: false,
  sip_compact_headers_enabled: true,
  sip_region: 'US',
  sip_subdomain: null,
  sip_subdomain_receive_settings: 'from_anyone',
  timeout_1xx_secs: 3,
  timeout_2xx_secs: 90,
};

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export class TelnyxState {
  readonly inventory: NumberInventory;
  readonly phoneNumbers = new Map<string, PhoneNumberRecord>();
  readonly numberOrders = new Map<string, NumberOrderRecord>();
  readonly fqdnConnections = new Map<string, FqdnConnectionRecord>();
  readonly fqdns = new Map<string, FqdnRecord>();
  readonly texmlApplications = new Map<string, TexmlApplicationRecord>();
  readonly numberReservations = new Map<string, NumberReservationRecord>();
  readonly orderCompletesAfterPolls: number;
  readonly clock: () => Date;
  private readonly ids: NumericIds;

  constructor(options: TelnyxStateOptions = {}) {
    this.inventory = new NumberInventory(options.inventory);
    this.clock = options.clock ?? (() => new Date());
    this.ids = new NumericIds(this.inventory.seed);
    this.orderCompletesAfterPolls = options.orderCompletesAfterPolls ?? 1;
    for (const connection of options.connections ?? [LIVEKIT_INBOUND_CONNECTION]) this.addFqdnConnection(connection);
    for (const fqdn of options.fqdns ?? (options.connections ? [] : [LIVEKIT_INBOUND_FQDN])) this.addFqdn(fqdn);
    for (const application of options.texmlApplications ?? []) this.addTexmlApplication(application);
  }

  // ---- FQDN connections and FQDNs -------------------------------------------------------------------------

  addFqdnConnection(seed: FqdnConnectionSeed): FqdnConnectionRecord {
    if (!/^\d+$/.test(seed.id))
      throw new Error(`connection id must be a numeric string like Telnyx's, got ${JSON.stringify(seed.id)}`);
    const at = now();
    const record: FqdnConnectionRecord = {
      id: seed.id,
      record_type: 'fqdn_connection',
      connection_name: seed.connection_name,
      active: seed.active ?? true,
      transport_protocol: seed.transport_protocol ?? 'UDP',
      inbound: { ...DEFAULT_INBOUND, ...(seed.inbound ?? {}) },
      anchorsite_override: 'Latency',
      dtmf_type: 'RFC 2833',
      encrypted_media: null,
      onnet_t38_passthrough_enabled: false,
      default_on_hold_comfort_noise_enabled: true,
      encode_contact_header_enabled: false,
      microsoft_teams_sbc: false,
      call_cost_in_webhooks: false,
      rtcp_settings: { capture_enabled: false, port: 'rtp+1', report_frequency_secs: 5 },
      tags: [],
      webhook_api_version: '1',
      webhook_timeout_secs: null,
      created_at: at,
      updated_at: at,
    };
    this.fqdnConnections.set(record.id, record);
    return record;
  }

  addFqdn(seed: FqdnSeed): FqdnRecord {
    if (!this.fqdnConnections.has(seed.connection_id)) {
      throw new Error(
        `FQDN ${seed.fqdn} names connection ${seed.connection_id}, which is not one of the stand-in's connections`,
      );
    }
    const at = now();
    const record: FqdnRecord = {
      id: seed.id ?? this.ids.take(),
      record_type: 'fqdn',
      connection_id: seed.connection_id,
      fqdn: seed.fqdn,
      port: seed.port ?? 5060,
      dns_record_type: seed.dns_record_type ?? 'a',
      created_at: at,
      updated_at: at,
    };
    this.fqdns.set(record.id, record);
    // Telnyx points a connection's primary FQDN at its first FQDN.
    const connection = this.fqdnConnections.get(seed.connection_id)!;
    if (!connection.inbound.default_primary_fqdn_id) connection.inbound.default_primary_fqdn_id = record.id;
    return record;
  }

  getFqdnConnection(id: string): FqdnConnectionRecord {
    const record = this.fqdnConnections.get(id);
    if (!record) throw notFound(`FQDN connection ${id} not found`);
    return record;
  }

  /** Applies a spec-valid UpdateFqdnConnectionRequest: nested settings objects merge, everything else replaces. */
  updateFqdnConnection(id: string, changes: Record<string, unknown>): FqdnConnectionRecord {
    const record = this.getFqdnConnection(id);
    for (const [field, value] of Object.entries(changes)) {
      const current = record[field];
      record[field] = isPlainObject(value) && isPlainObject(current) ? { ...current, ...value } : value;
    }
    record.updated_at = now();
    return record;
  }

  listFqdns(filter: FqdnFilter): FqdnRecord[] {
    return [...this.fqdns.values()].filter(
      (f) =>
        (filter.connection_id === undefined || f.connection_id === filter.connection_id) &&
        (filter.fqdn === undefined || f.fqdn === filter.fqdn) &&
        (filter.port === undefined || f.port === filter.port) &&
        (filter.dns_record_type === undefined || f.dns_record_type === filter.dns_record_type),
    );
  }

  // ---- TeXML applications --------------------------------------------------------------------------------

  /**
   * A new TeXML application from a spec-valid CreateTexmlApplicationRequest (or a control-route entry with a fixed
   * id). Its id shares the connection id space: a number's `connection_id` may name it.
   */
  addTexmlApplication(seed: TexmlApplicationSeed): TexmlApplicationRecord {
    const { id: wantedId, ...fields } = seed;
    if (wantedId !== undefined && !/^\d+$/.test(String(wantedId)))
      throw new Error(`TeXML application id must be a numeric string like Telnyx's, got ${JSON.stringify(wantedId)}`);
    if (typeof fields.friendly_name !== 'string' || fields.friendly_name === '')
      throw new Error('TeXML application friendly_name must be a non-empty string');
    if (typeof fields.voice_url !== 'string' || !URL.canParse(fields.voice_url))
      throw new Error(`TeXML application voice_url must be a URL, got ${JSON.stringify(fields.voice_url)}`);
    if (wantedId !== undefined && (this.fqdnConnections.has(wantedId) || this.texmlApplications.has(wantedId)))
      throw new Error(`id ${wantedId} is already a connection or TeXML application of this account`);
    const at = now();
    const record: TexmlApplicationRecord = {
      active: true,
      anchorsite_override: 'Latency',
      dtmf_type: 'RFC 2833',
      first_command_timeout: false,
      first_command_timeout_secs: 30,
      call_cost_in_webhooks: false,
      voice_method: 'post',
      status_callback_method: 'post',
      tags: [],
      ...fields,
      inbound: { shaken_stir_enabled: false, sip_subdomain_receive_settings: 'from_anyone', ...(fields.inbound ?? {}) },
      outbound: { ...(fields.outbound ?? {}) },
      id: wantedId ?? this.ids.take(),
      record_type: 'texml_application',
      friendly_name: fields.friendly_name,
      voice_url: fields.voice_url,
      created_at: at,
      updated_at: at,
    };
    this.texmlApplications.set(record.id, record);
    return record;
  }

  getTexmlApplication(id: string): TexmlApplicationRecord {
    const record = this.texmlApplications.get(id);
    if (!record) throw notFound(`TeXML application ${id} not found`);
    return record;
  }

  /**
   * Applications matching the filter (friendly_name: contains, case-insensitive, three characters at least), sorted
   * by `sort` (`-` for descending); without one, newest first, as the spec says.
   */
  listTexmlApplications(filter: TexmlApplicationFilter, sort?: string): TexmlApplicationRecord[] {
    const name = filter.friendly_name;
    if (name !== undefined && name.length < 3)
      throw badRequest('filter[friendly_name] requires at least three characters', {
        parameter: 'filter[friendly_name]',
      });
    const found = [...this.texmlApplications.values()].filter(
      (a) =>
        (name === undefined || a.friendly_name.toLowerCase().includes(name.toLowerCase())) &&
        (filter.outbound_voice_profile_id === undefined ||
          a.outbound.outbound_voice_profile_id === filter.outbound_voice_profile_id),
    );
    const field = (sort ?? '-created_at').replace(/^-/, '') as 'created_at' | 'friendly_name' | 'active';
    const direction = (sort ?? '-created_at').startsWith('-') ? -1 : 1;
    // Stable sort over insertion order, so applications created within one millisecond keep their order.
    const indexed = found.map((application, index) => ({ application, index }));
    indexed.sort((a, b) => {
      const x = String(a.application[field]);
      const y = String(b.application[field]);
      return (x < y ? -1 : x > y ? 1 : a.index - b.index) * direction;
    });
    return indexed.map((entry) => entry.application);
  }

  // ---- phone numbers --------------------------------------------------------------------------------------

  /** A number as the API shows it; deleted numbers are gone (404), as at Telnyx. */
  getPhoneNumber(id: string): PhoneNumberRecord {
    const record = this.phoneNumbers.get(id);
    if (!record || record.status === 'deleted') throw notFound(`Phone number ${id} not found`);
    return record;
  }

  /** The name of what a number's connection_id names: an FQDN connection's name or a TeXML application's. */
  connectionName(connectionId: string | null): string | null {
    if (!connectionId) return null;
    return (
      this.fqdnConnections.get(connectionId)?.connection_name ??
      this.texmlApplications.get(connectionId)?.friendly_name ??
      null
    );
  }

  /** Whether an id names something a number can be put on: an FQDN connection or a TeXML application. */
  private isConnection(connectionId: string): boolean {
    return this.fqdnConnections.has(connectionId) || this.texmlApplications.has(connectionId);
  }

  private requireConnection(connectionId: string | undefined, pointer: string): void {
    if (connectionId && !this.isConnection(connectionId)) {
      throw unprocessable(
        pointer,
        `connection_id ${connectionId} is not a connection of this account`,
        'Invalid connection',
      );
    }
  }

  private activeNumber(phoneNumber: string): PhoneNumberRecord | undefined {
    return [...this.phoneNumbers.values()].find((n) => n.phone_number === phoneNumber && n.status !== 'deleted');
  }

  /** The active number `to` and the FQDN connection it routes to, if any. */
  routeOf(
    phoneNumber: string,
  ): { number: PhoneNumberRecord; connection: FqdnConnectionRecord; fqdns: FqdnRecord[] } | undefined {
    const number = this.activeNumber(phoneNumber);
    if (!number || number.status !== 'active' || !number.connection_id) return undefined;
    const connection = this.fqdnConnections.get(number.connection_id);
    if (!connection || !connection.active) return undefined;
    const fqdns = this.listFqdns({ connection_id: connection.id });
    return fqdns.length ? { number, connection, fqdns } : undefined;
  }

  /** The active number `to` and the active TeXML application answering it, if it is on one. */
  texmlRouteOf(phoneNumber: string): { number: PhoneNumberRecord; application: TexmlApplicationRecord } | undefined {
    const number = this.activeNumber(phoneNumber);
    if (!number || number.status !== 'active' || !number.connection_id) return undefined;
    const application = this.texmlApplications.get(number.connection_id);
    return application?.active ? { number, application } : undefined;
  }

  listPhoneNumbers(filter: PhoneNumberFilter): PhoneNumberRecord[] {
    let digits: string | undefined;
    if (filter.phone_number !== undefined) {
      digits = filter.phone_number.replace(/^\+/, '');
      if (/^\d*$/.test(digits) && digits.length < 3) {
        throw badRequest('filter[phone_number] requires at least three digits', { parameter: 'filter[phone_number]' });
      }
    }
    return [...this.phoneNumbers.values()].filter(
      (n) =>
        n.status !== 'deleted' &&
        // Partial match on digits; any other character matches nothing (the spec's words).
        (digits === undefined || (/^\d+$/.test(digits) && n.phone_number.replace(/^\+/, '').includes(digits))) &&
        (filter.connection_id === undefined || n.connection_id === filter.connection_id) &&
        (filter.customer_reference === undefined || n.customer_reference === filter.customer_reference) &&
        (filter.tag === undefined || n.tags.includes(filter.tag)) &&
        (filter.status === undefined || n.status === filter.status),
    );
  }

  updatePhoneNumber(id: string, changes: UpdatePhoneNumberInput): PhoneNumberRecord {
    const record = this.getPhoneNumber(id);
    // An empty connection_id detaches the number from its connection.
    if (changes.connection_id !== undefined) {
      this.requireConnection(changes.connection_id || undefined, '/connection_id');
      record.connection_id = changes.connection_id || null;
    }
    if (changes.tags !== undefined) record.tags = [...changes.tags];
    if (changes.customer_reference !== undefined) record.customer_reference = changes.customer_reference;
    if (changes.billing_group_id !== undefined) record.billing_group_id = changes.billing_group_id;
    if (changes.external_pin !== undefined) record.external_pin = changes.external_pin;
    if (changes.hd_voice_enabled !== undefined) record.hd_voice_enabled = changes.hd_voice_enabled;
    record.updated_at = now();
    return record;
  }

  /** Releases a number; refused while its deletion lock is on. Returns the record as it was deleted. */
  deletePhoneNumber(id: string): PhoneNumberRecord {
    const record = this.getPhoneNumber(id);
    if (record.deletion_lock_enabled) {
      throw new TelnyxApiError(422, [
        {
          code: '10015',
          title: 'Deletion lock enabled',
          detail:
            `Phone number ${record.phone_number} (id ${id}) has deletion lock enabled; ` +
            `disable the lock before deleting it`,
          source: { pointer: '/deletion_lock_enabled' },
        },
      ]);
    }
    record.status = 'deleted';
    record.updated_at = now();
    return record;
  }

  /** A new /phone_numbers record in the account: a local US number bought at `at`, with what varies per number. */
  private newPhoneNumber(
    at: string,
    fields: Pick<
      PhoneNumberRecord,
      | 'phone_number'
      | 'status'
      | 'tags'
      | 'connection_id'
      | 'customer_reference'
      | 'billing_group_id'
      | 'deletion_lock_enabled'
      | 'activated_at'
    >,
  ): PhoneNumberRecord {
    const record: PhoneNumberRecord = {
      id: this.ids.take(),
      record_type: 'phone_number',
      ...fields,
      external_pin: null,
      hd_voice_enabled: false,
      phone_number_type: 'local',
      country_iso_alpha2: 'US',
      source_type: 'number_order',
      purchased_at: at,
      created_at: at,
      updated_at: at,
    };
    this.phoneNumbers.set(record.id, record);
    return record;
  }

  /** Puts a number straight into the account (a number bought before the test, or one locked by the founder). */
  seedPhoneNumber(seed: PhoneNumberSeed): PhoneNumberRecord {
    if (typeof seed.phone_number !== 'string' || !E164_PATTERN.test(seed.phone_number)) {
      throw new Error(`seed phone_number must be E.164 with a leading "+", got ${JSON.stringify(seed.phone_number)}`);
    }
    if (this.activeNumber(seed.phone_number))
      throw new Error(`seed phone_number ${seed.phone_number} is already in the account`);
    if (seed.connection_id && !this.isConnection(seed.connection_id)) {
      throw new Error(
        `seed connection_id ${seed.connection_id} is not one of the stand-in's connections or TeXML applications`,
      );
    }
    if (seed.status !== undefined && !PHONE_NUMBER_STATUSES.includes(seed.status)) {
      throw new Error(
        `seed status must be one of ${PHONE_NUMBER_STATUSES.join(', ')}, got ${JSON.stringify(seed.status)}`,
      );
    }
    const at = now();
    const status = seed.status ?? 'active';
    const record = this.newPhoneNumber(at, {
      phone_number: seed.phone_number,
      status,
      tags: [...(seed.tags ?? [])],
      connection_id: seed.connection_id ?? null,
      customer_reference: seed.customer_reference ?? null,
      billing_group_id: seed.billing_group_id ?? null,
      deletion_lock_enabled: seed.deletion_lock_enabled ?? false,
      activated_at: status === 'active' ? at : null,
    });
    this.inventory.sell(seed.phone_number, 'seed');
    return record;
  }

  // ---- number orders --------------------------------------------------------------------------------------

  /**
   * A number on hold can be ordered: the stand-in is one Telnyx account, and Telnyx sells a held number to the
   * account that holds it (whichever church's checkout the hold was for; keeping one church off another's held
   * number is the service's business, and its searches leave held numbers out). Only another Telnyx customer is
   * kept off it (`takeNumber`).
   */
  createNumberOrder(input: CreateOrderInput): NumberOrderRecord {
    const wanted = (input.phone_numbers ?? []).map((p) => p.phone_number);
    if (wanted.length === 0)
      throw badRequest('You must provide at least 1 phone number.', { pointer: '/phone_numbers' });
    this.requireConnection(input.connection_id, '/connection_id');
    wanted.forEach((phoneNumber, i) => {
      const pointer = `/phone_numbers/${i}/phone_number`;
      if (wanted.indexOf(phoneNumber) !== i)
        throw unprocessable(pointer, `${phoneNumber} is listed twice in this order`);
      if (!this.inventory.isAvailable(phoneNumber)) {
        throw unprocessable(
          pointer,
          `${phoneNumber} is not available for purchase: order only numbers a search just returned`,
          'Number not available',
        );
      }
    });
    const at = now();
    const order: NumberOrderRecord = {
      id: randomUUID(),
      record_type: 'number_order',
      status: 'pending',
      phone_numbers: [],
      ...(input.connection_id !== undefined ? { connection_id: input.connection_id } : {}),
      ...(input.customer_reference !== undefined ? { customer_reference: input.customer_reference } : {}),
      ...(input.billing_group_id !== undefined ? { billing_group_id: input.billing_group_id } : {}),
      ...(input.messaging_profile_id !== undefined ? { messaging_profile_id: input.messaging_profile_id } : {}),
      requirements_met: true,
      sub_number_orders_ids: [randomUUID()],
      created_at: at,
      updated_at: at,
      phoneNumberIds: [],
      polls: 0,
    };
    for (const phoneNumber of wanted) {
      this.inventory.sell(phoneNumber, order.id);
      order.phone_numbers.push({
        id: randomUUID(),
        record_type: 'number_order_phone_number',
        phone_number: phoneNumber,
        phone_number_type: 'local',
        country_code: 'US',
        status: 'pending',
        requirements_met: true,
        requirements_status: 'approved',
        regulatory_requirements: [],
      });
      const number = this.newPhoneNumber(at, {
        phone_number: phoneNumber,
        status: 'purchase-pending',
        tags: [],
        connection_id: input.connection_id ?? null,
        customer_reference: input.customer_reference ?? null,
        billing_group_id: input.billing_group_id ?? null,
        deletion_lock_enabled: false,
        activated_at: null,
      });
      order.phoneNumberIds.push(number.id);
    }
    this.numberOrders.set(order.id, order);
    if (this.orderCompletesAfterPolls <= 0) this.completeOrder(order);
    return order;
  }

  /** Marks an order fulfilled: its lines succeed and its numbers become active. */
  completeOrder(order: NumberOrderRecord): void {
    if (order.status !== 'pending') return;
    const at = now();
    order.status = 'success';
    order.updated_at = at;
    for (const line of order.phone_numbers) line.status = 'success';
    for (const id of order.phoneNumberIds) {
      const number = this.phoneNumbers.get(id);
      if (number && number.status === 'purchase-pending') {
        number.status = 'active';
        number.activated_at = at;
        number.updated_at = at;
      }
    }
  }

  /** A GET of the order: counts as a poll, and completes the order once it has been polled enough. */
  pollNumberOrder(id: string): NumberOrderRecord {
    const order = this.numberOrders.get(id);
    if (!order) throw notFound(`Number order ${id} not found`);
    order.polls += 1;
    if (order.polls >= this.orderCompletesAfterPolls) this.completeOrder(order);
    return order;
  }

  listNumberOrders(filter: NumberOrderFilter): NumberOrderRecord[] {
    return [...this.numberOrders.values()].filter(
      (o) =>
        (filter.status === undefined || o.status === filter.status) &&
        (filter.customer_reference === undefined || o.customer_reference === filter.customer_reference),
    );
  }

  // ---- number reservations (holds) ------------------------------------------------------------------------

  /** The hold on a number for sale right now (not lapsed, not bought since), if any. */
  holdOf(phoneNumber: string): { reservation: NumberReservationRecord; number: ReservedNumberRecord } | undefined {
    if (!this.inventory.isAvailable(phoneNumber)) return undefined;
    const at = this.clock().getTime();
    for (const reservation of this.numberReservations.values()) {
      const number = reservation.phone_numbers.find(
        (n) => n.phone_number === phoneNumber && n.status === 'success' && Date.parse(n.expired_at) > at,
      );
      if (number) return { reservation, number };
    }
    return undefined;
  }

  /** Holds numbers for sale for NUMBER_HOLD_MS. Every number must be for sale and on no other hold. */
  createNumberReservation(input: CreateReservationInput): NumberReservationRecord {
    const wanted = (input.phone_numbers ?? []).map((p) => p.phone_number);
    if (wanted.length === 0)
      throw badRequest('You must provide at least 1 phone number.', { pointer: '/phone_numbers' });
    const numbers = wanted.map((phoneNumber, i) => {
      const pointer = `/phone_numbers/${i}/phone_number`;
      if (phoneNumber === undefined) throw unprocessable(pointer, 'phone_number is required', 'Invalid parameter');
      if (wanted.indexOf(phoneNumber) !== i)
        throw unprocessable(pointer, `${phoneNumber} is listed twice in this reservation`);
      if (!this.inventory.isAvailable(phoneNumber)) {
        throw unprocessable(
          pointer,
          `${phoneNumber} is not available: reserve only numbers a search just returned`,
          'Number not available',
        );
      }
      const hold = this.holdOf(phoneNumber);
      if (hold) {
        throw unprocessable(
          pointer,
          `Number is already on hold (reservation ${hold.reservation.id}, until ${hold.number.expired_at})`,
          'Number already on hold',
        );
      }
      return phoneNumber;
    });
    const at = this.clock();
    const created = at.toISOString();
    const expires = new Date(at.getTime() + NUMBER_HOLD_MS).toISOString();
    const reservation: NumberReservationRecord = {
      id: randomUUID(),
      record_type: 'number_reservation',
      status: 'success',
      ...(input.customer_reference !== undefined ? { customer_reference: input.customer_reference } : {}),
      phone_numbers: numbers.map((phoneNumber) => ({
        id: randomUUID(),
        record_type: 'reserved_phone_number',
        phone_number: phoneNumber,
        status: 'success',
        created_at: created,
        updated_at: created,
        expired_at: expires,
      })),
      created_at: created,
      updated_at: created,
    };
    this.numberReservations.set(reservation.id, reservation);
    return reservation;
  }

  getNumberReservation(id: string): NumberReservationRecord {
    const reservation = this.numberReservations.get(id);
    if (!reservation) throw notFound(`Number reservation ${id} not found`);
    return reservation;
  }

  /**
   * Holds every number of the reservation that is still held for NUMBER_HOLD_MS from now. A reservation none of
   * whose numbers is held any more (lapsed, or bought) cannot be extended: the number may have been sold to
   * someone else meanwhile, so it takes a new reservation.
   */
  extendNumberReservation(id: string): NumberReservationRecord {
    const reservation = this.getNumberReservation(id);
    const held = reservation.phone_numbers.filter((n) => this.holdOf(n.phone_number)?.number === n);
    if (held.length === 0) {
      throw unprocessable(
        '/number_reservation_id',
        `Number reservation ${id} holds no number any more (expired or purchased): create a new reservation`,
        'Reservation expired',
      );
    }
    const at = this.clock();
    for (const number of held) {
      number.expired_at = new Date(at.getTime() + NUMBER_HOLD_MS).toISOString();
      number.updated_at = at.toISOString();
    }
    reservation.updated_at = at.toISOString();
    return reservation;
  }

  listNumberReservations(filter: NumberReservationFilter): NumberReservationRecord[] {
    const instant = (value: string | undefined, bound: 'gt' | 'lt') => {
      if (value === undefined) return undefined;
      const ms = Date.parse(value);
      if (Number.isNaN(ms))
        throw badRequest(`filter[created_at][${bound}] must be a date-time, got ${JSON.stringify(value)}`, {
          parameter: `filter[created_at][${bound}]`,
        });
      return ms;
    };
    const after = instant(filter.created_at?.gt, 'gt');
    const before = instant(filter.created_at?.lt, 'lt');
    const phoneNumber = filter['phone_numbers.phone_number'];
    const digits = phoneNumber?.replace(/^\+/, '');
    return [...this.numberReservations.values()].filter(
      (r) =>
        (filter.status === undefined || r.status === filter.status) &&
        (filter.customer_reference === undefined || r.customer_reference === filter.customer_reference) &&
        (digits === undefined || r.phone_numbers.some((n) => n.phone_number.replace(/^\+/, '') === digits)) &&
        (after === undefined || Date.parse(r.created_at) > after) &&
        (before === undefined || Date.parse(r.created_at) < before),
    );
  }

  /**
   * Ends holds now, as if their 30 minutes had passed: every hold, one reservation's, or one number's. Returns the
   * reservations whose holds ended.
   */
  expireHolds(filter: ExpireHoldsFilter = {}): NumberReservationRecord[] {
    if (filter.id !== undefined && !this.numberReservations.has(filter.id))
      throw new Error(`no number reservation ${filter.id}`);
    const at = this.clock().toISOString();
    const touched: NumberReservationRecord[] = [];
    for (const reservation of this.numberReservations.values()) {
      if (filter.id !== undefined && reservation.id !== filter.id) continue;
      const ending = reservation.phone_numbers.filter(
        (n) =>
          (filter.phone_number === undefined || n.phone_number === filter.phone_number) &&
          this.holdOf(n.phone_number)?.number === n,
      );
      for (const number of ending) {
        number.expired_at = at;
        number.updated_at = at;
      }
      if (ending.length) {
        reservation.updated_at = at;
        touched.push(reservation);
      }
    }
    return touched;
  }

  /**
   * Another Telnyx customer buys a number for sale (the number is gone from the search). Refused while the number
   * is on hold: Telnyx sells a held number to no one but the account holding it.
   */
  takeNumber(phoneNumber: string): void {
    if (typeof phoneNumber !== 'string' || !E164_PATTERN.test(phoneNumber))
      throw new Error(`phone_number must be E.164 with a leading "+", got ${JSON.stringify(phoneNumber)}`);
    if (!this.inventory.isAvailable(phoneNumber))
      throw new Error(`${phoneNumber} is not for sale in the stand-in (a search of its area code stocks it)`);
    const hold = this.holdOf(phoneNumber);
    if (hold) {
      throw new Error(
        `${phoneNumber} is on hold (reservation ${hold.reservation.id}, until ${hold.number.expired_at}): ` +
          'expire the hold first',
      );
    }
    this.inventory.sell(phoneNumber, 'another customer');
  }
}
