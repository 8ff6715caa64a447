/**
 * The stand-in's controls over HTTP under `/_standin/*`, for a test in another process or the sandbox CLI:
 *   GET    /_standin/requests?method=POST&pathPrefix=/number_orders   request log (and count)
 *   DELETE /_standin/requests                                          forget the log
 *   GET    /_standin/faults | POST /_standin/faults {status,...} | DELETE /_standin/faults
 *   POST   /_standin/latency {ms}
 *   POST   /_standin/phone-numbers {phone_number, connection_id, ...}  put a number into the account (as if
 *                                                                      bought earlier)
 *   POST   /_standin/texml-applications {friendly_name, voice_url, id?, ...}  put a TeXML application into the
 *                                                                      account (a fixed id, or one picked)
 *   POST   /_standin/number-reservations/expire {id?, phone_number?}   ends holds now (all, one reservation's, one
 *                                                                      number's), as if their 30 minutes had passed
 *   POST   /_standin/available-phone-numbers/take {phone_number}      another Telnyx customer buys a number for sale
 *                                                                      (refused while it is on hold)
 *   POST   /_standin/channel-limit {limit}                              concurrent outbound calls allowed (null: any)
 *   GET    /_standin/state                                             everything the account holds
 * Answers are JSON; a bad control request answers 400 `{error}` naming the field.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ActiveFault, FaultSpec } from './faults';
import type { RecordedRequest, RequestLog } from './request-log';
import type {
  ExpireHoldsFilter,
  NumberReservationRecord,
  PhoneNumberRecord,
  PhoneNumberSeed,
  TexmlApplicationRecord,
  TexmlApplicationSeed,
} from './state';

export interface StandInControls {
  log: RequestLog;
  injectFaults(spec: FaultSpec): ActiveFault;
  clearFaults(): void;
  activeFaults(): ActiveFault[];
  setLatency(ms: number): void;
  seedPhoneNumber(seed: PhoneNumberSeed): PhoneNumberRecord;
  seedTexmlApplication(seed: TexmlApplicationSeed): TexmlApplicationRecord;
  expireNumberReservations(filter: ExpireHoldsFilter): NumberReservationRecord[];
  takeNumber(phoneNumber: string): void;
  setChannelLimit(limit: number | undefined): void;
  snapshot(): Record<string, unknown>;
}

function parseBody(raw: unknown): Record<string, unknown> {
  if (raw === undefined || raw === '') return {};
  const value = typeof raw === 'string' ? JSON.parse(raw) : raw;
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new Error('body must be a JSON object');
  return value as Record<string, unknown>;
}

async function answer(reply: FastifyReply, status: number, work: () => unknown): Promise<void> {
  try {
    const body = work();
    await reply.code(status).header('content-type', 'application/json').send(JSON.stringify(body));
  } catch (error) {
    await reply
      .code(400)
      .header('content-type', 'application/json')
      .send(JSON.stringify({ error: (error as Error).message }));
  }
}

export function registerControlRoutes(app: FastifyInstance, controls: StandInControls): void {
  app.get('/_standin/requests', (request, reply) =>
    answer(reply, 200, () => {
      const { method = '*', pathPrefix = '/' } = request.query as { method?: string; pathPrefix?: string };
      const data: RecordedRequest[] = controls.log.matching(method, pathPrefix);
      return { data, count: data.length, spec_failures: controls.log.specFailures };
    }),
  );
  app.delete('/_standin/requests', (_request, reply) =>
    answer(reply, 200, () => (controls.log.clear(), { cleared: true })),
  );

  app.get('/_standin/faults', (_request, reply) => answer(reply, 200, () => ({ data: controls.activeFaults() })));
  app.post('/_standin/faults', (request, reply) =>
    answer(reply, 201, () => ({ data: controls.injectFaults(parseBody(request.body) as unknown as FaultSpec) })),
  );
  app.delete('/_standin/faults', (_request, reply) =>
    answer(reply, 200, () => (controls.clearFaults(), { cleared: true })),
  );

  app.post('/_standin/latency', (request, reply) =>
    answer(reply, 200, () => {
      const { ms } = parseBody(request.body);
      controls.setLatency(ms as number);
      return { latency_ms: ms };
    }),
  );

  app.post('/_standin/phone-numbers', (request, reply) =>
    answer(reply, 201, () => ({
      data: controls.seedPhoneNumber(parseBody(request.body) as unknown as PhoneNumberSeed),
    })),
  );

  app.post('/_standin/texml-applications', (request, reply) =>
    answer(reply, 201, () => ({
      data: controls.seedTexmlApplication(parseBody(request.body) as unknown as TexmlApplicationSeed),
    })),
  );

  app.post('/_standin/number-reservations/expire', (request, reply) =>
    answer(reply, 200, () => {
      const { id, phone_number: phoneNumber } = parseBody(request.body);
      if (id !== undefined && typeof id !== 'string') throw new Error('id must be a number reservation id');
      if (phoneNumber !== undefined && typeof phoneNumber !== 'string')
        throw new Error('phone_number must be an E.164 number');
      return { data: controls.expireNumberReservations({ id, phone_number: phoneNumber }) };
    }),
  );

  app.post('/_standin/available-phone-numbers/take', (request, reply) =>
    answer(reply, 200, () => {
      const { phone_number: phoneNumber } = parseBody(request.body);
      controls.takeNumber(phoneNumber as string);
      return { taken: phoneNumber };
    }),
  );

  app.post('/_standin/channel-limit', (request, reply) =>
    answer(reply, 200, () => {
      const { limit } = parseBody(request.body);
      if (limit !== null && typeof limit !== 'number')
        throw new Error('limit must be a whole number >= 1, or null for no limit');
      controls.setChannelLimit(limit ?? undefined);
      return { channel_limit: limit };
    }),
  );

  app.get('/_standin/state', (_request, reply) => answer(reply, 200, () => controls.snapshot()));
}
