/**
 * What every layer needs to know about a kind of resource of a church's line, said once, by its provider: how
 * Pulumi records it, what the line component names it, which step of a run it is, what drift calls it and how drift
 * words a change to it. The line component (infra/church-voice-line.ts), a run's per-step results
 * (stacks/provisioning-run.ts), drift (checks/drift/) and the ring derive from these; the list of all of them, in
 * the order the line is built, is providers/resource-kinds.ts.
 */

/** Outputs of a resource as the state and the engine's events carry them. */
export type Outputs = Record<string, unknown>;

/** One output property that differs between the state and what the vendor has now. */
export interface PropertyChange {
  property: string;
  before: unknown;
  after: unknown;
}

export interface ResourceKindDescriptor<Step extends string = string, DriftKind extends string = string> {
  /** Pulumi's module and type name of the resource class (`pulumi.dynamic.Resource`'s last two arguments). */
  readonly module: string;
  readonly typeName: string;
  /** The type token the state and the engine's events record: `pulumi-nodejs:dynamic/<module>:<typeName>`. */
  readonly type: string;
  /** The step of a line in a run's results and the founder's emails (`failedStep`). */
  readonly step: Step;
  /** What the drift report calls it (`kind` in `--json`). */
  readonly driftKind: DriftKind;
  /** What the founder calls it in a sentence. */
  readonly label: string;
  /** The line component names it `<line name><nameSuffix>`, e.g. `church-grace-trunk`. */
  readonly nameSuffix: string;
  /** Outputs the vendor keeps for itself (timestamps): no program manages them, so they are not drift. */
  readonly bookkeepingOutputs: readonly string[];
  /** The name of this kind's resource in the line named `lineName`. */
  childName(lineName: string): string;
  /** A property changed by hand, said the way the founder acts on it. */
  describeChange(id: string, before: Outputs, change: PropertyChange): string;
  /** The object is gone from the vendor. */
  describeMissing(id: string, before: Outputs): string;
  /** What `pulumi up` puts back of these changes, one phrase each ("remove the auth"); none: it says so in general. */
  describeRepairs(changes: readonly PropertyChange[]): string[];
}

/** The type token `pulumi.dynamic.Resource` registers a resource under. */
export function dynamicResourceType(module: string, typeName: string): string {
  return `pulumi-nodejs:dynamic/${module}:${typeName}`;
}

/** A value the way the founder reads it in a sentence or a table. */
export function formatValue(value: unknown): string {
  if (value === undefined || value === null) return '(none)';
  if (value === '') return '""';
  if (Array.isArray(value))
    return value.length === 0 ? '[]' : value.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).join(', ');
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** The sentence for a change nothing more particular is said about; `where` names the property. */
export function changedByHand(where: string, change: PropertyChange): string {
  return `${where} changed by hand: ${formatValue(change.before)} -> ${formatValue(change.after)}`;
}

/**
 * A descriptor from what is particular to the kind; the type token and the resource name follow from it. A change
 * the kind does not word itself is said with `changedByHand` as `<property> of <id>`.
 */
export function resourceKind<const Step extends string, const DriftKind extends string>(
  spec: Pick<
    ResourceKindDescriptor<Step, DriftKind>,
    'module' | 'typeName' | 'step' | 'driftKind' | 'label' | 'nameSuffix' | 'describeMissing'
  > &
    Partial<Pick<ResourceKindDescriptor<Step, DriftKind>, 'bookkeepingOutputs' | 'describeChange' | 'describeRepairs'>>,
): ResourceKindDescriptor<Step, DriftKind> {
  return {
    bookkeepingOutputs: [],
    describeChange: (id, _before, change) => changedByHand(`${change.property} of ${id}`, change),
    describeRepairs: () => [],
    ...spec,
    type: dynamicResourceType(spec.module, spec.typeName),
    childName: (lineName) => `${lineName}${spec.nameSuffix}`,
  };
}

/*
 * Resource classes: each provider's `pulumi.dynamic.Resource` subclass lists its outputs as
 * `declare public readonly x: pulumi.Output<...>`, never `public readonly x!: pulumi.Output<...>`. With target
 * ES2022, TypeScript emits a `!:` property as a class field, which JavaScript initialises to undefined right after
 * super() returns: that wipes the outputs the Resource constructor has just registered. `declare` emits nothing.
 */
