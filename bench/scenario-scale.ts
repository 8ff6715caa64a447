/**
 * Scenarios 2, 4 and the engine half of 5: one stack grown to each size N (test rings off, no latency, checkpoint
 * only at the end, so the growth is cheap; it is not measured), then at each N, with the injected latency:
 * - a no-op `up` (nothing changed: any vendor call here is a call for an unchanged church),
 * - the drift check (checks/drift/, as `npm run drift`: preview --refresh reads every resource from its
 *   vendor, then the unmanaged objects are listed),
 * - adding one church (the webhook's run for a new purchase),
 * and at the largest N the add-one again with PULUMI_SKIP_CHECKPOINTS=true (what checkpoint writes cost) and the no-op
 * up with V8's own stack formatting in the host (what ts-node's source-mapped stack traces cost).
 */
import * as path from 'path';
import type { BenchStack } from './bench-stack';
import { runBenchChild } from './child-process';
import type { EngineOperation, EngineRunRequest, EngineRunResult } from './engine-run';
import type { MemoryReport } from './process-memory';
import type { VendorCallCounts } from './vendor-calls';

export interface MeasuredRun {
  run: EngineRunResult;
  calls: VendorCallCounts;
  memory: MemoryReport;
}

export interface ScaleStep {
  n: number;
  noop: MeasuredRun;
  drift: MeasuredRun;
  addOne: MeasuredRun;
  /** Largest N only: add one with PULUMI_SKIP_CHECKPOINTS=true. */
  addOneSkipCheckpoints?: MeasuredRun;
  /** Largest N only: the no-op up with V8's own stack formatting in the host (bench/plain-stack-traces.js). */
  noopPlainStackTraces?: MeasuredRun;
}

export async function measureEngine(
  stack: BenchStack,
  operation: EngineOperation,
  extra: {
    watchChurchIds?: string[];
    targetChurchIds?: string[];
    /** Another stack of the same fleet (a shard stack); default the bench stack itself. */
    stackName?: string;
    engineEnv?: Record<string, string>;
    hostEnv?: Record<string, string>;
  } = {},
): Promise<MeasuredRun> {
  const mark = stack.meter.mark();
  const request: EngineRunRequest = {
    operation,
    options: {
      ...stack.options,
      stackName: extra.stackName ?? stack.options.stackName,
      vendorEnv: { ...stack.options.vendorEnv, ...extra.engineEnv },
    },
    watchChurchIds: extra.watchChurchIds,
    targetChurchIds: extra.targetChurchIds,
  };
  const { result, memory } = await runBenchChild<EngineRunResult>('bench/engine-run.ts', {
    ...extra.hostEnv,
    BENCH_ENGINE_RUN: JSON.stringify(request),
  });
  const calls = stack.meter.since(mark);
  if (!result.ok) throw new Error(`${operation} failed on ${extra.stackName ?? 'the bench stack'}: ${result.error}`);
  return { run: result, calls, memory };
}

export async function runScaleScenario(
  stack: BenchStack,
  sizes: number[],
  latencyMs: number,
  say: (line: string) => void,
): Promise<ScaleStep[]> {
  const steps: ScaleStep[] = [];
  let churches = 0;
  const largest = Math.max(...sizes);
  for (const n of [...sizes].sort((a, b) => a - b)) {
    if (churches < n) {
      stack.setLatency(0);
      const started = Date.now();
      await stack.addChurches(churches, n);
      // Not measured: the checkpoint is written once at the end instead of after each of the ~4 steps per church.
      await measureEngine(stack, 'up', { engineEnv: { PULUMI_SKIP_CHECKPOINTS: 'true' } });
      say(
        `  stack grown to ${n} churches (${churches} -> ${n}) ` +
          `in ${((Date.now() - started) / 1000).toFixed(1)} s (not measured)`,
      );
      churches = n;
    }
    stack.setLatency(latencyMs);
    const noop = await measureEngine(stack, 'up');
    say(`  N=${n}: no-op up ${noop.run.wallMs} ms, ${noop.calls.total} vendor calls`);
    const drift = await measureEngine(stack, 'drift');
    say(`  N=${n}: drift check ${drift.run.wallMs} ms, ${drift.calls.total} vendor calls`);
    const [added] = await stack.addChurches(churches, churches + 1);
    churches += 1;
    const addOne = await measureEngine(stack, 'up', { watchChurchIds: [added] });
    say(
      `  N=${n}: add one church ${addOne.run.wallMs} ms ` +
        `(engine ${addOne.run.engineMs} ms), ${addOne.calls.total} vendor calls`,
    );
    const step: ScaleStep = { n, noop, drift, addOne };
    if (n === largest) {
      const [again] = await stack.addChurches(churches, churches + 1);
      churches += 1;
      step.addOneSkipCheckpoints = await measureEngine(stack, 'up', {
        watchChurchIds: [again],
        engineEnv: { PULUMI_SKIP_CHECKPOINTS: 'true' },
      });
      say(`  N=${n}: add one church, PULUMI_SKIP_CHECKPOINTS=true: ${step.addOneSkipCheckpoints.run.wallMs} ms`);
      const preload = path.join(__dirname, 'plain-stack-traces.js');
      step.noopPlainStackTraces = await measureEngine(stack, 'up', {
        hostEnv: { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --require ${preload}`.trim() },
      });
      say(`  N=${n}: no-op up, host without source-mapped stack traces: ${step.noopPlainStackTraces.run.wallMs} ms`);
    }
    steps.push(step);
  }
  return steps;
}
