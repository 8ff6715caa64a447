/**
 * The providers' refusals: what a resource will not do to a church's line, as error classes with the fields a
 * caller needs (which object, which church, what was refused). Their messages are what the founder reads in the
 * `pulumi up` output: the engine passes only the message through the provider process, so a class carries the
 * facts for code and the message keeps every word for the founder.
 *
 * Vendor failures are not refusals: they are VendorError (vendors/vendor-request.ts). A locked LiveKit id is
 * refused by LockedObjectError (vendors/livekit-locks.ts), which the `locked: true` resources extend here.
 */
import type { RuleFailure } from '../common/phone-numbers';
import { LockedObjectError, type LockedObjectKind } from '../vendors/livekit-locks';

/**
 * The one way a customer's line is released: an explicit decommission. Every refusal to delete part of a line
 * ends with this, so the founder reads the same instruction whichever resource the engine reached first.
 */
export function howToDecommission(churchId?: string): string {
  const church = churchId ?? '<church id>';
  return (
    `To release the line on purpose run \`./dev church decommission --church ${church}\`: it sets the church's ` +
    "registry status to 'decommission' (every resource of the line records decommission: true), then releases it"
  );
}

/** The parts of a church's line a delete can reach. */
export type LineResourceKind = 'trunk' | 'dispatch rule' | 'church_voice_agents row' | 'number' | 'test ring';

export interface LineResource {
  kind: LineResourceKind;
  /** The resource's id: a LiveKit id, the row's church id, the Telnyx phone-number id, the ring record's id. */
  id: string;
  /** The church whose line it is, when the resource knows it (rows, numbers, rings). */
  churchId?: string;
  phoneNumber?: string;
  /** A LiveKit object's name. */
  objectName?: string;
}

function notDecommissionedMessage({ kind, id, churchId, phoneNumber, objectName }: LineResource): string {
  switch (kind) {
    case 'trunk':
    case 'dispatch rule':
      return (
        `refusing to delete ${kind} ${id}${objectName ? ` ("${objectName}")` : ''}: ` +
        `deleting it cuts the church's line. ` +
        howToDecommission(churchId)
      );
    case 'church_voice_agents row':
      return (
        `refusing to delete the church_voice_agents row of ` +
        `church ${churchId}${phoneNumber ? ` (${phoneNumber})` : ''}: ` +
        `without it the voice agent cannot route the church's calls. ${howToDecommission(churchId)}.`
      );
    case 'number':
      return (
        `refusing to release ${phoneNumber ?? `number id ${id}`} (church ${churchId}): ` +
        `a number is released only by an ` +
        `explicit decommission. ${howToDecommission(churchId)}`
      );
    case 'test ring':
      return (
        `refusing to delete the test ring record of ` +
        `church ${churchId}${phoneNumber ? ` (${phoneNumber})` : ''}: a ring ` +
        'record goes only with its line, or the next `up` would ring the line again for nothing. ' +
        `${howToDecommission(churchId)}. ` +
        `(Turned test rings off? Set testRings back to true, or drop the ring records ` +
        'on purpose with `pulumi state delete <urn>`.)'
      );
  }
}

/** A delete of part of a church's line whose state does not record decommission: true. Nothing was deleted. */
export class NotDecommissionedError extends Error {
  readonly kind: LineResourceKind;
  readonly id: string;
  readonly churchId?: string;
  readonly phoneNumber?: string;
  readonly objectName?: string;

  constructor(resource: LineResource) {
    super(notDecommissionedMessage(resource));
    this.name = 'NotDecommissionedError';
    this.kind = resource.kind;
    this.id = resource.id;
    this.churchId = resource.churchId;
    this.phoneNumber = resource.phoneNumber;
    this.objectName = resource.objectName;
  }
}

/** A decommissioned number Telnyx holds a deletion lock on (deletion_lock_enabled): it was not released. */
export class DeletionLockError extends Error {
  readonly phoneNumber?: string;
  /** The Telnyx phone-number id. */
  readonly id: string;
  readonly churchId?: string;

  constructor(phoneNumber: string | undefined, id: string, churchId: string | undefined) {
    super(
      `refusing to release ${phoneNumber ?? `number id ${id}`} (church ${churchId}): ` +
        `Telnyx has a deletion lock on it ` +
        '(deletion_lock_enabled). Turn the lock off in the Telnyx portal if the church really is leaving, then run ' +
        'pulumi up again',
    );
    this.name = 'DeletionLockError';
    this.phoneNumber = phoneNumber;
    this.id = id;
    this.churchId = churchId;
  }
}

/**
 * Any operation on a resource whose state says `locked: true` (read-only, e.g. the legacy Twilio trunk adopted by
 * the shared stack). A LockedObjectError with the resource's own wording and fix; LiveKit was not called.
 */
export class LockedResourceError extends LockedObjectError {
  /** The LiveKit object's name, e.g. "Twilio main". */
  readonly objectName?: string;

  constructor(kind: LockedObjectKind, id: string, objectName: string | undefined, action: string) {
    super(
      kind,
      id,
      action,
      undefined,
      `${kind} ${id}${objectName ? ` ("${objectName}")` : ''} is LOCKED ` +
        `(locked: true, read-only): ${action} refused; ` +
        'LiveKit was not called. Locked objects (e.g. the legacy Twilio trunk) must never be changed by a program. ' +
        'To manage it anyway, remove it from the stack (pulumi state delete <urn>) ' +
        'and adopt it again without locked, ' +
        'with founder approval.',
    );
    this.name = 'LockedResourceError';
    this.objectName = objectName;
  }
}

/** A locked resource without adoptId: a locked object is only ever adopted. Nothing was created. */
export class LockedWithoutAdoptIdError extends Error {
  readonly kind: LockedObjectKind;

  constructor(kind: LockedObjectKind) {
    super(`a locked ${kind} can only be adopted: set adoptId to the existing id; nothing was created`);
    this.name = 'LockedWithoutAdoptIdError';
    this.kind = kind;
  }
}

/** Locking a resource and changing its inputs in the same update: locking is a step of its own. Nothing changed. */
export class LockWithChangesError extends Error {
  readonly kind: LockedObjectKind;
  readonly id: string;
  /** The inputs changed along with `locked`. */
  readonly changed: readonly string[];

  constructor(kind: LockedObjectKind, id: string, changed: readonly string[]) {
    super(
      `${kind} ${id}: locking it and changing ${changed.join(', ')} at once is refused; lock it in a step of its own`,
    );
    this.name = 'LockWithChangesError';
    this.kind = kind;
    this.id = id;
    this.changed = changed;
  }
}

/** One field in which an object to adopt differs from the program. */
export interface AdoptionDifference {
  /** The program's input name, e.g. `numbers`, `phoneNumber`, `connectionId` (`status` for a number's state). */
  field: string;
  /** The value the holder has (`null` when it has none). */
  holderHas: unknown;
  /** The value the program states (for `status`: the one adoption requires). */
  programSays: unknown;
}

/**
 * An existing object to adopt that does not match the program: adoption changes nothing, so it is refused. `what`
 * names the object as the message does, `holder` who has it (LiveKit, Supabase, Telnyx).
 */
export class AdoptionMismatchError extends Error {
  readonly what: string;
  readonly holder: string;
  /** The id adopted: a LiveKit id, the row's church id, the Telnyx phone-number id. */
  readonly id: string;
  readonly churchId?: string;
  readonly differences: readonly AdoptionDifference[];

  constructor(
    adoption: {
      what: string;
      holder: string;
      id: string;
      churchId?: string;
      differences: readonly AdoptionDifference[];
    },
    message?: string,
  ) {
    const details = adoption.differences.map(
      (d) =>
        `${d.field}: ${adoption.holder} has ${JSON.stringify(d.holderHas)}, ` +
        `program says ${JSON.stringify(d.programSays)}`,
    );
    super(
      message ??
        `cannot adopt ${adoption.what}: it does not match the program (${details.join('; ')}); ` +
          `nothing was created or changed`,
    );
    this.name = 'AdoptionMismatchError';
    this.what = adoption.what;
    this.holder = adoption.holder;
    this.id = adoption.id;
    this.churchId = adoption.churchId;
    this.differences = adoption.differences;
  }
}

/** adoptId names an object the holder does not have. Nothing was created or written. */
export class NothingToAdoptError extends Error {
  /** The object as the message names it, e.g. `inbound trunk ST_...`. */
  readonly what: string;
  readonly holder: string;
  /** The adoptId given. */
  readonly id: string;
  readonly churchId?: string;

  constructor(adoption: { what: string; holder: string; id: string; churchId?: string }, message: string) {
    super(message);
    this.name = 'NothingToAdoptError';
    this.what = adoption.what;
    this.holder = adoption.holder;
    this.id = adoption.id;
    this.churchId = adoption.churchId;
  }
}

/** A number already routed to another church's row: a number rings one church only. The row was not written. */
export class NumberInUseError extends Error {
  readonly phoneNumber: string;
  /** The church whose row was refused. */
  readonly churchId: string;
  /** The church the number already routes to. */
  readonly ownerChurchId: string;

  constructor(phoneNumber: string, churchId: string, ownerChurchId: string) {
    super(
      `phoneNumber ${phoneNumber} already routes to church ${ownerChurchId} (church_voice_agents); ` +
        `a number rings one church only, so the row for ${churchId} was not written. Decommission the ` +
        `other church's line first, or correct the number.`,
    );
    this.name = 'NumberInUseError';
    this.phoneNumber = phoneNumber;
    this.churchId = churchId;
    this.ownerChurchId = ownerChurchId;
  }
}

/** A purchase finding several numbers this church already holds: it will not guess which one. Nothing was bought. */
export class AmbiguousHeldNumbersError extends Error {
  /** The church: the numbers' customer_reference. */
  readonly churchId: string;
  readonly held: readonly { phoneNumber: string; id: string }[];

  constructor(churchId: string, held: readonly { phoneNumber: string; id: string }[]) {
    super(
      `church ${churchId} already holds ${held.length} numbers with customer_reference ${churchId} ` +
        `(${held.map((r) => `${r.phoneNumber} id ${r.id}`).join(', ')}): ` +
        `refusing to guess which one this resource is; ` +
        'adopt one with adoptId, nothing was bought',
    );
    this.name = 'AmbiguousHeldNumbersError';
    this.churchId = churchId;
    this.held = held;
  }
}

/**
 * No number Telnyx offers fits the program: the exact phoneNumber is not offered, or the area code has no exact
 * non-555 local match (near matches and 555 numbers are never ordered). Nothing was bought.
 */
export class NumberUnavailableError extends Error {
  readonly churchId: string;
  readonly areaCode: string;
  /** The exact number asked for; absent for a purchase by area code. */
  readonly phoneNumber?: string;
  /** How many numbers the area-code search offered (none of them orderable). */
  readonly offered?: number;

  constructor(search: { churchId: string; areaCode: string; phoneNumber?: string; offered?: number }) {
    const { churchId, areaCode, phoneNumber, offered } = search;
    super(
      phoneNumber !== undefined
        ? `phoneNumber ${phoneNumber} is not available to order at Telnyx (an exact local voice search in area code ` +
            `${areaCode} did not return it); nothing was bought`
        : `no local voice number is available in area code ${areaCode}` +
            `${offered ? ` (${offered} offered, none an exact non-555 local match)` : ''}: nothing was bought for ` +
            `church ${churchId}. Near matches (best_effort) and 555 numbers are never ordered; pick another area code`,
    );
    this.name = 'NumberUnavailableError';
    this.churchId = churchId;
    this.areaCode = areaCode;
    this.phoneNumber = phoneNumber;
    this.offered = offered;
  }
}

/**
 * connectionId is not an FQDN connection of the Telnyx account: numbers join it, none is created.
 * Nothing was bought.
 */
export class UnknownConnectionError extends Error {
  readonly connectionId: string;

  /** `vendorMessage`: what Telnyx answered (a VendorError's message). */
  constructor(connectionId: string, vendorMessage: string) {
    super(
      `connectionId ${connectionId} is not an FQDN connection of this Telnyx account ` +
        `(${vendorMessage}); nothing was bought. Numbers join the existing connection, none is ever created`,
    );
    this.name = 'UnknownConnectionError';
    this.connectionId = connectionId;
  }
}

/**
 * A direct call (outside a resource's `check`) with inputs that break the rules, e.g. a ring to a number that is not
 * E.164: refused before any vendor is called. `failures` name each input and rule, as `check` does.
 */
export class InvalidInputError extends Error {
  /** What refused them, e.g. `ringLine`. */
  readonly operation: string;
  readonly failures: readonly RuleFailure[];

  constructor(operation: string, failures: readonly RuleFailure[]) {
    super(`${operation}: ${failures.map((f) => f.reason).join('; ')}`);
    this.name = 'InvalidInputError';
    this.operation = operation;
    this.failures = failures;
  }
}
