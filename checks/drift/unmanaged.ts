/**
 * Objects on the systems a stack's lines are made of that no resource of the stack owns: numbers on the Telnyx FQDN
 * connection, LiveKit trunks that carry a number of this account, and dispatch rules that route one of our trunks
 * (or every trunk).
 */
import type { ResourceKindDescriptor } from '../../providers/resource-kind';
import { LIVEKIT_SIP_DISPATCH_RULE_KIND } from '../../providers/livekit-sip-dispatch-rule';
import { LIVEKIT_SIP_INBOUND_TRUNK_KIND } from '../../providers/livekit-sip-inbound-trunk';
import { TELNYX_PHONE_NUMBER_KIND } from '../../providers/telnyx-phone-number';
import type { LiveSystems, StateResource } from '../../stacks/live-systems';
import type { DriftReport, UnmanagedDispatchRule, UnmanagedNumber, UnmanagedTrunk } from './types';

/** The stack's resources of one kind (with an id: created, not pending). */
function ownedBy(resources: StateResource[], kind: ResourceKindDescriptor): StateResource[] {
  return resources.filter((r) => r.custom !== false && r.type === kind.type && r.id);
}

/**
 * What no resource of this stack owns, on the systems its lines are made of. A trunk counts when it carries a
 * number of this account (it takes calls meant for us); a rule counts when it routes a trunk that takes our calls
 * (the stack's, or such a hand-made one) or every trunk. Trunks with none of our numbers are listed apart, not
 * counted: in a LiveKit project shared with other stacks they are someone else's.
 */
export async function findUnmanaged(
  live: Pick<LiveSystems, 'telnyx' | 'livekit' | 'settings' | 'stackName'>,
  resources: StateResource[],
): Promise<{ unmanaged: DriftReport['unmanaged']; otherTrunks: DriftReport['otherTrunks'] }> {
  const connectionId = live.settings.telnyxConnectionId;
  const ownedNumbers = new Set(
    ownedBy(resources, TELNYX_PHONE_NUMBER_KIND).map((r) => String(r.outputs?.phoneNumber ?? '')),
  );
  const ownedTrunkIds = new Set(ownedBy(resources, LIVEKIT_SIP_INBOUND_TRUNK_KIND).map((r) => r.id!));
  const ownedRuleIds = new Set(ownedBy(resources, LIVEKIT_SIP_DISPATCH_RULE_KIND).map((r) => r.id!));
  const stack = `stack ${live.stackName}`;

  const [onConnection, account, trunks, rules] = await Promise.all([
    live.telnyx.listPhoneNumbers({ connectionId }),
    live.telnyx.listPhoneNumbers(),
    live.livekit.listInboundTrunks(),
    live.livekit.listDispatchRules(),
  ]);

  const numbers: UnmanagedNumber[] = onConnection
    .filter((n) => !ownedNumbers.has(n.phoneNumber))
    .map((n) => ({
      phoneNumber: n.phoneNumber,
      id: n.id,
      connectionId,
      customerReference: n.customerReference,
      message:
        `${n.phoneNumber} is on connection ${connectionId} but no resource of ${stack} owns it` +
        `${n.customerReference ? ` (customer_reference ${n.customerReference})` : ''}: ` +
        `its calls go to whichever LiveKit trunk lists it. ` +
        'Adopt it (linesInService in the stack config) or take it off the connection',
    }));

  const ourNumbers = new Set([
    ...account.filter((n) => n.status !== 'deleted').map((n) => n.phoneNumber),
    ...ownedNumbers,
    ...trunks.filter((t) => ownedTrunkIds.has(t.sipTrunkId)).flatMap((t) => t.numbers),
  ]);
  const unmanagedTrunks: UnmanagedTrunk[] = [];
  const otherTrunks: DriftReport['otherTrunks'] = [];
  for (const trunk of trunks.filter((t) => !ownedTrunkIds.has(t.sipTrunkId))) {
    const ours = trunk.numbers.filter((n) => ourNumbers.has(n));
    if (ours.length === 0) {
      otherTrunks.push({ sipTrunkId: trunk.sipTrunkId, name: trunk.name, numbers: [...trunk.numbers] });
      continue;
    }
    unmanagedTrunks.push({
      sipTrunkId: trunk.sipTrunkId,
      name: trunk.name,
      numbers: [...trunk.numbers],
      ourNumbers: ours,
      message:
        `trunk ${trunk.sipTrunkId} ("${trunk.name}") lists ${ours.join(', ')} but no resource of ${stack} ` +
        'owns it: it was made by hand and takes the calls to those numbers. Adopt it into the stack, ' +
        "or delete it once the number is on its church's trunk",
    });
  }

  // Trunks that take calls to our numbers: the stack's own, and the hand-made ones above.
  const ourTrunkIds = new Set([...ownedTrunkIds, ...unmanagedTrunks.map((t) => t.sipTrunkId)]);
  const dispatchRules: UnmanagedDispatchRule[] = rules
    .filter((r) => !ownedRuleIds.has(r.sipDispatchRuleId))
    .filter((r) => r.trunkIds.length === 0 || r.trunkIds.some((t) => ourTrunkIds.has(t)))
    .map((r) => {
      const routes =
        r.trunkIds.length === 0
          ? 'EVERY trunk (it names none)'
          : `trunk(s) ${r.trunkIds.filter((t) => ourTrunkIds.has(t)).join(', ')}, which take calls to our numbers,`;
      return {
        sipDispatchRuleId: r.sipDispatchRuleId,
        name: r.name,
        trunkIds: [...r.trunkIds],
        message:
          `dispatch rule ${r.sipDispatchRuleId} ("${r.name}") routes ${routes} but no resource of ${stack} owns it: ` +
          "LiveKit may put our calls in its rooms instead of the church's. Delete it or adopt it",
      };
    });

  return { unmanaged: { numbers, trunks: unmanagedTrunks, dispatchRules }, otherTrunks };
}
