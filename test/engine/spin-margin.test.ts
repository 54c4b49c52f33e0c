// Both engines with spinUs 'auto' (the default) learn their spin margin from their own timed sleeps
// toward a heartbeat lane's boundaries, and report it; a fixed spinUs stays what it was asked to be.
import { afterEach, describe, expect, it } from 'vitest';
import { createJsEngine } from '../../src/engine/js/engine.js';
import { spinStatsOf } from '../../src/engine/native/select.js';
import { type SpinSetting, spinReport } from '../../src/engine/spin-setting.js';
import type { Engine } from '../../src/engine/types.js';
import { WM_GUARD_NS, WM_MIN_SAMPLES } from '../../src/engine/wake-margin.js';
import { freeUdpPort, heartbeatSender, waitFor } from './helpers.js';
import { nativeEngine, skipReason } from './native-helpers.js';

const LO = '127.0.0.1';
const PERIOD_NS = 1_000_000;

const kinds: {
  name: string;
  skip: string;
  make: (o: { spinUs?: SpinSetting; maxSpinUs?: number }) => Engine;
}[] = [
  { name: 'js', skip: '', make: (o) => createJsEngine(o) },
  { name: 'native', skip: skipReason, make: (o) => nativeEngine({ receive: 'blocking', ...o }) },
];

describe.each(kinds)('$name engine: the spin margin', ({ skip, make }) => {
  const open: Engine[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((e) => e.close()));
  });

  async function heartbeating(o: { spinUs?: SpinSetting; maxSpinUs?: number }, periodNs = PERIOD_NS) {
    const e = make(o);
    open.push(e);
    await e.start({ bindAddress: LO, port: await freeUdpPort() });
    // Nobody listens there: the frames are only something to keep time for.
    e.setSender(heartbeatSender(await freeUdpPort(), { periodNs }));
    return e;
  }

  /** Waits for the first estimate, then stops the lane, so the figures read next belong together. */
  async function learned(e: Engine) {
    await waitFor(
      () => (spinStatsOf(e)?.wakeSamples ?? 0) >= WM_MIN_SAMPLES,
      'timed sleeps toward boundaries',
    );
    e.removeSender('HB');
    await new Promise((r) => setTimeout(r, 20));
    return spinStatsOf(e)!;
  }

  it.skipIf(skip !== '')('auto (default): learned from the wake-ups, within its bounds', async () => {
    const e = await heartbeating({});
    const s = await learned(e);
    expect(s.auto).toBe(true);
    expect(s.wakeLateQuantileNs).toBeGreaterThan(0);
    expect(s.marginNs).toBe(Math.min(100_000, Math.max(5_000, s.wakeLateQuantileNs + WM_GUARD_NS)));
    const r = spinReport(s);
    expect(r.marginUs).toBe(s.marginNs / 1000);
    expect(r.wakeLateP999Us).toBe(s.wakeLateQuantileNs / 1000);
  });

  it.skipIf(skip !== '')('auto with maxSpinUs: never above it', async () => {
    const e = await heartbeating({ spinUs: 'auto', maxSpinUs: 7 });
    const s = await learned(e);
    expect(s.marginNs).toBeLessThanOrEqual(7_000);
    expect(s.marginNs).toBe(Math.min(7_000, Math.max(5_000, s.wakeLateQuantileNs + WM_GUARD_NS)));
  });

  it.skipIf(skip !== '')(
    'auto: a margin longer than the period still learns, from a short probe sleep now and then',
    async () => {
      // The initial 30 µs margin covers a whole 25 µs period: the loop never sleeps toward a
      // boundary, so every sample is a probe, one per WM_PROBE_AFTER_NS (10 ms): 64 in ~0.7 s.
      const e = await heartbeating({}, 25_000);
      const s = await learned(e);
      expect(s.wakeSamples).toBeGreaterThanOrEqual(WM_MIN_SAMPLES);
      expect(s.marginNs).toBe(Math.min(100_000, Math.max(5_000, s.wakeLateQuantileNs + WM_GUARD_NS)));
      // Probes, not sleeps every period: far fewer samples than the 25 µs boundaries that passed.
      expect(s.wakeSamples).toBeLessThan(1000);
    },
  );

  it.skipIf(skip !== '')('a fixed spinUs is kept, and nothing is learned', async () => {
    const e = await heartbeating({ spinUs: 40 });
    await new Promise((r) => setTimeout(r, 150));
    expect(spinStatsOf(e)).toEqual({ auto: false, marginNs: 40_000, wakeSamples: 0, wakeLateQuantileNs: -1 });
  });
});
