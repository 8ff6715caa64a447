/**
 * The test ring: proof that a call to a church's number really reaches LiveKit with the church's dispatch.
 * Production and the sandbox run this same code: Telnyx Call Control dials the number from the company's number,
 * Telnyx routes the call through the number's FQDN connection to LiveKit's SIP endpoint, and LiveKit's API must
 * then show a room of the church with a SIP participant that came in through the church's trunk, and the agent
 * dispatched into it. Then the ring hangs up, on every path, and says what it saw.
 *
 * Identifying our call among real ones: an individual dispatch rule names the room `<prefix>_<caller>_<random>`
 * and the bridge sets `sip.phoneNumber` (caller) and `sip.trunkPhoneNumber` (called number) on the participant,
 * so a SIP participant with both equal to our `from` and `phoneNumber`, joined after we dialed, is our call.
 *
 * When no room appears, the ring reads the line's LiveKit setup to say why (no trunk lists the number, the trunk
 * requires auth, no dispatch rule...): LiveKit Cloud answers those INVITEs with 404/407, the open-source server
 * silently drops a call it has no rule for, and Telnyx's status API reports no SIP cause at all.
 */
import { ParticipantInfo_Kind, type ParticipantInfo } from '@livekit/protocol';
import type { LiveKitClient } from '../vendors/livekit-client';
import { DEFAULT_AGENT_NAME } from './livekit-sip-dispatch-rule';
import { checkE164, type RuleFailure } from '../common/phone-numbers';
import { InvalidInputError } from './refusals';
import type { TelnyxSettings } from '../vendors/vendor-settings';
import { TelnyxClient } from '../vendors/telnyx-client';
import { DEFAULT_RETRY_POLICY, VendorError, type RetryPolicy } from '../vendors/vendor-request';
import { sleep } from '../common/timing';

/** Why a ring failed; `detail` says it in words. */
export type RingCause =
  /** The trunk challenges the INVITE (auth set) or refuses the caller: Telnyx sends no credentials. */
  | 'call_rejected'
  /** No LiveKit trunk lists the number ("no trunk found"). */
  | 'not_found'
  /** The call reached LiveKit but no room of the church was made (no dispatch rule, or another rule took it). */
  | 'no_room'
  /** The call came in through (or the number sits on) another trunk than the church's. */
  | 'wrong_trunk'
  /** The church's room exists but the agent was not dispatched into it. */
  | 'no_agent'
  /** The agent was dispatched with another church's id: callers would reach the wrong church. */
  | 'wrong_church'
  /** Telnyx did not place the call, or the call ended before reaching LiveKit for a reason LiveKit does not show. */
  | 'call_failed'
  /** A parked number's call never reached the fallback message (providers/fallback-ring.ts). */
  | 'no_fallback'
  /** Nothing conclusive within the ring's time bound. */
  | 'timeout';

export interface RingResult {
  ok: boolean;
  cause?: RingCause;
  detail?: string;
  /** The room the call reached (also on some failures: where it went instead). */
  roomName?: string;
  participantIdentity?: string;
  elapsedMs: number;
  /** When the ring started (ISO 8601). */
  at: string;
}

/** Telnyx Call Control as a ring uses it. */
export interface RingCallControl {
  /** `POST /calls` from `from` to `to`, ringing at most `timeoutSecs`. */
  dial(call: { to: string; from: string; timeoutSecs: number }): Promise<{ callControlId: string }>;
  /** `GET /calls/{id}`. Telnyx reports no hangup cause here; an adapter that knows one (webhooks) may add it. */
  status(callControlId: string): Promise<{ ended: boolean; hangupCause?: string }>;
  /** `POST /calls/{id}/actions/hangup`; a call that already ended is not an error. */
  hangup(callControlId: string): Promise<void>;
}

export interface RingLineRequest {
  /** The church's number, E.164 with `+`. */
  phoneNumber: string;
  churchId: string;
  /** The trunk the call must come through. */
  expectedTrunkId: string;
  /** The dispatch rule that must place the call, when the line has one on record. */
  expectedDispatchRuleId?: string;
  /** Room names of the church start with this (the rule's roomPrefix). */
  roomPrefix?: string;
  /** Agent that must be dispatched into the room; default `churchwiseai-voice`. */
  agentName?: string;
  /** The company number the ring dials from, E.164. */
  from: string;
  /** Bound on the whole ring, dial to verdict (the hangup comes on top, bounded by the clients' timeouts). */
  timeoutMs: number;
  pollIntervalMs?: number;
  telnyx: RingCallControl;
  livekit: LiveKitClient;
}

/** Telnyx's bounds on `timeout_secs`. */
const TELNYX_RING_TIMEOUT = { min: 5, max: 600 } as const;
const TELNYX_TIMEOUT_MARGIN_SECS = 5;
const DEFAULT_POLL_INTERVAL_MS = 250;
/** LiveKit and our clock may disagree a little; a participant that joined this long before the dial is not ours. */
const JOIN_CLOCK_SLACK_MS = 5000;

interface Verdict {
  ok: boolean;
  cause?: RingCause;
  detail?: string;
  roomName?: string;
  participantIdentity?: string;
}

function validate(request: RingLineRequest): void {
  const problems: RuleFailure[] = [
    checkE164('phoneNumber', request.phoneNumber),
    checkE164('from', request.from),
  ].filter((f): f is RuleFailure => f !== undefined);
  if (!request.churchId) problems.push({ property: 'churchId', reason: 'churchId must be a non-empty string' });
  if (!request.expectedTrunkId) {
    problems.push({ property: 'expectedTrunkId', reason: 'expectedTrunkId must be a LiveKit trunk id (ST_...)' });
  }
  if (!(request.timeoutMs > 0)) {
    problems.push({
      property: 'timeoutMs',
      reason: `timeoutMs must be a positive number of milliseconds, got ${request.timeoutMs}`,
    });
  }
  if (problems.length > 0) throw new InvalidInputError('ringLine', problems);
}

/**
 * Places the test call, watches LiveKit until the church's room shows our SIP participant and the agent dispatch
 * (or the call fails, or `timeoutMs` passes), hangs up, and reports. Throws only for bad input or when a vendor
 * API itself fails (after hanging up); a line that does not work is a result with `ok: false`.
 */
export async function ringLine(request: RingLineRequest): Promise<RingResult> {
  validate(request);
  const started = Date.now();
  const at = new Date(started).toISOString();
  const finish = (verdict: Verdict): RingResult => ({ ...verdict, elapsedMs: Date.now() - started, at });

  let callControlId: string;
  try {
    // Telnyx's own ring timeout is a backstop a little past ours: our deadline decides, then we hang up.
    const timeoutSecs = Math.min(
      TELNYX_RING_TIMEOUT.max,
      Math.max(TELNYX_RING_TIMEOUT.min, Math.ceil(request.timeoutMs / 1000) + TELNYX_TIMEOUT_MARGIN_SECS),
    );
    ({ callControlId } = await request.telnyx.dial({ to: request.phoneNumber, from: request.from, timeoutSecs }));
  } catch (error) {
    return finish({
      ok: false,
      cause: 'call_failed',
      detail: `Telnyx did not place the call from ${request.from} to ${request.phoneNumber}: ${message(error)}`,
    });
  }

  let verdict: Verdict | undefined;
  let failure: unknown;
  try {
    verdict = await watch(request, callControlId, started);
  } catch (error) {
    failure = error;
  }
  // Hang up on every path, success included: the agent must not take a test call, and Telnyx bills it.
  try {
    await request.telnyx.hangup(callControlId);
  } catch (error) {
    if (failure === undefined && verdict) {
      verdict = {
        ...verdict,
        detail: `${verdict.detail ?? 'rang through'}; hanging up the test call failed: ${message(error)}`,
      };
    }
  }
  if (failure !== undefined) throw failure;
  return finish(verdict!);
}

async function watch(request: RingLineRequest, callControlId: string, started: number): Promise<Verdict> {
  const deadline = started + request.timeoutMs;
  const interval = request.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
  // A room without the agent yet may get its dispatch a moment later: keep looking until the deadline.
  let pending: Verdict | undefined;
  for (;;) {
    const found = await findRingParticipant(request, started);
    if (found) {
      const verdict = await judge(request, found.roomName, found.participant);
      if (verdict.ok || (verdict.cause !== 'no_agent' && verdict.cause !== 'wrong_church')) return verdict;
      pending = verdict;
    }
    const status = await request.telnyx.status(callControlId);
    if (status.ended) {
      return pending ?? (await explain(request, { ended: true, hangupCause: status.hangupCause }));
    }
    if (Date.now() + interval > deadline) break;
    await sleep(interval);
  }
  return pending ?? (await explain(request, { ended: false }));
}

interface FoundParticipant {
  roomName: string;
  participant: ParticipantInfo;
}

/** Our call's SIP participant, in any room whose name carries our caller number or the church's prefix. */
async function findRingParticipant(request: RingLineRequest, started: number): Promise<FoundParticipant | undefined> {
  const rooms = await request.livekit.rooms('ListRooms', (r) => r.listRooms());
  const candidates = rooms.filter(
    (room) =>
      room.name.includes(request.from) ||
      (request.roomPrefix !== undefined && room.name.startsWith(request.roomPrefix)),
  );
  for (const room of candidates) {
    let participants: ParticipantInfo[];
    try {
      participants = await request.livekit.rooms('ListParticipants', (r) => r.listParticipants(room.name));
    } catch (error) {
      if (error instanceof VendorError && error.notFound) continue; // the room closed between the two calls
      throw error;
    }
    const ours = participants.find(
      (p) =>
        p.kind === ParticipantInfo_Kind.SIP &&
        p.attributes['sip.trunkPhoneNumber'] === request.phoneNumber &&
        p.attributes['sip.phoneNumber'] === request.from &&
        Number(p.joinedAtMs || BigInt(p.joinedAt) * 1000n) >= started - JOIN_CLOCK_SLACK_MS,
    );
    if (ours) return { roomName: room.name, participant: ours };
  }
  return undefined;
}

/** Did our call land where the church's line should put it, with the agent on its way? */
async function judge(request: RingLineRequest, roomName: string, participant: ParticipantInfo): Promise<Verdict> {
  const seen = { roomName, participantIdentity: participant.identity };
  const trunkId = participant.attributes['sip.trunkID'] ?? '';
  const ruleId = participant.attributes['sip.ruleID'] ?? '';
  if (trunkId !== request.expectedTrunkId) {
    return {
      ok: false,
      cause: 'wrong_trunk',
      detail:
        `the call reached LiveKit through trunk ${trunkId || '(none)'}, ` +
        `not the church's trunk ${request.expectedTrunkId} (room ${roomName})`,
      ...seen,
    };
  }
  if (request.expectedDispatchRuleId && ruleId !== request.expectedDispatchRuleId) {
    return {
      ok: false,
      cause: 'no_room',
      detail:
        `no room from the church's dispatch rule ${request.expectedDispatchRuleId}: rule ${ruleId || '(none)'} ` +
        `put the call in room ${roomName}`,
      ...seen,
    };
  }
  if (request.roomPrefix !== undefined && !roomName.startsWith(request.roomPrefix)) {
    return {
      ok: false,
      cause: 'no_room',
      detail:
        `the call landed in room ${roomName} (rule ${ruleId}), not in a room of the church ` +
        `(prefix ${request.roomPrefix})`,
      ...seen,
    };
  }
  const agentName = request.agentName ?? DEFAULT_AGENT_NAME;
  const dispatches = await request.livekit.listAgentDispatches(roomName);
  const dispatch = dispatches.find((d) => d.agentName === agentName);
  if (!dispatch) {
    const others = dispatches.map((d) => d.agentName).join(', ');
    return {
      ok: false,
      cause: 'no_agent',
      detail:
        `room ${roomName} has no dispatch of ` +
        `agent ${agentName}${others ? ` (dispatched: ${others})` : ''}: nobody would answer`,
      ...seen,
    };
  }
  const dispatchedChurch = churchIdOf(dispatch.metadata);
  if (dispatchedChurch !== undefined && dispatchedChurch !== request.churchId) {
    return {
      ok: false,
      cause: 'wrong_church',
      detail:
        `agent ${agentName} was dispatched into ${roomName} for ` +
        `church ${dispatchedChurch}, not ${request.churchId}`,
      ...seen,
    };
  }
  return {
    ok: true,
    detail:
      `SIP participant ${participant.identity} in room ${roomName} via trunk ${trunkId} and rule ${ruleId}; ` +
      `agent ${agentName} dispatched`,
    ...seen,
  };
}

function churchIdOf(metadata: string): string | undefined {
  try {
    const parsed = JSON.parse(metadata) as unknown;
    const churchId = parsed && typeof parsed === 'object' ? (parsed as Record<string, unknown>).churchId : undefined;
    return typeof churchId === 'string' ? churchId : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Turns "no room appeared" into a cause by reading the line's LiveKit setup. When the setup looks right the cause
 * is Telnyx's (`call_rejected`/`not_found`), else `call_failed` for a call that ended, `timeout` for one still ringing.
 */
async function explain(request: RingLineRequest, call: { ended: boolean; hangupCause?: string }): Promise<Verdict> {
  const what = call.ended
    ? `the call ended before reaching a room of the ` +
      `church${call.hangupCause ? ` (Telnyx hangup cause: ${call.hangupCause})` : ''}`
    : `no room with our SIP participant within ${request.timeoutMs} ms`;
  const diagnosis = await diagnoseLine({
    phoneNumber: request.phoneNumber,
    from: request.from,
    expectedTrunkId: request.expectedTrunkId,
    expectedDispatchRuleId: request.expectedDispatchRuleId,
    agentName: request.agentName,
    livekit: request.livekit,
  });
  if (diagnosis) return { ok: false, cause: diagnosis.cause, detail: `${what}: ${diagnosis.detail}` };
  if (call.hangupCause === 'call_rejected' || call.hangupCause === 'not_found') {
    return { ok: false, cause: call.hangupCause, detail: what };
  }
  if (call.ended) {
    return {
      ok: false,
      cause: 'call_failed',
      detail: `${what}, and the line's LiveKit setup looks right: check the number's Telnyx connection and its FQDN`,
    };
  }
  return { ok: false, cause: 'timeout', detail: `${what}, and the line's LiveKit setup looks right` };
}

export interface LineDiagnosisRequest {
  phoneNumber: string;
  /** The caller the ring uses (caller filters are checked against it). */
  from?: string;
  expectedTrunkId: string;
  expectedDispatchRuleId?: string;
  agentName?: string;
  livekit: LiveKitClient;
}

/**
 * What in LiveKit keeps a call to `phoneNumber` from reaching the church's room, in the order LiveKit evaluates
 * an INVITE (trunk by called number, trunk auth, dispatch rule of that trunk); undefined when nothing does.
 */
export async function diagnoseLine(
  request: LineDiagnosisRequest,
): Promise<{ cause: RingCause; detail: string } | undefined> {
  const { phoneNumber, expectedTrunkId, livekit } = request;
  const trunks = (await livekit.listInboundTrunks({ numbers: [phoneNumber] })).filter((t) =>
    t.numbers.includes(phoneNumber),
  );
  if (trunks.length === 0) {
    return { cause: 'not_found', detail: `no trunk found: no LiveKit inbound trunk lists ${phoneNumber}` };
  }
  const trunk = trunks.find((t) => t.sipTrunkId === expectedTrunkId);
  if (!trunk) {
    return {
      cause: 'wrong_trunk',
      detail:
        `${phoneNumber} is on trunk ${trunks.map((t) => t.sipTrunkId).join(', ')}, ` +
        `not on the church's trunk ${expectedTrunkId}`,
    };
  }
  if (trunk.authUsername || trunk.authPassword) {
    return {
      cause: 'call_rejected',
      detail:
        `trunk ${trunk.sipTrunkId} requires auth: LiveKit challenges every INVITE and Telnyx sends no ` +
        `credentials (remove auth from the trunk)`,
    };
  }
  if (request.from && trunk.allowedNumbers.length > 0 && !trunk.allowedNumbers.includes(request.from)) {
    return {
      cause: 'call_rejected',
      detail:
        `trunk ${trunk.sipTrunkId} only accepts callers ${trunk.allowedNumbers.join(', ')}: ` +
        `every other caller is refused`,
    };
  }
  const rules = (await livekit.listDispatchRules({ trunkIds: [trunk.sipTrunkId] })).filter(
    (r) => r.trunkIds.includes(trunk.sipTrunkId) || r.trunkIds.length === 0,
  );
  if (rules.length === 0) {
    return {
      cause: 'no_room',
      detail: `no dispatch rule for trunk ${trunk.sipTrunkId}: LiveKit has nowhere to put the call, so no room`,
    };
  }
  if (request.expectedDispatchRuleId && !rules.some((r) => r.sipDispatchRuleId === request.expectedDispatchRuleId)) {
    return {
      cause: 'no_room',
      detail:
        `the church's dispatch rule ${request.expectedDispatchRuleId} does not route trunk ${trunk.sipTrunkId} ` +
        `(rules that do: ${rules.map((r) => r.sipDispatchRuleId).join(', ')})`,
    };
  }
  const rule = rules.find((r) => r.sipDispatchRuleId === request.expectedDispatchRuleId) ?? rules[0];
  if (request.from && rule.inboundNumbers.length > 0 && !rule.inboundNumbers.includes(request.from)) {
    return {
      cause: 'no_room',
      detail:
        `dispatch rule ${rule.sipDispatchRuleId} only takes callers ${rule.inboundNumbers.join(', ')} ` +
        `(inboundNumbers filters the CALLER): other calls get no room`,
    };
  }
  const agentName = request.agentName ?? DEFAULT_AGENT_NAME;
  if (!(rule.roomConfig?.agents ?? []).some((a) => a.agentName === agentName)) {
    return {
      cause: 'no_agent',
      detail: `dispatch rule ${rule.sipDispatchRuleId} does not dispatch agent ${agentName}`,
    };
  }
  return undefined;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Waits after each 403 "User channel limit exceeded" before dialing again: about 2 minutes in all. */
export const CHANNEL_LIMIT_WAITS_MS: readonly number[] = [
  1_000, 2_000, 4_000, 8_000, 15_000, 15_000, 15_000, 15_000, 15_000, 15_000, 15_000,
];

/** Telnyx's answer when the account's concurrent outbound calls are all in use. */
export function isChannelLimitExceeded(error: unknown): boolean {
  return error instanceof VendorError && error.status === 403 && /channel limit/i.test(error.detail);
}

/** How long one Call Control request may take before it counts as a transport failure. */
const TELNYX_REQUEST_TIMEOUT_MS = 15_000;
/** Telnyx's minimum `time_limit_secs`: a test call that somehow escapes our hangup still ends within a minute. */
const TEST_CALL_TIME_LIMIT_SECS = 60;

/**
 * Telnyx Call Control for rings, through the project's Telnyx client (its retry rule: the dial is sent once, the
 * hangup may be re-sent). A status Telnyx no longer has (404) is a call that ended.
 */
export function telnyxCallControl(
  settings: Pick<TelnyxSettings, 'apiKey' | 'baseUrl'>,
  callControlAppId: string,
  retryPolicy: RetryPolicy = DEFAULT_RETRY_POLICY,
  channelWaits: readonly number[] = CHANNEL_LIMIT_WAITS_MS,
): RingCallControl {
  const client = new TelnyxClient(settings, { timeoutMs: TELNYX_REQUEST_TIMEOUT_MS, retryPolicy });
  return {
    async dial({ to, from, timeoutSecs }) {
      const dial = () =>
        client.dialCall({
          connectionId: callControlAppId,
          to,
          from,
          timeoutSecs,
          timeLimitSecs: Math.max(TEST_CALL_TIME_LIMIT_SECS, timeoutSecs + 30),
        });
      // Every channel busy (calls outside our slots: a person on the phone, another tool) is a wait, not a
      // broken line. No call was placed, so sending the dial again cannot ring twice.
      for (const wait of channelWaits) {
        try {
          return await dial();
        } catch (error) {
          if (!isChannelLimitExceeded(error)) throw error;
          await sleep(wait);
        }
      }
      return dial();
    },
    async status(callControlId) {
      const call = await client.getCall(callControlId);
      return { ended: call?.ended ?? true };
    },
    hangup: (callControlId) => client.hangupCall(callControlId),
  };
}
