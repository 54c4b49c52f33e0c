// The lane contract (request and grant) and the allocator's interface. Pure data: the allocator
// that implements it does no I/O, so the controller service, the tests and the benchmark drive
// the same code.
import type { XlaneError } from '../errors.js';
import type { TopologySpec } from '../topology/spec.js';

/** What to do with a send that breaks the contract (too big, or sooner than π_min after the last). */
export type LanePolicy = 'reject' | 'coalesce';

export interface LaneRequest {
  /** Optional unique name (e.g. "fd-h1-h2"). */
  name?: string;
  sender: string;
  /** One receiver (unicast) or several (one-to-many: a tree, replicated at switches). */
  receivers: string[];
  /** σ: the largest message the sender will send, 1..1418 bytes. */
  maxPayloadBytes: number;
  /** π: the sender promises never to send two messages closer than this. */
  minPeriodNs: number;
  /** Optional: every receiver's λ_max must stay ≤ this, now and after later admissions. */
  deadlineNs?: number;
  /** Adjustment floor: the controller may shrink σ_max down to this (default: no shrinking). */
  minPayloadBytes?: number;
  /** Adjustment ceiling: the controller may stretch π_min up to this (default: no stretching). */
  maxPeriodNs?: number;
  /** Over-eager sends: refuse them (default) or keep only the newest pending message. */
  policy?: LanePolicy;
}

/** One egress port: the direction from → to of a link. */
export interface Hop {
  from: string;
  to: string;
}

export interface ReceiverGuarantee {
  host: string;
  /** Node names from sender to this receiver. */
  path: string[];
  /** Every message arrives no sooner than λ_min and no later than λ_max after its send. */
  lambdaMinNs: number;
  lambdaMaxNs: number;
  /** δ = λ_max − λ_min. */
  jitterNs: number;
}

export interface Grant {
  laneId: string;
  name?: string;
  /** Allocation epoch at which this version of the grant was made. */
  epoch: number;
  sender: string;
  /** σ_max granted (≤ requested). */
  maxPayloadBytes: number;
  /** π_min granted (≥ requested). */
  minPeriodNs: number;
  /** Phase of the lane's period boundaries: they sit at the CLOCK_REALTIME instants t (ns since the
   * Unix epoch) with t ≡ phaseNs (mod minPeriodNs). Integer, 0 ≤ phaseNs < minPeriodNs. The
   * allocator spreads the phases of lanes that share an egress port (alloc/phase.ts) and a lane
   * keeps its phase for life (taken mod π when π changes). The sender's agent turns it into a
   * residue of its monotonic clock, and the engine walks the lane's grid of boundaries onto it by at
   * most the release jitter E per period (engine/schedule.ts). Optional only so that grants stored by older versions (which
   * have none) still load; every grant the allocator builds carries it. */
  phaseNs?: number;
  /** E the sender's engine may use (engine/schedule.ts): its host's releaseJitter, at most half of
   * π_min. Absent when 0. */
  releaseJitterNs?: number;
  policy: LanePolicy;
  /** IP DSCP the sender marks express frames with, and the socket priority (SO_PRIORITY). */
  dscp: number;
  priority: number;
  /** UDP source port (unique per lane, so filters and ECMP hashing can tell lanes apart) and destination port. */
  srcPort: number;
  dstPort: number;
  /** Worst-case frame size on the wire and the resulting long-term rate. */
  wireBytes: number;
  rateBps: number;
  /** Every egress port the lane crosses (a path, or a tree for one-to-many), parents before children. */
  tree: Hop[];
  receivers: ReceiverGuarantee[];
}

/** `release`: the sender's release jitter E changed (its host's releaseJitter). */
export type ChangeReason = 'payload' | 'period' | 'window' | 'path' | 'release';

export interface GrantChange {
  laneId: string;
  before: Grant;
  after: Grant;
  reasons: ChangeReason[];
}

/** Load and bound of one egress port, for status tables and invariant checks. */
export interface PortReport {
  from: string;
  to: string;
  rateBps: number;
  shareBps: number;
  expressBps: number;
  /** Σ bursts b_i of the lanes at this port (bytes), and the backlog bound Σb + Σr·T. */
  burstBytes: number;
  backlogBytes: number;
  bufferBytes: number;
  /** Per-hop delay bound D = T + Σb/C (ns). */
  delayNs: number;
  lanes: number;
}

export interface AdmitOk {
  ok: true;
  grant: Grant;
  /** Existing grants re-tuned or whose window moved because of this admission. */
  changed: GrantChange[];
  epoch: number;
}

export interface Rejected {
  ok: false;
  /** code XL_ERR_ADMISSION_REJECTED | XL_ERR_UNKNOWN_HOST | XL_ERR_NO_PATH | XL_ERR_VALIDATION |
   * XL_ERR_UNSTABLE | XL_ERR_DUPLICATE | XL_ERR_TOPOLOGY_CONFLICT; details name the bottleneck:
   * { bottleneck: { from, to }, reason: 'share' | 'buffer' | 'deadline' | 'unstable', ... }. */
  error: XlaneError;
}

export interface ReleaseResult {
  changed: GrantChange[];
  epoch: number;
}

export interface ReplaceTopologyOk {
  ok: true;
  changed: GrantChange[];
  /** Lanes removed because their hosts left the topology or they no longer fit (only with force). */
  revoked: string[];
  epoch: number;
}

export interface PersistedLane {
  laneId: string;
  request: LaneRequest;
  grant: Grant;
}

export interface AllocatorOptions {
  /** Granted λ_max = computed bound × (1 + headroom), rounded up to boundQuantumNs: small load
   * changes then do not move every window (fewer grant pushes). Never above a lane's deadline. */
  boundHeadroom?: number;
  boundQuantumNs?: number;
  /** First UDP source port handed to lanes. */
  srcPortBase?: number;
}

export interface Allocator {
  readonly topology: TopologySpec;
  readonly epoch: number;
  /** Admit a lane or say why not. On rejection nothing changes. */
  admit(laneId: string, request: LaneRequest): AdmitOk | Rejected;
  /** Remove a lane; other grants may loosen. Throws XL_ERR_UNKNOWN_LANE. */
  release(laneId: string): ReleaseResult;
  /** Swap the topology (hosts or links added/removed, rates changed) and re-compute every grant.
   * Without force, a change that would drop or break a lane is refused and nothing changes. */
  replaceTopology(spec: TopologySpec, opts?: { force?: boolean }): ReplaceTopologyOk | Rejected;
  grant(laneId: string): Grant | undefined;
  request(laneId: string): LaneRequest | undefined;
  grants(): Grant[];
  ports(): PortReport[];
}
