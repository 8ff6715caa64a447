/**
 * The picker's answers that need no database and no browser: its form rules (every message names its field by
 * standing beside it), the numbers it shows (exact, no 555, most memorable first), an empty area code answered
 * with nearby ones, a city search, and links that were edited or expired. Telnyx is a fake that records searches.
 */
import Fastify from 'fastify';
import { numbersToShow, pastorPages, readSearchForm } from '../../webhook/pastor/pages';
import { signPastorLink } from '../../webhook/pastor/link';
import type { AvailableNumber, LocalNumberPlace, TelnyxClient } from '../../vendors/telnyx-client';

const SECRET = 'unit-test-pastor-link-secret-0123456789abcdef';
const available = (phoneNumber: string, bestEffort = false): AvailableNumber => ({
  phoneNumber,
  bestEffort,
  features: ['voice'],
  monthlyCost: '1.00',
  currency: 'USD',
});

async function pages(found: (place: LocalNumberPlace) => AvailableNumber[], now?: () => Date) {
  const searches: LocalNumberPlace[] = [];
  const telnyx = {
    searchLocalNumbers: async (place: LocalNumberPlace) => {
      searches.push(place);
      return found(place);
    },
  } as unknown as TelnyxClient;
  // As the service's server: a link's token is longer than fastify's default path parameter.
  const app = Fastify({ routerOptions: { maxParamLength: 1024 } });
  await app.register(pastorPages, {
    // A registry that knows no church: every church here is new.
    pool: { query: async () => ({ rows: [] }) } as never,
    linkSecret: SECRET,
    publicBaseUrl: 'http://127.0.0.1:8787',
    telnyx: () => telnyx,
    stripe: () => undefined,
    now,
  });
  return { app, searches };
}

const token = (now?: Date) =>
  signPastorLink(SECRET, { churchId: 'grace-dallas', churchName: 'Grace Dallas' }, { now, days: 1 });

describe('readSearchForm', () => {
  test.each([
    [{ areaCode: 'abc' }, 'areaCode', /digits only/],
    [{ areaCode: '21' }, 'areaCode', /3 digits, like 214 \(you typed 2\)/],
    [{ areaCode: '555' }, 'areaCode', /made-up numbers/],
    [{ areaCode: '911' }, 'areaCode', /service code/],
    [{ areaCode: '123' }, 'areaCode', /never start with 0 or 1/],
    [{ areaCode: '604' }, 'areaCode', /not a US area code/],
    [{}, 'areaCode', /area code, or a city and its state/],
    [{ city: 'Dallas' }, 'state', /2-letter state code/],
    [{ state: 'TX' }, 'city', /Type the city/],
    [{ city: '<script>', state: 'TX' }, 'city', /letters only/],
  ])('%j is refused beside %s', (raw, field, message) => {
    const form = readSearchForm(raw);
    expect(form.place).toBeUndefined();
    expect(form.errors[field as keyof typeof form.errors]).toMatch(message);
  });

  test('an area code, or a city and state, is a place to search', () => {
    expect(readSearchForm({ areaCode: ' 214 ' }).place).toEqual({ areaCode: '214' });
    expect(readSearchForm({ city: 'Fort Worth', state: 'tx' }).place).toEqual({
      locality: 'Fort Worth',
      administrativeArea: 'TX',
    });
  });
});

test('the numbers shown: exact matches in the area code only, never 555, most memorable first', () => {
  const shown = numbersToShow(
    [
      available('+12143981274'),
      available('+12145550123'),
      available('+14695550000', true),
      available('+12147770000'),
      available('+12142225000'),
    ],
    { areaCode: '214' },
  );
  expect(shown.map((n) => n.phoneNumber)).toEqual(['+12147770000', '+12142225000', '+12143981274']);
});

test('an area code with nothing to offer says so and offers nearby area codes', async () => {
  const { app, searches } = await pages(() => []);
  const response = await app.inject({ url: `/start/${token()}?areaCode=214` });
  expect(response.statusCode).toBe(200);
  expect(searches).toEqual([{ areaCode: '214' }]);
  expect(response.body).toContain('No numbers in area code 214 right now');
  for (const nearby of ['469', '972']) expect(response.body).toContain(`?areaCode=${nearby}"`);
  await app.close();
});

test('a city search lists formatted numbers with their monthly cost', async () => {
  const { app, searches } = await pages(() => [available('+14692001000'), available('+12145550123')]);
  const response = await app.inject({ url: `/start/${token()}?city=Dallas&state=TX` });
  expect(searches).toEqual([{ locality: 'Dallas', administrativeArea: 'TX' }]);
  expect(response.body).toContain('Numbers in Dallas, TX');
  expect(response.body).toContain('(469) 200-1000');
  expect(response.body).toContain('$1.00 a month');
  expect(response.body).not.toContain('555-0123');
  await app.close();
});

test('bad input answers 400 with the message beside the field, and searches nothing', async () => {
  const { app, searches } = await pages(() => []);
  const response = await app.inject({ url: `/start/${token()}?areaCode=55` });
  expect(response.statusCode).toBe(400);
  expect(response.body).toMatch(/aria-describedby="areaCode-error"/);
  expect(response.body).toMatch(/id="areaCode-error">An area code is 3 digits/);
  expect(searches).toEqual([]);
  await app.close();
});

test('an expired or edited link is refused with a sentence, and nothing is searched', async () => {
  const { app, searches } = await pages(() => [available('+12142001000')]);
  const expired = await app.inject({ url: `/start/${token(new Date(Date.now() - 2 * 24 * 3600_000))}?areaCode=214` });
  expect(expired.statusCode).toBe(403);
  expect(expired.body).toContain('this link has expired');
  const edited = await app.inject({ url: `/start/${token().replace(/.$/, 'A')}x?areaCode=214` });
  expect(edited.statusCode).toBe(403);
  expect(edited.body).toContain('this link is not valid');
  expect(searches).toEqual([]);
  expect(expired.body).not.toContain(SECRET);
  await app.close();
});
