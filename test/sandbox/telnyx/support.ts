/** Shared by the stand-in's tests: a stand-in with the official SDK pointed at it, and a spec check for bodies. */
import * as http from 'http';
import type { AddressInfo } from 'net';
import Telnyx from 'telnyx';
import type { CallDialer, DialHandle, DialRequest, DialState } from '../../../sandbox/telnyx/call-dialer';
import { validateTelnyxResponse } from '../../../sandbox/telnyx/openapi';
import { startTelnyxStandIn, type TelnyxStandIn, type TelnyxStandInOptions } from '../../../sandbox/telnyx/standin';

export interface StandInWithClient {
  standIn: TelnyxStandIn;
  /** The official SDK, retries off so each call is exactly one request. */
  client: Telnyx;
}

export async function openStandIn(options: TelnyxStandInOptions = {}): Promise<StandInWithClient> {
  const standIn = await startTelnyxStandIn(options);
  const client = new Telnyx({ apiKey: standIn.apiKey, baseURL: standIn.url, maxRetries: 0, timeout: 10000 });
  return { standIn, client };
}

/** Closes the stand-in after asserting it never produced a response or webhook that broke the spec. */
export async function closeChecked(standIn: TelnyxStandIn): Promise<void> {
  try {
    expect(standIn.state.specFailures).toEqual([]);
  } finally {
    await standIn.close();
  }
}

/** Asserts that a body the client received is what the spec says this operation returns for this status. */
export function expectMatchesSpec(method: string, path: string, status: number, body: unknown): void {
  expect(validateTelnyxResponse(method, path, status, body)).toEqual([]);
}

/** The JSON body an SDK list page was built from (the SDK keeps it as a protected field). */
export function pageBody(page: object): unknown {
  return (page as unknown as { body: unknown }).body;
}

/** Raw fetch against the stand-in, for calls the SDK cannot make (malformed requests, the /_standin controls). */
export async function rawRequest(
  url: string,
  init: { method?: string; body?: unknown; apiKey?: string; rawBody?: string } = {},
): Promise<{ status: number; headers: Headers; body: any }> {
  const headers: Record<string, string> = {};
  if (init.apiKey) headers.authorization = `Bearer ${init.apiKey}`;
  let body: string | undefined;
  if (init.rawBody !== undefined || init.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = init.rawBody ?? JSON.stringify(init.body);
  }
  const response = await fetch(url, { method: init.method ?? 'GET', headers, body });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : undefined };
}

/** A dialer the test drives by hand: it records each dial and lets the test answer or end the call. */
export class ScriptedDialer implements CallDialer {
  readonly dials: DialRequest[] = [];
  readonly calls: ScriptedCall[] = [];

  dial(call: DialRequest): DialHandle {
    this.dials.push(call);
    const scripted = new ScriptedCall();
    this.calls.push(scripted);
    return scripted;
  }
}

export class ScriptedCall implements DialHandle {
  private current: DialState = 'ringing';
  private cause: string | undefined;
  hungUpByUs = false;

  state(): DialState {
    return this.current;
  }
  hangupCause(): string {
    return this.cause ?? 'unspecified';
  }
  async hangup(): Promise<void> {
    this.hungUpByUs = true;
    this.current = 'ended';
    this.cause ??= 'normal_clearing';
  }
  answer(): void {
    this.current = 'answered';
  }
  end(cause: string): void {
    this.cause = cause;
    this.current = 'ended';
  }
}

export interface ReceivedWebhook {
  body: string;
  headers: http.IncomingHttpHeaders;
}

/** A loopback HTTP server that keeps every webhook it receives, raw, for signature checks. */
export async function startWebhookReceiver(): Promise<{
  url: string;
  received: ReceivedWebhook[];
  close(): Promise<void>;
}> {
  const received: ReceivedWebhook[] = [];
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push({ body: Buffer.concat(chunks).toString('utf8'), headers: request.headers });
      response.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/telnyx/webhooks`,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
