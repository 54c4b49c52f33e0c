// TO from the grant (FiDe) and the rule that moves it when the grant changes.
import { describe, expect, it } from 'vitest';
import { diffGrants, failureTimeoutNs as fromClient } from '../../src/client/grant-diff.js';
import { failureTimeoutNs, retarget, settle } from '../../src/fd/timeout.js';
import { fdGrant } from './fakes.js';

describe('failureTimeoutNs', () => {
  it('is π_min + λ_min + 2·δ for the named receiver, and the client re-exports the same function', () => {
    const g = fdGrant('L1', 'xfd.g.h1', 'h1', ['h2', 'h3'], {
      periodNs: 1_000_000,
      minNs: 14_120,
      maxNs: 224_000,
    });
    g.receivers[1] = { ...g.receivers[1]!, lambdaMinNs: 20_000, lambdaMaxNs: 50_000 };
    // h2: 1 000 000 + 14 120 + 2 × 209 880 = 1 433 880
    expect(failureTimeoutNs(g, 'h2')).toBe(1_433_880);
    // h3: 1 000 000 + 20 000 + 2 × 30 000 = 1 080 000
    expect(failureTimeoutNs(g, 'h3')).toBe(1_080_000);
    expect(failureTimeoutNs(g, 'h9')).toBeUndefined();
    expect(fromClient).toBe(failureTimeoutNs);
  });

  it("covers the sender's release jitter: arrivals up to π + 2E + δ apart never time out", () => {
    const g = fdGrant('L1', 'xfd.g.h1', 'h1', ['h2'], { periodNs: 1_000_000, minNs: 10_000, maxNs: 30_000 });
    // λ_min + δ = 30 µs covers 2E = 20 µs: FiDe's formula as it is.
    expect(failureTimeoutNs({ ...g, releaseJitterNs: 10_000 }, 'h2')).toBe(1_000_000 + 10_000 + 40_000);
    // 2E = 100 µs does not fit in 30 µs: TO = π + 2E + δ.
    expect(failureTimeoutNs({ ...g, releaseJitterNs: 50_000 }, 'h2')).toBe(1_000_000 + 100_000 + 20_000);
  });
});

describe('TO schedule', () => {
  const HOLD = 1_000;
  it('applies the first TO and any larger one at once', () => {
    const a = retarget(undefined, 500, 0, HOLD);
    expect(a).toEqual({ effectiveNs: 500, targetNs: 500, applyAtNs: undefined });
    expect(retarget(a, 800, 10, HOLD)).toEqual({ effectiveNs: 800, targetNs: 800, applyAtNs: undefined });
  });

  it('keeps a larger TO for the hold before a smaller one applies', () => {
    const a = retarget(undefined, 800, 0, HOLD);
    const b = retarget(a, 500, 100, HOLD);
    expect(b).toEqual({ effectiveNs: 800, targetNs: 500, applyAtNs: 1_100 });
    expect(settle(b, 1_099)).toBe(b);
    expect(settle(b, 1_100)).toEqual({ effectiveNs: 500, targetNs: 500, applyAtNs: undefined });
    // The same smaller target again does not restart the hold; a different one does.
    expect(retarget(b, 500, 600, HOLD)).toBe(b);
    expect(retarget(b, 400, 600, HOLD)).toEqual({ effectiveNs: 800, targetNs: 400, applyAtNs: 1_600 });
    // Growing back during the hold cancels it.
    expect(retarget(b, 900, 600, HOLD)).toEqual({ effectiveNs: 900, targetNs: 900, applyAtNs: undefined });
    // No hold configured: at once.
    expect(retarget(a, 500, 100, 0).effectiveNs).toBe(500);
  });
});

describe('diffGrants (the client lane events)', () => {
  it('reports a new timeout when only the release jitter E moved, since E enters TO', () => {
    const g = fdGrant('L1', 'xfd.g.h1', 'h1', ['h2'], { periodNs: 1_000_000, minNs: 10_000, maxNs: 30_000 });
    const before = { ...g, releaseJitterNs: 10_000 };
    const after = { ...g, releaseJitterNs: 50_000 };
    expect(diffGrants(before, after).timeouts).toEqual([
      expect.objectContaining({ receiver: 'h2', timeoutNs: 1_120_000 }),
    ]);
    expect(diffGrants(before, { ...before }).timeouts).toEqual([]);
  });
});
