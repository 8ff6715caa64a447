/**
 * Shared by the tests that run against the sandbox's real livekit-server: start it, point the provider settings
 * at it, change LiveKit by hand, remove what a test created, and put a scripted server in front of it.
 */
import * as http from 'http';
import type { AddressInfo } from 'net';
import { SipClient } from 'livekit-server-sdk';
import { LiveKitClient } from '../../vendors/livekit-client';
import { resetConfiguredSettings, settingsEnvironment, type LiveKitSettings } from '../../vendors/vendor-settings';
import { VendorError } from '../../vendors/vendor-request';
import { ensureLivekitServer } from '../../sandbox/livekit';

/** Starts (or finds) Redis + livekit-server and points LIVEKIT_* at it, as a stack's config would. */
export async function useSandboxLivekit(): Promise<LiveKitSettings> {
  const settings = await ensureLivekitServer();
  Object.assign(process.env, settingsEnvironment({ livekit: settings }));
  resetConfiguredSettings();
  return settings;
}

/** The raw SDK: stands in for a person changing LiveKit by hand (console, lk CLI), outside our client's rules. */
export function byHand(settings: LiveKitSettings): SipClient {
  return new SipClient(settings.url, settings.apiKey, settings.apiSecret);
}

/** Remembers what a test created at LiveKit and deletes it afterwards (rules first: they point at trunks). */
export class CreatedObjects {
  private readonly trunks = new Set<string>();
  private readonly rules = new Set<string>();

  trunk(id: string): string {
    this.trunks.add(id);
    return id;
  }

  rule(id: string): string {
    this.rules.add(id);
    return id;
  }

  async removeAll(settings: LiveKitSettings): Promise<void> {
    const client = new LiveKitClient(settings);
    for (const id of this.rules) {
      await client.deleteDispatchRule(id).catch((error) => {
        if (!(error instanceof VendorError && error.notFound)) throw error;
      });
    }
    for (const id of this.trunks) await client.deleteTrunk(id);
    this.rules.clear();
    this.trunks.clear();
  }
}

export interface ScriptedServer {
  url: string;
  /** Paths of every request received, in order. */
  requests: string[];
  close(): Promise<void>;
}

export type Answer = { status: number; body: unknown } | 'forward' | 'forward-then-fail';

/**
 * A local HTTP server in front of the real livekit-server: `answer` decides, per request, to answer itself (e.g. a
 * Twirp 503 the way LiveKit sends errors), to forward to the real server, or to forward and then lose the answer
 * (the client sees a 502 although LiveKit did the work).
 */
export async function scriptedServer(
  target: string,
  answer: (path: string, n: number) => Answer,
): Promise<ScriptedServer> {
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', async () => {
      const path = req.url ?? '';
      requests.push(path);
      const decision = answer(path, requests.filter((p) => p === path).length);
      if (decision !== 'forward' && decision !== 'forward-then-fail') {
        res.writeHead(decision.status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(decision.body));
        return;
      }
      const upstream = await fetch(new URL(path, target), {
        method: req.method,
        headers: {
          authorization: req.headers.authorization ?? '',
          'content-type': req.headers['content-type'] ?? 'application/json',
        },
        body: Buffer.concat(chunks),
      });
      const text = await upstream.text();
      if (decision === 'forward-then-fail') {
        res.writeHead(502, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ code: 'unavailable', msg: 'bad gateway (the upstream answer was lost)' }));
        return;
      }
      res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' });
      res.end(text);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
