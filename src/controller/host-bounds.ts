// A host's send / receive latency bounds, as the topology declares them or as its agent measured
// them (PUT /v1/hosts/:name/latency). Pure functions: the lifecycle turns a measurement into a new
// topology and sends it down the same replacement path as PUT /v1/topology, so every grant through
// the host is re-computed, the conflict check applies and the store keeps it.
//
// The topology stays the one source of the bounds the allocator uses; the host record only says
// where they came from (and what the file had declared, so a later topology replacement can tell
// "the file did not touch this host" from "the operator declared new bounds").
import { XlaneError } from '../errors.js';
import type { LatencyRange, TopologySpec } from '../topology/spec.js';

/** The wire id of the agents' calibration lane (a lane from a host to itself, see
 * src/agent/host-bounds). Controller lanes are "L<n>" with n their wire id, counting up from 1; the
 * lifecycle never hands out this one, so a calibration frame can never be taken for a lane's. */
export const HOST_CALIBRATION_WIRE_ID = 0xffffffff;

/** How a measurement was made (figures the agent reports; the controller only stores them). */
export interface HostBoundsMeasurement {
  /** Frames whose one-way latency was recorded. */
  samples: number;
  periodNs: number;
  durationNs?: number;
  /** e.g. "loopback": a lane from the host to itself through its own engine. */
  method?: string;
  engine?: string;
  /** The quantile the upper bound was taken at, and the factor applied to it. */
  quantile?: number;
  safetyFactor?: number;
  /** false: the upper bound is the quantile × factor even below the observed max (a quantile
   * promise); true or absent: never below the observed max. */
  keepObservedMax?: boolean;
  /** Share of the measured total given to the send side (the rest to the receive side). */
  sendShare?: number;
  /** The lower bound is the observed minimum × this. */
  minFactor?: number;
  /** Frames sent but never received during the run. */
  lost?: number;
  /** Native engine: receive passes that waited on the application to drain its delivery ring. */
  ringFullWaits?: number;
  observed?: { minNs: number; p50Ns?: number; p99Ns?: number; quantileNs?: number; maxNs: number };
}

export type HostBoundsSource = 'declared' | 'measured' | 'set';

/** Kept in the host record while the topology carries bounds that did not come from the file. */
export interface HostBoundsRecord {
  /** 'measured': the request carried a measurement; 'set': bounds given by hand through the API. */
  source: 'measured' | 'set';
  /** ISO time the controller accepted them. */
  at: string;
  send: LatencyRange;
  recv: LatencyRange;
  /** What the topology declared before (restored by DELETE /v1/hosts/:name/latency). */
  declared: { send: LatencyRange; recv: LatencyRange };
  measured?: HostBoundsMeasurement;
}

/** The bounds part of a host view (GET /v1/hosts). */
export interface HostBoundsView {
  source: HostBoundsSource;
  sendLatency: LatencyRange;
  recvLatency: LatencyRange;
  /** The topology's release jitter E of this host, when it declares one (grants carry it). */
  releaseJitterNs?: number;
  at?: string;
  declared?: { sendLatency: LatencyRange; recvLatency: LatencyRange };
  measured?: HostBoundsMeasurement;
}

/** Throws XL_ERR_VALIDATION unless 0 ≤ min ≤ max, both finite. */
export function checkLatencyRange(r: LatencyRange, path: string): void {
  const ok = Number.isFinite(r.minNs) && Number.isFinite(r.maxNs) && r.minNs >= 0 && r.minNs <= r.maxNs;
  if (!ok) {
    const message = `minNs (${r.minNs}) must be ≥ 0 and ≤ maxNs (${r.maxNs})`;
    throw new XlaneError('XL_ERR_VALIDATION', `${path} ${message}`, { errors: [{ path, message }] });
  }
}

/** The spec with one host's send / receive bounds replaced. */
export function withHostBounds(
  spec: TopologySpec,
  name: string,
  send: LatencyRange,
  recv: LatencyRange,
): TopologySpec {
  return {
    ...spec,
    hosts: spec.hosts.map((h) => (h.name === name ? { ...h, send: { ...send }, recv: { ...recv } } : h)),
  };
}

/**
 * A replacement topology with the measured bounds carried over. Per host holding a record:
 * - the new spec declares what the file declared before → the file did not touch this host, the
 *   measurement still stands: its bounds replace the declared ones;
 * - the new spec already carries the measured bounds (the effective topology sent back) → kept;
 * - anything else → the operator declared new bounds: they win and the record is `cleared`.
 * A host that left the topology is not listed (its record goes with it).
 */
export function carryMeasuredBounds(
  spec: TopologySpec,
  records: ReadonlyMap<string, { bounds?: HostBoundsRecord }>,
): { spec: TopologySpec; cleared: string[] } {
  const cleared: string[] = [];
  let out = spec;
  for (const h of spec.hosts) {
    const b = records.get(h.name)?.bounds;
    if (!b) continue;
    if (sameBounds(h, b.declared)) out = withHostBounds(out, h.name, b.send, b.recv);
    else if (!sameBounds(h, b)) cleared.push(h.name);
  }
  return { spec: out, cleared };
}

/** What GET /v1/hosts shows: the bounds in effect, and the record only if it still describes them. */
export function hostBoundsView(spec: TopologySpec, name: string, record?: HostBoundsRecord): HostBoundsView {
  const h = spec.hosts.find((x) => x.name === name);
  const send = h?.send ?? { minNs: 0, maxNs: 0 };
  const recv = h?.recv ?? { minNs: 0, maxNs: 0 };
  const jitter = h?.releaseJitterNs !== undefined ? { releaseJitterNs: h.releaseJitterNs } : {};
  if (!record || !sameBounds({ send, recv }, record)) {
    return { source: 'declared', sendLatency: { ...send }, recvLatency: { ...recv }, ...jitter };
  }
  const view: HostBoundsView = {
    source: record.source,
    sendLatency: { ...send },
    recvLatency: { ...recv },
    ...jitter,
    at: record.at,
    declared: { sendLatency: { ...record.declared.send }, recvLatency: { ...record.declared.recv } },
  };
  if (record.measured) view.measured = record.measured;
  return view;
}

function sameBounds(
  a: { send: LatencyRange; recv: LatencyRange },
  b: { send: LatencyRange; recv: LatencyRange },
): boolean {
  return sameRange(a.send, b.send) && sameRange(a.recv, b.recv);
}

function sameRange(a: LatencyRange, b: LatencyRange): boolean {
  return a.minNs === b.minNs && a.maxNs === b.maxNs;
}
