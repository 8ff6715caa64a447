/**
 * What the console's buttons do, carried out by the parts that already do it: the drift check and the ring of
 * checks/, the worker's two-run decommission. The stack is opened (a CLI call) only when an action runs, never for
 * a page; the lines in service are read from the stack's config once and kept.
 */
import type { Pool } from 'pg';
import { renderDrift } from '../../checks/drift';
import { fleetDriftReport } from '../../checks/fleet-checks';
import { fleetStacks, stackOfChurch } from '../../stacks/fleet-stacks';
import { renderRing, ringChurch } from '../../checks/ring';
import { recordCheckReport } from '../../registry/console';
import { renderDoctor, runDoctor } from '../../checks/doctor';
import { openLiveSystems, type LiveSystems } from '../../stacks/live-systems';
import type { VoiceStackOptions } from '../../engine/voice-stack';
import type { ProvisioningWorker } from '../../worker/provisioning-worker';
import type { ConsoleActions, InServiceView } from './pages';

export function serviceConsoleActions(deps: {
  pool: Pool;
  stack: VoiceStackOptions;
  worker: ProvisioningWorker;
  registryDatabaseUrl: string;
  /** Scrubs secrets from engine and vendor text before it is stored and shown. */
  scrub: (text: string) => string;
}): ConsoleActions {
  const scrubbed = (progress: (text: string) => void) => (text: string) => progress(deps.scrub(text));
  let inService: Promise<InServiceView> | undefined;
  const live = (): Promise<LiveSystems> => openLiveSystems(deps.stack);
  return {
    stackName: deps.stack.stackName,
    scrub: deps.scrub,
    wakeWorker: () => deps.worker.wake(),
    async ring(churchId, rawProgress) {
      const progress = scrubbed(rawProgress);
      progress(`ringing the line of ${churchId} (waits for a free outbound call slot)…`);
      // The church's own stack: in a fleet split into shards, its line is in its shard's.
      const stackName = await stackOfChurch(deps.pool, deps.stack.stackName, churchId);
      const outcome = await ringChurch(await openLiveSystems({ ...deps.stack, stackName }), churchId, {
        registryDatabaseUrl: deps.registryDatabaseUrl,
      });
      const text = renderRing(outcome);
      progress(text);
      return { ok: outcome.result.ok, summary: text.split('\n')[0] };
    },
    async driftCheck(rawProgress) {
      const progress = scrubbed(rawProgress);
      // The whole fleet: the base stack and every shard stack, each `pulumi preview --refresh`, one report.
      const stacks = await fleetStacks(deps.stack, deps.pool);
      progress(
        `pulumi preview --refresh of ${stacks.length} stack(s) of ${deps.stack.stackName}: ` +
          'reading every line from the vendors…',
      );
      const report = await fleetDriftReport(await live(), deps.stack, stacks, { parallel: 2, progress });
      await recordCheckReport(deps.pool, 'drift', deps.stack.stackName, new Date(report.checkedAt), report);
      const text = renderDrift(report);
      progress(text);
      return {
        drift: report.drift,
        summary: report.drift ? 'Drift found: see Needs attention on the fleet page.' : 'No drift.',
        report,
      };
    },
    async doctor(rawProgress) {
      const progress = scrubbed(rawProgress);
      progress(`doctor of stack ${deps.stack.stackName}: the connection, the rows, the trunks, the numbers…`);
      const report = await runDoctor(await live());
      await recordCheckReport(deps.pool, 'doctor', deps.stack.stackName, new Date(report.checkedAt), report);
      progress(renderDoctor(report));
      return {
        ok: true,
        summary: report.ok ? 'All checks passed.' : `${report.findings.length} finding(s): see Needs attention.`,
      };
    },
    async decommission(churchId, rawProgress) {
      const progress = scrubbed(rawProgress);
      progress(`decommissioning ${churchId}: run 1 records the decommission, run 2 releases…`);
      const report = await deps.worker.decommission(churchId);
      progress(JSON.stringify({ status: report.status, runs: report.runs.length, error: report.error }, null, 2));
      return {
        done: report.done,
        summary: report.done
          ? `${churchId} decommissioned: number released, trunk, rule and row deleted`
          : `not finished: ${report.error ?? 'see the progress'}`,
      };
    },
    linesInService() {
      inService ??= live()
        .then(({ settings }) => ({
          churches: settings.adoptLinesInService
            ? settings.linesInService.churches.map((c) => ({
                churchId: c.churchId,
                name: c.name,
                phoneNumber: c.phoneNumber,
                trunkId: c.trunkId,
                dispatchRuleId: c.dispatchRuleId,
              }))
            : [],
          twilioTrunks: settings.adoptLinesInService
            ? settings.linesInService.twilioTrunks.map((t) => ({ trunkId: t.trunkId, numbers: t.numbers }))
            : [],
          lockedIds: settings.lockedLiveKitIds,
        }))
        .catch((error) => {
          inService = undefined; // try again on the next page
          throw error;
        });
      return inService;
    },
  };
}
