/**
 * The sandbox's Telnyx: `ts-node --transpile-only sandbox/telnyx/main.ts` serves the stand-in on
 * SANDBOX_PORTS.telnyx until SIGTERM/SIGINT, with the "LiveKit Inbound v2" connection's FQDN pointed at the
 * sandbox's own SIP port on 127.0.0.1 (where livekit-sip listens) instead of LiveKit Cloud.
 * It prints one line, `telnyx stand-in: <url>`, once it accepts requests.
 */
import { SANDBOX_PORTS } from '../ports';
import { SippDialer } from '../sip-dialer';
import {
  DEFAULT_STANDIN_API_KEY,
  LIVEKIT_INBOUND_CONNECTION,
  startTelnyxStandIn,
  type TelnyxStandInOptions,
} from './standin';

/** What the sandbox's services are configured with (TELNYX_BASE_URL / TELNYX_API_KEY). */
export function sandboxTelnyxSettings(): { baseUrl: string; apiKey: string } {
  return {
    baseUrl: `http://127.0.0.1:${SANDBOX_PORTS.telnyx}/v2`,
    apiKey: process.env.SANDBOX_TELNYX_API_KEY ?? DEFAULT_STANDIN_API_KEY,
  };
}

export function sandboxTelnyxOptions(): TelnyxStandInOptions {
  return {
    port: SANDBOX_PORTS.telnyx,
    apiKey: sandboxTelnyxSettings().apiKey,
    connections: [LIVEKIT_INBOUND_CONNECTION],
    fqdns: [
      {
        connection_id: LIVEKIT_INBOUND_CONNECTION.id,
        fqdn: '127.0.0.1',
        port: SANDBOX_PORTS.sip,
        dns_record_type: 'a',
      },
    ],
    // Test rings are real calls: a SIP INVITE over TCP into the sandbox's livekit-sip bridge.
    dialer: new SippDialer(),
  };
}

async function main(): Promise<void> {
  const standIn = await startTelnyxStandIn(sandboxTelnyxOptions());
  console.log(`telnyx stand-in: ${standIn.url}`);
  const stop = async (signal: string) => {
    console.log(`telnyx stand-in: ${signal}, closing`);
    await standIn.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}

if (require.main === module) {
  main().catch((error) => {
    console.error(`telnyx stand-in failed to start: ${(error as Error).stack ?? error}`);
    process.exit(1);
  });
}
