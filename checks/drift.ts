/**
 * The drift report: what was changed by hand on the live systems since the last `pulumi up`, per church.
 *
 * One real engine run, `pulumi preview --refresh`: the engine reads every resource through its provider's `read`
 * (the refresh phase: one event per resource with its outputs before and after the read, `after` absent when the
 * object is gone), then plans the update from the refreshed state (the plan phase: the step `pulumi up` would take
 * for each resource). Nothing is written: neither the state nor any vendor. With CLI 3.274.1 the refresh phase
 * reports op `refresh` with `old`/`new` outputs and no `diffs`/`detailedDiff` for dynamic resources (their `diff`
 * returns none), so the property-level before/after is computed here from those outputs.
 *
 * On top of that, what no resource of the stack owns: numbers on the Telnyx FQDN connection, LiveKit trunks that
 * carry a number of this account, and dispatch rules that route one of our trunks (or every trunk).
 */
import { isDeepStrictEqual } from 'util';
import type { EngineEvent, OpType } from '@pulumi/pulumi/automation';
import type { LineSummary } from '../infra/program';
import { ROW_BOOKKEEPING_OUTPUTS } from '../providers/church-voice-agent-row';
import { containsUnknown, isEngineKey } from '../providers/resource-inputs';
import { smtpFounderMailer } from '../vendors/smtp-client';
import { stepOfUrn } from '../stacks/provisioning-run';
import { renderTable } from './line-table';
import { resourceName, stackLines, stateResources, type LiveSystems, type StateResource } from '../stacks/live-systems';

export type ResourceKind = 'number' | 'trunk' | 'dispatch-rule' | 'row' | 'test-ring';

/** `bookkeeping`: outputs the vendor keeps for itself (timestamps); no program manages them, so they are not drift. */
const KINDS: Array<{ typeSuffix: string; kind: ResourceKind; label: string; bookkeeping?: readonly string[] }> = [
  { typeSuffix: ':TelnyxPhoneNumber', kind: 'number', label: 'Telnyx number' },
  { typeSuffix: ':LiveKitSipInboundTrunk', kind: 'trunk', label: 'LiveKit trunk' },
  { typeSuffix: ':LiveKitSipDispatchRule', kind: 'dispatch-rule', label: 'dispatch rule' },
  { typeSuffix: ':ChurchVoiceAgentRow', kind: 'row', label: 'church_voice_agents row', bookkeeping: ROW_BOOKKEEPING_OUTPUTS },
  { typeSuffix: ':TestRing', kind: 'test-ring', label: 'test ring' },
];

function kindOf(type: string): (typeof KINDS)[number] | undefined {
  return KINDS.find((k) => type.endsWith(k.typeSuffix));
}

export interface PropertyDrift {
  property: string;
  before: unknown;
  after: unknown;
}

export interface DriftedResource {
  churchId: string | null;
  /** Logical name in the program, e.g. `church-grace-akron-trunk`. */
  resource: string;
  kind: ResourceKind;
  id: string;
  /** `changed`: properties differ from the state; `missing`: the vendor no longer has the object. */
  state: 'changed' | 'missing';
  properties: PropertyDrift[];
  /** The step `pulumi up` would take for it (`update`, `same`, `create`, ...), or `none` when it is not planned. */
  upStep: string;
  /** What happened and what `pulumi up` will do about it, in words. */
  actions: string[];
}

export interface UpWarning {
  churchId: string | null;
  resource: string;
  id?: string;
  /** `recreate`, `replace`, `release` or `delete`. */
  what: 'recreate' | 'replace' | 'release' | 'delete';
  message: string;
}

export interface UnmanagedNumber {
  phoneNumber: string;
  id: string;
  connectionId: string;
  customerReference: string | null;
  message: string;
}

export interface UnmanagedTrunk {
  sipTrunkId: string;
  name: string;
  numbers: string[];
  /** Its numbers that belong to this account (Telnyx) or to the stack's own trunks. */
  ourNumbers: string[];
  message: string;
}

export interface UnmanagedDispatchRule {
  sipDispatchRuleId: string;
  name: string;
  trunkIds: string[];
  message: string;
}

export interface ChurchDrift {
  /** null: resources that are not a church's (legacy Twilio trunks, the locked trunk). */
  churchId: string | null;
  churchName?: string;
  resources: DriftedResource[];
  warnings: UpWarning[];
}

export interface DriftReport {
  stack: string;
  checkedAt: string;
  /** True when anything below counts: a drifted resource, a warning, or an unmanaged object touching our lines. */
  drift: boolean;
  churches: ChurchDrift[];
  unmanaged: { numbers: UnmanagedNumber[]; trunks: UnmanagedTrunk[]; dispatchRules: UnmanagedDispatchRule[] };
  /**
   * Trunks no resource of this stack owns that carry none of this account's numbers (another stack's or another
   * product's in a shared LiveKit project). Listed, not counted: no call to a number of ours can reach them.
   */
  otherTrunks: Array<{ sipTrunkId: string; name: string; numbers: string[] }>;
  /** What `pulumi up` would do that is not drift: new lines, re-rings, program or config changes. */
  pending: Array<{ churchId: string | null; resource: string; step: string }>;
  /** Warnings the program and the providers printed during the preview. */
  engineWarnings: string[];
}

// ---------------------------------------------------------------------------------------------------------------
// Engine events
// ---------------------------------------------------------------------------------------------------------------

type Outputs = Record<string, unknown>;

interface Refreshed {
  type: string;
  id: string;
  before: Outputs;
  /** undefined: the provider's read found nothing. */
  after?: Outputs;
}

interface Planned {
  /** Every step the plan has for the resource (a replacement is several). */
  steps: OpType[];
  type: string;
  keys: string[];
  /** The program's inputs for it (undefined for a delete). */
  inputs?: Outputs;
  /** Its outputs in the refreshed state. */
  outputs?: Outputs;
}

export interface PreviewObservations {
  refreshed: Map<string, Refreshed>;
  planned: Map<string, Planned>;
  warnings: string[];
  errors: string[];
}

const isOurs = (type: string | undefined) => type !== undefined && kindOf(type) !== undefined;

/** Collects what `pulumi preview --refresh` reports: the refresh phase, the plan and the diagnostics. */
export function previewObserver(): { onEvent: (event: EngineEvent) => void; observations: PreviewObservations } {
  const observations: PreviewObservations = { refreshed: new Map(), planned: new Map(), warnings: [], errors: [] };
  const onEvent = (event: EngineEvent) => {
    const diagnostic = event.diagnosticEvent;
    if (diagnostic) {
      const text = diagnostic.message.trim();
      const sink = diagnostic.severity === 'warning' ? observations.warnings : diagnostic.severity === 'error' ? observations.errors : undefined;
      if (sink && text && !sink.includes(text)) sink.push(text);
      return;
    }
    const outputs = event.resOutputsEvent?.metadata;
    if (outputs?.op === 'refresh' && isOurs(outputs.old?.type ?? outputs.type)) {
      const gone = !outputs.new || !outputs.new.id;
      observations.refreshed.set(outputs.urn, {
        type: outputs.type,
        id: outputs.old?.id ?? '',
        before: outputs.old?.outputs ?? {},
        after: gone ? undefined : (outputs.new?.outputs ?? {}),
      });
      return;
    }
    const step = event.resourcePreEvent?.metadata;
    if (step && step.op !== 'refresh' && isOurs(step.type)) {
      const planned = observations.planned.get(step.urn) ?? { steps: [], type: step.type, keys: [] };
      planned.steps.push(step.op);
      planned.keys.push(...(step.keys ?? []).filter((k) => !planned.keys.includes(k)));
      if (step.new?.inputs) planned.inputs = step.new.inputs;
      if (step.old?.outputs) planned.outputs = step.old.outputs;
      observations.planned.set(step.urn, planned);
    }
  };
  return { onEvent, observations };
}

// ---------------------------------------------------------------------------------------------------------------
// Property comparison
// ---------------------------------------------------------------------------------------------------------------

/** Absent, null, "", [] and {} all mean "nothing set"; string lists compare as sets (LiveKit may reorder). */
function normalized(value: unknown): unknown {
  if (value === undefined || value === null || value === '') return undefined;
  if (Array.isArray(value)) {
    if (value.length === 0) return undefined;
    const items = value.map(normalized);
    return items.every((v) => typeof v === 'string') ? [...(items as string[])].sort() : items;
  }
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .map(([k, v]) => [k, normalized(v)] as const)
      .filter(([, v]) => v !== undefined);
    return entries.length === 0 ? undefined : Object.fromEntries(entries.sort(([a], [b]) => a.localeCompare(b)));
  }
  return value;
}

/** Output properties whose value differs after the read, engine keys and the kind's `bookkeeping` left out. */
export function changedProperties(before: Outputs, after: Outputs, bookkeeping: readonly string[] = []): PropertyDrift[] {
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])]
    .filter((k) => !isEngineKey(k) && !bookkeeping.includes(k))
    .sort();
  return keys
    .filter((k) => !isDeepStrictEqual(normalized(before[k]), normalized(after[k])))
    .map((property) => ({ property, before: before[property], after: after[property] }));
}

export function formatValue(value: unknown): string {
  if (value === undefined || value === null) return '(none)';
  if (value === '') return '""';
  if (Array.isArray(value)) return value.length === 0 ? '[]' : value.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).join(', ');
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

// ---------------------------------------------------------------------------------------------------------------
// Building the report
// ---------------------------------------------------------------------------------------------------------------

export interface DriftInputs {
  stack: string;
  checkedAt: string;
  observations: PreviewObservations;
  lines: LineSummary[];
  unmanaged: DriftReport['unmanaged'];
  otherTrunks: DriftReport['otherTrunks'];
}

/**
 * The update the report's sentences are about. A plain `pulumi up` compares the program with the last recorded
 * state and never sees a hand edit; with --refresh it reads the vendors first, which is what the preview here did.
 */
const UP = '`pulumi up --refresh`';

const AUTH_PROPERTIES = ['authUsername', 'authPasswordSet', 'authRealm'];

const asStrings = (value: unknown): string[] => (Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : []);

/** A property change said the way the founder acts on it. */
function describeChange(kind: ResourceKind, id: string, before: Outputs, change: PropertyDrift): string {
  const { property, before: was, after: now } = change;
  const number = typeof before.phoneNumber === 'string' ? before.phoneNumber : id;
  if (kind === 'number' && property === 'connectionId') {
    return now
      ? `${number} moved to connection ${formatValue(now)} by hand (was ${formatValue(was)}): its calls go wherever that connection points`
      : `${number} was taken off connection ${formatValue(was)} by hand: calls to it reach no one`;
  }
  if (kind === 'number' && property === 'status') return `${number} is now "${formatValue(now)}" at Telnyx (was "${formatValue(was)}")`;
  if (kind === 'trunk' && property === 'numbers') {
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
  if (kind === 'trunk' && AUTH_PROPERTIES.includes(property)) {
    // One sentence for the username and the password flag: they change together.
    return now
      ? `auth set on trunk ${id} by hand: LiveKit challenges Telnyx's INVITEs, which carry no credentials, so every call fails`
      : `auth removed from trunk ${id}`;
  }
  if (kind === 'trunk' && property === 'allowedNumbers') {
    return `caller allow-list on trunk ${id} changed by hand to ${formatValue(now)}: every other caller is refused`;
  }
  if (kind === 'dispatch-rule' && property === 'trunkIds') {
    return `dispatch rule ${id} now routes trunk(s) ${formatValue(now)} (was ${formatValue(was)})`;
  }
  if (kind === 'dispatch-rule' && property === 'agentName') {
    return `dispatch rule ${id} dispatches agent "${formatValue(now)}" (was "${formatValue(was)}"): the church's calls get no answer from churchwiseai-voice`;
  }
  const where = kind === 'row' ? `church_voice_agents.${property}` : `${property} of ${id}`;
  return `${where} changed by hand: ${formatValue(was)} -> ${formatValue(now)}`;
}

function describeMissing(kind: ResourceKind, id: string, before: Outputs): string {
  switch (kind) {
    case 'number':
      return `${formatValue(before.phoneNumber ?? id)} is gone from the Telnyx account (released or ported by hand)`;
    case 'trunk':
      return `trunk ${id} was deleted by hand: calls to ${formatValue(before.numbers)} get "no trunk found"`;
    case 'dispatch-rule':
      return `dispatch rule ${id} was deleted by hand: calls reach LiveKit but no room is made, so no agent answers`;
    case 'row':
      return `the church_voice_agents row of ${id} was deleted by hand: the agent cannot look the church up by ${formatValue(before.phoneNumber)}`;
    default:
      return `${id} is gone`;
  }
}

/** What `pulumi up` does with a drifted resource, as one sentence. */
function upConsequence(resource: DriftedResource, planned: Planned | undefined, before: Outputs): string {
  const steps = planned?.steps ?? [];
  if (resource.state === 'missing') {
    if (steps.includes('create') || steps.includes('create-replacement')) {
      return resource.kind === 'row'
        ? `${UP} will write the row back`
        : `${UP} will create it again (see the warning)`;
    }
    return `${UP} will drop it from the state (the program no longer declares it)`;
  }
  if (before.locked === true) return `LOCKED: ${UP} will not touch it; put it back by hand, with the founder's approval`;
  if (steps.some((s) => s === 'update' || s === 'replace')) {
    const was = (property: string) => resource.properties.find((p) => p.property === property);
    const repairs: string[] = [];
    if (resource.kind === 'number' && was('connectionId')) repairs.push(`move it back to connection ${formatValue(was('connectionId')!.before)}`);
    if (resource.kind === 'trunk' && was('numbers')) repairs.push(`set the trunk's numbers back to ${formatValue(was('numbers')!.before)}`);
    if (resource.kind === 'trunk' && resource.properties.some((p) => AUTH_PROPERTIES.includes(p.property))) repairs.push('remove the auth');
    if (resource.kind === 'trunk' && was('allowedNumbers')) repairs.push('remove the caller allow-list');
    return repairs.length > 0 ? `${UP} will ${repairs.join(', and ')}` : `${UP} will set it back to what the program states`;
  }
  return `${UP} leaves it as it is now (the program does not manage ${resource.properties.map((p) => p.property).join(', ')}); \`pulumi refresh\` records it`;
}

function churchLabel(churchId: string | null, names: Map<string, string>): string {
  if (!churchId) return 'the fleet';
  const name = names.get(churchId);
  return name ? `${name} (${churchId})` : `church ${churchId}`;
}

/** The warnings for one planned resource: whatever `pulumi up` would replace, release, delete or create anew. */
function warningsFor(
  urn: string,
  planned: Planned,
  refreshed: Refreshed | undefined,
  names: Map<string, string>,
): UpWarning[] {
  const kind = kindOf(planned.type);
  if (!kind || kind.kind === 'test-ring') return [];
  const { churchId = null } = stepOfUrn(urn);
  const resource = resourceName(urn);
  const church = churchLabel(churchId, names);
  const outputs = refreshed?.before ?? planned.outputs ?? {};
  const id = refreshed?.id || (typeof outputs.sipTrunkId === 'string' ? outputs.sipTrunkId : undefined);
  const number = formatValue(outputs.phoneNumber ?? id);
  const inputs = planned.inputs ?? {};
  const steps = planned.steps;
  const base = { churchId, resource, id };

  if (steps.includes('replace') || steps.includes('create-replacement')) {
    const why = planned.keys.length ? ` (${planned.keys.join(', ')} changed)` : '';
    const message =
      kind.kind === 'number'
        ? `${UP} will REPLACE ${number} of ${church}${why}: a new number is bought; the old one is released only if the church was decommissioned`
        : `${UP} will REPLACE the ${kind.label} ${id ?? resource} of ${church}${why}: a new object with a new id`;
    return [{ ...base, what: 'replace', message }];
  }
  if (steps.includes('delete')) {
    const decommissioned = outputs.decommission === true;
    const consequence = decommissioned
      ? 'the church was decommissioned, so it goes through'
      : 'the provider refuses it without a decommission, so the update will fail';
    return kind.kind === 'number'
      ? [{ ...base, what: 'release', message: `${UP} plans to RELEASE ${number} of ${church} (no longer in the program): ${consequence}` }]
      : [{ ...base, what: 'delete', message: `${UP} plans to DELETE the ${kind.label} ${id ?? resource} of ${church} (no longer in the program): ${consequence}` }];
  }
  const gone = refreshed !== undefined && refreshed.after === undefined;
  if (gone && steps.includes('create') && kind.kind !== 'row') {
    if (typeof inputs.adoptId === 'string' && inputs.adoptId) {
      return [{ ...base, what: 'recreate', message: `${UP} will FAIL for ${church}: the adopted ${kind.label} ${inputs.adoptId} no longer exists, and adoption never creates one` }];
    }
    if (kind.kind === 'number') {
      const where = typeof inputs.phoneNumber === 'string' ? `${inputs.phoneNumber} again, if Telnyx still sells it` : typeof inputs.areaCode === 'string' ? `a NEW number in area code ${inputs.areaCode}` : 'a new number';
      return [
        {
          ...base,
          what: 'recreate',
          message: `${UP} will BUY ${where} for ${church}: ${number} is gone, and callers who know it will not reach the church. Get ${number} back from Telnyx first if it was released by mistake`,
        },
      ];
    }
    return [
      {
        ...base,
        what: 'recreate',
        message:
          kind.kind === 'trunk'
            ? `${UP} will CREATE A NEW TRUNK for ${church} (${id} is gone): a new id, and the dispatch rule and the row are pointed at it`
            : `${UP} will CREATE A NEW DISPATCH RULE for ${church} (${id} is gone): a new id, recorded in the row`,
      },
    ];
  }
  return [];
}

export function buildDriftReport(input: DriftInputs): DriftReport {
  const { observations } = input;
  const names = new Map(input.lines.map((l) => [l.churchId, l.churchName]));
  const groups = new Map<string | null, ChurchDrift>();
  const group = (churchId: string | null) => {
    let found = groups.get(churchId);
    if (!found) {
      found = { churchId, ...(churchId && names.has(churchId) ? { churchName: names.get(churchId) } : {}), resources: [], warnings: [] };
      groups.set(churchId, found);
    }
    return found;
  };

  for (const [urn, refreshed] of observations.refreshed) {
    const kind = kindOf(refreshed.type)!;
    const properties = refreshed.after ? changedProperties(refreshed.before, refreshed.after, kind.bookkeeping) : [];
    if (refreshed.after && properties.length === 0) continue;
    const { churchId = null } = stepOfUrn(urn);
    const planned = observations.planned.get(urn);
    const resource: DriftedResource = {
      churchId,
      resource: resourceName(urn),
      kind: kind.kind,
      id: refreshed.id,
      state: refreshed.after ? 'changed' : 'missing',
      properties,
      upStep: planned?.steps.join('+') || 'none',
      actions: [],
    };
    resource.actions = refreshed.after
      ? [...new Set(properties.map((p) => describeChange(kind.kind, refreshed.id, refreshed.before, p)))]
      : [describeMissing(kind.kind, refreshed.id, refreshed.before)];
    resource.actions.push(upConsequence(resource, planned, refreshed.before));
    group(churchId).resources.push(resource);
  }

  const pending: DriftReport['pending'] = [];
  for (const [urn, planned] of observations.planned) {
    const refreshed = observations.refreshed.get(urn);
    const warnings = warningsFor(urn, planned, refreshed, names);
    const { churchId = null } = stepOfUrn(urn);
    if (warnings.length > 0) {
      group(churchId).warnings.push(...warnings);
      continue;
    }
    const drifted =
      refreshed &&
      (refreshed.after === undefined || changedProperties(refreshed.before, refreshed.after, kindOf(refreshed.type)?.bookkeeping).length > 0);
    const changes = planned.steps.filter((s) => s !== 'same' && s !== 'read');
    // An update whose inputs are unknown in a preview follows from a change upstream (a re-bought number makes the
    // trunk's numbers unknown): it is not a change of its own.
    if (drifted || changes.length === 0 || (changes.every((s) => s === 'update') && containsUnknown(planned.inputs ?? {}))) continue;
    pending.push({ churchId, resource: resourceName(urn), step: changes.join('+') });
  }

  const churches = [...groups.values()].sort((a, b) =>
    a.churchId === null ? 1 : b.churchId === null ? -1 : a.churchId.localeCompare(b.churchId),
  );
  const touchesUs = input.unmanaged.numbers.length + input.unmanaged.trunks.length + input.unmanaged.dispatchRules.length;
  const drift = churches.some((c) => c.resources.length > 0 || c.warnings.length > 0) || touchesUs > 0;
  return {
    stack: input.stack,
    checkedAt: input.checkedAt,
    drift,
    churches,
    unmanaged: input.unmanaged,
    otherTrunks: input.otherTrunks,
    pending,
    engineWarnings: observations.warnings,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Unmanaged objects
// ---------------------------------------------------------------------------------------------------------------

function ownedBy(resources: StateResource[], kind: ResourceKind): StateResource[] {
  return resources.filter((r) => r.custom !== false && kindOf(r.type)?.kind === kind && r.id);
}

/**
 * What no resource of this stack owns, on the systems its lines are made of. A trunk counts when it carries a
 * number of this account (it takes calls meant for us); a rule counts when it routes a trunk that takes our calls
 * (the stack's, or such a hand-made one) or every trunk. Trunks with none of our numbers are listed apart, not
 * counted: in a LiveKit project shared with other stacks they are someone else's.
 */
export async function findUnmanaged(
  live: Pick<LiveSystems, 'telnyx' | 'livekit' | 'settings' | 'stackName'>,
  resources: StateResource[],
): Promise<{ unmanaged: DriftReport['unmanaged']; otherTrunks: DriftReport['otherTrunks'] }> {
  const connectionId = live.settings.telnyxConnectionId;
  const ownedNumbers = new Set(ownedBy(resources, 'number').map((r) => String(r.outputs?.phoneNumber ?? '')));
  const ownedTrunkIds = new Set(ownedBy(resources, 'trunk').map((r) => r.id!));
  const ownedRuleIds = new Set(ownedBy(resources, 'dispatch-rule').map((r) => r.id!));
  const stack = `stack ${live.stackName}`;

  const [onConnection, account, trunks, rules] = await Promise.all([
    live.telnyx.listPhoneNumbers({ connectionId }),
    live.telnyx.listPhoneNumbers(),
    live.livekit.listInboundTrunks(),
    live.livekit.listDispatchRules(),
  ]);

  const numbers: UnmanagedNumber[] = onConnection
    .filter((n) => !ownedNumbers.has(n.phoneNumber))
    .map((n) => ({
      phoneNumber: n.phoneNumber,
      id: n.id,
      connectionId,
      customerReference: n.customerReference,
      message:
        `${n.phoneNumber} is on connection ${connectionId} but no resource of ${stack} owns it` +
        `${n.customerReference ? ` (customer_reference ${n.customerReference})` : ''}: its calls go to whichever LiveKit trunk lists it. ` +
        'Adopt it (linesInService in the stack config) or take it off the connection',
    }));

  const ourNumbers = new Set([
    ...account.filter((n) => n.status !== 'deleted').map((n) => n.phoneNumber),
    ...ownedNumbers,
    ...trunks.filter((t) => ownedTrunkIds.has(t.sipTrunkId)).flatMap((t) => t.numbers),
  ]);
  const unmanagedTrunks: UnmanagedTrunk[] = [];
  const otherTrunks: DriftReport['otherTrunks'] = [];
  for (const trunk of trunks.filter((t) => !ownedTrunkIds.has(t.sipTrunkId))) {
    const ours = trunk.numbers.filter((n) => ourNumbers.has(n));
    if (ours.length === 0) {
      otherTrunks.push({ sipTrunkId: trunk.sipTrunkId, name: trunk.name, numbers: [...trunk.numbers] });
      continue;
    }
    unmanagedTrunks.push({
      sipTrunkId: trunk.sipTrunkId,
      name: trunk.name,
      numbers: [...trunk.numbers],
      ourNumbers: ours,
      message:
        `trunk ${trunk.sipTrunkId} ("${trunk.name}") lists ${ours.join(', ')} but no resource of ${stack} owns it: it was made by hand ` +
        'and takes the calls to those numbers. Adopt it into the stack, or delete it once the number is on its church\'s trunk',
    });
  }

  // Trunks that take calls to our numbers: the stack's own, and the hand-made ones above.
  const ourTrunkIds = new Set([...ownedTrunkIds, ...unmanagedTrunks.map((t) => t.sipTrunkId)]);
  const dispatchRules: UnmanagedDispatchRule[] = rules
    .filter((r) => !ownedRuleIds.has(r.sipDispatchRuleId))
    .filter((r) => r.trunkIds.length === 0 || r.trunkIds.some((t) => ourTrunkIds.has(t)))
    .map((r) => {
      const routes = r.trunkIds.length === 0 ? 'EVERY trunk (it names none)' : `trunk(s) ${r.trunkIds.filter((t) => ourTrunkIds.has(t)).join(', ')}, which take calls to our numbers,`;
      return {
        sipDispatchRuleId: r.sipDispatchRuleId,
        name: r.name,
        trunkIds: [...r.trunkIds],
        message:
          `dispatch rule ${r.sipDispatchRuleId} ("${r.name}") routes ${routes} but no resource of ${stack} owns it: ` +
          "LiveKit may put our calls in its rooms instead of the church's. Delete it or adopt it",
      };
    });

  return { unmanaged: { numbers, trunks: unmanagedTrunks, dispatchRules }, otherTrunks };
}

// ---------------------------------------------------------------------------------------------------------------
// Running it
// ---------------------------------------------------------------------------------------------------------------

/** Runs the preview with refresh on the real engine, then looks for unmanaged objects. Writes nothing anywhere. */
export async function driftReport(live: LiveSystems, options: { onOutput?: (text: string) => void } = {}): Promise<DriftReport> {
  const { onEvent, observations } = previewObserver();
  try {
    await live.stack.preview({ refresh: true, onEvent, onOutput: options.onOutput });
  } catch (error) {
    const why = observations.errors.length ? observations.errors.join('\n') : (error as Error).message;
    throw new Error(`pulumi preview --refresh of stack ${live.stackName} failed, so drift could not be measured:\n${why}`);
  }
  const resources = await stateResources(live.stack);
  const lines = await stackLines(live.stack);
  const { unmanaged, otherTrunks } = await findUnmanaged(live, resources);
  return buildDriftReport({ stack: live.stackName, checkedAt: new Date().toISOString(), observations, lines, unmanaged, otherTrunks });
}

// ---------------------------------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------------------------------

function summary(report: DriftReport): string {
  const resources = report.churches.reduce((n, c) => n + c.resources.length, 0);
  const warnings = report.churches.reduce((n, c) => n + c.warnings.length, 0);
  const unmanaged = report.unmanaged.numbers.length + report.unmanaged.trunks.length + report.unmanaged.dispatchRules.length;
  if (!report.drift) return `No drift on stack ${report.stack}: every resource matches the live systems, and nothing unmanaged touches our lines.`;
  return (
    `DRIFT on stack ${report.stack}: ${resources} resource(s) changed or missing, ${warnings} warning(s), ${unmanaged} unmanaged object(s).\n` +
    `The repairs below need ${UP}: a plain \`pulumi up\` compares the program with the last recorded state and does not see hand edits.`
  );
}

/** Trunks of other stacks in a shared LiveKit can be many: the text names a few, --json all of them. */
const OTHER_TRUNKS_SHOWN = 10;

const truncate = (text: string, max = 48) => (text.length > max ? `${text.slice(0, max - 3)}...` : text);

/** The report as the founder reads it: one table per church, each followed by what to do. */
export function renderDrift(report: DriftReport): string {
  const out: string[] = [`Drift report, stack ${report.stack}, ${report.checkedAt}`, summary(report)];
  for (const church of report.churches) {
    const title = church.churchId === null ? 'Fleet (not a church: legacy Twilio trunks, the locked trunk)' : church.churchName ? `${church.churchName} (${church.churchId})` : church.churchId;
    out.push('', `== ${title}`);
    if (church.resources.length > 0) {
      const rows = church.resources.flatMap((r) =>
        r.state === 'missing'
          ? [[r.resource, r.id, '(whole object)', 'exists', 'GONE', 'missing']]
          : r.properties.map((p) => [r.resource, r.id, p.property, truncate(formatValue(p.before)), truncate(formatValue(p.after)), 'changed']),
      );
      out.push(renderTable(['Resource', 'Id', 'Property', 'Before', 'After', 'State'], rows));
      for (const r of church.resources) for (const action of r.actions) out.push(`  -> ${action}`);
    }
    for (const w of church.warnings) out.push(`  WARNING: ${w.message}`);
  }
  const { numbers, trunks, dispatchRules } = report.unmanaged;
  if (numbers.length + trunks.length + dispatchRules.length > 0) {
    out.push('', `== Unmanaged: no resource of stack ${report.stack} owns these`);
    out.push(
      renderTable(
        ['Kind', 'Id', 'Details'],
        [
          ...numbers.map((n) => ['number', n.phoneNumber, `Telnyx id ${n.id}, connection ${n.connectionId}${n.customerReference ? `, customer_reference ${n.customerReference}` : ''}`]),
          ...trunks.map((t) => ['trunk', t.sipTrunkId, `"${t.name}", numbers ${t.numbers.join(', ')}`]),
          ...dispatchRules.map((r) => ['dispatch rule', r.sipDispatchRuleId, `"${r.name}", trunks ${r.trunkIds.join(', ') || '(every trunk)'}`]),
        ],
      ),
    );
    for (const item of [...numbers, ...trunks, ...dispatchRules]) out.push(`  -> ${item.message}`);
  }
  if (report.otherTrunks.length > 0) {
    const shown = report.otherTrunks.slice(0, OTHER_TRUNKS_SHOWN).map((t) => t.sipTrunkId);
    const more = report.otherTrunks.length - shown.length;
    out.push(
      '',
      `${report.otherTrunks.length} other trunk(s) in LiveKit carry none of this account's numbers and belong to no resource of this stack ` +
        `(not counted as drift): ${shown.join(', ')}${more > 0 ? ` and ${more} more (--json lists them all)` : ''}`,
    );
  }
  if (report.pending.length > 0) {
    out.push('', 'Pending, not drift (`pulumi up` will do these):');
    for (const p of report.pending) out.push(`  ${p.step} ${p.resource}`);
  }
  if (report.engineWarnings.length > 0) {
    out.push('', 'The program and the providers warned during the preview:');
    for (const w of report.engineWarnings) out.push(`  ${w.replace(/\n/g, '\n  ')}`);
  }
  return out.join('\n');
}

/** Sends the report to FOUNDER_EMAIL over SMTP_URL (MAIL_FROM optional); says what it did. */
export async function emailDriftReport(report: DriftReport, env: NodeJS.ProcessEnv): Promise<string> {
  const smtpUrl = env.SMTP_URL?.trim();
  const to = env.FOUNDER_EMAIL?.trim();
  if (!smtpUrl || !to) {
    throw new Error('--email needs SMTP_URL (smtp:// or smtps://) and FOUNDER_EMAIL in the environment');
  }
  if (!/^smtps?:\/\//.test(smtpUrl)) throw new Error('SMTP_URL must be an smtp:// or smtps:// URL');
  const mailer = smtpFounderMailer({ smtpUrl, to, from: env.MAIL_FROM?.trim() || `ChurchWise drift report <${to}>` });
  try {
    const subject = report.drift
      ? `[ChurchWise voice] DRIFT on stack ${report.stack}: lines changed by hand`
      : `[ChurchWise voice] No drift on stack ${report.stack}`;
    await mailer.send({ subject, text: renderDrift(report) });
    return `drift report emailed to ${to}`;
  } finally {
    mailer.close();
  }
}
