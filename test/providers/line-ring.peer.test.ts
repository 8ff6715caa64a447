/**
 * The test ring through the whole sandbox call path: the Telnyx stand-in's dial sends a real SIP INVITE (sipp, TCP)
 * to the real SIP bridge (livekit-sip), which matches the trunk and dispatch rule stored in the real livekit-server;
 * ringLine must see the room, the SIP participant and the agent dispatch, then hang up. Each broken line the seed
 * warns about must fail with its cause, and every ring must leave nothing behind: the call ended, no sipp running,
 * no SIP participant still ringing in a room.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ParticipantInfo_Kind } from '@livekit/protocol';
import { LiveKitClient } from '../../vendors/livekit-client';
import { ringLine, telnyxCallControl, type RingResult } from '../../providers/line-ring';
import { DEFAULT_AGENT_NAME } from '../../providers/livekit-sip-dispatch-rule';
import type { LiveKitSettings } from '../../vendors/vendor-settings';
import { ensureLivekitSip } from '../../sandbox/livekit-sip';
import { SippDialer } from '../../sandbox/sip-dialer';
import { LIVEKIT_INBOUND_CONNECTION, startTelnyxStandIn, type TelnyxStandIn } from '../../sandbox/telnyx/standin';
import { eventually } from '../support/eventually';
import { CreatedObjects, byHand, useSandboxLivekit } from '../support/livekit';
import { randomE164, uniqueName } from '../support/unique';
import { sippProcessesOf } from '../support/sipp';

let livekit: LiveKitSettings;
let client: LiveKitClient;
let dialer: SippDialer;
let standIn: TelnyxStandIn;
let traceDir: string;
const created = new CreatedObjects();
/** The "company number" of this file's rings: rooms and participants carrying it are ours. */
const FROM = randomE164();
/** Rings that are expected to fail wait this long for a room before they give up. */
const FAILING_RING_TIMEOUT_MS = 6000;

beforeAll(async () => {
  livekit = await useSandboxLivekit();
  await ensureLivekitSip();
  client = new LiveKitClient(livekit);
  traceDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ring-traces-'));
  dialer = new SippDialer({ traceDir });
  standIn = await startTelnyxStandIn({ dialer });
});

afterAll(async () => {
  await dialer?.close();
  await standIn?.close();
  await created.removeAll(livekit);
  if (client) {
    const rooms = await client.rooms('ListRooms', (r) => r.listRooms());
    for (const room of rooms.filter((r) => r.name.includes(FROM))) {
      await client.rooms('DeleteRoom', (r) => r.deleteRoom(room.name));
    }
  }
  fs.rmSync(traceDir, { recursive: true, force: true });
});

interface Line {
  churchId: string;
  phoneNumber: string;
  trunkId: string;
  ruleId: string;
  roomPrefix: string;
}

/** What provisioning makes: a Telnyx number on the LiveKit connection, a trunk with it, a rule sending it to the agent. */
async function freshLine(): Promise<Line> {
  const churchId = `church-${Math.random().toString(36).slice(2, 10)}`;
  const phoneNumber = randomE164();
  standIn.seedPhoneNumber({
    phone_number: phoneNumber,
    connection_id: LIVEKIT_INBOUND_CONNECTION.id,
    customer_reference: churchId,
  });
  const trunk = await client.createInboundTrunk({ name: uniqueName('ring'), numbers: [phoneNumber] });
  created.trunk(trunk.sipTrunkId);
  const roomPrefix = `church-${churchId}-`;
  const rule = await client.createDispatchRule({
    name: uniqueName('ring'),
    roomPrefix,
    trunkIds: [trunk.sipTrunkId],
    agents: [{ agentName: DEFAULT_AGENT_NAME, metadata: JSON.stringify({ churchId }) }],
  });
  created.rule(rule.sipDispatchRuleId);
  return { churchId, phoneNumber, trunkId: trunk.sipTrunkId, ruleId: rule.sipDispatchRuleId, roomPrefix };
}

function ring(line: Line, timeoutMs: number, expectedTrunkId = line.trunkId): Promise<RingResult> {
  return ringLine({
    phoneNumber: line.phoneNumber,
    churchId: line.churchId,
    expectedTrunkId,
    expectedDispatchRuleId: line.ruleId,
    roomPrefix: line.roomPrefix,
    from: FROM,
    timeoutMs,
    telnyx: telnyxCallControl({ apiKey: standIn.apiKey, baseUrl: standIn.url }, '1493561726053476330'),
    livekit: client,
  });
}

/** The SIP messages sipp exchanged for calls to this number, as sipp logged them. */
function sipTrace(phoneNumber: string): string {
  return fs
    .readdirSync(traceDir)
    .map((file) => fs.readFileSync(path.join(traceDir, file), 'latin1'))
    .filter((text) => text.includes(`INVITE sip:${phoneNumber}@`))
    .join('\n');
}

/** SIP participants of our calls still in a room (a ring that left one behind left the line ringing). */
async function ourSipParticipants(): Promise<string[]> {
  const rooms = await client.rooms('ListRooms', (r) => r.listRooms());
  const left: string[] = [];
  for (const room of rooms.filter((r) => r.name.includes(FROM))) {
    const participants = await client.rooms('ListParticipants', (r) => r.listParticipants(room.name)).catch(() => []);
    for (const p of participants) if (p.kind === ParticipantInfo_Kind.SIP) left.push(`${room.name}/${p.identity}`);
  }
  return left;
}

/** Every path hangs up: the stand-in's calls ended, no sipp of ours runs, no SIP participant still in a room. */
async function expectEverythingHungUp(): Promise<void> {
  const live = [...standIn.state.calls.values()].filter((call) => call.state !== 'ended').map((call) => call.to);
  expect(live).toEqual([]);
  await eventually(() => dialer.running() === 0 && sippProcessesOf(process.pid).length === 0, 'every sipp exited');
  expect(sippProcessesOf(process.pid)).toEqual([]);
  await eventually(async () => (await ourSipParticipants()).length === 0, 'the SIP participants left their rooms');
  expect(await ourSipParticipants()).toEqual([]);
}

test('a ring to a freshly created trunk and rule goes through a real SIP INVITE and finds the room, the SIP participant and the agent', async () => {
  const line = await freshLine();

  const result = await ring(line, 20_000);

  expect(result).toMatchObject({ ok: true, participantIdentity: `sip_${FROM}` });
  expect(result.cause).toBeUndefined();
  expect(result.roomName?.startsWith(`${line.roomPrefix}_${FROM}_`)).toBe(true);
  expect(result.detail).toContain(
    `via trunk ${line.trunkId} and rule ${line.ruleId}; agent ${DEFAULT_AGENT_NAME} dispatched`,
  );
  // The call really went over SIP/TCP to the bridge: INVITE to the number, ringing, then our CANCEL.
  const trace = sipTrace(line.phoneNumber);
  expect(trace).toContain(`INVITE sip:${line.phoneNumber}@127.0.0.1:5060;transport=tcp SIP/2.0`);
  expect(trace).toMatch(/TCP message sent/);
  expect(trace).toContain('SIP/2.0 180 Ringing');
  expect(trace).toContain(`CANCEL sip:${line.phoneNumber}@`);
  expect(trace).toContain('SIP/2.0 487 Request Terminated');
  // The dial went through Telnyx Call Control, from the company number to the line.
  expect([...standIn.state.calls.values()].some((c) => c.to === line.phoneNumber && c.from === FROM)).toBe(true);
  await expectEverythingHungUp();
});

test('auth added to the trunk: the bridge challenges the INVITE and the ring fails with call_rejected', async () => {
  const line = await freshLine();
  await byHand(livekit).updateSipInboundTrunkFields(line.trunkId, {
    authUsername: 'by-hand',
    authPassword: 'pw-ring-4471',
  });

  const result = await ring(line, FAILING_RING_TIMEOUT_MS);

  expect(result).toMatchObject({ ok: false, cause: 'call_rejected' });
  expect(result.detail).toContain(`trunk ${line.trunkId} requires auth`);
  expect(result.detail).not.toContain('pw-ring-4471');
  expect(sipTrace(line.phoneNumber)).toContain('SIP/2.0 407');
  const call = [...standIn.state.calls.values()].find((c) => c.to === line.phoneNumber);
  expect(call?.hangup_cause).toBe('call_rejected');
  await expectEverythingHungUp();
});

test('the number removed from every trunk: the ring fails with not_found, "no trunk found"', async () => {
  const line = await freshLine();
  await client.updateInboundTrunk(line.trunkId, { numbers: [randomE164()] });

  const result = await ring(line, FAILING_RING_TIMEOUT_MS);

  expect(result).toMatchObject({ ok: false, cause: 'not_found' });
  expect(result.detail).toContain(`no trunk found: no LiveKit inbound trunk lists ${line.phoneNumber}`);
  expect(result.roomName).toBeUndefined();
  expect(sipTrace(line.phoneNumber)).toContain(`INVITE sip:${line.phoneNumber}@`);
  await expectEverythingHungUp();
});

test('no dispatch rule: the call reaches the bridge but no room is made, and the ring fails with no_room', async () => {
  const line = await freshLine();
  await client.deleteDispatchRule(line.ruleId);

  const result = await ring(line, FAILING_RING_TIMEOUT_MS);

  expect(result).toMatchObject({ ok: false, cause: 'no_room' });
  expect(result.detail).toContain(`no dispatch rule for trunk ${line.trunkId}`);
  expect(result.roomName).toBeUndefined();
  await expectEverythingHungUp();
});

test("a call that comes in through another trunk than the church's fails with wrong_trunk, naming both", async () => {
  const line = await freshLine();
  const other = await client.createInboundTrunk({ name: uniqueName('other'), numbers: [randomE164()] });
  created.trunk(other.sipTrunkId);

  const result = await ring(line, 20_000, other.sipTrunkId);

  expect(result).toMatchObject({ ok: false, cause: 'wrong_trunk' });
  expect(result.detail).toContain(`through trunk ${line.trunkId}, not the church's trunk ${other.sipTrunkId}`);
  await expectEverythingHungUp();
});

test('a rule that dispatches no agent: the room exists but nobody would answer, and the ring fails with no_agent', async () => {
  const line = await freshLine();
  await client.updateDispatchRule(line.ruleId, { agents: [] });

  const result = await ring(line, FAILING_RING_TIMEOUT_MS);

  expect(result).toMatchObject({ ok: false, cause: 'no_agent' });
  expect(result.detail).toContain(`has no dispatch of agent ${DEFAULT_AGENT_NAME}`);
  expect(result.roomName?.startsWith(line.roomPrefix)).toBe(true);
  await expectEverythingHungUp();
});

test('a number Telnyx routes nowhere (on no connection): the call ends at once and the ring fails with call_failed, pointing at Telnyx', async () => {
  const line = await freshLine();
  const number = [...standIn.state.phoneNumbers.values()].find((n) => n.phone_number === line.phoneNumber)!;
  const moved = await fetch(`${standIn.url}/phone_numbers/${number.id}`, {
    method: 'PATCH',
    headers: { authorization: `Bearer ${standIn.apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ connection_id: '' }),
  });
  expect(moved.status).toBe(200);
  expect(standIn.state.phoneNumbers.get(number.id)?.connection_id ?? null).toBeNull();

  const result = await ring(line, FAILING_RING_TIMEOUT_MS);

  expect(result).toMatchObject({ ok: false, cause: 'call_failed' });
  expect(result.detail).toContain(
    "the call ended before reaching a room of the church, and the line's LiveKit setup looks right",
  );
  expect(result.detail).toContain("check the number's Telnyx connection");
  expect(sipTrace(line.phoneNumber)).toBe('');
  await expectEverythingHungUp();
});

test('Telnyx refuses the dial: the ring fails with call_failed and the dial is not sent twice', async () => {
  const line = await freshLine();
  const dialsBefore = standIn.requests.filter((r) => r.method === 'POST' && /\/calls$/.test(r.path)).length;
  standIn.injectFaults({ status: 503, count: 1, pathPrefix: '/calls', method: 'POST' });

  const result = await ring(line, FAILING_RING_TIMEOUT_MS);

  expect(result).toMatchObject({ ok: false, cause: 'call_failed' });
  expect(result.detail).toContain(`Telnyx did not place the call from ${FROM} to ${line.phoneNumber}`);
  expect(result.detail).toContain('HTTP 503');
  expect(standIn.requests.filter((r) => r.method === 'POST' && /\/calls$/.test(r.path)).length - dialsBefore).toBe(1);
  expect([...standIn.state.calls.values()].some((c) => c.to === line.phoneNumber)).toBe(false);
  await expectEverythingHungUp();
});
