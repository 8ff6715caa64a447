/**
 * Rules the LiveKit SIP resources (inbound trunk, dispatch rule) share: a locked object is read-only and refused
 * before LiveKit is called, a church's object is deleted only by an explicit decommission, and a locked object can
 * only be adopted by its LiveKit id. liveKitSipProvider is the provider both run, so those rules live once.
 */
import type * as pulumi from '@pulumi/pulumi';
import { LiveKitClient } from '../vendors/livekit-client';
import type { RuleFailure } from '../common/phone-numbers';
import { configureFromStack } from '../vendors/vendor-settings';
import { adoptionMismatch, changedInputs, checkType, containsUnknown, type FieldKind } from './resource-inputs';
import { accountKey, readThroughList } from './shared-reads';
import {
  LockedResourceError,
  LockedWithoutAdoptIdError,
  LockWithChangesError,
  NotDecommissionedError,
  NothingToAdoptError,
} from './refusals';
import { refuseLockedWrite } from '../vendors/livekit-locks';

export type LiveKitSipObjectKind = 'trunk' | 'dispatch rule';

/** Inputs that live only in the program and the state, not at LiveKit. */
export interface ManagedOnly {
  locked?: boolean;
  adoptId?: string;
  /** Rules only: adopted as the one rule routing their trunk (see LiveKitSipDispatchRuleInputs). */
  adoptByTrunk?: boolean;
  decommission?: boolean;
}

export function managedOnly(from: ManagedOnly | undefined): ManagedOnly {
  return {
    locked: from?.locked,
    adoptId: from?.adoptId,
    adoptByTrunk: from?.adoptByTrunk,
    decommission: from?.decommission,
  };
}

/** The refusal every operation on a locked resource gets; LiveKit has not been called when it is thrown. */
export function lockedError(
  kind: LiveKitSipObjectKind,
  id: string,
  name: string | undefined,
  action: string,
): LockedResourceError {
  return new LockedResourceError(kind, id, name, action);
}

/** The refusal a delete gets unless the line was explicitly decommissioned. */
export function notDecommissionedError(
  kind: LiveKitSipObjectKind,
  id: string,
  name: string | undefined,
): NotDecommissionedError {
  return new NotDecommissionedError({ kind, id, objectName: name });
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
    reason: lockedError(
      kind,
      String(olds.adoptId ?? '(unknown id)'),
      olds.name as string | undefined,
      `changing ${property}`,
    ).message,
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
    throw new LockWithChangesError(kind, id, others);
  }
  return { outs: { ...olds, locked: true } };
}

/**
 * The diff of a LiveKit SIP object: the program's input changes, plus repair of live `drift` unless the object is
 * locked (a locked object is not repaired: any change to it is refused). LiveKit updates objects in place; only
 * pointing at a different existing object (adoptId) is a different object, so nothing else replaces.
 */
export function diffLiveKitSipObject(
  fields: Record<string, FieldKind>,
  drift: (olds: Record<string, any>) => string[],
  idKey: string,
  olds: Record<string, any>,
  news: Record<string, any>,
): pulumi.dynamic.DiffResult {
  const locked = Boolean(olds.locked) || Boolean(news.locked);
  const changed = changedInputs(fields, olds, news, true);
  if (!locked) changed.push(...drift(olds));
  const replaces = changed.filter((k) => k === 'adoptId');
  return { changes: changed.length > 0, replaces, stables: replaces.length ? [] : [idKey], deleteBeforeReplace: false };
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
  if (
    typeof news.adoptId === 'string' &&
    !containsUnknown(news.adoptId) &&
    !new RegExp(`^${idPrefix}[A-Za-z0-9]+$`).test(news.adoptId)
  ) {
    failures.push({
      property: 'adoptId',
      reason: `adoptId must be a LiveKit id like ${idPrefix}Xa3Bp9aixRFP, got ${JSON.stringify(news.adoptId)}`,
    });
  }
  if (news.locked === true && !news.adoptId) {
    failures.push({
      property: 'adoptId',
      reason:
        'a locked resource is read-only: it can only be adopted, so adoptId (the existing LiveKit id) is required',
    });
  }
  return failures;
}

/** The trunks a dispatch rule routes, old and new (none for a trunk). */
function routedTrunks(...states: object[]): string[] {
  return states.flatMap((state) => {
    const trunkIds = (state as { trunkIds?: unknown }).trunkIds;
    return Array.isArray(trunkIds) ? trunkIds.filter((t): t is string => typeof t === 'string') : [];
  });
}

/** What one kind of LiveKit SIP object brings to the provider: its checks, its LiveKit calls, its outputs. */
export interface LiveKitSipObject<
  Inputs extends ManagedOnly & { name?: string },
  Outputs extends Inputs,
  Live,
  Changes extends object,
> {
  kind: LiveKitSipObjectKind;
  /** Its name in messages, e.g. "inbound trunk". */
  label: string;
  /** Its short name in "LiveKit has no such <noun>". */
  noun: string;
  fields: Record<string, FieldKind>;
  check(olds: Record<string, any>, news: Record<string, any>): pulumi.dynamic.CheckResult<Inputs>;
  diff(id: string, olds: Record<string, any>, news: Record<string, any>): pulumi.dynamic.DiffResult;
  /** The LiveKit id of a live object. */
  idOf(live: Live): string;
  outputs(live: Live, managed: ManagedOnly): Outputs;
  /** What to send so the live object matches the inputs; empty when it already does. */
  changes(live: Live, inputs: Inputs): Changes;
  get(client: LiveKitClient, id: string): Promise<Live | undefined>;
  /** Every object of this kind at LiveKit: what a refresh's reads share (providers/shared-reads.ts). */
  list(client: LiveKitClient): Promise<Live[]>;
  create(client: LiveKitClient, inputs: Inputs): Promise<Live>;
  /** The id of an existing object to adopt that the inputs describe without naming it, if any. */
  adoptable?(client: LiveKitClient, inputs: Inputs): Promise<string | undefined>;
  update(client: LiveKitClient, id: string, changes: Changes): Promise<Live>;
  remove(client: LiveKitClient, id: string): Promise<void>;
}

/**
 * The provider of a LiveKit SIP resource. create adopts (verifying the object matches) or creates; a locked object is
 * only adopted. update refuses a locked object and repairs drift in place. delete refuses a locked object, and any
 * object not explicitly decommissioned. Clients are built per call from the provider settings.
 */
export function liveKitSipProvider<
  Inputs extends ManagedOnly & { name?: string },
  Outputs extends Inputs,
  Live,
  Changes extends object,
>(object: LiveKitSipObject<Inputs, Outputs, Live, Changes>): pulumi.dynamic.ResourceProvider<Inputs, Outputs> {
  async function adopt(client: LiveKitClient, inputs: Inputs): Promise<Live> {
    const id = inputs.adoptId as string;
    const live = await object.get(client, id);
    if (!live) {
      throw new NothingToAdoptError(
        { what: `${object.label} ${id}`, holder: 'LiveKit', id },
        `cannot adopt ${object.label} ${id}: LiveKit at ${client.settings.url} has no ` +
          `such ${object.noun}; nothing was created`,
      );
    }
    // Compared as plain records: field by field, whatever the object's own types.
    const asRecord = (value: object) => ({ ...value }) as Record<string, unknown>;
    const held = asRecord(object.outputs(live, {}));
    const mismatch = adoptionMismatch(`${object.label} ${id}`, 'LiveKit', id, object.fields, held, asRecord(inputs));
    if (mismatch) throw mismatch;
    return live;
  }

  return {
    async configure(req) {
      configureFromStack(req);
    },

    async check(olds, news) {
      return object.check(olds, news);
    },

    async diff(id, olds, news) {
      return object.diff(id, olds, news);
    },

    async create(inputs) {
      if (inputs.locked && !inputs.adoptId) {
        throw new LockedWithoutAdoptIdError(object.kind);
      }
      // check() refused these already; this guard stays for any path that skips it.
      if (!inputs.locked && inputs.adoptId) refuseLockedWrite(object.kind, inputs.adoptId, 'adopting it unlocked');
      const client = new LiveKitClient();
      const found = inputs.adoptId ? undefined : await object.adoptable?.(client, inputs);
      if (found) refuseLockedWrite(object.kind, found, 'adopting it unlocked');
      const adoptId = inputs.adoptId ?? found;
      const live = adoptId ? await adopt(client, { ...inputs, adoptId }) : await object.create(client, inputs);
      return { id: object.idOf(live), outs: object.outputs(live, managedOnly(inputs)) };
    },

    async read(id, props) {
      const client = new LiveKitClient();
      // In a refresh every read of this kind shares one listing of the LiveKit project.
      const live = await readThroughList({
        listKey: accountKey(`livekit ${object.kind}s`, client.settings.url, client.settings.apiKey),
        list: () => object.list(client),
        idOf: object.idOf,
        id,
        readOne: () => object.get(client, id),
      });
      if (!live) return { id: '', props: undefined };
      return { id, props: object.outputs(live, managedOnly(props)) };
    },

    async update(id, olds, news) {
      const lockOutcome = lockedUpdate<Outputs>(
        object.kind,
        object.fields,
        id,
        olds,
        news as unknown as Partial<Outputs>,
      );
      if (lockOutcome) return lockOutcome;
      // The lock belongs to the LiveKit id, whatever this resource's state says about itself.
      refuseLockedWrite(object.kind, id, 'update', routedTrunks(olds, news));
      const client = new LiveKitClient();
      const live = await object.get(client, id);
      if (!live) {
        throw new Error(
          `${object.label} ${id} no longer exists at LiveKit ${client.settings.url}: ` +
            `run pulumi refresh, then up to recreate it`,
        );
      }
      const changes = object.changes(live, news);
      const updated = Object.keys(changes).length > 0 ? await object.update(client, id, changes) : live;
      return { outs: object.outputs(updated, managedOnly(news)) };
    },

    async delete(id, props) {
      if (props.locked) throw lockedError(object.kind, id, props.name, 'delete');
      refuseLockedWrite(object.kind, id, 'delete', routedTrunks(props));
      if (props.decommission !== true) throw notDecommissionedError(object.kind, id, props.name);
      await object.remove(new LiveKitClient(), id);
    },
  };
}
