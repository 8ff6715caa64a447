/**
 * The drift report (`./dev drift`): what was changed by hand on the live systems since the last `pulumi up`.
 *
 *   engine-events.ts  what `pulumi preview --refresh` reports, collected from the engine's events
 *   compare.ts        whether a property changed, and how values print
 *   wording.ts        the report's sentences (each kind's own are in its provider's descriptor)
 *   unmanaged.ts      what no resource of the stack owns
 *   report.ts         the report built, run on the real engine, printed and mailed
 *   types.ts          the report's shapes (`--json`)
 */
export type {
  ChurchDrift,
  DriftReport,
  DriftedResource,
  PropertyDrift,
  ResourceKind,
  UnmanagedDispatchRule,
  UnmanagedNumber,
  UnmanagedTrunk,
  UpWarning,
} from './types';
export { previewObserver, type PreviewObservations } from './engine-events';
export { changedProperties, formatValue } from './compare';
export { findUnmanaged } from './unmanaged';
export {
  buildDriftReport,
  driftReport,
  emailDriftReport,
  readStackDrift,
  renderDrift,
  type DriftInputs,
  type StackDriftReading,
} from './report';
