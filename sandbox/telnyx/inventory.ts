/**
 * The numbers the stand-in has for sale. Area codes given explicitly hold exactly those numbers (a test can sell
 * them out); any other area code is stocked on first search with numbers generated from a seed, and topped up after
 * purchases, the way Telnyx always has more. Generated numbers never use the 555 exchange (fiction, cannot ring)
 * nor N11 service codes, and the seed is random per instance so two stand-ins never offer the same numbers.
 */
import { createHash, randomBytes } from 'crypto';
import { AREA_CODE_PATTERN, E164_PATTERN, isFictional555 } from '../../common/phone-numbers';

export interface InventoryOptions {
  /** Exact numbers for sale per area code (E.164). These area codes are never topped up. */
  byAreaCode?: Record<string, string[]>;
  /** Seed for generated numbers; default random, so two stand-ins differ. Same seed, same numbers. */
  seed?: string;
  /** Numbers a search of an area code not in `byAreaCode` finds (kept topped up). Default 3; 0 = none. */
  generatedPerAreaCode?: number;
  /**
   * `best_effort: true` results from other area codes added to a search, unless `filter[best_effort]=false`.
   * Default 2.
   */
  bestEffortPerSearch?: number;
}

/** Features every local number here has (the spec's feature names). */
export const LOCAL_NUMBER_FEATURES = ['sms', 'mms', 'voice', 'fax', 'emergency', 'hd_voice'] as const;

/** Area codes searched when a search names none, and the pool best-effort results come from. */
const DEFAULT_AREA_CODES = ['312', '414', '469', '747'];

/**
 * Where a few area codes are, for `region_information` and for searches by city (`filter[locality]`) and state
 * (`filter[administrative_area]`); others report the country only, and a search by place never finds them.
 */
const AREA_CODE_REGIONS: Record<string, { state: string; rateCenter: string; locality: string }> = {
  '214': { state: 'TX', rateCenter: 'DALLAS', locality: 'Dallas' },
  '312': { state: 'IL', rateCenter: 'CHICAGO ZONE 1', locality: 'Chicago' },
  '414': { state: 'WI', rateCenter: 'MILWAUKEE', locality: 'Milwaukee' },
  '469': { state: 'TX', rateCenter: 'DALLAS', locality: 'Dallas' },
  '512': { state: 'TX', rateCenter: 'AUSTIN', locality: 'Austin' },
  '747': { state: 'CA', rateCenter: 'LOS ANGELES', locality: 'Los Angeles' },
  '972': { state: 'TX', rateCenter: 'DALLAS', locality: 'Dallas' },
};

export interface AvailableNumber {
  phoneNumber: string;
  areaCode: string;
  features: string[];
}

export interface NumberSearch {
  countryCode?: string;
  areaCode?: string;
  phoneNumberType?: string;
  features?: string[];
  limit?: number;
  bestEffort?: boolean;
  startsWith?: string;
  endsWith?: string;
  contains?: string;
  /** City, matched without regard to case against the area codes whose place is known. */
  locality?: string;
  /** US state (two letters), matched the same way. */
  administrativeArea?: string;
  /** Leaves out numbers this says are held (`filter[exclude_held_numbers]`); the inventory knows no holds. */
  excludeHeld?: (phoneNumber: string) => boolean;
}

export interface SearchHit {
  number: AvailableNumber;
  bestEffort: boolean;
}

/** The `available_phone_number` record the API returns for a hit. */
export function renderAvailableNumber(hit: SearchHit): Record<string, unknown> {
  const region = AREA_CODE_REGIONS[hit.number.areaCode];
  return {
    record_type: 'available_phone_number',
    phone_number: hit.number.phoneNumber,
    vanity_format: '',
    best_effort: hit.bestEffort,
    quickship: true,
    reservable: true,
    region_information: [
      { region_type: 'country_code', region_name: 'US' },
      ...(region
        ? [
            { region_type: 'rate_center', region_name: region.rateCenter },
            { region_type: 'state', region_name: region.state },
          ]
        : []),
    ],
    cost_information: { upfront_cost: '1.00', monthly_cost: '1.00', currency: 'USD' },
    features: hit.number.features.map((name) => ({ name })),
  };
}

/** Deterministic 32-bit stream from a string seed (mulberry32 over a sha256-derived state). */
function randomStream(seed: string): () => number {
  let state = createHash('sha256').update(seed).digest().readUInt32LE(0);
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class NumberInventory {
  /** Numbers for sale, per area code. */
  readonly available = new Map<string, AvailableNumber[]>();
  /** Numbers ordered (no longer for sale), with the order that took them. */
  readonly sold = new Map<string, string>();
  readonly seed: string;
  private readonly fixedAreaCodes: Set<string>;
  private readonly generatedPerAreaCode: number;
  private readonly bestEffortPerSearch: number;
  private readonly random: () => number;

  constructor(options: InventoryOptions = {}) {
    this.seed = options.seed ?? randomBytes(8).toString('hex');
    this.random = randomStream(this.seed);
    this.generatedPerAreaCode = options.generatedPerAreaCode ?? 3;
    this.bestEffortPerSearch = options.bestEffortPerSearch ?? 2;
    this.fixedAreaCodes = new Set(Object.keys(options.byAreaCode ?? {}));
    for (const [areaCode, numbers] of Object.entries(options.byAreaCode ?? {})) {
      // 555 numbers are allowed on purpose: a test may offer one to prove the client refuses fiction numbers.
      const bad = numbers.find((n) => !E164_PATTERN.test(n));
      if (bad !== undefined)
        throw new Error(`inventory.byAreaCode.${areaCode}: ${JSON.stringify(bad)} is not E.164 with a leading "+"`);
      this.available.set(
        areaCode,
        numbers.map((phoneNumber) => ({ phoneNumber, areaCode, features: [...LOCAL_NUMBER_FEATURES] })),
      );
    }
  }

  private knows(phoneNumber: string): boolean {
    if (this.sold.has(phoneNumber)) return true;
    for (const list of this.available.values()) if (list.some((n) => n.phoneNumber === phoneNumber)) return true;
    return false;
  }

  private generateNumber(areaCode: string): string {
    for (;;) {
      const exchange = String(200 + Math.floor(this.random() * 800));
      const line = String(Math.floor(this.random() * 10000)).padStart(4, '0');
      const candidate = `+1${areaCode}${exchange}${line}`;
      const serviceCode = exchange.endsWith('11');
      if (!serviceCode && !isFictional555(candidate) && !this.knows(candidate)) return candidate;
    }
  }

  /** Stocks an area code up to its generated size (never for area codes given explicitly). */
  private stock(areaCode: string): AvailableNumber[] {
    const list = this.available.get(areaCode) ?? [];
    this.available.set(areaCode, list);
    if (this.fixedAreaCodes.has(areaCode) || !AREA_CODE_PATTERN.test(areaCode)) return list;
    while (list.length < this.generatedPerAreaCode) {
      list.push({ phoneNumber: this.generateNumber(areaCode), areaCode, features: [...LOCAL_NUMBER_FEATURES] });
    }
    return list;
  }

  isAvailable(phoneNumber: string): boolean {
    for (const list of this.available.values()) if (list.some((n) => n.phoneNumber === phoneNumber)) return true;
    return false;
  }

  /** Takes a number off sale for an order. */
  sell(phoneNumber: string, orderId: string): void {
    for (const [areaCode, list] of this.available) {
      const remaining = list.filter((n) => n.phoneNumber !== phoneNumber);
      if (remaining.length !== list.length) this.available.set(areaCode, remaining);
    }
    this.sold.set(phoneNumber, orderId);
  }

  /** Whether an area code lies in the city and state a search names (no place named: every area code does). */
  private inPlace(areaCode: string, criteria: NumberSearch): boolean {
    if (criteria.locality === undefined && criteria.administrativeArea === undefined) return true;
    const region = AREA_CODE_REGIONS[areaCode];
    const same = (a: string, b: string | undefined) => b === undefined || a.toLowerCase() === b.trim().toLowerCase();
    return (
      region !== undefined &&
      same(region.locality, criteria.locality) &&
      same(region.state, criteria.administrativeArea)
    );
  }

  search(criteria: NumberSearch): SearchHit[] {
    const country = (criteria.countryCode ?? 'US').toUpperCase();
    const type = criteria.phoneNumberType ?? 'local';
    // Only US local numbers are stocked: any other country or type finds nothing, as a sold-out search would.
    if (country !== 'US' || type !== 'local') return [];
    const prefix = criteria.startsWith?.replace(/^\+/, '');
    const matches = (n: AvailableNumber) => {
      const digits = n.phoneNumber.replace(/^\+/, '');
      // A prefix may be written with or without the country code 1.
      const national = digits.slice(1);
      return (
        (criteria.features ?? []).every((f) => n.features.includes(f)) &&
        (!prefix || digits.startsWith(prefix) || national.startsWith(prefix)) &&
        (!criteria.endsWith || digits.endsWith(criteria.endsWith)) &&
        (!criteria.contains || digits.includes(criteria.contains)) &&
        !criteria.excludeHeld?.(n.phoneNumber)
      );
    };
    const byPlace = criteria.locality !== undefined || criteria.administrativeArea !== undefined;
    const inPlace = (code: string) => this.inPlace(code, criteria);
    const exactAreaCodes = criteria.areaCode
      ? [criteria.areaCode].filter(inPlace)
      : byPlace
        ? Object.keys(AREA_CODE_REGIONS).filter(inPlace)
        : DEFAULT_AREA_CODES;
    const exact = exactAreaCodes.flatMap((code) => this.stock(code)).filter(matches);
    let bestEffort: AvailableNumber[] = [];
    // Near matches pad a search that names a place (an area code, a city or a state), as Telnyx's do.
    if ((criteria.areaCode || byPlace) && criteria.bestEffort !== false && this.bestEffortPerSearch > 0) {
      const others = [...new Set([...this.fixedAreaCodes, ...DEFAULT_AREA_CODES])].filter(
        (code) => code !== criteria.areaCode && !exactAreaCodes.includes(code),
      );
      bestEffort = others
        .flatMap((code) => this.stock(code))
        .filter(matches)
        .slice(0, this.bestEffortPerSearch);
    }
    const hits = [
      ...exact.map((number) => ({ number, bestEffort: false })),
      ...bestEffort.map((number) => ({ number, bestEffort: true })),
    ];
    return criteria.limit !== undefined ? hits.slice(0, Math.max(0, criteria.limit)) : hits;
  }
}
