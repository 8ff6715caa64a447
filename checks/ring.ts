/**
 * The on-demand test ring (`npm run ring -- --church <id>`): a real call to a church's line now, the same ring a
 * provisioning run places (providers/line-ring.ts), on the line as the stack last provisioned it: the number,
 * trunk and dispatch rule from the stack's `lines` output, the room prefix from the rule in the state.
 *
 * Where the result goes: the founder's terminal (or --json), and the registry's line_rings (source on-demand), which
 * the status route reads. The call waits for one of the account's outbound call slots like every ring.
 */
import { withOutboundCallSlot } from '../providers/call-slots';
import { ringLine, telnyxCallControl, type RingResult } from '../providers/line-ring';
import { registryFallbackAnswers, ringFallback } from '../providers/fallback-ring';
import { telnyxSettings } from '../vendors/vendor-settings';
import { DEFAULT_RING_TIMEOUT_SECS } from '../providers/test-ring';
import { LIVEKIT_SIP_DISPATCH_RULE_KIND } from '../providers/livekit-sip-dispatch-rule';
import { resourceName, stackLines, stateResources, type LiveSystems } from '../stacks/live-systems';
import { Pool } from 'pg';
import { recordRing } from '../registry/rings';

export interface RingedLine {
  churchId: string;
  churchName: string;
  phoneNumber: string;
  /** Absent on a parked line: it is rung for the fallback message instead (providers/fallback-ring.ts). */
  trunkId?: string;
  dispatchRuleId?: string;
  roomPrefix?: string;
  from: string;
  /** The Telnyx Call Control application that dialed. */
  callControlAppId: string;
}

export interface RingOutcome {
  stack: string;
  line: RingedLine;
  result: RingResult;
  /** Where the result was recorded (or why it was not). */
  recorded: string;
  /** Settings the ring fell back on, said out loud. */
  notes: string[];
}

/** The church's line as the stack provisioned it; an error naming the lines there are when it has none. */
async function lineOf(live: LiveSystems, churchId: string): Promise<Omit<RingedLine, 'from' | 'callControlAppId'>> {
  const lines = await stackLines(live.stack);
  const line = lines.find((l) => l.churchId === churchId);
  if (!line) {
    const known = lines.map((l) => l.churchId).join(', ') || 'none';
    throw new Error(
      `church ${churchId} has no line in stack ${live.stackName} (lines: ${known}); provision it first (pulumi up)`,
    );
  }
  const rule = (await stateResources(live.stack)).find(
    (r) => resourceName(r.urn) === LIVEKIT_SIP_DISPATCH_RULE_KIND.childName(`church-${churchId}`) && r.id,
  );
  const roomPrefix = typeof rule?.outputs?.roomPrefix === 'string' ? rule.outputs.roomPrefix : undefined;
  return {
    churchId,
    churchName: line.churchName,
    phoneNumber: line.phoneNumber,
    ...(line.trunkId ? { trunkId: line.trunkId } : {}),
    ...(line.dispatchRuleId ? { dispatchRuleId: line.dispatchRuleId } : {}),
    ...(roomPrefix ? { roomPrefix } : {}),
  };
}

/** Keeps the result in the registry's line_rings, where the status route reads the newest ring of a church. */
async function recordInRegistry(
  registryDatabaseUrl: string | undefined,
  churchId: string,
  result: RingResult,
): Promise<string> {
  if (!registryDatabaseUrl)
    return 'not recorded: no registry (set REGISTRY_DATABASE_URL); this result is printed here only';
  const pool = new Pool({ connectionString: registryDatabaseUrl, max: 1 });
  try {
    await recordRing(pool, {
      churchId,
      ok: result.ok,
      cause: result.cause,
      detail: result.detail,
      elapsedMs: result.elapsedMs,
      at: new Date(result.at),
      source: 'on-demand',
    });
    return 'recorded in the registry (line_rings): the status route shows it';
  } finally {
    await pool.end();
  }
}

export async function ringChurch(
  live: LiveSystems,
  churchId: string,
  options: { timeoutSecs?: number; registryDatabaseUrl?: string } = {},
): Promise<RingOutcome> {
  const notes: string[] = [];
  const base = await lineOf(live, churchId);
  const telnyx = telnyxSettings();
  let callControlAppId = live.settings.telnyxCallControlAppId;
  if (!callControlAppId) {
    callControlAppId = telnyx.connectionId;
    notes.push(
      `telnyxCallControlAppId is not set (pulumi config set telnyxCallControlAppId <id>): ` +
        `dialed through the FQDN connection ${callControlAppId}`,
    );
  }
  const from = live.settings.ringFromNumber;
  if (!from) throw new Error('stack config ringFromNumber is empty: the ring needs the company number it dials from');
  const line: RingedLine = { ...base, from, callControlAppId };
  const callControl = telnyxCallControl(telnyx, callControlAppId);
  const timeoutMs = (options.timeoutSecs ?? DEFAULT_RING_TIMEOUT_SECS) * 1000;
  const databaseUrl = options.registryDatabaseUrl;
  if (!line.trunkId && !databaseUrl)
    throw new Error(`church ${churchId}'s line is parked: its ring reads the registry; set REGISTRY_DATABASE_URL`);
  const result = await withOutboundCallSlot(
    () =>
      !line.trunkId
        ? ringFallback({
            phoneNumber: line.phoneNumber,
            from,
            timeoutMs,
            telnyx: callControl,
            answers: registryFallbackAnswers(databaseUrl!),
          })
        : ringLine({
            phoneNumber: line.phoneNumber,
            churchId,
            expectedTrunkId: line.trunkId,
            expectedDispatchRuleId: line.dispatchRuleId,
            roomPrefix: line.roomPrefix,
            // Unset, the ring expects the one deployed agent (its own default).
            agentName: live.settings.agentName || undefined,
            from,
            timeoutMs,
            telnyx: callControl,
            livekit: live.livekit,
          }),
    { databaseUrl: options.registryDatabaseUrl, onWait: (message) => notes.push(message) },
  );
  return {
    stack: live.stackName,
    line,
    result,
    recorded: await recordInRegistry(options.registryDatabaseUrl, churchId, result),
    notes,
  };
}

export function renderRing(outcome: RingOutcome): string {
  const { line, result } = outcome;
  const seconds = (result.elapsedMs / 1000).toFixed(1);
  const reached = line.trunkId ? 'reached LiveKit' : 'reached the fallback message (parked line)';
  const head = result.ok
    ? `RING OK: ${line.phoneNumber} (${line.churchName}, ${line.churchId}) ${reached} in ${seconds} s`
    : `RING FAILED: ${line.phoneNumber} (${line.churchName}, ${line.churchId}): ${result.cause} after ${seconds} s`;
  return [
    head,
    `  ${result.detail ?? ''}`.trimEnd(),
    `  line: trunk ${line.trunkId ?? '(none: parked)'}, dispatch rule ${line.dispatchRuleId ?? '(none on record)'}, ` +
      `room prefix ${line.roomPrefix ?? '(any)'}, from ${line.from}`,
    `  at ${result.at}, stack ${outcome.stack}; ${outcome.recorded}`,
    ...outcome.notes.map((n) => `  note: ${n}`),
  ]
    .filter((l) => l.trim() !== '')
    .join('\n');
}
