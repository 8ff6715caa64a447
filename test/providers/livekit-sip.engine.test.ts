/**
 * LiveKitSipInboundTrunk and LiveKitSipDispatchRule driven by the real Pulumi engine (Automation API, inline
 * program, file backend) against the real livekit-server: what a founder sees on up, refresh and destroy.
 */
import type { Stack } from '@pulumi/pulumi/automation';
import { LiveKitClient } from '../../vendors/livekit-client';
import { LiveKitSipDispatchRule } from '../../providers/livekit-sip-dispatch-rule';
import { LiveKitSipInboundTrunk } from '../../providers/livekit-sip-inbound-trunk';
import type { LiveKitSettings } from '../../vendors/vendor-settings';
import { failedRun, inlineStack } from '../support/engine';
import { CreatedObjects, byHand, scriptedServer, useSandboxLivekit, type ScriptedServer } from '../support/livekit';
import { randomE164, uniqueName } from '../support/unique';

let livekit: LiveKitSettings;
let client: LiveKitClient;
const created = new CreatedObjects();
const proxies: ScriptedServer[] = [];

beforeAll(async () => {
  livekit = await useSandboxLivekit();
  client = new LiveKitClient(livekit);
});

afterAll(async () => {
  await Promise.all(proxies.map((proxy) => proxy.close()));
  await created.removeAll(livekit);
});

async function stackWith(
  name: string,
  program: () => Promise<Record<string, unknown>>,
  settings = livekit,
): Promise<Stack> {
  return (await inlineStack({ name, projectName: 'livekit-sip', program, vendors: { livekit: settings } })).stack;
}

test('a church line: up creates trunk and rule, refresh shows auth added by hand, up repairs it in place, destroy removes both', async () => {
  const line = { numbers: [randomE164()], name: uniqueName('engine church') };
  const stack = await stackWith('church-line', async () => {
    const trunk = new LiveKitSipInboundTrunk('trunk', { name: line.name, numbers: line.numbers, decommission: true });
    const rule = new LiveKitSipDispatchRule('rule', {
      name: line.name,
      roomPrefix: 'church-engine-',
      trunkIds: [trunk.sipTrunkId],
      agentMetadata: JSON.stringify({ churchId: 'engine' }),
      decommission: true,
    });
    return { trunkId: trunk.sipTrunkId, ruleId: rule.sipDispatchRuleId, authUsername: trunk.authUsername };
  });

  const up = await stack.up();
  expect(up.summary.result).toBe('succeeded');
  const trunkId = created.trunk(up.outputs.trunkId.value);
  const ruleId = created.rule(up.outputs.ruleId.value);
  expect(await client.getInboundTrunk(trunkId)).toMatchObject({ numbers: line.numbers, authUsername: '' });
  expect((await client.getDispatchRule(ruleId))?.trunkIds).toEqual([trunkId]);
  expect((await stack.preview({ expectNoChanges: true, refresh: true })).changeSummary).toEqual({ same: 3 });

  await byHand(livekit).updateSipInboundTrunkFields(trunkId, {
    authUsername: 'by-hand',
    authPassword: 'pw-engine-5519',
  });
  const drift = await stack.preview({ refresh: true });
  // The rule shows too: a dynamic resource's outputs are unknown in the preview of its update.
  expect(drift.changeSummary.update).toBeGreaterThanOrEqual(1);

  const repaired = await stack.up({ refresh: true });
  expect(repaired.summary.resourceChanges).toEqual({ same: 2, update: 1 });
  expect(repaired.outputs.trunkId.value).toBe(trunkId);
  expect(await client.getInboundTrunk(trunkId)).toMatchObject({ authUsername: '', authPassword: '' });
  expect(JSON.stringify(await stack.exportStack())).not.toContain('pw-engine-5519');

  line.numbers = [randomE164()];
  const renumbered = await stack.up();
  expect(renumbered.summary.resourceChanges).toEqual({ same: 2, update: 1 });
  expect(renumbered.outputs.trunkId.value).toBe(trunkId);
  expect((await client.getInboundTrunk(trunkId))?.numbers).toEqual(line.numbers);

  expect((await stack.destroy()).summary.result).toBe('succeeded');
  expect(await client.getDispatchRule(ruleId)).toBeUndefined();
  expect(await client.getInboundTrunk(trunkId)).toBeUndefined();
});

test('a locked legacy trunk: adopted without creating anything, any program change refused before LiveKit is called', async () => {
  const legacy = await byHand(livekit).createSipInboundTrunk(uniqueName('legacy twilio'), [randomE164()], {
    authUsername: 'twilio',
    authPassword: 'pw-legacy-8830',
  });
  created.trunk(legacy.sipTrunkId);
  // The engine reaches LiveKit through a recording proxy: LiveKit is shared with tests running in parallel, so what
  // the stack did is read from its own requests, not from how many trunks LiveKit holds.
  const proxy = await scriptedServer(livekit.url, () => 'forward');
  proxies.push(proxy);
  const writes = () => proxy.requests.filter((path) => /\/(Create|Update|Delete)SIP/.test(path));
  const legacyId = legacy.sipTrunkId;
  const program = { numbers: undefined as string[] | undefined };
  const stack = await stackWith(
    'locked-trunk',
    async () => {
      // retainOnDelete: the test's own destroy must leave the legacy trunk alone (delete would be refused anyway).
      const trunk = new LiveKitSipInboundTrunk(
        'legacy',
        { locked: true, adoptId: legacyId, numbers: program.numbers },
        { retainOnDelete: true },
      );
      return { trunkId: trunk.sipTrunkId, authPasswordSet: trunk.authPasswordSet };
    },
    { ...livekit, url: proxy.url },
  );

  const up = await stack.up();
  expect(up.outputs).toMatchObject({ trunkId: { value: legacyId }, authPasswordSet: { value: true } });
  // Adopted: LiveKit was only read (through the proxy), nothing was created (or changed).
  expect(proxy.requests).toContain('/twirp/livekit.SIP/ListSIPInboundTrunk');
  expect(writes()).toEqual([]);
  expect(JSON.stringify(await stack.exportStack())).not.toContain('pw-legacy-8830');
  // Its auth is not drift to repair: refresh + preview plan nothing.
  expect((await stack.preview({ expectNoChanges: true, refresh: true })).changeSummary).toEqual({ same: 2 });

  const snapshot = (await client.getInboundTrunk(legacyId))!.toJsonString();
  program.numbers = [randomE164()];
  const refusal = await failedRun(stack.up());
  expect(refusal).toMatch(new RegExp(`trunk ${legacyId} .*is LOCKED`));
  expect((await client.getInboundTrunk(legacyId))!.toJsonString()).toBe(snapshot);

  program.numbers = undefined;
  expect((await stack.destroy()).summary.result).toBe('succeeded');
  expect((await client.getInboundTrunk(legacyId))!.toJsonString()).toBe(snapshot);
  expect(writes()).toEqual([]);
});
