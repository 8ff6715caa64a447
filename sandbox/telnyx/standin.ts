/**
 * A local Telnyx API v2 (there is no local Telnyx server): phone number search, reservations and orders, phone
 * numbers, FQDN connections and FQDNs, TeXML applications, and Call Control dial/status/hangup, on 127.0.0.1. Every
 * request is checked against Telnyx's OpenAPI spec (a client sending a bad request gets the 4xx it would get,
 * naming the field) and every response is checked before it is sent (a stand-in bug becomes a loud 500, never a
 * silent wrong answer).
 *
 * Each /v2 request goes: latency -> auth -> route to a spec operation -> injected fault -> query and body checked
 * against the spec -> operation -> response checked against the spec -> recorded in the request log.
 */
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import type { AddressInfo } from 'net';
import { routeCheckDialer, type CallDialer } from './call-dialer';
import { CallControl, type CallRecord } from './calls';
import { registerControlRoutes } from './control';
import { TelnyxApiError, badRequest, faultError, notFound, unauthorized } from './errors';
import { FaultInjector, type ActiveFault, type FaultSpec } from './faults';
import type { AvailableNumber, InventoryOptions } from './inventory';
import {
  declaresStatus,
  findTelnyxOperation,
  loadTelnyxSpec,
  parseTelnyxQuery,
  requestBodyViolations,
  telnyxPathExists,
  validateTelnyxErrorEnvelope,
  validateTelnyxResponse,
  validateTelnyxSchema,
  type TelnyxOperationMatch,
} from './openapi';
import { RequestLog, type RecordedRequest, type SpecFailure } from './request-log';
import { telnyxOperations } from './router';
import {
  TelnyxState,
  type ExpireHoldsFilter,
  type FqdnConnectionRecord,
  type FqdnConnectionSeed,
  type FqdnRecord,
  type FqdnSeed,
  type NumberOrderRecord,
  type NumberReservationRecord,
  type PhoneNumberRecord,
  type PhoneNumberSeed,
  type TexmlApplicationRecord,
  type TexmlApplicationSeed,
} from './state';
import type { WebhookDelivery } from './webhooks';
import { WebhookSender } from './webhooks';

export type { CallDialer, DialHandle, DialRequest, DialRoute, DialState } from './call-dialer';
export type { FaultSpec, ActiveFault } from './faults';
export type { RecordedRequest, SpecFailure } from './request-log';
export type { PhoneNumberSeed, FqdnConnectionSeed, FqdnSeed, TexmlApplicationSeed, ExpireHoldsFilter } from './state';
export { NUMBER_HOLD_MS } from './state';
export type { TexmlAnswer } from './texml';
export { LIVEKIT_INBOUND_CONNECTION, LIVEKIT_INBOUND_FQDN } from './state';

export const DEFAULT_STANDIN_API_KEY = 'KEYsandbox';

export interface TelnyxStandInOptions {
  /** Loopback port; default 0 (a free one). The sandbox uses SANDBOX_PORTS.telnyx. */
  port?: number;
  /** Bearer token every /v2 call must carry; default `KEYsandbox`. */
  apiKey?: string;
  /** Numbers for sale; default: a few generated per searched area code, random seed per instance. */
  inventory?: InventoryOptions;
  /** GETs of a number order before it turns `success` (0: it is `success` at once). Default 1. */
  orderCompletesAfterPolls?: number;
  /** Places the far leg of POST /calls; default `routeCheckDialer` (route known: answered; else `not_found`). */
  dialer?: CallDialer;
  /** Check every response against the spec before sending it (mismatch: 500 + recorded). Default true. */
  validateResponses?: boolean;
  /** FQDN connections of the account; default "LiveKit Inbound v2" (2925216093662349036, TCP). */
  connections?: FqdnConnectionSeed[];
  /** FQDNs of those connections; default the LiveKit one when `connections` is not given, else none. */
  fqdns?: FqdnSeed[];
  /** Where call webhooks go when a dial names no `webhook_url` (the Call Control app's webhook URL). Loopback only. */
  callWebhookUrl?: string;
  /** TeXML applications of the account (each may give its `id`); default none. */
  texmlApplications?: TexmlApplicationSeed[];
  /** The time number reservations are made, extended and lapse by (30 minutes); default the wall clock. */
  clock?: () => Date;
}

/** The account as it stands, for tests to inspect (live objects: read, do not mutate). */
export interface TelnyxStandInState {
  available: Map<string, AvailableNumber[]>;
  sold: Map<string, string>;
  phoneNumbers: Map<string, PhoneNumberRecord>;
  numberOrders: Map<string, NumberOrderRecord>;
  /** Holds on numbers for sale; one whose `expired_at` has passed holds nothing any more. */
  numberReservations: Map<string, NumberReservationRecord>;
  fqdnConnections: Map<string, FqdnConnectionRecord>;
  fqdns: Map<string, FqdnRecord>;
  texmlApplications: Map<string, TexmlApplicationRecord>;
  /** Calls; one to a number on a TeXML application carries what the application answered in `texml`. */
  calls: Map<string, CallRecord>;
  webhooks: WebhookDelivery[];
  faults: ActiveFault[];
  specFailures: SpecFailure[];
  /** Seed of the generated inventory (pass it back as `inventory.seed` to get the same numbers). */
  inventorySeed: string;
}

export interface TelnyxStandIn {
  /** Base URL including `/v2`, e.g. `http://127.0.0.1:4010/v2`: what the SDK takes as `baseURL`. */
  url: string;
  port: number;
  apiKey: string;
  /** Base64 Ed25519 public key that signs call webhooks (the SDK's `publicKey`). */
  webhookPublicKey: string;
  requests: RecordedRequest[];
  /** Requests with this method (`*` for any) under the path prefix (with or without `/v2`). */
  countRequests(method: string, pathPrefix: string): number;
  setLatency(ms: number): void;
  injectFaults(spec: FaultSpec): ActiveFault;
  clearFaults(): void;
  state: TelnyxStandInState;
  seedPhoneNumber(seed: PhoneNumberSeed): PhoneNumberRecord;
  /** Puts a TeXML application into the account, with the given `id` if any. */
  seedTexmlApplication(seed: TexmlApplicationSeed): TexmlApplicationRecord;
  /** Ends holds now, as if their 30 minutes had passed (all, or one reservation's, or one number's). */
  expireNumberReservations(filter?: ExpireHoldsFilter): NumberReservationRecord[];
  /** Another Telnyx customer buys a number for sale; refused while the number is on hold. */
  takeNumber(phoneNumber: string): void;
  /** Concurrent outbound calls the account allows (undefined: no limit); resets the peak count. */
  setChannelLimit(limit: number | undefined): void;
  /** The most calls live at once since the limit was last set. */
  peakConcurrentCalls(): number;
  /** Resolves once every call webhook queued so far has been delivered (or failed). */
  webhooksSettled(): Promise<void>;
  close(): Promise<void>;
}

const JSON_TYPE = 'application/json';

function rawQuery(url: string): Record<string, string> {
  const search = url.includes('?') ? url.slice(url.indexOf('?') + 1) : '';
  return Object.fromEntries(new URLSearchParams(search));
}

/**
 * Puts a TeXML application into the account after checking it (less its `id`) against the spec's create request,
 * so an application given by a test or the control route reads back as Telnyx would return it.
 */
function addCheckedTexmlApplication(state: TelnyxState, seed: TexmlApplicationSeed): TexmlApplicationRecord {
  const { id: _id, ...fields } = seed;
  const violations = validateTelnyxSchema('CreateTexmlApplicationRequest', fields);
  if (violations.length) throw new Error(`TeXML application: ${violations.join('; ')}`);
  return state.addTexmlApplication(seed);
}

function mapsToObject<V>(map: Map<string, V>): Record<string, V> {
  return Object.fromEntries(map);
}

export async function startTelnyxStandIn(opts: TelnyxStandInOptions = {}): Promise<TelnyxStandIn> {
  // Parse (or read the cached copy of) the spec before listening, so the first request is not the slow one.
  loadTelnyxSpec();
  const apiKey = opts.apiKey ?? DEFAULT_STANDIN_API_KEY;
  const validateResponses = opts.validateResponses ?? true;
  const log = new RequestLog();
  const faults = new FaultInjector();
  const state = new TelnyxState({
    inventory: opts.inventory,
    orderCompletesAfterPolls: opts.orderCompletesAfterPolls,
    clock: opts.clock,
    connections: opts.connections,
    fqdns: opts.fqdns,
  });
  for (const application of opts.texmlApplications ?? []) addCheckedTexmlApplication(state, application);
  const webhooks = new WebhookSender((what, errors) => log.recordSpecFailure(what, errors));
  const calls = new CallControl(state, opts.dialer ?? routeCheckDialer, webhooks, opts.callWebhookUrl);
  const operations = telnyxOperations(state, calls);

  // Closing drops every connection: a client's kept-alive (or abandoned) socket must not hold the close open.
  const app = Fastify({ logger: false, forceCloseConnections: true });
  // Bodies reach the pipeline as text: JSON errors are then answered in Telnyx's shape like any other bad request.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => done(null, body));

  /** Sends a response after checking it against the spec; a mismatch is recorded and becomes a 500. */
  async function send(
    reply: FastifyReply,
    entry: RecordedRequest,
    match: TelnyxOperationMatch | undefined,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ): Promise<void> {
    let finalStatus = status;
    let finalBody = body;
    if (validateResponses) {
      const strict = match && (status < 400 || declaresStatus(entry.method, entry.path, status));
      const errors = strict
        ? validateTelnyxResponse(entry.method, entry.path, status, body)
        : validateTelnyxErrorEnvelope(body);
      if (errors.length) {
        log.recordSpecFailure(`${entry.method} ${entry.path} -> ${status}`, errors);
        finalStatus = 500;
        finalBody = {
          errors: [{ code: '10007', title: 'Stand-in response broke the Telnyx spec', detail: errors.join('; ') }],
        };
      }
    }
    entry.status = finalStatus;
    log.record(entry);
    await reply
      .code(finalStatus)
      .headers({ 'content-type': JSON_TYPE, ...headers })
      .send(JSON.stringify(finalBody));
  }

  async function handleApiRequest(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const path = request.url.split('?')[0];
    const search = request.url.includes('?') ? request.url.slice(request.url.indexOf('?')) : '';
    const entry: RecordedRequest = {
      method: request.method,
      path,
      query: rawQuery(request.url),
      body: undefined,
      status: 0,
      at: new Date().toISOString(),
    };
    const rawBody = typeof request.body === 'string' && request.body.trim() !== '' ? request.body : undefined;
    let body: unknown;
    let bodyIsJson = true;
    if (rawBody !== undefined) {
      try {
        body = JSON.parse(rawBody);
      } catch {
        bodyIsJson = false;
      }
    }
    entry.body = bodyIsJson ? body : rawBody;
    let match: TelnyxOperationMatch | undefined;
    try {
      await faults.delay();
      if (request.headers.authorization !== `Bearer ${apiKey}`) throw unauthorized();
      match = findTelnyxOperation(request.method, path);
      if (!match) {
        // By default the spec is the trimmed one (sandbox/telnyx/telnyx-openapi.yml): a miss is a route Telnyx
        // lacks or one the stand-in does not serve.
        throw telnyxPathExists(path)
          ? new TelnyxApiError(405, [
              {
                code: '10015',
                title: 'Method not allowed',
                detail: `${request.method} is not an operation of ${path} that the Telnyx stand-in serves`,
              },
            ])
          : notFound(
              `No route ${request.method} ${path} in the Telnyx stand-in ` +
                `(it serves the operations of sandbox/telnyx/telnyx-openapi.yml)`,
            );
      }
      entry.operationId = match.operationId;
      const fault = faults.take(request.method, path);
      const faultHeaders: Record<string, string> =
        fault?.retryAfterSeconds !== undefined ? { 'retry-after': String(fault.retryAfterSeconds) } : {};
      if (fault && !fault.takesEffect) {
        entry.fault = true;
        return await send(reply, entry, match, fault.status, faultError(fault.status).body, faultHeaders);
      }
      if (!bodyIsJson) throw badRequest('The request body is not valid JSON', { pointer: '/' });
      const parsed = parseTelnyxQuery(request.method, path, search);
      if (parsed.violations.length) {
        const first = parsed.violations[0];
        throw badRequest(parsed.violations.map((v) => v.text).join('; '), { parameter: first.field });
      }
      const bodyViolations = requestBodyViolations(request.method, path, body);
      if (bodyViolations.length) {
        throw new TelnyxApiError(
          422,
          bodyViolations.map((v) => ({
            code: '10015',
            title: 'Invalid parameter',
            detail: v.text,
            source: { pointer: v.field },
          })),
        );
      }
      const operation = operations[match.operationId];
      if (!operation) {
        throw new TelnyxApiError(501, [
          {
            code: '10007',
            title: 'Not implemented',
            detail: `the Telnyx stand-in does not serve ${match.operationId} (${request.method} ${match.template})`,
          },
        ]);
      }
      const result = await operation({ pathParams: match.pathParams, query: parsed.query, body });
      if (fault) {
        // The operation happened; only its answer is lost, as when a gateway fails after the backend acted.
        entry.fault = true;
        return await send(reply, entry, match, fault.status, faultError(fault.status).body, faultHeaders);
      }
      return await send(reply, entry, match, result.status, result.body);
    } catch (error) {
      if (error instanceof TelnyxApiError) return await send(reply, entry, match, error.status, error.body);
      const detail = (error as Error).message ?? String(error);
      return await send(reply, entry, match, 500, { errors: [{ code: '10007', title: 'Unexpected error', detail }] });
    }
  }

  app.all('/v2', handleApiRequest);
  app.all('/v2/*', handleApiRequest);

  registerControlRoutes(app, {
    log,
    injectFaults: (spec) => faults.inject(spec),
    clearFaults: () => faults.clear(),
    activeFaults: () => faults.active,
    setLatency: (ms) => faults.setLatency(ms),
    seedPhoneNumber: (seed) => state.seedPhoneNumber(seed),
    seedTexmlApplication: (seed) => addCheckedTexmlApplication(state, seed),
    expireNumberReservations: (filter) => state.expireHolds(filter),
    takeNumber: (phoneNumber) => state.takeNumber(phoneNumber),
    setChannelLimit: (limit) => calls.setChannelLimit(limit),
    snapshot: () => ({
      available: mapsToObject(state.inventory.available),
      sold: mapsToObject(state.inventory.sold),
      phone_numbers: [...state.phoneNumbers.values()],
      number_orders: [...state.numberOrders.values()],
      number_reservations: [...state.numberReservations.values()],
      fqdn_connections: [...state.fqdnConnections.values()],
      fqdns: [...state.fqdns.values()],
      texml_applications: [...state.texmlApplications.values()],
      calls: [...calls.calls.values()],
      channel_limit: calls.channelLimit ?? null,
      peak_concurrent_calls: calls.peakConcurrentCalls,
      webhooks: webhooks.deliveries,
      faults: faults.active,
      latency_ms: faults.latencyMs,
      spec_failures: log.specFailures,
      inventory_seed: state.inventory.seed,
    }),
  });

  app.setNotFoundHandler((request, reply) => {
    void reply
      .code(404)
      .header('content-type', JSON_TYPE)
      .send(
        JSON.stringify({
          errors: [
            {
              code: '10005',
              title: 'Resource not found',
              detail: `No route ${request.method} ${request.url.split('?')[0]}: the Telnyx API lives under /v2`,
            },
          ],
        }),
      );
  });

  await app.listen({ host: '127.0.0.1', port: opts.port ?? 0 });
  const port = (app.server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}/v2`,
    port,
    apiKey,
    webhookPublicKey: webhooks.publicKey,
    requests: log.requests,
    countRequests: (method, pathPrefix) => log.count(method, pathPrefix),
    setLatency: (ms) => faults.setLatency(ms),
    injectFaults: (spec) => faults.inject(spec),
    clearFaults: () => faults.clear(),
    state: {
      available: state.inventory.available,
      sold: state.inventory.sold,
      phoneNumbers: state.phoneNumbers,
      numberOrders: state.numberOrders,
      numberReservations: state.numberReservations,
      fqdnConnections: state.fqdnConnections,
      fqdns: state.fqdns,
      texmlApplications: state.texmlApplications,
      calls: calls.calls,
      webhooks: webhooks.deliveries,
      faults: faults.active,
      specFailures: log.specFailures,
      inventorySeed: state.inventory.seed,
    },
    seedPhoneNumber: (seed) => state.seedPhoneNumber(seed),
    seedTexmlApplication: (seed) => addCheckedTexmlApplication(state, seed),
    expireNumberReservations: (filter) => state.expireHolds(filter),
    takeNumber: (phoneNumber) => state.takeNumber(phoneNumber),
    setChannelLimit: (limit) => calls.setChannelLimit(limit),
    peakConcurrentCalls: () => calls.peakConcurrentCalls,
    webhooksSettled: () => calls.settled(),
    close: async () => {
      faults.releaseDelays();
      await calls.close();
      await app.close();
    },
  };
}
