import * as pulumi from '@pulumi/pulumi';
import { CHURCH_VOICE_AGENT_ROW_KIND, ChurchVoiceAgentRow } from '../providers/church-voice-agent-row';
import { LIVEKIT_SIP_DISPATCH_RULE_KIND, LiveKitSipDispatchRule } from '../providers/livekit-sip-dispatch-rule';
import { LIVEKIT_SIP_INBOUND_TRUNK_KIND, LiveKitSipInboundTrunk } from '../providers/livekit-sip-inbound-trunk';
import { TELNYX_PHONE_NUMBER_KIND, TelnyxPhoneNumber } from '../providers/telnyx-phone-number';
import { TEST_RING_KIND, TestRing } from '../providers/test-ring';

/** One church's line as the program declares it. */
export interface ChurchVoiceLineArgs {
  churchId: string;
  churchName: string;
  /** Area code for a new purchase; only read when the church has no number yet. */
  areaCode?: string;
  /** An exact number to buy (or to adopt, with `adopt`). */
  phoneNumber?: string;
  /** `phoneNumber` was held by the pastor: if it is gone, buy the best one left in its area code. */
  substituteInAreaCode?: boolean;
  /** The founder asked to release this line: every resource of it may now be deleted. */
  decommission: boolean;
  /**
   * The line is parked (the subscription ended): its number answers with the fallback message and is kept.
   * `removing`: the number moves to `fallbackTexmlAppId`, the trunk and rule are marked for removal (their decommission
   * recorded); `parked`: they are no longer declared, so the engine deletes them. Undefined: a live line.
   */
  park?: 'removing' | 'parked';
  /** The fallback TeXML application a parked number moves onto; required with `park`. */
  fallbackTexmlAppId?: string;
  /** A line already in service: adopt these objects instead of buying or creating. */
  adopt?: { phoneNumber: string; trunkId: string; dispatchRuleId?: string };
  telnyxConnectionId: string;
  agentName: string;
  /** Company number the test ring dials from; undefined = no ring. */
  ringFrom?: string;
}

/** Room names of a church's calls start with this, so a ring (and a human) can tell whose call a room is. */
export function churchRoomPrefix(churchId: string): string {
  return `church-${churchId}-`;
}

/**
 * Number -> inbound trunk (that number, no auth) -> dispatch rule (that trunk, the agent, the church id in
 * metadata) -> church_voice_agents row -> test ring. Children are parented to the component so a preview reads
 * per church, and each step depends on the one before through its inputs. Each child is named by its kind's
 * descriptor (providers/resource-kinds.ts), which the run's results and drift read the names back with.
 */
export class ChurchVoiceLine extends pulumi.ComponentResource {
  readonly phoneNumber: pulumi.Output<string>;
  readonly trunkId: pulumi.Output<string | undefined>;
  readonly dispatchRuleId: pulumi.Output<string | undefined>;
  readonly ring?: TestRing;

  constructor(name: string, args: ChurchVoiceLineArgs, opts?: pulumi.ComponentResourceOptions) {
    super('churchwise:voice:ChurchVoiceLine', name, {}, opts);
    const adopted = args.adopt !== undefined;
    const parked = args.park !== undefined && !adopted;
    if (parked && !args.fallbackTexmlAppId)
      throw new Error(`church ${args.churchId}: a parked line needs fallbackTexmlAppId (the fallback TeXML app)`);
    // A parked number answers with the fallback message; it comes back to the FQDN connection when the church does.
    const numberConnection = parked ? args.fallbackTexmlAppId! : args.telnyxConnectionId;
    // Lines in service are protected on top of the providers' own decommission guard.
    const child: pulumi.CustomResourceOptions = { parent: this, protect: adopted && !args.decommission };

    // Adoption verifies what the program states and changes nothing, so an adopted line states only what
    // identifies it (number, connection, church reference, trunk numbers), not labels it never had.
    const number = new TelnyxPhoneNumber(
      TELNYX_PHONE_NUMBER_KIND.childName(name),
      adopted
        ? {
            adoptId: args.adopt!.phoneNumber,
            phoneNumber: args.adopt!.phoneNumber,
            connectionId: args.telnyxConnectionId,
            customerReference: args.churchId,
            decommission: args.decommission,
          }
        : {
            // An exact requested number wins over the area code (they are exclusive inputs).
            areaCode: args.phoneNumber ? undefined : args.areaCode,
            phoneNumber: args.phoneNumber,
            // A pastor's held number may be gone by the time the payment arrives: the best one left, not a failure.
            substituteInAreaCode: args.phoneNumber && args.substituteInAreaCode ? true : undefined,
            connectionId: numberConnection,
            connectionKind: parked ? 'texml-application' : undefined,
            customerReference: args.churchId,
            tags: ['churchwise-voice', `church-${args.churchId}`.slice(0, 64)],
            decommission: args.decommission,
          },
      child,
    );

    // Parking removes the trunk and the rule in two runs: first their decommission is recorded (a delete is refused
    // without it), then they are left out and the engine deletes them. The number never goes with them.
    const lineObjects = args.park === 'parked' && !adopted ? undefined : this.liveKitObjects(name, args, number, child);
    const trunkId = lineObjects?.trunk.sipTrunkId;
    const dispatchRuleId: pulumi.Output<string | undefined> = lineObjects
      ? lineObjects.rule.sipDispatchRuleId
      : pulumi.output(undefined);

    const row = new ChurchVoiceAgentRow(
      CHURCH_VOICE_AGENT_ROW_KIND.childName(name),
      {
        churchId: args.churchId,
        phoneNumber: number.phoneNumber,
        provider: 'telnyx',
        livekitTrunkId: trunkId,
        // An adopted row is verified, not rewritten: it keeps whatever rule column it had.
        dispatchRuleId: adopted || args.park === 'parked' ? undefined : dispatchRuleId,
        status: parked ? 'parked' : 'active',
        adoptId: adopted ? args.churchId : undefined,
        decommission: args.decommission,
      },
      child,
    );

    // Declared through the decommission too, so the ring's record goes with the rest of the line and no sooner.
    if (args.ringFrom) {
      this.ring = new TestRing(
        TEST_RING_KIND.childName(name),
        parked
          ? {
              churchId: args.churchId,
              phoneNumber: number.phoneNumber,
              expect: 'fallback',
              from: args.ringFrom,
              decommission: args.decommission,
            }
          : {
              churchId: args.churchId,
              phoneNumber: number.phoneNumber,
              trunkId,
              dispatchRuleId,
              roomPrefix: churchRoomPrefix(args.churchId),
              agentName: args.agentName,
              from: args.ringFrom,
              decommission: args.decommission,
            },
        { parent: this, dependsOn: [row] },
      );
    }

    this.phoneNumber = number.phoneNumber;
    this.trunkId = trunkId ?? pulumi.output(undefined);
    this.dispatchRuleId = dispatchRuleId;
    this.registerOutputs({ phoneNumber: this.phoneNumber, trunkId: this.trunkId, dispatchRuleId });
  }

  /** The church's inbound trunk and dispatch rule (marked for removal while the line is being parked). */
  private liveKitObjects(
    name: string,
    args: ChurchVoiceLineArgs,
    number: TelnyxPhoneNumber,
    child: pulumi.CustomResourceOptions,
  ): { trunk: LiveKitSipInboundTrunk; rule: LiveKitSipDispatchRule } {
    const adopted = args.adopt !== undefined;
    const decommission = args.decommission || args.park === 'removing';
    const churchMetadata = JSON.stringify({ churchId: args.churchId, churchName: args.churchName });
    const trunk = new LiveKitSipInboundTrunk(
      LIVEKIT_SIP_INBOUND_TRUNK_KIND.childName(name),
      adopted
        ? { adoptId: args.adopt!.trunkId, numbers: [number.phoneNumber], decommission }
        : {
            name: `church ${args.churchId}`,
            numbers: [number.phoneNumber],
            metadata: churchMetadata,
            krispEnabled: true,
            decommission,
          },
      child,
    );

    // An adopted line owns its rule too: the one named in config, else the one LiveKit has routing its trunk. It
    // states only what identifies it (the trunk, the agent), like the rest of an adopted line.
    const rule = new LiveKitSipDispatchRule(
      LIVEKIT_SIP_DISPATCH_RULE_KIND.childName(name),
      adopted
        ? {
            trunkIds: [trunk.sipTrunkId],
            agentName: args.agentName,
            adoptId: args.adopt!.dispatchRuleId,
            adoptByTrunk: args.adopt!.dispatchRuleId ? undefined : true,
            decommission,
          }
        : {
            name: `church ${args.churchId}`,
            roomPrefix: churchRoomPrefix(args.churchId),
            trunkIds: [trunk.sipTrunkId],
            agentName: args.agentName,
            agentMetadata: churchMetadata,
            metadata: churchMetadata,
            decommission,
          },
      child,
    );

    return { trunk, rule };
  }
}
