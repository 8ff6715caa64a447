/**
 * Where the locked LiveKit objects are refused. The lock belongs to the LiveKit id, not to one resource: whatever
 * names a locked trunk or rule id (a program, a config entry, an adoption, a church's line, a rule routing the
 * trunk, a CLI) is refused before LiveKit is called, here and in LiveKitClient's writes.
 *
 * The set of locked ids is one setting, `lockedLiveKitIds` (stack config, else LOCKED_LIVEKIT_IDS). The design
 * document's main Twilio trunk is always in it: a config edit can lock more objects, never unlock that one (an
 * agent once "fixed" its numbers and broke every working Twilio line).
 */
import { lockedLiveKitIdsSetting } from './vendor-settings';
import type { RuleFailure } from '../common/phone-numbers';

/** The main legacy Twilio trunk: locked whatever any setting says. */
export const DESIGN_LOCKED_TRUNK_ID = 'ST_Xa3Bp9aixRFP';

const LIVEKIT_ID = /^(ST|SDR)_[A-Za-z0-9]+$/;

export type LockedObjectKind = 'trunk' | 'dispatch rule';

/** A write to a locked LiveKit object, refused; LiveKit was not called. */
export class LockedObjectError extends Error {
  readonly kind: LockedObjectKind;
  readonly id: string;
  /** What was refused, e.g. "update (numbers)" or "delete". */
  readonly action: string;
  /**
   * How the locked id was reached, e.g. `linesInService.twilioTrunks[1].trunkId`;
   * absent when it is the object itself.
   */
  readonly via?: string;

  /** `message`: a refusal of its own wording by a subclass (providers/refusals.ts LockedResourceError). */
  constructor(
    kind: LockedObjectKind,
    id: string,
    action: string,
    via?: string,
    message = lockedIdMessage(kind, id, action, via),
  ) {
    super(message);
    this.name = 'LockedObjectError';
    this.kind = kind;
    this.id = id;
    this.action = action;
    this.via = via;
  }
}

function lockedIdMessage(kind: LockedObjectKind, id: string, action: string, via: string | undefined): string {
  return (
    `${kind} ${id} is LOCKED (lockedLiveKitIds): ${action} ` +
    `refused${via ? ` (${via} names it)` : ''}; LiveKit was not called. ` +
    'Locked objects (the legacy Twilio trunk first of all) are never changed by any program, config entry or ' +
    'command: they are only adopted read-only, by the locked resource of the shared stack.'
  );
}

/** Parses the setting's value: a JSON list (Pulumi array config) or a comma-separated list (the environment). */
export function parseLockedIds(value: string | undefined): string[] {
  if (!value || !value.trim()) return [];
  const trimmed = value.trim();
  let ids: unknown;
  if (trimmed.startsWith('[')) {
    try {
      ids = JSON.parse(trimmed);
    } catch {
      throw new Error(
        `setting lockedLiveKitIds must be a list of LiveKit ids (ST_... or SDR_...), got unparseable JSON`,
      );
    }
  } else {
    ids = trimmed
      .split(',')
      .map((id) => id.trim())
      .filter(Boolean);
  }
  if (!Array.isArray(ids) || ids.some((id) => typeof id !== 'string' || !LIVEKIT_ID.test(id))) {
    throw new Error(
      `setting lockedLiveKitIds must be a list of LiveKit ids (ST_... or SDR_...), got ${JSON.stringify(ids)}`,
    );
  }
  return ids as string[];
}

/** Every locked id: the design document's trunk plus the setting's (stack config, else LOCKED_LIVEKIT_IDS). */
export function lockedLiveKitIds(configured: string[] = parseLockedIds(lockedLiveKitIdsSetting())): Set<string> {
  return new Set([DESIGN_LOCKED_TRUNK_ID, ...configured]);
}

export function isLocked(id: unknown, locked: ReadonlySet<string> = lockedLiveKitIds()): boolean {
  return typeof id === 'string' && locked.has(id);
}

/**
 * `check` failures of a resource that is not the locked object's own read-only adoption (`locked: true`) but names
 * a locked id: as the object it adopts, or among the trunks a rule routes (a new rule on the locked trunk would take
 * its calls).
 */
export function lockedIdFailures(
  kind: LockedObjectKind,
  news: Record<string, unknown>,
  locked: ReadonlySet<string> = lockedLiveKitIds(),
): RuleFailure[] {
  if (news.locked === true) return [];
  const failures: RuleFailure[] = [];
  if (isLocked(news.adoptId, locked)) {
    failures.push({
      property: 'adoptId',
      reason: new LockedObjectError(kind, String(news.adoptId), 'adopting it as a managed (unlocked) resource').message,
    });
  }
  if (kind === 'dispatch rule' && Array.isArray(news.trunkIds)) {
    news.trunkIds.forEach((trunkId, i) => {
      if (isLocked(trunkId, locked)) {
        failures.push({
          property: `trunkIds[${i}]`,
          reason: new LockedObjectError('trunk', String(trunkId), 'routing its calls through this rule').message,
        });
      }
    });
  }
  return failures;
}

/** Throws when a write would reach a locked object: its own id, or (for a rule) a locked trunk it routes. */
export function refuseLockedWrite(
  kind: LockedObjectKind,
  id: string,
  action: string,
  routedTrunkIds: readonly string[] = [],
  locked: ReadonlySet<string> = lockedLiveKitIds(),
): void {
  if (locked.has(id)) throw new LockedObjectError(kind, id, action);
  const trunk = routedTrunkIds.find((t) => locked.has(t));
  if (trunk) throw new LockedObjectError('trunk', trunk, `${action} of ${kind} ${id}, which routes it`);
}
