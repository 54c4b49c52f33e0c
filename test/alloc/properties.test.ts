// Property tests: random fabrics (leaf-spine and general graphs, rings included) and random
// sequences of admissions, releases and topology changes. After every step the independent
// verifier must find nothing, a failed call must change nothing, and a restore must round-trip.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createAllocator, restoreAllocator } from '../../src/alloc/allocator.js';
import type { Allocator, Grant, LaneRequest } from '../../src/alloc/types.js';
import type { LinkSpec, TopologySpec } from '../../src/topology/spec.js';
import { GBIT, host, leafSpine, link, sw, topology } from './fixtures.js';
import { expectPortsClose, observable, persistedOf, violationsOf } from './helpers.js';

const bufferBytes = fc.constantFrom(6000, 64 * 1024, 1024 * 1024);

const leafSpineArb: fc.Arbitrary<TopologySpec> = fc
  .record({
    leaves: fc.integer({ min: 1, max: 3 }),
    hostsPerLeaf: fc.integer({ min: 1, max: 3 }),
    spines: fc.integer({ min: 1, max: 2 }),
    hostRateBps: fc.constantFrom(GBIT, 10 * GBIT),
    fabricRateBps: fc.constantFrom(GBIT, 10 * GBIT),
    expressShare: fc.constantFrom(0.1, 0.2, 0.5),
    switchBuffer: bufferBytes,
    // Hosts' engines with and without a release grid (HostSpec.releaseJitterNs).
    releaseJitterNs: fc.constantFrom(undefined, 0, 20_000, 500_000),
  })
  .filter((o) => o.leaves * o.hostsPerLeaf >= 2)
  .map((o) => {
    const t = leafSpine(o);
    return {
      ...t,
      hosts: t.hosts.map((h) =>
        o.releaseJitterNs === undefined ? h : { ...h, releaseJitterNs: o.releaseJitterNs },
      ),
      switches: t.switches.map((s) => ({ ...s, portBufferBytes: o.switchBuffer })),
    };
  });

/** Connected graphs of 2–5 switches: a ring or a random tree plus chords, hosts on 1–2 switches. */
const generalArb: fc.Arbitrary<TopologySpec> = fc
  .record({
    switches: fc.integer({ min: 2, max: 5 }),
    ring: fc.boolean(),
    parents: fc.array(fc.nat(), { minLength: 5, maxLength: 5 }),
    chords: fc.array(fc.tuple(fc.nat(), fc.nat()), { maxLength: 3 }),
    hosts: fc.array(fc.tuple(fc.nat(), fc.option(fc.nat(), { nil: undefined })), {
      minLength: 2,
      maxLength: 6,
    }),
    rate: fc.constantFrom(GBIT, 10 * GBIT),
    share: fc.constantFrom(0.2, 0.5, 1),
    buffer: bufferBytes,
  })
  .map((o) => {
    const n = o.switches;
    const names = Array.from({ length: n }, (_, i) => `s${i}`);
    const pairs = new Set<string>();
    const links: LinkSpec[] = [];
    const add = (a: string, b: string): void => {
      const k = [a, b].sort().join('|');
      if (a === b || pairs.has(k)) return;
      pairs.add(k);
      links.push(link(a, b, { rateBps: o.rate, expressShare: o.share }));
    };
    for (let i = 1; i < n; i++) add(names[i]!, names[o.ring ? i - 1 : o.parents[i - 1]! % i]!);
    if (o.ring && n > 2) add(names[n - 1]!, names[0]!);
    for (const [x, y] of o.chords) add(names[x % n]!, names[y % n]!);
    const hosts = o.hosts.map((_, i) => host(`h${i}`, { bufferBytes: o.buffer }));
    o.hosts.forEach(([first, second], i) => {
      add(`h${i}`, names[first % n]!);
      if (second !== undefined) add(`h${i}`, names[second % n]!);
    });
    return topology(
      hosts,
      names.map((s) => sw(s, { portBufferBytes: o.buffer })),
      links,
      'general',
    );
  });

type Op =
  | {
      kind: 'admit';
      sender: number;
      receivers: number[];
      sigma: number;
      period: number;
      flex: number;
      deadline?: number;
    }
  | { kind: 'release'; pick: number }
  | { kind: 'replace'; scale: number; dropHost: boolean; force: boolean };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('admit' as const),
      sender: fc.nat(),
      receivers: fc.uniqueArray(fc.nat({ max: 7 }), { minLength: 1, maxLength: 3 }),
      sigma: fc.integer({ min: 1, max: 1418 }),
      period: fc.integer({ min: 1000, max: 2_000_000 }),
      flex: fc.constantFrom(0, 0, 1, 2),
      deadline: fc.option(fc.integer({ min: 5000, max: 400_000 }), { nil: undefined }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('release' as const), pick: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('replace' as const),
      scale: fc.constantFrom(0.5, 1, 2),
      dropHost: fc.boolean(),
      force: fc.boolean(),
    }),
  },
);

function requestFor(t: TopologySpec, op: Extract<Op, { kind: 'admit' }>): LaneRequest | undefined {
  const hosts = t.hosts.map((h) => h.name);
  const sender = hosts[op.sender % hosts.length]!;
  const others = hosts.filter((h) => h !== sender);
  if (others.length === 0) return undefined;
  const receivers = [...new Set(op.receivers.map((r) => others[r % others.length]!))];
  const req: LaneRequest = { sender, receivers, maxPayloadBytes: op.sigma, minPeriodNs: op.period };
  if (op.flex >= 1) req.maxPeriodNs = op.period * 4;
  if (op.flex === 2) req.minPayloadBytes = Math.max(1, Math.floor(op.sigma / 4));
  if (op.deadline !== undefined) req.deadlineNs = op.deadline;
  return req;
}

function changed(t: TopologySpec, op: Extract<Op, { kind: 'replace' }>, lastHost: string): TopologySpec {
  const links = t.links
    .filter((l) => !op.dropHost || (l.a !== lastHost && l.b !== lastHost))
    .map((l) => ({ ...l, rateBps: l.rateBps * op.scale }));
  const hosts = op.dropHost ? t.hosts.filter((h) => h.name !== lastHost) : t.hosts;
  return { ...t, hosts, links };
}

function canDropHost(t: TopologySpec): boolean {
  return t.hosts.length > 2;
}

function grantsWithinRequests(a: Allocator): void {
  for (const g of a.grants()) {
    const r = a.request(g.laneId)!;
    expect(Number.isInteger(g.phaseNs)).toBe(true);
    expect(g.phaseNs).toBeGreaterThanOrEqual(0);
    expect(g.phaseNs).toBeLessThan(g.minPeriodNs);
    expect(g.maxPayloadBytes).toBeLessThanOrEqual(r.maxPayloadBytes);
    expect(g.maxPayloadBytes).toBeGreaterThanOrEqual(r.minPayloadBytes ?? r.maxPayloadBytes);
    expect(g.minPeriodNs).toBeGreaterThanOrEqual(r.minPeriodNs);
    expect(g.minPeriodNs).toBeLessThanOrEqual(r.maxPeriodNs ?? r.minPeriodNs);
    for (const rx of g.receivers)
      if (r.deadlineNs !== undefined) expect(rx.lambdaMaxNs).toBeLessThanOrEqual(r.deadlineNs);
  }
  for (const p of a.ports()) {
    expect(p.expressBps).toBeLessThanOrEqual(p.shareBps * (1 + 1e-9));
    expect(p.backlogBytes).toBeLessThanOrEqual(p.bufferBytes * (1 + 1e-9));
  }
}

/** A lane keeps its phase for life; only a new π takes it mod π. */
function phasesKept(a: Allocator, seen: Map<string, Grant>): void {
  for (const g of a.grants()) {
    const old = seen.get(g.laneId);
    if (old) expect(g.phaseNs).toBe(old.phaseNs! % g.minPeriodNs);
    seen.set(g.laneId, g);
  }
}

function runSequence(t0: TopologySpec, ops: Op[]): void {
  const a = createAllocator(t0);
  const seen = new Map<string, Grant>();
  let n = 0;
  for (const op of ops) {
    const before = observable(a);
    const epoch = a.epoch;
    if (op.kind === 'admit') {
      const req = requestFor(a.topology, op);
      if (!req) continue;
      const res = a.admit(`l${n++}`, req);
      if (!res.ok) {
        expect(observable(a)).toEqual(before);
        continue;
      }
      expect(res.epoch).toBe(epoch + 1);
      expect(res.grant.epoch).toBe(res.epoch);
      for (const c of res.changed) expect(a.grant(c.laneId)).toEqual(c.after);
    } else if (op.kind === 'release') {
      const ids = a.grants().map((g) => g.laneId);
      if (ids.length === 0) continue;
      a.release(ids[op.pick % ids.length]!);
      expect(a.epoch).toBe(epoch + 1);
    } else {
      const hosts = a.topology.hosts;
      const next = changed(
        a.topology,
        { ...op, dropHost: op.dropHost && canDropHost(a.topology) },
        hosts[hosts.length - 1]!.name,
      );
      const res = a.replaceTopology(next, { force: op.force });
      if (!res.ok) {
        expect(['XL_ERR_TOPOLOGY_CONFLICT', 'XL_ERR_UNSTABLE']).toContain(res.error.code);
        expect(observable(a)).toEqual(before);
        continue;
      }
      for (const id of res.revoked) expect(a.grant(id)).toBeUndefined();
    }
    expect(violationsOf(a)).toEqual([]);
    grantsWithinRequests(a);
    phasesKept(a, seen);
  }
  const restored = restoreAllocator(a.topology, persistedOf(a), a.epoch);
  expect(restored.grants()).toEqual(a.grants());
  expectPortsClose(restored.ports(), a.ports());
}

describe('allocator properties', () => {
  it('leaf-spine fabrics: every step stays verified, failures change nothing, restore round-trips', () => {
    fc.assert(
      fc.property(leafSpineArb, fc.array(opArb, { minLength: 1, maxLength: 25 }), (t, ops) =>
        runSequence(t, ops),
      ),
      { numRuns: 100 },
    );
  });

  it('general graphs incl. rings and multi-homed hosts: the same invariants', () => {
    fc.assert(
      fc.property(generalArb, fc.array(opArb, { minLength: 1, maxLength: 25 }), (t, ops) =>
        runSequence(t, ops),
      ),
      { numRuns: 100 },
    );
  });

  it('a lane admitted first keeps its guarantee whatever comes after it', () => {
    fc.assert(
      fc.property(leafSpineArb, fc.array(opArb, { maxLength: 20 }), (t, ops) => {
        const a = createAllocator(t);
        const hosts = t.hosts.map((h) => h.name);
        const first = a.admit('first', {
          sender: hosts[0]!,
          receivers: [hosts[hosts.length - 1]!],
          maxPayloadBytes: 100,
          minPeriodNs: 100_000,
          deadlineNs: 1_000_000,
        });
        if (!first.ok) return;
        let n = 0;
        for (const op of ops) {
          if (op.kind !== 'admit') continue;
          const req = requestFor(t, op);
          if (req) a.admit(`l${n++}`, req);
        }
        const g = a.grant('first')!;
        expect(g.maxPayloadBytes).toBe(100);
        expect(g.minPeriodNs).toBe(100_000);
        expect(g.tree).toEqual(first.grant.tree);
        expect(g.receivers[0]!.lambdaMaxNs).toBeLessThanOrEqual(1_000_000);
        expect(violationsOf(a)).toEqual([]);
      }),
      { numRuns: 100 },
    );
  });
});
