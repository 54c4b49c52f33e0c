// The pacing clock, run by the worker thread: it owns the sending sockets, turns queued requests
// into frames, and releases each lane's frame at its period boundary (π_min after the lane's
// previous release). A heartbeat lane releases a frame at every boundary, with the pending message
// if there is one. The same loop runs the receivers' liveness watchdog (watchdog.ts). It sleeps on the shared futex word until a margin before the next boundary
// and spins on the clock for the rest, because Node timers cannot hold a 100 µs period (docs/machine-facts.md).
// The margin is fixed, or learned from how late its own timed sleeps end (wake-margin.ts).
// The loop allocates nothing on its own (dgram's send() allocates a little per call; see
// docs/protocol.md), so the worker's heap stays quiet and GC does not add jitter.
import dgram from 'node:dgram';
import { type MessagePort, receiveMessageOnPort } from 'node:worker_threads';
import { LOCAL_CLOCK, monotonicNs } from '../clock.js';
import { effectivePhaseNs, isLateRelease, releaseDelayNs } from '../schedule.js';
import type { SpinMargin } from '../spin-setting.js';
import type { SenderSpec } from '../types.js';
import { probeDue, WakeMargin, WM_PROBE_SLEEP_NS } from '../wake-margin.js';
import { FrameEncoder, type FrameHeader } from '../wire/encode.js';
import { MAX_DATAGRAM_BYTES, MIN_DATAGRAM_BYTES, SubType } from '../wire/format.js';
import { seqNext } from '../wire/serial.js';
import { sameDestinations } from './direct-path.js';
import { FrameView } from './frame-view.js';
import { RingConsumer } from './ring.js';
import {
  C_CTRL,
  C_FIFO,
  C_READY,
  C_STOP,
  C_WAKE,
  type ControlMessage,
  S_COALESCED,
  S_LATE_RELEASES,
  S_MAX_RELEASE_DELAY,
  S_REFUSED,
  S_SENT,
  type SharedState,
  SP_MARGIN_NS,
  SP_WAKE_LATE_Q_NS,
  SP_WAKE_SAMPLES,
  STAT_WORDS,
  type WorkerNotice,
} from './shared.js';
import { HOLDER_WORKER, TxState } from './tx-state.js';
import { Watchdog } from './watchdog.js';

/** An idle worker still wakes this often, so a lost notify can never stall it for long. */
const IDLE_WAIT_MS = 200;
/** Under SCHED_FIFO the loop takes a break of up to FIFO_BREAK_NS after this long awake: a
 * real-time thread that never sleeps is throttled by the kernel for ~50 ms (docs/machine-facts.md). */
const FIFO_SLICE_NS = 900_000;
const FIFO_BREAK_NS = 100_000;
/** run() hands the thread back to its event loop (see run) once sockets were opened or closed and
 * the next boundary is at least this far beyond the spin margin: two loop turns took 14 µs at the
 * median and 190 µs at p99 on the loaded 2-vCPU development VM. */
const SETTLE_ROOM_NS = 500_000;
/** ... or, with no such room (many fast lanes), once this many sockets wait: one frame may then
 * leave late, where waiting for room could hold every closed lane's memory forever. */
const SETTLE_FORCE_SOCKETS = 256;

/** Why run() returned: stopped for good, or to let the thread's event loop turn once. */
export type RunEnd = 'stopped' | 'settle';

interface TxLane {
  slot: number;
  gen: number;
  spec: SenderSpec;
  /** effectivePhaseNs() of the spec: its boundaries' residue of the monotonic clock, or NO_PHASE. */
  phaseNs: number;
  /** Incarnation of the lane's heartbeats; -1: the lane sends only when the application does. */
  heartbeat: number;
  pending: boolean;
  pendingTicket: number;
  /** When the waiting message (or the first one it replaced) was taken from the ring. */
  pendingSince: number;
  frameLen: number;
  frame: Buffer;
  view: FrameView;
  enc: FrameEncoder;
  /** The header every frame starts from (seq, epoch, time are stamped at release): reused, so
   * building a frame allocates nothing. */
  header: FrameHeader;
  sockets: dgram.Socket[];
  /** Its sockets could not be set up: queued messages are refused, the main thread is told. */
  failed: boolean;
}

// dgram resolves addresses through a callback; answering synchronously lets bind() and connect()
// complete inside the worker's loop, which never returns to the event loop while lanes are busy.
// Lane destinations are IP addresses from the grant, never names.
const ipOnly = (host: string, _o: unknown, cb: (e: Error | null, a: string, f: number) => void) =>
  cb(null, host, 4);

export class Pacer {
  private readonly control: Int32Array;
  private readonly released: Int32Array;
  private readonly stats: Float64Array;
  private readonly ring: RingConsumer;
  private readonly bySlot: (TxLane | undefined)[] = [];
  private readonly active: TxLane[] = [];
  private readonly watchdog: Watchdog;
  /** Sequence number and last release of every lane, shared with the main thread's direct path. */
  private readonly tx: TxState;
  private ctrlSeen = 0;
  private readonly margin: WakeMargin;
  /** When the last timed sleep ended by its timeout (a probe is due WM_PROBE_AFTER_NS later). */
  private lastSampleNs = monotonicNs();
  private readonly spinWords: Float64Array;
  /** Sockets opened or closed since the event loop last turned (see run). */
  private unsettled = 0;

  constructor(
    shared: SharedState,
    private readonly bindAddress: string,
    private readonly port: MessagePort,
    private readonly notify: (n: WorkerNotice) => void,
    private readonly spin: SpinMargin,
  ) {
    this.control = new Int32Array(shared.control);
    this.released = new Int32Array(shared.released);
    this.stats = new Float64Array(shared.stats);
    this.ring = new RingConsumer(this.control, shared.ring);
    this.spinWords = new Float64Array(shared.spin);
    this.margin = new WakeMargin(spin.initialNs, spin.minNs, spin.maxNs);
    this.spinWords[SP_MARGIN_NS] = this.margin.marginNs;
    this.spinWords[SP_WAKE_LATE_Q_NS] = -1;
    this.tx = new TxState(shared.tx);
    this.watchdog = new Watchdog(
      new Int32Array(shared.watchSeq),
      new Float64Array(shared.watchTime),
      (slot, gen, atNs) => notify({ op: 'deadline', slot, gen, atNs }),
    );
  }

  /** Runs until the main thread sets the stop word ('stopped'), synchronously by design (see the
   * file comment), except that it returns 'settle' when sockets were opened or closed and there is
   * room before the next boundary: the caller lets the thread's event loop turn, then calls run()
   * again. dgram finishes a connect and a close only there (a nextTick, the handle's close
   * callback); a loop that never turned kept every closed lane's sockets and frame alive, a few KiB
   * per lane opened and closed, for the life of the engine. */
  run(): RunEnd {
    Atomics.store(this.control, C_READY, 1);
    const c = this.control;
    let awakeSince = monotonicNs();
    for (;;) {
      const wakeSeen = Atomics.load(c, C_WAKE);
      if (Atomics.load(c, C_STOP) === 1) break;
      this.applyControl();
      this.drainRing();
      const nextDue = Math.min(this.releaseDue(), this.watchdog.check(monotonicNs()));
      if (this.settleDue(nextDue)) {
        this.unsettled = 0;
        return 'settle';
      }
      if (nextDue === Number.POSITIVE_INFINITY) {
        Atomics.wait(c, C_WAKE, wakeSeen, IDLE_WAIT_MS);
        awakeSince = monotonicNs();
        continue;
      }
      const now = monotonicNs();
      const waitNs = nextDue - now;
      // A SCHED_FIFO break never crosses a boundary: it ends where the spin toward it starts (as in
      // the native engine); with no room before the boundary it waits for the next gap.
      const spinNs = this.margin.marginNs;
      const breakNs = Math.min(FIFO_BREAK_NS, waitNs - spinNs);
      if (now - awakeSince > FIFO_SLICE_NS && breakNs > 0 && Atomics.load(c, C_FIFO) === 1) {
        Atomics.wait(c, C_WAKE, wakeSeen, breakNs / 1e6);
        awakeSince = monotonicNs();
      } else if (waitNs > spinNs) {
        const until = nextDue - spinNs;
        const woke = Atomics.wait(c, C_WAKE, wakeSeen, (waitNs - spinNs) / 1e6);
        awakeSince = monotonicNs();
        // Only a sleep the timeout ended says how late this machine's timed wake-ups are.
        if (woke === 'timed-out' && this.spin.auto) {
          this.learn(awakeSince - until);
          this.lastSampleNs = awakeSince;
        }
      } else if (this.spin.auto && probeDue(now - this.lastSampleNs, waitNs, spinNs)) {
        const probeEnd = now + WM_PROBE_SLEEP_NS;
        const woke = Atomics.wait(c, C_WAKE, wakeSeen, WM_PROBE_SLEEP_NS / 1e6);
        awakeSince = monotonicNs();
        if (woke === 'timed-out') this.learn(awakeSince - probeEnd);
        this.lastSampleNs = awakeSince; // woken or not: the next try is a period later
      } else {
        while (monotonicNs() < nextDue) {
          // spin: the last stretch to the boundary
        }
      }
    }
    for (const lane of this.active) this.closeSockets(lane);
    return 'stopped';
  }

  /** Whether to hand the thread to its event loop now (run). */
  private settleDue(nextDue: number): boolean {
    if (this.unsettled === 0) return false;
    if (this.unsettled >= SETTLE_FORCE_SOCKETS) return true;
    return nextDue - monotonicNs() > this.margin.marginNs + SETTLE_ROOM_NS;
  }

  private learn(lateNs: number): void {
    const m = this.margin;
    m.record(lateNs);
    const w = this.spinWords;
    w[SP_MARGIN_NS] = m.marginNs;
    w[SP_WAKE_LATE_Q_NS] = m.quantileNs;
    w[SP_WAKE_SAMPLES] = m.samples; // last: a reader that sees the count has that sample's margin
  }

  private applyControl(): void {
    const posted = Atomics.load(this.control, C_CTRL);
    if (posted === this.ctrlSeen) return;
    for (;;) {
      const m = receiveMessageOnPort(this.port);
      if (!m) break;
      this.ctrlSeen++;
      const msg = m.message as ControlMessage;
      if (msg.op === 'set') this.setLane(msg.slot, msg.gen, msg.spec);
      else if (msg.op === 'remove') this.removeLane(msg.slot, msg.gen);
      else if (msg.op === 'watch') this.watchdog.set(msg.slot, msg.gen, msg.timeoutNs);
      else this.watchdog.remove(msg.slot, msg.gen);
    }
  }

  private setLane(slot: number, gen: number, spec: SenderSpec): void {
    let lane = this.bySlot[slot];
    if (lane && lane.gen !== gen) {
      this.removeLane(slot, lane.gen);
      lane = undefined;
    }
    if (!lane) {
      const frame = Buffer.alloc(MAX_DATAGRAM_BYTES);
      lane = {
        slot,
        gen,
        spec,
        phaseNs: effectivePhaseNs(spec.phaseNs, spec.releaseJitterNs),
        heartbeat: spec.heartbeat ? spec.heartbeat.incarnation : -1,
        pending: false,
        pendingTicket: 0,
        pendingSince: 0,
        frameLen: 0,
        frame,
        view: new FrameView(frame),
        enc: new FrameEncoder(frame),
        header: { wireId: spec.wireId, epoch: spec.epoch, seq: 0, sentNs: 0, clock: LOCAL_CLOCK },
        sockets: [],
        failed: false,
      };
      // The main thread zeroed the slot's counters and release state when it claimed the slot.
      this.bySlot[slot] = lane;
      this.active.push(lane);
      this.openSockets(lane);
      return;
    }
    const old = lane.spec;
    lane.spec = spec;
    lane.phaseNs = effectivePhaseNs(spec.phaseNs, spec.releaseJitterNs);
    lane.heartbeat = spec.heartbeat ? spec.heartbeat.incarnation : -1;
    lane.header.wireId = spec.wireId;
    if (lane.failed || old.srcPort !== spec.srcPort || !sameDestinations(old, spec)) {
      this.closeSockets(lane);
      this.openSockets(lane);
    }
    // A tightened σ_max must hold from now on: a message queued under the old grant that no longer
    // fits is refused rather than sent (it would break the other lanes' guarantees).
    if (lane.pending && this.pendingPayload(lane) > spec.maxPayloadBytes) {
      this.stats[slot * STAT_WORDS + S_REFUSED]!++;
      this.finishPending(lane);
    }
  }

  private removeLane(slot: number, gen: number): void {
    const lane = this.bySlot[slot];
    if (!lane || lane.gen !== gen) return;
    if (lane.pending) this.finishPending(lane);
    this.closeSockets(lane);
    this.bySlot[slot] = undefined;
    const i = this.active.indexOf(lane);
    if (i >= 0) this.active.splice(i, 1);
  }

  private drainRing(): void {
    const r = this.ring;
    while (r.peek()) {
      let lane = this.bySlot[r.laneSlot];
      if (!lane || lane.gen !== r.gen) {
        // The main thread posts a lane's control message before its first request, but this loop
        // may have polled control just before that: poll again before calling the request stale.
        this.applyControl();
        lane = this.bySlot[r.laneSlot];
      }
      if (lane && lane.gen === r.gen) this.queue(lane);
      r.next();
    }
  }

  /** Builds the lane's frame from the current ring request, replacing a pending one (coalesce). */
  private queue(lane: TxLane): void {
    const r = this.ring;
    if (r.length > lane.spec.maxPayloadBytes) {
      // Accepted under a grant that has since shrunk σ_max: refused, as in setLane(). Publishing
      // its ticket tells the main thread nothing of this lane waits any more.
      this.stats[lane.slot * STAT_WORDS + S_REFUSED]!++;
      Atomics.store(this.released, lane.slot, r.ticket);
      return;
    }
    if (lane.pending) this.stats[lane.slot * STAT_WORDS + S_COALESCED]!++;
    else lane.pendingSince = monotonicNs();
    lane.enc.start(lane.header);
    const at = lane.enc.reserve(SubType.DATA, r.length);
    r.copyPayload(lane.frame, at);
    lane.frameLen = lane.enc.finish();
    lane.pending = true;
    lane.pendingTicket = r.ticket;
  }

  /** Sends every frame whose boundary has come; returns the earliest boundary still ahead. */
  private releaseDue(): number {
    let next = Number.POSITIVE_INFINITY;
    const lanes = this.active;
    const tx = this.tx;
    for (let i = 0; i < lanes.length; i++) {
      const lane = lanes[i]!;
      const heartbeat = lane.heartbeat >= 0;
      if (!lane.pending && !heartbeat) continue;
      const slot = lane.slot;
      // Read unlocked as a hint (the main thread may move it forward); checked again under the lock.
      let due = tx.nextBoundary(slot, lane.spec.minPeriodNs, lane.phaseNs, lane.spec.releaseJitterNs ?? 0);
      let now = monotonicNs();
      if (due > now) {
        if (due < next) next = due;
        continue;
      }
      if (!tx.tryLock(slot, HOLDER_WORKER)) {
        // The main thread is sending this lane's frame right now: look again straight away.
        next = now;
        continue;
      }
      if (tx.gen(slot) !== lane.gen) {
        // The main thread has given the slot to a new lane; this one's removal is on its way.
        tx.unlock(slot);
        continue;
      }
      due = tx.nextBoundary(slot, lane.spec.minPeriodNs, lane.phaseNs, lane.spec.releaseJitterNs ?? 0);
      now = monotonicNs();
      if (due > now) {
        tx.unlock(slot);
        if (due < next) next = due;
        continue;
      }
      if (lane.failed) {
        if (lane.pending) {
          this.stats[slot * STAT_WORDS + S_REFUSED]!++;
          this.finishPending(lane);
        }
        // A heartbeat lane without a socket skips its boundaries instead of spinning on them.
        if (heartbeat) {
          tx.skip(slot, now);
          if (now + lane.spec.minPeriodNs < next) next = now + lane.spec.minPeriodNs;
        }
        tx.unlock(slot);
        continue;
      }
      if (heartbeat) {
        // The frame buffer is free when nothing is pending; with a pending message the heartbeat
        // rides behind its DATA (the header budget keeps room for it, see wire/format.ts).
        if (!lane.pending) lane.enc.start(lane.header);
        lane.enc.appendHeartbeat(lane.heartbeat);
        lane.frameLen = lane.enc.finish();
      }
      const seq = tx.seq(slot);
      lane.enc.stamp(lane.spec.epoch, seq, now);
      tx.setSeq(slot, seqNext(seq));
      this.recordDelay(
        lane,
        releaseDelayNs(due, lane.pending && !heartbeat ? lane.pendingSince : Number.NaN, now),
      );
      // A frame late by more than the grant's release jitter (GC, preemption) starts a new grid
      // E before it: the lane's burst on the wire stays within what the controller counted
      // (engine/schedule.ts).
      tx.released(slot, now, lane.spec.minPeriodNs, lane.spec.releaseJitterNs ?? 0, lane.phaseNs);
      const following = tx.nextBoundary(
        slot,
        lane.spec.minPeriodNs,
        lane.phaseNs,
        lane.spec.releaseJitterNs ?? 0,
      );
      // Published before the datagram leaves, in this order, so whoever sees the frame (a receiver
      // on this machine) or the sent count also sees the lane free for its next message.
      if (lane.pending) this.finishPending(lane);
      this.stats[slot * STAT_WORDS + S_SENT]!++;
      const datagram = lane.view.of(lane.frameLen);
      for (let k = 0; k < lane.sockets.length; k++) lane.sockets[k]!.send(datagram);
      tx.unlock(slot);
      // A heartbeat lane always has its next frame due.
      if (heartbeat && following < next) next = following;
    }
    return next;
  }

  private recordDelay(lane: TxLane, delayNs: number): void {
    const at = lane.slot * STAT_WORDS;
    if (isLateRelease(delayNs, lane.spec.releaseJitterNs ?? 0)) this.stats[at + S_LATE_RELEASES]!++;
    if (delayNs > this.stats[at + S_MAX_RELEASE_DELAY]!) this.stats[at + S_MAX_RELEASE_DELAY] = delayNs;
  }

  private finishPending(lane: TxLane): void {
    lane.pending = false;
    Atomics.store(this.released, lane.slot, lane.pendingTicket);
  }

  private pendingPayload(lane: TxLane): number {
    return lane.frameLen - MIN_DATAGRAM_BYTES;
  }

  private openSockets(lane: TxLane): void {
    const { spec } = lane;
    lane.failed = false;
    try {
      for (const d of spec.destinations) {
        const s = dgram.createSocket({ type: 'udp4', reuseAddr: true, lookup: ipOnly as never });
        s.on('error', (e: NodeJS.ErrnoException) => {
          // Set-up failures (bind, connect) stop the lane. What the socket reads back (when the
          // event loop turns, see run) are ICMP reports about the receiver — not up yet, out of
          // reach for now — which the lane keeps sending through, as it would without the report.
          if (e.code !== 'ECONNREFUSED' && e.syscall !== 'recvmsg') this.fail(lane, e);
        });
        lane.sockets.push(s);
        this.unsettled++;
        // bind() reports EADDRINUSE through the error event (synchronously, see ipOnly); connect()
        // on an unbound socket would silently bind an ephemeral port, so check before connecting.
        s.bind({ address: this.bindAddress, port: spec.srcPort, exclusive: true });
        if (lane.failed) break;
        s.connect(d.port, d.address);
      }
    } catch (e) {
      this.fail(lane, e);
    }
    if (lane.failed) this.closeSockets(lane);
  }

  private closeSockets(lane: TxLane): void {
    for (const s of lane.sockets) {
      try {
        s.close();
      } catch {
        // already closed after an error
      }
    }
    this.unsettled += lane.sockets.length;
    lane.sockets.length = 0;
  }

  private fail(lane: TxLane, e: unknown): void {
    lane.failed = true;
    this.notify({
      op: 'laneError',
      laneId: lane.spec.laneId,
      gen: lane.gen,
      message: e instanceof Error ? e.message : String(e),
    });
  }
}
