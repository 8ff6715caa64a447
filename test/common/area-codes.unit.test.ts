/**
 * The area codes the picker offers when Telnyx has no number in the one the pastor typed: the same state, overlays
 * first, then the nearest. Pure table look-ups, no network.
 */
import { nearbyAreaCodes, stateOfAreaCode } from '../../common/area-codes';
import { AREA_CODE_PATTERN } from '../../common/phone-numbers';

describe('stateOfAreaCode', () => {
  it.each([
    ['TX', '214 469 972 945 512 737'],
    ['IL', '312 773 872'],
    ['WI', '414 262 608'],
    ['CA', '747 818 213 323'],
    ['OH', '216 440 330 234'],
    ['PR', '787 939'],
  ])('%s: %s', (state, codes) => {
    for (const npa of codes.split(' ')) expect([npa, stateOfAreaCode(npa)]).toEqual([npa, state]);
  });

  it.each(['416', '604', '876', '800', '555', '999', '123', '21', '2140', 'abc', ''])(
    'knows nothing of %j (Canada, the Caribbean, toll-free, unused, not an area code)',
    (npa) => {
      expect(stateOfAreaCode(npa)).toBeUndefined();
    },
  );
});

describe('nearbyAreaCodes', () => {
  it('offers Dallas its overlays first, then Fort Worth before El Paso, and never 214 itself', () => {
    const nearby = nearbyAreaCodes('214');
    expect(nearby.slice(0, 3)).toEqual(['469', '945', '972']);
    expect(nearby).not.toContain('214');
    expect(nearby.indexOf('817')).toBeLessThan(nearby.indexOf('915'));
    expect(nearby).toEqual(expect.arrayContaining(['512', '713', '210']));
  });

  it.each([
    ['469', ['214', '945', '972']],
    ['512', ['737']],
    ['737', ['512']],
    ['312', ['872']],
    ['773', ['872']],
    ['872', ['312', '773']],
    ['818', ['747']],
    ['213', ['323', '738']],
    ['330', ['234']],
    ['608', ['353']],
  ])('%s: overlays %j first', (npa, overlays) => {
    expect(nearbyAreaCodes(npa).slice(0, overlays.length)).toEqual(overlays);
  });

  it('offers each city its neighbours before the far side of the state', () => {
    const chicago = nearbyAreaCodes('312');
    expect(chicago.indexOf('773')).toBeLessThan(chicago.indexOf('618'));
    const milwaukee = nearbyAreaCodes('414');
    expect(milwaukee[0]).toBe('262');
    const losAngeles = nearbyAreaCodes('323');
    expect(losAngeles.indexOf('818')).toBeLessThan(losAngeles.indexOf('916'));
    const cleveland = nearbyAreaCodes('216');
    expect(cleveland.slice(0, 4)).toEqual(expect.arrayContaining(['440', '330', '234']));
  });

  it('returns [] for a code it does not know', () => {
    for (const npa of ['416', '999', '123', 'abc', '']) expect(nearbyAreaCodes(npa)).toEqual([]);
  });

  it('returns [] where the state has no other code', () => {
    expect(nearbyAreaCodes('907')).toEqual([]);
  });

  it('only ever offers other codes of the same state, each once, all real area codes', () => {
    let known = 0;
    for (let n = 200; n <= 999; n++) {
      const npa = String(n);
      const state = stateOfAreaCode(npa);
      if (!state) continue;
      known++;
      expect(npa).toMatch(AREA_CODE_PATTERN);
      const nearby = nearbyAreaCodes(npa);
      expect(nearby).not.toContain(npa);
      expect(new Set(nearby).size).toBe(nearby.length);
      for (const other of nearby) expect([other, stateOfAreaCode(other)]).toEqual([other, state]);
    }
    expect(known).toBe(375);
  });
});
