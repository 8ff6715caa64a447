/**
 * Scenario 6: the fleet in shard stacks at N churches (default 2000), on one bench stack's registry and vendors.
 *
 * How the large fleet is built (once per bench run, honestly, through the engine, then reused by every measurement
 * below): the registry is given a shard size, N-1 churches are added (each gets its shard as a purchase would), and
 * every shard stack is brought up by the real engine, two at a time, with no injected latency and the checkpoint
 * written once at the end of each update (PULUMI_SKIP_CHECKPOINTS), test rings off. The build is timed and
 * reported, not measured against a goal. Then, with the injected latency:
 * - a purchase at N=1 (the first church, before the build) and at N (the last church, into the newest shard,
 *   which then already holds shardSize-1 churches: the worst case of filling shards in order), each a targeted `up`
 *   of its shard stack as the worker runs it; wall time and peak memory of the whole process tree;
 * - the founder's fleet-wide preview and drift check, as the founder runs them in production: the compiled CLI
 *   (`churchwise fleet preview|drift`, `parallel` stacks at a time), wall time, changes planned, vendor calls;
 * - a burst of `burst` purchases queued within 2 s, drained by one worker (fleetRunners, parallel stacks): time
 *   from queueing to each line's row written, p95 against one purchase.
 */
import { execFileSync, spawn } from 'child_process';
import * as path from 'path';
import { REPO_ROOT } from '../sandbox/processes';
import { openVoiceStack } from '../engine/voice-stack';
import { createLogger } from '../common/logger';
import { stackOfShard } from '../common/fleet-shards';
import { enqueue, getChurch, setFleetLayout } from '../registry';
import { fleetRunners } from '../stacks/provisioning-run';
import { acrossFleet, fleetStacks } from '../stacks/fleet-stacks';
import { ProvisioningWorker } from '../worker/provisioning-worker';
import type { BenchStack } from './bench-stack';
import { measureEngine, type MeasuredRun } from './scenario-scale';
import type { VendorCallCounts } from './vendor-calls';

export interface FleetScenarioOptions {
  churches: number;
  shardSize: number;
  parallel: number;
  burst: number;
  latencyMs: number;
}

export interface FleetScenario {
  churches: number;
  shardSize: number;
  shards: number;
  parallel: number;
  buildMs: number;
  purchaseAtOne: MeasuredRun;
  purchaseAtN: MeasuredRun & { othersInShard: number };
  preview: { wallMs: number; stacks: number; changes: number; failed: number };
  drift: { wallMs: number; stacks: number; drift: boolean; calls: VendorCallCounts };
  burst?: { purchases: number; queuedWithinMs: number; liveMs: number[]; p50Ms: number; p95Ms: number; runs: number };
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];

/**
 * The engine-run hosts of this scenario format stack traces as a compiled build does (V8's own, not ts-node's
 * source maps; bench/plain-stack-traces.js): the service runs the compiled build in production, and the SDK captures
 * a trace per resource, whose source mapping would otherwise be most of what an extra church costs a run.
 */
const COMPILED_LIKE_HOST = {
  NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --require ${path.join(__dirname, 'plain-stack-traces.js')}`.trim(),
};

/** `churchwise fleet <args>` from the compiled build, timed; fails on exit 1 (an error), not on 2 (drift found). */
async function founderFleetCommand(
  stack: BenchStack,
  args: string[],
  parallel: number,
  say: (line: string) => void,
): Promise<{ stdout: string; ms: number }> {
  const started = Date.now();
  const child = spawn(
    process.execPath,
    [
      path.join(REPO_ROOT, 'dist', 'cli', 'main.js'),
      'fleet',
      ...args,
      '--stack',
      stack.options.stackName,
      '--cwd',
      stack.fixture.work.dir,
      '--parallel',
      String(parallel),
    ],
    { env: { ...process.env, ...stack.fixture.work.env(stack.options.vendorEnv) }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const out: Buffer[] = [];
  child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
  child.stderr.on('data', (chunk: Buffer) =>
    chunk
      .toString()
      .split('\n')
      .filter((line) => line.trim())
      .forEach((line) => say(`  ${args[0]} ${line}`)),
  );
  const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? 1)));
  const ms = Date.now() - started;
  if (code === 1) throw new Error(`churchwise fleet ${args.join(' ')} failed (exit 1)`);
  return { stdout: Buffer.concat(out).toString(), ms };
}

export async function runFleetScenario(
  stack: BenchStack,
  options: FleetScenarioOptions,
  say: (line: string) => void,
): Promise<FleetScenario> {
  const pool = stack.fixture.db.pool;
  say('  npm run build (the founder runs the compiled CLI)');
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: REPO_ROOT, stdio: 'ignore' });
  const base = stack.options.stackName;
  await setFleetLayout(pool, { shardSize: options.shardSize, migrating: false });
  const shardOf = async (churchId: string) => (await getChurch(pool, churchId))!.shard!;

  // A purchase at N=1: the fleet's first church, alone in shard 0. Its stack is made first, as every later
  // purchase finds its own: creating a stack happens once per shard, not once per purchase.
  stack.setLatency(options.latencyMs);
  const [first] = await stack.addChurches(0, 1);
  await openVoiceStack({ ...stack.options, stackName: stackOfShard(base, await shardOf(first)) });
  const purchaseAtOne = await measureEngine(stack, 'up', {
    stackName: stackOfShard(base, await shardOf(first)),
    watchChurchIds: [first],
    targetChurchIds: [first],
    hostEnv: COMPILED_LIKE_HOST,
  });
  say(
    `  purchase at N=1: ${purchaseAtOne.run.wallMs} ms, peak tree ${purchaseAtOne.memory.treePeakMiB.toFixed(0)} MiB`,
  );

  // The build: every church but the last, each shard stack brought up once, two at a time.
  stack.setLatency(0);
  const buildStarted = Date.now();
  await stack.addChurches(1, options.churches - 1);
  const built = await fleetStacks(stack.options, pool);
  // The base stack too: it adopts the shared objects, so the fleet preview after the build has nothing to do.
  const shardsToBuild = built;
  const buildOutcomes = await acrossFleet(
    shardsToBuild,
    (shard) =>
      measureEngine(stack, 'up', {
        stackName: shard.name,
        engineEnv: { PULUMI_SKIP_CHECKPOINTS: 'true' },
        hostEnv: COMPILED_LIKE_HOST,
      }),
    {
      parallel: options.parallel,
      progress: (line) => say(`  build ${line}`),
      describe: (run) => `${run.run.steps.create ?? 0} created`,
    },
  );
  const buildFailures = buildOutcomes.filter((o) => !o.ok);
  if (buildFailures.length > 0)
    throw new Error(`the fleet build failed on ${buildFailures.map((o) => o.stack.name).join(', ')}`);
  const buildMs = Date.now() - buildStarted;
  say(`  fleet of ${options.churches - 1} churches built in ${(buildMs / 1000).toFixed(1)} s (not measured)`);

  // A purchase at N: the last church, into the newest shard.
  stack.setLatency(options.latencyMs);
  const [last] = await stack.addChurches(options.churches - 1, options.churches);
  const lastShard = await shardOf(last);
  const othersInShard =
    Number((await pool.query('select count(*) as n from churches where shard = $1', [lastShard])).rows[0].n) - 1;
  const purchaseAtN = {
    ...(await measureEngine(stack, 'up', {
      stackName: stackOfShard(base, lastShard),
      watchChurchIds: [last],
      targetChurchIds: [last],
      hostEnv: COMPILED_LIKE_HOST,
    })),
    othersInShard,
  };
  say(
    `  purchase at N=${options.churches} (shard ${lastShard}, ${othersInShard} others): ` +
      `${purchaseAtN.run.wallMs} ms, ` +
      `peak tree ${purchaseAtN.memory.treePeakMiB.toFixed(0)} MiB`,
  );

  // The founder's commands as the founder runs them in production: the compiled CLI (`npx churchwise`), each a
  // process of its own, with the stack's backend, vendors and registry in its environment.
  const stacks = await fleetStacks(stack.options, pool);
  const previewRun = await founderFleetCommand(stack, ['preview', '--json'], options.parallel, say);
  const previews = JSON.parse(previewRun.stdout) as Array<{ ok: boolean; value?: string }>;
  const preview = {
    wallMs: previewRun.ms,
    stacks: previews.length,
    changes: previews.filter((o) => o.ok && o.value !== 'no changes').length,
    failed: previews.filter((o) => !o.ok).length,
  };
  say(`  fleet preview: ${preview.wallMs} ms over ${preview.stacks} stacks, ${preview.changes} with changes`);

  const mark = stack.meter.mark();
  const driftRun = await founderFleetCommand(stack, ['drift', '--json'], options.parallel, say);
  const report = JSON.parse(driftRun.stdout) as { drift: boolean };
  const drift = { wallMs: driftRun.ms, stacks: stacks.length, drift: report.drift, calls: stack.meter.since(mark) };
  say(`  fleet drift: ${drift.wallMs} ms, ${drift.calls.total} vendor calls, drift ${drift.drift}`);

  let burst: FleetScenario['burst'];
  if (options.burst > 0) {
    const worker = new ProvisioningWorker({
      pool,
      ...fleetRunners(stack.options),
      parallelStacks: options.parallel,
      logger: createLogger({ level: 'warn', secrets: [] }),
      stackName: base,
      retry: { maxAttempts: 3, baseDelayMs: 1000, maxDelayMs: 5000 },
      gatherMs: 250,
      pollIntervalMs: 1000,
    });
    const queuedAt = new Map<string, number>();
    const sendStarted = Date.now();
    const spacing = Math.floor(2000 / options.burst);
    for (let i = 0; i < options.burst; i++) {
      const [churchId] = await stack.addChurches(options.churches + i, options.churches + i + 1);
      await enqueue(pool, churchId, 'bench burst purchase');
      queuedAt.set(churchId, Date.now());
      if (i === 0) worker.start();
      else worker.wake();
      const due = sendStarted + (i + 1) * spacing;
      if (due > Date.now()) await new Promise((resolve) => setTimeout(resolve, due - Date.now()));
    }
    const queuedWithinMs = Date.now() - sendStarted;
    await worker.whenIdle();
    await worker.stop();
    const { rows } = await pool.query<{ church_id: string; finished_at: Date; run_id: string; state: string }>(
      `select church_id, finished_at, run_id, state from provisioning_jobs where church_id = any($1::text[])`,
      [[...queuedAt.keys()]],
    );
    const liveMs = rows
      .filter((r) => r.state === 'succeeded')
      .map((r) => r.finished_at.getTime() - queuedAt.get(r.church_id)!)
      .sort((a, b) => a - b);
    burst = {
      purchases: options.burst,
      queuedWithinMs,
      liveMs,
      p50Ms: percentile(liveMs, 50),
      p95Ms: percentile(liveMs, 95),
      runs: new Set(rows.map((r) => r.run_id)).size,
    };
    say(
      `  burst of ${options.burst}: ${liveMs.length} live, p50 ${burst.p50Ms} ms, p95 ${burst.p95Ms} ms, ` +
        `${burst.runs} run(s)`,
    );
  }

  return {
    churches: options.churches,
    shardSize: options.shardSize,
    shards: stacks.length - 1,
    parallel: options.parallel,
    buildMs,
    purchaseAtOne,
    purchaseAtN,
    preview,
    drift,
    burst,
  };
}
