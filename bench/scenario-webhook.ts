/**
 * Scenarios 1, 3 and the service half of 5, on one stack with test rings on (a line is live when its ring passed)
 * and the webhook service in its own process:
 * 1. a paid webhook until the church's line is live, against the design document's imperative
 *    provisionVoiceLine() on the same vendors with the same latency, measured alternately in the same run;
 * 3. a burst of purchases within a second: how many stack runs, how long until every line is live.
 */
import type { ProvisioningJob } from '../registry/jobs';
import { provisionVoiceLineDirect, type BaselineResult } from './baseline';
import { benchChurch, type BenchStack } from './bench-stack';
import type { MemoryReport } from './process-memory';
import { measureEngine } from './scenario-scale';
import { startBenchWebhookService, type RunTimeline } from './webhook-service';
import type { VendorCallCounts } from './vendor-calls';

export interface WebhookToLineRun {
  churchId: string;
  /** POST /stripe/webhook sent -> job succeeded (line provisioned and its ring passed). */
  ms: number;
  ok: boolean;
  error?: string;
  calls: VendorCallCounts;
  /** Where the time went, from the service's log. */
  timeline?: RunTimeline;
  baseline: BaselineResult & { calls: VendorCallCounts };
}

export interface BurstResult {
  purchases: number;
  /** First POST to last POST. */
  spreadMs: number;
  /** Stack runs the worker carried out for the burst (from its log). */
  engineRuns: number;
  /** Distinct runs the burst's jobs were settled by (from the jobs): a cross-check of engineRuns. */
  settlingRuns: number;
  /** First POST -> every job settled. */
  allLiveMs: number;
  succeeded: number;
  failed: Array<{ churchId: string; failedStep: string | null; error: string | null }>;
  /** First POST -> each church's job finished, sorted. */
  perChurchMs: number[];
  calls: VendorCallCounts;
}

export interface WebhookScenarioResult {
  runs: WebhookToLineRun[];
  /** The same pairs at a slower vendor (--slow-latency-ms). */
  slow?: { latencyMs: number; runs: WebhookToLineRun[] };
  burst?: BurstResult;
  serviceMemory: MemoryReport;
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
export { median };

function finishedMs(job: ProvisioningJob, since: number): number {
  return (job.finishedAt?.getTime() ?? Date.now()) - since;
}

export async function runWebhookScenario(
  stack: BenchStack,
  options: {
    repeats: number;
    burst: number;
    latencyMs: number;
    /** A second latency the webhook/baseline pairs are measured at too (no burst). */
    slowLatencyMs?: number;
    ringFrom: string;
    connectionId: string;
    agentName: string;
  },
  say: (line: string) => void,
): Promise<WebhookScenarioResult> {
  // The stack exists before the first purchase (as production's does): the first run only adds the church.
  stack.setLatency(0);
  await measureEngine(stack, 'up');
  const service = await startBenchWebhookService(stack);
  let next = 0;
  const runs: WebhookToLineRun[] = [];
  let burst: BurstResult | undefined;
  let slow: WebhookScenarioResult['slow'];
  let serviceMemory: MemoryReport;
  try {
    // One webhook purchase and one imperative baseline, alternating, at the stack's current latency.
    const pair = async (i: number, label: string): Promise<WebhookToLineRun> => {
      const baselineChurch = benchChurch(next++, 'baseline');
      const baselineMark = stack.meter.mark();
      const baseline = await provisionVoiceLineDirect(stack, baselineChurch, {
        connectionId: options.connectionId,
        agentName: options.agentName,
        ringFrom: options.ringFrom,
        ringTimeoutMs: 30_000,
      });
      const baselineCalls = stack.meter.since(baselineMark);
      say(
        `  ${label}baseline ${i + 1}/${options.repeats}: ${baseline.ms} ms, ` +
          `ring ${baseline.ring.ok ? 'ok' : `FAILED ${baseline.ring.cause}`}, ${baselineCalls.total} vendor calls`,
      );

      const church = benchChurch(next++, 'webhook');
      const logFrom = service.child.lines.length;
      const mark = stack.meter.mark();
      const started = Date.now();
      const status = await service.purchase(church);
      if (status !== 200) throw new Error(`the webhook answered ${status} to a signed purchase`);
      const [job] = await service.settled([church.churchId], new Date(started), 5 * 60_000);
      const calls = stack.meter.since(mark);
      const run: WebhookToLineRun = {
        churchId: church.churchId,
        ms: finishedMs(job, started),
        ok: job.state === 'succeeded',
        error: job.lastError ?? undefined,
        calls,
        timeline: service.timeline(church.churchId, started, logFrom),
        baseline: { ...baseline, calls: baselineCalls },
      };
      say(
        `  ${label}webhook ${i + 1}/${options.repeats}: ${run.ms} ms to a live line ` +
          `(${job.state}), ${calls.total} vendor calls`,
      );
      return run;
    };
    stack.setLatency(options.latencyMs);
    for (let i = 0; i < options.repeats; i++) runs.push(await pair(i, ''));
    if (options.slowLatencyMs !== undefined) {
      stack.setLatency(options.slowLatencyMs);
      const slowRuns: WebhookToLineRun[] = [];
      for (let i = 0; i < options.repeats; i++) slowRuns.push(await pair(i, `${options.slowLatencyMs} ms: `));
      slow = { latencyMs: options.slowLatencyMs, runs: slowRuns };
      stack.setLatency(options.latencyMs);
    }

    if (options.burst > 0) {
      const churches = Array.from({ length: options.burst }, (_, i) => benchChurch(next + i, 'burst'));
      next += options.burst;
      const logFrom = service.child.lines.length;
      const mark = stack.meter.mark();
      const started = Date.now();
      const spacing = Math.floor(900 / Math.max(1, options.burst - 1));
      const posts: Array<Promise<number>> = [];
      for (const church of churches) {
        posts.push(service.purchase(church));
        await new Promise((resolve) => setTimeout(resolve, spacing));
      }
      const statuses = await Promise.all(posts);
      const spreadMs = Date.now() - started;
      if (statuses.some((s) => s !== 200))
        throw new Error(`the webhook refused purchases of the burst: ${statuses.join(',')}`);
      const jobs = await service.settled(
        churches.map((c) => c.churchId),
        new Date(started),
        15 * 60_000,
      );
      const perChurchMs = jobs.map((j) => finishedMs(j, started)).sort((a, b) => a - b);
      burst = {
        purchases: options.burst,
        spreadMs,
        engineRuns: service.runsCompleted(logFrom),
        settlingRuns: new Set(jobs.map((j) => j.runId)).size,
        allLiveMs: perChurchMs[perChurchMs.length - 1],
        succeeded: jobs.filter((j) => j.state === 'succeeded').length,
        failed: jobs
          .filter((j) => j.state !== 'succeeded')
          .map((j) => ({ churchId: j.churchId, failedStep: j.failedStep, error: j.lastError })),
        perChurchMs,
        calls: stack.meter.since(mark),
      };
      say(
        `  burst: ${burst.purchases} purchases in ${spreadMs} ms -> ${burst.engineRuns} engine runs, ` +
          `all settled after ${burst.allLiveMs} ms (${burst.succeeded} live)`,
      );
    }
  } finally {
    serviceMemory = await service.stop();
  }
  return { runs, slow, burst, serviceMemory };
}
