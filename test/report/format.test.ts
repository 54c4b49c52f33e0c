import { describe, expect, it } from 'vitest';
import {
  esc,
  fmtCount,
  fmtDurationNs,
  fmtPercent,
  fmtRate,
  fmtRatio,
  fmtUs,
} from '../../src/report/format.js';

describe('report number formats', () => {
  it('never rounds a miss up to 100%', () => {
    expect(fmtPercent(1)).toBe('100%');
    expect(fmtPercent(0.99996)).toBe('99.99%');
    expect(fmtPercent(0.29)).toBe('29.00%');
    expect(fmtPercent(0)).toBe('0.00%');
  });

  it('gives latencies a precision that suits their size', () => {
    expect([3.456, 41.74, 224.4, 1873.2].map(fmtUs)).toEqual(['3.46', '41.7', '224', '1873']);
    expect(fmtUs(Number.NaN)).toBe('—');
  });

  it('shows a missing figure (null in the file, NaN in the bench) as a dash, never as 0 or "null"', () => {
    for (const none of [null, Number.NaN]) {
      expect([fmtUs(none), fmtPercent(none), fmtRatio(none)]).toEqual(['—', '—', '—']);
    }
  });

  it('writes durations, rates and counts in their units', () => {
    expect([100_000, 144_703, 2_500_000, 1.5e9, 800].map(fmtDurationNs)).toEqual([
      '100 µs',
      '144.703 µs',
      '2.5 ms',
      '1.5 s',
      '800 ns',
    ]);
    expect([1e9, 102_757_000, 2e5, 10].map(fmtRate)).toEqual([
      '1 Gbit/s',
      '102.757 Mbit/s',
      '200 kbit/s',
      '10 bit/s',
    ]);
    expect(fmtCount(1234567)).toBe('1,234,567');
  });

  it('escapes everything HTML treats specially', () => {
    expect(esc(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  });
});
