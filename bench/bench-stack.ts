/**
 * One isolated real stack for the bench (test/support/voice-stack.ts builds it: own registry database, own Telnyx
 * stand-in, own PostgREST, own file backend), with LiveKit and Supabase reached through delaying proxies so every
 * vendor call costs the injected latency and is counted.
 */
import * as fs from 'fs';
import * as path from 'path';
import { parse, stringify } from 'yaml';
import { LiveKitClient } from '../vendors/livekit-client';
import { SANDBOX_LIVEKIT } from '../sandbox/livekit';
import type { VoiceStackOptions } from '../engine/voice-stack';
import { newVoiceStack, TEST_STACK, type VoiceStackFixture } from '../test/support/voice-stack';
import { startDelayingProxy, type DelayingProxy } from './delaying-proxy';
import { VendorCallMeter } from './vendor-calls';

export interface BenchStack {
  fixture: VoiceStackFixture;
  livekitProxy: DelayingProxy;
  supabaseProxy: DelayingProxy;
  meter: VendorCallMeter;
  /** For openVoiceStack / VoiceStackRunner: the fixture's stack with the proxies in its environment. */
  options: VoiceStackOptions;
  /** Vendor endpoints as the providers see them (the proxies, the stand-in). */
  vendors: {
    telnyx: { baseUrl: string; apiKey: string };
    livekit: typeof SANDBOX_LIVEKIT;
    supabase: { url: string; serviceKey: string };
  };
  setLatency(ms: number): void;
  /** Puts churches [from, to) of the bench's church list in the registry. */
  addChurches(from: number, to: number): Promise<string[]>;
  close(): Promise<void>;
}

/**
 * Area codes handed to bench churches, one per church: the stand-in stocks a few numbers per area code, so
 * churches bought side by side in one area code would race for them. No N11 codes, no 555, none of the codes the
 * stand-in uses for best-effort results or the lines in service.
 */
const AREA_CODES = Array.from({ length: 800 }, (_, i) => String(200 + i)).filter(
  (code) => !code.endsWith('11') && code !== '555' && !['312', '414', '469', '747'].includes(code),
);

export function benchChurch(index: number, prefix = 'bench'): { churchId: string; name: string; areaCode: string } {
  return {
    churchId: `${prefix}-church-${String(index).padStart(4, '0')}`,
    name: `Bench Church ${index}`,
    areaCode: AREA_CODES[index % AREA_CODES.length],
  };
}

export async function openBenchStack(
  name: string,
  options: { testRings: boolean; latencyMs: number; churchPrefix?: string },
): Promise<BenchStack> {
  const fixture = await newVoiceStack(name, { testRings: options.testRings, linesInService: false });
  const livekitProxy = await startDelayingProxy({ target: SANDBOX_LIVEKIT.url, latencyMs: options.latencyMs });
  const supabaseProxy = await startDelayingProxy({ target: fixture.supabase.url, latencyMs: options.latencyMs });
  fixture.telnyx.setLatency(options.latencyMs);

  // The stack file names the vendor URLs (stack config wins over the environment in provider-settings.ts).
  const stackFile = path.join(fixture.work.dir, `Pulumi.${TEST_STACK}.yaml`);
  const stack = parse(fs.readFileSync(stackFile, 'utf8')) as { config: Record<string, unknown> };
  stack.config['churchwise-voice:livekitUrl'] = livekitProxy.url;
  stack.config['churchwise-voice:supabaseUrl'] = supabaseProxy.url;
  fs.writeFileSync(stackFile, stringify(stack));
  const vendorEnv: Record<string, string> = {
    ...fixture.vendorEnv,
    LIVEKIT_URL: livekitProxy.url,
    SUPABASE_URL: supabaseProxy.url,
  };

  const meter = new VendorCallMeter({ telnyx: fixture.telnyx, livekit: livekitProxy, supabase: supabaseProxy });
  const prefix = options.churchPrefix ?? 'bench';
  return {
    fixture,
    livekitProxy,
    supabaseProxy,
    meter,
    options: { ...fixture.options, vendorEnv },
    vendors: {
      telnyx: { baseUrl: fixture.telnyx.url, apiKey: fixture.telnyx.apiKey },
      livekit: { ...SANDBOX_LIVEKIT, url: livekitProxy.url },
      supabase: { url: supabaseProxy.url, serviceKey: vendorEnv.SUPABASE_SERVICE_ROLE_KEY },
    },
    setLatency: (ms) => meter.setLatency(ms),
    addChurches: async (from, to) => {
      const ids: string[] = [];
      for (let i = from; i < to; i++) {
        const church = benchChurch(i, prefix);
        await fixture.addChurch(church);
        ids.push(church.churchId);
      }
      return ids;
    },
    close: async () => {
      await removeLiveKitObjects(fixture).catch(() => undefined);
      await livekitProxy.close();
      await supabaseProxy.close();
      await fixture.close();
      fs.rmSync(fixture.work.dir, { recursive: true, force: true });
    },
  };
}

/**
 * The sandbox's livekit-server is shared with the tests: the trunks and rules a bench stack made are deleted
 * directly at LiveKit when the bench is done (the stack itself refuses to delete lines without a decommission,
 * and its state is thrown away with its work folder).
 */
async function removeLiveKitObjects(fixture: VoiceStackFixture): Promise<void> {
  const livekit = new LiveKitClient(SANDBOX_LIVEKIT);
  const rows = await fixture.db.pool.query<{ livekit_trunk_id: string | null; dispatch_rule_id: string | null }>(
    'select livekit_trunk_id, dispatch_rule_id from church_voice_agents',
  );
  for (const row of rows.rows) {
    if (row.dispatch_rule_id) await livekit.deleteDispatchRule(row.dispatch_rule_id).catch(() => undefined);
    if (row.livekit_trunk_id) await livekit.deleteTrunk(row.livekit_trunk_id).catch(() => undefined);
  }
}
