// One lane h1 → s1 → h2 on testbed-like numbers, every term written out by hand.
import { describe, expect, it } from 'vitest';
import { createAllocator } from '../../src/alloc/allocator.js';
import { testbed3 } from './fixtures.js';
import { unicast, violationsOf } from './helpers.js';

describe('end-to-end bound by hand: h1 → s1 → h2, 64 B every 100 µs', () => {
  // Links 1 Gbit/s (8 ns per byte), best-effort frames 1538 B → T = 12 304 ns per hop.
  // Host send [2, 5] µs, receive [3, 8] µs; switch forwarding [0.5, 1] µs; propagation 50 ns.
  // Lane: σ = 64 B → L = 184 B on the wire, r = 184 B / 100 000 ns = 0.00184 B/ns.
  const r = 184 / 100_000;
  // Hop 1 (h1→s1): J = send jitter = 3000 ns; b = 184 + r·3000 = 189.52 B;
  //   D1 = (1538 + 189.52) · 8 = 13 820.16 ns.
  const D1 = (1538 + 184 + r * 3000) * 8;
  // Hop 2 (s1→h2): J = 3000 + (D1 − 184·8) + forwarding jitter 500 = 15 848.16 ns;
  //   b = 184 + r·J = 213.1606144 B; D2 = (1538 + b) · 8 = 14 009.2849152 ns.
  const J2 = 3000 + (D1 - 184 * 8) + 500;
  const D2 = (1538 + 184 + r * J2) * 8;
  // λ_max = send.max + D1 + prop + fwd.max + D2 + prop + recv.max = 41 929.4449152 ns
  //   → granted ceil(41 929.44 · 1.05 / 100) · 100 = 44 100 ns.
  const lambdaMax = 5000 + D1 + 50 + 1000 + D2 + 50 + 8000;
  // λ_min = send.min + (120·8 + 50 + 500) + (120·8 + 50) + recv.min = 7 520 ns.
  const lambdaMin = 2000 + (960 + 50 + 500) + (960 + 50) + 3000;

  it('the hand numbers are what the comments say', () => {
    expect(D1).toBeCloseTo(13_820.16, 9);
    expect(J2).toBeCloseTo(15_848.16, 9);
    expect(D2).toBeCloseTo(14_009.2849152, 9);
    expect(lambdaMax).toBeCloseTo(41_929.4449152, 9);
    expect(lambdaMin).toBe(7520);
  });

  it('the allocator grants exactly that window and reports those per-hop bounds', () => {
    const a = createAllocator(testbed3());
    const res = a.admit('l1', unicast('h1', 'h2'));
    if (!res.ok) throw res.error;
    expect(res.grant.receivers).toEqual([
      { host: 'h2', path: ['h1', 's1', 'h2'], lambdaMinNs: 7520, lambdaMaxNs: 44_100, jitterNs: 36_580 },
    ]);
    expect(res.grant.tree).toEqual([
      { from: 'h1', to: 's1' },
      { from: 's1', to: 'h2' },
    ]);
    expect(res.grant.wireBytes).toBe(184);
    expect(res.grant.rateBps).toBeCloseTo(14_720_000, 6);
    const ports = new Map(a.ports().map((p) => [`${p.from}>${p.to}`, p]));
    expect(ports.get('h1>s1')!.delayNs).toBeCloseTo(D1, 9);
    expect(ports.get('s1>h2')!.delayNs).toBeCloseTo(D2, 9);
    expect(ports.get('s1>h2')!.burstBytes).toBeCloseTo(184 + r * J2, 9);
    expect(ports.get('s1>h2')!.backlogBytes).toBeCloseTo(184 + r * J2 + r * 12_304, 9);
    expect(ports.get('s1>h3')!.lanes).toBe(0);
    expect(violationsOf(a)).toEqual([]);
  });
});

describe('the same lane from a host whose engine keeps a release grid (E = 20 µs)', () => {
  // E joins the send jitter at h1's port: J1 = 3000 + 20 000 ns; b1 = 184 + r·23 000 = 226.32 B;
  //   D1 = (1538 + 226.32) · 8 = 14 114.56 ns. Hop 2: J2 = J1 + (D1 − 184·8) + 500;
  //   D2 = (1538 + 184 + r·J2) · 8. λ_min is unchanged: E spreads frames, it delays none.
  const r = 184 / 100_000;
  const D1 = (1538 + 184 + r * 23_000) * 8;
  const J2 = 23_000 + (D1 - 184 * 8) + 500;
  const D2 = (1538 + 184 + r * J2) * 8;
  const lambdaMax = 5000 + D1 + 50 + 1000 + D2 + 50 + 8000;

  it('counts E in the burst at the source and hands it to the sender in its grant', () => {
    expect(D1).toBeCloseTo(14_114.56, 9);
    const t = testbed3();
    t.hosts[0] = { ...t.hosts[0]!, releaseJitterNs: 20_000 };
    const a = createAllocator(t);
    const res = a.admit('l1', unicast('h1', 'h2'));
    if (!res.ok) throw res.error;
    const ports = new Map(a.ports().map((p) => [`${p.from}>${p.to}`, p]));
    expect(ports.get('h1>s1')!.burstBytes).toBeCloseTo(184 + r * 23_000, 9);
    expect(ports.get('h1>s1')!.delayNs).toBeCloseTo(D1, 9);
    expect(ports.get('s1>h2')!.delayNs).toBeCloseTo(D2, 9);
    expect(res.grant.receivers[0]!.lambdaMinNs).toBe(7520);
    expect(res.grant.receivers[0]!.lambdaMaxNs).toBe(Math.ceil((lambdaMax * 1.05) / 100) * 100);
    expect(res.grant.releaseJitterNs).toBe(20_000);
    expect(violationsOf(a)).toEqual([]);
  });

  it('caps the granted E at half the period, and grants none when the host declares none', () => {
    const t = testbed3();
    t.hosts[0] = { ...t.hosts[0]!, releaseJitterNs: 80_000 };
    const a = createAllocator(t);
    const res = a.admit('l1', unicast('h1', 'h2'));
    if (!res.ok) throw res.error;
    expect(res.grant.releaseJitterNs).toBe(50_000);
    const b = createAllocator(testbed3()).admit('l1', unicast('h1', 'h2'));
    if (!b.ok) throw b.error;
    expect(b.grant.releaseJitterNs).toBeUndefined();
  });
});

describe('the same lane over links that do not serialize a lone frame (shaped veths)', () => {
  it('λ_min drops the two transmission times (2 × 120 B · 8 ns), λ_max stays', () => {
    const t = testbed3();
    t.links = t.links.map((l) => ({ ...l, serializes: false }));
    const a = createAllocator(t);
    const res = a.admit('l1', unicast('h1', 'h2'));
    if (!res.ok) throw res.error;
    // λ_min = send.min + (50 + 500) + 50 + recv.min = 5 600 ns.
    expect(res.grant.receivers[0]!.lambdaMinNs).toBe(7520 - 2 * 960);
    expect(res.grant.receivers[0]!.lambdaMaxNs).toBe(44_100);
    // The independent verifier derives the same lower bound.
    expect(violationsOf(a)).toEqual([]);
  });
});
