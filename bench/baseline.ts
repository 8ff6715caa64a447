/**
 * The baseline: the design document's imperative provisionVoiceLine() (src/lib/voice-provision.ts), one church,
 * no engine — search a number, order it, poll the order, look the number up, create the trunk, create the dispatch
 * rule, upsert the church_voice_agents row, ring the line. Same vendor clients, same endpoints, same injected
 * latency as the engine path; none of the engine path's idempotency look-ups (a crash half-way here buys twice).
 */
import { ringLine, telnyxCallControl, type RingResult } from '../providers/line-ring';
import { LiveKitClient } from '../vendors/livekit-client';
import { SupabaseVendorClient } from '../vendors/supabase-client';
import { TelnyxClient } from '../vendors/telnyx-client';
import { orderableNumbers } from '../providers/telnyx-phone-number';
import { churchRoomPrefix } from '../infra/church-voice-line';
import type { BenchStack } from './bench-stack';

export interface BaselineResult {
  ms: number;
  phoneNumber: string;
  trunkId: string;
  dispatchRuleId: string;
  ring: RingResult;
  /** Milliseconds per step, in order. */
  stepsMs: Record<string, number>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface BaselineSettings {
  connectionId: string;
  agentName: string;
  ringFrom: string;
  ringTimeoutMs: number;
}

export async function provisionVoiceLineDirect(
  stack: BenchStack,
  church: { churchId: string; name: string; areaCode: string },
  settings: BaselineSettings,
): Promise<BaselineResult> {
  const telnyx = new TelnyxClient(stack.vendors.telnyx);
  const livekit = new LiveKitClient(stack.vendors.livekit);
  const supabase = new SupabaseVendorClient(stack.vendors.supabase);
  const stepsMs: Record<string, number> = {};
  const started = Date.now();
  let mark = started;
  const step = <T>(name: string, value: T): T => {
    const now = Date.now();
    stepsMs[name] = now - mark;
    mark = now;
    return value;
  };

  const found = orderableNumbers(await telnyx.searchAvailableLocalNumbers(church.areaCode, 20), church.areaCode);
  if (found.length === 0) throw new Error(`baseline: no number available in ${church.areaCode}`);
  step('search', found);
  let order = await telnyx.createNumberOrder({
    phoneNumber: found[0].phoneNumber,
    connectionId: settings.connectionId,
    customerReference: church.churchId,
  });
  step('order', order);
  for (let pause = 250; order.status === 'pending'; pause = Math.min(pause * 2, 5000)) {
    order = await telnyx.getNumberOrder(order.id);
    if (order.status === 'pending') await sleep(pause);
  }
  if (order.status !== 'success') throw new Error(`baseline: order ${order.id} ended ${order.status}`);
  const record = await telnyx.findPhoneNumber(order.phoneNumbers[0].phoneNumber);
  if (!record) throw new Error(`baseline: ${order.phoneNumbers[0].phoneNumber} is not listed after its order`);
  step('poll number', record);

  const metadata = JSON.stringify({ churchId: church.churchId, churchName: church.name });
  const trunk = step(
    'create trunk',
    await livekit.createInboundTrunk({
      name: `church ${church.churchId}`,
      numbers: [record.phoneNumber],
      metadata,
      krispEnabled: true,
    }),
  );
  const rule = step(
    'create rule',
    await livekit.createDispatchRule({
      name: `church ${church.churchId}`,
      roomPrefix: churchRoomPrefix(church.churchId),
      trunkIds: [trunk.sipTrunkId],
      agents: [{ agentName: settings.agentName, metadata }],
      metadata,
    }),
  );
  step(
    'upsert row',
    await supabase.churchVoiceAgents.upsert({
      church_id: church.churchId,
      twilio_phone_number: record.phoneNumber,
      provider: 'telnyx',
      livekit_trunk_id: trunk.sipTrunkId,
      dispatch_rule_id: rule.sipDispatchRuleId,
      status: 'active',
    }),
  );
  const ring = step(
    'ring',
    await ringLine({
      phoneNumber: record.phoneNumber,
      churchId: church.churchId,
      expectedTrunkId: trunk.sipTrunkId,
      expectedDispatchRuleId: rule.sipDispatchRuleId,
      roomPrefix: churchRoomPrefix(church.churchId),
      agentName: settings.agentName,
      from: settings.ringFrom,
      timeoutMs: settings.ringTimeoutMs,
      telnyx: telnyxCallControl(stack.vendors.telnyx, settings.connectionId),
      livekit,
    }),
  );
  return {
    ms: Date.now() - started,
    phoneNumber: record.phoneNumber,
    trunkId: trunk.sipTrunkId,
    dispatchRuleId: rule.sipDispatchRuleId,
    ring,
    stepsMs,
  };
}
