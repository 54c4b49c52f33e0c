// Shared helpers for the allocator tests.
import { expect } from 'vitest';
import type { Allocator, LaneRequest, PersistedLane, PortReport } from '../../src/alloc/types.js';
import { verifyAllocation } from '../../src/alloc/verify.js';

export function persistedOf(a: Allocator): PersistedLane[] {
  return a.grants().map((grant) => ({ laneId: grant.laneId, request: a.request(grant.laneId)!, grant }));
}

/** The independent verifier's findings on an allocator's current state. */
export function violationsOf(a: Allocator): string[] {
  return verifyAllocation(a.topology, persistedOf(a)).map((v) => `${v.kind}: ${v.message}`);
}

export function unicast(sender: string, receiver: string, over: Partial<LaneRequest> = {}): LaneRequest {
  return { sender, receivers: [receiver], maxPayloadBytes: 64, minPeriodNs: 100_000, ...over };
}

/** Deep snapshot of what callers can observe, for "nothing changed" assertions. */
export function observable(a: Allocator): unknown {
  return structuredClone({ epoch: a.epoch, grants: a.grants(), ports: a.ports() });
}

/** Port reports equal up to float summation order (restored lanes sum in a different order). */
export function expectPortsClose(actual: PortReport[], expected: PortReport[]): void {
  expect(actual.map((p) => [p.from, p.to, p.lanes, p.rateBps, p.shareBps, p.bufferBytes])).toEqual(
    expected.map((p) => [p.from, p.to, p.lanes, p.rateBps, p.shareBps, p.bufferBytes]),
  );
  actual.forEach((p, i) => {
    const e = expected[i]!;
    for (const k of ['expressBps', 'burstBytes', 'backlogBytes', 'delayNs'] as const)
      expect(Math.abs(p[k] - e[k])).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(e[k])));
  });
}
