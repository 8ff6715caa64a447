/**
 * The founder's checks across the whole fleet (the base stack and every shard stack): one drift report and one
 * lines table, as if the fleet were still one stack.
 *
 * Drift: each stack's `pulumi preview --refresh` runs on its own (bounded parallelism); what no stack owns is
 * looked up once for the fleet, with every stack's resources together, so a number of shard 3 is never reported
 * "unmanaged" by shard 4. The vendor list calls are made once per fleet, not once per stack.
 */
import type { LineSummary } from '../infra/program';
import { shardOfStack } from '../common/fleet-shards';
import { openVoiceStack, type VoiceStackOptions } from '../engine/voice-stack';
import { acrossFleet, type FleetStack, type StackOutcome } from '../stacks/fleet-stacks';
import { stackLines, type LiveSystems, type StateResource } from '../stacks/live-systems';
import { buildDriftReport, findUnmanaged, readStackDrift, type StackDriftReading } from './drift';
import type { DriftReport } from './drift/types';

export interface FleetDriftReport extends DriftReport {
  /** Each stack's reading: checked, or why it could not be. */
  stacks: Array<{ stack: string; checked: boolean; error?: string; note?: string; seconds: number }>;
}

export interface FleetOptions {
  parallel: number;
  progress?: (line: string) => void;
}

/** A stack no run has created yet holds nothing: nothing there can have drifted. */
const NOT_CREATED = 'not created yet: its churches wait for their first run (pending, not drift)';

export async function fleetDriftReport(
  base: LiveSystems,
  baseOptions: VoiceStackOptions,
  stacks: FleetStack[],
  options: FleetOptions,
): Promise<FleetDriftReport> {
  const readings = await acrossFleet<StackDriftReading | undefined>(
    stacks,
    async (stack) => {
      if (!stack.inBackend) return undefined;
      const opened =
        stack.name === base.stackName ? base.stack : await openVoiceStack({ ...baseOptions, stackName: stack.name });
      return readStackDrift({ stack: opened, stackName: stack.name });
    },
    {
      ...options,
      describe: (reading) =>
        reading === undefined
          ? NOT_CREATED
          : `${reading.observations.refreshed.size} resource(s) read, ${reading.resources.length} in state`,
    },
  );
  const read = readings.filter(
    (r): r is StackOutcome<StackDriftReading> & { ok: true } => r.ok && r.value !== undefined,
  );
  const resources: StateResource[] = read.flatMap((r) => r.value.resources);
  const { unmanaged, otherTrunks } = await findUnmanaged(base, resources);
  const checkedAt = new Date().toISOString();
  const none = { numbers: [], trunks: [], dispatchRules: [] };
  const parts = read.map((r) =>
    buildDriftReport({
      stack: r.stack.name,
      checkedAt,
      observations: r.value.observations,
      lines: r.value.lines,
      unmanaged: none,
      otherTrunks: [],
    }),
  );
  const touchesUs = unmanaged.numbers.length + unmanaged.trunks.length + unmanaged.dispatchRules.length;
  return {
    stack: `${base.stackName} (fleet of ${stacks.length} stack${stacks.length === 1 ? '' : 's'})`,
    checkedAt,
    drift: parts.some((p) => p.drift) || touchesUs > 0,
    churches: parts.flatMap((p) => p.churches),
    unmanaged,
    otherTrunks,
    pending: parts.flatMap((p) => p.pending),
    engineWarnings: parts.flatMap((p) => p.engineWarnings),
    stacks: readings.map((r) => ({
      stack: r.stack.name,
      checked: r.ok && r.value !== undefined,
      ...(r.ok ? (r.value === undefined ? { note: NOT_CREATED } : {}) : { error: r.error }),
      seconds: Math.round(r.ms / 100) / 10,
    })),
  };
}

/** Whether a fleet report could be made from every stack (a stack that failed to read makes the check an error). */
export function fleetDriftComplete(report: FleetDriftReport): boolean {
  return report.stacks.every((s) => s.checked || s.note !== undefined);
}

export type FleetLine = LineSummary & { stack: string };

/** Every stack's `lines` output together, each line with its stack (no vendor is called). */
export async function fleetLines(
  baseOptions: VoiceStackOptions,
  stacks: FleetStack[],
  options: FleetOptions,
): Promise<{ lines: FleetLine[]; failures: Array<{ stack: string; error: string }> }> {
  const outcomes = await acrossFleet(
    stacks.filter((s) => s.inBackend),
    async (stack) => {
      const lines = await stackLines(await openVoiceStack({ ...baseOptions, stackName: stack.name }));
      return lines.map((line) => ({ ...line, stack: stack.name }));
    },
    { ...options, describe: (lines) => `${lines.length} line(s)` },
  );
  // A stack's `lines` output is what its last update left: right after a split the base stack still lists the
  // churches that moved (the state move changed its resources, not its outputs) until its next run. A church's
  // line in a shard stack is the newer one.
  const byChurch = new Map<string, FleetLine>();
  for (const line of outcomes.flatMap((o) => (o.ok ? o.value : []))) {
    const seen = byChurch.get(line.churchId);
    if (!seen || shardOfStack(seen.stack).shard === null) byChurch.set(line.churchId, line);
  }
  return {
    lines: [...byChurch.values()],
    failures: outcomes.flatMap((o) => (o.ok ? [] : [{ stack: o.stack.name, error: o.error }])),
  };
}
