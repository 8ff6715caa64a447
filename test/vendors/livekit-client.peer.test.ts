/**
 * The LiveKit client against the real livekit-server: how answers and failures surface (VendorError with status
 * and Twirp code), the retry rule (5xx and transport errors retry, 4xx is final, creates are never blindly
 * repeated), and that no bearer token ends up in an error.
 */
import * as net from 'net';
import { AgentDispatchClient, RoomServiceClient } from 'livekit-server-sdk';
import { LiveKitClient } from '../../vendors/livekit-client';
import { DEFAULT_AGENT_NAME } from '../../providers/livekit-sip-dispatch-rule';
import type { LiveKitSettings } from '../../vendors/vendor-settings';
import { VendorError, type RetryPolicy } from '../../vendors/vendor-request';
import { CreatedObjects, scriptedServer, useSandboxLivekit } from '../support/livekit';
import { randomE164, uniqueName } from '../support/unique';

/** Short waits: the rule is what is under test, not the backoff. */
const FAST_RETRIES: RetryPolicy = { attempts: 4, baseDelayMs: 5, maxDelayMs: 20 };
const UNAVAILABLE = { status: 503, body: { code: 'unavailable', msg: 'server overloaded, try again' } };

let livekit: LiveKitSettings;
const created = new CreatedObjects();

beforeAll(async () => {
  livekit = await useSandboxLivekit();
});

afterEach(async () => {
  await created.removeAll(livekit);
});

async function failureOf(promise: Promise<unknown>): Promise<VendorError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(VendorError);
  return error as VendorError;
}

describe('answers and errors', () => {
  it('answers undefined for a trunk or rule that does not exist', async () => {
    const client = new LiveKitClient(livekit);
    await expect(client.getInboundTrunk('ST_doesNotExist1')).resolves.toBeUndefined();
    await expect(client.getDispatchRule('SDR_doesNotExist1')).resolves.toBeUndefined();
  });

  it('surfaces not_found as a VendorError with status 404', async () => {
    const client = new LiveKitClient(livekit);
    const update = await failureOf(client.updateInboundTrunk('ST_doesNotExist1', { name: 'x' }));
    expect(update).toMatchObject({
      vendor: 'livekit',
      method: 'UpdateSIPInboundTrunk',
      status: 404,
      code: 'not_found',
      notFound: true,
    });
    expect(update.message).toContain('/twirp/livekit.SIP/UpdateSIPInboundTrunk');
    const del = await failureOf(client.deleteDispatchRule('SDR_doesNotExist1'));
    expect(del).toMatchObject({ method: 'DeleteSIPDispatchRule', status: 404, notFound: true });
  });

  it('refuses a second trunk with the same number as a clear invalid_argument VendorError', async () => {
    const client = new LiveKitClient(livekit);
    const number = randomE164();
    const first = await client.createInboundTrunk({ name: uniqueName('dup a'), numbers: [number] });
    created.trunk(first.sipTrunkId);
    const error = await failureOf(client.createInboundTrunk({ name: uniqueName('dup b'), numbers: [number] }));
    expect(error).toMatchObject({
      method: 'CreateSIPInboundTrunk',
      status: 400,
      code: 'invalid_argument',
      attempts: 1,
    });
    expect(error.message).toContain(first.sipTrunkId);
    expect(error.message).toContain(number);
    expect((await client.listInboundTrunks({ numbers: [number] })).map((t) => t.sipTrunkId)).toEqual([
      first.sipTrunkId,
    ]);
  });

  it('never puts the bearer token into an error', async () => {
    const wrongSecret = new LiveKitClient({ ...livekit, apiSecret: 'not-the-secret' }, FAST_RETRIES);
    const error = await failureOf(wrongSecret.listInboundTrunks());
    expect(error.status).toBe(401);
    expect(error.attempts).toBe(1);
    expect(error.message).not.toMatch(/eyJ[\w-]+\./);
    expect(error.message).toContain('<redacted token>');
  });
});

describe('retry rule', () => {
  it('retries a 5xx and succeeds once LiveKit answers', async () => {
    const server = await scriptedServer(livekit.url, (_path, n) => (n <= 2 ? UNAVAILABLE : 'forward'));
    try {
      const trunks = await new LiveKitClient({ ...livekit, url: server.url }, FAST_RETRIES).listInboundTrunks();
      expect(Array.isArray(trunks)).toBe(true);
      expect(server.requests).toEqual(Array(3).fill('/twirp/livekit.SIP/ListSIPInboundTrunk'));
    } finally {
      await server.close();
    }
  });

  it('gives up after the policy attempts and reports the last status', async () => {
    const server = await scriptedServer(livekit.url, () => UNAVAILABLE);
    try {
      const error = await failureOf(
        new LiveKitClient({ ...livekit, url: server.url }, FAST_RETRIES).listDispatchRules(),
      );
      expect(error).toMatchObject({ status: 503, code: 'unavailable', attempts: 4 });
      expect(error.message).toContain('after 4 attempts');
      expect(server.requests).toHaveLength(4);
    } finally {
      await server.close();
    }
  });

  it('does not retry a 4xx', async () => {
    const server = await scriptedServer(livekit.url, () => ({
      status: 400,
      body: { code: 'invalid_argument', msg: 'bad trunk' },
    }));
    try {
      const error = await failureOf(
        new LiveKitClient({ ...livekit, url: server.url }, FAST_RETRIES).listInboundTrunks(),
      );
      expect(error).toMatchObject({ status: 400, code: 'invalid_argument', attempts: 1, detail: 'bad trunk' });
      expect(server.requests).toHaveLength(1);
    } finally {
      await server.close();
    }
  });

  it('retries transport errors (nothing listening) and says so', async () => {
    const closedPort = await new Promise<number>((resolve) => {
      const probe = net.createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as net.AddressInfo;
        probe.close(() => resolve(port));
      });
    });
    const error = await failureOf(
      new LiveKitClient({ ...livekit, url: `http://127.0.0.1:${closedPort}` }, FAST_RETRIES).listInboundTrunks(),
    );
    expect(error.status).toBeUndefined();
    expect(error.attempts).toBe(4);
    expect(error.message).toMatch(/transport error: fetch failed: ECONNREFUSED/);
  });

  it('never repeats a create blindly: a 5xx create is tried once', async () => {
    const server = await scriptedServer(livekit.url, (path) =>
      path.endsWith('/CreateSIPInboundTrunk') ? UNAVAILABLE : 'forward',
    );
    try {
      const number = randomE164();
      const client = new LiveKitClient({ ...livekit, url: server.url }, FAST_RETRIES);
      const error = await failureOf(client.createInboundTrunk({ name: uniqueName('5xx create'), numbers: [number] }));
      expect(error).toMatchObject({ method: 'CreateSIPInboundTrunk', status: 503, attempts: 1 });
      expect(server.requests.filter((p) => p.endsWith('/CreateSIPInboundTrunk'))).toHaveLength(1);
      // It looked for a trunk the lost attempt might have made, and there is none.
      expect(server.requests).toContain('/twirp/livekit.SIP/ListSIPInboundTrunk');
      await expect(new LiveKitClient(livekit).listInboundTrunks({ numbers: [number] })).resolves.toEqual([]);
    } finally {
      await server.close();
    }
  });

  it('returns the trunk a create made although its answer was lost, and makes no second one', async () => {
    const server = await scriptedServer(livekit.url, (path) =>
      path.endsWith('/CreateSIPInboundTrunk') ? 'forward-then-fail' : 'forward',
    );
    try {
      const number = randomE164();
      const name = uniqueName('lost answer');
      const trunk = await new LiveKitClient({ ...livekit, url: server.url }, FAST_RETRIES).createInboundTrunk({
        name,
        numbers: [number],
      });
      created.trunk(trunk.sipTrunkId);
      expect(trunk).toMatchObject({ name, numbers: [number] });
      expect(trunk.sipTrunkId).toMatch(/^ST_/);
      const onServer = await new LiveKitClient(livekit).listInboundTrunks({ numbers: [number] });
      expect(onServer.map((t) => t.sipTrunkId)).toEqual([trunk.sipTrunkId]);
    } finally {
      await server.close();
    }
  });

  it('returns the dispatch rule a create made although its answer was lost', async () => {
    const client = new LiveKitClient(livekit);
    const trunk = await client.createInboundTrunk({ name: uniqueName('rule lost'), numbers: [randomE164()] });
    created.trunk(trunk.sipTrunkId);
    const server = await scriptedServer(livekit.url, (path) =>
      path.endsWith('/CreateSIPDispatchRule') ? 'forward-then-fail' : 'forward',
    );
    try {
      const name = uniqueName('rule');
      const rule = await new LiveKitClient({ ...livekit, url: server.url }, FAST_RETRIES).createDispatchRule({
        roomPrefix: 'church-lost-',
        trunkIds: [trunk.sipTrunkId],
        agents: [{ agentName: DEFAULT_AGENT_NAME, metadata: '{"churchId":"lost"}' }],
        name,
      });
      created.rule(rule.sipDispatchRuleId);
      expect(rule.name).toBe(name);
      const onServer = await client.listDispatchRules({ trunkIds: [trunk.sipTrunkId] });
      expect(onServer.map((r) => r.sipDispatchRuleId)).toEqual([rule.sipDispatchRuleId]);
    } finally {
      await server.close();
    }
  });
});

describe('RoomService through the same rule', () => {
  it('lists rooms with a named RPC and classifies its failures', async () => {
    const client = new LiveKitClient(livekit);
    await expect(client.rooms('ListRooms', (rooms) => rooms.listRooms())).resolves.toEqual(expect.any(Array));
    const wrongSecret = new LiveKitClient({ ...livekit, apiSecret: 'not-the-secret' }, FAST_RETRIES);
    const error = await failureOf(wrongSecret.rooms('ListRooms', (rooms) => rooms.listRooms()));
    expect(error).toMatchObject({ method: 'ListRooms', path: '/twirp/livekit.RoomService/ListRooms', status: 401 });
  });
});

describe('AgentDispatchService through the same rule', () => {
  it("lists a room's agent dispatches, and retries a 5xx on the way", async () => {
    const roomName = `dispatch-${uniqueName('room').replace(/ /g, '-')}`;
    const rooms = new RoomServiceClient(livekit.url, livekit.apiKey, livekit.apiSecret);
    await rooms.createRoom({ name: roomName, emptyTimeout: 30 });
    try {
      const metadata = JSON.stringify({ churchId: 'dispatch-list' });
      await new AgentDispatchClient(livekit.url, livekit.apiKey, livekit.apiSecret).createDispatch(
        roomName,
        DEFAULT_AGENT_NAME,
        { metadata },
      );
      const server = await scriptedServer(livekit.url, (_path, n) => (n <= 1 ? UNAVAILABLE : 'forward'));
      try {
        const dispatches = await new LiveKitClient({ ...livekit, url: server.url }, FAST_RETRIES).listAgentDispatches(
          roomName,
        );
        // livekit-server also lists its automatic dispatch (agent name '') for every room.
        const named = dispatches.filter((d) => d.agentName !== '');
        expect(named.map((d) => ({ agentName: d.agentName, metadata: d.metadata, room: d.room }))).toEqual([
          { agentName: DEFAULT_AGENT_NAME, metadata, room: roomName },
        ]);
        expect(server.requests).toEqual(Array(2).fill('/twirp/livekit.AgentDispatchService/ListDispatch'));
      } finally {
        await server.close();
      }
    } finally {
      await rooms.deleteRoom(roomName);
    }
  });
});
