// The native lane engine's TypeScript face. The per-packet work (pacing, send, receive, decode,
// lane checks, counters) runs on the addon's engine thread (native/); this class checks the
// contract synchronously in send(), pushes requests into the shared send ring, and hands each
// batch of deliveries from the shared delivery ring to the application. The engine enforces
// σ_max and π_min again on its side, so no producer can break other lanes' bounds.
import { XlaneError } from '../../errors.js';
import type { RealtimeOffsetMeasurement } from '../clock.js';
import { emptyLaneCounters } from '../counters.js';
import { validateReceiverSpec, validateSenderSpec } from '../js/validate-spec.js';
import { effectivePhaseNs } from '../schedule.js';
import { type FrontLane, frontLaneFields, SendFront, type SendRing } from '../send-front.js';
import {
  type SpinMargin,
  type SpinSetting,
  type SpinStats,
  spinMarginOf,
  spinSettingErrors,
} from '../spin-setting.js';
import {
  type DeliveryHandler,
  DROP_REASONS,
  type DropReason,
  type Engine,
  type EngineCounters,
  type EngineOptions,
  type LaneCounters,
  type LivenessHandler,
  type ReceiverSpec,
  type SenderSpec,
  type SendOutcome,
} from '../types.js';
import {
  type EngineHandle,
  type NativeAddon,
  type NativeThreadReport,
  realtimeOffsetOf,
  type SocketOptions,
} from './addon.js';
import { DeliveryDrain } from './delivery.js';
import { SharedBlock } from './shared-block.js';

export interface NativeEngineOptions {
  /** 'busy-poll' (default): spin on the non-blocking socket while traffic flows (lowest latency, a
   * whole CPU); 'blocking': sleep in ppoll until a datagram arrives (the paper's interrupt mode);
   * 'poll': the application's thread is the poller — it calls poll() in its own loop, which reads
   * the socket and runs the handlers right there, and send() puts a due frame on the wire before it
   * returns; the engine thread only meets send boundaries and liveness deadlines. One polling
   * thread per host instead of two, and no thread hand-over on the way in or out. */
  receive?: 'busy-poll' | 'blocking' | 'poll';
  /** SCHED_FIFO priority 1..99 for the engine thread; unset = SCHED_OTHER. */
  fifoPriority?: number;
  /** mlock the memory the engine thread touches (block, lane tables, stack), best effort (default
   * true). Not mlockall: V8 cannot run with its heap locked (docs/native-engine.md). */
  lockMemory?: boolean;
  /** Busy-poll keeps spinning this long after the last packet or request, then blocks (µs). */
  idleSpinUs?: number;
  /** Sleep until this long before a send boundary or liveness deadline, then spin (µs), or 'auto'
   * (default): learn the margin from how late the engine thread's own timed sleeps end — a high
   * quantile of that lateness (native/wake_margin.h), from 5 µs up to maxSpinUs. */
  spinUs?: SpinSetting;
  /** With spinUs 'auto': the most the learned margin may be (µs, default 100). Each lane's period
   * then costs up to this much spinning: set it lower on CPUs shared by several engines. */
  maxSpinUs?: number;
  /** Under SCHED_FIFO (RT throttling, docs/native-engine.md): every fifoSliceUs on the CPU owes
   * fifoBreakUs off it (defaults 900 / 100: at most 90 % of a CPU). Time blocked anyway counts; the
   * rest is a sleep that traffic does not cut short. 1..1e6 and 1..1e5 µs, and fifoBreakUs at
   * least fifoSliceUs / 19, so the thread stays under the kernel's 95 % RT budget. */
  fifoSliceUs?: number;
  fifoBreakUs?: number;
  /** The backup clock: a second thread pinned to this CPU releases a heartbeat lane's frame when
   * the engine thread has not done so `backupDelayUs` (default 50) after its boundary — the engine
   * thread's CPU stalled (a hypervisor that stops one vCPU at a time). Unset: no backup. One
   * wake-up a period per engine; it should be another CPU than the engine thread's. */
  backupCore?: number;
  backupDelayUs?: number;
  /** With backupCore: the backup thread also reads the socket when data has waited in it at two of
   * its looks this far apart (µs) with no pass of the engine thread in between — that thread's CPU
   * stalled. One look per interval (a wake-up and a poll()). Unset: it never reads. Not with
   * receive 'poll', where the application reads. */
  backupReadUs?: number;
}

const RECEIVE_MODES: readonly string[] = ['busy-poll', 'blocking', 'poll'];

/** Heartbeat frames an engine's backup clock has released (0 for an engine without one). */
export function backupReleasesOf(e: Engine): number {
  return e instanceof NativeEngine ? e.engineStats().backupReleases : 0;
}

/** Receive passes that left the socket unread because the application had not drained the delivery
 * ring (undefined for an engine without a ring: the js engine delivers on its own thread). */
export function ringFullWaitsOf(e: Engine): number | undefined {
  return e instanceof NativeEngine ? e.engineStats().ringFullWaits : undefined;
}

/** Options are checked before they reach C, where a NaN or a 0 break would silently change what
 * the engine thread does. */
export function validateNativeEngineOptions(o: NativeEngineOptions): void {
  const errors: string[] = [];
  const range = (name: string, v: unknown, min: number, max: number, integer = false) => {
    if (v === undefined) return;
    const ok =
      typeof v === 'number' &&
      Number.isFinite(v) &&
      v >= min &&
      v <= max &&
      (!integer || Number.isInteger(v));
    if (!ok) errors.push(`${name} must be ${integer ? 'an integer ' : ''}${min}..${max}, not ${String(v)}`);
  };
  if (o.receive !== undefined && !RECEIVE_MODES.includes(o.receive))
    errors.push(`receive must be one of ${RECEIVE_MODES.join(', ')}, not ${String(o.receive)}`);
  range('fifoPriority', o.fifoPriority, 1, 99, true);
  if (o.lockMemory !== undefined && typeof o.lockMemory !== 'boolean')
    errors.push(`lockMemory must be a boolean, not ${String(o.lockMemory)}`);
  range('idleSpinUs', o.idleSpinUs, 0, 60_000_000);
  errors.push(...spinSettingErrors(o.spinUs, o.maxSpinUs));
  range('fifoSliceUs', o.fifoSliceUs, 1, 1_000_000);
  range('fifoBreakUs', o.fifoBreakUs, 1, 100_000);
  range('backupCore', o.backupCore, 0, 1023, true);
  range('backupDelayUs', o.backupDelayUs, 0, 1_000_000);
  range('backupReadUs', o.backupReadUs, 10, 1_000_000);
  if (o.backupReadUs !== undefined && o.backupCore === undefined)
    errors.push('backupReadUs needs backupCore: the backup thread is the one that reads');
  if (o.backupReadUs !== undefined && o.receive === 'poll')
    errors.push("backupReadUs does not apply to receive 'poll': the application's thread reads there");
  const slice = o.fifoSliceUs ?? 900;
  const brk = o.fifoBreakUs ?? 100;
  if (errors.length === 0 && brk * 19 < slice)
    errors.push(
      `fifoBreakUs (${brk}) must be at least fifoSliceUs / 19 (${slice / 19}): the kernel throttles a FIFO thread above 95 % of a CPU`,
    );
  if (errors.length)
    throw new XlaneError('XL_ERR_VALIDATION', `invalid native engine options: ${errors.join('; ')}`, {
      errors: errors.map((message) => ({ path: 'options', message })),
    });
}

/** Engine-wide receive-path statistics (not per lane). */
export interface NativeEngineStats {
  rxBatches: number;
  jsWakeups: number;
  hostDelay: { count: number; sumNs: number; maxNs: number };
  fifoBreaks: number;
  loops: number;
  /** Datagrams read while the delivery ring was full (JS lagging) on an engine that watches
   * liveness: checked, counted and fed to the watchdog, their deliveries dropped. */
  ringFullDrops: number;
  /** Heartbeat frames the backup clock released because the engine thread had not (backupCore). */
  backupReleases: number;
  /** Socket reads the backup thread did because the engine thread made no pass (backupReadUs). */
  backupReads: number;
  /** Receive passes that left the socket unread because the delivery ring had no room: the
   * application (JS) had not drained it, and datagrams waited in the socket meanwhile. */
  ringFullWaits: number;
  /** The spin margin before boundaries and deadlines (spinUs): in use now, and with 'auto' what it
   * was learned from. */
  spin: SpinStats;
}

interface SenderLane extends FrontLane {
  fd: number;
}

interface ReceiverLane {
  spec: ReceiverSpec;
  slot: number;
  gen: number;
}

type State = 'new' | 'starting' | 'running' | 'closed';

export class NativeEngine implements Engine {
  readonly kind = 'native' as const;
  private handle: EngineHandle | undefined;
  private block: SharedBlock | undefined;
  private drain: DeliveryDrain | undefined;
  private pendingHandler: DeliveryHandler | undefined;
  private pendingLiveness: LivenessHandler | undefined;
  private report: NativeThreadReport | undefined;
  private readonly senders = new Map<string, SenderLane>();
  private readonly receivers = new Map<string, ReceiverLane>();
  private readonly txSlots: (SenderLane | undefined)[];
  private readonly rxSlots: (ReceiverLane | undefined)[];
  private nextTxSlot = 0;
  private nextRxSlot = 0;
  private nextGen = 0;
  private state: State = 'new';
  private readonly inlinePoll: boolean;
  /** The spin margin the options ask for (fixed, or learned within bounds). */
  private readonly spin: SpinMargin;
  private polling = false;
  /** Sending sockets bind here too, so frames leave from the host's express address. */
  private bindAddress = '0.0.0.0';
  private readonly front = new SendFront<SenderLane>(
    () => this.sendRing,
    () => this.senders.values(),
    () => this.state === 'running',
  );
  private readonly sendRing: SendRing = {
    released: (slot) => this.block!.released(slot),
    taken: (position) => this.block!.taken(position),
    push: (slot, gen, ticket, payload) => {
      const block = this.block!;
      const position = block.push(slot, gen, ticket, payload);
      if (this.inlinePoll) {
        this.addon.flush(this.handle!);
        // Still waiting: its boundary is ahead, and only the engine thread keeps that time. Woken
        // whether it sleeps or not: it may have computed its next wake-up before this request.
        if (block.released(slot) !== ticket) this.addon.wake(this.handle!);
      } else if (block.engineSleeping()) this.addon.wake(this.handle!);
      return position;
    },
  };

  constructor(
    private readonly addon: NativeAddon,
    private readonly options: NativeEngineOptions = {},
  ) {
    validateNativeEngineOptions(options);
    this.txSlots = new Array(addon.layout.MAX_LANES);
    this.rxSlots = new Array(addon.layout.MAX_LANES);
    this.inlinePoll = options.receive === 'poll';
    this.spin = spinMarginOf(options.spinUs, options.maxSpinUs);
  }

  /** Receive mode 'poll': one pass of the engine on this thread — read what arrived, send what is
   * due — then run the delivery and liveness handlers for it, before returning. Returns the
   * datagrams read (0 when nothing came, or in another receive mode). Call it in a loop; a handler
   * calling poll() again gets 0. */
  poll(): number {
    if (!this.inlinePoll || this.state !== 'running' || this.polling) return 0;
    this.polling = true;
    try {
      const got = this.addon.poll(this.handle!);
      if (got > 0 || this.drain!.pending()) this.drain!.drain();
      return got;
    } finally {
      this.polling = false;
    }
  }

  async start(opts: EngineOptions): Promise<void> {
    if (this.state !== 'new') throw new XlaneError('XL_ERR_INTERNAL', `engine already ${this.state}`);
    this.state = 'starting';
    const core = opts.core ?? -1;
    if (opts.core !== undefined && (!Number.isInteger(opts.core) || opts.core < 0 || opts.core > 1023)) {
      this.state = 'closed';
      throw new XlaneError('XL_ERR_VALIDATION', `core must be a CPU number 0..1023, not ${opts.core}`);
    }
    this.bindAddress = opts.bindAddress;
    const [handle, buffer] = this.addon.create();
    this.handle = handle;
    this.block = new SharedBlock(this.addon.layout, buffer);
    this.drain = new DeliveryDrain(this.block);
    if (this.pendingHandler) this.drain.onDelivery(this.pendingHandler);
    if (this.pendingLiveness) this.drain.onLiveness(this.pendingLiveness);
    try {
      this.addon.openReceiver(handle, opts.bindAddress, opts.port);
    } catch (e) {
      await this.close();
      throw new XlaneError(
        'XL_ERR_KERNEL',
        `cannot bind the engine to ${opts.bindAddress}:${opts.port}: ${errText(e)}`,
        { address: opts.bindAddress, port: opts.port },
      );
    }
    const o = this.options;
    const spin = this.spin;
    try {
      const drain = this.drain;
      this.report = this.addon.start(
        handle,
        {
          core,
          fifoPriority: o.fifoPriority ?? 0,
          lockMemory: o.lockMemory ?? true,
          busyPoll: (o.receive ?? 'busy-poll') === 'busy-poll',
          inlinePoll: this.inlinePoll,
          idleSpinNs: (o.idleSpinUs ?? 20_000) * 1000,
          spinNs: spin.initialNs,
          spinAuto: spin.auto,
          spinMinNs: spin.minNs,
          spinMaxNs: spin.maxNs,
          fifoSliceNs: (o.fifoSliceUs ?? 900) * 1000,
          fifoBreakNs: (o.fifoBreakUs ?? 100) * 1000,
          backupCore: o.backupCore ?? -1,
          backupDelayNs: (o.backupDelayUs ?? 50) * 1000,
          backupReadNs: (o.backupReadUs ?? 0) * 1000,
        },
        () => drain.drain(),
      );
    } catch (e) {
      await this.close();
      const code = (e as { code?: string }).code;
      if (code === 'EINVAL' && core >= 0)
        throw new XlaneError('XL_ERR_VALIDATION', `core ${core} is not available to this process`, { core });
      throw new XlaneError('XL_ERR_KERNEL', `cannot start the engine thread: ${errText(e)}`);
    }
    if (o.backupCore !== undefined && !this.report.backupPinned) {
      const old = this.report.backupTid === undefined;
      await this.close();
      throw old
        ? new XlaneError(
            'XL_ERR_INTERNAL',
            'the native addon predates the backup clock: rebuild it (npm install)',
          )
        : new XlaneError(
            'XL_ERR_VALIDATION',
            `backup core ${o.backupCore} is not available to this process`,
            {
              core: o.backupCore,
            },
          );
    }
    this.state = 'running';
  }

  /** How the engine thread runs (pinned, SCHED_FIFO, memory locked, timer slack); undefined before start. */
  thread(): NativeThreadReport | undefined {
    return this.report ? { ...this.report } : undefined;
  }

  /** The kernel's view of a sending lane's socket (getsockopt): DSCP (tos >> 2), SO_PRIORITY, port. */
  senderSocketOptions(laneId: string): SocketOptions {
    const lane = this.senders.get(laneId);
    if (!lane || lane.fd < 0)
      throw new XlaneError('XL_ERR_UNKNOWN_LANE', `no open sending socket for lane ${laneId}`, { laneId });
    return this.addon.socketOptions(lane.fd);
  }

  engineStats(): NativeEngineStats {
    const b = this.requireBlock();
    const L = b.layout;
    return {
      rxBatches: b.engineStat(L.ES_RX_BATCHES),
      jsWakeups: b.engineStat(L.ES_JS_WAKEUPS),
      hostDelay: {
        count: b.engineStat(L.ES_HOST_DELAY_COUNT),
        sumNs: b.engineStat(L.ES_HOST_DELAY_SUM),
        maxNs: b.engineStat(L.ES_HOST_DELAY_MAX),
      },
      fifoBreaks: b.engineStat(L.ES_FIFO_BREAKS),
      loops: b.engineStat(L.ES_LOOPS),
      ringFullDrops: b.engineStat(L.ES_RING_FULL_DROPS),
      backupReleases: L.ES_BACKUP_RELEASES === undefined ? 0 : b.engineStat(L.ES_BACKUP_RELEASES),
      backupReads: L.ES_BACKUP_READS === undefined ? 0 : b.engineStat(L.ES_BACKUP_READS),
      ringFullWaits: L.ES_RING_FULL_WAITS === undefined ? 0 : b.engineStat(L.ES_RING_FULL_WAITS),
      spin: {
        auto: this.spin.auto,
        marginNs: L.ES_SPIN_MARGIN_NS === undefined ? 0 : b.engineStat(L.ES_SPIN_MARGIN_NS),
        wakeSamples: L.ES_WAKE_SAMPLES === undefined ? 0 : b.engineStat(L.ES_WAKE_SAMPLES),
        wakeLateQuantileNs: L.ES_WAKE_LATE_Q_NS === undefined ? -1 : b.engineStat(L.ES_WAKE_LATE_Q_NS),
      },
    };
  }

  private requireBlock(): SharedBlock {
    if (!this.block) throw new XlaneError('XL_ERR_INTERNAL', 'engine not started');
    return this.block;
  }

  private requireRunning(): void {
    if (this.state !== 'running')
      throw new XlaneError('XL_ERR_INTERNAL', `engine is ${this.state}, not running`);
  }

  setSender(spec: SenderSpec): void {
    this.requireRunning();
    validateSenderSpec(spec);
    const copy: SenderSpec = { ...spec, destinations: spec.destinations.map((d) => ({ ...d })) };
    let lane = this.senders.get(spec.laneId);
    const isNew = !lane;
    // What to restore when the engine refuses the change: it then still runs the lane as before.
    let before: Pick<SenderLane, 'spec' | 'fd' | 'error'> | undefined;
    if (!lane) {
      const slot = allocate(this.txSlots, this.nextTxSlot, spec.laneId);
      this.nextTxSlot = (slot + 1) % this.txSlots.length;
      lane = { ...frontLaneFields(copy, slot, ++this.nextGen), fd: -1 };
      this.txSlots[slot] = lane;
      this.senders.set(spec.laneId, lane);
      this.block!.zeroTxStats(slot);
      this.openSocket(lane, copy);
    } else {
      const old = lane.spec;
      before = { spec: old, fd: lane.fd, error: lane.error };
      lane.spec = copy;
      if (
        lane.fd < 0 ||
        old.srcPort !== copy.srcPort ||
        old.dscp !== copy.dscp ||
        old.priority !== copy.priority
      )
        this.openSocket(lane, copy);
    }
    const dests: (string | number)[] = [];
    for (const d of copy.destinations) dests.push(d.address, d.port);
    try {
      this.addon.setSender(
        this.handle!,
        lane.slot,
        lane.gen,
        lane.fd,
        copy.wireId,
        copy.epoch,
        copy.maxPayloadBytes,
        copy.minPeriodNs,
        dests,
        copy.heartbeat ? copy.heartbeat.incarnation : -1,
        copy.releaseJitterNs ?? 0,
        copy.policy === 'reject' ? 1 : 0,
        effectivePhaseNs(copy.phaseNs, copy.releaseJitterNs),
      );
    } catch (e) {
      // The engine never saw this change: a socket opened for it is still ours to close, and the
      // lane must look to send() exactly as the engine runs it.
      if (lane.fd >= 0 && lane.fd !== before?.fd) this.addon.closeFd(lane.fd);
      if (isNew) {
        this.senders.delete(spec.laneId);
        this.txSlots[lane.slot] = undefined;
      } else if (before) {
        lane.spec = before.spec;
        lane.fd = before.fd;
        lane.error = before.error;
      }
      const code = (e as { code?: string }).code;
      throw new XlaneError(
        code === 'EINVAL' ? 'XL_ERR_VALIDATION' : 'XL_ERR_KERNEL',
        `the native engine refused lane ${spec.laneId}: ${errText(e)}`,
        { laneId: spec.laneId },
      );
    }
  }

  /** Opens the lane's socket on this thread, so a taken port is known at once; the engine thread
   * takes the socket over (and closes the one it replaces). A failure is reported on send(). */
  private openSocket(lane: SenderLane, spec: SenderSpec): void {
    lane.error = undefined;
    try {
      lane.fd = this.addon.openSender(this.bindAddress, spec.srcPort, spec.dscp, spec.priority);
    } catch (e) {
      lane.fd = -1;
      lane.error = errText(e);
    }
  }

  removeSender(laneId: string): void {
    const lane = this.senders.get(laneId);
    if (!lane || this.state !== 'running') return;
    this.senders.delete(laneId);
    this.txSlots[lane.slot] = undefined;
    this.addon.removeSender(this.handle!, lane.slot, lane.gen);
  }

  setReceiver(spec: ReceiverSpec): void {
    this.requireRunning();
    validateReceiverSpec(spec);
    let lane = this.receivers.get(spec.laneId);
    if (!lane) {
      const slot = allocate(this.rxSlots, this.nextRxSlot, spec.laneId);
      this.nextRxSlot = (slot + 1) % this.rxSlots.length;
      lane = { spec: { ...spec }, slot, gen: ++this.nextGen };
      this.rxSlots[slot] = lane;
      this.receivers.set(spec.laneId, lane);
      this.block!.zeroRxStats(slot);
      this.drain!.owners[slot] = { laneId: spec.laneId, gen: lane.gen };
    } else {
      lane.spec = { ...spec };
    }
    this.addon.setReceiver(
      this.handle!,
      lane.slot,
      lane.gen,
      spec.wireId,
      spec.epoch,
      spec.senderAddress,
      spec.maxPayloadBytes,
      spec.lambdaMinNs,
      spec.lambdaMaxNs,
      spec.heartbeat?.deliver ? 1 : 0,
      spec.heartbeat?.timeoutNs ?? 0,
      spec.sharedClock === false ? 0 : 1,
    );
  }

  removeReceiver(laneId: string): void {
    const lane = this.receivers.get(laneId);
    if (!lane || this.state !== 'running') return;
    this.receivers.delete(laneId);
    this.rxSlots[lane.slot] = undefined;
    this.drain!.owners[lane.slot] = undefined;
    this.addon.removeReceiver(this.handle!, lane.slot, lane.gen);
  }

  send(laneId: string, payload: Uint8Array): SendOutcome {
    return this.front.send(laneId, this.senders.get(laneId), payload);
  }

  onDelivery(handler: DeliveryHandler): void {
    this.pendingHandler = handler;
    this.drain?.onDelivery(handler);
  }

  /** Events come from the engine thread's watchdog through the delivery ring, in order with the
   * deliveries (native/engine_rx.c). */
  onLiveness(handler: LivenessHandler): void {
    this.pendingLiveness = handler;
    this.drain?.onLiveness(handler);
  }

  /** Read in C at once (an addon built before realtimeOffset existed: measured in JS). */
  measureRealtimeOffset(): RealtimeOffsetMeasurement {
    return realtimeOffsetOf(this.addon);
  }

  counters(): EngineCounters {
    const byId = new Map<string, LaneCounters>();
    const b = this.block;
    const dropped = {} as Record<DropReason, number>;
    DROP_REASONS.forEach((r, i) => {
      dropped[r] = b ? b.engineStat(i) : 0;
    });
    if (!b) return { lanes: [], dropped };
    const L = b.layout;
    for (const lane of this.senders.values()) {
      const c = emptyLaneCounters(lane.spec.laneId);
      c.sent = b.txStat(lane.slot, L.TS_SENT);
      c.coalesced = lane.coalesced + b.txStat(lane.slot, L.TS_COALESCED);
      c.refused = lane.refused + b.txStat(lane.slot, L.TS_REFUSED);
      c.lateReleases = b.txStat(lane.slot, L.TS_LATE_RELEASES);
      c.maxReleaseDelayNs = b.txStat(lane.slot, L.TS_MAX_RELEASE_DELAY);
      byId.set(c.laneId, c);
    }
    for (const lane of this.receivers.values()) {
      const s = lane.slot;
      let c = byId.get(lane.spec.laneId);
      if (!c) {
        c = emptyLaneCounters(lane.spec.laneId);
        byId.set(c.laneId, c);
      }
      c.received = b.rxStat(s, L.RS_RECEIVED);
      c.lost = b.rxStat(s, L.RS_LOST);
      c.reordered = b.rxStat(s, L.RS_REORDERED);
      c.late = b.rxStat(s, L.RS_LATE);
      c.early = b.rxStat(s, L.RS_EARLY);
      c.heartbeats = b.rxStat(s, L.RS_HEARTBEATS);
      c.latency = {
        count: b.rxStat(s, L.RS_LAT_COUNT),
        sumNs: b.rxStat(s, L.RS_LAT_SUM),
        minNs: b.rxStat(s, L.RS_LAT_MIN),
        maxNs: b.rxStat(s, L.RS_LAT_MAX),
      };
      c.dropped = {
        wrongSender: b.rxStat(s, L.RS_DROP_WRONG_SENDER),
        staleEpoch: b.rxStat(s, L.RS_DROP_STALE_EPOCH),
        oversize: b.rxStat(s, L.RS_DROP_OVERSIZE),
        old: b.rxStat(s, L.RS_DROP_OLD),
        duplicate: b.rxStat(s, L.RS_DROP_DUPLICATE),
      };
    }
    return { lanes: [...byId.values()], dropped };
  }

  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.front.stop();
    // Joins the engine thread and closes every socket it owns; the shared block stays valid until
    // it is garbage-collected, so views handed out earlier never dangle.
    if (this.handle) this.addon.stop(this.handle);
    this.senders.clear();
    this.receivers.clear();
    this.txSlots.fill(undefined);
    this.rxSlots.fill(undefined);
  }
}

/** Round-robin, so a freed slot is reused as late as possible (the engine may not have applied its
 * removal yet). */
function allocate<T>(slots: (T | undefined)[], from: number, laneId: string): number {
  for (let i = 0; i < slots.length; i++) {
    const slot = (from + i) % slots.length;
    if (!slots[slot]) return slot;
  }
  throw new XlaneError('XL_ERR_VALIDATION', `engine holds ${slots.length} lanes of this kind already`, {
    laneId,
  });
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
