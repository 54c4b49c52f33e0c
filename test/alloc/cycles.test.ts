// Rings make the port dependency graph cyclic: jitter leaving a port comes back to it. The
// allocator iterates those ports to a fixed point, or refuses when the feedback does not settle.
import { describe, expect, it } from 'vitest';
import { createAllocator } from '../../src/alloc/allocator.js';
import type { XlaneError } from '../../src/errors.js';
import type { TopologySpec } from '../../src/topology/spec.js';
import { ring } from './fixtures.js';
import { observable, violationsOf } from './helpers.js';

/** A ring whose switch links are the only bottleneck (fast host links, full express share). */
function fastHostRing(n: number): TopologySpec {
  const t = ring(n, 1, { expressShare: 1, rateBps: 1e9 });
  return {
    ...t,
    links: t.links.map((l) => (l.a.startsWith('h') ? { ...l, rateBps: 1e11 } : l)),
    hosts: t.hosts.map((h) => ({ ...h, nicRateBps: 1e11 })),
    switches: t.switches.map((s) => ({ ...s, portBufferBytes: 1e12 })),
  };
}

const lane = (n: number, i: number, hops: number, periodNs: number) => ({
  sender: `h${i}-0`,
  receivers: [`h${(i + hops) % n}-0`],
  maxPayloadBytes: 1418,
  minPeriodNs: periodNs,
});

describe('cyclic port dependencies', () => {
  it('admits lanes around a ring and the grants hold against the independent fixed point', () => {
    const a = createAllocator(fastHostRing(5));
    for (let i = 0; i < 5; i++) {
      const res = a.admit(`l${i}`, lane(5, i, 2, 100_000));
      if (!res.ok) throw res.error;
    }
    // r0→r1 carries l4 (second hop) and l0 (first hop): l4's jitter includes r4→r0's delay, which
    // includes l3's, … around the ring back to r0→r1: more than one frame of queueing per lane.
    const p = a.ports().find((x) => x.from === 'r0' && x.to === 'r1')!;
    expect(p.lanes).toBe(2);
    expect(p.burstBytes).toBeGreaterThan(2 * 1538);
    expect(violationsOf(a)).toEqual([]);
  });

  it('refuses with XL_ERR_UNSTABLE when the feedback around the ring does not converge', () => {
    const a = createAllocator(fastHostRing(9));
    let failure: XlaneError | undefined;
    let before: unknown;
    for (let n = 0; n < 200 && !failure; n++) {
      before = observable(a);
      const res = a.admit(`l${n}`, lane(9, n % 9, 4, 200_000));
      if (!res.ok) failure = res.error;
    }
    expect(failure).toMatchObject({
      code: 'XL_ERR_UNSTABLE',
      details: expect.objectContaining({ reason: 'unstable', bottleneck: expect.objectContaining({}) }),
    });
    expect((failure!.details!.bottleneck as { from: string }).from).toMatch(/^r\d$/);
    expect(observable(a)).toEqual(before);
    expect(violationsOf(a)).toEqual([]);
  });
});
