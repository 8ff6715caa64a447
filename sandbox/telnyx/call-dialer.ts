/**
 * How the stand-in places the far leg of `POST /v2/calls`. Real Telnyx routes a call to one of its own numbers
 * through the number's FQDN connection (a SIP INVITE to the connection's FQDN); a dialer does the same locally,
 * e.g. with sipp against livekit-sip. Without a dialer the stand-in only checks the route (see `routeCheckDialer`).
 */

export type DialState = 'ringing' | 'answered' | 'ended';

/** Hangup causes Telnyx reports in `call.hangup` webhooks (the spec's enum). */
export const TELNYX_HANGUP_CAUSES = [
  'call_rejected',
  'normal_clearing',
  'originator_cancel',
  'timeout',
  'time_limit',
  'user_busy',
  'not_found',
  'no_answer',
  'unspecified',
] as const;
export type TelnyxHangupCause = (typeof TELNYX_HANGUP_CAUSES)[number];

/** Where Telnyx would deliver a call to `to`: the FQDN connection the number is assigned to. */
export interface DialRoute {
  /** `/v2/phone_numbers` id of the called number. */
  phoneNumberId: string;
  fqdnConnectionId: string;
  transport: 'UDP' | 'TCP' | 'TLS';
  /** The connection's FQDN records, in the order Telnyx tries them. */
  targets: Array<{ fqdn: string; port: number }>;
  /** How the called number is written in the INVITE (`inbound.dnis_number_format`: `+e164`, `e164`, ...). */
  dnisNumberFormat: string;
}

export interface DialRequest {
  to: string;
  from: string;
  /** `connection_id` of `POST /v2/calls`: the Call Control application placing the call. */
  connectionId: string;
  /** Where `to` routes; undefined when it is not an active number on an FQDN connection with an FQDN. */
  route?: DialRoute;
}

/** A call in progress, polled by the stand-in. */
export interface DialHandle {
  state(): DialState;
  /** Why the call ended, once `state()` is `ended`; anything outside TELNYX_HANGUP_CAUSES reads as `unspecified`. */
  hangupCause?(): string;
  /** Ends the call (our side hangs up); resolves once it is down. */
  hangup(): Promise<void>;
}

export interface CallDialer {
  dial(call: DialRequest): DialHandle;
}

/**
 * The dialer used when none is given: a call to an active number routed to an FQDN connection is answered and
 * stays up until hung up; any other destination ends at once with `not_found`, as Telnyx does for a number that
 * routes nowhere.
 */
export const routeCheckDialer: CallDialer = {
  dial(call: DialRequest): DialHandle {
    let state: DialState = call.route ? 'answered' : 'ended';
    const cause = call.route ? 'normal_clearing' : 'not_found';
    return {
      state: () => state,
      hangupCause: () => cause,
      hangup: async () => {
        state = 'ended';
      },
    };
  },
};
