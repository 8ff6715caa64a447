/**
 * Call Control webhooks as Telnyx sends them: JSON `{data:{event_type, id, occurred_at, payload, record_type}}`
 * signed with Ed25519 over `timestamp|body` (headers `telnyx-signature-ed25519`, `telnyx-timestamp`), so the SDK's
 * `client.webhooks.unwrap(body, {headers, key: publicKey})` verifies them. Each event is checked against its
 * schema in the spec. They are only ever sent to loopback addresses: any other URL is recorded, never contacted.
 */
import { generateKeyPairSync, randomUUID, sign, type KeyObject } from 'crypto';
import { validateTelnyxSchema } from './openapi';

export interface WebhookDelivery {
  eventType: string;
  url: string;
  body: unknown;
  at: string;
  /** HTTP status the receiver answered, when it was reached. */
  status?: number;
  /** Why it was not delivered (refused destination, connection error). */
  error?: string;
  /** Spec violations of the event itself (a stand-in bug; also reported through `onViolation`). */
  violations: string[];
}

/** Event types the stand-in emits, with the spec schema each envelope must match. */
export const CALL_EVENT_SCHEMAS = {
  'call.initiated': 'CallInitiatedEvent',
  'call.answered': 'CallAnsweredEvent',
  'call.hangup': 'CallHangupEvent',
} as const;
export type CallEventType = keyof typeof CALL_EVENT_SCHEMAS;

export function isLoopbackUrl(url: string): boolean {
  try {
    const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
    return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
  } catch {
    return false;
  }
}

export class WebhookSender {
  readonly deliveries: WebhookDelivery[] = [];
  /** Base64 of the raw 32-byte Ed25519 public key: what Mission Control shows and the SDK's `publicKey` takes. */
  readonly publicKey: string;
  private readonly privateKey: KeyObject;
  private readonly onViolation: (what: string, violations: string[]) => void;

  constructor(onViolation: (what: string, violations: string[]) => void) {
    const pair = generateKeyPairSync('ed25519');
    this.privateKey = pair.privateKey;
    // The SPKI DER of an Ed25519 key ends with the 32 raw key bytes.
    this.publicKey = pair.publicKey.export({ format: 'der', type: 'spki' }).subarray(-32).toString('base64');
    this.onViolation = onViolation;
  }

  async send(url: string, eventType: CallEventType, payload: Record<string, unknown>): Promise<WebhookDelivery> {
    const body = {
      data: {
        event_type: eventType,
        id: randomUUID(),
        occurred_at: new Date().toISOString(),
        payload,
        record_type: 'event',
      },
      meta: { attempt: 1, delivered_to: url },
    };
    const violations = validateTelnyxSchema(CALL_EVENT_SCHEMAS[eventType], body);
    if (violations.length) this.onViolation(`webhook ${eventType}`, violations);
    const delivery: WebhookDelivery = { eventType, url, body, at: body.data.occurred_at, violations };
    this.deliveries.push(delivery);
    if (!isLoopbackUrl(url)) {
      delivery.error =
        'not sent: the stand-in only delivers webhooks to loopback addresses (127.0.0.0/8, localhost, ::1)';
      return delivery;
    }
    const text = JSON.stringify(body);
    const timestamp = String(Math.floor(Date.now() / 1000));
    const signature = sign(null, Buffer.from(`${timestamp}|${text}`), this.privateKey).toString('base64');
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'telnyx-timestamp': timestamp,
          'telnyx-signature-ed25519': signature,
        },
        body: text,
        signal: AbortSignal.timeout(5000),
      });
      delivery.status = response.status;
      await response.arrayBuffer();
    } catch (error) {
      delivery.error = `delivery failed: ${(error as Error).message}`;
    }
    return delivery;
  }
}
