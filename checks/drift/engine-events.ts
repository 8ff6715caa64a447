/**
 * What one `pulumi preview --refresh` reports, collected from the engine's events.
 *
 * The engine reads every resource through its provider's `read` (the refresh phase: one event per resource with
 * its outputs before and after the read, `after` absent when the object is gone), then plans the update from the
 * refreshed state (the plan phase: the step `pulumi up` would take for each resource). With CLI 3.274.1 the refresh
 * phase reports op `refresh` with `old`/`new` outputs and no `diffs`/`detailedDiff` for dynamic resources (their
 * `diff` returns none), so the property-level before/after is computed from those outputs (compare.ts).
 */
import type { EngineEvent, OpType } from '@pulumi/pulumi/automation';
import type { Outputs } from '../../providers/resource-kind';
import { kindOfType } from '../../providers/resource-kinds';

export type { Outputs };

export interface Refreshed {
  type: string;
  id: string;
  before: Outputs;
  /** undefined: the provider's read found nothing. */
  after?: Outputs;
}

export interface Planned {
  /** Every step the plan has for the resource (a replacement is several). */
  steps: OpType[];
  type: string;
  keys: string[];
  /** The program's inputs for it (undefined for a delete). */
  inputs?: Outputs;
  /** Its outputs in the refreshed state. */
  outputs?: Outputs;
}

export interface PreviewObservations {
  refreshed: Map<string, Refreshed>;
  planned: Map<string, Planned>;
  warnings: string[];
  errors: string[];
}

/** A resource of a line (one of providers/resource-kinds.ts), not the component or the stack. */
const isOurs = (type: string | undefined) => kindOfType(type) !== undefined;

/** Collects what `pulumi preview --refresh` reports: the refresh phase, the plan and the diagnostics. */
export function previewObserver(): { onEvent: (event: EngineEvent) => void; observations: PreviewObservations } {
  const observations: PreviewObservations = { refreshed: new Map(), planned: new Map(), warnings: [], errors: [] };
  const onEvent = (event: EngineEvent) => {
    const diagnostic = event.diagnosticEvent;
    if (diagnostic) {
      const text = diagnostic.message.trim();
      const sink =
        diagnostic.severity === 'warning'
          ? observations.warnings
          : diagnostic.severity === 'error'
            ? observations.errors
            : undefined;
      if (sink && text && !sink.includes(text)) sink.push(text);
      return;
    }
    const outputs = event.resOutputsEvent?.metadata;
    if (outputs?.op === 'refresh' && isOurs(outputs.old?.type ?? outputs.type)) {
      const gone = !outputs.new || !outputs.new.id;
      observations.refreshed.set(outputs.urn, {
        type: outputs.type,
        id: outputs.old?.id ?? '',
        before: outputs.old?.outputs ?? {},
        after: gone ? undefined : (outputs.new?.outputs ?? {}),
      });
      return;
    }
    const step = event.resourcePreEvent?.metadata;
    if (step && step.op !== 'refresh' && isOurs(step.type)) {
      const planned = observations.planned.get(step.urn) ?? { steps: [], type: step.type, keys: [] };
      planned.steps.push(step.op);
      planned.keys.push(...(step.keys ?? []).filter((k) => !planned.keys.includes(k)));
      if (step.new?.inputs) planned.inputs = step.new.inputs;
      if (step.old?.outputs) planned.outputs = step.old.outputs;
      observations.planned.set(step.urn, planned);
    }
  };
  return { onEvent, observations };
}
