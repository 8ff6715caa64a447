/**
 * The drift report's shapes: what `./dev drift --json` prints, and what the parts of checks/drift/ hand each other.
 */
import type { PropertyChange } from '../../providers/resource-kind';
import type { DriftKind } from '../../providers/resource-kinds';

/** What the report calls a resource: its kind's `driftKind` (providers/resource-kinds.ts). */
export type ResourceKind = DriftKind;

export type PropertyDrift = PropertyChange;

export interface DriftedResource {
  churchId: string | null;
  /** Logical name in the program, e.g. `church-grace-akron-trunk`. */
  resource: string;
  kind: ResourceKind;
  id: string;
  /** `changed`: properties differ from the state; `missing`: the vendor no longer has the object. */
  state: 'changed' | 'missing';
  properties: PropertyDrift[];
  /** The step `pulumi up` would take for it (`update`, `same`, `create`, ...), or `none` when it is not planned. */
  upStep: string;
  /** What happened and what `pulumi up` will do about it, in words. */
  actions: string[];
}

export interface UpWarning {
  churchId: string | null;
  resource: string;
  id?: string;
  /** `recreate`, `replace`, `release` or `delete`. */
  what: 'recreate' | 'replace' | 'release' | 'delete';
  message: string;
}

export interface UnmanagedNumber {
  phoneNumber: string;
  id: string;
  connectionId: string;
  customerReference: string | null;
  message: string;
}

export interface UnmanagedTrunk {
  sipTrunkId: string;
  name: string;
  numbers: string[];
  /** Its numbers that belong to this account (Telnyx) or to the stack's own trunks. */
  ourNumbers: string[];
  message: string;
}

export interface UnmanagedDispatchRule {
  sipDispatchRuleId: string;
  name: string;
  trunkIds: string[];
  message: string;
}

export interface ChurchDrift {
  /** null: resources that are not a church's (legacy Twilio trunks, the locked trunk). */
  churchId: string | null;
  churchName?: string;
  resources: DriftedResource[];
  warnings: UpWarning[];
}

export interface DriftReport {
  stack: string;
  checkedAt: string;
  /** True when anything below counts: a drifted resource, a warning, or an unmanaged object touching our lines. */
  drift: boolean;
  churches: ChurchDrift[];
  unmanaged: { numbers: UnmanagedNumber[]; trunks: UnmanagedTrunk[]; dispatchRules: UnmanagedDispatchRule[] };
  /**
   * Trunks no resource of this stack owns that carry none of this account's numbers (another stack's or another
   * product's in a shared LiveKit project). Listed, not counted: no call to a number of ours can reach them.
   */
  otherTrunks: Array<{ sipTrunkId: string; name: string; numbers: string[] }>;
  /** What `pulumi up` would do that is not drift: new lines, re-rings, program or config changes. */
  pending: Array<{ churchId: string | null; resource: string; step: string }>;
  /** Warnings the program and the providers printed during the preview. */
  engineWarnings: string[];
}
