/** Loopback ports of the sandbox's peers. Each can be moved with the env variable named beside it. */
import { DEFAULT_SERVICE_PORT } from '../webhook/config';
const port = (env: string, fallback: number) => Number(process.env[env] ?? fallback);

export const SANDBOX_PORTS = {
  redis: port('SANDBOX_REDIS_PORT', 16379),
  livekit: port('SANDBOX_LIVEKIT_PORT', 7880),
  livekitRtcTcp: port('SANDBOX_LIVEKIT_RTC_TCP_PORT', 7881),
  sip: port('SANDBOX_SIP_PORT', 5060),
  postgres: port('SANDBOX_POSTGRES_PORT', 55432),
  postgrest: port('SANDBOX_POSTGREST_PORT', 54321),
  smtp: port('SANDBOX_SMTP_PORT', 1025),
  mailpitHttp: port('SANDBOX_MAILPIT_HTTP_PORT', 8025),
  telnyx: port('SANDBOX_TELNYX_PORT', 4010),
  stripeMock: port('SANDBOX_STRIPE_MOCK_PORT', 12111),
  webhook: port('SANDBOX_WEBHOOK_PORT', DEFAULT_SERVICE_PORT),
} as const;

/** livekit-server --dev keys; they only exist on loopback. */
export const SANDBOX_LIVEKIT_KEYS = { apiKey: 'devkey', apiSecret: 'secret' } as const;
