/**
 * The sandbox's far leg of a Telnyx call: a real SIP INVITE sent by sipp (Debian `sip-tester`) to the SIP bridge,
 * as Telnyx sends one through a number's FQDN connection. The Telnyx stand-in calls `dial()` for `POST /v2/calls`
 * and polls the handle; a hangup while ringing sends CANCEL, once answered BYE.
 *
 * How sipp is driven: sandbox/sipp/test-ring-uac.xml runs as a 3PCC "controller A" (`-3pcc host:port`). sipp
 * connects to a TCP socket this module listens on, reports each step there (`Ring-Event: ringing|answered|failed|
 * cancelled|hungup|remote_hangup`, with the SIP status line) and reads our one command, `Ring-Command: hangup`.
 * sipp frames these twin messages with an ESC byte (0x1b). Every call is bounded: our hangup after `maxCallMs`,
 * sipp's own `-timeout` a little later, and a kill after that.
 */
import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { SANDBOX_SIP_ENDPOINT, type SipEndpoint } from './livekit-sip';
import { REPO_ROOT, toolPath } from './processes';
import type {
  CallDialer,
  DialHandle,
  DialRequest,
  DialRoute,
  DialState,
  TelnyxHangupCause,
} from './telnyx/call-dialer';

export const TEST_RING_SCENARIO = path.join(REPO_ROOT, 'sandbox', 'sipp', 'test-ring-uac.xml');

/** sipp's end-of-message byte on the twin (3PCC) socket. */
const TWIN_DELIMITER = '\x1b';
/** Longest a call may live: Telnyx's largest ring timeout (600 s) and then some. */
const DEFAULT_MAX_CALL_MS = 11 * 60_000;
const DEFAULT_HANGUP_GRACE_MS = 5000;
/** How long sipp gets to connect its twin socket before the call counts as failed to start. */
const TWIN_CONNECT_TIMEOUT_MS = 10_000;
const STDERR_TAIL_CHARS = 2000;

export interface SippDialerOptions {
  /** Where INVITEs go unless the number's connection names a loopback FQDN; default the sandbox's livekit-sip. */
  endpoint?: SipEndpoint;
  scenarioFile?: string;
  /** Hard bound on one call, ringing or answered; default 11 minutes. */
  maxCallMs?: number;
  /** How long a hangup waits for sipp to finish its CANCEL/BYE exchange before killing it. */
  hangupGraceMs?: number;
  /** Keep each call's SIP message trace in this directory (`<call number>.log`); default: traces are discarded. */
  traceDir?: string;
  /** Default: `sipp` from the tools folder or PATH (Debian package sip-tester, installed by scripts/tools.sh). */
  sippPath?: string;
}

/** What Telnyx reports when the far end answers a call with `code`. */
export function hangupCauseForSipStatus(code: number, reason = ''): { cause: TelnyxHangupCause; detail: string } {
  const line = `SIP ${code}${reason ? ` ${reason}` : ''}`;
  switch (code) {
    case 401:
    case 407:
      return { cause: 'call_rejected', detail: `trunk requires auth: ${line} (Telnyx sends no credentials)` };
    case 403:
    case 603:
      return { cause: 'call_rejected', detail: line };
    case 404:
      return { cause: 'not_found', detail: `no trunk found: ${line}` };
    case 486:
    case 600:
      return { cause: 'user_busy', detail: line };
    case 480:
      return { cause: 'no_answer', detail: line };
    case 408:
      return { cause: 'timeout', detail: line };
    case 487:
      return { cause: 'originator_cancel', detail: line };
    default:
      return { cause: 'unspecified', detail: line };
  }
}

/**
 * The called number as Telnyx writes it in the INVITE's Request-URI, per the connection's `dnis_number_format`.
 * LiveKit matches it against a trunk's numbers exactly, so only `+e164` reaches a trunk listing `+1...`.
 */
export function calledNumberAsSent(e164: string, dnisNumberFormat: string): string {
  switch (dnisNumberFormat) {
    case 'e164':
      return e164.replace(/^\+/, '');
    case 'national':
      return e164.startsWith('+1') ? e164.slice(2) : e164.replace(/^\+/, '');
    default:
      return e164;
  }
}

const SIPP_TRANSPORT: Record<string, string> = { TCP: 't1', UDP: 'u1', TLS: 'l1' };

/**
 * Where the INVITE goes: the connection's first FQDN when it is a loopback address (the sandbox points its
 * connection at the local bridge), else the dialer's endpoint. A real FQDN (LiveKit Cloud) is never dialed:
 * nothing may leave the machine, the local bridge stands in for it.
 */
export function sipTarget(route: DialRoute, fallback: SipEndpoint): SipEndpoint {
  const local = route.targets.find((t) => net.isIPv4(t.fqdn) && t.fqdn.startsWith('127.'));
  return local ? { host: local.fqdn, port: local.port, transport: fallback.transport } : fallback;
}

type TwinEvent = { event: string; statusCode?: number; statusReason?: string };

function parseTwinMessage(text: string): TwinEvent & { callId?: string } {
  const header = (name: string) => new RegExp(`^${name}:\\s*(.*)$`, 'mi').exec(text)?.[1]?.trim();
  const status = /^(\d{3})\s*(.*)$/.exec(header('Ring-Status') ?? '');
  return {
    callId: header('Call-ID'),
    event: header('Ring-Event') ?? '',
    statusCode: status ? Number(status[1]) : undefined,
    statusReason: status ? status[2] : undefined,
  };
}

/** One call: one sipp process and the twin socket it reports on. */
class SippCall implements DialHandle {
  private current: DialState = 'ringing';
  private cause?: TelnyxHangupCause;
  private why?: string;
  private child?: ChildProcess;
  private twin?: net.Socket;
  private server?: net.Server;
  private sipCallId?: string;
  private stderrTail = '';
  private hangupRequested = false;
  private cleanedUp = false;
  private readonly workDir: string;
  private readonly timers: NodeJS.Timeout[] = [];
  readonly exited: Promise<void>;
  private markExited!: () => void;
  private readonly twinReady: Promise<void>;
  private markTwinReady!: () => void;

  constructor(
    private readonly request: DialRequest,
    private readonly options: Required<Omit<SippDialerOptions, 'traceDir'>> & { traceDir?: string },
  ) {
    this.exited = new Promise((resolve) => (this.markExited = resolve));
    this.twinReady = new Promise((resolve) => (this.markTwinReady = resolve));
    this.workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'churchwise-sipp-'));
    this.start().catch((error) => {
      this.finish('unspecified', `could not start sipp: ${String(error)}`);
      this.onExit(null, null);
    });
  }

  state(): DialState {
    return this.current;
  }

  /** Meaningful once `state()` is `ended`. */
  hangupCause(): string {
    return this.cause ?? 'unspecified';
  }

  /** Why the call ended, in words: the SIP status line or what went wrong. */
  detail(): string | undefined {
    return this.why;
  }

  /** True while the sipp process of this call runs. */
  running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  private traceFile(): string {
    // Named after the call's own temp folder: unique even when several dialers share one traceDir.
    return this.options.traceDir
      ? path.join(this.options.traceDir, `${path.basename(this.workDir)}.log`)
      : path.join(this.workDir, 'messages.log');
  }

  private async start(): Promise<void> {
    const route = this.request.route;
    if (!route) {
      this.finish(
        'not_found',
        `${this.request.to} routes nowhere: not an active number on an FQDN connection with an FQDN`,
      );
      this.onExit(null, null);
      return;
    }
    const transport = SIPP_TRANSPORT[route.transport];
    if (!transport) {
      this.finish('unspecified', `unknown transport ${route.transport} on connection ${route.fqdnConnectionId}`);
      this.onExit(null, null);
      return;
    }
    this.server = net.createServer((socket) => this.attachTwin(socket));
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(0, '127.0.0.1', () => resolve());
    });
    const twinPort = (this.server.address() as net.AddressInfo).port;
    const endpoint = sipTarget(route, this.options.endpoint);
    if (this.options.traceDir) fs.mkdirSync(this.options.traceDir, { recursive: true });
    const args = [
      '-sf',
      this.options.scenarioFile,
      '-s',
      calledNumberAsSent(this.request.to, route.dnisNumberFormat),
      '-key',
      'caller',
      this.request.from,
      '-t',
      transport,
      '-i',
      '127.0.0.1',
      '-m',
      '1',
      '-3pcc',
      `127.0.0.1:${twinPort}`,
      '-nostdin',
      // sipp's own bound, a little after ours: if this process dies, sipp still ends.
      '-timeout',
      `${Math.ceil(this.options.maxCallMs / 1000) + 10}s`,
      '-timeout_error',
      '-trace_msg',
      '-message_file',
      this.traceFile(),
      '-trace_err',
      '-error_file',
      path.join(this.workDir, 'errors.log'),
      `${endpoint.host}:${endpoint.port}`,
    ];
    const child = spawn(this.options.sippPath, args, { cwd: this.workDir, stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    child.stderr!.on('data', (chunk: Buffer) => {
      this.stderrTail = (this.stderrTail + chunk.toString()).slice(-STDERR_TAIL_CHARS);
    });
    child.once('error', (error) => {
      this.finish('unspecified', `could not run sipp (${this.options.sippPath}): ${error.message}`);
      // A process that never started emits no 'exit'.
      if (child.pid === undefined) this.onExit(null, null);
    });
    child.once('exit', (code, signal) => this.onExit(code, signal));
    this.timers.push(
      setTimeout(() => {
        if (!this.twin) this.kill(`sipp did not connect its control socket within ${TWIN_CONNECT_TIMEOUT_MS} ms`);
      }, TWIN_CONNECT_TIMEOUT_MS),
      setTimeout(() => void this.hangup(), this.options.maxCallMs),
      setTimeout(
        () => this.kill(`call still up ${this.options.maxCallMs + 20_000} ms after it was placed`),
        this.options.maxCallMs + 20_000,
      ),
    );
  }

  private attachTwin(socket: net.Socket): void {
    this.twin = socket;
    this.server?.close();
    let buffer = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      for (let end = buffer.indexOf(TWIN_DELIMITER); end >= 0; end = buffer.indexOf(TWIN_DELIMITER)) {
        this.onTwinMessage(parseTwinMessage(buffer.slice(0, end)));
        buffer = buffer.slice(end + 1);
      }
    });
    socket.on('error', () => undefined);
  }

  private onTwinMessage(message: TwinEvent & { callId?: string }): void {
    if (message.callId) this.sipCallId = message.callId;
    const status =
      message.statusCode !== undefined ? hangupCauseForSipStatus(message.statusCode, message.statusReason) : undefined;
    switch (message.event) {
      case 'dialing':
        this.markTwinReady();
        break;
      case 'ringing':
        break;
      case 'answered':
        if (this.current === 'ringing') this.current = 'answered';
        break;
      case 'failed':
        this.finish(status?.cause ?? 'unspecified', status?.detail ?? 'the call failed');
        break;
      case 'cancelled':
        this.finish('originator_cancel', `cancelled by the caller (${status?.detail ?? 'no final response'})`);
        break;
      case 'hungup':
        this.finish('normal_clearing', 'hung up by the caller (BYE)');
        break;
      case 'remote_hangup':
        this.finish('normal_clearing', 'hung up by the called side (BYE)');
        break;
      default:
        break;
    }
  }

  private finish(cause: TelnyxHangupCause, detail: string): void {
    if (this.current === 'ended') return;
    this.current = 'ended';
    this.cause = cause;
    this.why = detail;
  }

  /** Once per call: when sipp exited, or when no sipp was started at all. */
  private onExit(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.cleanedUp) return;
    this.cleanedUp = true;
    if (this.current !== 'ended') {
      const errors = this.readErrors();
      this.finish(
        'unspecified',
        `sipp ended (${signal ?? `exit code ${code}`}) ` +
          `before the call did: ${errors || this.stderrTail.trim() || 'no output'}`,
      );
    }
    for (const timer of this.timers) clearTimeout(timer);
    this.twin?.destroy();
    this.server?.close();
    this.markTwinReady();
    fs.rmSync(this.workDir, { recursive: true, force: true });
    this.markExited();
  }

  private readErrors(): string {
    try {
      return fs.readFileSync(path.join(this.workDir, 'errors.log'), 'utf8').trim().split('\n').slice(-5).join(' | ');
    } catch {
      return '';
    }
  }

  private kill(reason: string): void {
    if (!this.running()) return;
    this.finish('unspecified', reason);
    this.child!.kill('SIGTERM');
    this.timers.push(setTimeout(() => this.running() && this.child!.kill('SIGKILL'), 1000));
  }

  /** CANCEL while ringing, BYE once answered; resolves when sipp has exited (killed if it takes too long). */
  async hangup(): Promise<void> {
    if (!this.hangupRequested) {
      this.hangupRequested = true;
      await Promise.race([this.twinReady, this.exited, delay(TWIN_CONNECT_TIMEOUT_MS)]);
      if (this.running() && this.current !== 'ended' && this.twin && this.sipCallId) {
        this.twin.write(`Call-ID: ${this.sipCallId}\r\nRing-Command: hangup\r\n\r\n${TWIN_DELIMITER}`);
      }
    }
    await Promise.race([this.exited, delay(this.options.hangupGraceMs)]);
    if (this.running()) this.kill(`sipp did not finish hanging up within ${this.options.hangupGraceMs} ms`);
    await this.exited;
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

export type SippDialHandle = DialHandle & { hangupCause(): string; detail(): string | undefined; running(): boolean };

/** A CallDialer whose calls are real SIP calls placed with sipp. */
export class SippDialer implements CallDialer {
  private readonly calls = new Set<SippCall>();
  private readonly options: Required<Omit<SippDialerOptions, 'traceDir'>> & { traceDir?: string };

  constructor(options: SippDialerOptions = {}) {
    this.options = {
      endpoint: options.endpoint ?? SANDBOX_SIP_ENDPOINT,
      scenarioFile: options.scenarioFile ?? TEST_RING_SCENARIO,
      maxCallMs: options.maxCallMs ?? DEFAULT_MAX_CALL_MS,
      hangupGraceMs: options.hangupGraceMs ?? DEFAULT_HANGUP_GRACE_MS,
      traceDir: options.traceDir,
      // Fails here, naming scripts/tools.sh (Debian sip-tester), rather than on the first call.
      sippPath: options.sippPath ?? toolPath('sipp'),
    };
  }

  dial(call: DialRequest): SippDialHandle {
    const handle = new SippCall(call, this.options);
    this.calls.add(handle);
    void handle.exited.then(() => this.calls.delete(handle));
    return handle;
  }

  /** sipp processes of this dialer still running. */
  running(): number {
    return [...this.calls].filter((c) => c.running()).length;
  }

  /** Hangs up every call still up and waits until every sipp has exited. */
  async close(): Promise<void> {
    await Promise.all([...this.calls].map((c) => c.hangup()));
  }
}
