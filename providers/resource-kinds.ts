/**
 * Every kind of resource a church's line is made of, in the order the line is built (infra/church-voice-line.ts):
 * number -> trunk -> dispatch rule -> church_voice_agents row -> test ring. Each descriptor is its provider's own
 * (providers/resource-kind.ts says what one holds); the step names, the drift kinds and the resource names of the
 * other layers are derived from this list, never listed again.
 */
import { CHURCH_VOICE_AGENT_ROW_KIND } from './church-voice-agent-row';
import { LIVEKIT_SIP_DISPATCH_RULE_KIND } from './livekit-sip-dispatch-rule';
import { LIVEKIT_SIP_INBOUND_TRUNK_KIND } from './livekit-sip-inbound-trunk';
import { TELNYX_PHONE_NUMBER_KIND } from './telnyx-phone-number';
import { TEST_RING_KIND } from './test-ring';

export const RESOURCE_KINDS = [
  TELNYX_PHONE_NUMBER_KIND,
  LIVEKIT_SIP_INBOUND_TRUNK_KIND,
  LIVEKIT_SIP_DISPATCH_RULE_KIND,
  CHURCH_VOICE_AGENT_ROW_KIND,
  TEST_RING_KIND,
] as const;

/** One of the descriptors above. */
export type LineResourceKind = (typeof RESOURCE_KINDS)[number];

/** The step of a line a resource is (`failedStep` of a job, a founder email): `telnyx-number`, `livekit-trunk`, ... */
export type LineStep = LineResourceKind['step'];

/** What the drift report calls a resource (`kind` in `--json`): `number`, `trunk`, ... */
export type DriftKind = LineResourceKind['driftKind'];

/** The kind of a resource by the type token the state or an engine event records; undefined: not a line's. */
export function kindOfType(type: string | undefined): LineResourceKind | undefined {
  return type === undefined ? undefined : RESOURCE_KINDS.find((kind) => kind.type === type);
}
