/**
 * What the pastor sees in the number picker: numbers written the way people read them, and the easiest to remember
 * listed first with the words that say why. Pure functions, no network.
 */
import { formatUsNumber, memorability, rankNumbers } from '../../common/number-choice';

describe('formatUsNumber', () => {
  it('writes a +1 number the way people read it', () => {
    expect(formatUsNumber('+12145550100')).toBe('(214) 555-0100');
    expect(formatUsNumber('+14144007103')).toBe('(414) 400-7103');
  });

  it.each([
    ['+442071234567', 'not North American'],
    ['2145550100', 'no leading +'],
    ['+1214555010', 'a digit short'],
    ['+121455501000', 'a digit long'],
    ['+11145550100', 'area code starting with 1'],
    ['+12140550100', 'exchange starting with 0'],
    ['(214) 555-0100', 'already formatted'],
    ['', 'empty'],
  ])('refuses %s (%s), naming it', (input) => {
    expect(() => formatUsNumber(input)).toThrow(JSON.stringify(input));
    expect(() => formatUsNumber(input)).toThrow(/not a North American number/);
  });
});

describe('memorability', () => {
  it.each([
    ['+12145230000', 'ends in 0000'],
    ['+12145235000', 'ends in 5000'],
    ['+12145233000', 'ends in 3000'],
    ['+12145232500', 'ends in 500'],
    ['+12145234200', 'ends in 00'],
    ['+12145237777', 'four 7s in a row'],
    ['+12145231212', '1212 repeats 12'],
    ['+12145231234', '1234 in order'],
    ['+12148239876', '9876 in order'],
  ])('%s: %s', (number, reason) => {
    const { score, reasons } = memorability(number);
    expect(reasons).toEqual([reason]);
    expect(score).toBeGreaterThan(0);
  });

  it('gives a number with nothing to hold on to no score and no reasons', () => {
    expect(memorability('+12148237461')).toEqual({ score: 0, reasons: [] });
  });

  it('adds up every reason, the strongest first', () => {
    expect(memorability('+12147777777')).toEqual({ score: 74, reasons: ['seven 7s in a row', 'only one digit'] });
    expect(memorability('+12142000000').reasons).toEqual(['ends in 0000', 'only two different digits']);
  });

  it('does not count the zeros of a round ending again as a run', () => {
    expect(memorability('+12145230000').reasons).not.toContain('four 0s in a row');
    expect(memorability('+12142000183').reasons).toEqual(['three 0s in a row']);
  });

  it('scores only the last seven digits: the area code is the same for every number on the page', () => {
    expect(memorability('+17778237461')).toEqual({ score: 0, reasons: [] });
    expect(memorability('+12345609000').reasons).toEqual(['ends in 9000']);
  });

  it('refuses a number that is not +1, naming it', () => {
    expect(() => memorability('+442071234567')).toThrow('"+442071234567"');
  });
});

describe('rankNumbers', () => {
  const offered = (...numbers: string[]) => numbers.map((phoneNumber) => ({ phoneNumber, monthlyCost: '1.00' }));
  const order = (numbers: { phoneNumber: string }[]) => rankNumbers(numbers).map(({ phoneNumber }) => phoneNumber);

  it('puts ...0000 above a random number', () => {
    expect(order(offered('+12148237461', '+12145230000'))).toEqual(['+12145230000', '+12148237461']);
  });

  it('orders round endings ...0000 > ...5000 > ...000 > ...500 > ...00 > none', () => {
    const ranked = ['+12145230000', '+12145235000', '+12145233000', '+12145232500', '+12145234200', '+12148237461'];
    expect(order(offered(...[...ranked].reverse()))).toEqual(ranked);
  });

  it('puts a number of one repeated digit first of all', () => {
    expect(order(offered('+12145230000', '+12147777777', '+12148237461'))[0]).toBe('+12147777777');
  });

  it('breaks ties by the number itself, whatever order Telnyx listed them in', () => {
    const tied = ['+12148237461', '+12146237461', '+12147237461'];
    expect(order(offered(...tied))).toEqual(['+12146237461', '+12147237461', '+12148237461']);
    expect(order(offered(...[...tied].reverse()))).toEqual(['+12146237461', '+12147237461', '+12148237461']);
  });

  it('keeps what the caller attached to each number and leaves the input as it was', () => {
    const input = offered('+12148237461', '+12145230000');
    const copy = structuredClone(input);
    expect(rankNumbers(input)[0]).toBe(input[1]);
    expect(input).toEqual(copy);
  });

  it('never offers a 555 number, however memorable', () => {
    expect(order(offered('+12145550000', '+12148237461'))).toEqual(['+12148237461']);
  });

  it('refuses a list holding a number that is not +1', () => {
    expect(() => rankNumbers(offered('+12145230000', '+442071234567'))).toThrow('"+442071234567"');
  });
});
