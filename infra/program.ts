import * as pulumi from '@pulumi/pulumi';
import { Pool } from 'pg';
import { LiveKitSipDispatchRule } from '../providers/livekit-sip-dispatch-rule';
import { LiveKitSipInboundTrunk } from '../providers/livekit-sip-inbound-trunk';
import { DESIGN_LOCKED_TRUNK_ID } from '../vendors/livekit-locks';
import { checkAreaCode, checkOrderableNumber } from '../common/phone-numbers';
import { listChurches, RegistryChurch } from '../registry/churches';
import { lineNumbers } from '../registry/parked-lines';
import { shardOfStack } from '../common/fleet-shards';
import { getFleetLayout, migrationBlock } from '../registry/fleet-layout';
import { ChurchVoiceLine, ChurchVoiceLineArgs } from './church-voice-line';
import { ProgramOverrides, readProgramSettings } from './settings';

/** One row of the stack's `lines` output: what the founder checks per church. */
export interface LineSummary {
  churchId: string;
  churchName: string;
  source: 'registry' | 'in-service';
  registryStatus: string;
  phoneNumber: string;
  /** Absent on a parked line. */
  trunkId?: string;
  dispatchRuleId?: string;
  row: string;
  ring?: { ok: boolean; cause?: string; at?: string };
}

/** A live line (a church_voice_agents row) whose church is no longer in the registry. */
interface OrphanedLine {
  churchId: string;
  phoneNumber: string;
}

interface RegistryView {
  churches: RegistryChurch[];
  orphaned: OrphanedLine[];
  /** The number each church's line was given (a parked line is declared only when it has one). */
  numbers: Map<string, string>;
}

async function readRegistry(
  url: string,
  shard: number | null,
  onlyChurchIds?: readonly string[],
): Promise<RegistryView> {
  const pool = new Pool({ connectionString: url, max: 1 });
  try {
    // Half-way through a split, a church may be declared in a stack that does not hold its resources yet: the
    // engine would buy its line again. Refused before anything is declared.
    const blocked = migrationBlock(await getFleetLayout(pool));
    if (blocked) throw new Error(blocked);
    const churches = await listChurches(pool, { shard, churchIds: onlyChurchIds });
    if (shard !== null) {
      const numbers = await lineNumbers(
        pool,
        churches.map((c) => c.churchId),
      );
      return { churches, orphaned: [], numbers };
    }
    const numbers = await lineNumbers(pool);
    // Rows of churches the registry no longer lists: their resources will be planned for deletion, which the
    // providers refuse without a decommission. Found here so the preview says so before anyone runs `up`.
    const orphaned = await pool
      .query<OrphanedLine>(
        `select church_id as "churchId", twilio_phone_number as "phoneNumber" from church_voice_agents
          where status <> 'decommissioned' and church_id not in (select church_id from churches)`,
      )
      .then((r) => r.rows)
      .catch(() => [] as OrphanedLine[]); // a registry database without church_voice_agents (rows live elsewhere)
    return { churches, orphaned, numbers };
  } finally {
    await pool.end();
  }
}

/** Program-level resource names stay stable forever: renaming one would make the engine plan a delete. */
const lineName = (churchId: string) => `church-${churchId}`;

/** The design document's trunk keeps the name it was first adopted under; other locked trunks are named by id. */
const lockedName = (id: string) => (id === DESIGN_LOCKED_TRUNK_ID ? 'locked-twilio-trunk' : `locked-${id}`);

/**
 * How a church's line is parked: `removing` while the registry says `parking` (first run), `parked` after (second
 * run, and through a decommission of a parked line, so the trunk and rule it no longer has are not made again).
 */
function parkingOf(church: RegistryChurch): ChurchVoiceLineArgs['park'] {
  if (church.status === 'parking') return 'removing';
  if (church.status === 'parked') return 'parked';
  if (church.status === 'decommission' && church.parkedAt) return 'parked';
  return undefined;
}

function declareLine(line: ChurchVoiceLineArgs) {
  return new ChurchVoiceLine(lineName(line.churchId), line);
}

/**
 * The whole fleet: every church in the registry, plus the lines already in service (adopted, protected) and the
 * locked legacy Twilio trunk. A church absent from the registry is absent here, and its resources' deletes are
 * refused by the providers unless the church was decommissioned first (see README, "Decommission").
 */
export async function voiceLinesProgram(overrides: ProgramOverrides = {}): Promise<Record<string, unknown>> {
  const settings = readProgramSettings(overrides);
  // A shard stack declares its own churches and nothing shared; the base stack the shared objects and the churches
  // not split yet (common/fleet-shards.ts). The stack's name says which it is, so plain `pulumi up` agrees.
  const { shard } = shardOfStack(settings.stack);
  const only = overrides.onlyChurchIds;
  if (only && shard === null)
    throw new Error(`a run for some churches only is for shard stacks; ${settings.stack} is a base stack`);
  const { churches, orphaned, numbers } = await readRegistry(settings.registryDatabaseUrl, shard, only);
  const ringFrom = settings.testRings ? settings.ringFromNumber : undefined;
  const base = { telnyxConnectionId: settings.telnyxConnectionId, agentName: settings.agentName, ringFrom };

  const summaries: pulumi.Output<LineSummary>[] = [];
  const summarize = (
    line: ChurchVoiceLine,
    churchId: string,
    churchName: string,
    source: LineSummary['source'],
    registryStatus: string,
  ) =>
    summaries.push(
      pulumi
        .all([line.phoneNumber, line.trunkId, line.dispatchRuleId, line.ring?.ok, line.ring?.cause, line.ring?.at])
        .apply(([phoneNumber, trunkId, dispatchRuleId, ok, cause, at]) => ({
          churchId,
          churchName,
          source,
          registryStatus,
          phoneNumber,
          trunkId,
          dispatchRuleId,
          row: `church_voice_agents/${churchId}`,
          ring: ok === undefined ? undefined : { ok, cause, at },
        })),
    );

  const inService =
    settings.adoptLinesInService && shard === null ? settings.linesInService : { churches: [], twilioTrunks: [] };
  const adoptedIds = new Set(inService.churches.map((c) => c.churchId));
  for (const line of orphaned.filter((o) => !adoptedIds.has(o.churchId))) {
    void pulumi.log.warn(
      `LINE WITHOUT A CHURCH: ${line.churchId} (${line.phoneNumber}) ` +
        `is not in the customer registry but its line is live. ` +
        'It will NOT be released: the update refuses to delete its number, trunk, rule and row. To keep it, put the ' +
        `church back in the registry; to release it, ` +
        `decommission it (./dev church decommission --church ${line.churchId}).`,
    );
  }
  for (const church of inService.churches) {
    const line = declareLine({
      ...base,
      churchId: church.churchId,
      churchName: church.name,
      decommission: false,
      adopt: { phoneNumber: church.phoneNumber, trunkId: church.trunkId, dispatchRuleId: church.dispatchRuleId },
      // Adopted lines are rung on demand (`npm run ring`), not on every update.
      ringFrom: undefined,
    });
    summarize(line, church.churchId, church.name, 'in-service', 'in-service');
  }

  for (const church of churches) {
    if (church.status === 'decommissioned') continue;
    // A church whose registry data no provider would accept is left out with a warning, instead of failing the
    // check of the whole update and so blocking every other church.
    const invalid = church.requestedNumber
      ? checkOrderableNumber('requestedNumber', church.requestedNumber)
      : checkAreaCode('areaCode', church.areaCode);
    if (invalid) {
      void pulumi.log.warn(
        `church ${church.churchId} is left out of this update: ${invalid.reason}. Fix it in the registry.`,
      );
      continue;
    }
    if (adoptedIds.has(church.churchId)) {
      pulumi.log.warn(
        `church ${church.churchId} is both in the registry and a line in service; the line in service is adopted as is`,
      );
      continue;
    }
    const park = parkingOf(church);
    if (park && !numbers.has(church.churchId)) {
      // Parked before any number was bought: there is nothing to keep, and parking must never buy one.
      void pulumi.log.warn(
        `church ${church.churchId} is ${church.status} but its line never got a number: nothing is declared for it`,
      );
      continue;
    }
    if (park && !settings.fallbackTexmlAppId) {
      void pulumi.log.warn(
        `church ${church.churchId} is ${church.status}, but fallbackTexmlAppId is not set: its line is left as it ` +
          'was (still answered by the agent) until `pulumi config set fallbackTexmlAppId <TeXML application id>`',
      );
    }
    const line = declareLine({
      ...base,
      churchId: church.churchId,
      churchName: church.name,
      areaCode: church.areaCode ?? undefined,
      phoneNumber: church.requestedNumber ?? undefined,
      substituteInAreaCode: church.numberHold !== null,
      decommission: church.status === 'decommission',
      park: settings.fallbackTexmlAppId ? park : undefined,
      fallbackTexmlAppId: settings.fallbackTexmlAppId || undefined,
    });
    summarize(line, church.churchId, church.name, 'registry', church.status);
  }

  // Legacy Twilio trunks: their numbers stay on Twilio and on these trunks, their rules as they are. Protected
  // against delete/replace. (Config naming a locked id was refused when the settings were read.)
  const twilioTrunks = inService.twilioTrunks.map((trunk) => {
    const adopted = new LiveKitSipInboundTrunk(
      `twilio-trunk-${trunk.trunkId}`,
      { numbers: trunk.numbers, adoptId: trunk.trunkId },
      { protect: true },
    );
    for (const ruleId of trunk.dispatchRuleIds ?? []) {
      new LiveKitSipDispatchRule(
        `twilio-dispatch-${ruleId}`,
        { adoptId: ruleId },
        { protect: true, dependsOn: [adopted] },
      );
    }
    return adopted;
  });

  // The locked objects (the main Twilio trunk first of all): adopted read-only. protect refuses delete and
  // replace; `locked` and the lock on their LiveKit ids refuse every update too, before any call to LiveKit.
  const lockedObjects = (shard === null ? settings.lockedLiveKitIds : []).map((id) =>
    id.startsWith('SDR_')
      ? new LiveKitSipDispatchRule(`locked-${id}`, { adoptId: id, locked: true }, { protect: true })
      : new LiveKitSipInboundTrunk(lockedName(id), { adoptId: id, locked: true }, { protect: true }),
  );

  return {
    // A run for some churches keeps every other church's line as the stack's last update reported it.
    lines: only
      ? pulumi
          .all(summaries)
          .apply((fresh) => [
            ...((overrides.previousLines ?? []) as LineSummary[]).filter((l) => !only.includes(l.churchId)),
            ...fresh,
          ])
      : pulumi.all(summaries),
    twilioTrunks: twilioTrunks.map((t) => t.sipTrunkId),
    lockedLiveKitIds: pulumi.all(lockedObjects.map((o) => o.id)),
  };
}
