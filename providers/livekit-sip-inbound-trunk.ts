/**
 * A LiveKit SIP inbound trunk: the numbers Telnyx delivers to LiveKit. The called number must equal an entry of
 * `numbers` exactly, `+` included, and the trunk must carry NO authentication (Telnyx sends none).
 */
import * as net from 'net';
import * as pulumi from '@pulumi/pulumi';
import { SIPHeaderOptions } from '@livekit/protocol';
import { projectProvider } from './dynamic-provider';
import { lockedIdFailures } from '../vendors/livekit-locks';
import type { InboundTrunkChanges, SIPInboundTrunkInfo } from '../vendors/livekit-client';
import {
  checkLockAndAdopt,
  diffLiveKitSipObject,
  liveKitSipProvider,
  lockedInputFailures,
  type ManagedOnly,
} from './livekit-sip-object';
import { checkE164, type RuleFailure } from '../common/phone-numbers';
import {
  checkType,
  containsUnknown,
  givenKeys,
  sameField,
  unknownInputFailures,
  type FieldKind,
  type ResourceArgs,
} from './resource-inputs';
import { changedByHand, formatValue, resourceKind } from './resource-kind';

export interface LiveKitSipInboundTrunkInputs {
  /** Human-readable trunk name, e.g. "church 7c1e... +14144007103". Required unless locked. */
  name?: string;
  /** E.164 numbers with `+`, exactly as Telnyx presents the called number. Required unless locked. */
  numbers?: string[];
  krispEnabled?: boolean;
  metadata?: string;
  /** Source IPs/CIDRs allowed to send INVITEs (e.g. Telnyx's signalling ranges); empty = any. */
  allowedAddresses?: string[];
  /** Read-only trunk (e.g. the legacy Twilio trunk): create only adopts; update and delete are refused. */
  locked?: boolean;
  /** Adopt this existing trunk (ST_...) instead of creating one. */
  adoptId?: string;
  /**
   * The founder asked to release this church's line: only then may a delete remove the trunk at LiveKit (a
   * church's trunk is its line; it is never deleted as a side effect).
   */
  decommission?: boolean;
}

/** Everything LiveKit reports about the trunk (never the password itself), plus the managed-only inputs. */
export interface LiveKitSipInboundTrunkOutputs extends LiveKitSipInboundTrunkInputs {
  sipTrunkId: string;
  name: string;
  numbers: string[];
  decommission: boolean;
  krispEnabled: boolean;
  metadata: string;
  allowedAddresses: string[];
  locked: boolean;
  /** Caller allow-list; must stay empty for our trunks (it would refuse every other caller). */
  allowedNumbers: string[];
  /** Must stay empty: any auth makes LiveKit challenge Telnyx's INVITEs and reject every call. */
  authUsername: string;
  /** Whether LiveKit holds an auth password for this trunk. The password itself is never read into state. */
  authPasswordSet: boolean;
  authRealm: string;
  headers: Record<string, string>;
  headersToAttributes: Record<string, string>;
  attributesToHeaders: Record<string, string>;
  includeHeaders: string;
  ringingTimeoutSeconds: number;
  maxCallDurationSeconds: number;
  /** SIPMediaConfig as LiveKit's JSON (encryption, codecs...), when set. */
  media?: Record<string, unknown>;
}

export const TELNYX_NO_AUTH_REASON =
  'LiveKit trunks for Telnyx must have NO authentication: Telnyx sends no credentials, so a trunk with auth ' +
  'rejects every call';

/** Inputs and how each is compared. */
export const TRUNK_FIELDS: Record<keyof LiveKitSipInboundTrunkInputs, FieldKind> = {
  name: 'value',
  numbers: 'set',
  krispEnabled: 'value',
  metadata: 'value',
  allowedAddresses: 'set',
  locked: 'flag',
  adoptId: 'value',
  decommission: 'flag',
};

const TRUNK_INPUT_KEYS = Object.keys(TRUNK_FIELDS);

/** Any spelling of a credential input: authUsername, auth_password, AuthPassword, authentication, username... */
const AUTH_LIKE_KEY = /auth|user|pass|pwd|credential|secret|realm|login/;

export function looksLikeAuth(key: string): boolean {
  return AUTH_LIKE_KEY.test(key.toLowerCase().replace(/[^a-z0-9]/g, ''));
}

function checkAddress(property: string, value: string): RuleFailure | undefined {
  const [address, prefix, extra] = value.split('/');
  const family = net.isIP(address);
  const prefixOk = prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 6 ? 128 : 32));
  if (family !== 0 && prefixOk && extra === undefined) return undefined;
  return {
    property,
    reason:
      `${property} must be an IP address or CIDR range (e.g. 192.76.120.10 or 10.0.0.0/8), ` +
      `got ${JSON.stringify(value)}`,
  };
}

export function checkLiveKitSipInboundTrunk(
  olds: Record<string, any>,
  news: Record<string, any>,
): pulumi.dynamic.CheckResult<LiveKitSipInboundTrunkInputs> {
  const failures: RuleFailure[] = [];
  const authKeys = givenKeys(news).filter(looksLikeAuth);
  for (const property of authKeys) {
    failures.push({ property, reason: `${TELNYX_NO_AUTH_REASON} (input ${property} refused)` });
  }
  failures.push(...unknownInputFailures(news, TRUNK_INPUT_KEYS).filter((f) => !authKeys.includes(f.property)));

  const typeFailures = [
    // A locked trunk is only adopted and compared on what the program states: name and numbers may be left out.
    // An adopted trunk states what identifies it (its numbers); its name is whatever it already has.
    checkType('name', news.name, 'string', news.locked !== true && news.adoptId === undefined),
    checkType('numbers', news.numbers, 'string[]', news.locked !== true),
    checkType('krispEnabled', news.krispEnabled, 'boolean', false),
    checkType('metadata', news.metadata, 'string', false),
    checkType('allowedAddresses', news.allowedAddresses, 'string[]', false),
  ].filter((f): f is RuleFailure => f !== undefined);
  failures.push(...typeFailures, ...checkLockAndAdopt(news, 'ST_'));

  if (typeof news.name === 'string' && news.name.trim() === '') {
    failures.push({ property: 'name', reason: 'name must not be empty' });
  }
  if (Array.isArray(news.numbers) && !typeFailures.some((f) => f.property === 'numbers')) {
    if (news.numbers.length === 0)
      failures.push({ property: 'numbers', reason: 'numbers must list at least one number' });
    news.numbers.forEach((n: string, i: number) => {
      if (containsUnknown(n)) return;
      const failure = checkE164(`numbers[${i}]`, n);
      if (failure) failures.push(failure);
      if (news.numbers.indexOf(n) !== i)
        failures.push({ property: `numbers[${i}]`, reason: `numbers lists ${n} twice` });
    });
  }
  if (Array.isArray(news.allowedAddresses)) {
    news.allowedAddresses.forEach((a: unknown, i: number) => {
      const failure =
        typeof a === 'string' && !containsUnknown(a) ? checkAddress(`allowedAddresses[${i}]`, a) : undefined;
      if (failure) failures.push(failure);
    });
  }
  failures.push(...lockedInputFailures('trunk', TRUNK_FIELDS, olds, news), ...lockedIdFailures('trunk', news));

  const inputs: LiveKitSipInboundTrunkInputs = {
    name: news.name,
    numbers: news.numbers,
    ...(news.locked === true
      ? // A locked trunk is compared only on what the program states: no defaults.
        { krispEnabled: news.krispEnabled, metadata: news.metadata, allowedAddresses: news.allowedAddresses }
      : {
          krispEnabled: news.krispEnabled ?? false,
          metadata: news.metadata ?? '',
          allowedAddresses: news.allowedAddresses ?? [],
        }),
    locked: news.locked ?? false,
    adoptId: news.adoptId,
    decommission: news.decommission ?? false,
  };
  for (const key of Object.keys(inputs) as (keyof LiveKitSipInboundTrunkInputs)[]) {
    if (inputs[key] === undefined) delete inputs[key];
  }
  return { inputs, failures };
}

/** Live fields that must hold a fixed value on every trunk we manage; a difference is drift to repair. */
export function trunkDrift(olds: Partial<LiveKitSipInboundTrunkOutputs>): string[] {
  const drift: string[] = [];
  if (olds.authUsername) drift.push('authUsername');
  if (olds.authPasswordSet) drift.push('authPasswordSet');
  if (olds.allowedNumbers && olds.allowedNumbers.length > 0) drift.push('allowedNumbers');
  return drift;
}

export function diffLiveKitSipInboundTrunk(
  _id: string,
  olds: Record<string, any>,
  news: Record<string, any>,
): pulumi.dynamic.DiffResult {
  // A locked trunk (e.g. the legacy Twilio one) keeps its auth and allow-list: they are not drift to fix there.
  return diffLiveKitSipObject(TRUNK_FIELDS, trunkDrift, 'sipTrunkId', olds, news);
}

export function trunkOutputs(live: SIPInboundTrunkInfo, managed: ManagedOnly): LiveKitSipInboundTrunkOutputs {
  const outputs: LiveKitSipInboundTrunkOutputs = {
    sipTrunkId: live.sipTrunkId,
    name: live.name,
    numbers: [...live.numbers],
    krispEnabled: live.krispEnabled,
    metadata: live.metadata,
    allowedAddresses: [...live.allowedAddresses],
    locked: managed.locked ?? false,
    decommission: managed.decommission ?? false,
    allowedNumbers: [...live.allowedNumbers],
    authUsername: live.authUsername,
    authPasswordSet: live.authPassword !== '',
    authRealm: live.authRealm,
    headers: { ...live.headers },
    headersToAttributes: { ...live.headersToAttributes },
    attributesToHeaders: { ...live.attributesToHeaders },
    includeHeaders: SIPHeaderOptions[live.includeHeaders] ?? String(live.includeHeaders),
    ringingTimeoutSeconds: Number(live.ringingTimeout?.seconds ?? 0),
    maxCallDurationSeconds: Number(live.maxCallDuration?.seconds ?? 0),
  };
  if (live.media) outputs.media = live.media.toJson() as Record<string, unknown>;
  if (managed.adoptId) outputs.adoptId = managed.adoptId;
  return outputs;
}

/** What to send so the live trunk matches the inputs: input fields that differ, plus drift repair. */
export function trunkChanges(live: SIPInboundTrunkInfo, inputs: LiveKitSipInboundTrunkInputs): InboundTrunkChanges {
  const current = trunkOutputs(live, {});
  const changes: InboundTrunkChanges = {};
  const differs = (key: keyof LiveKitSipInboundTrunkInputs) =>
    inputs[key] !== undefined && !sameField(TRUNK_FIELDS[key], current[key], inputs[key]);
  if (differs('name')) changes.name = inputs.name;
  if (differs('numbers')) changes.numbers = inputs.numbers;
  if (differs('metadata')) changes.metadata = inputs.metadata;
  if (differs('allowedAddresses')) changes.allowedAddresses = inputs.allowedAddresses;
  if (differs('krispEnabled')) changes.krispEnabled = inputs.krispEnabled;
  if (current.authUsername || current.authPasswordSet) changes.clearAuth = true;
  if (current.allowedNumbers.length > 0) changes.clearAllowedNumbers = true;
  return changes;
}

export const provider = liveKitSipProvider<
  LiveKitSipInboundTrunkInputs,
  LiveKitSipInboundTrunkOutputs,
  SIPInboundTrunkInfo,
  InboundTrunkChanges
>({
  kind: 'trunk',
  label: 'inbound trunk',
  noun: 'trunk',
  fields: TRUNK_FIELDS,
  check: checkLiveKitSipInboundTrunk,
  diff: diffLiveKitSipInboundTrunk,
  idOf: (live) => live.sipTrunkId,
  outputs: trunkOutputs,
  changes: trunkChanges,
  get: (client, id) => client.getInboundTrunk(id),
  list: (client) => client.listInboundTrunks(),
  create: (client, inputs) =>
    client.createInboundTrunk({
      name: inputs.name as string,
      numbers: inputs.numbers as string[],
      metadata: inputs.metadata,
      allowedAddresses: inputs.allowedAddresses,
      krispEnabled: inputs.krispEnabled,
    }),
  update: (client, id, changes) => client.updateInboundTrunk(id, changes),
  // LiveKit answers success for a trunk that is already gone.
  remove: (client, id) => client.deleteTrunk(id),
});

/** The auth outputs: the username and the password flag change together, so drift says them as one change. */
const AUTH_OUTPUTS = ['authUsername', 'authPasswordSet', 'authRealm'];

const asStrings = (value: unknown): string[] =>
  Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];

/** A church's trunk among the kinds of a line (providers/resource-kinds.ts), and how drift words it. */
export const LIVEKIT_SIP_INBOUND_TRUNK_KIND = resourceKind({
  module: 'livekit',
  typeName: 'LiveKitSipInboundTrunk',
  step: 'livekit-trunk',
  driftKind: 'trunk',
  label: 'LiveKit trunk',
  nameSuffix: '-trunk',
  describeChange(id, _before, change) {
    const { property, before: was, after: now } = change;
    if (property === 'numbers') {
      const oldNumbers = asStrings(was);
      const newNumbers = asStrings(now);
      const added = newNumbers.filter((n) => !oldNumbers.includes(n));
      const removed = oldNumbers.filter((n) => !newNumbers.includes(n));
      const parts = [
        ...removed.map((n) => `${n} removed from trunk ${id} by hand: calls to it get "no trunk found"`),
        ...added.map((n) => `${n} added to trunk ${id} by hand: calls to it now reach this trunk's church`),
      ];
      return parts.join('; ') || `trunk ${id} numbers changed by hand: ${formatValue(was)} -> ${formatValue(now)}`;
    }
    if (AUTH_OUTPUTS.includes(property)) {
      return now
        ? `auth set on trunk ${id} by hand: LiveKit challenges Telnyx's INVITEs, ` +
            `which carry no credentials, so every call fails`
        : `auth removed from trunk ${id}`;
    }
    if (property === 'allowedNumbers') {
      return `caller allow-list on trunk ${id} changed by hand to ${formatValue(now)}: every other caller is refused`;
    }
    return changedByHand(`${property} of ${id}`, change);
  },
  describeMissing: (id, before) =>
    `trunk ${id} was deleted by hand: calls to ${formatValue(before.numbers)} get "no trunk found"`,
  describeRepairs(changes) {
    const was = (property: string) => changes.find((c) => c.property === property);
    const repairs: string[] = [];
    if (was('numbers')) repairs.push(`set the trunk's numbers back to ${formatValue(was('numbers')!.before)}`);
    if (changes.some((c) => AUTH_OUTPUTS.includes(c.property))) repairs.push('remove the auth');
    if (was('allowedNumbers')) repairs.push('remove the caller allow-list');
    return repairs;
  },
});

export type LiveKitSipInboundTrunkArgs = ResourceArgs<LiveKitSipInboundTrunkInputs>;

export class LiveKitSipInboundTrunk extends pulumi.dynamic.Resource {
  // Output properties are `declare`d, never `!:` (why: providers/resource-kind.ts, "Resource classes").
  declare public readonly sipTrunkId: pulumi.Output<string>;
  declare public readonly name: pulumi.Output<string>;
  declare public readonly numbers: pulumi.Output<string[]>;
  declare public readonly krispEnabled: pulumi.Output<boolean>;
  declare public readonly metadata: pulumi.Output<string>;
  declare public readonly allowedAddresses: pulumi.Output<string[]>;
  declare public readonly locked: pulumi.Output<boolean>;
  declare public readonly adoptId: pulumi.Output<string | undefined>;
  declare public readonly decommission: pulumi.Output<boolean>;
  declare public readonly allowedNumbers: pulumi.Output<string[]>;
  declare public readonly authUsername: pulumi.Output<string>;
  declare public readonly authPasswordSet: pulumi.Output<boolean>;
  declare public readonly authRealm: pulumi.Output<string>;
  declare public readonly headers: pulumi.Output<Record<string, string>>;
  declare public readonly headersToAttributes: pulumi.Output<Record<string, string>>;
  declare public readonly attributesToHeaders: pulumi.Output<Record<string, string>>;
  declare public readonly includeHeaders: pulumi.Output<string>;
  declare public readonly ringingTimeoutSeconds: pulumi.Output<number>;
  declare public readonly maxCallDurationSeconds: pulumi.Output<number>;
  declare public readonly media: pulumi.Output<Record<string, unknown> | undefined>;

  constructor(name: string, args: LiveKitSipInboundTrunkArgs, opts?: pulumi.CustomResourceOptions) {
    const outputsOnly: Record<
      Exclude<keyof LiveKitSipInboundTrunkOutputs, keyof LiveKitSipInboundTrunkInputs>,
      undefined
    > = {
      sipTrunkId: undefined,
      allowedNumbers: undefined,
      authUsername: undefined,
      authPasswordSet: undefined,
      authRealm: undefined,
      headers: undefined,
      headersToAttributes: undefined,
      attributesToHeaders: undefined,
      includeHeaders: undefined,
      ringingTimeoutSeconds: undefined,
      maxCallDurationSeconds: undefined,
      media: undefined,
    };
    super(
      projectProvider('livekit-sip-inbound-trunk'),
      name,
      { ...outputsOnly, ...args },
      opts,
      LIVEKIT_SIP_INBOUND_TRUNK_KIND.module,
      LIVEKIT_SIP_INBOUND_TRUNK_KIND.typeName,
    );
  }
}
