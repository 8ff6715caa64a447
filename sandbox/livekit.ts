/**
 * The sandbox's real LiveKit: Debian's redis-server and the open-source livekit-server built by scripts/tools.sh,
 * both on loopback. The SIP admin API (trunks, dispatch rules) lives in livekit-server itself but stores
 * everything in Redis: without Redis every SIP admin call answers 500 "sip not connected (redis required)".
 */
import * as fs from 'fs';
import * as path from 'path';
import { stringify } from 'yaml';
import { LiveKitClient } from '../vendors/livekit-client';
import type { LiveKitSettings } from '../vendors/vendor-settings';
import { SANDBOX_LIVEKIT_KEYS, SANDBOX_PORTS } from './ports';
import { SANDBOX_DIR, logFile, runningPid, startDaemon, stopDaemon, toolPath } from './processes';

/** Connection info of the sandbox livekit-server, in the shape every LiveKit client takes. */
export const SANDBOX_LIVEKIT: LiveKitSettings = {
  url: `http://127.0.0.1:${SANDBOX_PORTS.livekit}`,
  apiKey: SANDBOX_LIVEKIT_KEYS.apiKey,
  apiSecret: SANDBOX_LIVEKIT_KEYS.apiSecret,
};

/** WebRTC media over UDP: a handful of ports is plenty for test calls and keeps the footprint small. */
export const LIVEKIT_UDP_PORT_RANGE = { start: 50000, end: 50100 } as const;

export const LIVEKIT_CONFIG_FILE = path.join(SANDBOX_DIR, 'livekit.yaml');

/** Daemon names under .sandbox/ (logs/<name>.log, run/<name>.pid): stop them with stopDaemon(name). */
export const LIVEKIT_DAEMONS = { redis: 'redis', livekitServer: 'livekit-server' } as const;

const READY_TIMEOUT_MS = 60000;

/** Redis for livekit-server's SIP store: in-memory only, so a sandbox restart starts from nothing. */
export async function ensureRedis(): Promise<'started' | 'running'> {
  const command = toolPath('redis-server');
  return startDaemon({
    name: LIVEKIT_DAEMONS.redis,
    command,
    // Foreground (no --daemonize) so the pid startDaemon records is redis itself.
    args: ['--port', String(SANDBOX_PORTS.redis), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    port: SANDBOX_PORTS.redis,
  });
}

/** The livekit-server config: loopback only, fixed ports from sandbox/ports.ts, the dev keys, the sandbox Redis. */
export function livekitServerConfig(): Record<string, unknown> {
  return {
    port: SANDBOX_PORTS.livekit,
    bind_addresses: ['127.0.0.1'],
    keys: { [SANDBOX_LIVEKIT.apiKey]: SANDBOX_LIVEKIT.apiSecret },
    redis: { address: `127.0.0.1:${SANDBOX_PORTS.redis}` },
    rtc: {
      tcp_port: SANDBOX_PORTS.livekitRtcTcp,
      port_range_start: LIVEKIT_UDP_PORT_RANGE.start,
      port_range_end: LIVEKIT_UDP_PORT_RANGE.end,
      use_external_ip: false,
      // A set node IP stops livekit-server from adding public STUN servers to ICE (traffic must stay on loopback),
      // and only loopback candidates are gathered.
      node_ip: '127.0.0.1',
      ips: { includes: ['127.0.0.1/32'] },
      // The machine may have no interface but loopback; without this the SIP bridge finds no ICE candidate.
      enable_loopback_candidate: true,
    },
    logging: { level: 'info' },
  };
}

/**
 * Starts Redis and livekit-server unless they run, then waits until the SIP admin API answers a real call
 * (the HTTP port opens before the SIP store is connected). Returns the connection info.
 */
export async function ensureLivekitServer(): Promise<LiveKitSettings> {
  await ensureRedis();
  const command = toolPath('livekit-server');
  await startDaemon({
    name: LIVEKIT_DAEMONS.livekitServer,
    command,
    args: ['--dev', '--bind', '127.0.0.1', '--config', LIVEKIT_CONFIG_FILE],
    port: SANDBOX_PORTS.livekit,
    readyTimeoutMs: READY_TIMEOUT_MS,
    prepare: async () => {
      const config = stringify(livekitServerConfig());
      const previous = fs.existsSync(LIVEKIT_CONFIG_FILE) ? fs.readFileSync(LIVEKIT_CONFIG_FILE, 'utf8') : undefined;
      // A server of ours started from an older config would keep it: restart it so the sandbox is what the code says.
      if (previous !== config && runningPid(LIVEKIT_DAEMONS.livekitServer))
        await stopDaemon(LIVEKIT_DAEMONS.livekitServer);
      fs.mkdirSync(SANDBOX_DIR, { recursive: true });
      fs.writeFileSync(LIVEKIT_CONFIG_FILE, config);
    },
  });
  await waitForSipAdminApi(SANDBOX_LIVEKIT, READY_TIMEOUT_MS);
  return SANDBOX_LIVEKIT;
}

/** Polls ListSIPInboundTrunk until it succeeds; the last error (e.g. "sip not connected") is in the failure. */
export async function waitForSipAdminApi(settings: LiveKitSettings, timeoutMs: number): Promise<void> {
  const client = new LiveKitClient(settings, { attempts: 1, baseDelayMs: 0, maxDelayMs: 0 });
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      await client.listInboundTrunks();
      return;
    } catch (error) {
      lastError = error;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  throw new Error(
    `livekit-server SIP admin API at ${settings.url} did not answer within ${timeoutMs} ms ` +
      `(is redis on 127.0.0.1:${SANDBOX_PORTS.redis} up? ` +
      `see ${logFile(LIVEKIT_DAEMONS.livekitServer)}): ${String(lastError)}`,
  );
}
