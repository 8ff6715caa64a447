/**
 * TestRing: the last step of a church's line. Creating or updating it places a real test call to the number
 * (providers/line-ring.ts) and records what happened: ok, or the cause, the detail, when, how long.
 *
 * A failed ring fails `pulumi up` for this resource only, and still records the failure: create/update reject with
 * Pulumi's "created but failed to initialise" shape, so the outputs (and the stack's table of lines) show the
 * cause while the number, trunk, rule and row, separate resources, stay exactly as they are. The next `up` rings
 * again (diff asks for it while the last ring failed), so a line stays red until it really works.
 *
 * Refresh does not call anyone: `read` returns the last result. A ring owns no vendor object, yet its record is
 * deleted only with its line's decommission: a `pulumi destroy` whose other deletes are refused must leave the
 * state as it was (otherwise the next `up` rings every line again). A decommissioned line's ring records that and
 * places no call.
 */
import * as pulumi from '@pulumi/pulumi';
import { withOutboundCallSlot } from './call-slots';
import { NotDecommissionedError } from './refusals';
import { projectProvider } from './dynamic-provider';
import { ringLine, telnyxCallControl, type RingCause, type RingResult } from './line-ring';
import { registryFallbackAnswers, ringFallback, type FallbackAnswerLog } from './fallback-ring';
import { LiveKitClient } from '../vendors/livekit-client';
import { DEFAULT_AGENT_NAME } from './livekit-sip-dispatch-rule';
import { checkE164, type RuleFailure } from '../common/phone-numbers';
import {
  configureFromStack,
  registryDatabaseUrl,
  telnyxCallControlAppId,
  telnyxSettings,
  type TelnyxSettings,
} from '../vendors/vendor-settings';
import {
  changedInputs,
  checkType,
  containsUnknown,
  unknownInputFailures,
  type FieldKind,
  type ResourceArgs,
} from './resource-inputs';
import { resourceKind } from './resource-kind';

export type RingExpectation = 'agent' | 'fallback';
export const RING_EXPECTATIONS: readonly RingExpectation[] = ['agent', 'fallback'];

export interface TestRingInputs {
  churchId: string;
  /** The church's number, E.164 with `+`. */
  phoneNumber: string;
  /** The church's inbound trunk: the call must come through it (absent on a parked line, which has none). */
  trunkId?: string;
  /**
   * Where the call must arrive: `agent` (default) = LiveKit, through the church's trunk, with the agent dispatched;
   * `fallback` = a parked line's number answered by the fallback message (providers/fallback-ring.ts).
   */
  expect?: RingExpectation;
  /** The church's dispatch rule, when the line has one: the call must be placed by it. */
  dispatchRuleId?: string;
  /** Room names of the church start with this (the rule's roomPrefix). */
  roomPrefix?: string;
  /** The company number the test call comes from, E.164. */
  from: string;
  /** Any new value rings again with nothing else changed (the on-demand ring command sets a timestamp). */
  trigger?: string;
  /** Agent that must be dispatched into the room; default `churchwiseai-voice`. */
  agentName?: string;
  /** Bound on one ring, 5-120 s; default 30. */
  timeoutSecs?: number;
  /** Telnyx Call Control application placing the call; default the stack's telnyxCallControlAppId. */
  callControlAppId?: string;
  /** The line is being decommissioned: no more rings, and only now may the ring's record be deleted. */
  decommission?: boolean;
}

export interface TestRingOutputs extends TestRingInputs {
  ok: boolean;
  cause?: RingCause;
  detail: string;
  /** When the ring started (ISO 8601). */
  at: string;
  elapsedMs: number;
  roomName?: string;
}

export const DEFAULT_RING_TIMEOUT_SECS = 30;
const RING_TIMEOUT_BOUNDS = { min: 5, max: 120 } as const;

/** Every input; a change to any of them rings again (the ring is what this resource is). */
export const TEST_RING_FIELDS: Record<keyof TestRingInputs, FieldKind> = {
  churchId: 'value',
  phoneNumber: 'value',
  trunkId: 'value',
  expect: 'value',
  dispatchRuleId: 'value',
  roomPrefix: 'value',
  from: 'value',
  trigger: 'value',
  agentName: 'value',
  timeoutSecs: 'value',
  callControlAppId: 'value',
  decommission: 'flag',
};

function known(value: unknown): boolean {
  return value !== undefined && !containsUnknown(value);
}

function checkId(property: string, value: unknown, prefix: string, required: boolean): RuleFailure | undefined {
  const typed = checkType(property, value, 'string', required);
  if (typed || !known(value)) return typed;
  return new RegExp(`^${prefix}[A-Za-z0-9]+$`).test(value as string)
    ? undefined
    : { property, reason: `${property} must be a LiveKit id like ${prefix}LWgmiBSwTk7P, got ${JSON.stringify(value)}` };
}

export function checkTestRing(
  _olds: Partial<TestRingInputs> | undefined,
  news: Record<string, unknown>,
): pulumi.dynamic.CheckResult {
  const failures: RuleFailure[] = [...unknownInputFailures(news, Object.keys(TEST_RING_FIELDS))];
  const add = (failure: RuleFailure | undefined) => failure && failures.push(failure);
  add(checkType('churchId', news.churchId, 'string', true));
  if (known(news.churchId) && typeof news.churchId === 'string' && news.churchId.trim() === '') {
    failures.push({ property: 'churchId', reason: 'churchId must be the church id, got an empty string' });
  }
  for (const property of ['phoneNumber', 'from'] as const) {
    const typed = checkType(property, news[property], 'string', true);
    add(typed ?? (known(news[property]) ? checkE164(property, news[property]) : undefined));
  }
  add(checkType('expect', news.expect, 'string', false));
  if (known(news.expect) && typeof news.expect === 'string' && !RING_EXPECTATIONS.includes(news.expect as never)) {
    failures.push({
      property: 'expect',
      reason: `expect must be one of ${RING_EXPECTATIONS.join(', ')}, got ${JSON.stringify(news.expect)}`,
    });
  }
  // A parked line has no trunk: its ring proves the fallback message instead.
  add(checkId('trunkId', news.trunkId, 'ST_', news.expect !== 'fallback'));
  add(checkId('dispatchRuleId', news.dispatchRuleId, 'SDR_', false));
  for (const property of ['roomPrefix', 'trigger', 'agentName', 'callControlAppId'] as const) {
    add(checkType(property, news[property], 'string', false));
  }
  add(checkType('decommission', news.decommission, 'boolean', false));
  if (known(news.timeoutSecs)) {
    const t = news.timeoutSecs;
    if (typeof t !== 'number' || !Number.isInteger(t) || t < RING_TIMEOUT_BOUNDS.min || t > RING_TIMEOUT_BOUNDS.max) {
      failures.push({
        property: 'timeoutSecs',
        reason:
          `timeoutSecs must be a whole number of seconds from ${RING_TIMEOUT_BOUNDS.min} ` +
          `to ${RING_TIMEOUT_BOUNDS.max}, got ${JSON.stringify(t)}`,
      });
    }
  }
  if (known(news.phoneNumber) && news.phoneNumber === news.from) {
    failures.push({
      property: 'from',
      reason: `from must be the company number, not the church's own number ${news.from}`,
    });
  }
  return { inputs: news, failures };
}

/** Re-ring when any input changes, and while the last ring failed (a line stays red until it really works). */
export function diffTestRing(
  _id: string,
  olds: Partial<TestRingOutputs>,
  news: Partial<TestRingInputs>,
): pulumi.dynamic.DiffResult {
  const changed = changedInputs(TEST_RING_FIELDS, olds as Record<string, unknown>, news as Record<string, unknown>);
  const lastFailed = olds.ok === false && news.decommission !== true;
  return { changes: changed.length > 0 || lastFailed, replaces: [], deleteBeforeReplace: false };
}

export function testRingId(inputs: Pick<TestRingInputs, 'churchId' | 'phoneNumber'>): string {
  return `ring:${inputs.churchId}:${inputs.phoneNumber}`;
}

function outputsOf(inputs: TestRingInputs, result: RingResult): TestRingOutputs {
  return {
    ...inputs,
    ok: result.ok,
    ...(result.cause ? { cause: result.cause } : {}),
    detail: result.detail ?? '',
    at: result.at,
    elapsedMs: result.elapsedMs,
    ...(result.roomName ? { roomName: result.roomName } : {}),
  };
}

/** The error a failed ring fails the update with. */
export function ringFailureMessage(inputs: TestRingInputs, outs: TestRingOutputs): string {
  if (inputs.expect === 'fallback') {
    return (
      `test ring of parked ${inputs.phoneNumber} (church ${inputs.churchId}) failed: ${outs.cause}: ${outs.detail}. ` +
      `A caller to ${inputs.phoneNumber} does not hear the fallback message. The number stays owned as it is; ` +
      'fix the cause and run `pulumi up` again to ring again.'
    );
  }
  return (
    `test ring of ${inputs.phoneNumber} (church ${inputs.churchId}) failed: ${outs.cause}: ${outs.detail}. ` +
    `The line is NOT live: a caller to ${inputs.phoneNumber} does not reach the agent. ` +
    `The number, trunk and dispatch ` +
    'rule are left as they are; fix the cause and run `pulumi up` again to ring again.'
  );
}

/**
 * The Call Control application that dials: the input, else the stack's telnyxCallControlAppId. Unset, the ring
 * falls back to the FQDN connection id, and says so: a Call Control dial needs an application, so that fallback
 * only works where the connection also takes Call Control dials (the sandbox's stand-in).
 */
async function callControlAppFor(inputs: TestRingInputs, telnyx: TelnyxSettings): Promise<string> {
  const configured = inputs.callControlAppId ?? telnyxCallControlAppId();
  if (configured) return configured;
  await pulumi.log.warn(
    `test ring of ${inputs.phoneNumber}: telnyxCallControlAppId is not set (pulumi config set telnyxCallControlAppId ` +
      `<id>, or TELNYX_CALL_CONTROL_APP_ID), so the ring dials through the FQDN connection ${telnyx.connectionId}`,
  );
  return telnyx.connectionId;
}

/** Where a parked line's ring finds the fallback route's answers: the registry the service records them in. */
function fallbackAnswers(): FallbackAnswerLog {
  const databaseUrl = registryDatabaseUrl();
  if (!databaseUrl) {
    return {
      answered: async () => {
        throw new Error(
          'a parked line is rung through the registry (fallback_answers): set registryDatabaseUrl ' +
            '(or REGISTRY_DATABASE_URL)',
        );
      },
    };
  }
  return registryFallbackAnswers(databaseUrl);
}

async function ring(id: string, inputs: TestRingInputs): Promise<TestRingOutputs> {
  const telnyx = telnyxSettings();
  const callControlAppId = await callControlAppFor(inputs, telnyx);
  // One call at a time per slot of the account's outbound call limit, across this run and every other process.
  const onWait = (message: string) => void pulumi.log.info(`test ring of ${inputs.phoneNumber}: ${message}`);
  const timeoutMs = (inputs.timeoutSecs ?? DEFAULT_RING_TIMEOUT_SECS) * 1000;
  const callControl = telnyxCallControl(telnyx, callControlAppId);
  const result = await withOutboundCallSlot(
    () =>
      inputs.expect === 'fallback'
        ? ringFallback({
            phoneNumber: inputs.phoneNumber,
            from: inputs.from,
            timeoutMs,
            telnyx: callControl,
            answers: fallbackAnswers(),
          })
        : ringLine({
            phoneNumber: inputs.phoneNumber,
            churchId: inputs.churchId,
            expectedTrunkId: inputs.trunkId ?? '',
            expectedDispatchRuleId: inputs.dispatchRuleId,
            roomPrefix: inputs.roomPrefix,
            agentName: inputs.agentName ?? DEFAULT_AGENT_NAME,
            from: inputs.from,
            timeoutMs,
            telnyx: callControl,
            livekit: new LiveKitClient(),
          }),
    { onWait },
  );
  const outs = outputsOf(inputs, result);
  if (!outs.ok) {
    // Pulumi's "created but failed to initialise": the step fails, the outputs (the failed result) are kept.
    // The engine prints the reasons (not the message), so the whole explanation goes there.
    const explanation = ringFailureMessage(inputs, outs);
    throw Object.assign(new Error(explanation), { id, properties: outs, reasons: [explanation] });
  }
  return outs;
}

export function notDecommissionedRingError(
  id: string,
  churchId: string,
  phoneNumber: string | undefined,
): NotDecommissionedError {
  return new NotDecommissionedError({ kind: 'test ring', id, churchId, phoneNumber });
}

export const provider: pulumi.dynamic.ResourceProvider<TestRingInputs, TestRingOutputs> = {
  async configure(req) {
    configureFromStack(req);
  },

  async check(olds, news) {
    return checkTestRing(olds, news as unknown as Record<string, unknown>);
  },

  async diff(id, olds, news) {
    return diffTestRing(id, olds, news);
  },

  async create(inputs) {
    const id = testRingId(inputs);
    return { id, outs: await ring(id, inputs) };
  },

  async read(id, props) {
    // Refresh must not place calls: the last ring's result is the state of this resource.
    return { id, props };
  },

  async update(id, olds, news) {
    // A line on its way out is not rung again: the record only notes the decommission.
    if (news.decommission === true) return { outs: { ...olds, decommission: true } };
    return { outs: await ring(id, news) };
  },

  async delete(id, props) {
    // Nothing to release at a vendor; refused so that a refused destroy leaves every ring record where it was.
    if (props.decommission !== true) throw notDecommissionedRingError(id, props.churchId ?? id, props.phoneNumber);
  },
};

/** A line's test ring among the kinds of a line (providers/resource-kinds.ts), and how drift words it. */
export const TEST_RING_KIND = resourceKind({
  module: 'churchwise',
  typeName: 'TestRing',
  step: 'test-ring',
  driftKind: 'test-ring',
  label: 'test ring',
  nameSuffix: '-ring',
  describeMissing: (id) => `${id} is gone`,
});

export type TestRingArgs = ResourceArgs<TestRingInputs>;

export class TestRing extends pulumi.dynamic.Resource {
  // Output properties are `declare`d, never `!:` (why: providers/resource-kind.ts, "Resource classes").
  declare public readonly churchId: pulumi.Output<string>;
  declare public readonly phoneNumber: pulumi.Output<string>;
  declare public readonly trunkId: pulumi.Output<string>;
  declare public readonly dispatchRuleId: pulumi.Output<string | undefined>;
  declare public readonly from: pulumi.Output<string>;
  declare public readonly trigger: pulumi.Output<string | undefined>;
  declare public readonly ok: pulumi.Output<boolean>;
  declare public readonly cause: pulumi.Output<RingCause | undefined>;
  declare public readonly detail: pulumi.Output<string>;
  declare public readonly at: pulumi.Output<string>;
  declare public readonly elapsedMs: pulumi.Output<number>;
  declare public readonly roomName: pulumi.Output<string | undefined>;

  constructor(name: string, args: TestRingArgs, opts?: pulumi.CustomResourceOptions) {
    const outputsOnly: Record<Exclude<keyof TestRingOutputs, keyof TestRingInputs>, undefined> = {
      ok: undefined,
      cause: undefined,
      detail: undefined,
      at: undefined,
      elapsedMs: undefined,
      roomName: undefined,
    };
    super(
      projectProvider('test-ring'),
      name,
      { ...outputsOnly, ...args },
      opts,
      TEST_RING_KIND.module,
      TEST_RING_KIND.typeName,
    );
  }
}
