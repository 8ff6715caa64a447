/**
 * The design document's phone-number gotchas, as rules every resource and route shares.
 * A rule returns a failure naming the field and the rule, or undefined when the value is fine.
 */

/** E.164 with the leading `+`: LiveKit matches the called number against a trunk's numbers exactly, `+` included. */
export const E164_PATTERN = /^\+[1-9]\d{7,14}$/;

/** NPA-reserved fiction numbers (movies/TV): they can never receive a call. */
export const FICTIONAL_555_PATTERN = /^\+1\d{3}555\d{4}$/;

/** A North American area code (NPA): three digits, not starting with 0 or 1. */
export const AREA_CODE_PATTERN = /^[2-9]\d{2}$/;

export interface RuleFailure {
  property: string;
  reason: string;
}

export function checkE164(property: string, value: unknown): RuleFailure | undefined {
  if (typeof value !== 'string' || !E164_PATTERN.test(value)) {
    return {
      property,
      reason:
        `${property} must be an E.164 number with a leading "+" (e.g. +14144007103), ` + `got ${JSON.stringify(value)}`,
    };
  }
  if (FICTIONAL_555_PATTERN.test(value)) {
    return {
      property,
      reason:
        `${property} ${value} is a 555 number (^\\+1\\d{3}555\\d{4}$): reserved for fiction, ` +
        `it can never receive a call`,
    };
  }
  return undefined;
}

/** +1, a valid area code, a valid exchange: what an exact US local number search can find and order. */
export const US_LOCAL_PATTERN = /^\+1[2-9]\d{2}[2-9]\d{6}$/;

/** A number to buy: E.164, not 555, and a US local number (other numbers are adopted, never ordered). */
export function checkOrderableNumber(property: string, value: unknown): RuleFailure | undefined {
  const failure = checkE164(property, value);
  if (failure) return failure;
  if (!US_LOCAL_PATTERN.test(value as string)) {
    return {
      property,
      reason:
        `${property} ${value} cannot be bought here: ` +
        `only US local numbers (+1, area code, exchange not starting with 0 or 1) are ordered; ` +
        `adopt other numbers with adoptId`,
    };
  }
  return undefined;
}

export function checkAreaCode(property: string, value: unknown): RuleFailure | undefined {
  if (typeof value !== 'string' || !AREA_CODE_PATTERN.test(value)) {
    return {
      property,
      reason:
        `${property} must be a 3-digit North American area code not starting with 0 or 1, ` +
        `got ${JSON.stringify(value)}`,
    };
  }
  return undefined;
}

export function isFictional555(number: string): boolean {
  return FICTIONAL_555_PATTERN.test(number);
}

/** Telnyx filters phone numbers by digits only (no `+`). */
export function telnyxDigits(e164: string): string {
  return e164.replace(/^\+/, '');
}
