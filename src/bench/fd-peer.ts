// A member of `xlane bench fd`: one process per testbed host, started in the host's namespace with
// its FdPeerConfig as the only argument — X-FD's library half, embedded: a lane engine whose own
// thread emits this member's heartbeats on its FD lane and watches the other members' FD lanes
// with TO from their grants (LivenessEvent). On the same heartbeats, delivered to JS
// (heartbeat.deliver), it replays every arrival through φ-accrual; and it sends and receives a
// plain Node dgram heartbeat, judged with a fixed timeout of the same TO. It only records; the
// orchestrator judges. The orchestrator crashes it with SIGKILL and starts a new one (a new
// incarnation) in its place.
import dgram from 'node:dgram';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCalibration } from '../agent/host-bounds/calibrate.js';
import { describe, hostLatencyRequest } from '../agent/host-bounds/measure.js';
import { deriveHostBounds } from '../agent/host-bounds/statistics.js';
import { arrivalNs } from '../engine/arrival.js';
import { monotonicNs } from '../engine/clock.js';
import { createJsEngine } from '../engine/js/engine.js';
import { backupReleasesOf } from '../engine/native/engine.js';
import { createNativeEngine } from '../engine/native/select.js';
import { SHARED_CPU_MAX_SPIN_US } from '../engine/spin-setting.js';
import type { DeliveryView, Engine, LivenessEvent } from '../engine/types.js';
import { XlaneError } from '../errors.js';
import { FixedTimeoutDetector } from '../fd/fixed-timeout.js';
import { PhiAccrualDetector } from '../fd/phi-accrual.js';
import { DgramHeartbeats } from './fd-dgram-sender.js';
import {
  DETECTOR_KINDS,
  type FdCollectReply,
  type FdPeerConfig,
  type FdPeerCounters,
  type FdPeerReply,
  type FdPeerRequest,
} from './fd-peer-protocol.js';
import { SuspicionRows } from './fd-rows.js';
import { type Suspicion, SuspicionTrace } from './fd-trace.js';
import { runPeer, servePeer } from './peer-serve.js';

function createEngine(cfg: FdPeerConfig): Engine {
  const tuning = {
    ...(cfg.fifoPriority !== undefined ? { fifoPriority: cfg.fifoPriority } : {}),
    // Every member shares this machine's CPUs: a learned margin is capped at the old fixed one.
    ...(cfg.spinUs !== undefined ? { spinUs: cfg.spinUs } : { maxSpinUs: SHARED_CPU_MAX_SPIN_US }),
  };
  if (cfg.engine === 'js') return createJsEngine(tuning);
  const native = createNativeEngine({
    receive: cfg.receive ?? 'blocking',
    ...tuning,
    ...(cfg.backupCore !== undefined ? { backupCore: cfg.backupCore } : {}),
  });
  if (!native.engine)
    throw new XlaneError('XL_ERR_INTERNAL', `native engine unavailable in the peer: ${native.reason}`);
  return native.engine;
}

const XFD = DETECTOR_KINDS.indexOf('xfd');
const PHI = DETECTOR_KINDS.indexOf('phi');
const DGRAM = DETECTOR_KINDS.indexOf('dgram');

/** Per watched member: X-FD's state from the engine's events, and the two pure detectors' traces. */
class Watched {
  readonly phi: SuspicionTrace;
  dgram: SuspicionTrace | undefined;
  engineHeartbeats = 0;
  dgramHeartbeats = 0;
  state = 'unknown';
  incarnation = -1;
  /** An X-FD suspicion running: its start and the arrival it followed (NaN: none). */
  suspectSinceNs = Number.NaN;
  suspectAfterNs = 0;
  suspectAfterSentNs = 0;

  constructor(
    readonly index: number,
    readonly member: string,
    cfg: FdPeerConfig,
    private readonly rows: SuspicionRows,
  ) {
    this.phi = new SuspicionTrace(
      () => new PhiAccrualDetector(cfg.phi),
      (s) => this.row(PHI, s),
    );
  }

  useDgramTimeout(timeoutNs: number): void {
    this.dgram = new SuspicionTrace(
      () => new FixedTimeoutDetector(timeoutNs),
      (s) => this.row(DGRAM, s),
    );
  }

  liveness(e: LivenessEvent): void {
    this.state = e.state;
    this.incarnation = e.incarnation;
    if (e.state === 'suspect') {
      if (e.lastArrivalNs > 0 && Number.isNaN(this.suspectSinceNs)) {
        this.suspectSinceNs = e.atNs;
        this.suspectAfterNs = e.lastArrivalNs;
        this.suspectAfterSentNs = e.lastSentNs;
      }
    } else if (!Number.isNaN(this.suspectSinceNs)) {
      // `alive` carries the frame that ended the silence: its send stamp and arrival.
      this.rows.push(
        XFD,
        this.index,
        this.suspectSinceNs,
        e.atNs,
        this.suspectAfterNs,
        this.suspectAfterSentNs,
        e.lastSentNs,
        e.lastArrivalNs,
      );
      this.suspectSinceNs = Number.NaN;
    }
  }

  /** The observation ends: suspicions still running are reported as such. */
  finish(nowNs: number): void {
    this.phi.finish(nowNs);
    this.dgram?.finish(nowNs);
    if (!Number.isNaN(this.suspectSinceNs)) {
      this.rows.push(XFD, this.index, this.suspectSinceNs, -1, this.suspectAfterNs, this.suspectAfterSentNs);
      this.suspectSinceNs = Number.NaN;
    }
  }

  private row(kind: number, s: Suspicion): void {
    this.rows.push(kind, this.index, s.startNs, Number.isFinite(s.endNs) ? s.endNs : -1, s.lastArrivalNs);
  }
}

async function main(): Promise<void> {
  const cfg = JSON.parse(process.argv[2] ?? '{}') as FdPeerConfig;
  try {
    // Inherited by the dgram worker started later: its sleeps must not be stretched by Linux's
    // default 50 µs timer slack.
    writeFileSync('/proc/self/timerslack_ns', '1');
  } catch {}
  const engine = createEngine(cfg);
  await engine.start({
    bindAddress: cfg.address,
    port: cfg.enginePort,
    ...(cfg.core !== undefined ? { core: cfg.core } : {}),
  });
  // The backup clock's releases, reported per collect.
  let backupCounted = 0;

  const rows = new SuspicionRows();
  const watched = cfg.members.map((m, i) => new Watched(i, m.host, cfg, rows));
  const byHost = new Map(watched.map((w) => [w.member, w]));
  const byAddress = new Map(cfg.members.map((m, i) => [m.address, watched[i]!]));
  const byLane = new Map<string, Watched>();

  const onDelivery = (d: DeliveryView) => {
    if (d.heartbeat < 0) return;
    const w = byLane.get(d.laneId);
    if (!w) return;
    w.engineHeartbeats++;
    // The arrival X-FD's watchdog judges by, so φ gets the same heartbeats at the same times.
    w.phi.arrival(arrivalNs(d), d.heartbeat);
  };
  engine.onDelivery(onDelivery);
  engine.onLiveness((e: LivenessEvent) => {
    byLane.get(e.laneId)?.liveness(e);
  });

  const rx = dgram.createSocket('udp4');
  rx.on('message', (msg, rinfo) => {
    const t = monotonicNs();
    const w = byAddress.get(rinfo.address);
    if (!w?.dgram || msg.length < 8) return;
    w.dgramHeartbeats++;
    w.dgram.arrival(t, msg.readUInt32LE(0));
  });
  await new Promise<void>((resolve, reject) => {
    rx.once('error', reject);
    rx.bind(cfg.dgramPort, cfg.address, () => resolve());
  });
  rx.on('error', () => {}); // a bad datagram or a closed socket ends nothing: silence is the signal

  let sender: DgramHeartbeats | undefined;

  let collects = 0;
  const collect = (final: boolean): FdCollectReply => {
    if (final) {
      const now = monotonicNs();
      for (const w of watched) w.finish(now);
    }
    const taken = sender?.take() ?? { sent: 0, missed: 0 };
    const counters: FdPeerCounters = {
      engineHeartbeats: {},
      dgramHeartbeats: {},
      dgramSent: taken.sent,
      dgramMissed: taken.missed,
      backupReleases: backupReleasesOf(engine) - backupCounted,
    };
    backupCounted += counters.backupReleases;
    for (const w of watched) {
      counters.engineHeartbeats[w.member] = w.engineHeartbeats;
      counters.dgramHeartbeats[w.member] = w.dgramHeartbeats;
      w.engineHeartbeats = 0;
      w.dgramHeartbeats = 0;
    }
    const n = rows.rows;
    const file = join(cfg.sampleDir, `${cfg.host}-${process.pid}-${collects++}.f64`);
    writeFileSync(file, rows.take());
    return { op: 'collect', file, rows: n, counters };
  };

  const handle = async (req: FdPeerRequest): Promise<FdPeerReply> => {
    switch (req.op) {
      case 'calibrate': {
        const run = await runCalibration(engine, {
          bindAddress: cfg.address,
          port: cfg.enginePort,
          seconds: req.seconds,
          periodNs: req.periodNs,
          dscp: req.dscp,
        });
        // The calibration took the delivery handler for its run.
        engine.onDelivery(onDelivery);
        const derived = deriveHostBounds(run.latenciesNs, run.latenciesNs.length);
        return { op: 'calibrate', request: hostLatencyRequest(run, derived), summary: describe(derived) };
      }
      case 'configure': {
        for (const [lane, member] of Object.entries(req.laneMembers)) {
          const w = byHost.get(member);
          if (!w)
            throw new XlaneError('XL_ERR_VALIDATION', `lane ${lane}: ${member} is not a watched member`);
          byLane.set(lane, w);
        }
        for (const w of watched) {
          const to = req.dgramTimeoutNs[w.member];
          if (to !== undefined) w.useDgramTimeout(to);
        }
        for (const r of req.receivers) engine.setReceiver(r);
        for (const s of req.senders) engine.setSender(s);
        await sender?.stop();
        sender = undefined;
        if (!req.dgram) return { op: 'configure', atNs: monotonicNs() };
        sender = new DgramHeartbeats({
          bindAddress: cfg.address,
          targets: cfg.members.map((m) => ({ address: m.address, port: cfg.dgramPort })),
          periodNs: cfg.periodNs,
          incarnation: req.incarnation,
          maxSeconds: cfg.maxSeconds,
        });
        return { op: 'configure', atNs: monotonicNs() };
      }
      case 'status':
        return {
          op: 'status',
          members: watched.map((w) => ({ member: w.member, state: w.state, incarnation: w.incarnation })),
        };
      case 'collect':
        return collect(req.final);
      case 'stop':
        await sender?.stop();
        rx.close();
        await engine.close();
        return { op: 'stop' };
    }
  };

  servePeer<FdPeerRequest>(handle, () => engine.close(), { op: 'ready', engine: engine.kind });
}

runPeer(main);
