/**
 * One engine operation on a bench stack, run in its own process so its memory can be measured apart from the
 * bench: the same steps as the webhook's VoiceStackRunner (open the stack with the inline program, recover, run),
 * timed from the engine's own event stream.
 *
 *   ts-node bench/engine-run.ts   with BENCH_ENGINE_RUN='{"operation":"up","options":{...}}'
 *
 * Prints one line `BENCH_RESULT {...}` (EngineRunResult) on stdout.
 */
import type { EngineEvent, Stack } from '@pulumi/pulumi/automation';
import { openLiveSystems } from '../stacks/live-systems';
import { driftReport } from '../checks/drift';
import { upWithoutReadback } from '../engine/up-without-readback';
import { churchTargets } from '../stacks/provisioning-run';
import { openVoiceStack, previousLines, recoverStack, type VoiceStackOptions } from '../engine/voice-stack';

/** `up`: the webhook's run. `drift`: the founder's drift report (checks/drift/: preview --refresh + unmanaged). */
export type EngineOperation = 'up' | 'drift';

export interface EngineRunRequest {
  operation: EngineOperation;
  options: VoiceStackOptions;
  /** Churches whose resources are timed apart (the one being added). */
  watchChurchIds?: string[];
  /** Limit the update to these churches (--target), as the worker does in a shard stack. */
  targetChurchIds?: string[];
}

export interface EngineRunResult {
  ok: boolean;
  error?: string;
  /** open + recover + operation: what a webhook run costs end to end. */
  wallMs: number;
  /** PulumiCommand.get + createOrSelectStack. */
  openMs: number;
  /** exportStack (+ import when pending operations were left). */
  recoverMs: number;
  /** The Automation API call itself (CLI start to return, including its final `stack output`). */
  operationMs: number;
  /** From the CLI start to the engine's prelude event: CLI start-up, state load and decrypt, plugin set-up. */
  startupMs?: number;
  /** Prelude to summary: the engine working through the program's resources (the "engine time"). */
  engineMs?: number;
  /** Summary to the operation's return: last checkpoint, CLI exit. */
  finishMs?: number;
  /** First step event to first dynamic-resource step: loading the program and starting the provider process. */
  firstStepMs?: number;
  /** Steps by op (same, create, update, refresh, ...). */
  steps: Record<string, number>;
  /** Watched churches: first step start to last step end. */
  watchedMs?: number;
  /** Per watched resource: step duration. */
  watchedSteps: Array<{ name: string; op: string; ms: number }>;
  /** Resources the engine stepped through (every op counted). */
  resourceCount: number;
  /** Drift only: whether the report found any (a bench stack nobody edited must have none). */
  drift?: boolean;
}

interface Timeline {
  start: number;
  prelude?: number;
  summary?: number;
  firstStep?: number;
  firstDynamicStep?: number;
  steps: Record<string, number>;
  pre: Map<string, number>;
  watched: Array<{ name: string; op: string; start: number; end: number }>;
}

function recordEvent(timeline: Timeline, event: EngineEvent, watch: string[]): void {
  const now = Date.now();
  if (event.preludeEvent) timeline.prelude = now;
  if (event.summaryEvent) timeline.summary = now;
  const pre = event.resourcePreEvent?.metadata;
  if (pre) {
    timeline.firstStep ??= now;
    if (pre.type.startsWith('pulumi-nodejs:dynamic')) timeline.firstDynamicStep ??= now;
    timeline.pre.set(`${pre.op} ${pre.urn}`, now);
  }
  const done = event.resOutputsEvent?.metadata;
  if (done) {
    timeline.steps[done.op] = (timeline.steps[done.op] ?? 0) + 1;
    const name = done.urn.split('::').pop() ?? done.urn;
    const started = timeline.pre.get(`${done.op} ${done.urn}`);
    if (started !== undefined && watch.some((id) => name.startsWith(`church-${id}-`))) {
      timeline.watched.push({ name, op: done.op, start: started, end: now });
    }
  }
}

/** The drift report as `npm run drift` makes it, timed end to end (it streams no engine events to us). */
async function runDriftReport(request: EngineRunRequest): Promise<EngineRunResult> {
  // The founder runs it with the vendor credentials in the environment (the sandbox's here).
  Object.assign(process.env, request.options.vendorEnv);
  const started = Date.now();
  const live = await openLiveSystems(request.options);
  const opened = Date.now();
  try {
    const report = await driftReport(live);
    const done = Date.now();
    return {
      ok: true,
      wallMs: done - started,
      openMs: opened - started,
      recoverMs: 0,
      operationMs: done - opened,
      steps: {},
      watchedSteps: [],
      resourceCount: 0,
      drift: report.drift,
    };
  } catch (error) {
    const done = Date.now();
    return {
      ok: false,
      error: (error as Error).message.slice(-4000),
      wallMs: done - started,
      openMs: opened - started,
      recoverMs: 0,
      operationMs: done - opened,
      steps: {},
      watchedSteps: [],
      resourceCount: 0,
    };
  }
}

export async function runEngineOperation(request: EngineRunRequest): Promise<EngineRunResult> {
  if (request.operation === 'drift') return runDriftReport(request);
  const watch = request.watchChurchIds ?? [];
  const t0 = Date.now();
  // As the worker runs a shard stack for some churches: only they are declared, and only they are targeted.
  const only = request.targetChurchIds?.length ? request.targetChurchIds : undefined;
  const stack: Stack = await openVoiceStack(
    request.options,
    only
      ? {
          onlyChurchIds: only,
          previousLines: await previousLines(request.options, () => openVoiceStack(request.options)),
        }
      : {},
  );
  const t1 = Date.now();
  await recoverStack(stack, request.options);
  const t2 = Date.now();
  const timeline: Timeline = { start: t2, steps: {}, pre: new Map(), watched: [] };
  const onEvent = (event: EngineEvent) => recordEvent(timeline, event, watch);
  let ok = true;
  let error: string | undefined;
  try {
    // What VoiceStackRunner.provision runs (continue past a failed church, no read-back of outputs).
    await upWithoutReadback(stack, {
      onEvent,
      message: 'bench',
      continueOnError: true,
      ...(request.targetChurchIds?.length
        ? { target: churchTargets(request.options.stackName, request.targetChurchIds) }
        : {}),
    });
  } catch (caught) {
    ok = false;
    error = errorText(caught);
  }
  const t3 = Date.now();
  const watchedStart = Math.min(...timeline.watched.map((w) => w.start));
  const watchedEnd = Math.max(...timeline.watched.map((w) => w.end));
  return {
    ok,
    error,
    wallMs: t3 - t0,
    openMs: t1 - t0,
    recoverMs: t2 - t1,
    operationMs: t3 - t2,
    startupMs: timeline.prelude !== undefined ? timeline.prelude - t2 : undefined,
    engineMs:
      timeline.prelude !== undefined && timeline.summary !== undefined
        ? timeline.summary - timeline.prelude
        : undefined,
    finishMs: timeline.summary !== undefined ? t3 - timeline.summary : undefined,
    firstStepMs:
      timeline.firstStep !== undefined && timeline.firstDynamicStep !== undefined
        ? timeline.firstDynamicStep - timeline.firstStep
        : undefined,
    steps: timeline.steps,
    watchedMs: timeline.watched.length ? watchedEnd - watchedStart : undefined,
    watchedSteps: timeline.watched.map((w) => ({ name: w.name, op: w.op, ms: w.end - w.start })),
    resourceCount: Object.values(timeline.steps).reduce((a, b) => a + b, 0),
  };
}

if (require.main === module) {
  const raw = process.env.BENCH_ENGINE_RUN;
  if (!raw) {
    console.error('BENCH_ENGINE_RUN is not set: this process is started by bench/main.ts');
    process.exit(2);
  }
  runEngineOperation(JSON.parse(raw) as EngineRunRequest).then(
    (result) => {
      console.log(`BENCH_RESULT ${JSON.stringify(result)}`);
      process.exit(0);
    },
    (error) => {
      console.error(`engine run failed: ${(error as Error).stack ?? error}`);
      process.exit(1);
    },
  );
}

/** An engine error for the report: its start (what failed) and its end (the diagnostics), never the outputs between. */
function errorText(caught: unknown): string {
  const text = caught instanceof Error ? caught.message : String(caught);
  const errors = text.split('\n').filter((line) => /error/i.test(line));
  return (errors.length ? errors.join('\n') : text).slice(0, 4000);
}
