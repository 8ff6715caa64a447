/**
 * `churchwise fleet ...`: the founder's commands across every stack of the fleet (the base stack and its shard
 * stacks, common/fleet-shards.ts), with bounded parallelism, a progress line per stack on stderr and one report.
 * `pulumi preview -s prod-shard-003` and friends keep working on any one stack as plain Pulumi.
 *
 *   fleet stacks                     the fleet's stacks and how many churches each holds
 *   fleet preview                    what `pulumi up` would change, per stack (exit 0; 1 if a stack failed)
 *   fleet up                         `pulumi up` of every stack (exit 0; 1 if a stack failed)
 *   fleet drift [--json] [--email]   hand edits on the whole fleet, one report (exit 0 none, 2 drift, 1 error)
 *   fleet doctor [--json]            the design document's gotchas (exit 0 ok, 2 findings, 1 error)
 *   fleet lines [--json]             every line of the fleet, with its stack (no vendor is called)
 *   fleet shard --size <n> [--dry-run]   split a one-stack fleet into shard stacks, moving state only
 *
 * Every one: [--stack <base>] (default PULUMI_STACK, else prod) [--cwd <dir>] [--parallel <n>] (default 2).
 */
import { parseArgs } from 'util';
import { Pool } from 'pg';
import { renderDoctor, runDoctor } from '../checks/doctor';
import { emailDriftReport, renderDrift } from '../checks/drift';
import { fleetDriftComplete, fleetDriftReport, fleetLines } from '../checks/fleet-checks';
import { renderLines, renderTable } from '../checks/line-table';
import { checkShardSize } from '../common/fleet-shards';
import { fleetStacks, acrossFleet, describeChanges, previewChanges, type FleetStack } from '../stacks/fleet-stacks';
import { planSplit, splitFleet, type SplitPlan } from '../stacks/fleet-split';
import { openLiveSystems } from '../stacks/live-systems';
import { VoiceStackRunner } from '../stacks/provisioning-run';
import { UsageError } from './usage';
import { progressToStderr, requireEmailSettings, stackOptionsFrom } from './stack-flags';

export const WHOLE_FLEET_COMMANDS = ['stacks', 'preview', 'up', 'drift', 'doctor', 'lines', 'shard'] as const;

export const WHOLE_FLEET_USAGE = [
  '  fleet stacks | preview | up | drift [--email] | doctor | lines [--json]   the same across every stack of the',
  '        fleet, one report (drift: exit 0 none, 2 drift, 1 error; doctor: 0 ok, 2 findings, 1 error)',
  '  fleet shard --size <n> [--dry-run]        split a one-stack fleet into shard stacks of <n> churches (state',
  '        only: no vendor is called)',
  '  every one: [--stack <base>] [--cwd <dir>] [--parallel <n>]',
].join('\n');

const MAX_PARALLEL = 16;

function parallelOf(value: string | undefined): number {
  if (value === undefined) return 2;
  const parallel = Number(value);
  if (!Number.isInteger(parallel) || parallel < 1 || parallel > MAX_PARALLEL)
    throw new UsageError(
      `--parallel must be a whole number of stacks from 1 to ${MAX_PARALLEL}, got ${JSON.stringify(value)}`,
    );
  return parallel;
}

function renderPlan(plan: SplitPlan, dryRun: boolean): string {
  const rows = plan.moves.map((m) => [m.stack, String(m.churches.length), String(m.urns.length)]);
  return [
    `${dryRun ? 'Dry run: nothing is written, no vendor is called. ' : ''}Split of stack ${plan.base} into shards ` +
      `of at most ${plan.shardSize} churches:`,
    renderTable(['Shard stack', 'Churches', 'Lines to move'], rows),
    `${plan.resourcesToMove} resource(s) move by \`pulumi state move\` (state only: 0 creates, 0 deletes, 0 orders).`,
    `Staying in ${plan.base}: the lines in service, the legacy Twilio trunks, the locked objects` +
      `${plan.staying.length ? `, and ${plan.staying.join(', ')}` : ''}.`,
  ].join('\n');
}

export async function runWholeFleetCommand(
  argv: string[],
  out: (text: string) => void = (t) => process.stdout.write(t),
): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      stack: { type: 'string' },
      cwd: { type: 'string' },
      json: { type: 'boolean', default: false },
      email: { type: 'boolean', default: false },
      parallel: { type: 'string' },
      size: { type: 'string' },
      'dry-run': { type: 'boolean', default: false },
    },
  });
  const [command, ...extra] = positionals;
  if (!command || extra.length > 0 || !(WHOLE_FLEET_COMMANDS as readonly string[]).includes(command))
    throw new UsageError(WHOLE_FLEET_USAGE);
  const parallel = parallelOf(values.parallel);
  const databaseUrl = process.env.REGISTRY_DATABASE_URL || process.env.DATABASE_URL;
  if (!databaseUrl)
    throw new UsageError('the fleet commands read the customer registry: set DATABASE_URL (or REGISTRY_DATABASE_URL)');
  const base = stackOptionsFrom(values, databaseUrl);
  const progress = progressToStderr;
  const print = (value: unknown, text: () => string) =>
    out(values.json ? `${JSON.stringify(value, null, 2)}\n` : `${text()}\n`);
  const pool = new Pool({ connectionString: databaseUrl, max: 2 });
  try {
    if (command === 'shard') {
      const invalid = checkShardSize('--size', values.size);
      if (invalid) throw new UsageError(invalid);
      const size = Number(values.size);
      if (values['dry-run']) {
        const plan = await planSplit(pool, base, size);
        print(plan, () => renderPlan(plan, true));
        return 0;
      }
      const result = await splitFleet(pool, base, size, progress);
      const changed = result.previews.filter((p) => p.changes > 0);
      print(result, () =>
        [
          renderPlan(result.plan, false),
          renderTable(
            ['Stack', 'Preview after the move'],
            result.previews.map((p) => [p.stack, describeChanges(p)]),
          ),
          changed.length === 0
            ? 'Every stack previews with no changes: the split is done.'
            : `${changed.length} stack(s) would change: run \`churchwise fleet preview\` and read why before any up.`,
        ].join('\n'),
      );
      return changed.length === 0 ? 0 : 2;
    }

    if (command === 'doctor') {
      // The doctor reads the live systems, which the whole fleet shares: one run covers every stack.
      const report = await runDoctor(await openLiveSystems(base));
      print(report, () => renderDoctor(report));
      return report.ok ? 0 : 2;
    }

    const stacks = await fleetStacks(base, pool);
    progress(`fleet of ${base.stackName}: ${stacks.length} stack(s), ${parallel} at a time`);

    if (command === 'stacks') {
      print(stacks, () =>
        renderTable(
          ['Stack', 'Churches', 'State'],
          stacks.map((s: FleetStack) => [s.name, String(s.churches), s.inBackend ? 'created' : 'not created yet']),
        ),
      );
      return 0;
    }

    if (command === 'lines') {
      const { lines, failures } = await fleetLines(base, stacks, { parallel, progress });
      print({ lines, failures }, () =>
        [renderLines(lines), ...failures.map((f) => `could not read ${f.stack}: ${f.error}`)].join('\n'),
      );
      return failures.length === 0 ? 0 : 1;
    }

    if (command === 'preview' || command === 'up') {
      const outcomes = await acrossFleet(
        stacks,
        async (stack) => {
          const options = { ...base, stackName: stack.name };
          if (command === 'preview') return describeChanges(await previewChanges(options));
          const result = await new VoiceStackRunner(options).provision({ reason: 'churchwise fleet up' });
          if (!result.ok) throw new Error(result.error?.message ?? 'the update failed');
          return `${result.churches.length} line(s) confirmed`;
        },
        { parallel, progress, describe: (text) => text },
      );
      const failed = outcomes.filter((o) => !o.ok);
      print(outcomes, () =>
        [
          renderTable(
            ['Stack', command === 'preview' ? 'Planned' : 'Result', 'Seconds'],
            outcomes.map((o) => [
              o.stack.name,
              o.ok ? o.value : `FAILED: ${o.error.split('\n')[0]}`,
              (o.ms / 1000).toFixed(1),
            ]),
          ),
          `${outcomes.length - failed.length} of ${outcomes.length} stack(s) ` +
            `${command === 'preview' ? 'previewed' : 'updated'}` +
            `${failed.length ? `; ${failed.length} failed (above)` : ''}.`,
        ].join('\n'),
      );
      return failed.length === 0 ? 0 : 1;
    }

    // drift
    if (values.email) requireEmailSettings();
    const report = await fleetDriftReport(await openLiveSystems(base), base, stacks, { parallel, progress });
    if (!fleetDriftComplete(report)) {
      const failed = report.stacks.filter((s) => !s.checked && s.note === undefined);
      throw new Error(
        `drift could not be measured on ${failed.length} stack(s): ` +
          failed.map((s) => `${s.stack}: ${s.error?.split('\n')[0]}`).join('; '),
      );
    }
    print(report, () => renderDrift(report));
    if (values.email) progress(await emailDriftReport(report, process.env));
    return report.drift ? 2 : 0;
  } finally {
    await pool.end();
  }
}
