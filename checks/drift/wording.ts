/**
 * The drift report's sentences. What a change or a missing object of one kind means is said by its kind's
 * descriptor (`describeChange`, `describeMissing`, `describeRepairs` in each provider, listed in
 * providers/resource-kinds.ts); what `pulumi up` will do about it, the warnings and the summary are said here.
 */
import type { LineResourceKind } from '../../providers/resource-kinds';
import { formatValue } from './compare';
import type { Outputs, Planned, Refreshed } from './engine-events';
import type { DriftReport, DriftedResource, UpWarning } from './types';

/**
 * The update the report's sentences are about. A plain `pulumi up` compares the program with the last recorded
 * state and never sees a hand edit; with --refresh it reads the vendors first, which is what the preview here did.
 */
export const UP = '`pulumi up --refresh`';

/** What `pulumi up` does with a drifted resource, as one sentence. */
export function upConsequence(
  kind: LineResourceKind,
  resource: DriftedResource,
  planned: Planned | undefined,
  before: Outputs,
): string {
  const steps = planned?.steps ?? [];
  if (resource.state === 'missing') {
    if (steps.includes('create') || steps.includes('create-replacement')) {
      return resource.kind === 'row' ? `${UP} will write the row back` : `${UP} will create it again (see the warning)`;
    }
    return `${UP} will drop it from the state (the program no longer declares it)`;
  }
  if (before.locked === true)
    return `LOCKED: ${UP} will not touch it; put it back by hand, with the founder's approval`;
  if (steps.some((s) => s === 'update' || s === 'replace')) {
    const repairs = kind.describeRepairs(resource.properties);
    return repairs.length > 0
      ? `${UP} will ${repairs.join(', and ')}`
      : `${UP} will set it back to what the program states`;
  }
  return (
    `${UP} leaves it as it is now ` +
    `(the program does not manage ${resource.properties.map((p) => p.property).join(', ')}); ` +
    `\`pulumi refresh\` records it`
  );
}

/** What happened to a drifted resource (its kind's sentences) and what `pulumi up` will do about it. */
export function driftActions(
  kind: LineResourceKind,
  resource: DriftedResource,
  refreshed: Refreshed,
  planned: Planned | undefined,
): string[] {
  const actions = refreshed.after
    ? [...new Set(resource.properties.map((p) => kind.describeChange(refreshed.id, refreshed.before, p)))]
    : [kind.describeMissing(refreshed.id, refreshed.before)];
  actions.push(upConsequence(kind, resource, planned, refreshed.before));
  return actions;
}

function churchLabel(churchId: string | null, names: Map<string, string>): string {
  if (!churchId) return 'the fleet';
  const name = names.get(churchId);
  return name ? `${name} (${churchId})` : `church ${churchId}`;
}

/**
 * The warnings for one planned resource: whatever `pulumi up` would replace, release, delete or create anew.
 * `base` says whose resource it is (church, logical name); `kind` is undefined for a resource of no line.
 */
export function warningsFor(
  kind: LineResourceKind | undefined,
  base: { churchId: string | null; resource: string },
  planned: Planned,
  refreshed: Refreshed | undefined,
  names: Map<string, string>,
): UpWarning[] {
  if (!kind || kind.driftKind === 'test-ring') return [];
  const { churchId, resource } = base;
  const church = churchLabel(churchId, names);
  const outputs = refreshed?.before ?? planned.outputs ?? {};
  const id = refreshed?.id || (typeof outputs.sipTrunkId === 'string' ? outputs.sipTrunkId : undefined);
  const number = formatValue(outputs.phoneNumber ?? id);
  const inputs = planned.inputs ?? {};
  const steps = planned.steps;
  const whose = { churchId, resource, id };

  if (steps.includes('replace') || steps.includes('create-replacement')) {
    const why = planned.keys.length ? ` (${planned.keys.join(', ')} changed)` : '';
    const message =
      kind.driftKind === 'number'
        ? `${UP} will REPLACE ${number} of ${church}${why}: a new number is bought; the old one is released only ` +
          `if the church was decommissioned`
        : `${UP} will REPLACE the ${kind.label} ${id ?? resource} of ${church}${why}: a new object with a new id`;
    return [{ ...whose, what: 'replace', message }];
  }
  if (steps.includes('delete')) {
    const decommissioned = outputs.decommission === true;
    const consequence = decommissioned
      ? 'the church was decommissioned, so it goes through'
      : 'the provider refuses it without a decommission, so the update will fail';
    return kind.driftKind === 'number'
      ? [
          {
            ...whose,
            what: 'release',
            message: `${UP} plans to RELEASE ${number} of ${church} (no longer in the program): ${consequence}`,
          },
        ]
      : [
          {
            ...whose,
            what: 'delete',
            message:
              `${UP} plans to DELETE the ${kind.label} ${id ?? resource} of ${church} ` +
              `(no longer in the program): ${consequence}`,
          },
        ];
  }
  const gone = refreshed !== undefined && refreshed.after === undefined;
  if (gone && steps.includes('create') && kind.driftKind !== 'row') {
    if (typeof inputs.adoptId === 'string' && inputs.adoptId) {
      return [
        {
          ...whose,
          what: 'recreate',
          message:
            `${UP} will FAIL for ${church}: the adopted ${kind.label} ${inputs.adoptId} no longer exists, ` +
            `and adoption never creates one`,
        },
      ];
    }
    if (kind.driftKind === 'number') {
      const where =
        typeof inputs.phoneNumber === 'string'
          ? `${inputs.phoneNumber} again, if Telnyx still sells it`
          : typeof inputs.areaCode === 'string'
            ? `a NEW number in area code ${inputs.areaCode}`
            : 'a new number';
      return [
        {
          ...whose,
          what: 'recreate',
          message:
            `${UP} will BUY ${where} for ${church}: ${number} is gone, and callers who know it will not reach ` +
            `the church. Get ${number} back from Telnyx first if it was released by mistake`,
        },
      ];
    }
    return [
      {
        ...whose,
        what: 'recreate',
        message:
          kind.driftKind === 'trunk'
            ? `${UP} will CREATE A NEW TRUNK for ${church} (${id} is gone): a new id, and the dispatch rule and ` +
              `the row are pointed at it`
            : `${UP} will CREATE A NEW DISPATCH RULE for ${church} (${id} is gone): a new id, recorded in the row`,
      },
    ];
  }
  return [];
}

/** The report's first lines: drift or not, and how much. */
export function summary(report: DriftReport): string {
  const resources = report.churches.reduce((n, c) => n + c.resources.length, 0);
  const warnings = report.churches.reduce((n, c) => n + c.warnings.length, 0);
  const unmanaged =
    report.unmanaged.numbers.length + report.unmanaged.trunks.length + report.unmanaged.dispatchRules.length;
  if (!report.drift)
    return (
      `No drift on stack ${report.stack}: every resource matches the live systems, ` +
      `and nothing unmanaged touches our lines.`
    );
  return (
    `DRIFT on stack ${report.stack}: ${resources} resource(s) changed or missing, ${warnings} ` +
    `warning(s), ${unmanaged} unmanaged object(s).\n` +
    `The repairs below need ${UP}: a plain \`pulumi up\` compares the program with the last recorded state ` +
    `and does not see hand edits.`
  );
}
