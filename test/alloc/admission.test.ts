import { describe, expect, it } from 'vitest';
import { createAllocator } from '../../src/alloc/allocator.js';
import type { LaneRequest } from '../../src/alloc/types.js';
import { host, link, sw, testbed3, topology } from './fixtures.js';
import { observable, unicast, violationsOf } from './helpers.js';

// On 1 Gbit/s links with a 20 % share (200 Mbit/s): 1418 B payload (1538 B wire) every 100 µs is
// 123.04 Mbit/s, 862 B (982 B wire) every 100 µs is 78.56 Mbit/s; together 201.6 Mbit/s.
const big = (sender: string, over: Partial<LaneRequest> = {}): LaneRequest =>
  unicast(sender, 'h3', { maxPayloadBytes: 1418, ...over });
const mid = (sender: string, over: Partial<LaneRequest> = {}): LaneRequest =>
  unicast(sender, 'h3', { maxPayloadBytes: 862, ...over });

function expectRejected(res: ReturnType<ReturnType<typeof createAllocator>['admit']>) {
  if (res.ok) throw new Error('expected a rejection');
  return res.error;
}

describe('admission control', () => {
  it('rejects a lane that would overload a link, naming the link and the numbers', () => {
    const a = createAllocator(testbed3());
    expect(a.admit('a', big('h1')).ok).toBe(true);
    const err = expectRejected(a.admit('b', mid('h2')));
    expect(err.code).toBe('XL_ERR_ADMISSION_REJECTED');
    expect(err.message).toBe('no room on s1→h3: express 201.6 Mbit/s > share 200 Mbit/s');
    expect(err.details).toMatchObject({ bottleneck: { from: 's1', to: 'h3' }, reason: 'share', laneId: 'b' });
    expect(err.details!.expressBps as number).toBeCloseTo(201.6e6, 0);
    expect(err.details!.shareBps as number).toBeCloseTo(200e6, 0);
  });

  it('a rejected admission changes nothing', () => {
    const a = createAllocator(testbed3());
    a.admit('a', big('h1'));
    const before = observable(a);
    expectRejected(a.admit('b', mid('h2')));
    expect(observable(a)).toEqual(before);
    // …and the next admission behaves as if the failed one never happened.
    const ok = a.admit('c', unicast('h2', 'h1'));
    expect(ok.ok && ok.grant.srcPort).toBe(20000);
    expect(a.epoch).toBe(2);
  });

  it('squeezes a flexible existing lane just enough, and eases it back on release', () => {
    const a = createAllocator(testbed3());
    const first = a.admit('flex', mid('h2', { maxPeriodNs: 200_000 }));
    if (!first.ok) throw first.error;
    const res = a.admit('rigid', big('h1'));
    if (!res.ok) throw res.error;
    const flex = a.grant('flex')!;
    // 78.56 Mbit/s must drop to ≤ 76.96 Mbit/s: π ≥ 982·8 / 76.96e6 s ≈ 102 079 ns.
    expect(flex.minPeriodNs).toBeGreaterThanOrEqual(102_079);
    expect(flex.minPeriodNs).toBeLessThan(102_200);
    expect(flex.maxPayloadBytes).toBe(862);
    expect(flex.epoch).toBe(2);
    const change = res.changed.find((c) => c.laneId === 'flex')!;
    expect(change.reasons).toContain('period');
    expect(change.before.minPeriodNs).toBe(100_000);
    expect(change.after).toEqual(flex);
    const port = a.ports().find((p) => p.from === 's1' && p.to === 'h3')!;
    expect(port.expressBps).toBeLessThanOrEqual(port.shareBps);
    expect(violationsOf(a)).toEqual([]);

    const rel = a.release('rigid');
    expect(rel.epoch).toBe(3);
    expect(a.grant('flex')!.minPeriodNs).toBe(100_000);
    expect(rel.changed.find((c) => c.laneId === 'flex')!.reasons).toContain('period');
  });

  it('squeezes the new lane itself when it is the flexible one (payload first to its floor)', () => {
    const a = createAllocator(testbed3());
    a.admit('rigid', big('h1'));
    const res = a.admit('flex', mid('h2', { minPayloadBytes: 100 }));
    if (!res.ok) throw res.error;
    // ≤ 76.96 Mbit/s at 100 µs: wire ≤ 962 B → σ ≤ 842 B.
    expect(res.grant.maxPayloadBytes).toBeLessThanOrEqual(842);
    expect(res.grant.maxPayloadBytes).toBeGreaterThan(830);
    // The rigid lane keeps its σ/π; only its window moves (it now shares s1→h3).
    expect(res.changed.map((c) => [c.laneId, c.reasons])).toEqual([['rigid', ['window']]]);
    expect(violationsOf(a)).toEqual([]);
  });

  it('rejects when even the tightest squeeze does not fit, and restores the squeezed lanes', () => {
    const a = createAllocator(testbed3());
    a.admit('flex', mid('h2', { maxPeriodNs: 100_500 }));
    const before = observable(a);
    expectRejected(a.admit('rigid', big('h1')));
    expect(observable(a)).toEqual(before);
  });

  it('rejects a lane whose backlog would not fit the port buffer', () => {
    const t = testbed3();
    const tight = {
      ...t,
      links: t.links.map((l) => ({ ...l, expressShare: 1 })),
      switches: t.switches.map((s) => ({ ...s, portBufferBytes: 3000 })),
    };
    const a = createAllocator(tight);
    expect(a.admit('a', big('h1')).ok).toBe(true);
    const err = expectRejected(a.admit('b', big('h2')));
    expect(err.details).toMatchObject({
      reason: 'buffer',
      bottleneck: { from: 's1', to: 'h3' },
      bufferBytes: 3000,
    });
    expect(err.details!.backlogBytes as number).toBeGreaterThan(3000);
    expect(err.message).toMatch(/^no buffer on s1→h3: backlog \d+ B > buffer 3000 B$/);
  });

  it('rejects a lane whose own deadline cannot be met', () => {
    const a = createAllocator(testbed3());
    const err = expectRejected(a.admit('d', unicast('h1', 'h2', { deadlineNs: 30_000 })));
    expect(err.code).toBe('XL_ERR_ADMISSION_REJECTED');
    expect(err.details).toMatchObject({ reason: 'deadline', laneId: 'd', deadlineNs: 30_000 });
    expect(err.details!.lambdaMaxNs as number).toBeCloseTo(41_929.4449152, 6);
    expect(err.message).toMatch(/^the new lane would miss its deadline/);
  });

  it('caps a granted window at the deadline and protects it from later lanes', () => {
    const a = createAllocator(testbed3());
    const d = a.admit('d', unicast('h1', 'h2', { deadlineNs: 43_000 }));
    if (!d.ok) throw d.error;
    expect(d.grant.receivers[0]!.lambdaMaxNs).toBe(43_000);
    // A large lane on the same ports would push the bound past 43 µs.
    const err = expectRejected(a.admit('x', unicast('h1', 'h2', { maxPayloadBytes: 1418 })));
    expect(err.details).toMatchObject({ reason: 'deadline', laneId: 'd' });
    // An admitted lane's deadline is named with its id.
    expect(err.message).toMatch(/^lane d would miss its deadline/);
    expect(a.grant('d')).toEqual(d.grant);
  });

  it('raises other lanes’ windows when needed and reports them as changed', () => {
    const a = createAllocator(testbed3());
    const first = a.admit('a', unicast('h1', 'h2'));
    if (!first.ok) throw first.error;
    const res = a.admit('b', unicast('h1', 'h2', { maxPayloadBytes: 1000 }));
    if (!res.ok) throw res.error;
    expect(res.changed.map((c) => [c.laneId, c.reasons])).toEqual([['a', ['window']]]);
    expect(a.grant('a')!.receivers[0]!.lambdaMaxNs).toBeGreaterThan(first.grant.receivers[0]!.lambdaMaxNs);
    expect(a.grant('a')!.epoch).toBe(2);
    expect(violationsOf(a)).toEqual([]);
  });

  it('a lane on unrelated ports does not move other windows', () => {
    const a = createAllocator(testbed3());
    const first = a.admit('a', unicast('h1', 'h2'));
    const res = a.admit('b', unicast('h3', 'h1'));
    expect(res.ok && res.changed).toEqual([]);
    expect(first.ok && a.grant('a')).toEqual(first.ok && first.grant);
  });

  it('hands out the lowest free source port per sender, and the contract constants', () => {
    const a = createAllocator(testbed3(), { srcPortBase: 30000 });
    for (const id of ['a', 'b', 'c']) a.admit(id, unicast('h1', 'h2'));
    expect(a.grants().map((g) => g.srcPort)).toEqual([30000, 30001, 30002]);
    a.release('b');
    const d = a.admit('d', unicast('h1', 'h3'));
    const e = a.admit('e', unicast('h2', 'h3'));
    expect(d.ok && d.grant).toMatchObject({
      srcPort: 30001,
      dstPort: 7000,
      dscp: 46,
      priority: 6,
      policy: 'reject',
    });
    expect(e.ok && e.grant.srcPort).toBe(30000);
  });

  it('counts the epoch up on every successful mutation only', () => {
    const a = createAllocator(testbed3());
    expect(a.epoch).toBe(0);
    a.admit('a', unicast('h1', 'h2'));
    a.admit('a', unicast('h1', 'h2'));
    expect(a.epoch).toBe(1);
    a.release('a');
    expect(a.epoch).toBe(2);
  });

  it('release of an unknown lane throws XL_ERR_UNKNOWN_LANE', () => {
    const a = createAllocator(testbed3());
    expect(() => a.release('nope')).toThrowError(expect.objectContaining({ code: 'XL_ERR_UNKNOWN_LANE' }));
  });

  it('names are unique while the lane lives', () => {
    const a = createAllocator(testbed3());
    a.admit('a', unicast('h1', 'h2', { name: 'fd' }));
    const dup = a.admit('b', unicast('h1', 'h3', { name: 'fd' }));
    expect(!dup.ok && dup.error.code).toBe('XL_ERR_DUPLICATE');
    const sameId = a.admit('a', unicast('h2', 'h3'));
    expect(!sameId.ok && sameId.error.code).toBe('XL_ERR_DUPLICATE');
    a.release('a');
    const again = a.admit('b', unicast('h1', 'h3', { name: 'fd' }));
    expect(again.ok && again.grant.name).toBe('fd');
  });
});

describe('request validation', () => {
  const a = createAllocator(testbed3());
  const cases: [string, Partial<LaneRequest> & Record<string, unknown>, string][] = [
    ['σ = 0', { maxPayloadBytes: 0 }, 'maxPayloadBytes'],
    ['σ > 1418', { maxPayloadBytes: 1419 }, 'maxPayloadBytes'],
    ['σ fractional', { maxPayloadBytes: 10.5 }, 'maxPayloadBytes'],
    ['π < 1 µs', { minPeriodNs: 999 }, 'minPeriodNs'],
    ['π NaN', { minPeriodNs: Number.NaN }, 'minPeriodNs'],
    ['minPayload > σ', { minPayloadBytes: 65 }, 'minPayloadBytes'],
    ['maxPeriod < π', { maxPeriodNs: 99_999 }, 'maxPeriodNs'],
    ['deadline 0', { deadlineNs: 0 }, 'deadlineNs'],
    ['no receivers', { receivers: [] }, 'receivers'],
    ['receiver twice', { receivers: ['h2', 'h2'] }, 'receivers/1'],
    ['sender receives', { receivers: ['h1'] }, 'receivers/0'],
    ['bad policy', { policy: 'drop' as never }, 'policy'],
  ];
  for (const [what, over, path] of cases) {
    it(`${what} → XL_ERR_VALIDATION at ${path}`, () => {
      const res = a.admit('x', unicast('h1', 'h2', over));
      const err = expectRejected(res);
      expect(err.code).toBe('XL_ERR_VALIDATION');
      expect(err.details).toEqual({ errors: [expect.objectContaining({ path })] });
    });
  }

  it('unknown hosts (or a switch named as a host) → XL_ERR_UNKNOWN_HOST', () => {
    expect(expectRejected(a.admit('x', unicast('h9', 'h2'))).code).toBe('XL_ERR_UNKNOWN_HOST');
    expect(expectRejected(a.admit('x', unicast('h1', 's1'))).details).toEqual({ host: 's1' });
  });

  it('a host with no way in → XL_ERR_NO_PATH', () => {
    const t = topology(
      [host('h1'), host('h2'), host('lonely')],
      [sw('s1')],
      [link('h1', 's1'), link('h2', 's1')],
    );
    const b = createAllocator(t);
    const err = expectRejected(b.admit('x', unicast('h1', 'lonely')));
    expect(err.code).toBe('XL_ERR_NO_PATH');
    expect(err.details).toEqual({ from: 'h1', to: 'lonely' });
    expect(b.epoch).toBe(0);
  });
});

describe('admitMany (bulk loading)', () => {
  const req = (i: number): LaneRequest =>
    unicast(`h${(i % 3) + 1}`, `h${((i + 1) % 3) + 1}`, { maxPayloadBytes: 100 + i });

  it('a batch that fits: the same grants as one-by-one admission, one epoch', () => {
    const one = createAllocator(testbed3());
    const bulk = createAllocator(testbed3());
    const entries = Array.from({ length: 6 }, (_, i) => ({ laneId: `l${i}`, request: req(i) }));
    for (const e of entries) one.admit(e.laneId, e.request);
    const results = bulk.admitMany(entries);
    expect(results.every((r) => r.ok)).toBe(true);
    expect(bulk.epoch).toBe(1);
    // Windows may differ by hysteresis (one-by-one raises early windows step by step); σ, π,
    // paths and ports do not, and both pass the verifier.
    const strip = (a: typeof one) =>
      a.grants().map((g) => ({ ...g, epoch: 0, receivers: g.receivers.map((r) => r.path) }));
    expect(strip(bulk)).toEqual(strip(one));
    expect(violationsOf(bulk)).toEqual([]);
  });

  it('a batch that does not fit falls back to admit() per lane, with the same outcome', () => {
    const one = createAllocator(testbed3());
    const bulk = createAllocator(testbed3());
    const entries = [
      { laneId: 'a', request: big('h1') },
      { laneId: 'bad', request: unicast('h1', 'h9') },
      { laneId: 'b', request: mid('h2') },
      { laneId: 'c', request: unicast('h2', 'h1') },
    ];
    const expected = entries.map((e) => one.admit(e.laneId, e.request));
    expect(bulk.admitMany(entries)).toEqual(expected);
    expect(bulk.grants()).toEqual(one.grants());
  });
});
