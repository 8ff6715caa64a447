import { ConcurrentUpdateError, EngineEvent } from '@pulumi/pulumi/automation';
import type { LineSummary } from '../infra/program';
import { singleFlight } from './single-flight';
import { VoiceStackOptions, openVoiceStack, recoverStack } from './voice-stack';

/** The step of a church's line a failure belongs to, named after the resource that failed. */
export type ProvisioningStep = 'telnyx-number' | 'livekit-trunk' | 'dispatch-rule' | 'church-row' | 'test-ring' | 'engine';

export interface StackRunResult {
  ok: boolean;
  churches: Array<{
    churchId: string;
    phoneNumber?: string;
    trunkId?: string;
    dispatchRuleId?: string;
    ring?: { ok: boolean; cause?: string; at?: string };
  }>;
  error?: { message: string; failedStep?: ProvisioningStep; churchId?: string };
  /** What recovery cleaned before the run (a previous process died mid-update). */
  recovered?: { staleLocksRemoved: number; pendingOperationsCleared: number };
}

export interface StackRunner {
  provision(opts: { reason: string; onOutput?: (line: string) => void; signal?: AbortSignal }): Promise<StackRunResult>;
}

const STEP_BY_SUFFIX: Array<[string, ProvisioningStep]> = [
  ['-number', 'telnyx-number'],
  ['-trunk', 'livekit-trunk'],
  ['-dispatch', 'dispatch-rule'],
  ['-row', 'church-row'],
  ['-ring', 'test-ring'],
];

/** `...::church-<id>-trunk` -> { churchId, step }: the program names every child `church-<id>-<step>`. */
export function stepOfUrn(urn: string): { churchId?: string; step: ProvisioningStep } {
  const name = urn.split('::').pop() ?? '';
  for (const [suffix, step] of STEP_BY_SUFFIX) {
    if (name.startsWith('church-') && name.endsWith(suffix)) {
      return { churchId: name.slice('church-'.length, -suffix.length), step };
    }
  }
  return { step: 'engine' };
}

function linesOf(outputs: Record<string, { value: unknown }> | undefined): StackRunResult['churches'] {
  const lines = (outputs?.lines?.value ?? []) as LineSummary[];
  return lines.map(({ churchId, phoneNumber, trunkId, dispatchRuleId, ring }) => ({ churchId, phoneNumber, trunkId, dispatchRuleId, ring }));
}

/**
 * Runs `up` of one stack for the webhook's worker: recovery first, one run at a time, and a result that names the
 * church and the step of the first failure so the founder's email can say what to finish by hand.
 */
export class VoiceStackRunner implements StackRunner {
  constructor(private readonly options: VoiceStackOptions) {}

  get stackKey(): string {
    return `${this.options.backendUrl ?? process.env.PULUMI_BACKEND_URL ?? 'default'}#${this.options.stackName}`;
  }

  provision({ reason, onOutput, signal }: { reason: string; onOutput?: (line: string) => void; signal?: AbortSignal }): Promise<StackRunResult> {
    return singleFlight(this.stackKey, async () => {
      const stack = await openVoiceStack(this.options);
      const recovery = await recoverStack(stack, this.options);
      const recovered = { staleLocksRemoved: recovery.staleLocksRemoved.length, pendingOperationsCleared: recovery.pendingOperationsCleared.length };
      const failures: Array<{ urn: string; message: string }> = [];
      const onEvent = (event: EngineEvent) => {
        const diagnostic = event.diagnosticEvent;
        if (diagnostic?.severity === 'error' && diagnostic.urn) failures.push({ urn: diagnostic.urn, message: diagnostic.message.trim() });
      };
      try {
        const result = await stack.up({ message: reason, onOutput, onEvent, signal });
        return { ok: true, churches: linesOf(result.outputs), recovered };
      } catch (error) {
        const churches = linesOf(await stack.outputs().catch(() => undefined));
        if (error instanceof ConcurrentUpdateError) {
          return { ok: false, churches, recovered, error: { message: `stack ${this.options.stackName} is being updated by another run; retry later`, failedStep: 'engine' } };
        }
        const first = failures.find((f) => stepOfUrn(f.urn).step !== 'engine') ?? failures[0];
        const where = first ? stepOfUrn(first.urn) : { step: 'engine' as const, churchId: undefined };
        const message = first?.message ?? (error instanceof Error ? error.message : String(error));
        return { ok: false, churches, recovered, error: { message, failedStep: where.step, churchId: where.churchId } };
      }
    });
  }
}
