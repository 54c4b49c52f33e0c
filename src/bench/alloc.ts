// `xlane bench alloc`: how fast the allocator admits a lane into a loaded fabric, how long a full
// re-computation takes, and whether the result survives the independent verifier.
import { performance } from 'node:perf_hooks';
import { createAllocator } from '../alloc/allocator.js';
import type { Allocator, LaneRequest, PersistedLane } from '../alloc/types.js';
import { verifyAllocation } from '../alloc/verify.js';
import { XlaneError } from '../errors.js';
import { generateLeafSpine } from '../topology/generate.js';
import type { TopologySpec } from '../topology/spec.js';
import { logUniform, mulberry32, type Rng, randInt } from './prng.js';
import { percentile, round3 } from './stats.js';

export interface AllocBenchOptions {
  hosts: number;
  lanes: number;
  samples: number;
  seed: number;
}

export interface AllocBenchResult {
  hosts: number;
  lanes: number;
  admitMs: { p50: number; p99: number };
  recomputeMs: number;
  invariantViolations: number;
  rejected: number;
  buildMs: number;
}

/** Fabric shape for a host count: 1,024 → 32 leaves × 32 hosts, 4 spines; 10,240 → 160 × 64, 16 spines. */
export function fabricFor(hosts: number): TopologySpec {
  const hostsPerLeaf = hosts >= 4096 ? 64 : hosts >= 64 ? 32 : Math.max(1, Math.min(hosts, 8));
  const leaves = Math.max(1, Math.ceil(hosts / hostsPerLeaf));
  const spines = leaves === 1 ? 0 : Math.max(2, Math.min(16, Math.round(leaves / 8)));
  return generateLeafSpine({ leaves, hostsPerLeaf, spines });
}

/** A random lane: σ 32..512 B, π log-uniform 100 µs..10 ms, ~10 % one-to-many (2–4 receivers),
 * ~20 % flexible (may be squeezed to half σ / double π), ~10 % with a deadline. */
export function randomRequest(rng: Rng, hostNames: string[]): LaneRequest {
  const sender = hostNames[randInt(rng, 0, hostNames.length - 1)]!;
  const fanout = rng() < 0.1 ? randInt(rng, 2, 4) : 1;
  const receivers = new Set<string>();
  while (receivers.size < fanout) {
    const r = hostNames[randInt(rng, 0, hostNames.length - 1)]!;
    if (r !== sender) receivers.add(r);
  }
  const maxPayloadBytes = randInt(rng, 32, 512);
  const minPeriodNs = Math.round(logUniform(rng, 100_000, 10_000_000));
  const req: LaneRequest = { sender, receivers: [...receivers], maxPayloadBytes, minPeriodNs };
  if (rng() < 0.2) {
    req.minPayloadBytes = Math.ceil(maxPayloadBytes / 2);
    req.maxPeriodNs = minPeriodNs * 2;
  }
  if (rng() < 0.1) req.deadlineNs = randInt(rng, 150_000, 500_000);
  return req;
}

export function persisted(a: Allocator): PersistedLane[] {
  return a.grants().map((grant) => ({ laneId: grant.laneId, request: a.request(grant.laneId)!, grant }));
}

const BATCH = 500;

export function runAllocBench(opts: AllocBenchOptions): AllocBenchResult {
  // A lane needs a receiver other than its sender.
  if (!(opts.hosts >= 2))
    throw new XlaneError('XL_ERR_VALIDATION', `--hosts must be at least 2 (got ${opts.hosts})`);
  const rng = mulberry32(opts.seed);
  const t0 = performance.now();
  const spec = fabricFor(opts.hosts);
  const hostNames = spec.hosts.map((h) => h.name);
  const alloc = createAllocator(spec);
  let admitted = 0;
  let rejected = 0;
  // Loading goes in batches (one bound pass per batch when it fits); the timed admissions below go
  // one by one through admit(), as a controller would.
  const maxAttempts = opts.lanes * 2 + 100;
  let attempts = 0;
  while (admitted < opts.lanes && attempts < maxAttempts) {
    const batch = Math.min(BATCH, opts.lanes - admitted);
    const entries = Array.from({ length: batch }, () => ({
      laneId: `lane-${attempts++}`,
      request: randomRequest(rng, hostNames),
    }));
    for (const r of alloc.admitMany(entries)) {
      if (r.ok) admitted++;
      else rejected++;
    }
  }
  const buildMs = performance.now() - t0;

  const samples: number[] = [];
  for (let i = 0; i < opts.samples; i++) {
    const req = randomRequest(rng, hostNames);
    const start = performance.now();
    const r = alloc.admit(`probe-${i}`, req);
    samples.push(performance.now() - start);
    if (r.ok) alloc.release(`probe-${i}`);
  }

  const start = performance.now();
  const re = alloc.replaceTopology(spec);
  const recomputeMs = performance.now() - start;
  const violations = verifyAllocation(alloc.topology, persisted(alloc));
  return {
    hosts: spec.hosts.length,
    lanes: admitted,
    admitMs: { p50: round3(percentile(samples, 50)), p99: round3(percentile(samples, 99)) },
    recomputeMs: round3(recomputeMs),
    invariantViolations: violations.length + (re.ok ? 0 : 1),
    rejected,
    buildMs: round3(buildMs),
  };
}
