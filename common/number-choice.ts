/**
 * How the pastor's number picker shows and orders the numbers Telnyx offers (issue 13): written the way people read
 * them, the easiest to remember first.
 *
 * Why this order: a church prints its number on signs, bulletins and its website, and people dial it from memory,
 * so among numbers that cost the same the one that is quickest to say and recall serves the church best. Only the
 * last seven digits are scored: every number on the page is in the area code the pastor asked for. Points add up:
 *
 *   round ending       ...0000 40, ...5000 32, ...X000 28, ...X500 18, ...X00 12: people keep round numbers, and
 *                      a half thousand is nearly as round as a thousand
 *   one digit in a row three 6, four 26, five 32, six 38, seven 44 (...7777); zeros ending the number are already
 *                      its round ending and do not count again
 *   few digits         the seven digits use only one (30), two (18) or three (8) different digits: less to recall
 *   repeated pair      the last four are one pair twice (...1212) 16: recalled as two digits, said as a rhythm
 *   digits in order    four ascending or descending (...1234, ...9876) 16, and 6 more for each further digit
 *
 * Ties go to the lower number, so the page lists the same numbers in the same order on every load.
 */
import { US_LOCAL_PATTERN, isFictional555 } from './phone-numbers';

/** `+12145550100` -> `(214) 555-0100`, the way the pastor and the church's callers read a number. */
export function formatUsNumber(e164: string): string {
  const digits = nanpDigits(e164, 'formatUsNumber');
  return `(${digits.slice(0, 3)}) ${digits.slice(3, 6)}-${digits.slice(6)}`;
}

export interface Memorability {
  /** Higher is easier to remember; 0 for a number with nothing to hold on to. */
  score: number;
  /** What makes it memorable, the strongest first, in words the page shows beside the number ("ends in 0000"). */
  reasons: string[];
}

/** How easy `e164` is to remember: the rules at the top of this file. */
export function memorability(e164: string): Memorability {
  const last7 = nanpDigits(e164, 'memorability').slice(3);
  const found: Found[] = [];

  const zeros = last7.length - last7.replace(/0+$/, '').length;
  const round = roundEnding(last7.slice(3), zeros);
  if (round) found.push(round);

  const run = longestRepeat(last7, zeros);
  if (run.length >= 3) {
    found.push({
      points: [6, 26, 32, 38, 44][run.length - 3],
      reason: `${NUMBER_WORDS[run.length]} ${run.digit}s in a row`,
    });
  }

  const distinct = new Set(last7).size;
  if (distinct <= 3) {
    found.push({
      points: [30, 18, 8][distinct - 1],
      reason: distinct === 1 ? 'only one digit' : `only ${NUMBER_WORDS[distinct]} different digits`,
    });
  }

  const line = last7.slice(3);
  if (line.slice(0, 2) === line.slice(2) && line[0] !== line[1]) {
    found.push({ points: 16, reason: `${line} repeats ${line.slice(0, 2)}` });
  }

  const sequence = longestSequence(last7);
  if (sequence.length >= 4) found.push({ points: 16 + 6 * (sequence.length - 4), reason: `${sequence} in order` });

  found.sort((a, b) => b.points - a.points);
  return { score: found.reduce((sum, { points }) => sum + points, 0), reasons: found.map(({ reason }) => reason) };
}

/**
 * `numbers` easiest to remember first, ties by the number itself; the input is not changed. 555 numbers are left
 * out: they are reserved for fiction and can never receive a call, so the picker must never offer one.
 */
export function rankNumbers<T extends { phoneNumber: string }>(numbers: T[]): T[] {
  return numbers
    .filter(({ phoneNumber }) => !isFictional555(phoneNumber))
    .map((item) => ({ item, score: memorability(item.phoneNumber).score }))
    .sort(
      (a, b) =>
        b.score - a.score ||
        (a.item.phoneNumber < b.item.phoneNumber ? -1 : a.item.phoneNumber > b.item.phoneNumber ? 1 : 0),
    )
    .map(({ item }) => item);
}

const NUMBER_WORDS = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven'];

/** The ten national digits of a +1 number, or an error naming the input: the page must never show a wrong number. */
function nanpDigits(e164: string, caller: string): string {
  if (typeof e164 !== 'string' || !US_LOCAL_PATTERN.test(e164)) {
    throw new Error(
      `${caller}: ${JSON.stringify(e164)} is not a North American number in E.164 form ` +
        `("+1" then 10 digits, the area code and the exchange not starting with 0 or 1, e.g. +12145550100)`,
    );
  }
  return e164.slice(2);
}

/** A point-scoring feature of a number and the words the page shows for it. */
interface Found {
  points: number;
  reason: string;
}

function roundEnding(line: string, zeros: number): Found | undefined {
  if (zeros >= 4) return { points: 40, reason: 'ends in 0000' };
  if (zeros === 3) return { points: line[0] === '5' ? 32 : 28, reason: `ends in ${line}` };
  if (zeros === 2) return { points: line[1] === '5' ? 18 : 12, reason: line[1] === '5' ? 'ends in 500' : 'ends in 00' };
  return undefined;
}

/** The longest run of one digit, leaving out the zeros that end the number (scored as its round ending). */
function longestRepeat(digits: string, trailingZeros: number): { digit: string; length: number } {
  let best = { digit: '', length: 0 };
  for (const match of digits.slice(0, digits.length - trailingZeros).matchAll(/(\d)\1*/g)) {
    if (match[0].length > best.length) best = { digit: match[1], length: match[0].length };
  }
  return best;
}

/** The longest stretch of digits each one more, or each one less, than the one before (1234, 9876). */
function longestSequence(digits: string): string {
  let best = digits.slice(0, 1);
  for (const step of [1, -1]) {
    let start = 0;
    for (let i = 1; i <= digits.length; i++) {
      if (i < digits.length && Number(digits[i]) - Number(digits[i - 1]) === step) continue;
      if (i - start > best.length) best = digits.slice(start, i);
      start = i;
    }
  }
  return best;
}
