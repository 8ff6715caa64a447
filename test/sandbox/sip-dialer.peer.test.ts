/**
 * The sipp dialer against real SIP peers: a sipp UAS per test plays the far end (answers, rejects with a code,
 * rings until cancelled, hangs up itself, or goes silent), so each path of sandbox/sipp/test-ring-uac.xml is
 * exercised over TCP: ACK and BYE once answered, CANCEL while ringing, failures mapped to Telnyx hangup causes,
 * and sipp always gone when a hangup resolves.
 */
import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import {
  calledNumberAsSent,
  hangupCauseForSipStatus,
  sipTarget,
  SippDialer,
  type SippDialHandle,
} from '../../sandbox/sip-dialer';
import { toolPath, waitForPort } from '../../sandbox/processes';
import type { DialRequest } from '../../sandbox/telnyx/call-dialer';
import { LIVEKIT_INBOUND_CONNECTION, LIVEKIT_INBOUND_FQDN } from '../../sandbox/telnyx/standin';
import { eventually } from '../support/eventually';
import { randomE164 } from '../support/unique';
import { sippProcessesOf } from '../support/sipp';

const FIXTURES = path.join(__dirname, 'fixtures');
let workDir: string;
const peers: FarEnd[] = [];
const dialers: SippDialer[] = [];

beforeAll(() => {
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sip-dialer-test-'));
});

afterEach(async () => {
  await Promise.all(dialers.splice(0).map((d) => d.close()));
  await Promise.all(peers.splice(0).map((p) => p.stop()));
  // Nothing of this test is left running: neither our dialer's sipp nor the far ends.
  expect(sippProcessesOf(process.pid)).toEqual([]);
});

afterAll(() => fs.rmSync(workDir, { recursive: true, force: true }));

interface FarEnd {
  port: number;
  /** The SIP messages the far end sent and received, as sipp logged them. */
  trace(): string;
  /** Exit code once it ended its one call. */
  exitCode: Promise<number | null>;
  stop(): Promise<void>;
}

/**
 * A free port below the kernel's ephemeral range (32768+), so no outgoing connection of another process takes it
 * between our check and sipp's bind.
 */
async function freePort(): Promise<number> {
  for (;;) {
    const candidate = 20000 + Math.floor(Math.random() * 10000);
    const server = net.createServer();
    const free = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(candidate, '127.0.0.1', () => resolve(true));
    });
    if (free) {
      await new Promise((resolve) => server.close(resolve));
      return candidate;
    }
  }
}

/** A sipp UAS on a loopback TCP port playing `scenario` (its @NAME@ placeholders filled from `fill`) for one call. */
async function farEnd(scenario: string, fill: Record<string, string> = {}): Promise<FarEnd> {
  const port = await freePort();
  const trace = path.join(workDir, `${scenario}-${port}.log`);
  let text = fs.readFileSync(path.join(FIXTURES, scenario), 'utf8');
  for (const [name, value] of Object.entries(fill)) text = text.split(`@${name}@`).join(value);
  const scenarioFile = path.join(workDir, `${port}-${scenario}`);
  fs.writeFileSync(scenarioFile, text);
  const args = ['-sf', scenarioFile, '-t', 't1', '-i', '127.0.0.1', '-p', String(port), '-m', '1', '-nostdin'];
  args.push('-timeout', '60s', '-trace_msg', '-message_file', trace);
  const child: ChildProcess = spawn(toolPath('sipp'), args, { cwd: workDir, stdio: 'ignore' });
  const exitCode = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const peer: FarEnd = {
    port,
    trace: () => (fs.existsSync(trace) ? fs.readFileSync(trace, 'latin1') : ''),
    exitCode,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exitCode;
    },
  };
  peers.push(peer);
  await waitForPort(port, 10_000, `sipp UAS (${scenario})`);
  // The port is ours only if our sipp still runs (it exits when the bind fails).
  expect(child.exitCode).toBeNull();
  return peer;
}

function dialerFor(peer: FarEnd): SippDialer {
  const dialer = new SippDialer({
    endpoint: { host: '127.0.0.1', port: peer.port, transport: 'tcp' },
    hangupGraceMs: 5000,
  });
  dialers.push(dialer);
  return dialer;
}

function call(to = randomE164(), dnisNumberFormat = '+e164'): DialRequest {
  return {
    to,
    from: randomE164(),
    connectionId: '1493561726053476330',
    route: {
      phoneNumberId: '1',
      fqdnConnectionId: LIVEKIT_INBOUND_CONNECTION.id,
      transport: 'TCP',
      targets: [{ fqdn: LIVEKIT_INBOUND_FQDN.fqdn, port: LIVEKIT_INBOUND_FQDN.port ?? 5060 }],
      dnisNumberFormat,
    },
  };
}

/** What a handle says about itself, for failure messages. */
function handleState(handle: SippDialHandle): string {
  return `state ${handle.state()}, cause ${handle.hangupCause()}, detail ${handle.detail()}`;
}

async function ended(handle: SippDialHandle): Promise<void> {
  await eventually(
    () => handle.state() === 'ended',
    () => `the call ended (${handleState(handle)})`,
  );
}

test('an answered call is ACKed, stays up, and our hangup sends BYE: normal_clearing', async () => {
  const peer = await farEnd('uas-answer.xml');
  const handle = dialerFor(peer).dial(call());

  await eventually(
    () => handle.state() === 'answered',
    () => `the call was answered (${handleState(handle)})`,
  );
  expect(peer.trace()).toMatch(/TCP message received[^]*\r?\nACK sip:/);
  await handle.hangup();

  expect(handle.state()).toBe('ended');
  expect(handle.hangupCause()).toBe('normal_clearing');
  expect(handle.detail()).toBe('hung up by the caller (BYE)');
  expect(handle.running()).toBe(false);
  expect(await peer.exitCode).toBe(0);
  expect(peer.trace()).toMatch(/BYE sip:/);
});

test('a call the far end hangs up ends with normal_clearing from the called side', async () => {
  const peer = await farEnd('uas-answer-then-bye.xml');
  const handle = dialerFor(peer).dial(call());

  await ended(handle);

  expect(handle.hangupCause()).toBe('normal_clearing');
  expect(handle.detail()).toBe('hung up by the called side (BYE)');
  expect(await peer.exitCode).toBe(0);
});

test('a hangup while ringing sends CANCEL; the far end answers 487 and the call ends as originator_cancel', async () => {
  const peer = await farEnd('uas-ring-until-cancel.xml');
  const handle = dialerFor(peer).dial(call());
  await eventually(
    () => peer.trace().includes('SIP/2.0 180 Ringing'),
    () => `the far end rang (${handleState(handle)})`,
  );
  expect(handle.state()).toBe('ringing');

  await handle.hangup();

  expect(handle.hangupCause()).toBe('originator_cancel');
  expect(handle.detail()).toContain('SIP 487 Request Terminated');
  expect(handle.running()).toBe(false);
  expect(peer.trace()).toMatch(/CANCEL sip:/);
  expect(await peer.exitCode).toBe(0);
});

test.each([
  [404, 'Not Found', 'not_found', 'no trunk found: SIP 404 Not Found'],
  [407, 'Proxy Authentication Required', 'call_rejected', 'trunk requires auth: SIP 407 Proxy Authentication Required'],
  [401, 'Unauthorized', 'call_rejected', 'trunk requires auth: SIP 401 Unauthorized'],
  [603, 'Decline', 'call_rejected', 'SIP 603 Decline'],
  [486, 'Busy Here', 'user_busy', 'SIP 486 Busy Here'],
  [480, 'Temporarily Unavailable', 'no_answer', 'SIP 480 Temporarily Unavailable'],
  [408, 'Request Timeout', 'timeout', 'SIP 408 Request Timeout'],
  [503, 'Service Unavailable', 'unspecified', 'SIP 503 Service Unavailable'],
])('a final %i %s ends the call with Telnyx cause %s', async (code, reason, cause, detail) => {
  const peer = await farEnd('uas-reject.xml', { CODE: String(code), REASON: reason });
  const handle = dialerFor(peer).dial(call());

  await ended(handle);

  expect({ cause: handle.hangupCause(), detail: handle.detail() }).toMatchObject({ cause });
  expect(handle.detail()).toContain(detail);
  // The failure was ACKed, so the far end finished its call cleanly.
  expect(await peer.exitCode).toBe(0);
  await eventually(() => !handle.running(), 'sipp exited after the failure');
});

test('a far end that never answers the CANCEL cannot hold the hangup: it resolves and sipp is gone', async () => {
  const peer = await farEnd('uas-ignore-cancel.xml');
  const handle = dialerFor(peer).dial(call());
  await eventually(
    () => peer.trace().includes('SIP/2.0 180 Ringing'),
    () => `the far end rang (${handleState(handle)})`,
  );

  await handle.hangup();

  expect(handle.state()).toBe('ended');
  expect(handle.hangupCause()).toBe('originator_cancel');
  expect(handle.detail()).toContain('No answer to CANCEL');
  expect(handle.running()).toBe(false);
});

test('the called number is written as the connection\'s dnis_number_format says: e164 drops the "+"', async () => {
  const peer = await farEnd('uas-reject.xml', { CODE: '404', REASON: 'Not Found' });
  const to = randomE164();
  const handle = dialerFor(peer).dial(call(to, 'e164'));

  await ended(handle);

  expect(peer.trace()).toContain(`INVITE sip:${to.slice(1)}@127.0.0.1:${peer.port};transport=tcp SIP/2.0`);
  expect(calledNumberAsSent(to, '+e164')).toBe(to);
  expect(calledNumberAsSent('+14144007103', 'national')).toBe('4144007103');
});

test('a number that routes nowhere ends at once with not_found and starts no sipp', async () => {
  const dialer = new SippDialer({ endpoint: { host: '127.0.0.1', port: 9, transport: 'tcp' } });
  dialers.push(dialer);
  const handle = dialer.dial({ ...call(), route: undefined });

  await ended(handle);

  expect(handle.hangupCause()).toBe('not_found');
  expect(handle.detail()).toContain('routes nowhere');
  expect(dialer.running()).toBe(0);
  await handle.hangup();
});

test('close() hangs up every call still up and returns once every sipp has exited', async () => {
  const first = await farEnd('uas-ring-until-cancel.xml');
  const second = await farEnd('uas-answer.xml');
  const dialer = dialerFor(first);
  const ringing = dialer.dial(call());
  const other = new SippDialer({ endpoint: { host: '127.0.0.1', port: second.port, transport: 'tcp' } });
  dialers.push(other);
  const answered = other.dial(call());
  await eventually(
    () => first.trace().includes('SIP/2.0 180 Ringing') && answered.state() === 'answered',
    () => `both calls up (ringing: ${handleState(ringing)}; answered: ${handleState(answered)})`,
  );

  await Promise.all([dialer.close(), other.close()]);

  expect([ringing.hangupCause(), answered.hangupCause()]).toEqual(['originator_cancel', 'normal_clearing']);
  expect(dialer.running() + other.running()).toBe(0);
  expect([await first.exitCode, await second.exitCode]).toEqual([0, 0]);
});

test('SIP statuses map to the hangup causes Telnyx reports', () => {
  expect(hangupCauseForSipStatus(404, 'No trunk found')).toEqual({
    cause: 'not_found',
    detail: 'no trunk found: SIP 404 No trunk found',
  });
  expect(hangupCauseForSipStatus(407).cause).toBe('call_rejected');
  expect(hangupCauseForSipStatus(487).cause).toBe('originator_cancel');
  expect(hangupCauseForSipStatus(500, 'Server Error')).toEqual({
    cause: 'unspecified',
    detail: 'SIP 500 Server Error',
  });
});

test('a sipp that cannot run ends the call with the reason instead of hanging the caller', async () => {
  const dialer = new SippDialer({ sippPath: path.join(workDir, 'no-such-sipp') });
  dialers.push(dialer);
  const handle = dialer.dial(call());

  await ended(handle);
  await handle.hangup();

  expect(handle.hangupCause()).toBe('unspecified');
  expect(handle.detail()).toContain('could not run sipp');
  expect(handle.detail()).toContain('ENOENT');
  expect(dialer.running()).toBe(0);
});

test("the INVITE goes where the number's connection points when that is loopback, never to a real FQDN", async () => {
  const peer = await farEnd('uas-reject.xml', { CODE: '486', REASON: 'Busy Here' });
  // The dialer's own endpoint is a closed port: only the connection's loopback FQDN can reach the far end.
  const dialer = new SippDialer({ endpoint: { host: '127.0.0.1', port: 9, transport: 'tcp' } });
  dialers.push(dialer);
  const request = call();
  const handle = dialer.dial({
    ...request,
    route: { ...request.route!, targets: [{ fqdn: '127.0.0.1', port: peer.port }] },
  });

  await ended(handle);

  expect(handle.hangupCause()).toBe('user_busy');
  const bridge = { host: '127.0.0.1', port: 5060, transport: 'tcp' as const };
  expect(sipTarget(request.route!, bridge)).toEqual(bridge);
});
