// The lane engine: the per-packet half of xlane. Two implementations (TypeScript `js`, and the
// native C engine of a later issue) implement this one interface and pass one conformance suite.
// The control plane (agent, client) only ever talks to an Engine through these calls.
import type { LanePolicy } from '../alloc/types.js';
import type { RealtimeOffsetMeasurement } from './clock.js';

export interface PeerAddress {
  host: string;
  address: string;
  port: number;
}

/** A lane's sending side, from its grant. Calling setSender again with the same laneId applies a
 * grant change (new σ_max, π_min, epoch, destinations) without losing the sequence number. */
export interface SenderSpec {
  laneId: string;
  /** The lane id as it travels on the wire (u32), see laneWireId(). */
  wireId: number;
  epoch: number;
  maxPayloadBytes: number;
  minPeriodNs: number;
  /** E, from the grant: how late after its period boundary a frame may leave and still keep the
   * lane's grid of boundaries (see engine/schedule.ts). 0 (default): each boundary counts from the
   * previous actual release. */
  releaseJitterNs?: number;
  /** The grant's phase as a residue of CLOCK_MONOTONIC: the lane's boundaries sit at monotonic
   * instants ≡ phaseNs (mod minPeriodNs), integer in [0, minPeriodNs). A grid off its phase (the
   * first frames, a new grid after a stall, a changed phase) walks onto it, each boundary at most
   * E later than anchor + π (engine/schedule.ts), so lanes the controller gave spread-out phases
   * do not collide at a shared port. Used only with releaseJitterNs > 0; absent: no phase. */
  phaseNs?: number;
  policy: LanePolicy;
  dscp: number;
  priority: number;
  srcPort: number;
  destinations: PeerAddress[];
  /** Time-triggered heartbeats (the failure detector's, and any lane that must show it is alive):
   * the engine itself emits a frame at every period boundary, carrying a HEARTBEAT sub-message with
   * this incarnation; a pending application message rides in the same frame (piggyback). Without
   * it, frames leave only when the application sends. */
  heartbeat?: { incarnation: number };
}

/** A lane's receiving side, from its grant. */
export interface ReceiverSpec {
  laneId: string;
  wireId: number;
  epoch: number;
  /** Frames are accepted only from this source address (the lane's sender host). */
  senderAddress: string;
  maxPayloadBytes: number;
  /** The granted window for this receiver: messages outside it are counted (late / early). */
  lambdaMinNs: number;
  lambdaMaxNs: number;
  /** false: the sender's clock is known not to be this host's (another machine: CLOCK_MONOTONIC
   * counts from each kernel's boot), so no latency is measured and nothing is counted late or
   * early. Default true: the hosts share a kernel, as in the namespace testbed. */
  sharedClock?: boolean;
  /** Heartbeat handling for lanes whose sender emits heartbeats. */
  heartbeat?: ReceiverHeartbeatSpec;
}

export interface ReceiverHeartbeatSpec {
  /** Deliver heartbeat-only frames too (payload of length 0, `heartbeat` = incarnation), so an
   * application or a benchmark sees the latency of every frame. */
  deliver?: boolean;
  /** > 0: the engine's own thread watches the lane and reports `suspect` once no valid frame arrived
   * for this long after the last one, and `alive` when frames come back (see LivenessEvent). */
  timeoutNs?: number;
}

/** A watched lane's liveness changed. The engine REUSES this object: copy what you keep. */
export interface LivenessEvent {
  laneId: string;
  state: 'alive' | 'suspect';
  /** Incarnation of the last heartbeat seen from the sender (-1: none yet). A larger one than
   * before means the sender restarted; frames of an older incarnation are dropped as 'old'. */
  incarnation: number;
  /** When the last valid frame reached this host, and its sender timestamp (0: none yet), shared
   * clock ns. The arrival is the kernel's receive stamp where the engine has one (the native
   * engine: SO_TIMESTAMPNS), so a heartbeat that came in time is not blamed on its sender when the
   * engine read it late; otherwise (the js engine) the time the frame was read. */
  lastArrivalNs: number;
  lastSentNs: number;
  /** When the engine decided (suspect: its watchdog fired; alive: the frame that revived it). */
  atNs: number;
}

export type LivenessHandler = (e: LivenessEvent) => void;

export type SendOutcome = 'queued' | 'coalesced';

/** Why a received datagram was dropped; every reason has its own counter. */
export const DROP_REASONS = [
  'short',
  'oversize',
  'version',
  'malformed',
  'unknownLane',
  'staleEpoch',
  'wrongSender',
  'duplicate',
  'old',
] as const;
export type DropReason = (typeof DROP_REASONS)[number];

/** The drop reasons decided after the frame's wire id named a lane the receiver holds: only these
 * can be charged to a lane (the others come before the lane is known, or name none). */
export const LANE_DROP_REASONS = ['wrongSender', 'staleEpoch', 'oversize', 'old', 'duplicate'] as const;
export type LaneDropReason = (typeof LANE_DROP_REASONS)[number];

/** One delivered message. The engine REUSES this object and the payload view for every message
 * (no per-packet allocation): copy what you keep before returning from the handler. */
export interface DeliveryView {
  laneId: string;
  seq: number;
  /** Sender's send timestamp and our receive timestamp, ns on the shared clock (see clock). */
  sentNs: number;
  receivedNs: number;
  /** When the kernel received the datagram (SO_TIMESTAMPNS mapped onto the shared clock), so
   * `receivedNs − kernelReceivedNs` is this host's receive delay and `kernelReceivedNs − sentNs`
   * the network's part. 0 means unknown: the js engine (it reads through Node's dgram, which has no
   * kernel stamps), a datagram the kernel did not stamp. Optional only so engines written before
   * the field still type-check; absent means unknown too, and the client reports it as 0. */
  kernelReceivedNs?: number;
  payload: Uint8Array;
  /** Incarnation of a piggybacked HEARTBEAT sub-message, -1 when the frame has none. */
  heartbeat: number;
}

export type DeliveryHandler = (d: DeliveryView) => void;

export interface LaneCounters {
  laneId: string;
  sent: number;
  refused: number;
  coalesced: number;
  /** Frames the engine released later than they were due — the lane's boundary, or when its pacing
   * thread took their message from the send ring if that came later — by more than max(E, 10 µs)
   * (LATE_RELEASE_FLOOR_NS): the host's own jitter at work. And the largest release delay seen (ns).
   * Exact for heartbeat frames; for application messages the hand-over to the pacing thread itself
   * is not included (a message sent at once from the calling thread is never late). */
  lateReleases: number;
  maxReleaseDelayNs: number;
  received: number;
  /** Gaps in the sequence that never filled, and messages that arrived after a later one. */
  lost: number;
  reordered: number;
  /** Received later than λ_max / sooner than λ_min after their send timestamp. */
  late: number;
  early: number;
  /** Received frames that carried a HEARTBEAT (heartbeat-only frames included). */
  heartbeats: number;
  /** Latency of accepted frames (ns; heartbeat-only frames included, delivered or not): count,
   * sum, min, max — histograms live in the agent. */
  latency: { count: number; sumNs: number; minNs: number; maxNs: number };
  /** Received frames of this lane dropped, by reason: the share of EngineCounters.dropped that
   * could be charged to a lane (all zero for a lane that only sends). */
  dropped: Record<LaneDropReason, number>;
}

export interface EngineCounters {
  lanes: LaneCounters[];
  dropped: Record<DropReason, number>;
}

export interface EngineOptions {
  /** Address and UDP port this host's engine receives express frames on. */
  bindAddress: string;
  port: number;
  /** CPU for the engine's pacing / polling thread, when the implementation can pin. */
  core?: number;
}

export interface Engine {
  readonly kind: 'js' | 'native';
  start(opts: EngineOptions): Promise<void>;
  setSender(spec: SenderSpec): void;
  removeSender(laneId: string): void;
  setReceiver(spec: ReceiverSpec): void;
  removeReceiver(laneId: string): void;
  /** Contract-checked, synchronous, never blocks. Oversize → XlaneError XL_ERR_CONTRACT_SIZE. A lane
   * holds one message waiting for its period boundary: while the previous message is still waiting,
   * policy 'reject' → XL_ERR_CONTRACT_RATE, policy 'coalesce' replaces it with this one
   * ('coalesced'). A send after the previous message left is 'queued', however soon after it: the
   * engine paces, so frames on the wire stay at least π_min apart. Unknown lane →
   * XL_ERR_UNKNOWN_LANE. The frame leaves at the lane's next period boundary — when that boundary
   * has already passed, the js engine (direct path) and the native engine in 'poll' mode send it
   * before send() returns. */
  send(laneId: string, payload: Uint8Array): SendOutcome;
  onDelivery(handler: DeliveryHandler): void;
  /** Liveness changes of receivers with `heartbeat.timeoutNs` (detected on the engine's thread). */
  onLiveness(handler: LivenessHandler): void;
  counters(): EngineCounters;
  close(): Promise<void>;
  /** CLOCK_REALTIME − CLOCK_MONOTONIC, read at once in ns when the implementation can (native);
   * without it the agent measures through Date.now(), which waits for the next ms tick. */
  measureRealtimeOffset?(): RealtimeOffsetMeasurement;
}

/** Controller lane ids are "L<n>"; n is the lane's id on the wire. */
export function laneWireId(laneId: string): number {
  const m = /^L(\d{1,10})$/.exec(laneId);
  const n = m ? Number(m[1]) : Number.NaN;
  if (!Number.isInteger(n) || n < 1 || n > 0xffffffff) throw new RangeError(`not a lane id: ${laneId}`);
  return n;
}
