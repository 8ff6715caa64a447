/**
 * Puts production's lines in service (the design document's table "Current phone numbers") into the sandbox, with
 * production's own ids, so the program adopts them here exactly as it does in production:
 * - LiveKit trunks ST_LWgmiBSwTk7P, ST_3KMJ5YEjF2fF, ST_jKtes8Md7dEZ and the locked ST_Xa3Bp9aixRFP. The SIP API
 *   always picks a new id, so each trunk is written into livekit-server's Redis store the way the server itself
 *   stores it (hash `sip_inbound_trunk`, field = id, value = the SIPInboundTrunkInfo protobuf);
 * - the Telnyx numbers in the stand-in (the churches' on the FQDN connection, the fallback on no SIP connection);
 * - the company's fallback TeXML application "ChurchWise fallback" in the stand-in, with the id the stack names
 *   (`fallbackTexmlAppId`), answered by the service's `/voice/fallback` on the sandbox's service port;
 * - a dispatch rule per church trunk, as setup_sip.py made them in production (their ids are not in the design
 *   document, so the program leaves them unmanaged; the doctor and test rings need them to route the calls);
 * - the churches' church_voice_agents rows.
 * Every step is skipped when the object is already there.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { SIPInboundTrunkInfo } from '@livekit/protocol';
import { Pool } from 'pg';
import { parse } from 'yaml';
import { churchRoomPrefix } from '../infra/church-voice-line';
import type { LinesInService } from '../infra/settings';
import { DEFAULT_AGENT_NAME } from '../providers/livekit-sip-dispatch-rule';
import { LiveKitClient } from '../vendors/livekit-client';
import { lockedLiveKitIds } from '../vendors/livekit-locks';
import { TelnyxClient } from '../vendors/telnyx-client';
import type { LiveKitSettings } from '../vendors/vendor-settings';
import { SANDBOX_LIVEKIT } from './livekit';
import { SANDBOX_PORTS } from './ports';
import { REPO_ROOT, toolPath } from './processes';

/** The locked trunk's real numbers are not in the design document; the sandbox gives it one number nobody else uses. */
export const SANDBOX_LOCKED_TRUNK_NUMBER = '+14697000001';

/**
 * The company's fallback TeXML application in the sandbox: a fixed id, so the dev stack's `fallbackTexmlAppId` can
 * name it; its voice_url is the service's `/voice/fallback` (see `fallbackTexmlVoiceUrl`).
 */
export const SANDBOX_FALLBACK_TEXML_APP = { id: '2925216093662351414', friendly_name: 'ChurchWise fallback' } as const;

/** Where the sandbox's fallback application asks for its TeXML: `./dev service`'s `/voice/fallback`. */
export function fallbackTexmlVoiceUrl(port: number = SANDBOX_PORTS.webhook): string {
  return `http://127.0.0.1:${port}/voice/fallback`;
}

export interface StackFileSettings {
  linesInService: LinesInService;
  /** The locked trunks to put into LiveKit: the design document's one and any other ST_ id the stack locks. */
  lockedTrunkIds: string[];
  telnyxConnectionId: string;
  /** The fallback TeXML application's id (`fallbackTexmlAppId`); default the sandbox's fixed one. */
  fallbackTexmlAppId: string;
}

/** The lines in service and lock settings a stack file (Pulumi.<stack>.yaml) declares. */
export function stackFileSettings(stack = 'dev', dir = REPO_ROOT): StackFileSettings {
  /** The keys of the project's namespace this reads, as YAML gives them. */
  interface StackFile {
    'churchwise-voice:linesInService'?: Partial<LinesInService>;
    'churchwise-voice:lockedLiveKitIds'?: string[];
    'churchwise-voice:telnyxConnectionId'?: string;
    'churchwise-voice:fallbackTexmlAppId'?: string;
  }
  const config = (parse(fs.readFileSync(path.join(dir, `Pulumi.${stack}.yaml`), 'utf8'))?.config ?? {}) as StackFile;
  const lines = config['churchwise-voice:linesInService'] ?? {};
  return {
    linesInService: {
      churches: lines.churches ?? [],
      twilioTrunks: lines.twilioTrunks ?? [],
      fallbackNumber: lines.fallbackNumber,
    },
    lockedTrunkIds: [...lockedLiveKitIds(config['churchwise-voice:lockedLiveKitIds'] ?? [])].filter((id) =>
      id.startsWith('ST_'),
    ),
    telnyxConnectionId: config['churchwise-voice:telnyxConnectionId'] ?? '2925216093662349036',
    fallbackTexmlAppId: config['churchwise-voice:fallbackTexmlAppId'] || SANDBOX_FALLBACK_TEXML_APP.id,
  };
}

export interface SeedTargets {
  /** Telnyx stand-in base URL including /v2, and its key. */
  telnyx: { url: string; apiKey: string };
  /** Database holding church_voice_agents. */
  databaseUrl: string;
  redisPort?: number;
  livekit?: LiveKitSettings;
}

export interface SeedReport {
  trunks: string[];
  rules: string[];
  numbers: string[];
  rows: string[];
  /** TeXML applications put into the stand-in (the fallback one, when it was missing). */
  texmlApplications: string[];
  /** What could not be put in place, and why (an older stand-in still running). */
  notes: string[];
}

function redis(args: string[], input?: Buffer, port = SANDBOX_PORTS.redis): string {
  return execFileSync(toolPath('redis-cli'), ['-h', '127.0.0.1', '-p', String(port), ...args], { input })
    .toString()
    .trim();
}

function seedTrunk(id: string, name: string, numbers: string[], port?: number): boolean {
  if (redis(['HEXISTS', 'sip_inbound_trunk', id], undefined, port) === '1') return false;
  const info = new SIPInboundTrunkInfo({ sipTrunkId: id, name, numbers });
  // -x: the last argument is read from stdin, byte for byte (the value is binary protobuf).
  redis(['-x', 'HSET', 'sip_inbound_trunk', id], Buffer.from(info.toBinary()), port);
  return true;
}

async function seedNumber(
  telnyx: SeedTargets['telnyx'],
  phoneNumber: string,
  connectionId: string | null,
  customerReference?: string,
): Promise<boolean> {
  if (await new TelnyxClient({ apiKey: telnyx.apiKey, baseUrl: telnyx.url }).findPhoneNumber(phoneNumber)) return false;
  // Putting a number into the account is the stand-in's own control route (Telnyx has no such call).
  const seeded = await fetch(`${telnyx.url.replace(/\/v2$/, '')}/_standin/phone-numbers`, {
    method: 'POST',
    headers: { authorization: `Bearer ${telnyx.apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      phone_number: phoneNumber,
      connection_id: connectionId,
      customer_reference: customerReference,
    }),
  });
  if (!seeded.ok)
    throw new Error(
      `seeding ${phoneNumber} into the Telnyx stand-in failed: HTTP ${seeded.status} ${await seeded.text()}`,
    );
  return true;
}

/**
 * Puts the company's fallback TeXML application into the Telnyx stand-in with the given id, unless it is there
 * already. `unsupported`: the stand-in running predates TeXML applications (it answers neither the API route nor
 * the control route); a restart of the sandbox's stand-in brings them.
 */
export async function ensureFallbackTexmlApplication(
  telnyx: SeedTargets['telnyx'],
  id: string = SANDBOX_FALLBACK_TEXML_APP.id,
  voiceUrl: string = fallbackTexmlVoiceUrl(),
): Promise<'created' | 'present' | 'unsupported'> {
  const headers = { authorization: `Bearer ${telnyx.apiKey}`, 'content-type': 'application/json' };
  const existing = await fetch(`${telnyx.url}/texml_applications/${encodeURIComponent(id)}`, { headers });
  await existing.arrayBuffer();
  if (existing.ok) return 'present';
  if (existing.status !== 404)
    throw new Error(`reading TeXML application ${id} from the Telnyx stand-in failed: HTTP ${existing.status}`);
  // Telnyx picks the id of a new application: a fixed one is the stand-in's own control route.
  const created = await fetch(`${telnyx.url.replace(/\/v2$/, '')}/_standin/texml-applications`, {
    method: 'POST',
    headers,
    body: JSON.stringify({
      id,
      friendly_name: SANDBOX_FALLBACK_TEXML_APP.friendly_name,
      voice_url: voiceUrl,
      voice_method: 'post',
    }),
  });
  const text = await created.text();
  if (created.status === 404) return 'unsupported';
  if (!created.ok)
    throw new Error(`putting TeXML application ${id} into the Telnyx stand-in failed: HTTP ${created.status} ${text}`);
  return 'created';
}

export async function seedLinesInService(
  targets: SeedTargets,
  settings: StackFileSettings = stackFileSettings(),
): Promise<SeedReport> {
  const report: SeedReport = { trunks: [], rules: [], numbers: [], rows: [], texmlApplications: [], notes: [] };
  const livekit = new LiveKitClient(targets.livekit ?? SANDBOX_LIVEKIT);
  const { linesInService: lines } = settings;
  for (const church of lines.churches) {
    if (seedTrunk(church.trunkId, church.name, [church.phoneNumber], targets.redisPort))
      report.trunks.push(church.trunkId);
    if (await seedNumber(targets.telnyx, church.phoneNumber, settings.telnyxConnectionId, church.churchId))
      report.numbers.push(church.phoneNumber);
    if ((await livekit.listDispatchRules({ trunkIds: [church.trunkId] })).length === 0) {
      const metadata = JSON.stringify({ churchId: church.churchId, churchName: church.name });
      const rule = await livekit.createDispatchRule({
        roomPrefix: churchRoomPrefix(church.churchId),
        trunkIds: [church.trunkId],
        agents: [{ agentName: DEFAULT_AGENT_NAME, metadata }],
        name: `church ${church.churchId}`,
        metadata,
      });
      report.rules.push(rule.sipDispatchRuleId);
    }
  }
  for (const trunk of lines.twilioTrunks) {
    if (seedTrunk(trunk.trunkId, `twilio ${trunk.trunkId}`, trunk.numbers, targets.redisPort))
      report.trunks.push(trunk.trunkId);
  }
  for (const id of settings.lockedTrunkIds) {
    if (seedTrunk(id, 'main twilio trunk (LOCKED)', [SANDBOX_LOCKED_TRUNK_NUMBER], targets.redisPort))
      report.trunks.push(id);
  }
  // The company fallback answers with TeXML: it is on no SIP connection of ours.
  if (lines.fallbackNumber && (await seedNumber(targets.telnyx, lines.fallbackNumber, null)))
    report.numbers.push(lines.fallbackNumber);
  // Where a parked church's number goes: the company's fallback TeXML application.
  const fallbackApp = await ensureFallbackTexmlApplication(targets.telnyx, settings.fallbackTexmlAppId);
  if (fallbackApp === 'created') report.texmlApplications.push(settings.fallbackTexmlAppId);
  if (fallbackApp === 'unsupported') {
    report.notes.push(
      `the running Telnyx stand-in predates TeXML applications: the fallback application ` +
        `${settings.fallbackTexmlAppId} is missing until the stand-in restarts ` +
        '(./dev sandbox stop, then ./dev sandbox start)',
    );
  }

  const pool = new Pool({ connectionString: targets.databaseUrl, max: 1 });
  try {
    for (const church of lines.churches) {
      const inserted = await pool.query(
        `insert into church_voice_agents (church_id, twilio_phone_number, provider, livekit_trunk_id, status)
         values ($1, $2, 'telnyx', $3, 'active') on conflict do nothing`,
        [church.churchId, church.phoneNumber, church.trunkId],
      );
      if (inserted.rowCount) report.rows.push(church.churchId);
    }
  } finally {
    await pool.end();
  }
  return report;
}
