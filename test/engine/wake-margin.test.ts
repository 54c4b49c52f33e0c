// The learned spin margin (spinUs 'auto'): the estimator's rules, and the C copy the native engine
// thread runs (native/wake_margin.h) giving the same margin as the TS one after every sample.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  probeDue,
  WakeMargin,
  WM_GUARD_NS,
  WM_MIN_SAMPLES,
  WM_PROBE_AFTER_NS,
  WM_WINDOW,
} from '../../src/engine/wake-margin.js';

const US = 1000;
const feed = (m: WakeMargin, lateNs: number, n: number) => {
  for (let i = 0; i < n; i++) m.record(lateNs);
};

describe('WakeMargin', () => {
  it('keeps the initial margin until it has enough samples', () => {
    const m = new WakeMargin(30 * US, 5 * US, 100 * US);
    feed(m, 60 * US, WM_MIN_SAMPLES - 1);
    expect(m.marginNs).toBe(30 * US);
    expect(m.quantileNs).toBe(-1);
    m.record(60 * US);
    // 60 µs late → its bucket's upper edge (61 µs) plus the guard.
    expect(m.quantileNs).toBe(61 * US);
    expect(m.marginNs).toBe(61 * US + WM_GUARD_NS);
  });

  it('stays within its bounds: the minimum on a quiet machine, the maximum past it', () => {
    const quiet = new WakeMargin(30 * US, 5 * US, 100 * US);
    feed(quiet, 0, 256);
    expect(quiet.marginNs).toBe(Math.max(5 * US, 1 * US + WM_GUARD_NS));
    const slow = new WakeMargin(30 * US, 5 * US, 100 * US);
    feed(slow, 300 * US, 256);
    expect(slow.marginNs).toBe(100 * US);
    // Beyond the histogram (an overflow bucket): the maximum too, never a wrapped small value.
    const stalled = new WakeMargin(30 * US, 5 * US, 100 * US);
    feed(stalled, 50_000 * US, 256);
    expect(stalled.marginNs).toBe(100 * US);
    // Early wake-ups count as on time.
    const early = new WakeMargin(30 * US, 5 * US, 100 * US);
    feed(early, -20 * US, 256);
    expect(early.quantileNs).toBe(1 * US);
  });

  it('takes the 99.9th percentile: one late wake-up in a window of 1,024 is ignored, two are not', () => {
    const one = new WakeMargin(30 * US, 5 * US, 1000 * US);
    feed(one, 10 * US, WM_WINDOW - 64);
    feed(one, 10 * US, 63);
    one.record(400 * US); // the 1,024th sample: recomputed here
    expect(one.quantileNs).toBe(11 * US);
    const two = new WakeMargin(30 * US, 5 * US, 1000 * US);
    feed(two, 10 * US, WM_WINDOW - 2);
    feed(two, 400 * US, 2);
    expect(two.quantileNs).toBe(401 * US);
  });

  it('forgets what left the window: a burst of late wake-ups stops counting 1,024 samples later', () => {
    const m = new WakeMargin(30 * US, 5 * US, 100 * US);
    feed(m, 80 * US, WM_WINDOW);
    expect(m.marginNs).toBe(86 * US);
    feed(m, 10 * US, WM_WINDOW);
    expect(m.marginNs).toBe(11 * US + WM_GUARD_NS);
  });
});

describe('probeDue', () => {
  it('after WM_PROBE_AFTER_NS without a sample, where the gap is at least half the margin', () => {
    expect(probeDue(WM_PROBE_AFTER_NS - 1, 100 * US, 100 * US)).toBe(false);
    expect(probeDue(WM_PROBE_AFTER_NS, 100 * US, 100 * US)).toBe(true);
    expect(probeDue(WM_PROBE_AFTER_NS, 50 * US, 100 * US)).toBe(true);
    // Too close to the boundary: a late probe would make its frame late.
    expect(probeDue(WM_PROBE_AFTER_NS, 49 * US, 100 * US)).toBe(false);
    // Exact for odd margins too (no division to round): 2 × 1 ≥ 3 is false.
    expect(probeDue(WM_PROBE_AFTER_NS, 1, 3)).toBe(false);
  });
});

describe('native/wake_margin.h against src/engine/wake-margin.ts', () => {
  let dir = '';
  let driver = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'xlane-wm-'));
    driver = join(dir, 'wake-margin-driver');
    execFileSync(process.env.CC ?? 'cc', [
      '-O2',
      '-Wall',
      '-Werror',
      '-o',
      driver,
      join(import.meta.dirname, 'fixtures', 'wake-margin-driver.c'),
    ]);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const run = (initial: number, min: number, max: number, lates: number[]) =>
    execFileSync(driver, { input: `${initial} ${min} ${max}\n${lates.join('\n')}\n` })
      .toString()
      .trim()
      .split('\n')
      .map((l) => l.split(' ').map(Number));

  it('gives the same margin and quantile after every sample', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 200 }),
        fc.integer({ min: 0, max: 200 }),
        fc.integer({ min: 0, max: 2000 }),
        // Mostly a few tens of µs, some far out (stalls), some early: lengths past one window.
        fc.array(
          fc.oneof(fc.integer({ min: 0, max: 120_000 }), fc.integer({ min: -50_000, max: 5_000_000 })),
          { minLength: 1, maxLength: 2500 },
        ),
        (initialUs, minUs, maxUs, lates) => {
          const [lo, hi] = [minUs, maxUs]; // in any order: both clamp as min(max(v, lo), hi)
          const ts = new WakeMargin(initialUs * US, lo * US, hi * US);
          const c = run(initialUs * US, lo * US, hi * US, lates);
          expect(c.length).toBe(lates.length);
          for (const [i, late] of lates.entries()) {
            ts.record(late);
            expect([ts.marginNs, ts.quantileNs]).toEqual(c[i]);
          }
        },
      ),
      { numRuns: 40 },
    );
  });

  it('decides the same probes', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc.integer({ min: 0, max: 2 * WM_PROBE_AFTER_NS }),
            fc.integer({ min: -10_000, max: 200_000 }),
            fc.integer({ min: 0, max: 200_000 }),
          ),
          { minLength: 1, maxLength: 300 },
        ),
        (cases) => {
          const c = execFileSync(driver, ['probe'], {
            input: `${cases.map((t) => t.join(' ')).join('\n')}\n`,
          })
            .toString()
            .trim()
            .split('\n')
            .map((l) => l === '1');
          expect(c).toEqual(cases.map(([since, gap, margin]) => probeDue(since, gap, margin)));
        },
      ),
      { numRuns: 20 },
    );
  });
});
