/**
 * Names and numbers no other test uses: test files run in parallel against one shared sandbox (LiveKit, the
 * Telnyx stand-in, PostgreSQL), so whatever a test creates must not collide with another test's objects.
 */
import * as crypto from 'crypto';

const pick = (low: number, high: number) => low + crypto.randomInt(high - low + 1);

/**
 * A random North American number in E.164: area code (or the one given) and exchange 200-999, never the
 * fictional 555 exchange (numbers with it are refused as not real).
 */
export function randomE164(areaCode: string = String(pick(200, 999))): string {
  let exchange = pick(200, 999);
  if (exchange === 555) exchange = 556;
  return `+1${areaCode}${exchange}${String(pick(0, 9999)).padStart(4, '0')}`;
}

export function uniqueName(what: string): string {
  return `test ${what} ${crypto.randomBytes(4).toString('hex')}`;
}
