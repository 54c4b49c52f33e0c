// verifyAllocation must catch what a buggy allocator could get wrong.
import { describe, expect, it } from 'vitest';
import { createAllocator } from '../../src/alloc/allocator.js';
import type { PersistedLane } from '../../src/alloc/types.js';
import { verifyAllocation } from '../../src/alloc/verify.js';
import { testbed3 } from './fixtures.js';
import { persistedOf, unicast } from './helpers.js';

function good(): PersistedLane[] {
  const a = createAllocator(testbed3());
  a.admit('a', unicast('h1', 'h2', { deadlineNs: 60_000 }));
  a.admit('b', { sender: 'h1', receivers: ['h2', 'h3'], maxPayloadBytes: 500, minPeriodNs: 50_000 });
  return structuredClone(persistedOf(a));
}

const kinds = (lanes: PersistedLane[]) => verifyAllocation(testbed3(), lanes).map((v) => v.kind);

describe('verifyAllocation', () => {
  it('accepts what the allocator granted', () => {
    expect(verifyAllocation(testbed3(), good())).toEqual([]);
  });

  it('a window below the bound', () => {
    const lanes = good();
    lanes[1]!.grant.receivers[1]!.lambdaMaxNs = 30_000;
    lanes[1]!.grant.receivers[1]!.jitterNs = 30_000 - lanes[1]!.grant.receivers[1]!.lambdaMinNs;
    expect(kinds(lanes)).toEqual(['lambda-max']);
  });

  it('a lower bound the network cannot keep', () => {
    const lanes = good();
    const r = lanes[0]!.grant.receivers[0]!;
    r.lambdaMinNs = 8000;
    r.jitterNs = r.lambdaMaxNs - 8000;
    expect(kinds(lanes)).toEqual(['lambda-min']);
  });

  it('a lower bound that counts transmission time on links that do not serialize a lone frame', () => {
    // Granted on wires (λ_min 7,520 ns with 2 × 960 ns of transmission), checked against the same
    // network of shaped veths, where a frame can arrive 1,920 ns sooner.
    const veths = testbed3();
    veths.links = veths.links.map((l) => ({ ...l, serializes: false }));
    const lanes = good();
    expect(verifyAllocation(veths, lanes).map((v) => v.kind)).toContain('lambda-min');
    const a = createAllocator(veths);
    a.admit('a', unicast('h1', 'h2', { deadlineNs: 60_000 }));
    expect(verifyAllocation(veths, persistedOf(a))).toEqual([]);
  });

  it('a window past the deadline', () => {
    const lanes = good();
    lanes[0]!.request.deadlineNs = 40_000;
    expect(kinds(lanes)).toEqual(['deadline']);
  });

  it('a grant outside its request, and the overload it causes', () => {
    const lanes = good();
    lanes[1]!.grant.minPeriodNs = 1000;
    const found = kinds(lanes);
    expect(found).toContain('grant-outside-request');
    expect(found).toContain('share');
  });

  it('a buffer too small for the backlog', () => {
    const t = testbed3();
    const small = { ...t, switches: t.switches.map((s) => ({ ...s, portBufferBytes: 1000 })) };
    expect(verifyAllocation(small, good()).map((v) => [v.kind, v.port])).toContainEqual([
      'buffer',
      { from: 's1', to: 'h2' },
    ]);
  });

  it('paths that do not exist, skip the tree, or forward through a host', () => {
    const noLink = good();
    noLink[0]!.grant.tree[1] = { from: 's1', to: 'h9' };
    expect(kinds(noLink)).toEqual(['unknown-hop']);
    const offTree = good();
    offTree[1]!.grant.receivers[0]!.path = ['h1', 's1', 'h3'];
    expect(kinds(offTree)).toContain('bad-path');
    const viaHost = good();
    viaHost[0]!.grant.tree = [
      { from: 'h1', to: 's1' },
      { from: 's1', to: 'h3' },
      { from: 'h3', to: 's1' },
    ];
    expect(kinds(viaHost)).toContain('bad-path');
  });

  it('two lanes of one sender on the same source port', () => {
    const lanes = good();
    lanes[1]!.grant.srcPort = lanes[0]!.grant.srcPort;
    expect(kinds(lanes)).toEqual(['src-port']);
  });

  it('a phase outside [0, π_min) or not an integer; none at all is an older grant, fine', () => {
    for (const phaseNs of [-1, 0.5, 100_000, 250_000]) {
      const lanes = good();
      lanes[0]!.grant.phaseNs = phaseNs;
      expect(kinds(lanes)).toEqual(['grant-inconsistent']);
    }
    const old = good();
    for (const l of old) delete l.grant.phaseNs;
    expect(kinds(old)).toEqual([]);
  });
});
