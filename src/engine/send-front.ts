// The application-facing half of Engine.send(), shared by the js and the native engine: contract
// checks (σ_max, π_min with the lane's policy) and the hand-over to the pacing thread through a
// ring that holds at most one request per lane. The engines differ only in the ring behind it.
import { MAX_PAYLOAD_BYTES } from '../alloc/wire.js';
import { XlaneError } from '../errors.js';
import type { SenderSpec, SendOutcome } from './types.js';

/** The shared-memory ring between this thread and the pacing thread. */
export interface SendRing {
  /** Ticket of the request the pacing thread released last for this lane slot. */
  released(slot: number): number;
  /** Whether the pacing thread has taken the request at this ring position. */
  taken(position: number): boolean;
  /** Queues a request and returns its ring position (negative: full). */
  push(slot: number, gen: number, ticket: number, payload: Uint8Array): number;
}

export interface FrontLane {
  spec: SenderSpec;
  slot: number;
  gen: number;
  /** Ticket of the newest request queued; "still waiting for its slot" is ticket !== released(slot).
   * 0 = nothing queued yet. */
  ticket: number;
  refused: number;
  /** Coalesced on this thread; the pacing thread counts the ones it replaces itself. */
  coalesced: number;
  /** Ring position of the lane's newest request. */
  position: number;
  /** The newest message, held here while the lane's previous request is still in the ring. */
  deferred: Buffer | undefined;
  deferredLength: number;
  /** Why the lane cannot send (its socket could not be set up), if so. */
  error: string | undefined;
}

export function frontLaneFields(spec: SenderSpec, slot: number, gen: number): FrontLane {
  return {
    spec,
    slot,
    gen,
    ticket: 0,
    refused: 0,
    coalesced: 0,
    position: -1,
    deferred: undefined,
    deferredLength: -1,
    error: undefined,
  };
}

export class SendFront<L extends FrontLane> {
  private nextTicket = 0;
  private flushTimer: NodeJS.Immediate | undefined;

  constructor(
    private readonly ring: () => SendRing,
    private readonly lanes: () => Iterable<L>,
    private readonly running: () => boolean,
    /** Sends a message at once from this thread when the lane's boundary has already passed and
     * nothing of the lane is waiting; false: the message goes through the ring. */
    private readonly direct?: (lane: L, payload: Uint8Array) => boolean,
  ) {}

  send(laneId: string, lane: L | undefined, payload: Uint8Array): SendOutcome {
    if (!lane)
      throw new XlaneError('XL_ERR_UNKNOWN_LANE', `no sending lane ${laneId} on this engine`, { laneId });
    if (lane.error)
      throw new XlaneError('XL_ERR_KERNEL', `lane ${laneId} cannot send: ${lane.error}`, { laneId });
    const { spec } = lane;
    if (payload.byteLength > spec.maxPayloadBytes) {
      lane.refused++;
      throw new XlaneError(
        'XL_ERR_CONTRACT_SIZE',
        `message of ${payload.byteLength} bytes exceeds lane ${laneId}'s granted ${spec.maxPayloadBytes} bytes`,
        { laneId, bytes: payload.byteLength, maxPayloadBytes: spec.maxPayloadBytes },
      );
    }
    const ring = this.ring();
    const waiting = lane.ticket !== 0 && ring.released(lane.slot) !== lane.ticket;
    if (waiting && spec.policy === 'reject') {
      lane.refused++;
      throw new XlaneError(
        'XL_ERR_CONTRACT_RATE',
        `lane ${laneId} sends faster than every ${spec.minPeriodNs} ns: the previous message is still waiting for its slot`,
        { laneId, minPeriodNs: spec.minPeriodNs },
      );
    }
    if (lane.deferredLength >= 0 || (waiting && lane.position >= 0 && !ring.taken(lane.position))) {
      // The pacing thread has not even taken the previous request (busy or descheduled). Pushing
      // more would let one fast coalescing sender fill the ring; keep only the newest here and
      // hand it over once the pacing thread has caught up.
      this.defer(lane, payload);
      return 'coalesced';
    }
    if (!waiting && this.direct?.(lane, payload)) return 'queued';
    this.push(lane, payload);
    return waiting ? 'coalesced' : 'queued';
  }

  /** Stops handing deferred messages over (engine closing). */
  stop(): void {
    if (this.flushTimer) clearImmediate(this.flushTimer);
    this.flushTimer = undefined;
  }

  private push(lane: L, payload: Uint8Array): void {
    // Non-zero Int32 values, so 0 can mean "none" and Atomics on an Int32Array hold it exactly.
    this.nextTicket = this.nextTicket >= 0x7fffffff ? 1 : this.nextTicket + 1;
    const position = this.ring().push(lane.slot, lane.gen, this.nextTicket, payload);
    // At most one request per lane is in the ring and the ring has a slot per lane: never full.
    if (position < 0)
      throw new XlaneError('XL_ERR_INTERNAL', 'engine send ring full', { laneId: lane.spec.laneId });
    lane.ticket = this.nextTicket;
    lane.position = position;
  }

  private defer(lane: L, payload: Uint8Array): void {
    if (lane.deferredLength >= 0) lane.coalesced++;
    lane.deferred ??= Buffer.alloc(MAX_PAYLOAD_BYTES);
    lane.deferred.set(payload);
    lane.deferredLength = payload.byteLength;
    this.flushTimer ??= setImmediate(() => this.flushDeferred());
  }

  private flushDeferred(): void {
    this.flushTimer = undefined;
    const ring = this.ring();
    let more = false;
    for (const lane of this.lanes()) {
      if (lane.deferredLength < 0 || !lane.deferred) continue;
      if (!ring.taken(lane.position)) {
        more = true;
        continue;
      }
      // A grant change may have shrunk σ_max since the message was accepted.
      if (lane.deferredLength > lane.spec.maxPayloadBytes) lane.refused++;
      else this.push(lane, lane.deferred.subarray(0, lane.deferredLength));
      lane.deferredLength = -1;
    }
    if (more && this.running()) this.flushTimer = setImmediate(() => this.flushDeferred());
  }
}
