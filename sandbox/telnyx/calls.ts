/**
 * Call Control: `POST /calls` places a call through the dialer, `GET /calls/{id}` reports it, and
 * `POST /calls/{id}/actions/hangup` ends it. The dialer's handle is polled for state changes, which become
 * `call.initiated` / `call.answered` / `call.hangup` webhooks (with the hangup cause) in that order.
 * A call to a number on a TeXML application never reaches the dialer: the application answers it (see texml.ts).
 */
import { randomBytes, randomUUID } from 'crypto';
import {
  TELNYX_HANGUP_CAUSES,
  type CallDialer,
  type DialHandle,
  type DialRoute,
  type DialState,
  type TelnyxHangupCause,
} from './call-dialer';
import { TELNYX_ERROR_CODES, TelnyxApiError, notFound, unprocessable } from './errors';
import type { TelnyxState, TexmlApplicationRecord } from './state';
import { requestTexml, texmlCallParams, type TexmlAnswer } from './texml';
import type { CallEventType, WebhookSender } from './webhooks';

export interface CallRecord {
  call_control_id: string;
  call_leg_id: string;
  call_session_id: string;
  connection_id: string;
  from: string;
  to: string;
  client_state?: string;
  webhook_url?: string;
  timeout_secs: number;
  start_time: string;
  answered_at?: string;
  end_time?: string;
  state: DialState;
  hangup_cause?: TelnyxHangupCause;
  hangup_source?: 'caller' | 'callee' | 'unknown';
  /** Where the call was routed (undefined: `to` routes nowhere, or to a TeXML application). */
  route?: DialRoute;
  /** The TeXML application that answers `to`, when the number is on one. */
  texml_application_id?: string;
  /** What the TeXML application answered (once its `voice_url` was requested). */
  texml?: TexmlAnswer;
}

/** The far leg of a call a TeXML application answers: driven by CallControl, not by a dialer. */
class TexmlLeg implements DialHandle {
  current: DialState = 'ringing';
  cause: TelnyxHangupCause | undefined;
  readonly abort = new AbortController();
  state(): DialState {
    return this.current;
  }
  hangupCause(): string {
    return this.cause ?? 'normal_clearing';
  }
  async hangup(): Promise<void> {
    this.abort.abort();
    this.current = 'ended';
  }
}

export interface DialInput {
  connection_id: string;
  from: string;
  to: string | string[];
  timeout_secs?: number;
  client_state?: string;
  webhook_url?: string;
}

/** How often live calls are checked for answer, hangup and ring timeout. */
const MONITOR_INTERVAL_MS = 100;

export class CallControl {
  readonly calls = new Map<string, CallRecord>();
  /**
   * Concurrent outbound calls the account allows, as Telnyx enforces it (2 on a new account, 10 after Level 2
   * verification); undefined: no limit. Past it a dial answers 403 "User channel limit exceeded".
   */
  channelLimit: number | undefined;
  /** The most calls that were live at once since the stand-in started (or the limit was last set). */
  peakConcurrentCalls = 0;
  private readonly handles = new Map<string, DialHandle>();
  /** Webhooks of one call go out one after another, in the order they happened. */
  private readonly eventChains = new Map<string, Promise<unknown>>();
  /** TeXML requests in flight. */
  private readonly texmlRequests = new Set<Promise<void>>();
  /** The account's TeXML AccountSid, sent with every TeXML request. */
  readonly accountSid = randomUUID();
  private readonly monitor: NodeJS.Timeout;

  constructor(
    private readonly state: TelnyxState,
    private readonly dialer: CallDialer,
    private readonly webhooks: WebhookSender,
    /** The Call Control application's webhook URL, used when a dial names none. */
    private readonly defaultWebhookUrl?: string,
  ) {
    this.monitor = setInterval(() => this.refreshAll(), MONITOR_INTERVAL_MS);
    this.monitor.unref();
  }

  private routeTo(to: string): DialRoute | undefined {
    const route = this.state.routeOf(to);
    if (!route) return undefined;
    return {
      phoneNumberId: route.number.id,
      fqdnConnectionId: route.connection.id,
      transport: route.connection.transport_protocol,
      targets: route.fqdns.map((f) => ({ fqdn: f.fqdn, port: f.port })),
      dnisNumberFormat: String(route.connection.inbound.dnis_number_format ?? '+e164'),
    };
  }

  dial(input: DialInput): CallRecord {
    if (Array.isArray(input.to)) {
      throw unprocessable('/to', 'the stand-in dials a single destination: send `to` as one string');
    }
    const timeout = input.timeout_secs ?? 30;
    if (timeout < 5 || timeout > 600)
      throw unprocessable('/timeout_secs', `timeout_secs must be between 5 and 600, got ${timeout}`);
    this.refreshAll();
    const live = [...this.calls.values()].filter((c) => c.state !== 'ended').length;
    if (this.channelLimit !== undefined && live >= this.channelLimit) {
      throw new TelnyxApiError(403, [
        {
          code: TELNYX_ERROR_CODES.channelLimit,
          title: 'User channel limit exceeded',
          detail: `User channel limit exceeded: ${live} of ${this.channelLimit} concurrent outbound calls in use`,
        },
      ]);
    }
    this.peakConcurrentCalls = Math.max(this.peakConcurrentCalls, live + 1);
    const record: CallRecord = {
      call_control_id: `v3:${randomBytes(24).toString('base64url')}`,
      call_leg_id: randomUUID(),
      call_session_id: randomUUID(),
      connection_id: input.connection_id,
      from: input.from,
      to: input.to,
      ...(input.client_state !== undefined ? { client_state: input.client_state } : {}),
      ...(input.webhook_url !== undefined ? { webhook_url: input.webhook_url } : {}),
      timeout_secs: timeout,
      start_time: new Date().toISOString(),
      state: 'ringing',
      route: this.routeTo(input.to),
    };
    const application = record.route ? undefined : this.state.texmlRouteOf(input.to)?.application;
    let handle: DialHandle;
    if (application) {
      record.texml_application_id = application.id;
      handle = new TexmlLeg();
    } else {
      handle = this.dialer.dial({
        to: record.to,
        from: record.from,
        connectionId: record.connection_id,
        route: record.route,
      });
    }
    this.calls.set(record.call_control_id, record);
    this.handles.set(record.call_control_id, handle);
    this.emit(record, 'call.initiated');
    if (application) this.answerWithTexml(record, application, handle as TexmlLeg);
    this.refresh(record);
    return record;
  }

  /**
   * Requests the application's TeXML and carries out what the stand-in understands of it: a TeXML document answers
   * the call, which then completes (`normal_clearing`) once its verbs are done (the stand-in does not wait for
   * speech); no usable document ends the call unanswered (`unspecified`), the reason kept in `record.texml.error`.
   */
  private answerWithTexml(record: CallRecord, application: TexmlApplicationRecord, leg: TexmlLeg): void {
    const params = texmlCallParams({
      accountSid: this.accountSid,
      callSid: record.call_control_id,
      callSessionId: record.call_session_id,
      applicationId: application.id,
      from: record.from,
      to: record.to,
    });
    const work = requestTexml(application, params, leg.abort.signal).then((answer) => {
      record.texml = answer;
      if (record.state === 'ended') return; // hung up (or timed out) while the request was out
      if (answer.error) {
        leg.cause = 'unspecified';
        leg.current = 'ended';
        this.refresh(record);
        return;
      }
      leg.current = 'answered';
      this.refresh(record);
      leg.cause = 'normal_clearing';
      leg.current = 'ended';
      this.refresh(record);
    });
    const tracked = work.finally(() => this.texmlRequests.delete(tracked));
    this.texmlRequests.add(tracked);
  }

  /** Sets (or, with undefined, lifts) the account's concurrent-call limit and starts counting the peak anew. */
  setChannelLimit(limit: number | undefined): void {
    if (limit !== undefined && !(Number.isInteger(limit) && limit >= 1))
      throw new Error(`limit must be a whole number >= 1 or null, got ${limit}`);
    this.channelLimit = limit;
    this.refreshAll();
    this.peakConcurrentCalls = [...this.calls.values()].filter((c) => c.state !== 'ended').length;
  }

  private hangupCauseOf(handle: DialHandle): TelnyxHangupCause {
    const cause = handle.hangupCause?.();
    return (TELNYX_HANGUP_CAUSES as readonly string[]).includes(cause ?? '')
      ? (cause as TelnyxHangupCause)
      : 'unspecified';
  }

  private end(record: CallRecord, cause: TelnyxHangupCause, source: CallRecord['hangup_source']): void {
    record.state = 'ended';
    record.end_time = new Date().toISOString();
    record.hangup_cause = cause;
    record.hangup_source = source;
    this.emit(record, 'call.hangup');
  }

  /** Brings a live call up to date with its dialer handle, and ends it when it rang past timeout_secs. */
  private refresh(record: CallRecord): void {
    if (record.state === 'ended') return;
    const handle = this.handles.get(record.call_control_id)!;
    const now = handle.state();
    // A call that ends without being answered never sends call.answered.
    if (now === 'answered' && record.state === 'ringing') {
      record.state = 'answered';
      record.answered_at = new Date().toISOString();
      this.emit(record, 'call.answered');
    }
    if (now === 'ended') {
      this.end(record, this.hangupCauseOf(handle), 'callee');
      return;
    }
    if (record.state === 'ringing' && Date.now() - Date.parse(record.start_time) > record.timeout_secs * 1000) {
      this.end(record, 'timeout', 'caller');
      void handle.hangup().catch(() => undefined);
    }
  }

  private refreshAll(): void {
    for (const record of this.calls.values()) this.refresh(record);
  }

  get(callControlId: string): CallRecord {
    const record = this.calls.get(callControlId);
    if (!record) throw notFound(`Call ${callControlId} not found`);
    this.refresh(record);
    return record;
  }

  async hangup(callControlId: string, clientState?: string): Promise<CallRecord> {
    const record = this.get(callControlId);
    if (record.state === 'ended') {
      throw new TelnyxApiError(422, [
        {
          code: TELNYX_ERROR_CODES.callEnded,
          title: 'Call has already ended',
          detail: "This call is no longer active and can't receive commands.",
        },
      ]);
    }
    if (clientState !== undefined) record.client_state = clientState;
    await this.handles.get(callControlId)!.hangup();
    this.end(record, 'normal_clearing', 'caller');
    return record;
  }

  /** The `Call` object of the API. */
  render(record: CallRecord): Record<string, unknown> {
    const end = record.end_time ? Date.parse(record.end_time) : Date.now();
    return {
      record_type: 'call',
      call_control_id: record.call_control_id,
      call_leg_id: record.call_leg_id,
      call_session_id: record.call_session_id,
      is_alive: record.state !== 'ended',
      ...(record.client_state !== undefined ? { client_state: record.client_state } : {}),
      start_time: record.start_time,
      ...(record.end_time ? { end_time: record.end_time } : {}),
      call_duration: Math.max(0, Math.floor((end - Date.parse(record.start_time)) / 1000)),
    };
  }

  private emit(record: CallRecord, eventType: CallEventType): void {
    const url = record.webhook_url ?? this.defaultWebhookUrl;
    if (!url) return;
    const payload: Record<string, unknown> = {
      call_control_id: record.call_control_id,
      call_leg_id: record.call_leg_id,
      call_session_id: record.call_session_id,
      connection_id: record.connection_id,
      from: record.from,
      to: record.to,
      start_time: record.start_time,
      ...(record.client_state !== undefined ? { client_state: record.client_state } : {}),
    };
    if (eventType === 'call.initiated') Object.assign(payload, { direction: 'outgoing', state: 'bridging' });
    if (eventType === 'call.answered') Object.assign(payload, { state: 'answered' });
    if (eventType === 'call.hangup') {
      Object.assign(payload, {
        state: 'hangup',
        hangup_cause: record.hangup_cause,
        hangup_source: record.hangup_source,
      });
    }
    const previous = this.eventChains.get(record.call_control_id) ?? Promise.resolve();
    this.eventChains.set(
      record.call_control_id,
      previous.then(() => this.webhooks.send(url, eventType, payload)),
    );
  }

  /** Waits for every TeXML request and every webhook queued so far (tests read deliveries after this). */
  async settled(): Promise<void> {
    await Promise.all([...this.texmlRequests]);
    await Promise.all([...this.eventChains.values()]);
  }

  /** Stops monitoring and hangs up every live call. */
  async close(): Promise<void> {
    clearInterval(this.monitor);
    await Promise.all(
      [...this.calls.values()]
        .filter((c) => c.state !== 'ended')
        .map((c) =>
          this.handles
            .get(c.call_control_id)!
            .hangup()
            .catch(() => undefined),
        ),
    );
    await this.settled();
  }
}
