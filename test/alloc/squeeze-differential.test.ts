// Differential test of the cheap bisection (src/alloc/squeeze.ts: steps that only move σ/π, steps
// refuted by one exact share sum without a bound pass) and of the bound pass's queueing shortcut
// (src/alloc/evaluate.ts) against the code they replaced, kept verbatim in ./reference/: a second
// allocator is loaded with those two modules swapped in, and both run the same random sequences of
// admissions, releases, topology changes and restarts. Every result, grant, port report and epoch
// must be the same to the bit (compared as JSON text, which spells every double exactly).
import fc from 'fast-check';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import * as live from '../../src/alloc/allocator.js';
import * as liveEvaluate from '../../src/alloc/evaluate.js';
import type { Allocator, LaneRequest } from '../../src/alloc/types.js';
import type { LinkSpec, TopologySpec } from '../../src/topology/spec.js';
import { GBIT, host, leafSpine, link, sw, topology } from './fixtures.js';
import { persistedOf } from './helpers.js';

type AllocatorModule = typeof live;
let reference: AllocatorModule;

beforeAll(async () => {
  vi.resetModules();
  vi.doMock('../../src/alloc/squeeze.js', () => import('./reference/squeeze.js'));
  vi.doMock('../../src/alloc/evaluate.js', () => import('./reference/evaluate.js'));
  reference = await import('../../src/alloc/allocator.js');
  // The swap took: the reference pass has no share shortcut, the live one does.
  const refEvaluate = await import('../../src/alloc/evaluate.js');
  expect('overShare' in refEvaluate).toBe(false);
  expect('overShare' in liveEvaluate).toBe(true);
  expect(reference.createAllocator).not.toBe(live.createAllocator);
  vi.doUnmock('../../src/alloc/squeeze.js');
  vi.doUnmock('../../src/alloc/evaluate.js');
});

/** Everything a caller can observe, as text: equal text is equal doubles (JSON spells them exactly). */
function observed(a: Allocator): string {
  return JSON.stringify({ epoch: a.epoch, grants: a.grants(), ports: a.ports() });
}

/** Hosts on one switch: every lane shares the switch's ports, so squeezes are common. */
const starArb: fc.Arbitrary<TopologySpec> = fc
  .record({
    hosts: fc.integer({ min: 2, max: 4 }),
    rate: fc.constantFrom(GBIT, 10 * GBIT),
    share: fc.constantFrom(0.05, 0.2, 0.5),
    buffer: fc.constantFrom(8000, 64 * 1024, 1024 * 1024),
  })
  .map((o) => {
    const names = Array.from({ length: o.hosts }, (_, i) => `h${i}`);
    return topology(
      names.map((n) => host(n, { bufferBytes: o.buffer })),
      [sw('s0', { portBufferBytes: o.buffer })],
      names.map((n) => link(n, 's0', { rateBps: o.rate, expressShare: o.share })),
      'star',
    );
  });

const leafSpineArb: fc.Arbitrary<TopologySpec> = fc
  .record({
    leaves: fc.integer({ min: 2, max: 3 }),
    hostsPerLeaf: fc.integer({ min: 1, max: 3 }),
    spines: fc.integer({ min: 1, max: 2 }),
    fabricRateBps: fc.constantFrom(GBIT, 10 * GBIT),
    expressShare: fc.constantFrom(0.1, 0.2),
  })
  .map((o) => leafSpine(o));

/** A ring of switches: the cyclic part of the pass (full passes, fixed point, XL_ERR_UNSTABLE). */
const ringArb: fc.Arbitrary<TopologySpec> = fc
  .record({ switches: fc.integer({ min: 3, max: 4 }), share: fc.constantFrom(0.2, 1) })
  .map((o) => {
    const names = Array.from({ length: o.switches }, (_, i) => `s${i}`);
    const links: LinkSpec[] = names.map((s, i) =>
      link(s, names[(i + 1) % names.length]!, { expressShare: o.share }),
    );
    const hosts = names.map((_, i) => host(`h${i}`));
    names.forEach((s, i) => {
      links.push(link(`h${i}`, s, { expressShare: o.share }));
    });
    return topology(
      hosts,
      names.map((s) => sw(s)),
      links,
      'ring',
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
  | { kind: 'replace'; scale: number; force: boolean }
  | { kind: 'restart' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant('admit' as const),
      sender: fc.nat(),
      receivers: fc.uniqueArray(fc.nat({ max: 7 }), { minLength: 1, maxLength: 3 }),
      sigma: fc.integer({ min: 32, max: 1418 }),
      period: fc.integer({ min: 5_000, max: 400_000 }),
      // Mostly lanes with slack: those are squeezed and eased back.
      flex: fc.constantFrom(0, 1, 2, 2, 3),
      deadline: fc.option(fc.integer({ min: 20_000, max: 2_000_000 }), { nil: undefined, freq: 4 }),
    }),
  },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('release' as const), pick: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('replace' as const),
      scale: fc.constantFrom(0.5, 1, 2),
      force: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'restart' as const }) },
);

function requestFor(t: TopologySpec, op: Extract<Op, { kind: 'admit' }>): LaneRequest | undefined {
  const hosts = t.hosts.map((h) => h.name);
  const sender = hosts[op.sender % hosts.length]!;
  const others = hosts.filter((h) => h !== sender);
  if (others.length === 0) return undefined;
  const receivers = [...new Set(op.receivers.map((r) => others[r % others.length]!))];
  const req: LaneRequest = { sender, receivers, maxPayloadBytes: op.sigma, minPeriodNs: op.period };
  if (op.flex === 1 || op.flex === 2) req.maxPeriodNs = op.period * (op.flex === 1 ? 2 : 20);
  if (op.flex >= 2) req.minPayloadBytes = Math.max(1, Math.floor(op.sigma / (op.flex === 2 ? 4 : 2)));
  if (op.deadline !== undefined) req.deadlineNs = op.deadline;
  return req;
}

/** How often the interesting paths ran, over a whole property run (so the test cannot go vacuous). */
const seen = { squeezed: 0, eased: 0, refused: 0 };

/** Runs `ops` through a live and a reference allocator in lockstep; every step must agree. */
function lockstep(t: TopologySpec, ops: Op[]): void {
  let a: Allocator = live.createAllocator(t);
  let b: Allocator = reference.createAllocator(t);
  let n = 0;
  for (const op of ops) {
    let ra: unknown;
    let rb: unknown;
    if (op.kind === 'admit') {
      const req = requestFor(a.topology, op);
      if (!req) continue;
      const id = `l${n++}`;
      ra = a.admit(id, req);
      rb = b.admit(id, req);
      const res = ra as ReturnType<Allocator['admit']>;
      if (!res.ok) seen.refused++;
      else if (res.changed.some((c) => c.reasons.includes('payload') || c.reasons.includes('period')))
        seen.squeezed++;
    } else if (op.kind === 'release') {
      const ids = a.grants().map((g) => g.laneId);
      if (ids.length === 0) continue;
      const id = ids[op.pick % ids.length]!;
      ra = a.release(id);
      rb = b.release(id);
      if ((ra as ReturnType<Allocator['release']>).changed.some((c) => c.reasons.includes('period')))
        seen.eased++;
    } else if (op.kind === 'replace') {
      const next = {
        ...a.topology,
        links: a.topology.links.map((l) => ({ ...l, rateBps: l.rateBps * op.scale })),
      };
      ra = a.replaceTopology(next, { force: op.force });
      rb = b.replaceTopology(next, { force: op.force });
    } else {
      // A controller restart: each side restores from what it would have stored.
      a = live.restoreAllocator(a.topology, persistedOf(a), a.epoch);
      b = reference.restoreAllocator(b.topology, persistedOf(b), b.epoch);
    }
    expect(JSON.stringify(ra)).toBe(JSON.stringify(rb));
    expect(observed(a)).toBe(observed(b));
  }
}

describe('squeeze and bound pass: the same decisions as the code they replaced, to the bit', () => {
  it('hosts on one switch', () => {
    fc.assert(fc.property(starArb, fc.array(opArb, { minLength: 5, maxLength: 60 }), lockstep), {
      numRuns: 150,
    });
  });

  it('leaf-spine fabrics', () => {
    fc.assert(fc.property(leafSpineArb, fc.array(opArb, { minLength: 5, maxLength: 60 }), lockstep), {
      numRuns: 80,
    });
  });

  it('rings (full passes and the cyclic fixed point)', () => {
    fc.assert(fc.property(ringArb, fc.array(opArb, { minLength: 5, maxLength: 60 }), lockstep), {
      numRuns: 80,
    });
  });

  it('the runs above squeezed, eased back and refused lanes', () => {
    expect(seen.squeezed).toBeGreaterThan(50);
    expect(seen.eased).toBeGreaterThan(20);
    expect(seen.refused).toBeGreaterThan(20);
  });

  it('hundreds of squeezable lanes on one port, with churn', () => {
    const t = topology(
      ['h0', 'h1', 'h2'].map((h) => host(h, { bufferBytes: 8 * 1024 * 1024 })),
      [sw('s0', { portBufferBytes: 8 * 1024 * 1024 })],
      ['h0', 'h1', 'h2'].map((h) => link(h, 's0', { rateBps: 10 * GBIT, expressShare: 0.2 })),
    );
    let x = 99;
    const rnd = (): number => {
      x = (x * 1103515245 + 12345) % 2147483648;
      return x / 2147483648;
    };
    const ops: Op[] = [];
    for (let i = 0; i < 700; i++) {
      if (i < 400 || rnd() < 0.55)
        ops.push({
          kind: 'admit',
          sender: 0,
          receivers: [Math.floor(rnd() * 2)],
          sigma: 200 + Math.floor(rnd() * 800),
          period: 100_000 + Math.floor(rnd() * 50_000),
          flex: 2 + Math.floor(rnd() * 2),
          ...(i % 10 === 0 ? { deadline: 2_000_000 } : {}),
        });
      else ops.push({ kind: 'release', pick: Math.floor(rnd() * 1000) });
    }
    ops.push({ kind: 'restart' }, ...ops.slice(400, 450));
    const before = seen.squeezed;
    lockstep(t, ops);
    expect(seen.squeezed - before).toBeGreaterThan(100);
  });
});
