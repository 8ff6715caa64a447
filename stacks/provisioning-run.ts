import { ConcurrentUpdateError, EngineEvent } from '@pulumi/pulumi/automation';
import { singleFlight } from '../engine/single-flight';
import { upWithoutReadback } from '../engine/up-without-readback';
import {
  PROJECT_NAME,
  RecoveryReport,
  VoiceStackOptions,
  openVoiceStack,
  previousLines,
  recoverStack,
} from '../engine/voice-stack';
import { RESOURCE_KINDS, kindOfType, type LineStep } from '../providers/resource-kinds';

/**
 * The step of a church's line a failure belongs to: the step of the resource kind that failed
 * (providers/resource-kinds.ts), or the engine's.
 */
export type ProvisioningStep = LineStep | 'engine';

/** A church's line as this run's engine events reported it (created, updated, or unchanged and confirmed). */
export interface ChurchLine {
  churchId: string;
  phoneNumber?: string;
  trunkId?: string;
  dispatchRuleId?: string;
  ring?: { ok: boolean; cause?: string; at?: string };
}

export interface RunFailure {
  message: string;
  failedStep?: ProvisioningStep;
  /** Absent for a failure of the engine or the program as a whole. */
  churchId?: string;
}

export interface StackRunResult {
  ok: boolean;
  /** Only what THIS run reported, never the outputs of an earlier update: a church missing here was not reached. */
  churches: ChurchLine[];
  /** Every failure of the run; with continue-on-error one church's failure does not stop the others. */
  failures?: RunFailure[];
  /** The first failure, a church's before the engine's. */
  error?: RunFailure;
  /** Another engine holds the stack (a run of another process, the founder's `pulumi up`): nothing ran. */
  busy?: boolean;
  /** What recovery cleaned before the run (a previous process died mid-update). */
  recovered?: {
    staleLocksRemoved: number;
    orphanedEnginesStopped: number;
    orphanedPluginsKilled: number;
    pendingOperationsCleared: number;
  };
}

/** A resource of a church in the stack's state, and whether its decommission is recorded (it may be deleted). */
export interface ChurchResource {
  urn: string;
  step: ProvisioningStep;
  decommission: boolean;
}

/** One step of a church's line done (or failed) during a run, as the engine reports it. */
export interface LineStepEvent {
  churchId: string;
  step: ProvisioningStep;
  ok: boolean;
  detail?: string;
}

export interface ProvisionOptions {
  reason: string;
  /**
   * The churches this run is for: the update is limited to their resources (and the stack's outputs) with
   * `--target`, so a purchase never waits for the engine to check every other church of the stack. Absent: the
   * whole stack (the founder's `fleet up`, a run with no job).
   */
  churchIds?: readonly string[];
  onOutput?: (line: string) => void;
  /** Told as each church's step is done or fails, while the run goes on (the pastor's status page shows it). */
  onStep?: (step: LineStepEvent) => void;
  signal?: AbortSignal;
}

export interface StackRunner {
  provision(opts: ProvisionOptions): Promise<StackRunResult>;
  /** The church's resources in the state as it stands (the decommission's two phases check them). */
  churchResources?(churchId: string): Promise<ChurchResource[]>;
}

/**
 * `urn:...::churchwise:voice:ChurchVoiceLine$pulumi-nodejs:dynamic/livekit:LiveKitSipInboundTrunk::church-<id>-trunk`
 * -> { churchId, step: 'livekit-trunk' }. The program names every child `church-<id><suffix>` with its kind's suffix;
 * the type (its kind's descriptor) decides the step, so a church id that itself ends in "-number" is still read right.
 */
export function stepOfUrn(urn: string): { churchId?: string; step: ProvisioningStep } {
  const parts = urn.split('::');
  const name = parts[parts.length - 1] ?? '';
  const type = (parts[parts.length - 2] ?? '').split('$').pop() ?? '';
  const kind = kindOfType(type);
  const suffix = kind?.nameSuffix ?? '';
  if (kind && name.startsWith('church-') && name.endsWith(suffix) && name.length > 'church-'.length + suffix.length) {
    return { churchId: name.slice('church-'.length, -suffix.length), step: kind.step };
  }
  return { step: 'engine' };
}

const LINE_TYPE = 'churchwise:voice:ChurchVoiceLine';

/**
 * A target that names one URN without requiring it to exist. The engine fails an update whose literal targets are
 * neither in the state nor declared ("could not be found in the stack"), but never a glob that matches nothing, and a
 * line declares some children only some of the time (the ring with test rings on, the trunk and rule unless parked).
 * In the engine's globs `*` is `[^:]*`; every URN starts `urn:pulumi:`, so `urn*:pulumi:...` matches this URN alone.
 */
const exactGlob = (urn: string) => urn.replace(/^urn:/, 'urn*:');

/**
 * The targets of a run for some churches of a stack: each church's line component (always declared), every child
 * kind the line may have (as exact globs), and the stack itself, whose `lines` output takes the run's results.
 */
export function churchTargets(stackName: string, churchIds: readonly string[]): string[] {
  const prefix = `urn:pulumi:${stackName}::${PROJECT_NAME}::`;
  return [
    ...churchIds.flatMap((id) => [
      `${prefix}${LINE_TYPE}::church-${id}`,
      ...RESOURCE_KINDS.map((kind) =>
        exactGlob(`${prefix}${LINE_TYPE}$${kind.type}::${kind.childName(`church-${id}`)}`),
      ),
    ]),
  ];
}

/** Steps that remove a resource: they report no line. */
const REMOVING_OPS = new Set([
  'delete',
  'delete-replaced',
  'discard',
  'discard-replaced',
  'remove-pending-replace',
  'read-discard',
]);

/** Collects, from one run's engine events, each church's line and every failure with its church and step. */
class RunObserver {
  private readonly lines = new Map<string, ChurchLine>();
  readonly failures: RunFailure[] = [];

  constructor(private readonly onStep?: (step: LineStepEvent) => void) {}

  readonly onEvent = (event: EngineEvent): void => {
    const diagnostic = event.diagnosticEvent;
    if (diagnostic?.severity === 'error') {
      const where = diagnostic.urn ? stepOfUrn(diagnostic.urn) : { step: 'engine' as const, churchId: undefined };
      this.failures.push({ message: diagnostic.message.trim(), failedStep: where.step, churchId: where.churchId });
      if (where.churchId && where.step !== 'engine')
        this.onStep?.({ churchId: where.churchId, step: where.step, ok: false, detail: diagnostic.message.trim() });
    }
    const step = event.resOutputsEvent?.metadata;
    if (!step?.new || REMOVING_OPS.has(step.op)) return;
    const { churchId, step: kind } = stepOfUrn(step.urn);
    if (!churchId) return;
    const outputs = step.new.outputs ?? {};
    const line = this.lines.get(churchId) ?? { churchId };
    const text = (value: unknown) => (typeof value === 'string' && value !== '' ? value : undefined);
    if (kind === 'telnyx-number') line.phoneNumber = text(outputs.phoneNumber);
    if (kind === 'livekit-trunk') line.trunkId = text(outputs.sipTrunkId);
    if (kind === 'dispatch-rule') line.dispatchRuleId = text(outputs.sipDispatchRuleId);
    if (kind === 'test-ring' && typeof outputs.ok === 'boolean')
      line.ring = { ok: outputs.ok, cause: text(outputs.cause), at: text(outputs.at) };
    this.lines.set(churchId, line);
    if (kind !== 'engine') this.onStep?.({ churchId, step: kind, ok: kind !== 'test-ring' || line.ring?.ok !== false });
  };

  get churches(): ChurchLine[] {
    return [...this.lines.values()];
  }

  /** The first failure worth naming: a church's step before the engine's own complaint about it. */
  get firstFailure(): RunFailure | undefined {
    return this.failures.find((f) => f.churchId !== undefined) ?? this.failures[0];
  }
}

/** A run that did not start because another engine holds the stack: no church was attempted. */
function busyResult(message: string, recovered: StackRunResult['recovered']): StackRunResult {
  return { ok: false, busy: true, churches: [], recovered, error: { message, failedStep: 'engine' }, failures: [] };
}

function summarizeRecovery(report: RecoveryReport): StackRunResult['recovered'] {
  return {
    staleLocksRemoved: report.staleLocksRemoved.length,
    orphanedEnginesStopped: report.orphanedEnginesStopped.length,
    orphanedPluginsKilled: report.orphanedPluginsKilled.length,
    pendingOperationsCleared: report.pendingOperationsCleared.length,
  };
}

/**
 * Runs `up` of one stack for the webhook's worker: recovery first, one run at a time in this process, and a
 * result per church from this run's own events.
 *
 * The update continues past a failed resource (`--continue-on-error`): a church whose number cannot be bought
 * must not keep every other church of the run (and of every later run, while it stays in the registry) from
 * being provisioned. Resources that depend on the failed one are skipped, the others are carried out.
 */
export class VoiceStackRunner implements StackRunner {
  constructor(private readonly options: VoiceStackOptions) {}

  get stackKey(): string {
    return `${this.options.backendUrl ?? process.env.PULUMI_BACKEND_URL ?? 'default'}#${this.options.stackName}`;
  }

  provision({ reason, onOutput, onStep, signal, churchIds }: ProvisionOptions): Promise<StackRunResult> {
    return singleFlight(this.stackKey, async () => {
      // A run for some churches declares only them (infra/settings.ts onlyChurchIds) and targets only them.
      const partial = churchIds?.length
        ? {
            onlyChurchIds: churchIds,
            previousLines: await previousLines(this.options, () => openVoiceStack(this.options)),
          }
        : {};
      const stack = await openVoiceStack(this.options, partial);
      const recovery = await recoverStack(stack, this.options);
      const recovered = summarizeRecovery(recovery);
      if (recovery.busy) {
        const { pid, hostname, since } = recovery.busy;
        const message =
          `stack ${this.options.stackName} is being updated by another engine ` +
          `(pid ${pid}${hostname ? ` on ${hostname}` : ''}${since ? `, since ${since}` : ''}); nothing ran`;
        return busyResult(message, recovered);
      }
      const observer = new RunObserver(onStep);
      try {
        await upWithoutReadback(stack, {
          message: reason,
          onOutput,
          onEvent: observer.onEvent,
          signal,
          continueOnError: true,
          ...(churchIds?.length ? { target: churchTargets(this.options.stackName, churchIds) } : {}),
        });
        return { ok: true, churches: observer.churches, failures: observer.failures, recovered };
      } catch (error) {
        if (error instanceof ConcurrentUpdateError) {
          const stackName = this.options.stackName;
          return busyResult(
            `stack ${stackName} was locked by another engine as this run started; nothing ran`,
            recovered,
          );
        }
        const message = error instanceof Error ? error.message : String(error);
        const failures =
          observer.failures.length > 0 ? observer.failures : [{ message, failedStep: 'engine' as const }];
        return {
          ok: false,
          churches: observer.churches,
          failures,
          error: observer.firstFailure ?? failures[0],
          recovered,
        };
      }
    });
  }

  /** Reads the state (inside the stack's queue, so never half-way through one of our own runs). */
  churchResources(churchId: string): Promise<ChurchResource[]> {
    return singleFlight(this.stackKey, async () => {
      const stack = await openVoiceStack(this.options);
      const state = await stack.exportStack();
      const resources = (state.deployment?.resources ?? []) as Array<{
        urn: string;
        custom?: boolean;
        inputs?: Record<string, unknown>;
      }>;
      return resources
        .filter((r) => r.custom !== false)
        .map((r) => ({ urn: r.urn, ...stepOfUrn(r.urn), decommission: r.inputs?.decommission === true }))
        .filter((r) => r.churchId === churchId)
        .map(({ urn, step, decommission }) => ({ urn, step, decommission }));
    });
  }
}

/**
 * The runners of a fleet: the base stack's and, made on first use and kept, each shard stack's (same backend,
 * passphrase, vendors and registry; only the stack name differs).
 */
export function fleetRunners(base: VoiceStackOptions): {
  runner: VoiceStackRunner;
  runnerFor: (stackName: string) => VoiceStackRunner;
} {
  const runners = new Map<string, VoiceStackRunner>([[base.stackName, new VoiceStackRunner(base)]]);
  const runnerFor = (stackName: string) => {
    let runner = runners.get(stackName);
    if (!runner) runners.set(stackName, (runner = new VoiceStackRunner({ ...base, stackName })));
    return runner;
  };
  return { runner: runnerFor(base.stackName), runnerFor };
}
