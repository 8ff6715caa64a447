import * as pulumi from '@pulumi/pulumi';
import { Pool } from 'pg';
import { LiveKitSipInboundTrunk } from '../providers/livekit-sip-inbound-trunk';
import { listChurches, RegistryChurch } from '../registry/churches';
import { ChurchVoiceLine } from './church-voice-line';
import { ProgramOverrides, ProgramSettings, readProgramSettings } from './settings';

/** One row of the stack's `lines` output: what the founder checks per church. */
export interface LineSummary {
  churchId: string;
  churchName: string;
  source: 'registry' | 'in-service';
  registryStatus: string;
  phoneNumber: string;
  trunkId: string;
  dispatchRuleId?: string;
  row: string;
  ring?: { ok: boolean; cause?: string; at?: string };
}

async function readRegistry(url: string): Promise<RegistryChurch[]> {
  const pool = new Pool({ connectionString: url, max: 1 });
  try {
    return await listChurches(pool);
  } finally {
    await pool.end();
  }
}

/** Program-level resource names stay stable forever: renaming one would make the engine plan a delete. */
const lineName = (churchId: string) => `church-${churchId}`;

function declareLine(settings: ProgramSettings, line: ConstructorParameters<typeof ChurchVoiceLine>[1]) {
  return new ChurchVoiceLine(lineName(line.churchId), line);
}

/**
 * The whole fleet: every church in the registry, plus the lines already in service (adopted, protected) and the
 * locked legacy Twilio trunk. A church absent from the registry is absent here, and its resources' deletes are
 * refused by the providers unless the church was decommissioned first (see README, "Decommission").
 */
export async function voiceLinesProgram(overrides: ProgramOverrides = {}): Promise<Record<string, unknown>> {
  const settings = readProgramSettings(overrides);
  const churches = await readRegistry(settings.registryDatabaseUrl);
  const ringFrom = settings.testRings ? settings.ringFromNumber : undefined;
  const base = { telnyxConnectionId: settings.telnyxConnectionId, agentName: settings.agentName, ringFrom };

  const summaries: pulumi.Output<LineSummary>[] = [];
  const summarize = (line: ChurchVoiceLine, churchId: string, churchName: string, source: LineSummary['source'], registryStatus: string) =>
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

  const inService = settings.adoptLinesInService ? settings.linesInService : { churches: [], twilioTrunks: [] };
  const adoptedIds = new Set(inService.churches.map((c) => c.churchId));
  for (const church of inService.churches) {
    const line = declareLine(settings, {
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
    if (adoptedIds.has(church.churchId)) {
      pulumi.log.warn(`church ${church.churchId} is both in the registry and a line in service; the line in service is adopted as is`);
      continue;
    }
    const line = declareLine(settings, {
      ...base,
      churchId: church.churchId,
      churchName: church.name,
      areaCode: church.areaCode ?? undefined,
      phoneNumber: church.requestedNumber ?? undefined,
      decommission: church.status === 'decommission',
    });
    summarize(line, church.churchId, church.name, 'registry', church.status);
  }

  // Legacy Twilio trunks: their numbers stay on Twilio and on these trunks. Protected against delete/replace.
  const twilioTrunks = inService.twilioTrunks.map(
    (trunk) =>
      new LiveKitSipInboundTrunk(
        `twilio-trunk-${trunk.trunkId}`,
        { numbers: trunk.numbers, adoptId: trunk.trunkId },
        { protect: true },
      ),
  );

  // The main Twilio trunk is LOCKED: protect refuses delete and replace; `locked` refuses every update too,
  // before any call to LiveKit.
  const lockedTrunk = new LiveKitSipInboundTrunk(
    'locked-twilio-trunk',
    { adoptId: settings.lockedTrunkId, locked: true },
    { protect: true },
  );

  return {
    lines: pulumi.all(summaries),
    twilioTrunks: twilioTrunks.map((t) => t.sipTrunkId),
    lockedTrunkId: lockedTrunk.sipTrunkId,
  };
}
