// Finds and loads the compiled addon (build/Release/xlane_engine.node, built from native/ by
// scripts/build-native.mjs at install). Loading never throws: a missing or broken build is a
// reason string, so callers can fall back to the js engine and say why.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { measureRealtimeOffset, type RealtimeOffsetMeasurement } from '../clock.js';

/** Offsets and sizes of the shared block, exported by the addon (native/shared_layout.h). */
export interface SharedLayout {
  MAX_LANES: number;
  MAX_PAYLOAD: number;
  W_TX_HEAD: number;
  W_TX_TAIL: number;
  W_RX_HEAD: number;
  W_RX_TAIL: number;
  W_RX_NOTIFIED: number;
  W_SLEEPING: number;
  RELEASED_OFFSET: number;
  TX_STATS_OFFSET: number;
  TX_STAT_WORDS: number;
  TS_SENT: number;
  TS_COALESCED: number;
  TS_REFUSED: number;
  TS_SEND_ERRORS: number;
  TS_LATE_RELEASES: number;
  TS_MAX_RELEASE_DELAY: number;
  LATE_RELEASE_FLOOR_NS: number;
  RX_STATS_OFFSET: number;
  RX_STAT_WORDS: number;
  RS_RECEIVED: number;
  RS_LOST: number;
  RS_REORDERED: number;
  RS_LATE: number;
  RS_EARLY: number;
  RS_LAT_COUNT: number;
  RS_LAT_SUM: number;
  RS_LAT_MIN: number;
  RS_LAT_MAX: number;
  RS_HEARTBEATS: number;
  RS_DROP_WRONG_SENDER: number;
  RS_DROP_STALE_EPOCH: number;
  RS_DROP_OVERSIZE: number;
  RS_DROP_OLD: number;
  RS_DROP_DUPLICATE: number;
  ENGINE_STATS_OFFSET: number;
  ES_RX_BATCHES: number;
  ES_JS_WAKEUPS: number;
  ES_HOST_DELAY_COUNT: number;
  ES_HOST_DELAY_SUM: number;
  ES_HOST_DELAY_MAX: number;
  ES_FIFO_BREAKS: number;
  ES_LOOPS: number;
  ES_RING_FULL_DROPS: number;
  /** Absent in addons built before the backup clock. */
  ES_BACKUP_RELEASES?: number;
  /** Absent in addons built before the backup reader. */
  ES_BACKUP_READS?: number;
  /** Absent in addons built before it was counted. */
  ES_RING_FULL_WAITS?: number;
  /** Absent in addons built before the learned spin margin. */
  ES_SPIN_MARGIN_NS?: number;
  ES_WAKE_SAMPLES?: number;
  ES_WAKE_LATE_Q_NS?: number;
  TX_RING_OFFSET: number;
  TX_SLOTS: number;
  TX_SLOT_HEADER: number;
  TX_SLOT_BYTES: number;
  RX_RING_OFFSET: number;
  RX_SLOTS: number;
  RX_SLOT_HEADER: number;
  RX_SLOT_BYTES: number;
  /** A delivery-ring slot whose length word is this holds a liveness event (shared_layout.h). */
  RX_EVENT: number;
  LIVE_ALIVE: number;
  LIVE_SUSPECT: number;
  SHARED_BYTES: number;
}

/** What the engine thread reports once it runs. */
export interface NativeThreadReport {
  tid: number;
  pinned: number;
  fifo: number;
  fifoError: string | null;
  mlocked: number;
  mlockError: string | null;
  timerSlackNs: number;
  /** The backup clock's thread (0: none; undefined: an addon built before it existed). */
  backupTid?: number;
  backupPinned?: number;
}

export interface NativeStartOptions {
  core: number;
  fifoPriority: number;
  lockMemory: boolean;
  busyPoll: boolean;
  /** The JS thread receives and sends itself (poll, flush); the engine thread keeps time only. */
  inlinePoll: boolean;
  idleSpinNs: number;
  /** The fixed spin margin, or where a learned one starts (spinAuto; off when absent). */
  spinNs: number;
  spinAuto?: boolean;
  spinMinNs?: number;
  spinMaxNs?: number;
  fifoSliceNs: number;
  fifoBreakNs: number;
  /** The backup clock's CPU (-1: none) and how long after a boundary it steps in. */
  backupCore?: number;
  backupDelayNs?: number;
  backupReadNs?: number;
}

export interface SocketOptions {
  tos: number;
  priority: number;
  timestampNs: number;
  port: number;
}

declare const handleBrand: unique symbol;
export type EngineHandle = { readonly [handleBrand]: true };

/** The addon's functions (native/addon.c). Failing system calls throw an Error whose `code` is the
 * errno name (EADDRINUSE, ...) and whose `syscall` names the step. */
export interface NativeAddon {
  layout: SharedLayout;
  /** CLOCK_REALTIME − CLOCK_MONOTONIC read in ns, bracketed: [offset, uncertainty ns]. Absent from
   * addons built before it existed. */
  realtimeOffset?(): [bigint, number];
  create(): [EngineHandle, ArrayBuffer];
  openReceiver(h: EngineHandle, address: string, port: number): void;
  openSender(address: string, port: number, dscp: number, priority: number): number;
  closeFd(fd: number): void;
  socketOptions(fd: number): SocketOptions;
  start(h: EngineHandle, opts: NativeStartOptions, onBatch: () => void): NativeThreadReport;
  setSender(
    h: EngineHandle,
    slot: number,
    gen: number,
    fd: number,
    wireId: number,
    epoch: number,
    maxPayload: number,
    minPeriodNs: number,
    destinations: (string | number)[],
    /** -1: the lane sends only when the application does. */
    heartbeatIncarnation: number,
    /** E of the grant (src/engine/schedule.ts); 0 ≤ E < minPeriodNs. */
    releaseJitterNs: number,
    /** 1: policy 'reject', the engine refuses a request while the lane's message waits; 0: the
     * newer one replaces it. */
    reject: number,
    /** effectivePhaseNs() of the spec: a residue of CLOCK_MONOTONIC in [0, minPeriodNs), or -1. */
    phaseNs: number,
  ): void;
  removeSender(h: EngineHandle, slot: number, gen: number): void;
  setReceiver(
    h: EngineHandle,
    slot: number,
    gen: number,
    wireId: number,
    epoch: number,
    senderAddress: string,
    maxPayload: number,
    lambdaMinNs: number,
    lambdaMaxNs: number,
    deliverHeartbeats: number,
    /** 0: no liveness watch. */
    livenessTimeoutNs: number,
    /** 0: the sender's clock is another kernel's: no latency measured (ReceiverSpec.sharedClock). */
    sharedClock: number,
  ): void;
  removeReceiver(h: EngineHandle, slot: number, gen: number): void;
  wake(h: EngineHandle): void;
  /** Inline poll mode: one engine pass on the calling thread (receive a batch, take send requests,
   * release due frames); returns the datagrams read. Accepted messages wait in the delivery ring. */
  poll(h: EngineHandle): number;
  /** Inline poll mode: the send half of poll() (no receive). */
  flush(h: EngineHandle): void;
  stop(h: EngineHandle): void;
}

export type AddonLoad = { ok: true; addon: NativeAddon; path: string } | { ok: false; reason: string };

/** src/engine/native and dist/engine/native both sit three levels below the package root. */
export function defaultAddonPath(): string {
  return fileURLToPath(new URL('../../../build/Release/xlane_engine.node', import.meta.url));
}

const loads = new Map<string, AddonLoad>();

// `||`: an empty XLANE_NATIVE_ADDON is unset, as every XLANE_* variable (docs/operations.md).
export function loadNativeAddon(path = process.env.XLANE_NATIVE_ADDON || defaultAddonPath()): AddonLoad {
  let load = loads.get(path);
  if (!load) {
    load = tryLoad(path);
    loads.set(path, load);
  }
  return load;
}

function tryLoad(path: string): AddonLoad {
  let result: AddonLoad;
  if (process.platform !== 'linux') {
    result = { ok: false, reason: `the native engine needs Linux, this is ${process.platform}` };
  } else if (!existsSync(path)) {
    result = {
      ok: false,
      reason: `${path} is not built (npm ci builds it; or run: node scripts/build-native.mjs)`,
    };
  } else {
    try {
      const raw = createRequire(import.meta.url)(path) as NativeAddon;
      if (typeof raw.create !== 'function' || typeof raw.layout?.SHARED_BYTES !== 'number')
        throw new Error('it does not export the xlane engine API');
      result = { ok: true, addon: withFastLayout(raw), path };
    } catch (e) {
      result = { ok: false, reason: `${path} does not load: ${e instanceof Error ? e.message : String(e)}` };
    }
  }
  return result;
}

/** The addon with its layout copied into an object literal. N-API builds the layout by adding its
 * ~60 properties one at a time, which leaves it in V8's dictionary mode: every read of an offset
 * on the per-message path (the rings, the delivery drain) was then a hash lookup through the
 * generic LoadIC (measured: ~1 µs of JS per loopback round trip). A literal copy has fast,
 * inline-cached properties. The functions are copied as they are. */
export function withFastLayout(raw: NativeAddon): NativeAddon {
  const fns = Object.fromEntries(Object.getOwnPropertyNames(raw).map((k) => [k, (raw as never)[k]]));
  return { ...fns, layout: { ...raw.layout } } as NativeAddon;
}

/** CLOCK_REALTIME − CLOCK_MONOTONIC read in C (ns clock reads, the tightest of a few brackets); an
 * addon built before realtimeOffset existed, or none at all: measured in JS (Date.now()'s ms tick). */
export function realtimeOffsetOf(addon: NativeAddon | undefined): RealtimeOffsetMeasurement {
  if (typeof addon?.realtimeOffset !== 'function') return measureRealtimeOffset();
  const [offsetNs, uncertaintyNs] = addon.realtimeOffset();
  return { offsetNs, uncertaintyNs: BigInt(uncertaintyNs) };
}
