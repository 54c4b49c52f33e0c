// The native engine reads CLOCK_REALTIME − CLOCK_MONOTONIC in ns at once (the agent converts grant
// phases with it), where JS must wait for Date.now()'s next ms: both bracket the same true value.
import { describe, expect, it } from 'vitest';
import { measureRealtimeOffset } from '../../src/engine/clock.js';
import type { NativeAddon } from '../../src/engine/native/addon.js';
import { NativeEngine } from '../../src/engine/native/engine.js';
import { measureRealtimeOffsetBest } from '../../src/engine/native/select.js';
import { nativeLoad, skipReason } from './native-helpers.js';

describe.skipIf(skipReason !== '')(`the native realtime offset ${skipReason}`, () => {
  const addon = nativeLoad.ok ? nativeLoad.addon : (undefined as unknown as NativeAddon);

  it('brackets the offset to well under a µs, and agrees with the JS measurement within both errors', () => {
    for (let i = 0; i < 5; i++) {
      const [offsetNs, uncertaintyNs] = addon.realtimeOffset!();
      expect(typeof offsetNs).toBe('bigint');
      expect(uncertaintyNs).toBeGreaterThanOrEqual(0);
      expect(uncertaintyNs).toBeLessThan(10_000);
      const js = measureRealtimeOffset();
      const diff = offsetNs > js.offsetNs ? offsetNs - js.offsetNs : js.offsetNs - offsetNs;
      // Both intervals hold the true offset (1 µs allowed for a slewing clock in between).
      expect(diff).toBeLessThanOrEqual(BigInt(uncertaintyNs) + js.uncertaintyNs + 1_000n);
    }
  });

  it('is what the engine hands the agent; an addon built before it falls back to the JS measurement', () => {
    const engine = new NativeEngine(addon);
    const m = engine.measureRealtimeOffset();
    expect(m.uncertaintyNs).toBeLessThan(10_000n);
    const old = new NativeEngine({ ...addon, realtimeOffset: undefined });
    const fallback = old.measureRealtimeOffset();
    // The JS measurement: bracketed by a ms tick, so its error is that of a few clock reads.
    const diff =
      m.offsetNs > fallback.offsetNs ? m.offsetNs - fallback.offsetNs : fallback.offsetNs - m.offsetNs;
    expect(diff).toBeLessThanOrEqual(m.uncertaintyNs + fallback.uncertaintyNs + 1_000n);
  });

  it("measureRealtimeOffsetBest, the benches' measurement: in C with the addon, in JS without it", () => {
    const best = measureRealtimeOffsetBest();
    expect(best.uncertaintyNs).toBeLessThan(10_000n);
    const js = measureRealtimeOffsetBest('/nonexistent/xlane_engine.node');
    // The JS measurement waits for a ms tick: it takes at least the rest of the current ms.
    const diff = best.offsetNs > js.offsetNs ? best.offsetNs - js.offsetNs : js.offsetNs - best.offsetNs;
    expect(diff).toBeLessThanOrEqual(best.uncertaintyNs + js.uncertaintyNs + 1_000n);
  });
});
