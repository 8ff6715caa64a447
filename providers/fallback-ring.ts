/**
 * The test ring of a parked line: proof that a caller of the parked number hears the fallback message, not silence
 * and not the agent. Telnyx dials the number from the company's number as for any ring; the number sits on the
 * fallback TeXML application, whose `voice_url` is the service's `/voice/fallback`, and that route records every
 * call it answers (called and calling number) in the customer registry. The ring passes when the record of its own
 * call appears: the same called number, our `from`, answered after we dialed. Then it hangs up, on every path.
 *
 * The record lives in the registry because that is what both ends share: the service that answers and the provider
 * that rings may run on different machines, and Telnyx's call status says nothing about what the caller heard.
 */
import { Client } from 'pg';
import { checkE164, type RuleFailure } from '../common/phone-numbers';
import { sleep } from '../common/timing';
import { InvalidInputError } from './refusals';
import type { RingCallControl, RingResult } from './line-ring';

/** Where the fallback route's answers are read. */
export interface FallbackAnswerLog {
  /** Whether `/voice/fallback` answered a call to `calledNumber` from `callerNumber` at or after `since`. */
  answered(calledNumber: string, callerNumber: string, since: Date): Promise<boolean>;
}

export interface FallbackRingRequest {
  /** The parked number, E.164. */
  phoneNumber: string;
  /** The company number the ring dials from, E.164. */
  from: string;
  timeoutMs: number;
  pollIntervalMs?: number;
  telnyx: RingCallControl;
  answers: FallbackAnswerLog;
}

/** Our clock and the registry's may disagree a little: an answer this long before the dial may still be ours. */
const ANSWER_CLOCK_SLACK_MS = 5000;

/** The fallback answers in the customer registry (`fallback_answers`, written by the service's route). */
export function registryFallbackAnswers(databaseUrl: string): FallbackAnswerLog {
  return {
    async answered(calledNumber, callerNumber, since) {
      const client = new Client({ connectionString: databaseUrl });
      await client.connect();
      try {
        const { rows } = await client.query(
          `select 1 from fallback_answers where called_number = $1 and caller_number = $2 and answered_at >= $3
            limit 1`,
          [calledNumber, callerNumber, since],
        );
        return rows.length > 0;
      } finally {
        await client.end();
      }
    },
  };
}

function validate(request: FallbackRingRequest): void {
  const problems = [checkE164('phoneNumber', request.phoneNumber), checkE164('from', request.from)].filter(
    (f): f is RuleFailure => f !== undefined,
  );
  if (!(request.timeoutMs > 0))
    problems.push({ property: 'timeoutMs', reason: `timeoutMs must be a positive number, got ${request.timeoutMs}` });
  if (problems.length > 0) throw new InvalidInputError('ringFallback', problems);
}

const message = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** Dials the parked number, waits for the fallback route's record of the call, hangs up, and says what it saw. */
export async function ringFallback(request: FallbackRingRequest): Promise<RingResult> {
  validate(request);
  const started = Date.now();
  const at = new Date(started).toISOString();
  const since = new Date(started - ANSWER_CLOCK_SLACK_MS);
  const finish = (verdict: Omit<RingResult, 'elapsedMs' | 'at'>): RingResult => ({
    ...verdict,
    elapsedMs: Date.now() - started,
    at,
  });
  let callControlId: string;
  try {
    const timeoutSecs = Math.min(600, Math.max(5, Math.ceil(request.timeoutMs / 1000) + 5));
    ({ callControlId } = await request.telnyx.dial({ to: request.phoneNumber, from: request.from, timeoutSecs }));
  } catch (error) {
    return finish({
      ok: false,
      cause: 'call_failed',
      detail: `Telnyx did not place the call from ${request.from} to ${request.phoneNumber}: ${message(error)}`,
    });
  }
  let heard: boolean;
  let ended = false;
  try {
    for (;;) {
      heard = await request.answers.answered(request.phoneNumber, request.from, since);
      if (heard || Date.now() - started >= request.timeoutMs) break;
      // A call that ended without an answer is checked once more (the record may land just after the hangup).
      if (ended) break;
      ended = (await request.telnyx.status(callControlId)).ended;
      if (!ended) await sleep(request.pollIntervalMs ?? 250);
    }
  } finally {
    await request.telnyx.hangup(callControlId).catch(() => undefined);
  }
  if (heard) {
    return finish({
      ok: true,
      detail: `the call to ${request.phoneNumber} was answered by the fallback application (/voice/fallback)`,
    });
  }
  return finish({
    ok: false,
    cause: 'no_fallback',
    detail:
      `the call to ${request.phoneNumber} ${ended ? 'ended' : 'rang'} without reaching /voice/fallback ` +
      `within ${Math.round(request.timeoutMs / 1000)} s: the number must be on the fallback TeXML application ` +
      "(fallbackTexmlAppId) and that application's voice_url must be the service's /voice/fallback",
  });
}
