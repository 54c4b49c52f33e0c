import { describe, expect, it } from 'vitest';
import { createAllocator, restoreAllocator } from '../../src/alloc/allocator.js';
import type { Allocator, PersistedLane } from '../../src/alloc/types.js';
import { GBIT, leafSpine, testbed3 } from './fixtures.js';
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

/** A fixed churn of squeezable lanes on testbed-3 (every port near full, so admissions squeeze and
 * releases ease back): op i admits or releases, from a seeded generator. */
function churn(a: Allocator, live: string[], from: number, to: number): void {
  const hosts = ['h1', 'h2', 'h3'];
  let x = 12345 + from;
  const rnd = () => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return x / 2147483648;
  };
  for (let i = from; i < to; i++) {
    if (rnd() < 0.55 || live.length === 0) {
      const id = `L${i}`;
      const r = a.admit(id, {
        sender: hosts[i % 3]!,
        receivers: [hosts[(i + 1) % 3]!],
        maxPayloadBytes: 200 + (i % 7) * 100,
        minPeriodNs: 100_000 + (i % 5) * 13_000,
        minPayloadBytes: 32,
        maxPeriodNs: 5_000_000,
        ...(i % 3 === 0 ? { deadlineNs: 3_000_000 } : {}),
      });
      if (r.ok) live.push(id);
    } else a.release(live.splice(Math.floor(rnd() * live.length), 1)[0]!);
  }
}

describe('restoreAllocator after churn (a controller restart in the middle of days of traffic)', () => {
  it('restores the bound pass to the bit: port lists keep admission order through releases', () => {
    const t = testbed3();
    const a = createAllocator(t);
    const live: string[] = [];
    churn(a, live, 0, 400);
    const b = restoreAllocator(t, inOrder(persistedOf(a), live), a.epoch);
    expect(b.ports()).toEqual(a.ports());
  });

  it('decides every later admission and release exactly as the live allocator would', () => {
    const t = testbed3();
    const a = createAllocator(t);
    const liveA: string[] = [];
    churn(a, liveA, 0, 400);
    const b = restoreAllocator(t, inOrder(persistedOf(a), liveA), a.epoch);
    const liveB = [...liveA];
    // Squeezed lanes eased back after a restart must come back as far as without one.
    for (let i = 400; i < 460; i++) {
      churn(a, liveA, i, i + 1);
      churn(b, liveB, i, i + 1);
      expect(b.grants()).toEqual(a.grants());
    }
    expect(b.ports()).toEqual(a.ports());
  });
});

describe('restoreAllocator after forced topology changes', () => {
  it('a lane taken back after a forced change keeps its admission place: restored to the bit', () => {
    const wide = leafSpine({
      leaves: 4,
      hostsPerLeaf: 4,
      spines: 2,
      hostRateBps: 10 * GBIT,
      fabricRateBps: 40 * GBIT,
    });
    // spine0's links shrink to 500 Mbit/s and grow back, in turn: forced, so lanes are dropped
    // newest first on the overloaded ports, then the ones that fit again are taken back.
    const narrow = {
      ...wide,
      links: wide.links.map((l) => (l.b === 'spine0' ? { ...l, rateBps: 0.5 * GBIT } : l)),
    };
    const hosts = wide.hosts.map((h) => h.name);
    const a = createAllocator(wide);
    const live: string[] = [];
    let x = 7;
    const rnd = () => {
      x = (x * 1103515245 + 12345) % 2147483648;
      return x / 2147483648;
    };
    let n = 0;
    let revoked = 0;
    for (let round = 0; round < 12; round++) {
      for (let i = 0; i < 150; i++) {
        if (rnd() < 0.6 || live.length === 0) {
          const s = Math.floor(rnd() * 16);
          const r = (s + 1 + Math.floor(rnd() * 15)) % 16;
          const id = `L${++n}`;
          const res = a.admit(id, {
            sender: hosts[s]!,
            receivers: [hosts[r]!],
            maxPayloadBytes: 300 + Math.floor(rnd() * 1000),
            minPeriodNs: 20_000,
            minPayloadBytes: 64,
            maxPeriodNs: 200_000,
          });
          if (res.ok) live.push(id);
        } else a.release(live.splice(Math.floor(rnd() * live.length), 1)[0]!);
      }
      const res = a.replaceTopology(round % 2 === 0 ? narrow : wide, { force: true });
      if (!res.ok) throw res.error;
      revoked += res.revoked.length;
      for (const id of res.revoked) live.splice(live.indexOf(id), 1);
      // `live` is in admission order, as the controller's store lists lanes.
      const b = restoreAllocator(a.topology, inOrder(persistedOf(a), live), a.epoch);
      expect(b.ports()).toEqual(a.ports());
    }
    expect(revoked).toBeGreaterThan(0);
  });
});

function inOrder(lanes: PersistedLane[], ids: string[]): PersistedLane[] {
  const byId = new Map(lanes.map((l) => [l.laneId, l]));
  return ids.map((id) => byId.get(id)!);
}
