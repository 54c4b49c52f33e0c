// A peer of `xlane bench interference`: one process per testbed host, started in the host's
// namespace with its InterferencePeerConfig as the only argument. It runs a lane engine, takes the
// lane specs the orchestrator derived from the controller's grants, keeps its sender lanes fed, and
// records every frame of its receiver lanes (arrival time and one-way latency) into preallocated
// arrays — nothing is allocated per frame — which it writes to binary files on 'collect'.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCalibration } from '../agent/host-bounds/calibrate.js';
import { describe, hostLatencyRequest } from '../agent/host-bounds/measure.js';
import { deriveHostBounds } from '../agent/host-bounds/statistics.js';
import { createJsEngine } from '../engine/js/engine.js';
import { NativeEngine } from '../engine/native/engine.js';
import { createNativeEngine } from '../engine/native/select.js';
import type { DeliveryView, Engine } from '../engine/types.js';
import { XlaneError } from '../errors.js';
import { paceLane } from './engine-pacing.js';
import { nearestRank } from './engine-stats.js';
import type {
  InterferencePeerConfig,
  InterferencePeerReply,
  InterferencePeerRequest,
  PeerEngineStats,
  ProgressLane,
  RecordedLane,
} from './interference-peer-protocol.js';
import { runPeer, servePeer } from './peer-serve.js';

class LaneRecording {
  readonly receivedNs: Float64Array;
  readonly latencyNs: Float64Array;
  /** Sender's stamp → this host's kernel receive stamp; 0 when the engine has none (js). */
  readonly kernelLatencyNs: Float64Array;
  count = 0;
  /** Index where the last progress window started. */
  mark = 0;
  lostAtStart = 0;

  constructor(
    readonly lane: string,
    capacity: number,
  ) {
    this.receivedNs = new Float64Array(capacity);
    this.latencyNs = new Float64Array(capacity);
    this.kernelLatencyNs = new Float64Array(capacity);
  }

  add(d: DeliveryView): void {
    const i = this.count;
    if (i >= this.latencyNs.length) return;
    this.receivedNs[i] = d.receivedNs;
    this.latencyNs[i] = d.receivedNs - d.sentNs;
    const k = d.kernelReceivedNs ?? 0;
    this.kernelLatencyNs[i] = k > 0 ? k - d.sentNs : 0;
    this.count = i + 1;
  }
}

function createEngine(cfg: InterferencePeerConfig): Engine {
  // Every emulated host shares this machine's CPUs: a learned margin, capped (by default at the
  // old fixed one).
  const spin = { maxSpinUs: cfg.maxSpinUs };
  if (cfg.engine === 'js') return createJsEngine(spin);
  const native = createNativeEngine({
    receive: cfg.receive ?? 'blocking',
    ...spin,
    ...(cfg.fifoPriority !== undefined ? { fifoPriority: cfg.fifoPriority } : {}),
    ...(cfg.backupCore !== undefined ? { backupCore: cfg.backupCore } : {}),
    ...(cfg.backupReadUs !== undefined ? { backupReadUs: cfg.backupReadUs } : {}),
  });
  if (!native.engine)
    throw new XlaneError('XL_ERR_INTERNAL', `native engine unavailable in the peer: ${native.reason}`);
  return native.engine;
}

const us = (ns: number) => Math.round(ns) / 1000;

async function main(): Promise<void> {
  const cfg = JSON.parse(process.argv[2] ?? '{}') as InterferencePeerConfig;
  try {
    // The refill loop's short waits must not be stretched by Linux's default 50 µs timer slack.
    writeFileSync('/proc/self/timerslack_ns', '1');
  } catch {}
  const engine = createEngine(cfg);
  await engine.start({
    bindAddress: cfg.address,
    port: cfg.port,
    ...(cfg.core !== undefined ? { core: cfg.core } : {}),
  });
  const lanes = new Map<string, LaneRecording>();
  let recording = false;
  const record = (d: DeliveryView) => {
    if (!recording) return;
    lanes.get(d.laneId)?.add(d);
  };
  engine.onDelivery(record);
  const lostOf = (lane: string) => engine.counters().lanes.find((l) => l.laneId === lane)?.lost ?? 0;
  let senders: string[] = [];
  const statsNow = (): PeerEngineStats | undefined => {
    if (!(engine instanceof NativeEngine)) return undefined;
    const s = engine.engineStats();
    return { ringFullWaits: s.ringFullWaits, backupReads: s.backupReads, backupReleases: s.backupReleases };
  };
  let statsAtRecord: PeerEngineStats | undefined;
  let periodNs = 0;
  let feedStop: AbortController | undefined;

  const handle = async (req: InterferencePeerRequest): Promise<InterferencePeerReply> => {
    switch (req.op) {
      case 'calibrate': {
        const run = await runCalibration(engine, {
          bindAddress: cfg.address,
          port: cfg.port,
          seconds: req.seconds,
          periodNs: req.periodNs,
          dscp: req.dscp,
        });
        // The calibration took the delivery handler for its run.
        engine.onDelivery(record);
        const derived = deriveHostBounds(run.latenciesNs, run.latenciesNs.length, req.policy);
        return { op: 'calibrate', request: hostLatencyRequest(run, derived), summary: describe(derived) };
      }
      case 'configure':
        for (const r of req.receivers) {
          engine.setReceiver(r);
          if (!lanes.has(r.laneId)) lanes.set(r.laneId, new LaneRecording(r.laneId, cfg.capacity));
        }
        for (const s of req.senders) engine.setSender(s);
        senders = req.senders.map((s) => s.laneId);
        periodNs = Math.max(0, ...req.senders.map((s) => s.minPeriodNs));
        return { op: 'configure' };
      case 'feed': {
        if (req.mode === 'heartbeat') return { op: 'feed', sent: 0 };
        const payload = Buffer.alloc(req.payloadBytes);
        feedStop = new AbortController();
        const results = await Promise.all(
          senders.map((lane) => paceLane(engine, lane, payload, periodNs, req.seconds, feedStop!.signal)),
        );
        return { op: 'feed', sent: results.reduce((a, r) => a + r.sent, 0) };
      }
      case 'feed-stop':
        feedStop?.abort();
        return { op: 'feed-stop' };
      case 'record':
        for (const l of lanes.values()) {
          l.count = 0;
          l.mark = 0;
          l.lostAtStart = lostOf(l.lane);
        }
        statsAtRecord = statsNow();
        recording = true;
        return { op: 'record' };
      case 'collect': {
        recording = false;
        const out: RecordedLane[] = [];
        for (const l of lanes.values()) {
          const file = join(cfg.sampleDir, `${req.tag}-${l.lane}.f64`);
          const n = l.count;
          const buf = Buffer.alloc(n * 24);
          Buffer.from(l.receivedNs.buffer, 0, n * 8).copy(buf, 0);
          Buffer.from(l.latencyNs.buffer, 0, n * 8).copy(buf, n * 8);
          Buffer.from(l.kernelLatencyNs.buffer, 0, n * 8).copy(buf, n * 16);
          writeFileSync(file, buf);
          out.push({ lane: l.lane, count: n, lost: lostOf(l.lane) - l.lostAtStart, file });
        }
        const now = statsNow();
        const from = statsAtRecord;
        const stats =
          now && from
            ? {
                ringFullWaits: now.ringFullWaits - from.ringFullWaits,
                backupReads: now.backupReads - from.backupReads,
                backupReleases: now.backupReleases - from.backupReleases,
              }
            : undefined;
        return { op: 'collect', lanes: out, ...(stats ? { stats } : {}) };
      }
      case 'progress': {
        const out: ProgressLane[] = [];
        for (const l of lanes.values()) {
          const end = l.count;
          const win = l.latencyNs.slice(l.mark, end).sort();
          l.mark = end;
          out.push({
            lane: l.lane,
            count: end,
            p50Us: us(nearestRank(win, 50)),
            p99Us: us(nearestRank(win, 99)),
            maxUs: win.length ? us(win[win.length - 1]!) : Number.NaN,
          });
        }
        return { op: 'progress', lanes: out };
      }
      case 'stop':
        await engine.close();
        return { op: 'stop' };
    }
  };

  servePeer<InterferencePeerRequest>(handle, () => engine.close(), { op: 'ready', engine: engine.kind });
}

runPeer(main);
