/**
 * The sandbox's real LiveKit SIP bridge: livekit-sip (github.com/livekit/sip, built by scripts/tools.sh) on
 * loopback. It is what LiveKit Cloud's SIP endpoint is in production: it takes the INVITE Telnyx sends, asks
 * livekit-server (over Redis, psrpc) which trunk and dispatch rule match, and joins the caller to the room as a
 * SIP participant. With it a test ring crosses the whole call path instead of stopping at the admin API.
 */
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';
import { stringify } from 'yaml';
import { ensureLivekitServer, SANDBOX_LIVEKIT } from './livekit';
import { SANDBOX_PORTS } from './ports';
import { SANDBOX_DIR, logFile, startDaemon, stopDaemon, toolPath } from './processes';

export const LIVEKIT_SIP_DAEMON = 'livekit-sip';
export const LIVEKIT_SIP_CONFIG_FILE = path.join(SANDBOX_DIR, 'livekit-sip.yaml');

/** RTP (the caller's audio) on loopback; a hundred ports carry fifty calls, far more than a test places. */
export const LIVEKIT_SIP_RTP_PORT_RANGE = { start: 10000, end: 10100 } as const;

/** Where the sandbox's "LiveKit SIP endpoint" answers: what a Telnyx FQDN connection points at in production. */
export interface SipEndpoint {
  host: string;
  port: number;
  transport: 'tcp';
}

export const SANDBOX_SIP_ENDPOINT: SipEndpoint = { host: '127.0.0.1', port: SANDBOX_PORTS.sip, transport: 'tcp' };

const READY_TIMEOUT_MS = 60000;

/**
 * The bridge's config, keys as in github.com/livekit/sip v1.8.0 pkg/config/config.go. TCP needs no switch: the
 * bridge always listens on both UDP and TCP at sip_port (the `tcp` block only sets the port range of OUTBOUND
 * TCP dials, which the sandbox never makes). No health/prometheus port: those bind every interface.
 */
export function livekitSipConfig(): Record<string, unknown> {
  return {
    api_key: SANDBOX_LIVEKIT.apiKey,
    api_secret: SANDBOX_LIVEKIT.apiSecret,
    ws_url: `ws://127.0.0.1:${SANDBOX_PORTS.livekit}`,
    redis: { address: `127.0.0.1:${SANDBOX_PORTS.redis}` },
    sip_port: SANDBOX_SIP_ENDPOINT.port,
    listen_ip: SANDBOX_SIP_ENDPOINT.host,
    rtp_port: `${LIVEKIT_SIP_RTP_PORT_RANGE.start}-${LIVEKIT_SIP_RTP_PORT_RANGE.end}`,
    // Announce loopback in SDP and Contact; never ask a STUN server for a public address (no internet here).
    use_external_ip: false,
    nat_1_to_1_ip: '127.0.0.1',
    logging: { level: 'info' },
  };
}

/**
 * Sends one SIP OPTIONS over TCP and resolves with the status line of the answer. An open port only says a
 * socket listens; a `200` to OPTIONS says the bridge's SIP stack is up and handling requests.
 */
export function sipOptionsPing(endpoint: SipEndpoint = SANDBOX_SIP_ENDPOINT, timeoutMs = 2000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: endpoint.host, port: endpoint.port });
    const tag = Math.random().toString(36).slice(2, 10);
    let answer = '';
    const done = (error?: Error) => {
      socket.destroy();
      clearTimeout(timer);
      if (error) reject(error);
      else resolve(answer.split('\r\n')[0]);
    };
    const timer = setTimeout(
      () => done(new Error(`no answer to SIP OPTIONS from ${endpoint.host}:${endpoint.port} within ${timeoutMs} ms`)),
      timeoutMs,
    );
    socket.once('error', (error) => done(error));
    socket.once('connect', () => {
      const { address, port } = socket.address() as net.AddressInfo;
      socket.write(
        [
          `OPTIONS sip:ping@${endpoint.host}:${endpoint.port};transport=tcp SIP/2.0`,
          `Via: SIP/2.0/TCP ${address}:${port};branch=z9hG4bK-${tag}`,
          `From: <sip:probe@${address}>;tag=${tag}`,
          `To: <sip:ping@${endpoint.host}>`,
          `Call-ID: probe-${tag}@${address}`,
          'CSeq: 1 OPTIONS',
          'Max-Forwards: 70',
          'Content-Length: 0',
          '',
          '',
        ].join('\r\n'),
      );
    });
    socket.on('data', (chunk) => {
      answer += chunk.toString('latin1');
      if (answer.includes('\r\n\r\n')) done();
    });
  });
}

async function waitForSipAnswer(timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const status = await sipOptionsPing();
      if (/^SIP\/2\.0 200 /.test(status)) return;
      last = new Error(`answered "${status}"`);
    } catch (error) {
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(
    `livekit-sip on ${SANDBOX_SIP_ENDPOINT.host}:${SANDBOX_SIP_ENDPOINT.port} did not answer SIP OPTIONS with 200 ` +
      `within ${timeoutMs} ms (see ${logFile(LIVEKIT_SIP_DAEMON)}): ${String(last)}`,
  );
}

/**
 * Starts Redis, livekit-server and the SIP bridge unless they run, then waits until the bridge answers SIP.
 * The bridge finds livekit-server through Redis (psrpc), so it must share Redis and the API keys with it.
 */
export async function ensureLivekitSip(): Promise<SipEndpoint> {
  await ensureLivekitServer();
  const command = toolPath('livekit-sip');
  await startDaemon({
    name: LIVEKIT_SIP_DAEMON,
    command,
    args: ['--config', LIVEKIT_SIP_CONFIG_FILE],
    port: SANDBOX_SIP_ENDPOINT.port,
    readyTimeoutMs: READY_TIMEOUT_MS,
    prepare: () => {
      fs.mkdirSync(SANDBOX_DIR, { recursive: true });
      fs.writeFileSync(LIVEKIT_SIP_CONFIG_FILE, stringify(livekitSipConfig()));
    },
  });
  await waitForSipAnswer(READY_TIMEOUT_MS);
  return SANDBOX_SIP_ENDPOINT;
}

/** Stops the bridge (SIGTERM lets it end its calls; SIGKILL after the grace period). */
export function stopLivekitSip(): Promise<boolean> {
  return stopDaemon(LIVEKIT_SIP_DAEMON);
}
