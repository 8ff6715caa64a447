/**
 * A LiveKit SIP dispatch rule: calls arriving on the given trunks go to a new room per caller
 * (`<roomPrefix>_<caller>_<random>`) and the voice agent is dispatched into it with the church's metadata.
 *
 * Routing per church is by TRUNK: each church's trunk carries its number, and its rule lists that trunk. A rule's
 * `inboundNumbers` filters on the CALLER's number, so it is never used (and repaired away when set by hand).
 */
import * as pulumi from '@pulumi/pulumi';
import { projectProvider } from './dynamic-provider';
import { lockedIdFailures } from '../vendors/livekit-locks';
import type {
  AgentDispatchSpec,
  DispatchRuleChanges,
  LiveKitClient,
  SIPDispatchRuleInfo,
} from '../vendors/livekit-client';
import {
  checkLockAndAdopt,
  diffLiveKitSipObject,
  liveKitSipProvider,
  lockedInputFailures,
  type ManagedOnly,
} from './livekit-sip-object';
import type { RuleFailure } from '../common/phone-numbers';
import {
  checkType,
  containsUnknown,
  sameField,
  unknownInputFailures,
  type FieldKind,
  type ResourceArgs,
} from './resource-inputs';
import { VendorError } from '../vendors/vendor-request';
import { changedByHand, formatValue, resourceKind } from './resource-kind';

/** The single multi-tenant agent deployed on LiveKit: it serves every church. */
export const DEFAULT_AGENT_NAME = 'churchwiseai-voice';

export interface LiveKitSipDispatchRuleInputs {
  /** Room names start with this (e.g. `church-<churchId>-`). Required unless locked. */
  roomPrefix?: string;
  /** The church's trunk(s). Required and non-empty unless locked: a rule without trunks catches every trunk. */
  trunkIds?: string[];
  /** Agent dispatched into each call's room; default DEFAULT_AGENT_NAME (churchwiseai-voice). */
  agentName?: string;
  /** JSON object handed to the agent, with the church id: `{"churchId": "..."}`. Required unless locked. */
  agentMetadata?: string;
  name?: string;
  metadata?: string;
  /** Attributes every caller participant gets. */
  attributes?: Record<string, string>;
  /** Read-only rule: create only adopts; update and delete are refused. */
  locked?: boolean;
  /** Adopt this existing rule (SDR_...) instead of creating one. */
  adoptId?: string;
  /**
   * Adopt the one existing rule that routes `trunkIds` (a line in service whose rule id nobody wrote down) instead
   * of creating one. Zero or several such rules: nothing is adopted or created, the error names them.
   */
  adoptByTrunk?: boolean;
  /** The founder asked to release this church's line: only then may a delete remove the rule at LiveKit. */
  decommission?: boolean;
}

/** Everything LiveKit reports about the rule, plus the managed-only inputs. */
export interface LiveKitSipDispatchRuleOutputs extends LiveKitSipDispatchRuleInputs {
  sipDispatchRuleId: string;
  roomPrefix: string;
  trunkIds: string[];
  agentName: string;
  agentMetadata: string;
  name: string;
  metadata: string;
  attributes: Record<string, string>;
  locked: boolean;
  decommission: boolean;
  /** individual | direct | callee ('' when LiveKit has no rule body). Ours are always individual. */
  ruleType: string;
  /** Room of a `direct` rule. */
  roomName: string;
  /** Whether callers must enter a PIN (the PIN itself is not read into state). Must be false for ours. */
  pinSet: boolean;
  /** Every agent dispatched; ours dispatch exactly one. */
  agents: AgentDispatchSpec[];
  /** Caller-number filter: must stay empty (routing is by trunk). */
  inboundNumbers: string[];
  /** Called-number filter: must stay empty (routing is by trunk). */
  numbers: string[];
  hidePhoneNumber: boolean;
  roomPreset: string;
  krispEnabled: boolean;
  /** LiveKit's RoomConfiguration JSON, when set. */
  roomConfig?: Record<string, unknown>;
  /** LiveKit's SIPMediaConfig JSON, when set. */
  media?: Record<string, unknown>;
}

export const RULE_FIELDS: Record<keyof LiveKitSipDispatchRuleInputs, FieldKind> = {
  roomPrefix: 'value',
  trunkIds: 'set',
  agentName: 'value',
  agentMetadata: 'value',
  name: 'value',
  metadata: 'value',
  attributes: 'map',
  locked: 'flag',
  adoptId: 'value',
  adoptByTrunk: 'flag',
  decommission: 'flag',
};

const RULE_INPUT_KEYS = Object.keys(RULE_FIELDS);

/** LiveKit room names: keep to characters every client and log handles. */
const ROOM_PREFIX_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const AGENT_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const TRUNK_ID_PATTERN = /^ST_[A-Za-z0-9]+$/;

function checkAgentMetadata(value: unknown): RuleFailure | undefined {
  if (typeof value !== 'string' || containsUnknown(value)) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch (error) {
    return {
      property: 'agentMetadata',
      reason: `agentMetadata must be a JSON object string: ${(error as Error).message}`,
    };
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
    return { property: 'agentMetadata', reason: `agentMetadata must be a JSON object, got ${value}` };
  }
  const churchId = (parsed as Record<string, unknown>).churchId;
  if (typeof churchId !== 'string' || churchId.trim() === '') {
    return {
      property: 'agentMetadata',
      reason:
        `agentMetadata must carry the church id as a non-empty string "churchId" ` +
        `(the agent loads the church from it), got ${value}`,
    };
  }
  return undefined;
}

export function checkLiveKitSipDispatchRule(
  olds: Record<string, any>,
  news: Record<string, any>,
): pulumi.dynamic.CheckResult<LiveKitSipDispatchRuleInputs> {
  const locked = news.locked === true;
  // A locked or adopted rule states only what identifies it; only a rule we create needs every field.
  const adopted = locked || news.adoptId !== undefined || news.adoptByTrunk === true;
  const failures: RuleFailure[] = [...unknownInputFailures(news, RULE_INPUT_KEYS)];
  const typeFailures = [
    checkType('roomPrefix', news.roomPrefix, 'string', !adopted),
    checkType('trunkIds', news.trunkIds, 'string[]', !adopted || news.adoptByTrunk === true),
    checkType('agentName', news.agentName, 'string', false),
    checkType('agentMetadata', news.agentMetadata, 'string', !adopted),
    checkType('adoptByTrunk', news.adoptByTrunk, 'boolean', false),
    checkType('name', news.name, 'string', false),
    checkType('metadata', news.metadata, 'string', false),
    checkType('attributes', news.attributes, 'map', false),
  ].filter((f): f is RuleFailure => f !== undefined);
  failures.push(...typeFailures, ...checkLockAndAdopt(news, 'SDR_'));
  const typed = (property: string) =>
    !typeFailures.some((f) => f.property === property) && !containsUnknown(news[property]);

  if (typed('roomPrefix') && typeof news.roomPrefix === 'string' && !ROOM_PREFIX_PATTERN.test(news.roomPrefix)) {
    failures.push({
      property: 'roomPrefix',
      reason:
        `roomPrefix must be 1-64 characters of letters, digits, "_", "-" or ".", starting with a letter or ` +
        `digit, got ${JSON.stringify(news.roomPrefix)}`,
    });
  }
  if (typed('agentName') && typeof news.agentName === 'string' && !AGENT_NAME_PATTERN.test(news.agentName)) {
    failures.push({
      property: 'agentName',
      reason:
        `agentName must be the deployed agent's name (e.g. ${DEFAULT_AGENT_NAME}), ` +
        `got ${JSON.stringify(news.agentName)}`,
    });
  }
  if (Array.isArray(news.trunkIds) && !typeFailures.some((f) => f.property === 'trunkIds')) {
    if (news.trunkIds.length === 0) {
      failures.push({
        property: 'trunkIds',
        reason:
          'trunkIds must list the church trunk: a rule without trunks applies to EVERY trunk, ' +
          'the legacy Twilio lines included',
      });
    }
    news.trunkIds.forEach((id: string, i: number) => {
      if (containsUnknown(id)) return;
      if (!TRUNK_ID_PATTERN.test(id))
        failures.push({
          property: `trunkIds[${i}]`,
          reason: `trunkIds[${i}] must be a trunk id like ST_LWgmiBSwTk7P, got ${JSON.stringify(id)}`,
        });
      if (news.trunkIds.indexOf(id) !== i)
        failures.push({ property: `trunkIds[${i}]`, reason: `trunkIds lists ${id} twice` });
    });
  }
  if (news.adoptByTrunk === true) {
    if (news.adoptId !== undefined) {
      failures.push({
        property: 'adoptByTrunk',
        reason: 'adoptByTrunk and adoptId are exclusive: name the rule, or let it be found by its trunk',
      });
    }
    if (Array.isArray(news.trunkIds) && news.trunkIds.length !== 1) {
      failures.push({
        property: 'trunkIds',
        reason: 'adoptByTrunk finds the rule of ONE trunk: trunkIds must list exactly that trunk',
      });
    }
  }
  const metadataFailure = checkAgentMetadata(news.agentMetadata);
  if (metadataFailure) failures.push(metadataFailure);
  if (typed('attributes') && news.attributes) {
    for (const [key, value] of Object.entries(news.attributes as Record<string, string>)) {
      if (value === '')
        failures.push({
          property: `attributes.${key}`,
          reason: `attributes.${key} must not be empty (LiveKit treats an empty value as "remove")`,
        });
    }
  }
  failures.push(
    ...lockedInputFailures('dispatch rule', RULE_FIELDS, olds, news),
    ...lockedIdFailures('dispatch rule', news),
  );

  const inputs: LiveKitSipDispatchRuleInputs = {
    roomPrefix: news.roomPrefix,
    trunkIds: news.trunkIds,
    agentMetadata: news.agentMetadata,
    ...(adopted
      ? // A locked or adopted rule is compared only on what the program states: no defaults.
        { agentName: news.agentName, name: news.name, metadata: news.metadata, attributes: news.attributes }
      : {
          agentName: news.agentName ?? DEFAULT_AGENT_NAME,
          name: news.name ?? '',
          metadata: news.metadata ?? '',
          attributes: news.attributes ?? {},
        }),
    locked: news.locked ?? false,
    adoptId: news.adoptId,
    adoptByTrunk: news.adoptByTrunk,
    decommission: news.decommission ?? false,
  };
  for (const key of Object.keys(inputs) as (keyof LiveKitSipDispatchRuleInputs)[]) {
    if (inputs[key] === undefined) delete inputs[key];
  }
  return { inputs, failures };
}

/** Live fields that must hold a fixed value on every rule we manage; a difference is drift to repair. */
export function ruleDrift(olds: Partial<LiveKitSipDispatchRuleOutputs>): string[] {
  const drift: string[] = [];
  if (olds.ruleType !== undefined && olds.ruleType !== 'individual') drift.push('ruleType');
  if (olds.pinSet) drift.push('pinSet');
  if (olds.inboundNumbers && olds.inboundNumbers.length > 0) drift.push('inboundNumbers');
  if (olds.numbers && olds.numbers.length > 0) drift.push('numbers');
  if (olds.hidePhoneNumber) drift.push('hidePhoneNumber');
  if (olds.agents && olds.agents.length !== 1) drift.push('agents');
  return drift;
}

export function diffLiveKitSipDispatchRule(
  _id: string,
  olds: Record<string, any>,
  news: Record<string, any>,
): pulumi.dynamic.DiffResult {
  return diffLiveKitSipObject(RULE_FIELDS, ruleDrift, 'sipDispatchRuleId', olds, news);
}

const RULE_TYPES: Record<string, string> = {
  dispatchRuleIndividual: 'individual',
  dispatchRuleDirect: 'direct',
  dispatchRuleCallee: 'callee',
};

export function ruleOutputs(live: SIPDispatchRuleInfo, managed: ManagedOnly): LiveKitSipDispatchRuleOutputs {
  const body = live.rule?.rule;
  const agents = (live.roomConfig?.agents ?? []).map((a) => ({ agentName: a.agentName, metadata: a.metadata }));
  const outputs: LiveKitSipDispatchRuleOutputs = {
    sipDispatchRuleId: live.sipDispatchRuleId,
    roomPrefix:
      body?.case === 'dispatchRuleIndividual' || body?.case === 'dispatchRuleCallee' ? body.value.roomPrefix : '',
    trunkIds: [...live.trunkIds],
    agentName: agents[0]?.agentName ?? '',
    agentMetadata: agents[0]?.metadata ?? '',
    name: live.name,
    metadata: live.metadata,
    attributes: { ...live.attributes },
    locked: managed.locked ?? false,
    decommission: managed.decommission ?? false,
    ruleType: body?.case ? RULE_TYPES[body.case] : '',
    roomName: body?.case === 'dispatchRuleDirect' ? body.value.roomName : '',
    pinSet: Boolean(body?.value?.pin),
    agents,
    inboundNumbers: [...live.inboundNumbers],
    numbers: [...live.numbers],
    hidePhoneNumber: live.hidePhoneNumber,
    roomPreset: live.roomPreset,
    krispEnabled: live.krispEnabled,
  };
  if (live.roomConfig) outputs.roomConfig = live.roomConfig.toJson() as Record<string, unknown>;
  if (live.media) outputs.media = live.media.toJson() as Record<string, unknown>;
  if (managed.adoptId) outputs.adoptId = managed.adoptId;
  if (managed.adoptByTrunk) outputs.adoptByTrunk = true;
  return outputs;
}

/** The id of the one rule routing the trunk of an `adoptByTrunk` rule; an error naming what was found otherwise. */
async function ruleRoutingTrunk(client: LiveKitClient, inputs: LiveKitSipDispatchRuleInputs): Promise<string> {
  const trunkId = (inputs.trunkIds ?? [])[0];
  const routing = (await client.listDispatchRules({ trunkIds: [trunkId] })).filter((r) => r.trunkIds.includes(trunkId));
  if (routing.length === 1) return routing[0].sipDispatchRuleId;
  const found =
    routing.length === 0 ? 'none does' : `${routing.length} do (${routing.map((r) => r.sipDispatchRuleId).join(', ')})`;
  throw new Error(
    `cannot adopt the dispatch rule of trunk ${trunkId}: exactly one rule must route it and ${found}; nothing was ` +
      'adopted or created. Name the right one in the stack config (linesInService.churches[].dispatchRuleId) ' +
      'after checking it in LiveKit',
  );
}

/** What to send so the live rule matches the inputs: input fields that differ, plus drift repair. */
export function ruleChanges(live: SIPDispatchRuleInfo, inputs: LiveKitSipDispatchRuleInputs): DispatchRuleChanges {
  const current = ruleOutputs(live, {});
  const changes: DispatchRuleChanges = {};
  const differs = (key: keyof LiveKitSipDispatchRuleInputs) =>
    inputs[key] !== undefined && !sameField(RULE_FIELDS[key], current[key], inputs[key]);
  if (differs('roomPrefix') || (current.ruleType !== 'individual' && inputs.roomPrefix !== undefined)) {
    changes.roomPrefix = inputs.roomPrefix;
  }
  if (differs('trunkIds')) changes.trunkIds = inputs.trunkIds;
  if (differs('name')) changes.name = inputs.name;
  if (differs('metadata')) changes.metadata = inputs.metadata;
  if (differs('attributes')) changes.attributes = inputs.attributes;
  if (differs('agentName') || differs('agentMetadata') || current.agents.length !== 1) {
    changes.agents = [
      { agentName: inputs.agentName ?? DEFAULT_AGENT_NAME, metadata: inputs.agentMetadata ?? current.agentMetadata },
    ];
  }
  if (ruleDrift(current).some((k) => k !== 'agents')) changes.resetRouting = true;
  return changes;
}

export const provider = liveKitSipProvider<
  LiveKitSipDispatchRuleInputs,
  LiveKitSipDispatchRuleOutputs,
  SIPDispatchRuleInfo,
  DispatchRuleChanges
>({
  kind: 'dispatch rule',
  label: 'dispatch rule',
  noun: 'rule',
  fields: RULE_FIELDS,
  check: checkLiveKitSipDispatchRule,
  diff: diffLiveKitSipDispatchRule,
  idOf: (live) => live.sipDispatchRuleId,
  outputs: ruleOutputs,
  changes: ruleChanges,
  get: (client, id) => client.getDispatchRule(id),
  list: (client) => client.listDispatchRules(),
  create: (client, inputs) =>
    client.createDispatchRule({
      roomPrefix: inputs.roomPrefix as string,
      trunkIds: inputs.trunkIds as string[],
      agents: [{ agentName: inputs.agentName ?? DEFAULT_AGENT_NAME, metadata: inputs.agentMetadata ?? '' }],
      name: inputs.name,
      metadata: inputs.metadata,
      attributes: inputs.attributes,
    }),
  adoptable: (client, inputs) => (inputs.adoptByTrunk ? ruleRoutingTrunk(client, inputs) : Promise.resolve(undefined)),
  update: (client, id, changes) => client.updateDispatchRule(id, changes),
  async remove(client, id) {
    try {
      await client.deleteDispatchRule(id);
    } catch (error) {
      // Gone already (deleted by hand) is the outcome we want; LiveKit answers 404 for it.
      if (!(error instanceof VendorError && error.notFound)) throw error;
    }
  },
});

/** A church's dispatch rule among the kinds of a line (providers/resource-kinds.ts), and how drift words it. */
export const LIVEKIT_SIP_DISPATCH_RULE_KIND = resourceKind({
  module: 'livekit',
  typeName: 'LiveKitSipDispatchRule',
  step: 'dispatch-rule',
  driftKind: 'dispatch-rule',
  label: 'dispatch rule',
  nameSuffix: '-dispatch',
  describeChange(id, _before, change) {
    const { property, before: was, after: now } = change;
    if (property === 'trunkIds')
      return `dispatch rule ${id} now routes trunk(s) ${formatValue(now)} (was ${formatValue(was)})`;
    if (property === 'agentName') {
      return (
        `dispatch rule ${id} dispatches agent "${formatValue(now)}" (was "${formatValue(was)}"): ` +
        `the church's calls get no answer from churchwiseai-voice`
      );
    }
    return changedByHand(`${property} of ${id}`, change);
  },
  describeMissing: (id) =>
    `dispatch rule ${id} was deleted by hand: calls reach LiveKit but no room is made, so no agent answers`,
});

export type LiveKitSipDispatchRuleArgs = ResourceArgs<LiveKitSipDispatchRuleInputs>;

export class LiveKitSipDispatchRule extends pulumi.dynamic.Resource {
  // Output properties are `declare`d, never `!:` (why: providers/resource-kind.ts, "Resource classes").
  declare public readonly sipDispatchRuleId: pulumi.Output<string>;
  declare public readonly roomPrefix: pulumi.Output<string>;
  declare public readonly trunkIds: pulumi.Output<string[]>;
  declare public readonly agentName: pulumi.Output<string>;
  declare public readonly agentMetadata: pulumi.Output<string>;
  declare public readonly name: pulumi.Output<string>;
  declare public readonly metadata: pulumi.Output<string>;
  declare public readonly attributes: pulumi.Output<Record<string, string>>;
  declare public readonly locked: pulumi.Output<boolean>;
  declare public readonly adoptId: pulumi.Output<string | undefined>;
  declare public readonly adoptByTrunk: pulumi.Output<boolean | undefined>;
  declare public readonly decommission: pulumi.Output<boolean>;
  declare public readonly ruleType: pulumi.Output<string>;
  declare public readonly roomName: pulumi.Output<string>;
  declare public readonly pinSet: pulumi.Output<boolean>;
  declare public readonly agents: pulumi.Output<AgentDispatchSpec[]>;
  declare public readonly inboundNumbers: pulumi.Output<string[]>;
  declare public readonly numbers: pulumi.Output<string[]>;
  declare public readonly hidePhoneNumber: pulumi.Output<boolean>;
  declare public readonly roomPreset: pulumi.Output<string>;
  declare public readonly krispEnabled: pulumi.Output<boolean>;
  declare public readonly roomConfig: pulumi.Output<Record<string, unknown> | undefined>;
  declare public readonly media: pulumi.Output<Record<string, unknown> | undefined>;

  constructor(name: string, args: LiveKitSipDispatchRuleArgs, opts?: pulumi.CustomResourceOptions) {
    const outputsOnly: Record<
      Exclude<keyof LiveKitSipDispatchRuleOutputs, keyof LiveKitSipDispatchRuleInputs>,
      undefined
    > = {
      sipDispatchRuleId: undefined,
      ruleType: undefined,
      roomName: undefined,
      pinSet: undefined,
      agents: undefined,
      inboundNumbers: undefined,
      numbers: undefined,
      hidePhoneNumber: undefined,
      roomPreset: undefined,
      krispEnabled: undefined,
      roomConfig: undefined,
      media: undefined,
    };
    super(
      projectProvider('livekit-sip-dispatch-rule'),
      name,
      { ...outputsOnly, ...args },
      opts,
      LIVEKIT_SIP_DISPATCH_RULE_KIND.module,
      LIVEKIT_SIP_DISPATCH_RULE_KIND.typeName,
    );
  }
}
