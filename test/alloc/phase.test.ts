// Lane phases: pickPhase on its own, and the phases the allocator gives, keeps, re-issues and
// restores (Grant.phaseNs).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createAllocator, restoreAllocator } from '../../src/alloc/allocator.js';
import {
  gcd,
  MIN_SEPARABLE_NS,
  type PhasedLane,
  phaseDistance,
  phaseScore,
  pickPhase,
} from '../../src/alloc/phase.js';
import type { Grant, LaneRequest, PersistedLane } from '../../src/alloc/types.js';
import { leafSpine, testbed3 } from './fixtures.js';
import { persistedOf, unicast, violationsOf } from './helpers.js';

const P = 100_000;

/** Lexicographic comparison of two scores: > 0 when a is better. */
function cmp(a: [number, number], b: [number, number]): number {
  if (a[0] !== b[0]) return a[0] > b[0] ? 1 : -1;
  if (a[1] !== b[1]) return a[1] > b[1] ? 1 : -1;
  return 0;
}

/** Smallest circular distance between any two of the phases (all of period `period`). */
function spread(phases: number[], period: number): number {
  let min = Number.POSITIVE_INFINITY;
  for (let i = 0; i < phases.length; i++)
    for (let j = i + 1; j < phases.length; j++)
      min = Math.min(min, phaseDistance(phases[i]!, phases[j]!, period));
  return min;
}

describe('pickPhase', () => {
  it('no others: 0', () => {
    expect(pickPhase(P, [])).toBe(0);
  });

  it('one other lane of the same period: half a period away', () => {
    expect(pickPhase(P, [{ phaseNs: 0, periodNs: P }])).toBe(50_000);
    expect(pickPhase(P, [{ phaseNs: 30_000, periodNs: P }])).toBe(80_000);
    expect(pickPhase(P, [{ phaseNs: 70_000, periodNs: P }])).toBe(20_000);
  });

  it('three lanes of one period: the third lands in the middle of the largest gap', () => {
    const third = pickPhase(P, [
      { phaseNs: 0, periodNs: P },
      { phaseNs: 33_333, periodNs: P },
    ]);
    expect(spread([0, 33_333, third], P)).toBeGreaterThanOrEqual(P / 3 - 1);
  });

  it('lanes of one period, one after another, halve the gaps: 0, π/2, π/4, 3π/4', () => {
    const others: PhasedLane[] = [];
    const picked: number[] = [];
    for (let i = 0; i < 4; i++) {
      const phi = pickPhase(P, others);
      picked.push(phi);
      others.push({ phaseNs: phi, periodNs: P });
    }
    expect(picked).toEqual([0, 50_000, 25_000, 75_000]);
    // Greedy and stable (committed lanes keep their phase): π/4 apart, not the π/3 a fresh spread
    // of three would give.
    expect(spread(picked.slice(0, 3), P)).toBe(25_000);
  });

  it('harmonic periods meet modulo their gcd', () => {
    // π = 1 ms against π_b = 100 µs: g = 100 µs, so the best is 50 µs off the other's lattice.
    expect(pickPhase(1_000_000, [{ phaseNs: 0, periodNs: P }])).toBe(50_000);
    // π = 100 µs against π_b = 1 ms at 420 µs: 420 µs mod 100 µs = 20 µs, so 70 µs.
    expect(pickPhase(P, [{ phaseNs: 420_000, periodNs: 1_000_000 }])).toBe(70_000);
  });

  it('coprime-ish periods: a lane that no phase can keep apart does not pin the choice', () => {
    // g = gcd(100 000, 100 001) = 1: every φ is at distance 0 from that lane.
    expect(pickPhase(P, [{ phaseNs: 5, periodNs: 100_001 }])).toBe(0);
    const phi = pickPhase(P, [
      { phaseNs: 0, periodNs: P },
      { phaseNs: 5, periodNs: 100_001 },
    ]);
    expect(phi).toBe(50_000);
    // g = 2 (below MIN_SEPARABLE_NS): at most 1 ns apart whatever φ; it ranks after the
    // separable lane, so φ = 50 000 (0 from it) beats 50 001 (1 from it, 49 999 from the other).
    expect(
      pickPhase(P, [
        { phaseNs: 0, periodNs: P },
        { phaseNs: 0, periodNs: 100_002 },
      ]),
    ).toBe(50_000);
    expect(MIN_SEPARABLE_NS).toBe(1000);
  });

  it('inseparable lanes break ties between equally good phases', () => {
    const two: PhasedLane[] = [
      { phaseNs: 0, periodNs: P },
      { phaseNs: 50_000, periodNs: P },
    ];
    expect(pickPhase(P, two)).toBe(25_000);
    // g = gcd(100 000, 100 032) = 32: 25 000 sits on that lane's lattice, 75 000 is 16 ns off it.
    expect(pickPhase(P, [...two, { phaseNs: 25_000, periodNs: 100_032 }])).toBe(75_000);
  });

  it('stays an integer in range for extreme periods', () => {
    const big = 3_600_000_000_000;
    for (const [pi, others] of [
      [big, [{ phaseNs: big - 1, periodNs: big }]],
      [big, [{ phaseNs: 123, periodNs: 1000 }]],
      [1000, [{ phaseNs: 999, periodNs: big }]],
      [1001, [{ phaseNs: 3, periodNs: 1000 }]],
    ] as [number, PhasedLane[]][]) {
      const phi = pickPhase(pi, others);
      expect(Number.isInteger(phi)).toBe(true);
      expect(phi).toBeGreaterThanOrEqual(0);
      expect(phi).toBeLessThan(pi);
    }
    expect(pickPhase(big, [{ phaseNs: 0, periodNs: big }])).toBe(big / 2);
  });

  it('is deterministic and does not depend on the order of the others', () => {
    const others: PhasedLane[] = [
      { phaseNs: 10_000, periodNs: P },
      { phaseNs: 123_456, periodNs: 200_000 },
      { phaseNs: 7, periodNs: 100_003 },
      { phaseNs: 60_000, periodNs: 300_000 },
    ];
    const phi = pickPhase(P, others);
    expect(pickPhase(P, [...others].reverse())).toBe(phi);
    expect(pickPhase(P, [others[2]!, others[0]!, others[3]!, others[1]!])).toBe(phi);
    expect(pickPhase(P, others)).toBe(phi);
  });

  const laneArb = (periods: fc.Arbitrary<number>): fc.Arbitrary<PhasedLane> =>
    periods.chain((periodNs) =>
      fc.integer({ min: 0, max: periodNs - 1 }).map((phaseNs) => ({ phaseNs, periodNs })),
    );
  const anyPeriod = fc.integer({ min: 1000, max: 20_000_000 });

  it('property: in [0, π), and never worse than φ = 0 or any evenly spaced point', () => {
    fc.assert(
      fc.property(anyPeriod, fc.array(laneArb(anyPeriod), { maxLength: 40 }), (pi, others) => {
        const phi = pickPhase(pi, others);
        expect(Number.isInteger(phi)).toBe(true);
        expect(phi).toBeGreaterThanOrEqual(0);
        expect(phi).toBeLessThan(pi);
        const score = phaseScore(pi, phi, others);
        for (let i = 0; i < 16; i++) {
          const even = Math.floor((i * pi) / 16);
          expect(cmp(score, phaseScore(pi, even, others))).toBeGreaterThanOrEqual(0);
        }
        // When all the others are separable, or none is, that is the plain minimum distance too.
        const separable = others.filter((o) => gcd(pi, o.periodNs) >= MIN_SEPARABLE_NS).length;
        if (separable === 0 || separable === others.length)
          expect(score[1]).toBeGreaterThanOrEqual(phaseScore(pi, 0, others)[1]);
      }),
      { numRuns: 300 },
    );
  });

  it('property: with periods in whole µs the separable minimum is the exact optimum', () => {
    const micros = fc.integer({ min: 1, max: 8 }).map((k) => k * 1000);
    fc.assert(
      fc.property(micros, fc.array(laneArb(micros), { minLength: 1, maxLength: 10 }), (pi, others) => {
        const phi = pickPhase(pi, others);
        const gs = others.map((o) => gcd(pi, o.periodNs));
        let best = -1;
        for (let x = 0; x < pi; x++) {
          let min = Number.POSITIVE_INFINITY;
          others.forEach((o, i) => {
            min = Math.min(min, phaseDistance(x, o.phaseNs, gs[i]!));
          });
          best = Math.max(best, min);
        }
        expect(phaseScore(pi, phi, others)[0]).toBe(best);
      }),
      { numRuns: 100 },
    );
  });
});

function phases(grants: Grant[]): Record<string, number | undefined> {
  return Object.fromEntries(grants.map((g) => [g.laneId, g.phaseNs]));
}

describe('lane phases in the allocator', () => {
  it('two lanes into one receiver (its port shared) are half a period apart', () => {
    const a = createAllocator(testbed3());
    const x = a.admit('x', unicast('h1', 'h3'));
    const y = a.admit('y', unicast('h2', 'h3'));
    expect(x.ok && x.grant.phaseNs).toBe(0);
    expect(y.ok && y.grant.phaseNs).toBe(50_000);
    // The second lane's phase is not a change of the first grant.
    expect(y.ok && y.changed.map((c) => c.laneId)).not.toContain('x');
    expect(violationsOf(a)).toEqual([]);
  });

  it('lanes on disjoint paths may share a phase', () => {
    const a = createAllocator(testbed3());
    a.admit('x', unicast('h1', 'h2'));
    a.admit('y', unicast('h3', 'h1'));
    expect(phases(a.grants())).toEqual({ x: 0, y: 0 });
  });

  it('lanes of one sender spread over its egress port, and a one-to-many lane meets all of them', () => {
    const a = createAllocator(testbed3());
    a.admit('x', unicast('h1', 'h2'));
    a.admit('y', unicast('h1', 'h3'));
    a.admit('z', { sender: 'h2', receivers: ['h1', 'h3'], maxPayloadBytes: 64, minPeriodNs: P });
    // z meets y at s1→h3 (and x only on no port: x leaves h1, z enters it).
    expect(phases(a.grants())).toEqual({ x: 0, y: 50_000, z: 0 });
    a.admit('w', { sender: 'h3', receivers: ['h1', 'h2'], maxPayloadBytes: 64, minPeriodNs: P });
    // w meets z at s1→h1 and x at s1→h2.
    expect(a.grant('w')!.phaseNs).toBe(50_000);
  });

  it('a lane keeps its phase when others are admitted and released, and after a topology change', () => {
    const t = leafSpine({ leaves: 2, hostsPerLeaf: 2, spines: 2 });
    const a = createAllocator(t);
    a.admit('a', unicast('h0-0', 'h1-0'));
    a.admit('b', unicast('h0-1', 'h1-0'));
    a.admit('c', unicast('h1-1', 'h1-0'));
    const before = phases(a.grants());
    expect(new Set(Object.values(before)).size).toBe(3);
    const rel = a.release('a');
    expect(rel.changed.every((c) => c.after.phaseNs === c.before.phaseNs)).toBe(true);
    const d = a.admit('d', unicast('h0-0', 'h1-0'));
    if (!d.ok) throw d.error;
    // d takes the largest gap the others leave, which includes a's old place.
    expect(d.changed.every((c) => c.after.phaseNs === c.before.phaseNs)).toBe(true);
    expect(phases(a.grants())).toMatchObject({ b: before.b, c: before.c });
    const fewer = {
      ...t,
      switches: t.switches.filter((s) => s.name !== 'spine1'),
      links: t.links.filter((l) => l.a !== 'spine1' && l.b !== 'spine1'),
    };
    const res = a.replaceTopology(fewer);
    if (!res.ok) throw res.error;
    expect(res.changed.length).toBeGreaterThan(0);
    expect(phases(a.grants())).toEqual({ b: before.b, c: before.c, d: d.grant.phaseNs });
    expect(violationsOf(a)).toEqual([]);
  });

  it('admitMany: lanes of the batch count as others for the later ones, in order', () => {
    const reqs = ['h1', 'h2', 'h1'].map((s, i) => ({ laneId: `l${i}`, request: unicast(s, 'h3') }));
    const many = createAllocator(testbed3());
    const out = many.admitMany(reqs);
    expect(out.map((r) => r.ok && r.grant.phaseNs)).toEqual([0, 50_000, 25_000]);
    const one = createAllocator(testbed3());
    for (const { laneId, request } of reqs) one.admit(laneId, request);
    expect(phases(one.grants())).toEqual(phases(many.grants()));
  });

  it('a squeezed π keeps the phase; eased back, the phase is taken mod π (reason period)', () => {
    const a = createAllocator(testbed3());
    a.admit('c', unicast('h1', 'h3'));
    // Flexible: π may stretch to 400 µs.
    const flex: LaneRequest = unicast('h2', 'h3', { maxPayloadBytes: 1418, maxPeriodNs: 400_000 });
    const b = a.admit('b', flex);
    expect(b.ok && b.grant.phaseNs).toBe(50_000);
    const big = a.admit('a', unicast('h1', 'h3', { maxPayloadBytes: 1418 }));
    if (!big.ok) throw big.error;
    const squeezed = big.changed.find((c) => c.laneId === 'b')!;
    expect(squeezed.reasons).toContain('period');
    expect(squeezed.after.minPeriodNs).toBeGreaterThan(P);
    expect(squeezed.after.phaseNs).toBe(50_000);
    for (const g of a.grants()) expect(g.phaseNs!).toBeLessThan(g.minPeriodNs);
    a.release('a');
    expect(a.grant('b')).toMatchObject({ minPeriodNs: P, phaseNs: 50_000 });

    // A phase beyond the eased π (possible when it was picked at a squeezed π) wraps.
    a.admit('a', unicast('h1', 'h3', { maxPayloadBytes: 1418 }));
    const stored: PersistedLane[] = structuredClone(persistedOf(a));
    const lane = stored.find((l) => l.laneId === 'b')!;
    const pi = lane.grant.minPeriodNs;
    expect(pi).toBeGreaterThan(130_000);
    lane.grant.phaseNs = 130_000;
    const r = restoreAllocator(a.topology, stored, a.epoch);
    const eased = r.release('a').changed.find((c) => c.laneId === 'b')!;
    expect(eased.reasons).toContain('period');
    expect(eased.after).toMatchObject({ minPeriodNs: P, phaseNs: 30_000 });
    expect(violationsOf(r)).toEqual([]);
  });

  it('a restored grant keeps its phaseNs', () => {
    const a = createAllocator(testbed3());
    a.admit('x', unicast('h1', 'h3'));
    a.admit('y', unicast('h2', 'h3'));
    const stored: PersistedLane[] = structuredClone(persistedOf(a));
    // A phase the allocator would not pick itself survives a restart as it is.
    stored[1]!.grant.phaseNs = 12_345;
    const b = restoreAllocator(a.topology, stored, a.epoch);
    expect(phases(b.grants())).toEqual({ x: 0, y: 12_345 });
    // …and counts for the next lane on that port: the largest gap is 12 345 → 100 000.
    const z = b.admit('z', unicast('h1', 'h3'));
    expect(z.ok && z.grant.phaseNs).toBe(56_172);
  });

  it('a grant stored by an older version (no phaseNs) restores unchanged and gets a phase', () => {
    const a = createAllocator(testbed3());
    a.admit('x', unicast('h1', 'h3'));
    a.admit('y', unicast('h2', 'h3'));
    a.admit('v', unicast('h2', 'h1'));
    const stored: PersistedLane[] = structuredClone(persistedOf(a));
    for (const l of stored) delete l.grant.phaseNs;
    const b = restoreAllocator(a.topology, stored, a.epoch);
    // The grants are what the store holds…
    expect(b.grants()).toEqual(stored.map((l) => l.grant));
    expect(violationsOf(b)).toEqual([]);
    // …and the phases picked for them (in store order: v, x, y) reach their senders with the next
    // re-issue of their grants, as a 'period' change.
    const c = restoreAllocator(a.topology, stored, a.epoch);
    const res = c.replaceTopology(a.topology);
    if (!res.ok) throw res.error;
    expect(res.changed.map((ch) => [ch.laneId, ch.reasons, ch.after.phaseNs])).toEqual([
      ['v', ['period'], 0],
      ['x', ['period'], 0],
      ['y', ['period'], 50_000],
    ]);
    expect(c.replaceTopology(a.topology)).toMatchObject({ ok: true, changed: [] });
    // They count for new lanes at once (x 0, y 50 µs at s1→h3); the windows z moves carry them.
    const z = b.admit('z', unicast('h1', 'h3'));
    if (!z.ok) throw z.error;
    expect(z.grant.phaseNs).toBe(25_000);
    expect(z.changed.map((ch) => ch.laneId)).toEqual(['x', 'y']);
    for (const ch of z.changed) {
      expect(ch.reasons).toEqual(['period', 'window']);
      expect(ch.after.phaseNs).toBe(c.grant(ch.laneId)!.phaseNs);
    }
  });

  it('an invalid phaseNs in the store is XL_ERR_STORE', () => {
    const a = createAllocator(testbed3());
    a.admit('x', unicast('h1', 'h3'));
    for (const bad of [-1, 1.5, P, P + 1, Number.NaN, null, '5']) {
      const stored: PersistedLane[] = structuredClone(persistedOf(a));
      (stored[0]!.grant as { phaseNs?: unknown }).phaseNs = bad;
      expect(() => restoreAllocator(a.topology, stored, a.epoch)).toThrowError(
        expect.objectContaining({
          code: 'XL_ERR_STORE',
          message: expect.stringContaining('phaseNs'),
          details: expect.objectContaining({ laneId: 'x' }),
        }),
      );
    }
  });
});
