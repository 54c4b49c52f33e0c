import { describe, expect, it } from 'vitest';
import { heartbeatShare } from '../../src/bench/fd-heartbeats.js';

const W = { startNs: 1_000_000_000, endNs: 2_000_000_000 }; // 1 s
const P = 1_000_000; // 1 ms: 1,000 heartbeats a second per pair

describe('heartbeatShare', () => {
  it('is received ÷ owed over every ordered pair', () => {
    const all = { a: { b: 1000 }, b: { a: 1000 } };
    expect(heartbeatShare(all, ['a', 'b'], [], W, P)).toBe(1);
    const half = { a: { b: 500 }, b: { a: 500 } };
    expect(heartbeatShare(half, ['a', 'b'], [], W, P)).toBe(0.5);
    // A pair that received nothing counts as 0, not as absent.
    expect(heartbeatShare({ a: { b: 1000 } }, ['a', 'b'], [], W, P)).toBe(0.5);
  });

  it('owes nothing while either end is down, clipped to the window', () => {
    // b is down for 0.2 s inside the window and for 0.5 s before it began (not counted).
    const injections = [
      { index: 0, victim: 'b', crashNs: 1_300_000_000, reviveNs: 1_500_000_000 },
      { index: 1, victim: 'b', crashNs: 0, reviveNs: 500_000_000 },
    ];
    const received = { a: { b: 800, c: 1000 }, b: { a: 800, c: 800 }, c: { a: 1000, b: 800 } };
    expect(heartbeatShare(received, ['a', 'b', 'c'], injections, W, P)).toBe(1);
  });

  it('is null when nothing was owed', () => {
    expect(heartbeatShare({}, ['a', 'b'], [], { startNs: 5, endNs: 5 }, P)).toBeNull();
    expect(heartbeatShare({}, ['a'], [], W, P)).toBeNull();
  });
});
