import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { XlaneError } from '../../src/errors.js';
import {
  canonicalDuration,
  canonicalRate,
  canonicalSize,
  formatDuration,
  formatRate,
  formatSize,
  parseDuration,
  parseRate,
  parseSize,
} from '../../src/util/units.js';

function failure(fn: () => unknown): XlaneError {
  try {
    fn();
  } catch (err) {
    if (err instanceof XlaneError) return err;
    throw err;
  }
  throw new Error('expected an XlaneError');
}

describe('parseRate', () => {
  it.each([
    [1500, 1500],
    ['1500', 1500],
    ['1bit', 1],
    ['10Kbit', 10e3],
    ['100Mbit', 100e6],
    ['10Gbit', 10e9],
    ['1.5Tbit', 1.5e12],
    ['1Gbps', 1e9],
    ['2.5 Gbit/s', 2.5e9],
    ['40Gb/s', 40e9],
    ['25mbps', 25e6],
    ['1e3Mbit', 1e9],
  ])('%j → %d bit/s', (input, expected) => {
    expect(parseRate(input)).toBe(expected);
  });

  it.each([
    ['1GB/s', 'rates are in bits'],
    ['10Gbx', 'unknown unit "Gbx"'],
    ['-1Gbit', 'must not be negative'],
    ['fast', 'expected a number followed by a unit'],
    ['', 'expected a number followed by a unit'],
  ])('refuses %j (%s)', (input, why) => {
    const err = failure(() => parseRate(input));
    expect(err.code).toBe('XL_ERR_VALIDATION');
    expect(err.message).toContain(JSON.stringify(input));
    expect(err.message).toContain(why);
  });

  it('refuses non-finite numbers and other types', () => {
    expect(failure(() => parseRate(Number.POSITIVE_INFINITY)).message).toContain('not a finite number');
    expect(failure(() => parseRate(Number.NaN)).message).toContain('not a finite number');
    expect(failure(() => parseRate(true)).message).toContain('expected a number');
  });
});

describe('parseDuration', () => {
  it.each([
    [250, 250],
    ['100ns', 100],
    ['1.5us', 1500],
    ['20µs', 20_000],
    ['20μs', 20_000],
    ['0.07us', 70],
    ['2ms', 2e6],
    ['1s', 1e9],
    ['0.5ns', 0.5],
    ['.5us', 500],
  ])('%j → %d ns', (input, expected) => {
    expect(parseDuration(input)).toBe(expected);
  });

  it.each([
    ['5 minutes', 'unknown unit "minutes"'],
    ['10MS', 'unknown unit "MS"'],
    ['-3ns', 'must not be negative'],
  ])('refuses %j', (input, why) => {
    const err = failure(() => parseDuration(input));
    expect(err.message).toContain(JSON.stringify(input));
    expect(err.message).toContain(why);
  });
});

describe('parseSize', () => {
  it.each([
    [1538, 1538],
    ['1538B', 1538],
    ['1KB', 1000],
    ['1kB', 1000],
    ['1.5MB', 1.5e6],
    ['1GB', 1e9],
    ['256KiB', 262_144],
    ['1MiB', 1_048_576],
    ['1.5KiB', 1536],
    ['2GiB', 2 * 1024 ** 3],
  ])('%j → %d bytes', (input, expected) => {
    expect(parseSize(input)).toBe(expected);
  });

  it.each([
    ['1Mb', 'sizes are in bytes'],
    ['0.1KiB', 'not a whole number of bytes'],
    ['12 parsecs', 'unknown unit'],
    [-5, 'must not be negative'],
  ])('refuses %j', (input, why) => {
    expect(failure(() => parseSize(input)).message).toContain(why);
  });
});

describe('formatting for people', () => {
  it('picks the largest unit and rounds to three decimals', () => {
    expect(formatRate(10e9)).toBe('10Gbit');
    expect(formatRate(1.25e6)).toBe('1.25Mbit');
    expect(formatRate(999)).toBe('999bit');
    expect(formatDuration(11_440)).toBe('11.44µs');
    expect(formatDuration(100)).toBe('100ns');
    expect(formatDuration(1_234_567)).toBe('1.235ms');
    expect(formatSize(262_144)).toBe('256KiB');
    expect(formatSize(1538)).toBe('1538B');
    expect(formatSize(1_500_000)).toBe('1.5MB');
  });
});

describe('canonical strings (used when writing files)', () => {
  it('prefer readable units', () => {
    expect(canonicalRate(40e9)).toBe('40Gbit');
    expect(canonicalRate(2.5e9)).toBe('2.5Gbit');
    expect(canonicalDuration(1500)).toBe('1.5us');
    expect(canonicalDuration(100)).toBe('100ns');
    expect(canonicalSize(262_144)).toBe('256KiB');
    expect(canonicalSize(1538)).toBe('1538B');
  });

  const rates = fc.oneof(
    fc.integer({ min: 0, max: 2 ** 53 - 1 }),
    fc.double({ min: 0, max: 1e15, noNaN: true }),
  );
  const durations = fc.oneof(
    fc.integer({ min: 0, max: 1e12 }),
    fc.double({ min: 0, max: 1e12, noNaN: true }),
  );

  it('parse back to exactly the same number (property)', () => {
    fc.assert(fc.property(rates, (x) => parseRate(canonicalRate(x)) === x));
    fc.assert(fc.property(durations, (x) => parseDuration(canonicalDuration(x)) === x));
    fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 40 }), (x) => parseSize(canonicalSize(x)) === x));
  });
});
