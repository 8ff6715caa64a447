/**
 * Rules the LiveKit SIP resources (inbound trunk, dispatch rule) share: a locked object is read-only and refused
 * before LiveKit is called, a church's object is deleted only by an explicit decommission, and a locked object can
 * only be adopted by its LiveKit id.
 */
import type { RuleFailure } from './phone-number-rules';
import { changedInputs, checkType, containsUnknown, type FieldKind } from './resource-inputs';

export type LiveKitSipObjectKind = 'trunk' | 'dispatch rule';

/** Inputs that live only in the program and the state, not at LiveKit. */
export interface ManagedOnly {
  locked?: boolean;
  adoptId?: string;
  decommission?: boolean;
}

export function managedOnly(from: ManagedOnly | undefined): ManagedOnly {
  return { locked: from?.locked, adoptId: from?.adoptId, decommission: from?.decommission };
}

/** The refusal every operation on a locked resource gets; LiveKit has not been called when it is thrown. */
export function lockedError(kind: LiveKitSipObjectKind, id: string, name: string | undefined, action: string): Error {
  const label = name ? ` ("${name}")` : '';
  return new Error(
    `${kind} ${id}${label} is LOCKED (locked: true, read-only): ${action} refused; LiveKit was not called. ` +
      `Locked objects (e.g. the legacy Twilio trunk) must never be changed by a program. To manage it anyway, ` +
      `remove it from the stack (pulumi state delete <urn>) and adopt it again without locked, with founder approval.`,
  );
}

/** The refusal a delete gets unless the line was explicitly decommissioned. */
export function notDecommissionedError(kind: LiveKitSipObjectKind, id: string, name: string | undefined): Error {
  const label = name ? ` ("${name}")` : '';
  return new Error(
    `refusing to delete ${kind} ${id}${label}: deleting it cuts the church's line, which happens only by an explicit ` +
      "decommission — set the church's registry status to 'decommission' (or decommission: true) and run pulumi up",
  );
}

/** `check` failures for a locked resource whose program inputs changed: refused before any LiveKit call. */
export function lockedInputFailures(
  kind: LiveKitSipObjectKind,
  fields: Record<string, FieldKind>,
  olds: Record<string, unknown>,
  news: Record<string, unknown>,
): RuleFailure[] {
  if (!olds || !olds.locked) return [];
  return changedInputs(fields, olds, news).map((property) => ({
    property,
    reason: lockedError(kind, String(olds.adoptId ?? '(unknown id)'), olds.name as string | undefined, `changing ${property}`)
      .message,
  }));
}

/**
 * The lock's part of update. A locked resource refuses any update (LiveKit is not called); locking an unlocked
 * one is recorded without calling LiveKit, and only as a step of its own. Undefined: not locked, go on.
 */
export function lockedUpdate<T extends { locked?: boolean; name?: string }>(
  kind: LiveKitSipObjectKind,
  fields: Record<string, FieldKind>,
  id: string,
  olds: T,
  news: Partial<T>,
): { outs: T } | undefined {
  const changed = changedInputs(fields, olds, news, true);
  if (olds.locked) throw lockedError(kind, id, olds.name, `update (${changed.join(', ') || 'no input change'})`);
  if (!news.locked) return undefined;
  const others = changed.filter((k) => k !== 'locked');
  if (others.length > 0) {
    throw new Error(`${kind} ${id}: locking it and changing ${others.join(', ')} at once is refused; lock it in a step of its own`);
  }
  return { outs: { ...olds, locked: true } };
}

/** adoptId must be given when locked: a locked resource can only be adopted, never created. */
export function checkLockAndAdopt(news: Record<string, unknown>, idPrefix: string): RuleFailure[] {
  const failures: RuleFailure[] = [];
  for (const failure of [
    checkType('locked', news.locked, 'boolean', false),
    checkType('adoptId', news.adoptId, 'string', false),
    checkType('decommission', news.decommission, 'boolean', false),
  ]) {
    if (failure) failures.push(failure);
  }
  if (typeof news.adoptId === 'string' && !containsUnknown(news.adoptId) && !new RegExp(`^${idPrefix}[A-Za-z0-9]+$`).test(news.adoptId)) {
    failures.push({ property: 'adoptId', reason: `adoptId must be a LiveKit id like ${idPrefix}Xa3Bp9aixRFP, got ${JSON.stringify(news.adoptId)}` });
  }
  if (news.locked === true && !news.adoptId) {
    failures.push({
      property: 'adoptId',
      reason: 'a locked resource is read-only: it can only be adopted, so adoptId (the existing LiveKit id) is required',
    });
  }
  return failures;
}
