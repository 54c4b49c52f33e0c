import { describe, expect, it } from 'vitest';
import { createAllocator, restoreAllocator } from '../../src/alloc/allocator.js';
import type { PersistedLane } from '../../src/alloc/types.js';
import { leafSpine } from './fixtures.js';
import { expectPortsClose, persistedOf, unicast } from './helpers.js';

function loaded() {
  const t = leafSpine({ leaves: 2, hostsPerLeaf: 2, spines: 2 });
  const a = createAllocator(t);
  a.admit('a', unicast('h0-0', 'h1-0', { name: 'fd-a' }));
  a.admit('b', {
    sender: 'h0-1',
    receivers: ['h1-0', 'h1-1'],
    maxPayloadBytes: 500,
    minPeriodNs: 20_000,
    maxPeriodNs: 40_000,
  });
  a.admit('c', unicast('h1-1', 'h0-0', { deadlineNs: 300_000, policy: 'coalesce' }));
  a.release('a');
  a.admit('d', unicast('h0-0', 'h1-1', { minPayloadBytes: 10 }));
  return { t, a };
}

describe('restoreAllocator', () => {
  it('round trip: the same grants, epoch and requests', () => {
    const { t, a } = loaded();
    const b = restoreAllocator(t, persistedOf(a), a.epoch);
    expect(b.grants()).toEqual(a.grants());
    expect(b.epoch).toBe(a.epoch);
    for (const g of a.grants()) expect(b.request(g.laneId)).toEqual(a.request(g.laneId));
    expectPortsClose(b.ports(), a.ports());
  });

  it('the restored allocator carries on like the original', () => {
    const { t, a } = loaded();
    const b = restoreAllocator(t, persistedOf(a), a.epoch);
    const next = unicast('h0-1', 'h1-0', { maxPayloadBytes: 300 });
    expect(b.admit('e', next)).toEqual(a.admit('e', next));
    expect(b.release('b')).toEqual(a.release('b'));
    // Source ports are still taken: a new lane from h0-0 gets the next free one.
    expect(b.admit('f', unicast('h0-0', 'h1-0'))).toEqual(a.admit('f', unicast('h0-0', 'h1-0')));
  });

  it('a window below the recomputed bound is refused with XL_ERR_STORE', () => {
    const { t, a } = loaded();
    const lanes = persistedOf(a);
    const tampered: PersistedLane[] = structuredClone(lanes);
    tampered[0]!.grant.receivers[0]!.lambdaMaxNs = 1000;
    expect(() => restoreAllocator(t, tampered, a.epoch)).toThrowError(
      expect.objectContaining({
        code: 'XL_ERR_STORE',
        details: expect.objectContaining({ laneId: lanes[0]!.laneId }),
      }),
    );
  });

  it('a tree through a link that no longer exists is refused with XL_ERR_STORE', () => {
    const { t, a } = loaded();
    const fewer = { ...t, links: t.links.filter((l) => !(l.a === 'leaf0' && l.b === 'spine0')) };
    expect(() => restoreAllocator(fewer, persistedOf(a), a.epoch)).toThrowError(
      expect.objectContaining({ code: 'XL_ERR_STORE' }),
    );
  });

  it('a grant outside its request, or lanes that overload a port, are refused', () => {
    const { t, a } = loaded();
    const outside: PersistedLane[] = structuredClone(persistedOf(a));
    outside[0]!.grant.minPeriodNs = 1;
    expect(() => restoreAllocator(t, outside, 1)).toThrowError(
      expect.objectContaining({ code: 'XL_ERR_STORE' }),
    );
    const slow = { ...t, links: t.links.map((l) => ({ ...l, rateBps: 1e6 })) };
    expect(() => restoreAllocator(slow, persistedOf(a), 1)).toThrowError(
      expect.objectContaining({ code: 'XL_ERR_STORE' }),
    );
  });
});
