import { describe, expect, it } from 'vitest';
import { createAllocator } from '../../src/alloc/allocator.js';
import { ackersFor } from '../../src/controller/concern.js';
import type { TopologySpec } from '../../src/topology/spec.js';
import { leafSpine, testbed3 } from './fixtures.js';
import { observable, unicast, violationsOf } from './helpers.js';

function withoutSpine1(t: TopologySpec): TopologySpec {
  return {
    ...t,
    switches: t.switches.filter((s) => s.name !== 'spine1'),
    links: t.links.filter((l) => l.a !== 'spine1' && l.b !== 'spine1'),
  };
}

describe('replaceTopology', () => {
  it('the same topology changes no grant', () => {
    const a = createAllocator(leafSpine({ leaves: 2, hostsPerLeaf: 2, spines: 2 }));
    a.admit('a', unicast('h0-0', 'h1-0'));
    a.admit('b', unicast('h0-1', 'h1-1', { deadlineNs: 200_000 }));
    const grants = a.grants();
    const res = a.replaceTopology(leafSpine({ leaves: 2, hostsPerLeaf: 2, spines: 2 }));
    expect(res).toEqual({ ok: true, changed: [], revoked: [], epoch: 3 });
    expect(a.grants()).toEqual(grants);
  });

  it("a changed release jitter re-issues the grants of that host's lanes, for their senders to apply", () => {
    const t = testbed3();
    const a = createAllocator(t);
    a.admit('a', unicast('h1', 'h2'));
    a.admit('b', unicast('h3', 'h2'));
    const withE = {
      ...t,
      hosts: t.hosts.map((h) => (h.name === 'h1' ? { ...h, releaseJitterNs: 20_000 } : h)),
    };
    const res = a.replaceTopology(withE);
    if (!res.ok) throw res.error;
    const a1 = res.changed.find((c) => c.laneId === 'a')!;
    expect(a1.reasons).toContain('release');
    expect(a1.after.releaseJitterNs).toBe(20_000);
    expect(ackersFor(a1)).toContain('h1');
    expect(res.changed.find((c) => c.laneId === 'b')?.reasons ?? []).not.toContain('release');
    // And back to none: the smaller E must reach h1 too.
    const back = a.replaceTopology(t);
    if (!back.ok) throw back.error;
    const a2 = back.changed.find((c) => c.laneId === 'a')!;
    expect(a2.reasons).toContain('release');
    expect(a2.after.releaseJitterNs).toBeUndefined();
    expect(violationsOf(a)).toEqual([]);
  });

  it('keeps surviving paths and re-routes lanes whose path is gone', () => {
    const t = leafSpine({ leaves: 2, hostsPerLeaf: 2, spines: 2 });
    const a = createAllocator(t);
    a.admit('a', unicast('h0-0', 'h1-0'));
    a.admit('b', unicast('h0-1', 'h1-1'));
    expect(a.grant('b')!.receivers[0]!.path[2]).toBe('spine1');
    const res = a.replaceTopology(withoutSpine1(t));
    if (!res.ok) throw res.error;
    // Same hop count and light load: the granted window (with its headroom) still covers the new path.
    expect(res.changed.map((c) => [c.laneId, c.reasons])).toEqual([['b', ['path']]]);
    expect(a.grant('b')!.receivers[0]!.path).toEqual(['h0-1', 'leaf0', 'spine0', 'leaf1', 'h1-1']);
    expect(a.grant('b')!.epoch).toBe(res.epoch);
    expect(a.grant('a')!.epoch).toBe(1);
    expect(violationsOf(a)).toEqual([]);
  });

  it('refuses to drop lanes unless forced, then revokes them', () => {
    const t = testbed3();
    const a = createAllocator(t);
    a.admit('a', unicast('h1', 'h2'));
    a.admit('b', unicast('h1', 'h3'));
    const smaller = {
      ...t,
      hosts: t.hosts.filter((h) => h.name !== 'h3'),
      links: t.links.filter((l) => l.a !== 'h3'),
    };
    const before = observable(a);
    const res = a.replaceTopology(smaller);
    expect(!res.ok && res.error.code).toBe('XL_ERR_TOPOLOGY_CONFLICT');
    expect(!res.ok && res.error.details).toMatchObject({ lanes: ['b'] });
    expect(observable(a)).toEqual(before);
    const forced = a.replaceTopology(smaller, { force: true });
    expect(forced).toMatchObject({ ok: true, revoked: ['b'], epoch: 3 });
    expect(a.grants().map((g) => g.laneId)).toEqual(['a']);
    expect(a.topology).toBe(smaller);
  });

  it('a slower link that no longer fits: conflict, or with force the newest lanes go', () => {
    const t = testbed3();
    const a = createAllocator(t);
    a.admit('old', unicast('h1', 'h3', { maxPayloadBytes: 1000 })); // ~89.6 Mbit/s
    a.admit('new', unicast('h2', 'h3', { maxPayloadBytes: 1000 }));
    // s1–h3 at 500 Mbit/s: share 100 Mbit/s fits one of the two.
    const slower = { ...t, links: t.links.map((l) => (l.a === 'h3' ? { ...l, rateBps: 5e8 } : l)) };
    const res = a.replaceTopology(slower);
    expect(!res.ok && res.error.code).toBe('XL_ERR_TOPOLOGY_CONFLICT');
    expect(!res.ok && res.error.details).toMatchObject({
      bottleneck: { from: 's1', to: 'h3' },
      reason: 'share',
    });
    expect(!res.ok && res.error.message).toMatch(/s1→h3/);
    const forced = a.replaceTopology(slower, { force: true });
    expect(forced).toMatchObject({ ok: true, revoked: ['new'] });
    expect(violationsOf(a)).toEqual([]);
  });

  it('a faster fabric lets a squeezed lane ease back to its request', () => {
    const t = testbed3();
    const a = createAllocator(t);
    a.admit('flex', unicast('h2', 'h3', { maxPayloadBytes: 862, maxPeriodNs: 200_000 }));
    a.admit('rigid', unicast('h1', 'h3', { maxPayloadBytes: 1418 }));
    expect(a.grant('flex')!.minPeriodNs).toBeGreaterThan(100_000);
    const faster = { ...t, links: t.links.map((l) => ({ ...l, rateBps: 2e9 })) };
    const res = a.replaceTopology(faster);
    if (!res.ok) throw res.error;
    expect(a.grant('flex')!.minPeriodNs).toBe(100_000);
    expect(res.changed.find((c) => c.laneId === 'flex')!.reasons).toContain('period');
    expect(violationsOf(a)).toEqual([]);
  });

  it('an inconsistent topology is refused with XL_ERR_TOPOLOGY', () => {
    const a = createAllocator(testbed3());
    const bad = { ...testbed3(), links: [...testbed3().links, { ...testbed3().links[0]!, b: 'nowhere' }] };
    const res = a.replaceTopology(bad);
    expect(!res.ok && res.error.code).toBe('XL_ERR_TOPOLOGY');
  });
});
