/**
 * The drift report: what was changed by hand on the live systems since the last `pulumi up`, per church.
 *
 * One real engine run, `pulumi preview --refresh` (engine-events.ts): every resource is read through its provider
 * and the update is planned from what was read. Nothing is written: neither the state nor any vendor. The report
 * compares each resource's outputs before and after the read (compare.ts), says what changed and what `pulumi up`
 * will do about it (wording.ts, and each kind's own sentences in its provider), and adds what no resource of the
 * stack owns (unmanaged.ts). Here it is built, printed for the founder and mailed.
 */
import type { LineSummary } from '../../infra/program';
import { containsUnknown } from '../../providers/resource-inputs';
import { kindOfType } from '../../providers/resource-kinds';
import { smtpFounderMailer } from '../../vendors/smtp-client';
import { stepOfUrn } from '../../stacks/provisioning-run';
import {
  resourceName,
  stackLines,
  stateResources,
  type LiveSystems,
  type StateResource,
} from '../../stacks/live-systems';
import { renderTable } from '../line-table';
import { changedProperties, formatValue } from './compare';
import { previewObserver, type PreviewObservations } from './engine-events';
import { findUnmanaged } from './unmanaged';
import { driftActions, summary, warningsFor } from './wording';
import type { ChurchDrift, DriftReport, DriftedResource } from './types';

export interface DriftInputs {
  stack: string;
  checkedAt: string;
  observations: PreviewObservations;
  lines: LineSummary[];
  unmanaged: DriftReport['unmanaged'];
  otherTrunks: DriftReport['otherTrunks'];
}

export function buildDriftReport(input: DriftInputs): DriftReport {
  const { observations } = input;
  const names = new Map(input.lines.map((l) => [l.churchId, l.churchName]));
  const groups = new Map<string | null, ChurchDrift>();
  const group = (churchId: string | null) => {
    let found = groups.get(churchId);
    if (!found) {
      found = {
        churchId,
        ...(churchId && names.has(churchId) ? { churchName: names.get(churchId) } : {}),
        resources: [],
        warnings: [],
      };
      groups.set(churchId, found);
    }
    return found;
  };

  for (const [urn, refreshed] of observations.refreshed) {
    const kind = kindOfType(refreshed.type)!;
    const properties = refreshed.after
      ? changedProperties(refreshed.before, refreshed.after, kind.bookkeepingOutputs)
      : [];
    if (refreshed.after && properties.length === 0) continue;
    const { churchId = null } = stepOfUrn(urn);
    const planned = observations.planned.get(urn);
    const resource: DriftedResource = {
      churchId,
      resource: resourceName(urn),
      kind: kind.driftKind,
      id: refreshed.id,
      state: refreshed.after ? 'changed' : 'missing',
      properties,
      upStep: planned?.steps.join('+') || 'none',
      actions: [],
    };
    resource.actions = driftActions(kind, resource, refreshed, planned);
    group(churchId).resources.push(resource);
  }

  const pending: DriftReport['pending'] = [];
  for (const [urn, planned] of observations.planned) {
    const refreshed = observations.refreshed.get(urn);
    const { churchId = null } = stepOfUrn(urn);
    const warnings = warningsFor(
      kindOfType(planned.type),
      { churchId, resource: resourceName(urn) },
      planned,
      refreshed,
      names,
    );
    if (warnings.length > 0) {
      group(churchId).warnings.push(...warnings);
      continue;
    }
    const drifted =
      refreshed &&
      (refreshed.after === undefined ||
        changedProperties(refreshed.before, refreshed.after, kindOfType(refreshed.type)?.bookkeepingOutputs).length >
          0);
    const changes = planned.steps.filter((s) => s !== 'same' && s !== 'read');
    // An update whose inputs are unknown in a preview follows from a change upstream (a re-bought number makes the
    // trunk's numbers unknown): it is not a change of its own.
    if (
      drifted ||
      changes.length === 0 ||
      (changes.every((s) => s === 'update') && containsUnknown(planned.inputs ?? {}))
    )
      continue;
    pending.push({ churchId, resource: resourceName(urn), step: changes.join('+') });
  }

  const churches = [...groups.values()].sort((a, b) =>
    a.churchId === null ? 1 : b.churchId === null ? -1 : a.churchId.localeCompare(b.churchId),
  );
  const touchesUs =
    input.unmanaged.numbers.length + input.unmanaged.trunks.length + input.unmanaged.dispatchRules.length;
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

/** What one stack's `pulumi preview --refresh` saw, with the state and lines it was compared with. */
export interface StackDriftReading {
  observations: PreviewObservations;
  resources: StateResource[];
  lines: LineSummary[];
}

/** Runs the preview with refresh of one stack on the real engine. Writes nothing anywhere. */
export async function readStackDrift(
  live: Pick<LiveSystems, 'stack' | 'stackName'>,
  options: { onOutput?: (text: string) => void } = {},
): Promise<StackDriftReading> {
  const { onEvent, observations } = previewObserver();
  try {
    await live.stack.preview({ refresh: true, onEvent, onOutput: options.onOutput });
  } catch (error) {
    const why = observations.errors.length ? observations.errors.join('\n') : (error as Error).message;
    throw new Error(
      `pulumi preview --refresh of stack ${live.stackName} failed, so drift could not be measured:\n${why}`,
      {
        cause: error,
      },
    );
  }
  return { observations, resources: await stateResources(live.stack), lines: await stackLines(live.stack) };
}

/** Runs the preview with refresh on the real engine, then looks for unmanaged objects. Writes nothing anywhere. */
export async function driftReport(
  live: LiveSystems,
  options: { onOutput?: (text: string) => void } = {},
): Promise<DriftReport> {
  const { observations, resources, lines } = await readStackDrift(live, options);
  const { unmanaged, otherTrunks } = await findUnmanaged(live, resources);
  return buildDriftReport({
    stack: live.stackName,
    checkedAt: new Date().toISOString(),
    observations,
    lines,
    unmanaged,
    otherTrunks,
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------------------------------

/** Trunks of other stacks in a shared LiveKit can be many: the text names a few, --json all of them. */
const OTHER_TRUNKS_SHOWN = 10;

const truncate = (text: string, max = 48) => (text.length > max ? `${text.slice(0, max - 3)}...` : text);

/** The report as the founder reads it: one table per church, each followed by what to do. */
export function renderDrift(report: DriftReport): string {
  const out: string[] = [`Drift report, stack ${report.stack}, ${report.checkedAt}`, summary(report)];
  for (const church of report.churches) {
    const title =
      church.churchId === null
        ? 'Fleet (not a church: legacy Twilio trunks, the locked trunk)'
        : church.churchName
          ? `${church.churchName} (${church.churchId})`
          : church.churchId;
    out.push('', `== ${title}`);
    if (church.resources.length > 0) {
      const rows = church.resources.flatMap((r) =>
        r.state === 'missing'
          ? [[r.resource, r.id, '(whole object)', 'exists', 'GONE', 'missing']]
          : r.properties.map((p) => [
              r.resource,
              r.id,
              p.property,
              truncate(formatValue(p.before)),
              truncate(formatValue(p.after)),
              'changed',
            ]),
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
          ...numbers.map((n) => [
            'number',
            n.phoneNumber,
            `Telnyx id ${n.id}, ` +
              `connection ${n.connectionId}${n.customerReference ? `, customer_reference ${n.customerReference}` : ''}`,
          ]),
          ...trunks.map((t) => ['trunk', t.sipTrunkId, `"${t.name}", numbers ${t.numbers.join(', ')}`]),
          ...dispatchRules.map((r) => [
            'dispatch rule',
            r.sipDispatchRuleId,
            `"${r.name}", trunks ${r.trunkIds.join(', ') || '(every trunk)'}`,
          ]),
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
      `${report.otherTrunks.length} other trunk(s) in LiveKit carry none of this account's numbers ` +
        `and belong to no resource of this stack (not counted as drift): ${shown.join(', ')}` +
        `${more > 0 ? ` and ${more} more (--json lists them all)` : ''}`,
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
