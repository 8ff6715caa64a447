/**
 * The one LiveKit client of this project. Every call to the LiveKit server API goes through here so that errors
 * and retries follow vendors/vendor-request.ts: transport errors and 5xx retry, other 4xx are final, and
 * failures surface as a VendorError naming the RPC (e.g. `livekit CreateSIPInboundTrunk /twirp/livekit.SIP/...`).
 *
 * Deliberately missing: any way to put authentication on an inbound trunk. Telnyx sends no credentials, so a trunk
 * with auth rejects every call; the only auth operation offered is clearing it.
 */
import { ListUpdate, type AgentDispatch } from '@livekit/protocol';
import {
  AgentDispatchClient,
  RoomAgentDispatch,
  RoomConfiguration,
  RoomServiceClient,
  ServerError,
  SIPDispatchRule,
  SIPDispatchRuleIndividual,
  SIPDispatchRuleInfo,
  SIPInboundTrunkInfo,
  SipClient,
} from 'livekit-server-sdk';
import { refuseLockedWrite } from './livekit-locks';
import { livekitSettings, type LiveKitSettings } from './vendor-settings';
import {
  DEFAULT_RETRY_POLICY,
  VendorError,
  callVendor,
  type AttemptFailure,
  type RetryPolicy,
  type VendorCall,
} from './vendor-request';

export { SIPDispatchRuleInfo, SIPInboundTrunkInfo };

/** What a new inbound trunk carries. No auth fields: see the file comment. */
export interface InboundTrunkSpec {
  name: string;
  numbers: string[];
  metadata?: string;
  allowedAddresses?: string[];
  krispEnabled?: boolean;
}

/** Changes to an inbound trunk; absent fields stay as they are. Lists replace the whole list. */
export interface InboundTrunkChanges {
  name?: string;
  metadata?: string;
  numbers?: string[];
  allowedAddresses?: string[];
  krispEnabled?: boolean;
  /** Removes auth username and password (drift: auth added by hand makes LiveKit reject Telnyx's INVITEs). */
  clearAuth?: boolean;
  /** Removes the caller allow-list (drift: it would refuse every caller not on it). */
  clearAllowedNumbers?: boolean;
}

export interface AgentDispatchSpec {
  agentName: string;
  metadata: string;
}

/** An individual dispatch rule (one room per caller, `<roomPrefix>_<caller>_<random>`) bound to trunks. */
export interface DispatchRuleSpec {
  roomPrefix: string;
  trunkIds: string[];
  agents: AgentDispatchSpec[];
  name?: string;
  metadata?: string;
  attributes?: Record<string, string>;
}

/** Changes to a dispatch rule; absent fields stay. `attributes` replaces the whole map. */
export interface DispatchRuleChanges {
  roomPrefix?: string;
  trunkIds?: string[];
  agents?: AgentDispatchSpec[];
  name?: string;
  metadata?: string;
  attributes?: Record<string, string>;
  /**
   * Makes the rule a plain individual rule again: no pin, no caller/callee filters (inboundNumbers, numbers), phone
   * number not hidden. Any of them set by hand would refuse or misroute calls the trunk sends here.
   */
  resetRouting?: boolean;
}

export interface TrunkFilter {
  trunkIds?: string[];
  numbers?: string[];
}

export interface DispatchRuleFilter {
  dispatchRuleIds?: string[];
  trunkIds?: string[];
}

const SIP_SERVICE = 'livekit.SIP';
const ROOM_SERVICE = 'livekit.RoomService';
const AGENT_DISPATCH_SERVICE = 'livekit.AgentDispatchService';

/** Twirp codes whose HTTP status we pin, whatever a proxy in between reports. */
const TWIRP_STATUS: Record<string, number> = { not_found: 404, invalid_argument: 400, unauthenticated: 401 };

/** LiveKit echoes a rejected bearer token in its 401 message; a token never goes into an error or a log. */
const JWT_PATTERN = /eyJ[\w-]+\.[\w-]+\.[\w-]+/g;

export function redactTokens(text: string): string {
  return text.replace(JWT_PATTERN, '<redacted token>');
}

/**
 * Turns what the SDK threw into an AttemptFailure; undefined for anything that is not a vendor answer or a
 * transport failure (a bug of ours, rethrown untouched by callVendor).
 */
export function classifyLiveKitError(error: unknown): AttemptFailure | undefined {
  if (error instanceof ServerError) {
    const code = error.code || undefined;
    const status = (code ? TWIRP_STATUS[code] : undefined) ?? error.status;
    return { status, code, detail: redactTokens(error.message || error.name || 'no message') };
  }
  // Checked by name, not instanceof: fetch's errors come from Node's own realm, which differs from a test VM's.
  const { name, message, cause } = (error ?? {}) as { name?: unknown; message?: unknown; cause?: unknown };
  // Timeouts are aborts of the SDK's AbortSignal.timeout.
  if (name === 'TimeoutError' || name === 'AbortError') return { detail: `request timed out (${String(message)})` };
  // fetch() rejects with TypeError("fetch failed") carrying the socket error (ECONNREFUSED, ECONNRESET...) as cause.
  if (name === 'TypeError' && message === 'fetch failed') {
    const { code, message: causeMessage } = (cause ?? {}) as { code?: unknown; message?: unknown };
    return { detail: `fetch failed: ${code ? `${String(code)}: ` : ''}${String(causeMessage ?? cause)}` };
  }
  return undefined;
}

function sameMembers(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const sorted = [...b].sort();
  return [...a].sort().every((value, i) => value === sorted[i]);
}

/** A create whose answer was lost (transport error, 5xx) may still have happened at LiveKit. */
function outcomeUnknown(error: unknown): error is VendorError {
  return error instanceof VendorError && (error.status === undefined || error.status >= 500);
}

/**
 * Makes a create idempotent. First looks for what it would make: a process that died after LiveKit made the object
 * but before the engine recorded it left it there, and a second create would collide with it (same number).
 * Then sends the create once; when its answer is lost, looks again and returns what the create made, if it did.
 */
async function createOnce<T>(create: () => Promise<T>, findCreated: () => Promise<T | undefined>): Promise<T> {
  const madeEarlier = await findCreated();
  if (madeEarlier) return madeEarlier;
  try {
    return await create();
  } catch (error) {
    if (!outcomeUnknown(error)) throw error;
    const created = await findCreated();
    if (created) return created;
    throw error;
  }
}

function listUpdate(values: string[]): ListUpdate {
  // An empty `set` is dropped from the JSON and would change nothing: clearing needs `clear`.
  return values.length === 0 ? new ListUpdate({ clear: true }) : new ListUpdate({ set: values });
}

function individualRule(roomPrefix: string): SIPDispatchRule {
  return new SIPDispatchRule({
    rule: { case: 'dispatchRuleIndividual', value: new SIPDispatchRuleIndividual({ roomPrefix, pin: '' }) },
  });
}

function agentDispatches(agents: AgentDispatchSpec[]): RoomAgentDispatch[] {
  return agents.map((a) => new RoomAgentDispatch({ agentName: a.agentName, metadata: a.metadata }));
}

export class LiveKitClient {
  readonly settings: LiveKitSettings;
  private readonly retryPolicy: RetryPolicy;
  private readonly sip: SipClient;

  /** Defaults to the provider settings (stack config or env) read now, at call time. */
  constructor(settings: LiveKitSettings = livekitSettings(), retryPolicy: RetryPolicy = DEFAULT_RETRY_POLICY) {
    this.settings = settings;
    this.retryPolicy = retryPolicy;
    // failover:false: the SDK's own region failover would be a second retry loop (LiveKit Cloud hosts only).
    this.sip = new SipClient(settings.url, settings.apiKey, settings.apiSecret, { failover: false });
  }

  private call<T>(service: string, method: string, attempt: () => Promise<T>, idempotent = true): Promise<T> {
    const call: VendorCall = { vendor: 'livekit', method, path: `/twirp/${service}/${method}`, idempotent };
    return callVendor(call, attempt, classifyLiveKitError, this.retryPolicy);
  }

  private sipCall<T>(method: string, attempt: (sip: SipClient) => Promise<T>, idempotent = true): Promise<T> {
    return this.call(SIP_SERVICE, method, () => attempt(this.sip), idempotent);
  }

  /**
   * The RoomService API under the same error and retry rule, e.g.
   * `client.rooms('ListRooms', (r) => r.listRooms())`. Pass idempotent=false for calls that must not repeat.
   */
  rooms<T>(method: string, attempt: (rooms: RoomServiceClient) => Promise<T>, idempotent = true): Promise<T> {
    const rooms = new RoomServiceClient(this.settings.url, this.settings.apiKey, this.settings.apiSecret, {
      failover: false,
    });
    return this.call(ROOM_SERVICE, method, () => attempt(rooms), idempotent);
  }

  /** The agent dispatches of a room: which agents were sent into it, with what metadata. */
  listAgentDispatches(roomName: string): Promise<AgentDispatch[]> {
    const dispatch = new AgentDispatchClient(this.settings.url, this.settings.apiKey, this.settings.apiSecret, {
      failover: false,
    });
    return this.call(AGENT_DISPATCH_SERVICE, 'ListDispatch', () => dispatch.listDispatch(roomName));
  }

  // ---- inbound trunks ----

  /**
   * Creates a trunk. Not blindly retried (a second create would collide with the first on the same numbers);
   * when the answer is lost, the trunk is looked up by its numbers and returned if the create did happen.
   */
  async createInboundTrunk(spec: InboundTrunkSpec): Promise<SIPInboundTrunkInfo> {
    return createOnce(
      () =>
        this.sipCall(
          'CreateSIPInboundTrunk',
          (sip) =>
            sip.createSipInboundTrunk(spec.name, spec.numbers, {
              metadata: spec.metadata ?? '',
              allowedAddresses: spec.allowedAddresses ?? [],
              krispEnabled: spec.krispEnabled ?? false,
            }),
          false,
        ),
      async () =>
        (await this.listInboundTrunks({ numbers: spec.numbers })).find(
          (t) => t.name === spec.name && sameMembers(t.numbers, spec.numbers),
        ),
    );
  }

  listInboundTrunks(filter: TrunkFilter = {}): Promise<SIPInboundTrunkInfo[]> {
    return this.sipCall('ListSIPInboundTrunk', async (sip) =>
      // With trunkIds the server answers a placeholder for each missing id; keep real trunks only.
      (await sip.listSipInboundTrunk(filter)).filter((t) => t && t.sipTrunkId),
    );
  }

  /** The trunk with this id, or undefined when LiveKit has none. */
  async getInboundTrunk(sipTrunkId: string): Promise<SIPInboundTrunkInfo | undefined> {
    const found = await this.listInboundTrunks({ trunkIds: [sipTrunkId] });
    return found.find((t) => t.sipTrunkId === sipTrunkId);
  }

  /**
   * Applies changes in place (the trunk id stays). Uses the partial-update API, except for fields it lacks
   * (krispEnabled), where the whole trunk is replaced from its current state with the changes applied.
   */
  async updateInboundTrunk(sipTrunkId: string, changes: InboundTrunkChanges): Promise<SIPInboundTrunkInfo> {
    refuseLockedWrite('trunk', sipTrunkId, 'update');
    if (changes.krispEnabled !== undefined) {
      const current = await this.getInboundTrunk(sipTrunkId);
      if (!current) throw this.missing('UpdateSIPInboundTrunk', `inbound trunk ${sipTrunkId}`);
      const next = current.clone();
      if (changes.name !== undefined) next.name = changes.name;
      if (changes.metadata !== undefined) next.metadata = changes.metadata;
      if (changes.numbers !== undefined) next.numbers = [...changes.numbers];
      if (changes.allowedAddresses !== undefined) next.allowedAddresses = [...changes.allowedAddresses];
      if (changes.clearAuth) {
        next.authUsername = '';
        next.authPassword = '';
      }
      if (changes.clearAllowedNumbers) next.allowedNumbers = [];
      next.krispEnabled = changes.krispEnabled;
      return this.sipCall('UpdateSIPInboundTrunk', (sip) => sip.updateSipInboundTrunk(sipTrunkId, next));
    }
    return this.sipCall('UpdateSIPInboundTrunk', (sip) =>
      sip.updateSipInboundTrunkFields(sipTrunkId, {
        name: changes.name,
        metadata: changes.metadata,
        numbers: changes.numbers && listUpdate(changes.numbers),
        allowedAddresses: changes.allowedAddresses && listUpdate(changes.allowedAddresses),
        allowedNumbers: changes.clearAllowedNumbers ? listUpdate([]) : undefined,
        // Optional fields: an explicit empty string clears them.
        authUsername: changes.clearAuth ? '' : undefined,
        authPassword: changes.clearAuth ? '' : undefined,
      }),
    );
  }

  /** Deletes a trunk; LiveKit answers success for an unknown id too. */
  async deleteTrunk(sipTrunkId: string): Promise<void> {
    refuseLockedWrite('trunk', sipTrunkId, 'delete');
    await this.sipCall('DeleteSIPTrunk', (sip) => sip.deleteSipTrunk(sipTrunkId));
  }

  // ---- dispatch rules ----

  /** Creates a rule; like trunks, not blindly retried, and looked up by trunks and name when the answer is lost. */
  async createDispatchRule(spec: DispatchRuleSpec): Promise<SIPDispatchRuleInfo> {
    refuseLockedWrite('dispatch rule', '(new)', 'create', spec.trunkIds);
    return createOnce(
      () =>
        this.sipCall(
          'CreateSIPDispatchRule',
          (sip) =>
            sip.createSipDispatchRule(
              { type: 'individual', roomPrefix: spec.roomPrefix },
              {
                name: spec.name ?? '',
                metadata: spec.metadata ?? '',
                attributes: spec.attributes ?? {},
                trunkIds: spec.trunkIds,
                roomConfig: new RoomConfiguration({ agents: agentDispatches(spec.agents) }),
              },
            ),
          false,
        ),
      async () =>
        (await this.listDispatchRules({ trunkIds: spec.trunkIds })).find(
          (r) => r.name === (spec.name ?? '') && sameMembers(r.trunkIds, spec.trunkIds),
        ),
    );
  }

  listDispatchRules(filter: DispatchRuleFilter = {}): Promise<SIPDispatchRuleInfo[]> {
    return this.sipCall('ListSIPDispatchRule', async (sip) =>
      (await sip.listSipDispatchRule(filter)).filter((r) => r && r.sipDispatchRuleId),
    );
  }

  async getDispatchRule(sipDispatchRuleId: string): Promise<SIPDispatchRuleInfo | undefined> {
    const found = await this.listDispatchRules({ dispatchRuleIds: [sipDispatchRuleId] });
    return found.find((r) => r.sipDispatchRuleId === sipDispatchRuleId);
  }

  /**
   * Applies changes in place (the rule id stays). The partial-update API has no roomConfig and no caller
   * filters, so agent changes and filter resets replace the whole rule from its current state.
   */
  async updateDispatchRule(sipDispatchRuleId: string, changes: DispatchRuleChanges): Promise<SIPDispatchRuleInfo> {
    refuseLockedWrite('dispatch rule', sipDispatchRuleId, 'update', changes.trunkIds);
    // Read first in every case: a rule that routes a locked trunk is as locked as the trunk.
    const current = await this.getDispatchRule(sipDispatchRuleId);
    if (!current) throw this.missing('UpdateSIPDispatchRule', `dispatch rule ${sipDispatchRuleId}`);
    refuseLockedWrite('dispatch rule', sipDispatchRuleId, 'update', current.trunkIds);

    if (current && (changes.agents !== undefined || changes.resetRouting)) {
      const next = current.clone();
      if (changes.name !== undefined) next.name = changes.name;
      if (changes.metadata !== undefined) next.metadata = changes.metadata;
      if (changes.attributes !== undefined) next.attributes = { ...changes.attributes };
      if (changes.trunkIds !== undefined) next.trunkIds = [...changes.trunkIds];
      if (changes.resetRouting) {
        next.inboundNumbers = [];
        next.numbers = [];
        next.hidePhoneNumber = false;
        const prefix = changes.roomPrefix ?? individualPrefix(current) ?? '';
        next.rule = individualRule(prefix);
      } else if (changes.roomPrefix !== undefined) {
        next.rule = individualRule(changes.roomPrefix);
      }
      if (changes.agents !== undefined) {
        next.roomConfig = next.roomConfig ?? new RoomConfiguration();
        next.roomConfig.agents = agentDispatches(changes.agents);
      }
      return this.sipCall('UpdateSIPDispatchRule', (sip) => sip.updateSipDispatchRule(sipDispatchRuleId, next));
    }

    // The partial API merges attributes (an empty value deletes a key): send removals for keys no longer wanted.
    let attributes: Record<string, string> | undefined;
    if (changes.attributes !== undefined && current) {
      attributes = { ...changes.attributes };
      for (const key of Object.keys(current.attributes ?? {})) if (!(key in attributes)) attributes[key] = '';
    }
    return this.sipCall('UpdateSIPDispatchRule', (sip) =>
      sip.updateSipDispatchRuleFields(sipDispatchRuleId, {
        name: changes.name,
        metadata: changes.metadata,
        trunkIds: changes.trunkIds && listUpdate(changes.trunkIds),
        rule: changes.roomPrefix !== undefined ? individualRule(changes.roomPrefix) : undefined,
        attributes,
      }),
    );
  }

  /** Deletes a rule; unlike trunks, LiveKit answers 404 (a VendorError with notFound) for an unknown id. */
  async deleteDispatchRule(sipDispatchRuleId: string): Promise<void> {
    refuseLockedWrite('dispatch rule', sipDispatchRuleId, 'delete');
    // A rule that routes a locked trunk is as locked as the trunk. An unknown id goes on to LiveKit's own 404.
    const current = await this.getDispatchRule(sipDispatchRuleId);
    if (current) refuseLockedWrite('dispatch rule', sipDispatchRuleId, 'delete', current.trunkIds);
    await this.sipCall('DeleteSIPDispatchRule', (sip) => sip.deleteSipDispatchRule(sipDispatchRuleId));
  }

  private missing(method: string, what: string): VendorError {
    return new VendorError(
      { vendor: 'livekit', method, path: `/twirp/${SIP_SERVICE}/${method}` },
      { status: 404, code: 'not_found', detail: `${what} does not exist` },
      1,
    );
  }
}

/** The room prefix of an individual rule, undefined for other rule kinds. */
export function individualPrefix(rule: SIPDispatchRuleInfo): string | undefined {
  return rule.rule?.rule.case === 'dispatchRuleIndividual' ? rule.rule.rule.value.roomPrefix : undefined;
}

/** A client built from the provider settings read now (stack config, else env). */
export function livekitClient(): LiveKitClient {
  return new LiveKitClient(livekitSettings());
}
