/**
 * LiveKitSipInboundTrunk and LiveKitSipDispatchRule driven by the real Pulumi engine (Automation API, inline
 * program, file backend) against the real livekit-server: what a founder sees on up, refresh and destroy.
 */
import { LocalWorkspace, PulumiCommand, type Stack } from '@pulumi/pulumi/automation';
import { LiveKitClient } from '../../providers/livekit-client';
import { LiveKitSipDispatchRule } from '../../providers/livekit-sip-dispatch-rule';
import { LiveKitSipInboundTrunk } from '../../providers/livekit-sip-inbound-trunk';
import type { LiveKitSettings } from '../../providers/provider-settings';
import { TOOLS_DIR } from '../../sandbox/processes';
import { pulumiBinary } from '../../stacks/engine-environment';
import { newWorkDir } from '../support/engine';
import { CreatedObjects, byHand, randomE164, uniqueName, useSandboxLivekit } from './support';
import * as fs from 'fs';

let livekit: LiveKitSettings;
let client: LiveKitClient;
const created = new CreatedObjects();

beforeAll(async () => {
  if (!fs.existsSync(pulumiBinary())) throw new Error(`the Pulumi CLI is not built (${pulumiBinary()}): run scripts/tools.sh`);
  livekit = await useSandboxLivekit();
  client = new LiveKitClient(livekit);
});

afterAll(async () => {
  await created.removeAll(livekit);
});

async function stackWith(name: string, program: () => Promise<Record<string, unknown>>): Promise<Stack> {
  const work = newWorkDir(name);
  const vendorEnv = { LIVEKIT_URL: livekit.url, LIVEKIT_API_KEY: livekit.apiKey, LIVEKIT_API_SECRET: livekit.apiSecret };
  return LocalWorkspace.createOrSelectStack(
    { stackName: 'test', projectName: 'livekit-sip', program },
    { workDir: work.dir, envVars: work.env(vendorEnv), pulumiCommand: await PulumiCommand.get({ root: TOOLS_DIR }) },
  );
}

/** The engine's own error text (check failures, provider errors) from a failed run. */
async function failedRun(run: Promise<unknown>): Promise<string> {
  const error = await run.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeDefined();
  return String((error as Error).message);
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

  await byHand(livekit).updateSipInboundTrunkFields(trunkId, { authUsername: 'by-hand', authPassword: 'pw-engine-5519' });
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
  const program = { numbers: undefined as string[] | undefined };
  const stack = await stackWith('locked-trunk', async () => {
    // retainOnDelete: the test's own destroy must leave the legacy trunk alone (delete would be refused anyway).
    const trunk = new LiveKitSipInboundTrunk(
      'legacy',
      { locked: true, adoptId: legacy.sipTrunkId, numbers: program.numbers },
      { retainOnDelete: true },
    );
    return { trunkId: trunk.sipTrunkId, authPasswordSet: trunk.authPasswordSet };
  });

  const before = (await client.listInboundTrunks()).length;
  const up = await stack.up();
  expect(up.outputs).toMatchObject({ trunkId: { value: legacy.sipTrunkId }, authPasswordSet: { value: true } });
  expect((await client.listInboundTrunks()).length).toBe(before);
  expect(JSON.stringify(await stack.exportStack())).not.toContain('pw-legacy-8830');
  // Its auth is not drift to repair: refresh + preview plan nothing.
  expect((await stack.preview({ expectNoChanges: true, refresh: true })).changeSummary).toEqual({ same: 2 });

  const snapshot = (await client.getInboundTrunk(legacy.sipTrunkId))!.toJsonString();
  program.numbers = [randomE164()];
  const refusal = await failedRun(stack.up());
  expect(refusal).toMatch(new RegExp(`trunk ${legacy.sipTrunkId} .*is LOCKED`));
  expect((await client.getInboundTrunk(legacy.sipTrunkId))!.toJsonString()).toBe(snapshot);

  program.numbers = undefined;
  expect((await stack.destroy()).summary.result).toBe('succeeded');
  expect((await client.getInboundTrunk(legacy.sipTrunkId))!.toJsonString()).toBe(snapshot);
});
