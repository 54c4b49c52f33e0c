// The TypeScript lane engine. Threads: the main thread checks contracts, queues send requests into
// the shared ring and receives (dgram delivers on the event loop, which is where the application's
// handler runs anyway); the pacing worker owns the sending sockets and releases frames on time, so
// send timing does not depend on how busy the main event loop is. The worker also keeps time for
// the receivers' liveness watch (watchdog.ts): it notices a silent lane's deadline within
// microseconds; the main thread, which receives, owns the alive/suspect state.
import dgram from 'node:dgram';
import { MessageChannel, type MessagePort, type Worker } from 'node:worker_threads';
import { XlaneError } from '../../errors.js';
import { LOCAL_CLOCK, monotonicNs } from '../clock.js';
import { emptyLaneCounters } from '../counters.js';
import { FrameReceiver } from '../receive/frame-receiver.js';
import type { ReceiverLane } from '../receive/lane-table.js';
import { deadlineNs } from '../receive/liveness.js';
import { type FrontLane, frontLaneFields, SendFront, type SendRing } from '../send-front.js';
import {
  type SpinMargin,
  type SpinSetting,
  type SpinStats,
  spinMarginOf,
  spinSettingErrors,
} from '../spin-setting.js';
import type {
  DeliveryHandler,
  Engine,
  EngineCounters,
  EngineOptions,
  LaneCounters,
  LivenessHandler,
  ReceiverSpec,
  SenderSpec,
  SendOutcome,
} from '../types.js';
import { DirectPath } from './direct-path.js';
import { pinThread, setThreadFifo, type ThreadPolicy } from './realtime.js';
import { RingProducer, wake } from './ring.js';
import {
  C_CTRL,
  C_FIFO,
  C_READY,
  C_STOP,
  C_TID,
  type ControlMessage,
  createSharedState,
  MAX_LANES,
  MAX_WATCHED,
  S_COALESCED,
  S_LATE_RELEASES,
  S_MAX_RELEASE_DELAY,
  S_REFUSED,
  S_SENT,
  SP_MARGIN_NS,
  SP_WAKE_LATE_Q_NS,
  SP_WAKE_SAMPLES,
  STAT_WORDS,
  type WorkerNotice,
} from './shared.js';
import { spawnPacerWorker } from './spawn-worker.js';
import { TxState } from './tx-state.js';
import { validateReceiverSpec, validateSenderSpec } from './validate-spec.js';
import { ArrivalBoard } from './watchdog.js';

const WORKER_START_MS = 15_000;
const WORKER_STOP_MS = 5_000;

interface SenderLane extends FrontLane {
  /** The main thread's own sockets for messages whose boundary has passed (direct-path.ts). */
  direct: DirectPath | undefined;
}

export interface JsEngineOptions {
  /** Let messages whose boundary has passed leave from the calling thread (default true); false
   * sends every frame through the pacing worker. */
  directSend?: boolean;
  /** Run the pacing worker SCHED_FIFO at this priority (1..99; needs CAP_SYS_NICE). Its loop then
   * sleeps FIFO_BREAK at least every FIFO_SLICE (pacer.ts). Unset: SCHED_OTHER. A failure does not
   * stop the engine: workerPolicy() says why. */
  fifoPriority?: number;
  /** The pacing worker sleeps until this long before a boundary or deadline, then spins (µs,
   * 0..10,000), or 'auto' (default): the margin is learned from how late the worker's own timed
   * sleeps end (wake-margin.ts), from 5 µs up to maxSpinUs. Wider: fewer late frames when
   * wake-ups are late, more CPU spent. */
  spinUs?: SpinSetting;
  /** With spinUs 'auto': the most the learned margin may be (µs, default 100). */
  maxSpinUs?: number;
}

export function createJsEngine(opts: JsEngineOptions = {}): JsEngine {
  if (
    opts.fifoPriority !== undefined &&
    !(Number.isInteger(opts.fifoPriority) && opts.fifoPriority >= 1 && opts.fifoPriority <= 99)
  )
    throw new XlaneError('XL_ERR_VALIDATION', `fifoPriority must be 1..99 (got ${opts.fifoPriority})`);
  const spinErrors = spinSettingErrors(opts.spinUs, opts.maxSpinUs);
  if (spinErrors.length) throw new XlaneError('XL_ERR_VALIDATION', spinErrors.join('; '));
  return new JsEngine(
    opts.directSend ?? true,
    opts.fifoPriority ?? 0,
    spinMarginOf(opts.spinUs, opts.maxSpinUs),
  );
}

export class JsEngine implements Engine {
  readonly kind = 'js' as const;
  private control = new Int32Array(new SharedArrayBuffer(4));
  private released = new Int32Array(new SharedArrayBuffer(4));
  private stats = new Float64Array(new SharedArrayBuffer(8));
  private spinWords: Float64Array<ArrayBufferLike> = new Float64Array(0);
  private tx: TxState | undefined;
  private bindAddress = '';
  private ring: RingProducer | undefined;
  private worker: Worker | undefined;
  private workerExit: Promise<void> | undefined;
  private port: MessagePort | undefined;
  private rx: dgram.Socket | undefined;
  private readonly receiver = new FrameReceiver(LOCAL_CLOCK);
  private readonly senders = new Map<string, SenderLane>();
  private readonly slots: (SenderLane | undefined)[] = new Array(MAX_LANES);
  private nextSlot = 0;
  private nextGen = 0;
  private board: ArrivalBoard | undefined;
  private readonly watchSlots: (ReceiverLane | undefined)[] = new Array(MAX_WATCHED);
  private nextWatchSlot = 0;
  private state: 'new' | 'starting' | 'running' | 'closed' = 'new';
  private workerFailure: string | undefined;
  private readonly front: SendFront<SenderLane>;

  private policy: ThreadPolicy = { tid: 0, core: -1, fifoPriority: 0 };

  constructor(
    private readonly directSend: boolean,
    private readonly fifoPriority: number,
    private readonly spin: SpinMargin = spinMarginOf(undefined, undefined),
  ) {
    this.front = new SendFront<SenderLane>(
      () => this.sendRing,
      () => this.senders.values(),
      () => this.state === 'running',
      directSend
        ? (lane, payload) => lane.direct?.trySend(this.tx!, lane.slot, lane.gen, this.stats, payload) === true
        : undefined,
    );
  }
  private readonly sendRing: SendRing = {
    released: (slot) => Atomics.load(this.released, slot),
    taken: (position) => this.ring!.taken(position),
    push: (slot, gen, ticket, payload) => this.ring!.push(slot, gen, ticket, payload),
  };

  /** What the pacing worker's spin margin was asked to be (JsEngineOptions.spinUs, maxSpinUs). */
  get spinSetting(): SpinMargin {
    return this.spin;
  }

  /** The pacing worker's spin margin now, and what it was learned from. */
  spinStats(): SpinStats {
    const w = this.spinWords;
    return {
      auto: this.spin.auto,
      marginNs: w[SP_MARGIN_NS] ?? this.spin.initialNs,
      wakeSamples: w[SP_WAKE_SAMPLES] ?? 0,
      wakeLateQuantileNs: w[SP_WAKE_LATE_Q_NS] ?? -1,
    };
  }

  async start(opts: EngineOptions): Promise<void> {
    if (this.state !== 'new') throw new XlaneError('XL_ERR_INTERNAL', `engine already ${this.state}`);
    this.state = 'starting';
    try {
      await this.bindReceiver(opts);
      await this.startWorker(opts);
      this.state = 'running';
    } catch (e) {
      await this.close();
      throw e;
    }
  }

  private bindReceiver(opts: EngineOptions): Promise<void> {
    const rx = dgram.createSocket('udp4');
    this.rx = rx;
    rx.on('message', (msg, rinfo) => {
      this.receiver.receive(msg, rinfo.address, monotonicNs());
    });
    return new Promise((resolve, reject) => {
      const onError = (e: Error) => {
        reject(
          new XlaneError(
            'XL_ERR_KERNEL',
            `cannot bind the engine to ${opts.bindAddress}:${opts.port}: ${e.message}`,
            {
              address: opts.bindAddress,
              port: opts.port,
            },
          ),
        );
      };
      rx.once('error', onError);
      rx.bind({ address: opts.bindAddress, port: opts.port, exclusive: true }, () => {
        rx.off('error', onError);
        // Later socket errors (e.g. ICMP reports) must not crash the process.
        rx.on('error', () => {});
        resolve();
      });
    });
  }

  private async startWorker(opts: EngineOptions): Promise<void> {
    const shared = createSharedState();
    this.control = new Int32Array(shared.control);
    this.released = new Int32Array(shared.released);
    this.stats = new Float64Array(shared.stats);
    this.spinWords = new Float64Array(shared.spin);
    this.tx = new TxState(shared.tx);
    this.bindAddress = opts.bindAddress;
    this.ring = new RingProducer(this.control, shared.ring);
    const board = new ArrivalBoard(new Int32Array(shared.watchSeq), new Float64Array(shared.watchTime));
    this.board = board;
    this.receiver.onArrival = (lane, revived) => {
      board.publish(lane.live.slot, deadlineNs(lane.live) - lane.live.timeoutNs);
      // The worker has no deadline running for a lane it reported (or that never sent): wake it so
      // it starts watching again now, not at its next idle wake-up.
      if (revived) wake(this.control);
    };
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    const worker = spawnPacerWorker({
      workerData: { shared, bindAddress: opts.bindAddress, control: port2, spin: this.spin },
      transferList: [port2],
    });
    this.worker = worker;
    worker.on('message', (n: WorkerNotice) => this.onNotice(n));
    this.workerExit = new Promise((resolve) => {
      worker.once('exit', (code) => {
        if (this.state !== 'closed') this.workerFailure = `pacing worker exited (code ${code})`;
        resolve();
      });
    });
    worker.on('error', (e) => {
      this.workerFailure = `pacing worker failed: ${e.message}`;
    });
    // The worker never returns to its event loop while it runs, so readiness is a shared word.
    const deadline = Date.now() + WORKER_START_MS;
    while (Atomics.load(this.control, C_READY) !== 1) {
      if (this.workerFailure) throw new XlaneError('XL_ERR_INTERNAL', this.workerFailure);
      if (Date.now() > deadline) throw new XlaneError('XL_ERR_TIMEOUT', 'pacing worker did not start');
      await new Promise((r) => setTimeout(r, 2));
    }
    const tid = Atomics.load(this.control, C_TID);
    this.policy = { tid, core: -1, fifoPriority: 0 };
    const errors: string[] = [];
    if (opts.core !== undefined) {
      const error = pinThread(tid, opts.core);
      if (error === undefined) this.policy.core = opts.core;
      else errors.push(error);
    }
    if (this.fifoPriority > 0) {
      const error = setThreadFifo(tid, this.fifoPriority);
      if (error === undefined) {
        this.policy.fifoPriority = this.fifoPriority;
        Atomics.store(this.control, C_FIFO, 1);
      } else errors.push(error);
    }
    if (errors.length > 0) this.policy.error = errors.join('; ');
  }

  /** The pacing worker's thread and scheduling policy (after start). */
  workerPolicy(): ThreadPolicy {
    return { ...this.policy };
  }

  private onNotice(n: WorkerNotice): void {
    if (n.op === 'deadline') {
      const watched = this.watchSlots[n.slot];
      if (watched && watched.live.gen === n.gen) this.receiver.expire(watched, n.atNs);
      return;
    }
    const lane = this.senders.get(n.laneId);
    if (lane && lane.gen === n.gen) lane.error = n.message;
  }

  private requireRunning(): void {
    if (this.state !== 'running')
      throw new XlaneError('XL_ERR_INTERNAL', `engine is ${this.state}, not running`);
  }

  private post(msg: ControlMessage): void {
    this.port!.postMessage(msg);
    Atomics.add(this.control, C_CTRL, 1);
    wake(this.control);
  }

  setSender(spec: SenderSpec): void {
    this.requireRunning();
    validateSenderSpec(spec);
    const copy: SenderSpec = { ...spec, destinations: spec.destinations.map((d) => ({ ...d })) };
    const existing = this.senders.get(spec.laneId);
    if (existing) {
      existing.spec = copy;
      existing.error = undefined;
      existing.direct?.update(copy);
      this.post({ op: 'set', slot: existing.slot, gen: existing.gen, spec: copy });
      return;
    }
    const slot = this.allocateSlot(spec.laneId);
    const gen = ++this.nextGen;
    // Counters and release state start afresh before the worker hears of the lane (tx-state.ts).
    this.stats.fill(0, slot * STAT_WORDS, (slot + 1) * STAT_WORDS);
    this.tx!.claim(slot, gen);
    const lane: SenderLane = {
      ...frontLaneFields(copy, slot, gen),
      direct: this.directSend ? new DirectPath(copy, this.bindAddress) : undefined,
    };
    this.slots[slot] = lane;
    this.senders.set(spec.laneId, lane);
    this.post({ op: 'set', slot, gen, spec: copy });
  }

  /** Round-robin, so a freed slot is reused as late as possible (its counters belong to the old lane
   * until the worker has seen the removal). */
  private allocateSlot(laneId: string): number {
    for (let i = 0; i < MAX_LANES; i++) {
      const slot = (this.nextSlot + i) % MAX_LANES;
      if (!this.slots[slot]) {
        this.nextSlot = (slot + 1) % MAX_LANES;
        return slot;
      }
    }
    throw new XlaneError('XL_ERR_VALIDATION', `engine holds ${MAX_LANES} sending lanes already`, { laneId });
  }

  removeSender(laneId: string): void {
    const lane = this.senders.get(laneId);
    if (!lane || this.state !== 'running') return;
    this.senders.delete(laneId);
    this.slots[lane.slot] = undefined;
    lane.direct?.close();
    this.post({ op: 'remove', slot: lane.slot, gen: lane.gen });
  }

  setReceiver(spec: ReceiverSpec): void {
    this.requireRunning();
    validateReceiverSpec(spec);
    const lane = this.receiver.setLane(spec, monotonicNs());
    const live = lane.live;
    if (live.timeoutNs > 0) {
      if (live.slot < 0) {
        live.slot = this.allocateWatchSlot(spec.laneId);
        live.gen = ++this.nextGen;
        this.watchSlots[live.slot] = lane;
      }
      this.board!.publish(live.slot, deadlineNs(live) - live.timeoutNs);
      this.post({ op: 'watch', slot: live.slot, gen: live.gen, timeoutNs: live.timeoutNs });
    } else this.unwatch(lane);
  }

  private allocateWatchSlot(laneId: string): number {
    for (let i = 0; i < MAX_WATCHED; i++) {
      const slot = (this.nextWatchSlot + i) % MAX_WATCHED;
      if (!this.watchSlots[slot]) {
        this.nextWatchSlot = (slot + 1) % MAX_WATCHED;
        return slot;
      }
    }
    throw new XlaneError('XL_ERR_VALIDATION', `engine watches ${MAX_WATCHED} lanes already`, { laneId });
  }

  private unwatch(lane: ReceiverLane): void {
    const live = lane.live;
    if (live.slot < 0) return;
    this.watchSlots[live.slot] = undefined;
    if (this.state === 'running') this.post({ op: 'unwatch', slot: live.slot, gen: live.gen });
    live.slot = -1;
  }

  removeReceiver(laneId: string): void {
    const lane = this.receiver.table.get(laneId);
    if (lane) this.unwatch(lane);
    this.receiver.table.remove(laneId);
  }

  send(laneId: string, payload: Uint8Array): SendOutcome {
    const lane = this.senders.get(laneId);
    if (lane && this.workerFailure) throw new XlaneError('XL_ERR_INTERNAL', this.workerFailure, { laneId });
    return this.front.send(laneId, lane, payload);
  }

  onDelivery(handler: DeliveryHandler): void {
    this.receiver.onDelivery(handler);
  }

  onLiveness(handler: LivenessHandler): void {
    this.receiver.onLiveness(handler);
  }

  counters(): EngineCounters {
    const byId = new Map<string, LaneCounters>();
    for (const lane of this.senders.values()) {
      const c = emptyLaneCounters(lane.spec.laneId);
      const s = lane.slot * STAT_WORDS;
      c.sent = this.stats[s + S_SENT] ?? 0;
      c.coalesced = lane.coalesced + (this.stats[s + S_COALESCED] ?? 0);
      c.refused = lane.refused + (this.stats[s + S_REFUSED] ?? 0);
      c.lateReleases = this.stats[s + S_LATE_RELEASES] ?? 0;
      c.maxReleaseDelayNs = this.stats[s + S_MAX_RELEASE_DELAY] ?? 0;
      byId.set(c.laneId, c);
    }
    const table = this.receiver.table;
    for (const lane of table.lanes()) {
      const r = table.snapshot(lane);
      const c = byId.get(r.laneId);
      if (!c) {
        byId.set(r.laneId, r);
        continue;
      }
      c.received = r.received;
      c.lost = r.lost;
      c.reordered = r.reordered;
      c.late = r.late;
      c.early = r.early;
      c.heartbeats = r.heartbeats;
      c.latency = r.latency;
      c.dropped = r.dropped;
    }
    return { lanes: [...byId.values()], dropped: { ...this.receiver.dropped } };
  }

  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.front.stop();
    if (this.worker) {
      Atomics.store(this.control, C_STOP, 1);
      wake(this.control);
      const stopped = await Promise.race([
        this.workerExit!.then(() => true),
        new Promise<boolean>((r) => setTimeout(r, WORKER_STOP_MS, false).unref()),
      ]);
      if (!stopped) await this.worker.terminate();
    }
    this.port?.close();
    const rx = this.rx;
    if (rx) {
      await new Promise<void>((r) => {
        try {
          rx.close(() => r());
        } catch {
          r(); // never bound (start failed): nothing to close
        }
      });
    }
    for (const lane of this.senders.values()) lane.direct?.close();
    this.senders.clear();
    this.slots.fill(undefined);
    this.watchSlots.fill(undefined);
  }
}
