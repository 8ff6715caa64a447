/**
 * The doctor: the design document's gotchas (its "Gotchas" section), checked on
 * the live systems a stack's lines are made of. Each finding says what is wrong and how to fix it.
 *
 * It reads only: the Telnyx FQDN connection and its FQDNs, the account's numbers, church_voice_agents, and LiveKit's
 * trunks and dispatch rules. The line checks are the ring's own diagnosis (providers/line-ring.ts `diagnoseLine`),
 * so the doctor and a failed test ring always name a broken line the same way.
 */
import { diagnoseLine, type RingCause } from '../providers/line-ring';
import { DESIGN_LOCKED_TRUNK_ID } from '../vendors/livekit-locks';
import { isFictional555 } from '../common/phone-numbers';
import { CHURCH_VOICE_AGENTS_TABLE, type ChurchVoiceAgentRecord } from '../vendors/supabase-client';
import { renderTable } from './line-table';
import type { LiveSystems } from '../stacks/live-systems';

export type DoctorCheck =
  'fqdn-transport' | 'fqdn-host' | 'line-trunk' | 'fictional-555' | 'telnyx-number' | 'legacy-twilio' | 'locked-trunk';

/** What each check is about, in the founder's words (also the order of the report). */
export const DOCTOR_CHECKS: Record<DoctorCheck, string> = {
  'fqdn-transport': 'the Telnyx FQDN connection sends SIP over TCP',
  'fqdn-host': "the connection's FQDN is LiveKit's SIP host by project ID",
  'line-trunk':
    'every number in church_voice_agents is on exactly one trunk, without auth, with a rule that dispatches the agent',
  'fictional-555': 'no 555 number in a row a caller could dial',
  'telnyx-number': 'every Telnyx number in church_voice_agents is active on the FQDN connection',
  'legacy-twilio': 'legacy Twilio numbers are still on their trunk',
  'locked-trunk': 'the locked main Twilio trunk exists',
};

export interface DoctorFinding {
  check: DoctorCheck;
  /** What the finding is about: a connection, a number, a trunk. */
  subject: string;
  churchId?: string;
  problem: string;
  fix: string;
}

export interface DoctorReport {
  stack: string;
  checkedAt: string;
  ok: boolean;
  checks: Array<{ check: DoctorCheck; description: string; ok: boolean; checked: number }>;
  findings: DoctorFinding[];
}

const DEFAULT_SIP_PORT = 5060;
const LIVEKIT_CLOUD_SIP_DOMAIN = '.sip.livekit.cloud';

/** `host[:port]` -> `host:port`, lower case, default port 5060. */
export function sipEndpoint(host: string, port?: number): string {
  const [name, explicitPort] = host.trim().toLowerCase().split(':');
  return `${name}:${port ?? (explicitPort ? Number(explicitPort) : DEFAULT_SIP_PORT)}`;
}

/**
 * The LiveKit Cloud project NAME host (`cwa-voice-9x077mph.sip.livekit.cloud`), which answers "404 No trunk found",
 * as opposed to the project ID host (`5u9xu5ysoly.sip.livekit.cloud`). Names are the project's dashed slug, also
 * the first label of the API URL (https://cwa-voice-9x077mph.livekit.cloud); ids carry no dash.
 */
export function isProjectNameSipHost(host: string, livekitUrl: string): boolean {
  const name = host.trim().toLowerCase().split(':')[0];
  if (!name.endsWith(LIVEKIT_CLOUD_SIP_DOMAIN)) return false;
  const label = name.slice(0, -LIVEKIT_CLOUD_SIP_DOMAIN.length);
  let projectName: string | undefined;
  try {
    const apiHost = new URL(livekitUrl).hostname.toLowerCase();
    if (apiHost.endsWith('.livekit.cloud')) projectName = apiHost.split('.')[0];
  } catch {
    // no usable API URL: the dash rule below still applies
  }
  return label === projectName || label.includes('-');
}

/**
 * The fix for a line the ring's diagnosis found broken. `ruleOnRecord`: the row names the line's dispatch rule, so
 * the stack manages it; a line in service adopted without one has its rule outside the stack.
 */
function lineFix(cause: RingCause, number: string, trunkId: string, agentName: string, ruleOnRecord: boolean): string {
  const ruleOwner = ruleOnRecord
    ? '`pulumi up --refresh` recreates or repairs the managed rule'
    : 'the row names no rule, so the stack does not manage one: ' +
      'create it (voice-agent-livekit/scripts/setup_sip.py) ' +
      'and adopt it with linesInService.churches[].dispatchRuleId';
  switch (cause) {
    case 'not_found':
      return (
        `put ${number} on trunk ${trunkId}: \`pulumi up --refresh\` restores a managed trunk's numbers ` +
        `(\`npm run drift\` shows what changed); for a trunk made by hand, ` +
        `updateSipInboundTrunkFields(${trunkId}, { numbers: add ${number} })`
      );
    case 'wrong_trunk':
      return (
        `take ${number} off the other trunk(s) and keep it only on ${trunkId}, the trunk church_voice_agents ` +
        `names (or fix the row's livekit_trunk_id)`
      );
    case 'call_rejected':
      return (
        `remove auth (auth_username/auth_password) and any caller allow-list from trunk ${trunkId}: ` +
        `\`pulumi up --refresh\` clears them on a managed trunk. Telnyx sends no credentials; ` +
        `its owning the number is the security`
      );
    case 'no_room':
      return (
        `give trunk ${trunkId} a dispatch rule that names it and dispatches ${agentName}, ` +
        `without caller filters: ${ruleOwner}`
      );
    case 'no_agent':
      return `make the trunk's dispatch rule dispatch agent ${agentName} (roomConfig.agents): ${ruleOwner}`;
    default:
      return `run \`npm run ring -- --church <id>\` for the full diagnosis of ${number}`;
  }
}

async function checkConnection(
  live: LiveSystems,
  findings: DoctorFinding[],
): Promise<{ transport: number; host: number }> {
  const { telnyxConnectionId: connectionId, livekitSipHost, livekitUrl } = live.settings;
  const connection = await live.telnyx.getFqdnConnection(connectionId);
  const transport = (connection.transportProtocol ?? '').toUpperCase();
  if (transport !== 'TCP') {
    findings.push({
      check: 'fqdn-transport',
      subject: `connection ${connectionId} ("${connection.connectionName}")`,
      problem:
        `transport is ${transport || 'unset'}: LiveKit's SIP endpoint does not reliably accept UDP from ` +
        `Telnyx, so calls fail or drop`,
      fix:
        `set the connection's transport to TCP (Telnyx portal: SIP Connections > "${connection.connectionName}" ` +
        `> Transport protocol, or PATCH /v2/fqdn_connections/${connectionId} {"transport_protocol":"TCP"}); ` +
        `it is per connection, not per number`,
    });
  }

  const expected = sipEndpoint(livekitSipHost);
  if (isProjectNameSipHost(livekitSipHost, livekitUrl)) {
    findings.push({
      check: 'fqdn-host',
      subject: `stack config livekitSipHost`,
      problem:
        `livekitSipHost ${livekitSipHost} is LiveKit's project NAME host: ` +
        `it answers "404 No trunk found" to every call`,
      fix:
        'set livekitSipHost to the project ID host ' +
        '(e.g. `pulumi config set livekitSipHost 5u9xu5ysoly.sip.livekit.cloud:5060`)',
    });
  }
  const fqdns = await live.telnyx.listFqdns(connectionId);
  if (fqdns.length === 0) {
    findings.push({
      check: 'fqdn-host',
      subject: `connection ${connectionId}`,
      problem: 'the connection has no FQDN: Telnyx has nowhere to send the calls',
      fix: `add the FQDN ${expected} to connection ${connectionId} (Telnyx portal: SIP Connections > Inbound > FQDNs)`,
    });
  }
  for (const fqdn of fqdns) {
    const endpoint = sipEndpoint(fqdn.fqdn, fqdn.port);
    if (endpoint === expected) continue;
    const nameHost = isProjectNameSipHost(fqdn.fqdn, livekitUrl);
    findings.push({
      check: 'fqdn-host',
      subject: `FQDN ${fqdn.id} of connection ${connectionId}`,
      problem: nameHost
        ? `FQDN ${endpoint} is LiveKit's project NAME host: it answers "404 No trunk found", so no call reaches a trunk`
        : `FQDN ${endpoint} is not LiveKit's SIP host by project ID ` +
          `(${expected}, stack config livekitSipHost): calls go elsewhere`,
      fix:
        `point the FQDN at ${expected} (Telnyx portal: SIP Connections > Inbound > FQDNs, or PATCH ` +
        `/v2/fqdns/${fqdn.id}); do not create a new connection`,
    });
  }
  return { transport: 1, host: fqdns.length + 1 };
}

async function activeRows(live: LiveSystems): Promise<ChurchVoiceAgentRecord[]> {
  const rows = await live
    .supabase()
    .request<ChurchVoiceAgentRecord[]>('GET', CHURCH_VOICE_AGENTS_TABLE, (db) =>
      db.from(CHURCH_VOICE_AGENTS_TABLE).select('*').order('church_id'),
    );
  return (rows ?? []).filter((row) => row.status === 'active');
}

async function checkRows(live: LiveSystems, rows: ChurchVoiceAgentRecord[], findings: DoctorFinding[]): Promise<void> {
  const { telnyxConnectionId } = live.settings;
  // Pulumi.yaml declares the agent's name with a default; an empty value means the ring's own default agent.
  const agentName = live.settings.agentName || undefined;
  for (const row of rows) {
    const number = row.twilio_phone_number;
    const churchId = row.church_id;
    if (isFictional555(number)) {
      findings.push({
        check: 'fictional-555',
        subject: number,
        churchId,
        problem:
          `church_voice_agents row of ${churchId} is active with ${number}, ` +
          `a 555 number (^\\+1\\d{3}555\\d{4}$): reserved for fiction, it can never receive a call`,
        fix:
          "give the row the church's real number, or set its status to 'suspended'; demos go through the Demo " +
          'Router (+14696152221 US, +13658254095 CA)',
      });
      // A fiction number is on no trunk by nature: its trunk findings would only repeat this one.
      continue;
    }

    const trunks = (await live.livekit.listInboundTrunks({ numbers: [number] })).filter((t) =>
      t.numbers.includes(number),
    );
    if (!row.livekit_trunk_id) {
      findings.push({
        check: 'line-trunk',
        subject: number,
        churchId,
        problem:
          `church_voice_agents row of ${churchId} names no LiveKit trunk (livekit_trunk_id is empty)` +
          `${trunks.length ? `; ${number} is on ${trunks.map((t) => t.sipTrunkId).join(', ')}` : ''}`,
        fix: 'run `pulumi up` (the row records its trunk), or set livekit_trunk_id to the trunk that lists the number',
      });
    } else {
      if (trunks.length > 1) {
        findings.push({
          check: 'line-trunk',
          subject: number,
          churchId,
          problem:
            `${number} is on ${trunks.length} trunks (${trunks.map((t) => t.sipTrunkId).join(', ')}): ` +
            `LiveKit picks one per call, so calls may miss the church's trunk ${row.livekit_trunk_id}`,
          fix: `keep ${number} only on ${row.livekit_trunk_id}: remove it from the other trunk(s)`,
        });
      }
      const diagnosis = await diagnoseLine({
        phoneNumber: number,
        // The test caller: a caller allow-list that refuses it refuses real callers too.
        from: live.settings.ringFromNumber || undefined,
        expectedTrunkId: row.livekit_trunk_id,
        expectedDispatchRuleId: row.dispatch_rule_id ?? undefined,
        agentName,
        livekit: live.livekit,
      });
      if (diagnosis) {
        findings.push({
          check: 'line-trunk',
          subject: number,
          churchId,
          problem: `${diagnosis.cause}: ${diagnosis.detail}`,
          fix: lineFix(
            diagnosis.cause,
            number,
            row.livekit_trunk_id,
            agentName ?? 'the agent',
            Boolean(row.dispatch_rule_id),
          ),
        });
      }
    }

    if (row.provider === 'telnyx') {
      const record = await live.telnyx.findPhoneNumber(number);
      if (!record || record.status === 'deleted') {
        findings.push({
          check: 'telnyx-number',
          subject: number,
          churchId,
          problem: `${number} (church ${churchId}) is not a number of this Telnyx account: calls to it never reach us`,
          fix:
            'find out where the number went (ported, released); if it is gone, ' +
            'decommission the line and provision a new one',
        });
      } else if (record.status !== 'active' || record.connectionId !== telnyxConnectionId) {
        findings.push({
          check: 'telnyx-number',
          subject: number,
          churchId,
          problem:
            `${number} (church ${churchId}) is ${record.status} ` +
            `${record.connectionId ? `on connection ${record.connectionId}` : 'on no connection'}; ` +
            `it must be active on ${telnyxConnectionId}, or calls to it do not reach LiveKit`,
          fix:
            `assign it to connection ${telnyxConnectionId} ("LiveKit Inbound v2"): \`pulumi up --refresh\` does ` +
            `it for a managed number; never create a new connection`,
        });
      }
    }
  }
}

async function checkLegacyTrunks(live: LiveSystems, findings: DoctorFinding[]): Promise<number> {
  const { twilioTrunks } = live.settings.linesInService;
  for (const legacy of twilioTrunks) {
    const trunk = await live.livekit.getInboundTrunk(legacy.trunkId);
    if (!trunk) {
      findings.push({
        check: 'legacy-twilio',
        subject: legacy.trunkId,
        problem:
          `legacy Twilio trunk ${legacy.trunkId} no longer exists: ` +
          `calls to ${legacy.numbers.join(', ')} find no trunk`,
        fix:
          `recreate it with the founder's approval (voice-agent-livekit/scripts/setup_sip.py), ` +
          `then update linesInService.twilioTrunks with its new id`,
      });
      continue;
    }
    const missing = legacy.numbers.filter((n) => !trunk.numbers.includes(n));
    if (missing.length > 0) {
      findings.push({
        check: 'legacy-twilio',
        subject: legacy.trunkId,
        problem:
          `${missing.join(', ')} no longer on legacy Twilio trunk ${legacy.trunkId}: ` +
          `calls to ${missing.length > 1 ? 'them' : 'it'} get "no trunk found"`,
        fix:
          `put ${missing.join(', ')} back on ${legacy.trunkId} exactly as written (with the "+"), ` +
          `with the founder's approval; Twilio numbers stay on Twilio`,
      });
    }
  }
  return twilioTrunks.length;
}

async function checkLockedObjects(live: LiveSystems, findings: DoctorFinding[]): Promise<number> {
  const ids = live.settings.lockedLiveKitIds;
  for (const id of ids) {
    const rule = id.startsWith('SDR_');
    const exists = rule ? await live.livekit.getDispatchRule(id) : await live.livekit.getInboundTrunk(id);
    if (exists) continue;
    findings.push({
      check: 'locked-trunk',
      subject: id,
      problem: rule
        ? `the LOCKED dispatch rule ${id} does not exist: the legacy calls it routed reach no room`
        : `the LOCKED ${id === DESIGN_LOCKED_TRUNK_ID ? 'main Twilio ' : ''}trunk ${id} does not exist: ` +
          `every Twilio line on it is down`,
      fix:
        'tell the founder now: only the voice-agent-engineer may recreate it, ' +
        'with explicit approval (never by a script)',
    });
  }
  return ids.length;
}

/** Runs every check; a vendor that cannot be read is an error (thrown), not a finding. */
export async function runDoctor(live: LiveSystems): Promise<DoctorReport> {
  const findings: DoctorFinding[] = [];
  const connection = await checkConnection(live, findings);
  const rows = await activeRows(live);
  await checkRows(live, rows, findings);
  const legacy = await checkLegacyTrunks(live, findings);
  const locked = await checkLockedObjects(live, findings);
  const checked: Record<DoctorCheck, number> = {
    'fqdn-transport': connection.transport,
    'fqdn-host': connection.host,
    'line-trunk': rows.filter((r) => !isFictional555(r.twilio_phone_number)).length,
    'fictional-555': rows.length,
    'telnyx-number': rows.filter((r) => r.provider === 'telnyx' && !isFictional555(r.twilio_phone_number)).length,
    'legacy-twilio': legacy,
    'locked-trunk': locked,
  };
  const checks = (Object.keys(DOCTOR_CHECKS) as DoctorCheck[]).map((check) => ({
    check,
    description: DOCTOR_CHECKS[check],
    ok: !findings.some((f) => f.check === check),
    checked: checked[check],
  }));
  return { stack: live.stackName, checkedAt: new Date().toISOString(), ok: findings.length === 0, checks, findings };
}

export function renderDoctor(report: DoctorReport): string {
  const out = [`Doctor, stack ${report.stack}, ${report.checkedAt}`];
  out.push(
    renderTable(
      ['Check', 'Result', 'What it checks'],
      report.checks.map((c) => [
        c.check,
        c.ok ? `ok (${c.checked})` : `FAILED (${report.findings.filter((f) => f.check === c.check).length})`,
        c.description,
      ]),
    ),
  );
  if (report.ok) {
    out.push('', 'All checks passed.');
    return out.join('\n');
  }
  out.push('', `${report.findings.length} finding(s):`);
  for (const f of report.findings) {
    out.push(
      '',
      `[${f.check}] ${f.subject}${f.churchId ? ` (church ${f.churchId})` : ''}`,
      `  wrong: ${f.problem}`,
      `  fix:   ${f.fix}`,
    );
  }
  return out.join('\n');
}
