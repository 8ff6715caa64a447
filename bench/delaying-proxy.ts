/**
 * A loopback HTTP proxy that stands between the providers and one vendor (LiveKit, Supabase's PostgREST), adds a
 * fixed latency to every request (what a vendor across the internet costs) and counts the calls by operation.
 * The Telnyx stand-in has its own latency and request log; this gives LiveKit and Supabase the same two knobs.
 */
import * as http from 'http';
import type { AddressInfo } from 'net';
import { pipeline } from 'stream';

export interface ProxiedCall {
  /** e.g. `ListSIPInboundTrunk` for LiveKit's twirp RPCs, `GET /rest/v1/church_voice_agents` for PostgREST. */
  operation: string;
  status: number;
  at: number;
}

export interface DelayingProxy {
  /** Base URL of the proxy: use it in place of the vendor's URL. */
  url: string;
  calls: ProxiedCall[];
  setLatency(ms: number): void;
  close(): Promise<void>;
}

/** Names a request for the call counts: twirp calls by RPC, everything else by method and path (ids as :id). */
export function operationOf(method: string, url: string): string {
  const path = url.split('?')[0];
  const twirp = /^\/twirp\/[^/]+\/([^/]+)$/.exec(path);
  if (twirp) return twirp[1];
  return `${method} ${path.replace(/\/\d+(?=\/|$)/g, '/:id')}`;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function startDelayingProxy(options: { target: string; latencyMs: number }): Promise<DelayingProxy> {
  const target = new URL(options.target);
  let latencyMs = options.latencyMs;
  const calls: ProxiedCall[] = [];
  // Kept-alive sockets to the vendor, so the proxy adds the injected latency and not a TCP handshake per call.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

  const server = http.createServer((request, response) => {
    const call: ProxiedCall = {
      operation: operationOf(request.method ?? 'GET', request.url ?? '/'),
      status: 0,
      at: Date.now(),
    };
    calls.push(call);
    const forward = async () => {
      if (latencyMs > 0) await sleep(latencyMs);
      const upstream = http.request(
        {
          host: target.hostname,
          port: target.port,
          method: request.method,
          path: request.url,
          headers: { ...request.headers, host: target.host },
          agent,
        },
        (answer) => {
          call.status = answer.statusCode ?? 0;
          response.writeHead(answer.statusCode ?? 502, answer.headers);
          pipeline(answer, response, () => undefined);
        },
      );
      upstream.on('error', (error) => {
        call.status = 502;
        if (!response.headersSent) response.writeHead(502, { 'content-type': 'text/plain' });
        response.end(`bench proxy: ${options.target} failed: ${error.message}`);
      });
      pipeline(request, upstream, () => undefined);
    };
    void forward();
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    setLatency: (ms) => {
      latencyMs = ms;
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
}
